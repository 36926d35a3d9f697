/**
 * Types of the pluggable optimizer module (see docs/optimizers.md for the update rules): the public ones, then the
 * per-variable state and buffer layout that base.ts keeps and diagnostics.ts reads.
 */
import type * as tf from '../tf.ts';

/** Every optimizer scheme, in the order the CLI, sweeps and tables list them. */
export const optimizerNames = [
  'adam',
  'adam-l2',
  'adamw',
  'adam-separated',
  'sgd',
  'sgd-l2',
  'sgdw',
  'rmsprop',
  'rmsprop-l2',
  'rmspropw',
] as const;

export type OptimizerName = (typeof optimizerNames)[number];

/** Base algorithm of a scheme. */
export type OptimizerFamily = 'adam' | 'sgd' | 'rmsprop';

/**
 * How a scheme applies weight decay:
 * - `none`: no weight decay (λ must be 0);
 * - `l2`: g ← ∇ℓ + λ_t·w enters every buffer (coupled, "L2 inside the optimizer");
 * - `decoupled`: w ← w·(1 − c)^{s_t} − step, the decay never enters a buffer;
 * - `separated` (Adam only): the WD signal d = λ_t·w gets its own Adam buffers m', v'.
 */
export type DecayKind = 'none' | 'l2' | 'decoupled' | 'separated';

/**
 * The two conventions for decoupled weight decay (adamw, sgdw, rmspropw):
 * - `lr-scaled` (default): c = α·η_t·λ, i.e. w ← w − α·λ·w per step. This is the paper's text ("decays the weights
 *   by (1 − αλ)") and PyTorch's AdamW (`param.mul_(1 - lr * weight_decay)`) / optax.adamw.
 * - `schedule-scaled`: c = η_t·λ, i.e. w ← w − η_t·λ·w, Loshchilov & Hutter, "Decoupled Weight Decay
 *   Regularization", Algorithms 1 and 2, where η_t is the schedule multiplier (not the learning rate α).
 * The two agree when λ_schedule-scaled = α·λ_lr-scaled.
 */
export type DecoupledConvention = 'lr-scaled' | 'schedule-scaled';

/** Which variables decay: `all` (default) or `no-bias` (skip rank-0/rank-1 variables: biases, norms' scales). */
export type DecayFilter = 'all' | 'no-bias';

export interface OptimizerOptions {
  /** α, the step size. Required; finite and > 0. */
  learningRate: number;
  /** λ ≥ 0, finite. Must be 0 (or absent) for the schemes without weight decay (adam, sgd, rmsprop). Default 0. */
  weightDecay?: number;
  /** Adam β1 ∈ [0, 1). Default 0.9. */
  beta1?: number;
  /** Adam β2 ∈ [0, 1). Default 0.999. */
  beta2?: number;
  /**
   * ε > 0. Adam: outside the square root of the bias-corrected v̂ (PyTorch/optax), default 1e-8.
   * RMSprop: inside the square root (TensorFlow), default 1e-7.
   */
  epsilon?: number;
  /** Momentum μ ∈ [0, 1) for SGD (PyTorch convention) and RMSprop (TensorFlow convention). Default 0. */
  momentum?: number;
  /** RMSprop decay ρ ∈ [0, 1) of the mean square (TF `rho`/`decay`, PyTorch `alpha`). Default 0.9. */
  rho?: number;
  /** Centered RMSprop: denominator √(ms − mg² + ε), exactly TensorFlow's ApplyCenteredRMSProp. Default false. */
  centered?: boolean;
  /**
   * Initial value of RMSprop's mean-square slot `ms`. 0 (default) as in Keras, PyTorch and tfjs; TF1's
   * tf.compat.v1.train.RMSPropOptimizer — the one Dopamine's TF DQN constructs — starts it at 1.
   */
  initialMeanSquare?: number;
  /** Decoupled schemes only. Default `lr-scaled`. */
  decoupledConvention?: DecoupledConvention;
  /** λ schedule: `constant` (default), `early:T`, `late:T`, or `every:K` (decoupled schemes only). */
  weightDecaySchedule?: string;
  /** Default `all`. */
  decayFilter?: DecayFilter;
  /**
   * η_t, the schedule multiplier of Loshchilov & Hutter: scales the gradient step (α·η_t) and the decoupled decay in
   * both conventions. Default 1; change it during training with `setScheduleMultiplier`.
   */
  scheduleMultiplier?: number;
  /**
   * Keep references to the last step's gradient and pre-step weights (no copies, no extra kernels) — and, for
   * adam-l2, a buffer splitting m into its gradient and WD parts (3 extra kernels per variable) — so `diagnostics()`
   * can report the last-step and WD-share fields. Default false (those fields are then null).
   */
  trackLastStep?: boolean;
}

/** The 5/25/50/75/95 % quantiles of a sample (linear interpolation between order statistics, as numpy's default). */
export interface Quantiles {
  p5: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
  /** Number of elements the quantiles were taken over. */
  count: number;
}

/**
 * Buffer diagnostics (the paper's Figure 7 and weight-norm figures), as plain numbers for logging. Fields that need
 * state the optimizer does not have (no step yet, `trackLastStep` off, a scheme without that buffer) are null.
 */
