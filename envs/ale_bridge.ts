// Node side of the ALE bridge: starts envs/ale_server.py with python-shell, speaks its length-prefixed binary
// protocol, and supervises the child (typed errors when it dies, no child left behind, restart on demand).
//
// python-shell 5 facts this file is built around: in 'binary' mode it emits no 'message' events, so stdout is read
// and framed here; a child killed by a signal fires no 'pythonError', only 'close' with exitSignal set; and it keeps
// all of stderr in memory for the life of the process, so the server writes almost nothing there.
//
// Video: screenRGB() fetches one RGB screen (raw bytes, like frames); startRecording()/stopRecording() make the
// server write every emulator frame's screen into a video file itself, so recorded frames never cross the pipe.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PythonShell } from 'python-shell';
import { REPO_ROOT, VENV_PYTHON } from '../src/paths.mjs';
import { resolveGame } from './games.ts';

const SERVER_SCRIPT = path.join(REPO_ROOT, 'envs', 'ale_server.py');

const OP_INFO = 1;
const OP_CREATE = 2;
const OP_RESET = 3;
const OP_STEP = 4;
const OP_CLOSE_ENV = 5;
const OP_SCREEN = 6;
const OP_RECORD_START = 7;
const OP_RECORD_STOP = 8;
const STATUS_OK = 0;
const MESSAGE_HEADER_BYTES = 5; // u32 payload length + u8 opcode/status
const STEP_HEADER_BYTES = 16; // f64 reward, u32 episode steps, u16 lives, u8 flags, u8 reserved
const FLAG_TERMINAL = 1;
const FLAG_TRUNCATED = 2;
const FLAG_GAME_OVER = 4;
const FLAG_LIFE_LOST = 8;
const STDERR_TAIL_BYTES = 4096;

/** How observations are made: Dopamine's AtariPreprocessing settings, or the Nature DQN protocol. */
export interface EnvProtocol {
  /** ALE's sticky actions: the previous action is repeated with this probability at every emulator frame. */
  repeatActionProbability: number;
  /** Emulator frames per agent step; the observation is the max over the last two. */
  frameSkip: number;
  /** Episodes (whole games, over all lives) are truncated after this many agent steps (27,000 = 108,000 frames). */
  maxEpisodeSteps: number;
  /**
   * Report a lost life as terminal. The next reset then continues the game from the life-loss step's
   * observation, as Dopamine's runner does; the step cap keeps counting.
   */
  terminalOnLifeLoss: boolean;
  /** Up to this many no-op actions at the start of each game (0 = none). */
  noopMax: number;
  /** Side of the square observation, in pixels. */
  screenSize: number;
}

export const DOPAMINE_PROTOCOL: Readonly<EnvProtocol> = Object.freeze({
  repeatActionProbability: 0.25, frameSkip: 4, maxEpisodeSteps: 27_000, terminalOnLifeLoss: false, noopMax: 0, screenSize: 84,
});

export const NATURE_PROTOCOL: Readonly<EnvProtocol> = Object.freeze({
  repeatActionProbability: 0, frameSkip: 4, maxEpisodeSteps: 27_000, terminalOnLifeLoss: true, noopMax: 30, screenSize: 84,
});

export interface EnvSpec extends Partial<EnvProtocol> {
  /** Any spelling of an ALE game: 'Pong', 'pong', 'SpaceInvaders', 'space_invaders'. */
  game: string;
  /** Seeds ALE (sticky actions) and the no-op starts. */
  seed: number;
  mode?: number;
  difficulty?: number;
}

/** What one reset or step returns. `frame` is a fresh screenSize² uint8 array owned by the caller. */
export interface EnvStep {
  reward: number;
  terminal: boolean;
  truncated: boolean;
  gameOver: boolean;
  lifeLost: boolean;
  lives: number;
  episodeSteps: number;
  frame: Uint8Array;
}

/**
 * What a step means to Dopamine's runner loop: the episode (the game) is over (game over or the step cap; the
 * agent's last transition is terminal only if `step.terminal`), a life was lost under the Nature protocol
 * (terminal for the agent; reset() continues the game), or play goes on.
 */
export type StepOutcome = 'episode-over' | 'life-lost' | 'continue';

export function stepOutcome(step: EnvStep): StepOutcome {
  if (step.gameOver || step.truncated) return 'episode-over';
  return step.terminal ? 'life-lost' : 'continue';
}

/** One RGB screen as ALE draws it (210x160 for every game ale-py ships): row-major [height, width, 3]. */
export interface ScreenRGB {
  height: number;
  width: number;
  data: Uint8Array;
}

