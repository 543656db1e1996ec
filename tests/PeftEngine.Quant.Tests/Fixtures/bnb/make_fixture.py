"""Reference 4-bit / 8-bit blockwise quantization, written from bitsandbytes' pure-PyTorch semantics.

Run with Debian's python3-torch:  /usr/bin/python3 make_fixture.py  (writes bnb_fixture.json here).
Independent of the C# code: nearest codes are found by argmin over |scaled - code| (first index on ties; for FP4
the nearest magnitude of |x| plus the sign bit when x < 0, as bitsandbytes' CUDA kernel decides),
the dynamic map is built with torch.linspace exactly as bitsandbytes' create_dynamic_map does.
"""
import base64
import json
import os
import struct
import torch

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
FP4_RAW = [0.0, 0.0625, 8.0, 12.0, 4.0, 6.0, 2.0, 3.0, -0.0, -0.0625, -8.0, -12.0, -4.0, -6.0, -2.0, -3.0]
FP4 = [v / 12.0 for v in FP4_RAW]


def dynamic_map():
    data = []
    max_exponent_bits, non_sign_bits = 7, 7
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    data.append(0)
    data.append(1.0)
    data.sort()
    return torch.tensor(data, dtype=torch.float32)


def blockwise(values, code, blocksize, fp4=False):
    """values: 1-D float32. Returns (indices uint8, absmax float32)."""
    n = values.numel()
    blocks = (n + blocksize - 1) // blocksize
    padded = torch.zeros(blocks * blocksize, dtype=torch.float32)
    padded[:n] = values
    rows = padded.view(blocks, blocksize)
    absmax = rows.abs().max(dim=1).values
    scaled = rows * (1.0 / absmax).view(-1, 1)
    scaled = scaled.reshape(-1)[:n]
    if fp4:
        # bitsandbytes' CUDA kernel: the nearest magnitude (codes 0..7) of |x|, plus the sign bit 8 when x < 0.
        magnitudes = code[:8]
        idx = torch.argmin((scaled.abs().view(-1, 1) - magnitudes.view(1, -1)).abs(), dim=1)
        idx = idx + 8 * (scaled < 0).long()
    else:
        idx = torch.argmin((scaled.view(-1, 1) - code.view(1, -1)).abs(), dim=1)
    return idx.to(torch.uint8), absmax


def f32(t):
    """float32 values as base64 of their little-endian bytes (exact and compact)."""
    values = t.reshape(-1).tolist()
    return base64.b64encode(struct.pack("<%df" % len(values), *values)).decode()


def u8(t):
    return base64.b64encode(bytes(t.reshape(-1).tolist())).decode()


def pack(idx):
    idx = idx.to(torch.int32)
    if idx.numel() % 2:
        idx = torch.cat([idx, torch.zeros(1, dtype=torch.int32)])
    return ((idx[0::2] << 4) | idx[1::2]).to(torch.uint8)


def case(name, rows, cols, qtype, blocksize, double_quant, seed):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=g, dtype=torch.float32) * 0.05
    code = torch.tensor(NF4 if qtype == "nf4" else FP4, dtype=torch.float32)
    idx, absmax = blockwise(w.reshape(-1), code, blocksize, fp4=qtype == "fp4")
    out = {"name": name, "rows": rows, "cols": cols, "quant_type": qtype, "blocksize": blocksize,
           "double_quant": double_quant, "weight": f32(w), "packed": u8(pack(idx)),
           "absmax": f32(absmax)}
    scales = absmax
    if double_quant:
        offset = absmax.mean()
        qabs, nested = blockwise(absmax - offset, dynamic_map(), 256)
        out.update({"quantized_absmax": u8(qabs), "nested_absmax": f32(nested), "nested_offset": offset.item()})
        scales = dynamic_map()[qabs.long()] * nested.repeat_interleave(256)[:absmax.numel()] + offset
    deq = code[idx.long()] * scales.repeat_interleave(blocksize)[:rows * cols]
    out["dequantized"] = f32(deq)
    return out


def main():
    cases = [
        case("nf4_rows_of_blocks", 8, 128, "nf4", 64, False, 1),
        case("nf4_blocks_span_rows", 5, 96, "nf4", 64, False, 2),
        case("nf4_odd_count", 7, 33, "nf4", 64, False, 3),
        case("fp4_blocksize_128", 6, 256, "fp4", 128, False, 4),
        case("fp4_odd_count", 3, 45, "fp4", 32, False, 5),
        case("nf4_double_quant", 32, 576, "nf4", 64, True, 6),
        case("fp4_double_quant", 20, 640, "fp4", 64, True, 7),
    ]
    g = torch.Generator().manual_seed(8)
    v8 = torch.randn(5000, generator=g, dtype=torch.float32)
    idx8, absmax8 = blockwise(v8, dynamic_map(), 4096)
    fixture = {"dynamic_map": f32(dynamic_map()), "cases": cases,
               "blockwise8": {"values": f32(v8), "blocksize": 4096, "indices": u8(idx8), "absmax": f32(absmax8)}}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bnb_fixture.json")
    with open(path, "w") as f:
        json.dump(fixture, f)
    print("wrote", path)


if __name__ == "__main__":
    main()
