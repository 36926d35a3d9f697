/**
 * Bad input is a clear error at construction, never a NaN later.
 */
import * as tf from '../src/tf.ts';
import { describe, expect, it } from 'vitest';

import {
  createOptimizer,
  decayMultiplier,
  formatWeightDecaySchedule,
  isOptimizerName,
  optimizerNames,
  parseWeightDecaySchedule,
  type OptimizerOptions,
} from '../src/optim/index.ts';

const make = (name: string, options: Record<string, unknown>) => () =>
  createOptimizer(name, options as unknown as OptimizerOptions);

describe('names', () => {
  it('lists every scheme the CLI, sweeps and tables use', () => {
    expect([...optimizerNames]).toEqual([
      'adam', 'adam-l2', 'adamw', 'adam-separated', 'sgd', 'sgd-l2', 'sgdw', 'rmsprop', 'rmsprop-l2', 'rmspropw',
    ]);
    expect(optimizerNames.every(isOptimizerName)).toBe(true);
    expect(isOptimizerName('Adam')).toBe(false);
  });

  it('an unknown name is an error that lists the valid ones', () => {
    expect(make('adamx', { learningRate: 1e-3 })).toThrow(
      "unknown optimizer 'adamx'; valid names: adam, adam-l2, adamw, adam-separated, sgd, sgd-l2, sgdw, rmsprop, rmsprop-l2, rmspropw",
    );
    expect(make('', { learningRate: 1e-3 })).toThrow(/valid names: adam, /);
  });

  it('every name constructs with defaults and does a finite step', () => {
    for (const name of optimizerNames) {
      const v = tf.variable(tf.tensor([[1, -2], [3, 0.5]]));
      const opt = createOptimizer(name, { learningRate: 1e-2 });
      opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
      expect(Array.from(v.dataSync()).every(Number.isFinite)).toBe(true);
      opt.dispose();
      v.dispose();
    }
  });
});

describe('learning rate and λ', () => {
  const bad = [-1, -1e-9, 0, NaN, Infinity, -Infinity, '0.1', null];
  for (const name of optimizerNames) {
    it(`${name}: negative, zero or non-finite learningRate is rejected`, () => {
      for (const lr of bad) expect(make(name, { learningRate: lr })).toThrow(/learningRate/);
      expect(make(name, {})).toThrow(/learningRate is required/);
    });
  }

  for (const name of ['adam-l2', 'adamw', 'adam-separated', 'sgd-l2', 'sgdw', 'rmsprop-l2', 'rmspropw']) {
    it(`${name}: negative or non-finite weightDecay is rejected`, () => {
      for (const wd of [-0.1, NaN, Infinity, -Infinity, '1']) {
        expect(make(name, { learningRate: 1e-3, weightDecay: wd })).toThrow(/weightDecay must be/);
      }
    });
  }

  it('schemes without weight decay refuse λ > 0 and point to their variants', () => {
    expect(make('adam', { learningRate: 1e-3, weightDecay: 0.1 })).toThrow(/use adam-l2 or adamw or adam-separated/);
    expect(make('sgd', { learningRate: 1e-3, weightDecay: 0.1 })).toThrow(/use sgd-l2 or sgdw/);
    expect(make('rmsprop', { learningRate: 1e-3, weightDecay: 0.1 })).toThrow(/use rmsprop-l2 or rmspropw/);
    expect(make('adam', { learningRate: 1e-3, weightDecay: 0 })).not.toThrow();
  });

  it('decoupled decay whose factor (1 − c) would be ≤ 0 is rejected', () => {
    expect(make('adamw', { learningRate: 0.1, weightDecay: 10 })).toThrow(/decoupled decay coefficient .* must be < 1/);
    expect(make('sgdw', { learningRate: 1e-3, weightDecay: 1, decoupledConvention: 'schedule-scaled' })).toThrow(/< 1/);
    const opt = createOptimizer('adamw', { learningRate: 0.1, weightDecay: 5 });
    expect(() => opt.setScheduleMultiplier(2)).toThrow(/< 1/);
    expect(() => opt.setScheduleMultiplier(-1)).toThrow(/scheduleMultiplier/);
    expect(() => opt.setLearningRate(NaN)).toThrow(/learningRate/);
    expect(() => opt.setLearningRate(0.5)).toThrow(/< 1/);
    opt.setLearningRate(0.05);
    expect(opt.learningRate).toBe(0.05);
    expect(opt.getConfig().learningRate).toBe(0.05);
    opt.dispose();
  });
});

