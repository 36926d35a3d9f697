// `npm run baseline -- RUN_DIR...`: each run against Dopamine's published DQN training curves. Prints a table per
// run and writes <out>/<run>.txt, .svg (the run over the band) and .json. A run directory is never written into.
import { Command, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BaselineComparison } from '../analysis/baseline.ts';
import { makeDirectories, writeFileAtomic } from '../io/atomic.ts';
import { runMain } from './exit.ts';
import { withVersion } from './version.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_BASELINE_DIR = path.join(REPO_ROOT, 'results', 'baselines');

export interface BaselineCommand {
  runDirs: string[];
  out: string;
  agent: string | null;
}

export function buildBaselineProgram(): Command {
  return withVersion(new Command('baseline')
    .description(
      "Compare runs with Dopamine's published DQN training returns (5 seeds per game): per iteration the run's mean " +
        "training return, Dopamine's mean, min and max, and whether it is inside that band. The published agent is " +
        'picked to match the run: "DQN (Adam + MSE in JAX)" for Adam with --set agent.loss=mse, "DQN" (TF, centered ' +
        'RMSProp, Huber) for the dopamine-tf preset; otherwise it says why none matches.',
    )
    .argument('<run-dir...>', 'run directories (each with config.json and metrics.jsonl)')
    .addOption(new Option('--out <dir>', 'the directory <run>.txt, <run>.svg and <run>.json go into, created if missing').default(DEFAULT_BASELINE_DIR, 'results/baselines'))
    .addOption(new Option('--agent <name>', 'compare with this published agent even if the run is not like-for-like (the output says so)'))
    .showHelpAfterError('(run with --help for every option)'));
}

export function parseBaselineArgs(argv: string[], program = buildBaselineProgram()): BaselineCommand {
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  return { runDirs: program.args, out: path.resolve(o.out as string), agent: typeof o.agent === 'string' ? o.agent : null };
}

export interface BaselineResult {
  comparisons: BaselineComparison[];
  /** Run directories that could not be read, with the reason. */
  failed: Array<{ dir: string; reason: string }>;
  written: string[];
}

/** A file name per run: the run directory's name, made unique among the runs of one call. */
function outputNames(dirs: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return dirs.map((dir) => {
    const base = path.basename(path.resolve(dir)) || 'run';
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

export async function runBaseline(cmd: BaselineCommand, print: (text: string) => void = (t) => process.stdout.write(t)): Promise<BaselineResult> {
  const { baselineSpec, compareWithDopamine, loadDopamineCurves, renderComparisonText } = await import('../analysis/baseline.ts');
  const { loadRun } = await import('../analysis/sweep_results.ts');
  const { renderSvg } = await import('../analysis/figures.ts');
  const curves = loadDopamineCurves();
  if (cmd.agent !== null && !curves.has(cmd.agent)) {
    throw new Error(`--agent: no published agent "${cmd.agent}"; the curves have: ${[...curves.keys()].map((a) => JSON.stringify(a)).join(', ')}`);
  }
  const result: BaselineResult = { comparisons: [], failed: [], written: [] };
  const names = outputNames(cmd.runDirs);
  for (const [i, dirArg] of cmd.runDirs.entries()) {
    const dir = path.resolve(dirArg);
    let comparison: BaselineComparison;
    try {
      if (!fs.existsSync(dir)) throw new Error('does not exist');
      const run = loadRun(path.basename(dir), dir);
      comparison = compareWithDopamine(run, { curves, ...(cmd.agent !== null ? { forceAgent: cmd.agent } : {}) });
    } catch (err) {
      const reason = (err as Error).message;
      result.failed.push({ dir, reason });
      print(`${dir}\n  cannot compare: ${reason}\n`);
      continue;
    }
    const text = renderComparisonText(comparison);
    print(text);
    result.comparisons.push(comparison);
    makeDirectories(cmd.out, 'output directory');
    const stem = path.join(cmd.out, names[i]);
    writeFileAtomic(`${stem}.txt`, text);
    writeFileAtomic(`${stem}.json`, JSON.stringify(comparison, null, 2) + '\n');
    result.written.push(`${stem}.txt`, `${stem}.json`);
    if (comparison.agent !== null) {
      writeFileAtomic(`${stem}.svg`, await renderSvg(baselineSpec(comparison)));
      result.written.push(`${stem}.svg`);
    }
  }
  return result;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain(async () => {
    const { failed, written } = await runBaseline(parseBaselineArgs(process.argv.slice(2)));
    if (written.length > 0) console.error(`wrote ${written.length} file(s) in ${path.dirname(written[0])}`);
    return failed.length > 0 ? 1 : 0;
  });
}
