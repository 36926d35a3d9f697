// `npm run baseline`: which published Dopamine agent a run matches, the per-iteration band verdicts, the text and
// SVG it writes, and what it says when nothing matches. Fixture runs are real run directories (RunDirectory).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  compareIteration,
  DOPAMINE_ITERATION_STEPS,
  JAX_ADAM_MSE_AGENT,
  loadDopamineCurves,
  matchDopamineAgent,
  reportBands,
  TF_RMSPROP_AGENT,
} from '../src/analysis/baseline.ts';
import { parseBaselineArgs, runBaseline } from '../src/cli/baseline.ts';
import { resolveRunConfig, type RunChoices } from '../src/run/presets.ts';
import { RunDirectory, type JsonObject } from '../src/run/run_directory.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-baseline-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const config = (choices: Partial<RunChoices> & { set?: Array<[string, string]> }) =>
  resolveRunConfig({ game: 'breakout', seed: 0, preset: 'dopamine', iterations: 2, ...choices }) as unknown as JsonObject;

/** A finished run directory whose iterations have these mean training returns. */
function fixtureRun(name: string, cfg: JsonObject, returns: Array<number | null>): string {
  const dir = path.join(tmp, name);
  const rd = RunDirectory.create(dir, cfg, {});
  returns.forEach((r, i) => rd.appendMetrics({ iteration: i, env_steps: (i + 1) * 250_000, train_return_mean: r }));
  rd.writeSummary({ status: 'completed', iterations_completed: returns.length, iterations_planned: returns.length, game: cfg.game as string });
  rd.releaseLock();
  return dir;
}

const quiet = () => {
  const out: string[] = [];
  return { out, print: (t: string) => out.push(t) };
};

describe("Dopamine's published curves", () => {
  it('load with 5 seeds per iteration; Breakout JAX Adam+MSE matches the published iteration 0 and 1 ranges', () => {
    const curves = loadDopamineCurves();
    const breakout = curves.get(JAX_ADAM_MSE_AGENT)!.get('breakout')!;
    expect(breakout.get(0)).toHaveLength(5);
    const range = (xs: number[]) => [Math.min(...xs), Math.max(...xs)].map((v) => Number(v.toFixed(2)));
    expect(range(breakout.get(0)!)).toEqual([1.71, 1.9]);
    expect(range(breakout.get(1)!)).toEqual([6.36, 6.63]);
    expect(range(curves.get(TF_RMSPROP_AGENT)!.get('breakout')!.get(1)!)).toEqual([2.83, 3.27]);
    expect(range(curves.get(JAX_ADAM_MSE_AGENT)!.get('pong')!.get(1)!)).toEqual([-19.48, -17.31]);
  });
});

describe('the like-for-like agent of a run', () => {
  it('dopamine preset with the MSE loss: the JAX Adam + MSE agent', () => {
    expect(matchDopamineAgent(config({ set: [['agent.loss', 'mse']] }))).toEqual({ agent: JAX_ADAM_MSE_AGENT, differences: [], notes: [] });
  });
  it('dopamine-tf preset: the TF DQN (centered RMSProp, Huber)', () => {
    expect(matchDopamineAgent(config({ preset: 'dopamine-tf' }))).toEqual({ agent: TF_RMSPROP_AGENT, differences: [], notes: [] });
  });
  it("dopamine preset's Huber loss: none, and says how to get one", () => {
    const m = matchDopamineAgent(config({}));
    expect(m.agent).toBe(JAX_ADAM_MSE_AGENT);
    expect(m.differences).toEqual([expect.stringMatching(/agent\.loss is "huber".*--set agent\.loss=mse/)]);
  });
  it('a shorter iteration, another protocol, a changed schedule or learning rate: each named', () => {
    const m = matchDopamineAgent(config({ preset: 'reduced', protocol: 'nature', learningRate: 1e-4, set: [['agent.loss', 'mse']] }));
    const text = m.differences.join('\n');
    for (const key of ['protocol', 'trainingSteps', 'agent.minReplayHistory', 'agent.targetUpdatePeriodSteps', 'agent.epsilonDecayPeriodSteps', 'agent.replayCapacityTransitions', 'agent.optimizer.learningRate']) {
      expect(text).toContain(key);
    }
  });
  it('a weight-decay scheme of the family: compared, with a note that the band has no decay', () => {
    const m = matchDopamineAgent(config({ optimizer: 'adamw', weightDecay: 1e-4, set: [['agent.loss', 'mse']] }));
    expect(m.differences).toEqual([]);
    expect(m.notes).toEqual([expect.stringMatching(/adamw, λ = 0\.0001.*without it/)]);
  });
  it('SGD: Dopamine has no such agent', () => {
    const m = matchDopamineAgent(config({ optimizer: 'sgd', learningRate: 0.01 }));
    expect(m.agent).toBeNull();
  });
});

