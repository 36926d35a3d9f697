// Several emulator processes serving one set of environments, stepped concurrently.
//
// Why: one AleBridge process steps its environments one after another (~0.55 ms each on this project's machine), so
// a batched evaluation over n environments waits n x 0.55 ms per round trip while the learner's cores sit idle.
// Spreading the environments round-robin over K processes lets the K processes step their shares at the same time.
//
// Results do not depend on K: every environment is its own ALE instance with its own seed and state, and the pool
// only decides which process hosts it. reset/step take environments in any order and answer in that order.
import os from 'node:os';
import { AleBridge, type AtariEnv, type BridgeOptions, type EnvSpec, type EnvStep } from './ale_bridge.ts';

/** The number of emulator processes worth having for `envs` environments: one per core, at most one per env. */
export function defaultPoolSize(envs: number): number {
  return Math.max(1, Math.min(envs, os.availableParallelism()));
}

export class BridgePool {
  /** Which process hosts each environment (an index into `bridges`). */
  private readonly owner = new Map<AtariEnv, number>();
  private nextBridge = 0;

  private constructor(private readonly bridges: readonly AleBridge[]) {}

  /** Starts `processes` emulator processes (all or none: if one fails to start, the others are closed). */
  static async start(processes: number, options: BridgeOptions = {}): Promise<BridgePool> {
    if (!Number.isInteger(processes) || processes < 1) throw new RangeError(`processes must be an integer >= 1, got ${processes}`);
    const started = await Promise.allSettled(Array.from({ length: processes }, () => AleBridge.start(options)));
    const bridges = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(bridges.map((b) => b.close()));
      throw failed.reason;
    }
    return new BridgePool(bridges);
  }

  get size(): number {
    return this.bridges.length;
  }

  /** The emulator processes' pids, in pool order (tests kill one). */
  get pids(): (number | undefined)[] {
    return this.bridges.map((b) => b.pid);
  }

  get aleVersion(): string {
    return this.bridges[0].aleVersion;
  }

  /** Creates an environment in the next process, round-robin: env k of a pool of K lives in process k mod K. */
  async createEnv(spec: EnvSpec): Promise<AtariEnv> {
    const index = this.nextBridge;
    this.nextBridge = (index + 1) % this.bridges.length;
    const env = await this.bridges[index].createEnv(spec);
    this.owner.set(env, index);
    return env;
  }

  /** Resets the given environments: one round trip per process involved, all processes at once. */
  reset(envs: readonly AtariEnv[]): Promise<EnvStep[]> {
    return this.fanOut(envs, (bridge, own) => bridge.reset(own.map((k) => envs[k])));
  }

  /** Steps the given environments with one action each; the answers come back in the order of `envs`. */
  step(envs: readonly AtariEnv[], actions: ArrayLike<number>): Promise<EnvStep[]> {
    if (actions.length !== envs.length) return Promise.reject(new RangeError(`${envs.length} environments but ${actions.length} actions`));
    return this.fanOut(envs, (bridge, own) => bridge.step(own.map((k) => envs[k]), own.map((k) => actions[k])));
  }

  /**
   * Sends each process the request for its own environments (`own`: positions in `envs`), concurrently, and puts
   * the answers back in the order of `envs`. If any process fails, this waits for the others to answer before it
   * rejects with the first error, so no request is still in flight when the caller restarts the pool.
   */
  private async fanOut(envs: readonly AtariEnv[], send: (bridge: AleBridge, own: number[]) => Promise<EnvStep[]>): Promise<EnvStep[]> {
    const groups: number[][] = this.bridges.map(() => []);
    envs.forEach((env, k) => {
      const index = this.owner.get(env);
      if (index === undefined) throw new RangeError(`environment ${env.id} (${env.game}) was not created by this pool`);
      groups[index].push(k);
    });
    const sent = groups.map((own, index) => (own.length ? send(this.bridges[index], own) : Promise.resolve([])));
    const settled = await Promise.allSettled(sent);
    const out = new Array<EnvStep>(envs.length);
    settled.forEach((s, index) => {
      if (s.status === 'rejected') throw s.reason;
      groups[index].forEach((k, i) => (out[k] = s.value[i]));
    });
    return out;
  }

  /**
   * After a crash of any process: starts every process afresh and re-creates its environments (AleBridge.restart,
   * seeds moved on). All of them, not just the dead one, so every environment starts a new game at its next
   * reset, as when one process hosted them all; a surviving process would otherwise continue its games mid-way.
   */
  async restart(): Promise<void> {
    await Promise.all(this.bridges.map((b) => b.restart()));
  }

  /** AleBridge.interruptIfBusy on every process: true if any had a request in flight. */
  interruptIfBusy(): boolean {
    return this.bridges.map((b) => b.interruptIfBusy()).some(Boolean);
  }

  async close(): Promise<void> {
    await Promise.all(this.bridges.map((b) => b.close()));
    this.owner.clear();
  }
}
