// Progress of a run for a person watching: on a terminal one live line rewritten in place (iteration, steps,
// steps/s over a recent window, ε, recent returns, ETA); otherwise (a log file, Slurm, CI) the same content as a
// plain line every `plainEverySeconds`. Permanent lines (iteration results, warnings) go through line().

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
}

export interface ProgressOptions {
  tty: boolean;
  write: (text: string) => void;
  plainEverySeconds?: number;
  /** Window of the steps/s estimate. */
  windowSeconds?: number;
  now?: () => number;
}

export class ProgressReporter {
  private readonly samples: Array<{ t: number; steps: number }> = [];
  private lastDraw = -Infinity;
  private live = false;
  private readonly now: () => number;
  private readonly every: number;
  private readonly window: number;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? (() => performance.now() / 1000);
    this.every = options.tty ? 0.5 : (options.plainEverySeconds ?? 60);
    this.window = options.windowSeconds ?? 30;
  }

  /** Cheap enough to call every step: draws at most every 0.5 s (terminal) or plainEverySeconds. */
  update(state: ProgressState): void {
    const t = this.now();
    if (t - this.lastDraw < this.every) return;
    this.lastDraw = t;
    this.samples.push({ t, steps: state.runSteps });
    while (this.samples.length > 2 && t - this.samples[1].t >= this.window) this.samples.shift();
    const text = this.format(state);
    if (this.options.tty) {
      this.options.write(`\r\x1b[K${text}`);
      this.live = true;
    } else {
      this.options.write(`${text}\n`);
    }
  }

  /** Steps per second over the recent window, null until two samples exist. */
  stepsPerSecond(): number | null {
    if (this.samples.length < 2) return null;
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    return last.t > first.t ? (last.steps - first.steps) / (last.t - first.t) : null;
  }

  format(state: ProgressState): string {
    const sps = this.stepsPerSecond();
    const recent = state.recentReturns.slice(-10);
    const mean = recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null;
    const eta = sps && sps > 0 ? formatDuration((state.runTarget - state.runSteps) / sps) : '?';
    return [
      `iter ${state.iteration + 1}/${state.iterations} ${state.phase}`,
      `${formatCount(state.phaseSteps)}/${formatCount(state.phaseTarget)} steps`,
      `${sps === null ? '?' : sps.toFixed(1)} steps/s`,
      `ε ${state.epsilon.toFixed(3)}`,
      `return ${mean === null ? '-' : mean.toFixed(1)} (last ${recent.length})`,
      `ETA ${eta}`,
    ].join(' | ');
  }

  /** A permanent line; on a terminal the live line is cleared first and redrawn by the next update. */
  line(text: string): void {
    if (this.live) {
      this.options.write('\r\x1b[K');
      this.live = false;
      this.lastDraw = -Infinity;
    }
    this.options.write(`${text}\n`);
  }

  /** Forget the rate window (e.g. after an evaluation phase, whose speed differs from training). */
  resetWindow(): void {
    this.samples.length = 0;
  }
}

export function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  return `${m}m${String(s % 60).padStart(2, '0')}s`;
}
