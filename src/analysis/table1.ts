// Table 1 of Bjorck et al. (AAAI 2021) rebuilt from a sweep: the table model (which runs count in which cell, and
// why others do not) and its three renderings, Markdown, CSV and LaTeX. Rows follow the paper's order
// (data/reference/bjorck2021_table1.csv), columns the paper's games, λ last.
//
// Which runs a cell counts: every run with status `completed` and a score. Runs still in progress (running,
// interrupted, incomplete) stopped short of the budget, so their score is not comparable: they are left out and
// named in the cell ("1 unfinished") unless includeIncomplete is set, which counts them at their last completed
// iteration and marks the cell †. Diverged and failed runs never count (there is no score at the budget) and are
// always named in the cell, since a λ that makes runs diverge is itself a result.
import { displayName } from '../../envs/games.ts';
import { formatLambda } from '../format.ts';
import { decoupledStepVanishesInFloat32 } from '../optim/decay.ts';
import { appliedDecayFactor, decoupledSettings, FLOAT32_NO_OP_NOTE, formatAppliedFactor, formatDecayFactor, PAPER_UPDATES, totalDecayFactor } from '../run/decay_budget.ts';
import { median, meanStd, type MeanStd } from './stats.ts';
import { PAPER_GAMES, schemeLabel } from '../paper.ts';
import { loadHumanReference, loadScoreRanges, paperValueFlag, type PaperRow } from './reference.ts';
import { describeScore, scoreRun, scoreSpecName, type ScoreSpec } from './score.ts';
import {
  describeRun,
  formatBudget,
  PAPER_MATCHED,
  rowKeyString,
  type Budget,
  type LoadedRun,
  type RowKey,
  type SweepResults,
} from './sweep_results.ts';

/** Statuses of a run that can still be resumed to its budget. */
export const UNFINISHED_STATUSES: readonly string[] = ['running', 'interrupted', 'incomplete'];
export const LOW_N = 3;

export interface TableRow extends RowKey {
  key: string;
  /** Paper label (orig, decoupled, WD, separated) or the optimizer name, plus a non-constant schedule. */
  scheme: string;
  paper: PaperRow | null;
}

export interface CountedScore {
  run: LoadedRun;
  value: number;
  /** Counted although the run has not completed (includeIncomplete). */
  incomplete: boolean;
}

export interface ExcludedRun {
  run: LoadedRun;
  /** 'unfinished' | 'diverged' | 'failed' | 'no score' */
  category: string;
  reason: string;
}

export interface TableCell {
  row: TableRow;
  game: string;
  counted: CountedScore[];
  stats: MeanStd | null;
  /** 0 < n < 3: too few seeds for the std to mean much. */
  lowN: boolean;
  excluded: ExcludedRun[];
  paper: number | null;
  /** Why the paper's value cannot be taken at face value (outside the game's range, below random), or null. */
  paperFlag: 'impossible' | 'below random' | null;
}

/** The cells of one score definition: Table 1 has its main score, and may show others beside it. */
export interface ScoreView {
  score: ScoreSpec;
  cells: Map<string, TableCell>;
}

export interface Table1 {
  rows: TableRow[];
  games: string[];
  /** The cells of the main score (`score`), which the aggregates and figures use. */
  cells: Map<string, TableCell>;
  score: ScoreSpec;
  /** Further scores shown beside the main one, one line each under it (`--score final --score last:5`). */
  extraScores: ScoreView[];
  budgets: Budget[];
  includeIncomplete: boolean;
  comparePaper: boolean;
  /** Sweep-level lines for the notes: skipped runs, runs not started, warnings. */
  notes: string[];
}

export interface Table1Options {
  score: ScoreSpec;
  extraScores?: readonly ScoreSpec[];
  includeIncomplete?: boolean;
  /** The paper's rows: they fix the row order; their values are shown only with comparePaper. */
  paper: readonly PaperRow[];
  comparePaper?: boolean;
}

