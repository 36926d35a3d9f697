// src/format.ts: the one way counts, durations and λ are written (λ's text is part of every run id).
import { describe, expect, it } from 'vitest';
import { formatCount, formatDuration, formatLambda } from '../src/format.ts';

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
