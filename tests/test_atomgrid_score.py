"""atomgrid score: streaming library, per-record errors, poses, resume after Ctrl-C / SIGKILL, SDF round trip.

Fixtures (tests/data/atomgrid_score/): the fabp4 pocket (residues within 9 Å of the crystal ligand),
the crystal ligand and three active poses, all from the BSD-3 DUD-E/oddt copy; broken.smi/.sdf are
hand-made. The model is a freshly initialised tiny net (8^3 grid at 2 Å) exported to a temp file, so
these tests check the pipeline, not the model's quality.
"""
from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from atomgrid import nets
from atomgrid.library import LibraryError, Record, count_records, iter_records
from atomgrid.poses import ClashField, PrepError, parse_record, relax_rigid
from atomgrid.score import (OUTPUT_COLUMNS, ScoreError, ScoreOptions, enrichment, parts_dir, score_library)
from atomgrid.score_options import CLI_ROTATIONS

DATA = Path(__file__).parent / "data" / "atomgrid_score"
REC = DATA / "pocket.pdb"
REF = DATA / "crystal_ligand.sdf"
ROOT = Path(__file__).resolve().parents[1]

SMI_EXPECTED = [  # (index, id, error) of broken.smi
    (0, "aspirin", ""), (1, "bad_smiles", "unparsable SMILES 'notasmiles'"), (2, "record2", "empty line"),
    (3, "hydrogen", "no heavy atoms"), (4, "macrocycle100", "100 heavy atoms, more than the limit of 80"),
    (5, "benzene", ""), (6, "unclosed_ring", "unparsable SMILES 'C1CC'"), (7, "sodium_benzoate", ""),
]
SDF_GIVEN_EXPECTED = [
    (0, "CHEMBL8659", ""),
    (1, "bad_valence", "bad valence: atom 1 (C) has valence 6, more than permitted"),
    (2, "hydrogen", "no heavy atoms"), (3, "ethanol_2d", "given poses need 3D coordinates (this record is 2D)"),
    (4, "garbage_record", "unparsable SDF record"),
]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    from atomgrid.train import export_model
    from atomgrid.typing import scheme_dict
    torch.manual_seed(0)
    cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=8)
    meta = {"net": nets.net_config_dict(cfg), "grid": {"size": 8, "resolution": 2.0}, "typing": scheme_dict(),
            "ligand_only": False, "name": "test-tiny"}
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    export_model(nets.build(cfg), meta, path)
    return path


FAST = dict(n_confs=2, keep=2, relax_steps=5)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ----------------------------------------------------------------------------- library reader

def test_library_records_and_errors(tmp_path):
    recs = list(iter_records(DATA / "broken.smi"))
    assert [(r.index, r.id, r.error or "") for r in recs] == [
        (i, n, "empty line" if e == "empty line" else "") for i, n, e in SMI_EXPECTED]
    assert count_records(DATA / "broken.smi") == 8
    assert [r.index for r in iter_records(DATA / "broken.smi", start=5)] == [5, 6, 7]
    # gzip streams the same records
    gz = tmp_path / "broken.sdf.gz"
    with gzip.open(gz, "wt") as f:
        f.write((DATA / "broken.sdf").read_text())
    assert list(iter_records(gz)) == list(iter_records(DATA / "broken.sdf"))
    assert [r.id for r in iter_records(gz)] == [x[1] for x in SDF_GIVEN_EXPECTED]
    # CSV: SMILES and id columns found by name (any case), empty cells are errors, blank rows count
    (tmp_path / "lib.csv").write_text("Name,SMILES,pic50\nm1,CCO,5\nm2,,6\n,,\nm4,c1ccccc1,7\n")
    got = [(r.index, r.id, r.text, r.error) for r in iter_records(tmp_path / "lib.csv")]
    assert got == [(0, "m1", "CCO", None), (1, "m2", "", "empty SMILES"), (2, "record2", "", "empty line"),
                   (3, "m4", "c1ccccc1", None)]
    (tmp_path / "nosmi.csv").write_text("name,value\na,1\n")
    with pytest.raises(LibraryError, match="no SMILES column"):
        list(iter_records(tmp_path / "nosmi.csv"))
    with pytest.raises(LibraryError, match="unknown library format"):
        list(iter_records(tmp_path / "lib.txt"))


def test_parse_errors_are_one_line_reasons():
    for rec, reason in [(Record(0, "a", "smiles", "C1CC"), "unparsable SMILES 'C1CC'"),
                        (Record(0, "a", "smiles", "[H][H]"), "no heavy atoms"),
                        (Record(0, "a", "smiles", "", "empty line"), "empty line")]:
        with pytest.raises(PrepError) as ei:
            parse_record(rec)
        assert str(ei.value) == reason


# ----------------------------------------------------------------------------- rows and errors

