"""Writes the DoRA fixture for an Embedding and a Conv2d: a base checkpoint, one adapter in the files HF PEFT 0.20
writes, and the outputs and merged weights computed by plain PyTorch math (no peft package is needed).

Run with a Python that has torch:  /usr/bin/python3 make_fixture.py  (writes next to this file)

Model: emb = Embedding(7, 4), conv = Conv2d(3, 4, kernel 3, padding 1, bias). Adapter: r = 2, alpha = 3 (s = 1.5),
use_dora on ["emb", "conv"], factors and magnitudes as after some training (B != 0, m != its initial norm).

Files written:
  base.safetensors                          "emb.weight" (7, 4), "conv.weight" (4, 3, 3, 3), "conv.bias" (4)
  adapter/adapter_config.json               every field HF PEFT 0.20's LoraConfig writes
  adapter/adapter_model.safetensors         "base_model.model.emb.lora_embedding_A" (2, 7), "...emb.lora_embedding_B" (4, 2),
                                            "...emb.lora_magnitude_vector" (4), "...conv.lora_A.weight" (2, 3, 3, 3),
                                            "...conv.lora_B.weight" (4, 2, 1, 1), "...conv.lora_magnitude_vector" (1, 4, 1, 1)
  expected.safetensors                      float64: "ids", "emb.out", "emb.merged", "emb.norm", "x", "conv.out",
                                            "conv.merged", "conv.norm"

DoRA math as HF PEFT computes it (peft.tuners.lora.dora.DoraEmbeddingLayer / _DoraConvNdLayer):
  Embedding (treated as fan_in_fan_out): V = E.T + s * B @ A  (dim, num);  lam = m / ||V||_row  (dim)
                                         y = lam * E[ids] + lam * s * A.T[ids] @ B.T
  Conv2d: V = W + s * (B.flatten(1) @ A.flatten(1)).reshape(W.shape);  n = ||V|| over dims (1, 2, 3), (1, O, 1, 1)
          lam = m / n;  y = conv(x, W, b) + (lam - 1) * conv(x, W) + lam * s * conv1x1(conv(x, A), B)
  Merged weights: emb  (E + s * (B @ A).T) * lam[None, :];   conv  (W + s * ΔW) * lam.view(-1, 1, 1, 1)
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gpt2_lora"))
from make_fixture import hf_lora_config, save_safetensors  # noqa: E402

R, ALPHA = 2, 3
S = ALPHA / R


def main():
    g = torch.Generator().manual_seed(20240209)

    def randn(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g) * scale).float()

    emb_w = randn(7, 4)
    conv_w = randn(4, 3, 3, 3, scale=0.3)
    conv_b = randn(4, scale=0.1)
    emb_a = randn(R, 7, scale=0.5)           # lora_embedding_A (r, num)
    emb_b = randn(4, R, scale=0.5)           # lora_embedding_B (dim, r)
    conv_a = randn(R, 3, 3, 3, scale=0.3)    # lora_A.weight (r, C, kh, kw)
    conv_b_w = randn(4, R, 1, 1, scale=0.3)  # lora_B.weight (O, r, 1, 1)

    d = torch.float64
    E, A, Bm = emb_w.to(d), emb_a.to(d), emb_b.to(d)
    V = E.T + S * Bm @ A                                          # (dim, num)
    emb_norm = V.norm(p=2, dim=1)                                  # (dim)
    emb_m = (emb_norm * (1 + 0.2 * torch.randn(4, generator=g, dtype=d))).float()   # trained magnitude
    W, b, CA, CB = conv_w.to(d), conv_b.to(d), conv_a.to(d), conv_b_w.to(d)
    dW = (CB.flatten(1) @ CA.flatten(1)).reshape(W.shape)
    Vc = W + S * dW
    conv_norm = Vc.norm(p=2, dim=(1, 2, 3), keepdim=True).transpose(1, 0)                # (1, O, 1, 1)
    conv_m = (conv_norm * (1 + 0.2 * torch.randn(1, 4, 1, 1, generator=g, dtype=d))).float()

    ids = torch.tensor([[0, 3, 6, 3, 1], [5, 2, 2, 4, 0]], dtype=torch.int64)
    x = torch.randn(2, 3, 5, 5, generator=g, dtype=d).float()

    lam_e = emb_m.to(d) / emb_norm
    emb_out = lam_e * F.embedding(ids, E) + lam_e * S * (F.embedding(ids, A.T) @ Bm.T)
    emb_merged = (E + S * (Bm @ A).T) * lam_e[None, :]
    assert torch.allclose(F.embedding(ids, emb_merged), emb_out, atol=1e-12)

    xd = x.to(d)
    lam_c = conv_m.to(d) / conv_norm
    base = F.conv2d(xd, W, b, padding=1)
    lora = F.conv2d(F.conv2d(xd, CA, None, padding=1), CB) * S
    conv_out = base + (lam_c - 1) * F.conv2d(xd, W, None, padding=1) + lam_c * lora
    conv_merged = Vc * lam_c.reshape(-1, 1, 1, 1)
    assert torch.allclose(F.conv2d(xd, conv_merged, b, padding=1), conv_out, atol=1e-12)

    save_safetensors(os.path.join(HERE, "base.safetensors"), {"emb.weight": emb_w, "conv.weight": conv_w, "conv.bias": conv_b})
    os.makedirs(os.path.join(HERE, "adapter"), exist_ok=True)
    config = hf_lora_config(["emb", "conv"], R, ALPHA, True)
    config.update({"fan_in_fan_out": False, "task_type": None, "base_model_name_or_path": None})
    with open(os.path.join(HERE, "adapter", "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))
    p = "base_model.model."
    save_safetensors(os.path.join(HERE, "adapter", "adapter_model.safetensors"), {
        p + "conv.lora_A.weight": conv_a, p + "conv.lora_B.weight": conv_b_w, p + "conv.lora_magnitude_vector": conv_m,
        p + "emb.lora_embedding_A": emb_a, p + "emb.lora_embedding_B": emb_b, p + "emb.lora_magnitude_vector": emb_m,
    }, {"format": "pt"})
    save_safetensors(os.path.join(HERE, "expected.safetensors"), {
        "ids": ids, "emb.out": emb_out, "emb.merged": emb_merged, "emb.norm": emb_norm,
        "x": x.to(d), "conv.out": conv_out, "conv.merged": conv_merged, "conv.norm": conv_norm,
    })
    print("max |lam - 1|: emb", (lam_e - 1).abs().max().item(), "conv", (lam_c - 1).abs().max().item())


if __name__ == "__main__":
    main()
