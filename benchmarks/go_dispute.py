"""Settle by play the Go games of a `go_vs_gnugo.py` match whose two scores disagree on the winner.

`benchmarks/go_vs_gnugo.py` judges a game that ended on the board by GNU Go's `final_score` (its own
dead-stone analysis) and keeps the Tromp-Taylor score of the final board beside it (no dead-stone removal).
When the two name different winners, one player's opinion decides the game. This command settles each such
game the way KGS settles a disputed end: the game is resumed from its final position and both programs play
`kgs-genmove_cleanup` (GNU Go captures the stones it calls dead; our engine, `boardnet gtp`, plays its search's
moves under its pass rule) until two passes in a row (or `--max-extra` plies); the board is then scored by
Tromp-Taylor, where every stone left on it is alive. If the winner after the cleanup is GNU Go's, its judgement
held against our side's replies; if not, the match figure counted a game the net won on the board.

    benchmarks/go_dispute.py benchmarks/results/go19_search400_vs_gnugo_l10_openings.json --visits 400

Our side is the match's net (`--model`, default the shipped name in the match's settings) at `--visits` a
move, one torch thread, never resigning; GNU Go is the match's command. Writes a JSON (default
benchmarks/results/go_dispute-<match file stem>.json) with the provenance block, one row per disputed game
(scores before and after, the cleanup moves) and the count of games whose winner the cleanup changed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from boardnet.games import make_game  # noqa: E402
from go_vs_gnugo import parse_final_score  # noqa: E402
from boardnet.models import resolve  # noqa: E402
from boardnet.players import GTPPlayer  # noqa: E402
from traincore.provenance import provenance, write_json  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"


def margin(text: str) -> float:
    """A GTP score ("B+12.5", "W+3.5", "0") as Black's margin (`go_vs_gnugo.parse_final_score`)."""
    return parse_final_score(text)


def side(m: float) -> str | None:
    return "black" if m > 0 else "white" if m < 0 else None


def disputed(games: list[dict]) -> list[dict]:
    """The scored games whose Tromp-Taylor winner is not GNU Go's `final_score` winner."""
    return [g for g in games if g.get("error") is None and g.get("gnugo_final_score") is not None
            and side(g["tromp_taylor"]) != side(margin(g["gnugo_final_score"]))]


