"""Reading receptors and ligands through RDKit, with per-record error values.

Every reader returns RDKit molecules with hydrogens exactly as the file gives them
(``removeHs=False``); ``add_hs=True`` adds the missing ones with 3D coordinates.
A record that cannot be read becomes a :class:`ReadError` (file, record index,
reason) in the output stream instead of raising, so one bad record never ends a run.
Only missing files and unknown formats raise (``AtomgridIOError``): those are
mistakes of the caller, not of a record.
"""
from __future__ import annotations

import gzip
import zlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem

RDLogger.DisableLog("rdApp.*")  # errors are reported as ReadError values instead

WATER_NAMES = frozenset({"HOH", "WAT", "H2O", "DOD", "TIP", "TIP3", "SOL"})


class AtomgridIOError(ValueError):
    """A file that cannot be opened at all (missing, unknown format)."""


@dataclass(frozen=True)
class ReadError:
    """One record that could not be read: ``path``, 0-based record ``index``, ``reason``."""

    path: str
    index: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path} record {self.index}: {self.reason}"


def is_error(x: object) -> bool:
    return isinstance(x, ReadError)


def data_root() -> Path:
    """Root of the shared data (``GRIDNETS_DATA`` or ``<repo>/../shared/data``)."""
    import os

    env = os.environ.get("GRIDNETS_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _suffixes(path: Path) -> str:
    name = path.name.lower()
    return name[:-3] if name.endswith(".gz") else name


def _read_text(path: Path) -> str:
    if not path.exists():
        raise AtomgridIOError(f"{path}: no such file")
    if path.is_dir():
        raise AtomgridIOError(f"{path}: is a folder, not a file")
    if path.name.lower().endswith(".gz"):
        try:
            with gzip.open(path, "rt", errors="replace") as f:
                return f.read()
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise AtomgridIOError(f"{path}: not readable gzip data ({exc})") from None
    return path.read_text(errors="replace")


def _finish(mol: Chem.Mol, add_hs: bool) -> Chem.Mol:
    if add_hs:
        mol = Chem.AddHs(mol, addCoords=mol.GetNumConformers() > 0)
    return mol


def _sanitize(mol: Chem.Mol) -> str | None:
    """Sanitise in place; return the RDKit reason on failure."""
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several unrelated exception classes
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else 'sanitisation failed'}"
    return None


# ----------------------------------------------------------------------------- ligands

def sd_blocks(lines: Iterable[str]) -> Iterator[str]:
    """SD records of a stream of lines (with or without line ends) -> one text block per record, each
    ending in ``$$$$\n``; a last record without its terminator is kept when it has content.

    This is the one SD splitter of atomgrid (ligand files, screening libraries, chunk files): RDKit's
    suppliers parse each block (:func:`mol_from_sd_block`), but they do not split files, because
    ``ForwardSDMolSupplier`` silently drops the record that follows a truncated one (RDKit 2026.09:
    after "Counts line too short" it skips to the next ``$$$$`` past the following record) and
    ``SDMolSupplier`` needs a seekable, uncompressed file.
    """
    block: list[str] = []
    for line in lines:
        line = line.rstrip("\r\n")
        if line.startswith("$$$$"):
            block.append("$$$$")
            yield "\n".join(block) + "\n"
            block = []
        else:
            block.append(line)
    if any(l.strip() for l in block):
        yield "\n".join(block + ["$$$$"]) + "\n"


def sd_title(block: str) -> str:
    """The first line of an SD record (its title)."""
    return block.split("\n", 1)[0].strip()


def mol_from_sd_block(block: str) -> Chem.Mol | None:
    """One SD record -> unsanitised molecule with hydrogens as given and SD tags as properties
    (RDKit's ``SDMolSupplier``), or None when RDKit cannot read it."""
    sup = Chem.SDMolSupplier()
    text = block if block.rstrip().endswith("$$$$") else block.rstrip("\n") + "\n$$$$\n"
    sup.SetData(text, sanitize=False, removeHs=False, strictParsing=False)
    try:
        return sup[0] if len(sup) else None
    except Exception:  # RDKit raises on some malformed blocks instead of returning None
        return None


