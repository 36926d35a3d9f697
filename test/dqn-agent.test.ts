import { describe, expect, it } from 'vitest';
import seedrandom from 'seedrandom';
import * as tf from '../src/tf.ts';
import { DqnAgent, type DqnHyperparameters } from '../agents/dqn_agent.ts';
import { linearlyDecayingEpsilon } from '../agents/epsilon.ts';
import { QNetwork } from '../agents/network.ts';
import { ReplayMemory } from '../agents/replay.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SMALL: DqnHyperparameters = {
  gamma: 0.99, minReplayHistory: 50, updatePeriodSteps: 4, targetUpdatePeriodSteps: 40, epsilonTrain: 0.01,
  epsilonEval: 0.001, epsilonDecayPeriodSteps: 100, batchSize: 8, replayCapacityTransitions: 500, loss: 'huber',
  rewardClip: 1, padding: 'same', optimizer: { name: 'adam', learningRate: 6.25e-5, epsilon: 1.5e-4 },
};

function randomFrame(random: () => number, bytes = 84 * 84): Uint8Array {
  const frame = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 97) frame[i] = Math.floor(random() * 256);
  return frame;
}

/** Plays `steps` agent steps of a fake game (random frames, reward 1 every 7 steps, episodes of 25 steps). */
function drive(agent: DqnAgent, steps: number, seed = 'frames'): number[] {
  const random = seedrandom(seed);
  const losses: number[] = [];
  let action = agent.beginEpisode(randomFrame(random));
  for (let t = 1; t <= steps; t++) {
    const reward = t % 7 === 0 ? 3 : 0;
    if (t % 25 === 0) {
      agent.endEpisode(reward, true);
      action = agent.beginEpisode(randomFrame(random));
    } else {
      action = agent.step(reward, randomFrame(random));
    }
    expect(action).toBeGreaterThanOrEqual(0);
    const loss = agent.takeLossMean();
    if (loss !== null) losses.push(loss);
  }
  return losses;
}

describe('epsilon schedule (Dopamine linearly_decaying_epsilon)', () => {
  it('is 1 during warm-up, linear over the decay period, then flat', () => {
    // Values of Dopamine's formula with decay 250,000, warm-up 20,000, final 0.01.
    expect(linearlyDecayingEpsilon(250_000, 0, 20_000, 0.01)).toBe(1);
    expect(linearlyDecayingEpsilon(250_000, 20_000, 20_000, 0.01)).toBe(1);
    expect(linearlyDecayingEpsilon(250_000, 145_000, 20_000, 0.01)).toBeCloseTo(0.505, 12);
    expect(linearlyDecayingEpsilon(250_000, 270_000, 20_000, 0.01)).toBeCloseTo(0.01, 12);
    expect(linearlyDecayingEpsilon(250_000, 1e7, 20_000, 0.01)).toBeCloseTo(0.01, 12);
  });
});

