/**
 * Benchmark: the optimizer update of the harness's DQN (Dopamine's SAME-padded Nature CNN, 4,046,502 parameters in
 * 10 variables) on its two paths — TensorFlow's fused kernels (the default on the tensorflow backend) and the
 * composite tfjs ops (`setFusedKernels(false)`) — for every scheme, in one process:
 *
 *   1. update only: applyGradients on fixed gradients of the network, per scheme;
 *   2. whole gradient step: DqnAgent.learn() (sampling, input, target forward, forward + backward, update, loss
 *      read-back), for the schemes of the DQN study and Dopamine's TF RMSProp;
 *   3. no leak: tf.memory().numTensors before and after many steps on each path;
 *   4. same results: (a) the optimizer alone, two network copies fed the same gradients, one per path: largest
 *      weight difference in float32 ulps; (b) two agents of one seed, one per path, against a control pair that
 *      differs by one ulp in one weight (gradients feed back through ReLUs, so any 1-ulp difference grows).
 *
 *   npx tsx scripts/bench-optim-update.ts [--rounds 7] [--reps 3] [--learn-rounds 7] [--check-steps 30]
 *                                         [--schemes adam,adamw,...] [--skip-learn] [--skip-check] [--json FILE]
 *
 * The two paths alternate call by call (A, B, B, A, ...) and each figure is a median, so a shared machine's drifts
 * hit both alike; compare the ratios, not absolute times across runs. Not a test: nothing is asserted.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';

import { DqnAgent, type DqnHyperparameters } from '../agents/dqn_agent.ts';
import { QNetwork } from '../agents/network.ts';
import { PRESETS } from '../src/run/presets.ts';
import { fillReplay } from './bench/parts.ts';
import { median } from './bench/stats.ts';
import * as tf from '../src/tf.ts';
import {
  createOptimizer,
  fusedKernelsActive,
  optimizerNames,
  setFusedKernels,
  type OptimizerOptions,
  type WeightDecayOptimizer,
} from '../src/optim/index.ts';

function flag(name: string): boolean {
  return process.argv.includes(`--${name}`);
}
function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const ROUNDS = Number(arg('rounds', '7'));
const REPS = Number(arg('reps', '3'));
const LEARN_ROUNDS = Number(arg('learn-rounds', '7'));
const CHECK_STEPS = Number(arg('check-steps', '30'));
const SCHEMES = arg('schemes', optimizerNames.join(',')).split(',');
const JSON_OUT = arg('json', '');

// Dopamine's settings, as the presets give them to runs (both with trackLastStep, as the runs have it); λ only needs
// to switch decay on. SGD has no preset: α = 1e-3, μ = 0.9.
const DOPAMINE_ADAM = PRESETS.dopamine.optimizerFamilies.adam;
const DOPAMINE_RMSPROP = PRESETS['dopamine-tf'].optimizerFamilies.rmsprop;
function schemeOptions(name: string, extra: Partial<OptimizerOptions> = {}): OptimizerOptions {
  const wd = name.endsWith('-l2') || name.endsWith('w') || name === 'adam-separated' ? { weightDecay: 0.01 } : {};
  const base = name.startsWith('adam') ? DOPAMINE_ADAM : name.startsWith('sgd') ? { learningRate: 1e-3, momentum: 0.9, trackLastStep: true } : DOPAMINE_RMSPROP;
  return { ...base, ...wd, ...extra };
}

const HP: DqnHyperparameters = {
  gamma: 0.99, minReplayHistory: 1000, updatePeriodSteps: 4, targetUpdatePeriodSteps: 8000, epsilonTrain: 0.01,
  epsilonEval: 0.001, epsilonDecayPeriodSteps: 1, batchSize: 32, replayCapacityTransitions: 6000, loss: 'huber',
  rewardClip: 1, padding: 'same', optimizer: { name: 'adam', ...DOPAMINE_ADAM },
};

/** Times `fn` on both paths, alternating A B B A per repetition; returns the samples of each. */
function alternate(fn: () => void, rounds: number, reps: number): { fused: number[]; composite: number[] } {
  const out = { fused: [] as number[], composite: [] as number[] };
  for (let r = 0; r < rounds * reps; r++) {
    const order = r % 2 === 0 ? [true, false] : [false, true];
    for (const fused of order) {
      setFusedKernels(fused);
      const start = performance.now();
      fn();
      (fused ? out.fused : out.composite).push(performance.now() - start);
    }
  }
  setFusedKernels(true);
  return out;
}

