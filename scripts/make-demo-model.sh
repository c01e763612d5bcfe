#!/usr/bin/env bash
# Rebuilds the embedded demo model (data/demo-model/) from scratch: generates the synthetic task
# (seed 42, data/synthetic/settings.json), trains the Llama in two phases on 2 CPU cores
# (experiments/train-demo-reading.yaml: 2 layers, option reading, from scratch; then grown to 8
# layers and trained on the full stage records, experiments/train-demo.yaml), and stores the best
# checkpoint in bf16 with its training logs.
# About 40 minutes on a quiet 2-core machine: keep other CPU work off it while it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bin/litestage
[[ -x $bin ]] || bash scripts/build.sh
$bin synth --out runs/synthetic --settings data/synthetic/settings.json
$bin train experiments/train-demo-reading.yaml --set overwrite=true | tee runs/train-demo-reading.log
$bin convert --model runs/train-demo-reading/last --out runs/train-demo-grown --dtype f32 --layers 8
$bin train experiments/train-demo.yaml --set overwrite=true | tee runs/train-demo.log
$bin convert --model runs/train-demo/best --out data/demo-model --dtype bf16
cp runs/train-demo-reading/train_log.jsonl data/demo-model/train_log_reading.jsonl
cp runs/train-demo-reading.log data/demo-model/train_reading.log
cp runs/train-demo.log data/demo-model/train.log
cp runs/train-demo/train_log.jsonl data/demo-model/train_log.jsonl
cp experiments/train-demo-reading.yaml experiments/train-demo.yaml data/demo-model/
cp runs/synthetic/settings.json data/demo-model/synthetic-settings.json
