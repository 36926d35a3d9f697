// The DQN agent, with Dopamine's interface: beginEpisode(frame) -> action, step(reward, frame) -> action,
// endEpisode(reward, terminal). It owns the online and target networks, the replay memory, the ε schedule, the
// acting generator (acting itself is agents/actor.ts's, for training and for evaluation's actors alike) and the
// optimizer; the runner owns the loop and the environment. Faithful to Dopamine's DQNAgent: training-step counting
// (begin_episode and step both count), learning once the replay holds more than minReplayHistory transitions,
// one gradient step every updatePeriodSteps, target sync every targetUpdatePeriodSteps, rewards clipped for
// learning only, zero-padded frame stacks at episode start.
import seedrandom from 'seedrandom';
import * as tf from '../src/tf.ts';
import { createOptimizer, type OptimizerOptions, type WeightDecayOptimizer } from '../src/optim/index.ts';
import { Actor } from './actor.ts';
import { linearlyDecayingEpsilon } from './epsilon.ts';
import { STACK_SIZE } from './frame_stack.ts';
import { QNetwork, type ConvPadding } from './network.ts';
import { ReplayMemory, type ReplayBatch } from './replay.ts';

export interface DqnHyperparameters {
  gamma: number;
  /** Learning starts once the replay memory holds more than this many transitions. */
  minReplayHistory: number;
  /** Agent steps per gradient step. */
  updatePeriodSteps: number;
  /** Agent steps between copies of the online network into the target network. */
  targetUpdatePeriodSteps: number;
  epsilonTrain: number;
  epsilonEval: number;
  /** Agent steps over which ε falls from 1 to epsilonTrain, after the warm-up. */
  epsilonDecayPeriodSteps: number;
  batchSize: number;
  replayCapacityTransitions: number;
  loss: 'huber' | 'mse';
  /** Rewards are clipped to [-rewardClip, rewardClip] for learning (logged returns stay raw); 0 turns it off. */
  rewardClip: number;
  padding: ConvPadding;
  optimizer: { name: string } & OptimizerOptions;
}

export interface DqnAgentOptions {
  numActions: number;
  hyperparameters: DqnHyperparameters;
  seed: number;
  /** Frames per replay chunk; tests use small chunks. */
  replayChunkFrames?: number;
  screenSize?: number;
}

/** A loss or a weight became NaN or infinite: the run cannot continue. */
export class DivergenceError extends Error {
  constructor(readonly trainingStep: number, what: string) {
    super(`DQN diverged at training step ${trainingStep}: ${what}`);
    this.name = 'DivergenceError';
  }
}

/** The JSON part of an agent checkpoint. */
export interface AgentState {
  trainingSteps: number;
  updates: number;
  actRandom: object;
  sampleRandom: object;
}

/** The agent's one environment, as its actor numbers it. */
const ONLY_ENV = [0];

export class DqnAgent {
  readonly online: QNetwork;
  readonly target: QNetwork;
  readonly optimizer: WeightDecayOptimizer;
  /** Replaced only by restoreReplay() when a checkpoint carries the replay contents. */
  replay: ReplayMemory;
  readonly hp: DqnHyperparameters;
  readonly numActions: number;
  evalMode = false;
  /** Dopamine's training_steps: counts agent steps in training mode, including each beginEpisode. */
  trainingSteps = 0;
  /** Gradient steps taken so far. */
  updates = 0;
  private readonly frameBytes: number;
  /** Training's acting, on this agent's one environment. */
  private readonly actor: Actor;
  private lastObservation: Uint8Array;
  private observation: Uint8Array;
  private action = 0;
  private actRandom: seedrandom.StatefulPRNG<seedrandom.State.Arc4>;
  private sampleRandom: seedrandom.StatefulPRNG<seedrandom.State.Arc4>;
  private readonly batchFloats: Float32Array;
  private readonly nextBatchFloats: Float32Array;
  private lossSum = 0;
  private lossCount = 0;

  constructor(options: DqnAgentOptions) {
    this.hp = options.hyperparameters;
    this.numActions = options.numActions;
    const screen = options.screenSize ?? 84;
    this.frameBytes = screen * screen;
    const netOptions = { numActions: options.numActions, padding: this.hp.padding, seed: options.seed, screenSize: screen };
    this.online = new QNetwork(netOptions, 'online');
    this.target = new QNetwork(netOptions, 'target');
    this.target.copyFrom(this.online);
    const { name, ...optimizerOptions } = this.hp.optimizer;
    this.optimizer = createOptimizer(name, optimizerOptions);
    this.replay = new ReplayMemory({
      capacityTransitions: this.hp.replayCapacityTransitions, frameHeight: screen, frameWidth: screen,
      ...(options.replayChunkFrames ? { chunkFrames: options.replayChunkFrames } : {}),
    });
    this.actor = this.createActor(1);
    this.observation = new Uint8Array(this.frameBytes);
    this.lastObservation = new Uint8Array(this.frameBytes);
    // Separate generators, so acting and sampling draw the same numbers whatever the other does.
    this.actRandom = seedrandom(`dqn-act-${options.seed}`, { state: true });
    this.sampleRandom = seedrandom(`dqn-replay-${options.seed}`, { state: true });
    this.batchFloats = new Float32Array(this.hp.batchSize * STACK_SIZE * this.frameBytes);
    this.nextBatchFloats = new Float32Array(this.hp.batchSize * STACK_SIZE * this.frameBytes);
  }

