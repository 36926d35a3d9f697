import { describe, expect, it } from 'vitest';
import { CommanderError } from 'commander';
import { buildAtariProgram, parseAtariArgs } from '../src/cli/atari.ts';

function parse(...argv: string[]) {
  const program = buildAtariProgram().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  return parseAtariArgs(argv, program);
}

function parseError(...argv: string[]): string {
  try {
    parse(...argv);
  } catch (error) {
    if (error instanceof CommanderError) return error.message;
    throw error;
  }
  throw new Error('expected a usage error');
}

describe('atari command line', () => {
  it('resolves the game and fills defaults', () => {
    const run = parse('--game', 'SpaceInvaders');
    expect(run).toMatchObject({ kind: 'run', game: 'space_invaders', agent: 'random', seed: 0, protocolName: 'dopamine' });
    expect(parse('--game', 'pong', '--protocol', 'nature', '--seed', '7')).toMatchObject({ game: 'pong', seed: 7, protocol: { noopMax: 30, terminalOnLifeLoss: true } });
    expect(parse('--list-games')).toEqual({ kind: 'list-games' });
  });

  it('lists every optimizer scheme in --help', () => {
    let text = '';
    const program = buildAtariProgram().configureOutput({ writeOut: (s) => { text += s; } });
    program.outputHelp();
    expect(text).toContain('--game');
    for (const name of ['adam', 'adam-l2', 'adamw', 'adam-separated', 'sgdw', 'rmspropw']) expect(text).toContain(name);
  });

  it('rejects bad input with a message that says what to do', () => {
    expect(parseError('--game', 'Pongg')).toMatch(/Unknown Atari game "Pongg"\. Did you mean Pong\?/);
    expect(parseError()).toMatch(/--game is required/);
    expect(parseError('--game', 'Pong', '--seed', '-1')).toMatch(/Expected a whole number >= 0, got "-1"/);
    expect(parseError('--game', 'Pong', '--seed', '1.5')).toMatch(/whole number/);
    expect(parseError('--game', 'Pong', '--episodes', '0')).toMatch(/whole number >= 1/);
    expect(parseError('--game', 'Pong', '--agent', 'human')).toMatch(/Unknown agent "human"\. Valid: random/);
    expect(parseError('--game', 'Pong', '--protocol', 'gym')).toMatch(/Valid: dopamine, nature/);
    expect(parseError('--game', 'Pong', '--bogus')).toMatch(/unknown option '--bogus'/);
  });
});
