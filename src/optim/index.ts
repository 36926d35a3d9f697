/**
 * Pluggable optimizers for studying weight decay in deep RL (Bjorck, Weinberger & Gomes, "Understanding Decoupled
 * and Early Weight Decay", AAAI 2021, Table 1). See docs/optimizers.md for every scheme's exact update rule.
 *
 *   const opt = createOptimizer('adamw', { learningRate: 6.25e-5, weightDecay: 0.1, epsilon: 1.5e-4 });
 *   opt.minimize(() => loss(), false, variables);
 *   const d = opt.diagnostics();   // plain numbers for logging
 */
import * as tf from '../tf.ts';

import type { WeightDecayOptimizer } from './base.ts';
import {
  AdamL2Optimizer,
  AdamOptimizer,
  AdamSeparatedOptimizer,
  AdamWOptimizer,
  RmspropL2Optimizer,
  RmspropOptimizer,
  RmspropWOptimizer,
  SgdL2Optimizer,
  SgdOptimizer,
  SgdWOptimizer,
} from './families.ts';
import { assertOptimizerName } from './options.ts';
import type { OptimizerName, OptimizerOptions } from './types.ts';

export { WeightDecayOptimizer } from './base.ts';
export type { NamedTensor, StepInfo } from './base.ts';
export {
  AdamFamilyOptimizer,
  AdamL2Optimizer,
  AdamOptimizer,
  AdamSeparatedOptimizer,
  AdamWOptimizer,
  RmspropFamilyOptimizer,
  RmspropL2Optimizer,
  RmspropOptimizer,
  RmspropWOptimizer,
  SgdFamilyOptimizer,
  SgdL2Optimizer,
  SgdOptimizer,
  SgdWOptimizer,
} from './families.ts';
export { fusedKernelsActive, setFusedKernels } from './fused.ts';
export { isOptimizerName, SCHEMES } from './options.ts';
export type { ResolvedOptions } from './options.ts';
export {
  decayMultiplier,
  formatWeightDecaySchedule,
  parseWeightDecaySchedule,
  type WeightDecaySchedule,
} from './schedule.ts';
export { optimizerNames } from './types.ts';
export type {
  DecayFilter,
  DecayKind,
  DecoupledConvention,
  OptimizerDiagnostics,
  OptimizerFamily,
  OptimizerName,
  OptimizerOptions,
  Quantiles,
} from './types.ts';

/** The class of each scheme. */
export const optimizerClasses = {
  adam: AdamOptimizer,
  'adam-l2': AdamL2Optimizer,
  adamw: AdamWOptimizer,
  'adam-separated': AdamSeparatedOptimizer,
  sgd: SgdOptimizer,
  'sgd-l2': SgdL2Optimizer,
  sgdw: SgdWOptimizer,
  rmsprop: RmspropOptimizer,
  'rmsprop-l2': RmspropL2Optimizer,
  rmspropw: RmspropWOptimizer,
} as const satisfies Record<OptimizerName, new (options: OptimizerOptions) => WeightDecayOptimizer>;

for (const cls of Object.values(optimizerClasses)) tf.serialization.registerClass(cls);

/**
 * Creates the optimizer of scheme `name`. Throws a clear error for an unknown name (listing the valid ones) or any
 * invalid option (negative or non-finite λ or learning rate, malformed schedule, option not used by the scheme, …).
 */
export function createOptimizer(name: string, options: OptimizerOptions): WeightDecayOptimizer {
  const scheme = assertOptimizerName(name);
  return new optimizerClasses[scheme](options);
}
