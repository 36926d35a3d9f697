// Checkpoints must round trip bit-exactly, and a crash or a damaged file must never make a resume load garbage:
// the newest complete, valid checkpoint is used, older ones are the fallback.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkpointName,
  dropCheckpointExtras,
  findLatestCheckpoint,
  saveCheckpoint,
  type CheckpointContents,
  type TensorArray,
  type TensorInput,
} from '../src/run/checkpoints.ts';
import { RunDirectory } from '../src/run/run_directory.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

let tmp: string;
let warnings: string[];
const warn = (message: string) => warnings.push(message);
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-ckpt-'));
  warnings = [];
});
afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const ckptDir = (iteration: number) => path.join(tmp, 'checkpoints', checkpointName(iteration));
const listCheckpoints = () => fs.readdirSync(path.join(tmp, 'checkpoints')).sort();

/** Deterministic contents for an iteration, so a loaded checkpoint can be checked against what was saved. */
function contentsFor(iteration: number, size = 1000): CheckpointContents & { tensors: Map<string, TensorInput> } {
  const weights = new Float32Array(size).map((_, i) => Math.sin(i * 0.37 + iteration) * 1e3);
  return {
    state: { iteration, frames: iteration * 250_000, epsilon: Math.max(0.01, 1 - iteration / 10), rng: { s: [iteration, 7, 9] } },
    tensors: new Map([
      ['online/dense/kernel', { shape: [size / 10, 10], data: weights }],
      ['step', { shape: [1], data: Int32Array.of(iteration) }],
    ]),
  };
}

/** contentsFor(iteration) plus an extra/replay.bin, as a run's replay memory would be. */
function withExtra(iteration: number): CheckpointContents {
  return { ...contentsFor(iteration), writeExtra: (dir) => fs.writeFileSync(path.join(dir, 'replay.bin'), Buffer.alloc(4096, iteration)) };
}

/** Bitwise equality: distinguishes -0 from 0 and compares NaN payloads. */
function bitsOf(data: TensorArray): number[] {
  return Array.from(new Uint32Array(data.buffer, data.byteOffset, data.length));
}

