"""Positional isomers (atomgrid.isomers): decoys with an active's formula, rings and shape, hetero atoms elsewhere."""
import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem.rdMolDescriptors import CalcMolFormula, CalcNumRings

from atomgrid.isomers import hetero_bonds, positional_isomer, swap_pairs, swapped

DRUGS = ["COc1ccc2nc(S(=O)Cc3ncc(C)c(OC)c3C)[nH]c2c1",  # omeprazole
         "CN1CCN(Cc2ccc(cc2)C(=O)Nc2ccc(C)c(Nc3nccc(n3)-c3cccnc3)c2)CC1",  # imatinib
         "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1",  # gefitinib
         "CC(C)NCC(O)COc1cccc2ccccc12",  # propranolol
         "Cn1cnc2c1c(=O)n(C)c(=O)n2C"]  # caffeine


def test_a_pyridine_nitrogen_moves_round_its_ring():
    rng = np.random.default_rng(0)
    got = {positional_isomer("Cc1ccccn1", np.random.default_rng(k)) for k in range(20)}
    # 2-picoline's ring N goes to the 3- or 4-position; the methyl and the ring carbons it is bonded to stay
    assert got == {"Cc1cccnc1", "Cc1ccncc1"}
    assert positional_isomer("Cc1ccccn1", rng) in got


def test_no_isomer_without_a_hetero_atom_on_a_swappable_site():
    rng = np.random.default_rng(0)
    assert positional_isomer("CC(C)Cc1ccc(cc1)C(C)C(=O)O", rng) is None  # ibuprofen: its O are sp2 or charged-like sites
    assert positional_isomer("c1ccc2[nH]ccc2c1", rng) is None  # indole's N carries its H
    assert positional_isomer("c1ccccc1", rng) is None
    assert positional_isomer("not a smiles", rng) is None


def test_a_swap_that_makes_a_new_hetero_hetero_bond_is_refused():
    mol = Chem.MolFromSmiles("NCCOC")  # N0 C1 C2 O3 C4
    assert (1, 3) in swap_pairs(mol) and (2, 3) in swap_pairs(mol)
    assert swapped(mol, 1, 3) is None  # N-O-C-C-C: a new N-O bond
    assert Chem.MolToSmiles(swapped(mol, 2, 3)) == "CCOCN"
    assert swapped(Chem.MolFromSmiles("OCCO"), 1, 3) is None  # O-O: never


def test_sp2_chain_sites_never_swap():
    """An amide's O and N, a carbonyl, a nitrile: swapping them would make imidic acids and ynols."""
    mol = Chem.MolFromSmiles("CC(=O)NC")
    assert all(mol.GetAtomWithIdx(i).GetAtomicNum() != 8 and mol.GetAtomWithIdx(j).GetAtomicNum() != 8
               for i, j in swap_pairs(mol))
    assert swap_pairs(Chem.MolFromSmiles("CC#N")) == []


@pytest.mark.parametrize("smi", DRUGS)
def test_isomers_keep_formula_rings_and_size_and_add_no_hetero_bond(smi):
    mol = Chem.MolFromSmiles(smi)
    seen = set()
    for k in range(10):
        iso = positional_isomer(smi, np.random.default_rng(k))
        assert iso is not None
        m = Chem.MolFromSmiles(iso)
        assert m is not None and iso != Chem.MolToSmiles(mol)
        assert CalcMolFormula(m) == CalcMolFormula(mol) and CalcNumRings(m) == CalcNumRings(mol)
        assert m.GetNumHeavyAtoms() == mol.GetNumHeavyAtoms() and hetero_bonds(m) <= hetero_bonds(mol)
        assert sorted(a.GetDegree() for a in m.GetAtoms()) == sorted(a.GetDegree() for a in mol.GetAtoms())
        seen.add(iso)
    assert len(seen) > 1 or smi.startswith("Cn1cnc2")  # the seed picks among several swaps (caffeine has one)


def test_avoid_is_honoured():
    first = positional_isomer("Cc1ccccn1", np.random.default_rng(0))
    other = positional_isomer("Cc1ccccn1", np.random.default_rng(0), avoid={first})
    assert other is not None and other != first
    assert positional_isomer("Cc1ccccn1", np.random.default_rng(0), avoid={"Cc1cccnc1", "Cc1ccncc1"}) is None
