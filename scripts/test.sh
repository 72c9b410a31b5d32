#!/usr/bin/env bash
# Runs every test: installs what is missing, configures, builds with all cores, runs ctest
# (unit suites, golden runner, examples, header and packaging checks).
# ALIGNKIT_PRESET selects the preset (dev by default; asan-ubsan for the sanitizer build).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
preset="${ALIGNKIT_PRESET:-dev}"
packages=("${ALIGNKIT_BUILD_PACKAGES[@]}")
[ "$preset" = "asan-ubsan" ] && packages+=(clang-14 libclang-rt-14-dev)
ensure_packages "${packages[@]}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
ctest --preset "$preset" -j "$(nproc)"
