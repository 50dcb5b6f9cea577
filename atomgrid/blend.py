"""Ranking by the model and its ligand-only twin together: ``z(model) + w * z(ligand_only)``.

Both scores are z-scored over one library (the scored molecules of one target), so the weight means the
same on every target and no label is used. The cross-target protocol (``atomgrid crossval --blend``) and
``atomgrid score`` (its ``blend`` column) compute it with the same function, :func:`blend_scores`.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

# The weight of the ligand-only twin chosen on the 34 validation targets (v34) from {0.25, 0.5, 0.75, 1.0} by the
# seed-averaged mean ROC AUC of two seeds of the 8,000-step recipe (rule written first, campaigns/atomgrid-val34,
# session 18: benchmarks/results/atomgrid_crossval-validation34-rot16-blendw-ag-v34-sf08wd-s1{0,1}.json). For the
# 16,000-step default the same rule did not pass (...-blend-ag-v34-sf08wd16k-s1{0,1}.json), so `atomgrid score`
# ranks by the model unless asked (`--blend 0.5`).
BLEND_WEIGHT = 0.5


def zscore(s: np.ndarray) -> np.ndarray:
    """(s - mean) / sd over the finite entries (sd 0 counts as 1); non-finite entries become -inf."""
    s = np.asarray(s, float)
    finite = np.isfinite(s)
    z = np.full(len(s), -math.inf)
    if finite.any():
        v = s[finite]
        sd = v.std()
        z[finite] = (v - v.mean()) / (sd if sd > 0 else 1.0)
    return z


def blend_scores(model: np.ndarray, other: np.ndarray, weight: float) -> np.ndarray:
    """``z(model) + weight * z(other)``, each score z-scored over one target's library (no labels used), so
    the weight means the same on every target. A molecule the model could not score (unposed) stays last
    (-inf); one the other method failed on takes that method's lowest z of the library."""
    zm, zo = zscore(model), zscore(other)
    fo = np.isfinite(zo)
    zo = np.where(fo, zo, zo[fo].min() if fo.any() else 0.0)
    return np.where(np.isfinite(zm), zm + weight * zo, -math.inf)


def twin_beside(model_file: str | Path) -> Path | None:
    """The ligand-only twin shipped or saved beside a model: ``<stem>-ligonly<suffix>`` in its folder, or None."""
    p = Path(model_file)
    sib = p.with_name(p.stem + "-ligonly" + p.suffix)
    return sib if sib.is_file() else None
