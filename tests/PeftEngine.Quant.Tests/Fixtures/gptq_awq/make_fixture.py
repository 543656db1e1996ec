"""GPTQ and AWQ fixtures: weights quantized to integers here, packed into the AutoGPTQ and AutoAWQ (GEMM) layouts,
and the dequantized matrices computed from the integers (never by unpacking the packed words).

Run with numpy only:  /usr/bin/python3 make_fixture.py   (writes the files next to this script)

Files:
  cases.json             one entry per matrix case: method, bits, group_size, checkpoint_format, in/out features
  matrices.safetensors   "<case>.qweight", "<case>.qzeros", "<case>.scales", "<case>.g_idx" (GPTQ only) as a
                         checkpoint stores them, and "<case>.expected": the dequantized weight, float32, shape
                         (out, in) as nn.Linear.weight holds it
  llama_gptq/            a tiny LLaMA saved as a GPTQ checkpoint (4 bits, group 16, act-order, asymmetric, v1 zeros)
  llama_awq/             the same kind of model saved as an AWQ GEMM checkpoint (4 bits, group 16)
  gpt2_gptq/             a one-layer GPT-2 saved as a GPTQ checkpoint (4 bits, group 16, symmetric): Conv1D layers
  llama_gptq_reference/, llama_awq_reference/, gpt2_gptq_reference/
                         the same models as plain float32 checkpoints holding the expected dequantized weights

Layouts (in = K input features, out = N output features, b bits, g group size, G = ceil(K / g) groups):
  GPTQ  qweight int32 (K*b/32, N): value j of word [r, n] (bits b*j ..) is q[k = r*32/b + j, n]
        qzeros  int32 (G, N*b/32): value j of word [grp, c] is the zero of column c*32/b + j, stored minus one in
                "gptq" (v1) checkpoints and as is in "gptq_v2" ones
        scales  float16 (G, N); g_idx int32 (K): the group of input k (k // g, or permuted with act-order)
        W[k, n] = scales[g_idx[k], n] * (q[k, n] - zero[g_idx[k], n])
  AWQ   qweight int32 (K, N/8): nibble i of word [k, c] is q[k, 8c + ORDER[i]], ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
        qzeros  int32 (G, N/8): the same interleave, true zeros; scales float16 (G, N)
        W[k, n] = scales[k // g, n] * (q[k, n] - zero[k // g, n])
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def save_safetensors(path, tensors):
    names = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int32): "I32", np.dtype(np.int64): "I64"}
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = np.ascontiguousarray(t)
        data = t.astype(t.dtype.newbyteorder("<")).tobytes()
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


def pack_words(values, bits, axis, order=None):
    """Packs non-negative integers 32/bits to an int32 word along `axis` (0: rows, 1: columns); slot i of a word
    holds element order[i] of its run (order = identity unless given)."""
    per = 32 // bits
    v = np.asarray(values, dtype=np.uint64)
    if axis == 1:
        v = v.T
    assert v.shape[0] % per == 0
    order = order or list(range(per))
    words = np.zeros((v.shape[0] // per, v.shape[1]), dtype=np.uint64)
    for i in range(per):
        words |= v[np.arange(words.shape[0]) * per + order[i]] << np.uint64(bits * i)
    words = (words & np.uint64(0xFFFFFFFF)).astype(np.uint32).view(np.int32)
    return words.T.copy() if axis == 1 else words


def gptq_quantize(w, bits, group, sym, act_order, rng, force_zero_group=False):
    """AutoGPTQ-style min/max quantization of w (N, K). Returns q (N, K), zeros (G, N), fp16 scales (G, N), g_idx (K)."""
    n_out, k_in = w.shape
    g = k_in if group == -1 else group
    maxq = 2 ** bits - 1
    groups = (k_in + g - 1) // g
    perm = rng.permutation(k_in) if act_order else np.arange(k_in)
    g_idx = np.empty(k_in, dtype=np.int32)
    g_idx[perm] = np.arange(k_in) // g            # the i-th input in quantization order belongs to group i // g
    if force_zero_group:                          # one group of column 0 entirely non-negative: its zero is 0
        w[0, g_idx == 0] = np.abs(w[0, g_idx == 0])
    q = np.zeros((n_out, k_in), dtype=np.int64)
    zeros = np.zeros((groups, n_out), dtype=np.int64)
    scales = np.zeros((groups, n_out), dtype=np.float16)
    for grp in range(groups):
        cols = np.where(g_idx == grp)[0]
        x = w[:, cols].astype(np.float64)
        xmin = np.minimum(x.min(1), 0.0)
        xmax = np.maximum(x.max(1), 0.0)
        if sym:
            xmax = np.maximum(np.abs(xmin), xmax)
            xmin = np.where(xmin < 0, -xmax, xmin)
        scale = (xmax - xmin) / maxq
        zero = np.full(n_out, (maxq + 1) // 2) if sym else np.round(-xmin / scale).astype(np.int64)
        s16 = scale.astype(np.float16)
        scales[grp] = s16
        zeros[grp] = zero
        q[:, cols] = np.clip(np.round(x / s16.astype(np.float64)[:, None]) + zero[:, None], 0, maxq)
    expected = scales.astype(np.float64)[g_idx].T * (q - zeros[g_idx].T)
    return q, zeros, scales, g_idx, expected.astype(np.float32)


def gptq_tensors(q, zeros, scales, g_idx, bits, fmt):
    stored = zeros - 1 if fmt == "gptq" else zeros
    assert stored.min() >= 0, "a v1 checkpoint cannot store a zero of 0"
    return {"qweight": pack_words(q.T, bits, axis=0), "qzeros": pack_words(stored, bits, axis=1),
            "scales": scales, "g_idx": g_idx}


def awq_quantize(w, group):
    """AutoAWQ-style asymmetric quantization of w (N, K) in contiguous input groups."""
    n_out, k_in = w.shape
    groups = k_in // group
    q = np.zeros((n_out, k_in), dtype=np.int64)
    zeros = np.zeros((groups, n_out), dtype=np.int64)
    scales = np.zeros((groups, n_out), dtype=np.float16)
    for grp in range(groups):
        x = w[:, grp * group:(grp + 1) * group].astype(np.float64)
        scale = np.maximum(x.max(1) - x.min(1), 1e-5) / 15
        s16 = scale.astype(np.float16)
        zero = np.clip(-np.round(x.min(1) / s16.astype(np.float64)), 0, 15).astype(np.int64)
        scales[grp], zeros[grp] = s16, zero
        q[:, grp * group:(grp + 1) * group] = np.clip(np.round(x / s16.astype(np.float64)[:, None]) + zero[:, None], 0, 15)
    g_of = np.arange(k_in) // group
    expected = scales.astype(np.float64)[g_of].T * (q - zeros[g_of].T)
    return q, zeros, scales, expected.astype(np.float32)


def awq_tensors(q, zeros, scales):
    return {"qweight": pack_words(q.T, 4, axis=1, order=AWQ_ORDER), "qzeros": pack_words(zeros, 4, axis=1, order=AWQ_ORDER),
            "scales": scales}


CASES = [
    dict(name="gptq_4bit_v1_sym", method="gptq", bits=4, group_size=16, checkpoint_format="gptq", sym=True, desc_act=False, k=64, n=48),
    dict(name="gptq_4bit_v1_asym_actorder", method="gptq", bits=4, group_size=16, checkpoint_format="gptq", sym=False, desc_act=True, k=64, n=32),
    dict(name="gptq_4bit_v2_asym", method="gptq", bits=4, group_size=32, checkpoint_format="gptq_v2", sym=False, desc_act=False, k=64, n=32),
    dict(name="gptq_8bit_v1_asym_actorder", method="gptq", bits=8, group_size=32, checkpoint_format="gptq", sym=False, desc_act=True, k=64, n=24),
    dict(name="gptq_2bit_v1_sym", method="gptq", bits=2, group_size=16, checkpoint_format="gptq", sym=True, desc_act=False, k=64, n=32),
    dict(name="gptq_4bit_v1_one_group", method="gptq", bits=4, group_size=-1, checkpoint_format="gptq", sym=False, desc_act=False, k=48, n=16),
    dict(name="awq_4bit_g32", method="awq", bits=4, group_size=32, k=64, n=48),
    dict(name="awq_4bit_g16", method="awq", bits=4, group_size=16, k=32, n=16),
]


def matrices(rng):
    out = {}
    for c in CASES:
        w = (0.5 * rng.standard_normal((c["n"], c["k"]))).astype(np.float32)
        if c["method"] == "gptq":
            q, z, s, g_idx, expected = gptq_quantize(w, c["bits"], c["group_size"], c["sym"], c["desc_act"], rng,
                                                     force_zero_group=c["checkpoint_format"] == "gptq_v2")
            tensors = gptq_tensors(q, z, s, g_idx, c["bits"], c["checkpoint_format"])
        else:
            q, z, s, expected = awq_quantize(w, c["group_size"])
            tensors = awq_tensors(q, z, s)
        for key, t in tensors.items():
            out[f"{c['name']}.{key}"] = t
        out[f"{c['name']}.expected"] = expected
    save_safetensors(os.path.join(HERE, "matrices.safetensors"), out)
    with open(os.path.join(HERE, "cases.json"), "w") as f:
        json.dump([{k: v for k, v in c.items()} for c in CASES], f, indent=1)
        f.write("\n")


LLAMA = {
    "vocab_size": 48, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "num_key_value_heads": 2, "max_position_embeddings": 64, "hidden_act": "silu", "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0, "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2, "model_type": "llama",
    "architectures": ["LlamaForCausalLM"], "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False,
}
GPTQ_CONFIG = {"bits": 4, "group_size": 16, "damp_percent": 0.01, "desc_act": True, "static_groups": False, "sym": False,
               "true_sequential": True, "model_name_or_path": None, "model_file_base_name": "model",
               "quant_method": "gptq", "checkpoint_format": "gptq"}
AWQ_CONFIG = {"quant_method": "awq", "zero_point": True, "group_size": 16, "bits": 4, "version": "gemm",
              "modules_to_not_convert": None}


def llama_shapes(c):
    h, i, d = c["hidden_size"], c["intermediate_size"], c["hidden_size"] // c["num_attention_heads"]
    kv = c["num_key_value_heads"] * d
    plain = {"model.embed_tokens.weight": (c["vocab_size"], h), "model.norm.weight": (h,), "lm_head.weight": (c["vocab_size"], h)}
    linear = {}
    for layer in range(c["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        plain[p + "input_layernorm.weight"] = (h,)
        plain[p + "post_attention_layernorm.weight"] = (h,)
        for name, shape in [("self_attn.q_proj", (h, h)), ("self_attn.k_proj", (kv, h)), ("self_attn.v_proj", (kv, h)),
                            ("self_attn.o_proj", (h, h)), ("mlp.gate_proj", (i, h)), ("mlp.up_proj", (i, h)),
                            ("mlp.down_proj", (h, i))]:
            linear[p + name] = shape
    return plain, linear


def write_pair(folder, config, quantization, stored, reference):
    """Writes <folder>/ (the packed checkpoint, float16 elsewhere) and <folder>_reference/ (plain float32)."""
    for name, tensors, extra in [(folder, stored, {"torch_dtype": "float16", "quantization_config": quantization}),
                                 (folder + "_reference", reference, {"torch_dtype": "float32"})]:
        path = os.path.join(HERE, name)
        os.makedirs(path, exist_ok=True)
        save_safetensors(os.path.join(path, "model.safetensors"), dict(sorted(tensors.items())))
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump(dict(config, **extra), f, indent=2)
            f.write("\n")


def llama(method, rng):
    plain, linear = llama_shapes(LLAMA)
    stored, reference = {}, {}
    for name, shape in plain.items():
        if name.endswith("norm.weight"):
            v = 1.0 + 0.1 * rng.standard_normal(shape)
        else:
            v = 0.3 * rng.standard_normal(shape)
        v16 = v.astype(np.float16)                 # checkpoints keep the unquantized tensors in float16
        stored[name] = v16
        reference[name] = v16.astype(np.float32)
    for prefix, shape in linear.items():
        w = (0.3 * rng.standard_normal(shape)).astype(np.float32)
        if method == "gptq":
            q, z, s, g_idx, expected = gptq_quantize(w, 4, 16, False, True, rng)
            tensors = gptq_tensors(q, z, s, g_idx, 4, "gptq")
        else:
            q, z, s, expected = awq_quantize(w, 16)
            tensors = awq_tensors(q, z, s)
        for key, t in tensors.items():
            stored[f"{prefix}.{key}"] = t
        reference[prefix + ".weight"] = expected
    write_pair(f"llama_{method}", LLAMA, GPTQ_CONFIG if method == "gptq" else AWQ_CONFIG, stored, reference)


GPT2 = {
    "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 48, "n_positions": 32, "n_embd": 32,
    "n_layer": 1, "n_head": 4, "n_inner": None, "activation_function": "gelu_new", "resid_pdrop": 0.0,
    "embd_pdrop": 0.0, "attn_pdrop": 0.0, "layer_norm_epsilon": 1e-05, "tie_word_embeddings": True,
    "bos_token_id": 47, "eos_token_id": 47,
}


def gpt2(rng):
    """A one-layer GPT-2 whose Conv1D layers are GPTQ-packed. Conv1D.weight is (in, out); GPTQ packs the same
    (in, out) matrix, so the reference Conv1D weight is the expected (out, in) matrix transposed."""
    e, v, p = GPT2["n_embd"], GPT2["vocab_size"], GPT2["n_positions"]
    stored, reference = {}, {}
    plain = {"transformer.wte.weight": (v, e), "transformer.wpe.weight": (p, e)}
    for ln in ["transformer.h.0.ln_1", "transformer.h.0.ln_2", "transformer.ln_f"]:
        plain[ln + ".weight"] = (e,)
        plain[ln + ".bias"] = (e,)
    conv = {"transformer.h.0.attn.c_attn": (e, 3 * e), "transformer.h.0.attn.c_proj": (e, e),
            "transformer.h.0.mlp.c_fc": (e, 4 * e), "transformer.h.0.mlp.c_proj": (4 * e, e)}
    for name, (k_in, n_out) in conv.items():
        plain[name + ".bias"] = (n_out,)
    for name, shape in plain.items():
        base = 1.0 if name.endswith("weight") and ".ln" in name else 0.0
        v16 = (base + (0.1 if ".ln" in name or name.endswith("bias") else 0.3) * rng.standard_normal(shape)).astype(np.float16)
        stored[name] = v16
        reference[name] = v16.astype(np.float32)
    for name, (k_in, n_out) in conv.items():
        w = (0.3 * rng.standard_normal((n_out, k_in))).astype(np.float32)
        q, z, s, g_idx, expected = gptq_quantize(w, 4, 16, True, False, rng)
        for key, t in gptq_tensors(q, z, s, g_idx, 4, "gptq").items():
            stored[f"{name}.{key}"] = t
        reference[name + ".weight"] = np.ascontiguousarray(expected.T)
    write_pair("gpt2_gptq", GPT2, dict(GPTQ_CONFIG, desc_act=False, sym=True), stored, reference)


def main():
    rng = np.random.default_rng(20261129)
    matrices(rng)
    llama("gptq", rng)
    llama("awq", rng)
    gpt2(rng)


if __name__ == "__main__":
    main()
