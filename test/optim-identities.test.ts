/**
 * Identities between the schemes (the list), run on small random problems.
 */
import * as tf from '../src/tf.ts';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';

import {
  createOptimizer,
  optimizerNames,
  SCHEMES,
  type OptimizerName,
  type OptimizerOptions,
  type WeightDecayOptimizer,
} from '../src/optim/index.ts';

const SHAPES = [[4, 3], [3], [2, 2, 3]];
let unique = 0;

function normals(n: number, rng: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rng(), 1e-12);
    out[i] = scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  }
  return out;
}

/** Fixed initial weights and gradient sequence (gradient scale varies per step, as in the golden fixtures). */
function problem(seed: string, steps: number, gradScale = 1) {
  const rng = seedrandom(seed);
  const init = SHAPES.map((s) => normals(tf.util.sizeFromShape(s), rng));
  const grads = Array.from({ length: steps }, () =>
    SHAPES.map((s) => normals(tf.util.sizeFromShape(s), rng, gradScale * 10 ** (-2 * rng()))),
  );
  return { init, grads };
}

function makeVars(init: Float32Array[]): tf.Variable[] {
  unique++;
  return init.map((w, i) => tf.variable(tf.tensor(w, SHAPES[i]), true, `ident${unique}/v${i}${SHAPES[i].length}`));
}

/** Runs `opt` on the fixed gradients; returns the weights after every step. */
function run(opt: WeightDecayOptimizer, init: Float32Array[], grads: Float32Array[][]): Float32Array[][] {
  const vars = makeVars(init);
  const trajectory: Float32Array[][] = [];
  for (const step of grads) {
    const named = step.map((g, i) => ({ name: vars[i].name, tensor: tf.tensor(g, SHAPES[i]) }));
    opt.applyGradients(named);
    tf.dispose(named.map((n) => n.tensor));
    trajectory.push(vars.map((v) => v.dataSync() as Float32Array).map((a) => Float32Array.from(a)));
  }
  opt.dispose();
  tf.dispose(vars);
  return trajectory;
}

function maxDiff(a: Float32Array[][], b: Float32Array[][]): number {
  let worst = 0;
  a.forEach((step, t) =>
    step.forEach((w, i) => w.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - b[t][i][j]))))),
  );
  return worst;
}

function norm(ws: Float32Array[]): number {
  let s = 0;
  for (const w of ws) for (const x of w) s += x * x;
  return Math.sqrt(s);
}

const familyOptions: Record<string, Partial<OptimizerOptions>> = {
  adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  sgd: { momentum: 0.9 },
  rmsprop: { rho: 0.9, momentum: 0.5, epsilon: 1e-6, centered: true },
};

