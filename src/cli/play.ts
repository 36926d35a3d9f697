// `npm run play -- RUN_DIR [...]`: watch and reuse a trained agent. Plays evaluation episodes with a checkpoint's
// online network in the run's own emulator settings (optionally recording the first into an MP4 or WebM), or,
// with --export, writes that network as safetensors in PyTorch layout. Parsing checks the run directory, the
// checkpoint (made under the run's config) and every value before anything heavy loads; playing loads TensorFlow
// by dynamic import, exporting not at all (the checkpoint's tensors are plain arrays).
import { Command, InvalidArgumentError, Option } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpointIterations, findCheckpoint, findLatestCheckpoint, type FoundCheckpoint } from '../run/checkpoints.ts';
import { ConfigError, validateRunConfig, type RunConfig } from '../run/presets.ts';
import { formatDifference, RUN_FILES, type ConfigDifference } from '../run/run_directory.ts';
import { checkpointConfigDifferences } from '../run/run_state.ts';
import { parseNonNegativeInteger, parsePositiveInteger, parseProbability } from './parse.ts';
import type { PlayOptions } from '../run/play.ts';
import { runMain } from './exit.ts';
import { withVersion } from './version.ts';

const VIDEO_EXTENSIONS = ['.mp4', '.webm'];

/** What play runs: playRun's options from the command line (the printing and stopping are added by main). */
export interface PlayCommand extends Pick<PlayOptions, 'config' | 'checkpoint' | 'episodes' | 'epsilon' | 'seed' | 'video'> {
  kind: 'play';
  runDir: string;
}

export interface ExportCommand {
  kind: 'export';
  runDir: string;
  config: RunConfig;
  checkpoint: FoundCheckpoint;
  file: string;
}

export type PlayInvocation = PlayCommand | ExportCommand;

/** `latest` or a checkpoint number N (checkpoints/ckpt-<N>). */
export function parseCheckpointChoice(value: string): 'latest' | number {
  if (value === 'latest') return 'latest';
  try {
    return parseNonNegativeInteger(value);
  } catch {
    throw new InvalidArgumentError(`Expected "latest" or a checkpoint number N (checkpoints/ckpt-<N>), got "${value}".`);
  }
}

function parseVideoFile(value: string): string {
  if (!VIDEO_EXTENSIONS.includes(path.extname(value).toLowerCase())) {
    throw new InvalidArgumentError(`Expected a video file name ending in ${VIDEO_EXTENSIONS.join(' or ')}, got "${value}".`);
  }
  return value;
}

function parseExportFile(value: string): string {
  if (path.extname(value).toLowerCase() !== '.safetensors') throw new InvalidArgumentError(`Expected a file name ending in .safetensors, got "${value}".`);
  return value;
}

export function buildPlayProgram(): Command {
  return withVersion(new Command('play'))
    .description("Watch and reuse a trained agent: play evaluation episodes with a run's checkpoint (and record a video), or export its network.")
    .argument('<run-dir>', 'a run directory written by npm run atari (config.json, checkpoints/)')
    .addOption(new Option('--checkpoint <latest|N>', 'which checkpoint: latest (the newest valid one) or N for checkpoints/ckpt-<N>').argParser(parseCheckpointChoice).default('latest'))
    .addOption(new Option('--episodes <k>', 'episodes to play').argParser(parsePositiveInteger).default(3))
    .addOption(new Option('--epsilon <ε>', "ε of ε-greedy (default: the run's agent.epsilonEval, 0.001 in every preset)").argParser(parseProbability))
    .addOption(new Option('--video <file>', 'record the first episode (every emulator frame, 60 fps, 160x210) into FILE.mp4 or FILE.webm').argParser(parseVideoFile))
    .addOption(new Option('--seed <s>', 'seed of the emulator (sticky actions, no-op starts) and of the ε-greedy draws').argParser(parseNonNegativeInteger).default(0))
    .addOption(new Option('--export <file>', "write the checkpoint's online network as FILE.safetensors (PyTorch names and layout; docs/run-format.md) and play nothing").argParser(parseExportFile))
    .addHelpText('after', [
      '',
      'Examples:',
      '  npm run play -- results/runs/pong-adam-wd0-s0-aa0e8e15 --episodes 5 --video results/pong.mp4',
      '  npm run play -- results/runs/pong-adam-wd0-s0-aa0e8e15 --checkpoint 99 --video results/pong.webm --episodes 1',
      '  npm run play -- results/runs/pong-adam-wd0-s0-aa0e8e15 --export pong.safetensors',
      '',
      'MP4 is written as avc1 (H.264) where this OpenCV can encode it, else mp4v (MPEG-4 Part 2: VLC, mpv, ffmpeg play it,',
      'browsers mostly do not); WebM is VP8, which browsers play. Ctrl-C stops after the current step.',
    ].join('\n'))
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false);
}

const PLAY_ONLY = ['episodes', 'epsilon', 'video', 'seed'];

/**
 * A checkpoint records the run config it was made under (state.json): one copied in from another run (another game
 * with as many actions, another network or scheme) would be played or exported under this run's labels. Compared as
 * a resume compares it (keys a resume may change, like iterations, aside). Null when they agree, or for a
 * checkpoint that records no config.
 */
