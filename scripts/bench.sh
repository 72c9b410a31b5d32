#!/usr/bin/env bash
# Runs the PyTorch peer, then the benchmark suite, in one run on this machine, and writes
# benchmarks/results/<date>.json (everything measured) and <date>.md (the tables, made by
# benchmarks/make_table.py from the JSON) and <date>.png (bandwidth roofline).
#
# Environment (defaults are the full measured run):
#   BENCH_MIN_TIME=0.5      seconds per benchmark repetition (Google benchmark)
#   BENCH_REPETITIONS=3     repetitions; the tables use the median
#   BENCH_FILTER=.          regex of benchmark names to run (a leading - excludes)
#   PEER_SCALE=1            --scale of the peer (0.05 for a quick check; the table then has no peer)
#   PEER_WORKLOADS=all      --workload of the peer
#   PEER=0                  skip the peer
#   PEER_DIR=../shared/peers   where peer_torch.py is
#   BENCH_OUT=benchmarks/results   where the result files go
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
ensure_packages "${ALIGNKIT_BUILD_PACKAGES[@]}" libbenchmark-dev python3-matplotlib

min_time=${BENCH_MIN_TIME:-0.5}
reps=${BENCH_REPETITIONS:-3}
filter=${BENCH_FILTER:-.}
peer_scale=${PEER_SCALE:-1}
stamp=$(date -u +%Y-%m-%d-%H%M)
out=${BENCH_OUT:-benchmarks/results}
mkdir -p "$out" build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target alignkit_bench
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# OpenBLAS (OpenMP build) for torch's matmul in the peer and for the linear head's CBLAS hook in
# alignkit_bench, so that both run on the same BLAS: the installed one if present, else the Debian
# package extracted under build/ (the system's libblas.so.3 is left as it is; Debian's default is
# the reference BLAS, ~50x slower, on which the hook's benchmark is not run).
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ ! -e "$blas/libblas.so.3" ]; then
  blas=$(pwd)/build/peer-blas/usr/lib/x86_64-linux-gnu/openblas-openmp
  [ -e "$blas/libblas.so.3" ] || { (cd "$tmp" && apt-get download -q libopenblas0-openmp >/dev/null) &&
    dpkg -x "$tmp"/libopenblas0-openmp_*.deb build/peer-blas; } || true
fi
bench_env=()
if [ -e "$blas/libblas.so.3" ]; then
  bench_env=(ALIGNKIT_BENCH_BLAS=OpenBLAS "LD_LIBRARY_PATH=$blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
else
  echo "OpenBLAS not available: the peer's matmul runs on the reference BLAS, the CBLAS hook is not benchmarked"
fi

peer_args=()
peer_note="not run"
# The peer lives in ../shared/peers next to the repository (of the main checkout, for a worktree).
common=$(cd "$(git rev-parse --git-common-dir 2>/dev/null || echo .git)/.." && pwd)
peer_py=${PEER_DIR:-../shared/peers}/peer_torch.py
[ -f "$peer_py" ] || peer_py=${PEER_DIR:-$common/../shared/peers}/peer_torch.py
if [ "${PEER:-1}" = 0 ]; then
  echo "PEER=0: skipping the PyTorch peer"
elif [ ! -f "$peer_py" ]; then
  echo "no PyTorch peer at ../shared/peers/peer_torch.py (relative to the repository; PEER_DIR overrides): skipping it"
else
  ensure_packages python3-torch
  torch_version=$(/usr/bin/python3 -c 'import torch; print(torch.__version__)')
  if [ -e "$blas/libblas.so.3" ]; then
    peer_note="torch $torch_version eager, OpenBLAS (libopenblas0-openmp) for matmul"
    export PEER_BLAS_DIR=$blas
  else
    peer_note="torch $torch_version eager, Debian default BLAS (reference) for matmul"
  fi
  /usr/bin/python3 "$peer_py" --workload "${PEER_WORKLOADS:-all}" --threads 1,2 --scale "$peer_scale" \
    --json "$tmp/peer.json"
  peer_args=(--peer "$tmp/peer.json")
fi

env "${bench_env[@]}" ./build/release/benchmarks/alignkit_bench --benchmark_filter="$filter" \
  --benchmark_min_time="$min_time" --benchmark_min_warmup_time=0.1 \
  --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
  --benchmark_out="$tmp/alignkit.json" --benchmark_out_format=json
[ -s "$tmp/alignkit.json" ] || { echo "alignkit_bench wrote no results (BENCH_FILTER='$filter')"; exit 1; }

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cmd="BENCH_MIN_TIME=$min_time BENCH_REPETITIONS=$reps BENCH_FILTER='$filter' PEER_SCALE=$peer_scale PEER=${PEER:-1} scripts/bench.sh"
/usr/bin/python3 benchmarks/make_table.py merge --alignkit "$tmp/alignkit.json" "${peer_args[@]}" \
  --out "$out/$stamp.json" --meta "date=$(date -u +%FT%TZ)" "command=$cmd" \
  "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- include benchmarks || echo '+changes')" \
  "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "peer=$peer_note" \
  "load_before=$load_before" "load_after=$load_after"
/usr/bin/python3 benchmarks/make_table.py table "$out/$stamp.json" --png "$out/$stamp.png" > "$out/$stamp.md"
cat "$out/$stamp.md"
echo "wrote $out/$stamp.json, $out/$stamp.md, $out/$stamp.png"
