/**
 * The scheme table: every scheme, its family (adam.ts, sgd.ts, rmsprop.ts), how it applies weight decay, and the
 * className it is registered under for tf.serialization (index.ts makes one class per row). Free of TensorFlow, so
 * the CLIs and the sweep can validate names without loading it. Update rules are written out in docs/optimizers.md;
 * in short, with g the effective gradient
 * (∇ℓ + λ_t·w for the -l2 schemes), t the 1-based step, α_t = α·η_t:
 *
 *   Adam     m ← m + (1−β1)(g − m);  v ← β2·v + (1−β2)·g²
 *            Δ = α_t·m̂/(√v̂ + ε)  with m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)     (PyTorch / optax: ε outside the sqrt)
 *            adam-separated adds, for d = λ_t·w in its own m', v':  Δ += α_t·m̂'/(√v̂' + ε)
 *            (its four buffers are stored as unnormalised sums: msum, vsum, wsum1, wsum2; see separatedStep)
 *   SGD      μ > 0: b ← μ·b + g; Δ = α_t·b      μ = 0: Δ = α_t·g          (PyTorch SGD, dampening 0, no Nesterov)
 *   RMSprop  ms ← ms + (1−ρ)(g² − ms); centered: mg ← mg + (1−ρ)(g − mg)
 *            inc = α_t·g / √(ms − mg² + ε)  (centered) or α_t·g / √(ms + ε)   (TensorFlow: ε inside the sqrt)
 *            μ > 0: mom ← μ·mom + inc; Δ = mom     μ = 0: Δ = inc
 *
 * and then w ← w − Δ, or for the decoupled schemes w ← w·(1 − c)^{s_t} − Δ. Where in the code each scheme's decay
 * acts: decay.ts's header.
 *
 * On the tensorflow backend every scheme runs TensorFlow's fused kernel for Δ and w − Δ on variables of rank ≥ 2
 * (ResourceApplyAdam, ResourceApplyMomentum, ResourceApplyGradientDescent, ResourceApplyRMSProp,
 * ResourceApplyCenteredRMSProp; adam-separated: its buffers as below, then ResourceApplyAdagradV2 for each
 * direction; fused.ts): the same rules, with TensorFlow's float32 rounding (it forms 1 − β from the float32 β, and
 * divides after multiplying by the step size). The composite ops are the reference, the path for biases and the
 * path on every other backend.
 */
import type { DecayKind, OptimizerFamily, OptimizerName } from './types.ts';

export interface Scheme {
  family: OptimizerFamily;
  decay: DecayKind;
  /** Registered with tf.serialization; unique, and never one of tfjs's own ('Adam', 'SGD', …). */
  className: string;
}

export const SCHEMES: Readonly<Record<OptimizerName, Scheme>> = {
  adam: { family: 'adam', decay: 'none', className: 'WdAdam' },
  'adam-l2': { family: 'adam', decay: 'l2', className: 'WdAdamL2' },
  adamw: { family: 'adam', decay: 'decoupled', className: 'WdAdamW' },
  'adam-separated': { family: 'adam', decay: 'separated', className: 'WdAdamSeparated' },
  sgd: { family: 'sgd', decay: 'none', className: 'WdSGD' },
  'sgd-l2': { family: 'sgd', decay: 'l2', className: 'WdSGDL2' },
  sgdw: { family: 'sgd', decay: 'decoupled', className: 'WdSGDW' },
  rmsprop: { family: 'rmsprop', decay: 'none', className: 'WdRMSprop' },
  'rmsprop-l2': { family: 'rmsprop', decay: 'l2', className: 'WdRMSpropL2' },
  rmspropw: { family: 'rmsprop', decay: 'decoupled', className: 'WdRMSpropW' },
};

/** Schemes without weight decay: λ means nothing to them (the paper's "orig" row is adam at λ = 0 only). */
export const NO_DECAY_SCHEMES: readonly OptimizerName[] = (Object.keys(SCHEMES) as OptimizerName[]).filter((n) => SCHEMES[n].decay === 'none');