def _mol_from_block(kind: str, block: str, sanitize: bool) -> tuple[Chem.Mol | None, str | None]:
    if kind == "sdf":
        mol = mol_from_sd_block(block)
    elif kind == "mol2":
        mol = Chem.MolFromMol2Block(block, sanitize=False, removeHs=False, cleanupSubstructures=True)
    elif kind == "pdb":
        mol = Chem.MolFromPDBBlock(block, sanitize=False, removeHs=False)
    else:  # smiles
        mol = Chem.MolFromSmiles(block, sanitize=False)
    if mol is None:
        return None, f"RDKit could not parse the {kind} record"
    if mol.GetNumAtoms() == 0:
        return None, "record has no atoms"
    if sanitize:
        reason = _sanitize(mol)
        if reason is not None:
            return None, reason
    return mol, None


def _mol2_blocks(text: str) -> Iterator[str]:
    parts = text.split("@<TRIPOS>MOLECULE")
    for p in parts[1:]:
        yield "@<TRIPOS>MOLECULE" + p


def pdbqt_to_pdb(text: str) -> str:
    """PDBQT text -> PDB text: ATOM/HETATM lines with the element taken from the AutoDock type.

    ``MODEL``/``ENDMDL`` lines are kept; ROOT/BRANCH/TORSDOF lines are dropped.
    """
    out = []
    for line in text.splitlines():
        rec = line[:6]
        if rec in ("ATOM  ", "HETATM"):
            adtype = line[77:79].strip() if len(line) > 77 else ""
            out.append(f"{line[:66]:<66}          {_ad_element(adtype, line):>2}")
        elif rec.startswith("MODEL") or rec.startswith("ENDMDL"):
            out.append(line)
    out.append("END")
    return "\n".join(out) + "\n"


_AD_ELEMENTS = {"A": "C", "C": "C", "N": "N", "NA": "N", "NS": "N", "OA": "O", "OS": "O", "O": "O",
                "SA": "S", "S": "S", "HD": "H", "HS": "H", "H": "H", "P": "P", "F": "F", "CL": "Cl",
                "Cl": "Cl", "BR": "Br", "Br": "Br", "I": "I", "MG": "Mg", "Mg": "Mg", "MN": "Mn", "Mn": "Mn",
                "ZN": "Zn", "Zn": "Zn", "CA": "Ca", "Ca": "Ca", "FE": "Fe", "Fe": "Fe", "CU": "Cu", "Cu": "Cu",
                "NI": "Ni", "CO": "Co", "K": "K", "NA+": "Na", "SE": "Se", "Se": "Se", "B": "B", "G0": "C",
                "G1": "C", "CG0": "C", "CG1": "C", "W": "O"}


def _ad_element(adtype: str, line: str) -> str:
    if adtype in _AD_ELEMENTS:
        return _AD_ELEMENTS[adtype]
    name = line[12:16].strip()  # fall back on the atom name, as PDB readers do
    return name[:1] if name else "C"


def _split_models(pdb_text: str) -> list[str]:
    if "MODEL" not in pdb_text:
        return [pdb_text]
    models, cur, inside = [], [], False
    for line in pdb_text.splitlines():
        if line.startswith("MODEL"):
            cur, inside = [], True
        elif line.startswith("ENDMDL"):
            models.append("\n".join(cur) + "\nEND\n")
            inside = False
        elif inside:
            cur.append(line)
    return models


def ligand_format(path: str | Path) -> str:
    s = _suffixes(Path(path))
    for ext, kind in ((".sdf", "sdf"), (".mol", "sdf"), (".mol2", "mol2"), (".smi", "smiles"),
                      (".ism", "smiles"), (".smiles", "smiles"), (".pdbqt", "pdbqt"), (".pdb", "pdb")):
        if s.endswith(ext):
            return kind
    raise AtomgridIOError(f"{path}: unknown ligand format (expected .sdf, .mol2, .smi/.ism, .pdbqt or .pdb, optionally .gz)")


