// Evaluation environments spread over several emulator processes (envs/bridge_pool.ts), against the real emulator:
// the number of processes changes no frame or reward, and a killed process is recovered in the pool and in a run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import seedrandom from 'seedrandom';
import { AleBridge, EmulatorCrashedError, type AtariEnv, type EnvStep } from '../envs/ale_bridge.ts';
import { BridgePool } from '../envs/bridge_pool.ts';
import { resolveRunConfig } from '../src/run/presets.ts';
import { ProgressReporter } from '../src/run/progress.ts';
import { trainRun } from '../src/run/trainer.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-pool-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ENVS = 4;
// Short episodes, so the trajectories include truncations and resets of some environments but not others.
const spec = (k: number) => ({ game: 'Pong', seed: 100 + k, maxEpisodeSteps: 45 });

interface Emulators {
  reset(envs: readonly AtariEnv[]): Promise<EnvStep[]>;
  step(envs: readonly AtariEnv[], actions: ArrayLike<number>): Promise<EnvStep[]>;
}

/** Steps all environments together with seeded random actions, resetting the ones that end; per env: frames, rewards. */
async function trajectories(emulators: Emulators, envs: AtariEnv[], steps: number): Promise<{ frames: Buffer; rewards: number[] }[]> {
  const random = seedrandom('pool-actions');
  const out = envs.map(() => ({ frames: [] as Uint8Array[], rewards: [] as number[] }));
  (await emulators.reset(envs)).forEach((r, k) => out[k].frames.push(r.frame));
  for (let t = 0; t < steps; t++) {
    const actions = envs.map((env) => Math.floor(random() * env.numActions));
    const results = await emulators.step(envs, actions);
    const ended: number[] = [];
    results.forEach((r, k) => {
      out[k].frames.push(r.frame);
      out[k].rewards.push(r.reward);
      if (r.terminal || r.truncated) ended.push(k);
    });
    // Reset as a subset in another order than the envs' own, so the answers must be put back in place.
    ended.reverse();
    if (ended.length) (await emulators.reset(ended.map((k) => envs[k]))).forEach((r, i) => out[ended[i]].frames.push(r.frame));
  }
  return out.map((o) => ({ frames: Buffer.concat(o.frames), rewards: o.rewards }));
}

async function poolTrajectories(processes: number, steps: number) {
  const pool = await BridgePool.start(processes);
  try {
    const envs = await Promise.all(Array.from({ length: ENVS }, (_, k) => pool.createEnv(spec(k))));
    return { pids: pool.pids, runs: await trajectories(pool, envs, steps) };
  } finally {
    await pool.close();
  }
}

/** Pids of this process's emulator children; `newest`: only the most recently started one. */
function emulatorChildren(newest = false): number[] {
  const out = execFileSync('pgrep', [...(newest ? ['-n'] : []), '-P', String(process.pid), '-f', 'ale_server.py'], { encoding: 'utf8' });
  return out.trim().split('\n').map(Number);
}

