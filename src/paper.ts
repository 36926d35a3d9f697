// The reference experiment, Table 1 of Bjorck, Weinberger & Gomes, "Understanding Decoupled and Early Weight Decay"
// (AAAI 2021): its games, its schemes and what each is called in this harness, its rows (scheme × λ), its seeds
// and its budget. The sweep plans --paper-grid from these, the analysis lays Table 1 out by them, and the decay
// budget compares a run's decay with the paper's. The published scores are data (data/reference/, read by
// analysis/reference.ts); a test checks that the rows here are the rows of that file.
import type { OptimizerName } from './optim/types.ts';

/** The paper's eight games, in its column order (ALE ROM ids). */
export const PAPER_GAMES: readonly string[] = Object.freeze(['beam_rider', 'breakout', 'enduro', 'pong', 'qbert', 'seaquest', 'space_invaders', 'time_pilot']);

/** The paper's scheme labels and the optimizer each one is in this harness. */
export const PAPER_SCHEMES: Readonly<Record<string, OptimizerName>> = Object.freeze({
  orig: 'adam',
  decoupled: 'adamw',
  WD: 'adam-l2',
  separated: 'adam-separated',
});

/** Optimizer name -> the paper's label ('adamw' -> 'decoupled'); other optimizers keep their own name. */
export function schemeLabel(optimizer: string): string {
  for (const [label, name] of Object.entries(PAPER_SCHEMES)) if (name === optimizer) return label;
  return optimizer;
}

/** The 13 rows of Table 1: orig; decoupled, WD and separated at 1e-3…1e-5; WD also at 1e-6…1e-8. */
export const PAPER_ROWS: readonly { optimizer: OptimizerName; weightDecays: readonly number[] }[] = [
  { optimizer: 'adam', weightDecays: [0] },
  { optimizer: 'adamw', weightDecays: [1e-3, 1e-4, 1e-5] },
  { optimizer: 'adam-l2', weightDecays: [1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8] },
  { optimizer: 'adam-separated', weightDecays: [1e-3, 1e-4, 1e-5] },
];

/** Three seeds per cell, as the paper's table reports. */
export const PAPER_SEEDS = [0, 1, 2] as const;

/** The budget of the paper's runs (Dopamine's: 200 iterations × 250,000 agent steps, warm-up 20,000, update every 4). */
export const PAPER_BUDGET = { iterations: 200, trainingSteps: 250_000, minReplayHistory: 20_000, updatePeriodSteps: 4 } as const;
