"""The contact-count tree pK model (atomgrid.contacts, campaigns/atomgrid-affinity rule AA): exact feature counts on
a hand-built complex, exported trees that predict exactly as the fitted estimator, safe loading that refuses other
files, `atomgrid contacts-train` / `evaluate`, and the pK column of `atomgrid score` with a contact model in it."""
from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from atomgrid import contacts as C
from atomgrid import io as agio
from atomgrid import models
from atomgrid.cli import main
from atomgrid.featurize import TypedAtoms, type_ligand, type_receptor
from atomgrid.score import ScoreError, ScoreOptions, score_library
from atomgrid.typing import FEATURES, NUM_FEATURES

from test_atomgrid_identity import tiny_model
from test_atomgrid_train import tiny_cache

pytest.importorskip("sklearn")

DATA = Path(__file__).parent / "data" / "atomgrid_score"
REC = DATA / "pocket.pdb"
REF = DATA / "crystal_ligand.sdf"
F = {f: i for i, f in enumerate(FEATURES)}


def atoms(rows: list[tuple[tuple[float, float, float], tuple[str, ...]]]) -> TypedAtoms:
    xyz = np.asarray([r[0] for r in rows], np.float32)
    feats = np.zeros((len(rows), NUM_FEATURES), np.float32)
    for i, (_, fs) in enumerate(rows):
        for f in fs:
            feats[i, F[f]] = 1.0
    return TypedAtoms(xyz, feats, np.full(len(rows), 1.8, np.float32))


def test_contact_features_count_each_pair_in_its_shell():
    lig = atoms([((0, 0, 0), ("C", "aromatic", "hydrophobic_C")), ((0, 0, 1.2), ("O", "acceptor"))])
    rec = atoms([((3.5, 0, 0), ("N", "donor")),                      # C: 3.5 exactly -> [3.5, 4.5); O: 3.70
                 ((0, 5, 0), ("C", "aromatic", "hydrophobic_C")),     # C: 5.0, O: 5.14 -> [4.5, 6)
                 ((0, 0, -3.0), ("O", "acceptor")),                   # C: 3.0 -> [0, 3.5); O: 4.2 -> [3.5, 4.5)
                 ((13, 0, 0), ("S",)),                                # beyond 12 Å of both
                 ((0, 9, 0), ("P",))])                                # a receptor P: no receptor P column
    f = dict(zip(C.feature_names(), C.contact_features(rec, lig)))
    assert len(f) == C.NUM_CONTACT_FEATURES == 155
    want = {"lig_C.rec_N@3.5-4.5": 1, "lig_O.rec_N@3.5-4.5": 1, "lig_C.rec_C@4.5-6": 1, "lig_O.rec_C@4.5-6": 1,
            "lig_C.rec_O@0-3.5": 1, "lig_O.rec_O@3.5-4.5": 1,
            "lig_acceptor.rec_donor@3.5-4.5": 1, "lig_hydrophobic_C.rec_hydrophobic_C@4.5-6": 1,
            "lig_aromatic.rec_aromatic@4.5-6": 1,
            "lig_sum_C": 1, "lig_sum_O": 1, "lig_sum_aromatic": 1, "lig_sum_hydrophobic_C": 1, "lig_sum_acceptor": 1,
            "lig_heavy_atoms": 2}
    assert {k: v for k, v in f.items() if v} == want
    # no receptor: only the ligand's own counts
    alone = dict(zip(C.feature_names(), C.contact_features(None, lig)))
    assert {k: v for k, v in alone.items() if v} == {k: v for k, v in want.items() if k.startswith("lig_sum") or k == "lig_heavy_atoms"}
    # a cache atom dict reads the same as TypedAtoms
    assert np.array_equal(C.contact_features(rec.to_dict(), lig.to_dict()), C.contact_features(rec, lig))


