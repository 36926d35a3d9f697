// The sweep plan: which runs a sweep consists of, and the plan.json that records them.
//
// A grid (games × schemes × λ × seeds, one preset) expands into runs in a fixed order, and every run gets an id
// derived only from its config, so the same command always yields the same plan and the same run directories:
// that is what makes a rerun resume instead of starting over. plan.json is written once, atomically, before any
// run starts; a directory holding another sweep's plan is refused, so two sweeps never share run directories.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ALE_ROM_IDS, displayName } from '../../envs/games.ts';
import { SCHEMES } from '../optim/options.ts';
import { optimizerNames, type OptimizerName } from '../optim/types.ts';
import { formatLambda } from '../format.ts';
import { CorruptFileError, isAtomicTempName, makeDirectories, readJsonFile, writeJsonAtomic } from '../io/atomic.ts';
import { canonicalJson } from '../io/canonical_json.ts';

import { PRESET_NAMES, type PresetName } from '../run/presets.ts';

export { PRESET_NAMES, type PresetName };

/**
 * Schemes without weight decay (DecayKind 'none' in src/optim): λ means nothing to them, so a λ list gives them a
 * single run at λ = 0 instead of identical copies (the paper's "orig" row is adam at λ 0 only).
 */
export const NO_DECAY_SCHEMES: readonly OptimizerName[] = ['adam', 'sgd', 'rmsprop'];

/** Per-run budget overrides passed to every run (absent = the preset's value). */
export interface RunOverrides {
  iterations?: number;
  trainingSteps?: number;
  evalSteps?: number;
  /** --match-paper-decay: kept only on the runs of decoupled schemes, the only ones it changes. */
  matchPaperDecay?: true;
}

/** One row of a grid: a scheme and the λ values it runs at. */
export interface GridRow {
  optimizer: OptimizerName;
  weightDecays: number[];
}

/** What the user asked for, as recorded in plan.json's "grid". */
export interface SweepGrid {
  /** 'paper-grid' for --paper-grid, 'cross' for games × optimizers × λ × seeds. */
  kind: 'cross' | 'paper-grid';
  games: string[]; // ROM ids
  /** Only for 'cross': the schemes and λ list as given (the expansion rule is in expandRows). */
  optimizers?: OptimizerName[];
  weightDecays?: number[];
  /** The rows actually run (for 'cross' derived from optimizers × weightDecays). */
  rows: GridRow[];
  seeds: number[];
  preset: PresetName;
  overrides: RunOverrides;
}

export interface PlannedRun {
  id: string;
  /** Relative to the sweep directory: always `runs/<id>`. */
  dir: string;
  game: string;
  optimizer: OptimizerName;
  weightDecay: number;
  seed: number;
  preset: PresetName;
  overrides: RunOverrides;
}

export interface SweepPlan {
  format: 1;
  kind: 'wd-dqn-sweep';
  createdAt: string;
  grid: SweepGrid;
  runs: PlannedRun[];
}

export const PLAN_FILE = 'plan.json';
export const RUNS_DIR = 'runs';

/** The paper's Table 1 games, in its order. */
export const PAPER_GAMES = [
  'beam_rider', 'breakout', 'enduro', 'pong', 'qbert', 'seaquest', 'space_invaders', 'time_pilot',
] as const;

/** The 13 rows of Table 1: orig; decoupled, WD and separated at 1e-3…1e-5; WD also at 1e-6…1e-8. */
export const PAPER_ROWS: readonly GridRow[] = [
  { optimizer: 'adam', weightDecays: [0] },
  { optimizer: 'adamw', weightDecays: [1e-3, 1e-4, 1e-5] },
  { optimizer: 'adam-l2', weightDecays: [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8] },
  { optimizer: 'adam-separated', weightDecays: [1e-3, 1e-4, 1e-5] },
];
export const PAPER_SEEDS = [0, 1, 2] as const;

