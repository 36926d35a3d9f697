// `npm run table1 -- DIR... [...]`: Table 1 from sweep directories (one, or several analysed as one: a study that
// grew across directories). Prints Markdown, writes PREFIX.csv and PREFIX.tex (--out-prefix PREFIX; default
// DIR/table1 for one directory; several need --out-prefix).
// Parsing is exported (and unit-tested) apart from the work.
import { Command, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPaperTable } from '../analysis/reference.ts';
import type { ScoreSpec } from '../analysis/score.ts';
import { collectScoreOption, scoresOrDefault } from './parse.ts';
import { describeSkipped, loadSweeps, type SweepResults } from '../analysis/sweep_results.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { buildTable1, renderCsv, renderLatex, renderMarkdown } from '../analysis/table1.ts';
import { runMain } from './exit.ts';
import { withVersion } from './version.ts';
import { RUN_FILES } from '../run/run_directory.ts';

export interface Table1Command {
  /** The directories given: sweeps, directories of runs or run directories, analysed as one. */
  dirs: string[];
  /** The main score (aggregates, figures) ... */
  score: ScoreSpec;
  /** ... and further ones shown beside it, one line each (`--score final --score last:5`). */
  extraScores: ScoreSpec[];
  comparePaper: boolean;
  includeIncomplete: boolean;
  /** Output path without extension (an existing directory: <it>/table1); null = DIR/table1. */
  out: string | null;
}

export function buildTable1Program(): Command {
  return withVersion(new Command('table1')
    .description('Regenerate Table 1 (Bjorck et al., AAAI 2021) from a sweep directory: Markdown on stdout, CSV and LaTeX files.')
    .argument('<dir...>', 'sweep directories (with plan.json or runs/), directories of run directories, or run directories; several are analysed as one (one budget per table)')
    .addOption(new Option('--score <def>', 'score of a run: final (mean training return of the final iteration), eval (evaluation return of the final iteration), last:K (mean over the last K iterations); repeat it to show several side by side, the first being the main one (default: final)').argParser(collectScoreOption))
    .addOption(new Option('--compare-paper', 'put the published Table 1 value beside each cell (the default, as in npm run report)'))
    .addOption(new Option('--no-compare-paper', 'leave out the published Table 1 values'))
    .addOption(new Option('--include-incomplete', 'count unfinished runs (running/interrupted) at their last iteration, marked †'))
    .addOption(new Option('--out-prefix <path>', 'write <path>.csv and <path>.tex, e.g. results/t1 → results/t1.csv; an existing directory gets <path>/table1.csv (default: DIR/table1; needed with several DIRs)'))
    // The flag's old name: kept so existing commands work; hidden because "--out" reads as a directory or a file.
    .addOption(new Option('--out <path>', 'same as --out-prefix').hideHelp())
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false));
}

export function parseTable1Args(argv: string[], program = buildTable1Program()): Table1Command {
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  if (o.out !== undefined && o.outPrefix !== undefined) program.error('error: give --out-prefix only (--out is its old name)');
  return {
    dirs: [...program.args],
    score: scoresOrDefault(o.score)[0],
    extraScores: scoresOrDefault(o.score).slice(1),
    comparePaper: o.comparePaper !== false,
    includeIncomplete: o.includeIncomplete === true,
    out: typeof o.outPrefix === 'string' ? o.outPrefix : typeof o.out === 'string' ? o.out : null,
  };
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/** Where the CSV/LaTeX go; a run directory is never written into. */
export function outputPrefix(cmd: Pick<Table1Command, 'out'>, sweep: SweepResults): string {
  if (cmd.out !== null) {
    const out = path.resolve(cmd.out);
    if (!isDirectory(out)) return out;
    if (fs.existsSync(path.join(out, RUN_FILES.config))) throw new Error(`${out} is a run directory, which analysis never writes into: give another --out-prefix.`);
    return path.join(out, 'table1');
  }
  if (sweep.source === 'several') {
    throw new Error(`several directories given (${sweep.roots.join(', ')}): give --out-prefix <path> for the CSV and LaTeX files.`);
  }
  if (sweep.source === 'single-run') {
    throw new Error(`${sweep.root} is a run directory, which analysis never writes into: give --out-prefix <path> for the CSV and LaTeX files.`);
  }
  return path.join(sweep.root, 'table1');
}

export interface Table1Output {
  markdown: string;
  files: string[];
  /** What the runs left out are ("1 unreadable, 2 of another budget"), or '' when none is. */
  skipped: string;
}

export function runTable1(cmd: Table1Command): Table1Output {
  const sweep = loadSweeps(cmd.dirs);
  const prefix = outputPrefix(cmd, sweep);
  const table = buildTable1(sweep, {
    score: cmd.score,
    extraScores: cmd.extraScores,
    paper: loadPaperTable(),
    comparePaper: cmd.comparePaper,
    includeIncomplete: cmd.includeIncomplete,
  });
  const parent = path.dirname(prefix);
  if (!fs.existsSync(parent)) throw new Error(`cannot write ${prefix}.csv: the directory ${parent} does not exist.`);
  const files = [`${prefix}.csv`, `${prefix}.tex`];
  // Temp file + rename: a symlink planted at the output path is replaced, never written through.
  writeFileAtomic(files[0], renderCsv(table));
  writeFileAtomic(files[1], renderLatex(table));
  return { markdown: renderMarkdown(table), files, skipped: describeSkipped(sweep.skipped) };
}

function main(): void {
  const cmd = parseTable1Args(process.argv.slice(2));
  const out = runTable1(cmd);
  process.stdout.write(out.markdown);
  if (out.skipped !== '') console.error(`warning: runs left out (${out.skipped}); the notes under the table say why.`);
  console.error(`wrote ${out.files.join(', ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain(async () => {
    main();
    return 0;
  });
}
