"""The peer of the GPU check: PyTorch's cuDNN LSTM on the shapes gpu-check.mjs times, in the same run, and the
agreement of our outputs (written by gpu-check.mjs) with PyTorch in float64 and float32.
Usage: python3 gpu-peer.py DIR [--quick]   (reads DIR/w-*.f32, DIR/case-*-{x,y}.f32; writes DIR/peer.json)"""
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

out = sys.argv[1]
quick = '--quick' in sys.argv
with open(os.path.join(out, 'ours.json')) as f:
    H = I = json.load(f)['units']
# RECUR_PEER_DEVICE=cpu runs the script itself on a machine without a GPU (a dry run: no timings worth keeping)
dev = torch.device(os.environ.get('RECUR_PEER_DEVICE', 'cuda'))
cuda = dev.type == 'cuda'
sync = torch.cuda.synchronize if cuda else (lambda: None)
pin = (lambda t: t.pin_memory()) if cuda else (lambda t: t)
# "fp32" means fp32: cuDNN and cuBLAS may use TF32 unless told not to
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
result = {
    'torch': torch.__version__, 'cudnn': torch.backends.cudnn.version(), 'gpu': torch.cuda.get_device_name(0) if cuda else 'cpu',
    'tf32': {'torch.backends.cuda.matmul.allow_tf32': False, 'torch.backends.cudnn.allow_tf32': False}, 'cases': {}, 'agreement': {},
}
print('torch', result['torch'], 'cudnn', result['cudnn'], result['gpu'], 'TF32 switches', result['tf32'], flush=True)


def load(name, shape):
    return torch.from_numpy(np.fromfile(os.path.join(out, name), dtype=np.float32).reshape(shape))


def make_lstm(dtype=torch.float32):
    lstm = torch.nn.LSTM(I, H).to(dev, dtype)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(load('w-wIh.f32', (4 * H, I)))
        lstm.weight_hh_l0.copy_(load('w-wHh.f32', (4 * H, H)))
        lstm.bias_ih_l0.copy_(load('w-bIh.f32', (4 * H,)))
        lstm.bias_hh_l0.copy_(load('w-bHh.f32', (4 * H,)))
    return lstm


def timed(reps, body):
    for _ in range(5):
        body()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        body()
        sync()
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def record(key, us):
    result['cases'][key] = us
    print(f'{key}: {us:.1f} us', flush=True)


one = torch.zeros(1, device=dev)
result['floor_us'] = timed(2000, lambda: one.add_(1))
print(f"floor (one tiny kernel + synchronise): {result['floor_us']:.2f} us", flush=True)

lstm = make_lstm()
with torch.no_grad():
    for B in (1, 16):
        x_host = pin(torch.randn(1, B, I))
        h = torch.zeros(1, B, H, device=dev)
        c = torch.zeros(1, B, H, device=dev)
        state = [h, c]

        def plain():
            y, (state[0], state[1]) = lstm(x_host.to(dev, non_blocking=True), (state[0], state[1]))
            y.cpu()
        record(f'stream-B{B}', timed(300 if quick else 3000, plain))
        if not cuda:
            continue
        try:  # PyTorch's best case: the step captured once as a CUDA graph and replayed
            sx = torch.zeros(1, B, I, device=dev)
            sh = torch.zeros(1, B, H, device=dev)
            sc = torch.zeros(1, B, H, device=dev)
            y_host = pin(torch.empty(1, B, H))
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    lstm(sx, (sh, sc))
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                sy, (h2, c2) = lstm(sx, (sh, sc))
                sh.copy_(h2)
                sc.copy_(c2)

            def replay():
                sx.copy_(x_host, non_blocking=True)
                g.replay()
                y_host.copy_(sy, non_blocking=True)
            record(f'stream-B{B}-graph', timed(300 if quick else 3000, replay))
        except Exception as e:  # noqa: BLE001 - reported, not fatal
            print(f'graph capture failed for B={B}: {e}', flush=True)

    for B, T in ((1, 100), (16, 100), (32, 100), (64, 100)):
        x = torch.randn(T, B, I, device=dev)
        h0 = torch.zeros(1, B, H, device=dev)
        record(f'seq-B{B}-T{T}', timed(20 if quick else 200, lambda: lstm(x, (h0, h0))))
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    x = torch.randn(100, 64, I, device=dev)
    h0 = torch.zeros(1, 64, H, device=dev)
    record('seq-B64-T100-tf32', timed(20 if quick else 200, lambda: lstm(x, (h0, h0))))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

