"""A contact-count affinity model: gradient-boosted trees on protein-ligand atom-pair counts in distance shells
(the RF-Score / ΔVinaXGB family of scoring functions), a ``pK`` model beside the CNNs.

Features (:func:`contact_features`; ``contacts-v1``, 155 per pose, rule AA; ``contacts-v2``, 455, rule AC's
ECIF-like classes; ``contacts-v3``, 161, rule AH: contacts-v1 and six Vina-like interaction terms, :func:`vina_terms`)
come from the typed heavy atoms every cache and ``atomgrid score``
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
FEATURE_SET = "contacts-v1"  # the default of `atomgrid contacts-train` (rule AA's features)
SHELLS = (0.0, 3.5, 4.5, 6.0, 8.0, 12.0)  # Å, shell k is [SHELLS[k], SHELLS[k + 1])
CUTOFF = SHELLS[-1]
NUM_SHELLS = len(SHELLS) - 1
# the settings rule AA fixed before its runs (campaigns/atomgrid-affinity/README.md), not tuned
GBT_PARAMS = {"n_estimators": 1000, "learning_rate": 0.02, "max_depth": 5, "min_samples_leaf": 3,
              "subsample": 0.7, "max_features": 0.33, "random_state": 0}

_F = {f: i for i, f in enumerate(agt.FEATURES)}


def _flag(feats: np.ndarray, name: str) -> np.ndarray:
    return feats[:, _F[name]] > 0.5


def _classes(feats: np.ndarray, spec: tuple) -> np.ndarray:
    """``[n, len(spec)]`` float one-hot (or multi-hot for v1's element columns) of atom classes: each class is
    (name, element, required flags, excluded flags) and an atom is in it when it has the element column, every
    required flag and no excluded one."""
    out = np.zeros((len(feats), len(spec)))
    for k, (_, element, need, avoid) in enumerate(spec):
        m = _flag(feats, element)
        for f in need:
            m &= _flag(feats, f)
        for f in avoid:
            m &= ~_flag(feats, f)
        out[:, k] = m
    return out


def _el(*names: str) -> tuple:
    return tuple((n, n, (), ()) for n in names)


# contacts-v1 (rule AA): element pairs and four pharmacophore pairs
# contacts-v2 (rule AC): ECIF-like classes by element and agtypes-v1's flags, no separate pairs
FEATURE_SETS: dict[str, dict] = {
    "contacts-v1": {"ligand": _el("C", "N", "O", "S", "P", "halogen"), "receptor": _el("C", "N", "O", "S"),
                    "pairs": (("donor", "acceptor"), ("acceptor", "donor"), ("hydrophobic_C", "hydrophobic_C"),
                              ("aromatic", "aromatic"))},
    "contacts-v2": {"ligand": (("C_arom", "C", ("aromatic",), ()), ("C_hyd", "C", ("hydrophobic_C",), ("aromatic",)),
                               ("C_pol", "C", (), ("aromatic", "hydrophobic_C")), ("N_don", "N", ("donor",), ()),
                               ("N_acc", "N", ("acceptor",), ("donor",)), ("N_oth", "N", (), ("donor", "acceptor")),
                               ("O_don", "O", ("donor",), ()), ("O_acc", "O", (), ("donor",))) + _el("S", "P", "halogen"),
                    "receptor": (("C_arom", "C", ("aromatic",), ()), ("C_hyd", "C", ("hydrophobic_C",), ("aromatic",)),
                                 ("C_pol", "C", (), ("aromatic", "hydrophobic_C")), ("N_don", "N", ("donor",), ()),
                                 ("N_oth", "N", (), ("donor",)), ("O_don", "O", ("donor",), ()),
                                 ("O_acc", "O", (), ("donor",))) + _el("S"),
                    "pairs": ()},
}
# contacts-v3 (rule AH): contacts-v1 and the six Vina-like terms of :func:`vina_terms`
FEATURE_SETS["contacts-v3"] = dict(FEATURE_SETS["contacts-v1"], vina=True)

# AutoDock Vina's intermolecular terms (Trott & Olson 2010) on the surface distance d = r - R_i - R_j (xs radii, the
# typed atoms' own), pairs closer than 8 Å: gauss1 exp(-(d/0.5)^2), gauss2 exp(-((d-3)/2)^2), repulsion d^2 (d < 0),
# hydrophobic (both atoms hydrophobic: 1 below 0.5, 0 above 1.5, linear between), hydrogen bond (donor-acceptor:
# 1 below -0.7, 0 above 0, linear between); their weighted sum is Vina's intermolecular energy before its rotor
# division (kcal/mol).
VINA_TERMS = ("gauss1", "gauss2", "repulsion", "hydrophobic", "hbond")
VINA_WEIGHTS = (-0.035579, -0.005156, 0.840245, -0.035069, -0.587439)
VINA_CUTOFF = 8.0


def _spec(feature_set: str) -> dict:
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"contact feature set {feature_set!r}: this code reads {', '.join(FEATURE_SETS)}")
    return FEATURE_SETS[feature_set]


def feature_names(feature_set: str = FEATURE_SET) -> list[str]:
    """Names of the :func:`contact_features` columns, in order."""
    sp = _spec(feature_set)
    shells = [f"{SHELLS[k]:g}-{SHELLS[k + 1]:g}" for k in range(NUM_SHELLS)]
    names = [f"lig_{a[0]}.rec_{b[0]}@{s}" for s in shells for a in sp["ligand"] for b in sp["receptor"]]
    names += [f"lig_{a}.rec_{b}@{s}" for s in shells for a, b in sp["pairs"]]
    names += [f"lig_sum_{f}" for f in agt.FEATURES] + ["lig_heavy_atoms"]
    if sp.get("vina"):
        names += [f"vina_{t}" for t in VINA_TERMS] + ["vina_inter"]
    return names


def num_features(feature_set: str = FEATURE_SET) -> int:
    return len(feature_names(feature_set))


NUM_CONTACT_FEATURES = num_features("contacts-v1")  # 155; contacts-v2 has 455


def _arrays(atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xyz, feats, radii) of a TypedAtoms or a cache atom dict."""
    if isinstance(atoms, dict):
        return (np.asarray(atoms["xyz"], np.float64), np.asarray(atoms["feats"], np.float64),
                np.asarray(atoms["radii"], np.float64))
    return np.asarray(atoms.xyz, np.float64), np.asarray(atoms.feats, np.float64), np.asarray(atoms.radii, np.float64)


def vina_terms(d: np.ndarray, lf: np.ndarray, lr: np.ndarray, rf: np.ndarray, rr: np.ndarray) -> np.ndarray:
    """Vina's five intermolecular terms summed over ligand-receptor pairs and their weighted sum (``[6]``), from the
    pair distances ``d [nl, nr]`` (Å) and each side's features and xs radii. Hydrophobic atoms are hydrophobic
    carbons and halogens; donors are donor-flagged atoms and receptor metals (Vina's Met_D), acceptors
    acceptor-flagged atoms."""
    s = d - lr[:, None] - rr[None, :]
    near = d < VINA_CUTOFF
    g1 = np.exp(-(s / 0.5) ** 2)
    g2 = np.exp(-((s - 3.0) / 2.0) ** 2)
    rep = np.where(s < 0, s * s, 0.0)
    lhyd = _flag(lf, "hydrophobic_C") | _flag(lf, "halogen")
    rhyd = _flag(rf, "hydrophobic_C") | _flag(rf, "halogen")
    hyd = np.clip(1.5 - s, 0.0, 1.0) * (lhyd[:, None] & rhyd[None, :])
    rdon = _flag(rf, "donor") | _flag(rf, "metal")
    pair = (_flag(lf, "donor")[:, None] & _flag(rf, "acceptor")[None, :]) | (_flag(lf, "acceptor")[:, None] & rdon[None, :])
    hb = np.clip(-s / 0.7, 0.0, 1.0) * pair
    terms = np.array([float((t * near).sum()) for t in (g1, g2, rep, hyd, hb)])
    return np.append(terms, float(np.dot(VINA_WEIGHTS, terms)))


def contact_features(receptor, ligand, feature_set: str = FEATURE_SET) -> np.ndarray:
    """The features of one pose (155 for ``contacts-v1``, 455 for ``contacts-v2``) as float64: ``receptor`` and
    ``ligand`` are :class:`~atomgrid.featurize.TypedAtoms` (or cache atom dicts); a missing receptor (None) counts no
    contacts."""
    sp = _spec(feature_set)
    lxyz, lf, lr = _arrays(ligand)
    n_el = NUM_SHELLS * len(sp["ligand"]) * len(sp["receptor"])
    n_pair = NUM_SHELLS * len(sp["pairs"])
    n_lig = n_el + n_pair + agt.NUM_FEATURES + 1
    out = np.zeros(n_lig + (len(VINA_TERMS) + 1 if sp.get("vina") else 0))
    out[n_el + n_pair:n_lig - 1] = lf.sum(0) if len(lf) else 0.0
    out[n_lig - 1] = len(lxyz)
    if receptor is None or not len(lxyz):
        return out
    rxyz, rf, rr = _arrays(receptor)
    if not len(rxyz):
        return out
    lo, hi = lxyz.min(0) - CUTOFF, lxyz.max(0) + CUTOFF  # only receptor atoms that can be within the cut-off
    near = np.all((rxyz >= lo) & (rxyz <= hi), axis=1)
    rxyz, rf, rr = rxyz[near], rf[near], rr[near]
    d = np.sqrt(((lxyz[:, None, :] - rxyz[None, :, :]) ** 2).sum(-1))  # [nl, nr]
    shell = np.searchsorted(np.asarray(SHELLS), d, side="right") - 1  # -1 never (d >= 0); NUM_SHELLS at >= 12 Å
    onehot = np.stack([shell == k for k in range(NUM_SHELLS)], axis=-1).astype(np.float64)  # [nl, nr, S]
    el = np.einsum("ia,iks,kb->sab", _classes(lf, sp["ligand"]), onehot, _classes(rf, sp["receptor"]))
    out[:n_el] = el.reshape(-1)
    if sp["pairs"]:
        pairs = np.stack([np.einsum("i,iks,k->s", lf[:, _F[a]], onehot, rf[:, _F[b]]) for a, b in sp["pairs"]], axis=1)
        out[n_el:n_el + n_pair] = pairs.reshape(-1)
    if sp.get("vina"):
        out[n_lig:] = vina_terms(d, lf, lr, rf, rr)
    return out


def features_of(items: list, feature_set: str = FEATURE_SET) -> np.ndarray:
    """``items``: (receptor, ligand, ...) tuples (the scorer's and :class:`~atomgrid.data.ComplexSet`'s) ->
    ``[n, features]``."""
    if not items:
        return np.zeros((0, num_features(feature_set)))
    return np.stack([contact_features(it[0], it[1], feature_set) for it in items])


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
    """Exported trees -> pK, in NumPy: ``predict(X [n, features])``, ``predict_items(items)`` (the features of the
    model's own feature set, ``meta["feature_set"]``)."""

    def __init__(self, arrays: dict, meta: dict):
        self.meta = meta
        a = {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in arrays.items()}
        self.roots, self.left, self.right = a["roots"], a["left"], a["right"]
        self.feature, self.threshold, self.value = a["feature"], a["threshold"], a["value"]
        self.init = float(a["init"])
        self.depth = int(meta.get("max_depth", 64))
        self.feature_set = meta.get("feature_set", FEATURE_SET)
        self.num_features = num_features(self.feature_set)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """pK ``[n]`` float64: the initial value plus every tree's leaf (sklearn's rule: ``x[f] <= t`` goes left,
        on float32 features as sklearn's trees read them)."""
        X = np.asarray(X, np.float32).astype(np.float64)
        if X.ndim != 2 or X.shape[1] != self.num_features:
            raise ValueError(f"contact features ({self.feature_set}): expected [n, {self.num_features}], got {list(X.shape)}")
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
        return self.predict(features_of(items, self.feature_set)) if items else np.zeros(0)


def fit(X: np.ndarray, y: np.ndarray, params: dict | None = None):
    """A ``GradientBoostingRegressor`` with :data:`GBT_PARAMS` (updated by ``params``) fitted on ``X``, ``y``
    (scikit-learn is imported here only: scoring never needs it)."""
    from sklearn.ensemble import GradientBoostingRegressor
    p = dict(GBT_PARAMS, **(params or {}))
    return GradientBoostingRegressor(loss="squared_error", **p).fit(np.asarray(X, np.float32), np.asarray(y, np.float64))


def save(estimator, path: str | Path, meta: dict, feature_set: str = FEATURE_SET) -> Path:
    """The exported trees and ``meta`` (name, params, training data; the feature set is added) as a safe-loading
    checkpoint."""
    from traincore.checkpoint import SCHEMA_VERSION, save_checkpoint
    if estimator.n_features_in_ != num_features(feature_set):
        raise ValueError(f"the trees read {estimator.n_features_in_} features, {feature_set} has {num_features(feature_set)}")
    meta = dict(meta, feature_set=feature_set, features=num_features(feature_set), typing=agt.scheme_dict(),
                max_depth=int(max(e.tree_.max_depth for e in estimator.estimators_[:, 0])), ligand_only=False)
    return save_checkpoint(Path(path), {"schema_version": SCHEMA_VERSION, "kind": KIND, "step": 0,
                                        "model": export_trees(estimator), "meta": meta})


def _read(path: str | Path) -> dict | None:
    """The checkpoint at ``path`` (safely loaded), or None when it is no readable traincore checkpoint."""
    from traincore.checkpoint import CheckpointError, load_checkpoint
    try:
        return load_checkpoint(path, map_location="cpu")
    except CheckpointError:
        return None


def is_contact_model(path: str | Path) -> bool:
    """Whether ``path`` is a contact-model file (a traincore checkpoint of kind ``atomgrid-contacts``)."""
    state = _read(path)
    return state is not None and state.get("kind") == KIND


def is_contact_meta(meta: dict) -> bool:
    """Whether a model meta is a contact model's (its ``feature_set``), as :func:`load_state` returns it."""
    return isinstance(meta, dict) and "feature_set" in meta


def load_state(path: str | Path) -> tuple[dict, dict]:
    """(tree arrays, meta) of a contact-model file, loaded safely; refused (ValueError) when it holds another
    kind of model or another feature set."""
    from traincore.checkpoint import load_checkpoint
    return _checked(path, load_checkpoint(path, map_location="cpu", kind=KIND))


def contact_state(path: str | Path) -> tuple[dict, dict] | None:
    """:func:`load_state` of ``path`` when it is a contact-model file, read once; None for any other file (a net,
    a damaged or missing file: the caller's own loader then says what is wrong with it)."""
    state = _read(path)
    return _checked(path, state) if state is not None and state.get("kind") == KIND else None


def _checked(path, state: dict) -> tuple[dict, dict]:
    meta = state.get("meta")
    if not isinstance(meta, dict) or meta.get("feature_set") not in FEATURE_SETS:
        raise ValueError(f"{path}: a contact model of another feature set ({(meta or {}).get('feature_set')!r}, "
                         f"this code reads {', '.join(FEATURE_SETS)})")
    agt.check_scheme(meta.get("typing", {}))
    arrays = state.get("model")
    want = {"roots", "left", "right", "feature", "threshold", "value", "init"}
    if not isinstance(arrays, dict) or set(arrays) != want:
        raise ValueError(f"{path}: a contact model without its tree arrays")
    return arrays, meta


def load(path: str | Path) -> ContactModel:
    return ContactModel(*load_state(path))


def training_set(cache: dict, good_only: bool = True, feature_set: str = FEATURE_SET) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(features ``[n, features]``, pK ``[n]``, example ids) of a typed cache's examples (its good poses by default)."""
    ex = [e for e in cache["examples"] if e["good"] or not good_only]
    X = features_of([(cache["receptors"].get(e["receptor"]), e["ligand"]) for e in ex], feature_set)
    return X, np.asarray([float(e["pK"]) for e in ex]), [e["id"] for e in ex]
