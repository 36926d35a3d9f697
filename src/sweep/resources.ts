// How many runs to run at once, and with how many TensorFlow threads each, on this machine.
import os from 'node:os';
import { DEFAULT_FRAME_BYTES } from '../../agents/replay.ts';
import { PRESETS, type PresetName } from '../run/presets.ts';

/** Node, TensorFlow, the network's weights and optimizer slots, the emulator process: measured ~1 GB per run. */
const RUN_OVERHEAD_BYTES = 1.0e9;

/** Resident memory of a run whose replay memory holds `replayCapacityTransitions` (7.06 GB at 1M), which dominates. */
export function runMemoryBytesFor(replayCapacityTransitions: number): number {
  return replayCapacityTransitions * DEFAULT_FRAME_BYTES + RUN_OVERHEAD_BYTES;
}

/** Resident memory one run of `preset` needs. */
export function runMemoryBytes(preset: PresetName): number {
  return runMemoryBytesFor(PRESETS[preset].values.agent.replayCapacityTransitions);
}

/** Slurm's --mem for one run of `preset` when none is given: its resident memory plus a quarter, in whole GiB. */
export function slurmMemFor(preset: PresetName): string {
  return `${Math.ceil((1.25 * runMemoryBytes(preset)) / 2 ** 30)}G`;
}

/**
 * TensorFlow threads per run when none is given. One, so that a sweep runs as many runs at once as there are cores:
 * a DQN step on a batch of 32 parallelises poorly across threads, and each run also has a Python emulator process
 * and single-threaded JavaScript between TensorFlow calls, which a second thread of the same run cannot use but a
 * second run can. scripts/bench-sweep-split.ts measures 2 runs × 1 thread against 1 run × 2 threads; see
 * docs/sweeps.md for the figures and whether they were taken on a quiet machine.
 */
export const DEFAULT_THREADS_PER_RUN = 1;

export interface Split {
  workers: number;
  threads: number;
  /** Why the number of workers is what it is (printed when it was not given). */
  note: string;
}

/**
 * Workers × threads ≤ cores, and workers × a run's memory ≤ 90 % of RAM. Either value may be given; the other is
 * derived. Given both, they are used as given (a warning is the caller's business).
 */
export function chooseSplit(options: {
  preset: PresetName;
  workers?: number;
  threads?: number;
  cores?: number;
  totalMemoryBytes?: number;
}): Split {
  const cores = options.cores ?? os.availableParallelism();
  const memory = options.totalMemoryBytes ?? os.totalmem();
  const perRun = runMemoryBytes(options.preset);
  const byMemory = Math.max(1, Math.floor((0.9 * memory) / perRun));
  if (options.workers !== undefined && options.threads !== undefined) {
    return { workers: options.workers, threads: options.threads, note: 'as given' };
  }
  if (options.workers !== undefined) {
    return { workers: options.workers, threads: Math.max(1, Math.floor(cores / options.workers)), note: `threads = ${cores} cores / workers` };
  }
  const threads = options.threads ?? DEFAULT_THREADS_PER_RUN;
  const byCores = Math.max(1, Math.floor(cores / threads));
  const workers = Math.min(byCores, byMemory);
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const note =
    workers < byCores
      ? `${workers} worker(s): limited by memory (${gib(memory)} RAM, ~${gib(perRun)} per ${options.preset} run)`
      : `${workers} worker(s) × ${threads} thread(s) on ${cores} cores`;
  return { workers, threads, note };
}

/** A warning when the given split oversubscribes the machine, else null. */
export function oversubscription(split: Split, preset: PresetName, cores = os.availableParallelism(), memory = os.totalmem()): string | null {
  const problems: string[] = [];
  if (split.workers * split.threads > cores) problems.push(`${split.workers} workers × ${split.threads} threads > ${cores} cores`);
  const need = split.workers * runMemoryBytes(preset);
  if (need > memory) problems.push(`${split.workers} ${preset} runs need ~${(need / 2 ** 30).toFixed(0)} GiB, this machine has ${(memory / 2 ** 30).toFixed(0)} GiB`);
  return problems.length === 0 ? null : `warning: ${problems.join('; ')}. Runs will be slower or be killed for lack of memory.`;
}
