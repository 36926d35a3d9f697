#!/usr/bin/env node
// Self-installing setup, run by the npm pre-scripts (pretest, preatari, ...) and by hand as `npm run setup`.
// Plain Node with no dependencies of its own, because it runs before node_modules exists.
//
// Steps (each idempotent; each records a stamp only after it fully succeeded, so nothing half-installed
// ever looks complete, and a second run with everything in place takes well under a second):
//   1. npm dependencies from the lockfile (`npm ci --ignore-scripts`: tfjs-node's own download step cannot abort it);
//   2. a Python virtual environment .venv with envs/requirements.txt (ale-py ships the Atari ROMs) and the
//      test-only test/reference/requirements.txt (gymnasium, for the Dopamine reference of the frames test);
//   3. the native TensorFlow library for tfjs-node (the CPU backend, always installed), then its binding, built and
//      smoke-tested:
//        a. TFJS_LIBTENSORFLOW_DIR=/path (a libtensorflow with lib/ and include/) if the user set it;
//        b. otherwise tfjs-node's normal download of libtensorflow 2.9.1 (first choice where it works);
//        c. otherwise the TensorFlow C library inside the tensorflow-cpu wheel that pip can fetch;
//   4. only for the GPU backend (`--gpu`, or WD_HARNESS_BACKEND=gpu / a recorded choice): an NVIDIA driver must be
//      there (checked first, before anything is installed), then @tensorflow/tfjs-node-gpu of tfjs-node's version
//      (`npm install --no-save`: package.json and the lockfile stay CPU-only), its binding built against a CUDA build
//      of TensorFlow's C library (TFJS_LIBTENSORFLOW_DIR, else the C library of the `tensorflow` wheel pip fetches,
//      WD_HARNESS_TF_GPU_WHEEL), and TensorFlow must list a GPU through it. Only then is the choice recorded in
//      .cache/backend.json, which src/tf.ts reads (src/backend.mjs). See docs/gpu.md.
//   5. the native helpers (Linux), each compiled with the C compiler into .cache/: the signal guard
//      (src/signal_guard.c → signal_guard.node), which src/tf.ts loads before TensorFlow (it keeps signals off
//      TensorFlow's threads; the C file says why), and the banner filter (src/stderr_filter.c → stderr_filter.node),
//      which keeps TensorFlow's load-time oneDNN banner out of the output. Without a compiler setup warns and goes
//      on: runs work, but a stop signal can then crash one, and the banner shows.
//
// Options: see USAGE below.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BACKEND_ENV, BACKEND_PACKAGES, backendRecordPath, bindingFile, findCudaDriver, probeBinding, readBackendRecord,
  resolveBackend, writeBackendRecord,
} from '../src/backend.mjs';
import { REPO_ROOT, SIGNAL_GUARD_ADDON, SIGNAL_GUARD_SOURCE, STDERR_FILTER_ADDON, STDERR_FILTER_SOURCE, VENV_PYTHON } from '../src/paths.mjs';

const ROOT = REPO_ROOT;
const CACHE_DIR = process.env.WD_HARNESS_CACHE_DIR ?? path.join(ROOT, '.cache');
const VENV_DIR = path.join(ROOT, '.venv');
const REQUIREMENTS = path.join(ROOT, 'envs', 'requirements.txt');
const TEST_REQUIREMENTS = path.join(ROOT, 'test', 'reference', 'requirements.txt');
const TFJS_DIR = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
const TFJS_GPU_DIR = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node-gpu');
// The wheel whose C library stands in for libtensorflow 2.9.1 when Google's storage is unreachable.
const TF_WHEEL_SPEC = 'tensorflow-cpu==2.21.0';
// The GPU backend's default library: the C library of the Linux `tensorflow` wheel of the same version, built with
// CUDA 12 and cuDNN 9 (its `and-cuda` extra asks for nvidia-*-cu12 >= 12.5 and nvidia-cudnn-cu12 >= 9.3).
const TF_GPU_WHEEL_SPEC = process.env.WD_HARNESS_TF_GPU_WHEEL || 'tensorflow==2.21.0';
// npm's sha512 of the tfjs-node-gpu tarballs this setup was written for (npm checks the registry's own too).
const TFJS_NODE_GPU_INTEGRITY = {
  '4.22.0': 'sha512-p//NN6DGiN4hInUmIkRffaFVMcdTREUMjPyjW04J7OXvB2zBlQimj61eFKSgRrH3f5TnOfKzb0n56he/B6a4bw==',
};
const REQUIRED_NODE_MAJOR = 20;
const RECORD_FILE = backendRecordPath(ROOT);

