"""A Go net against GNU Go (issue 14): the raw policy (one network evaluation a move, no search, as in
Clark & Storkey 2015 and Maddison et al. 2015) or the net with search (a time or a visit budget a
move, one torch thread), against `gnugo --mode gtp --level L --chinese-rules --positional-superko`,
19x19 (or `--board 9 --komi 7`), komi 7.5, colours alternating (our net is Black in even games); with
`--openings FILE` every game starts from a given opening, each played from both sides (GNU Go is nearly
deterministic, so without them a match repeats a few games: `distinct_games` in the figures counts them).

    benchmarks/go_vs_gnugo.py --model go9 --board 9 --komi 7 --movetime 1 --games 40 --workers 2 \
        --openings configs/openings/go9_2move_50.txt --level 10
    benchmarks/go_vs_gnugo.py --model go19 --games 40 --workers 2 --openings configs/openings/go19_2move_20.txt
    taskset -c 0 .venv/bin/python benchmarks/go_vs_gnugo.py --model runs/go19-sl/model.pt --games 20
    taskset -c 0 .venv/bin/python benchmarks/go_vs_gnugo.py --model runs/go19-sl/model.pt --games 20 \\
        --movetime 1

A match is extended with `--first-game K` (play games K.. of the same match: their openings, colours and GNU Go
seeds, e.g. the second half of a 40-game match) and the parts are joined with `--combine A.json B.json --out
C.json`, which checks that they are the same match (net, settings, GNU Go, openings) with no game twice and
recomputes the figures over all the games.

The games run through the arena (`boardnet.arena.play_match`, `--workers K` processes). Our side is
the `policy` player spec (see `boardnet.players.go_policy_choose` for its eye, self-atari and pass
rules) or `engine:movetime=T|visits=N` (the CGOS-safe pass rule of `go_choose`). A game ends after
two passes in a row, at the move cap (`--max-plies`, 400), or when a side resigns (GNU Go may). A game
that ended on the board is scored by GNU Go's `final_score` (Chinese rules, its dead-stone
analysis) in a fresh gnugo process the moves are replayed into, so both sides are judged alike;
the Tromp-Taylor score of the final board (this project's rules, no dead-stone removal) is kept
beside it (`benchmarks/go_dispute.py` plays out the games where the two name different winners). A game that fails (a crashed program, a protocol error, an illegal move) is recorded as
an error with its reason and is not scored.

CPU seconds per move: our side is timed by the CPU clock of its own worker process (network,
rules, search: one torch thread), GNU Go by its child process's user + system time (/proc).

Writes a JSON (default benchmarks/results/go_vs_gnugo-<policy|search>-<UTC time>.json) with the
provenance block (`traincore.provenance`: command, versions, git commit, model sha256, date), the
GNU Go version and settings, the figures and one record per game, and the games as SGF beside it
(same name, .sgf; each game's SGF text is also in its record). Progress goes to stderr.
"""
from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from boardnet.arena import GameResult, MatchResult, play_match, read_openings  # noqa: E402
from boardnet.elo import wilson_interval  # noqa: E402
from boardnet.games import make_game  # noqa: E402
from boardnet.players import GTPPlayer, find_program, make_player  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
GNUGO_FLAGS = "--mode gtp --chinese-rules --positional-superko"


def gnugo_cmd(program: str, level: int) -> str:
    return f"{program} {GNUGO_FLAGS} --level {level}"


class Clocked:
    """A player with the CPU seconds of each of its moves counted: its program's (`cpu_seconds()`,
    a GTP child) or else this process's CPU clock. A GTP program's random seed is set before each
    game (`set_random_seed`) to `seed` + a count of games, recorded in `game_seed`."""

    def __init__(self, inner, seed: int | None = None):
        self.inner, self.name, self.seed = inner, inner.name, seed
        self.cpu: list[float] = []
        self.games = 0
        self.game_seed = None
        self.t0 = time.perf_counter()

    def _clock(self) -> float:
        f = getattr(self.inner, "cpu_seconds", None)
        c = f() if f is not None else None
        return time.process_time() if c is None else c

    def new_game(self, game, start) -> None:
        self.inner.new_game(game, start)
        if self.seed is not None and hasattr(self.inner, "command"):
            self.game_seed = self.seed + self.games
            self.inner.command(f"set_random_seed {self.game_seed}")
        self.games += 1
        self.cpu = []
        self.t0 = time.perf_counter()

    def select(self, state, history):
        c0 = self._clock()
        a = self.inner.select(state, history)
        self.cpu.append(self._clock() - c0)
        return a

    def close(self) -> None:
        self.inner.close()


