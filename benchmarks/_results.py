"""One JSON file per benchmark run under benchmarks/results/: the command line, versions, threads,
CPU, the runtime choice, model sha256 where a model is used, the date, and the figures."""
from __future__ import annotations

import datetime as _dt
import platform
import sys
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"


from traincore.provenance import sha256, write_json  # noqa: E402,F401  (one implementation)


def cpu_info() -> dict:
    from traincore.runtime import cpu_bf16_unit
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": name, "cpu_bf16_unit": cpu_bf16_unit(),
            "amx_tile": bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()),
            "avx512_bf16": bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()),
            "torch_cpu_capability": torch.backends.cpu.get_cpu_capability()}


def write_result(name: str, figures: dict, models: dict | None = None, out: str | Path | None = None) -> Path:
    """Write benchmarks/results/<name>-<UTC date-time>.json (or `out`); returns the path."""
    from traincore._version import __version__
    now = _dt.datetime.now(_dt.timezone.utc)
    doc = {"benchmark": name, "command": " ".join([Path(sys.executable).name, *sys.argv]),
           "date": now.isoformat(timespec="seconds"), "gridnets": __version__, "python": platform.python_version(),
           "torch": str(torch.__version__), "numpy": __import__("numpy").__version__,
           "torch_threads": torch.get_num_threads(), **cpu_info(),
           "models": {k: {"path": str(v), "sha256": sha256(v)} for k, v in (models or {}).items()},
           "figures": figures}
    path = Path(out) if out else RESULTS / f"{name}-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    return write_json(path, doc)
