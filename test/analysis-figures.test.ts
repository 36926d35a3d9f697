// Figure data (reduced in TypeScript) against hand-computed values, and the specs' encodings: what is on which
// axis, the band, the log λ axis and the orig reference line. Rendering to SVG is checked once per figure kind.
import { describe, expect, it } from 'vitest';
import type { SensitivityPoint } from '../src/analysis/aggregates.ts';
import {
  curvePoints,
  learningCurveSpec,
  seedPoints,
  mOverWPoints,
  renderSvg,
  type FigureSpec,
  mOverWSpec,
  sensitivityAggregateSpec,
  sensitivityData,
  sensitivityPerGameSpec,
  weightNormSpec,
  efficiencySpec,
  improvementSpec,
  intervalEstimatesSpec,
  profileSpec,
  updateRatioPoints,
  updateRatioSpec,
  wdSharePoints,
  wdShareSpec,
  weightNormPoints,
  epsDominatedPoints,
  epsDominatedSpec,
} from '../src/analysis/figures.ts';
import type { LoadedRun } from '../src/analysis/sweep_results.ts';
import { baselineSpec, compareIteration } from '../src/analysis/baseline.ts';

function run(seed: number, optimizer: string, weightDecay: number, returns: (number | null)[], game = 'pong'): LoadedRun {
  return {
    id: `${optimizer}-${seed}`, dir: '/x', game, optimizer, schedule: 'constant', weightDecay, seed, preset: 'smoke',
    status: 'completed', iterationsPlanned: returns.length, trainingSteps: 100, evalSteps: 0, replayRefills: 0, warnings: [], config: {}, diagnostics: [],
    records: returns.map((r, i) => ({
      iteration: i, env_steps: (i + 1) * 100 + seed, train_return_mean: r, weight_norm: 10 * (seed + 1),
      m_over_w_log10: { p5: -9 - seed, p50: -7 },
    })),
  };
}

describe('learning curves', () => {
  const runs = [run(0, 'adamw', 1e-4, [1, 4]), run(1, 'adamw', 1e-4, [3, null]), run(2, 'adamw', 1e-4, [8, 10]), run(0, 'adam', 0, [5, 6])];

  it('mean over seeds per iteration, band = min..max, x = mean env_steps, seeds without a value left out', () => {
    const pts = curvePoints(runs, 'train_return_mean');
    const d = pts.filter((p) => p.series === 'decoupled');
    expect(d).toEqual([
      { series: 'decoupled', lambda: '1e-4', game: 'Pong', iteration: 0, envSteps: 101, mean: 4, min: 1, max: 8, n: 3 },
      { series: 'decoupled', lambda: '1e-4', game: 'Pong', iteration: 1, envSteps: 201, mean: 7, min: 4, max: 10, n: 2 },
    ]);
    expect(pts.filter((p) => p.series === 'orig').map((p) => p.mean)).toEqual([5, 6]);
  });

  it('spec: env_steps on x, a min–max band under the mean line, a facet per game, a colour per scheme', () => {
    const spec = learningCurveSpec(curvePoints(runs, 'train_return_mean'), 't', 'training return', ['pong']) as any;
    expect(spec.facet.field).toBe('game');
    expect(spec.spec.encoding.x.field).toBe('envSteps');
    expect(spec.spec.encoding.color.scale.domain).toEqual(['decoupled', 'orig']);
    expect(spec.spec.encoding.color.scale.range).toEqual(['#1f77b4', '#7f7f7f']);
    const [band, line] = spec.spec.layer;
    expect(band.mark.type).toBe('area');
    expect([band.encoding.y.field, band.encoding.y2.field]).toEqual(['min', 'max']);
    expect(line.encoding.y.field).toBe('mean');
  });

  it("with a reference, Dopamine's band is a grey step layer under the curves, from the same data source", async () => {
    const reference = [{ game: 'Pong', start: 0, end: 150, min: -21, max: -20, mean: -20.5 }];
    const spec = learningCurveSpec(curvePoints(runs, 'train_return_mean'), 't', 'training return', ['pong'], { reference }) as any;
    const [steps, band, line] = spec.spec.layer;
    expect(steps.mark.type).toBe('rect');
    expect([steps.encoding.x.field, steps.encoding.x2.field, steps.encoding.y.field, steps.encoding.y2.field]).toEqual(['start', 'end', 'min', 'max']);
    expect(band.mark.type).toBe('area');
    expect(line.encoding.y.field).toBe('mean');
    expect(spec.data.values.filter((v: any) => v.row === 'reference')).toHaveLength(1);
    const svg = await renderSvg(spec);
    expect(svg.match(/aria-roledescription="rect mark"/g)).toHaveLength(1);
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(2);
  });

  it('a dot per seed and iteration it has a value at, on top of the mean lines', async () => {
    const seeds = seedPoints(runs, 'train_return_mean');
    expect(seeds.filter((p) => p.series === 'decoupled').map((p) => [p.seed, p.iteration, p.envSteps, p.value])).toEqual([
      [0, 0, 100, 1], [0, 1, 200, 4], [1, 0, 101, 3], [2, 0, 102, 8], [2, 1, 202, 10],
    ]);
    expect(seeds.find((p) => p.series === 'orig')).toMatchObject({ lambda: '0', game: 'Pong', seed: 0, value: 5 });
    const spec = learningCurveSpec(curvePoints(runs, 'train_return_mean'), 't', 'return', ['pong'], { seeds }) as any;
    const dots = spec.spec.layer.at(-1);
    expect(dots.mark.type).toBe('point');
    expect(dots.encoding.y.field).toBe('value');
    const svg = await renderSvg(spec);
    // One dot per seed value: 5 decoupled + 2 orig.
    expect(svg.match(/aria-roledescription="point"/g)).toHaveLength(7);
  });

  it('renders to an SVG with one path per scheme line', async () => {
    const svg = await renderSvg(learningCurveSpec(curvePoints(runs, 'train_return_mean'), 'curves', 'return', ['pong']));
    expect(svg).toMatch(/^<svg [^>]*width="\d+"/);
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(2);
    expect(svg.match(/aria-roledescription="area mark"/g)).toHaveLength(2);
  });
});

