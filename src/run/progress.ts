// Progress of a run for a person watching: on a terminal one live line rewritten in place (iteration, steps,
// steps/s over a recent window, ε, recent returns, ETA), cut to the terminal's width by dropping the least useful
// fields (a wrapped line would scroll the screen at every redraw); otherwise (a log file, Slurm, CI) the same
// content as a plain, timestamped line every `plainEverySeconds`. Permanent lines (iteration results, warnings) go
// through line(), timestamped too when not on a terminal.
//
// The ETA: the warm-up (no learning, ~1,000 steps/s) and the learning phase (~50 steps/s) differ 20-fold, so each
// is timed on its own; until the learning rate has been measured, an assumed one stands in and the ETA says so.

import { formatCount, formatDuration } from '../format.ts';

export interface ProgressState {
  iteration: number;
  iterations: number;
  phase: 'train' | 'eval';
  /** Steps done and planned in the current phase. */
  phaseSteps: number;
  phaseTarget: number;
  /** Agent steps of the run so far (training and evaluation), and planned in all. */
  runSteps: number;
  runTarget: number;
  epsilon: number;
  /** Returns of the most recent finished episodes (any phase), newest last. */
  recentReturns: readonly number[];
  /** Agent steps left before learning starts (the warm-up: random actions, no gradient steps); 0 once learning. */
  warmupStepsLeft?: number;
}

/**
 * Learning-phase agent steps per second assumed until one is measured: one run of the dopamine preset on the
 * project's 2-core machine (docs/performance.md: 52–64 measured on 2026-12-01; ~40 on 2026-12-02, and ~21 per run
 * with two side by side: these VMs vary). The ETA says `~` until the real rate replaces it.
 */
export const ASSUMED_LEARNING_STEPS_PER_SECOND = 45;

export interface ProgressOptions {
  tty: boolean;
  write: (text: string) => void;
  plainEverySeconds?: number;
  /** Window of the steps/s estimate. */
  windowSeconds?: number;
  now?: () => number;
  /** The terminal's width (process.stdout.columns); the live line never exceeds it. Default 80. */
  columns?: () => number | undefined;
  /** Wall-clock time for the timestamps of non-terminal lines (default: now). */
  clock?: () => Date;
  /** Learning-phase steps/s for the ETA until measured (default ASSUMED_LEARNING_STEPS_PER_SECOND). */
  assumedLearningStepsPerSecond?: number;
  /** How often the snapshot listener (setSnapshotListener) is called, at most (default 5 s). */
  snapshotEverySeconds?: number;
}

/** What a run says about itself while it trains (RUN_DIR/progress.json; docs/run-format.md). */
export interface ProgressSnapshot
  extends Pick<ProgressState, 'iteration' | 'iterations' | 'phase' | 'phaseSteps' | 'phaseTarget' | 'runSteps' | 'runTarget'> {
  updatedAt: string;
  warmupStepsLeft: number;
  /** Over the recent window (null until measured). */
  stepsPerSecond: number | null;
  /** The last learning-phase rate measured (null until measured). */
  learningStepsPerSecond: number | null;
  /** Mean of the last (up to 10) finished episodes' returns, and how many that is. */
  recentReturn: number | null;
  recentEpisodes: number;
  /** The run's own estimate of its remaining wall time (null during an untimed warm-up). */
  etaSeconds: number | null;
  etaAssumed: boolean;
}