  get epsilon(): number {
    if (this.evalMode) return this.hp.epsilonEval;
    return linearlyDecayingEpsilon(this.hp.epsilonDecayPeriodSteps, this.trainingSteps, this.hp.minReplayHistory, this.hp.epsilonTrain);
  }

  beginEpisode(frame: Uint8Array): number {
    this.observation.set(frame);
    this.actor.begin(0, frame);
    if (!this.evalMode) this.trainStep();
    this.action = this.selectAction();
    return this.action;
  }

  step(reward: number, frame: Uint8Array): number {
    [this.lastObservation, this.observation] = [this.observation, this.lastObservation];
    this.observation.set(frame);
    this.actor.observe(0, frame);
    if (!this.evalMode) {
      this.replay.add(this.lastObservation, this.action, this.clip(reward), false, false);
      this.trainStep();
    }
    this.action = this.selectAction();
    return this.action;
  }

  /** `terminal`: the game ended (no bootstrap); false for a time-limit truncation. */
  endEpisode(reward: number, terminal: boolean): void {
    if (!this.evalMode) this.replay.add(this.observation, this.action, this.clip(reward), terminal, true);
  }

  /** Mean training loss since the last call (null if no gradient step was taken). */
  takeLossMean(): number | null {
    const mean = this.lossCount ? this.lossSum / this.lossCount : null;
    this.lossSum = 0;
    this.lossCount = 0;
    return mean;
  }

  /** Loss sum and count since the last call (a runner accumulates them over an iteration, across resumes). */
  takeLossStats(): { sum: number; count: number } {
    const stats = { sum: this.lossSum, count: this.lossCount };
    this.lossSum = 0;
    this.lossCount = 0;
    return stats;
  }

  // ---- checkpoints ----

  /**
   * Everything needed to continue training exactly where it stands, except the replay contents (saved apart,
   * optionally: they are gigabytes): counters, both generators' states, online and target weights and the
   * optimizer's slots. Tensor names are local (`online/conv1/kernel`, `optimizer/conv1/kernel/m`), not tfjs's
   * per-process variable names, so a checkpoint loads into any fresh agent of the same shape.
   */
  async exportState(): Promise<{ state: AgentState; tensors: Map<string, { shape: number[]; data: Float32Array | Int32Array }> }> {
    const tensors = new Map<string, { shape: number[]; data: Float32Array | Int32Array }>();
    for (const [name, w] of this.online.readWeights()) tensors.set(`online/${name}`, w);
    for (const [name, w] of this.target.readWeights()) tensors.set(`target/${name}`, w);
    const slots = await this.optimizer.getWeights();
    try {
      for (const { name, tensor } of slots) {
        const data = tensor.dtype === 'int32' ? (tensor.dataSync() as Int32Array) : Float32Array.from(tensor.dataSync());
        tensors.set(`optimizer/${name === 'iter' ? 'iter' : this.localVariableName(name)}`, { shape: tensor.shape, data });
      }
    } finally {
      tf.dispose(slots.map((s) => s.tensor));
    }
    const state: AgentState = {
      trainingSteps: this.trainingSteps,
      updates: this.updates,
      actRandom: this.actRandom.state(),
      sampleRandom: this.sampleRandom.state(),
    };
    return { state, tensors };
  }

  /** Loads what exportState() saved. Throws, naming the tensor, if the checkpoint does not fit this agent. */
  async importState(state: AgentState, tensors: ReadonlyMap<string, { shape: number[]; data: Float32Array | Int32Array }>): Promise<void> {
    const part = (prefix: string) => new Map(
      [...tensors].filter(([name]) => name.startsWith(prefix)).map(([name, t]) => [name.slice(prefix.length), { shape: t.shape, data: t.data as Float32Array }]),
    );
    this.online.writeWeights(part('online/'));
    this.target.writeWeights(part('target/'));
    const prefix = this.online.variables[0].name.split('/')[0];
    const slots = [...part('optimizer/')].map(([name, t]) => ({
      name: name === 'iter' ? 'iter' : `${prefix}/${name}`,
      tensor: tf.tensor(t.data, t.shape, t.data instanceof Int32Array ? 'int32' : 'float32'),
    }));
    try {
      if (slots.length > 0) await this.optimizer.setWeights([...slots.filter((s) => s.name === 'iter'), ...slots.filter((s) => s.name !== 'iter')]);
    } finally {
      tf.dispose(slots.map((s) => s.tensor));
    }
    this.trainingSteps = state.trainingSteps;
    this.updates = state.updates;
    this.actRandom = seedrandom('', { state: state.actRandom as seedrandom.State.Arc4 });
    this.sampleRandom = seedrandom('', { state: state.sampleRandom as seedrandom.State.Arc4 });
  }

