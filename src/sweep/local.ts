// The local executor: runs a sweep's runs on this machine, each in its own process, `workers` at a time.
//
// Safety: the sweep directory is locked (one local executor per sweep); each run's directory is locked by the run
// itself, and every result file is written atomically by the run, so killing this process at any moment loses at
// most what each run did since its last checkpoint. A rerun skips completed and diverged runs, resumes the others.
// Children get their own process group: Ctrl-C in a terminal reaches only this process, which then sends each
// child exactly one SIGTERM (a run checkpoints and exits on it) and waits; a second Ctrl-C kills them outright.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatDuration, formatLambda, shellQuote } from '../format.ts';
import { appendText, openForAppend, refuseLink } from '../io/atomic.ts';
import { acquireLock, inspectLock, RunLockedError, type HeldLock } from '../io/lock.ts';
import { RUN_FILES } from '../run/run_directory.ts';
import { atariCommand, type CommandBuilder, type RunOutputOptions } from './command.ts';
import type { PlannedRun, SweepPlan } from './plan_file.ts';
import {
  LOGS_DIR,
  logFile,
  readOutcome,
  runDirOf,
  runStatus,
  writeExecutorRecord,
  writeOutcome,
  type RunState,
  type RunStatus,
} from './status.ts';

export const SWEEP_LOCK = 'sweep.lock';

/** How often a driver looks whether runs it did not start (a dead driver's) have ended. */
const ORPHAN_POLL_MS = 2000;

export class SweepLockedError extends Error {
  constructor(dir: string, cause: RunLockedError) {
    super(
      `sweep ${dir} is being run by pid ${cause.holder.pid}${cause.holder.hostname === os.hostname() ? '' : ` on ${cause.holder.hostname}`} ` +
        `(since ${cause.holder.acquiredAt}). Watch it with: npm run sweep -- --status ${shellQuote(dir)}`,
    );
    this.name = 'SweepLockedError';
  }
}

export interface LocalExecutorOptions {
  sweepDir: string;
  plan: SweepPlan;
  workers: number;
  threads: number;
  /** How to start a run; the real atari CLI unless a test injects a stand-in. */
  command?: CommandBuilder;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Retry runs whose last attempt failed (default true: failures are often transient, e.g. out of memory). */
  retryFailed?: boolean;
  /** How the runs store their output (replay in checkpoints, how many checkpoints, TensorBoard). */
  output?: RunOutputOptions;
}

export interface AttemptResult {
  run: PlannedRun;
  state: RunState;
  reason?: string;
  seconds: number;
}

export interface LocalResult {
  /** Runs started in this invocation and how they ended. */
  attempts: AttemptResult[];
  /** Runs that were already running (another driver's, still alive) when this one started: it waited for them. */
  adopted: string[];
  /** Runs not started: already done/diverged, running elsewhere, corrupt, or (after a stop) not reached. */
  skipped: RunStatus[];
  stopped: boolean;
}

interface Active {
  run: PlannedRun;
  child: ChildProcess;
  started: number;
  /** Resolves when the attempt ends: null, or the pid of another live process whose lock refused the attempt. */
  done: Promise<number | null>;
}

/**
 * The order runs are started in: seed by seed (within a seed, the plan's order), so a sweep stopped or cut short
 * halfway has every arm at its first seeds, a comparable table, rather than every seed of the first arms only.
 */
export function seedMajor(runs: readonly PlannedRun[]): PlannedRun[] {
  return runs.map((run, index) => ({ run, index })).sort((a, b) => a.run.seed - b.run.seed || a.index - b.index).map((e) => e.run);
}

export function describeRun(run: PlannedRun): string {
  return `${run.game} ${run.optimizer} λ=${formatLambda(run.weightDecay)} seed ${run.seed}`;
}

export class LocalExecutor {
  private readonly active = new Map<string, Active>();
  private stopRequests = 0;
  private readonly log: (line: string) => void;
  private readonly command: CommandBuilder;

  constructor(private readonly options: LocalExecutorOptions) {
    if (!Number.isSafeInteger(options.workers) || options.workers < 1) throw new RangeError(`workers must be >= 1, got ${options.workers}`);
    if (!Number.isSafeInteger(options.threads) || options.threads < 1) throw new RangeError(`threads must be >= 1, got ${options.threads}`);
    this.log = options.log ?? ((line) => console.log(line));
    this.command = options.command ?? atariCommand;
  }