describe('other options', () => {
  it('are range-checked', () => {
    expect(make('adam', { learningRate: 1e-3, beta1: 1 })).toThrow(/beta1 must be in \[0, 1\)/);
    expect(make('adam', { learningRate: 1e-3, beta2: -0.1 })).toThrow(/beta2/);
    expect(make('adam', { learningRate: 1e-3, epsilon: 0 })).toThrow(/epsilon must be > 0/);
    expect(make('rmsprop', { learningRate: 1e-3, epsilon: NaN })).toThrow(/epsilon/);
    expect(make('rmsprop', { learningRate: 1e-3, rho: 1.5 })).toThrow(/rho/);
    expect(make('sgd', { learningRate: 1e-3, momentum: 1 })).toThrow(/momentum/);
    expect(make('rmsprop', { learningRate: 1e-3, centered: 'yes' })).toThrow(/centered must be true or false/);
    expect(make('rmsprop', { learningRate: 1e-3, initialMeanSquare: -1 })).toThrow(/initialMeanSquare/);
    expect(make('adamw', { learningRate: 1e-3, decoupledConvention: 'torch' })).toThrow(/'lr-scaled' or 'schedule-scaled'/);
    expect(make('adamw', { learningRate: 1e-3, decayFilter: 'bias' })).toThrow(/'all' or 'no-bias'/);
    expect(make('adam', { learningRate: 1e-3, trackLastStep: 1 })).toThrow(/trackLastStep/);
  });

  it('unknown options and options a scheme does not use are errors (typos never silently ignored)', () => {
    expect(make('adamw', { learningRate: 1e-3, weight_decay: 0.1 })).toThrow(/unknown option 'weight_decay'/);
    expect(make('sgd', { learningRate: 1e-3, beta1: 0.9 })).toThrow(/option 'beta1' does not apply to sgd/);
    expect(make('adam', { learningRate: 1e-3, centered: true })).toThrow(/does not apply to adam/);
    expect(make('adam-l2', { learningRate: 1e-3, decoupledConvention: 'lr-scaled' })).toThrow(/does not apply/);
    expect(make('adam', { learningRate: 1e-3, beta1: undefined })).not.toThrow();
    expect(make('adam', null as unknown as Record<string, unknown>)).toThrow(/options must be an object/);
  });
});

describe('λ schedules', () => {
  it('parse and format', () => {
    for (const s of ['constant', 'early:1', 'late:250000', 'every:128']) {
      expect(formatWeightDecaySchedule(parseWeightDecaySchedule(s))).toBe(s);
    }
    expect(parseWeightDecaySchedule(' early:10 ')).toEqual({ kind: 'early', steps: 10 });
  });

  it('malformed strings are errors at construction', () => {
    for (const s of ['', 'early', 'early:', 'early:0', 'late:-3', 'every:1.5', 'every:0', 'sometimes:3', 'early:3x',
      'early:1e3', 'Early:3', 'constant:1', 'every:99999999999999999999']) {
      expect(() => parseWeightDecaySchedule(s)).toThrow(/weightDecaySchedule/);
      expect(make('adamw', { learningRate: 1e-3, weightDecay: 0.1, weightDecaySchedule: s })).toThrow(/weightDecaySchedule/);
    }
    expect(make('adamw', { learningRate: 1e-3, weightDecaySchedule: 7 })).toThrow(/weightDecaySchedule must be a string/);
  });

  it('every:K is only defined for the decoupled schemes', () => {
    for (const name of ['adam-l2', 'adam-separated', 'sgd-l2', 'rmsprop-l2']) {
      expect(make(name, { learningRate: 1e-3, weightDecay: 0.1, weightDecaySchedule: 'every:4' })).toThrow(
        /only defined for the decoupled schemes/,
      );
    }
    for (const name of ['adamw', 'sgdw', 'rmspropw']) {
      expect(make(name, { learningRate: 1e-3, weightDecay: 0.1, weightDecaySchedule: 'every:4' })).not.toThrow();
    }
  });

  it('multipliers', () => {
    const s = (text: string, k: number) => decayMultiplier(parseWeightDecaySchedule(text), k);
    expect([0, 1, 1e9].map((k) => s('constant', k))).toEqual([1, 1, 1]);
    expect([0, 2, 3, 4].map((k) => s('early:3', k))).toEqual([1, 1, 0, 0]);
    expect([0, 2, 3, 4].map((k) => s('late:3', k))).toEqual([0, 0, 1, 1]);
    expect([0, 1, 2, 3, 127, 255].map((k) => s('every:128', k))).toEqual([0, 0, 0, 0, 128, 128]);
  });
});

describe('gradients', () => {
  it('unknown variables, wrong shapes and non-float gradients are errors before any weight changes', () => {
    const v = tf.variable(tf.ones([2, 2]), true, 'validation/v');
    const opt = createOptimizer('adam', { learningRate: 1e-3 });
    const g = tf.ones([2, 2]);
    const wrong = tf.ones([4]);
    const ints = tf.ones([2, 2], 'int32');
    expect(() => opt.applyGradients([{ name: 'validation/nope', tensor: g }])).toThrow(/no registered variable/);
    expect(() => opt.applyGradients([{ name: v.name, tensor: wrong }])).toThrow(/shape/);
    expect(() => opt.applyGradients([{ name: v.name, tensor: ints }])).toThrow(/float32/);
    expect(Array.from(v.dataSync())).toEqual([1, 1, 1, 1]);
    expect(opt.iterations).toBe(0);
    tf.dispose([v, g, wrong, ints]);
    opt.dispose();
  });
});
