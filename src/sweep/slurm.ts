// The Slurm executor: one sbatch job array, one array task per run that is not finished yet.
//
// Each task runs the same command as the local executor, in the shared sweep directory (Slurm clusters share the
// filesystem; the paths of this machine must be valid on the compute nodes). `--signal=B:USR1@S` has Slurm signal
// the batch shell S seconds before the time limit; the shell forwards it to the run, which checkpoints and exits 0,
// and the shell then requeues its own array task (`--requeue`), which resumes from that checkpoint. scancel's
// SIGTERM is forwarded the same way, without the requeue. Logs: DIR/logs/slurm-%A_%a.out for the task's own lines,
// DIR/logs/<run id>.log for the run's output (the same file the local executor writes).
//
// Every value placed in the script is validated, and every value in the shell part is shell-quoted; #SBATCH lines
// are not parsed by a shell, so their values are restricted to characters that need no quoting at all.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { shellQuote } from '../format.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { REPO_ROOT } from '../paths.mjs';
import { atariCommand, type CommandBuilder, type RunOutputOptions } from './command.ts';
import { planEntryProblem, type PlannedRun } from './plan_file.ts';
import { LOGS_DIR, OUTCOMES_DIR, readExecutorRecord, runDirOf } from './status.ts';

export class SlurmInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlurmInputError';
  }
}

export interface SlurmOptions {
  /** Absolute path of the sweep directory. */
  sweepDir: string;
  /** The runs to submit, in array-index order. */
  runs: PlannedRun[];
  /** CPUs per task, also the run's --threads. */
  threads: number;
  /** Seconds before the time limit at which the run is told to checkpoint and requeue. */
  signalSeconds: number;
  jobName?: string;
  /** Slurm time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS. */
  time?: string;
  partition?: string;
  account?: string;
  qos?: string;
  /** Memory per node, e.g. 12G. */
  mem?: string;
  /** At most this many array tasks at once (`--array=…%N`). */
  maxParallel?: number;
  /** How to start a run (the real atari CLI unless a test injects a stand-in). */
  command?: CommandBuilder;
  /** Working directory of the tasks (default: the repository). */
  workdir?: string;
  /** How the runs store their output (replay in checkpoints, how many checkpoints, TensorBoard). */
  output?: RunOutputOptions;
}

// Characters an #SBATCH value may hold: no whitespace, quotes, '#', '%' (a filename pattern), '$' or '\'.
const SBATCH_PATH = /^\/[A-Za-z0-9_@+=:,./-]*$/;
const SLURM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SLURM_NAME_LIST = /^[A-Za-z0-9_.-]+(,[A-Za-z0-9_.-]+)*$/;
const SLURM_MEM = /^[1-9][0-9]*[KMGT]?$/;

/** Slurm's time formats, in seconds; throws SlurmInputError for anything else. */
export function parseSlurmTime(value: string): number {
  const m =
    /^(?:(\d+)-(\d+)(?::(\d+)(?::(\d+))?)?|(\d+)(?::(\d+)(?::(\d+))?)?)$/.exec(value);
  if (!m) {
    throw new SlurmInputError(
      `--time ${JSON.stringify(value)} is not a Slurm time limit; use minutes (90), MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 2-00:00:00).`,
    );
  }
  const n = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  if (m[1] !== undefined) return n(m[1]) * 86400 + n(m[2]) * 3600 + n(m[3]) * 60 + n(m[4]);
  if (m[7] !== undefined) return n(m[5]) * 3600 + n(m[6]) * 60 + n(m[7]); // HH:MM:SS
  if (m[6] !== undefined) return n(m[5]) * 60 + n(m[6]); // MM:SS
  return n(m[5]) * 60; // minutes
}

