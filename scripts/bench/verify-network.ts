// Checks that agents/network.ts's fast paths give bit-identical numbers to the original formulation (every layer
// fused, transpose + /255 inside TensorFlow): forward Q-values for batch 1 and 32, greedy actions through
// statesTensor/act, and the gradients of a Huber TD loss with respect to every variable.
//   npx tsx scripts/bench/verify-network.ts
import seedrandom from 'seedrandom';
import * as tf from '../../src/tf.ts';
import { QNetwork } from '../../agents/network.ts';
import { DqnAgent } from '../../agents/dqn_agent.ts';
import { steadyStateHp } from './loop.ts';
import { fillReplay } from './parts.ts';
import { originalApply } from './original.ts';

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  // === : -0 equals 0 (a ReLU gradient's zero may carry either sign); NaN equals NaN.
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

let failures = 0;
function check(what: string, ok: boolean): void {
  console.log(`${ok ? 'identical' : 'DIFFERENT'}  ${what}`);
  if (!ok) failures++;
}

const random = seedrandom('verify');
for (const padding of ['same', 'valid'] as const) {
  const net = new QNetwork({ numActions: 6, padding, seed: 3 });
  for (const batch of [1, 32]) {
    const bytes = new Uint8Array(batch * 4 * 84 * 84);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    const planar = tf.tensor4d(new Float32Array(bytes), [batch, 4, 84, 84]);
    const qOld = tf.tidy(() => originalApply(net, planar).dataSync());
    const qNew = tf.tidy(() => net.apply(planar).dataSync());
    const qFast = tf.tidy(() => net.applyScaled(net.statesTensor(bytes, batch)).dataSync());
    check(`${padding} batch ${batch}: apply() Q-values vs original`, same(qOld, qNew));
    check(`${padding} batch ${batch}: statesTensor + applyScaled Q-values vs original`, same(qOld, qFast));
    const greedyOld = tf.tidy(() => originalApply(net, planar).argMax(1).dataSync());
    check(`${padding} batch ${batch}: greedyActions vs original argmax`, same(greedyOld, net.greedyActions(bytes, batch)));
    if (batch === 1) check(`${padding}: act() vs original argmax`, net.act(bytes) === greedyOld[0]);
    if (batch === 32) {
      const targets = tf.randomNormal([batch], 0, 1, 'float32', 5);
      const mask = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 6), 'int32'), 6);
      const grads = (f: () => tf.Tensor2D) => tf.tidy(() => {
        const { value, grads: g } = tf.variableGrads(() => tf.losses.huberLoss(targets, f().mul(mask).sum(1)) as tf.Scalar, net.variables);
        return [value.dataSync(), ...net.variables.map((v) => g[v.name].dataSync())];
      });
      const gOld = grads(() => originalApply(net, planar));
      const gNew = grads(() => net.apply(planar));
      check(`${padding} batch 32: loss and gradients of all ${net.variables.length} variables vs original`, gOld.every((g, i) => same(g, gNew[i])));
      tf.dispose([targets, mask]);
    }
    planar.dispose();
  }
  net.dispose();
}
// The agent on this network against the agent on the original formulation: same seed, same replay, same losses
// and weights after 6 Adam updates.
{
  const hp = steadyStateHp(100, 2000);
  const make = () => {
    const agent = new DqnAgent({ numActions: 6, hyperparameters: hp, seed: 9 });
    fillReplay(agent.replay, 1500, 'verify');
    return agent;
  };
  const plain = make();
  // The agent on the original network formulation (fused first layer, tfjs's step-based ReLU gradient).
  const before = make();
  before.online.apply = (states: tf.Tensor4D) => originalApply(before.online, states);
  before.target.apply = (states: tf.Tensor4D) => originalApply(before.target, states);
  const lossesPlain = Array.from({ length: 6 }, () => plain.learn());
  const lossesBefore = Array.from({ length: 6 }, () => before.learn());
  check('agent on this network vs on the original formulation: 6 losses', same(lossesPlain, lossesBefore));
  const weights = (a: DqnAgent) => [...a.online.readWeights().values()].map((w) => w.data);
  const wp = weights(plain);
  const wb = weights(before);
  check('agent on this network vs on the original formulation: online weights after 6 updates', wp.every((w, i) => same(w, wb[i])));
  before.dispose();
  plain.dispose();
}
console.log(failures ? `${failures} check(s) differ` : 'all checks identical');
process.exitCode = failures ? 1 : 0;
