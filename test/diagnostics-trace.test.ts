// diagnostics.jsonl, the optimizer's diagnostics inside iterations (issue 19): the run directory's append, the
// resume's cut back to the checkpoint, a damaged trace set aside (never worth a run), and a real smoke run writing
// it every N agent steps with the ε-dominance fields, without leaking tensors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRunConfig } from '../src/run/presets.ts';
import { ProgressReporter } from '../src/run/progress.ts';
import { RunDirectory } from '../src/run/run_directory.ts';
import { trainRun } from '../src/run/trainer.ts';
import * as tf from '../src/tf.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-trace-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

describe('diagnostics.jsonl in the run directory', () => {
  it('appends records and, on resume, drops those past the checkpoint\'s agent steps and a cut-off last line', () => {
    const run = RunDirectory.create(path.join(tmp, 'unit'), { game: 'pong' }, { host: 'test' });
    for (const steps of [1000, 2000, 3000, 4000]) run.appendDiagnostics({ iteration: 0, env_steps: steps, weight_norm: steps / 1000 });
    fs.appendFileSync(run.paths.diagnostics, '{"iteration":0,"env_st'); // a crash mid-line
    expect(run.truncateDiagnosticsAfter(2000)).toBeNull();
    expect(lines(run.paths.diagnostics).map((r) => r.env_steps)).toEqual([1000, 2000]);
    expect(run.readDiagnostics().map((r) => r.weight_norm)).toEqual([1, 2]);
    run.releaseLock();
  });

  it('a trace damaged before its last line is set aside with one warning, and a new one begun', () => {
    const run = RunDirectory.create(path.join(tmp, 'damaged'), { game: 'pong' }, { host: 'test' });
    fs.writeFileSync(run.paths.diagnostics, '{"iteration":0,"env_steps":1000}\nnot json\n{"iteration":0,"env_steps":3000}\n');
    const warning = run.truncateDiagnosticsAfter(5000);
    expect(warning).toMatch(/diagnostics\.jsonl is damaged before its last line: moved it to .*diagnostics\.jsonl\.damaged-\d+ and began a new one/);
    expect(fs.existsSync(run.paths.diagnostics)).toBe(false);
    expect(fs.readdirSync(run.dir).filter((f) => f.startsWith('diagnostics.jsonl.damaged-'))).toHaveLength(1);
    run.appendDiagnostics({ iteration: 0, env_steps: 1000 });
    expect(run.readDiagnostics()).toHaveLength(1);
    run.releaseLock();
  });
});

describe('a training run writes diagnostics.jsonl', () => {
  it('every N agent steps with the ε-dominance fields; an extended run continues it without a stale record', async () => {
    const dir = path.join(tmp, 'smoke');
    const base = { game: 'pong', seed: 2, preset: 'smoke' as const, optimizer: 'adam-separated', weightDecay: 1e-3 };
    const progress = () => new ProgressReporter({ tty: false, write: () => {}, plainEverySeconds: 1000 });
    const before = tf.memory().numTensors;
    const first = await trainRun({ config: resolveRunConfig({ ...base, iterations: 1 }), outDir: dir, stop: { requested: null }, progress: progress(), diagnosticsEvery: 50 });
    expect(first.status).toBe('completed');
    expect(tf.memory().numTensors).toBe(before);
    const trace = lines(path.join(dir, 'diagnostics.jsonl'));
    // smoke: 200 training steps an iteration, learning after 50 transitions (updates every 4 steps).
    expect(trace.map((r) => r.env_steps)).toEqual([50, 100, 150, 200]);
    expect(trace.every((r) => r.iteration === 0 && typeof r.weight_norm === 'number')).toBe(true);
    const last = trace[3];
    expect(last.updates).toBeGreaterThan(0);
    expect(last.eps_dominated_share).toBeGreaterThanOrEqual(0);
    expect(last.eps_dominated_share).toBeLessThanOrEqual(1);
    expect(last.eps_dominated_share_wd).toBeGreaterThanOrEqual(0);
    expect(last.sqrt_vhat_over_eps_log10.count).toBeGreaterThan(0);
    expect(last.decayed_weight_norm).toBeGreaterThan(0);
    // The per-iteration record carries the same fields.
    const metrics = lines(path.join(dir, 'metrics.jsonl'));
    expect(metrics[0].eps_dominated_share).toBe(last.eps_dominated_share);

    // A record past the checkpoint (written before a crash) must not survive the resume.
    fs.appendFileSync(path.join(dir, 'diagnostics.jsonl'), `${JSON.stringify({ iteration: 1, env_steps: 250, stale: true })}\n`);
    const extended = await trainRun({ config: resolveRunConfig({ ...base, iterations: 2 }), outDir: dir, stop: { requested: null }, progress: progress(), diagnosticsEvery: 50 });
    expect(extended.status).toBe('completed');
    const after = lines(path.join(dir, 'diagnostics.jsonl'));
    expect(after.some((r) => r.stale)).toBe(false);
    expect(after.map((r) => r.env_steps)).toEqual([50, 100, 150, 200, 250, 300, 350, 400]);
    expect(tf.memory().numTensors).toBe(before);
  }, 300_000);
});
