// `npm run sweep` end to end with the real DQN CLI (src/cli/atari.ts --agent dqn, --preset smoke): a tiny sweep runs
// to completion, Ctrl-C makes every run checkpoint, and the same command resumes without redoing or duplicating.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { RunDirectory } from '../src/run/run_directory.ts';
import { tsxLoaderUrl } from '../src/sweep/command.ts';
import { readPlan } from '../src/sweep/plan_file.ts';
import { sweepStatus } from '../src/sweep/status.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const SWEEP_CLI = path.resolve(here, '../src/cli/sweep.ts');

const temps: string[] = [];
afterAll(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-e2e-'));
  temps.push(dir);
  return dir;
}

function records(dir: string, runDir: string) {
  return RunDirectory.open(path.join(dir, runDir)).readMetrics().records;
}

describe('npm run sweep with the real DQN (smoke preset)', () => {
  it('runs, is stopped by Ctrl-C with every run checkpointed, and the same command resumes and completes', async () => {
    const dir = path.join(tempDir(), 'sweep');
    const args = ['--import', tsxLoaderUrl(), SWEEP_CLI, '--games', 'Pong', '--optimizers', 'adam,adamw', '--wd', '1e-4', '--seeds', '0',
      '--preset', 'smoke', '--iterations', '3', '--workers', '2', '--threads', '1', '--out', dir];
    const first = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    first.stdout.on('data', (d) => (output += d));
    first.stderr.on('data', (d) => (output += d));
    // Wait until both runs have finished their first iteration, then press Ctrl-C (SIGINT to the sweep only).
    const until = Date.now() + 300_000;
    const started = () => {
      if (!fs.existsSync(path.join(dir, 'plan.json'))) return false;
      return readPlan(dir).runs.every((r) => fs.existsSync(path.join(dir, r.dir, 'metrics.jsonl')) && records(dir, r.dir).length >= 1);
    };
    while (!started()) {
      if (Date.now() > until || first.exitCode !== null) throw new Error(`the sweep did not get going:\n${output}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    first.kill('SIGINT');
    const code = await new Promise((r) => first.once('exit', r));
    expect(code, output).toBe(130);
    const plan = readPlan(dir);
    const afterStop = sweepStatus(dir, plan);
    // Each run either checkpointed (interrupted) or had just completed its last iteration.
    expect(afterStop.counts.interrupted + afterStop.counts.done, output).toBe(2);
    expect(afterStop.counts.interrupted, output).toBeGreaterThanOrEqual(1);
    for (const run of plan.runs) {
      const summary = JSON.parse(fs.readFileSync(path.join(dir, run.dir, 'summary.json'), 'utf8'));
      expect(['interrupted', 'completed']).toContain(summary.status);
    }
    const before = Object.fromEntries(plan.runs.map((r) => [r.id, records(dir, r.dir)]));

    const second = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 600_000 });
    expect(second.status, second.stdout + second.stderr).toBe(0);
    expect(second.stdout).toContain('resuming sweep');
    const final = sweepStatus(dir, plan);
    expect(final.counts.done).toBe(2);
    for (const run of plan.runs) {
      const after = records(dir, run.dir);
      expect(after.map((r) => r.iteration)).toEqual([0, 1, 2]);
      // Iterations finished before the stop are kept as they were, not redone.
      expect(after.slice(0, before[run.id].length)).toEqual(before[run.id]);
      const summary = JSON.parse(fs.readFileSync(path.join(dir, run.dir, 'summary.json'), 'utf8'));
      expect(summary).toMatchObject({ status: 'completed', game: 'pong', optimizer: run.optimizer, weight_decay: run.weightDecay, seed: 0, preset: 'smoke' });
    }

    // A third run of the command has nothing to do.
    const third = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
    expect(third.status, third.stderr).toBe(0);
    expect(third.stdout).toMatch(/2 runs; 2 done, 0 diverged, 0 to run/);
    const status = spawnSync(process.execPath, ['--import', tsxLoaderUrl(), SWEEP_CLI, '--status', dir], { encoding: 'utf8' });
    expect(status.stdout).toContain('done 2   running 0   failed 0   pending 0');
    expect(status.stdout).toContain('ETA: nothing left to run');
  }, 900_000);
});
