// `npm run bench`: where each DQN agent step's time goes on this machine, and how close the training loop comes
// to the machine's compute-bound ceiling. A script, not a test: it measures, prints a table and writes JSON
// (results/bench/<timestamp>.json). Everything is medians over repeats after warm-up, and every comparison is a
// ratio of two figures measured in the same run (other work on the machine moves absolute figures a lot).
//
//   npm run bench [-- --quick] [--skip-torch] [--skip-memory] [--skip-threads] [--only eval,...] [--json FILE] [--game pong]
//
// Sections: the ceiling (backend's matrix-product rate and the network's FLOP per agent step), the parts of one
// agent step, the whole training loop (DqnAgent against AtariEnv with Dopamine's settings), evaluation with one and
// with several environments (in one emulator process and spread over several), thread settings (child processes: TensorFlow reads its thread variables at load),
// sweep throughput for the worker x thread splits that fit the cores, memory (1M replay, a long run) and a PyTorch
// yardstick (dev-only venv .cache/bench-venv). Internal: `--child <mode>` runs one measurement in a child process.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { randomFillSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import seedrandom from 'seedrandom';
import * as tf from '../src/tf.ts';
import { withVersion } from '../src/cli/version.ts';
import { QNetwork } from '../agents/network.ts';
import { ReplayMemory } from '../agents/replay.ts';
import { stepWork } from './bench/flops.ts';
import { defaultPoolSize } from '../envs/bridge_pool.ts';
import { evaluationRates, type EvalResult, type EvalVariant } from './bench/evaluation.ts';
import { DOPAMINE_HP, steadyStateHp, trainingLoop, type LoopResult } from './bench/loop.ts';
import { matmulRates, measureParts, SCHEMES, type PartsResult } from './bench/parts.ts';
import { rssBytes, timeSync } from './bench/stats.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BENCH_VENV = path.join(ROOT, '.cache', 'bench-venv');
const TORCH_VERSION = '2.13.0';

const SECTIONS = ['ceiling', 'parts', 'loop', 'eval', 'torch', 'threads', 'memory'] as const;

const program = withVersion(new Command('bench')
  .description('Where each DQN step\'s time goes, and the training loop against the machine\'s compute-bound ceiling')
  .option('--quick', 'a ~2-3 minute version: fewer repeats, shorter windows, no thread children or sweep')
  .option('--skip-torch', 'no PyTorch yardstick')
  .option('--skip-memory', 'no 1M-capacity replay fill (~7 GB) and no long run')
  .option('--skip-threads', 'no thread-setting children and no sweep-throughput children')
  .option('--only <sections>', `only these sections, comma-separated (and what they need): ${SECTIONS.join(', ')}`)
  .option('--game <name>', 'game for the emulator and the loops', 'pong')
  .option('--loop-seconds <s>', 'timed window of the training loop', Number)
  .option('--long-steps <n>', 'agent steps of the memory long run (200,000 takes hours on 2 cores)', Number)
  .option('--json <file>', 'where to write the JSON (default results/bench/<timestamp>.json)')
  // Internal (threads | loop | replay1m | long): one measurement in a child process. Not for users, so not in --help.
  .addOption(new Option('--child <mode>').hideHelp()))
  .parse();
const opts = program.opts<{
  quick?: boolean; skipTorch?: boolean; skipMemory?: boolean; skipThreads?: boolean; only?: string; game: string;
  loopSeconds?: number; longSteps?: number; json?: string; child?: string;
}>();
const ONLY = new Set((opts.only ?? '').split(',').map((x) => x.trim()).filter(Boolean));
for (const name of ONLY) if (!(SECTIONS as readonly string[]).includes(name)) program.error(`--only: unknown section '${name}'; sections: ${SECTIONS.join(', ')}`);
const want = (section: (typeof SECTIONS)[number]) => ONLY.size === 0 || ONLY.has(section);
// What sections need from others: the loop is compared with the ceiling and the sum of the parts, PyTorch with the parts.
const NEED_CEILING = want('ceiling') || want('loop');
const NEED_PARTS = want('parts') || want('loop') || want('torch');

