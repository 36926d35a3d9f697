// Floating-point work of the Q-network, counted from its actual layer shapes (multiply-adds x 2).
import type { ConvPadding } from '../../agents/network.ts';

export interface LayerWork {
  name: string;
  /** Output shape of one sample, e.g. [21, 21, 32]. */
  output: number[];
  /** Multiply-adds for one sample's forward pass. */
  macs: number;
}

const TORSO = [
  { filters: 32, kernel: 8, stride: 4 },
  { filters: 64, kernel: 4, stride: 2 },
  { filters: 64, kernel: 3, stride: 1 },
];

export function layerWork(padding: ConvPadding, numActions: number, screen = 84, stack = 4): LayerWork[] {
  const layers: LayerWork[] = [];
  let size = screen;
  let channels = stack;
  TORSO.forEach((spec, i) => {
    size = padding === 'same' ? Math.ceil(size / spec.stride) : Math.floor((size - spec.kernel) / spec.stride) + 1;
    layers.push({ name: `conv${i + 1}`, output: [size, size, spec.filters], macs: size * size * spec.filters * spec.kernel * spec.kernel * channels });
    channels = spec.filters;
  });
  const flat = size * size * channels;
  layers.push({ name: 'dense1', output: [512], macs: flat * 512 });
  layers.push({ name: 'dense2', output: [numActions], macs: 512 * numActions });
  return layers;
}

export interface StepWork {
  layers: LayerWork[];
  /** FLOP of one sample's forward pass. */
  forwardPerSample: number;
  /** Acting: one batch-1 forward. */
  act: number;
  /**
   * One gradient step on a batch, by the convention: online forward + backward (2x forward) + target
   * forward = 4 forwards of the batch.
   */
  trainStep: number;
  /** The same without the gradient with respect to the states (first layer's input), which nobody needs. */
  trainStepExact: number;
  /** Per agent step with one gradient step every `updatePeriod` steps and a greedy action every step. */
  perAgentStep: number;
}

export function stepWork(padding: ConvPadding, numActions: number, batch: number, updatePeriod: number): StepWork {
  const layers = layerWork(padding, numActions);
  const macs = layers.reduce((s, l) => s + l.macs, 0);
  const forwardPerSample = 2 * macs;
  const trainStep = 4 * forwardPerSample * batch;
  const trainStepExact = trainStep - 2 * layers[0].macs * batch;
  return { layers, forwardPerSample, act: forwardPerSample, trainStep, trainStepExact, perAgentStep: trainStep / updatePeriod + forwardPerSample };
}
