"""Self-play throughput: games/hour and samples/s with 1 and 2 Ray actors (scaling against 1 actor in
the same run), learner samples/s, and the share of time the learner waits on data in a short run.

    python benchmarks/selfplay.py [--config configs/connect4_quick.toml] [--seconds 60] [--json [PATH]]
    python benchmarks/selfplay.py --config configs/go9.toml --precisions fp32 auto   # issue 19

With --precisions, every figure is measured once per precision (`run.precision`, learner and actors alike), in
that order in the same run, and printed as a ratio against the first one's: 2 actors' moves/s (the steady figure;
samples are counted only as games end), their samples/s, the learner's samples/s and the training run's samples/s
(n/a where the first precision measured none).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boardnet.games import make_game  # noqa: E402
from boardnet.nets import build_net  # noqa: E402
from selfplay.config import Config  # noqa: E402
from selfplay.learner import Learner  # noqa: E402
from selfplay.replay import ReplayBuffer  # noqa: E402
from traincore.config import load_config  # noqa: E402
from traincore.runtime import Runtime  # noqa: E402


def actor_throughput(cfg: Config, workers: int, seconds: float) -> dict:
    from selfplay.distributed import RayPool
    from dataclasses import replace
    cfg = replace(cfg, run=replace(cfg.run, num_workers=workers))
    game = make_game(cfg.game.name, **cfg.game.kwargs())
    pool = RayPool(cfg)
    pool.set_weights(build_net(game, cfg.net.preset, value_head=cfg.net.value_head).state_dict(), 0)
    # warm-up: the first task of each actor includes its start-up
    warm = 0
    while warm < workers:
        warm += len(pool.results(timeout=120))
    games = samples = moves = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _, res in pool.results(timeout=60):
            games += len(res.games)
            samples += len(res.samples)
            moves += cfg.selfplay.moves_per_task * cfg.selfplay.games_per_worker
    dt = time.perf_counter() - t0
    pool.close()
    return {"workers": workers, "games_per_hour": games / dt * 3600, "samples_per_s": samples / dt,
            "moves_per_s": moves / dt}


def learner_throughput(cfg: Config, steps: int = 30, runtime: Runtime | None = None) -> float:
    """Learner samples/s on random samples; `runtime` (default: the config's device and precision)."""
    game = make_game(cfg.game.name, **cfg.game.kwargs())
    runtime = runtime or Runtime.create(cfg.run.device, precision=cfg.run.precision)
    learner = Learner(game, cfg.game.name, cfg.game.kwargs(), cfg, runtime)
    buf = ReplayBuffer(game.obs_shape, game.action_size, 20_000, 1_000)
    rng = np.random.default_rng(0)
    from selfplay.replay import Samples
    n = 5000
    pol = rng.random((n, game.action_size)).astype(np.float32)
    buf.add(Samples(rng.integers(0, 2, (n, *game.obs_shape)).astype(np.float16), pol / pol.sum(1, keepdims=True),
                    rng.choice([-1.0, 0.0, 1.0], n).astype(np.float32), np.zeros(n, np.float32),
                    np.arange(n, dtype=np.int64)), games=200)
    learner.train(buf, 3, rng)   # warm-up
    t0 = time.perf_counter()
    learner.train(buf, steps, rng)
    return steps * cfg.train.batch_size / (time.perf_counter() - t0)


def wait_share(cfg_path: str, minutes: float, overrides: tuple = ()) -> dict:
    from selfplay.run import Trainer
    out = tempfile.mkdtemp()
    cfg = load_config(Config, cfg_path, [*overrides, f"run.out_dir={out}", "run.name=b", f"run.max_minutes={minutes}",
                                         "eval.games=0", "eval.solved_positions=0", "eval.every_steps=100000"])
    t = Trainer(cfg, progress=False)
    s = t.run()
    c = t.counters
    return {"steps": s.steps, "samples": s.samples, "elapsed_s": c["elapsed"],
            "run_samples_per_s": s.samples / max(1e-9, c["elapsed"]),
            "learner_wait_share": c["wait_seconds"] / max(1e-9, c["elapsed"]),
            "learner_busy_share": c["train_seconds"] / max(1e-9, c["elapsed"])}


def _ratio(a: float, b: float) -> float | None:
    """a / b, or None where the baseline measured nothing (no game finished in the window: samples are counted as
    games end)."""
    return a / b if b > 0 else None


def _fmt(r: float | None) -> str:
    return "n/a (nothing in the baseline)" if r is None else f"{r:.2f}x"


def measure(config: str, overrides: tuple, seconds: float, run_minutes: float) -> dict:
    """Actor rows (1 and 2 actors), learner samples/s and a short training run's figures for one config."""
    cfg = load_config(Config, config, list(overrides))
    from selfplay.distributed import init_ray
    init_ray(None, num_cpus=os.cpu_count())
    rows = [actor_throughput(cfg, w, seconds) for w in (1, 2)]
    scaling = _ratio(rows[1]["moves_per_s"], rows[0]["moves_per_s"])
    runtime = Runtime.create(cfg.run.device, precision=cfg.run.precision)
    threads = torch.get_num_threads()
    torch.set_num_threads(os.cpu_count() or 1)
    lsps = learner_throughput(cfg, runtime=runtime)
    torch.set_num_threads(threads)
    import ray
    ray.shutdown()
    ws = wait_share(config, run_minutes, overrides)
    print(f"config {config} {' '.join(overrides)}: {cfg.game.name} {cfg.net.preset}, {cfg.search.num_simulations} "
          f"sims, {cfg.selfplay.games_per_worker} games per actor; {runtime.describe()}")
    for r in rows:
        print(f"  {r['workers']} actor(s): {r['games_per_hour']:,.0f} games/h, {r['samples_per_s']:.1f} samples/s, "
              f"{r['moves_per_s']:.1f} moves/s")
    print(f"  scaling 2 actors / 1 actor: {_fmt(scaling)} moves/s (ideal 2.0 on 2 free cores)")
    print(f"  learner: {lsps:,.0f} samples/s (batch {cfg.train.batch_size}); reuse {cfg.train.reuse} means it needs "
          f"{rows[1]['samples_per_s'] * cfg.train.reuse:,.0f} samples/s to keep up with 2 actors")
    print(f"  {run_minutes} min training run: {ws['run_samples_per_s']:.1f} self-play samples/s with the learner "
          f"running; learner waits on data {ws['learner_wait_share']:.0%} of the time, trains "
          f"{ws['learner_busy_share']:.0%}; {ws['steps']} steps, {ws['samples']} samples")
    return {"actors": rows, "scaling": scaling, "learner_samples_per_s": lsps, "runtime": runtime.describe(), **ws}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default=str(ROOT / "configs" / "connect4_quick.toml"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--run-minutes", type=float, default=3)
    ap.add_argument("--precisions", nargs="+", choices=("auto", "fp32", "bf16"),
                    help="measure everything once per run.precision, ratios against the first (default: the config's)")
    ap.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                    help="write the figures with provenance to benchmarks/results/selfplay-<date>.json (or PATH)")
    args = ap.parse_args()
    figures = {"config": args.config, "seconds": args.seconds, "run_minutes": args.run_minutes}
    if not args.precisions:
        figures.update(measure(args.config, (), args.seconds, args.run_minutes))
    else:
        per = {p: measure(args.config, (f"run.precision={p}",), args.seconds, args.run_minutes) for p in args.precisions}
        base = per[args.precisions[0]]
        ratios = {p: {"actors_2_moves_per_s": _ratio(f["actors"][1]["moves_per_s"], base["actors"][1]["moves_per_s"]),
                      "actors_2_samples_per_s": _ratio(f["actors"][1]["samples_per_s"], base["actors"][1]["samples_per_s"]),
                      "learner_samples_per_s": _ratio(f["learner_samples_per_s"], base["learner_samples_per_s"]),
                      "run_samples_per_s": _ratio(f["run_samples_per_s"], base["run_samples_per_s"])}
                  for p, f in per.items()}
        for p, r in ratios.items():
            print(f"  {p} / {args.precisions[0]}: 2 actors {_fmt(r['actors_2_moves_per_s'])} moves/s "
                  f"({_fmt(r['actors_2_samples_per_s'])} samples/s, counted as games end), learner "
                  f"{_fmt(r['learner_samples_per_s'])}, self-play with the learner running {_fmt(r['run_samples_per_s'])}")
        figures.update(precisions=per, ratios=ratios)
    figures["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of this process: {figures['peak_rss_mib']:.0f} MiB")
    if args.json is not None:
        from benchmarks._results import write_result
        print("results written to", write_result("selfplay", figures, out=args.json or None))


if __name__ == "__main__":
    main()
