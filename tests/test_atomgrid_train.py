"""Training plumbing: a tiny run drives the loss down; configs, nets, checkpoints and the CLI."""
from pathlib import Path

import numpy as np
import pytest
import torch

from atomgrid import data as agdata
from atomgrid import io, nets
from atomgrid.cli import build_parser, main
from atomgrid.featurize import Gridder, type_ligand, type_receptor
from atomgrid.grid import GridSpec
from atomgrid.placement import place_on_template
from atomgrid.train import AtomgridConfig, export_model, load_train_config, loss_fn, make_batch, model_meta
from traincore.config import ConfigError
from traincore.loop import fit
from traincore.runtime import Runtime

FIX = Path(__file__).parent / "data" / "atomgrid"
REPO = Path(__file__).resolve().parents[1]


def tiny_cache() -> dict:
    """FABP4 crystal ligand and three actives placed on it (good), plus rigidly perturbed copies (bad)."""
    rec = io.read_receptor(FIX / "fabp4_receptor.pdb")
    xtal = type_ligand(io.read_ligand(FIX / "fabp4_crystal_ligand.mol2"))
    tr = type_receptor(rec, io.autobox(xtal.xyz, 4.0), margin=6.0)
    ligs = [xtal]
    for m in io.read_ligands(FIX / "fabp4_actives3.mol2"):
        t = type_ligand(m)
        xyz, _ = place_on_template(t.xyz, xtal.xyz, tr.xyz)
        ligs.append(agdata.TypedAtoms(xyz, t.feats, t.radii))
    rng = np.random.default_rng(0)
    examples = []
    for k, (lig, pk) in enumerate(zip(ligs, [8.5, 4.0, 7.0, 5.0])):
        examples.append(agdata._example(f"c{k}", f"t{k}", "fixture", "fabp4", lig, pk, 1, 0.0))
        for d, rmsd in agdata._rigid_decoys(lig, 1, rng):
            examples.append(agdata._example(f"c{k}", f"t{k}", "fixture:perturbed", "fabp4", d, pk, 0, rmsd))
    return {"version": agdata.CACHE_VERSION, "receptors": {"fabp4": tr.to_dict()}, "examples": examples, "errors": []}


def tiny_run(tmp_path, steps: int = 2, *extra: str) -> list[str]:
    """Config overrides for a tiny training run on ``tmp_path / 'train.pt'`` (an 8^3 net, one thread, no validation),
    checkpointed at its last step; ``extra`` overrides follow."""
    return ["net.preset=\"atomnet-c8-l2\"", "net.stem_pool=1", "net.hidden=16", "data.grid_size=8",
            "data.resolution=2.5", f"data.train_cache=\"{tmp_path / 'train.pt'}\"", "data.val_cache=\"\"",
            f"train.steps={steps}", "train.warmup=1", "train.batch_size=4", f"train.eval_every={steps}",
            "train.log_every=1", "train.threads=1", *extra]


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread avoids OpenMP spin-waits on a loaded shared machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_tiny_training_run_drives_the_loss_down(one_thread):
    torch.manual_seed(0)
    ds = agdata.ComplexSet(tiny_cache())
    assert len(ds) == 8 and len(ds.indices(1)) == 4 and len(ds.indices(0)) == 4
    gridder = Gridder(GridSpec(8, 2.5), "cpu")
    batch = make_batch(ds, list(range(8)), gridder, False)  # one fixed batch: the net must fit it
    model = nets.build(nets.preset("atomnet-c8-l2", stem_pool=1, hidden=32, grid_size=8))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses, bce = [], []
    fit(model, loss_fn(0.5), iter([batch] * 40), opt, runtime=Runtime.create("cpu"), steps=40,
        hooks=(lambda step, m: (losses.append(m["loss"]), bce.append(m["activity_bce"])),))
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.3 * np.mean(losses[:3])
    assert np.mean(bce[-5:]) < 0.5 * np.mean(bce[:3])  # the pose head learns too, not only the pK bias


def test_nets_shapes_presets_and_names():
    for name in ("atomnet-c8-l2", "resnet-b2-c8"):
        cfg = nets.preset(name, stem_pool=2, hidden=16, grid_size=16)
        assert cfg.name == name
        out = nets.build(cfg)(torch.zeros(2, 28, 16, 16, 16))
        assert out["activity"].shape == (2,) and out["affinity"].shape == (2,)
    with pytest.raises(ValueError, match="net preset"):
        nets.preset("vgg16")


def test_config_files_load_and_unknown_keys_are_rejected(tmp_path):
    for p in sorted((REPO / "configs" / "atomgrid").glob("*.toml")):
        cfg = load_train_config(str(p))
        assert isinstance(cfg, AtomgridConfig) and cfg.net_config().in_channels == 28
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nstepz = 3\n")
    with pytest.raises(ConfigError, match="stepz"):
        load_train_config(str(bad))


