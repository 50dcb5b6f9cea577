"""`boardnet`: play in the terminal, speak UCI or GTP, run matches, list shipped nets.

    boardnet play connect4 --visits 400 --color second
    boardnet uci --model chess
    boardnet gtp go9 --movetime 2
    boardnet arena connect4 --a engine:visits=200 --b mcts:simulations=1000 --games 20 --sprt 0 50
    boardnet arena chess --a engine:visits=100 --b "uci:cmd=stockfish,UCI_LimitStrength=true,UCI_Elo=1350"
    boardnet models [NAME]
"""
from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from boardnet.games import GAMES, make_game
from boardnet.players import PLAYER_KINDS, load_engine, make_player, stderr_notice


def _game_arg(text: str):
    try:
        return make_game(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be at least 1")
    return v


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not v > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be positive")
    return v


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: must be in [0, 1]")
    return v


def _precision_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "int8"), default="auto",
                   help="network arithmetic: auto (int8 on a CPU with VNNI, the fastest there: 1.2-2x the "
                        "nodes a second of bf16 autocast; bf16 autocast on CUDA and on other CPUs with AMX "
                        "or AVX512-BF16; else fp32; printed at start-up), fp32, bf16, or int8 (a quantized "
                        "copy of the net on the CPU's VNNI unit, calibrated on first use in 1-5 s, then read from "
                        "~/.cache/gridnets/int8)")


