"""A contact-count affinity model: gradient-boosted trees on protein-ligand atom-pair counts in distance shells
(the RF-Score / ΔVinaXGB family of scoring functions), a ``pK`` model beside the CNNs.

Features (:func:`contact_features`, 155 per pose) come from the typed heavy atoms every cache and ``atomgrid score``
already hold (``agtypes-v1``): counts of ligand {C, N, O, S, P, halogen} x receptor {C, N, O, S} atom pairs in the
shells [0, 3.5), [3.5, 4.5), [4.5, 6), [6, 8), [8, 12) Å; the same shells for ligand donor-receptor acceptor,
ligand acceptor-receptor donor, hydrophobic C-hydrophobic C and aromatic-aromatic pairs; and the ligand's own 14
feature sums and heavy-atom count.

Training uses scikit-learn's ``GradientBoostingRegressor``; the fitted trees are exported to plain arrays
(:func:`export_trees`) in a traincore checkpoint of kind ``atomgrid-contacts``, which loads with
``weights_only=True`` (no pickle) and predicts in NumPy (:class:`ContactModel`), exactly as the fitted estimator.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import typing as agt

KIND = "atomgrid-contacts"
FEATURE_SET = "contacts-v1"
LIGAND_ELEMENTS = ("C", "N", "O", "S", "P", "halogen")
RECEPTOR_ELEMENTS = ("C", "N", "O", "S")
SHELLS = (0.0, 3.5, 4.5, 6.0, 8.0, 12.0)  # Å, shell k is [SHELLS[k], SHELLS[k + 1])
PAIRS = (("donor", "acceptor"), ("acceptor", "donor"), ("hydrophobic_C", "hydrophobic_C"), ("aromatic", "aromatic"))
CUTOFF = SHELLS[-1]
# the settings rule AA fixed before its runs (campaigns/atomgrid-affinity/README.md), not tuned
GBT_PARAMS = {"n_estimators": 1000, "learning_rate": 0.02, "max_depth": 5, "min_samples_leaf": 3,
              "subsample": 0.7, "max_features": 0.33, "random_state": 0}

_F = {f: i for i, f in enumerate(agt.FEATURES)}
_LIG = [_F[e] for e in LIGAND_ELEMENTS]
_REC = [_F[e] for e in RECEPTOR_ELEMENTS]
_PAIR_IDX = [(_F[a], _F[b]) for a, b in PAIRS]
NUM_SHELLS = len(SHELLS) - 1


def feature_names() -> list[str]:
    """Names of the :func:`contact_features` columns, in order."""
    shells = [f"{SHELLS[k]:g}-{SHELLS[k + 1]:g}" for k in range(NUM_SHELLS)]
    names = [f"lig_{a}.rec_{b}@{s}" for s in shells for a in LIGAND_ELEMENTS for b in RECEPTOR_ELEMENTS]
    names += [f"lig_{a}.rec_{b}@{s}" for s in shells for a, b in PAIRS]
    names += [f"lig_sum_{f}" for f in agt.FEATURES] + ["lig_heavy_atoms"]
    return names


NUM_CONTACT_FEATURES = len(feature_names())  # 155


def _arrays(atoms) -> tuple[np.ndarray, np.ndarray]:
    """(xyz, feats) of a TypedAtoms or a cache atom dict."""
    if isinstance(atoms, dict):
        return np.asarray(atoms["xyz"], np.float64), np.asarray(atoms["feats"], np.float64)
    return np.asarray(atoms.xyz, np.float64), np.asarray(atoms.feats, np.float64)


def contact_features(receptor, ligand) -> np.ndarray:
    """The 155 features of one pose ``[155]`` float64: ``receptor`` and ``ligand`` are
    :class:`~atomgrid.featurize.TypedAtoms` (or cache atom dicts); a missing receptor (None) counts no contacts."""
    lxyz, lf = _arrays(ligand)
    out = np.zeros(NUM_CONTACT_FEATURES)
    n_el = NUM_SHELLS * len(LIGAND_ELEMENTS) * len(RECEPTOR_ELEMENTS)
    n_pair = NUM_SHELLS * len(PAIRS)
    out[n_el + n_pair:n_el + n_pair + agt.NUM_FEATURES] = lf.sum(0) if len(lf) else 0.0
    out[-1] = len(lxyz)
    if receptor is None or not len(lxyz):
        return out
    rxyz, rf = _arrays(receptor)
    if not len(rxyz):
        return out
    lo, hi = lxyz.min(0) - CUTOFF, lxyz.max(0) + CUTOFF  # only receptor atoms that can be within the cut-off
    near = np.all((rxyz >= lo) & (rxyz <= hi), axis=1)
    rxyz, rf = rxyz[near], rf[near]
    d = np.sqrt(((lxyz[:, None, :] - rxyz[None, :, :]) ** 2).sum(-1))  # [nl, nr]
    shell = np.searchsorted(np.asarray(SHELLS), d, side="right") - 1  # -1 never (d >= 0); NUM_SHELLS at >= 12 Å
    onehot = np.stack([shell == k for k in range(NUM_SHELLS)], axis=-1).astype(np.float64)  # [nl, nr, S]
    el = np.einsum("ia,iks,kb->sab", lf[:, _LIG], onehot, rf[:, _REC])  # [S, 6, 4]
    pairs = np.stack([np.einsum("i,iks,k->s", lf[:, a], onehot, rf[:, b]) for a, b in _PAIR_IDX], axis=1)  # [S, 4]
    out[:n_el] = el.reshape(-1)
    out[n_el:n_el + n_pair] = pairs.reshape(-1)
    return out


def features_of(items: list) -> np.ndarray:
    """``items``: (receptor, ligand, ...) tuples (the scorer's and :class:`~atomgrid.data.ComplexSet`'s) ->
    ``[n, 155]``."""
    if not items:
        return np.zeros((0, NUM_CONTACT_FEATURES))
    return np.stack([contact_features(it[0], it[1]) for it in items])


def export_trees(estimator) -> dict:
    """The fitted ``GradientBoostingRegressor``'s trees as flat arrays (float64 thresholds and leaf values with the
    learning rate folded in, int64 children and features, -1 at leaves), plus its constant initial prediction."""
    import torch
    roots, left, right, feature, threshold, value = [], [], [], [], [], []
    base = 0
    lr = float(estimator.learning_rate)
    for est in estimator.estimators_[:, 0]:
        t = est.tree_
        n = t.node_count
        roots.append(base)
        leaf = t.children_left == -1
        left.append(np.where(leaf, -1, t.children_left + base))
        right.append(np.where(leaf, -1, t.children_right + base))
        feature.append(np.where(leaf, -1, t.feature))
        threshold.append(t.threshold)
        value.append(lr * t.value[:, 0, 0])
        base += n
    init = float(np.ravel(estimator._raw_predict_init(np.zeros((1, estimator.n_features_in_))))[0])
    cat = np.concatenate
    return {"roots": torch.from_numpy(np.asarray(roots, np.int64)), "left": torch.from_numpy(cat(left).astype(np.int64)),
            "right": torch.from_numpy(cat(right).astype(np.int64)), "feature": torch.from_numpy(cat(feature).astype(np.int64)),
            "threshold": torch.from_numpy(cat(threshold).astype(np.float64)),
            "value": torch.from_numpy(cat(value).astype(np.float64)), "init": torch.tensor(init, dtype=torch.float64)}


class ContactModel:
    """Exported trees -> pK, in NumPy: ``predict(X [n, 155])``, ``predict_items(items)``."""

    def __init__(self, arrays: dict, meta: dict):
        self.meta = meta
        a = {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in arrays.items()}
        self.roots, self.left, self.right = a["roots"], a["left"], a["right"]
        self.feature, self.threshold, self.value = a["feature"], a["threshold"], a["value"]
        self.init = float(a["init"])
        self.depth = int(meta.get("max_depth", 64))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """pK ``[n]`` float64: the initial value plus every tree's leaf (sklearn's rule: ``x[f] <= t`` goes left,
        on float32 features as sklearn's trees read them)."""
        X = np.asarray(X, np.float32).astype(np.float64)
        if X.ndim != 2 or X.shape[1] != NUM_CONTACT_FEATURES:
            raise ValueError(f"contact features: expected [n, {NUM_CONTACT_FEATURES}], got {list(X.shape)}")
        node = np.broadcast_to(self.roots, (len(X), len(self.roots))).copy()  # [n, trees]
        rows = np.arange(len(X))[:, None]
        for _ in range(self.depth + 1):
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            go_left = X[rows, np.where(inner, f, 0)] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        return self.init + self.value[node].sum(1)

    def predict_items(self, items: list) -> np.ndarray:
        return self.predict(features_of(items)) if items else np.zeros(0)