export interface RecordingOptions {
  /** Absolute path of the video; it must end in .mp4 or .webm and its directory must exist. */
  path: string;
  /** Frames per second of the file (default 60, the Atari's: every emulator frame is recorded). */
  fps?: number;
  /** Each screen pixel becomes scale x scale pixels (nearest neighbour; default 1). */
  scale?: number;
}

export interface RecordingStarted {
  /** The FourCC the server's OpenCV wrote with: avc1 or mp4v (MP4), VP80 (WebM). */
  codec: string;
  width: number;
  height: number;
}

export interface RecordingStopped extends RecordingStarted {
  /** Emulator frames written. */
  frames: number;
}

/** The emulator process died (crash, OOM kill, signal) or could not start. */
export class EmulatorCrashedError extends Error {
  constructor(readonly exitCode: number | null, readonly signal: string | null, readonly stderrTail: string, detail = '') {
    const how = signal ? `was killed by ${signal}` : exitCode !== null ? `exited with code ${exitCode}` : 'stopped';
    super(`The ALE emulator process ${how}${detail ? ` (${detail})` : ''}.${stderrTail.trim() ? `\nIts last stderr output:\n${stderrTail.trim()}` : ''}`);
    this.name = 'EmulatorCrashedError';
  }
}

/** The emulator refused a request (bad action index, closed environment, ...); the process is still fine. */
export class EmulatorRequestError extends Error {
  constructor(message: string) {
    super(`The ALE emulator refused the request: ${message}`);
    this.name = 'EmulatorRequestError';
  }
}

/** The least deadline of a request that is not a step or a reset (start-up, ROM loading, recording). */
const ONE_OFF_MIN_DEADLINE_MS = 60_000;

interface Pending {
  resolve: (payload: Buffer) => void;
  reject: (error: Error) => void;
  sentAt: number;
  timer: NodeJS.Timeout;
  /** Steps and resets set the deadline's scale; creating an environment (loading a ROM) is a one-off. */
  timed: boolean;
}

export interface BridgeOptions {
  /** The Python interpreter with ale-py; default: the project's .venv (made by `npm run setup`). */
  pythonPath?: string;
  /**
   * The least time a request may take before the emulator counts as hung (default 60 s, or the environment's
   * WD_HARNESS_EMULATOR_TIMEOUT_S). The deadline grows to 100× the slowest step or reset reply seen, so a slow
   * machine is not mistaken for a hung emulator. It bounds steps and resets; one-off requests (start-up, loading a
   * ROM, starting a video) get at least a minute.
   */
  requestTimeoutMs?: number;
}

/** A reply longer than this is garbage on the pipe, not a message (the largest real one, 64 envs' frames, is 0.5 MB). */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

function defaultTimeoutMs(): number {
  const seconds = Number(process.env.WD_HARNESS_EMULATOR_TIMEOUT_S);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 60_000;
}

// Every live emulator process, killed when Node exits for any reason, so none is ever left behind.
const liveShells = new Set<PythonShell>();
process.on('exit', () => {
  for (const shell of liveShells) shell.childProcess.kill('SIGKILL');
});

/** One emulator process hosting any number of environments, stepped together in one round trip. */
export class AleBridge {
  private shell!: PythonShell;
  private pending: Pending[] = [];
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private stderrTail = '';
  private dead: EmulatorCrashedError | null = null;
  private closing = false;
  private readonly envs = new Set<AtariEnv>();
  aleVersion = '';
  /** How many times the process was restarted after a crash. */
  restarts = 0;
  /** The slowest step or reset reply so far, in ms: the deadline is at least a multiple of it. */
  private slowestReplyMs = 0;

  private constructor(private readonly options: BridgeOptions) {}

  static async start(options: BridgeOptions = {}): Promise<AleBridge> {
    const bridge = new AleBridge(options);
    await bridge.spawn();
    return bridge;
  }

  get pid(): number | undefined {
    return this.shell.childProcess.pid;
  }

  get alive(): boolean {
    return this.dead === null && !this.closing;
  }

