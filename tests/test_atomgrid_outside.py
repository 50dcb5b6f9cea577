"""Targets outside the data pack (``atomgrid crossval --outside INDEX``, ``atomgrid evaluate --protocol
cross-target``): the index is read strictly, the protocol's table comes out for them, and the homology check
finds the training protein a target is (nearly) identical to."""
import json
import random
from pathlib import Path

import pytest
import torch
from rdkit import Chem

from atomgrid import nets, outside
from atomgrid.cli import main
from atomgrid.train import export_model
from atomgrid.typing import scheme_dict

FIX = Path(__file__).parent / "data" / "atomgrid"
FABP4_SEQ = ("CDAFVGTWKLVSSENFDDYMKEVGVGFATRKVAGMAKPNMIISVNGDVITIKSESTFKNTEISFILGQEFDEVTADDRKVKSTITLDGGVLVHVQKWDGKSTTIKRKRE"
             "DDKLVVECVMKGVTSTRVYERA")
DECOYS = ["CCCCCCCC(=O)O", "c1ccccc1CCN", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "OC(=O)c1ccccc1O", "CCOC(=O)c1ccccc1N",
          "CN1CCC[C@H]1c1cccnc1", "O=C(O)CCc1ccccc1", "Cc1ccccc1NC(=O)C", "NC(=O)c1cccnc1"]


def write_index(tmp_path: Path, name: str = "MYFABP", **override) -> Path:
    """An outside set built from the shipped FABP4 fixtures: actives as SDF, decoys as a SMILES file."""
    d = tmp_path / "set"
    d.mkdir(exist_ok=True)
    w = Chem.SDWriter(str(d / "actives.sdf"))
    from atomgrid import io
    for k, m in enumerate(io.read_ligands(FIX / "fabp4_actives3.mol2")):
        m.SetProp("_Name", f"act{k}")
        w.write(m)
    w.close()
    (d / "decoys.smi").write_text("".join(f"{s} dec{k}\n" for k, s in enumerate(DECOYS)) + "C1CC broken\n")
    row = {"target": name, "actives": "actives.sdf", "decoys": "decoys.smi",
           "receptor": str(FIX / "fabp4_receptor.pdb"), "crystal_ligand": str(FIX / "fabp4_crystal_ligand.mol2")}
    row.update(override)
    cols = list(row) if "drop" not in override else [c for c in row if c != override["drop"]]
    idx = d / "index.csv"
    idx.write_text(",".join(c for c in cols if c != "drop") + "\n" + ",".join(str(row[c]) for c in cols if c != "drop") + "\n")
    return idx


def tiny_model(path: Path, train_targets) -> Path:
    torch.manual_seed(0)
    cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=8)
    export_model(nets.build(cfg), {"net": nets.net_config_dict(cfg), "grid": {"size": 8, "resolution": 2.0},
                                   "typing": scheme_dict(), "ligand_only": False, "name": path.stem,
                                   "train_targets": list(train_targets)}, path)
    return path


def test_receptor_sequence_reads_residues_in_file_order():
    assert outside.receptor_sequence(FIX / "fabp4_receptor.pdb") == FABP4_SEQ


