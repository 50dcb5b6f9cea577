"""Leave-one-out check of the outside homology test (atomgrid.outside.nearest_protein): each DEKOIS target of the
pack is treated as outside and searched among all the others; its nearest hit's z-score is compared with the
protocol's family table (atomgrid.families.FAMILIES): a homolog call (z >= HOMOLOG_Z) to another family is either a
homology the table splits (its families are finer than sequence) or a false alarm; a target with a family partner in
the pack but no homolog call is a relation by function the sequence cannot see (a miss).

    python campaigns/atomgrid-affinity/identity_loo.py benchmarks/results/atomgrid_identity-dekois-loo.json
"""
import sys

from atomgrid import data as agdata
from atomgrid.families import FAMILIES
from atomgrid.outside import HOMOLOG_Z, nearest_protein
from traincore.provenance import write_results


def main(out: str) -> None:
    idx = agdata.dekois_index()
    root = agdata.drug_root() / "dekois2"
    targets = sorted(t for t in idx if t in FAMILIES)
    rows = []
    for t in targets:
        others = {o: root / idx[o]["receptor"] for o in targets if o != t}
        near = nearest_protein(root / idx[t]["receptor"], others)
        partner = any(FAMILIES[o][0] == FAMILIES[t][0] for o in others)
        same = FAMILIES[near["target"]][0] == FAMILIES[t][0]
        rows.append({"target": t, "family": FAMILIES[t][0], "has_family_partner": partner,
                     "nearest": near["target"], "nearest_family": FAMILIES[near["target"]][0],
                     "identity": near["identity"], "z": near["z"], "homolog": near["homolog"],
                     "nearest_same_family": same,
                     "same_superfamily": FAMILIES[near["target"]][1] == FAMILIES[t][1]})
        print(f"{t:10s} {FAMILIES[t][0]:24s} -> {near['target']:10s} z {near['z']:6.1f} id {near['identity']:.2f} "
              f"{'same family' if same else 'other family'}{'' if partner else ' (no partner in the pack)'}", flush=True)
    calls = [r for r in rows if r["homolog"]]
    summary = {"targets": len(rows), "homolog_calls": len(calls),
               "homolog_calls_in_another_family": [f"{r['target']}->{r['nearest']}" for r in calls
                                                    if not r["nearest_same_family"]],
               "misses": [r["target"] for r in rows if r["has_family_partner"] and not r["homolog"]],
               "homolog_z": HOMOLOG_Z}
    print(summary)
    write_results(out, "atomgrid_identity_loo", {"summary": summary, "targets": rows},
                  data=sorted({root / idx[t]["receptor"] for t in targets}), settings={"homolog_z": HOMOLOG_Z})


if __name__ == "__main__":
    main(sys.argv[1])
