"""Writes the LoRA interop fixture: a tiny GPT-2 base and two adapters in exactly the files HF PEFT 0.20 writes,
with reference logits computed by plain PyTorch math (no peft or transformers package is needed).

Run with a Python that has torch:  /usr/bin/python3 make_fixture.py  (writes next to this file)

Files written:
  base/config.json, base/model.safetensors   GPT-2 checkpoint (HF key names, "transformer.h.0.attn.c_attn.weight")
  adapter/adapter_config.json                 LoRA r=4, alpha=8 on c_attn, mlp.c_fc and wpe (fan_in_fan_out)
  adapter/adapter_model.safetensors           keys "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", ...
  adapter/dora/adapter_config.json            DoRA r=2, alpha=3 on attn.c_proj and mlp.c_proj ("dora" adapter subfolder)
  adapter/dora/adapter_model.safetensors      ... plus "...c_proj.lora_magnitude_vector"
  expected.safetensors                        float64: "ids", "logits.base", "logits.lora", "logits.dora"

LoRA math as HF PEFT computes it (peft.tuners.lora.layer.Linear / Embedding, lora.dora.DoraLinearLayer):
  Conv1D (weight W stored (in, out)):  y = x @ W + b + s * (x @ A.T) @ B.T,            s = alpha / r
  Embedding:                           y = E[ids] + s * (A.T[ids]) @ B.T              (A: (r, num), B: (dim, r))
  DoRA:   V = W.T + s * B @ A  (out, in);  lam = m / ||V||_row;  y = base(x) + (lam - 1) * (x @ W) + lam * s * (x @ A.T) @ B.T
"""
import json
import math
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = {
    "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 50, "n_positions": 32, "n_embd": 16,
    "n_layer": 2, "n_head": 2, "n_inner": None, "activation_function": "gelu_new", "resid_pdrop": 0.0,
    "embd_pdrop": 0.0, "attn_pdrop": 0.0, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
    "bos_token_id": 49, "eos_token_id": 49, "torch_dtype": "float32",
}
B, T = 3, 6


def hf_lora_config(target_modules, r, alpha, use_dora):
    """Every field HF PEFT 0.20's LoraConfig writes, with its defaults, as json.dumps(indent=2, sort_keys=True)."""
    return {
        "alora_invocation_tokens": None, "alpha_pattern": {}, "arrow_config": None, "auto_mapping": None,
        "base_model_name_or_path": "tiny-gpt2", "bias": "none", "corda_config": None, "ensure_weight_tying": False,
        "eva_config": None, "exclude_modules": None, "fan_in_fan_out": True, "inference_mode": True,
        "init_lora_weights": True, "kasa_config": None, "layer_replication": None, "layers_pattern": None,
        "layers_to_transform": None, "loftq_config": {}, "lora_alpha": alpha, "lora_bias": False, "lora_dropout": 0.0,
        "lora_ga_config": None, "megatron_config": None, "megatron_core": "megatron.core", "modules_to_save": None,
        "monteclora_config": None, "peft_type": "LORA", "peft_version": "0.20.0", "qalora_group_size": 16, "r": r,
        "rank_pattern": {}, "revision": None, "target_modules": target_modules, "target_parameters": None,
        "task_type": "CAUSAL_LM", "trainable_token_indices": None, "use_bdlora": None, "use_dora": use_dora,
        "use_qalora": False, "use_rslora": False, "velora_config": None,
    }


def save_safetensors(path, tensors, metadata=None):
    names = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        t = t.detach().contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def layer_norm(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, CONFIG["layer_norm_epsilon"])


def forward(p, ids, adapters):
    """GPT-2 logits; adapters maps a module path to a function (x, base_output) -> adapted output."""
    def conv1d(path, x):
        y = x @ p[path + ".weight"] + p[path + ".bias"]
        return adapters[path](x, y) if path in adapters else y

    t = ids.shape[1]
    pos = torch.arange(t)
    wpe = p["transformer.wpe.weight"][pos]
    if "transformer.wpe" in adapters:
        wpe = adapters["transformer.wpe"](pos, wpe)
    x = p["transformer.wte.weight"][ids] + wpe
    c, nh = CONFIG["n_embd"], CONFIG["n_head"]
    hs = c // nh
    for i in range(CONFIG["n_layer"]):
        pre = f"transformer.h.{i}."
        h = layer_norm(x, p[pre + "ln_1.weight"], p[pre + "ln_1.bias"])
        q, k, v = conv1d(pre + "attn.c_attn", h).split(c, dim=2)
        q, k, v = (z.view(B, t, nh, hs).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, t, c)
        x = x + conv1d(pre + "attn.c_proj", y)
        h = layer_norm(x, p[pre + "ln_2.weight"], p[pre + "ln_2.bias"])
        x = x + conv1d(pre + "mlp.c_proj", gelu_new(conv1d(pre + "mlp.c_fc", h)))
    x = layer_norm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"])
    return x @ p["transformer.wte.weight"].T


