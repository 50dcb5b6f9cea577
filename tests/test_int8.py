"""int8 quantized inference (`--precision int8`): where it is allowed, that trainers refuse it, and that a
quantized shipped net plays the moves its fp32 net plays and keeps its values."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from traincore import quant
from traincore.runtime import Runtime

needs_int8 = pytest.mark.skipif(quant.int8_unavailable_reason() is not None,
                                reason=f"int8 unavailable here: {quant.int8_unavailable_reason()}")


def test_int8_is_refused_where_it_cannot_run_fast(monkeypatch):
    monkeypatch.setattr(quant, "int8_unavailable_reason", lambda: "this CPU has no VNNI int8 dot-product unit")
    with pytest.raises(ValueError, match="precision 'int8': this CPU has no VNNI"):
        Runtime.create("cpu", precision="int8")
    with pytest.raises(ValueError, match="expected one of auto, fp32, bf16, int8"):
        Runtime.create("cpu", precision="int4")


@needs_int8
def test_int8_runtime_is_inference_only():
    from traincore.loop import fit
    rt = Runtime.create("cpu", precision="int8")
    assert rt.int8 and rt.precision == "int8" and rt.autocast_dtype is None and "int8" in rt.describe()
    net = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="'int8' is for inference"):
        fit(net, lambda m, b: (m(b).sum(), {}), [torch.ones(1, 2)], opt, runtime=rt, steps=1)


def test_auto_picks_int8_for_search_engines_only_where_vnni_runs(monkeypatch):
    """`auto` for an engine (inference=True) is int8 on a CPU with VNNI; training runtimes, CUDA and CPUs
    without VNNI keep the bf16/fp32 rule; an explicit precision is never overridden."""
    monkeypatch.setattr(quant, "int8_unavailable_reason", lambda: None)
    monkeypatch.setattr(quant, "cpu_int8_unit", lambda: "AVX512-VNNI")
    rt = Runtime.create("cpu", precision="auto", inference=True)
    assert rt.int8 and rt.requested == "auto" and "AVX512-VNNI" in rt.describe()
    assert not Runtime.create("cpu", precision="auto").int8                  # trainers, atomgrid, actors
    for p in ("fp32", "bf16"):
        if p == "bf16" and Runtime.create("cpu").precision != "bf16":
            continue                                                          # no bf16 unit on this CPU
        assert Runtime.create("cpu", precision=p, inference=True).precision == p
    monkeypatch.setattr(quant, "int8_unavailable_reason", lambda: "this CPU has no VNNI int8 dot-product unit")
    rt = Runtime.create("cpu", precision="auto", inference=True)
    assert not rt.int8 and rt.precision in ("fp32", "bf16")


@needs_int8
def test_engine_default_precision_is_int8_here_but_not_for_the_raw_policy():
    from boardnet.engine import Engine
    from boardnet.games import make_game
    from boardnet.players import make_player
    e = Engine.from_checkpoint("go9", device="cpu")
    assert e.runtime.int8 and e.runtime.requested == "auto"
    s = e.game.initial_state()
    assert s.legal_mask()[e.analyse(s, visits=24).best_action]
    assert not Engine.from_checkpoint("go9", device="cpu", auto_int8=False).runtime.int8
    game = make_game("go", board_size=9, komi=7.0)
    for spec, int8 in (("policy:model=go9", False), ("engine:model=go9,visits=8", True)):
        p = make_player(spec, game)
        try:
            assert p.engine.runtime.int8 == int8, spec
        finally:
            p.close()


class _Untraceable(torch.nn.Module):
    """A policy/value net FX cannot trace (data-dependent control flow)."""
    def __init__(self, n):
        super().__init__()
        self.fc = torch.nn.Linear(4 * 9 * 9, n)

    def forward(self, x, ownership: bool = False):
        if x.sum() > 1e9:   # a Python branch on a tensor: FX tracing fails here
            x = x * 0
        y = self.fc(x[:, :4].flatten(1))
        return y, torch.tanh(y[:, 0])


@needs_int8
def test_auto_int8_falls_back_when_a_net_cannot_be_quantized():
    from boardnet.evaluator import NetEvaluator
    from boardnet.games import make_game
    game = make_game("go", board_size=9, komi=7.0)
    net = _Untraceable(game.action_size)
    ev = NetEvaluator(net, game, runtime=Runtime.create("cpu", precision="auto", inference=True))
    assert not ev.runtime.int8 and "int8 quantization of this net failed" in ev.runtime.reason
    p, v = ev.evaluate([game.initial_state()])
    assert p.shape == (1, game.action_size) and abs(p.sum() - 1) < 1e-5
    with pytest.raises(ValueError, match="precision 'int8': this net cannot be quantized"):
        NetEvaluator(net, game, runtime=Runtime.create("cpu", precision="int8"))


class _Flagged(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 2)

    def forward(self, x, double: bool = False):
        y = torch.relu(self.conv(x)).mean(dim=(2, 3))
        y = self.fc(y)
        return y * 2 if double else y


@needs_int8
def test_quantize_int8_fixes_keywords_and_tracks_fp32():
    torch.manual_seed(0)
    m = _Flagged().eval()
    cal = [torch.randn(16, 3, 5, 5) for _ in range(4)]
    q = quant.quantize_int8(m, cal, concrete_args={"double": True})
    x = torch.randn(32, 3, 5, 5)
    with torch.inference_mode():
        want, got = m(x, double=True), q(x)
    assert got.shape == want.shape
    assert (got - want).abs().max().item() < 0.05 * want.abs().max().item() + 0.02
    assert any(type(mod).__module__.startswith("torch.ao.nn.quantized") for mod in q.modules())   # int8 layers
    with pytest.raises(ValueError, match="no calibration"):
        quant.quantize_int8(m, [])


@needs_int8
def test_quantize_int8_keeps_named_heads_fp32():
    """`keep_fp32` leaves those submodules float (the rest int8); a name that is not a submodule is an error."""
    torch.manual_seed(0)
    m = _Flagged().eval()
    cal = [torch.randn(16, 3, 5, 5) for _ in range(4)]
    q = quant.quantize_int8(m, cal, concrete_args={"double": True}, keep_fp32=["fc"])
    linears = [type(mod) for mod in q.modules() if "Linear" in type(mod).__name__]
    assert linears == [torch.nn.Linear]                   # the head: torch.nn.Linear, not a quantized one
    assert any(type(mod).__module__.startswith("torch.ao.nn.quantized") for mod in q.modules())   # the conv: int8
    with pytest.raises(ValueError, match="'head' is not a submodule"):
        quant.quantize_int8(m, cal, concrete_args={"double": True}, keep_fp32=["head"])
    # the board nets' candidate (int8_net(heads_fp32=True)): the value head and a 1x1-convolution policy head stay
    # fp32, chess' 3x3 move-plane policy head is quantized; the product copy quantizes every layer
    from boardnet.evaluator import fp32_heads, int8_net
    from boardnet.games import make_game
    from boardnet.nets import build_net
    go = make_game("go9")
    net = build_net(go, "b1c8").eval()
    assert fp32_heads(net) == ["policy_conv", "policy_fc", "value_conv", "value_fc"]
    assert type(int8_net(net, go, cache=False, heads_fp32=True).m.policy_fc) is torch.nn.Linear
    assert type(int8_net(net, go, cache=False).m.policy_fc) is not torch.nn.Linear
    chess_net = build_net(make_game("chess"), "b1c8", policy_planes=73).eval()
    assert fp32_heads(chess_net) == ["value_conv", "value_fc"]


@needs_int8
def test_int8_cache_rebuilds_the_same_net_without_calibrating(tmp_path, monkeypatch):
    """The first quantization writes the int8 copy to the cache folder; the next one reads it (no calibration
    runs) and computes the same outputs bit for bit; a corrupt file is quantized again and replaced; other
    weights get another key; GRIDNETS_CACHE=off keeps nothing."""
    monkeypatch.setenv("GRIDNETS_CACHE", str(tmp_path))
    torch.manual_seed(1)
    m = _Flagged().eval()
    cal = [torch.randn(16, 3, 5, 5) for _ in range(4)]
    runs = []

    def calibrate(observing):
        runs.append(1)
        for b in cal:
            observing(b)

    key = quant.weights_key(m, "test")
    q1 = quant.quantize_int8(m, calibrate, example=cal[0], concrete_args={"double": True}, cache_key=key)
    files = list((tmp_path / "int8").glob("*.pt"))
    assert len(runs) == 1 and [f.name for f in files] == [f"{key}.pt"]
    q2 = quant.quantize_int8(m, calibrate, example=cal[0], concrete_args={"double": True}, cache_key=key)
    x = torch.randn(8, 3, 5, 5)
    with torch.inference_mode():
        assert len(runs) == 1 and torch.equal(q1(x), q2(x))
        files[0].write_bytes(b"not a torch file")
        q3 = quant.quantize_int8(m, calibrate, example=cal[0], concrete_args={"double": True}, cache_key=key)
        assert len(runs) == 2 and torch.equal(q1(x), q3(x))
    assert torch.load(files[0], weights_only=True)            # replaced by a readable file
    m2 = _Flagged().eval()
    assert quant.weights_key(m2, "test") != key and quant.weights_key(m, "other") != key
    monkeypatch.setenv("GRIDNETS_CACHE", "off")
    assert quant.int8_cache_dir() is None
    quant.quantize_int8(m2, calibrate, example=cal[0], concrete_args={"double": True},
                        cache_key=quant.weights_key(m2, "test"))
    assert len(runs) == 3 and len(list((tmp_path / "int8").glob("*.pt"))) == 1


@needs_int8
def test_engine_reads_its_int8_copy_from_the_cache(tmp_path, monkeypatch):
    from boardnet.engine import Engine
    monkeypatch.setenv("GRIDNETS_CACHE", str(tmp_path))
    a = Engine.from_checkpoint("go9", device="cpu", precision="int8")
    assert len(list((tmp_path / "int8").glob("*.pt"))) == 1
    import boardnet.evaluator as ev
    monkeypatch.setattr(ev, "calibration_positions", lambda *a, **k: pytest.fail("calibrated again"))
    b = Engine.from_checkpoint("go9", device="cpu", precision="int8")
    s = a.game.initial_state().apply(a.game.text_to_action("E5"))
    np.testing.assert_array_equal(a.evaluator.evaluate([s])[0], b.evaluator.evaluate([s])[0])


@needs_int8
@pytest.mark.parametrize("name", ["go9", "chess", "checkers"])
def test_quantized_shipped_net_agrees_with_fp32(name):
    """On 256 positions of the net's own play (a seed other than the calibration's) the int8 net picks
    the fp32 net's best move wherever fp32 has a clear one (its best two >= 0.05 apart; measured 99-100 %),
    its choice keeps ~99 % of fp32's best probability elsewhere, and its values stay close."""
    from boardnet.engine import Engine
    from boardnet.evaluator import calibration_positions
    from boardnet.nets import value_from_head
    torch.set_num_threads(1)
    fp = Engine.from_checkpoint(name, device="cpu", precision="fp32")
    q = Engine.from_checkpoint(name, device="cpu", precision="int8")
    assert q.runtime.int8 and q.evaluator._int8 is not None and fp.evaluator._int8 is None
    x = torch.from_numpy(np.concatenate(calibration_positions(fp.net, fp.game, positions=256, seed=7))[:256])
    with torch.inference_mode():
        p1, v1 = fp.net(x)
        p2, v2 = q.evaluator._int8(x)
    probs = torch.softmax(p1.float(), 1)
    top2 = probs.topk(2, 1).values
    clear = (top2[:, 0] - top2[:, 1]) >= 0.05
    same = p1.argmax(1) == p2.argmax(1)
    assert clear.sum() >= 50 and same[clear].float().mean().item() >= 0.95
    kept = probs.gather(1, p2.argmax(1)[:, None]).squeeze(1) / top2[:, 0]
    assert kept.mean().item() >= 0.97
    dv = (value_from_head(v1) - value_from_head(v2)).abs()
    # The chess net (b6c64, 118 input planes) moves most: mean |dv| 0.070 here (0.068 in
    # benchmarks/results/int8_chess_sl4.json); Go and checkers 0.013-0.026. The chess match figures are measured
    # with this int8 copy.
    assert dv.mean().item() < (0.08 if name == "chess" else 0.05) and dv.max().item() < 0.3
    # through the evaluator: legal priors summing to one, the search runs on them
    s = fp.game.initial_state()
    pri, val = q.evaluator.evaluate([s])
    assert pri[0][~s.legal_mask()].sum() == 0 and pri[0].sum() == pytest.approx(1.0, abs=1e-5)
    a = q.analyse(s, visits=32)
    assert s.legal_mask()[a.best_action] and a.nodes > 0