def test_identity_of_known_pairs():
    """Identical -> 1; a domain inside a longer chain -> 1 (free end gaps); a copy with every third residue
    changed to another letter -> about 2/3; a copy with an indel keeps the rest aligned; unrelated random
    sequences stay far below the homolog cut."""
    rng = random.Random(0)
    aa = "ACDEFGHIKLMNPQRSTVWY"
    x = "".join(rng.choice(aa) for _ in range(240))
    assert outside.identity(x, x) == 1.0
    assert outside.identity(x, "MKTAYIAKQR" * 5 + x + "GSGSGS" * 8) == 1.0
    third = "".join(aa[(aa.index(c) + 7) % 20] if k % 3 == 0 else c for k, c in enumerate(x))
    assert outside.identity(x, third) == pytest.approx(2 / 3, abs=0.02)
    indel = x[:80] + x[84:160] + "WWW" + x[160:]
    assert outside.identity(x, indel) == pytest.approx(236 / 236, abs=0.02)
    y = "".join(rng.choice(aa) for _ in range(240))
    assert outside.identity(x, y) < 0.25
    assert outside.identity("", x) == 0.0 and outside.align("", x) == (0.0, 0.0)
    # the z-score against shuffles: a two-thirds copy is far above chance, an unrelated sequence is not
    assert outside.zscore(x, third) > outside.HOMOLOG_Z
    assert outside.zscore(x, y) < outside.POSSIBLE_Z
    score, ident = outside.align(x, x)
    assert ident == 1.0 and score == pytest.approx(sum(outside._SUB[k, k] for k in outside._codes(x)))


def test_index_errors_name_the_file_line_and_problem(tmp_path):
    with pytest.raises(outside.OutsideIndexError, match="no such file"):
        outside.read_index(tmp_path / "none.csv")
    idx = write_index(tmp_path, drop="decoys")
    with pytest.raises(outside.OutsideIndexError, match="missing column.*decoys"):
        outside.read_index(idx)
    idx = write_index(tmp_path, receptor="nope.pdb")
    with pytest.raises(outside.OutsideIndexError, match=r"line 2: MYFABP's receptor file .*nope.pdb does not exist"):
        outside.read_index(idx)
    idx = write_index(tmp_path, name="COX2")
    with pytest.raises(outside.OutsideIndexError, match="COX2 is a target of the data pack"):
        outside.read_index(idx, known=("COX2", "dude:fabp4"))
    idx = write_index(tmp_path, name="fabp4")  # DUD-E names count too, case-insensitively
    with pytest.raises(outside.OutsideIndexError, match="fabp4 is a target of the data pack"):
        outside.read_index(idx, known=("COX2", "dude:fabp4"))
    idx = write_index(tmp_path, name="my/set")
    with pytest.raises(outside.OutsideIndexError, match="without spaces, slashes or colons"):
        outside.read_index(idx)
    (tmp_path / "empty.csv").write_text("target,actives,decoys,receptor,crystal_ligand\n")
    with pytest.raises(outside.OutsideIndexError, match="no targets"):
        outside.read_index(tmp_path / "empty.csv")
    names = outside.read_index(write_index(tmp_path))
    assert names == ["outside:MYFABP"]
    files = outside.target_files("outside:MYFABP")
    assert [n for n, _ in files["actives"]] == ["act0", "act1", "act2"] and len(files["decoys"]) == len(DECOYS)


