// A DqnAgent change measured and not adopted (building the gradient step's input in JS: slower), tried on one agent
// instance by replacing its method. It keeps every number bit-identical (scripts/bench/verify-network.ts).
import type { DqnAgent } from '../../agents/dqn_agent.ts';
import type { ReplayBatch } from '../../agents/replay.ts';
import * as tf from '../../src/tf.ts';

/** The gradient step with its two batch inputs built by QNetwork.statesTensor instead of a float copy + transpose. */
export function proposeGradientStepInput(agent: DqnAgent): void {
  const scratch = { states: new Float32Array(0), next: new Float32Array(0) };
  (agent as unknown as { gradientStep: (batch: ReplayBatch) => number }).gradientStep = (batch: ReplayBatch) => {
    const n = batch.batchSize;
    if (scratch.states.length !== batch.states.length) {
      scratch.states = new Float32Array(batch.states.length);
      scratch.next = new Float32Array(batch.nextStates.length);
    }
    return tf.tidy(() => {
      const states = agent.online.statesTensor(batch.states, n, scratch.states);
      const nextStates = agent.online.statesTensor(batch.nextStates, n, scratch.next);
      const rewards = tf.tensor1d(batch.rewards);
      const notTerminal = tf.sub(1, tf.tensor1d(batch.terminals));
      const targets = rewards.add(agent.target.applyScaled(nextStates).max(1).mul(notTerminal).mul(agent.hp.gamma));
      const actionMask = tf.oneHot(tf.tensor1d(batch.actions, 'int32'), agent.numActions);
      const cost = agent.optimizer.minimize(() => {
        const chosen = agent.online.applyScaled(states).mul(actionMask).sum(1);
        return (agent.hp.loss === 'huber' ? tf.losses.huberLoss(targets, chosen, undefined, 1.0) : targets.sub(chosen).square().mean()) as tf.Scalar;
      }, true, agent.online.variables);
      return cost!.dataSync()[0];
    });
  };
}