/** Every check of sbatchScript, on its own: a sweep validates its Slurm flags before it writes plan.json. */
export function validateSlurmOptions(options: SlurmOptions): void {
  const { sweepDir } = options;
  if (!path.isAbsolute(sweepDir)) throw new SlurmInputError(`the sweep directory must be an absolute path, got ${sweepDir}`);
  const logPath = path.join(sweepDir, LOGS_DIR);
  if (!SBATCH_PATH.test(logPath)) {
    throw new SlurmInputError(
      `the sweep directory ${JSON.stringify(sweepDir)} cannot be written into an #SBATCH --output line (Slurm does not ` +
        'parse quotes there): use a path of letters, digits and _@+=:,./- only (no spaces, %, quotes or $).',
    );
  }
  if (options.runs.length === 0) throw new SlurmInputError('no runs to submit: every run of this sweep is finished or running.');
  if (!Number.isSafeInteger(options.threads) || options.threads < 1) throw new SlurmInputError(`--threads must be >= 1, got ${options.threads}`);
  if (!Number.isSafeInteger(options.signalSeconds) || options.signalSeconds < 1 || options.signalSeconds > 65535) {
    throw new SlurmInputError(`--signal-seconds must be a whole number from 1 to 65535, got ${options.signalSeconds}`);
  }
  if (options.jobName !== undefined && !SLURM_NAME.test(options.jobName)) {
    throw new SlurmInputError(`--job-name ${JSON.stringify(options.jobName)} may only hold letters, digits, _ . - (at most 64).`);
  }
  for (const [flag, value] of [['--partition', options.partition], ['--account', options.account], ['--qos', options.qos]] as const) {
    if (value !== undefined && !SLURM_NAME_LIST.test(value)) {
      throw new SlurmInputError(`${flag} ${JSON.stringify(value)} may only hold letters, digits, _ . - (and commas between names).`);
    }
  }
  if (options.mem !== undefined && !SLURM_MEM.test(options.mem)) {
    throw new SlurmInputError(`--mem ${JSON.stringify(options.mem)} is not a Slurm memory size; use a whole number with an optional K, M, G or T (e.g. 12G).`);
  }
  if (options.time !== undefined) {
    const seconds = parseSlurmTime(options.time);
    if (seconds <= options.signalSeconds + 10) {
      throw new SlurmInputError(
        `--time ${options.time} leaves no time to train: the run is told to checkpoint ${options.signalSeconds} s before the ` +
          'limit (--signal-seconds); give a longer --time or a smaller --signal-seconds.',
      );
    }
  }
  if (options.maxParallel !== undefined && (!Number.isSafeInteger(options.maxParallel) || options.maxParallel < 1)) {
    throw new SlurmInputError(`--max-parallel must be a whole number >= 1, got ${options.maxParallel}`);
  }
  // The plan was validated when it was made; check again what goes into the script, in case plan.json was edited.
  for (const run of options.runs) {
    const problem = planEntryProblem(run);
    if (problem !== null) throw new SlurmInputError(`plan entry ${run.id}: ${problem}; refusing to write it into a job script.`);
  }
}

/** The job script. Pure: writes nothing. Throws SlurmInputError for any value it refuses. */
export function sbatchScript(options: SlurmOptions): string {
  validateSlurmOptions(options);
  const { sweepDir, runs, threads } = options;
  const build = options.command ?? atariCommand;
  const q = shellQuote;
  const array = `0-${runs.length - 1}${options.maxParallel !== undefined ? `%${options.maxParallel}` : ''}`;
  const directives = [
    `--job-name=${options.jobName ?? 'wd-dqn-sweep'}`,
    `--array=${array}`,
    '--ntasks=1',
    `--cpus-per-task=${threads}`,
    `--output=${path.join(sweepDir, LOGS_DIR)}/slurm-%A_%a.out`,
    '--open-mode=append',
    '--requeue',
    `--signal=B:USR1@${options.signalSeconds}`,
    ...(options.time !== undefined ? [`--time=${options.time}`] : []),
    ...(options.partition !== undefined ? [`--partition=${options.partition}`] : []),
    ...(options.account !== undefined ? [`--account=${options.account}`] : []),
    ...(options.qos !== undefined ? [`--qos=${options.qos}`] : []),
    ...(options.mem !== undefined ? [`--mem=${options.mem}`] : []),
  ];
  let node: string | undefined;
  const cases = runs.map((run, index) => {
    const { command, args } = build(run, path.resolve(runDirOf(sweepDir, run)), threads, options.output);
    if (node !== undefined && node !== command) throw new SlurmInputError('every run of a job array must start the same program');
    node = command;
    return `  ${index}) RUN_ID=${q(run.id)}; ARGS=(${args.map(q).join(' ')}) ;;`;
  });

  return `#!/bin/bash
# Generated by \`npm run sweep\` (wd-dqn-harness): ${runs.length} run(s) of the sweep in ${sweepDir}, one array task each.
# Resubmitting is safe: a finished run exits at once, an interrupted one resumes from its last checkpoint.
${directives.map((d) => `#SBATCH ${d}`).join('\n')}
set -uo pipefail

SWEEP_DIR=${q(sweepDir)}
PROGRAM=${q(node!)}
cd ${q(options.workdir ?? REPO_ROOT)} || exit 1

case "\${SLURM_ARRAY_TASK_ID:-}" in
${cases.join('\n')}
  *) echo "array task index '\${SLURM_ARRAY_TASK_ID:-}' is not in this sweep (0-${runs.length - 1})" >&2; exit 2 ;;
esac

TASK="\${SLURM_ARRAY_JOB_ID:-\${SLURM_JOB_ID:-0}}_\${SLURM_ARRAY_TASK_ID}"
HOST=$(hostname)
LOG="$SWEEP_DIR/${LOGS_DIR}/$RUN_ID.log"
OUTCOME="$SWEEP_DIR/${OUTCOMES_DIR}/$RUN_ID.json"
mkdir -p "$SWEEP_DIR/${LOGS_DIR}" "$SWEEP_DIR/${OUTCOMES_DIR}"
now() { date -u +%Y-%m-%dT%H:%M:%S.000Z; }
# The outcome record explains a death the run could not record itself; replaced atomically (temp file + rename).
write_outcome() { printf '%s\\n' "$1" >"$OUTCOME.tmp-$$" && mv -f "$OUTCOME.tmp-$$" "$OUTCOME"; }

