// `npm run atari -- --game Pong [...]`: one run on one game. Parsing is exported (and unit-tested) apart from the
// work, which is loaded lazily so `--help` and input errors answer at once.
import { Command, InvalidArgumentError, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { DOPAMINE_PROTOCOL, NATURE_PROTOCOL, type EnvProtocol } from '../../envs/ale_bridge.ts';
import { ALE_ROM_IDS, displayName, resolveGame, UnknownGameError } from '../../envs/games.ts';
import { optimizerNames } from '../optim/types.ts';
import { parseChoice, parseNonNegativeInteger, parsePositiveInteger } from './parse.ts';

export const AGENTS = ['random'] as const;
export const PROTOCOLS = { dopamine: DOPAMINE_PROTOCOL, nature: NATURE_PROTOCOL } as const;

export interface AtariCommand {
  kind: 'run';
  game: string;
  agent: (typeof AGENTS)[number];
  seed: number;
  episodes: number;
  protocol: EnvProtocol;
  protocolName: keyof typeof PROTOCOLS;
}

export type AtariInvocation = AtariCommand | { kind: 'list-games' };

function parseGame(value: string): string {
  try {
    return resolveGame(value);
  } catch (error) {
    if (error instanceof UnknownGameError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

export function buildAtariProgram(): Command {
  return new Command('atari')
    .description('Train or play one Atari game through the Arcade Learning Environment.')
    .addOption(new Option('-g, --game <name>', 'Atari game, any spelling: Pong, pong, SpaceInvaders, space_invaders').argParser(parseGame))
    .addOption(new Option('--agent <name>', `who plays: ${AGENTS.join(', ')}`).argParser(parseChoice(AGENTS, 'agent')).default('random'))
    .addOption(new Option('-s, --seed <n>', 'seed for the emulator and the agent').argParser(parseNonNegativeInteger).default(0))
    .addOption(new Option('--episodes <n>', 'episodes to play (random agent)').argParser(parsePositiveInteger).default(3))
    .addOption(new Option('--protocol <name>', 'emulator protocol: dopamine (sticky actions p=0.25, no noop starts, life loss not terminal) or nature (noop starts up to 30, life loss terminal, no sticky actions)')
      .argParser(parseChoice(Object.keys(PROTOCOLS) as (keyof typeof PROTOCOLS)[], 'protocol')).default('dopamine'))
    .addOption(new Option('--list-games', `list the ${ALE_ROM_IDS.length} games ale-py ships and exit`))
    .addHelpText('after', `\nWeight-decay schemes of the optimizer module (for DQN training, coming with --agent dqn):\n  ${optimizerNames.join(', ')}`)
    .showHelpAfterError('(run with --help for every option)')
    .allowExcessArguments(false);
}

/** Parses argv (without the node and script entries); throws commander's errors when exitOverride is set. */
export function parseAtariArgs(argv: string[], program = buildAtariProgram()): AtariInvocation {
  program.parse(argv, { from: 'user' });
  const options = program.opts();
  if (options.listGames) return { kind: 'list-games' };
  if (!options.game) program.error('error: --game is required (e.g. --game Pong). List the games with --list-games.');
  return {
    kind: 'run',
    game: options.game,
    agent: options.agent,
    seed: options.seed,
    episodes: options.episodes,
    protocolName: options.protocol,
    protocol: PROTOCOLS[options.protocol as keyof typeof PROTOCOLS],
  };
}

async function main(): Promise<void> {
  const invocation = parseAtariArgs(process.argv.slice(2));
  if (invocation.kind === 'list-games') {
    console.log(ALE_ROM_IDS.map((id) => `${displayName(id)} (${id})`).join('\n'));
    return;
  }
  const { runRandomAgent } = await import('./random_agent.ts');
  await runRandomAgent({ ...invocation, log: (line) => console.log(line) });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? `error: ${error.message}` : error);
    process.exit(1);
  });
}
