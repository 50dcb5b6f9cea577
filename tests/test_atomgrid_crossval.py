"""The cross-target protocol: the fold split is a pure function with no target or family on both sides,
fabp4/inha only in the final test, a fixed validation group; the baselines on tiny fixtures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from atomgrid import families as F
from atomgrid import io


@pytest.mark.parametrize("level", F.LEVELS)
@pytest.mark.parametrize("k", [3, 5])
def test_no_target_or_family_on_both_sides(level, k):
    cv, final = F.make_folds(k=k, level=level)
    assert len(cv) == k
    primary = {"PDE4B", "PDE5"}
    for fold in cv + [final]:
        test, train, val = set(fold.test), set(fold.train), set(fold.validation)
        assert not (test & train) and not (test & val) and not (train & primary)
        if fold is final:  # the model the validation group judges never trains on any of it
            assert not train & val
        for lv in F.LEVELS[: F.LEVELS.index(level) + 1]:  # the family level always, the chosen level too
            tg = {F.group_of(t, lv) for t in test}
            assert not tg & {F.group_of(t, lv) for t in train}, (fold.name, lv)
            assert not tg & {F.group_of(t, lv) for t in val}, (fold.name, lv)
            trained = {F.group_of(t, lv) for t in train}
            assert not trained & {F.group_of(t, lv) for t in primary}, (fold.name, lv)
            if fold is final:
                assert not trained & {F.group_of(t, lv) for t in val}, (fold.name, lv)
    # the CV test sides partition everything outside the final test and the validation group
    held = [t for f in cv for t in f.test]
    assert len(held) == len(set(held))
    assert set(held) | set(final.test) | set(final.validation) == set(F.FAMILIES)


def test_test_targets_only_in_the_final_fold():
    for level in F.LEVELS:
        cv, final = F.make_folds(level=level)
        for fold in cv:
            for t in ("dude:fabp4", "dude:inha", "INHA"):
                assert t not in fold.train and t not in fold.validation and t not in fold.test
        assert {"dude:fabp4", "dude:inha", "INHA"} <= set(final.test)
        assert not {"dude:fabp4", "dude:inha", "INHA"} & (set(final.train) | set(final.validation))


VALIDATION = ("PDE4B", "PDE5", "ADAM17", "CATL", "COX1", "COX2", "CTSK", "MK2", "MMP2", "PIM-1", "PIM-2", "dude:mapk2")


def test_validation_group_is_fixed_and_split_is_pure():
    a = F.make_folds(k=5)
    b = F.make_folds(k=5)
    assert a == b  # no randomness
    vals = {f.validation for f in a[0] + [a[1]]}
    assert vals == {VALIDATION}
    for k in (3, 4, 6):
        cv, final = F.make_folds(k=k)
        assert {f.validation for f in cv + [final]} == {VALIDATION}
    # a subset of targets folds the same way (no hidden state)
    sub = ["JNK1", "JNK2", "JNK3", "EGFR", "ERBB2", "VEGFR1", "VEGFR2", "AR", "GR", "COX1", "COX2", "PDE5",
           "PDE4B", "dude:fabp4"]
    cv, final = F.make_folds(sub, k=3)
    assert {"JNK1", "JNK2", "JNK3"} in [set(f.test) & {"JNK1", "JNK2", "JNK3"} for f in cv]
    assert final.test == ("dude:fabp4",) and final.validation == ("PDE4B", "PDE5", "COX1", "COX2")
    assert not {"COX1", "COX2"} & set(final.train) and all("COX1" not in f.test for f in cv)


def test_extra_validation_families_are_the_seeded_draw_and_keep_the_folds():
    """The extra validation families are what the documented seeded draw gives (not a hand pick), and adding
    them moved no family between folds: each CV fold trains on exactly what it trained on with PDE4B/PDE5 as
    the only validation family (so per-fold models trained before stay valid); the extra targets only left
    the CV tests and the final fold's training data."""
    assert F.draw_extra_validation() == F.EXTRA_VALIDATION_FAMILIES == (
        "cyclooxygenase", "cysteine_protease_c1", "kinase_camk", "metzincin")
    cv, final = F.make_folds()
    cv0, final0 = F.make_folds(extra_validation=())
    extra = set(VALIDATION) - {"PDE4B", "PDE5"}
    assert final0.validation == ("PDE4B", "PDE5")
    for f, f0 in zip(cv, cv0):
        assert f.train == f0.train and set(f.test) == set(f0.test) - extra
    assert set(final.train) == set(final0.train) - extra and final.test == final0.test
    assert set(F.trainable_targets()) == set(final0.train)  # what screen-data --crossval poses for training
    with pytest.raises(ValueError, match="no_such"):
        F.make_folds(extra_validation=("no_such",))


VALIDATION_V34_EXTRA = ("11betaHSD1", "17betaHSD1", "A2A", "ACE", "ACE2", "ADRB2", "AKT1", "AURKA", "AURKB", "DHFR",
                        "FXA", "HDAC2", "HDAC8", "PDK1", "PRKCQ", "PYGL-in", "PYGL-out", "ROCK-1", "TK", "TP", "TPA",
                        "TS", "uPA")


def test_validation_group_v34_is_every_small_family_and_keeps_the_cv_training_sets():
    """v34 = PDE plus every family of 2-4 evaluable targets (no draw); the v11 families are among them; each CV
    fold trains on exactly what it trains on under v11 (the per-fold models stay valid) and only tests fewer
    targets; the final fold drops the 23 new targets from its training data and tests the same."""
    assert F.VALIDATION_GROUPS["v34"] == F.small_families() and len(F.small_families()) == 14
    assert set(F.VALIDATION_GROUPS["v11"]) < set(F.VALIDATION_GROUPS["v34"])
    cv, final = F.folds_of("v34")
    cv11, final11 = F.make_folds()
    assert F.folds_of("v11") == (cv11, final11) and F.folds_of("v34") == F.make_folds(extra_validation=F.small_families())
    assert set(final.validation) == set(VALIDATION) | set(VALIDATION_V34_EXTRA)
    evaluable = [t for t in final.validation if t not in F.NO_TEMPLATE and t != "dude:mapk2"]
    assert len(evaluable) == 34
    for f, f11 in zip(cv, cv11):
        assert f.train == f11.train and set(f.test) == set(f11.test) - set(VALIDATION_V34_EXTRA)
        assert not set(f.test) & set(final.validation)
    assert set(final.train) == set(final11.train) - set(VALIDATION_V34_EXTRA) and len(final.train) == 44
    assert final.test == final11.test
    assert F.trainable_targets(validation_group="v34") == F.trainable_targets()  # one training cache for both
    with pytest.raises(ValueError, match="validation group 'v99'"):
        F.extra_validation_of("v99")
    with pytest.raises(ValueError, match="validation group 'v99'"):
        F.folds_of("v99")


def test_named_homolog_groups_share_a_family():
    for group in (("JNK1", "JNK2", "JNK3"), ("VEGFR1", "VEGFR2"), ("EGFR", "ERBB2"), ("PIM-1", "PIM-2"),
                  ("COX1", "COX2"), ("PYGL-in", "PYGL-out"), ("INHA", "dude:inha"), ("MK2", "dude:mapk2"),
                  ("GBA", "dude:glcm"), ("AR", "GR", "PR", "ER-beta", "PPARA", "PPARG", "RXR"), ("FXA", "TPA", "uPA")):
        assert len({F.group_of(t) for t in group}) == 1, group
    # every kinase is one superfamily
    kin = [t for t, (fam, _) in F.FAMILIES.items() if fam.startswith("kinase_")]
    assert len(kin) > 20 and {F.group_of(t, "superfamily") for t in kin} == {"protein_kinase"}


def test_bad_arguments():
    with pytest.raises(ValueError):
        F.make_folds(k=1)
    with pytest.raises(ValueError):
        F.group_of("NOPE")
    with pytest.raises(ValueError):
        F.make_folds(validation_family="no_such_family")