describe('λ sensitivity figure', () => {
  const ms = (mean: number, std: number | null) => ({ mean, std, n: 3 });
  const points: SensitivityPoint[] = [
    { name: 'decoupled λ=1e-4', scheme: 'decoupled', optimizer: 'adamw', lambda: 1e-4, perGame: new Map([['pong', ms(20, 1)]]), iqm: { point: 1, lower: 0.9, upper: 1.1 }, mean: null },
    { name: 'WD λ=1e-4', scheme: 'WD', optimizer: 'adam-l2', lambda: 1e-4, perGame: new Map([['pong', ms(-10, null)]]), iqm: { point: 0.2, lower: 0.1, upper: 0.3 }, mean: null },
  ];

  it('per game: mean ± std; aggregate: IQM with its interval', () => {
    const d = sensitivityData(points);
    expect(d.perGame).toEqual([
      { scheme: 'decoupled', lambda: 1e-4, game: 'Pong', value: 20, lower: 19, upper: 21 },
      { scheme: 'WD', lambda: 1e-4, game: 'Pong', value: -10, lower: -10, upper: -10 },
    ]);
    expect(d.aggregate[1]).toEqual({ scheme: 'WD', lambda: 1e-4, game: 'all', value: 0.2, lower: 0.1, upper: 0.3 });
  });

  it('x = λ on a log scale, one line per scheme, orig as a horizontal rule', async () => {
    const spec = sensitivityAggregateSpec(sensitivityData(points).aggregate, 0.8, 2) as any;
    const line = spec.layer.find((l: any) => l.mark.type === 'line');
    expect(line.encoding.x).toMatchObject({ field: 'lambda', scale: { type: 'log' } });
    expect(line.encoding.color.field).toBe('scheme');
    const rule = spec.layer.find((l: any) => l.mark.type === 'rule');
    expect(rule.encoding.y.field).toBe('reference');
    expect(spec.data.values.every((v: any) => v.reference === 0.8)).toBe(true);
    const svg = await renderSvg(spec);
    expect(svg).toContain('aria-roledescription="rule mark"');
    expect(svg).toContain('for a log scale');
    // Without an orig run there is no reference line at all (not a line at 0).
    expect((sensitivityAggregateSpec(sensitivityData(points).aggregate, null, 2) as any).layer.some((l: any) => l.mark.type === 'rule')).toBe(false);
  });
});

