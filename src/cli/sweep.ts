// `npm run sweep -- …`: plan a grid of DQN runs (games × weight-decay schemes × λ × seeds), run it locally or on
// Slurm, resume it, and show where it stands. See docs/sweeps.md. Parsing is exported apart from the work, so
// input errors answer at once and are unit-tested.
import { Command, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellQuote } from '../format.ts';
import { optimizerNames, type OptimizerName } from '../optim/types.ts';
import { buildPlan, crossGrid, paperGrid, planDecayLines, SweepInputError } from '../sweep/plan.ts';
import type { PresetName } from '../run/presets.ts';
import { PLAN_FILE, PlanMismatchError, planLine, readPlan, writeOrCheckPlan, type PlanCheck, type SweepPlan } from '../sweep/plan_file.ts';
import type { RunOverrides } from '../run/run_name.ts';
import { addSweepRunOptions } from './run_options.ts';
import { parseChoice, parsePositiveInteger } from './parse.ts';
import { TENSORBOARD_DIR, type RunOutputOptions } from '../sweep/command.ts';
import { chooseSplit, oversubscription, slurmMemFor } from '../sweep/resources.ts';
import { wrapWords } from '../run/terminal_text.ts';
import { runMain } from './exit.ts';
import { withVersion } from './version.ts';

export const EXECUTORS = ['local', 'slurm'] as const;

/** Exit code of a local sweep that ended with runs still unfinished (0: all finished; 1: failures; 130: stopped). */
export const EXIT_UNFINISHED = 3;

export interface SlurmSettings {
  dryRun: boolean;
  partition?: string;
  account?: string;
  qos?: string;
  time?: string;
  mem?: string;
  maxParallel?: number;
  signalSeconds: number;
  jobName?: string;
}

export type SweepInvocation =
  | { kind: 'status'; dir: string; verbose: boolean }
  | {
      kind: 'run';
      dir: string;
      /** null: resume the plan already in `dir`. */
      plan: SweepPlan | null;
      executor: (typeof EXECUTORS)[number];
      workers?: number;
      threads?: number;
      planOnly: boolean;
      retryFailed: boolean;
      /** How every run stores its output: --no-save-replay, --keep-checkpoints, --tensorboard (DIR/tensorboard). */
      output: RunOutputOptions;
      slurm: SlurmSettings;
    };

export function buildSweepProgram(): Command {
  const program = new Command('sweep')
    .description('Plan and run a grid of DQN runs (games × weight-decay schemes × λ × seeds); resumable. See docs/sweeps.md.')
    .optionsGroup('Grid:');
  addSweepRunOptions(program, 'Grid:')
    .addOption(new Option('--paper-grid', 'the paper\'s Table 1 grid: 8 games × 13 rows (adam at 0; adamw, adam-l2, adam-separated at 1e-3..1e-5; adam-l2 also at 1e-6..1e-8) × 3 seeds = 312 runs; --games/--seeds narrow it'))
    .optionsGroup('Budget (per run):');
  addSweepRunOptions(program, 'Budget (per run):')
    .optionsGroup('Sweep directory:')
    .addOption(new Option('--out <dir>', 'the sweep directory, created if missing: plan.json, runs/<id>/, logs/ go inside it; rerun the same command (or --out DIR alone) to resume'))
    .addOption(new Option('--status <dir>', 'show done / running / failed / pending runs of the sweep in <dir> and an ETA, then exit'))
    .addOption(new Option('--verbose', 'with --status: list every run'))
    .addOption(new Option('--plan-only', 'write plan.json and exit without running anything'))
    .optionsGroup('Runs\' checkpoints:');
  addSweepRunOptions(program, "Runs' checkpoints:")
    .addOption(new Option('--tensorboard', `every run writes TensorBoard event files to <out>/${TENSORBOARD_DIR}/<run id>: one logdir for the sweep (tensorboard --logdir <out>/${TENSORBOARD_DIR}), a run name per run id`))
    .optionsGroup('Executor and resources:')
    .addOption(new Option('--executor <name>', 'local (this machine) or slurm (an sbatch job array)').argParser(parseChoice(EXECUTORS, 'executor')).default('local'))
    .addOption(new Option('--workers <n>', 'local: runs at once (default: cores / threads, limited by memory)').argParser(parsePositiveInteger));
  addSweepRunOptions(program, 'Executor and resources:')
    .addOption(new Option('--no-retry-failed', 'local: do not rerun runs whose last attempt failed'))
    .optionsGroup('Slurm:')
    .addOption(new Option('--dry-run', 'slurm: print the job script instead of submitting it (writes nothing)'))
    .addOption(new Option('--partition <name>', 'slurm: partition'))
    .addOption(new Option('--account <name>', 'slurm: account'))
    .addOption(new Option('--qos <name>', 'slurm: quality of service'))
    .addOption(new Option('--time <limit>', 'slurm: time limit per task (e.g. 2-00:00:00); runs checkpoint and requeue before it'))
    .addOption(new Option('--mem <size>', `slurm: memory per task (default: the preset's need plus a quarter: ${slurmMemFor('dopamine')} dopamine, ${slurmMemFor('reduced')} reduced)`))
    .addOption(new Option('--max-parallel <n>', 'slurm: at most n array tasks at once').argParser(parsePositiveInteger))
    .addOption(new Option('--signal-seconds <s>', 'slurm: tell a run to checkpoint this long before its time limit').argParser(parsePositiveInteger).default(300))
    .addOption(new Option('--job-name <name>', 'slurm: job name').default(undefined));
  withVersion(program.optionsGroup('Information:'));
  return program
    .addHelpText('after', [
      '',
      'Examples:',
      '  npm run sweep -- --games Pong,Breakout --optimizers adam,adamw --wd 1e-4,1e-5 --seeds 0,1 --preset reduced --out results/sweeps/try',
      '  npm run sweep -- --paper-grid --out results/sweeps/table1          # 312 runs, Dopamine budget',
      '  npm run sweep -- --status results/sweeps/table1',
      '  npm run sweep -- --paper-grid --out /shared/table1 --executor slurm --time 2-00:00:00 --mem 12G --dry-run',
      '',
      'Ctrl-C stops the sweep: every running run writes a checkpoint first. The same command resumes.',
    ].join('\n'))
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false);
}