export class ProgressReporter {
  private readonly samples: Array<{ t: number; steps: number }> = [];
  /** Whether the samples are of the warm-up; a change of phase restarts the window. */
  private samplesInWarmup: boolean | null = null;
  /** The last learning-phase rate measured (kept through warm-ups and evaluations). */
  private learningRate: number | null = null;
  private lastDraw = -Infinity;
  private lastSample = -Infinity;
  private lastSnapshot = -Infinity;
  private live = false;
  private snapshotListener: ((snapshot: ProgressSnapshot) => void) | null = null;
  private readonly now: () => number;
  private readonly every: number;
  /** Rate samples are taken more often than plain lines are printed, so the rate and snapshots stay fresh. */
  private readonly sampleEvery: number;
  private readonly window: number;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? (() => performance.now() / 1000);
    this.every = options.tty ? 0.5 : (options.plainEverySeconds ?? 60);
    this.sampleEvery = Math.min(this.every, options.snapshotEverySeconds ?? 5);
    this.window = options.windowSeconds ?? 30;
  }

  /** Cheap enough to call every step: samples at most every few seconds, draws every 0.5 s (terminal) or plainEverySeconds. */
  update(state: ProgressState): void {
    const t = this.now();
    if (t - this.lastSample < this.sampleEvery) return;
    this.lastSample = t;
    this.sample(t, state);
    if (this.snapshotListener && t - this.lastSnapshot >= (this.options.snapshotEverySeconds ?? 5)) {
      this.lastSnapshot = t;
      this.snapshotListener(this.snapshot(state));
    }
    if (t - this.lastDraw < this.every) return;
    this.lastDraw = t;
    if (this.options.tty) {
      this.options.write(`\r\x1b[K${this.format(state, this.width())}`);
      this.live = true;
    } else {
      this.options.write(`${this.stamp()}${this.format(state)}\n`);
    }
  }

  private sample(t: number, state: ProgressState): void {
    const warmup = (state.warmupStepsLeft ?? 0) > 0;
    if (this.samplesInWarmup !== warmup) {
      this.samples.length = 0;
      this.samplesInWarmup = warmup;
    }
    this.samples.push({ t, steps: state.runSteps });
    while (this.samples.length > 2 && t - this.samples[1].t >= this.window) this.samples.shift();
    const rate = this.stepsPerSecond();
    if (!warmup && rate !== null && this.samples.length >= 3) this.learningRate = rate;
  }

  /** The trainer writes each snapshot to RUN_DIR/progress.json, for the sweep's live view and --status. */
  setSnapshotListener(listener: ((snapshot: ProgressSnapshot) => void) | null): void {
    this.snapshotListener = listener;
  }

  snapshot(state: ProgressState): ProgressSnapshot {
    const recent = state.recentReturns.slice(-10);
    const eta = this.eta(state);
    return {
      updatedAt: (this.options.clock?.() ?? new Date()).toISOString(),
      iteration: state.iteration, iterations: state.iterations, phase: state.phase,
      phaseSteps: state.phaseSteps, phaseTarget: state.phaseTarget, runSteps: state.runSteps, runTarget: state.runTarget,
      warmupStepsLeft: state.warmupStepsLeft ?? 0,
      stepsPerSecond: this.stepsPerSecond(), learningStepsPerSecond: this.learningRate,
      recentReturn: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null, recentEpisodes: recent.length,
      etaSeconds: eta?.seconds ?? null, etaAssumed: eta?.assumed ?? false,
    };
  }

  private width(): number {
    const columns = this.options.columns?.() ?? 80;
    return Math.max(20, columns - 1); // the last column would wrap on some terminals
  }

  private stamp(): string {
    return `${(this.options.clock?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z')} `;
  }

  /**
   * Seconds left: the warm-up at its own rate, the rest at the learning rate (measured, or assumed: then `assumed`).
   * null during a warm-up not yet timed.
   */
  eta(state: ProgressState): { seconds: number; assumed: boolean } | null {
    const rate = this.stepsPerSecond();
    const left = state.runTarget - state.runSteps;
    const warmupLeft = Math.min(left, state.warmupStepsLeft ?? 0);
    const learning = this.learningRate ?? this.options.assumedLearningStepsPerSecond ?? ASSUMED_LEARNING_STEPS_PER_SECOND;
    if (warmupLeft <= 0) {
      if (rate && rate > 0) return { seconds: left / rate, assumed: false };
      return { seconds: left / learning, assumed: this.learningRate === null }; // learning, not yet timed again
    }
    if (!rate || rate <= 0) return null;
    return { seconds: warmupLeft / rate + (left - warmupLeft) / learning, assumed: this.learningRate === null };
  }

  /** Steps per second over the recent window, null until two samples exist. */
  stepsPerSecond(): number | null {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    return last.t > first.t ? (last.steps - first.steps) / (last.t - first.t) : null;
  }

  /**
   * The progress text. With `width`, fields are dropped, least useful first (ε, recent return, steps/s, steps),
   * until it fits, and what still does not fit is cut: a terminal line must never wrap.
   */
  format(state: ProgressState, width = Infinity): string {
    const sps = this.stepsPerSecond();
    const recent = state.recentReturns.slice(-10);
    const mean = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null;
    const eta = this.eta(state);
    const warmup = (state.warmupStepsLeft ?? 0) > 0;
    // [text, priority]: the lower, the sooner dropped.
    const fields: Array<[string, number]> = [
      [`iter ${state.iteration + 1}/${state.iterations} ${state.phase}`, 9],
      [`${formatCount(state.phaseSteps)}/${formatCount(state.phaseTarget)} steps${warmup ? ' (warm-up)' : ''}`, 7],
      [`${sps === null ? '?' : sps.toFixed(1)} steps/s`, 5],
      [`ε ${state.epsilon.toFixed(3)}`, 3],
      [`return ${mean === null ? '-' : mean.toFixed(1)} (last ${recent.length})`, 4],
      [`ETA ${eta === null ? '?' : `${eta.assumed ? '~' : ''}${formatDuration(eta.seconds)}`}`, 8],
    ];
    const kept = [...fields];
    const text = () => kept.map(([f]) => f).join(' | ');
    while (text().length > width && kept.length > 1) {
      const lowest = kept.reduce((lo, f, i) => (f[1] < kept[lo][1] ? i : lo), 0);
      kept.splice(lowest, 1);
    }
    const line = text();
    return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
  }

  /** A permanent line; on a terminal the live line is cleared first and redrawn by the next update. */
  line(text: string): void {
    if (this.live) {
      this.options.write('\r\x1b[K');
      this.live = false;
      this.lastDraw = -Infinity;
    }
    this.options.write(`${this.options.tty ? '' : this.stamp()}${text}\n`);
  }

  /** Forget the rate window (e.g. after an evaluation phase, whose speed differs from training). */
  resetWindow(): void {
    this.samples.length = 0;
  }
}

