#!/usr/bin/env bash
# Installs the Debian packages LiteStage builds and runs with. Idempotent: packages
# already present are skipped, so a second run does no network work.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libtorch-dev libopenblas0-pthread
  libsentencepiece-dev sentencepiece
  libboost-program-options-dev libyaml-cpp-dev catch2 nlohmann-json3-dev libpcre2-dev libicu-dev
  libgloo-dev libsleef-dev
  gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all packages present"
fi
