// plan.json, the file that records which runs a sweep consists of: its types, how it is read and checked, and how
// it is written. Everything that reads a plan (the sweep, --status, Slurm, the analysis) goes through readPlan, so
// there is one definition of a valid plan. How a plan is made from a grid is sweep/plan.ts's job.
//
// The plan is written atomically before any run starts. A sweep may grow: a plan holding every run of the stored
// one (and more) replaces it, so only the new runs are added; a plan that leaves out runs of the stored one is
// refused, since it would orphan their run directories, and so two sweeps never share run directories.
import fs from 'node:fs';
import path from 'node:path';
import { formatLambda, shellQuote } from '../format.ts';
import { canonicalJson } from '../io/canonical_json.ts';
import { CorruptFileError, isAtomicTempName, makeDirectories, readJsonFile, writeJsonAtomic } from '../io/atomic.ts';
import { ALE_ROM_IDS } from '../../envs/games.ts';
import { weightDecayProblem } from '../optim/options.ts';
import { optimizerNames, type OptimizerName } from '../optim/types.ts';
import { PRESET_NAMES, type PresetName } from '../run/presets.ts';
import type { RunOverrides } from '../run/run_name.ts';

export { CorruptFileError };

export const PLAN_FILE = 'plan.json';
export const PLAN_KIND = 'wd-dqn-sweep';
export const PLAN_FORMAT = 1;
/** Every run's directory is RUNS_DIR/<id> inside the sweep directory. */
export const RUNS_DIR = 'runs';

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
  format: typeof PLAN_FORMAT;
  kind: typeof PLAN_KIND;
  createdAt: string;
  grid: SweepGrid;
  runs: PlannedRun[];
}


/** Ids are used as directory names and placed in shell scripts: this is the only alphabet they may use. */
export const RUN_ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * What is wrong with one plan entry, or null: everything a run's command line and job script are built from. Checked
 * on every read (plan.json may have been edited by hand) and again by the Slurm script writer before it quotes the
 * values into a shell script.
 */
export function planEntryProblem(run: PlannedRun): string | null {
  if (typeof run?.id !== 'string' || !RUN_ID_PATTERN.test(run.id) || run.dir !== `${RUNS_DIR}/${run.id}`) return 'malformed id or dir';
  if (!ALE_ROM_IDS.includes(run.game)) return `unknown game ${JSON.stringify(run.game)}`;
  if (!(optimizerNames as readonly string[]).includes(run.optimizer)) return `unknown optimizer ${JSON.stringify(run.optimizer)}`;
  if (!(PRESET_NAMES as readonly string[]).includes(run.preset)) return `unknown preset ${JSON.stringify(run.preset)}`;
  if (!Number.isSafeInteger(run.seed) || run.seed < 0) return `bad seed ${JSON.stringify(run.seed)}`;
  if (weightDecayProblem(run.weightDecay) !== null) return `bad λ ${JSON.stringify(run.weightDecay)}`;
  return null;
}

/** plan.json exists but is not the plan of this sweep, or not a plan at all. */
export class PlanMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanMismatchError';
  }
}

/** The run ids of a plan: each id hashes the run's whole config, so equal ids are the same run. */
function runIds(plan: Pick<SweepPlan, 'runs'>): Set<string> {
  return new Set(plan.runs.map((r) => r.id));
}

function planRemedy(dir: string): string {
  return (
    `Use a new --out directory for this sweep, rerun the original command to resume the sweep in ${dir}, or grow it ` +
    'with a grid holding all of its runs (more games, schemes, λ values or seeds at the same preset and budget).'
  );
}

/** Reads and checks DIR/plan.json. Throws CorruptFileError / PlanMismatchError with what to do. */
export function readPlan(dir: string): SweepPlan {
  const file = path.join(dir, PLAN_FILE);
  if (!fs.existsSync(file)) {
    throw new PlanMismatchError(`${dir} holds no sweep (${PLAN_FILE} not found). Start one with npm run sweep -- … --out ${shellQuote(dir)}.`);
  }
  const plan = readJsonFile<SweepPlan>(
    file,
    'sweep plan',
    `Move ${file} away and rerun the original sweep command: it is rewritten from the command, and finished runs are kept.`,
  );
  const bad = (why: string) => new PlanMismatchError(`${file} is not a sweep plan of this harness (${why}); refusing to use ${dir}.`);
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) throw bad('not a JSON object');
  if (plan.kind !== PLAN_KIND) throw bad(`kind is ${JSON.stringify(plan.kind)}, not "${PLAN_KIND}": another tool's sweep`);
  if (plan.format !== PLAN_FORMAT) {
    throw bad(`format ${JSON.stringify(plan.format)}, this version reads format ${PLAN_FORMAT}: written by another version of the harness, use the matching checkout`);
  }
  if (!Array.isArray(plan.runs)) throw bad('no "runs" list');
  for (const [i, run] of plan.runs.entries()) {
    const problem = planEntryProblem(run);
    if (problem !== null) throw bad(`runs[${i}] ${JSON.stringify(run).slice(0, 120)}: ${problem}`);
  }
  if (typeof plan.grid !== 'object' || plan.grid === null) throw bad('no "grid"');
  return plan;
}

