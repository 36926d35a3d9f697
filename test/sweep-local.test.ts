// The local executor against a stand-in run script (test/sweep-fake-run.ts) that follows the run-directory
// contract: scheduling, failure isolation, resuming, stopping. The real DQN CLI is exercised in sweep-e2e.test.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RunDirectory } from '../src/run/run_directory.ts';
import { runArguments, tsxLoaderUrl, type CommandBuilder } from '../src/sweep/command.ts';
import { LocalExecutor, SweepLockedError } from '../src/sweep/local.ts';
import { buildPlan, crossGrid } from '../src/sweep/plan.ts';
import { writeOrCheckPlan, type SweepPlan } from '../src/sweep/plan_file.ts';
import { acquireLock } from '../src/io/lock.ts';
import { runStatus, sweepStatus, writeOutcome } from '../src/sweep/status.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const FAKE = path.join(here, 'sweep-fake-run.ts');

export const fakeCommand: CommandBuilder = (run, runDir, threads) => ({
  command: process.execPath,
  args: ['--import', tsxLoaderUrl(), FAKE, ...runArguments(run, runDir, threads)],
});

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function newSweep(grid: Parameters<typeof crossGrid>[0]): { dir: string; plan: SweepPlan } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-local-'));
  temps.push(dir);
  const plan = buildPlan(crossGrid(grid));
  writeOrCheckPlan(dir, plan);
  return { dir, plan };
}

function executor(dir: string, plan: SweepPlan, extra: { workers?: number; env?: Record<string, string>; lines?: string[] } = {}) {
  return new LocalExecutor({
    sweepDir: dir,
    plan,
    workers: extra.workers ?? 2,
    threads: 1,
    command: fakeCommand,
    env: { ...process.env, FAKE_ITERATION_MS: '30', ...extra.env },
    log: (line) => extra.lines?.push(line),
  });
}

function iterations(dir: string, plan: SweepPlan, id: string): number[] {
  const run = plan.runs.find((r) => r.id === id)!;
  return RunDirectory.open(path.join(dir, run.dir)).readMetrics().records.map((r) => r.iteration);
}

function attemptsInLog(dir: string, id: string): number {
  return fs.readFileSync(path.join(dir, 'logs', `${id}.log`), 'utf8').split('\n').filter((l) => l.startsWith('=== ')).length;
}

/** A sweep driver script (a separate process, to be SIGKILLed) running `dir`'s plan with 2 workers on fake runs. */
function writeDriver(dir: string): string {
  const driver = path.join(dir, 'driver.mts'); // .mts: ESM (top-level await) outside the repo's package.json
  fs.writeFileSync(driver, [
    `import { LocalExecutor } from ${JSON.stringify(path.resolve(here, '../src/sweep/local.ts'))};`,
    `import { readPlan } from ${JSON.stringify(path.resolve(here, '../src/sweep/plan_file.ts'))};`,
    `import { runArguments, tsxLoaderUrl } from ${JSON.stringify(path.resolve(here, '../src/sweep/command.ts'))};`,
    `const dir = ${JSON.stringify(dir)};`,
    `const command = (run, runDir, threads) => ({ command: process.execPath, args: ['--import', tsxLoaderUrl(), ${JSON.stringify(FAKE)}, ...runArguments(run, runDir, threads)] });`,
    'await new LocalExecutor({ sweepDir: dir, plan: readPlan(dir), workers: 2, threads: 1, command, log: () => {} }).run();',
  ].join('\n'));
  return driver;
}

