// The safetensors export, for real: the format's bytes (header length, 8-byte aligned JSON, offsets tiling the
// data), and the round trip of a Q-network: exported from tfjs, read back in Python by test/reference/
// safetensors_dqn.py with numpy only (or torch, if the venv has it), rebuilt there with PyTorch's layout, and its
// Q-values on random stacked inputs compared with the tfjs network's (SAME and VALID padding).
// WD_HARNESS_TORCH_PYTHON=/path/to/python (an interpreter with torch and numpy) also runs the documented PyTorch
// recipe, for a venv without torch.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import seedrandom from 'seedrandom';
import { afterAll, describe, expect, it } from 'vitest';
import { VENV_PYTHON } from '../src/paths.mjs';
import { QNetwork } from '../agents/network.ts';
import { decodeSafetensors, encodeSafetensors, writeSafetensors } from '../src/io/safetensors.ts';
import { convPads, EXPORT_NAMES, exportOnlineNetwork } from '../src/run/export.ts';
import { resolveRunConfig } from '../src/run/presets.ts';
import * as tf from '../src/tf.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCRIPT = path.join(ROOT, 'test', 'reference', 'safetensors_dqn.py');
/** The interpreters to check with: the project's venv, and one with torch if WD_HARNESS_TORCH_PYTHON names it. */
const PYTHONS: Array<[string, string | null]> = [[VENV_PYTHON, null], ...(process.env.WD_HARNESS_TORCH_PYTHON ? [[process.env.WD_HARNESS_TORCH_PYTHON, 'torch'] as [string, string]] : [])];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wd-safetensors-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('safetensors format', () => {
  it('writes an 8-byte LE header length, space-padded JSON, contiguous LE F32 data, and reads it back', () => {
    const a = { name: 'a', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, -0, 1e-30]) };
    const b = { name: 'b', shape: [1], data: Float32Array.from([Math.PI]) };
    const bytes = encodeSafetensors([a, b], { game: 'pong' });
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    expect(header).toEqual({
      __metadata__: { game: 'pong' },
      a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      b: { dtype: 'F32', shape: [1], data_offsets: [24, 28] },
    });
    expect(bytes.length).toBe(8 + n + 28);
    expect(view.getFloat32(8 + n + 8, true)).toBe(3.5);
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ game: 'pong' });
    expect([...back.tensors.get('a')!.data]).toEqual([...a.data]);
    expect(Object.is(back.tensors.get('a')!.data[4], -0)).toBe(true);
    expect(back.tensors.get('b')!.data[0]).toBe(Math.fround(Math.PI));
  });

  it('refuses malformed files and values with what is wrong', () => {
    const good = encodeSafetensors([{ name: 'a', shape: [2], data: Float32Array.from([1, 2]) }]);
    expect(() => decodeSafetensors(good.subarray(0, 5))).toThrow(/shorter than its 8-byte header length/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 4))).toThrow(/data_offsets/);
    const padded = new Uint8Array(good.length + 4);
    padded.set(good);
    expect(() => decodeSafetensors(padded)).toThrow(/cover 8 of the 12 data bytes/);
    expect(() => encodeSafetensors([{ name: 'a', shape: [3], data: new Float32Array(2) }])).toThrow(/does not fit/);
    expect(() => encodeSafetensors([], { n: 1 as unknown as string })).toThrow(/metadata must be strings/);
  });

  it('computes the SAME padding PyTorch needs: the extra pixel right and bottom, as TensorFlow', () => {
    expect(convPads('same')).toEqual([[2, 2, 2, 2], [1, 2, 1, 2], [1, 1, 1, 1]]);
    expect(convPads('valid')).toEqual([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
  });
});

/** A network with random biases too (the initial ones are zeros, which would hide a bias mix-up). */
function randomNetwork(padding: 'same' | 'valid', numActions: number): QNetwork {
  const network = new QNetwork({ numActions, padding, seed: 7 }, 'online');
  const random = seedrandom(`biases-${padding}`);
  const weights = network.readWeights();
  for (const [name, w] of weights) if (name.endsWith('/bias')) w.data = Float32Array.from(w.data, () => (random() - 0.5) * 0.2);
  network.writeWeights(weights);
  return network;
}

