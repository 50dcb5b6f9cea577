"""selfplay with Ray (one local Ray for the module, num_cpus=2): a run end to end, actor failure, SIGKILL + resume,
loopback only."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")

from boardnet.evaluator import NetEvaluator  # noqa: E402
from boardnet.games import make_game  # noqa: E402
from boardnet.nets import net_from_state  # noqa: E402
from selfplay import evaluate as ev  # noqa: E402
from selfplay.config import Config  # noqa: E402
from traincore.checkpoint import load_checkpoint  # noqa: E402
from traincore.config import load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "test" / "tictactoe_tiny.toml"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    from selfplay.distributed import init_ray
    init_ray(None, num_cpus=2)
    yield
    ray.shutdown()


def test_ray_run_gives_the_same_kind_of_result(tmp_path):
    """The distributed path runs end to end: Ray actors play, the learner trains, games are recorded and the
    exported model loads and plays. How well it learns is pinned, deterministically, without Ray
    (tests/test_selfplay_learning.py): here the interleaving of actors and learner varies run to run."""
    from selfplay.run import Trainer
    cfg = load_config(Config, TINY, [f"run.out_dir={tmp_path}", "run.name=r", "run.num_workers=2",
                                     "train.total_steps=30", "train.checkpoint_every=10", "eval.every_steps=30",
                                     "eval.games=0"])
    t = Trainer(cfg, progress=False)
    summary = t.run()
    assert summary.steps == 30 and summary.games > 0 and summary.samples > 0
    assert t.counters["next_worker_id"] == 2   # both Ray actors, none restarted
    assert (tmp_path / "r" / "games.txt").read_text().count("\n") == summary.games
    assert len(list((tmp_path / "r" / "checkpoints").glob("ckpt_*.pt"))) == 3
    net = net_from_state(load_checkpoint(summary.model_path))
    game = make_game("tictactoe")
    player = ev.NetPlayer(NetEvaluator(net.eval(), game, cache_size=0), simulations=0)
    assert ev.play_match(game, player, ev.random_player(7), 20, seed=3, opening_plies=0).games == 20
    ids = t.buffer.stored_ids()
    assert len(np.unique(ids)) == len(ids)


def test_killed_actor_is_replaced_and_no_sample_duplicates():
    from selfplay.distributed import RayPool
    cfg = load_config(Config, TINY, ["run.num_workers=2", "selfplay.moves_per_task=2"])
    pool = RayPool(cfg)
    from boardnet.nets import build_net
    game = make_game("tictactoe")
    pool.set_weights(build_net(game, "b2c32").state_dict(), 0)
    ids, workers = [], set()
    victim = None
    deadline = time.time() + 400   # generous: a loaded 2-core machine starts Ray workers slowly
    while time.time() < deadline and (pool.restarts == 0 or max(workers) < 2):
        for wid, res in pool.results(timeout=60):
            ids += res.samples.ids.tolist()
            workers.add(wid)
        if victim is None and len(ids) > 50:
            victim, pid = next(iter(pool.actor_pids().items()))
            os.kill(pid, signal.SIGKILL)
    pool.close()
    assert pool.restarts >= 1, "the killed actor was not noticed"
    assert victim not in pool.actors and len(workers) >= 2
    assert max(workers) >= 2, "a replacement worker (new id) should have produced samples"
    assert len(ids) == len(set(ids)), "duplicate sample ids"


def test_sigkill_then_resume_matches_checkpoint(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "selfplay.cli", "train", "--config", str(TINY), "--quiet",
           "--set", f"run.out_dir={tmp_path}", "--set", "run.name=k", "--set", "run.num_workers=1",
           "--set", "train.total_steps=1000", "--set", "train.checkpoint_every=10", "--set", "eval.games=0",
           "--set", "eval.every_steps=1000"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ck_dir = tmp_path / "k" / "checkpoints"
    deadline = time.time() + 240
    try:
        while time.time() < deadline and len(list(ck_dir.glob("ckpt_*.pt"))) < 2:
            time.sleep(0.5)
        assert len(list(ck_dir.glob("ckpt_*.pt"))) >= 2, "no checkpoints written in time"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)   # the driver and its Ray processes, mid-run
        proc.wait()
    from selfplay.run import Trainer
    from traincore.checkpoint import CheckpointManager
    saved = CheckpointManager(ck_dir).load_latest()
    cfg = load_config(Config, tmp_path / "k" / "config.toml", ["train.total_steps=%d" % (saved["step"] + 10)])
    t = Trainer(cfg, run_dir=tmp_path / "k", resume=True, progress=False)
    # the resumed state is exactly the checkpoint's
    assert t.learner.step == saved["step"]
    assert t.buffer.total_added == saved["replay"]["total_added"]
    assert np.array_equal(t.buffer.stored_ids(), saved["replay"]["ids"].numpy())
    for k, v in saved["model"].items():
        assert torch.equal(t.learner.net.state_dict()[k].cpu(), v), k
    s = t.run()
    assert s.steps == saved["step"] + 10
    ids = t.buffer.stored_ids()
    assert len(np.unique(ids)) == len(ids)


def test_embedded_ray_listens_on_loopback_only():
    psutil = pytest.importorskip("psutil")
    if not ray.util.get_node_ip_address().startswith("127."):
        pytest.fail(f"embedded Ray node address is {ray.util.get_node_ip_address()}, expected loopback")
    me = psutil.Process(os.getpid())
    pids = {p.pid for p in me.children(recursive=True)} | {me.pid}
    try:
        conns = [c for c in psutil.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN and c.pid in pids]
    except psutil.AccessDenied:
        pytest.skip("cannot list sockets here")
    exposed = [c.laddr for c in conns if not (c.laddr.ip.startswith("127.") or c.laddr.ip in ("::1", "::ffff:127.0.0.1"))]
    assert conns and not exposed, f"Ray servers listening beyond loopback: {exposed}"
