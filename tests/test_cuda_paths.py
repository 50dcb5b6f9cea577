"""CUDA paths of the shipped nets (run where a GPU is lent: ``pytest -m gpu``; skipped without CUDA).

Each shipped board net evaluates random positions on the GPU in fp32 and with ``auto`` (bf16 autocast)
and must agree with the CPU's fp32 numbers; an engine on CUDA searches and plays a legal move."""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("name", ["connect4", "go9", "checkers", "chess"])
def test_shipped_net_on_cuda_matches_cpu(name):
    from boardnet.engine import Engine
    from boardnet.evaluator import NetEvaluator
    from boardnet.games import random_states
    from traincore.runtime import Runtime
    eng = Engine.from_checkpoint(name, device="cpu", precision="fp32")
    game, net = eng.game, eng.evaluator.net
    states = random_states(game, 24, seed=3)
    p_cpu, v_cpu = NetEvaluator(net, game, runtime=Runtime.create("cpu", precision="fp32"), cache_size=0).evaluate(states)
    # fp32 on CUDA runs cuDNN's convolutions in TF32 by default (PyTorch's setting): differences up to ~5e-4
    # were seen on an H200 (2026-12-04); bf16 autocast ('auto') is looser still
    for precision, atol_p, atol_v in (("fp32", 3e-3, 3e-3), ("auto", 0.05, 0.08)):
        rt = Runtime.create("cuda", precision=precision)
        p, v = NetEvaluator(net, game, runtime=rt, cache_size=0).evaluate(states)
        assert np.all(p[~np.stack([s.legal_mask() for s in states])] == 0), precision
        np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-4)
        assert np.abs(p - p_cpu).max() < atol_p, (precision, float(np.abs(p - p_cpu).max()))
        assert np.abs(v - v_cpu).max() < atol_v, (precision, float(np.abs(v - v_cpu).max()))


def test_engine_on_cuda_plays_a_legal_move():
    from boardnet.engine import Engine
    eng = Engine.from_checkpoint("go9", device="cuda")
    assert eng.runtime.device.type == "cuda"
    s = eng.game.initial_state()
    a = eng.analyse(s, visits=64)
    assert a.total_visits >= 64 and s.legal_mask()[a.best_action]


def test_atomgrid_training_steps_on_cuda(tmp_path):
    """A few training steps of the shipped atomgrid net on CUDA (bf16 autocast) from a typed cache."""
    from atomgrid import data as agdata
    from atomgrid import nets
    from atomgrid.featurize import Gridder
    from atomgrid.grid import GridSpec
    from atomgrid.train import loss_fn, make_batch
    from traincore.loop import fit
    rng = np.random.default_rng(0)
    def atoms(n, spread):
        feats = np.eye(14, dtype=np.float32)[rng.integers(0, 8, n)]
        return agdata.TypedAtoms((rng.normal(size=(n, 3)) * spread).astype(np.float32), feats, np.full(n, 1.7, np.float32))
    rec = atoms(400, 6.0)
    ex = []
    for k in range(8):
        lig = atoms(20, 2.0)
        ex.append(agdata._example(f"c{k}", "t", "fixture", "r", lig, float(rng.uniform(4, 9)), k % 2, 0.0))
    cache = {"version": agdata.CACHE_VERSION, "receptors": {"r": rec.to_dict()}, "examples": ex, "errors": []}
    ds = agdata.ComplexSet(cache)
    from traincore.runtime import Runtime
    rt = Runtime.create("cuda")
    gridder = Gridder(GridSpec(16, 1.5), rt.device, rotate=True, translate=2.0, seed=0)
    model = rt.prepare(nets.build(nets.preset("atomnet-c16-l3", stem_pool=1, hidden=64, grid_size=16)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = (make_batch(ds, list(range(8)), gridder, False) for _ in range(5))
    state = fit(model, loss_fn(0.5), batches, opt, runtime=rt, steps=5)
    assert state.step == 5 and np.isfinite(state.last["loss"])
    assert next(model.parameters()).device.type == "cuda"