describe('band verdicts', () => {
  const published = [1.71, 1.8, 1.9, 1.75, 1.79];
  it('inside, above and below in band widths, zero-width bands, missing values', () => {
    expect(compareIteration(0, 1.8, published)).toMatchObject({ verdict: 'inside', n: 5, min: 1.71, max: 1.9, bandWidths: null });
    expect(compareIteration(0, 2.09, published).verdict).toBe('above');
    expect(compareIteration(0, 2.09, published).bandWidths).toBeCloseTo(1, 10);
    expect(compareIteration(0, 1.615, published).bandWidths).toBeCloseTo(0.5, 10);
    expect(compareIteration(0, -20, [-21, -21]).verdict).toBe('above');
    expect(compareIteration(0, -20, [-21, -21]).bandWidths).toBeNull();
    expect(compareIteration(40, 3, undefined).verdict).toBe('no-published-value');
    expect(compareIteration(0, null, published).verdict).toBe('no-run-value');
  });
});

describe('npm run baseline', () => {
  it('prints per iteration the run, the published mean/min/max and a verdict; writes text, JSON and SVG', async () => {
    const dir = fixtureRun('breakout-mse', config({ set: [['agent.loss', 'mse']] }), [1.8, 5.0]);
    const out = path.join(tmp, 'out1');
    const { out: printed, print } = quiet();
    const result = await runBaseline(parseBaselineArgs([dir, '--out', out]), print);
    expect(result.failed).toEqual([]);
    const text = printed.join('');
    expect(text).toContain(`against Dopamine's "${JAX_ADAM_MSE_AGENT}"`);
    expect(text).toMatch(/0\s+1\.80\s+1\.79\s+1\.71\s+1\.90\s+inside the band/);
    expect(text).toMatch(/1\s+5\.00\s+6\.52\s+6\.36\s+6\.63\s+below the band by 5\.0\d band widths/);
    expect(text).toMatch(/verdict: outside Dopamine's band at 1 of 2 compared iteration\(s\): iteration 1 below by 5\.0\d band widths/);
    expect(fs.readFileSync(path.join(out, 'breakout-mse.txt'), 'utf8')).toBe(text);
    const svg = fs.readFileSync(path.join(out, 'breakout-mse.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('against Dopamine');
    expect(JSON.parse(fs.readFileSync(path.join(out, 'breakout-mse.json'), 'utf8')).rows).toHaveLength(2);
    expect(fs.readdirSync(dir).some((f) => f.startsWith('breakout-mse.'))).toBe(false); // the run dir is never written
  });

  it('says plainly when no published agent matches: the Huber loss, a game without curves', async () => {
    const huber = fixtureRun('breakout-huber', config({}), [1.8, 5.0]);
    const montezuma = fixtureRun('montezuma', config({ game: 'montezuma_revenge', set: [['agent.loss', 'mse']] }), [0, 0]);
    const out = path.join(tmp, 'out2');
    const { out: printed, print } = quiet();
    const result = await runBaseline(parseBaselineArgs([huber, montezuma, '--out', out]), print);
    const text = printed.join('');
    expect(text).toMatch(/breakout-huber\)\n {2}not compared: no like-for-like published agent \(nearest: "DQN \(Adam \+ MSE in JAX\)"\): agent\.loss is "huber"/);
    expect(text).toMatch(/not compared: Dopamine publishes no "DQN \(Adam \+ MSE in JAX\)" curves for MontezumaRevenge \(it has .*Breakout/);
    expect(result.comparisons.map((c) => c.agent)).toEqual([null, null]);
    expect(fs.existsSync(path.join(out, 'breakout-huber.svg'))).toBe(false);
    expect(fs.existsSync(path.join(out, 'breakout-huber.txt'))).toBe(true);
  });

  it('--agent compares anyway and says it is not like-for-like; an unknown --agent is refused', async () => {
    const huber = path.join(tmp, 'breakout-huber');
    const { out: printed, print } = quiet();
    await runBaseline(parseBaselineArgs([huber, '--out', path.join(tmp, 'out3'), '--agent', JAX_ADAM_MSE_AGENT]), print);
    expect(printed.join('')).toMatch(/NOT like-for-like \(compared because --agent was given\): agent\.loss is "huber"/);
    await expect(runBaseline(parseBaselineArgs([huber, '--agent', 'Rainbow']), print)).rejects.toThrow(/no published agent "Rainbow"; the curves have: "DQN"/);
  });

  it('a run longer than the published curves: iterations without a value are listed, not judged', async () => {
    const returns = Array.from({ length: 40 }, (_, i) => (i < 31 ? null : 10));
    const dir = fixtureRun('long', config({ iterations: 40, set: [['agent.loss', 'mse']] }), returns);
    const { out: printed, print } = quiet();
    const result = await runBaseline(parseBaselineArgs([dir, '--out', path.join(tmp, 'out4')]), print);
    const c = result.comparisons[0];
    expect(c.rows.slice(31).every((r) => r.verdict === 'no-published-value')).toBe(true);
    expect(c.rows[0].verdict).toBe('no-run-value');
    expect(printed.join('')).toMatch(/nothing to compare: no iteration of the run has a published value; 40 iteration\(s\) not compared \(Dopamine's file has iterations 0-30, 198\)/);
  });

  it('a directory that is not a run: reported, the others still compared, exit status set', async () => {
    const good = path.join(tmp, 'breakout-mse');
    const { out: printed, print } = quiet();
    const result = await runBaseline(parseBaselineArgs([path.join(tmp, 'nope'), tmp, good, '--out', path.join(tmp, 'out5')]), print);
    expect(result.failed.map((f) => f.reason)).toEqual(['does not exist', expect.stringMatching(/no config\.json/)]);
    expect(result.comparisons).toHaveLength(1);
    expect(printed.join('')).toMatch(/cannot compare: does not exist/);
  });
});

describe("the report's Dopamine band", () => {
  const records = (steps: number[]) => steps.map((s, i) => ({ iteration: i, env_steps: s, train_return_mean: 1 }));
  it('one step per published iteration the runs reached, clipped to their steps; the caption says what differs', () => {
    const huber = { game: 'breakout', config: config({}), records: records([250_000, 500_000, 600_000]) };
    const r = reportBands([huber]);
    expect(r.agent).toBe(JAX_ADAM_MSE_AGENT);
    expect(r.bands.map((b) => [b.start, b.end])).toEqual([[0, DOPAMINE_ITERATION_STEPS], [250_000, 500_000], [500_000, 600_000]]);
    expect(r.bands[1]).toMatchObject({ game: 'Breakout', min: expect.closeTo(6.36, 2), max: expect.closeTo(6.63, 2) });
    expect(r.caption).toMatch(/Not like-for-like with these runs: agent\.loss is "huber"/);
  });
  it("a finished iteration's whole-episode overshoot starts no band of the next iteration", () => {
    // The headline study's orig s0: 2 iterations of 250k steps end at 250,174 and 500,514 env steps.
    const finished = { game: 'breakout', config: config({ set: [['agent.loss', 'mse']] }), records: records([250_174, 500_514]) };
    const r = reportBands([finished]);
    expect(r.bands.map((b) => [b.start, b.end])).toEqual([[0, 250_000], [250_000, 500_000]]);
    // Unfinished: the iteration in progress has no record yet, so the band stops at the last finished iteration.
    expect(reportBands([{ ...finished, records: records([250_174]) }]).bands.map((b) => b.end)).toEqual([250_000]);
  });
  it('a reduced-budget sweep gets the part of iteration 0 it covers; games without curves get none', () => {
    const reduced = { game: 'breakout', config: config({ preset: 'reduced', set: [['agent.loss', 'mse']] }), records: records([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => i * 10_000)) };
    const other = { game: 'montezuma_revenge', config: config({ preset: 'reduced', game: 'montezuma_revenge' }), records: records([100_000]) };
    const r = reportBands([reduced, other]);
    expect(r.bands).toHaveLength(1);
    expect(r.bands[0]).toMatchObject({ start: 0, end: 100_000, game: 'Breakout' });
    expect(r.caption).toMatch(/\(Breakout\)\. Not like-for-like.*trainingSteps is 10000/);
  });
  it('runs of different optimizer families, or without a published agent: no band, and the caption says why', () => {
    const adam = { game: 'breakout', config: config({}), records: records([250_000]) };
    const rms = { game: 'breakout', config: config({ preset: 'dopamine-tf' }), records: records([250_000]) };
    expect(reportBands([adam, rms])).toMatchObject({ agent: null, bands: [], caption: expect.stringMatching(/different published agents/) });
    const sgd = { game: 'breakout', config: config({ optimizer: 'sgd', learningRate: 0.01 }), records: records([250_000]) };
    expect(reportBands([sgd])).toMatchObject({ agent: null, bands: [] });
  });
});
