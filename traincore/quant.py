"""int8 inference on the CPU: post-training static quantization of a trained fp32 module.

Convolutions and linear layers run on int8 weights and activations (per-channel weight scales,
activation ranges observed on calibration batches) through PyTorch's x86 quantized backend, whose
kernels use the CPU's VNNI dot-product instructions (AVX512-VNNI or AVX-VNNI). On a CPU without a bf16
matrix unit this is the fast path: a residual tower runs about 3x faster than fp32 at the batch sizes
a search uses (benchmarks/results/int8-*.json). Training never uses it; weights and checkpoints stay
fp32, and the int8 module is rebuilt from them wherever it is needed: quantized once (1-5 s, most of it the
calibration's fp32 passes), then kept in a cache folder (`int8_cache_dir`: `$GRIDNETS_CACHE/int8`, else
`$XDG_CACHE_HOME/gridnets/int8` or `~/.cache/gridnets/int8`; `GRIDNETS_CACHE=off` keeps none) under a key of the
fp32 weights, the calibration's name, torch's version and the backend, and rebuilt from it in well under a
second. Cache files hold only tensors and are read with `torch.load(weights_only=True)`; one that cannot be
read or does not fit is quantized again and replaced.

The quantization is graph mode (torch.ao FX): the module is traced once with its data-dependent
arguments fixed (`concrete_args`), batch norms are folded into the convolutions, and operations
without an int8 kernel stay fp32 between dequantize/quantize steps, so any module that traces works.
"""
from __future__ import annotations

import copy
import hashlib
import os
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import torch

CACHE_FORMAT = 1   # bump when what is cached, or how it is rebuilt, changes


def cpu_int8_unit() -> str | None:
    """The CPU feature that makes int8 fast here ('AVX512-VNNI' or 'AVX-VNNI'), or None; read from
    /proc/cpuinfo where it exists (Linux), else from torch's CPU capability string."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = line
                    break
    except OSError:
        pass
    if flags:
        words = set(flags.split())
        if "avx512_vnni" in words:
            return "AVX512-VNNI"
        if "avx_vnni" in words:
            return "AVX-VNNI"
        return None
    cap = str(getattr(torch.backends.cpu, "get_cpu_capability", lambda: "")()).lower()
    return "AVX512-VNNI" if "avx512_vnni" in cap or "amx" in cap else None


def int8_backend() -> str | None:
    """The quantized engine torch will use ('x86', else 'fbgemm' or 'onednn'), None if it has none."""
    engines = torch.backends.quantized.supported_engines
    for name in ("x86", "fbgemm", "onednn"):
        if name in engines:
            return name
    return None


def int8_unavailable_reason() -> str | None:
    """Why int8 inference cannot run fast on this machine (one line), or None when it can."""
    if int8_backend() is None:
        return "this torch build has no quantized CPU engine (x86, fbgemm or onednn)"
    if cpu_int8_unit() is None:
        return ("this CPU has no VNNI int8 dot-product unit (AVX512-VNNI or AVX-VNNI), so int8 would run "
                "no faster than fp32")
    return None


def int8_cache_dir() -> Path | None:
    """The folder quantized copies are kept in (see the module doc), or None when `GRIDNETS_CACHE=off`."""
    root = os.environ.get("GRIDNETS_CACHE", "").strip()
    if root.lower() in ("off", "0", "none", "false"):
        return None
    if root:
        return Path(root).expanduser() / "int8"
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg) if xdg else Path.home() / ".cache") / "gridnets" / "int8"


def weights_key(module: torch.nn.Module, *extra: str) -> str:
    """A hex key of a module's weights (names, shapes, dtypes, bytes) and `extra` strings, with torch's
    version, the int8 backend and the cache format: what an int8 copy depends on."""
    h = hashlib.sha256()
    for part in (str(CACHE_FORMAT), torch.__version__, str(int8_backend()), *extra):
        h.update(part.encode() + b"\0")
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:32]


def _cached(path: Path, prepare: Callable[[], torch.nn.Module]) -> torch.nn.Module | None:
    """The int8 module rebuilt from a cache file: the module prepared and converted without calibration,
    then given the cached scales, zero points and packed weights; None when the file is missing or does
    not fit."""
    if not path.is_file():
        return None
    from torch.ao.quantization.quantize_fx import convert_fx
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = convert_fx(prepare()).eval()
        q.load_state_dict(state, strict=True)
        return q
    except Exception:   # unreadable, another format, or another graph: quantize again and replace it
        return None


def _store(path: Path, module: torch.nn.Module) -> None:
    """Write the cache file atomically (a temp file renamed); a cache that cannot be written is skipped."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(module.state_dict(), tmp)
        os.replace(tmp, path)
    except (OSError, RuntimeError):
        tmp.unlink(missing_ok=True) if tmp.parent.is_dir() else None


