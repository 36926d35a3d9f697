// The live progress line: never wider than the terminal and the recent return the last field to go, timestamped
// off a terminal; permanent lines broken at words on a terminal only; an ETA that times the warm-up, learning and
// evaluation apart (they differ many-fold in speed) and is smoothed over minutes, marked `~` until it has settled.
import { describe, expect, it } from 'vitest';
import { ASSUMED_LEARNING_STEPS_PER_SECOND, ProgressReporter, SMOOTHING_SECONDS, type ProgressState } from '../src/run/progress.ts';
import { compactCount, wrapWords } from '../src/run/terminal_text.ts';

const state = (runSteps: number, extra: Partial<ProgressState> = {}): ProgressState => ({
  iteration: 0, iterations: 200, phase: 'train', phaseSteps: runSteps, phaseTarget: 250_000,
  runSteps, runTarget: 50_000_000, epsilon: 0.9876, recentReturns: [1, 2, 3], ...extra,
});

/** A fixed pseudo-random sequence in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A reporter on a fake clock; `advance` moves it and calls update. */
function reporter(options: { tty: boolean; columns?: number }) {
  let t = 0;
  const out: string[] = [];
  const r = new ProgressReporter({
    tty: options.tty, write: (s) => out.push(s), plainEverySeconds: 1, now: () => t,
    columns: () => options.columns, clock: () => new Date(Date.UTC(2026, 11, 2, 7, 24, 0, 123)),
  });
  return { r, out, advance: (seconds: number, s: ProgressState) => { t += seconds; r.update(s); } };
}

/** Which fields a live line shows, by their start: the order in which they are dropped, least useful first. */
export const OPTIONAL_FIELDS: Array<[string, RegExp]> = [
  ['ε', /(^|\| )ε /], ['steps/s', /(^|\| )[\d.?]+(\/s| steps\/s)( |$)/], ['steps', /(^|\| )[\d.]+[kM]?\/[\d.]+[kM]?( steps)?( \(warm-up\))?( |$)/],
  ['ETA', /(^|\| )ETA /], ['return', /(^|\| )return /],
];

/** The mechanism, whatever the width: never wider; a field shows only if every field dropped after it does, the return last. */
export function expectFitted(line: string, width: number): void {
  expect(line.length, line).toBeLessThanOrEqual(width);
  const shown = OPTIONAL_FIELDS.map(([, pattern]) => pattern.test(line));
  for (let i = 0; i < shown.length; i++) if (shown[i]) expect(shown.slice(i), `${OPTIONAL_FIELDS[i][0]} without a greater field: ${line}`).not.toContain(false);
}

/** Learning at 40–60 steps/s for a few minutes into iteration 12 of the dopamine preset: the numbers a real run shows. */
function midRun() {
  const { r, advance } = reporter({ tty: true, columns: 80 });
  const at = (steps: number) => state(steps, { iteration: 11, phaseSteps: steps - 11 * 250_000, epsilon: 0.01, recentReturns: [12, 13, -21, 14, 12, 13, 12, 11, 13, 15] });
  let steps = 2_875_300;
  for (let i = 0; i < 70; i++) advance(5, at((steps += 200 + (i % 3) * 50)));
  return { r, now: at(steps) };
}

