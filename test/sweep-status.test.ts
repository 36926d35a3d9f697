// `--status`: each run's state from its files alone, damage reported per run, and the ETA.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProgressReporter } from '../src/run/progress.ts';
import { RunDirectory } from '../src/run/run_directory.ts';
import { buildPlan, crossGrid } from '../src/sweep/plan.ts';
import { writeOrCheckPlan, type PlannedRun, type SweepPlan } from '../src/sweep/plan_file.ts';
import { describeLive, formatStatus, logFile, logTail, runStatus, sweepStatus, writeExecutorRecord, writeOutcome } from '../src/sweep/status.ts';

const REPO = path.resolve(import.meta.dirname, '..');

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function sweep(seeds: number[]): { dir: string; plan: SweepPlan } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-status-'));
  temps.push(dir);
  const plan = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds, preset: 'smoke', overrides: { iterations: 10 } }));
  writeOrCheckPlan(dir, plan);
  return { dir, plan };
}

/** A run directory as the DQN CLI leaves it: `done` iterations of `secondsEach`, then `status`. */
function fakeRun(dir: string, run: PlannedRun, status: string | null, done: number, secondsEach = 10, extra: object = {}): RunDirectory {
  const rd = RunDirectory.create(path.join(dir, run.dir), { game: run.game, seed: run.seed }, {});
  for (let i = 0; i < done; i++) rd.appendMetrics({ iteration: i, env_steps: (i + 1) * 100, wall_seconds: (i + 1) * secondsEach });
  if (status !== null) {
    rd.writeSummary({ status, iterations_completed: done, iterations_planned: 10, env_steps: done * 100, ...extra });
  }
  return rd;
}

describe('the reason a run died, from its log', () => {
  it("is the real error line, never TensorFlow's oneDNN banner (which mentions 'errors')", () => {
    const { dir, plan } = sweep([0]);
    const file = logFile(dir, plan.runs[0].id);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, [
      '=== attempt 1 ===',
      'error: the emulator died 4 times in one iteration; last: The ALE emulator process was killed by SIGKILL.',
      "2026-12-01 21:52:11.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results due to floating-point round-off errors from different computation orders.",
      '',
    ].join('\n'));
    expect(logTail(dir, plan.runs[0].id)).toBe('error: the emulator died 4 times in one iteration; last: The ALE emulator process was killed by SIGKILL.');
    fs.writeFileSync(file, 'Traceback\n  File "x"\nMemoryError: out of memory\n2026-12-01 21:52:11.1: W tensorflow/x.cc:1] some warning\n');
    expect(logTail(dir, plan.runs[0].id)).toBe('MemoryError: out of memory');
  });
});

