#!/bin/bash
# Issue 2's table: test accuracy over 3 learning rates x 2 batch sizes on the
# default IMDB split (bench/spaces/lr-batch.json, a 6-point grid, 2 epochs),
# from the bundled backbone, two trials at a time with one thread each.
#
#   bench/lr_batch.sh [BINARY] [OUT_DIR]
# defaults: build/cli/carbonsweep, lr-batch/
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-build/cli/carbonsweep}"; out="${2:-lr-batch}"
mkdir -p "$out"; db="$out/lr-batch.db"
code=0
"$bin" run --name lr-batch --strategy grid --space "$here/spaces/lr-batch.json" --budget 1kg \
  --parallel 2 --threads 2 --db "$db" --quiet || code=$?
[ "$code" -eq 0 ] || { echo "lr-batch sweep: exit $code" >&2; exit "$code"; }
"$bin" report lr-batch --db "$db" --format json --out "$out/lr-batch.json"
python3 - "$out/lr-batch.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
cells = {}
for t in report["trials"]:
    p = t["params"]
    cells[(p["learning_rate"], p["batch_size"])] = (t.get("val_accuracy"), t.get("test_accuracy"), t["grams_co2e"])
print("| learning rate | batch 16: val / test | batch 32: val / test |")
print("|---|---|---|")
for lr in sorted({k[0] for k in cells}):
    row = ["%g" % lr]
    for batch in (16, 32):
        v, t, g = cells.get((lr, batch), (None, None, 0))
        row.append("%.3f / %.3f" % (v, t) if v is not None else "-")
    print("| " + " | ".join(row) + " |")
PY
