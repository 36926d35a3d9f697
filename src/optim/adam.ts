// The Adam family: adam, adam-l2, adamw, adam-separated (the update rules are in schemes.ts's header and
// docs/optimizers.md). Composite ops for the reference path, TensorFlow's ResourceApplyAdam (and, for
// adam-separated, ResourceApplyAdagradV2) for the fused one. Of the weight-decay rule (decay.ts) only adam-separated's
// direction is here — Adam on d = λ_t·w in buffers of its own (separatedDecayBuffers) — because it is Adam's.
import * as tf from '../tf.ts';
import { free, WeightDecayOptimizer, type FusedKernel, type SlotSpec, type StepInfo, type VariableStep } from './base.ts';
import { applyKernel, noNesterov, noSlotUpdate, readResource } from './fused.ts';
import { adamDirection, emaSquareInto, lerpInto, slot } from './ops.ts';
import type { MomentSplit, SecondMoments } from './types.ts';

export interface AdamScalars {
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

export class AdamFamilyOptimizer extends WeightDecayOptimizer<AdamScalars> {
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
          // The weight-decay direction, from separatedDecayBuffers' sums.
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
  protected override beforeFusedStep(step: VariableStep<AdamScalars>): void {
    if (this.decay === 'separated') {
      // The slot Variables keep the new values; letting go of these handles leaves them the buffers' only owners.
      const { mNew, vNew } = this.separatedGradientBuffers(step);
      const decaySums = this.separatedDecayBuffers(step);
      tf.dispose([mNew, vNew, ...(decaySums === null ? [] : [decaySums.pNew, decaySums.qNew])]);
      return;
    }
    const mWd = step.decays && this.decay === 'l2' ? step.slots.get('m_wd') : undefined;
    // penalty = λ_t·w, already computed for the effective gradient (null when λ_t = 0 this step).
    if (mWd !== undefined) lerpInto(mWd, step.penalty, step.scalars.fused!.oneMinusBeta1, step.scalars.beta1);
  }

  protected override computeStep(step: VariableStep<AdamScalars>): tf.Tensor {
    if (this.decay === 'separated') return this.separatedStep(step);
    const { g, slots, decays, penalty, scalars: s } = step;
    const mNew = lerpInto(slot(slots, 'm'), g, s.oneMinusBeta1, s.beta1);
    const vNew = emaSquareInto(slot(slots, 'v'), g, s.oneMinusBeta2, s.beta2);
    const direction = adamDirection(mNew, vNew, s.epsHat);
    if (decays && this.decay === 'l2') {
      // Diagnostics only (trackLastStep): m_wd, the part of m that comes from λ_t·w (m − m_wd is the EMA of ∇ℓ);
      // penalty = λ_t·w, already computed for the effective gradient (null when λ_t = 0 this step).
      const mWd = slots.get('m_wd');
      if (mWd !== undefined) lerpInto(mWd, penalty, s.oneMinusBeta1, s.beta1);
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
  private separatedStep(step: VariableStep<AdamScalars>): tf.Tensor {
    const s = step.scalars;
    const { mNew, vNew } = this.separatedGradientBuffers(step);
    const decaySums = this.separatedDecayBuffers(step);
    let direction = adamDirection(mNew, vNew, s.epsHat);
    if (decaySums !== null) {
      const decayDirection = adamDirection(decaySums.pNew, decaySums.qNew, s.separatedEps!);
      direction = free(tf.add(direction, decayDirection), direction, decayDirection);
    }
    return free(tf.mul(direction, s.stepSize), direction);
  }

  /** adam-separated's gradient buffers: msum ← β1·msum + g, vsum ← β2·vsum + g²; returns the new values. */
  private separatedGradientBuffers(step: VariableStep<AdamScalars>): { mNew: tf.Tensor; vNew: tf.Tensor } {
    const { g, slots, scalars: s } = step;
    const mSum = slot(slots, 'msum');
    const mDecayed = tf.mul(mSum, s.beta1);
    const mNew = free(tf.add(mDecayed, g), mDecayed);
    mSum.assign(mNew);
    const vSum = slot(slots, 'vsum');
    const vDecayed = tf.mul(vSum, s.beta2);
    const g2 = tf.square(g);
    const vNew = free(tf.add(vDecayed, g2), vDecayed, g2);
    vSum.assign(vNew);
    return { mNew, vNew };
  }

  /**
   * adam-separated's weight decay: the buffers of its Adam on d = λ_t·w, wsum1 ← β1·wsum1 + s·w and
   * wsum2 ← β2·wsum2 + s·w² (s = 1 when λ_t > 0 this step, else 0); returns the new values, or null for a variable
   * without them (it does not decay, or λ = 0). The direction they give, wsum1/(√wsum2 + ε̃/λ), is added to the
   * gradient's by separatedStep, or applied by fusedKernel's second ResourceApplyAdagradV2.
   */
  private separatedDecayBuffers(step: VariableStep<AdamScalars>): { pNew: tf.Tensor; qNew: tf.Tensor } | null {
    const { w, slots, decays, wd, scalars: s } = step;
    if (!decays || s.separatedEps === null) return null;
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
    return { pNew, qNew };
  }

  protected override firstMomentSlot(): { slot: string; scale: number } | null {
    return this.decay === 'separated' ? { slot: 'msum', scale: 1 - this.opts.beta1 } : { slot: 'm', scale: 1 };
  }

  /** v = vsum·(1 − β2) and v' = wsum2·λ²·(1 − β2) for adam-separated (its unnormalised sums); v itself otherwise. */
  protected override secondMoments(): SecondMoments {
    const { epsilon, beta2, weightDecay } = this.opts;
    if (this.decay === 'separated') {
      return {
        epsilon, beta2,
        grad: { slot: 'vsum', scale: 1 - beta2 },
        wd: weightDecay > 0 ? { slot: 'wsum2', scale: weightDecay * weightDecay * (1 - beta2) } : null,
      };
    }
    return { epsilon, beta2, grad: { slot: 'v', scale: 1 }, wd: null };
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
