"""Writes the GPT-2 parity fixture: a tiny randomly initialised GPT-2 in plain PyTorch (no transformers
package), its weights in Hugging Face's layout, and the logits, loss and parameter gradients of one batch.

Run with a Python that has torch:  python3 make_fixture.py  (writes next to this file)

Files written:
  config.json            GPT-2 config in transformers' field names
  model.safetensors      float32 weights, keys as in HF GPT-2 checkpoints ("h.0.attn.c_attn.weight", "wte.weight")
  expected.safetensors   float64 reference values computed from those same float32 weights:
                         "ids", "labels" (int64), "logits" (B, T, V), "loss" (scalar) and "grad.<name>" for every
                         parameter, under the full GPT2LMHeadModel names ("transformer.h.0.attn.c_attn.weight")
"""
import json
import math
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = {
    "model_type": "gpt2",
    "architectures": ["GPT2LMHeadModel"],
    "vocab_size": 50,
    "n_positions": 32,
    "n_embd": 16,
    "n_layer": 2,
    "n_head": 2,
    "n_inner": None,
    "activation_function": "gelu_new",
    "resid_pdrop": 0.0,
    "embd_pdrop": 0.0,
    "attn_pdrop": 0.0,
    "layer_norm_epsilon": 1e-5,
    "tie_word_embeddings": True,
    "bos_token_id": 49,
    "eos_token_id": 49,
    "torch_dtype": "float32",
}
B, T = 2, 7


def gelu_new(x):
    # tanh approximation of GELU, as GPT-2 was trained with
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Conv1D(torch.nn.Module):
    """Fully connected layer with the weight stored as (in, out): y = x @ W + b."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(n_in, n_out))
        self.bias = torch.nn.Parameter(torch.empty(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class Attention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.n_head = c["n_head"]
        self.c_attn = Conv1D(c["n_embd"], 3 * c["n_embd"])
        self.c_proj = Conv1D(c["n_embd"], c["n_embd"])

    def forward(self, x):
        b, t, ch = x.shape
        hs = ch // self.n_head
        q, k, v = self.c_attn(x).split(ch, dim=2)
        q = q.view(b, t, self.n_head, hs).transpose(1, 2)
        k = k.view(b, t, self.n_head, hs).transpose(1, 2)
        v = v.view(b, t, self.n_head, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        future = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        att = att.masked_fill(future, float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, ch)
        return self.c_proj(y)


class Mlp(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = Conv1D(c["n_embd"], 4 * c["n_embd"])
        self.c_proj = Conv1D(4 * c["n_embd"], c["n_embd"])

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])
        self.attn = Attention(c)
        self.ln_2 = torch.nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])
        self.mlp = Mlp(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Gpt2(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = torch.nn.Embedding(c["vocab_size"], c["n_embd"])
        self.wpe = torch.nn.Embedding(c["n_positions"], c["n_embd"])
        self.h = torch.nn.ModuleList([Block(c) for _ in range(c["n_layer"])])
        self.ln_f = torch.nn.LayerNorm(c["n_embd"], eps=c["layer_norm_epsilon"])

    def forward(self, ids):
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(t))
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        return x @ self.wte.weight.T   # lm_head tied to wte


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


def main():
    torch.manual_seed(1234)
    model = Gpt2(CONFIG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "ln" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif "ln" in name:
                p.copy_(0.1 * torch.randn_like(p))
            else:
                # larger than GPT-2's 0.02 so that attention scores and the GELU inputs are of order one and
                # the comparison is sensitive to the softmax, the scale and the exact activation
                p.copy_(0.25 * torch.randn_like(p) if not name.endswith("bias") else 0.1 * torch.randn_like(p))

    weights = {name: p.detach().to(torch.float32).clone() for name, p in model.named_parameters()}
    save_safetensors(os.path.join(HERE, "model.safetensors"), weights)
    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")

    ids = torch.randint(0, CONFIG["vocab_size"], (B, T), dtype=torch.int64)
    labels = ids.clone()
    labels[0, 3] = -100
    labels[1, 6] = -100

    model64 = model.double()   # reference in float64 from the float32-rounded weights
    logits = model64(ids)
    loss = causal_lm_loss(logits, labels)
    loss.backward()

    expected = {"ids": ids, "labels": labels, "logits": logits.detach(), "loss": loss.detach()}
    for name, p in model64.named_parameters():
        expected["grad.transformer." + name] = p.grad.detach()
    save_safetensors(os.path.join(HERE, "expected.safetensors"), expected)
    print(f"loss {loss.item():.6f}; logits std {logits.std().item():.4f}; wrote {len(weights)} weights")


if __name__ == "__main__":
    main()
