"""Write an `atomgrid crossval --outside` index that points at pack DEKOIS targets under new names (a check that the
outside path reproduces the protocol's rows; the real use is sets the pack does not hold).

    python campaigns/atomgrid-affinity/outside_demo_index.py /tmp/outside_demo/index.csv PDE5 CATL
    atomgrid evaluate --protocol cross-target --outside /tmp/outside_demo/index.csv --pose-model ag-atomnet-c16-l3-g16r15 \
        --max-decoys 200 --embed-timeout 30 --threads 1 --rotations 16 --json <file>
"""
import csv
import sys
from pathlib import Path

from atomgrid.data import drug_root


def main(out: str, targets: list[str]) -> None:
    d = drug_root() / "dekois2"
    rows = {r["target"]: r for r in csv.DictReader(open(d / "index.csv"))}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["target", "actives", "decoys", "receptor", "crystal_ligand"])
        for t in targets:
            r = rows[t]
            w.writerow([f"{t}-renamed"] + [str(d / r[c]) for c in ("actives", "decoys", "receptor", "crystal_ligand")])
    print(f"{out}: {len(targets)} targets")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
