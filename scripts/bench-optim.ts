/**
 * Benchmark: time of one DQN training step (Nature CNN, ~1.69M parameters, batch 32, Huber loss) per optimizer
 * scheme, against tfjs's built-in Adam on the same step; and the optimizer's own time (applyGradients on fixed
 * gradients). Prints a markdown table of medians (ms) and ratios.
 *
 *   npx tsx scripts/bench-optim.ts [--rounds 6] [--steps 8] [--warmup 3] [--padding valid|same]
 *
 * --padding valid (default): the Nature paper's network, 84 → 20 → 9 → 7, ~1.69M parameters (the figure).
 * --padding same: Dopamine's (and this harness's default DQN) network, 84 → 21 → 11 → 11, ~4.0M parameters.
 *
 * Schemes are interleaved round by round (each round runs `steps` steps of every scheme), so slow drifts of the
 * machine hit all schemes alike. Not a test: nothing here is asserted.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';

import * as tf from '../src/tf.ts';

import { createOptimizer, optimizerNames, type OptimizerName, type OptimizerOptions } from '../src/optim/index.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const ROUNDS = arg('rounds', 6);
const STEPS = arg('steps', 8);
const WARMUP = arg('warmup', 3);
const PADDING: 'valid' | 'same' = process.argv.includes('--padding') && process.argv[process.argv.indexOf('--padding') + 1] === 'same' ? 'same' : 'valid';
const FLAT = PADDING === 'same' ? 11 * 11 * 64 : 7 * 7 * 64;
const BATCH = 32;
const ACTIONS = 6;

// ---------------------------------------------------------------------------------------------------------------
// Nature CNN (Mnih et al. 2015): conv 32 8×8/4, conv 64 4×4/2, conv 64 3×3/1, dense 512, linear to 6 actions.

function glorot(shape: number[], fanIn: number, fanOut: number, name: string): tf.Variable {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return tf.variable(tf.randomUniform(shape, -limit, limit, 'float32', 7), true, name);
}

const params = {
  c1w: glorot([8, 8, 4, 32], 8 * 8 * 4, 8 * 8 * 32, 'bench/c1/kernel'),
  c1b: tf.variable(tf.zeros([32]), true, 'bench/c1/bias'),
  c2w: glorot([4, 4, 32, 64], 4 * 4 * 32, 4 * 4 * 64, 'bench/c2/kernel'),
  c2b: tf.variable(tf.zeros([64]), true, 'bench/c2/bias'),
  c3w: glorot([3, 3, 64, 64], 3 * 3 * 64, 3 * 3 * 64, 'bench/c3/kernel'),
  c3b: tf.variable(tf.zeros([64]), true, 'bench/c3/bias'),
  d1w: glorot([FLAT, 512], FLAT, 512, 'bench/d1/kernel'),
  d1b: tf.variable(tf.zeros([512]), true, 'bench/d1/bias'),
  d2w: glorot([512, ACTIONS], 512, ACTIONS, 'bench/d2/kernel'),
  d2b: tf.variable(tf.zeros([ACTIONS]), true, 'bench/d2/bias'),
};
const vars = Object.values(params);
const parameterCount = vars.reduce((s, v) => s + v.size, 0);

function qValues(x: tf.Tensor4D): tf.Tensor2D {
  let h = tf.relu(tf.add(tf.conv2d(x, params.c1w as tf.Tensor4D, 4, PADDING), params.c1b)) as tf.Tensor4D;
  h = tf.relu(tf.add(tf.conv2d(h, params.c2w as tf.Tensor4D, 2, PADDING), params.c2b)) as tf.Tensor4D;
  h = tf.relu(tf.add(tf.conv2d(h, params.c3w as tf.Tensor4D, 1, PADDING), params.c3b)) as tf.Tensor4D;
  const flat = tf.reshape(h, [BATCH, FLAT]);
  const d = tf.relu(tf.add(tf.matMul(flat, params.d1w as tf.Tensor2D), params.d1b));
  return tf.add(tf.matMul(d, params.d2w as tf.Tensor2D), params.d2b) as tf.Tensor2D;
}

// A fixed batch (uint8-like frames scaled to [0, 1]), actions and TD targets.
const states = tf.keep(tf.div(tf.floor(tf.randomUniform([BATCH, 84, 84, 4], 0, 256, 'float32', 1)), 255)) as tf.Tensor4D;
const actions = tf.keep(tf.oneHot(tf.randomUniform([BATCH], 0, ACTIONS, 'int32', 2), ACTIONS).toFloat());
const targets = tf.keep(tf.randomNormal([BATCH], 0, 1, 'float32', 3));

const loss = (): tf.Scalar =>
  tf.losses.huberLoss(targets, tf.sum(tf.mul(qValues(states), actions), 1)) as tf.Scalar;

// ---------------------------------------------------------------------------------------------------------------
// Contenders: tfjs's built-in Adam (the baseline), and every scheme with DQN-like settings.

const DQN_LR = 6.25e-5;
function schemeOptions(name: OptimizerName): OptimizerOptions {
  if (name.startsWith('adam')) {
    return { learningRate: DQN_LR, epsilon: 1.5e-4, ...(name === 'adam' ? {} : { weightDecay: 0.01 }) };
  }
  if (name.startsWith('sgd')) return { learningRate: 1e-3, momentum: 0.9, ...(name === 'sgd' ? {} : { weightDecay: 0.01 }) };
  return {
    learningRate: 2.5e-4,
    rho: 0.95,
    epsilon: 1e-5,
    centered: true,
    ...(name === 'rmsprop' ? {} : { weightDecay: 0.01 }),
  };
}

interface Contender {
  label: string;
  optimizer: tf.Optimizer;
  full: number[];
  optimizerOnly: number[];
}

const contenders: Contender[] = [
  { label: 'tfjs built-in Adam (baseline)', optimizer: tf.train.adam(DQN_LR, 0.9, 0.999, 1.5e-4), full: [], optimizerOnly: [] },
  ...optimizerNames.map((name) => ({
    label: name,
    optimizer: createOptimizer(name, schemeOptions(name)) as tf.Optimizer,
    full: [],
    optimizerOnly: [],
  })),
  {
    label: 'adam-l2 + trackLastStep',
    optimizer: createOptimizer('adam-l2', { ...schemeOptions('adam-l2'), trackLastStep: true }) as tf.Optimizer,
    full: [],
    optimizerOnly: [],
  },
  { label: 'tfjs built-in RMSProp (not centered)', optimizer: tf.train.rmsprop(2.5e-4, 0.95, 0, 1e-5, false), full: [], optimizerOnly: [] },
];

// Fixed gradients for the optimizer-only timing.
const fixedGrads = tf.tidy(() => {
  const { grads, value } = tf.variableGrads(loss, vars);
  value.dispose();
  return grads;
});
const fixedGradList = vars.map((v) => ({ name: v.name, tensor: fixedGrads[v.name] }));

function timeFullStep(opt: tf.Optimizer): number {
  const start = performance.now();
  const cost = opt.minimize(loss, true, vars);
  cost!.dataSync();
  // tfjs-node runs ops synchronously; reading one weight back makes sure the update is done too.
  params.d2b.dataSync();
  const ms = performance.now() - start;
  cost!.dispose();
  return ms;
}

function timeOptimizerOnly(opt: tf.Optimizer): number {
  const start = performance.now();
  opt.applyGradients(fixedGradList);
  params.d2b.dataSync();
  return performance.now() - start;
}

function timeGradientsOnly(): number {
  const start = performance.now();
  const { value, grads } = tf.variableGrads(loss, vars);
  value.dataSync();
  const ms = performance.now() - start;
  value.dispose();
  tf.dispose(grads);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// ---------------------------------------------------------------------------------------------------------------

const cpus = os.cpus();
console.log(`# bench-optim: Nature CNN (${PADDING.toUpperCase()} padding), ${parameterCount.toLocaleString('en')} parameters, batch ${BATCH}, Huber loss`);
console.log(`# machine: ${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
  `node ${process.version}, tfjs-node ${tf.version['tfjs-node'] ?? '?'} (backend ${tf.getBackend()}), no GPU`);
console.log(`# ${ROUNDS} rounds × ${STEPS} steps per contender after ${WARMUP} warm-up steps (interleaved)\n`);

for (const c of contenders) {
  for (let i = 0; i < WARMUP; i++) {
    timeFullStep(c.optimizer);
    timeOptimizerOnly(c.optimizer);
  }
}
const gradientsOnly: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < STEPS; i++) gradientsOnly.push(timeGradientsOnly());
  for (const c of contenders) {
    for (let i = 0; i < STEPS; i++) c.full.push(timeFullStep(c.optimizer));
    for (let i = 0; i < STEPS; i++) c.optimizerOnly.push(timeOptimizerOnly(c.optimizer));
  }
}

const base = contenders[0];
const baseFull = median(base.full);
const baseOpt = median(base.optimizerOnly);
console.log(`forward + backward alone (tf.variableGrads, no update): median ${median(gradientsOnly).toFixed(1)} ms\n`);
console.log('| scheme | full step, median ms | ratio to built-in Adam | optimizer only, median ms | ratio to built-in Adam |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const c of contenders) {
  const f = median(c.full);
  const o = median(c.optimizerOnly);
  console.log(`| ${c.label} | ${f.toFixed(1)} | ${(f / baseFull).toFixed(3)} | ${o.toFixed(2)} | ${(o / baseOpt).toFixed(3)} |`);
}
console.log(`\n(tf.memory().numTensors at the end: ${tf.memory().numTensors})`);