describe('identities', () => {
  const { init, grads } = problem('identities', 30);

  it('sgd-l2 and sgdw (lr-scaled) give the same trajectory without momentum (both are plain SGD + α·λ·w)', () => {
    const o = { learningRate: 0.05, weightDecay: 0.3 };
    const l2 = run(createOptimizer('sgd-l2', o), init, grads);
    const w = run(createOptimizer('sgdw', o), init, grads);
    expect(maxDiff(l2, w)).toBeLessThan(1e-6);
    // ... and they really decay: plain SGD differs.
    expect(maxDiff(l2, run(createOptimizer('sgd', { learningRate: 0.05 }), init, grads))).toBeGreaterThan(1e-2);
  });

  it('with momentum, sgd-l2 and sgdw differ (the L2 term is accumulated in the momentum buffer)', () => {
    const o = { learningRate: 0.05, weightDecay: 0.3, momentum: 0.9 };
    expect(maxDiff(run(createOptimizer('sgd-l2', o), init, grads), run(createOptimizer('sgdw', o), init, grads)))
      .toBeGreaterThan(1e-2);
  });

  it('adam-l2 equals adam on the loss ℓ + λ/2·‖w‖²', () => {
    const lambda = 0.2;
    const rng = seedrandom('targets');
    const targets = SHAPES.map((s) => tf.tensor(normals(tf.util.sizeFromShape(s), rng), s));
    // A non-quadratic loss so the gradient depends on w in a non-trivial way.
    const loss = (vars: tf.Variable[]) =>
      tf.addN(vars.map((v, i) => tf.sum(tf.log(tf.cosh(tf.sub(v, targets[i])))))) as tf.Scalar;
    const trajectory = (name: OptimizerName, withPenalty: boolean) => {
      const vars = makeVars(init);
      const opt = createOptimizer(name, { learningRate: 0.01, ...(name === 'adam-l2' ? { weightDecay: lambda } : {}) });
      const out: Float32Array[][] = [];
      for (let t = 0; t < 40; t++) {
        opt.minimize(() => {
          const base = loss(vars);
          if (!withPenalty) return base;
          return tf.add(base, tf.mul(lambda / 2, tf.addN(vars.map((v) => tf.sum(tf.square(v)))))) as tf.Scalar;
        }, false, vars);
        out.push(vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)));
      }
      opt.dispose();
      tf.dispose(vars);
      return out;
    };
    const l2 = trajectory('adam-l2', false);
    const penalised = trajectory('adam', true);
    expect(maxDiff(l2, penalised)).toBeLessThan(2e-6);
    expect(maxDiff(l2, trajectory('adam', false))).toBeGreaterThan(1e-3);
    tf.dispose(targets);
  });

  it('adam-l2 and adamw differ', () => {
    const o = { learningRate: 0.01, weightDecay: 0.5 };
    expect(maxDiff(run(createOptimizer('adam-l2', o), init, grads), run(createOptimizer('adamw', o), init, grads)))
      .toBeGreaterThan(1e-2);
  });

  for (const name of optimizerNames.filter((n) => SCHEMES[n].decay !== 'none')) {
    const { family } = SCHEMES[name];
    // Exactly, bit for bit — except adam-separated, which keeps its buffers as unnormalised sums (same update, other
    // float32 rounding).
    const tolerance = name === 'adam-separated' ? 1e-6 : 0;
    it(`${name} with λ = 0 equals ${family}${tolerance === 0 ? ' exactly' : ' to float32 rounding'}`, () => {
      const o = { learningRate: 0.01, ...familyOptions[family] };
      const plain = run(createOptimizer(family, o), init, grads);
      expect(maxDiff(run(createOptimizer(name, { ...o, weightDecay: 0 }), init, grads), plain)).toBeLessThanOrEqual(tolerance);
      expect(maxDiff(run(createOptimizer(name, o), init, grads), plain)).toBeLessThanOrEqual(tolerance);
    });
  }

  it('Loshchilov (schedule-scaled) and lr-scaled AdamW agree when λ is rescaled by α, for any η_t', () => {
    const alpha = 0.02;
    for (const eta of [1, 0.3]) {
      const lr = run(createOptimizer('adamw', { learningRate: alpha, weightDecay: 0.5, scheduleMultiplier: eta }), init, grads);
      const lh = run(
        createOptimizer('adamw', {
          learningRate: alpha,
          weightDecay: alpha * 0.5,
          scheduleMultiplier: eta,
          decoupledConvention: 'schedule-scaled',
        }),
        init,
        grads,
      );
      expect(maxDiff(lr, lh)).toBeLessThan(1e-6);
      // Same λ in both conventions is a different optimizer.
      const sameLambda = run(
        createOptimizer('adamw', { learningRate: alpha, weightDecay: 0.5, scheduleMultiplier: eta, decoupledConvention: 'schedule-scaled' }),
        init,
        grads,
      );
      expect(maxDiff(lr, sameLambda)).toBeGreaterThan(1e-2);
    }
  });

  it('Loshchilov sgdw equals lr-scaled sgdw with λ·α, also with momentum', () => {
    const a = run(createOptimizer('sgdw', { learningRate: 0.05, momentum: 0.9, weightDecay: 0.4 }), init, grads);
    const b = run(
      createOptimizer('sgdw', { learningRate: 0.05, momentum: 0.9, weightDecay: 0.02, decoupledConvention: 'schedule-scaled' }),
      init,
      grads,
    );
    expect(maxDiff(a, b)).toBeLessThan(1e-6);
  });

  for (const name of ['adamw', 'sgdw', 'rmspropw'] as const) {
    it(`${name}: every:K and constant decay reach the same weight norm on a zero gradient`, () => {
      const K = 8;
      const zero = Array.from({ length: 10 * K }, () => SHAPES.map((s) => new Float32Array(tf.util.sizeFromShape(s))));
      const o = { learningRate: 0.01, weightDecay: 0.7 };
      const constant = run(createOptimizer(name, o), init, zero);
      const every = run(createOptimizer(name, { ...o, weightDecaySchedule: `every:${K}` }), init, zero);
      const expected = norm(init) * (1 - 0.01 * 0.7) ** (10 * K);
      for (let n = 1; n <= 10; n++) {
        const a = norm(constant[n * K - 1]);
        const b = norm(every[n * K - 1]);
        expect(Math.abs(a - b) / a).toBeLessThan(1e-5);
        // between the decaying steps every:K leaves the weights alone
        expect(norm(every[n * K - 2])).toBeCloseTo(n === 1 ? norm(init) : norm(every[(n - 1) * K - 1]), 6);
      }
      expect(Math.abs(norm(constant.at(-1)!) - expected) / expected).toBeLessThan(1e-5);
      expect(expected).toBeLessThan(0.6 * norm(init));
    });
  }

  it('early:T decays only during the first T steps, late:T only from step T (zero gradient, adamw)', () => {
    const zero = Array.from({ length: 20 }, () => SHAPES.map((s) => new Float32Array(tf.util.sizeFromShape(s))));
    const o = { learningRate: 0.01, weightDecay: 1 };
    const n0 = norm(init);
    const early = run(createOptimizer('adamw', { ...o, weightDecaySchedule: 'early:5' }), init, zero).map(norm);
    const late = run(createOptimizer('adamw', { ...o, weightDecaySchedule: 'late:5' }), init, zero).map(norm);
    expect(early[4] / n0).toBeCloseTo(0.99 ** 5, 6);
    expect(early[19]).toBe(early[4]);
    expect(late[4]).toBeCloseTo(n0, 6);
    expect(late[19] / n0).toBeCloseTo(0.99 ** 15, 6);
  });

  it("decayFilter 'no-bias' leaves rank-1 variables undecayed", () => {
    const o = { learningRate: 0.01, weightDecay: 0.5 };
    for (const name of ['adamw', 'adam-l2', 'adam-separated', 'sgd-l2', 'rmspropw'] as const) {
      const family = SCHEMES[name].family;
      const filtered = run(createOptimizer(name, { ...o, decayFilter: 'no-bias' }), init, grads);
      const all = run(createOptimizer(name, o), init, grads);
      const plain = run(createOptimizer(family, { learningRate: 0.01 }), init, grads);
      const bias = (tr: Float32Array[][]) => tr.map((s) => [s[1]]);
      const kernels = (tr: Float32Array[][]) => tr.map((s) => [s[0], s[2]]);
      expect(maxDiff(bias(filtered), bias(plain))).toBe(0);
      expect(maxDiff(kernels(filtered), kernels(all))).toBe(0);
      expect(maxDiff(bias(all), bias(plain))).toBeGreaterThan(1e-4);
    }
  });
});

