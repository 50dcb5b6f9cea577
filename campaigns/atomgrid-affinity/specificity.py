"""Rule R's pocket-specificity measurement: on each target of a validation group (v34), its actives against N
actives of *other* targets (another superfamily; ``--sources train``: drawn from the group's final-fold training
targets, ``--sources validation``: from the group's own targets, which no model under test trained on) posed in its
pocket the same way (template poses, the pose model picks the pose). A model that reads the pocket ranks the
target's own actives above molecules that are active elsewhere; a model that learnt "what an active looks like"
cannot. Per target ROC AUC over posed molecules (unposed ones are left out on both sides), the mean with a bootstrap
interval over targets, and paired differences between named model groups (seeds averaged per target).

    python campaigns/atomgrid-affinity/specificity.py --pose-only            # pose the cross-target decoys (once)
    python campaigns/atomgrid-affinity/specificity.py \
        --models clean=runs/atomgrid/v34/clean-s10/final/model.pt,runs/atomgrid/v34/clean-s11/final/model.pt \
                 xd=runs/atomgrid/v34/xd-s10/final/model.pt,runs/atomgrid/v34/xd-s11/final/model.pt \
        --json benchmarks/results/atomgrid_specificity-v34-xd-vs-clean.json

A group measured before (its models gone) can be read from that run's JSON instead of rescored: ``--from
clean=benchmarks/results/atomgrid_specificity-v34-valsources-c32-vs-clean.json`` takes its per-target figures; the
settings (group, decoys, seed, sources, rotations) must match, each target's actives and cross-target decoys are
checked against this run's poses (a target whose counts differ is an error), and the paired figures cover the targets
both runs have.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from atomgrid import crossval as cv
from atomgrid.families import folds_of
from atomgrid.metrics import roc_auc
from atomgrid.models import POSE_MODEL, resolve_model
from atomgrid.score import ScoreOptions
from traincore.provenance import write_results

WORK = Path("runs/atomgrid/crossval")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--group", default="v34")
    ap.add_argument("--n", type=int, default=40, help="cross-target decoys per target")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", choices=("train", "validation", "isomers"), default="train",
                    help="whose actives are the cross-target decoys: the final fold's training targets (seen by the "
                         "models as actives of their own pockets) or the group's other targets (seen by no model); "
                         "'isomers': instead, positional isomers of the target's own actives (crossval.isomer_decoys_of, "
                         "measurement AJ2: does the model read where the hetero atoms sit?)")
    ap.add_argument("--pose-only", action="store_true")
    ap.add_argument("--models", nargs="*", default=[], metavar="NAME=PATH[,PATH]")
    ap.add_argument("--rotations", type=int, default=16)
    ap.add_argument("--from", dest="from_json", nargs="*", default=[], metavar="NAME=JSON",
                    help="a group's per-target figures read from an earlier run's JSON instead of rescored")
    ap.add_argument("--exclude-targets", default="", help="comma-separated targets to leave out")
    ap.add_argument("--json")
    args = ap.parse_args()
    _, final = folds_of(args.group)
    pool = final.train if args.sources == "train" else final.validation
    pose_model = str(resolve_model(POSE_MODEL))
    opts = ScoreOptions(poses="template", seed=args.seed, embed_timeout=30, rotations=1)
    tag = (f"i{args.n}_s{args.seed}" if args.sources == "isomers"
           else f"y{args.n}_s{args.seed}_spec{args.group}" + ("" if args.sources == "train" else "_val"))
    posed = {}
    excluded = {t for t in args.exclude_targets.split(",") if t}
    for t in final.validation:
        if t in excluded:
            continue
        try:
            lib = (cv.isomer_decoys_of(t, args.n, args.seed, WORK) if args.sources == "isomers"
                   else cv.cross_decoys_of(t, pool, args.n, args.seed, WORK))
            files, main_lib, _, main_sdf = cv.pose_target(t, work=WORK, model=pose_model, max_decoys=200, seed=args.seed,
                                                          pose_options=opts)
            _, _, _, x_sdf = cv.pose_target(t, work=WORK, model=pose_model, seed=args.seed, pose_options=opts,
                                            cross=(tag, lib))
        except FileNotFoundError as exc:
            print(f"{t}: skipped ({exc})", flush=True)
            continue
        actives = [i for i, _, label in main_lib if label == 1]
        posed[t] = (files, actives, main_sdf, [i for i, *_ in lib], x_sdf)
        print(f"{t}: {len(actives)} actives, {len(lib)} cross-target decoys posed", flush=True)
    if args.pose_only:
        return
    groups = {}
    for spec in args.models:
        name, paths = spec.split("=", 1)
        groups[name] = paths.split(",")
    sources_text = ("positional isomers of the target's own actives (atomgrid.crossval.isomer_decoys_of)"
                    if args.sources == "isomers" else
                    ("the group's final-fold training targets" if args.sources == "train"
                     else "the group's own targets (no model under test trained on them)") + ", another superfamily than the target")
    earlier = {}
    for spec in args.from_json:
        name, path = spec.split("=", 1)
        d = json.load(open(path))
        st = d["settings"]
        want = {"group": args.group, "cross_decoys": args.n, "seed": args.seed, "rotations": args.rotations, "sources": sources_text}
        bad = {k: (st.get(k), v) for k, v in want.items() if st.get(k) != v}
        if bad:
            raise SystemExit(f"specificity.py: --from {spec}: settings differ from this run's: {bad}")
        earlier[name] = (path, {t: row[name] for t, row in d["figures"]["targets"].items() if name in row})
        if not earlier[name][1]:
            raise SystemExit(f"specificity.py: --from {spec}: no group {name!r} in {path}")
    names_here = list(groups)
    per_target = {}
    for t, (files, actives, main_sdf, xids, x_sdf) in posed.items():
        if any(t not in got for _, got in earlier.values()):
            print(f"{t}: left out (not in every --from run)", flush=True)
            continue
        row = {}
        for name, paths in groups.items():
            aucs = []
            for m in paths:
                a = cv.posed_scores(cv.rescore_poses(files, main_sdf, m, rotations=args.rotations))
                x = cv.posed_scores(cv.rescore_poses(files, x_sdf, m, rotations=args.rotations))
                pos = [a[i] for i in actives if i in a]
                neg = [x[i] for i in xids if i in x]
                y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
                aucs.append(roc_auc(y, np.r_[pos, neg]))
            row[name] = {"roc_auc": float(np.mean(aucs)), "per_model": aucs, "actives": len(pos), "cross_decoys": len(neg)}
        here = row[names_here[0]] if names_here else None  # this run's posed counts (the same for every model)
        for name, (path, got) in earlier.items():
            old = got[t]
            if here and (old["actives"], old["cross_decoys"]) != (here["actives"], here["cross_decoys"]):
                raise SystemExit(f"specificity.py: {t}: {path} scored {old['actives']} actives and {old['cross_decoys']} "
                                 f"cross-target decoys, this run's poses give {here['actives']} and "
                                 f"{here['cross_decoys']}: not the same poses")
            row[name] = {**old, "from": path}
        per_target[t] = row
        print(t, {k: round(v["roc_auc"], 3) for k, v in row.items()}, flush=True)
    targets = sorted(per_target)

    def interval(x: np.ndarray) -> dict:  # bootstrap over targets, 2,000 draws, seed 0
        return cv.mean_with_interval(x, 2000, np.random.default_rng(0))

    names = list(groups) + list(earlier)
    mean = {name: interval(np.array([per_target[t][name]["roc_auc"] for t in targets])) for name in names}
    paired = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = np.array([per_target[t][a]["roc_auc"] - per_target[t][b]["roc_auc"] for t in targets])
            paired[f"{a} - {b}"] = {**interval(d), "higher_on": int((d > 0).sum())}
    for name in names:
        print(f"{name}: mean {mean[name]['value']:.3f} [{mean[name]['low']:.3f}, {mean[name]['high']:.3f}]")
    for k, v in paired.items():
        print(f"{k}: {v['value']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}], higher on {v['higher_on']} of {len(targets)}")
    if args.json:
        models = sorted({m for paths in groups.values() for m in paths})
        data = [path for path, _ in earlier.values()]
        write_results(args.json, "atomgrid_pocket_specificity",
                      {"targets": per_target, "mean": mean, "paired": paired},
                      models=models, data=data,
                      settings={"group": args.group, "cross_decoys": args.n, "seed": args.seed,
                                "pose_model": pose_model, "rotations": args.rotations, "sources": sources_text,
                                "models": groups, "from": {n: p for n, (p, _) in earlier.items()},
                                "excluded_targets": sorted(excluded), "unposed": "left out on both sides"})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
