"""``atomgrid enrich``: how well an ``atomgrid score`` CSV ranks known actives (ROC AUC, EF1%, EF5%)."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from .library import iter_records, unnamed_id
from .score_options import ScoreError


def read_scores(path: str | Path) -> Iterator[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            yield from csv.DictReader(f)
    except UnicodeDecodeError:
        raise ScoreError(f"{path}: not a UTF-8 text CSV (give the CSV that atomgrid score wrote)") from None
    except IsADirectoryError:
        raise ScoreError(f"{path}: is a folder, not a CSV") from None


def default_column(path: str | Path) -> str:
    """The column ``atomgrid score`` ranked by: ``blend`` when any row has it, else ``score``."""
    return "blend" if any(r.get("blend") for r in read_scores(path)) else "score"


LOWER_IS_BETTER = ("vina",)  # energies (kcal/mol): ranked by their negation


def ranking(scores_csv: str | Path, actives: Iterable[str], column: str = "score") -> tuple[np.ndarray, np.ndarray, int]:
    """(labels ``[n]``, scores ``[n]`` higher = better, failed rows) of one column, one entry per compound.

    Several rows with one id (protomers, tautomers) count once with their best value; failed rows and
    rows without a value stay in the ranking below every scored one (screened and missed, not removed).
    Columns in :data:`LOWER_IS_BETTER` (Vina energies) are negated first."""
    act = set(actives)
    sign = -1.0 if column in LOWER_IS_BETTER else 1.0
    best: dict[str, float] = {}
    failed = 0
    for r in read_scores(scores_csv):
        if column not in r:
            raise ScoreError(f"{scores_csv}: no column {column!r} (columns: {', '.join(r)})")
        v = r[column]
        try:
            x = sign * float(v) if v and not r.get("error") else -math.inf
        except ValueError:
            raise ScoreError(f"{scores_csv}: column {column!r} is not a score (row {r.get('id')!r} holds {v!r})") from None
        failed += not math.isfinite(x)
        if r["id"] not in best or x > best[r["id"]]:
            best[r["id"]] = x
    if not best:
        raise ScoreError(f"{scores_csv}: no rows")
    ids = list(best)
    y = np.asarray([i in act for i in ids], np.float64)
    s = np.asarray([best[i] for i in ids])
    if not y.any():  # an ROC AUC of nan, or a figure of nothing, would look like a result
        raise ScoreError(f"{scores_csv}: none of the {len(act)} active ids is a row id (enrich matches actives by "
                         "the id column; name the actives as the library names them)")
    if y.all():
        raise ScoreError(f"{scores_csv}: every row is an active; ranking needs inactives too")
    if not np.isfinite(s).any():
        raise ScoreError(f"{scores_csv}: column {column!r} has no value in any row (every row failed or left it empty)")
    finite = s[np.isfinite(s)]
    floor = (finite.min() - 1.0) if finite.size else -1.0
    return y, np.where(np.isfinite(s), s, floor), failed


def enrichment(scores_csv: str | Path, actives: Iterable[str], column: str = "score") -> dict:
    """ROC AUC, EF1%, EF5% of one column of an ``atomgrid score`` CSV (see :func:`ranking`); a row is
    active when its id is in ``actives``."""
    from .metrics import enrichment_factor, roc_auc
    y, s, failed = ranking(scores_csv, actives, column)
    return {"column": column, "compounds": len(y), "actives": int(y.sum()), "failed_rows": failed,
            "roc_auc": roc_auc(y, s), "ef1": enrichment_factor(y, s, 0.01), "ef5": enrichment_factor(y, s, 0.05)}


def plot_curves(scores_csv: str | Path, actives: Iterable[str], columns: Sequence[str], out_png: str | Path) -> Path:
    """ROC curves (left) and enrichment curves (right: share of actives found against share of the library
    screened, log scale) of one or several columns, side by side in one PNG (matplotlib, Agg backend)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .metrics import enrichment_factor, roc_auc
    act = set(actives)
    fig, (roc_ax, enr_ax) = plt.subplots(1, 2, figsize=(10, 4.5))
    for col in columns:
        y, s, _ = ranking(scores_csv, act, col)
        if y.sum() == 0 or y.sum() == len(y):
            raise ScoreError(f"{scores_csv}: curves need actives and inactives ({int(y.sum())} of {len(y)} active)")
        order = np.argsort(-s, kind="stable")
        hits = np.cumsum(y[order])
        tpr = np.concatenate([[0.0], hits / y.sum()])
        fpr = np.concatenate([[0.0], np.cumsum(1 - y[order]) / (len(y) - y.sum())])
        screened = np.arange(1, len(y) + 1) / len(y)
        roc_ax.plot(fpr, tpr, label=f"{col} (AUC {roc_auc(y, s):.3f})")
        enr_ax.plot(screened, hits / y.sum(), label=f"{col} (EF1% {enrichment_factor(y, s, 0.01):.1f})")
    roc_ax.plot([0, 1], [0, 1], ":", color="grey", label="random")
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC", xlim=(-0.01, 1.01),
               ylim=(-0.01, 1.01))  # a padded frame: a perfect curve runs along the edges
    frac = np.geomspace(1 / max(len(y), 1), 1.0, 100)
    enr_ax.plot(frac, frac, ":", color="grey", label="random")  # y = x, a curve on the log axis
    enr_ax.set(xscale="log", xlabel="fraction of the library screened", ylabel="fraction of actives found",
               title="enrichment", ylim=(-0.01, 1.01))
    for ax in (roc_ax, enr_ax):
        ax.legend(loc="lower right", fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{Path(scores_csv).name}: {int(y.sum())} actives, {len(y)} compounds", fontsize=10)
    return save_png(fig, out_png)


def save_png(fig, out_png: str | Path) -> Path:
    """Lay out ``fig``, write it as a PNG (110 dpi, folders made) and close it: every atomgrid plot ends here."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    out_png = Path(out_png)
    if not out_png.suffix:  # matplotlib would add ".png" itself, and the path reported would not be the file
        out_png = out_png.with_name(out_png.name + ".png")
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def active_ids(paths: Sequence[str | Path]) -> set[str]:
    """Ids of the records of library files (e.g. DUD-E ``actives_final.ism``): the positives of :func:`enrichment`."""
    ids: set[str] = set()
    for p in paths:
        for r in iter_records(p):
            if r.id == unnamed_id(r.index) and not r.error:
                raise ScoreError(f"{p}: record {r.index + 1} has no name; enrich matches actives by id, so each "
                                 "active needs the name the library gives it ('SMILES name' lines, an id column, "
                                 "SDF titles)")
            ids.add(r.id)
    return ids