function describeGrid(grid: SweepGrid): string {
  const rows = grid.rows.map((r) => `${r.optimizer}@${r.weightDecays.map(formatLambda).join('/')}`).join(' ');
  const o = Object.entries(grid.overrides).map(([k, v]) =>
    k === 'set' ? Object.entries(v as Record<string, string>).map(([key, value]) => ` --set ${key}=${value}`).join('') : ` ${k}=${v}`).join('');
  return `${grid.kind}: games ${grid.games.join(',')}; ${rows}; seeds ${grid.seeds.join(',')}; preset ${grid.preset}${o}`;
}

/** What writeOrCheckPlan did: a new sweep, a rerun of the stored plan, or the stored plan grown by new runs. */
export interface PlanCheck {
  created: boolean;
  plan: SweepPlan;
  /** Set when the requested plan added runs to the stored one: how many it had, and how many are new. */
  grown: { before: number; added: number } | null;
}

/**
 * Writes plan.json into `dir` for a new sweep, checks that the plan already there is this one (a rerun: the order
 * of the lists on the command line does not matter, the set of run ids decides), or grows it: a plan holding every
 * run id of the stored one and more replaces it atomically; the runs already there keep their ids and directories,
 * only the new ones are pending. Refuses a plan that leaves out runs of the stored one (their run directories would
 * be orphaned), and a non-empty directory that holds no plan. With `write: false` (a dry run) nothing is written.
 */
export function writeOrCheckPlan(dir: string, plan: SweepPlan, options: { write?: boolean } = {}): PlanCheck {
  const file = path.join(dir, PLAN_FILE);
  if (fs.existsSync(file)) {
    const existing = readPlan(dir);
    const requested = runIds(plan);
    const dropped = existing.runs.filter((r) => !requested.has(r.id));
    if (dropped.length > 0) {
      const otherConfig = existing.grid.preset !== plan.grid.preset || canonicalJson(existing.grid.overrides) !== canonicalJson(plan.grid.overrides);
      const why = otherConfig ? ' (the preset or the per-run overrides differ, and run ids hash them)' : '';
      throw new PlanMismatchError(
        `${dir} already holds another sweep's plan (${file}):\n` +
          `  there:     ${describeGrid(existing.grid)}\n` +
          `  requested: ${describeGrid(plan.grid)}\n` +
          `The requested plan leaves out ${dropped.length} of its ${existing.runs.length} runs${why}, e.g. ${dropped[0].id}; ` +
          `a sweep may only grow.\nNothing was written. ${planRemedy(dir)}`,
      );
    }
    const stored = runIds(existing);
    const added = plan.runs.filter((r) => !stored.has(r.id)).length;
    if (added === 0) return { created: false, plan: existing, grown: null };
    // The requested plan holds every stored run, so its runs are the union and its grid (games × rows × seeds,
    // each holding those of the stored runs) describes them all.
    const grown = { before: existing.runs.length, added };
    if (options.write !== false) writeJsonAtomic(file, plan);
    return { created: false, plan, grown };
  }
  if (options.write === false) return { created: false, plan, grown: null }; // a dry run: only the check above
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
  return { created: true, plan, grown: null };
}

/** The line a sweep prints once its plan is settled: planned, resuming, or growing. */
export function planLine(dir: string, check: PlanCheck): string {
  const where = path.join(dir, PLAN_FILE);
  if (check.grown !== null) {
    return `growing sweep ${dir}: ${check.grown.before} runs planned before, ${check.grown.added} new (${where})`;
  }
  return `${check.created ? 'planned' : 'resuming'} sweep ${dir}: ${check.plan.runs.length} runs (${where})`;
}

