// Welch's interval and the exact permutation test (src/analysis/small_sample.ts) against scipy's values
// (test/reference/small_sample_stats.py wrote test/fixtures/stats/small_sample.json with scipy 1.17.1).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exactPermutationTest, studentTCdf, studentTQuantile, welchInterval } from '../src/analysis/small_sample.ts';

const fixture = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, 'fixtures', 'stats', 'small_sample.json'), 'utf8'));

describe("Student's t, as scipy.stats.t", () => {
  it('CDF at whole and fractional degrees of freedom', () => {
    for (const { t, df, cdf } of fixture.t_cdf) expect(studentTCdf(t, df), `t=${t} df=${df}`).toBeCloseTo(cdf, 10);
  });
  it('quantiles', () => {
    for (const { p, df, q } of fixture.t_quantile) expect(studentTQuantile(p, df), `p=${p} df=${df}`).toBeCloseTo(q, 8);
    expect(() => studentTQuantile(1, 3)).toThrow(RangeError);
  });
});

describe('difference of two small samples, as scipy', () => {
  it("Welch's 95 % interval and df (scipy.stats.ttest_ind(equal_var=False).confidence_interval())", () => {
    for (const { a, b, welch } of fixture.cases) {
      const w = welchInterval(a, b)!;
      expect(w.difference).toBeCloseTo(welch.difference, 12);
      expect(w.df!).toBeCloseTo(welch.df, 9);
      expect(w.low).toBeCloseTo(welch.low, 8);
      expect(w.high).toBeCloseTo(welch.high, 8);
    }
    expect(welchInterval([1], [2, 3])).toBeNull(); // one value has no spread to speak of
    expect(welchInterval([2, 2], [1, 1])).toMatchObject({ difference: 1, low: 1, high: 1, df: null });
  });

  it('the exact permutation test, both one-sided p (scipy.stats.permutation_test, every split)', () => {
    for (const { a, b, permutation } of fixture.cases) {
      const p = exactPermutationTest(a, b);
      expect(p.splits).toBe(permutation.splits);
      expect(p.less, JSON.stringify({ a, b })).toBeCloseTo(permutation.less, 12);
      expect(p.greater, JSON.stringify({ a, b })).toBeCloseTo(permutation.greater, 12);
    }
    // 3 against 3, completely separated: the smallest p there is, 1/20.
    expect(exactPermutationTest([1, 2, 3], [7, 8, 9])).toEqual({ less: 0.05, greater: 1, splits: 20 });
    expect(() => exactPermutationTest([], [1])).toThrow(RangeError);
  });
});
