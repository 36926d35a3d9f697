// The HTML report: self-contained, and visibly rendering its table and figures in a real headless browser
// (Debian's chromium).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport, escapeHtml } from '../src/analysis/report.ts';
import { buildReportProgram, parseReportArgs, runReport } from '../src/cli/report.ts';
import { tmpSweep, writePlan, writeRun, type FakeRun } from './fixtures/sweep/make_sweep.ts';

const CHROMIUM = '/usr/bin/chromium';

const RUNS: FakeRun[] = [];
for (const game of ['pong', 'breakout']) {
  for (const [optimizer, weightDecay] of [['adam', 0], ['adamw', 1e-4], ['adam-l2', 1e-4], ['adamw', 1e-5], ['adam-l2', 1e-5]] as const) {
    for (const seed of [0, 1, 2]) {
      const top = game === 'pong' ? 15 : 40;
      const quality = optimizer === 'adam-l2' && weightDecay === 1e-4 ? 0.2 : 1;
      RUNS.push({ game, optimizer, weightDecay, seed, returns: [0, 1, 2, 3].map((i) => (top * quality * (i + 1)) / 4 + seed) });
    }
  }
}

let root: string;
let html: string;
beforeAll(async () => {
  root = tmpSweep('report-');
  for (const r of RUNS) writeRun(root, r);
  writePlan(root, RUNS);
  fs.writeFileSync(path.join(root, 'runs', 'pong-adam-wd0-seed0', 'config.json'), 'not json');
  html = (await buildReport(root, { score: { kind: 'final' }, reps: 200 })).html;
}, 60_000);
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('report HTML', () => {
  it('holds the budget, Table 1, aggregates, the skipped run and inline SVG figures', () => {
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('4 iterations × 1,000 agent steps = 4,000 agent steps');
    expect(html).toContain('<table id="table1">');
    expect(html).toContain('<td>9.00 ± 1.00 (n=3) (paper 1, below random)</td>'); // Breakout WD 1e-4: 40 · 0.2 + seed = 8, 9, 10
    expect(html).toMatch(/<table id="aggregates">/);
    expect(html).toMatch(/<table id="improvement">/);
    expect(html).toMatch(/skipped pong-adam-wd0-seed0 .*corrupt or half-written/);
    for (const id of ['fig-rliable-intervals', 'fig-rliable-improvement', 'fig-rliable-profiles', 'fig-rliable-efficiency', 'fig-sensitivity', 'fig-sensitivity-games', 'fig-curves-1e-4', 'fig-curves-1e-5', 'fig-m-over-w', 'fig-wd-share', 'fig-weight-norm', 'fig-update-ratio']) {
      expect(html).toMatch(new RegExp(`<figure id="${id}"><svg `));
    }
  });

  it('red (flagged) cells say why, on hover and in a legend under the table', () => {
    const flagged = [...html.matchAll(/<td class="flag" title="([^"]*)">/g)].map((m) => m[1]);
    expect(flagged.length).toBeGreaterThan(0);
    for (const why of flagged) expect(why).toMatch(/fewer than 3 seeds counted|run\(s\) not counted/);
    expect(html).toMatch(/<\/table>\n<p class="caption"><span class="flag">Red<\/span> cells: fewer than 3 seeds counted/);
  });

  it('Figure 7 plots the five quantiles, never the weight count logged beside them', () => {
    const fig = /<figure id="fig-m-over-w">([\s\S]*?)<\/figure>/.exec(html)![1];
    for (const q of ['p5', 'p25', 'p50', 'p75', 'p95']) expect(fig).toContain(`>${q}<`);
    expect(fig).not.toContain('>count<');
  });

  it('Table 1 with several scores: a score column and one line per score under each scheme', async () => {
    const page = (await buildReport(root, { score: { kind: 'final' }, extraScores: [{ kind: 'last', k: 2 }], reps: 10 })).html;
    const table = /<table id="table1">([\s\S]*?)<\/table>/.exec(page)![1];
    expect(table).toContain('<th class="label">score</th>');
    expect(table).toMatch(/<tr><td class="label">WD<\/td><td class="label">final<\/td><td>9\.00 ± 1\.00 \(n=3\) \(paper 1, below random\)<\/td>/);
    // last:2 of 40·0.2·(i+1)/4 + seed over i = 2, 3: 7 + seed, i.e. 7, 8, 9; the paper value only on the first line.
    expect(table).toMatch(/<tr><td class="label">WD<\/td><td class="label">last:2<\/td><td>8\.00 ± 1\.00 \(n=3\)<\/td>/);
  });

  it('says "n = 1: no interval" instead of a zero-width interval', async () => {
    const one = tmpSweep('report-n1-');
    const runs = RUNS.filter((r) => r.seed === 0);
    for (const r of runs) writeRun(one, r);
    writePlan(one, runs);
    const page = (await buildReport(one, { score: { kind: 'final' }, reps: 50 })).html;
    fs.rmSync(one, { recursive: true, force: true });
    const aggregates = /<table id="aggregates">([\s\S]*?)<\/table>/.exec(page)![1];
    expect(aggregates).toContain('(n = 1: no interval)');
    expect(aggregates).not.toMatch(/\[\d/);
  });

  it('shows a bootstrap interval only with enough distinct resamples, and the seed-by-seed comparison always', async () => {
    // One game: orig with 7 seeds (1,716 distinct resamples), Adam+L2 with 3 (10).
    const dir = tmpSweep('report-resamples-');
    const runs: FakeRun[] = [
      ...[0, 1, 2, 3, 4, 5, 6].map((seed) => ({ game: 'breakout', optimizer: 'adam', weightDecay: 0, seed, returns: [5, 10 + seed] })),
      ...[0, 1, 2].map((seed) => ({ game: 'breakout', optimizer: 'adam-l2', weightDecay: 1e-3, seed, returns: [1, 2 + seed / 10] })),
    ];
    for (const r of runs) writeRun(dir, r);
    writePlan(dir, runs);
    const { html: page, figures } = await buildReport(dir, { score: { kind: 'final' }, reps: 200 });
    fs.rmSync(dir, { recursive: true, force: true });
    const aggregates = /<table id="aggregates">([\s\S]*?)<\/table>/.exec(page)![1];
    const [orig, wd] = aggregates.split('\n').slice(1);
    expect(orig).toMatch(/<td>7<\/td><td>[\d.-]+ <span class="notes">\[[\d.-]+, [\d.-]+\]<\/span>/);
    expect(wd).toContain('(10 distinct resamples: no interval)');
    expect(wd).not.toMatch(/\[\d/);
    const improvement = /<table id="improvement">([\s\S]*?)<\/table>/.exec(page)![1];
    expect(improvement).toMatch(/WD λ=1e-3<\/td><td class="label">orig λ=0<\/td><td>0\.000 <span class="notes">\(10 distinct resamples: no interval\)/);
    // The figures draw the same: a band for orig, the point alone for WD, and say why.
    const intervals = figures.find((f) => f.id === 'fig-rliable-intervals')!.rows as Array<{ row: string; point: number; lower: number; upper: number }>;
    for (const r of intervals) {
      if (r.row.startsWith('WD')) expect([r.lower, r.upper]).toEqual([r.point, r.point]);
      else expect(r.upper).toBeGreaterThan(r.lower);
    }
    expect(page).toContain('No interval is drawn for WD λ=1e-3: too few runs for a bootstrap');
    // The small-sample statistics, as npm run compare gives them: Welch and the exact permutation p, 7 against 3.
    const comparison = /<table id="comparison">([\s\S]*?)<\/table>/.exec(page)![1];
    expect(page).toContain('<h2>Arms against orig (adam, λ 0), seed by seed</h2>');
    expect(comparison).toMatch(/<td class="label">WD \(adam-l2\) λ=1e-3<\/td><td class="label">s0: 2\.00, s1: 2\.10, s2: 2\.20<\/td><td>3<\/td><td>2\.10 ± 0\.10<\/td><td class="label">-10\.90 \[[\d.-]+, [\d.-]+\]<\/td><td>0\.008<\/td><td>1\.000<\/td>/);
  });

  it('is self-contained: no script, no external resource', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<(link|img|iframe)\b/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?https?:/i);
    expect(html).not.toMatch(/@import/);
  });

  it('escapes text taken from run directories', () => {
    expect(escapeHtml('<b>&"')).toBe('&lt;b&gt;&amp;&quot;');
  });
});