describe('optimizer-state figures', () => {
  it('|m|/|w| quantiles and the weight norm are averaged over seeds per iteration', () => {
    const runs = [run(0, 'adamw', 1e-4, [1, 2]), run(1, 'adamw', 1e-4, [1, 2])];
    const q = mOverWPoints(runs);
    expect(q.filter((p) => p.quantile === 'p5').map((p) => p.value)).toEqual([-9.5, -9.5]);
    expect(q.filter((p) => p.quantile === 'p50')[0]).toEqual({ series: 'decoupled λ=1e-4', envSteps: 100.5, quantile: 'p50', value: -7 });
    expect(weightNormPoints(runs).map((p) => [p.mean, p.min, p.max, p.n])).toEqual([[15, 10, 20, 2], [15, 10, 20, 2]]);
  });

  it('the WD share of m: each quantile averaged over runs, the median with its band; runs without it left out', async () => {
    const share = (seed: number) => ({ p5: 0.1, p25: 0.3, p50: 0.5 + 0.2 * seed, p75: 0.8, p95: 0.95, count: 7 });
    const l2 = [0, 1].map((seed) => {
      const r = run(seed, 'adam-l2', 1e-4, [1, 2]);
      r.records.forEach((rec) => (rec.moment_wd_share = share(seed)));
      return r;
    });
    const pts = wdSharePoints([...l2, run(0, 'adamw', 1e-4, [1, 2])]);
    expect(new Set(pts.map((p) => p.series))).toEqual(new Set(['WD λ=1e-4']));
    expect(pts.map((p) => p.quantile)).not.toContain('count');
    const median = pts.filter((p) => p.quantile === 'p50');
    expect(median.map((p) => [p.mean, p.min, p.max])).toEqual([[0.6, 0.5, 0.7], [0.6, 0.5, 0.7]]);
    const spec = wdShareSpec(pts, ['WD λ=1e-4']) as any;
    expect(spec.spec.layer[0].transform[0].filter).toContain("'p50'");
    expect(spec.spec.layer[1].encoding.y.scale.domain).toEqual([0, 1]);
    const svg = await renderSvg(spec);
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(5); // p5..p95
  });

  it('‖Δw‖/‖w‖ per scheme and λ with its band over runs, on a log scale', () => {
    const runs = [0, 1].map((seed) => {
      const r = run(seed, 'adamw', 1e-4, [1, 2]);
      r.records.forEach((rec, i) => (rec.update_norm_ratio = (i + 1) * 1e-4 * (seed + 1)));
      return r;
    });
    const pts = updateRatioPoints(runs);
    expect(pts.map((p) => [p.iteration, p.min, p.max])).toEqual([[0, 1e-4, 2e-4], [1, 2e-4, 4e-4]]);
    const spec = updateRatioSpec(pts, ['decoupled']) as any;
    expect(spec.spec.layer[1].encoding.y.scale.type).toBe('log');
    expect([spec.spec.layer[0].encoding.y.field, spec.spec.layer[0].encoding.y2.field]).toEqual(['min', 'max']);
  });
});

describe("rliable's plots", () => {
  it('interval estimates: a panel per metric, a bar (lower..upper) and a tick (point) per row', async () => {
    const data = [{ row: 'orig λ=0', metric: 'IQM', point: 0.4, lower: 0.3, upper: 0.5 }, { row: 'orig λ=0', metric: 'mean', point: 0.5, lower: 0.4, upper: 0.6 }];
    const spec = intervalEstimatesSpec(data, ['orig λ=0']) as any;
    expect(spec.facet.column.field).toBe('metric');
    const [bar, tick] = spec.spec.layer;
    expect([bar.mark.type, bar.encoding.x.field, bar.encoding.x2.field]).toEqual(['rule', 'lower', 'upper']);
    expect([tick.mark.type, tick.encoding.x.field]).toEqual(['tick', 'point']);
    expect(await renderSvg(spec)).toMatch(/^<svg/);
  });

  it('probability of improvement on [0, 1] with the no-difference line at 0.5', () => {
    const spec = improvementSpec([{ pair: 'a > b', point: 0.7, lower: 0.6, upper: 0.8 }]) as any;
    expect(spec.layer[0].encoding.x.scale.domain).toEqual([0, 1]);
    expect(spec.data.values[0].even).toBe(0.5);
  });

  it('profiles on [0, 1] and the efficiency curve: a line per row over its bootstrap band', () => {
    const data = [{ row: 'r', x: 0, point: 1, lower: 0.9, upper: 1 }, { row: 'r', x: 1, point: 0.2, lower: 0.1, upper: 0.3 }];
    for (const spec of [profileSpec(data, ['r']), efficiencySpec(data, ['r'])] as any[]) {
      expect([spec.layer[0].encoding.y.field, spec.layer[0].encoding.y2.field]).toEqual(['lower', 'upper']);
      expect(spec.layer[1].encoding.y.field).toBe('point');
    }
    expect((profileSpec(data, ['r']) as any).layer[1].encoding.y.scale.domain).toEqual([0, 1]);
  });
});