def main():
    torch.manual_seed(2024)
    c = CONFIG["n_embd"]
    shapes = {"transformer.wte.weight": (50, c), "transformer.wpe.weight": (32, c), "transformer.ln_f.weight": (c,), "transformer.ln_f.bias": (c,)}
    for i in range(CONFIG["n_layer"]):
        pre = f"transformer.h.{i}."
        shapes.update({pre + "ln_1.weight": (c,), pre + "ln_1.bias": (c,), pre + "attn.c_attn.weight": (c, 3 * c),
                       pre + "attn.c_attn.bias": (3 * c,), pre + "attn.c_proj.weight": (c, c), pre + "attn.c_proj.bias": (c,),
                       pre + "ln_2.weight": (c,), pre + "ln_2.bias": (c,), pre + "mlp.c_fc.weight": (c, 4 * c),
                       pre + "mlp.c_fc.bias": (4 * c,), pre + "mlp.c_proj.weight": (4 * c, c), pre + "mlp.c_proj.bias": (c,)})
    base = {}
    for name, shape in shapes.items():
        if "ln" in name and name.endswith("weight"):
            base[name] = 1.0 + 0.1 * torch.randn(shape)
        elif name.endswith("bias"):
            base[name] = 0.1 * torch.randn(shape)
        else:
            base[name] = 0.25 * torch.randn(shape)
    os.makedirs(os.path.join(HERE, "base"), exist_ok=True)
    save_safetensors(os.path.join(HERE, "base", "model.safetensors"), base, {"format": "pt"})
    with open(os.path.join(HERE, "base", "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)

    # LoRA "default": r=4, alpha=8 (s=2) on c_attn, mlp.c_fc (Conv1D) and wpe (Embedding); B != 0 so it matters
    r, alpha = 4, 8
    s = alpha / r
    lora = {}
    for i in range(CONFIG["n_layer"]):
        for mod, (n_in, n_out) in {"attn.c_attn": (c, 3 * c), "mlp.c_fc": (c, 4 * c)}.items():
            key = f"base_model.model.transformer.h.{i}.{mod}"
            lora[key + ".lora_A.weight"] = torch.randn(r, n_in) / math.sqrt(n_in)
            lora[key + ".lora_B.weight"] = 0.3 * torch.randn(n_out, r)
    lora["base_model.model.transformer.wpe.lora_embedding_A"] = 0.5 * torch.randn(r, 32)
    lora["base_model.model.transformer.wpe.lora_embedding_B"] = 0.5 * torch.randn(c, r)
    os.makedirs(os.path.join(HERE, "adapter"), exist_ok=True)
    save_safetensors(os.path.join(HERE, "adapter", "adapter_model.safetensors"), lora, {"format": "pt"})
    with open(os.path.join(HERE, "adapter", "adapter_config.json"), "w") as f:
        f.write(json.dumps(hf_lora_config(["c_attn", "mlp.c_fc", "wpe"], r, alpha, False), indent=2, sort_keys=True))

    # DoRA "dora": r=2, alpha=3 on attn.c_proj and mlp.c_proj, magnitudes away from the row norms
    rd, ad = 2, 3
    sd = ad / rd
    dora = {}
    for i in range(CONFIG["n_layer"]):
        for mod, (n_in, n_out) in {"attn.c_proj": (c, c), "mlp.c_proj": (4 * c, c)}.items():
            key = f"base_model.model.transformer.h.{i}.{mod}"
            dora[key + ".lora_A.weight"] = torch.randn(rd, n_in) / math.sqrt(n_in)
            dora[key + ".lora_B.weight"] = 0.3 * torch.randn(n_out, rd)
            dora[key + ".lora_magnitude_vector"] = 1.0 + 0.5 * torch.rand(n_out)
    os.makedirs(os.path.join(HERE, "adapter", "dora"), exist_ok=True)
    save_safetensors(os.path.join(HERE, "adapter", "dora", "adapter_model.safetensors"), dora, {"format": "pt"})
    with open(os.path.join(HERE, "adapter", "dora", "adapter_config.json"), "w") as f:
        f.write(json.dumps(hf_lora_config(["attn.c_proj", "mlp.c_proj"], rd, ad, True), indent=2, sort_keys=True))

    # reference in float64 from the float32 values written above
    p = {k: v.double() for k, v in base.items()}
    l64 = {k: v.double() for k, v in lora.items()}
    d64 = {k: v.double() for k, v in dora.items()}

    def lora_conv(key):
        a, b_ = l64[key + ".lora_A.weight"], l64[key + ".lora_B.weight"]
        return lambda x, y: y + s * (x @ a.T) @ b_.T

    def lora_emb(key):
        a, b_ = l64[key + ".lora_embedding_A"], l64[key + ".lora_embedding_B"]
        return lambda ids, y: y + s * (a.T[ids] @ b_.T)

    def dora_conv(path, key):
        a, b_, m = d64[key + ".lora_A.weight"], d64[key + ".lora_B.weight"], d64[key + ".lora_magnitude_vector"]
        w = p[path + ".weight"]                                  # (in, out)
        lam = m / torch.linalg.norm(w.T + sd * b_ @ a, dim=1)    # (out,)
        return lambda x, y: y + (lam - 1) * (x @ w) + lam * (sd * ((x @ a.T) @ b_.T))

    lora_adapters, dora_adapters = {}, {}
    for i in range(CONFIG["n_layer"]):
        for mod in ("attn.c_attn", "mlp.c_fc"):
            path = f"transformer.h.{i}.{mod}"
            lora_adapters[path] = lora_conv("base_model.model." + path)
        for mod in ("attn.c_proj", "mlp.c_proj"):
            path = f"transformer.h.{i}.{mod}"
            dora_adapters[path] = dora_conv(path, "base_model.model." + path)
    lora_adapters["transformer.wpe"] = lora_emb("base_model.model.transformer.wpe")

    ids = torch.randint(0, CONFIG["vocab_size"], (B, T), dtype=torch.int64)
    expected = {"ids": ids, "logits.base": forward(p, ids, {}), "logits.lora": forward(p, ids, lora_adapters),
                "logits.dora": forward(p, ids, dora_adapters)}
    save_safetensors(os.path.join(HERE, "expected.safetensors"), expected)
    for k in ("logits.lora", "logits.dora"):
        print(k, "max |adapter - base| =", (expected[k] - expected["logits.base"]).abs().max().item())


if __name__ == "__main__":
    main()
