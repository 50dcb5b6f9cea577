"""Measurement AK2 (rule AK, README.md): ranking within FEP series that no model under test trained on.

The FEP series of the strict training cache (`runs/atomgrid/cache_train.pt`) whose protein lies in a family the v34
final fold holds out (`atomgrid.families.held_out_targets`; `atomgrid train --fold final --validation-group v34`
drops them from every model's pose/affinity share): congeneric ligands in one pocket with a measured pK. For each
series with at least 5 ligands, the Spearman correlation of the measured pK with each model group's activity score
and its affinity head (16 rotations, seeds averaged per ligand), the mean over series with a bootstrap interval over
series, and paired differences between the groups. Measured pK stays in the cache: the JSON carries correlations only.

    python campaigns/atomgrid-affinity/series_rank.py \\
        --models c48=campaigns/atomgrid-affinity/rule-x/c48-s10-final-v34.pt,campaigns/atomgrid-affinity/rule-x/c48-s11-final-v34.pt \\
                 series=runs/atomgrid/v34/series-s10/final/model.pt,runs/atomgrid/v34/series-s11/final/model.pt \\
        --json benchmarks/results/atomgrid_series-v34-heldout-series-vs-c48.json
"""
from __future__ import annotations

import argparse

import numpy as np

from atomgrid import data as agdata
from atomgrid.crossval import mean_with_interval
from atomgrid.evaluate import score
from atomgrid.families import folds_of, held_out_targets
from atomgrid.metrics import spearman
from atomgrid.models import file_sha256, load_model
from atomgrid.train import drop_held_out_proteins
from traincore.provenance import write_results


def held_out_series(cache: dict, group: str, min_ligands: int) -> dict[str, list[int]]:
    """{series: example indices}: the FEP good poses whose series the group's final fold drops, >= min_ligands each."""
    kept = drop_held_out_proteins(cache, held_out_targets(folds_of(group)[1]), "family")
    trained = {e["target"] for e in kept["examples"]}
    out: dict[str, list[int]] = {}
    for i, e in enumerate(cache["examples"]):
        if e["source"] == "fep" and e["good"] and np.isfinite(e["pK"]) and e["target"] not in trained:
            out.setdefault(e["target"], []).append(i)
    return {s: v for s, v in sorted(out.items()) if len(v) >= min_ligands}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", default="runs/atomgrid/cache_train.pt")
    ap.add_argument("--group", default="v34")
    ap.add_argument("--min-ligands", type=int, default=5)
    ap.add_argument("--rotations", type=int, default=16)
    ap.add_argument("--models", nargs="+", required=True, metavar="NAME=PATH[,PATH]")
    ap.add_argument("--json")
    args = ap.parse_args()
    cache = agdata.load_cache(args.cache)
    series = held_out_series(cache, args.group, args.min_ligands)
    if not series:
        raise SystemExit(f"{args.cache}: no FEP series held out by the {args.group} final fold")
    ds = agdata.ComplexSet(cache)
    idx = sorted(i for v in series.values() for i in v)
    pos = {i: k for k, i in enumerate(idx)}
    items = [ds.sample(i) for i in idx]
    items = [(s.receptor, s.ligand, s.center) for s in items]
    pk = np.asarray([cache["examples"][i]["pK"] for i in idx])
    groups: dict[str, dict] = {}
    models = []
    for spec in args.models:
        name, paths = spec.split("=", 1)
        acts, affs = [], []
        for p in paths.split(","):
            model, meta = load_model(p, "cpu")
            a, f = score(model, meta, items, "cpu", rotations=args.rotations)
            acts.append(a)
            affs.append(f)
            models.append({"group": name, "path": p, "sha256": file_sha256(p)})
        groups[name] = {"activity": np.mean(acts, axis=0), "affinity": np.mean(affs, axis=0)}
    per_series = []
    for s, v in series.items():
        k = [pos[i] for i in v]
        per_series.append({"target": s, "ligands": len(v), "spearman": {
            name: {h: spearman(pk[k], g[h][k]) for h in ("activity", "affinity")} for name, g in groups.items()}})
    rng = np.random.default_rng(0)
    figures: dict = {"series": len(per_series), "ligands": len(idx), "models": models, "groups": {}, "paired": {},
                     "per_series": per_series}
    for name in groups:
        figures["groups"][name] = {h: mean_with_interval(np.asarray([r["spearman"][name][h] for r in per_series]), 2000, rng)
                                   for h in ("activity", "affinity")}
    names = list(groups)
    for a in names[1:]:
        figures["paired"][f"{a} - {names[0]}"] = {
            h: mean_with_interval(np.asarray([r["spearman"][a][h] - r["spearman"][names[0]][h] for r in per_series]),
                                  2000, rng) for h in ("activity", "affinity")}
    for name, g in figures["groups"].items():
        print(f"{name}: within-series Spearman, activity {g['activity']['value']:+.3f} "
              f"[{g['activity']['low']:+.3f}, {g['activity']['high']:+.3f}], affinity {g['affinity']['value']:+.3f} "
              f"[{g['affinity']['low']:+.3f}, {g['affinity']['high']:+.3f}] ({len(per_series)} series, {len(idx)} ligands)")
    for k, d in figures["paired"].items():
        print(f"{k}: activity {d['activity']['value']:+.3f} [{d['activity']['low']:+.3f}, {d['activity']['high']:+.3f}], "
              f"affinity {d['affinity']['value']:+.3f} [{d['affinity']['low']:+.3f}, {d['affinity']['high']:+.3f}]")
    if args.json:
        write_results(args.json, "atomgrid series ranking (held-out FEP series)", figures, models=[m["path"] for m in models],
                      data=[args.cache], settings={"group": args.group, "min_ligands": args.min_ligands,
                                                   "rotations": args.rotations})
        print(f"written: {args.json}")


if __name__ == "__main__":
    main()
