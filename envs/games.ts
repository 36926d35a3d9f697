// Atari game names. The ids are ale-py 0.12.1's ROM ids (`ale_py.roms.get_all_rom_ids()`); a test checks this list
// against the installed ale-py, so it cannot drift. Keeping it here lets the CLI reject a bad name at once,
// before any process is started.
import { closestNames } from '../src/format.ts';

export const ALE_ROM_IDS: readonly string[] = Object.freeze([
  'adventure', 'air_raid', 'alien', 'amidar', 'assault', 'asterix', 'asteroids', 'atlantis2', 'atlantis',
  'backgammon', 'bank_heist', 'basic_math', 'battle_zone', 'beam_rider', 'berzerk', 'blackjack', 'bowling', 'boxing',
  'breakout', 'carnival', 'casino', 'centipede', 'chopper_command', 'combat', 'crazy_climber', 'crossbow',
  'darkchambers', 'defender', 'demon_attack', 'donkey_kong', 'double_dunk', 'earthworld', 'elevator_action', 'enduro',
  'entombed', 'et', 'fishing_derby', 'flag_capture', 'freeway', 'frogger', 'frostbite', 'galaxian', 'gopher',
  'gravitar', 'hangman', 'haunted_house', 'hero', 'human_cannonball', 'ice_hockey', 'jamesbond', 'journey_escape',
  'joust', 'kaboom', 'kangaroo', 'keystone_kapers', 'king_kong', 'klax', 'koolaid', 'krull', 'kung_fu_master',
  'laser_gates', 'lost_luggage', 'mario_bros', 'maze_craze', 'miniature_golf', 'montezuma_revenge', 'mr_do',
  'ms_pacman', 'name_this_game', 'othello', 'pacman', 'phoenix', 'pitfall2', 'pitfall', 'pong', 'pooyan',
  'private_eye', 'qbert', 'riverraid', 'road_runner', 'robotank', 'seaquest', 'sir_lancelot', 'skiing', 'solaris',
  'space_invaders', 'space_war', 'star_gunner', 'superman', 'surround', 'tennis', 'tetris', 'tic_tac_toe_3d',
  'time_pilot', 'trondead', 'turmoil', 'tutankham', 'up_n_down', 'venture', 'video_checkers', 'video_chess',
  'video_cube', 'video_pinball', 'warlords', 'wizard_of_wor', 'word_zapper', 'yars_revenge', 'zaxxon',
]);

export class UnknownGameError extends Error {
  constructor(readonly requested: string, readonly suggestions: string[]) {
    const hint = suggestions.length ? ` Did you mean ${suggestions.map(displayName).join(', ')}?` : '';
    super(`Unknown Atari game "${requested}".${hint} List all ${ALE_ROM_IDS.length} games with: npm run atari -- --list-games`);
    this.name = 'UnknownGameError';
  }
}

/** 'SpaceInvaders', 'space_invaders', 'space-invaders' and 'spaceinvaders' all name the same game. */
function canonical(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const ROM_BY_CANONICAL = new Map(ALE_ROM_IDS.map((id) => [canonical(id), id]));

/**
 * Gym and Gymnasium environment ids: `PongNoFrameskip-v4`, `Pong-v4`, `BreakoutDeterministic-v4`,
 * `Pong-ramNoFrameskip-v4`, `ALE/Breakout-v5`, `ALE/Pong-ram-v5`. Only the game is taken from them: frame skip,
 * sticky actions and the rest are the harness's protocol (--protocol, the preset), never the id's.
 */
const GYM_ID = /^(?:ALE\/)?([A-Za-z0-9]+?)(?:-ram)?(?:NoFrameskip|Deterministic)?-v\d+$/;

/** The ROM id for a user-given game name (or a Gym/Gymnasium id), or an UnknownGameError listing the closest names. */
export function resolveGame(name: string): string {
  const gym = GYM_ID.exec(name.trim());
  const id = ROM_BY_CANONICAL.get(canonical(gym ? gym[1] : name));
  if (id) return id;
  throw new UnknownGameError(name, closestGames(gym ? gym[1] : name, 3));
}

/** 'space_invaders' -> 'SpaceInvaders' (the spelling of papers and Dopamine's configs). */
export function displayName(romId: string): string {
  return romId.split('_').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');
}

export function closestGames(name: string, count: number): string[] {
  return closestNames(name, ALE_ROM_IDS, count, canonical);
}
