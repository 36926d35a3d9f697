// Playing a trained agent: evaluation-style episodes with a checkpoint's online network (ε-greedy, by default at
// the run's ε_eval, in the run's emulator protocol, as the evaluation phase plays), optionally recorded into a
// video that the emulator process writes itself. Used by `npm run play` (src/cli/play.ts) and by training's
// --capture-video (src/run/trainer.ts).
//
// Videos are crash-safe: recorded under a temp name in the target directory (same extension, which picks the
// container), read back by the emulator (OpenCV's writer reports no I/O error, so a full disk would otherwise leave a
// cut-off file: every frame written must be readable), fsynced, then renamed; a stopped or failed recording leaves
// no file behind.
import fs from 'node:fs';
import path from 'node:path';
import seedrandom from 'seedrandom';
import { AleBridge, DOPAMINE_PROTOCOL, NATURE_PROTOCOL, stepOutcome, type AtariEnv, type EnvProtocol, type RecordingStopped } from '../../envs/ale_bridge.ts';
import { displayName } from '../../envs/games.ts';
import { Actor } from '../../agents/actor.ts';
import { QNetwork } from '../../agents/network.ts';
import { fsyncDirectory, fsyncFile } from '../io/atomic.ts';
import type { FoundCheckpoint } from './checkpoints.ts';
import type { RunConfig } from './presets.ts';

/** Recorded videos show every emulator frame, at the Atari's 60 frames per second, at ALE's 160x210. */
export const VIDEO_FPS = 60;

/** The emulator settings of a run, as its training and evaluation environments have them. */
export function envProtocolOf(config: RunConfig): EnvProtocol {
  return { ...(config.protocol === 'nature' ? NATURE_PROTOCOL : DOPAMINE_PROTOCOL), maxEpisodeSteps: config.maxEpisodeSteps };
}

export interface EpisodeResult {
  return: number;
  /** Agent steps of the episode (the whole game, over all lives). */
  steps: number;
  end: 'game over' | 'truncated' | 'stopped';
  seconds: number;
}

/**
 * Picks the action after each frame of an episode; `fresh`: the frame starts a new frame stack (the episode's
 * first, or the first after a life lost under the Nature protocol).
 */
export type Policy = (frame: Uint8Array, fresh: boolean) => number;

/** ε-greedy over `network`'s Q-values, acting as the agent acts (agents/actor.ts), drawing from `random`. */
export function epsilonGreedy(network: QNetwork, numActions: number, epsilon: number, random: () => number): Policy {
  const actor = new Actor(network, numActions, 1, network.options.screenSize ** 2, random);
  const only = [0];
  return (frame, fresh) => {
    if (fresh) actor.begin(0, frame);
    else actor.observe(0, frame);
    return actor.act(only, epsilon)[0];
  };
}

/**
 * One episode as the evaluation phase plays it: the game until it is over or hits the step cap; a life lost under
 * the Nature protocol starts a fresh frame stack in the same game. `stop` is asked after every step.
 */
export async function playEpisode(env: AtariEnv, policy: Policy, stop: () => boolean = () => false): Promise<EpisodeResult> {
  const started = performance.now();
  let action = policy((await env.reset()).frame, true);
  let episodeReturn = 0;
  for (;;) {
    const step = await env.step(action);
    episodeReturn += step.reward;
    const outcome = stepOutcome(step);
    const result = (end: EpisodeResult['end']): EpisodeResult => ({ return: episodeReturn, steps: step.episodeSteps, end, seconds: (performance.now() - started) / 1000 });
    if (outcome === 'episode-over') return result(step.gameOver ? 'game over' : 'truncated');
    if (stop()) return result('stopped');
    action = outcome === 'life-lost' ? policy((await env.reset()).frame, true) : policy(step.frame, false);
  }
}

