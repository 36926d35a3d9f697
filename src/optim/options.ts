/**
 * Option validation: every bad input is a clear error at construction, never a NaN later. λ's rule is here for every
 * caller (weightDecayProblem): the CLIs, the run config and the sweep plan ask it and word its answer for their users.
 */
import { decoupledCoefficient } from './decay.ts';
import { SCHEMES } from './schemes.ts';
import { parseWeightDecaySchedule, type WeightDecaySchedule } from './schedule.ts';
import {
  optimizerNames,
  type DecayFilter,
  type DecoupledConvention,
  type OptimizerFamily,
  type OptimizerName,
} from './types.ts';

export function isOptimizerName(name: unknown): name is OptimizerName {
  return typeof name === 'string' && (optimizerNames as readonly string[]).includes(name);
}

export function assertOptimizerName(name: unknown): OptimizerName {
  if (!isOptimizerName(name)) {
    throw new Error(`unknown optimizer '${String(name)}'; valid names: ${optimizerNames.join(', ')}`);
  }
  return name;
}

/** Options with every default filled in and every value checked. */
export interface ResolvedOptions {
  learningRate: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  momentum: number;
  rho: number;
  centered: boolean;
  initialMeanSquare: number;
  decoupledConvention: DecoupledConvention;
  weightDecaySchedule: string;
  schedule: WeightDecaySchedule;
  decayFilter: DecayFilter;
  scheduleMultiplier: number;
  trackLastStep: boolean;
}

const COMMON_KEYS = [
  'learningRate',
  'weightDecay',
  'weightDecaySchedule',
  'decayFilter',
  'scheduleMultiplier',
  'trackLastStep',
] as const;
const FAMILY_KEYS: Record<OptimizerFamily, readonly string[]> = {
  adam: ['beta1', 'beta2', 'epsilon'],
  sgd: ['momentum'],
  rmsprop: ['rho', 'momentum', 'epsilon', 'centered', 'initialMeanSquare'],
};
const ALL_KEYS = new Set<string>([
  ...COMMON_KEYS,
  'decoupledConvention',
  ...FAMILY_KEYS.adam,
  ...FAMILY_KEYS.sgd,
  ...FAMILY_KEYS.rmsprop,
]);

function fail(scheme: string, message: string): never {
  throw new Error(`${scheme}: ${message}`);
}

function finite(scheme: string, key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(scheme, `${key} must be a finite number, got ${String(value)}`);
  }
  return value;
}

function positive(scheme: string, key: string, value: unknown): number {
  const v = finite(scheme, key, value);
  if (!(v > 0)) fail(scheme, `${key} must be > 0, got ${v}`);
  return v;
}

function nonNegative(scheme: string, key: string, value: unknown): number {
  const v = finite(scheme, key, value);
  if (v < 0) fail(scheme, `${key} must be >= 0, got ${v}`);
  return v;
}

function unitInterval(scheme: string, key: string, value: unknown): number {
  const v = finite(scheme, key, value);
  if (!(v >= 0 && v < 1)) fail(scheme, `${key} must be in [0, 1), got ${v}`);
  return v;
}

function boolean(scheme: string, key: string, value: unknown): boolean {
  if (typeof value !== 'boolean') fail(scheme, `${key} must be true or false, got ${String(value)}`);
  return value;
}

/** The largest λ a user may ask for: far above any published one (the paper's run from 1e-8 to 1e-3). */
export const MAX_WEIGHT_DECAY = 10;

/** What can be wrong with a weight decay λ (weightDecayProblem). */
export type WeightDecayProblem = 'not-a-number' | 'negative' | 'scheme-has-none' | 'implausible';

/**
 * λ's rule, the one place it is checked: a finite number >= 0; 0 for a scheme without weight decay (`scheme`, when
 * given); and at most MAX_WEIGHT_DECAY when a user asks for it (`asked`) — not for the λ an optimizer gets, which
 * --match-paper-decay may have scaled far above. Returns the first problem in that order, or null; each caller words
 * it for its users (resolveOptions for library users, --wd's parser, the run config, the sweep plan).
 */
export function weightDecayProblem(weightDecay: unknown, check: { scheme?: OptimizerName; asked?: boolean } = {}): WeightDecayProblem | null {
  if (typeof weightDecay !== 'number' || !Number.isFinite(weightDecay)) return 'not-a-number';
  if (weightDecay < 0) return 'negative';
  if (check.scheme !== undefined && SCHEMES[check.scheme].decay === 'none' && weightDecay !== 0) return 'scheme-has-none';
  if (check.asked && weightDecay > MAX_WEIGHT_DECAY) return 'implausible';
  return null;
}