describe('Q-network', () => {
  it('has Dopamine\'s shapes: SAME padding gives ~4.0M parameters, VALID (Nature) ~1.7M', () => {
    const same = new QNetwork({ numActions: 6, padding: 'same', seed: 0 });
    const valid = new QNetwork({ numActions: 6, padding: 'valid', seed: 0 });
    // conv 8*8*4*32+32, 4*4*32*64+64, 3*3*64*64+64; dense 11*11*64*512+512 (same) or 7*7*64*512+512 (valid); 512*6+6
    expect(same.parameterCount).toBe(8224 + 32832 + 36928 + (7744 * 512 + 512) + 3078);
    expect(valid.parameterCount).toBe(8224 + 32832 + 36928 + (3136 * 512 + 512) + 3078);
    const q = tf.tidy(() => same.apply(tf.zeros([3, 4, 84, 84])).shape);
    expect(q).toEqual([3, 6]);
    same.dispose();
    valid.dispose();
  });

  it('builds its input from uint8 stacks with exactly the floats of transpose + /255, aligned or not', () => {
    const net = new QNetwork({ numActions: 6, padding: 'same', seed: 0 });
    const random = seedrandom('input');
    const stateBytes = 4 * 84 * 84;
    // One byte of offset: the unaligned buffer takes the byte-wise path, the aligned one 32-bit reads.
    const backing = Uint8Array.from({ length: 3 * stateBytes + 1 }, () => Math.floor(random() * 256));
    for (const [name, states] of [['aligned', backing.subarray(0, 3 * stateBytes)], ['unaligned', backing.subarray(1)]] as const) {
      const reference = tf.tidy(() => tf.transpose(tf.tensor4d(Float32Array.from(states), [3, 4, 84, 84]), [0, 2, 3, 1]).div(255).dataSync());
      const scratch = new Float32Array(3 * stateBytes).fill(NaN);
      const ours = tf.tidy(() => net.statesTensor(states, 3, scratch).dataSync());
      expect(Array.from(ours), name).toEqual(Array.from(reference));
    }
    expect(() => net.statesTensor(backing.subarray(0, 100), 1)).toThrow(/need 1 states of 28224 bytes/);
    net.dispose();
  });

  it('computes the Q-values and gradients of plain tfjs layers (conv2d, matMul, autodiff) to float32 rounding', () => {
    for (const padding of ['same', 'valid'] as const) {
      const net = new QNetwork({ numActions: 6, padding, seed: 1 });
      const [k1, b1, k2, b2, k3, b3, w1, c1, w2, c2] = net.variables;
      const plain = (x: tf.Tensor4D) => {
        let h = x;
        for (const [k, b, s] of [[k1, b1, 4], [k2, b2, 2], [k3, b3, 1]] as const) h = tf.relu(tf.add(tf.conv2d(h, k as tf.Tensor4D, s, padding), b)) as tf.Tensor4D;
        const hidden = tf.relu(tf.add(tf.matMul(h.reshape([h.shape[0], -1]) as tf.Tensor2D, w1 as tf.Tensor2D), c1));
        return tf.add(tf.matMul(hidden, w2 as tf.Tensor2D), c2) as tf.Tensor2D;
      };
      const random = seedrandom(`layers-${padding}`);
      const input = tf.tensor4d(Float32Array.from({ length: 8 * 84 * 84 * 4 }, () => random()), [8, 84, 84, 4]);
      const targets = tf.tensor1d(Array.from({ length: 8 }, () => random()));
      const mask = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5, 0, 1], 'int32'), 6);
      const lossAndGrads = (f: (x: tf.Tensor4D) => tf.Tensor2D) => tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.losses.huberLoss(targets, f(input).mul(mask).sum(1)) as tf.Scalar, net.variables);
        return { q: f(input).dataSync(), loss: value.dataSync()[0], grads: net.variables.map((v) => grads[v.name].dataSync()) };
      });
      const ours = lossAndGrads((x) => net.applyScaled(x));
      const ref = lossAndGrads(plain);
      const relative = (a: ArrayLike<number>, b: ArrayLike<number>) => {
        let diff = 0, scale = 0;
        for (let i = 0; i < b.length; i++) { diff = Math.max(diff, Math.abs(a[i] - b[i])); scale = Math.max(scale, Math.abs(b[i])); }
        return diff / scale;
      };
      expect(relative(ours.q, ref.q), `${padding} Q-values`).toBeLessThan(1e-5);
      expect(Math.abs(ours.loss - ref.loss) / ref.loss, `${padding} loss`).toBeLessThan(1e-5);
      ours.grads.forEach((g, i) => expect(relative(g, ref.grads[i]), `${padding} gradient of ${net.variables[i].name}`).toBeLessThan(1e-4));
      tf.dispose([input, targets, mask]);
      net.dispose();
    }
  });

  it('is the same network for the same seed', () => {
    const a = new QNetwork({ numActions: 4, padding: 'same', seed: 5 });
    const b = new QNetwork({ numActions: 4, padding: 'same', seed: 5 });
    const c = new QNetwork({ numActions: 4, padding: 'same', seed: 6 });
    const weights = (n: QNetwork) => [...n.readWeights().values()].map((w) => Array.from(w.data.slice(0, 20)));
    expect(weights(a)).toEqual(weights(b));
    expect(weights(a)).not.toEqual(weights(c));
    [a, b, c].forEach((n) => n.dispose());
  });
});

