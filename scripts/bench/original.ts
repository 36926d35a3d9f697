// The Q-network's forward pass as it was before the speed work (every layer fused, layout change and /255 inside
// TensorFlow), on a QNetwork's own variables: the reference for verify-network.ts and the A/B in the benchmark.
import * as tf from '../../src/tf.ts';
import type { QNetwork } from '../../agents/network.ts';

const SPECS = [{ k: 8, s: 4 }, { k: 4, s: 2 }, { k: 3, s: 1 }];

/** The network as it was before the speed work: all layers fused, layout change and scaling in TensorFlow. */
export function originalApply(net: QNetwork, states: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const v = net.variables;
    let x: tf.Tensor4D = tf.transpose(states, [0, 2, 3, 1]).div(255);
    SPECS.forEach((spec, i) => {
      x = tf.fused.conv2d({ x, filter: v[2 * i] as tf.Tensor4D, strides: spec.s, pad: net.options.padding, bias: v[2 * i + 1], activation: 'relu' });
    });
    const flat = x.reshape([x.shape[0], -1]) as tf.Tensor2D;
    const hidden = tf.fused.matMul({ a: flat, b: v[6] as tf.Tensor2D, bias: v[7], activation: 'relu' });
    return tf.fused.matMul({ a: hidden, b: v[8] as tf.Tensor2D, bias: v[9] });
  }) as tf.Tensor2D;
}

