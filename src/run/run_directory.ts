// One directory per run:
//   config.json    { config, environment, createdAt, resumes[] }: the resolved run config is what makes two runs
//                  comparable; `environment` (versions, host, commit) is recorded for the paper but never compared;
//                  `settings` (e.g. keepCheckpoints) say how the run is stored, not what it computes: never compared.
//   metrics.jsonl  one JSON object per line with a numeric `iteration`, appended and fsynced line by line.
//   summary.json   written atomically; `status: 'completed'` marks a finished run.
//   checkpoints/   see checkpoints.ts.
//   run.lock       held while a process writes the directory (lock.ts).
//
// Safety rules: a directory holding a run with another config is refused before anything is written, so results
// of two configs can never mix; a non-empty directory that is not a run is never written into; every whole-file
// write is atomic (atomic.ts); only the lock holder may write; no file is written through a symbolic link (a whole-file
// write replaces the link, an append refuses it).
import fs from 'node:fs';
import path from 'node:path';
import {
  assertJsonExact,
  fsyncDirectory,
  isAtomicTempName,
  makeDirectories,
  openForAppend,
  readJsonFile,
  writeAll,
  writeFileAtomic,
  writeJsonAtomic,
} from '../io/atomic.ts';
import { acquireLock, type HeldLock } from '../io/lock.ts';
import { canonicalJson } from '../io/canonical_json.ts';

export type JsonObject = { [key: string]: unknown };

export const RUN_FILES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  summary: 'summary.json',
  checkpoints: 'checkpoints',
  lock: 'run.lock',
  /** Where a running run stands, rewritten every few seconds (for the sweep's live view and --status; not a result). */
  progress: 'progress.json',
  /**
   * The optimizer's diagnostics every few thousand agent steps inside iterations (weight norm, ε-dominance, WD share
   * of m): one JSON object a line, like metrics.jsonl; a resume drops the lines its checkpoint does not cover.
   */
  diagnostics: 'diagnostics.jsonl',
} as const;

/** One differing config value; `old`/`new` are undefined when the key is absent on that side. */
export interface ConfigDifference {
  key: string;
  old: unknown;
  new: unknown;
}

export interface RunConfigFile {
  config: JsonObject;
  environment: JsonObject;
  createdAt: string;
  /** One entry per resume: when, on what environment, and which mutable keys changed. */
  resumes?: Array<{ at: string; environment: JsonObject; configChanges?: ConfigDifference[] }>;
  /** How the run is stored (e.g. keepCheckpoints), not what it computes: never compared, never in a run id. */
  settings?: JsonObject;
}

export interface RunSummary {
  status: string; // 'running' | 'completed' | 'failed' | …; only 'completed' means something here
  [key: string]: unknown;
}

export interface MetricsRecord {
  iteration: number;
  [key: string]: unknown;
}

export interface RunDirectoryOptions {
  /** Dotted config keys that may differ on resume (e.g. ['iterations'] to extend a run); nested keys included. */
  mutableKeys?: readonly string[];
  /**
   * Called under the lock before a resume writes anything (its `resumes` entry): a check of what the directory
   * holds (e.g. that its checkpoint was made under this config). Throwing refuses the resume with nothing written.
   */
  beforeResume?: (root: string) => void;
}

/** new: fresh directory; resume: same config, continue from the latest checkpoint; completed: nothing left to do. */
export type RunMode = 'new' | 'resume' | 'completed';

export class RunConfigMismatchError extends Error {
  constructor(
    readonly dir: string,
    /** The differences that are not allowed (not under a mutable key). */
    readonly differences: ConfigDifference[],
    readonly mutableKeys: readonly string[],
  ) {
    super(
      `${dir} already holds a run with a different config (see ${path.join(dir, RUN_FILES.config)}):\n` +
        differences.map((d) => `  ${formatDifference(d)}`).join('\n') +
        '\nNothing was written. Choose another --out directory for this config, ' +
        "or rerun with the run's original settings to resume it." +
        (mutableKeys.length > 0 ? ` (Keys allowed to change on resume: ${mutableKeys.join(', ')}.)` : ''),
    );
    this.name = 'RunConfigMismatchError';
  }
}