def fit(X: np.ndarray, y: np.ndarray, params: dict | None = None):
    """A ``GradientBoostingRegressor`` with :data:`GBT_PARAMS` (updated by ``params``) fitted on ``X``, ``y``."""
    try:
        from sklearn.ensemble import GradientBoostingRegressor
    except ImportError:
        raise SystemExit("atomgrid contacts-train: scikit-learn is not installed (pip install scikit-learn)") from None
    p = dict(GBT_PARAMS, **(params or {}))
    return GradientBoostingRegressor(loss="squared_error", **p).fit(np.asarray(X, np.float32), np.asarray(y, np.float64))


def save(estimator, path: str | Path, meta: dict) -> Path:
    """The exported trees and ``meta`` (name, feature set, params, training data) as a safe-loading checkpoint."""
    from traincore.checkpoint import SCHEMA_VERSION, save_checkpoint
    meta = dict(meta, feature_set=FEATURE_SET, features=NUM_CONTACT_FEATURES, typing=agt.scheme_dict(),
                max_depth=int(max(e.tree_.max_depth for e in estimator.estimators_[:, 0])), ligand_only=False)
    return save_checkpoint(Path(path), {"schema_version": SCHEMA_VERSION, "kind": KIND, "step": 0,
                                        "model": export_trees(estimator), "meta": meta})


