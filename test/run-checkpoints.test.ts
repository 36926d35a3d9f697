// Checkpoints must round trip bit-exactly, and a crash or a damaged file must never make a resume load garbage:
// the newest complete, valid checkpoint is used, older ones are the fallback. A kill between a save's two renames
// never loses the checkpoint, a full disk says what it needs, and a reader beside a run that prunes or renames
// checkpoints never takes a vanished one for a damaged one.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  checkpointIterations,
  checkpointName,
  dropCheckpointExtras,
  findCheckpoint,
  findLatestCheckpoint,
  saveCheckpoint,
  type CheckpointContents,
  type FoundCheckpoint,
  type TensorArray,
  type TensorInput,
} from '../src/run/checkpoints.ts';
import { writeFileAtomic } from '../src/io/atomic.ts';
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
  vi.restoreAllMocks();
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

/**
 * A child process (tsx, an ES module) with saveCheckpoint and contentsFor in scope, running `body`: a writer that
 * can be killed at a moment the test chooses or the body does.
 */
function spawnSaver(body: string) {
  const script = `import { saveCheckpoint } from ${JSON.stringify(path.join(ROOT, 'src/run/checkpoints.ts'))};\n` +
    `const contentsFor = ${contentsFor.toString()};\n${body}`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
      const child = spawnSaver(`
        for (let i = 0; ; i++) {
          await saveCheckpoint(${JSON.stringify(dir)}, i, contentsFor(i, 500_000), { keep: 2 });
          console.log('saved ' + i);
        }`);
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

/** The shape of the saved weights tells contentsFor(i, 500) (a stop mid-iteration, say) from contentsFor(i, 1000). */
const weightsShape = (found: FoundCheckpoint) => found.load().tensors.get('online/dense/kernel')!.shape;

/** Expects `found` to load exactly contentsFor(iteration, size). */
function expectContents(found: FoundCheckpoint, iteration: number, size: number): void {
  const loaded = found.load();
  const expected = contentsFor(iteration, size);
  expect(found.iteration).toBe(iteration);
  expect(loaded.state).toEqual(expected.state);
  for (const [name, tensor] of expected.tensors) expect(bitsOf(loaded.tensors.get(name)!.data)).toEqual(bitsOf(tensor.data));
}

describe('a save killed between its two renames (issue 21 item 1)', () => {
  /**
   * A child saves iteration 0, then iteration 1 partway (contentsFor(1, 500): a stop mid-iteration, which with
   * keep 1 prunes ckpt-0), then re-saves iteration 1 complete (contentsFor(1, 1000)), and SIGKILLs itself at the
   * `killAt`-th rename or removal of a ckpt-* directory during that last save. Returns what it did just before.
   */
  async function killedResave(dir: string, killAt: number): Promise<string | null> {
    const child = spawnSaver(`
        import fs from 'node:fs';
        import path from 'node:path';
        const dir = ${JSON.stringify(dir)};
        await saveCheckpoint(dir, 0, contentsFor(0), { keep: 1 });
        await saveCheckpoint(dir, 1, contentsFor(1, 500), { keep: 1 });
        let calls = 0;
        for (const op of ['renameSync', 'rmSync']) {
          const original = fs[op];
          fs[op] = (from, ...rest) => {
            if (/^ckpt-/.test(path.basename(from)) && ++calls === ${killAt}) {
              console.log(op + ' ' + path.basename(from) + (op === 'renameSync' ? ' -> ' + path.basename(rest[0]) : ''));
              process.kill(process.pid, 'SIGKILL');
              Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // never runs past the kill
            }
            return original(from, ...rest);
          };
        }
        await saveCheckpoint(dir, 1, contentsFor(1), { keep: 1 });
        console.log('finished');`);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const signal = await new Promise((resolve) => child.once('exit', (_code, sig) => resolve(sig)));
    expect(stderr).toBe('');
    if (signal !== 'SIGKILL') {
      expect(stdout.trim()).toBe('finished');
      return null;
    }
    return stdout.trim();
  }

  it('wherever the kill lands, the resume finds iteration 1, the new copy once it is complete, and the next save tidies up', async () => {
    const seen: string[] = [];
    let asideDone = false; // the partial copy was moved out of the final name before this kill point
    for (let killAt = 1; ; killAt++) {
      const dir = path.join(tmp, `kill-${killAt}`);
      const at = await killedResave(dir, killAt);
      if (at === null) break;
      seen.push(at);
      const found = findLatestCheckpoint(dir, { warn })!;
      expect(found, at).not.toBeNull();
      // The final name wins while it holds the partial copy; once that is moved aside, the complete new copy.
      expectContents(found, 1, asideDone ? 1000 : 500);
      asideDone ||= /^renameSync ckpt-000001 -> /.test(at);
      await saveCheckpoint(dir, 2, contentsFor(2), { keep: 1 });
      expect(fs.readdirSync(path.join(dir, 'checkpoints'))).toEqual([checkpointName(2)]);
      expectContents(findLatestCheckpoint(dir, { warn })!, 2, 1000);
    }
    // The window of the issue was among the kill points: the old copy moved aside, the new one not yet in place.
    expect(seen).toContainEqual(expect.stringMatching(/^renameSync ckpt-000001\.tmp-\d+ -> ckpt-000001$/));
    expect(warnings).toEqual([]);
  }, 120_000);

  /** checkpoints/ as a kill between the renames leaves it: `ckpt-1.old-<pid>` (partial) and `ckpt-1.tmp-<pid>` (complete). */
  async function windowState(pid: number): Promise<string> {
    await saveCheckpoint(tmp, 0, contentsFor(0), { keep: 1 });
    await saveCheckpoint(tmp, 1, contentsFor(1, 500), { keep: 1 });
    const other = path.join(tmp, 'other');
    await saveCheckpoint(other, 1, contentsFor(1));
    const root = path.join(tmp, 'checkpoints');
    fs.renameSync(ckptDir(1), path.join(root, `${checkpointName(1)}.old-${pid}`));
    fs.renameSync(path.join(other, 'checkpoints', checkpointName(1)), path.join(root, `${checkpointName(1)}.tmp-${pid}`));
    fs.rmSync(other, { recursive: true });
    expect(listCheckpoints()).toEqual([`${checkpointName(1)}.old-${pid}`, `${checkpointName(1)}.tmp-${pid}`]);
    return root;
  }

  it('uses the old copy when the new one is damaged, and play/--export (findCheckpoint) find it too', async () => {
    const root = await windowState(4242);
    expect(checkpointIterations(tmp)).toEqual([1]); // what play lists as available
    expect(weightsShape(findCheckpoint(tmp, 1))).toEqual([100, 10]);
    const bin = path.join(root, `${checkpointName(1)}.tmp-4242`, 'tensors.bin');
    fs.truncateSync(bin, 10);
    expectContents(findLatestCheckpoint(tmp, { warn })!, 1, 500);
    expectContents(findCheckpoint(tmp, 1), 1, 500);
    expect(warnings).toEqual([]);
  });

  it('a save by a process with the same pid (a requeued container) puts the copy in place before touching the names', async () => {
    await windowState(process.pid);
    const diskFull: CheckpointContents = {
      ...contentsFor(1, 300),
      writeExtra: () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    await expect(saveCheckpoint(tmp, 1, diskFull, { keep: 1 })).rejects.toThrow(/ENOSPC/);
    expectContents(findLatestCheckpoint(tmp, { warn })!, 1, 1000);
    expect(listCheckpoints()).toContain(checkpointName(1));
    expect(warnings).toEqual([]);
  });
});

describe('a full disk during a save (issue 21 item 9)', () => {
  /** Makes every write (fs.writeSync) to a file whose path `matches` fail with ENOSPC, as a full disk does. */
  function failWritesTo(matches: (file: string) => boolean): void {
    const files = new Map<number, string>();
    const open = fs.openSync as (...args: unknown[]) => number;
    const write = fs.writeSync as (...args: unknown[]) => number;
    vi.spyOn(fs, 'openSync').mockImplementation(((...args: unknown[]) => {
      const fd = open(...args);
      files.set(fd, String(args[0]));
      return fd;
    }) as never);
    vi.spyOn(fs, 'writeSync').mockImplementation(((...args: unknown[]) => {
      if (matches(files.get(args[0] as number) ?? '')) {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      }
      return write(...args);
    }) as never);
  }

  /** withExtra's contents, its extra file written as the replay memory writes its files (atomically). */
  const replayLike = (iteration: number): CheckpointContents => ({
    ...contentsFor(iteration),
    writeExtra: (dir) => writeFileAtomic(path.join(dir, 'replay.bin'), Buffer.alloc(4096, iteration)),
  });

  it('names the file being written, the space the checkpoint needs and the checkpoint the run resumes from, for every file', async () => {
    // The size of a checkpoint like the one that fails, for the estimate to be checked against.
    await saveCheckpoint(path.join(tmp, 'reference'), 2, replayLike(2));
    const realBytes = fs.readdirSync(path.join(tmp, 'reference', 'checkpoints', checkpointName(2)), { recursive: true })
      .map((f) => fs.statSync(path.join(tmp, 'reference', 'checkpoints', checkpointName(2), String(f))))
      .filter((st) => st.isFile())
      .reduce((sum, st) => sum + st.size, 0);
    for (const [part, named] of [
      ['state.json', /tmp-\d+\/state\.json/],
      ['tensors.bin', /tmp-\d+\/tensors\.bin/],
      ['tensors.json', /tmp-\d+\/tensors\.json/],
      ['extra', /tmp-\d+\/extra\/ \(its extra files, e\.g\. the replay memory\)/],
      ['complete', /tmp-\d+\/complete/],
    ] as const) {
      const run = path.join(tmp, `full-${part}`);
      await saveCheckpoint(run, 1, replayLike(1), { keep: 2 });
      failWritesTo((file) => file.includes(`${checkpointName(2)}.tmp-`) && (part === 'extra' ? file.includes('/extra/') : path.basename(file).replace(/^\.|\.tmp-\d+-[0-9a-f]+$/g, '') === part));
      const error: Error = await saveCheckpoint(run, 2, replayLike(2), { keep: 2 }).then(() => { throw new Error(`${part}: the save did not fail`); }, (e: Error) => e);
      vi.restoreAllMocks();
      expect(error.message, part).toMatch(/^no space left on the device \(ENOSPC\) writing \//);
      expect(error.message, part).toMatch(named);
      expect(error.message, part).toContain(`resumes from the previous checkpoint, ${path.join(run, 'checkpoints', checkpointName(1))}`);
      const needed = Number(/needs about ([\d.]+) kB free in /.exec(error.message)?.[1]) * 1e3;
      expect(Math.abs(needed - realBytes) / realBytes, `${part}: ${error.message}`).toBeLessThan(0.15);
      expect(error.message.split('\n')).toHaveLength(1);
      expect(fs.readdirSync(path.join(run, 'checkpoints'))).toEqual([checkpointName(1)]);
      expect(findLatestCheckpoint(run, { warn })!.iteration).toBe(1);
    }
    failWritesTo((file) => file.includes('tensors.bin'));
    await expect(saveCheckpoint(path.join(tmp, 'first'), 0, contentsFor(0))).rejects.toThrow(/There is no earlier checkpoint: the run would start from the beginning/);
    expect(warnings).toEqual([]);
  });

  it('a lowered keep deletes the excess before the new checkpoint is written, so a full disk still has room for it', async () => {
    for (let i = 1; i <= 4; i++) await saveCheckpoint(tmp, i, withExtra(i), { keep: 4 });
    let during: string[] = [];
    const full: CheckpointContents = {
      ...contentsFor(5),
      writeExtra: () => {
        during = listCheckpoints().filter((name) => !name.includes('.tmp-'));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    await expect(saveCheckpoint(tmp, 5, full, { keep: 2 })).rejects.toThrow(/ENOSPC/);
    expect(during).toEqual([checkpointName(4)]); // keep 2 = the newest older one + the one being written
    expect(listCheckpoints()).toEqual([checkpointName(4)]);
    expect(findLatestCheckpoint(tmp, { warn })!.extraDir).not.toBeNull(); // the resume still has its replay
    const { removed } = await saveCheckpoint(tmp, 5, withExtra(5), { keep: 2 });
    expect(removed).toEqual([]);
    expect(listCheckpoints()).toEqual([4, 5].map(checkpointName));
    expect(warnings).toEqual([]);
  });

  it('pruning first always keeps a checkpoint that validates, even at keep 1 with a damaged newest one', async () => {
    for (let i = 1; i <= 4; i++) await saveCheckpoint(tmp, i, contentsFor(i), { keep: 4 });
    fs.writeFileSync(path.join(ckptDir(4), 'state.json'), 'garbage');
    const full: CheckpointContents = {
      ...contentsFor(5),
      writeExtra: () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    await expect(saveCheckpoint(tmp, 5, full, { keep: 1 })).rejects.toThrow(/resumes from the previous checkpoint, .*ckpt-000003/);
    expect(listCheckpoints()).toEqual([3, 4].map(checkpointName));
    expect(findLatestCheckpoint(tmp, { warn })!.iteration).toBe(3);
    expect(warnings).toEqual([expect.stringMatching(/ckpt-000004 is invalid/)]);
  });
});

describe('checkpoints pruned or renamed by a run beside while being read (issue 21 item 10)', () => {
  /**
   * Runs `action` once: with k = 0 right after checkpoints/ is listed, else just before the k-th file read
   * (fs.readFileSync) under `dir`. Returns whether it ran.
   */
  function interceptReads(dir: string, k: number, action: () => void): () => boolean {
    let reads = 0;
    let ran = false;
    const readdir = fs.readdirSync as (...args: unknown[]) => unknown;
    const read = fs.readFileSync as (...args: unknown[]) => unknown;
    vi.spyOn(fs, 'readdirSync').mockImplementation(((...args: unknown[]) => {
      const listing = readdir(...args);
      if (k === 0 && !ran && args[0] === path.dirname(dir)) {
        ran = true;
        action();
      }
      return listing;
    }) as never);
    vi.spyOn(fs, 'readFileSync').mockImplementation(((...args: unknown[]) => {
      if (k > 0 && !ran && String(args[0]).startsWith(dir + path.sep) && ++reads === k) {
        ran = true;
        action();
      }
      return read(...args);
    }) as never);
    return () => ran;
  }

  const root = () => path.join(tmp, 'checkpoints');
  const staged = () => path.join(tmp, 'staged');
  /** Each scenario: the run's checkpoints/, the directory being read, what the run beside does meanwhile, the answer. */
  const scenarios: Array<{ what: string; setup: () => Promise<string>; action: () => void; expected: number; byNumber?: RegExp }> = [
    {
      what: 'pruned as its successor is put in place (keep 1)',
      setup: async () => {
        await saveCheckpoint(tmp, 1, contentsFor(1));
        await saveCheckpoint(staged(), 2, contentsFor(2));
        return ckptDir(1);
      },
      action: () => {
        fs.renameSync(path.join(staged(), 'checkpoints', checkpointName(2)), ckptDir(2));
        fs.rmSync(ckptDir(1), { recursive: true });
      },
      expected: 2,
    },
    {
      what: 'renamed into place from its temporary name',
      setup: async () => {
        await saveCheckpoint(tmp, 1, contentsFor(1));
        await saveCheckpoint(staged(), 2, contentsFor(2));
        fs.renameSync(path.join(staged(), 'checkpoints', checkpointName(2)), path.join(root(), `${checkpointName(2)}.tmp-4242`));
        return path.join(root(), `${checkpointName(2)}.tmp-4242`);
      },
      action: () => fs.renameSync(path.join(root(), `${checkpointName(2)}.tmp-4242`), ckptDir(2)),
      expected: 2,
      byNumber: /^found 2$/,
    },
    {
      what: 'whose replay memory is dropped (the "missing or truncated" extra file)',
      setup: async () => {
        await saveCheckpoint(tmp, 1, withExtra(1));
        await saveCheckpoint(tmp, 2, withExtra(2));
        return ckptDir(2);
      },
      action: () => dropCheckpointExtras(tmp),
      expected: 2,
      byNumber: /^found 2$/,
    },
    {
      what: 'deleted',
      setup: async () => {
        await saveCheckpoint(tmp, 1, contentsFor(1));
        await saveCheckpoint(tmp, 2, contentsFor(2));
        return ckptDir(2);
      },
      action: () => fs.rmSync(ckptDir(2), { recursive: true }),
      expected: 1,
      byNumber: /^there is no checkpoint ckpt-000002$/,
    },
  ];

  for (const { what, setup, action, expected, byNumber } of scenarios) {
    it(`a checkpoint ${what} at any point of its reading is neither invalid nor incomplete, and the newest is found`, async () => {
      for (let k = 0; ; k++) {
        fs.rmSync(tmp, { recursive: true, force: true });
        fs.mkdirSync(tmp);
        const reading = await setup();
        const ran = interceptReads(reading, k, action);
        const found = findLatestCheckpoint(tmp, { warn });
        vi.restoreAllMocks();
        if (!ran()) break;
        expect(warnings, `k = ${k}`).toEqual([]);
        expect(found?.iteration, `k = ${k}`).toBe(expected);
        expect(found!.load().state).toEqual(contentsFor(expected).state);
        if (!byNumber) continue;
        // The same for `play --checkpoint 2` (findCheckpoint).
        fs.rmSync(tmp, { recursive: true, force: true });
        fs.mkdirSync(tmp);
        const again = await setup();
        const ranAgain = interceptReads(again, k, action);
        let answer: string;
        try {
          answer = `found ${findCheckpoint(tmp, 2).iteration}`;
        } catch (error) {
          answer = (error as Error).message;
        }
        vi.restoreAllMocks();
        expect(ranAgain()).toBe(true);
        expect(answer, `k = ${k}`).toMatch(byNumber);
      }
    });
  }

  it('a checkpoint removed between finding and loading says so; one really missing a file is still invalid', async () => {
    await saveCheckpoint(tmp, 1, contentsFor(1));
    await saveCheckpoint(tmp, 2, contentsFor(2));
    const found = findLatestCheckpoint(tmp, { warn })!;
    fs.rmSync(found.dir, { recursive: true });
    expect(() => found.load()).toThrow(/ckpt-000002 was removed while being loaded \(pruned or renamed by the run writing it\)/);
    await saveCheckpoint(tmp, 2, contentsFor(2));
    fs.rmSync(path.join(ckptDir(2), 'tensors.json'));
    expect(findLatestCheckpoint(tmp, { warn })!.iteration).toBe(1);
    expect(warnings).toEqual([expect.stringMatching(/ckpt-000002 is invalid \(tensors\.json is missing\); skipping it$/)]);
    expect(() => findCheckpoint(tmp, 2)).toThrow(/ckpt-000002 is invalid \(tensors\.json is missing\)/);
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