def test_dekois_targets_all_placed():
    import csv

    from atomgrid.data import drug_root
    idx = drug_root() / "dekois2" / "index.csv"
    if not idx.exists():
        pytest.skip(f"{idx} absent (the DEKOIS 2.0 data pack is not on this machine)")
    names = {r["target"] for r in csv.DictReader(open(idx))}
    assert names <= set(F.FAMILIES), names - set(F.FAMILIES)


def test_max_tanimoto_and_library_sampling():
    from atomgrid.crossval import max_tanimoto, sample_library
    ref = ["c1ccccc1O", "CCN(CC)CC"]
    sim = max_tanimoto(["c1ccccc1O", "CCCCCCCCCC", "not a smiles"], ref)
    assert sim[0] == pytest.approx(1.0) and 0 <= sim[1] < 0.5 and sim[2] == 0
    files = {"actives": [(f"a{i}", "C" * (i + 1)) for i in range(5)],
             "decoys": [(f"d {i}", "O" + "C" * i) for i in range(20)]}
    lib = sample_library(files, 3, 10, seed=1)
    assert lib == sample_library(files, 3, 10, seed=1)
    assert sum(l for _, _, l in lib) == 3 and len(lib) == 13
    assert len({i for i, _, _ in lib}) == 13 and all(" " not in i for i, _, _ in lib)


def test_extra_training_decoys_never_touch_the_evaluation_sample():
    """`screen-data --crossval-extra-decoys`: more decoys for training, seeded, from outside the evaluation sample
    (a target's evaluated molecules must never be its training examples), capped by what is left."""
    from atomgrid.crossval import extra_decoys, sample_library
    files = {"actives": [(f"a{i}", "N" * (i + 1)) for i in range(5)],
             "decoys": [(f"d {i}", "O" + "C" * i) for i in range(30)]}
    lib = sample_library(files, 3, 10, seed=1)
    x = extra_decoys(files, 3, 10, 8, seed=1)
    assert x == extra_decoys(files, 3, 10, 8, seed=1) and x != extra_decoys(files, 3, 10, 8, seed=2)
    assert len(x) == 8 and all(l == 0 and i.startswith("X") and " " not in i for i, _, l in x)
    evaluated = {s for _, s, _ in lib}
    assert not evaluated & {s for _, s, _ in x} and len({s for _, s, _ in x}) == 8
    # asking for more than is left gives every remaining decoy, still none of the sample
    rest = extra_decoys(files, 3, 10, 100, seed=1)
    assert len(rest) == 20 and {s for _, s, _ in rest} | {s for _, s, l in lib if l == 0} == {s for _, s in files["decoys"]}
    # golden draws (seed 1): the evaluation sample is the one made before extra decoys existed (its cached pose
    # files are keyed by it), and the extra decoys are these
    assert [len(s) for _, s, l in lib if l] == [2, 3, 4]
    assert [len(s) - 1 for _, s, l in lib if not l] == [3, 5, 7, 11, 18, 21, 22, 24, 27, 29]
    assert [len(s) - 1 for _, s, _ in x] == [4, 6, 8, 9, 13, 14, 25, 26]


def test_cross_target_decoys_come_from_other_superfamilies(monkeypatch):
    """`screen-data --crossval-cross-decoys`: actives of other targets as a target's decoys, drawn only from
    targets of another superfamily (an EGFR inhibitor is never a BRAF decoy), never a molecule that is also one
    of the target's own actives (a different SMILES of the same molecule included), seeded, each once."""
    from atomgrid import crossval as cvm
    smi = {"BRAF": ["c1ccccc1O", "CCN"], "EGFR": [f"C{'C' * i}Cl" for i in range(6)],
           "PPARG": ["Oc1ccccc1", "CCCO", "CCCCO", "CCCCCO"], "HIV1PR": ["NCCN", "NCCCN"]}
    monkeypatch.setattr(cvm, "_ACTIVES", {})
    for t, v in smi.items():  # what _pack_actives reads from the pack, without reading it
        cvm._ACTIVES[t] = [(f"{t.lower()}{i}", s, cvm.Chem.CanonSmiles(s)) for i, s in enumerate(v)]
    pool = ["BRAF", "EGFR", "PPARG", "HIV1PR"]
    lib = cvm.cross_decoys_of("BRAF", pool, 3, seed=0, work=Path("."))
    assert lib == cvm.cross_decoys_of("BRAF", pool, 3, seed=0, work=Path("."))
    assert len(lib) == 3 and all(label == 0 and i.startswith("Y") and " " not in i for i, _, label, _ in lib)
    # asking for more than there is: every eligible molecule once; phenol is BRAF's own active (written otherwise)
    every = cvm.cross_decoys_of("BRAF", pool, 100, seed=0, work=Path("."))
    assert sorted(s for _, s, _, _ in every) == sorted(["CCCO", "CCCCO", "CCCCCO", "NCCN", "NCCCN"])
    assert {src for *_, src in every} == {"PPARG", "HIV1PR"} and len({i for i, *_ in every}) == 5
    assert all(i.split("_", 1)[1].startswith(src + "__") for i, _, _, src in every)
    assert {s for _, s, _, _ in lib} <= {s for _, s, _, _ in every}
    # golden draw (seed 0): a source drawn uniformly, then one of its molecules; another seed draws otherwise
    assert lib == [("Y0000_PPARG__pparg1", "CCCO", 0, "PPARG"), ("Y0001_PPARG__pparg3", "CCCCCO", 0, "PPARG"),
                   ("Y0002_HIV1PR__hiv1pr0", "NCCN", 0, "HIV1PR")]
    assert any(cvm.cross_decoys_of("BRAF", pool, 3, seed=k, work=Path(".")) != lib for k in range(1, 4))


def test_specificity_pool_is_what_the_model_never_trained_on():
    """`crossval --specificity`: other targets' actives come only from targets the fold's model never trained on,
    never from the final-test families."""
    from atomgrid.crossval import specificity_pool
    for group in ("v11", "v34"):
        cv, final = F.folds_of(group)
        test_groups = {F.group_of(t) for t in F.TEST_TARGETS}
        for fold in cv + [final]:
            pool = set(specificity_pool(fold))
            assert pool and not pool & set(fold.train) and not pool & set(F.NO_TEMPLATE)
            assert not {F.group_of(t) for t in pool} & test_groups
            assert {t for t in fold.test if F.group_of(t) not in test_groups} - set(F.NO_TEMPLATE) <= pool
        # the final fold's: its validation group (what no final-fold model learnt), SIRT2 aside
        assert set(specificity_pool(final)) == set(final.validation) - set(F.NO_TEMPLATE)


def test_training_keeps_only_cross_decoys_of_its_own_targets():
    """A run that holds a target out never sees its actives, not even as another pocket's decoys."""
    from atomgrid.data import CROSS_DECOY_SOURCE, cross_decoy_source, keep_cross_decoys_from
    ex = [{"id": "a", "source": "dekois:template", "target": "BRAF", "receptor": "r1"},
          {"id": "y1", "source": CROSS_DECOY_SOURCE + "PPARG", "target": "BRAF", "receptor": "r2"},
          {"id": "y2", "source": CROSS_DECOY_SOURCE + "dude:nos1", "target": "BRAF", "receptor": "r3"}]
    cache = {"examples": ex, "receptors": {"r1": 1, "r2": 2, "r3": 3}}
    assert [cross_decoy_source(e) for e in ex] == [None, "PPARG", "dude:nos1"]
    kept, dropped = keep_cross_decoys_from(cache, ["BRAF", "dude:nos1"])
    assert dropped == 1 and [e["id"] for e in kept["examples"]] == ["a", "y2"] and set(kept["receptors"]) == {"r1", "r3"}
    assert keep_cross_decoys_from(cache, ["BRAF", "PPARG", "dude:nos1"]) == (cache, 0)


