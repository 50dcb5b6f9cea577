"""Training on traincore: balanced pose sampling, grids made on the fly on the run's device.

    atomgrid train --config configs/atomgrid/small.toml [-o train.steps=100 ...]

Loss per batch: BCE on the activity logit (good pose vs bad pose) plus ``affinity_weight`` times
the affinity loss: squared error on good poses with a label, and gnina's hinge for bad poses
(only a prediction above the label is penalised: a wrong pose should not score higher).
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from traincore.checkpoint import CheckpointManager, restore_training_state, training_state
from traincore.config import check_bounds, config_to_dict, load_config, save_config
from traincore.loop import fit
from traincore.metrics import MetricsLogger, truncate_jsonl
from traincore.runtime import Runtime, seed_everything, unwrap
from traincore.schedule import as_torch_scheduler, make_schedule

from . import data as agdata
from . import nets
from .models import export_model  # noqa: F401  (the model file format lives in atomgrid.models; re-exported)
from .featurize import Gridder
from .grid import GridSpec
from .typing import NUM_FEATURES, scheme_dict

MODEL_KIND = "atomgrid"


@dataclass(frozen=True)
class DataConfig:
    """Caches are built from shared/data on first use when missing."""

    train_cache: str = "runs/atomgrid/cache_train.pt"
    val_cache: str = "runs/atomgrid/cache_val.pt"
    decoys_per_pose: int = 2
    max_per_system: int = 0  # FEP ligands per system (0 = all)
    grid_size: int = 48
    resolution: float = 0.5
    rotate: bool = True
    translate: float = 2.0
    ligand_only: bool = False  # zero the receptor channels (the ligand-only baseline)
    screen_caches: tuple[str, ...] = ()  # actives vs decoys posed in their receptors (atomgrid screen-data)
    screen_fraction: float = 0.0  # share of every batch drawn from screen_caches (half actives, half decoys)
    # keep only these targets' screening examples (a cross-target fold's training targets; () = all); the
    # model's meta records them as ``train_targets`` so the protocol can check what it saw
    screen_targets: tuple[str, ...] = ()
    # DEKOIS actives of the screening caches carry their measured pK (Ki/Kd/IC50 tags; never for targets whose
    # protein is a CASF-2016 UniProt), so the affinity head learns from them too (crossval.with_active_affinities)
    screen_affinity: bool = False
    # pose-robust screening share: each screening example's ligand is moved rigidly against its receptor at every
    # draw, rotated up to screen_jitter_degrees about its centroid and shifted up to screen_jitter Å (0 = off)
    screen_jitter: float = 0.0
    screen_jitter_degrees: float = 0.0
    # data scaling: train on a seeded share of screen_targets only (1.0 = all); the model's meta lists the subset
    screen_target_fraction: float = 1.0
    # screening targets a cross-target fold does not train on (set by --fold): the pose/affinity complexes of their
    # protein groups (atomgrid.families.affinity_group at holdout_level) are dropped from train_cache
    affinity_holdout: tuple[str, ...] = ()
    holdout_level: str = "family"
    # pocket ranking: each batch also holds this many pairs of (a cross-target decoy of screen_caches, the same
    # molecule as an active of its source target in that target's own pocket); train.pair_weight times a logistic
    # ranking loss puts the own-pocket pose above the other pocket's. Same ligand on both sides, so only the pocket
    # can carry it. The cross-target decoys are then seen only in their pairs (0 = off)
    cross_decoy_pairs: int = 0
    # series ranking (rule AK): each batch also holds this many pairs of ligands of one FEP series (same pocket,
    # congeneric, measured pK at least series_min_gap apart); train.pair_weight times a logistic ranking loss puts the
    # more potent one's activity logit above the other's. Both stay in the pose share too (0 = off)
    series_pairs: int = 0
    series_min_gap: float = 1.0
    # same-target ranking (rule AM): each batch also holds this many (decoy, active) pairs of one screening target
    # and receptor (target_pairs_per_target drawn per target, so targets weigh the same); train.pair_weight times a
    # logistic ranking loss puts the active's activity logit above its own target's decoy's. Both stay in their
    # pools too (0 = off)
    target_pairs: int = 0
    target_pairs_per_target: int = 2000


@dataclass(frozen=True)
class NetSection:
    preset: str = "atomnet-c16-l3"
    stem_pool: int = 2
    hidden: int = 64
    dropout: float = 0.0
    head: str = "flatten"


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup: int = 50
    clip_grad: float = 5.0
    affinity_weight: float = 0.5
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto, fp32, bf16 (traincore.runtime); bf16 is autocast, weights stay fp32
    threads: int = 0  # torch CPU threads (0 = torch's default)
    eval_every: int = 250
    log_every: int = 25
    keep_last: int = 2
    max_minutes: float = 0.0  # stop early after this much wall time (0 = no limit)
    init: str = ""  # start from this model's weights (same architecture), e.g. a shipped model to fine-tune
    stop_after: int = 0  # stop after this many steps, schedule still spanning `steps` (0 = run all)
    # product-of-experts debiasing (Clark et al. 2019; He et al. 2019): a frozen ligand-only model whose activity
    # logit is added to the net's in the training loss, so the net is pushed to learn what the ligand alone does
    # not explain; scoring uses the net alone. '{fold}' is replaced by the fold under --fold. "" = off.
    debias: str = ""
    pair_weight: float = 1.0  # weight of the ranking loss (data.cross_decoy_pairs, series_pairs or target_pairs)

    def __post_init__(self):  # checked when the config is read, before anything is written into the run folder
        check_bounds(self, steps=">=1", batch_size=">=1", lr=">=0", weight_decay=">=0", warmup=">=0", clip_grad=">0",
                     affinity_weight=">=0", seed=">=0", threads=">=0", eval_every=">=1", log_every=">=1",
                     keep_last=">=1", max_minutes=">=0", stop_after=">=0", pair_weight=">=0")
        if self.schedule == "cosine" and self.steps <= self.warmup:
            raise ValueError(f"steps={self.steps}: must exceed warmup={self.warmup} for the cosine schedule")


@dataclass(frozen=True)
class AtomgridConfig:
    name: str = "atomgrid"
    run_dir: str = "runs/atomgrid/default"
    data: DataConfig = field(default_factory=DataConfig)
    net: NetSection = field(default_factory=NetSection)
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def grid(self) -> GridSpec:
        return GridSpec(self.data.grid_size, self.data.resolution)

    def net_config(self) -> nets.NetConfig:
        return nets.preset(self.net.preset, stem_pool=self.net.stem_pool, hidden=self.net.hidden, dropout=self.net.dropout,
                           grid_size=self.data.grid_size, head=self.net.head)


def ensure_cache(path: str, kind: str, cfg: DataConfig) -> dict:
    """The typed cache at ``path``; a missing ``cache_train.pt`` / ``cache_val.pt`` is built (``kind``) and saved
    there first. Any other missing path is an error naming the command that makes it (building the strict training
    set under, say, ``cache_train_rec.pt`` would silently train on the wrong split)."""
    p = Path(path)
    if not p.exists():
        if p.name != f"cache_{kind}.pt":
            raise ValueError(f"{path}: no such cache; make it with `atomgrid prepare --kind <kind> --out {path}` "
                             f"(only a missing cache_{kind}.pt is built on first use)")
        p.parent.mkdir(parents=True, exist_ok=True)
        cache = agdata.build_cache(kind, cfg.decoys_per_pose, max_per_system=cfg.max_per_system or None)
        torch.save(cache, p)
        return cache
    return agdata.load_cache(p)


def make_batch(ds: agdata.ComplexSet, idx, gridder: Gridder, ligand_only: bool, jitter=None):
    """Indices -> (grids ``[B, 28, S, S, S]``, pK ``[B]``, good ``[B]``) on the gridder's device.

    ``jitter``: (NumPy generator, max shift Å, max degrees): the screening examples' ligands get a small rigid
    perturbation against their receptor (:func:`atomgrid.data.jitter_pose`); pose examples keep their pose, whose
    RMSD is their label."""
    samples = [ds.sample(int(i)) for i in idx]
    items = [(s.receptor, s.ligand, s.center) for s in samples]
    if jitter is not None:
        rng, shift, degrees = jitter
        items = [(r, agdata.jitter_pose(l, rng, shift, degrees) if agdata.is_screen(ds.examples[int(i)]) else l, c)
                 for i, (r, l, c) in zip(idx, items)]
    grids = gridder(items, ligand_only=ligand_only)
    dev = gridder.device
    pk = torch.tensor([s.pK for s in samples], dtype=torch.float32, device=dev)
    good = torch.tensor([s.good for s in samples], dtype=torch.float32, device=dev)
    return grids, pk, good


def ligand_only_view(grids: torch.Tensor) -> torch.Tensor:
    """The same batch with the receptor channels zeroed: exactly what the Gridder makes with ``ligand_only``
    (densities add per channel, and receptor atoms write channels 0-13 only)."""
    g = grids.clone()
    g[:, :NUM_FEATURES] = 0
    return g


def loss_fn(affinity_weight: float, bias_model: torch.nn.Module | None = None, pairs: int = 0, pair_weight: float = 1.0):
    """``bias_model``: a frozen ligand-only net whose activity logit is added to the net's inside the BCE
    (product of experts); the net's own logit is what scoring reads. ``pairs`` > 0: the batch's last ``2 * pairs``
    examples are (lower, higher) pairs (:func:`atomgrid.data.balanced_batches`: a cross-target decoy and its own-pocket
    active, or the weaker and the more potent ligand of an FEP series), outside the BCE and affinity losses;
    ``pair_weight`` times softplus(lower logit - higher logit) ranks each pair's second above its first."""
    def f(model, batch):
        grids, pk, good = batch
        out = model(grids)
        logit = out["activity"].float()
        stats = {}
        rank = None
        if pairs:
            n = logit.shape[0] - 2 * pairs
            d, a = logit[n::2], logit[n + 1::2]
            rank = F.softplus(d - a).mean()
            stats = {"pair_rank": float(rank.detach()), "pair_acc": float((a > d).float().mean())}
            out = {k: v[:n] for k, v in out.items()}
            logit, grids, pk, good = logit[:n], grids[:n], pk[:n], good[:n]
        if bias_model is not None:
            with torch.no_grad():
                logit = logit + bias_model(ligand_only_view(grids))["activity"].float()
        act = F.binary_cross_entropy_with_logits(logit, good)
        pred = out["affinity"].float()
        has = torch.isfinite(pk)
        y = torch.where(has, pk, pred.detach())
        err = torch.where(good > 0.5, pred - y, torch.relu(pred - y))  # hinge for bad poses
        aff = (err[has] ** 2).mean() if bool(has.any()) else pred.sum() * 0
        loss = act + affinity_weight * aff + (pair_weight * rank if rank is not None else 0)
        return loss, {"loss": float(loss.detach()), "activity_bce": float(act.detach()), "affinity_mse": float(aff.detach()),
                      **stats}
    return f


