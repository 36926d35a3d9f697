// One DQN training run, Dopamine's way (run_experiment.Runner): iterations of a training phase (whole episodes
// until at least `trainingSteps` agent steps) and an optional evaluation phase (ε_eval; several environments acting
// through one batched forward pass), with a metrics line, a summary and a checkpoint after every iteration.
//
// Crash safety: metrics are appended before the iteration's checkpoint (a resume truncates what the checkpoint
// does not cover), and summary.json reports only what the newest checkpoint holds; a stop request (SIGINT/SIGTERM/SIGUSR1, set by the caller) ends the current step, turns the
// open episode into a truncated one, and saves a mid-iteration checkpoint under the iteration's own number, so
// at most one agent step of work is lost. A dead emulator is restarted and the broken episode dropped. TensorBoard
// is only a view: a failed write is one warning and turns it off.
import fs from 'node:fs';
import path from 'node:path';
import { AleBridge, DOPAMINE_PROTOCOL, EmulatorCrashedError, NATURE_PROTOCOL, stepOutcome, type AtariEnv, type EnvStep } from '../../envs/ale_bridge.ts';
import { BridgePool, defaultPoolSize } from '../../envs/bridge_pool.ts';
import { displayName, resolveGame } from '../../envs/games.ts';
import { DivergenceError, DqnAgent, type AgentState } from '../../agents/dqn_agent.ts';
import { FrameStacks } from '../../agents/frame_stack.ts';
import { ReplayMemory } from '../../agents/replay.ts';
import * as tf from '../tf.ts';
import { readJsonFile } from '../io/atomic.ts';
import { DEFAULT_KEEP_CHECKPOINTS, dropCheckpointExtras, findLatestCheckpoint, saveCheckpoint, type LoadedTensor } from './checkpoints.ts';
import { describeEnvironment } from './environment.ts';
import type { OptimizerDiagnostics } from '../optim/types.ts';
import { MUTABLE_CONFIG_KEYS, type RunConfig } from './presets.ts';
import { formatCount, formatDuration, shellQuote } from '../format.ts';
import { ProgressReporter } from './progress.ts';
import { captureEpisodeVideo } from './play.ts';
import { diffConfig, formatDifference, RunDirectory, type MetricsRecord, type RunSummary } from './run_directory.ts';

/** Set by the caller (signal handlers) to stop at the end of the current agent step. */
export interface StopFlag {
  requested: string | null;
}

export interface TrainOptions {
  config: RunConfig;
  outDir: string;
  stop: StopFlag;
  progress: ProgressReporter;
  /**
   * Save the replay memory with the newest checkpoint (default true; up to GBs), so a resume continues the same
   * experiment. Without it a resume refills the memory with the current policy, learning nothing for
   * minReplayHistory steps: a different run, counted in summary.json's replay_refills.
   */
  saveReplay?: boolean;
  /** TensorBoard event files: true for RUN_DIR/events, or a directory of their own (a sweep's logdir/<run id>). */
  tensorboard?: boolean | string;
  threads?: number | null;
  /**
   * Complete checkpoints to keep (>= 1; the newest alone holds the replay memory). Recorded in config.json's
   * `settings` (not part of the config): a resume without it keeps the recorded value, else DEFAULT_KEEP_CHECKPOINTS.
   */
  keepCheckpoints?: number;
  pythonPath?: string;
  /** Emulator processes for the evaluation environments (default: one per core, at most one per env). */
  evalProcesses?: number;
  /**
   * --capture-video K: after every K-th completed iteration's checkpoint, record one evaluation-style episode
   * (ε_eval, own emulator process and generators, so training is unchanged) into videos/iter-<N>.mp4. Off if unset.
   */
  captureVideoEvery?: number | null;
  /** Agent steps between diagnostics.jsonl records (default defaultDiagnosticsEvery; not part of the config). */
  diagnosticsEvery?: number;
  /** Opens the TensorBoard writer of a logdir (default: tfjs-node's summaryFileWriter); tests give a failing one. */
  openScalarWriter?: (logdir: string) => ScalarWriter;
}

/** What the trainer needs of a TensorBoard writer. */
export interface ScalarWriter {
  scalar(name: string, value: number, step: number): void;
  flush(): void;
}

export type TrainStatus = 'completed' | 'interrupted' | 'diverged' | 'failed' | 'already-completed';

export interface TrainResult {
  status: TrainStatus;
  runDir: string;
  summary: RunSummary;
}

/**
 * After a stop request, how long an emulator request may still take before it is abandoned (the emulator killed) so
 * that the checkpoint does not wait for an emulator that may never answer.
 */
const STOP_GRACE_MS = 2000;

/**
 * With --tensorboard, the training loss is written every this many agent steps (250 updates; at least 4 times an
 * iteration for short ones), not only per iteration (250,000 steps at the dopamine preset: too coarse to watch a
 * run), and every episode's return as it ends.
 */
