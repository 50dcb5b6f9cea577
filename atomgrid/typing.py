"""Atom typing: heavy atom -> multi-hot channel weights, receptor and ligand in separate channels.

Scheme ``agtypes-v1`` (14 features per side, 28 channels): the element class
(C, N, O, S, P, halogen, metal, other), aromatic, sp2 (non-aromatic sp2 or sp), sp3,
H-bond donor, H-bond acceptor, hydrophobic carbon (a carbon bonded to no N or O, as in
smina's C_H vs C_P). An atom lights one element channel and any of the property channels,
so the property channels are AtomNet-like pharmacophore maps on top of element maps.

Ligands are typed from the sanitised RDKit graph. Receptor atoms of the 20 standard amino
acids are typed from per-(residue, atom name) templates built once with RDKit from
``Chem.MolFromSequence`` (the same feature function, so both sides follow one rule and a
heavy-atom-only PDB is typed as if protonated); other receptor atoms (cofactors, metals,
modified residues) use the element and the proximity-bond graph. Hydrogens are never gridded.
The scheme name and feature list are stored with every model (``scheme_dict``).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from rdkit import Chem

SCHEME = "agtypes-v1"
FEATURES = ("C", "N", "O", "S", "P", "halogen", "metal", "other",
            "aromatic", "sp2", "sp3", "donor", "acceptor", "hydrophobic_C")
NUM_FEATURES = len(FEATURES)
RECEPTOR_CHANNELS = tuple(f"rec_{f}" for f in FEATURES)
LIGAND_CHANNELS = tuple(f"lig_{f}" for f in FEATURES)
CHANNELS = RECEPTOR_CHANNELS + LIGAND_CHANNELS
NUM_CHANNELS = len(CHANNELS)  # 28
RECEPTOR_SLICE = slice(0, NUM_FEATURES)
LIGAND_SLICE = slice(NUM_FEATURES, 2 * NUM_FEATURES)

_F = {f: i for i, f in enumerate(FEATURES)}
HALOGENS = frozenset({9, 17, 35, 53, 85})
METALS = frozenset({3, 4, 11, 12, 13, 19, 20, *range(21, 31), 37, 38, *range(39, 49), 55, 56,
                    *range(57, 81), 81, 82, 83})
_ELEMENT_FEATURE = {6: "C", 7: "N", 8: "O", 16: "S", 15: "P"}

# Radii (Å) for the density, per element: smina/libmolgrid "xs" radii; others 1.5 (metals 1.2).
_RADII = {6: 1.9, 7: 1.8, 8: 1.7, 16: 2.0, 15: 2.1, 9: 1.5, 17: 1.8, 35: 2.0, 53: 2.2, 34: 2.1, 5: 1.9}
METAL_RADIUS = 1.2
OTHER_RADIUS = 1.5
MAX_RADIUS = 2.2


def scheme_dict() -> dict:
    """Plain-data description of the typing scheme (stored in checkpoints)."""
    return {"name": SCHEME, "features": list(FEATURES), "channels": list(CHANNELS)}


def check_scheme(d: dict) -> None:
    """Raise ValueError if a stored scheme is not the one this code implements."""
    if d.get("name") != SCHEME or list(d.get("channels", [])) != list(CHANNELS):
        raise ValueError(f"model was trained with typing scheme {d.get('name')!r}, this code implements {SCHEME!r}")


def radius(atomic_num: int) -> float:
    if atomic_num in _RADII:
        return _RADII[atomic_num]
    return METAL_RADIUS if atomic_num in METALS else OTHER_RADIUS


def _element_feature(z: int) -> str:
    if z in _ELEMENT_FEATURE:
        return _ELEMENT_FEATURE[z]
    if z in HALOGENS:
        return "halogen"
    if z in METALS:
        return "metal"
    return "other"


def _graph_features(atom: Chem.Atom, sanitized: bool) -> np.ndarray:
    """Features ``[14]`` of one heavy atom from its RDKit graph."""
    v = np.zeros(NUM_FEATURES, dtype=np.float32)
    z = atom.GetAtomicNum()
    v[_F[_element_feature(z)]] = 1.0
    nbrs = [n.GetAtomicNum() for n in atom.GetNeighbors()]
    if z == 6 and not any(n in (7, 8) for n in nbrs):
        v[_F["hydrophobic_C"]] = 1.0
    if sanitized:
        hyb = atom.GetHybridization()
        if atom.GetIsAromatic():
            v[_F["aromatic"]] = 1.0
        elif hyb in (Chem.HybridizationType.SP2, Chem.HybridizationType.SP):
            v[_F["sp2"]] = 1.0
        elif hyb == Chem.HybridizationType.SP3 and z not in METALS:
            v[_F["sp3"]] = 1.0
        n_h = atom.GetTotalNumHs(includeNeighbors=True)
    else:
        n_h = sum(1 for n in nbrs if n == 1) + atom.GetNumExplicitHs()
    charge = atom.GetFormalCharge()
    if z in (7, 8) and n_h > 0:
        v[_F["donor"]] = 1.0
    if z == 8 and charge <= 0:
        v[_F["acceptor"]] = 1.0
    elif z == 7 and charge <= 0 and n_h == 0:
        heavy = sum(1 for n in nbrs if n != 1)
        # pyridine-like, nitrile and imine N accept; amide/aniline/tertiary amine N usually do not
        if heavy <= 2 and not _is_amide_n(atom):
            v[_F["acceptor"]] = 1.0
    return v


def _is_amide_n(atom: Chem.Atom) -> bool:
    for nb in atom.GetNeighbors():
        if nb.GetAtomicNum() == 6:
            for b in nb.GetBonds():
                o = b.GetOtherAtom(nb)
                if o.GetAtomicNum() in (8, 16) and b.GetBondType() == Chem.BondType.DOUBLE:
                    return True
    return False


def ligand_features(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """Typed heavy atoms of a ligand: (atom indices ``[K]`` int64, features ``[K, 14]`` float32).

    Works on unsanitised molecules too (then no aromatic/hybridisation channels).
    """
    if mol.GetNumAtoms() and mol.GetAtomWithIdx(0).HasProp("_ad_type"):
        return pdbqt_ligand_features(mol)
    sanitized = _is_sanitized(mol)
    idx, feats = [], []
    for a in mol.GetAtoms():
        if a.GetAtomicNum() > 1:
            idx.append(a.GetIdx())
            feats.append(_graph_features(a, sanitized))
    return np.asarray(idx, dtype=np.int64), (np.stack(feats) if feats else np.zeros((0, NUM_FEATURES), np.float32))


def pdbqt_ligand_features(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray]:
    """Typing of a PDBQT pose (atoms carry ``_ad_type``; proximity bonds, polar H only).

    Aromatic from AutoDock's ``A`` carbons (and N/O/S in a 5/6 ring of ``A`` carbons), acceptors
    from ``OA``/``NA``, donors from N/O bonded to ``HD``; sp2 vs sp3 from the geometry (mean bond
    angle > 115 degrees, or a short terminal bond), since PDBQT has no bond orders.
    """
    xyz = mol.GetConformer().GetPositions()
    Chem.FastFindRings(mol)  # proximity-bonded PDB records have no ring info yet
    ri = mol.GetRingInfo()
    ad = [a.GetProp("_ad_type") if a.HasProp("_ad_type") else "" for a in mol.GetAtoms()]
    idx, feats = [], []
    for a in mol.GetAtoms():
        z = a.GetAtomicNum()
        if z <= 1:
            continue
        i = a.GetIdx()
        v = np.zeros(NUM_FEATURES, dtype=np.float32)
        v[_F[_element_feature(z)]] = 1.0
        nbrs = list(a.GetNeighbors())
        nz = [n.GetAtomicNum() for n in nbrs]
        if z == 6 and not any(n in (7, 8) for n in nz):
            v[_F["hydrophobic_C"]] = 1.0
        aromatic = ad[i] == "A"
        if not aromatic and z in (7, 8, 16):
            for ring in ri.AtomRings():
                if i in ring and len(ring) in (5, 6) and all(ad[j] == "A" or mol.GetAtomWithIdx(j).GetAtomicNum() in (7, 8, 16) for j in ring) \
                        and sum(ad[j] == "A" for j in ring) >= len(ring) - 2:
                    aromatic = True
                    break
        if aromatic:
            v[_F["aromatic"]] = 1.0
        elif z not in METALS:
            v[_F[_geometric_hybridisation(xyz, i, [n.GetIdx() for n in nbrs], z)]] = 1.0
        if z in (7, 8) and any(ad[n.GetIdx()] == "HD" or n.GetAtomicNum() == 1 for n in nbrs):
            v[_F["donor"]] = 1.0
        if ad[i] in ("OA", "NA"):
            v[_F["acceptor"]] = 1.0
        idx.append(i)
        feats.append(v)
    return np.asarray(idx, dtype=np.int64), (np.stack(feats) if feats else np.zeros((0, NUM_FEATURES), np.float32))


_TERMINAL_SP2 = {6: 1.45, 7: 1.38, 8: 1.30, 16: 1.70}


def _geometric_hybridisation(xyz: np.ndarray, i: int, nbrs: list[int], z: int) -> str:
    if not nbrs:
        return "sp3"
    if len(nbrs) == 1:
        d = float(np.linalg.norm(xyz[nbrs[0]] - xyz[i]))
        return "sp2" if d < _TERMINAL_SP2.get(z, 0.0) else "sp3"
    if len(nbrs) >= 4:
        return "sp3"
    vecs = xyz[nbrs] - xyz[i]
    vecs = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    angles = [np.degrees(np.arccos(np.clip(vecs[a] @ vecs[b], -1, 1)))
              for a in range(len(nbrs)) for b in range(a + 1, len(nbrs))]
    return "sp2" if float(np.mean(angles)) > 115.0 else "sp3"


def _is_sanitized(mol: Chem.Mol) -> bool:
    try:
        mol.GetRingInfo().NumRings()
        return all(a.GetHybridization() != Chem.HybridizationType.UNSPECIFIED
                   for a in mol.GetAtoms() if a.GetAtomicNum() in (6, 7, 8))
    except RuntimeError:
        return False


# Residue names that are aliases of the 20 standard ones (protonation or disulfide states).
_RES_ALIASES = {"HID": "HIS", "HIE": "HIS", "HIP": "HIS", "HSD": "HIS", "HSE": "HIS", "HSP": "HIS",
                "CYX": "CYS", "CYM": "CYS", "ASH": "ASP", "GLH": "GLU", "LYN": "LYS", "MSE": "MET"}
_ONE = {"ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G",
        "HIS": "H", "ILE": "I", "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S",
        "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V"}


@lru_cache(maxsize=1)
def residue_templates() -> dict[tuple[str, str], np.ndarray]:
    """(residue name, atom name) -> features ``[14]`` for the 20 amino acids (mid-chain residue of G-X-G)."""
    table: dict[tuple[str, str], np.ndarray] = {}
    for three, one in _ONE.items():
        m = Chem.MolFromSequence(f"G{one}G")
        for a in m.GetAtoms():
            info = a.GetPDBResidueInfo()
            if info.GetResidueNumber() != 2 or a.GetAtomicNum() == 1:
                continue
            table[(three, info.GetName().strip())] = _graph_features(a, True)
        # terminal oxygen of a chain end: a carboxylate O
        table[(three, "OXT")] = table[(three, "O")].copy()
    # Histidine: tautomer unknown in a heavy-atom PDB, so both ring N donate and accept.
    for name in ("ND1", "NE2"):
        v = table[("HIS", name)]
        v[_F["donor"]] = v[_F["acceptor"]] = 1.0
    # MolFromSequence builds neutral side chains; Lys/Arg N are cations (donors, not acceptors).
    for key in (("LYS", "NZ"), ("ARG", "NE"), ("ARG", "NH1"), ("ARG", "NH2")):
        table[key][_F["acceptor"]] = 0.0
        table[key][_F["donor"]] = 1.0
    # Methionine's selenium analogue shares sulfur's slot geometry but is typed by element.
    for (res, name), v in list(table.items()):
        if res == "MET":
            w = v.copy()
            if name == "SD":
                w[:8] = 0
                w[_F["other"]] = 1.0
                name = "SE"
            table[("MSE", name)] = w
    return table


def receptor_features(mol: Chem.Mol, atom_indices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Typed heavy atoms of a receptor: (atom indices ``[K]``, features ``[K, 14]``).

    ``atom_indices`` restricts typing to a subset (e.g. the pocket crop); hydrogens are skipped.
    """
    templates = residue_templates()
    atoms = mol.GetAtoms() if atom_indices is None else [mol.GetAtomWithIdx(int(i)) for i in atom_indices]
    idx, feats = [], []
    for a in atoms:
        if a.GetAtomicNum() <= 1:
            continue
        info = a.GetPDBResidueInfo()
        v = None
        if info is not None:
            res = info.GetResidueName().strip()
            res = _RES_ALIASES.get(res, res)
            v = templates.get((res, info.GetName().strip()))
            if v is not None and a.GetAtomicNum() != _template_z(v):
                v = None  # atom name collides with a template but the element disagrees
        if v is None:
            v = _graph_features(a, False)
        idx.append(a.GetIdx())
        feats.append(v)
    return np.asarray(idx, dtype=np.int64), (np.stack(feats) if feats else np.zeros((0, NUM_FEATURES), np.float32))


def _template_z(v: np.ndarray) -> int:
    k = int(np.argmax(v[:8]))
    return {0: 6, 1: 7, 2: 8, 3: 16, 4: 15}.get(k, -1) if k < 5 else (34 if k == 7 else -1)


def atom_radii(mol: Chem.Mol, atom_indices: np.ndarray) -> np.ndarray:
    """Radii ``[K]`` float32 (Å) for the given atoms."""
    return np.asarray([radius(mol.GetAtomWithIdx(int(i)).GetAtomicNum()) for i in atom_indices], dtype=np.float32)
