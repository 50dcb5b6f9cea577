"""Rule L's cross-fitted evaluation: one ``atomgrid evaluate --json`` file made of several models' evaluations on
the same cache, each complex scored by the first model (in the order given) whose screening data (its meta's
``train_targets``) holds no target of the complex's protein family.

    python campaigns/atomgrid-affinity/crossfit.py --eval A.json B.json --json OUT.json

The complex's families: its protein's screening group (``atomgrid.families.affinity_group``, when the protein is
placed there) and the group of every DEKOIS target whose UniProt keys (``atomgrid.data.dekois_uniprots``: the
receptor entry's and the actives' tags) include it. A complex no model may score is an error; so is a model without
``train_targets`` (it would have learnt every target's actives). The output has the evaluate file's shape, so
``atomgrid compare`` reads it; each complex records which model scored it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from atomgrid import data as agdata  # noqa: E402
from atomgrid import families as fam  # noqa: E402
from atomgrid.metrics import pearson, rmse, spearman  # noqa: E402
from atomgrid.models import load_weights  # noqa: E402
from traincore.provenance import write_results  # noqa: E402


def protein_families(keys, level: str = "family") -> dict[str, set[str]]:
    """{protein key: its screening groups} for the ``keys`` of a pose/affinity cache (see the module doc)."""
    by_uniprot: dict[str, set[str]] = {}
    for t in fam.FAMILIES:
        if not t.startswith("dude:"):
            for u in agdata.dekois_uniprots(t):
                by_uniprot.setdefault(u, set()).add(fam.group_of(t, level))
    out = {}
    for k in keys:
        groups = set(by_uniprot.get(k, ()))
        try:
            groups.add(fam.affinity_group(k, level))
        except ValueError:  # a validation protein never placed (it trains nothing)
            pass
        out[k] = groups
    return out


def splice(evals: list[dict], model_targets: list[list[str]], cache: dict, level: str = "family",
           fams: dict[str, set[str]] | None = None) -> dict:
    """The complexes of ``evals`` (evaluate figures on ``cache``), each taken from the first model whose training
    targets share no family with it (``fams``: {protein key: groups}, default :func:`protein_families`). Raises
    ValueError when the evaluations differ or a complex has no model."""
    ids = [c["id"] for c in evals[0]["complexes"]]
    for e in evals[1:]:
        if sorted(c["id"] for c in e["complexes"]) != sorted(ids):
            raise ValueError(f"{e['model']} and {evals[0]['model']} were evaluated on different complexes")
    target_of = {e["id"]: e["target"] for e in cache["examples"] if ":" not in e["source"]}
    fams = fams if fams is not None else protein_families(sorted(set(target_of.values())), level)
    trained = [{fam.group_of(t, level) for t in ts if t in fam.FAMILIES} for ts in model_targets]
    preds = [{c["id"]: c for c in e["complexes"]} for e in evals]
    rows, counts = [], [0] * len(evals)
    for i in ids:
        groups = fams[target_of[i]]
        k = next((k for k, tr in enumerate(trained) if not (tr & groups)), None)
        if k is None:
            raise ValueError(f"{i} ({target_of[i]}, {sorted(groups)}): every model learnt a target of its family")
        counts[k] += 1
        rows.append({**preds[k][i], "model": evals[k]["model"], "families": sorted(groups)})
    truth = {e["id"]: float(e["pK"]) for e in cache["examples"] if ":" not in e["source"]}
    y = np.asarray([truth[r["id"]] for r in rows])
    p = np.asarray([r["pred"] for r in rows])
    return {"model": "crossfit:" + "+".join(e["model"] for e in evals), "name": "crossfit",
            "models": [{"model": e["model"], "model_sha256": e.get("model_sha256"), "complexes": n,
                        "train_targets": ts} for e, n, ts in zip(evals, counts, model_targets)],
            "n": len(rows), "cache": evals[0]["cache"], "rotations": evals[0].get("rotations"),
            "affinity": {"pearson": {"value": pearson(y, p)}, "spearman": {"value": spearman(y, p)},
                         "rmse": {"value": rmse(y, p)}},
            "pose_auc": {"value": float(np.mean([e["pose_auc"]["value"] for e in evals]))},
            "complexes": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval", nargs="+", required=True, help="atomgrid evaluate --json files, in order of preference")
    ap.add_argument("--json", required=True, help="the spliced evaluation file to write")
    ap.add_argument("--level", default="family")
    args = ap.parse_args(argv)
    docs = [json.loads(Path(p).read_text()) for p in args.eval]
    evals = [d["figures"][0] for d in docs]
    targets = []
    for p, e in zip(args.eval, evals):
        _, meta = load_weights(ROOT / e["model"])
        if not meta.get("train_targets"):
            raise SystemExit(f"crossfit: {p}: its model lists no train_targets (it may have learnt every target)")
        targets.append(list(meta["train_targets"]))
    caches = {e["cache"] for e in evals}
    if len(caches) != 1:
        raise SystemExit(f"crossfit: the evaluations name different caches {sorted(caches)}")
    cache = agdata.load_cache(ROOT / caches.pop())
    try:
        fig = splice(evals, targets, cache, args.level)
    except ValueError as exc:
        raise SystemExit(f"crossfit: {exc}") from None
    write_results(args.json, "atomgrid_evaluate", [fig], models=[ROOT / e["model"] for e in evals],
                  data=[Path(p) for p in args.eval], settings={"crossfit": args.eval, "level": args.level})
    print(f"{fig['n']} complexes: " + ", ".join(f"{m['complexes']} by {m['model']}" for m in fig["models"])
          + f"; Pearson R {fig['affinity']['pearson']['value']:.3f}")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