// At most 80 columns (test/setup.test.ts): read in a terminal of that width, the help must not wrap.
const USAGE = `usage: npm run setup [-- OPTIONS]   (or: node scripts/setup.mjs [OPTIONS])

Installs what the harness needs and checks it: the npm packages, the Python
venv with ale-py, and TensorFlow's native binding (the CPU one always; the GPU
one with --gpu). Each step is skipped when it is already in place.

  --gpu          also install @tensorflow/tfjs-node-gpu, build it against a
                 CUDA build of TensorFlow's C library (TFJS_LIBTENSORFLOW_DIR,
                 else the \`${TF_GPU_WHEEL_SPEC}\` wheel via pip), check that
                 TensorFlow lists a GPU, and select it for every entry point
                 (recorded in .cache/backend.json). Without an NVIDIA driver it
                 fails at once, and the CPU backend stays installed and
                 selected.
  --cpu          select the CPU binding (@tensorflow/tfjs-node) again; an
                 installed GPU binding stays installed
  --force        redo every step
  --quiet        print only what is being done, not what is in place
  -V, --version  print the harness version and exit
  -h, --help     print this and exit

Environment:
  ${BACKEND_ENV}=cpu|gpu  the backend of one process
      (over .cache/backend.json)
  TFJS_LIBTENSORFLOW_DIR=/path  a TensorFlow C library to build against
      (lib/ + include/, or an installed \`tensorflow\` package directory)
  WD_HARNESS_TF_GPU_WHEEL  the pip spec of the GPU wheel
      (default ${TF_GPU_WHEEL_SPEC})
  WD_HARNESS_GPU_SKIP_DRIVER_CHECK=1  skip the driver check (the GPU check at
      the end still runs)
  WD_HARNESS_CACHE_DIR  the download cache (default .cache/)
  PYTHON  the interpreter for .venv
More: docs/gpu.md.`;

function harnessVersion() {
  return JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
}

const KNOWN = new Set(['--gpu', '--cpu', '--force', '--quiet', '--help', '-h', '--version', '-V']);
const argv = process.argv.slice(2);
const args = new Set(argv);
const FORCE = args.has('--force');
const QUIET = args.has('--quiet') || process.env.WD_HARNESS_SETUP_QUIET === '1';
/** The backend named on the command line ('cpu', 'gpu' or null): the only way the record is changed. */
const FLAG_BACKEND = args.has('--gpu') ? 'gpu' : args.has('--cpu') ? 'cpu' : null;

class SetupError extends Error {
  constructor(step, what, todo) {
    super(`setup failed at "${step}": ${what}\n  what to do: ${todo}`);
  }
}

/** A GPU step that cannot be done: one line (the tool's output it comes from, if any, goes before it). */
class GpuSetupError extends Error {
  constructor(message, detail = '') {
    super(message);
    this.detail = detail;
  }
}

function info(message) {
  if (!QUIET) console.error(`[setup] ${message}`);
}
function doing(message) {
  console.error(`[setup] ${message}`);
}

function sha256(...parts) {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 16);
}

function fileHash(file) {
  return sha256(fs.readFileSync(file));
}

function readStamp(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function writeStamp(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(value, null, 2));
  fs.renameSync(tmp, file);
}

/** Runs a command, streaming its output to stderr; returns its exit status and the tail of its output. */
function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? process.env,
    encoding: 'utf8',
    stdio: options.capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    timeout: options.timeoutMs,
  });
  if (result.error && result.error.code === 'ENOENT') {
    return { status: 127, output: `${command}: not found` };
  }
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  return { status: result.status ?? 1, signal: result.signal, output, tail: output.split('\n').slice(-25).join('\n') };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. npm dependencies

