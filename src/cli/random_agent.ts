// `--agent random`: plays whole episodes with uniformly random actions and reports scores and speed.
// It is the baseline every Atari table normalizes against, and a quick check that the emulator works.
import seedrandom from 'seedrandom';
import { AleBridge, stepOutcome, type EnvProtocol } from '../../envs/ale_bridge.ts';
import { displayName } from '../../envs/games.ts';

export interface RandomRunOptions {
  game: string;
  seed: number;
  episodes: number;
  protocol: EnvProtocol;
  log: (line: string) => void;
}

export interface RandomRunResult {
  game: string;
  returns: number[];
  steps: number;
  stepsPerSecond: number;
}

export async function runRandomAgent(options: RandomRunOptions): Promise<RandomRunResult> {
  const bridge = await AleBridge.start();
  try {
    const env = await bridge.createEnv({ ...options.protocol, game: options.game, seed: options.seed });
    const random = seedrandom(`random-agent-${options.seed}`);
    options.log(`${displayName(env.game)}: ${env.numActions} actions (${env.actionNames.join(' ')}), ALE ${bridge.aleVersion}, seed ${options.seed}`);
    const returns: number[] = [];
    let steps = 0;
    const started = performance.now();
    for (let episode = 1; episode <= options.episodes; episode++) {
      await env.reset();
      let episodeReturn = 0;
      const episodeStarted = performance.now();
      for (;;) {
        const step = await env.step(Math.floor(random() * env.numActions));
        episodeReturn += step.reward;
        steps += 1;
        const outcome = stepOutcome(step);
        if (outcome === 'life-lost') await env.reset(); // Nature protocol: the game goes on
        if (outcome === 'episode-over') {
          const seconds = (performance.now() - episodeStarted) / 1000;
          const end = step.truncated ? 'truncated' : 'game over';
          options.log(`episode ${episode}/${options.episodes}: return ${episodeReturn}, ${step.episodeSteps} steps (${end}), ${(step.episodeSteps / seconds).toFixed(0)} steps/s`);
          break;
        }
      }
      returns.push(episodeReturn);
    }
    const stepsPerSecond = steps / ((performance.now() - started) / 1000);
    const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
    options.log(`mean return ${mean.toFixed(2)} over ${returns.length} episodes; ${steps} agent steps at ${stepsPerSecond.toFixed(0)} steps/s`);
    return { game: env.game, returns, steps, stepsPerSecond };
  } finally {
    await bridge.close();
  }
}
