// The sweep's live view: one header and one line per running run, never wider than the terminal (a run line keeps its
// id's hash and its recent return longest, the fields in atari's words), redrawn in place with the driver's lines
// above it (broken at words); off a terminal a plain timestamped summary now and then; never an exception.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ProgressReporter, type ProgressSnapshot, type ProgressState } from '../src/run/progress.ts';
import { RunDirectory } from '../src/run/run_directory.ts';
import { runLine, SweepLiveView } from '../src/sweep/live_view.ts';
import { buildPlan, crossGrid } from '../src/sweep/plan.ts';
import { writeOrCheckPlan, type PlannedRun } from '../src/sweep/plan_file.ts';
import { writeExecutorRecord, type RunStatus } from '../src/sweep/status.ts';

const temps: string[] = [];
const held: RunDirectory[] = [];
afterEach(() => {
  for (const r of held.splice(0)) r.releaseLock();
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const NOW = Date.parse('2026-12-02T17:00:00Z');

function sweepWithRunning(): { dir: string; plan: ReturnType<typeof buildPlan> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sweep-view-'));
  temps.push(dir);
  const plan = buildPlan(crossGrid({ games: ['breakout'], optimizers: ['adam-separated'], weightDecays: [1e-3], seeds: [0, 1, 2, 3], preset: 'smoke', overrides: { iterations: 6 } }));
  writeOrCheckPlan(dir, plan);
  writeExecutorRecord(dir, { kind: 'local', workers: 2, threads: 1, startedAt: 'x', host: os.hostname(), pid: 1 });
  const done = RunDirectory.create(path.join(dir, plan.runs[0].dir), { game: 'Breakout', seed: 0 }, {});
  for (let i = 0; i < 6; i++) done.appendMetrics({ iteration: i, env_steps: (i + 1) * 5000, wall_seconds: (i + 1) * 200 });
  done.writeSummary({ status: 'completed', iterations_completed: 6, iterations_planned: 6, env_steps: 30_000, wall_seconds: 1200 });
  done.releaseLock();
  for (const run of plan.runs.slice(1, 3)) held.push(running(dir, run));
  return { dir, plan };
}

function running(dir: string, run: PlannedRun): RunDirectory {
  const rd = RunDirectory.create(path.join(dir, run.dir), { game: 'Breakout', seed: run.seed }, {});
  rd.appendMetrics({ iteration: 0, env_steps: 5000, wall_seconds: 10 });
  rd.writeSummary({ status: 'running', iterations_completed: 1, iterations_planned: 6, env_steps: 5000, wall_seconds: 10 });
  const snapshot: ProgressSnapshot = {
    updatedAt: new Date(NOW - 3000).toISOString(), iteration: 1, iterations: 6, phase: 'train', phaseSteps: 2500,
    phaseTarget: 5000, runSteps: 7500, runTarget: 30_000, warmupStepsLeft: 0, stepsPerSecond: 20.25,
    learningStepsPerSecond: 20, recentReturn: 1.5, recentEpisodes: 10, etaSeconds: 1125, etaAssumed: false,
  };
  rd.writeProgress(snapshot);
  return rd;
}

describe('sweep live view', () => {
  it('shows runs done/running/queued with the sweep ETA and one line per running run', () => {
    const { dir, plan } = sweepWithRunning();
    const view = new SweepLiveView({ sweepDir: dir, plan, tty: true, write: () => {}, now: () => NOW });
    const lines = view.render(200);
    expect(lines).toHaveLength(3);
    // Running runs: 1122 s left each (their own ETA, aged 3 s); then the queued run: 6 iterations × 200 s (the finished run's pace).
    expect(lines[0]).toBe('sweep: 1 done · 2 running · 1 queued | ETA 38m42s');
    expect(lines[1]).toBe(`  ${plan.runs[1].id}  iter 2/6 train | 2500/5000 steps | 20.3 steps/s | return 1.5 (last 10) | ETA 18m42s`);
    expect(lines[2]).toContain(plan.runs[2].id);
  });

  it('never writes a line wider than the terminal, redraws in place, and prints driver lines above the block', () => {
    const { dir, plan } = sweepWithRunning();
    const out: string[] = [];
    const view = new SweepLiveView({ sweepDir: dir, plan, tty: true, write: (t) => out.push(t), columns: () => 50, now: () => NOW });
    view.start();
    view.tick();
    view.line('[3/4] done breakout-…');
    view.stop();
    const text = out.join('');
    for (const line of text.replace(/\x1b\[\d+A\r\x1b\[J/g, '\n').split('\n')) expect(line.length).toBeLessThanOrEqual(49);
    // Each redraw first moves up over the 3 lines drawn and clears them; stop() leaves no block behind.
    expect(out.filter((t) => t === '\x1b[3A\r\x1b[J')).toHaveLength(3);
    expect(out[out.length - 1]).toBe('\x1b[3A\r\x1b[J');
    expect(out).toContain('[3/4] done breakout-…\n');
  });

  it('at 80, 60 and 40 columns (and any other) keeps the id\'s hash, and the return whenever anything beside the iteration', () => {
    const snapshot: ProgressSnapshot = {
      updatedAt: new Date(NOW - 3000).toISOString(), iteration: 11, iterations: 200, phase: 'train', phaseSteps: 125_300,
      phaseTarget: 250_000, runSteps: 2_875_300, runTarget: 50_000_000, warmupStepsLeft: 0, stepsPerSecond: 48.2,
      learningStepsPerSecond: 47.9, recentReturn: 12.3, recentEpisodes: 10, etaSeconds: 1_500_000, etaAssumed: true,
    };
    const ids = ['pong-adam-l2-wd1e-3-s0-1a2b3c4d', 'space_invaders-rmsprop-separated-wd2.5e-4-matched-s2-0f9e8d7c'];
    for (const id of ids) {
      const r = { run: { id }, state: 'running', live: snapshot } as unknown as RunStatus;
      const hash = id.slice(-8);
      for (let width = 30; width <= 200; width++) {
        const line = runLine(r, width, NOW);
        expect(line.length, line).toBeLessThanOrEqual(width);
        expect(line.startsWith('  ') && line.slice(2).split('  ')[0].endsWith(hash), line).toBe(true);
        const fields = line.slice(2).split('  ').slice(1).join('  ').split(' | ');
        expect(fields[0], line).toMatch(/^iter 12\/200( train)?$/);
        if (fields.length > 1) expect(fields.filter((f) => /^return 12\.3( \(last 10\))?$/.test(f)), line).toHaveLength(1);
        // A field shows only if every field dropped after it does: return, then ETA, then steps, then steps/s.
        const order = [/^return /, /^ETA /, /steps$|^\d+k\/\d+k$/, /\/s$/];
        const shown = order.map((pattern) => fields.some((f) => pattern.test(f)));
        for (let i = 1; i < shown.length; i++) if (shown[i]) expect(shown[i - 1], line).toBe(true);
      }
      expect(runLine(r, 200, NOW)).toBe(`  ${id}  iter 12/200 train | 125.3k/250.0k steps | 48.2 steps/s | return 12.3 (last 10) | ETA ~17d8h`);
      expect(runLine(r, 79, NOW)).toMatch(/ \| return 12\.3( \(last 10\))? \| ETA ~17d8h$/); // 80 columns: return and ETA, whatever the id
      expect(runLine(r, 39, NOW)).toMatch(new RegExp(`^  …\\S*${hash}  iter 12/200 \\| return 12\\.3$`));
    }
    // 80 columns, a common id: the id whole, steps and steps/s make room.
    expect(runLine({ run: { id: ids[0] }, state: 'running', live: snapshot } as unknown as RunStatus, 79, NOW))
      .toBe(`  ${ids[0]}  iter 12/200 train | return 12.3 | ETA ~17d8h`);
  });

  it("counts and words are atari's: a run's line in the view is its atari live line, id first and without ε", () => {
    let t = 0;
    const reporter = new ProgressReporter({ tty: true, write: () => {}, now: () => t, clock: () => new Date(NOW) });
    const state = (runSteps: number): ProgressState => ({
      iteration: 3, iterations: 10, phase: 'train', phaseSteps: runSteps - 30_000, phaseTarget: 10_000, runSteps, runTarget: 100_000,
      epsilon: 0.05, recentReturns: [1, 2, 4], warmupStepsLeft: 0,
    });
    for (let i = 0; i < 20; i++) { t += 5; reporter.update(state(31_000 + 100 * i)); }
    const now = state(33_000);
    const r = { run: { id: 'pong-adamw-wd1e-4-s0-1a2b3c4d' }, state: 'running', live: reporter.snapshot(now) } as unknown as RunStatus;
    expect(runLine(r, 500, NOW)).toBe(`  pong-adamw-wd1e-4-s0-1a2b3c4d  ${reporter.format(now).replace(/ \| ε [\d.]+/, '')}`);
  });

  it('driver lines: broken at words to the width on a terminal, whole off one', () => {
    const { dir, plan } = sweepWithRunning();
    const text = `[3/4] done ${plan.runs[3].id} after 1h02m: completed; its table and report are one command away`;
    const tty: string[] = [];
    new SweepLiveView({ sweepDir: dir, plan, tty: true, write: (t) => tty.push(t), columns: () => 50, now: () => NOW }).line(text);
    const lines = tty.join('').replace(/\n$/, '').split('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(49);
    for (const line of lines.slice(1)) expect(line).toMatch(/^ {2}\S/);
    expect(lines.map((l) => l.trim()).join(' ')).toBe(text);
    const plain: string[] = [];
    new SweepLiveView({ sweepDir: dir, plan, tty: false, write: (t) => plain.push(t), columns: () => 40, now: () => NOW }).line(text);
    expect(plain).toEqual([`${text}\n`]);
  });

  it("keeps drawing when a run's progress.json lacks or mistypes any field, or the sweep's files cannot be read", () => {
    const { dir, plan } = sweepWithRunning();
    const file = path.join(dir, plan.runs[1].dir, 'progress.json');
    const valid = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    const out: string[] = [];
    const view = new SweepLiveView({ sweepDir: dir, plan, tty: true, write: (t) => out.push(t), now: () => NOW });
    for (const key of Object.keys(valid)) {
      const { [key]: _removed, ...without } = valid;
      for (const snapshot of [without, { ...valid, [key]: key === 'phase' || key === 'updatedAt' ? 7 : 'x' }, { ...valid, [key]: {} }]) {
        fs.writeFileSync(file, JSON.stringify(snapshot));
        const lines = view.render(200);
        expect(lines[0]).toMatch(/^sweep: 1 done · 2 running · 1 queued \| ETA /);
        expect(lines[1]).toMatch(new RegExp(`^  ${plan.runs[1].id}  progress unknown: progress\\.json has (no )?${key}\\b`));
        expect(lines[2]).toMatch(/iter 2\/6/);
      }
    }
    // Whatever else fails while reading the sweep (here a plan entry without a directory) is a line, not an exception.
    const broken = { ...plan, runs: [{ ...plan.runs[0], dir: undefined as unknown as string }] };
    const brokenView = new SweepLiveView({ sweepDir: dir, plan: broken, tty: true, write: (t) => out.push(t), now: () => NOW });
    expect(brokenView.render(80)).toEqual([expect.stringMatching(/^sweep: status unreadable: /)]);
    expect(() => brokenView.tick()).not.toThrow();
    const plain: string[] = [];
    const plainView = new SweepLiveView({ sweepDir: dir, plan: broken, tty: false, write: (t) => plain.push(t), plainEverySeconds: 0, now: () => NOW });
    plainView.tick();
    expect(plain).toEqual([expect.stringMatching(/^2026-12-02T17:00:00Z sweep: status unreadable: /)]);
  });

  it('off a terminal: a timestamped summary line every plainEverySeconds, no escape codes', () => {
    const { dir, plan } = sweepWithRunning();
    const out: string[] = [];
    let t = NOW;
    const view = new SweepLiveView({ sweepDir: dir, plan, tty: false, write: (s) => out.push(s), plainEverySeconds: 600, now: () => t });
    view.tick();
    expect(out).toEqual([]); // not yet: the driver has just printed its own start lines
    t += 600_000;
    view.tick();
    view.line('[3/4] start x');
    expect(out[0]).toMatch(/^2026-12-02T17:10:00Z sweep: 1 done · 2 running · 1 queued \| ETA \S+\n$/);
    expect(out[1]).toBe('[3/4] start x\n');
    expect(out.join('')).not.toContain('\x1b');
  });
});
