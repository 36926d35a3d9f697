// Where this checkout keeps things: its root and the Python of the venv that setup makes. Plain JavaScript, so that
// setup and doctor (which run before node_modules exists) and the TypeScript modules share the one definition.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The venv's Python (ale-py, the emulator server's interpreter), made by `npm run setup`. */
export const VENV_PYTHON = path.join(REPO_ROOT, '.venv', 'bin', 'python');
