// Crash-safe file primitives. Every file a run keeps (config, summary, checkpoint parts) is replaced by
// write-to-temp + fsync + rename: rename(2) within one directory is atomic, so after kill -9, a reboot or a full
// disk the target holds either the old or the new complete content, never a prefix of the new one. Appends go
// through openForAppend. Neither ever writes through a symbolic link.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Temp files are `.<target>.tmp-<pid>-<hex>`: hidden, unique per process and call, recognisable for cleanup. */
const TEMP_NAME = /^\..+\.tmp-\d+-[0-9a-f]{8}$/;

export function isAtomicTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

function tempPathFor(file: string): string {
  const suffix = crypto.randomBytes(4).toString('hex');
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${suffix}`);
}

/** A directory the user named cannot be made or written: one line saying which level failed and why. */
export class DirectoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DirectoryError';
  }
}

const ERRNO_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'this file system does not allow creating it (e.g. /proc or /sys)',
  ENOTDIR: 'a part of the path is a file',
  ENOSPC: 'no space left on the device',
};

/**
 * An fs error as `CODE: what it means`, without the path Node puts in its message: for a path the user gave, whose
 * failed write may have been to an internal temp name (the caller names the user's path).
 */
export function describeFsError(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === undefined) return String(message ?? error);
  return `${code}: ${ERRNO_REASONS[code] ?? message.replace(/^\w+: /, '').split(',')[0]}`;
}

/**
 * `mkdir -p` for paths the user gives (--out): each missing level is made in turn, so a path where nothing can be
 * created fails at once with the level and the reason (Node 20's recursive mkdirSync spins forever under /proc),
 * and an existing directory must be writable. Throws DirectoryError.
 */
export function makeDirectories(dir: string, what = 'directory'): void {
  const target = path.resolve(dir);
  const missing: string[] = [];
  let at = target;
  while (!fs.existsSync(at)) {
    missing.unshift(at);
    const parent = path.dirname(at);
    if (parent === at) break;
    at = parent;
  }
  if (fs.existsSync(at) && !fs.statSync(at).isDirectory()) {
    throw new DirectoryError(`cannot create the ${what} ${target}: ${at} is a file, not a directory`);
  }
  for (const level of missing) {
    try {
      fs.mkdirSync(level);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (code === 'EEXIST' && fs.statSync(level).isDirectory()) continue; // made meanwhile by someone else
      throw new DirectoryError(`cannot create the ${what} ${target}: making ${level} failed (${code}: ${ERRNO_REASONS[code] ?? (error as Error).message})`);
    }
  }
  try {
    fs.accessSync(target, fs.constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    throw new DirectoryError(`cannot write into the ${what} ${target} (${code}: ${ERRNO_REASONS[code] ?? (error as Error).message})`);
  }
}

/** fs.writeSync may write less than asked (e.g. near a full disk); loop until all is written or it throws. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.byteLength) offset += fs.writeSync(fd, bytes, offset, bytes.byteLength - offset);
}

/**
 * Makes a directory's entries (a rename, a new file) durable. Best effort: some filesystems refuse to open or
 * fsync directories, and there is nothing better to do then.
 */
export function fsyncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Not supported here (e.g. some network or FUSE filesystems).
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Flushes an existing file's data to disk (for files someone else wrote, e.g. a checkpoint's extras). */
export function fsyncFile(file: string): void {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A file the harness appends to is a symbolic link or not a regular file: writing would change something else. */
export class NotARegularFileError extends Error {
  constructor(readonly file: string, what: string) {
    super(
      `${file} is ${what}, not a regular file: refusing to write through it (a run or sweep writes only its own files). ` +
        'Move it away, then rerun.',
    );
    this.name = 'NotARegularFileError';
  }
}

/**
 * Opens `file` to append (created 0644 if missing). O_NOFOLLOW: a symbolic link there fails the open (ELOOP)
 * instead of being followed, so a link in a run or sweep directory, even a dangling one (which 'a' would create the
 * target of), never carries a write outside it. O_NONBLOCK so that a FIFO there does not block the open; it is then
 * refused, like any other non-regular file. Throws NotARegularFileError naming the file.
 */
export function openForAppend(file: string): number {
  const { O_WRONLY, O_APPEND, O_CREAT, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new NotARegularFileError(file, 'a symbolic link');
    if (code === 'ENXIO') throw new NotARegularFileError(file, 'a FIFO'); // a FIFO nobody reads
    throw error;
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new NotARegularFileError(file, 'a FIFO, socket or device');
  }
  return fd;
}

/** Appends `text` to `file` through openForAppend (never through a link). */
export function appendText(file: string, text: string): void {
  const fd = openForAppend(file);
  try {
    writeAll(fd, Buffer.from(text, 'utf8'));
  } finally {
    fs.closeSync(fd);
  }
}

/** Throws NotARegularFileError if `file` is a symbolic link (checked without following it); missing is fine. */
export function refuseLink(file: string): void {
  if (fs.lstatSync(file, { throwIfNoEntry: false })?.isSymbolicLink()) throw new NotARegularFileError(file, 'a symbolic link');
}

/**
 * Replaces `file` atomically and durably: temp file in the same directory, fsync, rename, fsync the directory.
 * Never writes through a link: the temp file is created exclusively ('wx' fails on any existing name, a link
 * included), and rename(2) replaces a link at `file` itself rather than its target.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const temp = tempPathFor(file);
  const fd = fs.openSync(temp, 'wx', 0o644);
  try {
    try {
      writeAll(fd, bytes);
      fs.fsyncSync(fd); // the data must be on disk before the rename makes it visible under the real name
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true }); // e.g. ENOSPC: leave the old target untouched and no litter behind
    throw err;
  }
  fsyncDirectory(path.dirname(file));
}

/** Pretty-printed JSON with a trailing newline, written atomically. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** A file that exists but does not parse: the message names it and says what to do. */
export class CorruptFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'CorruptFileError';
  }
}

/**
 * Reads and parses a JSON file. A missing file throws fs's ENOENT error; a file that does not parse (empty,
 * cut off, garbage) throws CorruptFileError naming the file, `what` it is, and `remedy` (what the user should do).
 */
export function readJsonFile<T>(file: string, what: string, remedy?: string): T {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    const detail = text.length === 0 ? 'the file is empty' : (err as Error).message;
    throw new CorruptFileError(
      file,
      `${what} ${file} is corrupt or half-written (${detail}). ` +
        'This harness only replaces it atomically, so a crash cannot cut it off; the disk or filesystem lost data. ' +
        (remedy ?? 'Restore it from a backup or move it away, then rerun.'),
    );
  }
}

/**
 * JSON.stringify silently turns NaN/Infinity into null and Maps/typed arrays into {}, which would make a resumed run
 * differ from the original or a config compare equal when it is not. Values that must round trip exactly go through
 * this check first; it names the offending path.
 */
export function assertJsonExact(value: unknown, what: string, at = ''): void {
  const where = at === '' ? what : `${what} at ${at}`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`${where} is ${value}, which JSON cannot store`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJsonExact(item, what, `${at}[${i}]`));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      if (item !== undefined) assertJsonExact(item, what, at === '' ? key : `${at}.${key}`);
    }
    return;
  }
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  throw new TypeError(`${where} is of type ${kind}, which does not round trip through JSON`);
}
