// Loads the signal guard (src/signal_guard.c, built by `npm run setup` into .cache/) and applies it to this thread.
// Imported by src/tf.ts before TensorFlow loads, so that no thread running TensorFlow's kernels ever handles an
// asynchronous signal: oneDNN's GEMM kernels corrupt the heap when one arrives mid-kernel (the C file says how).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { REPO_ROOT, SIGNAL_GUARD_ADDON } from './paths.mjs';

export type SignalGuardStatus = { guarded: true; signals: number[] } | { guarded: false; reason: string };

/** Blocks the guarded signals in the calling thread (a receiver thread takes them); says why if it could not. */
export function guardSignals(addon = SIGNAL_GUARD_ADDON): SignalGuardStatus {
  if (process.platform !== 'linux') return { guarded: false, reason: `not built on ${process.platform}` };
  if (!fs.existsSync(addon)) return { guarded: false, reason: `${path.relative(REPO_ROOT, addon)} is not built` };
  try {
    const { guard } = createRequire(import.meta.url)(addon) as { guard(): number[] };
    return { guarded: true, signals: guard() };
  } catch (error) {
    return { guarded: false, reason: (error as Error).message.split('\n')[0] };
  }
}

export const signalGuard = guardSignals();

if (!signalGuard.guarded && process.platform === 'linux') {
  console.warn(`[tf] signal guard off (${signalGuard.reason}): a stop signal that arrives during a matrix product can ` +
    'crash the run (oneDNN bug, see src/signal_guard.c). Run `npm run setup` to build it.');
}
