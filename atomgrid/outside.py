"""Targets outside the data pack (``atomgrid crossval --outside INDEX``).

Issue 17 asks for the cross-target figures "on DEKOIS targets outside the shared data": whoever holds such a target
(a DEKOIS 2.0 set withheld from the pack, or a user's own actives and decoys for a new pocket) writes a CSV in the
pack's ``dekois2/index.csv`` format and gets the protocol's per-target table (model, Vina, ligand-only twin,
heavy-atom count, 2D similarity to the model's training actives) on the same template poses.

The index: a header ``target,actives,decoys,receptor,crystal_ligand`` (more columns are ignored); paths relative to
the CSV's folder or absolute; actives and decoys as SDF (``.sdf`` / ``.sdf.gz``) or SMILES files (``SMILES name`` per
line, ``.smi`` / ``.ism`` / ``.txt``); the receptor a PDB or PDBQT file; the crystal ligand (the template and box) a
MOL2, SDF or PDB file. A target that shares its name with a pack target is refused (rename it): the protocol's
family table would otherwise treat it as that target.

Nothing in the family table covers an outside target, so the protocol cannot know whether a homolog was trained on.
:func:`nearest_training_protein` measures it instead: the global sequence identity of the outside receptor to each
of the model's training targets' receptors (from their residue records), the highest reported per target, so a
figure on a close homolog (identity >= :data:`HOMOLOG_IDENTITY`) is never read as cross-target.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

OUTSIDE_PREFIX = "outside:"  # an outside target's name in the protocol's results ("outside:<target>")
HOMOLOG_IDENTITY = 0.40  # at or above this sequence identity the target counts as a homolog of a training protein
COLUMNS = ("target", "actives", "decoys", "receptor", "crystal_ligand")

_THREE = {"ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G", "HIS": "H",
          "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S", "THR": "T", "TRP": "W",
          "TYR": "Y", "VAL": "V", "HID": "H", "HIE": "H", "HIP": "H", "HSD": "H", "HSE": "H", "HSP": "H", "CYX": "C",
          "CYM": "C", "ASH": "D", "GLH": "E", "LYN": "K", "MSE": "M", "SEC": "U"}

_REGISTRY: dict[str, dict] = {}  # "outside:<target>" -> {"receptor", "reference", "actives", "decoys"} (read lazily)


class OutsideIndexError(ValueError):
    """An outside index that cannot be used; the message is one line naming the file, row and problem."""


def read_index(path: str | Path, known=()) -> list[str]:
    """Register every target of the outside index ``path``; returns their protocol names (``outside:<target>``).
    ``known``: the pack's target names, refused as outside names."""
    path = Path(path)
    if not path.is_file():
        raise OutsideIndexError(f"--outside {path}: no such file")
    try:
        rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise OutsideIndexError(f"--outside {path}: not a readable CSV ({exc})") from None
    if not rows:
        raise OutsideIndexError(f"--outside {path}: no targets (expected a header {','.join(COLUMNS)} and a row per target)")
    missing = [c for c in COLUMNS if c not in rows[0]]
    if missing:
        raise OutsideIndexError(f"--outside {path}: missing column(s) {', '.join(missing)} (expected {','.join(COLUMNS)})")
    known = {str(k).removeprefix("dude:").lower() for k in known}
    names = []
    for n, row in enumerate(rows, start=2):
        t = (row["target"] or "").strip()
        if not t or any(c.isspace() or c in "/\\:" for c in t):
            raise OutsideIndexError(f"--outside {path}, line {n}: target name {t!r} must be non-empty, without "
                                    "spaces, slashes or colons")
        if t.lower() in known:
            raise OutsideIndexError(f"--outside {path}, line {n}: {t} is a target of the data pack; give the outside "
                                    "set another name")
        files = {}
        for col in COLUMNS[1:]:
            p = Path((row[col] or "").strip())
            p = p if p.is_absolute() else path.parent / p
            if not str(row[col] or "").strip() or not p.is_file():
                raise OutsideIndexError(f"--outside {path}, line {n}: {t}'s {col} file {p} does not exist")
            files[col] = p
        name = OUTSIDE_PREFIX + t
        if name in names:
            raise OutsideIndexError(f"--outside {path}, line {n}: target {t} listed twice")
        _REGISTRY[name] = {"receptor": files["receptor"], "reference": files["crystal_ligand"],
                           "actives_file": files["actives"], "decoys_file": files["decoys"]}
        names.append(name)
    return names


def is_outside(target: str) -> bool:
    return target.startswith(OUTSIDE_PREFIX)


