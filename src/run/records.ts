// The records a training run appends: metrics.jsonl's line per iteration (what the loop counted, the returns'
// means and spreads, rates and times) and diagnostics.jsonl's line every diagnosticsEvery agent steps, both with the
// weights' norm and the optimizer's buffers (RUN_FILES describes each field). The loop gathers the numbers; the
// field names and what they are computed from live here.
import type { OptimizerDiagnostics } from '../optim/types.ts';
import type { MetricsRecord } from './run_directory.ts';
import type { IterationProgress } from './run_state.ts';

/**
 * diagnostics.jsonl gets a record every this many agent steps by default: 50 an iteration, at least 1,000 steps
 * apart (dopamine preset: every 5,000 steps; reduced: 1,000). A record reads every weight and buffer back (~0.1 s
 * on the dopamine network), so this costs well under 1 % of a run; a per-iteration record alone (2 points in a
 * 2-iteration run) could not show how fast ‖w‖ shrinks before it settles.
 */
export function defaultDiagnosticsEvery(trainingSteps: number): number {
  return Math.max(1000, Math.floor(trainingSteps / 50));
}

function mean(xs: readonly number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

function std(xs: readonly number[]): number | null {
  const m = mean(xs);
  return m === null ? null : Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}

/** The weights and the optimizer's buffers as metrics.jsonl and diagnostics.jsonl record them. */
export function stateFields(weightNorm: number, d: OptimizerDiagnostics): Record<string, unknown> {
  return {
    weight_norm: weightNorm,
    decayed_weight_norm: d.step > 0 ? d.decayedWeightNorm : null,
    eps_dominated_share: d.epsDominatedShare,
    eps_dominated_share_wd: d.epsDominatedShareWd,
    sqrt_vhat_over_eps_log10: d.sqrtVHatOverEpsLog10,
    m_over_w_log10: d.momentToWeightLog10,
    moment_wd_share: d.momentWdShare,
    wd_to_grad_median: d.wdToGradMedian,
    update_norm_ratio: d.updateNormRatio,
  };
}

/** What an iteration's metrics line is made of. */
export interface IterationNumbers {
  iteration: number;
  envSteps: number;
  progress: IterationProgress;
  evaluation: { returns: number[]; steps: number; seconds: number } | null;
  updates: number;
  epsilon: number;
  iterationSeconds: number;
  wallSeconds: number;
  weightNorm: number;
  diagnostics: OptimizerDiagnostics;
}

/** An iteration's metrics.jsonl line. */
export function metricsRecord(n: IterationNumbers): MetricsRecord {
  const { progress: p, evaluation, diagnostics: d } = n;
  return {
    iteration: n.iteration,
    env_steps: n.envSteps,
    train_episodes: p.trainReturns.length,
    train_return_mean: mean(p.trainReturns),
    train_return_std: std(p.trainReturns),
    eval_episodes: evaluation ? evaluation.returns.length : null,
    eval_return_mean: evaluation ? mean(evaluation.returns) : null,
    eval_return_std: evaluation ? std(evaluation.returns) : null,
    loss_mean: p.lossCount ? p.lossSum / p.lossCount : null,
    updates: n.updates,
    epsilon: n.epsilon,
    sps: p.trainSeconds > 0 ? p.trainSteps / p.trainSeconds : null,
    eval_sps: evaluation ? evaluation.steps / evaluation.seconds : null,
    iteration_seconds: n.iterationSeconds,
    wall_seconds: n.wallSeconds,
    ...stateFields(n.weightNorm, d),
    wd_to_grad_norm_ratio: d.wdToGradNormRatio,
    moment_wd_to_grad_median: d.momentWdToGradMedian,
    moment_wd_to_grad_norm_ratio: d.momentWdToGradNormRatio,
    emulator_restarts: p.restarts,
  };
}