describe('sweep status', () => {
  it('classifies every state from the files, with reasons', () => {
    const { dir, plan } = sweep([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const [done, diverged, failed, interrupted, running, pending, crashed, killed, corrupt] = plan.runs;
    fakeRun(dir, done, 'completed', 10).releaseLock();
    fakeRun(dir, diverged, 'diverged', 3, 10, { diverged_at_step: 300, error: 'loss is NaN' }).releaseLock();
    fakeRun(dir, failed, 'failed', 2, 10, { error: 'emulator crashed twice' }).releaseLock();
    fakeRun(dir, interrupted, 'interrupted', 4).releaseLock();
    const held = fakeRun(dir, running, 'running', 5); // this process holds its lock: a live run
    fakeRun(dir, crashed, 'running', 1).releaseLock();
    writeOutcome(dir, { id: crashed.id, executor: 'local', startedAt: 'a', endedAt: 'b', exitCode: 1, signal: null });
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'logs', `${crashed.id}.log`), '=== attempt\nsome output\nError: out of cheese\n    at somewhere\n');
    fakeRun(dir, killed, 'running', 1).releaseLock();
    writeOutcome(dir, { id: killed.id, executor: 'local', startedAt: 'a', endedAt: 'b', exitCode: null, signal: 'SIGKILL', stopRequested: true });
    fakeRun(dir, corrupt, 'running', 1).releaseLock();
    fs.writeFileSync(path.join(dir, corrupt.dir, 'summary.json'), '{"status": "runn');

    const s = (r: PlannedRun) => runStatus(dir, r);
    expect(s(done)).toMatchObject({ state: 'done', iterationsCompleted: 10, wallSeconds: 100 });
    expect(s(diverged)).toMatchObject({ state: 'diverged', reason: 'at step 300: loss is NaN' });
    expect(s(failed)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^emulator crashed twice \(see logs\//) });
    expect(s(interrupted)).toMatchObject({ state: 'interrupted', iterationsCompleted: 4 });
    expect(s(running)).toMatchObject({ state: 'running', reason: `pid ${process.pid}` });
    expect(s(pending)).toMatchObject({ state: 'pending', iterationsCompleted: 0 });
    expect(s(crashed)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^exited with code 1: Error: out of cheese/) });
    // Killed because the sweep was told to stop: resumable, not a failure.
    expect(s(killed)).toMatchObject({ state: 'interrupted' });
    expect(s(corrupt)).toMatchObject({ state: 'corrupt', reason: expect.stringMatching(/summary.json is corrupt or half-written[\s\S]*move .* away; a rerun of the sweep then redoes it/) });
    held.releaseLock();
    expect(s(running).state).toBe('interrupted'); // lock released without a final summary

    const status = sweepStatus(dir, plan);
    expect(status.counts).toEqual({ done: 1, diverged: 1, failed: 2, running: 0, interrupted: 3, pending: 1, corrupt: 1 });
    const text = formatStatus(dir, plan, status);
    expect(text).toContain('done 1   running 0   failed 2   pending 1   interrupted 3   diverged 1   corrupt 1');
    expect(text).toMatch(/corrupt +pong-adamw-wd1e-4-s8-/);
    expect(text).toMatch(/failed +pong-adamw-wd1e-4-s2-\S+ +2\/10 it +emulator crashed twice/);
  });

  it('a metrics file damaged in the middle makes the run corrupt; a cut-off last line does not', () => {
    const { dir, plan } = sweep([0, 1]);
    fakeRun(dir, plan.runs[0], 'interrupted', 3).releaseLock();
    const metrics = path.join(dir, plan.runs[0].dir, 'metrics.jsonl');
    const lines = fs.readFileSync(metrics, 'utf8').split('\n');
    fs.writeFileSync(metrics, [lines[0], 'garbage', lines[2], ''].join('\n'));
    expect(runStatus(dir, plan.runs[0])).toMatchObject({ state: 'corrupt', reason: expect.stringMatching(/line 2 is corrupt/) });
    fakeRun(dir, plan.runs[1], 'interrupted', 3).releaseLock();
    fs.appendFileSync(path.join(dir, plan.runs[1].dir, 'metrics.jsonl'), '{"iteration": 3, "wall');
    expect(runStatus(dir, plan.runs[1])).toMatchObject({ state: 'interrupted', iterationsCompleted: 3 });
  });

  it('estimates the time left from finished runs, divided over the workers', () => {
    const { dir, plan } = sweep([0, 1, 2, 3]);
    expect(sweepStatus(dir, plan).etaSeconds).toBeNull(); // nothing measured yet
    expect(formatStatus(dir, plan, sweepStatus(dir, plan))).toContain('ETA: unknown until a run has measured its learning rate');
    fakeRun(dir, plan.runs[0], 'completed', 10, 6).releaseLock(); // 6 s per iteration
    fakeRun(dir, plan.runs[1], 'interrupted', 4, 100).releaseLock(); // slow in-progress runs do not count once one finished
    writeExecutorRecord(dir, { kind: 'local', workers: 2, threads: 1, startedAt: 'x', host: os.hostname(), pid: 1 });
    const status = sweepStatus(dir, plan);
    expect(status.secondsPerIteration).toBeCloseTo(6);
    expect(status.remainingIterations).toBe(6 + 10 + 10);
    expect(status.parallelism).toBe(2);
    // Runs are not split across workers: 36 s (run 1's 6 iterations) then 60 s on one worker, 60 s on the other.
    expect(status.etaSeconds).toBeCloseTo(96);
    expect(status.stepsPerSecond).toBeCloseTo(1000 / 60);
    expect(formatStatus(dir, plan, status)).toContain('ETA: 1m36s (26 iterations left at 6.0 s each, 16.7 agent steps/s per run, 2 in parallel)');
  });

  it('before any run finished an iteration, running runs give the ETA from their own progress.json', () => {
    const { dir, plan } = sweep([0, 1, 2, 3, 4]);
    writeExecutorRecord(dir, { kind: 'local', workers: 2, threads: 1, startedAt: 'x', host: os.hostname(), pid: 1 });
    const now = Date.parse('2026-12-02T17:00:00Z');
    const snapshot = (etaSeconds: number | null, learning: number | null, updatedAt = '2026-12-02T16:59:00Z') => ({
      updatedAt, iteration: 0, iterations: 10, phase: 'train', phaseSteps: 3000, phaseTarget: 10_000, runSteps: 3000,
      runTarget: 100_000, warmupStepsLeft: 0, stepsPerSecond: 19.5, learningStepsPerSecond: learning, recentReturn: 1.25,
      recentEpisodes: 10, etaSeconds, etaAssumed: false,
    });
    const held = [fakeRun(dir, plan.runs[0], 'running', 0), fakeRun(dir, plan.runs[1], 'running', 0)];
    try {
      expect(sweepStatus(dir, plan, now).etaSeconds).toBeNull(); // no progress.json yet, nothing measured
      expect(formatStatus(dir, plan, sweepStatus(dir, plan, now), false, now)).toContain('starting (no progress written yet)');
      held[0].writeProgress(snapshot(3660, 20)); // written a minute ago: 3600 s left now
      held[1].writeProgress(snapshot(1860, 25)); // 1800 s left now
      const status = sweepStatus(dir, plan, now);
      expect(status.runs[0].live?.recentReturn).toBe(1.25);
      // No iteration finished: a run is 100k steps at the mean measured learning rate, 22.5 steps/s.
      expect(status.stepsPerSecond).toBeCloseTo(22.5);
      expect(status.secondsPerIteration).toBeCloseTo(10_000 / 22.5);
      // Workers free at 1800 s and 3600 s; three queued runs of 4444 s each go to whichever frees first.
      const run = 100_000 / 22.5;
      expect(status.etaSeconds).toBeCloseTo(Math.max(1800 + run + run, 3600 + run));
      const text = formatStatus(dir, plan, status, false, now);
      expect(text).toContain('running runs by their own rates');
      // The fields of atari's live line, in its words and counts (the current phase's steps).
      expect(text).toContain('iter 1/10 train | 3000/10.0k steps | 19.5 steps/s | return 1.3 (last 10) | ETA 1h00m');
      // A run silent for longer than STALE_PROGRESS_SECONDS is flagged and its estimate not trusted.
      held[0].writeProgress(snapshot(3660, 20, '2026-12-02T16:40:00Z'));
      expect(formatStatus(dir, plan, sweepStatus(dir, plan, now), false, now)).toContain('no progress for 20m');
    } finally {
      for (const r of held) r.releaseLock();
    }
  });

  it('right after a stop, before any iteration finished, the ETA uses the learning rates the runs measured (summary.json)', () => {
    const { dir, plan } = sweep([0, 1]);
    expect(sweepStatus(dir, plan).etaSeconds).toBeNull();
    fakeRun(dir, plan.runs[0], 'interrupted', 0, 10, { learning_steps_per_second: 20 }).releaseLock();
    fakeRun(dir, plan.runs[1], 'interrupted', 0, 10, { learning_steps_per_second: 30 }).releaseLock();
    const status = sweepStatus(dir, plan);
    // smoke: 200 training + 100 evaluation steps an iteration, at the mean rate of 25 steps/s: 12 s; 20 iterations left.
    expect(status.stepsPerSecond).toBeCloseTo(25);
    expect(status.secondsPerIteration).toBeCloseTo(12);
    expect(status.etaSeconds).toBeCloseTo(240);
  });

  it('before any run finished, the ETA uses the progress of all runs', () => {
    const { dir, plan } = sweep([0, 1]);
    fakeRun(dir, plan.runs[0], 'interrupted', 5, 4).releaseLock();
    const status = sweepStatus(dir, plan);
    expect(status.secondsPerIteration).toBeCloseTo(4);
    expect(status.etaSeconds).toBeCloseTo((5 + 10) * 4);
  });
});

