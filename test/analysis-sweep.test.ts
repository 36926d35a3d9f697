// Bad input: every damaged run is skipped with its reason while the table still builds from the valid ones;
// problems with the sweep as a whole fail with a message saying what is wrong.
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadPaperTable } from '../src/analysis/reference.ts';
import { describeSkipped, loadSweep, loadSweeps, SweepLoadError } from '../src/analysis/sweep_results.ts';
import { buildTable1, cellKey, renderMarkdown } from '../src/analysis/table1.ts';
import { runId, tmpSweep, writePlan, writeRun, type FakeRun } from './fixtures/sweep/make_sweep.ts';

const paper = loadPaperTable();
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

function good(seed: number, final = 10 * (seed + 1)): FakeRun {
  return { game: 'pong', optimizer: 'adamw', weightDecay: 1e-4, seed, returns: [0, final] };
}

function sweepWith(runs: FakeRun[], plan = true): string {
  const root = tmpSweep('analysis-sweep-');
  roots.push(root);
  for (const r of runs) writeRun(root, r);
  if (plan) writePlan(root, runs);
  return root;
}

const runDir = (root: string, r: FakeRun) => path.join(root, 'runs', runId(r));

describe('damaged runs are skipped with the reason, the rest still makes the table', () => {
  it('garbage config.json, broken middle metrics line, missing summary', () => {
    const runs = [good(0), good(1), good(2), good(3), good(4)];
    const root = sweepWith(runs);
    fs.writeFileSync(path.join(runDir(root, runs[1]), 'config.json'), '{"config": {"game": "po');
    const metrics = path.join(runDir(root, runs[2]), 'metrics.jsonl');
    const lines = fs.readFileSync(metrics, 'utf8').split('\n');
    lines[0] = '{"iteration": 0, "train_ret';
    fs.writeFileSync(metrics, lines.join('\n'));
    fs.rmSync(path.join(runDir(root, runs[3]), 'summary.json'));
    // A last line cut off by a crash is dropped with a warning: the run stays usable.
    fs.appendFileSync(path.join(runDir(root, runs[4]), 'metrics.jsonl'), '{"iteration": 2, "train_');

    const sweep = loadSweep(root);
    const reasons = Object.fromEntries(sweep.skipped.map((s) => [s.id, s.reason]));
    expect(Object.keys(reasons).sort()).toEqual([runId(runs[1]), runId(runs[2]), runId(runs[3])].sort());
    expect(reasons[runId(runs[1])]).toMatch(/config\.json .*corrupt or half-written/);
    expect(reasons[runId(runs[2])]).toMatch(/metrics\.jsonl line 1 is corrupt/);
    expect(reasons[runId(runs[3])]).toMatch(/no summary\.json/);
    expect(sweep.runs.map((r) => r.seed)).toEqual([0, 4]);
    expect(sweep.runs[1].warnings.join()).toMatch(/dropped the last line/);

    const table = buildTable1(sweep, { score: { kind: 'final' }, paper });
    const c = table.cells.get(cellKey(table.rows[0], 'pong'))!;
    expect(c.counted.map((x) => x.value)).toEqual([10, 50]);
    const md = renderMarkdown(table);
    expect(md).toContain(`skipped ${runId(runs[2])}`);
    expect(md).toContain('30.0 ± 28.3 (n=2*)');
  });

  it('a config.json without the run fields, and an unknown game', () => {
    const runs = [good(0), good(1), good(2)];
    const root = sweepWith(runs);
    fs.writeFileSync(path.join(runDir(root, runs[1]), 'config.json'), JSON.stringify({ config: { seed: 1 } }));
    const cfgFile = path.join(runDir(root, runs[2]), 'config.json');
    const cfg = JSON.parse(fs.readFileSync(cfgFile, 'utf8'));
    cfg.config.game = 'pongg';
    fs.writeFileSync(cfgFile, JSON.stringify(cfg));
    const sweep = loadSweep(root);
    const reasons = sweep.skipped.map((s) => s.reason);
    expect(reasons[0]).toMatch(/lacks or has invalid config\.game, config\.agent\.optimizer\.name, config\.iterations/);
    expect(reasons[1]).toMatch(/unknown game "pongg"/);
    expect(sweep.runs).toHaveLength(1);
  });

  it('summary says completed but metrics are short, or iterations are not consecutive', () => {
    const runs = [good(0), good(1), good(2)];
    const root = sweepWith(runs);
    const m1 = path.join(runDir(root, runs[1]), 'metrics.jsonl');
    fs.writeFileSync(m1, fs.readFileSync(m1, 'utf8').split('\n')[0] + '\n');
    const m2 = path.join(runDir(root, runs[2]), 'metrics.jsonl');
    const [a, b] = fs.readFileSync(m2, 'utf8').split('\n');
    fs.writeFileSync(m2, `${a}\n${a}\n${b}\n`);
    const reasons = loadSweep(root).skipped.map((s) => s.reason);
    expect(reasons[0]).toMatch(/says completed but metrics\.jsonl has 1 of 2 iterations/);
    expect(reasons[1]).toMatch(/record 2 has iteration 0, expected 1/);
  });

  it('a run directory holding another sweep\'s run than the plan says is skipped', () => {
    const runs = [good(0), good(1)];
    const root = sweepWith(runs);
    const plan = JSON.parse(fs.readFileSync(path.join(root, 'plan.json'), 'utf8'));
    plan.runs[1].weightDecay = 1e-3;
    fs.writeFileSync(path.join(root, 'plan.json'), JSON.stringify(plan));
    const sweep = loadSweep(root);
    expect(sweep.skipped).toHaveLength(1);
    expect(sweep.skipped[0].reason).toMatch(/weightDecay 0\.0001 \(plan: 0\.001\).*another sweep/);
  });

  it('the same run twice (a copied directory) counts once', () => {
    const root = sweepWith([good(0)], false);
    fs.cpSync(path.join(root, 'runs', runId(good(0))), path.join(root, 'runs', 'copy'), { recursive: true });
    const sweep = loadSweep(root);
    expect(sweep.runs).toHaveLength(1);
    expect(sweep.skipped[0].reason).toMatch(/duplicate of/);
  });

  it('run directories not in the plan are ignored with a note; planned ones not started are listed', () => {
    const root = sweepWith([good(0)]);
    writeRun(root, good(1));
    writePlan(root, [good(0), good(2)]);
    const sweep = loadSweep(root);
    expect(sweep.runs).toHaveLength(1);
    expect(sweep.warnings.join()).toMatch(/not in plan\.json, ignored: pong-adamw-wd0\.0001-seed1/);
    expect(sweep.missing.map((m) => m.seed)).toEqual([2]);
  });

  it('runs of different budgets are never pooled: the budget with the most completed runs is analysed, each other run left out saying so', () => {
    // The case: a plain directory of runs where the same game, scheme, λ and seed ran at two presets, the
    // unfinished one found first. They are not duplicates, and the completed one is not unreadable.
    const root = sweepWith([
      { ...good(0), id: 'a-reduced', preset: 'reduced', trainingSteps: 2000, iterations: 2, returns: [0], status: 'interrupted' },
      { ...good(0), id: 'b-smoke' },
      { ...good(1), id: 'c-smoke' },
      { ...good(2), id: 'd-reduced', preset: 'reduced', trainingSteps: 2000 },
    ], false);
    const sweep = loadSweep(root);
    expect(sweep.runs.map((r) => r.id)).toEqual(['b-smoke', 'c-smoke']);
    expect(sweep.budgets).toHaveLength(1);
    expect(sweep.budgets[0]).toMatchObject({ preset: 'smoke', trainingSteps: 1000, runs: 2 });
    expect(sweep.skipped.map((s) => [s.id, s.kind])).toEqual([['a-reduced', 'another budget'], ['d-reduced', 'another budget']]);
    expect(sweep.skipped[0].reason).toBe('another budget: 2 iterations × 2,000 agent steps = 4,000 agent steps (16,000 frames) per run, preset reduced, no evaluation phase');
    expect(sweep.warnings.join()).toMatch(/runs of 2 budgets found, and runs of different budgets are never pooled: only those of 2 iterations × 1,000 agent steps .* preset smoke.* are analysed \(the budget with the most completed runs\); 2 run\(s\) of another budget left out\. Give their directories alone/);
    expect(describeSkipped(sweep.skipped)).toBe('2 of another budget');
    const md = renderMarkdown(buildTable1(sweep, { score: { kind: 'final' }, paper }));
    expect(md).not.toMatch(/MIXED/);
    expect(md).toContain('15.0 ± 7.1 (n=2*)');
    expect(md).toMatch(/skipped a-reduced \(.*\): another budget: 2 iterations × 2,000 agent steps/);
    // Given alone, the other budget's runs make their own table.
    const reduced = loadSweeps([path.join(root, 'runs', 'a-reduced'), path.join(root, 'runs', 'd-reduced')]);
    expect(reduced.runs.map((r) => r.id)).toEqual(['a-reduced', 'd-reduced']);
    expect(reduced.skipped).toEqual([]);
  });

  it('of duplicates of one seed at one budget the completed run counts, wherever it was found; the other says why it is left out', () => {
    const root = sweepWith([
      { ...good(0), id: 'a-copy', iterations: 2, returns: [0], status: 'interrupted' },
      { ...good(0), id: 'b-run' },
      { ...good(1), id: 'c-run' },
      { ...good(1), id: 'd-copy', iterations: 2, returns: [0], status: 'interrupted' },
    ], false);
    const sweep = loadSweep(root);
    expect(sweep.runs.map((r) => r.id)).toEqual(['b-run', 'c-run']);
    expect(sweep.skipped.map((s) => [s.id, s.kind])).toEqual([['a-copy', 'duplicate'], ['d-copy', 'duplicate']]);
    expect(sweep.skipped[0].reason).toBe('duplicate of b-run (Pong adamw λ=1e-4 seed 0, same budget): that one is completed, this one interrupted at 1/2 iterations');
    expect(sweep.skipped[1].reason).toBe('duplicate of c-run (Pong adamw λ=1e-4 seed 1, same budget): that one is completed, this one interrupted at 1/2 iterations');
  });
});

