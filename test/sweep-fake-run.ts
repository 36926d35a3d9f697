// A stand-in for `src/cli/atari.ts --agent dqn` in the sweep scheduler's tests: same arguments, same run-directory
// contract (docs/run-format.md: config.json, metrics.jsonl, summary.json statuses, run.lock via RunDirectory, exit
// codes 0/1/3, SIGINT/SIGTERM/SIGUSR1 → checkpoint, status 'interrupted', exit 0; the same command resumes), but
// each "iteration" is a short sleep with deterministic numbers, so scheduling, resuming and failure handling can be
// tested in seconds. Not used by the real end-to-end tests, which run the real CLI with --preset smoke.
//
// Behaviour per run, from the env var FAKE_RUN_BEHAVIOUR (JSON: {"<optimizer>/<seed>": behaviour}):
//   fail        summary 'failed' with an error, exit 1          diverge   summary 'diverged' at iteration 1, exit 3
//   crash       exit 1 after one iteration, summary left 'running'    kill   SIGKILL itself after one iteration
//   crash-once  'crash' on the first attempt only (a marker file in the run dir), then normal
//   bad-args    exit 1 before creating the run directory
// FAKE_ITERATION_MS (default 40) is the length of one iteration; FAKE_ITERATIONS the default iteration count.
// FAKE_LOCK_DELAY_MS (default 0): how long the process lives before it takes the run's lock (Node and tsx start-up
// on a loaded machine), the window in which a driver that started it can die and another driver look at the run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RunDirectory } from '../src/run/run_directory.ts';

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--')) throw new Error(`unexpected argument ${argv[i]}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const behaviours = JSON.parse(process.env.FAKE_RUN_BEHAVIOUR ?? '{}') as Record<string, string>;
const behaviour = behaviours[`${args.optimizer}/${args.seed}`] ?? 'normal';
const iterationMs = Number(process.env.FAKE_ITERATION_MS ?? 40);

if (args.agent !== 'dqn') throw new Error('--agent dqn expected');
if (behaviour === 'bad-args') {
  console.error('error: simulated bad input before the run directory exists');
  process.exit(1);
}

const lockDelayMs = Number(process.env.FAKE_LOCK_DELAY_MS ?? 0);
if (lockDelayMs > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, lockDelayMs);

const config = {
  game: args.game,
  optimizer: args.optimizer,
  weightDecay: Number(args.wd),
  seed: Number(args.seed),
  preset: args.preset,
  iterations: Number(args.iterations ?? process.env.FAKE_ITERATIONS ?? 3),
  trainingSteps: Number(args['training-steps'] ?? 100),
};
const run = RunDirectory.create(args.out, config, { host: os.hostname() }, { mutableKeys: ['iterations'] });
if (run.alreadyCompleted) {
  console.log('already completed');
  process.exit(0);
}
const { records } = run.readMetrics();
const start = records.length; // every iteration is "checkpointed" here
let wall = Number(records[records.length - 1]?.wall_seconds ?? 0);
const signals: string[] = [];
let stop = false;
for (const s of ['SIGINT', 'SIGTERM', 'SIGUSR1'] as const) {
  process.on(s, () => {
    signals.push(s);
    stop = true;
  });
}

const base = {
  game: config.game, optimizer: config.optimizer, weight_decay: config.weightDecay, seed: config.seed, preset: config.preset,
  iterations_planned: config.iterations, threads: Number(args.threads), pid: process.pid,
};
const summary = (status: string, done: number, extra: object = {}) =>
  run.writeSummary({ ...base, status, iterations_completed: done, env_steps: done * config.trainingSteps, signals, ...extra, updated_at: new Date().toISOString() });

console.log(`fake run ${config.game} ${config.optimizer} λ=${config.weightDecay} seed ${config.seed}: iterations ${start}..${config.iterations - 1}`);
summary('running', start);
const marker = path.join(run.dir, 'crashed-once');
for (let it = start; it < config.iterations; it++) {
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, iterationMs));
  wall += (Date.now() - t0) / 1000;
  // Deterministic "results": a function of the run's identity and the iteration only.
  const loss = ((config.seed + 1) * 0.1 + config.weightDecay * 1000 + config.optimizer.length) / (it + 1);
  run.appendMetrics({ iteration: it, env_steps: (it + 1) * config.trainingSteps, loss_mean: loss, train_return_mean: -21 + it + config.seed, wall_seconds: wall });
  if (behaviour === 'diverge' && it >= 1) {
    summary('diverged', it + 1, { diverged_at_step: (it + 1) * config.trainingSteps, error: 'loss became NaN (simulated)' });
    process.exit(3);
  }
  if (behaviour === 'fail') {
    summary('failed', it + 1, { error: 'simulated failure in iteration ' + it });
    console.error('error: simulated failure');
    process.exit(1);
  }
  if (behaviour === 'crash' || (behaviour === 'crash-once' && !fs.existsSync(marker))) {
    fs.writeFileSync(marker, '');
    console.error('error: simulated crash without a summary');
    process.exit(1);
  }
  if (behaviour === 'kill') process.kill(process.pid, 'SIGKILL');
  summary('running', it + 1);
  if (stop && it + 1 < config.iterations) {
    summary('interrupted', it + 1);
    console.log(`checkpointed after iteration ${it} (${signals.join(',')})`);
    process.exit(0);
  }
}
summary('completed', config.iterations);
process.exit(0);