/** Random uint8 stacks [count, 4, 84, 84], the first one zero-padded as at an episode's start. */
function randomStates(count: number): Uint8Array {
  const random = seedrandom('states');
  const states = Uint8Array.from({ length: count * 4 * 84 * 84 }, () => Math.floor(random() * 256));
  states.fill(0, 0, 3 * 84 * 84);
  return states;
}

describe('exported Q-network round trip (Python, PyTorch layout)', () => {
  for (const padding of ['same', 'valid'] as const) {
    it(`${padding} padding: Q-values from the file equal tfjs's within 1e-4`, () => {
      const numActions = 6;
      const count = 4;
      const network = randomNetwork(padding, numActions);
      const states = randomStates(count);
      const q = tf.tidy(() => network.applyScaled(network.statesTensor(states, count)).dataSync() as Float32Array);
      const tensors = new Map([...network.readWeights()].map(([name, w]) => [`online/${name}`, { dtype: 'float32' as const, ...w }]));
      network.dispose();
      const config = resolveRunConfig({ game: 'pong', seed: 7, preset: 'smoke', optimizer: 'adamw', weightDecay: 1e-4, set: [['agent.padding', padding]] });
      const exported = exportOnlineNetwork({ config, checkpoint: 3, state: { nextIteration: 4, envSteps: 800, partial: null, agent: { updates: 123 } }, tensors, runName: 'pong-test' });
      expect(exported.tensors.map((t) => t.name)).toEqual(EXPORT_NAMES.map(([, to]) => to));
      const flat = padding === 'same' ? 11 * 11 * 64 : 7 * 7 * 64;
      expect(Object.fromEntries(exported.tensors.map((t) => [t.name, t.shape]))).toEqual({
        'conv1.weight': [32, 4, 8, 8], 'conv1.bias': [32], 'conv2.weight': [64, 32, 4, 4], 'conv2.bias': [64],
        'conv3.weight': [64, 64, 3, 3], 'conv3.bias': [64], 'fc1.weight': [512, flat], 'fc1.bias': [512],
        'fc2.weight': [numActions, 512], 'fc2.bias': [numActions],
      });
      const model = path.join(tmp, `${padding}.safetensors`);
      writeSafetensors(model, exported.tensors, exported.metadata);
      const statesFile = path.join(tmp, `${padding}-states.bin`);
      const qFile = path.join(tmp, `${padding}-q.bin`);
      fs.writeFileSync(statesFile, states);
      for (const [interpreter, backend] of PYTHONS) {
        const run = execFileSync(interpreter, [SCRIPT, model, statesFile, String(count), qFile], { encoding: 'utf8' });
        const report = JSON.parse(run.trim().split('\n').pop()!);
        if (backend) expect(report.backend).toBe(backend);
        expect(report.metadata).toMatchObject({
          game: 'pong', scheme: 'adamw', weight_decay: '0.0001', seed: '7', iteration: '3', iterations_completed: '4',
          num_actions: String(numActions), padding, updates: '123', run: 'pong-test',
        });
        expect(report.metadata.input_layout).toMatch(/NCHW float32 \[batch, 4, 84, 84\].*oldest first.*divided by 255/);
        const buffer = fs.readFileSync(qFile);
        const fromFile = new Float64Array(buffer.buffer, buffer.byteOffset, buffer.length / 8);
        expect(fromFile.length).toBe(count * numActions);
        let worst = 0;
        fromFile.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - q[i]))));
        expect(worst, `backend ${report.backend}`).toBeLessThan(1e-4);
      }
      // The check can fail: the Q-values are not all alike, and a wrong layout would not match them.
      expect(Math.max(...q) - Math.min(...q)).toBeGreaterThan(1e-2);
    });
  }
});
