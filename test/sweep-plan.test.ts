import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatLambda } from '../src/format.ts';
import { optimizerNames } from '../src/optim/types.ts';
import { CorruptFileError } from '../src/io/atomic.ts';
import { NO_DECAY_SCHEMES } from '../src/optim/schemes.ts';
import { buildPlan, crossGrid, paperGrid, planDecayLines, plannedRunConfig, SweepInputError } from '../src/sweep/plan.ts';
import { resolveRunConfig } from '../src/run/presets.ts';
import { runName } from '../src/run/run_name.ts';
import { PlanMismatchError, planLine, readPlan, writeOrCheckPlan } from '../src/sweep/plan_file.ts';
import { RunDirectory } from '../src/run/run_directory.ts';
import { sweepStatus } from '../src/sweep/status.ts';
import { runArguments } from '../src/sweep/command.ts';
import { seedMajor } from '../src/sweep/local.ts';

const temps: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-plan-'));
  temps.push(dir);
  return dir;
}
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const small = () => crossGrid({ games: ['pong'], optimizers: ['adam', 'adamw'], weightDecays: [1e-4, 1e-5], seeds: [0, 1], preset: 'smoke' });

describe('grid expansion', () => {
  it("the paper grid is 8 games × 13 rows × 3 seeds = 312 runs, adam at λ 0 only", () => {
    const plan = buildPlan(paperGrid({ preset: 'dopamine' }));
    expect(plan.runs).toHaveLength(312);
    expect(new Set(plan.runs.map((r) => r.id)).size).toBe(312);
    expect(new Set(plan.runs.map((r) => r.game))).toEqual(
      new Set(['beam_rider', 'breakout', 'enduro', 'pong', 'qbert', 'seaquest', 'space_invaders', 'time_pilot']),
    );
    const rows = new Set(plan.runs.map((r) => `${r.optimizer}@${formatLambda(r.weightDecay)}`));
    expect([...rows].sort()).toEqual(
      [
        'adam@0',
        'adamw@1e-3', 'adamw@1e-4', 'adamw@1e-5',
        'adam-separated@1e-3', 'adam-separated@1e-4', 'adam-separated@1e-5',
        'adam-l2@1e-3', 'adam-l2@1e-4', 'adam-l2@1e-5', 'adam-l2@1e-6', 'adam-l2@1e-7', 'adam-l2@1e-8',
      ].sort(),
    );
    expect(plan.runs.filter((r) => r.optimizer === 'adam').every((r) => r.weightDecay === 0)).toBe(true);
    expect(plan.runs.filter((r) => r.game === 'pong')).toHaveLength(39);
  });

  it('a λ list gives schemes without weight decay one run at λ 0, the others one run per λ', () => {
    const plan = buildPlan(
      crossGrid({ games: ['pong', 'breakout'], optimizers: ['adam', 'adam-l2', 'adamw', 'adam-separated'], weightDecays: [1e-3, 1e-4, 1e-5], seeds: [0, 1, 2], preset: 'smoke' }),
    );
    expect(plan.runs).toHaveLength(2 * (1 + 3 * 3) * 3);
    expect(plan.runs.filter((r) => r.optimizer === 'adam').map((r) => r.weightDecay)).toEqual(Array(6).fill(0));
  });

  it('needs no λ list when every scheme is without weight decay', () => {
    expect(buildPlan(crossGrid({ games: ['pong'], optimizers: ['adam'], weightDecays: [], seeds: [0], preset: 'smoke' })).runs).toHaveLength(1);
  });

  it('expands in a fixed order and gives the same ids every time', () => {
    const a = buildPlan(small(), 'x').runs;
    const b = buildPlan(small(), 'y').runs;
    expect(a).toEqual(b);
    expect(a.map((r) => `${r.optimizer}/${r.weightDecay}/${r.seed}`)).toEqual([
      'adam/0/0', 'adam/0/1', 'adamw/0.0001/0', 'adamw/0.0001/1', 'adamw/0.00001/0', 'adamw/0.00001/1',
    ].map((s) => s.replace('0.00001', String(1e-5))));
  });

  it('every scheme without weight decay exists in the optimizer module', () => {
    for (const name of NO_DECAY_SCHEMES) expect(optimizerNames).toContain(name);
    expect(NO_DECAY_SCHEMES).toEqual(['adam', 'sgd', 'rmsprop']);
  });
});

