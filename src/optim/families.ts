/**
 * The three optimizer families and the ten scheme classes (one per scheme, each with its own static className for
 * tf.serialization). Update rules are written out in docs/optimizers.md; in short, with g the effective gradient
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
 * and then w ← w − Δ, or for the decoupled schemes w ← w·(1 − c)^{s_t} − Δ.
 *
 * On the tensorflow backend every scheme runs TensorFlow's fused kernel for Δ and w − Δ on variables of rank ≥ 2
 * (ResourceApplyAdam, ResourceApplyMomentum, ResourceApplyGradientDescent, ResourceApplyRMSProp,
 * ResourceApplyCenteredRMSProp; adam-separated: its buffers as below, then ResourceApplyAdagradV2 for each
 * direction; fused.ts): the same rules, with TensorFlow's float32 rounding (it forms 1 − β from the float32 β, and
 * divides after multiplying by the step size). The composite ops below are the reference, the path for biases and
 * the path on every other backend.
 */
import * as tf from '../tf.ts';

import { free, WeightDecayOptimizer, type FusedKernel, type MomentSplit, type SlotSpec, type StepInfo } from './base.ts';
import { applyKernel, noNesterov, noSlotUpdate, readResource } from './fused.ts';
import type { OptimizerName, OptimizerOptions } from './types.ts';

/** slot ← slot + (x − slot)·oneMinus  (x = null means x = 0: slot ← slot·keep). Returns the new value. */
function lerpInto(slotVar: tf.Variable, x: tf.Tensor | null, oneMinus: tf.Scalar, keep: tf.Scalar): tf.Tensor {
  let next: tf.Tensor;
  if (x === null) {
    next = tf.mul(slotVar, keep);
  } else {
    const diff = tf.sub(x, slotVar);
    const scaled = free(tf.mul(diff, oneMinus), diff);
    next = free(tf.add(slotVar, scaled), scaled);
  }
  slotVar.assign(next);
  return next;
}

/** slot ← slot·keep + x²·oneMinus  (x = null means x = 0). Returns the new value. */
function emaSquareInto(slotVar: tf.Variable, x: tf.Tensor | null, oneMinus: tf.Scalar, keep: tf.Scalar): tf.Tensor {
  const decayed = tf.mul(slotVar, keep);
  let next = decayed;
  if (x !== null) {
    const sq = tf.square(x);
    const scaled = free(tf.mul(sq, oneMinus), sq);
    next = free(tf.add(decayed, scaled), decayed, scaled);
  }
  slotVar.assign(next);
  return next;
}

/** m / (√v + ε̂) */
function adamDirection(m: tf.Tensor, v: tf.Tensor, epsHat: tf.Scalar): tf.Tensor {
  const root = tf.sqrt(v);
  const denominator = free(tf.add(root, epsHat), root);
  return free(tf.div(m, denominator), denominator);
}

