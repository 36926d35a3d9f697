// Checks agents/network.ts's fast paths against the original formulation (every layer through tfjs's fused ops,
// transpose + /255 inside TensorFlow; scripts/bench/original.ts):
// - bit-identical: the input floats (statesTensor vs transpose + /255) and the convolutional torso's output;
// - within float32 rounding: everything downstream of the dense layers, which multiply with TensorFlow's 2-D
//   MatMul instead of tfjs's 3-D BatchMatMul (another summation order): Q-values, greedy actions, the loss and all
//   gradients of a Huber TD loss; an agent's first loss, and its next 5 losses and weights more loosely (see below).
//   npx tsx scripts/bench/verify-network.ts
import seedrandom from 'seedrandom';
import * as tf from '../../src/tf.ts';
import { QNetwork } from '../../agents/network.ts';
import { DqnAgent } from '../../agents/dqn_agent.ts';
import { steadyStateHp } from './loop.ts';
import { fillReplay } from './parts.ts';
import { originalApply, originalApplyScaled, originalFeatures } from './original.ts';

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  // === : -0 equals 0 (a ReLU gradient's zero may carry either sign); NaN equals NaN.
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

/** Largest |a − b| relative to the largest |b|. */
function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

let failures = 0;
function identical(what: string, ok: boolean): void {
  console.log(`${ok ? 'identical ' : 'DIFFERENT '} ${what}`);
  if (!ok) failures++;
}
/** Passes if the relative difference is at most `tolerance` (a few float32 ulps, 2^-23 ≈ 1.2e-7, after rounding grows). */
function close(what: string, relative: number, tolerance: number): void {
  const ok = relative <= tolerance;
  console.log(`${ok ? 'close     ' : 'TOO FAR   '} ${what}: relative difference ${relative.toExponential(2)} (tolerance ${tolerance.toExponential(0)})`);
  if (!ok) failures++;
}

const random = seedrandom('verify');
for (const padding of ['same', 'valid'] as const) {
  const net = new QNetwork({ numActions: 6, padding, seed: 3 });
  for (const batch of [1, 32]) {
    const bytes = new Uint8Array(batch * 4 * 84 * 84);
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    const planar = tf.tensor4d(new Float32Array(bytes), [batch, 4, 84, 84]);
    const inputOld = tf.tidy(() => tf.transpose(planar, [0, 2, 3, 1]).div(255).dataSync());
    const inputNew = tf.tidy(() => net.statesTensor(bytes, batch).dataSync());
    identical(`${padding} batch ${batch}: statesTensor input vs transpose + /255`, same(inputOld, inputNew));
    const featuresOld = tf.tidy(() => originalFeatures(net, planar).dataSync());
    const featuresNew = tf.tidy(() => net.features(net.statesTensor(bytes, batch)).dataSync());
    identical(`${padding} batch ${batch}: convolutional torso output vs original`, same(featuresOld, featuresNew));
    const qOld = tf.tidy(() => originalApply(net, planar).dataSync());
    const qNew = tf.tidy(() => net.apply(planar).dataSync());
    const qFast = tf.tidy(() => net.applyScaled(net.statesTensor(bytes, batch)).dataSync());
    identical(`${padding} batch ${batch}: apply() vs statesTensor + applyScaled Q-values`, same(qNew, qFast));
    close(`${padding} batch ${batch}: Q-values vs original`, relativeDifference(qNew, qOld), 1e-6);
    const greedyOld = tf.tidy(() => originalApply(net, planar).argMax(1).dataSync());
    identical(`${padding} batch ${batch}: greedyActions vs original argmax`, same(greedyOld, net.greedyActions(bytes, batch)));
    if (batch === 32) {
      const targets = tf.randomNormal([batch], 0, 1, 'float32', 5);
      const mask = tf.oneHot(tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 6), 'int32'), 6);
      const grads = (f: () => tf.Tensor2D) => tf.tidy(() => {
        const { value, grads: g } = tf.variableGrads(() => tf.losses.huberLoss(targets, f().mul(mask).sum(1)) as tf.Scalar, net.variables);
        return [value.dataSync(), ...net.variables.map((v) => g[v.name].dataSync())];
      });
      const gOld = grads(() => originalApply(net, planar));
      const gNew = grads(() => net.apply(planar));
      close(`${padding} batch 32: Huber loss vs original`, relativeDifference(gNew[0], gOld[0]), 1e-6);
      net.variables.forEach((v, i) => close(`${padding} batch 32: gradient of ${v.name.split('/').slice(1).join('/')} vs original`, relativeDifference(gNew[i + 1], gOld[i + 1]), 1e-5));
      tf.dispose([targets, mask]);
    }
    planar.dispose();
  }
  net.dispose();
}
// The agent on this network against the agent on the original formulation: same seed, same replay, 6 Adam updates.
// Not identical, and not within a few ulps either: the two runs start identical and their first update agrees to
// ~1e-8, but Adam's early steps (ε·√(1 − β2^t) ≈ 7e-6 at t = 2) normalise gradient elements of ~1e-6 whose rounding
// differs, so from the second update on some weights part by up to a fraction of one step — the same happens with any
// change of summation order (TensorFlow version, thread count, the optimizer's fused kernel: see
// scripts/bench-optim-update.ts). What a wrong layer would show instead is a different loss from the first step on.
{
  const hp = steadyStateHp(100, 2000);
  const make = () => {
    const agent = new DqnAgent({ numActions: 6, hyperparameters: hp, seed: 9 });
    fillReplay(agent.replay, 1500, 'verify');
    return agent;
  };
  const plain = make();
  const initial = [...plain.online.readWeights().values()].map((w) => Float32Array.from(w.data));
  // The agent on the original network formulation (fused layers, tfjs's step-based ReLU gradient, BatchMatMul).
  const before = make();
  for (const net of [before.online, before.target]) net.applyScaled = (input: tf.Tensor4D) => originalApplyScaled(net, input);
  const lossesPlain = Array.from({ length: 6 }, () => plain.learn());
  const lossesBefore = Array.from({ length: 6 }, () => before.learn());
  close('agent on this network vs on the original formulation: first loss', relativeDifference([lossesPlain[0]], [lossesBefore[0]]), 1e-6);
  close('agent on this network vs on the original formulation: 6 losses', relativeDifference(lossesPlain, lossesBefore), 1e-3);
  const weights = (a: DqnAgent) => [...a.online.readWeights().values()].map((w) => w.data);
  const wp = weights(plain);
  const wb = weights(before);
  // Per variable: the largest weight difference as a fraction of the largest distance any weight moved in 6 updates.
  const apart = Math.max(...wp.map((w, i) => {
    let diff = 0;
    let moved = 0;
    w.forEach((x, j) => {
      diff = Math.max(diff, Math.abs(x - wb[i][j]));
      moved = Math.max(moved, Math.abs(wb[i][j] - initial[i][j]));
    });
    return diff / moved;
  }));
  close('agent on this network vs on the original formulation: weights after 6 updates, as a fraction of how far they moved', apart, 0.2);
  before.dispose();
  plain.dispose();
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exitCode = failures ? 1 : 0;