describe('DQN agent', () => {
  it('counts training steps as Dopamine, learns every 4 steps after warm-up, syncs the target', () => {
    const agent = new DqnAgent({ numActions: 3, hyperparameters: SMALL, seed: 0 });
    drive(agent, 200);
    // Each of the 200 iterations calls one counting method (step, or beginEpisode after an uncounted endEpisode),
    // plus the first beginEpisode.
    expect(agent.trainingSteps).toBe(201);
    expect(agent.replay.addedTransitions).toBe(200);
    // Learning starts when more than 50 transitions are stored, then every 4th training step.
    expect(agent.updates).toBeGreaterThan(30);
    expect(agent.updates).toBeLessThan(40);
    // After a sync the networks agree; they drift apart again with learning.
    agent.target.copyFrom(agent.online);
    const same = tf.tidy(() => agent.online.variables.every((v, i) => tf.equal(v, agent.target.variables[i]).all().dataSync()[0] === 1));
    expect(same).toBe(true);
    agent.dispose();
  });

  it('is deterministic: same seed, same losses for every update', () => {
    const losses = [0, 0].map(() => {
      const agent = new DqnAgent({ numActions: 3, hyperparameters: SMALL, seed: 11 });
      const result = drive(agent, 300);
      agent.dispose();
      return result;
    });
    expect(losses[0].length).toBeGreaterThan(40);
    expect(losses[0]).toEqual(losses[1]);
  });

  it('continues identically from exportState/importState (+ saved replay) in a fresh agent of another seed', async () => {
    const a = new DqnAgent({ numActions: 3, hyperparameters: SMALL, seed: 21 });
    drive(a, 200, 'before');
    const { state, tensors } = await a.exportState();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agent-state-'));
    a.replay.save(path.join(dir, 'replay'));
    // Round-trip through JSON, as a checkpoint does.
    const b = new DqnAgent({ numActions: 3, hyperparameters: SMALL, seed: 99 });
    await b.importState(JSON.parse(JSON.stringify(state)), tensors);
    b.restoreReplay(ReplayMemory.load(path.join(dir, 'replay')));
    fs.rmSync(dir, { recursive: true, force: true });
    expect(b.trainingSteps).toBe(a.trainingSteps);
    expect(b.updates).toBe(a.updates);
    const lossesA = drive(a, 200, 'after');
    const lossesB = drive(b, 200, 'after');
    expect(lossesA.length).toBeGreaterThan(40);
    expect(lossesB).toEqual(lossesA);
    // And without the import, a fresh agent does not follow the same path (the test can fail).
    const c = new DqnAgent({ numActions: 3, hyperparameters: SMALL, seed: 99 });
    expect(drive(c, 200, 'after')).not.toEqual(lossesA);
    [a, b, c].forEach((x) => x.dispose());
  }, 180_000);

  it('refuses a checkpoint of another shape, naming the tensor', async () => {
    const a = new DqnAgent({ numActions: 3, hyperparameters: SMALL, seed: 1 });
    const b = new DqnAgent({ numActions: 4, hyperparameters: SMALL, seed: 1 });
    const { state, tensors } = await a.exportState();
    await expect(b.importState(state, tensors)).rejects.toThrow(/dense2\/(kernel|bias)/);
    a.dispose();
    b.dispose();
  });

  it('leaks no tensors over many steps', () => {
    const agent = new DqnAgent({ numActions: 3, hyperparameters: SMALL, seed: 1 });
    drive(agent, 120, 'warm');
    const before = tf.memory().numTensors;
    drive(agent, 400, 'more');
    expect(tf.memory().numTensors).toBe(before);
    agent.dispose();
  });

  it('learns a synthetic image task well above chance (same network, replay, optimizer, loss)', () => {
    // Each episode is one step: a bright 12x12 square is drawn left or right in an 84x84 frame; action 0 pays 1 when
    // it is left, action 1 when it is right. Chance is 0.5.
    const hp: DqnHyperparameters = { ...SMALL, minReplayHistory: 64, updatePeriodSteps: 1, targetUpdatePeriodSteps: 50, epsilonDecayPeriodSteps: 200, batchSize: 32, replayCapacityTransitions: 2000, optimizer: { name: 'adam', learningRate: 1e-3, epsilon: 1.5e-4 } };
    const agent = new DqnAgent({ numActions: 2, hyperparameters: hp, seed: 3 });
    const random = seedrandom('task');
    const frameFor = (left: boolean) => {
      const frame = new Uint8Array(84 * 84);
      const x0 = left ? 10 : 62;
      for (let y = 36; y < 48; y++) frame.fill(255, y * 84 + x0, y * 84 + x0 + 12);
      return frame;
    };
    for (let episode = 0; episode < 320; episode++) {
      const left = random() < 0.5;
      const action = agent.beginEpisode(frameFor(left));
      agent.endEpisode((action === 0) === left ? 1 : 0, true);
    }
    agent.evalMode = true;
    let correct = 0;
    for (let episode = 0; episode < 200; episode++) {
      const left = random() < 0.5;
      if ((agent.beginEpisode(frameFor(left)) === 0) === left) correct += 1;
    }
    expect(correct / 200).toBeGreaterThan(0.9);
    agent.dispose();
  }, 180_000);
});
