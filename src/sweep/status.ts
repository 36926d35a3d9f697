// Where each run of a sweep stands, read from the files alone (any executor, any host, while it runs or after a
// crash): the run's summary.json decides; the lock file tells whether a process is on it now; the outcome record
// the executor writes after each attempt explains deaths the run could not record itself (killed, crashed early).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatDuration } from '../format.ts';
import { readJsonFile, writeJsonAtomic } from '../io/atomic.ts';
import { inspectLock } from '../io/lock.ts';
import { etaText, liveFields, type ProgressSnapshot } from '../run/progress.ts';
import { fitFields, type Field } from '../run/terminal_text.ts';
import { InconsistentRunError, readProgressFile, RUN_FILES, RunDirectory, runFilesProblem, type RunSummary } from '../run/run_directory.ts';
import type { PlannedRun, SweepPlan } from './plan_file.ts';
import { plannedRunConfig } from './plan.ts';

export const OUTCOMES_DIR = 'outcomes';
export const LOGS_DIR = 'logs';
export const EXECUTOR_FILE = 'executor.json';

/**
 * done: completed. diverged: a result too (the scheme diverged at that λ), not retried. failed: error, retried by a
 * rerun. running: a live process holds the run's lock. interrupted: started, stopped, resumable. pending: never
 * started. corrupt: a file of the run does not parse; a person must look (the message says what to do).
 */
export type RunState = 'done' | 'diverged' | 'failed' | 'running' | 'interrupted' | 'pending' | 'corrupt';
export const RUN_STATES: readonly RunState[] = ['done', 'diverged', 'failed', 'running', 'interrupted', 'pending', 'corrupt'];

/** Written by an executor into DIR/outcomes/<id>.json when an attempt starts and when it ends. */
export interface AttemptOutcome {
  id: string;
  executor: 'local' | 'slurm';
  startedAt?: string;
  endedAt?: string;
  /** null while running or when killed by a signal. */
  exitCode?: number | null;
  signal?: string | null;
  /** The sweep asked the run to stop (Ctrl-C): a signal death then means "interrupted", not "failed". */
  stopRequested?: boolean;
  host?: string;
  pid?: number;
  slurmJob?: string;
}

export interface RunStatus {
  run: PlannedRun;
  state: RunState;
  reason?: string;
  summaryStatus?: string;
  iterationsCompleted: number;
  iterationsPlanned: number | null;
  envSteps: number;
  /** Cumulative wall time of the run over all its sessions (last metrics record). */
  wallSeconds: number;
  /** A running run's own account of where it stands (its progress.json), if it has written a valid one. */
  live?: ProgressSnapshot;
  /** The learning-phase agent steps/s the run last measured (summary.json), for the ETA of runs that are not running. */
  learningStepsPerSecond?: number;
  /** Why a progress.json that parsed was not taken as `live` (another version's or damaged): shown instead. */
  liveProblem?: string;
}

export function runDirOf(sweepDir: string, run: PlannedRun): string {
  return path.join(sweepDir, run.dir);
}

export function outcomeFile(sweepDir: string, id: string): string {
  return path.join(sweepDir, OUTCOMES_DIR, `${id}.json`);
}

export function logFile(sweepDir: string, id: string): string {
  return path.join(sweepDir, LOGS_DIR, `${id}.log`);
}

export function writeOutcome(sweepDir: string, outcome: AttemptOutcome): void {
  fs.mkdirSync(path.join(sweepDir, OUTCOMES_DIR), { recursive: true });
  writeJsonAtomic(outcomeFile(sweepDir, outcome.id), outcome);
}

/** The record of a run's last attempt, or null (none, or unreadable). */
export function readOutcome(sweepDir: string, id: string): AttemptOutcome | null {
  const file = outcomeFile(sweepDir, id);
  if (!fs.existsSync(file)) return null;
  try {
    return readJsonFile<AttemptOutcome>(file, 'attempt outcome');
  } catch {
    return null; // only an explanation of a death; the run's own files decide its state
  }
}

/** The last error-looking line of a run's log, to say why it died. */
/** An info or warning line of TensorFlow's C++ logging: `2026-12-01 21:52:11.123456: I tensorflow/…] …`. */
const TF_LOG_LINE = /^\d{4}-\d\d-\d\d[ T][\d:.]+: [IW] /;