export interface OptimizerDiagnostics {
  scheme: OptimizerName;
  /** Steps taken so far (the tfjs `iterations` counter). */
  step: number;
  /** Schedule multiplier s_t of the last step (0 or 1; K on the decaying steps of every:K), null before any step. */
  lastDecayMultiplier: number | null;
  /** Global ‖w‖₂ over every variable this optimizer has updated. */
  weightNorm: number;
  /** ‖w‖₂ per variable name. */
  weightNorms: Record<string, number>;
  /** ‖w‖₂ over the variables that decay (the decay filter's selection). */
  decayedWeightNorm: number;
  /**
   * Quantiles of log10(|m_i| / |w_i|) over all weights, m being the raw (not bias-corrected) first-moment buffer:
   * Adam's m, SGD's momentum buffer (if momentum > 0), centered RMSprop's mg; null for schemes without one.
   * Elements where m_i = 0 or w_i = 0 are left out.
   */
  momentToWeightLog10: Quantiles | null;
  /**
   * Last step, over decaying variables: median over elements of |λ_t·w_i| / |∇ℓ_i| (elements with ∇ℓ_i = 0 or
   * w_i = 0 left out), with λ_t = λ·s_t (0 on steps the schedule switches decay off). Needs trackLastStep.
   */
  wdToGradMedian: number | null;
  /** Last step: ‖λ_t·w‖ / ‖∇ℓ‖ over decaying variables. Needs trackLastStep. */
  wdToGradNormRatio: number | null;
  /**
   * How much of the first-moment buffer comes from the WD term versus the gradient: median over elements of
   * |m_wd,i| / |m_grad,i|. adam-l2 (needs trackLastStep): m = m_grad + m_wd exactly, m_wd being the EMA of λ_t·w.
   * adam-separated: m_wd = m' and m_grad = m. Null otherwise.
   */
  momentWdToGradMedian: number | null;
  /** ‖m_wd‖ / ‖m_grad‖ (same sources as momentWdToGradMedian). */
  momentWdToGradNormRatio: number | null;
  /**
   * The WD share of the first-moment buffer, quantiles over weights of |m_wd,i| / (|m_wd,i| + |m_grad,i|) in
   * [0, 1] (1: the WD term fills m; the paper's eq. 6 for Adam+L2). Same sources as momentWdToGradMedian; elements
   * with both parts 0 left out. Decoupled schemes keep WD out of m: their share is 0 by construction (null here).
   */
  momentWdShare: Quantiles | null;
  /**
   * ε-dominance of Adam's denominator: the share of weights whose √v̂_i < ε, v̂ being the bias-corrected second
   * moment of the gradient. Where √v̂ ≪ ε the step is ≈ α·m̂/ε — momentum SGD with step α/ε — so a λ·w term in a
   * buffer normalised this way shrinks w by ≈ α·λ/ε per update (issue 19). Adam family only (adam-separated: its
   * gradient buffers); null for the other families and before the first step. On the fused path v is stored as κ·v,
   * κ = 1 − 1.3e-5 (adam.ts, adamKernelScale): immaterial for a share.
   */
  epsDominatedShare: number | null;
  /** adam-separated with λ > 0, over decaying weights: the same share for its weight-decay buffers (√v̂'_i < ε). */
  epsDominatedShareWd: number | null;
  /** Quantiles over weights of log10(√v̂_i / ε) (the gradient buffers; weights with v_i = 0 left out). */
  sqrtVHatOverEpsLog10: Quantiles | null;
  /** Last step: ‖Δw‖ / ‖w_before‖ globally. Needs trackLastStep. */
  updateNormRatio: number | null;
  /** Last step: ‖Δw‖ / ‖w_before‖ per variable. Needs trackLastStep. */
  updateNormRatios: Record<string, number> | null;
}

/** Per-variable optimizer state. */
export interface VariableState {
  /** Whether λ applies to this variable (scheme decays and the decay filter selects it). */
  readonly decays: boolean;
  readonly slots: Map<string, tf.Variable>;
  /** trackLastStep: the last gradient and the weights before the last step (zero-copy references). */
  lastGrad: tf.Tensor | null;
  lastWeight: tf.Tensor | null;
  /** Fused path: the resource variables the kernel updates (weights, then FusedKernel.buffers), made on first use. */
  resources: { weight: tf.Tensor; buffers: tf.Tensor[] } | null;
}

/**
 * Where the diagnostics find Adam's second moments: v̂_i = scale·slot_i/(1 − β2^t) for the gradient buffer and, for
 * adam-separated, its weight-decay buffer; ε is the denominator's constant (issue 19's ε-dominance).
 */
export type SecondMoments = {
  epsilon: number;
  beta2: number;
  grad: { slot: string; scale: number };
  wd: { slot: string; scale: number } | null;
} | null;

/** Where the diagnostics find the WD share of the first moment. */
export type MomentSplit = {
  /** Slot holding the WD part, in units of m after multiplying by wdScale. */
  wd: string;
  wdScale: number;
  /** l2-split: slot holding m = m_grad + m_wd; separate: slot holding m_grad (times totalScale). */
  total: string;
  totalScale: number;
  mode: 'l2-split' | 'separate';
} | null;
