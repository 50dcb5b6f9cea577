"""Vina's energies of given poses (``score_only`` and after a local optimisation) over one set of maps, and the
per-pose score caches (CSV beside a pose file) the protocol and ``atomgrid evaluate --vina-prior`` keep them in.
One module both :mod:`atomgrid.crossval` and :mod:`atomgrid.evaluate` import (neither imports the other for it)."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from rdkit import Chem


def vina_available() -> str | None:
    """None when Vina score_only can run, else the reason it cannot."""
    try:
        import meeko  # noqa: F401
        import vina  # noqa: F401
    except ImportError as exc:
        return f"vina/meeko not installed ({exc.name}); pip install -e .[dock] to add the Vina column"
    return None


def vina_maps_box(reference_xyz: np.ndarray, poses_xyz: list[np.ndarray], margin: float = 2.0):
    """Vina's grid for scoring given poses: the crystal ligand's autobox grown by 4 Å a side, grown further to
    hold every atom of every pose (plus ``margin`` Å for the hydrogens meeko adds): Vina refuses, and the
    molecule would rank last, when one atom lies outside its maps, and template poses can reach past the box."""
    from . import io as agio
    box = agio.autobox(reference_xyz, 4.0)
    lo = np.asarray(box.center) - np.asarray(box.size) / 2 - 4.0
    hi = np.asarray(box.center) + np.asarray(box.size) / 2 + 4.0
    for xyz in poses_xyz:
        if len(xyz):
            lo, hi = np.minimum(lo, xyz.min(0) - margin), np.maximum(hi, xyz.max(0) + margin)
    return agio.Box(tuple(((lo + hi) / 2).tolist()), tuple((hi - lo).tolist()))


def vina_scores(receptor: Path, reference: Path, mols: list[Chem.Mol | None],
                reasons: dict[int, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vina energies (kcal/mol) of posed molecules: (``score_only`` of each pose as it is, the energy after
    Vina's local optimisation of it), from one receptor preparation, one set of maps and one ligand
    preparation per molecule; NaN where Vina fails (the reason into ``reasons[i]`` when given)."""
    from . import io as agio
    from .poses import PrepError, VinaScorer, heavy_indices, receptor_pdbqt
    from .score_worker import given_receptor_pdbqt
    rec = agio.read_receptor(receptor)
    ref = agio.read_reference(reference)
    maps = vina_maps_box(agio.coordinates(ref)[heavy_indices(ref)],
                         [m.GetConformer().GetPositions() for m in mols if m is not None and m.GetNumConformers()])
    vs = VinaScorer(given_receptor_pdbqt(receptor) or receptor_pdbqt(rec, maps), maps)
    out = np.full((2, len(mols)), math.nan)
    for i, m in enumerate(mols):
        if m is None:
            continue
        try:
            out[0, i], out[1, i] = vs.energies(m, local=True)
        except PrepError as exc:  # one molecule meeko cannot type must not end the run
            if reasons is not None:
                reasons[i] = str(exc)
    return out[0], out[1]


def read_score_cache(cache: Path, sdf: Path, ids: list[str], columns: tuple[str, ...]) -> list[np.ndarray] | None:
    """``columns`` of a per-pose cache CSV (id, then one column per score) while it has exactly those columns,
    lists exactly ``ids`` and is newer than ``sdf`` (poses are never rewritten in place); None when it must be
    recomputed."""
    if not (cache.exists() and cache.stat().st_mtime >= sdf.stat().st_mtime):
        return None
    with open(cache, newline="") as f:
        header, *rows = list(csv.reader(f))
    if header != ["id", *columns] or [r[0] for r in rows] != ids:
        return None
    return [np.asarray([float(r[c]) for r in rows]) for c in range(1, len(header))]


def write_score_cache(cache: Path, ids: list[str], columns: dict[str, np.ndarray]) -> None:
    """Write ``columns`` per id as a cache CSV read by :func:`read_score_cache` (through a temporary file)."""
    tmp = cache.with_suffix(".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", *columns])
        w.writerows([i, *(repr(float(c[k])) for c in columns.values())] for k, i in enumerate(ids))
    tmp.replace(cache)
