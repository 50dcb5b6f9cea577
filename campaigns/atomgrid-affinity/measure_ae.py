"""Measurement AE (campaigns/atomgrid-affinity/README.md): mean-logit ensembles of the v34 models from their cached
rot16 scores of the protocol's poses: c48 s10 + clean c16 s10 against c48 s10 + s11 and c48 s10 alone.

  .venv/bin/python campaigns/atomgrid-affinity/measure_ae.py    -> benchmarks/results/atomgrid_measure_ae-v34.json
"""
from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np

from atomgrid.metrics import ACTIVITY_METRICS
from traincore.provenance import write_results

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rule_ab import gain, library  # noqa: E402  (the same library reading and bootstrap as rule AB)

R = Path("benchmarks/results")
RUNS = {"c48_s10": R / "atomgrid_crossval-validation34-rot16-ag-v34-c48-s10.json",
        "c48_s11": R / "atomgrid_crossval-validation34-rot16-ag-v34-c48-s11.json",
        "c16_s10": R / "atomgrid_crossval-validation34-rot16-ag-v34-clean-s10-rebuilt.json"}
EXCLUDE = {"dude:mapk2"}
ENSEMBLES = {"c48_s10": ["c48_s10"], "c48_s10+c48_s11": ["c48_s10", "c48_s11"], "c48_s10+c16_s10": ["c48_s10", "c16_s10"],
             "c48_s11+c16_s10": ["c48_s11", "c16_s10"], "c16_s10": ["c16_s10"]}


def logits(run: dict) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(library ids, labels, logit of the cached score; -inf for an unposed or failed molecule)."""
    lib, y = library(run)
    p = {r["id"]: float(r["score"]) for r in csv.DictReader(open(run["scores_csv"])) if r["score"] and not r["error"]}
    z = np.asarray([math.log(min(max(p[i], 1e-6), 1 - 1e-6) / (1 - min(max(p[i], 1e-6), 1 - 1e-6))) if i in p else -math.inf
                    for i in lib])
    return lib, y, z


def main() -> int:
    per = {}
    for name, path in RUNS.items():
        for run in json.loads(path.read_text())["figures"]["targets"]:
            if run["target"] in EXCLUDE:
                continue
            lib, y, z = logits(run)
            committed = run["methods"]["model"]["roc_auc"]["value"]
            assert abs(ACTIVITY_METRICS["roc_auc"](y, z) - committed) < 1e-3, (name, run["target"])
            per.setdefault(run["target"], {})[name] = (lib, y, z)
    targets = sorted(t for t, v in per.items() if len(v) == len(RUNS))
    table = {}
    for t in targets:
        libs = {n: per[t][n][0] for n in RUNS}
        assert all(v == libs["c48_s10"] for v in libs.values()), t
        y = per[t]["c48_s10"][1]
        table[t] = {}
        for e, members in ENSEMBLES.items():
            s = np.mean([per[t][m][2] for m in members], axis=0)
            table[t][e] = {k: float(ACTIVITY_METRICS[k](y, s)) for k in ("roc_auc", "ef1")}
    arr = {e: {k: np.asarray([table[t][e][k] for t in targets]) for k in ("roc_auc", "ef1")} for e in ENSEMBLES}
    res = {"targets": len(targets), "excluded": sorted(EXCLUDE), "runs": {k: str(v) for k, v in RUNS.items()},
           "mean": {e: {k: float(v.mean()) for k, v in m.items()} for e, m in arr.items()},
           "c48c16_vs_c48pair": {k: gain((arr["c48_s10+c16_s10"][k] + arr["c48_s11+c16_s10"][k]) / 2,
                                         arr["c48_s10+c48_s11"][k]) for k in ("roc_auc", "ef1")},
           "c48c16_vs_c48_s10": {k: gain(arr["c48_s10+c16_s10"][k], arr["c48_s10"][k]) for k in ("roc_auc", "ef1")},
           "c48pair_vs_c48_s10": {k: gain(arr["c48_s10+c48_s11"][k], arr["c48_s10"][k]) for k in ("roc_auc", "ef1")},
           "per_target": table}
    for e, m in res["mean"].items():
        print(f"{e:18s} ROC AUC {m['roc_auc']:.3f}  EF1% {m['ef1']:.2f}")
    for k in ("c48c16_vs_c48pair", "c48c16_vs_c48_s10", "c48pair_vs_c48_s10"):
        g = res[k]["roc_auc"]
        print(f"{k}: {g['a']:.3f} vs {g['b']:.3f}, {g['diff']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]; EF1% {res[k]['ef1']['diff']:+.2f}")
    out = R / "atomgrid_measure_ae-v34.json"
    write_results(out, "atomgrid_measure_ae", res, data=[str(p) for p in RUNS.values()], settings={"bootstrap": 1000})
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
