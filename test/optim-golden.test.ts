/**
 * Replays golden trajectories from PyTorch 2.13.0 and TensorFlow 2.21.0 (test/fixtures/optim/, made by
 * scripts/torch_golden.py; see test/fixtures/optim/README.md) through src/optim/ and checks agreement to float32
 * tolerance, step by step, plus the optimizer buffers after the last step. Both update paths are replayed: TensorFlow's
 * fused kernels (the default on the tensorflow backend) and the composite tfjs ops (src/optim/fused.ts).
 */
import { readFileSync } from 'node:fs';

import * as tf from '../src/tf.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createOptimizer, fusedKernelsActive, setFusedKernels, type OptimizerOptions } from '../src/optim/index.ts';

interface GoldenCase {
  id: string;
  scheme: string;
  options: OptimizerOptions;
  reference: string;
  weights: number[][][];
  slots: Record<string, number[][]>;
}

interface GoldenFile {
  command: string;
  versions: Record<string, string>;
  steps: number;
  shapes: number[][];
  recordedSteps: number[];
  init: number[][];
  grads: number[][][];
  cases: GoldenCase[];
}

function load(name: string): GoldenFile {
  return JSON.parse(readFileSync(new URL(`./fixtures/optim/${name}`, import.meta.url), 'utf8')) as GoldenFile;
}

// float32 tolerance: a few ulp at the weights' magnitude (|w| < 4 here, ulp(4) ≈ 4.8e-7). The trajectories move the
// weights by 5e-3 … 1, three to six orders of magnitude more than this.
const ATOL = 1e-6;
const RTOL = 1e-6;

function maxViolation(ours: ArrayLike<number>, ref: readonly number[], atol: number, rtol: number): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const excess = Math.abs(ours[i] - ref[i]) - (atol + rtol * Math.abs(ref[i]));
    if (!(excess <= worst)) worst = Number.isNaN(excess) ? Infinity : excess;
  }
  return worst;
}

function replay(file: GoldenFile, c: GoldenCase) {
  const vars = file.init.map((w, i) => tf.variable(tf.tensor(w, file.shapes[i]), true, `golden/${c.id}/${i}`));
  const opt = createOptimizer(c.scheme, c.options);
  let recorded = 0;
  let maxDisplacement = 0;
  const violations: string[] = [];
  for (let t = 0; t < file.steps; t++) {
    const grads = file.grads[t].map((g, i) => ({ name: vars[i].name, tensor: tf.tensor(g, file.shapes[i]) }));
    opt.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
    if (file.recordedSteps[recorded] === t + 1) {
      vars.forEach((v, i) => {
        const ours = v.dataSync();
        const ref = c.weights[recorded][i];
        for (let j = 0; j < ref.length; j++) {
          maxDisplacement = Math.max(maxDisplacement, Math.abs(ref[j] - file.init[i][j]));
        }
        const bad = maxViolation(ours, ref, ATOL, RTOL);
        if (bad > 0) violations.push(`step ${t + 1}, tensor ${i}: off by ${bad} beyond tolerance`);
      });
      recorded++;
    }
  }
  return { vars, opt, maxDisplacement, violations };
}

it('the fused kernels are in use on the tensorflow backend (so the fused replays below test them)', () => {
  expect(tf.getBackend()).toBe('tensorflow');
  expect(fusedKernelsActive()).toBe(true);
});

