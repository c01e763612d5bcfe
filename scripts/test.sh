#!/usr/bin/env bash
# README command (2): install the Debian packages, build, and run the whole test suite with CTest.
# Tests that need ../shared (datasets, real checkpoints) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
