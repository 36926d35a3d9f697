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