  private async spawn(): Promise<void> {
    const pythonPath = this.options.pythonPath ?? VENV_PYTHON;
    if (!existsSync(pythonPath)) {
      throw new EmulatorCrashedError(null, null, '', `no Python at ${pythonPath}; run \`npm run setup\` first`);
    }
    this.pending = [];
    this.chunks = [];
    this.bufferedBytes = 0;
    this.stderrTail = '';
    this.dead = null;
    this.closing = false;
    const shell = new PythonShell(SERVER_SCRIPT, { mode: 'binary', pythonPath, pythonOptions: ['-u'], cwd: REPO_ROOT });
    this.shell = shell;
    liveShells.add(shell);
    shell.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    shell.stderr.on('data', (chunk: Buffer | string) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-STDERR_TAIL_BYTES);
    });
    shell.stdin.on('error', () => { /* EPIPE after a crash: reported through 'close' */ });
    shell.on('error', (error: Error) => this.fail(new EmulatorCrashedError(null, null, this.stderrTail, error.message)));
    shell.on('pythonError', () => { /* reported through 'close', with the exit code */ });
    shell.on('close', () => {
      liveShells.delete(shell);
      if (shell !== this.shell) return;
      const error = new EmulatorCrashedError(shell.exitCode ?? null, shell.exitSignal ?? null, this.stderrTail);
      this.fail(error);
    });
    const info = JSON.parse((await this.request(OP_INFO, Buffer.alloc(0))).toString('utf8')) as { aleVersion: string };
    this.aleVersion = info.aleVersion;
  }

  /** Deadline of a request: generous, and never shorter than 100× the slowest step this process answered. */
  private get deadlineMs(): number {
    return Math.max(this.options.requestTimeoutMs ?? defaultTimeoutMs(), 100 * this.slowestReplyMs);
  }

  /**
   * The process is alive but useless (hung, stopped, or garbage on its pipe): kill it and fail every pending
   * request with EmulatorCrashedError, exactly as a crash does, so the caller's restart logic takes over.
   */
  private abandon(detail: string): void {
    if (this.dead) return;
    this.fail(new EmulatorCrashedError(null, null, this.stderrTail, detail));
    this.kill();
  }

  /**
   * For a stop request: if a request is in flight, give up on it now (the process is killed) instead of waiting for
   * an emulator that may never answer. Returns whether it did.
   */
  interruptIfBusy(): boolean {
    if (this.pending.length === 0 || this.dead || this.closing) return false;
    this.abandon('interrupted by a stop request while a request was in flight');
    return true;
  }

  private fail(error: EmulatorCrashedError): void {
    if (this.dead) return;
    this.dead = error;
    const pending = this.pending;
    this.pending = [];
    for (const request of pending) {
      clearTimeout(request.timer);
      request.reject(error);
    }
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    while (this.bufferedBytes >= MESSAGE_HEADER_BYTES) {
      const head = this.peek(MESSAGE_HEADER_BYTES);
      const length = head.readUInt32LE(0);
      if (length > MAX_MESSAGE_BYTES || head[4] > 1) {
        this.abandon(`sent a malformed message (length ${length}, status ${head[4]})`);
        return;
      }
      if (this.bufferedBytes < MESSAGE_HEADER_BYTES + length) return;
      const message = this.take(MESSAGE_HEADER_BYTES + length);
      const request = this.pending.shift();
      if (!request) {
        this.abandon('sent a reply to no request');
        return;
      }
      clearTimeout(request.timer);
      if (request.timed) this.slowestReplyMs = Math.max(this.slowestReplyMs, performance.now() - request.sentAt);
      const payload = message.subarray(MESSAGE_HEADER_BYTES);
      if (message[4] === STATUS_OK) request.resolve(payload);
      else request.reject(new EmulatorRequestError(payload.toString('utf8')));
    }
  }

  private peek(bytes: number): Buffer {
    if (this.chunks[0].length < bytes) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0];
  }

  /** Removes and returns the first `bytes` buffered bytes (a copy only when they span chunks). */
  private take(bytes: number): Buffer {
    let out: Buffer;
    if (this.chunks[0].length >= bytes) {
      out = this.chunks[0].subarray(0, bytes);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, bytes);
      this.chunks = [all];
    }
    const rest = this.chunks[0].subarray(bytes);
    if (rest.length) this.chunks[0] = rest;
    else this.chunks.shift();
    this.bufferedBytes -= bytes;
    return out;
  }

  private request(opcode: number, payload: Buffer): Promise<Buffer> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new EmulatorRequestError('the bridge is closed'));
    return new Promise((resolve, reject) => {
      const timed = opcode === OP_STEP || opcode === OP_RESET;
      // One-off requests (the start-up handshake, which waits for Python to import ale-py, numpy and OpenCV; loading
      // a ROM; starting a video) take seconds on a loaded machine: never less than a minute for them, whatever the
      // step deadline is.
      const deadline = timed ? this.deadlineMs : Math.max(this.deadlineMs, ONE_OFF_MIN_DEADLINE_MS);
      const timer = setTimeout(() => this.abandon(`did not answer within ${(deadline / 1000).toFixed(0)} s (hung, stopped, or overloaded)`), deadline);
      timer.unref(); // a pending request must not keep Node alive on its own
      this.pending.push({ resolve, reject, sentAt: performance.now(), timer, timed });
      const header = Buffer.allocUnsafe(MESSAGE_HEADER_BYTES);
      header.writeUInt32LE(payload.length, 0);
      header[4] = opcode;
      this.shell.stdin.write(payload.length ? Buffer.concat([header, payload]) : header);
    });
  }

  /** Creates an environment in this process. The game name is checked before anything is sent. */
  async createEnv(spec: EnvSpec): Promise<AtariEnv> {
    const config = validateSpec(spec);
    const reply = JSON.parse((await this.request(OP_CREATE, Buffer.from(JSON.stringify(config)))).toString('utf8'));
    const env = new AtariEnv(this, reply.envId, config, reply.actionNames);
    this.envs.add(env);
    return env;
  }

  /** Resets the given environments, in one round trip. */
  async reset(envs: readonly AtariEnv[]): Promise<EnvStep[]> {
    const payload = Buffer.allocUnsafe(2 + 2 * envs.length);
    payload.writeUInt16LE(envs.length, 0);
    envs.forEach((env, k) => payload.writeUInt16LE(env.id, 2 + 2 * k));
    return this.decodeSteps(await this.request(OP_RESET, payload), envs);
  }

  /** Steps the given environments with one action each, in one round trip. */
  async step(envs: readonly AtariEnv[], actions: ArrayLike<number>): Promise<EnvStep[]> {
    if (actions.length !== envs.length) throw new RangeError(`${envs.length} environments but ${actions.length} actions`);
    const payload = Buffer.allocUnsafe(2 + 4 * envs.length);
    payload.writeUInt16LE(envs.length, 0);
    for (let k = 0; k < envs.length; k++) {
      const action = actions[k];
      if (!Number.isInteger(action) || action < 0 || action >= envs[k].numActions) {
        throw new RangeError(`action ${action} is not in [0, ${envs[k].numActions}) for ${envs[k].game}`);
      }
      payload.writeUInt16LE(envs[k].id, 2 + 4 * k);
      payload.writeUInt16LE(action, 4 + 4 * k);
    }
    return this.decodeSteps(await this.request(OP_STEP, payload), envs);
  }

  private decodeSteps(payload: Buffer, envs: readonly AtariEnv[]): EnvStep[] {
    const steps: EnvStep[] = [];
    let offset = 0;
    for (const env of envs) {
      const frameBytes = env.frameBytes;
      const flags = payload[offset + 14];
      steps.push({
        reward: payload.readDoubleLE(offset),
        episodeSteps: payload.readUInt32LE(offset + 8),
        lives: payload.readUInt16LE(offset + 12),
        terminal: (flags & FLAG_TERMINAL) !== 0,
        truncated: (flags & FLAG_TRUNCATED) !== 0,
        gameOver: (flags & FLAG_GAME_OVER) !== 0,
        lifeLost: (flags & FLAG_LIFE_LOST) !== 0,
        // A view into this message's own buffer: no copy, and nothing else ever writes to it.
        frame: new Uint8Array(payload.buffer, payload.byteOffset + offset + STEP_HEADER_BYTES, frameBytes),
      });
      offset += STEP_HEADER_BYTES + frameBytes;
    }
    return steps;
  }

  /** @internal */
  async closeEnv(env: AtariEnv): Promise<void> {
    this.envs.delete(env);
    if (!this.alive) return;
    const payload = Buffer.allocUnsafe(2);
    payload.writeUInt16LE(env.id, 0);
    await this.request(OP_CLOSE_ENV, payload);
  }

  /** The environment's current RGB screen (ALE's getScreenRGB), as raw bytes. */
  async screenRGB(env: AtariEnv): Promise<ScreenRGB> {
    const reply = await this.request(OP_SCREEN, envIdPayload(env));
    const height = reply.readUInt16LE(0);
    const width = reply.readUInt16LE(2);
    return { height, width, data: new Uint8Array(reply.buffer, reply.byteOffset + 4, height * width * 3) };
  }

  /**
   * From now on the server writes the RGB screen of every emulator frame of `env` (its resets, no-op starts and
   * each frame of every step) into the video file `options.path`, until stopRecording. Refused (EmulatorRequestError)
   * for another extension, a missing directory, or a codec this OpenCV cannot write. A restart after a crash ends
   * the recording (the file is then incomplete).
   */
  async startRecording(env: AtariEnv, options: RecordingOptions): Promise<RecordingStarted> {
    const request = { envId: env.id, path: options.path, fps: options.fps ?? 60, scale: options.scale ?? 1 };
    return JSON.parse((await this.request(OP_RECORD_START, Buffer.from(JSON.stringify(request)))).toString('utf8'));
  }

  /** Ends `env`'s recording and closes the file (complete once this resolves). */
  async stopRecording(env: AtariEnv): Promise<RecordingStopped> {
    return JSON.parse((await this.request(OP_RECORD_STOP, envIdPayload(env))).toString('utf8'));
  }

  /**
   * Starts a fresh process after a crash and re-creates every open environment in it (same game and settings, a
   * seed moved on by the restart count so the new process does not replay the old one's randomness). The
   * environments must be reset before they are stepped again.
   */
  async restart(): Promise<void> {
    this.kill();
    this.restarts += 1;
    await this.spawn();
    for (const env of this.envs) {
      const config = { ...env.config, seed: env.config.seed + 1_000_003 * this.restarts };
      const reply = JSON.parse((await this.request(OP_CREATE, Buffer.from(JSON.stringify(config)))).toString('utf8'));
      env.rebind(reply.envId);
    }
  }

  private kill(): void {
    const shell = this.shell;
    liveShells.delete(shell);
    if (shell.exitCode === undefined && shell.exitSignal === undefined) shell.childProcess.kill('SIGKILL');
  }

  /** Ends the process: closes its stdin (it exits by itself), then SIGKILL if it has not gone within a second. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const shell = this.shell;
    const child = shell.childProcess;
    if (child.exitCode !== null || child.signalCode !== null) {
      liveShells.delete(shell);
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
      shell.once('close', () => { clearTimeout(timer); resolve(); });
      shell.stdin.end();
    });
  }
}

/** One Atari game inside an AleBridge process. */
export class AtariEnv {
  readonly game: string;
  readonly numActions: number;
  readonly frameBytes: number;

