/**
 * The weight-decay rule, the one place it is written: λ_t under its schedule, which variables decay, the L2 term, the
 * decoupled shrink with its two conventions, and what float32 makes of that shrink. Where each scheme's decay acts:
 *
 *   none       adam, sgd, rmsprop: nowhere (λ must be 0: options.ts).
 *   l2         adam-l2, sgd-l2, rmsprop-l2: effectiveGradient, before the family's step, so the step — composite or
 *              fused — sees g = ∇ℓ + λ_t·w in every buffer. base.ts's applyGradients calls it once for both paths.
 *   decoupled  adamw, sgdw, rmspropw: decoupledShrink, w ← w·(1 − c)^{s_k} − Δ. base.ts calls it on both paths: the
 *              composite subtraction starts from it, and so does the fused kernel, which updates it in place.
 *   separated  adam-separated: λ_t comes from here (decayStep); the direction it takes, Adam on d = λ_t·w in buffers of
 *              its own, is Adam's and lives in adam.ts (separatedDecayBuffers, separatedStep, the second kernel of
 *              fusedKernel).
 *
 * The per-step numbers come from decayStep (base.ts's stepInfo). run/decay_budget.ts sums them over a run's budget.
 * Nothing here loads TensorFlow (only its types are imported): the run planning and the analysis use these numbers
 * without it, so the two tensor steps call the tensors' own methods, which run the same kernels as tf.mul and tf.add.
 */
import type * as tf from '../tf.ts';
import { decayMultiplier, type WeightDecaySchedule } from './schedule.ts';
import type { DecayFilter, DecayKind, DecoupledConvention } from './types.ts';

/** What the rule reads of an optimizer's options (options.ts's ResolvedOptions has them all). */
export interface DecayOptions {
  weightDecay: number;
  schedule: WeightDecaySchedule;
  decayFilter: DecayFilter;
  decoupledConvention: DecoupledConvention;
  learningRate: number;
  scheduleMultiplier: number;
}

/** The weight decay of one step, as numbers. */
export interface DecayStep {
  /** s_k, the schedule multiplier (0 for the schemes without decay). */
  multiplier: number;
  /** λ_t = λ·s_k fed as WD signal (l2: added to the gradient; separated: d = λ_t·w); 0 for none/decoupled. */
  l2Lambda: number;
  /** Decoupled schemes: (1 − c)^{s_k}, with c from the decoupled convention; 1 otherwise. */
  decayFactor: number;
}

/** The decay of step k (0-based) for a scheme that decays the `kind` way; a pure function of k and the options. */
export function decayStep(kind: DecayKind, o: DecayOptions, stepIndex: number): DecayStep {
  const multiplier = kind === 'none' ? 0 : decayMultiplier(o.schedule, stepIndex);
  let l2Lambda = 0;
  let decayFactor = 1;
  if (kind === 'l2' || kind === 'separated') {
    l2Lambda = o.weightDecay * multiplier;
  } else if (kind === 'decoupled' && multiplier > 0) {
    const c = decoupledCoefficient(o.decoupledConvention, o.learningRate, o.scheduleMultiplier, o.weightDecay);
    decayFactor = decoupledFactor(c, multiplier);
  }
  return { multiplier, l2Lambda, decayFactor };
}

/**
 * The per-step decoupled decay coefficient c (before the schedule exponent), in either convention (types.ts,
 * DecoupledConvention): lr-scaled c = α·η_t·λ (the paper's text, PyTorch's AdamW), schedule-scaled c = η_t·λ
 * (Loshchilov & Hutter).
 */
export function decoupledCoefficient(
  convention: DecoupledConvention,
  learningRate: number,
  scheduleMultiplier: number,
  weightDecay: number,
): number {
  return convention === 'lr-scaled'
    ? learningRate * scheduleMultiplier * weightDecay
    : scheduleMultiplier * weightDecay;
}

/** (1 − c)^s, the factor a decoupled step multiplies the weights by (s = K on the decaying steps of every:K). */
export function decoupledFactor(c: number, multiplier: number): number {
  return multiplier === 1 ? 1 - c : Math.pow(1 - c, multiplier);
}

