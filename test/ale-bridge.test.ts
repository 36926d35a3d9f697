// The ALE bridge against the real emulator: determinism, frames, episodes, sticky actions, faults.
import { execFileSync, spawn } from 'node:child_process';
import fs, { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import seedrandom from 'seedrandom';
import { AleBridge, EmulatorCrashedError, EmulatorRequestError, NATURE_PROTOCOL, type AtariEnv } from '../envs/ale_bridge.ts';
import { ALE_ROM_IDS, UnknownGameError } from '../envs/games.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

/** True while a process with this pid exists and is not a zombie waiting to be reaped. */
function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return condition();
}

/** Plays `steps` steps with actions from a seeded generator; returns every frame and reward, concatenated. */
async function trajectory(env: AtariEnv, actionSeed: string, steps: number): Promise<{ frames: Buffer; rewards: number[] }> {
  const random = seedrandom(actionSeed);
  const frames: Uint8Array[] = [(await env.reset()).frame];
  const rewards: number[] = [];
  for (let t = 0; t < steps; t++) {
    const step = await env.step(Math.floor(random() * env.numActions));
    frames.push(step.frame);
    rewards.push(step.reward);
    if (step.terminal || step.truncated) frames.push((await env.reset()).frame);
  }
  return { frames: Buffer.concat(frames), rewards };
}

