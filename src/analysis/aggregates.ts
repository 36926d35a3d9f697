// Beyond the paper's table: human-normalized scores, rliable-style aggregates over games and seeds (IQM, median,
// mean, optimality gap with stratified-bootstrap 95% intervals), probabilities of improvement between schemes,
// and the λ-sensitivity view. The statistics themselves are stats.ts; this module decides which runs go into
// which runs × games matrix, and says what it had to leave out.
import seedrandom from 'seedrandom';
import { displayName } from '../../envs/games.ts';
import type { HumanReference } from './reference.ts';
import {
  aggregateIqm,
  aggregateMean,
  aggregateMedian,
  aggregateOptimalityGap,
  distinctResamples,
  humanNormalized,
  meanStd,
  probabilityOfImprovementCI,
  scoreDistribution,
  stratifiedBootstrapCI,
  type Interval,
  type MeanStd,
  type ScoreMatrix,
} from './stats.ts';
import { cellKey, type Table1, type TableCell, type TableRow } from './table1.ts';
import { formatLambda } from '../format.ts';

/** Mean ± std over seeds of one cell in human-normalized units, or null without reference scores or runs. */
export function normalizedCell(cell: TableCell, refs: ReadonlyMap<string, HumanReference>): MeanStd | null {
  const ref = refs.get(cell.game);
  if (ref === undefined || cell.counted.length === 0) return null;
  return meanStd(cell.counted.map((c) => humanNormalized(c.value, ref.random, ref.human)));
}

export interface RowAggregate {
  row: TableRow;
  /** Runs per game used (the smallest seed count over the games; extra seeds of other games are left out). */
  runsPerGame: number;
  matrix: number[][];
  iqm: Interval;
  median: Interval;
  mean: Interval;
  optimalityGap: Interval;
}

export interface Improvement {
  x: TableRow;
  y: TableRow;
  /** P(X > Y): probability that a run of x beats a run of y on a random game, with its 95% interval. */
  interval: Interval;
}

export interface Aggregates {
  /** Games the aggregates are over: each has reference scores and counted runs in every aggregated row. */
  games: string[];
  rows: RowAggregate[];
  improvements: Improvement[];
  /** What was left out, and why. */
  notes: string[];
  reps: number;
  seed: string;
}

export interface AggregateOptions {
  /** Bootstrap replicates (rliable uses 50,000; 2,000 is enough for a table). */
  reps?: number;
  /** The bootstrap is seeded, so a report is reproducible. */
  seed?: string;
}

function countedSorted(cell: TableCell): number[] {
  return [...cell.counted].sort((a, b) => a.run.seed - b.run.seed).map((c) => c.value);
}

/**
 * The runs × games matrix of human-normalized scores of one row. rliable needs a rectangle, so when games have
 * different numbers of seeds every game keeps its lowest `runs` seeds.
 */
export function rowMatrix(
  table: Table1,
  row: TableRow,
  games: readonly string[],
  refs: ReadonlyMap<string, HumanReference>,
): { matrix: number[][]; runsPerGame: number; dropped: number } {
  const perGame = games.map((g) => {
    const ref = refs.get(g)!;
    return countedSorted(table.cells.get(cellKey(row, g))!).map((v) => humanNormalized(v, ref.random, ref.human));
  });
  const runs = Math.min(...perGame.map((v) => v.length));
  const dropped = perGame.reduce((s, v) => s + v.length - runs, 0);
  const matrix = Array.from({ length: runs }, (_, i) => perGame.map((v) => v[i]));
  return { matrix, runsPerGame: runs, dropped };
}

/** Pairs compared by probability of improvement: decoupled vs WD vs separated at each λ, and each row vs orig. */
export function improvementPairs(rows: readonly TableRow[]): Array<[TableRow, TableRow]> {
  const pairs: Array<[TableRow, TableRow]> = [];
  const constant = rows.filter((r) => r.schedule === 'constant');
  const find = (optimizer: string, lambda: number) => constant.find((r) => r.optimizer === optimizer && r.weightDecay === lambda);
  const lambdas = [...new Set(constant.filter((r) => r.weightDecay > 0).map((r) => r.weightDecay))].sort((a, b) => b - a);
  for (const lambda of lambdas) {
    for (const [a, b] of [['adamw', 'adam-l2'], ['adamw', 'adam-separated'], ['adam-separated', 'adam-l2']]) {
      const x = find(a, lambda);
      const y = find(b, lambda);
      if (x && y) pairs.push([x, y]);
    }
  }
  const orig = find('adam', 0);
  if (orig) for (const r of rows) if (r !== orig) pairs.push([r, orig]);
  return pairs;
}

