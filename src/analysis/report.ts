// `npm run report`: one self-contained HTML page (no script, no external resource: SVG figures inline) with
// Table 1, human-normalized scores, rliable aggregates, probabilities of improvement, λ sensitivity and the
// training figures of a sweep.
import { displayName } from '../../envs/games.ts';
import {
  computeAggregates,
  performanceProfiles,
  sampleEfficiency,
  lambdaSensitivity,
  MIN_DISTINCT_RESAMPLES,
  normalizedCell,
  rowName,
  rowResamples,
  sensitivitySpread,
  type Aggregates,
} from './aggregates.ts';
import { buildComparison, comparisonExplanation, comparisonTable, comparisonTitle, COMPARISON_COLUMNS, CompareInputError } from './compare.ts';
import {
  curvePoints,
  efficiencySpec,
  improvementSpec,
  intervalEstimatesSpec,
  learningCurveSpec,
  seedPoints,
  profileSpec,
  mOverWPoints,
  mOverWSpec,
  plottedRows,
  renderSvg,
  type FigureSpec,
  sensitivityAggregateSpec,
  sensitivityData,
  sensitivityPerGameSpec,
  updateRatioPoints,
  updateRatioSpec,
  wdSharePoints,
  wdShareSpec,
  weightNormPoints,
  epsDominatedPoints,
  epsDominatedSpec,
  weightNormSpec,
} from './figures.ts';
import { reportBands } from './baseline.ts';
import { loadHumanReference, loadPaperTable } from './reference.ts';
import { curveMetric, scoreSpecName, type ScoreSpec } from './score.ts';
import { formatLambda } from '../format.ts';
import { loadSweep, type SweepResults } from './sweep_results.ts';
import { budgetLines, buildTable1, captionLines, cellKey, formatCell, runNotes, scoreViews, tableTitle, type Table1 } from './table1.ts';
import type { Interval } from './stats.ts';

