#!/usr/bin/env bash
# Coverage-guided fuzzing of LiteStage's parsers with libFuzzer (Debian's clang), AddressSanitizer
# and UndefinedBehaviorSanitizer. Builds the targets of tests/fuzz/ in build-fuzz/ and runs them.
#   bash scripts/fuzz.sh list                      # the targets
#   bash scripts/fuzz.sh TARGET|all [--seconds N] [--runs R]
#                                                  # fuzz each for N seconds (default 600) or R
#                                                  # executions, whichever comes first
#   bash scripts/fuzz.sh TARGET --replay           # run the committed corpus once (no fuzzing)
# Each target starts from tests/fuzz/corpus/TARGET (read only) plus its own growing corpus in
# build-fuzz/corpus/TARGET. A finding (crash, sanitizer report, escaped non-litestage exception,
# timeout, out-of-memory) stops that target's run; it is minimised into
# tests/fuzz/corpus/TARGET/regress-<kind>-<hash>, which every normal build replays from then on
# (CTest "fuzz: TARGET corpus"). Fix the parser, then commit the input with the fix.
# Logs: build-fuzz/logs/TARGET.log. One line per target summarises executions, coverage, findings.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=$root/build-fuzz
targets=$(sed -n 's/^litestage_fuzz_target(\([a-z_]*\) .*/\1/p' tests/fuzz/CMakeLists.txt)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[[ $# -ge 1 ]] || usage
if [[ $1 == list ]]; then echo "$targets"; exit 0; fi
what=$1; shift
seconds=600; runs=-1; replay=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --replay) replay=1; shift ;;
    *) usage ;;
  esac
done
if [[ $what == all ]]; then run=$targets; else
  grep -qx "$what" <<<"$targets" || { echo "fuzz: unknown target '$what'; targets: $(echo $targets)" >&2; exit 2; }
  run=$what
fi

bash scripts/setup.sh
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-dev
fi
flags="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLITESTAGE_FUZZ=ON \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_targets

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
mkdir -p "$build/logs"
summary=()
for t in $run; do
  exe=$build/tests/fuzz/fuzz_$t
  seeds=$root/tests/fuzz/corpus/$t
  case $t in experiment_yaml|train_yaml|profile) syntax=yaml ;; *) syntax=json ;; esac
  mkdir -p "$build/dict"
  dict=$build/dict/$t.dict
  cat "$root/tests/fuzz/dict/$syntax-syntax.dict" "$root/tests/fuzz/dict/$t.dict" >"$dict"
  log=$build/logs/$t.log
  findings=$build/findings/$t
  mkdir -p "$build/corpus/$t" "$findings"
  args=(-timeout=10 -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix="$findings/")
  args+=(-dict="$dict")
  if ((replay)); then
    args+=(-runs=0 "$seeds")
  else
    args+=(-max_total_time="$seconds" -runs="$runs" "$build/corpus/$t" "$seeds")
  fi
  echo "fuzz: $t (log $log)"
  status=0
  "$exe" "${args[@]}" >"$log" 2>&1 || status=$?
  for artifact in "$findings"/*; do
    [[ -f $artifact ]] || continue
    kind=$(basename "$artifact" | cut -d- -f1)
    min=$seeds/regress-$kind-$(sha1sum "$artifact" | cut -c1-12)
    timeout 300 "$exe" -minimize_crash=1 -runs=20000 -exact_artifact_path="$min" "$artifact" >>"$log" 2>&1 || true
    [[ -f $min ]] || cp "$artifact" "$min"
    rm -f "$artifact"
    echo "fuzz: $t: FINDING ($kind) minimised to ${min#$root/}"
  done
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  cov=$( (grep -o 'cov: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  ft=$( (grep -o 'ft: [0-9]*' "$log" || true) | tail -1 | cut -d' ' -f2)
  summary+=("$(printf '%-16s execs %10s  cov %6s  ft %6s  corpus %5s  exit %s' "$t" "${execs:-?}" "${cov:-?}" \
    "${ft:-?}" "$(ls "$build/corpus/$t" | wc -l)" "$status")")
done
printf '%s\n' "${summary[@]}"
