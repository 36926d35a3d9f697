"""An exported DQN (npm run play -- RUN_DIR --export FILE.safetensors) read and run outside the harness.

    python safetensors_dqn.py MODEL.safetensors STATES.bin COUNT Q.bin

reads the file with nothing but numpy (the format's spec: u64 LE header length, JSON header, raw LE data; checked as
strictly as the reference loader checks it), builds the Nature DQN the way a PyTorch user would from the documented
names, shapes and layout (docs/run-format.md, "Exported weights"), runs it on COUNT uint8 states [COUNT, 4, 84, 84]
from STATES.bin, and writes the Q-values [COUNT, num_actions] as float64 LE to Q.bin. With torch installed it runs
the network as a torch.nn.Module (the documented recipe); without, the same computation in numpy (float64).
Prints a JSON line: the backend used, the tensor shapes, the metadata. Used by test/safetensors.test.ts.
"""

import json
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    assert 8 + n <= len(data) and n < 100_000_000, 'header length does not fit'
    header = json.loads(data[8:8 + n].decode('utf-8'))
    metadata = header.pop('__metadata__', {})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()), 'metadata must be str -> str'
    buffer = data[8 + n:]
    tensors, spans = {}, []
    for name, entry in header.items():
        assert entry['dtype'] == 'F32', f'{name}: dtype {entry["dtype"]}'
        begin, end = entry['data_offsets']
        count = int(np.prod(entry['shape'], dtype=np.int64))
        assert end - begin == 4 * count, f'{name}: offsets do not match the shape'
        spans.append((begin, end))
        tensors[name] = np.frombuffer(buffer, dtype='<f4', count=count, offset=begin).reshape(entry['shape'])
    spans.sort()
    covered = 0
    for begin, end in spans:
        assert begin == covered, 'tensors overlap or leave a hole'
        covered = end
    assert covered == len(buffer), 'the tensors do not cover the data buffer'
    return tensors, metadata


def numpy_forward(w, pads, x):
    """The network in float64 numpy, with PyTorch's conventions: NCHW, OIHW kernels, [out, in] linear weights."""
    from numpy.lib.stride_tricks import sliding_window_view

    def conv(x, weight, bias, stride, pad):
        left, right, top, bottom = pad
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        kh, kw = weight.shape[2:]
        windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
        return np.einsum('nchwij,ocij->nohw', windows, weight, optimize=True) + bias[None, :, None, None]

    relu = lambda v: np.maximum(v, 0)
    f = lambda name: w[name].astype(np.float64)
    x = relu(conv(x, f('conv1.weight'), f('conv1.bias'), 4, pads[0]))
    x = relu(conv(x, f('conv2.weight'), f('conv2.bias'), 2, pads[1]))
    x = relu(conv(x, f('conv3.weight'), f('conv3.bias'), 1, pads[2]))
    x = x.reshape(x.shape[0], -1)
    x = relu(x @ f('fc1.weight').T + f('fc1.bias'))
    return x @ f('fc2.weight').T + f('fc2.bias')


def torch_forward(w, pads, x):
    """The documented PyTorch recipe (docs/run-format.md)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class NatureDQN(nn.Module):
        def __init__(self, num_actions, fc1_inputs, pads):
            super().__init__()
            self.pads = pads  # metadata conv_pads: F.pad (left, right, top, bottom) per conv layer
            self.conv1 = nn.Conv2d(4, 32, 8, stride=4)
            self.conv2 = nn.Conv2d(32, 64, 4, stride=2)
            self.conv3 = nn.Conv2d(64, 64, 3, stride=1)
            self.fc1 = nn.Linear(fc1_inputs, 512)
            self.fc2 = nn.Linear(512, num_actions)

        def forward(self, states_uint8):  # [N, 4, 84, 84], oldest frame first
            x = states_uint8.float() / 255.0
            for conv, pad in zip((self.conv1, self.conv2, self.conv3), self.pads):
                x = F.relu(conv(F.pad(x, pad)))
            return self.fc2(F.relu(self.fc1(x.flatten(1))))

    net = NatureDQN(w['fc2.weight'].shape[0], w['fc1.weight'].shape[1], pads)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in w.items()})
    with torch.no_grad():
        return net(torch.from_numpy(x)).double().numpy()


def main():
    model, states_file, count, out_file = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    w, metadata = read_safetensors(model)
    pads = [tuple(p) for p in json.loads(metadata['conv_pads'])]
    states = np.fromfile(states_file, dtype=np.uint8).reshape(count, 4, 84, 84)
    try:
        import torch  # noqa: F401
        backend = 'torch'
    except ImportError:
        backend = 'numpy'
    if backend == 'torch':
        q = torch_forward(w, pads, states)
    else:
        q = numpy_forward(w, pads, states.astype(np.float64) / 255.0)
    q.astype('<f8').tofile(out_file)
    print(json.dumps({'backend': backend, 'shapes': {k: list(v.shape) for k, v in w.items()}, 'metadata': metadata}))


if __name__ == '__main__':
    main()
