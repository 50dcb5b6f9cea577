"""The Ray side of ``atomgrid score`` (the only atomgrid module that imports ray).

The driver puts the :class:`~atomgrid.score_worker.ScoringContext` (typed receptor, box, reference, model
weights) into the object store once; each actor wraps a plain :class:`~atomgrid.score_worker.ChunkScorer`
built from it. Chunks are submitted with bounded back-pressure (``ray.wait``: at most two chunks in
flight per actor), so memory stays flat whatever the library size; results come back in completion
order and the caller writes each chunk file (the output order is restored at concatenation).
:func:`ray_executor` is the chunk executor that callers pass to :func:`atomgrid.score.score_library`.
"""
from __future__ import annotations

import os
from typing import Callable, Iterable

import ray

from traincore.raysetup import init_ray

from .library import Record
from .score_worker import ChunkScorer, Row, ScoringContext


@ray.remote(num_cpus=1)
class ScoreActor:
    """One :class:`ChunkScorer` per actor, one torch thread each (the actors share the cores)."""

    def __init__(self, ctx: ScoringContext):
        self.scorer = ChunkScorer(ctx, threads=1)

    def score(self, k: int, records: list[Record]) -> tuple[int, list[Row]]:
        return k, self.scorer.score_chunk(records)

    def pid(self) -> int:
        return os.getpid()


def score_chunks(ctx: ScoringContext, chunks: Iterable[tuple[int, list[Record]]], num_workers: int,
                 address: str | None, on_result: Callable[[int, list[Row]], None],
                 in_flight_per_actor: int = 2) -> None:
    """Score ``(chunk number, records)`` pairs on ``num_workers`` actors; ``on_result(k, rows)`` runs in
    the driver as each chunk finishes. The receptor/model context is shared with one ``ray.put``."""
    init_ray(address, num_cpus=None if address else max(num_workers, 1))
    ctx_ref = ray.put(ctx)
    # Ray hides GPUs from actors that do not ask for one: on CUDA the actors share one GPU by fractions
    gpu = 1.0 / num_workers if str(ctx.device).startswith("cuda") else 0.0
    actors = [ScoreActor.options(num_gpus=gpu).remote(ctx_ref) for _ in range(num_workers)]
    pending: dict = {}  # object ref -> actor index
    load = [0] * num_workers
    it = iter(chunks)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < in_flight_per_actor * num_workers:
                nxt = next(it, None)
                if nxt is None:
                    exhausted = True
                    break
                a = min(range(num_workers), key=lambda i: load[i])
                pending[actors[a].score.remote(nxt[0], nxt[1])] = a
                load[a] += 1
            if not pending:
                return
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                a = pending.pop(ref)
                load[a] -= 1
                k, rows = ray.get(ref)
                on_result(k, rows)
    finally:
        for actor in actors:
            ray.kill(actor)


def ray_executor(num_workers: int, address: str | None = None) -> Callable:
    """A chunk executor for :func:`atomgrid.score.score_library`: ``num_workers`` Ray actors on an embedded
    local Ray (``address`` None) or on the cluster at ``address``."""
    def run(ctx: ScoringContext, chunks: Iterable[tuple[int, list[Record]]],
            on_result: Callable[[int, list[Row]], None]) -> None:
        score_chunks(ctx, chunks, max(1, num_workers), address, on_result)
    return run
