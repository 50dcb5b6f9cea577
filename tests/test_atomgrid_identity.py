"""Identity by content (issue 16): models and receptors are known by the sha256 of their bytes, not by
their path, so a model retrained at the same path is never taken for the old one; model cards state
the hash of their file; exports carry their real step (see test_atomgrid_train)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from atomgrid import models, nets
from atomgrid.evaluate import template_scores_path
from atomgrid.score import ScoreError, ScoreOptions, score_library
from atomgrid.train import export_model
from atomgrid.typing import scheme_dict

DATA = Path(__file__).parent / "data" / "atomgrid_score"
REC = DATA / "pocket.pdb"
REF = DATA / "crystal_ligand.sdf"


def tiny_model(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    cfg = nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=8)
    meta = {"net": nets.net_config_dict(cfg), "grid": {"size": 8, "resolution": 2.0}, "typing": scheme_dict(),
            "ligand_only": False, "name": "test-tiny"}
    return export_model(nets.build(cfg), meta, path, step=seed)


def test_a_retrained_model_at_the_same_path_is_another_model(tmp_path):
    path = tiny_model(tmp_path / "run" / "model.pt", seed=0)
    lib = tmp_path / "lib.smi"
    lib.write_text("CCO a\n")
    first = template_scores_path(tmp_path / "work", lib, path)
    copy = tmp_path / "elsewhere.pt"
    shutil.copy(path, copy)
    assert template_scores_path(tmp_path / "work", lib, copy).name.endswith(first.name.rsplit("_", 1)[1])
    tiny_model(path, seed=1)  # retrained in place
    assert template_scores_path(tmp_path / "work", lib, path) != first


def test_resume_refuses_a_model_retrained_at_the_same_path(tmp_path):
    path = tiny_model(tmp_path / "model.pt", seed=0)
    lib = tmp_path / "lib.sdf"
    lib.write_text((DATA / "poses.sdf").read_text())
    out = tmp_path / "o.csv"

    def stop(k):
        raise KeyboardInterrupt

    kw = dict(autobox_ligand=REF, options=ScoreOptions(poses="given", chunk_size=1), progress=False)
    with pytest.raises(KeyboardInterrupt):
        score_library(REC, lib, out, model=path, on_chunk=stop, **kw)
    tiny_model(path, seed=1)
    with pytest.raises(ScoreError, match=r"model .*model\.pt \(its content changed\)"):
        score_library(REC, lib, out, model=path, resume=True, **kw)
    moved = tmp_path / "moved.pdb"  # the same receptor under another name is the same receptor
    shutil.copy(REC, moved)
    tiny_model(path, seed=0)
    s = score_library(moved, lib, out, model=path, resume=True, **kw)
    assert s["resumed_records"] == 1


@pytest.mark.parametrize("name", models.available())
def test_every_shipped_model_card_states_its_file_hash(name):
    assert models.card_sha256(name) == models.file_sha256(models.model_path(name))


def test_the_scorer_builds_the_net_once(tmp_path, monkeypatch):
    path = tiny_model(tmp_path / "m.pt", seed=0)
    built = []
    real = nets.build
    monkeypatch.setattr(nets, "build", lambda cfg: built.append(1) or real(cfg))
    lib = tmp_path / "lib.sdf"
    lib.write_text((DATA / "poses.sdf").read_text())
    score_library(REC, lib, tmp_path / "o.csv", autobox_ligand=REF, model=path,
                  options=ScoreOptions(poses="given", chunk_size=1), progress=False)
    assert len(built) == 1
