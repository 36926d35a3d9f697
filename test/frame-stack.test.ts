// The agent acts on FrameStacks' rolling stacks and learns from the stacks the replay memory rebuilds from its
// stored frames: the two must be the same state, zero padding at an episode's start included, or the network would
// be trained on inputs it never acts on.
import { describe, expect, it } from 'vitest';
import { FrameStacks, STACK_SIZE } from '../agents/frame_stack.ts';
import { ReplayMemory } from '../agents/replay.ts';

const FRAME_BYTES = 6; // a 2x3 frame

/** Never zero, so padding cannot be mistaken for a frame; encodes the step. */
function frameAt(step: number): Uint8Array {
  return Uint8Array.from({ length: FRAME_BYTES }, (_, j) => 1 + ((step * 7 + j) % 250));
}

describe('frame stacks', () => {
  it('are the states the replay memory samples, across episodes shorter and longer than a stack', () => {
    const replay = new ReplayMemory({ capacityTransitions: 200, frameHeight: 2, frameWidth: 3 });
    const stacks = new FrameStacks(1, FRAME_BYTES);
    const acted: Uint8Array[] = [];
    let step = 0;
    for (const length of [1, 2, 3, 7, 4, 5]) {
      stacks.clear(0);
      for (let t = 0; t < length; t++, step++) {
        const frame = frameAt(step);
        stacks.push(0, frame);
        acted.push(stacks.of(0).slice());
        const last = t === length - 1;
        replay.add(frame, 0, 0, last, last);
      }
    }
    let compared = 0;
    for (let i = 0; i < step; i++) {
      if (!replay.isSampleable(i)) continue;
      expect(Array.from(replay.gather([i]).states), `state ${i}`).toEqual(Array.from(acted[i]));
      compared++;
    }
    expect(compared).toBeGreaterThan(15);
  });

  it('keep each environment apart and gather a batch in the order asked', () => {
    const stacks = new FrameStacks(3, 2);
    stacks.push(0, Uint8Array.from([1, 1]));
    stacks.push(2, Uint8Array.from([3, 3]));
    stacks.push(2, Uint8Array.from([4, 4]));
    expect(stacks.data.length).toBe(3 * STACK_SIZE * 2);
    expect(Array.from(stacks.of(1))).toEqual(new Array(STACK_SIZE * 2).fill(0));
    expect(Array.from(stacks.gather([2, 0]))).toEqual([0, 0, 0, 0, 3, 3, 4, 4, 0, 0, 0, 0, 0, 0, 1, 1]);
    stacks.clear(2);
    expect(Array.from(stacks.of(2))).toEqual(new Array(STACK_SIZE * 2).fill(0));
  });
});
