#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset and runs the flagship example.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${ALIGNKIT_BUILD_PACKAGES[@]}"
cmake --preset release -DALIGNKIT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build --preset release -j "$(nproc)" --target bradley_terry_reward_model
./build/release/examples/bradley_terry_reward_model "$@"