export function logTail(sweepDir: string, id: string): string | undefined {
  const file = logFile(sweepDir, id);
  let text: string;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const length = Math.min(size, 8192);
      const buffer = Buffer.alloc(length);
      fs.readSync(fd, buffer, 0, length, size - length);
      text = buffer.toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  // TensorFlow's own info and warning lines (its oneDNN banner mentions "errors") are never the reason a run died.
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('=== ') && !TF_LOG_LINE.test(l));
  const last = (test: (l: string) => boolean) => [...lines].reverse().find(test);
  // Our CLIs' own "error: …" line first, then an exception's "SomethingError: …", then the last line.
  const line = last((l) => /^error: /i.test(l)) ?? last((l) => /\b[A-Z]\w*Error\b/.test(l)) ?? lines[lines.length - 1];
  if (line === undefined) return undefined;
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function describeDeath(outcome: AttemptOutcome): string | null {
  if (outcome.endedAt === undefined) return null;
  if (outcome.signal) return `killed by ${outcome.signal}${outcome.signal === 'SIGKILL' ? ' (out of memory, or kill -9?)' : ''}`;
  if (typeof outcome.exitCode === 'number' && outcome.exitCode !== 0) return `exited with code ${outcome.exitCode}`;
  return null;
}

const count = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const rateOrNull = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));

/**
 * What every field of a progress snapshot must hold. Typed over all of ProgressSnapshot's keys, so a field added
 * there cannot be forgotten here: a snapshot is read from a file another version of the harness (on a shared
 * filesystem) or damage may have written, and the views computing with it must never meet a wrong type.
 */
const SNAPSHOT_FIELDS: { [K in keyof ProgressSnapshot]-?: [(v: unknown) => boolean, string] } = {
  updatedAt: [(v) => typeof v === 'string' && Number.isFinite(Date.parse(v)), 'a date'],
  iteration: [count, 'a number >= 0'],
  iterations: [count, 'a number >= 0'],
  phase: [(v) => v === 'train' || v === 'eval', "'train' or 'eval'"],
  phaseSteps: [count, 'a number >= 0'],
  phaseTarget: [count, 'a number >= 0'],
  runSteps: [count, 'a number >= 0'],
  runTarget: [count, 'a number >= 0'],
  warmupStepsLeft: [count, 'a number >= 0'],
  stepsPerSecond: [rateOrNull, 'a number or null'],
  learningStepsPerSecond: [rateOrNull, 'a number or null'],
  recentReturn: [rateOrNull, 'a number or null'],
  recentEpisodes: [count, 'a number >= 0'],
  etaSeconds: [rateOrNull, 'a number or null'],
  etaAssumed: [(v) => typeof v === 'boolean', 'true or false'],
};

