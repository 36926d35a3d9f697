// Acting (agents/actor.ts) replaced three copies of ε-greedy: the agent's (one env: a draw, a second draw for a random
// action, else the network), play's (the same) and evaluation's (n envs: the network over all of them first, then
// the draws per env). Runs and checkpoints stay the same only if the actor draws exactly those numbers and picks
// exactly those actions, so both earlier rules are written out here and compared draw for draw.
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import * as tf from '../src/tf.ts';
import { Actor, type GreedyPolicy } from '../agents/actor.ts';
import { FrameStacks, STACK_SIZE } from '../agents/frame_stack.ts';
import { QNetwork } from '../agents/network.ts';

const FRAME_BYTES = 6;
const NUM_ACTIONS = 5;

/** A stand-in Q-network: a state's greedy action is its byte sum mod NUM_ACTIONS; every call is recorded. */
class FakeNetwork implements GreedyPolicy {
  readonly calls: Uint8Array[] = [];
  greedyActions(states: Uint8Array, count: number): Int32Array {
    this.calls.push(states.slice());
    const size = states.length / count;
    return Int32Array.from({ length: count }, (_, k) => states.subarray(k * size, (k + 1) * size).reduce((a, b) => a + b, 0) % NUM_ACTIONS);
  }
}

function frameAt(step: number, k: number): Uint8Array {
  return Uint8Array.from({ length: FRAME_BYTES }, (_, j) => 1 + ((step * 13 + k * 7 + j) % 250));
}

/** The generator's next numbers: two generators that give the same ones have consumed the same draws. */
const next = (random: () => number) => [random(), random(), random()];

describe('the actor', () => {
  it('acts on one environment as the agent and play did: a draw, a second one for a random action, else the network', () => {
    for (const epsilon of [0, 0.3, 0.7, 1]) {
      const oldRandom = seedrandom('one');
      const newRandom = seedrandom('one');
      const oldNet = new FakeNetwork();
      const newNet = new FakeNetwork();
      const stack = new FrameStacks(1, FRAME_BYTES);
      const actor = new Actor(newNet, NUM_ACTIONS, 1, FRAME_BYTES, newRandom);
      for (let t = 0; t < 200; t++) {
        const frame = frameAt(t, 0);
        if (t % 17 === 0) {
          stack.clear(0);
          actor.begin(0, frame);
        } else {
          actor.observe(0, frame);
        }
        stack.push(0, frame);
        const old = oldRandom() <= epsilon ? Math.floor(oldRandom() * NUM_ACTIONS) : oldNet.greedyActions(stack.data, 1)[0];
        expect(actor.act([0], epsilon)[0], `ε ${epsilon}, step ${t}`).toBe(old);
      }
      expect(next(newRandom)).toEqual(next(oldRandom));
      // The network ran on the same states, and only when the action was greedy (never at ε = 1).
      expect(newNet.calls).toEqual(oldNet.calls);
      if (epsilon === 1) expect(newNet.calls).toEqual([]);
    }
  });

  it('acts on n environments as evaluation did: one forward over the active ones, then the draws env by env', () => {
    const n = 4;
    for (const epsilon of [0.001, 0.5]) {
      const oldRandom = seedrandom('batch');
      const newRandom = seedrandom('batch');
      const oldNet = new FakeNetwork();
      const newNet = new FakeNetwork();
      const stacks = new FrameStacks(n, FRAME_BYTES);
      const actor = new Actor(newNet, NUM_ACTIONS, n, FRAME_BYTES, newRandom);
      const all = [...Array(n).keys()];
      all.forEach((k) => {
        stacks.clear(k);
        stacks.push(k, frameAt(0, k));
        actor.begin(k, frameAt(0, k));
      });
      const shuffle = seedrandom('which envs');
      const forwardWanted: Uint8Array[] = [];
      for (let t = 1; t < 150; t++) {
        // Some environments have ended (inactive), some restart, the rest go on.
        const active = t % 5 === 0 ? all.filter(() => shuffle() < 0.6) : all;
        if (active.length === 0) continue;
        const packed = active.length === n ? stacks.data : stacks.gather(active);
        const old = oldNet.greedyActions(packed, active.length);
        let greedy = false;
        for (let k = 0; k < active.length; k++) {
          if (oldRandom() <= epsilon) old[k] = Math.floor(oldRandom() * NUM_ACTIONS);
          else greedy = true;
        }
        if (greedy) forwardWanted.push(packed.slice());
        expect(Array.from(actor.act(active, epsilon)), `ε ${epsilon}, step ${t}`).toEqual(Array.from(old));
        for (const k of active) {
          const fresh = shuffle() < 0.1;
          if (fresh) stacks.clear(k);
          stacks.push(k, frameAt(t, k));
          if (fresh) actor.begin(k, frameAt(t, k));
          else actor.observe(k, frameAt(t, k));
        }
      }
      expect(next(newRandom)).toEqual(next(oldRandom));
      // The network saw evaluation's batches, except those in which every env drew a random action (its result
      // was all overwritten): at ε 0.5 some are skipped, at ε 0.001 none.
      expect(newNet.calls).toEqual(forwardWanted);
      if (epsilon === 0.001) expect(newNet.calls).toEqual(oldNet.calls);
      else expect(newNet.calls.length).toBeLessThan(oldNet.calls.length);
    }
  });

  it('gives each environment its own zero-padded stack', () => {
    const net = new FakeNetwork();
    const actor = new Actor(net, NUM_ACTIONS, 3, 2, () => 0.5);
    actor.begin(0, Uint8Array.from([1, 1]));
    actor.begin(2, Uint8Array.from([3, 3]));
    actor.observe(2, Uint8Array.from([4, 4]));
    actor.act([2, 0], 0);
    expect(Array.from(net.calls[0])).toEqual([0, 0, 0, 0, 3, 3, 4, 4, 0, 0, 0, 0, 0, 0, 1, 1]);
    expect(net.calls[0].length).toBe(2 * STACK_SIZE * 2);
  });

  it('leaks no tensors over many batched forward passes of a real network', () => {
    const network = new QNetwork({ numActions: NUM_ACTIONS, padding: 'valid', seed: 1 });
    try {
      const frameBytes = 84 * 84;
      const actor = new Actor(network, NUM_ACTIONS, 3, frameBytes, seedrandom('leak'));
      const random = seedrandom('frames');
      const frame = () => Uint8Array.from({ length: frameBytes }, () => Math.floor(random() * 256));
      for (let k = 0; k < 3; k++) actor.begin(k, frame());
      actor.act([0, 1, 2], 0);
      const before = tf.memory().numTensors;
      for (let t = 0; t < 30; t++) {
        for (let k = 0; k < 3; k++) actor.observe(k, frame());
        const actions = actor.act(t % 2 ? [0, 1, 2] : [1, 2], 0.1);
        for (const a of actions) expect(a).toBeGreaterThanOrEqual(0);
      }
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      network.dispose();
    }
  });
});
