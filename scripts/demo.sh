#!/usr/bin/env bash
# The main job: installs what is missing, builds the release preset and runs the flagship
# end-to-end demo (examples/rlhf_demo), then draws its plots. Arguments go to the demo
# (--seed N, --beta B, --steps N, --out DIR); the output folder defaults to build/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${ALIGNKIT_BUILD_PACKAGES[@]}" python3-matplotlib python3-numpy
cmake --preset release -DALIGNKIT_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build --preset release -j "$(nproc)" --target rlhf_demo
out=build/demo
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[i]}" = "--out" ] && out="${args[i + 1]}"
done
./build/release/examples/rlhf_demo --out "$out" "$@"
/usr/bin/python3 examples/rlhf_demo/plots.py "$out"
