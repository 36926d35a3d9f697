// Loads the banner filter (src/stderr_filter.c, built by `npm run setup` into .cache/) and runs a function with
// TensorFlow's load-time banner lines dropped from standard error. src/tf.ts wraps the binding's load in it.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { STDERR_FILTER_ADDON } from './paths.mjs';

/**
 * What TensorFlow 2.21 prints at load time whatever TF_CPP_MIN_LOG_LEVEL says: the oneDNN notice (which does not
 * change: oneDNN is TensorFlow's default and the harness keeps it, docs/performance.md), and absl's warning about
 * logging before its initialisation. A line is dropped when it contains one of these.
 */
export const BANNER_LINES = ['oneDNN custom operations are on', 'All log messages before absl::InitializeLog() is called'];

interface FilterAddon {
  begin(patterns: readonly string[]): boolean;
  end(): number;
}

function loadAddon(addon: string): FilterAddon | null {
  if (process.platform !== 'linux' || !fs.existsSync(addon)) return null;
  try {
    return createRequire(import.meta.url)(addon) as FilterAddon;
  } catch {
    return null; // a broken build shows the banner, nothing worse; `npm run doctor` reports it
  }
}

/**
 * Runs `load` with lines containing `patterns` dropped from file descriptor 2; every other line passes, in order,
 * also when `load` throws. Without the addon (not built, not Linux) it just runs `load`. Returns `load`'s value.
 */
export function withoutBanner<T>(load: () => T, { patterns = BANNER_LINES, addon = STDERR_FILTER_ADDON }: { patterns?: readonly string[]; addon?: string } = {}): T {
  const filter = loadAddon(addon);
  const on = filter?.begin(patterns) ?? false;
  try {
    return load();
  } finally {
    if (on) filter!.end();
  }
}