def read_ligands(path: str | Path, *, sanitize: bool = True, add_hs: bool = False,
                 embed: bool = False, seed: int = 0) -> Iterator[Chem.Mol | ReadError]:
    """Stream ligand records from SDF, mol2, SMILES (.smi/.ism), PDBQT or PDB (each may be .gz).

    Yields one item per record, in file order: an RDKit ``Mol`` (property ``_Name`` set from
    the record title or SMILES id; SD tags kept as properties) or a :class:`ReadError`.
    SMILES records have no coordinates unless ``embed=True`` (ETKDG, seeded); a failed
    embedding is a ``ReadError``. ``sanitize=False`` keeps records RDKit cannot sanitise.
    """
    path = Path(path)
    kind = ligand_format(path)
    text = _read_text(path)
    if kind == "sdf":
        blocks: Sequence[str] | Iterator[str] = sd_blocks(text.splitlines())
    elif kind == "mol2":
        blocks = _mol2_blocks(text)
    elif kind == "pdbqt":
        yield from _read_pdbqt_ligands(path, text, sanitize, add_hs)
        return
    elif kind == "pdb":
        blocks = _split_models(text)
    else:
        blocks = [l for l in text.splitlines() if l.strip() and not l.startswith("#")]
    for i, block in enumerate(blocks):
        title = ""
        if kind == "smiles":
            fields = block.split()
            block, title = fields[0], (fields[1] if len(fields) > 1 else "")
        mol, reason = _mol_from_block(kind, block, sanitize)
        if mol is None:
            yield ReadError(str(path), i, reason or "unreadable")
            continue
        if title:
            mol.SetProp("_Name", title)
        if kind == "smiles" and embed:
            mol = Chem.AddHs(mol)
            params = AllChem.ETKDGv3()
            params.randomSeed = seed
            if AllChem.EmbedMolecule(mol, params) != 0:
                yield ReadError(str(path), i, "ETKDG embedding failed")
                continue
            if not add_hs:
                mol = Chem.RemoveHs(mol)
        yield _finish(mol, add_hs)


def _read_pdbqt_ligands(path: Path, text: str, sanitize: bool, add_hs: bool) -> Iterator[Chem.Mol | ReadError]:
    """PDBQT poses: proximity bonds, no bond orders; each atom keeps its AutoDock type as ``_ad_type``.

    PDBQT carries polar hydrogens only and no bond orders, so these records are never sanitised
    (``sanitize`` is ignored); typing uses the AutoDock types and the geometry instead.
    """
    models = _split_models(text) if "MODEL" in text else [text]
    for i, model in enumerate(models):
        ad = [l[77:79].strip() for l in model.splitlines() if l[:6] in ("ATOM  ", "HETATM")]
        mol, reason = _mol_from_block("pdb", pdbqt_to_pdb(model), False)
        if mol is None:
            yield ReadError(str(path), i, reason or "unreadable")
            continue
        if mol.GetNumAtoms() != len(ad):
            yield ReadError(str(path), i, f"RDKit read {mol.GetNumAtoms()} atoms, the record has {len(ad)}")
            continue
        mol.UpdatePropertyCache(strict=False)
        for atom, t in zip(mol.GetAtoms(), ad):
            atom.SetProp("_ad_type", t)
        yield _finish(mol, add_hs)


def read_ligand(path: str | Path, index: int = 0, **kw) -> Chem.Mol | ReadError:
    """Record ``index`` of a ligand file (see :func:`read_ligands`)."""
    for i, rec in enumerate(read_ligands(path, **kw)):
        if i == index:
            return rec
    return ReadError(str(path), index, "no such record")


REFERENCE_NOTE = "reference_note"  # property set by read_reference when it fell back to coordinates only