@needs_int8
def test_int8_evaluator_requantizes_new_weights():
    from boardnet.engine import Engine
    q = Engine.from_checkpoint("go9", device="cpu", precision="int8")
    s = q.game.initial_state()
    before = q.evaluator.evaluate([s])[1][0]
    sd = {k: v.clone() for k, v in q.net.state_dict().items()}
    last = [k for k in sd if k.startswith("value_fc") and k.endswith("bias")][-1]
    sd[last] += 3.0                                  # push the value towards +1
    q.evaluator.set_weights(sd)
    after = q.evaluator.evaluate([s])[1][0]
    assert after > before + 0.3


@needs_int8
def test_engine_player_spec_takes_int8():
    from boardnet.games import make_game
    from boardnet.players import make_player
    game = make_game("go", board_size=9, komi=7.0)
    p = make_player("engine:model=go9,precision=int8,visits=16,device=cpu", game)
    try:
        s = game.initial_state()
        p.new_game(game, s)
        assert s.legal_mask()[p.select(s, [])]
        assert p.engine.runtime.int8
    finally:
        p.close()


@needs_int8
def test_selfplay_actors_can_play_int8(tmp_path):
    """run.actor_precision = int8: the actors search on a quantized copy (rebuilt at each new set of
    weights) while the learner trains in fp32; a bad value is refused by the config."""
    from pathlib import Path

    from selfplay.config import Config
    from selfplay.run import Trainer
    from traincore.config import ConfigError, load_config
    cfg_path = Path(__file__).resolve().parents[1] / "configs" / "test" / "go9_tiny.toml"
    cfg = load_config(Config, cfg_path, [f"run.out_dir={tmp_path}", "run.name=r", "run.actor_precision=int8"])
    t = Trainer(cfg, progress=False)
    assert t.pool.worker.evaluator.runtime.int8 and not t.learner.runtime.int8
    s = t.run()
    assert s.steps == 6 and s.games >= 4
    with pytest.raises((ConfigError, ValueError), match="actor_precision"):
        load_config(Config, cfg_path, ["run.actor_precision=int4"])
