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


def test_bedroc80_against_a_hand_computed_value():
    # N = 100, actives at ranks 1, 5, 30, alpha = 80.5 (Truchon & Bayly 2007, eq. 36):
    # RIE = mean(e^-0.805, e^-4.025, e^-24.15) / ((1/N) (1 - e^-80.5) / (e^0.805 - 1))
    #     = 0.154984 / 0.0080859 = 19.1668
    # factor = Ra sinh(a/2) / (cosh(a/2) - cosh(a/2 - a Ra)), Ra = 0.03: = 0.03 / (1 - e^-2.415) = 0.032944
    # BEDROC = RIE * factor + 1 / (1 - e^(a (1 - Ra))) = 0.63143 + (-1.2e-34)
    y = np.zeros(100)
    y[[0, 4, 29]] = 1
    s = -np.arange(100.0)  # rank 1 first
    assert M.bedroc80(y, s) == pytest.approx(0.63143, abs=2e-5)
    assert M.bedroc(y, s, 80.5) == M.bedroc80(y, s)
    assert set(M.SCREEN_METRICS) == {"roc_auc", "ef1", "ef5", "bedroc80"}