def settle(g: dict, ours_cmd: str, gnugo_cmd: str, board: int, komi: float, max_extra: int) -> dict:
    """Replay game `g` into both programs, then alternate kgs-genmove_cleanup until two passes; score."""
    t0 = time.perf_counter()
    game = make_game("go", board_size=board, komi=komi)
    ours, gnugo = GTPPlayer(ours_cmd, timeout=600.0), GTPPlayer(gnugo_cmd, timeout=600.0)
    try:
        for p in (ours, gnugo):
            p.new_game(game, game.initial_state())
        colour = "b"
        for m in g["moves"].split():
            for p in (ours, gnugo):
                p.command(f"play {colour} {m}")
            colour = "w" if colour == "b" else "b"
        our_colour = g["our_colour"][0]
        extra: list[str] = []
        passes = 0
        while passes < 2 and len(extra) < max_extra:
            mover, other = (ours, gnugo) if colour == our_colour else (gnugo, ours)
            m = mover.command(f"kgs-genmove_cleanup {colour}").strip()
            if m.lower() == "resign":
                raise RuntimeError(f"game {g['index']}: {'ours' if mover is ours else 'GNU Go'} resigned in the cleanup")
            other.command(f"play {colour} {m}")
            extra.append(m)
            passes = passes + 1 if m.lower() == "pass" else 0
            colour = "w" if colour == "b" else "b"
        gnugo_after = gnugo.command("final_score").strip()
    finally:
        ours.close()
        gnugo.close()
    s = game.initial_state()   # Tromp-Taylor: the board as it stands, every stone on it alive
    for m in g["moves"].split():
        s = s.apply(game.text_to_action(m))
    for m in extra:
        if s.is_terminal():
            s = s.resumed()   # the cleanup goes on after the two passes that ended the game
        s = s.apply(game.text_to_action(m.lower()))
    sc = float(s.score())
    after = "0" if sc == 0 else f"{'B' if sc > 0 else 'W'}+{abs(sc):g}"
    winner_after = side(margin(after))
    return {"index": g["index"], "opening": g.get("opening"), "our_colour": g["our_colour"], "end": g.get("end"),
            "tromp_taylor_before": g["tromp_taylor"], "gnugo_final_score_before": g["gnugo_final_score"],
            "winner_judged": g["winner"], "cleanup_plies": len(extra), "cleanup_ended": "two passes" if passes >= 2
            else "cap", "tromp_taylor_after": after, "gnugo_final_score_after": gnugo_after,
            "winner_after_cleanup": winner_after, "changed": winner_after != g["winner"],
            "our_score_after": None if winner_after is None else float(winner_after == g["our_colour"]),
            "cleanup_moves": " ".join(extra), "wall_s": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("match", type=Path, help="a go_vs_gnugo.py results JSON")
    ap.add_argument("--model", help="our net (default: the model of the match's engine spec)")
    ap.add_argument("--visits", type=int, default=400, help="our search visits a move in the cleanup (default 400)")
    ap.add_argument("--boardnet", default=str(Path(sys.executable).with_name("boardnet")),
                    help="the boardnet command (default: beside this Python)")
    ap.add_argument("--max-extra", type=int, default=300, help="cap on cleanup plies a game (default 300)")
    ap.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/go_dispute-<stem>.json)")
    a = ap.parse_args(argv)
    try:
        doc = json.loads(a.match.read_text(encoding="utf-8"))
        st, games = doc["settings"], doc["games"]
    except (OSError, ValueError, KeyError) as e:
        print(f"go_dispute: {a.match}: not a go_vs_gnugo.py results file ({e})", file=sys.stderr)
        return 2
    model = a.model or next((kv.split("=", 1)[1] for kv in st["our_spec"].split(",") if kv.startswith(
        ("engine:model=", "policy:model=", "model="))), None)
    if not model:
        print(f"go_dispute: {a.match}: no model in the match's settings; give --model", file=sys.stderr)
        return 2
    board, komi = int(st["board"]), float(st["komi"])
    ours_cmd = (f"{a.boardnet} gtp go{board} --model {model} --visits {a.visits} --threads 1 "
                f"--resign-threshold -1 --komi {komi:g}")
    todo = disputed(games)
    print(f"{a.match.name}: {len(todo)} of {sum(g.get('error') is None for g in games)} scored games disputed "
          "(Tromp-Taylor and GNU Go name different winners)", file=sys.stderr)
    rows = []
    for g in todo:
        r = settle(g, ours_cmd, st["gnugo_cmd"], board, komi, a.max_extra)
        rows.append(r)
        print(f"game {r['index']}: ours {r['our_colour']}, TT {r['tromp_taylor_before']:+g} / GNU Go "
              f"{r['gnugo_final_score_before']} -> after {r['cleanup_plies']} cleanup plies {r['tromp_taylor_after']}"
              f"{'  CHANGED' if r['changed'] else ''}", file=sys.stderr, flush=True)
    scored = [g for g in games if g.get("error") is None]
    wins_before = sum(g["our_score"] for g in scored)
    before = {g["index"]: g["our_score"] for g in scored}
    wins_after = wins_before + sum((0.5 if r["our_score_after"] is None else r["our_score_after"]) - before[r["index"]]
                                   for r in rows)
    fig = {"scored": len(scored), "disputed": len(rows), "changed": sum(r["changed"] for r in rows),
           "gnugo_upheld": sum(not r["changed"] for r in rows), "our_score_judged": wins_before,
           "our_score_after_cleanup": wins_after}
    out = a.out or RESULTS / f"go_dispute-{a.match.stem}.json"
    write_json(out, {"benchmark": "go_dispute", "provenance": provenance(models=[resolve(model)]),
                     "settings": {"match": str(a.match), "ours_cmd": ours_cmd, "gnugo_cmd": st["gnugo_cmd"],
                                  "board": board, "komi": komi, "max_extra": a.max_extra},
                     "figures": fig, "games": rows})
    print(f"{len(rows)} disputed, GNU Go's judgement upheld by play in {fig['gnugo_upheld']}, changed in "
          f"{fig['changed']}; our score {wins_before:g} -> {wins_after:g} of {len(scored)} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
