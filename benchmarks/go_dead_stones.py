"""The play-out dead-stone estimate (`boardnet.players.go_dead_stones`, what `boardnet gtp`'s `final_status_list
dead` reports for a net without an ownership head) against GNU Go's `final_status_list dead` on the final
positions of recorded games.

    benchmarks/go_dead_stones.py benchmarks/results/go19_search400_vs_gnugo_l10_openings.json \
        benchmarks/results/go19_stage5_policy_vs_gnugo_l10_openings.json

Reads `go_vs_gnugo.py` match files and takes every scored game that ended on the board (two passes or the move
cap). For each final position: GNU Go's dead list (a fresh `gnugo --mode gtp --chinese-rules`, the moves replayed)
and the estimate's (`--playouts`, `--seed`); the figures are the positions where the two lists are equal, the
stones both call dead over the stones either calls dead (Jaccard), and how often the board counted with each
side's dead stones removed names the same winner as GNU Go's `final_score`. Writes a JSON (default
benchmarks/results/go_dead_stones.json) with the provenance block and one row per position; progress to stderr.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from boardnet.games import make_game  # noqa: E402
from go_vs_gnugo import parse_final_score  # noqa: E402
from boardnet.players import GTPPlayer, find_program, go_dead_stones, go_score_without  # noqa: E402
from traincore.provenance import provenance, write_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("matches", type=Path, nargs="+", help="go_vs_gnugo.py results JSON files")
    ap.add_argument("--playouts", type=int, default=100, help="play-outs a position (default 100, as the GTP command)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gnugo", default="gnugo", help="the GNU Go program (PATH or /usr/games)")
    ap.add_argument("--out", type=Path, default=RESULTS / "go_dead_stones.json")
    a = ap.parse_args(argv)
    program = find_program(a.gnugo)
    if program is None:
        print(f"go_dead_stones: {a.gnugo}: not found (looked in PATH and /usr/games)", file=sys.stderr)
        return 2
    rows = []
    for path in a.matches:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            st, games = doc["settings"], doc["games"]
        except (OSError, ValueError, KeyError) as e:
            print(f"go_dead_stones: {path}: not a go_vs_gnugo.py results file ({e})", file=sys.stderr)
            return 2
        game = make_game("go", board_size=int(st["board"]), komi=float(st["komi"]))
        for g in games:
            if g.get("error") is not None or g.get("gnugo_final_score") is None:
                continue
            s = game.initial_state()
            moves = g["moves"].split()
            for m in moves:
                s = s.apply(game.text_to_action(m))
            gnugo = GTPPlayer(f"{program} --mode gtp --chinese-rules --positional-superko", timeout=600.0)
            try:
                gnugo.new_game(game, game.initial_state())
                colour = "b"
                for m in moves:
                    gnugo.command(f"play {colour} {m}")
                    colour = "w" if colour == "b" else "b"
                theirs_text = gnugo.command("final_status_list dead").split()
                gnugo_score = gnugo.command("final_score").strip()
            finally:
                gnugo.close()
            theirs = np.zeros(game.n * game.n, dtype=bool)
            for v in theirs_text:
                theirs[game.text_to_action(v)] = True
            t0 = time.perf_counter()
            ours = go_dead_stones(s, a.playouts, a.seed)
            seconds = time.perf_counter() - t0
            both, either = int((ours & theirs).sum()), int((ours | theirs).sum())
            gm = parse_final_score(gnugo_score)
            ours_m, theirs_m = go_score_without(s, ours), go_score_without(s, theirs)
            rows.append({"match": path.name, "index": g["index"], "end": g.get("end"), "plies": len(moves),
                         "gnugo_dead": int(theirs.sum()), "ours_dead": int(ours.sum()), "both": both,
                         "only_gnugo": sorted(s.action_to_text(int(p)) for p in np.flatnonzero(theirs & ~ours)),
                         "only_ours": sorted(s.action_to_text(int(p)) for p in np.flatnonzero(ours & ~theirs)),
                         "equal": both == either, "jaccard": 1.0 if either == 0 else both / either,
                         "gnugo_final_score": gnugo_score, "gnugo_margin": gm, "count_with_ours_removed": ours_m,
                         "count_with_gnugo_removed": theirs_m, "tromp_taylor": float(s.score()),
                         "winner_agrees": (ours_m > 0) == (gm > 0), "seconds": round(seconds, 3)})
            r = rows[-1]
            print(f"{path.name} game {g['index']}: GNU Go {r['gnugo_dead']} dead, ours {r['ours_dead']}, both "
                  f"{both}; count {ours_m:+g} vs GNU Go {gnugo_score} ({seconds:.2f} s)", file=sys.stderr, flush=True)
    n = len(rows)
    fig = {"positions": n, "lists_equal": sum(r["equal"] for r in rows),
           "mean_jaccard": statistics.fmean(r["jaccard"] for r in rows) if rows else None,
           "stones_gnugo_dead": sum(r["gnugo_dead"] for r in rows), "stones_ours_dead": sum(r["ours_dead"] for r in rows),
           "stones_both": sum(r["both"] for r in rows),
           "winner_agrees_with_gnugo_final_score": sum(r["winner_agrees"] for r in rows),
           "tromp_taylor_winner_agrees": sum((r["tromp_taylor"] > 0) == (r["gnugo_margin"] > 0) for r in rows),
           "mean_seconds": statistics.fmean(r["seconds"] for r in rows) if rows else None}
    write_json(a.out, {"benchmark": "go_dead_stones", "provenance": provenance(data=[str(p) for p in a.matches]),
                       "settings": {"playouts": a.playouts, "seed": a.seed, "gnugo": program}, "figures": fig,
                       "positions": rows})
    print(f"{n} final positions: dead lists equal to GNU Go's in {fig['lists_equal']}, mean Jaccard "
          f"{fig['mean_jaccard'] or 0:.3f}; winner with our dead stones removed = GNU Go's final_score in "
          f"{fig['winner_agrees_with_gnugo_final_score']} (Tromp-Taylor alone: {fig['tromp_taylor_winner_agrees']})"
          f" -> {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
