/**
 * Honest statistics for Atari score tables, following rliable
 * (Agarwal et al., "Deep RL at the Edge of the Statistical Precipice", NeurIPS 2021;
 * google-research/rliable, `rliable/metrics.py` and `rliable/library.py`).
 *
 * A score matrix is `runs × tasks`: rows are seeds/runs, columns are games, usually
 * already human-normalized. All functions are pure; the bootstrap draws randomness only
 * from the `rng` it is given.
 *
 * Input policy: matrices must be non-empty, rectangular and finite. NaN is NOT treated as
 * "missing run" — rliable itself requires a full runs × tasks array, and silently dropping
 * entries would change what IQM / mean mean. Callers with incomplete runs must decide
 * explicitly (drop the run, or drop the game) before calling in.
 */

/** rows = runs (seeds), columns = tasks (games). */
export type ScoreMatrix = readonly (readonly number[])[];

/** Uniform random number in [0, 1), e.g. `seedrandom('seed')`. */
export type Rng = () => number;

export interface Interval {
  /** Statistic on the original data. */
  point: number;
  lower: number;
  upper: number;
}

export interface BootstrapOptions {
  /** Number of bootstrap replicates (rliable defaults to 50000; 2000 is enough for tables). */
  reps?: number;
  /** Two-sided interval coverage, in (0, 1). */
  confidence?: number;
  rng: Rng;
}

export interface MeanStd {
  mean: number;
  /** Sample standard deviation (ddof = 1); `null` when n < 2, where it is undefined. */
  std: number | null;
  n: number;
}

// ---------------------------------------------------------------------------
// Validation

/** Throws unless `matrix` is a non-empty, rectangular, all-finite runs × tasks matrix. */
export function validateMatrix(matrix: ScoreMatrix, name = 'scores'): void {
  if (!Array.isArray(matrix) || matrix.length === 0) {
    throw new Error(`${name}: score matrix is empty (expected runs × tasks with at least one run)`);
  }
  const first = matrix[0];
  if (!Array.isArray(first) || first.length === 0) {
    throw new Error(`${name}: score matrix has no tasks (row 0 is empty)`);
  }
  const nTasks = first.length;
  matrix.forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== nTasks) {
      throw new Error(
        `${name}: ragged score matrix: row ${i} has ${Array.isArray(row) ? row.length : 'no'} ` +
          `entries, row 0 has ${nTasks} (missing runs are not supported; drop the run or the task)`,
      );
    }
    row.forEach((v, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new Error(`${name}: non-finite score ${String(v)} at run ${i}, task ${j}`);
      }
    });
  });
}

function taskCount(matrix: ScoreMatrix): number {
  return matrix[0].length;
}

function taskColumn(matrix: ScoreMatrix, task: number): number[] {
  return matrix.map((row) => row[task]);
}

function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Per-task mean over runs (numpy: `np.mean(scores, axis=0)`). */
function perTaskMeans(matrix: ScoreMatrix): number[] {
  const out: number[] = [];
  for (let t = 0; t < taskCount(matrix); t++) out.push(mean(taskColumn(matrix, t)));
  return out;
}

/** numpy.median: middle element, or the average of the two middle ones for even n. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Quantile of already-sorted data with numpy's default rule (`method='linear'`, type 7):
 * position h = (n − 1)·q, linearly interpolated between neighbouring order statistics.
 */
function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

// ---------------------------------------------------------------------------
// Normalization and per-cell statistics

/** Human-normalized score: (score − random) / (human − random). */
export function humanNormalized(score: number, randomScore: number, humanScore: number): number {
  for (const [label, v] of [
    ['score', score],
    ['randomScore', randomScore],
    ['humanScore', humanScore],
  ] as const) {
    if (!Number.isFinite(v)) throw new Error(`humanNormalized: ${label} must be finite, got ${v}`);
  }
  if (humanScore === randomScore) {
    throw new Error(
      `humanNormalized: humanScore equals randomScore (${humanScore}); normalization is undefined`,
    );
  }
  return (score - randomScore) / (humanScore - randomScore);
}

/**
 * Mean and sample standard deviation (ddof = 1, as `np.std(x, ddof=1)`) for one table cell.
 * `std` is `null` for a single value rather than 0 or NaN, so a table can print "—"
 * instead of a misleading "± 0".
 */
