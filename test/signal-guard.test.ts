// The signal guard (src/signal_guard.c): no thread that runs TensorFlow's kernels handles an asynchronous signal,
// signals still reach the harness's handlers, child processes start unguarded, and a storm of SIGTERMs during the
// DQN's 2-D matrix products no longer corrupts the heap. Without the guard that storm aborts the process within
// seconds ("corrupted size vs. prev_size", oneDNN's GEMM kernels: uxlfoundation/oneDNN#4845); this was checked by
// hand on commit 868ffa1 (see the note in docs/performance.md), since a test that needs a crash would be flaky.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { guardSignals } from '../src/signal_guard.ts';
import { buildAddon } from '../scripts/setup.mjs';
import { SIGNAL_GUARD_SOURCE } from '../src/paths.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const GUARDED = { SIGHUP: 1, SIGINT: 2, SIGUSR1: 10, SIGTERM: 15, SIGCHLD: 17, SIGWINCH: 28 };
const linux = process.platform === 'linux';

/** Whether the SigBlk hex mask of /proc/.../status blocks signal `n`. */
const blocks = (mask: string, n: number) => (BigInt(`0x${mask}`) >> BigInt(n - 1)) & 1n;

/**
 * Runs `script` (an ES module, may import the project's .ts files) in a child node; `on[marker]` is called with its
 * pid when a line starting with `marker` appears on its output. Resolves with the exit and the whole output.
 */
function child(script: string, on: Record<string, (pid: number) => void> = {}): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT, env: { ...process.env, TF_NUM_INTRAOP_THREADS: '1', TF_NUM_INTEROP_THREADS: '1' },
    });
    const pending = new Map(Object.entries(on));
    let out = '';
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      for (const [marker, callback] of pending) {
        if (out.split('\n').some((line) => line.startsWith(marker))) {
          pending.delete(marker);
          callback(proc.pid!);
        }
      }
    });
    proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    proc.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

