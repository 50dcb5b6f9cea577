"""Rule AB (campaigns/atomgrid-affinity/README.md): contact trees as a second screener beside the CNN, computed offline
from the protocol's poses (runs/atomgrid/screen_cv/cache_crossval.pt) and the CNNs' cached rot16 scores of the same
poses (the scores_csv of each committed crossval run).

  .venv/bin/python campaigns/atomgrid-affinity/rule_ab.py v34            choose w on v34 (seeds 10, 11) and judge it
  .venv/bin/python campaigns/atomgrid-affinity/rule_ab.py cv40 --weight W   confirm the chosen w on CV40 (43 targets)

Each writes benchmarks/results/atomgrid_rule_ab-<set>.json: per target the CNN's, S's and each blend's ROC AUC and
EF1% (the CNN's recomputed from its CSV and checked against the committed run's), the means, the paired gain of the
blend over the CNN with a bootstrap interval over targets, and the verdict.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from atomgrid import contacts as C
from atomgrid import data as agdata
from atomgrid.blend import blend_scores
from atomgrid.metrics import ACTIVITY_METRICS
from atomgrid.models import load_weights
from traincore.provenance import write_results

R = Path("benchmarks/results")
CACHE = Path("runs/atomgrid/screen_cv/cache_crossval.pt")
FEAT = Path("runs/atomgrid/screen_cv/contacts_crossval.npz")
WEIGHTS = (0.25, 0.5, 1.0)
RUNS = {"v34": [R / "atomgrid_crossval-validation34-rot16-ag-v34-c48-s10.json",
                R / "atomgrid_crossval-validation34-rot16-ag-v34-c48-s11.json"],
        "cv40": [R / "atomgrid_crossval-cv40-rot16-ag-cvsf08wd16k-clean-c48.json"]}
EXCLUDE = {"v34": {"dude:mapk2"}, "cv40": set()}  # rule X: mapk2's re-docked reference pose differs on a fresh checkout


def features() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ids, targets, labels, X [n, 155]) of every pose in the crossval cache, computed once and kept in runs/."""
    if FEAT.exists():
        z = np.load(FEAT, allow_pickle=False)
        return z["ids"], z["targets"], z["y"], z["X"]
    t0 = time.time()
    cache = agdata.load_cache(CACHE)
    ex = cache["examples"]
    X = np.stack([C.contact_features(cache["receptors"][e["receptor"]], e["ligand"]) for e in ex])
    ids = np.asarray([e["id"] for e in ex])
    targets = np.asarray([e["target"] for e in ex])
    y = np.asarray([int(e["good"]) for e in ex])
    np.savez(FEAT, ids=ids, targets=targets, y=y, X=X)
    print(f"contact features of {len(ex)} poses in {time.time() - t0:.0f} s", file=sys.stderr)
    return ids, targets, y, X


_TREES: dict[str, object] = {}


def trees_for(model_path: str, targets: np.ndarray, y: np.ndarray, X: np.ndarray):
    """S fitted on the poses of the targets ``model_path`` screened on (its meta's train_targets), memoised."""
    train = set(load_weights(model_path)[1]["train_targets"])
    key = ",".join(sorted(train))  # the v34 seeds share their training targets: one fit serves both
    if key in _TREES:
        return _TREES[key]
    from sklearn.ensemble import GradientBoostingClassifier
    keep = np.isin(targets, sorted(train))
    t0 = time.time()
    est = GradientBoostingClassifier(loss="log_loss", **C.GBT_PARAMS).fit(X[keep].astype(np.float32), y[keep])
    print(f"S for {model_path}: {int(keep.sum())} poses of {len(set(targets[keep]))} targets "
          f"({len(train)} in its meta), {time.time() - t0:.0f} s", file=sys.stderr)
    _TREES[key] = (est, sorted(train), model_path)
    return _TREES[key]


def library(run: dict) -> tuple[list[str], np.ndarray]:
    """The protocol's library of one committed crossval target entry: every sampled molecule's id in the .smi's order
    (an unposed one is absent from the scores and ranks last) and its label (1 active, 0 decoy)."""
    lib_smi = Path(run["scores_csv"]).parent / (Path(run["poses_sdf"]).name.split("_ag-atomnet")[0] + ".smi")
    lib = [line.split()[1] for line in open(lib_smi) if line.strip()]
    return lib, np.asarray([1.0 if i.startswith("A") else 0.0 for i in lib])