  /**
   * Asks the sweep to stop: no new runs start, each running run gets SIGTERM (it checkpoints and exits). A second
   * call kills the runs' process groups with SIGKILL (their last checkpoints stay intact).
   */
  stop(): void {
    this.stopRequests++;
    if (this.stopRequests === 1) {
      if (this.active.size > 0) {
        this.log(`stopping: asked ${this.active.size} running run(s) to checkpoint and exit (Ctrl-C again to kill them at once)`);
      }
      for (const a of this.active.values()) signalChild(a.child, 'SIGTERM', false);
    } else if (this.stopRequests === 2) {
      this.log(`killing ${this.active.size} run(s); they resume from their last checkpoint next time`);
      for (const a of this.active.values()) signalChild(a.child, 'SIGKILL', true);
    }
  }

  get stopping(): boolean {
    return this.stopRequests > 0;
  }

  async run(): Promise<LocalResult> {
    const { sweepDir, plan, workers, threads } = this.options;
    let lock: HeldLock;
    try {
      lock = acquireLock(path.join(sweepDir, SWEEP_LOCK));
    } catch (err) {
      if (err instanceof RunLockedError) throw new SweepLockedError(sweepDir, err);
      throw err;
    }
    try {
      fs.mkdirSync(path.join(sweepDir, LOGS_DIR), { recursive: true });
      writeExecutorRecord(sweepDir, { kind: 'local', workers, threads, startedAt: new Date().toISOString(), host: os.hostname(), pid: process.pid });

      const skipped: RunStatus[] = [];
      const queue: PlannedRun[] = [];
      for (const run of seedMajor(plan.runs)) {
        const status = runStatus(sweepDir, run);
        const retry = status.state === 'failed' && (this.options.retryFailed ?? true);
        if (status.state === 'pending' || status.state === 'interrupted' || retry) queue.push(run);
        else skipped.push(status);
      }
      // A link at a queued run's log is refused here, before any run starts, in one line: start() refuses it too,
      // but may run in a callback, where a throw would end the driver with a stack trace.
      for (const run of queue) refuseLink(logFile(sweepDir, run.id));
      const byState = (s: RunState) => skipped.filter((r) => r.state === s);
      this.log(
        `sweep ${sweepDir}: ${plan.runs.length} runs; ${byState('done').length} done, ${byState('diverged').length} diverged, ` +
          `${queue.length} to run with ${workers} worker(s) × ${threads} thread(s)`,
      );
      // Runs still training under a driver that died count against --workers, and are waited for: a restarted
      // driver never has more than `workers` runs going at once.
      const orphans = new Set(byState('running').map((r) => r.run.id));
      const adoptedLater: string[] = [];
      for (const r of byState('running')) this.log(`  waiting for ${r.run.id}: already running (${r.reason}); it counts against the ${workers} worker(s)`);
      for (const r of byState('corrupt')) this.log(`  skipping ${r.run.id}: ${r.reason}`);
      for (const r of byState('failed')) this.log(`  not retrying ${r.run.id}: ${r.reason}`);

      const attempts: AttemptResult[] = [];
      const total = queue.length;
      let next = 0;
      const liveOrphans = () => {
        for (const id of orphans) {
          const run = plan.runs.find((r) => r.id === id)!;
          if (runStatus(sweepDir, run).state !== 'running') {
            orphans.delete(id);
            this.log(`  ${id}, started by an earlier driver, has ended`);
          }
        }
        return orphans.size;
      };
      await new Promise<void>((resolve) => {
        let poll: NodeJS.Timeout | null = null;
        const pump = () => {
          // Orphans are looked at on every pass, also when nothing is left to start: a driver whose queue is empty
          // must still see its adopted runs end, or it would wait for them forever.
          liveOrphans();
          while (!this.stopping && next < queue.length && this.active.size + orphans.size < workers) {
            const run = queue[next++];
            const index = next;
            const active = this.start(run);
            this.log(`[${index}/${total}] start ${run.id} (${describeRun(run)})`);
            active.done.then((refusedBy) => {
              this.active.delete(run.id);
              if (refusedBy !== null) {
                // Another live process holds the run (a dead driver's run that took its lock after this driver
                // looked): it is running, so it counts against the workers, as an orphan, until its holder exits.
                orphans.add(run.id);
                adoptedLater.push(run.id);
                this.log(`[${index}/${total}] ${run.id} is already running (pid ${refusedBy}); it counts against the ${workers} worker(s)`);
                pump();
                return;
              }
              const status = runStatus(sweepDir, run);
              const seconds = (Date.now() - active.started) / 1000;
              // A run that exited and left its lock behind cannot be 'running'; classify by the rest of its files.
              const state: RunState = status.state === 'running' ? 'interrupted' : status.state;
              attempts.push({ run, state, reason: status.reason, seconds });
              this.log(`[${index}/${total}] ${state} ${run.id} after ${formatDuration(seconds)}${status.reason ? `: ${status.reason}` : ''}`);
              pump();
            });
          }
          const waitingForOrphans = !this.stopping && orphans.size > 0;
          if (this.active.size === 0 && !waitingForOrphans && (this.stopping || next >= queue.length)) {
            if (poll) clearInterval(poll);
            resolve();
          } else if (orphans.size > 0 && poll === null) {
            poll = setInterval(pump, ORPHAN_POLL_MS); // an orphan's end frees a worker: nothing else would tell us
          } else if (orphans.size === 0 && poll !== null) {
            clearInterval(poll);
            poll = null;
          }
        };
        pump();
      });
      for (const run of queue.slice(next)) skipped.push(runStatus(sweepDir, run));
      return { attempts, adopted: [...byState('running').map((r) => r.run.id), ...adoptedLater], skipped, stopped: this.stopping };
    } finally {
      lock.release();
    }
  }