def target_files(target: str) -> dict:
    """{receptor, reference, actives, decoys: [(name, SMILES)]} of a registered outside target; FileNotFoundError
    when a library file holds no readable molecule of a class."""
    if target not in _REGISTRY:
        raise FileNotFoundError(f"{target}: not registered (give its index with --outside)")
    r = _REGISTRY[target]
    out = {"receptor": r["receptor"], "reference": r["reference"]}
    for key in ("actives", "decoys"):
        if key not in r:
            r[key] = read_library(r[f"{key}_file"])
        if not r[key]:
            raise FileNotFoundError(f"{target}: no readable molecule in its {key} file {r[f'{key}_file']}")
        out[key] = r[key]
    return out


def digest(target: str) -> str:
    """First 12 hex digits of the sha256 over a registered target's four files (receptor, crystal ligand, actives,
    decoys): the key its poses and scores are cached under."""
    import hashlib
    r = _REGISTRY[target]
    h = hashlib.sha256()
    for key in ("receptor", "reference", "actives_file", "decoys_file"):
        h.update(Path(r[key]).read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:12]


def read_library(path: Path) -> list[tuple[str, str]]:
    """(name, SMILES) of every readable record of an SDF (gzipped or not) or a SMILES file."""
    from rdkit import Chem

    from .crossval import _sdf_gz_smiles
    name = path.name.lower()
    if name.endswith((".sdf", ".sdf.gz", ".mol", ".sd")):
        return _sdf_gz_smiles(path)
    out = []
    for k, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        parts = line.split()
        if not parts or parts[0].startswith("#") or parts[0].lower() == "smiles":
            continue
        m = Chem.MolFromSmiles(parts[0])
        if m is not None:
            out.append((parts[1] if len(parts) > 1 else f"mol{k}", Chem.MolToSmiles(m)))
    return out


def receptor_sequence(path: str | Path) -> str:
    """One-letter sequence of a PDB/PDBQT receptor's residues, in file order (chains concatenated; waters,
    ions and other hetero groups left out; unknown amino-acid names as X)."""
    seq, last = [], None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith("ATOM"):
                continue
            key = (line[21:22], line[22:27])  # chain, residue number + insertion code
            if key == last:
                continue
            last = key
            seq.append(_THREE.get(line[17:20].strip().upper(), "X"))
    return "".join(seq)


# BLOSUM62 (Henikoff & Henikoff 1992; NCBI's table, public domain), rows and columns in this order
_AA = "ARNDCQEGHILKMFPSTWYV"
_BLOSUM62 = """
 4 -1 -2 -2  0 -1 -1  0 -2 -1 -1 -1 -1 -2 -1  1  0 -3 -2  0
-1  5  0 -2 -3  1  0 -2  0 -3 -2  2 -1 -3 -2 -1 -1 -3 -2 -3
-2  0  6  1 -3  0  0  0  1 -3 -3  0 -2 -3 -2  1  0 -4 -2 -3
-2 -2  1  6 -3  0  2 -1 -1 -3 -4 -1 -3 -3 -1  0 -1 -4 -3 -3
 0 -3 -3 -3  9 -3 -4 -3 -3 -1 -1 -3 -1 -2 -3 -1 -1 -2 -2 -1
-1  1  0  0 -3  5  2 -2  0 -3 -2  1  0 -3 -1  0 -1 -2 -1 -2
-1  0  0  2 -4  2  5 -2  0 -3 -3  1 -2 -3 -1  0 -1 -3 -2 -2
 0 -2  0 -1 -3 -2 -2  6 -2 -4 -4 -2 -3 -3 -2  0 -2 -2 -3 -3
-2  0  1 -1 -3  0  0 -2  8 -3 -3 -1 -2 -1 -2 -1 -2 -2  2 -3
-1 -3 -3 -3 -1 -3 -3 -4 -3  4  2 -3  1  0 -3 -2 -1 -3 -1  3
-1 -2 -3 -4 -1 -2 -3 -4 -3  2  4 -2  2  0 -3 -2 -1 -2 -1  1
-1  2  0 -1 -3  1  1 -2 -1 -3 -2  5 -1 -3 -1  0 -1 -3 -2 -2
-1 -1 -2 -3 -1  0 -2 -3 -2  1  2 -1  5  0 -2 -1 -1 -1 -1  1
-2 -3 -3 -3 -2 -3 -3 -3 -1  0  0 -3  0  6 -4 -2 -2  1  3 -1
-1 -2 -2 -1 -3 -1 -1 -2 -2 -3 -3 -1 -2 -4  7 -1 -1 -4 -3 -2
 1 -1  1  0 -1  0  0  0 -1 -2 -2  0 -1 -2 -1  4  1 -3 -2 -2
 0 -1  0 -1 -1 -1 -1 -2 -2 -1 -1 -1 -1 -2 -1  1  5 -2 -2  0
-3 -3 -4 -4 -2 -2 -3 -2 -2 -3 -2 -3 -1  1 -4 -3 -2 11  2 -3
-2 -2 -2 -3 -2 -1 -2 -3  2 -1 -1 -2 -1  3 -3 -2 -2  2  7 -1
 0 -3 -3 -3 -1 -2 -2 -3 -3  3  1 -2  1 -1 -2 -2  0 -3 -1  4
"""
_SUB = np.full((21, 21), -1.0)  # index 20: any other letter (X, U), -1 against everything as in NCBI's X row
_SUB[:20, :20] = np.array(_BLOSUM62.split(), dtype=float).reshape(20, 20)