describe('run ids', () => {
  const run = { game: 'pong', optimizer: 'adamw' as const, weightDecay: 1e-4, seed: 0, preset: 'dopamine' as const, overrides: {} };

  it('are readable and pinned: a change of the id scheme would orphan every existing run directory', () => {
    expect(runName(run)).toMatch(/^pong-adamw-wd1e-4-s0-[0-9a-f]{8}$/);
    // The hash is over the canonical JSON of the run's identity, computed here independently.
    const canonical = '{"game":"pong","optimizer":"adamw","overrides":{},"preset":"dopamine","seed":0,"weightDecay":0.0001}';
    const hash = crypto.createHash('sha256').update(canonical).digest('hex').slice(0, 8);
    expect(runName(run)).toBe(`pong-adamw-wd1e-4-s0-${hash}`);
    expect(runName(run)).toBe('pong-adamw-wd1e-4-s0-ad57b74c');
  });

  it('change with anything that changes the result, and with nothing else', () => {
    const ids = new Set([
      runName(run),
      runName({ ...run, seed: 1 }),
      runName({ ...run, weightDecay: 1e-5 }),
      runName({ ...run, preset: 'reduced' }),
      runName({ ...run, overrides: { iterations: 5 } }),
      runName({ ...run, overrides: { trainingSteps: 5 } }),
    ]);
    expect(ids.size).toBe(6);
    expect(runName({ overrides: {}, preset: 'dopamine', seed: 0, weightDecay: 1e-4, optimizer: 'adamw', game: 'pong' })).toBe(runName(run));
    expect(runName({ ...run, overrides: { iterations: undefined } })).toBe(runName(run));
  });

  it('--set overrides are part of the id, whatever their order; a sweep without them keeps its ids', () => {
    const grid = (set?: Record<string, string>) =>
      buildPlan(crossGrid({ games: ['breakout'], optimizers: ['adam-l2'], weightDecays: [1e-3], seeds: [0], preset: 'dopamine', overrides: { iterations: 2, ...(set ? { set } : {}) } })).runs[0];
    const plain = grid();
    const mse = grid({ 'agent.loss': 'mse' });
    expect(mse.id).not.toBe(plain.id);
    expect(mse.overrides).toEqual({ iterations: 2, set: { 'agent.loss': 'mse' } });
    expect(grid({}).id).toBe(plain.id); // an empty --set list is no override
    const two = grid({ 'agent.targetUpdatePeriodSteps': '4000', 'agent.loss': 'mse' });
    expect(Object.keys(two.overrides.set!)).toEqual(['agent.loss', 'agent.targetUpdatePeriodSteps']);
    expect(grid({ 'agent.loss': 'mse', 'agent.targetUpdatePeriodSteps': '4000' }).id).toBe(two.id);
    // Pinned: the headline study's sweep directory (results/published/headline-breakout) depends on these ids.
    expect(mse.id).toBe('breakout-adam-l2-wd1e-3-s0-d19eeff0');
    // Each run gets them on its command line.
    const args = runArguments(two, '/tmp/x', 1);
    expect(args.join(' ')).toContain('--set agent.loss=mse --set agent.targetUpdatePeriodSteps=4000');
  });
});

describe('seed-major start order', () => {
  it('starts the first seed of every arm before any second seed, keeping the plan order within a seed', () => {
    const plan = buildPlan(crossGrid({ games: ['pong', 'breakout'], optimizers: ['adam', 'adamw'], weightDecays: [1e-4], seeds: [0, 1, 2], preset: 'smoke' }));
    const order = seedMajor(plan.runs).map((r) => `${r.game}/${r.optimizer}/${r.seed}`);
    expect(order).toEqual([
      'pong/adam/0', 'pong/adamw/0', 'breakout/adam/0', 'breakout/adamw/0',
      'pong/adam/1', 'pong/adamw/1', 'breakout/adam/1', 'breakout/adamw/1',
      'pong/adam/2', 'pong/adamw/2', 'breakout/adam/2', 'breakout/adamw/2',
    ]);
  });
});

