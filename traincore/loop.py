"""A small training loop: autocast, gradient accumulation and clipping, a NaN/inf guard, hooks.

    def loss_fn(model, batch) -> (loss, {"loss": float, ...})
    state = fit(model, loss_fn, batches, optimizer, runtime=rt, steps=1000, scheduler=sched,
                clip_grad=1.0, hooks=[log_every(50, logger)])

`fit` counts optimiser steps. It starts from `start_step` (a resumed run passes the checkpoint's step)
and stops at `steps`. A non-finite loss or gradient stops the run with `NonFiniteLossError`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

from traincore.metrics import RunningMean
from traincore.runtime import Runtime

LossFn = Callable[[torch.nn.Module, Any], "tuple[torch.Tensor, dict[str, float]]"]
Hook = Callable[[int, dict], None]


class NonFiniteLossError(FloatingPointError):
    """The loss or gradient became NaN/inf; the message gives the step and the values."""


@dataclass
class FitState:
    step: int = 0
    samples: int = 0
    seconds: float = 0.0
    last: dict = field(default_factory=dict)


def _batch_size(batch) -> int:
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size(next(iter(batch.values())))
    return 1


def fit(model: torch.nn.Module, loss_fn: LossFn, batches: Iterable, optimizer: torch.optim.Optimizer, *,
        runtime: Runtime | None = None, steps: int, start_step: int = 0,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, clip_grad: float | None = None,
        accumulate: int = 1, hooks: Sequence[Hook] = ()) -> FitState:
    """Train until `steps` optimiser steps; hooks are called as hook(step, metrics) after each step.

    metrics holds the running means of the loss_fn's dict since the previous step plus 'lr',
    'grad_norm' (when clipping) and 'samples_per_s'.
    """
    runtime = runtime or Runtime.create("cpu")
    runtime.check_trainable()
    if accumulate < 1:
        raise ValueError(f"accumulate={accumulate}: must be >= 1")
    state = FitState(step=start_step)
    model.train()
    it: Iterator = iter(batches)
    running = RunningMean()
    t0 = time.perf_counter()
    while state.step < steps:
        optimizer.zero_grad(set_to_none=True)
        n = 0
        for _ in range(accumulate):
            try:
                batch = next(it)
            except StopIteration:
                return state
            with runtime.autocast():
                loss, info = loss_fn(model, batch)
            if not torch.isfinite(loss.detach()).all():
                raise NonFiniteLossError(f"step {state.step}: loss is {loss.item()} "
                                         f"(metrics {info}); lower the learning rate or check the data")
            (loss / accumulate).backward()
            running.add(info)
            n += _batch_size(batch)
        metrics: dict[str, float] = {}
        if clip_grad is not None:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
            if not math.isfinite(float(norm)):
                raise NonFiniteLossError(f"step {state.step}: gradient norm is {float(norm)}; "
                                         "lower the learning rate or check the data")
            metrics["grad_norm"] = float(norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        state.step += 1
        state.samples += n
        dt = time.perf_counter() - t0
        t0 = time.perf_counter()
        state.seconds += dt
        metrics.update(running.reset())
        metrics["lr"] = optimizer.param_groups[0]["lr"]
        metrics["samples_per_s"] = n / dt if dt > 0 else 0.0
        state.last = metrics
        for hook in hooks:
            hook(state.step, metrics)
    return state


def every(n: int, fn: Callable[[int, dict], None]) -> Hook:
    """A hook that calls fn(step, metrics) every n steps (with the latest step's metrics)."""
    if n < 1:
        raise ValueError(f"every({n}): n must be >= 1")

    def hook(step: int, metrics: dict) -> None:
        if step % n == 0:
            fn(step, metrics)
    return hook
