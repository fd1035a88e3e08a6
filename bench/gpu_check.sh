#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, its driver (nvidia-smi, libnvidia-ml) and
# PyTorch with CUDA: a short --gpus sweep of examples/python/finetune.py, with
# nvidia-smi sampling each device's power every 100 ms beside it. Prints the
# GPU joules carbonsweep stored (NVML, per trial, each device billed to its
# trial) next to nvidia-smi's power integrated over the same window, and
# their ratio (BENCHMARKS.md "GPU metering").
#
#   bash bench/gpu_check.sh [BUILD_DIR] [PYTHON]   (defaults: build, python3)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build}
python=${2:-python3}
work=$(mktemp -d)
trap 'kill "${smi_pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

"$python" -c 'import torch; assert torch.cuda.is_available(), "PyTorch sees no CUDA device"'
nvidia-smi --query-gpu=index,name,power.draw --format=csv,noheader
nvidia-smi --query-gpu=timestamp,index,power.draw --format=csv,noheader,nounits -lms 100 > "$work/smi.csv" &
smi_pid=$!
sleep 1
start=$(date +%s.%N)
"$build/cli/carbonsweep" run --name gpu-check --db "$work/sweeps.db" --budget 1kg --trials 4 \
  --space "$repo/examples/python/space.json" --gpus all --gpus-per-trial 1 --sample-interval 0.5 \
  --command "$python $repo/examples/python/finetune.py --device cuda --lr {learning_rate} --hidden {hidden} \
             --optimizer {optimizer} --epochs {epochs} --train-size 20000 --val-size 2000"
end=$(date +%s.%N)
sleep 1
kill "$smi_pid"
wait "$smi_pid" 2>/dev/null || true

"$python" - "$work/sweeps.db" "$work/smi.csv" "$start" "$end" <<'PY'
import csv, datetime, sqlite3, sys
db, smi, start, end = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
stored = sqlite3.connect(db).execute(
    "SELECT COALESCE(SUM(joules), 0) FROM power_samples WHERE component = 'gpu' AND trial_id IS NOT NULL").fetchone()[0]
by_device = {}
for row in csv.reader(open(smi)):
    stamp = datetime.datetime.strptime(row[0].strip(), "%Y/%m/%d %H:%M:%S.%f").timestamp()
    by_device.setdefault(row[1].strip(), []).append((stamp, float(row[2])))
integrated = 0.0
for samples in by_device.values():
    inside = [(t, w) for t, w in samples if start <= t <= end]
    integrated += sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in zip(inside, inside[1:]))
print(f"carbonsweep NVML joules billed to trials: {stored:.1f} J")
print(f"nvidia-smi power integrated over the sweep ({end - start:.1f} s, all devices, idle included): {integrated:.1f} J")
print(f"ratio carbonsweep / nvidia-smi: {stored / integrated:.3f}" if integrated > 0 else "nvidia-smi reported no power")
PY
