"""Data sets of typed complexes from ``shared/data/drug`` and balanced sampling for training.

A *cache* is a plain dict (``torch.save``-able, loads with ``weights_only=True``)::

    {"version": 1, "receptors": {key: TypedAtoms dict}, "examples": [example dict, ...], "errors": [str]}

Each example: ``id`` (complex), ``target`` (grouping for splits and sampling weights), ``source``,
``receptor`` (key), ``ligand`` (TypedAtoms dict), ``center`` [3] (the pose's own centroid, so a
bad pose is not recognisable just by sitting off-centre), ``pK`` (nan if unknown), ``good``
(1 = crystal/modelled pose or RMSD < 2 Å, 0 = bad pose), ``rmsd`` (Å, nan if unknown).

Bad poses: QuickVina-2 poses with RMSD >= 2 Å where the data has them (core 2013); for the other
sets, rigid perturbations of the given pose (random rotation about the centroid plus a shift)
with an exact RMSD between 2.5 and 6 Å: the simplest honest decoy pose with a known RMSD.
"""
from __future__ import annotations

import csv
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from rdkit import Chem

from . import io
from .featurize import TypedAtoms, type_ligand, type_receptor
from .grid import FINAL_RADIUS_MULTIPLE
from .io import Box, ReadError
from .typing import MAX_RADIUS

CACHE_VERSION = 1
GOOD_RMSD = 2.0
# Receptor crop: sphere around the reference ligand reaching every corner of a 24 Å grid under any
# rotation, plus the density reach, the augmentation shift and the farthest pose offset we keep.
CROP_RADIUS = 12.0 * math.sqrt(3) + FINAL_RADIUS_MULTIPLE * MAX_RADIUS + 2.0 + 4.0

# FEP systems whose protein is also a CASF-2016 cluster (README of the data pack): never trained on.
CASF_OVERLAP = re.compile(r"bace|thromb|throm_|fxa|urokinase|hsp90|cdk2|p38|ptp1b|jak|tyk2|chk1|itk|brd4|brd41|"
                          r"tnks2|era_|hiv_prot", re.IGNORECASE)


def drug_root() -> Path:
    root = io.data_root() / "drug"
    if not (root / "README.md").exists():
        raise FileNotFoundError(f"protein-ligand data not found at {root} (set GRIDNETS_DATA to the shared/data folder)")
    return root


_UNIPROT: dict[str, str] = {}


def uniprot_target(pdbid: str) -> str:
    """Split key of a PDBbind complex: ``uniprot:<ID>`` from the PDBbind 2020 name index, else ``pdb:<id>``."""
    if not _UNIPROT:
        for line in open(drug_root() / "pdbbind_index" / "INDEX_general_PL_name.2020", errors="replace"):
            if not line.startswith("#"):
                f = line.split()
                if len(f) >= 3:
                    _UNIPROT[f[0].lower()] = f[2]
    u = _UNIPROT.get(pdbid.lower(), "------")
    return f"uniprot:{u}" if u != "------" else f"pdb:{pdbid.lower()}"


def read_ids(path: Path) -> list[str]:
    return [l.strip() for l in Path(path).read_text().splitlines() if l.strip() and not l.startswith("#")]


def _sphere_crop(atoms: TypedAtoms, center: np.ndarray, radius: float) -> TypedAtoms:
    keep = np.linalg.norm(atoms.xyz - center, axis=1) <= radius
    return TypedAtoms(atoms.xyz[keep], atoms.feats[keep], atoms.radii[keep])


def _rigid_decoys(lig: TypedAtoms, n: int, rng: np.random.Generator, lo: float = 2.5, hi: float = 6.0):
    """``n`` rigidly perturbed copies of a pose with RMSD in [lo, hi] Å; yields (TypedAtoms, rmsd)."""
    c = lig.xyz.mean(0)
    made = 0
    for _ in range(200 * n):
        if made == n:
            break
        q = rng.standard_normal(4)
        q /= np.linalg.norm(q)
        w, x, y, z = q
        rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        shift = rng.standard_normal(3)
        shift *= rng.uniform(0.0, 4.0) / np.linalg.norm(shift)
        xyz = (lig.xyz - c) @ rot.T + c + shift
        rmsd = float(np.sqrt(((xyz - lig.xyz) ** 2).sum(1).mean()))
        if lo <= rmsd <= hi:
            made += 1
            yield TypedAtoms(xyz.astype(np.float32), lig.feats, lig.radii), rmsd


def jitter_pose(lig: TypedAtoms, rng: np.random.Generator, max_shift: float, max_degrees: float) -> TypedAtoms:
    """A small rigid perturbation of a pose: a rotation about the ligand's centroid by an angle uniform in
    [0, ``max_degrees``] about a uniformly random axis, then a shift uniform in a ball of radius ``max_shift`` Å.
    The receptor stays put, so the ligand moves against its pocket (pose-robust training of the screening share)."""
    c = lig.xyz.mean(0)
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    theta = np.deg2rad(rng.uniform(0.0, max_degrees))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(theta) * k + (1 - np.cos(theta)) * (k @ k)  # Rodrigues
    d = rng.standard_normal(3)
    shift = d / np.linalg.norm(d) * max_shift * rng.uniform() ** (1 / 3)  # uniform in the ball
    xyz = (lig.xyz - c) @ rot.T + c + shift
    return TypedAtoms(xyz.astype(np.float32), lig.feats, lig.radii)


