#!/usr/bin/env node
// `npm run doctor`: what is installed and whether it works, one line each. Exits 1 if anything is broken.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../src/paths.mjs';
import { addonState, NATIVE_ADDONS } from './setup.mjs';
import { BACKEND_ENV, BACKEND_PACKAGES, bindingFile, probeBinding, readBackendRecord, resolveBackend } from '../src/backend.mjs';

const ROOT = REPO_ROOT;

// At most 80 columns (test/setup.test.ts): read in a terminal of that width, the help must not wrap.
const USAGE = `usage: npm run doctor [-- OPTIONS]   (or: node scripts/doctor.mjs [OPTIONS])

Prints what is installed and whether it works, one line each: the machine,
Node, the Python venv with ale-py, TensorFlow's binding and library, the backend
(cpu or gpu, and what chose it: ${BACKEND_ENV}, .cache/backend.json or
the default) and the device TensorFlow computes on (for a GPU: the devices it
lists, or why there are none). Runs \`npm run setup -- --quiet\` first (which
installs what is missing), and prints the lines even when that fails. Exits 1
if anything is broken, with the command that fixes it.

  --no-setup     do not run setup first: only look (changes nothing)
  -V, --version  print the harness version and exit
  -h, --help     print this and exit`;

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
if (argv.includes('--version') || argv.includes('-V')) {
  console.log(`wd-dqn-harness ${JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version}`);
  process.exit(0);
}
const unknown = argv.filter((a) => a !== '--no-setup');
if (unknown.length > 0) {
  console.error(`doctor: unknown option ${unknown[0]} (npm run doctor -- --help)`);
  process.exit(2);
}

let failures = 0;
if (!argv.includes('--no-setup')) {
  // What `npm run doctor` ran before the doctor itself; a failure is reported below and does not stop the look.
  const setup = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'setup.mjs'), '--quiet'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (setup.status !== 0) {
    failures += 1;
    console.log('setup                  BROKEN: `npm run setup` failed (its message is above); what is installed:');
  }
}

function line(name, value) {
  console.log(`${name.padEnd(22)} ${value}`);
}
function broken(name, message) {
  failures += 1;
  line(name, `BROKEN: ${message}`);
}
function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
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

/** The TensorFlow lines: which binding the entry points load, its library, the backend and the device. */
function tensorflowLines() {
  let choice;
  try {
    choice = resolveBackend({ root: ROOT });
  } catch (error) {
    broken('backend', error.message);
    return;
  }
  const packageDir = path.join(ROOT, 'node_modules', ...choice.packageName.split('/'));
  const fix = `run: npm run setup -- --${choice.name}${choice.name === 'gpu' ? ` (or ${BACKEND_ENV}=cpu for the CPU)` : ' --force'}`;
  let record = null;
  try {
    record = readBackendRecord(choice.recordFile);
  } catch { /* resolveBackend would have thrown */ }
  const notes = [];
  if (record?.gpuSetupFailed && choice.name === 'cpu') notes.push(`the last \`setup --gpu\` failed: ${record.gpuSetupFailed}`);
  if (choice.name === 'cpu' && fs.existsSync(path.join(ROOT, 'node_modules', ...BACKEND_PACKAGES.gpu.split('/'), 'package.json')) && !record?.gpuSetupFailed) {
    notes.push(`${BACKEND_PACKAGES.gpu} is installed too: npm run setup -- --gpu selects it`);
  }
  if (choice.name === 'cpu' && notes.length === 0) notes.push('npm run setup -- --gpu for a GPU, docs/gpu.md');
  line('backend', [`${choice.name}: ${choice.packageName} (chosen by ${choice.source})`, ...notes].join('; '));

  if (!fs.existsSync(path.join(packageDir, 'package.json'))) {
    broken('binding', `${choice.packageName} is not installed — ${fix}`);
    return;
  }
  const binding = bindingFile(packageDir);
  if (!binding) {
    broken('binding', `${choice.packageName} has no built tfjs_binding.node — ${fix}`);
    return;
  }
  const stamp = readJson(path.join(packageDir, 'deps', '.wd-harness-tf.json')) ?? {};
  const result = probeBinding({ packageName: choice.packageName, root: ROOT });
  if (!result.ok) {
    broken('binding', `${path.relative(ROOT, binding)} does not load or compute: ${result.error} — ${fix}`);
    return;
  }
  line('tfjs-node', `${result.tfjs} (${choice.packageName}, tfjs backend '${result.backend}')`);
  line('binding', path.relative(ROOT, binding));
  line('TensorFlow (native)', `${result.tensorflow} from ${stamp.source ?? 'unknown source'}`);
  if (result.usingGpu) {
    line('device', result.gpus.length > 0 ? result.gpus.join('; ') : 'GPU (TensorFlow did not log its name)');
  } else if (choice.name === 'gpu') {
    broken('device', `CPU: TensorFlow lists no GPU (${result.noGpuReason}) — see docs/gpu.md, or ${BACKEND_ENV}=cpu / npm run setup -- --cpu for the CPU`);
  } else {
    line('device', 'CPU');
  }
}

tensorflowLines();

/** The native helpers (the signal guard, the banner filter): built, and current? */
function nativeLines() {
  if (process.platform !== 'linux') return;
  for (const spec of Object.values(NATIVE_ADDONS)) {
    const state = addonState(spec);
    const source = path.relative(ROOT, spec.source);
    if (state === 'missing') {
      broken(spec.label, `not built: ${spec.without} — install a C compiler (Debian: apt-get install gcc), then npm run setup`);
    } else if (state === 'stale') {
      broken(spec.label, `${path.relative(ROOT, spec.addon)} is older than ${source} — run: npm run setup`);
    } else {
      line(spec.label, `on (${path.relative(ROOT, spec.addon)}: ${spec.does})`);
    }
  }
}

nativeLines();

if (failures) {
  console.log(`\n${failures} problem(s). Fix with the command shown, or see README.md "Setup".`);
  process.exit(1);
}
console.log('\nall good');