describe('ALE bridge', () => {
  let bridge: AleBridge;
  beforeAll(async () => {
    bridge = await AleBridge.start();
  });
  afterAll(async () => {
    await bridge.close();
  });

  it('ships the same games as the installed ale-py', async () => {
    const probe = execFileSync(path.join(ROOT, '.venv/bin/python'), ['-c', 'from ale_py import roms; print("\\n".join(roms.get_all_rom_ids()))'], { encoding: 'utf8' });
    expect([...ALE_ROM_IDS].sort()).toEqual(probe.trim().split('\n').sort());
  });

  it('returns 84x84 uint8 frames with real image content', async () => {
    const env = await bridge.createEnv({ game: 'Pong', seed: 1 });
    const first = await env.reset();
    expect(first.frame).toBeInstanceOf(Uint8Array);
    expect(first.frame.length).toBe(84 * 84);
    let step = first;
    for (let t = 0; t < 50; t++) step = await env.step(t % env.numActions);
    const values = new Set(step.frame);
    expect(values.size).toBeGreaterThan(2); // background, paddles, ball, score: several gray levels
    expect(Math.max(...step.frame)).toBeLessThanOrEqual(255);
    expect(step.episodeSteps).toBe(50);
    expect(env.numActions).toBe(6); // Pong's minimal action set
    await env.close();
  });

  it('is deterministic for a seed: same seed and actions give identical frames and rewards', async () => {
    const [a, b, c] = await Promise.all([0, 0, 1].map((seed) => bridge.createEnv({ game: 'Breakout', seed })));
    const runA = await trajectory(a, 'actions', 400);
    const runB = await trajectory(b, 'actions', 400);
    const runC = await trajectory(c, 'actions', 400);
    expect(runA.frames.equals(runB.frames)).toBe(true);
    expect(runA.rewards).toEqual(runB.rewards);
    // Another seed changes the sticky-action draws, hence the game.
    expect(runA.frames.equals(runC.frames)).toBe(false);
    await Promise.all([a, b, c].map((env) => env.close()));
  });

  it('sticky actions change outcomes when on, and only then', async () => {
    const off = await Promise.all([0, 1].map((seed) => bridge.createEnv({ game: 'Breakout', seed, repeatActionProbability: 0 })));
    const offRuns = await Promise.all(off.map((env) => trajectory(env, 'actions', 300)));
    // Without sticky actions the emulator is deterministic whatever the seed.
    expect(offRuns[0].frames.equals(offRuns[1].frames)).toBe(true);
    const on = await Promise.all([0, 1].map((seed) => bridge.createEnv({ game: 'Breakout', seed, repeatActionProbability: 0.25 })));
    const onRuns = await Promise.all(on.map((env) => trajectory(env, 'actions', 300)));
    expect(onRuns[0].frames.equals(onRuns[1].frames)).toBe(false);
    expect(onRuns[0].frames.equals(offRuns[0].frames)).toBe(false);
  });

  it('ends an episode: game over is terminal; the step cap truncates', async () => {
    const env = await bridge.createEnv({ game: 'Pong', seed: 3 });
    await env.reset();
    const random = seedrandom('pong');
    let step;
    let episodeReturn = 0;
    do {
      step = await env.step(Math.floor(random() * env.numActions));
      episodeReturn += step.reward;
    } while (!step.terminal && !step.truncated && step.episodeSteps < 5000);
    expect(step.terminal).toBe(true);
    expect(step.gameOver).toBe(true);
    expect(episodeReturn).toBeLessThanOrEqual(-15); // random play loses 21 points to a handful
    expect(episodeReturn).toBeGreaterThanOrEqual(-21);

    const capped = await bridge.createEnv({ game: 'Pong', seed: 3, maxEpisodeSteps: 25 });
    await capped.reset();
    for (let t = 1; t <= 25; t++) {
      step = await capped.step(0);
      expect(step.truncated).toBe(t === 25);
      expect(step.terminal).toBe(false);
    }
    expect((await capped.reset()).episodeSteps).toBe(0);
  });

  it('Nature protocol: a lost life is terminal, the game goes on at the next reset', async () => {
    const env = await bridge.createEnv({ ...NATURE_PROTOCOL, game: 'Breakout', seed: 0 });
    const start = await env.reset();
    expect(start.lives).toBe(5);
    let step;
    // FIRE launches the ball; then standing still loses a life.
    do step = await env.step(1); while (!step.terminal && step.episodeSteps < 2000);
    expect(step.lifeLost).toBe(true);
    expect(step.gameOver).toBe(false);
    expect((await env.reset()).lives).toBe(4);
  });

  it('a hung emulator (SIGSTOP) fails its request at the deadline as a crash; restart() brings it back', async () => {
    const hung = await AleBridge.start({ requestTimeoutMs: 1000 });
    try {
      const env = await hung.createEnv({ game: 'Pong', seed: 0 });
      await env.reset();
      process.kill(hung.pid!, 'SIGSTOP');
      const started = Date.now();
      await expect(env.step(0)).rejects.toThrow(EmulatorCrashedError);
      await expect(env.step(0)).rejects.toThrow(/did not answer within \d+ s/); // 1 s, or 100× the slowest reply under load
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(hung.alive).toBe(false);
      await hung.restart();
      await env.reset();
      expect((await env.step(0)).frame.length).toBe(84 * 84);
    } finally {
      await hung.close();
    }
  });

  it('garbage on the pipe is a crash, not a hang or a wrong frame', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'garbage-python-'));
    const fake = path.join(dir, 'python');
    // Answers the first request with bytes that are no message of the protocol, then waits.
    fs.writeFileSync(fake, '#!/bin/sh\nprintf "\\377\\377\\377\\377\\007garbage"\nsleep 30\n', { mode: 0o755 });
    try {
      await expect(AleBridge.start({ pythonPath: fake, requestTimeoutMs: 20_000 })).rejects.toThrow(/sent a malformed message/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('interruptIfBusy gives up on a request in flight (for a stop request), and does nothing when idle', async () => {
    const b = await AleBridge.start();
    try {
      const env = await b.createEnv({ game: 'Pong', seed: 0 });
      await env.reset();
      expect(b.interruptIfBusy()).toBe(false);
      process.kill(b.pid!, 'SIGSTOP');
      const step = env.step(0);
      expect(b.interruptIfBusy()).toBe(true);
      await expect(step).rejects.toThrow(/interrupted by a stop request/);
    } finally {
      await b.close();
    }
  });

  it('steps several environments in one round trip', async () => {
    const envs = await Promise.all(['Pong', 'Breakout', 'SpaceInvaders'].map((game, seed) => bridge.createEnv({ game, seed })));
    const starts = await bridge.reset(envs);
    expect(starts.map((s) => s.frame.length)).toEqual([7056, 7056, 7056]);
    const steps = await bridge.step(envs, [0, 1, 2]);
    expect(steps.map((s) => s.episodeSteps)).toEqual([1, 1, 1]);
    await expect(bridge.step(envs, [0, 1])).rejects.toThrow(/3 environments but 2 actions/);
    await Promise.all(envs.map((env) => env.close()));
  });

  it('rejects bad input clearly, and the process survives it', async () => {
    await expect(bridge.createEnv({ game: 'Pongg', seed: 0 })).rejects.toThrow(UnknownGameError);
    await expect(bridge.createEnv({ game: 'Pongg', seed: 0 })).rejects.toThrow(/Did you mean Pong\?.*--list-games/);
    await expect(bridge.createEnv({ game: 'Pong', seed: -1 })).rejects.toThrow(/seed must be a non-negative integer/);
    await expect(bridge.createEnv({ game: 'Pong', seed: 0, repeatActionProbability: 1.5 })).rejects.toThrow(/repeatActionProbability/);
    const env = await bridge.createEnv({ game: 'Pong', seed: 0 });
    await env.reset();
    await expect(env.step(6)).rejects.toThrow(/action 6 is not in \[0, 6\)/);
    await env.close();
    await expect(env.step(0)).rejects.toThrow(EmulatorRequestError);
    expect(bridge.alive).toBe(true);
  });
});

describe('ALE bridge faults', () => {
  it('reports a killed child with its signal and stderr, leaves no zombie, and restarts', async () => {
    const bridge = await AleBridge.start();
    const env = await bridge.createEnv({ game: 'Pong', seed: 0 });
    await env.reset();
    const pid = bridge.pid!;
    expect(processAlive(pid)).toBe(true);
    process.kill(pid, 'SIGKILL');
    const error = await env.step(0).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(EmulatorCrashedError);
    expect((error as EmulatorCrashedError).signal).toBe('SIGKILL');
    expect((error as Error).message).toMatch(/killed by SIGKILL/);
    expect(await waitUntil(() => !processAlive(pid))).toBe(true);
    expect(bridge.alive).toBe(false);
    // Later requests fail the same way instead of hanging.
    await expect(env.reset()).rejects.toThrow(EmulatorCrashedError);

    await bridge.restart();
    expect(bridge.pid).not.toBe(pid);
    const restarted = await env.reset();
    expect(restarted.frame.length).toBe(7056);
    expect((await env.step(1)).episodeSteps).toBe(1);
    const newPid = bridge.pid!;
    await bridge.close();
    expect(await waitUntil(() => !processAlive(newPid))).toBe(true);
  });

  it('reports a child that exits with an error code and the tail of its stderr', async () => {
    const bridge = await AleBridge.start();
    const env = await bridge.createEnv({ game: 'Pong', seed: 0 });
    // SIGTERM runs Python's default handler: the process ends; the error says so.
    process.kill(bridge.pid!, 'SIGTERM');
    await expect(env.reset()).rejects.toThrow(/killed by SIGTERM|exited with code/);
    await bridge.close();
  });

  it('fails with a clear message when Python is missing', async () => {
    await expect(AleBridge.start({ pythonPath: '/nonexistent/python' })).rejects.toThrow(/no Python at \/nonexistent\/python; run `npm run setup`/);
  });

  it('leaves no child behind when Node exits without closing, or is killed', async () => {
    const script = `
      import { AleBridge } from ${JSON.stringify(path.join(ROOT, 'envs/ale_bridge.ts'))};
      const bridge = await AleBridge.start();
      console.log(bridge.pid);
      // Exit only when told, so the test sees the emulator alive first (no race with a fast exit).
      process.stdin.once('data', () => process.exit(0));
    `;
    for (const mode of ['exit', 'sigkill']) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const pid = await new Promise<number>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
      expect(processAlive(pid)).toBe(true);
      if (mode === 'sigkill') child.kill('SIGKILL');
      else child.stdin.write('exit\n');
      await exited;
      // After SIGKILL of Node, the emulator sees its stdin close and exits by itself.
      expect(await waitUntil(() => !processAlive(pid))).toBe(true);
    }
  });

});
