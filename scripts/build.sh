#!/usr/bin/env bash
# Configures and builds LiteStage (Release) into ./build. Extra arguments go to CMake's configure
# step, e.g. -DCMAKE_PREFIX_PATH=/opt/libtorch for an official LibTorch 2.x CUDA build.
#   bash scripts/build.sh              # everything: the litestage command, its libraries and the tests
#   bash scripts/build.sh --cli-only   # the litestage command and what it links (the demo needs no more)
set -euo pipefail
cd "$(dirname "$0")/.."
target=()
if [[ ${1:-} == --cli-only ]]; then
  target=(--target litestage_cli)
  shift
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j"$(nproc)" "${target[@]}"
