// The training loop the benchmark times: the DqnAgent driven against AtariEnv exactly as a runner does
// (beginEpisode / step / endEpisode, reset at terminal or truncation), with Dopamine's settings. (Evaluation:
// evaluation.ts.)
import { AleBridge, type AtariEnv } from '../../envs/ale_bridge.ts';
import { DqnAgent, type DqnHyperparameters } from '../../agents/dqn_agent.ts';
import * as tf from '../../src/tf.ts';
import { rssBytes } from './stats.ts';

/** Dopamine's DQN (JAX agent, Adam) settings, as in the harness's `dopamine` preset. */
export const DOPAMINE_HP: DqnHyperparameters = {
  gamma: 0.99, minReplayHistory: 20_000, updatePeriodSteps: 4, targetUpdatePeriodSteps: 8_000, epsilonTrain: 0.01,
  epsilonEval: 0.001, epsilonDecayPeriodSteps: 250_000, batchSize: 32, replayCapacityTransitions: 1_000_000,
  loss: 'huber', rewardClip: 1, padding: 'same',
  optimizer: { name: 'adam', learningRate: 6.25e-5, epsilon: 1.5e-4, beta1: 0.9, beta2: 0.999, trackLastStep: true },
};

/**
 * Dopamine's settings with two changes that only move the benchmark to the steady state sooner: learning starts
 * after `minReplayHistory` transitions instead of 20,000, and ε is already at its final 0.01 when it does (so
 * almost every step acts greedily through the network, as during most of a 50M-step run).
 */
export function steadyStateHp(minReplayHistory: number, capacity = DOPAMINE_HP.replayCapacityTransitions, optimizer?: DqnHyperparameters['optimizer']): DqnHyperparameters {
  return { ...DOPAMINE_HP, minReplayHistory, epsilonDecayPeriodSteps: 1, replayCapacityTransitions: capacity, ...(optimizer ? { optimizer } : {}) };
}

export interface LoopResult {
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  msPerStep: number;
  /** Milliseconds per agent step spent awaiting the emulator, and in the agent's calls. */
  emulatorMsPerStep: number;
  agentMsPerStep: number;
  /**
   * Inside the agent's calls, per agent step: gradient steps (learn: sampling, input, target forward, forward,
   * backward, update, loss read-back), acting (greedyActions) and replay inserts. Timed on the loop's own agent
   * by wrapping those methods, so they are the loop's parts in the same seconds as the loop.
   */
  learnMsPerStep: number;
  actMsPerStep: number;
  insertMsPerStep: number;
  /** Loop time not in the emulator, learn, act or insert: the loop's own overhead (JS glue, ε, frame stacks). */
  overheadMsPerStep: number;
  updates: number;
  episodes: number;
  samples: { step: number; rssBytes: number; numTensors: number }[];
}

export interface LoopOptions {
  game: string;
  seed: number;
  hp: DqnHyperparameters;
  /** Steps run before timing starts (after the replay passed minReplayHistory). */
  warmupSteps: number;
  /** Stop after this many timed seconds, or this many timed steps, whichever first. */
  seconds: number;
  maxSteps?: number;
  /** Record rss and tensor count every this many steps (0: never). */
  sampleEvery?: number;
  /** Awaited once after the warm-up, just before timing (children synchronize on it). */
  beforeTiming?: () => Promise<void>;
}

/** Wraps `obj[name]` so every call adds its milliseconds to `acc.ms`. */
function timeMethod<T extends object>(obj: T, name: keyof T, acc: { ms: number; on: boolean }): void {
  const original = (obj[name] as (...args: unknown[]) => unknown).bind(obj);
  (obj as Record<keyof T, unknown>)[name] = (...args: unknown[]) => {
    if (!acc.on) return original(...args);
    const start = performance.now();
    try {
      return original(...args);
    } finally {
      acc.ms += performance.now() - start;
    }
  };
}

/**
 * One training loop (agent + emulator), advanced in chunks.
 */
