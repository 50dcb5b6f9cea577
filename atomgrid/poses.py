"""Molecule preparation and poses in the pocket: ``given``, ``template`` and ``dock``.

Preparation policy (documented in docs and ``atomgrid score --help``):

* Every record: RDKit parse and sanitise, then :func:`choose_molecule`: counter-ions and solvents of
  salts are stripped and named in the row's ``prep_note``; a record must then hold exactly one molecule
  made of :data:`LIGAND_ELEMENTS` (no metal complexes), with no radical and at most ``max_heavy_atoms``
  heavy atoms, else it is refused with the reason (never silently cut down to a fragment).
* SMILES / CSV records and SDF/mol2 records in ``template``/``dock`` mode: then
  ``rdMolStandardize.Cleanup`` (normalise functional groups, reionise) and neutralise with ``Uncharger``
  where a neutral form exists (noted as ``neutralised``).
  No pKa model and no tautomer enumeration: the input tautomer is kept (libraries such as DUD-E
  already list protomers/tautomers as separate records, and a canonical tautomer is not necessarily
  the bound form). Explicit hydrogens, ETKDGv3 conformers (seeded, sequential
  seeds) and an MMFF94 clean-up (UFF when MMFF has no parameters).
* ``given``: the record's own coordinates (e.g. docked poses from any program); only hydrogens are
  added (with coordinates) after :func:`choose_molecule`; nothing is standardised, so the output pose is
  the input pose (less any stripped counter-ions).

A record that cannot be prepared raises :class:`PrepError` with a one-line reason, which the scorer
writes into the ``error`` column.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem
from rdkit.Chem.MolStandardize import rdMolStandardize

from .io import Box
from .library import Record

RDLogger.DisableLog("rdApp.*")  # failures become PrepError reasons instead of log lines

POSE_MODES = ("given", "template", "dock")


class PrepError(ValueError):
    """A record that cannot be prepared or posed; ``str()`` is the reason written to the output."""


@dataclass(frozen=True)
class PrepOptions:
    """``n_confs`` ETKDG conformers; ``max_heavy_atoms`` larger molecules are refused (huge macrocycles,
    peptides); ``embed_timeout`` wall-clock s per molecule for ETKDG (0: none; the default, because a
    wall-clock limit makes results depend on the machine's load, and resumed runs must repeat exactly);
    ``ff_iters`` force-field steps; ``seed``."""

    n_confs: int = 4
    max_heavy_atoms: int = 80
    embed_timeout: int = 0
    ff_iters: int = 50
    seed: int = 0


# ----------------------------------------------------------------------------- parsing

# Elements a ligand may hold: the organic elements of the agtypes-v1 channels (B, Si and Se go to the
# 'other' channel). Metals, metalloids such as As or Te, noble gases and dummy atoms are refused: the
# shipped models never saw them and RDKit's force fields and shape alignment have no parameters for most.
LIGAND_ELEMENTS = frozenset({1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 34, 35, 53})
# Single-atom counter-ions that are stripped from salts (with a note): alkali and alkaline-earth cations
# and halides. Any other lone atom (Fe2+, Pt, Hg, ...) is part of a complex written in pieces: refused.
COUNTER_ION_ATOMS = frozenset({3, 11, 19, 37, 55, 12, 20, 38, 56, 9, 17, 35, 53})
# Counter-ions and solvents of salts and solvates (written neutral; matched after neutralisation).
COUNTER_ION_SMILES = (
    "O", "N", "OS(=O)(=O)O", "OP(=O)(O)O", "O=[N+]([O-])O", "OCl(=O)(=O)=O", "CS(=O)(=O)O", "CCS(=O)(=O)O",
    "O=S(=O)(O)c1ccccc1", "Cc1ccc(S(=O)(=O)O)cc1", "CC(=O)O", "O=C(O)C(F)(F)F", "O=CO", "O=C(O)C(=O)O",
    "O=C(O)CC(=O)O", "O=C(O)CCC(=O)O", "O=C(O)C=CC(=O)O", "O=C(O)CC(O)(CC(=O)O)C(=O)O",
    "O=C(O)C(O)C(O)C(=O)O", "CC(O)C(=O)O", "O=C(O)CC(O)C(=O)O", "O=C(O)CO", "CO", "CCO", "CC(C)O", "CC(C)=O",
    "CS(C)=O", "CN(C)C=O", "CC#N", "CCOC(C)=O", "CCOCC", "ClCCl", "ClC(Cl)Cl", "NC(CO)(CO)CO",
    "CNCC(O)C(O)C(O)C(O)CO",
)
SOLVENT_SMILES = ("O", "CO", "CCO", "CC(C)O", "CC(C)=O", "CS(C)=O", "CN(C)C=O", "CC#N", "CCOC(C)=O", "CCOCC",
                  "ClCCl", "ClC(Cl)Cl")
MAX_SMILES_CHARS = 1000  # longer SMILES are refused unread (no drug-like molecule comes close)


def _neutral_key(frag: Chem.Mol) -> str:
    try:
        m = rdMolStandardize.Uncharger().uncharge(Chem.Mol(frag))
        Chem.RemoveStereochemistry(m)
        return Chem.MolToSmiles(Chem.RemoveHs(m))
    except Exception:
        return ""


_COUNTER_IONS = None


def _counter_ion_keys() -> frozenset:
    global _COUNTER_IONS
    if _COUNTER_IONS is None:
        _COUNTER_IONS = frozenset(_neutral_key(Chem.MolFromSmiles(s)) for s in COUNTER_ION_SMILES)
    return _COUNTER_IONS


def formula(mol: Chem.Mol) -> str:
    """Hill formula with charge, e.g. ``Na+``, ``C2H3O2-`` (how notes and errors name fragments)."""
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula
    try:
        return CalcMolFormula(mol)
    except Exception:
        return "?"


def _element_list(zs) -> str:
    table = Chem.GetPeriodicTable()
    return ", ".join(table.GetElementSymbol(z) if z > 0 else "*" for z in sorted(zs))


def _sanitize_reason(exc: Exception) -> str:
    """RDKit's sanitisation exceptions -> one short line (never RDKit's raw multi-line text)."""
    import re
    msg = (str(exc).strip().splitlines() or [""])[0]
    m = re.search(r"Explicit valence for atom # ?(\d+) (\w+), (\d+), is greater than permitted", msg)
    if m:
        return f"bad valence: atom {m.group(1)} ({m.group(2)}) has valence {m.group(3)}, more than permitted"
    m = re.search(r"Can't kekulize mol\.\s*Unkekulized atoms: ([\d ]+)", msg)
    if m:
        return f"cannot kekulize the aromatic system (atoms {m.group(1).strip()})"
    if "non-ring atom" in msg and "aromatic" in msg:
        return "aromatic atom outside a ring"
    return f"RDKit could not sanitise the molecule ({type(exc).__name__})"


def parse_record(rec: Record) -> Chem.Mol:
    """Record -> sanitised RDKit molecule (SDF/mol2 keep their coordinates and SD tags). Raises PrepError."""
    if rec.error:
        raise PrepError(rec.error)
    if rec.fmt == "smiles":
        if len(rec.text) > MAX_SMILES_CHARS:
            raise PrepError(f"SMILES of {len(rec.text)} characters, more than the limit of {MAX_SMILES_CHARS}")
        mol = Chem.MolFromSmiles(rec.text, sanitize=False)
        if mol is None:
            shown = rec.text if len(rec.text) <= 60 else rec.text[:57] + "..."
            raise PrepError(f"unparsable SMILES {shown!r}")
    elif rec.fmt == "sdf":
        from .io import mol_from_sd_block
        mol = mol_from_sd_block(rec.text)
        if mol is None:
            raise PrepError("unparsable SDF record")
    elif rec.fmt == "mol2":
        mol = Chem.MolFromMol2Block(rec.text, sanitize=False, removeHs=False, cleanupSubstructures=True)
        if mol is None:
            raise PrepError("unparsable mol2 record")
    else:
        raise PrepError(f"unknown record format {rec.fmt!r}")
    if mol.GetNumAtoms() == 0:
        raise PrepError("no atoms")
    try:
        Chem.SanitizeMol(mol)
    except Exception as exc:  # RDKit raises several unrelated classes (valence, kekulisation, ...)
        raise PrepError(_sanitize_reason(exc)) from None
    if mol.GetNumHeavyAtoms() == 0:
        raise PrepError("no heavy atoms")
    mol.SetProp("_Name", rec.id)
    return mol


def heavy_atom_check(mol: Chem.Mol, opts: PrepOptions) -> None:
    n = mol.GetNumHeavyAtoms()
    if n == 0:
        raise PrepError("no heavy atoms")
    if n > opts.max_heavy_atoms:
        raise PrepError(f"{n} heavy atoms, more than the limit of {opts.max_heavy_atoms}")


def choose_molecule(mol: Chem.Mol, opts: PrepOptions) -> tuple[Chem.Mol, list[str]]:
    """The one molecule of a record to score, and notes on what was dropped. Raises PrepError.

    Policy: the record's fragments are split into counter-ions/solvents (alkali and alkaline-earth
    cations, halides, the acids and solvents of :data:`COUNTER_ION_SMILES`) and molecules. Counter-ions
    are stripped and named in the note (``stripped counter-ions: Na+``). Exactly one molecule must remain
    (identical copies count once); it must hold only :data:`LIGAND_ELEMENTS`, no radical and at most
    ``opts.max_heavy_atoms`` heavy atoms. Conformers (given poses) are kept.
    """
    frags = list(Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)) if mol.GetNumAtoms() else []
    ions, molecules = [], []
    for f in frags:
        heavy = [a for a in f.GetAtoms() if a.GetAtomicNum() > 1]
        if len(frags) > 1 and len(heavy) == 1 and heavy[0].GetAtomicNum() in COUNTER_ION_ATOMS:
            ions.append(f)
        elif len(frags) > 1 and all(a.GetAtomicNum() in LIGAND_ELEMENTS for a in f.GetAtoms()) \
                and _neutral_key(f) in _counter_ion_keys():
            ions.append(f)
        else:
            molecules.append(f)
    if not molecules and ions:  # e.g. sodium acetate: the organic counter-ion is the molecule
        organic = [f for f in ions if any(a.GetAtomicNum() == 6 for a in f.GetAtoms())]
        if not organic:
            raise PrepError("no molecule, only ions (" + ", ".join(formula(f) for f in ions) + ")")
        keep = max(organic, key=lambda f: f.GetNumHeavyAtoms())
        ions = [f for f in ions if f is not keep]
        molecules = [keep]
    bad = {a.GetAtomicNum() for f in molecules for a in f.GetAtoms() if a.GetAtomicNum() not in LIGAND_ELEMENTS}
    if bad:
        raise PrepError(f"contains {_element_list(bad)}: outside the ligand elements "
                        f"({_element_list(LIGAND_ELEMENTS)}); metal complexes are not scored")
    notes = []
    if len(molecules) > 1:
        keys = {Chem.MolToSmiles(f) for f in molecules}
        if len(keys) > 1:
            raise PrepError(f"mixture of {len(molecules)} molecules ("
                            + ", ".join(formula(f) for f in molecules[:4]) + "): give one molecule per record")
        notes.append(f"kept 1 of {len(molecules)} identical molecules")
    main = molecules[0]
    solvents = {_neutral_key(Chem.MolFromSmiles(x)) for x in SOLVENT_SMILES}
    for label, group in (("solvent", [f for f in ions if _neutral_key(f) in solvents]),
                         ("counter-ions", [f for f in ions if _neutral_key(f) not in solvents])):
        if group:
            counts: dict[str, int] = {}
            for f in group:
                counts[formula(f)] = counts.get(formula(f), 0) + 1
            notes.insert(0, f"stripped {label}: " + ", ".join(k if n == 1 else f"{k} x{n}" for k, n in counts.items()))
    rad = [(a.GetIdx(), a.GetSymbol(), a.GetNumRadicalElectrons()) for a in main.GetAtoms() if a.GetNumRadicalElectrons()]
    if rad:
        i, sym, n = rad[0]
        raise PrepError(f"radical: {n} unpaired electron(s) on atom {i} ({sym})"
                        + (f" and {len(rad) - 1} more atom(s)" if len(rad) > 1 else ""))
    heavy_atom_check(main, opts)
    if len(frags) > 1:
        try:
            Chem.SanitizeMol(main)
        except Exception as exc:
            raise PrepError(_sanitize_reason(exc)) from None
    if mol.HasProp("_Name"):
        main.SetProp("_Name", mol.GetProp("_Name"))
    return main, notes


_CLEANUP = rdMolStandardize.CleanupParameters()


def standardize(mol: Chem.Mol, opts: PrepOptions | None = None) -> tuple[Chem.Mol, list[str]]:
    """:func:`choose_molecule`, then Cleanup and neutralise (see the module docstring); hydrogens removed.
    Returns (molecule, notes); a changed charge state is noted (``neutralised``)."""
    main, notes = choose_molecule(Chem.RemoveHs(mol, sanitize=False), opts or PrepOptions())
    try:
        m = rdMolStandardize.Cleanup(main, _CLEANUP)
        before = [a.GetFormalCharge() for a in m.GetAtoms()]
        m = rdMolStandardize.Uncharger().uncharge(m)
        Chem.SanitizeMol(m)
    except Exception as exc:
        raise PrepError(f"standardisation failed: {_sanitize_reason(exc)}") from None
    if m.GetNumHeavyAtoms() == 0:
        raise PrepError("no heavy atoms")
    if [a.GetFormalCharge() for a in m.GetAtoms()] != before:
        notes.append("neutralised")
    m.SetProp("_Name", mol.GetProp("_Name") if mol.HasProp("_Name") else "")
    return m, notes


def smiles_of(mol: Chem.Mol) -> str:
    return Chem.MolToSmiles(Chem.RemoveHs(mol))


def input_smiles_of(mol: Chem.Mol) -> str:
    """SMILES of a record as read (before any preparation); '' when RDKit cannot write it."""
    try:
        return Chem.MolToSmiles(Chem.RemoveHs(mol, sanitize=False))
    except Exception:
        return ""


def embed(mol: Chem.Mol, opts: PrepOptions, n_confs: int | None = None) -> Chem.Mol:
    """Standardised molecule -> explicit-H molecule with up to ``n_confs`` MMFF-cleaned conformers."""
    heavy_atom_check(mol, opts)
    m = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = opts.seed
    if opts.embed_timeout > 0:
        params.timeout = opts.embed_timeout
    # without sequential seeds this RDKit build returns n copies of one conformer
    params.enableSequentialRandomSeeds = True
    params.numThreads = 1  # parallelism comes from chunks/actors, not inside one molecule
    ids = list(AllChem.EmbedMultipleConfs(m, n_confs or opts.n_confs, params))
    if not ids:
        params.useRandomCoords = True  # the fallback RDKit recommends for hard ring systems
        ids = list(AllChem.EmbedMultipleConfs(m, n_confs or opts.n_confs, params))
    if not ids:
        raise PrepError("ETKDG embedding failed")
    if opts.ff_iters > 0:
        if AllChem.MMFFHasAllMoleculeParams(m):
            AllChem.MMFFOptimizeMoleculeConfs(m, numThreads=1, maxIters=opts.ff_iters)
        elif AllChem.UFFHasAllMoleculeParams(m):
            AllChem.UFFOptimizeMoleculeConfs(m, numThreads=1, maxIters=opts.ff_iters)
    return m


def given_pose(mol: Chem.Mol, box: Box | None = None) -> Chem.Mol:
    """The record's own 3D coordinates with hydrogens added in place; PrepError without 3D coordinates, with heavy
    atoms collapsed onto each other, or (given ``box``) with its heavy-atom centre more than
    :data:`GIVEN_POSE_MARGIN` outside the box. ``mol`` is the molecule :func:`choose_molecule` kept (counter-ions
    already stripped)."""
    if mol.GetNumConformers() == 0:
        raise PrepError("given poses need 3D coordinates (this record has none)")
    xyz = mol.GetConformer().GetPositions()
    if not mol.GetConformer().Is3D() or np.allclose(xyz[:, 2], 0.0):
        raise PrepError("given poses need 3D coordinates (this record is 2D)")
    heavy = xyz[heavy_indices(mol)]
    if len(heavy) > 1:
        d = np.sqrt(((heavy[:, None] - heavy[None]) ** 2).sum(-1)) + np.eye(len(heavy)) * 1e9
        if d.min() < MIN_ATOM_DISTANCE:
            raise PrepError(f"given pose has heavy atoms {d.min():.2f} Å apart (under {MIN_ATOM_DISTANCE} Å): "
                            "not a 3D structure")
    centre = heavy.mean(0)
    if box is not None and not box.contains(centre[None], margin=GIVEN_POSE_MARGIN)[0]:
        raise PrepError("given pose lies outside the box: its centre (" + ", ".join(f"{v:.1f}" for v in centre)
                        + f") is more than {GIVEN_POSE_MARGIN:g} Å outside it")
    return Chem.AddHs(mol, addCoords=True)


# heavy atoms of a real pose are never this close (Å); a record with coordinates collapsed onto a point is not a pose
MIN_ATOM_DISTANCE = 0.5
# a given pose whose heavy-atom centre lies farther than this outside the box (Å) is not in the pocket
GIVEN_POSE_MARGIN = 2.0


def with_conformers(mol: Chem.Mol, xyz: np.ndarray) -> Chem.Mol:
    """Copy of ``mol`` whose conformers are ``xyz [P, N, 3]`` (ids 0..P-1)."""
    out = Chem.Mol(mol)
    out.RemoveAllConformers()
    for p in range(len(xyz)):
        conf = Chem.Conformer(mol.GetNumAtoms())
        for i, (x, y, z) in enumerate(np.asarray(xyz[p], np.float64)):
            conf.SetAtomPosition(i, (float(x), float(y), float(z)))
        conf.Set3D(True)
        conf.SetId(p)
        out.AddConformer(conf, assignId=False)
    return out


def heavy_indices(mol: Chem.Mol) -> np.ndarray:
    return np.asarray([a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1], dtype=np.int64)


# ----------------------------------------------------------------------------- template poses

def _rotation(w: np.ndarray) -> np.ndarray:
    """Rotation vectors ``[P, 3]`` -> matrices ``[P, 3, 3]`` (Rodrigues)."""
    theta = np.linalg.norm(w, axis=1)[:, None, None]
    k = w / np.maximum(theta[:, :, 0], 1e-12)
    kx = np.zeros((len(w), 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx = kx - kx.transpose(0, 2, 1)
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * (kx @ kx)


class ClashField:
    """The clash energy ``sum_m relu(contact - |x - r_m|)^2`` (Å^2) of one ligand atom at ``x`` and its
    gradient, tabulated once per receptor on a grid (as Vina tabulates its terms in maps) and read by
    trilinear interpolation, so a relaxation step costs O(ligand atoms) instead of O(ligand x receptor).

    The grid spans ``lo``..``hi`` (Å) at ``spacing``; points outside it feel no clash.
    """

    def __init__(self, receptor_xyz: np.ndarray, lo, hi, contact: float = 3.3, spacing: float = 0.375):
        self.lo = np.asarray(lo, np.float64)
        self.spacing, self.contact = float(spacing), float(contact)
        self.shape = tuple(int(v) for v in np.ceil((np.asarray(hi, np.float64) - self.lo) / spacing).astype(int) + 1)
        n = int(np.prod(self.shape))
        rec = np.asarray(receptor_xyz, np.float64).reshape(-1, 3)
        hi_ = self.lo + (np.asarray(self.shape) - 1) * spacing
        rec = rec[np.all((rec > self.lo - contact) & (rec < hi_ + contact), axis=1)]
        r = int(np.ceil(contact / spacing))
        off = np.stack(np.meshgrid(*[np.arange(-r, r + 2)] * 3, indexing="ij"), -1).reshape(-1, 3)
        off = off[np.linalg.norm(off - 0.5, axis=1) <= r + 1.0]  # the ball that can lie within reach
        acc = np.zeros((4, n))
        strides = np.array([self.shape[1] * self.shape[2], self.shape[2], 1])
        for s in range(0, len(rec), 128):
            a = rec[s:s + 128]
            idx = np.floor((a - self.lo) / spacing).astype(np.int64)[:, None] + off[None]  # [A, O, 3]
            diff = self.lo + idx * spacing - a[:, None]
            d = np.sqrt((diff ** 2).sum(-1))
            over = np.maximum(contact - d, 0.0)
            ok = (over > 0) & np.all((idx >= 0) & (idx < np.asarray(self.shape)), axis=-1)
            flat = (idx[ok] * strides).sum(-1)
            o, df, dd = over[ok], diff[ok], np.maximum(d[ok], 1e-6)
            acc[0] += np.bincount(flat, o * o, n)
            g = (-2.0 * o / dd)[:, None] * df  # d/dx of relu(contact - |x - r|)^2
            for k in range(3):
                acc[1 + k] += np.bincount(flat, g[:, k], n)
        self.table = acc.T.reshape(*self.shape, 4).astype(np.float32)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points ``[..., 3]`` -> (energy ``[...]``, gradient ``[..., 3]``)."""
        shp = x.shape[:-1]
        f = (x.reshape(-1, 3) - self.lo) / self.spacing
        i0 = np.floor(f).astype(np.int64)
        t = f - i0
        dims = np.asarray(self.shape)
        inside = np.all((i0 >= 0) & (i0 < dims - 1), axis=1)
        i0 = np.where(inside[:, None], i0, 0)
        out = np.zeros((len(f), 4))
        for c in range(8):
            b = np.array([(c >> 2) & 1, (c >> 1) & 1, c & 1])
            w = np.prod(np.where(b, t, 1.0 - t), axis=1)
            j = i0 + b
            out += w[:, None] * self.table[j[:, 0], j[:, 1], j[:, 2]]
        out[~inside] = 0.0
        return out[:, 0].reshape(shp), out[:, 1:].reshape(*shp, 3)


