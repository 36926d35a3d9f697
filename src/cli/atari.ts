// `npm run atari -- --game Pong [...]`: trains one DQN run (default) or plays with a random agent. Parsing is
// exported (and unit-tested) apart from the work, which is loaded lazily so `--help` and input errors answer at
// once, and so thread settings are in the environment before TensorFlow loads.
import { Command, Option } from 'commander';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EnvProtocol } from '../../envs/ale_bridge.ts';
import { ALE_ROM_IDS, displayName } from '../../envs/games.ts';
import { SCHEMES } from '../optim/schemes.ts';
import { optimizerNames } from '../optim/types.ts';
import {
  ConfigError,
  MUTABLE_CONFIG_KEYS,
  PRESET_NAMES,
  PRESETS,
  presetDecayNote,
  resolveRunConfig,
  validateRunConfig,
  type RunChoices,
  type RunConfig,
} from '../run/presets.ts';
import { legacyRunName, runIdentityOf, runName } from '../run/run_name.ts';
import { parseChoice, parsePositiveInteger } from './parse.ts';
import { addRunOptions, CONFIG_OPTIONS_FIXED_ON_RESUME, givenOptions, longFlag, PROTOCOLS, runChoicesFrom, TRAIN_ONLY } from './run_options.ts';
import { DEFAULT_KEEP_CHECKPOINTS } from '../run/checkpoints.ts';
import { shellQuote } from '../format.ts';
import { REPO_ROOT } from '../paths.mjs';
import { runForecast } from '../run/forecast.ts';
import { runMemoryBytesFor } from '../sweep/resources.ts';
import { runMain } from './exit.ts';
import { withVersion } from './version.ts';
import { fixedConfigDifferences, RUN_FILES } from '../run/run_directory.ts';
import { CorruptFileError, readJsonFile } from '../io/atomic.ts';

export const AGENTS = ['dqn', 'random'] as const;
export const DEFAULT_RUNS_DIR = path.join(REPO_ROOT, 'results', 'runs');

export interface RandomCommand {
  kind: 'random';
  game: string;
  seed: number;
  episodes: number;
  protocol: EnvProtocol;
  protocolName: keyof typeof PROTOCOLS;
}

export interface TrainCommand {
  kind: 'train';
  config: RunConfig;
  outDir: string;
  /** Said before the run starts: why outDir is not the default name (a run named before names had a hash). */
  note: string | null;
  threads: number | null;
  /** false, true (RUN_DIR/events) or a logdir of its own. */
  tensorboard: boolean | string;
  saveReplay: boolean;
  /** Complete checkpoints to keep; null: the run's recorded value, else DEFAULT_KEEP_CHECKPOINTS. */
  keepCheckpoints: number | null;
  /** Show TensorFlow's native log lines (TF_CPP_MIN_LOG_LEVEL=0). */
  tfLog: boolean;
  /** --capture-video K: record an evaluation-style episode into videos/ every K iterations; null: off. */
  captureVideoEvery: number | null;
  logEverySeconds: number;
}

export type AtariInvocation = RandomCommand | TrainCommand | { kind: 'list-games' } | { kind: 'list-presets' };

export function buildAtariProgram(): Command {
  const program = new Command('atari')
    .description('Train a DQN on one Atari game through the Arcade Learning Environment (or play it with a random agent).');
  addRunOptions(program, 'Run:')
    .addOption(new Option('--agent <name>', `who plays: ${AGENTS.join(', ')}`).argParser(parseChoice(AGENTS, 'agent')).default('dqn'))
    .addOption(new Option('--episodes <n>', 'episodes to play (random agent only)').argParser(parsePositiveInteger).default(3));
  for (const group of ['Optimizer:', 'Budget:', 'Output:', 'Resources:'] as const) addRunOptions(program, group);
  program
    .optionsGroup('Information:')
    .addOption(new Option('--list-games', `list the ${ALE_ROM_IDS.length} games ale-py ships and exit`))
    .addOption(new Option('--list-presets', 'print every preset with its values (the keys --set takes) and exit'));
  withVersion(program);
  return program
    .addHelpText('after', [
      '',
      'Examples:',
      '  npm run atari -- --game Pong                                   # Dopamine DQN (Adam), 200 iterations',
      '  npm run atari -- --game Breakout --optimizer adamw --wd 1e-4 --preset reduced --seed 1',
      '  npm run atari -- --resume --out results/runs/breakout-adamw-wd1e-4-s1-48355c6c --iterations 20   # extend it',
      '',
      'Ctrl-C (or SIGTERM) finishes the current step, writes a checkpoint and exits; the same command resumes.',
      'Results: config.json, metrics.jsonl, summary.json, checkpoints/ in the run directory (docs/run-format.md).',
    ].join('\n'))
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false);
}

