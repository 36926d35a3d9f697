// `npm run play -- RUN_DIR --export FILE.safetensors`: a checkpoint's online Q-network as a safetensors file in
// PyTorch's naming and layout, so it loads into a plain nn.Module (docs/run-format.md, "Exported weights"). No
// TensorFlow: the checkpoint's tensors are typed arrays, rearranged here.
//
// tfjs keeps conv kernels as HWIO [kh, kw, in, out] and dense kernels as [in, out], and flattens the last feature
// map in NHWC order; PyTorch wants OIHW, [out, in], and flattens NCHW. So conv kernels are transposed, dense kernels
// transposed, and fc1's input columns are also permuted from (h, w, c) to (c, h, w) order: with that, PyTorch's
// x.flatten(1) of the [N, 64, H, W] feature map meets the right weights.
import type { LoadedTensor } from './checkpoints.ts';
import type { RunConfig } from './presets.ts';
import type { NamedTensor } from '../io/safetensors.ts';

/** The exported names, in file order: the checkpoint's names inside the network → PyTorch's. */
export const EXPORT_NAMES = [
  ['conv1/kernel', 'conv1.weight'], ['conv1/bias', 'conv1.bias'],
  ['conv2/kernel', 'conv2.weight'], ['conv2/bias', 'conv2.bias'],
  ['conv3/kernel', 'conv3.weight'], ['conv3/bias', 'conv3.bias'],
  ['dense1/kernel', 'fc1.weight'], ['dense1/bias', 'fc1.bias'],
  ['dense2/kernel', 'fc2.weight'], ['dense2/bias', 'fc2.bias'],
] as const;

/** The torso as agents/network.ts builds it: [kernel, stride] per conv layer. */
const CONVS: ReadonlyArray<readonly [number, number]> = [[8, 4], [4, 2], [3, 1]];
const SCREEN = 84;
const STACK = 4;

/** TensorFlow's SAME padding of one conv layer as F.pad's (left, right, top, bottom): the extra pixel goes right/bottom. */
export function samePads(size: number, kernel: number, stride: number): { pads: [number, number, number, number]; out: number } {
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  const before = Math.floor(total / 2);
  return { pads: [before, total - before, before, total - before], out };
}

/** Per conv layer, the zero padding PyTorch must add before it (F.pad order), for the run's padding mode. */
export function convPads(padding: 'same' | 'valid'): Array<[number, number, number, number]> {
  let size = SCREEN;
  return CONVS.map(([kernel, stride]) => {
    if (padding === 'valid') {
      size = Math.floor((size - kernel) / stride) + 1;
      return [0, 0, 0, 0];
    }
    const { pads, out } = samePads(size, kernel, stride);
    size = out;
    return pads;
  });
}

/** [kh, kw, in, out] → [out, in, kh, kw]. */
function hwioToOihw(t: LoadedTensor): NamedTensor['data'] {
  const [kh, kw, cin, cout] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let o = 0; o < cout; o++) out[((o * cin + c) * kh + i) * kw + j] = src[((i * kw + j) * cin + c) * cout + o];
  return out;
}

/** [in, out] → [out, in]; with `feature` = [H, W, C], the in index is also reordered from (h, w, c) to (c, h, w). */
function denseToTorch(t: LoadedTensor, feature?: readonly [number, number, number]): NamedTensor['data'] {
  const [nin, nout] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  const torchIndex = (f: number) => {
    if (!feature) return f;
    const [h, w, c] = feature;
    const ch = f % c;
    const pixel = (f - ch) / c; // h * W + w
    return ch * h * w + pixel;
  };
  for (let f = 0; f < nin; f++) {
    const g = torchIndex(f);
    for (let o = 0; o < nout; o++) out[o * nin + g] = src[f * nout + o];
  }
  return out;
}