const cpus = os.cpus();
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(`# bench-optim-update: DQN update, fused TensorFlow kernels vs composite tfjs ops`);
console.log(`# ${cpus.length} × ${cpus[0]?.model ?? '?'}, node ${process.version}, tfjs-node ${tf.version['tfjs-node']}, ` +
  `backend ${tf.getBackend()}, fused kernels available: ${fusedKernelsActive()}; load ${load()}; ${new Date().toISOString()}`);
if (!fusedKernelsActive()) console.log('# (no fused kernels here: both columns run the composite ops)');
const result: Record<string, unknown> = { date: new Date().toISOString(), loadStart: os.loadavg(), rounds: ROUNDS, reps: REPS };

// ---------------------------------------------------------------------------------------------------------------
// 1. Update only.

const net = new QNetwork({ numActions: 6, padding: 'same', seed: 3 });
console.log(`# network: ${net.variables.length} variables, ${net.parameterCount.toLocaleString('en')} parameters\n`);
const grads = tf.tidy(() => {
  const x = tf.randomUniform([32, 4, 84, 84], 0, 255, 'float32', 5) as tf.Tensor4D;
  const target = tf.randomNormal([32, 6], 0, 1, 'float32', 6);
  const { grads: g, value } = tf.variableGrads(() => tf.losses.huberLoss(target, net.apply(x)) as tf.Scalar, net.variables);
  value.dispose();
  return g;
});
const gradList = net.variables.map((v) => ({ name: v.name, tensor: grads[v.name] }));
const tiny = net.variables[net.variables.length - 1];

interface Contender { label: string; opt: WeightDecayOptimizer }
const contenders: Contender[] = SCHEMES.map((name) => ({ label: name, opt: createOptimizer(name, schemeOptions(name)) }));
for (const name of ['adam', 'adam-l2'].filter((n) => SCHEMES.includes(n))) {
  contenders.push({ label: `${name}, trackLastStep off`, opt: createOptimizer(name, schemeOptions(name, { trackLastStep: false })) });
}
const update: Record<string, { fused: number; composite: number; ratio: number }> = {};
for (const c of contenders) {
  const step = () => {
    c.opt.applyGradients(gradList);
    tiny.dataSync();
  };
  alternate(step, 1, 2); // warm-up: slots and resources created
}
const samples = new Map(contenders.map((c) => [c.label, { fused: [] as number[], composite: [] as number[] }]));
for (let round = 0; round < ROUNDS; round++) {
  for (const c of contenders) {
    const s = alternate(() => {
      c.opt.applyGradients(gradList);
      tiny.dataSync();
    }, 1, REPS);
    samples.get(c.label)!.fused.push(...s.fused);
    samples.get(c.label)!.composite.push(...s.composite);
  }
}
console.log(`## 1. Update only (applyGradients on fixed gradients; median of ${ROUNDS} rounds × ${REPS} alternations)\n`);
console.log('| scheme | composite, ms | fused, ms | fused / composite |');
console.log('| --- | ---: | ---: | ---: |');
for (const c of contenders) {
  const s = samples.get(c.label)!;
  const f = median(s.fused);
  const k = median(s.composite);
  update[c.label] = { fused: f, composite: k, ratio: f / k };
  console.log(`| ${c.label} | ${k.toFixed(2)} | ${f.toFixed(2)} | ${(f / k).toFixed(3)} |`);
}
result.updateOnly = update;

// ---------------------------------------------------------------------------------------------------------------
// 3 (on the update-only optimizers). No leak: numTensors after 10 and after 200 more steps on each path.

const leaks: Record<string, { fused: number; composite: number }> = {};
for (const fused of [true, false]) {
  setFusedKernels(fused);
  for (const c of contenders) {
    for (let i = 0; i < 10; i++) c.opt.applyGradients(gradList);
    c.opt.diagnostics();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 200; i++) {
      c.opt.applyGradients(gradList);
      if (i % 50 === 0) c.opt.diagnostics();
    }
    (leaks[c.label] ??= { fused: 0, composite: 0 })[fused ? 'fused' : 'composite'] = tf.memory().numTensors - before;
  }
}
setFusedKernels(true);
console.log('\n## 3. Tensor leak check: change of tf.memory().numTensors over 200 steps (+ diagnostics)\n');
console.log(Object.entries(leaks).map(([k, v]) => `${k}: fused ${v.fused >= 0 ? '+' : ''}${v.fused}, composite ${v.composite >= 0 ? '+' : ''}${v.composite}`).join('; '));
result.numTensorsChange = leaks;
for (const c of contenders) c.opt.dispose();
tf.dispose(Object.values(grads));