def relax_rigid(poses: np.ndarray, heavy: np.ndarray, receptor_xyz: np.ndarray, steps: int = 30,
                contact: float = 3.3, step: float = 0.2, tether: float = 0.1,
                field: ClashField | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rigid-body relaxation of ligand poses in the pocket by gradient steps on a clash term.

    ``poses [P, N, 3]`` all-atom coordinates (Å), ``heavy [K]`` heavy-atom indices, ``receptor_xyz [M, 3]``
    heavy receptor atoms. Energy per pose: ``sum relu(contact - d)^2`` over ligand-receptor heavy pairs
    (Å^2) plus ``tether * |shift|^2`` (stay on the template). Each step moves the pose along the net
    force and turns it about its centroid along the net torque (both capped at ``step`` Å / rad);
    a step that raises the energy is undone and the step length halved. Returns (relaxed ``[P, N, 3]``
    float32, final clash ``[P]`` Å^2). With ``field`` the clash term is read from that precomputed
    :class:`ClashField` (same energy, interpolated) instead of summed over ``receptor_xyz``.
    """
    x = np.asarray(poses, np.float64)
    hx = x[:, heavy]  # [P, K, 3]
    c0 = hx.mean(1)  # [P, 3]
    if field is None:  # the receptor atoms a pose can reach
        rec = np.asarray(receptor_xyz, np.float64).reshape(-1, 3)
        reach = float(np.linalg.norm(hx - c0[:, None], axis=2).max()) + contact + 2.0  # poses move ~1-2 Å
        if len(rec):
            rec = rec[np.linalg.norm(rec[None] - c0[:, None], axis=2).min(0) <= reach]
        if len(rec) == 0:
            return x.astype(np.float32), np.zeros(len(x))

    def energy(y, shift):
        if field is not None:
            e_atom, g = field(y)
            e = e_atom.sum(1)
            return e, e + tether * (shift ** 2).sum(1), g
        diff = y[:, :, None, :] - rec[None, None]  # [P, K, M, 3]
        d = np.sqrt((diff ** 2).sum(-1))
        over = np.maximum(contact - d, 0.0)
        e = (over ** 2).sum((1, 2))
        # dE/dy = sum_m -2 over * diff / d
        g = (-2.0 * over / np.maximum(d, 1e-6))[..., None] * diff
        return e, e + tether * (shift ** 2).sum(1), g.sum(2)

    rot = np.repeat(np.eye(3)[None], len(x), 0)
    shift = np.zeros((len(x), 3))
    lr = np.full(len(x), step)
    y = hx.copy()
    clash, total, grad = energy(y, shift)
    for _ in range(steps):
        cen = y.mean(1)
        force = -grad.sum(1) - 2 * tether * shift  # [P, 3]
        torque = np.cross(y - cen[:, None], -grad).sum(1)  # [P, 3]
        fn = np.linalg.norm(force, axis=1, keepdims=True)
        tn = np.linalg.norm(torque, axis=1, keepdims=True)
        dt = force / np.maximum(fn, 1e-12) * np.minimum(fn, 1.0) * lr[:, None]
        dw = torque / np.maximum(tn, 1e-12) * np.minimum(tn, 1.0) * lr[:, None] / 3.0
        r = _rotation(dw)
        y_new = np.einsum("pij,pkj->pki", r, y - cen[:, None]) + cen[:, None] + dt[:, None]
        s_new = shift + dt
        c_new, t_new, g_new = energy(y_new, s_new)
        better = t_new < total
        lr = np.where(better, np.minimum(lr * 1.2, step), lr * 0.5)
        b = better[:, None, None]
        y, shift = np.where(b, y_new, y), np.where(better[:, None], s_new, shift)
        rot = np.where(b, r @ rot, rot)
        clash, total, grad = np.where(better, c_new, clash), np.where(better, t_new, total), np.where(b, g_new, grad)
    # apply the accumulated rigid motion (rotation about the original heavy centroid, then shift) to all atoms
    cen_final = y.mean(1)
    out = np.einsum("pij,pnj->pni", rot, x - c0[:, None]) + cen_final[:, None]
    return out.astype(np.float32), clash


# elements the shape overlay knows radii for; a metal of the reference (a ruthenium complex, DEKOIS PIM-2's
# crystal ligand) is left out of the template rather than failing every molecule's placement
TEMPLATE_ELEMENTS = frozenset({1, 5, 6, 7, 8, 9, 14, 15, 16, 17, 34, 35, 53})


def organic_part(mol: Chem.Mol) -> Chem.Mol:
    """``mol`` without the atoms outside :data:`TEMPLATE_ELEMENTS` (metals), coordinates kept; ``mol`` itself when
    it has none. Raises ValueError when nothing is left."""
    drop = sorted((a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() not in TEMPLATE_ELEMENTS), reverse=True)
    if not drop:
        return mol
    rw = Chem.RWMol(mol)
    for i in drop:
        rw.RemoveAtom(i)
    out = rw.GetMol()
    if out.GetNumAtoms() == 0:
        raise ValueError("the reference ligand has no organic atoms to align on")
    out.UpdatePropertyCache(strict=False)
    Chem.SanitizeMol(out, Chem.SanitizeFlags.SANITIZE_ALL ^ Chem.SanitizeFlags.SANITIZE_PROPERTIES, catchErrors=True)
    return out


class TemplatePoser:
    """Conformers aligned onto a reference ligand by shape + pharmacophore ("colour") overlap
    (``rdShapeAlign`` when RDKit has it, else Crippen O3A), best ``keep`` kept, then relaxed rigidly
    against the receptor (:func:`relax_rigid`)."""

    def __init__(self, reference: Chem.Mol, receptor_xyz: np.ndarray, keep: int = 3, relax_steps: int = 30):
        if reference.GetNumConformers() == 0:
            raise ValueError("template poses need a reference ligand with 3D coordinates")
        self.reference = Chem.AddHs(organic_part(reference), addCoords=True)
        self.receptor_xyz = np.asarray(receptor_xyz, np.float32)
        self.keep = keep
        self.relax_steps = relax_steps
        # the clash map spans the reference ligand's extent plus a margin that covers larger ligands
        ref_xyz = self.reference.GetConformer().GetPositions()
        self.field = ClashField(self.receptor_xyz, ref_xyz.min(0) - 10.0, ref_xyz.max(0) + 10.0)
        try:
            from rdkit.Chem import rdShapeAlign
            self._shape = rdShapeAlign
        except ImportError:  # older RDKit: Crippen O3A (atom-type and logP-contribution overlap)
            self._shape = None
            from rdkit.Chem import rdMolDescriptors
            self._ref_contribs = rdMolDescriptors._CalcCrippenContribs(self.reference)

    def _align(self, mol: Chem.Mol, cid: int) -> float:
        if self._shape is not None:
            shape, color = self._shape.AlignMol(self.reference, mol, probeConfId=cid, useColors=True, opt_param=0.5)
            return float(shape + color)
        from rdkit.Chem import rdMolAlign, rdMolDescriptors
        o3a = rdMolAlign.GetCrippenO3A(mol, self.reference, rdMolDescriptors._CalcCrippenContribs(mol),
                                       self._ref_contribs, prbCid=cid)
        o3a.Align()
        return float(o3a.Score()) / 100.0

    def poses(self, mol: Chem.Mol) -> tuple[Chem.Mol, np.ndarray]:
        """Embedded molecule (explicit H, conformers) -> (copy with one conformer per pose, overlap ``[P]``)."""
        scored = []
        for conf in mol.GetConformers():
            cid = conf.GetId()
            s = self._align(mol, cid)
            scored.append((s, cid))
        if not scored:
            raise PrepError("no conformer to place")
        scored.sort(key=lambda t: -t[0])
        best = scored[: self.keep]
        xyz = np.stack([mol.GetConformer(cid).GetPositions() for _, cid in best])
        relaxed, _ = relax_rigid(xyz, heavy_indices(mol), self.receptor_xyz, self.relax_steps, field=self.field)
        return with_conformers(mol, relaxed), np.asarray([s for s, _ in best], np.float32)


# ----------------------------------------------------------------------------- Vina docking

_AD_BY_ELEMENT = {6: "C", 7: "N", 8: "OA", 16: "SA", 15: "P", 9: "F", 17: "Cl", 35: "Br", 53: "I", 1: "H",
                  12: "Mg", 25: "Mn", 30: "Zn", 20: "Ca", 26: "Fe"}


VINA_CUTOFF = 8.0  # Å: Vina's interaction cutoff; receptor atoms farther than this from the box never count


def pocket_residues(receptor: Chem.Mol, box: Box, margin: float = VINA_CUTOFF + 2.0) -> Chem.Mol:
    """The receptor cut to the whole residues that have an atom within ``margin`` Å of ``box`` (waters and
    ions the same way): what Vina's maps for that box can see, with 2 Å to spare so that the hydrogens added
    at the cut ends lie beyond the cutoff. A whole protein of 10,000+ atoms becomes a few thousand, and
    RDKit's AddHs with coordinates, quadratic-ish on big chains, takes seconds instead of minutes."""
    xyz = receptor.GetConformer().GetPositions()
    near = box.contains(xyz, margin=margin)
    keep_res = set()
    for a in receptor.GetAtoms():
        if near[a.GetIdx()]:
            keep_res.add(_residue_key(a))
    drop = [a.GetIdx() for a in receptor.GetAtoms() if _residue_key(a) not in keep_res]
    if not drop:
        return receptor
    rw = Chem.RWMol(receptor)
    rw.BeginBatchEdit()
    for i in drop:
        rw.RemoveAtom(i)
    rw.CommitBatchEdit()
    out = rw.GetMol()
    out.UpdatePropertyCache(strict=False)
    return out


def _residue_key(atom: Chem.Atom):
    ri = atom.GetPDBResidueInfo()
    if ri is None:
        return ("", "", atom.GetIdx(), "")
    return (ri.GetChainId(), ri.GetResidueName(), ri.GetResidueNumber(), ri.GetInsertionCode())


def receptor_pdbqt(receptor: Chem.Mol, box: Box | None = None) -> str:
    """Rigid receptor PDBQT for Vina from an RDKit protein (PDB read by :func:`atomgrid.io.read_receptor`).

    Polar hydrogens are added (RDKit, with coordinates; a receptor that already carries its hydrogens, as
    prepared receptors do, keeps its own) and typed HD; non-polar ones are dropped as in AutoDock's
    united-atom receptors. Carbon is ``A`` when aromatic and nitrogen ``NA`` when an
    acceptor, both from the agtypes residue templates (:mod:`atomgrid.typing`). With ``box`` (the box
    Vina's maps will cover), only :func:`pocket_residues` are written: the same Vina energies in that box,
    at a fraction of the cost on a large receptor.
    """
    from . import typing as agt
    if box is not None:
        receptor = pocket_residues(receptor, box)
    heavy = np.asarray([a.GetIdx() for a in receptor.GetAtoms() if a.GetAtomicNum() > 1], np.int64)
    idx, feats = agt.receptor_features(receptor, heavy)
    f = {n: i for i, n in enumerate(agt.FEATURES)}
    ad = {}
    for i, v in zip(idx.tolist(), feats):
        z = receptor.GetAtomWithIdx(i).GetAtomicNum()
        t = _AD_BY_ELEMENT.get(z, receptor.GetAtomWithIdx(i).GetSymbol())
        if z == 6 and v[f["aromatic"]] > 0:
            t = "A"
        if z == 7 and v[f["acceptor"]] > 0:
            t = "NA"
        ad[i] = t
    n_h = sum(a.GetAtomicNum() == 1 for a in receptor.GetAtoms())
    if n_h >= 0.1 * len(heavy):
        # already protonated (a prepared receptor, all hydrogens or polar ones only, as DEKOIS VEGFR2's): its own
        # hydrogens, none guessed (RDKit's AddHs with coordinates took over 25 minutes on that 2,400-atom pocket)
        withh = receptor
    else:
        withh = Chem.AddHs(receptor, addCoords=True, addResidueInfo=True)
    conf = withh.GetConformer()
    lines = []
    for a in withh.GetAtoms():
        i = a.GetIdx()
        if a.GetAtomicNum() == 1:
            nb = a.GetNeighbors()
            if not nb or nb[0].GetAtomicNum() not in (7, 8):
                continue
            t = "HD"
        elif i in ad:
            t = ad[i]
        else:
            continue
        p = conf.GetAtomPosition(i)
        ri = a.GetPDBResidueInfo()
        name = ri.GetName() if ri else f" {a.GetSymbol():<3}"
        resn = ri.GetResidueName() if ri else "UNL"
        chain = ri.GetChainId() if ri else "A"
        resi = ri.GetResidueNumber() if ri else 1
        lines.append(f"ATOM  {len(lines) + 1:5d} {name:<4s} {resn:>3s} {chain or 'A':1s}{resi:4d}    "
                     f"{p.x:8.3f}{p.y:8.3f}{p.z:8.3f}  1.00  0.00    +0.000 {t:<2s}")
    return "\n".join(lines) + "\n"


def vina_seed(seed: int) -> int:
    """The seed handed to Vina for our ``seed``: Vina reads 0 as 'draw one at random', so docking with the
    default seed 0 gave another pose on every run (a fresh checkout re-docked other DUD-E reference poses).
    ``seed + 1``, kept inside Vina's positive int range."""
    return int(seed) % 2_147_483_646 + 1


class _VinaMaps:
    """One receptor and one set of Vina maps over ``box`` (the ``vina`` Python package, meeko for ligands)."""

    def __init__(self, receptor_pdbqt_text: str, box: Box, seed: int = 0, cpu: int = 1, need: str = "Vina"):
        try:
            from vina import Vina
            from meeko import MoleculePreparation, PDBQTMolecule, PDBQTWriterLegacy, RDKitMolCreate
        except ImportError as exc:
            raise RuntimeError(f"{need} needs the 'vina' and 'meeko' packages (pip install vina meeko gemmi): {exc}") from None
        self._prep, self._zero_prep = MoleculePreparation(), None
        self._writer, self._pdbqt_mol, self._create = PDBQTWriterLegacy, PDBQTMolecule, RDKitMolCreate
        fd, self._rec_path = tempfile.mkstemp(suffix=".pdbqt")
        with os.fdopen(fd, "w") as f:
            f.write(receptor_pdbqt_text)
        self.v = Vina(sf_name="vina", cpu=cpu, seed=vina_seed(seed), verbosity=0)
        self.v.set_receptor(self._rec_path)
        self.v.compute_vina_maps(center=list(box.center), box_size=list(box.size))

    def __del__(self):
        try:
            os.unlink(self._rec_path)
        except Exception:
            pass

    def _set_ligand(self, mol: Chem.Mol) -> None:
        text, ok, err = self._writer.write_string(self._prep.prepare(mol)[0])
        if not ok and "non finite charge" in err:
            # Gasteiger charges come out NaN for some records (e.g. PDBbind PDBQT ligands); Vina's scoring
            # function never reads partial charges, so such a ligand is written with zero charges instead
            if self._zero_prep is None:
                from meeko import MoleculePreparation
                self._zero_prep = MoleculePreparation(charge_model="zero")
            text, ok, err = self._writer.write_string(self._zero_prep.prepare(mol)[0])
        if not ok:
            raise PrepError(f"meeko could not prepare the ligand: {err.strip().splitlines()[0] if err.strip() else 'unknown'}")
        self.v.set_ligand_from_string(text)


class VinaScorer(_VinaMaps):
    """Vina's energy (kcal/mol) of poses as they are (``score_only``), and after Vina's local optimisation."""

    def __init__(self, receptor_pdbqt_text: str, box: Box, cpu: int = 1):
        super().__init__(receptor_pdbqt_text, box, cpu=cpu, need="Vina scoring")

    def energies(self, mol: Chem.Mol, conf_id: int = -1, local: bool = False) -> tuple[float, float]:
        """(score_only, energy after local optimisation or NaN unless ``local``) of ``mol``'s conformer
        ``conf_id``. Raises :class:`PrepError` when the molecule cannot be typed or lies outside the maps."""
        m = Chem.Mol(mol, confId=conf_id) if conf_id >= 0 else Chem.Mol(mol)
        try:
            Chem.SanitizeMol(m)  # poses read back unsanitised: Gasteiger charges need rings and aromaticity
            m = Chem.AddHs(m, addCoords=True)
        except Exception as exc:
            raise PrepError(f"Vina could not type the pose ({type(exc).__name__})") from None
        try:
            self._set_ligand(m)
            e0 = float(self.v.score()[0])
            e1 = float(self.v.optimize()[0]) if local else math.nan
        except PrepError:
            raise
        except Exception as exc:  # e.g. an atom outside Vina's maps
            if "not a valid AutoDock type" in str(exc):  # boron, for one
                raise PrepError("Vina has no atom type for one of its atoms") from None
            raise PrepError(f"Vina could not score the pose ({type(exc).__name__})") from None
        return e0, e1


class VinaDocker(_VinaMaps):
    """AutoDock Vina (the ``vina`` Python package) with meeko ligand preparation, one receptor and box.

    Maps are computed once per docker; ``dock(mol)`` returns (the docked molecule as meeko rebuilds it, one
    conformer per pose, best first; Vina energies ``[P]`` kcal/mol).
    """

    def __init__(self, receptor_pdbqt_text: str, box: Box, exhaustiveness: int = 8, n_poses: int = 3,
                 seed: int = 0, cpu: int = 1):
        super().__init__(receptor_pdbqt_text, box, seed=seed, cpu=cpu, need="--poses dock")
        self.exhaustiveness, self.n_poses, self.seed = exhaustiveness, n_poses, seed

    def dock(self, mol: Chem.Mol) -> tuple[Chem.Mol, np.ndarray]:
        self._set_ligand(mol)
        self.v.dock(exhaustiveness=self.exhaustiveness, n_poses=self.n_poses)
        out = self.v.poses(n_poses=self.n_poses)
        pmol = self._pdbqt_mol(out, skip_typing=True)
        mols = self._create.from_pdbqt_mol(pmol)
        posed = mols[0]
        if posed is None or posed.GetNumConformers() == 0:
            raise PrepError("Vina returned no pose")
        energies = np.asarray([float(e[0]) for e in self.v.energies(n_poses=self.n_poses)], np.float32)
        n = min(posed.GetNumConformers(), len(energies))
        xyz = np.stack([c.GetPositions() for c in posed.GetConformers()][:n])
        posed = with_conformers(posed, xyz)
        posed.SetProp("_Name", mol.GetProp("_Name") if mol.HasProp("_Name") else "")
        return posed, energies[:n]
