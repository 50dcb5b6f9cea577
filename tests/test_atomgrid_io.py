"""Readers: atom counts agree with RDKit on the shared data; broken records become error values."""
import gzip
import re
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem

from atomgrid import io

FIX = Path(__file__).parent / "data" / "atomgrid"
DRUG = io.data_root() / "drug"
needs_data = pytest.mark.skipif(not (DRUG / "README.md").exists(),
                                reason=f"shared protein-ligand data not found at {DRUG} (set GRIDNETS_DATA)")


def rdkit_counts(path: Path) -> list:
    """Atom count per record as RDKit's own readers give it (None where RDKit fails), or None if not applicable."""
    name = path.name.lower()
    opener = gzip.open if name.endswith(".gz") else open
    base = name[:-3] if name.endswith(".gz") else name
    if base.endswith(".sdf"):
        with opener(path, "rb") as f:
            return [None if m is None else m.GetNumAtoms() for m in Chem.ForwardSDMolSupplier(f, removeHs=False)]
    if base.endswith(".mol2"):
        with opener(path, "rt") as f:
            text = f.read()
        blocks = ["@<TRIPOS>MOLECULE" + b for b in re.split(r"@<TRIPOS>MOLECULE", text)[1:]]
        out = []
        for b in blocks:
            m = Chem.MolFromMol2Block(b, removeHs=False)
            out.append(None if m is None else m.GetNumAtoms())
        return out
    if base.endswith(".pdb"):
        m = Chem.MolFromPDBFile(str(path), sanitize=False, removeHs=False) if not name.endswith(".gz") else None
        return None if m is None else [m.GetNumAtoms()]
    if base.endswith((".smi", ".ism")):
        with opener(path, "rt") as f:
            lines = [l for l in f.read().splitlines() if l.strip() and not l.startswith("#")]
        return [None if (m := Chem.MolFromSmiles(l.split()[0])) is None else m.GetNumAtoms() for l in lines]
    return None


def our_counts(path: Path) -> list:
    base = path.name.lower().removesuffix(".gz")
    if base.endswith(".pdb") and ("ligand" not in base or "without_ligand" in base):  # DEKOIS receptors
        r = io.read_receptor(path, remove_waters=False)
        return [None if io.is_error(r) else r.GetNumAtoms()]
    return [None if io.is_error(m) else m.GetNumAtoms() for m in io.read_ligands(path)]


def check_file(path: Path) -> bool:
    want = rdkit_counts(path)
    if want is None:
        return False
    got = our_counts(path)
    assert len(got) == len(want), f"{path}: {len(got)} records, RDKit {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        if w is not None:
            assert g == w, f"{path} record {i}: {g} atoms, RDKit {w}"
        else:
            assert g is None, f"{path} record {i}: RDKit fails but we read {g} atoms"
    return True


SAMPLE = [
    "casf2016/coreset/1a30/1a30_ligand.mol2", "casf2016/coreset/1a30/1a30_ligand.sdf",
    "casf2016/coreset/1a30/1a30_pocket.pdb", "pdbbind_toy/toy_set/1a61/1a61_ligand.mol2",
    "fep_sets/openff/tyk2/ligands.sdf", "fep_sets/openff/tyk2/protein.pdb",
    "dude/fabp4/crystal_ligand.mol2", "dude/fabp4/actives_final.mol2.gz", "dude/fabp4/actives_final.ism",
    "dude/xiap/actives_rdkit.sdf",
]


@needs_data
@pytest.mark.parametrize("rel", SAMPLE)
def test_sample_of_shared_files_matches_rdkit_atom_counts(rel):
    assert check_file(DRUG / rel)


@needs_data
@pytest.mark.slow
def test_every_shared_file_rdkit_can_read_matches_rdkit_atom_counts():
    checked = 0
    for path in sorted(DRUG.rglob("*")):
        if path.is_file() and check_file(path):
            checked += 1
    assert checked > 500


@needs_data
def test_pdbqt_receptor_and_poses_read_with_every_atom():
    d = DRUG / "pdbbind_core2013" / "complexes" / "1a30"
    with gzip.open(d / "receptor.pdbqt.gz", "rt") as f:
        n_atoms = sum(1 for l in f if l.startswith(("ATOM", "HETATM")))
    rec = io.read_receptor(d / "receptor.pdbqt.gz", remove_waters=False)
    assert rec.GetNumAtoms() == n_atoms
    poses = list(io.read_ligands(d / "out.pdbqt"))
    assert len(poses) == (d / "out.pdbqt").read_text().count("\nMODEL") + (d / "out.pdbqt").read_text().startswith("MODEL")
    assert all(not io.is_error(p) for p in poses)