def _data_relative(path: Path) -> str:
    """``path`` relative to the data pack's root when it lies under it (caches stay valid when ../shared moves)."""
    try:
        return str(Path(path).resolve().relative_to(drug_root().resolve()))
    except (ValueError, FileNotFoundError):  # outside the pack, or no pack here (fixtures)
        return str(Path(path).resolve())


def complex_files(cache: dict, cid: str) -> tuple[Path, Path, int]:
    """(receptor file, ligand file, record index in it) a cached complex was read from (for Vina's score of its
    pose); the FEP series keep many ligands in one file."""
    files = cache.get("files")
    if files is None:
        raise ValueError("the cache predates recorded input files: rebuild it with atomgrid prepare")
    if cid not in files:
        raise ValueError(f"complex {cid}: no input files recorded in the cache")
    rec, lig = (Path(f) if Path(f).is_absolute() else drug_root() / f for f in (files[cid]["receptor"], files[cid]["ligand"]))
    return rec, lig, int(files[cid].get("record", 0))


def _example(cid, target, source, rec_key, lig: TypedAtoms, pK, good, rmsd) -> dict:
    return {"id": cid, "target": target, "source": source, "receptor": rec_key, "ligand": lig.to_dict(),
            "center": torch.from_numpy(lig.centroid().astype(np.float32)), "pK": float(pK), "good": int(good),
            "rmsd": float(rmsd)}


class CacheBuilder:
    """Collects receptors and examples; errors are recorded, never raised."""

    def __init__(self, decoys_per_pose: int = 2, seed: int = 0):
        self.receptors: dict[str, dict] = {}
        self.examples: list[dict] = []
        self.errors: list[str] = []
        self.files: dict[str, dict[str, str]] = {}  # complex id -> the receptor and ligand files read (Vina prior)
        self.left_out: list[str] = []  # records left out on purpose (a test compound), with the reason
        self.decoys = decoys_per_pose
        self.rng = np.random.default_rng(seed)

    def result(self) -> dict:
        return {"version": CACHE_VERSION, "receptors": self.receptors, "examples": self.examples, "errors": self.errors,
                "files": self.files, "left_out": self.left_out}

    def _receptor(self, key: str, path: Path, center: np.ndarray, extra: float = 0.0) -> bool:
        if key in self.receptors:
            return True
        rec = io.read_receptor(path)
        if isinstance(rec, ReadError):
            self.errors.append(str(rec))
            return False
        radius = CROP_RADIUS + extra
        box = Box(tuple(float(v) for v in center), (2 * radius,) * 3)
        typed = _sphere_crop(type_receptor(rec, box), center, radius)
        if not len(typed):  # the ligand does not sit in this receptor (another frame, another file)
            self.errors.append(f"{path}: no receptor atom within {radius:.0f} Å of the ligand")
            return False
        self.receptors[key] = typed.to_dict()
        return True

    def add_pdbbind(self, cid: str, target: str, source: str, receptor: Path, ligand: Path, pK: float,
                    docked: Path | None = None, docked_rmsd: Path | None = None) -> None:
        lig, used = io.read_ligand(ligand), ligand
        if isinstance(lig, ReadError):
            # PDBbind mol2/sdf with valence problems: keep the record unsanitised, or try the SDF twin
            first = lig
            lig = io.read_ligand(ligand, sanitize=False)
            sdf = ligand.with_suffix(".sdf")
            if isinstance(lig, ReadError) and ligand.suffix == ".mol2" and sdf.exists():
                lig, used = io.read_ligand(sdf, sanitize=False), sdf
            if isinstance(lig, ReadError):
                self.errors.append(str(first))
                return
        try:
            tl = type_ligand(lig)
        except ValueError as exc:
            self.errors.append(f"{ligand}: {exc}")
            return
        if len(tl) > MAX_LIGAND_HEAVY_ATOMS:
            self.errors.append(f"{ligand}: {len(tl)} heavy atoms, more than a ligand's {MAX_LIGAND_HEAVY_ATOMS} "
                               "(a receptor file given as the ligand?)")
            return
        if not self._receptor(cid, receptor, tl.centroid()):
            return
        self.examples.append(_example(cid, target, source, cid, tl, pK, 1, 0.0))
        self.files[cid] = {"receptor": _data_relative(receptor), "ligand": _data_relative(used)}
        n_bad = 0
        if docked is not None and docked.exists():
            rmsds = [float(x) for x in docked_rmsd.read_text().split()] if docked_rmsd and docked_rmsd.exists() else []
            for i, pose in enumerate(io.read_ligands(docked)):
                if isinstance(pose, ReadError) or i >= len(rmsds):
                    if isinstance(pose, ReadError):
                        self.errors.append(str(pose))
                    continue
                tp = type_ligand(pose)
                good = rmsds[i] < GOOD_RMSD
                n_bad += not good
                self.examples.append(_example(cid, target, source + ":docked", cid, tp, pK, int(good), rmsds[i]))
        for decoy, rmsd in _rigid_decoys(tl, max(0, self.decoys - n_bad), self.rng):
            self.examples.append(_example(cid, target, source + ":perturbed", cid, decoy, pK, 0, rmsd))


