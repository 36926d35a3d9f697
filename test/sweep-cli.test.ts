// `npm run sweep` command line: every user mistake gets a clear message; a few runs of the real entry point.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { buildSweepProgram, EXIT_UNFINISHED, nextSteps, parseSweepArgs, say, sweepExitCode } from '../src/cli/sweep.ts';
import { buildPlan, crossGrid, planDecayLines } from '../src/sweep/plan.ts';
import { runArguments, tsxLoaderUrl } from '../src/sweep/command.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../src/cli/sweep.ts');

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-cli-'));
  temps.push(dir);
  return dir;
}

/** Parses; on a parse error returns the message commander would print. */
function parse(args: string): ReturnType<typeof parseSweepArgs> | string {
  let output = '';
  const program = buildSweepProgram()
    .exitOverride()
    .configureOutput({ writeErr: (s) => (output += s), writeOut: (s) => (output += s) });
  try {
    return parseSweepArgs(args.split(' ').filter((a) => a !== ''), program);
  } catch {
    return output;
  }
}

function sweepCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', tsxLoaderUrl(), CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const GRID = '--games Pong,Breakout --optimizers adam,adam-l2,adamw,adam-separated --wd 1e-3,1e-4,1e-5 --seeds 0,1,2 --preset smoke --out /tmp/x';