  /** Puts back replay contents saved with a checkpoint; they must have this agent's capacity and frame size. */
  restoreReplay(memory: ReplayMemory): void {
    if (memory.capacityTransitions !== this.replay.capacityTransitions || memory.frameBytes !== this.replay.frameBytes) {
      throw new Error(`the checkpoint's replay memory (capacity ${memory.capacityTransitions}, ${memory.frameBytes} bytes/frame) does not match this run's (${this.replay.capacityTransitions}, ${this.replay.frameBytes})`);
    }
    this.replay = memory;
  }

  /** 'online-3/conv1/kernel/m' -> 'conv1/kernel/m'. */
  private localVariableName(name: string): string {
    return name.slice(name.indexOf('/') + 1);
  }

  /** Greedy actions for planar [n, 4, H, W] states in one forward pass: what this agent's actors act with. */
  greedyActions(states: Uint8Array, count: number): Int32Array {
    // uint8 in, layout change and /255 in JS: no float copy, no transpose/divide dispatches (the same floats).
    return this.online.greedyActions(states, count);
  }

  /**
   * An actor over `count` environments with this agent's online network and acting generator (the draws a
   * checkpoint saves): training's, on one environment, and evaluation's, on n at ε_eval between training phases.
   */
  createActor(count: number): Actor {
    return new Actor(this, this.numActions, count, this.frameBytes, () => this.actRandom());
  }

  /** ‖w‖ of the online network: the L2 norm over all its weights. */
  onlineWeightNorm(): number {
    return tf.tidy(() => Math.sqrt(tf.addN(this.online.variables.map((v) => tf.sum(tf.square(v)))).dataSync()[0]));
  }

  /** Throws DivergenceError if any online weight is NaN or infinite. */
  checkWeightsFinite(): void {
    const finite = tf.tidy(() => tf.stack(this.online.variables.map((v) => tf.all(tf.isFinite(v)))).all().dataSync()[0]);
    if (!finite) throw new DivergenceError(this.trainingSteps, 'a network weight is not finite');
  }

  private clip(reward: number): number {
    const c = this.hp.rewardClip;
    return c > 0 ? Math.min(Math.max(reward, -c), c) : reward;
  }

  private selectAction(): number {
    return this.actor.act(ONLY_ENV, this.epsilon)[0];
  }

  private trainStep(): void {
    if (this.replay.addedTransitions > this.hp.minReplayHistory) {
      if (this.trainingSteps % this.hp.updatePeriodSteps === 0) this.learn();
      if (this.trainingSteps % this.hp.targetUpdatePeriodSteps === 0) this.target.copyFrom(this.online);
    }
    this.trainingSteps += 1;
  }

  /** One gradient step on a uniformly sampled batch (Dopamine's _build_train_op). */
  learn(): number {
    const batch = this.replay.sample(this.hp.batchSize, this.sampleRandom);
    const loss = this.gradientStep(batch);
    if (!Number.isFinite(loss)) throw new DivergenceError(this.trainingSteps, `the loss is ${loss}`);
    this.lossSum += loss;
    this.lossCount += 1;
    this.updates += 1;
    return loss;
  }

  private gradientStep(batch: ReplayBatch): number {
    const n = batch.batchSize;
    return tf.tidy(() => {
      // uint8 planar batches straight into the network's NHWC [0, 1] input (the floats apply() would compute).
      const states = this.online.statesTensor(batch.states, n, this.batchFloats);
      const nextStates = this.online.statesTensor(batch.nextStates, n, this.nextBatchFloats);
      const rewards = tf.tensor1d(batch.rewards);
      const notTerminal = tf.sub(1, tf.tensor1d(batch.terminals));
      // Bellman target from the target network; no gradient flows into it.
      const targets = rewards.add(this.target.applyScaled(nextStates).max(1).mul(notTerminal).mul(this.hp.gamma));
      const actionMask = tf.oneHot(tf.tensor1d(batch.actions, 'int32'), this.numActions);
      const cost = this.optimizer.minimize(() => {
        const chosen = this.online.applyScaled(states).mul(actionMask).sum(1);
        const error = targets.sub(chosen);
        return (this.hp.loss === 'huber' ? tf.losses.huberLoss(targets, chosen, undefined, 1.0) : error.square().mean()) as tf.Scalar;
      }, true, this.online.variables);
      return cost!.dataSync()[0];
    });
  }

  dispose(): void {
    this.online.dispose();
    this.target.dispose();
    this.optimizer.dispose();
  }
}
