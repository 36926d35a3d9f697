// One DQN training run, Dopamine's way (run_experiment.Runner): iterations of a training phase (whole episodes
// until at least `trainingSteps` agent steps) and an optional evaluation phase (ε_eval; several environments acting
// through one batched forward pass), with a metrics line, a summary and a checkpoint after every iteration.
//
// Crash safety: metrics are appended before the iteration's checkpoint (a resume truncates what the checkpoint
// does not cover), and summary.json reports only what the newest checkpoint holds; a stop request (SIGINT/SIGTERM/SIGUSR1, set by the caller) ends the current step, turns the
// open episode into a truncated one, and saves a mid-iteration checkpoint under the iteration's own number, so
// at most one agent step of work is lost. A dead emulator is restarted and the broken episode dropped. TensorBoard
// is only a view: a failed write is one warning and turns it off.
import path from 'node:path';
import { AleBridge, EmulatorCrashedError, stepOutcome, type AtariEnv, type EnvProtocol, type EnvStep } from '../../envs/ale_bridge.ts';
import { BridgePool, defaultPoolSize } from '../../envs/bridge_pool.ts';
import { emulatorSeed, evalStream, TRAIN_STREAM, VIDEO_STREAM } from '../../envs/emulator_seeds.ts';
import { displayName, resolveGame } from '../../envs/games.ts';
import { DivergenceError, DqnAgent } from '../../agents/dqn_agent.ts';
import { ReplayMemory } from '../../agents/replay.ts';
import { DEFAULT_KEEP_CHECKPOINTS, dropCheckpointExtras } from './checkpoints.ts';
import { describeEnvironment } from './environment.ts';
import { remainingLine } from './forecast.ts';
import { MUTABLE_CONFIG_KEYS, type RunConfig } from './presets.ts';
import { formatCount, formatDuration, shellQuote } from '../format.ts';
import { ProgressReporter } from './progress.ts';
import { captureEpisodeVideo, envProtocolOf } from './play.ts';
import { defaultDiagnosticsEvery, metricsRecord, stateFields } from './records.ts';
import { RunDirectory, type RunSummary } from './run_directory.ts';
import { assertResumableUnder, freshProgress, loadResumePoint, saveRunCheckpoint, type IterationProgress, type LoopState, type RunState } from './run_state.ts';
import { TensorBoardScalars, type ScalarWriter } from './tensorboard.ts';

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

/** More emulator crashes than this in one iteration means something is systematically wrong: fail the run. */
const MAX_RESTARTS_PER_ITERATION = 3;

class Interrupted extends Error {}

export class Trainer {
  private bridge!: AleBridge;
  private trainEnv!: AtariEnv;
  private evalEnvs: AtariEnv[] = [];
  /** The evaluation environments' own processes, stepped concurrently; the training env stays on `bridge`. */
  private evalPool: BridgePool | null = null;
  private agent!: DqnAgent;
  private run!: RunDirectory;
  private state!: LoopState;
  private progress: IterationProgress = freshProgress();
  private readonly recentReturns: number[] = [];
  private sessionStart = 0;
  private wallAtSessionStart = 0;
  private readonly tensorboard = new TensorBoardScalars((line) => this.log(line));
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
    const protocol = envProtocolOf(config);
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
        beforeResume: (root) => assertResumableUnder(root, config),
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

