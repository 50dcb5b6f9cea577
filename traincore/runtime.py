"""Device and precision choice, autocast, channels_last, optional torch.compile, and seeding.

One `Runtime` object carries these choices so that no module reads device flags on its own.

Precision is one choice, `auto` (default), `fp32`, `bf16` or `int8`:
- `auto` picks bf16 autocast on CUDA; on a CPU it picks bf16 autocast with channels_last only when
  torch reports a bf16 matrix unit (AMX tiles or AVX512-BF16, see `cpu_bf16_unit`), and fp32
  otherwise. Without such a unit oneDNN emulates bf16 and runs it several times slower than fp32
  (measured: benchmarks/results/precision-*.json), so `auto` never picks it there.
- `fp32` forces plain fp32; `bf16` forces bf16 autocast and is refused, with the reason, on a
  device that cannot run it fast.
- `int8` is for inference on the CPU only (search engines, scoring): the net is quantized after
  training (`traincore.quant`, int8 weights and activations on the CPU's VNNI unit) where it is used;
  it is refused on other devices, on CPUs without VNNI, and by the trainers (`Runtime.check_trainable`).
- `auto` for a search engine (`Runtime.create(..., inference=True)`, what `boardnet.engine.Engine.from_checkpoint`
  and so `boardnet play/gtp/uci/arena` ask for) picks int8 on a CPU with VNNI: the engines' searches ran
  1.29-1.85x the nodes a second of bf16 autocast on a CPU with AVX512-BF16 and 1.07-2.28x fp32's on one without
  a bf16 unit, with top-1 agreement of 97-100 % where fp32 has a clear best move (benchmarks/results/int8_vs_bf16.json, int8.json). Training,
  self-play actors, raw-policy players and atomgrid keep the rules above.
Weights, optimizer state and checkpoints stay fp32 in every mode; bf16 is autocast only.
"""
from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import numpy as np
import torch

PRECISIONS = ("auto", "fp32", "bf16", "int8")


def cpu_bf16_unit() -> str | None:
    """The CPU's bf16 matrix unit that torch can use: 'AMX', 'AVX512-BF16', or None.

    oneDNN (`torch.ops.mkldnn._is_mkldnn_bf16_supported`) also says yes on plain AVX512 CPUs, where
    bf16 is emulated and slower than fp32, so only the two real units count here.
    """
    cpu = getattr(torch, "cpu", None)
    if not torch.backends.mkldnn.is_available() or cpu is None:
        return None
    amx = getattr(cpu, "_is_amx_tile_supported", None)
    if amx is not None and amx():
        return "AMX"
    avx = getattr(cpu, "_is_avx512_bf16_supported", None)
    if avx is not None and avx():
        return "AVX512-BF16"
    return None


_NO_CPU_BF16 = ("this CPU has no bf16 matrix unit (torch reports neither AMX tiles nor AVX512-BF16), "
                "so bf16 would be emulated and run slower than fp32")


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
    except RuntimeError:
        raise ValueError(f"device {name!r}: not a torch device (cpu, cuda, cuda:N, mps)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available on this machine")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {name!r}: MPS is not available on this machine")
    return dev


