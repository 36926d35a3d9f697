// Every option of a run, declared once, as data: its flag, help and parser; the run choice it fills (RunChoices,
// which resolveRunConfig turns into the run's config) or none, when it changes how a run is stored or shown and not
// what it computes; whether it means anything to the random agent; and how a sweep takes it, if it does. `npm run
// atari` builds its options, its choices and its --resume check from this table; `npm run sweep` builds the options
// it shares with a run from it (in list form for the axes it crosses), so a flag is spelled and checked in one place.
import { Command, InvalidArgumentError, Option } from 'commander';
import { DOPAMINE_PROTOCOL, NATURE_PROTOCOL } from '../../envs/ale_bridge.ts';
import { optimizerNames } from '../optim/types.ts';
import { DEFAULT_KEEP_CHECKPOINTS } from '../run/checkpoints.ts';
import { MUTABLE_CONFIG_KEYS, PRESET_NAMES, type RunChoices } from '../run/presets.ts';
import { parseChoice, parseGameName, parseList, parseNonNegativeInteger, parsePositiveInteger, parsePositiveNumber, parseSet, parseWeightDecay } from './parse.ts';

export const PROTOCOLS = { dopamine: DOPAMINE_PROTOCOL, nature: NATURE_PROTOCOL } as const;

/** How a sweep takes a run option: under which of its groups, with its own flag and help where they differ. */
interface SweepForm {
  group: string;
  /** A sweep crosses this axis: `--games <list>` etc., a comma-separated list of the run flag's values. */
  list?: { flags: string; what: string; example: string };
  help?: string;
}

export interface RunOption {
  /** commander's attribute name: `trainingSteps` for --training-steps, `saveReplay` for --no-save-replay. */
  key: string;
  flags: string;
  help: string;
  /** commander's argParser; a repeatable option's also gets the list so far. */
  parse?: (value: string, previous?: never) => unknown;
  default?: unknown;
  /** `npm run atari -- --help`'s group. */
  group: 'Run:' | 'Optimizer:' | 'Budget:' | 'Output:' | 'Resources:';
  /** The RunChoices field it fills, or null: not part of the run's config (nor of its name). */
  choice: keyof RunChoices | null;
  /** Means nothing to `--agent random`, which refuses it. */
  trainOnly: boolean;
  sweep?: SweepForm;
}

const budgetDefault = (what: string) => `(default: the preset's${what})`;

