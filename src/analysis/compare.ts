// Arms against a reference arm, seed by seed: the table of a small study (a few seeds per weight-decay scheme and λ,
// e.g. results/published/headline-breakout). Every seed's score is shown; per arm the mean ± sd; against the
// reference arm of the same game (orig, adam at λ 0, by default; any scheme at any λ on request) Welch's 95 %
// interval of the difference of means and the exact one-sided permutation p in both directions (small_sample.ts).
// No bootstrap: see small_sample.ts.
// Beside the scores, the mechanism per arm from the runs' diagnostics: the ε-dominated shares (issue 19), the WD
// share of m, ‖w‖, and the measured shrink rate of ‖w‖ at the start of learning against α·λ/ε.
import { displayName } from '../../envs/games.ts';
import { formatLambda } from '../format.ts';
import { schemeLabel } from '../paper.ts';
import { describeScore, scoreRun, type ScoreSpec } from './score.ts';
import { exactPermutationTest, welchInterval, type PermutationResult, type WelchInterval } from './small_sample.ts';
import { budgetsOf, formatBudget, rowKeyString, type LoadedRun, type RowKey, type SweepResults } from './sweep_results.ts';

export interface SeedScore {
  seed: number;
  runId: string;
  /** Null when the run does not count (not completed, or no score), with the reason. */
  score: number | null;
  reason?: string;
}

export interface Arm extends RowKey {
  game: string;
  /** "WD (adam-l2) λ=1e-3". */
  label: string;
  seeds: SeedScore[];
  /** The counted scores, in seed order. */
  scores: number[];
  mean: number | null;
  /** Sample sd (ddof 1); null below two scores. */
  sd: number | null;
  /** Against the reference arm of the same game; null for the reference itself or when either has no score. */
  versusReference: { difference: number; welch: WelchInterval | null; permutation: PermutationResult } | null;
}

/** The arm every other arm is compared with: a scheme at one λ (constant schedule). */
export interface ReferenceArm {
  optimizer: string;
  weightDecay: number;
}

/** orig: Adam without weight decay, the paper's reference. */
export const ORIG_REFERENCE: ReferenceArm = { optimizer: 'adam', weightDecay: 0 };

export interface Comparison {
  score: ScoreSpec;
  reference: ReferenceArm;
  budget: string;
  arms: Arm[];
  /** Games without a reference arm (their arms have no comparison). */
  gamesWithoutReference: string[];
}

export class CompareInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompareInputError';
  }
}

function armLabel(k: RowKey): string {
  const schedule = k.schedule === 'constant' ? '' : `, ${k.schedule}`;
  return `${schemeLabel(k.optimizer)} (${k.optimizer}) λ=${formatLambda(k.weightDecay)}${schedule}`;
}

function seedScore(run: LoadedRun, spec: ScoreSpec): SeedScore {
  const base = { seed: run.seed, runId: run.id };
  if (run.status !== 'completed') return { ...base, score: null, reason: `${run.status}, ${run.records.length}/${run.iterationsPlanned} iterations` };
  const s = scoreRun(run, spec);
  return s.value === null ? { ...base, score: null, reason: s.reason } : { ...base, score: s.value };
}

/**
 * Groups the sweep's runs into arms (game × scheme × schedule × λ) and compares each with the reference arm of its
 * game. Runs of different budgets are never pooled: directories holding several are refused (the runs loadSweeps
 * left out as of another budget count: a comparison never silently drops runs).
 */
