// What a budget can show about decoupled decay: the total decay factor over a run, the paper's budget, the
// --match-paper-decay scaling (atari and sweep), and where it is said (presets, Table 1's caption).
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import * as tf from '../src/tf.ts';
import { decoupledCoefficient, decoupledStepVanishesInFloat32, float32Shrink, type DecoupledSettings } from '../src/optim/decay.ts';
import { decayMultiplier, parseWeightDecaySchedule } from '../src/optim/schedule.ts';
import {
  appliedDecayFactor,
  decaySteps,
  describeDecayBudget,
  PAPER_UPDATES,
  paperMatchedWeightDecay,
  plannedUpdates,
  totalDecayFactor,
} from '../src/run/decay_budget.ts';
import { ConfigError, DOPAMINE_ADAM, presetDecayNote, resolveRunConfig } from '../src/run/presets.ts';
import { legacyRunName, runIdentityOf, runName } from '../src/run/run_name.ts';
import { runArguments } from '../src/sweep/command.ts';
import { buildPlan, crossGrid } from '../src/sweep/plan.ts';

const adamw = (weightDecay: number, schedule = 'constant'): DecoupledSettings => ({
  learningRate: DOPAMINE_ADAM.learningRate, weightDecay, schedule: parseWeightDecaySchedule(schedule), convention: 'lr-scaled',
});

describe('decoupled decay below float32 resolution', () => {
  it("flags the λ whose per-step factor 1 − αλ is exactly 1 in float32 (Dopamine's α: λ below ~4.8e-4)", () => {
    // What the optimizer multiplies the weights by: a float32 scalar, as tf.scalar (and PyTorch's p.mul_) make it.
    const stepFactor = (lambda: number) => Float32Array.of(1 - DOPAMINE_ADAM.learningRate * lambda)[0];
    expect(stepFactor(1e-4)).toBe(1);
    expect(stepFactor(1e-5)).toBe(1);
    expect(stepFactor(1e-3)).toBe(1 - 2 ** -24); // 5.96e-8 per step instead of 6.25e-8
    for (const lambda of [1e-5, 1e-4, 4.7e-4]) expect(decoupledStepVanishesInFloat32(adamw(lambda)), String(lambda)).toBe(true);
    for (const lambda of [4.9e-4, 1e-3, 1e-2]) expect(decoupledStepVanishesInFloat32(adamw(lambda)), String(lambda)).toBe(false);
    expect(decoupledStepVanishesInFloat32(adamw(1e-4, 'every:4096'))).toBe(false); // applies (1 − c)^4096 at once
    expect(describeDecayBudget('decoupled λ=1e-4', adamw(1e-4), 23_750)).toMatch(/; a float32 no-op: 1 − αλ rounds to 1/);
    expect(describeDecayBudget('decoupled λ=1e-3', adamw(1e-3), 23_750)).not.toMatch(/no-op/);
  });
});

