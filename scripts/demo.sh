#!/usr/bin/env bash
# README command (1): install the Debian packages, build, and run the whole LiteStage workflow on
# the embedded demo model and the synthetic task (experiments/demo.yaml). Builds only the command,
# not the tests. Results: runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh --cli-only
./build/bin/litestage run experiments/demo.yaml "$@"