/** Why `value` (a parsed progress.json) is not a progress snapshot, or null if it is one. */
export function progressSnapshotProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object';
  for (const [key, [valid, expected]] of Object.entries(SNAPSHOT_FIELDS)) {
    const field = (value as Record<string, unknown>)[key];
    if (valid(field)) continue;
    if (field === undefined) return `has no ${key}`;
    const shown = JSON.stringify(field);
    return `has ${key} ${shown.length > 40 ? `${shown.slice(0, 39)}…` : shown}, expected ${expected}`;
  }
  return null;
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** The state of one run, from its files. Never throws for a run's own files: damage is state 'corrupt'. */
export function runStatus(sweepDir: string, run: PlannedRun): RunStatus {
  const dir = runDirOf(sweepDir, run);
  const base: RunStatus = { run, state: 'pending', iterationsCompleted: 0, iterationsPlanned: null, envSteps: 0, wallSeconds: 0 };
  const lock = inspectLock(path.join(dir, RUN_FILES.lock));
  const outcome = readOutcome(sweepDir, run.id);
  const logHint = `see ${path.relative(sweepDir, logFile(sweepDir, run.id))}`;

  if (!fs.existsSync(path.join(dir, RUN_FILES.config))) {
    if (lock.live) return { ...base, state: 'running', reason: lockText(lock) };
    const death = outcome ? describeDeath(outcome) : null;
    if (death && !outcome?.stopRequested) {
      const tail = logTail(sweepDir, run.id);
      return { ...base, state: 'failed', reason: `${death} before the run started${tail ? `: ${tail}` : ''} (${logHint})` };
    }
    return base;
  }

  let summary: RunSummary | null = null;
  let wallSeconds = 0;
  try {
    const runDir = RunDirectory.open(dir);
    summary = runDir.readSummary();
    const { records } = runDir.readMetrics();
    // The same validity rule as a resume and the analysis: a run they would refuse is corrupt here too.
    const planned = (runDir.config as { iterations?: unknown }).iterations;
    const problem = runFilesProblem(records, summary?.status, typeof planned === 'number' ? planned : 0);
    if (problem !== null) throw new InconsistentRunError(dir, problem);
    const last = records[records.length - 1];
    // summary.json carries the cumulative wall time too; metrics.jsonl's last record is the fallback.
    wallSeconds = num(summary?.wall_seconds) ?? num(last?.wall_seconds) ?? 0;
  } catch (err) {
    return {
      ...base,
      state: 'corrupt',
      reason: `${(err as Error).message} (If the run cannot be repaired, move ${dir} away; a rerun of the sweep then redoes it.)`,
    };
  }
  const status: RunStatus = {
    ...base,
    summaryStatus: summary?.status,
    iterationsCompleted: num(summary?.iterations_completed) ?? 0,
    iterationsPlanned: num(summary?.iterations_planned),
    envSteps: num(summary?.env_steps) ?? 0,
    wallSeconds,
    ...(num(summary?.learning_steps_per_second) !== null ? { learningStepsPerSecond: num(summary?.learning_steps_per_second)! } : {}),
  };
  if (lock.live) {
    // A snapshot with any field missing or mistyped is no account at all: the views must not compute with it.
    const live = readProgressFile(dir);
    const problem = live === null ? null : progressSnapshotProblem(live);
    return {
      ...status, state: 'running', reason: lockText(lock),
      ...(live === null ? {} : problem === null ? { live: live as ProgressSnapshot } : { liveProblem: `${RUN_FILES.progress} ${problem}` }),
    };
  }
  switch (summary?.status) {
    case 'completed':
      return { ...status, state: 'done' };
    case 'diverged': {
      const at = num(summary.diverged_at_step);
      const error = typeof summary.error === 'string' ? summary.error : 'a loss or weight became non-finite';
      return { ...status, state: 'diverged', reason: at === null ? error : `at step ${at}: ${error}` };
    }
    case 'failed':
      return { ...status, state: 'failed', reason: `${typeof summary.error === 'string' ? summary.error : 'failed'} (${logHint})` };
  }
  const death = outcome ? describeDeath(outcome) : null;
  if (death && !outcome?.stopRequested) {
    const tail = logTail(sweepDir, run.id);
    return { ...status, state: 'failed', reason: `${death}${tail ? `: ${tail}` : ''} (${logHint})` };
  }
  return { ...status, state: 'interrupted', reason: summary?.status === 'running' ? 'stopped without a final summary; resumes from its last checkpoint' : undefined };
}

function lockText(lock: { pid?: number; host?: string }): string {
  return `pid ${lock.pid}${lock.host && lock.host !== os.hostname() ? ` on ${lock.host}` : ''}`;
}

/** Which executor ran the sweep last (for the ETA's parallelism and to refuse a double Slurm submission). */
export type ExecutorRecord =
  | { kind: 'local'; workers: number; threads: number; startedAt: string; host: string; pid: number }
  | { kind: 'slurm'; jobId: string; tasks: number; maxParallel: number | null; threads: number; submittedAt: string; script: string };

export function writeExecutorRecord(sweepDir: string, record: ExecutorRecord): void {
  writeJsonAtomic(path.join(sweepDir, EXECUTOR_FILE), record);
}

export function readExecutorRecord(sweepDir: string): ExecutorRecord | null {
  const file = path.join(sweepDir, EXECUTOR_FILE);
  if (!fs.existsSync(file)) return null;
  try {
    return readJsonFile<ExecutorRecord>(file, 'executor record');
  } catch {
    return null;
  }
}

export interface SweepStatus {
  runs: RunStatus[];
  counts: Record<RunState, number>;
  /**
   * Seconds per iteration of one run: from finished runs, else from all runs' completed iterations, else (no run has
   * finished an iteration yet) from the learning-phase rates that running runs measured.
   */
  secondsPerIteration: number | null;
  stepsPerSecond: number | null;
  remainingIterations: number | null;
  parallelism: number;
  etaSeconds: number | null;
}