def _fitted(n: int = 120, seed: int = 0, trees: int = 40):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 30, size=(n, C.NUM_CONTACT_FEATURES)).astype(float)
    y = 5 + 0.05 * X[:, 3] - 0.03 * X[:, 40] + rng.normal(0, 0.3, n)
    return X, y, C.fit(X, y, {"n_estimators": trees})


def test_exported_trees_predict_exactly_as_the_fitted_estimator(tmp_path):
    X, y, est = _fitted()
    path = C.save(est, tmp_path / "m.pt", {"name": "t"})
    model = C.load(path)
    Xt = np.random.default_rng(1).integers(0, 30, size=(50, C.NUM_CONTACT_FEATURES)).astype(float)
    assert np.allclose(model.predict(Xt), est.predict(Xt.astype(np.float32)), rtol=0, atol=1e-10)
    assert np.allclose(model.predict(X), est.predict(X.astype(np.float32)), rtol=0, atol=1e-10)
    assert model.meta["name"] == "t" and model.meta["feature_set"] == C.FEATURE_SET and C.is_contact_model(path)
    # the file holds tensors and plain values only: it loads with weights_only=True
    assert torch.load(path, weights_only=True)["kind"] == C.KIND
    with pytest.raises(ValueError, match=r"expected \[n, 155\]"):
        model.predict(np.zeros((2, 10)))


def test_a_contact_model_file_is_told_apart_from_a_net(tmp_path):
    net = tiny_model(tmp_path / "net.pt", seed=0)
    assert not C.is_contact_model(net) and not C.is_contact_model(tmp_path / "missing.pt")
    with pytest.raises(Exception, match=r"holds a 'atomgrid' model, expected 'atomgrid-contacts'"):
        C.load(net)
    _, _, est = _fitted(trees=5)
    path = C.save(est, tmp_path / "m.pt", {"name": "t"})
    state = torch.load(path, weights_only=True)
    state["meta"]["feature_set"] = "contacts-v0"
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="another feature set"):
        C.load(tmp_path / "old.pt")


def _cache_of(n_copies: int) -> dict:
    """tiny_cache's four complexes, ``n_copies`` times under new ids (and labels), for a model to fit."""
    base = tiny_cache()
    ex = []
    for k in range(n_copies):
        for e in base["examples"]:
            e2 = copy.deepcopy(e)
            e2["id"] = f"{e['id']}_{k}"
            e2["pK"] = float(e["pK"]) + 0.1 * k
            ex.append(e2)
    return dict(base, examples=ex)


def test_contacts_train_and_evaluate_from_the_command_line(tmp_path, capsys):
    small = tmp_path / "small.pt"
    torch.save(tiny_cache(), small)
    with pytest.raises(SystemExit, match="4 labelled poses, need at least 10"):
        main(["contacts-train", "--cache", str(small), "-o", str(tmp_path / "x.pt")])
    with pytest.raises(SystemExit, match="no such file"):
        main(["contacts-train", "--cache", str(tmp_path / "none.pt"), "-o", str(tmp_path / "x.pt")])
    cache = _cache_of(3)
    path = tmp_path / "c.pt"
    torch.save(cache, path)
    model = tmp_path / "m" / "model.pt"
    assert main(["contacts-train", "--cache", str(path), "-o", str(model), "--name", "tiny-trees",
                 "--json", str(tmp_path / "train.json")]) == 0
    rec = json.loads((tmp_path / "train.json").read_text())["figures"][0]
    assert rec["train_poses"] == 12 and rec["name"] == "tiny-trees" and rec["params"]["n_estimators"] == 1000
    out = tmp_path / "e.json"
    assert main(["evaluate", "--model", str(model), "--set", "cache", "--cache", str(path), "--bootstrap", "20",
                 "--no-baseline", "--json", str(out)]) == 0
    res = json.loads(out.read_text())["figures"][0]
    good = [e for e in cache["examples"] if ":" not in e["source"]]
    want = C.load(model).predict_items([(cache["receptors"][e["receptor"]], e["ligand"]) for e in good])
    assert [c["id"] for c in res["complexes"]] == [e["id"] for e in good]
    assert np.allclose([c["pred"] for c in res["complexes"]], want, atol=1e-9)
    assert res["pose_auc"]["value"] is None and res["name"] == "tiny-trees"  # no pose score: null, not a number
    assert res["affinity"]["pearson"]["value"] > 0.9  # it fits its own training set


