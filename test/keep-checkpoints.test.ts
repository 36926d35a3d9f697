// --keep-checkpoints N: how many complete checkpoints a run keeps. Recorded in config.json's `settings` (not in
// `config`, so it changes neither the resume check nor a sweep's run id); a resume keeps it unless given again.
// One real smoke run (the emulator and TensorFlow), in two sessions.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RunDirectory } from '../src/run/run_directory.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-keep-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const readConfigFile = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
const checkpoints = (dir: string) => fs.readdirSync(path.join(dir, 'checkpoints')).sort();

describe('run settings (config.json "settings")', () => {
  it('are recorded when given, kept on a resume that does not give them, replaced when given again, and never compared', () => {
    const dir = path.join(tmp, 'unit');
    const config = { game: 'pong', seed: 0, iterations: 2 };
    let run = RunDirectory.create(dir, config, {});
    expect(run.recordSettings({ keepCheckpoints: undefined })).toEqual({});
    expect(readConfigFile(dir).settings).toBeUndefined();
    expect(run.recordSettings({ keepCheckpoints: 2 })).toEqual({ keepCheckpoints: 2 });
    run.releaseLock();
    run = RunDirectory.create(dir, config, {}); // a resume: same config
    expect(run.mode).toBe('resume');
    expect(run.recordSettings({ keepCheckpoints: undefined })).toEqual({ keepCheckpoints: 2 });
    expect(run.recordSettings({ keepCheckpoints: 5 })).toEqual({ keepCheckpoints: 5 });
    run.releaseLock();
    const file = readConfigFile(dir);
    expect(file.config).toEqual(config);
    expect(file.settings).toEqual({ keepCheckpoints: 5 });
    expect(file.resumes).toHaveLength(1);
    expect(file.resumes[0].configChanges).toBeUndefined();
  });
});

describe('--keep-checkpoints on a real run (smoke preset)', () => {
  const atari = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/atari.ts', '--game', 'Pong', '--preset', 'smoke', ...args], {
      cwd: REPO, encoding: 'utf8', timeout: 280_000,
    });

  it('--keep-checkpoints 1 ends with exactly one checkpoint, and a resume without the flag keeps 1', () => {
    const dir = path.join(tmp, 'run');
    const first = atari('--iterations', '1', '--keep-checkpoints', '1', '--out', dir);
    expect(first.status, first.stdout + first.stderr).toBe(0);
    // Nothing else: no warning, and not TensorFlow's oneDNN banner either (TF_CPP_MIN_LOG_LEVEL does not reach it;
    // the banner filter, src/stderr_filter.c, drops it while the binding loads).
    expect(first.stderr).toBe('');
    expect(checkpoints(dir)).toEqual(['ckpt-000000']);
    const file = readConfigFile(dir);
    expect(file.settings).toEqual({ keepCheckpoints: 1 });
    expect(JSON.stringify(file.config)).not.toMatch(/keep/i);

    // Extended by one iteration, without the flag: the recorded 1 applies (the default would keep both).
    const second = atari('--iterations', '2', '--out', dir);
    expect(second.status, second.stdout + second.stderr).toBe(0);
    expect(checkpoints(dir)).toEqual(['ckpt-000001']);
    expect(readConfigFile(dir).settings).toEqual({ keepCheckpoints: 1 });
    // A completed run holds no replay memory.
    expect(fs.existsSync(path.join(dir, 'checkpoints', 'ckpt-000001', 'extra'))).toBe(false);
  }, 300_000);
});
