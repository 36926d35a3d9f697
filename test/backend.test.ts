// The backend setting (src/backend.mjs): which binding every entry point loads, what chooses it, that src/tf.ts follows
// it, that `setup --gpu` on a machine without CUDA fails with one line and leaves the CPU backend working and
// selected, and the doctor's and setup's --help/--version. Whatever writes or installs runs in a scratch copy of the
// checkout whose node_modules links to this one's (read only: nothing below writes into it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BACKEND_PACKAGES, backendRecordPath, findCudaDriver, parseTensorFlowDeviceLog, readBackendRecord, resolveBackend,
  writeBackendRecord,
} from '../src/backend.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const scratchDirs: string[] = [];
afterAll(() => {
  for (const dir of scratchDirs) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/** An environment without the user's backend choice or TensorFlow log level, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of ['WD_HARNESS_BACKEND', 'TF_CPP_MIN_LOG_LEVEL', 'TFJS_LIBTENSORFLOW_DIR', 'WD_HARNESS_GPU_SKIP_DRIVER_CHECK', 'WD_HARNESS_TF_GPU_WHEEL']) delete env[key];
  return { ...env, ...extra };
}

/**
 * A copy of the checkout's code (src/, scripts/, package files) whose node_modules/ is a folder of links to this
 * checkout's packages, without @tensorflow/tfjs-node-gpu; `fakeGpu` puts a stand-in for it there (the CPU binding
 * under the GPU package's name, marked in `version`), so that which package src/tf.ts loads can be seen.
 */
function scratchCheckout({ fakeGpu }: { fakeGpu: boolean }): string {
  const dir = tempDir('wd-backend-');
  for (const file of ['package.json', 'package-lock.json', 'tsconfig.json']) fs.copyFileSync(path.join(ROOT, file), path.join(dir, file));
  for (const sub of ['src', 'scripts']) fs.cpSync(path.join(ROOT, sub), path.join(dir, sub), { recursive: true });
  fs.symlinkSync(path.join(ROOT, '.venv'), path.join(dir, '.venv'));
  // A checkout that ran setup has its native helpers built (src/signal_guard.c, src/stderr_filter.c, in its own .cache/).
  fs.mkdirSync(path.join(dir, '.cache'));
  for (const addon of ['signal_guard.node', 'stderr_filter.node']) {
    for (const file of [addon, `${addon}.json`]) fs.copyFileSync(path.join(ROOT, '.cache', file), path.join(dir, '.cache', file));
  }
  const modules = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(modules, '@tensorflow'), { recursive: true });
  for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules'))) {
    if (entry !== '@tensorflow') fs.symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
  }
  for (const entry of fs.readdirSync(path.join(ROOT, 'node_modules', '@tensorflow'))) {
    if (entry !== 'tfjs-node-gpu') fs.symlinkSync(path.join(ROOT, 'node_modules', '@tensorflow', entry), path.join(modules, '@tensorflow', entry));
  }
  if (fakeGpu) {
    const fake = path.join(modules, '@tensorflow', 'tfjs-node-gpu');
    fs.mkdirSync(fake);
    fs.writeFileSync(path.join(fake, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node-gpu', version: '0.0.0-test', main: 'index.js' }));
    fs.writeFileSync(path.join(fake, 'index.js'),
      "const tf = require('@tensorflow/tfjs-node');\nmodule.exports = { ...tf, version: { ...tf.version, standIn: 'tfjs-node-gpu stand-in' } };\n");
  }
  // What an entry point does: import the one module that loads TensorFlow, compute, say what it loaded.
  fs.writeFileSync(path.join(dir, 'probe.ts'), [
    "import * as tf from './src/tf.ts';",
    'const y = tf.matMul(tf.ones([2, 3]), tf.ones([3, 2])).dataSync()[0];',
    "console.log(JSON.stringify({ name: tf.backendChoice.name, source: tf.backendChoice.source, standIn: (tf.version as Record<string, string>).standIn ?? null, y, backend: tf.getBackend(), usingGpu: tf.usingGpu }));",
  ].join('\n'));
  return dir;
}

function loadTf(dir: string, env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'probe.ts'], { cwd: dir, env: cleanEnv(env), encoding: 'utf8', timeout: 120_000 });
  const last = result.stdout.trim().split('\n').pop() ?? '';
  return { status: result.status, stderr: result.stderr, out: result.status === 0 ? JSON.parse(last) : null };
}

function record(dir: string, backend: 'cpu' | 'gpu'): void {
  fs.mkdirSync(path.join(dir, '.cache'), { recursive: true });
  fs.writeFileSync(backendRecordPath(dir), JSON.stringify({ backend }));
}

