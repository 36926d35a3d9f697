// The sweep plan: which runs a sweep consists of. A grid (games × schemes × λ × seeds, one preset) expands into
// runs in a fixed order, and every run gets an id derived only from its config, so the same command always yields
// the same plan and the same run directories: that is what makes a rerun resume instead of starting over. The
// file that records the plan, plan.json, is sweep/plan_file.ts's.
import { ALE_ROM_IDS, displayName } from '../../envs/games.ts';
import { formatLambda } from '../format.ts';
import { canonicalJson } from '../io/canonical_json.ts';
import { weightDecayProblem } from '../optim/options.ts';
import { NO_DECAY_SCHEMES, SCHEMES } from '../optim/schemes.ts';
import { optimizerNames, type OptimizerName } from '../optim/types.ts';
import { PAPER_GAMES, PAPER_ROWS, PAPER_SEEDS } from '../paper.ts';
import { decayBudgetLine } from '../run/forecast.ts';
import { ConfigError, PRESET_NAMES, resolveRunConfig, type PresetName, type RunConfig } from '../run/presets.ts';
import { runName, type RunOverrides } from '../run/run_name.ts';
import { PLAN_FORMAT, PLAN_KIND, RUNS_DIR, type GridRow, type PlannedRun, type SweepGrid, type SweepPlan } from './plan_file.ts';

/** A mistake in what the user asked for (the CLI prints the message and exits 2). */
export class SweepInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepInputError';
  }
}

function assertUnique<T>(values: readonly T[], what: string, show: (v: T) => string = String): void {
  const seen = new Set<string>();
  for (const v of values) {
    const key = show(v);
    if (seen.has(key)) throw new SweepInputError(`duplicate ${what} ${key} in the list; give each once.`);
    seen.add(key);
  }
}

/**
 * Rows for a cross grid. Schemes without weight decay get one run at λ 0 whatever the λ list holds; the others run
 * at every λ in the list. An empty λ list is only allowed when every scheme is one without weight decay.
 */
export function expandRows(optimizers: readonly OptimizerName[], weightDecays: readonly number[]): GridRow[] {
  const decaying = optimizers.filter((o) => !NO_DECAY_SCHEMES.includes(o));
  if (decaying.length > 0 && weightDecays.length === 0) {
    throw new SweepInputError(
      `--wd is required for ${decaying.join(', ')} (a comma-separated list of λ values, e.g. --wd 1e-3,1e-4,1e-5).`,
    );
  }
  return optimizers.map((optimizer) => ({
    optimizer,
    weightDecays: NO_DECAY_SCHEMES.includes(optimizer) ? [0] : [...weightDecays],
  }));
}

export interface GridRequest {
  games: readonly string[]; // ROM ids (resolved by the caller)
  optimizers: readonly OptimizerName[];
  weightDecays: readonly number[];
  seeds: readonly number[];
  preset: PresetName;
  overrides?: RunOverrides;
}

function validateCommon(games: readonly string[], seeds: readonly number[], preset: string, overrides: RunOverrides): void {
  if (games.length === 0) throw new SweepInputError('the game list is empty; give at least one game (--games Pong).');
  for (const g of games) {
    if (!ALE_ROM_IDS.includes(g)) throw new SweepInputError(`unknown game ROM id "${g}".`);
  }
  assertUnique(games, 'game', displayName);
  if (seeds.length === 0) throw new SweepInputError('the seed list is empty; give at least one seed (--seeds 0,1,2).');
  for (const s of seeds) {
    if (!Number.isSafeInteger(s) || s < 0) throw new SweepInputError(`seed ${s} is not a whole number >= 0.`);
  }
  assertUnique(seeds, 'seed');
  if (!(PRESET_NAMES as readonly string[]).includes(preset)) {
    throw new SweepInputError(`unknown preset "${preset}". Valid: ${PRESET_NAMES.join(', ')}.`);
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'matchPaperDecay') {
      if (value !== true) throw new SweepInputError(`matchPaperDecay must be true when present, got ${String(value)}.`);
      continue;
    }
    if (key === 'set') continue; // checked against a resolved config, per scheme (checkSetOverrides)
    if (!['iterations', 'trainingSteps', 'evalSteps'].includes(key)) throw new SweepInputError(`unknown override "${key}".`);
    const min = key === 'evalSteps' ? 0 : 1;
    if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
      throw new SweepInputError(`${key} must be a whole number >= ${min}, got ${value}.`);
    }
  }
}

