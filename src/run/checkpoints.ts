// Crash-safe checkpoints, after Dopamine's scheme: the checkpoint for iteration N is `checkpoints/ckpt-<N:06>/`
//   state.json    plain JSON (counters, RNG states, ε position, …)
//   tensors.bin   the named tensors' bytes, back to back (host byte order, recorded in the manifest)
//   tensors.json  manifest: byte order and, per tensor, name, dtype, shape, byte offset and length
//   extra/        optional files the caller writes (e.g. replay memory)
//   complete      sentinel: written last; records size + SHA-256 of the three files above and extra/'s file sizes
//
// Write order and why it is sound:
//   1. everything is written into `ckpt-<N>.tmp-<pid>/`, and each file fsynced (extra/'s files too: the caller
//      may not have), so no data is merely in the page cache;
//   2. the sentinel is written (atomically) into the temp directory, then the directory is fsynced;
//   3. the temp directory is renamed to `ckpt-<N>` and checkpoints/ fsynced: this rename is the commit point.
// A directory is only trusted when it holds the sentinel AND the files match the sentinel's sizes and hashes, and
// it is looked for under the final name first. Each guard covers the others' blind spots: the name cannot be final
// before all data is durable; the sentinel catches a directory copied or moved by hand, or a filesystem whose
// directory renames are not atomic; the hashes catch data lost or flipped after the fact (a bad disk, a restore
// from a partial backup).
// Re-saving an iteration takes two renames (the old copy aside to `ckpt-<N>.old-<pid>`, then the new one into
// place), and a kill between them leaves iteration N only under those two names; with --keep-checkpoints 1 that
// is the run's only checkpoint. So a complete, valid `.tmp-*` (then `.old-*`) directory is used when its
// iteration has no valid final one, and the next save first renames it into place. Anything else in
// checkpoints/ — temp dirs of killed writers, checkpoints that fail validation — is ignored by
// findLatestCheckpoint and deleted by the next successful save.
// Readers (play, --export) may run beside the training run that prunes and renames checkpoints: a directory that
// vanishes while being read is told from a damaged one, and the search starts again.
//
// This module is free of TensorFlow: tensors are typed arrays, converted by the caller.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  assertJsonExact,
  fsyncDirectory,
  fsyncFile,
  readJsonFile,
  writeAll,
  writeFileAtomic,
  writeJsonAtomic,
} from '../io/atomic.ts';

export type TensorDtype = 'float32' | 'int32';
export type TensorArray = Float32Array | Int32Array;

export interface TensorInput {
  shape: readonly number[];
  data: TensorArray;
}

export interface LoadedTensor {
  dtype: TensorDtype;
  shape: number[];
  data: TensorArray;
}

export interface CheckpointContents {
  /** Plain JSON; NaN/Infinity/Maps are refused (JSON would silently change them). */
  state: unknown;
  tensors: ReadonlyMap<string, TensorInput> | Readonly<Record<string, TensorInput>>;
  /** Writes extra files into `extraDir` (created empty) before the sentinel; may be async. */
  writeExtra?: (extraDir: string) => void | Promise<void>;
}

export interface FoundCheckpoint {
  iteration: number;
  dir: string;
  /** The checkpoint's extra/ directory, or null if it has none. */
  extraDir: string | null;
  load(): { state: unknown; tensors: Map<string, LoadedTensor> };
}

interface ManifestEntry {
  name: string;
  dtype: TensorDtype;
  shape: number[];
  offset: number;
  byteLength: number;
}

interface Manifest {
  format: 1;
  byteOrder: 'LE' | 'BE';
  tensors: ManifestEntry[];
}

interface Sentinel {
  iteration: number;
  savedAt: string;
  files: Record<(typeof HASHED_FILES)[number], { bytes: number; sha256: string }>;
  extra: Record<string, number>; // relative path → size in bytes
}

