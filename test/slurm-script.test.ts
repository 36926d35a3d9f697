// The generated sbatch script, run by bash without Slurm: values reach the run exactly (quoting), signals are
// forwarded, and a checkpoint before the time limit requeues the task. The real cluster: slurm-sweep.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runArguments, tsxLoaderUrl, type CommandBuilder } from '../src/sweep/command.ts';
import { buildPlan, crossGrid } from '../src/sweep/plan.ts';
import { writeOrCheckPlan } from '../src/sweep/plan_file.ts';
import { shellQuote } from '../src/format.ts';
import { parseSlurmTime, sbatchScript, SlurmInputError, type SlurmOptions } from '../src/sweep/slurm.ts';
import { runStatus } from '../src/sweep/status.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const FAKE = path.join(here, 'sweep-fake-run.ts');

const temps: string[] = [];
afterEach(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slurm-script-'));
  temps.push(dir);
  return dir;
}

const NASTY = [
  "it's",
  '$HOME and $(touch /tmp/pwned-sweep) and `touch /tmp/pwned-sweep`',
  '"double" \\back\\slash',
  'two  spaces\tand tab',
  'new\nline',
  '*; rm -rf / #',
  '',
  '--',
  '!',
];

function plan() {
  return buildPlan(crossGrid({ games: ['pong'], optimizers: ['adam', 'adamw'], weightDecays: [1e-4], seeds: [0], preset: 'smoke' }));
}

function options(dir: string, over: Partial<SlurmOptions> = {}): SlurmOptions {
  return { sweepDir: dir, runs: plan().runs, threads: 1, signalSeconds: 120, ...over };
}

describe('shellQuote', () => {
  it('round-trips any string through bash', () => {
    for (const value of [...NASTY, 'plain', "a'b'c", "'"]) {
      const r = spawnSync('bash', ['-c', `printf '%s' ${shellQuote(value)}`], { encoding: 'utf8' });
      expect(r.stdout).toBe(value);
    }
    expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  });
});

