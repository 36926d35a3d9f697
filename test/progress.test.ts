// The live progress line: never wider than the terminal, timestamped off a terminal, and an ETA that times the
// warm-up and the learning phase apart (they differ ~20-fold in speed).
import { describe, expect, it } from 'vitest';
import { ASSUMED_LEARNING_STEPS_PER_SECOND, ProgressReporter, type ProgressState } from '../src/run/progress.ts';

const state = (runSteps: number, extra: Partial<ProgressState> = {}): ProgressState => ({
  iteration: 0, iterations: 200, phase: 'train', phaseSteps: runSteps, phaseTarget: 250_000,
  runSteps, runTarget: 50_000_000, epsilon: 0.9876, recentReturns: [1, 2, 3], ...extra,
});

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

describe('progress line', () => {
  it('fits an 80-column terminal: drops ε, then the return, then steps/s, then steps; keeps iteration and ETA', () => {
    const { r, advance } = reporter({ tty: true, columns: 80 });
    advance(1, state(100_000));
    advance(1, state(100_050));
    const full = r.format(state(100_050));
    expect(full.length).toBeGreaterThan(79); // ~95 characters: it would wrap
    const fitted = r.format(state(100_050), 79);
    expect(fitted.length).toBeLessThanOrEqual(79);
    expect(fitted).toMatch(/^iter 1\/200 train \| 100\.0k\/250\.0k steps \| .*ETA /);
    expect(fitted).not.toContain('ε');
    const narrow = r.format(state(100_050), 40);
    expect(narrow.length).toBeLessThanOrEqual(40);
    expect(narrow).toContain('ETA');
    expect(r.format(state(100_050), 20).length).toBeLessThanOrEqual(20); // cut, never wrapped
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

  it('once learning has been measured, its rate is used, also for the warm-up of a later phase', () => {
    const { r, advance } = reporter({ tty: false });
    for (let i = 0; i < 4; i++) advance(1, state(20_000 + 50 * i, { runTarget: 500_000 })); // 50 steps/s, learning
    const eta = r.eta(state(20_150, { runTarget: 500_000 }))!;
    expect(eta).toEqual({ seconds: (500_000 - 20_150) / 50, assumed: false });
    // A new warm-up (a resumed run refilling its replay): the learning rate stays the measured 50.
    advance(1, state(20_200, { runTarget: 500_000, warmupStepsLeft: 5_000 }));
    advance(1, state(21_200, { runTarget: 500_000, warmupStepsLeft: 4_000 }));
    const again = r.eta(state(21_200, { runTarget: 500_000, warmupStepsLeft: 4_000 }))!;
    expect(again.assumed).toBe(false);
    expect(again.seconds).toBeCloseTo(4_000 / 1_000 + (500_000 - 21_200 - 4_000) / 50, 6);
  });
});
