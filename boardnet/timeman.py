"""Time management for clock-limited play (UCI `go wtime ...`, GTP `time_left`).

`allot_time` spends a share of the remaining clock: remaining / (movestogo + 1) with a moves-to-go
count, else remaining / `horizon` (a sudden-death guess of the moves still to play), plus most of
the increment; never more than half the clock, and always leaving `overhead` seconds for the
process and pipe latency.
"""
from __future__ import annotations


def allot_time(remaining: float, increment: float = 0.0, movestogo: int | None = None, *,
               horizon: int = 30, overhead: float = 0.05, minimum: float = 0.01) -> float:
    """Seconds to think on this move from the clock (all times in seconds)."""
    if remaining < 0 or increment < 0:
        raise ValueError(f"clock remaining={remaining!r} increment={increment!r}: expected >= 0")
    if movestogo is not None and movestogo < 1:
        raise ValueError(f"movestogo={movestogo!r}: expected a positive count")
    share = remaining / (movestogo + 1 if movestogo else horizon) + 0.8 * increment
    cap = max(0.0, 0.5 * remaining - overhead) if movestogo != 1 else max(0.0, remaining - 2 * overhead)
    return max(minimum, min(share, cap))
