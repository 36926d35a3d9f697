import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHumanReference, loadPaperTable, loadScoreRanges, paperValueFlag } from '../src/analysis/reference.ts';
import { parseScoreSpec, scoreRun } from '../src/analysis/score.ts';
import { loadSweep } from '../src/analysis/sweep_results.ts';
import {
  buildTable1,
  cellKey,
  formatCell,
  renderCsv,
  renderLatex,
  renderMarkdown,
  type Table1,
} from '../src/analysis/table1.ts';
import { buildTable1Program, outputPrefix, parseTable1Args } from '../src/cli/table1.ts';
import { tmpSweep, writePlan, writeRun, type FakeRun } from './fixtures/sweep/make_sweep.ts';

const paper = loadPaperTable();

// 2 games × 2 schemes × 3 seeds, final returns chosen so the statistics are easy by hand.
const RUNS: FakeRun[] = [
  { game: 'pong', optimizer: 'adam', weightDecay: 0, seed: 0, returns: [1, 6, 10] },
  { game: 'pong', optimizer: 'adam', weightDecay: 0, seed: 1, returns: [2, 8, 12] },
  { game: 'pong', optimizer: 'adam', weightDecay: 0, seed: 2, returns: [3, 9, 17] },
  { game: 'pong', optimizer: 'adamw', weightDecay: 1e-4, seed: 0, returns: [0, 0, 20] },
  { game: 'pong', optimizer: 'adamw', weightDecay: 1e-4, seed: 1, returns: [0, 0, 21] },
  { game: 'pong', optimizer: 'adamw', weightDecay: 1e-4, seed: 2, returns: [0, 5], iterations: 3, status: 'diverged' },
  { game: 'breakout', optimizer: 'adam', weightDecay: 0, seed: 0, returns: [0, 0, 100] },
  { game: 'breakout', optimizer: 'adam', weightDecay: 0, seed: 1, returns: [0, 0, 200] },
  { game: 'breakout', optimizer: 'adam', weightDecay: 0, seed: 2, returns: [0, 0, 300] },
  { game: 'breakout', optimizer: 'adamw', weightDecay: 1e-4, seed: 0, returns: [4, 7], iterations: 3, status: 'running' },
];
// Planned but never started: its row (WD at 1e-5) must appear, all dashes.
const NOT_STARTED: FakeRun = { game: 'pong', optimizer: 'adam-l2', weightDecay: 1e-5, seed: 0, returns: [] };