def test_crossval_outside_gives_the_protocols_table_and_finds_the_identical_training_protein(tmp_path, capsys):
    """The outside FABP4 set scored by a model whose meta says it screened DUD-E fabp4 and ACE: every baseline
    of the protocol is there, the nearest training protein is fabp4 at identity ~1 (a homolog: the caveat counts
    it), and an edited set is posed anew rather than read from the cache."""
    from atomgrid.data import drug_root
    try:
        pack = (drug_root() / "dude" / "fabp4" / "receptor.pdb").exists()
    except FileNotFoundError:
        pack = False
    model = tiny_model(tmp_path / "m.pt", ["dude:fabp4", "ACE"])
    idx, out, work = write_index(tmp_path), tmp_path / "o.json", tmp_path / "w"
    args = ["evaluate", "--protocol", "cross-target", "--model", str(model), "--outside", str(idx), "--bootstrap", "20",
            "--confs", "1", "--keep", "1", "--relax-steps", "2", "--work", str(work), "--skip-vina", "--json", str(out)]
    assert main(args) == 0
    res = json.loads(out.read_text())
    fig = res["figures"]
    assert fig["split"] == "outside" and fig["outside_index"] == str(idx)
    (t,) = fig["targets"]
    assert t["target"] == "outside:MYFABP" and t["group"] == "outside" and t["actives"] == 3 and t["decoys"] == len(DECOYS)
    assert {"model", "heavy_atoms", "fp_max_tanimoto"} <= set(t["methods"]) and t["skipped"]["vina"]
    assert t["screen_data_family"] is None and t["pose_affinity_held_out"] is None
    printed = capsys.readouterr().out
    assert t["unreadable_records"] == {"actives": 0, "decoys": 1}  # the broken SMILES: counted, said, left out
    assert "outside:MYFABP: 1 records of" in printed and "could not be read (left out; 9 decoys kept)" in printed
    if pack:
        near = t["nearest_training_protein"]
        assert near["target"] == "dude:fabp4" and near["identity"] > 0.95 and near["homolog"] is True
        assert near["family"] == "fabp" and near["z"] > outside.HOMOLOG_Z and near["possible"] is False
        assert "1 of 1 are homologs" in fig["caveat"]
        assert "nearest protein the model screened: dude:fabp4 (fabp), sequence identity 1.00, z " in printed
        assert "(a homolog: not a cross-target figure)" in printed
        pa = t["nearest_pose_affinity_protein"]  # the pose/affinity data's proteins are checked too
        assert pa and {"target", "identity", "z", "homolog"} <= set(pa) and "nearest protein in the pose/affinity data" in printed
    assert "mean over 1 outside targets" in printed
    first = {p.parent for p in work.rglob("*.sdf")}
    (idx.parent / "decoys.smi").write_text("".join(f"{s} dec{k}\n" for k, s in enumerate(DECOYS[:-2])))
    assert main(args) == 0
    (t2,) = json.loads(out.read_text())["figures"]["targets"]
    assert t2["decoys"] == len(DECOYS) - 2
    assert {p.parent for p in work.rglob("*.sdf")} - first  # a new cache folder for the edited set


def test_pose_affinity_receptors_cover_the_training_sets_and_find_a_casf_protein():
    """Every protein key of the pose/affinity training lists has a readable receptor; HIV-1 protease (DEKOIS
    HIV1PR's receptor) is found in them as a homolog, PDE5 is not."""
    from atomgrid import data as agdata
    try:
        idx = agdata.dekois_index()
    except FileNotFoundError:
        pytest.skip("the data pack is not on this machine")
    rec = outside.pose_affinity_receptors()
    assert len(rec) > 100 and all(p.exists() for p in rec.values())
    assert any(k.startswith("fep:") for k in rec) and any(k.startswith("uniprot:") for k in rec)
    root = agdata.drug_root() / "dekois2"
    hiv = outside.nearest_protein(root / idx["HIV1PR"]["receptor"], rec)
    assert hiv["target"] == "uniprot:P03366" and hiv["homolog"] and hiv["identity"] > 0.9
    assert not outside.nearest_protein(root / idx["PDE5"]["receptor"], rec)["homolog"]


def test_crossval_outside_refusals(tmp_path, capsys):
    idx = write_index(tmp_path)
    no_meta = tmp_path / "n.pt"
    torch.manual_seed(0)
    cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=8)
    export_model(nets.build(cfg), {"net": nets.net_config_dict(cfg), "grid": {"size": 8, "resolution": 2.0},
                                   "typing": scheme_dict(), "ligand_only": False, "name": "n"}, no_meta)
    for extra, want in ((["--final"], "choose one"), (["--model", str(no_meta)], "lists no screening targets"),
                        (["--model", str(tmp_path / "{fold}.pt")], "one model"),
                        (["--only", "OTHER", "--model", str(tiny_model(tmp_path / "m.pt", ["ACE"]))], "not in the outside index")):
        assert main(["crossval", "--outside", str(idx), "--skip-vina", "--work", str(tmp_path / "w"), *extra]) == 2
        err = capsys.readouterr().err
        assert want in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "--protocol", "docking", "--plan"])
    assert e.value.code == 2 and "expected cross-target" in capsys.readouterr().err