export function computeAggregates(
  table: Table1,
  refs: ReadonlyMap<string, HumanReference>,
  options: AggregateOptions = {},
): Aggregates {
  const reps = options.reps ?? 2000;
  const seed = options.seed ?? 'wd-dqn-aggregates';
  const notes: string[] = [];
  const hasRuns = (row: TableRow, g: string) => table.cells.get(cellKey(row, g))!.counted.length > 0;
  const rows = table.rows.filter((row) => table.games.some((g) => hasRuns(row, g)));
  for (const row of table.rows) if (!rows.includes(row)) notes.push(`${rowName(row)}: no counted run, left out`);

  const games: string[] = [];
  for (const g of table.games) {
    if (!refs.has(g)) {
      notes.push(`${displayName(g)}: no random/human reference score, left out of the aggregates`);
      continue;
    }
    const lacking = rows.filter((row) => !hasRuns(row, g));
    if (lacking.length > 0) {
      notes.push(`${displayName(g)}: no counted run for ${lacking.map(rowName).join(', ')}, so left out of every row's aggregate (like is compared with like)`);
      continue;
    }
    games.push(g);
  }
  if (games.length === 0 || rows.length === 0) {
    notes.push('no game has counted runs in every row: no aggregates');
    return { games, rows: [], improvements: [], notes, reps, seed };
  }

  const aggregates: RowAggregate[] = rows.map((row) => {
    const { matrix, runsPerGame, dropped } = rowMatrix(table, row, games, refs);
    if (dropped > 0) notes.push(`${rowName(row)}: games have unequal seed counts; ${dropped} run(s) beyond ${runsPerGame} per game left out of its aggregates`);
    // One rng per statistic and row, from a fixed seed: adding a row does not change the others' intervals.
    const ci = (name: string, stat: (m: ScoreMatrix) => number) =>
      stratifiedBootstrapCI(matrix, stat, { reps, rng: seedrandom(`${seed}|${row.key}|${name}`) });
    return {
      row,
      runsPerGame,
      matrix,
      iqm: ci('iqm', aggregateIqm),
      median: ci('median', aggregateMedian),
      mean: ci('mean', aggregateMean),
      optimalityGap: ci('og', (m) => aggregateOptimalityGap(m)),
    };
  });
  const byRow = new Map(aggregates.map((a) => [a.row, a]));
  const improvements = improvementPairs(rows).map(([x, y]) => ({
    x,
    y,
    interval: probabilityOfImprovementCI(byRow.get(x)!.matrix, byRow.get(y)!.matrix, {
      reps,
      rng: seedrandom(`${seed}|${x.key}>${y.key}`),
    }),
  }));
  return { games, rows: aggregates, improvements, notes, reps, seed };
}

/**
 * Fewer distinct resamples than this and the report shows no bootstrap interval (the point estimate only): the
 * percentiles of a bootstrap with so few different samples are a handful of repeated values, not a 95 % interval
 * (3 seeds × 1 game: 10; 3 × 2: 100; 3 × 3: 1,000; 7 × 1: 1,716). Small studies are judged seed by seed
 * (compare.ts: Welch's interval and the exact permutation p) instead. rliable's own setting, 3–10 runs on 26–57
 * games, is far above it.
 */
export const MIN_DISTINCT_RESAMPLES = 1000;

/** The distinct resamples of a row's stratified bootstrap (its runs per game over the aggregates' games). */
export function rowResamples(aggregates: Aggregates, row: RowAggregate): number {
  return distinctResamples(row.runsPerGame, aggregates.games.length);
}

export function rowName(row: TableRow): string {
  return `${row.scheme} λ=${formatLambda(row.weightDecay)}`;
}

// ---------------------------------------------------------------------------
// λ sensitivity

export interface SensitivityPoint {
  /** The row's name (rowName), as the aggregates and figures call it. */
  name: string;
  scheme: string;
  optimizer: string;
  lambda: number;
  /** Mean over seeds of the raw score, per game (null: no counted run). */
  perGame: Map<string, MeanStd | null>;
  /** IQM of human-normalized scores over the aggregate games, with its interval (null without aggregates). */
  iqm: Interval | null;
  mean: Interval | null;
}

/**
 * Score versus λ per scheme: the paper's claim is that decoupled WD is flat in λ while Adam+L2 (WD) is not.
 * Only constant-schedule rows; `orig` (λ = 0) is returned separately as the reference line.
 */
