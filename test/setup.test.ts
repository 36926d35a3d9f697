// Setup must be idempotent: on a machine where everything is in place it changes nothing and returns at once.
// Its help and the doctor's fit an 80-column terminal.
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const STAMPS = [
  'node_modules/.wd-harness-npm.json',
  '.venv/.wd-harness-venv.json',
  'node_modules/@tensorflow/tfjs-node/deps/.wd-harness-tf.json',
  '.cache/signal_guard.node.json',
  '.cache/stderr_filter.node.json',
];

describe('setup', () => {
  it('run twice is a no-op: every step reports in place, nothing is rewritten', () => {
    execFileSync(process.execPath, ['scripts/setup.mjs', '--quiet'], { cwd: ROOT });
    const before = STAMPS.map((stamp) => statSync(path.join(ROOT, stamp)).mtimeMs);
    const started = Date.now();
    const result = spawnSync(process.execPath, ['scripts/setup.mjs'], { cwd: ROOT, encoding: 'utf8' });
    const elapsedMs = Date.now() - started;
    expect(STAMPS.map((stamp) => statSync(path.join(ROOT, stamp)).mtimeMs)).toEqual(before);
    expect(elapsedMs).toBeLessThan(5000); // a generous bound: it is ~0.1 s when nothing is to do
    expect(result.status).toBe(0);
    expect(result.stderr.match(/: in place/g)).toHaveLength(STAMPS.length);
    expect(result.stderr).not.toMatch(/installing|building|fetching|creating/);
  });
});

describe('setup and doctor --help', () => {
  it('fits an 80-column terminal: no line wider than 80', () => {
    for (const script of ['scripts/setup.mjs', 'scripts/doctor.mjs']) {
      const result = spawnSync(process.execPath, [script, '--help'], { cwd: ROOT, encoding: 'utf8' });
      expect(result.status).toBe(0);
      const lines = result.stdout.split('\n');
      expect(lines.length).toBeGreaterThan(10);
      for (const line of lines) expect(line.length, `${script}: ${line}`).toBeLessThanOrEqual(80);
    }
  });
});