  /** @internal */
  constructor(private readonly bridge: AleBridge, private envId: number, readonly config: Required<Omit<EnvSpec, 'mode' | 'difficulty'>> & EnvSpec, readonly actionNames: string[]) {
    this.game = config.game;
    this.numActions = actionNames.length;
    this.frameBytes = config.screenSize * config.screenSize;
  }

  get id(): number {
    return this.envId;
  }

  /** @internal */
  rebind(envId: number): void {
    this.envId = envId;
  }

  async reset(): Promise<EnvStep> {
    return (await this.bridge.reset([this]))[0];
  }

  async step(action: number): Promise<EnvStep> {
    return (await this.bridge.step([this], [action]))[0];
  }

  screenRGB(): Promise<ScreenRGB> {
    return this.bridge.screenRGB(this);
  }

  startRecording(options: RecordingOptions): Promise<RecordingStarted> {
    return this.bridge.startRecording(this, options);
  }

  stopRecording(): Promise<RecordingStopped> {
    return this.bridge.stopRecording(this);
  }

  close(): Promise<void> {
    return this.bridge.closeEnv(this);
  }
}

function envIdPayload(env: AtariEnv): Buffer {
  const payload = Buffer.allocUnsafe(2);
  payload.writeUInt16LE(env.id, 0);
  return payload;
}