/** Throws unless 0 <= c < 1, so the decoupled factor (1 − c) can never flip the weights' sign. */
export function checkDecoupledCoefficient(scheme: string, o: {
  decoupledConvention: DecoupledConvention;
  learningRate: number;
  scheduleMultiplier: number;
  weightDecay: number;
}): void {
  const c = decoupledCoefficient(o.decoupledConvention, o.learningRate, o.scheduleMultiplier, o.weightDecay);
  if (!(c < 1)) {
    const formula = o.decoupledConvention === 'lr-scaled' ? 'learningRate·scheduleMultiplier·weightDecay' : 'scheduleMultiplier·weightDecay';
    fail(scheme, `decoupled decay coefficient ${formula} = ${c} must be < 1 (convention '${o.decoupledConvention}')`);
  }
}

export function resolveOptions(scheme: OptimizerName, raw: unknown): ResolvedOptions {
  const { family, decay } = SCHEMES[scheme];
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    fail(scheme, 'options must be an object with at least { learningRate }');
  }
  const given: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (value !== undefined) given[key] = value;
  }
  const allowed = new Set<string>([...COMMON_KEYS, ...FAMILY_KEYS[family]]);
  if (decay === 'decoupled') allowed.add('decoupledConvention');
  for (const key of Object.keys(given)) {
    if (!ALL_KEYS.has(key)) {
      fail(scheme, `unknown option '${key}'; valid options: ${[...ALL_KEYS].join(', ')}`);
    }
    if (!allowed.has(key)) {
      fail(scheme, `option '${key}' does not apply to ${scheme}; its options: ${[...allowed].join(', ')}`);
    }
  }
  if (given.learningRate === undefined) fail(scheme, 'learningRate is required');

  const learningRate = positive(scheme, 'learningRate', given.learningRate);
  const weightDecay = given.weightDecay ?? 0;
  const problem = weightDecayProblem(weightDecay, { scheme });
  if (problem === 'not-a-number' || problem === 'negative') {
    fail(scheme, `weightDecay must be ${problem === 'negative' ? '>= 0' : 'a finite number'}, got ${String(weightDecay)}`);
  }
  if (problem === 'scheme-has-none') {
    const variants = (Object.keys(SCHEMES) as OptimizerName[]).filter(
      (n) => SCHEMES[n].family === family && SCHEMES[n].decay !== 'none',
    );
    fail(scheme, `has no weight decay (weightDecay must be 0, got ${weightDecay}); use ${variants.join(' or ')}`);
  }
  const weightDecaySchedule = (given.weightDecaySchedule ?? 'constant') as string;
  let schedule: WeightDecaySchedule;
  try {
    schedule = parseWeightDecaySchedule(weightDecaySchedule);
  } catch (error) {
    fail(scheme, (error as Error).message);
  }
  if (schedule.kind === 'every' && decay !== 'decoupled') {
    fail(
      scheme,
      `weightDecaySchedule '${weightDecaySchedule}' applies decoupled decay in bursts and is only defined for the ` +
        `decoupled schemes (adamw, sgdw, rmspropw); use constant, early:T or late:T`,
    );
  }
  const decayFilter = (given.decayFilter ?? 'all') as DecayFilter;
  if (decayFilter !== 'all' && decayFilter !== 'no-bias') {
    fail(scheme, `decayFilter must be 'all' or 'no-bias', got ${String(given.decayFilter)}`);
  }
  const decoupledConvention = (given.decoupledConvention ?? 'lr-scaled') as DecoupledConvention;
  if (decoupledConvention !== 'lr-scaled' && decoupledConvention !== 'schedule-scaled') {
    fail(scheme, `decoupledConvention must be 'lr-scaled' or 'schedule-scaled', got ${String(given.decoupledConvention)}`);
  }
  const scheduleMultiplier = nonNegative(scheme, 'scheduleMultiplier', given.scheduleMultiplier ?? 1);
  const resolved: ResolvedOptions = {
    learningRate,
    weightDecay: weightDecay as number,
    beta1: unitInterval(scheme, 'beta1', given.beta1 ?? 0.9),
    beta2: unitInterval(scheme, 'beta2', given.beta2 ?? 0.999),
    epsilon: positive(scheme, 'epsilon', given.epsilon ?? (family === 'adam' ? 1e-8 : 1e-7)),
    momentum: unitInterval(scheme, 'momentum', given.momentum ?? 0),
    rho: unitInterval(scheme, 'rho', given.rho ?? 0.9),
    centered: boolean(scheme, 'centered', given.centered ?? false),
    initialMeanSquare: nonNegative(scheme, 'initialMeanSquare', given.initialMeanSquare ?? 0),
    decoupledConvention,
    weightDecaySchedule,
    schedule,
    decayFilter,
    scheduleMultiplier,
    trackLastStep: boolean(scheme, 'trackLastStep', given.trackLastStep ?? false),
  };
  if (decay === 'decoupled') checkDecoupledCoefficient(scheme, resolved);
  return resolved;
}
