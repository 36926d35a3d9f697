// How much a decoupled scheme shrinks the weights over a whole run: the total decay factor ∏ (1 − c)^{s_k} over its
// gradient steps, with c = α·λ (lr-scaled) or λ (schedule-scaled) and s_k the λ schedule, and what float32 actually
// applies (appliedDecayFactor: one ulp a step at λ = 1e-3, more than intended; nothing below λ ≈ 4.8e-4). It depends
// on the number of updates, so the paper's λ decays far less in a short run: at λ = 1e-3 and Dopamine's α = 6.25e-5,
// 0.9980 over the reduced preset's ~23.7k updates against 0.356 over the paper's ~12.5M (0.9985 and 0.458 in exact
// arithmetic). L2 and separated schemes put λw inside Adam's normalisation, where it acts at once whatever the
// budget, so no such factor describes them. The per-step rule these sums are made of is the optimizer's
// (optim/decay.ts); this is planning: the forecast, --match-paper-decay, the presets' note and Table 1's caption.
import {
  decoupledCoefficient,
  decoupledFactor,
  decoupledStepVanishesInFloat32,
  float32Shrink,
  type DecoupledSettings,
} from '../optim/decay.ts';
import { isOptimizerName } from '../optim/options.ts';
import { SCHEMES } from '../optim/schemes.ts';
import { parseWeightDecaySchedule, type WeightDecaySchedule } from '../optim/schedule.ts';
import { PAPER_BUDGET } from '../paper.ts';

export interface BudgetShape {
  iterations: number;
  trainingSteps: number;
  minReplayHistory: number;
  updatePeriodSteps: number;
}

/**
 * Gradient steps a run of this budget takes: one every updatePeriodSteps agent steps once the replay holds more
 * than minReplayHistory transitions (Dopamine's rule). Training phases end on whole episodes, so a real run takes
 * a few more; its metrics' `updates` field has the exact count.
 */
export function plannedUpdates(b: BudgetShape): number {
  return Math.max(0, Math.floor((b.iterations * b.trainingSteps - b.minReplayHistory) / b.updatePeriodSteps));
}

export const PAPER_UPDATES = plannedUpdates(PAPER_BUDGET);

/** Σ s_k over the first `updates` steps of a schedule: the number of constant-decay steps' worth it applies. */
export function decaySteps(schedule: WeightDecaySchedule, updates: number): number {
  switch (schedule.kind) {
    case 'constant':
      return updates;
    case 'early':
      return Math.min(updates, schedule.steps);
    case 'late':
      return Math.max(0, updates - schedule.steps);
    case 'every':
      return schedule.steps * Math.floor(updates / schedule.steps);
  }
}

/**
 * The factor by which decoupled decay alone shrinks every weight over `updates` steps in exact arithmetic:
 * (1 − c)^{Σ s_k}. What float32 applies differs (appliedDecayFactor); --match-paper-decay scales λ by this one.
 */
export function totalDecayFactor(s: DecoupledSettings, updates: number): number {
  const c = decoupledCoefficient(s.convention, s.learningRate, 1, s.weightDecay);
  return Math.exp(decaySteps(s.schedule, updates) * Math.log1p(-c));
}

/** Log-uniform significands in [1, 2): the weights of a network spread over several binades (Benford's law). */
const SIGNIFICANDS = Array.from({ length: 64 }, (_, i) => 2 ** ((i + 0.5) / 64));

/**
 * The total decay factor float32 actually applies over `updates` steps: the geometric mean over log-uniform
 * significands of float32Shrink(w)/w (it depends on w only through its significand). At Dopamine's α and λ = 1e-3,
 * float32(1 − 6.25e-8) = 1 − 2^-24 takes exactly one ulp off a weight per step, 2^-23/s of it for significand s:
 * ~8.6e-8 per step on average, 38 % more than intended — 0.341 instead of 0.458 over the paper's 12.5M updates.
 * Below λ ≈ 4.8e-4 the factor rounds to 1 and nothing is applied (decoupledStepVanishesInFloat32).
 */
