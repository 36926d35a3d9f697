// Published numbers the analysis compares against: Table 1 of Bjorck et al. (AAAI 2021) and the random/human
// scores used to human-normalize. Both live in data/reference/ (copied from shared/reference, see its README) so a
// clone alone can build the table. Game names in these files are display names (SpaceInvaders); runs use ALE ROM
// ids (space_invaders), so lookups go through romId().
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveGame } from '../../envs/games.ts';
import { PAPER_SCHEMES } from '../paper.ts';

export const REFERENCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/reference');
export const PAPER_TABLE_FILE = path.join(REFERENCE_DIR, 'bjorck2021_table1.csv');
export const HUMAN_SCORES_FILE = path.join(REFERENCE_DIR, 'atari_reference_scores.csv');
export const SCORE_RANGES_FILE = path.join(REFERENCE_DIR, 'atari_score_ranges.csv');

export interface PaperRow {
  /** Paper label: orig, decoupled, WD, separated. */
  scheme: string;
  /** Harness optimizer name (adam, adamw, adam-l2, adam-separated). */
  optimizer: string;
  lambda: number;
  /** ROM id -> published score. */
  scores: Map<string, number>;
}

export interface HumanReference {
  random: number;
  human: number;
}

interface Csv {
  header: string[];
  rows: string[][];
}

/** Comma-separated values with `#` comment lines and blank lines skipped; no quoting (none of our files need it). */
export function parseCommentedCsv(text: string, file: string): Csv {
  const lines = text.split(/\r?\n/).map((l, i) => ({ l: l.trim(), n: i + 1 })).filter(({ l }) => l !== '' && !l.startsWith('#'));
  if (lines.length === 0) throw new Error(`${file}: no header line (the file is empty or only comments)`);
  const header = lines[0].l.split(',').map((s) => s.trim());
  const rows = lines.slice(1).map(({ l, n }) => {
    const cells = l.split(',').map((s) => s.trim());
    if (cells.length !== header.length) {
      throw new Error(`${file} line ${n}: ${cells.length} fields, the header has ${header.length}`);
    }
    return cells;
  });
  return { header, rows };
}

function parseNumber(text: string, file: string, what: string): number {
  const v = Number(text);
  if (text === '' || !Number.isFinite(v)) throw new Error(`${file}: ${what} is "${text}", not a number`);
  return v;
}

function romId(name: string, file: string): string {
  try {
    return resolveGame(name);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/** Table 1 of the paper, rows in the published order. */
export function loadPaperTable(file = PAPER_TABLE_FILE): PaperRow[] {
  const { header, rows } = parseCommentedCsv(fs.readFileSync(file, 'utf8'), file);
  if (header[0] !== 'scheme' || header[1] !== 'lambda') {
    throw new Error(`${file}: expected the header to start with "scheme,lambda", got "${header.slice(0, 2).join(',')}"`);
  }
  const games = header.slice(2).map((g) => romId(g, file));
  return rows.map((cells) => {
    const scheme = cells[0];
    const optimizer = PAPER_SCHEMES[scheme];
    if (optimizer === undefined) {
      throw new Error(`${file}: unknown scheme "${scheme}" (expected one of ${Object.keys(PAPER_SCHEMES).join(', ')})`);
    }
    const lambda = parseNumber(cells[1], file, `lambda of a ${scheme} row`);
    const scores = new Map(games.map((g, i) => [g, parseNumber(cells[i + 2], file, `${scheme} λ=${cells[1]} ${g}`)]));
    return { scheme, optimizer, lambda, scores };
  });
}

/** Random and human scores per ROM id. */
export function loadHumanReference(file = HUMAN_SCORES_FILE): Map<string, HumanReference> {
  const { header, rows } = parseCommentedCsv(fs.readFileSync(file, 'utf8'), file);
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${file}: no "${name}" column (header: ${header.join(',')})`);
    return i;
  };
  const [g, r, h] = [col('game'), col('random'), col('human')];
  return new Map(
    rows.map((cells) => [
      romId(cells[g], file),
      { random: parseNumber(cells[r], file, `random score of ${cells[g]}`), human: parseNumber(cells[h], file, `human score of ${cells[g]}`) },
    ]),
  );
}

export interface ScoreRange {
  min: number | null;
  max: number | null;
}

/** The score range a game's rules allow, per ROM id (null = unbounded on that side). */
export function loadScoreRanges(file = SCORE_RANGES_FILE): Map<string, ScoreRange> {
  const { header, rows } = parseCommentedCsv(fs.readFileSync(file, 'utf8'), file);
  if (header.join(',') !== 'game,min,max') throw new Error(`${file}: expected the header "game,min,max", got "${header.join(',')}"`);
  const bound = (text: string, what: string) => (text === '' ? null : parseNumber(text, file, what));
  return new Map(rows.map(([game, min, max]) => [romId(game, file), { min: bound(min, `min of ${game}`), max: bound(max, `max of ${game}`) }]));
}

/**
 * Why a published Table 1 value cannot be taken at face value, or null: outside the range the game's rules allow,
 * or below random play (the random scores are of the noop-start protocol, not sticky actions).
 */
export function paperValueFlag(game: string, value: number, ranges: ReadonlyMap<string, ScoreRange>, human: ReadonlyMap<string, HumanReference>): 'impossible' | 'below random' | null {
  const range = ranges.get(game);
  if (range && ((range.min !== null && value < range.min) || (range.max !== null && value > range.max))) return 'impossible';
  const random = human.get(game)?.random;
  if (random !== undefined && value < random) return 'below random';
  return null;
}