def test_score_fills_pk_with_the_contact_model_and_averages_it_with_nets(tmp_path):
    X, y, est = _fitted(trees=30)
    trees = C.save(est, tmp_path / "trees.pt", {"name": "t"})
    net = tiny_model(tmp_path / "net.pt", seed=0)
    lib = tmp_path / "lib.sdf"
    lib.write_text((DATA / "poses.sdf").read_text())
    opts = ScoreOptions(poses="given", chunk_size=2)

    def pk(affinity, name):
        score_library(REC, lib, tmp_path / f"{name}.csv", autobox_ligand=REF, model=net, options=opts,
                      progress=False, affinity_models=affinity)
        return {r["id"]: float(r["pK"]) for r in csv.DictReader(open(tmp_path / f"{name}.csv"))}

    alone, own, mixed = pk([trees], "t"), pk([net], "n"), pk([trees, net], "tn")
    # the trees' pK is their prediction on the given pose against the whole receptor (the scorer's crop reaches past
    # the 12 Å cut-off)
    rec = agio.read_receptor(REC)
    full = type_receptor(rec, agio.Box((0.0, 0.0, 0.0), (1000.0, 1000.0, 1000.0)))
    mols = [m for m in agio.read_ligands(lib)]
    want = C.load(trees).predict(np.stack([C.contact_features(full, type_ligand(m)) for m in mols]))
    assert len(alone) == len(mols) and np.allclose(sorted(alone.values()), sorted(want), atol=1e-6)
    assert set(alone) == set(own) == set(mixed)
    for k in alone:
        assert mixed[k] == pytest.approx((alone[k] + own[k]) / 2, abs=1e-5)


def test_a_contact_model_is_not_a_screening_model(tmp_path):
    _, _, est = _fitted(trees=5)
    trees = C.save(est, tmp_path / "trees.pt", {"name": "t"})
    lib = tmp_path / "lib.smi"
    lib.write_text("CCO a\n")
    with pytest.raises(ScoreError, match=r"--model .*trees\.pt: a contact-count pK model .*--affinity-model"):
        score_library(REC, lib, tmp_path / "o.csv", autobox_ligand=REF, model=trees,
                      options=ScoreOptions(poses="template"), progress=False)


def test_the_shipped_contact_model_is_in_the_pk_column():
    assert models.CONTACT_MODEL in models.AFFINITY_MODELS
    m = C.load(models.model_path(models.CONTACT_MODEL))
    assert m.meta["train_poses"] == 1731 and m.meta["params"] == C.GBT_PARAMS
    assert len(m.roots) == 1000


