// The name of a run's directory, one format whether the run was started alone (`npm run atari`, its default --out) or
// by a sweep: `pong-adamw-wd1e-4-s0-<8 hex>`. The readable part says game, scheme, λ and seed; the hash covers the
// run's identity, everything that was asked for that changes its result, so a changed --lr, --set or budget never
// lands in the directory of another config, and the same command always finds its own run again to resume it.
import crypto from 'node:crypto';
import { formatLambda } from '../format.ts';
import { canonicalJson } from '../io/canonical_json.ts';
import { PRESETS, type RunChoices, type RunConfig } from './presets.ts';

/** What a run asks for beyond game, scheme, λ, seed and preset (absent = the preset's value). */
export interface RunOverrides {
  iterations?: number;
  trainingSteps?: number;
  evalSteps?: number;
  /** --match-paper-decay: kept only on runs of decoupled schemes at λ > 0, the only ones it changes. */
  matchPaperDecay?: true;
  /**
   * --set key=value (dotted config keys), keys sorted. Absent when none was given, so the ids of sweeps without it
   * are unchanged; present, it is part of the run's id.
   */
  set?: Record<string, string>;
}

/** What identifies a run: the hash of its name is taken over exactly this (canonical JSON, so key order is moot). */
export interface RunIdentity {
  game: string;
  optimizer: string;
  /** The λ asked for: with --match-paper-decay the nominal one (the scaled λ is in config.json's decayMatch). */
  weightDecay: number;
  seed: number;
  preset: string;
  overrides: RunOverrides;
}

/** `pong-adamw-wd1e-4-s0-<8 hex>`, or `…-wd1e-3-matched-s0-…` with --match-paper-decay. */
export function runName(identity: RunIdentity): string {
  const { game, optimizer, weightDecay, seed, preset, overrides } = identity;
  const hash = crypto.createHash('sha256').update(canonicalJson({ game, optimizer, weightDecay, seed, preset, overrides })).digest('hex').slice(0, 8);
  const matched = overrides.matchPaperDecay ? '-matched' : '';
  return `${game}-${optimizer}-wd${formatLambda(weightDecay)}${matched}-s${seed}-${hash}`;
}

/**
 * The identity of a single run's choices, built as a sweep builds its runs' (sweep/plan.ts), so the same settings
 * get the same name either way. Choices a sweep has no flag for (--lr, --schedule, --eval-envs, --protocol) count
 * as the `--set` of their config key; the run's own --set comes after them, as resolveRunConfig applies it.
 */
export function runIdentityOf(choices: RunChoices): RunIdentity {
  const set: Record<string, string> = {};
  const flagOnly: Array<[string, unknown]> = [
    ['agent.optimizer.learningRate', choices.learningRate],
    ['agent.optimizer.weightDecaySchedule', choices.weightDecaySchedule],
    ['evalEnvs', choices.evalEnvs],
    ['protocol', choices.protocol],
  ];
  for (const [key, value] of flagOnly) if (value !== undefined) set[key] = String(value);
  for (const [key, value] of choices.set ?? []) set[key] = value;
  const overrides: RunOverrides = {
    ...(choices.iterations !== undefined ? { iterations: choices.iterations } : {}),
    ...(choices.trainingSteps !== undefined ? { trainingSteps: choices.trainingSteps } : {}),
    ...(choices.evalSteps !== undefined ? { evalSteps: choices.evalSteps } : {}),
    ...(choices.matchPaperDecay ? { matchPaperDecay: true as const } : {}),
    ...(Object.keys(set).length > 0 ? { set } : {}),
  };
  return {
    game: choices.game,
    optimizer: choices.optimizer ?? PRESETS[choices.preset].defaultOptimizer,
    weightDecay: choices.weightDecay ?? 0,
    seed: choices.seed,
    preset: choices.preset,
    overrides,
  };
}

/**
 * The default run directory name before run names had a hash (`pong-adamw-wd0.0001-seed0-reduced`), which ignored
 * --lr, --set and --schedule. Only looked up, never made: a run started under that name resumes there.
 */
export function legacyRunName(config: RunConfig): string {
  const lambda = config.decayMatch ? `${config.decayMatch.nominalWeightDecay}-matched` : `${config.agent.optimizer.weightDecay}`;
  return `${config.game}-${config.agent.optimizer.name}-wd${lambda}-seed${config.seed}-${config.preset}`;
}