for (const [fixture, fused] of [['torch.json', true], ['torch.json', false], ['tensorflow.json', true], ['tensorflow.json', false]] as const) {
  const file = load(fixture);
  const versions = Object.entries(file.versions).map(([k, v]) => `${k} ${v}`).join(', ');
  describe(`golden trajectories: ${fixture} (${versions}), ${fused ? 'fused kernels' : 'composite ops'}`, () => {
    let previous = true;
    beforeAll(() => {
      previous = setFusedKernels(fused);
    });
    afterAll(() => {
      setFusedKernels(previous);
    });

    it('fixture is complete', () => {
      expect(file.cases.length).toBeGreaterThan(4);
      expect(file.grads).toHaveLength(file.steps);
      expect(file.command).toContain('scripts/torch_golden.py');
    });

    for (const c of file.cases) {
      it(`${c.id}: ${c.scheme} matches ${c.reference}`, async () => {
        const { vars, opt, maxDisplacement, violations } = replay(file, c);
        try {
          expect(violations).toEqual([]);
          // The weights really move, far beyond the tolerance: the comparison is meaningful.
          expect(maxDisplacement).toBeGreaterThan(1e-3);
          // Slots after the last step (PyTorch's exp_avg/exp_avg_sq/momentum_buffer/square_avg/grad_avg,
          // TensorFlow's ms/mg/mom), compared relative to each tensor's scale.
          const state = await opt.getWeights();
          const byName = new Map(state.map((s) => [s.name, s.tensor]));
          // (plain SGD without momentum has no state)
          expect(Object.keys(c.slots).length > 0 || c.id === 'sgd-l2-plain').toBe(true);
          for (const [slot, refs] of Object.entries(c.slots)) {
            refs.forEach((ref, i) => {
              const tensor = byName.get(`${vars[i].name}/${slot}`);
              expect(tensor, `slot ${vars[i].name}/${slot}`).toBeDefined();
              const scale = Math.max(...ref.map(Math.abs));
              const bad = maxViolation(tensor!.dataSync(), ref, 1e-5 * scale + 1e-30, 1e-5);
              expect(bad, `slot ${slot} of tensor ${i}`).toBeLessThanOrEqual(0);
            });
          }
          tf.dispose(state.map((s) => s.tensor));
        } finally {
          opt.dispose();
          tf.dispose(vars);
        }
      });
    }
  });
}

describe('tfjs built-ins, for the record (why this module exists)', () => {
  const tfFile = load('tensorflow.json');
  const torchFile = load('torch.json');
  const vars: tf.Variable[] = [];
  afterAll(() => tf.dispose(vars));

  it("tfjs's centered RMSProp computes sqrt(ms - mg^2 - eps): NaN with Dopamine's settings, ours does not", () => {
    const ws = tfFile.init.map((w, i) => tf.variable(tf.tensor(w, tfFile.shapes[i])));
    vars.push(...ws);
    const builtin = tf.train.rmsprop(2.5e-4, 0.95, 0, 1e-5, true);
    for (let t = 0; t < 3; t++) {
      const grads = tfFile.grads[t].map((g, i) => ({ name: ws[i].name, tensor: tf.tensor(g, tfFile.shapes[i]) }));
      builtin.applyGradients(grads);
      tf.dispose(grads.map((g) => g.tensor));
    }
    expect(Array.from(ws[0].dataSync()).some(Number.isNaN)).toBe(true);
    builtin.dispose();
    const ours = tfFile.cases.find((c) => c.id === 'tf-rmsprop-centered-dopamine')!;
    const { vars: oursVars, opt, violations } = replay(tfFile, ours);
    expect(violations).toEqual([]);
    expect(oursVars.every((v) => Array.from(v.dataSync()).every(Number.isFinite))).toBe(true);
    opt.dispose();
    tf.dispose(oursVars);
  });

  it("tfjs 4.22's built-in Adam follows the same rule m̂/(√v̂+ε) (its default ε is 1e-7, not 1e-8)", () => {
    const adam = torchFile.cases.find((c) => c.id === 'adam')!;
    const ws = torchFile.init.map((w, i) => tf.variable(tf.tensor(w, torchFile.shapes[i])));
    vars.push(...ws);
    const builtin = tf.train.adam(1e-2, 0.9, 0.999, 1e-8);
    for (let t = 0; t < torchFile.steps; t++) {
      const grads = torchFile.grads[t].map((g, i) => ({ name: ws[i].name, tensor: tf.tensor(g, torchFile.shapes[i]) }));
      builtin.applyGradients(grads);
      tf.dispose(grads.map((g) => g.tensor));
    }
    // Agrees with PyTorch to ~1e-6 (it accumulates β^t in float32, hence slightly looser than ours).
    ws.forEach((w, i) => expect(maxViolation(w.dataSync(), adam.weights.at(-1)![i], 5e-6, 0)).toBeLessThanOrEqual(0));
    builtin.dispose();
  });
});
