// `npm run play` and `npm run atari -- --capture-video` end to end: a smoke run trained for a few seconds (with a
// video captured after its iteration), then played from its checkpoint with MP4 and WebM videos, each file reopened
// with OpenCV (frame count, size); the export's file; the emulator's recording leaving the game untouched; a
// recording cut off by failed writes never published; and the one-line errors for bad input (a checkpoint made under
// another config among them).
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import seedrandom from 'seedrandom';
import { CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AleBridge, type AtariEnv } from '../envs/ale_bridge.ts';
import { VENV_PYTHON } from '../src/paths.mjs';
import { buildPlayProgram, parsePlayArgs } from '../src/cli/play.ts';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { findLatestCheckpoint } from '../src/run/checkpoints.ts';
import { recordEpisode } from '../src/run/play.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const CHROMIUM = '/usr/bin/chromium';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-play-'));
const runDir = path.join(tmp, 'run');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(script: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output })));
}

/** Decodes a video with OpenCV: frames read, the container's frame count, size and fps. */
function probeVideo(file: string): { read: number; count: number; width: number; height: number; fps: number } {
  const script = [
    'import cv2, json, sys',
    'c = cv2.VideoCapture(sys.argv[1])',
    'n, size = 0, None',
    'while True:',
    '    ok, frame = c.read()',
    '    if not ok: break',
    '    n += 1; size = frame.shape',
    "print(json.dumps({'read': n, 'count': int(c.get(cv2.CAP_PROP_FRAME_COUNT)), 'width': size[1] if size else 0, 'height': size[0] if size else 0, 'fps': c.get(cv2.CAP_PROP_FPS)}))",
  ].join('\n');
  return JSON.parse(execFileSync(VENV_PYTHON, ['-c', script, file], { encoding: 'utf8' }));
}

const episodeLines = (output: string) => [...output.matchAll(/episode (\d+)\/\d+: return (-?[\d.]+), (\d+) steps/g)].map((m) => ({ return: Number(m[2]), steps: Number(m[3]) }));

beforeAll(async () => {
  // One short iteration: enough for gradient steps and a checkpoint; the video is captured after it.
  const run = await cli('src/cli/atari.ts', ['--game', 'Pong', '--preset', 'smoke', '--iterations', '1', '--training-steps', '100', '--eval-steps', '0', '--capture-video', '1', '--out', runDir]);
  if (run.code !== 0) throw new Error(`training failed:\n${run.output}`);
}, 240_000);

