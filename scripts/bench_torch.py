"""PyTorch yardstick for `npm run bench`: the same Q-network (Dopamine's Nature torso with SAME padding by default,
84 -> 21 -> 11 -> 11, dense 7,744 -> 512 -> actions), timed on the CPU in the same way as the tfjs figures:

  act     batch-1 forward from a uint8 planar stack (scale, forward, argmax, read back the action)
  train   one DQN gradient step on a batch of 32: target forward (no grad), online forward, Huber TD loss on the
          chosen actions, backward, Adam update (lr 6.25e-5, eps 1.5e-4) and the loss read back
  fwd32   batch-32 forward alone

Prints one JSON object. Installs nothing: `npm run bench` runs it with the dev-only venv .cache/bench-venv.

  python scripts/bench_torch.py [--threads N] [--padding same|valid] [--actions 6] [--repeats 30] [--warmup 5]
"""
import argparse
import json
import platform
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def same_pad(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2  # TensorFlow's SAME: the extra pixel goes after


class QNetwork(nn.Module):
    SPECS = [(32, 8, 4), (64, 4, 2), (64, 3, 1)]

    def __init__(self, actions, padding):
        super().__init__()
        self.padding = padding
        self.convs = nn.ModuleList()
        self.pads = []
        channels, size = 4, 84
        for filters, kernel, stride in self.SPECS:
            self.convs.append(nn.Conv2d(channels, filters, kernel, stride))
            if padding == "same":
                before, after = same_pad(size, kernel, stride)
                self.pads.append((before, after, before, after))
                size = -(-size // stride)
            else:
                self.pads.append(None)
                size = (size - kernel) // stride + 1
            channels = filters
        self.fc = nn.Linear(channels * size * size, 512)
        self.out = nn.Linear(512, actions)

    def forward(self, x):
        x = x / 255.0
        for conv, pad in zip(self.convs, self.pads):
            if pad is not None and any(pad):
                x = F.pad(x, pad)
            x = F.relu(conv(x))
        return self.out(F.relu(self.fc(x.flatten(1))))


def timed(fn, repeats, warmup):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads; 0 = torch's default")
    parser.add_argument("--padding", choices=["same", "valid"], default="same")
    parser.add_argument("--actions", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    online = QNetwork(args.actions, args.padding)
    target = QNetwork(args.actions, args.padding)
    target.load_state_dict(online.state_dict())
    optimizer = torch.optim.Adam(online.parameters(), lr=6.25e-5, eps=1.5e-4)

    stack = rng.integers(0, 256, size=(1, 4, 84, 84), dtype=np.uint8)

    def act():
        with torch.no_grad():
            return int(online(torch.from_numpy(stack).float()).argmax(1).item())

    states = rng.integers(0, 256, size=(32, 4, 84, 84), dtype=np.uint8)
    next_states = rng.integers(0, 256, size=(32, 4, 84, 84), dtype=np.uint8)
    actions = torch.from_numpy(rng.integers(0, args.actions, size=32)).long()
    rewards = torch.from_numpy(rng.integers(-1, 2, size=32).astype(np.float32))
    terminals = torch.zeros(32)

    def train():
        s = torch.from_numpy(states).float()
        ns = torch.from_numpy(next_states).float()
        with torch.no_grad():
            targets = rewards + 0.99 * target(ns).max(1).values * (1 - terminals)
        chosen = online(s).gather(1, actions[:, None]).squeeze(1)
        loss = F.huber_loss(chosen, targets, delta=1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    def fwd32():
        with torch.no_grad():
            return online(torch.from_numpy(states).float()).sum().item()

    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "padding": args.padding,
        "parameters": sum(p.numel() for p in online.parameters()),
        "actMs": timed(act, args.repeats * 4, args.warmup * 4),
        "forward32Ms": timed(fwd32, args.repeats, args.warmup),
        "trainStepMs": timed(train, args.repeats, args.warmup),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
