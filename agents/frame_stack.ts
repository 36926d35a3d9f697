// A state is the last STACK_SIZE preprocessed frames (Nature DQN, Dopamine's stack_size = 4). This module owns that
// number and the rolling stacks acting keeps (agents/actor.ts, for training, evaluation and play): planar uint8
// [count, STACK_SIZE, H, W], oldest frame first, zero-padded at an episode's start as Dopamine pads. The replay
// memory rebuilds the same stacks from its stored frames at sample time (agents/replay.ts) and the network takes
// STACK_SIZE channels.

export const STACK_SIZE = 4;

/** One rolling frame stack per environment, in one buffer so a batch of them is a single network input. */
export class FrameStacks {
  /** All stacks, planar [count, STACK_SIZE, H, W]. */
  readonly data: Uint8Array;
  readonly stackBytes: number;

  constructor(
    readonly count: number,
    readonly frameBytes: number,
  ) {
    this.stackBytes = STACK_SIZE * frameBytes;
    this.data = new Uint8Array(count * this.stackBytes);
  }

  /** Environment k's stack (a view into `data`). */
  of(k: number): Uint8Array {
    return this.data.subarray(k * this.stackBytes, (k + 1) * this.stackBytes);
  }

  /** An episode starts: environment k's stack is all zeros until frames are pushed. */
  clear(k: number): void {
    this.data.fill(0, k * this.stackBytes, (k + 1) * this.stackBytes);
  }

  /** The stacks of environments `ks`, in that order, copied into one planar buffer (a batch for the network). */
  gather(ks: readonly number[]): Uint8Array {
    const out = new Uint8Array(ks.length * this.stackBytes);
    ks.forEach((k, i) => out.set(this.of(k), i * this.stackBytes));
    return out;
  }

  /** Environment k's newest frame: the oldest drops out, the others move one place earlier. */
  push(k: number, frame: Uint8Array): void {
    const s = this.of(k);
    s.copyWithin(0, this.frameBytes);
    s.set(frame, (STACK_SIZE - 1) * this.frameBytes);
  }
}