def test_config_variants_extend_their_base_with_only_what_they_name():
    """small_c48.toml and the clean recipe's variants hold only their differences (``extends``): the c48 pose model
    is small.toml with the wider net, and the c48 recipe the clean recipe with the wider net and its pose model."""
    import dataclasses
    small = load_train_config(str(REPO / "configs" / "atomgrid" / "small.toml"))
    c48 = load_train_config(str(REPO / "configs" / "atomgrid" / "small_c48.toml"))
    assert c48.net.preset == "atomnet-c48-l3" and c48.run_dir == "runs/atomgrid/pose-clean-c48"
    assert dataclasses.replace(c48, name=small.name, run_dir=small.run_dir,
                               net=dataclasses.replace(c48.net, preset=small.net.preset)) == small
    clean = load_train_config(str(REPO / "configs" / "atomgrid" / "crossval_sf08_wd05_16k_clean.toml"))
    rx = load_train_config(str(REPO / "configs" / "atomgrid" / "crossval_sf08_wd05_16k_clean_c48.toml"))
    assert rx.train.init == "runs/atomgrid/pose-clean-c48/{fold}/model.pt" and rx.train.steps == 16000
    assert dataclasses.replace(rx, name=clean.name, run_dir=clean.run_dir,
                               net=dataclasses.replace(rx.net, preset=clean.net.preset),
                               train=dataclasses.replace(rx.train, init=clean.train.init)) == clean


def test_exported_model_round_trips_through_evaluate_loader(tmp_path):
    from atomgrid.evaluate import load_model, score
    cfg = load_train_config(None, ["net.preset=\"atomnet-c8-l2\"", "data.grid_size=8", "data.resolution=2.0"])
    model = nets.build(cfg.net_config())
    path = export_model(model, model_meta(cfg), tmp_path / "m.pt")
    loaded, meta = load_model(path)
    assert meta["typing"]["name"] == "agtypes-v1" and meta["grid"] == {"size": 8, "resolution": 2.0}
    ds = agdata.ComplexSet(tiny_cache())
    s = ds.sample(0)
    act, aff = score(loaded, meta, [(s.receptor, s.ligand, s.center)])
    model.eval()
    with torch.no_grad():
        ref = model(Gridder(GridSpec(8, 2.0))([(s.receptor, s.ligand, s.center)]))
    assert aff[0] == pytest.approx(float(ref["affinity"][0]), abs=1e-5) and 0 < act[0] < 1


def test_balanced_batches_are_half_good_and_weight_targets():
    ds = agdata.ComplexSet(tiny_cache())
    it = agdata.balanced_batches(ds, 6, seed=1)
    for _ in range(5):
        idx = next(it)
        assert sum(ds.examples[i]["good"] for i in idx) == 3


def test_cli_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("train", "evaluate", "grid-info"):
        assert cmd in out
    assert main(["grid-info", "--size", "8", "--resolution", "2.0", "--ligand", str(FIX / "fabp4_crystal_ligand.mol2"),
                 "--receptor", str(FIX / "fabp4_receptor.pdb")]) == 0
    out = capsys.readouterr().out
    assert "agtypes-v1: 28 channels" in out and "lig_C" in out and "rec_O" in out


def test_cli_reports_bad_model_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--model", str(bad), "--set", "casf2016", "--bootstrap", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "x.pt: truncated or corrupt" in err


def test_cli_evaluate_template_passes_decoys_seed_and_workers(monkeypatch, capsys):
    from atomgrid import evaluate as ev
    seen = {}

    def fake(model, target, n_boot, device, **kw):
        seen.update(kw, model=model, target=target)
        m = {"value": 0.5, "low": 0.4, "high": 0.6}
        return {"name": "m", "ligand_only": False, "target": target, "actives": 1, "decoys": 2, "records": 3,
                "read_errors": 0, "poses": "template", "activity": {"roc_auc": m}, "affinity_head": {"roc_auc": m}}
    monkeypatch.setattr(ev, "evaluate_dude_template", fake)
    assert main(["evaluate", "--model", "m.pt", "--set", "dude:inha", "--poses", "template", "--max-decoys", "600",
                 "--seed", "3", "--workers", "2", "--no-baseline"]) == 0
    assert seen == {"model": "m.pt", "target": "inha", "max_decoys": 600, "seed": 3, "workers": 2}
    assert "DUD-E inha" in capsys.readouterr().out


def screen_cache() -> dict:
    """Two screening examples per class (active/decoy) on a receptor of its own key."""
    base = tiny_cache()
    ex = []
    for k, e in enumerate(base["examples"][:4]):
        ex.append(dict(e, id=f"s{k}", target="dude:x", source="dude:template", receptor="dude:x", pK=float("nan"),
                       good=k % 2, rmsd=float("nan")))
    return {"version": agdata.CACHE_VERSION, "receptors": {"dude:x": base["receptors"]["fabp4"]}, "examples": ex,
            "errors": []}


def test_mixed_batches_take_the_screen_share_half_actives_half_decoys():
    ds = agdata.ComplexSet(agdata.merge_caches(tiny_cache(), screen_cache()))
    assert len(ds) == 12
    it = agdata.balanced_batches(ds, 8, seed=3, screen_fraction=0.25)
    for _ in range(20):
        idx = next(it)
        scr = [ds.examples[i] for i in idx if agdata.is_screen(ds.examples[i])]
        pose = [ds.examples[i] for i in idx if not agdata.is_screen(ds.examples[i])]
        assert len(scr) == 2 and sum(e["good"] for e in scr) == 1
        assert len(pose) == 6 and sum(e["good"] for e in pose) == 3
    only_pose = agdata.balanced_batches(ds, 8, seed=3)
    assert not any(agdata.is_screen(ds.examples[i]) for _ in range(10) for i in next(only_pose))
    no_decoys = dict(screen_cache(), examples=[e for e in screen_cache()["examples"] if e["good"]])
    with pytest.raises(ValueError, match="actives and decoys"):
        next(agdata.balanced_batches(agdata.ComplexSet(agdata.merge_caches(tiny_cache(), no_decoys)), 8,
                                     screen_fraction=0.5))
    with pytest.raises(ValueError, match="receptor keys"):
        agdata.merge_caches(tiny_cache(), tiny_cache())


