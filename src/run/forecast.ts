// What a run will cost and what it can show, said when it starts, before the hours are spent: its agent steps and
// the wall time they take at the assumed learning rate, the disk its checkpoints need against what is free, and, for
// a decoupled scheme, the total decay its budget applies (a run whose decay is ≈ 1, or a float32 no-op, computes
// what orig does). Never a refusal: memory, the one thing a run cannot survive, is checked by the CLI (memoryNeed).
import { DEFAULT_FRAME_BYTES } from '../../agents/replay.ts';
import { formatCount, formatDuration } from '../format.ts';
import { decoupledStepVanishesInFloat32 } from '../optim/decay.ts';
import { appliedDecayFactor, decoupledSettings, describeDecayBudget, plannedUpdates } from './decay_budget.ts';
import type { RunConfig } from './presets.ts';
import { ASSUMED_LEARNING_STEPS_PER_SECOND } from './progress.ts';

/**
 * A checkpoint without its replay memory: online and target networks and Adam's two slots, ~4.0M weights each
 * (62 MB measured for Pong's 6 actions; a few actions more or less change it by well under 1 %).
 */
const CHECKPOINT_STATE_BYTES = 65e6;

/** Where the factor is at least this, decoupled decay has barely acted: the run can hardly differ from orig. */
const NEGLIGIBLE_DECAY = 0.99;

export interface ForecastOptions {
  keepCheckpoints: number;
  saveReplay: boolean;
  /** Free bytes where the run directory goes, or null if unknown. */
  freeDiskBytes: number | null;
}

export interface Forecast {
  lines: string[];
  /** Said as warnings: the disk will run short. */
  warnings: string[];
}

/** Peak disk of the run's checkpoints: `keep` of them, the newest with the replay, plus a second replay while saving. */
export function checkpointDiskBytes(config: RunConfig, options: Pick<ForecastOptions, 'keepCheckpoints' | 'saveReplay'>): number {
  const steps = config.iterations * config.trainingSteps;
  const replay = options.saveReplay ? Math.min(config.agent.replayCapacityTransitions, steps) * DEFAULT_FRAME_BYTES : 0;
  return options.keepCheckpoints * CHECKPOINT_STATE_BYTES + 2 * replay;
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(bytes < 1e10 ? 1 : 0)} GB`;

/** The decoupled-decay line of a run, or null for other schemes. */
export function decayBudgetLine(config: RunConfig): string | null {
  const settings = decoupledSettings(config.agent.optimizer as unknown as Record<string, unknown>);
  if (settings === null) return null;
  const updates = plannedUpdates({ iterations: config.iterations, trainingSteps: config.trainingSteps, ...config.agent });
  const line = describeDecayBudget(`decoupled decay (${config.agent.optimizer.name} λ=${settings.weightDecay})`, settings, updates);
  const barely = decoupledStepVanishesInFloat32(settings) || appliedDecayFactor(settings, updates) >= NEGLIGIBLE_DECAY;
  if (!barely || config.decayMatch) return line;
  return `${line}. At this budget the run can barely differ from orig: --match-paper-decay scales λ so it applies the paper's total decay`;
}

/**
 * Seconds the steps still to run take at the assumed learning rate: training steps after `done.trainSteps` (the
 * warm-up's steps, which do not learn, left out) and the evaluation phases of the iterations not yet finished.
 */
function secondsLeft(config: RunConfig, done: { trainSteps: number; iterations: number }): number {
  const training = config.iterations * config.trainingSteps;
  const learning = Math.max(0, training - Math.max(done.trainSteps, config.agent.minReplayHistory));
  return (learning + (config.iterations - done.iterations) * config.evalSteps) / ASSUMED_LEARNING_STEPS_PER_SECOND;
}

/** What a resumed run has left, said beside "resuming …": the whole-budget forecast said before it does not know. */
export function remainingLine(config: RunConfig, done: { trainSteps: number; iterations: number }): string {
  const left = Math.max(0, config.iterations * config.trainingSteps - done.trainSteps);
  return `${formatCount(left)} training steps left${config.evalSteps > 0 ? ` (+ ${config.iterations - done.iterations} evaluation phases)` : ''}, ` +
    `~${formatDuration(secondsLeft(config, done))} at the assumed ${ASSUMED_LEARNING_STEPS_PER_SECOND} steps/s`;
}

export function runForecast(config: RunConfig, options: ForecastOptions): Forecast {
  const training = config.iterations * config.trainingSteps;
  const evaluation = config.iterations * config.evalSteps;
  const seconds = secondsLeft(config, { trainSteps: 0, iterations: 0 });
  const disk = checkpointDiskBytes(config, options);
  const lines = [
    `forecast: ${formatCount(training)} training steps (${config.iterations} × ${formatCount(config.trainingSteps)})` +
      `${evaluation > 0 ? ` + ${formatCount(evaluation)} evaluation steps` : ''}, ~${formatDuration(seconds)} at an assumed ` +
      `${ASSUMED_LEARNING_STEPS_PER_SECOND} steps/s (the live line measures it); checkpoints need up to ~${gb(disk)} of disk` +
      `${options.freeDiskBytes === null ? '' : ` (${gb(options.freeDiskBytes)} free)`}`,
  ];
  const decay = decayBudgetLine(config);
  if (decay !== null) lines.push(decay);
  const warnings: string[] = [];
  if (options.freeDiskBytes !== null && options.freeDiskBytes < disk) {
    warnings.push(`only ${gb(options.freeDiskBytes)} of disk is free where this run writes, and its checkpoints need up to ~${gb(disk)}: ` +
      'free space, lower --keep-checkpoints, use --no-save-replay, or --preset reduced');
  }
  return { lines, warnings };
}