def make_ours(spec: str, game, threads: int, seed: int) -> Clocked:
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    np.random.seed(seed)
    return Clocked(make_player(spec, game))


def make_gnugo(cmd: str, game, seed: int, timeout: float = 600.0) -> Clocked:
    return Clocked(make_player(f"gtp:cmd={cmd},timeout={timeout:g}", game), seed=seed)


def parse_final_score(text: str) -> float:
    """GNU Go's `final_score` ("B+12.5", "W+3.5", "0") as Black's margin."""
    t = text.strip().upper()
    if t in ("0", "DRAW", "JIGO"):
        return 0.0
    m = re.fullmatch(r"([BW])\+([0-9.]+)", t)
    if not m:
        raise ValueError(f"gnugo final_score {text!r}: expected B+n, W+n or 0")
    return float(m.group(2)) * (1 if m.group(1) == "B" else -1)


def gnugo_final_score(cmd: str, game, actions) -> str:
    """Replay the game into a fresh gnugo and ask it for `final_score`."""
    judge = GTPPlayer(cmd, timeout=600.0)
    try:
        judge.new_game(game, game.initial_state())
        s = game.initial_state()
        for a in actions:
            judge.command(f"play {'bw'[s.to_play()]} {game.action_to_text(a)}")
            s = s.apply(a)
        return judge.command("final_score")
    finally:
        judge.close()


def finish(g: GameResult, first: Clocked, second: Clocked, *, game, judge_cmd: str) -> None:
    """Score a finished game with GNU Go and keep the clocks (runs in the worker)."""
    ours, theirs = (first, second) if g.a_first else (second, first)
    s = game.initial_state()
    for a in g.actions:
        s = s.apply(a)
    passes = s.consecutive_passes()
    info = {"our_colour": "black" if g.a_first else "white", "black": first.name, "white": second.name,
            "plies": len(g.actions), "tromp_taylor": float(s.score()),
            "our_cpu_s": sum(ours.cpu), "our_moves": len(ours.cpu),
            "gnugo_cpu_s": sum(theirs.cpu), "gnugo_moves": len(theirs.cpu),
            "wall_s": time.perf_counter() - min(first.t0, second.t0), "gnugo_seed": theirs.game_seed}
    if "illegal move" in g.termination:
        g.error = g.termination   # the two programs disagree on the rules: not a result
    elif g.termination == "rules":
        info["end"] = "two passes" if passes >= 2 else "move cap"
        text = gnugo_final_score(judge_cmd, game, g.actions)
        margin = parse_final_score(text)
        info["gnugo_final_score"] = text
        g.result = (1.0, -1.0) if margin > 0 else (-1.0, 1.0) if margin < 0 else (0.0, 0.0)
        g.record = re.sub(r"RE\[[^\]]*\]", f"RE[{text}]", g.record.replace("RU[Tromp-Taylor]", "RU[Chinese]"))
        g.record = g.record.replace("AP[boardnet]", "AP[boardnet]GC[scored by GNU Go final_score; "
                                    f"Tromp-Taylor {info['tromp_taylor']:+g} for Black]", 1)
    else:
        info["end"] = g.termination   # a resignation
    winner = 0 if g.result[0] > 0 else 1 if g.result[0] < 0 else None
    info["winner"] = None if winner is None else "black" if winner == 0 else "white"
    g.info.update(info)


def game_row(g: GameResult, game) -> dict:
    row = {"index": g.index, "opening": g.opening, "error": g.error, "termination": g.termination, **g.info}
    if g.error is None:
        row["our_score"] = g.score_a
        row["moves"] = " ".join(game.action_to_text(a) for a in g.actions)
        row["sgf"] = g.record.strip()
    return row