const TENSORBOARD_LOSS_EVERY_STEPS = 1000;
const lossScalarEvery = (trainingSteps: number) => Math.max(1, Math.min(TENSORBOARD_LOSS_EVERY_STEPS, Math.floor(trainingSteps / 4)));

/**
 * diagnostics.jsonl gets a record every this many agent steps by default: 50 an iteration, at least 1,000 steps
 * apart (dopamine preset: every 5,000 steps; reduced: 1,000). A record reads every weight and buffer back (~0.1 s
 * on the dopamine network), so this costs well under 1 % of a run; a per-iteration record alone (2 points in a
 * 2-iteration run) could not show how fast ‖w‖ shrinks before it settles.
 */
export function defaultDiagnosticsEvery(trainingSteps: number): number {
  return Math.max(1000, Math.floor(trainingSteps / 50));
}

/** The TensorBoard tag of a metrics.jsonl key: grouped as train/, eval/, optim/ (the weight-decay signals), perf/. */
export function scalarTag(key: string): string {
  if (key.startsWith('train_')) return `train/${key.slice('train_'.length)}`;
  if (key === 'eval_sps') return 'perf/eval_steps_per_second';
  if (key.startsWith('eval_')) return `eval/${key.slice('eval_'.length)}`;
  if (key === 'loss_mean' || key === 'epsilon' || key === 'updates') return `train/${key === 'loss_mean' ? 'loss_iteration_mean' : key}`;
  if (key === 'sps') return 'perf/steps_per_second';
  if (key === 'iteration_seconds' || key === 'wall_seconds' || key === 'emulator_restarts') return `perf/${key}`;
  return `optim/${key}`;
}

/** More emulator crashes than this in one iteration means something is systematically wrong: fail the run. */
const MAX_RESTARTS_PER_ITERATION = 3;

/** Progress of the iteration in hand, saved in mid-iteration checkpoints. */
interface IterationProgress {
  phase: 'train' | 'eval';
  trainSteps: number;
  trainReturns: number[];
  lossSum: number;
  lossCount: number;
  trainSeconds: number;
  restarts: number;
}