/** Parses argv (without the node and script entries); throws commander's errors when exitOverride is set. */
export function parseAtariArgs(argv: string[], program = buildAtariProgram()): AtariInvocation {
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  if (o.listGames) return { kind: 'list-games' };
  if (o.listPresets) return { kind: 'list-presets' };
  if (o.agent === 'random') {
    const misplaced = givenOptions(program, TRAIN_ONLY);
    if (misplaced.length) program.error(`error: ${misplaced.map(longFlag).join(', ')} only apply to --agent dqn`);
    if (!o.game) program.error('error: --game is required (e.g. --game Pong). List the games with --list-games.');
    const protocolName = (o.protocol ?? 'dopamine') as keyof typeof PROTOCOLS;
    return { kind: 'random', game: o.game, seed: o.seed, episodes: o.episodes, protocolName, protocol: PROTOCOLS[protocolName] };
  }
  if (program.getOptionValueSource('episodes') === 'cli') program.error('error: --episodes applies to --agent random only (DQN runs are measured in steps: --iterations, --training-steps)');

  let config: RunConfig;
  let outDir: string | undefined = o.out;
  let note: string | null = null;
  if (o.resume && !outDir) program.error('error: --resume needs --out <run directory>');
  try {
    if (o.resume && !o.game) {
      config = readStoredConfig(outDir!, o, program);
    } else {
      if (!o.game) program.error('error: --game is required (e.g. --game Pong). List the games with --list-games.');
      const choices = runChoicesFrom(o);
      config = resolveRunConfig(choices);
      if (!outDir) ({ dir: outDir, note } = defaultRunDirectory(choices, config));
    }
  } catch (error) {
    if (error instanceof ConfigError) program.error(`error: ${error.message}`);
    throw error;
  }
  return {
    kind: 'train', config, outDir: path.resolve(outDir!), note, threads: o.threads ?? null,
    tensorboard: typeof o.tensorboard === 'string' ? path.resolve(o.tensorboard) : Boolean(o.tensorboard), saveReplay: Boolean(o.saveReplay), keepCheckpoints: o.keepCheckpoints ?? null,
    tfLog: o.tfLog === true, captureVideoEvery: o.captureVideo ?? null, logEverySeconds: o.logEvery,
  };
}

/**
 * Where a run goes without --out: results/runs/<run name> (run_name.ts, the name a sweep would give it). A run
 * started before names had a hash resumes in its old directory, if that holds this very config (a raised
 * --iterations included, which extends it); `note` then says so.
 */
export function defaultRunDirectory(choices: RunChoices, config: RunConfig, runsDir = DEFAULT_RUNS_DIR): { dir: string; note: string | null } {
  const dir = path.join(runsDir, runName(runIdentityOf(choices)));
  const legacy = path.join(runsDir, legacyRunName(config));
  if (fs.existsSync(dir) || !fs.existsSync(path.join(legacy, RUN_FILES.config))) return { dir, note: null };
  let stored: unknown;
  try {
    stored = readJsonFile<{ config?: unknown } | null>(path.join(legacy, RUN_FILES.config), 'run config')?.config;
  } catch (error) {
    if (error instanceof CorruptFileError) return { dir, note: null }; // not a run we can read: never adopted
    throw error;
  }
  if (fixedConfigDifferences(stored, config, MUTABLE_CONFIG_KEYS).length > 0) return { dir, note: null };
  return { dir: legacy, note: `${legacy} holds this run under its name from before run names had a settings hash; it continues there` };
}

