#!/usr/bin/env bash
# LiteStage against a Hugging Face-style PyTorch eager loop (bench/eager_peer.py, Debian's
# python3-torch) on the same model or config, dtype, threads, prompt and decode lengths. The two
# run alternately for --rounds rounds (each round a median of --repeats passes), so drift in the
# machine's load hits both; prints each round and the median ratios.
#
#   bash scripts/bench-peer.sh --model data/demo-model
#   bash scripts/bench-peer.sh --config tinyllama-config.json --dtype bf16 --threads 2 --rounds 3
set -euo pipefail
cd "$(dirname "$0")/.."
src=() dtype=f32 threads=1 prompt=128 gen=32 repeats=5 rounds=3
while (($#)); do
  case $1 in
    --model|--config) src=("$1" "$2"); shift 2 ;;
    --dtype) dtype=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --prompt-len) prompt=$2; shift 2 ;;
    --gen-len) gen=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "bench-peer: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
((${#src[@]})) || { echo "usage: bench-peer.sh (--model DIR | --config FILE) [--dtype f32|bf16] [--threads N] [--rounds R]" >&2; exit 2; }
/usr/bin/python3 -c "import torch" 2>/dev/null || { echo "bench-peer: needs Debian's python3-torch (apt-get install python3-torch)" >&2; exit 1; }
bin=./build/bin/litestage
[[ -x $bin ]] || bash scripts/build.sh --cli-only
common=(--dtype "$dtype" --threads "$threads" --prompt-len "$prompt" --gen-len "$gen" --repeats "$repeats")

ours_p=() ours_d=() ours_f=() ours_g=() ours_k=() peer_p=() peer_d=()
# litestage bench's full-model row: skip sublayers removed prefill-tok/s decode-ms /floor ..., and
# the prompt's shares of the GEMM figure it runs at and of the cores' multiply-add peak ("...
# GFLOP/s = 72% of the ... GEMM figure ..., 51% of the multiply-add peak").
run_ours() {
  out=$($bin bench "${src[@]}" "${common[@]}" --skip-fraction 0 2>&1)
  read -r p d f <<< "$(awk '$1 == "0.00" {print $4, $5, $6}' <<< "$out")"
  g=$(grep -o 'GFLOP/s = [0-9]*%' <<< "$out" | grep -o '[0-9]*' | head -1)
  k=$(grep -o '[0-9]*% of the multiply-add peak' <<< "$out" | grep -o '^[0-9]*' | head -1)
  core=$(grep -o 'OpenBLAS [0-9.]* ([A-Za-z0-9]* kernels)' <<< "$out" | head -1 | sed 's/.*(\([A-Za-z0-9]*\) kernels)/\1/')
  ours_p+=("$p") ours_d+=("$d") ours_f+=("$f") ours_g+=("${g:-nan}") ours_k+=("${k:-nan}")
}
# The peer gets the BLAS kernels litestage ran with (it re-runs itself with OPENBLAS_CORETYPE when
# OpenBLAS does not recognise the CPU; python would stay on the generic ones), so litestage runs
# first in round 1. The peer runs twice, with OpenBLAS on one thread (as litestage runs it) and on
# --threads, and keeps its better prefill and decode: with both OpenBLAS's and PyTorch's OpenMP
# threads spinning on a 2-core machine its prefill swung between 500 and 14,000 tok/s from one pass
# to the next, while large products gain from OpenBLAS's threads. OPENBLAS_NUM_THREADS set by the
# caller is the only setting.
run_peer() {
  q=0 e=inf
  for blas_threads in ${OPENBLAS_NUM_THREADS:-1 $threads}; do
    peer=$(OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$core} OPENBLAS_NUM_THREADS=$blas_threads \
      /usr/bin/python3 bench/eager_peer.py "${src[@]}" "${common[@]}")
    read -r q e <<< "$(/usr/bin/python3 -c 'import json,sys; j=json.loads(sys.argv[1]); q,e=float(sys.argv[2]),float(sys.argv[3])
print("%.1f %.3f" % (max(q, j["prefill_tok_s"]), min(e, j["decode_ms"])))' "$peer" "$q" "$e")"
  done
  peer_p+=("$q") peer_d+=("$e")
}
# Which side runs first alternates from round to round: the first run after a pause measured up to
# 9 % slower than the same run second (the demo model, rounds of A B B A).
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then first=litestage; run_ours; run_peer; else first=peer; run_peer; run_ours; fi
  printf 'round %d (%s first): litestage prefill %s tok/s (%s%% of the GEMM figure), decode %s ms/token (%sx the read floor) | eager peer prefill %s tok/s, decode %s ms/token\n' \
    "$r" "$first" "$p" "${g:-?}" "$d" "$f" "$q" "$e"
done
/usr/bin/python3 - "${ours_p[*]}" "${ours_d[*]}" "${peer_p[*]}" "${peer_d[*]}" "$dtype" "$threads" "${ours_f[*]}" "${ours_g[*]}" "${ours_k[*]}" <<'PY'
import statistics, sys
op, od, pp, pd = ([float(x) for x in a.split()] for a in sys.argv[1:5])
of, og, ok = ([float(x) for x in a.split()] for a in sys.argv[7:10])
m = statistics.median
print(f"\n{sys.argv[5]}, {sys.argv[6]} thread(s), median of {len(op)} rounds (min-max):")
print(f"  prefill tok/s   litestage {m(op):10.1f} ({min(op):.1f}-{max(op):.1f})   eager {m(pp):10.1f} ({min(pp):.1f}-{max(pp):.1f})   ratio {m(op)/m(pp):.2f}x")
print(f"  decode ms/token litestage {m(od):10.3f} ({min(od):.3f}-{max(od):.3f})   eager {m(pd):10.3f} ({min(pd):.3f}-{max(pd):.3f})   ratio {m(pd)/m(od):.2f}x")
print(f"  litestage prefill at {m(og):.0f}% ({min(og):.0f}-{max(og):.0f}%) of the GEMM figure its prompts run at; decode {m(of):.2f}x ({min(of):.2f}-{max(of):.2f}x) the read floor")
# The peer's prompts did the same operations: its share of the peak scales with its tokens/s.
pk = [k * q / p for k, q, p in zip(ok, pp, op)]
if all(k == k for k in ok):  # no NaN: litestage printed the peak (CPU)
    print(f"  prefill at the multiply-add peak: litestage {m(ok):.0f}% ({min(ok):.0f}-{max(ok):.0f}%), eager {m(pk):.0f}% ({min(pk):.0f}-{max(pk):.0f}%)")
PY
