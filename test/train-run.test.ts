// End-to-end DQN runs through the real command line, the real emulator and TensorFlow, on the smoke preset:
// the files a run writes, resume after SIGKILL and after SIGTERM, determinism per seed, a dead emulator, divergence,
// and every bad input refused before work starts.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findLatestCheckpoint } from '../src/run/checkpoints.ts';
import { resolveRunConfig } from '../src/run/presets.ts';
import { ProgressReporter } from '../src/run/progress.ts';
import { trainRun } from '../src/run/trainer.ts';
import * as tf from '../src/tf.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-train-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

interface Started {
  pid: number;
  done: Promise<Finished>;
  output: () => string;
}

function start(args: string[], env: NodeJS.ProcessEnv = {}): Started {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/atari.ts', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const done = new Promise<Finished>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, output })));
  return { pid: child.pid!, done, output: () => output };
}

const atari = (...args: string[]) => start(args).done;

function metrics(dir: string): Array<Record<string, any>> {
  const file = path.join(dir, 'metrics.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const summary = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 240_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Steps of iteration 1's training phase in the newest progress line (the runs log every 0.2 s). */
function trainSteps(output: string): number {
  const matches = [...output.matchAll(/iter 1\/2 train \| (\d+)\//g)];
  return matches.length ? Number(matches[matches.length - 1][1]) : 0;
}

const SMOKE = ['--game', 'Pong', '--preset', 'smoke'];

describe('a DQN run (smoke preset, real emulator)', () => {
  const first = path.join(tmp, 'first');
  let firstMetrics: Array<Record<string, any>> = [];

  it('writes config, metrics, summary and checkpoints; rerunning a completed run changes nothing', async () => {
    const run = await atari(...SMOKE, '--optimizer', 'adamw', '--wd', '1e-3', '--seed', '3', '--out', first, '--tensorboard');
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/iteration 2\/2: train return/);
    // Its first line says how much memory it needs (a run the kernel kills for memory then has said so in its log).
    expect(run.output).toMatch(/^\S+ memory: this run needs ~0\.9 GiB \(its replay memory of 2,000 transitions, plus ~1 GB\); this machine has [\d.]+ GiB$/m);
    // ... then its forecast and, for a decoupled scheme, what its budget's decay can show; at the end what to do next.
    expect(run.output).toMatch(/^\S+ forecast: 400 training steps \(2 × 200\) \+ 200 evaluation steps, ~\d+s at an assumed 45 steps\/s/m);
    expect(run.output).toMatch(/^\S+ decoupled decay \(adamw λ=0\.001\): total decay factor 1\.0000 .*--match-paper-decay scales λ/m);
    expect(run.output).toMatch(/^\S+ next: npm run baseline -- \S+ \(against Dopamine's published curves\); npm run play -- \S+ \(watch it\)$/m);
    // TensorBoard event file (TFRecord of Event protos): the scalars' tags are in it.
    const events = fs.readdirSync(path.join(first, 'events'));
    expect(events).toHaveLength(1);
    const eventBytes = fs.readFileSync(path.join(first, 'events', events[0])).toString('latin1');
    // Grouped tags; the loss every 50 steps here (a quarter of an iteration) and every episode's return, as they come.
    for (const tag of ['train/return_mean', 'train/loss_iteration_mean', 'optim/weight_norm', 'optim/m_over_w_log10/p50', 'perf/steps_per_second', 'eval/return_mean']) {
      expect(eventBytes).toContain(tag);
    }
    const count = (tag: string) => eventBytes.split(tag).length - 1;
    expect(count('train/loss') - count('train/loss_iteration_mean')).toBeGreaterThanOrEqual(4);
    expect(count('train/episode_return')).toBe(metrics(first).reduce((n, m) => n + m.train_episodes, 0));
    expect(count('eval/episode_return')).toBe(metrics(first).reduce((n, m) => n + m.eval_episodes, 0));
    const config = JSON.parse(fs.readFileSync(path.join(first, 'config.json'), 'utf8'));
    expect(config.config).toMatchObject({ game: 'pong', seed: 3, preset: 'smoke', iterations: 2, trainingSteps: 200, agent: { optimizer: { name: 'adamw', weightDecay: 1e-3 } } });
    expect(config.environment).toMatchObject({ node: process.version, tfjs: '4.22.0', alepy: '0.12.1' });
    expect(config.environment.gitCommit).toMatch(/^[0-9a-f]{40}$/);
    firstMetrics = metrics(first);
    expect(firstMetrics.map((m) => m.iteration)).toEqual([0, 1]);
    for (const m of firstMetrics) {
      // Whole episodes of at most 100 steps until at least 200 steps.
      expect(m.env_steps).toBeGreaterThanOrEqual(200 * (m.iteration + 1));
      expect(m.train_episodes).toBeGreaterThanOrEqual(2);
      expect(Number.isFinite(m.train_return_mean)).toBe(true);
      expect(m.eval_episodes).toBeGreaterThanOrEqual(2);
      expect(Number.isFinite(m.eval_return_mean)).toBe(true);
      expect(m.loss_mean).toBeGreaterThan(0);
      expect(m.sps).toBeGreaterThan(0);
      expect(m.weight_norm).toBeGreaterThan(0);
      expect(m.m_over_w_log10.p50).toBeLessThan(m.m_over_w_log10.p95);
      // adamw at λ > 0 reports how the decay compares with the gradient.
      expect(m.wd_to_grad_median).toBeGreaterThan(0);
    }
    expect(summary(first)).toMatchObject({ status: 'completed', game: 'pong', optimizer: 'adamw', weight_decay: 1e-3, seed: 3, iterations_completed: 2, final_train_return_mean: firstMetrics[1].train_return_mean });
    const ckpt = findLatestCheckpoint(first);
    expect(ckpt?.iteration).toBe(1);
    const loaded = ckpt!.load();
    expect(loaded.tensors.has('online/conv1/kernel')).toBe(true);
    expect(loaded.tensors.has('optimizer/conv1/kernel/m')).toBe(true);

    const again = await atari(...SMOKE, '--optimizer', 'adamw', '--wd', '1e-3', '--seed', '3', '--out', first);
    expect(again.code).toBe(0);
    expect(again.output).toMatch(/already holds this run, completed/);
    expect(metrics(first)).toEqual(firstMetrics);
  }, 300_000);

  it('is deterministic: the same seed and config give the same losses and returns', async () => {
    const second = path.join(tmp, 'second');
    const run = await atari(...SMOKE, '--optimizer', 'adamw', '--wd', '1e-3', '--seed', '3', '--out', second);
    expect(run.code, run.output).toBe(0);
    const strip = (ms: Array<Record<string, any>>) => ms.map((m) => [m.env_steps, m.loss_mean, m.train_return_mean, m.eval_return_mean, m.weight_norm, m.updates]);
    expect(strip(metrics(second))).toEqual(strip(firstMetrics));
  }, 300_000);

  it('resumes after SIGKILL at the right iteration, with the same config (--no-save-replay: refills and says so)', async () => {
    const dir = path.join(tmp, 'killed');
    const args = [...SMOKE, '--iterations', '3', '--seed', '1', '--out', dir, '--no-save-replay'];
    const run = start(args);
    await waitFor('the first checkpoint', () => findLatestCheckpoint(dir, { warn: () => {} }) !== null);
    process.kill(run.pid, 'SIGKILL');
    await run.done;
    const before = metrics(dir);
    expect(before.length).toBeLessThan(3);
    const resumed = await atari(...args);
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.output).toMatch(/resuming/);
    expect(resumed.output).toMatch(/warning: the checkpoint holds no replay memory .* refilling 50 transitions/);
    const after = metrics(dir);
    expect(after.map((m) => m.iteration)).toEqual([0, 1, 2]);
    expect(after.slice(0, before.length)).toEqual(before);
    expect(summary(dir)).toMatchObject({ status: 'completed', iterations_completed: 3, replay_refills: 1 });
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config.resumes).toHaveLength(1);
  }, 400_000);

  it('--resume refuses a checkpoint made under another config (config.json edited), writing nothing', async () => {
    const dir = path.join(tmp, 'edited');
    const run = start([...SMOKE, '--iterations', '3', '--seed', '8', '--out', dir]);
    await waitFor('the first checkpoint', () => findLatestCheckpoint(dir, { warn: () => {} }) !== null);
    process.kill(run.pid, 'SIGKILL');
    await run.done;
    const file = path.join(dir, 'config.json');
    const stored = JSON.parse(fs.readFileSync(file, 'utf8'));
    stored.config.seed = 5;
    stored.config.agent.gamma = 0.5;
    fs.writeFileSync(file, JSON.stringify(stored, null, 2));
    const before = fs.readFileSync(file, 'utf8');
    const resumed = await atari('--resume', '--out', dir);
    expect(resumed.code, resumed.output).toBe(1);
    expect(resumed.output).toMatch(/was made under another config than config\.json now holds \(agent\.gamma: 0\.99 → 0\.5; seed: 8 → 5\): config\.json was edited/);
    expect(fs.readFileSync(file, 'utf8')).toBe(before); // no resume entry recorded
  }, 300_000);

  it('on SIGTERM finishes the step, checkpoints mid-iteration and exits 0; --resume --out alone continues', async () => {
    const dir = path.join(tmp, 'terminated');
    const run = start([...SMOKE, '--seed', '2', '--out', dir, '--log-every', '0.2']);
    await waitFor('training progress', () => trainSteps(run.output()) > 60);
    // While it trains the run keeps an account of itself for the sweep's live view and --status.
    const live = JSON.parse(fs.readFileSync(path.join(dir, 'progress.json'), 'utf8'));
    expect(live).toMatchObject({ iteration: 0, iterations: 2, phase: 'train' });
    expect(live.runSteps).toBeGreaterThan(0);
    expect(Date.parse(live.updatedAt)).toBeGreaterThan(Date.now() - 60_000);
    process.kill(run.pid, 'SIGTERM');
    const stopped = await run.done;
    expect(stopped.code, stopped.output).toBe(0);
    expect(fs.existsSync(path.join(dir, 'progress.json'))).toBe(false); // only a running run has one
    expect(stopped.output).toMatch(/SIGTERM: finishing the current step/);
    expect(stopped.output).toMatch(/checkpoint written partway through iteration 1/);
    expect(summary(dir).status).toBe('interrupted');
    const ckpt = findLatestCheckpoint(dir)!;
    expect(ckpt.iteration).toBe(0);
    const state = ckpt.load().state as { partial: { trainSteps: number } | null };
    expect(state.partial?.trainSteps).toBeGreaterThan(0);
    // The replay memory travels with the newest checkpoint only (older ones drop theirs).
    expect(fs.existsSync(path.join(ckpt.extraDir!, 'replay'))).toBe(true);
    const ckptRoot = path.join(dir, 'checkpoints');
    expect(fs.readdirSync(ckptRoot).filter((d) => fs.existsSync(path.join(ckptRoot, d, 'extra')))).toEqual([path.basename(ckpt.dir)]);

    const resumed = await atari('--resume', '--out', dir);
    expect(resumed.code, resumed.output).toBe(0);
    expect(resumed.output).toMatch(/resuming partway through iteration 1/);
    // What is left, not the whole budget (smoke: 2 × 200 training steps, 2 evaluation phases).
    const done = Number(/resuming partway through iteration 1 \(\S+ steps done\), (\d+) training steps so far/.exec(resumed.output)?.[1]);
    expect(resumed.output).toContain(`training steps so far; ${400 - done} training steps left (+ 2 evaluation phases), ~`);
    // The transitions of the interrupted session are back (one per agent step taken before the stop).
    const restored = Number(/replay memory restored from the checkpoint: (\d+) transitions/.exec(resumed.output)?.[1]);
    expect(restored).toBeGreaterThanOrEqual(state.partial!.trainSteps);
    expect(resumed.output).not.toMatch(/refilling/);
    expect(metrics(dir).map((m) => m.iteration)).toEqual([0, 1]);
    expect(summary(dir)).toMatchObject({ status: 'completed', replay_refills: 0 });
    // A completed run is not resumed: its checkpoints no longer carry the replay memory.
    expect(fs.readdirSync(ckptRoot).filter((d) => fs.existsSync(path.join(ckptRoot, d, 'extra')))).toEqual([]);
  }, 400_000);

  it('survives the emulator being killed: restarts it, drops the episode and logs it', async () => {
    const dir = path.join(tmp, 'emulator');
    const run = start([...SMOKE, '--seed', '4', '--out', dir, '--log-every', '0.2']);
    await waitFor('training progress', () => trainSteps(run.output()) > 30);
    // -o: the oldest emulator child, the training env's (the evaluation envs' processes start after it).
    const python = execFileSync('pgrep', ['-o', '-P', String(run.pid), '-f', 'ale_server.py'], { encoding: 'utf8' }).trim();
    process.kill(Number(python), 'SIGKILL');
    const done = await run.done;
    expect(done.code, done.output).toBe(0);
    expect(done.output).toMatch(/warning: the emulator died during a training episode .*restarting it and dropping the episode/);
    expect(metrics(dir)[0].emulator_restarts).toBe(1);
    expect(summary(dir).status).toBe('completed');
  }, 300_000);

  /** The training env's emulator: the oldest ale_server.py child of the run (evaluation processes start later). */
  const trainingEmulator = (pid: number) => Number(execFileSync('pgrep', ['-o', '-P', String(pid), '-f', 'ale_server.py'], { encoding: 'utf8' }).trim());

  it('a hung emulator (SIGSTOP) is abandoned after its deadline, restarted, and the run goes on', async () => {
    const dir = path.join(tmp, 'hung');
    const run = start([...SMOKE, '--seed', '6', '--out', dir, '--log-every', '0.2'], { WD_HARNESS_EMULATOR_TIMEOUT_S: '3' });
    await waitFor('training progress', () => trainSteps(run.output()) > 30);
    process.kill(trainingEmulator(run.pid), 'SIGSTOP');
    const done = await run.done;
    expect(done.code, done.output).toBe(0);
    expect(done.output).toMatch(/warning: the emulator died during a training episode \(The ALE emulator process stopped \(did not answer within \d+ s/); // 3 s, or 100× the slowest reply under load
    expect(metrics(dir)[0].emulator_restarts).toBe(1);
    expect(summary(dir).status).toBe('completed');
  }, 300_000);

  it('SIGTERM while the emulator hangs: checkpoints within seconds, without waiting for it', async () => {
    const dir = path.join(tmp, 'hung-stop');
    const run = start([...SMOKE, '--seed', '7', '--out', dir, '--log-every', '0.2']); // the default 60 s deadline
    await waitFor('training progress', () => trainSteps(run.output()) > 30);
    process.kill(trainingEmulator(run.pid), 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 500));
    const stoppedAt = Date.now();
    process.kill(run.pid, 'SIGTERM');
    const done = await run.done;
    expect(Date.now() - stoppedAt).toBeLessThan(20_000);
    expect(done.code, done.output).toBe(0);
    expect(done.output).toMatch(/did not answer after the stop request: abandoned it/);
    expect(done.output).toMatch(/checkpoint written partway through iteration 1/);
    expect(summary(dir).status).toBe('interrupted');
  }, 300_000);

  it('stops a diverging run with status diverged, the step, and exit code 3', async () => {
    const dir = path.join(tmp, 'diverged');
    // Adam moves each weight by about the learning rate per step: 1e30 overflows float32 within a few updates.
    const run = await atari(...SMOKE, '--lr', '1e30', '--out', dir);
    expect(run.code, run.output).toBe(3);
    expect(run.output).toMatch(/diverged: DQN diverged at training step \d+/);
    const s = summary(dir);
    expect(s.status).toBe('diverged');
    expect(s.diverged_at_step).toBeGreaterThan(50);
  }, 300_000);

  it('refuses bad input before any work, and never overwrites another config\'s results', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--game', 'Pongg'], /Unknown Atari game "Pongg"\. Did you mean Pong\?/],
      [['--game', 'Pong', '--optimizer', 'adamx'], /Unknown optimizer scheme "adamx"/],
      [['--game', 'Pong', '--preset', 'tiny'], /Unknown preset "tiny"\. Valid: dopamine, dopamine-tf, reduced, smoke/],
      [['--game', 'Pong', '--optimizer', 'adamw', '--wd', '-1'], /"-1" is not a weight decay λ: expected a decimal number >= 0/],
      [['--game', 'Pong', '--optimizer', 'adam', '--wd', '1e-4'], /'adam' has no weight decay/],
      [['--game', 'Pong', '--set', 'agent.gama=0.9'], /no such config key/],
      [['--resume', '--out', path.join(tmp, 'nothing-here')], /nothing to resume/],
    ];
    for (const [args, message] of cases) {
      const run = await atari(...args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.output, args.join(' ')).toMatch(message);
    }
    const first = path.join(tmp, 'first');
    const before = fs.readFileSync(path.join(first, 'metrics.jsonl'), 'utf8');
    const clash = await atari(...SMOKE, '--optimizer', 'adamw', '--wd', '1e-4', '--seed', '3', '--out', first);
    expect(clash.code).toBe(1);
    expect(clash.output).toMatch(/already holds a run with a different config[\s\S]*agent\.optimizer\.weightDecay/);
    expect(fs.readFileSync(path.join(first, 'metrics.jsonl'), 'utf8')).toBe(before);
  }, 300_000);

  it('leaks no tensors: a whole run in-process leaves the tensor count where it was', async () => {
    const config = resolveRunConfig({ game: 'pong', seed: 5, preset: 'smoke', iterations: 1 });
    const lines: string[] = [];
    const progress = new ProgressReporter({ tty: false, write: (t) => lines.push(t), plainEverySeconds: 1000 });
    const before = tf.memory().numTensors;
    const result = await trainRun({ config, outDir: path.join(tmp, 'in-process'), stop: { requested: null }, progress });
    expect(result.status).toBe('completed');
    expect(lines.join('')).toMatch(/iteration 1\/1/);
    expect(tf.memory().numTensors).toBe(before);
  }, 300_000);
});

describe('faults that cost a warning, not a run (in-process, smoke preset)', () => {
  function inProcess(name: string, options: Partial<Parameters<typeof trainRun>[0]> & { iterations?: number } = {}) {
    const { iterations = 1, ...rest } = options;
    const lines: string[] = [];
    const progress = new ProgressReporter({ tty: false, write: (t) => lines.push(t), plainEverySeconds: 1000 });
    const outDir = path.join(tmp, name);
    const config = resolveRunConfig({ game: 'pong', seed: 7, preset: 'smoke', iterations });
    return { outDir, lines, run: () => trainRun({ config, outDir, stop: { requested: null }, progress, ...rest }) };
  }

  it('a TensorBoard writer that fails to open, write or flush is one warning; TensorBoard is then off and the run completes', async () => {
    for (const failAt of ['open', 'scalar', 'flush'] as const) {
      let scalars = 0;
      let failed = false;
      let callsAfterFailure = 0;
      const call = (at: typeof failAt) => {
        if (failed) callsAfterFailure++;
        if (at === 'scalar') scalars++;
        // The scalar case fails at the third (an episode return or a loss), after some were written.
        if (!failed && at === failAt && (at !== 'scalar' || scalars === 3)) {
          failed = true;
          throw new Error('Invalid TF_Status: 8\nMessage: No space left on device');
        }
      };
      const { lines, run } = inProcess(`tensorboard-${failAt}`, {
        tensorboard: true,
        openScalarWriter: () => {
          call('open');
          return { scalar: () => call('scalar'), flush: () => call('flush') };
        },
      });
      const result = await run();
      expect(result.status, failAt).toBe('completed');
      const warnings = lines.join('').split('\n').filter((l) => /TensorBoard/.test(l));
      expect(warnings, failAt).toHaveLength(1);
      expect(warnings[0]).toMatch(/warning: TensorBoard logging failed \(Invalid TF_Status: 8\); it is off for the rest of this session/);
      expect(failed, failAt).toBe(true);
      expect(callsAfterFailure, failAt).toBe(0); // off once it failed
    }
  }, 300_000);

  it("summary.json never claims an iteration its checkpoint does not hold, whatever fails in between", async () => {
    // Between iteration 2's metrics and its checkpoint (during its TensorBoard scalars) the checkpoints directory is
    // replaced by a file, so that checkpoint fails, as on a full disk; the failed run's summary must say 1 iteration.
    let iterationScalars = 0;
    const { outDir, run } = inProcess('summary-order', {
      iterations: 2, tensorboard: true,
      openScalarWriter: () => ({
        scalar: (name) => {
          if (name === 'perf/iteration_seconds' && ++iterationScalars === 2) {
            fs.renameSync(path.join(outDir, 'checkpoints'), path.join(outDir, 'checkpoints-moved'));
            fs.writeFileSync(path.join(outDir, 'checkpoints'), 'not a directory');
          }
        },
        flush: () => {},
      }),
    });
    await expect(run()).rejects.toThrow();
    expect(metrics(outDir)).toHaveLength(2); // a resume truncates the second: its checkpoint does not exist
    const s = summary(outDir);
    expect(s).toMatchObject({ status: 'failed', iterations_completed: 1, env_steps: metrics(outDir)[0].env_steps, final_train_return_mean: metrics(outDir)[0].train_return_mean });
  }, 300_000);

  it('prints the resume command with the run directory quoted for a shell (a space, a quote, $(…))', async () => {
    // Stopped as training starts (the line naming the run directory is the last before the first step).
    const stop = { requested: null as string | null };
    const lines: string[] = [];
    const write = (t: string) => {
      lines.push(t);
      if (t.includes('run directory: ')) stop.requested = 'SIGTERM';
    };
    const progress = new ProgressReporter({ tty: false, write, plainEverySeconds: 1000 });
    const { outDir, run } = inProcess("it's a $(touch PWNED) run", { stop, progress });
    expect((await run()).status).toBe('interrupted');
    const command = lines.join('').match(/\(or: (npm run atari -- .*)\)\n/)?.[1];
    expect(command).toBeDefined();
    // The shell splits the printed command into its words: the last is the directory, unchanged, and nothing ran.
    const words = execFileSync('sh', ['-c', `printf '%s\\n' ${command!.replace(/^npm run atari -- /, '')}`], { cwd: tmp, encoding: 'utf8' });
    expect(words.split('\n').filter(Boolean)).toEqual(['--resume', '--out', outDir]);
    expect(fs.existsSync(path.join(tmp, 'PWNED'))).toBe(false);
  }, 300_000);
});