export function cellKey(row: Pick<TableRow, 'key'>, game: string): string {
  return `${row.key}#${game}`;
}

function rowOf(k: RowKey, paper: readonly PaperRow[]): TableRow {
  const match = k.schedule === 'constant' ? paper.find((p) => p.optimizer === k.optimizer && p.lambda === k.weightDecay) : undefined;
  const base = schemeLabel(k.optimizer);
  return {
    optimizer: k.optimizer,
    schedule: k.schedule,
    weightDecay: k.weightDecay,
    key: rowKeyString(k),
    scheme: k.schedule === 'constant' ? base : `${base} (${k.schedule})`,
    paper: match ?? null,
  };
}

/** Paper rows first in the paper's order, then anything else by optimizer and decreasing λ. */
function orderRows(rows: TableRow[], paper: readonly PaperRow[]): TableRow[] {
  const paperIndex = (r: TableRow) => (r.paper === null ? Infinity : paper.indexOf(r.paper));
  return rows.sort(
    (a, b) =>
      paperIndex(a) - paperIndex(b) ||
      a.optimizer.localeCompare(b.optimizer) ||
      a.schedule.localeCompare(b.schedule) ||
      b.weightDecay - a.weightDecay,
  );
}

export function orderGames(games: Iterable<string>): string[] {
  const set = new Set(games);
  const paper = PAPER_GAMES.filter((g) => set.has(g));
  const others = [...set].filter((g) => !PAPER_GAMES.includes(g)).sort();
  return [...paper, ...others];
}

function exclusion(run: LoadedRun, includeIncomplete: boolean): ExcludedRun | null {
  if (run.status === 'completed') return null;
  const progress = `${run.records.length}/${run.iterationsPlanned} iterations`;
  if (UNFINISHED_STATUSES.includes(run.status)) {
    return includeIncomplete ? null : { run, category: 'unfinished', reason: `${run.status}, ${progress}` };
  }
  const category = run.status === 'diverged' || run.status === 'failed' ? run.status : 'unfinished';
  return { run, category, reason: `${run.status} after ${progress}` };
}

export function buildTable1(sweep: SweepResults, options: Table1Options): Table1 {
  const { score, paper } = options;
  const includeIncomplete = options.includeIncomplete ?? false;
  const rowsByKey = new Map<string, TableRow>();
  const games = new Set<string>();
  const addRow = (k: RowKey) => {
    const key = rowKeyString(k);
    if (!rowsByKey.has(key)) rowsByKey.set(key, rowOf(k, paper));
  };
  for (const r of sweep.runs) {
    addRow(r);
    games.add(r.game);
  }
  // Planned runs not started yet still give their row and column, so the table shows the gap as "—".
  for (const m of sweep.missing) {
    if (m.optimizer !== undefined) addRow({ optimizer: m.optimizer, schedule: 'constant', weightDecay: m.weightDecay ?? 0 });
    if (m.game !== undefined) games.add(m.game);
  }
  const rows = orderRows([...rowsByKey.values()], paper);
  const gameList = orderGames(games);

  const ranges = loadScoreRanges();
  const human = loadHumanReference();
  const scoreCells = (spec: ScoreSpec): Map<string, TableCell> => {
    const cells = new Map<string, TableCell>();
    for (const row of rows) {
      for (const game of gameList) {
        const paperValue = row.paper?.scores.get(game) ?? null;
        cells.set(cellKey(row, game), {
          row,
          game,
          counted: [],
          stats: null,
          lowN: false,
          excluded: [],
          paper: paperValue,
          paperFlag: paperValue === null ? null : paperValueFlag(game, paperValue, ranges, human),
        });
      }
    }
    for (const run of [...sweep.runs].sort((a, b) => a.seed - b.seed)) {
      const cell = cells.get(cellKey({ key: rowKeyString(run) }, run.game))!;
      const out = exclusion(run, includeIncomplete);
      if (out !== null) {
        cell.excluded.push(out);
        continue;
      }
      const s = scoreRun(run, spec);
      if (s.value === null) cell.excluded.push({ run, category: 'no score', reason: s.reason });
      else cell.counted.push({ run, value: s.value, incomplete: run.status !== 'completed' });
    }
    for (const cell of cells.values()) {
      if (cell.counted.length > 0) {
        cell.stats = meanStd(cell.counted.map((c) => c.value));
        cell.lowN = cell.stats.n < LOW_N;
      }
    }
    return cells;
  };
  const cells = scoreCells(score);
  const extraScores = (options.extraScores ?? [])
    .filter((spec) => scoreSpecName(spec) !== scoreSpecName(score))
    .map((spec) => ({ score: spec, cells: scoreCells(spec) }));

  const notes: string[] = [];
  for (const s of sweep.skipped) notes.push(`skipped ${s.id} (${s.dir}): ${s.reason}`);
  if (sweep.missing.length > 0) {
    notes.push(`${sweep.missing.length} planned run(s) not started: ${sweep.missing.map((m) => m.id).join(', ')}`);
  }
  notes.push(...sweep.warnings);
  return {
    rows,
    games: gameList,
    cells,
    score,
    extraScores,
    budgets: sweep.budgets,
    includeIncomplete,
    comparePaper: options.comparePaper ?? false,
    notes,
  };
}