let root: string;
beforeAll(() => {
  root = tmpSweep('table1-');
  for (const r of RUNS) writeRun(root, r);
  writePlan(root, [...RUNS, NOT_STARTED]);
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function cell(table: Table1, optimizer: string, lambda: number, game: string) {
  const row = table.rows.find((r) => r.optimizer === optimizer && r.weightDecay === lambda);
  if (!row) throw new Error(`no row ${optimizer} ${lambda}`);
  return table.cells.get(cellKey(row, game))!;
}

describe('Table 1 model', () => {
  it('means and sample stds match hand-computed values (final-iteration score)', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper });
    const pongAdam = cell(t, 'adam', 0, 'pong').stats!;
    expect(pongAdam.mean).toBeCloseTo(13, 12); // (10 + 12 + 17) / 3
    expect(pongAdam.std).toBeCloseTo(Math.sqrt(13), 12); // (9 + 1 + 16) / 2 = 13
    expect(pongAdam.n).toBe(3);
    const breakoutAdam = cell(t, 'adam', 0, 'breakout').stats!;
    expect(breakoutAdam.mean).toBe(200);
    expect(breakoutAdam.std).toBeCloseTo(100, 12);
    const pongAdamw = cell(t, 'adamw', 1e-4, 'pong');
    expect(pongAdamw.stats!.mean).toBeCloseTo(20.5, 12);
    expect(pongAdamw.stats!.std).toBeCloseTo(Math.SQRT1_2, 12);
    expect(pongAdamw.lowN).toBe(true);
    expect(pongAdamw.excluded.map((e) => e.category)).toEqual(['diverged']);
  });

  it('last:K averages the last K iterations of each run', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('last:2'), paper });
    const s = cell(t, 'adam', 0, 'pong').stats!;
    // per run: (6+10)/2 = 8, (8+12)/2 = 10, (9+17)/2 = 13
    expect(s.mean).toBeCloseTo(31 / 3, 12);
    expect(s.std).toBeCloseTo(Math.sqrt(((8 - 31 / 3) ** 2 + (10 - 31 / 3) ** 2 + (13 - 31 / 3) ** 2) / 2), 12);
  });

  it('rows follow the paper order with planned rows kept; games follow the paper columns', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper });
    expect(t.rows.map((r) => `${r.scheme} ${r.weightDecay}`)).toEqual(['orig 0', 'decoupled 0.0001', 'WD 0.00001']);
    expect(t.games).toEqual(['breakout', 'pong']);
    expect(cell(t, 'adam-l2', 1e-5, 'pong').stats).toBeNull();
  });

  it('unfinished runs are named but not counted by default, counted with † when asked', () => {
    const sweep = loadSweep(root);
    const t = buildTable1(sweep, { score: parseScoreSpec('final'), paper });
    const c = cell(t, 'adamw', 1e-4, 'breakout');
    expect(c.stats).toBeNull();
    expect(formatCell(c, 'md', false)).toBe('— [1 unfinished]');
    const t2 = buildTable1(sweep, { score: parseScoreSpec('final'), paper, includeIncomplete: true });
    const c2 = cell(t2, 'adamw', 1e-4, 'breakout');
    expect(c2.stats!.mean).toBe(7);
    expect(formatCell(c2, 'md', false)).toBe('7.00 (n=1*)†');
    // Diverged runs stay out even then.
    expect(cell(t2, 'adamw', 1e-4, 'pong').stats!.n).toBe(2);
  });

  it('a counted run resumed without its replay memory marks its cell ‡, in every format', () => {
    const dir = tmpSweep('table1-refill-');
    try {
      const runs: FakeRun[] = [
        { game: 'pong', optimizer: 'adam', weightDecay: 0, seed: 0, returns: [1, 2], replayRefills: 0 },
        { game: 'pong', optimizer: 'adam', weightDecay: 0, seed: 1, returns: [1, 4], replayRefills: 1 },
        { game: 'breakout', optimizer: 'adam', weightDecay: 0, seed: 0, returns: [5, 6] },
      ];
      for (const r of runs) writeRun(dir, r);
      writePlan(dir, runs);
      const t = buildTable1(loadSweep(dir), { score: parseScoreSpec('final'), paper });
      expect(formatCell(cell(t, 'adam', 0, 'pong'), 'md', false)).toBe('3.00 ± 1.41 (n=2*)‡');
      expect(formatCell(cell(t, 'adam', 0, 'breakout'), 'md', false)).toBe('6.00 (n=1*)');
      const md = renderMarkdown(t);
      expect(md).toContain('‡ a counted run was resumed without its replay memory');
      expect(md).toMatch(/counted with refilled replay \(‡\): .*seed 1.* resumed 1× without its replay memory/);
      expect(renderLatex(t)).toContain('$^\\ddagger$');
      const csv = renderCsv(t).split('\n').filter((l) => !l.startsWith('#'));
      const col = csv[0].split(',').indexOf('counted_refilled_replay');
      expect(csv.filter((l) => l.includes(',Pong,')).map((l) => l.split(',')[col])).toEqual(['1']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('eval score: runs without an evaluation phase have no score, and say why', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('eval'), paper });
    const c = cell(t, 'adam', 0, 'pong');
    expect(c.stats).toBeNull();
    expect(c.excluded[0].reason).toMatch(/no evaluation phase/);
  });

  it('eval score reads eval_return_mean of the final iteration', () => {
    expect(scoreRun({ records: [{ iteration: 0, eval_return_mean: 3 }, { iteration: 1, eval_return_mean: 5 }], evalSteps: 10 }, { kind: 'eval' }))
      .toEqual({ value: 5, iteration: 1 });
    expect(scoreRun({ records: [{ iteration: 0, train_return_mean: null }], evalSteps: 0 }, { kind: 'final' }).value).toBeNull();
  });

  it('rejects a malformed --score', () => {
    expect(() => parseScoreSpec('last:0')).toThrow(/last:K/);
    expect(() => parseScoreSpec('best')).toThrow(/Valid: final, eval, last:K/);
  });
});

