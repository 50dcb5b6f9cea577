"""Teacher throughput: labelled positions per CPU-second of `selfplay teach` (teacher engine CPU +
this process's CPU per game; start-up excluded), for GNU Go on 9x9 and Stockfish at a node budget.

    taskset -c 0 python benchmarks/teach.py [--go-games 8] [--chess-games 8] [--nodes 1000] [--out JSON]

Each line runs `selfplay.teach.teach` with one worker into a fresh temporary folder (pin the whole
command to one core: the figures are per CPU-second, so they scale with cores when --workers > 1).
Writes `benchmarks/results/teach.json` (provenance: command, versions, commit, CPU, date; figures).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from selfplay.teach import ChessTeach, GoTeach, teach
    from traincore.provenance import provenance, write_json

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--go-games", type=int, default=8)
    ap.add_argument("--chess-games", type=int, default=8)
    ap.add_argument("--go-engine", default="gnugo --mode gtp --level 1 --chinese-rules --never-resign")
    ap.add_argument("--chess-engine", default="stockfish")
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "teach.json")
    args = ap.parse_args()
    level = re.search(r"--level\s+(\d+)", args.go_engine)
    lines = [(f"go9 level {level.group(1) if level else '?'}", GoTeach(engine=args.go_engine, size=9, komi=7.0),
              args.go_games),
             (f"chess nodes={args.nodes}", ChessTeach(engine=args.chess_engine, nodes=args.nodes), args.chess_games),
             (f"chess nodes={args.nodes} multipv=4", ChessTeach(engine=args.chess_engine, nodes=args.nodes, multipv=4),
              args.chess_games)]
    figures = {}
    for name, cfg, games in lines:
        if games < 1:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            s = teach(cfg, games, tmp, workers=1, progress=False)
        r = s["this_run"]
        figures[name] = {"engine": s["engine"], "settings": s["settings"], **r,
                         "positions_per_game": round(r["positions"] / max(1, r["games"]), 1)}
        print(f"{name:28s} {s['engine']}: {r['games']} games, {r['positions']:,} positions, "
              f"{r['positions_per_cpu_s']:.1f} positions/CPU-s (teacher {r['teacher_cpu_s']:.2f} s + "
              f"ours {r['our_cpu_s']:.2f} s), {r['positions_per_wall_s']:.1f} positions/wall-s")
    doc = {"benchmark": "teach", **provenance(), "affinity": sorted(os.sched_getaffinity(0)),
           "note": "labelled positions per CPU-second = positions / (teacher engine CPU + our CPU), "
                   "per game, one worker; process start-up excluded. Wall figures are not representative "
                   "when the pinned core is shared with other jobs", "figures": figures}
    write_json(args.out, doc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