# training: forward + backward, dx included (ours computes it too)
T, B = 50, 64
x = torch.randn(T, B, I, device=dev, requires_grad=True)
h0 = torch.zeros(1, B, H, device=dev)
dy = torch.full((T, B, H), 1.0 / (T * B), device=dev)


def train():
    x.grad = None
    for p in lstm.parameters():
        p.grad = None
    y, _ = lstm(x, (h0, h0))
    y.backward(dy)
record('train-B64-T50', timed(10 if quick else 50, train))

# agreement: our outputs against PyTorch float64 (the reference) and PyTorch float32 (cuDNN), same weights and x
lstm64 = make_lstm(torch.float64)
with torch.no_grad():
    for name in sorted(os.listdir(out)):
        if not (name.startswith('case-') and name.endswith('-y.f32')):
            continue
        case = name[len('case-'):-len('-y.f32')]
        parts = {p[0]: int(p[1:]) for p in case.split('-') if p[:1] in ('B', 'T') and p[1:].isdigit()}
        T, B = parts['T'], parts['B']
        xs = load(f'case-{case}-x.f32', (T, B, I)).to(dev)
        ours = load(name, (T, B, H)).to(dev, torch.float64)
        h0 = torch.zeros(1, B, H, device=dev, dtype=torch.float64)
        ref, _ = lstm64(xs.double(), (h0, h0))
        y32, _ = lstm(xs, (h0.float(), h0.float()))
        result['agreement'][case] = {'ours_vs_float64': (ours - ref).abs().max().item(), 'cudnn_fp32_vs_float64': (y32.double() - ref).abs().max().item()}
        print(case, result['agreement'][case], flush=True)

# gradients of the training case: ours against float64 autograd with the same dy (relative to max(1, |ref|))
for name in sorted(os.listdir(out)):
    if not (name.startswith('grad-') and name.endswith('-dx.f32')):
        continue
    case = name[len('grad-'):-len('-dx.f32')]
    parts = {p[0]: int(p[1:]) for p in case.split('-') if p[:1] in ('B', 'T') and p[1:].isdigit()}
    T, B = parts['T'], parts['B']
    xs = load(f'case-{case}-x.f32', (T, B, I)).to(dev, torch.float64).requires_grad_(True)
    for p in lstm64.parameters():
        p.grad = None
    h0 = torch.zeros(1, B, H, device=dev, dtype=torch.float64)
    y, _ = lstm64(xs, (h0, h0))
    y.backward(torch.full((T, B, H), 1.0 / (T * B), device=dev, dtype=torch.float64))
    refs = {'dx': xs.grad, 'dWih': lstm64.weight_ih_l0.grad, 'dWhh': lstm64.weight_hh_l0.grad, 'dbIh': lstm64.bias_ih_l0.grad, 'dbHh': lstm64.bias_hh_l0.grad}
    errors = {}
    for k, ref in refs.items():
        ours = load(f'grad-{case}-{k}.f32', tuple(ref.shape)).to(dev, torch.float64)
        errors[k] = ((ours - ref).abs() / ref.abs().clamp(min=1)).max().item()
    result['agreement'][f'{case} gradients (relative)'] = errors
    print(case, 'gradients', errors, flush=True)

with open(os.path.join(out, 'peer.json'), 'w') as f:
    json.dump(result, f, indent=2)