def test_a_contact_model_where_a_net_is_expected_is_one_line(tmp_path, capsys):
    _, _, est = _fitted(trees=5)
    trees = C.save(est, tmp_path / "trees.pt", {"name": "t"})
    assert main(["evaluate", "--model", str(trees), "--set", "dude:fabp4", "--no-baseline"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "a contact-count pK model" in err and "Traceback" not in err


def test_contacts_v2_classes_split_elements_by_their_flags():
    lig = atoms([((0, 0, 0), ("C", "aromatic")), ((0, 0, 1.4), ("C", "hydrophobic_C")), ((0, 1.4, 0), ("C",)),
                 ((1.4, 0, 0), ("N", "donor", "acceptor")), ((0, 0, -1.4), ("O", "acceptor"))])
    rec = atoms([((0, 0, 5.0), ("O", "donor", "acceptor")),   # the ligand's atoms at 3.6-6.5 Å
                 ((0, 0, 20.0), ("C", "aromatic"))])           # beyond 12 Å of all
    f = dict(zip(C.feature_names("contacts-v2"), C.contact_features(rec, lig, "contacts-v2")))
    assert len(f) == C.num_features("contacts-v2") == 455
    d = {k: v for k, v in f.items() if v and not k.startswith("lig_sum") and k != "lig_heavy_atoms"}
    # C aromatic at 5.0, C hydrophobic at 3.6, C polar at 5.19, N donor at 5.19, O acceptor at 6.4: all against O donor
    assert d == {"lig_C_arom.rec_O_don@4.5-6": 1, "lig_C_hyd.rec_O_don@3.5-4.5": 1, "lig_C_pol.rec_O_don@4.5-6": 1,
                 "lig_N_don.rec_O_don@4.5-6": 1, "lig_O_acc.rec_O_don@6-8": 1}
    with pytest.raises(ValueError, match="contact feature set 'contacts-v9'"):
        C.contact_features(rec, lig, "contacts-v9")


def test_a_v2_model_reads_its_own_features(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 20, size=(80, 455)).astype(float)
    est = C.fit(X, X[:, 7] * 0.1 + rng.normal(0, 0.1, 80), {"n_estimators": 20})
    path = C.save(est, tmp_path / "v2.pt", {"name": "v2"}, "contacts-v2")
    m = C.load(path)
    assert m.feature_set == "contacts-v2" and np.allclose(m.predict(X), est.predict(X.astype(np.float32)), atol=1e-10)
    lig = atoms([((0, 0, 0), ("C", "aromatic"))])
    assert m.predict_items([(lig, lig)]).shape == (1,)
    with pytest.raises(ValueError, match="the trees read 455 features, contacts-v1 has 155"):
        C.save(est, tmp_path / "bad.pt", {"name": "x"})


def test_evaluate_plots_predicted_against_measured_pk(tmp_path, capsys):
    cache = _cache_of(3)
    path = tmp_path / "c.pt"
    torch.save(cache, path)
    model = tmp_path / "m.pt"
    assert main(["contacts-train", "--cache", str(path), "-o", str(model)]) == 0
    png = tmp_path / "plots" / "aff.png"
    assert main(["evaluate", "--model", str(model), "--set", "cache", "--cache", str(path), "--bootstrap", "10",
                 "--no-baseline", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert f"plot written to {png}" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--plot draws measured against predicted pK"):
        main(["evaluate", "--model", str(model), "--set", "dude:fabp4", "--plot", str(png)])


def test_compare_averages_trees_with_a_net_and_keeps_the_nets_pose_auc(tmp_path):
    cache = _cache_of(3)
    path = tmp_path / "c.pt"
    torch.save(cache, path)
    trees, net = tmp_path / "t.pt", tiny_model(tmp_path / "net.pt", seed=0)
    assert main(["contacts-train", "--cache", str(path), "-o", str(trees)]) == 0
    ev = {}
    for name, m in (("t", trees), ("n", net)):
        ev[name] = tmp_path / f"e_{name}.json"
        assert main(["evaluate", "--model", str(m), "--set", "cache", "--cache", str(path), "--bootstrap", "10",
                     "--no-baseline", "--json", str(ev[name])]) == 0
    out = tmp_path / "cmp.json"
    assert main(["compare", str(ev["t"]), str(ev["n"]), "--vs", str(ev["n"]), "--bootstrap", "20",
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())["figures"]
    net_res = json.loads(ev["n"].read_text())["figures"][0]
    assert res["runs_a"] == 2 and res["runs_b"] == 1
    assert res["pose_auc"]["a"] == pytest.approx(net_res["pose_auc"]["value"]) == pytest.approx(res["pose_auc"]["b"])
    # side A is the per-complex mean of the two runs
    t = {c["id"]: c["pred"] for c in json.loads(ev["t"].read_text())["figures"][0]["complexes"]}
    n = {c["id"]: c["pred"] for c in net_res["complexes"]}
    from atomgrid.metrics import pearson
    y = {e["id"]: e["pK"] for e in cache["examples"] if ":" not in e["source"]}
    ids = sorted(y)
    assert res["all"]["pearson"]["a"] == pytest.approx(pearson([y[i] for i in ids], [(t[i] + n[i]) / 2 for i in ids]))


def test_prepare_a_cache_of_your_own_complexes_from_a_csv(tmp_path, capsys):
    import shutil
    shutil.copy(REC, tmp_path / "rec.pdb")
    shutil.copy(REF, tmp_path / "lig.sdf")
    (tmp_path / "c.csv").write_text(
        "id,receptor,ligand,pK,target\n"
        "a,rec.pdb,lig.sdf,7.5,P1\n"
        f"b,{tmp_path / 'rec.pdb'},lig.sdf,6.0,\n"      # an absolute path; no target: its id
        "c,rec.pdb,gone.sdf,5.0,P1\n"                   # a missing file
        "d,rec.pdb,lig.sdf,strong,P1\n"                 # a pK that is not a number
        "a,rec.pdb,lig.sdf,7.0,P1\n"                    # a repeated id
        "e:1,rec.pdb,lig.sdf,7.0,P1\n"                  # an id with ':'
        "f,lig.sdf,rec.pdb,7.0,P1\n"                    # the files swapped: one bad row, not the end of the run
        "g,rec.pdb,lig.sdf,-50,P1\n"                    # no measured affinity looks like this
        "h,rec.pdb\n")                                  # a short row
    out = tmp_path / "c.pt"
    assert main(["prepare", "--csv", str(tmp_path / "c.csv"), "--out", str(out), "--decoys", "1"]) == 0
    cache = torch.load(out, weights_only=True)
    good = {e["id"]: e for e in cache["examples"] if e["good"]}
    assert sorted(good) == ["a", "b"] and good["a"]["pK"] == 7.5 and good["b"]["target"] == "b"
    assert good["a"]["target"] == "P1" and {e["source"] for e in cache["examples"]} == {"csv", "csv:perturbed"}
    errs = cache["errors"]
    assert len(errs) == 7 and errs[0].startswith("c.csv:4: c: no such file: ligand")
    assert any(e.startswith("c.csv:8: f: ") and "a receptor file given as the ligand?" in e for e in errs)
    assert any(e.startswith("c.csv:9: g: pK -50 is outside 0-16") for e in errs)
    assert "c.csv:10: h: fewer fields than the header's columns" in errs
    assert "c.csv:5: d: pK 'strong' is not a number" in errs and "c.csv:6: id 'a' given twice (each complex once)" in errs
    assert any(e.startswith("c.csv:7: id 'e:1'") for e in errs)
    printed = capsys.readouterr().out
    assert '"complexes": 2' in printed and "unreadable: c.csv:4" in printed
    (tmp_path / "bad.csv").write_text("name,receptor,ligand,affinity\nx,rec.pdb,lig.sdf,7\n")
    assert main(["prepare", "--csv", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "x.pt")]) == 2
    assert "needs the columns id, receptor, ligand, pK (missing: id, pK)" in capsys.readouterr().err
    assert not (tmp_path / "x.pt").exists()


def test_prepare_csv_without_a_usable_row_writes_nothing(tmp_path, capsys):
    (tmp_path / "c.csv").write_text("id,receptor,ligand,pK\na,none.pdb,none.sdf,7\n")
    with pytest.raises(SystemExit, match="no complex could be used"):
        main(["prepare", "--csv", str(tmp_path / "c.csv"), "--out", str(tmp_path / "x.pt")])
    assert not (tmp_path / "x.pt").exists() and "unreadable: c.csv:2: a: no such file" in capsys.readouterr().err


def test_evaluate_takes_a_shipped_models_name_and_refuses_bad_files_in_one_line(tmp_path, capsys):
    path = tmp_path / "c.pt"
    torch.save(_cache_of(1), path)
    assert main(["evaluate", "--model", models.CONTACT_MODEL, "--set", "cache", "--cache", str(path),
                 "--bootstrap", "10", "--no-baseline"]) == 0
    assert capsys.readouterr().out.startswith(f"{models.CONTACT_MODEL} (receptor+ligand), complexes of c.pt, n=4")
    assert main(["evaluate", "--model", "no-such-model", "--set", "cache", "--cache", str(path), "--no-baseline"]) == 2
    assert capsys.readouterr().err.strip() == "atomgrid evaluate: checkpoint no-such-model: no such file"
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--model", str(tmp_path / "broken.pt"), "--set", "cache", "--cache", str(path),
                 "--no-baseline"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "broken.pt: truncated or corrupt" in err


def _placed(rows) -> TypedAtoms:
    """atoms() with each atom's own radius: rows of (xyz, flags, radius)."""
    a = atoms([(r[0], r[1]) for r in rows])
    return TypedAtoms(a.xyz, a.feats, np.asarray([r[2] for r in rows], np.float32))


def test_vina_terms_of_hand_placed_pairs():
    e = np.exp
    lig = _placed([((0, 0, 0), ("C", "hydrophobic_C"), 1.9),     # A
                   ((0, 0, 20), ("N", "donor"), 1.8),            # B
                   ((0, 30, 0), ("O", "acceptor"), 1.7)])        # D
    rec = _placed([((4.3, 0, 0), ("C", "hydrophobic_C"), 1.9),   # A: surface 0.5 -> hydrophobic 1
                   ((0, 0, 23.15), ("O", "acceptor"), 1.7),      # B: surface -0.35 -> hbond 0.5, repulsion 0.1225
                   ((0, 32.4, 0), ("metal",), 1.2),              # D: surface -0.5 -> a metal is Vina's donor: 0.5/0.7
                   ((-8.5, 0, 0), ("C",), 1.9)])                 # 8.5 Å from A: past Vina's 8 Å cut-off
    f = dict(zip(C.feature_names("contacts-v3"), C.contact_features(rec, lig, "contacts-v3")))
    assert len(f) == C.num_features("contacts-v3") == 161
    surf = (0.5, -0.35, -0.5)
    want = {"vina_gauss1": sum(e(-(s / 0.5) ** 2) for s in surf),
            "vina_gauss2": sum(e(-((s - 3) / 2) ** 2) for s in surf),
            "vina_repulsion": 0.35 ** 2 + 0.5 ** 2, "vina_hydrophobic": 1.0, "vina_hbond": 0.5 + 0.5 / 0.7}
    for k, v in want.items():
        assert f[k] == pytest.approx(v, abs=1e-5), k
    assert f["vina_inter"] == pytest.approx(sum(w * want[f"vina_{t}"] for w, t in zip(C.VINA_WEIGHTS, C.VINA_TERMS)), abs=1e-5)
    # the first 155 are contacts-v1's, unchanged
    assert np.array_equal(C.contact_features(rec, lig, "contacts-v3")[:155], C.contact_features(rec, lig))


def test_vina_terms_sum_to_vinas_own_intermolecular_energy_on_fabp4():
    pytest.importorskip("vina")
    pytest.importorskip("meeko")
    from rdkit import Chem
    from atomgrid.poses import VinaScorer, heavy_indices, receptor_pdbqt
    from atomgrid.vinascore import vina_maps_box
    d = Path(__file__).parent / "data" / "atomgrid"
    rec = agio.read_receptor(d / "fabp4_receptor.pdb")
    ref = agio.read_reference(d / "fabp4_crystal_ligand.mol2")
    box = vina_maps_box(agio.coordinates(ref)[heavy_indices(ref)], [ref.GetConformer().GetPositions()])
    vs = VinaScorer(receptor_pdbqt(rec, box), box)
    vs._set_ligand(Chem.AddHs(Chem.Mol(ref), addCoords=True))
    vina_inter = float(vs.v.score()[1])  # Vina's intermolecular energy of the crystal pose, before the rotor division
    ours = C.contact_features(type_receptor(rec), type_ligand(ref), "contacts-v3")[-1]
    assert vina_inter < -10 and ours == pytest.approx(vina_inter, rel=0.03)
