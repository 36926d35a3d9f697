import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import seedrandom from 'seedrandom';
import { afterAll, describe, expect, it } from 'vitest';
import { ReplayMemory, type ReplayBatch, type ReplayMemoryOptions } from '../agents/replay.ts';

const STACK = 4;
const H = 2;
const W = 2;
const FB = H * W;

/** Tiny frames whose bytes encode the logical index and are never zero, so padding is unambiguous. */
function frameFor(i: number): Uint8Array {
  return Uint8Array.from([1 + (i % 251), 1 + (Math.floor(i / 251) % 251), 200, 1 + ((i * 7) % 251)]);
}

interface Step {
  frame: Uint8Array;
  action: number;
  reward: number;
  terminal: boolean;
  episodeEnd: boolean;
}

/** Direct transcription of the rules, keeping the whole history (nothing is ever overwritten here). */
class ReferenceMemory {
  readonly steps: Step[] = [];
  constructor(readonly capacity: number) {}

  add(step: Step): void {
    this.steps.push(step);
  }

  get oldest(): number {
    return Math.max(0, this.steps.length - this.capacity);
  }

  /** Frames i and j are in the same episode iff no episode ended at any of min(i,j)..max(i,j)-1. */
  private sameEpisode(i: number, j: number): boolean {
    if (i < 0) return false;
    for (let k = Math.min(i, j); k < Math.max(i, j); k++) if (this.steps[k].episodeEnd) return false;
    return true;
  }

  valid(j: number): boolean {
    const added = this.steps.length;
    if (j < this.oldest || j > added - 2) return false;
    const s = this.steps[j];
    if (s.episodeEnd && !s.terminal) return false;
    for (let i = j - STACK + 1; i <= j; i++) {
      if (this.sameEpisode(i, j) && i < this.oldest) return false;
    }
    return true;
  }

  private stackFrom(first: number, owner: number): Uint8Array {
    const out = new Uint8Array(STACK * FB);
    for (let k = 0; k < STACK; k++) {
      const i = first + k;
      if (this.sameEpisode(i, owner)) out.set(this.steps[i].frame, k * FB);
    }
    return out;
  }

  state(j: number): Uint8Array {
    return this.stackFrom(j - STACK + 1, j);
  }

  nextState(j: number): Uint8Array {
    return this.stackFrom(j - STACK + 2, j);
  }

  validIndices(): number[] {
    const out: number[] = [];
    for (let j = this.oldest; j < this.steps.length; j++) if (this.valid(j)) out.push(j);
    return out;
  }
}

/** Random episodes, including 1-step episodes, truncations and an unfinished last episode. */
function randomSteps(count: number, seed: string): Step[] {
  const rng = seedrandom(seed);
  const steps: Step[] = [];
  let remaining = 0;
  for (let i = 0; i < count; i++) {
    if (remaining === 0) remaining = 1 + Math.floor(rng() * (rng() < 0.3 ? 3 : 12));
    remaining--;
    const episodeEnd = remaining === 0 && i < count - 1 ? true : false;
    const terminal = episodeEnd && rng() < 0.6;
    steps.push({
      frame: frameFor(i),
      action: Math.floor(rng() * 18),
      reward: Math.round((rng() * 4 - 2) * 1000) / 1000,
      terminal,
      episodeEnd,
    });
  }
  return steps;
}

function rowOf(a: Uint8Array, row: number): Uint8Array {
  return a.subarray(row * STACK * FB, (row + 1) * STACK * FB);
}

function tinyMemory(capacityTransitions: number, chunkFrames: number, extra: Partial<ReplayMemoryOptions> = {}) {
  return new ReplayMemory({ capacityTransitions, chunkFrames, frameHeight: H, frameWidth: W, ...extra });
}

function addStep(memory: ReplayMemory, s: Step): void {
  memory.add(s.frame, s.action, s.reward, s.terminal, s.episodeEnd);
}