describe('adam-separated (buffers m, v for ∇ℓ and m\', v\' for d = λw)', () => {
  const { init, grads } = problem('separated', 12, 0.1);

  /** One step of `opt` (already warmed up) from weights `ws`, returning Δw. */
  function stepDelta(opt: WeightDecayOptimizer, vars: tf.Variable[], g: Float32Array[]): Float32Array[] {
    const before = vars.map((v) => Float32Array.from(v.dataSync() as Float32Array));
    const named = g.map((x, i) => ({ name: vars[i].name, tensor: tf.tensor(x, SHAPES[i]) }));
    opt.applyGradients(named);
    tf.dispose(named.map((n) => n.tensor));
    return vars.map((v, i) => (v.dataSync() as Float32Array).map((x, j) => x - before[i][j]));
  }

  it("the step is unchanged when the weights (and so the WD signal and m', v' — slots wsum1, wsum2) are rescaled, up to ε", async () => {
    const o = { learningRate: 0.01, weightDecay: 0.3, epsilon: 1e-12 };
    const vars = makeVars(init);
    const opt = createOptimizer('adam-separated', o);
    for (const g of grads.slice(0, 10)) stepDelta(opt, vars, g);
    const state = await opt.getWeights();
    const reference = stepDelta(opt, vars, grads[10]);
    for (const c of [1e-3, 20]) {
      // Same state with w → c·w: m' → c·m', v' → c²·v' (exactly what the run would hold had the WD signal been c·d).
      const scaledVars = makeVars(init);
      scaledVars.forEach((v, i) => v.assign(tf.tidy(() => tf.mul(tf.sub(vars[i], tf.tensor(reference[i], SHAPES[i])), c))));
      const scaledState = state.map(({ name, tensor }) => {
        const slot = name.split('/').at(-1)!;
        const renamed = name === 'iter' ? name : name.replace(/^ident\d+\//, `${scaledVars[0].name.split('/')[0]}/`);
        const factor = slot === 'wsum1' ? c : slot === 'wsum2' ? c * c : 1;
        return { name: renamed, tensor: tf.mul(tensor, factor) };
      });
      const opt2 = createOptimizer('adam-separated', o);
      await opt2.setWeights(scaledState);
      const delta = stepDelta(opt2, scaledVars, grads[10]);
      let worst = 0;
      let size = 0;
      delta.forEach((d, i) => d.forEach((x, j) => {
        worst = Math.max(worst, Math.abs(x - reference[i][j]));
        size = Math.max(size, Math.abs(reference[i][j]));
      }));
      // Float32 rounding of the rescaled weights limits agreement (w·c − Δ recomputed in float32).
      expect(worst / size).toBeLessThan(1e-3);
      opt2.dispose();
      tf.dispose(scaledVars);
      tf.dispose(scaledState.map((s) => s.tensor));
    }
    tf.dispose(state.map((s) => s.tensor));
    opt.dispose();
    tf.dispose(vars);
  });

  it("matches a literal float64 implementation of the issue's rule (m, v from ∇ℓ; m', v' from d = λ_t·w)", () => {
    const lambda = 0.05;
    const o = { learningRate: 0.01, weightDecay: lambda, beta1: 0.85, beta2: 0.99, epsilon: 1e-6 };
    for (const [schedule, filter] of [['constant', 'all'], ['early:5', 'no-bias'], ['late:4', 'all']] as const) {
      const ours = run(createOptimizer('adam-separated', { ...o, weightDecaySchedule: schedule, decayFilter: filter }), init, grads);
      const cutoff = Number(schedule.split(':')[1]);
      const on = (k: number) =>
        schedule === 'constant' ? 1 : schedule.startsWith('early') ? (k < cutoff ? 1 : 0) : k >= cutoff ? 1 : 0;
      // float64 reference, written from the formula: w ← w − α·( m̂/(√v̂ + ε) + m̂'/(√v̂' + ε) )
      const w = init.map((x) => Float64Array.from(x));
      const [m, v, m2, v2] = [0, 1, 2, 3].map(() => init.map((x) => new Float64Array(x.length)));
      const expected: Float32Array[][] = [];
      grads.forEach((step, k) => {
        const t = k + 1;
        const bc1 = 1 - o.beta1 ** t;
        const bc2 = 1 - o.beta2 ** t;
        step.forEach((g, i) => {
          const decays = filter === 'all' || SHAPES[i].length >= 2;
          for (let j = 0; j < g.length; j++) {
            m[i][j] = o.beta1 * m[i][j] + (1 - o.beta1) * g[j];
            v[i][j] = o.beta2 * v[i][j] + (1 - o.beta2) * g[j] * g[j];
            let update = m[i][j] / bc1 / (Math.sqrt(v[i][j] / bc2) + o.epsilon);
            if (decays) {
              const d = lambda * on(k) * w[i][j];
              m2[i][j] = o.beta1 * m2[i][j] + (1 - o.beta1) * d;
              v2[i][j] = o.beta2 * v2[i][j] + (1 - o.beta2) * d * d;
              update += m2[i][j] / bc1 / (Math.sqrt(v2[i][j] / bc2) + o.epsilon);
            }
            w[i][j] -= o.learningRate * update;
          }
        });
        expected.push(w.map((x) => Float32Array.from(x)));
      });
      expect(maxDiff(ours, expected)).toBeLessThan(2e-6);
    }
  });

  it('consequence of the rule: the magnitude of λ > 0 does not matter, up to ε (documented in docs/optimizers.md)', () => {
    const a = run(createOptimizer('adam-separated', { learningRate: 0.01, weightDecay: 1e-3, epsilon: 1e-12 }), init, grads);
    const b = run(createOptimizer('adam-separated', { learningRate: 0.01, weightDecay: 10, epsilon: 1e-12 }), init, grads);
    const plain = run(createOptimizer('adam', { learningRate: 0.01, epsilon: 1e-12 }), init, grads);
    expect(maxDiff(a, b)).toBeLessThan(1e-5);
    expect(maxDiff(a, plain)).toBeGreaterThan(1e-2);
  });
});

describe('schedule bookkeeping', () => {
  it('the schedule multiplier is a pure function of the step counter', () => {
    const opt = createOptimizer('adamw', { learningRate: 0.01, weightDecay: 0.1, weightDecaySchedule: 'every:3' });
    expect([0, 1, 2, 3, 4, 5].map((k) => opt.stepInfo(k).multiplier)).toEqual([0, 0, 3, 0, 0, 3]);
    expect(opt.stepInfo(2).decayFactor).toBeCloseTo((1 - 0.001) ** 3, 15);
    const early = createOptimizer('adam-l2', { learningRate: 0.01, weightDecay: 0.1, weightDecaySchedule: 'early:2' });
    expect([0, 1, 2, 3].map((k) => early.stepInfo(k).l2Lambda)).toEqual([0.1, 0.1, 0, 0]);
    const late = createOptimizer('sgd-l2', { learningRate: 0.01, weightDecay: 0.1, weightDecaySchedule: 'late:2' });
    expect([0, 1, 2, 3].map((k) => late.stepInfo(k).l2Lambda)).toEqual([0, 0, 0.1, 0.1]);
    for (const o of [opt, early, late]) o.dispose();
  });
});
