"""int8 inference on the CPU: post-training static quantization of a trained fp32 module.

Convolutions and linear layers run on int8 weights and activations (per-channel weight scales,
activation ranges observed on calibration batches) through PyTorch's x86 quantized backend, whose
kernels use the CPU's VNNI dot-product instructions (AVX512-VNNI or AVX-VNNI). On a CPU without a bf16
matrix unit this is the fast path: a residual tower runs about 3x faster than fp32 at the batch sizes
a search uses (benchmarks/results/int8-*.json). Training never uses it; weights and checkpoints stay
fp32, and the int8 module is rebuilt from them (a second or so) wherever it is needed.

The quantization is graph mode (torch.ao FX): the module is traced once with its data-dependent
arguments fixed (`concrete_args`), batch norms are folded into the convolutions, and operations
without an int8 kernel stay fp32 between dequantize/quantize steps, so any module that traces works.
"""
from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Iterable

import torch


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


def quantize_int8(module: torch.nn.Module, calibration: Iterable[torch.Tensor] | Callable[[torch.nn.Module], None],
                  concrete_args: dict | None = None, example: torch.Tensor | None = None) -> torch.nn.Module:
    """An int8 copy of `module` (in eval mode, on the CPU) for inference: traced with FX (arguments in
    `concrete_args` fixed), observed on every batch of `calibration` (inputs as the module takes them),
    converted. `calibration` may instead be a function that runs the observing copy itself (it computes
    what the fp32 module does, so it can, e.g., play the calibration games: one pass instead of two); `example`
    is then an input batch for tracing. The original module is left as it is. Raises ValueError when no
    backend exists or the calibration is empty."""
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
    if concrete_args:
        model = _Fixed(model, concrete_args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch.ao.quantization's deprecation notices
        first = example.detach().float().cpu() if run is not None else batches[0]
        prepared = prepare_fx(model, get_default_qconfig_mapping(backend), example_inputs=(first,))
        with torch.inference_mode():
            if run is not None:
                run(prepared)
            for b in batches:
                prepared(b)
        return convert_fx(prepared).eval()


class _Fixed(torch.nn.Module):
    """`module(x, **kwargs)` as a one-argument module, so that tracing sees the keywords as constants."""

    def __init__(self, module: torch.nn.Module, kwargs: dict):
        super().__init__()
        self.m = module
        self.kwargs = dict(kwargs)

    def forward(self, x):
        return self.m(x, **self.kwargs)
