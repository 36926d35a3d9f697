"""Emulator side of the ALE bridge: hosts Atari environments and serves them over stdin/stdout.

Started by envs/ale_bridge.ts (through python-shell). Every message, both ways, is
    u32 payload length (little-endian) | u8 opcode or status | payload
Requests are answered strictly in order. Frames travel as raw bytes, never as JSON: a step's answer is a
16-byte header (f64 reward, u32 episode steps, u16 lives, u8 flags, u8 reserved) followed by the 84x84 uint8
observation. Control messages (info, create, record) carry small JSON payloads.

Video: a screen request answers one ALE getScreenRGB image as raw bytes (u16 height, u16 width, then H*W*3 RGB),
and while recording is on for an environment, the server itself writes the RGB screen of every emulator frame
(resets, no-op starts and each frame of the frame skip) into a cv2.VideoWriter: MP4 (avc1 if this OpenCV can
encode it, else mp4v) or WebM (VP8), so video frames never cross the pipe. Recording reads the screen only; the
emulator, its random numbers and the observations are exactly as without it. OpenCV's writer reports no I/O error,
so stopping a recording reads the file back and fails unless every frame written is there.

Preprocessing follows Dopamine's atari_lib.AtariPreprocessing exactly (frame skip, grayscale read from the
emulator, max over the last two frames, cv2 area resize, no noop starts, life loss not terminal), with
sticky actions from ALE's own repeat_action_probability, as Dopamine's gym "NoFrameskip-v0" environment has,
and Dopamine's run_experiment.Runner episode loop: the episode cap counts agent steps over the whole game, and
with life loss terminal (--protocol nature) the next life begins from the life-loss step's observation without
an emulator reset. Rewards are returned raw. test/dopamine-frames.test.ts compares every frame with a reference
implementation of Dopamine's code over ale-py's gymnasium environment (test/reference/dopamine_reference.py).
"""

import contextlib
import json
import os
import shutil
import signal
import struct
import sys
import tempfile

import cv2
import numpy as np
from ale_py import ALEInterface, LoggerMode, roms, __version__ as ALE_VERSION

OP_INFO, OP_CREATE, OP_RESET, OP_STEP, OP_CLOSE_ENV = 1, 2, 3, 4, 5
OP_SCREEN, OP_RECORD_START, OP_RECORD_STOP = 6, 7, 8
STATUS_OK, STATUS_ERROR = 0, 1
FLAG_TERMINAL, FLAG_TRUNCATED, FLAG_GAME_OVER, FLAG_LIFE_LOST = 1, 2, 4, 8
STEP_HEADER = struct.Struct('<dIHBB')  # reward, episode steps, lives, flags, reserved: 16 bytes
MESSAGE_HEADER = struct.Struct('<IB')


class BridgeError(Exception):
    """An error caused by the request; reported to the client, and the server goes on."""


# Codecs tried per container, best first: avc1 (H.264) plays in browsers but the opencv-python wheels usually
# cannot encode it (no libx264); mp4v (MPEG-4 Part 2) always can. WebM gets VP8.
VIDEO_CODECS = {'.mp4': ('avc1', 'mp4v'), '.webm': ('VP80',)}
_working_codec = {}  # extension -> the first codec that opened, so a failing one is tried once per process


@contextlib.contextmanager
def captured_stderr():
    """Sends fd 2 to a temp file for the block (FFmpeg and OpenCV print there when a codec is probed); yields a
    list that holds what was printed, as bytes, once the block ends. The bridge keeps the server's stderr, so
    probing noise stays out of it."""
    sys.stderr.flush()
    saved = os.dup(2)
    printed = []
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield printed
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            printed.append(captured.read())


