"""Writes the IA3 / LN tuning interop fixture on the tiny GPT-2 base of ../gpt2_lora (run that script first), with
adapter files laid out as HF PEFT 0.20 writes them and reference logits from plain PyTorch math (no peft or
transformers package is needed).

Run with a Python that has torch:  /usr/bin/python3 make_fixture.py  (writes next to this file)

Files written:
  adapter/adapter_config.json         IA3Config: target_modules ["c_attn", "mlp.c_proj"], feedforward_modules ["mlp.c_proj"]
  adapter/adapter_model.safetensors   "base_model.model.transformer.h.0.attn.c_attn.ia3_l" (48, 1),
                                      "base_model.model.transformer.h.0.mlp.c_proj.ia3_l" (1, 64), ... (HF IA3 layout)
  adapter/ln/adapter_config.json      LNTuningConfig: target_modules ["ln_1", "ln_f"] ("ln" adapter subfolder)
  adapter/ln/adapter_model.safetensors "base_model.model.transformer.h.0.ln_1.ln_tuning_layers.weight" / ".bias", ...
  expected.safetensors                float64: "ids", "logits.base", "logits.ia3", "logits.ln"

IA3 math as HF PEFT computes it (peft.tuners.ia3.layer.Linear with fan_in_fan_out for GPT-2's Conv1D):
  output scaling (c_attn, ia3_l (out, 1)):      y = (x @ W + b) * l.flatten()
  feed-forward (mlp.c_proj, ia3_l (1, in)):     y = (x * l.flatten()) @ W + b
LN tuning (peft.tuners.ln_tuning.layer.LNTuningLayer): the tuned copy's weight and bias replace the LayerNorm's.
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
LORA_FIXTURE = os.path.join(HERE, "..", "gpt2_lora")
sys.path.insert(0, LORA_FIXTURE)
from make_fixture import CONFIG, B, T, forward, save_safetensors  # noqa: E402


def load_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        a, b = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).copy()).reshape(info["shape"])
    return out


def base_config(peft_type, target_modules):
    return {
        "auto_mapping": None, "base_model_name_or_path": "tiny-gpt2", "exclude_modules": None, "inference_mode": True,
        "modules_to_save": None, "peft_type": peft_type, "peft_version": "0.20.0", "revision": None,
        "target_modules": target_modules, "task_type": "CAUSAL_LM",
    }


def main():
    torch.manual_seed(77)
    base = load_safetensors(os.path.join(LORA_FIXTURE, "base", "model.safetensors"))
    c = CONFIG["n_embd"]

    # IA3 "default": vectors away from 1 so every scaling matters
    ia3 = {}
    for i in range(CONFIG["n_layer"]):
        ia3[f"base_model.model.transformer.h.{i}.attn.c_attn.ia3_l"] = 1.0 + 0.3 * torch.randn(3 * c, 1)
        ia3[f"base_model.model.transformer.h.{i}.mlp.c_proj.ia3_l"] = 1.0 + 0.3 * torch.randn(1, 4 * c)
    os.makedirs(os.path.join(HERE, "adapter"), exist_ok=True)
    save_safetensors(os.path.join(HERE, "adapter", "adapter_model.safetensors"), ia3, {"format": "pt"})
    config = base_config("IA3", ["c_attn", "mlp.c_proj"])
    config.update({"fan_in_fan_out": True, "feedforward_modules": ["mlp.c_proj"], "init_ia3_weights": True})
    with open(os.path.join(HERE, "adapter", "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))

    # LN tuning "ln": tuned copies of ln_1 (each layer) and ln_f
    ln = {}
    for path in [f"transformer.h.{i}.ln_1" for i in range(CONFIG["n_layer"])] + ["transformer.ln_f"]:
        ln[f"base_model.model.{path}.ln_tuning_layers.weight"] = base[path + ".weight"] + 0.2 * torch.randn(c)
        ln[f"base_model.model.{path}.ln_tuning_layers.bias"] = base[path + ".bias"] + 0.2 * torch.randn(c)
    os.makedirs(os.path.join(HERE, "adapter", "ln"), exist_ok=True)
    save_safetensors(os.path.join(HERE, "adapter", "ln", "adapter_model.safetensors"), ln, {"format": "pt"})
    with open(os.path.join(HERE, "adapter", "ln", "adapter_config.json"), "w") as f:
        f.write(json.dumps(base_config("LN_TUNING", ["ln_1", "ln_f"]), indent=2, sort_keys=True))

    # references in float64 from the float32 values written above
    p = {k: v.double() for k, v in base.items()}
    adapters = {}
    for i in range(CONFIG["n_layer"]):
        pre = f"transformer.h.{i}."
        l_attn = ia3[f"base_model.model.{pre}attn.c_attn.ia3_l"].double().flatten()
        l_ff = ia3[f"base_model.model.{pre}mlp.c_proj.ia3_l"].double().flatten()
        w, b = p[pre + "mlp.c_proj.weight"], p[pre + "mlp.c_proj.bias"]
        adapters[pre + "attn.c_attn"] = lambda x, y, l=l_attn: y * l
        adapters[pre + "mlp.c_proj"] = lambda x, y, l=l_ff, w=w, b=b: (x * l) @ w + b
    p_ln = dict(p)
    for key, value in ln.items():
        path = key[len("base_model.model."):].replace(".ln_tuning_layers", "")
        p_ln[path] = value.double()

    ids = torch.randint(0, CONFIG["vocab_size"], (B, T), dtype=torch.int64)
    expected = {"ids": ids, "logits.base": forward(p, ids, {}), "logits.ia3": forward(p, ids, adapters),
                "logits.ln": forward(p_ln, ids, {})}
    save_safetensors(os.path.join(HERE, "expected.safetensors"), expected)
    for k in ("logits.ia3", "logits.ln"):
        print(k, "max |adapter - base| =", (expected[k] - expected["logits.base"]).abs().max().item())


if __name__ == "__main__":
    main()
