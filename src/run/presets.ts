// Run presets and the resolved run config. A run's config is the one object that decides what the run computes:
// it is written to config.json, compared on resume, and hashed into sweep run ids. Presets are frozen; a user
// changes values with CLI flags or `--set key=value`, never by editing a preset in place.
//
// Sources: ../shared/reference/dopamine_dqn_hyperparameters.md (Dopamine's dqn.gin for TF and JAX).
import { isOptimizerName, MAX_WEIGHT_DECAY, resolveOptions, weightDecayProblem } from '../optim/options.ts';
import { decimalNumber } from '../format.ts';
import { SCHEMES } from '../optim/schemes.ts';
import { optimizerNames, type OptimizerFamily, type OptimizerOptions } from '../optim/types.ts';
import type { DqnHyperparameters } from '../../agents/dqn_agent.ts';
import { decoupledSettings, describeDecayBudget, PAPER_UPDATES, paperMatchedWeightDecay, plannedUpdates } from './decay_budget.ts';

export type ProtocolName = 'dopamine' | 'nature';

/** Optimizer settings of the run: the scheme, λ and the scheme's options (see src/optim/types.ts). */
export type RunOptimizerConfig = { name: string } & OptimizerOptions;

export interface RunConfig {
  /** ALE ROM id (`pong`, `space_invaders`). */
  game: string;
  seed: number;
  preset: PresetName;
  protocol: ProtocolName;
  iterations: number;
  /** Agent steps per training phase: whole episodes are played until at least this many steps. */
  trainingSteps: number;
  /** Agent steps per evaluation phase (ε = agent.epsilonEval); 0 = no evaluation phase. */
  evalSteps: number;
  /** Environments stepped together in the evaluation phase, acting through one batched forward pass. */
  evalEnvs: number;
  /** Time limit per episode, in agent steps (Dopamine: 27,000 = 108,000 frames). */
  maxEpisodeSteps: number;
  agent: Omit<DqnHyperparameters, 'optimizer'> & { optimizer: RunOptimizerConfig };
  /**
   * Present only with --match-paper-decay: agent.optimizer.weightDecay was scaled from `nominalWeightDecay` so
   * that this run's `updates` apply the paper's total decoupled decay (over `paperUpdates`).
   */
  decayMatch?: DecayMatch;
}

export interface DecayMatch {
  target: 'paper-total-decay';
  nominalWeightDecay: number;
  updates: number;
  paperUpdates: number;
}

interface Preset {
  description: string;
  /** Scheme used when no --optimizer is given. */
  defaultOptimizer: string;
  /** Options of each optimizer family (λ and the scheme name come from the run). */
  optimizerFamilies: Partial<Record<OptimizerFamily, Omit<OptimizerOptions, 'weightDecay'>>>;
  values: Omit<RunConfig, 'game' | 'seed' | 'preset' | 'agent'> & { agent: Omit<RunConfig['agent'], 'optimizer'> };
}

// Dopamine's JAX DQN Adam and TF DQN RMSProp settings. `trackLastStep` lets the optimizer report the last step's
// weight-decay-to-gradient ratios (paper's Figure 7 diagnostics); it changes no update.
export const DOPAMINE_ADAM = { learningRate: 6.25e-5, epsilon: 1.5e-4, beta1: 0.9, beta2: 0.999, trackLastStep: true } as const;
// TF1's RMSPropOptimizer starts its mean square at 1 and Dopamine passes centered=True, decay 0.95, eps 1e-5.
export const DOPAMINE_RMSPROP = { learningRate: 2.5e-4, rho: 0.95, momentum: 0, epsilon: 1e-5, centered: true, initialMeanSquare: 1, trackLastStep: true } as const;

