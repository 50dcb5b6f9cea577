"""Where a published figure came from: command line, versions, git commit, machine, date, and the
sha256 of every model and data file it used. Every command that writes a results JSON puts this in it.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import math
import os
import platform
import subprocess
import sys
from pathlib import Path


def utc_now() -> str:
    """The time now in UTC, ISO 8601 to the second: a results file's `date` (and `finished`)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_commit(cwd: str | os.PathLike | None = None) -> str | None:
    """The checkout's commit (with '+dirty' when files differ), or None outside a git checkout."""
    here = Path(cwd) if cwd else Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not rev:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> dict:
    out = {"python": platform.python_version()}
    for mod in ("torch", "numpy", "chess", "rdkit", "ray"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", None) or getattr(m, "version", None)
    from traincore._version import __version__
    out["gridnets"] = __version__
    return out


def provenance(models: list | tuple = (), data: list | tuple = (), argv: list[str] | None = None) -> dict:
    """The provenance block of a results JSON. `models` and `data` are file paths (hashed; folders
    are listed by name only)."""
    def describe(p):
        p = Path(p)
        if p.is_file():
            return {"path": str(p), "bytes": p.stat().st_size, "sha256": sha256(p)}
        return {"path": str(p), "exists": p.exists()}
    return {"command": " ".join([Path(sys.argv[0]).name] + list(sys.argv[1:] if argv is None else argv)),
            "date": utc_now(),
            "git_commit": git_commit(), "versions": versions(), "cpu": cpu_name(), "cores": os.cpu_count(),
            "models": [describe(m) for m in models], "data": [describe(d) for d in data]}


def strict_json(obj):
    """``obj`` as plain JSON values with every non-finite float (a figure that could not be measured: no decoy poses,
    a constant column) as None, so the text is standard JSON (``null``) that any parser reads; Python's default
    writes ``NaN``, which JavaScript's and many other parsers refuse. Numpy scalars and arrays become floats and
    lists. Readers take null as NaN where they compute (:func:`num`)."""
    def walk(x):
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [walk(v) for v in x]
        if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
            return x
        if hasattr(x, "tolist"):  # numpy scalar or array
            return walk(x.tolist())
        x = float(x)
        return x if math.isfinite(x) else None
    return walk(obj)


def num(x) -> float:
    """A figure read from a results file as a float: null (not measured; older files wrote NaN) is NaN."""
    return math.nan if x is None else float(x)


def write_json(path: str | os.PathLike, doc) -> Path:
    """Write ``doc`` to ``path`` (folders made) as standard JSON (:func:`strict_json`), indented, UTF-8, one trailing
    newline: the one format of every results file. Returns the path."""
    import json
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(strict_json(doc), indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return out


def write_results(path: str | os.PathLike, benchmark: str, figures, models: list | tuple = (),
                  data: list | tuple = (), settings: dict | None = None) -> Path:
    """Write a results file that docs and model cards can cite: {benchmark, provenance..., settings,
    figures}, by the command that measured the figures. Returns the path. The file is standard JSON: a figure that
    could not be measured is ``null`` (:func:`strict_json`; files written before session 32 may hold ``NaN``)."""
    doc = {"benchmark": benchmark, **provenance(models=models, data=data), "settings": settings or {},
           "figures": figures}
    return write_json(path, doc)