describe('npm run play', () => {
  let mp4Episodes: Array<{ return: number; steps: number }> = [];

  it('--capture-video wrote the iteration\'s episode next to its checkpoint, and no temp file', () => {
    const videos = fs.readdirSync(path.join(runDir, 'videos'));
    expect(videos).toEqual(['iter-000000.mp4']);
    expect(findLatestCheckpoint(runDir)?.iteration).toBe(0);
    const probe = probeVideo(path.join(runDir, 'videos', 'iter-000000.mp4'));
    // Smoke episodes are cut at 100 agent steps: 4 emulator frames each, plus the reset's screen.
    expect(probe).toMatchObject({ read: 401, count: 401, width: 160, height: 210, fps: 60 });
  });

  it('plays 2 episodes, prints returns, lengths and the mean, and records the first as MP4', async () => {
    const video = path.join(tmp, 'x.mp4');
    const run = await cli('src/cli/play.ts', [runDir, '--episodes', '2', '--video', video]);
    expect(run.code, run.output).toBe(0);
    mp4Episodes = episodeLines(run.output);
    expect(mp4Episodes).toHaveLength(2);
    expect(run.output).toMatch(/Pong: ckpt-000000 \(after 1 iterations, \d+ training steps\).*ε=0\.001, seed 0/);
    expect(run.output).toMatch(/mean return -?[\d.]+ over 2 episodes/);
    expect(run.output).toMatch(/video: .*x\.mp4 \((mp4v|avc1), 160x210, \d+ frames at 60 fps\)/);
    const probe = probeVideo(video);
    expect(probe).toMatchObject({ read: 4 * mp4Episodes[0].steps + 1, width: 160, height: 210, fps: 60 });
    expect(probe.count).toBe(probe.read);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 120_000);

  it('records WebM (VP8); the same seed plays the same episode, recorded or not', async () => {
    const video = path.join(tmp, 'x.webm');
    const run = await cli('src/cli/play.ts', [runDir, '--episodes', '1', '--video', video, '--checkpoint', '0', '--epsilon', '0.001']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/video: .*x\.webm \(VP80, 160x210/);
    const [episode] = episodeLines(run.output);
    expect(episode).toEqual(mp4Episodes[0]);
    const probe = probeVideo(video);
    expect(probe).toMatchObject({ read: 4 * episode.steps + 1, width: 160, height: 210 });
    // A WebM file: the EBML magic, DocType "webm", the VP8 codec id.
    const head = fs.readFileSync(video).subarray(0, 4096);
    expect(head.subarray(0, 4).toString('hex')).toBe('1a45dfa3');
    expect(head.includes(Buffer.from('webm'))).toBe(true);
    expect(head.includes(Buffer.from('V_VP8'))).toBe(true);
    // And Chromium plays it: a page probes a <video> of it and writes what the browser decoded into the DOM.
    if (!fs.existsSync(CHROMIUM)) {
      const why = `${CHROMIUM} is missing: run \`bash scripts/install-system-packages.sh\` (Debian's chromium package)`;
      if (process.env.CI) throw new Error(why);
      console.warn(`not checking the WebM in a browser: ${why}`);
      return;
    }
    const page = path.join(tmp, 'probe.html');
    fs.writeFileSync(page, `<pre id="out">pending</pre><script>
      const v = document.createElement('video'); v.muted = true; v.src = 'x.webm';
      v.onloadeddata = () => { document.getElementById('out').textContent = 'playable ' + v.videoWidth + 'x' + v.videoHeight + ' ' + v.duration.toFixed(2); };
      v.onerror = () => { document.getElementById('out').textContent = 'error ' + (v.error && v.error.code); };
      document.body.appendChild(v);</script>`);
    const profile = fs.mkdtempSync(path.join(tmp, 'chromium-profile-'));
    const dom = execFileSync(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`,
      '--allow-file-access-from-files', '--virtual-time-budget=10000', '--dump-dom', `file://${page}`], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] });
    // 4 emulator frames per agent step and the reset screen, at 60 frames/s.
    expect(dom).toContain(`playable 160x210 ${((4 * episode.steps + 1) / 60).toFixed(2)}`);
  }, 120_000);

  it('--export writes the online network as safetensors, the weights transposed from the checkpoint', async () => {
    const file = path.join(tmp, 'pong.safetensors');
    const run = await cli('src/cli/play.ts', [runDir, '--export', file]);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/10 tensors .*conv1\.weight \[32,4,8,8\].*fc2\.weight \[6,512\].*from ckpt-000000/);
    const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file));
    expect(metadata).toMatchObject({ game: 'pong', scheme: 'adam', weight_decay: '0', seed: '0', iteration: '0', iterations_completed: '1', num_actions: '6', preset: 'smoke', padding: 'same' });
    const checkpoint = findLatestCheckpoint(runDir)!.load().tensors;
    expect([...tensors.get('fc2.bias')!.data]).toEqual([...checkpoint.get('online/dense2/bias')!.data]);
    // conv1.weight[o, c, i, j] = kernel[i, j, c, o]
    const kernel = checkpoint.get('online/conv1/kernel')!.data;
    const oihw = tensors.get('conv1.weight')!.data;
    for (const [o, c, i, j] of [[0, 0, 0, 0], [31, 3, 7, 7], [5, 2, 1, 6]]) expect(oihw[((o * 4 + c) * 8 + i) * 8 + j]).toBe(kernel[((i * 8 + j) * 4 + c) * 32 + o]);
  }, 60_000);
});