def model_meta(cfg: AtomgridConfig) -> dict:
    """What a saved model needs besides weights: architecture, grid, typing scheme, baseline flag."""
    return {"net": asdict(cfg.net_config()), "grid": {"size": cfg.data.grid_size, "resolution": cfg.data.resolution},
            "typing": scheme_dict(), "ligand_only": cfg.data.ligand_only, "name": cfg.name,
            **({"train_targets": list(cfg.data.screen_targets)} if cfg.data.screen_targets else {}),
            **({"screen_affinity": True} if cfg.data.screen_affinity else {}),
            **({"affinity_holdout": list(cfg.data.affinity_holdout), "holdout_level": cfg.data.holdout_level}
               if cfg.data.affinity_holdout else {})}


@torch.no_grad()
def predict(model, ds: agdata.ComplexSet, idx, gridder: Gridder, ligand_only: bool, batch_size: int = 32):
    """Scores for examples ``idx``: (activity probability ``[n]``, affinity pK ``[n]``) as NumPy."""
    model.eval()
    acts, affs = [], []
    for s in range(0, len(idx), batch_size):
        grids, _, _ = make_batch(ds, idx[s:s + batch_size], gridder, ligand_only)
        out = model(grids)
        acts.append(torch.sigmoid(out["activity"].float()).cpu())
        affs.append(out["affinity"].float().cpu())
    model.train()
    if not acts:
        return np.zeros(0), np.zeros(0)
    return torch.cat(acts).numpy(), torch.cat(affs).numpy()