def read_reference(path: str | Path) -> Chem.Mol | ReadError:
    """The first record of a reference (crystal) ligand, for a box and a template to align on.

    Crystal-ligand mol2 files often carry aromatic typing RDKit cannot kekulise, or SYBYL records it cannot
    parse at all (15 of the 76 DEKOIS 2.0 crystal ligands). Then the record's heavy atoms are rebuilt from
    its elements and coordinates alone (bonds by distance, no bond orders): enough for a box and a shape
    overlay. The molecule then carries ``reference_note`` saying so; callers print it."""
    first = read_ligand(path)
    if not isinstance(first, ReadError):
        return first
    atoms = _reference_atoms(Path(path))
    if not atoms:
        return first
    from rdkit.Chem import rdDetermineBonds
    rw = Chem.RWMol()
    conf = Chem.Conformer(len(atoms))
    for k, (el, xyz) in enumerate(atoms):
        rw.AddAtom(Chem.Atom(el))
        conf.SetAtomPosition(k, [float(v) for v in xyz])
    rw.AddConformer(conf, assignId=True)
    try:
        rdDetermineBonds.DetermineConnectivity(rw)
        mol = rw.GetMol()
        mol.UpdatePropertyCache(strict=False)
        Chem.SanitizeMol(mol, Chem.SanitizeFlags.SANITIZE_ALL ^ Chem.SanitizeFlags.SANITIZE_PROPERTIES,
                         catchErrors=True)
    except Exception:
        return first
    mol.SetProp("_Name", Path(path).stem)
    mol.SetProp(REFERENCE_NOTE, f"{first.reason}; using its {len(atoms)} heavy atoms' elements and coordinates "
                                f"(bonds by distance, no bond orders)")
    return mol


