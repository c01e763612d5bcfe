#!/usr/bin/env bash
# Rebuilds the embedded demo model (data/demo-model/) from scratch: generates the synthetic task
# (seed 42), trains the 8-layer Llama of experiments/train-demo.yaml on 2 CPU cores, and stores
# the best checkpoint in bf16 with its training log. About 25-30 minutes on a quiet 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bin/litestage
[[ -x $bin ]] || bash scripts/build.sh
$bin synth --out runs/synthetic
$bin train experiments/train-demo.yaml --set overwrite=true | tee runs/train-demo.log
$bin convert --model runs/train-demo/best --out data/demo-model --dtype bf16
cp runs/train-demo/train_log.jsonl data/demo-model/train_log.jsonl
cp experiments/train-demo.yaml data/demo-model/train-demo.yaml
cp runs/synthetic/settings.json data/demo-model/synthetic-settings.json
