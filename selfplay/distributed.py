"""The Ray side of self-play (the only selfplay module that imports ray).

N actors each own a `SelfPlayWorker` (a plain class) and play `moves_per_task` lock-step moves per task.
Weights go out with one `ray.put` per version: every task carries the object ref, and an actor loads it
only when the version changed. Back-pressure comes from `ray.wait`: an actor gets its next task only when
the driver has collected the previous one. An actor that dies (crash, OOM, node loss) is replaced by a
new one with a fresh worker id, so sample ids stay unique; the lost task's samples are simply never seen.
"""
from __future__ import annotations

import os

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError, WorkerCrashedError

from selfplay.config import Config
from traincore.raysetup import init_ray  # noqa: F401  (also used by tests and benchmarks)


@ray.remote
class SelfPlayActor:
    def __init__(self, cfg: Config, worker_id: int, device: str, threads: int):
        from selfplay.pool import make_worker
        self.worker = make_worker(cfg, worker_id, device=device, threads=threads)
        self.version = -1

    def play(self, weights_ref_holder: list, version: int, moves: int):
        # the ref arrives inside a list so Ray does not resolve it unless the version changed
        if version != self.version:
            self.worker.set_weights(ray.get(weights_ref_holder[0]), version)
            self.version = version
        return self.worker.play(moves)

    def pid(self) -> int:
        return os.getpid()


class RayPool:
    def __init__(self, cfg: Config, first_worker_id: int = 0, address: str | None = None):
        init_ray(address, num_cpus=None)
        self.cfg = cfg
        self.moves = cfg.selfplay.moves_per_task
        self.num_workers = cfg.run.num_workers
        use_gpu = cfg.run.actor_device.startswith("cuda")
        self._options = {"num_cpus": 1, "num_gpus": (0.5 / max(1, self.num_workers)) if use_gpu else 0}
        self.next_worker_id = first_worker_id
        self.restarts = 0
        self.version = -1
        self.weights_holder: list | None = None
        self.actors: dict[int, ray.actor.ActorHandle] = {}
        self.inflight: dict[ray.ObjectRef, int] = {}
        for _ in range(self.num_workers):
            self._start_actor()

    def _start_actor(self) -> int:
        wid = self.next_worker_id
        self.next_worker_id += 1
        self.actors[wid] = SelfPlayActor.options(**self._options).remote(
            self.cfg, wid, self.cfg.run.actor_device, self.cfg.run.torch_threads)
        return wid

    def _submit(self, wid: int) -> None:
        ref = self.actors[wid].play.remote(self.weights_holder, self.version, self.moves)
        self.inflight[ref] = wid

    def set_weights(self, weights: dict, version: int) -> None:
        self.weights_holder = [ray.put(weights)]   # one put per version, shared by every actor
        self.version = version
        for wid in self.actors:
            if wid not in self.inflight.values():
                self._submit(wid)

    def results(self, timeout: float | None = None):
        """Collect finished tasks (waiting up to `timeout` for the first), resubmit those actors with the
        latest weights, and replace dead actors."""
        if not self.inflight:
            return []
        ready, _ = ray.wait(list(self.inflight), num_returns=1, timeout=timeout)
        if ready:
            more, _ = ray.wait(list(self.inflight), num_returns=len(self.inflight), timeout=0)
            ready = list(dict.fromkeys(ready + more))
        out = []
        for ref in ready:
            wid = self.inflight.pop(ref)
            try:
                out.append((wid, ray.get(ref)))
                self._submit(wid)
            except (RayActorError, WorkerCrashedError, RayTaskError, GetTimeoutError) as e:
                self.restarts += 1
                try:
                    ray.kill(self.actors.pop(wid))
                except Exception:
                    pass
                new = self._start_actor()
                self._submit(new)
                print(f"[selfplay] worker {wid} failed ({type(e).__name__}); replaced by worker {new}", flush=True)
        return out

    def actor_pids(self) -> dict[int, int]:
        return {wid: ray.get(a.pid.remote()) for wid, a in self.actors.items()}

    def close(self) -> None:
        for a in self.actors.values():
            try:
                ray.kill(a)
            except Exception:
                pass
        self.actors.clear()
        self.inflight.clear()


def shutdown() -> None:
    if ray.is_initialized():
        ray.shutdown()