describe("a running run's progress.json that another version or damage wrote", () => {
  /** A snapshot as the trainer writes it (every field ProgressSnapshot has, whatever it gains later), all measured. */
  function validSnapshot(): Record<string, unknown> {
    const reporter = new ProgressReporter({ tty: false, write: () => {}, clock: () => new Date('2026-12-02T16:59:00Z') });
    const state = { iteration: 0, iterations: 10, phase: 'train' as const, phaseSteps: 3000, phaseTarget: 10_000, runSteps: 3000, runTarget: 100_000, epsilon: 0.5, recentReturns: [1, 2], warmupStepsLeft: 0 };
    return { ...reporter.snapshot(state), stepsPerSecond: 19.5, learningStepsPerSecond: 20, recentReturn: 1.5, etaSeconds: 3600 };
  }
  /** Wrong values as JSON text: other types, a string that is no date or phase, Infinity (1e400 parses to it), -1. */
  const WRONG = ['"x"', 'null', 'true', '{}', '[1]', '1e400', '-1', '"2026-12-02T16:59:00Z"', '12'];
  const jsonType = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v);

  it('is ignored, with the reason, when any field is missing or mistyped; the status and its text never throw', () => {
    const { dir, plan } = sweep([0]);
    const now = Date.parse('2026-12-02T17:00:00Z');
    const held = fakeRun(dir, plan.runs[0], 'running', 0);
    const file = path.join(dir, plan.runs[0].dir, 'progress.json');
    const valid = validSnapshot();
    /** Writes `text`; the views must not throw, and a snapshot that must be refused is, naming `key`. */
    const check = (text: string, key: string, mustRefuse: boolean) => {
      fs.writeFileSync(file, text);
      const status = sweepStatus(dir, plan, now);
      const run = status.runs[0];
      expect(run.state).toBe('running');
      const line = describeLive(run, now);
      const shown = formatStatus(dir, plan, status, true, now);
      expect(shown).toContain(line);
      if (run.live === undefined) {
        expect(run.liveProblem, text).toMatch(new RegExp(`^progress\\.json has (no )?${key}\\b`));
        expect(line).toBe(`progress unknown: ${run.liveProblem}`);
      } else {
        expect(mustRefuse, `accepted: ${text}`).toBe(false);
      }
    };
    try {
      fs.writeFileSync(file, JSON.stringify(valid));
      expect(runStatus(dir, plan.runs[0]).live).toEqual(valid);
      for (const key of Object.keys(valid)) {
        const { [key]: _removed, ...without } = valid;
        check(JSON.stringify(without), key, true);
        for (const wrong of WRONG) {
          const value = JSON.parse(wrong);
          const mustRefuse = wrong === '"x"' || (value !== null && jsonType(value) !== jsonType(valid[key])) ||
            (typeof value === 'number' && !Number.isFinite(value));
          check(JSON.stringify({ ...valid, [key]: '\u0000' }).replace('"\\u0000"', wrong), key, mustRefuse);
        }
      }
      for (const text of ['[]', '42', '"progress"']) {
        fs.writeFileSync(file, text);
        expect(runStatus(dir, plan.runs[0])).toMatchObject({ state: 'running', liveProblem: 'progress.json is not a JSON object' });
      }
    } finally {
      held.releaseLock();
    }
  });

  it('is read only when it is a regular file: a FIFO in its place answers at once (--status, in a child process)', () => {
    const { dir, plan } = sweep([0]);
    const held = fakeRun(dir, plan.runs[0], 'running', 0);
    try {
      execFileSync('mkfifo', [path.join(dir, plan.runs[0].dir, 'progress.json')]);
      // In a child with a time limit: a read that waits for a writer would block this test's own thread for good.
      const started = Date.now();
      const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/sweep.ts', '--status', dir], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
      expect(result.signal, `${result.stdout}${result.stderr}`).toBeNull();
      expect(result.status, result.stderr).toBe(0);
      expect(result.stdout).toMatch(/running +pong-adamw-wd1e-4-s0-\S+ +0\/10 it +pid \d+\n +starting \(no progress written yet\)/);
      expect(Date.now() - started).toBeLessThan(60_000);
    } finally {
      held.releaseLock();
    }
  }, 90_000);
});
