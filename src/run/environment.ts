// What a run ran on: recorded in config.json next to the config (never compared), so a table in a paper can say
// which code, libraries and machine produced each number.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '../tf.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null; // not a git checkout (e.g. an exported tarball): recorded as unknown
  }
}

export interface RunEnvironment {
  [key: string]: unknown;
  node: string;
  tfjs: string;
  tensorflow: string;
  /** The binding loaded (src/backend.mjs): 'cpu' (@tensorflow/tfjs-node) or 'gpu' (@tensorflow/tfjs-node-gpu). */
  backend: string;
  /** Where TensorFlow computes: 'GPU' when the binding placed itself on one, else 'CPU'. */
  device: string;
  alepy: string;
  gitCommit: string | null;
  gitDirty: boolean | null;
  host: string;
  platform: string;
  cpus: number;
  threads: number | null;
}

export function describeEnvironment(alepy: string, threads: number | null): RunEnvironment {
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    node: process.version,
    tfjs: tf.version['tfjs-node'] ?? tf.version_core,
    tensorflow: String((tf.backend() as unknown as { binding: { TF_Version: string } }).binding.TF_Version),
    backend: tf.backendChoice.name,
    device: tf.usingGpu ? 'GPU' : 'CPU',
    alepy,
    gitCommit: git(['rev-parse', 'HEAD']),
    gitDirty: status === null ? null : status.length > 0,
    host: os.hostname(),
    platform: `${os.platform()} ${os.arch()} ${os.cpus()[0]?.model ?? ''}`.trim(),
    cpus: os.availableParallelism(),
    threads,
  };
}