export const DOPAMINE_AGENT = {
  gamma: 0.99,
  minReplayHistory: 20_000,
  updatePeriodSteps: 4,
  targetUpdatePeriodSteps: 8_000,
  epsilonTrain: 0.01,
  epsilonEval: 0.001,
  epsilonDecayPeriodSteps: 250_000,
  batchSize: 32,
  replayCapacityTransitions: 1_000_000,
  loss: 'huber',
  rewardClip: 1,
  padding: 'same',
} as const satisfies RunConfig['agent'] extends infer A ? Omit<A, 'optimizer'> : never;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export const PRESETS = deepFreeze({
  dopamine: {
    description:
      "Dopamine's JAX DQN (the paper's Adam experiments): Adam lr 6.25e-5, eps 1.5e-4, Huber loss, sticky actions, " +
      '200 iterations x 250,000 training steps, no evaluation phase (50M agent steps = 200M frames).',
    defaultOptimizer: 'adam',
    optimizerFamilies: { adam: DOPAMINE_ADAM, rmsprop: DOPAMINE_RMSPROP },
    values: {
      protocol: 'dopamine', iterations: 200, trainingSteps: 250_000, evalSteps: 0, evalEnvs: 8, maxEpisodeSteps: 27_000,
      agent: DOPAMINE_AGENT,
    },
  },
  'dopamine-tf': {
    description:
      "Dopamine's TF DQN (dqn.gin): centered RMSProp lr 2.5e-4, decay 0.95, eps 1e-5, 200 iterations x 250,000 " +
      'training steps, 125,000 evaluation steps per iteration at eps 0.001.',
    defaultOptimizer: 'rmsprop',
    optimizerFamilies: { adam: DOPAMINE_ADAM, rmsprop: DOPAMINE_RMSPROP },
    values: {
      protocol: 'dopamine', iterations: 200, trainingSteps: 250_000, evalSteps: 125_000, evalEnvs: 8, maxEpisodeSteps: 27_000,
      agent: DOPAMINE_AGENT,
    },
  },
  reduced: {
    description:
      'CPU-sized budget for sweeps: 10 iterations x 10,000 training steps (100,000 agent steps = 400,000 frames), ' +
      'with the schedule lengths scaled to that budget (warm-up 5,000, eps decay over 25,000 steps, target sync ' +
      'every 2,000, replay holds the whole run). Everything else as the dopamine preset.',
    defaultOptimizer: 'adam',
    optimizerFamilies: { adam: DOPAMINE_ADAM, rmsprop: DOPAMINE_RMSPROP },
    values: {
      protocol: 'dopamine', iterations: 10, trainingSteps: 10_000, evalSteps: 0, evalEnvs: 8, maxEpisodeSteps: 27_000,
      agent: {
        ...DOPAMINE_AGENT,
        // 20,000 warm-up steps would be a fifth of the budget spent before the first update.
        minReplayHistory: 5_000,
        // Over 250,000 steps ε would still be ~0.7 at the end of the run; 25,000 leaves 70 % of it at ε = 0.01.
        epsilonDecayPeriodSteps: 25_000,
        // 8,000 would give only ~12 target syncs in the whole run; 2,000 gives ~47.
        targetUpdatePeriodSteps: 2_000,
        // The whole run fits (700 MB instead of 7 GB): nothing is ever evicted, as in a 1M buffer early on.
        replayCapacityTransitions: 100_000,
      },
    },
  },
  smoke: {
    description:
      'Seconds-long pipeline check for tests and first tries: 2 iterations x 200 training steps, 100 evaluation ' +
      'steps on 2 environments, 100-step episodes, learning after 50 transitions. Its numbers mean nothing.',
    defaultOptimizer: 'adam',
    optimizerFamilies: { adam: DOPAMINE_ADAM, rmsprop: DOPAMINE_RMSPROP },
    values: {
      protocol: 'dopamine', iterations: 2, trainingSteps: 200, evalSteps: 100, evalEnvs: 2, maxEpisodeSteps: 100,
      agent: {
        ...DOPAMINE_AGENT,
        minReplayHistory: 50,
        epsilonDecayPeriodSteps: 200,
        targetUpdatePeriodSteps: 50,
        replayCapacityTransitions: 2_000,
      },
    },
  },
} satisfies Record<string, Preset>);

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** What a user chose on the command line; undefined means "the preset's value". */
export interface RunChoices {
  game: string;
  seed: number;
  preset: PresetName;
  optimizer?: string;
  weightDecay?: number;
  weightDecaySchedule?: string;
  learningRate?: number;
  iterations?: number;
  trainingSteps?: number;
  evalSteps?: number;
  evalEnvs?: number;
  protocol?: ProtocolName;
  /** `--set key=value` overrides, applied last: dotted keys of RunConfig, e.g. `agent.targetUpdatePeriodSteps`. */
  set?: ReadonlyArray<readonly [string, string]>;
  /**
   * Scale λ so that this budget's updates apply the paper's total decoupled decay (decoupled schemes only; never
   * on by default). Applied after everything else, so it sees the final budget; recorded in config.decayMatch.
   */
  matchPaperDecay?: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The fully resolved config of a run: preset values, then the named choices, then `--set` overrides. */
export function resolveRunConfig(choices: RunChoices): RunConfig {
  if (!isPresetName(choices.preset)) {
    throw new ConfigError(`unknown preset '${choices.preset}'; presets: ${PRESET_NAMES.join(', ')}`);
  }
  const preset: Preset = PRESETS[choices.preset];
  const scheme = choices.optimizer ?? preset.defaultOptimizer;
  if (!isOptimizerName(scheme)) throw new ConfigError(`unknown optimizer '${scheme}'; optimizers: ${optimizerNames.join(', ')}`);
  const family = SCHEMES[scheme].family;
  const familyOptions = preset.optimizerFamilies[family];
  if (!familyOptions && choices.learningRate === undefined) {
    throw new ConfigError(
      `preset '${choices.preset}' has no settings for the ${family} family (Dopamine has no ${family} DQN): ` +
        `give them explicitly, at least --lr (and --set agent.optimizer.momentum=... if wanted)`,
    );
  }
  const weightDecay = choices.weightDecay ?? 0;
  if (weightDecayProblem(weightDecay, { scheme }) === 'scheme-has-none') {
    throw new ConfigError(`optimizer '${scheme}' has no weight decay, so --wd must be 0 (got ${weightDecay}); use e.g. ${family === 'adam' ? 'adamw or adam-l2' : `${family}w or ${family}-l2`}`);
  }
  const optimizer: RunOptimizerConfig = {
    name: scheme,
    ...(familyOptions ?? { learningRate: choices.learningRate! }),
    ...(choices.learningRate !== undefined ? { learningRate: choices.learningRate } : {}),
    weightDecay,
    weightDecaySchedule: choices.weightDecaySchedule ?? 'constant',
  };
  // A mutable copy of the frozen preset values, for --set and --match-paper-decay.
  const config: RunConfig = structuredClone({
    game: choices.game,
    seed: choices.seed,
    preset: choices.preset,
    ...preset.values,
    ...defined({
      protocol: choices.protocol,
      iterations: choices.iterations,
      trainingSteps: choices.trainingSteps,
      evalSteps: choices.evalSteps,
      evalEnvs: choices.evalEnvs,
    }),
    agent: { ...preset.values.agent, optimizer },
  });
  for (const [key, value] of choices.set ?? []) applyOverride(config, key, value);
  if (choices.matchPaperDecay) matchPaperDecay(config);
  validateRunConfig(config);
  return config;
}

/** --match-paper-decay: λ scaled so that the run's planned updates give the paper's total decoupled decay. */
function matchPaperDecay(config: RunConfig): void {
  const o = config.agent.optimizer;
  let settings;
  try {
    settings = decoupledSettings(o as unknown as Record<string, unknown>);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (settings === null) {
    throw new ConfigError(
      `--match-paper-decay applies to decoupled schemes (adamw, sgdw, rmspropw), not ${o.name}: Adam+L2 and separated ` +
        "put λw inside the optimizer's normalisation, where it acts at once whatever the budget",
    );
  }
  const nominal = o.weightDecay ?? 0;
  if (!(nominal > 0)) throw new ConfigError('--match-paper-decay needs a weight decay λ > 0 (--wd)');
  const updates = plannedUpdates({ iterations: config.iterations, trainingSteps: config.trainingSteps, ...config.agent });
  let matched: number;
  try {
    matched = paperMatchedWeightDecay(settings, updates);
  } catch (error) {
    throw new ConfigError(`--match-paper-decay: ${(error as Error).message}`);
  }
  config.decayMatch = { target: 'paper-total-decay', nominalWeightDecay: nominal, updates, paperUpdates: PAPER_UPDATES };
  o.weightDecay = matched;
}

function defined<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Path parts that would reach an object's prototype instead of a config key. */
const FORBIDDEN_PARTS = new Set(['__proto__', 'constructor', 'prototype']);

/** Keys `--set` may not touch: they have their own flags, which validate them. */
const SET_FORBIDDEN = new Set(['game', 'seed', 'preset', 'agent.optimizer.name']);

/** Applies `--set key=value`; the key must exist in the resolved config and the value must keep its type. */
export function applyOverride(config: RunConfig, key: string, raw: string): void {
  if (SET_FORBIDDEN.has(key)) throw new ConfigError(`--set ${key}: use the --${key === 'agent.optimizer.name' ? 'optimizer' : key} flag instead`);
  const parts = key.split('.');
  if (parts.some((part) => FORBIDDEN_PARTS.has(part))) {
    throw new ConfigError(`--set ${key}: "${parts.find((part) => FORBIDDEN_PARTS.has(part))}" is not a config key`);
  }
  let node: Record<string, unknown> = config as unknown as Record<string, unknown>;
  // Own properties only, at every level: nothing inherited (a prototype, a method) is ever reached or written.
  for (const part of parts.slice(0, -1)) {
    const next = Object.hasOwn(node, part) ? node[part] : undefined;
    if (!next || typeof next !== 'object') throw unknownKey(config, key);
    node = next as Record<string, unknown>;
  }
  const last = parts[parts.length - 1];
  if (!Object.hasOwn(node, last) || (typeof node[last] === 'object' && node[last] !== null)) throw unknownKey(config, key);
  const current = node[last];
  if (typeof current === 'number') {
    const value = decimalNumber(raw);
    if (value === null) throw new ConfigError(`--set ${key}=${raw}: expected a decimal number (e.g. 4000 or 1e-4)`);
    node[last] = value;
  } else if (typeof current === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new ConfigError(`--set ${key}=${raw}: expected true or false`);
    node[last] = raw === 'true';
  } else {
    node[last] = raw;
  }
}

/** Every dotted key `--set` accepts, for error messages and --help. */
export function settableKeys(config: object, prefix = ''): string[] {
  return Object.entries(config).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object') return settableKeys(v, key);
    return SET_FORBIDDEN.has(key) ? [] : [key];
  });
}

