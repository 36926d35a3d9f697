// What a training run's checkpoint holds (checkpoints.ts is the format): state.json with the loop's own state — where
// the run stands (iterations done, training steps, sessions, a partial iteration's progress) and the config it was
// made under — beside the agent's counters and generators; the agent's tensors; the replay memory in extra/replay/
// unless saved without it. Saving one, loading the newest for a resume, and the check that a resume is still under
// the checkpoint's config: an edited config.json (seed, γ, λ, ...) cannot silently continue an old run.
import fs from 'node:fs';
import path from 'node:path';
import type { AgentState, DqnAgent } from '../../agents/dqn_agent.ts';
import { readJsonFile } from '../io/atomic.ts';
import { findLatestCheckpoint, saveCheckpoint, type LoadedTensor } from './checkpoints.ts';
import { MUTABLE_CONFIG_KEYS, type RunConfig } from './presets.ts';
import { fixedConfigDifferences, formatDifference, type ConfigDifference, type RunDirectory } from './run_directory.ts';

/** Progress of the iteration in hand, saved in mid-iteration checkpoints. */
export interface IterationProgress {
  phase: 'train' | 'eval';
  trainSteps: number;
  trainReturns: number[];
  lossSum: number;
  lossCount: number;
  trainSeconds: number;
  restarts: number;
}

/** A run checkpoint's state.json: the loop's fields, and the agent's under `agent`. */
export interface RunState {
  format: 1;
  /** Iterations completed; the next iteration to run. */
  nextIteration: number;
  /** Training agent steps so far (cumulative; the metrics' env_steps). */
  envSteps: number;
  /** Wall-clock seconds spent in all sessions, up to the checkpoint. */
  wallSeconds: number;
  /** Set when the checkpoint was taken in the middle of iteration `nextIteration`. */
  partial: IterationProgress | null;
  lastTrainReturn: number | null;
  lastEvalReturn: number | null;
  /** Resumes that found no replay memory in the checkpoint and refilled it (absent in older checkpoints: 0). */
  replayRefills?: number;
  /**
   * Sessions started before the one that wrote the checkpoint, plus that one: the next session's index, which
   * picks its emulator seeds (absent in checkpoints from before the field existed: the iteration number).
   */
  sessions?: number;
  /**
   * The run config the checkpoint was made under (absent in older checkpoints). A resume compares it with
   * config.json, so an edited config.json (seed, γ, λ, ...) cannot silently continue an old run.
   */
  config?: RunConfig;
  agent: AgentState;
}

export function freshProgress(): IterationProgress {
  return { phase: 'train', trainSteps: 0, trainReturns: [], lossSum: 0, lossCount: 0, trainSeconds: 0, restarts: 0 };
}

/** A checkpoint made under another config than config.json holds now (config.json was edited). */
export class CheckpointConfigMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointConfigMismatchError';
  }
}

/**
 * How the config a checkpoint was made under (its state.json records it) differs from `config`, the keys a resume may
 * change aside: [] when they agree, or for a checkpoint from before state.json recorded its config. A resume refuses
 * a difference (assertResumableUnder), and so do play and export (src/cli/play.ts), each in its own words.
 */
export function checkpointConfigDifferences(checkpointDir: string, config: RunConfig): ConfigDifference[] {
  const saved = readJsonFile<Partial<RunState>>(path.join(checkpointDir, 'state.json'), 'checkpoint state');
  if (saved?.config === undefined) return [];
  return fixedConfigDifferences(saved.config, config, MUTABLE_CONFIG_KEYS);
}

/**
 * Before a resume is recorded: the checkpoint it would continue (the newest complete one under `root`) must have
 * been made under `config`.
 */
export function assertResumableUnder(root: string, config: RunConfig): void {
  const found = findLatestCheckpoint(root, { warn: () => {} });
  const differences = found ? checkpointConfigDifferences(found.dir, config) : [];
  if (differences.length === 0) return;
  throw new CheckpointConfigMismatchError(
    `the checkpoint ${found!.dir} was made under another config than config.json now holds ` +
      `(${differences.map(formatDifference).join('; ')}): config.json was edited. Put it back, or start the new config in a new --out directory.`,
  );
}

/** The replay memory's directory in a checkpoint's extra files. */
const REPLAY_DIR = 'replay';

/** The loop's part of a checkpoint's state.json. */
export type LoopState = Omit<RunState, 'agent' | 'config'>;

/**
 * Saves the run's checkpoint `label` (mid-iteration ones take the number of the iteration in hand): the loop's
 * state and `config`, the agent's state and tensors, and with `saveReplay` its replay memory (kept in the newest
 * checkpoint only).
 */
export async function saveRunCheckpoint(run: RunDirectory, label: number, state: LoopState, config: RunConfig, agent: DqnAgent, options: { saveReplay: boolean; keep: number }): Promise<void> {
  const { state: agentState, tensors } = await agent.exportState();
  const replay = agent.replay;
  await saveCheckpoint(run, label, {
    state: { ...state, config, agent: agentState },
    tensors,
    ...(options.saveReplay ? { writeExtra: (dir: string) => replay.save(path.join(dir, REPLAY_DIR)) } : {}),
  }, { keep: options.keep, keepExtra: 1 });
}

/** What a resume continues from: the newest complete checkpoint's states and tensors, and its replay memory if saved. */
export interface ResumePoint {
  state: LoopState;
  agent: AgentState;
  tensors: Map<string, LoadedTensor>;
  replayDir: string | null;
}

/** The newest complete checkpoint of `run` (null if there is none; `warn` hears of the damaged ones passed over). */
export function loadResumePoint(run: RunDirectory, warn: (message: string) => void): ResumePoint | null {
  const found = findLatestCheckpoint(run, { warn });
  if (!found) return null;
  const loaded = found.load();
  const { agent, config: _config, ...state } = loaded.state as RunState;
  const replay = found.extraDir && path.join(found.extraDir, REPLAY_DIR);
  return { state, agent, tensors: loaded.tensors, replayDir: replay && fs.existsSync(replay) ? replay : null };
}
