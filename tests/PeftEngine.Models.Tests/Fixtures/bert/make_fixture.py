"""Writes the BERT parity fixture: a tiny randomly initialised BertForSequenceClassification in plain PyTorch
(no transformers package; the math follows transformers' modeling_bert), its weights in Hugging Face's layout,
and reference values for one padded batch.

Run with a Python that has torch:  python3 make_fixture.py  (writes next to this file)

Files written:
  config.json            BERT config in transformers' field names (3 labels via id2label)
  model.safetensors      float32 weights, keys as HF task checkpoints store them ("bert.encoder.layer.0...",
                         "classifier.weight")
  expected.safetensors   float64 reference values computed from those same float32 weights:
                         inputs "ids", "token_type_ids", "attention_mask", "labels" (int64), "embed_probe";
                         "last_hidden_state" (B, T, C), "pooled" (B, C), "logits" (B, L), "loss" (scalar),
                         "sentence_embedding" (B, C: mean pooling over the mask, then L2 normalisation),
                         "grad.<name>"      gradient of the classification loss for every parameter,
                         "grademb.<name>"   gradient of sum(sentence_embedding * embed_probe) for every encoder
                                            parameter (names without the "bert." prefix; the pooler gets none)
"""
import json
import math
import os
import struct

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIG = {
    "model_type": "bert",
    "architectures": ["BertForSequenceClassification"],
    "vocab_size": 40,
    "hidden_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 24,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 20,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "id2label": {"0": "negative", "1": "neutral", "2": "positive"},
    "label2id": {"negative": 0, "neutral": 1, "positive": 2},
    "torch_dtype": "float32",
}
B, T = 3, 6
LENGTHS = [6, 4, 2]   # real tokens per row; the rest is padding (id 0, mask 0)


class Embeddings(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = torch.nn.Embedding(c["vocab_size"], c["hidden_size"], padding_idx=c["pad_token_id"])
        self.position_embeddings = torch.nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = torch.nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = torch.nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids, types):
        x = self.word_embeddings(ids) + self.token_type_embeddings(types)
        x = x + self.position_embeddings(torch.arange(ids.shape[1]))
        return self.LayerNorm(x)


class SelfAttention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["hidden_size"]
        self.n = c["num_attention_heads"]
        self.query = torch.nn.Linear(h, h)
        self.key = torch.nn.Linear(h, h)
        self.value = torch.nn.Linear(h, h)

    def forward(self, x, ext_mask):
        b, t, ch = x.shape
        hs = ch // self.n
        split = lambda y: y.view(b, t, self.n, hs).permute(0, 2, 1, 3)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hs) + ext_mask
        probs = torch.softmax(scores, dim=-1)
        return (probs @ v).permute(0, 2, 1, 3).contiguous().view(b, t, ch)


class ResidualOutput(torch.nn.Module):
    def __init__(self, c, n_in):
        super().__init__()
        self.dense = torch.nn.Linear(n_in, c["hidden_size"])
        self.LayerNorm = torch.nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class Attention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        setattr(self, "self", SelfAttention(c))
        self.output = ResidualOutput(c, c["hidden_size"])

    def forward(self, x, ext_mask):
        return self.output(getattr(self, "self")(x, ext_mask), x)


class Intermediate(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = torch.nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        y = self.dense(x)
        return 0.5 * y * (1.0 + torch.erf(y / math.sqrt(2.0)))   # exact GELU


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = ResidualOutput(c, c["intermediate_size"])

    def forward(self, x, ext_mask):
        h = self.attention(x, ext_mask)
        return self.output(self.intermediate(h), h)


class Encoder(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = torch.nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])

    def forward(self, x, ext_mask):
        for layer in self.layer:
            x = layer(x, ext_mask)
        return x


class Pooler(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = torch.nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class Bert(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c)

    def forward(self, ids, types, mask):
        dtype = self.embeddings.LayerNorm.weight.dtype
        # the extended attention mask: 0 for tokens, the dtype's minimum for padding, shaped (B, 1, 1, T)
        ext = (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min
        hidden = self.encoder(self.embeddings(ids, types), ext)
        return hidden, self.pooler(hidden)


class BertForSequenceClassification(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bert = Bert(c)
        self.classifier = torch.nn.Linear(c["hidden_size"], len(c["id2label"]))

    def forward(self, ids, types, mask):
        hidden, pooled = self.bert(ids, types, mask)
        return hidden, pooled, self.classifier(pooled)


def sentence_embedding(hidden, mask):
    m = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    return torch.nn.functional.normalize(mean, p=2, dim=1)


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
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    torch.manual_seed(4321)
    model = BertForSequenceClassification(CONFIG)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
            else:
                # larger than BERT's 0.02 so that scores, GELU inputs and tanh are of order one
                p.copy_(0.3 * torch.randn_like(p))
    weights = {name: p.detach().to(torch.float32).clone() for name, p in model.named_parameters()}
    save_safetensors(os.path.join(HERE, "model.safetensors"), weights)
    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")

    ids = torch.randint(1, CONFIG["vocab_size"], (B, T), dtype=torch.int64)   # 0 is padding only
    types = torch.zeros(B, T, dtype=torch.int64)
    mask = torch.zeros(B, T, dtype=torch.int64)
    for row, n in enumerate(LENGTHS):
        mask[row, :n] = 1
        ids[row, n:] = 0
        types[row, n // 2:n] = 1   # a second segment in every row
    labels = torch.tensor([2, 0, 1], dtype=torch.int64)
    probe = torch.randn(B, CONFIG["hidden_size"], dtype=torch.float64)

    model64 = model.double()
    hidden, pooled, logits = model64(ids, types, mask)
    loss = torch.nn.functional.cross_entropy(logits, labels)
    loss.backward()
    expected = {"ids": ids, "token_type_ids": types, "attention_mask": mask, "labels": labels, "embed_probe": probe,
                "last_hidden_state": hidden.detach(), "pooled": pooled.detach(), "logits": logits.detach(),
                "loss": loss.detach()}
    for name, p in model64.named_parameters():
        expected["grad." + name] = p.grad.detach().clone()

    model64.zero_grad()
    hidden, _, _ = model64(ids, types, mask)
    emb = sentence_embedding(hidden, mask)
    (emb * probe).sum().backward()
    expected["sentence_embedding"] = emb.detach()
    for name, p in model64.bert.named_parameters():
        if not name.startswith("pooler."):
            expected["grademb." + name] = p.grad.detach().clone()
    save_safetensors(os.path.join(HERE, "expected.safetensors"), expected)
    print(f"loss {loss.item():.6f}; hidden std {hidden.std().item():.4f}; wrote {len(weights)} weights")


if __name__ == "__main__":
    main()
