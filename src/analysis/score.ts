// The score of one run: the single number a Table 1 cell averages over seeds. Defined here once, so the table,
// its caption, the aggregates and the figures all use the same definition.
import type { MetricsRecord } from '../run/run_directory.ts';
import type { LoadedRun } from './sweep_results.ts';

export type ScoreSpec = { kind: 'final' } | { kind: 'eval' } | { kind: 'last'; k: number };

export const DEFAULT_SCORE: ScoreSpec = { kind: 'final' };

/** 'final' | 'eval' | 'last:K' (K ≥ 1). */
export function parseScoreSpec(text: string): ScoreSpec {
  if (text === 'final') return { kind: 'final' };
  if (text === 'eval') return { kind: 'eval' };
  const m = /^last:(\d+)$/.exec(text);
  if (m) {
    const k = Number(m[1]);
    if (k >= 1 && Number.isSafeInteger(k)) return { kind: 'last', k };
  }
  throw new Error(`Unknown score "${text}". Valid: final, eval, last:K with K a whole number >= 1 (e.g. last:5).`);
}

export function scoreSpecName(spec: ScoreSpec): string {
  return spec.kind === 'last' ? `last:${spec.k}` : spec.kind;
}

/** The sentence the table's caption states. */
export function describeScore(spec: ScoreSpec): string {
  switch (spec.kind) {
    case 'final':
      return (
        "Score of a run: the mean return of the training episodes finished in its final iteration (ε-greedy " +
        "training policy; Dopamine's JAX DQN trains without an evaluation phase and its baselines report this)."
      );
    case 'eval':
      return "Score of a run: the mean return of the evaluation episodes of its final iteration (ε_eval policy).";
    case 'last':
      return (
        `Score of a run: the mean over its last ${spec.k} iterations of the per-iteration mean training-episode ` +
        'return (iterations in which no episode finished are left out).'
      );
  }
}

/** The per-iteration metric a score (and the learning curves) is built from. */
export function curveMetric(spec: ScoreSpec): 'train_return_mean' | 'eval_return_mean' {
  return spec.kind === 'eval' ? 'eval_return_mean' : 'train_return_mean';
}

export type RunScore = { value: number; iteration: number } | { value: null; reason: string };

function metric(r: MetricsRecord, key: string): number | null {
  const v = r[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** A run's score at its last completed iteration, or why it has none. */
export function scoreRun(run: Pick<LoadedRun, 'records' | 'evalSteps'>, spec: ScoreSpec): RunScore {
  const records = run.records;
  if (records.length === 0) return { value: null, reason: 'no iteration completed yet' };
  const last = records[records.length - 1];
  if (spec.kind === 'final') {
    const v = metric(last, 'train_return_mean');
    return v === null
      ? { value: null, reason: `no training episode finished in its final iteration (${last.iteration})` }
      : { value: v, iteration: last.iteration };
  }
  if (spec.kind === 'eval') {
    if (run.evalSteps === 0) return { value: null, reason: 'the run has no evaluation phase (evalSteps 0); use --score final' };
    const v = metric(last, 'eval_return_mean');
    return v === null
      ? { value: null, reason: `no evaluation episode finished in its final iteration (${last.iteration})` }
      : { value: v, iteration: last.iteration };
  }
  const window = records.slice(-spec.k).map((r) => metric(r, 'train_return_mean')).filter((v): v is number => v !== null);
  if (window.length === 0) return { value: null, reason: `no training episode finished in its last ${spec.k} iterations` };
  return { value: window.reduce((a, b) => a + b, 0) / window.length, iteration: last.iteration };
}