def _engine_options(p: argparse.ArgumentParser, budget: bool = True) -> None:
    p.add_argument("--model", help="shipped net name (see `boardnet models`) or checkpoint path; "
                   "default: the shipped net for the game, else play without a network")
    if budget:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--visits", type=_positive_int, help="search visits per move (default 400)")
        g.add_argument("--movetime", type=_positive_float, help="seconds per move")
    p.add_argument("--device", default="auto", help="torch device for the net: auto, cpu, cuda, ...")
    _precision_option(p)
    p.add_argument("--batch-size", type=_positive_int, default=16, help="leaves per network batch")
    p.add_argument("--damping", type=_fraction, default=None,
                   help="no-progress damping in [0, 1]: in checkers and chess the net's values shrink by this "
                        "share of the way to the no-progress draw, so the engine converts won endings "
                        "(default 0.5; 0 turns it off)")
    p.add_argument("--threads", type=_positive_int, help="torch threads for the network (default: "
                   "torch's; use 1 on a busy shared CPU, where more threads spin against each other)")
    p.add_argument("--symmetries", type=int, default=1, choices=range(1, 9), metavar="S",
                   help="average every network evaluation over S board symmetries (1-8, default 1; Go and "
                        "the other square-board games; S times the network work for a better policy: go19's "
                        "validation top-1 43.4 %% -> 45.6 %% at 8)")
    p.add_argument("--root-symmetries", type=int, default=1, choices=range(1, 9), metavar="S",
                   help="average only the search root's priors over S board symmetries (one S-board batch a "
                        "move; default 1)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="boardnet", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("play", help="play a game against the engine in the terminal")
    p.add_argument("game", type=_game_arg, help=f"one of {', '.join(GAMES)}, checkers, go9/go13/go19")
    _engine_options(p)
    p.add_argument("--color", "--colour", default="first",
                   help="the side you play: first, second, the game's colour names (white/black, "
                        "x/o), both (you play both sides), none (engine plays itself)")
    p.add_argument("--ascii", action="store_true", help="ASCII pieces only (chess)")

    p = sub.add_parser("uci", help="speak UCI (chess) on stdin/stdout")
    _engine_options(p, budget=False)
    p.add_argument("--visits", type=_positive_int, default=800, help="visits for `go` without limits")

    p = sub.add_parser("gtp", help="speak GTP v2 (Go, Connect Four, tic-tac-toe, checkers)")
    p.add_argument("game", type=_game_arg)
    _engine_options(p)
    p.add_argument("--komi", type=float, help="Go komi (default: the game's)")
    p.add_argument("--resign-threshold", type=float, default=-0.95, metavar="V",
                   help="answer genmove with `resign` after --resign-moves moves in a row whose search value "
                        "is below V (default -0.95, a 2.5%% win chance; -1 never resigns); analysis never resigns")
    p.add_argument("--resign-moves", type=_positive_int, default=3, help="see --resign-threshold (default 3)")

    p = sub.add_parser("arena", help="play a match between two players and report Elo / SPRT",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Player specs (kinds: " + ", ".join(PLAYER_KINDS) + "):\n"
                       "  random[:seed=1]   mcts[:simulations=1000|movetime=0.5,c=1.4]\n"
                       "  engine[:model=NAME,visits=200|movetime=0.5]\n"
                       "  policy[:model=NAME,self_atari=3]   (the raw policy: no search)\n"
                       "  uci:cmd=stockfish,movetime=0.1,UCI_LimitStrength=true,UCI_Elo=1350\n"
                       "  gtp:cmd=gnugo --mode gtp --level 1")
    p.add_argument("game", type=_game_arg)
    p.add_argument("--a", "--player1", dest="a", help="player A spec (required unless --combine)")
    p.add_argument("--b", "--player2", dest="b", help="player B spec (required unless --combine)")
    p.add_argument("--games", type=_positive_int, default=2)
    p.add_argument("--openings", type=Path, help="file of openings, one per line (moves in the "
                   "game's notation); each is played with both colours")
    p.add_argument("--parallel", type=_positive_int, default=1, help="games played at once")
    p.add_argument("--processes", action="store_true",
                   help="play the --parallel games in separate processes (one Python interpreter each: "
                        "time-limited players then get a core each instead of sharing one GIL)")
    p.add_argument("--max-plies", type=_positive_int, help="adjudicate a draw after this many plies")
    p.add_argument("--sprt", nargs=2, type=float, metavar=("ELO0", "ELO1"),
                   help="sequential test of H0 elo=ELO0 against H1 elo=ELO1; stops when decided")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--beta", type=float, default=0.05)
    p.add_argument("--out", type=Path, help="write the games here (PGN, SGF, PDN or move lines), rewritten after every game")
    p.add_argument("--json", type=Path, help="write the result (provenance, figures with a 95%% interval, "
                   "one row per game) to this JSON file, e.g. under benchmarks/results/")
    p.add_argument("--quiet", action="store_true", help="no line per game")
    p.add_argument("--threads", type=_positive_int, help="torch threads for the networks")
    p.add_argument("--first-game", type=_positive_int, default=1, metavar="K",
                   help="play games K .. K+games-1 of the match (1-based: the openings and colours a longer match "
                        "gives them), to extend a match later")
    p.add_argument("--combine", type=Path, nargs="+", metavar="JSON",
                   help="join the --json results of parts of one match (run with --first-game) into --json: checks "
                        "they are one match (players, game, openings, nets' sha256, settings; no game twice) and "
                        "recomputes the figures from the games; plays nothing")
    _precision_option(p)

    p = sub.add_parser("models", help="list the shipped nets, or show one's model card")
    p.add_argument("name", nargs="?")

    p = sub.add_parser("records", help="read game records (SGF, PGN, PDN, ACF lines; files, folders, "
                       "archives)")
    rsub = p.add_subparsers(dest="records_command", metavar="ACTION", required=True)
    p = rsub.add_parser("stats", help="stream the records and count games, positions, results and "
                        "bad records (with reasons)")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="record files, folders, .tar.gz/.zip/.gz archives")
    p.add_argument("--format", dest="fmt", default="auto", choices=("auto", "sgf", "pgn", "pdn", "acf"),
                   help="record format (default: from each file name)")
    p.add_argument("--json", type=Path, help="also write the counts here as JSON")
    return ap


def _engine_for(args, game, visits_default: int = 400):
    visits = getattr(args, "visits", None) or visits_default
    return load_engine(game, args.model, visits=visits, device=args.device,
                       batch_size=args.batch_size, notice=stderr_notice, precision=args.precision,
                       precision_notice=stderr_notice, shuffle_damping=args.damping,
                       symmetries=args.symmetries, root_symmetries=args.root_symmetries)


def cmd_play(args) -> int:
    from boardnet.play import PlaySession, human_sides

    game = args.game
    human = human_sides(game, args.color)
    engine = _engine_for(args, game)
    session = PlaySession(game, engine, human=human, visits=args.visits or (None if args.movetime else 400),
                          movetime=args.movetime, ascii_only=True if args.ascii else None)
    return session.run(sys.stdin)


def cmd_uci(args) -> int:
    from boardnet.uci import UCIServer

    game = make_game("chess", max_plies=None)  # the GUI adjudicates: no ply cap on the positions it sends
    server = UCIServer(game, lambda model: load_engine(game, model, visits=args.visits, device=args.device,
                                                       batch_size=args.batch_size, notice=stderr_notice,
                                                       precision=args.precision, precision_notice=stderr_notice,
                                                       shuffle_damping=args.damping, symmetries=args.symmetries,
                                                       root_symmetries=args.root_symmetries),
                       model=args.model, visits=args.visits)
    _ = server.engine  # a bad --model or --device ends the start with one line, not a session that cannot move
    return server.run(sys.stdin)