function npmStep() {
  const lockfile = path.join(ROOT, 'package-lock.json');
  const stampFile = path.join(ROOT, 'node_modules', '.wd-harness-npm.json');
  const want = { lockfile: fileHash(lockfile) };
  const have = readStamp(stampFile);
  if (!FORCE && have && have.lockfile === want.lockfile) {
    info('npm dependencies: in place');
    return false;
  }
  doing('installing npm dependencies from package-lock.json (npm ci --ignore-scripts) ...');
  // --ignore-scripts: tfjs-node's install script downloads from Google's storage and aborts the whole install where
  // that is unreachable; step 3 builds it instead. esbuild (tsx, vite) ships its binary as an optional package.
  const result = run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund']);
  if (result.status !== 0) {
    throw new SetupError('npm ci', `npm exited with ${result.status}`,
      'check that the npm registry is reachable (npm ping) and that package-lock.json is intact, then rerun `npm run setup`.');
  }
  writeStamp(stampFile, want);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Python virtual environment with ale-py

function pythonCandidates() {
  if (process.env.PYTHON) return [process.env.PYTHON];
  return ['python3.11', 'python3', 'python'];
}

function findPython() {
  for (const candidate of pythonCandidates()) {
    const result = run(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { capture: true });
    if (result.status === 0) return { command: candidate, version: result.output.trim() };
  }
  throw new SetupError('python', `no Python interpreter found (tried ${pythonCandidates().join(', ')})`,
    'install Python 3.11 (ale-py 0.12.1 wheels exist for 3.9-3.13), or point PYTHON=/path/to/python3 at one.');
}

function venvStep() {
  const stampFile = path.join(VENV_DIR, '.wd-harness-venv.json');
  const want = { requirements: fileHash(REQUIREMENTS), testRequirements: fileHash(TEST_REQUIREMENTS) };
  const have = readStamp(stampFile);
  if (!FORCE && have && have.requirements === want.requirements && have.testRequirements === want.testRequirements && fs.existsSync(VENV_PYTHON)) {
    info(`python venv: in place (${path.relative(ROOT, VENV_DIR)})`);
    return false;
  }
  const python = findPython();
  doing(`creating the Python virtual environment .venv with ${python.command} (Python ${python.version}) ...`);
  // A venv without a stamp is half-made (interrupted or failed): start it again from nothing.
  fs.rmSync(VENV_DIR, { recursive: true, force: true });
  const created = run(python.command, ['-m', 'venv', VENV_DIR]);
  if (created.status !== 0) {
    throw new SetupError('python venv', `${python.command} -m venv failed`,
      'install the venv module (Debian: apt-get install python3-venv), or point PYTHON= at a full Python install.');
  }
  doing('installing envs/requirements.txt and test/reference/requirements.txt into .venv (pip) ...');
  const pip = run(VENV_PYTHON, ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', REQUIREMENTS, '-r', TEST_REQUIREMENTS]);
  if (pip.status !== 0) {
    fs.rmSync(VENV_DIR, { recursive: true, force: true });
    throw new SetupError('pip install', `pip exited with ${pip.status} installing envs/requirements.txt and test/reference/requirements.txt`,
      'check that pip can reach a package index with ale-py 0.12.1 for your Python version (pip index versions ale-py), then rerun `npm run setup`.');
  }
  const check = run(VENV_PYTHON, ['-c', 'import ale_py, numpy, cv2, gymnasium; print(ale_py.__version__)'], { capture: true });
  if (check.status !== 0) {
    fs.rmSync(VENV_DIR, { recursive: true, force: true });
    throw new SetupError('python check', `the installed packages do not import:\n${check.tail}`,
      'rerun `npm run setup -- --force`; if it persists, report the message above.');
  }
  writeStamp(stampFile, want);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// 3. Native TensorFlow for tfjs-node (and 4. for tfjs-node-gpu): one routine for both packages

/** The two binding packages: where they live and what their stamp is. */
const PACKAGES = {
  cpu: { name: BACKEND_PACKAGES.cpu, dir: TFJS_DIR, label: 'TensorFlow for tfjs-node' },
  gpu: { name: BACKEND_PACKAGES.gpu, dir: TFJS_GPU_DIR, label: 'TensorFlow for tfjs-node-gpu (GPU)' },
};
const stampOf = (pkg) => path.join(pkg.dir, 'deps', '.wd-harness-tf.json');

function nodeHeadersDir() {
  // node-gyp needs Node's headers; outside npm it would try to download them. Prefer npm's own setting, then the
  // headers beside this node binary (Debian's nodejs and the official tarballs ship them there).
  const candidates = [process.env.npm_config_nodedir, path.resolve(path.dirname(process.execPath), '..')];
  for (const dir of candidates) {
    if (dir && fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h'))) return dir;
  }
  return undefined;
}

function buildEnv() {
  const env = { ...process.env };
  env.PATH = `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${env.PATH ?? ''}`;
  const headers = nodeHeadersDir();
  if (headers) env.npm_config_nodedir = headers;
  return env;
}

/** The built addon: node-pre-gyp puts it in lib/napi-vN for the highest N-API version both tfjs-node and Node support. */
function binaryPath(pkg) {
  return bindingFile(pkg.dir) ?? path.join(pkg.dir, 'lib', 'napi-v8', 'tfjs_binding.node');
}

/** Builds the binding against whatever libtensorflow is staged in deps/ (never downloads). */
function buildBindingFromSource(pkg) {
  doing(`building the ${pkg.name} binding (node-gyp) ...`);
  const result = run(path.join(ROOT, 'node_modules', '.bin', 'node-pre-gyp'), ['install', '--build-from-source'],
    { cwd: pkg.dir, env: buildEnv(), capture: true });
  if (result.status !== 0 || !fs.existsSync(binaryPath(pkg))) {
    throw new SetupError(`${pkg.name} build`, `node-gyp failed:\n${result.tail}`,
      nodeHeadersDir()
        ? 'install a C++ compiler and make (Debian: apt-get install g++ make python3), then rerun `npm run setup -- --force`.'
        : 'Node\'s headers were not found beside the node binary: set npm_config_nodedir to a directory with include/node/node_api.h, then rerun.');
  }
}

/** b. tfjs-node's own install: downloads libtensorflow 2.9.1 and a prebuilt addon (CPU package only). */
function tryOfficialDownload(pkg) {
  if (process.env.TFJS_SKIP_DOWNLOAD === '1') return false;
  doing('trying tfjs-node\'s own download of libtensorflow 2.9.1 ...');
  fs.rmSync(path.join(pkg.dir, 'deps'), { recursive: true, force: true });
  const result = run(process.execPath, ['scripts/install.js'], { cwd: pkg.dir, env: buildEnv(), capture: true, timeoutMs: 10 * 60_000 });
  const ok = result.status === 0 && fs.existsSync(binaryPath(pkg)) && probeBinding({ packageName: pkg.name, root: ROOT }).ok;
  if (!ok) {
    const reason = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.exec(result.output)?.[0] ?? `exit ${result.status}`;
    doing(`tfjs-node's download did not work here (${reason}); using a local TensorFlow C library instead.`);
    fs.rmSync(path.join(pkg.dir, 'deps'), { recursive: true, force: true });
    fs.rmSync(binaryPath(pkg), { force: true });
  }
  return ok;
}

/** Copies a TensorFlow C library (libtensorflow_cc.so.2 or libtensorflow.so.2, plus framework) into the package's deps/. */
function stageLibrary(pkg, { libFiles, frameworkFile, includeRoot, includeDirs }) {
  const deps = path.join(pkg.dir, 'deps');
  fs.rmSync(deps, { recursive: true, force: true });
  const lib = path.join(deps, 'lib');
  fs.mkdirSync(lib, { recursive: true });
  const mainLib = path.basename(libFiles);
  fs.copyFileSync(libFiles, path.join(lib, mainLib));
  fs.copyFileSync(frameworkFile, path.join(lib, 'libtensorflow_framework.so.2'));
  // binding.gyp links -ltensorflow -ltensorflow_framework, and install.js looks for libtensorflow.so.2.9.1.
  const links = {
    'libtensorflow.so': mainLib, 'libtensorflow.so.2': mainLib, 'libtensorflow.so.2.9.1': mainLib,
    'libtensorflow_framework.so': 'libtensorflow_framework.so.2', 'libtensorflow_framework.so.2.9.1': 'libtensorflow_framework.so.2',
  };
  for (const [name, target] of Object.entries(links)) {
    if (name !== target) fs.symlinkSync(target, path.join(lib, name));
  }
  for (const dir of includeDirs) {
    const from = path.join(includeRoot, dir);
    if (!fs.existsSync(from)) continue;
    fs.cpSync(from, path.join(deps, 'include', dir), { recursive: true });
  }
  if (!fs.existsSync(path.join(deps, 'include', 'tensorflow', 'c', 'c_api.h'))) {
    throw new SetupError('tensorflow headers', `no tensorflow/c/c_api.h under ${includeRoot}`,
      'point TFJS_LIBTENSORFLOW_DIR at a libtensorflow release (with include/tensorflow/c/c_api.h and lib/).');
  }
}

// What of a wheel's (or an installed `tensorflow` package's) include/ the binding needs: 13k other headers stay out.
const WHEEL_INCLUDE_DIRS = ['tensorflow/c', 'tensorflow/core/platform', 'tsl', 'xla/tsl'];

/**
 * a. A user-provided TensorFlow C library: a libtensorflow release (lib/libtensorflow.so.2 + include/), or the
 * directory of an installed or unpacked `tensorflow` wheel (libtensorflow_cc.so.2 + libtensorflow_framework.so.2
 * + include/ side by side, e.g. `python -c "import tensorflow, os; print(os.path.dirname(tensorflow.__file__))"`).
 */
function stageUserLibrary(pkg, dir) {
  const find = (names, libDir) => names.map((n) => path.join(libDir, n)).find((f) => fs.existsSync(f));
  for (const [libDir, includeDirs] of [[path.join(dir, 'lib'), ['tensorflow', 'tsl', 'xla']], [dir, WHEEL_INCLUDE_DIRS]]) {
    const main = find(['libtensorflow.so.2', 'libtensorflow_cc.so.2', 'libtensorflow.so'], libDir);
    const framework = find(['libtensorflow_framework.so.2', 'libtensorflow_framework.so'], libDir);
    if (main && framework) {
      stageLibrary(pkg, { libFiles: fs.realpathSync(main), frameworkFile: fs.realpathSync(framework), includeRoot: path.join(dir, 'include'), includeDirs });
      return;
    }
  }
  throw new SetupError('TFJS_LIBTENSORFLOW_DIR', `neither ${path.join(dir, 'lib')} nor ${dir} holds libtensorflow.so.2 (or libtensorflow_cc.so.2) and libtensorflow_framework.so.2`,
    'point TFJS_LIBTENSORFLOW_DIR at an unpacked libtensorflow release (its lib/ and include/ folders) or at an installed tensorflow package directory, or unset it.');
}

/** `name==version` → the wheel's file-name stem (`tensorflow_cpu-2.21.0`) and the folder it is extracted to. */
function wheelNames(spec) {
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+-]*)$/.exec(spec.trim());
  if (!m) {
    throw new SetupError('tensorflow wheel', `"${spec}" is not a pip spec of the form name==version`, 'set WD_HARNESS_TF_GPU_WHEEL like tensorflow==2.21.0.');
  }
  const stem = `${m[1].toLowerCase().replace(/[-.]+/g, '_')}-${m[2]}`;
  // The CPU wheel's folder keeps its old name, so caches made before the GPU backend existed are reused.
  return { stem, extractDir: path.join(CACHE_DIR, spec === TF_WHEEL_SPEC ? 'libtensorflow-2.21.0' : `libtensorflow-${stem}`) };
}

/** c. The TensorFlow C library inside a TensorFlow wheel (pip fetches it; cached in .cache/wheels). */
function stageWheelLibrary(pkg, spec) {
  const wheelDir = path.join(CACHE_DIR, 'wheels');
  fs.mkdirSync(wheelDir, { recursive: true });
  const { stem, extractDir } = wheelNames(spec);
  const findWheel = () => fs.readdirSync(wheelDir).find((f) => f.toLowerCase().startsWith(`${stem}-`) && f.endsWith('.whl'));
  if (!findWheel()) {
    doing(`fetching the ${spec} wheel with pip into ${path.relative(ROOT, wheelDir) || wheelDir} (once; cached) ...`);
    const pip = run(VENV_PYTHON, ['-m', 'pip', 'download', '--disable-pip-version-check', '--no-deps', '-d', wheelDir, spec]);
    if (pip.status !== 0 || !findWheel()) {
      throw new SetupError('tensorflow wheel', `pip could not download ${spec}`, spec === TF_WHEEL_SPEC
        ? 'either make Google\'s storage reachable (tfjs-node downloads libtensorflow itself), or let pip reach an index with tensorflow-cpu 2.21.0, or set TFJS_LIBTENSORFLOW_DIR to a local libtensorflow.'
        : `let pip reach an index with ${spec} (PyPI has it for Linux x86-64), or set TFJS_LIBTENSORFLOW_DIR to a CUDA build of libtensorflow (docs/gpu.md).`);
    }
  }
  const wheel = path.join(wheelDir, findWheel());
  const doneMarker = path.join(extractDir, '.complete');
  if (!fs.existsSync(doneMarker)) {
    doing(`extracting the TensorFlow C library from ${path.basename(wheel)} ...`);
    fs.rmSync(extractDir, { recursive: true, force: true });
    // Python's zipfile, because the machine may have no unzip; members are filtered so 13k unrelated headers stay out.
    const extract = `
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefixes = ('tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2',
            'tensorflow/include/tensorflow/c/', 'tensorflow/include/tensorflow/core/platform/',
            'tensorflow/include/tsl/', 'tensorflow/include/xla/tsl/')
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefixes) and not name.endswith('/'):
            z.extract(name, out)
`;
    const result = run(VENV_PYTHON, ['-c', extract, wheel, extractDir], { capture: true });
    if (result.status !== 0) {
      fs.rmSync(wheel, { force: true });
      throw new SetupError('tensorflow wheel', `could not extract ${path.basename(wheel)} (deleted it; it will be fetched again):\n${result.tail}`,
        'rerun `npm run setup`.');
    }
    fs.writeFileSync(doneMarker, '');
  }
  const tfDir = path.join(extractDir, 'tensorflow');
  stageLibrary(pkg, {
    libFiles: path.join(tfDir, 'libtensorflow_cc.so.2'),
    frameworkFile: path.join(tfDir, 'libtensorflow_framework.so.2'),
    includeRoot: path.join(tfDir, 'include'),
    includeDirs: WHEEL_INCLUDE_DIRS,
  });
}

function packageVersion(dir) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
  } catch {
    return null;
  }
}