const GRID_OPTIONS = ['games', 'optimizers', 'wd', 'seeds', 'paperGrid', 'iterations', 'trainingSteps', 'evalSteps', 'set'] as const;
const SLURM_ONLY = ['dryRun', 'partition', 'account', 'qos', 'time', 'mem', 'maxParallel', 'jobName'] as const;

function flag(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Parses argv (without node and script). Throws commander's errors (exitOverride) or SweepInputError. */
export function parseSweepArgs(argv: string[], program = buildSweepProgram()): SweepInvocation {
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  const fromCli = (key: string) => program.getOptionValueSource(key) === 'cli';
  const given = (keys: readonly string[]) => keys.filter((k) => o[k] !== undefined && o[k] !== false);

  if (o.status !== undefined) {
    const extra = [...given(GRID_OPTIONS), ...given(SLURM_ONLY), ...(o.out !== undefined ? ['out'] : [])];
    if (extra.length > 0) program.error(`error: --status only shows a sweep; drop ${extra.map(flag).join(', ')}`);
    return { kind: 'status', dir: path.resolve(o.status), verbose: Boolean(o.verbose) };
  }
  if (o.out === undefined) program.error('error: --out <dir> is required (the sweep directory), or --status <dir> to look at one.');
  if (o.executor !== 'slurm') {
    const misplaced = given(SLURM_ONLY).filter((k) => k !== 'jobName' || o.jobName !== undefined);
    if (misplaced.length > 0 || fromCli('signalSeconds')) {
      program.error(`error: ${[...misplaced, ...(fromCli('signalSeconds') ? ['signalSeconds'] : [])].map(flag).join(', ')} only apply to --executor slurm`);
    }
  } else if (o.workers !== undefined) {
    program.error('error: --workers applies to --executor local; with Slurm use --max-parallel');
  }

  const set = (o.set ?? []) as Array<[string, string]>;
  const setKeys = set.map(([key]) => key);
  const repeated = setKeys.find((key, i) => setKeys.indexOf(key) !== i);
  if (repeated !== undefined) program.error(`error: --set ${repeated} is given twice; give each key once`);
  const overrides: RunOverrides = {
    iterations: o.iterations, trainingSteps: o.trainingSteps, evalSteps: o.evalSteps,
    ...(o.matchPaperDecay ? { matchPaperDecay: true as const } : {}),
    ...(set.length > 0 ? { set: Object.fromEntries(set) } : {}),
  };
  const preset = o.preset as PresetName;
  let plan: SweepPlan | null;
  try {
    if (o.paperGrid) {
      if (o.optimizers !== undefined || o.wd !== undefined) {
        program.error('error: --paper-grid fixes the schemes and λ values (Table 1); drop --optimizers and --wd, or drop --paper-grid');
      }
      plan = buildPlan(paperGrid({ preset, overrides, games: o.games, seeds: o.seeds }));
    } else if (given(GRID_OPTIONS).length === 0 && !fromCli('preset')) {
      plan = null; // `--out DIR` alone: resume the sweep whose plan is in DIR
    } else {
      if (o.games === undefined) program.error('error: --games is required (e.g. --games Pong,Breakout), or use --paper-grid');
      if (o.optimizers === undefined) program.error(`error: --optimizers is required (e.g. --optimizers adam,adamw). Schemes: ${optimizerNames.join(', ')}`);
      plan = buildPlan(
        crossGrid({
          games: o.games,
          optimizers: o.optimizers as OptimizerName[],
          weightDecays: o.wd ?? [],
          seeds: o.seeds ?? [0],
          preset,
          overrides,
        }),
      );
    }
  } catch (error) {
    if (error instanceof SweepInputError) program.error(`error: ${error.message}`);
    throw error;
  }
  return {
    kind: 'run',
    dir: path.resolve(o.out),
    plan,
    executor: o.executor,
    workers: o.workers,
    threads: o.threads,
    planOnly: Boolean(o.planOnly),
    retryFailed: o.retryFailed !== false,
    output: {
      saveReplay: o.saveReplay !== false,
      keepCheckpoints: o.keepCheckpoints,
      ...(o.tensorboard ? { tensorboardDir: path.join(path.resolve(o.out), TENSORBOARD_DIR) } : {}),
    },
    slurm: {
      dryRun: Boolean(o.dryRun),
      partition: o.partition,
      account: o.account,
      qos: o.qos,
      time: o.time,
      mem: o.mem,
      maxParallel: o.maxParallel,
      signalSeconds: o.signalSeconds,
      jobName: o.jobName,
    },
  };
}

/**
 * How a local sweep ends: 130 stopped; 1 some run failed or is corrupt; EXIT_UNFINISHED some run is still running
 * elsewhere or not done; 0 only when every planned run is finished (done or diverged), so `sweep && table1` never
 * tabulates unfinished runs.
 */
export function sweepExitCode(stopped: boolean, counts: Record<string, number>): { code: number; message: string | null } {
  if (stopped) return { code: 130, message: null };
  if ((counts.failed ?? 0) + (counts.corrupt ?? 0) > 0) return { code: 1, message: null };
  const elsewhere = counts.running ?? 0;
  const notDone = (counts.pending ?? 0) + (counts.interrupted ?? 0);
  if (elsewhere + notDone > 0) {
    return { code: EXIT_UNFINISHED, message: `not finished: ${elsewhere} run(s) still running elsewhere, ${notDone} not done; rerun the same command to continue` };
  }
  return { code: 0, message: null };
}

/** The plan to run: the one given (written or checked against DIR), or the one already in DIR. */
function loadPlan(dir: string, plan: SweepPlan | null, write: boolean): PlanCheck {
  if (plan === null) {
    if (!fs.existsSync(path.join(dir, PLAN_FILE))) {
      throw new PlanMismatchError(
        `${dir} holds no sweep yet (no ${PLAN_FILE}): say what to run, e.g. --games Pong --optimizers adam,adamw --wd 1e-4, or --paper-grid.`,
      );
    }
    return { plan: readPlan(dir), created: false, grown: null };
  }
  return writeOrCheckPlan(dir, plan, { write });
}

async function main(argv: string[]): Promise<number> {
  const invocation = parseSweepArgs(argv);
  const { sweepStatus, formatStatus } = await import('../sweep/status.ts');
  if (invocation.kind === 'status') {
    const plan = readPlan(invocation.dir);
    say(formatStatus(invocation.dir, plan, sweepStatus(invocation.dir, plan), invocation.verbose));
    return 0;
  }

  const dryRun = invocation.executor === 'slurm' && invocation.slurm.dryRun;
  if (invocation.executor === 'slurm' && !dryRun && !invocation.planOnly) {
    // Every flag is checked before plan.json is written: a refused submission leaves nothing behind.
    const { validateSlurmOptions } = await import('../sweep/slurm.ts');
    const checked = loadPlan(invocation.dir, invocation.plan, false).plan;
    validateSlurmOptions({ sweepDir: invocation.dir, runs: checked.runs, threads: invocation.threads ?? 1, output: invocation.output, ...invocation.slurm });
  }
  const settled = loadPlan(invocation.dir, invocation.plan, !dryRun);
  const { plan } = settled;
  if (!dryRun) {
    say(planLine(invocation.dir, settled));
    for (const line of planDecayLines(plan)) say(line);
  }
  if (invocation.planOnly) return 0;

  const preset = plan.grid.preset;

  if (invocation.executor === 'slurm') {
    const { sbatchScript, submit, assertNoActiveJob, SlurmInputError } = await import('../sweep/slurm.ts');
    const { runStatus, writeExecutorRecord } = await import('../sweep/status.ts');
    const { inspectLock } = await import('../io/lock.ts');
    const { SWEEP_LOCK } = await import('../sweep/local.ts');
    const threads = invocation.threads ?? 1;
    // A dry run of a new sweep has no directory yet: every run counts as to do.
    const todo = plan.runs.filter((run) => {
      const s = runStatus(invocation.dir, run);
      return s.state === 'pending' || s.state === 'interrupted' || s.state === 'failed';
    });
    const slurm = { ...invocation.slurm, mem: invocation.slurm.mem ?? slurmMemFor(preset) };
    const script = sbatchScript({ sweepDir: invocation.dir, runs: todo, threads, output: invocation.output, ...slurm });
    if (dryRun) {
      process.stdout.write(script);
      return 0;
    }
    assertNoActiveJob(invocation.dir);
    const local = inspectLock(path.join(invocation.dir, SWEEP_LOCK));
    if (local.live) {
      throw new SlurmInputError(`a local executor (pid ${local.pid}) is running this sweep; stop it (Ctrl-C, runs checkpoint) before submitting it to Slurm.`);
    }
    const { jobId, scriptFile } = submit(invocation.dir, script);
    writeExecutorRecord(invocation.dir, {
      kind: 'slurm', jobId, tasks: todo.length, maxParallel: invocation.slurm.maxParallel ?? null, threads,
      submittedAt: new Date().toISOString(), script: scriptFile,
    });
    say(`submitted Slurm job array ${jobId}: ${todo.length} task(s), script ${scriptFile}`);
    say(`follow it with: npm run sweep -- --status ${shellQuote(invocation.dir)}`);
    return 0;
  }

  const split = chooseSplit({ preset, workers: invocation.workers, threads: invocation.threads });
  const warning = oversubscription(split, preset);
  if (warning) say(warning, process.stderr);
  else if (invocation.workers === undefined) say(split.note);

  const { LocalExecutor } = await import('../sweep/local.ts');
  // Tasks of a Slurm array of this sweep may be running its runs; running them here too would only collide.
  const { assertNoActiveJob } = await import('../sweep/slurm.ts');
  assertNoActiveJob(invocation.dir);
  const { SweepLiveView } = await import('../sweep/live_view.ts');
  const view = new SweepLiveView({
    sweepDir: invocation.dir, plan, tty: Boolean(process.stdout.isTTY), write: (text) => process.stdout.write(text),
    columns: () => process.stdout.columns,
  });
  const executor = new LocalExecutor({
    sweepDir: invocation.dir,
    plan,
    workers: split.workers,
    threads: split.threads,
    retryFailed: invocation.retryFailed,
    output: invocation.output,
    log: (line) => view.line(line),
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => executor.stop());
  view.start();
  const result = await executor.run().finally(() => view.stop());
  const final = sweepStatus(invocation.dir, plan);
  say(formatStatus(invocation.dir, plan, final));
  const { code, message } = sweepExitCode(result.stopped, final.counts);
  if (message) say(message, process.stderr);
  for (const line of nextSteps(invocation.dir, code)) say(line);
  return code;
}

/** A line for people: broken at words at a terminal's width (the terminal would cut words), as it is into a file. */
export function say(text: string, stream: Pick<NodeJS.WriteStream, 'isTTY' | 'columns' | 'write'> = process.stdout): void {
  stream.write(`${stream.isTTY ? wrapWords(text, stream.columns || 80) : text}\n`);
}

/** What to type next: how to resume a sweep that stopped or has runs left, or what to do with a finished one. */
export function nextSteps(dir: string, code: number): string[] {
  const d = shellQuote(dir);
  if (code === 0) {
    return [
      'next:',
      `  npm run table1 -- ${d}      # Table 1 beside the paper's`,
      `  npm run compare -- ${d}     # each arm against orig, seed by seed`,
      `  npm run report -- ${d}      # report.html with every figure`,
    ];
  }
  if (code === 130 || code === EXIT_UNFINISHED) return [`resume with: npm run sweep -- --out ${d}`];
  return [`see the failed runs' logs (npm run sweep -- --status ${d} --verbose), then resume with: npm run sweep -- --out ${d}`];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain(() => main(process.argv.slice(2)));
}