export class TrainingLoop {
  private readonly learnTime = { ms: 0, on: false };
  private readonly actTime = { ms: 0, on: false };
  private readonly insertTime = { ms: 0, on: false };
  private readonly timing = { env: 0, agent: 0, ms: 0 };
  private action = 0;
  private episodes = 0;
  private steps = 0;
  private updatesAtStart = 0;
  readonly samples: LoopResult['samples'] = [];

  private constructor(private readonly bridge: AleBridge, private readonly env: AtariEnv, readonly agent: DqnAgent, private readonly sampleEvery: number) {
    timeMethod(agent, 'learn', this.learnTime);
    timeMethod(agent, 'greedyActions', this.actTime);
    timeMethod(agent.replay, 'add', this.insertTime);
  }

  static async start(options: Pick<LoopOptions, 'game' | 'seed' | 'hp' | 'sampleEvery'>): Promise<TrainingLoop> {
    const bridge = await AleBridge.start();
    const env = await bridge.createEnv({ game: options.game, seed: options.seed });
    const agent = new DqnAgent({ numActions: env.numActions, hyperparameters: options.hp, seed: options.seed });
    const loop = new TrainingLoop(bridge, env, agent, options.sampleEvery ?? 0);
    loop.action = agent.beginEpisode((await env.reset()).frame);
    return loop;
  }

  /** Untimed steps: fill the replay past minReplayHistory, then `warmupSteps` more. */
  async warmUp(warmupSteps: number): Promise<void> {
    await this.run(this.agent.hp.minReplayHistory + 1 + warmupSteps, false);
    this.updatesAtStart = this.agent.updates;
  }

  /** `count` timed steps. */
  async run(count: number, timed = true): Promise<void> {
    for (const t of [this.learnTime, this.actTime, this.insertTime]) t.on = timed;
    const { env, agent, timing } = this;
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const result = await env.step(this.action);
      const t1 = performance.now();
      if (result.terminal || result.truncated) {
        agent.endEpisode(result.reward, result.terminal);
        this.episodes += 1;
        const t2 = performance.now();
        const first = await env.reset();
        const t3 = performance.now();
        this.action = agent.beginEpisode(first.frame);
        if (timed) { timing.env += t1 - t0 + (t3 - t2); timing.agent += performance.now() - t3 + (t2 - t1); }
      } else {
        this.action = agent.step(result.reward, result.frame);
        if (timed) { timing.env += t1 - t0; timing.agent += performance.now() - t1; }
      }
      if (timed) {
        this.steps += 1;
        if (this.sampleEvery && this.steps % this.sampleEvery === 0) this.samples.push({ step: this.steps, rssBytes: rssBytes(), numTensors: tf.memory().numTensors });
      }
    }
    if (timed) timing.ms += performance.now() - started;
  }

  result(): LoopResult {
    const { steps, timing } = this;
    const msPerStep = timing.ms / steps;
    const inParts = (timing.env + this.learnTime.ms + this.actTime.ms + this.insertTime.ms) / steps;
    return {
      steps, seconds: timing.ms / 1000, stepsPerSecond: (steps * 1000) / timing.ms, msPerStep,
      emulatorMsPerStep: timing.env / steps, agentMsPerStep: timing.agent / steps,
      learnMsPerStep: this.learnTime.ms / steps, actMsPerStep: this.actTime.ms / steps, insertMsPerStep: this.insertTime.ms / steps,
      overheadMsPerStep: msPerStep - inParts,
      updates: this.agent.updates - this.updatesAtStart, episodes: this.episodes, samples: this.samples,
    };
  }

  async close(): Promise<void> {
    this.agent.dispose();
    await this.bridge.close();
  }
}

/** Runs one training loop: fills the replay to minReplayHistory, warms up, then times a window. */
export async function trainingLoop(options: LoopOptions): Promise<LoopResult> {
  const loop = await TrainingLoop.start(options);
  try {
    await loop.warmUp(options.warmupSteps);
    await options.beforeTiming?.();
    const start = performance.now();
    const maxSteps = options.maxSteps ?? Infinity;
    let steps = 0;
    while (steps < maxSteps && performance.now() - start < options.seconds * 1000) {
      const chunk = Math.min(64, maxSteps - steps);
      await loop.run(chunk);
      steps += chunk;
    }
    return loop.result();
  } finally {
    await loop.close();
  }
}
