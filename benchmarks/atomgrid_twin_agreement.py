"""Does the model's agreement with its ligand-only twin, measured without labels, predict where the blend helps?

    PYTHONPATH=. .venv/bin/python benchmarks/atomgrid_twin_agreement.py --runs A.json [B.json ...] \
        --model 'runs/atomgrid/v34/sf08wd-s{seed}/final/model.pt' --twin 'runs/atomgrid/v34/sf08wd-lig-s{seed}/final/model.pt' \
        --seeds 10 11 --json benchmarks/results/atomgrid_twin_agreement-validation34.json

For every target of each ``atomgrid crossval --blend ligand_only:0.5`` run (one per seed), reads the per-molecule
scores the run cached beside its poses (``runs/atomgrid/crossval/<target>/..._given_rot16_model_<sha16>.csv`` and
``..._ligonly_rot16_<sha16>.csv``), takes the Spearman correlation of model and twin over the target's library (no
labels) and the blend's ROC AUC gain over the model alone (from the run), averages both over the seeds, and reports
their rank correlation across targets and what a blend gated on the agreement (blend only where rho > t) would
have given. Exploratory, for the validation group only: it chooses nothing.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atomgrid.models import file_sha256  # noqa: E402
from traincore.provenance import write_results  # noqa: E402

BLEND = "model+0.5*ligand_only"


def agreement(target: str, model_sha: str, twin_sha: str, work: Path) -> float:
    d = work / target.replace(":", "_")
    fm = glob.glob(str(d / f"lib_aall_d200_s0_*_given_rot16_model_{model_sha[:16]}.csv"))
    ft = glob.glob(str(d / f"lib_aall_d200_s0_*_ligonly_rot16_{twin_sha[:16]}.csv"))
    if not fm or not ft:
        raise SystemExit(f"{target}: no cached scores of the model and twin under {d} (run atomgrid crossval first)")
    sm = {r["id"]: float(r["score"]) for r in csv.DictReader(open(fm[0])) if r["score"] and not r["error"]}
    st = {r["id"]: float(r["ligand_only"]) for r in csv.DictReader(open(ft[0]))}
    ids = [i for i in sm if i in st and np.isfinite(st[i])]
    return float(spearmanr([sm[i] for i in ids], [st[i] for i in ids]).correlation)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, help="crossval JSONs with the blend, one per seed")
    ap.add_argument("--model", required=True, help="model path with {seed}")
    ap.add_argument("--twin", required=True, help="twin path with {seed}")
    ap.add_argument("--seeds", nargs="+", required=True)
    ap.add_argument("--work", default="runs/atomgrid/crossval")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    per: dict[str, list[tuple[float, float]]] = {}
    models = []
    for run, seed in zip(a.runs, a.seeds):
        m, t = a.model.format(seed=seed), a.twin.format(seed=seed)
        models += [m, t]
        fig = json.load(open(run))["figures"]
        for r in fig["targets"]:
            g = r["methods"][BLEND]["roc_auc"]["value"] - r["methods"]["model"]["roc_auc"]["value"]
            per.setdefault(r["target"], []).append((agreement(r["target"], file_sha256(m), file_sha256(t), Path(a.work)), g))
    rows = sorted(((k, *np.mean(v, axis=0)) for k, v in per.items()), key=lambda x: x[1])
    rho = np.array([r[1] for r in rows])
    gain = np.array([r[2] for r in rows])
    for k, r_, g in rows:
        print(f"{k:12s} agreement {r_:+.3f} blend gain {g:+.3f}")
    corr = float(spearmanr(rho, gain).correlation)
    gated = {f"{t:.1f}": float(np.mean(np.where(rho > t, gain, 0.0))) for t in (0.0, 0.1, 0.2, 0.3)}
    print(f"rank correlation of agreement and gain over {len(rows)} targets: {corr:+.3f}; mean gain ungated "
          f"{gain.mean():+.4f}; gated at rho > t: " + ", ".join(f"{t}: {v:+.4f}" for t, v in gated.items()))
    if a.json:
        write_results(a.json, "atomgrid_twin_agreement", {
            "targets": [{"target": k, "agreement": r_, "blend_gain": g} for k, r_, g in rows],
            "rank_correlation": corr, "mean_gain": float(gain.mean()), "gated_mean_gain": gated},
            models=models, data=a.runs, settings={"blend": BLEND, "seeds": a.seeds})
        print(f"results written to {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
