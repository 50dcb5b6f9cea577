"""Single-tree search speed (what `boardnet play`, `arena`, UCI and GTP run): the scalar PUCT descent
(`boardnet.search._descend_one`) against the baseline it replaced, the batched NumPy descent
(`_descend`) called on one tree, measured in the same run on the same positions and nets.

For each game, the shipped net in the chosen precision searches a fixed set of positions from
random play (`visits` per position, tree discarded between positions) once with each descent;
the two alternate round by round and the figure is the median over rounds of the ratio of
simulations per second, so load from other processes hits both alike. The choices are the same
(tests/test_search.py checks every step), so the ratio is pure speed.

    PYTHONPATH=. python benchmarks/descent.py [--games checkers connect4 go9 chess] [--visits 800]
        [--positions 6] [--rounds 3] [--precision auto] [--json [PATH]]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

import boardnet.search as S
from boardnet.engine import Engine
from boardnet.games import random_states
from boardnet.models import resolve
from boardnet.search import SearchConfig

SHIPPED = {"checkers": "checkers", "connect4": "connect4", "go9": "go9", "chess": "chess"}


def _batched_one(st, root, cfg, root_fpu_zero):
    """The baseline: the vectorised descent on a batch of one tree."""
    leaves, parents, pnodes, _ = S._descend(st, np.array([root], dtype=np.int64), cfg,
                                            np.array([root_fpu_zero]))
    return int(leaves[0]), int(parents[0]), pnodes.tolist()


def rate(engine: Engine, states, visits: int, descend) -> float:
    S._descend_one = descend
    n, t0 = 0, time.perf_counter()
    for s in states:
        engine.new_game()
        engine.evaluator.clear_cache()
        n += engine.analyse(s, visits=visits).nodes
    return n / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", nargs="+", default=list(SHIPPED))
    ap.add_argument("--visits", type=int, default=800)
    ap.add_argument("--positions", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", nargs="?", const="", default=None, metavar="PATH")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    scalar = S._descend_one
    figures, models = {}, {}
    try:
        for name in args.games:
            engine = Engine.from_checkpoint(SHIPPED[name], device="cpu", precision=args.precision,
                                            search=SearchConfig(num_simulations=args.visits))
            models[name] = resolve(SHIPPED[name])
            states = random_states(engine.game, args.positions, seed=0)
            rate(engine, states[:1], 100, scalar)   # warm-up (int8 calibration, allocator)
            base, new, ratios = [], [], []
            for _ in range(args.rounds):
                b = rate(engine, states, args.visits, _batched_one)
                x = rate(engine, states, args.visits, scalar)
                base.append(b)
                new.append(x)
                ratios.append(x / b)
            figures[name] = {"baseline_sims_per_s": statistics.median(base), "scalar_sims_per_s": statistics.median(new),
                             "ratio": statistics.median(ratios), "ratios": ratios, "positions": len(states),
                             "visits": args.visits, "precision": engine.runtime.describe()}
            f = figures[name]
            print(f"{name:9s} batched-descent baseline {f['baseline_sims_per_s']:8,.0f} sims/s   scalar "
                  f"{f['scalar_sims_per_s']:8,.0f} sims/s   ratio {f['ratio']:.2f}x", flush=True)
    finally:
        S._descend_one = scalar
    if args.json is not None:
        from benchmarks._results import write_result
        print("wrote", write_result("descent", figures, models=models, out=args.json or None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