def figures(rows: list[dict]) -> dict:
    """The match's figures from its game rows (`game_row`), so the parts of one match join (`combine`)."""
    done = [r for r in rows if r["error"] is None]
    n = len(done)
    wins = sum(r["our_score"] == 1.0 for r in done)
    draws = sum(r["our_score"] == 0.5 for r in done)
    score = (wins + 0.5 * draws) / n if n else None
    lo, hi = wilson_interval(wins + 0.5 * draws, n)
    plies = [r["plies"] for r in done]
    ours_cpu = sum(r["our_cpu_s"] for r in done)
    ours_moves = sum(r["our_moves"] for r in done)
    gg_cpu = sum(r["gnugo_cpu_s"] for r in done)
    gg_moves = sum(r["gnugo_moves"] for r in done)
    by_colour = {}
    for colour in ("black", "white"):
        gs = [r for r in done if r["our_colour"] == colour]
        by_colour[colour] = {"games": len(gs), "wins": sum(r["our_score"] == 1.0 for r in gs)}
    tt_agree = [r for r in done if "gnugo_final_score" in r]
    # a raw policy is deterministic and GNU Go nearly so: the same game can come back, and the interval above
    # counts it again; the distinct games (by move sequence) and their score say how much the match really sampled
    first: dict[str, float] = {}
    for r in done:
        first.setdefault(r["moves"], r["our_score"])
    return {
        "games": len(rows), "scored": n, "errors": len(rows) - n,
        "distinct_games": len(first),
        "distinct_score": statistics.fmean(first.values()) if first else None,
        "errors_reasons": [r["error"] for r in rows if r["error"]],
        "wins": wins, "draws": draws, "losses": n - wins - draws, "score": score,
        "score_wilson95": [lo, hi], "by_our_colour": by_colour,
        "mean_plies": statistics.fmean(plies) if plies else None,
        "median_plies": statistics.median(plies) if plies else None,
        "ends": {e: sum(r.get("end") == e for r in done) for e in sorted({r.get("end") for r in done}, key=str)},
        "our_cpu_s_per_move": ours_cpu / ours_moves if ours_moves else None,
        "gnugo_cpu_s_per_move": gg_cpu / gg_moves if gg_moves else None,
        "our_cpu_s_per_game": ours_cpu / n if n else None,
        "gnugo_cpu_s_per_game": gg_cpu / n if n else None,
        "wall_s_per_game": statistics.fmean(r["wall_s"] for r in done) if done else None,
        "tromp_taylor_agrees_with_gnugo": sum(
            (r["tromp_taylor"] > 0) == (parse_final_score(r["gnugo_final_score"]) > 0) for r in tt_agree),
        "scored_by_gnugo": len(tt_agree),
    }


# settings that must agree for results to be parts of one match (games, workers, first_game, sgf may differ)
SAME_MATCH = ("mode", "our_spec", "gnugo_cmd", "gnugo", "board", "komi", "max_plies", "seed", "self_atari",
              "movetime", "visits", "batch", "symmetries", "root_symmetries", "openings", "torch_threads", "runtime")


