// The bridge against a reference implementation of Dopamine's AtariPreprocessing and runner episode loop
// (test/reference/dopamine_reference.py, over ale-py's gymnasium environment): for the same ALE seed and actions,
// every observation, reward, terminal, step count and episode end must be identical, under both protocols.
// The bridge is driven by the harness's own loop rule (stepOutcome: the one the trainer uses).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AleBridge, DOPAMINE_PROTOCOL, NATURE_PROTOCOL, stepOutcome, type EnvProtocol } from '../envs/ale_bridge.ts';
import { VENV_PYTHON } from '../src/paths.mjs';

const REFERENCE = path.join(import.meta.dirname, 'reference', 'dopamine_reference.py');
const FRAME = 84 * 84;
const HEADER = 17; // u8 kind, action, terminal, episode_over, frames; f64 reward; u32 step number
const KIND = ['start', 'step', 'next-life'] as const;

interface Observation {
  kind: (typeof KIND)[number];
  action: number;
  terminal: boolean;
  episodeOver: boolean;
  reward: number;
  stepNumber: number;
  frame: Uint8Array;
}

interface Case {
  game: string;
  seed: number;
  protocol: 'dopamine' | 'nature';
  maxEpisodeSteps: number;
}

const STEPS = 2500;
const GAMES = ['breakout', 'pong', 'space_invaders', 'seaquest'];
// Two seeds per game and protocol; the second with a short cap, so episodes also end at the cap, and under the
// Nature protocol the cap falls partway through a game that has lost lives.
const CASES: Case[] = GAMES.flatMap((game, g) => (['dopamine', 'nature'] as const).flatMap((protocol) => [
  { game, seed: 11 + g, protocol, maxEpisodeSteps: 27_000 },
  { game, seed: 101 + g, protocol, maxEpisodeSteps: 350 },
]));

function protocolOf(c: Case): EnvProtocol {
  return { ...(c.protocol === 'nature' ? NATURE_PROTOCOL : DOPAMINE_PROTOCOL), maxEpisodeSteps: c.maxEpisodeSteps };
}

function referenceRun(c: Case, dir: string): { records: Observation[]; earlyEnds: number } {
  const p = protocolOf(c);
  const out = path.join(dir, `${c.game}-${c.seed}-${c.protocol}.bin`);
  execFileSync(VENV_PYTHON, [REFERENCE, c.game, String(c.seed), String(STEPS), String(p.maxEpisodeSteps),
    p.terminalOnLifeLoss ? '1' : '0', String(p.noopMax), String(p.repeatActionProbability), String(1000 + c.seed), out],
  { stdio: ['ignore', 'ignore', 'pipe'] });
  const bytes = fs.readFileSync(out);
  const records: Observation[] = [];
  let earlyEnds = 0;
  for (let at = 0; at < bytes.length; at += HEADER + FRAME) {
    const frames = bytes[at + 4];
    const record: Observation = {
      kind: KIND[bytes[at]], action: bytes[at + 1], terminal: bytes[at + 2] === 1, episodeOver: bytes[at + 3] === 1,
      reward: bytes.readDoubleLE(at + 5), stepNumber: bytes.readUInt32LE(at + 13),
      frame: new Uint8Array(bytes.subarray(at + HEADER, at + HEADER + FRAME)),
    };
    // A terminal on the skip's 3rd or 4th frame: the screens read for pooling depend on the order of read and stop.
    if (record.kind === 'step' && record.terminal && frames >= 3) earlyEnds++;
    records.push(record);
  }
  return { records, earlyEnds };
}

/** Plays the reference's actions through the bridge with the harness's loop; records what the agent sees. */
async function bridgeRun(bridge: AleBridge, c: Case, actions: number[]): Promise<Observation[]> {
  const env = await bridge.createEnv({ ...protocolOf(c), game: c.game, seed: c.seed });
  const records: Observation[] = [];
  const see = (kind: Observation['kind'], action: number, s: Awaited<ReturnType<typeof env.step>>) =>
    records.push({ kind, action, terminal: s.terminal, episodeOver: stepOutcome(s) === 'episode-over', reward: s.reward, stepNumber: s.episodeSteps, frame: s.frame });
  let taken = 0;
  while (taken < actions.length) {
    see('start', 0, await env.reset());
    for (;;) {
      const action = actions[taken++];
      const s = await env.step(action);
      see('step', action, s);
      const outcome = stepOutcome(s);
      if (outcome === 'episode-over' || taken === actions.length) break;
      if (outcome === 'life-lost') see('next-life', 0, await env.reset());
    }
  }
  await env.close();
  return records;
}

function describeRecord(r: Observation): string {
  return `${r.kind} action ${r.action} reward ${r.reward} terminal ${r.terminal} episode-over ${r.episodeOver} step ${r.stepNumber}`;
}

describe("frames equal to a reference implementation of Dopamine's preprocessing and runner", () => {
  let bridge: AleBridge;
  let dir: string;
  const coverage = { lateTerminals: 0, nextLives: 0, capEnds: 0, cappedWithLivesLost: 0 };
  beforeAll(async () => {
    bridge = await AleBridge.start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dopamine-ref-'));
  });
  afterAll(async () => {
    await bridge.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each(CASES)('$game seed $seed, $protocol protocol, cap $maxEpisodeSteps', async (c) => {
    const reference = referenceRun(c, dir);
    const actions = reference.records.filter((r) => r.kind === 'step').map((r) => r.action);
    expect(actions.length).toBe(STEPS);
    const ours = await bridgeRun(bridge, c, actions);
    for (let i = 0; i < Math.max(ours.length, reference.records.length); i++) {
      const want = reference.records[i];
      const got = ours[i];
      expect(got && describeRecord(got), `record ${i}`).toBe(want && describeRecord(want));
      if (!Buffer.from(got.frame).equals(Buffer.from(want.frame))) {
        const differing = got.frame.reduce((n, v, k) => n + (v !== want.frame[k] ? 1 : 0), 0);
        expect.fail(`record ${i} (${describeRecord(want)}): ${differing} of ${FRAME} pixels differ`);
      }
    }
    coverage.lateTerminals += reference.earlyEnds;
    coverage.nextLives += reference.records.filter((r) => r.kind === 'next-life').length;
    coverage.capEnds += reference.records.filter((r) => r.episodeOver && r.stepNumber === c.maxEpisodeSteps).length;
    if (c.protocol === 'nature') {
      const capped = reference.records.filter((r) => r.episodeOver && r.stepNumber === c.maxEpisodeSteps);
      coverage.cappedWithLivesLost += capped.length > 0 && reference.records.some((r) => r.kind === 'next-life') ? 1 : 0;
    }
  }, 120_000);

  it('covered the cases where an implementation can differ', () => {
    // Terminal steps that ended on the 3rd or 4th emulator frame (their screen is read before the loop stops),
    // lives lost under the Nature protocol, episodes ended by the cap, and the cap reached in a game with lives lost.
    expect(coverage.lateTerminals).toBeGreaterThan(0);
    expect(coverage.nextLives).toBeGreaterThan(0);
    expect(coverage.capEnds).toBeGreaterThan(0);
    expect(coverage.cappedWithLivesLost).toBeGreaterThan(0);
  });
});