  private start(run: PlannedRun): Active {
    const { sweepDir, threads, output } = this.options;
    const runDir = path.resolve(runDirOf(sweepDir, run));
    const { command, args } = this.command(run, runDir, threads, output);
    const log = logFile(sweepDir, run.id);
    const runLock = path.join(runDir, RUN_FILES.lock);
    // The record of the attempt before this one: put back if this one turns out to be a duplicate (below).
    const previousOutcome = readOutcome(sweepDir, run.id);
    const fd = openForAppend(log); // never through a link planted at logs/<id>.log
    const startedAt = new Date().toISOString();
    fs.writeSync(fd, `=== ${startedAt} attempt on ${os.hostname()}: ${[command, ...args].map(quoteForLog).join(' ')}\n`);
    let child: ChildProcess;
    try {
      child = spawn(command, args, {
        stdio: ['ignore', fd, fd],
        detached: true, // own process group: a terminal's Ctrl-C reaches only the sweep, which forwards one SIGTERM
        env: this.options.env ?? process.env,
      });
    } finally {
      fs.closeSync(fd); // the child has its own copy
    }
    writeOutcome(sweepDir, { id: run.id, executor: 'local', startedAt, host: os.hostname(), pid: child.pid });
    const done = new Promise<number | null>((resolve) => {
      let settled = false;
      const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (settled) return;
        settled = true;
        if (spawnError) appendText(log, `error: could not start ${command}: ${spawnError.message}\n`);
        // Another live process holds the run (a dead driver's run that had not taken its lock when this driver
        // looked): this attempt was refused by the lock and says nothing about the run. The run's own files and
        // the other attempt's record stand.
        const holder = inspectLock(runLock);
        if (!spawnError && holder.live && holder.pid !== child.pid) {
          appendText(log, `=== that attempt found the run already running (pid ${holder.pid}); its outcome is not recorded\n`);
          if (previousOutcome) writeOutcome(sweepDir, previousOutcome);
          resolve(holder.pid ?? -1);
          return;
        }
        writeOutcome(sweepDir, {
          id: run.id,
          executor: 'local',
          startedAt,
          endedAt: new Date().toISOString(),
          exitCode: spawnError ? 127 : exitCode,
          signal,
          stopRequested: this.stopping,
          host: os.hostname(),
          pid: child.pid,
        });
        resolve(null);
      };
      child.on('error', (err) => finish(null, null, err));
      child.on('exit', (code, signal) => finish(code, signal));
    });
    const active: Active = { run, child, started: Date.now(), done };
    this.active.set(run.id, active);
    if (this.stopRequests >= 1) signalChild(child, 'SIGTERM', false);
    return active;
  }
}

function signalChild(child: ChildProcess, signal: NodeJS.Signals, group: boolean): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(group ? -child.pid : child.pid, signal);
  } catch {
    // Already gone.
  }
}

function quoteForLog(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
