import { describe, expect, it } from 'vitest';
import seedrandom from 'seedrandom';
import {
  distinctResamples,
  aggregateIqm,
  aggregateMean,
  aggregateMedian,
  aggregateOptimalityGap,
  humanNormalized,
  meanStd,
  probabilityOfImprovement,
  probabilityOfImprovementCI,
  stratifiedBootstrapCI,
  type Rng,
  type ScoreMatrix,
} from '../src/analysis/stats.ts';

// 4 runs × 3 tasks. Values cross-checked with numpy/scipy (rliable's definitions):
// mean 0.858333…, median 0.525, iqm 0.65, optimality gap 0.441666…
const A: ScoreMatrix = [
  [0.1, 2.0, 0.5],
  [0.3, 1.5, 0.9],
  [0.2, 3.0, -0.4],
  [0.4, 0.7, 1.1],
];

/** runs × tasks matrix of uniform noise, for "typical data". */
function randomMatrix(runs: number, tasks: number, seed: string): number[][] {
  const rng = seedrandom(seed);
  return Array.from({ length: runs }, () => Array.from({ length: tasks }, () => rng() * 2));
}

/** Deterministic rng that replays a fixed sequence. */
function replay(values: number[]): Rng {
  let i = 0;
  return () => values[i++ % values.length];
}

