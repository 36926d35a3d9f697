"""A reference for the bridge: Dopamine's Atari preprocessing and runner episode loop over ale-py's gymnasium env.

Written from Dopamine's code (google/dopamine: dopamine/discrete_domains/atari_lib.py AtariPreprocessing, and
run_experiment.py Runner._run_one_episode, as of 2026), independently of envs/ale_server.py, which it checks.
What it reproduces:
  - AtariPreprocessing.step: `frame_skip` gym steps of one emulator frame each; after each, life loss is terminal
    when `terminal_on_life_loss`; the grayscale screen of each of the last two frames is read into its buffer
    *before* the terminal check (Dopamine since 2022), and the loop breaks at a terminal; the observation is the
    in-place max of the two buffers, resized 84x84 with cv2.INTER_AREA. reset(): gym reset, buffer 0 = screen,
    buffer 1 = zeros.
  - Runner._run_one_episode: reset at the start of each episode (a whole game); a step ends the episode on game
    over or when the episode's step count reaches max_steps_per_episode; a terminal that is not the end (a lost
    life) starts the agent's next life from that step's observation, without touching the environment.
Two things are the harness's, not Dopamine's, and are reproduced so the Nature protocol can be compared too:
  - ALE's seed is set directly (setInt random_seed, reload the ROM), as the bridge does; Dopamine leaves gym
    to seed itself;
  - no-op starts (noop_max > 0, Nature DQN): 1..noop_max NOOPs after each game reset, counts drawn from
    numpy.random.default_rng(seed), a game over during them resetting the game.

Usage: dopamine_reference.py GAME SEED STEPS MAX_EPISODE_STEPS TERMINAL_ON_LIFE_LOSS(0|1) NOOP_MAX
       REPEAT_ACTION_PROBABILITY ACTION_SEED OUT_FILE
Plays STEPS agent steps of uniformly random actions (numpy default_rng(ACTION_SEED)) and writes one record per
observation the agent receives to OUT_FILE:
    u8 kind (0 = episode start, 1 = step, 2 = next life), u8 action, u8 terminal, u8 episode_over,
    u8 emulator frames the step played (fewer than 4 when it ended early), f64 reward, u32 step_number (in the
    episode), then the 84x84 uint8 observation.
"""

import struct
import sys

import cv2
import gymnasium
import numpy as np
from ale_py import env as ale_env

RECORD = struct.Struct('<BBBBBdI')
KIND_START, KIND_STEP, KIND_NEXT_LIFE = 0, 1, 2


class AtariPreprocessing:
    """Dopamine's AtariPreprocessing, over a gymnasium ALE environment with frameskip=1."""

    def __init__(self, environment, frame_skip=4, terminal_on_life_loss=False, screen_size=84):
        self.environment = environment
        self.ale = environment.unwrapped.ale
        self.frame_skip = frame_skip
        self.terminal_on_life_loss = terminal_on_life_loss
        self.screen_size = screen_size
        height, width = self.ale.getScreenDims()
        self.screen_buffer = [np.empty((height, width), dtype=np.uint8), np.empty((height, width), dtype=np.uint8)]
        self.game_over = False
        self.lives = 0
        self.frames_played = 0  # not Dopamine's: lets the test check that early ends were covered

    def reset(self):
        self.environment.reset()
        self.lives = self.ale.lives()
        self.ale.getScreenGrayscale(self.screen_buffer[0])
        self.screen_buffer[1].fill(0)
        return self._pool_and_resize()

    def step(self, action):
        accumulated_reward = 0.0
        for time_step in range(self.frame_skip):
            _, reward, terminated, truncated, _ = self.environment.step(action)
            game_over = terminated or truncated
            accumulated_reward += reward
            if self.terminal_on_life_loss:
                new_lives = self.ale.lives()
                is_terminal = game_over or new_lives < self.lives
                self.lives = new_lives
            else:
                is_terminal = game_over
            if time_step >= self.frame_skip - 2:
                self.ale.getScreenGrayscale(self.screen_buffer[time_step - (self.frame_skip - 2)])
            if is_terminal:
                break
        self.frames_played = time_step + 1
        observation = self._pool_and_resize()
        self.game_over = game_over
        return observation, accumulated_reward, is_terminal

    def _pool_and_resize(self):
        if self.frame_skip > 1:
            np.maximum(self.screen_buffer[0], self.screen_buffer[1], out=self.screen_buffer[0])
        image = cv2.resize(self.screen_buffer[0], (self.screen_size, self.screen_size), interpolation=cv2.INTER_AREA)
        return np.asarray(image, dtype=np.uint8)


class NoopStarts(gymnasium.Wrapper):
    """The harness's no-op starts: after each game reset, 1..noop_max NOOP frames."""

    def __init__(self, environment, noop_max, seed):
        super().__init__(environment)
        self.noop_max = noop_max
        self.rng = np.random.default_rng(seed)

    def reset(self, **kwargs):
        result = self.env.reset(**kwargs)
        if self.noop_max > 0:
            for _ in range(int(self.rng.integers(1, self.noop_max + 1))):
                _, _, terminated, truncated, _ = self.env.step(0)
                if terminated or truncated:
                    result = self.env.reset(**kwargs)
        return result


def make_environment(game, seed, repeat_action_probability, noop_max):
    # Dopamine's "NoFrameskip-v0": one emulator frame per gym step, sticky actions, minimal action set, no
    # TimeLimit (Dopamine strips it and caps episodes in its runner).
    environment = ale_env.AtariEnv(game=game, obs_type='rgb', frameskip=1,
                                   repeat_action_probability=repeat_action_probability, full_action_space=False)
    environment.ale.setInt('random_seed', seed % (2**31))
    environment.load_game()
    return NoopStarts(environment, noop_max, seed)


def play(game, seed, steps, max_episode_steps, terminal_on_life_loss, noop_max, repeat_action_probability,
         action_seed, out):
    environment = AtariPreprocessing(make_environment(game, seed, repeat_action_probability, noop_max),
                                     terminal_on_life_loss=terminal_on_life_loss)
    num_actions = environment.environment.action_space.n
    actions = np.random.default_rng(action_seed)

    def record(kind, action, terminal, episode_over, reward, step_number, observation, frames=0):
        out.write(RECORD.pack(kind, action, int(terminal), int(episode_over), frames, reward, step_number))
        out.write(observation.tobytes())

    taken = 0
    while taken < steps:
        # Runner._run_one_episode
        record(KIND_START, 0, False, False, 0.0, 0, environment.reset())
        step_number = 0
        while taken < steps:
            action = int(actions.integers(num_actions))
            observation, reward, is_terminal = environment.step(action)
            step_number += 1
            taken += 1
            episode_over = environment.game_over or step_number == max_episode_steps
            record(KIND_STEP, action, is_terminal, episode_over, reward, step_number, observation,
                   environment.frames_played)
            if episode_over:
                break
            if is_terminal:
                # A lost life: the agent begins its next life from this observation (agent.begin_episode).
                record(KIND_NEXT_LIFE, 0, False, False, 0.0, step_number, observation)


def main():
    game, seed, steps, cap, life_loss, noop_max, sticky, action_seed, out_file = sys.argv[1:]
    with open(out_file, 'wb') as out:
        play(game, int(seed), int(steps), int(cap), life_loss == '1', int(noop_max), float(sticky), int(action_seed),
             out)


if __name__ == '__main__':
    main()