describe('several directories at once', () => {
  it('merges sweeps and run directories; a directory or run reached twice counts once; a planned run found elsewhere is not missing', () => {
    const first = sweepWith([good(0), good(1)]);
    writePlan(first, [good(0), good(1), good(2)]);
    const second = sweepWith([good(2), good(3)]);
    const sweep = loadSweeps([first, second, first, path.join(first, 'runs', runId(good(1)))]);
    expect(sweep.source).toBe('several');
    expect(sweep.roots).toEqual([first, second, path.join(first, 'runs', runId(good(1)))]);
    expect(sweep.runs.map((r) => r.seed)).toEqual([0, 1, 2, 3]);
    expect(sweep.skipped).toEqual([]);
    expect(sweep.missing).toEqual([]);
    const table = buildTable1(sweep, { score: { kind: 'final' }, paper });
    expect(table.cells.get(cellKey(table.rows[0], 'pong'))!.counted.map((c) => c.value)).toEqual([10, 20, 30, 40]);
    // The same run in two sweeps (a copied sweep directory) counts once, and the copy says so.
    const copy = path.join(path.dirname(second), `${path.basename(second)}-copy`);
    roots.push(copy);
    fs.cpSync(second, copy, { recursive: true });
    const twice = loadSweeps([second, copy]);
    expect(twice.runs).toHaveLength(2);
    expect(twice.skipped.map((s) => s.kind)).toEqual(['duplicate', 'duplicate']);
  });

  it('refuses to pool budgets across directories; planned runs of the other budget are not listed as gaps', () => {
    const smoke = sweepWith([good(0), good(1)]);
    const reducedRuns = [0, 1, 2].map((seed) => ({ ...good(seed), id: `reduced-s${seed}`, preset: 'reduced', trainingSteps: 2000 }));
    const reduced = sweepWith(reducedRuns.slice(0, 1));
    writePlan(reduced, reducedRuns);
    const sweep = loadSweeps([smoke, reduced]);
    expect(sweep.runs.map((r) => r.preset)).toEqual(['smoke', 'smoke']);
    expect(sweep.skipped.map((s) => s.kind)).toEqual(['another budget']);
    expect(sweep.missing).toEqual([]);
    expect(sweep.warnings.join()).toMatch(/1 run\(s\) of another budget left out, and 2 planned run\(s\) of another budget not started/);
  });
});