function expectMatchesReference(memory: ReplayMemory, ref: ReferenceMemory): void {
  const added = ref.steps.length;
  expect(memory.addedTransitions).toBe(added);
  expect(memory.oldestIndex).toBe(ref.oldest);
  const valid = ref.validIndices();
  const got: number[] = [];
  for (let j = Math.max(0, ref.oldest - 5); j < added + 3; j++) if (memory.isSampleable(j)) got.push(j);
  expect(got).toEqual(valid);
  expect(memory.sampleableTransitions).toBe(valid.length);
  if (valid.length === 0) return;
  // Dirty output arrays: zero padding must be written, not inherited from a fresh allocation.
  const batch = memory.createBatch(valid.length);
  batch.states.fill(0xab);
  batch.nextStates.fill(0xab);
  memory.gather(valid, batch);
  valid.forEach((j, row) => {
    const step = ref.steps[j];
    expect(Array.from(rowOf(batch.states, row)), `state ${j}`).toEqual(Array.from(ref.state(j)));
    expect(Array.from(rowOf(batch.nextStates, row)), `next state ${j}`).toEqual(Array.from(ref.nextState(j)));
    expect(batch.actions[row]).toBe(step.action);
    expect(batch.rewards[row]).toBe(Math.fround(step.reward));
    expect(batch.terminals[row]).toBe(step.terminal ? 1 : 0);
    expect(batch.indices[row]).toBe(j);
  });
}

function expectSameBatch(a: ReplayBatch, b: ReplayBatch): void {
  expect(Array.from(a.indices)).toEqual(Array.from(b.indices));
  expect(Buffer.compare(Buffer.from(a.states), Buffer.from(b.states))).toBe(0);
  expect(Buffer.compare(Buffer.from(a.nextStates), Buffer.from(b.nextStates))).toBe(0);
  expect(Array.from(a.actions)).toEqual(Array.from(b.actions));
  expect(Array.from(a.rewards)).toEqual(Array.from(b.rewards));
  expect(Array.from(a.terminals)).toEqual(Array.from(b.terminals));
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-test-'));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('ReplayMemory vs reference implementation', () => {
  const configs: [number, number][] = [
    [23, 5],
    [23, 23],
    [17, 4],
    [6, 1],
    [10, 3],
  ];
  for (const [capacity, chunkFrames] of configs) {
    for (const seed of ['a', 'b', 'c']) {
      it(`capacity ${capacity}, chunkFrames ${chunkFrames}, seed ${seed}: stacks and valid set match after every add`, () => {
        const memory = tinyMemory(capacity, chunkFrames);
        const ref = new ReferenceMemory(capacity);
        for (const step of randomSteps(capacity * 6 + 7, `${seed}-${capacity}`)) {
          addStep(memory, step);
          ref.add(step);
          expectMatchesReference(memory, ref);
        }
      });
    }
  }

  it('sampled rows equal gathered rows and only valid indices are drawn', () => {
    const memory = tinyMemory(23, 5);
    const ref = new ReferenceMemory(23);
    for (const step of randomSteps(100, 'sample')) {
      addStep(memory, step);
      ref.add(step);
    }
    const valid = new Set(ref.validIndices());
    const rng = seedrandom('draws');
    for (let t = 0; t < 50; t++) {
      const batch = memory.sample(8, rng);
      const again = memory.gather(Array.from(batch.indices));
      expectSameBatch(batch, again);
      for (const j of batch.indices) expect(valid.has(j)).toBe(true);
    }
  });

  it('samples uniformly among valid indices', () => {
    const memory = tinyMemory(23, 5);
    const ref = new ReferenceMemory(23);
    for (const step of randomSteps(61, 'uniform')) {
      addStep(memory, step);
      ref.add(step);
    }
    const valid = ref.validIndices();
    expect(valid.length).toBeGreaterThan(5);
    const counts = new Map<number, number>(valid.map((j) => [j, 0]));
    const rng = seedrandom('uniform-draws');
    const batches = 2000;
    const batchSize = 16;
    for (let t = 0; t < batches; t++) {
      for (const j of memory.sample(batchSize, rng).indices) counts.set(j, (counts.get(j) ?? 0) + 1);
    }
    const expected = (batches * batchSize) / valid.length;
    let chi2 = 0;
    for (const c of counts.values()) chi2 += (c - expected) ** 2 / expected;
    expect(counts.size).toBe(valid.length);
    // df <= 22; the 99.9% quantile of chi2(22) is ~48.
    expect(chi2).toBeLessThan(60);
  });
});