function unknownKey(config: RunConfig, key: string): ConfigError {
  const keys = settableKeys(config);
  const leaf = key.split('.').pop()!.toLowerCase();
  const close = keys.filter((k) => k.toLowerCase().includes(leaf) || leaf.includes(k.split('.').pop()!.toLowerCase()));
  return new ConfigError(
    `--set ${key}: no such config key. ${close.length ? `Did you mean ${close.join(', ')}? ` : ''}` +
      `Keys: ${keys.join(', ')}` +
      (key.startsWith('agent.optimizer.') ? ' (an optimizer option the scheme does not use by default cannot be added with --set)' : ''),
  );
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new ConfigError(message);
}

const isPositiveInt = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;
const isNonNegativeInt = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
const isProbability = (n: unknown) => typeof n === 'number' && n >= 0 && n <= 1;

/** Refuses configs that cannot run, with the key and the reason; optimizer options are checked by createOptimizer. */
export function validateRunConfig(config: RunConfig): void {
  const a = config.agent;
  check(isNonNegativeInt(config.seed), `seed must be a non-negative integer, got ${config.seed}`);
  check(config.protocol === 'dopamine' || config.protocol === 'nature', `protocol must be dopamine or nature, got ${config.protocol}`);
  check(isPositiveInt(config.iterations), `iterations must be a positive integer, got ${config.iterations}`);
  check(isPositiveInt(config.trainingSteps), `trainingSteps must be a positive integer, got ${config.trainingSteps}`);
  check(isNonNegativeInt(config.evalSteps), `evalSteps must be a non-negative integer, got ${config.evalSteps}`);
  check(isPositiveInt(config.evalEnvs) && config.evalEnvs <= 64, `evalEnvs must be an integer in [1, 64], got ${config.evalEnvs}`);
  check(isPositiveInt(config.maxEpisodeSteps), `maxEpisodeSteps must be a positive integer, got ${config.maxEpisodeSteps}`);
  check(typeof a.gamma === 'number' && a.gamma >= 0 && a.gamma <= 1, `agent.gamma must be in [0, 1], got ${a.gamma}`);
  check(isNonNegativeInt(a.minReplayHistory), `agent.minReplayHistory must be a non-negative integer, got ${a.minReplayHistory}`);
  check(isPositiveInt(a.updatePeriodSteps), `agent.updatePeriodSteps must be a positive integer, got ${a.updatePeriodSteps}`);
  check(isPositiveInt(a.targetUpdatePeriodSteps), `agent.targetUpdatePeriodSteps must be a positive integer, got ${a.targetUpdatePeriodSteps}`);
  check(isProbability(a.epsilonTrain), `agent.epsilonTrain must be in [0, 1], got ${a.epsilonTrain}`);
  check(isProbability(a.epsilonEval), `agent.epsilonEval must be in [0, 1], got ${a.epsilonEval}`);
  check(isPositiveInt(a.epsilonDecayPeriodSteps), `agent.epsilonDecayPeriodSteps must be a positive integer, got ${a.epsilonDecayPeriodSteps}`);
  check(isPositiveInt(a.batchSize), `agent.batchSize must be a positive integer, got ${a.batchSize}`);
  check(isPositiveInt(a.replayCapacityTransitions) && a.replayCapacityTransitions > a.batchSize + 4,
    `agent.replayCapacityTransitions must be an integer larger than the batch size + 4, got ${a.replayCapacityTransitions}`);
  check(a.minReplayHistory < a.replayCapacityTransitions,
    `agent.minReplayHistory (${a.minReplayHistory}) must be below agent.replayCapacityTransitions (${a.replayCapacityTransitions}), or learning never starts`);
  check(a.loss === 'huber' || a.loss === 'mse', `agent.loss must be huber or mse, got ${a.loss}`);
  check(typeof a.rewardClip === 'number' && a.rewardClip >= 0, `agent.rewardClip must be >= 0 (0 = no clipping), got ${a.rewardClip}`);
  check(a.padding === 'same' || a.padding === 'valid', `agent.padding must be same or valid, got ${a.padding}`);
  if (config.decayMatch !== undefined) {
    const m = config.decayMatch as unknown as Record<string, unknown>;
    check(m.target === 'paper-total-decay' && typeof m.nominalWeightDecay === 'number' && isPositiveInt(m.updates) && isPositiveInt(m.paperUpdates),
      `decayMatch must be {target: 'paper-total-decay', nominalWeightDecay, updates, paperUpdates}, got ${JSON.stringify(m)}`);
  }
  check(weightDecayProblem(a.optimizer.weightDecay) === null, `the weight decay λ must be a finite number >= 0, got ${a.optimizer.weightDecay}`);
  const nominal = config.decayMatch?.nominalWeightDecay ?? a.optimizer.weightDecay ?? 0;
  check(weightDecayProblem(nominal, { asked: true }) === null,
    `λ = ${nominal} is not a plausible weight decay: at most ${MAX_WEIGHT_DECAY} (the paper's run from 1e-8 to 1e-3)`);
  const { name, ...options } = a.optimizer;
  check(isOptimizerName(name), `unknown optimizer '${name}'; optimizers: ${optimizerNames.join(', ')}`);
  try {
    resolveOptions(name as never, options); // the optimizer module's own checks, without loading TensorFlow
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

/** Config keys that may change when a run is resumed: raising `iterations` extends a finished run. */
export const MUTABLE_CONFIG_KEYS = ['iterations'] as const;

/** The decoupled decay of a preset's budget at the paper's λ values, against the paper's budget: what it can show. */
export function presetDecayNote(name: PresetName): string | null {
  const p: Preset = PRESETS[name];
  const updates = plannedUpdates({ iterations: p.values.iterations, trainingSteps: p.values.trainingSteps, ...p.values.agent });
  if (updates === PAPER_UPDATES || !p.optimizerFamilies.adam) return null;
  const parts = [1e-3, 1e-4, 1e-5].map((weightDecay) => {
    const s = { learningRate: p.optimizerFamilies.adam!.learningRate, weightDecay, schedule: { kind: 'constant' } as const, convention: 'lr-scaled' as const };
    return describeDecayBudget(`λ=${weightDecay}`, s, updates).replace(/ over [\d,]+ updates here/, ' here').replace(/ \([\d,]+ updates\)/, '');
  });
  return `decoupled decay (adamw) over this budget's ${updates.toLocaleString('en-US')} updates, against the paper's ${PAPER_UPDATES.toLocaleString('en-US')}: ` +
    `${parts.join('; ')}. --match-paper-decay scales λ to the paper's total decay.`;
}
