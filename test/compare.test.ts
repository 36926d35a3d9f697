// `npm run compare`: arms against the reference arm, seed by seed (src/analysis/compare.ts), on a published sweep
// (results/published/sweep-2games-10k: 2 games × 4 arms × 3 seeds) and on bad input.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildComparison, CompareInputError, mechanismRows, renderComparisonMarkdown, renderMechanismMarkdown } from '../src/analysis/compare.ts';
import { exactPermutationTest, welchInterval } from '../src/analysis/small_sample.ts';
import { loadSweep, loadSweeps } from '../src/analysis/sweep_results.ts';
import { buildCompareProgram, parseCompareArgs } from '../src/cli/compare.ts';
import { tsxLoaderUrl } from '../src/sweep/command.ts';
import { tmpSweep, writeRun } from './fixtures/sweep/make_sweep.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const SWEEP = path.join(REPO, 'results', 'published', 'sweep-2games-10k');

describe('compare', () => {
  const comparison = buildComparison(loadSweep(SWEEP), { score: { kind: 'final' } });

  it('one arm per game × scheme × λ, every seed shown, the reference first in each game', () => {
    expect(comparison.arms.map((a) => `${a.game} ${a.optimizer} ${a.weightDecay}`)).toEqual([
      'breakout adam 0', 'breakout adamw 0.001', 'breakout adam-separated 0.001', 'breakout adam-l2 0.001',
      'pong adam 0', 'pong adamw 0.001', 'pong adam-separated 0.001', 'pong adam-l2 0.001',
    ]);
    for (const arm of comparison.arms) expect(arm.seeds.map((s) => s.seed)).toEqual([0, 1, 2]);
  });

  it("each arm's scores are its runs' final-iteration training returns, compared with the reference as small_sample does", () => {
    for (const arm of comparison.arms) {
      const runs = loadSweep(SWEEP).runs.filter((r) => r.game === arm.game && r.optimizer === arm.optimizer).sort((a, b) => a.seed - b.seed);
      expect(arm.scores).toEqual(runs.map((r) => r.records.at(-1)!.train_return_mean));
      if (arm.optimizer === 'adam') {
        expect(arm.versusReference).toBeNull();
        continue;
      }
      const ref = comparison.arms.find((a) => a.game === arm.game && a.optimizer === 'adam')!;
      expect(arm.versusReference!.welch).toEqual(welchInterval(arm.scores, ref.scores));
      expect(arm.versusReference!.permutation).toEqual(exactPermutationTest(arm.scores, ref.scores));
    }
    const md = renderComparisonMarkdown(comparison);
    expect(md).toContain('| Breakout | orig (adam) λ=0 | s0: 2.00, s1: 1.54, s2: 1.07 | 3 | 1.54 ± 0.47 | reference | — | — |');
    expect(md).toMatch(/\| Pong \| WD \(adam-l2\) λ=1e-3 \| .* \| 3 \| -20\.58 ± 0\.22 \| -0\.69 \[-2\.24, 0\.85\] \| 0\.150 \| 0\.950 \|/);
  });

  it('--reference SCHEME@λ: every other arm, orig included, against that arm', () => {
    const sweep = loadSweep(SWEEP);
    const c = buildComparison(sweep, { score: { kind: 'final' }, reference: { optimizer: 'adam-l2', weightDecay: 1e-3 } });
    for (const game of ['breakout', 'pong']) {
      const arms = c.arms.filter((a) => a.game === game);
      expect(arms[0].optimizer).toBe('adam-l2');
      expect(arms[0].versusReference).toBeNull();
      for (const arm of arms.slice(1)) {
        expect(arm.versusReference!.welch).toEqual(welchInterval(arm.scores, arms[0].scores));
        expect(arm.versusReference!.permutation).toEqual(exactPermutationTest(arm.scores, arms[0].scores));
      }
    }
    const md = renderComparisonMarkdown(c);
    expect(md).toContain('**Arms against WD (adam-l2, λ 1e-3), seed by seed**');
    expect(md).toMatch(/\| Pong \| WD \(adam-l2\) λ=1e-3 \| .* \| reference \| — \| — \|/);
    expect(md).toMatch(/\| Pong \| orig \(adam\) λ=0 \| .* \| 0\.69 \[-0\.85, 2\.24\] \| 0\.950 \| 0\.150 \|/);
    // A λ no run has is not a reference: the games say so instead of comparing with nothing.
    const none = renderComparisonMarkdown(buildComparison(sweep, { score: { kind: 'final' }, reference: { optimizer: 'adam-l2', weightDecay: 1e-4 } }));
    expect(none).toContain('- Breakout: no counted run of the reference arm, so no comparison.');
    expect(none).not.toContain('| reference |');
  });

  it('refuses to pool runs of different budgets, and says which runs do not count', () => {
    const sweep = loadSweep(SWEEP);
    const other = { ...sweep.runs[0], trainingSteps: 5000, id: 'other-budget' };
    expect(() => buildComparison({ ...sweep, runs: [...sweep.runs, other] }, { score: { kind: 'final' } })).toThrow(CompareInputError);
    expect(() => buildComparison({ ...sweep, runs: [...sweep.runs, other] }, { score: { kind: 'final' } })).toThrow(/2 budgets.*compare one budget at a time/);
    const unfinished = sweep.runs.map((r) => (r.optimizer === 'adam' && r.seed === 2 ? { ...r, status: 'interrupted' } : r));
    const md = renderComparisonMarkdown(buildComparison({ ...sweep, runs: unfinished }, { score: { kind: 'final' } }));
    expect(md).toMatch(/- not counted: Breakout orig \(adam\) λ=0 seed 2 — interrupted, 4\/4 iterations/);
    const noReference = sweep.runs.filter((r) => !(r.game === 'pong' && r.optimizer === 'adam'));
    expect(renderComparisonMarkdown(buildComparison({ ...sweep, runs: noReference }, { score: { kind: 'final' } })))
      .toContain('- Pong: no counted run of the reference arm, so no comparison.');
  });

  it('command line: defaults, a bad scheme or score in one line, a missing directory', () => {
    expect(parseCompareArgs(['some/dir'])).toEqual({ dirs: ['some/dir'], score: { kind: 'final' }, reference: { optimizer: 'adam', weightDecay: 0 } });
    expect(parseCompareArgs(['d', '--reference', 'adamw']).reference).toEqual({ optimizer: 'adamw', weightDecay: 0 });
    expect(parseCompareArgs(['d', '--reference', 'adam-l2@1e-3']).reference).toEqual({ optimizer: 'adam-l2', weightDecay: 1e-3 });
    const err = (args: string[]) => {
      let out = '';
      try {
        parseCompareArgs(args, buildCompareProgram().exitOverride().configureOutput({ writeErr: (s) => (out += s) }));
      } catch { /* commander's exit */ }
      return out;
    };
    expect(err(['d', '--reference', 'adamx'])).toMatch(/Unknown optimizer scheme "adamx"/);
    expect(err(['d', '--reference', 'adamx@1e-3'])).toMatch(/Unknown optimizer scheme "adamx"/);
    expect(err(['d', '--reference', 'adam-l2@lots'])).toMatch(/"lots" is not a weight decay λ/);
    expect(err(['d', '--reference', 'adam-l2@'])).toMatch(/"" is not a weight decay λ/);
    expect(err(['d', '--score', 'best'])).toMatch(/--score/);
    const missing = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'compare-')), 'nothing');
    const r = spawnSync(process.execPath, ['--import', tsxLoaderUrl(), path.join(REPO, 'src', 'cli', 'compare.ts'), missing], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/does not exist/);
  });

  it('several directories compare as one study, and runs of another budget among them are refused, never dropped', () => {
    expect(parseCompareArgs([SWEEP, 'more/runs']).dirs).toEqual([SWEEP, 'more/runs']);
    const other = tmpSweep('compare-other-');
    try {
      writeRun(other, { game: 'pong', optimizer: 'adamw', weightDecay: 1e-3, seed: 3, returns: [-21, -20], trainingSteps: 5000, id: 'pong-other-budget' });
      const both = loadSweeps([SWEEP, other]);
      expect(() => buildComparison(both, { score: { kind: 'final' } })).toThrow(CompareInputError);
      expect(() => buildComparison(both, { score: { kind: 'final' } })).toThrow(/ hold runs of several budgets \(24 of .*; 1 of another: pong-other-budget\); compare one budget at a time/);
      // The same directory twice, or a sweep with one of its own runs, is the sweep once.
      const runDir = path.join(SWEEP, 'runs', fs.readdirSync(path.join(SWEEP, 'runs'))[0]);
      expect(renderComparisonMarkdown(buildComparison(loadSweeps([SWEEP, SWEEP, runDir]), { score: { kind: 'final' } }))).toBe(renderComparisonMarkdown(comparison));
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('the mechanism table: ε-dominated shares per iteration, and the initial shrink of ‖w‖ per update against α·λ/ε', () => {
    const sweep = loadSweep(SWEEP);
    expect(renderMechanismMarkdown(mechanismRows(sweep))).toBe(''); // runs made before the diagnostic existed
    const l2 = sweep.runs.filter((r) => r.game === 'breakout' && r.optimizer === 'adam-l2').map((r, k) => ({
      ...r,
      records: r.records.map((rec, i) => ({ ...rec, eps_dominated_share: 0.9 + 0.02 * i + 0.01 * k })),
      // ‖w‖ 30 until learning starts, then e^{-0.5} smaller after 1,250 updates: 4e-4 per update.
      diagnostics: [
        { iteration: 0, env_steps: 1000, updates: 0, weight_norm: 30 },
        { iteration: 0, env_steps: 2000, updates: 1250 + 10 * k, weight_norm: 30 * Math.exp(-0.5) },
      ],
    }));
    const rows = mechanismRows({ ...sweep, runs: l2 });
    expect(rows).toHaveLength(1);
    expect(rows[0].epsDominated.map((x) => x!.toFixed(4))).toEqual(['0.9100', '0.9300', '0.9500', '0.9700']);
    expect(rows[0].weightNormStart).toBe(30);
    expect(rows[0].initialShrinkPerUpdate).toBeCloseTo(0.5 / 1260, 12); // the median of 0.5/1250, 0.5/1260, 0.5/1270
    expect(rows[0].predictedShrinkPerUpdate).toBeCloseTo((6.25e-5 * 1e-3) / 1.5e-4, 12);
    expect(renderMechanismMarkdown(rows)).toMatch(/\| Breakout \| WD \(adam-l2\) λ=1e-3 \| 3 \| 0\.910 → 0\.930 → 0\.950 → 0\.970 \| — \| .* \| 30\.00 → .* \| 3\.97e-4 \| 4\.17e-4 \|/);
  });
});