def validate(model, ds: agdata.ComplexSet, gridder: Gridder, ligand_only: bool) -> dict:
    from .metrics import pearson, rmse, roc_auc
    idx = np.arange(len(ds))
    act, aff = predict(model, ds, idx, gridder, ligand_only)
    good = np.asarray([e["good"] for e in ds.examples])
    pk = np.asarray([e["pK"] for e in ds.examples])
    crystal = np.asarray([":" not in e["source"] for e in ds.examples])  # given poses only
    return {"val_pose_auc": roc_auc(good, act), "val_pearson": pearson(pk[crystal], aff[crystal]),
            "val_rmse": rmse(pk[crystal], aff[crystal])}


def drop_held_out_proteins(cache: dict, held_out: tuple[str, ...], level: str = "family") -> dict:
    """``cache`` without the pose/affinity complexes whose protein lies in the screening group (at ``level``) of
    one of the ``held_out`` targets (:func:`atomgrid.families.affinity_group`): a cross-target fold then learns
    neither poses nor affinities of a protein family it tests or validates on. Prints what it dropped."""
    from .families import affinity_group, group_of
    out = {group_of(t, level) for t in held_out}
    drop = {e["target"] for e in cache["examples"] if affinity_group(e["target"], level) in out}
    kept = agdata.drop_targets(cache, drop)
    gone = len({e["id"] for e in cache["examples"]}) - len({e["id"] for e in kept["examples"]})
    fams = sorted({affinity_group(k, level) for k in drop})
    print(f"pose/affinity share: {gone} complexes of {len(drop)} proteins dropped, in the held-out groups "
          f"{', '.join(fams) or '-'}", flush=True)
    return kept