def test_screen_data_refuses_negative_extra_decoys(capsys, tmp_path):
    from atomgrid.cli import main
    assert main(["screen-data", "--crossval", "--crossval-extra-decoys", "-1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--crossval-extra-decoys -1: expected >= 0" in err and "Traceback" not in err
    assert main(["screen-data", "--crossval", "--crossval-cross-decoys", "-2", "--out", str(tmp_path)]) == 2
    assert "--crossval-cross-decoys -2: expected >= 0" in capsys.readouterr().err
    assert main(["screen-data", "--crossval", "--crossval-cross-decoys", "2", "--crossval-extra-decoys", "2",
                 "--out", str(tmp_path)]) == 2
    assert "give one at a time" in capsys.readouterr().err
    assert main(["screen-data", "--crossval", "--validation-group", "v34", "--out", str(tmp_path)]) == 2
    assert "--validation-group goes with --crossval-cross-decoys" in capsys.readouterr().err
    assert main(["screen-data", "--crossval", "--crossval-isomer-decoys", "-3", "--out", str(tmp_path)]) == 2
    assert "--crossval-isomer-decoys -3: expected >= 0" in capsys.readouterr().err
    assert main(["screen-data", "--crossval", "--crossval-isomer-decoys", "2", "--crossval-cross-decoys", "2",
                 "--out", str(tmp_path)]) == 2
    assert "give one at a time" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_isomer_decoys_are_never_an_active_and_keep_the_formula(monkeypatch):
    """`screen-data --crossval-isomer-decoys`: one positional isomer per active, seeded, none of them one of the
    target's actives (written otherwise included) nor drawn twice; an active with no swap is skipped."""
    from rdkit.Chem.rdMolDescriptors import CalcMolFormula

    from atomgrid import crossval as cvm
    acts = ["Cc1ccccn1", "Cc1ccncc1", "NCCOC", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "COc1ccc(cc1)C(=O)NCCc1ccccn1"]
    monkeypatch.setattr(cvm, "_ACTIVES", {"BRAF": [(f"a{i}", s, cvm.Chem.CanonSmiles(s)) for i, s in enumerate(acts)]})
    lib = cvm.isomer_decoys_of("BRAF", 10, seed=0, work=Path("."))
    assert lib == cvm.isomer_decoys_of("BRAF", 10, seed=0, work=Path("."))
    own = {cvm.Chem.CanonSmiles(s) for s in acts}
    # ibuprofen has no hetero atom on a swappable site; 2-picoline's two isomers are 4-picoline (an active) and
    # 3-picoline (4-picoline's isomer, drawn first with seed 0), so it gets none
    assert [(i, s) for i, s, _, _ in lib] == [("I0000__a2", "CCOCN"), ("I0001__a4", "COc1ccc(C(=O)NCCc2ccccc2)nc1"),
                                              ("I0002__a1", "Cc1cccnc1")]
    assert all(label == 0 and src == "BRAF" for _, _, label, src in lib) and not {s for _, s, _, _ in lib} & own
    formula = {f"a{i}": CalcMolFormula(cvm.Chem.MolFromSmiles(s)) for i, s in enumerate(acts)}
    for i, smi, _, _ in lib:
        assert CalcMolFormula(cvm.Chem.MolFromSmiles(smi)) == formula[i.split("__", 1)[1]]
    assert len(cvm.isomer_decoys_of("BRAF", 2, seed=0, work=Path("."))) == 2


def test_summary_is_the_mean_over_targets():
    from atomgrid.crossval import summarize
    per = [{"methods": {"model": {k: {"value": v} for k in ("roc_auc", "ef1", "ef5", "bedroc80")}}} for v in (0.5, 0.7, 0.9)]
    s = summarize(per, n_boot=200)
    assert s["model"]["roc_auc"]["value"] == pytest.approx(0.7)
    assert 0.5 <= s["model"]["roc_auc"]["low"] <= 0.7 <= s["model"]["roc_auc"]["high"] <= 0.9
    assert s["model"]["roc_auc"]["n"] == 3


def _tiny_model(path: Path, ligand_only: bool, train_targets=None) -> Path:
    import torch

    from atomgrid import nets
    from atomgrid.train import export_model
    from atomgrid.typing import scheme_dict
    torch.manual_seed(0)
    cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=8)
    meta = {"net": nets.net_config_dict(cfg), "grid": {"size": 8, "resolution": 2.0}, "typing": scheme_dict(),
            "ligand_only": ligand_only, "name": "test-tiny" + ("-ligonly" if ligand_only else "")}
    if train_targets is not None:
        meta["train_targets"] = list(train_targets)
    export_model(nets.build(cfg), meta, path)
    return path


def test_a_final_fold_model_is_a_per_fold_model_of_a_one_fold_split(tmp_path):
    """``--validation``/``--final`` with one model file: it is that split's clean model (no caveat) only when its
    meta lists its screening targets and all are the final fold's training targets."""
    from atomgrid.crossval import trained_within, validation_fold
    _, final = F.make_folds()
    v = validation_fold(final)
    clean = _tiny_model(tmp_path / "clean.pt", False, final.train[:5])
    saw_val = _tiny_model(tmp_path / "saw.pt", False, list(final.train[:5]) + ["COX2"])  # trained on a validation target
    unknown = _tiny_model(tmp_path / "unknown.pt", False)
    assert trained_within(str(clean), v) and trained_within(str(clean), final)
    assert not trained_within(str(saw_val), v) and not trained_within(str(unknown), v)
    assert not trained_within(str(tmp_path / "missing.pt"), v)


def test_crossval_end_to_end_on_one_dekois_target(tmp_path, monkeypatch):
    """``atomgrid crossval --validation --only COX2`` with 3 actives + 7 decoys and tiny untrained models, reading the
    DEKOIS data pack in place: per-target and mean figures for every method, JSON with provenance."""
    import json

    from atomgrid.cli import main
    from atomgrid.data import drug_root
    if not (drug_root() / "dekois2" / "index.csv").exists():
        pytest.skip("the DEKOIS 2.0 data pack (shared/data/drug/dekois2) is not on this machine")
    m = _tiny_model(tmp_path / "tiny.pt", False)
    _tiny_model(tmp_path / "tiny-ligonly.pt", True)  # found beside the model, as atomgrid evaluate does
    out = tmp_path / "cv.json"
    rc = main(["crossval", "--model", str(m), "--validation", "--only", "COX2", "--max-actives", "3", "--max-decoys", "7",
               "--bootstrap", "20", "--confs", "1", "--keep", "1", "--relax-steps", "2", "--work", str(tmp_path / "w"),
               "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    fig = doc["figures"]
    assert doc["benchmark"] == "atomgrid_crossval" and fig["caveat"]
    (t,) = fig["targets"]
    assert t["target"] == "COX2" and t["fold"] == "validation" and t["actives"] == 3 and t["decoys"] == 7
    assert {"model", "ligand_only", "heavy_atoms", "fp_max_tanimoto"} <= set(t["methods"])
    assert fig["split"] == "validation" and "COX1" not in [x for f in fig["folds"] for x in f["train"]]
    for figs in t["methods"].values():
        assert set(figs) == {"roc_auc", "ef1", "ef5", "bedroc80"}
    assert set(fig["mean"]["model"]) == {"roc_auc", "ef1", "ef5", "bedroc80"}
    assert ("vina" in t["methods"]) != ("vina" in t["skipped"])
    if "vina" in t["methods"]:   # Vina scored the posed molecules (a column of failures ranks at exactly 0.5)
        assert t["failed_posed"]["vina"] < 10 - t["unposed"]
    # a rerun reads the twin's scores back (cached beside the poses under its hash) instead of running it again
    import atomgrid.models
    monkeypatch.setattr(atomgrid.models, "predict", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rescored")))
    assert main(["crossval", "--model", str(m), "--validation", "--only", "COX2", "--max-actives", "3", "--max-decoys",
                 "7", "--bootstrap", "20", "--work", str(tmp_path / "w"), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["figures"]["targets"][0]["methods"]["ligand_only"] == t["methods"]["ligand_only"]
    assert len(list((tmp_path / "w").rglob("*_ligonly_*.csv"))) == 1
    # --skip-vina: no Vina columns, said so per target; the other figures are the same
    assert main(["crossval", "--model", str(m), "--validation", "--only", "COX2", "--max-actives", "3", "--max-decoys",
                 "7", "--bootstrap", "20", "--work", str(tmp_path / "w"), "--skip-vina", "--json", str(out)]) == 0
    t2 = json.loads(out.read_text())["figures"]["targets"][0]
    assert "vina" not in t2["methods"] and "vina_local" not in t2["methods"]
    assert "--skip-vina" in t2["skipped"]["vina"] and t2["methods"]["model"] == t["methods"]["model"]


@pytest.mark.external
def test_vina_scores_an_unsanitised_pose_read_back_from_sdf():
    """The poses come back from the scorer's SD file unsanitised; Vina's score_only must still score them (a
    missing sanitisation gave meeko NaN Gasteiger charges and the whole Vina column failed, AUC exactly 0.5)."""
    pytest.importorskip("vina")
    pytest.importorskip("meeko")
    from rdkit import Chem

    from atomgrid.vinascore import vina_scores
    d = Path(__file__).parent / "data" / "atomgrid_score"
    mol = next(iter(Chem.SDMolSupplier(str(d / "crystal_ligand.sdf"), removeHs=False, sanitize=False)))
    mol.UpdatePropertyCache(strict=False)
    e, local = vina_scores(d / "pocket.pdb", d / "crystal_ligand.sdf", [mol, None])
    assert np.isfinite(e[0]) and -20.0 < e[0] < -3.0   # a crystal ligand in its own pocket binds
    assert np.isnan(e[1])
    assert local[0] <= e[0] + 1e-6 and np.isnan(local[1])   # a local optimisation never ends above its start


def test_crossval_refuses_test_targets_outside_final():
    from atomgrid.crossval import run
    with pytest.raises(ValueError, match="final"):
        run("unused.pt", None, only=["dude:fabp4"])
    with pytest.raises(ValueError):
        run("unused.pt", None, only=["PDE5"])  # the validation group is never tested


def test_validation_fold_holds_out_only_the_validation_group():
    from atomgrid.crossval import _fold_path, run, validation_fold
    cv, final = F.make_folds()
    v = validation_fold(final)
    assert v.test == VALIDATION and not set(v.test) & set(v.train)
    assert not {"dude:fabp4", "dude:inha", "INHA"} & set(v.train)  # the final test stays out of everything
    assert _fold_path("m-{fold}.pt", v) == "m-final.pt" and _fold_path("m-{fold}.pt", cv[0]) == "m-fold0.pt"
    with pytest.raises(ValueError, match="validation"):
        run("unused.pt", None, validation=True, only=["JNK1"])  # a CV test target is not in the validation group
    with pytest.raises(ValueError, match="not held out in the CV"):
        run("unused.pt", None, only=["COX2"])  # nor is a validation target ever a CV test
    with pytest.raises(ValueError, match="choose one"):
        run("unused.pt", None, validation=True, final=True)


def test_vina_maps_hold_every_atom_of_every_pose():
    from atomgrid.vinascore import vina_maps_box
    ref = np.array([[0.0, 0.0, 0.0], [4.0, 2.0, 0.0]])
    inside = vina_maps_box(ref, [])
    assert np.allclose(inside.center, (2.0, 1.0, 0.0)) and np.allclose(inside.size, (20.0, 18.0, 16.0))
    far = np.array([[15.0, 1.0, 0.0], [2.0, -9.5, 0.5]])     # a pose reaching past the autobox
    box = vina_maps_box(ref, [far])
    assert box.contains(far, margin=-1.99).all() and box.contains(ref).all()


def test_fold_config_keeps_only_the_folds_training_targets():
    """``atomgrid train --fold`` trains on the fold's training targets only: none of its held-out targets, no
    primary validation or final-test family (the final fold: no validation target at all), and the model's meta records what it saw (``train_targets``)."""
    from atomgrid.cli import fold_config
    from atomgrid.train import AtomgridConfig, DataConfig, model_meta
    cfg = AtomgridConfig(name="cv", run_dir="runs/x", data=DataConfig(screen_caches=("c.pt",), screen_fraction=0.5))
    cv, fin = F.make_folds(k=5)
    for fold in cv + [fin]:
        c = fold_config(cfg, fold.name)
        assert c.name == f"cv-{fold.name}" and c.run_dir == str(Path("runs/x") / fold.name)
        assert set(c.data.screen_targets) == set(fold.train)
        assert not set(c.data.screen_targets) & (set(fold.test) | {"PDE4B", "PDE5", "INHA", "dude:inha", "dude:fabp4"})
        if fold is fin:  # the model the validation group judges
            assert not set(c.data.screen_targets) & set(fold.validation)
        assert model_meta(c)["train_targets"] == list(fold.train)
    assert "train_targets" not in model_meta(cfg)
    _, fin34 = F.folds_of("v34", k=5)
    c = fold_config(cfg, "final", validation_group="v34")  # `train --fold final --validation-group v34`
    assert set(c.data.screen_targets) == set(fin34.train) and not {"FXA", "ACE", "AKT1"} & set(c.data.screen_targets)
    assert set(fold_config(cfg, "fold0", validation_group="v34").data.screen_targets) == set(cv[0].train)
    with pytest.raises(ValueError, match="fold9"):
        fold_config(cfg, "fold9")
    # every fold also drops its held-out proteins from the pose/affinity data (the final v34 fold: A2A, ACE, FXA
    # are validation targets, INHA and fabp4 the final test)
    assert set(c.data.affinity_holdout) == set(F.FAMILIES) - set(fin34.train)
    assert {"A2A", "ACE", "FXA", "MMP2", "INHA", "dude:fabp4"} <= set(c.data.affinity_holdout)
    assert model_meta(c)["affinity_holdout"] == list(c.data.affinity_holdout)
    # a pose/affinity model for a fold (no screening share): only the held-out proteins, and a per-fold init
    pose = fold_config(AtomgridConfig(name="pose", run_dir="runs/p"), "fold0", validation_group="v34")
    assert pose.data.screen_targets == () and pose.run_dir == str(Path("runs/p") / "fold0")
    assert set(pose.data.affinity_holdout) == set(F.FAMILIES) - set(cv[0].train)
    from atomgrid.train import TrainConfig
    init = AtomgridConfig(data=cfg.data, train=TrainConfig(init="runs/pose/{fold}/model.pt"))
    assert fold_config(init, "final").train.init == "runs/pose/final/model.pt"


def _aff_example(target: str, cid: str) -> dict:
    return {"id": cid, "target": target, "receptor": target, "good": 1}


def test_drop_held_out_proteins_removes_their_families_at_the_folds_level(capsys):
    from atomgrid.train import drop_held_out_proteins
    cache = {"examples": [_aff_example("uniprot:P12821", "3bkk"), _aff_example("fep:gpcrs/a2a_hip278", "a2a#0"),
                          _aff_example("fep:merck/cmet", "cmet#1"), _aff_example("uniprot:P07900", "2wi2"),
                          _aff_example("uniprot:O43451", "2qmj")],
             "receptors": {}}
    kept = drop_held_out_proteins(cache, ("ACE2", "ADRB2"))  # ACE's family (m2_ace) and the class A GPCRs
    assert [e["id"] for e in kept["examples"]] == ["cmet#1", "2wi2", "2qmj"]
    assert "2 complexes of 2 proteins dropped, in the held-out groups gpcr_a, m2_ace" in capsys.readouterr().out
    # a kinase test target takes c-Met (a tyrosine kinase) out; HSP90 and the glycosidase stay at family level ...
    assert [e["id"] for e in drop_held_out_proteins(cache, ("SRC", "GBA"))["examples"]] == ["3bkk", "a2a#0", "2wi2", "2qmj"]
    # ... and at superfamily level GBA's superfamily (glycosidases) takes maltase-glucoamylase out too
    assert [e["id"] for e in drop_held_out_proteins(cache, ("GBA",), "superfamily")["examples"]] == [
        "3bkk", "a2a#0", "cmet#1", "2wi2"]
    with pytest.raises(ValueError, match="not placed"):
        drop_held_out_proteins({"examples": [_aff_example("uniprot:XNEW", "9xyz")], "receptors": {}}, ("ACE",))


@pytest.mark.skipif(not (io.data_root() / "drug" / "fep_sets" / "index.csv").exists(), reason="needs ../shared/data/drug")
def test_every_pose_affinity_protein_is_placed_and_the_final_fold_drops_its_held_out_families():
    import csv

    from atomgrid import data as agdata
    from atomgrid.train import drop_held_out_proteins
    fep = {f"fep:{r['group']}/{r['target']}" for r in csv.DictReader(open(agdata.drug_root() / "fep_sets" / "index.csv"))
           if r["source"] == "schrodinger"}
    listed = {k for k in set(F.AFFINITY_FAMILIES) | F.AFFINITY_OWN if k.startswith("fep:")}
    assert listed <= fep, sorted(listed - fep)  # no typo in the tables
    assert not set(F.AFFINITY_FAMILIES) & F.AFFINITY_OWN
    for kind in ("train", "train-recommended"):
        cache = agdata.build_cache(kind)
        keys = {e["target"] for e in cache["examples"]}
        for k in keys:
            F.affinity_group(k)  # raises for an unreviewed protein
        _, fin = F.folds_of("v34")
        kept = drop_held_out_proteins(cache, F.held_out_targets(fin))
        out = {F.group_of(t) for t in F.held_out_targets(fin)}
        assert not {F.affinity_group(e["target"]) for e in kept["examples"]} & out
        gone = keys - {e["target"] for e in kept["examples"]}
        # strict data: the A2A series (v34 validation), ACE and MMP-3 (v34 validation families) leave the final fold
        assert {"fep:gpcrs/a2a_hip278", "uniprot:P12821", "uniprot:P08254", "fep:mcs_docking/hne"} <= gone
        assert "fep:charge_annhil/egfr" not in gone  # EGFR's family is trained on by the final fold


def test_keep_targets_drops_other_targets_and_their_receptors():
    from atomgrid.data import is_screen, keep_targets
    cache = {"version": 1, "errors": [], "receptors": {"r1": {}, "r2": {}, "r3": {}},
             "examples": [{"target": "JNK1", "receptor": "r1", "source": "dekois:template"},
                          {"target": "JNK2", "receptor": "r2", "source": "dekois:template"},
                          {"target": "P00001", "receptor": "r3", "source": "core2013"}]}
    kept = keep_targets(cache, {"JNK2"})
    assert [e["target"] for e in kept["examples"]] == ["JNK2"] and set(kept["receptors"]) == {"r2"}
    assert [is_screen(e) for e in cache["examples"]] == [True, True, False]


def test_screen_data_crossval_and_per_fold_models_on_shared_poses(tmp_path, monkeypatch):
    """The per-fold pipeline on one DEKOIS target with tiny models: ``pose_target`` poses the library once
    with the pose model; ``screen-data --crossval``'s builder labels those poses (A* active, D* decoy) under
    the protocol's target name; ``crossval --pose-model`` scores the same poses with each fold's model
    (``{fold}``), whose figures are then a clean per-fold result (no caveat)."""
    import csv
    import json

    from atomgrid import crossval as cvm
    from atomgrid.cli import main
    from atomgrid.data import drug_root, is_screen
    from atomgrid.score import ScoreOptions
    if not (drug_root() / "dekois2" / "index.csv").exists():
        pytest.skip("the DEKOIS 2.0 data pack (shared/data/drug/dekois2) is not on this machine")
    pose = _tiny_model(tmp_path / "pose.pt", False)
    fold_model = _tiny_model(tmp_path / "m" / "final.pt", False)  # COX2 is in the validation group
    work = tmp_path / "w"
    opts = ScoreOptions(poses="template", n_confs=1, keep=1, relax_steps=2)
    files, lib, out, sdf = cvm.pose_target("COX2", work=work, model=str(pose), max_actives=3, max_decoys=5,
                                           pose_options=opts)
    assert len(lib) == 8 and sdf.exists()
    cache = cvm.build_crossval(tmp_path / "s", ["COX2"], work, max_actives=3, max_decoys=5, model=str(pose))
    ex = cache["examples"]
    assert 0 < len(ex) <= 8 and all(e["target"] == "COX2" and is_screen(e) for e in ex)
    assert sorted(e["good"] for e in ex) == sorted(int(e["id"].split(":", 1)[1].startswith("A")) for e in ex)
    assert sum(e["good"] for e in ex) >= 1 and (tmp_path / "s" / "cache_crossval.pt").exists()
    with pytest.raises(ValueError, match="final-test family"):
        cvm.build_crossval(tmp_path / "s", ["INHA"], work)
    # extra training decoys: a cache of their own, decoys only, none of them an evaluated molecule
    xc = cvm.build_crossval(tmp_path / "s", ["COX2"], work, max_actives=3, max_decoys=5, model=str(pose),
                            pose_options=opts, extra_decoys=2)
    assert (tmp_path / "s" / "cache_crossval_x2.pt").exists() and 0 < len(xc["examples"]) <= 2
    assert all(e["good"] == 0 and e["id"].split(":", 1)[1].startswith("X") for e in xc["examples"])
    assert list(xc["receptors"]) == ["crossval:COX2:x2"] and len(cache["examples"]) == len(ex)
    # actives of other targets as decoys: COX1 is COX2's superfamily, so every one comes from PPARG
    # (two targets, so that each one's decoys are labelled with their own sources, the second like the first)
    yc = cvm.build_crossval(tmp_path / "s", ["COX2", "PPARG"], work, model=str(pose), pose_options=opts, cross_decoys=2,
                            pool=["COX2", "COX1", "PPARG"], tag="t")
    assert (tmp_path / "s" / "cache_crossval_y2_t.pt").exists()
    ycox = [e for e in yc["examples"] if e["target"] == "COX2"]
    assert 0 < len(ycox) <= 2 and all(
        e["good"] == 0 and is_screen(e) and e["source"] == "dekois:crossdecoy:PPARG"
        and e["id"].split(":", 1)[1].startswith("Y") for e in ycox)
    ypparg = [e for e in yc["examples"] if e["target"] == "PPARG"]
    assert 0 < len(ypparg) <= 2 and all(e["good"] == 0 and e["source"] in ("dekois:crossdecoy:COX2",
                                                                            "dekois:crossdecoy:COX1") for e in ypparg)
    # the actives' own positional isomers: decoys of their own target, a receptor key and a source of their own
    ic = cvm.build_crossval(tmp_path / "s", ["COX2"], work, model=str(pose), pose_options=opts, isomer_decoys=2)
    assert (tmp_path / "s" / "cache_crossval_i2.pt").exists() and 0 < len(ic["examples"]) <= 2
    assert all(e["good"] == 0 and e["target"] == "COX2" and is_screen(e) and e["source"] == "dekois:isomer"
               and e["id"].split(":", 1)[1].startswith("I") for e in ic["examples"])
    assert list(ic["receptors"]) == ["crossval:COX2:i2"]
    pparg = {s for _, s in cvm.target_files("PPARG", work)["actives"]}
    ylib = (work / "COX2" / "lib_y2_s0_t.smi").read_text().split()
    assert len(ylib) == 4 and set(ylib[0::2]) <= pparg
    res = tmp_path / "cv.json"
    rc = main(["crossval", "--model", str(tmp_path / "m" / "{fold}.pt"), "--pose-model", str(pose), "--validation",
               "--only", "COX2",
               "--max-actives", "3", "--max-decoys", "5", "--bootstrap", "10", "--confs", "1", "--keep", "1",
               "--relax-steps", "2", "--work", str(work), "--json", str(res)])
    assert rc == 0
    fig = json.loads(res.read_text())["figures"]
    (t,) = fig["targets"]
    assert fig["per_fold_models"] and t["model"] == str(fold_model)
    # its meta makes no pose/affinity hold-out claim (no `train --fold` wrote it): flagged, not silently clean
    assert t["pose_affinity_held_out"] is False and fig["caveat"].startswith("per-fold models, but 1 of 1 targets'")
    # the model column is the fold model's score of the pose model's poses, one per molecule
    given = {r["id"]: r for r in csv.DictReader(open(t["scores_csv"]))}
    assert t["scores_csv"] != str(out) and set(given) == {i for i, _, _ in lib}
    assert all(r["pose"] == "given" for r in given.values() if not r["error"])
    if "vina" in t["methods"]:  # a rerun reads Vina's energies back instead of recomputing them
        monkeypatch.setattr(cvm, "vina_scores", lambda *a: (_ for _ in ()).throw(AssertionError("recomputed")))
        assert main(["crossval", "--model", str(tmp_path / "m" / "{fold}.pt"), "--pose-model", str(pose), "--validation",
                     "--only", "COX2", "--max-actives", "3", "--max-decoys", "5", "--bootstrap", "10", "--work", str(work),
                     "--json", str(res)]) == 0
        again = json.loads(res.read_text())["figures"]["targets"][0]["methods"]
        assert again["vina"] == t["methods"]["vina"] and again["vina_local"] == t["methods"]["vina_local"]
    # pocket specificity: COX2's actives against 2 actives of other targets no model of the fold trained on
    spec = tmp_path / "spec.json"
    assert main(["crossval", "--model", str(tmp_path / "m" / "{fold}.pt"), "--pose-model", str(pose), "--validation",
                 "--only", "COX2", "--max-actives", "3", "--max-decoys", "5", "--bootstrap", "10", "--confs", "1",
                 "--keep", "1", "--relax-steps", "2", "--work", str(work), "--skip-vina", "--specificity", "2",
                 "--json", str(spec)]) == 0
    sfig = json.loads(spec.read_text())["figures"]
    (st,) = sfig["targets"]
    sp = st["pocket_specificity"]
    fold = cvm.validation_fold(F.folds_of("v11")[1])
    assert 1 <= sp["cross_decoys"] <= 2 and 1 <= sp["actives"] <= 3 and 0.0 <= sp["roc_auc"] <= 1.0
    assert set(sp["sources"]) <= set(cvm.specificity_pool(fold)) and not set(sp["sources"]) & set(fold.train)
    assert all(F.group_of(x, "superfamily") != F.group_of("COX2", "superfamily") for x in sp["sources"])
    assert sfig["mean"]["pocket_specificity"]["roc_auc"]["value"] == pytest.approx(sp["roc_auc"])
    assert st["methods"] == {k: v for k, v in t["methods"].items() if not k.startswith("vina")}  # nothing else moved


def test_blend_zscores_per_target_and_keeps_failures_last():
    import math

    from atomgrid.crossval import blend_name, blend_scores, parse_blend
    model = np.array([2.0, 0.0, -2.0, -math.inf])  # the last molecule was never posed
    vina = np.array([-1.0, 1.0, 3.0, 0.0])
    b = blend_scores(model, vina, 0.5)
    zm = np.array([1.0, 0.0, -1.0]) * math.sqrt(1.5)  # (x - mean) / std over the finite entries
    zv = (vina - vina.mean()) / vina.std()
    np.testing.assert_allclose(b[:3], zm + 0.5 * zv[:3])
    assert b[3] == -math.inf
    # invariant to each method's scale and offset: the weight means the same on every target
    np.testing.assert_allclose(blend_scores(10 * model + 3, vina * 7 - 2, 0.5)[:3], b[:3])
    # a molecule the other method failed on takes that method's lowest z, not -inf
    b2 = blend_scores(model[:3], np.array([-1.0, -math.inf, 3.0]), 1.0)
    assert np.all(np.isfinite(b2)) and b2[1] == pytest.approx(0.0 + -1.0)
    assert parse_blend("vina:0.5") == ("vina", 0.5) and parse_blend("ligand_only:-1") == ("ligand_only", -1.0)
    assert blend_name("vina", 0.5) == "model+0.5*vina" and blend_name("ligand_only", -1.0) == "model-1*ligand_only"
    for bad, why in (("vina", "METHOD:WEIGHT"), ("model:1", "METHOD:WEIGHT"), ("vina:x", "not a number"),
                     ("vina:0", "non-zero"), ("vina:nan", "non-zero")):
        with pytest.raises(ValueError, match=why):
            parse_blend(bad)


def test_crossval_cli_refuses_a_bad_blend_before_any_work(capsys):
    from atomgrid.cli import main
    assert main(["crossval", "--model", "ag-atomnet-c16-l3-g16r15", "--validation", "--blend", "vina:zero"]) == 2
    err = capsys.readouterr().err
    assert "--blend 'vina:zero'" in err and len(err.strip().splitlines()) == 1


def test_compare_is_paired_over_shared_targets(tmp_path):
    """atomgrid compare: differences target by target, only on targets both results hold; the CLI reads the
    --json files and refuses what is not one with a one-line reason."""
    import json
    import subprocess
    import sys

    from atomgrid.crossval import compare

    def res(vals, fold="fold0"):
        return {"targets": [{"target": t, "fold": fold, "methods": {"model": {"roc_auc": {"value": v}, "ef1": {"value": 2 * v}},
                                                                     "vina": {"roc_auc": {"value": 0.5}, "ef1": {"value": 1.0}}}}
                            for t, v in vals.items()]}

    a = res({"X": 0.9, "Y": 0.7, "Z": 0.6, "only_a": 0.1})
    b = res({"X": 0.8, "Y": 0.7, "Z": 0.65, "only_b": 0.99})
    c = compare(a, b, n_boot=200)
    m = c["metrics"]["roc_auc"]
    assert c["targets"] == 3
    assert m["a"] == pytest.approx(0.7333333) and m["b"] == pytest.approx(0.7166667)
    assert m["diff"] == pytest.approx((0.1 + 0 - 0.05) / 3)
    assert (m["a_higher"], m["a_lower"], m["same"]) == (1, 1, 1)
    assert (m["a_at_least_0.80"], m["b_at_least_0.80"]) == (1, 1)
    assert m["low"] <= m["diff"] <= m["high"]
    assert c["folds"]["fold0"]["n"] == 3
    v = compare(a, a, "model", "vina", n_boot=0)["metrics"]["roc_auc"]
    assert v["diff"] == pytest.approx((0.9 + 0.7 + 0.6 + 0.1) / 4 - 0.5)  # model vs Vina of the same run
    with pytest.raises(ValueError, match="no target"):
        compare(a, res({"W": 0.5}))
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps({"figures": a}))
    pb.write_text(json.dumps({"figures": b}))
    out = tmp_path / "cmp.json"
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "atomgrid", "compare", str(pa), str(pb), "--json", str(out)],
                       capture_output=True, text=True, cwd=root)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["figures"]["metrics"]["roc_auc"]["a_higher"] == 1
    (tmp_path / "bad.json").write_text("{not json")
    r = subprocess.run([sys.executable, "-m", "atomgrid", "compare", str(pa), str(tmp_path / "bad.json")],
                       capture_output=True, text=True, cwd=root)
    assert r.returncode != 0 and "bad.json" in r.stderr and "Traceback" not in r.stderr


def test_compare_pools_seeds_per_target_before_the_bootstrap(tmp_path, capsys):
    """Several runs a side (seeds of one recipe): per target the mean over that side's runs, on the targets every
    run holds, then the paired comparison; the CLI takes A's runs, then --vs B's, and refuses a file given twice."""
    import json

    from atomgrid.cli import main
    from atomgrid.crossval import compare, pool_seeds

    def res(vals, fold="fold0"):
        return {"targets": [{"target": t, "fold": fold, "methods": {"model": {"roc_auc": {"value": v}, "ef1": {"value": 2 * v}}}}
                            for t, v in vals.items()]}

    a1, a2 = res({"X": 0.9, "Y": 0.6, "Z": 0.5}), res({"X": 0.7, "Y": 0.8})
    p = pool_seeds([a1, a2])
    assert [r["target"] for r in p["targets"]] == ["X", "Y"] and p["pooled_runs"] == 2
    assert [r["methods"]["model"]["roc_auc"]["value"] for r in p["targets"]] == pytest.approx([0.8, 0.7])
    assert p["targets"][0]["methods"]["model"]["ef1"]["value"] == pytest.approx(1.6)
    b1, b2 = res({"X": 0.75, "Y": 0.7}), res({"X": 0.65, "Y": 0.6})
    m = compare(p, pool_seeds([b1, b2]), n_boot=0)["metrics"]["roc_auc"]
    assert m["diff"] == pytest.approx(((0.8 - 0.7) + (0.7 - 0.65)) / 2) and m["a_higher"] == 2
    assert pool_seeds([a1]) is a1
    with pytest.raises(ValueError, match="different folds"):
        pool_seeds([a1, res({"X": 0.7}, fold="fold1")])
    with pytest.raises(ValueError, match="share no target"):
        pool_seeds([a1, res({"W": 0.7})])
    paths = []
    for k, f in enumerate((a1, a2, b1, b2)):
        paths.append(tmp_path / f"r{k}.json")
        paths[-1].write_text(json.dumps({"figures": f}))
    out = tmp_path / "cmp.json"
    assert main(["compare", str(paths[0]), str(paths[1]), "--vs", str(paths[2]), str(paths[3]), "--bootstrap", "50",
                 "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["figures"]["metrics"]["roc_auc"]["diff"] == pytest.approx(0.075) and d["settings"]["runs_a"] == 2
    assert "and 1 more run (mean per target)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="r0.json: given more than once"):
        main(["compare", str(paths[0]), str(paths[0]), "--vs", str(paths[2])])
    with pytest.raises(SystemExit, match="r0.json: A and B are the same runs"):  # the same run against itself
        main(["compare", str(paths[0]), str(paths[0])])
    with pytest.raises(SystemExit, match="r1.json: A and B are the same runs"):
        main(["compare", str(paths[1]), str(paths[0]), "--vs", str(paths[0]), str(paths[1])])
    # an ensemble against a subset of its runs is a fair question (does adding r1 help r0?)
    assert main(["compare", str(paths[0]), str(paths[1]), "--vs", str(paths[0]), "--bootstrap", "50",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["figures"]["metrics"]["roc_auc"]["diff"] == pytest.approx(((0.8 - 0.9) + (0.7 - 0.6)) / 2)
    # two methods of one run (e.g. a --blend against the model) are a fair pair
    two = {"targets": [dict(r, methods={"model": r["methods"]["model"],
                                        "vina": {"roc_auc": {"value": 0.5}, "ef1": {"value": 1.0}}}) for r in a1["targets"]]}
    (tmp_path / "two.json").write_text(json.dumps({"figures": two}))
    assert main(["compare", str(tmp_path / "two.json"), str(tmp_path / "two.json"), "--method-b", "vina",
                 "--bootstrap", "50", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["figures"]["metrics"]["roc_auc"]["diff"] == pytest.approx((0.9 + 0.6 + 0.5) / 3 - 0.5)
    with pytest.raises(SystemExit, match="3 files given"):
        main(["compare", str(paths[0]), str(paths[1]), str(paths[2])])


def test_plan_names_the_validation_targets_a_fold_trains_on(capsys):
    from atomgrid.cli import main
    assert main(["crossval", "--plan"]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert set(lines) == {"fold0", "fold1", "fold2", "fold3", "fold4", "final"}
    assert lines["final"].startswith("test 3 (INHA dude:inha dude:fabp4); train 67;")
    assert "training data" not in lines["final"] and "(4 of them in this fold's training data)" in lines["fold4"]
    assert main(["crossval", "--plan", "--validation-group", "v34"]) == 0
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["final"].startswith("test 3 (INHA dude:inha dude:fabp4); train 44;") and "FXA" in lines["final"]
    assert lines["fold3"].startswith("test 4 (ALR2 BCL2 HIV1RT NA); train 62;")


def test_a_dude_target_without_crystal_ligand_gets_its_reference_pose_made_once(tmp_path, monkeypatch):
    """fak1/glcm/mapk2/nos1 have no crystal ligand: the protocol poses them on a Vina reference pose. A fresh
    checkout has none, and used to skip them silently (a different target set from the documented runs)."""
    from atomgrid import crossval as cvm
    from atomgrid import screenset
    from atomgrid.data import drug_root
    if not (drug_root() / "dude" / "mapk2" / "actives_final.ism").exists():
        pytest.skip("DUD-E mapk2 absent")
    monkeypatch.chdir(tmp_path)
    calls = []

    def fake(name, out, *a, **k):
        calls.append(name)
        (out / "reference.sdf").write_text("made\n")
        return out / "reference.sdf"

    monkeypatch.setattr(screenset, "make_reference", fake)
    monkeypatch.setattr(cvm, "vina_available", lambda: None)
    f = cvm.target_files("dude:mapk2", tmp_path)
    assert calls == ["mapk2"] and f["reference"] == Path("runs/atomgrid/screen/mapk2/reference.sdf")
    assert f["reference"].read_text() == "made\n" and len(f["actives"]) > 0
    cvm.target_files("dude:mapk2", tmp_path)
    assert calls == ["mapk2"]  # made once
    monkeypatch.setattr(cvm, "vina_available", lambda: "vina/meeko not installed (vina)")
    cvm.target_files("dude:glcm", tmp_path)  # a shipped reference pose needs no Vina
    assert calls == ["mapk2", "glcm"]
    monkeypatch.setattr(screenset, "shipped_reference", lambda name: None)
    with pytest.raises(FileNotFoundError, match="dude:fak1: no crystal ligand; needs the Vina reference pose .*not installed"):
        cvm.target_files("dude:fak1", tmp_path)
    assert calls == ["mapk2", "glcm"]


def test_compare_on_a_subset_of_targets(tmp_path):
    """--targets / --exclude-targets: the paired comparison on the named targets only (e.g. those whose family is
    in the pose/affinity data); a name the results do not hold is an error, not a silently smaller subset."""
    import json

    from atomgrid.cli import main

    def res(vals):
        return {"figures": {"targets": [{"target": t, "fold": "validation", "methods": {
            "model": {"roc_auc": {"value": v}, "ef1": {"value": 1.0}}}} for t, v in vals.items()]}}

    pa, pb, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    pa.write_text(json.dumps(res({"A2A": 0.9, "ACE": 0.8, "PDE5": 0.6})))
    pb.write_text(json.dumps(res({"A2A": 0.7, "ACE": 0.7, "PDE5": 0.7})))
    assert main(["compare", str(pa), str(pb), "--targets", "A2A,ACE", "--bootstrap", "20", "--json", str(out)]) == 0
    f = json.loads(out.read_text())["figures"]
    assert f["targets"] == 2 and f["metrics"]["roc_auc"]["diff"] == pytest.approx(0.15)
    assert f["target_subset"] == {"only": ["A2A", "ACE"], "excluded": []}
    assert main(["compare", str(pa), str(pb), "--exclude-targets", "A2A,ACE", "--bootstrap", "20", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["figures"]["metrics"]["roc_auc"]["diff"] == pytest.approx(-0.1)
    with pytest.raises(SystemExit, match="ACF not in the results"):
        main(["compare", str(pa), str(pb), "--targets", "A2A,ACF"])


def test_pose_data_holdout_reads_the_models_meta(tmp_path):
    import torch as _t

    from atomgrid import nets
    from atomgrid.crossval import POSE_DATA_CAVEAT, pose_data_holdout
    from atomgrid.train import export_model, load_train_config, model_meta
    cfg = load_train_config(None, ["net.preset=\"atomnet-c8-l2\"", "data.grid_size=8", "data.resolution=2.0"])
    _t.manual_seed(0)
    net = nets.build(cfg.net_config())
    old = export_model(net, model_meta(cfg), tmp_path / "old.pt")  # trained before session 22: no claim
    new = export_model(net, dict(model_meta(cfg), affinity_holdout=["ACE", "ACE2"]), tmp_path / "new.pt")
    assert "ACE" in pose_data_holdout(str(new)) and "A2A" not in pose_data_holdout(str(new))
    assert "ACE" not in pose_data_holdout(str(old)) and "ACE" not in pose_data_holdout(str(tmp_path / "none.pt"))
    assert "3 of 35 targets" in POSE_DATA_CAVEAT.format(n=3, total=35)


def test_active_affinity_targets_protocol_is_every_target_but_the_final_test():
    """``screen-data --actives-affinity protocol``: the v34 group plus every CV fold's test targets, never a final
    test target, each once; a validation group gives exactly its validation targets."""
    from atomgrid.crossval import active_affinity_targets
    from atomgrid.families import FAMILIES, folds_of
    folds, final = folds_of("v34")
    got = active_affinity_targets("protocol")
    assert len(got) == len(set(got)) and not set(got) & set(final.test)
    assert set(final.validation) <= set(got) and all(set(f.test) <= set(got) for f in folds)
    assert set(got) | set(final.test) <= set(FAMILIES)
    assert {"INHA", "dude:inha", "dude:fabp4"} <= set(final.test)
    assert active_affinity_targets("v34") == tuple(final.validation)


def test_crossval_pk_models_rank_by_their_mean_pk_of_the_same_poses(tmp_path):
    """``--pk-models A B``: the method ``pk`` is the mean of A's and B's pK of the protocol's poses (each cached
    beside the poses), ``--blend pk:W`` blends it like any method; without ``--pk-models`` it is skipped, said why."""
    import csv
    import json

    import torch

    from atomgrid import nets
    from atomgrid.cli import main
    from atomgrid.crossval import blend_scores
    from atomgrid.data import drug_root
    from atomgrid.metrics import roc_auc
    from atomgrid.train import export_model
    from atomgrid.typing import scheme_dict
    if not (drug_root() / "dekois2" / "index.csv").exists():
        pytest.skip("the DEKOIS 2.0 data pack (shared/data/drug/dekois2) is not on this machine")

    def tiny(path, seed, spread=1.0):
        torch.manual_seed(seed)
        cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=8)
        net = nets.build(cfg)
        with torch.no_grad():  # an untrained head's pK hardly varies and rounds to one bf16 value: spread it
            net.affinity.weight.mul_(spread)
        export_model(net, {"net": nets.net_config_dict(cfg), "grid": {"size": 8, "resolution": 2.0},
                           "typing": scheme_dict(), "ligand_only": False, "name": path.stem}, path)
        return path
    m, a, b = tiny(tmp_path / "m.pt", 0), tiny(tmp_path / "a.pt", 1, 300.0), tiny(tmp_path / "b.pt", 2, 300.0)
    out, work = tmp_path / "cv.json", tmp_path / "w"
    args = ["crossval", "--model", str(m), "--validation", "--only", "COX2", "--max-actives", "3", "--max-decoys", "7",
            "--bootstrap", "20", "--confs", "1", "--keep", "1", "--relax-steps", "2", "--work", str(work), "--skip-vina",
            "--json", str(out)]
    assert main(args + ["--pk-models", str(a), str(b), "--blend", "pk:0.5"]) == 0
    (t,) = json.loads(out.read_text())["figures"]["targets"]
    assert {"pk", "model+0.5*pk"} <= set(t["methods"]) and len(t["pk_models"]) == 2
    per = []
    for name in ("a", "b"):  # each model's own scores of the poses, cached beside them
        (f,) = [p for p in work.rglob(f"*_given_{name}_*.csv")]
        per.append({r["id"]: float(r["pK"]) for r in csv.DictReader(open(f)) if r["pK"]})
    (mf,) = [p for p in work.rglob("*_m_*.csv") if "_given_" not in p.name]  # the model posed and scored them
    model = {r["id"]: float(r["score"]) for r in csv.DictReader(open(mf)) if r["score"]}
    ids = sorted(model)
    assert ids == sorted(per[0]) == sorted(per[1])
    y = np.asarray([i.startswith("A") for i in ids], float)
    pk = np.asarray([(per[0][i] + per[1][i]) / 2 for i in ids])
    # the check bites: the pK differ between molecules, and the mean ranks differently from either model alone
    assert len(set(pk.round(3))) >= 8
    assert roc_auc(y, pk) != pytest.approx(roc_auc(y, np.asarray([per[0][i] for i in ids]))) or \
        roc_auc(y, pk) != pytest.approx(roc_auc(y, np.asarray([per[1][i] for i in ids])))
    assert t["methods"]["pk"]["roc_auc"]["value"] == pytest.approx(roc_auc(y, pk))
    blend = blend_scores(np.asarray([model[i] for i in ids]), pk, 0.5)
    assert t["methods"]["model+0.5*pk"]["roc_auc"]["value"] == pytest.approx(roc_auc(y, blend))
    assert main(args) == 0
    (t,) = json.loads(out.read_text())["figures"]["targets"]
    assert "pk" not in t["methods"] and t["skipped"]["pk"] == "no --pk-models given"


def test_crossval_refuses_a_negative_specificity():
    from atomgrid.cli import main
    with pytest.raises(SystemExit, match="--specificity -1: expected >= 0"):
        main(["crossval", "--model", "missing.pt", "--specificity", "-1"])


def test_two_processes_posing_one_library_take_turns(tmp_path, monkeypatch):
    """Two evaluation lanes started at once pose a target without poses: the second waits for the first's lock and
    reuses its files instead of writing into the same .parts folder (session 36 lost PDE5 to that race)."""
    import threading
    import time

    import atomgrid.score
    from atomgrid import crossval as cvm
    model = tmp_path / "pose.pt"
    model.write_bytes(b"not a real model")
    monkeypatch.setattr(cvm, "target_files", lambda t, w: {"receptor": "r.pdb", "reference": "x.sdf"})
    monkeypatch.setattr(cvm, "sample_library", lambda *a: [("A0000_m1", "CCO", 1), ("D0000_d1", "CCN", 0)])
    calls, inside = [], []

    def fake_score(receptor, lib, out, *, out_sdf, resume, **kw):
        inside.append(1)
        assert len(inside) == 1, "two posers inside one library at once"
        calls.append(resume)
        time.sleep(0.3)
        Path(out_sdf).write_text("$$$$\n")
        Path(out).write_text("id,score\n")
        inside.pop()

    monkeypatch.setattr(atomgrid.score, "score_library", fake_score)
    results = []
    threads = [threading.Thread(target=lambda: results.append(cvm.pose_target("T1", work=tmp_path / "w", model=str(model))))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [False] and len(results) == 2 and results[0][2] == results[1][2] and results[0][3].exists()
