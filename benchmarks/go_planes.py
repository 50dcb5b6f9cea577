"""Which Go input planes pay for themselves: the same small net trained on the same KGS positions (same
seed, same stream, same steps) with groups of planes zeroed, validation top-1 compared in one run.

    python benchmarks/go_planes.py [--steps 600] [--preset b3c32] [--batch 64] [--threads 1]

Variants (plane numbers as in boardnet/games/go.py):
    all           every plane (what the shipped go19 net reads)
    no_liberties  17-22 zeroed (own/opponent stones in groups with 1, 2, >= 3 liberties)
    no_history    2-15 zeroed (the 7 earlier boards, i.e. the recent moves)
    no_ko         23 zeroed (points forbidden only by ko)
    stones_only   only 0, 1 (stones now), 16 (colour to move), 24 (ones)
Zeroing keeps the architecture and cost identical, so the difference is the information alone.
Writes benchmarks/results/go_planes-<date>.json.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import write_result  # noqa: E402
from selfplay.supervised import (SLConfig, SupervisedTrainer, collect_split, evaluate_positions,  # noqa: E402
                                 sl_loss)
from traincore.config import load_config  # noqa: E402
from traincore.loop import fit  # noqa: E402
from traincore.runtime import seed_everything  # noqa: E402

VARIANTS = {
    "all": [],
    "no_liberties": list(range(17, 23)),
    "no_history": list(range(2, 16)),
    "no_ko": [23],
    "stones_only": [p for p in range(25) if p not in (0, 1, 16, 24)],
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=str(ROOT / "configs" / "go19_sl.toml"))
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--preset", default="b3c32")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--val-positions", type=int, default=3000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    base = [f"net.preset=\"{args.preset}\"", f"train.batch_size={args.batch}", f"train.lr={args.lr}",
            f"train.total_steps={args.steps}", "train.warmup_steps=50", "data.shuffle_buffer=30000",
            f"run.torch_threads={args.threads}", "run.name=\"planes\""]
    cfg0 = load_config(SLConfig, args.config, base + [f"run.out_dir=\"{tempfile.mkdtemp()}\""])
    val = collect_split(cfg0.data, "val", args.val_positions, seed=1, prob=cfg0.data.val_position_prob)
    results = {}
    for name in args.variants:
        zero = VARIANTS[name]
        seed_everything(0)
        cfg = load_config(SLConfig, args.config, base + [f"run.out_dir=\"{tempfile.mkdtemp()}\""])
        tr = SupervisedTrainer(cfg, progress=False)

        def masked(it, zero=zero):
            for x, a, z, m in it:
                if zero:
                    x = x.clone()
                    x[:, zero] = 0
                yield x, a, z, m
        t0 = time.perf_counter()
        fit(tr.model, lambda m, b: sl_loss(m, b, cfg.train.value_weight), masked(tr.batches()), tr.optimizer,
            runtime=tr.runtime, steps=args.steps, scheduler=tr.scheduler, clip_grad=cfg.train.clip_grad)
        secs = time.perf_counter() - t0
        vp = val["planes"].copy()
        if zero:
            vp[:, zero] = 0
        r = evaluate_positions(tr.model, tr.runtime, vp, val["actions"], val["z"], val["mask"])
        r["train_seconds"] = secs
        results[name] = r
        print(f"{name:13s} val top-1 {r['top1']:.4f} top-3 {r['top3']:.4f} policy loss {r['policy_loss']:.4f} "
              f"value MSE {r['value_mse']:.4f} ({secs:.0f} s)", flush=True)
    figures = {"preset": args.preset, "batch": args.batch, "steps": args.steps, "lr": args.lr,
               "threads": args.threads, "val_positions": int(len(val["actions"])), "val_games": int(val["games"]),
               "variants": results}
    path = write_result("go_planes", figures, out=args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