// ---------------------------------------------------------------------------
// Formatting

/** Decimals for a score: integers from 100 up (as the paper prints), 1 decimal from 10, else 2. */
export function scoreDecimals(mean: number, std: number | null = null): number {
  const size = Math.max(Math.abs(mean), std ?? 0);
  return size >= 100 ? 0 : size >= 10 ? 1 : 2;
}

function fixed(v: number, decimals: number, thousands: boolean): string {
  const text = thousands
    ? v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals })
    : v.toFixed(decimals);
  return text === '-0' || /^-0\.0*$/.test(text) ? text.slice(1) : text;
}

function excludedSummary(cell: TableCell): string {
  const counts = new Map<string, number>();
  for (const e of cell.excluded) counts.set(e.category, (counts.get(e.category) ?? 0) + 1);
  return [...counts].map(([c, n]) => `${n} ${c}`).join(', ');
}

type Flavour = 'md' | 'tex' | 'html';

const SYMBOLS: Record<Flavour, { pm: string; lowN: string; dagger: string; refilled: string; dash: string }> = {
  md: { pm: '±', lowN: '*', dagger: '†', refilled: '‡', dash: '—' },
  html: { pm: '±', lowN: '*', dagger: '†', refilled: '‡', dash: '—' },
  tex: { pm: '$\\pm$', lowN: '$^*$', dagger: '$^\\dagger$', refilled: '$^\\ddagger$', dash: '---' },
};

/** One cell's text: "2,293 ± 120 (n=3)", "52.0 (n=1*)", "—", plus flags and the paper's value. */
export function formatCell(cell: TableCell, flavour: Flavour, comparePaper: boolean): string {
  const sym = SYMBOLS[flavour];
  const thousands = flavour !== 'tex';
  const parts: string[] = [];
  if (cell.stats === null) {
    parts.push(sym.dash);
  } else {
    const { mean, std, n } = cell.stats;
    const d = scoreDecimals(mean, std);
    const spread = std === null ? '' : ` ${sym.pm} ${fixed(std, d, thousands)}`;
    const dagger = cell.counted.some((c) => c.incomplete) ? sym.dagger : '';
    const refilled = cell.counted.some((c) => c.run.replayRefills > 0) ? sym.refilled : '';
    parts.push(`${fixed(mean, d, thousands)}${spread} (n=${n}${cell.lowN ? sym.lowN : ''})${dagger}${refilled}`);
  }
  if (cell.excluded.length > 0) parts.push(`[${excludedSummary(cell)}]`);
  if (comparePaper && cell.paper !== null) parts.push(`(paper ${fixed(cell.paper, 0, thousands)}${cell.paperFlag ? `, ${cell.paperFlag}` : ''})`);
  return parts.join(' ');
}

