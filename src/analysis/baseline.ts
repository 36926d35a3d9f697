// A run against Dopamine's published DQN training curves (data/reference/dopamine_dqn_curves.csv): which
// published agent is like-for-like with the run's config, and per iteration the run's mean training return
// beside the 5 published seeds' mean, min and max, with a verdict. Used by `npm run baseline` and by the report's
// learning curves (the band).
import fs from 'node:fs';
import path from 'node:path';
import { displayName, resolveGame } from '../../envs/games.ts';
import { isOptimizerName } from '../optim/options.ts';
import { SCHEMES } from '../optim/schemes.ts';
import { DOPAMINE_ADAM, DOPAMINE_AGENT, DOPAMINE_RMSPROP } from '../run/presets.ts';
import type { JsonObject, MetricsRecord } from '../run/run_directory.ts';
import { oneValueAxis, type ReferenceBand } from './figures.ts';
import { parseCommentedCsv, REFERENCE_DIR } from './reference.ts';

export const DOPAMINE_CURVES_FILE = path.join(REFERENCE_DIR, 'dopamine_dqn_curves.csv');

/** The published agents this harness has a like-for-like config for, and what that config is. */
export const JAX_ADAM_MSE_AGENT = 'DQN (Adam + MSE in JAX)';
export const TF_RMSPROP_AGENT = 'DQN';

/** Agent steps per Dopamine iteration (1M frames): the unit the published curves are indexed by. */
export const DOPAMINE_ITERATION_STEPS = 250_000;

/** agent -> ROM id -> iteration -> one value per published seed (seed order). */
export type DopamineCurves = Map<string, Map<string, Map<number, number[]>>>;

