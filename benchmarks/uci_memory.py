"""Memory of `boardnet uci` over a long game: RSS after every move of a 300-ply game that the engine
plays against itself through the UCI protocol (`position startpos moves ...` + `go movetime T`, the way
cutechess-cli drives it), a new game started whenever one ends. The search tree is reused between moves
and the evaluator cache is bounded in bytes, so RSS must level off rather than grow with the game.

    python benchmarks/uci_memory.py [--plies 300] [--movetime 0.2] [--model chess]

Writes benchmarks/results/uci_memory-<date>.json: RSS per ply, the peak, and the growth over the last
half of the game (the figure that must stay near zero).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import chess
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import write_result  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plies", type=int, default=300)
    ap.add_argument("--movetime", type=float, default=0.2, help="seconds per move")
    ap.add_argument("--model", default="chess")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out")
    args = ap.parse_args()
    cmd = [sys.executable, "-m", "boardnet.cli", "uci", "--model", args.model, "--threads", str(args.threads)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, bufsize=1, cwd=ROOT)
    ps = psutil.Process(proc.pid)

    def send(line: str) -> None:
        proc.stdin.write(line + "\n")
        proc.stdin.flush()

    def wait_for(prefix: str) -> str:
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(f"boardnet uci exited while waiting for {prefix!r}")
            if line.startswith(prefix):
                return line.strip()

    send("uci")
    wait_for("uciok")
    send("isready")
    wait_for("readyok")
    rss = [ps.memory_info().rss]
    board = chess.Board()
    games = 1
    t0 = time.time()
    movetime_ms = int(args.movetime * 1000)
    for ply in range(args.plies):
        if board.is_game_over(claim_draw=True):
            board = chess.Board()
            games += 1
            send("ucinewgame")
        moves = " ".join(m.uci() for m in board.move_stack)
        send("position startpos" + (f" moves {moves}" if moves else ""))
        send(f"go movetime {movetime_ms}")
        best = wait_for("bestmove").split()[1]
        board.push(chess.Move.from_uci(best))
        rss.append(ps.memory_info().rss)
        if ply % 50 == 0:
            print(f"ply {ply}: RSS {rss[-1] / 2**20:.0f} MiB", file=sys.stderr, flush=True)
    send("quit")
    proc.wait(timeout=60)
    half = len(rss) // 2
    mib = [r / 2**20 for r in rss]
    figures = {"plies": args.plies, "movetime_s": args.movetime, "games": games, "threads": args.threads,
               "rss_start_mib": mib[0], "rss_peak_mib": max(mib), "rss_end_mib": mib[-1],
               "rss_at_half_mib": mib[half], "growth_second_half_mib": mib[-1] - mib[half],
               "rss_per_ply_mib": [round(x, 1) for x in mib], "wall_s": time.time() - t0,
               "command": " ".join(cmd[1:])}
    models = {}
    from boardnet.models import resolve
    models["engine"] = resolve(args.model)
    path = write_result("uci_memory", figures, models=models, out=args.out)
    print(f"{args.plies} plies ({games} game(s)) at {args.movetime} s a move: RSS {mib[0]:.0f} MiB at start, "
          f"peak {max(mib):.0f} MiB, {mib[half]:.0f} -> {mib[-1]:.0f} MiB over the second half")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