describe('the sweep directory itself', () => {
  it('a plan.json of another kind or format is refused with what to do', () => {
    const root = sweepWith([good(0)]);
    fs.writeFileSync(path.join(root, 'plan.json'), JSON.stringify({ format: 1, kind: 'ppo-sweep', runs: [] }));
    expect(() => loadSweep(root)).toThrow(/kind is "ppo-sweep", not "wd-dqn-sweep": another tool's sweep/);
    fs.writeFileSync(path.join(root, 'plan.json'), JSON.stringify({ format: 7, kind: 'wd-dqn-sweep', runs: [] }));
    expect(() => loadSweep(root)).toThrow(/format 7, this version reads format 1/);
    fs.writeFileSync(path.join(root, 'plan.json'), JSON.stringify({ format: 1, kind: 'wd-dqn-sweep', runs: [{ id: 'x' }] }));
    expect(() => loadSweep(root)).toThrow(/runs\[0\] .*malformed id or dir/);
  });

  it('a half-written plan.json falls back to scanning runs/ with a warning', () => {
    const root = sweepWith([good(0), good(1)]);
    fs.writeFileSync(path.join(root, 'plan.json'), '{"format": 1, "kind": "wd-dq');
    const sweep = loadSweep(root);
    expect(sweep.source).toBe('runs-dir');
    expect(sweep.runs).toHaveLength(2);
    expect(sweep.warnings[0]).toMatch(/plan\.json is corrupt or half-written.*looked for run directories/);
  });

  it('accepts a directory of run directories and a single run directory', () => {
    const root = sweepWith([good(0), good(1)], false);
    const runs = path.join(root, 'runs');
    const viaParent = loadSweep(runs);
    expect(viaParent.source).toBe('dir-of-runs');
    expect(viaParent.runs).toHaveLength(2);
    const single = loadSweep(path.join(runs, runId(good(1))));
    expect(single.source).toBe('single-run');
    expect(single.runs[0].seed).toBe(1);
  });

  it('missing, empty or file paths fail with a clear message', () => {
    const root = tmpSweep('analysis-empty-');
    roots.push(root);
    expect(() => loadSweep(path.join(root, 'nope'))).toThrow(SweepLoadError);
    expect(() => loadSweep(path.join(root, 'nope'))).toThrow(/does not exist/);
    expect(() => loadSweep(root)).toThrow(/no runs found in .*expected plan\.json/);
    fs.writeFileSync(path.join(root, 'f.txt'), 'x');
    expect(() => loadSweep(path.join(root, 'f.txt'))).toThrow(/is a file/);
  });
});
