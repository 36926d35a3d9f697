// No file a run or a sweep writes is ever written through a symbolic link (issue 21, item 2): every such file, made
// a link to a file outside the directory or a dangling link, is either replaced by a file of its own (whole-file
// writes rename over the link) or refused with an error naming it (appends); the link's target is never changed and
// a dangling link's target never created.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { appendText, openForAppend } from '../src/io/atomic.ts';
import { RUN_FILES, RunDirectory } from '../src/run/run_directory.ts';
import { runArguments, tsxLoaderUrl, type CommandBuilder } from '../src/sweep/command.ts';
import { LocalExecutor, SWEEP_LOCK } from '../src/sweep/local.ts';
import { buildPlan, crossGrid } from '../src/sweep/plan.ts';
import { PLAN_FILE, writeOrCheckPlan, type SweepPlan } from '../src/sweep/plan_file.ts';
import { EXECUTOR_FILE, logFile, outcomeFile } from '../src/sweep/status.ts';

const FAKE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sweep-fake-run.ts');
const OUTSIDE = 'outside, must stay as it is\n';
const KINDS = ['to a file outside', 'dangling'] as const;
type Kind = (typeof KINDS)[number];

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

/** Puts a link at `file` (replacing what is there) to `target`, a file outside holding OUTSIDE or, dangling, nothing. */
function plantLink(file: string, target: string, kind: Kind): void {
  fs.rmSync(file, { recursive: true, force: true });
  if (kind === 'to a file outside') fs.writeFileSync(target, OUTSIDE);
  fs.symlinkSync(target, file);
}

function expectTargetUntouched(target: string, kind: Kind, what: string): void {
  if (kind === 'to a file outside') expect(fs.readFileSync(target, 'utf8'), what).toBe(OUTSIDE);
  else expect(fs.existsSync(target), `${what}: the dangling link's target was created`).toBe(false);
}

/** Runs `write`; a refusal (an append's, or a read of the linked file failing first) must name the file. */
function refusedNaming(file: string, write: () => void): void {
  try {
    write();
  } catch (error) {
    expect((error as Error).message).toContain(file);
  }
}

/**
 * Every file in a run directory and each way RunDirectory writes it. Typed over RUN_FILES (but checkpoints/, a
 * directory of fresh temp names): a file added there without an entry here fails to compile and the test below.
 */
const RUN_WRITES: Record<Exclude<keyof typeof RUN_FILES, 'checkpoints'>, Array<(run: RunDirectory) => unknown>> = {
  config: [(run) => run.recordSettings({ keepCheckpoints: 7 })],
  metrics: [(run) => run.appendMetrics({ iteration: 0 }), (run) => run.truncateMetricsAfter(-1)],
  summary: [(run) => run.writeSummary({ status: 'running' })],
  lock: [(run) => run.acquireLock()],
  progress: [(run) => run.writeProgress({ phase: 'training' })],
  diagnostics: [(run) => run.appendDiagnostics({ iteration: 0, env_steps: 1 }), (run) => run.truncateDiagnosticsAfter(0)],
};

