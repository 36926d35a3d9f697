// Run options declared once (src/cli/run_options.ts) and run names made once (src/run/run_name.ts): a single run
// started with a sweep run's settings gets that run's id as its default directory; every setting that changes the
// config changes the name and nothing else does; a run named before names had a hash still resumes in its directory;
// and the table, not a list beside it, decides what --agent random and --resume without --game refuse.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { atariUsageError as parseError, parseAtari as parse } from './fixtures/atari_cli.ts';
import { buildAtariProgram, DEFAULT_RUNS_DIR, defaultRunDirectory } from '../src/cli/atari.ts';
import { CONFIG_OPTIONS_FIXED_ON_RESUME, longFlag, RUN_OPTIONS, TRAIN_ONLY } from '../src/cli/run_options.ts';
import { resolveRunConfig, type RunChoices } from '../src/run/presets.ts';
import { legacyRunName, runIdentityOf, runName } from '../src/run/run_name.ts';
import { runArguments } from '../src/sweep/command.ts';
import { buildPlan, crossGrid } from '../src/sweep/plan.ts';

function outDirOf(...argv: string[]): string {
  const run = parse(...argv);
  if (run.kind !== 'train') throw new Error('expected a training run');
  return run.outDir;
}

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-run-names-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A valid value for every option that takes one (the test fails when an option is added without one here). */
const SAMPLE: Record<string, string[]> = {
  game: ['Pong'], seed: ['3'], preset: ['reduced'], protocol: ['nature'], set: ['agent.loss=mse'], resume: [], optimizer: ['adamw'],
  wd: ['1e-4'], schedule: ['early:1000'], lr: ['1e-4'], matchPaperDecay: [], iterations: ['5'], trainingSteps: ['1000'],
  evalSteps: ['100'], evalEnvs: ['4'], out: [path.join(scratch, 'out')], keepCheckpoints: ['2'], saveReplay: [], tensorboard: [],
  captureVideo: ['2'], logEvery: ['5'], threads: ['1'], tfLog: [],
};

describe('run options, declared once', () => {
  it('every option of the table is one of atari\'s, and has a sample here', () => {
    const flags = buildAtariProgram().options.map((o) => o.long);
    for (const option of RUN_OPTIONS) {
      expect(flags, option.key).toContain(longFlag(option));
      expect(Object.keys(SAMPLE), option.key).toContain(option.key);
    }
  });

  it('--agent random refuses every train-only option of the table, by its flag', () => {
    for (const option of TRAIN_ONLY) {
      const message = parseError('--agent', 'random', '--game', 'Pong', longFlag(option), ...SAMPLE[option.key]);
      expect(message, option.key).toBe(`error: ${longFlag(option)} only apply to --agent dqn`);
    }
  });

  it('--resume --out DIR without --game refuses every config option but --iterations, and takes the others', () => {
    const dir = path.join(scratch, 'stored');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ config: resolveRunConfig({ game: 'pong', seed: 0, preset: 'smoke' }) }));
    const fixed = CONFIG_OPTIONS_FIXED_ON_RESUME.map((o) => o.key);
    // game is what switches to the full command; the others would be silently dropped if they were not refused.
    expect(fixed).toEqual(expect.arrayContaining(['seed', 'preset', 'protocol', 'optimizer', 'wd', 'lr', 'set', 'trainingSteps']));
    expect(fixed).not.toContain('iterations');
    for (const option of CONFIG_OPTIONS_FIXED_ON_RESUME.filter((o) => o.key !== 'game')) {
      expect(parseError('--resume', '--out', dir, longFlag(option), ...SAMPLE[option.key]), option.key)
        .toMatch(new RegExp(`the stored config is used; drop ${longFlag(option)} or give the full command`));
    }
    const extended = parse('--resume', '--out', dir, '--iterations', '9', '--keep-checkpoints', '2', '--threads', '1');
    expect(extended).toMatchObject({ kind: 'train', keepCheckpoints: 2, threads: 1, config: { iterations: 9, preset: 'smoke' } });
  });
});

