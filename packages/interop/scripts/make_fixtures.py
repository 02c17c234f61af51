"""Makes @recur/interop's test fixtures with real PyTorch (Debian's python3-torch 1.13: /usr/bin/python3).

Run from the package folder: /usr/bin/python3 scripts/make_fixtures.py  (writes test/fixtures/; committed).

Every model is saved the way PyTorch users save one: torch.save(model.state_dict()) (.pt, a zip holding a pickle
and raw storages), safetensors (written with the few lines below: Debian has no safetensors package), and
torch.onnx.export (.onnx). expected.json holds PyTorch's outputs for the same inputs and state, computed in float64
from the float32 weights, over two chunks with the state carried from the first to the second.
"""
import io, json, os, pickle, struct, zipfile
import torch

torch.manual_seed(20261130)
OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures')
os.makedirs(OUT, exist_ok=True)
DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64', torch.int64: 'I64'}


def save_safetensors(tensors, path, metadata=None):
    """The safetensors format: u64 header length (little-endian), a JSON header, the raw little-endian data."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name, t in tensors.items():
        t = t.contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b' ' * ((8 - len(text) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def flat(t):
    return [float(v) for v in t.detach().double().reshape(-1)]


def reference(model, batch_first, x, state):
    """PyTorch's outputs in float64 for two chunks, the state carried; x [B, T, I] batch-major."""
    m = type(model)(**model._recur_args).double()
    m.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    chunks, T = [], x.shape[1]
    s = tuple(v.double() for v in state) if isinstance(state, tuple) else state.double()
    for part in (x[:, : T // 2], x[:, T // 2 :]):
        inp = part.double() if batch_first else part.double().transpose(0, 1)
        y, s = m(inp, s)
        y = y if batch_first else y.transpose(0, 1)
        hc = s if isinstance(s, tuple) else (s,)
        chunks.append({'y': flat(y), 'h': flat(hc[0]), 'c': flat(hc[1]) if len(hc) > 1 else None})
    return chunks


def make(cls, **args):
    m = cls(**args)
    m._recur_args = args
    return m


expected = {}


def fixture(name, model, batch=2, time=6, dtypes=('F32',), onnx=True):
    args = model._recur_args
    H, L, I = args['hidden_size'], args.get('num_layers', 1), args['input_size']
    batch_first = args.get('batch_first', False)
    with torch.no_grad():
        for p in model.parameters():  # weights that f16 and bf16 hold exactly, so every file stores the same model
            if 'F16' in dtypes:
                p.copy_(p.half().float())
            if 'BF16' in dtypes:
                p.copy_(p.bfloat16().float())
    sd = model.state_dict()
    torch.save(sd, os.path.join(OUT, f'{name}.pt'))
    for dt in dtypes:
        conv = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16}[dt]
        save_safetensors({k: v.to(conv) for k, v in sd.items()}, os.path.join(OUT, f'{name}.{dt.lower()}.safetensors'))
    x = torch.randn(batch, time, I)
    h0 = torch.randn(L, batch, H)
    state = (h0, torch.randn(L, batch, H)) if isinstance(model, torch.nn.LSTM) else h0
    if onnx:
        xin = x[:, : time // 2] if batch_first else x[:, : time // 2].transpose(0, 1)
        names = ['x', 'h0', 'c0'] if isinstance(state, tuple) else ['x', 'h0']
        outs = ['y', 'hn', 'cn'] if isinstance(state, tuple) else ['y', 'hn']
        seq = {0: 'batch', 1: 'time'} if batch_first else {0: 'time', 1: 'batch'}
        dyn = {'x': seq, 'y': seq, **{n: {1: 'batch'} for n in names[1:] + outs[1:]}}
        torch.onnx.export(model, (xin, state), os.path.join(OUT, f'{name}.onnx'), input_names=names,
                          output_names=outs, dynamic_axes=dyn, opset_version=14)
    expected[name] = {
        'kind': type(model).__name__.lower(), 'input_size': I, 'hidden_size': H, 'num_layers': L,
        'nonlinearity': args.get('nonlinearity', 'tanh'), 'bias': args.get('bias', True), 'batch_first': batch_first,
        'batch': batch, 'time': time, 'x': flat(x),
        'h0': flat(state[0] if isinstance(state, tuple) else state),
        'c0': flat(state[1]) if isinstance(state, tuple) else None,
        'chunks': reference(model, batch_first, x, state),
    }


fixture('lstm-2layer', make(torch.nn.LSTM, input_size=3, hidden_size=4, num_layers=2, batch_first=True))
fixture('gru', make(torch.nn.GRU, input_size=3, hidden_size=5), dtypes=('F32', 'F16'))
fixture('rnn-relu-nobias', make(torch.nn.RNN, input_size=4, hidden_size=3, num_layers=2, nonlinearity='relu', bias=False),
        dtypes=('F32', 'BF16'))
fixture('rnn-tanh', make(torch.nn.RNN, input_size=2, hidden_size=3, batch_first=True))


class Tagger(torch.nn.Module):
    """A whole model around its recurrent layer: the RNN's keys carry a prefix; the int64 buffer of batch norm is there too."""

    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(3)
        self.encoder = torch.nn.LSTM(3, 4, batch_first=True)
        self.head = torch.nn.Linear(4, 2)


torch.save(Tagger().state_dict(), os.path.join(OUT, 'tagger-model.pt'))
torch.save(make(torch.nn.LSTM, input_size=3, hidden_size=4, proj_size=2).state_dict(), os.path.join(OUT, 'lstm-proj.pt'))
save_safetensors(make(torch.nn.GRU, input_size=3, hidden_size=2, bidirectional=True).state_dict(),
                 os.path.join(OUT, 'gru-bidirectional.f32.safetensors'))
# a "state dict" whose pickle would run a command when unpickled by Python's pickle
class Exploit:
    def __reduce__(self):
        return (os.system, ('echo pwned',))


with zipfile.ZipFile(os.path.join(OUT, 'exploit.pt'), 'w') as z:
    z.writestr('exploit/data.pkl', pickle.dumps({'weight_ih_l0': Exploit()}, protocol=2))
    z.writestr('exploit/version', '3\n')

# no initial state given: torch builds the zeros inside the graph (Shape, Gather, Unsqueeze, Concat, ConstantOfShape)
zero_state = make(torch.nn.GRU, input_size=3, hidden_size=4, num_layers=2)
torch.onnx.export(zero_state, (torch.randn(5, 2, 3),), os.path.join(OUT, 'gru-zero-state.onnx'), input_names=['x'],
                  output_names=['y', 'hn'], dynamic_axes={'x': {0: 'time', 1: 'batch'}, 'y': {0: 'time', 1: 'batch'}},
                  opset_version=14)

# the same LSTM with tensors as torch.save keeps views: weights transposed twice (column-major strides), biases slices
# of one shared storage at offsets
sd = torch.load(os.path.join(OUT, 'lstm-2layer.pt'))
biases = torch.cat([v for k, v in sd.items() if k.startswith('bias')])
views, at = {}, 0
for k, v in sd.items():
    if k.startswith('bias'):
        views[k] = biases[at:at + v.numel()]
        at += v.numel()
    else:
        views[k] = v.t().contiguous().t()
torch.save(views, os.path.join(OUT, 'lstm-2layer-views.pt'))

# pickles that are not trees of dicts: a name given twice once flattened, a cycle, one dict shared by two keys
t = torch.zeros(2)
torch.save({'a.b': t, 'a': {'b': t}}, os.path.join(OUT, 'dup-names.pt'))
cyclic = {'w': t}
cyclic['self'] = cyclic
torch.save(cyclic, os.path.join(OUT, 'cyclic.pt'))
shared = {'w': t}
torch.save({'x': shared, 'y': shared}, os.path.join(OUT, 'shared-dicts.pt'))

with open(os.path.join(OUT, 'expected.json'), 'w') as f:
    json.dump({'torch': torch.__version__, 'models': expected}, f)