/** `--resume --out DIR` alone: the run's own config; only --iterations may change it (to extend the run). */
function readStoredConfig(dir: string, o: Record<string, any>, program: Command): RunConfig {
  const file = path.join(dir, RUN_FILES.config);
  if (!fs.existsSync(file)) program.error(`error: nothing to resume: ${file} does not exist (give --game etc. to start a new run there)`);
  let stored: { config?: RunConfig };
  try {
    stored = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    program.error(`error: ${file} is not valid JSON (${(error as Error).message}); the run directory is damaged`);
  }
  if (!stored!.config || typeof stored!.config !== 'object') program.error(`error: ${file} holds no run config`);
  const ignored = givenOptions(program, CONFIG_OPTIONS_FIXED_ON_RESUME);
  if (ignored.length) program.error(`error: with --resume and no --game the stored config is used; drop ${ignored.map(longFlag).join(', ')} or give the full command`);
  const config = { ...stored!.config!, ...(o.iterations !== undefined ? { iterations: o.iterations } : {}) };
  // A hand-edited config.json is checked like flags are, before anything is written (ConfigError → usage error).
  validateRunConfig(config);
  return config;
}

/** A preset value as a person reads it (and --set takes it): 6.25e-5, not 0.0000625. */
function showValue(value: unknown): string {
  if (typeof value === 'number' && value !== 0 && Math.abs(value) < 1e-3) return value.toExponential();
  return String(value);
}

/** [dotted key, value] of every leaf of `object`, in the object's order. */
function leaves(object: object, prefix = ''): Array<[string, string]> {
  return Object.entries(object).flatMap(([k, v]): Array<[string, string]> =>
    v && typeof v === 'object' ? leaves(v, `${prefix}${k}.`) : [[`${prefix}${k}`, showValue(v)]]);
}