function validateRows(rows: readonly GridRow[]): void {
  if (rows.length === 0) throw new SweepInputError('the optimizer list is empty; give at least one (--optimizers adam,adamw).');
  for (const row of rows) {
    if (!(optimizerNames as readonly string[]).includes(row.optimizer)) {
      throw new SweepInputError(`unknown optimizer scheme "${row.optimizer}". Valid: ${optimizerNames.join(', ')}.`);
    }
    for (const wd of row.weightDecays) {
      const problem = weightDecayProblem(wd, { scheme: row.optimizer });
      if (problem === 'scheme-has-none') throw new SweepInputError(`${row.optimizer} has no weight decay; it can only run at λ 0, not ${wd}.`);
      if (problem !== null) throw new SweepInputError(`weight decay ${wd} is not a finite number >= 0.`);
    }
    assertUnique(row.weightDecays, `weight decay for ${row.optimizer}:`, formatLambda);
  }
  assertUnique(rows.map((r) => r.optimizer), 'optimizer scheme');
}

/** The grid of `--games … --optimizers … --wd … --seeds …`. Validates everything; throws SweepInputError. */
export function crossGrid(request: GridRequest): SweepGrid {
  const overrides = cleanOverrides(request.overrides ?? {});
  validateCommon(request.games, request.seeds, request.preset, overrides);
  for (const wd of request.weightDecays) {
    if (weightDecayProblem(wd) !== null) throw new SweepInputError(`weight decay ${wd} is not a finite number >= 0.`);
  }
  assertUnique(request.weightDecays, 'weight decay', formatLambda);
  assertUnique(request.optimizers, 'optimizer scheme');
  const rows = expandRows(request.optimizers, request.weightDecays);
  validateRows(rows);
  checkSetOverrides(rows, request.preset, overrides, request.games[0]);
  return {
    kind: 'cross',
    games: [...request.games],
    optimizers: [...request.optimizers],
    weightDecays: [...request.weightDecays],
    rows,
    seeds: [...request.seeds],
    preset: request.preset,
    overrides,
  };
}

/** The paper's whole Table 1 grid (8 games × 13 rows × 3 seeds = 312 runs); games and seeds may be narrowed. */
export function paperGrid(options: {
  preset: PresetName;
  overrides?: RunOverrides;
  games?: readonly string[];
  seeds?: readonly number[];
}): SweepGrid {
  const overrides = cleanOverrides(options.overrides ?? {});
  const games = [...(options.games ?? PAPER_GAMES)];
  const seeds = [...(options.seeds ?? PAPER_SEEDS)];
  validateCommon(games, seeds, options.preset, overrides);
  const rows = PAPER_ROWS.map((r) => ({ optimizer: r.optimizer, weightDecays: [...r.weightDecays] }));
  validateRows(rows);
  checkSetOverrides(rows, options.preset, overrides, games[0]);
  return { kind: 'paper-grid', games, rows, seeds, preset: options.preset, overrides };
}