describe('optimizer state from diagnostics.jsonl (issue 19)', () => {
  const traced = (seed: number, optimizer: string, weightDecay: number): LoadedRun => ({
    ...run(seed, optimizer, weightDecay, [1, 2]),
    diagnostics: [1000, 2000, 3000].map((steps, i) => ({
      iteration: 0, env_steps: steps, weight_norm: 30 - 10 * i + seed, eps_dominated_share: 0.9 + 0.01 * seed,
      ...(optimizer === 'adam-separated' ? { eps_dominated_share_wd: 1 } : {}),
    })),
  });

  it('the weight norm and the ε-dominated share come from the trace, one point per traced step, when every run has one', () => {
    const runs = [traced(0, 'adam-l2', 1e-3), traced(1, 'adam-l2', 1e-3), traced(0, 'adam-separated', 1e-3)];
    const wn = weightNormPoints(runs).filter((p) => p.scheme === 'WD');
    expect(wn.map((p) => [p.envSteps, p.mean, p.min, p.max, p.n])).toEqual([[1000, 30.5, 30, 31, 2], [2000, 20.5, 20, 21, 2], [3000, 10.5, 10, 11, 2]]);
    const eps = epsDominatedPoints(runs);
    expect([...new Set(eps.map((p) => p.scheme))].sort()).toEqual(['WD', 'separated', 'separated: WD buffers']);
    const shareTraced = runs.map((r) => ({ ...r, diagnostics: r.diagnostics.map((d, i) => ({ ...d, moment_wd_share: { p50: 0.2 * (i + 1) } })) }));
    expect(wdSharePoints(shareTraced).filter((p) => p.quantile === 'p50' && p.series === 'WD λ=1e-3').map((p) => [p.envSteps, p.mean]))
      .toEqual([[1000, 0.2], [2000, 0.4], [3000, 0.6000000000000001]]);
    expect(eps.filter((p) => p.scheme === 'separated: WD buffers').map((p) => p.mean)).toEqual([1, 1, 1]);
    expect(eps.find((p) => p.scheme === 'WD' && p.envSteps === 1000)!.mean).toBeCloseTo(0.905, 12);
    const spec = epsDominatedSpec(eps, ['WD', 'separated', 'separated: WD buffers']) as { title: { text: string } };
    expect(spec.title.text).toMatch(/√v̂ < ε/);
  });

  it('falls back to one point per iteration for a line with a run without a trace (runs made before it existed), that line only', () => {
    const runs = [traced(0, 'adam-l2', 1e-3), run(1, 'adam-l2', 1e-3, [1, 2]), traced(0, 'adam-separated', 1e-3)];
    const wn = weightNormPoints(runs);
    expect(wn.filter((p) => p.scheme === 'WD').map((p) => [p.iteration, p.n])).toEqual([[0, 2], [1, 2]]);
    expect(wn.filter((p) => p.scheme === 'separated').map((p) => p.envSteps)).toEqual([1000, 2000, 3000]);
    expect(epsDominatedPoints([run(1, 'adam-l2', 1e-3, [1, 2])])).toEqual([]);
  });
});

