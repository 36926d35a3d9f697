import { describe, expect, it } from 'vitest';
import { closestGames, displayName, resolveGame, UnknownGameError } from '../envs/games.ts';

describe('game names', () => {
  it('accepts every spelling of a game', () => {
    for (const name of ['Pong', 'pong', 'PONG']) expect(resolveGame(name)).toBe('pong');
    for (const name of ['SpaceInvaders', 'space_invaders', 'space-invaders', 'spaceinvaders']) expect(resolveGame(name)).toBe('space_invaders');
    expect(resolveGame('MontezumaRevenge')).toBe('montezuma_revenge');
  });

  it('rejects an unknown name with close matches and how to list all games', () => {
    expect(() => resolveGame('Pongg')).toThrow(UnknownGameError);
    expect(() => resolveGame('Pongg')).toThrow('Unknown Atari game "Pongg". Did you mean Pong? List all 108 games with: npm run atari -- --list-games');
    expect(closestGames('Breakot', 3)).toEqual(['breakout']);
    expect(closestGames('space', 3)).toEqual(['space_invaders', 'space_war']);
    expect(() => resolveGame('xyzzy')).toThrow(/^Unknown Atari game "xyzzy"\. List all/);
  });

  it('prints ROM ids the way papers spell them', () => {
    expect(displayName('space_invaders')).toBe('SpaceInvaders');
    expect(displayName('beam_rider')).toBe('BeamRider');
  });
});

describe('Gym and Gymnasium ids', () => {
  it('name the game they wrap (the settings they imply are the harness\'s protocol, not the id\'s)', () => {
    const cases: Array<[string, string]> = [
      ['PongNoFrameskip-v4', 'pong'], ['Pong-v4', 'pong'], ['BreakoutDeterministic-v4', 'breakout'], ['Pong-v0', 'pong'],
      ['Pong-ramNoFrameskip-v4', 'pong'], ['ALE/Breakout-v5', 'breakout'], ['ALE/Pong-ram-v5', 'pong'],
      ['SpaceInvadersNoFrameskip-v4', 'space_invaders'], ['ALE/MontezumaRevenge-v5', 'montezuma_revenge'], ['ALE/Pitfall2-v5', 'pitfall2'],
    ];
    for (const [id, rom] of cases) expect(resolveGame(id), id).toBe(rom);
  });

  it('an unknown game inside a Gym id gets the suggestions of its game name', () => {
    expect(() => resolveGame('PonggNoFrameskip-v4')).toThrow(/Unknown Atari game "PonggNoFrameskip-v4"\. Did you mean Pong\?/);
  });
});

