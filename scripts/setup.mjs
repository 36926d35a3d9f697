#!/usr/bin/env node
// Self-installing setup, run by the npm pre-scripts (pretest, preatari, ...) and by hand as `npm run setup`.
// Plain Node with no dependencies of its own, because it runs before node_modules exists.
//
// Steps (each idempotent; each records a stamp only after it fully succeeded, so nothing half-installed
// ever looks complete, and a second run with everything in place takes well under a second):
//   1. npm dependencies from the lockfile (`npm ci --ignore-scripts`: tfjs-node's own download step cannot abort it);
//   2. a Python virtual environment .venv with envs/requirements.txt (ale-py ships the Atari ROMs) and the
//      test-only test/reference/requirements.txt (gymnasium, for the Dopamine reference of the frames test);
//   3. the native TensorFlow library for tfjs-node, then its binding, built and smoke-tested:
//        a. TFJS_LIBTENSORFLOW_DIR=/path (a libtensorflow with lib/ and include/) if the user set it;
//        b. otherwise tfjs-node's normal download of libtensorflow 2.9.1 (first choice where it works);
//        c. otherwise the TensorFlow C library inside the tensorflow-cpu wheel that pip can fetch.
//
// Options: --force (redo every step), --quiet (only print what is being done, not what is in place).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE_DIR = process.env.WD_HARNESS_CACHE_DIR ?? path.join(ROOT, '.cache');
const VENV_DIR = path.join(ROOT, '.venv');
const REQUIREMENTS = path.join(ROOT, 'envs', 'requirements.txt');
const TEST_REQUIREMENTS = path.join(ROOT, 'test', 'reference', 'requirements.txt');
const TFJS_DIR = path.join(ROOT, 'node_modules', '@tensorflow', 'tfjs-node');
// The wheel whose C library stands in for libtensorflow 2.9.1 when Google's storage is unreachable.
const TF_WHEEL_SPEC = 'tensorflow-cpu==2.21.0';
const REQUIRED_NODE_MAJOR = 20;

const args = new Set(process.argv.slice(2));
const FORCE = args.has('--force');
const QUIET = args.has('--quiet') || process.env.WD_HARNESS_SETUP_QUIET === '1';

