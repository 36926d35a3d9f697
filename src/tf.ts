// The one place the project loads TensorFlow.js: every module imports `* as tf from '../src/tf.ts'`, so the
// environment set in tf_env.ts is in place before the native library loads, and every entry point (atari, the
// sweep's runs, bench, tests) loads the same binding: @tensorflow/tfjs-node (CPU) or @tensorflow/tfjs-node-gpu,
// as src/backend.mjs decides (WD_HARNESS_BACKEND, else the record `npm run setup -- --gpu` wrote, else CPU).
//
// An ES module cannot re-export a package chosen at run time, so the ops come from the union package both bindings
// are built on (`export * from '@tensorflow/tfjs'`: the very module instance the chosen binding requires, checked
// below), and the binding itself is loaded with require: loading it registers the 'tensorflow' backend and makes it
// current. Its own additions (`version`, `io` with the file system handlers, `node`) are re-exported from it.
// signal_guard.ts runs first too: TensorFlow's threads inherit the signal mask it sets on this thread. The binding
// loads inside withoutBanner (src/stderr_filter.ts), which drops TensorFlow's load-time oneDNN banner.
import './tf_env.ts';
import './signal_guard.ts';
import { createRequire } from 'node:module';
import * as tfjs from '@tensorflow/tfjs';
import type * as TfjsNode from '@tensorflow/tfjs-node';
import { BackendError, resolveBackend } from './backend.mjs';
import { withoutBanner } from './stderr_filter.ts';

export * from '@tensorflow/tfjs';

/** Which binding was loaded and what chose it (WD_HARNESS_BACKEND, .cache/backend.json or the default). */
export const backendChoice = resolveBackend();

function loadBinding(): typeof TfjsNode {
  const require = createRequire(import.meta.url);
  const fix = `run \`npm run setup -- --${backendChoice.name}\`` +
    (backendChoice.name === 'gpu' ? ' (or use the CPU: WD_HARNESS_BACKEND=cpu, or `npm run setup -- --cpu`)' : '');
  let binding: typeof TfjsNode;
  try {
    // TensorFlow prints its oneDNN banner while it loads, past TF_CPP_MIN_LOG_LEVEL: dropped unless --tf-log.
    const load = () => require(backendChoice.packageName) as typeof TfjsNode;
    binding = Number(process.env.TF_CPP_MIN_LOG_LEVEL) > 0 ? withoutBanner(load) : load();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${backendChoice.packageName}'`)) {
      throw new BackendError(`the ${backendChoice.name} backend is selected (${backendChoice.source}) but ${backendChoice.packageName} ` +
        `is not installed: ${fix}`);
    }
    if (/tfjs_binding\.node\) can not be found/.test(String((error as Error).message))) {
      throw new BackendError(`the ${backendChoice.name} backend is selected (${backendChoice.source}) but the native binding of ` +
        `${backendChoice.packageName} is not built: ${fix}`);
    }
    throw error;
  }
  if (binding.tensor !== tfjs.tensor) {
    throw new BackendError(`${backendChoice.packageName} and src/tf.ts resolved two copies of @tensorflow/tfjs: ` +
      'reinstall the npm packages (rm -rf node_modules && npm run setup)');
  }
  return binding;
}

const binding = loadBinding();

export const version: typeof TfjsNode.version = binding.version;
export const io: typeof TfjsNode.io = binding.io;
export const node: typeof TfjsNode.node = binding.node;

/** True when TensorFlow placed the binding on a GPU (tfjs-node-gpu with CUDA and a visible device). */
export const usingGpu: boolean = Boolean((tfjs.backend() as unknown as { isUsingGpuDevice?: boolean }).isUsingGpuDevice);

if (backendChoice.name === 'gpu' && !usingGpu) {
  console.warn(`[tf] the gpu backend is selected (${backendChoice.source}) but TensorFlow found no GPU: running on the CPU ` +
    '(`npm run doctor` says why)');
}