def test_broken_sdf_records_become_error_values_naming_file_index_and_reason():
    recs = list(io.read_ligands(FIX / "broken.sdf"))
    assert [io.is_error(r) for r in recs] == [False, True, True, False]
    assert recs[0].GetNumAtoms() == 3 and recs[0].GetProp("pK") == "5.5"
    assert recs[1].index == 1 and recs[1].path.endswith("broken.sdf") and "valence" in recs[1].reason.lower()
    assert recs[2].index == 2
    assert "broken.sdf record 1" in str(recs[1])
    # unsanitised reading keeps the 5-valent carbon record
    loose = list(io.read_ligands(FIX / "broken.sdf", sanitize=False))
    assert loose[1].GetNumAtoms() == 6


def test_broken_smiles_and_mol2_records_become_error_values():
    smi = list(io.read_ligands(FIX / "broken.smi"))
    assert [io.is_error(r) for r in smi] == [False, True, False, True]
    assert smi[0].GetProp("_Name") == "ethanol" and smi[2].GetNumAtoms() == 6
    mol2 = list(io.read_ligands(FIX / "broken.mol2"))
    assert [io.is_error(r) for r in mol2] == [False, True, False]
    assert mol2[1].index == 1


def test_hydrogens_explicit_where_given_added_where_asked():
    m = io.read_ligand(FIX / "broken.sdf")  # ethanol, heavy atoms only in the file
    assert m.GetNumAtoms() == 3
    mh = io.read_ligand(FIX / "broken.sdf", add_hs=True)
    assert mh.GetNumAtoms() == 9
    assert mh.GetConformer().Is3D() or mh.GetNumConformers() == 1
    act = io.read_ligand(FIX / "fabp4_actives3.mol2")  # DUD-E mol2 carries all hydrogens
    assert sum(a.GetAtomicNum() == 1 for a in act.GetAtoms()) > 0
    emb = io.smiles_to_mol("CCO", embed=True)
    assert emb.GetNumAtoms() == 9 and emb.GetNumConformers() == 1
    assert io.is_error(io.smiles_to_mol("C1CC(", embed=False))


def test_pdbqt_ligand_models_keep_autodock_types():
    poses = list(io.read_ligands(FIX / "tiny.pdbqt"))
    assert len(poses) == 2
    assert [a.GetProp("_ad_type") for a in poses[0].GetAtoms()] == ["A", "OA", "HD"]
    assert [a.GetSymbol() for a in poses[0].GetAtoms()] == ["C", "O", "H"]
    np.testing.assert_allclose(io.coordinates(poses[1])[0], [1.0, 0.0, 0.0])


def test_receptor_reading_and_water_removal():
    rec = io.read_receptor(FIX / "fabp4_receptor.pdb")
    n_lines = sum(1 for l in (FIX / "fabp4_receptor.pdb").read_text().splitlines() if l.startswith(("ATOM", "HETATM")))
    assert rec.GetNumAtoms() == n_lines == 1022
    with pytest.raises(io.AtomgridIOError, match="no such file"):
        io.read_receptor(FIX / "missing.pdb")
    with pytest.raises(io.AtomgridIOError, match="unknown receptor format"):
        io.read_receptor(FIX / "broken.sdf")


def test_autobox_and_vina_box(tmp_path):
    box = io.autobox(np.array([[0.0, 0.0, 0.0], [2.0, 4.0, 6.0]]), padding=4.0)
    assert box.center == (1.0, 2.0, 3.0) and box.size == (10.0, 12.0, 14.0)
    cfg = tmp_path / "conf.txt"
    cfg.write_text("center_x = 1.5\ncenter_y=-2\ncenter_z = 3 # comment\nsize_x = 30\nsize_y = 30\nsize_z = 30\n")
    vb = io.read_vina_box(cfg)
    assert vb.center == (1.5, -2.0, 3.0) and vb.size == (30.0, 30.0, 30.0)
    cfg.write_text("center_x = 1\n")
    with pytest.raises(io.AtomgridIOError, match="missing center_y"):
        io.read_vina_box(cfg)
    rec = io.read_receptor(FIX / "fabp4_receptor.pdb")
    lig = io.read_ligand(FIX / "fabp4_crystal_ligand.mol2")
    b = io.autobox(io.coordinates(lig), 4.0)
    idx = io.crop_to_box(rec, b, margin=2.0)
    xyz = io.coordinates(rec)[idx]
    lo = np.asarray(b.center) - np.asarray(b.size) / 2 - 2.0
    hi = np.asarray(b.center) + np.asarray(b.size) / 2 + 2.0
    assert 0 < len(idx) < rec.GetNumAtoms() and np.all(xyz >= lo) and np.all(xyz <= hi)