def test_training_with_a_screen_cache_and_init_weights(tmp_path, one_thread):
    from atomgrid.evaluate import load_model
    from atomgrid.train import train
    torch.save(tiny_cache(), tmp_path / "train.pt")
    torch.save(screen_cache(), tmp_path / "screen.pt")
    common = tiny_run(tmp_path, 3)
    first = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'a'}\""]))
    init = first / "model.pt"
    cfg = load_train_config(None, common + [f"run_dir=\"{tmp_path / 'b'}\"", f"data.screen_caches=[\"{tmp_path / 'screen.pt'}\"]",
                                            "data.screen_fraction=0.5", f"train.init=\"{init}\"", "train.lr=0.0"])
    second = train(cfg)  # lr 0: the fine-tuned weights stay the initial ones
    from traincore.checkpoint import load_checkpoint
    for run in (first, second):  # an export carries the steps it was trained for (it used to say 0)
        assert load_checkpoint(run / "model.pt", kind="atomgrid")["step"] == 3
    a, _ = load_model(init)
    b, _ = load_model(second / "model.pt")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        if va.dtype.is_floating_point and "running" not in ka:
            assert torch.equal(va, vb), ka
    with pytest.raises(ValueError, match="train.init .* its net differs"):
        train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'c'}\"", "net.hidden=8", f"train.init=\"{init}\""]))
    # dropout holds no weights: a net trained without it starts one with it, and the export records the rate
    third = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'e'}\"", "net.dropout=0.5", "train.lr=0.0",
                                                    f"train.init=\"{init}\""]))
    c, meta = load_model(third / "model.pt")
    assert meta["net"]["dropout"] == 0.5 and all(torch.equal(v, c.state_dict()[k]) for k, v in a.state_dict().items()
                                                  if v.dtype.is_floating_point and "running" not in k)
    with pytest.raises(ValueError, match="needs data.screen_caches"):
        train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'd'}\"", "data.screen_fraction=0.5"]))


def test_train_fold_all_trains_every_fold_in_parallel_processes(tmp_path):
    """`atomgrid train --fold all --jobs 3`: six subprocesses (fold0..fold4, final), each keeping its fold's
    training targets only; a failing fold is named and makes the exit status 1."""
    import subprocess
    import sys

    from atomgrid.families import make_folds
    from traincore.checkpoint import load_checkpoint
    cv, fin = make_folds()
    a, b = cv[0].test[0], cv[1].test[0]  # each held out by one fold, trained on by the other five models
    scr = screen_cache()
    ex = [dict(e, target=a if k < 2 else b, id=f"{e['id']}{k}") for k, e in enumerate(scr["examples"] * 2)]
    ex = [dict(e, good=k % 2) for k, e in enumerate(ex)]
    tc = tiny_cache()  # its complexes filed under a reviewed pose/affinity protein outside every screening family
    torch.save(dict(tc, examples=[dict(e, target="uniprot:P07900") for e in tc["examples"]]), tmp_path / "train.pt")
    torch.save(dict(scr, examples=ex), tmp_path / "screen.pt")
    cfg = tmp_path / "cv.toml"
    cfg.write_text(f'name = "cvt"\nrun_dir = "{tmp_path / "cv"}"\n[data]\ntrain_cache = "{tmp_path / "train.pt"}"\n'
                   f'val_cache = ""\nscreen_caches = ["{tmp_path / "screen.pt"}"]\nscreen_fraction = 0.5\n'
                   'grid_size = 8\nresolution = 2.5\n[net]\npreset = "atomnet-c8-l2"\nstem_pool = 1\nhidden = 16\n'
                   '[train]\nsteps = 2\nwarmup = 1\nbatch_size = 4\neval_every = 2\nlog_every = 1\nthreads = 1\n')
    cmd = [sys.executable, "-m", "atomgrid", "train", "--config", str(cfg), "--fold", "all", "--jobs", "3"]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    names = [f.name for f in cv] + ["final"]
    for name in names:
        assert f"{name}: done" in r.stdout
        meta = load_checkpoint(tmp_path / "cv" / name / "model.pt", kind="atomgrid")["meta"]
        held = {f.name: f for f in cv + [fin]}[name]
        assert meta["name"] == f"cvt-{name}" and set(meta["train_targets"]) == set(held.train)
        assert "dude:fabp4" in meta["affinity_holdout"] and not set(meta["affinity_holdout"]) & set(held.train)
    log = (tmp_path / "cv" / "final" / "train.log").read_text()
    assert "pose/affinity share: 0 complexes of 0 proteins dropped" in log
    # a fold whose training targets have no screening example fails, by name, and the others still run
    torch.save(dict(scr, examples=[dict(e, target=a) for e in scr["examples"]]), tmp_path / "screen.pt")
    r = subprocess.run(cmd + ["-o", f'run_dir="{tmp_path / "cv2"}"'], capture_output=True, text=True, cwd=REPO,
                       timeout=300)
    assert r.returncode == 1 and "fold0: FAILED (exit 2)" in r.stdout and "fold(s) failed: fold0" in r.stderr
    assert "fold1: done" in r.stdout
    assert "none of data.screen_targets" in (tmp_path / "cv2" / "fold0" / "train.log").read_text()
    r = subprocess.run(cmd[:-4] + ["--jobs", "2"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2 and "--jobs: only with --fold all" in r.stderr


def test_debias_adds_the_frozen_ligand_only_logit_inside_the_loss(tmp_path, one_thread):
    """train.debias (product of experts): BCE of net + frozen ligand-only logit, the ligand-only net seeing the
    batch with receptor channels zeroed (the Gridder's own ligand-only view); the ligand-only net never moves;
    a receptor+ligand model or one trained on held-out targets is refused."""
    import torch.nn.functional as F

    from atomgrid.train import ligand_only_view, train
    torch.manual_seed(0)
    ds = agdata.ComplexSet(tiny_cache())
    g = Gridder(GridSpec(8, 2.5), "cpu")
    idx = list(range(8))
    grids, pk, good = make_batch(ds, idx, g, False)
    lig_grids, _, _ = make_batch(ds, idx, Gridder(GridSpec(8, 2.5), "cpu"), True)
    torch.testing.assert_close(ligand_only_view(grids), lig_grids)
    cfg = nets.preset("atomnet-c8-l2", stem_pool=1, hidden=16, grid_size=8)
    net, bias = nets.build(cfg), nets.build(cfg)
    for p in bias.parameters():
        p.requires_grad_(False)
    loss, m = loss_fn(0.0, bias)(net, (grids, pk, good))
    want = F.binary_cross_entropy_with_logits(net(grids)["activity"] + bias(lig_grids)["activity"], good)
    assert m["activity_bce"] == pytest.approx(float(want.detach()), rel=1e-5)
    loss0, _ = loss_fn(0.0)(net, (grids, pk, good))
    assert float(loss.detach()) != pytest.approx(float(loss0.detach()))
    loss.backward()
    assert all(p.grad is None for p in bias.parameters()) and any(p.grad is not None for p in net.parameters())
    # a training run with it: the export records the debiasing model; refusals are one-line ValueErrors
    torch.save(tiny_cache(), tmp_path / "train.pt")
    common = tiny_run(tmp_path, 3)
    lig = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'lig'}\"", "data.ligand_only=true"]))
    full = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'full'}\""]))
    run = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'deb'}\"", f"train.debias=\"{lig / 'model.pt'}\""]))
    from traincore.checkpoint import load_checkpoint
    meta = load_checkpoint(run / "model.pt", kind="atomgrid")["meta"]
    assert meta["debiased_with"]["path"] == str(lig / "model.pt") and len(meta["debiased_with"]["sha256"]) == 64
    with pytest.raises(ValueError, match="not a ligand-only model"):
        train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'x'}\"", f"train.debias=\"{full / 'model.pt'}\""]))
    with pytest.raises(ValueError, match="no such model file"):
        train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'y'}\"", f"train.debias=\"{tmp_path / 'no.pt'}\""]))
    leaky = tmp_path / "leaky.pt"
    st = load_checkpoint(lig / "model.pt", kind="atomgrid")
    st["meta"]["train_targets"] = ["ACE", "PDE5"]
    torch.save(st, leaky)
    with pytest.raises(ValueError, match="holds out: \\['PDE5'\\]"):
        train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'z'}\"", f"train.debias=\"{leaky}\"",
                                                "data.screen_targets=[\"ACE\"]", "data.screen_fraction=0.5",
                                                f"data.screen_caches=[\"{tmp_path / 'train.pt'}\"]"]))


