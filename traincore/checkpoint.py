"""Atomic checkpoints with safe loading.

A checkpoint is a dict of plain values and tensors: {"schema_version", "kind", "step", "config",
"model", "optimizer", "scheduler", "rng", ...}. Files are written to a temp file, fsynced and renamed,
so a crash never leaves a half-written checkpoint under the final name. Loading uses
`torch.load(weights_only=True)`: arbitrary pickles are refused. Every failure to read is a
`CheckpointError` with one line naming the file and the reason.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

SCHEMA_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be read or is not one of ours."""


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write `state` atomically (temp file + fsync + rename). Adds schema_version if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = dict(state)
    state.setdefault("schema_version", SCHEMA_VERSION)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    kind: str | None = None) -> dict[str, Any]:
    """Load a checkpoint safely; `kind` (e.g. 'boardnet') is checked when given."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for bad files; all mean "cannot use this file"
        text = str(e)
        if "Unsupported global" in text:  # a pickle that names a Python class or function
            m = re.search(r"Unsupported global: GLOBAL (\S+)", text)
            what = f" ({m.group(1)})" if m else ""
            raise CheckpointError(f"checkpoint {path}: refused, it holds Python objects{what} beyond plain "
                                  "tensors and values; only weights_only-safe checkpoints are loaded") from None
        if "Weights only load failed" in text:  # bytes the safe unpickler cannot read at all: not a checkpoint
            raise CheckpointError(f"checkpoint {path}: truncated or corrupt (not a readable torch file)") from None
        first = text.strip().splitlines()[0].split(". ")[0][:160] if text.strip() else type(e).__name__
        raise CheckpointError(f"checkpoint {path}: truncated or corrupt ({type(e).__name__}: {first})") from None
    if not isinstance(state, dict) or "schema_version" not in state:
        raise CheckpointError(f"checkpoint {path}: not a traincore checkpoint (no schema_version)")
    if state["schema_version"] > SCHEMA_VERSION:
        raise CheckpointError(f"checkpoint {path}: schema version {state['schema_version']} is newer than "
                              f"this code's {SCHEMA_VERSION}; upgrade the package")
    if kind is not None and state.get("kind") != kind:
        raise CheckpointError(f"checkpoint {path}: holds a {state.get('kind')!r} model, expected {kind!r}")
    return state


_STEP_RE = re.compile(r"^ckpt_(\d{9})\.pt$")


class CheckpointManager:
    """Keeps the last N step checkpoints plus the best one in a run folder.

    Files: ckpt_<step:09d>.pt, best.pt (a copy of the best by `metric`), and index.json recording
    the best metric so that "best" survives restarts.
    """

    def __init__(self, run_dir: str | os.PathLike, keep_last: int = 3):
        if keep_last < 1:
            raise ValueError(f"keep_last={keep_last}: must be >= 1")
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep_last = keep_last
        self._index_path = self.dir / "checkpoints.json"
        self._index = {"best_metric": None, "best_step": None}
        if self._index_path.exists():
            try:
                self._index.update(json.loads(self._index_path.read_text()))
            except (json.JSONDecodeError, OSError):
                pass  # the index is a cache; checkpoints themselves are authoritative

    def steps(self) -> list[int]:
        return sorted(int(m.group(1)) for p in self.dir.iterdir() if (m := _STEP_RE.match(p.name)))

    def path_for(self, step: int) -> Path:
        return self.dir / f"ckpt_{step:09d}.pt"

    def save(self, state: dict[str, Any], step: int, metric: float | None = None,
             higher_is_better: bool = True) -> Path:
        state = dict(state, step=step)
        path = save_checkpoint(self.path_for(step), state)
        if metric is not None:
            best = self._index["best_metric"]
            if best is None or (metric > best if higher_is_better else metric < best):
                save_checkpoint(self.dir / "best.pt", dict(state, metric=metric))
                self._index.update(best_metric=float(metric), best_step=int(step))
        tmp = self._index_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._index))
        os.replace(tmp, self._index_path)
        for old in self.steps()[:-self.keep_last]:
            self.path_for(old).unlink(missing_ok=True)
        return path

    def latest(self) -> Path | None:
        steps = self.steps()
        return self.path_for(steps[-1]) if steps else None

    def best(self) -> Path | None:
        p = self.dir / "best.pt"
        return p if p.exists() else None

    def load_latest(self, **kw) -> dict[str, Any] | None:
        """The newest readable checkpoint (a corrupt newest one falls back to the one before; what was passed over
        is in ``self.skipped``, for the caller to report)."""
        errors = []
        self.skipped = errors
        for step in reversed(self.steps()):
            try:
                return load_checkpoint(self.path_for(step), **kw)
            except CheckpointError as e:
                errors.append(str(e))
        if errors:
            raise CheckpointError("; ".join(errors))
        return None


def training_state(*, model: torch.nn.Module, step: int, optimizer: torch.optim.Optimizer | None = None,
                   scheduler: Any = None, config: dict | None = None, kind: str = "generic",
                   rng: bool = True, **extra: Any) -> dict[str, Any]:
    """Everything needed to resume, as plain values: weights of the unwrapped module, optimizer and
    scheduler state, step, the resolved config (a dict) and the RNG states of Python/NumPy/torch."""
    from traincore.runtime import rng_state, unwrap
    state: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "kind": kind, "step": int(step),
                             "model": unwrap(model).state_dict()}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        state["scheduler"] = scheduler.state_dict()
    if config is not None:
        state["config"] = config
    if rng:
        state["rng"] = rng_state()
    state.update(extra)
    return state


def restore_training_state(state: dict[str, Any], *, model: torch.nn.Module,
                           optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                           rng: bool = True) -> int:
    """Load what `training_state` saved into live objects; returns the step."""
    from traincore.runtime import set_rng_state, unwrap
    try:
        unwrap(model).load_state_dict(state["model"])
    except (RuntimeError, KeyError) as e:
        raise CheckpointError(f"checkpoint does not fit this model: {str(e).splitlines()[0][:200]}") from None
    if optimizer is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and "scheduler" in state:
        scheduler.load_state_dict(state["scheduler"])
    if rng and "rng" in state:
        set_rng_state(state["rng"])
    return int(state.get("step", 0))
