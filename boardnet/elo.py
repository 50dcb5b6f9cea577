"""Match statistics: Elo difference with a 95% interval, and a sequential probability ratio test.

Pure functions on (wins, draws, losses) counted from the first player's side. The logistic Elo
model maps an expected score s in (0, 1) to `-400 * log10(1/s - 1)`. The SPRT is the normal
approximation to the generalised SPRT used by fishtest (Van den Bergh): with per-game scores
x in {1, 1/2, 0}, mean m and variance v, `LLR = n (s1 - s0)(2m - s0 - s1) / (2v)` where s0, s1
are the expected scores under the hypotheses elo0 and elo1.
"""
from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95% quantile of the standard normal


def _check_counts(wins: int, draws: int, losses: int) -> int:
    for name, v in (("wins", wins), ("draws", draws), ("losses", losses)):
        if isinstance(v, bool) or int(v) != v or v < 0:
            raise ValueError(f"{name}={v!r}: expected a non-negative integer")
    n = int(wins + draws + losses)
    if n == 0:
        raise ValueError("wins=draws=losses=0: no games to score")
    return n


def score_to_elo(score: float) -> float:
    """Logistic Elo difference for an expected score in [0, 1] (+-inf at the ends)."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score {score!r}: expected a value in [0, 1]")
    if score == 1.0:
        return math.inf
    if score == 0.0:
        return -math.inf
    return -400.0 * math.log10(1.0 / score - 1.0)


def elo_to_score(elo: float) -> float:
    """Expected score of a player `elo` points stronger."""
    return 1.0 / (1.0 + 10.0 ** (-elo / 400.0))


def _mean_var(wins: int, draws: int, losses: int) -> tuple[float, float, int]:
    n = _check_counts(wins, draws, losses)
    m = (wins + 0.5 * draws) / n
    v = (wins * (1.0 - m) ** 2 + draws * (0.5 - m) ** 2 + losses * m ** 2) / n
    return m, v, n


def elo_from_score(wins: int, draws: int, losses: int) -> tuple[float, float, float]:
    """(elo, lo95, hi95): Elo difference of the first player and its 95% interval, from the
    normal approximation to the mean per-game score (ends clipped to [0, 1], so +-inf there)."""
    m, v, n = _mean_var(wins, draws, losses)
    half = Z95 * math.sqrt(v / n)
    return (score_to_elo(m), score_to_elo(max(0.0, m - half)), score_to_elo(min(1.0, m + half)))


def sprt_bounds(alpha: float, beta: float) -> tuple[float, float]:
    """(lower, upper) LLR bounds: accept H0 at or below lower, H1 at or above upper."""
    for name, v in (("alpha", alpha), ("beta", beta)):
        if not 0.0 < v < 0.5:
            raise ValueError(f"{name}={v!r}: expected a probability in (0, 0.5)")
    return math.log(beta / (1.0 - alpha)), math.log((1.0 - beta) / alpha)


def sprt(wins: int, draws: int, losses: int, elo0: float, elo1: float, alpha: float = 0.05,
         beta: float = 0.05) -> tuple[float, str]:
    """(llr, verdict) for H0: elo = elo0 against H1: elo = elo1 (elo1 > elo0); verdict is
    "H1" (accept elo1), "H0" (accept elo0) or "continue"."""
    if not elo1 > elo0:
        raise ValueError(f"sprt bounds elo0={elo0!r}, elo1={elo1!r}: expected elo0 < elo1")
    lower, upper = sprt_bounds(alpha, beta)
    m, v, n = _mean_var(wins, draws, losses)
    if v == 0.0:
        # Every game scored the same: the likelihood ratio is degenerate; take the smallest
        # variance a single different result would give, which keeps the LLR finite and signed.
        v = 0.25 / (n + 1)
    s0, s1 = elo_to_score(elo0), elo_to_score(elo1)
    llr = n * (s1 - s0) * (2.0 * m - s0 - s1) / (2.0 * v)
    verdict = "H1" if llr >= upper else "H0" if llr <= lower else "continue"
    return llr, verdict


def format_match(wins: int, draws: int, losses: int) -> str:
    """One line: `+W =D -L  score 62.5%  Elo +88.7 [+12.3, +170.0]`."""
    elo, lo, hi = elo_from_score(wins, draws, losses)
    n = wins + draws + losses
    return (f"+{wins} ={draws} -{losses}  score {100.0 * (wins + 0.5 * draws) / n:.1f}%  "
            f"Elo {elo:+.1f} [{lo:+.1f}, {hi:+.1f}]")


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (95% by default) for a proportion `successes / n` (a draw may count
    as half a success); (0, 1) for n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    den = 1.0 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)