# config keys that may differ between a checkpoint and the run that resumes it: where and how fast it runs, and
# when it stops; everything else (data, net, schedule, seed, precision) must be the checkpoint's
RESUME_FREE_KEYS = frozenset({"run_dir", "train.threads", "train.max_minutes", "train.stop_after", "train.keep_last",
                              "train.device"})


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_resumable(saved: dict, now: dict, path) -> None:
    """A checkpoint resumes only the run that wrote it: the same config but for :data:`RESUME_FREE_KEYS`. A key the
    checkpoint lacks (added to the config after it was written) counts as that key's default, which is what the run
    that wrote it did."""
    a, b = _flat(saved or {}), _flat(now)
    if saved:
        a = {**_flat(config_to_dict(AtomgridConfig())), **a}
    diff = sorted(k for k in set(a) | set(b) if k not in RESUME_FREE_KEYS and a.get(k) != b.get(k))
    if diff:
        k = diff[0]
        raise ValueError(f"--resume: {path} was written with another config: {k} = {a.get(k)!r} there, {b.get(k)!r} "
                         f"now" + (f" (and {len(diff) - 1} more key(s))" if len(diff) > 1 else ""))


def train(cfg: AtomgridConfig, resume: bool = False) -> Path:
    """Train per ``cfg``; writes config, metrics.jsonl, checkpoints and ``model.pt`` into ``cfg.run_dir``.

    ``resume``: continue from the newest checkpoint in ``cfg.run_dir`` (written every ``train.eval_every`` steps with
    the optimizer, schedule and every RNG the batches draw from), so that the finished model is bit-identical to an
    uninterrupted run's on the same device; without a checkpoint it starts from step 0."""
    if cfg.data.screen_jitter < 0 or not 0 <= cfg.data.screen_jitter_degrees <= 180:
        raise ValueError(f"data.screen_jitter must be >= 0 Å and data.screen_jitter_degrees in [0, 180] "
                         f"(got {cfg.data.screen_jitter}, {cfg.data.screen_jitter_degrees})")
    if cfg.data.cross_decoy_pairs < 0 or cfg.train.pair_weight < 0:
        raise ValueError(f"data.cross_decoy_pairs and train.pair_weight must be >= 0 "
                         f"(got {cfg.data.cross_decoy_pairs}, {cfg.train.pair_weight})")
    if cfg.data.series_pairs < 0 or not cfg.data.series_min_gap > 0:
        raise ValueError(f"data.series_pairs must be >= 0 and data.series_min_gap > 0 "
                         f"(got {cfg.data.series_pairs}, {cfg.data.series_min_gap})")
    if cfg.data.target_pairs < 0 or cfg.data.target_pairs_per_target < 1:
        raise ValueError(f"data.target_pairs must be >= 0 and data.target_pairs_per_target >= 1 "
                         f"(got {cfg.data.target_pairs}, {cfg.data.target_pairs_per_target})")
    kinds = [k for k in ("cross_decoy_pairs", "series_pairs", "target_pairs") if getattr(cfg.data, k)]
    if len(kinds) > 1:
        raise ValueError(f"data.{' and data.'.join(kinds)}: use one kind of ranking pairs, not several")
    cfg = with_target_fraction(cfg)
    run_dir = Path(cfg.run_dir)
    resume_state = resume_path = None
    if resume and run_dir.is_dir():
        probe = CheckpointManager(run_dir, keep_last=cfg.train.keep_last)
        resume_path = probe.latest()
        resume_state = probe.load_latest(map_location="cpu", kind=MODEL_KIND)
        if resume_state is not None:
            check_resumable(resume_state.get("config"), config_to_dict(cfg), resume_path)
            if "gridder_rng" not in resume_state:
                raise ValueError(f"--resume: {resume_path} has no batch RNG state (written before resume existed); "
                                 f"start the run again without --resume")
    if resume and resume_state is None:
        print(f"--resume: no checkpoint in {run_dir}; starting at step 0", flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    seed_everything(cfg.train.seed)
    runtime = Runtime.create(cfg.train.device, precision=cfg.train.precision)
    print(f"precision: {runtime.describe()}", flush=True)
    # a bad debiasing model fails before the data loads
    bias_model, bias_sha = load_bias_model(cfg, runtime) if cfg.train.debias else (None, "")
    train_cache = ensure_cache(cfg.data.train_cache, "train", cfg.data)
    if cfg.data.affinity_holdout:
        train_cache = drop_held_out_proteins(train_cache, cfg.data.affinity_holdout, cfg.data.holdout_level)
    val_cache = ensure_cache(cfg.data.val_cache, "val", cfg.data) if cfg.data.val_cache else None
    if val_cache is not None:  # validation never shares a protein with training
        val_cache = agdata.drop_targets(val_cache, agdata.targets_of(train_cache))
        agdata.check_disjoint(train_cache, val_cache)
    if cfg.data.screen_fraction > 0:
        if not cfg.data.screen_caches:
            raise ValueError("data.screen_fraction > 0 needs data.screen_caches (made by atomgrid screen-data)")
        for path in cfg.data.screen_caches:
            screen = agdata.load_cache(path)
            if cfg.data.screen_targets:
                screen = agdata.keep_targets(screen, set(cfg.data.screen_targets))
                if not screen["examples"]:
                    raise ValueError(f"{path}: none of data.screen_targets {list(cfg.data.screen_targets)[:5]} in it")
                screen, dropped = agdata.keep_cross_decoys_from(screen, cfg.data.screen_targets)
                if dropped:
                    print(f"{path}: {dropped} cross-target decoys left out (actives of targets this run does not "
                          f"train on)", flush=True)
            if val_cache is not None:
                agdata.check_disjoint(screen, val_cache)
            if cfg.data.screen_affinity:
                from .crossval import with_active_affinities
                screen, info = with_active_affinities(screen)
                print(f"{path}: {info['labelled']} actives of {info['targets']} targets carry their measured pK "
                      f"(not: CASF-2016 proteins {', '.join(info['casf_protein_targets']) or '-'})", flush=True)
            train_cache = agdata.merge_caches(train_cache, screen)
    ds = agdata.ComplexSet(train_cache)
    pairs = None
    if cfg.data.cross_decoy_pairs:
        pairs, missing = agdata.cross_decoy_pairs(ds.examples)
        print(f"pocket ranking: {len(pairs)} cross-target decoys paired with the same molecule as their source's "
              f"active, {cfg.data.cross_decoy_pairs} pairs a batch"
              + (f"; {missing} left out (no such active among the training examples)" if missing else ""), flush=True)
    if cfg.data.series_pairs:
        pairs = agdata.series_pairs(ds.examples, cfg.data.series_min_gap)
        if len(pairs) == 0:
            raise ValueError(f"data.series_pairs = {cfg.data.series_pairs}: no two FEP ligands of one series in the "
                             f"training data are {cfg.data.series_min_gap:g} pK apart (lower data.series_min_gap)")
        n_series = len({ds.examples[i]["target"] for i in pairs[:, 1]})
        print(f"series ranking: {len(pairs)} pairs of FEP ligands at least {cfg.data.series_min_gap:g} pK apart in "
              f"{n_series} series, {cfg.data.series_pairs} pairs a batch", flush=True)
    if cfg.data.target_pairs:
        pairs = agdata.target_pairs(ds.examples, cfg.data.target_pairs_per_target, cfg.train.seed)
        if len(pairs) == 0:
            raise ValueError(f"data.target_pairs = {cfg.data.target_pairs}: no screening target of the training data "
                             f"has both an active and a decoy (data.screen_caches)")
        n_targets = len({(ds.examples[i]["target"], ds.examples[i]["receptor"]) for i in pairs[:, 1]})
        print(f"same-target ranking: {len(pairs)} (decoy, active) pairs of {n_targets} screening targets, "
              f"{cfg.data.target_pairs} pairs a batch", flush=True)
    n_pairs = cfg.data.cross_decoy_pairs or cfg.data.series_pairs or cfg.data.target_pairs
    val = agdata.ComplexSet(val_cache) if val_cache is not None else None
    gridder = Gridder(cfg.grid, runtime.device, rotate=cfg.data.rotate, translate=cfg.data.translate, seed=cfg.train.seed)
    eval_gridder = Gridder(cfg.grid, runtime.device)
    net = nets.build(cfg.net_config())
    init_holdout = init_weights(net, cfg.train.init, cfg) if cfg.train.init else None
    model = runtime.prepare(net)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    sched = as_torch_scheduler(opt, make_schedule(cfg.train.schedule, cfg.train.lr, cfg.train.steps, cfg.train.warmup))
    index_batches = agdata.balanced_batches(ds, cfg.train.batch_size, cfg.train.seed, cfg.data.screen_fraction,
                                            pairs, n_pairs, hide_paired=bool(cfg.data.cross_decoy_pairs))
    # its own stream, so the batches and the gridder's rotations are the same as without jitter
    jitter = ((np.random.default_rng([cfg.train.seed, 17]), cfg.data.screen_jitter, cfg.data.screen_jitter_degrees)
              if cfg.data.screen_jitter > 0 or cfg.data.screen_jitter_degrees > 0 else None)
    start = 0
    if resume_state is not None:
        start = restore_training_state(resume_state, model=model, optimizer=opt, scheduler=sched, rng=True)
        gridder.generator.set_state(resume_state["gridder_rng"])
        if jitter is not None:
            jitter[0].bit_generator.state = resume_state["jitter_rng"]
        for _ in range(start):  # the index stream is cheap to replay; the grids are not made
            next(index_batches)
        truncate_jsonl(run_dir / "metrics.jsonl", start)
        print(f"resumed from {resume_path} at step {start} of {cfg.train.steps}", flush=True)
    t_start = time.time()

    def batches():
        for n, idx in enumerate(index_batches, start=start):
            if cfg.train.max_minutes > 0 and time.time() - t_start > 60 * cfg.train.max_minutes:
                return  # fit() ends cleanly when the batch stream ends
            if 0 < cfg.train.stop_after <= n:
                return
            yield make_batch(ds, idx, gridder, cfg.data.ligand_only, jitter)

    logger = MetricsLogger(run_dir)
    ckpt = CheckpointManager(run_dir, keep_last=cfg.train.keep_last)
    meta = model_meta(cfg)
    if "affinity_holdout" in meta and init_holdout is not None:  # held out only where the init held it out too
        meta["affinity_holdout"] = [t for t in meta["affinity_holdout"] if t in init_holdout]
    if bias_model is not None:
        meta["debiased_with"] = {"path": cfg.train.debias, "sha256": bias_sha}
    history: list[dict] = []

    def hook(step: int, m: dict) -> None:
        if step % cfg.train.log_every == 0 or step == cfg.train.steps:
            logger.log(step, m)
            history.append({"step": step, **{k: round(v, 5) for k, v in m.items()}})
            print(f"step {step} " + " ".join(f"{k}={v:.4g}" for k, v in m.items()), flush=True)
        if step % cfg.train.eval_every == 0 or step == cfg.train.steps:
            vm = validate(model, val, eval_gridder, cfg.data.ligand_only) if val is not None else {}
            if vm:
                logger.log(step, vm, tag="val")
                print(f"step {step} " + " ".join(f"{k}={v:.4f}" for k, v in vm.items()), flush=True)
            metric = vm.get("val_pose_auc")
            state = training_state(model=model, step=step, optimizer=opt, scheduler=sched, config=config_to_dict(cfg),
                                   kind=MODEL_KIND, meta=meta, val=vm, gridder_rng=gridder.generator.get_state(),
                                   jitter_rng=jitter[0].bit_generator.state if jitter is not None else None)
            ckpt.save(state, step, metric=None if metric is None or math.isnan(metric) else metric)

    t0 = time.time()
    state = fit(model, loss_fn(cfg.train.affinity_weight, bias_model, n_pairs, cfg.train.pair_weight),
                batches(), opt, runtime=runtime, steps=cfg.train.steps, start_step=start,
                scheduler=sched, clip_grad=cfg.train.clip_grad, hooks=(hook,))
    if state.step % cfg.train.eval_every != 0 and state.step != cfg.train.steps:
        hook_eval_only = validate(model, val, eval_gridder, cfg.data.ligand_only) if val is not None else {}
        if hook_eval_only:
            logger.log(state.step, hook_eval_only, tag="val")
            history.append({"step": state.step, **hook_eval_only})
            print(f"final step {state.step} " + " ".join(f"{k}={v:.4f}" for k, v in hook_eval_only.items()), flush=True)
    logger.close()
    export_model(unwrap(model), meta, run_dir / "model.pt", step=state.step,
                 extra={"train_seconds": time.time() - t0, "train_samples": state.samples, "config": config_to_dict(cfg),
                        "runtime": runtime.metadata()})
    (run_dir / "summary.json").write_text(json.dumps({"steps": state.step, "samples": state.samples,
                                                      "seconds": time.time() - t0, "last": state.last,
                                                      **({"resumed_from_step": start} if start else {}),
                                                      "runtime": runtime.metadata()}, indent=1))
    return run_dir


def check_fits(what: str, meta: dict, cfg: AtomgridConfig, keys=("net", "grid", "typing")) -> None:
    """A saved model named by config key ``what`` (``train.init``, ``train.debias``) must match ``cfg`` in ``keys``
    (the net's dropout rate aside: it holds no weights, so a net trained without dropout can start one with it)."""
    want = model_meta(cfg)

    def comparable(key, value):
        return {k: v for k, v in value.items() if k != "dropout"} if key == "net" and isinstance(value, dict) else value

    for key in keys:
        if comparable(key, meta.get(key)) != comparable(key, want[key]):
            raise ValueError(f"{what}: its {key} differs from this config's")


def load_bias_model(cfg: AtomgridConfig, runtime: Runtime) -> tuple[torch.nn.Module, str]:
    """(the frozen ligand-only model of ``train.debias``, its file's sha256): it must be ligand-only, on this
    config's grid and typing, and trained on no screening target this run does not train on (else its logit
    would carry held-out data)."""
    from .models import file_sha256, load_model
    path = cfg.train.debias
    if not Path(path).is_file():
        raise ValueError(f"train.debias {path}: no such model file")
    model, meta = load_model(path, "cpu")
    if not meta.get("ligand_only"):
        raise ValueError(f"train.debias {path}: not a ligand-only model (its meta says ligand_only false)")
    check_fits(f"train.debias {path}", meta, cfg, ("grid", "typing"))
    extra = set(meta.get("train_targets") or ()) - set(cfg.data.screen_targets)
    if cfg.data.screen_targets and extra:
        raise ValueError(f"train.debias {path}: trained on targets this run holds out: {sorted(extra)[:5]}")
    for p in model.parameters():
        p.requires_grad_(False)
    sha = file_sha256(path)
    print(f"debiasing with the frozen ligand-only model {path} (sha256 {sha[:16]})", flush=True)
    return runtime.prepare(model).eval(), sha


def init_weights(net: torch.nn.Module, path: str, cfg: AtomgridConfig) -> set[str]:
    """Load a saved model's weights into ``net``; its architecture, grid and typing must match ``cfg``. Returns the
    targets whose families that model's training dropped from its pose/affinity data (its meta's
    ``affinity_holdout``): the new model's meta keeps only those of its own held-out targets."""
    from traincore.checkpoint import load_checkpoint
    state = load_checkpoint(path, map_location="cpu", kind=MODEL_KIND)
    meta = state.get("meta") or {}
    check_fits(f"train.init {path}", meta, cfg)
    missing = set(cfg.data.affinity_holdout) - set(meta.get("affinity_holdout") or ())
    if missing:  # e.g. the shipped pose model, trained on every pose/affinity complex
        print(f"warning: train.init {path} was not trained with this fold's held-out proteins dropped from its "
              f"pose/affinity data ({len(missing)} held-out targets, e.g. {', '.join(sorted(missing)[:3])}); give a "
              "pose model trained with --fold (train.init may hold '{fold}')", flush=True)
    net.load_state_dict(state["model"])
    return set(meta.get("affinity_holdout") or ())


def with_target_fraction(cfg: AtomgridConfig) -> AtomgridConfig:
    """``cfg`` with ``data.screen_targets`` cut to a seeded share ``data.screen_target_fraction`` of them (drawn
    with ``train.seed``; at least one), for data-scaling runs; unchanged at 1.0. Needs explicit screen_targets
    (``--fold``)."""
    import dataclasses
    frac = cfg.data.screen_target_fraction
    if frac == 1.0:
        return cfg
    if not 0 < frac < 1:
        raise ValueError(f"data.screen_target_fraction must be in (0, 1] (got {frac})")
    targets = sorted(cfg.data.screen_targets)
    if not targets:
        raise ValueError("data.screen_target_fraction < 1 needs data.screen_targets (train with --fold)")
    rng = np.random.default_rng([cfg.train.seed, 23])
    keep = sorted(rng.choice(targets, max(1, round(frac * len(targets))), replace=False).tolist())
    print(f"data.screen_target_fraction {frac}: {len(keep)} of {len(targets)} screening targets", flush=True)
    # the drawn subset replaces the share, so the run's saved config reproduces it rather than halving it again
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, screen_targets=tuple(keep),
                                                             screen_target_fraction=1.0))


def load_train_config(path: str | None, overrides=()) -> AtomgridConfig:
    return load_config(AtomgridConfig, path, overrides)
