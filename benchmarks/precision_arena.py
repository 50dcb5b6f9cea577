"""Strength check of bf16 against fp32: the shipped net in bf16 autocast plays itself in fp32, at equal
visits (and optionally at equal movetime), from seeded openings played with both colours.

    PYTHONPATH=. python benchmarks/precision_arena.py --game connect4 --visits 32 \
        --openings configs/openings/connect4_3ply_100.txt --games 200
    PYTHONPATH=. python benchmarks/precision_arena.py --game go9 --visits 32 \
        --openings configs/openings/go9_2move_50.txt --games 100 --max-plies 200

On a CPU without a bf16 unit the bf16 side runs emulated (`Runtime.create(allow_emulated=True)`):
the same numerics, so equal-visit results hold, but equal-movetime results there measure the slow
emulation, not the AMX machines `auto` would pick bf16 on. Writes benchmarks/results/precision_arena-*.json.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import write_result  # noqa: E402
from boardnet import models  # noqa: E402
from boardnet.arena import play_match, read_openings  # noqa: E402
from boardnet.engine import Engine  # noqa: E402
from boardnet.games import make_game  # noqa: E402
from boardnet.nets import net_from_state  # noqa: E402
from boardnet.players import EnginePlayer  # noqa: E402
from boardnet.search import SearchConfig  # noqa: E402
from traincore.checkpoint import load_checkpoint  # noqa: E402
from traincore.runtime import Runtime  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--game", required=True)
    ap.add_argument("--visits", type=int, default=32)
    ap.add_argument("--movetime", type=float, help="equal time per move instead of equal visits")
    ap.add_argument("--games", type=int, default=200)
    ap.add_argument("--openings", required=True)
    ap.add_argument("--max-plies", type=int)
    ap.add_argument("--batch", type=int, default=8, help="leaves per network batch")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="output file (default: benchmarks/results/precision_arena-<date>.json)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    game = make_game(a.game)
    path = models.default_model(game.name)
    state = load_checkpoint(path, kind="boardnet")
    openings = read_openings(a.openings, game)

    def player(precision: str):
        rt = Runtime.create("cpu", precision=precision, allow_emulated=True)
        eng = Engine(game, net_from_state(state), search=SearchConfig(num_simulations=a.visits), runtime=rt,
                     batch_size=a.batch)
        return EnginePlayer(eng, visits=None if a.movetime else a.visits, movetime=a.movetime, name=precision)

    t0 = time.perf_counter()
    m = play_match(game, lambda: player("bf16"), lambda: player("fp32"), a.games, openings=openings,
                   max_plies=a.max_plies)
    seconds = time.perf_counter() - t0
    score = (m.wins + 0.5 * m.draws) / len(m.games)
    elo, lo, hi = m.elo()
    bf16_rt = Runtime.create("cpu", precision="bf16", allow_emulated=True)
    fig = {"game": game.name, "budget": f"movetime={a.movetime}" if a.movetime else f"visits={a.visits}",
           "games": len(m.games), "openings": a.openings, "bf16_wins": m.wins, "draws": m.draws,
           "fp32_wins": m.losses, "bf16_score": score, "elo": elo, "elo_95": [lo, hi], "seconds": seconds,
           "bf16_runtime": bf16_rt.metadata(), "batch": a.batch}
    out = write_result("precision_arena", fig, models={game.name: path}, out=a.json)
    print(m.summary())
    print(f"bf16 score {100 * score:.1f}% over {len(m.games)} games ({seconds:.0f} s) -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
