"""PyTorch (CPU) as a bench peer: a persistent process driven over stdin/stdout, one JSON object per line.

Requests: {"op": "prepare", "case": {...}, "weights": {...}, "x": b64}, {"op": "outputs"}, {"op": "gradients"},
{"op": "run"}, {"op": "release"}; a model case (mode "model") adds "model": {...} and {"op": "first"}. Float32 arrays travel as base64 of little-endian bytes. Every timed unit is
timed here, with time.perf_counter around the work only, so the pipe is never timed. A streamed case is a per-step
loop in Python, as a PyTorch user writes it. OPENBLAS_NUM_THREADS comes from the environment (the bench sets 1);
torch's own intra-op threads are set from the first request (2 on this machine) and reported back.
"""
import base64
import json
import os
import sys
import time

import torch

torch.set_grad_enabled(False)


def decode(s, shape):
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.float32).reshape(shape).clone()


def encode(t):
    return base64.b64encode(t.detach().contiguous().to(torch.float32).numpy().tobytes()).decode('ascii')


class Case:
    def __init__(self, req):
        c = req['case']
        self.mode, self.B, self.T, self.H = c['mode'], c['B'], c['T'], c['H']
        kind = c['cell']
        H = self.H
        if kind == 'lstm':
            self.module = torch.nn.LSTM(H, H, batch_first=True)
        elif kind == 'gru':
            self.module = torch.nn.GRU(H, H, batch_first=True)  # reset after the recurrent product only
        elif kind == 'rnn':
            self.module = torch.nn.RNN(H, H, batch_first=True, nonlinearity='tanh')
        else:
            raise ValueError(f'cell {kind}')
        self.lstm = kind == 'lstm'
        G = {'lstm': 4, 'gru': 3, 'rnn': 1}[kind] * H
        w = req['weights']
        with torch.no_grad():
            self.module.weight_ih_l0.copy_(decode(w['wIh'], (G, H)))
            self.module.weight_hh_l0.copy_(decode(w['wHh'], (G, H)))
            self.module.bias_ih_l0.copy_(decode(w['bIh'], (G,)))
            self.module.bias_hh_l0.copy_(decode(w['bHh'], (G,)))
        self.x = decode(req['x'], (self.B, self.T, H))
        self.frames = [self.x[:, t:t + 1, :].contiguous() for t in range(self.T)]
        self.dy = torch.full((self.B, self.T, H), 1.0 / (self.B * self.T))

    def zeros(self):
        h = torch.zeros(1, self.B, self.H)
        return (h, torch.zeros(1, self.B, self.H)) if self.lstm else h

    def sequence(self):
        with torch.no_grad():
            return self.module(self.x, self.zeros())[0]

    def streaming(self):
        outs = []
        with torch.no_grad():
            state = self.zeros()
            for frame in self.frames:
                y, state = self.module(frame, state)
                outs.append(y)
        return torch.cat(outs, dim=1)

    def training(self):
        """Forward and backward, as the Recur contender does: dL/dy = 1/(B*T) everywhere, zero initial state."""
        with torch.enable_grad():
            self.module.zero_grad(set_to_none=True)
            x = self.x.clone().requires_grad_(True)
            h0 = torch.zeros(1, self.B, self.H, requires_grad=True)
            state = (h0, torch.zeros(1, self.B, self.H)) if self.lstm else h0
            y = self.module(x, state)[0]
            y.backward(self.dy)
        return x, h0

    def run(self):
        t0 = time.perf_counter()
        getattr(self, self.mode)()
        return (time.perf_counter() - t0) * 1000

    def gradients(self):
        x, h0 = self.training()
        m = self.module
        return {'dx': encode(x.grad), 'dh0': encode(h0.grad[0]), 'wIh': encode(m.weight_ih_l0.grad), 'wHh': encode(m.weight_hh_l0.grad),
                'bIh': encode(m.bias_ih_l0.grad), 'bHh': encode(m.bias_hh_l0.grad)}