describe('the emulator\'s recording', () => {
  it('changes nothing the agent sees, and answers RGB screens as raw bytes', async () => {
    const bridge = await AleBridge.start();
    try {
      const play = async (env: AtariEnv) => {
        const random = seedrandom('rec');
        const frames = [Buffer.from((await env.reset()).frame)];
        for (let t = 0; t < 40; t++) frames.push(Buffer.from((await env.step(Math.floor(random() * env.numActions))).frame));
        return Buffer.concat(frames);
      };
      const plain = await bridge.createEnv({ game: 'breakout', seed: 5 });
      const recorded = await bridge.createEnv({ game: 'breakout', seed: 5 });
      const file = path.join(tmp, 'breakout.mp4');
      expect(await recorded.startRecording({ path: file, scale: 2 })).toMatchObject({ width: 320, height: 420 });
      const withVideo = await play(recorded);
      expect(await recorded.stopRecording()).toMatchObject({ frames: 161, width: 320, height: 420 });
      expect((await play(plain)).equals(withVideo)).toBe(true);
      expect(probeVideo(file)).toMatchObject({ read: 161, width: 320, height: 420 });
      const screen = await plain.screenRGB();
      expect([screen.height, screen.width, screen.data.length]).toEqual([210, 160, 210 * 160 * 3]);
      expect(new Set(screen.data).size).toBeGreaterThan(2);
      await expect(plain.startRecording({ path: path.join(tmp, 'x.avi') })).rejects.toThrow(/must end in \.mp4 or \.webm/);
      await expect(plain.stopRecording()).rejects.toThrow(/is not recording/);
    } finally {
      await bridge.close();
    }
  }, 60_000);
});

describe('a failed recording', () => {
  it('a video cut off by writes that failed unreported (a file size limit here, as a full disk) is refused naming the cause, and leaves no file', async () => {
    // OpenCV's writer reports no I/O error. RLIMIT_FSIZE (ulimit -f, 512-byte blocks in sh) makes every write past
    // 64 KiB fail with EFBIG, as a full disk fails them with ENOSPC; Python ignores the SIGXFSZ that comes with it.
    const python = path.join(tmp, 'python-fsize-limited');
    fs.writeFileSync(python, `#!/bin/sh\nulimit -f 128\nexec ${VENV_PYTHON} "$@"\n`, { mode: 0o755 });
    const bridge = await AleBridge.start({ pythonPath: python });
    try {
      const env = await bridge.createEnv({ game: 'breakout', seed: 1, maxEpisodeSteps: 300 });
      const dir = path.join(tmp, 'limited');
      const random = seedrandom('cut-off');
      await expect(recordEpisode(env, () => Math.floor(random() * env.numActions), path.join(dir, 'episode.mp4')))
        .rejects.toThrow(/the video \S+ is incomplete: \d+ of \d+ frames can be read back.*a write failed, which OpenCV does not report: disk full/);
      expect(fs.readdirSync(dir)).toEqual([]); // neither the video nor its temp file
    } finally {
      await bridge.close();
    }
  }, 60_000);

  it('never records into a file or link already at its name', async () => {
    const bridge = await AleBridge.start();
    try {
      const env = await bridge.createEnv({ game: 'breakout', seed: 1 });
      const link = path.join(tmp, 'linked.mp4');
      const target = path.join(tmp, 'link-target.mp4');
      fs.symlinkSync(target, link); // dangling: following it would create the target
      await expect(env.startRecording({ path: link })).rejects.toThrow(/cannot record .*linked\.mp4.*: something is already there/);
      expect(fs.existsSync(target)).toBe(false);
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true);
    } finally {
      await bridge.close();
    }
  }, 60_000);
});