describe('ReplayMemory specific cases', () => {
  /** Add `n` steps of one episode, the last one ending it as given. */
  function addEpisode(memory: ReplayMemory, start: number, n: number, end: 'terminal' | 'truncated' | 'open'): number {
    for (let k = 0; k < n; k++) {
      const last = k === n - 1;
      const terminal = last && end === 'terminal';
      const episodeEnd = last && end !== 'open';
      memory.add(frameFor(start + k), k % 3, k, terminal, episodeEnd);
    }
    return start + n;
  }
  const Z = [0, 0, 0, 0];
  const f = (i: number) => Array.from(frameFor(i));

  it('pads episode starts with zero frames', () => {
    const memory = tinyMemory(20, 4);
    let next = addEpisode(memory, 0, 3, 'terminal');
    next = addEpisode(memory, next, 6, 'open');
    const b = memory.gather([3, 4, 5, 6]);
    expect(Array.from(rowOf(b.states, 0))).toEqual([...Z, ...Z, ...Z, ...f(3)]);
    expect(Array.from(rowOf(b.states, 1))).toEqual([...Z, ...Z, ...f(3), ...f(4)]);
    expect(Array.from(rowOf(b.states, 2))).toEqual([...Z, ...f(3), ...f(4), ...f(5)]);
    expect(Array.from(rowOf(b.states, 3))).toEqual([...f(3), ...f(4), ...f(5), ...f(6)]);
    expect(Array.from(rowOf(b.nextStates, 0))).toEqual([...Z, ...Z, ...f(3), ...f(4)]);
    // The very first transition of the memory is padded too.
    expect(Array.from(rowOf(memory.gather([0]).states, 0))).toEqual([...Z, ...Z, ...Z, ...f(0)]);
  });

  it('zeroes the next-state frame after a terminal and flags it', () => {
    const memory = tinyMemory(20, 4);
    addEpisode(memory, 0, 5, 'terminal');
    memory.add(frameFor(5), 0, 0, false, false);
    const b = memory.gather([4]);
    expect(b.terminals[0]).toBe(1);
    expect(Array.from(rowOf(b.states, 0))).toEqual([...f(1), ...f(2), ...f(3), ...f(4)]);
    expect(Array.from(rowOf(b.nextStates, 0))).toEqual([...f(2), ...f(3), ...f(4), ...Z]);
    expect(memory.gather([3]).terminals[0]).toBe(0);
  });

  it('never samples a truncated transition', () => {
    const memory = tinyMemory(20, 4);
    let next = addEpisode(memory, 0, 5, 'truncated');
    next = addEpisode(memory, next, 5, 'open');
    expect(memory.isSampleable(4)).toBe(false);
    expect(memory.isSampleable(3)).toBe(true);
    expect(() => memory.gather([4])).toThrow(/not sampleable/);
    const rng = seedrandom('trunc');
    for (let t = 0; t < 100; t++) expect(memory.sample(4, rng).indices).not.toContain(4);
    // The episode after a truncation starts with zero padding as well.
    expect(Array.from(rowOf(memory.gather([5]).states, 0))).toEqual([...Z, ...Z, ...Z, ...f(5)]);
  });

  it('does not sample the index next to the write cursor', () => {
    const memory = tinyMemory(20, 4);
    addEpisode(memory, 0, 6, 'open');
    expect(memory.isSampleable(5)).toBe(false);
    expect(memory.isSampleable(4)).toBe(true);
    expect(memory.sampleableTransitions).toBe(5);
    // Even a terminal newest transition waits for the next add.
    const m2 = tinyMemory(20, 4);
    addEpisode(m2, 0, 3, 'terminal');
    expect(m2.isSampleable(2)).toBe(false);
    m2.add(frameFor(3), 0, 0, false, false);
    expect(m2.isSampleable(2)).toBe(true);
  });

  it('does not sample indices whose history was overwritten after wrap-around', () => {
    const capacity = 10;
    const memory = tinyMemory(capacity, 3);
    addEpisode(memory, 0, 15, 'open');
    // Stored 5..14; 5,6,7 need frames 2..4 of their own episode, which are gone.
    expect(memory.oldestIndex).toBe(5);
    for (const j of [3, 4, 5, 6, 7]) expect(memory.isSampleable(j)).toBe(false);
    for (let j = 8; j <= 13; j++) expect(memory.isSampleable(j)).toBe(true);
    expect(memory.sampleableTransitions).toBe(6);
    expect(Array.from(rowOf(memory.gather([8]).states, 0))).toEqual([...f(5), ...f(6), ...f(7), ...f(8)]);
    // An episode start inside the stored range needs no older frames.
    const m2 = tinyMemory(capacity, 3);
    let next = addEpisode(m2, 0, 6, 'terminal');
    next = addEpisode(m2, next, 9, 'open');
    expect(m2.oldestIndex).toBe(5);
    // 5 ended the first episode and needs frames 2..4, which are gone.
    expect(m2.isSampleable(5)).toBe(false);
    expect(m2.isSampleable(6)).toBe(true);
    expect(Array.from(rowOf(m2.gather([6]).states, 0))).toEqual([...Z, ...Z, ...Z, ...f(6)]);
  });

  it('stores rewards raw as float32 and actions as given', () => {
    const memory = tinyMemory(10, 3);
    memory.add(frameFor(0), 17, -3.7, false, false);
    memory.add(frameFor(1), 255, 1e6, false, false);
    const b = memory.gather([0]);
    expect(b.actions[0]).toBe(17);
    expect(b.rewards[0]).toBe(Math.fround(-3.7));
  });

  it('is deterministic for a seeded RNG and differs across seeds', () => {
    const build = () => {
      const m = tinyMemory(23, 5);
      for (const s of randomSteps(80, 'det')) addStep(m, s);
      return m;
    };
    const m1 = build();
    const m2 = build();
    const r1 = seedrandom('seed-1');
    const r2 = seedrandom('seed-1');
    const r3 = seedrandom('seed-2');
    const a = m1.createBatch(16);
    const b = m2.createBatch(16);
    const c = m2.createBatch(16);
    for (let t = 0; t < 10; t++) {
      m1.sample(16, r1, a);
      m2.sample(16, r2, b);
      expectSameBatch(a, b);
    }
    m2.sample(16, r3, c);
    expect(Array.from(c.indices)).not.toEqual(Array.from(a.indices));
  });

  it('fills caller-provided and memory-owned batches in place', () => {
    const memory = tinyMemory(23, 5);
    for (const s of randomSteps(40, 'inplace')) addStep(memory, s);
    const rng = seedrandom('x');
    const own1 = memory.sample(8, rng);
    const own2 = memory.sample(8, rng);
    expect(own2).toBe(own1);
    expect(own2.states).toBe(own1.states);
    const mine = memory.createBatch(8);
    expect(memory.sample(8, rng, mine)).toBe(mine);
    expect(() => memory.sample(4, rng, mine)).toThrow(/batch/);
    expect(mine.states.length).toBe(8 * STACK * FB);
  });

  it('throws a clear error when sampling a memory without valid transitions', () => {
    const memory = tinyMemory(10, 3);
    const rng = seedrandom('empty');
    expect(() => memory.sample(4, rng)).toThrow(/no sampleable transition/);
    memory.add(frameFor(0), 0, 0, false, false);
    expect(memory.canSample(1)).toBe(false);
    expect(() => memory.sample(4, rng)).toThrow(/no sampleable transition/);
    memory.add(frameFor(1), 0, 0, false, false);
    expect(memory.canSample(1)).toBe(true);
    expect(memory.canSample(2)).toBe(false);
    expect(Array.from(memory.sample(3, rng).indices)).toEqual([0, 0, 0]);
  });

  it('gives up after maxSampleAttempts rejections', () => {
    const memory = tinyMemory(1000, 100, { maxSampleAttempts: 5 });
    // Only index 0 is valid among 999 candidates: a batch of 10 cannot be filled in 5 rejections.
    memory.add(frameFor(0), 0, 0, false, false);
    for (let i = 1; i < 1000; i++) memory.add(frameFor(i), 0, 0, false, true);
    expect(memory.sampleableTransitions).toBe(1);
    expect(() => memory.sample(10, seedrandom('r'))).toThrow(/rejected draws/);
  });

  it('rejects bad constructor options', () => {
    const bad: unknown[] = [
      { capacityTransitions: 5 },
      { capacityTransitions: 0 },
      { capacityTransitions: -10 },
      { capacityTransitions: 10.5 },
      { capacityTransitions: Number.NaN },
      { capacityTransitions: '100' },
      {},
      { capacityTransitions: 100, chunkFrames: 0 },
      { capacityTransitions: 100, chunkFrames: 2.5 },
      { capacityTransitions: 100, frameHeight: 0 },
      { capacityTransitions: 100, frameWidth: -84 },
      { capacityTransitions: 100, maxSampleAttempts: 0 },
      { capacityTransitions: 1_000_000, chunkFrames: 1_000_000 }, // 7 GB in one chunk
    ];
    for (const options of bad) {
      expect(() => new ReplayMemory(options as ReplayMemoryOptions), JSON.stringify(options)).toThrow(
        /ReplayMemory: \w+ must be|exceeds the largest/,
      );
    }
    expect(() => new ReplayMemory({ capacityTransitions: 5 })).toThrow(/>= stack size \+ 2 = 6/);
    expect(() => new ReplayMemory({ capacityTransitions: 6, frameHeight: 2, frameWidth: 2 })).not.toThrow();
  });

  it('rejects bad inputs to add', () => {
    const memory = new ReplayMemory({ capacityTransitions: 10 });
    const ok = new Uint8Array(84 * 84);
    expect(() => memory.add(new Uint8Array(84 * 83), 0, 0, false, false)).toThrow(/7056/);
    expect(() => memory.add(Array.from(ok) as unknown as Uint8Array, 0, 0, false, false)).toThrow(/Uint8Array/);
    expect(() => memory.add(ok, 256, 0, false, false)).toThrow(/action/);
    expect(() => memory.add(ok, -1, 0, false, false)).toThrow(/action/);
    expect(() => memory.add(ok, 1.5, 0, false, false)).toThrow(/action/);
    expect(() => memory.add(ok, 0, Number.NaN, false, false)).toThrow(/reward/);
    expect(() => memory.add(ok, 0, 0, true, false)).toThrow(/episodeEnd/);
    expect(memory.addedTransitions).toBe(0);
    memory.add(ok, 3, 1, false, false);
    expect(memory.addedTransitions).toBe(1);
  });
});

