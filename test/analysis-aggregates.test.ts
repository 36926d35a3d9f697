// Human-normalized scores and rliable aggregates of a tiny sweep, against values computed by hand.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  computeAggregates,
  improvementPairs,
  lambdaSensitivity,
  normalizedCell,
  performanceProfiles,
  profileTaus,
  sampleEfficiency,
  sensitivitySpread,
} from '../src/analysis/aggregates.ts';
import { scoreDistribution } from '../src/analysis/stats.ts';
import { loadHumanReference, loadPaperTable } from '../src/analysis/reference.ts';
import { loadSweep } from '../src/analysis/sweep_results.ts';
import { buildTable1, cellKey, type Table1 } from '../src/analysis/table1.ts';
import { tmpSweep, writeRun, type FakeRun } from './fixtures/sweep/make_sweep.ts';

const refs = loadHumanReference();
// Raw scores whose human-normalized value is x: Pong random −20.7, human 14.6; Breakout random 1.7, human 30.5.
const pong = (x: number) => -20.7 + 35.3 * x;
const breakout = (x: number) => 1.7 + 28.8 * x;

const NORMALIZED: Record<string, { optimizer: string; weightDecay: number; pong: number[]; breakout: number[] }> = {
  orig: { optimizer: 'adam', weightDecay: 0, pong: [0.5, 1], breakout: [0.25, 0.75] },
  decoupled: { optimizer: 'adamw', weightDecay: 1e-4, pong: [0.5, 1], breakout: [1, 2] },
  WD: { optimizer: 'adam-l2', weightDecay: 1e-4, pong: [0, 0.5], breakout: [0.5, 0.5] },
};