class VideoRecorder:
    """Writes the emulator's RGB screens to a video file, each pixel scaled up `scale` times (nearest neighbour)."""

    def __init__(self, ale, path, fps, scale):
        ext = os.path.splitext(path)[1].lower()
        if ext not in VIDEO_CODECS:
            raise BridgeError(f'cannot record {path!r}: the file name must end in .mp4 or .webm')
        if not os.path.isdir(os.path.dirname(path) or '.'):
            raise BridgeError(f'cannot record {path!r}: its directory does not exist')
        if not (fps > 0 and 1 <= scale <= 8):
            raise BridgeError('fps must be > 0 and scale in [1, 8]')
        height, width = ale.getScreenDims()
        # Created here, exclusively, before OpenCV opens it: a recording never writes through a link (or into any
        # file) already at its name; the client records under a fresh temp name and renames it when verified.
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            raise BridgeError(f'cannot record {path!r}: something is already there') from None
        self.path = path
        self.ale = ale
        self.scale = scale
        self.size = (width * scale, height * scale)
        self.rgb = np.zeros((height, width, 3), dtype=np.uint8)
        self.bgr = np.zeros((height, width, 3), dtype=np.uint8)
        self.frames = 0
        self.writer = None
        messages = b''
        try:
            for codec in ([_working_codec[ext]] if ext in _working_codec else VIDEO_CODECS[ext]):
                with captured_stderr() as printed:
                    writer = cv2.VideoWriter(path, cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*codec), float(fps), self.size)
                    opened = writer.isOpened()
                messages += printed[0]
                if opened:
                    self.writer, self.codec = writer, codec
                    _working_codec[ext] = codec
                    break
                writer.release()
        finally:
            if self.writer is None:
                with contextlib.suppress(OSError):
                    os.remove(path)
        if self.writer is None:
            detail = messages.decode(errors='replace').strip().splitlines()[-1:] or ['no message']
            raise BridgeError(f'OpenCV cannot write {ext} video here (tried {", ".join(VIDEO_CODECS[ext])}): {detail[0]}')

    def capture(self):
        self.ale.getScreenRGB(self.rgb)
        cv2.cvtColor(self.rgb, cv2.COLOR_RGB2BGR, dst=self.bgr)
        frame = self.bgr if self.scale == 1 else cv2.resize(self.bgr, self.size, interpolation=cv2.INTER_NEAREST)
        self.writer.write(frame)
        self.frames += 1

    def close(self):
        self.writer.release()
        return {'frames': self.frames, 'codec': self.codec, 'width': self.size[0], 'height': self.size[1]}

    def verify(self):
        """After close: OpenCV's writer reports no I/O error (a full disk, a file size limit), so the file is read
        back and must hold every frame written; else BridgeError naming the file, the count and the cause."""
        readable = 0
        with captured_stderr():  # FFmpeg's complaints about a damaged file say less than the count below
            reader = cv2.VideoCapture(self.path, cv2.CAP_FFMPEG)
            while reader.isOpened() and reader.grab():
                readable += 1
            reader.release()
        if readable == self.frames:
            return
        free = shutil.disk_usage(os.path.dirname(self.path) or '.').free
        raise BridgeError(
            f'the video {self.path} is incomplete: {readable} of {self.frames} frames can be read back; a write '
            f'failed, which OpenCV does not report: disk full ({free / 2**20:.0f} MiB free now) or a file size limit?')


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
        self.recorder = None  # a VideoRecorder while recording is on

    def _act(self, action):
        reward = self.ale.act(action)
        if self.recorder is not None:
            self.recorder.capture()
        return reward

    def reset(self):
        """Begins the next episode: a new game, except after a life lost under the Nature protocol. There it does
        what Dopamine's runner does: no emulator reset, the new life starts from the life-loss step's pooled
        observation, and the step cap keeps counting over the whole game."""
        if self.life_continues:
            self.life_continues = False
            return 0.0, 0, self.last_frame
        self.ale.reset_game()
        if self.recorder is not None:
            self.recorder.capture()
        for _ in range(int(self.noop_rng.integers(1, self.noop_max + 1)) if self.noop_max > 0 else 0):
            self._act(0)
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
            reward += self._act(action)
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
            env = self.envs.pop(env_id, None)
            if env is not None and env.recorder is not None:
                env.recorder.close()
            return b''
        if opcode == OP_SCREEN:
            (env_id,) = struct.unpack_from('<H', payload)
            screen = self.env(env_id).ale.getScreenRGB()
            return struct.pack('<HH', screen.shape[0], screen.shape[1]) + screen.tobytes()
        if opcode == OP_RECORD_START:
            request = json.loads(payload)
            env = self.env(int(request['envId']))
            if env.recorder is not None:
                raise BridgeError(f'environment {request["envId"]} is already recording')
            try:
                env.recorder = VideoRecorder(env.ale, str(request['path']), float(request.get('fps', 60)), int(request.get('scale', 1)))
            except (cv2.error, OSError) as error:
                raise BridgeError(f'cannot record {request["path"]!r}: {error}') from error
            return json.dumps({'codec': env.recorder.codec, 'width': env.recorder.size[0], 'height': env.recorder.size[1]}).encode()
        if opcode == OP_RECORD_STOP:
            (env_id,) = struct.unpack_from('<H', payload)
            env = self.env(env_id)
            if env.recorder is None:
                raise BridgeError(f'environment {env_id} is not recording')
            recorder, env.recorder = env.recorder, None
            stopped = recorder.close()
            recorder.verify()
            return json.dumps(stopped).encode()
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
    server = Server(sys.stdin.buffer, protocol_out)
    try:
        server.serve()
    finally:
        # A recording still open when the client goes: finish the file (the client decides whether to keep it).
        for env in server.envs.values():
            if env.recorder is not None:
                env.recorder.close()


if __name__ == '__main__':
    main()
