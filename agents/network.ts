// The Q-network: the Nature DQN torso (conv 32 8x8/4, conv 64 4x4/2, conv 64 3x3/1, dense 512, linear; ReLU) as
// Dopamine builds it. Written with raw variables and fused ops instead of the layers API: fewer op dispatches per
// step, and the variable list is explicit, which the optimizer and checkpoints need.
//
// Padding: Dopamine's networks use SAME padding (slim.conv2d's default in the TF agent, flax nn.Conv's default in
// the JAX agent): 84 -> 21 -> 11 -> 11, so the dense layer sees 11*11*64 = 7,744 inputs and the network has ~4.0M
// parameters. The Nature paper's VALID padding (84 -> 20 -> 9 -> 7, 3,136 inputs, ~1.7M parameters) is selectable.
// Initialization as both Dopamine agents: Glorot (Xavier) uniform kernels, zero biases.
import * as tf from '../src/tf.ts';

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
    this.options = { stackSize: 4, screenSize: 84, ...options };
    const { numActions, padding, seed, stackSize, screenSize } = this.options;
    if (!Number.isInteger(numActions) || numActions < 1) throw new RangeError(`numActions must be >= 1, got ${numActions}`);
    let channels = stackSize;
    let size = screenSize;
    let initSeed = seed;
    const glorot = (shape: number[], name: string) =>
      tf.tidy(() => tf.variable(tf.initializers.glorotUniform({ seed: initSeed++ }).apply(shape) as tf.Tensor, true, `${namePrefix}/${name}`));
    TORSO.forEach((spec, i) => {
      this.convKernels.push(glorot([spec.kernel, spec.kernel, channels, spec.filters], `conv${i + 1}/kernel`));
      this.convBiases.push(tf.variable(tf.zeros([spec.filters]), true, `${namePrefix}/conv${i + 1}/bias`));
      channels = spec.filters;
      size = convOutputSize(size, spec, padding);
    });
    const flat = size * size * channels;
    this.denseKernels.push(glorot([flat, HIDDEN_UNITS], 'dense1/kernel'), glorot([HIDDEN_UNITS, numActions], 'dense2/kernel'));
    this.denseBiases.push(tf.variable(tf.zeros([HIDDEN_UNITS]), true, `${namePrefix}/dense1/bias`), tf.variable(tf.zeros([numActions]), true, `${namePrefix}/dense2/bias`));
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
    return tf.tidy(() => {
      let x: tf.Tensor4D = tf.transpose(states, [0, 2, 3, 1]).div(255);
      TORSO.forEach((spec, i) => {
        x = tf.fused.conv2d({
          x, filter: this.convKernels[i] as tf.Tensor4D, strides: spec.stride, pad: this.options.padding,
          bias: this.convBiases[i], activation: 'relu',
        });
      });
      const flat = x.reshape([x.shape[0], -1]) as tf.Tensor2D;
      const hidden = tf.fused.matMul({ a: flat, b: this.denseKernels[0] as tf.Tensor2D, bias: this.denseBiases[0], activation: 'relu' });
      return tf.fused.matMul({ a: hidden, b: this.denseKernels[1] as tf.Tensor2D, bias: this.denseBiases[1] });
    }) as tf.Tensor2D;
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

/** 'online-3/conv1/kernel' -> 'conv1/kernel': the name inside a network, the same for online and target. */
function localName(name: string): string {
  return name.split('/').slice(1).join('/');
}
