// Where this checkout keeps things: its root and the Python of the venv that setup makes. Plain JavaScript, so that
// setup and doctor (which run before node_modules exists) and the TypeScript modules share the one definition.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The venv's Python (ale-py, the emulator server's interpreter), made by `npm run setup`. */
export const VENV_PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');
/** The signal guard's source, and the addon setup compiles from it (src/signal_guard.c says what it is for). */
export const SIGNAL_GUARD_SOURCE = path.join(REPO_ROOT, 'src', 'signal_guard.c');
export const SIGNAL_GUARD_ADDON = path.join(REPO_ROOT, '.cache', 'signal_guard.node');
/** The start-up banner filter's source and addon (src/stderr_filter.c says what it is for). */
export const STDERR_FILTER_SOURCE = path.join(REPO_ROOT, 'src', 'stderr_filter.c');
export const STDERR_FILTER_ADDON = path.join(REPO_ROOT, '.cache', 'stderr_filter.node');