describe('backend selection (src/backend.mjs)', () => {
  it('WD_HARNESS_BACKEND, else the record, else cpu; each maps to its package', () => {
    const root = tempDir('wd-backend-sel-');
    expect(resolveBackend({ env: {}, root })).toMatchObject({ name: 'cpu', packageName: '@tensorflow/tfjs-node', source: 'default' });
    record(root, 'gpu');
    expect(resolveBackend({ env: {}, root })).toMatchObject({ name: 'gpu', packageName: '@tensorflow/tfjs-node-gpu', source: path.join('.cache', 'backend.json') });
    expect(resolveBackend({ env: { WD_HARNESS_BACKEND: 'cpu' }, root })).toMatchObject({ name: 'cpu', packageName: BACKEND_PACKAGES.cpu, source: 'WD_HARNESS_BACKEND=cpu' });
    expect(resolveBackend({ env: { WD_HARNESS_BACKEND: '' }, root }).name).toBe('gpu'); // empty = unset
    record(root, 'cpu');
    expect(resolveBackend({ env: { WD_HARNESS_BACKEND: 'GPU' }, root })).toMatchObject({ name: 'gpu', packageName: BACKEND_PACKAGES.gpu });
    expect(resolveBackend({ env: {}, root }).name).toBe('cpu');
  });

  it('refuses a bad value or a damaged record with the fix', () => {
    const root = tempDir('wd-backend-bad-');
    expect(() => resolveBackend({ env: { WD_HARNESS_BACKEND: 'tpu' }, root })).toThrow(/WD_HARNESS_BACKEND: backend "tpu" is neither "cpu" nor "gpu"/);
    fs.mkdirSync(path.join(root, '.cache'));
    fs.writeFileSync(backendRecordPath(root), '{ not json');
    expect(() => resolveBackend({ env: {}, root })).toThrow(/is not JSON: run `npm run setup -- --cpu`/);
    fs.writeFileSync(backendRecordPath(root), JSON.stringify({ backend: 'cuda' }));
    expect(() => resolveBackend({ env: {}, root })).toThrow(/neither "cpu" nor "gpu"/);
  });

  it('writes the record atomically, keeping the fields it does not replace', () => {
    const file = backendRecordPath(tempDir('wd-backend-rec-'));
    writeBackendRecord(file, { backend: 'gpu', gpuLibrary: { wheel: 'tensorflow==2.21.0' } });
    writeBackendRecord(file, { backend: 'cpu', gpuSetupFailed: 'no driver' });
    expect(readBackendRecord(file)).toMatchObject({ backend: 'cpu', gpuLibrary: { wheel: 'tensorflow==2.21.0' }, gpuSetupFailed: 'no driver' });
    writeBackendRecord(file, { backend: 'cpu', gpuSetupFailed: undefined });
    expect(readBackendRecord(file)).not.toHaveProperty('gpuSetupFailed');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['backend.json']);
  });

  it('reads the GPUs, or why there are none, from TensorFlow\'s start-up log', () => {
    const created = 'I0000 00:00:1733150000.1 4242 gpu_device.cc:2022] Created device /job:localhost/replica:0/task:0/device:GPU:0 with 38366 MB memory:  -> device: 0, name: NVIDIA A100-SXM4-40GB, pci bus id: 0000:00:04.0, compute capability: 8.0';
    expect(parseTensorFlowDeviceLog(`noise\n${created}\n`)).toEqual({ gpus: ['GPU:0 NVIDIA A100-SXM4-40GB (38366 MB, compute capability 8.0)'], reason: null });
    expect(parseTensorFlowDeviceLog('E0000 cuda_executor.cc:1228] failed call to cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected\n').reason)
      .toBe('failed call to cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected');
    expect(parseTensorFlowDeviceLog("W dso_loader.cc:64] Could not load dynamic library 'libcudnn.so.9'; dlerror: not found\nW gpu_device.cc:2344] Cannot dlopen some GPU libraries. Please make sure the missing libraries mentioned above are installed properly.\n").reason)
      .toBe("Cannot dlopen some GPU libraries. Please make sure the missing libraries mentioned above are installed properly. (not found: libcudnn.so.9)");
    expect(parseTensorFlowDeviceLog('I cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.\n').reason).toMatch(/^Could not find cuda drivers/);
    expect(parseTensorFlowDeviceLog('').reason).toMatch(/built without CUDA/);
  });
});

describe('src/tf.ts loads the package the setting names', () => {
  it('the record picks the GPU package, WD_HARNESS_BACKEND overrides it, a missing package says what to run', () => {
    const dir = scratchCheckout({ fakeGpu: true });
    record(dir, 'gpu');
    const gpu = loadTf(dir);
    expect(gpu.status, gpu.stderr).toBe(0);
    expect(gpu.out).toMatchObject({ name: 'gpu', source: path.join('.cache', 'backend.json'), standIn: 'tfjs-node-gpu stand-in', y: 3, backend: 'tensorflow', usingGpu: false });
    expect(gpu.stderr).toMatch(/the gpu backend is selected \(\.cache\/backend\.json\) but TensorFlow found no GPU: running on the CPU/);

    const cpu = loadTf(dir, { WD_HARNESS_BACKEND: 'cpu' });
    expect(cpu.status, cpu.stderr).toBe(0);
    expect(cpu.out).toMatchObject({ name: 'cpu', source: 'WD_HARNESS_BACKEND=cpu', standIn: null, y: 3 });
    expect(cpu.stderr).not.toMatch(/found no GPU/);

    fs.rmSync(path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node-gpu'), { recursive: true });
    const missing = loadTf(dir);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/the gpu backend is selected \(\.cache\/backend\.json\) but @tensorflow\/tfjs-node-gpu is not installed: run `npm run setup -- --gpu`/);
  }, 240_000);
});