export function tableTitle(table: Table1): string {
  return 'Table 1: DQN score per weight-decay scheme and λ (mean over seeds)';
}

/**
 * What the budget can show about decoupled decay: per decoupled row, the total decay factor its runs applied (from
 * each run's own λ, α and number of updates; the median over the row's runs) against the paper's budget.
 */
export function decayBudgetLines(table: Table1): string[] {
  const lines: string[] = [];
  for (const row of table.rows) {
    const runs = table.games.flatMap((g) => {
      const c = table.cells.get(cellKey(row, g))!;
      return [...c.counted.map((x) => x.run), ...c.excluded.map((x) => x.run)];
    });
    const measured = runs.flatMap((run) => {
      const settings = decoupledSettings(run.config.agent && typeof run.config.agent === 'object' ? ((run.config.agent as Record<string, unknown>).optimizer as Record<string, unknown>) : undefined);
      const updates = run.records.at(-1)?.updates;
      return settings && typeof updates === 'number' ? [{ settings, updates, factor: appliedDecayFactor(settings, updates), exact: totalDecayFactor(settings, updates) }] : [];
    });
    if (measured.length === 0) continue;
    const factor = median(measured.map((m) => m.factor));
    const exact = median(measured.map((m) => m.exact));
    const updates = median(measured.map((m) => m.updates));
    const nominal = { ...measured[0].settings, weightDecay: row.weightDecay };
    const matched = row.schedule.includes(PAPER_MATCHED) ? ` (λ scaled to ${measured[0].settings.weightDecay.toPrecision(3)} to match the paper's decay)` : '';
    lines.push(
      `Decoupled decay, ${row.scheme} λ=${formatLambda(row.weightDecay)}${matched}: total decay factor ${formatDecayFactor(factor)} here ` +
        `(${updates.toLocaleString('en-US')} updates${measured.length > 1 ? `, median of ${measured.length} runs` : ''}` +
        `${formatDecayFactor(exact) === formatDecayFactor(factor) ? '' : `; exact arithmetic: ${formatDecayFactor(exact)}`}), ` +
        `${formatAppliedFactor(nominal, PAPER_UPDATES)} at the paper's budget (${PAPER_UPDATES.toLocaleString('en-US')} updates)` +
        `${measured.some((m) => decoupledStepVanishesInFloat32(m.settings)) ? `; ${FLOAT32_NO_OP_NOTE}` : ''}.`,
    );
  }
  if (lines.length > 0) {
    lines.push('Decay factors are what float32 applies to the weights (w·float32(1 − αλ) per step, rounded), not (1 − αλ)^n.');
  }
  if (lines.length > 0 && lines.some((l) => !l.includes('to match the paper'))) {
    lines.push(
      'Where the factor here is near 1, decoupled decay has barely acted and its row equals orig by construction; WD (Adam+L2) ' +
        'and separated put λw inside Adam\'s normalisation and act at once. --match-paper-decay scales λ to the paper\'s total decay.',
    );
  }
  return lines;
}

/** The budget and what it can show about decoupled decay: the report's banner. */
export function budgetLines(table: Table1): string[] {
  const lines: string[] = [];
  if (table.budgets.length === 0) lines.push('Budget: no valid runs.');
  else if (table.budgets.length === 1) lines.push(`Budget: ${formatBudget(table.budgets[0])}.`);
  else lines.push(`Budgets (MIXED, not comparable): ${table.budgets.map((b) => `${formatBudget(b)} [${b.runs} runs]`).join('; ')}.`);
  return [...lines, ...decayBudgetLines(table)];
}