export class NotARunDirectoryError extends Error {
  constructor(
    readonly dir: string,
    reason: string,
  ) {
    super(
      `${dir} is not a run directory (${reason}); refusing to write into it so nothing there is overwritten. ` +
        'Choose a new or empty --out directory.',
    );
    this.name = 'NotARunDirectoryError';
  }
}

/** A run directory whose files contradict each other: neither resumed nor tabulated (the same rule for both). */
export class InconsistentRunError extends Error {
  constructor(readonly dir: string, problem: string) {
    super(
      `${dir}: ${problem}. Its files were edited or mixed up; it is neither resumed nor tabulated. ` +
        'Restore the files, or move the directory away and start the run again.',
    );
    this.name = 'InconsistentRunError';
  }
}

/**
 * The one validity rule of a run's files, for every reader (a resume, the analysis): metrics iterations are
 * 0, 1, 2, … with none missing or repeated, and a summary that says `completed` has every planned iteration.
 * Returns what is wrong, or null.
 */
export function runFilesProblem(records: readonly MetricsRecord[], summaryStatus: string | undefined, iterationsPlanned: number): string | null {
  for (const [i, r] of records.entries()) {
    if (r.iteration !== i) {
      return `${RUN_FILES.metrics} record ${i + 1} has iteration ${String(r.iteration)}, expected ${i}: iterations are missing or repeated`;
    }
  }
  if (summaryStatus === 'completed' && records.length < iterationsPlanned) {
    return `${RUN_FILES.summary} says completed but ${RUN_FILES.metrics} has ${records.length} of ${iterationsPlanned} iterations: the files do not belong together`;
  }
  return null;
}

export function formatDifference(d: ConfigDifference): string {
  const show = (v: unknown) => (v === undefined ? '(absent)' : canonicalJson(v));
  return `${d.key}: ${show(d.old)} → ${show(d.new)}`;
}

function isPlainObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep comparison of two JSON values; objects are walked (dotted paths), anything else compared whole. */
export function diffConfig(old: unknown, next: unknown, prefix = ''): ConfigDifference[] {
  if (isPlainObject(old) && isPlainObject(next)) {
    const keys = [...new Set([...Object.keys(old), ...Object.keys(next)])].sort();
    return keys.flatMap((k) => diffConfig(old[k], next[k], prefix === '' ? k : `${prefix}.${k}`));
  }
  const same = old === undefined || next === undefined ? old === next : canonicalJson(old) === canonicalJson(next);
  return same ? [] : [{ key: prefix === '' ? '(whole config)' : prefix, old, new: next }];
}

function isMutable(key: string, mutableKeys: readonly string[]): boolean {
  return mutableKeys.some((m) => key === m || key.startsWith(`${m}.`));
}

/** How `next` differs from `old` outside `mutableKeys` (a key, or any key under it): the differences a resume refuses. */
export function fixedConfigDifferences(old: unknown, next: unknown, mutableKeys: readonly string[]): ConfigDifference[] {
  return diffConfig(old, next).filter((d) => !isMutable(d.key, mutableKeys));
}

function readConfigFile(dir: string): RunConfigFile {
  const file = path.join(dir, RUN_FILES.config);
  const parsed = readJsonFile<RunConfigFile>(file, 'run config');
  if (!isPlainObject(parsed) || !isPlainObject(parsed.config)) {
    throw new NotARunDirectoryError(dir, `${RUN_FILES.config} has no "config" object; it was not written by this harness`);
  }
  return parsed;
}

function readSummaryFile(dir: string): RunSummary | null {
  const file = path.join(dir, RUN_FILES.summary);
  if (!fs.existsSync(file)) return null;
  return readJsonFile<RunSummary>(file, 'run summary');
}

/** Entries a crash can leave in a directory before its config.json exists; they do not make it "not empty". */
function isDebris(name: string): boolean {
  return name === RUN_FILES.lock || name.startsWith(`${RUN_FILES.lock}.`) || isAtomicTempName(name);
}