describe('tick labels when a figure\'s data are all one value (issue 20)', () => {
  // One run of one iteration (a report on a single run directory): every continuous axis whose domain comes from
  // the data collapses to one value. Vega then has no tick step to round by and used to print its one tick with six
  // decimals: "0.235359", "250.313k", "0.000000".
  const tickLabels = (svg: string): string[] =>
    [...svg.matchAll(/aria-label="([^"]*)"[^>]*>(?:(?!role-axis").)*?role-axis-label"[^>]*>((?:<text[^>]*>[^<]*<\/text>)*)/gs)]
      .filter((m) => !m[1].includes('discrete scale'))
      .flatMap((m) => [...m[2].matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]));
  /** Significant digits a label shows: "0.235" 3, "12,300" 3, "250k" 2, "1.000" 4, "0.000000" 7. */
  const shownDigits = (label: string): number => {
    const [int, frac = ''] = label.replace(/[^\d.]/g, '').split('.');
    const whole = int.replace(/^0+/, '');
    if (whole === '') return frac.replace(/^0+/, '').length || 1 + frac.length;
    return frac === '' ? whole.replace(/0+$/, '').length : whole.length + frac.length;
  };

  function figures(value: number): Record<string, FigureSpec> {
    const one = run(0, 'adam-l2', 1e-3, [value], 'breakout');
    one.records[0] = { ...one.records[0], env_steps: 250_313, update_norm_ratio: 1e-4, m_over_w_log10: { p5: value, p50: value },
      moment_wd_share: { p5: value, p25: value, p50: value, p75: value, p95: value, count: 7 } };
    one.diagnostics = [{ iteration: 0, env_steps: 250_313, weight_norm: 3.15, eps_dominated_share: value, moment_wd_share: one.records[0].moment_wd_share }];
    const interval = { point: value, lower: value, upper: value };
    const points: SensitivityPoint[] = [{ name: 'WD λ=1e-3', scheme: 'WD', optimizer: 'adam-l2', lambda: 1e-3, perGame: new Map([['breakout', { mean: value, std: null, n: 1 }]]), iqm: interval, mean: interval }];
    const { perGame, aggregate } = sensitivityData(points);
    const row = 'WD λ=1e-3';
    return {
      curves: learningCurveSpec(curvePoints([one], 'train_return_mean'), 't', 'training return', ['breakout'], { seeds: seedPoints([one], 'train_return_mean') }),
      sensitivity: sensitivityAggregateSpec(aggregate, null, 1),
      sensitivityGames: sensitivityPerGameSpec(perGame, new Map(), ['breakout']),
      mOverW: mOverWSpec(mOverWPoints([one]), ['WD λ=1e-3']),
      wdShare: wdShareSpec(wdSharePoints([one]), ['WD λ=1e-3']),
      weightNorm: weightNormSpec(weightNormPoints([one]), ['WD']),
      epsDominated: epsDominatedSpec(epsDominatedPoints([one]), ['WD']),
      updateRatio: updateRatioSpec(updateRatioPoints([one]), ['WD']),
      intervals: intervalEstimatesSpec(['IQM', 'median', 'mean', 'optimality gap'].map((metric) => ({ row, metric, ...interval })), [row]),
      efficiency: efficiencySpec([{ row, x: 250_313, ...interval }], [row]),
      baseline: baselineSpec({
        runDir: '/x', game: 'breakout', seed: 0, match: { agent: 'DQN', differences: [], notes: [] }, agent: 'DQN', reason: null, publishedIterations: [0],
        rows: [compareIteration(0, value, [value])],
      }),
    };
  }

  it.each([0.235359, 0])('every tick label shows at most 3 significant digits (all values %s)', async (value) => {
    const long: string[] = [];
    for (const [name, spec] of Object.entries(figures(value))) {
      const labels = tickLabels(await renderSvg(spec));
      expect(labels.length, name).toBeGreaterThan(0);
      long.push(...labels.filter((l) => shownDigits(l) > 3).map((l) => `${name}: ${l}`));
    }
    expect(long).toEqual([]);
  });

  it('a domain of any width keeps vega\'s own labels', async () => {
    const spec = efficiencySpec([{ row: 'r', x: 0, point: 0.2, lower: 0.1, upper: 0.3 }, { row: 'r', x: 1000, point: 0.25, lower: 0.2, upper: 0.3 }], ['r']);
    expect(tickLabels(await renderSvg(spec))).toEqual(['0k', '0.1k', '0.2k', '0.3k', '0.4k', '0.5k', '0.6k', '0.7k', '0.8k', '0.9k', '1k', '0.10', '0.12', '0.14', '0.16', '0.18', '0.20', '0.22', '0.24', '0.26', '0.28', '0.30']);
  });
});