const QUICK = Boolean(opts.quick);
const WORK = stepWork(DOPAMINE_HP.padding, 6, DOPAMINE_HP.batchSize, DOPAMINE_HP.updatePeriodSteps);
const GB = 1e9;

// ---------------------------------------------------------------------------------------------------------------
// Child processes: each prints one line `RESULT <json>` on stdout.

function emit(result: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

async function childMain(mode: string): Promise<void> {
  if (mode === 'threads') {
    // How the thread variables this process was started with change TensorFlow's speed.
    const rates = matmulRates([1024], QUICK ? 5 : 10);
    const parts = await measureParts({ game: opts.game, repeats: QUICK ? 4 : 8, rounds: 1, schemes: ['adam'], emulator: false });
    emit({ matmulGflops: rates['1024'], actMs: parts.actNetworkMs, gradientStepMs: parts.gradientStepMs.adam, breakdown: parts.breakdown });
  } else if (mode === 'loop') {
    // One sweep worker: warm up, say READY, wait for the parent's go, then time the loop.
    const result = await trainingLoop({
      game: opts.game, seed: process.pid, hp: steadyStateHp(1000), warmupSteps: 200, seconds: opts.loopSeconds ?? 40,
      beforeTiming: async () => {
        process.stdout.write('READY\n');
        const rl = readline.createInterface({ input: process.stdin });
        await new Promise<void>((resolve) => rl.once('line', () => { rl.close(); resolve(); }));
      },
    });
    emit(result);
  } else if (mode === 'replay1m') {
    emit(replayAtCapacity(1_000_000));
  } else if (mode === 'long') {
    const steps = opts.longSteps ?? 4000;
    // A replay that fills within the run, so "flat once full" shows; learning starts early.
    const capacity = Math.max(1000, Math.floor(steps / 2));
    const rssStart = rssBytes();
    const result = await trainingLoop({
      game: opts.game, seed: 5, hp: steadyStateHp(Math.floor(capacity / 4), capacity), warmupSteps: 0,
      seconds: 1e9, maxSteps: steps, sampleEvery: Math.max(50, Math.floor(steps / 40)),
    });
    emit({ steps, capacity, rssStartBytes: rssStart, loop: result });
  } else {
    throw new Error(`unknown --child mode ${mode}`);
  }
}

/** Fill a replay memory to `capacity` (allocating it once), then time sampling at that size. */
function replayAtCapacity(capacity: number) {
  const rssBefore = rssBytes();
  const memory = new ReplayMemory({ capacityTransitions: capacity });
  const random = seedrandom('replay1m');
  const pool = Array.from({ length: 64 }, () => randomFillSync(new Uint8Array(memory.frameBytes)));
  const start = performance.now();
  let left = 0;
  for (let i = 0; i < capacity; i++) {
    if (left === 0) left = 200 + Math.floor(random() * 2800);
    left -= 1;
    const frame = pool[i % pool.length];
    frame[0] = i & 255;
    memory.add(frame, Math.floor(random() * 18), random() < 0.05 ? 1 : 0, left === 0 && random() < 0.7, left === 0);
  }
  const fillSeconds = (performance.now() - start) / 1000;
  const batch = memory.createBatch(32);
  const sampleMs = timeSync(() => memory.sample(32, random, batch), 5000, 500);
  return { capacity, fillSeconds, allocatedBytes: memory.allocatedBytes, rssBeforeBytes: rssBefore, rssBytes: rssBytes(), sampleMs };
}

interface ChildHandle { ready: Promise<void>; result: Promise<unknown>; go: () => void }

function startChild(mode: string, env: Record<string, string>, extra: string[] = []): ChildHandle {
  const args = [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(ROOT, 'scripts', 'bench.ts'), '--child', mode, '--game', opts.game, ...(QUICK ? ['--quick'] : []), ...extra];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => { markReady = resolve; });
  const result = new Promise<unknown>((resolve, reject) => {
    let found: unknown;
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      if (line === 'READY') markReady();
      else if (line.startsWith('RESULT ')) found = JSON.parse(line.slice(7));
    });
    child.on('close', (code) => {
      markReady();
      if (found !== undefined) resolve(found);
      else reject(new Error(`bench child '${mode}' exited with code ${code}:\n${stderr}`));
    });
  });
  return { ready, result, go: () => child.stdin.write('go\n') };
}