export const RUN_OPTIONS: readonly RunOption[] = [
  {
    key: 'game', flags: '-g, --game <name>', help: 'Atari game, any spelling: Pong, pong, SpaceInvaders, space_invaders', parse: parseGameName,
    group: 'Run:', choice: 'game', trainOnly: false,
    sweep: { group: 'Grid:', list: { flags: '--games <list>', what: 'game', example: 'Pong,Breakout' }, help: 'games, comma-separated, any spelling (Pong,Breakout,SpaceInvaders)' },
  },
  {
    key: 'optimizer', flags: '--optimizer <scheme>', help: `weight-decay scheme (default: the preset's, adam or rmsprop): ${optimizerNames.join(', ')}`,
    parse: parseChoice(optimizerNames, 'optimizer scheme'), group: 'Optimizer:', choice: 'optimizer', trainOnly: true,
    sweep: { group: 'Grid:', list: { flags: '--optimizers <list>', what: 'optimizer', example: 'adam,adamw' }, help: `weight-decay schemes, comma-separated: ${optimizerNames.join(', ')}` },
  },
  {
    key: 'wd', flags: '--wd <λ>', help: 'weight decay λ >= 0 (must be 0 for adam, sgd, rmsprop)', parse: parseWeightDecay,
    group: 'Optimizer:', choice: 'weightDecay', trainOnly: true,
    sweep: { group: 'Grid:', list: { flags: '--wd <list>', what: 'λ', example: '1e-3,1e-4,1e-5' }, help: 'λ values, comma-separated (1e-3,1e-4,1e-5); adam, sgd and rmsprop run once at λ 0 whatever this says' },
  },
  {
    key: 'seed', flags: '-s, --seed <n>', help: 'seed of the run: network init, ε-greedy, replay sampling, emulator', parse: parseNonNegativeInteger, default: 0,
    group: 'Run:', choice: 'seed', trainOnly: false,
    sweep: { group: 'Grid:', list: { flags: '--seeds <list>', what: 'seed', example: '0,1,2' }, help: 'seeds, comma-separated (default 0; --paper-grid: 0,1,2)' },
  },
  {
    key: 'preset', flags: '--preset <name>', help: `hyperparameter preset: ${PRESET_NAMES.join(', ')} (see npm run atari -- --list-presets)`,
    parse: parseChoice(PRESET_NAMES, 'preset'), default: 'dopamine', group: 'Run:', choice: 'preset', trainOnly: false,
    sweep: { group: 'Grid:' },
  },
  {
    key: 'protocol', flags: '--protocol <name>',
    help: 'emulator protocol: dopamine (sticky actions p=0.25, no noop starts, life loss not terminal) or nature (noop starts up to 30, life loss terminal, no sticky actions)',
    parse: parseChoice(Object.keys(PROTOCOLS) as (keyof typeof PROTOCOLS)[], 'protocol'), group: 'Run:', choice: 'protocol', trainOnly: false,
  },
  {
    key: 'resume', flags: '--resume', help: 'continue the run in --out (its config is read from config.json; other flags may be left out)',
    group: 'Run:', choice: null, trainOnly: true,
  },
  {
    key: 'schedule', flags: '--schedule <s>', help: 'λ schedule: constant, early:T, late:T, every:K (T, K in optimizer steps)',
    group: 'Optimizer:', choice: 'weightDecaySchedule', trainOnly: true,
  },
  {
    key: 'lr', flags: '--lr <α>', help: "learning rate (default: the preset's)", parse: parsePositiveNumber,
    group: 'Optimizer:', choice: 'learningRate', trainOnly: true,
  },
  {
    key: 'iterations', flags: '--iterations <n>', help: `iterations ${budgetDefault('; Dopamine: 200')}`, parse: parsePositiveInteger,
    group: 'Budget:', choice: 'iterations', trainOnly: true, sweep: { group: 'Budget (per run):' },
  },
  {
    key: 'trainingSteps', flags: '--training-steps <n>', help: `agent steps per training phase ${budgetDefault('; Dopamine: 250,000')}`, parse: parsePositiveInteger,
    group: 'Budget:', choice: 'trainingSteps', trainOnly: true, sweep: { group: 'Budget (per run):' },
  },
  {
    key: 'evalSteps', flags: '--eval-steps <n>', help: `agent steps per evaluation phase, 0 = none ${budgetDefault('')}`, parse: parseNonNegativeInteger,
    group: 'Budget:', choice: 'evalSteps', trainOnly: true, sweep: { group: 'Budget (per run):' },
  },
  {
    key: 'evalEnvs', flags: '--eval-envs <n>', help: `environments stepped together in evaluation ${budgetDefault('')}`, parse: parsePositiveInteger,
    group: 'Budget:', choice: 'evalEnvs', trainOnly: true,
  },
  {
    key: 'matchPaperDecay', flags: '--match-paper-decay',
    help: "scale λ so this budget's updates apply the paper's total decoupled decay (adamw, sgdw, rmspropw; recorded in config.json as decayMatch)",
    group: 'Optimizer:', choice: 'matchPaperDecay', trainOnly: true,
    sweep: { group: 'Budget (per run):', help: "scale λ of the decoupled runs so each run's updates apply the paper's total decoupled decay (see npm run atari -- --help); the other schemes are unchanged" },
  },
  {
    key: 'set', flags: '--set <key=value>',
    help: 'override any config value, e.g. agent.targetUpdatePeriodSteps=4000 (repeatable; keys: npm run atari -- --list-presets); part of the run id',
    parse: parseSet, group: 'Run:', choice: 'set', trainOnly: true, sweep: { group: 'Budget (per run):', help: 'override a config value of every run, as npm run atari -- --set does (repeatable, e.g. agent.loss=mse); part of each run id' },
  },
  {
    key: 'out', flags: '--out <dir>',
    help: 'the run directory, created if missing: config.json, metrics.jsonl, summary.json, checkpoints/ go inside it (default: results/runs/<game>-<optimizer>-wd<λ>-s<seed>-<hash of the settings>)',
    group: 'Output:', choice: null, trainOnly: true,
  },
  {
    key: 'keepCheckpoints', flags: '--keep-checkpoints <n>',
    help: `complete checkpoints kept, n >= 1; only the newest holds the replay memory (default: what the run recorded, else ${DEFAULT_KEEP_CHECKPOINTS}; not part of the config)`,
    parse: parsePositiveInteger, group: 'Output:', choice: null, trainOnly: true, sweep: { group: "Runs' checkpoints:" },
  },
  {
    key: 'saveReplay', flags: '--no-save-replay',
    help: 'do not store the replay memory with the newest checkpoint (saves up to 7 GB of disk per running run at the dopamine preset; a resume then refills it, learning nothing meanwhile, and Table 1 flags the run)',
    group: 'Output:', choice: null, trainOnly: true, sweep: { group: "Runs' checkpoints:" },
  },
  {
    key: 'tensorboard', flags: '--tensorboard [logdir]',
    help: 'also write TensorBoard event files (train/, eval/, optim/, perf/ scalars; the loss every 1000 steps, every episode\'s return) to <logdir>, default <out>/events',
    group: 'Output:', choice: null, trainOnly: true,
  },
  {
    key: 'captureVideo', flags: '--capture-video <K>',
    help: 'every K iterations, after the checkpoint, record one evaluation episode (ε_eval) into <out>/videos/iter-<N>.mp4 (off by default; training is unchanged)',
    parse: parsePositiveInteger, group: 'Output:', choice: null, trainOnly: true,
  },
  {
    key: 'logEvery', flags: '--log-every <seconds>', help: 'progress line interval when the output is not a terminal', parse: parsePositiveNumber, default: 60,
    group: 'Output:', choice: null, trainOnly: false,
  },
  {
    key: 'threads', flags: '--threads <n>',
    help: 'TensorFlow threads (sets TF_NUM_INTRAOP_THREADS, TF_NUM_INTEROP_THREADS, OMP_NUM_THREADS); default: not set, so TensorFlow uses every core (a sweep gives its runs 1 each)',
    parse: parsePositiveInteger, group: 'Resources:', choice: null, trainOnly: false,
    sweep: { group: 'Executor and resources:', help: 'TensorFlow threads per run (default 1: on a CPU, N runs × 1 thread train more steps per hour than 1 run × N threads, docs/sweeps.md; local: workers default to cores / threads; Slurm: also --cpus-per-task)' },
  },
  {
    key: 'tfLog', flags: '--tf-log',
    help: "show TensorFlow's native start-up log lines (CPU feature notes, the oneDNN notice; hidden by default; same as TF_CPP_MIN_LOG_LEVEL=0)",
    group: 'Resources:', choice: null, trainOnly: true,
  },
];