def cmd_gtp(args) -> int:
    from boardnet.gtp import GTPServer

    game = args.game
    if args.komi is not None:
        if not game.has_komi:
            raise ValueError(f"--komi {args.komi}: only Go has komi, not {game.name}")
        game = make_game(game.name, komi=args.komi)
    visits = args.visits or (None if args.movetime else 400)
    server = GTPServer(game, lambda g: load_engine(g, args.model, visits=visits or 400, device=args.device,
                                                   batch_size=args.batch_size, notice=stderr_notice,
                                                   precision=args.precision, precision_notice=stderr_notice,
                                                   shuffle_damping=args.damping, symmetries=args.symmetries,
                                                   root_symmetries=args.root_symmetries),
                       visits=visits, movetime=args.movetime, resign_threshold=None if args.resign_threshold <= -1 else args.resign_threshold,
                       resign_moves=args.resign_moves)
    _ = server.engine  # a bad --model or --device ends the start with one line, not a session that cannot move
    return server.run(sys.stdin)


def cmd_arena(args) -> int:
    from boardnet.arena import play_match, read_openings, records_text
    from boardnet.records import RESULT_TEXT

    game = args.game
    if args.combine:
        return _arena_combine(args, game)
    if not (args.a and args.b):
        raise ValueError("arena: --a and --b (the two players) are required unless --combine")
    openings = read_openings(args.openings, game) if args.openings else None
    prec = args.precision   # the default for engine players whose spec names none
    make_player(args.a, game, notice=stderr_notice, precision=prec).close()  # fail fast, before threads
    make_player(args.b, game, notice=stderr_notice, precision=prec).close()

    def on_game(g, match) -> None:
        if args.out:   # after every game, so a match stopped early keeps the games it finished
            args.out.write_text(records_text(match.games), encoding="utf-8")
        if args.quiet:
            return
        first, second = match.names if g.a_first else match.names[::-1]
        print(f"game {g.index + 1}: {first} - {second}: {RESULT_TEXT[int(g.result[0])]}"
              f"  (A scores {g.score_a:g}; {g.termination}; {len(g.actions)} plies)  "
              f"running +{match.wins} ={match.draws} -{match.losses}", flush=True)

    if args.processes:   # spawned workers: the factories must pickle
        make_a = functools.partial(make_player, args.a, game, precision=prec)
        make_b = functools.partial(make_player, args.b, game, precision=prec)
    else:
        def make_a():
            return make_player(args.a, game, precision=prec)

        def make_b():
            return make_player(args.b, game, precision=prec)
    # the results' provenance (code, versions, nets) as the games start, not as they end
    from traincore.provenance import provenance
    started = provenance(models=_spec_models(args.a) + _spec_models(args.b),
                         data=[args.openings] if args.openings else [])
    match = play_match(game, make_a, make_b,
                       args.games, openings=openings, parallel=args.parallel, max_plies=args.max_plies,
                       sprt=tuple(args.sprt) if args.sprt else None, alpha=args.alpha, beta=args.beta,
                       on_game=on_game, processes=args.processes, first=args.first_game - 1)
    print(match.summary())
    if args.out:
        args.out.write_text(records_text(match.games), encoding="utf-8")
        print(f"wrote {len(match.games)} games to {args.out}")
    if args.json:
        _arena_json(args, game, match, started)
        print(f"wrote {args.json}")
    return 0


def _spec_models(spec: str) -> list:
    """The model files a player spec names (model=NAME or path), for the results' sha256."""
    from boardnet.models import ModelNotFoundError, resolve
    out = []
    for part in spec.split(":", 1)[-1].split(","):
        key, _, value = part.partition("=")
        if key.strip() == "model" and value.strip():
            try:
                out.append(resolve(value.strip()))
            except ModelNotFoundError:
                pass
    return out


def _arena_json(args, game, match, started: dict) -> None:
    """The match as a results file: provenance as the match started (`started`: command, versions, git commit, model
    sha256, date) and the time it finished, players, figures, games."""
    from boardnet.arena import match_figures
    from traincore.provenance import utc_now, write_json
    rows = [{"index": g.index, "a_first": g.a_first, "opening": g.opening, "result": list(g.result),
             "score_a": g.score_a, "termination": g.termination, "plies": len(g.actions), "error": g.error}
            for g in match.games]
    doc = {"benchmark": "arena", **started,
           "finished": utc_now(),
           "command": " ".join(["boardnet", *args.argv]),
           "game": game.name, "player_a": args.a, "player_b": args.b, "max_plies": args.max_plies,
           "threads": args.threads, "precision": args.precision, "first_game": args.first_game,
           "figures": match_figures(rows), "games": rows}
    write_json(args.json, doc)


