// Which TensorFlow binding this checkout uses — CPU (@tensorflow/tfjs-node) or GPU (@tensorflow/tfjs-node-gpu) —
// and how to tell what it sees. Plain JavaScript with no dependencies, because scripts/setup.mjs and
// scripts/doctor.mjs use it before node_modules exists; src/tf.ts (the one place that loads TensorFlow) uses it to
// pick the package. Types: backend.d.mts.
//
// The choice, first match wins:
//   1. WD_HARNESS_BACKEND=cpu|gpu in the environment (one process, or a whole job: children inherit it);
//   2. the record .cache/backend.json of this checkout, written by `npm run setup -- --gpu` (after the GPU binding
//      was built and TensorFlow listed a GPU) or `npm run setup -- --cpu`;
//   3. cpu.
// The record sits in the checkout's own .cache/, not in WD_HARNESS_CACHE_DIR (a download cache several clones may
// share), because it describes this checkout's node_modules; it is outside node_modules so that a reinstall of the
// npm packages (npm ci) does not lose it: setup then rebuilds the GPU binding it names.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './paths.mjs';

export const BACKEND_ENV = 'WD_HARNESS_BACKEND';
export const BACKEND_PACKAGES = Object.freeze({ cpu: '@tensorflow/tfjs-node', gpu: '@tensorflow/tfjs-node-gpu' });

export class BackendError extends Error {
  constructor(message) {
    super(message);
    this.name = 'BackendError';
  }
}

export function backendRecordPath(root = REPO_ROOT) {
  return path.join(root, '.cache', 'backend.json');
}

function checkName(name, where) {
  if (name !== 'cpu' && name !== 'gpu') {
    throw new BackendError(`${where}: backend ${JSON.stringify(name)} is neither "cpu" nor "gpu"`);
  }
  return name;
}

/** The record (`{ backend, ... }`), or null where there is none. A damaged record throws, naming the fix. */
export function readBackendRecord(file = backendRecordPath()) {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return null;
    throw error;
  }
  let record;
  try {
    record = JSON.parse(text);
  } catch {
    throw new BackendError(`${file} is not JSON: run \`npm run setup -- --cpu\` (or --gpu) to write it again`);
  }
  if (record === null || typeof record !== 'object') {
    throw new BackendError(`${file} holds no { "backend": ... } object: run \`npm run setup -- --cpu\` (or --gpu) to write it again`);
  }
  checkName(record.backend, file);
  return record;
}

/** Writes the record atomically (temp file + rename), keeping the fields it does not replace. */
export function writeBackendRecord(file, fields) {
  let previous = {};
  try {
    previous = readBackendRecord(file) ?? {};
  } catch {
    previous = {}; // a damaged record is replaced whole
  }
  const record = { ...previous, ...fields, updatedAt: new Date().toISOString() };
  checkName(record.backend, file);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  fs.renameSync(tmp, file);
  return record;
}

/**
 * The backend to load: `{ name: 'cpu'|'gpu', packageName, source, recordFile }`, where `source` says what chose it
 * (`WD_HARNESS_BACKEND=gpu`, `.cache/backend.json` or `default`). Throws BackendError on a bad value.
 */
export function resolveBackend({ env = process.env, root = REPO_ROOT } = {}) {
  const recordFile = backendRecordPath(root);
  const fromEnv = env[BACKEND_ENV];
  if (fromEnv !== undefined && fromEnv !== '') {
    const name = checkName(fromEnv.trim().toLowerCase(), BACKEND_ENV);
    return { name, packageName: BACKEND_PACKAGES[name], source: `${BACKEND_ENV}=${name}`, recordFile };
  }
  const record = readBackendRecord(recordFile);
  if (record) {
    return { name: record.backend, packageName: BACKEND_PACKAGES[record.backend], source: path.relative(root, recordFile), recordFile };
  }
  return { name: 'cpu', packageName: BACKEND_PACKAGES.cpu, source: 'default', recordFile };
}

// ---------------------------------------------------------------------------------------------------------------
// Is there an NVIDIA driver? (checked before anything is installed for --gpu)

const DRIVER_DIRS = [
  '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64',
  '/usr/local/nvidia/lib64', '/usr/local/nvidia/lib', '/usr/lib/wsl/lib', '/run/opengl-driver/lib',
];

/**
 * Looks for the NVIDIA driver's CUDA library (libcuda.so.1; the toolkit's stubs/ copy does not count) in the
 * linker cache, LD_LIBRARY_PATH and the usual driver directories, and asks nvidia-smi for the GPUs if it is there.
 * Returns `{ found: true, library, gpus }` or `{ found: false, reason }`.
 */