// ---------------------------------------------------------------------------------------------------------------
// PyTorch yardstick (dev-only venv, never part of the runtime).

function benchPython(): { python: string | null; note: string } {
  const python = path.join(BENCH_VENV, 'bin', 'python');
  const hasTorch = () => existsSync(python) && spawnSync(python, ['-c', 'import torch, numpy'], { stdio: 'ignore' }).status === 0;
  if (hasTorch()) return { python, note: `reused ${path.relative(ROOT, BENCH_VENV)}` };
  // The venv is made with the interpreter of the project's .venv (the setup step chose it), else python3.11/python3.
  let base = process.env.PYTHON ?? '';
  const cfg = path.join(ROOT, '.venv', 'pyvenv.cfg');
  if (!base && existsSync(cfg)) base = /^executable\s*=\s*(.+)$/m.exec(readFileSync(cfg, 'utf8'))?.[1]?.trim() ?? '';
  if (!base) base = 'python3.11';
  console.log(`# creating ${path.relative(ROOT, BENCH_VENV)} with torch==${TORCH_VERSION} (dev-only benchmark dependency; once)`);
  const venv = spawnSync(base, ['-m', 'venv', BENCH_VENV], { stdio: 'inherit' });
  if (venv.status !== 0) return { python: null, note: `could not create a venv with ${base}` };
  const pip = spawnSync(path.join(BENCH_VENV, 'bin', 'pip'), ['install', '-q', `torch==${TORCH_VERSION}`, 'numpy'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (pip.status !== 0 || !hasTorch()) return { python: null, note: `pip install torch==${TORCH_VERSION} failed` };
  return { python, note: `installed into ${path.relative(ROOT, BENCH_VENV)}` };
}

function torchYardstick(threads: number | null): { result?: Record<string, number | string>; note: string } {
  const { python, note } = benchPython();
  if (!python) return { note };
  const args = [path.join(ROOT, 'scripts', 'bench_torch.py'), '--repeats', QUICK ? '10' : '30', ...(threads ? ['--threads', String(threads)] : [])];
  const run = spawnSync(python, args, { encoding: 'utf8' });
  if (run.status !== 0) return { note: `bench_torch.py failed: ${run.stderr.slice(-500)}` };
  return { result: JSON.parse(run.stdout.trim().split('\n').pop()!), note };
}

// ---------------------------------------------------------------------------------------------------------------

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a');
const pct = (x: number) => `${fmt(100 * x, 0)} %`;
const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = '') => rows.push([what, value, note]);
const verdicts: { target: string; measured: string; met: boolean | null }[] = [];
const verdict = (target: string, measured: string, met: boolean | null) => verdicts.push({ target, measured, met });

async function main(): Promise<void> {
  const startedAt = new Date();
  const cpus = os.cpus();
  const machine = {
    cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryGiB: os.totalmem() / 2 ** 30, platform: `${os.platform()} ${os.arch()}`,
    node: process.version, tfjsNode: tf.version['tfjs-node'], backend: tf.getBackend(), loadAverage: os.loadavg(),
    threadEnv: Object.fromEntries(['TF_NUM_INTRAOP_THREADS', 'TF_NUM_INTEROP_THREADS', 'OMP_NUM_THREADS', 'TF_ENABLE_ONEDNN_OPTS'].map((k) => [k, process.env[k] ?? null])),
  };
  console.log(`# npm run bench${QUICK ? ' -- --quick' : ''}: ${machine.cpus} x ${machine.cpuModel}, ${fmt(machine.memoryGiB, 1)} GiB, ${machine.platform}, node ${machine.node}, tfjs-node ${machine.tfjsNode} (${machine.backend})`);
  console.log(`# load average at start ${machine.loadAverage.map((x) => x.toFixed(2)).join(' ')} (other work on the machine moves every absolute figure; compare ratios)\n`);
  const repeats = QUICK ? 5 : 12;
  const result: Record<string, unknown> = { startedAt: startedAt.toISOString(), quick: QUICK, machine, work: WORK };

  // 1. The ceiling.
  let ceiling = NaN;
  if (NEED_CEILING) {
    console.log('# ceiling: matrix-product rate');
    const rates = matmulRates(QUICK ? [512, 1024] : [512, 1024, 1536], QUICK ? 6 : 12);
    const R = Math.max(...Object.values(rates));
    ceiling = (R * 1e9) / WORK.perAgentStep;
    result.matmulGflops = rates;
    result.ceilingStepsPerSecond = ceiling;
    row('matrix product (best of sizes ' + Object.keys(rates).join(', ') + ')', `${fmt(R)} GFLOP/s`, Object.entries(rates).map(([n, r]) => `${n}²: ${fmt(r)}`).join(', '));
    row('work per gradient step (batch 32)', `${fmt(WORK.trainStep / 1e9, 2)} GFLOP`, `online fwd + bwd (2x fwd) + target fwd; ${fmt(WORK.trainStepExact / 1e9, 2)} without the unneeded input gradient`);
    row('work per agent step', `${fmt(WORK.perAgentStep / 1e9, 3)} GFLOP`, `1/4 gradient step + batch-1 forward (${fmt(WORK.act / 1e6, 0)} MFLOP)`);
    row('compute-bound ceiling', `${fmt(ceiling)} steps/s`, `${fmt(1000 / ceiling, 2)} ms per agent step`);
  }

  // 2. The parts.
  let parts: PartsResult | null = null;
  let sumOfParts = NaN;
  if (NEED_PARTS) {
    console.log('# parts of one agent step');
    parts = await measureParts({ game: opts.game, repeats, rounds: QUICK ? 1 : 3, schemes: SCHEMES });
    result.parts = parts;
    row('emulator round trip (bridge, 1 env)', `${fmt(parts.emulatorStepMs, 3)} ms`);
    row('act: DqnAgent.greedyActions (uint8 stack → forward → argmax → read-back)', `${fmt(parts.actAgentMs, 2)} ms`, '');
    row('act: QNetwork.act alone', `${fmt(parts.actNetworkMs, 2)} ms`, '');
    row('replay insert', `${fmt(parts.replayInsertMs * 1000, 1)} µs`);
    row('replay sample, batch 32 (100k stored)', `${fmt(parts.sampleBatchMs, 3)} ms`);
    for (const [name, ms] of Object.entries(parts.gradientStepMs)) row(`gradient step: ${name}`, `${fmt(ms)} ms`, `${fmt(WORK.trainStep / (ms * 1e6))} GFLOP/s effective`);
    const b = parts.breakdown;
    row('  of which: input (statesTensor: uint8 planar -> NHWC /255 in JS)', `${fmt(b.inputStatesTensorMs, 2)} ms`, `x2 per step (states, next states); before: float copy + TF transpose/255 ${fmt(b.inputTransposeMs, 2)} ms, same floats`);
    row('  of which: target forward (batch 32)', `${fmt(b.targetForwardMs)} ms`, `${fmt(WORK.forwardPerSample * 32 / (b.targetForwardMs * 1e6))} GFLOP/s`);
    row('  of which: online forward + backward', `${fmt(b.forwardBackwardMs)} ms`, `${fmt(WORK.forwardPerSample * 32 * 3 / (b.forwardBackwardMs * 1e6))} GFLOP/s`);
    row('  A/B forward + backward: this network (now) vs tfjs fused layers (before)', `${fmt(b.forwardBackwardAbMs)} vs ${fmt(b.forwardBackwardOriginalMs)} ms`, `${pct(1 - b.forwardBackwardAbMs / b.forwardBackwardOriginalMs)} less; same input; scripts/bench/verify-network.ts checks the numbers`);
    row('  of which: optimizer update (adam, 4.0M params)', `${fmt(b.optimizerApplyMs)} ms`, 'memory-bound elementwise ops');
    row('target sync', `${fmt(parts.targetSyncMs, 3)} ms`, 'every 8,000 steps');
    sumOfParts = parts.emulatorStepMs + parts.actAgentMs * (1 - DOPAMINE_HP.epsilonTrain) + parts.replayInsertMs +
      parts.gradientStepMs.adam / DOPAMINE_HP.updatePeriodSteps + parts.targetSyncMs / DOPAMINE_HP.targetUpdatePeriodSteps;
    row('sum of parts per agent step (adam)', `${fmt(sumOfParts, 2)} ms`, `= ${fmt(1000 / sumOfParts)} steps/s`);
  }

  // 3. The whole training loop.
  if (want('loop')) {
    console.log('# training loop');
    const loopSeconds = opts.loopSeconds ?? (QUICK ? 15 : 60);
    const loop = await trainingLoop({ game: opts.game, seed: 1, hp: steadyStateHp(1000), warmupSteps: QUICK ? 100 : 300, seconds: loopSeconds });
    const overhead = loop.overheadMsPerStep / loop.msPerStep;
    row(`training loop (${opts.game}, Dopamine settings, ε = 0.01, ${fmt(loop.seconds, 0)} s)`, `${fmt(loop.stepsPerSecond)} steps/s`, `${fmt(loop.msPerStep, 2)} ms/step, ${loop.updates} gradient steps, ${pct(loop.stepsPerSecond / ceiling)} of the ceiling`);
    row('  inside it per step: emulator / learn / act / insert', `${fmt(loop.emulatorMsPerStep, 2)} / ${fmt(loop.learnMsPerStep, 2)} / ${fmt(loop.actMsPerStep, 2)} / ${fmt(loop.insertMsPerStep, 3)} ms`, `learn = ${fmt(loop.learnMsPerStep * DOPAMINE_HP.updatePeriodSteps)} ms per gradient step`);
    row('  loop overhead (time outside those parts)', `${fmt(loop.overheadMsPerStep, 3)} ms`, `${pct(overhead)} of the step time`);
    result.loop = loop;
    row('  loop vs the sum of the parts timed alone', `${fmt(loop.msPerStep, 2)} vs ${fmt(sumOfParts, 2)} ms`, 'different seconds of a shared machine: indicative only');
    const ofCeiling = loop.stepsPerSecond / ceiling;
    verdict('training loop >= 75 % of the compute-bound ceiling', `${pct(ofCeiling)} (${fmt(loop.stepsPerSecond)} of ${fmt(ceiling)} steps/s)`, ofCeiling >= 0.75);
    verdict('loop overhead <= 10 % of the step time', `${pct(overhead)} (${fmt(loop.overheadMsPerStep, 3)} of ${fmt(loop.msPerStep, 2)} ms)`, overhead <= 0.10);
  }

  // 4. Evaluation: one env, then n envs in one emulator process (serial stepping) and spread over a pool of
  // processes (what the trainer does: one per core, at most one per env), interleaved round by round.
  if (want('eval')) {
    console.log('# evaluation');
    const variants: EvalVariant[] = [{ envs: 1, processes: 1 }];
    for (const n of QUICK ? [8, 16] : [4, 8, 16, 32]) {
      variants.push({ envs: n, processes: 1 });
      if (defaultPoolSize(n) > 1) variants.push({ envs: n, processes: defaultPoolSize(n) });
    }
    // The network needs the game's action count: 6 for Pong; other games differ but cost the same.
    const evalNet = new QNetwork({ numActions: 6, padding: DOPAMINE_HP.padding, seed: 3 });
    let evals: EvalResult[];
    try {
      evals = await evaluationRates({ game: opts.game, variants, rounds: QUICK ? 4 : 8, secondsPerRound: QUICK ? 1.5 : 2, net: evalNet, epsilon: DOPAMINE_HP.epsilonEval });
    } finally {
      evalNet.dispose();
    }
    result.evaluation = evals;
    const single = evals[0].stepsPerSecond;
    const serial = (n: number) => evals.find((e) => e.envs === n && e.processes === 1)!.stepsPerSecond;
    for (const e of evals) {
      const ratios = e.envs === 1 ? [] : [`${fmt(e.stepsPerSecond / single, 2)}x one env`, ...(e.processes > 1 ? [`${fmt(e.stepsPerSecond / serial(e.envs), 2)}x one process`] : [])];
      row(`evaluation, ${e.envs} env${e.envs > 1 ? 's' : ''} in ${e.processes} emulator process${e.processes > 1 ? 'es' : ''}`, `${fmt(e.stepsPerSecond)} steps/s`,
        [...ratios, `per step of all envs: act ${fmt(e.forwardMsPerBatch, 2)} ms + emulator ${fmt(e.emulatorMsPerBatch, 2)} ms`].join('; '));
    }
    const best = (xs: EvalResult[]) => xs.reduce((a, e) => (e.stepsPerSecond > a.stepsPerSecond ? e : a));
    const pooled = evals.filter((e) => e.processes > 1);
    const bestSerial = best(evals.filter((e) => e.envs > 1 && e.processes === 1));
    const bestRun = best(pooled.length ? pooled : [bestSerial]);
    const ratio = bestRun.stepsPerSecond / single;
    verdict('evaluation with batched environments >= 4x one environment',
      `${fmt(ratio, 2)}x with ${bestRun.envs} envs in ${bestRun.processes} processes (in one process: ${fmt(bestSerial.stepsPerSecond / single, 2)}x with ${bestSerial.envs} envs)`, ratio >= 4);
  }

  // 5. PyTorch yardstick.
  if (want('torch') && !opts.skipTorch && parts) {
    const b = parts.breakdown;
    console.log('# PyTorch yardstick');
    const torch = torchYardstick(null);
    result.torch = torch;
    if (torch.result) {
      const t = torch.result as Record<string, number>;
      row(`PyTorch ${t.torch} (${t.threads} threads): batch-1 act`, `${fmt(t.actMs, 2)} ms`, `tfjs network path ${fmt(parts.actNetworkMs / t.actMs, 2)}x, agent path ${fmt(parts.actAgentMs / t.actMs, 2)}x`);
      row('PyTorch: batch-32 forward', `${fmt(t.forward32Ms)} ms`, `tfjs target forward ${fmt(b.targetForwardMs / t.forward32Ms, 2)}x`);
      row('PyTorch: gradient step (adam)', `${fmt(t.trainStepMs)} ms`, `tfjs ${fmt(parts.gradientStepMs.adam / t.trainStepMs, 2)}x`);
      verdict('batch-1 forward no slower than 2x PyTorch\'s', `${fmt(parts.actNetworkMs / t.actMs, 2)}x (${fmt(parts.actNetworkMs, 2)} vs ${fmt(t.actMs, 2)} ms; agent path ${fmt(parts.actAgentMs / t.actMs, 2)}x)`, parts.actNetworkMs / t.actMs <= 2);
    } else {
      row('PyTorch yardstick', 'not measured', torch.note);
      verdict('batch-1 forward no slower than 2x PyTorch\'s', `not measured: ${torch.note}`, null);
    }
  }

  // 6. Threads and sweeps (child processes: TensorFlow reads its thread settings when it loads).
  if (want('threads') && !opts.skipThreads && !QUICK) {
    console.log('# thread settings (child processes)');
    const settings: [string, Record<string, string>][] = [
      ['default (unset)', {}],
      ['1 thread', { TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1', OMP_NUM_THREADS: '1' }],
      ['2 threads', { TF_NUM_INTRAOP_THREADS: '2', TF_NUM_INTEROP_THREADS: '2', OMP_NUM_THREADS: '2' }],
      ['intra 2, inter 1', { TF_NUM_INTRAOP_THREADS: '2', TF_NUM_INTEROP_THREADS: '1' }],
      // TensorFlow 2.21 on x86-64 runs its oneDNN kernels by default ("oneDNN custom operations are on" at load);
      // this is Eigen's kernels instead. Other summation orders, so not what the runs use: measured to know the cost.
      ['oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)', { TF_ENABLE_ONEDNN_OPTS: '0' }],
    ];
    const threadResults: Record<string, unknown> = {};
    for (const [label, env] of settings) {
      const r = (await startChild('threads', env).result) as { matmulGflops: number; actMs: number; gradientStepMs: number };
      threadResults[label] = { env, ...r };
      row(`threads: ${label}`, `${fmt(r.gradientStepMs)} ms/gradient step`, `act ${fmt(r.actMs, 2)} ms, matmul ${fmt(r.matmulGflops)} GFLOP/s`);
    }
    result.threads = threadResults;

    console.log('# sweep throughput (concurrent training loops)');
    const cores = os.cpus().length;
    const splits: [number, number][] = [];
    for (let workers = 1; workers <= cores; workers++) if (cores % workers === 0) splits.push([workers, cores / workers]);
    const sweep: Record<string, unknown>[] = [];
    for (const [workers, threads] of splits) {
      const env = { TF_NUM_INTRAOP_THREADS: String(threads), TF_NUM_INTEROP_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
      const children = Array.from({ length: workers }, () => startChild('loop', env, ['--loop-seconds', String(QUICK ? 15 : 40)]));
      await Promise.all(children.map((c) => c.ready));
      children.forEach((c) => c.go());
      const loops = (await Promise.all(children.map((c) => c.result))) as LoopResult[];
      const total = loops.reduce((s, l) => s + l.stepsPerSecond, 0);
      sweep.push({ workers, threads, perRunStepsPerSecond: loops.map((l) => l.stepsPerSecond), totalStepsPerSecond: total, runStepsPerHour: total * 3600 });
      row(`sweep: ${workers} run${workers > 1 ? 's' : ''} x ${threads} thread${threads > 1 ? 's' : ''}`, `${fmt(total * 3600 / 1e3, 0)}k run-steps/h`, `${loops.map((l) => fmt(l.stepsPerSecond)).join(' + ')} steps/s`);
    }
    result.sweep = sweep;
    const best = sweep.reduce((a, s) => ((s.totalStepsPerSecond as number) > (a.totalStepsPerSecond as number) ? s : a));
    verdict('sweeps: the best worker x thread split is known (and should be the default)', `${best.workers} runs x ${best.threads} threads: ${fmt((best.runStepsPerHour as number) / 1e3, 0)}k run-steps/h`, null);
  }

  // 7. Memory.
  if (want('memory') && !opts.skipMemory) {
    console.log('# memory: 1M replay (child process, ~7 GB)');
    const r1m = (await startChild('replay1m', {}).result) as ReturnType<typeof replayAtCapacity>;
    result.replay1M = r1m;
    row('replay at 1M capacity, full: resident size', `${fmt(r1m.rssBytes / GB, 2)} GB`, `${fmt(r1m.rssBytes / 2 ** 30, 2)} GiB; replay arrays ${fmt(r1m.allocatedBytes / GB, 2)} GB; process before the replay (node + TensorFlow) ${fmt(r1m.rssBeforeBytes / GB, 2)} GB; filled in ${fmt(r1m.fillSeconds, 0)} s`);
    row('replay at 1M capacity: sample batch 32', `${fmt(r1m.sampleMs, 3)} ms`);
    // The target is the replay's memory; Node and TensorFlow take their ~0.5 GB whatever the replay does.
    const replayBytes = r1m.rssBytes - r1m.rssBeforeBytes;
    verdict('replay: 1M capacity within 7.5 GB', `the replay adds ${fmt(replayBytes / GB, 2)} GB resident (${fmt(replayBytes / 2 ** 30, 2)} GiB); the whole process ${fmt(r1m.rssBytes / GB, 2)} GB with Node and TensorFlow`, replayBytes <= 7.5 * GB);
    verdict('replay: a batch of 32 in under 0.5 ms', `${fmt(r1m.sampleMs, 3)} ms at 1M${parts ? `, ${fmt(parts.sampleBatchMs, 3)} ms at 100k` : ''}`, r1m.sampleMs < 0.5);

    const longSteps = opts.longSteps ?? (QUICK ? 1500 : 6000);
    console.log(`# memory: long run (${longSteps} steps, child process)`);
    const long = (await startChild('long', {}, ['--long-steps', String(longSteps)]).result) as { steps: number; capacity: number; loop: LoopResult };
    result.longRun = long;
    const s = long.loop.samples;
    const afterFull = s.filter((x) => x.step + Math.floor(long.capacity / 4) + 1 >= long.capacity);
    const tensors = [...new Set(s.map((x) => x.numTensors))];
    const rssGrowth = afterFull.length > 1 ? afterFull[afterFull.length - 1].rssBytes - Math.min(...afterFull.map((x) => x.rssBytes)) : NaN;
    row(`long run: ${long.steps} steps, replay capacity ${long.capacity}`, `tensors ${tensors.length === 1 ? `constant at ${tensors[0]}` : `${Math.min(...tensors)}..${Math.max(...tensors)}`}`, `${s.length} samples`);
    row('long run: resident size once the replay is full', `${fmt(afterFull[0]?.rssBytes / 1e6, 0)} -> ${fmt(afterFull[afterFull.length - 1]?.rssBytes / 1e6, 0)} MB`, `last minus lowest ${fmt(rssGrowth / 1e6, 1)} MB over ${afterFull.length} samples`);
    verdict(`long run (${long.steps} steps here, 200,000 asked): no growth in tensors`, tensors.length === 1 ? `constant ${tensors[0]}` : `varies ${Math.min(...tensors)}..${Math.max(...tensors)}`, tensors.length === 1);
    verdict('long run: resident memory flat once the replay is full', `${fmt(rssGrowth / 1e6, 1)} MB above the lowest point after full`, Number.isFinite(rssGrowth) ? rssGrowth < 64e6 : null);
  }

  // Output.
  result.finishedAt = new Date().toISOString();
  result.loadAverageAtEnd = os.loadavg();
  result.table = rows;
  result.targets = verdicts;
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(`\n| what | measured | note |\n| ${'-'.repeat(w0)} | ${'-'.repeat(w1)}: | --- |`);
  for (const [a, b2, c] of rows) console.log(`| ${a.padEnd(w0)} | ${b2.padStart(w1)} | ${c} |`);
  console.log('\n| target | measured | met |\n| --- | --- | --- |');
  for (const v of verdicts) console.log(`| ${v.target} | ${v.measured} | ${v.met === null ? '—' : v.met ? 'yes' : 'no'} |`);
  const file = opts.json ?? path.join(ROOT, 'results', 'bench', `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
  console.log(`\n# load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; JSON: ${path.relative(ROOT, file)}`);
}

if (opts.child) {
  await childMain(opts.child);
  // stdin was read (the sweep's go signal) and would keep the child alive: leave once the result is out.
  process.stdout.write('', () => process.exit(0));
} else {
  await main();
}