export interface ExportSource {
  config: RunConfig;
  /** The checkpoint's number (checkpoints/ckpt-<N>) and its state.json. */
  checkpoint: number;
  state: { nextIteration?: number; envSteps?: number; partial?: unknown; agent?: { updates?: number } };
  /** The checkpoint's tensors (online/..., target/..., optimizer/...); only online/ is exported. */
  tensors: ReadonlyMap<string, LoadedTensor>;
  /** The run directory's name, recorded as the source. */
  runName: string;
}

/** The online network in PyTorch layout and the file's __metadata__ (all strings, as safetensors requires). */
export function exportOnlineNetwork(source: ExportSource): { tensors: NamedTensor[]; metadata: Record<string, string> } {
  const { config } = source;
  const get = (name: string): LoadedTensor => {
    const t = source.tensors.get(`online/${name}`);
    if (!t || t.dtype !== 'float32') throw new Error(`the checkpoint holds no float32 online/${name}: not a DQN checkpoint of this harness`);
    return t;
  };
  const conv3 = get('conv3/kernel');
  const dense1 = get('dense1/kernel');
  const channels = conv3.shape[3];
  const side = Math.round(Math.sqrt(dense1.shape[0] / channels));
  if (side * side * channels !== dense1.shape[0] || get('conv1/kernel').shape[2] !== STACK) {
    throw new Error(`unexpected network shapes (conv3 [${conv3.shape}], dense1 [${dense1.shape}])`);
  }
  const tensors: NamedTensor[] = EXPORT_NAMES.map(([from, to]) => {
    const t = get(from);
    if (from.endsWith('/bias')) return { name: to, shape: t.shape, data: t.data as Float32Array };
    if (from.startsWith('conv')) return { name: to, shape: [t.shape[3], t.shape[2], t.shape[0], t.shape[1]], data: hwioToOihw(t) };
    return { name: to, shape: [t.shape[1], t.shape[0]], data: denseToTorch(t, from === 'dense1/kernel' ? [side, side, channels] : undefined) };
  });
  const numActions = get('dense2/bias').shape[0];
  const o = config.agent.optimizer;
  const metadata: Record<string, string> = {
    format: 'wd-dqn-harness nature-dqn v1',
    architecture: 'conv1 32x8x8/4, conv2 64x4x4/2, conv3 64x3x3/1, fc1 512, fc2 num_actions; ReLU after all but fc2',
    input_layout: `NCHW float32 [batch, ${STACK}, ${SCREEN}, ${SCREEN}]: the last ${STACK} preprocessed frames, oldest first (channel 0), each uint8 pixel divided by 255`,
    preprocessing: `${config.protocol} protocol: grayscale from ALE, max over the last 2 of every 4 frames, cv2.INTER_AREA resize to ${SCREEN}x${SCREEN}; zero frames pad the stack at an episode start`,
    padding: config.agent.padding,
    conv_pads: JSON.stringify(convPads(config.agent.padding)),
    flatten: `fc1 takes conv3's output flattened in PyTorch (NCHW) order: x.flatten(1) of [batch, ${channels}, ${side}, ${side}]`,
    game: config.game,
    num_actions: String(numActions),
    actions: "index k = k-th action of ALE's getMinimalActionSet() for the game",
    scheme: o.name,
    weight_decay: String(o.weightDecay),
    weight_decay_schedule: String(o.weightDecaySchedule ?? 'constant'),
    learning_rate: String(o.learningRate),
    seed: String(config.seed),
    preset: config.preset,
    protocol: config.protocol,
    epsilon_eval: String(config.agent.epsilonEval),
    iteration: String(source.checkpoint),
    iterations_completed: String(source.state.nextIteration ?? ''),
    partial_iteration: String(source.state.partial != null),
    env_steps: String(source.state.envSteps ?? ''),
    updates: String(source.state.agent?.updates ?? ''),
    run: source.runName,
  };
  if (config.decayMatch) metadata.nominal_weight_decay = String(config.decayMatch.nominalWeightDecay);
  return { tensors, metadata };
}