CSV_COLUMNS = ("id", "receptor", "ligand", "pK")
PK_RANGE = (0.0, 16.0)  # measured affinities (-log10 K in mol/L) lie well inside this
MAX_LIGAND_HEAVY_ATOMS = 150  # a "ligand" larger than this is a protein file in the wrong column


def build_csv_cache(path: str | Path, decoys_per_pose: int = 2, seed: int = 0) -> dict:
    """A cache of your own complexes: a CSV with the columns ``id, receptor, ligand, pK`` (and optionally
    ``target``, the split key: the id when absent), file paths relative to the CSV's folder (or absolute), pK as
    -log10(K in mol/L). Each complex is typed as the pack's are (the receptor cropped around its ligand, the given
    pose good, ``decoys_per_pose`` perturbed copies bad), source ``csv``. A row that cannot be used (no id, a
    repeated id, a pK that is not a finite number, a missing or unreadable file) is listed in the cache's errors
    with its line number, never raised; a file without the columns raises ValueError."""
    path = Path(path)
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    with f:
        try:
            reader = csv.DictReader(f)
            fields = [c.strip() for c in reader.fieldnames or []]
            rows = [{(k or "").strip(): v for k, v in r.items()} for r in reader]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ValueError(f"{path}: not a readable CSV ({type(exc).__name__})") from None
    missing = [c for c in CSV_COLUMNS if c not in fields]
    if missing:
        raise ValueError(f"{path}: needs the columns {', '.join(CSV_COLUMNS)} (missing: {', '.join(missing)})")
    if not rows:
        raise ValueError(f"{path}: no complexes (a header, then one row per complex)")
    b = CacheBuilder(decoys_per_pose, seed)
    seen: set[str] = set()
    for line, r in enumerate(rows, start=2):
        cid = (r["id"] or "").strip()
        where = f"{path.name}:{line}"
        if not cid or ":" in cid:
            b.errors.append(f"{where}: id {cid!r}: empty or holding ':'")
            continue
        if cid in seen:
            b.errors.append(f"{where}: id {cid!r} given twice (each complex once)")
            continue
        if any(r.get(c) is None for c in CSV_COLUMNS):
            b.errors.append(f"{where}: {cid}: fewer fields than the header's columns")
            continue
        try:
            pk = float(r["pK"])
        except (TypeError, ValueError):
            pk = math.nan
        if not math.isfinite(pk):
            b.errors.append(f"{where}: {cid}: pK {r['pK']!r} is not a number")
            continue
        if not PK_RANGE[0] <= pk <= PK_RANGE[1]:
            b.errors.append(f"{where}: {cid}: pK {pk:g} is outside {PK_RANGE[0]:g}-{PK_RANGE[1]:g} (pK is -log10 of K "
                            "in mol/L: 9 for 1 nM)")
            continue
        files = []
        for col in ("receptor", "ligand"):
            p = Path((r[col] or "").strip())
            files.append(p if p.is_absolute() else path.parent / p)
        lost = [f"{col} {p}" for col, p in zip(("receptor", "ligand"), files) if not p.is_file()]
        if lost:
            b.errors.append(f"{where}: {cid}: no such file: {'; '.join(lost)}")
            continue
        seen.add(cid)
        n = len(b.errors)
        try:
            b.add_pdbbind(cid, (r.get("target") or "").strip() or cid, "csv", files[0], files[1], pk)
        except (ValueError, OSError) as exc:  # a file of the wrong kind (a .cif receptor, an SDF given as one)
            b.errors.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        b.errors[n:] = [f"{where}: {cid}: {e}" for e in b.errors[n:]]
    return b.result()


def build_core2013(builder: CacheBuilder, ids: list[str]) -> None:
    root = drug_root() / "pdbbind_core2013"
    idx = {r["pdbid"]: r for r in csv.DictReader(open(root / "index.csv"))}
    for cid in ids:
        if cid not in idx:
            builder.errors.append(f"core2013: {cid} not in index.csv")
            continue
        d = root / "complexes" / cid
        builder.add_pdbbind(cid, uniprot_target(cid), "core2013", d / "receptor.pdbqt.gz", d / "ligand.pdbqt",
                            float(idx[cid]["pK"]), d / "out.pdbqt", d / "out.rmsd")


