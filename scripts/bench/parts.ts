// The parts of one agent step, each timed alone (median of repeats after warm-up): emulator round trip, acting,
// replay insert, batch sampling, one gradient step per optimizer scheme (and where its time goes), target sync.
import { randomFillSync } from 'node:crypto';
import seedrandom from 'seedrandom';
import { AleBridge } from '../../envs/ale_bridge.ts';
import { DqnAgent, type DqnHyperparameters } from '../../agents/dqn_agent.ts';
import { ReplayMemory } from '../../agents/replay.ts';
import * as tf from '../../src/tf.ts';
import { DOPAMINE_HP, steadyStateHp } from './loop.ts';
import { median, timeAsync, timeSync } from './stats.ts';
import { originalApplyScaled } from './original.ts';

export const SCHEMES = ['adam', 'adam-l2', 'adamw', 'adam-separated'] as const;

/** λ for the weight-decay schemes: the value matters nothing to the time, only that decay is on. */
export function schemeOptimizer(name: string): DqnHyperparameters['optimizer'] {
  const base = { ...DOPAMINE_HP.optimizer, name };
  return name === 'adam' ? base : { ...base, weightDecay: 0.01 };
}

/** Matrix product rate of the backend, GFLOP/s, for square products of each size (median of repeats). */
export function matmulRates(sizes: number[], repeats: number): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const n of sizes) {
    const a = tf.randomUniform([n, n], -1, 1, 'float32', 1);
    const b = tf.randomUniform([n, n], -1, 1, 'float32', 2);
    // Reading one element back makes sure the product ran; the reduction to it is negligible next to n^3.
    const ms = timeSync(() => tf.tidy(() => tf.matMul(a, b).slice([0, 0], [1, 1]).dataSync()), repeats, 3);
    rates[String(n)] = (2 * n ** 3) / (ms * 1e6);
    tf.dispose([a, b]);
  }
  return rates;
}

/** Fills an agent's replay with random frames in episodes of a few hundred steps (content does not matter here). */
export function fillReplay(replay: ReplayMemory, count: number, seed = 'fill'): void {
  const random = seedrandom(seed);
  // Seeded frames, so two agents filled with the same seed see the same data (verify-network.ts relies on it).
  const pool = Array.from({ length: 16 }, () => Uint8Array.from({ length: replay.frameBytes }, () => Math.floor(random() * 256)));
  let left = 0;
  for (let i = 0; i < count; i++) {
    if (left === 0) left = 200 + Math.floor(random() * 800);
    left -= 1;
    replay.add(pool[i % pool.length], Math.floor(random() * 6), random() < 0.05 ? 1 : 0, left === 0, left === 0);
  }
}

export interface PartsResult {
  emulatorStepMs: number;
  actAgentMs: number;
  actNetworkMs: number;
  replayInsertMs: number;
  sampleBatchMs: number;
  targetSyncMs: number;
  gradientStepMs: Record<string, number>;
  /** Where adam's gradient step goes. */
  breakdown: {
    sampleMs: number;
    inputTransposeMs: number;
    inputStatesTensorMs: number;
    targetForwardMs: number;
    forwardBackwardMs: number;
    optimizerApplyMs: number;
    /** Interleaved A/B of the online forward + backward: this network vs the original formulation. */
    forwardBackwardAbMs: number;
    forwardBackwardOriginalMs: number;
  };
}

export interface PartsOptions {
  game: string;
  repeats: number;
  rounds: number;
  schemes: readonly string[];
  /** Skip the emulator (child processes that only time TensorFlow). */
  emulator?: boolean;
}