# what must agree for arena results to be parts of one match (the openings by their sha256, the nets by theirs)
ARENA_SAME_MATCH = ("game", "player_a", "player_b", "max_plies", "threads", "precision")


def _arena_combine(args, game) -> int:
    """`arena --combine A.json B.json ... --json OUT`: the parts of one match as one result (see --combine)."""
    import json

    from boardnet.arena import join_match_parts, match_figures
    from traincore.provenance import provenance, write_json
    if not args.json:
        raise ValueError("arena --combine: give --json, the file the joined result is written to")
    if args.a or args.b or args.first_game != 1:
        raise ValueError("arena --combine plays nothing: --a, --b and --first-game do not apply")
    docs, names = [], [str(f) for f in args.combine]
    for f in args.combine:
        try:
            docs.append(json.loads(f.read_text(encoding="utf-8")))
        except (OSError, ValueError) as e:
            raise ValueError(f"arena --combine {f}: cannot read it as JSON ({e})") from None
    if any(d.get("game") != game.name for d in docs if isinstance(d, dict)):
        raise ValueError(f"arena --combine: a part is not a {game.name} match")
    rows = join_match_parts(
        docs, names, benchmark="arena",
        settings=lambda d: {**{k: d.get(k) for k in ARENA_SAME_MATCH},
                            "openings": [x.get("sha256") for x in d.get("data", [])]},
        models=lambda d: [m.get("sha256") for m in d.get("models", [])])
    ref = docs[0]
    doc = {"benchmark": "arena", **provenance(models=[m["path"] for m in ref.get("models", []) if Path(m["path"]).is_file()]),
           "data": ref.get("data", []),   # the openings as the parts hashed them (checked alike)
           "command": " ".join(["boardnet", *args.argv]), "parts": names,
           "parts_provenance": [{k: d.get(k) for k in ("command", "date", "git_commit", "versions", "cpu", "cores",
                                                          "models", "data")} for d in docs],
           **{k: ref.get(k) for k in ARENA_SAME_MATCH}, "first_game": rows[0]["index"] + 1,
           "figures": match_figures(rows), "games": rows}
    write_json(args.json, doc)
    f = doc["figures"]
    print(f"{len(names)} parts, {f['games']} games: A +{f['wins_a']} ={f['draws']} -{f['losses_a']}"
          + (f" ({f['errors']} failed)" if f["errors"] else "") + f"; wrote {args.json}")
    return 0


def cmd_records(args) -> int:
    """`records stats`: counts, not a traceback, for bad records; 2 when no input exists."""
    from tqdm import tqdm

    from boardnet.records.read import ReadReport, read_records

    if not any(p.exists() for p in args.paths):
        raise ValueError("no such file or folder: " + ", ".join(map(str, args.paths)))
    report = ReadReport()
    for _ in tqdm(read_records(args.paths, fmt=args.fmt, report=report), unit=" games",
                  file=sys.stderr, mininterval=0.5, disable=None):
        pass
    print(report.summary())
    if args.json:   # a results file docs can cite: the counts with the command, versions and date
        from traincore.provenance import write_results
        write_results(args.json, "records_stats", report.to_dict(), data=args.paths,
                      settings={"paths": [str(p) for p in args.paths], "format": args.fmt})
        print(f"wrote {args.json}")
    return 0


def cmd_models(args) -> int:
    from boardnet import models

    if args.name:
        print(models.card_path(args.name).read_text(encoding="utf-8"), end="")
        return 0
    names = models.available()
    if not names:
        print("no nets are shipped yet (boardnet/models/ holds <name>.pt + <name>.md)")
        return 0
    for n in names:
        try:
            card = models.read_card(n)
            print(f"{n:12s} {card['Network']}; strength: {card['Strength']}")
        except ValueError as e:
            print(f"{n:12s} (card problem: {e})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)   # for the command line in results files
    if getattr(args, "threads", None):
        import torch
        torch.set_num_threads(args.threads)
    handler = {"play": cmd_play, "uci": cmd_uci, "gtp": cmd_gtp, "arena": cmd_arena,
               "models": cmd_models, "records": cmd_records}[args.command]
    try:
        return handler(args)
    except (ValueError, OSError, RuntimeError) as e:
        print(f"boardnet {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
