#!/usr/bin/env bash
# README command (2): install the Debian packages, build, and run the whole test suite with CTest.
# Tests that need ../shared (datasets, real checkpoints) skip with a message when it is absent.
#   bash scripts/test.sh [ctest args]             # Release build in build/
#   bash scripts/test.sh --sanitize [ctest args]  # AddressSanitizer + UBSan build in build-sanitize/
# The sanitized suite skips only the [deepbind] cases (CTest: "Skipped"; docs/testing.md says why).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [[ ${1:-} == --sanitize ]]; then
  shift
  cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLITESTAGE_SANITIZE=ON
  cmake --build build-sanitize -j"$(nproc)"
  cd build-sanitize
  # detect_leaks=0: LibTorch and OpenBLAS keep per-thread pools for the process's lifetime.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  ctest --output-on-failure -j"$(nproc)" "$@"
  exit
fi
bash scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
