/**
 * λ schedules. The multiplier s_k of step k (0-based: k steps were taken before it) is a pure function of k:
 *   constant  s_k = 1
 *   early:T   s_k = 1 for k < T, else 0      (decay only during the first T steps: Golatkar et al.'s early WD)
 *   late:T    s_k = 0 for k < T, else 1      (decay only from step T on)
 *   every:K   s_k = K when (k + 1) is a multiple of K, else 0 (steps K, 2K, …; decoupled schemes only)
 * For L2 and separated schemes λ_k = s_k·λ. Decoupled schemes multiply the weights by (1 − c)^{s_k}, so on the
 * decaying steps of every:K the decay is exactly K steps' worth of constant decay, (1 − c)^K.
 */

export type WeightDecaySchedule =
  | { readonly kind: 'constant' }
  | { readonly kind: 'early'; readonly steps: number }
  | { readonly kind: 'late'; readonly steps: number }
  | { readonly kind: 'every'; readonly steps: number };

const FORMS = "'constant', 'early:T', 'late:T' or 'every:K' (T, K positive integers)";

/** Parses a schedule string; throws a clear error for anything malformed. */
export function parseWeightDecaySchedule(text: string): WeightDecaySchedule {
  if (typeof text !== 'string') {
    throw new Error(`weightDecaySchedule must be a string: ${FORMS}; got ${typeof text}`);
  }
  const trimmed = text.trim();
  if (trimmed === 'constant') return { kind: 'constant' };
  const match = /^(early|late|every):(\d+)$/.exec(trimmed);
  if (match === null) {
    throw new Error(`malformed weightDecaySchedule '${text}': expected ${FORMS}`);
  }
  const steps = Number(match[2]);
  if (!Number.isSafeInteger(steps) || steps < 1) {
    throw new Error(`malformed weightDecaySchedule '${text}': ${match[1]} needs a positive integer, got '${match[2]}'`);
  }
  return { kind: match[1] as 'early' | 'late' | 'every', steps };
}

/** The canonical string of a schedule (inverse of parseWeightDecaySchedule). */
export function formatWeightDecaySchedule(schedule: WeightDecaySchedule): string {
  return schedule.kind === 'constant' ? 'constant' : `${schedule.kind}:${schedule.steps}`;
}

/** s_k for step index k (0-based). */
export function decayMultiplier(schedule: WeightDecaySchedule, stepIndex: number): number {
  switch (schedule.kind) {
    case 'constant':
      return 1;
    case 'early':
      return stepIndex < schedule.steps ? 1 : 0;
    case 'late':
      return stepIndex >= schedule.steps ? 1 : 0;
    case 'every':
      return (stepIndex + 1) % schedule.steps === 0 ? schedule.steps : 0;
  }
}