describe('npm run report (command line)', () => {
  const quiet = () => buildReportProgram().exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });

  it('parses options and rejects bad ones', () => {
    expect(parseReportArgs(['d', '--out', 'x.html', '--reps', '10'], quiet())).toMatchObject({ dirs: ['d'], out: 'x.html', reps: 10, comparePaper: true });
    expect(parseReportArgs(['d', '--no-compare-paper'], quiet()).comparePaper).toBe(false);
    for (const reps of ['0', '100001', '1e9', '-3', 'many']) {
      expect(() => parseReportArgs(['d', '--reps', reps], quiet()), reps).toThrow(`Expected a whole number from 1 to 100000, got "${reps}".`);
    }
    expect(parseReportArgs(['d', '--reps', '100000'], quiet()).reps).toBe(100_000);
    expect(() => parseReportArgs(['d', '--score', 'median'], quiet())).toThrow(/Unknown score "median"/);
    expect(() => parseReportArgs([], quiet())).toThrow(/missing required argument 'dir'/);
  });

  it('--bootstrap-seed is the bootstrap seed; --seed (a run seed elsewhere) still works with a one-line notice', () => {
    expect(parseReportArgs(['d'], quiet()).seed).toBe('wd-dqn-aggregates');
    expect(parseReportArgs(['d', '--bootstrap-seed', 'abc'], quiet()).seed).toBe('abc');
    let err = '';
    const program = buildReportProgram().exitOverride().configureOutput({ writeErr: (t) => (err += t), writeOut: () => {} });
    expect(parseReportArgs(['d', '--seed', 'old'], program).seed).toBe('old');
    expect(err).toBe('notice: --seed is deprecated here, use --bootstrap-seed (in atari and sweep --seed is a run seed)\n');
    expect(() => parseReportArgs(['d', '--seed', 'a', '--bootstrap-seed', 'b'], quiet())).toThrow(/give --bootstrap-seed only/);
    let help = '';
    buildReportProgram().configureOutput({ writeOut: (t) => (help += t) }).outputHelp();
    expect(help).toMatch(/--bootstrap-seed <text>\s+seed of the bootstrap/);
    expect(help).not.toMatch(/--seed </);
    expect(help).toMatch(/--compare-paper\s+put the published Table 1 value/);
    expect(parseReportArgs(['d', '--compare-paper'], quiet()).comparePaper).toBe(true);
  });

  it('--version prints the package version', () => {
    let out = '';
    const program = buildReportProgram().exitOverride().configureOutput({ writeOut: (t) => (out += t), writeErr: () => {} });
    expect(() => parseReportArgs(['--version'], program)).toThrow(expect.objectContaining({ exitCode: 0 }));
    expect(out).toBe(`wd-dqn-harness ${JSON.parse(fs.readFileSync('package.json', 'utf8')).version}\n`);
  });

  it('--out naming an existing directory writes report.html inside it, never into a run directory', async () => {
    const base = { score: { kind: 'final' } as const, extraScores: [], includeIncomplete: false, comparePaper: true, reps: 10, seed: 's' };
    const out = path.join(root, 'into-dir');
    fs.mkdirSync(out, { recursive: true });
    expect((await runReport({ ...base, dirs: [root], out })).file).toBe(path.join(out, 'report.html'));
    await expect(runReport({ ...base, dirs: [root], out: path.join(root, 'runs', 'pong-adamw-wd0.0001-seed0') })).rejects.toThrow(/is a run directory/);
  });

  it('refuses to write into a run directory or a missing folder', async () => {
    const base = { score: { kind: 'final' } as const, extraScores: [], includeIncomplete: false, comparePaper: true, reps: 10, seed: 's' };
    await expect(runReport({ ...base, dirs: [path.join(root, 'runs', 'pong-adamw-wd0.0001-seed0')], out: null })).rejects.toThrow(/is a run directory.*--out/);
    await expect(runReport({ ...base, dirs: [root], out: path.join(root, 'nope', 'r.html') })).rejects.toThrow(/directory .*nope does not exist/);
  });

  it('an --out that cannot be written is one line naming it, never an internal temp file', async () => {
    const base = { score: { kind: 'final' } as const, extraScores: [], includeIncomplete: false, comparePaper: true, reps: 10, seed: 's' };
    const aFile = path.join(root, 'a-file');
    fs.writeFileSync(aFile, '');
    const cases: Array<[string, RegExp]> = [
      [path.join(root, 'nope', 'r.html'), /the directory .*nope does not exist\.$/],
      [path.join(aFile, 'r.html'), /a-file is not a directory\.$/],
      [path.join(aFile, 'deeper', 'r.html'), /ENOTDIR: a part of the path is a file\.$/],
      ['/proc/r.html', /ENOENT: this file system does not allow creating it/], // the write itself fails, after the build
      [path.join(root, `${'x'.repeat(250)}.html`), /ENAMETOOLONG: name too long\.$/], // only the temp name is too long
    ];
    for (const [out, message] of cases) {
      const error = await runReport({ ...base, dirs: [root], out }).then(() => null, (e: Error) => e);
      expect(error?.message, out).toMatch(message);
      expect(error!.message.startsWith(`cannot write ${out}: `), error!.message).toBe(true);
      expect(error!.message.split('\n'), out).toHaveLength(1);
      expect(error!.message, out).not.toContain('.tmp-');
    }
  });

  it('writes every figure as SVG, Vega-Lite spec and CSV in figures/; replaces only what a report wrote there', async () => {
    const out = path.join(root, 'elsewhere');
    fs.mkdirSync(path.join(out, 'figures'), { recursive: true });
    fs.writeFileSync(path.join(out, 'figures', 'my-notes.txt'), 'mine');
    const args = { dirs: [root], out: path.join(out, 'r.html'), score: { kind: 'final' } as const, extraScores: [], includeIncomplete: false, comparePaper: true, reps: 10, seed: 's' };
    const result = await runReport(args);
    expect(result.figuresDir).toBe(path.join(out, 'figures'));
    const ids = ['fig-rliable-intervals', 'fig-rliable-improvement', 'fig-rliable-profiles', 'fig-rliable-efficiency', 'fig-curves-1e-4', 'fig-curves-1e-5', 'fig-m-over-w', 'fig-sensitivity-games', 'fig-sensitivity', 'fig-update-ratio', 'fig-wd-share', 'fig-weight-norm'];
    const files = fs.readdirSync(result.figuresDir).filter((f) => f.endsWith('.svg')).sort();
    expect(files).toEqual(ids.map((id) => `${id}.svg`).sort());
    const page = fs.readFileSync(path.join(out, 'r.html'), 'utf8');
    for (const id of ids) {
      const svg = fs.readFileSync(path.join(result.figuresDir, `${id}.svg`), 'utf8');
      expect(svg.startsWith('<svg'), id).toBe(true);
      expect(page).toContain(svg); // the very figure the page shows
      const spec = JSON.parse(fs.readFileSync(path.join(result.figuresDir, `${id}.vl.json`), 'utf8'));
      expect(spec.$schema, id).toMatch(/vega-lite/);
      const csv = fs.readFileSync(path.join(result.figuresDir, `${id}.csv`), 'utf8').trim().split('\n');
      expect(csv.length - 1, id).toBe(spec.data.values.length); // one CSV row per plotted row
    }
    // A report written again with fewer figures removes its own stale files, and never the user's.
    fs.writeFileSync(path.join(result.figuresDir, '.report-figures.json'), JSON.stringify({ files: ['fig-old.svg', '../r.html'] }));
    fs.writeFileSync(path.join(result.figuresDir, 'fig-old.svg'), '<svg/>');
    await runReport(args);
    expect(fs.existsSync(path.join(result.figuresDir, 'fig-old.svg'))).toBe(false);
    expect(fs.readFileSync(path.join(result.figuresDir, 'my-notes.txt'), 'utf8')).toBe('mine');
    expect(fs.existsSync(path.join(out, 'r.html'))).toBe(true); // a manifest cannot point outside figures/
  });

  it('takes several directories as one study: one --out for them, the runs of both, the paths as given', async () => {
    const base = { score: { kind: 'final' } as const, extraScores: [], includeIncomplete: false, comparePaper: true, reps: 10, seed: 's' };
    const more = tmpSweep('report-more-');
    try {
      const extra = [0, 1, 2].map((seed) => ({ game: 'pong', optimizer: 'adamw', weightDecay: 1e-3, seed, returns: [1, 2, 3, 4] }));
      for (const r of extra) writeRun(more, r);
      expect(parseReportArgs([root, more], quiet()).dirs).toEqual([root, more]);
      await expect(runReport({ ...base, dirs: [root, more], out: null })).rejects.toThrow(/several directories given .*: give --out <file\.html>/);
      const out = path.join(root, 'both.html');
      const result = await runReport({ ...base, dirs: [root, more], out });
      const page = fs.readFileSync(out, 'utf8');
      expect(page).toContain(`Sweep: <code>${escapeHtml(`${root}, ${more}`)}</code> — ${RUNS.length - 1 + extra.length} readable run(s), 1 skipped`);
      expect(page).toContain('λ=1e-3'); // the second directory's row
      expect(result.skipped).toBe('1 unreadable');
    } finally {
      fs.rmSync(more, { recursive: true, force: true });
    }
  });

  it('shows the sweep path as the user gave it, not the absolute path', async () => {
    const relative = path.relative(process.cwd(), root);
    const { html: page } = await buildReport(relative, { score: { kind: 'final' }, reps: 10 });
    expect(page).toContain(`Sweep: <code>${escapeHtml(relative)}</code>`);
  });
});

