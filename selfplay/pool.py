"""Self-play pools: where the workers run. `LocalPool` plays in the driver process (no Ray: tests,
debugging, 1-core machines); `selfplay.distributed.RayPool` runs workers as Ray actors.

Both give the driver the same three calls:
    pool.set_weights(weights, version)   # new weights for every later task
    pool.results(timeout)                # finished tasks as [(worker_id, WorkerResult)], possibly empty
    pool.close()
"""
from __future__ import annotations

import numpy as np
import torch

from boardnet.evaluator import NetEvaluator
from boardnet.games import make_game
from boardnet.nets import build_net
from boardnet.search import SearchConfig
from selfplay.config import Config
from selfplay.worker import SelfPlayWorker
from traincore.runtime import Runtime, seed_everything


def search_config(cfg: Config) -> SearchConfig:
    s = cfg.search
    return SearchConfig(num_simulations=s.num_simulations, c_puct_init=s.c_puct_init, c_puct_base=s.c_puct_base,
                        dirichlet_alpha=s.dirichlet_alpha, noise_weight=s.noise_weight,
                        fpu_reduction=s.fpu_reduction)


def make_worker(cfg: Config, worker_id: int, device: str = "cpu", threads: int | None = None) -> SelfPlayWorker:
    """A self-play worker with its own copy of the net (used inside actors and by LocalPool), evaluating
    at `cfg.run.actor_precision` or else `cfg.run.precision` (bf16 autocast + channels_last where `auto`
    picks it; int8: a quantized copy, rebuilt whenever new weights arrive)."""
    if threads:
        torch.set_num_threads(threads)
    seed = seed_everything(cfg.run.seed, worker_id + 1)
    game = make_game(cfg.game.name, **cfg.game.kwargs())
    runtime = Runtime.create(device, precision=cfg.run.actor_precision or cfg.run.precision)
    net = build_net(game, cfg.net.preset, **cfg.net.overrides())
    evaluator = NetEvaluator(net, game, runtime=runtime,
                             cache_size=cfg.selfplay.cache_size, random_symmetry=cfg.selfplay.random_symmetry,
                             rng=np.random.default_rng(seed))   # seeded symmetries: a LocalPool run repeats
    return SelfPlayWorker(game, evaluator, cfg.selfplay, search_config(cfg), worker_id=worker_id, seed=cfg.run.seed,
                          ownership=cfg.net.ownership)


class LocalPool:
    def __init__(self, cfg: Config, first_worker_id: int = 0):
        self.worker = make_worker(cfg, first_worker_id, device=cfg.run.actor_device,
                                  threads=cfg.run.torch_threads)
        self.worker_id = first_worker_id
        self.moves = cfg.selfplay.moves_per_task
        self.next_worker_id = first_worker_id + 1
        self.restarts = 0
        self.num_workers = 1

    def set_weights(self, weights: dict, version: int) -> None:
        self.worker.set_weights(weights, version)

    def results(self, timeout: float | None = None):
        return [(self.worker_id, self.worker.play(self.moves))]

    def close(self) -> None:
        pass
