"""Ensembles (one model file, the mean logit of several nets) and test-time rotations (the mean logit over
fixed orientations): exact agreement with the members and orientations scored by hand, refusals of members
that do not fit together, and the crop that keeps a rotated grid's corners filled."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from atomgrid import nets
from atomgrid.featurize import Gridder, TypedAtoms
from atomgrid.grid import GridSpec
from atomgrid.models import build_model, load_model, load_weights, make_ensemble, predict, tta_rotations
from atomgrid.score import ScoreError, ScoreOptions, score_library

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "atomgrid_score"


def _export(path: Path, seed: int, *, grid: int = 8, ligand_only: bool = False, targets=None, width: int = 4) -> Path:
    from atomgrid.train import export_model
    from atomgrid.typing import scheme_dict
    torch.manual_seed(seed)
    cfg = nets.NetConfig(arch="atomnet", width=width, depth=1, stem_pool=1, hidden=8, grid_size=grid)
    meta = {"net": nets.net_config_dict(cfg), "grid": {"size": grid, "resolution": 2.0}, "typing": scheme_dict(),
            "ligand_only": ligand_only, "name": f"tiny{seed}"}
    if targets is not None:
        meta["train_targets"] = list(targets)
    net = nets.build(cfg)
    with torch.no_grad():  # a non-zero activity head, so members really differ
        net.activity.bias.fill_(0.1 * seed)
    export_model(net, meta, path)
    return path


def _items(n: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        rec = TypedAtoms(rng.normal(0, 4, (30, 3)).astype(np.float32), rng.random((30, 14)).astype(np.float32),
                         np.full(30, 1.7, np.float32))
        lig = TypedAtoms(rng.normal(0, 2, (12, 3)).astype(np.float32), rng.random((12, 14)).astype(np.float32),
                         np.full(12, 1.6, np.float32))
        out.append((rec, lig, lig.centroid()))
    return out


def test_ensemble_is_the_mean_logit_of_its_members(tmp_path):
    a = _export(tmp_path / "a.pt", 1, targets=["ACE", "JNK1"])
    b = _export(tmp_path / "b.pt", 2, targets=["JNK1", "PDE4B"], width=6)  # members may differ in width
    e = make_ensemble([a, b], tmp_path / "e.pt", name="pair")
    model, meta = load_model(e)
    assert isinstance(model, nets.Ensemble) and len(model.members) == 2
    assert meta["name"] == "pair" and meta["train_targets"] == ["ACE", "JNK1", "PDE4B"]
    assert [m["name"] for m in meta["members"]] == ["tiny1", "tiny2"]
    ma, _ = load_model(a)
    mb, _ = load_model(b)
    g = Gridder(GridSpec(8, 2.0))(_items())
    with torch.no_grad():
        out, oa, ob = model(g), ma(g), mb(g)
    for k in ("activity", "affinity"):
        torch.testing.assert_close(out[k], (oa[k] + ob[k]) / 2)
    assert not torch.allclose(oa["activity"], ob["activity"])
    # predict through the ensemble = sigmoid of the mean logit (not the mean probability)
    act, pk = predict(model, Gridder(GridSpec(8, 2.0)), _items())
    want = torch.sigmoid((oa["activity"] + ob["activity"]) / 2).numpy()
    np.testing.assert_allclose(act, want, rtol=1e-5)
    # an ensemble of an ensemble and a model is flattened into three members
    e3 = make_ensemble([e, _export(tmp_path / "c.pt", 3, targets=[])], tmp_path / "e3.pt")
    m3, meta3 = load_model(e3)
    assert len(m3.members) == 3 and len(meta3["members"]) == 3
    # a member that does not record its training targets: the union is unknown, so none is claimed
    e4 = make_ensemble([a, _export(tmp_path / "d.pt", 4)], tmp_path / "e4.pt")
    assert "train_targets" not in load_weights(e4)[1]


def test_ensemble_refuses_members_that_do_not_fit(tmp_path):
    a = _export(tmp_path / "a.pt", 1)
    with pytest.raises(ValueError, match="grid differs"):
        make_ensemble([a, _export(tmp_path / "g.pt", 2, grid=10)], tmp_path / "x.pt")
    with pytest.raises(ValueError, match="ligand_only True but"):
        make_ensemble([a, _export(tmp_path / "l.pt", 3, ligand_only=True)], tmp_path / "x.pt")
    with pytest.raises(ValueError, match="at least two"):
        make_ensemble([a], tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_ensemble_cli_per_fold_and_errors(tmp_path):
    for f in ("fold0", "fold1", "final"):
        for s in ("s0", "s1"):
            (tmp_path / s / f).mkdir(parents=True)
            _export(tmp_path / s / f / "model.pt", {"s0": 1, "s1": 2}[s])
    run = [sys.executable, "-m", "atomgrid", "ensemble", str(tmp_path / "s0/{fold}/model.pt"),
           str(tmp_path / "s1/{fold}/model.pt"), "--folds", "2", "-o", str(tmp_path / "ens/{fold}/model.pt")]
    r = subprocess.run(run, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert sorted(p.parent.name for p in (tmp_path / "ens").glob("*/model.pt")) == ["final", "fold0", "fold1"]
    bad = [sys.executable, "-m", "atomgrid", "ensemble", str(tmp_path / "s0/final/model.pt"),
           str(tmp_path / "nope.pt"), "-o", str(tmp_path / "e.pt")]
    r = subprocess.run(bad, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "Traceback" not in r.stderr and "nope.pt" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_tta_rotations_are_fixed_proper_rotations():
    r = tta_rotations(6)
    assert r.shape == (6, 3, 3)
    np.testing.assert_array_equal(r[0], np.eye(3, dtype=np.float32))
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), (6, 3, 3)), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-5)
    np.testing.assert_array_equal(tta_rotations(6), r)  # the same every call
    np.testing.assert_array_equal(tta_rotations(3), r[:3])  # a prefix: more rotations only add orientations
    with pytest.raises(ValueError, match="rotations must be >= 1"):
        tta_rotations(0)


def test_predict_with_rotations_is_the_mean_logit_over_orientations(tmp_path):
    model, meta = load_model(_export(tmp_path / "a.pt", 5))
    items = _items(7, seed=3)
    gridder = Gridder(GridSpec(8, 2.0))
    one, _ = predict(model, gridder, items)
    again, _ = predict(model, gridder, items, rotations=1)
    np.testing.assert_array_equal(one, again)
    act, pk = predict(model, gridder, items, batch_size=3, rotations=4)
    logits, pks = [], []
    with torch.no_grad():
        for rot in tta_rotations(4):
            out = model(gridder(items, rotation=rot))
            logits.append(out["activity"])
            pks.append(out["affinity"])
    np.testing.assert_allclose(act, torch.sigmoid(torch.stack(logits).mean(0)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(pk, torch.stack(pks).mean(0).numpy(), rtol=1e-5)
    assert not np.allclose(act, one)  # the orientations do change what the net sees
    # a fixed rotation moves the atoms: rotating by R then by R^T gives back the identity's grid
    rot = tta_rotations(2)[1]
    g_id = gridder(items[:1])
    pts = items[0]
    back = [(TypedAtoms((pts[0].xyz - pts[2]) @ rot.T + pts[2], pts[0].feats, pts[0].radii),
             TypedAtoms((pts[1].xyz - pts[2]) @ rot.T + pts[2], pts[1].feats, pts[1].radii), pts[2])]
    torch.testing.assert_close(gridder(back, rotation=rot.T), g_id, atol=1e-4, rtol=1e-4)


def test_score_with_rotations_and_resume_identity(tmp_path):
    """--rotations changes the rows (fingerprinted: a resume with another count is refused) and a rotated
    grid sees the receptor atoms its corners reach (the crop grows by (sqrt 3 - 1) x half the edge)."""
    model = _export(tmp_path / "m.pt", 7)
    lib = tmp_path / "lib.smi"
    lib.write_text("CC(=O)Oc1ccccc1C(=O)O aspirin\nc1ccccc1 benzene\n")
    fast = dict(n_confs=2, keep=2, relax_steps=5)
    out1, out4 = tmp_path / "r1.csv", tmp_path / "r4.csv"
    score_library(DATA / "pocket.pdb", lib, out1, autobox_ligand=DATA / "crystal_ligand.sdf", model=model,
                  options=ScoreOptions(**fast), progress=False)
    score_library(DATA / "pocket.pdb", lib, out4, autobox_ligand=DATA / "crystal_ligand.sdf", model=model,
                  options=ScoreOptions(rotations=4, **fast), progress=False)
    r1 = list(csv.DictReader(open(out1)))
    r4 = list(csv.DictReader(open(out4)))
    assert [r["id"] for r in r4] == ["aspirin", "benzene"] and all(r["score"] and not r["error"] for r in r4)
    assert [r["score"] for r in r1] != [r["score"] for r in r4]
    with pytest.raises(ScoreError, match="rotations must be >= 1"):
        ScoreOptions(rotations=0)
    # the best pose is picked as posed, then that pose alone is scored in every orientation: the same
    # figure as scoring the written best pose again with --poses given and the same rotations
    sdf = tmp_path / "best.sdf"
    score_library(DATA / "pocket.pdb", lib, tmp_path / "t.csv", autobox_ligand=DATA / "crystal_ligand.sdf",
                  model=model, options=ScoreOptions(rotations=4, **fast), progress=False, out_sdf=sdf)
    score_library(DATA / "pocket.pdb", sdf, tmp_path / "g.csv", autobox_ligand=DATA / "crystal_ligand.sdf",
                  model=model, options=ScoreOptions(poses="given", rotations=4), progress=False)
    t = {r["id"]: float(r["score"]) for r in csv.DictReader(open(tmp_path / "t.csv"))}
    g = {r["id"]: float(r["score"]) for r in csv.DictReader(open(tmp_path / "g.csv"))}
    assert t.keys() == g.keys() == {"aspirin", "benzene"}
    for k in t:
        assert t[k] == pytest.approx(g[k], abs=2e-3)
    assert t == {r["id"]: float(r["score"]) for r in r4}
    # an interrupted run cannot be resumed with another rotation count (its rows would mix two scorings)
    out = tmp_path / "int.csv"

    def stop(k):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_library(DATA / "pocket.pdb", lib, out, autobox_ligand=DATA / "crystal_ligand.sdf", model=model,
                      options=ScoreOptions(chunk_size=1, **fast), progress=False, on_chunk=stop)
    with pytest.raises(ScoreError, match="changed since the interrupted run: .*rotations"):
        score_library(DATA / "pocket.pdb", lib, out, autobox_ligand=DATA / "crystal_ligand.sdf", model=model,
                      options=ScoreOptions(chunk_size=1, rotations=4, **fast), progress=False, resume=True)
    # the crop: every point a rotated grid covers (up to its corners, sqrt(3) x half the edge from its
    # centre, plus an atom's reach) stays inside the receptor crop around a grid centred in the box
    from atomgrid import typing as agt
    from atomgrid.grid import FINAL_RADIUS_MULTIPLE
    from atomgrid.score_worker import receptor_reach
    spec = GridSpec(16, 1.5)
    corner = np.sqrt(3) * spec.dimension / 2 + FINAL_RADIUS_MULTIPLE * agt.MAX_RADIUS
    assert receptor_reach(spec, 4) >= corner - 1e-6 > receptor_reach(spec, 1)


def test_crossval_cli_refuses_rotations_without_a_pose_model():
    r = subprocess.run([sys.executable, "-m", "atomgrid", "crossval", "--model", "x.pt", "--rotations", "4"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode != 0 and "--rotations 4" in r.stderr and "--pose-model" in r.stderr
    assert "Traceback" not in r.stderr
