"""Gating (eval.gating): only a candidate that beats the best becomes the best; self-play and model.pt use the
best. The gate match is stubbed to a fixed score, so each test knows which way the gate must go."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from selfplay import evaluate as ev
from selfplay.config import Config
from traincore.checkpoint import load_checkpoint
from traincore.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tictactoe_tiny.toml"


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


def _copy(w: dict) -> dict:
    return {k: v.detach().cpu().clone() for k, v in w.items()}


def _run(tmp_path, monkeypatch, score: float, gating: bool = True):
    """A 20-step tic-tac-toe run evaluated at steps 10 and 20, where the candidate scores `score` against the
    best. Returns (trainer, summary, initial weights, [(version, weights)] sent to the pool)."""
    from selfplay.run import Trainer
    gate_matches = []

    def fake_match(game, a, b, n_games, seed=0, **kw):
        wins = round(score * n_games) if b.name == "best" else 0
        if b.name == "best":
            gate_matches.append(a.name)
        return ev.MatchResult(wins=wins, losses=n_games - wins)

    monkeypatch.setattr(ev, "play_match", fake_match)
    cfg = load_config(Config, TINY, [f"run.out_dir={tmp_path}", "run.name=g", "train.total_steps=20",
                                     "train.checkpoint_every=10", "eval.every_steps=10", "eval.games=20",
                                     "eval.mcts_simulations=0", "eval.vs_previous=false",
                                     f"eval.gating={'true' if gating else 'false'}", "eval.gate_score=0.55"])
    t = Trainer(cfg, progress=False)
    initial = _copy(t.learner.weights())
    sent = []
    real_set = t.pool.set_weights

    def spy(weights, version):
        sent.append((version, _copy(weights)))
        real_set(weights, version)

    t.pool.set_weights = spy
    summary = t.run()
    if gating:
        assert gate_matches == ["step10", "step20"], gate_matches   # the gate is played even without vs_previous
    return t, summary, initial, sent


def test_worse_candidate_is_neither_exported_nor_played(tmp_path, monkeypatch):
    t, summary, initial, sent = _run(tmp_path, monkeypatch, score=0.5)   # just under gate_score
    assert summary.steps == 20
    assert not _same(t.learner.weights(), initial), "the learner keeps training its candidate"
    assert [row["accepted"] for row in t.eval_history] == [False, False]
    assert t.best_step() == 0
    # the actors only ever saw the starting net, and still hold it
    assert [v for v, _ in sent] == [0] and _same(sent[0][1], initial)
    assert _same(t.pool.worker.evaluator.net.state_dict(), initial)
    # model.pt is the starting net, not the rejected candidate
    exported = load_checkpoint(summary.model_path)
    assert exported["step"] == 0 and _same(exported["model"], initial)
    # the best survives a checkpoint
    from traincore.checkpoint import CheckpointManager
    st = CheckpointManager(tmp_path / "g" / "checkpoints").load_latest()
    assert _same(st["best_model"]["model"], initial)
    # and `selfplay export RUN_DIR` exports the best too
    from selfplay.cli import main
    assert main(["export", str(tmp_path / "g"), "--out", str(tmp_path / "export.pt")]) == 0
    assert _same(load_checkpoint(tmp_path / "export.pt")["model"], initial)


def test_better_candidate_becomes_the_best(tmp_path, monkeypatch):
    t, summary, initial, sent = _run(tmp_path, monkeypatch, score=0.6)
    assert [row["accepted"] for row in t.eval_history] == [True, True]
    assert t.best_step() == 20 and [v for v, _ in sent] == [0, 10, 20]
    final = t.learner.weights()
    assert _same(sent[-1][1], final) and not _same(sent[1][1], initial)
    assert _same(t.pool.worker.evaluator.net.state_dict(), final)
    exported = load_checkpoint(summary.model_path)
    assert exported["step"] == 20 and _same(exported["model"], final)
    assert '"accepted": true' in exported["eval"]


def test_without_gating_the_latest_net_plays_and_is_exported(tmp_path, monkeypatch):
    t, summary, initial, sent = _run(tmp_path, monkeypatch, score=0.0, gating=False)
    final = t.learner.weights()
    assert [row["accepted"] for row in t.eval_history] == [True, True]
    assert [v for v, _ in sent][0] == 0 and len(sent) > 2   # every checkpoint_every // 4 steps
    exported = load_checkpoint(summary.model_path)
    assert exported["step"] == 20 and _same(exported["model"], final)


def test_gating_needs_a_match():
    with pytest.raises((ConfigError, ValueError), match="gating needs eval.games"):
        load_config(Config, TINY, ["eval.gating=true", "eval.games=0"])


def test_resume_cuts_games_txt_back_to_the_checkpoint(tmp_path):
    """A run killed after its step-10 checkpoint, having played on: the games played after the checkpoint
    are played again on resume, so games.txt must drop its copies of them."""
    from selfplay.run import Trainer
    from traincore.checkpoint import CheckpointManager
    cfg = load_config(Config, TINY, [f"run.out_dir={tmp_path}", "run.name=r", "train.total_steps=20",
                                     "train.checkpoint_every=10", "eval.games=0", "eval.every_steps=20"])
    s = Trainer(cfg, progress=False).run()
    games = tmp_path / "r" / "games.txt"
    full = games.read_text()
    assert full.count("\n") == s.games
    (tmp_path / "r" / "checkpoints" / "ckpt_000000020.pt").unlink()   # as if killed just before it
    import json
    at10 = json.loads(CheckpointManager(tmp_path / "r" / "checkpoints").load_latest()["counters"])
    assert 0 < at10["games"] < s.games and at10["games_bytes"] < len(full.encode())
    t = Trainer(load_config(Config, tmp_path / "r" / "config.toml"), run_dir=tmp_path / "r", resume=True,
                progress=False)
    cut = games.read_text()
    assert cut == full[: len(cut)] and cut.count("\n") == at10["games"] == t.counters["games"]
    s2 = t.run()
    assert s2.steps == 20 and games.read_text().count("\n") == s2.games