def build_toy(builder: CacheBuilder, ids: list[str]) -> None:
    root = drug_root() / "pdbbind_toy"
    idx = {r["pdbid"]: r for r in csv.DictReader(open(root / "index.csv"))}
    for cid in ids:
        d = root / "toy_set" / cid
        builder.add_pdbbind(cid, uniprot_target(cid), "toy", d / f"{cid}_protein.pdb", d / f"{cid}_ligand.mol2",
                            float(idx[cid]["pK"]))


def build_casf_test(builder: CacheBuilder, ids: list[str] | None = None) -> None:
    """The 130 CASF-2016 test complexes: core-2013 PDBQT files where present, else labdao PDB + mol2."""
    root = drug_root()
    rows = list(csv.DictReader(open(root / "splits" / "casf2016_test.csv")))
    for r in rows:
        if ids is not None and r["pdbid"] not in ids:
            continue
        target = uniprot_target(r["pdbid"])
        if r["core2013_receptor_pdbqt"]:
            base = root / r["core2013_receptor_pdbqt"]
            d = base.parent
            builder.add_pdbbind(r["pdbid"], target, "casf2016", base, d / "ligand.pdbqt", float(r["logKa"]),
                                d / "out.pdbqt", d / "out.rmsd")
        else:
            builder.add_pdbbind(r["pdbid"], target, "casf2016", root / r["protein_file"], root / r["ligand_file"],
                                float(r["logKa"]))


def fep_proteins() -> dict[tuple[str, str], str]:
    """{(group, system): protein name} from the Schrödinger sets' ``subset_metadata.csv`` (the macrocycle systems
    are named by PDB entry only: 2B8V and 2Q15 are BACE1, 3RKZ is HSP90, 2E9P is CHK1)."""
    out = {}
    for f in sorted((drug_root() / "fep_sets" / "schrodinger").glob("*/subset_metadata.csv")):
        for r in csv.DictReader(open(f)):
            out[(r["Group abbreviation"].strip(), r["Input file naming scheme"].strip())] = r["Protein"].strip()
    return out


def fep_systems(exclude_casf: bool = True) -> list[dict]:
    """Schrödinger FEP systems (the superset of the OpenFF/Merck targets) with usable absolute labels;
    ``exclude_casf``: without those whose system name or protein (:func:`fep_proteins`) is a CASF-2016 cluster."""
    root = drug_root() / "fep_sets"
    proteins = fep_proteins()
    out = []
    for r in csv.DictReader(open(root / "index.csv")):
        if r["source"] != "schrodinger":
            continue
        protein = proteins.get((r["group"], r["target"]), "")
        if exclude_casf and (CASF_OVERLAP.search(r["target"]) or CASF_OVERLAP.search(protein)):
            continue
        out.append(r)
    return out


def heavy_graph_key(mol: Chem.Mol) -> str:
    """A molecule's heavy-atom graph with elements only (no bond orders, charges, aromaticity, hydrogens or
    stereo) as canonical SMILES: the same compound read from SDF, mol2 or PDBQT (whose bond orders are guessed)
    gets the same key."""
    m = Chem.RWMol(mol)
    for a in m.GetAtoms():
        a.SetFormalCharge(0)
        a.SetIsAromatic(False)
        a.SetNoImplicit(True)
        a.SetNumExplicitHs(0)
        a.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for b in m.GetBonds():
        b.SetBondType(Chem.BondType.SINGLE)
        b.SetIsAromatic(False)
        b.SetStereo(Chem.BondStereo.STEREONONE)
    for i in sorted((a.GetIdx() for a in m.GetAtoms() if a.GetAtomicNum() == 1), reverse=True):
        m.RemoveAtom(i)
    return Chem.MolToSmiles(m, canonical=True)


def casf_test_ligand_keys() -> dict[str, str]:
    """{:func:`heavy_graph_key`: pdbid} of the 130 CASF-2016 test ligands (SDF where the pack has it, else mol2,
    else core-2013's PDBQT)."""
    root = drug_root()
    out: dict[str, str] = {}
    for r in csv.DictReader(open(root / "splits" / "casf2016_test.csv")):
        for col in ("ligand_file_alt", "ligand_file", "core2013_ligand_pdbqt"):
            mol = next(iter(io.read_ligands(root / r[col], sanitize=False)), None) if r.get(col) else None
            if mol is not None and not isinstance(mol, ReadError):
                out[heavy_graph_key(mol)] = r["pdbid"]
                break
    return out


