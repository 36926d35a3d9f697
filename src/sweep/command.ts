// The command line of one run of a sweep: `node --import <tsx loader> src/cli/atari.ts --agent dqn …`, the same
// for the local and the Slurm executor so both produce identical run directories.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { formatLambda } from '../format.ts';
import { REPO_ROOT } from '../paths.mjs';
import type { PlannedRun } from './plan_file.ts';

export const ATARI_CLI = path.join(REPO_ROOT, 'src', 'cli', 'atari.ts');

/**
 * tsx's ESM loader as a file URL. Resolved from this module (not from the working directory), so a sweep started
 * from anywhere, or a Slurm job whose working directory is elsewhere, still finds the repository's tsx.
 */
export function tsxLoaderUrl(): string {
  const require = createRequire(import.meta.url);
  return pathToFileURL(require.resolve('tsx')).href;
}

/** A process to start: executable and arguments (never through a shell). */
export interface ChildCommand {
  command: string;
  args: string[];
}

/** The sweep's TensorBoard logdir, inside the sweep directory (`sweep --tensorboard`). */
export const TENSORBOARD_DIR = 'tensorboard';

/**
 * How every run of a sweep stores its output: none of it is part of a run's config, so none changes a run id.
 * saveReplay false: --no-save-replay (less disk). keepCheckpoints: --keep-checkpoints N (without it a run keeps the
 * value it recorded, else 4). tensorboardDir: --tensorboard <dir>/<run id>, one TensorBoard logdir for the sweep
 * with a run name per run id.
 */
export interface RunOutputOptions {
  saveReplay?: boolean;
  keepCheckpoints?: number;
  tensorboardDir?: string;
}

/** Arguments after the script: identical for every executor. */
export function runArguments(run: PlannedRun, runDir: string, threads: number, output: RunOutputOptions = {}): string[] {
  const args = [
    '--agent', 'dqn',
    '--game', run.game,
    '--optimizer', run.optimizer,
    '--wd', formatLambda(run.weightDecay),
    '--seed', String(run.seed),
    '--preset', run.preset,
    '--out', runDir,
    '--threads', String(threads),
  ];
  if (run.overrides.iterations !== undefined) args.push('--iterations', String(run.overrides.iterations));
  if (run.overrides.trainingSteps !== undefined) args.push('--training-steps', String(run.overrides.trainingSteps));
  if (run.overrides.evalSteps !== undefined) args.push('--eval-steps', String(run.overrides.evalSteps));
  if (run.overrides.matchPaperDecay) args.push('--match-paper-decay');
  for (const [key, value] of Object.entries(run.overrides.set ?? {})) args.push('--set', `${key}=${value}`);
  if (output.saveReplay === false) args.push('--no-save-replay');
  if (output.keepCheckpoints !== undefined) args.push('--keep-checkpoints', String(output.keepCheckpoints));
  if (output.tensorboardDir !== undefined) args.push('--tensorboard', path.join(output.tensorboardDir, run.id));
  return args;
}

/** Builds the process for one run; injectable so the scheduler can be tested with a stand-in run script. */
export type CommandBuilder = (run: PlannedRun, runDir: string, threads: number, output?: RunOutputOptions) => ChildCommand;

/** The real one: this Node, tsx's loader, src/cli/atari.ts. */
export const atariCommand: CommandBuilder = (run, runDir, threads, output) => ({
  command: process.execPath,
  args: ['--import', tsxLoaderUrl(), ATARI_CLI, ...runArguments(run, runDir, threads, output)],
});
