// Which split of the cores gives a sweep the most agent steps per hour: R runs at once × T TensorFlow threads each
// (R × T = cores)? Each configuration trains real DQN runs (the smoke preset's tiny warm-up, so nearly every step
// learns, with the full-size Dopamine network) for a fixed number of training steps, and reports
//   - steps/h (training phase): the runs' own training-phase speed (metrics.jsonl `sps`) summed over the runs at once;
//   - steps/h (wall): all runs' steps divided by the wall time from start to the last exit (includes process start,
//     TensorFlow load and the emulator start, which a long run amortises).
// Run it on a quiet machine: anything else running skews the comparison. It warns when the load average is high.
//
// Splits are measured in turn, `--repeats` rounds (A B A B …), and the median of each is reported, so a change of
// the machine's other load during the benchmark skews all splits alike.
//
//   npx tsx scripts/bench-sweep-split.ts [--steps 2000] [--splits 2x1,1x2] [--repeats 1] [--game pong]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { atariCommand } from '../src/sweep/command.ts';
import type { PlannedRun } from '../src/sweep/plan_file.ts';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

const steps = Number(option('steps', '2000'));
const game = option('game', 'pong');
const cores = os.availableParallelism();
const splits = option('splits', cores >= 2 ? `${cores}x1,1x${cores}` : '1x1').split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m) throw new Error(`--splits takes RxT pairs such as 2x1,1x2, got "${s}"`);
  return { runs: Number(m[1]), threads: Number(m[2]) };
});
if (!Number.isSafeInteger(steps) || steps < 100) throw new Error('--steps must be a whole number >= 100');

const load = os.loadavg()[0];
console.log(`machine: ${cores} cores, load average ${load.toFixed(2)}; ${steps} training steps per run, game ${game}`);
if (load > 0.5) console.log('warning: the machine is not quiet (load average > 0.5); the figures below are skewed by other work');

interface Measured {
  stepsPerHourTraining: number;
  stepsPerHourWall: number;
  wallSeconds: number;
}

async function measure(runs: number, threads: number): Promise<Measured> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-split-'));
  const started = Date.now();
  try {
    const children = Array.from({ length: runs }, (_, i) => {
      const run: PlannedRun = {
        id: `bench-${i}`, dir: `runs/bench-${i}`, game, optimizer: 'adamw', weightDecay: 1e-4, seed: i, preset: 'smoke',
        overrides: { iterations: 1, trainingSteps: steps, evalSteps: 0 },
      };
      const { command, args } = atariCommand(run, path.join(root, `run-${i}`), threads);
      const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      return new Promise<void>((resolve, reject) =>
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`run ${i} exited with ${code}: ${stderr.slice(-2000)}`)))),
      );
    });
    await Promise.all(children);
    const wallSeconds = (Date.now() - started) / 1000;
    let sps = 0;
    let total = 0;
    for (let i = 0; i < runs; i++) {
      const lines = fs.readFileSync(path.join(root, `run-${i}`, 'metrics.jsonl'), 'utf8').trim().split('\n');
      const last = JSON.parse(lines[lines.length - 1]);
      sps += last.sps;
      total += last.env_steps;
    }
    return { stepsPerHourTraining: sps * 3600, stepsPerHourWall: (total / wallSeconds) * 3600, wallSeconds };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const repeats = Number(option('repeats', '1'));
if (!Number.isSafeInteger(repeats) || repeats < 1) throw new Error('--repeats must be a whole number >= 1');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const show = (split: string, m: Measured) =>
  `${split.padEnd(22)} ${Math.round(m.stepsPerHourTraining).toLocaleString('en-US').padStart(10)} steps/h (training phase)  ` +
  `${Math.round(m.stepsPerHourWall).toLocaleString('en-US').padStart(10)} steps/h (wall, ${m.wallSeconds.toFixed(0)} s)`;
const samples = new Map<string, Measured[]>();
for (let round = 0; round < repeats; round++) {
  for (const { runs, threads } of splits) {
    const split = `${runs} run(s) × ${threads} thread(s)`;
    const m = await measure(runs, threads);
    samples.set(split, [...(samples.get(split) ?? []), m]);
    console.log(`round ${round + 1}: ${show(split, m)} (load ${os.loadavg()[0].toFixed(2)})`);
  }
}
const results = [...samples].map(([split, ms]) => ({
  split,
  m: {
    stepsPerHourTraining: median(ms.map((x) => x.stepsPerHourTraining)),
    stepsPerHourWall: median(ms.map((x) => x.stepsPerHourWall)),
    wallSeconds: median(ms.map((x) => x.wallSeconds)),
  },
}));
if (repeats > 1) for (const r of results) console.log(`median: ${show(r.split, r.m)}`);
const best = results.reduce((a, b) => (b.m.stepsPerHourTraining > a.m.stepsPerHourTraining ? b : a));
console.log(`fastest (training phase): ${best.split}`);