describe('a run directory', () => {
  it('has a writer listed for every file it holds', () => {
    expect(Object.keys(RUN_WRITES).sort()).toEqual(Object.keys(RUN_FILES).filter((k) => k !== 'checkpoints').sort());
  });

  for (const [key, writes] of Object.entries(RUN_WRITES) as Array<[keyof typeof RUN_WRITES, Array<(run: RunDirectory) => unknown>]>) {
    for (const kind of KINDS) {
      it(`never writes ${RUN_FILES[key]} through a link ${kind}`, () => {
        const root = tempDir('no-links-run-');
        const run = RunDirectory.create(path.join(root, 'run'), { game: 'pong', iterations: 2 }, {});
        const file = path.join(run.dir, RUN_FILES[key]);
        const target = path.join(root, `target-${RUN_FILES[key]}`);
        if (key === 'lock') run.releaseLock();
        for (const [i, write] of writes.entries()) {
          plantLink(file, target, kind);
          refusedNaming(file, () => write(run));
          expectTargetUntouched(target, kind, `${RUN_FILES[key]}, write ${i}`);
        }
        if (key === 'lock') expect(run.holdsLock, 'a link at the lock is debris: removed, and the lock taken').toBe(true);
        run.releaseLock();
      });
    }
  }

  it('an append refuses a link in one line naming it; a whole-file write replaces the link with its own file', () => {
    const root = tempDir('no-links-messages-');
    const run = RunDirectory.create(path.join(root, 'run'), { game: 'pong', iterations: 2 }, {});
    for (const kind of KINDS) {
      plantLink(run.paths.metrics, path.join(root, 'target'), kind);
      expect(() => run.appendMetrics({ iteration: 0 })).toThrow(`${run.paths.metrics} is a symbolic link, not a regular file: refusing to write through it`);
      plantLink(run.paths.summary, path.join(root, 'target'), kind);
      run.writeSummary({ status: 'running' });
      expect(fs.lstatSync(run.paths.summary).isFile()).toBe(true);
      fs.rmSync(path.join(root, 'target'), { force: true });
    }
    run.releaseLock();
  });

  it('refuses an append to a FIFO, with or without a reader (a FIFO nobody reads would block the open forever)', () => {
    const root = tempDir('no-links-fifo-');
    const run = RunDirectory.create(path.join(root, 'run'), { game: 'pong', iterations: 2 }, {});
    expect(spawnSync('mkfifo', [run.paths.metrics]).status).toBe(0); // mkfifo(3) is not in Node
    // With a reader first (so that a plain open could not hang this test), then without.
    const reader = fs.openSync(run.paths.metrics, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    expect(() => run.appendMetrics({ iteration: 0 })).toThrow(`${run.paths.metrics} is a FIFO`);
    expect(fs.readSync(reader, Buffer.alloc(100))).toBe(0); // nothing was written into it
    fs.closeSync(reader);
    expect(() => run.appendMetrics({ iteration: 0 })).toThrow(`${run.paths.metrics} is a FIFO`);
    run.releaseLock();
  });
});

describe('the append primitives', () => {
  it('append to a regular file and create a missing one', () => {
    const file = path.join(tempDir('no-links-append-'), 'log');
    appendText(file, 'a\n');
    appendText(file, 'b\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('a\nb\n');
    fs.closeSync(openForAppend(file));
  });
});

const fakeCommand: CommandBuilder = (run, runDir, threads) => ({
  command: process.execPath,
  args: ['--import', tsxLoaderUrl(), FAKE, ...runArguments(run, runDir, threads)],
});

function newPlan(): SweepPlan {
  return buildPlan(crossGrid({ games: ['pong'], optimizers: ['adam'], weightDecays: [0], seeds: [0], preset: 'smoke' }));
}

function sweep(dir: string, plan: SweepPlan) {
  return new LocalExecutor({
    sweepDir: dir, plan, workers: 1, threads: 1, command: fakeCommand,
    env: { ...process.env, FAKE_ITERATION_MS: '10', FAKE_ITERATIONS: '1' }, log: () => {},
  });
}

describe('a sweep directory', () => {
  /** Every file the sweep itself writes (its runs' own files are the run directory's, above). */
  const SWEEP_FILES: Record<string, (dir: string, plan: SweepPlan) => string> = {
    [PLAN_FILE]: (dir) => path.join(dir, PLAN_FILE),
    [SWEEP_LOCK]: (dir) => path.join(dir, SWEEP_LOCK),
    [EXECUTOR_FILE]: (dir) => path.join(dir, EXECUTOR_FILE),
    'logs/<id>.log': (dir, plan) => logFile(dir, plan.runs[0].id),
    'outcomes/<id>.json': (dir, plan) => outcomeFile(dir, plan.runs[0].id),
  };

  for (const [name, where] of Object.entries(SWEEP_FILES)) {
    for (const kind of KINDS) {
      it(`never writes ${name} through a link ${kind}`, async () => {
        const root = tempDir('no-links-sweep-');
        const dir = path.join(root, 'sweep');
        const plan = newPlan();
        const file = where(dir, plan);
        const target = path.join(root, 'target');
        if (name !== PLAN_FILE) writeOrCheckPlan(dir, plan); // the link is planted in an existing sweep
        fs.mkdirSync(path.dirname(file), { recursive: true });
        plantLink(file, target, kind);
        let error: Error | null = null;
        try {
          writeOrCheckPlan(dir, plan);
          const result = await sweep(dir, plan).run();
          expect(result.attempts.map((a) => a.state), name).toEqual(['done']);
        } catch (caught) {
          error = caught as Error;
        }
        expectTargetUntouched(target, kind, name);
        if (name === 'logs/<id>.log') {
          // Refused before the run starts, in one line naming the log; the run was not started.
          expect(error?.message).toBe(`${file} is a symbolic link, not a regular file: refusing to write through it (a run or sweep writes only its own files). Move it away, then rerun.`);
          expect(fs.existsSync(path.join(dir, plan.runs[0].dir))).toBe(false);
        } else if (name === PLAN_FILE) {
          expect(error?.message).toContain(dir); // not a sweep directory that can be used: refused, nothing written
        } else {
          expect(error).toBeNull();
          expect(fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink() ?? false, name).toBe(false); // the lock is gone
        }
      }, 60_000);
    }
  }
});