def build_fep(builder: CacheBuilder, systems: list[dict], max_per_system: int | None = None,
              exclude: dict[str, str] | None = None) -> None:
    """The FEP systems' labelled ligands; ``exclude`` ({:func:`heavy_graph_key`: why}) leaves out records that are
    those compounds (the CASF test ligands some series were built from), each noted in ``builder.left_out``."""
    root = drug_root() / "fep_sets"
    labels: dict[tuple[str, int], dict] = {}
    for r in csv.DictReader(open(root / "ligand_labels.csv")):
        labels[(r["ligand_file"], int(r["record"]))] = r
    for s in systems:
        key = f"fep:{s['group']}/{s['target']}"
        ligs = []
        for i, mol in enumerate(io.read_ligands(root / s["ligand_file"])):
            if isinstance(mol, ReadError):
                builder.errors.append(str(mol))
                continue
            lab = labels.get((s["ligand_file"], i))
            if lab is None or lab["flag"] or not lab["pK"]:
                continue  # relative-only or missing label
            why = exclude.get(heavy_graph_key(mol)) if exclude else None
            if why:
                builder.left_out.append(f"{s['ligand_file']} record {i}: {why}")
                continue
            try:
                ligs.append((i, type_ligand(mol), float(lab["pK"])))
            except ValueError as exc:
                builder.errors.append(f"{s['ligand_file']} record {i}: {exc}")
        if max_per_system:
            ligs = ligs[:max_per_system]
        if not ligs:
            continue
        cents = np.stack([l.centroid() for _, l, _ in ligs])
        c = cents.mean(0)
        spread = float(np.linalg.norm(cents - c, axis=1).max())
        if not builder._receptor(key, root / s["protein_file"], c, extra=spread):
            continue
        for i, tl, pK in ligs:
            cid = f"{s['target']}#{i}"
            builder.examples.append(_example(cid, key, "fep", key, tl, pK, 1, 0.0))
            builder.files[cid] = {"receptor": _data_relative(root / s["protein_file"]),
                                  "ligand": _data_relative(root / s["ligand_file"]), "record": i}
            for decoy, rmsd in _rigid_decoys(tl, builder.decoys, builder.rng):
                builder.examples.append(_example(cid, key, "fep:perturbed", key, decoy, pK, 0, rmsd))


def pdbbind_affinities() -> dict[str, tuple[float, str]]:
    """PDB id -> (-log K, the measurement as printed, e.g. 'Ki=22nM') from the PDBbind 2020 general index."""
    out: dict[str, tuple[float, str]] = {}
    for line in open(drug_root() / "pdbbind_index" / "INDEX_general_PL_data.2020", errors="replace"):
        f = line.split()
        if line.startswith("#") or len(f) < 5:
            continue
        try:
            out[f[0].lower()] = (float(f[3]), f[4])
        except ValueError:
            continue
    return out


_DEKOIS_PDB = re.compile(r"^(?:ligand_)?([0-9][0-9a-z]{3})(?:_|$)", re.IGNORECASE)


def casf_uniprots() -> set[str]:
    """UniProt split keys of the CASF-2016 test complexes."""
    return {uniprot_target(i) for i in read_ids(drug_root() / "splits" / "casf2016_test_ids.txt")}


def sdf_records(path: Path) -> tuple[list[tuple[str, str]], int]:
    """((name, SMILES) of every readable record of a (gzipped) SDF, how many records RDKit could not read)."""
    import gzip
    out, bad = [], 0
    with gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb") as f:
        for m in Chem.ForwardSDMolSupplier(f, removeHs=True):
            if m is None:
                bad += 1
                continue
            out.append((m.GetProp("_Name").strip() if m.HasProp("_Name") else "", Chem.MolToSmiles(m)))
    return out, bad


def sdf_smiles(path: Path) -> list[tuple[str, str]]:
    """(name, SMILES) of every readable record of a (gzipped) SDF."""
    return sdf_records(path)[0]


def dekois_index() -> dict[str, dict]:
    """{target: row} of ``dekois2/index.csv`` (target, actives, decoys, receptor, crystal_ligand, counts)."""
    return {r["target"]: r for r in csv.DictReader(open(drug_root() / "dekois2" / "index.csv"))}


def dekois_uniprots(target: str | dict) -> set[str]:
    """UniProt split keys of a DEKOIS target (its name or its :func:`dekois_index` row): its receptor entry's
    (PDBbind 2020) and its actives' Uniprot_ID tags (they differ for heterodimers: PPARG's entry 1fm9 is filed
    under RXR-alpha)."""
    import gzip
    row = dekois_index().get(target) if isinstance(target, str) else target
    if row is None:
        return set()
    out = set()
    m = _DEKOIS_PDB.match(Path(row["receptor"]).name)
    if m:
        out.add(uniprot_target(m.group(1)))
    with gzip.open(drug_root() / "dekois2" / row["actives"], "rt", errors="replace") as f:
        out |= {f"uniprot:{u}" for u in re.findall(r"> *<Uniprot_ID>\s*\n\s*(\S+)", f.read())}
    return {u for u in out if u.startswith("uniprot:")}


