#!/usr/bin/env python3
"""Golden optimizer trajectories for src/optim/ (dev-only tool; the tests read the JSON it writes, never Python).

Writes two fixtures to test/fixtures/optim/:
  torch.json       PyTorch torch.optim.Adam / AdamW / SGD / RMSprop on fixed tensors and gradients.
  tensorflow.json  TensorFlow's RMSProp kernels (tf.raw_ops.ResourceApplyRMSProp / ResourceApplyCenteredRMSProp,
                   the definition our RMSprop follows) and TF1's tf.compat.v1.train.RMSPropOptimizer (what
                   Dopamine's TF DQN uses; its mean-square slot starts at ONE, not zero).

Every case replays the same inputs: three float32 tensors (shapes [3,4], [5], [2,3,3,2]) drawn from N(0,1) and
STEPS gradient sets g_t = N(0,1) * s_t with one log-uniform scale s_t in [1e-3, 1] per tensor and step (element
[1][0] is always exactly 0, to exercise epsilon handling). Weights are recorded after the steps listed in
"recordedSteps"; each case also records the optimizer's slot buffers after the last step.

Usage (a throwaway venv outside the repo; pip here uses the on-disk mirror):
  python3 -m venv /tmp/torchvenv
  /tmp/torchvenv/bin/pip install torch==2.13.0 numpy tensorflow-cpu==2.21.0
  /tmp/torchvenv/bin/python scripts/torch_golden.py            # both fixtures
  /tmp/torchvenv/bin/python scripts/torch_golden.py --only torch
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys

import numpy as np

STEPS = 50
SEED = 20210202
SHAPES = [[3, 4], [5], [2, 3, 3, 2]]
RECORDED_STEPS = list(range(1, 11)) + list(range(15, STEPS + 1, 5))
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'optim')
COMMAND = '/tmp/torchvenv/bin/python scripts/torch_golden.py'


def make_inputs():
    rng = np.random.default_rng(SEED)
    init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = []
    for _ in range(STEPS):
        step = []
        for shape in SHAPES:
            scale = 10.0 ** rng.uniform(-3.0, 0.0)
            step.append((rng.standard_normal(shape) * scale).astype(np.float32))
        step[1][0] = 0.0
        grads.append(step)
    return init, grads


def f32list(a) -> list:
    """Flat list of float32 values, each printed with the shortest repr that round-trips in float32."""
    return [float(str(np.float32(x))) for x in np.asarray(a, dtype=np.float32).reshape(-1)]


def header(kind: str, versions: dict) -> dict:
    return {
        'description': f'Golden optimizer trajectories from {kind} for test/optim-golden.test.ts.',
        'generator': 'scripts/torch_golden.py',
        'command': COMMAND,
        'versions': versions,
        'python': platform.python_version(),
        'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d'),
        'seed': SEED,
        'steps': STEPS,
        'shapes': SHAPES,
        'recordedSteps': RECORDED_STEPS,
        'inputsNote': ('init[i] is tensor i flattened (row-major); grads[t][i] is the gradient of tensor i at step t+1. '
                       'weights[k][i] is tensor i after step recordedSteps[k].'),
    }


# ---------------------------------------------------------------------------------------------------------------
# PyTorch


def torch_cases():
    import torch

    torch.set_default_dtype(torch.float32)
    init, grads = make_inputs()
    specs = [
        # id, scheme, our options, torch optimizer factory, description, slot map (ours -> torch state key)
        ('adam', 'adam', dict(learningRate=1e-2, beta1=0.9, beta2=0.999, epsilon=1e-8),
         lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8),
         'torch.optim.Adam(lr=1e-2, betas=(0.9, 0.999), eps=1e-8)', {'m': 'exp_avg', 'v': 'exp_avg_sq'}),
        # eps comparable to sqrt(v): checks where eps sits (outside the sqrt of the bias-corrected v-hat).
        ('adam-large-eps', 'adam', dict(learningRate=1e-2, beta1=0.9, beta2=0.999, epsilon=1e-3),
         lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-3),
         'torch.optim.Adam(lr=1e-2, betas=(0.9, 0.999), eps=1e-3)', {'m': 'exp_avg', 'v': 'exp_avg_sq'}),
        ('adam-l2', 'adam-l2', dict(learningRate=1e-2, weightDecay=0.1, beta1=0.9, beta2=0.999, epsilon=1e-8),
         lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
         'torch.optim.Adam(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)', {'m': 'exp_avg', 'v': 'exp_avg_sq'}),
        ('adam-l2-strong', 'adam-l2', dict(learningRate=3e-3, weightDecay=1.0, beta1=0.8, beta2=0.99, epsilon=1e-6),
         lambda p: torch.optim.Adam(p, lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1.0),
         'torch.optim.Adam(lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=1.0)', {'m': 'exp_avg', 'v': 'exp_avg_sq'}),
        ('adamw', 'adamw', dict(learningRate=1e-2, weightDecay=0.5, beta1=0.9, beta2=0.999, epsilon=1e-8),
         lambda p: torch.optim.AdamW(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5),
         'torch.optim.AdamW(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.5)', {'m': 'exp_avg', 'v': 'exp_avg_sq'}),
        ('adamw-schedule-scaled', 'adamw',
         dict(learningRate=1e-2, weightDecay=5e-3, decoupledConvention='schedule-scaled', beta1=0.9, beta2=0.999,
              epsilon=1e-8),
         lambda p: torch.optim.AdamW(p, lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=5e-3 / 1e-2),
         'torch.optim.AdamW(lr=1e-2, weight_decay=0.5): Loshchilov & Hutter decay 5e-3 per step = lr * 0.5',
         {'m': 'exp_avg', 'v': 'exp_avg_sq'}),
        ('sgd-momentum', 'sgd', dict(learningRate=5e-2, momentum=0.9),
         lambda p: torch.optim.SGD(p, lr=5e-2, momentum=0.9),
         'torch.optim.SGD(lr=5e-2, momentum=0.9)', {'momentum': 'momentum_buffer'}),
        ('sgd-l2-momentum', 'sgd-l2', dict(learningRate=5e-2, momentum=0.9, weightDecay=0.1),
         lambda p: torch.optim.SGD(p, lr=5e-2, momentum=0.9, weight_decay=0.1),
         'torch.optim.SGD(lr=5e-2, momentum=0.9, weight_decay=0.1)', {'momentum': 'momentum_buffer'}),
        ('sgd-l2-plain', 'sgd-l2', dict(learningRate=1e-1, weightDecay=0.2),
         lambda p: torch.optim.SGD(p, lr=1e-1, weight_decay=0.2),
         'torch.optim.SGD(lr=1e-1, weight_decay=0.2)', {}),
        # RMSprop: torch puts eps outside the sqrt (sqrt(v) + eps), TensorFlow (and we) inside (sqrt(v + eps)).
        # With eps_torch = 1e-12 and ours 1e-24 both are sqrt(v) to far below float32 resolution (v >= ~1e-12 here).
        ('rmsprop', 'rmsprop', dict(learningRate=1e-2, rho=0.9, epsilon=1e-24),
         lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.9, eps=1e-12),
         'torch.optim.RMSprop(lr=1e-2, alpha=0.9, eps=1e-12); ours epsilon=1e-24 inside the sqrt',
         {'ms': 'square_avg'}),
        ('rmsprop-centered', 'rmsprop', dict(learningRate=1e-2, rho=0.9, epsilon=1e-24, centered=True),
         lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.9, eps=1e-12, centered=True),
         'torch.optim.RMSprop(lr=1e-2, alpha=0.9, eps=1e-12, centered=True); ours epsilon=1e-24 inside the sqrt',
         {'ms': 'square_avg', 'mg': 'grad_avg'}),
        ('rmsprop-centered-momentum', 'rmsprop', dict(learningRate=3e-3, rho=0.95, momentum=0.9, epsilon=1e-24, centered=True),
         lambda p: torch.optim.RMSprop(p, lr=3e-3, alpha=0.95, eps=1e-12, momentum=0.9, centered=True),
         'torch.optim.RMSprop(lr=3e-3, alpha=0.95, eps=1e-12, momentum=0.9, centered=True); ours epsilon=1e-24',
         {'ms': 'square_avg', 'mg': 'grad_avg'}),
        ('rmsprop-l2', 'rmsprop-l2', dict(learningRate=1e-2, rho=0.9, epsilon=1e-24, weightDecay=0.1),
         lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.9, eps=1e-12, weight_decay=0.1),
         'torch.optim.RMSprop(lr=1e-2, alpha=0.9, eps=1e-12, weight_decay=0.1); ours epsilon=1e-24',
         {'ms': 'square_avg'}),
        ('rmsprop-l2-centered', 'rmsprop-l2', dict(learningRate=1e-2, rho=0.9, epsilon=1e-24, weightDecay=0.1, centered=True),
         lambda p: torch.optim.RMSprop(p, lr=1e-2, alpha=0.9, eps=1e-12, weight_decay=0.1, centered=True),
         'torch.optim.RMSprop(lr=1e-2, alpha=0.9, eps=1e-12, weight_decay=0.1, centered=True); ours epsilon=1e-24',
         {'ms': 'square_avg', 'mg': 'grad_avg'}),
    ]
    cases = []
    for case_id, scheme, options, factory, description, slot_map in specs:
        params = [torch.nn.Parameter(torch.tensor(w.copy())) for w in init]
        opt = factory(params)
        weights = []
        for t in range(STEPS):
            for p, g in zip(params, grads[t]):
                p.grad = torch.tensor(g.copy())
            opt.step()
            if t + 1 in RECORDED_STEPS:
                weights.append([f32list(p.detach().numpy()) for p in params])
        slots = {ours: [f32list(opt.state[p][key].numpy()) for p in params] for ours, key in slot_map.items()}
        cases.append(dict(id=case_id, scheme=scheme, options=options, reference=description, weights=weights,
                          slots=slots))
    return init, grads, cases


# ---------------------------------------------------------------------------------------------------------------
# TensorFlow


def tensorflow_cases():
    import tensorflow as tf

    init, grads = make_inputs()
    cases = []

    def raw(case_id, scheme, options, lr, rho, momentum, eps, centered, l2, description):
        vs = [tf.Variable(w.copy()) for w in init]
        ms = [tf.Variable(np.zeros_like(w)) for w in init]
        mg = [tf.Variable(np.zeros_like(w)) for w in init]
        mom = [tf.Variable(np.zeros_like(w)) for w in init]
        weights = []
        for t in range(STEPS):
            for i, v in enumerate(vs):
                g = tf.constant(grads[t][i])
                if l2:
                    # L2 inside RMSprop: the kernel sees g + lambda * w (this is what rmsprop-l2 means).
                    g = g + np.float32(l2) * v.read_value()
                if centered:
                    tf.raw_ops.ResourceApplyCenteredRMSProp(
                        var=v.handle, mg=mg[i].handle, ms=ms[i].handle, mom=mom[i].handle, lr=np.float32(lr),
                        rho=np.float32(rho), momentum=np.float32(momentum), epsilon=np.float32(eps), grad=g)
                else:
                    tf.raw_ops.ResourceApplyRMSProp(
                        var=v.handle, ms=ms[i].handle, mom=mom[i].handle, lr=np.float32(lr), rho=np.float32(rho),
                        momentum=np.float32(momentum), epsilon=np.float32(eps), grad=g)
            if t + 1 in RECORDED_STEPS:
                weights.append([f32list(v.numpy()) for v in vs])
        slots = {'ms': [f32list(x.numpy()) for x in ms]}
        if centered:
            slots['mg'] = [f32list(x.numpy()) for x in mg]
        if momentum > 0:
            slots['mom'] = [f32list(x.numpy()) for x in mom]
        cases.append(dict(id=case_id, scheme=scheme, options=options, reference=description, weights=weights,
                          slots=slots))

    raw('tf-rmsprop', 'rmsprop', dict(learningRate=1e-2, rho=0.9, epsilon=1e-4), 1e-2, 0.9, 0.0, 1e-4, False, 0.0,
        'tf.raw_ops.ResourceApplyRMSProp(lr=1e-2, rho=0.9, momentum=0, epsilon=1e-4), slots start at 0')
    raw('tf-rmsprop-momentum', 'rmsprop', dict(learningRate=3e-3, rho=0.9, momentum=0.9, epsilon=1e-6),
        3e-3, 0.9, 0.9, 1e-6, False, 0.0,
        'tf.raw_ops.ResourceApplyRMSProp(lr=3e-3, rho=0.9, momentum=0.9, epsilon=1e-6), slots start at 0')
    raw('tf-rmsprop-centered-dopamine', 'rmsprop', dict(learningRate=2.5e-4, rho=0.95, epsilon=1e-5, centered=True),
        2.5e-4, 0.95, 0.0, 1e-5, True, 0.0,
        'tf.raw_ops.ResourceApplyCenteredRMSProp(lr=2.5e-4, rho=0.95, momentum=0, epsilon=1e-5) '
        '(Dopamine DQN hyperparameters), slots start at 0; tfjs RMSProp(centered) gives NaN here')
    raw('tf-rmsprop-centered-momentum', 'rmsprop',
        dict(learningRate=3e-3, rho=0.9, momentum=0.9, epsilon=1e-4, centered=True),
        3e-3, 0.9, 0.9, 1e-4, True, 0.0,
        'tf.raw_ops.ResourceApplyCenteredRMSProp(lr=3e-3, rho=0.9, momentum=0.9, epsilon=1e-4), slots start at 0')
    raw('tf-rmsprop-l2-centered', 'rmsprop-l2',
        dict(learningRate=1e-2, rho=0.95, epsilon=1e-5, centered=True, weightDecay=0.1),
        1e-2, 0.95, 0.0, 1e-5, True, 0.1,
        'tf.raw_ops.ResourceApplyCenteredRMSProp(lr=1e-2, rho=0.95, momentum=0, epsilon=1e-5) fed g + 0.1 * w')

    # TF1's optimizer, as constructed by Dopamine's TF DQN (lr raised from 2.5e-4 so 50 steps move the weights).
    vs = [tf.Variable(w.copy()) for w in init]
    opt = tf.compat.v1.train.RMSPropOptimizer(1e-2, decay=0.95, momentum=0.0, epsilon=1e-5, centered=True)
    weights = []
    for t in range(STEPS):
        opt.apply_gradients([(tf.constant(grads[t][i]), v) for i, v in enumerate(vs)])
        if t + 1 in RECORDED_STEPS:
            weights.append([f32list(v.numpy()) for v in vs])
    cases.append(dict(
        id='tf1-rmsprop-centered', scheme='rmsprop',
        options=dict(learningRate=1e-2, rho=0.95, epsilon=1e-5, centered=True, initialMeanSquare=1),
        reference=('tf.compat.v1.train.RMSPropOptimizer(1e-2, decay=0.95, momentum=0.0, epsilon=1e-5, centered=True) '
                   '(Dopamine TF DQN construction; mean-square slot initialised to 1)'),
        weights=weights,
        slots={'ms': [f32list(opt.get_slot(v, 'rms').numpy()) for v in vs],
               'mg': [f32list(opt.get_slot(v, 'mg').numpy()) for v in vs]}))
    return init, grads, cases


def write(name: str, head: dict, init, grads, cases):
    doc = dict(head)
    doc['init'] = [f32list(w) for w in init]
    doc['grads'] = [[f32list(g) for g in step] for step in grads]
    doc['cases'] = cases
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.normpath(os.path.join(OUT_DIR, name))
    with open(path, 'w') as f:
        json.dump(doc, f, separators=(',', ':'))
        f.write('\n')
    print(f'wrote {path} ({os.path.getsize(path)} bytes, {len(cases)} cases)')


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--only', choices=['torch', 'tensorflow'])
    args = parser.parse_args()
    if args.only in (None, 'torch'):
        import torch
        init, grads, cases = torch_cases()
        write('torch.json', header('torch', {'torch': torch.__version__, 'numpy': np.__version__}), init, grads, cases)
    if args.only in (None, 'tensorflow'):
        os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
        import tensorflow as tf
        init, grads, cases = tensorflow_cases()
        write('tensorflow.json', header('tensorflow', {'tensorflow-cpu': tf.__version__, 'numpy': np.__version__}),
              init, grads, cases)


if __name__ == '__main__':
    sys.exit(main())