describe('bridge pool', () => {
  it('gives every environment the same frames and rewards with 1 process, 2 processes, or one plain bridge', async () => {
    const steps = 120;
    const one = await poolTrajectories(1, steps);
    const two = await poolTrajectories(2, steps);
    expect(new Set(two.pids).size).toBe(2);
    // Today's layout: one bridge that also hosts another environment (the training env) first.
    const bridge = await AleBridge.start();
    let plain;
    try {
      await bridge.createEnv({ game: 'Pong', seed: 7 });
      const envs = [];
      for (let k = 0; k < ENVS; k++) envs.push(await bridge.createEnv(spec(k)));
      plain = await trajectories(bridge, envs, steps);
    } finally {
      await bridge.close();
    }
    for (let k = 0; k < ENVS; k++) {
      expect(two.runs[k].frames.equals(one.runs[k].frames), `env ${k} frames`).toBe(true);
      expect(two.runs[k].rewards, `env ${k} rewards`).toEqual(one.runs[k].rewards);
      expect(plain[k].frames.equals(one.runs[k].frames), `env ${k} frames, plain bridge`).toBe(true);
      expect(plain[k].rewards).toEqual(one.runs[k].rewards);
    }
    // The comparison has teeth: the environments' own seeds make their games differ.
    expect(one.runs[0].frames.equals(one.runs[1].frames)).toBe(false);
  });

  it('reports a killed process as EmulatorCrashedError, and restart() brings every process back', async () => {
    const pool = await BridgePool.start(2);
    try {
      const envs = await Promise.all(Array.from({ length: ENVS }, (_, k) => pool.createEnv(spec(k))));
      await pool.reset(envs);
      await pool.step(envs, [0, 1, 2, 3]);
      const [survivor, victim] = pool.pids as number[];
      process.kill(victim, 'SIGKILL');
      await expect(pool.step(envs, [0, 1, 2, 3])).rejects.toThrow(EmulatorCrashedError);
      await pool.restart();
      // Both processes are new: the survivor's games would otherwise go on mid-way after a reset.
      expect(pool.pids).not.toContain(victim);
      expect(pool.pids).not.toContain(survivor);
      const fresh = await pool.reset(envs);
      expect(fresh.map((r) => r.episodeSteps)).toEqual([0, 0, 0, 0]);
      expect((await pool.step(envs, [1, 1, 1, 1])).map((r) => r.episodeSteps)).toEqual([1, 1, 1, 1]);
    } finally {
      await pool.close();
    }
  });

  it('refuses an environment it does not host and a wrong number of actions', async () => {
    const pool = await BridgePool.start(1);
    const bridge = await AleBridge.start();
    try {
      const mine = await pool.createEnv(spec(0));
      const other = await bridge.createEnv(spec(0));
      await expect(pool.reset([mine, other])).rejects.toThrow(/not created by this pool/);
      await expect(pool.step([mine], [0, 1])).rejects.toThrow(/1 environments but 2 actions/);
    } finally {
      await Promise.all([pool.close(), bridge.close()]);
    }
  });
});

describe('a run whose evaluation processes die', () => {
  const config = resolveRunConfig({
    game: 'pong', seed: 6, preset: 'smoke', iterations: 1, trainingSteps: 60, evalSteps: 240, evalEnvs: 4,
  });
  const runWith = async (evalProcesses: number, name: string, onEval?: () => void) => {
    const lines: string[] = [];
    const progress = new ProgressReporter({
      tty: false, plainEverySeconds: 0,
      write: (text) => {
        lines.push(text);
        if (onEval && / eval \| /.test(text)) onEval();
      },
    });
    const outDir = path.join(tmp, name);
    const result = await trainRun({ config, outDir, stop: { requested: null }, progress, evalProcesses });
    const metrics = fs.readFileSync(path.join(outDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    return { result, output: lines.join(''), metrics };
  };

  it('evaluates the same with 1 and 2 processes, and recovers when one is killed mid-evaluation', async () => {
    const one = await runWith(1, 'one');
    const two = await runWith(2, 'two');
    expect(two.output).toMatch(/240 evaluation steps on 4 envs in 2 emulator processes/);
    const evals = (r: typeof one) => r.metrics.map((m) => [m.eval_episodes, m.eval_return_mean, m.eval_return_std, m.loss_mean]);
    expect(evals(two)).toEqual(evals(one));

    let killed = 0;
    const crashed = await runWith(2, 'killed', () => {
      if (killed) return;
      // The newest emulator child: one of the pool's two (the training bridge started first).
      [killed] = emulatorChildren(true);
      process.kill(killed, 'SIGKILL');
    });
    expect(killed).toBeGreaterThan(0);
    expect(crashed.result.status, crashed.output).toBe('completed');
    expect(crashed.output).toMatch(/warning: the emulator died during evaluation .*killed by SIGKILL.*restarting it and dropping the episode/);
    expect(crashed.metrics[0].emulator_restarts).toBe(1);
    expect(crashed.metrics[0].eval_episodes).toBeGreaterThan(0);
    // Nothing is left running: the run closed the restarted processes too.
    expect(() => emulatorChildren()).toThrow(); // pgrep exits 1 when it finds nothing
  }, 300_000);
});