def combine(docs: list[dict], names: list[str]) -> dict:
    """One results document from the parts of a match: same net (sha256), same settings, no game index twice.
    ValueError names the part and the setting that differs."""
    from boardnet.arena import join_match_parts
    rows = join_match_parts(docs, names, benchmark="go_vs_gnugo",
                            settings=lambda d: {k: d["settings"].get(k) for k in SAME_MATCH},
                            models=lambda d: [m.get("sha256") for m in d["provenance"].get("models", [])])
    ref = docs[0]
    settings = {**ref["settings"], "games": len(rows), "first_game": rows[0]["index"] + 1,
                "workers": [d["settings"].get("workers") for d in docs], "parts": names,
                "sgf": [d["settings"].get("sgf") for d in docs]}
    figs = figures(rows)
    figs["seconds"] = sum(d["figures"].get("seconds") or 0.0 for d in docs)
    return {"benchmark": "go_vs_gnugo", "parts_provenance": [d["provenance"] for d in docs],
            "settings": settings, "figures": figs, "games": rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", help="a Go checkpoint (path or shipped name, e.g. go9); required unless --combine")
    ap.add_argument("--games", type=int, default=20)
    ap.add_argument("--level", type=int, default=10, help="GNU Go level (default 10)")
    ap.add_argument("--gnugo", default="gnugo", help="the GNU Go program (PATH or /usr/games)")
    ap.add_argument("--board", type=int, default=None, help="board size (default: the model's)")
    ap.add_argument("--komi", type=float, default=7.5)
    ap.add_argument("--max-plies", type=int, default=400, help="move cap; the game is then scored")
    ap.add_argument("--openings", type=Path,
                    help="openings file (boardnet arena's format, e.g. configs/openings/go9_2move_50.txt): game i "
                         "starts from opening i // 2, our net Black in even games, so each is played from both sides")
    search = ap.add_mutually_exclusive_group()
    search.add_argument("--movetime", type=float, help="search with this many seconds a move")
    search.add_argument("--visits", type=int, help="search with this many visits a move")
    ap.add_argument("--batch", type=int, default=8, help="leaves per network batch in the search")
    ap.add_argument("--self-atari", type=int, default=3,
                    help="raw policy: never leave a group of this many stones in atari (0: allow)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per game (default 1)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto", help="auto, fp32, bf16 or int8")
    ap.add_argument("--symmetries", type=int, default=1, choices=range(1, 9), metavar="S",
                    help="our net's evaluations averaged over S board symmetries (default 1)")
    ap.add_argument("--root-symmetries", type=int, default=1, choices=range(1, 9), metavar="S",
                    help="with a search: only the root's priors averaged over S symmetries (default 1)")
    ap.add_argument("--workers", type=int, default=1, help="games played at once (processes)")
    ap.add_argument("--seed", type=int, default=0, help="GNU Go's random seed is seed + game count")
    ap.add_argument("--gtp-timeout", type=float, default=600.0,
                    help="seconds to wait for one GNU Go answer before the game is an error")
    ap.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/...)")
    ap.add_argument("--first-game", type=int, default=1, metavar="K",
                    help="play games K .. K+games-1 of the match (1-based: openings, colours and seeds as a longer "
                         "match would give them), to extend a match later")
    ap.add_argument("--combine", type=Path, nargs="+", metavar="JSON",
                    help="join the results of parts of one match (written with --first-game) into --out; plays nothing")
    a = ap.parse_args(argv)
    if a.games < 1 or a.workers < 1 or a.level < 0 or a.max_plies < 1:
        ap.error("--games, --workers and --max-plies must be >= 1, --level >= 0")
    if find_program(a.gnugo) is None:
        print(f"go_vs_gnugo: {a.gnugo!r} not found in PATH or /usr/games (apt-get install gnugo)",
              file=sys.stderr)
        return 2

    from boardnet import models
    from boardnet.engine import Engine
    from traincore.provenance import provenance, utc_now, write_json

    if a.combine:
        if a.out is None:
            ap.error("--combine needs --out")
        try:
            doc = combine([json.loads(p.read_text()) for p in a.combine], [str(p) for p in a.combine])
        except (OSError, ValueError, KeyError) as e:
            print(f"go_vs_gnugo --combine: {e}", file=sys.stderr)
            return 2
        parts = doc.pop("parts_provenance")   # the net is the parts' (combine checked it is one net)
        doc["provenance"] = {**provenance(models=[]), "models": parts[0]["models"], "parts_provenance": parts}
        write_json(a.out, doc)
        f = doc["figures"]
        print(f"combined {len(a.combine)} parts: +{f['wins']} ={f['draws']} -{f['losses']} ({f['errors']} errors), "
              f"score {f['score']:.3f} [{f['score_wilson95'][0]:.3f}, {f['score_wilson95'][1]:.3f}] -> {a.out}")
        return 0
    if a.model is None:
        ap.error("--model is required (unless --combine)")
    if a.first_game < 1:
        ap.error(f"--first-game {a.first_game}: games are numbered from 1")
    model_path = models.resolve(a.model)
    mode = "search" if a.movetime or a.visits else "policy"
    probe = Engine.from_checkpoint(str(model_path), device=a.device, precision=a.precision,
                                   auto_int8=mode == "search")   # the raw policy keeps bf16/fp32
    n = a.board or probe.game.n
    runtime = probe.runtime.describe() if probe.runtime is not None else None
    del probe
    game = make_game("go", board_size=n, komi=a.komi, max_moves=a.max_plies)
    try:
        openings = read_openings(a.openings, game) if a.openings else None
    except (OSError, ValueError) as e:
        print(f"go_vs_gnugo: --openings {a.openings}: {e}", file=sys.stderr)
        return 2
    common = f"model={model_path},device={a.device},precision={a.precision}"
    sym = f",symmetries={a.symmetries}" if a.symmetries > 1 else ""
    tag = f"-sym{a.symmetries}" if a.symmetries > 1 else ""
    if a.root_symmetries > 1:
        if mode == "policy":
            ap.error("--root-symmetries is for a search (--visits or --movetime); the raw policy takes --symmetries")
        sym += f",root_symmetries={a.root_symmetries}"
        tag += f"-rootsym{a.root_symmetries}"
    if mode == "policy":
        spec = f"policy:{common},self_atari={a.self_atari}{sym},name=boardnet-policy{tag}"
    else:
        budget = f"movetime={a.movetime}" if a.movetime else f"visits={a.visits}"
        spec = f"engine:{common},{budget},batch={a.batch}{sym},name=boardnet-{budget}{tag}"
    cmd = gnugo_cmd(a.gnugo, a.level)
    make_a = functools.partial(make_ours, spec, game, a.threads, a.seed)
    first = a.first_game - 1
    make_b = functools.partial(make_gnugo, cmd, game, a.seed + first, a.gtp_timeout)
    probe_b = make_b()   # fail fast (and read the version) before any worker starts
    gnugo_name = probe_b.name
    probe_b.close()

    t_start = time.perf_counter()
    print(f"go_vs_gnugo: {spec} vs {cmd} ({gnugo_name}), {a.games} games, {a.workers} worker(s), "
          f"{n}x{n} komi {a.komi:g}, cap {a.max_plies} plies", file=sys.stderr)

    def on_game(g: GameResult, m: MatchResult) -> None:
        k = len(m.scored)
        lo, hi = wilson_interval(m.wins + 0.5 * m.draws, k)
        what = (f"ERROR {g.error}" if g.error else
                f"net {g.info['our_colour']}: {g.info.get('gnugo_final_score') or g.termination} "
                f"(TT {g.info['tromp_taylor']:+g}), {g.info['plies']} plies, "
                f"cpu/move net {g.info['our_cpu_s'] / max(1, g.info['our_moves']):.3f} s "
                f"gnugo {g.info['gnugo_cpu_s'] / max(1, g.info['gnugo_moves']):.3f} s")
        print(f"[{time.perf_counter() - t_start:7.0f} s] game {g.index + 1}/{first + a.games}: {what}  "
              f"running net +{m.wins} ={m.draws} -{m.losses} errors {m.errors}, score "
              f"{(m.wins + 0.5 * m.draws) / k if k else float('nan'):.3f} [{lo:.3f}, {hi:.3f}]",
              file=sys.stderr, flush=True)

    # the code, versions and net the games run with: read now, not when the match ends (the tree may change meanwhile)
    started = provenance(models=[model_path])
    m = play_match(game, make_a, make_b, a.games, openings=openings, parallel=a.workers, processes=True,
                   keep_going=True, first=first,
                   finish=functools.partial(finish, game=game, judge_cmd=cmd), on_game=on_game)
    fig = figures([game_row(g, game) for g in m.games])
    fig["seconds"] = time.perf_counter() - t_start
    now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = a.out or RESULTS / f"go_vs_gnugo-{mode}-{now}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    sgf_path = out.with_suffix(".sgf")
    doc = {"benchmark": "go_vs_gnugo", "provenance": {**started, "finished": utc_now()},
           "settings": {"mode": mode, "our_spec": spec, "our_name": spec.rsplit("name=", 1)[1], "runtime": runtime,
                        "torch_threads": a.threads, "gnugo_cmd": cmd, "gnugo": gnugo_name,
                        "gnugo_program": find_program(a.gnugo), "judge": f"{cmd}: final_score",
                        "board": n, "komi": a.komi, "max_plies": a.max_plies, "games": a.games,
                        "workers": a.workers, "seed": a.seed, "first_game": a.first_game,
                        "self_atari": a.self_atari,
                        "movetime": a.movetime, "visits": a.visits, "batch": a.batch, "symmetries": a.symmetries,
                        "root_symmetries": a.root_symmetries,
                        "openings": str(a.openings) if a.openings else None,
                        "openings_used": len({g.opening for g in m.games}) if openings else 0,
                        "sgf": str(sgf_path)},
           "figures": fig, "games": [game_row(g, game) for g in m.games]}
    write_json(out, doc)
    sgf_path.write_text("".join(g.record.strip() + "\n" for g in m.scored), encoding="utf-8")
    lo, hi = fig["score_wilson95"]
    print(f"{spec.rsplit('name=', 1)[1]} vs {gnugo_name}: +{m.wins} ={m.draws} -{m.losses} ({m.errors} errors, "
          f"{fig['distinct_games']} distinct games), score "
          f"{fig['score'] if fig['score'] is not None else float('nan'):.3f} 95% [{lo:.3f}, {hi:.3f}], "
          f"{fig['mean_plies'] or 0:.0f} plies a game, CPU s/move net {fig['our_cpu_s_per_move'] or 0:.3f} "
          f"gnugo {fig['gnugo_cpu_s_per_move'] or 0:.3f} -> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
