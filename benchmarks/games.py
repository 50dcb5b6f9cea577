"""Random play-outs through the public game API, ours against OpenSpiel's, one core.

Each ply of a play-out: encode the observation (ours `state.planes()`, OpenSpiel
`state.observation_tensor()`), list the legal actions, pick one at random (the same Python
`random.Random` for both) and play it (ours `state.apply`, which returns a new state; OpenSpiel
`state.apply_action`, in place). Plies per CPU second of this process (`time.process_time`, so that
other jobs on a shared machine do not count against either side), and the ratio ours / OpenSpiel,
measured in short alternating rounds in the same process so that cache and frequency effects hit
both alike.

    python benchmarks/games.py [--games connect4 go chess tictactoe checkers go19] [--seconds S] [--breakdown]
        [--json [PATH]]

With --json the rows (and the breakdown) are written with provenance to
benchmarks/results/games-<date>.json, or PATH.

OpenSpiel is the `bench` extra (`pip install open-spiel`); without it only our figures print.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one core, before numpy
    os.environ.setdefault(_var, "1")

import argparse
import importlib.util
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# name: (make_game name, our module, OpenSpiel game string, target ratio ours/OpenSpiel or None)
GAMES = {
    "connect4": ("connect4", "connect4", "connect_four", 0.3),
    "go": ("go9", "go", "go(board_size=9,komi=7.0)", 0.15),
    "chess": ("chess", "chess", "chess", 0.3),
    "tictactoe": ("tictactoe", "tictactoe", "tic_tac_toe", None),
    "checkers": ("checkers", "checkers", "checkers", 0.3),
    "go19": ("go19", "go", "go(board_size=19,komi=7.5)", None),
}
DEFAULT = ("connect4", "go", "chess", "tictactoe", "checkers")


def run_ours(game, seconds: float, seed: int) -> tuple[int, int, float]:
    """(plies, games, CPU seconds) of random play-outs encoding planes every ply."""
    rng = random.Random(seed)
    randrange = rng.randrange
    plies = games = 0
    clock = time.process_time
    start = clock()
    deadline = start + seconds
    while clock() < deadline:
        s = game.initial_state()
        while not s.is_terminal():
            s.planes()
            acts = s.legal_actions()
            s = s.apply(acts[randrange(len(acts))])
            plies += 1
        games += 1
    return plies, games, clock() - start


def run_openspiel(game, seconds: float, seed: int) -> tuple[int, int, float]:
    rng = random.Random(seed)
    randrange = rng.randrange
    plies = games = 0
    clock = time.process_time
    start = clock()
    deadline = start + seconds
    while clock() < deadline:
        s = game.new_initial_state()
        while not s.is_terminal():
            s.observation_tensor()
            acts = s.legal_actions()
            s.apply_action(acts[randrange(len(acts))])
            plies += 1
        games += 1
    return plies, games, clock() - start


def breakdown(game, seconds: float, seed: int) -> dict[str, float]:
    """CPU microseconds per call of apply / planes / legal_actions, each timed in its own loop, in
    the play-out's order on fresh states: apply makes new children of recorded play-out states,
    then planes() and legal_actions() are asked of those children for the first time (so a game
    that computes something lazily and caches it pays where the play-out pays)."""
    rng = random.Random(seed)
    clock = time.process_time
    states, actions = [], []
    deadline = clock() + seconds / 4
    while clock() < deadline:
        s = game.initial_state()
        while not s.is_terminal():
            acts = s.legal_actions()
            a = acts[rng.randrange(len(acts))]
            states.append(s)
            actions.append(a)
            s = s.apply(a)
    n = len(states)
    t0 = clock()
    for _ in zip(states, actions):  # the loop itself, taken off the others
        pass
    t1 = clock()
    children = [s.apply(a) for s, a in zip(states, actions)]
    t2 = clock()
    for c in children:
        c.planes()
    t3 = clock()
    for c in children:
        c.legal_actions()
    t4 = clock()
    loop = t1 - t0
    return {"apply": 1e6 * (t2 - t1 - loop) / n, "planes": 1e6 * (t3 - t2 - loop) / n,
            "legal_actions": 1e6 * (t4 - t3 - loop) / n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--games", nargs="+", default=list(DEFAULT), choices=sorted(GAMES))
    ap.add_argument("--seconds", type=float, default=6.0,
                    help="CPU seconds per side per game, split over --rounds alternating rounds")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--breakdown", action="store_true",
                    help="also time our apply / planes / legal_actions, each on its own")
    ap.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                    help="write the rows with provenance to benchmarks/results/games-<date>.json (or PATH)")
    args = ap.parse_args(argv)
    if args.seconds <= 0 or args.rounds < 1:
        ap.error(f"--seconds {args.seconds} and --rounds {args.rounds} must be positive")

    from boardnet.games import make_game

    try:
        import pyspiel
    except ImportError:
        pyspiel = None
        print("OpenSpiel is not installed (pip install open-spiel, the 'bench' extra): "
              "our figures only")

    import numpy as np
    print(f"python {platform.python_version()}, numpy {np.__version__}, "
          f"open_spiel {'-' if pyspiel is None else _version('open_spiel')}, "
          f"{os.cpu_count()} CPUs, one thread; {args.rounds} x {args.seconds / args.rounds:.1f} s "
          "CPU per side per game")
    rows = []
    per_round = args.seconds / args.rounds
    for key in args.games:
        name, module, spiel_name, target = GAMES[key]
        if importlib.util.find_spec(f"boardnet.games.{module}") is None:
            print(f"{key}: skipped, boardnet/games/{module}.py does not exist yet")
            continue
        ours_game = make_game(name)
        spiel_game = pyspiel.load_game(spiel_name) if pyspiel is not None else None
        ours = [0, 0, 0.0]
        theirs = [0, 0, 0.0]
        ratios = []
        for r in range(args.rounds):
            a = run_ours(ours_game, per_round, args.seed + r)
            ours = [x + y for x, y in zip(ours, a)]
            if spiel_game is not None:
                b = run_openspiel(spiel_game, per_round, args.seed + r)
                theirs = [x + y for x, y in zip(theirs, b)]
                ratios.append((a[0] / a[2]) / (b[0] / b[2]))
        row = {"game": key, "ours": ours[0] / ours[2], "ours_len": ours[0] / max(ours[1], 1),
               "spiel": theirs[0] / theirs[2] if theirs[2] else None,
               "spiel_len": theirs[0] / max(theirs[1], 1) if theirs[2] else None,
               "ratio": statistics.median(ratios) if ratios else None, "target": target}
        rows.append(row)
        line = f"{key}: ours {row['ours']:,.0f} plies/CPU-s"
        if row["spiel"] is not None:
            line += f", OpenSpiel {row['spiel']:,.0f} plies/CPU-s, ratio {row['ratio']:.2f}"
        print(line, flush=True)
        row["ratio_rounds"] = ratios
        row["games_played"] = {"ours": ours[1], "spiel": theirs[1]}
        if args.breakdown:
            bd = breakdown(ours_game, per_round, args.seed)
            row["breakdown_cpu_us_per_call"] = bd
            print("  CPU us per call: " + ", ".join(f"{k} {v:.2f}" for k, v in bd.items()))

    print()
    print("| game | ours plies/CPU-s | OpenSpiel plies/CPU-s | ours / OpenSpiel | target "
          "| plies per game (ours, OpenSpiel) |")
    print("|---|---:|---:|---:|---:|---|")
    for row in rows:
        spiel = "-" if row["spiel"] is None else f"{row['spiel']:,.0f}"
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        target = "-" if row["target"] is None else f">= {row['target']}"
        if row["ratio"] is not None and row["target"] is not None:
            target += " met" if row["ratio"] >= row["target"] else " MISSED"
        lens = f"{row['ours_len']:.0f}, " + ("-" if row["spiel_len"] is None
                                              else f"{row['spiel_len']:.0f}")
        print(f"| {row['game']} | {row['ours']:,.0f} | {spiel} | {ratio} | {target} | {lens} |")
    if args.json is not None:
        from benchmarks._results import write_result  # imports torch: only now, after the timing
        figures = {"seconds": args.seconds, "rounds": args.rounds, "seed": args.seed,
                   "open_spiel": None if pyspiel is None else _version("open_spiel"), "rows": rows}
        print("results written to", write_result("games", figures, out=args.json or None))
    return 0


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