/** Budget lines, score definition and legend: what the numbers mean. */
export function captionLines(table: Table1): string[] {
  const lines: string[] = budgetLines(table);
  for (const view of scoreViews(table)) lines.push(`${describeScore(view.score)} (--score ${scoreSpecName(view.score)})`);
  if (table.extraScores.length > 0) {
    lines.push(`Each scheme and λ has one line per score: ${scoreViews(table).map((v) => scoreSpecName(v.score)).join(', ')}; the aggregates and figures use ${scoreSpecName(table.score)}.`);
  }
  lines.push(
    'Cell: mean ± sample std (ddof 1) over seeds, n = seeds counted; * n < 3; — no valid run. ' +
      'Only completed runs count' +
      (table.includeIncomplete ? ', except that unfinished runs are included at their last iteration (†).' : '.') +
      ' [k unfinished / diverged / failed / no score]: runs of that cell not counted.',
  );
  if ([...table.cells.values()].some((c) => c.counted.some((r) => r.run.replayRefills > 0))) {
    lines.push('‡ a counted run was resumed without its replay memory (--no-save-replay) and refilled it: not an uninterrupted run.');
  }
  if (table.comparePaper) {
    lines.push(
      '(paper N): Bjorck, Weinberger & Gomes (AAAI 2021) Table 1, average over three seeds (data/reference/bjorck2021_table1.csv). ' +
        'Which number the paper\'s cells hold (final iteration, a mean over the last iterations, evaluation or training ' +
        'episodes) is not stated, so no score here is known to be its like. "impossible": outside the score range the ' +
        'game allows (data/reference/atari_score_ranges.csv); "below random": under random play (noop-start protocol, ' +
        'data/reference/atari_reference_scores.csv).',
    );
  }
  return lines;
}

function lambdaText(row: TableRow): string {
  return formatLambda(row.weightDecay);
}

/** The main score, then the extra ones: the lines of each table row, in order. */
export function scoreViews(table: Table1): ScoreView[] {
  return [{ score: table.score, cells: table.cells }, ...table.extraScores];
}

/** With several scores, the paper's value is printed on the first line of a row only. */
function showPaper(table: Table1, viewIndex: number): boolean {
  return table.comparePaper && viewIndex === 0;
}

export function renderMarkdown(table: Table1): string {
  const views = scoreViews(table);
  const scoreColumn = views.length > 1 ? ['score'] : [];
  const header = ['scheme', ...scoreColumn, ...table.games.map(displayName), 'λ'];
  const lines = [`**${tableTitle(table)}**`, '', ...captionLines(table).map((l) => `${l}  `), ''];
  lines.push(`| ${header.join(' | ')} |`, `|${header.map((h) => (h === 'scheme' || h === 'score' || h === 'λ' ? ':---' : '---:')).join('|')}|`);
  for (const row of table.rows) {
    views.forEach((view, v) => {
      const cells = table.games.map((g) => formatCell(view.cells.get(cellKey(row, g))!, 'md', showPaper(table, v)).replace(/\|/g, '\\|'));
      const label = views.length > 1 ? [scoreSpecName(view.score)] : [];
      lines.push(`| ${[row.scheme, ...label, ...cells].join(' | ')} | ${lambdaText(row)} |`);
    });
  }
  const details = runNotes(table);
  if (details.length > 0) lines.push('', ...details.map((d) => `- ${d}`));
  return `${lines.join('\n')}\n`;
}

/** Per-run lines: what was not counted where, and why. */
export function runNotes(table: Table1): string[] {
  const out: string[] = [];
  for (const row of table.rows) {
    for (const game of table.games) {
      const cell = table.cells.get(cellKey(row, game))!;
      for (const e of cell.excluded) out.push(`not counted: ${describeRun(e.run)} — ${e.reason} (${e.run.id})`);
      for (const c of cell.counted) {
        if (c.incomplete) out.push(`counted unfinished (†): ${describeRun(c.run)} — ${c.run.status}, ${c.run.records.length}/${c.run.iterationsPlanned} iterations`);
        if (c.run.replayRefills > 0) out.push(`counted with refilled replay (‡): ${describeRun(c.run)} — resumed ${c.run.replayRefills}× without its replay memory`);
      }
    }
  }
  return [...out, ...table.notes];
}

