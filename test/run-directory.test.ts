// Run directories must never be corrupted or mixed with another config, and must resume after anything.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptFileError, DirectoryError, isAtomicTempName, makeDirectories, readJsonFile, writeFileAtomic, writeJsonAtomic } from '../src/io/atomic.ts';
import { RunLockedError } from '../src/io/lock.ts';
import {
  InconsistentRunError,
  NotARunDirectoryError,
  RunConfigMismatchError,
  RunDirectory,
  type RunConfigFile,
} from '../src/run/run_directory.ts';

const ROOT = path.resolve(import.meta.dirname, '..');

const CONFIG = {
  game: 'Pong',
  optimizer: { name: 'adam', learningRate: 6.25e-5, epsilon: 1.5e-4 },
  weightDecay: 0,
  seed: 1,
  preset: 'dopamine',
  iterations: 200,
};
const ENV = { node: process.version, tfjs: '4.22.0', host: os.hostname(), startedAt: '2025-01-01T00:00:00Z' };

let tmp: string;
let runs: RunDirectory[] = [];
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-rundir-'));
});
afterEach(() => {
  for (const run of runs) run.releaseLock();
  runs = [];
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** create() and remember the run, so afterEach releases its lock even when an assertion fails. */
function create(dir: string, config: object = CONFIG, options = {}, env: object = ENV): RunDirectory {
  const run = RunDirectory.create(dir, config as Record<string, unknown>, env as Record<string, unknown>, options);
  runs.push(run);
  return run;
}

/** Every file under `dir` (relative path → content), to prove that nothing was written. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const rel = path.relative(dir, path.join(entry.parentPath, entry.name));
    out[rel] = entry.isFile() ? fs.readFileSync(path.join(dir, rel), 'base64') : '<dir>';
  }
  return out;
}

/** A child Node (with tsx) running an ES module script that may import project .ts files. */
function spawnScript(script: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function waitForOutput(child: ChildProcess, marker: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(marker)) resolve();
    });
    child.on('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before "${marker}": ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

const modulePath = (name: string) => JSON.stringify(path.join(ROOT, 'src', name));

describe('makeDirectories (every --out)', () => {
  it('makes the missing levels, and accepts an existing directory', () => {
    const deep = path.join(tmp, 'a', 'b', 'c');
    makeDirectories(deep);
    expect(fs.statSync(deep).isDirectory()).toBe(true);
    makeDirectories(deep);
  });

  it('fails at once, naming the level, where nothing can be made (/proc: Node 20 would spin there) or a file is in the way', () => {
    const started = Date.now();
    expect(() => makeDirectories('/proc/wd-harness-test/run', 'run directory')).toThrow(DirectoryError);
    expect(() => makeDirectories('/proc/wd-harness-test/run', 'run directory')).toThrow(/cannot create the run directory \/proc\/wd-harness-test\/run: making \/proc\/wd-harness-test failed \(ENOENT/);
    expect(Date.now() - started).toBeLessThan(2000);
    const file = path.join(tmp, 'file');
    fs.writeFileSync(file, 'x');
    expect(() => makeDirectories(path.join(file, 'sub'))).toThrow(/is a file, not a directory/);
  });

  it('a run directory that cannot be made is refused before anything is written', () => {
    expect(() => RunDirectory.create('/proc/wd-harness-test/run', { game: 'pong' }, {})).toThrow(/cannot create the run directory/);
  });
});

describe('one validity rule for resume and analysis', () => {
  const analysed = async (dir: string) => {
    const { loadSweep } = await import('../src/analysis/sweep_results.ts');
    return loadSweep(dir);
  };

  it('a repeated metrics iteration: the resume is refused (nothing written) and the analysis skips the run, for the same reason', async () => {
    const dir = path.join(tmp, 'dup');
    const first = create(dir, { ...CONFIG, game: 'pong', seed: 0, iterations: 3, trainingSteps: 10, agent: { optimizer: { name: 'adam' } } });
    first.appendMetrics({ iteration: 0 });
    first.appendMetrics({ iteration: 0 });
    first.writeSummary({ status: 'running' });
    first.releaseLock();
    runs = [];
    const before = snapshot(dir);
    expect(() => create(dir, { ...CONFIG, game: 'pong', seed: 0, iterations: 3, trainingSteps: 10, agent: { optimizer: { name: 'adam' } } })).toThrow(InconsistentRunError);
    expect(snapshot(dir)).toEqual(before);
    const sweep = await analysed(dir);
    expect(sweep.skipped[0].reason).toMatch(/record 2 has iteration 0, expected 1: iterations are missing or repeated/);
  });

  it("a 'completed' summary after 2 of 3 iterations: refused by both", async () => {
    const dir = path.join(tmp, 'short');
    const config = { ...CONFIG, game: 'pong', seed: 0, iterations: 3, trainingSteps: 10, agent: { optimizer: { name: 'adam' } } };
    const first = create(dir, config);
    first.appendMetrics({ iteration: 0 });
    first.appendMetrics({ iteration: 1 });
    first.writeSummary({ status: 'completed' });
    first.releaseLock();
    runs = [];
    expect(() => create(dir, config)).toThrow(/says completed but metrics\.jsonl has 2 of 3 iterations.*neither resumed nor tabulated/);
    expect((await analysed(dir)).skipped[0].reason).toMatch(/says completed but metrics\.jsonl has 2 of 3 iterations/);
  });
});

describe('RunDirectory.create', () => {
  it('starts a new run: config.json holds config, environment and createdAt', () => {
    const dir = path.join(tmp, 'run');
    const run = create(dir);
    expect(run.mode).toBe('new');
    expect(run.alreadyCompleted).toBe(false);
    const file = readJsonFile<RunConfigFile>(path.join(dir, 'config.json'), 'config');
    expect(file.config).toEqual(CONFIG);
    expect(file.environment).toEqual(ENV);
    expect(Date.parse(file.createdAt)).not.toBeNaN();
    expect(fs.statSync(path.join(dir, 'checkpoints')).isDirectory()).toBe(true);
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(true);
  });

  it('resumes a run with the same config, ignoring key order and environment', () => {
    const dir = path.join(tmp, 'run');
    create(dir).releaseLock();
    const reordered = { iterations: 200, preset: 'dopamine', seed: 1, weightDecay: 0, optimizer: { epsilon: 1.5e-4, learningRate: 6.25e-5, name: 'adam' }, game: 'Pong' };
    const newEnv = { ...ENV, tfjs: '9.9.9', host: 'elsewhere' };
    const run = create(dir, reordered, {}, newEnv);
    expect(run.mode).toBe('resume');
    expect(run.configChanges).toEqual([]);
    const file = run.readConfigFile();
    expect(file.environment).toEqual(ENV); // the original environment stays
    expect(file.resumes).toHaveLength(1);
    expect(file.resumes![0].environment).toEqual(newEnv); // each resume's environment is recorded
  });

  it('refuses a different config before writing anything, listing every differing key', () => {
    const dir = path.join(tmp, 'run');
    const first = create(dir);
    first.appendMetrics({ iteration: 0, score: -21 });
    first.releaseLock();
    const before = snapshot(dir);
    const changed = {
      ...CONFIG,
      optimizer: { ...CONFIG.optimizer, name: 'adamw' },
      weightDecay: 1e-4,
      clipNorm: 10,
      iterations: 400, // mutable: allowed, and not reported as a problem
    };
    let error: unknown;
    try {
      create(dir, changed, { mutableKeys: ['iterations'] });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RunConfigMismatchError);
    const mismatch = error as RunConfigMismatchError;
    expect(mismatch.differences.map((d) => d.key)).toEqual(['clipNorm', 'optimizer.name', 'weightDecay']);
    expect(mismatch.message).toContain('optimizer.name: "adam" → "adamw"');
    expect(mismatch.message).toContain('weightDecay: 0 → 0.0001');
    expect(mismatch.message).toContain('clipNorm: (absent) → 10');
    expect(mismatch.message).not.toContain('iterations: 200');
    expect(mismatch.message).toMatch(/Nothing was written.*another --out.*original settings/s);
    expect(snapshot(dir)).toEqual(before); // not even a lock file
  });

  it('allows a mutable key to change, records the change, and reopens a completed run', () => {
    const dir = path.join(tmp, 'run');
    const one = { ...CONFIG, iterations: 1 }; // a completed run has every planned iteration (runFilesProblem)
    const first = create(dir, one);
    first.appendMetrics({ iteration: 0, score: 20 });
    first.writeSummary({ status: 'completed', score: 20 });
    first.releaseLock();

    expect(() => create(dir, { ...one, iterations: 2 })).toThrow(RunConfigMismatchError); // not mutable by default
    const run = create(dir, { ...one, iterations: 2 }, { mutableKeys: ['iterations'] });
    expect(run.mode).toBe('resume');
    expect(run.configChanges).toEqual([{ key: 'iterations', old: 1, new: 2 }]);
    const file = run.readConfigFile();
    expect(file.config.iterations).toBe(2);
    expect(file.resumes![0].configChanges).toEqual([{ key: 'iterations', old: 1, new: 2 }]);
    // The run has more to do now, so it must not be reported as completed on the next start.
    expect(run.readSummary()).toMatchObject({ status: 'incomplete', score: 20 });
    run.releaseLock();
    expect(create(dir, { ...one, iterations: 2 }).mode).toBe('resume');
  });

  it('reports a completed run with the same config and changes nothing', () => {
    const dir = path.join(tmp, 'run');
    const one = { ...CONFIG, iterations: 1 };
    const first = create(dir, one);
    first.appendMetrics({ iteration: 0, score: 1 });
    first.writeSummary({ status: 'completed' });
    first.releaseLock();
    const before = snapshot(dir);
    const run = create(dir, one);
    expect(run.mode).toBe('completed');
    expect(run.alreadyCompleted).toBe(true);
    run.releaseLock();
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses a non-empty directory without config.json, and a file, without touching them', () => {
    fs.writeFileSync(path.join(tmp, 'notes.txt'), 'my thesis');
    const before = snapshot(tmp);
    expect(() => create(tmp)).toThrow(NotARunDirectoryError);
    expect(() => create(tmp)).toThrow(/not empty \(notes\.txt\) and has no config\.json/);
    expect(snapshot(tmp)).toEqual(before);
    expect(() => create(path.join(tmp, 'notes.txt'))).toThrow(/is a file/);
    expect(() => RunDirectory.open(tmp)).toThrow(NotARunDirectoryError);
  });

  it('treats a directory holding only crash debris (stale lock, temp file) as new, and cleans it', () => {
    const dir = path.join(tmp, 'run');
    fs.mkdirSync(dir);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // a pid that has exited
    fs.writeFileSync(path.join(dir, 'run.lock'), JSON.stringify({ pid: dead, hostname: os.hostname(), bootId: null, startTime: null, token: 'x', acquiredAt: 'then' }));
    fs.writeFileSync(path.join(dir, '.config.json.tmp-123-0badcafe'), '{"config": {"ha');
    const run = create(dir);
    expect(run.mode).toBe('new');
    expect(fs.readdirSync(dir).sort()).toEqual(['checkpoints', 'config.json', 'run.lock']);
  });

  it('refuses a corrupt config.json with a message naming the file', () => {
    const dir = path.join(tmp, 'run');
    create(dir).releaseLock();
    fs.writeFileSync(path.join(dir, 'config.json'), '{"config": {"game": "Po');
    expect(() => create(dir)).toThrow(CorruptFileError);
    expect(() => create(dir)).toThrow(/run config .*config\.json is corrupt or half-written/);
  });

  it('refuses configs that JSON would silently change', () => {
    expect(() => create(path.join(tmp, 'run'), { ...CONFIG, weightDecay: NaN })).toThrow(/weightDecay is NaN/);
    expect(fs.existsSync(path.join(tmp, 'run'))).toBe(false);
  });
});

describe('metrics.jsonl', () => {
  it('appends and reads records', () => {
    const run = create(path.join(tmp, 'run'));
    run.appendMetrics({ iteration: 0, score: -20.5, loss: 0.25 });
    run.appendMetrics({ iteration: 1, score: -19, nested: { q: [1, 2] } });
    expect(run.readMetrics()).toEqual({
      records: [
        { iteration: 0, score: -20.5, loss: 0.25 },
        { iteration: 1, score: -19, nested: { q: [1, 2] } },
      ],
      warnings: [],
    });
    expect(fs.readFileSync(run.paths.metrics, 'utf8').split('\n')).toHaveLength(3); // one line each + final newline
    expect(() => run.appendMetrics({ score: 1 } as never)).toThrow(/numeric "iteration"/);
  });

  it('drops a truncated last line with a warning, and repairs it on resume', () => {
    const dir = path.join(tmp, 'run');
    const run = create(dir);
    for (let i = 0; i < 3; i++) run.appendMetrics({ iteration: i, score: i });
    fs.appendFileSync(run.paths.metrics, '{"iteration": 3, "sco'); // crash mid-append
    const { records, warnings } = run.readMetrics();
    expect(records.map((r) => r.iteration)).toEqual([0, 1, 2]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/dropped the last line \(4\)/);
    run.releaseLock();

    const resumed = create(dir);
    expect(resumed.warnings.join('\n')).toMatch(/dropped the last line \(4\)/);
    resumed.appendMetrics({ iteration: 3, score: 3 }); // must not be glued onto the cut-off line
    expect(resumed.readMetrics()).toEqual({ records: [0, 1, 2, 3].map((i) => ({ iteration: i, score: i })), warnings: [] });
  });

  it('reports a corrupt line in the middle as an error with its line number', () => {
    const run = create(path.join(tmp, 'run'));
    run.appendMetrics({ iteration: 0 });
    fs.appendFileSync(run.paths.metrics, '{"iteration": 1, oops}\n');
    run.appendMetrics({ iteration: 2 });
    expect(() => run.readMetrics()).toThrow(/metrics\.jsonl line 2 is corrupt/);
    expect(() => run.truncateMetricsAfter(5)).toThrow(/line 2/);
  });

  it('truncateMetricsAfter removes records after the checkpoint iteration, atomically', () => {
    const run = create(path.join(tmp, 'run'));
    for (let i = 0; i < 10; i++) run.appendMetrics({ iteration: i, score: i * 2 });
    fs.appendFileSync(run.paths.metrics, '{"iteration": 10,'); // and a cut-off line
    const { removed, warnings } = run.truncateMetricsAfter(5);
    expect(removed).toBe(4);
    expect(warnings).toHaveLength(1);
    expect(run.readMetrics()).toEqual({ records: [0, 1, 2, 3, 4, 5].map((i) => ({ iteration: i, score: i * 2 })), warnings: [] });
    expect(run.truncateMetricsAfter(-1).removed).toBe(6); // no checkpoint at all: start over
    expect(fs.readFileSync(run.paths.metrics, 'utf8')).toBe('');
    expect(fs.readdirSync(run.dir).filter(isAtomicTempName)).toEqual([]);
  });
});

describe('summary', () => {
  it('writes and reads the summary; null before', () => {
    const run = create(path.join(tmp, 'run'));
    expect(run.readSummary()).toBeNull();
    run.writeSummary({ status: 'running', iteration: 3 });
    expect(run.readSummary()).toEqual({ status: 'running', iteration: 3 });
    expect(RunDirectory.open(run.dir).readSummary()).toEqual({ status: 'running', iteration: 3 });
  });
});

describe('atomic writes', () => {
  // A child rewrites one file in a loop (two different large contents) while we read it, then is killed with
  // SIGKILL. With writeFileAtomic every read and the final file must be one of the two complete contents. The
  // same harness run with a plain fs.writeFileSync must see torn content, or this test could not fail.
  async function hammer(atomic: boolean): Promise<{ torn: number; reads: number; final: string; leftovers: string[] }> {
    const target = path.join(tmp, 'target.json');
    const script = `
      import fs from 'node:fs';
      import { writeFileAtomic } from ${modulePath('io/atomic.ts')};
      const contents = [JSON.stringify({ v: 'a', xs: Array(60000).fill(1) }), JSON.stringify({ v: 'b', xs: Array(90000).fill(2) })];
      for (let n = 0; ; n++) {
        ${atomic ? 'writeFileAtomic' : 'fs.writeFileSync'}(${JSON.stringify(target)}, contents[n % 2]);
        if (n === 1) console.log('ready');
      }`;
    const a = JSON.stringify({ v: 'a', xs: Array(60000).fill(1) });
    const b = JSON.stringify({ v: 'b', xs: Array(90000).fill(2) });
    const child = spawnScript(script);
    try {
      await waitForOutput(child, 'ready');
      let torn = 0;
      let reads = 0;
      for (const started = Date.now(); Date.now() - started < 700; reads++) {
        const text = fs.readFileSync(target, 'utf8');
        if (text !== a && text !== b) torn++;
      }
      child.kill('SIGKILL');
      await exited(child);
      const final = fs.readFileSync(target, 'utf8');
      const leftovers = fs.readdirSync(tmp).filter((name) => name !== 'target.json');
      return { torn, reads, final: final === a ? 'a' : final === b ? 'b' : 'torn', leftovers };
    } finally {
      child.kill('SIGKILL');
    }
  }

  it('a writer killed with SIGKILL leaves the old or the new content, never a partial one', async () => {
    const result = await hammer(true);
    expect(result.reads).toBeGreaterThan(10);
    expect(result.torn).toBe(0);
    expect(result.final).not.toBe('torn');
    expect(result.leftovers.every(isAtomicTempName)).toBe(true); // at most the killed writer's temp file
  });

  it('(control) the same harness detects torn content from a non-atomic writer', async () => {
    const result = await hammer(false);
    expect(result.torn).toBeGreaterThan(0);
  });

  it('writeJsonAtomic writes pretty JSON with a final newline; readJsonFile explains a half-written file', () => {
    const file = path.join(tmp, 'x.json');
    writeJsonAtomic(file, { a: [1, 2] });
    expect(fs.readFileSync(file, 'utf8')).toBe('{\n  "a": [\n    1,\n    2\n  ]\n}\n');
    writeFileAtomic(file, '{"a": [1,');
    expect(() => readJsonFile(file, 'test file')).toThrow(/test file .*x\.json is corrupt or half-written/);
    writeFileAtomic(file, new Uint8Array(0));
    expect(() => readJsonFile(file, 'test file')).toThrow(/the file is empty/);
    expect(fs.readdirSync(tmp)).toEqual(['x.json']);
  });
});

describe('run lock', () => {
  it('refuses a second writer in the same process, and releases', () => {
    const dir = path.join(tmp, 'run');
    const run = create(dir);
    expect(() => create(dir)).toThrow(RunLockedError);
    expect(() => create(dir)).toThrow(new RegExp(`in use by pid ${process.pid}`));
    run.releaseLock();
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(false);
    expect(() => run.appendMetrics({ iteration: 0 })).toThrow(/not locked by this process/);
    expect(create(dir).mode).toBe('resume');
  });

  it('refuses while another live process holds it, and takes it over after that process is killed -9', async () => {
    const dir = path.join(tmp, 'run');
    const child = spawnScript(`
      import { RunDirectory } from ${modulePath('run/run_directory.ts')};
      RunDirectory.create(${JSON.stringify(dir)}, ${JSON.stringify(CONFIG)}, {});
      console.log('locked');
      setInterval(() => {}, 1000);`);
    try {
      await waitForOutput(child, 'locked');
      let error: unknown;
      try {
        create(dir);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(RunLockedError);
      expect((error as Error).message).toContain(`is in use by pid ${child.pid}`);
      expect((error as RunLockedError).holder.pid).toBe(child.pid);
    } finally {
      child.kill('SIGKILL');
      await exited(child);
    }
    // kill -9 ran no exit handler: the lock file is still there, but its pid is dead.
    expect(fs.existsSync(path.join(dir, 'run.lock'))).toBe(true);
    const run = create(dir);
    expect(run.mode).toBe('resume');
    expect(readJsonFile<{ pid: number }>(path.join(dir, 'run.lock'), 'lock').pid).toBe(process.pid);
  });

  it('takes over a stale lock whose pid does not exist', () => {
    const dir = path.join(tmp, 'run');
    create(dir).releaseLock();
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = { pid: dead, hostname: os.hostname(), bootId: null, startTime: null, token: 'stale', acquiredAt: 'earlier' };
    fs.writeFileSync(path.join(dir, 'run.lock'), JSON.stringify(stale));
    const run = create(dir);
    expect(run.holdsLock).toBe(true);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('run.lock'))).toEqual(['run.lock']);
  });

  it('takes over a lock whose holder has exited but was never reaped (a zombie: pid 1 of many containers never reaps)', async () => {
    const dir = path.join(tmp, 'run');
    create(dir).releaseLock();
    // A parent that forks a child, kills it and does not wait for it (until its stdin closes): the child stays a
    // zombie, exactly what a run killed after its sweep driver died becomes under a non-reaping init.
    const parent = spawn('python3', ['-c', [
      'import os, signal, sys',
      'pid = os.fork()',
      'if pid == 0:',
      '    signal.pause()',
      'os.kill(pid, signal.SIGKILL)',
      'print(pid, flush=True)',
      'sys.stdin.read()',
      'os.waitpid(pid, 0)',
    ].join('\n')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => parent.stdout!.once('data', (d) => resolve(String(d)))));
      const procStat = () => fs.readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1].split(' ');
      for (let i = 0; procStat()[0] !== 'Z'; i++) {
        if (i > 100) throw new Error(`pid ${zombie} did not become a zombie`);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(() => process.kill(zombie, 0)).not.toThrow(); // what made it look alive
      const lock = {
        pid: zombie, hostname: os.hostname(), bootId: fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
        startTime: procStat()[19], token: 'zombie', acquiredAt: 'earlier',
      };
      fs.writeFileSync(path.join(dir, 'run.lock'), JSON.stringify(lock));
      const run = create(dir);
      expect(run.holdsLock).toBe(true);
    } finally {
      parent.stdin!.end();
      await exited(parent);
    }
  });

  it('refuses a lock held on another host, saying how to clear it', () => {
    const dir = path.join(tmp, 'run');
    create(dir).releaseLock();
    const other = { pid: 1, hostname: 'some-other-node', bootId: null, startTime: null, token: 't', acquiredAt: 'earlier' };
    fs.writeFileSync(path.join(dir, 'run.lock'), JSON.stringify(other));
    expect(() => create(dir)).toThrow(/in use by pid 1 on host some-other-node.*delete .*run\.lock/s);
  });

  it('is released when the holding process exits normally', async () => {
    const dir = path.join(tmp, 'run');
    const child = spawnScript(`
      import { RunDirectory } from ${modulePath('run/run_directory.ts')};
      RunDirectory.create(${JSON.stringify(dir)}, ${JSON.stringify(CONFIG)}, {});
      console.log('locked');`);
    await waitForOutput(child, 'locked').catch(() => {}); // it may exit before we see the output
    await exited(child);
    expect(child.exitCode).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['checkpoints', 'config.json']);
  });

  it('stops writes when the lock was taken away', () => {
    const run = create(path.join(tmp, 'run'));
    fs.rmSync(run.paths.lock);
    expect(() => run.appendMetrics({ iteration: 0 })).toThrow(/lost the lock/);
  });
});
