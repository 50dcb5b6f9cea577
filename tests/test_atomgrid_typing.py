"""Atom typing (agtypes-v1): known molecules, receptor templates, PDBQT agreement, featurisation."""
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from atomgrid import io
from atomgrid import typing as agt
from atomgrid.featurize import Gridder, complex_arrays, type_ligand, type_receptor
from atomgrid.grid import GridSpec

FIX = Path(__file__).parent / "data" / "atomgrid"
F = {f: i for i, f in enumerate(agt.FEATURES)}


def feats(smiles):
    m = Chem.MolFromSmiles(smiles)
    idx, f = agt.ligand_features(m)
    return {m.GetAtomWithIdx(int(i)).GetSymbol() + str(int(i)): v for i, v in zip(idx, f)}, f


def on(v):
    return {agt.FEATURES[i] for i in np.nonzero(v)[0]}


def test_scheme_has_28_channels_receptor_then_ligand():
    assert agt.SCHEME == "agtypes-v1" and agt.NUM_CHANNELS == 28
    assert agt.CHANNELS[0] == "rec_C" and agt.CHANNELS[14] == "lig_C"
    agt.check_scheme(agt.scheme_dict())
    with pytest.raises(ValueError, match="typing scheme"):
        agt.check_scheme({"name": "agtypes-v0", "channels": []})


def test_phenol_pyridine_and_acetamide_types():
    d, _ = feats("Oc1ccccc1")
    assert on(d["O0"]) == {"O", "donor", "acceptor", "sp2"} or on(d["O0"]) == {"O", "donor", "acceptor", "sp3"}
    assert on(d["C1"]) == {"C", "aromatic"}  # bonded to O: not hydrophobic
    assert on(d["C2"]) == {"C", "aromatic", "hydrophobic_C"}
    d, _ = feats("c1ccncc1")
    assert on(d["N3"]) == {"N", "aromatic", "acceptor"}
    d, _ = feats("CC(=O)N")
    assert on(d["C0"]) == {"C", "sp3", "hydrophobic_C"}
    assert on(d["O2"]) == {"O", "sp2", "acceptor"}
    assert "acceptor" not in on(d["N3"]) and "donor" in on(d["N3"])  # amide N donates, does not accept


def test_halogens_metals_and_other_elements_get_their_class():
    _, f = feats("FC(Cl)(Br)I")
    assert f[:, F["halogen"]].sum() == 4 and f[:, F["C"]].sum() == 1
    _, f = feats("[Zn+2]")
    assert on(f[0]) == {"metal"}
    _, f = feats("[SeH2]")
    assert on(f[0]) == {"other", "sp3"}
    _, f = feats("CP(=O)(O)O")
    assert f[:, F["P"]].sum() == 1


def test_every_atom_lights_exactly_one_element_class():
    _, f = feats("CC(=O)Nc1ccc(O)cc1S(=O)(=O)N")
    assert np.all(f[:, :8].sum(1) == 1)


def test_receptor_templates_match_ligand_rules_on_a_peptide():
    pep = Chem.AddHs(Chem.MolFromSequence("GFSKG"))
    AllChem.EmbedMolecule(pep, randomSeed=1)
    block = Chem.MolToPDBBlock(pep)
    rec = Chem.MolFromPDBBlock(block, sanitize=False, removeHs=False)
    idx, f = agt.receptor_features(rec)
    names = {(rec.GetAtomWithIdx(int(i)).GetPDBResidueInfo().GetResidueName(),
              rec.GetAtomWithIdx(int(i)).GetPDBResidueInfo().GetName().strip()): v for i, v in zip(idx, f)}
    assert on(names[("PHE", "CZ")]) == {"C", "aromatic", "hydrophobic_C"}
    assert on(names[("SER", "OG")]) == {"O", "sp3", "donor", "acceptor"}
    assert on(names[("LYS", "NZ")]) == {"N", "sp3", "donor"}
    assert on(names[("PHE", "CA")]) == {"C", "sp3"}
    assert len(idx) == sum(a.GetAtomicNum() > 1 for a in rec.GetAtoms())  # hydrogens not typed


def test_histidine_ring_nitrogens_both_donate_and_accept():
    t = agt.residue_templates()
    for name in ("ND1", "NE2"):
        assert {"donor", "acceptor", "aromatic"} <= on(t[("HIS", name)])


def test_pdbqt_typing_agrees_with_mol2_typing_on_the_same_ligand(tmp_path):
    """The PDBQT route (AutoDock types + geometry) reproduces the RDKit route on FABP4's crystal ligand."""
    lig = io.read_ligand(FIX / "fabp4_crystal_ligand.mol2")
    _, f_mol2 = agt.ligand_features(lig)
    heavy = [a for a in lig.GetAtoms() if a.GetAtomicNum() > 1]
    # write a PDBQT of the heavy atoms with AutoDock types derived independently from the mol2
    lines = []
    for k, a in enumerate(heavy):
        p = lig.GetConformer().GetAtomPosition(a.GetIdx())
        sym = a.GetSymbol()
        if sym == "C":
            t = "A" if a.GetIsAromatic() else "C"
        elif sym in ("O", "N"):
            acc = sym == "O" or (a.GetTotalNumHs() == 0 and a.GetDegree() <= 2)
            t = sym + "A" if acc else sym
        else:
            t = sym
        lines.append(f"ATOM  {k + 1:5d} {sym + str(k):<4s} LIG A   1    {p.x:8.3f}{p.y:8.3f}{p.z:8.3f}  1.00  0.00     0.000 {t:<2s}")
    path = tmp_path / "lig.pdbqt"
    path.write_text("\n".join(lines) + "\n")
    pq = io.read_ligand(path)
    _, f_pq = agt.ligand_features(pq)
    cols = [F[c] for c in ("C", "N", "O", "S", "aromatic", "acceptor", "hydrophobic_C")]
    np.testing.assert_array_equal(f_pq[:, cols], f_mol2[:, cols])


def test_complex_arrays_put_receptor_and_ligand_in_separate_channels_and_ligand_only_zeroes_receptor():
    rec = io.read_receptor(FIX / "fabp4_receptor.pdb")
    lig = io.read_ligand(FIX / "fabp4_crystal_ligand.mol2")
    tl = type_ligand(lig)
    tr = type_receptor(rec, io.autobox(tl.xyz, 4.0), margin=8.0)
    x, w, r = complex_arrays(tr, tl)
    assert x.shape == (len(tr) + len(tl), 3) and w.shape[1] == 28
    assert np.all(w[:len(tr), 14:] == 0) and np.all(w[len(tr):, :14] == 0)
    g = Gridder(GridSpec(12, 1.0))
    full = g([(tr, tl, tl.centroid())])
    lonly = g([(tr, tl, tl.centroid())], ligand_only=True)
    assert float(full[0, :14].sum()) > 0 and float(lonly[0, :14].abs().sum()) == 0
    assert np.allclose(full[0, 14:].numpy(), lonly[0, 14:].numpy(), atol=1e-5)
