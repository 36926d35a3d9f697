// The RMSprop family, TensorFlow's definition (ε inside the square root; Dopamine's TF DQN uses the centered form):
// rmsprop, rmsprop-l2, rmspropw. Composite ops, or ResourceApplyRMSProp / ResourceApplyCenteredRMSProp fused.
import * as tf from '../tf.ts';
import { free, WeightDecayOptimizer, type FusedKernel, type SlotSpec, type StepInfo, type VariableStep } from './base.ts';
import { applyKernel } from './fused.ts';
import { lerpInto, slot } from './ops.ts';

interface RmspropScalars {
  rho: tf.Scalar;
  oneMinusRho: tf.Scalar;
  epsilon: tf.Scalar;
  stepSize: tf.Scalar;
  momentum: tf.Scalar | null;
  /** Fused path with μ = 0: the kernel's momentum input. */
  zero: tf.Scalar | null;
}

export class RmspropFamilyOptimizer extends WeightDecayOptimizer<RmspropScalars> {
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

  protected override computeStep({ g, slots, scalars: s }: VariableStep<RmspropScalars>): tf.Tensor {
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