export function meanStd(values: readonly number[]): MeanStd {
  if (values.length === 0) throw new Error('meanStd: no values');
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new Error(`meanStd: non-finite value ${v} at index ${i}`);
  });
  const n = values.length;
  const m = mean(values);
  if (n < 2) return { mean: m, std: null, n };
  let ss = 0;
  for (const v of values) ss += (v - m) ** 2;
  return { mean: m, std: Math.sqrt(ss / (n - 1)), n };
}

// ---------------------------------------------------------------------------
// Aggregates (rliable metrics.py)

/** rliable `aggregate_mean`: mean over tasks of per-task mean scores. */
export function aggregateMean(matrix: ScoreMatrix): number {
  validateMatrix(matrix);
  return mean(perTaskMeans(matrix));
}

/** rliable `aggregate_median`: median over tasks of per-task mean scores. */
export function aggregateMedian(matrix: ScoreMatrix): number {
  validateMatrix(matrix);
  return median(perTaskMeans(matrix));
}

/**
 * rliable `aggregate_iqm`: `scipy.stats.trim_mean(scores, 0.25, axis=None)` — pool all
 * runs × tasks scores, sort, cut `floor(0.25 · n)` values from each end (scipy's rule,
 * no fractional weighting), and average the rest.
 */
export function aggregateIqm(matrix: ScoreMatrix): number {
  validateMatrix(matrix);
  const all = matrix.flat().sort((a, b) => a - b);
  const cut = Math.floor(0.25 * all.length);
  return mean(all.slice(cut, all.length - cut));
}

/**
 * rliable `aggregate_optimality_gap`: gamma − mean(min(score, gamma)) over all entries,
 * i.e. how far the scores fall short of gamma, with no credit for exceeding it.
 */
export function aggregateOptimalityGap(matrix: ScoreMatrix, gamma = 1): number {
  validateMatrix(matrix);
  if (!Number.isFinite(gamma)) throw new Error(`aggregateOptimalityGap: gamma must be finite, got ${gamma}`);
  return gamma - mean(matrix.flat().map((v) => Math.min(v, gamma)));
}

/**
 * rliable `run_score_distributions` at one threshold: the fraction of all runs × tasks scores above τ (the
 * performance profile's y at x = τ).
 */
export function scoreDistribution(matrix: ScoreMatrix, tau: number): number {
  validateMatrix(matrix);
  const all = matrix.flat();
  return all.filter((v) => v > tau).length / all.length;
}

/**
 * rliable `probability_of_improvement`: mean over tasks of P(X > Y) + ½·P(X = Y), where
 * X, Y are one run's score on that task for each algorithm. Per task this is the
 * Mann–Whitney U statistic of x divided by n_x · n_y; counting all pairs gives exactly
 * that U (ties count ½), and identical samples give 0.5 without rliable's special case.
 * Run counts may differ between x and y; task counts must match.
 */
export function probabilityOfImprovement(x: ScoreMatrix, y: ScoreMatrix): number {
  validateMatrix(x, 'x');
  validateMatrix(y, 'y');
  const nTasks = taskCount(x);
  if (taskCount(y) !== nTasks) {
    throw new Error(`probabilityOfImprovement: x has ${nTasks} tasks but y has ${taskCount(y)}`);
  }
  const perTask: number[] = [];
  for (let t = 0; t < nTasks; t++) {
    let u = 0;
    for (const rx of x) {
      for (const ry of y) {
        const a = rx[t];
        const b = ry[t];
        u += a > b ? 1 : a === b ? 0.5 : 0;
      }
    }
    perTask.push(u / (x.length * y.length));
  }
  return mean(perTask);
}

// ---------------------------------------------------------------------------
// Stratified bootstrap (rliable library.py: StratifiedBootstrap / StratifiedIndependentBootstrap)

/**
 * One stratified resample: within each task independently, draw `runs` run indices with
 * replacement. A task's resampled scores therefore always come from that task, and runs are
 * not kept together across tasks (rliable's StratifiedBootstrap, task_bootstrap=False).
 */
function stratifiedResample(matrix: ScoreMatrix, rng: Rng): number[][] {
  const nRuns = matrix.length;
  const nTasks = taskCount(matrix);
  const out: number[][] = Array.from({ length: nRuns }, () => new Array<number>(nTasks));
  for (let t = 0; t < nTasks; t++) {
    for (let r = 0; r < nRuns; r++) {
      // min() guards against an rng that (wrongly) returns exactly 1.
      const src = Math.min(nRuns - 1, Math.floor(rng() * nRuns));
      out[r][t] = matrix[src][t];
    }
  }
  return out;
}

