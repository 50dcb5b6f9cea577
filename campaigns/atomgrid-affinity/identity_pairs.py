"""Sequence identity and alignment z-score against shuffles (atomgrid.outside.align / zscore) of pairs of DEKOIS
receptors whose relation the protocol's family table states: what the homology check of `atomgrid crossval
--outside` reads as a homolog (z >= 10) and what it does not.

    python campaigns/atomgrid-affinity/identity_pairs.py benchmarks/results/atomgrid_identity-dekois-pairs.json
"""
import sys

from atomgrid import data as agdata
from atomgrid.families import FAMILIES
from atomgrid.outside import HOMOLOG_Z, POSSIBLE_Z, SHUFFLES, align, receptor_sequence, zscore
from traincore.provenance import write_results

PAIRS = [("JNK1", "JNK3"), ("JNK1", "JNK2"), ("EGFR", "ERBB2"), ("VEGFR1", "VEGFR2"), ("COX1", "COX2"), ("PIM-1", "PIM-2"),
         ("PPARA", "PPARG"), ("CATL", "CTSK"), ("GR", "PR"), ("SRC", "LCK"), ("JNK1", "CDK2"), ("PDE4B", "PDE5"),
         ("ER-beta", "PR"), ("ACE", "DHFR"), ("HIV1PR", "TS"), ("JNK1", "ACE"), ("BCL2", "PNP"),
         ("INHA", "11betaHSD1"), ("INHA", "17betaHSD1")]


def main(out: str) -> None:
    idx = agdata.dekois_index()
    root = agdata.drug_root() / "dekois2"
    seq = {}
    rows = []
    for a, b in PAIRS:  # related as the protocol's family table (atomgrid.families) says
        rel = ("same family" if FAMILIES[a][0] == FAMILIES[b][0] else
               "same superfamily" if FAMILIES[a][1] == FAMILIES[b][1] else "different superfamilies")
        for t in (a, b):
            if t not in seq:
                seq[t] = receptor_sequence(root / idx[t]["receptor"])
        score, x = align(seq[a], seq[b])
        z = zscore(seq[a], seq[b], score)
        rows.append({"a": a, "b": b, "relation": rel, "length_a": len(seq[a]), "length_b": len(seq[b]),
                     "score": score, "identity": round(x, 3), "z": round(z, 1),
                     "homolog": z >= HOMOLOG_Z, "possible": POSSIBLE_Z <= z < HOMOLOG_Z})
        verdict = "homolog" if z >= HOMOLOG_Z else "possible" if z >= POSSIBLE_Z else "-"
        print(f"{a:8s} {b:8s} identity {x:.3f} z {z:6.1f} {verdict:8s} {rel} ({FAMILIES[a][0]} / {FAMILIES[b][0]})")
    write_results(out, "atomgrid_identity", {"homolog_z": HOMOLOG_Z, "possible_z": POSSIBLE_Z,
                                             "shuffles": SHUFFLES, "pairs": rows},
                  data=sorted({root / idx[t]["receptor"] for t in seq}), settings={"pairs": len(rows)})
    print(f"results written to {out}")


if __name__ == "__main__":
    main(sys.argv[1])
