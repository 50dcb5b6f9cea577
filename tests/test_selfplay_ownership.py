"""Self-play ownership targets (KataGo's auxiliary target): the final Tromp-Taylor owner of every point,
from the board to the worker's samples, the replay buffer, the symmetry and the learner's loss."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.games import make_game
from boardnet.search import SearchConfig
from selfplay.config import Config, SelfPlaySettings
from selfplay.learner import augment, ownership_loss_per_sample, policy_value_loss
from selfplay.replay import ReplayBuffer, Samples
from selfplay.worker import SelfPlayWorker
from traincore.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _board(game, rows: list[str], to_play: str = "b"):
    n = len(rows)
    return game.state_from_text(f"{n} {game.komi!r} {to_play} {'/'.join(rows)}")


def test_area_ownership_golden_board():
    game = make_game("go", board_size=5, komi=0.5)
    s = _board(game, [".x.o.",
                      "xx.oo",
                      "..xo.",
                      "xxo..",
                      ".xo.o"])
    own = s.area_ownership()
    want = np.array([[1, 1, 0, -1, -1],
                     [1, 1, 0, -1, -1],
                     [1, 1, 1, -1, -1],
                     [1, 1, -1, -1, -1],
                     [1, 1, -1, -1, -1]], dtype=np.int8)
    assert own.dtype == np.int8 and np.array_equal(own, want)
    # the owner count is the Tromp-Taylor score before komi
    assert own.sum() == pytest.approx(s.score() + game.komi)
    # an empty board: one region touching no stone belongs to nobody
    assert not make_game("go", board_size=5).initial_state().area_ownership().any()


class _UniformEvaluator:
    def __init__(self, game):
        self.game = game

    def evaluate(self, states):
        pri = np.stack([s.legal_mask().astype(np.float32) for s in states])
        return pri / pri.sum(1, keepdims=True), np.zeros(len(states), np.float32)

    def set_weights(self, sd):
        pass


def test_worker_ownership_targets_are_the_final_board_from_the_movers_view():
    game = make_game("go", board_size=5, komi=0.5)
    st = SelfPlaySettings(games_per_worker=6, temperature_moves=100, resign_threshold=-2.0)
    w = SelfPlayWorker(game, _UniformEvaluator(game), st, SearchConfig(num_simulations=4), seed=3, ownership=True)
    res = w.play(2 * 25 + 1)   # the move cap (2 N^2 plies) ends every game
    assert res.games
    s = res.samples
    assert s.own.shape == (len(s), 5, 5) and s.own.dtype == np.int8 and (s.own_mask == 1).all()
    i = 0
    for g in res.games:
        state = game.initial_state()
        for a in g.actions:
            state = state.apply(a)
        final = state.area_ownership()
        assert state.is_terminal() and final.any()
        state = game.initial_state()
        for a in g.actions:
            want = final if state.to_play() == 0 else -final
            assert np.array_equal(s.own[i], want)
            state = state.apply(a)
            i += 1
    # a game that is resigned leaves no ownership target (mask 0)
    st = SelfPlaySettings(games_per_worker=4, resign_threshold=0.5, resign_min_ply=2, resign_disabled_frac=0.0)
    w = SelfPlayWorker(game, _UniformEvaluator(game), st, SearchConfig(num_simulations=2), seed=0, ownership=True)
    res = w.play(3)
    assert res.games and all(g.resigned for g in res.games)
    assert (res.samples.own_mask == 0).all() and not res.samples.own.any()


def test_worker_refuses_ownership_for_games_without_a_board_owner():
    game = make_game("tictactoe")
    with pytest.raises(ValueError, match="Go only"):
        SelfPlayWorker(game, _UniformEvaluator(game), SelfPlaySettings(), SearchConfig(num_simulations=2),
                       ownership=True)


def _own_samples(n, start=0):
    rng = np.random.default_rng(start)
    pol = rng.random((n, 26)).astype(np.float32)
    return Samples(rng.integers(0, 2, (n, 4, 5, 5)).astype(np.float16), pol / pol.sum(1, keepdims=True),
                   rng.choice([-1.0, 1.0], n).astype(np.float32), rng.random(n).astype(np.float32),
                   np.arange(start, start + n, dtype=np.int64), rng.integers(-1, 2, (n, 5, 5)).astype(np.int8),
                   rng.integers(0, 2, n).astype(np.float32))


def test_replay_keeps_ownership_with_its_sample_and_round_trips():
    buf = ReplayBuffer((4, 5, 5), 26, max_size=40, min_size=10, ownership=True)
    src = _own_samples(70)
    buf.add(src, games=5)
    got = buf.sample(64, np.random.default_rng(0))
    for k, i in enumerate(got.ids):
        assert np.array_equal(got.own[k], src.own[i]) and got.own_mask[k] == src.own_mask[i]
    other = ReplayBuffer((4, 5, 5), 26, max_size=40, min_size=10, ownership=True)
    other.load_state_dict(buf.state_dict())
    assert np.array_equal(other.own, buf.own) and np.array_equal(other.own_mask, buf.own_mask)
    plain = ReplayBuffer((4, 5, 5), 26, max_size=40, min_size=10)
    plain.add(src)                                  # a run without the head ignores the targets
    assert plain.sample(4, np.random.default_rng(0)).own is None
    with pytest.raises(ValueError, match="no ownership targets"):
        ReplayBuffer((4, 5, 5), 26, max_size=40, ownership=True).load_state_dict(plain.state_dict())
    with pytest.raises(ValueError, match="carry no ownership"):
        buf.add(Samples(*(getattr(src, f) for f in ("planes", "policy", "value", "q", "ids"))))
    with pytest.raises(ValueError, match="some parts"):
        Samples.concat([src, plain.sample(2, np.random.default_rng(0))])


def test_augment_moves_ownership_with_the_stones():
    game = make_game("go", board_size=5)
    s = _board(game, ["xx...", "x....", ".....", ".....", "....o"], "w")
    planes = np.repeat(s.planes()[None], 16, 0)
    own = np.repeat(s.planes()[1][None].astype(np.int8), 16, 0)   # "opponent stones" plane as the target
    pol = np.zeros((16, 26), np.float32)
    pol[:, 25] = 1.0
    p, pi, o = augment(game, planes, pol, np.random.default_rng(0), own)
    assert o.dtype == np.int8 and np.array_equal(o, p[:, 1].astype(np.int8))
    assert len({o[k].tobytes() for k in range(16)}) > 1 and (pi[:, 25] == 1).all()


def test_policy_value_loss_adds_the_masked_ownership_term():
    pi = torch.tensor([[0.5, 0.5], [0.5, 0.5]])
    own_logits = torch.zeros(2, 3, 3)

    class Net(torch.nn.Module):
        def forward(self, x, ownership=False):
            out = (torch.log(pi), torch.tensor([1.0, -1.0]))
            return out + (own_logits,) if ownership else out
    z, q = torch.tensor([1.0, -1.0]), torch.zeros(2)
    own = torch.ones(2, 3, 3, dtype=torch.int8)
    base, m0 = policy_value_loss(Net(), (None, pi, z, q))
    loss, m = policy_value_loss(Net(), (None, pi, z, q, own, torch.tensor([1.0, 0.0])), ownership_weight=2.0)
    # zero logits: P(own) = 1/2 on every point, cross-entropy ln 2 against a target of 1
    assert m["ownership_loss"] == pytest.approx(np.log(2), abs=1e-6)
    assert loss.item() == pytest.approx(base.item() + 2.0 * np.log(2), abs=1e-5)
    assert ownership_loss_per_sample(own_logits, own).tolist() == pytest.approx([np.log(2)] * 2, abs=1e-6)


def test_go_run_trains_the_ownership_head(tmp_path):
    """A tiny go9 run with net.ownership: the samples carry targets, the learner logs the term, and a
    resumed run keeps them in its replay buffer."""
    import json

    from selfplay.run import Trainer
    cfg = load_config(Config, ROOT / "configs" / "test" / "go9_tiny.toml",
                      [f"run.out_dir={tmp_path}", "run.name=r", "net.ownership=true", "selfplay.max_plies=1000"])
    s = Trainer(cfg, progress=False).run()
    assert s.steps == 6
    rows = [json.loads(x) for x in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    own = [r["ownership_loss"] for r in rows if r.get("tag") == "train" and "ownership_loss" in r]
    assert own and all(0.0 < v < 5.0 for v in own)
    t = Trainer(load_config(Config, tmp_path / "r" / "config.toml", ["train.total_steps=8"]), run_dir=tmp_path / "r",
                resume=True, progress=False)
    assert t.buffer.ownership and t.buffer.own_mask[:t.buffer.total_added].sum() > 0