def test_fold_pose_model_then_recipe_keep_the_held_out_proteins_out_of_the_meta_chain(tmp_path, one_thread, capsys):
    """A pose model trained with --fold drops the fold's held-out families from its pose/affinity data and says so in
    its meta; a recipe started from it keeps that claim, one started from a pose model trained on everything loses
    it (and warns), so `atomgrid crossval` can flag the targets whose family a model may have seen."""
    from atomgrid.cli import fold_config
    from atomgrid.evaluate import load_model
    from atomgrid.families import folds_of, held_out_targets
    from atomgrid.train import train
    tc = tiny_cache()
    ex = [dict(e, target="uniprot:P12821" if e["id"] in ("c0", "c1") else "uniprot:P07900") for e in tc["examples"]]
    torch.save(dict(tc, examples=ex), tmp_path / "train.pt")  # c0, c1 filed under ACE (a v34 validation family)
    scr = screen_cache()
    _, fin = folds_of("v34")
    torch.save(dict(scr, examples=[dict(e, target=fin.train[0]) for e in scr["examples"]]), tmp_path / "screen.pt")
    common = tiny_run(tmp_path, 2)
    pose = train(fold_config(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'pose'}\""]), "final",
                             validation_group="v34"))
    assert "pose/affinity share: 2 complexes of 1 proteins dropped, in the held-out groups m2_ace" in capsys.readouterr().out
    _, meta = load_model(pose / "model.pt")
    assert set(meta["affinity_holdout"]) == set(held_out_targets(fin)) and "ACE" in meta["affinity_holdout"]
    plain = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'plain'}\""]))
    assert "affinity_holdout" not in load_model(plain / "model.pt")[1]
    recipe = common + [f"data.screen_caches=[\"{tmp_path / 'screen.pt'}\"]", "data.screen_fraction=0.5"]
    clean = train(fold_config(load_train_config(None, recipe + [f"run_dir=\"{tmp_path / 'r1'}\"",
                                                                f"train.init=\"{tmp_path / 'pose'}/{{fold}}/model.pt\""]),
                              "final", validation_group="v34"))
    assert set(load_model(clean / "model.pt")[1]["affinity_holdout"]) == set(held_out_targets(fin))
    capsys.readouterr()
    leaky = train(fold_config(load_train_config(None, recipe + [f"run_dir=\"{tmp_path / 'r2'}\"",
                                                                f"train.init=\"{plain / 'model.pt'}\""]),
                              "final", validation_group="v34"))
    assert "was not trained with this fold's held-out proteins dropped" in capsys.readouterr().out
    assert load_model(leaky / "model.pt")[1]["affinity_holdout"] == []