export function loadDopamineCurves(file = DOPAMINE_CURVES_FILE): DopamineCurves {
  const { header, rows } = parseCommentedCsv(fs.readFileSync(file, 'utf8'), file);
  const want = ['game', 'agent', 'seed', 'iteration', 'value'];
  if (want.some((c, i) => header[i] !== c)) throw new Error(`${file}: expected the header "${want.join(',')}", got "${header.join(',')}"`);
  const curves: DopamineCurves = new Map();
  for (const [gameName, agent, seedText, iterationText, valueText] of rows) {
    const seed = Number(seedText);
    const iteration = Number(iterationText);
    const value = Number(valueText);
    if (!Number.isInteger(seed) || !Number.isInteger(iteration) || !Number.isFinite(value)) {
      throw new Error(`${file}: bad row ${[gameName, agent, seedText, iterationText, valueText].join(',')}`);
    }
    let game: string;
    try {
      game = resolveGame(gameName);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
    if (!curves.has(agent)) curves.set(agent, new Map());
    const byGame = curves.get(agent)!;
    if (!byGame.has(game)) byGame.set(game, new Map());
    const byIteration = byGame.get(game)!;
    if (!byIteration.has(iteration)) byIteration.set(iteration, []);
    byIteration.get(iteration)![seed] = value;
  }
  return curves;
}

// ---------------------------------------------------------------------------------------------------------------
// Which published agent a run's config matches

export interface AgentMatch {
  /** The published agent nearest to the run (by optimizer family), or null if Dopamine has none for its family. */
  agent: string | null;
  /** Why the run is not like-for-like with `agent` (empty: it is). */
  differences: string[];
  /** Differences that leave the comparison meaningful but must be said (the run adds weight decay). */
  notes: string[];
}

function at(config: JsonObject, key: string): unknown {
  let node: unknown = config;
  for (const part of key.split('.')) node = node && typeof node === 'object' ? (node as JsonObject)[part] : undefined;
  return node;
}

function expect(config: JsonObject, key: string, want: unknown, differences: string[]): void {
  const got = at(config, key);
  if (got !== want) differences.push(`${key} is ${JSON.stringify(got)}, Dopamine's ${JSON.stringify(want)}`);
}

/**
 * The like-for-like published agent for a run config: "DQN (Adam + MSE in JAX)" for Adam with the MSE loss,
 * "DQN" (TF: centered RMSProp, Huber) for RMSProp with the Huber loss, each with every other setting Dopamine's
 * (protocol, iteration length, episode cap, replay and schedule, optimizer hyperparameters). A weight-decay scheme
 * of the matching family is compared with the published agent (which has none) and says so in `notes`.
 */
export function matchDopamineAgent(config: JsonObject): AgentMatch {
  const differences: string[] = [];
  const notes: string[] = [];
  const name = at(config, 'agent.optimizer.name');
  const family = isOptimizerName(name) ? SCHEMES[name].family : null;
  const agent = family === 'adam' ? JAX_ADAM_MSE_AGENT : family === 'rmsprop' ? TF_RMSPROP_AGENT : null;
  if (agent === null) {
    return { agent: null, differences: [`Dopamine publishes DQN curves for Adam and RMSProp only; this run uses ${String(name)}`], notes };
  }
  expect(config, 'protocol', 'dopamine', differences);
  expect(config, 'trainingSteps', DOPAMINE_ITERATION_STEPS, differences);
  expect(config, 'maxEpisodeSteps', 27_000, differences);
  for (const [key, value] of Object.entries(DOPAMINE_AGENT)) {
    if (key === 'loss') continue;
    expect(config, `agent.${key}`, value, differences);
  }
  const loss = at(config, 'agent.loss');
  if (agent === JAX_ADAM_MSE_AGENT) {
    if (loss !== 'mse') {
      differences.push(`agent.loss is ${JSON.stringify(loss)}: Dopamine publishes Adam curves only with the MSE loss (run with --set agent.loss=mse)`);
    }
    for (const key of ['learningRate', 'epsilon', 'beta1', 'beta2'] as const) expect(config, `agent.optimizer.${key}`, DOPAMINE_ADAM[key], differences);
  } else {
    if (loss !== 'huber') differences.push(`agent.loss is ${JSON.stringify(loss)}: Dopamine's TF DQN uses the Huber loss`);
    for (const key of ['learningRate', 'rho', 'momentum', 'epsilon', 'centered', 'initialMeanSquare'] as const) {
      expect(config, `agent.optimizer.${key}`, DOPAMINE_RMSPROP[key], differences);
    }
  }
  const lambda = at(config, 'agent.optimizer.weightDecay');
  if (typeof lambda === 'number' && lambda > 0) {
    notes.push(`the run adds weight decay (${String(name)}, λ = ${lambda}); the band is Dopamine's agent without it`);
  }
  return { agent, differences, notes };
}

// ---------------------------------------------------------------------------------------------------------------
// Per-iteration comparison

export interface BandComparison {
  iteration: number;
  /** The run's mean training return of the iteration (null: no episode finished in it). */
  value: number | null;
  /** Published seeds at this iteration; 0 = Dopamine's file has no value for it. */
  n: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  /** inside [min, max], above or below it, or nothing to compare. */
  verdict: 'inside' | 'above' | 'below' | 'no-published-value' | 'no-run-value';
  /** How far outside, in band widths (max − min); null when inside, not compared, or the band has zero width. */
  bandWidths: number | null;
}

export interface BaselineComparison {
  runDir: string;
  game: string;
  seed: number;
  match: AgentMatch;
  /** The agent compared with: the match, or the one the user forced; null = nothing compared. */
  agent: string | null;
  /** Why nothing was compared, when agent is null. */
  reason: string | null;
  /** Iterations that Dopamine's file has for this agent and game. */
  publishedIterations: number[];
  rows: BandComparison[];
}

export function compareIteration(iteration: number, value: number | null, published: readonly number[] | undefined): BandComparison {
  const values = (published ?? []).filter((v) => Number.isFinite(v));
  if (values.length === 0) return { iteration, value, n: 0, mean: null, min: null, max: null, verdict: 'no-published-value', bandWidths: null };
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const base = { iteration, value, n: values.length, mean, min, max };
  if (value === null) return { ...base, verdict: 'no-run-value', bandWidths: null };
  if (value >= min && value <= max) return { ...base, verdict: 'inside', bandWidths: null };
  const width = max - min;
  const outside = value > max ? value - max : min - value;
  return { ...base, verdict: value > max ? 'above' : 'below', bandWidths: width > 0 ? outside / width : null };
}

export interface CompareOptions {
  /** Compare with this published agent even if the run is not like-for-like with it. */
  forceAgent?: string;
  curves?: DopamineCurves;
}

/** A run (its config.json and metrics records) against Dopamine's curves. */
export function compareWithDopamine(
  run: { dir: string; game: string; seed: number; config: JsonObject; records: readonly MetricsRecord[] },
  options: CompareOptions = {},
): BaselineComparison {
  const curves = options.curves ?? loadDopamineCurves();
  const match = matchDopamineAgent(run.config);
  const base = { runDir: run.dir, game: run.game, seed: run.seed, match };
  let agent: string | null;
  let reason: string | null = null;
  if (options.forceAgent !== undefined) {
    if (!curves.has(options.forceAgent)) {
      throw new Error(`no published agent "${options.forceAgent}"; the curves have: ${[...curves.keys()].map((a) => JSON.stringify(a)).join(', ')}`);
    }
    agent = options.forceAgent;
  } else if (match.agent === null || match.differences.length > 0) {
    agent = null;
    reason = `no like-for-like published agent${match.agent ? ` (nearest: "${match.agent}")` : ''}: ${match.differences.join('; ')}`;
  } else agent = match.agent;
  const byIteration = agent === null ? undefined : curves.get(agent)?.get(run.game);
  if (agent !== null && byIteration === undefined) {
    const games = [...(curves.get(agent)?.keys() ?? [])].map(displayName).join(', ');
    reason = `Dopamine publishes no "${agent}" curves for ${displayName(run.game)} (it has ${games})`;
    agent = null;
  }
  if (agent === null || byIteration === undefined) return { ...base, agent: null, reason, publishedIterations: [], rows: [] };
  const rows = run.records.map((r) => compareIteration(r.iteration, typeof r.train_return_mean === 'number' ? r.train_return_mean : null, byIteration.get(r.iteration)));
  return { ...base, agent, reason: null, publishedIterations: [...byIteration.keys()].sort((a, b) => a - b), rows };
}

// ---------------------------------------------------------------------------------------------------------------
// Text

function fmt(v: number | null, digits = 2): string {
  return v === null ? '-' : v.toFixed(digits);
}

export function describeVerdict(row: BandComparison): string {
  switch (row.verdict) {
    case 'inside':
      return 'inside the band';
    case 'no-published-value':
      return 'no published value';
    case 'no-run-value':
      return 'no episode finished';
    default:
      return row.bandWidths === null
        ? `${row.verdict} the band (zero width) by ${fmt(Math.abs(row.value! - (row.verdict === 'above' ? row.max! : row.min!)))}`
        : `${row.verdict} the band by ${row.bandWidths.toFixed(2)} band widths`;
  }
}

function ranges(xs: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < xs.length; i++) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    out.push(i === j ? `${xs[i]}` : `${xs[i]}-${xs[j]}`);
    i = j;
  }
  return out.join(', ');
}

