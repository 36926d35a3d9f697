#!/usr/bin/env node
// `npm run doctor`: what is installed and whether it works, one line each. Exits 1 if anything is broken.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(ROOT, 'package.json'));
let failures = 0;

function line(name, value) {
  console.log(`${name.padEnd(22)} ${value}`);
}
function broken(name, message) {
  failures += 1;
  line(name, `BROKEN: ${message}`);
}

line('machine', `${os.platform()} ${os.arch()}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`);
line('node', process.version);

const python = path.join(ROOT, '.venv', 'bin', 'python');
const probe = spawnSync(python, ['-c', [
  'import sys, ale_py, numpy, cv2',
  'from ale_py import roms',
  'print(sys.version.split()[0]); print(ale_py.__version__); print(len(roms.get_all_rom_ids())); print(numpy.__version__); print(cv2.__version__)',
].join('\n')], { encoding: 'utf8' });
if (probe.status === 0) {
  const [py, ale, romCount, numpy, cv2] = probe.stdout.trim().split('\n');
  line('python (.venv)', py);
  line('ale-py', `${ale} (${romCount} ROMs)`);
  line('numpy / opencv', `${numpy} / ${cv2}`);
} else {
  broken('python (.venv)', `${probe.error?.message ?? probe.stderr.trim().split('\n').pop()} — run: npm run setup -- --force`);
}

try {
  const tf = require('@tensorflow/tfjs-node');
  const y = tf.tidy(() => tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync()[0]);
  if (y !== 2) throw new Error(`matMul returned ${y}`);
  const stampFile = path.join(ROOT, 'node_modules/@tensorflow/tfjs-node/deps/.wd-harness-tf.json');
  const stamp = fs.existsSync(stampFile) ? JSON.parse(fs.readFileSync(stampFile, 'utf8')) : {};
  line('tfjs-node', tf.version['tfjs-node']);
  line('TensorFlow (native)', `${tf.backend().binding.TF_Version} from ${stamp.source ?? 'unknown source'}`);
  line('backend', tf.getBackend());
  let gpu = 'none (CPU build)';
  try {
    require.resolve('@tensorflow/tfjs-node-gpu');
    gpu = '@tensorflow/tfjs-node-gpu installed (opt-in)';
  } catch { /* CPU only: the default */ }
  line('GPU', gpu);
} catch (error) {
  broken('tfjs-node', `${error.message.split('\n')[0]} — run: npm run setup -- --force`);
}

if (failures) {
  console.log(`\n${failures} problem(s). Fix with the command shown, or see README.md "Setup".`);
  process.exit(1);
}
console.log('\nall good');
