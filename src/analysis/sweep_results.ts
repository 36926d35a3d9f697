// Loads sweep directories for analysis: finds the runs (plan.json, runs/*/, a directory of run directories, or a
// run directory; several of these may be given at once), reads each one read-only through RunDirectory.open, and
// validates it. A run that cannot be trusted is not fatal: it goes into `skipped` with the reason, so one corrupt
// file never hides the rest of a sweep's results. The runs analysed are of one budget: duplicates of a run (same
// game, scheme, λ, seed and budget) count once, the completed one preferred, and runs of other budgets are left out
// with the reason. Only problems with a directory as a whole (missing, no runs, a plan of another kind) throw.
import fs from 'node:fs';
import path from 'node:path';
import { resolveGame, displayName } from '../../envs/games.ts';
import { formatLambda } from '../format.ts';
import { weightDecayProblem } from '../optim/options.ts';
import { CorruptFileError, PLAN_FILE, PlanMismatchError, readPlan, RUNS_DIR, type PlannedRun } from '../sweep/plan_file.ts';
import { RunDirectory, RUN_FILES, runFilesProblem, type JsonObject, type MetricsRecord, type RunSummary } from '../run/run_directory.ts';

/** A problem with the sweep directory as a whole: nothing can be analysed. */
export class SweepLoadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SweepLoadError';
  }
}

export interface LoadedRun {
  /** Plan id, or the run directory's name when there is no plan. */
  id: string;
  dir: string;
  /** ALE ROM id. */
  game: string;
  optimizer: string;
  /** λ schedule ('constant' unless the config says otherwise). */
  schedule: string;
  weightDecay: number;
  seed: number;
  preset: string;
  /** summary.json status: completed, running, interrupted, incomplete, diverged, failed. */
  status: string;
  iterationsPlanned: number;
  trainingSteps: number;
  evalSteps: number;
  records: MetricsRecord[];
  /**
   * diagnostics.jsonl's records (the optimizer's state every few thousand agent steps, runs made from 2026-12-06
   * on): [] when the run has none, or when the file is damaged (then a warning says so).
   */
  diagnostics: MetricsRecord[];
  /** Resumes that refilled the replay memory with the current policy (summary.json; 0 if absent): not the same experiment. */
  replayRefills: number;
  /** Non-fatal notes, e.g. a last metrics line cut off by a crash and dropped. */
  warnings: string[];
  /** config.json's run config as written (validated only in the fields above). */
  config: JsonObject;
}

export interface SkippedRun {
  id: string;
  dir: string;
  /** Why it is left out: its files cannot be read, it is not the run the plan says, it duplicates one counted, or its budget is not the one analysed. */
  kind: 'unreadable' | 'not the planned run' | 'duplicate' | 'another budget';
  reason: string;
}

/** A directory to load as a run: from plan.json (with what the plan says it is), or found by scanning. */
export interface RunCandidate {
  id: string;
  /** Absolute. */
  dir: string;
  planned?: PlannedRun;
}

export interface Budget {
  preset: string;
  iterations: number;
  trainingSteps: number;
  /** iterations × trainingSteps agent steps (a training phase runs whole episodes, so runs go slightly over). */
  stepsPerRun: number;
  evalSteps: number;
  runs: number;
}

export interface SweepResults {
  /** The directory given (the first one when several were). */
  root: string;
  /** Every directory given, resolved, each once. */
  roots: string[];
  /** How the runs were found; 'several' when several directories were given. */
  source: 'plan' | 'runs-dir' | 'dir-of-runs' | 'single-run' | 'several';
  runs: LoadedRun[];
  skipped: SkippedRun[];
  /** In the plan but without a run directory yet (not started). */
  missing: PlannedRun[];
  /** Sweep-level notes (fallbacks, ignored directories, mixed budgets). */
  warnings: string[];
  budgets: Budget[];
}

/** Runs that may be pooled into one table cell. */
export interface RowKey {
  optimizer: string;
  schedule: string;
  weightDecay: number;
}

export function rowKeyString(k: RowKey): string {
  return `${k.optimizer}|${k.schedule}|${k.weightDecay}`;
}

/** Added to a run's schedule label when its λ was scaled by --match-paper-decay: its own Table 1 row. */
export const PAPER_MATCHED = 'paper-matched decay';