describe('progress line', () => {
  it('at 80, 60 and 40 columns (and any other) keeps the recent return whenever it keeps anything beside the iteration', () => {
    const { r, now } = midRun();
    const full = r.format(now);
    expect(full).toMatch(/^iter 12\/200 train \| 142\.8k\/250\.0k steps \| 50\.0 steps\/s \| ε 0\.010 \| return 9\.4 \(last 10\) \| ETA \d+d\d+h$/); // the ETA: see the tests below
    expect(r.format(now, 200)).toBe(full); // wide: everything, in full
    // 80 columns: counts and labels shortened, nothing dropped.
    expect(r.format(now, 79)).toMatch(/^iter 12\/200 \| 143k\/250k \| \d+\.\d\/s \| ε 0\.010 \| return 9\.4( \(last 10\))? \| ETA /);
    expect(r.format(now, 59)).toMatch(/^iter 12\/200 \| 143k\/250k \| \d+(\.\d)?\/s \| return 9\.4 \| ETA \S+$/); // ε dropped first
    expect(r.format(now, 39)).toMatch(/^iter 12\/200 \| return 9\.4 \| ETA \S+$/);
    for (let width = 8; width <= 120; width++) expectFitted(r.format(now, width), width);
    expect(r.format(now, 25)).toBe('iter 12/200 | return 9.4');
  });

  it('shortens step counts the same way everywhere: 4 characters at most', () => {
    expect([950, 5000, 7500, 12_345, 125_300, 999_499, 999_500, 2_875_300, 50_000_000].map(compactCount))
      .toEqual(['950', '5k', '7.5k', '12k', '125k', '999k', '1M', '2.9M', '50M']);
  });

  it('on a terminal every redraw fits the width it is given', () => {
    const { out, advance } = reporter({ tty: true, columns: 60 });
    for (let i = 1; i <= 5; i++) advance(1, state(100_000 + 50 * i));
    for (const text of out) expect(text.replace('\r\x1b[K', '').length).toBeLessThanOrEqual(59);
  });

  it('off a terminal: plain full lines with a UTC timestamp, permanent lines too', () => {
    const { r, out, advance } = reporter({ tty: false });
    advance(1, state(10));
    r.line('iteration 1/200: train return 1.00');
    // Learning, not yet timed: the assumed learning rate, marked ~ (50M steps at 45 steps/s: 12d20h).
    expect(out[0]).toMatch(/^2026-12-02T07:24:00Z iter 1\/200 train \| 10\/250\.0k steps \| \? steps\/s \| ε 0\.988 \| return 2\.0 \(last 3\) \| ETA ~12d20h\n$/);
    expect(out[1]).toBe('2026-12-02T07:24:00Z iteration 1/200: train return 1.00\n');
  });

  it('ETA in the warm-up: the warm-up at its own rate, the rest at the assumed learning rate, marked ~', () => {
    const { r, advance } = reporter({ tty: false });
    const warm = (steps: number) => state(steps, { runTarget: 500_000, warmupStepsLeft: 20_000 - steps });
    advance(1, warm(0));
    advance(1, warm(1_000)); // 1,000 steps/s in the warm-up
    const eta = r.eta(warm(1_000))!;
    expect(eta.assumed).toBe(true);
    expect(eta.seconds).toBeCloseTo(19 + 480_000 / ASSUMED_LEARNING_STEPS_PER_SECOND, 6);
    expect(r.format(warm(1_000))).toMatch(/\(warm-up\) .*ETA ~/);
  });

  it('once learning has been measured, its rate is used, also for the warm-up of a later phase; `~` until measured for the smoothing time', () => {
    const { r, advance } = reporter({ tty: false });
    let steps = 20_000;
    advance(1, state(steps, { runTarget: 500_000 }));
    for (let i = 0; i < 10; i++) advance(1, state((steps += 50), { runTarget: 500_000 })); // 50 steps/s, learning
    expect(r.eta(state(steps, { runTarget: 500_000 }))).toEqual({ seconds: (500_000 - steps) / 50, assumed: true }); // 10 s measured
    for (let t = 10; t < SMOOTHING_SECONDS; t++) advance(1, state((steps += 50), { runTarget: 500_000 }));
    expect(r.eta(state(steps, { runTarget: 500_000 }))!.seconds).toBeCloseTo((500_000 - steps) / 50, 6);
    expect(r.eta(state(steps, { runTarget: 500_000 }))!.assumed).toBe(false);
    expect(r.format(state(steps, { runTarget: 500_000 }))).toMatch(/ETA \d+h\d+m$/); // no `~` once settled
    // A new warm-up (a resumed run refilling its replay): the learning rate stays the measured 50.
    advance(1, state(steps + 50, { runTarget: 500_000, warmupStepsLeft: 5_000 }));
    advance(1, state(steps + 1_050, { runTarget: 500_000, warmupStepsLeft: 4_000 }));
    const again = r.eta(state(steps + 1_050, { runTarget: 500_000, warmupStepsLeft: 4_000 }))!;
    expect(again.assumed).toBe(false);
    expect(again.seconds).toBeCloseTo(4_000 / 1_000 + (500_000 - steps - 1_050 - 4_000) / 50, 6);
  });

  it('a noisy rate (19–34 steps/s, changing every 30 s) moves the ETA by under 15% within 2.5 minutes', () => {
    // The swing reported: 17d ↔ 31d within 2.5 minutes, an ETA taken from the last 30 s.
    const random = mulberry32(12345);
    const { r, advance } = reporter({ tty: false });
    let steps = 5_000_000;
    let rate = 26;
    const etas: Array<{ t: number; seconds: number }> = [];
    for (let t = 0; t < 3 * 3600; t += 5) {
      if (t % 30 === 0) rate = 19 + 15 * random();
      advance(5, state((steps += Math.round(rate * 5 * (0.8 + 0.4 * random())))));
      if (t >= SMOOTHING_SECONDS) etas.push({ t, seconds: r.eta(state(steps))!.seconds });
    }
    expect(etas.length).toBeGreaterThan(1000);
    let swing = 0;
    let error = 0;
    for (const [i, a] of etas.entries()) {
      for (let j = i + 1; j < etas.length && etas[j].t - a.t <= 150; j++) swing = Math.max(swing, Math.abs(etas[j].seconds / a.seconds - 1));
      error = Math.max(error, Math.abs(a.seconds / ((50_000_000 - 5_000_000) / 26.5) - 1));
    }
    expect(swing).toBeLessThan(0.15);
    expect(error).toBeLessThan(0.25); // and near the truth (the mean rate, 26.5 steps/s)
  });

  it('evaluation steps are timed at the evaluation rate, once measured', () => {
    const { r, advance } = reporter({ tty: false });
    // 2 iterations of 1,000 training (10 steps/s) and 500 evaluation steps (100 steps/s).
    const at = (iteration: number, phase: 'train' | 'eval', phaseSteps: number): ProgressState => ({
      ...state(0), iteration, iterations: 2, phase, phaseSteps, phaseTarget: phase === 'train' ? 1_000 : 500,
      runSteps: iteration * 1_500 + (phase === 'train' ? 0 : 1_000) + phaseSteps, runTarget: 3_000,
    });
    for (let s = 0; s <= 1_000; s += 10) advance(1, at(0, 'train', s));
    expect(r.eta(at(0, 'train', 1_000))!.seconds).toBeCloseTo(1_000 / 10 + 1_000 / 10, 6); // evaluation: not yet timed
    for (let s = 0; s <= 500; s += 100) advance(1, at(0, 'eval', s));
    const eta = r.eta(at(0, 'eval', 500))!;
    expect(eta.seconds).toBeCloseTo(1_000 / 10 + 500 / 100, 6);
    expect(eta.assumed).toBe(true); // each rate measured for less than the smoothing time
  });
});

