// The Q-network: the Nature DQN torso (conv 32 8x8/4, conv 64 4x4/2, conv 64 3x3/1, dense 512, linear; ReLU) as
// Dopamine builds it. Written with raw variables and fused ops instead of the layers API: fewer op dispatches per
// step, and the variable list is explicit, which the optimizer and checkpoints need.
//
// Speed notes (measured with `npm run bench`; docs/performance.md). scripts/bench/verify-network.ts compares this
// network with the plain tfjs fused-op formulation (Q-values, gradients, Adam updates):
// - The convolutions are customGrad ops that run, forward, exactly the TensorFlow ops tfjs-node's fused kernels run
//   (Conv2D, add, relu): bit-identical. Backward they differ from tfjs's fused gradients in two ways: the first layer
//   computes no gradient for its input (the states; tfjs's fused conv2d always computes one, a transposed
//   convolution into [32, 84, 84, 4] nobody uses), and the ReLU gradient is TensorFlow's single ReluGrad op instead of
//   tfjs's dy * step(y), which tfjs-node builds from six ops and three full-size temporaries.
// - The dense layers multiply with TensorFlow's 2-D MatMul. tfjs-node sends every matMul through a 3-D BatchMatMul,
//   which TensorFlow's oneDNN kernels serve 1.5-3x slower for these shapes (batch-1 acting most of all). MatMul
//   sums in another order: Q-values differ from the BatchMatMul formulation by float32 rounding (~1e-7 relative);
//   the backward products are unchanged.
// - Inputs: `statesTensor` takes the uint8 planar stacks (replay batches and acting alike) and builds the NHWC float
//   input in JavaScript, with the /255 taken from a table that TensorFlow's own division filled: the same floats as
//   apply()'s transpose and division, without the float copy and TensorFlow's slow 4-channel transpose.
//
// Padding: Dopamine's networks use SAME padding (slim.conv2d's default in the TF agent, flax nn.Conv's default in
// the JAX agent): 84 -> 21 -> 11 -> 11, so the dense layer sees 11*11*64 = 7,744 inputs and the network has ~4.0M
// parameters. The Nature paper's VALID padding (84 -> 20 -> 9 -> 7, 3,136 inputs, ~1.7M parameters) is selectable.
// Initialization as both Dopamine agents: Glorot (Xavier) uniform kernels, zero biases.
import * as tf from '../src/tf.ts';
import { boolAttr, floatTypeAttr, runOp } from '../src/tf_native.ts';
import { STACK_SIZE } from './frame_stack.ts';

export type ConvPadding = 'same' | 'valid';

export interface QNetworkOptions {
  numActions: number;
  padding: ConvPadding;
  /** Seeds the Glorot-uniform initializers, so the same seed gives the same network. */
  seed: number;
  /** Frames per state and their side. */
  stackSize?: number;
  screenSize?: number;
}

interface ConvSpec {
  filters: number;
  kernel: number;
  stride: number;
}

const TORSO: readonly ConvSpec[] = [
  { filters: 32, kernel: 8, stride: 4 },
  { filters: 64, kernel: 4, stride: 2 },
  { filters: 64, kernel: 3, stride: 1 },
];
const HIDDEN_UNITS = 512;
let nextNetworkId = 0;

function convOutputSize(size: number, spec: ConvSpec, padding: ConvPadding): number {
  return padding === 'same' ? Math.ceil(size / spec.stride) : Math.floor((size - spec.kernel) / spec.stride) + 1;
}

export class QNetwork {
  readonly variables: tf.Variable[];
  readonly options: Required<QNetworkOptions>;
  private readonly convKernels: tf.Variable[] = [];
  private readonly convBiases: tf.Variable[] = [];
  private readonly denseKernels: tf.Variable[] = [];
  private readonly denseBiases: tf.Variable[] = [];

