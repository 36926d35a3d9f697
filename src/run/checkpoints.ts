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
// A directory is only trusted when its name is final AND it holds the sentinel AND the files match the
// sentinel's sizes and hashes. Each guard covers the others' blind spots: the name cannot be final before all
// data is durable; the sentinel catches a directory copied or moved by hand, or a filesystem whose directory
// renames are not atomic; the hashes catch data lost or flipped after the fact (a bad disk, a restore from a
// partial backup). Anything else in checkpoints/ — temp dirs of killed writers, checkpoints that fail
// validation — is ignored by findLatestCheckpoint and deleted by the next successful save.
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

function writeTensors(dir: string, tensors: CheckpointContents['tensors']): void {
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
  writeJsonAtomic(path.join(dir, 'tensors.json'), manifest);
}

/**
 * Saves the checkpoint for `iteration` (see the order above), then drops extra/ from all but the newest
 * `keepExtra` checkpoints (default: all kept ones keep theirs) and deletes: checkpoints older than the newest
 * `keep`, every checkpoint NEWER than `iteration` (left from a timeline abandoned by resuming from an older one;
 * keeping it could later mix two timelines), and temp/incomplete directories. If the save fails (e.g. disk full),
 * its temp directory is removed and older checkpoints are untouched. The caller must hold the run's lock; a
 * RunDirectory passed as `runDir` checks that.
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
  const name = checkpointName(iteration);
  const final = path.join(root, name);
  const temp = path.join(root, `${name}.tmp-${process.pid}`);
  fs.rmSync(temp, { recursive: true, force: true });
  fs.mkdirSync(temp);
  try {
    writeFileAtomic(path.join(temp, 'state.json'), `${JSON.stringify(contents.state)}\n`);
    writeTensors(temp, contents.tensors);
    let extra: Record<string, number> = {};
    if (contents.writeExtra) {
      const extraDir = path.join(temp, EXTRA);
      fs.mkdirSync(extraDir);
      await contents.writeExtra(extraDir);
      extra = syncTree(extraDir);
    }
    const files = Object.fromEntries(
      HASHED_FILES.map((f) => [f, { bytes: fs.statSync(path.join(temp, f)).size, sha256: sha256(path.join(temp, f)) }]),
    ) as Sentinel['files'];
    writeJsonAtomic(path.join(temp, SENTINEL), { iteration, savedAt: new Date().toISOString(), files, extra } satisfies Sentinel);
    fsyncDirectory(temp);
    // Re-saving an iteration (its old copy failed validation): move the old one out of the final name first,
    // since a directory cannot be renamed over a non-empty one. A crash in between falls back to iteration N-1.
    if (fs.existsSync(final)) {
      const old = path.join(root, `${name}.old-${process.pid}`);
      fs.rmSync(old, { recursive: true, force: true });
      fs.renameSync(final, old);
    }
    fs.renameSync(temp, final);
    fsyncDirectory(root);
  } catch (err) {
    fs.rmSync(temp, { recursive: true, force: true });
    throw err;
  }
  const removed = prune(root, iteration, keep);
  completeCheckpoints(root).slice(keepExtra).forEach((n) => dropExtra(path.join(root, checkpointName(n))));
  return { iteration, dir: final, removed };
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

/** Throws a message saying what is wrong with the checkpoint in `dir`. */
function validate(dir: string, iteration: number): void {
  const sentinel = readJsonFile<Sentinel>(path.join(dir, SENTINEL), 'checkpoint sentinel');
  if (sentinel.iteration !== iteration) throw new Error(`sentinel says iteration ${sentinel.iteration}`);
  for (const file of HASHED_FILES) {
    const expected = sentinel.files?.[file];
    if (!expected) throw new Error(`sentinel lists no ${file}`);
    const full = path.join(dir, file);
    if (!fs.existsSync(full)) throw new Error(`${file} is missing`);
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
    if (!fs.existsSync(full) || fs.statSync(full).size !== bytes) throw new Error(`extra file ${rel} is missing or truncated`);
  }
}

function load(dir: string): { state: unknown; tensors: Map<string, LoadedTensor> } {
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
}

/** The iterations of the run's complete checkpoints (final name and sentinel; not validated), newest first. */
export function checkpointIterations(runDir: RunDirLike): number[] {
  const root = checkpointsDir(runDir);
  return fs.existsSync(root) ? completeCheckpoints(root) : [];
}

/**
 * The checkpoint of `iteration` (checkpoints/ckpt-<iteration>), validated as findLatestCheckpoint validates;
 * throws an Error saying why it cannot be used (absent, incomplete, invalid).
 */
export function findCheckpoint(runDir: RunDirLike, iteration: number): FoundCheckpoint {
  const dir = path.join(checkpointsDir(runDir), checkpointName(iteration));
  if (!fs.existsSync(dir)) throw new Error(`there is no checkpoint ${checkpointName(iteration)}`);
  if (!fs.existsSync(path.join(dir, SENTINEL))) throw new Error(`checkpoint ${dir} has no "${SENTINEL}" sentinel (incomplete)`);
  try {
    validate(dir, iteration);
  } catch (err) {
    throw new Error(`checkpoint ${dir} is invalid (${(err as Error).message})`);
  }
  const extraDir = path.join(dir, EXTRA);
  return { iteration, dir, extraDir: fs.existsSync(extraDir) ? extraDir : null, load: () => load(dir) };
}

/**
 * The newest checkpoint that is complete (final name, sentinel) and valid (sizes and hashes match the sentinel,
 * manifest consistent, state.json parses). Invalid or incomplete ones are skipped with a warning through `warn`
 * (default console.warn), so a corrupt newest checkpoint falls back to the previous one. Null if none.
 */
export function findLatestCheckpoint(
  runDir: RunDirLike,
  { warn = (message: string) => console.warn(message) }: { warn?: (message: string) => void } = {},
): FoundCheckpoint | null {
  const root = checkpointsDir(runDir);
  if (!fs.existsSync(root)) return null;
  const candidates = fs
    .readdirSync(root)
    .map((name) => ({ name, match: FINAL_NAME.exec(name) }))
    .filter((c) => c.match !== null)
    .map((c) => ({ name: c.name, iteration: Number(c.match![1]) }))
    .sort((a, b) => b.iteration - a.iteration);
  for (const { name, iteration } of candidates) {
    const dir = path.join(root, name);
    if (!fs.existsSync(path.join(dir, SENTINEL))) {
      warn(`checkpoint ${dir} has no "${SENTINEL}" sentinel (incomplete); ignoring it`);
      continue;
    }
    try {
      validate(dir, iteration);
    } catch (err) {
      warn(`checkpoint ${dir} is invalid (${(err as Error).message}); skipping it and using an older one`);
      continue;
    }
    const extraDir = path.join(dir, EXTRA);
    return { iteration, dir, extraDir: fs.existsSync(extraDir) ? extraDir : null, load: () => load(dir) };
  }
  return null;
}