describe('run names', () => {
  it('a single run with a sweep run\'s settings gets that run\'s id as its directory name', () => {
    const plan = buildPlan(crossGrid({
      games: ['breakout', 'pong'], optimizers: ['adam', 'adam-l2', 'adamw'], weightDecays: [1e-3, 1e-5], seeds: [0, 2], preset: 'reduced',
      overrides: { iterations: 3, evalSteps: 0, matchPaperDecay: true, set: { 'agent.loss': 'mse', 'agent.gamma': '0.98' } },
    }));
    expect(plan.runs.length).toBe(2 * 5 * 2);
    for (const run of plan.runs) {
      const args = runArguments(run, '/unused', 1);
      args.splice(args.indexOf('--out'), 2);
      expect(outDirOf(...args)).toBe(path.join(DEFAULT_RUNS_DIR, run.id));
    }
    // The study's own run: the id its sweep gave it, from the command a user would type.
    expect(path.basename(outDirOf('--game', 'Breakout', '--optimizer', 'adam-l2', '--wd', '1e-3', '--seed', '0', '--iterations', '2', '--set', 'agent.loss=mse')))
      .toBe('breakout-adam-l2-wd1e-3-s0-d19eeff0');
  });

  it('every setting that changes the config changes the name; storage and resources do not', () => {
    const base = ['--game', 'Pong', '--preset', 'reduced'];
    const plain = outDirOf(...base);
    expect(path.basename(plain)).toMatch(/^pong-adam-wd0-s0-[0-9a-f]{8}$/);
    const changing = [['--lr', '1e-4'], ['--schedule', 'early:1000'], ['--set', 'agent.loss=mse'], ['--eval-envs', '4'], ['--protocol', 'nature'],
      ['--iterations', '5'], ['--training-steps', '1000'], ['--eval-steps', '10'], ['--seed', '1'], ['--optimizer', 'adamw', '--wd', '1e-4']];
    const names = new Set([plain, ...changing.map((extra) => outDirOf(...base, ...extra))]);
    expect(names.size).toBe(changing.length + 1);
    for (const extra of [['--keep-checkpoints', '2'], ['--threads', '1'], ['--tensorboard'], ['--no-save-replay'], ['--log-every', '5'], ['--tf-log']]) {
      expect(outDirOf(...base, ...extra), extra.join(' ')).toBe(plain);
    }
    expect(path.basename(outDirOf('--game', 'Breakout', '--optimizer', 'adamw', '--wd', '1e-3', '--preset', 'reduced', '--match-paper-decay')))
      .toMatch(/^breakout-adamw-wd1e-3-matched-s0-[0-9a-f]{8}$/);
  });

  describe('a run named before names had a hash resumes where it is', () => {
    const choices: RunChoices = { game: 'pong', seed: 1, preset: 'smoke', optimizer: 'adamw', weightDecay: 1e-4 };
    const config = resolveRunConfig(choices);

    function runsDirWith(stored: string | null): string {
      const runsDir = fs.mkdtempSync(path.join(scratch, 'runs-'));
      const legacy = path.join(runsDir, legacyRunName(config));
      expect(path.basename(legacy)).toBe('pong-adamw-wd0.0001-seed1-smoke');
      fs.mkdirSync(legacy);
      if (stored !== null) fs.writeFileSync(path.join(legacy, 'config.json'), stored);
      return runsDir;
    }

    it('holding this config (or this config with fewer iterations): continued there, and said so', () => {
      for (const stored of [config, { ...config, iterations: 1 }]) {
        const runsDir = runsDirWith(JSON.stringify({ config: stored }));
        const { dir, note } = defaultRunDirectory(choices, config, runsDir);
        expect(dir).toBe(path.join(runsDir, 'pong-adamw-wd0.0001-seed1-smoke'));
        expect(note).toMatch(/from before run names had a settings hash; it continues there/);
      }
    });

    it('holding another config, an unreadable one, or none, or when the new name exists: the new name', () => {
      const other = resolveRunConfig({ ...choices, learningRate: 1e-4 });
      for (const stored of [JSON.stringify({ config: other }), '{not json', null]) {
        const runsDir = runsDirWith(stored);
        const { dir, note } = defaultRunDirectory(choices, config, runsDir);
        expect(path.basename(dir)).toMatch(/^pong-adamw-wd1e-4-s1-[0-9a-f]{8}$/);
        expect(note).toBeNull();
      }
      const runsDir = runsDirWith(JSON.stringify({ config }));
      const fresh = path.join(runsDir, runName(runIdentityOf(choices)));
      fs.mkdirSync(fresh);
      expect(defaultRunDirectory(choices, config, runsDir)).toEqual({ dir: fresh, note: null });
    });
  });
});