def test_a_missing_cache_is_built_only_under_its_default_name(tmp_path):
    from atomgrid.train import DataConfig, ensure_cache
    with pytest.raises(ValueError, match="cache_train_rec.pt: no such cache; make it with `atomgrid prepare"):
        ensure_cache(str(tmp_path / "cache_train_rec.pt"), "train", DataConfig())
    assert not (tmp_path / "cache_train_rec.pt").exists()
    torch.save(tiny_cache(), tmp_path / "mine.pt")  # an existing file of any name is read as it is
    assert len(ensure_cache(str(tmp_path / "mine.pt"), "train", DataConfig())["examples"]) == 8


def test_jitter_pose_is_a_small_rigid_move_within_its_bounds():
    """atomgrid.data.jitter_pose: distances inside the ligand are kept (rigid), the centroid moves at most
    max_shift, the rotation about the centroid is at most max_degrees, types and radii are untouched; zero bounds
    give the pose back."""
    lig = tiny_cache()["examples"][0]["ligand"]
    t = agdata.TypedAtoms.from_dict(lig)
    rng = np.random.default_rng(3)
    d0 = np.linalg.norm(t.xyz[:, None] - t.xyz[None], axis=-1)
    angles, shifts = [], []
    for _ in range(200):
        j = agdata.jitter_pose(t, rng, 1.0, 15.0)
        assert np.allclose(np.linalg.norm(j.xyz[:, None] - j.xyz[None], axis=-1), d0, atol=1e-4)
        assert j.feats is t.feats and j.radii is t.radii
        shifts.append(np.linalg.norm(j.xyz.mean(0) - t.xyz.mean(0)))
        a, b = t.xyz - t.xyz.mean(0), j.xyz - j.xyz.mean(0)
        u, _, vt = np.linalg.svd(b.T @ a)  # Kabsch: the rotation taking a onto b
        r = u @ np.diag([1, 1, np.sign(np.linalg.det(u @ vt))]) @ vt
        angles.append(np.degrees(np.arccos(np.clip((np.trace(r) - 1) / 2, -1, 1))))
    assert max(shifts) <= 1.0 + 1e-4 and max(angles) <= 15.0 + 1e-2
    assert min(shifts) < 0.5 < max(shifts) > 0.8 and max(angles) > 12  # the bounds are reached, not a no-op
    same = agdata.jitter_pose(t, rng, 0.0, 0.0)
    assert np.allclose(same.xyz, t.xyz, atol=1e-5)


def test_screen_jitter_moves_only_screening_ligands_and_keeps_the_labels(one_thread, tmp_path):
    """make_batch's jitter moves the ligands of screening examples (dude*/dekois* sources) against their receptor
    and leaves pose examples (whose RMSD is their label) as they are; train's config refuses negative bounds."""
    cache = tiny_cache()
    for e in cache["examples"][:4]:
        e["source"] = "dekois:template"
    ds = agdata.ComplexSet(cache)
    idx = list(range(8))
    plain, pk, good = make_batch(ds, idx, Gridder(GridSpec(8, 2.5), "cpu"), False)
    moved, pk2, good2 = make_batch(ds, idx, Gridder(GridSpec(8, 2.5), "cpu"), False, (np.random.default_rng(0), 1.0, 15.0))
    assert torch.equal(torch.nan_to_num(pk), torch.nan_to_num(pk2))
    assert torch.equal(good, good2)
    nf = plain.shape[1] // 2
    for i in idx:
        lig_same = torch.equal(plain[i, nf:], moved[i, nf:])
        assert torch.equal(plain[i, :nf], moved[i, :nf])  # the receptor never moves
        assert lig_same == (not agdata.is_screen(cache["examples"][i])), i
    from atomgrid.train import train
    with pytest.raises(ValueError, match="data.screen_jitter must be >= 0"):
        train(load_train_config(None, ["data.screen_jitter=-1.0", f"run_dir=\"{tmp_path / 'r'}\""]))
    assert not (tmp_path / "r").exists()  # refused before anything is written


def test_screen_target_fraction_keeps_a_seeded_share_of_the_folds_targets():
    """data.screen_target_fraction (data-scaling runs): a seeded subset of the fold's screening targets, the same
    for the same seed, another for another seed; 1.0 changes nothing; a bad share or no --fold targets is refused."""
    from atomgrid.train import with_target_fraction
    targets = [f"T{k:02d}" for k in range(44)]
    base = load_train_config(None, [f"data.screen_targets={targets!r}".replace("'", '"')])
    assert with_target_fraction(base) is base
    half = load_train_config(None, [f"data.screen_targets={targets!r}".replace("'", '"'), "data.screen_target_fraction=0.5"])
    a = with_target_fraction(half).data.screen_targets
    assert len(a) == 22 and set(a) <= set(targets) and list(a) == sorted(a)
    assert with_target_fraction(half).data.screen_targets == a
    again = with_target_fraction(half)  # what the run's saved config holds: the subset, drawn once
    assert again.data.screen_target_fraction == 1.0 and with_target_fraction(again).data.screen_targets == a
    other = load_train_config(None, [f"data.screen_targets={targets!r}".replace("'", '"'), "data.screen_target_fraction=0.5",
                                     "train.seed=11"])
    assert with_target_fraction(other).data.screen_targets != a
    with pytest.raises(ValueError, match="must be in"):
        with_target_fraction(load_train_config(None, ["data.screen_target_fraction=1.5"]))
    with pytest.raises(ValueError, match="needs data.screen_targets"):
        with_target_fraction(load_train_config(None, ["data.screen_target_fraction=0.5"]))


