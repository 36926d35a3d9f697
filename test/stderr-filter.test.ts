// The banner filter (src/stderr_filter.c, src/stderr_filter.ts): while TensorFlow's binding loads, lines with its
// oneDNN banner are dropped from file descriptor 2 and every other line passes, in order; --tf-log
// (TF_CPP_MIN_LOG_LEVEL=0) shows the banner. Each case runs in a child process: the filter rewires descriptor 2,
// which the test worker's own output goes through.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAddon } from '../scripts/setup.mjs';
import { STDERR_FILTER_SOURCE } from '../src/paths.mjs';

const ROOT = path.resolve(import.meta.dirname, '..');
const linux = process.platform === 'linux';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stderr-filter-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const ONEDNN = 'I0000 00:00:1796597194.947374   10441 port.cc:153] oneDNN custom operations are on. You may see slightly ' +
  'different numerical results due to floating-point round-off errors from different computation orders. To turn them off, ' +
  'set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.';
const ABSL = 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';

/** Runs `body` (an ES module's text, with `withoutBanner`, `fs` and `addon` in scope) in a fresh Node. */
function child(body: string, env: NodeJS.ProcessEnv = {}) {
  const script = `
    import fs from 'node:fs';
    import { withoutBanner } from './src/stderr_filter.ts';
    const addon = ${JSON.stringify(path.join(dir, 'filter.node'))};
    ${body}`;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ROOT, encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env },
  });
}

describe.runIf(linux)('banner filter', () => {
  it('setup builds it; lines with the banner are dropped while `load` runs, every other line passes in order', () => {
    expect(buildAddon(STDERR_FILTER_SOURCE, { addon: path.join(dir, 'filter.node') })).toEqual({ ok: true });
    const r = child(`
      fs.writeSync(2, 'before\\n');
      const value = withoutBanner(() => {
        fs.writeSync(2, ${JSON.stringify(ABSL + '\n')});
        fs.writeSync(2, 'kept, during the load\\n');
        fs.writeSync(2, ${JSON.stringify(ONEDNN + '\n')});
        fs.writeSync(2, 'an unfinished line');
        return 42;
      }, { addon });
      fs.writeSync(2, ' then after\\n');
      console.log(value);
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('42');
    expect(r.stderr).toBe('before\nkept, during the load\nan unfinished line then after\n');
  });

  it('a load that throws: its error passes, and standard error is the real one again before it propagates', () => {
    const r = child(`
      try {
        withoutBanner(() => { fs.writeSync(2, ${JSON.stringify(ONEDNN + '\n')}); fs.writeSync(2, 'the load failed: why\\n'); throw new Error('boom'); }, { addon });
      } catch (error) {
        fs.writeSync(2, 'caught ' + error.message + '\\n');
      }
      withoutBanner(() => fs.writeSync(2, 'a second filter works too\\n'), { addon });
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('the load failed: why\ncaught boom\na second filter works too\n');
  });

  it('more output than a pipe holds (1 MB) passes whole and in order', () => {
    const r = child(`
      withoutBanner(() => { for (let i = 0; i < 10000; i++) fs.writeSync(2, 'line ' + String(i).padStart(5, '0') + ' ' + 'x'.repeat(88) + '\\n'); }, { addon });
    `);
    expect(r.status).toBe(0);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(10000);
    expect(lines.every((l, i) => l.startsWith(`line ${String(i).padStart(5, '0')} `))).toBe(true);
  });

  it('without the addon (not built) the banner shows and nothing else changes', () => {
    const r = child(`withoutBanner(() => fs.writeSync(2, ${JSON.stringify(ONEDNN + '\n')}), { addon: addon + '.absent' });`);
    expect(r.stderr).toBe(`${ONEDNN}\n`);
  });

  it("TensorFlow's own banner: gone by default, shown with TF_CPP_MIN_LOG_LEVEL=0 (--tf-log)", () => {
    // The checkout's addon, as src/tf.ts loads it (npm run setup built it).
    const load = `await import('./src/tf.ts'); fs.writeSync(2, 'loaded\\n');`;
    const quiet = child(load);
    expect(quiet.status, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('loaded\n');
    const loud = child(load, { TF_CPP_MIN_LOG_LEVEL: '0' });
    expect(loud.status, loud.stderr).toBe(0);
    expect(loud.stderr).toContain('oneDNN custom operations are on');
    expect(loud.stderr).toMatch(/loaded\n$/);
  });
});
