// Acting, in one place: the frame stacks of n environments and ε-greedy over them, with one batched forward pass.
// The agent acts through it in training (one environment, the agent's generator), the runner's evaluation phase with
// the agent's generator over n environments, and `play` with a generator of its own; none of them keeps stacks.
//
// The rule is Dopamine's: per environment, in the order asked, a draw u ≤ ε takes a uniform random action (a second
// draw), else the greedy one (first maximum on ties). The draws are a checkpoint's acting generator state, so their
// order and number are fixed (test/actor.test.ts). The forward pass runs once, after the draws, over all the stacks
// asked for, and only if some environment acts greedily: a batch of one skips the network while ε is 1 (the
// warm-up), and a batch of n gets the same Q-values whichever of its environments drew random actions.
import { FrameStacks } from './frame_stack.ts';

/** What acting needs of a Q-function: greedy actions for `count` planar uint8 states, in one forward pass. */
export interface GreedyPolicy {
  greedyActions(states: Uint8Array, count: number): Int32Array;
}

export class Actor {
  private readonly stacks: FrameStacks;

  constructor(
    private readonly policy: GreedyPolicy,
    private readonly numActions: number,
    count: number,
    frameBytes: number,
    /** Asked at every draw, so a generator replaced after construction (a checkpoint's) is the one drawn from. */
    private readonly random: () => number,
  ) {
    this.stacks = new FrameStacks(count, frameBytes);
  }

  /** Environment k starts an episode (or, under the Nature protocol, a life) at `frame`: a zero-padded stack. */
  begin(k: number, frame: Uint8Array): void {
    this.stacks.clear(k);
    this.stacks.push(k, frame);
  }

  /** Environment k's next frame. */
  observe(k: number, frame: Uint8Array): void {
    this.stacks.push(k, frame);
  }

  /** ε-greedy actions for environments `ks` (ascending), in that order. */
  act(ks: readonly number[], epsilon: number): Int32Array {
    const actions = new Int32Array(ks.length);
    let greedy = false;
    for (let i = 0; i < ks.length; i++) {
      if (this.random() <= epsilon) actions[i] = Math.floor(this.random() * this.numActions);
      else actions[i] = -1;
      greedy ||= actions[i] === -1;
    }
    if (!greedy) return actions;
    const all = ks.length === this.stacks.count && ks.every((k, i) => k === i);
    const best = this.policy.greedyActions(all ? this.stacks.data : this.stacks.gather(ks), ks.length);
    for (let i = 0; i < ks.length; i++) if (actions[i] === -1) actions[i] = best[i];
    return actions;
  }
}
