// The atari command line: parsing into a run config, every usage error, --help and --list-presets, and the memory
// check that refuses a run too large for the machine before anything is written.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { atariUsageError as parseError, parseAtari as parse } from './fixtures/atari_cli.ts';
import { buildAtariProgram, describePresets, memoryNeed, parseAtariArgs } from '../src/cli/atari.ts';
import { runMemoryBytesFor } from '../src/sweep/resources.ts';

describe('atari command line', () => {
  it('resolves the game and fills defaults', () => {
    const run = parse('--game', 'SpaceInvaders', '--agent', 'random');
    expect(run).toMatchObject({ kind: 'random', game: 'space_invaders', seed: 0, protocolName: 'dopamine' });
    expect(parse('--game', 'pong', '--agent', 'random', '--protocol', 'nature', '--seed', '7')).toMatchObject({ game: 'pong', seed: 7, protocol: { noopMax: 30, terminalOnLifeLoss: true } });
    expect(parse('--list-games')).toEqual({ kind: 'list-games' });
  });

  it('trains DQN by default with the dopamine preset, and resolves every choice into the run config', () => {
    const run = parse('--game', 'Pong');
    expect(run).toMatchObject({ kind: 'train', threads: null, tensorboard: false, saveReplay: true });
    expect(parse('--game', 'Pong', '--no-save-replay')).toMatchObject({ kind: 'train', saveReplay: false });
    if (run.kind !== 'train') throw new Error('expected a training run');
    expect(run.config).toMatchObject({
      game: 'pong', seed: 0, preset: 'dopamine', protocol: 'dopamine', iterations: 200, trainingSteps: 250_000, evalSteps: 0,
      agent: { minReplayHistory: 20_000, targetUpdatePeriodSteps: 8_000, batchSize: 32, loss: 'huber', padding: 'same',
        optimizer: { name: 'adam', learningRate: 6.25e-5, epsilon: 1.5e-4, weightDecay: 0 } },
    });
    expect(run.outDir).toMatch(/results\/runs\/pong-adam-wd0-s0-[0-9a-f]{8}$/);
    const custom = parse('--game', 'Breakout', '--optimizer', 'adamw', '--wd', '1e-4', '--schedule', 'early:1000', '--preset', 'reduced',
      '--seed', '2', '--iterations', '5', '--eval-steps', '500', '--set', 'agent.targetUpdatePeriodSteps=4000', '--set', 'agent.loss=mse',
      '--threads', '1', '--out', '/tmp/x', '--tensorboard');
    if (custom.kind !== 'train') throw new Error('expected a training run');
    expect(custom.config).toMatchObject({
      game: 'breakout', seed: 2, preset: 'reduced', iterations: 5, trainingSteps: 10_000, evalSteps: 500,
      agent: { minReplayHistory: 5_000, targetUpdatePeriodSteps: 4000, loss: 'mse', optimizer: { name: 'adamw', weightDecay: 1e-4, weightDecaySchedule: 'early:1000' } },
    });
    expect(custom).toMatchObject({ outDir: '/tmp/x', threads: 1, tensorboard: true });
    const tf = parse('--game', 'Pong', '--preset', 'dopamine-tf');
    if (tf.kind !== 'train') throw new Error('expected a training run');
    expect(tf.config.agent.optimizer).toMatchObject({ name: 'rmsprop', learningRate: 2.5e-4, rho: 0.95, epsilon: 1e-5, centered: true, initialMeanSquare: 1 });
    expect(tf.config.evalSteps).toBe(125_000);
  });

  it('rejects DQN settings that cannot run, naming the setting', () => {
    expect(parseError('--game', 'Pong', '--optimizer', 'adam', '--wd', '1e-3')).toMatch(/'adam' has no weight decay, so --wd must be 0/);
    expect(parseError('--game', 'Pong', '--optimizer', 'sgdw', '--wd', '1e-3')).toMatch(/no settings for the sgd family.*--lr/);
    expect(parseError('--game', 'Pong', '--optimizer', 'adamw', '--schedule', 'sometimes')).toMatch(/malformed weightDecaySchedule 'sometimes'/);
    expect(parseError('--game', 'Pong', '--set', 'agent.gamma=high')).toMatch(/agent\.gamma=high: expected a decimal number/);
    expect(parseError('--game', 'Pong', '--set', 'agent.targetUpdate=5')).toMatch(/no such config key\. Did you mean agent\.targetUpdatePeriodSteps/);
    expect(parseError('--game', 'Pong', '--set', 'seed=4')).toMatch(/use the --seed flag/);
    expect(parseError('--game', 'Pong', '--set', 'agent.minReplayHistory=5000000')).toMatch(/must be below agent\.replayCapacityTransitions/);
    expect(parseError('--game', 'Pong', '--set', 'noequals')).toMatch(/Expected key=value/);
    expect(parseError('--game', 'Pong', '--threads', '0')).toMatch(/whole number >= 1/);
    expect(parseError('--game', 'Pong', '--episodes', '4')).toMatch(/--episodes applies to --agent random only/);
    expect(parseError('--game', 'Pong', '--agent', 'random', '--optimizer', 'adamw')).toMatch(/--optimizer only apply to --agent dqn/);
    expect(parseError('--game', 'Pong', '--agent', 'random', '--no-save-replay')).toMatch(/--no-save-replay only apply to --agent dqn/);
    expect(parseError('--resume')).toMatch(/--resume needs --out/);
  });

  it('lists every optimizer scheme in --help', () => {
    let text = '';
    const program = buildAtariProgram().configureOutput({ writeOut: (s) => { text += s; } });
    program.outputHelp();
    expect(text).toContain('--game');
    for (const name of ['adam', 'adam-l2', 'adamw', 'adam-separated', 'sgdw', 'rmspropw']) expect(text).toContain(name);
  });

  it('rejects bad input with a message that says what to do', () => {
    expect(parseError('--game', 'Pongg')).toMatch(/Unknown Atari game "Pongg"\. Did you mean Pong\?/);
    expect(parseError()).toMatch(/--game is required/);
    expect(parseError('--game', 'Pong', '--seed', '-1')).toMatch(/Expected a whole number >= 0, got "-1"/);
    expect(parseError('--game', 'Pong', '--seed', '1.5')).toMatch(/whole number/);
    expect(parseError('--game', 'Pong', '--agent', 'random', '--episodes', '0')).toMatch(/whole number >= 1/);
    expect(parseError('--game', 'Pong', '--agent', 'human')).toMatch(/Unknown agent "human"\. Valid: dqn, random/);
    expect(parseError('--game', 'Pong', '--protocol', 'gym')).toMatch(/Valid: dopamine, nature/);
    expect(parseError('--game', 'Pong', '--bogus')).toMatch(/unknown option '--bogus'/);
  });

  it('reads numbers in decimal and exponent form only, says the bound that applies, and caps λ', () => {
    for (const [flag, value] of [['--wd', '0x10'], ['--lr', '0x10'], ['--lr', '1_000'], ['--wd', '0b1'], ['--wd', '']]) {
      expect(parseError('--game', 'Pong', '--optimizer', 'adamw', flag, value), `${flag} ${value}`).toMatch(/decimal number|not a weight decay/);
    }
    expect(parseError('--game', 'Pong', '--set', 'agent.targetUpdatePeriodSteps=0x10')).toMatch(/expected a decimal number/);
    expect(parseError('--game', 'Pong', '--optimizer', 'adam-l2', '--wd', '1e300')).toMatch(/λ = 1e300 is not a plausible weight decay: at most 10/);
    expect(parseError('--game', 'Pong', '--optimizer', 'adam-l2', '--set', 'agent.optimizer.weightDecay=1e300')).toMatch(/not a plausible weight decay/);
    expect(parse('--game', 'Pong', '--optimizer', 'adamw', '--wd', '1E-4', '--lr', '.5')).toMatchObject({ config: { agent: { optimizer: { weightDecay: 1e-4, learningRate: 0.5 } } } });
    // A bound of 1 is said as such, not as ">= 0".
    expect(parseError('--game', 'Pong', '--threads', '-1')).toMatch(/Expected a whole number >= 1, got "-1"/);
    expect(parseError('--game', 'Pong', '--lr', '-1')).toMatch(/Expected a decimal number > 0/);
    expect(parseError('--game', 'Pong', '--log-every', '0')).toMatch(/Expected a decimal number > 0/);
  });

  it('--resume --out DIR alone checks the stored config like flags, before anything is written', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const { resolveRunConfig } = await import('../src/run/presets.ts');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-resume-'));
    const config = resolveRunConfig({ game: 'pong', seed: 0, preset: 'smoke' });
    (config.agent as { gamma: unknown }).gamma = 7;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ config }));
    const before = fs.readdirSync(dir);
    expect(parseError('--resume', '--out', dir)).toMatch(/agent\.gamma must be in \[0, 1\], got 7/);
    expect(fs.readdirSync(dir)).toEqual(before);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--set never reaches a prototype: __proto__, constructor and prototype are refused, and nothing leaks', () => {
    for (const key of ['__proto__.toString', 'constructor.name', 'agent.__proto__.x', 'agent.optimizer.prototype', 'toString', 'agent.hasOwnProperty']) {
      expect(parseError('--game', 'Pong', '--set', `${key}=x`), key).toMatch(/is not a config key|no such config key/);
    }
    expect(({} as Record<string, unknown>).toString).toBe(Object.prototype.toString);
    expect(Object.prototype.toString.call([])).toBe('[object Array]');
  });

  it('--keep-checkpoints N: passed to the run (null when not given, so the run keeps what it recorded); bad values refused in one line', () => {
    expect(parse('--game', 'Pong')).toMatchObject({ kind: 'train', keepCheckpoints: null });
    expect(parse('--game', 'Pong', '--keep-checkpoints', '1')).toMatchObject({ kind: 'train', keepCheckpoints: 1 });
    const a = parse('--game', 'Pong', '--keep-checkpoints', '7');
    const b = parse('--game', 'Pong');
    if (a.kind !== 'train' || b.kind !== 'train') throw new Error('expected training runs');
    // Not part of the experiment: the config (what config.json compares and run ids hash) is the same.
    expect(a.config).toEqual(b.config);
    expect(a.outDir).toBe(b.outDir);
    for (const bad of ['0', '-1', '1.5', 'all', '']) {
      const message = parseError('--game', 'Pong', '--keep-checkpoints', bad);
      expect(message, bad).toMatch(/^error: option '--keep-checkpoints <n>' argument '.*' is invalid\. Expected a whole number >= 1, got ".*"\.$/);
    }
    expect(parseError('--game', 'Pong', '--agent', 'random', '--keep-checkpoints', '2')).toMatch(/--keep-checkpoints only apply to --agent dqn/);
    // Allowed beside --resume --out DIR alone (it is not part of the stored config).
    expect(parseError('--resume', '--out', '/nonexistent/run', '--keep-checkpoints', '2')).toMatch(/nothing to resume/);
  });

  it('--tf-log asks for TensorFlow\'s native log lines; off by default', () => {
    expect(parse('--game', 'Pong')).toMatchObject({ tfLog: false });
    expect(parse('--game', 'Pong', '--tf-log')).toMatchObject({ tfLog: true });
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse((await import('node:fs')).readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    let out = '';
    const program = buildAtariProgram().exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: () => {} });
    expect(() => parseAtariArgs(['--version'], program)).toThrow(expect.objectContaining({ code: 'commander.version', exitCode: 0 }));
    expect(out).toBe(`wd-dqn-harness ${version}\n`);
  });

  it('--help groups the options: Run, Optimizer, Budget, Output, Resources, Information, in that order', () => {
    let text = '';
    buildAtariProgram().configureOutput({ writeOut: (s) => (text += s) }).outputHelp();
    const headings = text.split('\n').filter((line) => /^[A-Z][A-Za-z ()']*:$/.test(line));
    expect(headings).toEqual(['Run:', 'Optimizer:', 'Budget:', 'Output:', 'Resources:', 'Information:', 'Examples:']);
    const section = (name: string) => text.slice(text.indexOf(`\n${name}:\n`), text.indexOf('\n\n', text.indexOf(`\n${name}:\n`) + 1));
    expect(section('Optimizer')).toMatch(/--wd <λ>/);
    expect(section('Output')).toMatch(/--keep-checkpoints <n>[\s\S]*else 4/);
    expect(section('Resources')).toMatch(/--threads <n>[\s\S]*default: not\s+set/);
    expect(section('Resources')).toMatch(/--tf-log[\s\S]*TF_CPP_MIN_LOG_LEVEL=0/);
    expect(section('Information')).toMatch(/-V, --version[\s\S]*-h, --help/);
    expect(text).toMatch(/--out <dir>\s+the run directory/);
  });

  it('--list-presets: one block per preset, every value as an aligned key: value line under its --set key', () => {
    expect(parse('--list-presets')).toEqual({ kind: 'list-presets' });
    const text = describePresets();
    const blocks = text.split('\n\n');
    expect(blocks.map((b) => b.split('\n')[0])).toEqual(['dopamine (default)', 'dopamine-tf', 'reduced', 'smoke']);
    expect(text).not.toMatch(/[{}]/); // no JSON
    const reduced = blocks[2].split('\n');
    const rows = reduced.filter((l) => /^ {4}\S/.test(l));
    // Aligned: every value starts in the same column.
    const columns = new Set(rows.map((l) => l.search(/:\s+\S/) + l.slice(l.search(/:\s+\S/) + 1).search(/\S/) + 1));
    expect(columns.size).toBe(1);
    const value = (key: string) => rows.find((l) => l.trimStart().startsWith(`${key}:`))?.split(/:\s+/)[1];
    expect(value('iterations')).toBe('10');
    expect(value('agent.replayCapacityTransitions')).toBe('100000');
    expect(value('agent.minReplayHistory')).toBe('5000');
    expect(value('agent.optimizer.learningRate')).toBe('6.25e-5');
    expect(value('optimizer')).toBe('adam (default scheme)');
    expect(reduced).toContain('  adam family (adam, adam-l2, adamw, adam-separated):');
    // The keys are the ones --set takes.
    expect(parse('--game', 'Pong', '--preset', 'reduced', '--set', 'agent.replayCapacityTransitions=50000')).toMatchObject({ config: { agent: { replayCapacityTransitions: 50000 } } });
  });
});