export function describeRun(r: Pick<LoadedRun, 'game' | 'optimizer' | 'weightDecay' | 'seed' | 'schedule'>): string {
  const schedule = r.schedule === 'constant' ? '' : ` (${r.schedule})`;
  return `${displayName(r.game)} ${r.optimizer} λ=${formatLambda(r.weightDecay)}${schedule} seed ${r.seed}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------
// Finding the runs

/** The plan's runs, or null when there is no plan (or only a damaged one: then the run directories are scanned). */
function readPlanRuns(root: string, warnings: string[]): PlannedRun[] | null {
  if (!fs.existsSync(path.join(root, PLAN_FILE))) return null;
  try {
    return readPlan(root).runs;
  } catch (err) {
    if (err instanceof PlanMismatchError) throw new SweepLoadError(err.message);
    if (!(err instanceof CorruptFileError)) throw err;
    // The runs themselves are intact; a damaged plan only loses the list of runs not started yet.
    warnings.push(
      `${path.join(root, PLAN_FILE)} is corrupt or half-written (${errorMessage(err)}); ignored it and looked for run directories ` +
        `under ${path.join(root, RUNS_DIR)} instead, so runs not started yet are not listed as missing.`,
    );
    return null;
  }
}

function safeGame(name: string): string | undefined {
  try {
    return resolveGame(name);
  } catch {
    return undefined;
  }
}

/** Does `dir` look like a run directory (even one too damaged to open)? */
function looksLikeRun(dir: string): boolean {
  return [RUN_FILES.config, RUN_FILES.metrics, RUN_FILES.summary, RUN_FILES.checkpoints].some((f) =>
    fs.existsSync(path.join(dir, f)),
  );
}

function subdirectories(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => path.join(dir, e.name))
    .sort();
}

// ---------------------------------------------------------------------------
// Reading and validating one run

/**
 * The schedule label and λ a run is tabulated under. A --match-paper-decay run stands under its nominal (the
 * paper's) λ, in a row of its own: its schedule label says so.
 */
function scheduleAndLambda(optimizer: JsonObject, decayMatch: unknown): { schedule: string; weightDecay: number } {
  const schedule = typeof optimizer.weightDecaySchedule === 'string' ? optimizer.weightDecaySchedule : 'constant';
  const wd = typeof optimizer.weightDecay === 'number' ? optimizer.weightDecay : 0;
  const nominal = isObject(decayMatch) && typeof decayMatch.nominalWeightDecay === 'number' ? decayMatch.nominalWeightDecay : null;
  if (nominal === null) return { schedule, weightDecay: wd };
  return { schedule: schedule === 'constant' ? PAPER_MATCHED : `${schedule}, ${PAPER_MATCHED}`, weightDecay: nominal };
}

/** Reads one run read-only; throws an Error whose message is the skip reason. */
export function loadRun(id: string, dir: string): LoadedRun {
  if (!fs.existsSync(path.join(dir, RUN_FILES.config))) {
    throw new Error(`no ${RUN_FILES.config}: not a run directory, or one whose first write never happened`);
  }
  let run: RunDirectory;
  try {
    run = RunDirectory.open(dir);
  } catch (err) {
    throw new Error(errorMessage(err));
  }
  const config = run.config;
  const agent = isObject(config.agent) ? config.agent : {};
  const optimizer = isObject(agent.optimizer) ? agent.optimizer : null;
  const problems: string[] = [];
  if (typeof config.game !== 'string') problems.push('config.game');
  if (!Number.isInteger(config.seed)) problems.push('config.seed');
  if (optimizer === null || typeof optimizer.name !== 'string') problems.push('config.agent.optimizer.name');
  if (!(typeof config.iterations === 'number' && config.iterations > 0)) problems.push('config.iterations');
  if (!(typeof config.trainingSteps === 'number' && config.trainingSteps > 0)) problems.push('config.trainingSteps');
  const wd = optimizer?.weightDecay;
  if (wd !== undefined && weightDecayProblem(wd) !== null) problems.push('config.agent.optimizer.weightDecay');
  if (problems.length > 0) {
    throw new Error(`${RUN_FILES.config} lacks or has invalid ${problems.join(', ')}; it was not written by this harness's training runner`);
  }
  const game = safeGame(config.game as string);
  if (game === undefined) throw new Error(`${RUN_FILES.config} names an unknown game "${String(config.game)}"`);

  let summary: RunSummary | null;
  try {
    summary = run.readSummary();
  } catch (err) {
    throw new Error(errorMessage(err));
  }
  if (summary === null) {
    throw new Error(
      `no ${RUN_FILES.summary}: the run never finished an iteration, or the file was removed (its status is unknown)`,
    );
  }
  if (!isObject(summary) || typeof summary.status !== 'string') {
    throw new Error(`${RUN_FILES.summary} has no "status"; it was not written by this harness`);
  }
  if (typeof summary.game === 'string' && safeGame(summary.game) !== game) {
    throw new Error(`${RUN_FILES.summary} is for game "${summary.game}" but ${RUN_FILES.config} for "${String(config.game)}"`);
  }

  let records: MetricsRecord[];
  let warnings: string[];
  try {
    ({ records, warnings } = run.readMetrics());
  } catch (err) {
    throw new Error(errorMessage(err));
  }
  const iterationsPlanned = config.iterations as number;
  const problem = runFilesProblem(records, summary.status, iterationsPlanned);
  if (problem !== null) throw new Error(problem);
  let diagnostics: MetricsRecord[] = [];
  try {
    diagnostics = run.readDiagnostics();
  } catch (err) {
    warnings.push(`${RUN_FILES.diagnostics} left out: ${errorMessage(err)}`);
  }
  return {
    id,
    dir,
    game,
    optimizer: optimizer!.name as string,
    ...scheduleAndLambda(optimizer!, config.decayMatch),
    seed: config.seed as number,
    preset: typeof config.preset === 'string' ? config.preset : 'unknown',
    status: summary.status,
    iterationsPlanned,
    trainingSteps: config.trainingSteps as number,
    evalSteps: typeof config.evalSteps === 'number' ? config.evalSteps : 0,
    records,
    diagnostics,
    replayRefills: typeof summary.replay_refills === 'number' ? summary.replay_refills : 0,
    warnings,
    config,
  };
}

