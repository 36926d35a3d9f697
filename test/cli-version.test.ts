// What every command line shares: `--version` prints the harness version from package.json and exits 0, through the
// real entry points (a CLI whose entry point forgot withVersion fails here), and `--help` says what --out is.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { harnessVersion } from '../src/cli/version.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'));
// play.ts is a later command line; it is checked once it exists.
const CLIS = ['atari', 'sweep', 'table1', 'compare', 'report', 'baseline', 'play'].filter((name) => fs.existsSync(path.join(REPO, 'src', 'cli', `${name}.ts`)));

function cli(name: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', `src/cli/${name}.ts`, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
}

describe('every command line', () => {
  it('reads the version from package.json', () => {
    expect(harnessVersion()).toBe(version);
  });

  it.each(CLIS)('%s --version prints "wd-dqn-harness <version>" and exits 0', (name) => {
    const r = cli(name, ['--version']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`wd-dqn-harness ${version}\n`);
  }, 60_000);

  it('npm run bench has --version too, and its --help lists no internal option', () => {
    const bench = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    const v = bench(['--version']);
    expect(v.status).toBe(0);
    expect(v.stdout).toBe(`wd-dqn-harness ${version}\n`);
    const help = bench(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--quick/);
    expect(help.stdout).not.toMatch(/--child/);
  }, 60_000);

  it('each --help says whether --out is a directory, a prefix or a file', () => {
    const help = (name: string) => cli(name, ['--help']).stdout.replace(/\s+/g, ' ');
    expect(help('atari')).toMatch(/--out <dir> the run directory/);
    expect(help('sweep')).toMatch(/--out <dir> the sweep directory/);
    expect(help('table1')).toMatch(/--out-prefix <path> write <path>\.csv and <path>\.tex/);
    expect(help('report')).toMatch(/--out <file> the HTML file to write/);
    expect(help('baseline')).toMatch(/--out <dir> the directory <run>\.txt, <run>\.svg and <run>\.json go into/);
  }, 60_000);
});
