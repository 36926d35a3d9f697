// Progress of a run for a person watching: on a terminal one live line rewritten in place (iteration, steps,
// steps/s over a recent window, ε, recent returns, ETA), fitted to the terminal's width (a wrapped line would
// scroll the screen at every redraw): counts are shortened first, then fields dropped, the recent return last;
// otherwise (a log file, Slurm, CI) the same content as a plain, timestamped line every `plainEverySeconds`.
// Permanent lines (the run header, iteration results, warnings) go through line(): on a terminal broken at words to
// its width, off one a single timestamped line each (scripts grep the logs).
//
// The ETA: the warm-up (no learning, ~1,000 steps/s), the learning phase (~50 steps/s) and evaluation (batched,
// faster) differ many-fold, so each is timed on its own. The learning and evaluation rates are averaged over the
// last few minutes (SmoothedRate): the steps/s of a 30-s window swings with whatever else the machine does, and an
// ETA of weeks taken from it swung 17d ↔ 31d within minutes. Until a rate has been measured that long, the ETA is
// marked `~` (at first it rests on an assumed rate).

import { formatCount, formatDuration } from '../format.ts';
import { compactCount, fitFields, wrapWords, type Field } from './terminal_text.ts';

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

/** Time constant of the learning and evaluation rates behind the ETA: long enough to even out minutes of noise. */
export const SMOOTHING_SECONDS = 300;

/**
 * Steps per second over the time measured, each second weighted e^(-age/τ): an exponential moving average that,
 * unlike one of per-interval rates, weighs an interval by its length and needs no start value.
 */
class SmoothedRate {
  private steps = 0;
  private seconds = 0;
  /** Seconds measured in all; the rate is settled once this reaches τ. */
  private measured = 0;

  constructor(private readonly tau: number) {}

  add(steps: number, seconds: number): void {
    const keep = Math.exp(-seconds / this.tau);
    this.steps = this.steps * keep + steps;
    this.seconds = this.seconds * keep + seconds;
    this.measured += seconds;
  }

  get rate(): number | null {
    return this.seconds > 0 ? this.steps / this.seconds : null;
  }

  get settled(): boolean {
    return this.measured >= this.tau;
  }
}

/** What a run says about itself while it trains (RUN_DIR/progress.json; docs/run-format.md). */
export interface ProgressSnapshot
  extends Pick<ProgressState, 'iteration' | 'iterations' | 'phase' | 'phaseSteps' | 'phaseTarget' | 'runSteps' | 'runTarget'> {
  updatedAt: string;
  warmupStepsLeft: number;
  /** Over the recent window (null until measured). */
  stepsPerSecond: number | null;
  /** The learning-phase rate, averaged over the last few minutes (null until measured). */
  learningStepsPerSecond: number | null;
  /** Mean of the last (up to 10) finished episodes' returns, and how many that is. */
  recentReturn: number | null;
  recentEpisodes: number;
  /** The run's own estimate of its remaining wall time (null during an untimed warm-up). */
  etaSeconds: number | null;
  /** The ETA rests on a rate not yet measured for SMOOTHING_SECONDS (at first, the assumed one): shown `~`. */
  etaAssumed: boolean;
}

/** What a live line shows of a run: atari's line and the sweep's view show the same fields in the same words. */
export interface LiveFigures {
  iteration: number;
  iterations: number;
  phase: 'train' | 'eval';
  phaseSteps: number;
  phaseTarget: number;
  warmup: boolean;
  stepsPerSecond: number | null;
  recentReturn: number | null;
  recentEpisodes: number;
  /** `ETA …` (etaText), or what stands in for it (the sweep's "no progress for …"). */
  eta: string;
  epsilon?: number;
}

/** `ETA 3h01m`, `ETA ~17d8h` (a rate not yet measured long enough), `ETA ?` (not yet timed). */
export function etaText(eta: { seconds: number; assumed: boolean } | null): string {
  return `ETA ${eta === null ? '?' : `${eta.assumed ? '~' : ''}${formatDuration(eta.seconds)}`}`;
}

/**
 * The fields of a live line, for fitFields. The recent return is the number a researcher watches: it is the last
 * field dropped (only the iteration outlasts it), after ε, steps/s, steps and ETA, and every count and label is
 * shortened before any of these is dropped (ranks: see fitFields; a sweep's run id ranks among them, live_view.ts).
 */
export function liveFields(f: LiveFigures): Field[] {
  const warmup = f.warmup ? ' (warm-up)' : '';
  const sps = f.stepsPerSecond;
  const mean = f.recentReturn === null ? '-' : f.recentReturn.toFixed(1);
  const iteration = `iter ${f.iteration + 1}/${f.iterations}`;
  const count = `${compactCount(f.phaseSteps)}/${compactCount(f.phaseTarget)}`;
  return [
    { forms: [`${iteration} ${f.phase}`, `${iteration}${f.phase === 'eval' ? ' eval' : ''}`], shortenAt: 3, dropAt: 9 },
    { forms: [`${formatCount(f.phaseSteps)}/${formatCount(f.phaseTarget)} steps${warmup}`, `${count} steps${warmup}`, `${count}${warmup}`], shortenAt: [2, 3], dropAt: 6 },
    { forms: sps === null ? ['? steps/s', '?/s'] : [`${sps.toFixed(1)} steps/s`, `${sps.toFixed(1)}/s`, `${Math.round(sps)}/s`], shortenAt: 2, dropAt: 5 },
    ...(f.epsilon === undefined ? [] : [{ forms: [`ε ${f.epsilon.toFixed(3)}`], dropAt: 4.5 }]),
    { forms: [`return ${mean} (last ${f.recentEpisodes})`, `return ${mean}`], shortenAt: 3, dropAt: 8 },
    { forms: [f.eta], dropAt: 7 },
  ];
}

