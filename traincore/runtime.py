"""Device and precision choice, autocast, channels_last, optional torch.compile, and seeding.

One `Runtime` object carries these choices so that no module reads device flags on its own.
"""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks cuda > mps > cpu; 'cpu', 'cuda', 'cuda:1', 'mps' are taken as given (checked)."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"device {name!r}: not a torch device ({e})") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available on this machine")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r}: MPS is not available on this machine")
    return dev


@dataclass(frozen=True)
class Runtime:
    """Where and how tensors are computed.

    dtype is the autocast dtype: bfloat16 on CUDA, None (plain fp32) elsewhere.
    compile is honoured only on CUDA (on CPU it costs minutes of compile time for little gain).
    """

    device: torch.device
    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False
    compile: bool = False

    @classmethod
    def create(cls, device: str = "auto", channels_last: bool = False, compile: bool = False,
               precision: str = "auto") -> "Runtime":
        dev = resolve_device(device)
        if precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision {precision!r}: expected auto, fp32 or bf16")
        use_bf16 = dev.type == "cuda" and precision in ("auto", "bf16")
        if precision == "bf16" and dev.type != "cuda":
            raise ValueError(f"precision 'bf16' needs a CUDA device, got {dev}")
        return cls(device=dev, autocast_dtype=torch.bfloat16 if use_bf16 else None,
                   channels_last=channels_last and dev.type == "cuda",
                   compile=compile and dev.type == "cuda")

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def autocast(self):
        """bf16 autocast on CUDA; a no-op context elsewhere."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move to the device (channels_last if asked) and compile if asked. Keep a handle on the
        uncompiled module for saving: `unwrap(model)`."""
        model = model.to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.compile:
            model = torch.compile(model)
        return model

    def to_device(self, x: torch.Tensor, non_blocking: bool = True) -> torch.Tensor:
        x = x.to(self.device, non_blocking=non_blocking and self.is_cuda)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module behind torch.compile (save this one, never the wrapper)."""
    return getattr(model, "_orig_mod", model)


def worker_seed(seed: int, worker: int = 0) -> int:
    """A distinct, reproducible seed per worker derived from one base seed."""
    return int(np.random.SeedSequence([int(seed), int(worker)]).generate_state(1)[0])


def seed_everything(seed: int, worker: int = 0) -> int:
    """Seed Python, NumPy and torch (all devices) with the worker's seed; returns it."""
    s = worker_seed(seed, worker)
    random.seed(s)
    np.random.seed(s % 2**32)
    torch.manual_seed(s)
    os.environ.setdefault("PYTHONHASHSEED", str(s % 2**32))
    return s


def rng_state() -> dict:
    """All RNG states as plain tensors/lists (safe for weights_only loading)."""
    st = {
        "python": _py_state_to_list(random.getstate()),
        "numpy": _np_state_to_dict(np.random.get_state()),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict) -> None:
    random.setstate(_py_state_from_list(st["python"]))
    np.random.set_state(_np_state_from_dict(st["numpy"]))
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def _py_state_to_list(s):
    version, internal, gauss = s
    return [version, list(internal), gauss]


def _py_state_from_list(s):
    return (s[0], tuple(s[1]), s[2])


def _np_state_to_dict(s):
    return {"name": s[0], "keys": torch.from_numpy(np.asarray(s[1], dtype=np.int64)),
            "pos": int(s[2]), "has_gauss": int(s[3]), "gauss": float(s[4])}


def _np_state_from_dict(d):
    return (d["name"], d["keys"].numpy().astype(np.uint32), d["pos"], d["has_gauss"], d["gauss"])
