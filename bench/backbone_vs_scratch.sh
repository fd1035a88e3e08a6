#!/bin/bash
# Issue 2's evidence: the pre-trained backbone vs the same model from random
# weights on the default IMDB split, 2 learning rates x 3 seeds each
# (bench/spaces/backbone-vs-scratch.json, 2 epochs, batch 32), two trials at
# a time with one thread each. Each model is scored at ITS best learning rate
# on validation (mean over seeds); test accuracy is only reported.
#
#   bench/backbone_vs_scratch.sh [BINARY] [OUT_DIR] [BACKBONE_DIR]
# defaults: build/cli/carbonsweep, backbone-vs-scratch/, the bundled backbone
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-build/cli/carbonsweep}"; out="${2:-backbone-vs-scratch}"; backbone="${3:-}"
mkdir -p "$out"; db="$out/runs.db"
common=(--strategy grid --space "$here/spaces/backbone-vs-scratch.json" --budget 1kg --parallel 2 --threads 2
        --db "$db" --quiet)
backbone_flags=(); [ -z "$backbone" ] || backbone_flags=(--backbone "$backbone")
# MODELS="scratch" runs one side only (it does not depend on the backbone);
# a side already in the store is not run again.
read -r -a models <<< "${MODELS:-backbone scratch}"
for model in "${models[@]}"; do
  if [ "$model" = scratch ]; then flags=(--from-scratch); else flags=("${backbone_flags[@]}"); fi
  if ! "$bin" status "$model" --db "$db" >/dev/null 2>&1; then
    code=0
    "$bin" run --name "$model" "${common[@]}" "${flags[@]}" || code=$?
    [ "$code" -eq 0 ] || { echo "$model sweep: exit $code" >&2; exit "$code"; }
  fi
  "$bin" report "$model" --db "$db" --format json --out "$out/$model.json"
done
[ -f "$out/backbone.json" ] && [ -f "$out/scratch.json" ] || exit 0
python3 - "$out/backbone.json" "$out/scratch.json" <<'PY'
import json, statistics, sys
print("| model | lr (best mean val) | mean val | seed 0 | seed 1 | seed 2 | mean test |")
print("|---|---|---|---|---|---|---|")
for path in sys.argv[1:]:
    report = json.load(open(path))
    by_lr = {}
    for t in report["trials"]:
        p = t["params"]
        by_lr.setdefault(p["learning_rate"], {})[p["seed"]] = (t["val_accuracy"], t["test_accuracy"])
    lr = max(by_lr, key=lambda l: statistics.mean(v for v, _ in by_lr[l].values()))
    runs = by_lr[lr]
    tests = [runs[s][1] for s in sorted(runs)]
    print("| %s | %g | %.4f | %s | **%.4f** |" % (
        report["sweep"]["name"], lr, statistics.mean(v for v, _ in runs.values()),
        " | ".join("%.4f" % t for t in tests), statistics.mean(tests)))
PY