function sampleStd(xs: number[]): number {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

describe('humanNormalized', () => {
  it('maps random to 0 and human to 1', () => {
    // Pong: random −20.7, human 14.6.
    expect(humanNormalized(-20.7, -20.7, 14.6)).toBe(0);
    expect(humanNormalized(14.6, -20.7, 14.6)).toBeCloseTo(1, 12);
    // Breakout: random 1.7, human 30.5 → (16.1 − 1.7) / 28.8 = 0.5.
    expect(humanNormalized(16.1, 1.7, 30.5)).toBeCloseTo(0.5, 12);
  });

  it('rejects human == random and non-finite inputs', () => {
    expect(() => humanNormalized(5, 3, 3)).toThrow(/humanScore equals randomScore/);
    expect(() => humanNormalized(NaN, 0, 1)).toThrow(/finite/);
  });
});

describe('meanStd', () => {
  it('uses the sample std (ddof = 1)', () => {
    // mean 5; squared deviations 9+1+1+1+0+0+4+16 = 32; var = 32/7.
    const r = meanStd([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(r.mean).toBe(5);
    expect(r.std).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(r.n).toBe(8);
  });

  it('returns std null for a single value', () => {
    expect(meanStd([3.5])).toEqual({ mean: 3.5, std: null, n: 1 });
  });

  it('rejects empty and non-finite input', () => {
    expect(() => meanStd([])).toThrow(/no values/);
    expect(() => meanStd([1, NaN])).toThrow(/non-finite/);
  });
});

describe('aggregates (rliable metrics.py)', () => {
  it('aggregateMean = mean of per-task means', () => {
    // per-task means: 0.25, 1.8, 0.525 → 2.575 / 3
    expect(aggregateMean(A)).toBeCloseTo(2.575 / 3, 12);
  });

  it('aggregateMedian = median of per-task means (odd and even task counts)', () => {
    expect(aggregateMedian(A)).toBeCloseTo(0.525, 12);
    // per-task means 2, 3, 4, 15 → even count: (3 + 4) / 2; the mean would be 6.
    const even = [
      [1, 2, 3, 10],
      [3, 4, 5, 20],
    ];
    expect(aggregateMedian(even)).toBe(3.5);
    expect(aggregateMean(even)).toBe(6);
  });

  it('aggregateIqm follows scipy trim_mean(0.25): cut floor(0.25 n) from each end', () => {
    // 1..8: cut 2 → mean(3,4,5,6) = 4.5 (scipy: 4.5)
    expect(aggregateIqm([[1, 2, 3, 4], [5, 6, 7, 8]])).toBe(4.5);
    // 1..10: cut int(2.5) = 2 → mean(3..8) = 5.5 (scipy: 5.5)
    expect(aggregateIqm([[10, 9, 8, 7, 6], [1, 2, 3, 4, 5]])).toBe(5.5);
    // n = 6: cut int(1.5) = 1, no fractional weighting → mean(1,2,3,4) = 2.5
    expect(aggregateIqm([[-100, 1, 2], [3, 4, 1000]])).toBe(2.5);
    // A sorted: −0.4 0.1 0.2 | 0.3 0.4 0.5 0.7 0.9 1.1 | 1.5 2 3 → 3.9 / 6 (scipy: 0.65)
    expect(aggregateIqm(A)).toBeCloseTo(0.65, 12);
    // n < 4 cuts nothing.
    expect(aggregateIqm([[1, 2, 6]])).toBe(3);
  });

  it('aggregateOptimalityGap = gamma − mean(min(score, gamma))', () => {
    // min(A, 1) sums to 6.7 over 12 entries → 1 − 6.7/12 (numpy: 0.441666…)
    expect(aggregateOptimalityGap(A)).toBeCloseTo(1 - 6.7 / 12, 12);
    // gamma = 2: min(A, 2) sums to 0.1+2+0.5+0.3+1.5+0.9+0.2+2−0.4+0.4+0.7+1.1 = 9.3
    expect(aggregateOptimalityGap(A, 2)).toBeCloseTo(2 - 9.3 / 12, 12);
    // Above gamma everywhere → gap 0.
    expect(aggregateOptimalityGap([[1.5, 3], [2, 1]])).toBe(0);
  });
});

describe('probabilityOfImprovement', () => {
  it('is 0.5 for identical matrices', () => {
    expect(probabilityOfImprovement(A, A)).toBe(0.5);
  });

  it('is 1 when x strictly dominates y on every task (and 0 the other way)', () => {
    const y = A.map((row) => row.map((v) => v - 10));
    expect(probabilityOfImprovement(A, y)).toBe(1);
    expect(probabilityOfImprovement(y, A)).toBe(0);
  });

  it('counts ties as 1/2 and allows different run counts', () => {
    const x = [[1, 5], [2, 5], [3, 6]];
    const y = [[2, 5], [0, 4]];
    // task 0: x {1,2,3} vs y {2,0}: wins (1>0)(2>0)(3>2)(3>0) = 4, tie (2,2) = .5 → 4.5/6
    // task 1: x {5,5,6} vs y {5,4}: wins 4, ties (5,5)×2 → 5/6
    // mean = (0.75 + 0.8333…) / 2; scipy mannwhitneyu U/(nx·ny) gives the same 0.791666…
    expect(probabilityOfImprovement(x, y)).toBeCloseTo((4.5 / 6 + 5 / 6) / 2, 12);
    // Antisymmetry: P(x > y) + P(y > x) = 1.
    expect(probabilityOfImprovement(y, x)).toBeCloseTo(1 - (4.5 / 6 + 5 / 6) / 2, 12);
  });

  it('rejects different task counts', () => {
    expect(() => probabilityOfImprovement([[1, 2]], [[1, 2, 3]])).toThrow(/tasks/);
  });
});

describe('distinctResamples', () => {
  it('counts the different stratified resamples, as enumerating every draw finds them', () => {
    for (const k of [1, 2, 3, 4]) {
      for (const g of [1, 2]) {
        // Every draw of k run indices with replacement in each of g games; a resample is the multiset per game.
        const seen = new Set<string>();
        const draws = k ** (k * g);
        for (let code = 0; code < draws; code++) {
          const digits = Array.from({ length: k * g }, (_, i) => Math.floor(code / k ** i) % k);
          seen.add(Array.from({ length: g }, (_, j) => digits.slice(j * k, (j + 1) * k).sort().join(',')).join('|'));
        }
        expect(distinctResamples(k, g), `k ${k}, g ${g}`).toBe(seen.size);
      }
    }
    expect(distinctResamples(3, 1)).toBe(10); // three seeds of one game: the headline study's arms
    expect(distinctResamples(7, 1)).toBe(1716);
    expect(distinctResamples(3, 57)).toBe(10 ** 57);
  });
});

describe('stratifiedBootstrapCI', () => {
  const data = randomMatrix(5, 10, 'typical');

  it('is deterministic for a given seed', () => {
    const a = stratifiedBootstrapCI(data, aggregateIqm, { reps: 500, rng: seedrandom('s1') });
    const b = stratifiedBootstrapCI(data, aggregateIqm, { reps: 500, rng: seedrandom('s1') });
    const c = stratifiedBootstrapCI(data, aggregateIqm, { reps: 500, rng: seedrandom('s2') });
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(c.point).toBe(a.point);
  });

  it('point is the aggregate on the original data and lies inside the interval', () => {
    for (const agg of [aggregateMean, aggregateMedian, aggregateIqm, aggregateOptimalityGap]) {
      const ci = stratifiedBootstrapCI(data, agg, { rng: seedrandom('contain') });
      expect(ci.point).toBe(agg(data));
      expect(ci.lower).toBeLessThan(ci.point);
      expect(ci.upper).toBeGreaterThan(ci.point);
    }
  });

  it('gives a zero-width interval for a constant matrix', () => {
    const constant = [[0.7, 0.7], [0.7, 0.7], [0.7, 0.7]];
    const ci = stratifiedBootstrapCI(constant, aggregateMean, { reps: 200, rng: seedrandom('c') });
    // Exactly zero width; the point itself is 0.7 up to summation rounding.
    expect(ci.lower).toBe(ci.point);
    expect(ci.upper).toBe(ci.point);
    expect(ci.point).toBeCloseTo(0.7, 12);
  });

  it('uses percentile bounds with numpy-style linear interpolation', () => {
    // 1 task, runs {0, 1}; each replicate draws 2 run indices (rng < .5 → run 0).
    // Replicate means: 0, .5, .5, .5, 1. np.percentile([0,.5,.5,.5,1], [5, 95]) = [0.1, 0.9].
    const rng = replay([0.1, 0.1, 0.1, 0.9, 0.9, 0.1, 0.1, 0.9, 0.9, 0.9]);
    const ci = stratifiedBootstrapCI([[0], [1]], aggregateMean, { reps: 5, confidence: 0.9, rng });
    expect(ci.point).toBe(0.5);
    expect(ci.lower).toBeCloseTo(0.1, 12);
    expect(ci.upper).toBeCloseTo(0.9, 12);
  });

  it('more reps reduce the Monte Carlo noise of the bounds', () => {
    const bounds = (reps: number) =>
      Array.from({ length: 10 }, (_, s) =>
        stratifiedBootstrapCI(data, aggregateMean, { reps, rng: seedrandom(`mc${s}`) }).lower,
      );
    const noisy = sampleStd(bounds(50));
    const precise = sampleStd(bounds(5000));
    // Expected ratio ≈ sqrt(5000/50) = 10; require a comfortable 3×.
    expect(precise * 3).toBeLessThan(noisy);
  });

  it('resamples within tasks only, independently across tasks', () => {
    // Disjoint value ranges per task: any cross-task mixing would put a value out of range.
    const runs = 6;
    const strat = Array.from({ length: runs }, (_, r) => [r, 100 + r, 1000 + r]);
    const seen: ScoreMatrix[] = [];
    const outOfTask = (m: ScoreMatrix): number => {
      seen.push(m);
      let bad = 0;
      for (const row of m) {
        if (row.length !== 3) bad++;
        row.forEach((v, t) => {
          if (!strat.some((orig) => orig[t] === v)) bad++;
        });
      }
      return bad + (m.length === runs ? 0 : 1);
    };
    const ci = stratifiedBootstrapCI(strat, outOfTask, { reps: 300, rng: seedrandom('strat') });
    expect(ci).toEqual({ point: 0, lower: 0, upper: 0 });
    expect(seen).toHaveLength(301);
    // Runs are drawn per task (rliable StratifiedBootstrap), so rows get re-paired:
    // some resampled row must pair task 0's run r with task 1's run r' ≠ r.
    const rePaired = seen.slice(1).some((m) => m.some((row) => row[1] - row[0] !== 100));
    expect(rePaired).toBe(true);
  });

  it('rejects bad input and options', () => {
    const rng = seedrandom('x');
    expect(() => stratifiedBootstrapCI([], aggregateMean, { rng })).toThrow(/no data|empty/);
    expect(() => stratifiedBootstrapCI([[]], aggregateMean, { rng })).toThrow(/no tasks/);
    expect(() => stratifiedBootstrapCI([[1, 2], [3]], aggregateMean, { rng })).toThrow(/ragged/);
    expect(() => stratifiedBootstrapCI([[1, NaN]], aggregateMean, { rng })).toThrow(/non-finite/);
    expect(() => stratifiedBootstrapCI(A, aggregateMean, { reps: 0, rng })).toThrow(/reps/);
    expect(() => stratifiedBootstrapCI(A, aggregateMean, { confidence: 1, rng })).toThrow(/confidence/);
    expect(() => stratifiedBootstrapCI(A, () => NaN, { rng })).toThrow(/statistic returned NaN/);
  });
});

describe('two-matrix bootstrap (probability of improvement)', () => {
  it('resamples each matrix independently and keeps run counts', () => {
    const x = randomMatrix(5, 4, 'x');
    const y = randomMatrix(3, 4, 'y');
    const shapes = new Set<string>();
    const ci = stratifiedBootstrapCI(
      [x, y],
      (a, b) => {
        shapes.add(`${a.length}x${a[0].length}/${b.length}x${b[0].length}`);
        return probabilityOfImprovement(a, b);
      },
      { reps: 200, rng: seedrandom('poi') },
    );
    expect([...shapes]).toEqual(['5x4/3x4']);
    expect(ci.point).toBe(probabilityOfImprovement(x, y));
    expect(ci.lower).toBeLessThanOrEqual(ci.point);
    expect(ci.upper).toBeGreaterThanOrEqual(ci.point);
  });

  it('probabilityOfImprovementCI: dominance gives [1, 1]; identical data is centred on 0.5', () => {
    const x = randomMatrix(5, 4, 'dom');
    const worse = x.map((row) => row.map((v) => v - 10));
    expect(probabilityOfImprovementCI(x, worse, { reps: 200, rng: seedrandom('d') })).toEqual({
      point: 1,
      lower: 1,
      upper: 1,
    });
    const same = probabilityOfImprovementCI(x, x, { reps: 1000, rng: seedrandom('e') });
    expect(same.point).toBe(0.5);
    expect(same.lower).toBeLessThan(0.5);
    expect(same.upper).toBeGreaterThan(0.5);
  });

  it('rejects mismatched task counts and bad matrices', () => {
    const rng = seedrandom('m');
    expect(() => probabilityOfImprovementCI([[1, 2]], [[1, 2, 3]], { rng })).toThrow(/tasks/);
    expect(() => probabilityOfImprovementCI([[1, 2]], [[1, Infinity]], { rng })).toThrow(/matrix 1.*non-finite/);
  });
});
