// The ALE seeds a run's emulators get (envs/emulator_seeds.ts emulatorSeed). An earlier hash gave run seeds 0-9 the
// same seeds (the seed XORed in twice cancelled), so every "three-seed" sweep shared one sticky-action stream.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VENV_PYTHON } from '../src/paths.mjs';
import { emulatorSeed } from '../envs/emulator_seeds.ts';
import { resolveRunConfig } from '../src/run/presets.ts';
import { ProgressReporter } from '../src/run/progress.ts';
import { trainRun } from '../src/run/trainer.ts';

describe('emulatorSeed', () => {
  it('gives every emulator of run seeds 0..9999 a seed of its own: training, 64 evaluation envs, 4 sessions', () => {
    const seen = new Set<number>();
    let count = 0;
    let outOfRange = 0;
    for (let seed = 0; seed < 10_000; seed++)
      for (let stream = 0; stream <= 64; stream++)
        for (let session = 0; session < 4; session++) {
          const s = emulatorSeed(seed, stream, session);
          if (!(Number.isInteger(s) && s >= 0 && s < 2 ** 31)) outOfRange++;
          seen.add(s);
          count++;
        }
    expect(outOfRange).toBe(0);
    expect(seen.size).toBe(count);
  });

  it('keeps the sessions of one emulator apart far beyond any real number of resumes', () => {
    const seeds = new Set(Array.from({ length: 1024 }, (_, session) => emulatorSeed(3, 0, session)));
    expect(seeds.size).toBe(1024);
  });

  it('is a fixed function of its inputs, also outside the packed ranges', () => {
    expect(emulatorSeed(0, 0, 0)).toBe(emulatorSeed(0, 0, 0));
    expect(emulatorSeed(0, 0, 0)).not.toBe(emulatorSeed(1, 0, 0));
    for (const seed of [16_384, 123_456_789, -1]) {
      const s = emulatorSeed(seed, 0, 0);
      expect(s).toBe(emulatorSeed(seed, 0, 0));
      expect(s >= 0 && s < 2 ** 31).toBe(true);
      expect(s).not.toBe(emulatorSeed(seed, 1, 0));
    }
  });
});

/**
 * A Python interpreter for the bridge that records every random_seed ALE is given (through sitecustomize, which
 * wraps ALEInterface.setInt before the server imports it) in `log`: the seeds as the emulator sees them.
 */
function seedRecordingPython(dir: string, log: string): string {
  fs.mkdirSync(path.join(dir, 'site'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'site', 'sitecustomize.py'), [
    'import os, ale_py',
    '_set_int = ale_py.ALEInterface.setInt',
    'def _recording_set_int(self, key, value):',
    "    if key == 'random_seed':",
    "        with open(os.environ['SEED_LOG'], 'a') as f: f.write(f'{value}\\n')",
    '    return _set_int(self, key, value)',
    'ale_py.ALEInterface.setInt = _recording_set_int',
  ].join('\n'));
  const wrapper = path.join(dir, 'python');
  fs.writeFileSync(wrapper, `#!/bin/sh\nPYTHONPATH='${path.join(dir, 'site')}' SEED_LOG='${log}' exec '${VENV_PYTHON}' "$@"\n`, { mode: 0o755 });
  return wrapper;
}

describe('the ALE seeds of real runs', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-seeds-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('differ between run seeds 0 and 1, for the training env and each evaluation env', async () => {
    const observed: number[][] = [];
    for (const seed of [0, 1]) {
      const log = path.join(tmp, `seeds-${seed}.log`);
      const config = resolveRunConfig({ game: 'pong', seed, preset: 'smoke', iterations: 1, trainingSteps: 20, evalSteps: 20 });
      const progress = new ProgressReporter({ tty: false, write: () => {}, plainEverySeconds: 1000 });
      const result = await trainRun({
        config, outDir: path.join(tmp, `run-${seed}`), stop: { requested: null }, progress,
        pythonPath: seedRecordingPython(path.join(tmp, `python-${seed}`), log),
      });
      expect(result.status).toBe('completed');
      observed.push(fs.readFileSync(log, 'utf8').trim().split('\n').map(Number));
    }
    // The smoke preset has two evaluation envs: three emulators per run, each seen by ALE once.
    for (const seeds of observed) expect(seeds).toHaveLength(1 + 2);
    expect(new Set(observed.flat()).size).toBe(6);
    expect(observed[0]).toContain(emulatorSeed(0, 0, 0));
  }, 300_000);
});