  private async train(protocol: EnvProtocol): Promise<TrainResult> {
    const { config } = this;
    const name = displayName(config.game);
    const keep = this.run.recordSettings({ keepCheckpoints: this.options.keepCheckpoints }).keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS;
    if (!Number.isSafeInteger(keep) || (keep as number) < 1) {
      throw new Error(`${this.run.paths.config}: settings.keepCheckpoints must be a whole number >= 1, got ${JSON.stringify(keep)} (edit it, or give --keep-checkpoints N)`);
    }
    this.keepCheckpoints = keep as number;
    this.diagnosticsEvery = this.options.diagnosticsEvery ?? defaultDiagnosticsEvery(config.trainingSteps);
    this.state = { format: 1, nextIteration: 0, envSteps: 0, wallSeconds: 0, partial: null, lastTrainReturn: null, lastEvalReturn: null };
    const resumed = this.run.mode === 'resume' ? loadResumePoint(this.run, (m) => this.log(`warning: ${m}`)) : null;
    if (resumed) this.state = resumed.state;
    if (this.run.mode === 'resume') {
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
    if (resumed) await this.agent.importState(resumed.agent, resumed.tensors);
    if (resumed?.replayDir) this.agent.restoreReplay(ReplayMemory.load(resumed.replayDir));
    if (this.options.tensorboard) {
      this.tensorboard.open(typeof this.options.tensorboard === 'string' ? this.options.tensorboard : path.join(this.run.dir, 'events'), this.options.openScalarWriter);
    }

    const optimizer = config.agent.optimizer;
    const budget = `${config.iterations} iterations x ${formatCount(config.trainingSteps)} training steps` +
      (config.evalSteps > 0 ? ` + ${formatCount(config.evalSteps)} evaluation steps on ${config.evalEnvs} envs in ${this.evalPool?.size} emulator processes` : '');
    this.log(`${name}: DQN, ${optimizer.name} λ=${optimizer.weightDecay}${optimizer.weightDecaySchedule !== 'constant' ? ` (${optimizer.weightDecaySchedule})` : ''}, ` +
      `seed ${config.seed}, preset ${config.preset}: ${budget}; ${this.trainEnv.numActions} actions; ${this.agent.online.parameterCount.toLocaleString('en-US')} parameters`);
    this.log(`run directory: ${this.run.dir}`);
    if (resumed) {
      const at = this.state.partial ? `partway through iteration ${start + 1} (${formatCount(this.state.partial.trainSteps)} steps done)` : `after iteration ${start}`;
      this.log(`resuming ${at}, ${formatCount(this.state.envSteps)} training steps so far; ${remainingLine(config, { trainSteps: this.state.envSteps, iterations: start })}`);
      if (resumed.replayDir) {
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
      this.tensorboard.flush();
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
    const record = metricsRecord({
      iteration, envSteps: this.state.envSteps, progress: p, evaluation: evalResult, updates: this.agent.updates, epsilon: this.agent.epsilon,
      iterationSeconds: (performance.now() - iterationStart) / 1000, wallSeconds: this.wallSeconds(), weightNorm: this.agent.onlineWeightNorm(), diagnostics: d,
    });
    const trainMean = record.train_return_mean as number | null;
    const evalMean = record.eval_return_mean as number | null;
    this.state.nextIteration = iteration + 1;
    this.state.partial = null;
    this.state.lastTrainReturn = trainMean;
    this.state.lastEvalReturn = evalMean;
    this.run.appendMetrics(record);
    this.tensorboard.metrics(record);
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
      ...stateFields(this.agent.onlineWeightNorm(), d),
    });
  }

  /** The loss sum and count of the updates since the last call, folded into the iteration's mean. */
  private takeLoss(): { sum: number; count: number } {
    const loss = this.agent.takeLossStats();
    this.progress.lossSum += loss.sum;
    this.progress.lossCount += loss.count;
    return loss;
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
      this.takeLoss();
    };
    try {
      while (p.trainSteps < config.trainingSteps) {
        if (this.options.stop.requested) throw new Interrupted();
        const episodeReturn = await this.trainingEpisode(iteration);
        if (episodeReturn !== null) {
          p.trainReturns.push(episodeReturn);
          this.pushRecent(episodeReturn);
          this.tensorboard.scalar('train/episode_return', episodeReturn, this.state.envSteps);
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
      if (this.tensorboard.lossDue(this.state.envSteps, this.config.trainingSteps)) this.tensorboard.loss(this.takeLoss(), this.state.envSteps);
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
    const actor = agent.createActor(n);
    const returnsSoFar = new Float64Array(n);
    const returns: number[] = [];
    const started = performance.now();
    let steps = 0;
    let active: number[] = [];
    const begin = async (ks: number[]) => {
      const first = await pool.reset(ks.map((k) => envs[k]));
      ks.forEach((k, i) => actor.begin(k, first[i].frame));
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
        const actions = actor.act(active, config.agent.epsilonEval);
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
            this.tensorboard.scalar('eval/episode_return', returnsSoFar[k], this.state.envSteps);
            returnsSoFar[k] = 0;
            ending.push(k);
          } else if (outcome === 'life-lost') {
            resetting.push(k); // life lost (Nature protocol): same game, fresh frame stack
          } else {
            actor.observe(k, r.frame);
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
    const label = partial ? this.state.nextIteration : this.state.nextIteration - 1;
    await saveRunCheckpoint(this.run, label, this.state, this.config, this.agent, { saveReplay: this.options.saveReplay !== false, keep: this.keepCheckpoints });
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