/** The long flag as typed: `--training-steps`, `--no-save-replay`. */
export function longFlag(option: RunOption): string {
  return option.flags.match(/--[\w-]+/)![0];
}

function commanderOption(flags: string, help: string, parse: RunOption['parse'], defaultValue: unknown): Option {
  const option = new Option(flags, help);
  if (parse) option.argParser(parse as (value: string, previous: unknown) => unknown);
  if (defaultValue !== undefined) option.default(defaultValue);
  return option;
}

/** Adds the run options of `group` to `npm run atari`'s program, under that group's heading. */
export function addRunOptions(program: Command, group: RunOption['group']): Command {
  program.optionsGroup(group);
  for (const o of RUN_OPTIONS.filter((x) => x.group === group)) program.addOption(commanderOption(o.flags, o.help, o.parse, o.default));
  return program;
}

/** A list option's parser that names the empty case itself (parseList's message is about empty items). */
function nonEmptyList<T>(item: (value: string) => T, what: string, example: string): (value: string) => T[] {
  const list = parseList(item);
  return (value: string) => {
    if (value.trim() === '') throw new InvalidArgumentError(`The ${what} list is empty; give e.g. ${example}.`);
    return list(value);
  };
}

/**
 * Adds the run options a sweep takes under its group `group` (a sweep's own options go beside them): the run's flag
 * where every run gets the same value, a list flag of the run flag's values for the axes a sweep crosses.
 */
export function addSweepRunOptions(program: Command, group: string): Command {
  for (const o of RUN_OPTIONS.filter((x) => x.sweep?.group === group)) {
    const form = o.sweep!;
    const option = form.list
      ? commanderOption(form.list.flags, form.help ?? o.help, nonEmptyList(o.parse as (value: string) => unknown, form.list.what, form.list.example), undefined)
      : commanderOption(o.flags, form.help ?? o.help, o.parse, o.default);
    program.addOption(option);
  }
  return program;
}

/** The run choices the options of `values` (commander's opts()) make: every option with a choice, by its field. */
export function runChoicesFrom(values: Record<string, unknown>): RunChoices {
  const choices: Record<string, unknown> = {};
  for (const o of RUN_OPTIONS) if (o.choice !== null && values[o.key] !== undefined) choices[o.choice] = values[o.key];
  return choices as unknown as RunChoices;
}

/** Given on the command line (not a default, which --no-save-replay and the defaulted options always have). */
export function givenOptions(program: Command, options: readonly RunOption[]): RunOption[] {
  return options.filter((o) => program.opts()[o.key] !== undefined && program.getOptionValueSource(o.key) === 'cli');
}

/** Options `--agent random` refuses. */
export const TRAIN_ONLY = RUN_OPTIONS.filter((o) => o.trainOnly);

/**
 * Options `--resume --out DIR` without --game refuses, since the stored config is used: every option that is part of
 * the config, but the keys a resume may change (iterations, to extend the run).
 */
export const CONFIG_OPTIONS_FIXED_ON_RESUME = RUN_OPTIONS.filter(
  (o) => o.choice !== null && !(MUTABLE_CONFIG_KEYS as readonly string[]).includes(o.choice),
);
