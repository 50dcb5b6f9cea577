"""Measurements S and S2: v34 mean ROC AUC against the number of screening targets a model trained on (the clean
recipe on a seeded share of the v34 final fold's 44 targets), one point per run and the seed mean; writes the
figures as JSON (benchmarks/results/atomgrid_target_scaling-v34.json) and a PNG (docs/figures/).

    python campaigns/atomgrid-affinity/scaling_plot.py
"""
import json
from pathlib import Path

import numpy as np

from traincore.provenance import write_results

R = Path("benchmarks/results")
RUNS = {22: ("half-s10", "half-s11"), 33: ("q3-s10", "q3-s11"), 44: ("clean-s10", "clean-s11")}


def main() -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    points, files = [], []
    for n, runs in RUNS.items():
        for run in runs:
            f = R / f"atomgrid_crossval-validation34-rot16-ag-v34-{run}.json"
            m = json.loads(f.read_text())["figures"]["mean"]["model"]
            points.append({"targets": n, "run": run, "roc_auc": round(m["roc_auc"]["value"], 4),
                           "ef1": round(m["ef1"]["value"], 3)})
            files.append(f)
    means = {n: float(np.mean([p["roc_auc"] for p in points if p["targets"] == n])) for n in RUNS}
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=120)
    ax.scatter([p["targets"] for p in points], [p["roc_auc"] for p in points], color="0.6", label="one run (seed)")
    ax.plot(list(means), list(means.values()), "o-", color="C0", label="seed mean")
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(RUNS), [str(n) for n in RUNS])
    ax.set_xlabel("screening targets trained on (v34 final fold)")
    ax.set_ylabel("v34 mean ROC AUC (35 unseen targets)")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("atomgrid: v34 ranking against training targets", fontsize=8)
    fig.tight_layout()
    out = Path("docs/figures/atomgrid_target_scaling.png")
    fig.savefig(out)
    write_results(R / "atomgrid_target_scaling-v34.json", "atomgrid_target_scaling",
                  {"points": points, "seed_means": {str(n): round(v, 4) for n, v in means.items()},
                   "plot": str(out)}, data=files, settings={"runs": RUNS})
    print(f"seed means {means}; {out}")


if __name__ == "__main__":
    main()