describe.runIf(linux)('signal guard', () => {
  it('TensorFlow threads block the asynchronous signals, a SIGTERM still reaches process.on, children start unguarded', async () => {
    const script = `
      import fs from 'node:fs';
      import { execFileSync } from 'node:child_process';
      import * as tf from './src/tf.ts';
      import { matMul2d } from './agents/network.ts';
      tf.tidy(() => matMul2d(tf.ones([2, 64]), tf.ones([64, 8])).dataSync()); // TensorFlow's threads exist now
      const threads = fs.readdirSync('/proc/self/task').map((t) => {
        const s = fs.readFileSync('/proc/self/task/' + t + '/status', 'utf8');
        return { tid: Number(t), name: /Name:\\s*(.*)/.exec(s)[1], mask: /SigBlk:\\s*(.*)/.exec(s)[1] };
      });
      const childMask = /SigBlk:\\s*(.*)/.exec(execFileSync('sh', ['-c', 'cat /proc/self/status'], { encoding: 'utf8' }))[1];
      console.log(JSON.stringify({ pid: process.pid, threads, childMask }));
      process.on('SIGTERM', () => { console.log('handled SIGTERM'); process.exit(0); });
      console.log('ready');
      setTimeout(() => { console.log('no SIGTERM'); process.exit(3); }, 20000);
    `;
    const result = await child(script, { ready: (pid) => process.kill(pid, 'SIGTERM') });
    expect(result.out).toContain('handled SIGTERM');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.out.split('\n').find((line) => line.startsWith('{"pid"'))!) as {
      pid: number; threads: { tid: number; name: string; mask: string }[]; childMask: string;
    };
    const main = report.threads.find((t) => t.tid === report.pid)!;
    const tensorflow = report.threads.filter((t) => t.name.startsWith('tf_'));
    expect(tensorflow.length).toBeGreaterThan(0);
    for (const thread of [main, ...tensorflow]) {
      for (const [name, n] of Object.entries(GUARDED)) expect(blocks(thread.mask, n), `${thread.name} ${thread.tid} ${name}`).toBe(1n);
    }
    // The receiver thread: someone takes SIGTERM.
    expect(report.threads.some((t) => blocks(t.mask, GUARDED.SIGTERM) === 0n)).toBe(true);
    for (const [name, n] of Object.entries(GUARDED)) expect(blocks(report.childMask, n), `child ${name}`).toBe(0n);
  }, 60_000);

  it('a storm of SIGTERMs during the DQN\'s 2-D matrix products leaves the heap and the products intact', async () => {
    // The shapes of acting (batch 1 and 2) and of the last layer: oneDNN's small-GEMM path, where the crash was seen.
    const script = `
      import * as tf from './src/tf.ts';
      import { matMul2d } from './agents/network.ts';
      let signals = 0;
      process.on('SIGTERM', () => { signals++; });
      const ops = [[2, 7744, 512], [1, 7744, 512], [32, 512, 4], [2, 512, 4]].map(([m, k, n]) => [tf.randomNormal([m, k], 0, 1, 'float32', 1), tf.randomNormal([k, n], 0, 1, 'float32', 2)]);
      const want = ops.map(([a, b]) => matMul2d(a, b).dataSync().slice());
      console.log('ready');
      const until = Date.now() + 12000;
      let rounds = 0, wrong = 0;
      while (Date.now() < until) {
        ops.forEach(([a, b], i) => { const r = matMul2d(a, b); const d = r.dataSync(); r.dispose(); if (d.some((x, j) => x !== want[i][j])) wrong++; });
        if (++rounds % 100 === 0) await new Promise((r) => setImmediate(r));
      }
      console.log(JSON.stringify({ rounds, signals, wrong }));
      await new Promise((r) => setTimeout(r, 1000)); // the storm stops on that line: exit after it
    `;
    let storm: NodeJS.Timeout | undefined;
    const result = await child(script, {
      ready: (pid) => {
        storm = setInterval(() => {
          for (let i = 0; i < 20; i++) {
            try { process.kill(pid, 'SIGTERM'); } catch { /* exited */ }
          }
        }, 1);
      },
      '{"rounds"': () => clearInterval(storm),
    });
    clearInterval(storm);
    expect(result.signal, result.out).toBeNull();
    expect(result.code, result.out).toBe(0);
    const summary = JSON.parse(result.out.split('\n').find((line) => line.startsWith('{"rounds"'))!) as { rounds: number; signals: number; wrong: number };
    expect(summary.signals).toBeGreaterThan(100);
    expect(summary.wrong).toBe(0);
  }, 90_000);

  it('setup builds the addon, or says why not without leaving a partial file; a missing addon is reported, not fatal', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'signal-guard-'));
    try {
      const failed = buildAddon(SIGNAL_GUARD_SOURCE, { addon: path.join(dir, 'bad.node'), compiler: path.join(dir, 'no-such-cc') });
      expect(failed).toMatchObject({ ok: false, reason: expect.stringContaining('no-such-cc') });
      expect(fs.readdirSync(dir)).toEqual([]);
      const addon = path.join(dir, 'guard.node');
      expect(buildAddon(SIGNAL_GUARD_SOURCE, { addon })).toEqual({ ok: true });
      // Loaded in a fresh process (blocking signals here would change this test worker): it guards the thread.
      const probe = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `
        import fs from 'node:fs';
        import { guardSignals } from './src/signal_guard.ts';
        const status = guardSignals(${JSON.stringify(addon)});
        console.log(JSON.stringify({ status, mask: /SigBlk:\\s*(.*)/.exec(fs.readFileSync('/proc/thread-self/status', 'utf8'))[1] }));
      `], { cwd: ROOT, encoding: 'utf8' });
      const { status, mask } = JSON.parse(probe.stdout.trim().split('\n').pop()!) as { status: { guarded: boolean; signals: number[] }; mask: string };
      expect(status.guarded).toBe(true);
      expect(status.signals).toEqual(expect.arrayContaining(Object.values(GUARDED)));
      expect(blocks(mask, GUARDED.SIGINT)).toBe(1n);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(guardSignals(path.join(ROOT, 'no-such-addon.node'))).toMatchObject({ guarded: false, reason: expect.stringContaining('not built') });
  }, 60_000);
});
