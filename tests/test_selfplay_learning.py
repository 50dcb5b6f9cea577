"""Learning, without Ray: a fixed-seed in-process run (run.num_workers=0, LocalPool) is deterministic, so
its bar can be firm. The Ray path is checked for the same kind of result in tests/test_selfplay_ray.py."""
from __future__ import annotations

from pathlib import Path

import torch

from boardnet.evaluator import NetEvaluator
from boardnet.games import make_game
from boardnet.nets import net_from_state
from selfplay import evaluate as ev
from selfplay.config import Config
from traincore.checkpoint import load_checkpoint
from traincore.config import load_config

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tictactoe_tiny.toml"


def raw_score_vs_random(state_or_net, games: int = 200) -> float:
    """The raw policy's (argmax, no search) score against a seeded random player, colours alternating."""
    game = make_game("tictactoe")
    net = state_or_net if isinstance(state_or_net, torch.nn.Module) else net_from_state(state_or_net)
    player = ev.NetPlayer(NetEvaluator(net.eval(), game, cache_size=0), simulations=0)
    return ev.play_match(game, player, ev.random_player(7), games, seed=3, opening_plies=0).score


def _local_run(tmp_path, name: str, steps: int, seed: int = 0):
    from selfplay.run import Trainer
    cfg = load_config(Config, TINY, [f"run.out_dir={tmp_path}", f"run.name={name}", "run.num_workers=0",
                                     f"run.seed={seed}", f"train.total_steps={steps}", "train.checkpoint_every=50",
                                     f"eval.every_steps={steps}", "eval.games=0"])
    return Trainer(cfg, progress=False)


def test_local_run_is_deterministic(tmp_path):
    a = _local_run(tmp_path, "a", 20).run()
    b = _local_run(tmp_path, "b", 20).run()
    assert a.games == b.games and a.samples == b.samples
    wa, wb = load_checkpoint(a.model_path)["model"], load_checkpoint(b.model_path)["model"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert (tmp_path / "a" / "games.txt").read_text() == (tmp_path / "b" / "games.txt").read_text()


def test_tiny_run_improves_against_random(tmp_path):
    t = _local_run(tmp_path, "r", 150, seed=0)
    before = raw_score_vs_random(t.learner.net)
    summary = t.run()
    after = raw_score_vs_random(load_checkpoint(summary.model_path))
    assert summary.steps == 150
    # Measured with torch 2.13 on CPU over seeds 0-5 (before -> after): 0.430 -> 0.865, 0.512 -> 0.880,
    # 0.465 -> 0.902, 0.588 -> 0.843, 0.497 -> 0.785, 0.475 -> 0.843. The run is deterministic (seed 0 gives
    # 0.865 every time here); the bar holds for every seed measured, so another platform's rounding, which
    # may change the games, still clears it.
    assert after >= 0.75 and after >= before + 0.2, (before, after)
