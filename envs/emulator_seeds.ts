// The emulator seed policy: which ALE seed each emulator of a run gets. Emulator streams of one run: 0 is the
// training environment, 1 + k is evaluation environment k, the last one records --capture-video's episodes. ALE's
// seed is a 31-bit integer; the run seed, the stream and the session each get a field of it, so a resumed session
// does not replay an earlier one's emulator randomness and (within the ranges below) no two emulators of any two
// runs share a seed.

const SEED_BITS = 14; // run seeds 0..16383
const STREAM_BITS = 7; // the training env and up to 127 evaluation envs (presets allow 64)
const SESSION_BITS = 10; // 1024 sessions before the session field wraps
export const TRAIN_STREAM = 0;
export const evalStream = (k: number): number => 1 + k;
/** The emulator of --capture-video's episodes: the last stream (evaluation uses at most 64), the iteration as session. */
export const VIDEO_STREAM = 2 ** STREAM_BITS - 1;

/** A bijection of [0, 2^31): xorshift-multiply rounds (each step is invertible modulo 2^31). */
function permute31(x: number): number {
  const mask = 0x7fffffff;
  let h = x & mask;
  h = (h ^ (h >>> 16)) & mask;
  h = Math.imul(h, 0x45d9f3b) & mask;
  h = (h ^ (h >>> 15)) & mask;
  h = Math.imul(h, 0x2c1b3c6d | 1) & mask;
  h = (h ^ (h >>> 16)) & mask;
  return h;
}

/**
 * The ALE seed of one emulator of a run: a fixed function of (run seed, stream, session). For run seeds
 * 0..16383, streams 0..127 and sessions 0..1023 the fields are packed side by side and scrambled by a bijection,
 * so no two emulators of any two such runs share a seed (tested over run seeds 0..9999). Outside those ranges the
 * fields are hashed, which is still deterministic but no longer guaranteed distinct. The scramble only keeps the
 * seeds from looking sequential; ALE's generator does not need it.
 */
export function emulatorSeed(runSeed: number, stream: number, session: number): number {
  const fits = (v: number, bits: number) => Number.isInteger(v) && v >= 0 && v < 2 ** bits;
  if (fits(runSeed, SEED_BITS) && fits(stream, STREAM_BITS)) {
    const sessionField = ((session % 2 ** SESSION_BITS) + 2 ** SESSION_BITS) % 2 ** SESSION_BITS;
    return permute31(runSeed + stream * 2 ** SEED_BITS + sessionField * 2 ** (SEED_BITS + STREAM_BITS));
  }
  // FNV-1a over the whole key, each field separated, then the same scramble.
  let h = 2166136261;
  for (const ch of `${runSeed}/${stream}/${session}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return permute31(h >>> 1);
}
