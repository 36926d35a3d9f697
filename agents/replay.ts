/**
 * Uniform replay memory for DQN on Atari, faithful to Dopamine's
 * OutOfGraphReplayBuffer (stack size 4, update horizon 1) but storing each
 * 84x84 frame once and rebuilding stacks at sample time.
 *
 * Differences from Dopamine that do not change what is sampled:
 * - Dopamine pads stack_size-1 zero frames at every episode start and spends
 *   slots on them; here each slot remembers how many earlier frames belong to
 *   its episode (`depth`), and the missing ones are written as zeros. The
 *   stacks produced are identical and no capacity is wasted on padding.
 * - Candidate indices are drawn from [oldest, added-2] rather than all stored
 *   indices: the newest index can never be valid, and rejection sampling over
 *   any superset of the valid set yields the same uniform distribution.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { constants as bufferConstants } from 'node:buffer';
import { fsyncDirectory, writeFileAtomic } from '../src/io/atomic.ts';
import { STACK_SIZE } from './frame_stack.ts';

export const DEFAULT_FRAME_HEIGHT = 84;
export const DEFAULT_FRAME_WIDTH = 84;
/** Bytes of one stored frame: the replay keeps (and saves) each frame once, whatever the stack depth. */
export const DEFAULT_FRAME_BYTES = DEFAULT_FRAME_HEIGHT * DEFAULT_FRAME_WIDTH;
/** Target chunk size: large enough that 1M frames need only ~18 chunks, far below the per-ArrayBuffer limit. */
export const DEFAULT_CHUNK_BYTES = 384 * 1024 * 1024;
/** Dopamine's default: total rejected draws tolerated per batch. */
export const DEFAULT_MAX_SAMPLE_ATTEMPTS = 1000;

const CHECKPOINT_FORMAT = 'dqn-replay-memory-v1';
const SENTINEL_FILE = 'complete';
const META_FILE = 'meta.json';

/** Uniform random source in [0, 1), e.g. a seedrandom PRNG. */
export type Rng = () => number;

export interface ReplayMemoryOptions {
  /** Number of transitions (= frames) kept; the oldest are overwritten. Must be >= stack size + 2. */
  capacityTransitions: number;
  /** Frames per storage chunk; default ≈ DEFAULT_CHUNK_BYTES / frame bytes, capped at the capacity. */
  chunkFrames?: number;
  /** Frame height in pixels (default 84). */
  frameHeight?: number;
  /** Frame width in pixels (default 84). */
  frameWidth?: number;
  /** Rejected draws tolerated per batch before sampling gives up (default 1000, as Dopamine). */
  maxSampleAttempts?: number;
}

/**
 * A batch of transitions. `states`/`nextStates` are planar [batch, 4, H, W],
 * oldest frame first. `indices` are logical indices (numbers, may exceed 2^31).
 */
export interface ReplayBatch {
  readonly batchSize: number;
  readonly states: Uint8Array;
  readonly actions: Int32Array;
  readonly rewards: Float32Array;
  readonly nextStates: Uint8Array;
  readonly terminals: Float32Array;
  readonly indices: Float64Array;
}

/** Shape of meta.json in a checkpoint directory. */
export interface ReplayCheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  littleEndian: boolean;
  capacityTransitions: number;
  chunkFrames: number;
  frameHeight: number;
  frameWidth: number;
  stackSize: number;
  maxSampleAttempts: number;
  addedTransitions: number;
  storedTransitions: number;
  arrays: Record<MetaArrayName, { file: string; dtype: 'uint8' | 'float32'; length: number; bytes: number }>;
  chunks: { index: number; file: string; frames: number; bytes: number }[];
}

type MetaArrayName = 'actions' | 'rewards' | 'terminals' | 'episodeEnds' | 'depths';

function requirePositiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new RangeError(`ReplayMemory: ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

function bytesOf(a: Uint8Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export class ReplayMemory {
  readonly capacityTransitions: number;
  readonly chunkFrames: number;
  readonly frameHeight: number;
  readonly frameWidth: number;
  readonly frameBytes: number;
  readonly stackSize = STACK_SIZE;
  readonly maxSampleAttempts: number;

  private readonly stackBytes: number;
  private readonly chunks: (Uint8Array | undefined)[];
  private readonly actions: Uint8Array;
  private readonly rewards: Float32Array;
  private readonly terminals: Uint8Array;
  private readonly episodeEnds: Uint8Array;
  /** Number of earlier frames (0..stackSize-1) of the same episode in this slot's stack. */
  private readonly depths: Uint8Array;
  private added = 0;
  private validCount = 0;
  private ownBatch: ReplayBatch | undefined;

  constructor(options: ReplayMemoryOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError('ReplayMemory: options object with capacityTransitions is required');
    }
    const capacity = requirePositiveInteger('capacityTransitions', options.capacityTransitions);
    if (capacity < STACK_SIZE + 2) {
      throw new RangeError(
        `ReplayMemory: capacityTransitions must be >= stack size + 2 = ${STACK_SIZE + 2}, got ${capacity}`,
      );
    }
    this.frameHeight = requirePositiveInteger('frameHeight', options.frameHeight ?? DEFAULT_FRAME_HEIGHT);
    this.frameWidth = requirePositiveInteger('frameWidth', options.frameWidth ?? DEFAULT_FRAME_WIDTH);
    this.frameBytes = this.frameHeight * this.frameWidth;
    this.stackBytes = this.frameBytes * STACK_SIZE;
    const defaultChunk = Math.max(1, Math.floor(DEFAULT_CHUNK_BYTES / this.frameBytes));
    const chunkFrames = Math.min(
      capacity,
      requirePositiveInteger('chunkFrames', options.chunkFrames ?? defaultChunk),
    );
    if (chunkFrames * this.frameBytes > bufferConstants.MAX_LENGTH) {
      throw new RangeError(
        `ReplayMemory: chunkFrames ${chunkFrames} x ${this.frameBytes} bytes exceeds the ` +
          `largest allocatable buffer (${bufferConstants.MAX_LENGTH} bytes); use smaller chunks`,
      );
    }
    this.capacityTransitions = capacity;
    this.chunkFrames = chunkFrames;
    this.maxSampleAttempts = requirePositiveInteger(
      'maxSampleAttempts',
      options.maxSampleAttempts ?? DEFAULT_MAX_SAMPLE_ATTEMPTS,
    );
    this.chunks = new Array<Uint8Array | undefined>(Math.ceil(capacity / chunkFrames)).fill(undefined);
    this.actions = new Uint8Array(capacity);
    this.rewards = new Float32Array(capacity);
    this.terminals = new Uint8Array(capacity);
    this.episodeEnds = new Uint8Array(capacity);
    this.depths = new Uint8Array(capacity);
  }

  /** Total number of add() calls ever made (logical index of the next add). */
  get addedTransitions(): number {
    return this.added;
  }

  /** Number of transitions currently stored (valid or not). */
  get size(): number {
    return Math.min(this.added, this.capacityTransitions);
  }

  /** Number of currently sampleable transitions (exact, maintained incrementally). */
  get sampleableTransitions(): number {
    return this.validCount;
  }

  /** Oldest logical index still stored. */
  get oldestIndex(): number {
    return Math.max(0, this.added - this.capacityTransitions);
  }

  /** Bytes held by the typed arrays allocated so far (frames are allocated lazily per chunk). */
  get allocatedBytes(): number {
    let total =
      this.actions.byteLength +
      this.rewards.byteLength +
      this.terminals.byteLength +
      this.episodeEnds.byteLength +
      this.depths.byteLength;
    for (const c of this.chunks) total += c ? c.byteLength : 0;
    return total;
  }

  /**
   * Whether sampling a batch makes sense: at least `batchSize` distinct valid
   * transitions exist (sampling itself is with replacement, as in Dopamine).
   */
  canSample(batchSize: number): boolean {
    requirePositiveInteger('batchSize', batchSize);
    return this.validCount >= batchSize;
  }

  /**
   * Record one agent step: `frame` is s_t (seen before `action`), `reward`
   * the reward that followed. `episodeEnd` marks the last stored transition
   * of an episode (terminal or time-limit truncation).
   */
  add(frame: Uint8Array, action: number, reward: number, terminal: boolean, episodeEnd: boolean): void {
    if (!(frame instanceof Uint8Array)) {
      throw new TypeError('ReplayMemory.add: frame must be a Uint8Array');
    }
    if (frame.length !== this.frameBytes) {
      throw new RangeError(
        `ReplayMemory.add: frame has ${frame.length} bytes, expected ${this.frameBytes} ` +
          `(${this.frameHeight}x${this.frameWidth} uint8)`,
      );
    }
    if (!Number.isInteger(action) || action < 0 || action > 255) {
      throw new RangeError(`ReplayMemory.add: action must be an integer in [0, 255], got ${action}`);
    }
    if (typeof reward !== 'number' || !Number.isFinite(reward)) {
      throw new RangeError(`ReplayMemory.add: reward must be a finite number, got ${reward}`);
    }
    if (typeof terminal !== 'boolean' || typeof episodeEnd !== 'boolean') {
      throw new TypeError('ReplayMemory.add: terminal and episodeEnd must be booleans');
    }
    if (terminal && !episodeEnd) {
      throw new RangeError('ReplayMemory.add: terminal transitions must also have episodeEnd = true');
    }

    const n = this.added;
    const cap = this.capacityTransitions;
    // Overwriting index n-cap invalidates it and any of its next 3 indices whose stacks reached back to it.
    const overwritten = n >= cap ? n - cap : -1;
    let lostValid = 0;
    if (overwritten >= 0) {
      for (let k = 0; k < STACK_SIZE; k++) lostValid += this.isSampleable(overwritten + k) ? 1 : 0;
    }

    const slot = n % cap;
    const prevEnded = n === 0 || this.episodeEnds[(n - 1) % cap] === 1;
    const depth = prevEnded ? 0 : Math.min(STACK_SIZE - 1, this.depths[(n - 1) % cap] + 1);
    const chunkIndex = Math.floor(slot / this.chunkFrames);
    const chunk = this.chunks[chunkIndex] ?? this.allocateChunk(chunkIndex);
    chunk.set(frame, (slot - chunkIndex * this.chunkFrames) * this.frameBytes);
    this.actions[slot] = action;
    this.rewards[slot] = reward;
    this.terminals[slot] = terminal ? 1 : 0;
    this.episodeEnds[slot] = episodeEnd ? 1 : 0;
    this.depths[slot] = depth;
    this.added = n + 1;

    if (overwritten >= 0) {
      for (let k = 0; k < STACK_SIZE; k++) lostValid -= this.isSampleable(overwritten + k) ? 1 : 0;
    }
    // n-1 just moved clear of the write cursor (its next frame now exists).
    this.validCount += (n >= 1 && this.isSampleable(n - 1) ? 1 : 0) - lostValid;
  }

  /** Dopamine's is_valid_transition for logical index `index`, under the rules in the header. */
  isSampleable(index: number): boolean {
    if (!Number.isInteger(index)) return false;
    const oldest = this.oldestIndex;
    if (index < oldest || index > this.added - 2) return false;
    const slot = index % this.capacityTransitions;
    // A truncated transition has no stored next state.
    if (this.episodeEnds[slot] === 1 && this.terminals[slot] === 0) return false;
    return index - this.depths[slot] >= oldest;
  }

  /** Preallocate a batch to be filled in place by sample()/gather(). */
  createBatch(batchSize: number): ReplayBatch {
    requirePositiveInteger('batchSize', batchSize);
    return {
      batchSize,
      states: new Uint8Array(batchSize * this.stackBytes),
      actions: new Int32Array(batchSize),
      rewards: new Float32Array(batchSize),
      nextStates: new Uint8Array(batchSize * this.stackBytes),
      terminals: new Float32Array(batchSize),
      indices: new Float64Array(batchSize),
    };
  }

  /**
   * Draw `batchSize` transitions uniformly (with replacement) among the
   * sampleable ones. Without `out`, fills a memory-owned batch that the next
   * sample() call overwrites.
   */
  sample(batchSize: number, rng: Rng, out?: ReplayBatch): ReplayBatch {
    requirePositiveInteger('batchSize', batchSize);
    if (this.validCount === 0) {
      throw new Error(
        `ReplayMemory.sample: no sampleable transition (added ${this.added}, stored ${this.size}); ` +
          'add more transitions before sampling',
      );
    }
    const batch = out ?? this.memoryOwnedBatch(batchSize);
    this.checkBatch(batch, batchSize);
    const lo = this.oldestIndex;
    const span = this.added - 1 - lo;
    let rejected = 0;
    for (let b = 0; b < batchSize; ) {
      const r = rng();
      if (!(r >= 0 && r < 1)) throw new RangeError(`ReplayMemory.sample: rng returned ${r}, expected [0, 1)`);
      const index = lo + Math.floor(r * span);
      if (this.isSampleable(index)) {
        this.writeRow(batch, b, index);
        b++;
      } else if (++rejected >= this.maxSampleAttempts) {
        throw new Error(
          `ReplayMemory.sample: ${rejected} rejected draws while filling a batch of ${batchSize} ` +
            `(${this.validCount} of ${this.size} stored transitions are sampleable); raise maxSampleAttempts`,
        );
      }
    }
    return batch;
  }

  /** Fill `out` (or a new batch) with the given sampleable logical indices, in order. */
  gather(indices: ArrayLike<number>, out?: ReplayBatch): ReplayBatch {
    const batch = out ?? this.createBatch(indices.length);
    this.checkBatch(batch, indices.length);
    for (let b = 0; b < indices.length; b++) {
      const index = indices[b];
      if (!this.isSampleable(index)) {
        throw new RangeError(
          `ReplayMemory.gather: index ${index} is not sampleable ` +
            `(stored range [${this.oldestIndex}, ${this.added - 1}])`,
        );
      }
      this.writeRow(batch, b, index);
    }
    return batch;
  }

  /**
   * Write the used part of the memory to `dir` (created if needed). Files are
   * written under temporary names and renamed; the `complete` sentinel is
   * removed first and written last, so an interrupted save is never loadable.
   */
  save(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.rmSync(path.join(dir, SENTINEL_FILE), { force: true });
    const stored = this.size;
    const arrays = {} as ReplayCheckpointMeta['arrays'];
    const writeArray = (name: MetaArrayName, a: Uint8Array | Float32Array): void => {
      const used = a.subarray(0, stored);
      const file = `${name}.bin`;
      writeFileAtomic(path.join(dir, file), bytesOf(used));
      arrays[name] = {
        file,
        dtype: a instanceof Float32Array ? 'float32' : 'uint8',
        length: used.length,
        bytes: used.byteLength,
      };
    };
    writeArray('actions', this.actions);
    writeArray('rewards', this.rewards);
    writeArray('terminals', this.terminals);
    writeArray('episodeEnds', this.episodeEnds);
    writeArray('depths', this.depths);

    const chunks: ReplayCheckpointMeta['chunks'] = [];
    for (let c = 0; c < this.chunks.length; c++) {
      const usedFrames = Math.min(this.chunkLength(c), Math.max(0, stored - c * this.chunkFrames));
      if (usedFrames === 0) continue;
      const chunk = this.chunks[c];
      if (!chunk) throw new Error(`ReplayMemory.save: internal error, chunk ${c} holds frames but is unallocated`);
      const file = `frames-${String(c).padStart(4, '0')}.bin`;
      const bytes = usedFrames * this.frameBytes;
      writeFileAtomic(path.join(dir, file), chunk.subarray(0, bytes));
      chunks.push({ index: c, file, frames: usedFrames, bytes });
    }
    // Frame files of an earlier, larger save would otherwise linger unreferenced.
    const keep = new Set(chunks.map((c) => c.file));
    for (const name of fs.readdirSync(dir)) {
      if (/^frames-\d+\.bin$/.test(name) && !keep.has(name)) fs.rmSync(path.join(dir, name), { force: true });
    }

    const meta: ReplayCheckpointMeta = {
      format: CHECKPOINT_FORMAT,
      littleEndian: os.endianness() === 'LE',
      capacityTransitions: this.capacityTransitions,
      chunkFrames: this.chunkFrames,
      frameHeight: this.frameHeight,
      frameWidth: this.frameWidth,
      stackSize: this.stackSize,
      maxSampleAttempts: this.maxSampleAttempts,
      addedTransitions: this.added,
      storedTransitions: stored,
      arrays,
      chunks,
    };
    writeFileAtomic(path.join(dir, META_FILE), new TextEncoder().encode(JSON.stringify(meta, null, 2) + '\n'));
    writeFileAtomic(path.join(dir, SENTINEL_FILE), new TextEncoder().encode(`${new Date().toISOString()}\n`));
    fsyncDirectory(dir);
  }

  /** Restore a memory written by save(). Refuses directories without the `complete` sentinel. */
  static load(dir: string): ReplayMemory {
    if (!fs.existsSync(path.join(dir, SENTINEL_FILE))) {
      throw new Error(
        `ReplayMemory.load: '${dir}' has no '${SENTINEL_FILE}' sentinel file; ` +
          'the checkpoint is incomplete (interrupted save) or is not a replay memory checkpoint',
      );
    }
    const meta = JSON.parse(fs.readFileSync(path.join(dir, META_FILE), 'utf8')) as ReplayCheckpointMeta;
    if (meta.format !== CHECKPOINT_FORMAT) {
      throw new Error(`ReplayMemory.load: '${dir}' has format ${String(meta.format)}, expected ${CHECKPOINT_FORMAT}`);
    }
    if (meta.littleEndian !== (os.endianness() === 'LE')) {
      throw new Error('ReplayMemory.load: checkpoint endianness differs from this machine');
    }
    if (meta.stackSize !== STACK_SIZE) {
      throw new Error(`ReplayMemory.load: checkpoint stack size ${meta.stackSize}, expected ${STACK_SIZE}`);
    }
    const memory = new ReplayMemory({
      capacityTransitions: meta.capacityTransitions,
      chunkFrames: meta.chunkFrames,
      frameHeight: meta.frameHeight,
      frameWidth: meta.frameWidth,
      maxSampleAttempts: meta.maxSampleAttempts,
    });
    const stored = Math.min(meta.addedTransitions, meta.capacityTransitions);
    if (!Number.isInteger(meta.addedTransitions) || meta.addedTransitions < 0 || meta.storedTransitions !== stored) {
      throw new Error(`ReplayMemory.load: inconsistent counters in ${META_FILE}`);
    }
    const targets: Record<MetaArrayName, Uint8Array | Float32Array> = {
      actions: memory.actions,
      rewards: memory.rewards,
      terminals: memory.terminals,
      episodeEnds: memory.episodeEnds,
      depths: memory.depths,
    };
    for (const name of Object.keys(targets) as MetaArrayName[]) {
      const entry = meta.arrays?.[name];
      if (!entry || entry.length !== stored) {
        throw new Error(`ReplayMemory.load: ${META_FILE} lacks a '${name}' array of length ${stored}`);
      }
      readFileInto(path.join(dir, entry.file), bytesOf(targets[name].subarray(0, stored)));
    }
    let framesRead = 0;
    for (const c of meta.chunks) {
      const expected = Math.min(memory.chunkLength(c.index), Math.max(0, stored - c.index * memory.chunkFrames));
      if (!Number.isInteger(c.index) || c.index < 0 || c.index >= memory.chunks.length || c.frames !== expected) {
        throw new Error(`ReplayMemory.load: chunk entry ${JSON.stringify(c)} does not match the counters`);
      }
      const chunk = memory.allocateChunk(c.index);
      readFileInto(path.join(dir, c.file), chunk.subarray(0, c.frames * memory.frameBytes));
      framesRead += c.frames;
    }
    if (framesRead !== stored) {
      throw new Error(`ReplayMemory.load: checkpoint holds ${framesRead} frames, expected ${stored}`);
    }
    memory.added = meta.addedTransitions;
    let valid = 0;
    for (let j = memory.oldestIndex; j < memory.added; j++) valid += memory.isSampleable(j) ? 1 : 0;
    memory.validCount = valid;
    return memory;
  }

  private chunkLength(chunkIndex: number): number {
    return Math.min(this.chunkFrames, this.capacityTransitions - chunkIndex * this.chunkFrames);
  }

  private allocateChunk(chunkIndex: number): Uint8Array {
    const chunk = new Uint8Array(this.chunkLength(chunkIndex) * this.frameBytes);
    this.chunks[chunkIndex] = chunk;
    return chunk;
  }

  private memoryOwnedBatch(batchSize: number): ReplayBatch {
    if (!this.ownBatch || this.ownBatch.batchSize !== batchSize) this.ownBatch = this.createBatch(batchSize);
    return this.ownBatch;
  }

  private checkBatch(batch: ReplayBatch, batchSize: number): void {
    const sb = batchSize * this.stackBytes;
    if (
      batch.batchSize !== batchSize ||
      batch.states.length !== sb ||
      batch.nextStates.length !== sb ||
      batch.actions.length !== batchSize ||
      batch.rewards.length !== batchSize ||
      batch.terminals.length !== batchSize ||
      batch.indices.length !== batchSize
    ) {
      throw new RangeError(
        `ReplayMemory: batch arrays do not match batch size ${batchSize} and ${this.frameHeight}x${this.frameWidth} frames; ` +
          'use createBatch()',
      );
    }
  }

  private writeRow(batch: ReplayBatch, row: number, index: number): void {
    const fb = this.frameBytes;
    const slot = index % this.capacityTransitions;
    const depth = this.depths[slot];
    const base = row * this.stackBytes;
    const zeroFrames = STACK_SIZE - 1 - depth;
    const { states, nextStates } = batch;
    if (zeroFrames > 0) states.fill(0, base, base + zeroFrames * fb);
    this.copyFrames(index - depth, depth + 1, states, base + zeroFrames * fb);
    // The next state shares frames j-2..j (and their zero padding) with the state.
    nextStates.set(states.subarray(base + fb, base + this.stackBytes), base);
    const lastOffset = base + (STACK_SIZE - 1) * fb;
    if (this.episodeEnds[slot] === 1) {
      // Frame j+1 belongs to the next episode; it is masked by the terminal flag anyway.
      nextStates.fill(0, lastOffset, lastOffset + fb);
    } else {
      this.copyFrames(index + 1, 1, nextStates, lastOffset);
    }
    batch.actions[row] = this.actions[slot];
    batch.rewards[row] = this.rewards[slot];
    batch.terminals[row] = this.terminals[slot];
    batch.indices[row] = index;
  }

  /** Copy `count` consecutive logical frames, one `set` per run that is contiguous within a chunk. */
  private copyFrames(first: number, count: number, dst: Uint8Array, dstOffset: number): void {
    const fb = this.frameBytes;
    let index = first;
    let offset = dstOffset;
    let remaining = count;
    while (remaining > 0) {
      const slot = index % this.capacityTransitions;
      const chunkIndex = Math.floor(slot / this.chunkFrames);
      const within = slot - chunkIndex * this.chunkFrames;
      const run = Math.min(remaining, this.chunkLength(chunkIndex) - within);
      const chunk = this.chunks[chunkIndex] as Uint8Array;
      dst.set(chunk.subarray(within * fb, (within + run) * fb), offset);
      index += run;
      offset += run * fb;
      remaining -= run;
    }
  }
}

function readFileInto(file: string, target: Uint8Array): void {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (size !== target.byteLength) {
      throw new Error(`ReplayMemory.load: ${file} has ${size} bytes, expected ${target.byteLength}`);
    }
    let read = 0;
    while (read < target.byteLength) {
      const n = fs.readSync(fd, target, read, target.byteLength - read, read);
      if (n === 0) throw new Error(`ReplayMemory.load: unexpected end of ${file}`);
      read += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