describe('bad input', () => {
  const ask = (over: Partial<Parameters<typeof crossGrid>[0]>) => () =>
    crossGrid({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds: [0], preset: 'smoke', ...over });

  it.each([
    ['an empty game list', { games: [] }, /game list is empty/],
    ['an unknown game id', { games: ['pongg'] }, /unknown game ROM id "pongg"/],
    ['duplicate games', { games: ['pong', 'pong'] }, /duplicate game Pong/],
    ['an empty seed list', { seeds: [] }, /seed list is empty/],
    ['duplicate seeds', { seeds: [0, 1, 0] }, /duplicate seed 0/],
    ['a negative seed', { seeds: [-1] }, /seed -1 is not a whole number/],
    ['an unknown preset', { preset: 'huge' as never }, /unknown preset "huge". Valid: dopamine/],
    ['an unknown scheme', { optimizers: ['adamx' as never] }, /unknown optimizer scheme "adamx"/],
    ['an empty scheme list', { optimizers: [] }, /optimizer list is empty/],
    ['duplicate schemes', { optimizers: ['adamw', 'adamw'] }, /duplicate optimizer scheme adamw/],
    ['no λ for a decaying scheme', { weightDecays: [] }, /--wd is required for adamw/],
    ['a negative λ', { weightDecays: [-1e-4] }, /weight decay -0.0001 is not a finite number >= 0/],
    ['a NaN λ', { weightDecays: [Number.NaN] }, /weight decay NaN/],
    ['duplicate λ', { weightDecays: [1e-4, 0.0001] }, /duplicate weight decay 1e-4/],
    ['a bad override', { overrides: { iterations: 0 } }, /iterations must be a whole number >= 1/],
    ['an unknown --set key', { overrides: { set: { 'agent.lossx': 'mse' } } }, /adamw: .*agent\.lossx/],
    ['a --set value of the wrong type', { overrides: { set: { 'agent.gamma': 'high' } } }, /agent\.gamma=high: expected a decimal number/],
    ['a --set key a sweep flag owns', { overrides: { set: { iterations: '3' } } }, /--set iterations: use the sweep's --iterations flag/],
    ['a --set of λ', { overrides: { set: { 'agent.optimizer.weightDecay': '1e-3' } } }, /use the sweep's --wd flag/],
    ['a --set of the game', { overrides: { set: { game: 'pong' } } }, /--set game: use the --game flag/],
  ] as Array<[string, Partial<Parameters<typeof crossGrid>[0]>, RegExp]>)('%s', (_what, over, message) => {
    expect(ask(over)).toThrow(SweepInputError);
    expect(ask(over)).toThrow(message);
  });
});

describe('plan.json', () => {
  it('is written with the contract fields and read back', () => {
    const dir = path.join(tempDir(), 'sweep');
    const plan = buildPlan(small());
    expect(writeOrCheckPlan(dir, plan).created).toBe(true);
    const stored = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8'));
    expect(stored).toMatchObject({ format: 1, kind: 'wd-dqn-sweep', grid: { kind: 'cross', games: ['pong'], preset: 'smoke' } });
    expect(typeof stored.createdAt).toBe('string');
    expect(stored.runs[2]).toEqual({
      id: expect.stringMatching(/^pong-adamw-wd1e-4-s0-/),
      dir: `runs/${stored.runs[2].id}`,
      game: 'pong', optimizer: 'adamw', weightDecay: 1e-4, seed: 0, preset: 'smoke', overrides: {},
    });
    expect(fs.statSync(path.join(dir, 'runs')).isDirectory()).toBe(true);
    expect(readPlan(dir)).toEqual(plan);
  });

  it('a rerun of the same sweep keeps the stored plan, whatever the order of the lists', () => {
    const dir = tempDir();
    const first = buildPlan(small(), '2020-01-01T00:00:00.000Z');
    writeOrCheckPlan(dir, first);
    const reordered = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adamw', 'adam'], weightDecays: [1e-5, 1e-4], seeds: [1, 0], preset: 'smoke' }));
    const again = writeOrCheckPlan(dir, reordered);
    expect(again.created).toBe(false);
    expect(again.plan.createdAt).toBe('2020-01-01T00:00:00.000Z');
    expect(again.grown).toBeNull();
  });

  it("refuses a directory holding another sweep's plan, saying what differs, and writes nothing", () => {
    const dir = tempDir();
    writeOrCheckPlan(dir, buildPlan(small()));
    const before = fs.readFileSync(path.join(dir, 'plan.json'), 'utf8');
    const other = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-3], seeds: [0], preset: 'smoke' }));
    expect(() => writeOrCheckPlan(dir, other)).toThrow(PlanMismatchError);
    expect(() => writeOrCheckPlan(dir, other)).toThrow(/already holds another sweep's plan[\s\S]*there: +cross: games pong; adam@0 adamw@1e-4\/1e-5[\s\S]*requested: cross: games pong; adamw@1e-3[\s\S]*new --out directory/);
    expect(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8')).toBe(before);
    // A dry run checks too.
    expect(() => writeOrCheckPlan(dir, other, { write: false })).toThrow(PlanMismatchError);
  });

  it('grows: a plan holding every stored run and more replaces it; stored ids stay, done runs stay done, only new runs are pending', () => {
    const dir = tempDir();
    const first = buildPlan(small());
    writeOrCheckPlan(dir, first);
    // One stored run finished: growing must leave it done.
    const done = first.runs[1];
    const rd = RunDirectory.create(path.join(dir, done.dir), { game: done.game, seed: done.seed, iterations: 1 }, {});
    rd.appendMetrics({ iteration: 0, env_steps: 100, wall_seconds: 1 });
    rd.writeSummary({ status: 'completed', iterations_completed: 1, iterations_planned: 1, env_steps: 100 });
    rd.releaseLock();
    // More of every list, in another order: games, schemes, λ values and seeds.
    const bigger = buildPlan(crossGrid({ games: ['breakout', 'pong'], optimizers: ['adam-l2', 'adamw', 'adam'], weightDecays: [1e-3, 1e-5, 1e-4], seeds: [2, 1, 0], preset: 'smoke' }));
    const check = writeOrCheckPlan(dir, bigger);
    expect(check).toMatchObject({ created: false, grown: { before: first.runs.length, added: bigger.runs.length - first.runs.length } });
    expect(planLine(dir, check)).toBe(`growing sweep ${dir}: 6 runs planned before, ${bigger.runs.length - 6} new (${path.join(dir, 'plan.json')})`);
    const stored = readPlan(dir);
    expect(stored.runs.map((r) => r.id).sort()).toEqual(bigger.runs.map((r) => r.id).sort());
    for (const r of first.runs) expect(stored.runs.find((s) => s.id === r.id)).toEqual(r);
    // The grid describes every run: each stored run's game, row and seed is in it.
    expect(stored.grid).toEqual(bigger.grid);
    const statuses = sweepStatus(dir, stored);
    expect(statuses.counts.done).toBe(1);
    expect(statuses.counts.pending).toBe(bigger.runs.length - 1);
    // Rerunning the grown command is a plain resume; the original one now leaves runs out.
    expect(writeOrCheckPlan(dir, bigger).grown).toBeNull();
    expect(() => writeOrCheckPlan(dir, first)).toThrow(/leaves out 36 of its 42 runs[\s\S]*may only grow/);
  });

  it('a dry run of a grown plan writes nothing', () => {
    const dir = tempDir();
    writeOrCheckPlan(dir, buildPlan(small()));
    const before = fs.readFileSync(path.join(dir, 'plan.json'), 'utf8');
    const bigger = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adam', 'adamw'], weightDecays: [1e-4, 1e-5], seeds: [0, 1, 2], preset: 'smoke' }));
    const check = writeOrCheckPlan(dir, bigger, { write: false });
    expect(check.grown).toEqual({ before: 6, added: 3 });
    expect(check.plan.runs).toHaveLength(9);
    expect(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8')).toBe(before);
  });

  it.each([
    ['a subset', { seeds: [0] }, /leaves out 3 of its 6 runs, e\.g\. pong-\S+-s1-/],
    ['an overlapping grid that drops a scheme', { optimizers: ['adamw'], seeds: [0, 1, 2] } as const, /leaves out 2 of its 6 runs, e\.g\. pong-adam-wd0-s0-/],
    ['the same grid at another preset', { preset: 'reduced' } as const, /leaves out 6 of its 6 runs \(the preset or the per-run overrides differ, and run ids hash them\)/],
    ['the same grid with a budget override', { overrides: { iterations: 3 } }, /leaves out 6 of its 6 runs \(the preset or the per-run overrides differ/],
  ] as Array<[string, Partial<Parameters<typeof crossGrid>[0]>, RegExp]>)('refuses %s: it would orphan run directories; nothing is written', (_what, over, message) => {
    const dir = tempDir();
    writeOrCheckPlan(dir, buildPlan(small()));
    const before = fs.readFileSync(path.join(dir, 'plan.json'), 'utf8');
    const other = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adam', 'adamw'], weightDecays: [1e-4, 1e-5], seeds: [0, 1], preset: 'smoke', ...over }));
    expect(() => writeOrCheckPlan(dir, other)).toThrow(PlanMismatchError);
    expect(() => writeOrCheckPlan(dir, other)).toThrow(message);
    expect(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8')).toBe(before);
  });

  it('refuses a non-empty directory without a plan', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    expect(() => writeOrCheckPlan(dir, buildPlan(small()))).toThrow(/is not empty \(notes.txt\) and holds no plan.json/);
    const file = path.join(dir, 'notes.txt');
    expect(() => writeOrCheckPlan(file, buildPlan(small()))).toThrow(/is a file, not a directory/);
  });

  it('names a corrupt or half-written plan.json and says what to do', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'plan.json'), '{"format": 1, "kind": "wd-dqn-sw');
    expect(() => readPlan(dir)).toThrow(CorruptFileError);
    expect(() => writeOrCheckPlan(dir, buildPlan(small()))).toThrow(/sweep plan .*plan.json is corrupt or half-written[\s\S]*rerun the original sweep command/);
    fs.writeFileSync(path.join(dir, 'plan.json'), '');
    expect(() => readPlan(dir)).toThrow(/the file is empty/);
  });

  it('refuses a plan.json that is not a sweep plan of this harness', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'plan.json'), JSON.stringify({ kind: 'something-else', format: 1, runs: [] }));
    expect(() => readPlan(dir)).toThrow(/is not a sweep plan of this harness \(kind is "something-else", not "wd-dqn-sweep"/);
    const plan = buildPlan(small());
    plan.runs[0].id = '../../etc';
    fs.writeFileSync(path.join(dir, 'plan.json'), JSON.stringify(plan));
    expect(() => readPlan(dir)).toThrow(/malformed id or dir/);
    expect(() => readPlan(tempDir())).toThrow(/holds no sweep \(plan.json not found\)/);
  });
});