describe('saveCheckpoint / findLatestCheckpoint', () => {
  it('round trips state and tensors bit-exactly (-0, denormals, NaN, extremes, views, empty, extra files)', async () => {
    const special = Float32Array.of(-0, 0, 1.4e-45, -1.4e-45, 5.877472e-39, 3.4028235e38, -Infinity, Infinity, NaN, Math.PI);
    const nanPayload = new Float32Array(new Uint32Array([0x7fc00123, 0xffa00001]).buffer); // non-canonical NaNs
    const backing = new Float32Array([9, 9, 1.5, 2.5, 9]);
    const ints = Int32Array.of(0, -1, 2147483647, -2147483648, 42, 7);
    const state = { frames: 123_456_789, epsilon: 0.01, rng: { seed: 'wd', state: [1, 2, 3] }, nested: { a: [true, null, 'x'] } };
    await saveCheckpoint(tmp, 12, {
      state,
      tensors: {
        special: { shape: [2, 5], data: special },
        nanPayload: { shape: [2], data: nanPayload },
        view: { shape: [2], data: backing.subarray(2, 4) }, // non-zero byteOffset
        ints: { shape: [2, 3], data: ints },
        scalar: { shape: [], data: Float32Array.of(-0) },
        empty: { shape: [0, 4], data: new Float32Array(0) },
      },
      writeExtra: async (dir) => {
        fs.mkdirSync(path.join(dir, 'replay'));
        await fs.promises.writeFile(path.join(dir, 'replay', 'frames.bin'), Buffer.from([1, 2, 3]));
      },
    });
    const found = findLatestCheckpoint(tmp, { warn })!;
    expect(warnings).toEqual([]);
    expect(found.iteration).toBe(12);
    expect(found.dir).toBe(ckptDir(12));
    expect(fs.readFileSync(path.join(found.extraDir!, 'replay', 'frames.bin'))).toEqual(Buffer.from([1, 2, 3]));
    const loaded = found.load();
    expect(loaded.state).toEqual(state);
    expect([...loaded.tensors.keys()]).toEqual(['special', 'nanPayload', 'view', 'ints', 'scalar', 'empty']);
    const get = (name: string) => loaded.tensors.get(name)!;
    expect(get('special')).toMatchObject({ dtype: 'float32', shape: [2, 5] });
    expect(bitsOf(get('special').data)).toEqual(bitsOf(special));
    expect(Object.is(get('special').data[0], -0)).toBe(true);
    expect(bitsOf(get('nanPayload').data)).toEqual([0x7fc00123, 0xffa00001]);
    expect(Array.from(get('view').data)).toEqual([1.5, 2.5]);
    expect(get('ints')).toEqual({ dtype: 'int32', shape: [2, 3], data: ints });
    expect(get('ints').data).toBeInstanceOf(Int32Array);
    expect(get('scalar').shape).toEqual([]);
    expect(Object.is(get('scalar').data[0], -0)).toBe(true);
    expect(get('empty')).toEqual({ dtype: 'float32', shape: [0, 4], data: new Float32Array(0) });
    expect(fs.readdirSync(found.dir).sort()).toEqual(['complete', 'extra', 'state.json', 'tensors.bin', 'tensors.json']);
  });

  it('returns null without checkpoints, and refuses bad inputs before writing', async () => {
    expect(findLatestCheckpoint(tmp, { warn })).toBeNull();
    await expect(saveCheckpoint(tmp, 1, { state: { loss: NaN }, tensors: {} })).rejects.toThrow(/loss is NaN/);
    await expect(saveCheckpoint(tmp, 1, { state: { m: new Map() }, tensors: {} })).rejects.toThrow(/of type Map/);
    await expect(saveCheckpoint(tmp, 1, { state: {}, tensors: { w: { shape: [2, 2], data: new Float32Array(3) } } })).rejects.toThrow(/holds 4 values, data has 3/);
    expect(findLatestCheckpoint(tmp, { warn })).toBeNull();
    expect(listCheckpoints()).toEqual([]); // the failed save left no temp directory
  });

  it('keeps only the newest `keep` checkpoints', async () => {
    let removed: string[] = [];
    for (let i = 0; i <= 6; i++) removed = (await saveCheckpoint(tmp, i, contentsFor(i), { keep: 3 })).removed;
    expect(listCheckpoints()).toEqual([4, 5, 6].map(checkpointName));
    expect(removed).toEqual([checkpointName(3)]);
    await saveCheckpoint(tmp, 7, contentsFor(7)); // default keep = 4
    expect(listCheckpoints()).toEqual([4, 5, 6, 7].map(checkpointName));
  });

  it('ignores a checkpoint without its sentinel, and the next save deletes it', async () => {
    await saveCheckpoint(tmp, 1, contentsFor(1));
    await saveCheckpoint(tmp, 2, contentsFor(2));
    fs.rmSync(path.join(ckptDir(2), 'complete'));
    const found = findLatestCheckpoint(tmp, { warn })!;
    expect(found.iteration).toBe(1);
    expect(warnings.join('\n')).toMatch(/ckpt-000002 has no "complete" sentinel/);
    await saveCheckpoint(tmp, 2, contentsFor(2));
    expect(findLatestCheckpoint(tmp, { warn })!.load().state).toEqual(contentsFor(2).state);
  });

  it('skips a checkpoint with a truncated tensors.bin with a warning and loads the previous one', async () => {
    await saveCheckpoint(tmp, 1, contentsFor(1));
    await saveCheckpoint(tmp, 2, contentsFor(2));
    const bin = path.join(ckptDir(2), 'tensors.bin');
    fs.truncateSync(bin, fs.statSync(bin).size - 100);
    const found = findLatestCheckpoint(tmp, { warn })!;
    expect(found.iteration).toBe(1);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/ckpt-000002 is invalid \(tensors\.bin has \d+ bytes, expected \d+ \(truncated\?\)\)/);
    const loaded = found.load();
    const expected = contentsFor(1);
    expect(loaded.state).toEqual(expected.state);
    const weights = expected.tensors.get('online/dense/kernel')!.data;
    expect(bitsOf(loaded.tensors.get('online/dense/kernel')!.data)).toEqual(bitsOf(weights));
  });

  it('skips a checkpoint whose state.json is corrupt, or whose bytes changed, with a warning', async () => {
    await saveCheckpoint(tmp, 1, contentsFor(1));
    await saveCheckpoint(tmp, 2, contentsFor(2));
    await saveCheckpoint(tmp, 3, contentsFor(3));
    fs.writeFileSync(path.join(ckptDir(3), 'state.json'), '{"iteration": 3, "fra');
    const bin = fs.readFileSync(path.join(ckptDir(2), 'tensors.bin'));
    bin[17] ^= 0x01; // one flipped bit, same size
    fs.writeFileSync(path.join(ckptDir(2), 'tensors.bin'), bin);
    const found = findLatestCheckpoint(tmp, { warn })!;
    expect(found.iteration).toBe(1);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/ckpt-000003 is invalid \(state\.json has \d+ bytes/);
    expect(warnings[1]).toMatch(/ckpt-000002 is invalid \(tensors\.bin does not match its SHA-256/);
  });

  it('skips a checkpoint whose extra files were truncated', async () => {
    await saveCheckpoint(tmp, 1, withExtra(1));
    await saveCheckpoint(tmp, 2, withExtra(2));
    fs.truncateSync(path.join(ckptDir(2), 'extra', 'replay.bin'), 100);
    expect(findLatestCheckpoint(tmp, { warn })!.iteration).toBe(1);
    expect(warnings[0]).toMatch(/extra file replay\.bin is missing or truncated/);
  });

  it('keepExtra: only the newest checkpoints keep extra/, older ones stay valid without it', async () => {
    for (const i of [1, 2, 3]) await saveCheckpoint(tmp, i, withExtra(i), { keep: 4, keepExtra: 1 });
    expect([1, 2, 3].map((i) => fs.existsSync(path.join(ckptDir(i), 'extra')))).toEqual([false, false, true]);
    fs.rmSync(ckptDir(3), { recursive: true });
    const fallback = findLatestCheckpoint(tmp, { warn })!;
    expect(fallback.iteration).toBe(2);
    expect(fallback.extraDir).toBeNull();
    expect(warnings).toEqual([]);
    await expect(saveCheckpoint(tmp, 4, withExtra(4), { keepExtra: 0 })).rejects.toThrow(/keepExtra must be a positive integer/);
  });

  it('dropCheckpointExtras removes every extra/ and leaves the checkpoints loadable', async () => {
    await saveCheckpoint(tmp, 1, withExtra(1));
    await saveCheckpoint(tmp, 2, withExtra(2));
    dropCheckpointExtras(tmp);
    expect(fs.existsSync(path.join(ckptDir(1), 'extra')) || fs.existsSync(path.join(ckptDir(2), 'extra'))).toBe(false);
    const found = findLatestCheckpoint(tmp, { warn })!;
    expect(found.iteration).toBe(2);
    expect(found.extraDir).toBeNull();
    expect(bitsOf(found.load().tensors.get('online/dense/kernel')!.data)).toEqual(bitsOf(contentsFor(2).tensors.get('online/dense/kernel')!.data));
    expect(warnings).toEqual([]);
    dropCheckpointExtras(path.join(tmp, 'no-such-run')); // nothing to do, no error
  });

  it('ignores temp and half-replaced directories of a killed writer, and the next save removes them', async () => {
    await saveCheckpoint(tmp, 1, contentsFor(1));
    const partial = path.join(tmp, 'checkpoints', `${checkpointName(2)}.tmp-99999`);
    fs.mkdirSync(partial);
    fs.writeFileSync(path.join(partial, 'state.json'), '{"iter');
    fs.writeFileSync(path.join(partial, 'complete'), '{}'); // even with a sentinel: the name is not final
    fs.mkdirSync(path.join(tmp, 'checkpoints', `${checkpointName(0)}.old-5`));
    fs.writeFileSync(path.join(tmp, 'checkpoints', 'README.txt'), 'not ours'); // foreign files are left alone
    expect(findLatestCheckpoint(tmp, { warn })!.iteration).toBe(1);
    expect(warnings).toEqual([]);
    await saveCheckpoint(tmp, 2, contentsFor(2));
    expect(listCheckpoints()).toEqual(['README.txt', checkpointName(1), checkpointName(2)]);
  });

  it('a failing writeExtra (e.g. disk full) leaves no temp directory and older checkpoints intact', async () => {
    await saveCheckpoint(tmp, 1, contentsFor(1), { keep: 1 });
    const failing: CheckpointContents = {
      ...contentsFor(2),
      writeExtra: () => {
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      },
    };
    await expect(saveCheckpoint(tmp, 2, failing, { keep: 1 })).rejects.toThrow(/ENOSPC/);
    expect(listCheckpoints()).toEqual([checkpointName(1)]);
    expect(findLatestCheckpoint(tmp, { warn })!.iteration).toBe(1);
  });

  it('re-saving after a fallback replaces the bad checkpoint and deletes newer ones from the abandoned timeline', async () => {
    for (let i = 1; i <= 3; i++) await saveCheckpoint(tmp, i, contentsFor(i));
    fs.writeFileSync(path.join(ckptDir(2), 'state.json'), 'garbage');
    fs.writeFileSync(path.join(ckptDir(3), 'state.json'), 'garbage');
    expect(findLatestCheckpoint(tmp, { warn })!.iteration).toBe(1);
    const { removed } = await saveCheckpoint(tmp, 2, contentsFor(2, 500));
    expect(removed).toContain(checkpointName(3));
    expect(listCheckpoints()).toEqual([checkpointName(1), checkpointName(2)]);
    warnings = [];
    const found = findLatestCheckpoint(tmp, { warn })!;
    expect(warnings).toEqual([]);
    expect(found.iteration).toBe(2);
    expect(found.load().tensors.get('online/dense/kernel')!.shape).toEqual([50, 10]);
  });

  it('accepts a RunDirectory and refuses to save without its lock', async () => {
    const run = RunDirectory.create(path.join(tmp, 'run'), { game: 'Pong' }, {});
    await saveCheckpoint(run, 5, contentsFor(5));
    expect(findLatestCheckpoint(run, { warn })!.dir).toBe(path.join(run.dir, 'checkpoints', checkpointName(5)));
    run.releaseLock();
    await expect(saveCheckpoint(run, 6, contentsFor(6))).rejects.toThrow(/not locked/);
  });

  it('a writer killed with SIGKILL mid-save always leaves a loadable checkpoint matching what was saved', async () => {
    // The child saves iterations 0, 1, 2, … with ~2 MB of tensors each (keep = 2) until it is killed at a
    // moment it does not choose. Whatever it was doing, the latest valid checkpoint must load exactly.
    for (const delayMs of [150, 400]) {
      const dir = path.join(tmp, `kill-${delayMs}`);
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `
          import { saveCheckpoint } from ${JSON.stringify(path.join(ROOT, 'src/run/checkpoints.ts'))};
          const contentsFor = ${contentsFor.toString()};
          for (let i = 0; ; i++) {
            await saveCheckpoint(${JSON.stringify(dir)}, i, contentsFor(i, 500_000), { keep: 2 });
            console.log('saved ' + i);
          }`,
        ],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
      await waitForSaves(child, 2);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      expect(stderr).toBe('');
      const found = findLatestCheckpoint(dir, { warn })!;
      expect(found).not.toBeNull();
      const loaded = found.load();
      const expected = contentsFor(found.iteration, 500_000);
      expect(loaded.state).toEqual(expected.state);
      for (const [name, tensor] of expected.tensors) {
        expect(loaded.tensors.get(name)!.shape).toEqual(tensor.shape);
        expect(bitsOf(loaded.tensors.get(name)!.data)).toEqual(bitsOf(tensor.data));
      }
    }
    expect(warnings).toEqual([]);
  });
});

function waitForSaves(child: ChildProcess, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if ((out.match(/saved \d+/g) ?? []).length >= count) resolve();
    });
    child.once('exit', (code, signal) => reject(new Error(`checkpoint writer exited early (${code ?? signal})`)));
  });
}
