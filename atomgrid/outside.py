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
:func:`nearest_training_protein` measures it instead: the outside receptor's residue sequence is aligned to each of
the model's training targets' receptors (BLOSUM62, affine gaps, free end gaps) and the best are scored against
shuffled sequences; a z-score >= :data:`HOMOLOG_Z` marks a homolog, whose figure is never read as cross-target.
The proteins of the pose/affinity training data (PDBbind core-2013 and toy complexes, the FEP systems) are checked
the same way (:func:`pose_affinity_receptors`): the shipped model started from a pose model that learnt them.
"""
from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np

OUTSIDE_PREFIX = "outside:"  # an outside target's name in the protocol's results ("outside:<target>")
# The homology check: an alignment score far above those of the same sequences shuffled (PRSS's z-score, 20
# shuffles) means shared ancestry whatever the identity. Pairs in one family of the protocol's table reach z 15-196
# (JNK1/CDK2 40 at identity 0.39, PDE4B/PDE5 40 at 0.33, ER-beta/PR 15 at 0.28) and unrelated ones -0.6 to 0.9 (their
# identity up to 0.25 when lengths differ: free end gaps let a short chain pick its matches), so the z-score, not
# the identity, decides (benchmarks/results/atomgrid_identity-dekois-pairs.json, campaigns/atomgrid-affinity/identity_pairs.py).
HOMOLOG_Z = 10.0  # at or above: a homolog of a training protein (the figure is not cross-target)
POSSIBLE_Z = 5.0  # between this and HOMOLOG_Z: possibly related, check by hand
SHUFFLES = 20
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
            r[key], r[f"{key}_unreadable"] = read_library(r[f"{key}_file"])
            if r[f"{key}_unreadable"]:
                print(f"{target}: {r[f'{key}_unreadable']} records of {r[f'{key}_file']} could not be read "
                      f"(left out; {len(r[key])} {key} kept)", flush=True)
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


def read_library(path: Path) -> tuple[list[tuple[str, str]], int]:
    """((name, SMILES) of every readable record of an SDF (gzipped or not) or a SMILES file, how many records could
    not be read: left out, counted and reported, never silently)."""
    from rdkit import Chem

    from .data import sdf_records
    name = path.name.lower()
    if name.endswith((".sdf", ".sdf.gz", ".mol", ".sd")):
        return sdf_records(path)
    out, bad = [], 0
    for k, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        parts = line.split()
        if not parts or parts[0].startswith("#") or parts[0].lower() == "smiles":
            continue
        m = Chem.MolFromSmiles(parts[0])
        if m is None:
            bad += 1
            continue
        out.append((parts[1] if len(parts) > 1 else f"mol{k}", Chem.MolToSmiles(m)))
    return out, bad


def unreadable(target: str) -> dict[str, int]:
    """{actives, decoys: records of a registered target's libraries that could not be read} (after
    :func:`target_files`)."""
    return {k: _REGISTRY[target].get(f"{k}_unreadable", 0) for k in ("actives", "decoys")}


@functools.lru_cache(maxsize=None)
def _sequence_of(path: str) -> str:
    return receptor_sequence(path)


def receptor_sequence(path: str | Path) -> str:
    """One-letter sequence of a PDB/PDBQT receptor's residues, in file order (chains concatenated; waters,
    ions and other hetero groups left out; unknown amino-acid names as X)."""
    import gzip
    seq, last = [], None
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
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


def _dp(A: np.ndarray, B: np.ndarray, gap_open: float, gap_extend: float, trace: bool):
    """Global alignment of code arrays ``A`` and ``B`` (BLOSUM62, affine gaps, free end gaps): (score, identical
    aligned pairs; None without ``trace``)."""
    n, m = len(A), len(B)
    ramp = gap_extend * np.arange(m + 1)
    cols = np.arange(m + 1)
    prev = np.zeros(m + 1)  # row 0 and column 0 stay 0: free leading gaps
    X = np.full(m + 1, -np.inf)  # ends in a gap in b (a vertical move)
    last_col = np.zeros(n + 1)
    if trace:
        H = np.zeros((n + 1, m + 1))
        from_t = np.zeros((n + 1, m + 1), bool)  # H is T (diagonal or vertical), not a horizontal gap
        t_diag = np.zeros((n + 1, m + 1), bool)  # T is the diagonal move (else the vertical gap)
        x_open = np.zeros((n + 1, m + 1), bool)  # the vertical gap opens from H one row up (else it extends)
        y_from = np.zeros((n + 1, m + 1), np.int64)  # where a horizontal gap ending here left T
    for i in range(1, n + 1):
        diag = prev[:-1] + _SUB[A[i - 1], B]
        opened, extended = prev - gap_open, X - gap_extend
        X = np.maximum(opened, extended)
        T = np.empty(m + 1)
        T[0] = 0.0
        T[1:] = np.maximum(diag, X[1:])
        # a horizontal gap from column k < j: T[k] - open - extend * (j - 1 - k); the best k by a running maximum
        v = T + ramp
        run = np.maximum.accumulate(v)
        Y = np.full(m + 1, -np.inf)
        Y[1:] = run[:-1] - gap_open - ramp[:-1]
        row = np.maximum(T, Y)
        row[0] = 0.0
        if trace:
            x_open[i] = opened >= extended
            t_diag[i, 1:] = diag >= X[1:]
            y_from[i, 1:] = np.maximum.accumulate(np.where(v >= run, cols, 0))[:-1]
            from_t[i] = T >= Y
            from_t[i, 0] = True
            H[i] = row
        last_col[i] = row[m]
        prev = row
    # free trailing gaps: the alignment ends at the best cell of the last row or the last column
    i, j = n, int(np.argmax(prev))
    score = prev[j]
    if last_col.max() > score:
        i, j, score = int(np.argmax(last_col)), m, last_col.max()
    if not trace:
        return float(score), None
    same, state = 0, "H"
    while i > 0 and j > 0:
        if state == "H" and not from_t[i, j]:
            j, state = int(y_from[i, j]), "T"  # back to the horizontal gap's start, where T holds
        elif state in ("H", "T"):
            if t_diag[i, j]:
                same += int(A[i - 1] == B[j - 1] and A[i - 1] != 20)
                i, j, state = i - 1, j - 1, "H"
            else:
                state = "X"
        else:  # a vertical gap at (i, j)
            state = "H" if x_open[i, j] else "X"
            i -= 1
    return float(score), same


def align(a: str, b: str, gap_open: float = 10.0, gap_extend: float = 0.5) -> tuple[float, float]:
    """(score, identity) of a global alignment of ``a`` and ``b`` (BLOSUM62, affine gaps of ``gap_open`` for the
    first position and ``gap_extend`` for each further one: EMBOSS needle's defaults) with free end gaps, so a domain
    inside a longer chain aligns without penalty; identity = identical aligned pairs over the shorter length.
    (0.0, 0.0) when either is empty."""
    if not a or not b:
        return 0.0, 0.0
    score, same = _dp(_codes(a), _codes(b), gap_open, gap_extend, True)
    return score, same / min(len(a), len(b))


def identity(a: str, b: str) -> float:
    """Sequence identity of ``a`` and ``b`` (:func:`align`)."""
    return align(a, b)[1]


def zscore(a: str, b: str, score: float | None = None, shuffles: int = SHUFFLES, seed: int = 0) -> float:
    """How far the alignment score of ``a`` and ``b`` lies above the scores of ``a`` against ``shuffles``
    shuffles of ``b`` (same composition and length), in standard deviations of those; 0.0 when either is empty."""
    if not a or not b:
        return 0.0
    A, B = _codes(a), _codes(b)
    if score is None:
        score = _dp(A, B, 10.0, 0.5, False)[0]
    rng = np.random.default_rng(seed)
    null = np.asarray([_dp(A, rng.permutation(B), 10.0, 0.5, False)[0] for _ in range(shuffles)])
    return float((score - null.mean()) / max(null.std(), 1e-9))


def nearest_protein(receptor: str | Path, candidates: dict, top: int = 5) -> dict:
    """The candidate protein most related to ``receptor`` (``candidates``: name -> receptor file): every candidate is
    aligned, the ``top`` best by score and the ``top`` best by score per residue are tested against shuffles
    (:func:`zscore`) and the highest z wins. Returns
    {target (the name), identity, z, homolog (z >= :data:`HOMOLOG_Z`), possible (:data:`POSSIBLE_Z` <= z <
    HOMOLOG_Z: check by hand)}; {} when the receptor or every candidate has no residues."""
    seq = receptor_sequence(receptor)
    aligned: dict[str, tuple] = {}  # receptor file -> (score, identity, its sequence, first name with it)
    for name, path in candidates.items():
        key = str(Path(path).resolve())
        if key not in aligned:
            other = _sequence_of(key)  # the candidates' files are read once per process, not once per target
            if other:
                aligned[key] = (*align(seq, other), other, name)
    if not aligned or not seq:
        return {}
    # long chains reach high raw scores by length alone; short homologs show in the score per residue of the shorter
    # chain: the ``top`` best of each ranking are tested
    rows = list(aligned.values())
    by_raw = sorted(rows, key=lambda r: -r[0])[:top]
    by_norm = sorted(rows, key=lambda r: -r[0] / max(1, min(len(seq), len(r[2]))))[:top]
    best = {r[3]: r for r in by_raw + by_norm}.values()
    z, _, ident, name = max((zscore(seq, other, score), score, ident, name) for score, ident, other, name in best)
    return {"target": name, "identity": round(ident, 3), "z": round(z, 1), "homolog": z >= HOMOLOG_Z,
            "possible": POSSIBLE_Z <= z < HOMOLOG_Z}


def nearest_training_protein(receptor: str | Path, train_targets, receptor_of) -> dict:
    """:func:`nearest_protein` among the receptors of ``train_targets`` (``receptor_of``: target -> its receptor
    file, or None when it has none here), with the nearest target's protocol family."""
    from .families import FAMILIES
    files = {t: receptor_of(t) for t in train_targets}
    near = nearest_protein(receptor, {t: p for t, p in files.items() if p is not None})
    if near:
        near["family"] = FAMILIES.get(near["target"], (None,))[0]
    return near


def pose_affinity_receptors() -> dict[str, Path]:
    """{protein key: a receptor file} of every protein the pose/affinity training sets hold (``atomgrid prepare
    --kind train`` and ``train-recommended``: PDBbind core-2013 and toy complexes by UniProt, the FEP systems as
    ``fep:<group>/<system>``): what the shipped screening model's start and the pK pair learnt poses and affinities
    of. {} without the data pack."""
    return dict(_pose_affinity_receptors())  # the pack is scanned once per process


@functools.lru_cache(maxsize=1)
def _pose_affinity_receptors() -> dict[str, Path]:
    from .data import drug_root, fep_systems, read_ids, uniprot_target
    try:
        root = drug_root()
    except FileNotFoundError:
        return {}
    out: dict[str, Path] = {}
    splits = root / "splits"
    for cid in sorted(set(read_ids(splits / "core2013_train_ids.txt")) | set(read_ids(splits / "core2013_train_ids_strict.txt"))):
        out.setdefault(uniprot_target(cid), root / "pdbbind_core2013" / "complexes" / cid / "receptor.pdbqt.gz")
    for cid in sorted(read_ids(splits / "toy_train_ids.txt")):
        out.setdefault(uniprot_target(cid), root / "pdbbind_toy" / "toy_set" / cid / f"{cid}_protein.pdb")
    for r in fep_systems(exclude_casf=False):
        out.setdefault(f"fep:{r['group']}/{r['target']}", root / "fep_sets" / r["protein_file"])
    return {k: p for k, p in out.items() if p.exists()}