// ---------------------------------------------------------------------------------------------------------------
// 2. Whole gradient step: DqnAgent.learn().

const LEARN_SCHEMES = ['adam', 'adam-l2', 'adamw', 'adam-separated', 'rmsprop'].filter((n) => SCHEMES.includes(n));
if (!flag('skip-learn') && LEARN_SCHEMES.length > 0) {
  const agents = LEARN_SCHEMES.map((name) => {
    const agent = new DqnAgent({ numActions: 6, hyperparameters: { ...HP, optimizer: { name, ...schemeOptions(name) } }, seed: 7 });
    fillReplay(agent.replay, 5000, 'fill');
    return { name, agent, fused: [] as number[], composite: [] as number[] };
  });
  for (const a of agents) alternate(() => a.agent.learn(), 1, 2);
  const beforeLearn = tf.memory().numTensors;
  for (let round = 0; round < LEARN_ROUNDS; round++) {
    for (const a of agents) {
      const s = alternate(() => a.agent.learn(), 1, REPS);
      a.fused.push(...s.fused);
      a.composite.push(...s.composite);
    }
  }
  const learnLeak = tf.memory().numTensors - beforeLearn;
  console.log(`\n## 2. Whole gradient step (DqnAgent.learn(), batch 32; median of ${LEARN_ROUNDS} rounds × ${REPS} alternations)\n`);
  console.log('| scheme | composite, ms | fused, ms | fused / composite | saved, ms |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  const learn: Record<string, { fused: number; composite: number; ratio: number }> = {};
  for (const a of agents) {
    const f = median(a.fused);
    const k = median(a.composite);
    learn[a.name] = { fused: f, composite: k, ratio: f / k };
    console.log(`| ${a.name} | ${k.toFixed(1)} | ${f.toFixed(1)} | ${(f / k).toFixed(3)} | ${(k - f).toFixed(1)} |`);
  }
  console.log(`\n(numTensors change over all those gradient steps: ${learnLeak >= 0 ? '+' : ''}${learnLeak})`);
  result.learn = learn;
  result.learnNumTensorsChange = learnLeak;
  for (const a of agents) a.agent.dispose();
}

// ---------------------------------------------------------------------------------------------------------------
// 4. Same results. (a) The optimizer alone: two copies of the network, one per path, get the same gradients (those
// of the composite copy on a new random batch each step), so only the update's rounding can differ. (b) Two agents
// of one seed, one per path: there the gradients feed back, and a ReLU flipping on a 1-ulp difference changes some
// gradient elements by O(1), so trajectories drift apart as after any 1-ulp perturbation — the control row is the
// composite path against itself with one weight of the first layer moved by one ulp before the first step.

/**
 * Largest distance in float32 ulps between two arrays, over elements with |w| ≥ 1e-3 (nearly all weights: Glorot
 * init; the ulp of a weight near 0 is no yardstick for the update's rounding).
 */
function maxUlps(a: Float32Array, b: Float32Array): number {
  const ia = new Int32Array(a.buffer, a.byteOffset, a.length);
  const ib = new Int32Array(b.buffer, b.byteOffset, b.length);
  let worst = 0;
  for (let j = 0; j < a.length; j++) {
    if (a[j] === b[j] || Math.abs(b[j]) < 1e-3) continue;
    worst = Math.max(worst, (ia[j] < 0) !== (ib[j] < 0) ? 2 ** 31 : Math.abs(ia[j] - ib[j]));
  }
  return worst;
}

function compareNets(x: tf.Variable[], y: tf.Variable[]): { maxDiff: number; ulps: number; identical: boolean } {
  let maxDiff = 0;
  let ulps = 0;
  x.forEach((v, i) => {
    const a = Float32Array.from(v.dataSync() as Float32Array);
    const b = Float32Array.from(y[i].dataSync() as Float32Array);
    for (let j = 0; j < a.length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
    ulps = Math.max(ulps, maxUlps(a, b));
  });
  return { maxDiff, ulps, identical: maxDiff === 0 && ulps === 0 };
}

if (!flag('skip-check') && CHECK_STEPS > 0) {
  console.log(`\n## 4a. The optimizer alone: ${CHECK_STEPS} steps on the same gradients, fused vs composite\n`);
  console.log('| scheme | max |w_fused − w_composite| | in float32 ulps (|w| ≥ 1e-3) | largest single step |Δw| (dense1) | bit-identical |');
  console.log('| --- | ---: | ---: | ---: | --- |');
  const check: Record<string, unknown> = {};
  for (const name of SCHEMES) {
    const nets = [0, 1].map(() => new QNetwork({ numActions: 6, padding: 'same', seed: 21 }));
    const opts = [0, 1].map(() => createOptimizer(name, schemeOptions(name)));
    let largestStep = 0;
    for (let t = 0; t < CHECK_STEPS; t++) {
      const before = Float32Array.from(nets[1].variables[6].dataSync() as Float32Array);
      tf.tidy(() => {
        const x = tf.randomUniform([32, 4, 84, 84], 0, 255, 'float32', 100 + t) as tf.Tensor4D;
        const target = tf.randomNormal([32, 6], 0, 1, 'float32', 200 + t);
        const { grads: g } = tf.variableGrads(() => tf.losses.huberLoss(target, nets[1].apply(x)) as tf.Scalar, nets[1].variables);
        [0, 1].forEach((i) => {
          setFusedKernels(i === 0);
          opts[i].applyGradients(nets[i].variables.map((v, k) => ({ name: v.name, tensor: g[nets[1].variables[k].name] })));
        });
      });
      const after = nets[1].variables[6].dataSync();
      for (let j = 0; j < after.length; j++) largestStep = Math.max(largestStep, Math.abs(after[j] - before[j]));
    }
    setFusedKernels(true);
    const c = compareNets(nets[0].variables, nets[1].variables);
    check[name] = { ...c, largestStepDense1: largestStep };
    console.log(`| ${name} | ${c.maxDiff.toExponential(2)} | ${c.ulps} | ${largestStep.toExponential(2)} | ${c.identical ? 'yes' : 'no'} |`);
    opts.forEach((o) => o.dispose());
    nets.forEach((n) => n.dispose());
  }
  result.checkOptimizer = check;

  console.log(`\n## 4b. Whole agents (gradients feed back): ${CHECK_STEPS} gradient steps, one seed\n`);
  console.log('| scheme | pair | max |Δw| | largest relative loss difference |');
  console.log('| --- | --- | ---: | ---: |');
  const agentsCheck: Record<string, unknown> = {};
  for (const name of SCHEMES) {
    const make = () => {
      const agent = new DqnAgent({ numActions: 6, hyperparameters: { ...HP, optimizer: { name, ...schemeOptions(name) } }, seed: 11 });
      fillReplay(agent.replay, 3000, 'check');
      return agent;
    };
    for (const pairKind of ['fused vs composite', 'composite vs composite, 1 ulp moved'] as const) {
      const pair = [make(), make()];
      if (pairKind !== 'fused vs composite') {
        const v = pair[0].online.variables[0];
        const data = Float32Array.from(v.dataSync() as Float32Array);
        data[0] = data[0] + Math.abs(data[0]) * 2 ** -23;
        v.assign(tf.tensor(data, v.shape));
      }
      const losses: number[][] = [[], []];
      for (let t = 0; t < CHECK_STEPS; t++) {
        pair.forEach((agent, i) => {
          setFusedKernels(pairKind === 'fused vs composite' && i === 0);
          losses[i].push(agent.learn());
        });
      }
      setFusedKernels(true);
      const c = compareNets(pair[0].online.variables, pair[1].online.variables);
      const lossRel = Math.max(...losses[0].map((l, t) => Math.abs(l - losses[1][t]) / Math.abs(losses[1][t])));
      (agentsCheck[name] ??= {} as Record<string, unknown>) as Record<string, unknown>;
      (agentsCheck[name] as Record<string, unknown>)[pairKind] = { maxWeightDiff: c.maxDiff, maxRelativeLossDiff: lossRel };
      console.log(`| ${name} | ${pairKind} | ${c.maxDiff.toExponential(2)} | ${lossRel.toExponential(2)} |`);
      pair.forEach((a) => a.dispose());
    }
  }
  result.checkAgents = agentsCheck;
}

result.loadEnd = os.loadavg();
console.log(`\n# load at the end ${load()}; numTensors ${tf.memory().numTensors}`);
if (JSON_OUT) {
  writeFileSync(JSON_OUT, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`# wrote ${JSON_OUT}`);
}
