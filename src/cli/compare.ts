// `npm run compare -- DIR... [--reference adam|SCHEME@λ] [--score final]`: the arms of a small study (one directory,
// or several analysed as one) against its reference arm, seed by seed, with Welch's interval and the exact
// permutation p (src/analysis/compare.ts). Prints Markdown.
// Parsing is exported (and unit-tested) apart from the work.
import { Command, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { buildComparison, CompareInputError, mechanismRows, ORIG_REFERENCE, renderComparisonMarkdown, renderMechanismMarkdown, type ReferenceArm } from '../analysis/compare.ts';
import type { ScoreSpec } from '../analysis/score.ts';
import { loadSweeps } from '../analysis/sweep_results.ts';
import { optimizerNames } from '../optim/types.ts';
import { runMain } from './exit.ts';
import { parseChoice, parseScoreOption, parseWeightDecay } from './parse.ts';
import { withVersion } from './version.ts';

export interface CompareCommand {
  /** The directories given: sweeps, directories of runs or run directories, analysed as one. */
  dirs: string[];
  score: ScoreSpec;
  reference: ReferenceArm;
}

const parseScheme = parseChoice(optimizerNames, 'optimizer scheme');

/**
 * `--reference`: a scheme alone is that scheme at λ 0 (orig is `adam`); `SCHEME@λ` is any other arm, e.g.
 * `adam-l2@1e-3` to ask whether separated differs from Adam+L2 rather than from orig.
 */
export function parseReferenceArm(value: string): ReferenceArm {
  const at = value.indexOf('@');
  if (at < 0) return { optimizer: parseScheme(value), weightDecay: 0 };
  return { optimizer: parseScheme(value.slice(0, at)), weightDecay: parseWeightDecay(value.slice(at + 1)) };
}

export function buildCompareProgram(): Command {
  return withVersion(new Command('compare')
    .description('Compare every arm (game × scheme × λ) of a sweep with its reference arm, seed by seed: mean ± sd, Welch\'s 95 % interval of the difference, exact permutation p. Markdown on stdout.')
    .argument('<dir...>', 'sweep directories (with plan.json or runs/), directories of run directories, or run directories; several are analysed as one (one budget)')
    .addOption(new Option('--score <def>', 'score of a run: final (mean training return of the final iteration), eval, last:K').argParser(parseScoreOption).default({ kind: 'final' }, 'final'))
    .addOption(new Option('--reference <arm>', 'the reference arm: a scheme at λ 0, or SCHEME@λ (e.g. adam-l2@1e-3)').argParser(parseReferenceArm).default(ORIG_REFERENCE, 'adam'))
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false));
}

export function parseCompareArgs(argv: string[], program = buildCompareProgram()): CompareCommand {
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  return { dirs: [...program.args], score: o.score as ScoreSpec, reference: o.reference as ReferenceArm };
}

/** The score table, then the mechanism table when the runs logged the ε-dominance diagnostics. */
export function runCompare(cmd: CompareCommand): string {
  const sweep = loadSweeps(cmd.dirs);
  const scores = renderComparisonMarkdown(buildComparison(sweep, { score: cmd.score, reference: cmd.reference }));
  const mechanism = renderMechanismMarkdown(mechanismRows(sweep));
  return mechanism === '' ? scores : `${scores}\n${mechanism}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain(async () => {
    try {
      process.stdout.write(runCompare(parseCompareArgs(process.argv.slice(2))));
    } catch (error) {
      if (!(error instanceof CompareInputError)) throw error;
      console.error(`error: ${error.message}`);
      return 2;
    }
    return 0;
  });
}
