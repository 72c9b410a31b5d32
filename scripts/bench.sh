#!/usr/bin/env bash
# Runs the benchmark suite and the PyTorch peer in one run on this machine, workload by workload
# (the peer's workload, then alignkit's benchmarks of it, then the next workload), so that each
# speed-up compares two measurements minutes apart at most; then the STREAM sweep. Writes
# benchmarks/results/<date>.json (everything measured) and <date>.md (the tables, made by
# benchmarks/make_table.py from the JSON) and <date>.png (bandwidth roofline).
#
# Environment (defaults are the full measured run):
#   BENCH_MIN_TIME=0.5      seconds per benchmark repetition (Google benchmark)
#   BENCH_REPETITIONS=3     repetitions; the tables use the median
#   BENCH_FILTER=.          regex of benchmark names to run (a leading - excludes)
#   PEER_SCALE=1            --scale of the peer (0.05 for a quick check; the table then has no peer)
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

peer_note="not run"
run_peer=0
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
  run_peer=1
fi

bench=./build/release/benchmarks/alignkit_bench
mapfile -t selected < <(env "${bench_env[@]}" "$bench" --benchmark_list_tests --benchmark_filter="$filter")
[ "${#selected[@]}" -gt 0 ] || { echo "no benchmark matches BENCH_FILTER='$filter'"; exit 1; }
# Rounds: alignkit workload (regex of the first name component) = the peer's workloads of it,
# in the tables' order, then the STREAM sweep.
mapfile -t rounds < <(/usr/bin/python3 benchmarks/make_table.py rounds)
rounds+=("stream_[0-9]+MiB=")
alignkit_files=() peer_files=()
ran=0
for round in "${rounds[@]}"; do
  workload=${round%%=*} peers=${round#*=}
  names=()
  for name in "${selected[@]}"; do [[ $name =~ ^($workload)/ ]] && names+=("$name"); done
  [ "${#names[@]}" -gt 0 ] || continue
  ran=$((ran + ${#names[@]}))
  if [ "$run_peer" = 1 ] && [ -n "$peers" ]; then
    /usr/bin/python3 "$peer_py" --workload "$peers" --threads 1,2 --scale "$peer_scale" \
      --json "$tmp/peer-${#peer_files[@]}.json"
    peer_files+=("$tmp/peer-${#peer_files[@]}.json")
  fi
  part="$tmp/alignkit-${#alignkit_files[@]}.json"
  env "${bench_env[@]}" "$bench" --benchmark_filter="^($(IFS='|'; echo "${names[*]}"))\$" \
    --benchmark_min_time="$min_time" --benchmark_min_warmup_time=0.1 \
    --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_out="$part" --benchmark_out_format=json
  [ -s "$part" ] || { echo "alignkit_bench wrote no results for ${names[*]}"; exit 1; }
  alignkit_files+=("$part")
done
if [ "$ran" != "${#selected[@]}" ]; then
  workloads=$(printf '%s|' "${rounds[@]%%=*}")
  echo "benchmarks in no round of scripts/bench.sh:"
  printf '%s\n' "${selected[@]}" | grep -Ev "^(${workloads%|})/"
  exit 1
fi
peer_args=()
[ "${#peer_files[@]}" -gt 0 ] && peer_args=(--peer "${peer_files[@]}")

load_after=$(cut -d' ' -f1-3 /proc/loadavg)

cmd="BENCH_MIN_TIME=$min_time BENCH_REPETITIONS=$reps BENCH_FILTER='$filter' PEER_SCALE=$peer_scale PEER=${PEER:-1} scripts/bench.sh"
/usr/bin/python3 benchmarks/make_table.py merge --alignkit "${alignkit_files[@]}" "${peer_args[@]}" \
  --out "$out/$stamp.json" --meta "date=$(date -u +%FT%TZ)" "command=$cmd" \
  "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- include benchmarks || echo '+changes')" \
  "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" "peer=$peer_note" \
  "load_before=$load_before" "load_after=$load_after"
/usr/bin/python3 benchmarks/make_table.py table "$out/$stamp.json" --png "$out/$stamp.png" > "$out/$stamp.md"
cat "$out/$stamp.md"
echo "wrote $out/$stamp.json, $out/$stamp.md, $out/$stamp.png"
