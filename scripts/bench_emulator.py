"""Raw emulator and Python-side preprocessing rates, for scripts/bench-bridge.ts (no Node, no pipes).

Prints one JSON line: ALE frames/s with random actions, and agent steps/s of envs/ale_server.py's AtariEnv
(frame skip 4, max-pool, area resize) called directly.
"""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'envs'))
from ale_server import AtariEnv  # noqa: E402

game = sys.argv[1] if len(sys.argv) > 1 else 'pong'
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
rng = np.random.default_rng(0)

env = AtariEnv({'game': game, 'seed': 0})
env.reset()
ale, actions = env.ale, env.actions
frames, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    ale.act(actions[int(rng.integers(len(actions)))])
    frames += 1
    if ale.game_over():
        ale.reset_game()
raw_fps = frames / (time.perf_counter() - start)

env.reset()
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < seconds:
    _, flags, _ = env.step(int(rng.integers(len(actions))))
    steps += 1
    if flags & 3:
        env.reset()
env_sps = steps / (time.perf_counter() - start)
print(json.dumps({'game': game, 'rawFramesPerSecond': raw_fps, 'pythonStepsPerSecond': env_sps}))
