"""Precision as one runtime choice (issue 19): the choice itself, bf16 numerics of the shipped nets,
bf16 training against fp32, and the `--precision` flag on every command.

bf16 numerics run on any CPU with oneDNN (emulated where the CPU has no bf16 unit: same arithmetic,
only slower), so these tests do not need AMX; the ones that run bf16 through the default `auto` choice
skip with a reason on a CPU without a bf16 unit.
"""
from __future__ import annotations

import io
import sys

import numpy as np
import pytest
import torch

from boardnet.games import random_states
from traincore import runtime as rtmod
from traincore.runtime import Runtime

BF16_OK = torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
needs_bf16_kernels = pytest.mark.skipif(not BF16_OK, reason="torch has no oneDNN bf16 kernels on this CPU")
needs_bf16_unit = pytest.mark.skipif(rtmod.cpu_bf16_unit() is None,
                                     reason="this CPU has no AMX or AVX512-BF16 unit, so auto picks fp32")


# -- the choice ------------------------------------------------------------------------------------

def test_auto_picks_bf16_and_channels_last_only_with_a_cpu_bf16_unit(monkeypatch):
    monkeypatch.setattr(rtmod, "cpu_bf16_unit", lambda: "AMX")
    rt = Runtime.create("cpu")
    assert rt.precision == "bf16" and rt.autocast_dtype == torch.bfloat16 and rt.channels_last
    assert "AMX" in rt.describe() and rt.metadata()["precision"] == "bf16"
    assert Runtime.create("cpu", channels_last=False).channels_last is False
    assert Runtime.create("cpu", precision="bf16").precision == "bf16"
    assert Runtime.create("cpu", precision="fp32").autocast_dtype is None
    monkeypatch.setattr(rtmod, "cpu_bf16_unit", lambda: None)
    rt = Runtime.create("cpu")
    assert rt.precision == "fp32" and rt.autocast_dtype is None and not rt.channels_last
    assert "no bf16 matrix unit" in rt.reason
    with pytest.raises(ValueError, match=r"precision 'bf16' on the CPU: this CPU has no bf16 matrix unit") as e:
        Runtime.create("cpu", precision="bf16")
    assert "\n" not in str(e.value)
    assert Runtime.create("cpu", precision="bf16", allow_emulated=True).precision == "bf16"
    with pytest.raises(ValueError, match="expected one of auto, fp32, bf16"):
        Runtime.create("cpu", precision="fp16")


def test_cpu_bf16_unit_ignores_onednn_emulation(monkeypatch):
    """oneDNN says yes to bf16 on any AVX512 CPU; only AMX or AVX512-BF16 count."""
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    assert rtmod.cpu_bf16_unit() is None
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert rtmod.cpu_bf16_unit() == "AVX512-BF16"
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert rtmod.cpu_bf16_unit() == "AMX"