let root: string;
let table: Table1;
beforeAll(() => {
  root = tmpSweep('aggregates-');
  const runs: FakeRun[] = [];
  for (const spec of Object.values(NORMALIZED)) {
    spec.pong.forEach((x, seed) => runs.push({ game: 'pong', optimizer: spec.optimizer, weightDecay: spec.weightDecay, seed, returns: [pong(x)] }));
    spec.breakout.forEach((x, seed) => runs.push({ game: 'breakout', optimizer: spec.optimizer, weightDecay: spec.weightDecay, seed, returns: [breakout(x)] }));
  }
  // Only orig has Space Invaders: the game must leave every aggregate. Alien has no human reference score.
  runs.push({ game: 'space_invaders', optimizer: 'adam', weightDecay: 0, seed: 0, returns: [500] });
  runs.push({ game: 'alien', optimizer: 'adam', weightDecay: 0, seed: 0, returns: [500] });
  for (const r of runs) writeRun(root, r);
  table = buildTable1(loadSweep(root), { score: { kind: 'final' }, paper: loadPaperTable() });
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const row = (optimizer: string) => table.rows.find((r) => r.optimizer === optimizer)!;

describe('human-normalized scores', () => {
  it('reference scores are read from data/reference with ROM ids', () => {
    expect(refs.get('space_invaders')).toEqual({ random: 148, human: 1668.7 });
    expect(refs.get('pong')).toEqual({ random: -20.7, human: 14.6 });
  });

  it('a cell in human-normalized units: (score − random)/(human − random), then mean ± std over seeds', () => {
    const c = normalizedCell(table.cells.get(cellKey(row('adam'), 'pong'))!, refs)!;
    expect(c.mean).toBeCloseTo(0.75, 10);
    expect(c.std).toBeCloseTo(Math.SQRT1_2 / 2, 10);
    expect(normalizedCell(table.cells.get(cellKey(row('adam'), 'alien'))!, refs)).toBeNull();
    expect(normalizedCell(table.cells.get(cellKey(row('adamw'), 'alien'))!, refs)).toBeNull();
  });
});

describe('rliable aggregates', () => {
  const agg = () => computeAggregates(table, refs, { reps: 300, seed: 'test' });

  it('are over the games every row has, and say what was left out', () => {
    const a = agg();
    expect(a.games).toEqual(['breakout', 'pong']);
    expect(a.notes.join('\n')).toMatch(/SpaceInvaders: no counted run for decoupled λ=1e-4, WD λ=1e-4/);
    expect(a.notes.join('\n')).toMatch(/Alien: no random\/human reference score/);
  });

  it('IQM, median, mean, optimality gap of decoupled match hand computation', () => {
    const d = agg().rows.find((r) => r.row.optimizer === 'adamw')!;
    // runs × games (breakout, pong): [[1, 0.5], [2, 1]]
    expect(d.runsPerGame).toBe(2);
    expect(d.mean.point).toBeCloseTo(1.125, 10); // task means 1.5, 0.75
    expect(d.median.point).toBeCloseTo(1.125, 10);
    expect(d.iqm.point).toBeCloseTo(1, 10); // sorted 0.5 1 1 2, trim one each end
    expect(d.optimalityGap.point).toBeCloseTo(0.125, 10); // 1 − (0.5 + 1 + 1 + 1)/4
    for (const i of [d.mean, d.median, d.iqm, d.optimalityGap]) {
      expect(i.lower).toBeLessThanOrEqual(i.point + 1e-12);
      expect(i.upper).toBeGreaterThanOrEqual(i.point - 1e-12);
    }
    // Bounds are bootstrap means of resampled task means: the widest possible for the mean is 0.5·(1 + 0.5) … 0.5·(2 + 1).
    expect(d.mean.lower).toBeGreaterThanOrEqual(0.75 - 1e-12);
    expect(d.mean.upper).toBeLessThanOrEqual(1.5 + 1e-12);
  });

  it('probability of improvement of decoupled over WD at λ=1e-4 is 0.9375', () => {
    const a = agg();
    const p = a.improvements.find((i) => i.x.optimizer === 'adamw' && i.y.optimizer === 'adam-l2')!;
    // Pong: (0.5>0) (0.5=0.5 → ½) (1>0) (1>0.5) = 3.5/4; Breakout: all 4 pairs win = 1. Mean 0.9375.
    expect(p.interval.point).toBeCloseTo(0.9375, 10);
    expect(p.interval.upper).toBeLessThanOrEqual(1);
  });

  it('is reproducible from its seed, and the seed matters', () => {
    // Few replicates, so the interpolated quantiles depend on which resamples were drawn.
    const a = computeAggregates(table, refs, { reps: 7, seed: 's' }).rows[1].mean;
    const b = computeAggregates(table, refs, { reps: 7, seed: 's' }).rows[1].mean;
    const c = computeAggregates(table, refs, { reps: 7, seed: 'other' }).rows[1].mean;
    expect(a).toEqual(b);
    expect([c.lower, c.upper]).not.toEqual([a.lower, a.upper]);
  });

  it('pairs: decoupled vs WD (vs separated) at each λ, then every row vs orig', () => {
    const names = improvementPairs(table.rows).map(([x, y]) => `${x.scheme}>${y.scheme}`);
    expect(names).toEqual(['decoupled>WD', 'decoupled>orig', 'WD>orig']);
  });
});

describe("rliable's plots: performance profiles and sample efficiency", () => {
  const agg = () => computeAggregates(table, refs, { reps: 300, seed: 'test' });

  it('score distribution: the fraction of runs × games above τ', () => {
    expect(scoreDistribution([[1, 0.5], [2, 1]], 0.75)).toBe(0.75);
    expect(scoreDistribution([[1, 0.5], [2, 1]], 1)).toBe(0.25); // strictly above
  });

  it('a profile per row on a grid from min(0, lowest) to max(1, highest), decreasing, with bands around it', () => {
    const a = agg();
    const taus = profileTaus(a, 5);
    expect(taus).toEqual([0, 0.5, 1, 1.5, 2]); // decoupled reaches 2
    const d = performanceProfiles(a, taus).filter((p) => p.row === 'decoupled λ=1e-4');
    // decoupled [[1, 0.5], [2, 1]]: above 0 → 1, above 0.5 → 3/4, above 1 → 1/4, above 1.5 → 1/4, above 2 → 0.
    expect(d.map((p) => p.fraction.point)).toEqual([1, 0.75, 0.25, 0.25, 0]);
    for (const p of d) expect(p.fraction.lower <= p.fraction.point && p.fraction.point <= p.fraction.upper).toBe(true);
  });

  it('sample efficiency: the IQM of each iteration over the aggregated runs and games', () => {
    const points = sampleEfficiency(table, agg(), refs);
    const d = points.filter((p) => p.row === 'decoupled λ=1e-4');
    expect(d).toHaveLength(1); // the fixture runs have one iteration
    expect(d[0].iqm.point).toBeCloseTo(1, 6); // the same matrix as the final score
    expect(d[0].envSteps).toBeCloseTo(1000.5, 6); // seeds 0, 1 overshoot by their seed
  });
});

describe('λ sensitivity', () => {
  it('one point per (scheme, λ > 0), orig as the reference, spread per scheme', () => {
    const a = computeAggregates(table, refs, { reps: 100, seed: 't' });
    const { points, reference } = lambdaSensitivity(table, a);
    expect(points.map((p) => `${p.scheme}@${p.lambda}`)).toEqual(['decoupled@0.0001', 'WD@0.0001']);
    expect(reference!.scheme).toBe('orig');
    expect(reference!.perGame.get('pong')!.mean).toBeCloseTo(pong(0.75), 10);
    // WD matrix [[0.5, 0], [0.5, 0.5]] → IQM of 0 .5 .5 .5 = 0.5
    expect(points[1].iqm!.point).toBeCloseTo(0.5, 10);
    expect(sensitivitySpread(points)).toEqual([
      { scheme: 'decoupled', lambdas: 1, min: points[0].iqm!.point, max: points[0].iqm!.point, spread: 0 },
      { scheme: 'WD', lambdas: 1, min: points[1].iqm!.point, max: points[1].iqm!.point, spread: 0 },
    ]);
  });
});
