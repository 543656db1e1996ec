"""A tiny "bnb-4bit" checkpoint laid out as transformers + bitsandbytes save one, and the outputs its layers give.

Run with Debian's python3-torch:  /usr/bin/python3 make_checkpoint.py
Writes bnb4bit_model.safetensors (keys exactly as Linear4bit._save_to_state_dict writes them) and
bnb4bit_expected.json (inputs and the outputs x @ dequant(W).T + b computed here with PyTorch).
"""
import json
import os
import struct
import torch

from make_fixture import NF4, FP4, blockwise, dynamic_map, pack

HERE = os.path.dirname(os.path.abspath(__file__))


def quantize(w, qtype, blocksize, double_quant):
    code = torch.tensor(NF4 if qtype == "nf4" else FP4, dtype=torch.float32)
    idx, absmax = blockwise(w.reshape(-1), code, blocksize, fp4=qtype == "fp4")
    tensors = {"": pack(idx).view(-1, 1), ".quant_map": code}
    state = {"quant_type": qtype, "blocksize": blocksize, "dtype": "float32", "shape": list(w.shape)}
    scales = absmax
    if double_quant:
        offset = absmax.mean()
        qabs, nested = blockwise(absmax - offset, dynamic_map(), 256)
        tensors[".absmax"] = qabs
        tensors[".nested_absmax"] = nested
        tensors[".nested_quant_map"] = dynamic_map()
        state.update({"nested_blocksize": 256, "nested_dtype": "float32", "nested_offset": offset.item()})
        scales = dynamic_map()[qabs.long()] * nested.repeat_interleave(256)[:absmax.numel()] + offset
    else:
        tensors[".absmax"] = absmax
    blob = json.dumps(state).encode()
    tensors[".quant_state.bitsandbytes__" + qtype] = torch.tensor(list(blob), dtype=torch.uint8)
    dequantized = (code[idx.long()] * scales.repeat_interleave(blocksize)[:w.numel()]).view(w.shape)
    return tensors, dequantized


def save_safetensors(path, tensors):
    names = {torch.float32: "F32", torch.uint8: "U8"}
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    g = torch.Generator().manual_seed(21)
    layers = {
        "model.layers.0.mlp.up_proj": (torch.randn(96, 64, generator=g) * 0.1, None, "nf4", 64, True),
        "model.layers.0.mlp.down_proj": (torch.randn(64, 96, generator=g) * 0.1, torch.randn(64, generator=g) * 0.1, "fp4", 64, False),
    }
    tensors = {"model.norm.weight": torch.ones(64)}
    expected = {}
    for path, (w, b, qtype, blocksize, dq) in layers.items():
        parts, deq = quantize(w, qtype, blocksize, dq)
        for suffix, t in parts.items():
            tensors[path + ".weight" + suffix] = t
        if b is not None:
            tensors[path + ".bias"] = b
        x = torch.randn(3, w.shape[1], generator=g)
        y = x @ deq.T + (b if b is not None else 0)
        expected[path] = {"x": x.reshape(-1).tolist(), "y": y.reshape(-1).tolist(), "rows": w.shape[0], "cols": w.shape[1]}
    save_safetensors(os.path.join(HERE, "bnb4bit_model.safetensors"), tensors)
    with open(os.path.join(HERE, "bnb4bit_expected.json"), "w") as f:
        json.dump(expected, f)
    print("wrote bnb4bit_model.safetensors and bnb4bit_expected.json")


if __name__ == "__main__":
    main()
