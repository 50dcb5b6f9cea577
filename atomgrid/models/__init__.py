"""Model files: the shipped models (``<name>.pt`` with a ``<name>.md`` card beside each), loading, identity.

``resolve_model(None)`` -> the default screening model; ``resolve_model("name")`` -> a shipped model;
``resolve_model("runs/x/model.pt")`` -> that file. ``load_model(path)`` -> (net in eval mode, meta);
``load_weights(path)`` -> (state dict on CPU, meta) without building the net (the scorer builds it once).
A model's identity is the sha256 of its file (``file_sha256``): caches and resumable runs key on it, so
a model retrained at the same path is never taken for the old one; every card states its file's sha256.
``predict`` is the one batched forward pass that ``atomgrid score`` and ``atomgrid evaluate`` share.
"""
from __future__ import annotations

import re
from pathlib import Path

from traincore.provenance import sha256 as _sha256

MODELS_DIR = Path(__file__).resolve().parent
# v3's recipe made clean (the held-out families out of the pose/affinity side too) at three times the width
# (atomnet-c48-l3): pose + affinity + DEKOIS 2.0 actives/decoys of 67 targets, 80 % screening share, weight decay
# 0.05, 16,000 steps (since 2026-12-06, session 31: rules X and Y of campaigns/atomgrid-affinity); before:
# "...-c16-...-dekois-v3" (session 18), "...-dekois-v2" (session 17) and "...-dekois"
DEFAULT_MODEL = "ag-atomnet-c48-l3-g16r15-dekois-v4"
LIGAND_ONLY_MODEL = "ag-atomnet-c48-l3-g16r15-dekois-v4-ligonly"  # its ligand-only twin (baseline, and the blend)
# the model that picks the template poses the screening figures were measured on (atomgrid crossval --pose-model);
# v4 started from a c48 pose stage of the same recipe (configs/atomgrid/small_c48.toml), not shipped
POSE_MODEL = "ag-atomnet-c16-l3-g16r15"
POSE_LIGAND_ONLY_MODEL = "ag-atomnet-c16-l3-g16r15-ligonly"
MODEL_KIND = "atomgrid"
# The models whose mean pK fills `atomgrid score`'s pK column when --model is the default (--affinity-model; none:
# the screener's own affinity head): a contact-count gradient-boosted tree model (atomgrid.contacts, `atomgrid
# contacts-train`) and small.toml's pose/affinity recipe, seeds 0 and 1, all three on the data pack's recommended
# affinity split (`atomgrid prepare --kind train-recommended`). The CNN pair since 2026-12-05 (session 23, campaigns/
# atomgrid-affinity rule K: val-affinity R 0.348 vs the screener's 0.219); the trees beside it since 2026-12-06
# (session 33, rule AA: val-affinity 0.370 vs 0.348, the 2,910 DEKOIS actives 0.310 vs 0.261)
CONTACT_MODEL = "ag-contacts-gbt-rec"
AFFINITY_MODELS: tuple[str, ...] = (CONTACT_MODEL, "ag-atomnet-c16-l3-g16r15-rec-s0", "ag-atomnet-c16-l3-g16r15-rec-s1")


class ModelNotFoundError(FileNotFoundError):
    """Neither a shipped model of that name nor a file at that path."""


def available() -> list[str]:
    """Names of the shipped models, sorted."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.pt"))


def model_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of a model shipped in the package (``atomgrid/models/<name>.pt``)."""
    p = MODELS_DIR / f"{name}.pt"
    if not p.exists():
        raise ModelNotFoundError(f"no shipped atomgrid model {name!r} (shipped: {', '.join(available()) or 'none'})")
    return p


def resolve_model(name_or_path: str | Path | None) -> Path:
    """``--model``: a file path, a shipped model name, or None for :data:`DEFAULT_MODEL` (a receptor+ligand
    model, never a ligand-only baseline)."""
    text = str(name_or_path) if name_or_path else DEFAULT_MODEL
    p = Path(text)
    if p.is_file():
        return p
    for cand in (MODELS_DIR / text, MODELS_DIR / f"{text}.pt"):
        if cand.is_file():
            return cand
    raise ModelNotFoundError(f"--model {text!r}: no such file and no shipped model of that name in {MODELS_DIR} "
                             f"(shipped: {', '.join(available()) or 'none'})")



