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
import { AdamFamilyOptimizer } from './adam.ts';
import { assertOptimizerName } from './options.ts';
import { RmspropFamilyOptimizer } from './rmsprop.ts';
import { SCHEMES } from './schemes.ts';
import { SgdFamilyOptimizer } from './sgd.ts';
import { optimizerNames, type OptimizerFamily, type OptimizerName, type OptimizerOptions } from './types.ts';

export { WeightDecayOptimizer } from './base.ts';
export type { NamedTensor, StepInfo } from './base.ts';
export { AdamFamilyOptimizer } from './adam.ts';
export { RmspropFamilyOptimizer } from './rmsprop.ts';
export { SgdFamilyOptimizer } from './sgd.ts';
export { fusedKernelsActive, setFusedKernels } from './fused.ts';
export { isOptimizerName } from './options.ts';
export type { ResolvedOptions } from './options.ts';
export { NO_DECAY_SCHEMES, SCHEMES } from './schemes.ts';
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

export interface SchemeClass {
  new (options: OptimizerOptions): WeightDecayOptimizer;
  /** tf.serialization's name for the class (SCHEMES[scheme].className). */
  readonly className: string;
  readonly scheme: OptimizerName;
  /** tf.Optimizer's: a new optimizer of this class from a getConfig() result. */
  fromConfig(cls: SchemeClass, config: tf.serialization.ConfigDict): WeightDecayOptimizer;
}

const FAMILY_CLASSES = {
  adam: AdamFamilyOptimizer,
  sgd: SgdFamilyOptimizer,
  rmsprop: RmspropFamilyOptimizer,
} as const satisfies Record<OptimizerFamily, unknown>;

/** One class per row of the scheme table: tf.serialization tells schemes apart by their class. */
function schemeClass(scheme: OptimizerName): SchemeClass {
  const { family, className } = SCHEMES[scheme];
  const Family = FAMILY_CLASSES[family];
  const cls = class extends Family {
    static readonly className = className;
    static readonly scheme = scheme;
    constructor(options: OptimizerOptions) {
      super(scheme, options);
    }
  };
  return cls as unknown as SchemeClass;
}

/** The class of each scheme. */
export const optimizerClasses = Object.fromEntries(optimizerNames.map((name) => [name, schemeClass(name)])) as Record<OptimizerName, SchemeClass>;

for (const cls of Object.values(optimizerClasses)) tf.serialization.registerClass(cls as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

/**
 * Creates the optimizer of scheme `name`. Throws a clear error for an unknown name (listing the valid ones) or any
 * invalid option (negative or non-finite λ or learning rate, malformed schedule, option not used by the scheme, …).
 */
export function createOptimizer(name: string, options: OptimizerOptions): WeightDecayOptimizer {
  const scheme = assertOptimizerName(name);
  return new optimizerClasses[scheme](options);
}
