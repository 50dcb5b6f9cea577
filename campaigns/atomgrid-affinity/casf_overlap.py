"""Which DEKOIS 2.0 molecules (actives and decoys of every target) are CASF-2016 test ligands, by heavy-atom graph
(`atomgrid.data.heavy_graph_key`: elements and connectivity only, so stereoisomers and tautomers match too).

    python campaigns/atomgrid-affinity/casf_overlap.py --json benchmarks/results/atomgrid_casf_overlap-dekois.json

Models trained on the DEKOIS screening caches (the screening recipes, rule C's and rule L's models) saw these
molecules as actives or decoys, and, with ``data.screen_affinity``, an active's measured pK when its target is not a
CASF-2016 protein; their CASF-2016 figures must be read with this list. The output names molecules and PDB ids only
(no measured affinity).
"""
from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from rdkit import Chem, RDLogger  # noqa: E402

from atomgrid import data as agdata  # noqa: E402
from traincore.provenance import write_results  # noqa: E402


def overlap() -> list[dict]:
    keys = agdata.casf_test_ligand_keys()
    casf = agdata.casf_uniprots()
    rows = []
    for target, row in sorted(agdata.dekois_index().items()):
        casf_protein = bool(agdata.dekois_uniprots(target) & casf)
        for kind in ("actives", "decoys"):
            with gzip.open(agdata.drug_root() / "dekois2" / row[kind]) as f:
                for mol in Chem.ForwardSDMolSupplier(f, sanitize=False):
                    if mol is None:
                        continue
                    try:
                        key = agdata.heavy_graph_key(mol)
                    except Exception:  # noqa: BLE001 - a record RDKit cannot rewrite is no match
                        continue
                    if key in keys:
                        rows.append({"target": target, "kind": kind[:-1], "name": mol.GetProp("_Name"),
                                     "casf_pdbid": keys[key], "target_is_casf_protein": casf_protein})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", required=True)
    args = ap.parse_args(argv)
    RDLogger.DisableLog("rdApp.*")
    rows = overlap()
    actives = [r for r in rows if r["kind"] == "active"]
    labelled = [r for r in actives if not r["target_is_casf_protein"]]
    fig = {"matches": rows, "n": len(rows), "actives": len(actives),
           "actives_of_non_casf_protein_targets": len(labelled),
           "casf_ids": sorted({r["casf_pdbid"] for r in rows})}
    write_results(args.json, "atomgrid_casf_overlap", fig, data=[agdata.drug_root() / "dekois2" / "index.csv"])
    print(f"{len(rows)} DEKOIS records are CASF-2016 test ligands by heavy-atom graph ({len(actives)} actives, "
          f"{len(labelled)} of targets that are not CASF proteins; CASF ids {', '.join(fig['casf_ids'])})")
    print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
