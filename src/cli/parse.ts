// Value parsers shared by every command line of the harness. Each throws InvalidArgumentError with what was wrong
// and what was expected, which commander prints as "error: option '--x <n>' argument 'y' is invalid. <reason>".
import { InvalidArgumentError } from 'commander';
import { resolveGame, UnknownGameError } from '../../envs/games.ts';
import { parseScoreSpec, type ScoreSpec } from '../analysis/score.ts';
import { closestNames, decimalNumber } from '../format.ts';
import { MAX_WEIGHT_DECAY, weightDecayProblem } from '../optim/options.ts';

const WHOLE = /^\s*\d+\s*$/;

export function parseNonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!WHOLE.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`Expected a whole number >= 0, got "${value}".`);
  }
  return n;
}

export function parsePositiveInteger(value: string): number {
  const n = Number(value);
  if (!WHOLE.test(value) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`Expected a whole number >= 1, got "${value}".`);
  }
  return n;
}

export function parseNonNegativeNumber(value: string): number {
  const n = decimalNumber(value);
  if (n === null || n < 0) {
    throw new InvalidArgumentError(`Expected a decimal number >= 0 (e.g. 1e-4), got "${value}".`);
  }
  return n;
}

export function parsePositiveNumber(value: string): number {
  const n = decimalNumber(value);
  if (n === null || n <= 0) throw new InvalidArgumentError(`Expected a decimal number > 0 (e.g. 6.25e-5), got "${value}".`);
  return n;
}

/** A probability: a decimal number in [0, 1] (e.g. an ε of ε-greedy). */
export function parseProbability(value: string): number {
  const n = decimalNumber(value);
  if (n === null || n < 0 || n > 1) throw new InvalidArgumentError(`Expected a probability, a decimal number in [0, 1] (e.g. 0.001), got "${value}".`);
  return n;
}

/** A weight decay λ: a decimal number in [0, MAX_WEIGHT_DECAY] (the optimizer module's rule, weightDecayProblem). */
export function parseWeightDecay(value: string): number {
  const n = decimalNumber(value);
  const problem = weightDecayProblem(n, { asked: true });
  if (problem === 'implausible') {
    throw new InvalidArgumentError(`λ = ${value} is not a plausible weight decay: at most ${MAX_WEIGHT_DECAY} (the paper's run from 1e-8 to 1e-3).`);
  }
  if (problem !== null) throw new InvalidArgumentError(`"${value}" is not a weight decay λ: expected a decimal number >= 0 such as 1e-4 or 0.`);
  return n as number;
}

/** A repeatable `--set key=value`: each occurrence adds a [key, value] pair to the list so far. */
export function parseSet(value: string, previous: Array<[string, string]> = []): Array<[string, string]> {
  const cut = value.indexOf('=');
  if (cut <= 0) throw new InvalidArgumentError(`Expected key=value (e.g. agent.targetUpdatePeriodSteps=4000), got "${value}".`);
  return [...previous, [value.slice(0, cut).trim(), value.slice(cut + 1).trim()]];
}

/** A comma-separated list, each item parsed by `item`; empty items and an empty list are errors. */
export function parseList<T>(item: (value: string) => T): (value: string) => T[] {
  return (value: string) => {
    const parts = value.split(',').map((part) => part.trim());
    if (parts.some((part) => part === '')) {
      throw new InvalidArgumentError(`Expected a comma-separated list without empty items, got "${value}".`);
    }
    return parts.map(item);
  };
}

export function parseChoice<T extends string>(choices: readonly T[], what: string): (value: string) => T {
  return (value: string) => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    const close = closestNames(value, choices, 2);
    const hint = close.length > 0 ? ` Did you mean ${close.join(' or ')}?` : '';
    throw new InvalidArgumentError(`Unknown ${what} "${value}".${hint} Valid: ${choices.join(', ')}.`);
  };
}

/** An Atari game in any spelling (Pong, pong, SpaceInvaders, space_invaders) -> its ALE ROM id. */
export function parseGameName(value: string): string {
  try {
    return resolveGame(value);
  } catch (error) {
    if (error instanceof UnknownGameError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

/** A run's score definition for the analysis commands: final, eval or last:K. */
export function parseScoreOption(value: string): ScoreSpec {
  try {
    return parseScoreSpec(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/**
 * A repeatable --score: each occurrence adds a definition (the first is the main one); without any, [final].
 * Use with commander's argParser, which passes the list so far as `previous`.
 */
export function collectScoreOption(value: string, previous: ScoreSpec[] | undefined): ScoreSpec[] {
  return [...(previous ?? []), parseScoreOption(value)];
}

export function scoresOrDefault(scores: unknown): [ScoreSpec, ...ScoreSpec[]] {
  const list = Array.isArray(scores) && scores.length > 0 ? (scores as ScoreSpec[]) : [{ kind: 'final' } as ScoreSpec];
  return list as [ScoreSpec, ...ScoreSpec[]];
}