describe('Table 1 renderings', () => {
  it('Markdown: cells, flags, dash, λ last, budget and score definition in the caption', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper });
    const md = renderMarkdown(t);
    const lines = md.split('\n');
    expect(lines).toContain('| scheme | Breakout | Pong | λ |');
    expect(lines).toContain('| orig | 200 ± 100 (n=3) | 13.0 ± 3.6 (n=3) | 0 |');
    expect(lines).toContain('| decoupled | — [1 unfinished] | 20.5 ± 0.7 (n=2*) [1 diverged] | 1e-4 |');
    expect(lines).toContain('| WD | — | — | 1e-5 |');
    expect(md).toContain('Budget: 3 iterations × 1,000 agent steps = 3,000 agent steps (12,000 frames) per run, preset smoke');
    expect(md).toContain('final iteration');
    expect(md).toMatch(/not counted: Pong adamw λ=1e-4 seed 2 — diverged after 2\/3 iterations/);
    expect(md).toMatch(/1 planned run\(s\) not started: pong-adam-l2-wd0.00001-seed0/);
  });

  it('says what the budget can show about decoupled decay: the factor its runs applied against the paper\'s', () => {
    const md = renderMarkdown(buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper }));
    // decoupled λ=1e-4: 4 runs with 30, 30, 20 and 20 updates (the fixture logs 10 per iteration).
    // ... and at Dopamine's α, λ = 1e-4's step factor 1 − αλ is 1 in float32: those runs are orig bit for bit.
    expect(md).toContain("Decoupled decay, decoupled λ=1e-4: total decay factor 1.0000 here (25 updates, median of 4 runs), 1.0000 (exact arithmetic: 0.925) at the paper's budget (12,495,000 updates); a float32 no-op: 1 − αλ rounds to 1, so this run computes exactly what orig does.");
    expect(md).toContain('Decay factors are what float32 applies to the weights');
    expect(md).toMatch(/decoupled decay has barely acted and its row equals orig by construction/);
  });

  it('--compare-paper puts the published value from the CSV beside each cell', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper, comparePaper: true });
    const md = renderMarkdown(t);
    // Paper Table 1: orig Breakout 52, Pong 19; decoupled 1e-4 Pong 20; WD 1e-5 Pong 16.
    expect(md).toContain('| orig | 200 ± 100 (n=3) (paper 52) | 13.0 ± 3.6 (n=3) (paper 19) | 0 |');
    expect(md).toContain('20.5 ± 0.7 (n=2*) [1 diverged] (paper 20)');
    expect(md).toContain('| WD | — (paper 114) | — (paper 16) | 1e-5 |');
  });

  it('CSV: one line per cell with full precision and the caption as # lines', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper, comparePaper: true });
    const csv = renderCsv(t).split('\n');
    expect(csv[0]).toMatch(/^# Table 1/);
    const header = csv.find((l) => l.startsWith('scheme,'))!.split(',');
    const row = csv.find((l) => l.startsWith('orig,adam,constant,0,Pong,'))!.split(',');
    const get = (k: string) => row[header.indexOf(k)];
    expect(Number(get('mean'))).toBe(13);
    expect(Number(get('std'))).toBeCloseTo(Math.sqrt(13), 12);
    expect(get('n')).toBe('3');
    expect(get('paper')).toBe('19');
    expect(get('scores')).toBe('10 12 17');
    const empty = csv.find((l) => l.startsWith('WD,adam-l2,constant,1e-5,Pong,'))!.split(',');
    expect(empty[header.indexOf('mean')]).toBe('');
    expect(empty[header.indexOf('n')]).toBe('0');
  });

  it('LaTeX: booktabs tabular with escaped labels and TeX symbols', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper });
    const tex = renderLatex(t);
    expect(tex).toContain('\\begin{tabular}{lrrl}');
    expect(tex).toContain('orig & 200 $\\pm$ 100 (n=3) & 13.0 $\\pm$ 3.6 (n=3) & 0 \\\\');
    expect(tex).toContain('decoupled & --- [1 unfinished] & 20.5 $\\pm$ 0.7 (n=2$^*$) [1 diverged] & 1e-4 \\\\');
    expect(tex).not.toMatch(/[±—λε×]/); // every non-ASCII symbol was translated
  });

  it('several scores side by side: one line per score under each scheme, the paper value on the first', () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('final'), extraScores: [parseScoreSpec('last:2')], paper, comparePaper: true });
    const md = renderMarkdown(t);
    const lines = md.split('\n');
    expect(lines).toContain('| scheme | score | Breakout | Pong | λ |');
    expect(lines).toContain('| orig | final | 200 ± 100 (n=3) (paper 52) | 13.0 ± 3.6 (n=3) (paper 19) | 0 |');
    // last:2 per seed: Pong (6+10)/2, (8+12)/2, (9+17)/2 = 8, 10, 13; Breakout 50, 100, 150.
    expect(lines).toContain('| orig | last:2 | 100 ± 50 (n=3) | 10.3 ± 2.5 (n=3) | 0 |');
    expect(md).toMatch(/one line per score: final, last:2; the aggregates and figures use final/);
    expect(md).toContain('final iteration');
    expect(md).toContain('mean over its last 2 iterations');
    const csv = renderCsv(t);
    expect(csv).toContain('orig,adam,constant,0,Pong,final,13,');
    expect(csv).toMatch(/orig,adam,constant,0,Pong,last:2,10\.33/);
    const tex = renderLatex(t);
    expect(tex).toContain('\\begin{tabular}{llrrl}');
    expect(tex).toContain('orig & last:2 & 100 $\\pm$ 50 (n=3) & 10.3 $\\pm$ 2.5 (n=3) & 0 \\\\');
  });

  it("says the paper's score definition is unknown and flags impossible and below-random paper values", () => {
    const t = buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper, comparePaper: true });
    expect(renderMarkdown(t)).toMatch(/Which number the paper's cells hold .* is not stated/);
    const ranges = loadScoreRanges();
    const human = loadHumanReference();
    expect(paperValueFlag('pong', 22, ranges, human)).toBe('impossible');
    expect(paperValueFlag('pong', -27, ranges, human)).toBe('impossible');
    expect(paperValueFlag('pong', 21, ranges, human)).toBeNull();
    expect(paperValueFlag('time_pilot', 1379, ranges, human)).toBe('below random');
    expect(paperValueFlag('breakout', 1, ranges, human)).toBe('below random');
    expect(paperValueFlag('breakout', 52, ranges, human)).toBeNull();
    const flagged = { ...cell(t, 'adam', 0, 'pong'), paper: 22, paperFlag: 'impossible' as const };
    expect(formatCell(flagged, 'md', true)).toBe('13.0 ± 3.6 (n=3) (paper 22, impossible)');
    // Of the paper's 104 values: Pong 22 (twice) and −27 are impossible; 13 are below random (12 of them TimePilot).
    const flags = paper.flatMap((row) => [...row.scores].map(([g, v]) => paperValueFlag(g, v, ranges, human)).filter(Boolean));
    expect(flags.filter((f) => f === 'impossible')).toHaveLength(3);
    expect(flags.filter((f) => f === 'below random')).toHaveLength(13);
  });

  it('the published Table 1 is read in the paper order with its 13 rows', () => {
    expect(paper.map((p) => `${p.scheme}@${p.lambda}`)).toEqual([
      'orig@0', 'decoupled@0.001', 'WD@0.001', 'separated@0.001', 'decoupled@0.0001', 'WD@0.0001',
      'separated@0.0001', 'decoupled@0.00001', 'WD@0.00001', 'separated@0.00001', 'WD@0.000001', 'WD@1e-7', 'WD@1e-8',
    ]);
    expect(paper[0].scores.get('space_invaders')).toBe(892);
    expect(paper[2].scores.get('pong')).toBe(-27);
  });
});