function csvField(v: string | number | boolean | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Long format, one line per (scheme, λ, game), full precision: easy to load (pandas: comment='#'). The caption
 * comes first as `#` lines, as in data/reference/.
 */
export function renderCsv(table: Table1): string {
  const header = [
    'scheme', 'optimizer', 'schedule', 'lambda', 'game', 'score', 'mean', 'std', 'n', 'low_n',
    'counted_unfinished', 'counted_refilled_replay', 'not_counted', 'paper', 'paper_flag', 'runs', 'scores',
  ];
  const lines = [...[tableTitle(table), ...captionLines(table)].map((l) => `# ${l}`), header.join(',')];
  for (const row of table.rows) {
    for (const game of table.games) {
      for (const view of scoreViews(table)) {
        const c = view.cells.get(cellKey(row, game))!;
        lines.push(
          [
            row.scheme, row.optimizer, row.schedule, formatLambda(row.weightDecay), displayName(game), scoreSpecName(view.score),
            c.stats?.mean ?? null, c.stats?.std ?? null, c.stats?.n ?? 0, c.lowN,
            c.counted.filter((x) => x.incomplete).length, c.counted.filter((x) => x.run.replayRefills > 0).length,
            excludedSummary(c) || null, c.paper, c.paperFlag,
            c.counted.map((x) => x.run.id).join(' ') || null, c.counted.map((x) => x.value).join(' ') || null,
          ].map(csvField).join(','),
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

export function latexEscape(text: string): string {
  return text
    .replace(/\\/g, '\\textbackslash{}')
    .replace(/([&%$#_{}])/g, '\\$1')
    .replace(/~/g, '\\textasciitilde{}')
    .replace(/\^/g, '\\textasciicircum{}')
    .replace(/λ/g, '$\\lambda$')
    .replace(/ε/g, '$\\varepsilon$')
    .replace(/±/g, '$\\pm$')
    .replace(/×/g, '$\\times$')
    .replace(/—/g, '---')
    .replace(/†/g, '$^\\dagger$')
    .replace(/‡/g, '$^\\ddagger$')
    .replace(/≥/g, '$\\geq$');
}

/** A booktabs table (needs \usepackage{booktabs}). */
export function renderLatex(table: Table1): string {
  const views = scoreViews(table);
  const several = views.length > 1;
  const cols = `l${several ? 'l' : ''}${'r'.repeat(table.games.length)}l`;
  const lines = [
    '% Generated by `npm run table1`; needs \\usepackage{booktabs}.',
    '\\begin{table*}[t]',
    '\\centering',
    '\\scriptsize',
    `\\caption{${latexEscape(tableTitle(table))}. ${captionLines(table).map(latexEscape).join(' ')}}`,
    '\\label{tab:table1}',
    `\\begin{tabular}{${cols}}`,
    '\\toprule',
    `scheme & ${several ? 'score & ' : ''}${table.games.map((g) => latexEscape(displayName(g))).join(' & ')} & $\\lambda$ \\\\`,
    '\\midrule',
  ];
  for (const row of table.rows) {
    views.forEach((view, v) => {
      const cells = table.games.map((g) => {
        const text = formatCell(view.cells.get(cellKey(row, g))!, 'tex', showPaper(table, v));
        // formatCell already produced TeX for the symbols; escape only what a bracketed note may carry.
        return text.replace(/%/g, '\\%');
      });
      const label = several ? `${latexEscape(scoreSpecName(view.score))} & ` : '';
      lines.push(`${latexEscape(row.scheme)} & ${label}${cells.join(' & ')} & ${lambdaText(row)} \\\\`);
    });
  }
  lines.push('\\bottomrule', '\\end{tabular}', '\\end{table*}');
  return `${lines.join('\n')}\n`;
}
