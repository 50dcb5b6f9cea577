"""Connect Four move accuracy on Pons' solved positions (../shared/data/games/connect4/Test_*.scores):
share of positions where the move is not a mistake (same win/draw/loss outcome as the best move) and
share perfect (the best score), for the raw policy and with search, beside pure MCTS at the same visits.

    python benchmarks/connect4_accuracy.py [--model connect4] [--visits 800] [--positions 200]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boardnet.evaluator import NetEvaluator  # noqa: E402
from boardnet.games import make_game  # noqa: E402
from boardnet.models import resolve  # noqa: E402
from boardnet.nets import net_from_state  # noqa: E402
from selfplay import evaluate as ev  # noqa: E402
from traincore.checkpoint import load_checkpoint  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="connect4")
    ap.add_argument("--visits", type=int, default=800)
    ap.add_argument("--positions", type=int, default=200, help="first N positions of each file (1000 = all)")
    ap.add_argument("--mcts", type=int, default=0, help="also pure MCTS with this many simulations (slow)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                    help="write the rows with provenance to benchmarks/results/connect4_accuracy-<date>.json "
                         "(or PATH)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data = Path(os.environ.get("GRIDNETS_DATA", ROOT.parent / "shared" / "data")) / "games" / "connect4"
    files = ev.solved_files(data)
    if not files:
        sys.exit(f"connect4_accuracy: no Test_*.scores under {data}")
    game = make_game("connect4")
    net = net_from_state(load_checkpoint(resolve(args.model), kind="boardnet"))
    evaluator = NetEvaluator(net, game, cache_size=200_000)
    players = {"raw policy": ev.NetPlayer(evaluator, 0), f"search {args.visits} visits": ev.NetPlayer(evaluator, args.visits)}
    if args.mcts:
        players[f"pure MCTS {args.mcts}"] = ev.mcts_player(game, args.mcts)
    rows = []
    for path in files:
        for name, player in players.items():
            t0 = time.perf_counter()
            acc = ev.solved_accuracy(game, player, path, args.positions)
            rows.append({"file": path.stem, "player": name, **acc, "seconds": time.perf_counter() - t0})
    print(f"model {args.model}, first {args.positions} positions of each file")
    print("| file | player | not a mistake | perfect |")
    print("|---|---|---:|---:|")
    for r in rows:
        print(f"| {r['file']} | {r['player']} | {r['not_mistake']:.1%} | {r['perfect']:.1%} |")
    print(json.dumps(rows))
    if args.json is not None:
        sys.path.insert(1, str(ROOT / "benchmarks"))
        from _results import write_result
        figures = {"visits": args.visits, "positions": args.positions, "threads": args.threads, "rows": rows}
        print("results written to", write_result("connect4_accuracy", figures, models={args.model: resolve(args.model)},
                                                 out=args.json or None))


if __name__ == "__main__":
    main()
