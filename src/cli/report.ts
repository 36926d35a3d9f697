// `npm run report -- DIR [--out report.html]`: one self-contained HTML page with Table 1, aggregates and figures.
import { Command, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScoreSpec } from '../analysis/score.ts';
import { parsePositiveInteger, parseScoreOption } from './parse.ts';

export interface ReportCommand {
  dir: string;
  /** null = DIR/report.html */
  out: string | null;
  score: ScoreSpec;
  includeIncomplete: boolean;
  comparePaper: boolean;
  reps: number;
  seed: string;
}

export function buildReportProgram(): Command {
  return new Command('report')
    .description('Write one self-contained HTML report (Table 1, human-normalized scores, rliable aggregates, figures) for a sweep directory.')
    .argument('<dir>', 'sweep directory (with plan.json or runs/), or a directory of run directories')
    .addOption(new Option('--out <file>', 'HTML file to write (default: DIR/report.html)'))
    .addOption(new Option('--score <def>', 'score of a run: final, eval, last:K (see npm run table1 -- --help)').argParser(parseScoreOption).default({ kind: 'final' }, 'final'))
    .addOption(new Option('--include-incomplete', 'count unfinished runs at their last iteration, marked †'))
    .addOption(new Option('--no-compare-paper', 'leave out the published Table 1 values'))
    .addOption(new Option('--reps <n>', 'bootstrap replicates for the 95% intervals').argParser(parsePositiveInteger).default(2000))
    .addOption(new Option('--seed <text>', 'seed of the bootstrap').default('wd-dqn-aggregates'))
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false);
}

export function parseReportArgs(argv: string[], program = buildReportProgram()): ReportCommand {
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  return {
    dir: program.args[0],
    out: typeof o.out === 'string' ? o.out : null,
    score: o.score as ScoreSpec,
    includeIncomplete: o.includeIncomplete === true,
    comparePaper: o.comparePaper !== false,
    reps: o.reps as number,
    seed: o.seed as string,
  };
}

export async function runReport(cmd: ReportCommand): Promise<{ file: string; figuresDir: string; figures: number; skipped: number }> {
  const { buildReport } = await import('../analysis/report.ts');
  const { html, figures, sweep } = await buildReport(cmd.dir, {
    score: cmd.score,
    includeIncomplete: cmd.includeIncomplete,
    comparePaper: cmd.comparePaper,
    reps: cmd.reps,
    seed: cmd.seed,
  });
  let file: string;
  if (cmd.out !== null) file = path.resolve(cmd.out);
  else if (sweep.source === 'single-run') {
    throw new Error(`${sweep.root} is a run directory, which analysis never writes into: give --out <file.html>.`);
  } else file = path.join(sweep.root, 'report.html');
  if (!fs.existsSync(path.dirname(file))) throw new Error(`cannot write ${file}: the directory ${path.dirname(file)} does not exist.`);
  fs.writeFileSync(file, html);
  // The same figures as standalone SVG files (for a paper), replacing those of an earlier report.
  const figuresDir = path.join(path.dirname(file), 'figures');
  fs.rmSync(figuresDir, { recursive: true, force: true });
  fs.mkdirSync(figuresDir);
  for (const f of figures) fs.writeFileSync(path.join(figuresDir, `${f.id}.svg`), f.svg);
  return { file, figuresDir, figures: figures.length, skipped: sweep.skipped.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runReport(parseReportArgs(process.argv.slice(2)))
    .then(({ file, figuresDir, figures, skipped }) => {
      if (skipped > 0) console.error(`warning: ${skipped} run(s) skipped as unreadable; the report lists them at the end.`);
      console.log(`wrote ${file} and ${figures} figure(s) as SVG in ${figuresDir}`);
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? `error: ${error.message}` : error);
      process.exit(1);
    });
}
