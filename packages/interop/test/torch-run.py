"""Runs Recur-written .pt files in real PyTorch (round-trips.test.ts): torch.load, load_state_dict, forward.

argv[1]: a manifest (JSON list); per entry the .pt files (one nn module each, num_layers = layers_per_file), the cell
kind, sizes, batch, chunks, optional reset_rows and seq_lens, x (time-major, flat) and the initial state. Prints a JSON
list of {y, h, c}: the outputs (time-major, flat) and the final state per layer, computed in float64.
"""
import json, sys
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

MODULES = {'lstm': torch.nn.LSTM, 'gru': torch.nn.GRU, 'rnn': torch.nn.RNN}
results = []
for case in json.load(open(sys.argv[1])):
    sizes, B, per = case['sizes'], case['batch'], case['layers_per_file']
    modules, layer = [], 0
    for path in case['files']:
        args = dict(input_size=sizes[layer], hidden_size=sizes[layer + 1], num_layers=per)
        if case['kind'] == 'rnn':
            args['nonlinearity'] = case['nonlinearity']
        m = MODULES[case['kind']](**args)
        m.load_state_dict(torch.load(path))  # strict: every key of the module, no other
        modules.append(m.double())
        layer += per
    x = torch.tensor(case['x'], dtype=torch.float64).reshape(sum(case['chunks']), B, sizes[0])
    h = [torch.tensor(v, dtype=torch.float64).reshape(B, -1) for v in case['h0']]
    c = [torch.tensor(v, dtype=torch.float64).reshape(B, -1) for v in case['c0']] if case['c0'] else None
    ys, t0 = [], 0
    with torch.no_grad():
        for n in case['chunks']:
            if case['reset_rows'] and t0 == case['reset_rows']['before_step']:
                for v in h + (c or []):
                    v[case['reset_rows']['rows']] = 0
            inp = x[t0:t0 + n]
            if case['seq_lens']:
                inp = pack_padded_sequence(inp, torch.tensor(case['seq_lens']), enforce_sorted=False)
            layer = 0
            for m in modules:
                hs = torch.stack(h[layer:layer + per])
                state = (hs, torch.stack(c[layer:layer + per])) if c else hs
                inp, state = m(inp, state)
                st = state if isinstance(state, tuple) else (state,)
                for k in range(per):
                    h[layer + k] = st[0][k]
                    if c:
                        c[layer + k] = st[1][k]
                layer += per
            if case['seq_lens']:
                inp, _ = pad_packed_sequence(inp, total_length=n)
            ys.append(inp)
            t0 += n
    results.append({'y': torch.cat(ys).reshape(-1).tolist(), 'h': [v.reshape(-1).tolist() for v in h],
                    'c': [v.reshape(-1).tolist() for v in c] if c else None})
print(json.dumps(results))