def dekois_affinity_rows() -> list[dict]:
    """DEKOIS 2.0 crystal complexes usable as affinity validation: the receptor file's PDB entry has a binding
    constant in the PDBbind 2020 index (Kd, Ki or IC50), neither the entry nor the target's UniProts
    (:func:`dekois_uniprots`) are in CASF-2016, nor the entry in the core-2013/toy training lists. Rows: target, pdbid, pK, measure, receptor, ligand."""
    root = drug_root()
    aff = pdbbind_affinities()
    splits = root / "splits"
    casf = set(read_ids(splits / "casf2016_test_ids.txt"))
    casf_uniprot = casf_uniprots()
    taken = casf | set(read_ids(splits / "core2013_train_ids.txt")) | set(read_ids(splits / "toy_train_ids.txt"))
    rows = []
    for r in dekois_index().values():
        m = _DEKOIS_PDB.match(Path(r["receptor"]).name)
        if not m or not r["crystal_ligand"]:
            continue
        pid = m.group(1).lower()
        if pid not in aff or pid in taken or uniprot_target(pid) in casf_uniprot or dekois_uniprots(r) & casf_uniprot:
            continue
        rows.append({"target": r["target"], "pdbid": pid, "pK": aff[pid][0], "measure": aff[pid][1],
                     "receptor": root / "dekois2" / r["receptor"], "ligand": root / "dekois2" / r["crystal_ligand"]})
    return rows


def build_dekois_xtal(builder: CacheBuilder, rows: list[dict] | None = None) -> None:
    """The crystal complexes of :func:`dekois_affinity_rows` (source ``dekois-xtal``), split key the UniProt."""
    for r in dekois_affinity_rows() if rows is None else rows:
        builder.add_pdbbind(r["pdbid"], uniprot_target(r["pdbid"]), "dekois-xtal", r["receptor"], r["ligand"], r["pK"])


def build_cache(kind: str, decoys_per_pose: int = 2, seed: int = 0, max_per_system: int | None = None) -> dict:
    """``kind``: 'train' (core-2013 strict + FEP without CASF targets), 'val' (toy strict), 'test' (CASF 130),
    'val-affinity' (toy strict + the DEKOIS crystal complexes with a PDBbind 2020 affinity), 'train-recommended'
    (the data pack's recommended split: all 88 core-2013 complexes outside CASF-2016, the 15 toy complexes that are not
    in the strict list (the strict 35 are validation), every labelled FEP system, CASF proteins' series included)."""
    b = CacheBuilder(decoys_per_pose, seed)
    splits = drug_root() / "splits"
    if kind == "train":
        build_core2013(b, read_ids(splits / "core2013_train_ids_strict.txt"))
        build_fep(b, fep_systems(), max_per_system)
    elif kind == "val":
        build_toy(b, read_ids(splits / "toy_train_ids_strict.txt"))
    elif kind == "test":
        build_casf_test(b)
    elif kind == "train-recommended":
        build_core2013(b, read_ids(splits / "core2013_train_ids.txt"))
        strict_toy = set(read_ids(splits / "toy_train_ids_strict.txt"))
        build_toy(b, [i for i in read_ids(splits / "toy_train_ids.txt") if i not in strict_toy])
        casf = {k: f"the CASF-2016 test ligand {pid}" for k, pid in casf_test_ligand_keys().items()}
        build_fep(b, fep_systems(exclude_casf=False), max_per_system, exclude=casf)
    elif kind == "val-affinity":
        build_toy(b, read_ids(splits / "toy_train_ids_strict.txt"))
        build_dekois_xtal(b)
    else:
        raise ValueError(f"cache kind {kind!r}: expected train, train-recommended, val, val-affinity or test")
    return b.result()


def load_cache(path: str | Path) -> dict:
    path = Path(path)
    try:
        cache = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"{path}: not a readable atomgrid cache ({type(exc).__name__})") from None
    if not isinstance(cache, dict) or cache.get("version") != CACHE_VERSION:
        raise ValueError(f"{path}: not an atomgrid cache of version {CACHE_VERSION}")
    return cache


def cache_summary(cache: dict) -> dict:
    ex = cache["examples"]
    return {"examples": len(ex), "good": sum(e["good"] for e in ex), "bad": sum(1 - e["good"] for e in ex),
            "complexes": len({e["id"] for e in ex}), "targets": len({e["target"] for e in ex}),
            "receptors": len(cache["receptors"]), "errors": len(cache["errors"])}


def drop_targets(cache: dict, targets: set[str]) -> dict:
    """A copy of ``cache`` without the examples whose target is in ``targets``."""
    return dict(cache, examples=[e for e in cache["examples"] if e["target"] not in targets])


def _with_examples(cache: dict, examples: list[dict]) -> dict:
    """A copy of ``cache`` holding ``examples`` and only the receptors they use."""
    keys = {e["receptor"] for e in examples}
    return dict(cache, examples=examples, receptors={k: v for k, v in cache["receptors"].items() if k in keys})


def keep_targets(cache: dict, targets: set[str]) -> dict:
    """A copy of ``cache`` with only the examples whose target is in ``targets`` (and their receptors)."""
    return _with_examples(cache, [e for e in cache["examples"] if e["target"] in targets])


CROSS_DECOY_SOURCE = "dekois:crossdecoy:"  # source of a cross-target decoy example, then its source target