export function lambdaSensitivity(table: Table1, aggregates: Aggregates): { points: SensitivityPoint[]; reference: SensitivityPoint | null } {
  const agg = new Map(aggregates.rows.map((a) => [a.row, a]));
  const toPoint = (row: TableRow): SensitivityPoint => ({
    name: rowName(row),
    scheme: row.scheme,
    optimizer: row.optimizer,
    lambda: row.weightDecay,
    perGame: new Map(table.games.map((g) => [g, table.cells.get(cellKey(row, g))!.stats])),
    iqm: agg.get(row)?.iqm ?? null,
    mean: agg.get(row)?.mean ?? null,
  });
  const constant = table.rows.filter((r) => r.schedule === 'constant');
  const orig = constant.find((r) => r.optimizer === 'adam' && r.weightDecay === 0);
  return {
    points: constant.filter((r) => r.weightDecay > 0).map(toPoint),
    reference: orig ? toPoint(orig) : null,
  };
}

/** Per scheme: the spread of its IQM over λ (max − min), the at-a-glance stability number. */
export function sensitivitySpread(points: readonly SensitivityPoint[]): Array<{ scheme: string; lambdas: number; min: number; max: number; spread: number }> {
  const byScheme = new Map<string, number[]>();
  for (const p of points) {
    if (p.iqm === null) continue;
    byScheme.set(p.scheme, [...(byScheme.get(p.scheme) ?? []), p.iqm.point]);
  }
  return [...byScheme].map(([scheme, v]) => ({
    scheme,
    lambdas: v.length,
    min: Math.min(...v),
    max: Math.max(...v),
    spread: Math.max(...v) - Math.min(...v),
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// rliable's standard plots: performance profiles and the sample-efficiency curve

export interface ProfilePoint {
  row: string;
  tau: number;
  /** Fraction of runs × games with a human-normalized score above τ, with its stratified-bootstrap 95% interval. */
  fraction: Interval;
}

/** The τ grid of the profiles: from min(0, lowest score) to max(1, highest score), `count` points. */
export function profileTaus(aggregates: Aggregates, count = 41): number[] {
  const all = aggregates.rows.flatMap((r) => r.matrix.flat());
  if (all.length === 0) return [];
  const lo = Math.min(0, ...all);
  const hi = Math.max(1, ...all);
  return Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));
}

/** rliable's performance profile (run score distribution) per aggregated row, with bootstrap bands. */
export function performanceProfiles(aggregates: Aggregates, taus = profileTaus(aggregates)): ProfilePoint[] {
  const reps = Math.min(aggregates.reps, 1000);
  return aggregates.rows.flatMap((r) =>
    taus.map((tau) => ({
      row: rowName(r.row),
      tau,
      fraction: stratifiedBootstrapCI(r.matrix, (m) => scoreDistribution(m, tau), { reps, rng: seedrandom(`${aggregates.seed}|${r.row.key}|profile|${tau}`) }),
    })),
  );
}

export interface EfficiencyPoint {
  row: string;
  iteration: number;
  /** Mean env_steps of the runs at this iteration. */
  envSteps: number;
  /** IQM of human-normalized training return over runs × games at this iteration, with its 95% interval. */
  iqm: Interval;
  runsPerGame: number;
}

/**
 * rliable's sample-efficiency curve: per row the IQM over runs × games of the human-normalized mean training return
 * of each iteration, with its stratified-bootstrap interval, over the aggregates' games and the same runs. An
 * iteration is drawn only while every game has a value for the same number of runs.
 */
export function sampleEfficiency(table: Table1, aggregates: Aggregates, refs: ReadonlyMap<string, HumanReference>): EfficiencyPoint[] {
  const reps = Math.min(aggregates.reps, 1000);
  const out: EfficiencyPoint[] = [];
  for (const agg of aggregates.rows) {
    const runsByGame = aggregates.games.map((g) => [...table.cells.get(cellKey(agg.row, g))!.counted].sort((a, b) => a.run.seed - b.run.seed).slice(0, agg.runsPerGame).map((c) => c.run));
    const iterations = Math.min(...runsByGame.flat().map((r) => r.records.length));
    for (let i = 0; i < iterations; i++) {
      const columns = runsByGame.map((runs, gi) => {
        const ref = refs.get(aggregates.games[gi])!;
        return runs.map((r) => {
          const v = r.records[i].train_return_mean;
          return typeof v === 'number' && Number.isFinite(v) ? humanNormalized(v, ref.random, ref.human) : null;
        });
      });
      if (columns.some((c) => c.some((v) => v === null))) continue;
      const matrix = Array.from({ length: agg.runsPerGame }, (_, k) => columns.map((c) => c[k] as number));
      const steps = runsByGame.flat().map((r) => r.records[i].env_steps).filter((v): v is number => typeof v === 'number');
      out.push({
        row: rowName(agg.row),
        iteration: i,
        envSteps: steps.reduce((a, b) => a + b, 0) / steps.length,
        iqm: stratifiedBootstrapCI(matrix, aggregateIqm, { reps, rng: seedrandom(`${aggregates.seed}|${agg.row.key}|efficiency|${i}`) }),
        runsPerGame: agg.runsPerGame,
      });
    }
  }
  return out;
}