describe('ReplayMemory checkpoints', () => {
  function filled(count: number, seed: string): ReplayMemory {
    const m = tinyMemory(23, 5);
    for (const s of randomSteps(count, seed)) addStep(m, s);
    return m;
  }

  for (const count of [12, 23, 71]) {
    it(`save/load round trip with ${count} adds gives identical batches and keeps working`, () => {
      const original = filled(count, `ckpt-${count}`);
      const dir = tmpDir();
      original.save(dir);
      expect(fs.existsSync(path.join(dir, 'complete'))).toBe(true);
      const restored = ReplayMemory.load(dir);
      expect(restored.addedTransitions).toBe(original.addedTransitions);
      expect(restored.sampleableTransitions).toBe(original.sampleableTransitions);
      expect(restored.capacityTransitions).toBe(23);
      expect(restored.chunkFrames).toBe(5);
      const ra = seedrandom('rt');
      const rb = seedrandom('rt');
      for (let t = 0; t < 5; t++) expectSameBatch(original.sample(16, ra, original.createBatch(16)), restored.sample(16, rb, restored.createBatch(16)));
      // Further adds behave identically (counters and episode state were restored).
      const more = randomSteps(count + 30, `ckpt-${count}-more`).slice(count);
      for (const s of more) {
        addStep(original, s);
        addStep(restored, s);
      }
      expect(restored.sampleableTransitions).toBe(original.sampleableTransitions);
      for (let t = 0; t < 5; t++) expectSameBatch(original.sample(16, ra, original.createBatch(16)), restored.sample(16, rb, restored.createBatch(16)));
    });
  }

  it('overwrites an earlier checkpoint in the same directory', () => {
    const dir = tmpDir();
    filled(71, 'big').save(dir);
    const small = filled(7, 'small');
    small.save(dir);
    const restored = ReplayMemory.load(dir);
    expect(restored.addedTransitions).toBe(7);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('frames-'))).toEqual(['frames-0000.bin', 'frames-0001.bin']);
    expect(fs.readdirSync(dir).some((n) => n.includes('.tmp-'))).toBe(false);
  });

  it('refuses a directory without the complete sentinel', () => {
    const dir = tmpDir();
    filled(30, 'partial').save(dir);
    fs.rmSync(path.join(dir, 'complete'));
    expect(() => ReplayMemory.load(dir)).toThrow(/no 'complete' sentinel/);
    expect(() => ReplayMemory.load(path.join(dir, 'does-not-exist'))).toThrow(/no 'complete' sentinel/);
  });

  it('detects a truncated frame file', () => {
    const dir = tmpDir();
    filled(30, 'corrupt').save(dir);
    fs.truncateSync(path.join(dir, 'frames-0001.bin'), 3);
    expect(() => ReplayMemory.load(dir)).toThrow(/has 3 bytes, expected 20/);
  });
});

describe('ReplayMemory at Atari scale', () => {
  it('constructs a 1M-transition memory without allocating the frames', () => {
    const before = process.memoryUsage().arrayBuffers;
    const memory = new ReplayMemory({ capacityTransitions: 1_000_000 });
    expect(memory.frameBytes).toBe(7056);
    // Per-transition metadata only: 8 bytes per slot.
    expect(memory.allocatedBytes).toBe(8_000_000);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16_000_000);
    const chunkBytes = memory.chunkFrames * 7056;
    expect(chunkBytes).toBeGreaterThanOrEqual(256 * 1024 * 1024);
    expect(chunkBytes).toBeLessThanOrEqual(512 * 1024 * 1024);
    // Full size stays within 7.5 GB.
    expect(1_000_000 * 7056 + 8_000_000).toBeLessThan(7.5e9);
    // The first add allocates exactly one chunk.
    memory.add(new Uint8Array(7056).fill(9), 1, 1, false, false);
    expect(memory.allocatedBytes).toBe(8_000_000 + chunkBytes);
  });
});