export class ProgressReporter {
  private readonly samples: Array<{ t: number; steps: number }> = [];
  /** Whether the samples are of the warm-up; a change of phase restarts the window. */
  private samplesInWarmup: boolean | null = null;
  /** The ETA's rates (kept through warm-ups and the other phase), and the sample they were last fed. */
  private readonly learning: SmoothedRate;
  private readonly evaluation: SmoothedRate;
  private previous: { t: number; steps: number; timed: 'learning' | 'evaluation' | null } | null = null;
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
    this.learning = new SmoothedRate(SMOOTHING_SECONDS);
    this.evaluation = new SmoothedRate(SMOOTHING_SECONDS);
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
    // Every interval between two samples of the same timed phase feeds that phase's rate, pauses within it (a
    // checkpoint written) included: they are part of the wall time left.
    const timed = state.phase === 'eval' ? 'evaluation' : warmup ? null : 'learning';
    const previous = this.previous;
    this.previous = { t, steps: state.runSteps, timed };
    if (timed !== null && previous?.timed === timed && t > previous.t && state.runSteps >= previous.steps) {
      this[timed].add(state.runSteps - previous.steps, t - previous.t);
    }
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
      stepsPerSecond: this.stepsPerSecond(), learningStepsPerSecond: this.learning.rate,
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
   * Seconds left: the warm-up at its own (recent) rate, the other training steps at the smoothed learning rate (the
   * assumed one until measured), evaluation steps at the smoothed evaluation rate (the learning rate until measured).
   * `assumed` while a rate it rests on has been measured for less than the smoothing's time constant. null during a
   * warm-up not yet timed, and when no step was made for as long as the rate remembers.
   */
  eta(state: ProgressState): { seconds: number; assumed: boolean } | null {
    const left = Math.max(0, state.runTarget - state.runSteps);
    // Evaluation steps left: this iteration's (if not yet done) and the later iterations' (the rest of an iteration's
    // steps beside its training phase).
    const perIteration = state.runTarget / state.iterations;
    const evalPerIteration = Math.max(0, state.phase === 'eval' ? state.phaseTarget : perIteration - state.phaseTarget);
    const later = state.iterations - state.iteration - 1;
    const evalLeft = Math.min(left, state.phase === 'eval' ? Math.max(0, state.phaseTarget - state.phaseSteps) + later * evalPerIteration : (later + 1) * evalPerIteration);
    const warmupLeft = Math.min(left - evalLeft, state.warmupStepsLeft ?? 0);
    const learningLeft = left - evalLeft - warmupLeft;
    const learning = this.learning.rate ?? this.options.assumedLearningStepsPerSecond ?? ASSUMED_LEARNING_STEPS_PER_SECOND;
    const time = (steps: number, rate: number) => (steps > 0 ? steps / rate : 0);
    let seconds = time(learningLeft, learning) + time(evalLeft, this.evaluation.rate ?? learning);
    if (warmupLeft > 0) {
      const rate = this.samplesInWarmup ? this.stepsPerSecond() : null;
      if (!rate || rate <= 0) return null;
      seconds += time(warmupLeft, rate);
    }
    if (!Number.isFinite(seconds)) return null;
    return { seconds, assumed: (learningLeft > 0 && !this.learning.settled) || (evalLeft > 0 && !this.evaluation.settled) };
  }

  /** Steps per second over the recent window, null until two samples exist. */
  stepsPerSecond(): number | null {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    return last.t > first.t ? (last.steps - first.steps) / (last.t - first.t) : null;
  }

  /** The progress text; with `width`, fitted to it (liveFields, fitFields): a terminal line must never wrap. */
  format(state: ProgressState, width = Infinity): string {
    const recent = state.recentReturns.slice(-10);
    return fitFields(liveFields({
      iteration: state.iteration, iterations: state.iterations, phase: state.phase, phaseSteps: state.phaseSteps,
      phaseTarget: state.phaseTarget, warmup: (state.warmupStepsLeft ?? 0) > 0, stepsPerSecond: this.stepsPerSecond(),
      recentReturn: recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null, recentEpisodes: recent.length,
      eta: etaText(this.eta(state)), epsilon: state.epsilon,
    }), width);
  }

  /**
   * A permanent line; on a terminal the live line is cleared first (and redrawn by the next update), and the text is
   * broken at words to the terminal's width. Off a terminal it stays one line, whatever its length.
   */
  line(text: string): void {
    if (this.live) {
      this.options.write('\r\x1b[K');
      this.live = false;
      this.lastDraw = -Infinity;
    }
    this.options.write(`${this.options.tty ? wrapWords(text, this.width()) : `${this.stamp()}${text}`}\n`);
  }

  /** Forget the rate window (e.g. after an evaluation phase, whose speed differs from training). */
  resetWindow(): void {
    this.samples.length = 0;
  }
}

