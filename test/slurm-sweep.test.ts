// Sweeps through a real Slurm cluster: a one-node cluster on localhost started with scripts/slurm-local-cluster.sh
// (this test starts it, and stops it afterwards if it was not running before). Needs root and the Debian packages
// of scripts/install-system-packages.sh; without sbatch the tests are skipped with a warning, and under CI they fail.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunDirectory } from '../src/run/run_directory.ts';
import { runArguments, tsxLoaderUrl, type CommandBuilder } from '../src/sweep/command.ts';
import { LocalExecutor } from '../src/sweep/local.ts';
import { buildPlan, crossGrid } from '../src/sweep/plan.ts';
import { readPlan, writeOrCheckPlan, type SweepPlan } from '../src/sweep/plan_file.ts';
import { sbatchScript, submit } from '../src/sweep/slurm.ts';
import { readExecutorRecord, sweepStatus } from '../src/sweep/status.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, '..');
const FAKE = path.join(here, 'sweep-fake-run.ts');
const CLUSTER = path.join(REPO, 'scripts', 'slurm-local-cluster.sh');
const SWEEP_CLI = path.join(REPO, 'src', 'cli', 'sweep.ts');

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}
const haveSlurm = ['sbatch', 'squeue', 'scontrol', 'slurmctld', 'slurmd', 'munged'].every(has);
const isRoot = process.getuid?.() === 0;
const missing = !haveSlurm
  ? 'Slurm is not installed (sbatch, slurmctld, slurmd, munged): run scripts/install-system-packages.sh as root'
  : !isRoot
    ? 'the local Slurm cluster needs root (scripts/slurm-local-cluster.sh)'
    : null;

describe('Slurm prerequisites', () => {
  it('Slurm is available (required under CI)', () => {
    if (missing === null) return;
    if (process.env.CI) throw new Error(`${missing}; CI must run the Slurm sweep test.`);
    console.warn(`SKIPPING the real Slurm sweep tests: ${missing}.`);
  });
});

const fakeCommand: CommandBuilder = (run, runDir, threads) => ({
  command: process.execPath,
  args: ['--import', tsxLoaderUrl(), FAKE, ...runArguments(run, runDir, threads)],
});

const temps: string[] = [];
const jobs: string[] = [];
function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slurm-sweep-'));
  temps.push(dir);
  return dir;
}

function squeueEmpty(jobId: string): boolean {
  const r = spawnSync('squeue', ['-h', '-j', jobId, '-o', '%i'], { encoding: 'utf8' });
  return r.status !== 0 || r.stdout.trim() === '';
}

function squeueField(job: string, format: string): string {
  return spawnSync('squeue', ['-h', '-j', job, '-o', format], { encoding: 'utf8' }).stdout?.trim() ?? '';
}

/** Polls `condition`; on timeout the error also carries `explain()`, what Slurm and the logs say (for a CI log). */
async function waitFor(condition: () => boolean, timeoutMs: number, what: string, explain: () => string = () => ''): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}\n${explain()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Slurm's view of a job and the tails of a sweep's logs: why a task did not finish. */
function jobReport(jobId: string, dir: string): string {
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return `$ ${cmd} ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}`;
  };
  const tails = fs.existsSync(path.join(dir, 'logs'))
    ? fs.readdirSync(path.join(dir, 'logs')).map((f) => `--- logs/${f} (last 15 lines)\n${fs.readFileSync(path.join(dir, 'logs', f), 'utf8').split('\n').slice(-15).join('\n')}`)
    : ['(no logs/)'];
  return [run('squeue', ['-j', jobId, '-o', '%i %T %r %S']), run('sacct', ['-j', jobId, '-X', '-n', '-o', 'JobID,State,ExitCode,Reason%30,Start,End']),
    run('scontrol', ['show', 'job', jobId]), ...tails].join('\n');
}

/** Metrics without wall-clock fields: what must be identical between two executions of the same run. */
function results(dir: string, plan: SweepPlan): Record<string, unknown[]> {
  const timing = new Set(['sps', 'eval_sps', 'iteration_seconds', 'wall_seconds']);
  return Object.fromEntries(
    plan.runs.map((run) => [
      run.id,
      RunDirectory.open(path.join(dir, run.dir)).readMetrics().records.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !timing.has(k)))),
    ]),
  );
}