export function findCudaDriver({ env = process.env } = {}) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { found: false, reason: `@tensorflow/tfjs-node-gpu supports Linux x86-64 only (this is ${process.platform} ${process.arch})` };
  }
  let library = null;
  for (const ldconfig of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    const result = spawnSync(ldconfig, ['-p'], { encoding: 'utf8' });
    if (result.status !== 0) continue;
    const hit = /^\s*libcuda\.so\.1 \([^)]*\) => (\S+)$/m.exec(result.stdout);
    if (hit && !hit[1].includes('/stubs/')) library = hit[1];
    break;
  }
  if (!library) {
    const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...DRIVER_DIRS];
    library = dirs.filter((d) => !d.split(path.sep).includes('stubs')).map((d) => path.join(d, 'libcuda.so.1')).find((f) => fs.existsSync(f)) ?? null;
  }
  const smi = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { encoding: 'utf8', timeout: 20_000 });
  const gpus = smi.status === 0 ? smi.stdout.trim().split('\n').filter(Boolean) : [];
  if (!library) {
    return {
      found: false,
      reason: `no NVIDIA driver found (no libcuda.so.1 in the linker cache, LD_LIBRARY_PATH or the usual driver folders; ` +
        `${smi.error?.code === 'ENOENT' ? 'no nvidia-smi on PATH' : `nvidia-smi: ${(smi.stderr || smi.stdout || `exit ${smi.status}`).trim().split('\n')[0]}`})`,
    };
  }
  return { found: true, library, gpus };
}

// ---------------------------------------------------------------------------------------------------------------
// What TensorFlow sees: the binding loaded in a child process with TensorFlow's log on

/**
 * Reads TensorFlow's start-up log (TF_CPP_MIN_LOG_LEVEL=0) for the GPUs it created devices for and, where there are
 * none, the first line that says why. Returns `{ gpus: string[], reason: string | null }`.
 */
export function parseTensorFlowDeviceLog(log) {
  const gpus = [];
  const created = /Created device \S*device:(GPU:\d+) with (\d+) MB memory:\s*->\s*device: \d+, name: ([^,\n]+)(?:, pci bus id: [^,\n]+)?(?:, compute capability: ([\d.]+))?/g;
  for (const m of log.matchAll(created)) {
    gpus.push(`${m[1]} ${m[3].trim()} (${m[2]} MB${m[4] ? `, compute capability ${m[4]}` : ''})`);
  }
  if (gpus.length > 0) return { gpus, reason: null };
  const missing = [...log.matchAll(/Could not load dynamic library '([^']+)'/g)].map((m) => m[1]);
  const patterns = [
    /failed call to cuInit: ([^\n]+)/,
    /(Could not find cuda drivers on your machine[^\n]*)/,
    /(Ignoring visible gpu device [^\n]+)/,
    /(Cannot dlopen some GPU libraries[^\n]*)/,
    /(CUDA driver version is insufficient[^\n]*)/,
  ];
  for (const pattern of patterns) {
    const m = pattern.exec(log);
    if (m) {
      const text = pattern === patterns[0] ? `failed call to cuInit: ${m[1].trim()}` : m[1].trim();
      return { gpus, reason: missing.length > 0 ? `${text} (not found: ${[...new Set(missing)].join(', ')})` : text };
    }
  }
  if (missing.length > 0) return { gpus, reason: `could not load ${[...new Set(missing)].join(', ')}` };
  return { gpus, reason: 'TensorFlow logged nothing about GPUs: the library it loaded was probably built without CUDA' };
}

/** The built addon of a tfjs-node package directory (node-pre-gyp's lib/napi-vN), or null. */
export function bindingFile(packageDir) {
  const libDir = path.join(packageDir, 'lib');
  const dirs = fs.existsSync(libDir) ? fs.readdirSync(libDir).filter((d) => /^napi-v\d+$/.test(d)).sort().reverse() : [];
  return dirs.map((d) => path.join(libDir, d, 'tfjs_binding.node')).find((f) => fs.existsSync(f)) ?? null;
}

/**
 * Loads `packageName` in a child process, runs one matrix product and reports
 * `{ ok, tfjs, tensorflow, backend, usingGpu, gpus, noGpuReason, error }`. TensorFlow's log is captured, never shown.
 */
export function probeBinding({ packageName, root = REPO_ROOT, timeoutMs = 180_000 }) {
  const script = `
    const { createRequire } = require('node:module');
    const req = createRequire(${JSON.stringify(path.join(root, 'package.json'))});
    const tf = req(${JSON.stringify(packageName)});
    const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync();
    if (y[0] !== 3) throw new Error('matMul gave ' + y[0]);
    const b = tf.backend();
    process.stdout.write('\\n@@probe ' + JSON.stringify({ tfjs: tf.version['tfjs-node'], tensorflow: String(b.binding.TF_Version),
      backend: tf.getBackend(), usingGpu: Boolean(b.isUsingGpuDevice) }) + '\\n');
  `;
  const env = { ...process.env, TF_CPP_MIN_LOG_LEVEL: '0' };
  const result = spawnSync(process.execPath, ['-e', script], { cwd: root, env, encoding: 'utf8', timeout: timeoutMs });
  const log = `${result.stderr ?? ''}`;
  const line = /^@@probe (.*)$/m.exec(result.stdout ?? '');
  if (result.status !== 0 || !line) {
    const lastError = log.split('\n').map((l) => l.trim()).filter((l) => /Error|error:|cannot open|undefined symbol/.test(l)).pop();
    const why = result.error ? result.error.message : (lastError ?? log.trim().split('\n').pop() ?? `exit ${result.status}`);
    return { ok: false, error: why, log };
  }
  const info = JSON.parse(line[1]);
  const parsed = parseTensorFlowDeviceLog(log);
  return { ok: true, ...info, gpus: parsed.gpus, noGpuReason: info.usingGpu ? null : parsed.reason, log };
}