describe('table files', () => {
  it('the fixtures were written through RunDirectory and are left untouched by reading', () => {
    const dir = path.join(root, 'runs');
    const before = fs.readdirSync(dir).map((d) => fs.statSync(path.join(dir, d, 'metrics.jsonl')).mtimeMs);
    buildTable1(loadSweep(root), { score: parseScoreSpec('final'), paper });
    const after = fs.readdirSync(dir).map((d) => fs.statSync(path.join(dir, d, 'metrics.jsonl')).mtimeMs);
    expect(after).toEqual(before);
  });
});

describe('npm run table1 (command line)', () => {
  const quiet = () => {
    const p = buildTable1Program().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    return p;
  };

  it('parses the options', () => {
    const cmd = parseTable1Args(['some/dir', '--score', 'last:5', '--compare-paper', '--out', 'x/t'], quiet());
    expect(cmd).toEqual({ dirs: ['some/dir'], score: { kind: 'last', k: 5 }, extraScores: [], comparePaper: true, includeIncomplete: false, out: 'x/t' });
    expect(parseTable1Args(['d'], quiet())).toMatchObject({ score: { kind: 'final' }, extraScores: [], comparePaper: true, out: null });
    expect(parseTable1Args(['d', '--score', 'final', '--score', 'last:3'], quiet())).toMatchObject({ score: { kind: 'final' }, extraScores: [{ kind: 'last', k: 3 }] });
  });

  it('--compare-paper is on by default, as in the report; --no-compare-paper turns it off', () => {
    expect(parseTable1Args(['d'], quiet()).comparePaper).toBe(true);
    expect(parseTable1Args(['d', '--compare-paper'], quiet()).comparePaper).toBe(true);
    expect(parseTable1Args(['d', '--no-compare-paper'], quiet()).comparePaper).toBe(false);
  });

  it('--out-prefix names the files without extension; --out is its old name; an existing directory gets table1.* inside', () => {
    expect(parseTable1Args(['d', '--out-prefix', 'x/t'], quiet()).out).toBe('x/t');
    expect(parseTable1Args(['d', '--out', 'x/t'], quiet()).out).toBe('x/t');
    expect(() => parseTable1Args(['d', '--out', 'a', '--out-prefix', 'b'], quiet())).toThrow(/give --out-prefix only/);
    const sweep = loadSweep(root);
    expect(outputPrefix({ out: path.join(root, 'mine') }, sweep)).toBe(path.join(root, 'mine'));
    fs.mkdirSync(path.join(root, 'tables'), { recursive: true });
    expect(outputPrefix({ out: path.join(root, 'tables') }, sweep)).toBe(path.join(root, 'tables', 'table1'));
    const runDir = path.join(root, 'runs', fs.readdirSync(path.join(root, 'runs'))[0]);
    expect(() => outputPrefix({ out: runDir }, sweep)).toThrow(/is a run directory, which analysis never writes into/);
    let help = '';
    buildTable1Program().configureOutput({ writeOut: (t) => (help += t) }).outputHelp();
    expect(help).toMatch(/--out-prefix <path>\s+write <path>\.csv and <path>\.tex/);
    expect(help).toMatch(/--no-compare-paper/);
    expect(help).not.toMatch(/--out </);
  });

  it('--version prints the package version', () => {
    let out = '';
    const program = buildTable1Program().exitOverride().configureOutput({ writeOut: (t) => (out += t), writeErr: () => {} });
    expect(() => parseTable1Args(['--version'], program)).toThrow(expect.objectContaining({ exitCode: 0 }));
    expect(out).toBe(`wd-dqn-harness ${JSON.parse(fs.readFileSync('package.json', 'utf8')).version}\n`);
  });

  it('rejects a bad --score and a missing DIR; takes several DIRs', () => {
    expect(() => parseTable1Args(['d', '--score', 'last:x'], quiet())).toThrow(/Unknown score "last:x"/);
    expect(() => parseTable1Args([], quiet())).toThrow(/missing required argument 'dir'/);
    expect(parseTable1Args(['a', 'b'], quiet()).dirs).toEqual(['a', 'b']);
  });

  it('prints Markdown and writes CSV + LaTeX next to the sweep; exit 0', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/table1.ts', root, '--compare-paper'], { encoding: 'utf8' });
    expect(r.stderr).toContain(`wrote ${path.join(root, 'table1.csv')}`);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('| orig | 200 ± 100 (n=3) (paper 52) |');
    expect(fs.readFileSync(path.join(root, 'table1.tex'), 'utf8')).toContain('\\toprule');
    expect(fs.readFileSync(path.join(root, 'table1.csv'), 'utf8')).toContain('orig,adam,constant,0,Pong,final,13,');
  });

  it("a plain directory of runs at two presets: the completed preset's table, the other run left out saying why, never called unreadable", () => {
    // The case: Pong adam seed 0 ran at smoke (completed) and at reduced (interrupted, found first).
    const runs = tmpSweep('table1-presets-');
    try {
      writeRun(runs, { game: 'pong', optimizer: 'adam', weightDecay: 0, seed: 0, returns: [1, 2], iterations: 4, status: 'interrupted', preset: 'reduced', trainingSteps: 2500, id: 'pong-adam-reduced' });
      writeRun(runs, { game: 'pong', optimizer: 'adam', weightDecay: 0, seed: 0, returns: [3, 5], id: 'pong-adam-smoke' });
      const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/table1.ts', path.join(runs, 'runs'), '--out-prefix', path.join(runs, 't')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('| orig | 5.00 (n=1*) (paper 19) | 0 |');
      expect(r.stdout).toMatch(/^- skipped pong-adam-reduced \(.*\): another budget: 4 iterations × 2,500 agent steps .* preset reduced, no evaluation phase$/m);
      expect(r.stdout).not.toMatch(/MIXED/);
      expect(r.stderr).toContain('warning: runs left out (1 of another budget); the notes under the table say why.');
      expect(r.stderr).not.toMatch(/unreadable/);
    } finally {
      fs.rmSync(runs, { recursive: true, force: true });
    }
  });

  it('several directories make one table; its files need --out-prefix', () => {
    const more = tmpSweep('table1-more-');
    try {
      writeRun(more, { game: 'breakout', optimizer: 'adamw', weightDecay: 1e-4, seed: 1, returns: [0, 0, 40] });
      const args = ['--import', 'tsx', 'src/cli/table1.ts', root, more, '--no-compare-paper'];
      const refused = spawnSync(process.execPath, args, { encoding: 'utf8' });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/^error: several directories given \(.*\): give --out-prefix <path> for the CSV and LaTeX files\.$/m);
      const r = spawnSync(process.execPath, [...args, '--out-prefix', path.join(more, 'both')], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      // Breakout decoupled λ=1e-4: seed 1 from the second directory, beside the first's running seed 0.
      expect(r.stdout).toMatch(/^\| decoupled \| 40\.0 \(n=1\*\) \[1 unfinished\] \| 20\.5 ± 0\.7 \(n=2\*\) \[1 diverged\] \| 1e-4 \|$/m);
    } finally {
      fs.rmSync(more, { recursive: true, force: true });
    }
  });

  it('replaces a symlink planted at an output path instead of writing through it', () => {
    const victim = path.join(root, 'victim.txt');
    fs.writeFileSync(victim, 'precious');
    const out = path.join(root, 'linked');
    fs.symlinkSync(victim, `${out}.csv`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/table1.ts', root, '--out', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious');
    expect(fs.lstatSync(`${out}.csv`).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(`${out}.csv`, 'utf8')).toMatch(/^# Table 1/);
  });

  it('exit 1 with the reason for a bad directory; never writes into a run directory', () => {
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/table1.ts', path.join(root, 'nope')], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^error: .*nope does not exist/m);
    const runDir = path.join(root, 'runs', fs.readdirSync(path.join(root, 'runs'))[0]);
    const single = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/table1.ts', runDir], { encoding: 'utf8' });
    expect(single.status).toBe(1);
    expect(single.stderr).toMatch(/is a run directory, which analysis never writes into: give --out/);
    expect(fs.existsSync(path.join(runDir, 'table1.csv'))).toBe(false);
  });
});
