// `npm run report -- DIR... [--out report.html]`: one self-contained HTML page with Table 1, aggregates and figures,
// from one sweep directory or several analysed as one (a study that grew across directories: --out is then needed).
import { Command, InvalidArgumentError, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toCsv } from '../analysis/csv.ts';
import type { ReportFigure } from '../analysis/report.ts';
import type { ScoreSpec } from '../analysis/score.ts';
import { describeSkipped, loadSweeps } from '../analysis/sweep_results.ts';
import { describeFsError, writeFileAtomic } from '../io/atomic.ts';
import { collectScoreOption, scoresOrDefault } from './parse.ts';
import { runMain } from './exit.ts';
import { deprecationNotice, withVersion } from './version.ts';
import { RUN_FILES } from '../run/run_directory.ts';

export interface ReportCommand {
  /** The directories given: sweeps, directories of runs or run directories, analysed as one. */
  dirs: string[];
  /** null = DIR/report.html; an existing directory: <it>/report.html */
  out: string | null;
  score: ScoreSpec;
  /** Further scores shown beside the main one in Table 1. */
  extraScores: ScoreSpec[];
  includeIncomplete: boolean;
  comparePaper: boolean;
  reps: number;
  /** Seed of the bootstrap (--bootstrap-seed), not of any run. */
  seed: string;
}

/**
 * The most bootstrap replicates --reps takes: far more than two-decimal 95% intervals need, while the bootstrap's time
 * and memory grow with the count (a mistyped 1e9 would run for hours).
 */
export const MAX_REPS = 100_000;

function parseReps(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_REPS)) throw new InvalidArgumentError(`Expected a whole number from 1 to ${MAX_REPS}, got "${value}".`);
  return n;
}

/** The bootstrap's seed unless --bootstrap-seed says otherwise (the report prints the one used). */
export const DEFAULT_BOOTSTRAP_SEED = 'wd-dqn-aggregates';

export function buildReportProgram(): Command {
  return withVersion(new Command('report')
    .description('Write one self-contained HTML report (Table 1, human-normalized scores, rliable aggregates, figures) for a sweep directory.')
    .argument('<dir...>', 'sweep directories (with plan.json or runs/), directories of run directories, or run directories; several are analysed as one (one budget per table)')
    .addOption(new Option('--out <file>', 'the HTML file to write, e.g. results/r.html; its figures go to figures/ beside it; an existing directory gets <dir>/report.html (default: DIR/report.html; needed with several DIRs)'))
    .addOption(new Option('--score <def>', 'score of a run: final, eval, last:K; repeat it for several side by side in Table 1, the first being the main one (default: final; see npm run table1 -- --help)').argParser(collectScoreOption))
    .addOption(new Option('--include-incomplete', 'count unfinished runs at their last iteration, marked †'))
    .addOption(new Option('--compare-paper', 'put the published Table 1 value beside each cell (the default, as in npm run table1)'))
    .addOption(new Option('--no-compare-paper', 'leave out the published Table 1 values'))
    .addOption(new Option('--reps <n>', `bootstrap replicates for the 95% intervals (1 to ${MAX_REPS})`).argParser(parseReps).default(2000))
    .addOption(new Option('--bootstrap-seed <text>', 'seed of the bootstrap resampling (any text; not a run seed)').default(DEFAULT_BOOTSTRAP_SEED))
    // Its old name, which atari and sweep use for a run's seed: still read, with a notice.
    .addOption(new Option('--seed <text>', 'deprecated: --bootstrap-seed').hideHelp())
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false));
}

export function parseReportArgs(argv: string[], program = buildReportProgram()): ReportCommand {
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  let seed = o.bootstrapSeed as string;
  if (o.seed !== undefined) {
    if (program.getOptionValueSource('bootstrapSeed') === 'cli') program.error('error: give --bootstrap-seed only (--seed is its deprecated name)');
    deprecationNotice(program, '--seed', '--bootstrap-seed', 'in atari and sweep --seed is a run seed');
    seed = o.seed as string;
  }
  return {
    dirs: [...program.args],
    out: typeof o.out === 'string' ? o.out : null,
    score: scoresOrDefault(o.score)[0],
    extraScores: scoresOrDefault(o.score).slice(1),
    includeIncomplete: o.includeIncomplete === true,
    comparePaper: o.comparePaper !== false,
    reps: o.reps as number,
    seed,
  };
}