def cross_decoy_source(example: dict) -> str | None:
    """The target whose active a cross-target decoy example is (:func:`atomgrid.crossval.cross_decoys_of`), None for
    any other example."""
    src = example.get("source", "")
    return src[len(CROSS_DECOY_SOURCE):] if src.startswith(CROSS_DECOY_SOURCE) else None


def molecule_name(example_id: str) -> str:
    """The library molecule's own name in a screening example id: ``<target>:A0000_<name>`` (an active),
    ``<target>:D0000_<name>`` (a decoy) or a cross-target decoy's ``<target>:Y0000_<source>__<name>``."""
    last = example_id.rsplit(":", 1)[-1]  # names never hold a colon (atomgrid.crossval._ident)
    return last.split("__", 1)[1] if re.match(r"Y\d{4}_", last) else re.sub(r"^[AD]\d{4}_", "", last)


def cross_decoy_pairs(examples: list[dict]) -> tuple[np.ndarray, int]:
    """(``[n, 2]`` indices (cross-target decoy, the same molecule as an active of its source target, in that
    target's own pocket), how many cross-target decoys found no such active): a molecule's pose in its own pocket
    and its pose in another target's pocket, for a ranking loss whose ligand is the same on both sides, so only
    what the net reads of the pocket (and the pose in it) can separate them."""
    own = {(e["target"], molecule_name(e["id"])): i for i, e in enumerate(examples)
           if e["good"] and is_screen(e) and cross_decoy_source(e) is None}
    pairs, missing = [], 0
    for i, e in enumerate(examples):
        src = cross_decoy_source(e)
        if src is None:
            continue
        j = own.get((src, molecule_name(e["id"])))
        if j is None:
            missing += 1
        else:
            pairs.append((i, j))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2), missing


def series_pairs(examples: list[dict], min_gap: float = 1.0) -> np.ndarray:
    """``[n, 2]`` indices (weaker, stronger): every two crystal-or-modelled poses of one FEP series (source "fep",
    a good pose with a measured pK, the same target key and receptor) whose pK differ by at least ``min_gap``.
    Congeneric ligands in one pocket, told apart by a few substituents' contacts: a ranking signal that the ligand's
    size or drug-likeness alone cannot carry (rule AK, campaigns/atomgrid-affinity/README.md)."""
    if not min_gap > 0:
        raise ValueError(f"series pairs: min_gap must be > 0 pK (got {min_gap})")
    series: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        if e["source"] == "fep" and e["good"] and math.isfinite(e["pK"]):
            series[(e["target"], e["receptor"])].append(i)
    pairs = []
    for idx in series.values():
        for a in idx:
            for b in idx:
                if examples[b]["pK"] - examples[a]["pK"] >= min_gap:
                    pairs.append((a, b))
    return np.asarray(sorted(pairs), dtype=np.int64).reshape(-1, 2)


