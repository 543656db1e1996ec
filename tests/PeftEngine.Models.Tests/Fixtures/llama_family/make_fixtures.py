"""Writes the LLaMA-family parity fixtures: tiny randomly initialised Llama, Qwen2 and Mistral models in plain
PyTorch (no transformers package; the math follows transformers' modeling_llama / modeling_qwen2 /
modeling_mistral), their weights in Hugging Face's layout, and the logits, loss and parameter gradients of one
batch.

Run with a Python that has torch:  python3 make_fixtures.py  (writes the folders llama/, qwen2/, mistral/ here)

Each folder holds:
  config.json            the config in transformers' field names
  model.safetensors      float32 weights under HF names ("model.layers.0.self_attn.q_proj.weight")
  expected.safetensors   "ids", "labels", "attention_mask" (int64), "logits" (B, T, V) and "loss" in float64,
                         and "grad.<name>" (float32) for every parameter; all computed in float64 from the
                         float32-rounded weights

What each case covers:
  llama    grouped-query attention (4 query heads, 2 key/value heads), untied lm_head, llama3 rope scaling
  qwen2    q/k/v biases (no o_proj bias), tied embeddings, 1 key/value head, rope_theta 1e6, right padding
           (attention_mask zeros, labels -100 there)
  mistral  sliding_window 3 over 7 positions, grouped-query attention, untied lm_head
"""
import json
import math
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
B, T = 2, 7

BASE = {
    "vocab_size": 48,
    "hidden_size": 32,
    "intermediate_size": 40,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 64,
    "hidden_act": "silu",
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "attention_dropout": 0.0,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}

CASES = {
    "llama": dict(BASE, model_type="llama", architectures=["LlamaForCausalLM"], tie_word_embeddings=False,
                  attention_bias=False, mlp_bias=False,
                  rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
    "qwen2": dict(BASE, model_type="qwen2", architectures=["Qwen2ForCausalLM"], tie_word_embeddings=True,
                  num_key_value_heads=1, rope_theta=1000000.0, use_sliding_window=False, sliding_window=None,
                  max_window_layers=2),
    "mistral": dict(BASE, model_type="mistral", architectures=["MistralForCausalLM"], tie_word_embeddings=False,
                    sliding_window=3),
}


def inverse_frequencies(c):
    """Rotary inverse frequencies with HF's rope-scaling rules (default and llama3)."""
    dim = c["hidden_size"] // c["num_attention_heads"]
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    rs = c.get("rope_scaling")
    if rs is None:
        return inv
    assert rs["rope_type"] == "llama3"
    factor, lo, hi, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    low_freq_wavelen, high_freq_wavelen = old / lo, old / hi
    wavelen = 2 * math.pi / inv
    scaled = torch.where(wavelen > low_freq_wavelen, inv / factor, inv)
    smooth = (old / wavelen - lo) / (hi - lo)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= high_freq_wavelen) & (wavelen <= low_freq_wavelen)
    return torch.where(medium, smoothed, scaled)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class RmsNorm(torch.nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


class Attention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.h, self.hkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.d = c["hidden_size"] // self.h
        qkv_bias = c["model_type"] == "qwen2" or c.get("attention_bias", False)
        o_bias = c["model_type"] != "qwen2" and c.get("attention_bias", False)
        self.q_proj = torch.nn.Linear(c["hidden_size"], self.h * self.d, bias=qkv_bias)
        self.k_proj = torch.nn.Linear(c["hidden_size"], self.hkv * self.d, bias=qkv_bias)
        self.v_proj = torch.nn.Linear(c["hidden_size"], self.hkv * self.d, bias=qkv_bias)
        self.o_proj = torch.nn.Linear(self.h * self.d, c["hidden_size"], bias=o_bias)

    def forward(self, x, cos, sin, mask):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.h, self.d).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.hkv, self.d).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.hkv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        groups = self.h // self.hkv
        k = k.repeat_interleave(groups, dim=1)     # repeat_kv
        v = v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(self.d) + mask
        probs = torch.softmax(scores, dim=-1)
        y = (probs @ v).transpose(1, 2).reshape(b, t, self.h * self.d)
        return self.o_proj(y)


class Mlp(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = torch.nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.up_proj = torch.nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.down_proj = torch.nn.Linear(c["intermediate_size"], c["hidden_size"], bias=False)

    def forward(self, x):
        return self.down_proj(torch.nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.mlp = Mlp(c)
        self.input_layernorm = RmsNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RmsNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x, cos, sin, mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RmsNorm(c["hidden_size"], c["rms_norm_eps"])


class CausalLm(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.model = Body(c)
        if not c["tie_word_embeddings"]:
            self.lm_head = torch.nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, ids, attention_mask):
        b, t = ids.shape
        dtype = self.model.embed_tokens.weight.dtype
        # rotary tables: emb = cat(freqs, freqs), positions 0 .. T-1
        freqs = torch.arange(t, dtype=torch.float64)[:, None] * inverse_frequencies(self.c)[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
        # 4-d mask (B, 1, T, T): causal, sliding window, padded keys; masked entries get the dtype's minimum
        i = torch.arange(t)[:, None]
        j = torch.arange(t)[None, :]
        allowed = (j <= i)
        if self.c.get("sliding_window") and (self.c["model_type"] == "mistral" or self.c.get("use_sliding_window")):
            allowed = allowed & (j > i - self.c["sliding_window"])
        allowed = allowed[None, None] & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(b, 1, t, t, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin, mask)
        x = self.model.norm(x)
        head = self.model.embed_tokens.weight if self.c["tie_word_embeddings"] else self.lm_head.weight
        return x @ head.T


def causal_lm_loss(logits, labels):
    shift_logits = logits[:, :-1, :].reshape(-1, logits.shape[-1])
    shift_labels = labels[:, 1:].reshape(-1)
    return torch.nn.functional.cross_entropy(shift_logits, shift_labels, ignore_index=-100)


def save_safetensors(path, tensors):
    names = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)   # pad so the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def make(name, c, seed):
    torch.manual_seed(seed)
    model = CausalLm(c)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "layernorm" in pname or pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif pname.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                # large enough that attention scores and SiLU inputs are of order one
                p.copy_(0.3 * torch.randn_like(p))
    folder = os.path.join(HERE, name)
    os.makedirs(folder, exist_ok=True)
    weights = {n: p.detach().to(torch.float32).clone() for n, p in model.named_parameters()}
    save_safetensors(os.path.join(folder, "model.safetensors"), weights)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")

    ids = torch.randint(0, c["vocab_size"], (B, T), dtype=torch.int64)
    attention_mask = torch.ones(B, T, dtype=torch.int64)
    labels = ids.clone()
    labels[0, 3] = -100
    if name == "qwen2":
        attention_mask[1, 5:] = 0     # right padding in the second row
        labels[1, 5:] = -100

    model64 = model.double()          # reference in float64 from the float32-rounded weights
    logits = model64(ids, attention_mask)
    loss = causal_lm_loss(logits, labels)
    loss.backward()
    expected = {"ids": ids, "labels": labels, "attention_mask": attention_mask, "logits": logits.detach(),
                "loss": loss.detach()}
    for pname, p in model64.named_parameters():
        expected["grad." + pname] = p.grad.detach().to(torch.float32)
    save_safetensors(os.path.join(folder, "expected.safetensors"), expected)
    print(f"{name}: loss {loss.item():.6f}; logits std {logits.std().item():.4f}; {len(weights)} tensors")


def main():
    for k, (name, c) in enumerate(CASES.items()):
        make(name, c, 100 + k)


if __name__ == "__main__":
    main()