interface RunState {
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

function freshProgress(): IterationProgress {
  return { phase: 'train', trainSteps: 0, trainReturns: [], lossSum: 0, lossCount: 0, trainSeconds: 0, restarts: 0 };
}

function mean(xs: readonly number[]): number | null {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

function std(xs: readonly number[]): number | null {
  const m = mean(xs);
  return m === null ? null : Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
}

/**
 * Emulator streams of one run: 0 is the training environment, 1 + k is evaluation environment k. ALE's seed is
 * a 31-bit integer; the run seed, the stream and the session each get a field of it.
 */
const SEED_BITS = 14; // run seeds 0..16383
const STREAM_BITS = 7; // the training env and up to 127 evaluation envs (presets allow 64)
const SESSION_BITS = 10; // 1024 sessions before the session field wraps
const TRAIN_STREAM = 0;
const evalStream = (k: number): number => 1 + k;
/** The emulator of --capture-video's episodes: the last stream (evaluation uses at most 64), the iteration as session. */
const VIDEO_STREAM = 2 ** STREAM_BITS - 1;

/** A bijection of [0, 2^31): xorshift-multiply rounds (each step is invertible modulo 2^31). */
function permute31(x: number): number {
  const mask = 0x7fffffff;
  let h = x & mask;
  h = (h ^ (h >>> 16)) & mask;
  h = Math.imul(h, 0x45d9f3b) & mask;
  h = (h ^ (h >>> 15)) & mask;
  h = Math.imul(h, 0x2c1b3c6d | 1) & mask;
  h = (h ^ (h >>> 16)) & mask;
  return h;
}

/**
 * The ALE seed of one emulator of a run: a fixed function of (run seed, stream, session). For run seeds
 * 0..16383, streams 0..127 and sessions 0..1023 the fields are packed side by side and scrambled by a bijection,
 * so no two emulators of any two such runs share a seed (tested over run seeds 0..9999). Outside those ranges the
 * fields are hashed, which is still deterministic but no longer guaranteed distinct. The scramble only keeps the
 * seeds from looking sequential; ALE's generator does not need it.
 */
export function emulatorSeed(runSeed: number, stream: number, session: number): number {
  const fits = (v: number, bits: number) => Number.isInteger(v) && v >= 0 && v < 2 ** bits;
  if (fits(runSeed, SEED_BITS) && fits(stream, STREAM_BITS)) {
    const sessionField = ((session % 2 ** SESSION_BITS) + 2 ** SESSION_BITS) % 2 ** SESSION_BITS;
    return permute31(runSeed + stream * 2 ** SEED_BITS + sessionField * 2 ** (SEED_BITS + STREAM_BITS));
  }
  // FNV-1a over the whole key, each field separated, then the same scramble.
  let h = 2166136261;
  for (const ch of `${runSeed}/${stream}/${session}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return permute31(h >>> 1);
}

class Interrupted extends Error {}

/** A checkpoint made under another config than config.json holds now (config.json was edited). */
export class CheckpointConfigMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointConfigMismatchError';
  }
}

/** Refuses to continue a checkpoint under a config that differs from its own, except in the mutable keys. */
function assertSameConfig(saved: RunConfig, current: RunConfig, checkpointDir: string): void {
  const differences = diffConfig(saved, current).filter((d) => !(MUTABLE_CONFIG_KEYS as readonly string[]).includes(d.key));
  if (differences.length === 0) return;
  throw new CheckpointConfigMismatchError(
    `the checkpoint ${checkpointDir} was made under another config than config.json now holds ` +
      `(${differences.map(formatDifference).join('; ')}): config.json was edited. Put it back, or start the new config in a new --out directory.`,
  );
}

export class Trainer {
  private bridge!: AleBridge;
  private trainEnv!: AtariEnv;
  private evalEnvs: AtariEnv[] = [];
  /** The evaluation environments' own processes, stepped concurrently; the training env stays on `bridge`. */
  private evalPool: BridgePool | null = null;
  private agent!: DqnAgent;
  private run!: RunDirectory;
  private state!: Omit<RunState, 'agent'>;
  private progress: IterationProgress = freshProgress();
  private readonly recentReturns: number[] = [];
  private sessionStart = 0;
  private wallAtSessionStart = 0;
  private writer: ScalarWriter | null = null;
  /**
   * What summary.json reports (iterations, steps, returns) as of the newest checkpoint: a summary written after a
   * failure between an iteration's metrics and its checkpoint must not claim the iteration a resume will redo.
   */
  private checkpointed!: Pick<RunState, 'nextIteration' | 'envSteps' | 'lastTrainReturn' | 'lastEvalReturn'>;
  private keepCheckpoints = DEFAULT_KEEP_CHECKPOINTS;
  private diagnosticsEvery = 1000;
  /** The last learning-phase rate the progress reporter measured: summary.json keeps it for --status after a stop. */
  private learningStepsPerSecond: number | null = null;

  constructor(private readonly options: TrainOptions) {}

  private get config(): RunConfig {
    return this.options.config;
  }

  private log(line: string): void {
    this.options.progress.line(line);
  }

  async run_(): Promise<TrainResult> {
    const { config } = this;
    const protocol = { ...(config.protocol === 'nature' ? NATURE_PROTOCOL : DOPAMINE_PROTOCOL), maxEpisodeSteps: config.maxEpisodeSteps };
    this.bridge = await AleBridge.start(this.options.pythonPath ? { pythonPath: this.options.pythonPath } : {});
    // A stop request is honoured at the end of the current step; if the emulator has not answered STOP_GRACE_MS
    // later (hung, or stopped), its request is abandoned, so the checkpoint is written without it.
    let stopSeenAt: number | null = null;
    const stopWatch = setInterval(() => {
      if (!this.options.stop.requested) return;
      stopSeenAt ??= performance.now();
      if (performance.now() - stopSeenAt < STOP_GRACE_MS) return;
      if (this.bridge.interruptIfBusy() || this.evalPool?.interruptIfBusy()) this.log('the emulator did not answer after the stop request: abandoned it to checkpoint now');
    }, 250);
    stopWatch.unref();
    try {
      // The run directory is opened only after the game name is known to be valid: a bad game writes nothing.
      resolveGame(config.game);
      this.run = RunDirectory.create(this.options.outDir, config as never, describeEnvironment(this.bridge.aleVersion, this.options.threads ?? null), {
        mutableKeys: MUTABLE_CONFIG_KEYS,
        // Before the resume is recorded: the checkpoint it would continue must have been made under this config.
        beforeResume: (root) => {
          const found = findLatestCheckpoint(root, { warn: () => {} });
          const saved = found && readJsonFile<Partial<RunState>>(path.join(found.dir, 'state.json'), 'checkpoint state');
          if (found && saved?.config !== undefined) assertSameConfig(saved.config, config, found.dir);
        },
      });
      for (const warning of this.run.warnings) this.log(`warning: ${warning}`);
      if (this.run.alreadyCompleted) {
        const summary = this.run.readSummary()!;
        this.run.releaseLock();
        return { status: 'already-completed', runDir: this.run.dir, summary };
      }
      return await this.train(protocol);
    } finally {
      clearInterval(stopWatch);
      await this.bridge.close();
      await this.evalPool?.close();
      this.agent?.dispose();
      this.run?.releaseLock();
    }
  }

  private async train(protocol: typeof DOPAMINE_PROTOCOL): Promise<TrainResult> {
    const { config } = this;
    const name = displayName(config.game);
    const keep = this.run.recordSettings({ keepCheckpoints: this.options.keepCheckpoints }).keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS;
    if (!Number.isSafeInteger(keep) || (keep as number) < 1) {
      throw new Error(`${this.run.paths.config}: settings.keepCheckpoints must be a whole number >= 1, got ${JSON.stringify(keep)} (edit it, or give --keep-checkpoints N)`);
    }
    this.keepCheckpoints = keep as number;
    this.diagnosticsEvery = this.options.diagnosticsEvery ?? defaultDiagnosticsEvery(config.trainingSteps);
    this.state = { format: 1, nextIteration: 0, envSteps: 0, wallSeconds: 0, partial: null, lastTrainReturn: null, lastEvalReturn: null };
    let resumedFrom: number | null = null;
    let agentState: AgentState | null = null;
    let tensors: Map<string, LoadedTensor> | null = null;
    let replayDir: string | null = null;
    if (this.run.mode === 'resume') {
      const found = findLatestCheckpoint(this.run, { warn: (m) => this.log(`warning: ${m}`) });
      if (found) {
        const loaded = found.load();
        const saved = loaded.state as RunState;
        agentState = saved.agent;
        tensors = loaded.tensors;
        const { agent: _agent, config: _config, ...rest } = saved;
        this.state = rest;
        resumedFrom = found.iteration;
        const replay = found.extraDir && path.join(found.extraDir, 'replay');
        replayDir = replay && fs.existsSync(replay) ? replay : null;
      }
      this.run.truncateMetricsAfter(this.state.nextIteration - 1);
      const damaged = this.run.truncateDiagnosticsAfter(this.state.envSteps);
      if (damaged) this.log(`warning: ${damaged}`);
    }

    // Environments: the training one, and the evaluation ones stepped together. Seeds are derived from the run
    // seed, the env and the session's index, so a resumed session does not replay an earlier one's emulator
    // randomness (a session that died before its first checkpoint is replayed exactly).
    const start = this.state.nextIteration;
    const session = this.state.sessions ?? start;
    this.state.sessions = session + 1;
    this.trainEnv = await this.bridge.createEnv({ ...protocol, game: config.game, seed: emulatorSeed(config.seed, TRAIN_STREAM, session) });
    if (config.evalSteps > 0) {
      // The evaluation envs get processes of their own, stepped concurrently. Env k keeps its own seed whichever
      // process hosts it, so the number of processes changes no result.
      const pool = await BridgePool.start(this.options.evalProcesses ?? defaultPoolSize(config.evalEnvs), this.options.pythonPath ? { pythonPath: this.options.pythonPath } : {});
      this.evalPool = pool;
      this.evalEnvs = await Promise.all(Array.from({ length: config.evalEnvs }, (_, k) =>
        pool.createEnv({ ...protocol, game: config.game, seed: emulatorSeed(config.seed, evalStream(k), session) })));
    }
    this.agent = new DqnAgent({ numActions: this.trainEnv.numActions, hyperparameters: config.agent, seed: config.seed });
    if (agentState && tensors) await this.agent.importState(agentState, tensors);
    if (replayDir) this.agent.restoreReplay(ReplayMemory.load(replayDir));
    if (this.options.tensorboard) {
      const logdir = typeof this.options.tensorboard === 'string' ? this.options.tensorboard : path.join(this.run.dir, 'events');
      const open = this.options.openScalarWriter ?? ((dir: string): ScalarWriter => {
        const writer = tf.node.summaryFileWriter(dir);
        return { scalar: (n, v, s) => writer.scalar(n, v, s), flush: () => writer.flush() };
      });
      try {
        this.writer = open(logdir);
      } catch (error) {
        this.tensorboardFailed(error);
      }
    }

    const optimizer = config.agent.optimizer;
    const budget = `${config.iterations} iterations x ${formatCount(config.trainingSteps)} training steps` +
      (config.evalSteps > 0 ? ` + ${formatCount(config.evalSteps)} evaluation steps on ${config.evalEnvs} envs in ${this.evalPool?.size} emulator processes` : '');
    this.log(`${name}: DQN, ${optimizer.name} λ=${optimizer.weightDecay}${optimizer.weightDecaySchedule !== 'constant' ? ` (${optimizer.weightDecaySchedule})` : ''}, ` +
      `seed ${config.seed}, preset ${config.preset}: ${budget}; ${this.trainEnv.numActions} actions; ${this.agent.online.parameterCount.toLocaleString('en-US')} parameters`);
    this.log(`run directory: ${this.run.dir}`);
    if (resumedFrom !== null) {
      const at = this.state.partial ? `partway through iteration ${start + 1} (${formatCount(this.state.partial.trainSteps)} steps done)` : `after iteration ${start}`;
      this.log(`resuming ${at}, ${formatCount(this.state.envSteps)} training steps so far`);
      if (replayDir) {
        this.log(`replay memory restored from the checkpoint: ${formatCount(this.agent.replay.size)} transitions`);
      } else {
        this.state.replayRefills = (this.state.replayRefills ?? 0) + 1;
        this.log(`warning: the checkpoint holds no replay memory (saved without it, or --no-save-replay): refilling ${formatCount(config.agent.minReplayHistory)} transitions ` +
          'with the current policy before learning resumes; this run now differs from an uninterrupted one (summary.json replay_refills)');
      }
    } else if (this.run.mode === 'resume') {
      this.log('no complete checkpoint found: starting from the beginning');
    }

    this.checkpointed = this.checkpointAccount();
    this.sessionStart = performance.now();
    this.wallAtSessionStart = this.state.wallSeconds;
    this.progress = this.state.partial ?? freshProgress();
    this.writeSummary('running');
    this.options.progress.setSnapshotListener((snapshot) => {
      if (snapshot.learningStepsPerSecond !== null) this.learningStepsPerSecond = snapshot.learningStepsPerSecond;
      try {
        this.run.writeProgress(snapshot);
      } catch {
        // Only a view of the run for a person watching (disk full, say): never a reason to stop training.
      }
    });
    try {
      for (let iteration = start; iteration < config.iterations; iteration++) {
        await this.runIteration(iteration);
      }
    } catch (error) {
      if (error instanceof Interrupted) {
        await this.checkpoint(true);
        const summary = this.writeSummary('interrupted');
        this.log(`stopped by ${this.options.stop.requested}: checkpoint written partway through iteration ${this.state.nextIteration + 1}. ` +
          `Resume with the same command (or: npm run atari -- --resume --out ${shellQuote(this.run.dir)})`);
        return { status: 'interrupted', runDir: this.run.dir, summary };
      }
      if (error instanceof DivergenceError) {
        const summary = this.writeSummary('diverged', { diverged_at_step: error.trainingStep, error: error.message });
        this.log(`diverged: ${error.message}. The run stops here (status 'diverged' in summary.json).`);
        return { status: 'diverged', runDir: this.run.dir, summary };
      }
      this.writeSummary('failed', { error: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      this.options.progress.setSnapshotListener(null);
      try {
        this.run.clearProgress();
      } catch {
        // As above: a view, not a result.
      }
      this.tensorboard((w) => w.flush());
    }
    const summary = this.writeSummary('completed');
    dropCheckpointExtras(this.run); // a completed run is not resumed; extending it (more --iterations) refills
    this.log(`completed ${config.iterations} iterations in ${formatDuration(this.wallSeconds())}; results in ${this.run.dir}`);
    return { status: 'completed', runDir: this.run.dir, summary };
  }

  private wallSeconds(): number {
    return this.wallAtSessionStart + (performance.now() - this.sessionStart) / 1000;
  }

  private async runIteration(iteration: number): Promise<void> {
    const { config } = this;
    const p = this.progress;
    const iterationStart = performance.now();
    if (p.phase === 'train') {
      await this.trainingPhase(iteration);
      p.phase = 'eval';
    }
    const evalResult = config.evalSteps > 0 ? await this.evaluationPhase(iteration) : null;
    this.agent.checkWeightsFinite();
    const d = this.agent.optimizer.diagnostics();
    const trainMean = mean(p.trainReturns);
    const evalMean = evalResult ? mean(evalResult.returns) : null;
    this.state.nextIteration = iteration + 1;
    this.state.partial = null;
    this.state.lastTrainReturn = trainMean;
    this.state.lastEvalReturn = evalMean;
    const record: MetricsRecord = {
      iteration,
      env_steps: this.state.envSteps,
      train_episodes: p.trainReturns.length,
      train_return_mean: trainMean,
      train_return_std: std(p.trainReturns),
      eval_episodes: evalResult ? evalResult.returns.length : null,
      eval_return_mean: evalMean,
      eval_return_std: evalResult ? std(evalResult.returns) : null,
      loss_mean: p.lossCount ? p.lossSum / p.lossCount : null,
      updates: this.agent.updates,
      epsilon: this.agent.epsilon,
      sps: p.trainSeconds > 0 ? p.trainSteps / p.trainSeconds : null,
      eval_sps: evalResult ? evalResult.steps / evalResult.seconds : null,
      iteration_seconds: (performance.now() - iterationStart) / 1000,
      wall_seconds: this.wallSeconds(),
      ...this.stateFields(d),
      wd_to_grad_norm_ratio: d.wdToGradNormRatio,
      moment_wd_to_grad_median: d.momentWdToGradMedian,
      moment_wd_to_grad_norm_ratio: d.momentWdToGradNormRatio,
      emulator_restarts: p.restarts,
    };
    this.run.appendMetrics(record);
    this.writeScalars(record);
    this.progress = freshProgress();
    await this.checkpoint(false);
    this.writeSummary('running');
    const fmt = (v: number | null) => (v === null ? '-' : v.toFixed(2));
    this.log(`iteration ${iteration + 1}/${config.iterations}: train return ${fmt(trainMean)} over ${p.trainReturns.length} episodes` +
      (evalResult ? `, eval return ${fmt(evalMean)} over ${evalResult.returns.length}` : '') +
      `, loss ${record.loss_mean === null ? '-' : (record.loss_mean as number).toExponential(3)}, ${formatCount(this.state.envSteps)} steps, ` +
      `${record.sps === null ? '-' : (record.sps as number).toFixed(1)} steps/s, ‖w‖ ${(record.weight_norm as number).toFixed(2)}`);
    await this.captureVideo(iteration);
  }

  /**
   * --capture-video: one episode of the online network into videos/iter-<N>.mp4 (N: the iteration, as its
   * checkpoint's number), after the checkpoint. A failed video is a warning, never the run's end; a stop request
   * abandons it (no file).
   */
  private async captureVideo(iteration: number): Promise<void> {
    const every = this.options.captureVideoEvery;
    if (!every || (iteration + 1) % every !== 0) return;
    const { config } = this;
    const file = path.join(this.run.dir, 'videos', `iter-${String(iteration).padStart(6, '0')}.mp4`);
    try {
      const result = await captureEpisodeVideo({
        config, network: this.agent.online, file,
        emulatorSeed: emulatorSeed(config.seed, VIDEO_STREAM, iteration), actSeed: `video-${config.seed}-${iteration}`,
        stop: () => this.options.stop.requested !== null,
        ...(this.options.pythonPath ? { pythonPath: this.options.pythonPath } : {}),
      });
      if (result.video) this.log(`video: ${file} (return ${result.return}, ${result.steps} steps, ${result.video.frames} frames, ${result.video.codec})`);
    } catch (error) {
      this.log(`warning: no video for iteration ${iteration + 1}: ${(error as Error).message.split('\n')[0]}`);
    }
  }

  /** One diagnostics.jsonl record: the weights and the optimizer's buffers now (see RUN_FILES.diagnostics). */
  private appendDiagnostics(iteration: number): void {
    const d = this.agent.optimizer.diagnostics();
    this.run.appendDiagnostics({
      iteration,
      env_steps: this.state.envSteps,
      updates: this.agent.updates,
      ...this.stateFields(d),
    });
  }

  /** The weights and the optimizer's buffers as metrics.jsonl and diagnostics.jsonl record them. */
  private stateFields(d: OptimizerDiagnostics): Record<string, unknown> {
    return {
      weight_norm: this.onlineWeightNorm(),
      decayed_weight_norm: d.step > 0 ? d.decayedWeightNorm : null,
      eps_dominated_share: d.epsDominatedShare,
      eps_dominated_share_wd: d.epsDominatedShareWd,
      sqrt_vhat_over_eps_log10: d.sqrtVHatOverEpsLog10,
      m_over_w_log10: d.momentToWeightLog10,
      moment_wd_share: d.momentWdShare,
      wd_to_grad_median: d.wdToGradMedian,
      update_norm_ratio: d.updateNormRatio,
    };
  }

  private onlineWeightNorm(): number {
    return tf.tidy(() => Math.sqrt(tf.addN(this.agent.online.variables.map((v) => tf.sum(tf.square(v)))).dataSync()[0]));
  }

  /**
   * Every TensorBoard write goes through here. Logging is never worth a run: a failure (a full disk is TensorFlow's
   * "Invalid TF_Status: 8") is one warning, and TensorBoard is off for the rest of the session.
   */
  private tensorboard(write: (writer: ScalarWriter) => void): void {
    if (!this.writer) return;
    try {
      write(this.writer);
    } catch (error) {
      this.tensorboardFailed(error);
    }
  }

  private tensorboardFailed(error: unknown): void {
    this.writer = null;
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    this.log(`warning: TensorBoard logging failed (${message}); it is off for the rest of this session (metrics.jsonl has every value)`);
  }

  /** The iteration's metrics as TensorBoard scalars, grouped by tag prefix (train/, eval/, optim/, perf/). */
  private writeScalars(record: MetricsRecord): void {
    this.tensorboard((writer) => {
      const step = record.env_steps as number;
      for (const [key, value] of Object.entries(record)) {
        if (typeof value === 'number' && key !== 'iteration' && key !== 'env_steps') writer.scalar(scalarTag(key), value, step);
      }
      for (const key of ['m_over_w_log10', 'moment_wd_share', 'sqrt_vhat_over_eps_log10'] as const) {
        const q = record[key] as Record<string, number> | null;
        if (q) for (const k of ['p5', 'p25', 'p50', 'p75', 'p95']) if (typeof q[k] === 'number') writer.scalar(`optim/${key}/${k}`, q[k], step);
      }
      writer.flush();
    });
  }

  /** With TensorBoard on: the loss of the updates since the last call, folded into the iteration's mean as well. */
  private writeLossScalar(): void {
    const loss = this.agent.takeLossStats();
    this.progress.lossSum += loss.sum;
    this.progress.lossCount += loss.count;
    if (loss.count > 0) this.tensorboard((w) => w.scalar('train/loss', loss.sum / loss.count, this.state.envSteps));
  }

  /** Dopamine's run_one_phase in training mode: whole episodes until the phase has at least trainingSteps steps. */
  private async trainingPhase(iteration: number): Promise<void> {
    const { config, agent } = this;
    const p = this.progress;
    agent.evalMode = false;
    let phaseStart = performance.now();
    const account = () => {
      const now = performance.now();
      p.trainSeconds += (now - phaseStart) / 1000;
      phaseStart = now;
      const loss = agent.takeLossStats();
      p.lossSum += loss.sum;
      p.lossCount += loss.count;
    };
    try {
      while (p.trainSteps < config.trainingSteps) {
        if (this.options.stop.requested) throw new Interrupted();
        const episodeReturn = await this.trainingEpisode(iteration);
        if (episodeReturn !== null) {
          p.trainReturns.push(episodeReturn);
          this.pushRecent(episodeReturn);
          this.tensorboard((w) => w.scalar('train/episode_return', episodeReturn, this.state.envSteps));
        }
      }
    } finally {
      account();
    }
  }

  /** One training episode (through life losses, to game over or the time limit). Null if it was dropped. */
  private async trainingEpisode(iteration: number): Promise<number | null> {
    const { agent } = this;
    const p = this.progress;
    let step: EnvStep;
    try {
      step = await this.trainEnv.reset();
    } catch (error) {
      await this.recoverEmulator(error, 'a training reset');
      return null;
    }
    let action = agent.beginEpisode(step.frame);
    let episodeReturn = 0;
    for (;;) {
      try {
        step = await this.trainEnv.step(action);
      } catch (error) {
        agent.endEpisode(0, false); // closes the episode in the replay; a non-terminal end is never sampled
        await this.recoverEmulator(error, 'a training episode');
        return null;
      }
      episodeReturn += step.reward;
      p.trainSteps += 1;
      this.state.envSteps += 1;
      if (this.writer && this.state.envSteps % lossScalarEvery(this.config.trainingSteps) === 0) this.writeLossScalar();
      if (this.state.envSteps % this.diagnosticsEvery === 0) this.appendDiagnostics(iteration);
      this.reportProgress(iteration, 'train', p.trainSteps, this.config.trainingSteps);
      const outcome = stepOutcome(step);
      if (outcome === 'episode-over') {
        agent.endEpisode(step.reward, step.terminal);
        return episodeReturn;
      }
      if (this.options.stop.requested) {
        agent.endEpisode(step.reward, false); // the episode is cut here, as a time limit would
        throw new Interrupted();
      }
      if (outcome === 'life-lost') {
        // An episode end for the agent; the game goes on from this step's observation (Dopamine's runner).
        agent.endEpisode(step.reward, true);
        try {
          step = await this.trainEnv.reset();
        } catch (error) {
          await this.recoverEmulator(error, 'a training reset');
          return null;
        }
        action = agent.beginEpisode(step.frame);
      } else {
        action = agent.step(step.reward, step.frame);
      }
    }
  }

  /** Evaluation: ε_eval, several environments stepped together, greedy actions from one batched forward pass. */
  private async evaluationPhase(iteration: number): Promise<{ returns: number[]; steps: number; seconds: number }> {
    const { config, agent } = this;
    const envs = this.evalEnvs;
    const pool = this.evalPool!;
    const n = envs.length;
    const stacks = new FrameStacks(n, envs[0].frameBytes);
    const returnsSoFar = new Float64Array(n);
    const returns: number[] = [];
    const started = performance.now();
    let steps = 0;
    let active: number[] = [];
    const begin = async (ks: number[]) => {
      const first = await pool.reset(ks.map((k) => envs[k]));
      ks.forEach((k, i) => {
        stacks.clear(k);
        stacks.push(k, first[i].frame);
      });
    };
    agent.evalMode = true;
    try {
      const all = [...Array(n).keys()];
      try {
        await begin(all);
        active = all;
      } catch (error) {
        await this.recoverEmulator(error, 'an evaluation reset', pool);
        await begin(all);
        active = all;
      }
      while (active.length > 0) {
        if (this.options.stop.requested) throw new Interrupted();
        const packed = active.length === n ? stacks.data : stacks.gather(active);
        const actions = agent.actEpsilonGreedy(packed, active.length, config.agent.epsilonEval);
        let results: EnvStep[];
        try {
          results = await pool.step(active.map((k) => envs[k]), actions);
        } catch (error) {
          // The pool restarts all its processes: drop every open episode and start it again in a fresh game.
          await this.recoverEmulator(error, 'evaluation', pool);
          active.forEach((k) => (returnsSoFar[k] = 0));
          await begin(active);
          continue;
        }
        const ending: number[] = [];
        const continuing: number[] = [];
        const resetting: number[] = [];
        results.forEach((r, i) => {
          const k = active[i];
          returnsSoFar[k] += r.reward;
          steps += 1;
          const outcome = stepOutcome(r);
          if (outcome === 'episode-over') {
            returns.push(returnsSoFar[k]);
            this.pushRecent(returnsSoFar[k]);
            this.tensorboard((w) => w.scalar('eval/episode_return', returnsSoFar[k], this.state.envSteps));
            returnsSoFar[k] = 0;
            ending.push(k);
          } else if (outcome === 'life-lost') {
            resetting.push(k); // life lost (Nature protocol): same game, fresh frame stack
          } else {
            stacks.push(k, r.frame);
            continuing.push(k);
          }
        });
        // Dopamine's phase: no new episode starts once the phase has its steps; open ones are played out.
        const restart = steps < config.evalSteps ? ending : [];
        if (restart.length + resetting.length > 0) await begin([...restart, ...resetting]);
        active = [...continuing, ...restart, ...resetting].sort((a, b) => a - b);
        this.reportProgress(iteration, 'eval', Math.min(steps, config.evalSteps), config.evalSteps);
      }
    } finally {
      agent.evalMode = false;
      this.options.progress.resetWindow();
    }
    return { returns, steps, seconds: (performance.now() - started) / 1000 };
  }

  /** Restarts `emulators` (default: the training env's bridge) after an EmulatorCrashedError; rethrows anything else. */
  private async recoverEmulator(error: unknown, during: string, emulators: { restart(): Promise<void> } = this.bridge): Promise<void> {
    if (!(error instanceof EmulatorCrashedError)) throw error;
    // A stop signal sent to the whole process group (Ctrl-C, Slurm) may have ended the emulator first: checkpoint.
    if (this.options.stop.requested) throw new Interrupted();
    this.progress.restarts += 1;
    if (this.progress.restarts > MAX_RESTARTS_PER_ITERATION) {
      throw new Error(`the emulator died ${this.progress.restarts} times in one iteration; last: ${error.message}`);
    }
    this.log(`warning: the emulator died during ${during} (${error.message.split('\n')[0]}); restarting it and dropping the episode`);
    await emulators.restart();
  }

  private pushRecent(value: number): void {
    this.recentReturns.push(value);
    if (this.recentReturns.length > 20) this.recentReturns.shift();
  }

  private reportProgress(iteration: number, phase: 'train' | 'eval', phaseSteps: number, phaseTarget: number): void {
    const { config } = this;
    const perIteration = config.trainingSteps + config.evalSteps;
    const done = iteration * perIteration + (phase === 'train' ? phaseSteps : config.trainingSteps + phaseSteps);
    this.options.progress.update({
      iteration, iterations: config.iterations, phase, phaseSteps, phaseTarget,
      runSteps: done, runTarget: config.iterations * perIteration,
      epsilon: this.agent.epsilon, recentReturns: this.recentReturns,
      // Learning starts once the replay holds minReplayHistory transitions, about that many training steps in.
      warmupStepsLeft: Math.max(0, config.agent.minReplayHistory - this.state.envSteps),
    });
  }

  /** Saves the run state; mid-iteration (`partial`) checkpoints take the number of the iteration in hand. */
  private async checkpoint(partial: boolean): Promise<void> {
    this.state.wallSeconds = this.wallSeconds();
    this.state.partial = partial ? this.progress : null;
    const { state: agentState, tensors } = await this.agent.exportState();
    const label = partial ? this.state.nextIteration : this.state.nextIteration - 1;
    const replay = this.agent.replay;
    await saveCheckpoint(this.run, label, {
      state: { ...this.state, config: this.config, agent: agentState },
      tensors,
      ...(this.options.saveReplay !== false ? { writeExtra: (dir: string) => replay.save(path.join(dir, 'replay')) } : {}),
    }, { keep: this.keepCheckpoints, keepExtra: 1 });
    this.checkpointed = this.checkpointAccount();
  }

  private checkpointAccount(): Trainer['checkpointed'] {
    const { nextIteration, envSteps, lastTrainReturn, lastEvalReturn } = this.state;
    return { nextIteration, envSteps, lastTrainReturn, lastEvalReturn };
  }

  private writeSummary(status: string, extra: Record<string, unknown> = {}): RunSummary {
    const { config } = this;
    const summary: RunSummary = {
      status,
      game: config.game,
      optimizer: config.agent.optimizer.name,
      weight_decay: config.agent.optimizer.weightDecay,
      seed: config.seed,
      preset: config.preset,
      iterations_completed: this.checkpointed.nextIteration,
      iterations_planned: config.iterations,
      env_steps: this.checkpointed.envSteps,
      final_train_return_mean: this.checkpointed.lastTrainReturn,
      final_eval_return_mean: this.checkpointed.lastEvalReturn,
      wall_seconds: this.wallSeconds(),
      replay_refills: this.state.replayRefills ?? 0,
      // A session stopped before it measured a rate keeps the one an earlier session wrote.
      learning_steps_per_second: this.learningStepsPerSecond ?? previousLearningRate(this.run),
      ...extra,
      updated_at: new Date().toISOString(),
    };
    this.run.writeSummary(summary);
    return summary;
  }
}

function previousLearningRate(run: RunDirectory): number | null {
  try {
    const rate = run.readSummary()?.learning_steps_per_second;
    return typeof rate === 'number' && Number.isFinite(rate) && rate > 0 ? rate : null;
  } catch {
    return null;
  }
}

/** Trains one run (or resumes it, or reports it already completed). */
export function trainRun(options: TrainOptions): Promise<TrainResult> {
  return new Trainer(options).run_();
}