@needs_data
def test_dude_libraries_for_template_evaluation(tmp_path):
    from atomgrid.evaluate import dude_library
    lib, act = dude_library("inha", tmp_path / "inha.smi", max_decoys=25, seed=1)  # from the mol2.gz records
    lines = lib.read_text().splitlines()
    ids = [l.split()[1] for l in lines]
    assert len(act) == 43 and len(lines) == 43 + 25 and len(set(ids)) == len(ids) and set(ids[:43]) == act
    lib2, act2 = dude_library("fabp4", tmp_path / "fabp4.smi", max_decoys=30, seed=1)  # from the .ism files
    assert len(act2) == 47 and len(lib2.read_text().splitlines()) == 77
    again, _ = dude_library("fabp4", tmp_path / "again.smi", max_decoys=30, seed=1)
    assert again.read_text() == lib2.read_text()  # seeded


_PYRROLE_AR_MOL2 = """@<TRIPOS>MOLECULE
pyrrole-ar
 5 5 0 0 0
SMALL
NO_CHARGES

@<TRIPOS>ATOM
      1 N1          0.0000    1.1400    0.0000 N.ar      1 LIG  0.0
      2 C2          1.1000    0.3600    0.0000 C.ar      1 LIG  0.0
      3 C3          0.7000   -0.9600    0.0000 C.ar      1 LIG  0.0
      4 C4         -0.7000   -0.9600    0.0000 C.ar      1 LIG  0.0
      5 C5         -1.1000    0.3600    0.0000 C.ar      1 LIG  0.0
@<TRIPOS>BOND
     1     1     2   ar
     2     2     3   ar
     3     3     4   ar
     4     4     5   ar
     5     5     1   ar
"""


def test_reference_ligand_rdkit_cannot_kekulise_falls_back_to_coordinates(tmp_path):
    """A crystal ligand whose mol2 aromatic typing RDKit cannot kekulise (pyrrole N without its H, as 14 DEKOIS
    crystal ligands are) still gives a box and a template: its heavy atoms by element and coordinates, with a
    note that says so; a readable reference comes back untouched and without a note."""
    import numpy as np

    from rdkit.Chem import AllChem

    from atomgrid import io as agio
    from atomgrid.poses import TemplatePoser
    bad = tmp_path / "ref.mol2"
    bad.write_text(_PYRROLE_AR_MOL2)
    assert isinstance(agio.read_ligand(bad), agio.ReadError)
    ref = agio.read_reference(bad)
    assert not isinstance(ref, agio.ReadError)
    assert [a.GetSymbol() for a in ref.GetAtoms()] == ["N", "C", "C", "C", "C"] and ref.GetNumBonds() == 5
    np.testing.assert_allclose(ref.GetConformer().GetPositions()[0], [0.0, 1.14, 0.0], atol=1e-4)
    assert "kekul" in ref.GetProp(agio.REFERENCE_NOTE).lower()
    poser = TemplatePoser(Chem.MolFromMolBlock(Chem.MolToMolBlock(ref), removeHs=False), np.zeros((1, 3)), 1, 1)
    probe = Chem.AddHs(Chem.MolFromSmiles("c1cc[nH]c1"))
    AllChem.EmbedMolecule(probe, randomSeed=0)
    assert poser._align(probe, 0) > 0.5  # pyrrole on its own outline
    good = tmp_path / "good.sdf"
    Chem.MolToMolFile(probe, str(good))
    assert not agio.read_reference(good).HasProp(agio.REFERENCE_NOTE)
    (tmp_path / "junk.mol2").write_text("@<TRIPOS>MOLECULE\nx\n")
    assert isinstance(agio.read_reference(tmp_path / "junk.mol2"), agio.ReadError)


def test_template_leaves_a_metal_of_the_reference_out():
    """DEKOIS PIM-2's crystal ligand is a ruthenium complex: the shape overlay has no radius for Ru, and every
    molecule's placement failed. The template keeps the organic atoms (coordinates unchanged) and aligns."""
    import numpy as np
    from rdkit.Chem import AllChem

    from atomgrid.poses import TemplatePoser, organic_part
    ref = Chem.AddHs(Chem.MolFromSmiles("c1ccncc1[Ru]"))
    AllChem.EmbedMolecule(ref, randomSeed=0)
    ref = Chem.RemoveHs(ref)
    org = organic_part(ref)
    assert [a.GetSymbol() for a in org.GetAtoms()] == ["C", "C", "C", "N", "C", "C"]
    np.testing.assert_allclose(org.GetConformer().GetPositions(), ref.GetConformer().GetPositions()[:6])
    probe = Chem.AddHs(Chem.MolFromSmiles("c1ccncc1C"))
    AllChem.EmbedMolecule(probe, randomSeed=0)
    assert TemplatePoser(ref, np.zeros((1, 3)), 1, 1)._align(probe, 0) > 0.5
    assert organic_part(probe) is probe