export interface ReportOptions {
  score: ScoreSpec;
  extraScores?: readonly ScoreSpec[];
  includeIncomplete?: boolean;
  comparePaper?: boolean;
  /** Bootstrap replicates for the intervals. */
  reps?: number;
  seed?: string;
  /** The sweep's path as the user gave it, for the page (default: the absolute path). */
  label?: string;
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1180px;color:#222;line-height:1.4;padding:0 12px}
h1{font-size:1.5em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em;font-size:1.2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.86em}th,td{border:1px solid #ccc;padding:3px 7px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td.label,th.label{text-align:left}.caption{font-size:.85em;color:#444;max-width:1100px}
.notes{font-size:.8em;color:#555}.flag{color:#b00}figure{margin:1em 0}figure svg{max-width:100%;height:auto}
.budget{font-weight:600;background:#fff8e1;border:1px solid #f0d890;padding:6px 10px;display:inline-block}
`;

function table1Html(table: Table1): string {
  const views = scoreViews(table);
  const scoreHead = views.length > 1 ? '<th class="label">score</th>' : '';
  const head = `<tr><th class="label">scheme</th>${scoreHead}${table.games.map((g) => `<th>${escapeHtml(displayName(g))}</th>`).join('')}<th class="label">λ</th></tr>`;
  const body = table.rows
    .flatMap((row) =>
      views.map((view, v) => {
        const cells = table.games.map((g) => {
          const c = view.cells.get(cellKey(row, g))!;
          const why = [...(c.lowN ? ['fewer than 3 seeds counted'] : []), ...(c.excluded.length > 0 ? [`${c.excluded.length} run(s) not counted (see "What was left out")`] : [])];
          const cls = why.length > 0 ? ` class="flag" title="${escapeHtml(why.join('; '))}"` : '';
          return `<td${cls}>${escapeHtml(formatCell(c, 'html', table.comparePaper && v === 0))}</td>`;
        });
        const label = views.length > 1 ? `<td class="label">${escapeHtml(scoreSpecName(view.score))}</td>` : '';
        return `<tr><td class="label">${escapeHtml(row.scheme)}</td>${label}${cells.join('')}<td class="label">${formatLambda(row.weightDecay)}</td></tr>`;
      }),
    )
    .join('\n');
  const flagged = table.rows.some((row) => views.some((view) => table.games.some((g) => {
    const c = view.cells.get(cellKey(row, g))!;
    return c.lowN || c.excluded.length > 0;
  })));
  const legend = flagged
    ? '\n<p class="caption"><span class="flag">Red</span> cells: fewer than 3 seeds counted (n &lt; 3), or runs of the cell not counted; hover a cell for which.</p>'
    : '';
  return `<table id="table1">${head}\n${body}</table>${legend}`;
}

function normalizedHtml(table: Table1, refs: ReturnType<typeof loadHumanReference>): string {
  const games = table.games.filter((g) => refs.has(g));
  if (games.length === 0) return '<p>No game of this sweep has random/human reference scores.</p>';
  const head = `<tr><th class="label">scheme</th>${games.map((g) => `<th>${escapeHtml(displayName(g))}</th>`).join('')}<th class="label">λ</th></tr>`;
  const body = table.rows
    .map((row) => {
      const cells = games.map((g) => {
        const s = normalizedCell(table.cells.get(cellKey(row, g))!, refs);
        if (s === null) return '<td>—</td>';
        return `<td>${s.mean.toFixed(3)}${s.std === null ? '' : ` ± ${s.std.toFixed(3)}`} (n=${s.n})</td>`;
      });
      return `<tr><td class="label">${escapeHtml(row.scheme)}</td>${cells.join('')}<td class="label">${formatLambda(row.weightDecay)}</td></tr>`;
    })
    .join('\n');
  return `<table id="normalized">${head}\n${body}</table>`;
}

/**
 * A point with its bootstrap interval, or the point alone with the reason: one run per game leaves nothing to
 * resample, and a bootstrap with fewer than MIN_DISTINCT_RESAMPLES different samples gives no 95 % interval.
 */
const ci = (i: Interval, runsPerGame: number, resamples: number, d = 3) => {
  const none = runsPerGame < 2 ? `n = ${runsPerGame}: no interval` : resamples < MIN_DISTINCT_RESAMPLES ? `${resamples.toLocaleString('en-US')} distinct resamples: no interval` : null;
  return `${i.point.toFixed(d)} <span class="notes">${none === null ? `[${i.lower.toFixed(d)}, ${i.upper.toFixed(d)}]` : `(${none})`}</span>`;
};

/** The rows (by name) whose bootstrap has enough distinct resamples to draw an interval. */
function bootstrappable(a: Aggregates): Set<string> {
  return new Set(a.rows.filter((r) => rowResamples(a, r) >= MIN_DISTINCT_RESAMPLES).map((r) => rowName(r.row)));
}

/** What the figures draw for a row without a trustworthy interval: the point, with no band. */
const pointOnly = (i: Interval): Interval => ({ point: i.point, lower: i.point, upper: i.point });

function aggregatesHtml(a: Aggregates): string {
  if (a.rows.length === 0) return '<p>No aggregates (see the notes).</p>';
  const head = '<tr><th class="label">scheme</th><th class="label">λ</th><th>runs/game</th><th>IQM</th><th>median</th><th>mean</th><th>optimality gap</th></tr>';
  const body = a.rows
    .map((r) => {
      const cell = (i: Interval) => `<td>${ci(i, r.runsPerGame, rowResamples(a, r))}</td>`;
      return `<tr><td class="label">${escapeHtml(r.row.scheme)}</td><td class="label">${formatLambda(r.row.weightDecay)}</td><td>${r.runsPerGame}</td>` +
        `${cell(r.iqm)}${cell(r.median)}${cell(r.mean)}${cell(r.optimalityGap)}</tr>`;
    })
    .join('\n');
  return `<table id="aggregates">${head}\n${body}</table>`;
}

function improvementsHtml(a: Aggregates): string {
  if (a.improvements.length === 0) return '<p>No pair of schemes to compare.</p>';
  const row = (r: Aggregates['rows'][number]['row']) => a.rows.find((x) => x.row === r)!;
  const body = a.improvements
    .map((i) => {
      const [x, y] = [row(i.x), row(i.y)];
      // An interval only when each side has one: X and Y are resampled independently, each as few ways as its runs allow.
      const cell = ci(i.interval, Math.min(x.runsPerGame, y.runsPerGame), Math.min(rowResamples(a, x), rowResamples(a, y)));
      return `<tr><td class="label">${escapeHtml(rowName(i.x))}</td><td class="label">${escapeHtml(rowName(i.y))}</td><td>${cell}</td></tr>`;
    })
    .join('\n');
  return `<table id="improvement"><tr><th class="label">X</th><th class="label">Y</th><th>P(X &gt; Y)</th></tr>\n${body}</table>`;
}

/** compare.ts's seed-by-seed table (Welch's interval, exact permutation p): the statistics of a small study. */
function comparisonHtml(sweep: SweepResults, score: ScoreSpec): string {
  let c;
  try {
    c = buildComparison(sweep, { score });
  } catch (error) {
    if (!(error instanceof CompareInputError)) throw error;
    return `<p class="notes">No seed-by-seed comparison: ${escapeHtml(error.message)}</p>`;
  }
  const { rows, notCounted } = comparisonTable(c);
  const label = (i: number) => (COMPARISON_COLUMNS[i].text ? ' class="label"' : '');
  const head = `<tr>${COMPARISON_COLUMNS.map((c, i) => `<th${label(i)}>${escapeHtml(c.title)}</th>`).join('')}</tr>`;
  const body = rows.map((r) => `<tr>${r.map((v, i) => `<td${label(i)}>${escapeHtml(v)}</td>`).join('')}</tr>`).join('\n');
  return [
    `<h2>${escapeHtml(comparisonTitle(c))}</h2>`,
    // Without its first line, the budget: the page's banner says it.
    `<div class="caption">${comparisonExplanation(c).slice(1).map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</div>`,
    `<table id="comparison">${head}\n${body}</table>`,
    ...(notCounted.length > 0 ? [`<ul class="notes">${notCounted.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`] : []),
  ].join('\n');
}

/**
 * One figure of the report: also written next to the page as figures/<id>.svg, its Vega-Lite spec (<id>.vl.json)
 * and the plotted rows (<id>.csv), for papers and slides.
 */
export interface ReportFigure {
  id: string;
  svg: string;
  spec: FigureSpec;
  rows: Array<Record<string, unknown>>;
}

type FigureMaker = (id: string, spec: FigureSpec, caption: string) => Promise<string>;

/**
 * rliable's standard plots of the aggregates: interval estimates, probability of improvement, profiles, efficiency;
 * with a band or bar only for the rows in `ok` (bootstrappable).
 */
async function rliablePlots(
  table: Table1,
  aggregates: Aggregates,
  ok: ReadonlySet<string>,
  refs: ReturnType<typeof loadHumanReference>,
  figure: FigureMaker,
): Promise<string[]> {
  if (aggregates.rows.length === 0) return [];
  const parts: string[] = [];
  const rows = aggregates.rows.map((r) => rowName(r.row));
  const n = Math.min(...aggregates.rows.map((r) => r.runsPerGame));
  const shown = (row: string, i: Interval) => (ok.has(row) ? i : pointOnly(i));
  const single = n < 2 ? ' With one run per game there is nothing to resample: the intervals have zero width (n = 1: no interval).'
    : ok.size < rows.length ? ` No interval is drawn for ${rows.filter((r) => !ok.has(r)).join(', ')}: too few runs for a bootstrap (fewer than ${MIN_DISTINCT_RESAMPLES.toLocaleString('en-US')} distinct resamples); judge them seed by seed (the comparison above).`
    : '';
  const metrics: Array<[string, keyof Pick<Aggregates['rows'][number], 'iqm' | 'median' | 'mean' | 'optimalityGap'>]> = [['IQM', 'iqm'], ['median', 'median'], ['mean', 'mean'], ['optimality gap', 'optimalityGap']];
  const intervals = aggregates.rows.flatMap((r) => metrics.map(([metric, key]) => ({ row: rowName(r.row), metric, ...shown(rowName(r.row), r[key]) })));
  parts.push(await figure('fig-rliable-intervals', intervalEstimatesSpec(intervals, rows), `rliable's interval estimates: the aggregates of the table above as bars (95% stratified-bootstrap intervals) and ticks (point estimates).${single}`));
  if (aggregates.improvements.length > 0) {
    const pairs = aggregates.improvements.map((i) => ({
      pair: `${rowName(i.x)} > ${rowName(i.y)}`,
      ...(ok.has(rowName(i.x)) && ok.has(rowName(i.y)) ? i.interval : pointOnly(i.interval)),
    }));
    parts.push(await figure('fig-rliable-improvement', improvementSpec(pairs), `Probability of improvement with its 95% interval, per pair of the table above.${single}`));
  }
  const profile = performanceProfiles(aggregates).map((p) => ({ row: p.row, x: p.tau, ...shown(p.row, p.fraction) }));
  parts.push(await figure('fig-rliable-profiles', profileSpec(profile, rows), `Performance profiles over ${aggregates.games.length} game(s): for each τ, the fraction of runs × games whose human-normalized score exceeds τ (rliable's run score distribution), with 95% stratified-bootstrap bands (${Math.min(aggregates.reps, 1000)} replicates).${single}`));
  const efficiency = sampleEfficiency(table, aggregates, refs).map((p) => ({ row: p.row, x: p.envSteps, ...shown(p.row, p.iqm) }));
  if (efficiency.length > 0) {
    parts.push(await figure('fig-rliable-efficiency', efficiencySpec(efficiency, rows), `Sample efficiency: IQM of the human-normalized training return of each iteration against agent steps, same runs and games as the aggregates, with 95% stratified-bootstrap bands (${Math.min(aggregates.reps, 1000)} replicates).${single}`));
  }
  return parts;
}

/** Builds the page, and its figures as standalone SVGs, from a loaded sweep. */
export async function buildReportHtml(sweep: SweepResults, options: ReportOptions): Promise<{ html: string; figures: ReportFigure[] }> {
  const figures: ReportFigure[] = [];
  const figure: FigureMaker = async (id, spec, caption) => {
    const svg = await renderSvg(spec);
    figures.push({ id, svg, spec, rows: plottedRows(spec) });
    return `<figure id="${id}">${svg}<figcaption class="caption">${escapeHtml(caption)}</figcaption></figure>`;
  };
  const paper = loadPaperTable();
  const refs = loadHumanReference();
  const table = buildTable1(sweep, {
    score: options.score,
    extraScores: options.extraScores ?? [],
    paper,
    includeIncomplete: options.includeIncomplete,
    comparePaper: options.comparePaper ?? true,
  });
  const aggregates = computeAggregates(table, refs, { reps: options.reps, seed: options.seed });
  const sens = lambdaSensitivity(table, aggregates);
  const parts: string[] = [];

  parts.push(`<h1>Weight decay in DQN: sweep report</h1>`);
  parts.push(`<p class="caption">Sweep: <code>${escapeHtml(options.label ?? sweep.root)}</code> — ${sweep.runs.length} readable run(s), ${sweep.skipped.length} skipped, ${sweep.missing.length} planned but not started.</p>`);
  const banner = budgetLines(table);
  parts.push(`<div class="budget" id="budget">${banner.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</div>`);

  parts.push(`<h2>${escapeHtml(tableTitle(table))}</h2>`);
  parts.push(`<div class="caption">${captionLines(table).slice(banner.length).map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</div>`);
  parts.push(table1Html(table));

  parts.push('<h2>Human-normalized scores</h2>');
  parts.push('<p class="caption">(score − random)/(human − random) per run (reference scores: data/reference/atari_reference_scores.csv), then mean ± std over seeds; same runs as Table 1.</p>');
  parts.push(normalizedHtml(table, refs));

  parts.push(comparisonHtml(sweep, options.score));

  parts.push('<h2>Aggregates over games and seeds (rliable)</h2>');
  parts.push(
    `<p class="caption">Agarwal et al. (NeurIPS 2021): interquartile mean, median and mean of human-normalized scores, and optimality gap (shortfall below human level, γ = 1), over ${aggregates.games.length} game(s) (${aggregates.games.map(displayName).join(', ') || 'none'}). ` +
      `Brackets: 95% percentile interval of a stratified bootstrap (runs resampled within each game), ${aggregates.reps} replicates, seed "${escapeHtml(aggregates.seed)}".</p>`,
  );
  parts.push(aggregatesHtml(aggregates));
  parts.push('<p class="caption">Probability of improvement P(X &gt; Y): chance that a run of X beats a run of Y on a game, averaged over games (ties count ½); 0.5 = no difference.</p>');
  parts.push(improvementsHtml(aggregates));
  if (aggregates.notes.length > 0) parts.push(`<ul class="notes">${aggregates.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);
  // Which rows have enough runs for a bootstrap interval: decided once, for the rliable plots and the λ sensitivity.
  const ok = bootstrappable(aggregates);
  parts.push(...(await rliablePlots(table, aggregates, ok, refs, figure)));

  parts.push('<h2>λ sensitivity</h2>');
  parts.push('<p class="caption">The paper\'s central claim: decoupled weight decay is stable across λ while Adam+L2 (WD) is not. Spread = max − min over λ of the IQM of human-normalized score.</p>');
  const spread = sensitivitySpread(sens.points);
  if (spread.length > 0) {
    parts.push(
      `<table id="sensitivity"><tr><th class="label">scheme</th><th>λ values</th><th>worst IQM</th><th>best IQM</th><th>spread</th></tr>${spread
        .map((s) => `<tr><td class="label">${escapeHtml(s.scheme)}</td><td>${s.lambdas}</td><td>${s.min.toFixed(3)}</td><td>${s.max.toFixed(3)}</td><td>${s.spread.toFixed(3)}</td></tr>`)
        .join('')}</table>`,
    );
  }
  const sd = sensitivityData(sens.points.map((p) => (p.iqm === null || ok.has(p.name) ? p : { ...p, iqm: pointOnly(p.iqm) })));
  if (sd.aggregate.length > 0) {
    const spec = sensitivityAggregateSpec(sd.aggregate, sens.reference?.iqm?.point ?? null, aggregates.games.length);
    const without = ok.size < aggregates.rows.length ? ' Points without a bar: too few runs for a bootstrap interval (see the aggregates).' : '';
    parts.push(await figure('fig-sensitivity', spec, `x: λ on a log scale; y: IQM of human-normalized score with its bootstrap 95% interval; one line per scheme; dashed: orig (Adam, λ = 0).${without}`));
  }
  if (sd.perGame.length > 0) {
    const ref = new Map<string, number>();
    for (const [g, s] of sens.reference?.perGame ?? []) if (s !== null) ref.set(displayName(g), s.mean);
    const spec = sensitivityPerGameSpec(sd.perGame, ref, table.games);
    parts.push(await figure('fig-sensitivity-games', spec, 'Per game: score (mean ± std over seeds) against λ; dashed: orig.'));
  }
  if (sd.perGame.length === 0 && sd.aggregate.length === 0) parts.push('<p>No run with λ &gt; 0 has a score yet.</p>');

  parts.push('<h2>Learning curves</h2>');
  const metric = curveMetric(options.score);
  const yTitle = metric === 'eval_return_mean' ? 'evaluation return' : 'training return';
  const lambdas = [...new Set(sweep.runs.filter((r) => r.weightDecay > 0).map((r) => r.weightDecay))].sort((a, b) => b - a);
  const groups = lambdas.length === 0 ? [null] : lambdas;
  for (const lambda of groups) {
    const runs = sweep.runs.filter((r) => r.weightDecay === 0 || r.weightDecay === lambda);
    const points = curvePoints(runs, metric);
    if (points.length === 0) continue;
    const title = lambda === null ? 'Learning curves' : `Learning curves at λ = ${formatLambda(lambda)} (orig: λ = 0)`;
    // Dopamine's published curves are training returns: the band goes under training-return curves only.
    const reference = metric === 'train_return_mean' ? reportBands(runs) : null;
    const spec = learningCurveSpec(points, title, yTitle, table.games, { reference: reference?.bands, seeds: seedPoints(runs, metric) });
    parts.push(
      await figure(
        `fig-curves-${lambda === null ? '0' : formatLambda(lambda)}`,
        spec,
        `${yTitle} per iteration against agent steps (env_steps): line = mean over seeds, band = min–max over seeds, dots = the seeds; every readable run, unfinished ones included (Figure 6 of the paper).` +
          (reference ? ` ${reference.caption}` : ''),
      ),
    );
  }

  parts.push('<h2>Optimizer state over training</h2>');
  const mw = mOverWPoints(sweep.runs);
  if (mw.length > 0) {
    const order = table.rows.map((r) => `${r.scheme} λ=${formatLambda(r.weightDecay)}`);
    parts.push(await figure('fig-m-over-w', mOverWSpec(mw, order), 'Quantiles (p5…p95) over the weights of log10 |m|/|w| (first moment over weight), per scheme and λ (Figure 7 left of the paper, for DQN).'));
  } else {
    parts.push('<p>No run recorded m_over_w_log10.</p>');
  }
  const schemes = [...new Set(table.rows.map((r) => r.scheme))];
  const share = wdSharePoints(sweep.runs);
  if (share.length > 0) {
    const order = table.rows.map((r) => `${r.scheme} λ=${formatLambda(r.weightDecay)}`);
    parts.push(await figure('fig-wd-share', wdShareSpec(share, order),
      'The paper\'s mechanism: with Adam+L2 (WD) the λw term fills the first moment m and drowns the gradient (eq. 6; a share near 1); ' +
        'separated keeps its own buffer for it (shown: its share against the gradient buffer); decoupled never puts WD in m (share 0, not plotted).'));
  } else {
    parts.push('<p>No run recorded moment_wd_share (adam-l2 or adam-separated runs made from 2026-12-02 on log it).</p>');
  }
  const wn = weightNormPoints(sweep.runs);
  if (wn.length > 0) {
    parts.push(await figure('fig-weight-norm', weightNormSpec(wn, schemes), 'Weight norm ‖w‖₂ of the online network (log scale) per iteration; band: min–max over seeds and games.'));
  }
  const eps = epsDominatedPoints(sweep.runs);
  if (eps.length > 0) {
    const epsSchemes = [...new Set(eps.map((p) => p.scheme))].sort((a, b) => schemes.indexOf(a.split(':')[0]) - schemes.indexOf(b.split(':')[0]) || a.localeCompare(b));
    parts.push(await figure('fig-eps-dominated', epsDominatedSpec(eps, epsSchemes),
      'Share of weights whose Adam denominator is dominated by ε (√v̂ < ε, v̂ the bias-corrected second moment), per scheme and λ; ' +
        'for separated also its weight-decay buffers. Near 1, any λw term normalised by that denominator shrinks the weights by ≈ α·λ/ε per update, whichever buffer it sits in.'));
  }
  const du = updateRatioPoints(sweep.runs);
  if (du.length > 0) {
    parts.push(await figure('fig-update-ratio', updateRatioSpec(du, schemes), 'Relative update ‖Δw‖/‖w‖ of the last gradient step of each iteration (the effective learning rate; log scale); band: min–max over seeds and games.'));
  }

  const notes = runNotes(table);
  parts.push('<h2>What was left out</h2>');
  parts.push(notes.length === 0 ? '<p>Nothing: every run was read and counted.</p>' : `<ul class="notes" id="notes">${notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>`);

  const html =
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>Sweep report: ${escapeHtml(options.label ?? sweep.root)}</title><style>${CSS}</style></head><body>\n` +
    parts.join('\n') +
    '\n</body></html>\n';
  return { html, figures };
}

export async function buildReport(dir: string, options: ReportOptions): Promise<{ html: string; figures: ReportFigure[]; sweep: SweepResults }> {
  const sweep = loadSweep(dir);
  return { ...(await buildReportHtml(sweep, { label: dir, ...options })), sweep };
}
