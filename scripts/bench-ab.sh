#!/usr/bin/env bash
# Two settings of one experiment, side by side: `litestage eval` with --set A, then with --set B,
# alternately for --rounds rounds (so drift in the machine's load hits both), each in its own
# output directory. Prints per round the wall time, the mean seconds per question (all stages and
# Analyze) and prefilled tokens per question from each summary, then the medians, their spread
# (min-max) and the ratio A/B of the medians. Accuracy must match when the settings claim exactness.
#
#   bash scripts/bench-ab.sh experiments/demo.yaml runtime.prefix_sharing=false runtime.prefix_sharing=true
#   bash scripts/bench-ab.sh EXP A B --rounds 5 --set data.limit=100 --set runtime.threads=1
set -euo pipefail
cd "$(dirname "$0")/.."
(($# >= 3)) || { echo "usage: bench-ab.sh EXPERIMENT KEY=A KEY=B [--rounds R] [--set key=value ...]" >&2; exit 2; }
exp=$1 a=$2 b=$3 rounds=3 extra=()
shift 3
while (($#)); do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --set) extra+=(--set "$2"); shift 2 ;;
    *) echo "bench-ab: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
bin=./build/bin/litestage
[[ -x $bin ]] || bash scripts/build.sh --cli-only
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# One eval; prints "wall mean_seconds analyze_seconds prefill_tokens accuracy".
run_one() {
  local dir=$out/$1
  rm -rf "$dir"
  local start=$EPOCHREALTIME
  $bin eval "$exp" "${extra[@]}" --set "$2" --set output_dir="$dir" > "$dir.log" 2>&1 ||
    { cat "$dir.log" >&2; exit 1; }
  python3 - "$dir" "$start" "$EPOCHREALTIME" <<'PY'
import json, sys, glob
d, wall = sys.argv[1], float(sys.argv[3]) - float(sys.argv[2])
s = json.load(open(glob.glob(d + "/**/summary.json", recursive=True)[0]))
cost = s.get("mean_cost", {})
print("%.2f %.4f %.4f %.1f %.4f" % (wall, s["mean_seconds"], s["stages"]["analyze"]["mean_seconds"],
                                    cost.get("prefill_tokens", float("nan")), s["accuracy"]))
PY
}

printf '%-6s %-34s %8s %10s %10s %9s %6s\n' round setting wall_s s/q analyze_s/q prefill/q acc
for ((r = 1; r <= rounds; r++)); do
  for side in a b; do
    setting=${!side}
    read -r wall mean analyze prefill acc <<< "$(run_one "$side$r" "$setting")"
    printf '%-6s %-34s %8s %10s %10s %9s %6s\n' "$r" "$setting" "$wall" "$mean" "$analyze" "$prefill" "$acc"
    echo "$side $wall $mean $analyze $prefill $acc" >> "$out/rows"
  done
done
python3 - "$out/rows" "$a" "$b" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
names = {"a": sys.argv[2], "b": sys.argv[3]}
cols = ["wall_s", "s/question", "analyze s/question", "prefill tokens/question", "accuracy"]
med = {}
for side in "ab":
    vals = [[float(x) for x in r[1:]] for r in rows if r[0] == side]
    med[side] = [statistics.median(c) for c in zip(*vals)]
    spread = ["%.4g-%.4g" % (min(c), max(c)) for c in zip(*vals)]
    print("%s (%d rounds): " % (names[side], len(vals)) +
          ", ".join("%s median %.4g [%s]" % (n, m, s) for n, m, s in zip(cols, med[side], spread)))
for i, n in enumerate(cols[:4]):
    print("ratio %s / %s, %s: %.3fx" % (names["a"], names["b"], n, med["a"][i] / med["b"][i]))
PY