describe('sbatch script', () => {
  it('passes --no-save-replay to every run only when asked', () => {
    const dir = tempDir();
    expect(sbatchScript(options(dir))).not.toContain('--no-save-replay');
    const lean = sbatchScript(options(dir, { output: { saveReplay: false } }));
    expect(lean.split('\n').filter((l) => /^\s+\d+\) RUN_ID=/.test(l)).every((l) => l.includes(' --no-save-replay)'))).toBe(true);
  });

  it('has the job-array directives: one task per run, %A_%a logs, requeue, a signal before the time limit', () => {
    const dir = tempDir();
    const script = sbatchScript(options(dir, { time: '2-00:00:00', mem: '12G', partition: 'cpu', account: 'lab', qos: 'long', maxParallel: 5, threads: 2 }));
    const directives = script.split('\n').filter((l) => l.startsWith('#SBATCH'));
    expect(directives).toEqual([
      '#SBATCH --job-name=wd-dqn-sweep',
      '#SBATCH --array=0-1%5',
      '#SBATCH --ntasks=1',
      '#SBATCH --cpus-per-task=2',
      `#SBATCH --output=${dir}/logs/slurm-%A_%a.out`,
      '#SBATCH --open-mode=append',
      '#SBATCH --requeue',
      '#SBATCH --signal=B:USR1@120',
      '#SBATCH --time=2-00:00:00',
      '#SBATCH --partition=cpu',
      '#SBATCH --account=lab',
      '#SBATCH --qos=long',
      '#SBATCH --mem=12G',
    ]);
    expect(script).toMatch(/ --threads 2[ )]/);
    const r = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it.each([
    ['a sweep path with a space', { sweepDir: '/tmp/my sweep' }, /cannot be written into an #SBATCH --output line/],
    ['a sweep path with %', { sweepDir: '/tmp/a%b' }, /no spaces, %, quotes or \$/],
    ['a relative sweep path', { sweepDir: 'rel/dir' }, /must be an absolute path/],
    ['a bad time', { time: '2 days' }, /--time "2 days" is not a Slurm time limit/],
    ['a time shorter than the checkpoint signal', { time: '2', signalSeconds: 120 }, /--time 2 leaves no time to train/],
    ['a partition with a shell character', { partition: 'cpu;reboot' }, /--partition "cpu;reboot" may only hold/],
    ['an account with a space', { account: 'my lab' }, /--account "my lab"/],
    ['a bad memory size', { mem: '12 GB' }, /--mem "12 GB" is not a Slurm memory size/],
    ['a job name with a newline', { jobName: 'a\n#SBATCH --x' }, /--job-name "a\\n#SBATCH --x" may only hold/],
    ['a signal time out of range', { signalSeconds: 70000 }, /--signal-seconds must be a whole number from 1 to 65535/],
    ['no runs', { runs: [] }, /no runs to submit/],
    ['a plan entry edited into a bad game', { runs: [{ ...plan().runs[0], game: 'pong; rm -rf /' }] }, /unknown game/],
    ['a plan entry with a bad id', { runs: [{ ...plan().runs[0], id: 'x y' }] }, /malformed id/],
  ] as Array<[string, Partial<SlurmOptions>, RegExp]>)('refuses %s', (_what, over, message) => {
    const dir = tempDir();
    expect(() => sbatchScript(options(dir, over))).toThrow(SlurmInputError);
    expect(() => sbatchScript(options(dir, over))).toThrow(message);
  });

  it('parses Slurm time formats', () => {
    expect(parseSlurmTime('90')).toBe(5400);
    expect(parseSlurmTime('10:30')).toBe(630);
    expect(parseSlurmTime('1:00:00')).toBe(3600);
    expect(parseSlurmTime('2-00')).toBe(172800);
    expect(parseSlurmTime('1-02:03')).toBe(86400 + 7200 + 180);
    expect(parseSlurmTime('1-02:03:04')).toBe(86400 + 7200 + 180 + 4);
  });

  it('passes every value to the run exactly as given, whatever characters it holds', () => {
    const dir = tempDir();
    const dump = path.join(dir, 'dump-argv.mjs');
    fs.writeFileSync(dump, "import fs from 'node:fs';\nfs.writeFileSync(process.env.ARGV_OUT, JSON.stringify(process.argv.slice(2)));\n");
    const workdir = path.join(dir, "work dir with 'quotes' and $x");
    fs.mkdirSync(workdir);
    const command: CommandBuilder = (run, runDir) => ({ command: process.execPath, args: [dump, run.id, runDir, ...NASTY] });
    const p = plan();
    const script = sbatchScript({ ...options(dir), runs: p.runs, command, workdir });
    const file = path.join(dir, 'job.sbatch');
    fs.writeFileSync(file, script);
    for (const [index, run] of p.runs.entries()) {
      const out = path.join(dir, `argv-${index}.json`);
      const r = spawnSync('bash', [file], { encoding: 'utf8', env: { ...process.env, SLURM_ARRAY_TASK_ID: String(index), SLURM_ARRAY_JOB_ID: '77', ARGV_OUT: out } });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(fs.readFileSync(out, 'utf8'))).toEqual([run.id, path.join(dir, 'runs', run.id), ...NASTY]);
      // The outcome record the shell writes is valid JSON.
      const outcome = JSON.parse(fs.readFileSync(path.join(dir, 'outcomes', `${run.id}.json`), 'utf8'));
      expect(outcome).toMatchObject({ id: run.id, executor: 'slurm', exitCode: 0, signal: null, slurmJob: `77_${index}` });
    }
    expect(fs.existsSync('/tmp/pwned-sweep')).toBe(false);
    const bad = spawnSync('bash', [file], { encoding: 'utf8', env: { ...process.env, SLURM_ARRAY_TASK_ID: '9' } });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("array task index '9' is not in this sweep (0-1)");
  });

  it('before the time limit (USR1): the run checkpoints, the task requeues itself; the requeued task resumes it', async () => {
    const dir = tempDir();
    const p = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds: [0], preset: 'smoke', overrides: { iterations: 40 } }));
    writeOrCheckPlan(dir, p);
    const command: CommandBuilder = (run, runDir, threads) => ({
      command: process.execPath,
      args: ['--import', tsxLoaderUrl(), FAKE, ...runArguments(run, runDir, threads)],
    });
    const file = path.join(dir, 'job.sbatch');
    fs.writeFileSync(file, sbatchScript({ sweepDir: dir, runs: p.runs, threads: 1, signalSeconds: 60, command }));
    // A stand-in scontrol records the requeue request.
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'scontrol'), `#!/bin/sh\necho "$@" >> ${shellQuote(path.join(dir, 'scontrol.calls'))}\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SLURM_ARRAY_TASK_ID: '0', SLURM_ARRAY_JOB_ID: '41', FAKE_ITERATION_MS: '100' };
    const shell = spawn('bash', [file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    shell.stdout.on('data', (d) => (out += d));
    const metrics = path.join(dir, p.runs[0].dir, 'metrics.jsonl');
    const until = Date.now() + 30_000;
    while (!(fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').split('\n').length > 3)) {
      if (Date.now() > until) throw new Error('the run did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    shell.kill('SIGUSR1'); // what Slurm's --signal=B:USR1@60 does
    const code = await new Promise((r) => shell.once('exit', r));
    expect(code).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, p.runs[0].dir, 'summary.json'), 'utf8'));
    expect(summary.status).toBe('interrupted');
    expect(summary.signals).toEqual(['SIGUSR1']);
    expect(fs.readFileSync(path.join(dir, 'scontrol.calls'), 'utf8')).toBe('requeue 41_0\n');
    expect(out).toContain('checkpointed before the time limit; requeueing to resume');
    expect(runStatus(dir, p.runs[0]).state).toBe('interrupted');

    // The requeued task: same script, same index; it resumes and completes.
    const again = spawnSync('bash', [file], { encoding: 'utf8', env: { ...env, FAKE_ITERATION_MS: '5', SLURM_RESTART_COUNT: '1' } });
    expect(again.status, again.stderr).toBe(0);
    expect(runStatus(dir, p.runs[0]).state).toBe('done');
    const iterations = fs.readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l).iteration);
    expect(iterations).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(fs.readFileSync(path.join(dir, 'scontrol.calls'), 'utf8')).toBe('requeue 41_0\n'); // no second requeue
  }, 60_000);

  it('scancel (TERM): the run checkpoints, and the task is not requeued', async () => {
    const dir = tempDir();
    const p = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adam'], weightDecays: [], seeds: [0], preset: 'smoke', overrides: { iterations: 40 } }));
    writeOrCheckPlan(dir, p);
    const command: CommandBuilder = (run, runDir, threads) => ({ command: process.execPath, args: ['--import', tsxLoaderUrl(), FAKE, ...runArguments(run, runDir, threads)] });
    const file = path.join(dir, 'job.sbatch');
    fs.writeFileSync(file, sbatchScript({ sweepDir: dir, runs: p.runs, threads: 1, signalSeconds: 60, command }));
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'scontrol'), `#!/bin/sh\necho "$@" >> ${shellQuote(path.join(dir, 'scontrol.calls'))}\n`, { mode: 0o755 });
    const shell = spawn('bash', [file], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SLURM_ARRAY_TASK_ID: '0', FAKE_ITERATION_MS: '100' }, stdio: 'ignore' });
    const metrics = path.join(dir, p.runs[0].dir, 'metrics.jsonl');
    const until = Date.now() + 30_000;
    while (!fs.existsSync(metrics)) {
      if (Date.now() > until) throw new Error('the run did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    shell.kill('SIGTERM');
    expect(await new Promise((r) => shell.once('exit', r))).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(dir, p.runs[0].dir, 'summary.json'), 'utf8'))).toMatchObject({ status: 'interrupted', signals: ['SIGTERM'] });
    expect(fs.existsSync(path.join(dir, 'scontrol.calls'))).toBe(false);
  }, 60_000);
});
