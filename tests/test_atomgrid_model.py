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


def test_predict_shared_gives_each_model_what_predict_gives_it_alone_and_grids_once():
    """Models that read the same grids share each batch's grids (one gridding per batch and orientation for the
    group, a ligand-only model reading them with the receptor channels zeroed); every model's activity and pK are
    bit-for-bit what predict gives it alone, also for a model on another grid, a ligand-only model alone and a
    random (augmenting) gridder, which is never shared."""
    import torch

    from atomgrid import nets
    from atomgrid.featurize import Gridder
    from atomgrid.grid import GridSpec
    from atomgrid.models import predict, predict_shared

    class Counting(Gridder):
        calls = 0

        def __call__(self, *a, **k):
            Counting.calls += 1
            return super().__call__(*a, **k)

    def net(seed, size):
        torch.manual_seed(seed)
        return nets.build(nets.NetConfig(arch="atomnet", width=4, depth=1, stem_pool=1, hidden=8, grid_size=size)).eval()

    rec = io.read_receptor(FIX / "fabp4_receptor.pdb")
    lig = type_ligand(io.read_ligand(FIX / "fabp4_crystal_ligand.mol2"))
    tr = type_receptor(rec, io.autobox(lig.xyz, 4.0), margin=20.0)
    items = [(tr, lig, lig.centroid() + np.float32(d)) for d in (0.0, 0.5, -0.5, 1.0, 0.25)]
    g8, g8b, g6 = Counting(GridSpec(8, 2.0)), Counting(GridSpec(8, 2.0)), Counting(GridSpec(6, 2.0))
    rnd = Counting(GridSpec(8, 2.0), rotate=True, seed=3)
    g10 = Counting(GridSpec(10, 2.0))
    a, b, c, d, e, f = net(0, 8), net(1, 8), net(2, 6), net(3, 8), net(4, 8), net(5, 10)
    jobs = [(a, g8, False), (b, g8b, False), (c, g6, False), (d, g8, True), (e, rnd, False), (f, g10, True)]
    Counting.calls = 0
    shared = predict_shared(jobs, items, batch_size=2, rotations=3)
    # 3 batches x 3 orientations: once for a, b and the ligand-only d (receptor channels zeroed) together, once
    # each for c, the random e and f (ligand-only alone: ligand-only grids)
    assert Counting.calls == 4 * 9
    for (m, g, lo), (act, pk) in zip(jobs, shared):
        if g is rnd:
            g = Counting(GridSpec(8, 2.0), rotate=True, seed=3)  # the same draws from a fresh gridder
        alone = predict(m, g, items, lo, batch_size=2, rotations=3)
        assert np.array_equal(act, alone[0]) and np.array_equal(pk, alone[1])
    assert not np.array_equal(shared[0][1], shared[1][1])  # two models, two answers