describe.skipIf(missing !== null)('sweeps on a real one-node Slurm cluster', () => {
  let startedHere = false;
  beforeAll(() => {
    startedHere = spawnSync(CLUSTER, ['status'], { stdio: 'ignore' }).status !== 0;
    execFileSync(CLUSTER, ['start'], { stdio: 'pipe' });
  }, 60_000);
  afterAll(() => {
    // A failed test must not leave tasks behind that would run later against deleted directories.
    if (jobs.length > 0) spawnSync('scancel', jobs, { stdio: 'ignore' });
    for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    if (startedHere) execFileSync(CLUSTER, ['stop'], { stdio: 'pipe' });
  }, 60_000);

  it('the cluster script is idempotent; the package script is quick when all is installed', () => {
    const again = spawnSync(CLUSTER, ['start'], { encoding: 'utf8' });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('starting'); // nothing was started a second time
    expect(again.stdout).toMatch(/up: partition 'local', node \S+ is (idle|mixed|allocated)/);
    expect(spawnSync(CLUSTER, ['status'], { encoding: 'utf8' }).stdout).toContain('slurmctld running');
    const bad = spawnSync(CLUSTER, ['restart'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage:');
    const t0 = Date.now();
    const install = spawnSync(path.join(REPO, 'scripts', 'install-system-packages.sh'), ['--check'], { encoding: 'utf8' });
    expect(install.status, install.stderr).toBe(0);
    expect(install.stdout).toContain('all installed');
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 60_000);

  it('runs a job array to completion: one task per run, %A_%a logs, results equal to the local executor', async () => {
    const grid = crossGrid({ games: ['pong'], optimizers: ['adam', 'adamw'], weightDecays: [1e-4], seeds: [0, 1], preset: 'smoke' });
    const slurmDir = tempDir();
    const plan = buildPlan(grid);
    writeOrCheckPlan(slurmDir, plan);
    const { jobId } = submit(slurmDir, sbatchScript({ sweepDir: slurmDir, runs: plan.runs, threads: 1, signalSeconds: 60, command: fakeCommand }), {
      env: { ...process.env, FAKE_ITERATION_MS: '20' },
    });
    jobs.push(jobId);
    await waitFor(() => squeueEmpty(jobId), 120_000, `Slurm job ${jobId}`);
    expect(sweepStatus(slurmDir, plan).counts).toMatchObject({ done: 4, failed: 0, pending: 0 });
    const logs = fs.readdirSync(path.join(slurmDir, 'logs')).filter((f) => f.startsWith('slurm-')).sort();
    expect(logs).toEqual([0, 1, 2, 3].map((i) => `slurm-${jobId}_${i}.out`));
    expect(fs.readFileSync(path.join(slurmDir, 'logs', logs[0]), 'utf8')).toContain(`task ${jobId}_0: run ${plan.runs[0].id}`);

    const localDir = tempDir();
    writeOrCheckPlan(localDir, plan);
    await new LocalExecutor({ sweepDir: localDir, plan, workers: 2, threads: 1, command: fakeCommand, log: () => {} }).run();
    expect(results(slurmDir, plan)).toEqual(results(localDir, plan));
  }, 180_000);

  it('a signal before the time limit makes the run checkpoint and its task requeue; the requeued task resumes it', async () => {
    const dir = tempDir();
    const plan = buildPlan(crossGrid({ games: ['pong'], optimizers: ['adamw'], weightDecays: [1e-4], seeds: [0], preset: 'smoke', overrides: { iterations: 60 } }));
    writeOrCheckPlan(dir, plan);
    const { jobId } = submit(dir, sbatchScript({ sweepDir: dir, runs: plan.runs, threads: 1, signalSeconds: 60, command: fakeCommand }), {
      env: { ...process.env, FAKE_ITERATION_MS: '150' },
    });
    jobs.push(jobId);
    const metrics = path.join(dir, plan.runs[0].dir, 'metrics.jsonl');
    await waitFor(() => fs.existsSync(metrics) && fs.readFileSync(metrics, 'utf8').split('\n').length > 5, 60_000, 'the run to start');
    // Exactly what --signal=B:USR1@60 makes slurmctld do when the time limit nears: signal the batch shell.
    execFileSync('scancel', ['--batch', '--signal=USR1', `${jobId}_0`]);
    // Slurm holds a requeued job back for about two minutes (reason BeginTime); let it start now.
    await waitFor(() => squeueField(`${jobId}_0`, '%r') === 'BeginTime', 60_000, 'the task to be requeued', () => jobReport(jobId, dir));
    // Not within the second of the requeue: slurmd launches a requeued job only with a credential newer than the
    // revocation of the old one, to the second; sooner, slurmctld logs "Killing non-startable batch JobId=N: Job
    // credential revoked" and the task fails at once (seen under CI load). Slurm's own requeue delay never hits this.
    await new Promise((r) => setTimeout(r, 2000));
    execFileSync('scontrol', ['update', `JobId=${jobId}_0`, 'StartTime=now']);
    // Generous: the requeued task starts a new Node process and slurmd polls; on a loaded machine that took > 120 s.
    await waitFor(() => squeueEmpty(jobId) && sweepStatus(dir, plan).counts.done === 1, 300_000, 'the requeued task to finish', () => jobReport(jobId, dir));
    const log = fs.readFileSync(path.join(dir, 'logs', `${plan.runs[0].id}.log`), 'utf8');
    expect(log).toMatch(/checkpointed after iteration \d+ \(SIGUSR1\)/);
    expect(log).toMatch(/restart 1/);
    const slurmLog = fs.readFileSync(path.join(dir, 'logs', `slurm-${jobId}_0.out`), 'utf8');
    expect(slurmLog).toContain('checkpointed before the time limit; requeueing to resume');
    const iterations = RunDirectory.open(path.join(dir, plan.runs[0].dir)).readMetrics().records.map((r) => r.iteration);
    expect(iterations).toEqual(Array.from({ length: 60 }, (_, i) => i));
  }, 480_000);

  it('npm run sweep --executor slurm: real DQN runs (smoke preset) give exactly the local executor\'s results', async () => {
    const args = ['--games', 'Pong', '--optimizers', 'adam,adamw', '--wd', '1e-4', '--seeds', '0', '--preset', 'smoke', '--threads', '1'];
    const slurmDir = path.join(tempDir(), 'slurm');
    const submitted = spawnSync(process.execPath, ['--import', tsxLoaderUrl(), SWEEP_CLI, ...args, '--out', slurmDir, '--executor', 'slurm'], { encoding: 'utf8' });
    expect(submitted.status, submitted.stderr).toBe(0);
    expect(submitted.stdout).toMatch(/submitted Slurm job array \d+: 2 task\(s\)/);
    const record = readExecutorRecord(slurmDir);
    if (record?.kind !== 'slurm') throw new Error('no Slurm executor record');
    jobs.push(record.jobId);
    // A second submission while the array runs is refused (its tasks would collide with the running ones).
    const twice = spawnSync(process.execPath, ['--import', tsxLoaderUrl(), SWEEP_CLI, '--out', slurmDir, '--executor', 'slurm'], { encoding: 'utf8' });
    expect(twice.status).toBe(1);
    expect(twice.stderr).toMatch(new RegExp(`Slurm job ${record.jobId} of this sweep is still queued or running`));
    // So is running it locally at the same time.
    const alsoLocal = spawnSync(process.execPath, ['--import', tsxLoaderUrl(), SWEEP_CLI, '--out', slurmDir], { encoding: 'utf8' });
    expect(alsoLocal.status).toBe(1);
    expect(alsoLocal.stderr).toMatch(new RegExp(`Slurm job ${record.jobId} of this sweep is still queued or running`));

    const plan = readPlan(slurmDir);
    await waitFor(() => squeueEmpty(record.jobId), 600_000, `Slurm job ${record.jobId}`);
    expect(sweepStatus(slurmDir, plan).counts, fs.readdirSync(path.join(slurmDir, 'logs')).join(',')).toMatchObject({ done: 2 });

    const localDir = path.join(tempDir(), 'local');
    const local = spawnSync(process.execPath, ['--import', tsxLoaderUrl(), SWEEP_CLI, ...args, '--out', localDir, '--workers', '2'], { encoding: 'utf8' });
    expect(local.status, local.stderr + local.stdout).toBe(0);
    expect(readPlan(localDir).runs).toEqual(plan.runs);
    const fromSlurm = results(slurmDir, plan);
    expect(Object.values(fromSlurm).every((records) => records.length === 2)).toBe(true);
    expect(results(localDir, plan)).toEqual(fromSlurm);
  }, 900_000);
});
