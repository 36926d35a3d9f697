/**
 * State round trip (getWeights/setWeights), serialization (className/getConfig/registerClass), tensor leaks,
 * slot bookkeeping and diagnostics.
 */
import * as tf from '../src/tf.ts';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';

import {
  createOptimizer,
  setFusedKernels,
  optimizerClasses,
  optimizerNames,
  SCHEMES,
  WeightDecayOptimizer,
  type OptimizerName,
  type OptimizerOptions,
} from '../src/optim/index.ts';
import { quantilesInPlace } from '../src/optim/stats.ts';

const SHAPES = [[5, 4], [4], [3, 2, 2]];
let unique = 0;

function randn(n: number, rng: () => number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = scale * Math.sqrt(-2 * Math.log(Math.max(rng(), 1e-12))) * Math.cos(2 * Math.PI * rng());
  }
  return out;
}

function makeVars(init: Float32Array[], prefix = `state${++unique}`): tf.Variable[] {
  return init.map((w, i) => tf.variable(tf.tensor(w, SHAPES[i]), true, `${prefix}/v${i}`));
}

/** Options exercising each scheme's full state: momentum, centered, a schedule, a decay filter. */
function richOptions(name: OptimizerName): OptimizerOptions {
  const { family, decay } = SCHEMES[name];
  const o: OptimizerOptions = { learningRate: 0.01 };
  if (decay !== 'none') {
    o.weightDecay = 0.2;
    o.weightDecaySchedule = decay === 'decoupled' ? 'every:3' : 'early:9';
    o.decayFilter = 'no-bias';
  }
  if (family === 'sgd') o.momentum = 0.9;
  if (family === 'rmsprop') Object.assign(o, { momentum: 0.5, centered: true, epsilon: 1e-5, rho: 0.95 });
  if (family === 'adam') Object.assign(o, { beta1: 0.8, beta2: 0.99, epsilon: 1e-7 });
  return o;
}

const rng = seedrandom('state');
const INIT = SHAPES.map((s) => randn(tf.util.sizeFromShape(s), rng));
const GRADS = Array.from({ length: 20 }, () => SHAPES.map((s) => randn(tf.util.sizeFromShape(s), rng, 0.1)));

function step(opt: tf.Optimizer, vars: tf.Variable[], t: number): void {
  const named = GRADS[t % GRADS.length].map((g, i) => ({ name: vars[i].name, tensor: tf.tensor(g, SHAPES[i]) }));
  opt.applyGradients(named);
  tf.dispose(named.map((n) => n.tensor));
}