/** A snapshot older than this says the run has stopped making progress (hung, or the machine is swapping). */
export const STALE_PROGRESS_SECONDS = 600;

/** Seconds since a running run last wrote its progress.json. */
export function progressAge(live: ProgressSnapshot, now = Date.now()): number {
  return Math.max(0, (now - Date.parse(live.updatedAt)) / 1000);
}

/** A running run's own estimate of its remaining time, aged since it was written; null if it has none. */
function liveRemaining(r: RunStatus, now: number): number | null {
  if (r.live?.etaSeconds == null || progressAge(r.live, now) > STALE_PROGRESS_SECONDS) return null;
  return Math.max(0, r.live.etaSeconds - progressAge(r.live, now));
}

/** Agent steps per iteration of the plan's runs (one config for all), or null if it cannot be resolved. */
function plannedTrainingSteps(plan: SweepPlan): number | null {
  const run = plan.runs[0];
  if (run === undefined) return null;
  try {
    const config = plannedRunConfig(run);
    return config.trainingSteps + config.evalSteps;
  } catch {
    return null;
  }
}

export function sweepStatus(sweepDir: string, plan: SweepPlan, now = Date.now()): SweepStatus {
  const runs = plan.runs.map((run) => runStatus(sweepDir, run));
  const counts = Object.fromEntries(RUN_STATES.map((s) => [s, 0])) as Record<RunState, number>;
  for (const r of runs) counts[r.state]++;

  // Every run of a sweep has the same preset and overrides, so one run's planned iterations stand for all.
  const planned = runs.find((r) => r.iterationsPlanned !== null)?.iterationsPlanned ??
    runs.find((r) => r.live)?.live?.iterations ?? plan.grid.overrides.iterations ?? null;

  const finished = runs.filter((r) => r.state === 'done' && r.iterationsCompleted > 0 && r.wallSeconds > 0);
  const basis = finished.length > 0 ? finished : runs.filter((r) => r.iterationsCompleted > 0 && r.wallSeconds > 0);
  const wall = basis.reduce((s, r) => s + r.wallSeconds, 0);
  const iterations = basis.reduce((s, r) => s + r.iterationsCompleted, 0);
  const steps = basis.reduce((s, r) => s + r.envSteps, 0);
  let secondsPerIteration = iterations > 0 ? wall / iterations : null;
  let stepsPerSecond = wall > 0 && steps > 0 ? steps / wall : null;
  if (secondsPerIteration === null) {
    // Nothing finished an iteration (the first one of the dopamine preset takes over an hour): the learning rates
    // the runs measured, running ones from their progress.json, stopped ones from their summary.json (so a sweep
    // just stopped still has an ETA). The warm-up is faster, so this errs long by at most the warm-up's share.
    const rates = runs.map((r) => r.live?.learningStepsPerSecond ?? r.learningStepsPerSecond).filter((x): x is number => typeof x === 'number' && x > 0);
    const live = runs.find((r) => r.live)?.live;
    const stepsPerIteration = live && live.iterations > 0 ? live.runTarget / live.iterations : plannedTrainingSteps(plan);
    if (rates.length > 0 && stepsPerIteration !== null) {
      stepsPerSecond = rates.reduce((a, b) => a + b, 0) / rates.length;
      secondsPerIteration = stepsPerIteration / stepsPerSecond;
    }
  }

  const open = runs.filter((r) => r.state !== 'done' && r.state !== 'diverged');
  const left = (r: RunStatus) => Math.max(0, (r.iterationsPlanned ?? planned ?? 0) - r.iterationsCompleted);
  const remainingIterations = planned === null ? null : open.reduce((s, r) => s + left(r), 0);

  const executor = readExecutorRecord(sweepDir);
  const configured = executor === null ? 1 : executor.kind === 'local' ? executor.workers : (executor.maxParallel ?? executor.tasks);
  const parallelism = Math.max(1, counts.running, Math.min(configured, Math.max(open.length, 1)));

  // Runs are indivisible: schedule them on `parallelism` workers, the running ones first (with their own estimate
  // where they wrote one), then the rest in plan order, each on the worker that frees first.
  const duration = (r: RunStatus): number | null =>
    (r.state === 'running' ? liveRemaining(r, now) : null) ??
    (secondsPerIteration === null || planned === null ? null : left(r) * secondsPerIteration);
  let etaSeconds: number | null = 0;
  const workers: number[] = [];
  const ordered = [...open.filter((r) => r.state === 'running'), ...open.filter((r) => r.state !== 'running')];
  for (const r of ordered) {
    const d = duration(r);
    if (d === null) {
      etaSeconds = null;
      break;
    }
    if (workers.length < parallelism) workers.push(d);
    else {
      const first = workers.indexOf(Math.min(...workers));
      workers[first] += d;
    }
  }
  if (etaSeconds !== null) etaSeconds = workers.length === 0 ? 0 : Math.max(...workers);
  return { runs, counts, secondsPerIteration, stepsPerSecond, remainingIterations, parallelism, etaSeconds };
}

