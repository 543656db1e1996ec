"""Reference dequantization of ggml block formats, computed with llama.cpp's gguf-py (pure numpy).

gguf-py comes from the llama.cpp git bundle inside npm node-llama-cpp@3.21.1 (llama/gitRelease.bundle):
    git clone gitRelease.bundle llamacpp
Run with Debian's python3-numpy:  GGUF_PY=/path/to/llamacpp/gguf-py /usr/bin/python3 make_fixture.py
Writes ggml_fixture.json: per type, raw block bytes and the floats gguf-py dequantizes them to.
Types gguf-py can quantize get real quantized data; the others get random bytes with sane float16 scales.
"""
import base64
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.environ.get("GGUF_PY", "gguf-py"))
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T  # noqa: E402
from gguf import quants  # noqa: E402

rng = np.random.default_rng(1234)


def half_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


def random_blocks(qtype, count):
    block, size = GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(count, size), dtype=np.uint8)
    # Overwrite the float16 scale fields with moderate values (random bytes could be NaN or huge).
    scale = lambda: half_bytes(rng.uniform(0.001, 0.05, size=count)).reshape(count, 2)
    if qtype in (T.Q2_K,):            # scales[16], qs[64], d, dmin
        raw[:, 80:82] = scale(); raw[:, 82:84] = scale()
    elif qtype == T.Q3_K:             # hmask[32], qs[64], scales[12], d
        raw[:, 108:110] = scale()
    elif qtype in (T.Q4_K, T.Q5_K):   # d, dmin, ...
        raw[:, 0:2] = scale(); raw[:, 2:4] = scale()
    elif qtype == T.Q6_K:             # ql[128], qh[64], scales[16], d
        raw[:, 208:210] = scale()
    elif qtype == T.IQ4_NL:           # d, qs[16]
        raw[:, 0:2] = scale()
    return raw.reshape(-1)


def case(qtype, count):
    block, size = GGML_QUANT_SIZES[qtype]
    if qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        values = rng.standard_normal(count * block).astype(np.float32).reshape(count, block)
        data = quants.quantize(values, qtype).reshape(-1)
    else:
        data = random_blocks(qtype, count)
    out = quants.dequantize(data.reshape(1, -1), qtype).astype(np.float32).reshape(-1)
    assert out.size == count * block
    result = {"type": qtype.name, "blocks": count, "data": base64.b64encode(data.tobytes()).decode(),
              "expected": base64.b64encode(out.tobytes()).decode()}
    if qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        result["values"] = base64.b64encode(values.astype(np.float32).tobytes()).decode()
    return result


def main():
    cases = [case(t, 6) for t in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.IQ4_NL)]
    cases += [case(t, 3) for t in (T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K)]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ggml_fixture.json")
    with open(path, "w") as f:
        json.dump(cases, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