async function waitFor(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('local executor', () => {
  it('runs every run in its own process, N at a time, each with its own log, and passes --threads', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adam', 'adamw'], weightDecays: [1e-4, 1e-5], seeds: [0, 1], preset: 'smoke' });
    expect(plan.runs).toHaveLength(6);
    const result = await executor(dir, plan, { workers: 2 }).run();
    expect(result.stopped).toBe(false);
    expect(result.attempts.map((a) => a.state)).toEqual(Array(6).fill('done'));
    const pids = new Set<number>();
    const spans: Array<[number, number]> = [];
    for (const run of plan.runs) {
      const summary = JSON.parse(fs.readFileSync(path.join(dir, run.dir, 'summary.json'), 'utf8'));
      expect(summary).toMatchObject({ status: 'completed', game: 'pong', optimizer: run.optimizer, weight_decay: run.weightDecay, seed: run.seed, threads: 1 });
      pids.add(summary.pid);
      expect(iterations(dir, plan, run.id)).toEqual([0, 1, 2]);
      expect(attemptsInLog(dir, run.id)).toBe(1);
      expect(fs.readFileSync(path.join(dir, 'logs', `${run.id}.log`), 'utf8')).toContain(`fake run pong ${run.optimizer}`);
      const outcome = JSON.parse(fs.readFileSync(path.join(dir, 'outcomes', `${run.id}.json`), 'utf8'));
      expect(outcome).toMatchObject({ id: run.id, executor: 'local', exitCode: 0, signal: null, stopRequested: false });
      spans.push([Date.parse(outcome.startedAt), Date.parse(outcome.endedAt)]);
    }
    expect(pids.size).toBe(6);
    // Never more than 2 at once, and the 2 workers did overlap.
    const overlapAt = (t: number) => spans.filter(([a, b]) => a <= t && t < b).length;
    const maxOverlap = Math.max(...spans.map(([a]) => overlapAt(a)));
    expect(maxOverlap).toBe(2);
    const status = sweepStatus(dir, plan);
    expect(status.counts).toMatchObject({ done: 6, pending: 0, failed: 0, running: 0 });
    expect(status.etaSeconds).toBe(0);
  }, 120_000);

  it('records a failing, diverging, crashing or killed run with its reason and finishes the others; a rerun retries only failures', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adam', 'adamw', 'adam-l2'], weightDecays: [1e-4], seeds: [0, 1, 2], preset: 'smoke' });
    const behaviour = { 'adamw/0': 'fail', 'adamw/1': 'diverge', 'adam/1': 'crash', 'adam-l2/2': 'kill', 'adam-l2/0': 'bad-args' };
    const result = await executor(dir, plan, { env: { FAKE_RUN_BEHAVIOUR: JSON.stringify(behaviour) } }).run();
    const stateOf = (opt: string, seed: number) => result.attempts.find((a) => a.run.optimizer === opt && a.run.seed === seed)!;
    expect(stateOf('adamw', 0)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^simulated failure in iteration 0 \(see logs\/pong-adamw-.*\.log\)$/) });
    expect(stateOf('adamw', 1)).toMatchObject({ state: 'diverged', reason: 'at step 200: loss became NaN (simulated)' });
    expect(stateOf('adam', 1)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^exited with code 1: error: simulated crash without a summary/) });
    expect(stateOf('adam-l2', 2)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^killed by SIGKILL \(out of memory, or kill -9\?\)/) });
    expect(stateOf('adam-l2', 0)).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^exited with code 1 before the run started: error: simulated bad input/) });
    for (const [opt, seed] of [['adam', 0], ['adam', 2], ['adamw', 2], ['adam-l2', 1]] as const) expect(stateOf(opt, seed).state).toBe('done');
    expect(sweepStatus(dir, plan).counts).toMatchObject({ done: 4, failed: 4, diverged: 1 });

    // Rerun with the faults gone: the 4 failed runs are retried (and resume), the diverged one is a result and stays.
    const lines: string[] = [];
    const again = await executor(dir, plan, { lines }).run();
    expect(again.attempts).toHaveLength(4);
    expect(again.attempts.every((a) => a.state === 'done')).toBe(true);
    expect(sweepStatus(dir, plan).counts).toMatchObject({ done: 8, failed: 0, diverged: 1 });
    expect(lines[0]).toMatch(/9 runs; 4 done, 1 diverged, 4 to run/);
    for (const run of plan.runs) {
      const failedBefore = ['adamw/0', 'adam/1', 'adam-l2/2', 'adam-l2/0'].includes(`${run.optimizer}/${run.seed}`);
      expect(attemptsInLog(dir, run.id)).toBe(failedBefore ? 2 : 1);
      if (run.optimizer === 'adamw' && run.seed === 1) continue; // diverged at iteration 1
      expect(iterations(dir, plan, run.id)).toEqual([0, 1, 2]); // resumed, never duplicated
    }
  }, 120_000);

  it('stop(): each running run gets exactly one SIGTERM, checkpoints, and the rerun resumes it without duplicating work', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds: [0, 1, 2, 3], preset: 'smoke', overrides: { iterations: 8 } });
    const env = { FAKE_ITERATION_MS: '250' };
    const ex = executor(dir, plan, { env });
    const running = ex.run();
    const [a, b] = plan.runs;
    await waitFor(() => [a, b].every((r) => fs.existsSync(path.join(dir, r.dir, 'metrics.jsonl')) && iterations(dir, plan, r.id).length >= 1));
    ex.stop();
    const result = await running;
    expect(result.stopped).toBe(true);
    expect(result.attempts.map((x) => x.state)).toEqual(['interrupted', 'interrupted']);
    for (const r of [a, b]) {
      const summary = JSON.parse(fs.readFileSync(path.join(dir, r.dir, 'summary.json'), 'utf8'));
      expect(summary.status).toBe('interrupted');
      expect(summary.signals).toEqual(['SIGTERM']);
      expect(summary.iterations_completed).toBeLessThan(8);
    }
    const status = sweepStatus(dir, plan);
    expect(status.counts).toMatchObject({ interrupted: 2, pending: 2 });
    expect(status.etaSeconds).toBeGreaterThan(0);

    const again = await executor(dir, plan, { env: { FAKE_ITERATION_MS: '20' } }).run();
    expect(again.attempts.map((x) => x.state)).toEqual(['done', 'done', 'done', 'done']);
    for (const r of plan.runs) expect(iterations(dir, plan, r.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  }, 120_000);

  it('an attempt refused by the lock of a live copy of the run leaves that copy\'s outcome record alone', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adam'], weightDecays: [], seeds: [0], preset: 'smoke' });
    const [run] = plan.runs;
    const previous = { id: run.id, executor: 'local' as const, startedAt: '2026-01-01T00:00:00.000Z', host: os.hostname(), pid: 4242 };
    writeOutcome(dir, previous);
    let held: ReturnType<typeof acquireLock> | null = null;
    // Another copy of the run takes its lock in the moment between this driver's look and its child's start.
    const racing: CommandBuilder = (r, runDir, threads) => {
      fs.mkdirSync(runDir, { recursive: true });
      held = acquireLock(path.join(runDir, 'run.lock'));
      return fakeCommand(r, runDir, threads);
    };
    const lines: string[] = [];
    const running = new LocalExecutor({ sweepDir: dir, plan, workers: 1, threads: 1, command: racing, log: (l) => lines.push(l) }).run();
    // The refused attempt means the run is running: the driver waits for its holder, then ends.
    await waitFor(() => lines.some((l) => /is already running \(pid \d+\); it counts against the 1 worker/.test(l)));
    await new Promise((r) => setTimeout(r, 300));
    expect(fs.existsSync(path.join(dir, 'sweep.lock'))).toBe(true);
    held!.release();
    const result = await running;
    expect(result.attempts).toHaveLength(0);
    expect(result.adopted).toEqual([run.id]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'outcomes', `${run.id}.json`), 'utf8'))).toEqual(previous);
    expect(fs.readFileSync(path.join(dir, 'logs', `${run.id}.log`), 'utf8')).toMatch(/found the run already running \(pid \d+\); its outcome is not recorded/);
  }, 60_000);

  it('refuses a second executor on the same sweep while one runs', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adam'], weightDecays: [], seeds: [0], preset: 'smoke' });
    const first = executor(dir, plan, { env: { FAKE_ITERATION_MS: '300' } });
    const running = first.run();
    await waitFor(() => fs.existsSync(path.join(dir, 'sweep.lock')));
    await expect(executor(dir, plan).run()).rejects.toThrow(SweepLockedError);
    await expect(executor(dir, plan).run()).rejects.toThrow(new RegExp(`is being run by pid ${process.pid}.*--status`));
    await running;
    expect(fs.existsSync(path.join(dir, 'sweep.lock'))).toBe(false);
  }, 60_000);

  it('kill -9 of the sweep loses nothing: its runs finish on their own, a rerun neither duplicates nor restarts them', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds: [0, 1, 2], preset: 'smoke', overrides: { iterations: 6 } });
    const driver = writeDriver(dir);
    const child = spawn(process.execPath, ['--import', tsxLoaderUrl(), driver], { stdio: 'ignore', env: { ...process.env, FAKE_ITERATION_MS: '300' } });
    const [a, b] = plan.runs;
    await waitFor(() => [a, b].every((r) => fs.existsSync(path.join(dir, r.dir, 'metrics.jsonl')) && iterations(dir, plan, r.id).length >= 1));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    // The sweep is gone; its two runs still hold their locks and go on. A rerun must not start them a second time.
    expect(runStatus(dir, a).state).toBe('running');
    const lines: string[] = [];
    const again = await executor(dir, plan, { lines }).run();
    expect(again.attempts.map((x) => x.run.id)).toEqual([plan.runs[2].id]);
    expect(again.adopted).toEqual([a.id, b.id]);
    expect(lines.filter((l) => l.includes('already running'))).toHaveLength(2);
    // The two live runs fill both workers: the third starts only once one of them has ended, and the driver
    // returns only when all three have.
    const firstEnd = lines.findIndex((l) => l.includes('has ended'));
    expect(firstEnd).toBeGreaterThan(-1);
    expect(lines.findIndex((l) => l.includes(`start ${plan.runs[2].id}`))).toBeGreaterThan(firstEnd);
    expect(sweepStatus(dir, plan).counts.done).toBe(3);
    for (const r of plan.runs) {
      expect(iterations(dir, plan, r.id)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(attemptsInLog(dir, r.id)).toBe(1);
    }
  }, 120_000);

  it('a driver whose queue is empty but that adopted running runs ends when they end (it used to wait forever)', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds: [0, 1], preset: 'smoke', overrides: { iterations: 4 } });
    const child = spawn(process.execPath, ['--import', tsxLoaderUrl(), writeDriver(dir)], { stdio: 'ignore', env: { ...process.env, FAKE_ITERATION_MS: '300' } });
    await waitFor(() => plan.runs.every((r) => runStatus(dir, r).state === 'running'));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const lines: string[] = [];
    const result = await executor(dir, plan, { lines }).run(); // nothing to start: both runs are another's
    expect(result.attempts).toEqual([]);
    expect(result.adopted).toEqual(plan.runs.map((r) => r.id));
    expect(lines.filter((l) => l.includes('has ended'))).toHaveLength(2);
    expect(sweepStatus(dir, plan).counts.done).toBe(2);
  }, 60_000);

  it('a driver killed after starting runs but before they took their locks: the next one never has more than --workers going', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds: [0, 1, 2, 3], preset: 'smoke', overrides: { iterations: 3 } });
    // The dead driver's runs wait 1.5 s before they lock their directories (kill the driver inside that window),
    // then train for 9 s; the next driver's attempts wait 3 s, so the dead driver's runs always win the locks and
    // are still going when the refused attempts end, which is when the defect started the next two runs beside them.
    const env = { ...process.env, FAKE_ITERATION_MS: '3000', FAKE_LOCK_DELAY_MS: '1500' };
    const child = spawn(process.execPath, ['--import', tsxLoaderUrl(), writeDriver(dir)], { stdio: 'ignore', env });
    const started = (r: SweepPlan['runs'][number]) => fs.existsSync(path.join(dir, 'outcomes', `${r.id}.json`));
    await waitFor(() => plan.runs.filter(started).length === 2);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(plan.runs.filter((r) => runStatus(dir, r).state === 'running')).toHaveLength(0); // none locked yet
    let maxLive = 0;
    const sample = setInterval(() => {
      maxLive = Math.max(maxLive, plan.runs.filter((r) => runStatus(dir, r).state === 'running').length);
    }, 20);
    const lines: string[] = [];
    try {
      const next = { ...process.env, FAKE_ITERATION_MS: '200', FAKE_LOCK_DELAY_MS: '3000' };
      await new LocalExecutor({ sweepDir: dir, plan, workers: 2, threads: 1, command: fakeCommand, env: next, log: (l) => lines.push(l) }).run();
    } finally {
      clearInterval(sample);
    }
    expect(maxLive).toBe(2);
    expect(lines.filter((l) => /is already running \(pid \d+\); it counts against the 2 worker/.test(l))).toHaveLength(2);
    expect(sweepStatus(dir, plan).counts.done).toBe(4);
    for (const r of plan.runs) expect(iterations(dir, plan, r.id)).toEqual([0, 1, 2]);
  }, 60_000);

  it('kill chaos: drivers and runs SIGKILLed over and over never put more than --workers runs to work, and lose or repeat nothing', async () => {
    const { dir, plan } = newSweep({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds: [0, 1, 2, 3, 4], preset: 'smoke', overrides: { iterations: 5 } });
    const driver = writeDriver(dir);
    // Runs take 400 ms to lock their directories, so many kills land between a driver starting runs and their locks.
    const env = { ...process.env, FAKE_ITERATION_MS: '150', FAKE_LOCK_DELAY_MS: '400' };
    const startDriver = () => spawn(process.execPath, ['--import', tsxLoaderUrl(), driver], { stdio: 'ignore', env });
    let maxLive = 0;
    let runsKilled = 0;
    const sample = setInterval(() => {
      maxLive = Math.max(maxLive, plan.runs.filter((r) => runStatus(dir, r).state === 'running').length);
    }, 20);
    try {
      const deadline = Date.now() + 90_000;
      for (let round = 0; sweepStatus(dir, plan).counts.done < plan.runs.length; round++) {
        if (Date.now() > deadline) throw new Error('the sweep did not finish under kill chaos');
        const child = startDriver();
        const exited = new Promise((r) => child.once('exit', r));
        await new Promise((r) => setTimeout(r, 400 + 150 * (round % 4)));
        if (round < 6) {
          // Kill only once runs are going (a driver killed before it started any would test nothing; on a loaded
          // machine a driver takes seconds to start).
          const running = () => plan.runs.find((r) => runStatus(dir, r).state === 'running');
          await waitFor(() => running() !== undefined || sweepStatus(dir, plan).counts.done === plan.runs.length);
          child.kill('SIGKILL'); // the driver dies; its runs live on
          // ... and every other round one run dies too (kill -9 of the run: it resumes from its checkpoint). Its
          // parent is dead, so it stays a zombie wherever pid 1 does not reap (many containers, CI here).
          const live = running();
          const pid = live && JSON.parse(fs.readFileSync(path.join(dir, live.dir, 'run.lock'), 'utf8')).pid;
          if (round % 2 === 1 && pid) {
            try {
              process.kill(pid, 'SIGKILL');
              runsKilled++;
            } catch { /* already gone */ }
          }
        }
        await exited;
      }
    } finally {
      clearInterval(sample);
    }
    expect(maxLive).toBeGreaterThan(0);
    expect(maxLive).toBeLessThanOrEqual(2);
    expect(runsKilled).toBe(3);
    for (const r of plan.runs) expect(iterations(dir, plan, r.id)).toEqual([0, 1, 2, 3, 4]);
  }, 150_000);
});