export async function measureParts(options: PartsOptions): Promise<PartsResult> {
  const numActions = 6;
  const random = seedrandom('parts');

  // Emulator round trip through the bridge (one environment, random actions, resets not timed).
  let emulatorStepMs = NaN;
  if (options.emulator !== false) {
    const bridge = await AleBridge.start();
    try {
      const env = await bridge.createEnv({ game: options.game, seed: 1 });
      await env.reset();
      const samples: number[] = [];
      for (let i = 0; i < 50 + options.repeats * 10; i++) {
        const start = performance.now();
        const r = await env.step(Math.floor(random() * env.numActions));
        if (i >= 50) samples.push(performance.now() - start);
        if (r.terminal || r.truncated) await env.reset();
      }
      emulatorStepMs = median(samples);
    } finally {
      await bridge.close();
    }
  }

  // One agent per scheme, each with a small replay of random frames.
  const agents = options.schemes.map((name) => {
    const agent = new DqnAgent({ numActions, hyperparameters: steadyStateHp(1000, 20_000, schemeOptimizer(name)), seed: 7 });
    fillReplay(agent.replay, 5000);
    return { name, agent, samples: [] as number[] };
  });
  const main = agents[0].agent;
  const stack = new Uint8Array(4 * 84 * 84);
  randomFillSync(stack);

  // Acting, the agent's path and the network's, alternated call by call (an A/B in the same seconds).
  const actAgent: number[] = [];
  const actNetwork: number[] = [];
  for (let i = 0; i < 10 + options.repeats * 8; i++) {
    let start = performance.now();
    main.greedyActions(stack, 1);
    const a = performance.now() - start;
    start = performance.now();
    main.online.act(stack);
    if (i >= 10) { actAgent.push(a); actNetwork.push(performance.now() - start); }
  }
  const actAgentMs = median(actAgent);
  const actNetworkMs = median(actNetwork);

  const memory = new ReplayMemory({ capacityTransitions: 100_000 });
  fillReplay(memory, 100_000, 'insert');
  const frame = randomFillSync(new Uint8Array(84 * 84));
  const insertSamples: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const start = performance.now();
    memory.add(frame, 1, 0, false, false);
    insertSamples.push(performance.now() - start);
  }
  const replayInsertMs = median(insertSamples);
  const batch = memory.createBatch(32);
  const sampleBatchMs = timeSync(() => memory.sample(32, random, batch), 2000, 200);

  // Gradient steps, schemes interleaved round by round so drifts of the machine hit all alike.
  for (const a of agents) for (let i = 0; i < 3; i++) a.agent.learn();
  for (let r = 0; r < options.rounds; r++) {
    for (const a of agents) {
      for (let i = 0; i < options.repeats; i++) {
        const start = performance.now();
        a.agent.learn();
        a.samples.push(performance.now() - start);
      }
    }
  }
  const gradientStepMs = Object.fromEntries(agents.map((a) => [a.name, median(a.samples)]));

  // Where adam's step goes.
  const sampleRandom = seedrandom('breakdown');
  const own = main.replay.createBatch(32);
  const sampleMs = timeSync(() => main.replay.sample(32, sampleRandom, own), options.repeats * 4);
  const floats = new Float32Array(own.states.length);
  // The batch input as it was built before: uint8 -> float32 copy, then transpose and /255 in TensorFlow.
  const inputTransposeMs = timeSync(() => tf.tidy(() => {
    floats.set(own.states);
    tf.transpose(tf.tensor4d(floats, [32, 4, 84, 84]), [0, 2, 3, 1]).div(255).slice([0, 0, 0, 0], [1, 1, 1, 1]).dataSync();
  }), options.repeats * 2);
  // As the agent builds it now: statesTensor into the agent's scratch buffer.
  const inputStatesTensorMs = timeSync(() => tf.tidy(() => main.online.statesTensor(own.states, 32, floats).slice([0, 0, 0, 0], [1, 1, 1, 1]).dataSync()), options.repeats * 2);
  const input = main.online.statesTensor(own.states, 32);
  const targetForwardMs = timeSync(() => tf.tidy(() => main.target.applyScaled(input).max(1).dataSync()), options.repeats * 2);
  const mask = tf.oneHot(tf.tensor1d(Array.from(own.actions), 'int32'), numActions);
  const targets = tf.randomNormal([32], 0, 1, 'float32', 3);
  const loss = () => tf.losses.huberLoss(targets, main.online.applyScaled(input).mul(mask).sum(1)) as tf.Scalar;
  const forwardBackwardMs = timeSync(() => tf.tidy(() => {
    const { value, grads } = tf.variableGrads(loss, main.online.variables);
    value.dataSync();
    tf.dispose(grads);
  }), options.repeats * 2);
  // A/B on the same input: the same forward + backward with the original formulation (tfjs's fused layers; the first
  // layer's gradient also computes the unneeded gradient with respect to the states; 3-D BatchMatMul).
  const lossOriginal = () => tf.losses.huberLoss(targets, originalApplyScaled(main.online, input).mul(mask).sum(1)) as tf.Scalar;
  const fb: number[] = [];
  const fbOriginal: number[] = [];
  for (let i = 0; i < options.repeats * 2 + 2; i++) {
    for (const [f, samples] of [[loss, fb], [lossOriginal, fbOriginal]] as const) {
      const start = performance.now();
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(f, main.online.variables);
        value.dataSync();
        tf.dispose(grads);
      });
      if (i >= 2) samples.push(performance.now() - start);
    }
  }
  const forwardBackwardAbMs = median(fb);
  const forwardBackwardOriginalMs = median(fbOriginal);
  const fixed = tf.tidy(() => tf.variableGrads(loss, main.online.variables).grads);
  const gradList = main.online.variables.map((v) => ({ name: v.name, tensor: fixed[v.name] }));
  const optimizerApplyMs = timeSync(() => {
    main.optimizer.applyGradients(gradList);
    main.online.variables[9].dataSync();
  }, options.repeats * 2);
  tf.dispose([input, mask, targets, ...Object.values(fixed)]);

  const targetSyncMs = timeSync(() => {
    main.target.copyFrom(main.online);
    main.target.variables[9].dataSync();
  }, options.repeats, 3);

  for (const a of agents) a.agent.dispose();
  return {
    emulatorStepMs, actAgentMs, actNetworkMs, replayInsertMs, sampleBatchMs, targetSyncMs, gradientStepMs,
    breakdown: { sampleMs, inputTransposeMs, inputStatesTensorMs, targetForwardMs, forwardBackwardMs, optimizerApplyMs, forwardBackwardAbMs, forwardBackwardOriginalMs },
  };
}

export { timeAsync };