export function buildComparison(sweep: SweepResults, options: { score: ScoreSpec; reference?: ReferenceArm }): Comparison {
  const reference = options.reference ?? ORIG_REFERENCE;
  const budgets = budgetsOf(sweep.runs);
  const where = sweep.roots.join(', ');
  if (budgets.length === 0) throw new CompareInputError(`no readable runs in ${where}.`);
  if (budgets.length > 1) {
    throw new CompareInputError(`${where} holds runs of ${budgets.length} budgets (${budgets.map(formatBudget).join('; ')}); compare one budget at a time.`);
  }
  const otherBudget = sweep.skipped.filter((s) => s.kind === 'another budget');
  if (otherBudget.length > 0) {
    throw new CompareInputError(
      `${where} ${sweep.roots.length > 1 ? 'hold' : 'holds'} runs of several budgets (${budgets[0].runs} of ${formatBudget(budgets[0])}; ${otherBudget.length} of another: ` +
        `${otherBudget.map((s) => s.id).join(', ')}); compare one budget at a time, giving only its directories.`,
    );
  }
  const groups = new Map<string, LoadedRun[]>();
  for (const run of sweep.runs) {
    const key = `${run.game}|${rowKeyString(run)}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  const arms: Arm[] = [...groups.values()].map((runs) => {
    const first = runs[0];
    const seeds = runs.map((r) => seedScore(r, options.score)).sort((a, b) => a.seed - b.seed);
    const scores = seeds.flatMap((s) => (s.score === null ? [] : [s.score]));
    const mean = scores.length > 0 ? scores.reduce((a, b) => a + b, 0) / scores.length : null;
    const sd = scores.length > 1 ? Math.sqrt(scores.reduce((a, v) => a + (v - mean!) ** 2, 0) / (scores.length - 1)) : null;
    const key = { optimizer: first.optimizer, schedule: first.schedule, weightDecay: first.weightDecay };
    return { game: first.game, ...key, label: armLabel(key), seeds, scores, mean, sd, versusReference: null };
  });
  const isReference = (a: Arm) => isReferenceArm(a, reference);
  const gamesWithoutReference: string[] = [];
  for (const game of [...new Set(arms.map((a) => a.game))]) {
    const ref = arms.find((a) => a.game === game && isReference(a));
    if (ref === undefined || ref.scores.length === 0) {
      gamesWithoutReference.push(game);
      continue;
    }
    for (const arm of arms) {
      if (arm.game !== game || arm === ref || arm.scores.length === 0) continue;
      arm.versusReference = {
        difference: arm.mean! - ref.mean!,
        welch: welchInterval(arm.scores, ref.scores),
        permutation: exactPermutationTest(arm.scores, ref.scores),
      };
    }
  }
  // The reference first, then the plan's order of schemes and λ as the paper lists them: by label.
  arms.sort((a, b) => a.game.localeCompare(b.game) || Number(isReference(b)) - Number(isReference(a)) || a.label.localeCompare(b.label));
  return { score: options.score, reference, budget: formatBudget(budgets[0]), arms, gamesWithoutReference };
}

function isReferenceArm(a: RowKey, reference: ReferenceArm): boolean {
  return a.optimizer === reference.optimizer && a.weightDecay === reference.weightDecay && a.schedule === 'constant';
}

const num = (v: number, digits = 2) => v.toFixed(digits);

/** What the comparison's columns mean: the budget, the score, then the statistics. */
export function comparisonExplanation(c: Comparison): string[] {
  return [
    `Budget: ${c.budget}.`,
    describeScore(c.score),
    'mean ± sd: over the counted seeds (sd with ddof 1). Δ: mean of the arm − mean of the reference, with Welch\'s 95 % ' +
      'interval (unequal variances, Welch–Satterthwaite df). p(<), p(>): exact one-sided permutation p of "the arm scores ' +
      'below / above the reference", every split of the pooled seeds enumerated (3 against 3: 20 splits, smallest p 0.05).',
  ];
}

/** The comparison's columns; `text` ones are left-aligned (Markdown) or labels (the report's HTML), numbers right. */
export const COMPARISON_COLUMNS: ReadonlyArray<{ title: string; text: boolean }> = [
  { title: 'game', text: true },
  { title: 'arm', text: true },
  { title: 'seeds: score', text: true },
  { title: 'n', text: false },
  { title: 'mean ± sd', text: false },
  { title: 'Δ [Welch 95 %]', text: true },
  { title: 'p(<)', text: false },
  { title: 'p(>)', text: false },
];

/** The comparison's table as text cells (one row per arm, COMPARISON_COLUMNS), and a line per run or game not counted. */
export function comparisonTable(c: Comparison): { rows: string[][]; notCounted: string[] } {
  const rows: string[][] = [];
  const notCounted: string[] = [];
  for (const a of c.arms) {
    const seeds = a.seeds.map((s) => `s${s.seed}: ${s.score === null ? '—' : num(s.score)}`).join(', ');
    const meanSd = a.mean === null ? '—' : `${num(a.mean)}${a.sd === null ? '' : ` ± ${num(a.sd)}`}`;
    const v = a.versusReference;
    const delta = v === null ? (isReferenceArm(a, c.reference) ? 'reference' : '—')
      : v.welch === null ? `${num(v.difference)} (n < 2: no interval)`
      : `${num(v.welch.difference)} [${num(v.welch.low)}, ${num(v.welch.high)}]`;
    const p = (x: number | undefined) => (x === undefined ? '—' : num(x, 3));
    rows.push([displayName(a.game), a.label, seeds, String(a.scores.length), meanSd, delta, p(v?.permutation.less), p(v?.permutation.greater)]);
    for (const s of a.seeds) if (s.score === null) notCounted.push(`not counted: ${displayName(a.game)} ${a.label} seed ${s.seed} — ${s.reason} (${s.runId})`);
  }
  for (const g of c.gamesWithoutReference) notCounted.push(`${displayName(g)}: no counted run of the reference arm, so no comparison.`);
  return { rows, notCounted };
}

/** The title of the comparison: which arm the others are compared with. */
export function comparisonTitle(c: Comparison): string {
  return `Arms against ${schemeLabel(c.reference.optimizer)} (${c.reference.optimizer}, λ ${formatLambda(c.reference.weightDecay)}), seed by seed`;
}

/** The comparison as Markdown: one table, then what every column means and which runs do not count. */
export function renderComparisonMarkdown(c: Comparison): string {
  const { rows, notCounted } = comparisonTable(c);
  const lines = [
    `**${comparisonTitle(c)}**`,
    ...comparisonExplanation(c).map((l, i, all) => (i < all.length - 1 ? `${l}  ` : l)),
    '',
    `| ${COMPARISON_COLUMNS.map((c) => c.title).join(' | ')} |`,
    `|${COMPARISON_COLUMNS.map((c) => (c.text ? ':---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  return `${[...lines, ...(notCounted.length > 0 ? ['', ...notCounted.map((n) => `- ${n}`)] : [])].join('\n')}\n`;
}

export interface MechanismRow {
  game: string;
  label: string;
  runs: number;
  /** Mean over the arm's runs of each iteration's value (metrics.jsonl), null where no run logged it. */
  epsDominated: Array<number | null>;
  epsDominatedWd: Array<number | null>;
  wdShareMedian: Array<number | null>;
  weightNormStart: number | null;
  weightNormEnd: Array<number | null>;
  /**
   * −Δ ln ‖w‖ per update over the first traced interval with updates (diagnostics.jsonl), median over runs: how fast
   * the weights shrink before the gradient pushes back. Null without a trace.
   */
  initialShrinkPerUpdate: number | null;
  /** α·λ/ε: the shrink per update of a λw term in an ε-dominated Adam buffer (null for λ 0 or other families). */
  predictedShrinkPerUpdate: number | null;
}

const meanOf = (xs: Array<number | null>): number | null => {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length;
};
const field = (r: Record<string, unknown> | undefined, key: string): number | null => (typeof r?.[key] === 'number' ? (r[key] as number) : null);

/** The first traced interval with updates: −Δ ln ‖w‖ / Δupdates, or null. */
function initialShrink(run: LoadedRun): number | null {
  const t = run.diagnostics;
  const i = t.findIndex((r) => (field(r, 'updates') ?? 0) > 0);
  if (i < 1) return null;
  const [a, b] = [t[i - 1], t[i]];
  const du = (field(b, 'updates') ?? 0) - (field(a, 'updates') ?? 0);
  const w0 = field(a, 'weight_norm');
  const w1 = field(b, 'weight_norm');
  return du > 0 && w0 !== null && w1 !== null && w0 > 0 && w1 > 0 ? Math.log(w0 / w1) / du : null;
}

/** The mechanism of each arm, from its completed runs' metrics and diagnostics. */
export function mechanismRows(sweep: SweepResults): MechanismRow[] {
  const groups = new Map<string, LoadedRun[]>();
  for (const run of sweep.runs.filter((r) => r.status === 'completed')) {
    const key = `${run.game}|${rowKeyString(run)}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((runs) => {
    const first = runs[0];
    const iterations = Math.max(...runs.map((r) => r.records.length));
    const perIteration = (value: (r: Record<string, unknown>) => number | null) =>
      Array.from({ length: iterations }, (_, i) => meanOf(runs.map((r) => (r.records[i] ? value(r.records[i]) : null))));
    const optimizer = (first.config.agent as Record<string, unknown> | undefined)?.optimizer as Record<string, unknown> | undefined;
    const alpha = field(optimizer, 'learningRate');
    const eps = field(optimizer, 'epsilon');
    const isAdam = first.optimizer.startsWith('adam') && first.optimizer !== 'adamw';
    const shrinks = runs.map(initialShrink).filter((x): x is number => x !== null).sort((a, b) => a - b);
    return {
      game: first.game,
      label: armLabel(first),
      runs: runs.length,
      epsDominated: perIteration((r) => field(r, 'eps_dominated_share')),
      epsDominatedWd: perIteration((r) => field(r, 'eps_dominated_share_wd')),
      wdShareMedian: perIteration((r) => field(r.moment_wd_share as Record<string, unknown> | undefined, 'p50')),
      weightNormStart: meanOf(runs.map((r) => field(r.diagnostics[0], 'weight_norm'))),
      weightNormEnd: perIteration((r) => field(r, 'weight_norm')),
      initialShrinkPerUpdate: shrinks.length === 0 ? null : shrinks[Math.floor((shrinks.length - 1) / 2)],
      predictedShrinkPerUpdate: isAdam && first.weightDecay > 0 && alpha !== null && eps !== null ? (alpha * first.weightDecay) / eps : null,
    };
  }).sort((a, b) => a.game.localeCompare(b.game) || a.label.localeCompare(b.label));
}

/** The mechanism table, or '' when no run logged the ε-dominance diagnostics. */
export function renderMechanismMarkdown(rows: readonly MechanismRow[]): string {
  if (!rows.some((r) => r.epsDominated.some((x) => x !== null))) return '';
  const list = (xs: Array<number | null>, digits: number) => xs.map((x) => (x === null ? '—' : x.toFixed(digits))).join(' → ');
  const sci = (x: number | null) => (x === null ? '—' : x.toExponential(2));
  const lines = [
    '**The mechanism per arm** (completed runs; per iteration, mean over runs)',
    'ε-dominated: share of weights with √v̂ < ε (gradient buffers; "WD buffers": separated\'s own). WD share of m: median ' +
      'over weights of |m_wd|/(|m_wd|+|m_grad|). ‖w‖: at the first trace record, then at each iteration\'s end. Shrink/update: ' +
      '−Δ ln ‖w‖ per update over the first traced interval of learning (median over runs), beside α·λ/ε.',
    '',
    '| game | arm | runs | ε-dominated | ε-dominated, WD buffers | WD share of m (p50) | ‖w‖ | shrink/update | α·λ/ε |',
    '|:---|:---|---:|:---|:---|:---|:---|---:|---:|',
  ];
  for (const r of rows) {
    const norm = `${r.weightNormStart === null ? '' : `${r.weightNormStart.toFixed(2)} → `}${list(r.weightNormEnd, 2)}`;
    const wd = r.epsDominatedWd.every((x) => x === null) ? '—' : list(r.epsDominatedWd, 3);
    const share = r.wdShareMedian.every((x) => x === null) ? '—' : list(r.wdShareMedian, 3);
    lines.push(`| ${displayName(r.game)} | ${r.label} | ${r.runs} | ${list(r.epsDominated, 3)} | ${wd} | ${share} | ${norm} | ${sci(r.initialShrinkPerUpdate)} | ${sci(r.predictedShrinkPerUpdate)} |`);
  }
  return `${lines.join('\n')}\n`;
}
