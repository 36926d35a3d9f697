// What a run says before it starts (src/run/forecast.ts, issue 20): steps, time at the assumed rate, the disk its
// checkpoints need, and for decoupled schemes what the budget's decay can show.
import { describe, expect, it } from 'vitest';
import { checkpointDiskBytes, decayBudgetLine, remainingLine, runForecast } from '../src/run/forecast.ts';
import { resolveRunConfig } from '../src/run/presets.ts';
import { ASSUMED_LEARNING_STEPS_PER_SECOND } from '../src/run/progress.ts';
import { formatDuration } from '../src/format.ts';

const config = (over: Partial<Parameters<typeof resolveRunConfig>[0]> = {}) => resolveRunConfig({ game: 'pong', seed: 0, preset: 'dopamine', ...over });

describe('the forecast a run starts with', () => {
  it("the default run (Pong, dopamine preset): 50M steps, days at the assumed rate, the replay's disk", () => {
    const f = runForecast(config(), { keepCheckpoints: 4, saveReplay: true, freeDiskBytes: 80e9 });
    expect(f.lines[0]).toMatch(/^forecast: 50\.00M training steps \(200 × 250\.0k\), ~\d+d\d+h at an assumed 45 steps\/s .*checkpoints need up to ~14 GB of disk \(80 GB free\)$/);
    expect(f.warnings).toEqual([]);
    // 4 checkpoints of network and Adam state, and the 1M-transition replay twice while a checkpoint is written.
    expect(checkpointDiskBytes(config(), { keepCheckpoints: 4, saveReplay: true })).toBe(4 * 65e6 + 2 * 1e6 * 84 * 84);
    expect(checkpointDiskBytes(config(), { keepCheckpoints: 1, saveReplay: false })).toBe(65e6);
    expect(ASSUMED_LEARNING_STEPS_PER_SECOND).toBeGreaterThan(0);
  });

  it('a resumed run is told what it has left, not the whole budget again', () => {
    // The headline study's orig s1 at its third start: 2 × 250k, 340,585 steps done, iteration 0 finished.
    const study = config({ game: 'breakout', iterations: 2 });
    expect(remainingLine(study, { trainSteps: 340_585, iterations: 1 })).toBe('159.4k training steps left, ~59m03s at the assumed 45 steps/s');
    // Within the warm-up, its steps (which do not learn) are not counted; evaluation phases left are.
    const withEval = config({ game: 'breakout', iterations: 2, preset: 'dopamine-tf' });
    expect(withEval.evalSteps).toBeGreaterThan(0);
    const early = remainingLine(withEval, { trainSteps: 5_000, iterations: 0 });
    const seconds = (500_000 - 20_000 + 2 * withEval.evalSteps) / ASSUMED_LEARNING_STEPS_PER_SECOND;
    expect(early).toMatch(new RegExp(`^495\\.0k training steps left \\(\\+ 2 evaluation phases\\), ~${formatDuration(seconds)} at`));
  });

  it('warns, never refuses, when the disk will run short', () => {
    const f = runForecast(config(), { keepCheckpoints: 4, saveReplay: true, freeDiskBytes: 2e9 });
    expect(f.warnings).toHaveLength(1);
    expect(f.warnings[0]).toMatch(/only 2\.0 GB of disk is free .* need up to ~14 GB: .*--keep-checkpoints.*--no-save-replay.*--preset reduced/);
  });

  it('a decoupled run says what its budget can show, with the --match-paper-decay hint where its decay is ≈ 1', () => {
    const reduced = config({ preset: 'reduced', optimizer: 'adamw', weightDecay: 1e-3 });
    expect(decayBudgetLine(reduced)).toMatch(/^decoupled decay \(adamw λ=0\.001\): total decay factor 0\.9980 \(exact arithmetic: 0\.9985\) over 23,750 updates here, 0\.356 .*--match-paper-decay scales λ/);
    expect(decayBudgetLine(config({ preset: 'reduced', optimizer: 'adamw', weightDecay: 1e-4 }))).toMatch(/a float32 no-op.*--match-paper-decay/);
    const matched = config({ preset: 'reduced', optimizer: 'adamw', weightDecay: 1e-3, matchPaperDecay: true });
    expect(decayBudgetLine(matched)).not.toMatch(/--match-paper-decay/);
    expect(decayBudgetLine(config({ optimizer: 'adam-l2', weightDecay: 1e-3 }))).toBeNull();
    expect(runForecast(reduced, { keepCheckpoints: 4, saveReplay: true, freeDiskBytes: null }).lines).toHaveLength(2);
  });
});