  constructor(options: QNetworkOptions, role: 'online' | 'target' = 'online') {
    // tfjs refuses two variables of one name, and tests build many networks: number every instance.
    const namePrefix = `${role}-${nextNetworkId++}`;
    this.options = { stackSize: STACK_SIZE, screenSize: 84, ...options };
    const { numActions, padding, seed, stackSize, screenSize } = this.options;
    if (!Number.isInteger(numActions) || numActions < 1) throw new RangeError(`numActions must be >= 1, got ${numActions}`);
    let channels = stackSize;
    let size = screenSize;
    let initSeed = seed;
    const glorot = (shape: number[], name: string) =>
      tf.tidy(() => tf.variable(tf.initializers.glorotUniform({ seed: initSeed++ }).apply(shape) as tf.Tensor, true, `${namePrefix}/${name}`));
    // Inside tidy: tf.variable shares the initial tensor's data but does not free the tensor itself.
    const zeros = (shape: number[], name: string) => tf.tidy(() => tf.variable(tf.zeros(shape), true, `${namePrefix}/${name}`));
    TORSO.forEach((spec, i) => {
      this.convKernels.push(glorot([spec.kernel, spec.kernel, channels, spec.filters], `conv${i + 1}/kernel`));
      this.convBiases.push(zeros([spec.filters], `conv${i + 1}/bias`));
      channels = spec.filters;
      size = convOutputSize(size, spec, padding);
    });
    const flat = size * size * channels;
    this.denseKernels.push(glorot([flat, HIDDEN_UNITS], 'dense1/kernel'), glorot([HIDDEN_UNITS, numActions], 'dense2/kernel'));
    this.denseBiases.push(zeros([HIDDEN_UNITS], 'dense1/bias'), zeros([numActions], 'dense2/bias'));
    this.variables = [
      ...this.convKernels.flatMap((k, i) => [k, this.convBiases[i]]),
      ...this.denseKernels.flatMap((k, i) => [k, this.denseBiases[i]]),
    ];
  }

  get parameterCount(): number {
    return this.variables.reduce((sum, v) => sum + v.size, 0);
  }