export function appliedDecayFactor(s: DecoupledSettings, updates: number): number {
  const c = decoupledCoefficient(s.convention, s.learningRate, 1, s.weightDecay);
  // every:K applies (1 − c)^K on every K-th step; the other schedules 1 − c on each decaying step.
  const perStep = decoupledFactor(c, s.schedule.kind === 'every' ? s.schedule.steps : 1);
  const steps = s.schedule.kind === 'every' ? decaySteps(s.schedule, updates) / s.schedule.steps : decaySteps(s.schedule, updates);
  const f = Math.fround(perStep);
  if (f >= 1 || steps === 0) return 1;
  const logs = SIGNIFICANDS.map((w) => Math.log(float32Shrink(w, f, steps) / Math.fround(w)));
  return Math.exp(logs.reduce((a, b) => a + b, 0) / logs.length);
}

/**
 * The decoupled settings of a run's optimizer config (config.agent.optimizer), or null for a scheme that is not
 * decoupled or a config that does not say enough.
 */
export function decoupledSettings(optimizer: Record<string, unknown> | undefined): DecoupledSettings | null {
  const name = optimizer?.name;
  if (!isOptimizerName(name) || SCHEMES[name].decay !== 'decoupled') return null;
  const { learningRate, weightDecay } = optimizer as { learningRate?: unknown; weightDecay?: unknown };
  if (typeof learningRate !== 'number' || typeof weightDecay !== 'number') return null;
  const convention = optimizer!.decoupledConvention === 'schedule-scaled' ? 'schedule-scaled' : 'lr-scaled';
  const scheduleText = typeof optimizer!.weightDecaySchedule === 'string' ? optimizer!.weightDecaySchedule : 'constant';
  return { learningRate, weightDecay, schedule: parseWeightDecaySchedule(scheduleText), convention };
}

/**
 * The λ that gives a run of `updates` steps the paper's total decoupled decay at the same α: ln(1 − c) scales by
 * PAPER_UPDATES / updates, i.e. c' = 1 − (1 − c)^(PAPER_UPDATES / updates). (To first order λ·PAPER_UPDATES/updates.)
 */
export function paperMatchedWeightDecay(s: DecoupledSettings, updates: number): number {
  if (updates <= 0) throw new Error('matching the paper\'s decay needs a budget with at least one update');
  const paperSteps = decaySteps(s.schedule, PAPER_UPDATES);
  const runSteps = decaySteps(s.schedule, updates);
  if (runSteps <= 0) throw new Error(`the λ schedule applies no decay within ${updates} updates, so no λ can match the paper's decay`);
  const c = decoupledCoefficient(s.convention, s.learningRate, 1, s.weightDecay);
  const matched = -Math.expm1((paperSteps / runSteps) * Math.log1p(-c));
  return s.convention === 'lr-scaled' ? matched / s.learningRate : matched;
}

/** The note said wherever a decay factor is, for a run whose decay step float32 loses. */
export const FLOAT32_NO_OP_NOTE = 'a float32 no-op: 1 − αλ rounds to 1, so this run computes exactly what orig does';

/** A total decay factor as printed: 4 decimals near 1 (where the difference is the point), else 3 digits. */
export function formatDecayFactor(f: number): string {
  return f > 0.99 ? f.toFixed(4) : f.toPrecision(3);
}

/**
 * The float32-applied factor, with the exact-arithmetic one beside it where the two differ when printed:
 * "0.9994 (exact arithmetic: 0.9996)".
 */
export function formatAppliedFactor(s: DecoupledSettings, updates: number): string {
  const applied = formatDecayFactor(appliedDecayFactor(s, updates));
  const exact = formatDecayFactor(totalDecayFactor(s, updates));
  return applied === exact ? applied : `${applied} (exact arithmetic: ${exact})`;
}

/** "decoupled λ=1e-3: total decay factor 0.9980 (exact arithmetic: 0.9985) over 23,750 updates here, 0.356 (…) at the paper's budget" */
export function describeDecayBudget(label: string, s: DecoupledSettings, updates: number): string {
  const noOp = decoupledStepVanishesInFloat32(s) ? `; ${FLOAT32_NO_OP_NOTE}` : '';
  return `${label}: total decay factor ${formatAppliedFactor(s, updates)} over ${updates.toLocaleString('en-US')} updates here, ` +
    `${formatAppliedFactor(s, PAPER_UPDATES)} at the paper's budget (${PAPER_UPDATES.toLocaleString('en-US')} updates)${noOp}`;
}
