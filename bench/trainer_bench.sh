#!/bin/bash
# Training throughput of the C++ trial loop vs the same model and loop in
# Python PyTorch (Debian's /usr/bin/python3 with python3-torch 1.13), side by
# side on the same synthetic data, threads and batch; prints sequences/s of
# both, the ratio, and each process's peak memory (max RSS).
#
#   bench/trainer_bench.sh [BUILD_DIR] [THREADS] [BATCH] [ROWS] [DROPOUT] [ROUNDS]
# defaults: build-trainer, 2 threads, batch 32, 1024 rows of <=128 tokens, dropout 0.1, 2 rounds
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build-trainer}"
threads="${2:-2}"; batch="${3:-32}"; rows="${4:-1024}"; dropout="${5:-0.1}"; rounds="${6:-2}"
bench="$build/bench/trainer_bench"
[ -x "$bench" ] || { echo "build it first: ninja -C $build trainer_bench" >&2; exit 2; }
data="$(mktemp)"; trap 'rm -f "$data"' EXIT
"$bench" --write-data "$data" --rows "$rows"
args=(--data "$data" --threads "$threads" --batch "$batch" --dropout "$dropout")
cpp_all=(); py_all=()
for round in $(seq "$rounds"); do
  # Alternate the order so neither side always runs on a warmer machine.
  cpp="$("$bench" "${args[@]}")"; py="$(/usr/bin/python3 "$here/python/trainer_ref.py" "${args[@]}")"
  echo "round $round: $cpp"; echo "round $round: $py"
  cpp_all+=("$(sed -E 's/.*seq_per_s=([0-9.]+).*/\1/' <<<"$cpp")")
  py_all+=("$(sed -E 's/.*seq_per_s=([0-9.]+).*/\1/' <<<"$py")")
done
python3 - "${cpp_all[*]}" "${py_all[*]}" <<'PY'
import sys, statistics
cpp = [float(x) for x in sys.argv[1].split()]; py = [float(x) for x in sys.argv[2].split()]
print("median seq/s: C++ %.1f, Python %.1f, ratio C++/Python %.2fx (per round: %s)" % (
    statistics.median(cpp), statistics.median(py), statistics.median(cpp) / statistics.median(py),
    ", ".join("%.2f" % (c / p) for c, p in zip(cpp, py))))
PY
