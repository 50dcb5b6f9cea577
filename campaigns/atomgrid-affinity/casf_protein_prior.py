"""Measurement T: how much of CASF-2016's Pearson R a structure-blind lookup of protein means gives (campaign README).

    python campaigns/atomgrid-affinity/casf_protein_prior.py --json benchmarks/results/atomgrid_casf_protein_prior.json

T1: each of the 130 test complexes predicted by the mean -logKd/Ki of the PDBbind v2020 general-set complexes of the
same UniProt id, every CASF-2016 id left out. T2: the same from the labelled complexes the shipped pK pair learnt from
(``runs/atomgrid/cache_train_rec.pt``: core-2013 and toy complexes by their UniProt id; FEP series by the UniProt of
their system's reference PDB entry). Proteins with nothing to look up get the mean of the table. Beside them, the
shipped pair (rule H's two models, seeds averaged per complex, from their committed evaluation files) and how closely
its predictions follow T2. Only R figures and counts are written, never a measured pK.
"""
from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from atomgrid import data as agdata  # noqa: E402
from atomgrid.metrics import bootstrap, pearson, spearman  # noqa: E402
from traincore.provenance import write_results  # noqa: E402

R = ROOT / "benchmarks" / "results"
PAIR = [R / f"atomgrid_evaluate-casf2016-rot16-pose-rec-s{k}.json" for k in (0, 1)]


def boot(y, p, n=2000, seed=0) -> dict:
    value, low, high = bootstrap(pearson, y, p, n=n, seed=seed)
    return {"value": value, "low": low, "high": high, "spearman": spearman(y, p), "n": int(len(y))}


def read_index() -> tuple[dict[str, str], dict[str, float]]:
    d = agdata.drug_root() / "pdbbind_index"
    uni, pk = {}, {}
    for ln in open(d / "INDEX_general_PL_name.2020"):
        if not ln.startswith("#") and ln.strip():
            f = ln.split()
            uni[f[0].lower()] = f[2]
    for ln in open(d / "INDEX_general_PL_data.2020"):
        if not ln.startswith("#") and ln.strip():
            f = ln.split()
            pk[f[0].lower()] = float(f[3])
    return uni, pk


def fep_reference_pdb() -> dict[str, str]:
    """{'fep:<group>/<system>': reference PDB id (lower case)} from the Schrödinger sets' subset_metadata.csv."""
    out = {}
    for f in sorted((agdata.drug_root() / "fep_sets" / "schrodinger").glob("*/subset_metadata.csv")):
        for r in csv.DictReader(open(f)):
            out[f"fep:{r['Group abbreviation'].strip()}/{r['Input file naming scheme'].strip()}"] = r["Reference PDB"].strip().lower()
    return out


def lookup(table: dict[str, list[float]], keys: list[str]) -> tuple[np.ndarray, int]:
    overall = float(np.mean([v for vs in table.values() for v in vs]))
    pred = np.array([np.mean(table[k]) if k in table else overall for k in keys])
    return pred, sum(k in table for k in keys)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train-cache", default="runs/atomgrid/cache_train_rec.pt")
    ap.add_argument("--json")
    args = ap.parse_args()
    import torch
    root = agdata.drug_root()
    test = [r for r in csv.DictReader(open(root / "splits" / "casf2016_test.csv"))]
    ids = [r["pdbid"].lower() for r in test]
    y = np.array([float(r["logKa"]) for r in test])
    casf_all = {ln.split()[0].lower() for ln in open(root / "casf2016" / "CoreSet.dat") if ln.strip() and not ln.startswith("#")}
    uni, pk = read_index()
    keys = [uni.get(i, "pdb:" + i) for i in ids]
    # T1: PDBbind v2020 general set, every CASF-2016 id left out
    t1: dict[str, list[float]] = {}
    for pid, u in uni.items():
        if pid not in casf_all and pid in pk and u != "------":
            t1.setdefault(u, []).append(pk[pid])
    p1, hit1 = lookup(t1, keys)
    # T2: the labelled complexes of the shipped pair's training cache
    cache = torch.load(ROOT / args.train_cache, weights_only=False)
    refs = fep_reference_pdb()
    t2: dict[str, list[float]] = {}
    unmapped = set()
    n_used = 0
    for e in cache["examples"]:
        if e["good"] != 1 or e["source"] not in ("core2013", "toy", "fep") or not np.isfinite(e["pK"]):
            continue
        if e["target"].startswith("uniprot:"):  # core-2013 / toy (pdb:<id> when the index has no UniProt)
            u = e["target"].split(":", 1)[1]
        else:
            u = uni.get(refs.get(e["target"], ""), "")
            if not u or u == "------":
                unmapped.add(e["target"])
                continue
        t2.setdefault(u, []).append(e["pK"])
        n_used += 1
    p2, hit2 = lookup(t2, keys)
    # the shipped pair, seeds averaged per complex (its committed evaluation files)
    import json
    preds = []
    for f in PAIR:
        rows = {c["id"].lower(): c["pred"] for c in json.loads(f.read_text())["figures"][0]["complexes"]}
        preds.append(np.array([rows[i] for i in ids]))
    pair = np.mean(preds, 0)
    figures = {
        "n_test": len(ids), "proteins_in_test": len(set(keys)),
        "T1_pdbbind_general_protein_mean": {**boot(y, p1), "test_complexes_with_a_lookup": hit1,
                                            "proteins_in_table": len(t1)},
        "T2_training_data_protein_mean": {**boot(y, p2), "test_complexes_with_a_lookup": hit2,
                                          "proteins_in_table": len(t2), "labels_used": n_used,
                                          "without_uniprot": sorted(unmapped)},
        "shipped_pk_pair": boot(y, pair),
        "pair_vs_T2_pearson": pearson(pair, p2),
        "pair_vs_T1_pearson": pearson(pair, p1),
        "published_on_the_130": {"AutoDock Vina": 0.601, "X-Score": 0.670, "deltaVinaRF20": 0.751,
                                 "gnina default": 0.761, "Pafnucy": 0.747},
    }
    for k, v in figures.items():
        print(k, v if not isinstance(v, dict) else {a: (round(b, 3) if isinstance(b, float) else b) for a, b in v.items()})
    if args.json:
        write_results(args.json, "atomgrid_casf_protein_prior", figures,
                      models=[str(f) for f in PAIR],
                      data=[str(root / "splits" / "casf2016_test.csv"), str(root / "pdbbind_index" / "INDEX_general_PL_data.2020"),
                            str(root / "pdbbind_index" / "INDEX_general_PL_name.2020"), args.train_cache],
                      settings={"T1": "mean -logKd/Ki of PDBbind v2020 general-set complexes of the same UniProt, all 285 "
                                      "CASF-2016 ids left out; else the mean of the table",
                                "T2": "the same from the pair's training labels (core-2013/toy by UniProt, FEP by the "
                                      "reference PDB's UniProt)"})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
