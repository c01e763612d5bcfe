#!/usr/bin/env bash
# Rebuilds the embedded demo model (data/demo-model/) from scratch: generates the synthetic task
# and its word-level tokenizer (seed 42, data/synthetic/settings.json), then trains in three phases
# (docs/training.md, "The embedded demo model"):
#   1. a 2-layer Llama on the option-reading records (experiments/train-demo-reading.yaml);
#   2. grown to 8 layers (added layers near the identity, not at it), every layer trained on the
#      stage records, option-reading records and biographies (experiments/train-demo.yaml);
#   3. two more epochs of the same mix at a low learning rate, from phase 2's best stored in bf16
#      (experiments/train-demo-polish.yaml).
# f32 training. The best phase-3 checkpoint (pipeline accuracy on 100 validation questions) is
# stored in bf16 with its logs, configs and generator settings.
#
#   bash scripts/make-demo-model.sh            # resumes an interrupted run (each phase from its last/)
#   bash scripts/make-demo-model.sh --fresh    # starts over
#
# Takes about 2.5 hours on a quiet 2-core machine; run it in the background (nohup ... &) and keep
# other CPU work off the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/bin/litestage
[[ -x $bin ]] || bash scripts/build.sh --cli-only

if [[ ${1:-} == --fresh ]]; then rm -rf runs/train-demo-reading runs/train-demo-grown runs/train-demo runs/train-demo-phase2 runs/train-demo-polish runs/train-demo*.log; fi
# A phase resumes from its last/ when an earlier invocation left one (a finished phase has nothing to do).
train_phase() {
  local config=$1 dir=$2 log=$3 mode=(--set overwrite=true)
  [[ -d $dir/last ]] && mode=(--resume)
  local start=$SECONDS
  $bin train "$config" "${mode[@]}" 2>&1 | tee -a "$log"
  echo "make-demo-model: $config took $((SECONDS - start)) s in this invocation" | tee -a "$log"
}

$bin synth --out runs/synthetic --settings data/synthetic/settings.json
train_phase experiments/train-demo-reading.yaml runs/train-demo-reading runs/train-demo-reading.log
[[ -d runs/train-demo-grown ]] ||
  $bin convert --model runs/train-demo-reading/last --out runs/train-demo-grown --dtype f32 --layers 8 \
    --grow-output-scale 0.1
train_phase experiments/train-demo.yaml runs/train-demo runs/train-demo.log
[[ -d runs/train-demo-phase2 ]] || $bin convert --model runs/train-demo/best --out runs/train-demo-phase2 --dtype bf16
train_phase experiments/train-demo-polish.yaml runs/train-demo-polish runs/train-demo-polish.log

rm -rf data/demo-model
$bin convert --model runs/train-demo-polish/best --out data/demo-model --dtype bf16
cp runs/train-demo-reading/train_log.jsonl data/demo-model/train_log_reading.jsonl
cp runs/train-demo/train_log.jsonl data/demo-model/train_log.jsonl
cp runs/train-demo-polish/train_log.jsonl data/demo-model/train_log_polish.jsonl
for phase in reading "" polish; do
  log=runs/train-demo${phase:+-$phase}.log
  tr '\r' '\n' < "$log" | grep -v '^train: ' > "data/demo-model/train${phase:+_$phase}.log" || true
done
cp experiments/train-demo-reading.yaml experiments/train-demo.yaml experiments/train-demo-polish.yaml data/demo-model/
cp runs/synthetic/settings.json data/demo-model/synthetic-settings.json
