"""Screening and affinity metrics with bootstrap confidence intervals (NumPy only).

Activity: ROC AUC (ties count one half), PR AUC (average precision), enrichment factor at a
fraction (actives among the top ``ceil(f * N)`` over the fraction expected at random), BEDROC
(Truchon & Bayly 2007, alpha = 20; ``bedroc80`` alpha = 80.5, the early-recognition setting
where the top ~2% of the list carries 80% of the weight). Affinity: Pearson R, Spearman rho, RMSE. ``bootstrap``
resamples items with replacement and returns the percentile interval.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np


def _check(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    s = np.asarray(s, dtype=np.float64).ravel()
    if y.shape != s.shape or y.size == 0:
        raise ValueError(f"labels and scores must be non-empty and the same length, got {y.size} and {s.size}")
    return y, s


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based), ties sharing the mean rank."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and xs[j + 1] == xs[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def roc_auc(y, s) -> float:
    y, s = _check(y, s)
    pos = y > 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    r = _ranks(s)
    return float((r[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pr_auc(y, s) -> float:
    """Average precision: mean over actives of the precision at each active's rank (ties broken pessimistically)."""
    y, s = _check(y, s)
    pos = y > 0.5
    if not pos.any():
        return float("nan")
    order = np.lexsort((pos.astype(int), -s))  # among equal scores, inactives first (pessimistic)
    hits = pos[order]
    tp = np.cumsum(hits)
    prec = tp / np.arange(1, len(hits) + 1)
    return float(prec[hits].mean())


def enrichment_factor(y, s, fraction: float) -> float:
    y, s = _check(y, s)
    pos = y > 0.5
    if not pos.any():
        return float("nan")
    n = len(y)
    k = max(1, int(math.ceil(fraction * n)))
    order = np.lexsort((pos.astype(int), -s))
    return float(pos[order[:k]].sum() / k / (pos.sum() / n))


def bedroc(y, s, alpha: float = 20.0) -> float:
    y, s = _check(y, s)
    pos = y > 0.5
    n, na = len(y), int(pos.sum())
    if na == 0 or na == n:
        return float("nan")
    order = np.lexsort((pos.astype(int), -s))
    ranks = np.nonzero(pos[order])[0] + 1.0  # 1-based ranks of actives
    ra = na / n
    rie_num = np.exp(-alpha * ranks / n).sum() / na
    rie_den = (1 / n) * (1 - math.exp(-alpha)) / (math.exp(alpha / n) - 1)
    rie = rie_num / rie_den
    factor = ra * math.sinh(alpha / 2) / (math.cosh(alpha / 2) - math.cosh(alpha / 2 - alpha * ra))
    return float(rie * factor + 1 / (1 - math.exp(alpha * (1 - ra))))


def pearson(y, p) -> float:
    y, p = _check(y, p)
    if y.std() == 0 or p.std() == 0:
        return float("nan")
    return float(np.corrcoef(y, p)[0, 1])


def spearman(y, p) -> float:
    y, p = _check(y, p)
    return pearson(_ranks(y), _ranks(p))


def rmse(y, p) -> float:
    y, p = _check(y, p)
    return float(np.sqrt(np.mean((y - p) ** 2)))


ACTIVITY_METRICS: dict[str, Callable] = {
    "roc_auc": roc_auc, "pr_auc": pr_auc,
    "ef1": lambda y, s: enrichment_factor(y, s, 0.01), "ef5": lambda y, s: enrichment_factor(y, s, 0.05),
    "bedroc20": bedroc,
}
BEDROC_EARLY_ALPHA = 80.5


def bedroc80(y, s) -> float:
    """BEDROC with alpha = 80.5 (Truchon & Bayly's early-recognition setting)."""
    return bedroc(y, s, BEDROC_EARLY_ALPHA)


# the cross-target protocol's figures (atomgrid crossval)
SCREEN_METRICS: dict[str, Callable] = {
    "roc_auc": roc_auc, "ef1": ACTIVITY_METRICS["ef1"], "ef5": ACTIVITY_METRICS["ef5"], "bedroc80": bedroc80,
}
AFFINITY_METRICS: dict[str, Callable] = {"pearson": pearson, "spearman": spearman, "rmse": rmse}


def bootstrap(metric: Callable, y, s, n: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(value, low, high): the metric and its percentile bootstrap interval over resampled items."""
    y, s = _check(y, s)
    value = metric(y, s)
    if n <= 0:
        return value, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(n):
        i = rng.integers(0, len(y), len(y))
        v = metric(y[i], s[i])
        if not math.isnan(v):
            vals.append(v)
    if not vals:
        return value, float("nan"), float("nan")
    a = (1 - level) / 2
    lo, hi = np.quantile(vals, [a, 1 - a])
    return value, float(lo), float(hi)


def report(metrics: dict[str, Callable], y, s, n_boot: int = 1000, seed: int = 0) -> dict[str, dict]:
    """{name: {"value", "low", "high"}} for each metric."""
    out = {}
    for name, fn in metrics.items():
        v, lo, hi = bootstrap(fn, y, s, n_boot, seed=seed)
        out[name] = {"value": v, "low": lo, "high": hi}
    return out