function slot(slots: Map<string, tf.Variable>, name: string): tf.Variable {
  const v = slots.get(name);
  if (v === undefined) throw new Error(`internal error: missing slot '${name}'`);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Adam family: adam, adam-l2, adamw, adam-separated

interface AdamScalars {
  beta1: tf.Scalar;
  oneMinusBeta1: tf.Scalar;
  beta2: tf.Scalar;
  oneMinusBeta2: tf.Scalar;
  /**
   * adam, adam-l2, adamw: ε·√(1 − β2^t), since m̂/(√v̂ + ε) = (√(1−β2^t)/(1−β1^t))·m/(√v + ε·√(1−β2^t)).
   * adam-separated: ε·√(1 − β2^t)/√(1 − β2) (its buffers are unnormalised sums, see computeStep).
   */
  epsHat: tf.Scalar;
  /** α_t·√(1 − β2^t)/(1 − β1^t), times (1 − β1)/√(1 − β2) for adam-separated. */
  stepSize: tf.Scalar;
  /** adam-separated with λ > 0: epsHat/λ. */
  separatedEps: tf.Scalar | null;
  /** Inputs of TensorFlow's ResourceApplyAdam (fused path only), see fusedKernel. */
  fused: { zero: tf.Scalar; stepSize: tf.Scalar; epsilon: tf.Scalar; oneMinusBeta1: tf.Scalar } | null;
}

/**
 * ResourceApplyAdam computes v ← v + (g² − v)·(1 − β2) with 1 − β2 formed in float32 from the float32 β2, where
 * PyTorch (and computeStep) weight g² by float32(1 − β2): for β2 = 0.999 the two weights differ by 1.3e-5
 * (0.99998713), because float32(0.999) is off by 1.3e-8. Both decay v by the same float32(β2), so the kernel's v is
 * exactly κ times PyTorch's, κ = (1 − f(β2))/f(1 − β2); scaling the kernel's step size and ε by √κ gives the same
 * step: α·m/(√(κv) + √κ·ε) = α·m/(√v + ε)·1/√κ, times √κ. (m needs nothing: 1 − β1 is only used as the EMA's
 * weight, and both forms are then exact EMAs, differing in β1 by ~2e-8.) The kernel's v slot is κ·v.
 */
export function adamKernelScale(beta2: number): number {
  const f = Math.fround;
  return Math.sqrt(f(1 - f(beta2)) / f(1 - beta2));
}

export abstract class AdamFamilyOptimizer extends WeightDecayOptimizer<AdamScalars> {
  protected override slotOrder(): readonly string[] {
    return this.decay === 'separated' ? ['msum', 'vsum', 'wsum1', 'wsum2'] : ['m', 'v', 'm_wd'];
  }

  protected override slotSpecs(decays: boolean): SlotSpec[] {
    if (this.decay === 'separated') {
      const specs: SlotSpec[] = [
        { name: 'msum', init: 0 },
        { name: 'vsum', init: 0 },
      ];
      if (decays && this.opts.weightDecay > 0) specs.push({ name: 'wsum1', init: 0 }, { name: 'wsum2', init: 0 });
      return specs;
    }
    const specs: SlotSpec[] = [
      { name: 'm', init: 0 },
      { name: 'v', init: 0 },
    ];
    if (decays && this.decay === 'l2' && this.opts.trackLastStep) specs.push({ name: 'm_wd', init: 0 });
    return specs;
  }

  protected override prepareStep(info: StepInfo, fused: boolean): AdamScalars {
    const { beta1, beta2, epsilon, weightDecay } = this.opts;
    const bc1 = 1 - Math.pow(beta1, info.t);
    const sqrtBc2 = Math.sqrt(1 - Math.pow(beta2, info.t));
    const scalars = {
      beta1: tf.scalar(beta1),
      oneMinusBeta1: tf.scalar(1 - beta1),
      beta2: tf.scalar(beta2),
      oneMinusBeta2: tf.scalar(1 - beta2),
      separatedEps: null,
    };
    if (this.decay !== 'separated') {
      const epsHat = epsilon * sqrtBc2;
      const stepSize = (info.stepSize * sqrtBc2) / bc1;
      const k = fused ? adamKernelScale(beta2) : 1;
      return {
        ...scalars,
        epsHat: tf.scalar(epsHat),
        stepSize: tf.scalar(stepSize),
        // β1^t and β2^t are passed as 0 so the kernel's own bias correction is 1: the step size above has it.
        fused: fused
          ? {
            zero: tf.scalar(0),
            stepSize: tf.scalar(stepSize * k),
            epsilon: tf.scalar(epsHat * k),
            oneMinusBeta1: tf.scalar(Math.fround(1 - Math.fround(beta1))),
          }
          : null,
      };
    }
    const sqrtOneMinusBeta2 = Math.sqrt(1 - beta2);
    const epsHat = (epsilon * sqrtBc2) / sqrtOneMinusBeta2;
    return {
      ...scalars,
      epsHat: tf.scalar(epsHat),
      stepSize: tf.scalar((info.stepSize * sqrtBc2 * (1 - beta1)) / (bc1 * sqrtOneMinusBeta2)),
      separatedEps: weightDecay > 0 ? tf.scalar(epsHat / weightDecay) : null,
      fused: null,
    };
  }

  /**
   * adam, adam-l2, adamw: ResourceApplyAdam. adam-separated keeps its buffers as unnormalised sums, which no
   * TensorFlow kernel updates, so beforeFusedStep updates them with the composite ops and ResourceApplyAdagradV2
   * (update_slots off: w ← w − lr·x/(√a + ε)) applies each of its two Adam directions in one pass:
   * w ← w − K·msum/(√vsum + ε̃), then w ← w − K·wsum1/(√wsum2 + ε̃/λ).
   */
  protected override fusedKernel(decays: boolean): FusedKernel<AdamScalars> | null {
    if (this.decay === 'separated') {
      const wdBuffers = decays && this.opts.weightDecay > 0;
      return {
        buffers: wdBuffers ? ['msum', 'vsum', 'wsum1', 'wsum2'] : ['msum', 'vsum'],
        run: (w, [msum, vsum, wsum1, wsum2], _g, s) => {
          applyKernel('ResourceApplyAdagradV2', [w, vsum, s.stepSize, s.epsHat, readResource(msum)], [noSlotUpdate()]);
          if (wdBuffers) {
            applyKernel('ResourceApplyAdagradV2', [w, wsum2, s.stepSize, s.separatedEps!, readResource(wsum1)], [noSlotUpdate()]);
          }
        },
      };
    }
    return {
      buffers: ['m', 'v'],
      run: (w, [m, v], g, s) => {
        const f = s.fused!;
        applyKernel('ResourceApplyAdam', [w, m, v, f.zero, f.zero, f.stepSize, s.beta1, s.beta2, f.epsilon, g], [noNesterov()]);
      },
    };
  }

  /**
   * adam-separated: its four buffers, as in separatedStep. adam-l2 + trackLastStep: m_wd, the EMA of λ_t·w with the
   * kernel's weight 1 − β1. Both before w changes.
   */
  protected override beforeFusedStep(
    w: tf.Variable,
    g: tf.Tensor,
    penalty: tf.Tensor | null,
    slots: Map<string, tf.Variable>,
    decays: boolean,
    wd: tf.Scalar | null,
    s: AdamScalars,
  ): void {
    if (this.decay === 'separated') {
      // The slot Variables keep the new values; letting go of these handles leaves them the buffers' only owners.
      const { mNew, vNew, pNew, qNew } = this.separatedBuffers(w, g, slots, decays, wd, s);
      tf.dispose([mNew, vNew, ...(pNew === null ? [] : [pNew]), ...(qNew === null ? [] : [qNew])]);
      return;
    }
    const mWd = decays && this.decay === 'l2' ? slots.get('m_wd') : undefined;
    // penalty = λ_t·w, already computed for the effective gradient (null when λ_t = 0 this step).
    if (mWd !== undefined) lerpInto(mWd, penalty, s.fused!.oneMinusBeta1, s.beta1);
  }

  protected override computeStep(
    w: tf.Variable,
    g: tf.Tensor,
    slots: Map<string, tf.Variable>,
    decays: boolean,
    wd: tf.Scalar | null,
    s: AdamScalars,
  ): tf.Tensor {
    if (this.decay === 'separated') return this.separatedStep(w, g, slots, decays, wd, s);
    const mNew = lerpInto(slot(slots, 'm'), g, s.oneMinusBeta1, s.beta1);
    const vNew = emaSquareInto(slot(slots, 'v'), g, s.oneMinusBeta2, s.beta2);
    const direction = adamDirection(mNew, vNew, s.epsHat);
    if (decays && this.decay === 'l2') {
      // Diagnostics only (trackLastStep): m_wd, the part of m that comes from λ_t·w (m − m_wd is the EMA of ∇ℓ).
      const mWd = slots.get('m_wd');
      if (mWd !== undefined) {
        const d = wd === null ? null : tf.mul(w, wd);
        lerpInto(mWd, d, s.oneMinusBeta1, s.beta1);
        d?.dispose();
      }
    }
    return free(tf.mul(direction, s.stepSize), direction);
  }

  /**
   * adam-separated: Adam on g in m, v plus Adam on d = λ_t·w in m', v', summed. The buffers are kept as unnormalised
   * sums — msum = m/(1−β1), vsum = v/(1−β2), wsum1 = m'/(λ(1−β1)), wsum2 = v'/(λ²(1−β2)), i.e.
   *   msum ← β1·msum + g,  vsum ← β2·vsum + g²,  wsum1 ← β1·wsum1 + s·w,  wsum2 ← β2·wsum2 + s·w²  (s ∈ {0, 1})
   * — which gives the same update with three kernels fewer per variable (19 instead of 22):
   *   m̂/(√v̂ + ε) + m̂'/(√v̂' + ε) = K·( msum/(√vsum + ε̃) + wsum1/(√wsum2 + ε̃/λ) ),
   *   K = (1−β1)·√(1−β2^t)/((1−β1^t)·√(1−β2)),  ε̃ = ε·√(1−β2^t)/√(1−β2).
   */
  private separatedStep(
    w: tf.Variable,
    g: tf.Tensor,
    slots: Map<string, tf.Variable>,
    decays: boolean,
    wd: tf.Scalar | null,
    s: AdamScalars,
  ): tf.Tensor {
    const { mNew, vNew, pNew, qNew } = this.separatedBuffers(w, g, slots, decays, wd, s);
    let direction = adamDirection(mNew, vNew, s.epsHat);
    if (pNew !== null && qNew !== null) {
      const wdDirection = adamDirection(pNew, qNew, s.separatedEps!);
      direction = free(tf.add(direction, wdDirection), direction, wdDirection);
    }
    return free(tf.mul(direction, s.stepSize), direction);
  }

  /** adam-separated's buffer updates (msum, vsum; wsum1, wsum2 when the variable has them); returns the new values. */
  private separatedBuffers(
    w: tf.Variable,
    g: tf.Tensor,
    slots: Map<string, tf.Variable>,
    decays: boolean,
    wd: tf.Scalar | null,
    s: AdamScalars,
  ): { mNew: tf.Tensor; vNew: tf.Tensor; pNew: tf.Tensor | null; qNew: tf.Tensor | null } {
    const mSum = slot(slots, 'msum');
    const mDecayed = tf.mul(mSum, s.beta1);
    const mNew = free(tf.add(mDecayed, g), mDecayed);
    mSum.assign(mNew);
    const vSum = slot(slots, 'vsum');
    const vDecayed = tf.mul(vSum, s.beta2);
    const g2 = tf.square(g);
    const vNew = free(tf.add(vDecayed, g2), vDecayed, g2);
    vSum.assign(vNew);
    if (!decays || s.separatedEps === null) return { mNew, vNew, pNew: null, qNew: null };
    const p = slot(slots, 'wsum1');
    const pDecayed = tf.mul(p, s.beta1);
    const pNew = wd === null ? pDecayed : free(tf.add(pDecayed, w), pDecayed);
    p.assign(pNew);
    const q = slot(slots, 'wsum2');
    const qDecayed = tf.mul(q, s.beta2);
    let qNew = qDecayed;
    if (wd !== null) {
      const w2 = tf.square(w);
      qNew = free(tf.add(qDecayed, w2), qDecayed, w2);
    }
    q.assign(qNew);
    return { mNew, vNew, pNew, qNew };
  }

  protected override firstMomentSlot(): { slot: string; scale: number } | null {
    return this.decay === 'separated' ? { slot: 'msum', scale: 1 - this.opts.beta1 } : { slot: 'm', scale: 1 };
  }

  protected override momentSplit(): MomentSplit {
    if (this.decay === 'separated') {
      const { weightDecay, beta1 } = this.opts;
      return { wd: 'wsum1', wdScale: weightDecay * (1 - beta1), total: 'msum', totalScale: 1 - beta1, mode: 'separate' };
    }
    if (this.decay === 'l2' && this.opts.trackLastStep) {
      return { wd: 'm_wd', wdScale: 1, total: 'm', totalScale: 1, mode: 'l2-split' };
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// SGD family: sgd, sgd-l2, sgdw

interface SgdScalars {
  stepSize: tf.Scalar;
  momentum: tf.Scalar | null;
}

export abstract class SgdFamilyOptimizer extends WeightDecayOptimizer<SgdScalars> {
  protected override slotOrder(): readonly string[] {
    return ['momentum'];
  }

  protected override slotSpecs(): SlotSpec[] {
    return this.opts.momentum > 0 ? [{ name: 'momentum', init: 0 }] : [];
  }

  protected override prepareStep(info: StepInfo): SgdScalars {
    return {
      stepSize: tf.scalar(info.stepSize),
      momentum: this.opts.momentum > 0 ? tf.scalar(this.opts.momentum) : null,
    };
  }

  /** ResourceApplyMomentum (b ← μ·b + g; w ← w − α·b) or ResourceApplyGradientDescent (w ← w − g·α). */
  protected override fusedKernel(): FusedKernel<SgdScalars> {
    if (this.opts.momentum > 0) {
      return {
        buffers: ['momentum'],
        run: (w, [b], g, s) => applyKernel('ResourceApplyMomentum', [w, b, s.stepSize, g, s.momentum!], [noNesterov()]),
      };
    }
    return { buffers: [], run: (w, _buffers, g, s) => applyKernel('ResourceApplyGradientDescent', [w, s.stepSize, g]) };
  }

  protected override computeStep(
    _w: tf.Variable,
    g: tf.Tensor,
    slots: Map<string, tf.Variable>,
    _decays: boolean,
    _wd: tf.Scalar | null,
    s: SgdScalars,
  ): tf.Tensor {
    if (s.momentum === null) return tf.mul(g, s.stepSize);
    const buf = slot(slots, 'momentum');
    const decayed = tf.mul(buf, s.momentum);
    const next = free(tf.add(decayed, g), decayed);
    buf.assign(next);
    return tf.mul(next, s.stepSize);
  }

  protected override firstMomentSlot(): { slot: string; scale: number } | null {
    return this.opts.momentum > 0 ? { slot: 'momentum', scale: 1 } : null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// RMSprop family (TensorFlow's definition): rmsprop, rmsprop-l2, rmspropw

interface RmspropScalars {
  rho: tf.Scalar;
  oneMinusRho: tf.Scalar;
  epsilon: tf.Scalar;
  stepSize: tf.Scalar;
  momentum: tf.Scalar | null;
  /** Fused path with μ = 0: the kernel's momentum input. */
  zero: tf.Scalar | null;
}

export abstract class RmspropFamilyOptimizer extends WeightDecayOptimizer<RmspropScalars> {
  protected override slotOrder(): readonly string[] {
    return ['ms', 'mg', 'mom'];
  }

  protected override slotSpecs(): SlotSpec[] {
    const specs: SlotSpec[] = [{ name: 'ms', init: this.opts.initialMeanSquare }];
    if (this.opts.centered) specs.push({ name: 'mg', init: 0 });
    if (this.opts.momentum > 0) specs.push({ name: 'mom', init: 0 });
    return specs;
  }

  protected override prepareStep(info: StepInfo, fused: boolean): RmspropScalars {
    const { rho, epsilon, momentum } = this.opts;
    return {
      rho: tf.scalar(rho),
      oneMinusRho: tf.scalar(1 - rho),
      epsilon: tf.scalar(epsilon),
      stepSize: tf.scalar(info.stepSize),
      momentum: momentum > 0 ? tf.scalar(momentum) : null,
      zero: fused && momentum === 0 ? tf.scalar(0) : null,
    };
  }

  /**
   * ResourceApplyCenteredRMSProp / ResourceApplyRMSProp: TensorFlow's own RMSprop, the rule computeStep writes out
   * (with 1 − ρ formed in float32 from the float32 ρ). The kernels always keep a momentum buffer: with μ = 0 it is
   * an internal scratch buffer (mom ← 0·mom + inc, so Δ = inc), not a slot.
   */
  protected override fusedKernel(): FusedKernel<RmspropScalars> {
    if (this.opts.centered) {
      return {
        buffers: ['mg', 'ms', 'mom'],
        run: (w, [mg, ms, mom], g, s) =>
          applyKernel('ResourceApplyCenteredRMSProp', [w, mg, ms, mom, s.stepSize, s.rho, s.momentum ?? s.zero!, s.epsilon, g]),
      };
    }
    return {
      buffers: ['ms', 'mom'],
      run: (w, [ms, mom], g, s) =>
        applyKernel('ResourceApplyRMSProp', [w, ms, mom, s.stepSize, s.rho, s.momentum ?? s.zero!, s.epsilon, g]),
    };
  }

  protected override computeStep(
    _w: tf.Variable,
    g: tf.Tensor,
    slots: Map<string, tf.Variable>,
    _decays: boolean,
    _wd: tf.Scalar | null,
    s: RmspropScalars,
  ): tf.Tensor {
    const ms = slot(slots, 'ms');
    // TensorFlow's kernel form: ms += (g² − ms)·(1 − ρ)
    const sq = tf.square(g);
    const diff = free(tf.sub(sq, ms), sq);
    const scaled = free(tf.mul(diff, s.oneMinusRho), diff);
    const msNew = free(tf.add(ms, scaled), scaled);
    ms.assign(msNew);
    let denominator: tf.Tensor;
    if (this.opts.centered) {
      const mgNew = lerpInto(slot(slots, 'mg'), g, s.oneMinusRho, s.rho);
      const mg2 = tf.square(mgNew);
      const centered = free(tf.sub(msNew, mg2), mg2);
      denominator = free(tf.add(centered, s.epsilon), centered);
    } else {
      denominator = tf.add(msNew, s.epsilon);
    }
    const root = free(tf.sqrt(denominator), denominator);
    const scaledGrad = tf.mul(g, s.stepSize);
    const increment = free(tf.div(scaledGrad, root), scaledGrad, root);
    if (s.momentum === null) return increment;
    const mom = slot(slots, 'mom');
    const decayed = tf.mul(mom, s.momentum);
    const momNew = free(tf.add(decayed, increment), decayed, increment);
    mom.assign(momNew);
    return momNew;
  }

  protected override firstMomentSlot(): { slot: string; scale: number } | null {
    return this.opts.centered ? { slot: 'mg', scale: 1 } : null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One class per scheme (className must be unique per scheme for tf.serialization).

export class AdamOptimizer extends AdamFamilyOptimizer {
  static readonly className = 'WdAdam';
  static readonly scheme: OptimizerName = 'adam';
  constructor(options: OptimizerOptions) {
    super('adam', options);
  }
}

export class AdamL2Optimizer extends AdamFamilyOptimizer {
  static readonly className = 'WdAdamL2';
  static readonly scheme: OptimizerName = 'adam-l2';
  constructor(options: OptimizerOptions) {
    super('adam-l2', options);
  }
}

export class AdamWOptimizer extends AdamFamilyOptimizer {
  static readonly className = 'WdAdamW';
  static readonly scheme: OptimizerName = 'adamw';
  constructor(options: OptimizerOptions) {
    super('adamw', options);
  }
}

export class AdamSeparatedOptimizer extends AdamFamilyOptimizer {
  static readonly className = 'WdAdamSeparated';
  static readonly scheme: OptimizerName = 'adam-separated';
  constructor(options: OptimizerOptions) {
    super('adam-separated', options);
  }
}

export class SgdOptimizer extends SgdFamilyOptimizer {
  static readonly className = 'WdSGD';
  static readonly scheme: OptimizerName = 'sgd';
  constructor(options: OptimizerOptions) {
    super('sgd', options);
  }
}

export class SgdL2Optimizer extends SgdFamilyOptimizer {
  static readonly className = 'WdSGDL2';
  static readonly scheme: OptimizerName = 'sgd-l2';
  constructor(options: OptimizerOptions) {
    super('sgd-l2', options);
  }
}

export class SgdWOptimizer extends SgdFamilyOptimizer {
  static readonly className = 'WdSGDW';
  static readonly scheme: OptimizerName = 'sgdw';
  constructor(options: OptimizerOptions) {
    super('sgdw', options);
  }
}

export class RmspropOptimizer extends RmspropFamilyOptimizer {
  static readonly className = 'WdRMSprop';
  static readonly scheme: OptimizerName = 'rmsprop';
  constructor(options: OptimizerOptions) {
    super('rmsprop', options);
  }
}

export class RmspropL2Optimizer extends RmspropFamilyOptimizer {
  static readonly className = 'WdRMSpropL2';
  static readonly scheme: OptimizerName = 'rmsprop-l2';
  constructor(options: OptimizerOptions) {
    super('rmsprop-l2', options);
  }
}

export class RmspropWOptimizer extends RmspropFamilyOptimizer {
  static readonly className = 'WdRMSpropW';
  static readonly scheme: OptimizerName = 'rmspropw';
  constructor(options: OptimizerOptions) {
    super('rmspropw', options);
  }
}
