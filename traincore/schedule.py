"""Learning-rate schedules as pure functions of the step: `lr = sched(step)`.

Use with torch: `LambdaLR(opt, lambda s: sched(s) / base_lr)` or `as_torch_scheduler(opt, sched)`.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

Schedule = Callable[[int], float]


def constant(base_lr: float, warmup: int = 0) -> Schedule:
    def f(step: int) -> float:
        return base_lr * min(1.0, (step + 1) / warmup) if warmup else base_lr
    return f


def step_decay(base_lr: float, milestones: Sequence[int], gamma: float = 0.1, warmup: int = 0) -> Schedule:
    ms = sorted(milestones)

    def f(step: int) -> float:
        lr = base_lr * gamma ** sum(step >= m for m in ms)
        return lr * min(1.0, (step + 1) / warmup) if warmup else lr
    return f


def cosine(base_lr: float, total_steps: int, warmup: int = 0, min_lr: float = 0.0) -> Schedule:
    """Linear warm-up to base_lr over `warmup` steps, then cosine decay to min_lr at total_steps."""
    if total_steps <= warmup:
        raise ValueError(f"cosine schedule: total_steps ({total_steps}) must exceed warmup ({warmup})")

    def f(step: int) -> float:
        if step < warmup:
            return base_lr * (step + 1) / warmup
        t = min(1.0, (step - warmup) / (total_steps - warmup))
        return min_lr + 0.5 * (base_lr - min_lr) * (1 + math.cos(math.pi * t))
    return f


def one_cycle(base_lr: float, total_steps: int, pct_start: float = 0.3, div_factor: float = 25.0,
              final_div_factor: float = 1e4) -> Schedule:
    """Smith's 1cycle (cosine annealing both ways, as torch's OneCycleLR): base_lr is the peak."""
    if total_steps < 2:
        raise ValueError(f"one_cycle schedule: total_steps ({total_steps}) must be >= 2")
    start, end = base_lr / div_factor, base_lr / div_factor / final_div_factor
    up = max(1, int(pct_start * total_steps))

    def cos_interp(a, b, t):
        return b + (a - b) / 2 * (1 + math.cos(math.pi * t))

    def f(step: int) -> float:
        if step <= up:
            return cos_interp(start, base_lr, step / up)
        return cos_interp(base_lr, end, min(1.0, (step - up) / max(1, total_steps - 1 - up)))
    return f


def make_schedule(name: str, base_lr: float, total_steps: int = 0, warmup: int = 0,
                  milestones: Sequence[int] = (), gamma: float = 0.1, min_lr: float = 0.0) -> Schedule:
    """Schedule by name: constant, step, cosine, onecycle."""
    name = name.lower()
    if name == "constant":
        return constant(base_lr, warmup)
    if name == "step":
        return step_decay(base_lr, milestones, gamma, warmup)
    if name == "cosine":
        return cosine(base_lr, total_steps, warmup, min_lr)
    if name in ("onecycle", "1cycle"):
        return one_cycle(base_lr, total_steps)
    raise ValueError(f"LR schedule {name!r}: choose constant, step, cosine or onecycle")


def as_torch_scheduler(optimizer: torch.optim.Optimizer, sched: Schedule) -> torch.optim.lr_scheduler.LambdaLR:
    """A torch scheduler following `sched` exactly (each param group's initial lr is ignored)."""
    for g in optimizer.param_groups:
        g["lr"] = g["initial_lr"] = 1.0
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: sched(s))