def pair_cache() -> dict:
    """Two screening targets A and B (one receptor), each with an active and a decoy, and in A's pocket two
    cross-target decoys of source B: one is B's active m2, the other (m9) is no active of B's."""
    base = tiny_cache()
    lig = [e["ligand"] for e in base["examples"][:6]]
    rows = [("A:A0000_m1", "A", "dekois:template", 1), ("A:D0000_d1", "A", "dekois:template", 0),
            ("B:A0003_m2", "B", "dekois:template", 1), ("B:D0000_d2", "B", "dekois:template", 0),
            ("A:Y0000_B__m2", "A", agdata.CROSS_DECOY_SOURCE + "B", 0),
            ("A:Y0001_B__m9", "A", agdata.CROSS_DECOY_SOURCE + "B", 0)]
    ex = [dict(base["examples"][0], id=i, target=t, source=s, receptor="r", ligand=l, pK=float("nan"), good=g,
               rmsd=float("nan")) for (i, t, s, g), l in zip(rows, lig)]
    return {"version": agdata.CACHE_VERSION, "receptors": {"r": base["receptors"]["fabp4"]}, "examples": ex,
            "errors": []}


def test_cross_decoy_pairs_match_the_same_molecule_as_its_sources_active():
    assert [agdata.molecule_name(i) for i in ("BRAF:A0012_BDB5001", "dude:fak1:D0003_ZINC12", "A:Y0007_PNP__BDB9",
                                              "A0001_m_x", "X0002_z")] == ["BDB5001", "ZINC12", "BDB9", "m_x", "X0002_z"]
    ds = agdata.ComplexSet(pair_cache())
    pairs, missing = agdata.cross_decoy_pairs(ds.examples)
    assert pairs.tolist() == [[4, 2]] and missing == 1  # A's decoy m2 with B's active m2; m9 has no partner
    it = agdata.balanced_batches(ds, 4, seed=0, screen_fraction=1.0, pairs=pairs, pairs_per_batch=2)
    for _ in range(30):
        b = next(it)
        assert len(b) == 8 and b[4:] == [4, 2, 4, 2]
        assert 4 not in b[:4] and sum(ds.examples[i]["good"] for i in b[:4]) == 2  # paired decoys only in pairs
    # with a pose share beside it, a paired decoy is in neither pool (it is a screening example, not a bad pose)
    mixed = agdata.ComplexSet(agdata.merge_caches(tiny_cache(), pair_cache()))
    mp, _ = agdata.cross_decoy_pairs(mixed.examples)
    it2 = agdata.balanced_batches(mixed, 8, seed=0, screen_fraction=0.5, pairs=mp, pairs_per_batch=1)
    heads = [next(it2) for _ in range(200)]
    assert all(b[8:] == mp[0].tolist() and mp[0, 0] not in b[:8] for b in heads)
    assert all(sum(agdata.is_screen(mixed.examples[i]) for i in b[:8]) == 4 for b in heads)
    # the unpaired cross-target decoy (5) stays an ordinary decoy; without pairs both are
    assert 5 in {i for _ in range(40) for i in next(it)[:4]}
    plain = agdata.balanced_batches(ds, 4, seed=0, screen_fraction=1.0)
    assert {4, 5} <= {i for _ in range(60) for i in next(plain)}
    with pytest.raises(ValueError, match="needs pairs"):
        next(agdata.balanced_batches(ds, 4, screen_fraction=1.0, pairs=pairs[:0], pairs_per_batch=1))


def test_pair_loss_ranks_the_own_pocket_pose_and_stays_out_of_bce(one_thread, tmp_path):
    import torch.nn.functional as F
    torch.manual_seed(0)
    ds = agdata.ComplexSet(pair_cache())
    g = Gridder(GridSpec(8, 2.5), "cpu")
    grids, pk, good = make_batch(ds, [0, 1, 2, 3, 4, 2, 5, 0], g, False)
    net = nets.build(nets.preset("atomnet-c8-l2", stem_pool=1, hidden=16, grid_size=8))
    net.eval()  # batch norm in eval mode: the same logits whatever else is in the batch
    loss, m = loss_fn(0.5, pairs=2, pair_weight=0.7)(net, (grids, pk, good))
    base, _ = loss_fn(0.5)(net, (grids[:4], pk[:4], good[:4]))
    logit = net(grids)["activity"].float()
    rank = F.softplus(logit[[4, 6]] - logit[[5, 7]]).mean()
    assert float(loss.detach()) == pytest.approx(float((base + 0.7 * rank).detach()), rel=1e-5)
    assert m["pair_rank"] == pytest.approx(float(rank.detach()), rel=1e-5)
    assert m["pair_acc"] == float((logit[[5, 7]] > logit[[4, 6]]).float().mean())
    # a run with it: the pairing is reported; a negative count is a one-line error
    from atomgrid.train import train
    torch.save(tiny_cache(), tmp_path / "train.pt")
    torch.save(pair_cache(), tmp_path / "screen.pt")
    common = tiny_run(tmp_path, 2, f"data.screen_caches=[\"{tmp_path / 'screen.pt'}\"]", "data.screen_fraction=0.5")
    run = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'p'}\"", "data.cross_decoy_pairs=2"]))
    log = (run / "metrics.jsonl").read_text()
    assert "pair_rank" in log and "pair_acc" in log
    with pytest.raises(ValueError, match="data.cross_decoy_pairs and train.pair_weight must be >= 0"):
        train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'q'}\"", "data.cross_decoy_pairs=-1"]))