/** `file` with a temp name beside it that keeps the extension (it picks the container): x.mp4 → x.tmp-<pid>.mp4. */
function tempVideoPath(file: string): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}.tmp-${process.pid}${ext}`;
}

/** Temp videos of earlier processes (killed mid-recording) in `dir`, matching what tempVideoPath makes. */
export function removeStaleTempVideos(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (/\.tmp-\d+\.(mp4|webm)$/.test(name)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

/**
 * Plays one episode while the emulator records it into `file` (.mp4 or .webm; its directory is created). The file
 * appears only complete: recorded under a temp name, read back frame by frame when the recording stops (a write
 * that failed unreported, e.g. on a full disk, throws naming the cause), fsynced, renamed. A stopped episode leaves
 * no file (video null). The recording starts before the episode's reset, so the video shows the whole game.
 */
export async function recordEpisode(env: AtariEnv, policy: Policy, file: string, stop?: () => boolean): Promise<EpisodeResult & { video: RecordingStopped | null }> {
  const target = path.resolve(file);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const temp = tempVideoPath(target);
  fs.rmSync(temp, { force: true }); // a killed earlier process of this pid's: the emulator records only into a new file
  let recording = false;
  try {
    await env.startRecording({ path: temp, fps: VIDEO_FPS });
    recording = true;
    const result = await playEpisode(env, policy, stop);
    recording = false;
    const video = await env.stopRecording();
    if (result.end === 'stopped') {
      fs.rmSync(temp, { force: true });
      return { ...result, video: null };
    }
    fsyncFile(temp);
    fs.renameSync(temp, target);
    fsyncDirectory(path.dirname(target));
    return { ...result, video };
  } catch (error) {
    if (recording) await env.stopRecording().catch(() => {});
    fs.rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * The online network of a checkpoint, for an environment with `numActions` actions. The caller disposes it.
 * Throws a message saying so if the checkpoint is not this run's network (another game's action count, say).
 */
export function loadOnlineNetwork(checkpoint: FoundCheckpoint, config: RunConfig, numActions: number): { network: QNetwork; state: Record<string, unknown> } {
  const { state, tensors } = checkpoint.load();
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    if (name.startsWith('online/') && t.data instanceof Float32Array) weights.set(name.slice('online/'.length), { shape: t.shape, data: t.data });
  }
  const outputs = weights.get('dense2/bias')?.shape[0];
  if (outputs !== numActions) {
    throw new Error(`checkpoint ${checkpoint.dir} holds a network with ${outputs ?? 'no'} outputs, but ${displayName(config.game)} has ${numActions} actions`);
  }
  const network = new QNetwork({ numActions, padding: config.agent.padding, seed: config.seed }, 'online');
  try {
    network.writeWeights(weights);
  } catch (error) {
    network.dispose();
    throw new Error(`checkpoint ${checkpoint.dir} does not fit this run's network: ${(error as Error).message}`);
  }
  return { network, state: (state ?? {}) as Record<string, unknown> };
}

export interface PlayOptions {
  config: RunConfig;
  checkpoint: FoundCheckpoint;
  episodes: number;
  epsilon: number;
  /** Seeds the emulator (sticky actions, no-op starts) and the ε-greedy draws. */
  seed: number;
  /** Record the first episode into this file (.mp4 or .webm). */
  video: string | null;
  log: (line: string) => void;
  stop?: () => boolean;
  pythonPath?: string;
}

export interface PlayResult {
  returns: number[];
  lengths: number[];
  stopped: boolean;
  video: (RecordingStopped & { file: string }) | null;
}

const formatReturn = (r: number) => (Number.isInteger(r) ? String(r) : r.toFixed(2));

