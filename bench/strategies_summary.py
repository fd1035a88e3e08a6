#!/usr/bin/env python3
"""Sums up bench/strategies.sh runs made with different seeds.

    python3 bench/strategies_summary.py strategies-seed0 strategies-seed1 ...

Each directory holds one seed's `report NAME --format json` files. Per seed,
as `carbonsweep compare` does: the target is the best validation accuracy
any of that seed's sweeps reached, minus 0.5 points; each sweep's cost is the
cumulative CO2 of its trials (in order of ending) when its best-so-far first
came within it. Across seeds: the mean of those costs, where a sweep that
never got there counts its whole spend and is marked ">=" (a lower bound).
"""
import json
import os
import sys

WITHIN = 0.005


def load(directory):
    sweeps = {}
    for name in sorted(os.listdir(directory)):
        if not name.endswith(".json") or name == "baseline.json":
            continue
        with open(os.path.join(directory, name)) as f:
            report = json.load(f)
        sweeps[report["sweep"]["name"]] = report
    return sweeps


def best_of(report):
    values = [p["best_so_far"] for p in report["anytime"] if p["best_so_far"] is not None]
    return max(values) if values else None


def grams_to(report, target):
    for p in report["anytime"]:
        if p["best_so_far"] is not None and p["best_so_far"] >= target - 1e-9:
            return p["cumulative_grams_co2e"]
    return None


def main(directories):
    runs = {d: load(d) for d in directories}
    order = ["random", "grid", "random-median", "halving"]  # strategies.sh's order; variants after.
    names = sorted({n for sweeps in runs.values() for n in sweeps},
                   key=lambda n: (order.index(n) if n in order else len(order), n))
    print("| sweep | " + " | ".join(f"{os.path.basename(d.rstrip('/'))}: best val, CO2 to target" for d in directories)
          + " | mean CO2 to target |")
    print("|---" * (len(directories) + 2) + "|")
    for name in names:
        cells, costs, lower_bound = [], [], False
        for d in directories:
            sweeps = runs[d]
            if name not in sweeps:
                cells.append("not run")
                continue
            target = max(b for b in (best_of(r) for r in sweeps.values()) if b is not None) - WITHIN
            best = best_of(sweeps[name])
            grams = grams_to(sweeps[name], target)
            if best is None:  # no trial finished an epoch: nothing to compare.
                cells.append("no result")
                continue
            if grams is None:
                lower_bound = True
                grams_spent = sweeps[name]["anytime"][-1]["cumulative_grams_co2e"] if sweeps[name]["anytime"] else 0
                costs.append(grams_spent)
                cells.append(f"{100 * best:.1f} %, never")
            else:
                costs.append(grams)
                cells.append(f"{100 * best:.1f} %, {grams:.2f} g")
        mean = (">= " if lower_bound else "") + (f"{sum(costs) / len(costs):.2f} g" if costs else "-")
        print(f"| {name} | " + " | ".join(cells) + f" | {mean} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