describe('play command line errors', () => {
  function parseError(...argv: string[]): string {
    const program = buildPlayProgram().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    try {
      parsePlayArgs(argv, program);
    } catch (error) {
      if (error instanceof CommanderError) return error.message;
      throw error;
    }
    throw new Error('expected a usage error');
  }

  it('says in one line what is wrong', () => {
    const noCheckpoint = path.join(tmp, 'fresh');
    fs.mkdirSync(noCheckpoint, { recursive: true });
    fs.copyFileSync(path.join(runDir, 'config.json'), path.join(noCheckpoint, 'config.json'));
    const cases: Array<[string[], RegExp]> = [
      [[path.join(tmp, 'missing')], /does not exist or is not a directory/],
      [[tmp], /is not a run directory: it has no config\.json/],
      [[noCheckpoint], /has no complete checkpoint yet/],
      [[runDir, '--checkpoint', 'newest'], /Expected "latest" or a checkpoint number N/],
      [[runDir, '--checkpoint', '7'], /--checkpoint 7: there is no checkpoint ckpt-000007 \(available: 0\)/],
      [[runDir, '--video', 'x.avi'], /ending in \.mp4 or \.webm, got "x\.avi"/],
      [[runDir, '--video', path.join(tmp, 'nowhere', 'x.mp4')], /the directory .*nowhere does not exist/],
      [[runDir, '--export', 'x.pt'], /ending in \.safetensors, got "x\.pt"/],
      [[runDir, '--export', 'x.safetensors', '--video', 'x.mp4'], /--export writes the network and plays nothing; drop --video/],
      [[runDir, '--episodes', '0'], /Expected a whole number >= 1, got "0"/],
      [[runDir, '--epsilon', '1.5'], /Expected a probability.*got "1\.5"/],
      [[runDir, '--seed', '-1'], /Expected a whole number >= 0, got "-1"/],
    ];
    for (const [argv, message] of cases) {
      const text = parseError(...argv);
      expect(text, argv.join(' ')).toMatch(message);
      expect(text.trim().split('\n'), argv.join(' ')).toHaveLength(1);
    }
    expect(parsePlayArgs([runDir], buildPlayProgram().exitOverride())).toMatchObject({ kind: 'play', episodes: 3, epsilon: 0.001, seed: 0, video: null });
  });

  it('refuses a checkpoint made under another config than the run\'s (copied from another run), for play and --export', () => {
    const changes: Array<[string, (config: { game: string; seed: number; iterations: number; agent: { padding: string; optimizer: { name: string } } }) => void]> = [
      ['game', (c) => { c.game = 'space_invaders'; }], // as many actions as Pong: the network's shape cannot tell
      ['agent.padding', (c) => { c.agent.padding = 'valid'; }],
      ['agent.optimizer.name', (c) => { c.agent.optimizer.name = 'adamw'; }],
      ['seed', (c) => { c.seed = 7; }],
      ['iterations', (c) => { c.iterations += 5; }], // a key a resume may change: not a mismatch
    ];
    for (const [key, change] of changes) {
      const dir = path.join(tmp, `mismatch-${key}`);
      fs.cpSync(runDir, dir, { recursive: true });
      const file = path.join(dir, 'config.json');
      const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
      change(stored.config);
      fs.writeFileSync(file, JSON.stringify(stored));
      for (const extra of [[], ['--export', 'x.safetensors']]) {
        if (key === 'iterations') {
          expect(parsePlayArgs([dir, ...extra], buildPlayProgram().exitOverride()).checkpoint.iteration).toBe(0);
          continue;
        }
        const text = parseError(dir, ...extra);
        expect(text, key).toMatch(new RegExp(`the checkpoint .*ckpt-000000 was made under another config than .*config\\.json holds \\(checkpoint → config\\.json: ${key.replace(/\./g, '\\.')}: `));
        expect(text.trim().split('\n'), key).toHaveLength(1);
      }
    }
  });

  it('exits 1 with the message from the real command line', async () => {
    const run = await cli('src/cli/play.ts', [tmp]);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/^error: .* is not a run directory: it has no config\.json$/m);
  }, 60_000);
});