class SetupError extends Error {
  constructor(step, what, todo) {
    super(`setup failed at "${step}": ${what}\n  what to do: ${todo}`);
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

export const VENV_PYTHON = path.join(VENV_DIR, 'bin', 'python');

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
// 3. Native TensorFlow for tfjs-node

const TFJS_STAMP = path.join(TFJS_DIR, 'deps', '.wd-harness-tf.json');

/** Loads the freshly built binding in a child process and runs one small op: the only proof that it works. */
function smokeTestBinding() {
  const script = `
    const tf = require('@tensorflow/tfjs-node');
    const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync();
    if (y[0] !== 3) throw new Error('matMul gave ' + y[0]);
    console.log(JSON.stringify({ tfjs: tf.version.tfjs, tensorflow: tf.backend().binding.TF_Version, backend: tf.getBackend() }));
  `;
  const result = run(process.execPath, ['-e', script], { capture: true, cwd: ROOT });
  return result;
}

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
function binaryPath() {
  const libDir = path.join(TFJS_DIR, 'lib');
  const napiDirs = fs.existsSync(libDir) ? fs.readdirSync(libDir).filter((d) => /^napi-v\d+$/.test(d)) : [];
  const found = napiDirs.map((d) => path.join(libDir, d, 'tfjs_binding.node')).find((f) => fs.existsSync(f));
  return found ?? path.join(libDir, 'napi-v8', 'tfjs_binding.node');
}

/** Builds the binding against whatever libtensorflow is staged in deps/ (never downloads). */
function buildBindingFromSource() {
  doing('building the tfjs-node binding (node-gyp) ...');
  const result = run(path.join(ROOT, 'node_modules', '.bin', 'node-pre-gyp'), ['install', '--build-from-source'],
    { cwd: TFJS_DIR, env: buildEnv(), capture: true });
  if (result.status !== 0 || !fs.existsSync(binaryPath())) {
    throw new SetupError('tfjs-node build', `node-gyp failed:\n${result.tail}`,
      nodeHeadersDir()
        ? 'install a C++ compiler and make (Debian: apt-get install g++ make python3), then rerun `npm run setup -- --force`.'
        : 'Node\'s headers were not found beside the node binary: set npm_config_nodedir to a directory with include/node/node_api.h, then rerun.');
  }
}

/** b. tfjs-node's own install: downloads libtensorflow 2.9.1 and a prebuilt addon. */
function tryOfficialDownload() {
  if (process.env.TFJS_SKIP_DOWNLOAD === '1') return false;
  doing('trying tfjs-node\'s own download of libtensorflow 2.9.1 ...');
  fs.rmSync(path.join(TFJS_DIR, 'deps'), { recursive: true, force: true });
  const result = run(process.execPath, ['scripts/install.js'], { cwd: TFJS_DIR, env: buildEnv(), capture: true, timeoutMs: 10 * 60_000 });
  const ok = result.status === 0 && fs.existsSync(binaryPath()) && smokeTestBinding().status === 0;
  if (!ok) {
    const reason = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT/.exec(result.output)?.[0] ?? `exit ${result.status}`;
    doing(`tfjs-node's download did not work here (${reason}); using a local TensorFlow C library instead.`);
    fs.rmSync(path.join(TFJS_DIR, 'deps'), { recursive: true, force: true });
    fs.rmSync(binaryPath(), { force: true });
  }
  return ok;
}

/** Copies a TensorFlow C library (libtensorflow_cc.so.2 or libtensorflow.so.2, plus framework) into tfjs-node's deps/. */
function stageLibrary({ libFiles, frameworkFile, includeRoot, includeDirs }) {
  const deps = path.join(TFJS_DIR, 'deps');
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

/** a. A user-provided libtensorflow directory (lib/libtensorflow.so.2 + include/). */
function stageUserLibrary(dir) {
  const libDir = path.join(dir, 'lib');
  const main = ['libtensorflow.so.2', 'libtensorflow_cc.so.2', 'libtensorflow.so'].map((n) => path.join(libDir, n)).find(fs.existsSync);
  const framework = ['libtensorflow_framework.so.2', 'libtensorflow_framework.so'].map((n) => path.join(libDir, n)).find(fs.existsSync);
  if (!main || !framework) {
    throw new SetupError('TFJS_LIBTENSORFLOW_DIR', `${libDir} has no libtensorflow.so.2 (or libtensorflow_cc.so.2) and libtensorflow_framework.so.2`,
      'point TFJS_LIBTENSORFLOW_DIR at an unpacked libtensorflow release (its lib/ and include/ folders), or unset it.');
  }
  stageLibrary({ libFiles: fs.realpathSync(main), frameworkFile: fs.realpathSync(framework), includeRoot: path.join(dir, 'include'), includeDirs: ['tensorflow', 'tsl', 'xla'] });
}

/** c. The TensorFlow C library inside the tensorflow-cpu wheel (pip fetches it; cached in .cache/wheels). */
function stageWheelLibrary() {
  const wheelDir = path.join(CACHE_DIR, 'wheels');
  fs.mkdirSync(wheelDir, { recursive: true });
  const findWheel = () => fs.readdirSync(wheelDir).find((f) => /^tensorflow_cpu-2\.21\.0-.*\.whl$/.test(f));
  if (!findWheel()) {
    doing(`fetching the ${TF_WHEEL_SPEC} wheel with pip into ${path.relative(ROOT, wheelDir)} (once; cached) ...`);
    const pip = run(VENV_PYTHON, ['-m', 'pip', 'download', '--disable-pip-version-check', '--no-deps', '-d', wheelDir, TF_WHEEL_SPEC]);
    if (pip.status !== 0 || !findWheel()) {
      throw new SetupError('tensorflow wheel', `pip could not download ${TF_WHEEL_SPEC}`,
        'either make Google\'s storage reachable (tfjs-node downloads libtensorflow itself), or let pip reach an index with tensorflow-cpu 2.21.0, or set TFJS_LIBTENSORFLOW_DIR to a local libtensorflow.');
    }
  }
  const wheel = path.join(wheelDir, findWheel());
  const extractDir = path.join(CACHE_DIR, 'libtensorflow-2.21.0');
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
  stageLibrary({
    libFiles: path.join(tfDir, 'libtensorflow_cc.so.2'),
    frameworkFile: path.join(tfDir, 'libtensorflow_framework.so.2'),
    includeRoot: path.join(tfDir, 'include'),
    includeDirs: ['tensorflow/c', 'tensorflow/core/platform', 'tsl', 'xla/tsl'],
  });
}

function tensorflowStep() {
  const userDir = process.env.TFJS_LIBTENSORFLOW_DIR;
  const want = { tfjsNode: JSON.parse(fs.readFileSync(path.join(TFJS_DIR, 'package.json'), 'utf8')).version, userDir: userDir ?? null, node: process.versions.napi };
  const have = readStamp(TFJS_STAMP);
  if (!FORCE && have && have.tfjsNode === want.tfjsNode && have.userDir === want.userDir && have.node === want.node && fs.existsSync(binaryPath())) {
    info(`TensorFlow for tfjs-node: in place (${have.source})`);
    return false;
  }
  fs.rmSync(binaryPath(), { force: true });
  let source;
  if (userDir) {
    doing(`using the libtensorflow in TFJS_LIBTENSORFLOW_DIR=${userDir}`);
    stageUserLibrary(userDir);
    buildBindingFromSource();
    source = `TFJS_LIBTENSORFLOW_DIR=${userDir}`;
  } else if (tryOfficialDownload()) {
    source = 'tfjs-node download (libtensorflow 2.9.1)';
  } else {
    stageWheelLibrary();
    buildBindingFromSource();
    source = `${TF_WHEEL_SPEC} wheel (TensorFlow C library)`;
  }
  const smoke = smokeTestBinding();
  if (smoke.status !== 0) {
    fs.rmSync(binaryPath(), { force: true });
    throw new SetupError('tfjs-node check', `the built binding does not load or compute:\n${smoke.tail}`,
      'rerun `npm run setup -- --force`; if it persists, set TFJS_LIBTENSORFLOW_DIR to another libtensorflow and report the message above.');
  }
  writeStamp(TFJS_STAMP, { ...want, source });
  doing(`TensorFlow for tfjs-node: ready (${source})`);
  return true;
}

// ---------------------------------------------------------------------------------------------------------------

function checkNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < REQUIRED_NODE_MAJOR) {
    throw new SetupError('node', `Node.js ${process.versions.node} is too old`, `install Node.js ${REQUIRED_NODE_MAJOR} or newer.`);
  }
  if (os.platform() !== 'linux' && !process.env.TFJS_LIBTENSORFLOW_DIR) {
    info(`note: this setup is tested on Linux x86-64; on ${os.platform()} tfjs-node's own download is used.`);
  }
}

export function main() {
  const started = Date.now();
  try {
    checkNode();
    const changed = [npmStep(), venvStep(), tensorflowStep()].some(Boolean);
    if (changed) doing(`done in ${((Date.now() - started) / 1000).toFixed(1)} s. Check it with: npm run doctor`);
  } catch (error) {
    console.error(`\n[setup] ${error instanceof SetupError ? error.message : error.stack}`);
    process.exit(1);
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) main();
