"""Writes the LLaMA LoRA interop fixture: the tiny LLaMA of the model parity fixture (grouped-query attention, untied
head, llama3 rope scaling) plus a LoRA adapter in exactly the files HF PEFT 0.20 writes, and the reference logits
from plain PyTorch math (no peft or transformers package).

Run with a Python that has torch:  /usr/bin/python3 make_fixture.py  (writes next to this file)

The base model and its plain-PyTorch forward pass come from the model tests' fixture script
(tests/PeftEngine.Models.Tests/Fixtures/llama_family/make_fixtures.py, case "llama"), whose config and weights are
copied to base/. The adapter: r=4, lora_alpha=4, use_rslora (s = 4/sqrt(4) = 2) on q_proj, v_proj and down_proj,
with LoRA added to each nn.Linear as HF PEFT does:  y = x @ W.T + s * (x @ A.T) @ B.T.
Files: base/{config.json, model.safetensors}, adapter/{adapter_config.json, adapter_model.safetensors},
expected.safetensors (float64 "logits.base", "logits.lora", int64 "ids").
"""
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FAMILY = os.path.join(HERE, "..", "..", "..", "PeftEngine.Models.Tests", "Fixtures", "llama_family")
sys.path.insert(0, FAMILY)
import make_fixtures as family  # noqa: E402  (the plain-PyTorch LLaMA of the model parity tests)

R, ALPHA = 4, 4
SCALE = ALPHA / math.sqrt(R)
TARGETS = ["q_proj", "v_proj", "down_proj"]


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    types = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[begin:end], dtype=types[info["dtype"]]).copy()).reshape(info["shape"])
    return out


def save_safetensors(path, tensors, metadata=None):
    names = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    header, blobs, offset = ({"__metadata__": metadata} if metadata else {}), [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def hf_lora_config():
    """Every field HF PEFT 0.20's LoraConfig writes, with its defaults, as json.dumps(indent=2, sort_keys=True)."""
    return {
        "alora_invocation_tokens": None, "alpha_pattern": {}, "arrow_config": None, "auto_mapping": None,
        "base_model_name_or_path": "tiny-llama", "bias": "none", "corda_config": None, "ensure_weight_tying": False,
        "eva_config": None, "exclude_modules": None, "fan_in_fan_out": False, "inference_mode": True,
        "init_lora_weights": True, "kasa_config": None, "layer_replication": None, "layers_pattern": None,
        "layers_to_transform": None, "loftq_config": {}, "lora_alpha": ALPHA, "lora_bias": False, "lora_dropout": 0.0,
        "lora_ga_config": None, "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
        "monteclora_config": None, "peft_type": "LORA", "peft_version": "0.20.0", "qalora_group_size": 16, "r": R,
        "rank_pattern": {}, "revision": None, "target_modules": TARGETS, "target_parameters": None,
        "task_type": "CAUSAL_LM", "trainable_token_indices": None, "use_bdlora": None, "use_dora": False,
        "use_qalora": False, "use_rslora": True, "velora_config": None,
    }


def main():
    torch.manual_seed(77)
    os.makedirs(os.path.join(HERE, "base"), exist_ok=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copyfile(os.path.join(FAMILY, "llama", name), os.path.join(HERE, "base", name))
    with open(os.path.join(HERE, "base", "config.json")) as f:
        c = json.load(f)
    model = family.CausalLm(c)
    model.load_state_dict(load_safetensors(os.path.join(HERE, "base", "model.safetensors")))
    model = model.double()

    adapter = {}
    for name, module in model.named_modules():
        if name.split(".")[-1] not in TARGETS:
            continue
        a = torch.randn(R, module.in_features) / math.sqrt(module.in_features)
        b = 0.3 * torch.randn(module.out_features, R)
        key = "base_model.model." + name
        adapter[key + ".lora_A.weight"] = a
        adapter[key + ".lora_B.weight"] = b
    os.makedirs(os.path.join(HERE, "adapter"), exist_ok=True)
    save_safetensors(os.path.join(HERE, "adapter", "adapter_model.safetensors"), adapter, {"format": "pt"})
    with open(os.path.join(HERE, "adapter", "adapter_config.json"), "w") as f:
        f.write(json.dumps(hf_lora_config(), indent=2, sort_keys=True))

    ids = torch.randint(0, c["vocab_size"], (2, 7), dtype=torch.int64)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        base = model(ids, mask)
        for name, module in model.named_modules():
            if name.split(".")[-1] in TARGETS:
                a = adapter["base_model.model." + name + ".lora_A.weight"].double()
                b = adapter["base_model.model." + name + ".lora_B.weight"].double()
                module.forward = (lambda m, a, b: lambda x: torch.nn.functional.linear(x, m.weight, m.bias) + SCALE * ((x @ a.T) @ b.T))(module, a, b)
        lora = model(ids, mask)
    save_safetensors(os.path.join(HERE, "expected.safetensors"), {"ids": ids, "logits.base": base, "logits.lora": lora})
    print("max |lora - base| =", (lora - base).abs().max().item())


if __name__ == "__main__":
    main()
