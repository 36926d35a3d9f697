// TensorBoard scalars of a training run (--tensorboard): each iteration's metrics grouped by tag prefix (train/,
// eval/, optim/ for the weight-decay signals, perf/), the training loss every few hundred updates and every episode's
// return as it ends. Only a view of the run: metrics.jsonl has every value, so a failed write is one warning and
// turns TensorBoard off for the rest of the session, never the run's end.
import * as tf from '../tf.ts';
import type { MetricsRecord } from './run_directory.ts';

/** What the trainer needs of a TensorBoard writer. */
export interface ScalarWriter {
  scalar(name: string, value: number, step: number): void;
  flush(): void;
}

/**
 * With --tensorboard, the training loss is written every this many agent steps (250 updates; at least 4 times an
 * iteration for short ones), not only per iteration (250,000 steps at the dopamine preset: too coarse to watch a
 * run), and every episode's return as it ends.
 */
const TENSORBOARD_LOSS_EVERY_STEPS = 1000;
const lossScalarEvery = (trainingSteps: number) => Math.max(1, Math.min(TENSORBOARD_LOSS_EVERY_STEPS, Math.floor(trainingSteps / 4)));

/** The TensorBoard tag of a metrics.jsonl key: grouped as train/, eval/, optim/ (the weight-decay signals), perf/. */
function scalarTag(key: string): string {
  if (key.startsWith('train_')) return `train/${key.slice('train_'.length)}`;
  if (key === 'eval_sps') return 'perf/eval_steps_per_second';
  if (key.startsWith('eval_')) return `eval/${key.slice('eval_'.length)}`;
  if (key === 'loss_mean' || key === 'epsilon' || key === 'updates') return `train/${key === 'loss_mean' ? 'loss_iteration_mean' : key}`;
  if (key === 'sps') return 'perf/steps_per_second';
  if (key === 'iteration_seconds' || key === 'wall_seconds' || key === 'emulator_restarts') return `perf/${key}`;
  return `optim/${key}`;
}

/** tfjs-node's event-file writer of a logdir. */
function summaryWriter(logdir: string): ScalarWriter {
  const writer = tf.node.summaryFileWriter(logdir);
  return { scalar: (n, v, s) => writer.scalar(n, v, s), flush: () => writer.flush() };
}

/** A session's TensorBoard scalars: off until opened, and off again after the first failed write. */
export class TensorBoardScalars {
  private writer: ScalarWriter | null = null;

  constructor(private readonly log: (line: string) => void) {}

  /** Opens the writer of `logdir` (default: tfjs-node's; tests give a failing one). A failure leaves it off. */
  open(logdir: string, openWriter: (logdir: string) => ScalarWriter = summaryWriter): void {
    try {
      this.writer = openWriter(logdir);
    } catch (error) {
      this.failed(error);
    }
  }

  /** Whether the training loss is written after the agent step that brought the run to `envSteps`. */
  lossDue(envSteps: number, trainingSteps: number): boolean {
    return this.writer !== null && envSteps % lossScalarEvery(trainingSteps) === 0;
  }

  /** The mean loss of the updates since the last write (nothing if there were none). */
  loss(stats: { sum: number; count: number }, envSteps: number): void {
    if (stats.count > 0) this.scalar('train/loss', stats.sum / stats.count, envSteps);
  }

  scalar(tag: string, value: number, step: number): void {
    this.write((writer) => writer.scalar(tag, value, step));
  }

  /** The iteration's metrics as TensorBoard scalars, grouped by tag prefix (train/, eval/, optim/, perf/). */
  metrics(record: MetricsRecord): void {
    this.write((writer) => {
      const step = record.env_steps as number;
      for (const [key, value] of Object.entries(record)) {
        if (typeof value === 'number' && key !== 'iteration' && key !== 'env_steps') writer.scalar(scalarTag(key), value, step);
      }
      for (const key of ['m_over_w_log10', 'moment_wd_share', 'sqrt_vhat_over_eps_log10'] as const) {
        const q = record[key] as Record<string, number> | null;
        if (q) for (const k of ['p5', 'p25', 'p50', 'p75', 'p95']) if (typeof q[k] === 'number') writer.scalar(`optim/${key}/${k}`, q[k], step);
      }
      writer.flush();
    });
  }

  flush(): void {
    this.write((writer) => writer.flush());
  }

  /**
   * Every write goes through here. Logging is never worth a run: a failure (a full disk is TensorFlow's "Invalid
   * TF_Status: 8") is one warning, and TensorBoard is off for the rest of the session.
   */
  private write(write: (writer: ScalarWriter) => void): void {
    if (!this.writer) return;
    try {
      write(this.writer);
    } catch (error) {
      this.failed(error);
    }
  }

  private failed(error: unknown): void {
    this.writer = null;
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    this.log(`warning: TensorBoard logging failed (${message}); it is off for the rest of this session (metrics.jsonl has every value)`);
  }
}