describe('the decay float32 actually applies (issue 19)', () => {
  /** The optimizer's arithmetic, one step at a time: a float32 product of the weight and the float32 factor. */
  const brute = (w0: number, f: number, n: number) => {
    let w = Math.fround(w0);
    for (let k = 0; k < n; k++) w = Math.fround(w * f);
    return w;
  };

  it('float32Shrink is bit for bit n float32 products, for the factors that matter and a wide range of weights', () => {
    const rng = seedrandom('float32-shrink');
    const factors = [1e-3, 5.26e-1, 1e-2, 2e-3, 0.3e4].map((lambda) => Math.fround(1 - DOPAMINE_ADAM.learningRate * lambda));
    factors.push(Math.fround(1 - 2 ** -24), Math.fround(1 - 3 * 2 ** -24), 0.7);
    for (const f of factors) {
      for (let i = 0; i < 25; i++) {
        const w0 = Math.fround(Math.exp(-12 * rng()));
        const n = 1 + Math.floor(rng() * 200_000);
        expect(float32Shrink(w0, f, n), `f=${f} w0=${w0} n=${n}`).toBe(brute(w0, f, n));
      }
    }
    expect(float32Shrink(1, Math.fround(1 - 2 ** -26), 1000)).toBe(1); // 1 − 2^-26 rounds to 1: a fixed point
  });

  it('is what TensorFlow\'s float32 multiply does to a realistic layer of weights', () => {
    // He-normal weights of a 3,136 → 512 layer (DQN's dense kernel), a sample of 4,096; the optimizer's op.
    const rng = seedrandom('he-normal');
    const w0 = Float32Array.from({ length: 4096 }, () => Math.sqrt(2 / 3136) * Math.sqrt(-2 * Math.log(Math.max(rng(), 1e-12))) * Math.cos(2 * Math.PI * rng()));
    const f = Math.fround(1 - DOPAMINE_ADAM.learningRate * 1e-3);
    const steps = 2000;
    const final = tf.tidy(() => {
      let w: tf.Tensor = tf.tensor1d(w0);
      const factor = tf.scalar(f);
      for (let k = 0; k < steps; k++) w = tf.mul(w, factor);
      return w.dataSync() as Float32Array;
    });
    for (let i = 0; i < w0.length; i++) expect(float32Shrink(w0[i], f, steps)).toBe(Math.abs(final[i])); // float32Shrink works on |w|
    // One ulp a step: 2^-23/s of a weight with significand s, more than the intended 6.25e-8 for every s < 1.91.
    const rates = Array.from(w0, (w, i) => Math.log(w / final[i]) / steps).filter(Number.isFinite);
    const meanRate = rates.reduce((a, b) => a + b, 0) / rates.length;
    expect(meanRate).toBeGreaterThan(8.0e-8);
    expect(meanRate).toBeLessThan(9.2e-8);
  });

  it('the applied factor at λ = 1e-3: 0.356 over the paper\'s 12.5M updates instead of 0.458; 1 below λ ≈ 4.8e-4', () => {
    expect(appliedDecayFactor(adamw(1e-3), PAPER_UPDATES)).toBeCloseTo(0.356, 3);
    expect(totalDecayFactor(adamw(1e-3), PAPER_UPDATES)).toBeCloseTo(0.458, 3);
    // Over many binades a weight loses one ulp a step, so ln w falls by ln 2 every 2^23 steps: exp(−n·ln2/2^23).
    expect(Math.log(appliedDecayFactor(adamw(1e-3), PAPER_UPDATES))).toBeCloseTo(-PAPER_UPDATES * Math.LN2 / 2 ** 23, 2);
    expect(appliedDecayFactor(adamw(1e-4), PAPER_UPDATES)).toBe(1);
    // Against brute force over the same significands, at a budget brute force can afford.
    const f = Math.fround(1 - DOPAMINE_ADAM.learningRate * 1e-3);
    const logs = Array.from({ length: 64 }, (_, i) => 2 ** ((i + 0.5) / 64)).map((w) => Math.log(brute(w, f, 300_000) / Math.fround(w)));
    expect(appliedDecayFactor(adamw(1e-3), 300_000)).toBeCloseTo(Math.exp(logs.reduce((a, b) => a + b, 0) / 64), 12);
    // A large λ (e.g. --match-paper-decay's) is applied nearly as intended.
    expect(appliedDecayFactor(adamw(0.526), 23_750)).toBeCloseTo(totalDecayFactor(adamw(0.526), 23_750), 3);
  });
});

