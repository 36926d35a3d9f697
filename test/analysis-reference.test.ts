// The reference data in data/reference: published numbers read right, and damaged files refused by line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHumanReference, loadPaperTable } from '../src/analysis/reference.ts';
import { PAPER_BUDGET, PAPER_GAMES, PAPER_ROWS, schemeLabel } from '../src/paper.ts';
import { PRESETS } from '../src/run/presets.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tmpFile(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reference-'));
  dirs.push(dir);
  const file = path.join(dir, 'x.csv');
  fs.writeFileSync(file, text);
  return file;
}

describe('data/reference', () => {
  it('Table 1 as published (spot checks against the paper)', () => {
    const rows = loadPaperTable();
    expect(rows).toHaveLength(13);
    const get = (scheme: string, lambda: number, game: string) => rows.find((r) => r.scheme === scheme && r.lambda === lambda)!.scores.get(game);
    expect(get('orig', 0, 'beam_rider')).toBe(2293);
    expect(get('decoupled', 1e-3, 'qbert')).toBe(11430);
    expect(get('WD', 1e-6, 'time_pilot')).toBe(6707);
    expect(get('separated', 1e-5, 'seaquest')).toBe(3055);
    expect(rows.map((r) => r.optimizer)).toContain('adam-separated');
  });

  it('random and human scores of the eight games', () => {
    const refs = loadHumanReference();
    expect(refs.size).toBe(8);
    expect(refs.get('beam_rider')).toEqual({ random: 363.9, human: 16926.5 });
    expect(refs.get('time_pilot')).toEqual({ random: 3568, human: 5229.2 });
  });

  it("src/paper.ts describes the same experiment as the published table and Dopamine's preset", () => {
    // The rows of data/reference/bjorck2021_table1.csv (ordered by λ there) are PAPER_ROWS; its columns, in order, PAPER_GAMES.
    const rows = loadPaperTable();
    const cell = (optimizer: string, lambda: number) => `${optimizer}@${lambda}`;
    expect(rows.map((r) => cell(r.optimizer, r.lambda)).sort()).toEqual(PAPER_ROWS.flatMap((r) => r.weightDecays.map((wd) => cell(r.optimizer, wd))).sort());
    for (const r of rows) expect([...r.scores.keys()]).toEqual([...PAPER_GAMES]);
    const dopamine = PRESETS.dopamine.values;
    expect({
      iterations: dopamine.iterations,
      trainingSteps: dopamine.trainingSteps,
      minReplayHistory: dopamine.agent.minReplayHistory,
      updatePeriodSteps: dopamine.agent.updatePeriodSteps,
    }).toEqual(PAPER_BUDGET);
  });

  it('scheme labels', () => {
    expect(['adam', 'adamw', 'adam-l2', 'adam-separated', 'sgdw'].map(schemeLabel)).toEqual(['orig', 'decoupled', 'WD', 'separated', 'sgdw']);
  });

  it('damaged files fail naming the file and line', () => {
    expect(() => loadPaperTable(tmpFile('# c\nscheme,lambda,Pong\norig,0\n'))).toThrow(/x\.csv line 3: 2 fields, the header has 3/);
    expect(() => loadPaperTable(tmpFile('scheme,lambda,Pong\nadamw,0,3\n'))).toThrow(/unknown scheme "adamw"/);
    expect(() => loadPaperTable(tmpFile('scheme,lambda,Pong\norig,0,abc\n'))).toThrow(/orig λ=0 pong is "abc", not a number/);
    expect(() => loadPaperTable(tmpFile('scheme,lambda,Pongg\norig,0,1\n'))).toThrow(/Unknown Atari game "Pongg"/);
    expect(() => loadHumanReference(tmpFile('# only comments\n'))).toThrow(/no header line/);
    expect(() => loadHumanReference(tmpFile('game,rand,human\nPong,1,2\n'))).toThrow(/no "random" column/);
  });
});