type Plan =
  | { kind: 'new' }
  | { kind: 'existing'; file: RunConfigFile; changes: ConfigDifference[]; completed: boolean };

/** Decides what create() will do; reads only, and throws for every refusal. */
function plan(dir: string, config: JsonObject, mutableKeys: readonly string[]): Plan {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'new' };
    if (code === 'ENOTDIR') throw new NotARunDirectoryError(dir, 'it is a file');
    throw err;
  }
  if (!entries.includes(RUN_FILES.config)) {
    const foreign = entries.filter((name) => !isDebris(name));
    if (foreign.length === 0) return { kind: 'new' };
    const shown = foreign.slice(0, 5).join(', ') + (foreign.length > 5 ? ', …' : '');
    throw new NotARunDirectoryError(dir, `it is not empty (${shown}) and has no ${RUN_FILES.config}`);
  }
  const file = readConfigFile(dir);
  const changes = diffConfig(file.config, config);
  const forbidden = changes.filter((d) => !isMutable(d.key, mutableKeys));
  if (forbidden.length > 0) throw new RunConfigMismatchError(dir, forbidden, mutableKeys);
  const completed = changes.length === 0 && readSummaryFile(dir)?.status === 'completed';
  return { kind: 'existing', file, changes, completed };
}

interface ParsedMetrics {
  entries: Array<{ line: string; record: MetricsRecord }>;
  warnings: string[];
}

/**
 * Lines are appended whole and fsynced one by one, so a crash can only damage the last line: that one is dropped
 * with a warning. Damage anywhere else means the file was edited or the disk lost data: an error naming the line.
 */
function parseMetrics(text: string, file: string): ParsedMetrics {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the final newline
  const entries: ParsedMetrics['entries'] = [];
  const warnings: string[] = [];
  lines.forEach((line, i) => {
    let record: unknown;
    try {
      record = JSON.parse(line);
    } catch {
      record = undefined;
    }
    if (isPlainObject(record) && typeof record.iteration === 'number') {
      entries.push({ line, record: record as MetricsRecord });
    } else if (i === lines.length - 1) {
      const shown = line.length > 80 ? `${line.slice(0, 80)}…` : line;
      warnings.push(`${file}: dropped the last line (${i + 1}), cut off by a crash or not a metrics record: ${JSON.stringify(shown)}`);
    } else {
      throw new Error(
        `${file} line ${i + 1} is corrupt (not a JSON object with a numeric "iteration"). A crash can only cut off ` +
          'the last line, so the file was edited or the disk lost data: fix or delete that line by hand, or ' +
          'restore the file from a backup, then rerun.',
      );
    }
  });
  return { entries, warnings };
}

export class RunDirectory {
  readonly paths: { [K in keyof typeof RUN_FILES]: string };
  private lock: HeldLock | null = null;

  private constructor(
    /** Absolute path of the run directory. */
    readonly dir: string,
    readonly mode: RunMode,
    /** The run config as stored in config.json (after any allowed change). */
    readonly config: JsonObject,
    /** Mutable keys whose change this create() applied (and recorded in config.json). */
    readonly configChanges: ConfigDifference[],
    /** Things the caller should print: e.g. a metrics line cut off by a crash that was dropped. */
    readonly warnings: string[],
  ) {
    this.paths = {
      config: path.join(dir, RUN_FILES.config),
      metrics: path.join(dir, RUN_FILES.metrics),
      summary: path.join(dir, RUN_FILES.summary),
      checkpoints: path.join(dir, RUN_FILES.checkpoints),
      lock: path.join(dir, RUN_FILES.lock),
      progress: path.join(dir, RUN_FILES.progress),
      diagnostics: path.join(dir, RUN_FILES.diagnostics),
    };
  }

  /** The run already finished with this exact config; nothing was changed. The caller decides what to do. */
  get alreadyCompleted(): boolean {
    return this.mode === 'completed';
  }

