// An exclusive lock file for a run directory: two processes training into one directory would interleave
// metrics and overwrite each other's checkpoints. Sweeps start many workers at once and rely on this.
//
// The lock file holds who owns it (pid, host, boot id, the process's start time, a random token). It is created
// complete: the content is written and fsynced to a temp file which is then hard-linked to `run.lock`; link(2)
// fails with EEXIST if the lock exists, so creation is exclusive like open(…, 'wx'), and nobody can ever see an
// empty lock file left by a crash between create and write.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fsyncDirectory, writeAll } from './atomic.ts';

export interface LockInfo {
  pid: number;
  hostname: string;
  /** Linux boot id: a lock written before a reboot is stale whatever its pid is now. */
  bootId: string | null;
  /** Start time of the process (clock ticks since boot) so a recycled pid is not mistaken for the holder. */
  startTime: string | null;
  token: string;
  acquiredAt: string;
}

export class RunLockedError extends Error {
  constructor(
    readonly lockFile: string,
    readonly holder: LockInfo,
  ) {
    const dir = path.dirname(lockFile);
    const sameHost = holder.hostname === os.hostname();
    super(
      `run directory ${dir} is in use by pid ${holder.pid}` +
        `${sameHost ? '' : ` on host ${holder.hostname}`} (since ${holder.acquiredAt}). ` +
        'Two processes writing one run directory would corrupt it: wait for that process to finish or stop it, ' +
        'or choose another --out.' +
        (sameHost
          ? ''
          : ` This host cannot check whether that process is still running; if you are sure it is not, delete ${lockFile}.`),
    );
    this.name = 'RunLockedError';
  }
}

export interface HeldLock {
  readonly file: string;
  readonly info: LockInfo;
  /** True while the lock file still exists and carries this holder's token. */
  isHeld(): boolean;
  /** Deletes the lock file if (and only if) it is still ours. Idempotent. */
  release(): void;
}

function readBootId(): string | null {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
}

/** The state letter and start time of `pid` from /proc (null where there is no /proc). */
function readProcStat(pid: number): { state: string; startTime: string | null } | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)" start at field 3 (state); starttime is field 22. comm may contain spaces and ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], startTime: fields[19] ?? null };
  } catch {
    return null;
  }
}

function readStartTime(pid: number): string | null {
  return readProcStat(pid)?.startTime ?? null;
}

function readLockInfo(file: string): LockInfo | 'missing' | 'unreadable' {
  let text: string;
  try {
    // O_NOFOLLOW: this module makes locks by link(2) of a regular file, never as symbolic links; a symbolic link
    // there (ELOOP), dangling or not, is debris like an unparsable lock: removed, never read through.
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    if (code === 'ELOOP') return 'unreadable';
    throw err;
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info.pid === 'number' && typeof info.token === 'string' ? info : 'unreadable';
  } catch {
    return 'unreadable';
  }
}

/** Whether the lock's holder may still be running. Unknowable for another host: assume it is. */
function holderMayBeAlive(holder: LockInfo): boolean {
  if (holder.hostname !== os.hostname()) return true;
  const bootId = readBootId();
  if (holder.bootId !== null && bootId !== null && holder.bootId !== bootId) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // EPERM: alive, owned by another user
  }
  const stat = readProcStat(holder.pid);
  if (stat === null) return true;
  // A zombie (Z) or dying (X) process has exited: kill(pid, 0) still succeeds until its parent reaps it, and a
  // run orphaned by a killed sweep driver is reaped by pid 1, which in many containers (Docker without --init,
  // this project's CI machines) never reaps. Taken as alive, such a lock would block its run forever.
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return holder.startTime === null || stat.startTime === null || holder.startTime === stat.startTime;
}

/** Read-only look at the lock `file`: whether a live process holds it (a missing, unreadable or stale lock is not live). */
export function inspectLock(file: string): { live: boolean; pid?: number; host?: string } {
  let info: ReturnType<typeof readLockInfo>;
  try {
    info = readLockInfo(file);
  } catch {
    return { live: false };
  }
  if (typeof info !== 'object') return { live: false };
  return { live: holderMayBeAlive(info), pid: info.pid, host: info.hostname };
}

// Locks this process holds, released when Node exits normally (process.exit, end of the event loop, an uncaught
// exception). kill -9 cannot be caught; the next acquirer sees the dead pid and takes the lock over.
const heldLocks = new Set<HeldLock>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const lock of heldLocks) lock.release();
  });
}

/** Creates the lock file with `info` iff it does not exist; false if it exists. */
function tryCreate(file: string, info: LockInfo): boolean {
  const temp = `${file}.new-${process.pid}-${info.token}`;
  const fd = fs.openSync(temp, 'wx', 0o644);
  try {
    writeAll(fd, Buffer.from(`${JSON.stringify(info, null, 2)}\n`));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.linkSync(temp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

/**
 * Removes a stale lock without ever removing a live one. Two acquirers may both judge the same lock stale; the
 * slower one could then delete the lock the faster one just created. So the stale file is first renamed to a
 * private name (only one rename of a given file can succeed) and its token checked: if what we moved is not the
 * lock we judged stale, it is someone's fresh lock and is linked back.
 */
function removeStaleLock(file: string, stale: LockInfo | 'unreadable'): void {
  const moved = `${file}.stale-${process.pid}-${crypto.randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(file, moved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else removed it first
    throw err;
  }
  const got = readLockInfo(moved);
  const same = stale === 'unreadable' ? got === 'unreadable' : typeof got === 'object' && got.token === stale.token;
  if (!same) {
    try {
      fs.linkSync(moved, file);
    } catch {
      // A third process created a lock meanwhile; it now owns the directory.
    }
  }
  fs.rmSync(moved, { force: true });
}

/**
 * Takes the lock `file` for this process, taking over a stale one (holder dead on this host, or host rebooted).
 * Throws RunLockedError if a live process holds it.
 */
export function acquireLock(file: string): HeldLock {
  const info: LockInfo = {
    pid: process.pid,
    hostname: os.hostname(),
    bootId: readBootId(),
    startTime: readStartTime(process.pid),
    token: crypto.randomBytes(8).toString('hex'),
    acquiredAt: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 10; attempt++) {
    if (tryCreate(file, info)) {
      fsyncDirectory(path.dirname(file));
      const lock: HeldLock = {
        file,
        info,
        isHeld: () => {
          const current = readLockInfo(file);
          return typeof current === 'object' && current.token === info.token;
        },
        release: () => {
          heldLocks.delete(lock);
          if (lock.isHeld()) fs.rmSync(file, { force: true });
        },
      };
      heldLocks.add(lock);
      installExitHook();
      return lock;
    }
    const holder = readLockInfo(file);
    if (holder === 'missing') continue; // released between our attempt and the read: try again
    // An unreadable lock cannot come from this module (it writes complete files); treat it as stale debris.
    if (holder !== 'unreadable' && holderMayBeAlive(holder)) throw new RunLockedError(file, holder);
    removeStaleLock(file, holder);
  }
  throw new Error(`could not acquire ${file}: other processes keep taking it; retry`);
}