describe('a run that cannot fit in memory', () => {
  const REPO = path.resolve(import.meta.dirname, '..');
  const config = (capacity: number) => {
    const run = parse('--game', 'Pong', '--preset', 'smoke', '--set', `agent.replayCapacityTransitions=${capacity}`);
    if (run.kind !== 'train') throw new Error('expected a training run');
    return run.config;
  };

  it("is refused when its replay memory's need (the sweep's estimate) exceeds the machine's memory; else says its need", () => {
    for (const capacity of [2_000, 100_000, 1_000_000, 1e9]) {
      const need = runMemoryBytesFor(capacity);
      expect(memoryNeed(config(capacity), need)).toMatch(/^memory: this run needs ~[\d.]+ GiB \(its replay memory of [\d,]+ transitions, plus ~1 GB\); this machine has [\d.]+ GiB$/);
      expect(() => memoryNeed(config(capacity), need - 1)).toThrow(
        new RegExp(`^this run needs ~${(need / 2 ** 30).toFixed(1)} GiB \\(its replay memory of ${capacity.toLocaleString('en-US')} transitions, plus ~1 GB\\), ` +
          `more than this machine's [\\d.]+ GiB of memory: lower agent\\.replayCapacityTransitions, or use --preset reduced \\(100,000 transitions\\)$`));
    }
  });

  it('is refused before anything is written: no run directory (7 TB, and a size no typed array can hold)', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'atari-memory-'));
    try {
      for (const capacity of ['1e9', '1e12']) {
        const out = path.join(parent, `run-${capacity}`);
        const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/atari.ts', '--game', 'Pong', '--preset', 'smoke',
          '--set', `agent.replayCapacityTransitions=${capacity}`, '--out', out], { cwd: REPO, encoding: 'utf8', timeout: 120_000 });
        expect(result.status, result.stderr).toBe(1);
        expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^error: this run needs ~[\d.]+ GiB .*more than this machine's [\d.]+ GiB of memory: .*--preset reduced/)]);
        expect(fs.readdirSync(parent)).toEqual([]);
      }
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  }, 300_000);
});