def test_resume_finishes_the_model_an_uninterrupted_run_gives(tmp_path, one_thread):
    """A run stopped after a checkpoint and resumed (--resume) ends with the very weights of an uninterrupted run:
    optimizer, schedule, the batch stream, the gridder's rotations, the screening jitter and dropout all continue
    where they were; metrics logged past the checkpoint are not doubled; another config is refused."""
    import json

    from atomgrid.evaluate import load_model
    from atomgrid.train import train
    torch.save(tiny_cache(), tmp_path / "train.pt")
    torch.save(screen_cache(), tmp_path / "screen.pt")
    common = ["net.preset=\"atomnet-c8-l2\"", "net.stem_pool=1", "net.hidden=16", "net.dropout=0.3", "data.grid_size=8",
              "data.resolution=2.5", f"data.train_cache=\"{tmp_path / 'train.pt'}\"", "data.val_cache=\"\"",
              f"data.screen_caches=[\"{tmp_path / 'screen.pt'}\"]", "data.screen_fraction=0.5", "data.screen_jitter=0.5",
              "train.steps=7", "train.warmup=2", "train.batch_size=4", "train.eval_every=2", "train.log_every=1",
              "train.threads=1"]
    whole = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'a'}\""]))
    cut = tmp_path / "b"
    train(load_train_config(None, common + [f"run_dir=\"{cut}\"", "train.stop_after=5"]))  # last checkpoint: step 4
    with pytest.raises(ValueError, match=r"--resume: .*ckpt_000000004.pt was written with another config: train.lr"):
        train(load_train_config(None, common + [f"run_dir=\"{cut}\"", "train.lr=0.01"]), resume=True)
    resumed = train(load_train_config(None, common + [f"run_dir=\"{cut}\"", "train.threads=2"]), resume=True)
    a, _ = load_model(whole / "model.pt")
    b, _ = load_model(resumed / "model.pt")
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k
    steps = lambda run: [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    assert steps(resumed) == steps(whole)
    assert json.loads((resumed / "summary.json").read_text())["resumed_from_step"] == 4
    fresh = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'c'}\""]), resume=True)  # none: step 0
    assert all(torch.equal(v, load_model(fresh / "model.pt")[0].state_dict()[k]) for k, v in a.state_dict().items())


def series_cache() -> dict:
    """tiny_cache's four ligands (pK 8.5, 4.0, 7.0, 5.0, good poses at 0, 2, 4, 6) as one FEP series in one pocket,
    their perturbed poses as 'fep:perturbed', plus a one-ligand series and a ligand without a pK in a second one."""
    c = tiny_cache()
    ex = [dict(e, target="fep:g/s1", source="fep" if e["good"] else "fep:perturbed") for e in c["examples"]]
    ex.append(dict(ex[0], id="x1", target="fep:g/s2", pK=1.0))  # alone in its series: pairs with nothing
    ex.append(dict(ex[0], id="x2", target="fep:g/s3", pK=float("nan")))
    ex.append(dict(ex[2], id="x3", target="fep:g/s3"))
    return dict(c, examples=ex)


def test_series_pairs_order_each_series_by_measured_pk():
    ex = series_cache()["examples"]
    assert agdata.series_pairs(ex, 1.0).tolist() == [[2, 0], [2, 4], [2, 6], [4, 0], [6, 0], [6, 4]]
    assert agdata.series_pairs(ex, 1.5).tolist() == [[2, 0], [2, 4], [4, 0], [6, 0], [6, 4]]  # 4.0 -> 5.0 out
    assert agdata.series_pairs(ex, 2.0).tolist() == [[2, 0], [2, 4], [6, 0], [6, 4]]
    assert agdata.series_pairs(ex, 5.0).shape == (0, 2)
    # the same ligands as screening examples or in another receptor never pair
    moved = [dict(e, receptor="other") if i == 0 else e for i, e in enumerate(ex)]
    assert agdata.series_pairs(moved, 1.0).tolist() == [[2, 4], [2, 6], [6, 4]]
    with pytest.raises(ValueError, match="min_gap must be > 0"):
        agdata.series_pairs(ex, 0.0)


def test_series_pairs_keep_their_ligands_in_the_pose_pools():
    ds = agdata.ComplexSet(series_cache())
    pairs = agdata.series_pairs(ds.examples, 1.0)
    it = agdata.balanced_batches(ds, 4, seed=0, pairs=pairs, pairs_per_batch=2, hide_paired=False)
    seen = set()
    for _ in range(60):
        b = next(it)
        assert len(b) == 8 and all(ds.examples[a]["pK"] < ds.examples[s]["pK"] for a, s in zip(b[4::2], b[5::2]))
        seen |= set(b[:4])
    assert {0, 2, 4, 6} <= seen  # paired ligands are drawn as ordinary good poses too
    hidden = agdata.balanced_batches(ds, 4, seed=0, pairs=pairs, pairs_per_batch=2)
    assert not {2, 4, 6} & {i for _ in range(60) for i in next(hidden)[:4]}  # the cross-decoy default hides firsts