def _codes(seq: str) -> np.ndarray:
    return np.asarray([_AA.find(c) if c in _AA else 20 for c in seq], np.int64)


def identity(a: str, b: str, gap_open: float = 10.0, gap_extend: float = 0.5) -> float:
    """Sequence identity of ``a`` and ``b``: identical aligned pairs over the shorter length, from a global
    alignment (BLOSUM62, affine gaps of ``gap_open`` for the first position and ``gap_extend`` for each further
    one: EMBOSS needle's defaults) with free end gaps, so a domain inside a longer chain aligns without penalty.
    0.0 when either is empty."""
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        return 0.0
    A, B = _codes(a), _codes(b)
    ramp = gap_extend * np.arange(m + 1)
    H = np.zeros((n + 1, m + 1))  # best score ending at (i, j); row and column 0 stay 0 (free leading gaps)
    X = np.full(m + 1, -np.inf)  # ends in a gap in b (a vertical move), this row
    from_t = np.zeros((n + 1, m + 1), bool)  # H[i, j] is T (diagonal or vertical), not a horizontal gap
    t_diag = np.zeros((n + 1, m + 1), bool)  # T[i, j] is the diagonal move (else the vertical gap)
    x_open = np.zeros((n + 1, m + 1), bool)  # the vertical gap at (i, j) opens from H[i-1, j] (else extends)
    y_from = np.zeros((n + 1, m + 1), np.int64)  # the column a horizontal gap ending at (i, j) left H's T from
    cols = np.arange(m + 1)
    for i in range(1, n + 1):
        diag = H[i - 1, :-1] + _SUB[A[i - 1], B]
        opened, extended = H[i - 1] - gap_open, X - gap_extend
        X = np.maximum(opened, extended)
        x_open[i] = opened >= extended
        T = np.empty(m + 1)
        T[0] = 0.0
        T[1:] = np.maximum(diag, X[1:])
        t_diag[i, 1:] = diag >= X[1:]
        # horizontal gap from column k < j: T[k] - open - extend * (j - 1 - k), the best k by a running maximum
        v = T + ramp
        run = np.maximum.accumulate(v)
        arg = np.maximum.accumulate(np.where(v >= run, cols, 0))
        Y = np.full(m + 1, -np.inf)
        Y[1:] = run[:-1] - gap_open - ramp[:-1]
        y_from[i, 1:] = arg[:-1]
        H[i] = np.maximum(T, Y)
        from_t[i] = T >= Y
        H[i, 0] = 0.0
        from_t[i, 0] = True
    # free trailing gaps: the alignment ends at the best cell of the last row or the last column
    i, j = n, int(np.argmax(H[n]))
    if H[:, m].max() > H[n, j]:
        i, j = int(np.argmax(H[:, m])), m
    same, state = 0, "H"
    while i > 0 and j > 0:
        if state == "H" and not from_t[i, j]:
            j = int(y_from[i, j])  # the horizontal gap's start, where T holds
            state = "T"
            continue
        if state in ("H", "T"):
            if t_diag[i, j]:
                same += int(A[i - 1] == B[j - 1] and A[i - 1] != 20)
                i, j, state = i - 1, j - 1, "H"
            else:
                state = "X"
            continue
        # state X: a vertical gap at (i, j)
        state = "H" if x_open[i, j] else "X"
        i -= 1
    return same / min(n, m)


def nearest_training_protein(receptor: str | Path, train_targets, receptor_of) -> dict:
    """{target, identity} of the training target whose receptor is most identical to ``receptor`` (``receptor_of``:
    target -> its receptor file, or None when it has none here); {} when no training receptor is readable."""
    seq = receptor_sequence(receptor)
    best: dict = {}
    seen: dict[str, float] = {}
    for t in train_targets:
        path = receptor_of(t)
        if path is None:
            continue
        key = str(Path(path).resolve())
        if key not in seen:
            seen[key] = identity(seq, receptor_sequence(path))
        if not best or seen[key] > best["identity"]:
            best = {"target": t, "identity": round(seen[key], 3)}
    if best:
        best["homolog"] = best["identity"] >= HOMOLOG_IDENTITY
    return best
