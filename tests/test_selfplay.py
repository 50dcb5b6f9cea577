"""selfplay without Ray: replay buffer, worker samples, learner loss, evaluation helpers, local runs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.games import make_game
from boardnet.search import SearchConfig
from selfplay import evaluate as ev
from selfplay.config import Config, SelfPlaySettings
from selfplay.learner import augment, policy_value_loss
from selfplay.replay import ReplayBuffer, Samples
from selfplay.worker import SelfPlayWorker
from traincore.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
C4_DATA = ROOT.parent / "shared" / "data" / "games" / "connect4"


def _samples(n, start_id=0, shape=(3, 3, 3), a=9):
    rng = np.random.default_rng(start_id)
    pol = rng.random((n, a)).astype(np.float32)
    return Samples(rng.integers(0, 2, (n, *shape)).astype(np.float16), pol / pol.sum(1, keepdims=True),
                   rng.choice([-1.0, 0.0, 1.0], n).astype(np.float32), rng.random(n).astype(np.float32),
                   np.arange(start_id, start_id + n, dtype=np.int64))


def test_replay_window_grows_and_wraps():
    buf = ReplayBuffer((3, 3, 3), 9, max_size=100, min_size=20, growth_per_game=5)
    buf.add(_samples(30, 0), games=2)
    assert buf.window() == 30          # min(100, 20 + 2*5=30, 30)
    buf.add(_samples(50, 30), games=0)
    assert buf.window() == 30          # limited by games played
    buf.add(_samples(50, 80), games=20)
    assert buf.total_added == 130 and buf.window() == 100
    ids = buf.sample(1000, np.random.default_rng(0)).ids
    assert ids.min() >= 30 and ids.max() == 129     # only the newest 100 survive the wrap
    assert sorted(buf.stored_ids().tolist()) == list(range(30, 130))


def test_replay_state_dict_round_trip():
    buf = ReplayBuffer((3, 3, 3), 9, max_size=50, min_size=10)
    buf.add(_samples(70, 0), games=3)
    other = ReplayBuffer((3, 3, 3), 9, max_size=50, min_size=10)
    other.load_state_dict(buf.state_dict())
    for f in ("planes", "policy", "value", "q", "ids"):
        assert np.array_equal(getattr(buf, f), getattr(other, f))
    assert (other.total_added, other.games) == (70, 3)
    a = buf.sample(32, np.random.default_rng(1))
    b = other.sample(32, np.random.default_rng(1))
    assert np.array_equal(a.ids, b.ids)
    with pytest.raises(ValueError, match="max_size"):
        ReplayBuffer((3, 3, 3), 9, max_size=60).load_state_dict(buf.state_dict())


class _ScriptedEvaluator:
    """Uniform priors; from ply `resign_after` on, the first player is lost (value -1 for it, +1 for the
    second player), so the first player should resign at its first move from then on."""

    def __init__(self, game, resign_after=None):
        self.game, self.resign_after = game, resign_after

    def evaluate(self, states):
        pri = np.stack([s.legal_mask().astype(np.float32) for s in states])
        pri /= pri.sum(1, keepdims=True)
        v = np.array([(-1.0 if s.to_play() == 0 else 1.0)
                      if self.resign_after is not None and s.ply >= self.resign_after else 0.0
                      for s in states], dtype=np.float32)
        return pri, v

    def set_weights(self, sd):
        pass


def test_worker_samples_are_consistent():
    game = make_game("tictactoe")
    st = SelfPlaySettings(games_per_worker=8, temperature_moves=9, resign_threshold=-2.0)
    w = SelfPlayWorker(game, _ScriptedEvaluator(game), st, SearchConfig(num_simulations=8), worker_id=3, seed=1)
    res = w.play(9)   # tic-tac-toe ends within 9 plies: every slot finishes once
    assert len(res.games) == 8
    s = res.samples
    assert len(s) == sum(g.plies for g in res.games)
    assert np.allclose(s.policy.sum(1), 1.0) and (s.ids >> 40 == 3).all() and len(set(s.ids)) == len(s)
    # replaying each game gives back the recorded planes, and z is the final result from the mover's view
    i = 0
    for g in res.games:
        state = game.initial_state()
        for a in g.actions:
            assert np.array_equal(s.planes[i].astype(np.float32), state.planes())
            assert s.policy[i][~state.legal_mask()].sum() == 0
            assert s.value[i] == g.result[state.to_play()]
            state = state.apply(a)
            i += 1
        assert state.is_terminal() and list(state.returns()) == g.result


def test_worker_resigns_and_counts_false_positives():
    game = make_game("connect4")
    st = SelfPlaySettings(games_per_worker=20, resign_threshold=-0.9, resign_min_ply=4, resign_disabled_frac=0.5,
                          temperature_moves=100)
    w = SelfPlayWorker(game, _ScriptedEvaluator(game, resign_after=4), st, SearchConfig(num_simulations=2), seed=0)
    res = w.play(60)
    resigned = [g for g in res.games if g.resigned]
    assert resigned and all(g.plies == 4 for g in resigned)
    # a resigned game is lost by the player to move at ply 4, i.e. the first player
    assert all(g.result == [-1.0, 1.0] for g in resigned)
    # games with resignation disabled played on; the false positives are those the "resigner" did not lose
    assert res.stats["resign_checks"] > 0
    assert 0 < res.stats["resign_false_positives"] <= res.stats["resign_checks"]


def test_playout_cap_randomisation_records_only_full_searches():
    game = make_game("tictactoe")
    st = SelfPlaySettings(games_per_worker=16, cheap_simulations=2, full_search_prob=0.25, resign_threshold=-2.0)
    w = SelfPlayWorker(game, _ScriptedEvaluator(game), st, SearchConfig(num_simulations=16), seed=2)
    res = w.play(30)
    moves = sum(g.plies for g in res.games)
    assert 0.1 * moves < len(res.samples) < 0.45 * moves
    # full searches: 16 visits recorded as the policy target's support
    assert res.stats["simulations"] < 30 * 16 * 16


def test_augment_moves_policy_with_planes():
    game = make_game("tictactoe")
    s = game.initial_state().apply(0)       # X in the corner a3
    planes = np.repeat(s.planes()[None], 64, 0)
    pol = np.zeros((64, 9), np.float32)
    pol[:, 8] = 1.0                          # policy on the opposite corner c1
    p, pi = augment(game, planes, pol, np.random.default_rng(0))
    for k in range(64):
        stone = np.flatnonzero(p[k, 1].ravel())  # opponent plane holds the X stone
        assert len(stone) == 1 and pi[k].argmax() == 8 - stone[0]


def test_policy_value_loss_targets():
    logits = torch.log(torch.tensor([[0.7, 0.2, 0.1]]))
    pi = torch.tensor([[0.7, 0.2, 0.1]])

    class Net(torch.nn.Module):
        def __init__(self, v):
            super().__init__()
            self.v = v

        def forward(self, x):
            return logits, self.v
    z, q = torch.tensor([1.0]), torch.tensor([0.0])
    loss, m = policy_value_loss(Net(torch.tensor([1.0])), (None, pi, z, q))
    assert m["policy_kl"] == pytest.approx(0.0, abs=1e-6) and m["value_loss"] == pytest.approx(0.0)
    loss, m = policy_value_loss(Net(torch.tensor([1.0])), (None, pi, z, q), q_weight=0.5)
    assert m["value_loss"] == pytest.approx(0.25)
    wdl = torch.tensor([[10.0, -10.0, -10.0]])
    loss, m = policy_value_loss(Net(wdl), (None, pi, z, q))
    assert m["value_loss"] == pytest.approx(0.0, abs=1e-6)


def test_match_and_elo():
    game = make_game("tictactoe")
    r = ev.play_match(game, ev.perfect_player(1), ev.random_player(2), 40, seed=0, opening_plies=0)
    assert r.games == 40 and r.losses == 0 and r.wins > 20
    elo, lo, hi = ev.elo_estimate(r)
    assert lo < elo and elo > 100


def test_tictactoe_perfection_yardstick():
    p = ev.tictactoe_perfection(ev.perfect_player(0), games=20)
    assert p["positions"] == 4520 and p["optimal_moves"] == 1.0 and p["losses"] == 0
    p = ev.tictactoe_perfection(ev.random_player(0), games=20)
    assert p["optimal_moves"] < 0.9 and p["losses"] > 0


@pytest.mark.skipif(not C4_DATA.exists(), reason="needs ../shared/data/games/connect4")
def test_connect4_solved_accuracy_yardstick():
    game = make_game("connect4")
    path = C4_DATA / "Test_L2_R1.scores"
    rows = ev.load_scores(path, 50)

    class Oracle:
        def select_many(self, states, histories):
            return [int(np.argmax(np.where(sc == -1000, -10**6, sc))) for _, sc in rows]
    acc = ev.solved_accuracy(game, Oracle(), path, 50)
    assert acc == {"positions": 50, "not_mistake": 1.0, "perfect": 1.0}
    assert ev.move_quality(np.array([-1000, 2, 0, -3, 2, 1, 2]), 5) == (True, False)
    assert ev.move_quality(np.array([-1000, 2, 0, -3, 2, 1, 2]), 2) == (False, False)
    assert ev.move_quality(np.array([-1000, 2, 0, -3, 2, 1, 2]), 0) == (False, False)


def test_configs_load():
    for p in sorted((ROOT / "configs").glob("*.toml")) + sorted((ROOT / "configs" / "test").glob("*.toml")):
        if "atomgrid" in p.parts:
            continue
        if "_sl" in p.stem:          # supervised runs have their own config type
            from selfplay.supervised import SLConfig
            cfg = load_config(SLConfig, p)
            assert cfg.data.paths, p
        else:
            cfg = load_config(Config, p)
        make_game(cfg.game.name, **cfg.game.kwargs())
    with pytest.raises(ConfigError, match="unknown key 'train.lrr'"):
        load_config(Config, ROOT / "configs" / "test" / "tictactoe_tiny.toml", ["train.lrr=1"])


@pytest.mark.parametrize("override, message", [
    ("train.batch_size=0", "train: batch_size=0: must be >= 1"),            # was a ZeroDivisionError traceback
    ("train.checkpoint_every=0", "train: checkpoint_every=0: must be >= 1"),
    ("replay.max_size=0", "replay: max_size=0: must be >= 1"),
    ("train.lr=nan", "train: lr=nan: must be > 0"),
    ("run.num_workers=-1", "run: num_workers=-1: must be >= 0"),            # used to hang
    ("selfplay.moves_per_task=0", "selfplay: moves_per_task=0: must be >= 1"),  # used to hang at step 0
    ("train.reuse=0", "train: reuse=0.0: must be > 0"),
    ("search.noise_weight=1.5", "search: noise_weight=1.5: must be in [0,1]"),
    ("eval.games=-1", "eval: games=-1: must be >= 0"),
])
def test_config_values_out_of_range_are_one_line_errors(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(Config, ROOT / "configs" / "test" / "tictactoe_tiny.toml", [override])
    assert str(e.value).endswith(message) and "\n" not in str(e.value)


def test_local_run_checkpoints_and_resumes(tmp_path):
    from selfplay.run import Trainer
    cfg = load_config(Config, ROOT / "configs" / "test" / "tictactoe_tiny.toml",
                      [f"run.out_dir={tmp_path}", "run.name=r", "train.total_steps=20", "eval.games=0",
                       "eval.every_steps=20"])
    s = Trainer(cfg, progress=False).run()
    assert s.steps == 20 and s.model_path.exists()
    ck = sorted((tmp_path / "r" / "checkpoints").glob("ckpt_*.pt"))
    assert [p.name for p in ck] == ["ckpt_000000010.pt", "ckpt_000000020.pt"]
    cfg2 = load_config(Config, tmp_path / "r" / "config.toml", ["train.total_steps=30"])
    t = Trainer(cfg2, run_dir=tmp_path / "r", resume=True, progress=False)
    assert t.learner.step == 20 and t.buffer.total_added == s.samples
    assert t.run().steps == 30
    # the log goes on past the resume (it once went to the file the cut-back had replaced, and stopped at step 20)
    from traincore.metrics import read_jsonl
    train_steps = [r["step"] for r in read_jsonl(tmp_path / "r" / "metrics.jsonl") if r.get("tag") == "train"]
    assert max(train_steps) == 30 and len(train_steps) == len(set(train_steps))


@pytest.mark.parametrize("name", ["go9", "chess", "checkers"])
def test_tiny_runs_for_every_game(tmp_path, name):
    """The whole pipeline (self-play, learner, checkpoint, evaluation, game records) on each game."""
    from selfplay.run import Trainer
    cfg = load_config(Config, ROOT / "configs" / "test" / f"{name}_tiny.toml", [f"run.out_dir={tmp_path}", "run.name=r"])
    s = Trainer(cfg, progress=False).run()
    assert s.steps == 6 and s.games >= 4 and s.model_path.exists()
    records = (tmp_path / "r" / "games.txt").read_text()
    marker = {"go9": "(;FF[4]", "chess": "[Event ", "checkers": "[Event "}[name]
    assert records.count(marker) == s.games


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_saves_a_checkpoint_and_the_model(tmp_path, sig):
    """Ctrl-C, and SIGTERM (how a background job is stopped), keep the work: a checkpoint and model.pt."""
    import os
    import signal
    import subprocess
    import sys
    import time
    cmd = [sys.executable, "-m", "selfplay.cli", "train", "--config", str(ROOT / "configs/test/tictactoe_tiny.toml"),
           "--quiet", "--set", f"run.out_dir={tmp_path}", "--set", "run.name=c", "--set", "train.total_steps=100000",
           "--set", "train.checkpoint_every=1000", "--set", "eval.every_steps=100000"]
    # a job started in the background by a non-interactive shell (CI) inherits SIGINT ignored: restore the
    # default, as a terminal would have it, so that the signal means Ctrl-C
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    metrics = tmp_path / "c" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and '"tag": "train"' in metrics.read_text()):
        time.sleep(0.3)
    proc.send_signal(getattr(signal, sig))
    try:
        _, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"no exit 300 s after {sig}; stderr: {err[-2000:]}")
    assert proc.returncode == 130, err
    assert "resume with: selfplay train --resume" in err
    ck = list((tmp_path / "c" / "checkpoints").glob("ckpt_*.pt"))
    assert len(ck) == 1 and (tmp_path / "c" / "model.pt").exists()
    from traincore.checkpoint import load_checkpoint
    assert load_checkpoint(ck[0])["step"] >= 1


def test_resumable_export_drops_the_replay_buffer_and_resumes(tmp_path):
    """`selfplay export --resumable`: the run checkpoint without its replay buffer (what a campaign commits);
    a run folder holding it resumes at its step, refills the buffer from new games and trains on."""
    import shutil

    from selfplay.cli import main as selfplay_main
    from selfplay.run import Trainer
    from traincore.checkpoint import load_checkpoint
    cfg = load_config(Config, ROOT / "configs" / "test" / "tictactoe_tiny.toml",
                      [f"run.out_dir={tmp_path}", "run.name=r", "train.total_steps=20", "eval.games=0",
                       "eval.every_steps=20"])
    Trainer(cfg, progress=False).run()
    camp = tmp_path / "camp"
    (camp / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "r" / "config.toml", camp / "config.toml")
    out = camp / "checkpoints" / "ckpt_000000020.pt"
    assert selfplay_main(["export", str(tmp_path / "r"), "--out", str(out), "--resumable"]) == 0
    st = load_checkpoint(out, kind="boardnet")
    assert "replay" not in st and st["step"] == 20 and "learner" in st
    assert out.stat().st_size < (tmp_path / "r" / "checkpoints" / "ckpt_000000020.pt").stat().st_size
    t = Trainer(load_config(Config, camp / "config.toml", ["train.total_steps=26"]), run_dir=camp, resume=True,
                progress=False)
    assert t.learner.step == 20 and t.buffer.total_added == 0
    s = t.run()
    assert s.steps == 26 and t.buffer.total_added >= cfg.train.min_samples
    # a model file has no optimizer state to keep
    assert selfplay_main(["export", str(s.model_path), "--out", str(tmp_path / "x.pt"), "--resumable"]) == 2


def test_resume_and_export_keep_work(tmp_path, capsys):
    """Found by a user: a corrupt newest checkpoint was passed over without a word, a run whose checkpoints are all
    corrupt ended in a traceback, `export --out` could write a net over the run's own checkpoint, and a failed start
    left a half-made run folder."""
    from selfplay.cli import main as selfplay_main
    from selfplay.run import Trainer
    cfg = load_config(Config, ROOT / "configs" / "test" / "tictactoe_tiny.toml",
                      [f"run.out_dir={tmp_path}", "run.name=r", "train.total_steps=20", "eval.games=0",
                       "eval.every_steps=20"])
    Trainer(cfg, progress=False).run()
    ck = tmp_path / "r" / "checkpoints"
    newest = ck / "ckpt_000000020.pt"
    for out in (newest, tmp_path / "r" / "checkpoints"):
        assert selfplay_main(["export", str(tmp_path / "r"), "--out", str(out)]) == 2
    (tmp_path / "notes.txt").write_text("mine")
    assert selfplay_main(["export", str(tmp_path / "r"), "--out", str(tmp_path / "notes.txt")]) == 2
    assert (tmp_path / "notes.txt").read_text() == "mine"
    err = capsys.readouterr().err
    assert "is a run checkpoint" in err and "is not a model file" in err
    newest.write_bytes(b"\0" * 100)
    t = Trainer(load_config(Config, tmp_path / "r" / "config.toml"), run_dir=tmp_path / "r", resume=True,
                progress=False)
    assert t.learner.step == 10
    assert f"note: passed over checkpoint {newest}: truncated or corrupt" in capsys.readouterr().out
    (ck / "ckpt_000000010.pt").write_bytes(b"\0" * 100)
    assert selfplay_main(["train", "--resume", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("selfplay: checkpoint ") and "truncated or corrupt" in err[-1]
    # a start that fails (the --init file is no model) leaves no run folder
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    assert selfplay_main(["train", "--config", str(ROOT / "configs" / "test" / "tictactoe_tiny.toml"), "--set",
                          f"run.out_dir={tmp_path}", "--set", "run.name=failed", "--init", str(tmp_path / "bad.pt"),
                          "--quiet"]) == 2
    assert not (tmp_path / "failed").exists()


@pytest.mark.parametrize("workers, message", [(0, "this config plays in the driver (run.num_workers = 0)"),
                                              (1, "no Ray head answers there")])
def test_an_address_no_cluster_answers_at_is_one_line(tmp_path, capsys, workers, message):
    """Found by a user: an unreachable --address hung in Ray's retries; with no actors it was silently ignored."""
    from selfplay.cli import main as selfplay_main
    assert selfplay_main(["train", "--config", str(ROOT / "configs" / "test" / "tictactoe_tiny.toml"), "--set",
                          f"run.out_dir={tmp_path}", "--set", "run.name=a", "--set", f"run.num_workers={workers}",
                          "--address", "127.0.0.1:1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and not (tmp_path / "a").exists()
