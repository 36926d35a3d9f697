/**
 * Benchmark for agents/replay.ts: fill a memory with random 84x84 frames,
 * then time batch sampling.
 *
 *   npx tsx scripts/bench-replay.ts [--capacity 200000] [--fill 200000]
 *       [--chunk-frames N] [--batch 32] [--batches 5000] [--seed bench]
 */
import { randomFillSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import seedrandom from 'seedrandom';
import { ReplayMemory } from '../agents/replay.ts';

const { values } = parseArgs({
  options: {
    capacity: { type: 'string', default: '200000' },
    fill: { type: 'string' },
    'chunk-frames': { type: 'string' },
    batch: { type: 'string', default: '32' },
    batches: { type: 'string', default: '5000' },
    seed: { type: 'string', default: 'bench' },
  },
});

const capacityTransitions = Number(values.capacity);
const fill = Number(values.fill ?? values.capacity);
const batchSize = Number(values.batch);
const batches = Number(values.batches);
const chunkFrames = values['chunk-frames'] === undefined ? undefined : Number(values['chunk-frames']);

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const memory = new ReplayMemory({ capacityTransitions, chunkFrames });
console.log(
  `capacity ${capacityTransitions}, fill ${fill}, chunkFrames ${memory.chunkFrames} ` +
    `(${mb(memory.chunkFrames * memory.frameBytes)} per chunk), batch ${batchSize}`,
);

// Random content only matters for realism of the copies, so a small pool of random frames is reused
// with the first bytes stamped per step (keeps filling fast and frames distinct).
const pool = Array.from({ length: 64 }, () => randomFillSync(new Uint8Array(memory.frameBytes)));
const rng = seedrandom(values.seed);
let t0 = performance.now();
let stepsLeft = 0;
for (let i = 0; i < fill; i++) {
  if (stepsLeft === 0) stepsLeft = 200 + Math.floor(rng() * 2800);
  stepsLeft--;
  const frame = pool[i % pool.length];
  frame[0] = i & 255;
  frame[1] = (i >>> 8) & 255;
  frame[2] = (i >>> 16) & 255;
  const episodeEnd = stepsLeft === 0;
  memory.add(frame, Math.floor(rng() * 18), rng() < 0.05 ? 1 : 0, episodeEnd && rng() < 0.7, episodeEnd);
}
const fillMs = performance.now() - t0;
console.log(
  `filled ${fill} frames in ${(fillMs / 1000).toFixed(2)} s (${Math.round(fill / (fillMs / 1000))} adds/s); ` +
    `sampleable ${memory.sampleableTransitions}`,
);

const batch = memory.createBatch(batchSize);
for (let i = 0; i < 500; i++) memory.sample(batchSize, rng, batch);

const times = new Float64Array(batches);
const heapBefore = process.memoryUsage().heapUsed;
t0 = performance.now();
for (let i = 0; i < batches; i++) {
  const s = performance.now();
  memory.sample(batchSize, rng, batch);
  times[i] = performance.now() - s;
}
const totalMs = performance.now() - t0;
const heapAfter = process.memoryUsage().heapUsed;
times.sort();
const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];

const usage = process.memoryUsage();
console.log(
  `sample(${batchSize}) over ${batches} batches: median ${q(0.5).toFixed(4)} ms, p90 ${q(0.9).toFixed(4)} ms, ` +
    `p99 ${q(0.99).toFixed(4)} ms, mean ${(totalMs / batches).toFixed(4)} ms`,
);
console.log(
  `replay allocatedBytes ${mb(memory.allocatedBytes)}; process rss ${mb(usage.rss)}, ` +
    `arrayBuffers ${mb(usage.arrayBuffers)}, heapUsed ${mb(usage.heapUsed)}; ` +
    `heapUsed change while sampling ${mb(heapAfter - heapBefore)} (GC may hide short-lived garbage)`,
);