def export_model(model, meta: dict, path: str | Path, extra: dict | None = None, step: int = 0) -> Path:
    """Weights + meta only (no optimizer): the file shipped as ``atomgrid/models/<name>.pt`` (``atomgrid train``
    writes its ``model.pt`` with it). ``step``: the optimizer steps the weights were trained for (0 for an
    untrained net)."""
    from traincore.checkpoint import SCHEMA_VERSION, save_checkpoint
    state = {"schema_version": SCHEMA_VERSION, "kind": MODEL_KIND, "step": int(step),
             "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, "meta": meta}
    if extra:
        state.update(extra)
    return save_checkpoint(Path(path), state)


def file_sha256(path: str | Path) -> str:
    """sha256 (hex) of a file's bytes, streamed: the identity of a model, receptor or library file."""
    return _sha256(path)


def load_weights(path: str | Path) -> tuple[dict, dict]:
    """(state dict on CPU, meta) of a file written by :func:`export_model` or a checkpoint;
    the typing scheme is checked, the net is not built."""
    from traincore.checkpoint import CheckpointError, load_checkpoint

    from ..typing import check_scheme
    try:
        state = load_checkpoint(path, map_location="cpu", kind=MODEL_KIND)
    except CheckpointError:
        from ..contacts import is_contact_model
        if is_contact_model(path):  # one line wherever a net is expected (score --model, evaluate --set dude:, crossval)
            raise ValueError(f"{path}: a contact-count pK model (atomgrid contacts-train), not a net: it predicts pK "
                             "only; give it as --affinity-model, or to atomgrid evaluate --set casf2016/cache") from None
        raise
    meta = state.get("meta")
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: atomgrid checkpoint without model meta (architecture, grid, typing)")
    check_scheme(meta["typing"])
    return {k: v.detach().cpu() for k, v in state["model"].items()}, meta


def build_model(weights: dict, meta: dict, device="cpu"):
    """The net of ``meta`` with ``weights``, in eval mode on ``device`` (an :class:`atomgrid.nets.Ensemble`
    when ``meta`` lists ``members``)."""
    from .. import nets
    if meta.get("members"):
        model = nets.Ensemble([nets.build(m["net"]) for m in meta["members"]])
    else:
        model = nets.build(meta["net"])
    model.load_state_dict(weights)
    return model.to(device).eval()


def make_ensemble(paths, out: str | Path, name: str | None = None) -> Path:
    """One model file that scores with the mean logit of the models ``paths`` (each a name or a path).
    They must share the grid, the typing scheme and the ligand-only flag; the meta keeps each member's
    architecture, name and sha256, and ``train_targets`` is the union of the members' (left out when
    any member does not record its own, so the protocol never takes an unknown for a clean split)."""
    from .. import nets
    files = [resolve_model(p) for p in paths]
    if len(files) < 2:
        raise ValueError("an ensemble needs at least two models")
    loaded = [load_weights(f) for f in files]
    first = loaded[0][1]
    for f, (_, meta) in zip(files[1:], loaded[1:]):
        for key in ("grid", "typing"):
            if meta.get(key) != first.get(key):
                raise ValueError(f"{f}: its {key} differs from {files[0]}'s; ensemble members must share it")
        if bool(meta.get("ligand_only")) != bool(first.get("ligand_only")):
            raise ValueError(f"{f}: ligand_only {bool(meta.get('ligand_only'))} but {files[0]} has "
                             f"{bool(first.get('ligand_only'))}; ensemble members must share it")
    members, nets_ = [], []
    for f, (weights, meta) in zip(files, loaded):
        for sub in meta.get("members") or [meta]:  # an ensemble of ensembles is flattened
            members.append({"net": sub["net"], "name": sub.get("name"), "sha256": sub.get("sha256") or file_sha256(f)})
        built = build_model(weights, meta)
        nets_ += list(built.members) if isinstance(built, nets.Ensemble) else [built]
    trained = [m.get("train_targets") for _, m in loaded]
    meta = {"members": members, "grid": first["grid"], "typing": first["typing"],
            "ligand_only": bool(first.get("ligand_only")),
            "name": name or "ensemble-" + "+".join(str(m["name"]) for m in members)}
    if all(t is not None for t in trained):
        meta["train_targets"] = sorted({t for ts in trained for t in ts})
    return export_model(nets.Ensemble(nets_), meta, Path(out))


def load_model(path: str | Path, device="cpu"):
    """(model in eval mode, meta dict) from a model file or a checkpoint."""
    weights, meta = load_weights(path)
    return build_model(weights, meta, device), meta


def gridder_for(meta: dict, device="cpu"):
    """The :class:`~atomgrid.featurize.Gridder` a model was trained with (its grid size and resolution)."""
    from ..featurize import Gridder
    from ..grid import GridSpec
    return Gridder(GridSpec(meta["grid"]["size"], meta["grid"]["resolution"]), device)


def tta_rotations(n: int):
    """The ``n`` fixed orientations of test-time augmentation ``[n, 3, 3]``: the identity first, then
    seeded uniform random rotations (the same for every molecule, run and machine)."""
    import numpy as np
    import torch

    from ..grid import random_rotations
    if n < 1:
        raise ValueError(f"rotations must be >= 1, got {n}")
    rot = np.broadcast_to(np.eye(3, dtype=np.float32), (n, 3, 3)).copy()
    g = torch.Generator().manual_seed(20261204)
    for i in range(1, n):  # one at a time: the first k of n are the k of tta_rotations(k)
        rot[i] = random_rotations(1, g)[0].numpy()
    return rot


def predict(model, gridder, items: list, ligand_only: bool = False, batch_size: int = 32, autocast=None,
            rotations: int = 1):
    """``items``: (receptor TypedAtoms | None, ligand TypedAtoms, centre) -> (activity probability ``[n]``,
    pK ``[n]``) as float64 NumPy, in batches of ``batch_size``. ``autocast``: a context factory (e.g.
    ``traincore.runtime.Runtime.autocast``) around each forward pass, None for none. ``rotations`` > 1:
    test-time augmentation, the mean logit and pK over :func:`tta_rotations` orientations about each
    grid centre (gnina's ``--cnn_rotation``); 1 scores the pose as given."""
    return predict_many([model], gridder, items, ligand_only, batch_size, autocast, rotations)[0]


def predict_many(models: list, gridder, items: list, ligand_only: bool = False, batch_size: int = 32, autocast=None,
                 rotations: int = 1, receptor_blind: list | None = None) -> list:
    """:func:`predict` for several models that read the same grids: each batch is gridded once per orientation
    and every model runs on it (gridding costs about three forward passes of the small nets on a CPU core). Each
    model's result is exactly what :func:`predict` gives it alone: the same grids, the same batches.
    ``receptor_blind[m]``: model m is ligand-only and reads the grids with the receptor channels zeroed, which is
    exactly the grid the gridder makes with ``ligand_only`` (receptor atoms write receptor channels only)."""
    import contextlib

    import numpy as np
    import torch

    from ..typing import NUM_FEATURES
    blind = list(receptor_blind or [False] * len(models))
    rots = tta_rotations(rotations) if rotations > 1 else [None]  # None: the gridder's own orientation
    act = [[] for _ in models]
    aff = [[] for _ in models]
    with torch.no_grad():
        for s in range(0, len(items), batch_size):
            batch = items[s:s + batch_size]
            logit, pk = [0.0] * len(models), [0.0] * len(models)
            for r in rots:
                grids = gridder(batch, ligand_only=ligand_only, rotation=r)
                lig = None
                for m, model in enumerate(models):
                    x = grids
                    if blind[m] and not ligand_only:
                        if lig is None:
                            lig = grids.clone()
                            lig[:, :NUM_FEATURES] = 0
                        x = lig
                    with (autocast() if autocast is not None else contextlib.nullcontext()):
                        out = model(x)
                    logit[m] = logit[m] + out["activity"].float()
                    pk[m] = pk[m] + out["affinity"].float()
            for m in range(len(models)):
                act[m].append(torch.sigmoid(logit[m] / len(rots)).cpu())
                aff[m].append((pk[m] / len(rots)).cpu())
    if not items:
        return [(np.zeros(0), np.zeros(0)) for _ in models]
    return [(torch.cat(a).numpy().astype(np.float64), torch.cat(f).numpy().astype(np.float64)) for a, f in zip(act, aff)]


def predict_shared(jobs: list, items: list, batch_size: int = 32, autocast=None, rotations: int = 1) -> list:
    """``jobs``: [(model, gridder, ligand_only)] -> [(activity, pK)] in the same order, each exactly what
    :func:`predict` gives that job alone. Jobs whose gridders make the same grids (same spec and device, neither
    random) share them (:func:`predict_many`): the full grids, which ligand-only jobs read with the receptor
    channels zeroed, or, when every job of the group is ligand-only, the cheaper ligand-only grids."""
    groups: dict[tuple, list[int]] = {}
    for i, (_, gridder, _) in enumerate(jobs):
        random = gridder.rotate or gridder.translate > 0  # a random gridder draws per call: never shared
        groups.setdefault((gridder.spec, str(gridder.device), id(gridder) if random else None), []).append(i)
    out: list = [None] * len(jobs)
    for idx in groups.values():
        blind = [bool(jobs[i][2]) for i in idx]
        res = predict_many([jobs[i][0] for i in idx], jobs[idx[0]][1], items, all(blind), batch_size, autocast,
                           rotations, receptor_blind=blind)
        for i, r in zip(idx, res):
            out[i] = r
    return out


_CARD_SHA = re.compile(r"sha256[^0-9a-f]*([0-9a-f]{64})")


def card_sha256(name: str) -> str | None:
    """The sha256 a shipped model's card states for its file (None if the card states none)."""
    card = MODELS_DIR / f"{name}.md"
    m = _CARD_SHA.search(card.read_text(encoding="utf-8")) if card.is_file() else None
    return m.group(1) if m else None