@needs_bf16_kernels
def test_bf16_runtime_keeps_channels_last_and_fp32_weights():
    from boardnet.evaluator import NetEvaluator
    from boardnet.games import make_game
    from boardnet.nets import build_net, model_state, net_from_state
    rt = Runtime.create("cpu", precision="bf16", allow_emulated=True)
    game = make_game("connect4")
    torch.manual_seed(0)
    net = build_net(game, "b2c16")
    ev = NetEvaluator(net, game, runtime=rt, cache_size=0)
    conv = next(m for m in ev.net.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.dtype == torch.float32 and conv.weight.is_contiguous(memory_format=torch.channels_last)
    p, v = ev.evaluate([game.initial_state()])
    assert p.dtype == np.float32 and abs(p.sum() - 1) < 1e-5
    ev.set_weights(build_net(game, "b2c16").state_dict())   # new weights keep the layout
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    d = model_state(ev.net, "connect4")
    assert all(t.dtype != torch.bfloat16 and t.is_contiguous() for t in d["model"].values())
    net_from_state(d)   # loads anywhere
    # a 3-D net (atomgrid) keeps its layout instead of failing on channels_last
    m = rt.prepare(torch.nn.Conv3d(2, 4, 3))
    with rt.autocast():
        assert m(torch.randn(1, 2, 5, 5, 5)).dtype == torch.bfloat16


# -- numerics of the shipped nets ------------------------------------------------------------------

def _positions(game):
    return random_states(game, 100, seed=19, max_plies=40)


# measured with torch 2.13.0 (benchmarks/results/precision-*.json, "numerics"): clear-margin top-1
# agreement 1.0 on every net, mean |dv| 0.0002-0.0021, max |dv| <= 0.015; pinned with some room for
# other CPUs' accumulation order. The teacher-trained chess net (2026-12-03) has a live value head
# (values up to +-0.9 where the old one was flat at 0): bf16's 8-bit mantissa gives it mean |dv| 0.0057,
# max 0.011, hence the mean bound of 0.01.
@needs_bf16_kernels
@pytest.mark.parametrize("name", ["tictactoe", "connect4", "go9", "chess", "checkers"])
def test_shipped_net_bf16_matches_fp32(name):
    from boardnet import models
    from boardnet.evaluator import NetEvaluator
    from boardnet.games import make_game
    from boardnet.nets import net_from_state
    from traincore.checkpoint import load_checkpoint
    st = load_checkpoint(models.resolve(name), kind="boardnet")
    game = make_game(st["game"], **st.get("game_kwargs", {}))
    states = _positions(game)
    p32, v32 = NetEvaluator(net_from_state(st), game, runtime=Runtime.create("cpu", precision="fp32"),
                            cache_size=0).evaluate(states)
    p16, v16 = NetEvaluator(net_from_state(st), game, cache_size=0,
                            runtime=Runtime.create("cpu", precision="bf16", allow_emulated=True)).evaluate(states)
    top2 = np.sort(p32, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] >= 0.05
    assert clear.sum() >= 5
    assert (p32.argmax(1) == p16.argmax(1))[clear].mean() >= 0.97
    assert (p32.argmax(1) == p16.argmax(1)).mean() >= 0.9
    dv = np.abs(v32 - v16)
    assert dv.mean() <= 0.01 and dv.max() <= 0.03
    assert np.abs(p32 - p16).max() <= 0.05
    assert not np.array_equal(v32, v16)   # bf16 really ran (the check can fail)


# -- learning --------------------------------------------------------------------------------------

def _train_tiny(rt: Runtime, steps: int = 150) -> float:
    """A tiny conv net fitted to a fixed random teacher through traincore.fit; the final loss."""
    from traincore.loop import fit
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, 6, 6, generator=g)
    teacher = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.Tanh(), torch.nn.Flatten(),
                                  torch.nn.Linear(8 * 36, 1))
    torch.manual_seed(1)
    with torch.no_grad():
        y = teacher(x)[:, 0]
    torch.manual_seed(2)
    model = rt.prepare(torch.nn.Sequential(torch.nn.Conv2d(4, 16, 3, padding=1), torch.nn.ReLU(),
                                           torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.ReLU(),
                                           torch.nn.Flatten(), torch.nn.Linear(16 * 36, 1)))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    xb = rt.to_device(x)

    def loss_fn(m, batch):
        out = m(batch[0])[:, 0].float()   # fp32 loss
        loss = torch.nn.functional.mse_loss(out, batch[1])
        return loss, {"loss": loss.item()}

    fit(model, loss_fn, iter([(xb, y)] * steps), opt, runtime=rt, steps=steps)
    assert all(p.dtype == torch.float32 for p in model.parameters())   # fp32 master weights
    assert all(v.dtype == torch.float32 for s in opt.state.values() for v in s.values() if torch.is_tensor(v))
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(model(xb)[:, 0].float(), y))


@needs_bf16_kernels
def test_bf16_training_reaches_the_fp32_loss():
    l32 = _train_tiny(Runtime.create("cpu", precision="fp32"))
    l16 = _train_tiny(Runtime.create("cpu", precision="bf16", allow_emulated=True))
    # measured (torch 2.13.0, emulated bf16): fp32 0.0047, bf16 0.0038; tolerance 15% of fp32 + 0.002
    assert l32 < 0.05 and l16 < 0.05
    assert abs(l16 - l32) <= 0.15 * l32 + 2e-3


# -- the flag on every command ---------------------------------------------------------------------