describe('permanent lines', () => {
  it('on a terminal: broken at words to its width with a hanging indent; a command to paste is never split', () => {
    const out: string[] = [];
    const r = new ProgressReporter({ tty: true, write: (s) => out.push(s), columns: () => 40 });
    const hint = "stopped by SIGINT: checkpoint written partway through iteration 3. Resume with the same command (or: npm run atari -- --resume --out 'results/runs/my run')";
    r.line(hint);
    const lines = out.join('').replace(/\n$/, '').split('\n');
    expect(lines.length).toBeGreaterThan(3);
    expect(lines[0]).toBe('stopped by SIGINT: checkpoint written');
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}\S/);
    for (const line of lines) if (!line.includes('npm run')) expect(line.length).toBeLessThanOrEqual(39);
    expect(lines).toContain("  npm run atari -- --resume --out 'results/runs/my run')");
    expect(lines.map((l) => l.trim()).join(' ')).toBe(hint); // nothing lost, no word split
  });

  it('off a terminal: one line each, however long (scripts grep the logs)', () => {
    const out: string[] = [];
    const r = new ProgressReporter({ tty: false, write: (s) => out.push(s), columns: () => 40, clock: () => new Date(0) });
    const long = `run directory: ${'x'.repeat(30)} ${'word '.repeat(30)}`;
    r.line(long);
    expect(out).toEqual([`1970-01-01T00:00:00Z ${long}\n`]);
  });

  it('wrapWords: any text, any width: words kept whole and in order, lines within the width but for a lone long unit', () => {
    const random = mulberry32(7);
    for (let n = 0; n < 200; n++) {
      const words = Array.from({ length: 1 + Math.floor(random() * 40) }, () => 'abcdefghij'.slice(0, 1 + Math.floor(random() * 10)).repeat(1 + Math.floor(random() * 3)));
      const text = `${random() < 0.3 ? '  ' : ''}${words.join(' ')}`;
      const width = 10 + Math.floor(random() * 70);
      const lines = wrapWords(text, width).split('\n');
      expect(lines.join(' ').split(/ +/).filter(Boolean)).toEqual(words);
      const indent = text.startsWith('  ') ? 4 : 2;
      for (const [i, line] of lines.entries()) {
        if (i > 0) expect(line.slice(0, indent).trim()).toBe('');
        if (line.trim().includes(' ')) expect(line.length).toBeLessThanOrEqual(width);
      }
    }
    expect(wrapWords('short line\n  and an indented one', 80)).toBe('short line\n  and an indented one');
  });
});
