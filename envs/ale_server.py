"""Emulator side of the ALE bridge: hosts Atari environments and serves them over stdin/stdout.

Started by envs/ale_bridge.ts (through python-shell). Every message, both ways, is
    u32 payload length (little-endian) | u8 opcode or status | payload
Requests are answered strictly in order. Frames travel as raw bytes, never as JSON: a step's answer is a
16-byte header (f64 reward, u32 episode steps, u16 lives, u8 flags, u8 reserved) followed by the 84x84 uint8
observation. Control messages (info, create) carry small JSON payloads.

Preprocessing follows Dopamine's atari_lib.AtariPreprocessing exactly (frame skip, grayscale read from the
emulator, max over the last two frames, cv2 area resize, no noop starts, life loss not terminal), with
sticky actions from ALE's own repeat_action_probability, as Dopamine's gym "NoFrameskip-v0" environment has,
and Dopamine's run_experiment.Runner episode loop: the episode cap counts agent steps over the whole game, and
with life loss terminal (--protocol nature) the next life begins from the life-loss step's observation without
an emulator reset. Rewards are returned raw. test/dopamine-frames.test.ts compares every frame with a reference
implementation of Dopamine's code over ale-py's gymnasium environment (test/reference/dopamine_reference.py).
"""

import json
import os
import signal
import struct
import sys

import cv2
import numpy as np
from ale_py import ALEInterface, LoggerMode, roms, __version__ as ALE_VERSION

OP_INFO, OP_CREATE, OP_RESET, OP_STEP, OP_CLOSE_ENV = 1, 2, 3, 4, 5
STATUS_OK, STATUS_ERROR = 0, 1
FLAG_TERMINAL, FLAG_TRUNCATED, FLAG_GAME_OVER, FLAG_LIFE_LOST = 1, 2, 4, 8
STEP_HEADER = struct.Struct('<dIHBB')  # reward, episode steps, lives, flags, reserved: 16 bytes
MESSAGE_HEADER = struct.Struct('<IB')


class BridgeError(Exception):
    """An error caused by the request; reported to the client, and the server goes on."""