/** A mistake in what the user asked for (the CLI prints the message and exits 2). */
export class SweepInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepInputError';
  }
}

/** plan.json exists but is not the plan of this sweep, or not a plan at all. */
export class PlanMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanMismatchError';
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
      if (typeof wd !== 'number' || !Number.isFinite(wd) || wd < 0) {
        throw new SweepInputError(`weight decay ${wd} is not a finite number >= 0.`);
      }
      if (wd !== 0 && NO_DECAY_SCHEMES.includes(row.optimizer)) {
        throw new SweepInputError(`${row.optimizer} has no weight decay; it can only run at λ 0, not ${wd}.`);
      }
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
    if (typeof wd !== 'number' || !Number.isFinite(wd) || wd < 0) {
      throw new SweepInputError(`weight decay ${wd} is not a finite number >= 0.`);
    }
  }
  assertUnique(request.weightDecays, 'weight decay', formatLambda);
  assertUnique(request.optimizers, 'optimizer scheme');
  const rows = expandRows(request.optimizers, request.weightDecays);
  validateRows(rows);
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
  return { kind: 'paper-grid', games, rows, seeds, preset: options.preset, overrides };
}

function cleanOverrides(overrides: RunOverrides): RunOverrides {
  const out: RunOverrides = {};
  if (overrides.iterations !== undefined) out.iterations = overrides.iterations;
  if (overrides.trainingSteps !== undefined) out.trainingSteps = overrides.trainingSteps;
  if (overrides.evalSteps !== undefined) out.evalSteps = overrides.evalSteps;
  if (overrides.matchPaperDecay) out.matchPaperDecay = true;
  return out;
}

/** What identifies a run: everything that changes its result. The id's hash is taken over exactly this. */
export function runIdentity(run: Omit<PlannedRun, 'id' | 'dir'>): Record<string, unknown> {
  return {
    game: run.game,
    optimizer: run.optimizer,
    weightDecay: run.weightDecay,
    seed: run.seed,
    preset: run.preset,
    overrides: run.overrides,
  };
}

/**
 * `pong-adamw-wd1e-4-s0-<8 hex>`: readable, and stable because the hash covers the canonical JSON of the run's
 * identity (a preset or budget override changes the hash, so runs of different budgets never share a directory).
 */
export function runId(run: Omit<PlannedRun, 'id' | 'dir'>): string {
  const hash = crypto.createHash('sha256').update(canonicalJson(runIdentity(run))).digest('hex').slice(0, 8);
  const matched = run.overrides.matchPaperDecay ? '-matched' : '';
  return `${run.game}-${run.optimizer}-wd${formatLambda(run.weightDecay)}${matched}-s${run.seed}-${hash}`;
}

/** Ids are used as directory names and placed in shell scripts: this is the only alphabet they may use. */
export const RUN_ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

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
          const id = runId(base);
          runs.push({ id, dir: `${RUNS_DIR}/${id}`, ...base });
        }
      }
    }
  }
  return runs;
}

export function buildPlan(grid: SweepGrid, createdAt = new Date().toISOString()): SweepPlan {
  return { format: 1, kind: 'wd-dqn-sweep', createdAt, grid, runs: expandGrid(grid) };
}

/**
 * What must match for a directory to be "this sweep": the set of run ids (each id hashes the run's whole config).
 * The order of the lists on the command line does not matter: `--optimizers adamw,adam` resumes `adam,adamw`.
 */
function planIdentity(plan: Pick<SweepPlan, 'runs'>): string {
  return plan.runs.map((r) => r.id).sort().join('\n');
}

function planRemedy(dir: string): string {
  return `Use a new --out directory for this sweep, or rerun the original command to resume the sweep in ${dir}.`;
}