/** Differences between what the plan says a run is and what its directory holds. */
function planMismatch(planned: PlannedRun, run: LoadedRun): string | null {
  const diffs: string[] = [];
  if (planned.game !== run.game) diffs.push(`game ${run.game} (plan: ${planned.game})`);
  if (planned.optimizer !== run.optimizer) diffs.push(`optimizer ${run.optimizer} (plan: ${planned.optimizer})`);
  if (planned.weightDecay !== run.weightDecay) diffs.push(`weightDecay ${run.weightDecay} (plan: ${planned.weightDecay})`);
  if (planned.seed !== run.seed) diffs.push(`seed ${run.seed} (plan: ${planned.seed})`);
  if (diffs.length === 0) return null;
  return `the directory holds a different run than plan.json says: ${diffs.join(', ')}; it belongs to another sweep`;
}

// ---------------------------------------------------------------------------

/** The runs one directory holds (or plans): how they were found, the run directories, and planned runs not started. */
interface FoundRuns {
  root: string;
  source: Exclude<SweepResults['source'], 'several'>;
  candidates: RunCandidate[];
  missing: PlannedRun[];
}

function findRuns(dirArg: string, warnings: string[]): FoundRuns {
  const root = path.resolve(dirArg);
  if (!fs.existsSync(root)) throw new SweepLoadError(`${root} does not exist.`);
  if (!fs.statSync(root).isDirectory()) {
    throw new SweepLoadError(`${root} is a file; expected a sweep directory (with plan.json or runs/) or a run directory.`);
  }
  const missing: PlannedRun[] = [];
  const candidates: RunCandidate[] = [];
  let source: FoundRuns['source'];

  const plan = readPlanRuns(root, warnings);
  if (plan !== null) {
    source = 'plan';
    for (const p of plan) {
      const dir = path.join(root, p.dir);
      if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) candidates.push({ id: p.id, dir, planned: p });
      else missing.push(p);
    }
    const runsDir = path.join(root, RUNS_DIR);
    if (fs.existsSync(runsDir)) {
      const planned = new Set(plan.map((p) => path.join(root, p.dir)));
      const extra = subdirectories(runsDir).filter((d) => !planned.has(d) && looksLikeRun(d));
      if (extra.length > 0) {
        warnings.push(
          `${extra.length} run director${extra.length === 1 ? 'y' : 'ies'} under ${runsDir} not in plan.json, ignored: ` +
            extra.map((d) => path.basename(d)).join(', '),
        );
      }
    }
  } else if (fs.existsSync(path.join(root, RUN_FILES.config))) {
    source = 'single-run';
    candidates.push({ id: path.basename(root), dir: root });
  } else {
    const runsDir = path.join(root, RUNS_DIR);
    const base = fs.existsSync(runsDir) && fs.statSync(runsDir).isDirectory() ? runsDir : root;
    source = base === runsDir ? 'runs-dir' : 'dir-of-runs';
    for (const d of subdirectories(base)) if (looksLikeRun(d)) candidates.push({ id: path.basename(d), dir: d });
  }

  if (candidates.length === 0 && missing.length === 0) {
    throw new SweepLoadError(
      `no runs found in ${root}: expected ${PLAN_FILE}, run directories under runs/ (each with ${RUN_FILES.config}), ` +
        'or run directories directly inside it.',
    );
  }
  return { root, source, candidates, missing };
}