/** Whether λ applies to a variable of this shape: the scheme decays, and the decay filter selects it ('no-bias' skips rank ≤ 1). */
export function variableDecays(kind: DecayKind, filter: DecayFilter, shape: readonly number[]): boolean {
  if (kind === 'none') return false;
  return filter === 'all' || shape.length >= 2;
}

/**
 * The gradient a scheme's step sees: for the L2 schemes, when λ_t > 0 for this variable (`wd`, else null), ∇ℓ + λ_t·w,
 * with the penalty λ_t·w itself (adam-l2's m_wd tracks it); both are new tensors the caller frees after the step.
 * Otherwise `grad` itself and no penalty.
 */
export function effectiveGradient(kind: DecayKind, grad: tf.Tensor, w: tf.Tensor, wd: tf.Scalar | null): { g: tf.Tensor; penalty: tf.Tensor | null } {
  if (kind !== 'l2' || wd === null) return { g: grad, penalty: null };
  const penalty = w.mul(wd);
  return { g: grad.add(penalty), penalty };
}

/**
 * The weights a step Δ is taken from: w·(1 − c)^{s_k} for a decoupled scheme's variable that decays this step
 * (`factor`, else null), a new tensor the caller frees; otherwise w itself.
 */
export function decoupledShrink(w: tf.Tensor, factor: tf.Scalar | null): tf.Tensor {
  return factor === null ? w : w.mul(factor);
}

/** A decoupled scheme's decay settings at η_t = 1: what a run's config fixes. */
export interface DecoupledSettings {
  learningRate: number;
  weightDecay: number;
  schedule: WeightDecaySchedule;
  convention: DecoupledConvention;
}

/**
 * Whether one step's decoupled decay is lost to float32, the weights' precision: the step multiplies every weight by
 * float32(1 − c), which is exactly 1 for c < 2^-25 (≈ 2.98e-8), leaving the weights, and the whole run, bit for bit
 * those of orig. PyTorch's AdamW (p.mul_(1 − αλ)) does the same. At Dopamine's α = 6.25e-5 that is every lr-scaled
 * λ below ~4.8e-4, including the paper's decoupled rows at 1e-4 and 1e-5, at any budget. (every:K schedules apply
 * (1 − c)^K at once and are not flagged.)
 */
export function decoupledStepVanishesInFloat32(s: DecoupledSettings): boolean {
  if (s.schedule.kind === 'every') return false;
  const c = decoupledCoefficient(s.convention, s.learningRate, 1, s.weightDecay);
  return c > 0 && Math.fround(1 - c) === 1;
}

/**
 * A weight w after n decoupled steps w ← float32(w·f), f a float32 factor below 1: what the optimizer does to each
 * weight (both code paths multiply the weights by the float32 scalar f before the family's step, decoupledShrink).
 * Bit-exact, in O(binades crossed × distinct roundings) instead of O(n): inside one binade [2^e, 2^(e+1)) the product
 * loses round(w·(1 − f)/ulp) ulps, the same count over long stretches, which are taken at once. A weight whose
 * product rounds back to itself stops decaying (a fixed point).
 */
export function float32Shrink(w0: number, f: number, n: number): number {
  const delta = 1 - f; // exact: f is a float32 in (0.5, 1)
  let w = Math.fround(Math.abs(w0));
  let k = 0;
  while (k < n && w > 0) {
    const next = Math.fround(w * f); // a float32 product: exact in a double, then rounded to nearest even
    const d = w - next;
    if (d === 0) break;
    let e = Math.floor(Math.log2(w));
    if (2 ** e > w) e--;
    else if (2 ** (e + 1) <= w) e++;
    const low = 2 ** e;
    const ulp = 2 ** (e - 23);
    const j = d / ulp; // ulps lost, while the result stays in w's binade
    // Steps from w, w − d, w − 2d, … all lose j ulps while the result stays ≥ low and w'·δ/ulp stays above j − ½
    // (one ulp of margin keeps ties, the only place round-to-even matters, for single steps).
    const floor = Math.max(low + d, ((j - 0.5) * ulp) / delta) + ulp;
    const m = w - d >= low && w > floor ? Math.min(n - k, Math.floor((w - floor) / d) + 1) : 1;
    w = m === 1 ? next : w - m * d;
    k += m;
  }
  return w;
}