def test_broken_smiles_library_gives_one_row_per_record(tmp_path, model_path):
    out = tmp_path / "out.csv"
    s = score_library(REC, DATA / "broken.smi", out, autobox_ligand=REF, model=model_path,
                      options=ScoreOptions(poses="template", chunk_size=3, **FAST), progress=False)
    rows = read_rows(out)
    assert list(rows[0]) == list(OUTPUT_COLUMNS)
    assert [(int(r["index"]), r["id"], r["error"]) for r in rows] == SMI_EXPECTED
    assert s["records"] == 8 and s["errors"] == 5
    ok = [r for r in rows if not r["error"]]
    assert all(0.0 < float(r["score"]) < 1.0 and r["pose"] == "template" and r["n_poses"] == "2" for r in ok)
    assert all(r["score"] == "" and r["n_poses"] == "0" for r in rows if r["error"])
    # standardisation: salt stripped and neutralised, and said so; the input kept beside the canonical SMILES
    assert rows[7]["smiles"] == "O=C(O)c1ccccc1" and rows[7]["input_smiles"] == "[Na+].[O-]C(=O)c1ccccc1"
    assert rows[7]["prep_note"] == "stripped counter-ions: Na+; neutralised"
    assert rows[1]["input_smiles"] == "notasmiles" and rows[1]["smiles"] == ""  # never the input as canonical
    assert rows[0]["smiles"] == Chem.MolToSmiles(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    assert not parts_dir(out).exists()


def test_given_sdf_errors_and_round_trip(tmp_path, model_path):
    out, sdf = tmp_path / "given.csv", tmp_path / "given.sdf"
    score_library(REC, DATA / "broken.sdf", out, autobox_ligand=REF, model=model_path,
                  options=ScoreOptions(poses="given", chunk_size=2), out_sdf=sdf, progress=False)
    rows = read_rows(out)
    assert [(int(r["index"]), r["id"], r["error"]) for r in rows] == SDF_GIVEN_EXPECTED
    # the written pose is the input pose: same atoms, same coordinates, scores as SD tags
    written = [m for m in Chem.SDMolSupplier(str(sdf), removeHs=False)]
    source = next(iter(Chem.SDMolSupplier(str(DATA / "broken.sdf"), removeHs=False)))
    assert len(written) == 1 and written[0].GetProp("_Name") == "CHEMBL8659"
    assert written[0].GetNumAtoms() == source.GetNumAtoms()
    np.testing.assert_allclose(written[0].GetConformer().GetPositions(), source.GetConformer().GetPositions(), atol=1e-4)
    assert written[0].GetProp("CNNscore") == rows[0]["score"] and written[0].GetProp("CNNaffinity") == rows[0]["pK"]
    # scoring the written SDF again as given poses gives the same score
    out2 = tmp_path / "again.csv"
    score_library(REC, sdf, out2, autobox_ligand=REF, model=model_path, options=ScoreOptions(poses="given"),
                  progress=False)
    assert read_rows(out2)[0]["score"] == rows[0]["score"]


def test_pose_blocks_are_built_only_for_out_sdf(tmp_path, model_path, monkeypatch):
    from atomgrid.score_worker import ChunkScorer

    def no_block(*a, **k):
        raise AssertionError("an SD block was built without --out-sdf")

    monkeypatch.setattr(ChunkScorer, "_sd_block", staticmethod(no_block))
    out = tmp_path / "o.csv"
    score_library(REC, DATA / "poses.sdf", out, autobox_ligand=REF, model=model_path,
                  options=ScoreOptions(poses="given"), progress=False)
    rows = read_rows(out)
    assert all(r["score"] for r in rows) and all(r["input_smiles"] for r in rows)


def test_top_n_and_out_sdf(tmp_path, model_path):
    out, sdf = tmp_path / "o.csv", tmp_path / "o.sdf"
    score_library(REC, DATA / "poses.sdf", out, autobox_ligand=REF, model=model_path,
                  options=ScoreOptions(poses="given"), out_sdf=sdf, top=2, progress=False)
    rows = read_rows(out)
    top = read_rows(tmp_path / "o.top.csv")
    best = sorted(rows, key=lambda r: -float(r["score"]))[:2]
    assert [t["id"] for t in top] == [b["id"] for b in best] and [t["rank"] for t in top] == ["1", "2"]
    assert [m.GetProp("_Name") for m in Chem.SDMolSupplier(str(sdf))] == [b["id"] for b in best]


def test_template_needs_reference_and_bad_inputs(tmp_path, model_path):
    with pytest.raises(ScoreError, match="--poses template needs a reference ligand"):
        score_library(REC, DATA / "broken.smi", tmp_path / "o.csv", center=(0, 0, 0), size=(20, 20, 20),
                      model=model_path, progress=False)
    with pytest.raises(ScoreError, match="no such file"):
        score_library(REC, tmp_path / "missing.smi", tmp_path / "o.csv", autobox_ligand=REF, model=model_path)
    with pytest.raises(ScoreError, match="no shipped model of that name"):
        score_library(REC, DATA / "poses.sdf", tmp_path / "o2.csv", autobox_ligand=REF, model="no-such-model",
                      options=ScoreOptions(poses="given"), progress=False)


# ----------------------------------------------------------------------------- resume

def _lib(tmp_path: Path) -> Path:
    """9 given-pose records (3 poses x 3, one 2D record in the middle): chunks of 2 -> 5 chunks."""
    blocks = (DATA / "poses.sdf").read_text().split("$$$$\n")[:3]
    bad = (DATA / "broken.sdf").read_text().split("$$$$\n")[3]
    recs = []
    for i in range(3):
        for j, b in enumerate(blocks):
            recs.append(f"p{i}_{j}" + b[b.index("\n"):])
        if i == 1:
            recs.append(bad)
    path = tmp_path / "lib.sdf"
    path.write_text("$$$$\n".join(recs) + "$$$$\n")
    return path


def test_ctrl_c_then_resume_matches_uninterrupted(tmp_path, model_path):
    lib = _lib(tmp_path)
    opts = ScoreOptions(poses="given", chunk_size=2)
    ref_out = tmp_path / "ref.csv"
    score_library(REC, lib, ref_out, autobox_ligand=REF, model=model_path, options=opts,
                  out_sdf=tmp_path / "ref.sdf", progress=False)

    def interrupt(k):
        if k == 2:
            raise KeyboardInterrupt

    out = tmp_path / "run.csv"
    kw = dict(autobox_ligand=REF, model=model_path, options=opts, out_sdf=tmp_path / "run.sdf", progress=False)
    with pytest.raises(KeyboardInterrupt):
        score_library(REC, lib, out, on_chunk=interrupt, **kw)
    assert not out.exists() and sorted(p.name for p in parts_dir(out).glob("chunk_*.csv")) == [
        "chunk_00000000.csv", "chunk_00000001.csv", "chunk_00000002.csv"]
    with pytest.raises(ScoreError, match="pass --resume"):
        score_library(REC, lib, out, **kw)
    s = score_library(REC, lib, out, resume=True, **kw)
    assert s["resumed_records"] == 6 and s["scored_now"] == 4
    assert out.read_text() == ref_out.read_text()
    assert (tmp_path / "run.sdf").read_text() == (tmp_path / "ref.sdf").read_text()
    ids = [r["index"] for r in read_rows(out)]
    assert ids == [str(i) for i in range(10)]


def test_sigkill_then_resume_via_cli(tmp_path, model_path):
    """A run killed with SIGKILL after two chunks, resumed with ``--resume``: identical output."""
    lib = _lib(tmp_path)
    common = ["--receptor", str(REC), "--autobox-ligand", str(REF), "--ligands", str(lib), "--poses", "given",
              "--model", str(model_path), "--chunk-size", "2"]
    from atomgrid.cli import main
    assert main(["score", *common, "--out", str(tmp_path / "ref.csv")]) == 0
    killer = (
        "import os, signal, sys\n"
        "from atomgrid.score import score_library, ScoreOptions\n"
        "from atomgrid.score_options import CLI_ROTATIONS\n"
        "def hook(k):\n"
        "    if k == 1: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"score_library({str(REC)!r}, {str(lib)!r}, {str(tmp_path / 'run.csv')!r}, autobox_ligand={str(REF)!r},"
        f" model={str(model_path)!r}, options=ScoreOptions(poses='given', chunk_size=2, rotations=CLI_ROTATIONS), on_chunk=hook,"
        " progress=False)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", killer], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == -9, r.stderr[-2000:]
    assert len(list(parts_dir(tmp_path / "run.csv").glob("chunk_*.csv"))) == 2
    assert main(["score", *common, "--out", str(tmp_path / "run.csv"), "--resume"]) == 0
    assert (tmp_path / "run.csv").read_text() == (tmp_path / "ref.csv").read_text()


def test_resume_refuses_other_settings(tmp_path, model_path):
    lib = _lib(tmp_path)
    out = tmp_path / "o.csv"

    def interrupt(k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_library(REC, lib, out, autobox_ligand=REF, model=model_path,
                      options=ScoreOptions(poses="given", chunk_size=2), on_chunk=interrupt, progress=False)
    with pytest.raises(ScoreError, match=r"cannot resume, changed since the interrupted run: chunk_size \(2 then, 3 now\)"):
        score_library(REC, lib, out, autobox_ligand=REF, model=model_path, resume=True,
                      options=ScoreOptions(poses="given", chunk_size=3), progress=False)


# ----------------------------------------------------------------------------- pieces

def test_relax_rigid_removes_clash_and_stays_rigid():
    rng = np.random.default_rng(0)
    lig = rng.normal(size=(1, 12, 3)) * 1.5
    rec = np.array([[0.5, 0.0, 0.0], [0.0, 0.6, 0.3]]) + lig[0, :2]  # two atoms inside the ligand
    out, clash = relax_rigid(lig, np.arange(12), rec, steps=40)
    _, clash0 = relax_rigid(lig, np.arange(12), rec, steps=0)
    assert clash[0] < 0.5 * clash0[0]
    d = lambda x: np.linalg.norm(x[:, None] - x[None], axis=-1)
    np.testing.assert_allclose(d(out[0]), d(lig[0]), atol=1e-4)


def test_clash_field_matches_the_exact_sum_and_relaxes_like_it():
    rng = np.random.default_rng(1)
    rec = rng.uniform(0.0, 12.0, size=(300, 3))
    field = ClashField(rec, [2.0, 2.0, 2.0], [10.0, 10.0, 10.0])
    x = rng.uniform(3.0, 9.0, size=(500, 3))
    e, g = field(x)
    diff = x[:, None] - rec[None]
    d = np.linalg.norm(diff, axis=-1)
    over = np.maximum(3.3 - d, 0.0)
    exact_e = (over ** 2).sum(1)
    exact_g = ((-2 * over / d)[..., None] * diff).sum(1)
    assert np.abs(e - exact_e).mean() < 0.02 * exact_e.mean()  # trilinear interpolation at 0.375 Å
    assert np.abs(g - exact_g).mean() < 0.1 * np.abs(exact_g).mean()
    e_out, g_out = field(np.array([[50.0, 0.0, 0.0], [1.0, 1.0, 1.0]]))  # outside the map: no clash
    assert e_out.tolist() == [0.0, 0.0] and not g_out.any()
    wall = rec[rec[:, 0] < 5.0]  # a receptor slab; the ligand overlaps its face
    wall_field = ClashField(wall, [0.0, 0.0, 0.0], [12.0, 12.0, 12.0])
    lig = rng.normal(size=(2, 10, 3)) * 1.0 + np.array([6.5, 6.0, 6.0])
    out, clash = relax_rigid(lig, np.arange(10), wall, steps=30, field=wall_field)
    _, clash0 = relax_rigid(lig, np.arange(10), wall, steps=0, field=wall_field)
    assert (clash < 0.5 * clash0).all()
    dist = lambda y: np.linalg.norm(y[:, None] - y[None], axis=-1)
    np.testing.assert_allclose(dist(out[1]), dist(lig[1]), atol=1e-4)  # still rigid


def test_enrichment_golden(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("index,id,smiles,score,pK,pose,n_poses,vina,error\n"
                 "0,a1,C,0.9,,given,1,,\n1,d1,C,0.8,,given,1,,\n2,a2,C,0.7,,given,1,,\n"
                 "3,a2,C,0.1,,given,1,,\n4,d2,C,,,,0,,no heavy atoms\n5,d3,C,0.2,,given,1,,\n")
    e = enrichment(p, {"a1", "a2"})
    # compounds a1 .9, d1 .8, a2 .7 (best of its two rows), d3 .2, d2 failed (lowest): AUC 5/6
    assert e["compounds"] == 5 and e["actives"] == 2 and e["failed_rows"] == 1
    assert e["roc_auc"] == pytest.approx(5 / 6)
    assert e["ef1"] == pytest.approx(1 / (2 / 5))


@pytest.mark.ray
@pytest.mark.slow
def test_ray_actors_give_the_same_rows(tmp_path, model_path):
    """Ray actors give the rows the in-process scorer gives, the ligand-only twin, the blend and the
    --affinity-model pK included."""
    ray = pytest.importorskip("ray")
    lib = _lib(tmp_path)
    opts = ScoreOptions(poses="given", chunk_size=2, blend=0.5)
    twin = _tiny(tmp_path / "twin.pt", 3, True)
    aff = [_tiny(tmp_path / "a1.pt", 5, False), _tiny(tmp_path / "a2.pt", 6, False, grid=10, resolution=1.5)]
    kw = dict(autobox_ligand=REF, model=model_path, options=opts, progress=False, ligand_only_model=twin,
              affinity_models=aff)
    score_library(REC, lib, tmp_path / "local.csv", **kw)
    try:
        from atomgrid.distributed import ray_executor
        score_library(REC, lib, tmp_path / "ray.csv", executor=ray_executor(2), **kw)
    finally:
        ray.shutdown()
    a, b = read_rows(tmp_path / "local.csv"), read_rows(tmp_path / "ray.csv")
    assert [(r["index"], r["id"], r["error"]) for r in a] == [(r["index"], r["id"], r["error"]) for r in b]
    assert sum(bool(r["blend"]) for r in a) >= 2
    for x, y in zip(a, b):
        for col in ("score", "ligand_only", "blend", "pK"):
            if x[col]:
                assert float(x[col]) == pytest.approx(float(y[col]), abs=1e-4), col


def test_default_model_is_a_shipped_receptor_model():
    from atomgrid.score import MODELS_DIR, resolve_model
    from traincore.checkpoint import load_checkpoint
    if not list(MODELS_DIR.glob("*.pt")):
        pytest.skip("no shipped model")
    path = resolve_model(None)
    assert path.parent == MODELS_DIR
    assert not load_checkpoint(path, map_location="cpu", kind="atomgrid")["meta"].get("ligand_only")
    assert resolve_model(path.stem) == path


@pytest.mark.external
@pytest.mark.slow
def test_dock_mode_with_vina(tmp_path, model_path):
    """One small molecule docked by Vina (exhaustiveness 1) in a box without a reference ligand."""
    pytest.importorskip("vina")
    pytest.importorskip("meeko")
    lib = tmp_path / "one.smi"
    lib.write_text("OC(=O)c1ccccc1O salicylic_acid\nC1CC broken\n")
    ref = Chem.MolFromMolFile(str(REF))
    center = ref.GetConformer().GetPositions().mean(0).tolist()
    out, sdf = tmp_path / "dock.csv", tmp_path / "dock.sdf"
    score_library(REC, lib, out, center=center, size=(16, 16, 16), model=model_path, out_sdf=sdf,
                  options=ScoreOptions(poses="dock", exhaustiveness=1, dock_poses=2), progress=False)
    rows = read_rows(out)
    assert [(r["id"], r["error"]) for r in rows] == [("salicylic_acid", ""), ("broken", "unparsable SMILES 'C1CC'")]
    assert rows[0]["pose"] == "dock" and 1 <= int(rows[0]["n_poses"]) <= 2 and float(rows[0]["vina"]) < 0
    mol = next(iter(Chem.SDMolSupplier(str(sdf))))
    assert mol.GetProp("minimizedAffinity") == f"{float(rows[0]['vina']):.3f}"
    assert np.all(np.abs(mol.GetConformer().GetPositions().mean(0) - np.asarray(center)) < 8.0 + 1e-6)
    # the same seed docks the same pose (Vina's seed 0 used to mean a random one: vina_seed)
    out2, sdf2 = tmp_path / "dock2.csv", tmp_path / "dock2.sdf"
    score_library(REC, lib, out2, center=center, size=(16, 16, 16), model=model_path, out_sdf=sdf2,
                  options=ScoreOptions(poses="dock", exhaustiveness=1, dock_poses=2), progress=False)
    assert read_rows(out2)[0]["vina"] == rows[0]["vina"]
    assert np.array_equal(next(iter(Chem.SDMolSupplier(str(sdf2)))).GetConformer().GetPositions(),
                          mol.GetConformer().GetPositions())


def test_screen_data_refuses_test_targets_and_picks_the_best_vina_pose(tmp_path):
    from atomgrid import screenset
    for t in screenset.TEST_TARGETS:
        with pytest.raises(ValueError, match="test target"):
            screenset.target_files(t)
    with pytest.raises(ValueError, match="no receptor"):
        screenset.target_files("ada")
    (tmp_path / "d.csv").write_text("index,id,smiles,score,pK,pose,n_poses,vina,error\n"
                                    "0,a,C,0.5,5,dock,1,-7.1,\n1,b,CC,0.4,5,dock,1,-9.3,\n2,c,,,,,0,,bad SMILES\n")
    blocks = []
    for name in ("a", "b"):
        m = Chem.AddHs(Chem.MolFromSmiles("CC" if name == "b" else "C"))
        AllChem.EmbedMolecule(m, randomSeed=1)
        m.SetProp("_Name", name)
        blocks.append(Chem.MolToMolBlock(m) + "$$$$\n")
    (tmp_path / "d.sdf").write_text("".join(blocks))
    ref = screenset.pick_reference(tmp_path / "d.csv", tmp_path / "d.sdf", tmp_path / "ref.sdf")
    mol = Chem.MolFromMolFile(str(ref), removeHs=False)
    assert mol.GetProp("_Name") == "b" and mol.GetNumHeavyAtoms() == 2


def test_screen_data_leaves_an_unchanged_candidate_file_alone(tmp_path):
    """The reference step's SMILES file is part of a resumable dock run's identity (path, size, mtime):
    rewriting it on a restart made the run refuse to resume ("used other inputs")."""
    import os

    from atomgrid import screenset
    from atomgrid.library import iter_records
    src = tmp_path / "in.smi"
    src.write_text("CCO a\nc1ccccc1 b\n")
    recs = list(iter_records(src))
    out = tmp_path / "cands.smi"
    screenset._write_smi(out, recs)
    assert out.read_text() == "CCO a\nc1ccccc1 b\n"
    os.utime(out, ns=(1, 1))
    screenset._write_smi(out, recs)
    assert out.stat().st_mtime_ns == 1
    screenset._write_smi(out, recs[:1])
    assert out.read_text() == "CCO a\n" and out.stat().st_mtime_ns != 1


def test_a_pdbqt_receptor_goes_to_vina_as_given(tmp_path):
    from atomgrid.score import given_receptor_pdbqt
    p = tmp_path / "r.pdbqt"
    p.write_text("REMARK x\nATOM      1  N   ASP A 414      23.503  23.427  11.929  1.00  0.00    -0.411 N \nTER\n"
                 "HETATM    2 ZN    ZN A 500      20.000  20.000  10.000  1.00  0.00     2.000 Zn\n")
    assert given_receptor_pdbqt(p).splitlines() == [l for l in p.read_text().splitlines() if l[:4] in ("ATOM", "HETA")]
    gz = tmp_path / "r.pdbqt.gz"
    gz.write_bytes(gzip.compress(p.read_bytes()))
    assert given_receptor_pdbqt(gz) == given_receptor_pdbqt(p)
    assert given_receptor_pdbqt(REC) is None  # PDB input is typed by poses.receptor_pdbqt
    (tmp_path / "e.pdbqt").write_text("REMARK nothing\n")
    with pytest.raises(ScoreError, match="no ATOM"):
        given_receptor_pdbqt(tmp_path / "e.pdbqt")


def test_receptor_pdbqt_cut_to_the_pocket_keeps_every_atom_vina_can_see():
    """The pocket cut writes the same typed heavy atoms (and their polar hydrogens) as the whole receptor
    within Vina's cutoff of the box, and nothing from residues far from it."""
    from atomgrid import io as agio
    from atomgrid.poses import VINA_CUTOFF, heavy_indices, pocket_residues, receptor_pdbqt
    rec = agio.read_receptor(REC)
    ref = agio.read_ligand(REF)
    box = agio.autobox(agio.coordinates(ref)[heavy_indices(ref)], 4.0)
    small = agio.Box(box.center, (1.0, 1.0, 1.0))  # a point, so that the fixture pocket (664 atoms) is cut
    cut = pocket_residues(rec, small)
    assert 0 < cut.GetNumAtoms() < rec.GetNumAtoms()

    def atoms(text):
        rows = {}
        for line in text.splitlines():
            xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
            rows[(line[12:16], line[17:26], tuple(np.round(xyz, 3)))] = line[77:79]
        return rows

    full, part = atoms(receptor_pdbqt(rec)), atoms(receptor_pdbqt(rec, small))
    assert set(part) <= set(full) or all(t == "HD" for k, t in part.items() if k not in full)
    seen = {k: t for k, t in full.items() if small.contains(np.array([k[2]]), margin=VINA_CUTOFF)[0]}
    assert seen and all(part.get(k) == t for k, t in seen.items())  # same atoms, same AutoDock types
    far = [k for k in full if not small.contains(np.array([k[2]]), margin=VINA_CUTOFF + 12.0)[0]]
    assert not set(far) & set(part)


def test_receptor_pdbqt_keeps_the_hydrogens_of_a_prepared_receptor():
    """A receptor that carries its hydrogens (a prepared PDB) is written with them, none guessed: the same
    PDBQT as typing the bare receptor, whose polar hydrogens RDKit places the same way."""
    from atomgrid import io as agio
    from atomgrid.poses import receptor_pdbqt
    rec = agio.read_receptor(REC)
    assert not any(a.GetAtomicNum() == 1 for a in rec.GetAtoms())
    prepared = Chem.AddHs(rec, addCoords=True, addResidueInfo=True)
    bare, given = receptor_pdbqt(rec), receptor_pdbqt(prepared)
    assert given == bare and " HD" in given


def test_api_default_rotations_match_the_cli(tmp_path, model_path):
    """`score_library` with default options gives the rows `atomgrid score` gives with its defaults (16 test-time
    rotations; before session 16 the API silently scored one orientation); 1 rotation differs."""
    assert ScoreOptions().rotations == CLI_ROTATIONS == 16
    lib = _lib(tmp_path)
    from atomgrid.cli import main
    assert main(["score", "--receptor", str(REC), "--autobox-ligand", str(REF), "--ligands", str(lib), "--poses",
                 "given", "--model", str(model_path), "--out", str(tmp_path / "cli.csv")]) == 0
    score_library(REC, lib, tmp_path / "api.csv", autobox_ligand=REF, model=model_path,
                  options=ScoreOptions(poses="given"), progress=False)
    score_library(REC, lib, tmp_path / "one.csv", autobox_ligand=REF, model=model_path,
                  options=ScoreOptions(poses="given", rotations=1), progress=False)
    cli, api, one = (read_rows(tmp_path / f"{n}.csv") for n in ("cli", "api", "one"))
    assert [r["score"] for r in api] == [r["score"] for r in cli]
    assert [r["score"] for r in one] != [r["score"] for r in cli]


def test_pose_model_picks_the_pose_and_the_model_scores_it(tmp_path, model_path):
    """`--pose-model B`: each molecule's pose is the one B picks by itself (same coordinates as B scoring alone),
    and the score is the model's score of that pose (as the model scores it given); a bad name is one line."""
    from atomgrid.train import export_model
    from atomgrid.typing import scheme_dict
    torch.manual_seed(1)
    cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=8)
    meta = {"net": nets.net_config_dict(cfg), "grid": {"size": 8, "resolution": 2.0}, "typing": scheme_dict(),
            "ligand_only": False, "name": "test-tiny-b"}
    other = tmp_path / "b.pt"
    export_model(nets.build(cfg), meta, other)
    lib = tmp_path / "l.smi"
    lib.write_text("c1ccccc1C(=O)O benzoic\nCC(=O)Oc1ccccc1C(=O)O aspirin\nOc1ccc(cc1)-c1ccccc1 phenylphenol\n")
    opts = ScoreOptions(poses="template", rotations=1, n_confs=3, keep=3, relax_steps=5)
    kw = dict(autobox_ligand=REF, options=opts, progress=False)
    score_library(REC, lib, tmp_path / "b.csv", model=other, out_sdf=tmp_path / "b.sdf", **kw)
    score_library(REC, lib, tmp_path / "ab.csv", model=model_path, pose_model=other, out_sdf=tmp_path / "ab.sdf", **kw)
    b_poses = {m.GetProp("_Name"): m.GetConformer().GetPositions() for m in Chem.SDMolSupplier(str(tmp_path / "b.sdf"))}
    ab_poses = {m.GetProp("_Name"): m.GetConformer().GetPositions() for m in Chem.SDMolSupplier(str(tmp_path / "ab.sdf"))}
    assert set(b_poses) == set(ab_poses) == {"benzoic", "aspirin", "phenylphenol"}
    for name in b_poses:
        assert np.allclose(b_poses[name], ab_poses[name], atol=1e-3), name
    assert all(int(r["n_poses"]) > 1 for r in read_rows(tmp_path / "ab.csv"))  # there was a choice to make
    # the score is the model's own score of the picked pose
    score_library(REC, tmp_path / "b.sdf", tmp_path / "a_given.csv", model=model_path, autobox_ligand=REF,
                  options=ScoreOptions(poses="given", rotations=1), progress=False)
    given = {r["id"]: float(r["score"]) for r in read_rows(tmp_path / "a_given.csv")}
    ab = {r["id"]: float(r["score"]) for r in read_rows(tmp_path / "ab.csv")}
    b = {r["id"]: float(r["score"]) for r in read_rows(tmp_path / "b.csv")}
    assert all(ab[k] == pytest.approx(given[k], abs=1e-4) for k in ab)
    assert any(abs(ab[k] - b[k]) > 1e-3 for k in ab)  # not the pose model's score
    with pytest.raises(ScoreError, match="^--pose-model 'nope': no such file and no shipped model"):
        score_library(REC, lib, tmp_path / "x.csv", model=model_path, pose_model="nope", **kw)
    assert not parts_dir(tmp_path / "x.csv").exists()


# ----------------------------------------------------------------------------- the ligand-only blend

def _tiny(path: Path, seed: int, ligand_only: bool, grid: int = 8, resolution: float = 2.0) -> Path:
    from atomgrid.train import export_model
    from atomgrid.typing import scheme_dict
    torch.manual_seed(seed)
    cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=grid)
    meta = {"net": nets.net_config_dict(cfg), "grid": {"size": grid, "resolution": resolution}, "typing": scheme_dict(),
            "ligand_only": ligand_only, "name": path.stem}
    export_model(nets.build(cfg), meta, path)
    return path


BLEND_LIB = ("c1ccccc1C(=O)O benzoic\nCC(=O)Oc1ccccc1C(=O)O aspirin\nOc1ccc(cc1)-c1ccccc1 phenylphenol\n"
             "[Hg](C)C dimethylmercury\nCCCCCCCCO octanol\nc1ccc2ccccc2c1 naphthalene\nNc1ccccc1 aniline\n"
             "OC(=O)CCCCCCC(=O)O suberic\n")


def test_blend_ranks_by_the_zscored_model_and_its_twin(tmp_path):
    """--blend 0.5 with a ligand-only twin beside the model ranks by z(score) + 0.5 z(ligand_only), z-scored over the
    scored molecules when the run finishes; the twin's column is the twin's own score of the same picked pose; --top
    and --out-sdf follow the blend; an error row gets no blend."""
    from atomgrid.blend import BLEND_WEIGHT
    from atomgrid.enrich import default_column
    model = _tiny(tmp_path / "m.pt", 0, False)
    twin = _tiny(tmp_path / "m-ligonly.pt", 3, True)
    lib = tmp_path / "l.smi"
    lib.write_text(BLEND_LIB)
    opts = ScoreOptions(poses="template", rotations=2, n_confs=2, keep=2, relax_steps=5, precision="fp32", chunk_size=3,
                        blend=BLEND_WEIGHT)
    out, sdf = tmp_path / "o.csv", tmp_path / "o.sdf"
    s = score_library(REC, lib, out, autobox_ligand=REF, model=model, options=opts, out_sdf=sdf, top=3, progress=False)
    assert s["blend"] == BLEND_WEIGHT == 0.5 and s["ranked_by"] == "blend"
    rows = read_rows(out)
    ok = [r for r in rows if not r["error"]]
    assert [r["id"] for r in rows if r["error"]] == ["dimethylmercury"] and len(ok) == 7
    assert all(r["blend"] == "" and r["ligand_only"] == "" for r in rows if r["error"])
    m = np.array([float(r["score"]) for r in ok])
    t = np.array([float(r["ligand_only"]) for r in ok])
    z = lambda v: (v - v.mean()) / v.std()
    want = z(m) + 0.5 * z(t)
    got = np.array([float(r["blend"]) for r in ok])
    assert np.allclose(got, want, atol=1e-4)
    assert np.argsort(-got).tolist() != np.argsort(-m).tolist()  # the twin changed the order here
    top = read_rows(tmp_path / "o.top.csv")
    assert [r["id"] for r in top] == [ok[i]["id"] for i in np.argsort(-got)[:3]]
    mols = list(Chem.SDMolSupplier(str(sdf)))
    assert [x.GetProp("_Name") for x in mols] == [r["id"] for r in top]
    assert [float(x.GetProp("atomgrid_blend")) for x in mols] == pytest.approx([float(r["blend"]) for r in top], abs=1e-6)
    assert default_column(out) == "blend"
    # the twin column is the twin's score of the picked pose: the twin scoring the written poses as given
    score_library(REC, sdf, tmp_path / "t.csv", autobox_ligand=REF, model=twin, progress=False,
                  options=ScoreOptions(poses="given", rotations=2, precision="fp32", blend=0))
    alone = {r["id"]: float(r["score"]) for r in read_rows(tmp_path / "t.csv")}
    assert all(float(r["ligand_only"]) == pytest.approx(alone[r["id"]], abs=2e-3) for r in top)


def test_blend_off_missing_twin_and_resume(tmp_path, model_path):
    """By default (--blend 0) the model alone ranks, with empty twin/blend columns, even with a twin beside it; a
    blend without a twin, a twin that is not ligand-only, and a negative weight are one-line errors that leave nothing
    behind; the weight and the twin's file are part of the resume identity."""
    from atomgrid.cli import main
    from atomgrid.enrich import default_column
    model = _tiny(tmp_path / "m.pt", 0, False)
    _tiny(tmp_path / "m-ligonly.pt", 3, True)
    lib = tmp_path / "l.smi"
    lib.write_text(BLEND_LIB)
    fast = dict(poses="template", rotations=1, n_confs=2, keep=2, relax_steps=5, chunk_size=3)
    out = tmp_path / "o.csv"
    assert ScoreOptions().blend == 0
    s = score_library(REC, lib, out, autobox_ligand=REF, model=model, options=ScoreOptions(**fast), top=2, progress=False)
    assert s["ranked_by"] == "score" and s["blend"] == 0
    rows = read_rows(out)
    assert all(r["blend"] == "" and r["ligand_only"] == "" for r in rows) and default_column(out) == "score"
    best = sorted((r for r in rows if not r["error"]), key=lambda r: -float(r["score"]))[:2]
    assert [r["id"] for r in read_rows(tmp_path / "o.top.csv")] == [r["id"] for r in best]
    # the module's tiny model has no twin: a weight needs one
    with pytest.raises(ScoreError, match=r"^--blend 0.5: no ligand-only twin of tiny.pt \(none beside it\)"):
        score_library(REC, lib, tmp_path / "x.csv", autobox_ligand=REF, model=model_path,
                      options=ScoreOptions(blend=0.5, **fast), progress=False)
    with pytest.raises(ScoreError, match=r"^--ligand-only-model .*tiny.pt: not a ligand-only model"):
        score_library(REC, lib, tmp_path / "x.csv", autobox_ligand=REF, model=model, ligand_only_model=model_path,
                      options=ScoreOptions(blend=0.5, **fast), progress=False)
    assert not parts_dir(tmp_path / "x.csv").exists()
    with pytest.raises(ScoreError, match=r"^--ligand-only-model is only read with --blend W > 0"):
        score_library(REC, lib, tmp_path / "x.csv", autobox_ligand=REF, model=model, ligand_only_model=tmp_path / "m-ligonly.pt",
                      options=ScoreOptions(**fast), progress=False)
    with pytest.raises(ScoreError, match=r"^--blend -1.0: expected a finite weight >= 0"):
        ScoreOptions(blend=-1.0)
    assert main(["score", "--receptor", str(REC), "--autobox-ligand", str(REF), "--ligands", str(lib),
                 "--model", str(model), "--blend", "-1", "--out", str(tmp_path / "c.csv")]) == 2
    assert not (tmp_path / "c.csv").exists()

    def interrupt(k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_library(REC, lib, tmp_path / "r.csv", autobox_ligand=REF, model=model,
                      options=ScoreOptions(blend=0.5, **fast), on_chunk=interrupt, progress=False)
    with pytest.raises(ScoreError, match=r"changed since the interrupted run: blend \(0.5 then, 0.25 now\)"):
        score_library(REC, lib, tmp_path / "r.csv", autobox_ligand=REF, model=model, resume=True,
                      options=ScoreOptions(blend=0.25, **fast), progress=False)
    other_twin = _tiny(tmp_path / "other-ligonly.pt", 4, True)  # another twin is another input
    with pytest.raises(ScoreError, match=r"changed since the interrupted run: ligand-only model .*other-ligonly.pt "
                                         r"\(not an input of the interrupted run\)"):
        score_library(REC, lib, tmp_path / "r.csv", autobox_ligand=REF, model=model, resume=True,
                      ligand_only_model=other_twin, options=ScoreOptions(blend=0.5, **fast), progress=False)
    s = score_library(REC, lib, tmp_path / "r.csv", autobox_ligand=REF, model=model, resume=True,
                      options=ScoreOptions(blend=0.5, **fast), progress=False)
    assert s["resumed_records"] == 3 and s["ranked_by"] == "blend"
    assert sum(bool(r["blend"]) for r in read_rows(tmp_path / "r.csv")) == 7  # z-scored over every chunk's rows


# ----------------------------------------------------------------------------- --affinity-model

def test_affinity_models_fill_the_pk_column_with_their_mean(tmp_path, capsys):
    """--affinity-model A B: the pK column (and the SD CNNaffinity tag) is the mean of A's and B's pK of the pose the
    model picked, in the same rotations, each on its own grid; score, the pose and every other column are the model's
    as without them ('none'); a ligand-only affinity model, 'none' beside a model and a missing file are one-line
    errors that leave nothing behind; the affinity models are inputs of the resume identity; by default they apply to
    the default model only."""
    from atomgrid.cli import main
    from atomgrid.models import AFFINITY_MODELS
    from atomgrid.score import affinity_models_for
    model = _tiny(tmp_path / "m.pt", 0, False)
    a1 = _tiny(tmp_path / "a1.pt", 5, False)
    a2 = _tiny(tmp_path / "a2.pt", 6, False, grid=10, resolution=1.5)  # another grid: its own gridder and reach
    lib = tmp_path / "l.smi"
    lib.write_text(BLEND_LIB)
    fast = dict(poses="template", rotations=2, n_confs=2, keep=2, relax_steps=5, chunk_size=3, precision="fp32")
    plain, out, sdf = tmp_path / "p.csv", tmp_path / "o.csv", tmp_path / "o.sdf"
    s0 = score_library(REC, lib, plain, autobox_ligand=REF, model=model, options=ScoreOptions(**fast), progress=False,
                       affinity_models=["none"])
    s = score_library(REC, lib, out, autobox_ligand=REF, model=model, options=ScoreOptions(**fast), out_sdf=sdf,
                      progress=False, affinity_models=[a1, a2])
    assert s0["affinity_models"] == [] and s["affinity_models"] == [str(a1), str(a2)]
    base, rows = read_rows(plain), read_rows(out)
    ok = [r for r in rows if not r["error"]]
    assert [r["id"] for r in rows if r["error"]] == ["dimethylmercury"] and len(ok) == 7
    for b, r in zip(base, rows):
        assert {k: v for k, v in b.items() if k != "pK"} == {k: v for k, v in r.items() if k != "pK"}
    assert all(r["pK"] == "" for r in rows if r["error"])
    assert all(abs(float(b["pK"]) - float(r["pK"])) > 1e-4 for b, r in zip(base, rows) if not r["error"])
    mols = {m.GetProp("_Name"): m for m in Chem.SDMolSupplier(str(sdf))}
    assert all(float(mols[r["id"]].GetProp("CNNaffinity")) == pytest.approx(float(r["pK"]), abs=1e-5) for r in ok)
    # each affinity model alone, scoring the written (picked) poses as given in the same rotations: their mean is pK
    alone = []
    for a in (a1, a2):
        score_library(REC, sdf, tmp_path / "x.csv", autobox_ligand=REF, model=a, progress=False,
                      options=ScoreOptions(poses="given", rotations=2, precision="fp32"))
        alone.append({r["id"]: float(r["pK"]) for r in read_rows(tmp_path / "x.csv")})
    assert all(float(r["pK"]) == pytest.approx((alone[0][r["id"]] + alone[1][r["id"]]) / 2, abs=2e-3) for r in ok)
    # errors name the flag and leave nothing behind
    lig = _tiny(tmp_path / "lig.pt", 7, True)
    for bad, msg in (([lig], r"^--affinity-model .*lig.pt: a ligand-only model"),
                     (["none", a1], r"^--affinity-model none: give either 'none'"),
                     ([tmp_path / "nope.pt"], r"^--affinity-model '.*nope.pt': no such file")):
        with pytest.raises(ScoreError, match=msg):
            score_library(REC, lib, tmp_path / "e.csv", autobox_ligand=REF, model=model, options=ScoreOptions(**fast),
                          progress=False, affinity_models=bad)
        assert not parts_dir(tmp_path / "e.csv").exists()
    # the defaults: the shipped affinity models with the default model, the model's own head with another model

    assert affinity_models_for(None, None) == tuple(AFFINITY_MODELS)
    assert affinity_models_for(model, None) == () and affinity_models_for(None, ["none"]) == ()

    def interrupt(k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_library(REC, lib, tmp_path / "r.csv", autobox_ligand=REF, model=model, options=ScoreOptions(**fast),
                      on_chunk=interrupt, progress=False, affinity_models=[a1])
    with pytest.raises(ScoreError, match=r"changed since the interrupted run: affinity model 1 .*a2.pt"):
        score_library(REC, lib, tmp_path / "r.csv", autobox_ligand=REF, model=model, resume=True,
                      options=ScoreOptions(**fast), progress=False, affinity_models=[a2])
    capsys.readouterr()
    assert main(["score", "--receptor", str(REC), "--autobox-ligand", str(REF), "--ligands", str(lib), "--model",
                 str(model), "--affinity-model", str(a1), str(a2), "--rotations", "2", "--confs", "2", "--keep", "2",
                 "--out", str(tmp_path / "c.csv")]) == 0
    assert "pK column: mean pK of a1, a2 (--affinity-model); an affinity estimate of the pose, not a ranking: rank " \
           "by score" in capsys.readouterr().err
    assert main(["score", "--receptor", str(REC), "--autobox-ligand", str(REF), "--ligands", str(lib), "--model",
                 str(model), "--affinity-model", str(lig), "--out", str(tmp_path / "d.csv")]) == 2
    assert "a ligand-only model" in capsys.readouterr().err and not (tmp_path / "d.csv").exists()


@pytest.mark.external
def test_vina_prior_column_is_the_blend_of_the_net_and_vinas_score_of_the_same_pose(tmp_path, model_path):
    """--vina-prior: Vina's score_only of each scored pose in the vina column and (1 - w) pK + w (-vina / 1.364)
    in pK_vina_prior; the given crystal pose gets the energy Vina gives it directly; failures keep both empty."""
    pytest.importorskip("vina")
    pytest.importorskip("meeko")
    from atomgrid.vinascore import vina_scores
    out, sdf = tmp_path / "v.csv", tmp_path / "v.sdf"
    score_library(REC, REF, out, autobox_ligand=REF, model=model_path,
                  options=ScoreOptions(poses="given", vina_prior=0.75, rotations=1), out_sdf=sdf, progress=False)
    (row,) = read_rows(out)
    mol = Chem.MolFromMolFile(str(REF), removeHs=False)
    e, _ = vina_scores(REC, REF, [mol])
    assert float(row["vina"]) == pytest.approx(e[0], abs=1e-3) and -20 < e[0] < -3
    assert float(row["pK_vina_prior"]) == pytest.approx(0.25 * float(row["pK"]) + 0.75 * (-e[0] / 1.364), abs=1e-4)
    block = sdf.read_text()
    assert "<atomgrid_pK_vina_prior>" in block and "<atomgrid_vina_score_only>" in block and "minimizedAffinity" not in block
    # template poses: every scored molecule gets both columns; without the option both stay empty
    score_library(REC, DATA / "broken.smi", out, autobox_ligand=REF, model=model_path,
                  options=ScoreOptions(poses="template", chunk_size=3, vina_prior=0.5, rotations=1, **FAST), progress=False)
    ok = [r for r in read_rows(out) if not r["error"]]
    assert len(ok) == 3 and all(r["vina"] and r["pK_vina_prior"] for r in ok)
    for r in ok:
        assert float(r["pK_vina_prior"]) == pytest.approx(0.5 * float(r["pK"]) - 0.5 * float(r["vina"]) / 1.364, abs=1e-4)
    score_library(REC, DATA / "broken.smi", out, autobox_ligand=REF, model=model_path,
                  options=ScoreOptions(poses="template", chunk_size=3, rotations=1, **FAST), progress=False)
    assert all(r["vina"] == "" and r["pK_vina_prior"] == "" for r in read_rows(out))


def test_vina_prior_weight_outside_zero_one_is_refused():
    for w in (-0.1, 1.5, float("nan")):
        with pytest.raises(ScoreError, match="--vina-prior"):
            ScoreOptions(vina_prior=w)


@pytest.mark.external
def test_vina_scorer_names_an_atom_vina_cannot_type():
    """A boronic acid passes the scorer's element list (B is typed for the CNN) but has no AutoDock type: the Vina
    prior says so in one line instead of leaking the parser's text."""
    pytest.importorskip("vina")
    pytest.importorskip("meeko")
    from rdkit.Chem import AllChem

    from atomgrid import io as agio
    from atomgrid.poses import PrepError, VinaScorer, receptor_pdbqt
    ref = Chem.MolFromMolFile(str(REF), removeHs=False)
    box = agio.autobox(ref.GetConformer().GetPositions(), 8.0)
    vs = VinaScorer(receptor_pdbqt(agio.read_receptor(REC), box), box)
    m = Chem.AddHs(Chem.MolFromSmiles("OB(O)c1ccccc1"))
    AllChem.EmbedMolecule(m, randomSeed=1)
    xyz = m.GetConformer().GetPositions() - m.GetConformer().GetPositions().mean(0) + np.asarray(box.center)
    for i, p in enumerate(xyz):
        m.GetConformer().SetAtomPosition(i, p.tolist())
    with pytest.raises(PrepError, match="^Vina has no atom type for one of its atoms$"):
        vs.energies(m)


def test_vina_seed_is_never_vinas_random_seed():
    """Vina reads seed 0 as 'draw one at random': the default seed made every dock run (and every fresh checkout's
    DUD-E reference poses) different."""
    from atomgrid.poses import vina_seed
    assert vina_seed(0) == 1 and vina_seed(41) == 42
    assert all(0 < vina_seed(s) < 2**31 for s in (0, 1, 2**31 - 2, 2**31 - 1, 2**40))


def test_shipped_reference_poses_are_copied_not_docked(tmp_path, monkeypatch):
    from atomgrid import screenset
    from atomgrid.data import drug_root

    def dock(*a, **k):
        raise RuntimeError("docked")

    monkeypatch.setattr(screenset, "score_library", dock)
    ref = screenset.make_reference("mapk2", tmp_path / "m")
    assert ref.read_text() == screenset.shipped_reference("mapk2").read_text()
    assert screenset.make_reference("mapk2", tmp_path / "m", redock=True) == ref  # an existing reference is kept
    assert screenset.shipped_reference("ada") is None
    if not (drug_root() / "dude" / "mapk2" / "actives_final.ism").exists():
        pytest.skip("DUD-E absent")
    for i, kw in enumerate(({"redock": True}, {"n_actives": 5}, {"exhaustiveness": 8})):  # other settings dock
        with pytest.raises(RuntimeError, match="docked"):
            screenset.make_reference("mapk2", tmp_path / f"d{i}", **kw)


def test_shipped_reference_poses_are_their_targets_docked_actives():
    """Each shipped pose is one of its target's first three DUD-E actives (the molecules make_reference docks),
    with its hydrogens-free graph intact, and lies inside the target's dockstring box."""
    from atomgrid import screenset
    from atomgrid.data import drug_root
    from atomgrid.library import iter_records
    assert sorted(p.name for p in screenset.REFERENCES_DIR.glob("*.sdf")) == [
        f"dude_{t}.sdf" for t in sorted(screenset.DOCKSTRING)]
    if not (drug_root() / "dude" / "mapk2" / "actives_final.ism").exists():
        pytest.skip("DUD-E absent")
    for t in screenset.DOCKSTRING:
        _, box, actives, _ = screenset.target_files(t)
        mol = Chem.MolFromMolFile(str(screenset.shipped_reference(t)))
        assert mol is not None and mol.GetNumConformers() == 1
        firsts = {r.id: Chem.MolToSmiles(Chem.RemoveHs(Chem.MolFromSmiles(r.text)), isomericSmiles=False)
                  for r in [r for r in iter_records(actives) if not r.error][:3]}
        name = mol.GetProp("_Name")
        assert name in firsts, (t, name)
        assert Chem.MolToSmiles(mol, isomericSmiles=False) == firsts[name], t
        xyz = mol.GetConformer().GetPositions()
        assert np.all(np.abs(xyz - np.asarray(box.center)) <= np.asarray(box.size) / 2 + 1.0), t