/** `npm run play`: K episodes of the checkpoint's agent, each one's return and length, and their mean. */
export async function playRun(options: PlayOptions): Promise<PlayResult> {
  const { config, checkpoint } = options;
  const bridge = await AleBridge.start(options.pythonPath ? { pythonPath: options.pythonPath } : {});
  let network: QNetwork | null = null;
  try {
    const env = await bridge.createEnv({ ...envProtocolOf(config), game: config.game, seed: options.seed });
    const loaded = loadOnlineNetwork(checkpoint, config, env.numActions);
    network = loaded.network;
    const s = loaded.state as { nextIteration?: number; envSteps?: number; partial?: unknown };
    const when = s.partial ? `partway through iteration ${(s.nextIteration ?? 0) + 1}` : `after ${s.nextIteration ?? '?'} iterations`;
    options.log(`${displayName(config.game)}: ${path.basename(checkpoint.dir)} (${when}, ${s.envSteps ?? '?'} training steps), ` +
      `${config.agent.optimizer.name} λ=${config.agent.optimizer.weightDecay}, ${config.protocol} protocol, ε=${options.epsilon}, seed ${options.seed}`);
    const policy = epsilonGreedy(network, env.numActions, options.epsilon, seedrandom(`play-${options.seed}`));
    const stop = options.stop ?? (() => false);
    const result: PlayResult = { returns: [], lengths: [], stopped: false, video: null };
    for (let episode = 1; episode <= options.episodes; episode++) {
      let outcome: EpisodeResult;
      if (episode === 1 && options.video) {
        const recorded = await recordEpisode(env, policy, options.video, stop);
        if (recorded.video) result.video = { ...recorded.video, file: path.resolve(options.video) };
        outcome = recorded;
      } else {
        outcome = await playEpisode(env, policy, stop);
      }
      if (outcome.end === 'stopped') {
        options.log(`episode ${episode}/${options.episodes}: stopped after ${outcome.steps} steps${episode === 1 && options.video ? ' (no video written)' : ''}`);
        result.stopped = true;
        break;
      }
      result.returns.push(outcome.return);
      result.lengths.push(outcome.steps);
      options.log(`episode ${episode}/${options.episodes}: return ${formatReturn(outcome.return)}, ${outcome.steps} steps (${outcome.end}), ` +
        `${(outcome.steps / Math.max(outcome.seconds, 1e-9)).toFixed(0)} steps/s`);
      if (episode === 1 && result.video) {
        const v = result.video;
        options.log(`video: ${v.file} (${v.codec}, ${v.width}x${v.height}, ${v.frames} frames at ${VIDEO_FPS} fps)`);
      }
    }
    if (result.returns.length > 0) {
      const mean = result.returns.reduce((a, b) => a + b, 0) / result.returns.length;
      const meanLength = result.lengths.reduce((a, b) => a + b, 0) / result.lengths.length;
      options.log(`mean return ${mean.toFixed(2)} over ${result.returns.length} episodes (mean length ${meanLength.toFixed(0)} steps)`);
    }
    return result;
  } finally {
    network?.dispose();
    await bridge.close();
  }
}

export interface CaptureOptions {
  config: RunConfig;
  network: QNetwork;
  file: string;
  /** ALE seed of the episode's emulator, and the seed of its ε draws. */
  emulatorSeed: number;
  actSeed: string;
  stop?: () => boolean;
  pythonPath?: string;
}

/**
 * Training's --capture-video: one evaluation-style episode (ε_eval) of `network` into `file`, in an emulator
 * process of its own and with generators of its own, so the run's own environments and random numbers are
 * untouched: a run computes the same with and without videos.
 */
export async function captureEpisodeVideo(options: CaptureOptions): Promise<(EpisodeResult & { video: RecordingStopped | null })> {
  removeStaleTempVideos(path.dirname(options.file));
  const bridge = await AleBridge.start(options.pythonPath ? { pythonPath: options.pythonPath } : {});
  try {
    const { config } = options;
    const env = await bridge.createEnv({ ...envProtocolOf(config), game: config.game, seed: options.emulatorSeed });
    const policy = epsilonGreedy(options.network, env.numActions, config.agent.epsilonEval, seedrandom(options.actSeed));
    return await recordEpisode(env, policy, options.file, options.stop);
  } finally {
    await bridge.close();
  }
}