def per_target(run: dict, ids, targets, y, X) -> dict:
    """One committed crossval target entry -> {method: {roc_auc, ef1}} on its library (the CNN's CSV order)."""
    t = run["target"]
    lib, lab = library(run)
    assert int(lab.sum()) == run["actives"] and int((1 - lab).sum()) == run["decoys"], t
    score = {r["id"]: (float(r["score"]) if r["score"] and not r["error"] else -math.inf)
             for r in csv.DictReader(open(run["scores_csv"]))}
    model = np.asarray([score.get(i, -math.inf) for i in lib])
    est, train, _ = trees_for(run["model"], targets, y, X)
    assert t not in train, f"{t} is among the trees' training targets"
    index = {i: k for k, i in enumerate(ids)}
    rows_x = [index.get(f"{t}:{i}") for i in lib]
    have = np.asarray([k is not None for k in rows_x])
    s = np.full(len(lib), -math.inf)
    if have.any():
        s[have] = est.predict_proba(X[[k for k in rows_x if k is not None]].astype(np.float32))[:, 1]
    scores = {"model": model, "trees": s}
    for w in WEIGHTS:
        scores[f"blend_trees_{w:g}"] = blend_scores(model, s, w)
    out = {m: {k: float(ACTIVITY_METRICS[k](lab, v)) for k in ("roc_auc", "ef1")} for m, v in scores.items()}
    committed = run["methods"]["model"]["roc_auc"]["value"]
    assert abs(out["model"]["roc_auc"] - committed) < 1e-9, (t, out["model"]["roc_auc"], committed)
    for m in ("ligand_only",):
        if m in run["methods"]:
            out[m] = {k: run["methods"][m][k]["value"] for k in ("roc_auc", "ef1")}
    out["_unposed_in_cache"] = int((~have).sum())
    return out


def gain(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    d = a - b
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, len(d), (n_boot, len(d)))].mean(1)
    lo, hi = np.quantile(boots, [0.025, 0.975])
    return {"a": float(a.mean()), "b": float(b.mean()), "diff": float(d.mean()), "low": float(lo), "high": float(hi)}


def run_set(name: str, weights: tuple[float, ...]) -> dict:
    ids, targets, y, X = features()
    per_seed = []
    for path in RUNS[name]:
        doc = json.loads(path.read_text())
        got = {}
        for run in doc["figures"]["targets"]:
            if run["target"] in EXCLUDE[name]:
                continue
            got[run["target"]] = per_target(run, ids, targets, y, X)
        per_seed.append(got)
    names = sorted(per_seed[0])
    assert all(sorted(g) == names for g in per_seed)
    methods = ["model", "trees"] + [f"blend_trees_{w:g}" for w in weights] + \
        (["ligand_only"] if all("ligand_only" in g[t] for g in per_seed for t in names) else [])
    table = {t: {m: {k: float(np.mean([g[t][m][k] for g in per_seed])) for k in ("roc_auc", "ef1")} for m in methods}
             for t in names}
    mean = {m: {k: float(np.mean([table[t][m][k] for t in names])) for k in ("roc_auc", "ef1")} for m in methods}
    arr = {m: {k: np.asarray([table[t][m][k] for t in names]) for k in ("roc_auc", "ef1")} for m in methods}
    gains = {m: {k: gain(arr[m][k], arr["model"][k]) for k in ("roc_auc", "ef1")} for m in methods if m != "model"}
    return {"set": name, "targets": len(names), "seeds": len(per_seed), "runs": [str(p) for p in RUNS[name]],
            "excluded": sorted(EXCLUDE[name]), "weights": list(weights), "mean": mean, "gain_vs_model": gains,
            "per_target": table, "trees_params": C.GBT_PARAMS,
            "trees_train_targets": {v[2]: v[1] for v in _TREES.values()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("set", choices=["v34", "cv40"])
    ap.add_argument("--weight", type=float, help="cv40: the w chosen on v34")
    args = ap.parse_args(argv)
    if args.set == "v34":
        res = run_set("v34", WEIGHTS)
        best = max(WEIGHTS, key=lambda w: res["mean"][f"blend_trees_{w:g}"]["roc_auc"])
        g = res["gain_vs_model"][f"blend_trees_{best:g}"]
        res["chosen_weight"] = best
        res["passes"] = bool(g["roc_auc"]["diff"] >= 0.005 and g["roc_auc"]["low"] > 0 and g["ef1"]["diff"] >= 0)
    else:
        if args.weight is None:
            ap.error("cv40 needs --weight (the w chosen on v34)")
        res = run_set("cv40", (args.weight,))
        g = res["gain_vs_model"][f"blend_trees_{args.weight:g}"]
        res["chosen_weight"] = args.weight
        res["passes"] = bool(g["roc_auc"]["diff"] > 0 and g["ef1"]["diff"] >= 0)
    for m, v in res["mean"].items():
        extra = ""
        if m in res["gain_vs_model"]:
            r = res["gain_vs_model"][m]["roc_auc"]
            extra = f"  gain {r['diff']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}], EF1% {res['gain_vs_model'][m]['ef1']['diff']:+.2f}"
        print(f"{res['set']} {m:22s} ROC AUC {v['roc_auc']:.3f}  EF1% {v['ef1']:.2f}{extra}")
    print(f"chosen w {res['chosen_weight']:g}: {'passes' if res['passes'] else 'does not pass'}")
    models = sorted({v[2] for v in _TREES.values()})
    out = R / f"atomgrid_rule_ab-{args.set}.json"
    write_results(out, "atomgrid_rule_ab", res, models=models, data=[str(CACHE)] + res["runs"],
                  settings={"set": args.set, "weights": list(res["weights"]), "bootstrap": 1000})
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
