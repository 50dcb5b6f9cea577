"""Checkers random play-outs: boardnet's rules against OpenSpiel's "checkers", same run.

Each ply encodes the network input (ours: `planes()` [8, 8, 8]; OpenSpiel: `observation_tensor()`
[5, 8, 8]), lists the legal actions and applies one at random. Both count a ply as one applied
action, and both play a multi-jump as one action per jump. The rules differ a little (OpenSpiel
draws after 40 plies without a capture and has no repetition rule), so plies per game are printed
too. Rounds alternate between the two to share out the noise of a busy machine.

    python benchmarks/checkers.py [--seconds 4] [--rounds 3] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from boardnet.games import make_game
from boardnet.games.base import play_out


def bench_ours(seconds: float, rng: np.random.Generator) -> tuple[int, int, float]:
    """(plies, games, seconds) of random play-outs with planes per ply."""
    game = make_game("checkers")
    plies = games = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, n = play_out(game.initial_state(), rng, encode=True)
        plies += n
        games += 1
    return plies, games, time.perf_counter() - start


def bench_openspiel(seconds: float, rng: np.random.Generator) -> tuple[int, int, float]:
    import pyspiel

    game = pyspiel.load_game("checkers")
    plies = games = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        state = game.new_initial_state()
        while not state.is_terminal():
            state.observation_tensor()
            acts = state.legal_actions()
            state.apply_action(acts[rng.integers(len(acts))])
            plies += 1
        games += 1
    return plies, games, time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="per engine per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        import pyspiel  # noqa: F401
        have_spiel = True
    except ImportError:
        have_spiel = False
        print("open_spiel is not installed (pip install open-spiel): boardnet figures only")
    totals = {"boardnet": [0, 0, 0.0], "openspiel": [0, 0, 0.0]}
    rng_ours, rng_spiel = np.random.default_rng(args.seed), np.random.default_rng(args.seed)
    for _ in range(args.rounds):
        for name, fn, rng in (("boardnet", bench_ours, rng_ours),
                              ("openspiel", bench_openspiel, rng_spiel)):
            if name == "openspiel" and not have_spiel:
                continue
            p, g, s = fn(args.seconds, rng)
            t = totals[name]
            t[0] += p
            t[1] += g
            t[2] += s
    rates = {}
    for name, (p, g, s) in totals.items():
        if g:
            rates[name] = p / s
            print(f"{name:10s} {p / s:10.0f} plies/s  {p / g:6.1f} plies/game  {g} games")
    if have_spiel:
        print(f"ratio boardnet / openspiel: {rates['boardnet'] / rates['openspiel']:.2f}x")


if __name__ == "__main__":
    main()
