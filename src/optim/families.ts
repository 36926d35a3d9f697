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
 */
import * as tf from '../tf.ts';

import { free, WeightDecayOptimizer, type MomentSplit, type SlotSpec, type StepInfo } from './base.ts';
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

  protected override prepareStep(info: StepInfo): AdamScalars {
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
      return {
        ...scalars,
        epsHat: tf.scalar(epsilon * sqrtBc2),
        stepSize: tf.scalar((info.stepSize * sqrtBc2) / bc1),
      };
    }
    const sqrtOneMinusBeta2 = Math.sqrt(1 - beta2);
    const epsHat = (epsilon * sqrtBc2) / sqrtOneMinusBeta2;
    return {
      ...scalars,
      epsHat: tf.scalar(epsHat),
      stepSize: tf.scalar((info.stepSize * sqrtBc2 * (1 - beta1)) / (bc1 * sqrtOneMinusBeta2)),
      separatedEps: weightDecay > 0 ? tf.scalar(epsHat / weightDecay) : null,
    };
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
    const mSum = slot(slots, 'msum');
    const mDecayed = tf.mul(mSum, s.beta1);
    const mNew = free(tf.add(mDecayed, g), mDecayed);
    mSum.assign(mNew);
    const vSum = slot(slots, 'vsum');
    const vDecayed = tf.mul(vSum, s.beta2);
    const g2 = tf.square(g);
    const vNew = free(tf.add(vDecayed, g2), vDecayed, g2);
    vSum.assign(vNew);
    let direction = adamDirection(mNew, vNew, s.epsHat);
    if (decays && s.separatedEps !== null) {
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
      const wdDirection = adamDirection(pNew, qNew, s.separatedEps);
      direction = free(tf.add(direction, wdDirection), direction, wdDirection);
    }
    return free(tf.mul(direction, s.stepSize), direction);
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

  protected override prepareStep(info: StepInfo): RmspropScalars {
    const { rho, epsilon, momentum } = this.opts;
    return {
      rho: tf.scalar(rho),
      oneMinusRho: tf.scalar(1 - rho),
      epsilon: tf.scalar(epsilon),
      stepSize: tf.scalar(info.stepSize),
      momentum: momentum > 0 ? tf.scalar(momentum) : null,
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
