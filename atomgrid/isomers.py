"""Positional isomers of a molecule: decoys that share an active's formula, size, rings and shape.

Issue 17 item 3 asks for "decoys that look like actives (property-matched, and actives' own property-preserving
isomers)". An isomer here swaps the elements of two heavy atoms of the same kind of site (both aromatic or both sp3, of the
same degree and ring membership, neither charged, chiral or carrying an explicit H): a pyridine N moved round its
ring, an ether O moved along a chain, a thioether S and a CH2 exchanged. Bonds are untouched, so the formula, the
heavy-atom count, the ring system and (once posed) the shape are the active's; only where the hetero atoms sit
changes, which is what a pocket can tell and the ligand's composition cannot. Swaps that make a new bond between two
hetero atoms (N-N, N-O, O-O, S-O, ...) are refused, so no hydrazine, peroxide or N-oxide appears that the active did
not have, and a swap that gives back the active itself (a symmetric site) is not an isomer.
"""
from __future__ import annotations

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem.rdMolDescriptors import CalcMolFormula

SWAPPABLE = frozenset({6, 7, 8, 16})  # C, N, O, S


def _site(atom: Chem.Atom) -> tuple | None:
    """The kind of site an atom sits on (two atoms swap only within one kind), None when it never swaps."""
    if (atom.GetAtomicNum() not in SWAPPABLE or atom.GetFormalCharge() or atom.GetNumExplicitHs()
            or atom.GetNumRadicalElectrons() or atom.GetChiralTag() != Chem.ChiralType.CHI_UNSPECIFIED
            or atom.GetIsotope()):
        return None
    if not atom.GetIsAromatic() and atom.GetHybridization() != Chem.HybridizationType.SP3:
        return None  # sp2/sp chain sites would turn amides, carbonyls and alkynes into imidic acids and ynols
    return (atom.GetDegree(), atom.GetIsAromatic(), atom.IsInRing())


def hetero_bonds(mol: Chem.Mol) -> int:
    """Bonds between two atoms that are neither carbon nor hydrogen."""
    return sum(b.GetBeginAtom().GetAtomicNum() not in (1, 6) and b.GetEndAtom().GetAtomicNum() not in (1, 6)
               for b in mol.GetBonds())


def swap_pairs(mol: Chem.Mol) -> list[tuple[int, int]]:
    """Every (i, j), i < j, of heavy atoms on the same kind of site (:func:`_site`) with different elements."""
    sites = [_site(a) for a in mol.GetAtoms()]
    n = mol.GetNumAtoms()
    return [(i, j) for i in range(n) for j in range(i + 1, n)
            if sites[i] is not None and sites[i] == sites[j]
            and mol.GetAtomWithIdx(i).GetAtomicNum() != mol.GetAtomWithIdx(j).GetAtomicNum()]


def swapped(mol: Chem.Mol, i: int, j: int) -> Chem.Mol | None:
    """``mol`` with the elements of atoms ``i`` and ``j`` exchanged (hydrogens recomputed from valence), or None when
    RDKit cannot sanitise it, the formula changed or a new hetero-hetero bond appeared."""
    rw = Chem.RWMol(mol)
    a, b = rw.GetAtomWithIdx(i), rw.GetAtomWithIdx(j)
    za, zb = a.GetAtomicNum(), b.GetAtomicNum()
    for atom, z in ((a, zb), (b, za)):
        atom.SetAtomicNum(z)
        atom.SetNoImplicit(False)
        atom.SetNumExplicitHs(0)
    out = rw.GetMol()
    try:
        with rdBase.BlockLogs():  # a refused swap is expected, not news
            Chem.SanitizeMol(out)
    except Exception:  # RDKit raises several kinds (valence, kekulisation)
        return None
    if CalcMolFormula(out) != CalcMolFormula(mol) or hetero_bonds(out) > hetero_bonds(mol):
        return None
    return out


def positional_isomer(smiles: str, rng: np.random.Generator, avoid: set[str] | frozenset = frozenset()) -> str | None:
    """The canonical SMILES of one positional isomer of ``smiles`` (a swap drawn with ``rng`` among those that work,
    :func:`swapped`), never the molecule itself nor one in ``avoid`` (canonical SMILES); None when it has none."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    own = Chem.MolToSmiles(mol)
    pairs = swap_pairs(mol)
    for k in rng.permutation(len(pairs)):
        iso = swapped(mol, *pairs[int(k)])
        if iso is None:
            continue
        smi = Chem.MolToSmiles(iso)
        if smi != own and smi not in avoid:
            return smi
    return None