function isSingleMatrix(arg: ScoreMatrix | readonly ScoreMatrix[]): arg is ScoreMatrix {
  const first = (arg as readonly unknown[])[0];
  return !(Array.isArray(first) && Array.isArray(first[0]));
}

/**
 * How many different resamples a stratified bootstrap of `runsPerGame` runs in each of `games` games can draw: a
 * resample of one game is a multiset of k runs out of k, C(2k − 1, k) of them, and the games are drawn independently.
 * 3 seeds of one game give 10: a "95 % interval" over 2,000 replicates is then a few repeated values.
 */
export function distinctResamples(runsPerGame: number, games: number): number {
  const k = runsPerGame;
  let perGame = 1; // C(2k − 1, k), exact in doubles far beyond any seed count
  for (let i = 1; i <= k; i++) perGame = (perGame * (k - 1 + i)) / i;
  return perGame ** games;
}

/**
 * Percentile-method bootstrap confidence interval of `statistic`, resampling runs within
 * each task. Bounds are the (1 − confidence)/2 and (1 + confidence)/2 quantiles of the
 * replicate statistics, using numpy's default linear-interpolation quantile (as rliable's
 * `get_interval_estimates(method='percentile')` via arch / np.percentile).
 *
 * - One matrix: `statistic(matrix)`, e.g. `aggregateIqm` (rliable StratifiedBootstrap).
 * - Several matrices (e.g. two algorithms for probability of improvement): each matrix is
 *   resampled within tasks independently of the others, then `statistic(...matrices)`
 *   (rliable StratifiedIndependentBootstrap). Matrices may have different run counts.
 */
export function stratifiedBootstrapCI(
  matrix: ScoreMatrix,
  statistic: (m: ScoreMatrix) => number,
  options: BootstrapOptions,
): Interval;
export function stratifiedBootstrapCI(
  matrices: readonly ScoreMatrix[],
  statistic: (...ms: ScoreMatrix[]) => number,
  options: BootstrapOptions,
): Interval;
export function stratifiedBootstrapCI(
  data: ScoreMatrix | readonly ScoreMatrix[],
  statistic: (...ms: ScoreMatrix[]) => number,
  options: BootstrapOptions,
): Interval {
  const { reps = 2000, confidence = 0.95, rng } = options;
  if (!Number.isInteger(reps) || reps < 1) {
    throw new Error(`stratifiedBootstrapCI: reps must be a positive integer, got ${reps}`);
  }
  if (!(confidence > 0 && confidence < 1)) {
    throw new Error(`stratifiedBootstrapCI: confidence must be in (0, 1), got ${confidence}`);
  }
  if (typeof rng !== 'function') throw new Error('stratifiedBootstrapCI: an rng function is required');
  if (!Array.isArray(data) || data.length === 0) {
    throw new Error('stratifiedBootstrapCI: no data (empty matrix or empty list of matrices)');
  }

  const matrices: readonly ScoreMatrix[] = isSingleMatrix(data) ? [data] : data;
  matrices.forEach((m, i) => validateMatrix(m, matrices.length === 1 ? 'scores' : `matrix ${i}`));

  const checked = (value: number, what: string): number => {
    if (typeof value !== 'number' || Number.isNaN(value)) {
      throw new Error(`stratifiedBootstrapCI: statistic returned ${String(value)} on ${what}`);
    }
    return value;
  };

  const point = checked(statistic(...matrices), 'the original data');
  const replicates = new Float64Array(reps);
  for (let b = 0; b < reps; b++) {
    const resampled = matrices.map((m) => stratifiedResample(m, rng));
    replicates[b] = checked(statistic(...resampled), `bootstrap replicate ${b}`);
  }
  replicates.sort(); // typed arrays sort numerically
  const alpha = (1 - confidence) / 2;
  return {
    point,
    lower: quantileSorted(replicates, alpha),
    upper: quantileSorted(replicates, 1 - alpha),
  };
}

/** Convenience: bootstrap CI of P(x > y), resampling x and y independently within tasks. */
export function probabilityOfImprovementCI(
  x: ScoreMatrix,
  y: ScoreMatrix,
  options: BootstrapOptions,
): Interval {
  return stratifiedBootstrapCI([x, y], (a, b) => probabilityOfImprovement(a, b), options);
}