function checkpointConfigProblem(checkpoint: FoundCheckpoint, config: RunConfig, configFile: string): string | null {
  let differences: ConfigDifference[];
  try {
    differences = checkpointConfigDifferences(checkpoint.dir, config);
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
  if (differences.length === 0) return null;
  const shown = differences.slice(0, 3).map(formatDifference).join('; ') + (differences.length > 3 ? `; and ${differences.length - 3} more` : '');
  return `the checkpoint ${checkpoint.dir} was made under another config than ${configFile} holds (checkpoint → config.json: ${shown}): ` +
    "it is not this run's checkpoint; put the run's own checkpoints (or its config.json) back";
}

/** Parses argv (without node and the script) and checks the run directory and checkpoint; exits on bad input. */
export function parsePlayArgs(argv: string[], program = buildPlayProgram()): PlayInvocation {
  program.parse(argv, { from: 'user' });
  const o = program.opts();
  const runDir = path.resolve(program.args[0]);
  const configFile = path.join(runDir, RUN_FILES.config);
  if (!fs.existsSync(runDir) || !fs.statSync(runDir).isDirectory()) program.error(`error: ${runDir} does not exist or is not a directory (expected a run directory of npm run atari)`);
  if (!fs.existsSync(configFile)) program.error(`error: ${runDir} is not a run directory: it has no config.json`);
  let config: RunConfig;
  try {
    const stored = JSON.parse(fs.readFileSync(configFile, 'utf8')) as { config?: RunConfig };
    if (!stored.config || typeof stored.config !== 'object') throw new ConfigError('it holds no run config');
    config = stored.config;
    validateRunConfig(config);
  } catch (error) {
    program.error(`error: ${configFile} is not a usable run config (${(error as Error).message})`);
  }
  const available = checkpointIterations(runDir);
  let checkpoint: FoundCheckpoint | null;
  if (o.checkpoint === 'latest') {
    checkpoint = findLatestCheckpoint(runDir, { warn: (m) => console.error(`warning: ${m}`) });
    if (!checkpoint) {
      program.error(`error: ${runDir} has no ${available.length ? 'valid' : 'complete'} checkpoint yet (the first is written when the first iteration ends)`);
    }
  } else {
    try {
      checkpoint = findCheckpoint(runDir, o.checkpoint as number);
    } catch (error) {
      const have = available.length ? `available: ${[...available].reverse().join(', ')}` : 'the run has none yet';
      program.error(`error: --checkpoint ${o.checkpoint}: ${(error as Error).message} (${have})`);
    }
  }
  const mismatch = checkpointConfigProblem(checkpoint!, config!, configFile);
  if (mismatch !== null) program.error(`error: ${mismatch}`);
  if (o.export !== undefined) {
    const misplaced = PLAY_ONLY.filter((k) => program.getOptionValueSource(k) === 'cli');
    if (misplaced.length) program.error(`error: --export writes the network and plays nothing; drop ${misplaced.map((k) => `--${k}`).join(', ')} (or run play separately)`);
    return { kind: 'export', runDir, config: config!, checkpoint: checkpoint!, file: path.resolve(o.export) };
  }
  if (o.video !== undefined && !fs.existsSync(path.dirname(path.resolve(o.video)))) {
    program.error(`error: --video ${o.video}: the directory ${path.dirname(path.resolve(o.video))} does not exist`);
  }
  return {
    kind: 'play', runDir, config: config!, checkpoint: checkpoint!, episodes: o.episodes,
    epsilon: o.epsilon ?? config!.agent.epsilonEval, seed: o.seed, video: o.video === undefined ? null : path.resolve(o.video),
  };
}

async function exportNetwork(command: ExportCommand): Promise<number> {
  const { exportOnlineNetwork } = await import('../run/export.ts');
  const { writeSafetensors } = await import('../io/safetensors.ts');
  const { state, tensors } = command.checkpoint.load();
  const { tensors: out, metadata } = exportOnlineNetwork({
    config: command.config, checkpoint: command.checkpoint.iteration, state: state as never, tensors, runName: path.basename(command.runDir),
  });
  writeSafetensors(command.file, out, metadata);
  const parameters = out.reduce((sum, t) => sum + t.data.length, 0);
  console.log(`${command.file}: ${out.length} tensors (${out.map((t) => `${t.name} [${t.shape}]`).join(', ')}), ` +
    `${parameters.toLocaleString('en-US')} parameters, from ${path.basename(command.checkpoint.dir)}`);
  return 0;
}

async function main(): Promise<number> {
  const invocation = parsePlayArgs(process.argv.slice(2));
  if (invocation.kind === 'export') return exportNetwork(invocation);
  const { playRun } = await import('../run/play.ts');
  let stop = false;
  process.on('SIGINT', () => {
    if (stop) process.exit(130);
    stop = true;
    console.error('SIGINT: stopping after the current step (again to quit at once)');
  });
  const result = await playRun({ ...invocation, log: (line) => console.log(line), stop: () => stop });
  return result.stopped ? 130 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runMain(main);
}