  /**
   * Q-values for a batch of states. `states` is float32 [batch, stack, H, W] with pixel values 0..255 (the replay
   * memory's planar layout); the network scales to [0, 1] and moves the stack to the channel axis itself.
   */
  apply(states: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.applyScaled(tf.transpose(states, [0, 2, 3, 1]).div(255)));
  }

  /**
   * Q-values for a batch already in the network's own layout: float32 NHWC [batch, H, W, stack] scaled to [0, 1],
   * as `statesTensor` makes it.
   */
  applyScaled(input: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const flat = this.features(input);
      const hidden = dense(flat, this.denseKernels[0] as tf.Tensor2D, this.denseBiases[0] as tf.Tensor1D, true);
      return dense(hidden, this.denseKernels[1] as tf.Tensor2D, this.denseBiases[1] as tf.Tensor1D, false);
    }) as tf.Tensor2D;
  }

  /** The convolutional torso's output, flattened: the dense layer's input [batch, 7744] (SAME padding). */
  features(input: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      let x = input;
      TORSO.forEach((spec, i) => {
        // The first layer's input is the states: no gradient for it (see the header).
        x = convBiasRelu(x, this.convKernels[i] as tf.Tensor4D, this.convBiases[i] as tf.Tensor1D, spec.stride, this.options.padding, i > 0);
      });
      return x.reshape([x.shape[0], -1]) as tf.Tensor2D;
    });
  }

  /**
   * The network's input for `count` uint8 planar states [count, stack, H, W] (the replay memory's and the agent's
   * layout): NHWC float32 scaled to [0, 1], the same floats apply() computes from the float planar tensor.
   * `scratch` (at least count * stack * H * W floats) saves an allocation per call; it is overwritten.
   */
  statesTensor(states: Uint8Array, count: number, scratch?: Float32Array): tf.Tensor4D {
    const { stackSize, screenSize } = this.options;
    const plane = screenSize * screenSize;
    const stateLength = stackSize * plane;
    const total = count * stateLength;
    if (!Number.isInteger(count) || count < 1 || states.length < total) {
      throw new RangeError(`statesTensor: need ${count} states of ${stateLength} bytes, got ${states.length} bytes`);
    }
    const out = scratch && scratch.length >= total ? scratch : new Float32Array(total);
    const scale = scaleTable();
    if (LITTLE_ENDIAN && stackSize === 4 && plane % 4 === 0 && states.byteOffset % 4 === 0) {
      // Planar [n, c, p] -> interleaved [n, p, c] for a stack of 4 (written for exactly 4 channels), reading each
      // plane four pixels at a time (one 32-bit load):
      // twice as fast as byte reads.
      const words = new Uint32Array(states.buffer, states.byteOffset, total >> 2);
      for (let n = 0; n < count; n++) {
        const base = n * stateLength;
        for (let c = 0; c < 4; c++) {
          const first = (base + c * plane) >> 2;
          const last = first + (plane >> 2);
          for (let q = first, o = base + c; q < last; q++, o += 16) {
            const w = words[q];
            out[o] = scale[w & 255];
            out[o + 4] = scale[(w >>> 8) & 255];
            out[o + 8] = scale[(w >>> 16) & 255];
            out[o + 12] = scale[w >>> 24];
          }
        }
      }
    } else {
      for (let n = 0; n < count; n++) {
        const base = n * stateLength;
        for (let p = 0; p < plane; p++) {
          for (let c = 0; c < stackSize; c++) out[base + p * stackSize + c] = scale[states[base + c * plane + p]];
        }
      }
    }
    return tf.tensor4d(out.length === total ? out : out.subarray(0, total), [count, screenSize, screenSize, stackSize]);
  }

  /** Greedy actions (argmax of Q; the first maximum on ties, as tf.argMax) for `count` uint8 planar states. */
  greedyActions(states: Uint8Array, count: number): Int32Array {
    return tf.tidy(() => this.applyScaled(this.statesTensor(states, count, this.inputScratch(count))).argMax(1).dataSync() as Int32Array);
  }

  /** The greedy action for one uint8 planar state: the acting path (batch 1, one read-back). */
  act(state: Uint8Array): number {
    return this.greedyActions(state, 1)[0];
  }

  private scratch: Float32Array | undefined;
  private inputScratch(count: number): Float32Array | undefined {
    const need = count * this.options.stackSize * this.options.screenSize ** 2;
    // Acting and batched evaluation reuse one buffer; larger batches allocate (no 3.6 MB pinned per network).
    if (count > 64) return undefined;
    if (!this.scratch || this.scratch.length < need) this.scratch = new Float32Array(need);
    return this.scratch;
  }

  /** Copies every weight of `source` into this network (the target-network sync). */
  copyFrom(source: QNetwork): void {
    tf.tidy(() => this.variables.forEach((v, i) => v.assign(source.variables[i])));
  }

  /** Weights as plain typed arrays, for checkpoints. */
  readWeights(): Map<string, { shape: number[]; data: Float32Array }> {
    return new Map(this.variables.map((v) => [localName(v.name), { shape: v.shape, data: v.dataSync() as Float32Array }]));
  }

  writeWeights(weights: Map<string, { shape: number[]; data: Float32Array }>): void {
    for (const v of this.variables) {
      const saved = weights.get(localName(v.name));
      if (!saved || saved.shape.join() !== v.shape.join()) {
        throw new Error(`checkpoint has no weights of shape [${v.shape}] for ${localName(v.name)} (found ${saved ? `[${saved.shape}]` : 'none'})`);
      }
      tf.tidy(() => v.assign(tf.tensor(saved.data, v.shape)));
    }
  }

  dispose(): void {
    tf.dispose(this.variables);
  }
}

// ---- layers with hand-written gradients ----------------------------------------------------------------------
// Forward: the convolutions run exactly the TensorFlow ops tfjs-node's fused conv2d runs (Conv2D, add, relu), so the
// torso's output is bit-identical; the dense layers run a 2-D MatMul where tfjs runs a 3-D BatchMatMul (see the
// header). Backward: what tfjs's fused gradients compute, with two savings. (1) The ReLU's gradient is TensorFlow's
// one ReluGrad op instead of tfjs's step(), which tfjs-node builds from six ops with three full-size temporaries
// (isNaN, greater, ones, fill, where, select) before a multiply. (2) The first layer computes no gradient for its
// input. Given the same upstream gradient, the values equal tfjs's (a zero may carry the other sign: dy * 0 is -0
// for dy < 0).