/** 3. The CPU binding: always installed, the fallback of the GPU one. `userDir`: TFJS_LIBTENSORFLOW_DIR or null. */
function tensorflowStep(userDir) {
  const pkg = PACKAGES.cpu;
  const want = { tfjsNode: packageVersion(pkg.dir), userDir: userDir ?? null, node: process.versions.napi };
  const have = readStamp(stampOf(pkg));
  if (!FORCE && have && have.tfjsNode === want.tfjsNode && have.userDir === want.userDir && have.node === want.node && fs.existsSync(binaryPath(pkg))) {
    info(`${pkg.label}: in place (${have.source})`);
    return false;
  }
  fs.rmSync(binaryPath(pkg), { force: true });
  let source;
  if (userDir) {
    doing(`using the libtensorflow in TFJS_LIBTENSORFLOW_DIR=${userDir}`);
    stageUserLibrary(pkg, userDir);
    buildBindingFromSource(pkg);
    source = `TFJS_LIBTENSORFLOW_DIR=${userDir}`;
  } else if (tryOfficialDownload(pkg)) {
    source = 'tfjs-node download (libtensorflow 2.9.1)';
  } else {
    stageWheelLibrary(pkg, TF_WHEEL_SPEC);
    buildBindingFromSource(pkg);
    source = `${TF_WHEEL_SPEC} wheel (TensorFlow C library)`;
  }
  const smoke = probeBinding({ packageName: pkg.name, root: ROOT });
  if (!smoke.ok) {
    fs.rmSync(binaryPath(pkg), { force: true });
    throw new SetupError('tfjs-node check', `the built binding does not load or compute:\n${smoke.error}`,
      'rerun `npm run setup -- --force`; if it persists, set TFJS_LIBTENSORFLOW_DIR to another libtensorflow and report the message above.');
  }
  writeStamp(stampOf(pkg), { ...want, source });
  doing(`${pkg.label}: ready (${source})`);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// 4. The GPU binding

/** The NVIDIA driver, checked before anything is fetched or built. Throws GpuSetupError. */
function checkGpuDriver() {
  if (process.env.WD_HARNESS_GPU_SKIP_DRIVER_CHECK === '1') {
    doing('WD_HARNESS_GPU_SKIP_DRIVER_CHECK=1: not looking for an NVIDIA driver (TensorFlow must still list a GPU at the end)');
    return;
  }
  const driver = findCudaDriver();
  if (!driver.found) throw new GpuSetupError(driver.reason);
  info(`NVIDIA driver: ${driver.library}${driver.gpus.length ? `; nvidia-smi: ${driver.gpus.join('; ')}` : ''}`);
}

/**
 * Which C library the GPU binding is built against: TFJS_LIBTENSORFLOW_DIR, else WD_HARNESS_TF_GPU_WHEEL, else the
 * one the record names (so that a reinstall of node_modules rebuilds the same), else the one the binding in place was
 * built against, else the default wheel.
 */
function gpuLibraryChoice(record, stamp) {
  if (process.env.TFJS_LIBTENSORFLOW_DIR) return { dir: path.resolve(process.env.TFJS_LIBTENSORFLOW_DIR) };
  if (process.env.WD_HARNESS_TF_GPU_WHEEL) return { wheel: process.env.WD_HARNESS_TF_GPU_WHEEL };
  for (const known of [record?.gpuLibrary, stamp?.library]) {
    if (known && (typeof known.dir === 'string' || typeof known.wheel === 'string')) return known;
  }
  return { wheel: TF_GPU_WHEEL_SPEC };
}
const describeLibrary = (library) => (library.dir ? `TFJS_LIBTENSORFLOW_DIR=${library.dir}` : `${library.wheel} wheel (TensorFlow C library)`);

/** @tensorflow/tfjs-node-gpu at tfjs-node's version, next to it, without touching package.json or the lockfile. */
function installGpuPackage(version) {
  if (packageVersion(TFJS_GPU_DIR) === version && !FORCE) return;
  doing(`installing ${BACKEND_PACKAGES.gpu}@${version} (npm install --no-save --ignore-scripts) ...`);
  const result = run('npm', ['install', '--no-save', '--ignore-scripts', '--no-audit', '--no-fund', `${BACKEND_PACKAGES.gpu}@${version}`], { capture: true });
  if (result.status !== 0 || packageVersion(TFJS_GPU_DIR) !== version) {
    throw new GpuSetupError(`npm could not install ${BACKEND_PACKAGES.gpu}@${version} (exit ${result.status}; is the npm registry reachable? npm ping)`, result.tail);
  }
  const expected = TFJS_NODE_GPU_INTEGRITY[version];
  const hidden = readStamp(path.join(ROOT, 'node_modules', '.package-lock.json'));
  const got = hidden?.packages?.['node_modules/@tensorflow/tfjs-node-gpu']?.integrity;
  if (expected && got && got !== expected) {
    fs.rmSync(TFJS_GPU_DIR, { recursive: true, force: true });
    throw new GpuSetupError(`${BACKEND_PACKAGES.gpu}@${version} arrived with integrity ${got}, not the ${expected} this setup expects (removed it)`);
  }
}

/**
 * 4. The GPU binding: returns the probe of a binding through which TensorFlow lists a GPU, or null when it was in place
 * and not to be checked again (`verify` false: the pre-scripts). Throws GpuSetupError.
 */
function gpuStep(record, verify) {
  const pkg = PACKAGES.gpu;
  const version = packageVersion(TFJS_DIR);
  const have = readStamp(stampOf(pkg));
  const library = gpuLibraryChoice(record, have);
  const want = { tfjsNode: version, library, node: process.versions.napi };
  const inPlace = !FORCE && have && have.tfjsNode === want.tfjsNode && JSON.stringify(have.library) === JSON.stringify(want.library) &&
    have.node === want.node && packageVersion(pkg.dir) === version && fs.existsSync(binaryPath(pkg));
  if (inPlace && !verify) {
    info(`${pkg.label}: in place (${have.source})`);
    return null;
  }
  if (!inPlace) {
    if (FLAG_BACKEND !== 'gpu') checkGpuDriver(); // with --gpu it was checked before anything else
    installGpuPackage(version);
    fs.rmSync(stampOf(pkg), { force: true });
    fs.rmSync(binaryPath(pkg), { force: true });
    try {
      if (library.dir) {
        doing(`using the TensorFlow C library in TFJS_LIBTENSORFLOW_DIR=${library.dir} for the GPU binding`);
        stageUserLibrary(pkg, library.dir);
      } else {
        stageWheelLibrary(pkg, library.wheel);
      }
      buildBindingFromSource(pkg);
    } catch (error) {
      if (!(error instanceof SetupError)) throw error;
      const [what, todo] = error.message.split('\n  what to do: ');
      const [first, ...rest] = what.split('\n');
      throw new GpuSetupError(`${first.replace(/^setup failed at /, '').replace(/:$/, '')}; ${todo ?? 'see the output above'}`, rest.join('\n'));
    }
    writeStamp(stampOf(pkg), { ...want, source: describeLibrary(library) });
  }
  doing(`checking that TensorFlow lists a GPU through ${pkg.name} ...`);
  const probe = probeBinding({ packageName: pkg.name, root: ROOT });
  if (!probe.ok) {
    throw new GpuSetupError(`the ${pkg.name} binding (${describeLibrary(library)}) does not load: ${probe.error}`, probe.log.trim().split('\n').slice(-15).join('\n'));
  }
  if (!probe.usingGpu) {
    throw new GpuSetupError(`the ${pkg.name} binding loads (TensorFlow ${probe.tensorflow}, ${describeLibrary(library)}) but TensorFlow lists no GPU: ${probe.noGpuReason}`);
  }
  doing(`${pkg.label}: ready (${describeLibrary(library)}); GPU: ${probe.gpus.join('; ') || 'a GPU device (TensorFlow did not log its name)'}`);
  return { probe, library };
}

// ---------------------------------------------------------------------------------------------------------------
// 5. the native helpers

/** The C addons setup builds: where each comes from and goes, what it does, and what a user loses without it. */
export const NATIVE_ADDONS = {
  signalGuard: {
    label: 'signal guard', source: SIGNAL_GUARD_SOURCE, addon: SIGNAL_GUARD_ADDON,
    does: "stop signals never reach TensorFlow's threads",
    without: 'a stop signal that arrives during a matrix product can crash one (src/signal_guard.c says why)',
  },
  stderrFilter: {
    label: 'banner filter', source: STDERR_FILTER_SOURCE, addon: STDERR_FILTER_ADDON,
    does: "TensorFlow's oneDNN start-up banner is kept out of the output",
    without: "TensorFlow's oneDNN start-up banner shows at every start (src/stderr_filter.c says why)",
  },
};

/**
 * Compiles `source` (a plain N-API addon: Node's headers, no library beyond pthread) into `addon`, written whole or
 * not at all. Returns { ok: true } or { ok: false, reason } (the compiler's last line of output).
 */
export function buildAddon(source, { addon, compiler = process.env.CC || 'cc', headers = nodeHeadersDir() }) {
  if (!headers) return { ok: false, reason: 'Node\'s headers (include/node/node_api.h) are not beside the node binary nor in npm_config_nodedir' };
  fs.mkdirSync(path.dirname(addon), { recursive: true });
  const tmp = `${addon}.tmp-${process.pid}`;
  const result = run(compiler, ['-O2', '-shared', '-fPIC', '-I', path.join(headers, 'include', 'node'), '-o', tmp, source, '-lpthread'], { capture: true });
  if (result.status !== 0 || !fs.existsSync(tmp)) {
    fs.rmSync(tmp, { force: true });
    return { ok: false, reason: `${compiler}: ${(result.tail ?? result.output).trim().split('\n').pop()}` };
  }
  fs.renameSync(tmp, addon);
  return { ok: true };
}

/** An addon in this checkout: 'current' (built from today's source), 'stale' (the source changed), 'missing'. */
export function addonState({ source, addon }) {
  if (!fs.existsSync(addon)) return 'missing';
  return readStamp(`${addon}.json`)?.source === fileHash(source) ? 'current' : 'stale';
}

/** Builds each addon that is missing or whose source changed; without a compiler, warns and goes on. */
function nativeStep() {
  if (process.platform !== 'linux') return false;
  let changed = false;
  for (const spec of Object.values(NATIVE_ADDONS)) {
    if (!FORCE && addonState(spec) === 'current') {
      info(`${spec.label}: in place`);
      continue;
    }
    doing(`building the ${spec.label} (${path.relative(ROOT, spec.source)}) ...`);
    const built = buildAddon(spec.source, { addon: spec.addon });
    if (!built.ok) {
      doing(`warning: the ${spec.label} was not built (${built.reason}). Runs work without it, but ${spec.without}. ` +
        'Install a C compiler (Debian: apt-get install gcc) and rerun `npm run setup`.');
      continue;
    }
    writeStamp(`${spec.addon}.json`, { source: fileHash(spec.source) });
    changed = true;
  }
  return changed;
}

function checkNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < REQUIRED_NODE_MAJOR) {
    throw new SetupError('node', `Node.js ${process.versions.node} is too old`, `install Node.js ${REQUIRED_NODE_MAJOR} or newer.`);
  }
  if (os.platform() !== 'linux' && !process.env.TFJS_LIBTENSORFLOW_DIR) {
    info(`note: this setup is tested on Linux x86-64; on ${os.platform()} tfjs-node's own download is used.`);
  }
}