/** Reads and checks DIR/plan.json. Throws CorruptFileError / PlanMismatchError with what to do. */
export function readPlan(dir: string): SweepPlan {
  const file = path.join(dir, PLAN_FILE);
  if (!fs.existsSync(file)) {
    throw new PlanMismatchError(`${dir} holds no sweep (${PLAN_FILE} not found). Start one with npm run sweep -- … --out ${dir}.`);
  }
  const plan = readJsonFile<SweepPlan>(
    file,
    'sweep plan',
    `Move ${file} away and rerun the original sweep command: it is rewritten from the command, and finished runs are kept.`,
  );
  const bad = (why: string) => new PlanMismatchError(`${file} is not a sweep plan of this harness (${why}); refusing to use ${dir}.`);
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) throw bad('not a JSON object');
  if (plan.kind !== 'wd-dqn-sweep') throw bad(`kind is ${JSON.stringify(plan.kind)}, expected "wd-dqn-sweep"`);
  if (plan.format !== 1) throw bad(`format ${JSON.stringify(plan.format)} is not supported (expected 1)`);
  if (!Array.isArray(plan.runs) || typeof plan.grid !== 'object' || plan.grid === null) throw bad('no "grid" or "runs"');
  for (const run of plan.runs) {
    if (typeof run?.id !== 'string' || !RUN_ID_PATTERN.test(run.id) || run.dir !== `${RUNS_DIR}/${run.id}`) {
      throw bad(`run entry ${JSON.stringify(run).slice(0, 120)} has a malformed id or dir`);
    }
  }
  return plan;
}

function describeGrid(grid: SweepGrid): string {
  const rows = grid.rows.map((r) => `${r.optimizer}@${r.weightDecays.map(formatLambda).join('/')}`).join(' ');
  const o = Object.entries(grid.overrides).map(([k, v]) => ` ${k}=${v}`).join('');
  return `${grid.kind}: games ${grid.games.join(',')}; ${rows}; seeds ${grid.seeds.join(',')}; preset ${grid.preset}${o}`;
}

/**
 * Writes plan.json into `dir` for a new sweep, or checks that the plan already there is this one (a rerun).
 * Refuses a directory holding another sweep's plan, and a non-empty directory that holds no plan. With
 * `write: false` (a dry run) only an existing plan is checked and nothing is written.
 */
export function writeOrCheckPlan(dir: string, plan: SweepPlan, options: { write?: boolean } = {}): { created: boolean; plan: SweepPlan } {
  const file = path.join(dir, PLAN_FILE);
  if (fs.existsSync(file)) {
    const existing = readPlan(dir);
    if (planIdentity(existing) !== planIdentity(plan)) {
      throw new PlanMismatchError(
        `${dir} already holds another sweep's plan (${file}):\n` +
          `  there:     ${describeGrid(existing.grid)}\n` +
          `  requested: ${describeGrid(plan.grid)}\n` +
          `Nothing was written. ${planRemedy(dir)}`,
      );
    }
    return { created: false, plan: existing };
  }
  if (options.write === false) return { created: false, plan }; // a dry run: only the check above
  let entries: string[] = [];
  try {
    const stat = fs.statSync(dir);
    if (!stat.isDirectory()) throw new PlanMismatchError(`${dir} is a file, not a directory; choose another --out.`);
    entries = fs.readdirSync(dir).filter((name) => !isAtomicTempName(name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (entries.length > 0) {
    const shown = entries.slice(0, 5).join(', ') + (entries.length > 5 ? ', …' : '');
    throw new PlanMismatchError(
      `${dir} is not empty (${shown}) and holds no ${PLAN_FILE}; refusing to start a sweep there so nothing is ` +
        'overwritten. Choose a new or empty --out directory.',
    );
  }
  // plan.json first: a crash before it exists leaves an empty directory, which a rerun accepts.
  makeDirectories(dir, 'sweep directory');
  writeJsonAtomic(file, plan);
  fs.mkdirSync(path.join(dir, RUNS_DIR), { recursive: true });
  return { created: true, plan };
}

export { CorruptFileError };