@dataclass(frozen=True)
class Runtime:
    """Where and how tensors are computed.

    autocast_dtype: torch.bfloat16 when bf16 autocast is on, None for plain fp32 and int8.
    precision: the precision actually used, 'bf16', 'fp32' or 'int8' (CPU inference on a quantized copy
    of the net, made by the evaluator); reason: why it was picked (one line).
    channels_last: NHWC activations and weights (on by default with CPU bf16, where oneDNN wants it).
    compile is honoured only on CUDA (on CPU it costs minutes of compile time for little gain).
    """

    device: torch.device
    autocast_dtype: torch.dtype | None = None
    channels_last: bool = False
    compile: bool = False
    precision: str = "fp32"
    requested: str = "auto"
    reason: str = ""

    @classmethod
    def create(cls, device: str = "auto", channels_last: bool | None = None, compile: bool = False,
               precision: str = "auto", allow_emulated: bool = False, inference: bool = False) -> "Runtime":
        """channels_last: None follows the precision (on for CPU bf16, off otherwise); True asks for
        it where it helps (CUDA, CPU bf16). Raises ValueError (one line) for a precision the device
        cannot run. allow_emulated: let `bf16` run on a CPU without a bf16 unit (oneDNN emulates it,
        slowly; same numerics), for numerical checks and strength matches, never for speed.
        inference: the runtime of a search engine (inference only); `auto` then picks int8 on a CPU
        with VNNI (see the module doc)."""
        dev = resolve_device(device)
        precision = (precision or "auto").strip().lower()
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
        if precision == "auto" and inference and dev.type == "cpu":
            from traincore.quant import cpu_int8_unit, int8_unavailable_reason
            if int8_unavailable_reason() is None:
                return cls(device=dev, precision="int8", requested="auto",
                           reason=f"int8 inference on {cpu_int8_unit()}, the fastest here for search engines")
        if precision == "int8":
            from traincore.quant import cpu_int8_unit, int8_unavailable_reason
            if dev.type != "cpu":
                raise ValueError(f"precision 'int8': CPU inference only, not {dev.type}; use --precision auto "
                                 "(bf16 on CUDA) or --device cpu")
            why = int8_unavailable_reason()
            if why is not None:
                raise ValueError(f"precision 'int8': {why}; use --precision fp32 or auto")
            return cls(device=dev, precision="int8", requested=precision,
                       reason=f"int8 asked for: quantized inference on {cpu_int8_unit()}")
        use_bf16, reason = _choose_bf16(dev, precision, allow_emulated)
        if dev.type == "cuda":
            cl = bool(channels_last)
        elif dev.type == "cpu" and use_bf16:
            cl = channels_last is None or bool(channels_last)
        else:
            cl = False
        return cls(device=dev, autocast_dtype=torch.bfloat16 if use_bf16 else None, channels_last=cl,
                   compile=compile and dev.type == "cuda", precision="bf16" if use_bf16 else "fp32",
                   requested=precision, reason=reason)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def int8(self) -> bool:
        """Whether nets run as int8 quantized copies (CPU inference only)."""
        return self.precision == "int8"

    def check_trainable(self) -> None:
        """Raise ValueError (one line) where this runtime cannot train: int8 is inference only."""
        if self.int8:
            raise ValueError("precision 'int8' is for inference (play, analysis, scoring), not training; "
                             "train with --precision auto or fp32 and use int8 for the trained net")

    def describe(self) -> str:
        """One line for start-up logs, e.g. 'cpu bf16 autocast + channels_last (auto: AMX)'."""
        what = ("bf16 autocast" if self.autocast_dtype is not None
                else "int8 (quantized)" if self.int8 else "fp32")
        if self.channels_last:
            what += " + channels_last"
        return f"{self.device} {what} ({self.requested}: {self.reason})"

    def metadata(self) -> dict:
        """What goes into run metadata, checkpoints, model cards and results JSON."""
        return {"device": str(self.device), "precision": self.precision, "requested": self.requested,
                "channels_last": self.channels_last, "reason": self.reason,
                "cpu_bf16_unit": cpu_bf16_unit(), "torch": str(torch.__version__)}

    def autocast(self):
        """bf16 autocast when precision is bf16; a no-op context for fp32."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """Move to the device (channels_last if chosen) and compile if asked. Weights stay fp32.
        Keep a handle on the uncompiled module for saving: `unwrap(model)`."""
        model = model.to(self.device)
        if self.channels_last and not any(p.dim() == 5 for p in model.parameters()):
            # NHWC is a 2-D layout; 3-D nets (atomgrid) keep theirs
            model = model.to(memory_format=torch.channels_last)
        if self.compile:
            model = torch.compile(model)
        return model

    def to_device(self, x: torch.Tensor, non_blocking: bool = True) -> torch.Tensor:
        """Move a batch to the device; a 4-d batch is made channels_last when that layout is chosen
        (no copy when it already is)."""
        x = x.to(self.device, non_blocking=non_blocking and self.is_cuda)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def _choose_bf16(dev: torch.device, precision: str, allow_emulated: bool = False) -> tuple[bool, str]:
    if precision == "fp32":
        return False, "fp32 asked for"
    if dev.type == "cuda":
        return True, "CUDA bf16" if precision == "auto" else "bf16 asked for"
    if dev.type == "cpu":
        unit = cpu_bf16_unit()
        if unit is not None:
            return True, unit if precision == "auto" else f"bf16 asked for, {unit}"
        if precision == "bf16" and allow_emulated and torch.backends.mkldnn.is_available():
            return True, "bf16 asked for, emulated: no AMX or AVX512-BF16 on this CPU (slow)"
        if precision == "bf16":
            raise ValueError(f"precision 'bf16' on the CPU: {_NO_CPU_BF16}; use --precision fp32 or auto")
        return False, "fp32 because " + _NO_CPU_BF16
    if precision == "bf16":
        raise ValueError(f"precision 'bf16': supported on CUDA and on CPUs with AMX or AVX512-BF16, "
                         f"not on {dev.type}; use --precision fp32 or auto")
    return False, f"fp32 on {dev.type}"


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