/** The report's directory must exist and be writable: else one line naming the report file, not a temp file. */
function assertWritableDirectory(file: string): void {
  const dir = path.dirname(file);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`cannot write ${file}: the directory ${dir} does not exist.`);
    throw new Error(`cannot write ${file}: ${describeFsError(error)}.`);
  }
  if (!stat.isDirectory()) throw new Error(`cannot write ${file}: ${dir} is not a directory.`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (error) {
    throw new Error(`cannot write ${file}: ${describeFsError(error)}.`);
  }
}

/** Runs a write of the report, turning its failure into one line naming `what` the user asked for. */
function writing(what: string, write: () => void): void {
  try {
    write();
  } catch (error) {
    throw new Error(`cannot write ${what}: ${describeFsError(error)}.`);
  }
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/** Lists the files a report wrote into its figures directory, so the next report replaces only those. */
export const FIGURES_MANIFEST = '.report-figures.json';

/**
 * Every figure as <id>.svg, its Vega-Lite spec with the data inline (<id>.vl.json, to restyle it) and the plotted
 * data (<id>.csv). Files an earlier report wrote and this one did not are removed; nothing else in the directory
 * (a user's own files) is touched.
 */
export function writeFigureFiles(dir: string, figures: readonly ReportFigure[]): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const manifest = path.join(dir, FIGURES_MANIFEST);
  let previous: string[] = [];
  try {
    const listed = JSON.parse(fs.readFileSync(manifest, 'utf8')).files;
    if (Array.isArray(listed)) previous = listed.filter((f): f is string => typeof f === 'string' && path.basename(f) === f);
  } catch {
    // no manifest (first report here, or one from before manifests): remove nothing
  }
  const written: string[] = [];
  for (const f of figures) {
    const files: Array<[string, string]> = [
      [`${f.id}.svg`, f.svg],
      [`${f.id}.vl.json`, JSON.stringify(f.spec, null, 1) + '\n'],
      [`${f.id}.csv`, toCsv(f.rows)],
    ];
    for (const [name, text] of files) {
      writeFileAtomic(path.join(dir, name), text);
      written.push(name);
    }
  }
  for (const old of previous) if (!written.includes(old)) fs.rmSync(path.join(dir, old), { force: true });
  writeFileAtomic(manifest, JSON.stringify({ files: written }, null, 1) + '\n');
  return written;
}

export async function runReport(cmd: ReportCommand): Promise<{ file: string; figuresDir: string; figures: number; skipped: string }> {
  // An explicit --out is checked before the (slow) report is built.
  let given: string | null = null;
  if (cmd.out !== null) {
    given = path.resolve(cmd.out);
    if (isDirectory(given)) {
      if (fs.existsSync(path.join(given, RUN_FILES.config))) throw new Error(`${given} is a run directory, which analysis never writes into: give another --out.`);
      given = path.join(given, 'report.html');
    }
    assertWritableDirectory(given);
  }
  const sweep = loadSweeps(cmd.dirs);
  if (given === null && sweep.source === 'several') {
    throw new Error(`several directories given (${sweep.roots.join(', ')}): give --out <file.html> for the report.`);
  }
  const { buildReportHtml } = await import('../analysis/report.ts');
  const { html, figures } = await buildReportHtml(sweep, {
    label: cmd.dirs.join(', '),
    score: cmd.score,
    extraScores: cmd.extraScores,
    includeIncomplete: cmd.includeIncomplete,
    comparePaper: cmd.comparePaper,
    reps: cmd.reps,
    seed: cmd.seed,
  });
  let file: string;
  if (given !== null) file = given;
  else if (sweep.source === 'single-run') {
    throw new Error(`${sweep.root} is a run directory, which analysis never writes into: give --out <file.html>.`);
  } else file = path.join(sweep.root, 'report.html');
  assertWritableDirectory(file);
  writing(file, () => writeFileAtomic(file, html));
  const figuresDir = path.join(path.dirname(file), 'figures');
  writing(`the figures into ${figuresDir}`, () => writeFigureFiles(figuresDir, figures));
  return { file, figuresDir, figures: figures.length, skipped: describeSkipped(sweep.skipped) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain(async () => {
    const { file, figuresDir, figures, skipped } = await runReport(parseReportArgs(process.argv.slice(2)));
    if (skipped !== '') console.error(`warning: runs left out (${skipped}); the report says why at the end.`);
    console.log(`wrote ${file} and ${figures} figure(s) as SVG in ${figuresDir}`);
    return 0;
  });
}