function validateSpec(spec: EnvSpec): AtariEnv['config'] {
  const config = { ...DOPAMINE_PROTOCOL, ...spec, game: resolveGame(spec.game) };
  const checks: [boolean, string][] = [
    [Number.isSafeInteger(config.seed) && config.seed >= 0, `seed must be a non-negative integer, got ${config.seed}`],
    [config.repeatActionProbability >= 0 && config.repeatActionProbability < 1, `repeatActionProbability must be in [0, 1), got ${config.repeatActionProbability}`],
    [Number.isInteger(config.frameSkip) && config.frameSkip >= 1, `frameSkip must be an integer >= 1, got ${config.frameSkip}`],
    [Number.isInteger(config.maxEpisodeSteps) && config.maxEpisodeSteps >= 1, `maxEpisodeSteps must be an integer >= 1, got ${config.maxEpisodeSteps}`],
    [Number.isInteger(config.noopMax) && config.noopMax >= 0, `noopMax must be an integer >= 0, got ${config.noopMax}`],
    [Number.isInteger(config.screenSize) && config.screenSize >= 8 && config.screenSize <= 210, `screenSize must be an integer in [8, 210], got ${config.screenSize}`],
  ];
  for (const [ok, message] of checks) if (!ok) throw new RangeError(message);
  return config;
}
