#!/usr/bin/env bash
# Pretrains tiny-llama from scratch with PeftEngine and writes config.json, model.safetensors (bf16),
# tokenizer.json, generation_config.json and training_log.jsonl into models/tiny-llama.
# 4000 steps of 16 x 128 tokens = 8.2 M tokens, about 5.6 passes over the 1.46 M-token training text.
# Extra arguments are passed on (e.g. --resume models/tiny-llama/checkpoints after an interruption).
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$root"
dotnet build src/PeftEngine.Cli -c Release -v quiet -nologo
dotnet src/PeftEngine.Cli/bin/Release/net10.0/peft.dll pretrain \
  --config models/tiny-llama/scripts/tiny-llama-config.json \
  --tokenizer models/tiny-llama/tokenizer.json \
  --data models/tiny-llama/data/pretrain-train.txt \
  --valid models/tiny-llama/data/pretrain-valid.txt \
  --out models/tiny-llama \
  --steps 4000 --batch 16 --seq-len 128 --lr 0.002 --warmup 200 --schedule cosine --weight-decay 0.1 --clip 1.0 \
  --eval-every 250 --eval-batches 40 --checkpoint-every 250 --log-every 20 --seed 1234 --save-dtype bf16 \
  "$@"
