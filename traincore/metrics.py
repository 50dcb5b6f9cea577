"""Metrics: running means, a throughput meter, and a logger writing JSONL (always) and TensorBoard
event files (when tensorboard is installed)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from pathlib import Path
from typing import Mapping


class RunningMean:
    """Mean of the values added since the last reset (per key)."""

    def __init__(self):
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, values: Mapping[str, float], n: int = 1) -> None:
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * n
            self.counts[k] = self.counts.get(k, 0) + n

    def means(self) -> dict[str, float]:
        return {k: self.sums[k] / self.counts[k] for k in self.sums if self.counts[k]}

    def reset(self) -> dict[str, float]:
        m = self.means()
        self.sums.clear()
        self.counts.clear()
        return m


class Throughput:
    """Items per second over a sliding window of updates."""

    def __init__(self, window: int = 20):
        self.window = window
        self.events: list[tuple[float, int]] = []

    def update(self, n: int) -> None:
        self.events.append((time.perf_counter(), n))
        del self.events[:-self.window]

    def rate(self) -> float:
        if len(self.events) < 2:
            return 0.0
        dt = self.events[-1][0] - self.events[0][0]
        return sum(n for _, n in self.events[1:]) / dt if dt > 0 else 0.0


class MetricsLogger:
    """`log(step, {"loss": 0.3, ...})` appends one JSON line to metrics.jsonl and TensorBoard scalars."""

    def __init__(self, run_dir: str | os.PathLike, tensorboard: bool = True, filename: str = "metrics.jsonl"):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / filename
        self._f = open(self.path, "a", buffering=1)
        self._tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self._tb = SummaryWriter(str(self.dir / "tb"))
            except Exception:  # tensorboard missing or broken: JSONL still records everything
                self._tb = None

    def log(self, step: int, values: Mapping[str, float], tag: str | None = None) -> None:
        clean = {}
        for k, v in values.items():
            try:
                v = float(v)
            except (TypeError, ValueError):
                continue
            clean[k] = v if math.isfinite(v) else str(v)
        row = {"step": int(step), "time": round(time.time(), 3), **({"tag": tag} if tag else {}), **clean}
        self._f.write(json.dumps(row) + "\n")
        if self._tb is not None:
            for k, v in clean.items():
                if isinstance(v, float):
                    self._tb.add_scalar(f"{tag}/{k}" if tag else k, v, step)

    def cut_back(self, step: int) -> None:
        """:func:`truncate_jsonl` of this log to ``step`` (a run resuming from its step-``step`` checkpoint), then go
        on appending to the cut file: the file is replaced, so the handle opened before it must be reopened or every
        later row would go to the unlinked old file."""
        self._f.close()
        truncate_jsonl(self.path, step)
        self._f = open(self.path, "a", buffering=1)

    def flush(self) -> None:
        self._f.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        self._f.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def run_dir_kept_on_success(run_dir: str | os.PathLike, owner=None):
    """Make ``run_dir`` for a run's start-up inside the ``with`` block; if the block fails and the folder did not
    exist before, close ``owner.logger`` (when it got that far) and remove the folder: a failed start must not leave
    a half-made run folder behind. A folder that existed (a resume, a chosen name) is left as it is."""
    import shutil
    run_dir = Path(run_dir)
    fresh = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield run_dir
    except BaseException:
        if fresh:
            logger = getattr(owner, "logger", None)
            if logger is not None:
                logger.close()
            shutil.rmtree(run_dir, ignore_errors=True)
        raise


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Rows of a metrics.jsonl file: JSON objects whose step, if any, is a number (a torn last line from a crash, or
    a line edited into something else, is skipped)."""
    rows = []
    with open(path, errors="replace") as f:
        for line in f:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("step", 0), (int, float)) and not isinstance(row.get("step"), bool):
                rows.append(row)
    return rows


def truncate_jsonl(path: str | os.PathLike, step: int) -> None:
    """Cut a metrics.jsonl back to the rows logged at or before ``step`` (rows without a step stay; a torn line
    from a crash goes): what a run resuming from its step-``step`` checkpoint does to the log it continues, so that
    the rows logged after that checkpoint are not doubled. Written atomically (tmp + replace)."""
    path = Path(path)
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        try:
            later = isinstance(row, dict) and float(row.get("step", 0)) > step
        except (TypeError, ValueError):  # a step that is no number: not a row this cut is about
            later = False
        if not later:
            keep.append(line)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("".join(x + "\n" for x in keep))
    os.replace(tmp, path)