function cleanOverrides(overrides: RunOverrides): RunOverrides {
  const out: RunOverrides = {};
  if (overrides.iterations !== undefined) out.iterations = overrides.iterations;
  if (overrides.trainingSteps !== undefined) out.trainingSteps = overrides.trainingSteps;
  if (overrides.evalSteps !== undefined) out.evalSteps = overrides.evalSteps;
  if (overrides.matchPaperDecay) out.matchPaperDecay = true;
  const set = Object.entries(overrides.set ?? {});
  if (set.length > 0) out.set = Object.fromEntries(set.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return out;
}

/** Keys a sweep sets through its own flags: `--set` may not give them (one way to say each thing). */
const SWEEP_OWN_KEYS: Record<string, string> = {
  iterations: '--iterations', trainingSteps: '--training-steps', evalSteps: '--eval-steps',
  'agent.optimizer.weightDecay': '--wd',
};

/**
 * The sweep's --set overrides, checked as every run will apply them: a run config is resolved for each scheme of
 * the grid (an unknown key, a wrong type or an invalid value is refused now, not when a run starts hours later).
 */
function checkSetOverrides(rows: readonly GridRow[], preset: PresetName, overrides: RunOverrides, game: string): void {
  const set = overrides.set;
  if (set === undefined) return;
  for (const [key, value] of Object.entries(set)) {
    if (typeof value !== 'string') throw new SweepInputError(`--set ${key}: the value must be a string, got ${JSON.stringify(value)}.`);
    if (Object.hasOwn(SWEEP_OWN_KEYS, key)) throw new SweepInputError(`--set ${key}: use the sweep's ${SWEEP_OWN_KEYS[key]} flag instead.`);
  }
  for (const row of rows) {
    try {
      plannedRunConfig({ game, optimizer: row.optimizer, weightDecay: row.weightDecays[0] ?? 0, seed: 0, preset, overrides: { set } });
    } catch (error) {
      if (error instanceof ConfigError) throw new SweepInputError(`${row.optimizer}: ${error.message}`);
      throw error;
    }
  }
}

/** Runs in a fixed order: game, then row, then λ, then seed. */
export function expandGrid(grid: SweepGrid): PlannedRun[] {
  const runs: PlannedRun[] = [];
  for (const game of grid.games) {
    for (const row of grid.rows) {
      for (const weightDecay of row.weightDecays) {
        for (const seed of grid.seeds) {
          const { matchPaperDecay, ...budget } = grid.overrides;
          const matched = matchPaperDecay && SCHEMES[row.optimizer].decay === 'decoupled' && weightDecay > 0;
          const overrides: RunOverrides = matched ? { ...budget, matchPaperDecay: true } : budget;
          const base = { game, optimizer: row.optimizer, weightDecay, seed, preset: grid.preset, overrides };
          const id = runName(base);
          runs.push({ id, dir: `${RUNS_DIR}/${id}`, ...base });
        }
      }
    }
  }
  return runs;
}

export function buildPlan(grid: SweepGrid, createdAt = new Date().toISOString()): SweepPlan {
  return { format: PLAN_FORMAT, kind: PLAN_KIND, createdAt, grid, runs: expandGrid(grid) };
}


/** The config a planned run resolves to: what its atari command line (command.ts) gives the run. */
export function plannedRunConfig(run: Omit<PlannedRun, 'id' | 'dir'>): RunConfig {
  const o = run.overrides;
  return resolveRunConfig({
    game: run.game, seed: run.seed, preset: run.preset, optimizer: run.optimizer, weightDecay: run.weightDecay,
    iterations: o.iterations, trainingSteps: o.trainingSteps, evalSteps: o.evalSteps, matchPaperDecay: o.matchPaperDecay,
    set: Object.entries(o.set ?? {}),
  });
}

/** What each decoupled arm's budget can show (decayBudgetLine), once per arm: said when a sweep starts. */
export function planDecayLines(plan: Pick<SweepPlan, 'runs'>): string[] {
  const lines = new Map<string, string>();
  for (const run of plan.runs) {
    if (SCHEMES[run.optimizer].decay !== 'decoupled' || run.weightDecay === 0) continue;
    const key = canonicalJson({ optimizer: run.optimizer, weightDecay: run.weightDecay, preset: run.preset, overrides: run.overrides });
    if (!lines.has(key)) lines.set(key, decayBudgetLine(plannedRunConfig(run)) ?? '');
  }
  return [...lines.values()].filter((l) => l !== '');
}
