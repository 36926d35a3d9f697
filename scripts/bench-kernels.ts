/**
 * Benchmark: the TensorFlow kernels of one DQN gradient step, one by one (batch 32, Dopamine's SAME-padded network),
 * against the backend's own matrix-product rate: where the step's FLOP run slowly. For each convolution the forward,
 * the kernel gradient (Conv2DBackpropFilter) and the input gradient (Conv2DBackpropInput; conv1's is never computed);
 * for the 7,744 → 512 dense layer the forward as tfjs runs it (3-D BatchMatMul) and as the network runs it (2-D
 * MatMul), and both backward products; and the batch-1 dense forward of acting.
 *
 *   npx tsx scripts/bench-kernels.ts [--reps 25]
 *   TF_ENABLE_ONEDNN_OPTS=0 npx tsx scripts/bench-kernels.ts     # Eigen's kernels instead of oneDNN's (the default)
 *
 * Each figure is the median of `reps` calls after 3 warm-up calls. Not a test.
 */
import os from 'node:os';
import * as tf from '../src/tf.ts';
import { matMul2d } from '../agents/network.ts';

const REPS = process.argv.includes('--reps') ? Number(process.argv[process.argv.indexOf('--reps') + 1]) : 25;

function ms(fn: () => tf.Tensor): number {
  // tfjs-node runs every op eagerly and synchronously: the kernel has finished when fn returns. (Reading a 16 MB
  // output back would time a copy, not the kernel.)
  const once = () => tf.tidy(() => {
    fn();
  });
  for (let i = 0; i < 3; i++) once();
  const samples: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const start = performance.now();
    once();
    samples.push(performance.now() - start);
  }
  samples.sort((x, y) => x - y);
  return samples[samples.length >> 1];
}

const rows: [string, number, number][] = [];
const add = (what: string, flop: number, time: number) => rows.push([what, time, flop / time / 1e6]);

const n = 1536;
const square = tf.randomNormal([n, n]);
add(`matrix product ${n}² (the ceiling's yardstick)`, 2 * n ** 3, ms(() => tf.matMul(square as tf.Tensor2D, square as tf.Tensor2D)));

const B = 32;
const convs: { name: string; input: [number, number, number, number]; kernel: [number, number, number, number]; stride: number; output: [number, number, number, number] }[] = [
  { name: 'conv1 8×8/4, 4 → 32', input: [B, 84, 84, 4], kernel: [8, 8, 4, 32], stride: 4, output: [B, 21, 21, 32] },
  { name: 'conv2 4×4/2, 32 → 64', input: [B, 21, 21, 32], kernel: [4, 4, 32, 64], stride: 2, output: [B, 11, 11, 64] },
  { name: 'conv3 3×3/1, 64 → 64', input: [B, 11, 11, 64], kernel: [3, 3, 64, 64], stride: 1, output: [B, 11, 11, 64] },
];
let stepMs = 0;
for (const c of convs) {
  const x = tf.randomUniform(c.input) as tf.Tensor4D;
  const w = tf.randomNormal(c.kernel, 0, 0.05) as tf.Tensor4D;
  const dy = tf.randomNormal(c.output) as tf.Tensor4D;
  const flop = 2 * tf.util.sizeFromShape(c.output) * c.kernel[0] * c.kernel[1] * c.kernel[2];
  const attrs = { strides: c.stride, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  const forward = ms(() => tf.conv2d(x, w, c.stride, 'same'));
  const filter = ms(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: c.kernel } as never) as tf.Tensor);
  add(`${c.name}: forward`, flop, forward);
  add(`${c.name}: kernel gradient`, flop, filter);
  stepMs += 2 * forward + filter;
  if (c.name.startsWith('conv1')) continue;
  const input = ms(() => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.input } as never) as tf.Tensor);
  add(`${c.name}: input gradient`, flop, input);
  stepMs += input;
}
{
  const flatIn = 11 * 11 * 64;
  const a = tf.randomUniform([B, flatIn]) as tf.Tensor2D;
  const w = tf.randomNormal([flatIn, 512], 0, 0.02) as tf.Tensor2D;
  const dy = tf.randomNormal([B, 512]) as tf.Tensor2D;
  const flop = 2 * B * flatIn * 512;
  const a3 = a.reshape([1, B, flatIn]) as tf.Tensor3D;
  const w3 = w.reshape([1, flatIn, 512]) as tf.Tensor3D;
  const dy3 = dy.reshape([1, B, 512]) as tf.Tensor3D;
  add('dense 7,744 → 512: forward, 3-D BatchMatMul (tfjs matMul)', flop, ms(() => tf.matMul(a, w)));
  const forward = ms(() => matMul2d(a, w));
  add('dense 7,744 → 512: forward, 2-D MatMul (the network)', flop, forward);
  const dW = ms(() => tf.matMul(a3, dy3, true, false));
  const dA = ms(() => tf.matMul(dy3, w3, false, true));
  add('dense 7,744 → 512: kernel gradient (BatchMatMul)', flop, dW);
  add('dense 7,744 → 512: input gradient (BatchMatMul)', flop, dA);
  stepMs += 2 * forward + dW + dA;
  const a1 = a.slice([0, 0], [1, flatIn]) as tf.Tensor2D;
  add('dense 7,744 → 512, batch 1 (acting): 3-D BatchMatMul', flop / B, ms(() => tf.matMul(a1, w)));
  add('dense 7,744 → 512, batch 1 (acting): 2-D MatMul', flop / B, ms(() => matMul2d(a1, w)));
}

const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`# bench-kernels: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, TF_ENABLE_ONEDNN_OPTS=${process.env.TF_ENABLE_ONEDNN_OPTS ?? '(unset: on)'}, load ${load}, median of ${REPS}\n`);
console.log('| kernel | ms | GFLOP/s |');
console.log('| --- | ---: | ---: |');
for (const [what, time, rate] of rows) console.log(`| ${what} | ${time.toFixed(2)} | ${rate.toFixed(1)} |`);
console.log(`\nthese kernels for one gradient step (online + target forward, backward as the network computes it): ${stepMs.toFixed(1)} ms`);