def _reference_atoms(path: Path) -> list[tuple[str, tuple[float, float, float]]]:
    """(element, xyz) of the heavy atoms of the first record of a mol2 or SD file; [] when unreadable."""
    text = _read_text(path)
    out = []
    try:
        if ligand_format(path) == "mol2":
            block = next(iter(_mol2_blocks(text)), "")
            inside = False
            for line in block.splitlines():
                if line.startswith("@<TRIPOS>"):
                    inside = line.strip() == "@<TRIPOS>ATOM"
                    continue
                f = line.split()
                if inside and len(f) >= 6:
                    el = f[5].split(".")[0]
                    el = el[0].upper() + el[1:].lower()
                    if el != "H" and Chem.GetPeriodicTable().GetAtomicNumber(el) > 0:
                        out.append((el, (float(f[2]), float(f[3]), float(f[4]))))
        else:
            mol = next(iter(read_ligands(path, sanitize=False)), None)
            if isinstance(mol, Chem.Mol) and mol.GetNumConformers():
                xyz = mol.GetConformer().GetPositions()
                out = [(a.GetSymbol(), tuple(xyz[a.GetIdx()])) for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    except (ValueError, RuntimeError, IndexError):
        return []
    return out


def smiles_to_mol(smiles: str, *, embed: bool = True, seed: int = 0, name: str = "") -> Chem.Mol | ReadError:
    """One SMILES string -> molecule (3D with explicit H when ``embed``), or ReadError('<smiles>')."""
    mol, reason = _mol_from_block("smiles", smiles, True)
    if mol is None:
        return ReadError("<smiles>", 0, f"{reason}: {smiles!r}")
    if embed:
        mol = Chem.AddHs(mol)
        params = AllChem.ETKDGv3()
        params.randomSeed = seed
        if AllChem.EmbedMolecule(mol, params) != 0:
            return ReadError("<smiles>", 0, f"ETKDG embedding failed: {smiles!r}")
    if name:
        mol.SetProp("_Name", name)
    return mol


# ----------------------------------------------------------------------------- receptors

def read_receptor(path: str | Path, *, remove_waters: bool = True, add_hs: bool = False,
                  proximity_bonds: bool = True) -> Chem.Mol | ReadError:
    """Receptor from PDB or PDBQT (optionally .gz), unsanitised (proteins rarely sanitise).

    Waters are dropped when ``remove_waters``; for multi-model files the first model is used.
    Returns a ``ReadError`` (index 0) for unreadable content.
    """
    path = Path(path)
    s = _suffixes(path)
    if not (s.endswith(".pdb") or s.endswith(".pdbqt") or s.endswith(".ent")):
        raise AtomgridIOError(f"{path}: unknown receptor format (expected .pdb or .pdbqt, optionally .gz)")
    text = _read_text(path)
    if s.endswith(".pdbqt"):
        text = pdbqt_to_pdb(text)
    text = _split_models(text)[0] if "MODEL" in text else text
    if remove_waters:
        text = "\n".join(l for l in text.splitlines()
                         if not (l[:6] in ("ATOM  ", "HETATM") and l[17:21].strip() in WATER_NAMES))
    mol = Chem.MolFromPDBBlock(text, sanitize=False, removeHs=False, proximityBonding=proximity_bonds)
    if mol is None or mol.GetNumAtoms() == 0:
        return ReadError(str(path), 0, "RDKit read no atoms from the receptor")
    mol.UpdatePropertyCache(strict=False)
    if add_hs:
        try:
            mol = Chem.AddHs(mol, addCoords=True, addResidueInfo=True)
        except Exception as exc:
            return ReadError(str(path), 0, f"adding hydrogens failed: {exc}")
    return mol


def coordinates(mol: Chem.Mol, conf_id: int = -1) -> np.ndarray:
    """Atom coordinates ``[N, 3]`` float32 in angstroms (ValueError if the molecule has none)."""
    if mol.GetNumConformers() == 0:
        raise ValueError(f"molecule {mol.GetProp('_Name') if mol.HasProp('_Name') else ''!r} has no 3D coordinates")
    return np.asarray(mol.GetConformer(conf_id).GetPositions(), dtype=np.float32)


# ----------------------------------------------------------------------------- boxes

@dataclass(frozen=True)
class Box:
    """An axis-aligned box: ``center`` and ``size`` (edge lengths), both in angstroms."""

    center: tuple[float, float, float]
    size: tuple[float, float, float]

    def __post_init__(self):
        if len(self.center) != 3 or len(self.size) != 3:
            raise ValueError(f"Box needs 3 centre and 3 size values, got {self.center}, {self.size}")
        if any(not math.isfinite(v) for v in (*self.center, *self.size)) or min(self.size) <= 0:
            raise ValueError(f"Box size must be finite and positive, got {self.size}")

    def contains(self, xyz: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Boolean mask ``[N]`` of points inside the box grown by ``margin`` on each side."""
        c = np.asarray(self.center, dtype=np.float64)
        h = np.asarray(self.size, dtype=np.float64) / 2 + margin
        return np.all(np.abs(np.asarray(xyz, dtype=np.float64) - c) <= h, axis=1)


def autobox(ligand_xyz: np.ndarray, padding: float = 4.0) -> Box:
    """gnina's ``--autobox_ligand``: the ligand's bounding box grown by ``padding`` Å on every side."""
    xyz = np.asarray(ligand_xyz, dtype=np.float64)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or len(xyz) == 0:
        raise ValueError(f"autobox needs coordinates [N, 3] with N > 0, got shape {xyz.shape}")
    lo, hi = xyz.min(0), xyz.max(0)
    return Box(tuple(((lo + hi) / 2).tolist()), tuple((hi - lo + 2 * padding).tolist()))


def read_vina_box(path: str | Path) -> Box:
    """Box from a Vina config file (``center_x = ...``, ``size_x = ...``)."""
    vals: dict[str, float] = {}
    for line in Path(path).read_text().splitlines():
        line = line.split("#")[0]
        if "=" in line:
            k, v = (t.strip() for t in line.split("=", 1))
            if k in ("center_x", "center_y", "center_z", "size_x", "size_y", "size_z"):
                try:
                    vals[k] = float(v)
                except ValueError:
                    raise AtomgridIOError(f"{path}: {k} is not a number: {v!r}") from None
    missing = [k for k in ("center_x", "center_y", "center_z", "size_x", "size_y", "size_z") if k not in vals]
    if missing:
        raise AtomgridIOError(f"{path}: Vina box is missing {', '.join(missing)}")
    return Box((vals["center_x"], vals["center_y"], vals["center_z"]), (vals["size_x"], vals["size_y"], vals["size_z"]))


def crop_to_box(mol: Chem.Mol, box: Box, margin: float) -> np.ndarray:
    """Indices of ``mol``'s atoms inside ``box`` grown by ``margin`` Å (int64 ``[K]``)."""
    return np.nonzero(box.contains(coordinates(mol), margin))[0].astype(np.int64)