describe('state round trip: getWeights/setWeights mid-run, then continue = never stopping', () => {
  for (const name of optimizerNames) {
    it(name, async () => {
      const options = { ...richOptions(name), trackLastStep: true };
      // Uninterrupted run.
      const a = makeVars(INIT);
      const optA = createOptimizer(name, options);
      for (let t = 0; t < 15; t++) step(optA, a, t);

      // Interrupted run: 7 steps, checkpoint to plain arrays, new optimizer from the serialized config, restore.
      const b = makeVars(INIT);
      const optB = createOptimizer(name, options);
      for (let t = 0; t < 7; t++) step(optB, b, t);
      const state = await optB.getWeights();
      expect(state[0].name).toBe('iter');
      expect(state[0].tensor.dtype).toBe('int32');
      expect(state[0].tensor.dataSync()[0]).toBe(7);
      const saved = state.map(({ name: n, tensor }) => ({ name: n, shape: tensor.shape, data: Array.from(tensor.dataSync()), dtype: tensor.dtype }));
      tf.dispose(state.map((s) => s.tensor));
      const config = optB.getConfig();
      const cls = optimizerClasses[name];
      optB.dispose();
      // getWeights tensors were snapshots: training on must not change `saved` (checked implicitly below).
      const optC = cls.fromConfig(cls, JSON.parse(JSON.stringify(config))) as WeightDecayOptimizer;
      expect(optC).toBeInstanceOf(cls);
      expect(optC.getConfig()).toEqual(config);
      const restored = saved.map((s) => ({ name: s.name, tensor: tf.tensor(s.data, s.shape, s.dtype as 'float32' | 'int32') }));
      await optC.setWeights(restored);
      tf.dispose(restored.map((r) => r.tensor)); // setWeights does not take ownership
      expect(optC.iterations).toBe(7);
      for (let t = 7; t < 15; t++) step(optC, b, t);

      a.forEach((v, i) => expect(Array.from(b[i].dataSync())).toEqual(Array.from(v.dataSync())));
      const sa = await optA.getWeights();
      const sc = await optC.getWeights();
      expect(sc.map((s) => s.name.replace(/^state\d+\//, ''))).toEqual(sa.map((s) => s.name.replace(/^state\d+\//, '')));
      sa.forEach((s, i) => expect(Array.from(sc[i].tensor.dataSync())).toEqual(Array.from(s.tensor.dataSync())));
      tf.dispose([...sa, ...sc].map((s) => s.tensor));
      optA.dispose();
      optC.dispose();
      tf.dispose([...a, ...b]);
    });
  }

  it('rejects state that is not getWeights() output', async () => {
    const opt = createOptimizer('adam', { learningRate: 0.01 });
    const t = tf.zeros([2]);
    await expect(opt.setWeights([{ name: 'x/m', tensor: t }])).rejects.toThrow(/starting with 'iter'/);
    const iter = tf.scalar(3, 'int32');
    await expect(opt.setWeights([{ name: 'iter', tensor: iter }, { name: 'x/momentum', tensor: t }])).rejects.toThrow(
      /unexpected optimizer weight 'x\/momentum'/,
    );
    tf.dispose([t, iter]);
    opt.dispose();
  });
});

describe('slots', () => {
  it('are created lazily, are not trainable, and are named variable/slot', async () => {
    const vars = makeVars(INIT);
    const opt = createOptimizer('adam-separated', { learningRate: 0.01, weightDecay: 0.1, decayFilter: 'no-bias' });
    expect((await opt.getWeights()).length).toBe(1);
    const beforeKeys = new Set(Object.keys(tf.engine().registeredVariables));
    const before = beforeKeys.size;
    step(opt, vars, 0);
    const state = await opt.getWeights();
    const names = state.map((s) => s.name.replace(/^state\d+\//, ''));
    expect(names).toEqual([
      'iter', 'v0/msum', 'v1/msum', 'v2/msum', 'v0/vsum', 'v1/vsum', 'v2/vsum', 'v0/wsum1', 'v2/wsum1', 'v0/wsum2', 'v2/wsum2',
    ]);
    const registered = tf.engine().registeredVariables;
    const slotVars = Object.keys(registered).filter((k) => !beforeKeys.has(k)).map((k) => registered[k]);
    expect(slotVars.length).toBe(10);
    expect(slotVars.every((v) => !v.trainable)).toBe(true);
    // tf.variableGrads / minimize without varList only see trainable variables: the slots are never trained.
    tf.dispose(state.map((s) => s.tensor));
    opt.dispose();
    expect(Object.keys(tf.engine().registeredVariables).length).toBe(before);
    tf.dispose(vars);
  });

  it('the update works through minimize() (the tf.Optimizer path) and is an instance of tf.Optimizer', () => {
    const vars = makeVars(INIT);
    const opt = createOptimizer('adamw', { learningRate: 0.05, weightDecay: 0.1 });
    expect(opt).toBeInstanceOf(tf.Optimizer);
    expect(opt).toBeInstanceOf(WeightDecayOptimizer);
    const loss = () => tf.addN(vars.map((v) => tf.sum(tf.square(v)))) as tf.Scalar;
    const first = tf.tidy(() => loss().dataSync()[0]);
    for (let t = 0; t < 20; t++) opt.minimize(loss, false, vars);
    expect(tf.tidy(() => loss().dataSync()[0])).toBeLessThan(first * 0.7);
    expect(opt.iterations).toBe(20);
    opt.dispose();
    tf.dispose(vars);
  });
});

describe('serialization', () => {
  it('every scheme has a unique registered className and round-trips its config', () => {
    const classNames = Object.values(optimizerClasses).map((c) => c.className);
    expect(new Set(classNames).size).toBe(optimizerNames.length);
    const map = tf.serialization.SerializationMap.getMap().classNameMap;
    for (const name of optimizerNames) {
      const opt = createOptimizer(name, richOptions(name));
      const cls = optimizerClasses[name];
      expect(opt.getClassName()).toBe(cls.className);
      expect(map[cls.className]?.[0]).toBe(cls);
      expect(['Adam', 'SGD', 'RMSProp', 'Momentum']).not.toContain(cls.className);
      const copy = cls.fromConfig(cls, opt.getConfig()) as WeightDecayOptimizer;
      expect(copy.getConfig()).toEqual(opt.getConfig());
      expect(copy.options).toEqual(opt.options);
      opt.dispose();
      copy.dispose();
    }
  });
});

describe('no leak', () => {
  for (const name of optimizerNames) {
    it(`${name}: tf.memory().numTensors is the same after 1,000 steps as after 10 (minimize + diagnostics)`, () => {
      const vars = makeVars(INIT);
      const opt = createOptimizer(name, { ...richOptions(name), trackLastStep: true });
      const loss = () =>
        tf.addN(vars.map((v, i) => tf.sum(tf.mul(tf.sin(v), GRADS[0][i].length)))) as tf.Scalar;
      let after10 = -1;
      for (let t = 1; t <= 1000; t++) {
        opt.minimize(loss, false, vars);
        if (t % 100 === 0) opt.diagnostics();
        if (t === 10) {
          opt.diagnostics();
          after10 = tf.memory().numTensors;
        }
      }
      expect(tf.memory().numTensors).toBe(after10);
      vars.forEach((v) => expect(Array.from(v.dataSync()).every(Number.isFinite)).toBe(true));
      opt.dispose();
      tf.dispose(vars);
    });
  }
});

describe('diagnostics', () => {
  it('quantiles follow numpy\'s default (linear) definition', () => {
    const r = seedrandom('q');
    for (const n of [1, 2, 5, 20, 1001]) {
      const xs = Float64Array.from({ length: n }, () => Math.floor(r() * 50) - 25 + r());
      const sorted = Float64Array.from(xs).sort();
      const ref = (q: number) => {
        const pos = q * (n - 1);
        const k = Math.floor(pos);
        return k + 1 < n ? sorted[k] + (sorted[k + 1] - sorted[k]) * (pos - k) : sorted[k];
      };
      const qs = [0.05, 0.25, 0.5, 0.75, 0.95];
      const got = quantilesInPlace(Float64Array.from(xs), qs);
      qs.forEach((q, i) => expect(got[i]).toBeCloseTo(ref(q), 12));
    }
  });

  it('weight norms, log10(|m|/|w|) quantiles and ‖Δw‖/‖w‖ of the last step', () => {
    const w0 = [new Float32Array(20).fill(2), new Float32Array(4).fill(-1), new Float32Array(12).fill(0.5)];
    const vars = makeVars(w0);
    // SGD with momentum: after one step the momentum buffer is the gradient itself.
    const opt = createOptimizer('sgd', { learningRate: 1e-3, momentum: 0.9, trackLastStep: true });
    const g = [Float32Array.from({ length: 20 }, (_, i) => 2 * 10 ** (-3 + (3 * i) / 19)), new Float32Array(4), new Float32Array(12).fill(0.5)];
    const named = g.map((x, i) => ({ name: vars[i].name, tensor: tf.tensor(x, SHAPES[i]) }));
    opt.applyGradients(named);
    tf.dispose(named.map((n) => n.tensor));
    const d = opt.diagnostics();
    const w = vars.map((v) => v.dataSync() as Float32Array);
    const expectedNorm = Math.sqrt(w.reduce((s, a) => s + a.reduce((t, x) => t + x * x, 0), 0));
    expect(d.weightNorm).toBeCloseTo(expectedNorm, 5);
    expect(d.weightNorms[vars[1].name]).toBeCloseTo(2, 6);
    expect(d.step).toBe(1);
    // Element ratios: |g_i| / |w_i| for the 20 + 12 non-zero gradients (variable 1 has m = 0: left out).
    const logs = [...g[0].map((x, i) => Math.log10(x / w[0][i])), ...g[2].map((x, i) => Math.log10(x / w[2][i]))].sort((a, b) => a - b);
    const q = (p: number) => {
      const pos = p * (logs.length - 1);
      const k = Math.floor(pos);
      return logs[k] + (logs[k + 1] - logs[k]) * (pos - k);
    };
    expect(d.momentToWeightLog10).not.toBeNull();
    expect(d.momentToWeightLog10!.count).toBe(32);
    expect(d.momentToWeightLog10!.p50).toBeCloseTo(q(0.5), 5);
    expect(d.momentToWeightLog10!.p5).toBeCloseTo(q(0.05), 5);
    expect(d.momentToWeightLog10!.p95).toBeCloseTo(q(0.95), 5);
    // ‖Δw‖/‖w‖: Δw = −α·g.
    const dn = Math.sqrt(g.reduce((s, a) => s + a.reduce((t, x) => t + (1e-3 * x) ** 2, 0), 0));
    const wn = Math.sqrt(w0.reduce((s, a) => s + a.reduce((t, x) => t + x * x, 0), 0));
    expect(d.updateNormRatio!).toBeCloseTo(dn / wn, 6);
    expect(d.updateNormRatios![vars[1].name]).toBe(0);
    // No weight decay in sgd: the WD fields are null.
    expect(d.wdToGradMedian).toBeNull();
    expect(d.momentWdToGradMedian).toBeNull();
    expect(d.momentWdShare).toBeNull();
    opt.dispose();
    tf.dispose(vars);
  });

  it('adam-l2: median |λw|/|∇ℓ| of the last step and the exact split of m into gradient and WD parts', async () => {
    const lambda = 0.3;
    const a = makeVars(INIT);
    const b = makeVars(INIT);
    const l2 = createOptimizer('adam-l2', { learningRate: 1e-3, weightDecay: lambda, trackLastStep: true });
    const plain = createOptimizer('adam', { learningRate: 1e-3 });
    let before: Float32Array[] = [];
    for (let t = 0; t < 10; t++) {
      before = a.map((v) => Float32Array.from(v.dataSync() as Float32Array));
      step(l2, a, t);
      step(plain, b, t);
    }
    const d = l2.diagnostics();
    const ratios = before
      .flatMap((w, i) => Array.from(w).map((x, j) => Math.abs(lambda * x) / Math.abs(GRADS[9][i][j])))
      .sort((x, y) => x - y);
    const mid = (ratios.length - 1) / 2;
    const med = (ratios[Math.floor(mid)] + ratios[Math.ceil(mid)]) / 2;
    expect(d.wdToGradMedian!).toBeCloseTo(med, 4);
    expect(d.lastDecayMultiplier).toBe(1);
    // m = m_grad + m_wd with m_grad = EMA of ∇ℓ alone, i.e. plain Adam's m on the same gradients.
    const sl2 = await l2.getWeights();
    const sp = await plain.getWeights();
    const find = (s: typeof sl2, suffix: string) => s.filter((x) => x.name.endsWith(suffix)).map((x) => x.tensor.dataSync());
    const [m, mWd, mPlain] = [find(sl2, '/m'), find(sl2, '/m_wd'), find(sp, '/m')];
    let num = 0;
    let den = 0;
    m.forEach((mi, i) => mi.forEach((x, j) => {
      expect(x - mWd[i][j]).toBeCloseTo(mPlain[i][j], 5);
      num += mWd[i][j] ** 2;
      den += mPlain[i][j] ** 2;
    }));
    expect(d.momentWdToGradNormRatio!).toBeCloseTo(Math.sqrt(num / den), 3);
    expect(d.momentWdToGradMedian!).toBeGreaterThan(0);
    // WD share of m per weight, |m_wd| / (|m_wd| + |m_grad|), against the slots themselves.
    const shares = m.flatMap((mi, i) => Array.from(mi, (x, j) => Math.abs(mWd[i][j]) / (Math.abs(mWd[i][j]) + Math.abs(x - mWd[i][j])))).sort((x, y) => x - y);
    const quantile = (q: number) => {
      const pos = q * (shares.length - 1);
      return shares[Math.floor(pos)] + (shares[Math.ceil(pos)] - shares[Math.floor(pos)]) * (pos - Math.floor(pos));
    };
    expect(d.momentWdShare!.count).toBe(shares.length);
    for (const [k, q] of [['p5', 0.05], ['p50', 0.5], ['p95', 0.95]] as const) expect(d.momentWdShare![k]).toBeCloseTo(quantile(q), 4);
    tf.dispose([...sl2, ...sp].map((s) => s.tensor));
    l2.dispose();
    plain.dispose();
    tf.dispose([...a, ...b]);
  });

  it('adam-separated reports |m\'|/|m|; fields needing trackLastStep are null without it', () => {
    const vars = makeVars(INIT);
    const opt = createOptimizer('adam-separated', { learningRate: 1e-3, weightDecay: 0.1 });
    expect(opt.diagnostics().momentToWeightLog10).toBeNull();
    for (let t = 0; t < 5; t++) step(opt, vars, t);
    const d = opt.diagnostics();
    expect(d.momentWdToGradMedian).toBeGreaterThan(0);
    expect(d.momentWdToGradNormRatio).toBeGreaterThan(0);
    expect(d.momentWdShare!.p50).toBeGreaterThan(0);
    expect(d.momentWdShare!.p95).toBeLessThanOrEqual(1);
    expect(d.updateNormRatio).toBeNull();
    expect(d.wdToGradMedian).toBeNull();
    expect(d.momentToWeightLog10!.count).toBe(SHAPES.reduce((s, x) => s + tf.util.sizeFromShape(x), 0));
    // Plain numbers, JSON-safe.
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    opt.dispose();
    tf.dispose(vars);
  });
});

describe('ε-dominance of Adam\'s denominator (issue 19), against a hand computation', () => {
  // A constant gradient c gives v_t = (1 − β2^t)·c², so the bias-corrected √v̂ is exactly |c| at every t; without
  // the bias correction √v would be √(1 − β2^t)·|c| ≈ 0.055·|c| after 3 steps and every weight would count.
  const EPS = 1e-3;
  const GRAD = [1e-4, 5e-4, 2e-3, 0];
  // adam-separated's WD buffers see d = λ·w: with λ = 0.1 these weights give λ|w| = 1e-4, 5e-4, 2e-3, 5e-3.
  const LAMBDA = 0.1;
  const W0 = [1e-3, 5e-3, 2e-2, 5e-2];

  for (const fused of [false, true]) {
    for (const name of ['adam', 'adam-l2', 'adamw', 'adam-separated'] as const) {
      it(`${name}, ${fused ? 'fused' : 'composite'} path: share of weights with √v̂ < ε and log10(√v̂/ε)`, () => {
        const previous = setFusedKernels(fused);
        try {
          const w = tf.variable(tf.tensor1d(W0), true, `epsdom${++unique}`);
          // A tiny learning rate keeps w (and so λw) where it started; adam-l2's gradient is c + λw, so it gets λ 0.
          const wd = name === 'adam-separated' ? LAMBDA : name === 'adam' || name === 'adam-l2' ? 0 : 1e-3;
          const opt = createOptimizer(name, { learningRate: 1e-9, epsilon: EPS, beta2: 0.999, weightDecay: wd });
          for (let t = 0; t < 3; t++) tf.tidy(() => opt.applyGradients({ [w.name]: tf.tensor1d(GRAD) }));
          const d = opt.diagnostics();
          // √v̂ = 1e-4, 5e-4, 2e-3, 0 against ε = 1e-3: three of four below.
          expect(d.epsDominatedShare).toBeCloseTo(0.75, 12);
          // Quantiles over the weights with v > 0: log10(√v̂/ε) = −1, log10(0.5), log10(2).
          expect(d.sqrtVHatOverEpsLog10!.count).toBe(3);
          expect(d.sqrtVHatOverEpsLog10!.p50).toBeCloseTo(Math.log10(0.5), 5);
          expect(d.sqrtVHatOverEpsLog10!.p5).toBeCloseTo(-1 + 0.1 * (Math.log10(0.5) + 1), 5);
          // Only adam-separated has WD buffers: √v̂' = λ|w| = 1e-4, 5e-4, 2e-3, 5e-3 → two of four below ε.
          if (name === 'adam-separated') expect(d.epsDominatedShareWd).toBeCloseTo(0.5, 12);
          else expect(d.epsDominatedShareWd).toBeNull();
          expect(JSON.parse(JSON.stringify(d))).toEqual(d);
          opt.dispose();
          w.dispose();
        } finally {
          setFusedKernels(previous);
        }
      });
    }
  }

  it('is null before the first step and for families without a second moment of the gradient', () => {
    const w = tf.variable(tf.tensor1d(W0), true, `epsdom${++unique}`);
    const adam = createOptimizer('adam', { learningRate: 1e-3 });
    expect(adam.diagnostics().epsDominatedShare).toBeNull();
    const sgd = createOptimizer('sgd', { learningRate: 1e-3, momentum: 0.9 });
    tf.tidy(() => sgd.applyGradients({ [w.name]: tf.tensor1d(GRAD) }));
    const d = sgd.diagnostics();
    expect([d.epsDominatedShare, d.epsDominatedShareWd, d.sqrtVHatOverEpsLog10]).toEqual([null, null, null]);
    adam.dispose();
    sgd.dispose();
    w.dispose();
  });
});