  /**
   * Starts a run in `dir`, or reopens it to resume. Takes the directory's lock (released by releaseLock() or when
   * Node exits). Throws, before writing anything:
   *   RunConfigMismatchError  `dir` holds a run whose config differs outside `mutableKeys`;
   *   NotARunDirectoryError   `dir` is a file, or is not empty and has no config.json;
   *   RunLockedError          another live process holds the lock.
   * Modes: 'new' (absent or empty directory; config.json written), 'resume' (same config: the caller loads the
   * latest checkpoint, then calls truncateMetricsAfter), 'completed' (summary.status is 'completed' and the config
   * is unchanged). A change of a mutable key is written to config.json and recorded in its `resumes`, and a
   * 'completed' summary is marked 'incomplete' first, since the run now has more to do.
   */
  static create(
    dir: string,
    runConfig: JsonObject,
    environment: JsonObject,
    options: RunDirectoryOptions = {},
  ): RunDirectory {
    const root = path.resolve(dir);
    if (!isPlainObject(runConfig)) throw new TypeError('run config must be a plain JSON object');
    assertJsonExact(runConfig, 'run config');
    const config = JSON.parse(JSON.stringify(runConfig)) as JsonObject;
    const mutableKeys = options.mutableKeys ?? [];

    plan(root, config, mutableKeys); // every refusal happens here, before the first write
    makeDirectories(root, 'run directory');
    const lock = acquireLock(path.join(root, RUN_FILES.lock));
    try {
      // Decide again under the lock: another process may have created the run since the first look.
      const decided = plan(root, config, mutableKeys);
      // We hold the lock, so every temp file here is debris of a killed writer.
      for (const name of fs.readdirSync(root)) if (isAtomicTempName(name)) fs.rmSync(path.join(root, name), { force: true });

      const now = new Date().toISOString();
      const mode: RunMode = decided.kind === 'new' ? 'new' : decided.completed ? 'completed' : 'resume';
      const run = new RunDirectory(root, mode, config, decided.kind === 'existing' ? decided.changes : [], []);
      run.lock = lock;
      if (decided.kind === 'existing') {
        const planned = (decided.file.config as { iterations?: unknown }).iterations;
        const problem = runFilesProblem(run.readMetrics().records, readSummaryFile(root)?.status, typeof planned === 'number' ? planned : 0);
        if (problem !== null) throw new InconsistentRunError(root, problem);
      }
      if (decided.kind === 'new') {
        // config.json before checkpoints/: until config.json exists, the directory must look empty (see isDebris).
        writeJsonAtomic(run.paths.config, { config, environment, createdAt: now } satisfies RunConfigFile);
      } else if (!decided.completed) {
        options.beforeResume?.(root);
        if (decided.changes.length > 0) {
          // Summary first: a crash between the two writes must not leave a 'completed' summary next to a config
          // that asks for more (the next start would then report the run as done). Redoing both is harmless.
          const summary = readSummaryFile(root);
          if (summary?.status === 'completed') {
            const because = decided.changes.map(formatDifference);
            run.writeSummary({ ...summary, status: 'incomplete', reopened: { at: now, because } });
          }
        }
        const resume = { at: now, environment, ...(decided.changes.length > 0 ? { configChanges: decided.changes } : {}) };
        const file: RunConfigFile = { ...decided.file, config, resumes: [...(decided.file.resumes ?? []), resume] };
        writeJsonAtomic(run.paths.config, file);
        run.repairMetricsTail();
      }
      fs.mkdirSync(run.paths.checkpoints, { recursive: true });
      return run;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  /**
   * Opens an existing run read-only (no lock; write methods throw until acquireLock()), e.g. for analysis or to
   * read back its config. mode is 'completed' or 'resume'.
   */
  static open(dir: string): RunDirectory {
    const root = path.resolve(dir);
    if (!fs.existsSync(path.join(root, RUN_FILES.config))) {
      throw new NotARunDirectoryError(root, `it has no ${RUN_FILES.config}`);
    }
    const file = readConfigFile(root);
    const mode = readSummaryFile(root)?.status === 'completed' ? 'completed' : 'resume';
    return new RunDirectory(root, mode, file.config, [], []);
  }

  /** The full config.json record (config, environment, createdAt, resumes). */
  readConfigFile(): RunConfigFile {
    return readConfigFile(this.dir);
  }

  // ---- lock ----

  get holdsLock(): boolean {
    return this.lock !== null && this.lock.isHeld();
  }

  /** Takes the directory's lock (no-op if held). Throws RunLockedError if a live process holds it. */
  acquireLock(): void {
    if (this.lock?.isHeld()) return;
    this.lock = acquireLock(this.paths.lock);
  }

  releaseLock(): void {
    this.lock?.release();
    this.lock = null;
  }

  /** Throws unless this process holds the lock: every write goes through here. */
  assertWritable(): void {
    if (this.lock === null) {
      throw new Error(`${this.dir} is not locked by this process (opened read-only or lock released); call acquireLock() first`);
    }
    if (!this.lock.isHeld()) {
      throw new Error(
        `lost the lock on ${this.dir}: ${this.paths.lock} was removed or taken over. Stopping so that two processes ` +
          'do not write one run directory; resume from the latest checkpoint once the other process is gone.',
      );
    }
  }

  // ---- metrics ----

  /**
   * Appends one record as a JSON line and fsyncs it, so a crash loses at most the line being written. On a write
   * error (e.g. disk full) the partial line is cut off again. NaN/Infinity values are stored as null (JSON).
   * Append an iteration's metrics BEFORE saving its checkpoint: a resume then truncates what the checkpoint does
   * not cover, and no iteration can be missing.
   */
  appendMetrics(record: MetricsRecord): void {
    this.appendRecord(this.paths.metrics, record);
  }

  /**
   * Appends one diagnostics record (diagnostics.jsonl: `iteration` is the iteration in progress, `env_steps` the
   * agent steps so far), as appendMetrics does.
   */
  appendDiagnostics(record: MetricsRecord & { env_steps: number }): void {
    this.appendRecord(this.paths.diagnostics, record);
  }

  /** diagnostics.jsonl's records, in order (a damaged last line dropped; none if the file is missing). */
  readDiagnostics(): MetricsRecord[] {
    if (!fs.existsSync(this.paths.diagnostics)) return [];
    return parseMetrics(fs.readFileSync(this.paths.diagnostics, 'utf8'), this.paths.diagnostics).entries.map((e) => e.record);
  }

  /**
   * On resume: drops diagnostics records past the checkpoint's agent steps (and a damaged last line). Returns a
   * warning when the file was damaged beyond its last line (it is set aside, never worth the run).
   */
  truncateDiagnosticsAfter(envSteps: number): string | null {
    this.assertWritable();
    if (!fs.existsSync(this.paths.diagnostics)) return null;
    const text = fs.readFileSync(this.paths.diagnostics, 'utf8');
    let kept: string;
    try {
      kept = parseMetrics(text, this.paths.diagnostics).entries
        .filter((e) => typeof e.record.env_steps === 'number' && e.record.env_steps <= envSteps)
        .map((e) => `${e.line}\n`).join('');
    } catch {
      // A diagnostics trace is never worth a run: a damaged one is set aside and a new one begun.
      const aside = `${this.paths.diagnostics}.damaged-${Date.now()}`;
      fs.renameSync(this.paths.diagnostics, aside);
      return `${this.paths.diagnostics} is damaged before its last line: moved it to ${aside} and began a new one`;
    }
    if (kept !== text) writeFileAtomic(this.paths.diagnostics, kept);
    return null;
  }

  private appendRecord(file: string, record: MetricsRecord): void {
    this.assertWritable();
    if (!isPlainObject(record) || typeof record.iteration !== 'number' || !Number.isFinite(record.iteration)) {
      throw new TypeError('a metrics record must be an object with a finite numeric "iteration"');
    }
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    const fd = openForAppend(file); // never through a link: a link here fails with an error naming the file
    let sizeBefore = 0;
    try {
      sizeBefore = fs.fstatSync(fd).size;
      writeAll(fd, line);
      fs.fsyncSync(fd);
    } catch (err) {
      try {
        fs.ftruncateSync(fd, sizeBefore);
      } catch {
        // The next resume drops the cut-off line anyway.
      }
      throw err;
    } finally {
      fs.closeSync(fd);
    }
    if (sizeBefore === 0) fsyncDirectory(this.dir); // the file's directory entry may be new
  }

  /** All records; a damaged last line is dropped with a warning, damage elsewhere throws (naming the line). */
  readMetrics(): { records: MetricsRecord[]; warnings: string[] } {
    const { entries, warnings } = this.parseMetricsFile();
    return { records: entries.map((e) => e.record), warnings };
  }

  /**
   * Removes records with `iteration > iteration` (written after the checkpoint being resumed from, before a crash)
   * and a damaged last line, by rewriting the file atomically. Pass -1 when resuming without any checkpoint.
   */
  truncateMetricsAfter(iteration: number): { removed: number; warnings: string[] } {
    this.assertWritable();
    const { entries, warnings } = this.parseMetricsFile();
    const kept = entries.filter((e) => e.record.iteration <= iteration);
    const removed = entries.length - kept.length;
    if (removed > 0 || warnings.length > 0) writeFileAtomic(this.paths.metrics, kept.map((e) => `${e.line}\n`).join(''));
    return { removed, warnings };
  }

  private parseMetricsFile(): ParsedMetrics {
    if (!fs.existsSync(this.paths.metrics)) return { entries: [], warnings: [] };
    return parseMetrics(fs.readFileSync(this.paths.metrics, 'utf8'), this.paths.metrics);
  }

  /** On resume: drop a last line cut off by a crash, so the next append does not glue onto it. */
  private repairMetricsTail(): void {
    if (!fs.existsSync(this.paths.metrics)) return;
    const text = fs.readFileSync(this.paths.metrics, 'utf8');
    const { entries, warnings } = parseMetrics(text, this.paths.metrics);
    const clean = entries.map((e) => `${e.line}\n`).join('');
    if (clean !== text) writeFileAtomic(this.paths.metrics, clean);
    this.warnings.push(...warnings);
  }

  // ---- summary ----

  writeSummary(summary: RunSummary): void {
    this.assertWritable();
    if (!isPlainObject(summary) || typeof summary.status !== 'string') {
      throw new TypeError('a run summary must be an object with a string "status"');
    }
    writeJsonAtomic(this.paths.summary, summary);
  }

  readSummary(): RunSummary | null {
    return readSummaryFile(this.dir);
  }

  // ---- settings ----

  /**
   * config.json's `settings`: how the run is stored (e.g. keepCheckpoints), not what it computes, so never compared
   * on resume and never part of a run id. Values given (not undefined) replace the recorded ones and are written;
   * the others stay as recorded, so a resume keeps them unless given again. Returns the settings now in force.
   */
  recordSettings(given: JsonObject): JsonObject {
    this.assertWritable();
    const file = readConfigFile(this.dir);
    const recorded = isPlainObject(file.settings) ? file.settings : {};
    const settings = { ...recorded, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
    assertJsonExact(settings, 'run settings');
    if (canonicalJson(settings) !== canonicalJson(recorded)) writeJsonAtomic(this.paths.config, { ...file, settings } satisfies RunConfigFile);
    return settings;
  }

  // ---- progress ----

  /** The live progress snapshot; a failed write (disk full) is the caller's to ignore: it is never a result. */
  writeProgress(snapshot: object): void {
    this.assertWritable();
    writeJsonAtomic(this.paths.progress, snapshot);
  }

  /** A run that stops (for any reason) removes its progress.json: only a running run has a live account. */
  clearProgress(): void {
    fs.rmSync(this.paths.progress, { force: true });
  }
}

/** A snapshot is a few hundred bytes: anything far larger is not one, and is not read into memory. */
const MAX_PROGRESS_BYTES = 1 << 20;

/**
 * A run's progress.json as parsed JSON, unchecked (the caller validates it), or null: none yet, unreadable (it is
 * rewritten every few seconds), or not a regular file. The open never waits: O_NONBLOCK, so a FIFO put in its place
 * (which a plain read would wait on forever for a writer) is opened at once and then refused by the fstat.
 */
export function readProgressFile(dir: string): unknown {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, RUN_FILES.progress), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size > MAX_PROGRESS_BYTES) return null;
    return JSON.parse(fs.readFileSync(fd, 'utf8'));
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}