/** dy where y > 0, else 0: TensorFlow's ReluGrad on the tensorflow backend, tfjs's mul(dy, step(y)) elsewhere. */
function reluGrad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (tf.getBackend() !== 'tensorflow') return tf.mul(dy, tf.step(y));
  return runOp('ReluGrad', [floatTypeAttr()], [dy, y]);
}

function convBiasRelu(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor1D, stride: number, pad: ConvPadding, inputGradient: boolean): tf.Tensor4D {
  const forward = () => tf.relu(tf.add(tf.conv2d(x, filter, stride, pad), bias)) as tf.Tensor4D;
  const backward = (dy: tf.Tensor, y: tf.Tensor, input: tf.Tensor) => {
    const dz = reluGrad(dy, y) as tf.Tensor4D;
    const attrs = { strides: stride, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
    const dFilter = tf.engine().runKernel('Conv2DBackpropFilter', { x: input, dy: dz }, { ...attrs, filterShape: filter.shape } as never) as tf.Tensor;
    const dBias = tf.sum(dz, [0, 1, 2]);
    if (!inputGradient) return [dFilter, dBias];
    const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy: dz, filter }, { ...attrs, inputShape: x.shape } as never) as tf.Tensor;
    return [dx, dFilter, dBias];
  };
  const op = withSavedOutput(forward, x, backward);
  // Without an input gradient the states are closed over, not passed: customGrad computes one for every input.
  return (inputGradient ? op(x, filter, bias) : op(filter, bias)) as tf.Tensor4D;
}

/**
 * A customGrad op: `forward` closes over its inputs (they are passed to the op only so the tape knows them), and
 * `backward` gets the op's output and the layer input `keep`, both saved by the tape (intermediate tensors are
 * disposed once the forward's tidy ends; saved ones live until the gradient is taken).
 */
function withSavedOutput(forward: () => tf.Tensor, keep: tf.Tensor, backward: (dy: tf.Tensor, y: tf.Tensor, kept: tf.Tensor) => tf.Tensor[]): (...inputs: tf.Tensor[]) => tf.Tensor {
  return tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const y = forward();
    save([y, keep]);
    return { value: y, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backward(dy, saved[0], saved[1]) };
  }) as Parameters<typeof tf.customGrad>[0]);
}

/** a·b as TensorFlow's 2-D MatMul on the tensorflow backend (tfjs-node's matMul always runs a 3-D BatchMatMul). */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (tf.getBackend() !== 'tensorflow') return tf.matMul(a, b);
  return runOp('MatMul', [floatTypeAttr(), boolAttr('transpose_a', false), boolAttr('transpose_b', false)], [a, b]) as tf.Tensor2D;
}

function dense(a: tf.Tensor2D, b: tf.Tensor2D, bias: tf.Tensor1D, relu: boolean): tf.Tensor2D {
  return withSavedOutput(
    () => {
      const z = tf.add(matMul2d(a, b), bias);
      return relu ? tf.relu(z) : z;
    },
    a,
    (dy, y, input) => {
      // As tfjs's fused matMul gradient: both products as 3-D batch products, the bias gradient a sum over rows.
      const dz = (relu ? reluGrad(dy, y) : dy) as tf.Tensor2D;
      const dz3 = dz.reshape([1, ...dz.shape]) as tf.Tensor3D;
      const da = tf.matMul(dz3, b.reshape([1, ...b.shape]) as tf.Tensor3D, false, true).reshape(a.shape);
      const db = tf.matMul(input.reshape([1, ...a.shape]) as tf.Tensor3D, dz3, true, false).reshape(b.shape);
      return [da, db, tf.sum(dz, 0)];
    },
  )(a, b, bias) as tf.Tensor2D;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

let scaleCache: Float32Array | undefined;
/** x / 255 for every uint8 x, computed by TensorFlow's own division so the floats match apply()'s exactly. */
function scaleTable(): Float32Array {
  scaleCache ??= tf.tidy(() => (tf.div(tf.range(0, 256, 1, 'float32'), 255).dataSync() as Float32Array).slice());
  return scaleCache;
}

/** 'online-3/conv1/kernel' -> 'conv1/kernel': the name inside a network, the same for online and target. */
function localName(name: string): string {
  return name.split('/').slice(1).join('/');
}
