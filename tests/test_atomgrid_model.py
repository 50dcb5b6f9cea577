"""The model shipped in the package loads, declares its typing scheme and grid, and scores a complex."""
from pathlib import Path

import numpy as np
import pytest

import atomgrid
from atomgrid import io
from atomgrid.evaluate import load_model, score
from atomgrid.featurize import type_ligand, type_receptor

FIX = Path(__file__).parent / "data" / "atomgrid"


@pytest.mark.parametrize("name", [atomgrid.DEFAULT_MODEL, atomgrid.LIGAND_ONLY_MODEL, atomgrid.POSE_MODEL,
                                  atomgrid.POSE_LIGAND_ONLY_MODEL])
def test_shipped_model_loads_scores_and_has_a_card(name):
    path = atomgrid.model_path(name)
    assert path.stat().st_size < 5_000_000
    card = path.with_suffix(".md").read_text()
    for section in ("Data", "Split", "Metrics", "Compute"):
        assert f"## {section}" in card
    model, meta = load_model(path)
    assert meta["typing"]["name"] == "agtypes-v1" and len(meta["typing"]["channels"]) == 28
    assert meta["ligand_only"] == name.endswith("ligonly")
    rec = io.read_receptor(FIX / "fabp4_receptor.pdb")
    lig = type_ligand(io.read_ligand(FIX / "fabp4_crystal_ligand.mol2"))
    tr = type_receptor(rec, io.autobox(lig.xyz, 4.0), margin=20.0)
    act, aff = score(model, meta, [(tr, lig, lig.centroid())] * 2)
    assert act.shape == (2,) and np.all((act > 0) & (act < 1)) and np.all(np.isfinite(aff))
    assert act[0] == pytest.approx(act[1], abs=1e-6)  # no augmentation at scoring time


def test_unknown_model_name_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="no shipped atomgrid model 'nope'"):
        atomgrid.model_path("nope")


def test_default_scoring_model_is_the_screening_model():
    from atomgrid.score import resolve_model
    assert resolve_model(None) == atomgrid.model_path(atomgrid.DEFAULT_MODEL)
    _, meta = load_model(resolve_model(None))
    assert not meta["ligand_only"] and meta["name"] == atomgrid.DEFAULT_MODEL