def target_pairs(examples: list[dict], per_target: int = 2000, seed: int = 0) -> np.ndarray:
    """``[n, 2]`` indices (decoy, active): for each screening target and receptor (:func:`is_screen` examples; a
    cross-target decoy never), ``per_target`` (decoy, active) pairs of that pocket drawn uniformly with replacement by
    a generator seeded with ``seed``, so every target weighs the same in the pair stream. The order a screening figure
    reads, a target's actives above its own decoys (rule AM, campaigns/atomgrid-affinity/README.md). Targets with no
    active or no decoy give none."""
    if per_target < 1:
        raise ValueError(f"target pairs: per_target must be >= 1 (got {per_target})")
    pockets: dict[tuple[str, str], tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for i, e in enumerate(examples):
        if is_screen(e) and cross_decoy_source(e) is None:
            pockets[(e["target"], e["receptor"])][1 if e["good"] else 0].append(i)
    rng = np.random.default_rng([seed, 31])
    out = []
    for key in sorted(pockets):
        decoys, actives = (np.asarray(x, dtype=np.int64) for x in pockets[key])
        if len(decoys) and len(actives):
            out.append(np.stack([rng.choice(decoys, per_target), rng.choice(actives, per_target)], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def keep_cross_decoys_from(cache: dict, targets) -> tuple[dict, int]:
    """(``cache`` without the cross-target decoys whose source target is not in ``targets``, how many were dropped):
    a run that holds a target out must not see its actives, not even as another pocket's decoys."""
    keep = set(targets)
    ex = [e for e in cache["examples"] if (src := cross_decoy_source(e)) is None or src in keep]
    dropped = len(cache["examples"]) - len(ex)
    return (_with_examples(cache, ex), dropped) if dropped else (cache, 0)


def targets_of(cache: dict) -> set[str]:
    return {e["target"] for e in cache["examples"]}


def check_disjoint(train: dict, test: dict) -> None:
    """Raise if a complex id or a target appears in both caches (split by target)."""
    a = {e["target"] for e in train["examples"]}
    b = {e["target"] for e in test["examples"]}
    ids = {e["id"] for e in train["examples"]} & {e["id"] for e in test["examples"]}
    if ids or (a & b):
        raise ValueError(f"train and test share complexes {sorted(ids)[:5]} or targets {sorted(a & b)[:5]}")


@dataclass
class Sample:
    receptor: TypedAtoms
    ligand: TypedAtoms
    center: np.ndarray
    pK: float
    good: int


class ComplexSet:
    """In-memory examples with typed atoms ready for a :class:`featurize.Gridder`."""

    def __init__(self, cache: dict):
        self.receptors = {k: TypedAtoms.from_dict(v) for k, v in cache["receptors"].items()}
        self.examples = cache["examples"]
        self._ligs = [TypedAtoms.from_dict(e["ligand"]) for e in self.examples]

    def __len__(self) -> int:
        return len(self.examples)

    def sample(self, i: int) -> Sample:
        e = self.examples[i]
        return Sample(self.receptors[e["receptor"]], self._ligs[i], np.asarray(e["center"], np.float32), e["pK"], e["good"])

    def indices(self, good: int | None = None) -> np.ndarray:
        return np.asarray([i for i, e in enumerate(self.examples) if good is None or e["good"] == good], dtype=np.int64)

    def target_weights(self, idx: np.ndarray) -> np.ndarray:
        """Sampling weights ``[len(idx)]`` so that every target is drawn equally often."""
        counts = Counter(self.examples[i]["target"] for i in idx)
        w = np.asarray([1.0 / counts[self.examples[i]["target"]] for i in idx])
        return w / w.sum()


def merge_caches(a: dict, b: dict) -> dict:
    """One cache with the receptors and examples of both (receptor keys must not clash)."""
    clash = set(a["receptors"]) & set(b["receptors"])
    if clash:
        raise ValueError(f"caches share receptor keys {sorted(clash)[:5]}")
    return {"version": CACHE_VERSION, "receptors": {**a["receptors"], **b["receptors"]},
            "examples": a["examples"] + b["examples"], "errors": a["errors"] + b["errors"],
            "files": {**a.get("files", {}), **b.get("files", {})}}


def is_screen(example: dict) -> bool:
    """Screening examples (active vs decoy, :mod:`atomgrid.screenset`: DUD-E and cross-target protocol
    poses) as opposed to pose examples."""
    return example["source"].startswith(("dude", "dekois"))


def balanced_batches(ds: ComplexSet, batch_size: int, seed: int = 0, screen_fraction: float = 0.0,
                     pairs: np.ndarray | None = None, pairs_per_batch: int = 0,
                     hide_paired: bool = True) -> Iterator[list[int]]:
    """Endless batches of example indices, targets weighted equally within each pool.

    Pose examples: half good poses, half bad. With ``screen_fraction`` > 0, that share of every batch
    comes from the screening examples instead, half actives and half decoys. With ``pairs_per_batch`` > 0,
    ``batch_size`` such indices are followed by that many rows of ``pairs`` (:func:`cross_decoy_pairs` or
    :func:`series_pairs` or :func:`target_pairs`, drawn uniformly from their own stream), flattened (lower, higher,
    lower, higher, ...); with ``hide_paired`` the pairs' first members (cross-target decoys) are left out of the
    pools, so they are seen only in their pairs; without it (series and target pairs) every example stays in its
    pool as well."""
    rng = np.random.default_rng(seed)
    pair_rng = np.random.default_rng([seed, 29])
    if pairs_per_batch > 0 and (pairs is None or len(pairs) == 0):
        raise ValueError("pairs_per_batch > 0 needs pairs (none in the training data: cross-target decoys with "
                         "their source's active, or FEP series ligands far enough apart in pK)")
    paired = np.zeros(len(ds.examples), dtype=bool)
    if pairs_per_batch > 0 and hide_paired:
        paired[pairs[:, 0]] = True
    screen = np.asarray([is_screen(e) for e in ds.examples], dtype=bool)
    n_screen = int(round(batch_size * screen_fraction)) if screen_fraction > 0 else 0
    pools = []  # (indices, weights, count per batch)
    for is_scr, n in ((False, batch_size - n_screen), (True, n_screen)):
        if n == 0:
            continue
        use = (screen if is_scr else ~screen) & ~paired  # a paired decoy is in neither pool
        good = np.asarray([i for i in ds.indices(1) if use[i]], dtype=np.int64)
        bad = np.asarray([i for i in ds.indices(0) if use[i]], dtype=np.int64)
        what = "actives and decoys in the screening" if is_scr else "good and bad poses in the training"
        if len(good) == 0 or len(bad) == 0:
            raise ValueError(f"balanced sampling needs both {what} set")
        pools += [(good, ds.target_weights(good), n // 2), (bad, ds.target_weights(bad), n - n // 2)]
    while True:
        batch = list(np.concatenate([rng.choice(idx, n, p=w) for idx, w, n in pools if n > 0]))
        if pairs_per_batch > 0:
            batch += list(pairs[pair_rng.integers(len(pairs), size=pairs_per_batch)].reshape(-1))
        yield batch