export const CHECKPOINTS_DIR = 'checkpoints';
/** Complete checkpoints a run keeps unless told otherwise (--keep-checkpoints); the newest alone holds extra/. */
export const DEFAULT_KEEP_CHECKPOINTS = 4;
const SENTINEL = 'complete';
const EXTRA = 'extra';
const HASHED_FILES = ['state.json', 'tensors.json', 'tensors.bin'] as const;
const FINAL_NAME = /^ckpt-(\d{6,})$/;
/** What a killed save can leave: its new copy (tmp) or the copy it was replacing (old). */
const LEFTOVER_NAME = /^(ckpt-(\d{6,}))\.(tmp|old)-\d+$/;
/** Listings of checkpoints/ a search makes when checkpoints vanish under it (a run beside pruning them). */
const FIND_ATTEMPTS = 3;
/** Our temp and to-be-deleted directories, and checkpoints: everything else in checkpoints/ is left alone. */
const OURS = /^ckpt-\d{6,}(\.(tmp|old)-\d+)?$/;

type RunDirLike = string | { readonly dir: string; assertWritable?(): void };

function checkpointsDir(runDir: RunDirLike): string {
  return path.join(typeof runDir === 'string' ? runDir : runDir.dir, CHECKPOINTS_DIR);
}

export function checkpointName(iteration: number): string {
  return `ckpt-${String(iteration).padStart(6, '0')}`;
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function dtypeOf(data: TensorArray): TensorDtype {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Int32Array) return 'int32';
  throw new TypeError('tensor data must be a Float32Array or an Int32Array');
}

function entriesOf(tensors: CheckpointContents['tensors']): Array<[string, TensorInput]> {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/** Files under `dir` (relative paths → sizes), fsyncing each file and directory on the way. */
function syncTree(dir: string, prefix = ''): Record<string, number> {
  const sizes: Record<string, number> = {};
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) Object.assign(sizes, syncTree(full, rel));
    else if (entry.isFile()) {
      fsyncFile(full);
      sizes[rel] = fs.statSync(full).size;
    }
  }
  fsyncDirectory(dir);
  return sizes;
}

