// Figures as Vega-Lite specs rendered to SVG in Node (vega's headless View, no browser, no canvas): learning
// curves (the paper's Figure 6), λ sensitivity, |m|/|w| quantiles over training (Figure 7 left) and the weight
// norm. Data are reduced here in plain TypeScript (testable) and handed to Vega-Lite already aggregated; the specs
// only draw.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { displayName } from '../../envs/games.ts';
import type { MetricsRecord } from '../run/run_directory.ts';
import type { SensitivityPoint } from './aggregates.ts';
import { schemeLabel } from '../paper.ts';
import { formatLambda } from '../format.ts';
import type { LoadedRun } from './sweep_results.ts';

/** Fixed colours, so a scheme looks the same in every figure. */
export const SCHEME_COLOURS: Readonly<Record<string, string>> = {
  orig: '#7f7f7f',
  decoupled: '#1f77b4',
  WD: '#d62728',
  separated: '#2ca02c',
};

type Spec = Record<string, unknown>;
/** A Vega-Lite spec as this module builds them: the plotted rows inline in `data.values`. */
export type FigureSpec = Spec;

/** The rows a spec plots (its inline data), for the CSV written beside the figure. */
export function plottedRows(spec: FigureSpec): Array<Record<string, unknown>> {
  const values = (spec.data as { values?: unknown } | undefined)?.values;
  return Array.isArray(values) ? (values as Array<Record<string, unknown>>) : [];
}

/** Legend symbols drawn as opaque strokes, whatever the opacity of the layer the legend is built from. */
const SOLID_LEGEND = { symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 2.5 };

/**
 * Axis options for a linear scale whose data can all be one value (a single run, λ or iteration, a constant series).
 * Its domain then has no width, vega finds no tick step to round the labels by, and prints the one tick with six
 * decimals ("0.235359", "250.313k"): that tick gets `format` (three significant digits) instead. Any wider domain
 * keeps vega's own labels. `scale` is the scale's name in the compiled Vega spec: the channel, with Vega-Lite's
 * "child_" in front where a facet resolves it independently.
 */
export function oneValueAxis(scale: string, format = ',.3~r'): Spec {
  return { labelExpr: `span(domain('${scale}')) === 0 ? format(datum.value, '${format}') : datum.label` };
}

/** An x axis labelled with SI prefixes (250k). */
const SI_AXIS = { format: '~s', ...oneValueAxis('x', '.3~s') };

