// `npm run bench:bridge`: how fast the emulator bridge is, in the figures the README quotes.
//   raw emulator        ALE frames/s with random actions (Python, no preprocessing)
//   python env          agent steps/s of the server's AtariEnv called in Python (frame skip 4, max-pool, resize)
//   bridge, 1 env       agent steps/s through the bridge: step + 84x84 frame back, one round trip per step
//   bridge, N envs      agent steps/s with N environments stepped together in one round trip
// Each figure is the median of --repeats runs of --seconds each.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { AleBridge } from '../envs/ale_bridge.ts';
import { VENV_PYTHON } from '../src/paths.mjs';
import { parsePositiveInteger, parsePositiveNumber } from '../src/cli/parse.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const options = new Command('bench-bridge')
  .option('--game <name>', 'game', 'pong')
  .option('--seconds <s>', 'seconds per measurement', parsePositiveNumber, 3)
  .option('--repeats <n>', 'measurements per figure (median reported)', parsePositiveInteger, 3)
  .option('--envs <n>', 'environments for the batched figure', parsePositiveInteger, 4)
  .parse().opts();

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function bridgeRate(envCount: number): Promise<number> {
  const bridge = await AleBridge.start();
  try {
    const envs = await Promise.all(Array.from({ length: envCount }, (_, seed) => bridge.createEnv({ game: options.game, seed })));
    await bridge.reset(envs);
    const actions = new Array<number>(envCount).fill(0);
    let steps = 0;
    const started = performance.now();
    while (performance.now() - started < options.seconds * 1000) {
      for (let k = 0; k < envCount; k++) actions[k] = Math.floor(Math.random() * envs[k].numActions);
      const results = await bridge.step(envs, actions);
      steps += envCount;
      const done = envs.filter((_, k) => results[k].terminal || results[k].truncated);
      if (done.length) await bridge.reset(done);
    }
    return steps / ((performance.now() - started) / 1000);
  } finally {
    await bridge.close();
  }
}

const raw: number[] = [];
const python: number[] = [];
const single: number[] = [];
const batched: number[] = [];
for (let r = 0; r < options.repeats; r++) {
  const out = JSON.parse(execFileSync(VENV_PYTHON, [path.join(ROOT, 'scripts/bench_emulator.py'), options.game, String(options.seconds)], { encoding: 'utf8' }));
  raw.push(out.rawFramesPerSecond);
  python.push(out.pythonStepsPerSecond);
  single.push(await bridgeRate(1));
  batched.push(await bridgeRate(options.envs));
}
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`machine: ${os.cpus().length} cores (${cpu}), ${options.game}, median of ${options.repeats} x ${options.seconds} s`);
console.log(`raw emulator          ${median(raw).toFixed(0).padStart(7)} frames/s  (= ${(median(raw) / 4).toFixed(0)} agent steps/s at frame skip 4)`);
console.log(`python env            ${median(python).toFixed(0).padStart(7)} agent steps/s`);
console.log(`bridge, 1 env         ${median(single).toFixed(0).padStart(7)} agent steps/s  (${(100 * median(single) / median(python)).toFixed(0)} % of python env)`);
console.log(`bridge, ${options.envs} envs        ${median(batched).toFixed(0).padStart(7)} agent steps/s`);
