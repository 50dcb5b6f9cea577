"""Screening and affinity metrics on hand-computed cases."""
import math

import numpy as np
import pytest
from scipy import stats

from atomgrid import metrics as M


def test_roc_auc_known_values_and_ties():
    assert M.roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert M.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert M.roc_auc([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]) == 0.75
    assert M.roc_auc([1, 0], [0.5, 0.5]) == 0.5  # a tie counts one half
    assert math.isnan(M.roc_auc([1, 1], [0.1, 0.2]))


def test_pr_auc_is_average_precision():
    # actives at ranks 1 and 3: (1/1 + 2/3) / 2
    assert M.pr_auc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 + 2 / 3) / 2)


def test_enrichment_factor():
    y = np.zeros(200)
    y[:4] = 1  # 2 % actives
    s = -np.arange(200.0)  # actives ranked first
    assert M.enrichment_factor(y, s, 0.01) == pytest.approx(1.0 / 0.02)  # top 2 all active
    assert M.enrichment_factor(y, s, 0.05) == pytest.approx((4 / 10) / 0.02)
    assert M.enrichment_factor(y, -s, 0.05) == 0.0


def test_bedroc_perfect_worst_and_random_ordering():
    y = np.zeros(1000)
    y[:10] = 1
    assert M.bedroc(y, -np.arange(1000.0)) == pytest.approx(1.0, abs=1e-3)
    assert M.bedroc(y, np.arange(1000.0)) == pytest.approx(0.0, abs=1e-3)
    rng = np.random.default_rng(0)
    vals = [M.bedroc(y, rng.random(1000)) for _ in range(200)]
    # the expected BEDROC of a random ranking is about ra + small terms (~0.02-0.06 here)
    assert 0.0 < float(np.mean(vals)) < 0.12


def test_affinity_metrics_agree_with_scipy():
    rng = np.random.default_rng(1)
    y = rng.normal(6, 2, 50)
    p = y + rng.normal(0, 1, 50)
    p[3] = p[4]  # a tie for Spearman
    assert M.pearson(y, p) == pytest.approx(stats.pearsonr(y, p)[0], abs=1e-12)
    assert M.spearman(y, p) == pytest.approx(stats.spearmanr(y, p)[0], abs=1e-12)
    assert M.rmse([1.0, 2.0], [2.0, 4.0]) == pytest.approx(math.sqrt(2.5))


def test_bootstrap_interval_contains_value_and_is_reproducible():
    rng = np.random.default_rng(2)
    y = rng.normal(size=100)
    p = y + rng.normal(size=100)
    v, lo, hi = M.bootstrap(M.pearson, y, p, n=300, seed=3)
    assert lo < v < hi and (v, lo, hi) == M.bootstrap(M.pearson, y, p, n=300, seed=3)
    with pytest.raises(ValueError, match="same length"):
        M.pearson([1, 2], [1])