describe('setup --gpu without CUDA', () => {
  const driver = findCudaDriver();
  it.skipIf(driver.found)('fails at once with one line, installs nothing, and the CPU backend stays selected and loads', () => {
    const dir = scratchCheckout({ fakeGpu: false });
    record(dir, 'gpu'); // even a checkout that had the GPU selected goes back to the CPU
    const before = fs.readdirSync(path.join(ROOT, 'node_modules', '@tensorflow')).sort();
    const started = Date.now();
    const setup = spawnSync(process.execPath, ['scripts/setup.mjs', '--gpu'], {
      cwd: dir, env: cleanEnv({ WD_HARNESS_CACHE_DIR: path.join(dir, '.cache') }), encoding: 'utf8', timeout: 60_000,
    });
    expect(Date.now() - started).toBeLessThan(10_000); // the driver check comes before anything is fetched or built
    expect(setup.status).toBe(1);
    const lines = setup.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines, setup.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[setup\] --gpu failed: no NVIDIA driver found \(no libcuda\.so\.1 .*\); the CPU backend \(@tensorflow\/tfjs-node\) stays installed and selected \(docs\/gpu\.md\)$/);
    expect(setup.stdout).toBe('');
    expect(readBackendRecord(backendRecordPath(dir))).toMatchObject({ backend: 'cpu', gpuSetupFailed: expect.stringMatching(/^no NVIDIA driver found/) });
    expect(fs.existsSync(path.join(dir, 'node_modules', '@tensorflow', 'tfjs-node-gpu'))).toBe(false);
    expect(fs.readdirSync(path.join(ROOT, 'node_modules', '@tensorflow')).sort()).toEqual(before);

    const after = loadTf(dir);
    expect(after.status, after.stderr).toBe(0);
    expect(after.out).toMatchObject({ name: 'cpu', source: path.join('.cache', 'backend.json'), standIn: null, y: 3, backend: 'tensorflow', usingGpu: false });

    // The doctor names the backend, what chose it, the failed attempt, the binding, the library and the device.
    const doctor = spawnSync(process.execPath, ['scripts/doctor.mjs', '--no-setup'], { cwd: dir, env: cleanEnv(), encoding: 'utf8', timeout: 120_000 });
    expect(doctor.status, doctor.stdout + doctor.stderr).toBe(0);
    expect(doctor.stdout).toMatch(/^backend {16}cpu: @tensorflow\/tfjs-node \(chosen by \.cache\/backend\.json\); the last `setup --gpu` failed: no NVIDIA driver found/m);
    expect(doctor.stdout).toMatch(/^binding {16}node_modules\/@tensorflow\/tfjs-node\/lib\/napi-v\d+\/tfjs_binding\.node$/m);
    expect(doctor.stdout).toMatch(/^TensorFlow \(native\) {4}\d+\.\d+\.\d+ from /m);
    expect(doctor.stdout).toMatch(/^device {17}CPU$/m);
  }, 240_000);
});

describe('doctor and setup options', () => {
  const run = (script: string, args: string[]) =>
    spawnSync(process.execPath, [path.join(ROOT, 'scripts', script), ...args], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 30_000 });

  it('--help prints the usage and runs nothing', () => {
    for (const [script, usage] of [['doctor.mjs', /^usage: npm run doctor/], ['setup.mjs', /^usage: npm run setup/]] as const) {
      for (const flag of ['--help', '-h']) {
        const started = Date.now();
        const result = run(script, [flag]);
        expect(result.status).toBe(0);
        expect(result.stdout).toMatch(usage);
        expect(result.stdout).toMatch(/--version/);
        expect(result.stderr).toBe(''); // no setup step, no TensorFlow
        expect(Date.now() - started).toBeLessThan(5000);
      }
    }
    expect(run('setup.mjs', ['--help']).stdout).toMatch(/--gpu/);
  });

  it('--version prints the package version', () => {
    for (const script of ['doctor.mjs', 'setup.mjs']) {
      for (const flag of ['--version', '-V']) {
        const result = run(script, [flag]);
        expect(result.status).toBe(0);
        expect(result.stdout.trim()).toBe(`wd-dqn-harness ${VERSION}`);
      }
    }
  });

  it('an unknown option, or --gpu with --cpu, is refused with exit 2', () => {
    expect(run('doctor.mjs', ['--bogus'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/unknown option --bogus/) });
    expect(run('setup.mjs', ['--bogus'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/unknown option --bogus/) });
    expect(run('setup.mjs', ['--gpu', '--cpu'])).toMatchObject({ status: 2, stderr: expect.stringMatching(/exclude each other/) });
  });
});