/** One line: what the comparison found. */
export function overallVerdict(c: BaselineComparison): string {
  if (c.agent === null) return `not compared: ${c.reason}`;
  const compared = c.rows.filter((r) => r.verdict === 'inside' || r.verdict === 'above' || r.verdict === 'below');
  const outside = compared.filter((r) => r.verdict !== 'inside');
  const notCompared = c.rows.length - compared.length;
  const tail = notCompared > 0 ? `; ${notCompared} iteration(s) not compared (Dopamine's file has iterations ${ranges(c.publishedIterations)})` : '';
  if (compared.length === 0) return `nothing to compare: no iteration of the run has a published value${tail}`;
  if (outside.length === 0) return `inside Dopamine's band at all ${compared.length} compared iteration(s)${tail}`;
  return `outside Dopamine's band at ${outside.length} of ${compared.length} compared iteration(s): ` +
    outside.map((r) => `iteration ${r.iteration} ${describeVerdict(r).replace(' the band', '')}`).join(', ') + tail;
}

export function renderComparisonText(c: BaselineComparison): string {
  const lines: string[] = [];
  const title = `${displayName(c.game)} seed ${c.seed} (${c.runDir})`;
  if (c.agent === null) return `${title}\n  ${overallVerdict(c)}\n`;
  const forced = c.match.agent !== c.agent || c.match.differences.length > 0;
  lines.push(`${title} against Dopamine's "${c.agent}" (training returns, ${Math.max(0, ...c.rows.map((r) => r.n))} seeds)`);
  if (forced) lines.push(`  NOT like-for-like (compared because --agent was given): ${c.match.differences.join('; ') || `the run's family matches "${c.match.agent}"`}`);
  for (const note of c.match.notes) lines.push(`  note: ${note}`);
  const header = ['iteration', 'run', 'Dopamine mean', 'min', 'max', 'verdict'];
  const body = c.rows.map((r) => [String(r.iteration), fmt(r.value), fmt(r.mean), fmt(r.min), fmt(r.max), describeVerdict(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => '  ' + cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padStart(widths[i]))).join('  ');
  lines.push(line(header));
  for (const row of body) lines.push(line(row));
  lines.push(`  verdict: ${overallVerdict(c)}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------
// Figure

type Spec = Record<string, unknown>;

/** Splits text at spaces into lines of at most `width` characters (a longer word gets a line of its own). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** The run's training return per iteration over Dopamine's band (min–max over seeds) and mean (dashed). */
export function baselineSpec(c: BaselineComparison): Spec {
  const band = c.rows.filter((r) => r.n > 0).map((r) => ({ iteration: r.iteration, min: r.min, max: r.max, mean: r.mean }));
  const run = c.rows.filter((r) => r.value !== null).map((r) => ({ iteration: r.iteration, value: r.value }));
  const x = { field: 'iteration', type: 'quantitative', title: `iteration (${DOPAMINE_ITERATION_STEPS.toLocaleString('en-US')} agent steps)`, axis: { tickMinStep: 1, ...oneValueAxis('x') } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${displayName(c.game)} seed ${c.seed} against Dopamine's ${c.agent}`,
      subtitle: ["red: this run; grey: Dopamine's 5 seeds (min–max), dashed: their mean", ...wrap(overallVerdict(c), 90)],
    },
    width: 480,
    height: 260,
    layer: [
      { data: { values: band }, mark: { type: 'area', opacity: 0.25, color: '#7f7f7f' }, encoding: { x, y: { field: 'min', type: 'quantitative', title: 'training return', axis: oneValueAxis('y') }, y2: { field: 'max' } } },
      { data: { values: band }, mark: { type: 'line', strokeDash: [4, 3], color: '#555' }, encoding: { x, y: { field: 'mean', type: 'quantitative' } } },
      { data: { values: run }, mark: { type: 'line', point: { color: '#d62728' }, color: '#d62728', strokeWidth: 2 }, encoding: { x, y: { field: 'value', type: 'quantitative' } } },
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The band under a report's learning curves

export interface ReportBands {
  /** The published agent drawn, or null (none drawn) with the reason in `caption`. */
  agent: string | null;
  bands: ReferenceBand[];
  /** One sentence for the figure's caption: what the grey band is, and how these runs differ from it. */
  caption: string;
}

/**
 * Dopamine's band for the runs of one learning-curve figure: the published agent of the runs' optimizer family
 * (one for all of them, else none), a step per published iteration over the agent steps it covers, clipped to the
 * steps the game's runs reached. Runs that are not like-for-like still get the band, and the caption says why
 * they are not.
 */
export function reportBands(runs: ReadonlyArray<{ game: string; config: JsonObject; records: readonly MetricsRecord[] }>, curves = loadDopamineCurves()): ReportBands {
  const matches = runs.map((r) => matchDopamineAgent(r.config));
  const agents = [...new Set(matches.map((m) => m.agent))];
  if (agents.length !== 1 || agents[0] === null) {
    const caption = agents.length === 1
      ? 'No Dopamine band: Dopamine publishes no DQN curves for these runs\' optimizer.'
      : `No Dopamine band: these runs match different published agents (${agents.map((a) => a ?? 'none').join(', ')}).`;
    return { agent: null, bands: [], caption };
  }
  const agent = agents[0];
  const reachedByGame = new Map<string, number>();
  for (const run of runs) {
    const steps = Math.max(0, ...run.records.map((r) => (typeof r.env_steps === 'number' ? r.env_steps : 0)));
    // A training phase ends on a whole episode, so a finished iteration's env_steps run a few hundred past its
    // budget: count only the budget, or the next published iteration gets a sliver of band (and its scale).
    const iterations = Math.max(0, ...run.records.map((r) => r.iteration + 1));
    const budget = typeof run.config.trainingSteps === 'number' ? iterations * run.config.trainingSteps : Infinity;
    reachedByGame.set(run.game, Math.max(reachedByGame.get(run.game) ?? 0, Math.min(steps, budget)));
  }
  const bands: ReferenceBand[] = [];
  const withCurves: string[] = [];
  for (const [game, reached] of reachedByGame) {
    const byIteration = curves.get(agent)?.get(game);
    if (!byIteration) continue;
    withCurves.push(displayName(game));
    for (const [iteration, values] of byIteration) {
      const start = iteration * DOPAMINE_ITERATION_STEPS;
      if (start >= reached) continue;
      const c = compareIteration(iteration, null, values);
      bands.push({ game: displayName(game), start, end: Math.min(start + DOPAMINE_ITERATION_STEPS, reached), min: c.min!, max: c.max!, mean: c.mean! });
    }
  }
  if (bands.length === 0) {
    return { agent: null, bands, caption: `No Dopamine band: Dopamine publishes no "${agent}" curves for these games.` };
  }
  const differences = [...new Set(matches.flatMap((m) => m.differences))];
  const decayed = matches.some((m) => m.notes.length > 0);
  const caption =
    `Grey steps: Dopamine's published "${agent}", min–max over its 5 seeds of the mean training return per ` +
    `${DOPAMINE_ITERATION_STEPS.toLocaleString('en-US')}-step iteration (${withCurves.join(', ')}).` +
    (differences.length > 0 ? ` Not like-for-like with these runs: ${differences.join('; ')}.` : ' Like-for-like with these runs\' settings.') +
    (decayed ? ' The published agent has no weight decay.' : '');
  return { agent, bands, caption };
}