describe('sweep arguments', () => {
  it('the issue\'s example: 2 games × (adam at 0 + 3 schemes × 3 λ) × 3 seeds', () => {
    const inv = parse(`${GRID} --workers 2`);
    if (typeof inv === 'string' || inv.kind !== 'run') throw new Error(String(inv));
    expect(inv.plan!.runs).toHaveLength(2 * 10 * 3);
    expect(inv.workers).toBe(2);
    expect(inv.plan!.grid.preset).toBe('smoke');
  });

  it('--paper-grid is the whole Table 1 grid; --games and --seeds narrow it', () => {
    const all = parse('--paper-grid --out /tmp/x');
    if (typeof all === 'string' || all.kind !== 'run') throw new Error(String(all));
    expect(all.plan!.runs).toHaveLength(312);
    expect(all.plan!.grid.preset).toBe('dopamine');
    const some = parse('--paper-grid --games Pong --seeds 0 --preset reduced --out /tmp/x');
    if (typeof some === 'string' || some.kind !== 'run') throw new Error(String(some));
    expect(some.plan!.runs).toHaveLength(13);
  });

  it('runs keep their replay memory in checkpoints unless --no-save-replay', () => {
    expect(parse(GRID)).toMatchObject({ kind: 'run', output: { saveReplay: true } });
    expect(parse(`${GRID} --no-save-replay`)).toMatchObject({ kind: 'run', output: { saveReplay: false } });
  });

  it('--tensorboard: one logdir for the sweep (DIR/tensorboard), a run name per run id, no run id changed', () => {
    const plain = parse(`${GRID} --out /tmp/tb-sweep`);
    const tb = parse(`${GRID} --out /tmp/tb-sweep --tensorboard`);
    if (typeof plain === 'string' || plain.kind !== 'run' || typeof tb === 'string' || tb.kind !== 'run') throw new Error('expected runs');
    expect(plain.output.tensorboardDir).toBeUndefined();
    expect(tb.output.tensorboardDir).toBe('/tmp/tb-sweep/tensorboard');
    expect(tb.plan!.runs.map((r) => r.id)).toEqual(plain.plan!.runs.map((r) => r.id));
    const run = tb.plan!.runs[0];
    expect(runArguments(run, '/tmp/r', 1, tb.output).join(' ')).toContain(` --tensorboard /tmp/tb-sweep/tensorboard/${run.id}`);
    expect(runArguments(run, '/tmp/r', 1, plain.output)).not.toContain('--tensorboard');
  });

  it('--keep-checkpoints N reaches every run\'s command line and changes no run id; bad values are refused in one line', () => {
    const plain = parse(GRID);
    const kept = parse(`${GRID} --keep-checkpoints 1`);
    if (typeof plain === 'string' || plain.kind !== 'run' || typeof kept === 'string' || kept.kind !== 'run') throw new Error('expected runs');
    expect(plain.output.keepCheckpoints).toBeUndefined();
    expect(kept.output.keepCheckpoints).toBe(1);
    expect(kept.plan!.runs.map((r) => r.id)).toEqual(plain.plan!.runs.map((r) => r.id));
    const run = kept.plan!.runs[0];
    expect(runArguments(run, '/tmp/r', 1, { keepCheckpoints: 1 }).join(' ')).toMatch(/ --keep-checkpoints 1$/);
    expect(runArguments(run, '/tmp/r', 1, {})).not.toContain('--keep-checkpoints');
    // With --out alone (resume the stored plan) too.
    expect(parse('--out /tmp/x --keep-checkpoints 2')).toMatchObject({ kind: 'run', plan: null, output: { keepCheckpoints: 2 } });
    for (const bad of ['0', '-2', 'x']) {
      const message = parse(`${GRID} --keep-checkpoints ${bad}`);
      expect(typeof message).toBe('string');
      expect((message as string).split('\n')[0]).toMatch(/^error: option '--keep-checkpoints <n>' argument '.*' is invalid\. Expected a whole number >= 1/);
    }
  });

  it('--set key=value reaches every run (and its id); a key given twice or a bad key is refused in one line', () => {
    const r = parse('--games Breakout --optimizers adam-l2,adam --wd 1e-3 --iterations 2 --set agent.loss=mse --out /tmp/x');
    if (typeof r === 'string' || r.kind !== 'run') throw new Error(String(r));
    for (const run of r.plan!.runs) expect(run.overrides).toEqual({ iterations: 2, set: { 'agent.loss': 'mse' } });
    expect(r.plan!.runs.map((run) => run.id)).toContain('breakout-adam-l2-wd1e-3-s0-d19eeff0');
    expect(parse('--games Breakout --optimizers adam --set agent.loss=mse --set agent.loss=huber --out /tmp/x')).toMatch(/--set agent\.loss is given twice/);
    expect(parse('--games Breakout --optimizers adam --set agent.los=mse --out /tmp/x')).toMatch(/error: adam: .*agent\.los/);
    expect(parse('--games Breakout --optimizers adam --set loss --out /tmp/x')).toMatch(/Expected key=value/);
    // Not a resume of the plan in DIR: --set is part of the grid.
    expect(parse('--set agent.loss=mse --out /tmp/x')).toMatch(/--games is required/);
  });

  it('--version and grouped --help', () => {
    const { version } = JSON.parse(fs.readFileSync(path.resolve(here, '../package.json'), 'utf8'));
    expect(parse('--version')).toBe(`wd-dqn-harness ${version}\n`);
    let text = '';
    buildSweepProgram().configureOutput({ writeOut: (s) => (text += s) }).outputHelp();
    const headings = text.split('\n').filter((line) => /^[A-Z][A-Za-z ()']*:$/.test(line));
    expect(headings).toEqual(['Grid:', 'Budget (per run):', 'Sweep directory:', "Runs' checkpoints:", 'Executor and resources:', 'Slurm:', 'Information:', 'Examples:']);
    expect(text).toMatch(/--threads <n>\s+TensorFlow threads per run \(default 1/);
    expect(text).toMatch(/--out <dir>\s+the sweep directory/);
    expect(text).toMatch(/--keep-checkpoints <n>/);
  });

  it('--out alone resumes the plan stored in the directory', () => {
    const inv = parse('--out /tmp/x');
    expect(inv).toMatchObject({ kind: 'run', plan: null });
  });

  it.each([
    ['an unknown game', '--games Pong,Pongg --optimizers adam --out /tmp/x', /Unknown Atari game "Pongg". Did you mean Pong/],
    ['an unknown scheme', '--games Pong --optimizers adam,adamx --wd 1e-4 --out /tmp/x', /Unknown optimizer scheme "adamx". Did you mean adam or adamw\? Valid: adam, adam-l2/],
    ['an unknown preset', '--games Pong --optimizers adam --preset huge --out /tmp/x', /Unknown preset "huge". Valid: dopamine, dopamine-tf, reduced, smoke/],
    ['an empty λ list', '--games Pong --optimizers adamw --wd= --out /tmp/x', /The λ list is empty; give e.g. 1e-3,1e-4,1e-5/],
    ['a non-numeric λ', '--games Pong --optimizers adamw --wd 1e-4,abc --out /tmp/x', /"abc" is not a weight decay λ: expected a decimal number >= 0/],
    ['a negative λ', '--games Pong --optimizers adamw --wd -1e-4 --out /tmp/x', /"-1e-4" is not a weight decay λ/],
    ['a hexadecimal λ', '--games Pong --optimizers adamw --wd 0x10 --out /tmp/x', /"0x10" is not a weight decay λ/],
    ['an implausible λ', '--games Pong --optimizers adam-l2 --wd 1e300 --out /tmp/x', /λ = 1e300 is not a plausible weight decay: at most 10/],
    ['a λ list with a hole', '--games Pong --optimizers adamw --wd 1e-4,,1e-5 --out /tmp/x', /without empty items/],
    ['no λ for a decaying scheme', '--games Pong --optimizers adam,adamw --out /tmp/x', /--wd is required for adamw/],
    ['duplicate seeds', '--games Pong --optimizers adam --seeds 0,1,0 --out /tmp/x', /duplicate seed 0/],
    ['a non-integer seed', '--games Pong --optimizers adam --seeds 0,1.5 --out /tmp/x', /Expected a whole number >= 0, got "1.5"/],
    ['duplicate games under two spellings', '--games Pong,pong --optimizers adam --out /tmp/x', /duplicate game Pong/],
    ['no --out', '--games Pong --optimizers adam', /--out <dir> is required/],
    ['no --games', '--optimizers adam --out /tmp/x', /--games is required/],
    ['no --optimizers', '--games Pong --out /tmp/x', /--optimizers is required/],
    ['--paper-grid with --wd', '--paper-grid --wd 1e-4 --out /tmp/x', /--paper-grid fixes the schemes and λ values/],
    ['--status with a grid', '--status /tmp/x --games Pong', /--status only shows a sweep; drop --games/],
    ['a Slurm option with the local executor', '--games Pong --optimizers adam --out /tmp/x --time 10', /--time only apply to --executor slurm/],
    ['--workers with Slurm', '--games Pong --optimizers adam --out /tmp/x --executor slurm --workers 2', /--workers applies to --executor local/],
    ['an unknown executor', '--games Pong --optimizers adam --out /tmp/x --executor k8s', /Unknown executor "k8s". Valid: local, slurm/],
    ['zero workers', '--games Pong --optimizers adam --out /tmp/x --workers 0', /Expected a whole number >= 1, got "0"/],
  ])('%s', (_what, args, message) => {
    const result = parse(args);
    expect(typeof result).toBe('string');
    expect(result).toMatch(message);
  });
});

describe('npm run sweep (entry point)', () => {
  it('--status on a directory without a sweep, and on a corrupt plan, says so', () => {
    const dir = tempDir();
    let r = sweepCli(['--status', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/holds no sweep \(plan.json not found\)/);
    fs.writeFileSync(path.join(dir, 'plan.json'), '{"format":1,"ki');
    r = sweepCli(['--status', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: sweep plan .*plan.json is corrupt or half-written/m);
    expect(r.stderr).not.toMatch(/    at /); // a message, not a stack trace
  }, 60_000);

  it('an --out where nothing can be made: one error line, no stack trace, within seconds', () => {
    const r = sweepCli(['--games', 'Pong', '--optimizers', 'adam', '--preset', 'smoke', '--out', '/proc/wd-harness-test/sweep', '--plan-only']);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: cannot create the sweep directory \/proc\/wd-harness-test\/sweep: making \/proc\/wd-harness-test failed/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it("plans, shows the status, and refuses another sweep's directory", () => {
    const dir = path.join(tempDir(), 's');
    let r = sweepCli(['--games', 'Pong', '--optimizers', 'adam,adamw', '--wd', '1e-4', '--seeds', '0,1', '--preset', 'smoke', '--out', dir, '--plan-only']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`planned sweep ${dir}: 4 runs`);
    r = sweepCli(['--status', dir]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('done 0   running 0   failed 0   pending 4');
    r = sweepCli(['--games', 'Breakout', '--optimizers', 'adam', '--preset', 'smoke', '--out', dir, '--plan-only']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/already holds another sweep's plan/);
    r = sweepCli(['--out', tempDir()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/holds no sweep yet \(no plan.json\): say what to run/);
  }, 60_000);

  it('grows a sweep in the same directory: one line says how many runs were planned before and how many are new', () => {
    const dir = path.join(tempDir(), 's');
    const grid = (seeds: string, wd: string) => ['--games', 'Pong', '--optimizers', 'adam,adamw', '--wd', wd, '--seeds', seeds, '--preset', 'smoke', '--out', dir, '--plan-only'];
    let r = sweepCli(grid('0,1', '1e-4'));
    expect(r.status).toBe(0);
    const before = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8')).runs.map((run: { id: string }) => run.id);
    r = sweepCli(grid('0,1,2', '1e-4,1e-5'));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`growing sweep ${dir}: 4 runs planned before, 5 new`);
    const after = JSON.parse(fs.readFileSync(path.join(dir, 'plan.json'), 'utf8')).runs.map((run: { id: string }) => run.id);
    expect(after).toHaveLength(9);
    expect(after).toEqual(expect.arrayContaining(before));
    r = sweepCli(grid('2,1,0', '1e-5,1e-4'));
    expect(r.stdout).toContain(`resuming sweep ${dir}: 9 runs`);
    r = sweepCli(grid('0', '1e-4'));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/leaves out 7 of its 9 runs/);
  }, 60_000);

  it('--dry-run piped into another program (as into sbatch) arrives whole, past the 64 KiB a pipe holds', () => {
    // The paper grid's script is ~95 KB; process.exit() used to cut it at the pipe's 65,536 bytes.
    const dir = path.join(tempDir(), 's');
    const command = [process.execPath, '--import', tsxLoaderUrl(), CLI, '--paper-grid', '--preset', 'smoke', '--out', dir,
      '--executor', 'slurm', '--dry-run', '--time', '1-00:00:00'].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('bash', ['-c', `set -o pipefail; ${command} | cat`], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 24 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(65_536);
    expect(r.stdout).toMatch(/^#!\/bin\/bash/);
    expect(r.stdout.endsWith('exit "$RC"\n')).toBe(true);
    // No --mem given: the preset's need (smoke: a small replay) plus a quarter.
    expect(r.stdout).toContain('#SBATCH --mem=2G\n');
    const dopamine = sweepCli(['--games', 'Pong', '--optimizers', 'adam', '--preset', 'dopamine', '--out', path.join(tempDir(), 'd'),
      '--executor', 'slurm', '--dry-run', '--time', '2-00:00:00']);
    expect(dopamine.stdout).toContain('#SBATCH --mem=10G\n'); // a 1M-transition replay is 7.06 GB
  }, 60_000);

  it('--executor slurm --dry-run prints the job script and writes nothing', () => {
    const dir = path.join(tempDir(), 's');
    const r = sweepCli(['--games', 'Pong', '--optimizers', 'adam,adamw', '--wd', '1e-4', '--preset', 'smoke', '--out', dir,
      '--executor', 'slurm', '--dry-run', '--time', '1-00:00:00', '--mem', '4G', '--partition', 'cpu', '--keep-checkpoints', '2']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^#!\/bin\/bash/);
    expect(r.stdout).toContain('#SBATCH --array=0-1\n');
    // Every run's arguments end with --keep-checkpoints 2.
    expect(r.stdout.split('\n').filter((l) => /^\s+\d+\) RUN_ID=/.test(l)).every((l) => /--keep-checkpoints'? '?2'?\) ;;$/.test(l))).toBe(true);
    expect(r.stdout).toContain('#SBATCH --time=1-00:00:00\n');
    expect(r.stdout).toContain('#SBATCH --partition=cpu\n');
    expect(r.stdout).toContain(`#SBATCH --output=${dir}/logs/slurm-%A_%a.out\n`);
    expect(fs.existsSync(dir)).toBe(false);
    const bad = sweepCli(['--games', 'Pong', '--optimizers', 'adam', '--preset', 'smoke', '--out', dir, '--executor', 'slurm', '--dry-run', '--time', 'tomorrow']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--time "tomorrow" is not a Slurm time limit/);
  }, 60_000);

  it('says what to type next: the analysis of a finished sweep, the resume of a stopped or unfinished one', () => {
    expect(nextSteps('/tmp/my sweep', 0).join('\n')).toMatch(/npm run table1 -- '\/tmp\/my sweep'[\s\S]*npm run compare -- '\/tmp\/my sweep'[\s\S]*npm run report -- '\/tmp\/my sweep'/);
    expect(nextSteps('/tmp/s', 130)).toEqual(['resume with: npm run sweep -- --out /tmp/s']);
    expect(nextSteps('/tmp/s', EXIT_UNFINISHED)).toEqual(['resume with: npm run sweep -- --out /tmp/s']);
    expect(nextSteps('/tmp/s', 1)[0]).toMatch(/--status \/tmp\/s --verbose.*resume with: npm run sweep -- --out \/tmp\/s/);
  });

  it('its lines for people break at words at an 80-column terminal, and stay whole into a file (the 80x24 walk-through)', () => {
    const plan = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adam', 'adamw'], weightDecays: [1e-3], seeds: [0], preset: 'smoke' }));
    const lines = [...planDecayLines(plan), ...nextSteps('/tmp/walk/runs/sweep', 0)];
    expect(lines.some((line) => line.length > 80)).toBe(true);
    const written = (isTTY: boolean) => {
      let text = '';
      for (const line of lines) say(line, { isTTY, columns: 80, write: (t: string) => ((text += t), true) } as never);
      return text;
    };
    const tty = written(true);
    for (const line of tty.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
    // Only the breaks (and their indents) were added: the same words, none cut.
    const words = (text: string) => text.split(/\s+/).filter(Boolean);
    expect(words(tty)).toEqual(words(lines.join('\n')));
    expect(written(false)).toBe(`${lines.join('\n')}\n`);
  });

  it('exit code: 0 only when every planned run is finished', () => {
    const counts = (c: Record<string, number>) => ({ done: 0, diverged: 0, failed: 0, corrupt: 0, running: 0, pending: 0, interrupted: 0, ...c });
    expect(sweepExitCode(false, counts({ done: 3, diverged: 1 }))).toEqual({ code: 0, message: null });
    expect(sweepExitCode(false, counts({ done: 2, running: 1 }))).toEqual({ code: EXIT_UNFINISHED, message: expect.stringMatching(/1 run\(s\) still running elsewhere/) });
    expect(sweepExitCode(false, counts({ done: 2, interrupted: 1 })).code).toBe(EXIT_UNFINISHED);
    expect(sweepExitCode(false, counts({ failed: 1, running: 1 })).code).toBe(1);
    expect(sweepExitCode(true, counts({ done: 3 })).code).toBe(130);
  });

  it('bad Slurm flags without --dry-run are refused before plan.json is written', () => {
    const dir = path.join(tempDir(), 's');
    const bad = sweepCli(['--games', 'Pong', '--optimizers', 'adam', '--preset', 'smoke', '--out', dir, '--executor', 'slurm', '--mem', '12Q']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--mem "12Q" is not a Slurm memory size/);
    expect(fs.existsSync(dir)).toBe(false);
  }, 60_000);
});
