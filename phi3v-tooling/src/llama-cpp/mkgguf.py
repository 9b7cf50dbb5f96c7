"""Writes a random-weight decoder of the Phi-3-vision decoder's dimensions (Phi-3-mini: 32 layers, hidden 3072, MLP
8192, 32 heads, vocabulary 32064, untied lm_head) as an F16 GGUF v3 file for llama.cpp's phi3 architecture: weights
N(0, 0.02), norms 1, plain rotary embedding, Phi-3's vocabulary from the shared tokenizer. Only for timing.

    python3 mkgguf.py OUT.gguf [TOKENIZER_JSON]
"""
import json, struct, sys
import numpy as np

out = sys.argv[1]
TOKENIZER = sys.argv[2] if len(sys.argv) > 2 else '../shared/tokenizer/phi-3-vision-128k-instruct/tokenizer.json'
tok = json.load(open(TOKENIZER))
V, H, FF, L, NH = 32064, 3072, 8192, 32, 32
pieces = [None] * V
for p, i in tok['model']['vocab'].items():
    pieces[i] = p
types = [1] * V
for a in tok['added_tokens']:
    pieces[a['id']] = a['content']
    types[a['id']] = 3 if a['special'] else 4
for i in range(V):
    if pieces[i] is None:
        pieces[i] = '<|dummy%d|>' % i
        types[i] = 4
    if pieces[i].startswith('<0x') and len(pieces[i]) == 6:
        types[i] = 6
types[0] = 2

def s(x):
    b = x.encode('utf-8')
    return struct.pack('<Q', len(b)) + b

kv = []
def put(key, typ, val):
    kv.append(s(key) + struct.pack('<I', typ) + val)
put('general.architecture', 8, s('phi3'))
put('general.name', 8, s('phi3-random'))
put('general.file_type', 4, struct.pack('<I', 1))
put('phi3.context_length', 4, struct.pack('<I', 131072))
put('phi3.embedding_length', 4, struct.pack('<I', H))
put('phi3.feed_forward_length', 4, struct.pack('<I', FF))
put('phi3.block_count', 4, struct.pack('<I', L))
put('phi3.attention.head_count', 4, struct.pack('<I', NH))
put('phi3.attention.head_count_kv', 4, struct.pack('<I', NH))
put('phi3.attention.layer_norm_rms_epsilon', 6, struct.pack('<f', 1e-5))
put('phi3.rope.dimension_count', 4, struct.pack('<I', H // NH))
put('phi3.rope.freq_base', 6, struct.pack('<f', 10000.0))
put('tokenizer.ggml.model', 8, s('llama'))
put('tokenizer.ggml.tokens', 9, struct.pack('<IQ', 8, V) + b''.join(s(p) for p in pieces))
put('tokenizer.ggml.scores', 9, struct.pack('<IQ', 6, V) + np.array([-float(i) for i in range(V)], '<f4').tobytes())
put('tokenizer.ggml.token_type', 9, struct.pack('<IQ', 5, V) + np.array(types, '<i4').tobytes())
put('tokenizer.ggml.bos_token_id', 4, struct.pack('<I', 1))
put('tokenizer.ggml.eos_token_id', 4, struct.pack('<I', 32000))
put('tokenizer.ggml.unknown_token_id', 4, struct.pack('<I', 0))

tensors = [('token_embd.weight', (V, H), 1), ('output_norm.weight', (H,), 0), ('output.weight', (V, H), 1)]
for l in range(L):
    b = 'blk.%d.' % l
    tensors += [(b + 'attn_norm.weight', (H,), 0), (b + 'attn_qkv.weight', (3 * H, H), 1),
                (b + 'attn_output.weight', (H, H), 1), (b + 'ffn_norm.weight', (H,), 0),
                (b + 'ffn_up.weight', (2 * FF, H), 1), (b + 'ffn_down.weight', (H, FF), 1)]
ALIGN = 32
infos, off = [], 0
for name, shape, t in tensors:
    nbytes = int(np.prod(shape)) * (2 if t == 1 else 4)
    dims = list(reversed(shape))   # ggml: ne0 is the contiguous (last numpy) axis
    infos.append(s(name) + struct.pack('<I', len(dims)) + b''.join(struct.pack('<Q', d) for d in dims)
                 + struct.pack('<IQ', t, off))
    off += (nbytes + ALIGN - 1) // ALIGN * ALIGN
rng = np.random.default_rng(7)
with open(out, 'wb') as f:
    f.write(b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kv)))
    for k in kv: f.write(k)
    for i in infos: f.write(i)
    f.write(b'\0' * ((-f.tell()) % ALIGN))
    for name, shape, t in tensors:
        if t == 0:
            a = np.ones(shape, '<f4')
        else:
            a = np.empty(shape, '<f2')
            for r in range(0, shape[0], 1024):
                a[r:r + 1024] = (rng.standard_normal((min(1024, shape[0] - r), shape[1]), dtype=np.float32) * 0.02).astype('<f2')
        f.write(a.tobytes())
        f.write(b'\0' * ((-a.nbytes) % ALIGN))
print('wrote', out)