/** Vega-Lite spec -> standalone SVG text. */
export async function renderSvg(spec: Spec): Promise<string> {
  const compiled = vl.compile(spec as unknown as vl.TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function seriesName(run: Pick<LoadedRun, 'optimizer' | 'schedule'>): string {
  const base = schemeLabel(run.optimizer);
  return run.schedule === 'constant' ? base : `${base} (${run.schedule})`;
}

function num(r: MetricsRecord, key: string): number | null {
  const v = r[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export interface CurvePoint {
  series: string;
  lambda: string;
  game: string;
  iteration: number;
  /** Mean over the seeds that reached this iteration of their cumulative env_steps. */
  envSteps: number;
  mean: number;
  min: number;
  max: number;
  /** Seeds with a value at this iteration. */
  n: number;
}

/** One seed's value at one iteration: the dots on the learning curves (with 3 seeds a band hides who is where). */
export interface SeedPoint {
  series: string;
  lambda: string;
  game: string;
  seed: number;
  iteration: number;
  envSteps: number;
  value: number;
}

/** Every run's `metric` per iteration, as plotted dots (runs without a value at an iteration have no dot there). */
export function seedPoints(runs: readonly LoadedRun[], metric: string): SeedPoint[] {
  return runs.flatMap((run) =>
    run.records.flatMap((r) => {
      const value = num(r, metric);
      const envSteps = num(r, 'env_steps');
      if (value === null || envSteps === null) return [];
      return [{ series: seriesName(run), lambda: formatLambda(run.weightDecay), game: displayName(run.game), seed: run.seed, iteration: r.iteration, envSteps, value }];
    }),
  );
}

/**
 * Per (scheme, λ, game, iteration): mean over seeds of `metric`, with min and max over seeds (the band): the seeds'
 * dots (seedPoints) reduced. Seeds are aligned by iteration index (their env_steps differ slightly: training phases
 * end on whole episodes).
 */
export function curvePoints(runs: readonly LoadedRun[], metric: string): CurvePoint[] {
  const groups = new Map<string, { series: string; lambda: string; game: string; iteration: number; values: number[]; steps: number[] }>();
  for (const p of seedPoints(runs, metric)) {
    const key = `${p.series}|${p.lambda}|${p.game}|${p.iteration}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { series: p.series, lambda: p.lambda, game: p.game, iteration: p.iteration, values: [], steps: [] }));
    g.values.push(p.value);
    g.steps.push(p.envSteps);
  }
  return [...groups.values()]
    .map((g) => ({
      series: g.series,
      lambda: g.lambda,
      game: g.game,
      iteration: g.iteration,
      envSteps: g.steps.reduce((a, b) => a + b, 0) / g.steps.length,
      mean: g.values.reduce((a, b) => a + b, 0) / g.values.length,
      min: Math.min(...g.values),
      max: Math.max(...g.values),
      n: g.values.length,
    }))
    .sort((a, b) => a.series.localeCompare(b.series) || a.lambda.localeCompare(b.lambda) || a.game.localeCompare(b.game) || a.iteration - b.iteration);
}

function colourScale(series: readonly string[]): Spec {
  const domain = [...new Set(series)];
  const fallback = ['#9467bd', '#8c564b', '#e377c2', '#bcbd22', '#17becf', '#ff7f0e'];
  let i = 0;
  return { domain, range: domain.map((s) => SCHEME_COLOURS[s] ?? fallback[i++ % fallback.length]) };
}

/** A published reference drawn under the learning curves: one step of the band per reference iteration. */
export interface ReferenceBand {
  /** Display name, as in the curve points. */
  game: string;
  /** Agent steps the reference iteration covers: [start, end). */
  start: number;
  end: number;
  min: number;
  max: number;
  mean: number;
}

/**
 * Figure 6: return over env_steps, one facet per game, one line per scheme (the mean over seeds) over its min–max
 * band, and with `seeds` a dot per seed and iteration. With `reference`, a grey step band under the curves
 * (Dopamine's published seeds). Faceting needs one data source, so every row carries `row` ("mean", "seed" or
 * "reference") and each layer filters its own.
 */
export function learningCurveSpec(
  points: readonly CurvePoint[],
  title: string,
  yTitle: string,
  games: readonly string[],
  extra: { reference?: readonly ReferenceBand[]; seeds?: readonly SeedPoint[] } = {},
): Spec {
  const { reference = [], seeds = [] } = extra;
  const rows = (row: string) => ({ filter: `datum.row === '${row}'` });
  const y = { type: 'quantitative', title: yTitle, axis: oneValueAxis('child_y') };
  const curveLayers: Spec[] = [
    { transform: [rows('mean')], mark: { type: 'area', opacity: 0.18 }, encoding: { y: { field: 'min', ...y }, y2: { field: 'max' } } },
    {
      transform: [rows('mean')],
      mark: { type: 'line', strokeWidth: 1.6 },
      encoding: {
        y: { field: 'mean', ...y },
        tooltip: [{ field: 'series' }, { field: 'iteration' }, { field: 'mean', format: '.1f' }, { field: 'n' }],
      },
    },
  ];
  const seedLayer: Spec = {
    transform: [rows('seed')],
    mark: { type: 'point', filled: true, size: 22, opacity: 0.75 },
    encoding: {
      y: { field: 'value', ...y },
      tooltip: [{ field: 'series' }, { field: 'seed' }, { field: 'iteration' }, { field: 'value', format: '.2f' }],
    },
  };
  const referenceLayer: Spec = {
    transform: [rows('reference')],
    mark: { type: 'rect', opacity: 0.22, color: '#555' },
    encoding: {
      x: { field: 'start', type: 'quantitative' },
      x2: { field: 'end' },
      y: { field: 'min', ...y },
      y2: { field: 'max' },
      color: { value: '#555' },
      tooltip: [{ field: 'mean', title: 'published mean', format: '.1f' }, { field: 'min', format: '.1f' }, { field: 'max', format: '.1f' }],
    },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: {
      values: [
        ...points.map((p) => ({ row: 'mean', ...p })),
        ...seeds.map((p) => ({ row: 'seed', ...p })),
        ...reference.map((r) => ({ row: 'reference', ...r })),
      ],
    },
    facet: { field: 'game', type: 'nominal', title: null, sort: games.map(displayName) },
    columns: 4,
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: 210,
      height: 140,
      encoding: {
        x: { field: 'envSteps', type: 'quantitative', title: 'agent steps (env_steps)', axis: SI_AXIS },
        // The legend takes its symbol from the first layer, the 18 %-opacity band: draw it as a solid line instead.
        color: { field: 'series', type: 'nominal', title: 'scheme', scale: colourScale(points.map((p) => p.series)), legend: SOLID_LEGEND },
      },
      layer: [...(reference.length > 0 ? [referenceLayer] : []), ...curveLayers, ...(seeds.length > 0 ? [seedLayer] : [])],
    },
  };
}

export interface SensitivityDatum {
  scheme: string;
  lambda: number;
  game: string;
  value: number;
  lower: number;
  upper: number;
}

/** Rows for the λ figures: per game the seed mean ± std; 'all games' the IQM with its bootstrap interval. */
export function sensitivityData(points: readonly SensitivityPoint[]): { perGame: SensitivityDatum[]; aggregate: SensitivityDatum[] } {
  const perGame: SensitivityDatum[] = [];
  const aggregate: SensitivityDatum[] = [];
  for (const p of points) {
    for (const [game, s] of p.perGame) {
      if (s === null) continue;
      perGame.push({ scheme: p.scheme, lambda: p.lambda, game: displayName(game), value: s.mean, lower: s.mean - (s.std ?? 0), upper: s.mean + (s.std ?? 0) });
    }
    if (p.iqm !== null) aggregate.push({ scheme: p.scheme, lambda: p.lambda, game: 'all', value: p.iqm.point, lower: p.iqm.lower, upper: p.iqm.upper });
  }
  return { perGame, aggregate };
}

function sensitivityLayers(yTitle: string, yScale: string, colours: Spec, referenceField: string | null): Spec[] {
  const y = { type: 'quantitative', title: yTitle, scale: { zero: false, padding: 10 }, axis: oneValueAxis(yScale) };
  const layers: Spec[] = [
    {
      mark: { type: 'errorbar', ticks: true },
      encoding: {
        // Padding (pixels) keeps the end points and their bars off the frame.
        x: { field: 'lambda', type: 'quantitative', scale: { type: 'log', padding: 18 } },
        y: { field: 'lower', ...y },
        y2: { field: 'upper' },
        color: { field: 'scheme', type: 'nominal', scale: colours },
      },
    },
    {
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'lambda', type: 'quantitative', scale: { type: 'log', padding: 18 }, title: 'λ (log scale)', axis: { format: '.0e' } },
        y: { field: 'value', ...y },
        color: { field: 'scheme', type: 'nominal', title: 'scheme', scale: colours, legend: SOLID_LEGEND },
        tooltip: [{ field: 'scheme' }, { field: 'lambda', format: '.0e' }, { field: 'value', format: '.3~f' }],
      },
    },
  ];
  if (referenceField !== null) {
    layers.push({
      mark: { type: 'rule', strokeDash: [6, 4], color: SCHEME_COLOURS.orig },
      encoding: { y: { field: referenceField, type: 'quantitative' } },
    });
  }
  return layers;
}

/**
 * λ sensitivity over all games: x = λ (log), y = IQM of human-normalized score with its 95% interval, one line per
 * scheme; orig (Adam without weight decay, λ = 0) as a dashed horizontal line.
 */
export function sensitivityAggregateSpec(data: readonly SensitivityDatum[], reference: number | null, games: number): Spec {
  const colours = colourScale(['orig', ...data.map((d) => d.scheme)]);
  const values = data.map((d) => ({ ...d, reference }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `λ sensitivity: IQM of human-normalized score over ${games} game(s)`, subtitle: 'bars: stratified-bootstrap 95% interval; dashed: orig (no weight decay)' },
    width: 420,
    height: 260,
    data: { values },
    layer: sensitivityLayers('IQM human-normalized score', 'y', colours, reference === null ? null : 'reference'),
  };
}

/** λ sensitivity per game: seed mean ± std of the raw score; orig's mean per game dashed. */
export function sensitivityPerGameSpec(data: readonly SensitivityDatum[], reference: ReadonlyMap<string, number>, games: readonly string[]): Spec {
  const colours = colourScale(['orig', ...data.map((d) => d.scheme)]);
  const values = data.map((d) => ({ ...d, reference: reference.get(d.game) ?? null }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'λ sensitivity per game (score, mean ± std over seeds)', subtitle: 'dashed: orig (no weight decay)' },
    data: { values },
    facet: { field: 'game', type: 'nominal', title: null, sort: games.map(displayName) },
    columns: 4,
    resolve: { scale: { y: 'independent' } },
    spec: { width: 190, height: 130, layer: sensitivityLayers('score', 'child_y', colours, reference.size === 0 ? null : 'reference') },
  };
}

/** The quantiles the optimizer logs (its Quantiles record also holds `count`, the number of weights: not plotted). */
export const QUANTILE_KEYS = ['p5', 'p25', 'p50', 'p75', 'p95'] as const;

export interface QuantilePoint {
  series: string;
  envSteps: number;
  quantile: string;
  value: number;
}

/**
 * |m|/|w| quantiles (log10) per (scheme, λ) over training: each quantile averaged over seeds and games at each
 * iteration (a mean of log-quantiles, not a quantile of the pooled weights).
 */
export function mOverWPoints(runs: readonly LoadedRun[]): QuantilePoint[] {
  const acc = new Map<string, { series: string; q: string; steps: number[]; values: number[]; iteration: number }>();
  for (const run of runs) {
    const series = `${seriesName(run)} λ=${formatLambda(run.weightDecay)}`;
    for (const r of run.records) {
      const q = r.m_over_w_log10;
      const steps = num(r, 'env_steps');
      if (typeof q !== 'object' || q === null || steps === null) continue;
      for (const name of QUANTILE_KEYS) {
        const v = (q as Record<string, unknown>)[name];
        if (typeof v !== 'number' || !Number.isFinite(v)) continue;
        const key = `${series}|${name}|${r.iteration}`;
        let a = acc.get(key);
        if (!a) acc.set(key, (a = { series, q: name, steps: [], values: [], iteration: r.iteration }));
        a.steps.push(steps);
        a.values.push(v);
      }
    }
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return [...acc.values()]
    .map((a) => ({ series: a.series, envSteps: mean(a.steps), quantile: a.q, value: mean(a.values) }))
    .sort((a, b) => a.series.localeCompare(b.series) || a.quantile.localeCompare(b.quantile) || a.envSteps - b.envSteps);
}

/**
 * Weight quantiles over training, one panel per series (scheme and λ), four panels a row: the frame of Figure 7's
 * plots. `panel` is each panel's mark or layers, `legend` the quantile legend's options.
 */
function quantilePanels(
  title: { text: string; subtitle: string },
  points: readonly object[],
  seriesOrder: readonly string[],
  height: number,
  panel: Record<string, unknown>,
  legend: Record<string, unknown> = {},
): Spec {
  const { encoding, ...rest } = panel as { encoding?: Record<string, unknown> };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: points },
    facet: { field: 'series', type: 'nominal', title: null, sort: seriesOrder },
    columns: 4,
    spec: {
      width: 190,
      height,
      ...rest,
      encoding: {
        x: { field: 'envSteps', type: 'quantitative', title: 'agent steps', axis: SI_AXIS },
        color: { field: 'quantile', type: 'ordinal', title: 'quantile', sort: [...QUANTILE_KEYS], scale: { scheme: 'viridis' }, ...legend },
        ...encoding,
      },
    },
  };
}

export function mOverWSpec(points: readonly QuantilePoint[], seriesOrder: readonly string[]): Spec {
  return quantilePanels(
    { text: 'log10 |m|/|w| over training (Figure 7 left, DQN)', subtitle: 'quantiles over weights; each averaged over seeds and games' },
    points,
    seriesOrder,
    120,
    {
      mark: { type: 'line', strokeWidth: 1.4 },
      encoding: { y: { field: 'value', type: 'quantitative', title: 'log10 |m|/|w|', scale: { zero: false }, axis: oneValueAxis('y') } },
    },
  );
}

export interface BandPoint {
  scheme: string;
  lambda: string;
  iteration: number;
  /** Mean over the runs of their env_steps at this iteration. */
  envSteps: number;
  mean: number;
  /** Min and max over the runs (seeds and games): the band. */
  min: number;
  max: number;
  n: number;
}

/**
 * A scalar per (scheme, λ) and iteration over the runs that logged it: mean with a min–max band over seeds and
 * games. `value` reads the metric from a metrics record (null: not logged).
 */
export function bandPoints(runs: readonly LoadedRun[], value: (r: MetricsRecord) => number | null, options: { fine?: boolean } = {}): BandPoint[] {
  // fine: a (scheme, λ) line comes from diagnostics.jsonl (every few thousand agent steps, the same steps in every
  // run) when every run of that line has one; otherwise, and by default, one point per iteration from metrics.jsonl.
  // Decided per line, so one run made before the trace existed (the headline study's orig s0) coarsens its own arm only.
  const line = (run: LoadedRun) => `${seriesName(run)}|${run.weightDecay}`;
  const untraced = new Set(runs.filter((run) => run.diagnostics.length === 0).map(line));
  const acc = new Map<string, { scheme: string; lambda: string; iteration: number; steps: number[]; values: number[] }>();
  for (const run of runs) {
    const fine = options.fine === true && !untraced.has(line(run));
    for (const r of fine ? run.diagnostics : run.records) {
      const v = value(r);
      const steps = num(r, 'env_steps');
      if (v === null || !Number.isFinite(v) || steps === null) continue;
      const key = `${line(run)}|${fine ? steps : r.iteration}`;
      let a = acc.get(key);
      if (!a) acc.set(key, (a = { scheme: seriesName(run), lambda: formatLambda(run.weightDecay), iteration: r.iteration, steps: [], values: [] }));
      a.steps.push(steps);
      a.values.push(v);
    }
  }
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  return [...acc.values()]
    .map((a) => ({ scheme: a.scheme, lambda: a.lambda, iteration: a.iteration, envSteps: mean(a.steps), mean: mean(a.values), min: Math.min(...a.values), max: Math.max(...a.values), n: a.values.length }))
    .sort((a, b) => a.scheme.localeCompare(b.scheme) || a.lambda.localeCompare(b.lambda) || a.envSteps - b.envSteps);
}

/** ‖w‖ of the online network over training (from diagnostics.jsonl where every run of a line has one). */
export const weightNormPoints = (runs: readonly LoadedRun[]): BandPoint[] => bandPoints(runs, (r) => num(r, 'weight_norm'), { fine: true });

/**
 * The share of weights whose Adam denominator ε dominates (√v̂ < ε), per (scheme, λ); adam-separated's weight-decay
 * buffers as a series of their own ("<scheme> WD buffers").
 */
export function epsDominatedPoints(runs: readonly LoadedRun[]): BandPoint[] {
  const grad = bandPoints(runs, (r) => num(r, 'eps_dominated_share'), { fine: true });
  const wd = bandPoints(runs, (r) => num(r, 'eps_dominated_share_wd'), { fine: true }).map((p) => ({ ...p, scheme: `${p.scheme}: WD buffers` }));
  return [...grad, ...wd];
}

export function epsDominatedSpec(points: readonly BandPoint[], schemes: readonly string[]): Spec {
  return bandSpec(points, schemes, 'Where ε dominates Adam\'s denominator: share of weights with √v̂ < ε',
    'there the step is ≈ α·m̂/ε (momentum SGD with step α/ε) and a λw term in the buffer shrinks w by ≈ α·λ/ε per update; line: mean over runs, band: min–max', 'share of weights', false);
}

/** ‖Δw‖/‖w‖ of the last gradient step of each iteration: the effective step size. */
export const updateRatioPoints = (runs: readonly LoadedRun[]): BandPoint[] => bandPoints(runs, (r) => num(r, 'update_norm_ratio'));

/** One panel per scheme, one line per λ with its min–max band over runs. */
export function bandSpec(points: readonly BandPoint[], schemes: readonly string[], text: string, subtitle: string, yTitle: string, logScale: boolean): Spec {
  const lambdas = [...new Set(points.map((p) => p.lambda))].sort((a, b) => Number(b) - Number(a));
  // A log axis has no such tick: vega nices its domain out to whole decades (one value: a power of ten).
  const y = { type: 'quantitative', title: yTitle, ...(logScale ? { scale: { type: 'log' } } : { scale: { zero: false }, axis: oneValueAxis('y') }) };
  const colour = { field: 'lambda', type: 'ordinal', title: 'λ', sort: lambdas, scale: { scheme: 'plasma' }, legend: SOLID_LEGEND };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text, subtitle },
    data: { values: points },
    facet: { field: 'scheme', type: 'nominal', title: null, sort: schemes },
    columns: 4,
    spec: {
      width: 190,
      height: 140,
      encoding: { x: { field: 'envSteps', type: 'quantitative', title: 'agent steps', axis: SI_AXIS }, color: colour },
      layer: [
        { mark: { type: 'area', opacity: 0.2 }, encoding: { y: { field: 'min', ...y }, y2: { field: 'max' } } },
        {
          mark: { type: 'line', point: { size: 12 } },
          encoding: { y: { field: 'mean', ...y }, tooltip: [{ field: 'scheme' }, { field: 'lambda' }, { field: 'mean', format: '.3~g' }, { field: 'n' }] },
        },
      ],
    },
  };
}

export function weightNormSpec(points: readonly BandPoint[], schemes: readonly string[]): Spec {
  return bandSpec(points, schemes, 'Weight norm ‖w‖₂ over training', 'one panel per scheme, one line per λ; line: mean over runs, band: min–max over seeds and games', '‖w‖₂', true);
}

export function updateRatioSpec(points: readonly BandPoint[], schemes: readonly string[]): Spec {
  return bandSpec(points, schemes, 'Relative update ‖Δw‖/‖w‖ (effective step size)', "the last gradient step of each iteration; line: mean over runs, band: min–max over seeds and games", '‖Δw‖/‖w‖', true);
}

export interface SharePoint {
  series: string;
  envSteps: number;
  quantile: string;
  mean: number;
  min: number;
  max: number;
}

/**
 * The WD share of the first-moment buffer, |m_wd|/(|m_wd|+|m_grad|), per (scheme, λ): each quantile over weights
 * averaged over runs per iteration, with its min–max over runs. Only schemes that keep the two parts apart
 * (adam-l2, adam-separated) log it; decoupled schemes keep WD out of m altogether (share 0 by construction).
 */
export function wdSharePoints(runs: readonly LoadedRun[]): SharePoint[] {
  const out: SharePoint[] = [];
  for (const q of QUANTILE_KEYS) {
    for (const p of bandPoints(runs, (r) => {
      const share = r.moment_wd_share;
      return share && typeof share === 'object' ? num(share as MetricsRecord, q) : null;
    }, { fine: true })) {
      out.push({ series: `${p.scheme} λ=${p.lambda}`, envSteps: p.envSteps, quantile: q, mean: p.mean, min: p.min, max: p.max });
    }
  }
  return out.sort((a, b) => a.series.localeCompare(b.series) || a.quantile.localeCompare(b.quantile) || a.envSteps - b.envSteps);
}

export function wdShareSpec(points: readonly SharePoint[], seriesOrder: readonly string[]): Spec {
  const y = { type: 'quantitative', title: 'WD share of m', scale: { domain: [0, 1] } };
  return quantilePanels(
    {
      text: 'What fills Adam\'s first moment: the WD share |m_wd|/(|m_wd|+|m_grad|)',
      subtitle: 'quantiles over weights (p5…p95), mean over runs; band: min–max over seeds and games of the median (paper eq. 6, Fig. 7)',
    },
    points,
    seriesOrder,
    130,
    {
      layer: [
        { transform: [{ filter: "datum.quantile === 'p50'" }], mark: { type: 'area', opacity: 0.2 }, encoding: { y: { field: 'min', ...y }, y2: { field: 'max' } } },
        { mark: { type: 'line', strokeWidth: 1.4 }, encoding: { y: { field: 'mean', ...y } } },
      ],
    },
    { legend: SOLID_LEGEND },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// rliable's standard plots (Agarwal et al., NeurIPS 2021)

export interface IntervalDatum {
  row: string;
  metric: string;
  point: number;
  lower: number;
  upper: number;
}

/** Aggregate interval estimates: one panel per metric (IQM, median, mean, optimality gap), a row per scheme and λ. */
export function intervalEstimatesSpec(data: readonly IntervalDatum[], rows: readonly string[]): Spec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Aggregate metrics with 95% stratified-bootstrap intervals', subtitle: 'human-normalized scores; higher is better except the optimality gap' },
    data: { values: data },
    facet: { column: { field: 'metric', type: 'nominal', title: null, sort: ['IQM', 'median', 'mean', 'optimality gap'] } },
    resolve: { scale: { x: 'independent' } },
    spec: {
      width: 170,
      height: Math.max(60, 22 * rows.length),
      encoding: { y: { field: 'row', type: 'nominal', title: null, sort: [...rows], axis: { labelLimit: 300 } } },
      layer: [
        { mark: { type: 'rule', strokeWidth: 5, opacity: 0.5 }, encoding: { x: { field: 'lower', type: 'quantitative', title: null, scale: { zero: false, padding: 8 }, axis: oneValueAxis('child_x') }, x2: { field: 'upper' }, color: { field: 'row', type: 'nominal', legend: null } } },
        { mark: { type: 'tick', thickness: 2, color: '#222' }, encoding: { x: { field: 'point', type: 'quantitative' } } },
      ],
    },
  };
}

export interface ImprovementDatum {
  pair: string;
  point: number;
  lower: number;
  upper: number;
}

/** Probability of improvement P(X > Y) with its interval per pair; 0.5 = no difference (dashed). */
export function improvementSpec(data: readonly ImprovementDatum[]): Spec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Probability of improvement P(X > Y)', subtitle: '95% stratified-bootstrap intervals; dashed: 0.5, no difference' },
    data: { values: data.map((d) => ({ ...d, even: 0.5 })) },
    width: 360,
    height: Math.max(60, 22 * data.length),
    encoding: { y: { field: 'pair', type: 'nominal', title: null, sort: data.map((d) => d.pair), axis: { labelLimit: 420 } } },
    layer: [
      { mark: { type: 'rule', strokeWidth: 5, opacity: 0.5, color: '#1f77b4' }, encoding: { x: { field: 'lower', type: 'quantitative', title: 'P(X > Y)', scale: { domain: [0, 1] } }, x2: { field: 'upper' } } },
      { mark: { type: 'tick', thickness: 2, color: '#222' }, encoding: { x: { field: 'point', type: 'quantitative' } } },
      { mark: { type: 'rule', strokeDash: [4, 3], color: '#888' }, encoding: { x: { field: 'even', type: 'quantitative' }, y: null } },
    ],
  };
}

export interface BandedCurveDatum {
  row: string;
  x: number;
  point: number;
  lower: number;
  upper: number;
}

function bandedCurveSpec(data: readonly BandedCurveDatum[], rows: readonly string[], text: string, subtitle: string, xTitle: string, yTitle: string, yDomain: [number, number] | null): Spec {
  const y = { type: 'quantitative', title: yTitle, ...(yDomain ? { scale: { domain: yDomain } } : { scale: { zero: false }, axis: oneValueAxis('y') }) };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text, subtitle },
    data: { values: data },
    width: 420,
    height: 260,
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, axis: SI_AXIS },
      color: { field: 'row', type: 'nominal', title: 'scheme, λ', sort: [...rows], scale: { scheme: 'tableau10' }, legend: SOLID_LEGEND },
    },
    layer: [
      { mark: { type: 'area', opacity: 0.15 }, encoding: { y: { field: 'lower', ...y }, y2: { field: 'upper' } } },
      { mark: { type: 'line', strokeWidth: 1.8 }, encoding: { y: { field: 'point', ...y }, tooltip: [{ field: 'row' }, { field: 'x' }, { field: 'point', format: '.3f' }] } },
    ],
  };
}

/** Performance profile: fraction of runs with a human-normalized score above τ, with bootstrap bands. */
export function profileSpec(data: readonly BandedCurveDatum[], rows: readonly string[]): Spec {
  return bandedCurveSpec(data, rows, 'Performance profiles (run score distributions)', 'fraction of runs × games above τ; bands: 95% stratified-bootstrap intervals', 'human-normalized score τ', 'fraction of runs > τ', [0, 1]);
}

/** Sample-efficiency curve: IQM of human-normalized training return against agent steps, with bootstrap bands. */
export function efficiencySpec(data: readonly BandedCurveDatum[], rows: readonly string[]): Spec {
  return bandedCurveSpec(data, rows, 'Sample efficiency: IQM against agent steps', 'IQM over runs × games of the human-normalized training return per iteration; bands: 95% stratified-bootstrap intervals', 'agent steps', 'IQM human-normalized score', null);
}