describe('total decoupled decay over a budget', () => {
  it("the reduced preset's ~23.7k updates against the paper's ~12.5M (Dopamine's rule: one every 4 steps after warm-up)", () => {
    expect(plannedUpdates({ iterations: 10, trainingSteps: 10_000, minReplayHistory: 5_000, updatePeriodSteps: 4 })).toBe(23_750);
    expect(PAPER_UPDATES).toBe(12_495_000);
    expect(totalDecayFactor(adamw(1e-3), 23_750)).toBeCloseTo(0.99852, 5);
    expect(totalDecayFactor(adamw(1e-3), PAPER_UPDATES)).toBeCloseTo(0.458, 3);
  });

  it('equals the product of the per-step factors (1 − αλ)^{s_k} for every schedule form', () => {
    const c = decoupledCoefficient('lr-scaled', DOPAMINE_ADAM.learningRate, 1, 0.3);
    for (const schedule of ['constant', 'early:700', 'late:700', 'every:7']) {
      const s = adamw(0.3, schedule);
      let product = 1;
      for (let k = 0; k < 2_000; k++) product *= Math.pow(1 - c, decayMultiplier(s.schedule, k));
      expect(totalDecayFactor(s, 2_000), schedule).toBeCloseTo(product, 12);
    }
    expect(decaySteps(parseWeightDecaySchedule('every:7'), 20)).toBe(14);
  });

  it('the paper-matched λ gives this budget the paper\'s total decay', () => {
    const nominal = adamw(1e-3);
    const matched = paperMatchedWeightDecay(nominal, 23_750);
    expect(matched / 1e-3).toBeCloseTo(PAPER_UPDATES / 23_750, 1); // ≈ 526×, to first order
    expect(totalDecayFactor({ ...nominal, weightDecay: matched }, 23_750)).toBeCloseTo(totalDecayFactor(nominal, PAPER_UPDATES), 12);
    expect(() => paperMatchedWeightDecay(adamw(1e-3, 'late:30000'), 23_750)).toThrow(/applies no decay within 23750 updates/);
  });

  it('is said in words, and in the description of every preset with a smaller budget', () => {
    expect(describeDecayBudget('decoupled λ=1e-3', adamw(1e-3), 23_750)).toBe(
      "decoupled λ=1e-3: total decay factor 0.9980 (exact arithmetic: 0.9985) over 23,750 updates here, " +
      "0.356 (exact arithmetic: 0.458) at the paper's budget (12,495,000 updates)");
    expect(presetDecayNote('reduced')).toMatch(/23,750 updates.*λ=0.001: total decay factor 0.9980 \(exact arithmetic: 0.9985\) here, 0.356 \(exact arithmetic: 0.458\) at the paper's budget/);
    expect(presetDecayNote('dopamine')).toBeNull();
  });
});

describe('--match-paper-decay', () => {
  const choices = { game: 'breakout', seed: 0, preset: 'reduced' as const, optimizer: 'adamw', weightDecay: 1e-3 };

  it('scales λ from the final budget, records it in config.decayMatch and the run name; never on by default', () => {
    const plain = resolveRunConfig(choices);
    expect(plain.decayMatch).toBeUndefined();
    expect(plain.agent.optimizer.weightDecay).toBe(1e-3);
    const c = resolveRunConfig({ ...choices, matchPaperDecay: true });
    expect(c.decayMatch).toEqual({ target: 'paper-total-decay', nominalWeightDecay: 1e-3, updates: 23_750, paperUpdates: PAPER_UPDATES });
    expect(c.agent.optimizer.weightDecay).toBeCloseTo(paperMatchedWeightDecay(adamw(1e-3), 23_750), 15);
    expect(runName(runIdentityOf({ ...choices, matchPaperDecay: true }))).toMatch(/^breakout-adamw-wd1e-3-matched-s0-[0-9a-f]{8}$/);
    expect(legacyRunName(c)).toBe('breakout-adamw-wd0.001-matched-seed0-reduced');
    // The budget is the one after every override.
    const longer = resolveRunConfig({ ...choices, iterations: 20, matchPaperDecay: true });
    expect(longer.decayMatch!.updates).toBe(48_750);
  });

  it('refuses schemes whose decay does not depend on the budget, λ = 0, and budgets without updates', () => {
    expect(() => resolveRunConfig({ ...choices, optimizer: 'adam-l2', matchPaperDecay: true })).toThrow(/decoupled schemes .* not adam-l2/);
    expect(() => resolveRunConfig({ ...choices, weightDecay: 0, matchPaperDecay: true })).toThrow(ConfigError);
    expect(() => resolveRunConfig({ ...choices, iterations: 1, trainingSteps: 100, matchPaperDecay: true })).toThrow(/at least one update/);
  });

  it('in a sweep: only the decoupled runs carry it, with -matched in their id and the flag in their command', () => {
    const plan = buildPlan(crossGrid({
      games: ['breakout'], optimizers: ['adam', 'adam-l2', 'adamw'], weightDecays: [1e-3], seeds: [0], preset: 'reduced',
      overrides: { matchPaperDecay: true },
    }));
    const byScheme = Object.fromEntries(plan.runs.map((r) => [r.optimizer, r]));
    expect(byScheme.adamw.id).toMatch(/^breakout-adamw-wd1e-3-matched-s0-[0-9a-f]{8}$/);
    expect(byScheme['adam-l2'].id).not.toContain('matched');
    expect(runArguments(byScheme.adamw, '/x', 1)).toContain('--match-paper-decay');
    expect(runArguments(byScheme['adam-l2'], '/x', 1)).not.toContain('--match-paper-decay');
    expect(runArguments(byScheme.adam, '/x', 1)).not.toContain('--match-paper-decay');
  });
});

describe('a --match-paper-decay run in Table 1', () => {
  it('stands under its nominal λ in a row of its own, and the caption gives its scaled λ and factor', async () => {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { tmpSweep, writeRun } = await import('./fixtures/sweep/make_sweep.ts');
    const { loadSweep } = await import('../src/analysis/sweep_results.ts');
    const { buildTable1, renderMarkdown } = await import('../src/analysis/table1.ts');
    const { loadPaperTable } = await import('../src/analysis/reference.ts');
    const root = tmpSweep('matched-');
    writeRun(root, { game: 'pong', optimizer: 'adamw', weightDecay: 1e-3, seed: 0, returns: [1, 2] });
    const matchedDir = writeRun(root, { id: 'pong-adamw-matched', game: 'pong', optimizer: 'adamw', weightDecay: 0.5, seed: 0, returns: [3, 4] });
    const file = path.join(matchedDir, 'config.json');
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    stored.config.decayMatch = { target: 'paper-total-decay', nominalWeightDecay: 1e-3, updates: 20, paperUpdates: PAPER_UPDATES };
    fs.writeFileSync(file, JSON.stringify(stored));
    const md = renderMarkdown(buildTable1(loadSweep(root), { score: { kind: 'final' }, paper: loadPaperTable() }));
    fs.rmSync(root, { recursive: true, force: true });
    expect(md).toContain('| decoupled | 2.00 (n=1*) | 1e-3 |');
    expect(md).toContain('| decoupled (paper-matched decay) | 4.00 (n=1*) | 1e-3 |');
    expect(md).toMatch(/decoupled \(paper-matched decay\) λ=1e-3 \(λ scaled to 0\.500 to match the paper's decay\): total decay factor 0\.9994 here \(20 updates\)/);
  });
});