def test_boardnet_commands_take_precision_fp32(capsys, monkeypatch):
    from boardnet.cli import main
    monkeypatch.setattr(sys, "stdin", io.StringIO("play b E5\ngenmove w\nquit\n"))
    assert main(["gtp", "go9", "--visits", "4", "--precision", "fp32"]) == 0
    cap = capsys.readouterr()
    assert "precision: cpu fp32 (fp32: fp32 asked for)" in cap.err
    assert main(["arena", "connect4", "--a", "engine:visits=4", "--b", "engine:visits=4,precision=fp32",
                 "--games", "2", "--precision", "fp32", "--quiet"]) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("uci\nposition startpos\ngo nodes 4\nquit\n"))
    assert main(["uci", "--precision", "fp32"]) == 0
    assert "bestmove" in capsys.readouterr().out


def test_boardnet_refuses_bf16_without_a_unit_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr(rtmod, "cpu_bf16_unit", lambda: None)
    from boardnet.cli import main
    monkeypatch.setattr(sys, "stdin", io.StringIO("genmove b\nquit\n"))
    assert main(["arena", "connect4", "--a", "engine:visits=4", "--b", "random", "--precision", "bf16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("boardnet arena: precision 'bf16' on the CPU: this CPU has no bf16 matrix unit")


def test_selfplay_precision_key_and_flag(tmp_path):
    from selfplay.cli import main
    from selfplay.config import Config
    from traincore.config import ConfigError, load_config
    cfg = load_config(Config, "configs/test/tictactoe_tiny.toml", ["run.precision=fp32"])
    assert cfg.run.precision == "fp32"
    with pytest.raises(ConfigError, match="run.precision='half'"):
        load_config(Config, "configs/test/tictactoe_tiny.toml", ["run.precision=half"])
    with pytest.raises(SystemExit):
        main(["train", "--config", "configs/test/tictactoe_tiny.toml", "--precision", "half"])


def test_selfplay_learner_records_precision_in_checkpoints(tmp_path):
    from boardnet.games import make_game
    from selfplay.config import Config
    from selfplay.learner import Learner
    from traincore.checkpoint import load_checkpoint, save_checkpoint
    from traincore.config import load_config
    cfg = load_config(Config, "configs/test/tictactoe_tiny.toml", ["run.precision=fp32"])
    game = make_game("tictactoe")
    ln = Learner(game, "tictactoe", {}, cfg, Runtime.create("cpu", precision=cfg.run.precision))
    p = save_checkpoint(tmp_path / "m.pt", ln.model_checkpoint(step=0))
    d = load_checkpoint(p, kind="boardnet")
    assert d["runtime"]["precision"] == "fp32" and d["runtime"]["requested"] == "fp32"


def test_atomgrid_precision_options():
    from atomgrid.cli import build_parser
    from atomgrid.score import ScoreError, ScoreOptions
    from atomgrid.train import TrainConfig
    assert ScoreOptions(precision="fp32").precision == "fp32"
    with pytest.raises(ScoreError, match="--precision 'half'"):
        ScoreOptions(precision="half")
    assert TrainConfig().precision == "auto"
    ap = build_parser()
    assert ap.parse_args(["train", "--config", "x.toml", "--precision", "fp32"]).precision == "fp32"
    assert ap.parse_args(["score", "--receptor", "r.pdb", "--ligands", "l.smi", "--out", "o.csv",
                          "--precision", "fp32"]).precision == "fp32"


@needs_bf16_unit
def test_auto_runs_bf16_end_to_end_on_a_bf16_cpu(capsys, monkeypatch):
    """On a bf16 CPU an engine's `auto` is int8 where VNNI runs it (the faster there), else bf16; `--precision
    bf16` runs bf16 end to end either way."""
    from boardnet.cli import main
    from traincore.quant import int8_unavailable_reason
    monkeypatch.setattr(sys, "stdin", io.StringIO("genmove b\nquit\n"))
    assert main(["gtp", "go9", "--visits", "8"]) == 0
    want = "int8 (quantized)" if int8_unavailable_reason() is None else "bf16 autocast + channels_last"
    assert want in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.StringIO("genmove b\nquit\n"))
    assert main(["gtp", "go9", "--visits", "8", "--precision", "bf16"]) == 0
    assert "bf16 autocast + channels_last (bf16: bf16 asked for" in capsys.readouterr().err