def test_training_with_series_pairs_and_its_bad_settings(one_thread, tmp_path):
    from atomgrid.train import train
    torch.save(series_cache(), tmp_path / "train.pt")
    common = tiny_run(tmp_path, 2)
    run = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'p'}\"", "data.series_pairs=2"]))
    assert "pair_rank" in (run / "metrics.jsonl").read_text()
    for bad, msg in ((["data.series_pairs=-1"], "data.series_pairs must be >= 0"),
                     (["data.series_pairs=1", "data.series_min_gap=0"], "data.series_min_gap > 0"),
                     (["data.series_pairs=1", "data.cross_decoy_pairs=1"], "use one kind of ranking pairs"),
                     (["data.series_pairs=1", "data.target_pairs=1"], "use one kind of ranking pairs"),
                     (["data.series_pairs=1", "data.series_min_gap=9"], "no two FEP ligands of one series")):
        with pytest.raises(ValueError, match=msg):
            train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'q'}\"", *bad]))


def test_target_pairs_put_each_targets_active_above_its_own_decoys():
    ex = pair_cache()["examples"]  # A: active 0, decoy 1, cross-target decoys 4 and 5 (source B); B: active 2, decoy 3
    pairs = agdata.target_pairs(ex, per_target=50, seed=0)
    assert pairs.shape == (100, 2)
    assert pairs[:50].tolist() == [[1, 0]] * 50 and pairs[50:].tolist() == [[3, 2]] * 50  # sorted by target, equal
    # another receptor is another pocket; pose examples never pair; the seed draws the same pairs again
    two = [dict(e, receptor="r2") if e["id"] == "A:D0000_d1" else e for e in ex]
    two.append(dict(ex[1], id="A:D0001_d3"))  # a second decoy of A in receptor r
    got = agdata.target_pairs(two + tiny_cache()["examples"], per_target=40, seed=1)
    assert {tuple(p) for p in got[:40].tolist()} == {(6, 0)} and got.shape == (80, 2)  # A in r2 has no active
    assert np.array_equal(got, agdata.target_pairs(two + tiny_cache()["examples"], per_target=40, seed=1))
    many = ex + [dict(ex[1], id=f"A:D01{k:02d}_x") for k in range(8)] + [dict(ex[0], id="A:A0099_y")]
    drawn = agdata.target_pairs(many, per_target=400, seed=2)[:400]
    assert len({tuple(p) for p in drawn.tolist()}) == 18  # every (decoy, active) of A's 9 x 2 is drawn
    assert all(many[d]["good"] == 0 and many[a]["good"] == 1 for d, a in drawn)
    assert agdata.target_pairs([e for e in ex if e["good"]]).shape == (0, 2)
    with pytest.raises(ValueError, match="per_target must be >= 1"):
        agdata.target_pairs(ex, per_target=0)


def test_training_with_target_pairs_and_its_bad_settings(one_thread, tmp_path, capsys):
    from atomgrid.train import train
    torch.save(tiny_cache(), tmp_path / "train.pt")
    torch.save(pair_cache(), tmp_path / "screen.pt")
    common = tiny_run(tmp_path, 2, f"data.screen_caches=[\"{tmp_path / 'screen.pt'}\"]", "data.screen_fraction=0.5")
    run = train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'p'}\"", "data.target_pairs=2",
                                                  "data.target_pairs_per_target=10"]))
    assert "same-target ranking: 20 (decoy, active) pairs of 2 screening targets" in capsys.readouterr().out
    assert "pair_rank" in (run / "metrics.jsonl").read_text()
    no_decoys = dict(pair_cache(), examples=[e for e in pair_cache()["examples"] if e["good"] or "Y" in e["id"]])
    torch.save(no_decoys, tmp_path / "screen2.pt")
    for bad, msg in ((["data.target_pairs=-1"], "data.target_pairs must be >= 0"),
                     (["data.target_pairs=1", "data.target_pairs_per_target=0"], "target_pairs_per_target >= 1"),
                     (["data.target_pairs=1", "data.cross_decoy_pairs=1"], "use one kind of ranking pairs"),
                     (["data.target_pairs=1", f"data.screen_caches=[\"{tmp_path / 'screen2.pt'}\"]"],
                      "has both an active and a decoy")):
        with pytest.raises(ValueError, match=msg):
            train(load_train_config(None, common + [f"run_dir=\"{tmp_path / 'q'}\"", *bad]))


def test_resume_reads_a_key_added_since_the_checkpoint_as_its_default():
    """A checkpoint written before a config key existed resumes when the key is at its default (the behaviour the
    run had) and is refused when the key now asks for something else."""
    import dataclasses

    from atomgrid.train import AtomgridConfig, check_resumable
    from traincore.config import config_to_dict
    cfg = AtomgridConfig()
    old = config_to_dict(cfg)
    del old["data"]["target_pairs"], old["data"]["target_pairs_per_target"]
    check_resumable(old, config_to_dict(cfg), "ckpt.pt")  # no error
    now = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, target_pairs=2))
    with pytest.raises(ValueError, match=r"ckpt.pt was written with another config: data.target_pairs = 0 there, 2 now"):
        check_resumable(old, config_to_dict(now), "ckpt.pt")
    with pytest.raises(ValueError, match=r"data.steps_gone = 5 there, None now"):  # a key since removed still counts
        check_resumable(dict(old, data=dict(old["data"], steps_gone=5)), config_to_dict(cfg), "ckpt.pt")
