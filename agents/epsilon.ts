// Dopamine's linearly_decaying_epsilon: ε stays at 1 during the warm-up (min replay history), then falls linearly
// to ε_final over `decayPeriodSteps`, then stays there. A pure function of the agent's training step count.
export function linearlyDecayingEpsilon(decayPeriodSteps: number, step: number, warmupSteps: number, finalEpsilon: number): number {
  const stepsLeft = decayPeriodSteps + warmupSteps - step;
  const bonus = ((1 - finalEpsilon) * stepsLeft) / decayPeriodSteps;
  return finalEpsilon + Math.min(Math.max(bonus, 0), 1 - finalEpsilon);
}