export function loadSweep(dirArg: string): SweepResults {
  return loadSweeps([dirArg]);
}

function progress(run: LoadedRun): string {
  return run.status === 'completed' ? 'completed' : `${run.status} at ${run.records.length}/${run.iterationsPlanned} iterations`;
}

/** Of two runs of the same seed and budget, the one to count: a completed one, else the one that got further. */
function better(a: LoadedRun, b: LoadedRun): boolean {
  const done = Number(a.status === 'completed') - Number(b.status === 'completed');
  return done !== 0 ? done > 0 : a.records.length > b.records.length;
}

function budgetKey(r: Pick<LoadedRun, 'preset' | 'iterationsPlanned' | 'trainingSteps' | 'evalSteps'>): string {
  return `${r.preset}|${r.iterationsPlanned}|${r.trainingSteps}|${r.evalSteps}`;
}

/** Whether a planned run not started yet is, as far as its plan entry says, of another budget than `budget`. */
function plannedForAnotherBudget(p: PlannedRun, budget: Budget): boolean {
  const o = p.overrides ?? {};
  return p.preset !== budget.preset ||
    (o.iterations !== undefined && o.iterations !== budget.iterations) ||
    (o.trainingSteps !== undefined && o.trainingSteps !== budget.trainingSteps) ||
    (o.evalSteps !== undefined && o.evalSteps !== budget.evalSteps);
}

/**
 * Loads the runs of every directory given (sweep directories, directories of runs, run directories) as one sweep.
 * A run directory reached twice (the same directory given twice, or a sweep and one of its runs) is read once; two
 * runs of the same game, scheme, λ, seed and budget count once, the completed one (else the furthest) preferred,
 * the other skipped with the reason. Runs of several budgets are never pooled: the budget with the most completed
 * runs is analysed, and every run of another budget is skipped ("another budget: …").
 */