class AtariEnv:
    """One ALE instance with Dopamine's preprocessing."""

    def __init__(self, config):
        game = config['game']
        if game not in roms.get_all_rom_ids():
            raise BridgeError(f'unknown game {game!r}')
        self.frame_skip = int(config.get('frameSkip', 4))
        self.max_episode_steps = int(config.get('maxEpisodeSteps', 27_000))
        self.terminal_on_life_loss = bool(config.get('terminalOnLifeLoss', False))
        self.noop_max = int(config.get('noopMax', 0))
        self.size = int(config.get('screenSize', 84))
        seed = int(config['seed'])
        if self.frame_skip < 1 or self.max_episode_steps < 1 or self.noop_max < 0 or self.size < 1:
            raise BridgeError('frameSkip, maxEpisodeSteps and screenSize must be >= 1, noopMax >= 0')

        self.ale = ALEInterface()
        self.ale.setLoggerMode(LoggerMode.Error)
        # ALE reads these when the ROM is loaded, so they must be set before loadROM.
        self.ale.setInt('random_seed', seed % (2**31))
        self.ale.setFloat('repeat_action_probability', float(config.get('repeatActionProbability', 0.25)))
        self.ale.setInt('frame_skip', 1)  # frames are skipped here, to max-pool over the last two
        self.ale.setBool('color_averaging', False)
        if 'mode' in config:
            self.ale.setMode(int(config['mode']))
        if 'difficulty' in config:
            self.ale.setDifficulty(int(config['difficulty']))
        self.ale.loadROM(str(roms.get_rom_path(game)))

        self.game = game
        self.actions = list(self.ale.getMinimalActionSet())
        height, width = self.ale.getScreenDims()
        self.screen_buffers = [np.zeros((height, width), dtype=np.uint8) for _ in range(2)]
        self.noop_rng = np.random.default_rng(seed)
        self.lives = 0
        self.episode_steps = 0
        # Set by a step that lost a life under the Nature protocol (terminal, the game not over): the next reset
        # continues the game. Any other reset starts a new one.
        self.life_continues = False
        self.last_frame = b''

    def reset(self):
        """Begins the next episode: a new game, except after a life lost under the Nature protocol. There it does
        what Dopamine's runner does: no emulator reset, the new life starts from the life-loss step's pooled
        observation, and the step cap keeps counting over the whole game."""
        if self.life_continues:
            self.life_continues = False
            return 0.0, 0, self.last_frame
        self.ale.reset_game()
        for _ in range(int(self.noop_rng.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0):
            self.ale.act(0)
            if self.ale.game_over(with_truncation=False):
                self.ale.reset_game()
        self.lives = self.ale.lives()
        self.episode_steps = 0
        self.ale.getScreenGrayscale(self.screen_buffers[0])
        self.screen_buffers[1].fill(0)
        self.last_frame = self._pool_and_resize()
        return 0.0, 0, self.last_frame

    def step(self, action_index):
        if not 0 <= action_index < len(self.actions):
            raise BridgeError(f'action {action_index} out of range for {self.game} ({len(self.actions)} actions)')
        action = self.actions[action_index]
        reward = 0.0
        flags = 0
        for time_step in range(self.frame_skip):
            reward += self.ale.act(action)
            game_over = self.ale.game_over(with_truncation=False)
            new_lives = self.ale.lives()
            if new_lives < self.lives:
                flags |= FLAG_LIFE_LOST
            self.lives = new_lives
            if game_over:
                flags |= FLAG_GAME_OVER | FLAG_TERMINAL
            elif self.terminal_on_life_loss and flags & FLAG_LIFE_LOST:
                flags |= FLAG_TERMINAL
            # Dopamine (since 2022) reads the screen of the last two frames of the skip before it checks for the
            # end, so a step that ends on one of those frames pools that frame's screen.
            if time_step >= self.frame_skip - 2:
                self.ale.getScreenGrayscale(self.screen_buffers[time_step - (self.frame_skip - 2)])
            if flags & FLAG_TERMINAL:
                break
        self.episode_steps += 1
        # Dopamine's runner ends the episode at the cap whatever else the step did; a life lost on that step is
        # still terminal for the agent.
        if not flags & FLAG_GAME_OVER and self.episode_steps >= self.max_episode_steps:
            flags |= FLAG_TRUNCATED
        self.life_continues = bool(flags & FLAG_TERMINAL) and not flags & (FLAG_TRUNCATED | FLAG_GAME_OVER)
        self.last_frame = self._pool_and_resize()
        return reward, flags, self.last_frame

    def _pool_and_resize(self):
        if self.frame_skip > 1:
            np.maximum(self.screen_buffers[0], self.screen_buffers[1], out=self.screen_buffers[0])
        frame = cv2.resize(self.screen_buffers[0], (self.size, self.size), interpolation=cv2.INTER_AREA)
        return frame.tobytes()


def encode_step(env, reward, flags, frame):
    return STEP_HEADER.pack(reward, env.episode_steps, env.lives, flags, 0) + frame


class Server:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.envs = {}
        self.next_env_id = 0

    def read_exact(self, n):
        data = self.reader.read(n)
        if data is None or len(data) < n:
            return None
        return data

    def serve(self):
        while True:
            header = self.read_exact(MESSAGE_HEADER.size)
            if header is None:
                return  # stdin closed: the client is gone, so is the reason to live
            length, opcode = MESSAGE_HEADER.unpack(header)
            payload = self.read_exact(length) if length else b''
            if payload is None:
                return
            try:
                reply = self.handle(opcode, payload)
                status = STATUS_OK
            except (BridgeError, ValueError, KeyError, TypeError, struct.error) as error:
                reply = f'{type(error).__name__}: {error}'.encode()
                status = STATUS_ERROR
            self.writer.write(MESSAGE_HEADER.pack(len(reply), status))
            self.writer.write(reply)
            self.writer.flush()

    def handle(self, opcode, payload):
        if opcode == OP_INFO:
            return json.dumps({'aleVersion': ALE_VERSION, 'games': roms.get_all_rom_ids(), 'pid': os.getpid()}).encode()
        if opcode == OP_CREATE:
            env = AtariEnv(json.loads(payload))
            env_id = self.next_env_id
            self.next_env_id += 1
            self.envs[env_id] = env
            return json.dumps({'envId': env_id, 'game': env.game, 'actions': [int(a.value) for a in env.actions],
                               'actionNames': [a.name for a in env.actions], 'lives': env.ale.lives()}).encode()
        if opcode == OP_RESET:
            (count,) = struct.unpack_from('<H', payload)
            ids = struct.unpack_from(f'<{count}H', payload, 2)
            return b''.join(encode_step(self.env(i), *self.env(i).reset()) for i in ids)
        if opcode == OP_STEP:
            (count,) = struct.unpack_from('<H', payload)
            pairs = struct.unpack_from(f'<{2 * count}H', payload, 2)
            envs = [(self.env(pairs[2 * k]), pairs[2 * k + 1]) for k in range(count)]
            return b''.join(encode_step(env, *env.step(action)) for env, action in envs)
        if opcode == OP_CLOSE_ENV:
            (env_id,) = struct.unpack_from('<H', payload)
            self.envs.pop(env_id, None)
            return b''
        raise BridgeError(f'unknown opcode {opcode}')

    def env(self, env_id):
        if env_id not in self.envs:
            raise BridgeError(f'no environment with id {env_id}')
        return self.envs[env_id]



def main():
    # Ctrl-C in a terminal reaches the whole process group; the Node side decides when to stop (it checkpoints
    # first), and the server ends when its stdin closes.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The protocol owns fd 1. Anything else that writes to stdout (a stray print, the emulator's C++ side) is sent
    # to stderr instead, so it can never corrupt a frame.
    protocol_out = os.fdopen(os.dup(1), 'wb', buffering=1 << 16)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    Server(sys.stdin.buffer, protocol_out).serve()


if __name__ == '__main__':
    main()
