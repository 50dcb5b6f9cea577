"""Pose the cross-target protocol's targets in several processes (a fresh checkout has no `runs/`): each process
takes the targets in its own order and claims one at a time with a lock file, so no two pose the same target.
`atomgrid screen-data --crossval` does the same work in one process; two of these, one a core,
took ~37 minutes in session 36. Afterwards `atomgrid screen-data --crossval --embed-timeout 30` finds every pose
cached and writes `runs/atomgrid/screen_cv/cache_crossval.pt` in under a minute. Same poses: the same function
(`atomgrid.crossval.pose_target`) with the same settings.

    for k in 0 1; do OMP_NUM_THREADS=1 taskset -c $k .venv/bin/python campaigns/atomgrid-affinity/pose_parallel.py $k 2 & done; wait
    rm -f runs/atomgrid/crossval/*/pose.lock
    .venv/bin/atomgrid screen-data --crossval --embed-timeout 30

PDE4B and PDE5 (the validation groups' fixed pair) are no training target; add `--with-validation v34` so that they
are posed here too, not by the first evaluation lane (two lanes posing one target now take turns on a lock in
`pose_target`; in session 36, before that lock, one of them lost PDE5).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from atomgrid.crossval import _ident, pose_target
from atomgrid.families import folds_of, trainable_targets
from atomgrid.models import POSE_MODEL, resolve_model
from atomgrid.score import ScoreError, ScoreOptions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("worker", type=int, help="this process's number, 0 .. workers-1")
    ap.add_argument("workers", type=int)
    ap.add_argument("--work", default="runs/atomgrid/crossval")
    ap.add_argument("--with-validation", metavar="GROUP", default="", help="also the group's validation targets")
    args = ap.parse_args()
    torch.set_num_threads(1)
    targets = list(trainable_targets())
    if args.with_validation:
        targets += [t for t in folds_of(args.with_validation)[1].validation if t not in targets]
    k = args.worker % max(1, args.workers)
    targets = targets[k:] + targets[:k] if k % 2 == 0 else (targets[::-1][k:] + targets[::-1][:k])
    model = str(resolve_model(POSE_MODEL))
    opts = ScoreOptions(poses="template", seed=0, embed_timeout=30, rotations=1)
    work = Path(args.work)
    for t in targets:
        d = work / _ident(t)
        d.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(d / "pose.lock", os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            continue
        try:
            pose_target(t, work=work, model=model, max_decoys=200, seed=0, pose_options=opts)
            print(f"{t}: posed", flush=True)
        except (FileNotFoundError, ScoreError) as exc:  # no template, or a reference RDKit cannot read
            print(f"{t}: skipped ({exc})", flush=True)


if __name__ == "__main__":
    main()
