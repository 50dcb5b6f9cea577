"""Supervised training throughput on real records next to the self-play learner's, same net, same batch,
same thread count, measured in one run (alternating rounds so that a busy machine hurts both alike).

    python benchmarks/supervised.py [--config configs/go19_sl.toml] [--steps 20] [--rounds 3] [--threads 1]

- supervised: `SupervisedTrainer.batches()` (SGF archive -> replay -> planes -> shuffle buffer -> symmetry)
  feeding `traincore.fit` with the supervised loss: samples/s of the whole pipeline;
- data only: positions/s of the same batches without the network (the share of the pipeline's cost);
- learner: `selfplay.learner.Learner.train` on a replay buffer of random samples (the self-play learner).
Writes benchmarks/results/supervised-<date>.json.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import write_result  # noqa: E402
from boardnet.games import make_game  # noqa: E402
from selfplay.config import Config  # noqa: E402
from selfplay.learner import Learner  # noqa: E402
from selfplay.replay import ReplayBuffer, Samples  # noqa: E402
from selfplay.supervised import SLConfig, SupervisedTrainer, sl_loss  # noqa: E402
from traincore.config import load_config  # noqa: E402
from traincore.loop import fit  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "go19_sl.toml"))
    ap.add_argument("--steps", type=int, default=20, help="optimiser steps per round and side")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", help="results JSON (default benchmarks/results/supervised-<date>.json)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out_dir = tempfile.mkdtemp()
    cfg = load_config(SLConfig, args.config, [f"run.out_dir=\"{out_dir}\"", "run.name=\"bench\"",
                                              "data.shuffle_buffer=20000", f"run.torch_threads={args.threads}"])
    tr = SupervisedTrainer(cfg, progress=False)
    batches = tr.batches()
    b = cfg.train.batch_size
    # the self-play learner on the same game, net and batch
    game = make_game(cfg.game.name, **cfg.game.kwargs())
    rl_cfg = load_config(Config, None, [f"game.name=\"{cfg.game.name}\"", f"net.preset=\"{cfg.net.preset}\"",
                                        f"net.value_head=\"{cfg.net.value_head}\"", f"train.batch_size={b}",
                                        f"run.precision=\"{cfg.run.precision}\""]
                         + [f"game.{k}={v}" for k, v in cfg.game.kwargs().items()])
    learner = Learner(game, cfg.game.name, cfg.game.kwargs(), rl_cfg, tr.runtime)
    rng = np.random.default_rng(0)
    n = 4000
    pol = rng.random((n, game.action_size)).astype(np.float32)
    buf = ReplayBuffer(game.obs_shape, game.action_size, 20_000, 1_000)
    buf.add(Samples(rng.integers(0, 2, (n, *game.obs_shape)).astype(np.float16), pol / pol.sum(1, keepdims=True),
                    rng.choice([-1.0, 0.0, 1.0], n).astype(np.float32), np.zeros(n, np.float32),
                    np.arange(n, dtype=np.int64)), games=200)
    # warm-up: fill the shuffle buffer to the training threshold and run a few steps of each
    fit(tr.model, lambda m, x: sl_loss(m, x, 0.5), batches, tr.optimizer, runtime=tr.runtime, steps=2)
    learner.train(buf, 2, rng)
    sl, rl, data = [], [], []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            next(batches)
        data.append(args.steps * b / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        fit(tr.model, lambda m, x: sl_loss(m, x, 0.5), batches, tr.optimizer, runtime=tr.runtime, steps=args.steps)
        sl.append(args.steps * b / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        learner.train(buf, args.steps, rng)
        rl.append(args.steps * b / (time.perf_counter() - t0))
    figures = {"game": game.name, "net": cfg.net.preset, "batch_size": b, "threads": args.threads,
               "precision": tr.runtime.precision, "steps_per_round": args.steps, "rounds": args.rounds,
               "supervised_samples_per_s": float(np.median(sl)), "learner_samples_per_s": float(np.median(rl)),
               "data_pipeline_positions_per_s": float(np.median(data)),
               "supervised_over_learner": float(np.median(sl) / np.median(rl)),
               "per_round": {"supervised": sl, "learner": rl, "data": data}}
    path = write_result("supervised", figures, out=args.out)
    print(f"{game.name} {cfg.net.preset} batch {b}, {args.threads} thread(s), {tr.runtime.precision}: "
          f"supervised {figures['supervised_samples_per_s']:.1f} samples/s, self-play learner "
          f"{figures['learner_samples_per_s']:.1f} samples/s (ratio {figures['supervised_over_learner']:.2f}); "
          f"data pipeline alone {figures['data_pipeline_positions_per_s']:.0f} positions/s")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