/** One running run in a line: iteration, steps, rate, recent return, its own ETA, or how long it has been silent. */
export function describeLive(r: RunStatus, now = Date.now()): string {
  if (!r.live) return r.liveProblem ? `progress unknown: ${r.liveProblem}` : 'starting (no progress written yet)';
  return fitFields(liveSnapshotFields(r.live, now), Infinity);
}

/**
 * A running run's progress.json as the fields of `npm run atari`'s live line (same words and counts: the steps of the
 * current phase), its ETA aged since the snapshot was written, or how long it has been silent.
 */
export function liveSnapshotFields(live: ProgressSnapshot, now = Date.now()): Field[] {
  const age = progressAge(live, now);
  const eta = age > STALE_PROGRESS_SECONDS
    ? `no progress for ${formatDuration(age)}`
    : etaText(live.etaSeconds === null ? null : { seconds: Math.max(0, live.etaSeconds - age), assumed: live.etaAssumed });
  return liveFields({
    iteration: live.iteration, iterations: live.iterations, phase: live.phase, phaseSteps: live.phaseSteps,
    phaseTarget: live.phaseTarget, warmup: live.warmupStepsLeft > 0, stepsPerSecond: live.stepsPerSecond,
    recentReturn: live.recentReturn, recentEpisodes: live.recentEpisodes, eta,
  });
}

/** The text of `npm run sweep -- --status DIR`. */
export function formatStatus(sweepDir: string, plan: SweepPlan, status: SweepStatus, verbose = false, now = Date.now()): string {
  const lines: string[] = [];
  const c = status.counts;
  lines.push(`sweep ${sweepDir}: ${plan.runs.length} runs (${plan.grid.kind}, preset ${plan.grid.preset})`);
  lines.push(
    `  done ${c.done}   running ${c.running}   failed ${c.failed}   pending ${c.pending}   interrupted ${c.interrupted}` +
      `   diverged ${c.diverged}${c.corrupt > 0 ? `   corrupt ${c.corrupt}` : ''}`,
  );
  if (status.etaSeconds === 0) lines.push('  ETA: nothing left to run');
  else if (status.etaSeconds === null) lines.push('  ETA: unknown until a run has measured its learning rate (a few minutes into learning)');
  else {
    const details = [
      `${status.remainingIterations} iterations left` +
        (status.secondsPerIteration === null ? '' : ` at ${status.secondsPerIteration.toFixed(1)} s each`),
      ...(status.stepsPerSecond === null ? [] : [`${status.stepsPerSecond.toFixed(1)} agent steps/s per run`]),
      `${status.parallelism} in parallel`,
      ...(status.runs.some((r) => r.live) ? ['running runs by their own rates'] : []),
    ];
    lines.push(`  ETA: ${formatDuration(status.etaSeconds)} (${details.join(', ')})`);
  }
  const order: RunState[] = ['corrupt', 'failed', 'diverged', 'running', 'interrupted'];
  for (const state of order) {
    for (const r of status.runs.filter((x) => x.state === state)) {
      const progress = r.iterationsPlanned === null ? `${r.iterationsCompleted} it` : `${r.iterationsCompleted}/${r.iterationsPlanned} it`;
      lines.push(`  ${state.padEnd(11)} ${r.run.id}  ${progress}${r.reason ? `  ${r.reason}` : ''}`);
      if (state === 'running') lines.push(`              ${describeLive(r, now)}`);
    }
  }
  if (verbose) {
    for (const r of status.runs.filter((x) => x.state === 'done' || x.state === 'pending')) {
      lines.push(`  ${r.state.padEnd(11)} ${r.run.id}`);
    }
  }
  return lines.join('\n');
}