function wrap(text: string, indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/**
 * `--list-presets`: one block per preset, its description, then every value as an aligned `key: value` line under
 * the key `--set` takes (agent.gamma, agent.optimizer.learningRate, ...).
 */
export function describePresets(): string {
  return PRESET_NAMES.map((name) => {
    const p = PRESETS[name];
    const decay = presetDecayNote(name);
    const families = Object.entries(p.optimizerFamilies).map(([family, options]) => ({
      heading: `${family} family (${optimizerNames.filter((s) => SCHEMES[s].family === family).join(', ')}):`,
      rows: leaves(options as object, 'agent.optimizer.'),
    }));
    const rows: Array<[string, string]> = [['optimizer', `${p.defaultOptimizer} (default scheme)`], ...leaves(p.values)];
    const width = Math.max(...[...rows, ...families.flatMap((f) => f.rows)].map(([k]) => k.length)) + 2;
    const row = ([k, v]: [string, string]) => `    ${`${k}:`.padEnd(width)}${v}`;
    return [
      `${name}${name === 'dopamine' ? ' (default)' : ''}`,
      ...wrap(p.description, '  '),
      ...(decay ? wrap(decay, '  ') : []),
      '  values (--set key=value changes any key below but the optimizer, which is --optimizer):',
      ...rows.map(row),
      ...families.flatMap((f) => [`  ${f.heading}`, ...f.rows.map(row)]),
    ].join('\n');
  }).join('\n\n');
}

/**
 * The memory a run of `config` needs (its replay memory dominates), as the line a run starts with, so that a run the
 * kernel kills for memory has said in its log what it needed. A run that cannot fit in this machine's RAM at all is
 * refused here, before anything is written, instead of dying hours later when its replay memory has filled up.
 */
export function memoryNeed(config: RunConfig, totalMemoryBytes = os.totalmem()): string {
  const need = runMemoryBytesFor(config.agent.replayCapacityTransitions);
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  const what = `~${gib(need)} (its replay memory of ${config.agent.replayCapacityTransitions.toLocaleString('en-US')} transitions, plus ~1 GB)`;
  if (need > totalMemoryBytes) {
    throw new Error(`this run needs ${what}, more than this machine's ${gib(totalMemoryBytes)} of memory: ` +
      `lower agent.replayCapacityTransitions, or use --preset reduced (${PRESETS.reduced.values.agent.replayCapacityTransitions.toLocaleString('en-US')} transitions)`);
  }
  return `memory: this run needs ${what}; this machine has ${gib(totalMemoryBytes)}`;
}

/** Free bytes on the filesystem `dir` will be on (its nearest existing ancestor), or null if that cannot be told. */
function freeDiskBytes(dir: string): number | null {
  let at = path.resolve(dir);
  while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  try {
    const s = fs.statfsSync(at);
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

/** Exit codes: 0 completed / interrupted with a checkpoint / already completed; 1 error; 3 diverged. */
async function train(command: TrainCommand): Promise<number> {
  const memory = memoryNeed(command.config); // first: a refusal writes nothing and loads nothing
  if (command.threads !== null) {
    // Read by TensorFlow (and oneDNN's OpenMP) when the native library loads, which happens in the imports below.
    const n = String(command.threads);
    process.env.TF_NUM_INTRAOP_THREADS = n;
    process.env.TF_NUM_INTEROP_THREADS = n;
    process.env.OMP_NUM_THREADS = n;
  }
  if (command.tfLog) process.env.TF_CPP_MIN_LOG_LEVEL = '0'; // read when the native library loads (src/tf_env.ts)
  const { ProgressReporter } = await import('../run/progress.ts');
  const { trainRun } = await import('../run/trainer.ts');
  const progress = new ProgressReporter({
    tty: Boolean(process.stdout.isTTY), write: (text) => process.stdout.write(text), plainEverySeconds: command.logEverySeconds,
    columns: () => process.stdout.columns,
  });
  const stop = { requested: null as string | null };
  let firstSignalAt = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    // Ctrl-C reaches every process of the terminal's group, and npm forwards it as well: a second copy within a
    // moment is the same request, not the user insisting.
    if (stop.requested && performance.now() - firstSignalAt < 2000) return;
    if (stop.requested) {
      console.error(`\n${signal} again: exiting without a checkpoint (the previous one stays valid)`);
      process.exit(130);
    }
    stop.requested = signal;
    firstSignalAt = performance.now();
    progress.line(`${signal}: finishing the current step, then writing a checkpoint (send it again to quit at once)`);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGUSR1'] as const) process.on(signal, onSignal);
  if (command.note) progress.line(command.note);
  progress.line(memory);
  const forecast = runForecast(command.config, {
    keepCheckpoints: command.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS, saveReplay: command.saveReplay, freeDiskBytes: freeDiskBytes(command.outDir),
  });
  for (const line of forecast.lines) progress.line(line);
  for (const warning of forecast.warnings) progress.line(`warning: ${warning}`);
  const result = await trainRun({
    config: command.config, outDir: command.outDir, stop, progress,
    threads: command.threads, tensorboard: command.tensorboard, saveReplay: command.saveReplay,
    ...(command.keepCheckpoints !== null ? { keepCheckpoints: command.keepCheckpoints } : {}),
    captureVideoEvery: command.captureVideoEvery,
  });
  if (result.status === 'already-completed') {
    const s = result.summary;
    progress.line(`${result.runDir} already holds this run, completed (${s.iterations_completed} iterations, final train return ` +
      `${s.final_train_return_mean ?? '-'}). Nothing to do; to extend it: npm run atari -- --resume --out ${shellQuote(result.runDir)} --iterations N.` +
      (command.tensorboard ? ' No TensorBoard event files were written: a run logs them while it trains.' : ''));
  }
  if (result.status === 'completed') {
    const d = shellQuote(result.runDir);
    progress.line(`next: npm run baseline -- ${d} (against Dopamine's published curves); npm run play -- ${d} (watch it)`);
  }
  return result.status === 'diverged' ? 3 : 0;
}

async function main(): Promise<number> {
  const invocation = parseAtariArgs(process.argv.slice(2));
  switch (invocation.kind) {
    case 'list-games':
      console.log(ALE_ROM_IDS.map((id) => `${displayName(id)} (${id})`).join('\n'));
      return 0;
    case 'list-presets':
      console.log(describePresets());
      return 0;
    case 'random': {
      const { runRandomAgent } = await import('./random_agent.ts');
      await runRandomAgent({ ...invocation, log: (line) => console.log(line) });
      return 0;
    }
    case 'train':
      return train(invocation);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain(main);
}