describe('report in a real headless browser', () => {
  function chromium(args: string[]) {
    const profile = fs.mkdtempSync(path.join(root, 'chromium-profile-'));
    return spawnSync(
      CHROMIUM,
      [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
        `--user-data-dir=${profile}`, '--window-size=1280,2400', ...args,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
  }

  it('shows the table and every figure with a non-zero size', async (ctx) => {
    if (!fs.existsSync(CHROMIUM)) {
      const why = `${CHROMIUM} is missing: run \`bash scripts/install-system-packages.sh\` (Debian's chromium package)`;
      if (process.env.CI) throw new Error(why);
      console.warn(`skipping the browser test of the report: ${why}`); // visible in the default reporter too
      ctx.skip(why);
    }
    const { file } = await runReport({ dirs: [root], out: null, score: { kind: 'final' }, extraScores: [], includeIncomplete: false, comparePaper: true, reps: 100, seed: 's' });
    expect(file).toBe(path.join(root, 'report.html'));
    // A test copy with a probe that writes what the browser laid out into the DOM; the report itself has no script.
    const probe = `<script>addEventListener('load', () => {
      const box = (e) => { const r = e.getBoundingClientRect(); return { w: Math.round(r.width), h: Math.round(r.height) }; };
      const out = { table: box(document.getElementById('table1')), rows: document.querySelectorAll('#table1 tr').length,
        svgs: [...document.querySelectorAll('figure')].map((f) => ({ id: f.id, ...box(f.querySelector('svg')),
          marks: f.querySelectorAll('path, line, rect').length })) };
      const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out); document.body.append(pre);
    });</script>`;
    const testCopy = path.join(root, 'report-probe.html');
    fs.writeFileSync(testCopy, fs.readFileSync(file, 'utf8').replace('</body>', `${probe}</body>`));

    const dom = chromium(['--virtual-time-budget=5000', '--dump-dom', `file://${testCopy}`]);
    expect(dom.error, String(dom.error)).toBeUndefined();
    const m = /<pre id="probe">(.*?)<\/pre>/s.exec(dom.stdout);
    expect(m, `no probe output; chromium stderr:\n${dom.stderr.slice(-2000)}`).not.toBeNull();
    const probed = JSON.parse(m![1].replace(/&quot;/g, '"').replace(/&amp;/g, '&'));
    expect(probed.table.w).toBeGreaterThan(300);
    expect(probed.table.h).toBeGreaterThan(50);
    expect(probed.rows).toBe(6); // header + orig + 2 × (decoupled, WD)
    expect(probed.svgs.map((s: { id: string }) => s.id)).toEqual([
      'fig-rliable-intervals', 'fig-rliable-improvement', 'fig-rliable-profiles', 'fig-rliable-efficiency',
      'fig-sensitivity', 'fig-sensitivity-games', 'fig-curves-1e-4', 'fig-curves-1e-5', 'fig-m-over-w', 'fig-wd-share', 'fig-weight-norm', 'fig-update-ratio',
    ]);
    for (const s of probed.svgs) {
      expect(s.w, s.id).toBeGreaterThan(200);
      expect(s.h, s.id).toBeGreaterThan(100);
      expect(s.marks, s.id).toBeGreaterThan(10);
    }

    // And a screenshot, for a person to look at (kept next to the report in the test's tmp dir).
    const png = path.join(root, 'report.png');
    const shot = chromium([`--screenshot=${png}`, `file://${file}`]);
    expect(fs.existsSync(png), shot.stderr.slice(-2000)).toBe(true);
    expect(fs.statSync(png).size).toBeGreaterThan(50_000);
  });
});
