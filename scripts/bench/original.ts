// The Q-network's forward pass as it was before the speed work (every layer through tfjs's fused ops, layout change
// and /255 inside TensorFlow), on a QNetwork's own variables: the reference for verify-network.ts and the A/B in the
// benchmark.
import * as tf from '../../src/tf.ts';
import type { QNetwork } from '../../agents/network.ts';

const SPECS = [{ k: 8, s: 4 }, { k: 4, s: 2 }, { k: 3, s: 1 }];

/** The original layout change and scaling: float planar [n, 4, 84, 84] in 0..255 -> NHWC in [0, 1]. */
function originalInput(states: tf.Tensor4D): tf.Tensor4D {
  return tf.transpose(states, [0, 2, 3, 1]).div(255);
}

/** The convolutional torso through tfjs's fused conv2d (bias and ReLU fused), flattened. */
export function originalFeatures(net: QNetwork, states: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => featuresOf(net, originalInput(states)));
}

function featuresOf(net: QNetwork, input: tf.Tensor4D): tf.Tensor2D {
  const v = net.variables;
  let x = input;
  SPECS.forEach((spec, i) => {
    x = tf.fused.conv2d({ x, filter: v[2 * i] as tf.Tensor4D, strides: spec.s, pad: net.options.padding, bias: v[2 * i + 1], activation: 'relu' });
  });
  return x.reshape([x.shape[0], -1]) as tf.Tensor2D;
}

/** Q-values from the network's NHWC [0, 1] input (what QNetwork.applyScaled takes), all layers fused. */
export function originalApplyScaled(net: QNetwork, input: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const v = net.variables;
    const hidden = tf.fused.matMul({ a: featuresOf(net, input), b: v[6] as tf.Tensor2D, bias: v[7], activation: 'relu' });
    return tf.fused.matMul({ a: hidden, b: v[8] as tf.Tensor2D, bias: v[9] });
  }) as tf.Tensor2D;
}

/** The network as it was before the speed work: all layers fused, layout change and scaling in TensorFlow. */
export function originalApply(net: QNetwork, states: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => originalApplyScaled(net, originalInput(states)));
}