describe('what a sweep says when it starts', () => {
  it('one decay-budget line per decoupled arm, with the --match-paper-decay hint where the decay is ≈ 1', () => {
    const plan = buildPlan(crossGrid({ games: ['pong', 'breakout'], optimizers: ['adam', 'adamw', 'adam-l2'], weightDecays: [1e-3, 1e-4], seeds: [0, 1], preset: 'reduced' }));
    const lines = planDecayLines(plan);
    expect(lines).toHaveLength(2); // adamw at 1e-3 and 1e-4; not per game or seed, nothing for adam or adam-l2
    expect(lines[0]).toMatch(/^decoupled decay \(adamw λ=0\.001\): total decay factor 0\.9980 .*--match-paper-decay/);
    expect(lines[1]).toMatch(/^decoupled decay \(adamw λ=0\.0001\): .*a float32 no-op/);
    const matched = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-3], seeds: [0], preset: 'reduced', overrides: { matchPaperDecay: true } }));
    expect(planDecayLines(matched)[0]).not.toMatch(/--match-paper-decay scales/);
  });

  it("a planned run resolves to the config its command line gives (the sweep's --set included)", () => {
    const [run] = buildPlan(crossGrid({ games: ['breakout'], optimizers: ['adam'], weightDecays: [], seeds: [0], preset: 'dopamine', overrides: { iterations: 2, set: { 'agent.loss': 'mse' } } })).runs;
    expect(plannedRunConfig(run)).toEqual(resolveRunConfig({ game: 'breakout', seed: 0, preset: 'dopamine', optimizer: 'adam', weightDecay: 0, iterations: 2, set: [['agent.loss', 'mse']] }));
  });
});