/** Options first: --help and --version print and exit before anything is looked at; a bad option is refused. */
function parseOptions() {
  if (args.has('--help') || args.has('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  if (args.has('--version') || args.has('-V')) {
    console.log(`wd-dqn-harness ${harnessVersion()}`);
    process.exit(0);
  }
  const unknown = argv.filter((a) => !KNOWN.has(a));
  const problem = unknown.length > 0 ? `unknown option ${unknown[0]}` : args.has('--gpu') && args.has('--cpu') ? '--gpu and --cpu exclude each other' : null;
  if (problem) {
    console.error(`[setup] ${problem} (npm run setup -- --help lists the options)`);
    process.exit(2);
  }
}

export function main() {
  parseOptions();
  const started = Date.now();
  let target = 'cpu';
  let targetSource = 'default';
  try {
    checkNode();
    // The backend to install: the flag, else what src/tf.ts would load (WD_HARNESS_BACKEND, the record, cpu).
    const chosen = resolveBackend({ root: ROOT });
    target = FLAG_BACKEND ?? chosen.name;
    targetSource = FLAG_BACKEND ? `--${FLAG_BACKEND}` : chosen.source;
    const record = readBackendRecord(RECORD_FILE);
    // --gpu fails before anything is installed where there is no driver.
    if (FLAG_BACKEND === 'gpu') checkGpuDriver();
    const cpuUserDir = target === 'gpu' ? (readStamp(stampOf(PACKAGES.cpu))?.userDir ?? null) : process.env.TFJS_LIBTENSORFLOW_DIR;
    const changed = [npmStep(), venvStep(), tensorflowStep(cpuUserDir), nativeStep()].some(Boolean);
    if (target === 'gpu') {
      const result = gpuStep(record, FLAG_BACKEND === 'gpu');
      if (FLAG_BACKEND === 'gpu') {
        writeBackendRecord(RECORD_FILE, { backend: 'gpu', gpuLibrary: result.library, gpus: result.probe.gpus, tensorflow: result.probe.tensorflow, gpuSetupFailed: undefined });
        doing(`selected the GPU backend for every entry point (${path.relative(ROOT, RECORD_FILE)})`);
      }
    } else if (FLAG_BACKEND === 'cpu') {
      writeBackendRecord(RECORD_FILE, { backend: 'cpu', gpuSetupFailed: undefined });
      doing(`selected the CPU backend (${path.relative(ROOT, RECORD_FILE)})`);
    }
    if (FLAG_BACKEND && process.env[BACKEND_ENV] && resolveBackend({ root: ROOT }).name !== FLAG_BACKEND) {
      doing(`note: ${BACKEND_ENV}=${process.env[BACKEND_ENV]} is set here and overrides the recorded choice in every process that sees it`);
    }
    if (changed) doing(`done in ${((Date.now() - started) / 1000).toFixed(1)} s. Check it with: npm run doctor`);
  } catch (error) {
    if (error instanceof GpuSetupError) {
      if (error.detail) console.error(error.detail.replace(/^/gm, '  '));
      if (FLAG_BACKEND === 'gpu') {
        writeBackendRecord(RECORD_FILE, { backend: 'cpu', gpuSetupFailed: error.message });
        console.error(`[setup] --gpu failed: ${error.message}; the CPU backend (${BACKEND_PACKAGES.cpu}) stays installed and selected (docs/gpu.md)`);
      } else {
        console.error(`[setup] the gpu backend (${targetSource}) cannot be set up: ${error.message}; for the CPU: ${BACKEND_ENV}=cpu or \`npm run setup -- --cpu\` (docs/gpu.md)`);
      }
    } else {
      console.error(`\n[setup] ${error instanceof SetupError || error?.name === 'BackendError' ? error.message : error.stack}`);
    }
    process.exit(1);
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) main();