def quantize_int8(module: torch.nn.Module, calibration: Iterable[torch.Tensor] | Callable[[torch.nn.Module], None],
                  concrete_args: dict | None = None, example: torch.Tensor | None = None,
                  cache_key: str | None = None, keep_fp32: Iterable[str] = ()) -> torch.nn.Module:
    """An int8 copy of `module` (in eval mode, on the CPU) for inference: traced with FX (arguments in
    `concrete_args` fixed), observed on every batch of `calibration` (inputs as the module takes them),
    converted. `calibration` may instead be a function that runs the observing copy itself (it computes
    what the fp32 module does, so it can, e.g., play the calibration games: one pass instead of two); `example`
    is then an input batch for tracing. `cache_key` (e.g. `weights_key(module, "<calibration name>")`): read
    the int8 copy from the cache folder when it is there (no calibration is run), else write it there. The
    original module is left as it is. `keep_fp32`: names of submodules (as `module.named_modules()` gives them) that
    stay fp32, e.g. small output heads whose rounding moves the answer more than their cost is worth; give them in
    `cache_key` too. Raises ValueError when no backend exists or the calibration is empty."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    backend = int8_backend()
    if backend is None:
        raise ValueError("int8: " + int8_unavailable_reason())
    run = calibration if callable(calibration) else None
    batches = [] if run is not None else [b.detach().float().cpu() for b in calibration]
    if run is None and not batches:
        raise ValueError("int8: no calibration batches")
    if run is not None and example is None:
        raise ValueError("int8: a calibration function needs an example input batch")
    torch.backends.quantized.engine = backend
    model = copy.deepcopy(module).cpu().eval()
    qmap = get_default_qconfig_mapping(backend)
    names = dict(module.named_modules())
    for name in keep_fp32:
        if name not in names:
            raise ValueError(f"int8 keep_fp32: {name!r} is not a submodule")
        qmap = qmap.set_module_name(("m." if concrete_args else "") + name, None)
    if concrete_args:
        model = _Fixed(model, concrete_args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch.ao.quantization's deprecation notices
        first = example.detach().float().cpu() if run is not None else batches[0]
        folder = int8_cache_dir() if cache_key else None
        path = folder / f"{cache_key}.pt" if folder is not None else None
        if path is not None:
            def bare():
                m = prepare_fx(copy.deepcopy(model), qmap, example_inputs=(first,))
                with torch.inference_mode():
                    m(first)   # observers need one batch before convert; the cached state replaces what they saw
                return m
            hit = _cached(path, bare)
            if hit is not None:
                return hit
        prepared = prepare_fx(model, qmap, example_inputs=(first,))
        with torch.inference_mode():
            if run is not None:
                run(prepared)
            for b in batches:
                prepared(b)
        q = convert_fx(prepared).eval()
    if path is not None:
        _store(path, q)
    return q


class _Fixed(torch.nn.Module):
    """`module(x, **kwargs)` as a one-argument module, so that tracing sees the keywords as constants."""

    def __init__(self, module: torch.nn.Module, kwargs: dict):
        super().__init__()
        self.m = module
        self.kwargs = dict(kwargs)

    def forward(self, x):
        return self.m(x, **self.kwargs)
