// Evaluation throughput, measured the way the trainer's evaluation phase works: ε-greedy acting (ε = 0.001), no
// learning, n environments acting through one batched forward of the network's acting path per step (the same
// actor, agents/actor.ts), then one step of all n in the emulator. Variants differ in the number of environments and in how many emulator processes
// host them (envs/bridge_pool.ts; 1 process = every environment stepped serially in one process, as before the
// pool). The variants run interleaved, round by round in one process, so other work on the machine slows them alike
// and their ratios hold even when the absolute figures do not.
import seedrandom from 'seedrandom';
import { BridgePool } from '../../envs/bridge_pool.ts';
import type { AtariEnv } from '../../envs/ale_bridge.ts';
import { Actor } from '../../agents/actor.ts';
import type { QNetwork } from '../../agents/network.ts';
import { median } from './stats.ts';

export interface EvalVariant {
  envs: number;
  /** Emulator processes hosting the environments. */
  processes: number;
}

export interface EvalResult extends EvalVariant {
  /** Median over the rounds of each round's agent steps per second (steps of all environments together). */
  stepsPerSecond: number;
  roundStepsPerSecond: number[];
  steps: number;
  seconds: number;
  /** Per batched step (one forward for all envs, then one step of all envs), in ms, over all rounds. */
  forwardMsPerBatch: number;
  emulatorMsPerBatch: number;
}

/** One evaluation setup: its own pool of emulator processes, environments and actor (their frame stacks). */
class EvalLoop {
  private readonly actor: Actor;
  private readonly all: number[];
  readonly totals = { steps: 0, ms: 0, forwardMs: 0, emulatorMs: 0, batches: 0 };

  private constructor(readonly variant: EvalVariant, private readonly pool: BridgePool, private readonly envs: AtariEnv[],
    net: QNetwork, private readonly epsilon: number) {
    this.actor = new Actor(net, envs[0].numActions, envs.length, envs[0].frameBytes, seedrandom(`bench-eval-${variant.envs}-${variant.processes}`));
    this.all = envs.map((_, k) => k);
  }

  static async start(game: string, variant: EvalVariant, net: QNetwork, epsilon: number): Promise<EvalLoop> {
    const pool = await BridgePool.start(variant.processes);
    try {
      // The same seeds in every variant: the variants play the same games, only hosted differently.
      const envs = await Promise.all(Array.from({ length: variant.envs }, (_, k) => pool.createEnv({ game, seed: 100 + k })));
      const loop = new EvalLoop(variant, pool, envs, net, epsilon);
      await loop.resetInto(envs.map((_, k) => k));
      return loop;
    } catch (error) {
      await pool.close();
      throw error;
    }
  }

  private async resetInto(indices: number[]): Promise<void> {
    const results = await this.pool.reset(indices.map((k) => this.envs[k]));
    indices.forEach((k, j) => this.actor.begin(k, results[j].frame));
  }

  /** Batched steps for `limitMs`; returns the steps/s of this stretch and adds it to the totals. */
  async run(limitMs: number): Promise<number> {
    const { envs, actor, totals } = this;
    const n = envs.length;
    let steps = 0;
    const start = performance.now();
    let now = start;
    while (now - start < limitMs) {
      const actions = actor.act(this.all, this.epsilon);
      const t1 = performance.now();
      const results = await this.pool.step(envs, actions);
      steps += n;
      const done: number[] = [];
      results.forEach((r, k) => (r.terminal || r.truncated ? done.push(k) : actor.observe(k, r.frame)));
      if (done.length) await this.resetInto(done);
      const t2 = performance.now();
      totals.forwardMs += t1 - now;
      totals.emulatorMs += t2 - t1;
      totals.batches += 1;
      now = t2;
    }
    const ms = now - start;
    totals.steps += steps;
    totals.ms += ms;
    return (steps * 1000) / ms;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

export interface EvalOptions {
  game: string;
  variants: readonly EvalVariant[];
  rounds: number;
  secondsPerRound: number;
  /** The network acting for every variant (its action count must be the game's). */
  net: QNetwork;
  epsilon: number;
}

/** Times every variant for `secondsPerRound` in each round, in a rotating order; medians over the rounds. */
export async function evaluationRates(options: EvalOptions): Promise<EvalResult[]> {
  const loops: EvalLoop[] = [];
  try {
    for (const variant of options.variants) loops.push(await EvalLoop.start(options.game, variant, options.net, options.epsilon));
    // Warm-up (TensorFlow's first calls at each batch size, the emulators' first frames), not counted.
    for (const loop of loops) await loop.run(Math.min(1000, options.secondsPerRound * 500));
    for (const loop of loops) Object.assign(loop.totals, { steps: 0, ms: 0, forwardMs: 0, emulatorMs: 0, batches: 0 });
    const rates = loops.map(() => [] as number[]);
    for (let round = 0; round < options.rounds; round++) {
      // Rotating the order keeps any variant from always running right after the same neighbour.
      for (let j = 0; j < loops.length; j++) {
        const i = (j + round) % loops.length;
        rates[i].push(await loops[i].run(options.secondsPerRound * 1000));
      }
    }
    return loops.map((loop, i) => {
      const t = loop.totals;
      return {
        ...loop.variant, stepsPerSecond: median(rates[i]), roundStepsPerSecond: rates[i], steps: t.steps, seconds: t.ms / 1000,
        forwardMsPerBatch: t.forwardMs / t.batches, emulatorMsPerBatch: t.emulatorMs / t.batches,
      };
    });
  } finally {
    await Promise.all(loops.map((loop) => loop.close()));
  }
}