def is_contact_model(path: str | Path) -> bool:
    """Whether ``path`` is a contact-model file (a traincore checkpoint of kind ``atomgrid-contacts``)."""
    import torch
    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(state, dict) and state.get("kind") == KIND


def is_contact_meta(meta: dict) -> bool:
    """Whether a model meta is a contact model's (its ``feature_set``), as :func:`load_state` returns it."""
    return isinstance(meta, dict) and "feature_set" in meta


def load_state(path: str | Path) -> tuple[dict, dict]:
    """(tree arrays, meta) of a contact-model file, loaded safely; refused (ValueError) when it holds another
    kind of model or another feature set."""
    from traincore.checkpoint import load_checkpoint
    state = load_checkpoint(path, map_location="cpu", kind=KIND)
    meta = state.get("meta")
    if not isinstance(meta, dict) or meta.get("feature_set") != FEATURE_SET:
        raise ValueError(f"{path}: a contact model of another feature set ({(meta or {}).get('feature_set')!r}, "
                         f"this code reads {FEATURE_SET!r})")
    agt.check_scheme(meta.get("typing", {}))
    arrays = state.get("model")
    want = {"roots", "left", "right", "feature", "threshold", "value", "init"}
    if not isinstance(arrays, dict) or set(arrays) != want:
        raise ValueError(f"{path}: a contact model without its tree arrays")
    return arrays, meta


def load(path: str | Path) -> ContactModel:
    return ContactModel(*load_state(path))


def training_set(cache: dict, good_only: bool = True) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features ``[n, 155]``, pK ``[n]``, example ids) of a typed cache's examples (its good poses by default)."""
    ex = [e for e in cache["examples"] if e["good"] or not good_only]
    rec = cache["receptors"]
    X = np.stack([contact_features(rec.get(e["receptor"]), e["ligand"]) for e in ex]) if ex else np.zeros((0, NUM_CONTACT_FEATURES))
    return X, np.asarray([float(e["pK"]) for e in ex]), [e["id"] for e in ex]