class ModelCase:
    """The demo's character model as a PyTorch user trains it: nn.LSTM(num_layers) + nn.Linear, cross-entropy,
    clip_grad_norm_, Adam; one chunk per step with the state carried, detached."""

    def __init__(self, req):
        c, m = req['case'], req['model']
        self.mode, B, T, H, V, L = 'model', c['B'], c['T'], c['H'], m['vocabulary'], m['layers']
        self.lstm = torch.nn.LSTM(V, H, num_layers=L, batch_first=True)
        self.head = torch.nn.Linear(H, V)
        with torch.no_grad():
            for l, w in enumerate(m['weights']):
                I = V if l == 0 else H
                getattr(self.lstm, f'weight_ih_l{l}').copy_(decode(w['wIh'], (4 * H, I)))
                getattr(self.lstm, f'weight_hh_l{l}').copy_(decode(w['wHh'], (4 * H, H)))
                getattr(self.lstm, f'bias_ih_l{l}').copy_(decode(w['bIh'], (4 * H,)))
                getattr(self.lstm, f'bias_hh_l{l}').copy_(decode(w['bHh'], (4 * H,)))
            self.head.weight.copy_(decode(m['headWeight'], (V, H)))
            self.head.bias.copy_(decode(m['headBias'], (V,)))
        self.params = list(self.lstm.parameters()) + list(self.head.parameters())
        self.optimizer = torch.optim.Adam(self.params, lr=m['learningRate'])
        self.clip = m['clipNorm']
        self.V = V
        self.x = decode(req['x'], (B, T, V))
        self.targets = torch.tensor(m['targets'], dtype=torch.long)
        self.state = (torch.zeros(L, B, H), torch.zeros(L, B, H))

    def step(self):
        with torch.enable_grad():
            self.optimizer.zero_grad(set_to_none=True)
            y, (h, c) = self.lstm(self.x, self.state)
            loss = torch.nn.functional.cross_entropy(self.head(y).reshape(-1, self.V), self.targets)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(self.params, self.clip)
            self.optimizer.step()
            self.state = (h.detach(), c.detach())
        return float(loss), float(norm)

    def run(self):
        t0 = time.perf_counter()
        self.step()
        return (time.perf_counter() - t0) * 1000


def loaded_blas():
    """The BLAS library this process really loaded (Debian's torch links libblas.so.3, an alternative)."""
    torch.ones(2, 2) @ torch.ones(2, 2)
    try:
        with open('/proc/self/maps') as maps:
            libs = {line.split()[-1] for line in maps if 'blas' in line and '/' in line}
        return ', '.join(sorted(os.path.realpath(l) for l in libs)) or 'no BLAS library mapped'
    except OSError:
        return 'unknown'


def main():
    case = None
    for line in sys.stdin:
        req = json.loads(line)
        try:
            op = req['op']
            if op == 'hello':
                torch.set_num_threads(req['threads'])
                reply = {'torch': torch.__version__, 'threads': torch.get_num_threads(), 'openblasThreads': os.environ.get('OPENBLAS_NUM_THREADS'),
                         'blas': loaded_blas()}
            elif op == 'prepare':
                case = ModelCase(req) if req['case']['mode'] == 'model' else Case(req)
                reply = {}
            elif op == 'outputs':
                reply = {'y': encode(case.sequence() if case.mode == 'sequence' else case.streaming())}
            elif op == 'first':
                loss, norm = case.step()
                reply = {'loss': loss, 'gradNorm': norm}
            elif op == 'gradients':
                reply = case.gradients()
            elif op == 'run':
                reply = {'ms': case.run()}
            elif op == 'release':
                case = None
                reply = {}
            else:
                raise ValueError(f'unknown op {op}')
            reply['ok'] = True
        except Exception as error:  # reported to the bench, which says why the peer did not run
            reply = {'ok': False, 'error': f'{type(error).__name__}: {error}'}
        sys.stdout.write(json.dumps(reply) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
