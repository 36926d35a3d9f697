// The SGD family: sgd, sgd-l2, sgdw (PyTorch's SGD: dampening 0, no Nesterov). Composite ops, or TensorFlow's
// ResourceApplyMomentum / ResourceApplyGradientDescent on the fused path.
import * as tf from '../tf.ts';
import { free, WeightDecayOptimizer, type FusedKernel, type SlotSpec, type StepInfo, type VariableStep } from './base.ts';
import { applyKernel, noNesterov } from './fused.ts';
import { slot } from './ops.ts';

interface SgdScalars {
  stepSize: tf.Scalar;
  momentum: tf.Scalar | null;
}

export class SgdFamilyOptimizer extends WeightDecayOptimizer<SgdScalars> {
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

  protected override computeStep({ g, slots, scalars: s }: VariableStep<SgdScalars>): tf.Tensor {
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
