"""Writes the prompt-learning interop fixture on the tiny LLaMA of the LoRA fixture (../llama_lora/base: grouped-query
attention with 4 query and 2 key/value heads, llama3 rope scaling): a PREFIX_TUNING and a PROMPT_TUNING adapter in
the files HF PEFT 0.20 writes, and the reference logits and losses from plain PyTorch math (no peft or transformers
package), following what PEFT hands to transformers:

* prefix tuning: prompt_embeddings (n, L*2*token_dim) with token_dim = hidden / heads * kv_heads (PEFT's GQA rule);
  get_prompt views it as (B, n, 2L, kv_heads, D), permutes to (2L, B, kv_heads, n, D) and splits in pairs, so layer
  l's keys are slot 2l and its values slot 2l+1. transformers uses them as past_key_values: stored keys get no
  rotary, the tokens' positions (cache_position) start at n, the attention mask is widened by n ones.
* prompt tuning: the n rows go in front of the token embeddings (inputs_embeds), positions 0 .. n+T-1, the mask is
  widened by n ones and the labels by n times -100.

Run with a Python that has torch:  /usr/bin/python3 make_fixture.py  (writes next to this file)
Files: prefix/{adapter_config.json, adapter_model.safetensors}, prompt/{...}, expected.safetensors (float64
"logits.prefix" (B, T, V), "logits.prompt" (B, n+T, V), "loss.prefix", "loss.prompt"; int64 "ids", "mask").
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "llama_lora"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "PeftEngine.Models.Tests", "Fixtures", "llama_family"))
import make_fixture as lora_fixture  # noqa: E402  (safetensors helpers)
import make_fixtures as family  # noqa: E402  (the plain-PyTorch LLaMA)

N_PREFIX, N_PROMPT = 3, 4


def common_fields(c, n, token_dim, heads):
    return {
        "auto_mapping": None, "base_model_name_or_path": "tiny-llama", "inference_mode": True, "modules_to_save": None,
        "num_attention_heads": heads, "num_layers": c["num_hidden_layers"], "num_transformer_submodules": 1,
        "num_virtual_tokens": n, "peft_version": "0.20.0", "revision": None, "task_type": "CAUSAL_LM", "token_dim": token_dim,
    }


def forward(model, c, embeds, mask, prefix=None):
    """Logits of the plain-PyTorch LLaMA for input embeddings (B, T, C), a (B, P + T) mask and an optional list of
    per-layer (keys, values), each (B, Hkv, P, D), used as a cache: no rotary on them, positions from P on."""
    b, t, _ = embeds.shape
    p = 0 if prefix is None else prefix[0][0].shape[2]
    dtype = embeds.dtype
    freqs = torch.arange(p, p + t, dtype=torch.float64)[:, None] * family.inverse_frequencies(c)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
    i = torch.arange(p, p + t)[:, None]
    j = torch.arange(p + t)[None, :]
    allowed = (j <= i)[None, None] & mask[:, None, None, :].bool()
    additive = torch.zeros(b, 1, t, p + t, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    x = embeds
    for li, layer in enumerate(model.model.layers):
        attn = layer.self_attn
        h = layer.input_layernorm(x)
        q = attn.q_proj(h).view(b, t, attn.h, attn.d).transpose(1, 2)
        k = attn.k_proj(h).view(b, t, attn.hkv, attn.d).transpose(1, 2)
        v = attn.v_proj(h).view(b, t, attn.hkv, attn.d).transpose(1, 2)
        q = q * cos + family.rotate_half(q) * sin
        k = k * cos + family.rotate_half(k) * sin
        if prefix is not None:
            k = torch.cat((prefix[li][0], k), dim=2)
            v = torch.cat((prefix[li][1], v), dim=2)
        groups = attn.h // attn.hkv
        k = k.repeat_interleave(groups, dim=1)
        v = v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(attn.d) + additive
        y = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, attn.h * attn.d)
        x = x + attn.o_proj(y)
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    x = model.model.norm(x)
    return x @ model.lm_head.weight.T


def loss(logits, labels):
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)


def write_adapter(name, config, embeddings):
    os.makedirs(os.path.join(HERE, name), exist_ok=True)
    lora_fixture.save_safetensors(os.path.join(HERE, name, "adapter_model.safetensors"), {"prompt_embeddings": embeddings}, {"format": "pt"})
    with open(os.path.join(HERE, name, "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))


def main():
    torch.manual_seed(2104)
    base = os.path.join(HERE, "..", "llama_lora", "base")
    with open(os.path.join(base, "config.json")) as f:
        c = json.load(f)
    model = family.CausalLm(c)
    model.load_state_dict(lora_fixture.load_safetensors(os.path.join(base, "model.safetensors")))
    model = model.double()
    layers, heads, kv = c["num_hidden_layers"], c["num_attention_heads"], c["num_key_value_heads"]
    hidden = c["hidden_size"]
    token_dim = hidden // heads * kv

    prefix_table = 0.7 * torch.randn(N_PREFIX, layers * 2 * token_dim)
    prefix_config = dict(common_fields(c, N_PREFIX, token_dim, kv), peft_type="PREFIX_TUNING", encoder_hidden_size=token_dim,
                         prefix_projection=False, init_weights=None)
    write_adapter("prefix", prefix_config, prefix_table)
    prompt_table = 0.5 * torch.randn(N_PROMPT, hidden)
    prompt_config = dict(common_fields(c, N_PROMPT, hidden, heads), peft_type="PROMPT_TUNING", prompt_tuning_init="RANDOM",
                         prompt_tuning_init_text=None, tokenizer_kwargs=None, tokenizer_name_or_path=None)
    write_adapter("prompt", prompt_config, prompt_table)

    ids = torch.randint(0, c["vocab_size"], (2, 6), dtype=torch.int64)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0                                   # row 1 left-padded by two
    labels = ids.masked_fill(mask == 0, -100)
    labels[1, 2] = -100   # predicted from a padded query, whose output is meaningless (and differs by design, see AttentionMasks)
    b = ids.shape[0]
    with torch.no_grad():
        embeds = model.model.embed_tokens(ids)
        # prefix tuning: get_prompt's view/permute/split
        pkv = prefix_table.double().repeat(b, 1, 1).view(b, N_PREFIX, layers * 2, kv, hidden // heads)
        pkv = pkv.permute([2, 0, 3, 1, 4]).split(2)
        prefix = [(pair[0], pair[1]) for pair in pkv]
        wide = torch.cat((torch.ones(b, N_PREFIX, dtype=mask.dtype), mask), dim=1)
        logits_prefix = forward(model, c, embeds, wide, prefix)
        # prompt tuning: virtual tokens in front of the embeddings, labels widened by -100
        prompts = prompt_table.double().repeat(b, 1, 1)
        wide = torch.cat((torch.ones(b, N_PROMPT, dtype=mask.dtype), mask), dim=1)
        logits_prompt = forward(model, c, torch.cat((prompts, embeds), dim=1), wide)
        wide_labels = torch.cat((torch.full((b, N_PROMPT), -100, dtype=torch.int64), labels), dim=1)
        loss_prefix, loss_prompt = loss(logits_prefix, labels), loss(logits_prompt, wide_labels)
        base_logits = model(ids, mask)
    lora_fixture.save_safetensors(os.path.join(HERE, "expected.safetensors"), {
        "ids": ids, "mask": mask, "labels": labels, "logits.prefix": logits_prefix, "logits.prompt": logits_prompt,
        "loss.prefix": loss_prefix.reshape(1), "loss.prompt": loss_prompt.reshape(1)})
    print("max |prefix - base| =", (logits_prefix - base_logits).abs().max().item(), " loss prefix", loss_prefix.item(), " prompt", loss_prompt.item())


if __name__ == "__main__":
    main()
