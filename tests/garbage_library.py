"""A screening library with a known share of garbage, for the `atomgrid score` robustness tests.

``write_garbage_library(path, n_records, n_garbage, seed)`` writes a SMILES file of ``n_records`` lines
(``n_garbage`` of them bad: metal complexes, radicals, binary lines, bare names, empty lines, huge
molecules, mixtures) and returns the expected kind of every record in file order, so a test (40 records)
or a slow test / benchmark (1,000 records, 5% garbage) can check that every bad record gets an error row
and no score. All molecules are made up here; no data set is copied.
"""
from __future__ import annotations

import random
from pathlib import Path

GOOD = [  # small drug-like molecules (common drugs; SMILES written by hand)
    "CC(=O)Oc1ccccc1C(=O)O", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "CC(=O)Nc1ccc(O)cc1", "OC(=O)c1ccccc1O",
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C", "c1ccc2c(c1)cccn2", "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl", "NC(=O)c1cccnc1",
    "CC(C)NCC(O)COc1cccc2ccccc12", "COc1ccc2[nH]cc(CCN)c2c1", "OC(=O)CCc1ccccc1", "Cc1ccccc1NC(=O)CN1CCCC1",
    "c1ccc(cc1)C(=O)Nc1ccccc1", "OCC1OC(O)C(O)C(O)C1O", "CC(=O)c1ccc(N)cc1", "Oc1ccc(cc1)C(=O)O",
    "CCN(CC)CC(=O)Nc1c(C)cccc1C", "O=C1NC(=O)C(N1)(c1ccccc1)c1ccccc1", "Clc1ccc(cc1)C(=O)O", "CS(=O)(=O)c1ccc(N)cc1",
]
SALTS = ["[Na+].[O-]C(=O)c1ccccc1", "Cl.CN(C)CCCN1c2ccccc2CCc2ccccc21", "CC(=O)Nc1ccc(O)cc1.O"]

GARBAGE = {  # kind -> generators of one line (given a random source)
    "metal": [lambda r: "[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", lambda r: "N.N.Cl[Pt]Cl",
              lambda r: "CCCC[Sn](CCCC)(CCCC)Cl", lambda r: "C[Hg]Cl", lambda r: "CC[Hg]Sc1ccccc1C(=O)[O-].[Na+]"],
    "radical": [lambda r: "[CH3]", lambda r: "CC(C)(C)O[O]", lambda r: "c1ccccc1[CH2]"],
    "binary": [lambda r: b"\x00" + bytes(r.randrange(256) for _ in range(40)).replace(b"\n", b"\x00").replace(b"\r", b"\x01")],
    "name": [lambda r: "aspirin", lambda r: "Ibuprofen_sodium"],
    "empty": [lambda r: ""],
    "huge": [lambda r: "C" * 120, lambda r: "C" * 1500, lambda r: "CC(=O)N" * 30],
    "mixture": [lambda r: "c1ccccc1C(=O)O.CC(C)Cc1ccc(cc1)C(C)C(=O)O"],
}


def write_garbage_library(path: str | Path, n_records: int = 40, n_garbage: int = 8, seed: int = 0) -> list[str]:
    """Write the library; return the kind of each record in order ('good', 'salt' or a GARBAGE key).

    Garbage kinds cycle so that every kind appears once ``n_garbage`` >= 7; the last record is always
    good (blank lines at the very end of a file are not records)."""
    rng = random.Random(seed)
    kinds = list(GARBAGE)
    slots = sorted(rng.sample(range(n_records - 1), n_garbage))
    out: list[bytes] = []
    expected: list[str] = []
    g = 0
    for i in range(n_records):
        if slots and i == slots[0]:
            slots.pop(0)
            kind = kinds[g % len(kinds)]
            g += 1
            make = rng.choice(GARBAGE[kind])
            line = make(rng)
            if isinstance(line, str):
                line = line.encode()
            if kind not in ("empty", "binary"):
                line += f" bad{i}_{kind}".encode()
            out.append(line)
            expected.append(kind)
        elif i % 10 == 3:
            out.append(f"{SALTS[i % len(SALTS)]} salt{i}".encode())
            expected.append("salt")
        else:
            out.append(f"{GOOD[i % len(GOOD)]} mol{i}".encode())
            expected.append("good")
    Path(path).write_bytes(b"\n".join(out) + b"\n")
    return expected