export function loadSweeps(dirArgs: readonly string[]): SweepResults {
  if (dirArgs.length === 0) throw new SweepLoadError('no directory given.');
  const warnings: string[] = [];
  const skipped: SkippedRun[] = [];
  const found: FoundRuns[] = [];
  const seenRoots = new Set<string>();
  for (const dirArg of dirArgs) {
    const notes: string[] = [];
    const f = findRuns(dirArg, notes);
    const real = fs.realpathSync(f.root);
    if (seenRoots.has(real)) continue; // the same directory given twice: read once
    seenRoots.add(real);
    found.push(f);
    warnings.push(...notes);
  }
  const seenDirs = new Set<string>();
  const candidates = found.flatMap((f) => f.candidates).filter((c) => {
    const real = fs.realpathSync(c.dir);
    if (seenDirs.has(real)) return false; // a run reached twice (a sweep and one of its run directories): read once
    seenDirs.add(real);
    return true;
  });
  // A planned run not started here may have run elsewhere (a run id found in another directory given).
  const candidateIds = new Set(candidates.map((c) => c.id));
  const missingById = new Map<string, PlannedRun>();
  for (const m of found.flatMap((f) => f.missing)) if (!candidateIds.has(m.id) && !missingById.has(m.id)) missingById.set(m.id, m);
  let missing = [...missingById.values()];

  let runs: LoadedRun[] = [];
  const kept = new Map<string, number>(); // identity → index in runs
  for (const c of candidates) {
    let run: LoadedRun;
    try {
      run = loadRun(c.id, c.dir);
    } catch (err) {
      skipped.push({ id: c.id, dir: c.dir, kind: 'unreadable', reason: errorMessage(err) });
      continue;
    }
    const mismatch = c.planned === undefined ? null : planMismatch(c.planned, run);
    if (mismatch !== null) {
      skipped.push({ id: c.id, dir: c.dir, kind: 'not the planned run', reason: mismatch });
      continue;
    }
    // The same seed twice (e.g. a copied directory) would be counted as two seeds and shrink the std.
    const identity = `${run.game}|${rowKeyString(run)}|${run.seed}|${budgetKey(run)}`;
    const index = kept.get(identity);
    if (index === undefined) {
      kept.set(identity, runs.length);
      runs.push(run);
      continue;
    }
    const [count, drop] = better(run, runs[index]) ? [run, runs[index]] : [runs[index], run];
    runs[index] = count;
    const why = better(count, drop) ? `that one is ${progress(count)}, this one ${progress(drop)}` : 'only the first found is counted';
    skipped.push({ id: drop.id, dir: drop.dir, kind: 'duplicate', reason: `duplicate of ${count.id} (${describeRun(run)}, same budget): ${why}` });
  }

  const byBudget = new Map<string, LoadedRun[]>();
  for (const r of runs) byBudget.set(budgetKey(r), [...(byBudget.get(budgetKey(r)) ?? []), r]);
  if (byBudget.size > 1) {
    const completed = (group: LoadedRun[]) => group.filter((r) => r.status === 'completed').length;
    const steps = (group: LoadedRun[]) => group[0].iterationsPlanned * group[0].trainingSteps;
    const [chosen, ...others] = [...byBudget.values()].sort((a, b) => completed(b) - completed(a) || b.length - a.length || steps(b) - steps(a));
    const budget = budgetsOf(chosen)[0];
    for (const group of others) {
      const reason = `another budget: ${formatBudget(budgetsOf(group)[0])}`;
      for (const r of group) skipped.push({ id: r.id, dir: r.dir, kind: 'another budget', reason });
    }
    runs = runs.filter((r) => chosen.includes(r));
    const notStarted = missing.filter((m) => plannedForAnotherBudget(m, budget)).length;
    missing = missing.filter((m) => !plannedForAnotherBudget(m, budget));
    warnings.push(
      `runs of ${byBudget.size} budgets found, and runs of different budgets are never pooled: only those of ${formatBudget(budget)} ` +
        `are analysed (the budget with the most completed runs); ${others.flat().length} run(s) of another budget left out` +
        `${notStarted > 0 ? `, and ${notStarted} planned run(s) of another budget not started` : ''}. ` +
        'Give their directories alone to analyse them.',
    );
  }
  const root = found[0].root;
  const source = found.length === 1 ? found[0].source : 'several';
  return { root, roots: found.map((f) => f.root), source, runs, skipped, missing, warnings, budgets: budgetsOf(runs) };
}

/** "2 unreadable, 1 of another budget": what the skipped runs are, for a one-line warning. */
export function describeSkipped(skipped: readonly SkippedRun[]): string {
  const counts = new Map<string, number>();
  for (const s of skipped) {
    const label = s.kind === 'another budget' ? 'of another budget' : s.kind;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  return [...counts].map(([label, n]) => `${n} ${label}`).join(', ');
}

export function budgetsOf(runs: readonly LoadedRun[]): Budget[] {
  const byKey = new Map<string, Budget>();
  for (const r of runs) {
    const key = budgetKey(r);
    const b = byKey.get(key);
    if (b) b.runs++;
    else {
      byKey.set(key, {
        preset: r.preset,
        iterations: r.iterationsPlanned,
        trainingSteps: r.trainingSteps,
        stepsPerRun: r.iterationsPlanned * r.trainingSteps,
        evalSteps: r.evalSteps,
        runs: 1,
      });
    }
  }
  return [...byKey.values()].sort((a, b) => b.runs - a.runs);
}

const int = (n: number) => n.toLocaleString('en-US');

export function formatBudget(b: Budget): string {
  const evalPart = b.evalSteps > 0 ? `, evaluation ${int(b.evalSteps)} steps per iteration` : ', no evaluation phase';
  return (
    `${int(b.iterations)} iterations × ${int(b.trainingSteps)} agent steps = ${int(b.stepsPerRun)} agent steps ` +
    `(${int(b.stepsPerRun * 4)} frames) per run, preset ${b.preset}${evalPart}`
  );
}
