// src/format.ts: the one way counts, durations and λ are written (λ's text is part of every run id).
import { describe, expect, it } from 'vitest';
import { formatCount, formatDuration, formatLambda } from '../src/format.ts';
import { closestNames, editDistance } from '../src/format.ts';
import { parseChoice } from '../src/cli/parse.ts';
import { optimizerNames } from '../src/optim/types.ts';

describe('formatting', () => {
  it('writes λ in a form that parses back to the same number', () => {
    for (const wd of [0, 1e-3, 1e-4, 1e-8, 2.5e-4, 0.1, 3, 1.234567e-7]) expect(Number(formatLambda(wd))).toBe(wd);
    expect(formatLambda(1e-4)).toBe('1e-4');
    expect(formatLambda(0)).toBe('0');
  });

  it('writes durations with their two largest units, and ? when unknown', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(78)).toBe('1m18s');
    expect(formatDuration(3 * 3600 + 65)).toBe('3h01m');
    expect(formatDuration(2 * 86400 + 5 * 3600)).toBe('2d5h');
    expect(formatDuration(Number.NaN)).toBe('?');
    expect(formatDuration(-1)).toBe('?');
  });

  it('writes counts short', () => {
    expect([formatCount(950), formatCount(12_500), formatCount(1_250_000)]).toEqual(['950', '12.5k', '1.25M']);
  });
});

describe('"did you mean" (closestNames) and the choice parser that uses it', () => {
  it('suggests the closest choices, a prefix counting as close; nothing for a name far from every choice', () => {
    expect(editDistance('adamw', 'adam')).toBe(1);
    expect(closestNames('adamW', optimizerNames, 2)).toEqual(['adamw']);
    expect(closestNames('adam_l2', optimizerNames, 2)).toEqual(['adam-l2']);
    expect(closestNames('rmsprp', optimizerNames, 2)).toEqual(['rmsprop', 'rmspropw']);
    expect(closestNames('lion', optimizerNames, 2)).toEqual([]);
  });

  it('a mistyped scheme is refused with the suggestion and the valid list', () => {
    const parse = parseChoice(optimizerNames, 'optimizer scheme');
    expect(() => parse('adamW')).toThrow(/^Unknown optimizer scheme "adamW"\. Did you mean adamw\? Valid: adam, /);
    expect(() => parse('lion')).toThrow(/^Unknown optimizer scheme "lion"\. Valid: /);
    expect(parse('adamw')).toBe('adamw');
  });
});