/** Writes tensors.bin; returns the manifest for tensors.json. */
function writeTensors(dir: string, tensors: CheckpointContents['tensors']): Manifest {
  const manifest: Manifest = { format: 1, byteOrder: os.endianness(), tensors: [] };
  const fd = fs.openSync(path.join(dir, 'tensors.bin'), 'wx');
  try {
    let offset = 0;
    for (const [name, { shape, data }] of entriesOf(tensors)) {
      const dtype = dtypeOf(data);
      if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new TypeError(`tensor ${name}: bad shape [${shape}]`);
      const size = shape.reduce((a, b) => a * b, 1);
      if (size !== data.length) throw new TypeError(`tensor ${name}: shape [${shape}] holds ${size} values, data has ${data.length}`);
      // A view on the typed array's own bytes: no copy, and bit-exact (-0, denormals, NaN payloads).
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      writeAll(fd, bytes);
      manifest.tensors.push({ name, dtype, shape: [...shape], offset, byteLength: bytes.byteLength });
      offset += bytes.byteLength;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return manifest;
}

/**
 * Saves the checkpoint for `iteration` (see the order above). First it renames into place a checkpoint that a
 * killed save left under a temporary name, and deletes the complete checkpoints older than `iteration` beyond the
 * newest `keep - 1`, always keeping one that validates, so that lowering `keep` frees space for the new one. After
 * it, it drops extra/ from all but the newest `keepExtra` checkpoints (default: all kept ones keep theirs) and
 * deletes: checkpoints older than the newest `keep`, every checkpoint NEWER than `iteration` (left from a timeline
 * abandoned by resuming from an older one; keeping it could later mix two timelines), and temp/incomplete
 * directories. If the save fails (e.g. disk full), its temp directory is removed and the checkpoints kept before it
 * are untouched; a full disk throws an Error naming the file, the space needed and the checkpoint the run resumes
 * from. The caller must hold the run's lock; a RunDirectory passed as `runDir` checks that.
 */
export async function saveCheckpoint(
  runDir: RunDirLike,
  iteration: number,
  contents: CheckpointContents,
  { keep = DEFAULT_KEEP_CHECKPOINTS, keepExtra = keep }: { keep?: number; keepExtra?: number } = {},
): Promise<{ iteration: number; dir: string; removed: string[] }> {
  if (!Number.isSafeInteger(iteration) || iteration < 0) throw new RangeError(`bad checkpoint iteration ${iteration}`);
  if (!Number.isSafeInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer, got ${keep}`);
  if (!Number.isSafeInteger(keepExtra) || keepExtra < 1) throw new RangeError(`keepExtra must be a positive integer, got ${keepExtra}`);
  assertJsonExact(contents.state, 'checkpoint state');
  if (typeof runDir !== 'string') runDir.assertWritable?.();

  const root = checkpointsDir(runDir);
  fs.mkdirSync(root, { recursive: true });
  recoverLeftovers(root);
  const prePruned = pruneBeforeSave(root, iteration, keep);
  const name = checkpointName(iteration);
  const final = path.join(root, name);
  const temp = path.join(root, `${name}.tmp-${process.pid}`);
  const stateText = `${JSON.stringify(contents.state)}\n`;
  fs.rmSync(temp, { recursive: true, force: true });
  let writing = temp; // for a disk-full message
  try {
    fs.mkdirSync(temp);
    writing = path.join(temp, 'state.json');
    writeFileAtomic(writing, stateText);
    writing = path.join(temp, 'tensors.bin');
    const manifest = writeTensors(temp, contents.tensors);
    writing = path.join(temp, 'tensors.json');
    writeJsonAtomic(writing, manifest);
    let extra: Record<string, number> = {};
    if (contents.writeExtra) {
      const extraDir = path.join(temp, EXTRA);
      writing = `${extraDir}${path.sep} (its extra files, e.g. the replay memory)`;
      fs.mkdirSync(extraDir);
      await contents.writeExtra(extraDir);
      extra = syncTree(extraDir);
    }
    const files = Object.fromEntries(
      HASHED_FILES.map((f) => [f, { bytes: fs.statSync(path.join(temp, f)).size, sha256: sha256(path.join(temp, f)) }]),
    ) as Sentinel['files'];
    writing = path.join(temp, SENTINEL);
    writeJsonAtomic(writing, { iteration, savedAt: new Date().toISOString(), files, extra } satisfies Sentinel);
    fsyncDirectory(temp);
    // Re-saving an iteration (its old copy failed validation, or was written partway through it): move the old one
    // out of the final name first, since a directory cannot be renamed over a non-empty one. A kill in between
    // leaves both copies complete under temporary names, which findLatestCheckpoint uses (see the top).
    if (fs.existsSync(final)) {
      const old = path.join(root, `${name}.old-${process.pid}`);
      fs.rmSync(old, { recursive: true, force: true });
      fs.renameSync(final, old);
    }
    fs.renameSync(temp, final);
    fsyncDirectory(root);
  } catch (err) {
    const extraBytes = treeBytes(path.join(temp, EXTRA));
    fs.rmSync(temp, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      const coreBytes = Buffer.byteLength(stateText) + entriesOf(contents.tensors).reduce((sum, [, t]) => sum + t.data.byteLength, 0);
      throw new Error(diskFullMessage(root, iteration, code, writing, coreBytes, extraBytes), { cause: err });
    }
    throw err;
  }
  const removed = [...prePruned, ...prune(root, iteration, keep)].sort();
  completeCheckpoints(root).slice(keepExtra).forEach((n) => dropExtra(path.join(root, checkpointName(n))));
  return { iteration, dir: final, removed };
}

/** Bytes of the files under `dir` (0 if there is none). */
function treeBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    total += entry.isDirectory() ? treeBytes(full) : entry.isFile() ? fs.statSync(full).size : 0;
  }
  return total;
}

function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

/**
 * The one line a full disk (or quota) during a save gives: which file, roughly how much space the checkpoint needs
 * (its network and state, plus its extra files: those written before the failure or, if more, the newest kept
 * checkpoint's), and what the run resumes from. Called after the failed save's temp directory is removed.
 */
function diskFullMessage(root: string, iteration: number, code: string, file: string, coreBytes: number, extraWritten: number): string {
  const newestExtra = completeCheckpoints(root).map((n) => path.join(root, checkpointName(n), EXTRA)).find((dir) => fs.existsSync(dir));
  const extraBytes = Math.max(extraWritten, newestExtra ? treeBytes(newestExtra) : 0);
  const previous = search(root, () => true).found;
  return `${code === 'ENOSPC' ? 'no space left on the device' : 'disk quota exceeded'} (${code}) writing ${file}: ` +
    `checkpoint ${checkpointName(iteration)} needs about ${formatBytes(coreBytes + extraBytes)} free in ${root} ` +
    `(${formatBytes(coreBytes)} of network and state${extraBytes > 0 ? ` + ${formatBytes(extraBytes)} of extra files such as the replay memory` : ''}). ` +
    (previous
      ? `Its unfinished copy was removed; the run resumes from the previous checkpoint, ${previous.dir}. `
      : 'There is no earlier checkpoint: the run would start from the beginning. ') +
    'Free space (or lower --keep-checkpoints: older checkpoints are deleted before the next one is written) and resume.';
}

/** Iterations of the checkpoints with a final name and a sentinel, newest first. */
function completeCheckpoints(root: string): number[] {
  return fs
    .readdirSync(root)
    .map((name) => FINAL_NAME.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && fs.existsSync(path.join(root, m[0], SENTINEL)))
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

/**
 * Removes a checkpoint's extra/ (e.g. a replay memory of GBs) and keeps the checkpoint valid: the sentinel is
 * rewritten without the extra files first, so a crash in between leaves an unlisted but intact extra/, never a
 * sentinel that lists missing files.
 */
function dropExtra(dir: string): void {
  const extraDir = path.join(dir, EXTRA);
  if (!fs.existsSync(extraDir)) return;
  const sentinel = readJsonFile<Sentinel>(path.join(dir, SENTINEL), 'checkpoint sentinel');
  if (Object.keys(sentinel.extra ?? {}).length > 0) writeJsonAtomic(path.join(dir, SENTINEL), { ...sentinel, extra: {} });
  fs.rmSync(extraDir, { recursive: true, force: true });
}

/** Drops extra/ from every checkpoint of the run (a completed run's replay memory is no longer needed). */
export function dropCheckpointExtras(runDir: RunDirLike): void {
  const root = checkpointsDir(runDir);
  if (!fs.existsSync(root)) return;
  for (const n of completeCheckpoints(root)) dropExtra(path.join(root, checkpointName(n)));
}

/** Deletes what saveCheckpoint's doc lists; returns the deleted names. */
function prune(root: string, newest: number, keep: number): string[] {
  const complete: number[] = [];
  const doomed: string[] = [];
  for (const name of fs.readdirSync(root)) {
    if (!OURS.test(name)) continue;
    const match = FINAL_NAME.exec(name);
    const iteration = match ? Number(match[1]) : NaN;
    if (match && iteration <= newest && fs.existsSync(path.join(root, name, SENTINEL))) complete.push(iteration);
    else doomed.push(name);
  }
  complete.sort((a, b) => b - a);
  doomed.push(...complete.slice(keep).map(checkpointName));
  for (const name of doomed) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  return doomed.sort();
}

/**
 * Puts back under its final name each checkpoint that a save killed between its two renames left only under
 * temporary names (the complete, valid new copy if there is one, else the old): pruning deletes those names.
 */
function recoverLeftovers(root: string): void {
  let moved = false;
  for (const { name, iteration } of candidates(root)) {
    const match = LEFTOVER_NAME.exec(name);
    if (!match || fs.existsSync(path.join(root, match[1])) || problemWith(path.join(root, name), iteration) !== null) continue;
    fs.renameSync(path.join(root, name), path.join(root, match[1]));
    moved = true;
  }
  if (moved) fsyncDirectory(root);
}

/**
 * Before a save: deletes the complete checkpoints older than `iteration` beyond the newest `keep - 1` (the new one
 * makes `keep`), so that their space is free for it. Kept whatever `keep` says: one that validates (should this
 * save fail, the run resumes from it), and `iteration`'s own, which the save replaces. Returns the deleted names.
 */
function pruneBeforeSave(root: string, iteration: number, keep: number): string[] {
  const kept: number[] = [];
  const doomed: string[] = [];
  let keptValid = false;
  for (const n of completeCheckpoints(root).filter((k) => k <= iteration)) {
    const surplus = n < iteration && kept.filter((k) => k < iteration).length >= keep - 1;
    keptValid ||= surplus && kept.some((k) => problemWith(path.join(root, checkpointName(k)), k) === null);
    if (surplus && keptValid) doomed.push(checkpointName(n));
    else kept.push(n);
  }
  for (const name of doomed) fs.rmSync(path.join(root, name), { recursive: true, force: true });
  return doomed;
}

/** An Error for a file the sentinel expects that is not there (code ENOENT, as fs would say). */
function missing(message: string): Error {
  return Object.assign(new Error(message), { code: 'ENOENT' });
}

/** Throws a message saying what is wrong with the checkpoint in `dir`. */
function validate(dir: string, iteration: number): void {
  const sentinel = readJsonFile<Sentinel>(path.join(dir, SENTINEL), 'checkpoint sentinel');
  if (sentinel.iteration !== iteration) throw new Error(`sentinel says iteration ${sentinel.iteration}`);
  for (const file of HASHED_FILES) {
    const expected = sentinel.files?.[file];
    if (!expected) throw new Error(`sentinel lists no ${file}`);
    const full = path.join(dir, file);
    if (!fs.existsSync(full)) throw missing(`${file} is missing`);
    const bytes = fs.statSync(full).size;
    if (bytes !== expected.bytes) throw new Error(`${file} has ${bytes} bytes, expected ${expected.bytes} (truncated?)`);
    if (sha256(full) !== expected.sha256) throw new Error(`${file} does not match its SHA-256 (corrupted)`);
  }
  const manifest = readJsonFile<Manifest>(path.join(dir, 'tensors.json'), 'tensor manifest');
  if (manifest.byteOrder !== os.endianness()) throw new Error(`tensors are ${manifest.byteOrder}, this host is ${os.endianness()}`);
  let offset = 0;
  for (const t of manifest.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if ((t.dtype !== 'float32' && t.dtype !== 'int32') || t.offset !== offset || t.byteLength !== size * 4) {
      throw new Error(`tensor manifest entry ${t.name} is inconsistent`);
    }
    offset += t.byteLength;
  }
  if (offset !== sentinel.files['tensors.bin'].bytes) throw new Error('tensor manifest does not cover tensors.bin');
  readJsonFile(path.join(dir, 'state.json'), 'checkpoint state');
  for (const [rel, bytes] of Object.entries(sentinel.extra ?? {})) {
    const full = path.join(dir, EXTRA, rel);
    if (!fs.existsSync(full)) throw missing(`extra file ${rel} is missing or truncated`);
    if (fs.statSync(full).size !== bytes) throw new Error(`extra file ${rel} is missing or truncated`);
  }
}

function load(dir: string): { state: unknown; tensors: Map<string, LoadedTensor> } {
  try {
    const state = readJsonFile<unknown>(path.join(dir, 'state.json'), 'checkpoint state');
    const manifest = readJsonFile<Manifest>(path.join(dir, 'tensors.json'), 'tensor manifest');
    const bin = fs.readFileSync(path.join(dir, 'tensors.bin'));
    const tensors = new Map<string, LoadedTensor>();
    for (const t of manifest.tensors) {
      const size = t.byteLength / 4;
      const data = t.dtype === 'float32' ? new Float32Array(size) : new Int32Array(size);
      // Copy the bytes (the Buffer's offset in its pool need not be 4-aligned for a typed-array view).
      new Uint8Array(data.buffer).set(bin.subarray(t.offset, t.offset + t.byteLength));
      tensors.set(t.name, { dtype: t.dtype, shape: t.shape, data });
    }
    return { state, tensors };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(dir)) {
      throw new Error(`checkpoint ${dir} was removed while being loaded (pruned or renamed by the run writing it); run the command again`, { cause: err });
    }
    throw err;
  }
}

/**
 * The iterations of the run's complete checkpoints (sentinel; not validated), newest first: under their final
 * names or the temporary names a killed save leaves (see the top), as findLatestCheckpoint looks for them.
 */
export function checkpointIterations(runDir: RunDirLike): number[] {
  const root = checkpointsDir(runDir);
  if (!fs.existsSync(root)) return [];
  return [...new Set(candidates(root).filter((c) => fs.existsSync(path.join(root, c.name, SENTINEL))).map((c) => c.iteration))];
}

interface Candidate {
  name: string;
  iteration: number;
  leftover: boolean;
}

/**
 * The directories that may hold a checkpoint, newest iteration first; per iteration the final name, then what a
 * save killed between its two renames leaves: its new copy (`.tmp-*`), then the copy it was replacing (`.old-*`).
 */
function candidates(root: string): Candidate[] {
  const rank = (c: Candidate) => (!c.leftover ? 0 : c.name.includes('.tmp-') ? 1 : 2);
  return fs
    .readdirSync(root)
    .flatMap((name) => {
      const final = FINAL_NAME.exec(name);
      const leftover = LEFTOVER_NAME.exec(name);
      if (final) return [{ name, iteration: Number(final[1]), leftover: false }];
      return leftover ? [{ name, iteration: Number(leftover[2]), leftover: true }] : [];
    })
    .sort((a, b) => b.iteration - a.iteration || rank(a) - rank(b));
}

/**
 * Why the checkpoint in `dir` cannot be used, or null if it is complete and valid. `gone`: the directory was
 * removed or renamed while being read (by the run writing it: pruning, or putting a copy in place), which says
 * nothing about its contents; `missing`: a file is missing from a directory still there (being deleted, or damaged).
 */
function problemWith(dir: string, iteration: number): { kind: 'gone' | 'missing' | 'invalid'; message: string } | null {
  const gone = { kind: 'gone' as const, message: 'was removed while being read (pruned or renamed by the run writing it)' };
  try {
    if (!fs.existsSync(path.join(dir, SENTINEL))) {
      return fs.existsSync(dir) ? { kind: 'missing', message: `has no "${SENTINEL}" sentinel (incomplete)` } : gone;
    }
    validate(dir, iteration);
    return null;
  } catch (err) {
    if (!fs.existsSync(dir)) return gone;
    return { kind: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'invalid', message: `is invalid (${(err as Error).message})` };
  }
}

/**
 * The newest of `root`'s candidates for which `wanted(iteration)` holds that is complete and valid, and what is
 * wrong with the final-named ones before it (leftovers that fail are killed writers' debris, not worth a word). A
 * candidate that vanishes while being read, or a final-named one that loses a file, means a run beside is pruning
 * or renaming checkpoints: the search starts again from a fresh listing (FIND_ATTEMPTS in all) rather than call it
 * invalid or miss the copy just put in place.
 */
function search(root: string, wanted: (iteration: number) => boolean): { found: FoundCheckpoint | null; problems: string[] } {
  for (let attempt = 1; ; attempt++) {
    const problems: string[] = [];
    let changed = false;
    for (const { name, iteration, leftover } of fs.existsSync(root) ? candidates(root) : []) {
      if (!wanted(iteration)) continue;
      const dir = path.join(root, name);
      const problem = problemWith(dir, iteration);
      if (problem === null) {
        const extraDir = path.join(dir, EXTRA);
        return { found: { iteration, dir, extraDir: fs.existsSync(extraDir) ? extraDir : null, load: () => load(dir) }, problems };
      }
      if (attempt < FIND_ATTEMPTS && (problem.kind === 'gone' || (problem.kind === 'missing' && !leftover))) {
        changed = true;
        break;
      }
      if (!leftover) problems.push(`checkpoint ${dir} ${problem.message}`);
    }
    if (!changed) return { found: null, problems };
  }
}

/**
 * The checkpoint of `iteration` (checkpoints/ckpt-<iteration>, or what a killed save left of it), validated as
 * findLatestCheckpoint validates; throws an Error saying why it cannot be used (absent, incomplete, invalid).
 */
export function findCheckpoint(runDir: RunDirLike, iteration: number): FoundCheckpoint {
  const { found, problems } = search(checkpointsDir(runDir), (n) => n === iteration);
  if (found) return found;
  throw new Error(problems[0] ?? `there is no checkpoint ${checkpointName(iteration)}`);
}

/**
 * The newest checkpoint that is complete (sentinel) and valid (sizes and hashes match the sentinel, manifest
 * consistent, state.json parses): under its final name, or else under the temporary names a save killed between
 * its two renames leaves. Invalid or incomplete ones are skipped with a warning through `warn` (default
 * console.warn), so a corrupt newest checkpoint falls back to the previous one. Null if none.
 */
export function findLatestCheckpoint(
  runDir: RunDirLike,
  { warn = (message: string) => console.warn(message) }: { warn?: (message: string) => void } = {},
): FoundCheckpoint | null {
  const { found, problems } = search(checkpointsDir(runDir), () => true);
  for (const problem of problems) warn(`${problem}; skipping it`);
  return found;
}