STARTED=$(now)
echo "task $TASK: run $RUN_ID on $HOST (restart \${SLURM_RESTART_COUNT:-0}), log $LOG"
echo "=== $STARTED attempt on $HOST: Slurm task $TASK, restart \${SLURM_RESTART_COUNT:-0}" >>"$LOG"
write_outcome "{\\"id\\":\\"$RUN_ID\\",\\"executor\\":\\"slurm\\",\\"startedAt\\":\\"$STARTED\\",\\"host\\":\\"$HOST\\",\\"slurmJob\\":\\"$TASK\\"}"

"$PROGRAM" "\${ARGS[@]}" >>"$LOG" 2>&1 &
CHILD=$!
SIGNALLED=
# Slurm signals this shell (B:USR1 before the time limit; TERM on scancel): pass it on, the run checkpoints and exits.
forward() { SIGNALLED=$1; kill -s "$1" "$CHILD" 2>/dev/null || true; }
trap 'forward USR1' USR1
trap 'forward TERM' TERM
trap 'forward INT' INT
while :; do
  wait "$CHILD"
  RC=$?
  # A trapped signal interrupts wait (status > 128) while the run goes on checkpointing: wait again.
  kill -0 "$CHILD" 2>/dev/null || break
done

SIGNAL=null
if [ "$RC" -gt 128 ]; then SIGNAL="\\"SIG$(kill -l $((RC - 128)))\\""; EXIT=null; else EXIT=$RC; fi
write_outcome "{\\"id\\":\\"$RUN_ID\\",\\"executor\\":\\"slurm\\",\\"startedAt\\":\\"$STARTED\\",\\"endedAt\\":\\"$(now)\\",\\"exitCode\\":$EXIT,\\"signal\\":$SIGNAL,\\"host\\":\\"$HOST\\",\\"slurmJob\\":\\"$TASK\\"}"
echo "task $TASK: run $RUN_ID exited with status $RC"

if [ "$SIGNALLED" = USR1 ] && [ "$RC" -eq 0 ]; then
  echo "task $TASK: checkpointed before the time limit; requeueing to resume"
  scontrol requeue "$TASK"
fi
exit "$RC"
`;
}

export interface SubmitResult {
  jobId: string;
  scriptFile: string;
}

/** Refuses to submit while an earlier array of this sweep is still queued or running (tasks would collide). */
export function assertNoActiveJob(sweepDir: string, squeue = 'squeue'): void {
  const record = readExecutorRecord(sweepDir);
  if (record?.kind !== 'slurm') return;
  const result = spawnSync(squeue, ['-h', '-j', record.jobId, '-o', '%i %T'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return; // job unknown to Slurm any more (squeue errors on old ids)
  const lines = result.stdout.trim();
  if (lines !== '') {
    throw new SlurmInputError(
      `Slurm job ${record.jobId} of this sweep is still queued or running:\n${lines}\n` +
        `Wait for it (npm run sweep -- --status ${shellQuote(sweepDir)}) or cancel it (scancel ${record.jobId}; runs checkpoint), then rerun.`,
    );
  }
}

/** Writes the script to DIR/slurm/<time>.sbatch and submits it with `sbatch --parsable`. */
export function submit(sweepDir: string, script: string, options: { sbatch?: string; env?: NodeJS.ProcessEnv } = {}): SubmitResult {
  const sbatch = options.sbatch ?? 'sbatch';
  const dir = path.join(sweepDir, 'slurm');
  fs.mkdirSync(dir, { recursive: true });
  // slurmd opens the --output file before the script runs and fails the task if its directory is missing.
  fs.mkdirSync(path.join(sweepDir, LOGS_DIR), { recursive: true });
  const scriptFile = path.join(dir, `sweep-${new Date().toISOString().replace(/[:.]/g, '-')}.sbatch`);
  writeFileAtomic(scriptFile, script);
  fs.chmodSync(scriptFile, 0o755);
  let out: string;
  try {
    // sbatch passes its environment on to the tasks (--export=ALL is Slurm's default).
    out = execFileSync(sbatch, ['--parsable', scriptFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new SlurmInputError(
        `${sbatch} not found: this machine has no Slurm client. Run the sweep on a Slurm login node, use --dry-run to ` +
          'print the script, or try a local cluster (scripts/install-system-packages.sh, scripts/slurm-local-cluster.sh start).',
      );
    }
    throw new SlurmInputError(`sbatch refused the job script ${scriptFile}: ${(e.stderr ?? e.message).trim()}`);
  }
  const jobId = /^(\d+)/.exec(out.trim())?.[1];
  if (jobId === undefined) throw new SlurmInputError(`sbatch printed no job id (got ${JSON.stringify(out)})`);
  return { jobId, scriptFile };
}
