// The live view of a sweep run on this machine, for the person watching it: on a terminal a block redrawn in place
// — one header line (runs done / running / queued / failed, the sweep's ETA) and one line per running run (its id,
// then the fields of atari's live line: iteration, steps, steps/s, recent return, its own ETA) — every line fitted
// to the terminal's width, so nothing wraps and the screen never scrolls: a run line shortens its counts and its id
// (never the id's hash) before it drops a field, and drops the recent return last. The driver's own lines (a run
// started, ended) print above the block, broken at words to the width. Off a terminal (a log file, nohup) a plain
// timestamped summary line every `plainEverySeconds` instead, and the driver's lines unbroken.
//
// Everything shown comes from the sweep's files (sweepStatus: summaries, locks, each run's progress.json), the same
// source as `--status`, so the view and --status never disagree. The view runs on a timer inside the driver: a
// status it cannot read is a line in the view, never an exception that would end the driver and its queued runs.
import { formatDuration } from '../format.ts';
import { fitFields, wrapWords, type Field } from '../run/terminal_text.ts';
import type { SweepPlan } from './plan_file.ts';
import { describeLive, liveSnapshotFields, sweepStatus, type RunStatus, type SweepStatus } from './status.ts';

export interface LiveViewOptions {
  sweepDir: string;
  plan: SweepPlan;
  tty: boolean;
  write: (text: string) => void;
  /** The terminal's width (process.stdout.columns); default 80. */
  columns?: () => number | undefined;
  /** Redraw interval on a terminal (default 2 s: the status reads every run's files). */
  everySeconds?: number;
  /** Summary line interval off a terminal (default 600 s). */
  plainEverySeconds?: number;
  now?: () => number;
}

/** The header: how many runs are in each state and when the sweep should end. */
export function summaryLine(status: SweepStatus): string {
  const c = status.counts;
  const queued = c.pending + c.interrupted;
  const parts = [`${c.done} done`, `${c.running} running`, `${queued} queued`];
  if (c.failed > 0) parts.push(`${c.failed} failed`);
  if (c.diverged > 0) parts.push(`${c.diverged} diverged`);
  if (c.corrupt > 0) parts.push(`${c.corrupt} corrupt`);
  const eta = status.etaSeconds === null ? 'ETA ?' : `ETA ${formatDuration(status.etaSeconds)}`;
  return `sweep: ${parts.join(' · ')} | ${eta}`;
}

/** The header when the sweep's files could not be read this time (the runs go on; the next redraw tries again). */
function unreadable(error: unknown): string {
  return `sweep: status unreadable: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
}

/** Cut to `width` characters (a terminal line that wraps would scroll the screen at every redraw). */
function fit(line: string, width: number): string {
  return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
}

/**
 * A run id as a field of its line: `pong-adam-l2-wd1e-3-s0-<hash>`. Before any other field is dropped, its game
 * shortens (the running runs of a sweep mostly share it: runs go game by game); only once steps and steps/s are
 * gone does the rest shorten from the left, down to the hash, which alone tells the runs apart and is never cut.
 */
export function idField(id: string): Field {
  const match = /^([^-]+)(-.*)(-[0-9a-f]{8})$/.exec(id);
  if (!match) return { forms: [id], dropAt: Infinity };
  const [, game, config, hash] = match;
  const forms = [id];
  for (let k = game.length - 1; k >= 0; k--) forms.push(`${game.slice(0, k)}…${config}${hash}`);
  const mild = forms.length - 1;
  for (let k = config.length - 1; k >= 0; k--) forms.push(`…${config.slice(config.length - k)}${hash}`);
  return { forms, shortenAt: forms.slice(1).map((_, j) => (j < mild ? 4 : 6.5)), dropAt: Infinity };
}

/** One running run's line of the block, at most `width` characters. */
export function runLine(r: RunStatus, width: number, now = Date.now()): string {
  const id = idField(r.run.id);
  const join = ([first, ...rest]: string[]) => `  ${first}  ${rest.join(' | ')}`;
  // No snapshot to show (not written yet, or damaged): status.ts says why, cut if need be.
  if (!r.live) return fitFields([id, { forms: [describeLive(r, now)], dropAt: Infinity }], width, join);
  return fitFields([id, ...liveSnapshotFields(r.live, now)], width, join);
}

export class SweepLiveView {
  private drawn = 0;
  private timer: NodeJS.Timeout | null = null;
  private lastPlain: number;
  private readonly now: () => number;

  constructor(private readonly options: LiveViewOptions) {
    this.now = options.now ?? Date.now;
    this.lastPlain = this.now();
  }

  /** The block's lines, each at most `width` characters: the header, then one line per running run. */
  render(width: number): string[] {
    const now = this.now();
    let lines: string[];
    try {
      const status = sweepStatus(this.options.sweepDir, this.options.plan, now);
      lines = [fit(summaryLine(status), width)];
      for (const r of status.runs.filter((x) => x.state === 'running')) lines.push(runLine(r, width, now));
    } catch (error) {
      lines = [fit(unreadable(error), width)];
    }
    return lines;
  }

  start(): void {
    if (this.timer) return;
    const every = this.options.tty ? (this.options.everySeconds ?? 2) : Math.min(this.options.plainEverySeconds ?? 600, 60);
    this.timer = setInterval(() => this.tick(), every * 1000);
    this.timer.unref(); // never what keeps the driver alive
    this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  /** A permanent line (the driver's start/done messages): above the block, broken at words, on a terminal. */
  line(text: string): void {
    this.clear();
    this.options.write(`${this.options.tty ? wrapWords(text, this.width()) : text}\n`);
    if (this.timer) this.draw();
  }

  tick(): void {
    if (this.options.tty) {
      this.clear();
      this.draw();
    } else if (this.now() - this.lastPlain >= (this.options.plainEverySeconds ?? 600) * 1000) {
      this.lastPlain = this.now();
      let line: string;
      try {
        line = summaryLine(sweepStatus(this.options.sweepDir, this.options.plan, this.now()));
      } catch (error) {
        line = unreadable(error);
      }
      this.options.write(`${new Date(this.now()).toISOString().replace(/\.\d+Z$/, 'Z')} ${line}\n`);
    }
  }

  private width(): number {
    return Math.max(20, (this.options.columns?.() ?? 80) - 1); // the last column would wrap on some terminals
  }

  private draw(): void {
    if (!this.options.tty) return;
    const lines = this.render(this.width());
    this.options.write(`${lines.join('\n')}\n`);
    this.drawn = lines.length;
  }

  /** Removes the block drawn last (cursor up over it, clear to the end of the screen). */
  private clear(): void {
    if (!this.options.tty || this.drawn === 0) return;
    this.options.write(`\x1b[${this.drawn}A\r\x1b[J`);
    this.drawn = 0;
  }
}
