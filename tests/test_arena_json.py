"""`boardnet arena --json`: the match as a results file with provenance, traceable figures and games."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from boardnet.cli import main
from boardnet.games import make_game


def test_arena_json(tmp_path, capsys):
    out = tmp_path / "r" / "m.json"
    assert main(["arena", "tictactoe", "--a", "mcts:simulations=30", "--b", "random:seed=3", "--games", "4",
                 "--quiet", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    f = d["figures"]
    assert f["games"] == 4 == f["wins_a"] + f["draws"] + f["losses_a"]
    assert abs(f["score_a"] - (f["wins_a"] + 0.5 * f["draws"]) / 4) < 1e-12
    lo, hi = f["score_a_95"]
    assert 0 <= lo <= f["score_a"] <= hi <= 1
    assert d["player_a"] == "mcts:simulations=30" and d["game"] == "tictactoe"
    assert len(d["games"]) == 4 and {g["a_first"] for g in d["games"]} == {True, False}
    assert "arena" in d["command"] and d["versions"]["gridnets"] and d["benchmark"] == "arena"
    assert d["date"] <= d["finished"]   # provenance read as the games start (the code they ran), the end beside it


def test_arena_processes_play_every_game_with_the_same_colours_as_threads(tmp_path):
    """`--parallel 2 --processes` (one interpreter per worker, for time-limited players) plays every game once,
    with the colours (and openings) of its index, as the in-process workers do, and records the flag."""
    outs = {}
    for mode in ("threads", "processes"):
        out = tmp_path / f"{mode}.json"
        extra = ["--processes"] if mode == "processes" else []
        assert main(["arena", "tictactoe", "--a", "mcts:simulations=20,seed=1", "--b", "random:seed=3", "--games",
                     "4", "--parallel", "2", "--quiet", "--json", str(out), *extra]) == 0
        outs[mode] = json.loads(out.read_text())
    assert "--processes" in outs["processes"]["command"]
    t, p = outs["threads"], outs["processes"]
    assert [g["index"] for g in p["games"]] == [0, 1, 2, 3]
    assert [g["a_first"] for g in p["games"]] == [g["a_first"] for g in t["games"]]
    assert p["figures"]["games"] == 4 and not p["figures"]["errors"]


def _record_torch_threads(g, first, second):
    import torch
    g.info["torch_threads"] = torch.get_num_threads()


def test_arena_process_workers_use_the_parents_torch_threads():
    """Spawned workers start with torch's default thread count (every core); a net player in each then spun
    against the other worker on 2 cores (the shipped checkers engine lost 27 of 31 games to pure MCTS that way,
    against 1 of 16 in one process). They must run with the parent's setting (`--threads`)."""
    import functools

    import torch

    from boardnet.arena import play_match
    from boardnet.players import make_player
    game = make_game("tictactoe")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        m = play_match(game, functools.partial(make_player, "random:seed=1", game),
                       functools.partial(make_player, "random:seed=2", game), 2, parallel=2, processes=True,
                       finish=_record_torch_threads)
    finally:
        torch.set_num_threads(before)
    assert [g.info["torch_threads"] for g in m.games] == [1, 1]


@pytest.mark.external
def test_arena_processes_with_an_engine_program_finish(tmp_path):
    """A UCI player in a worker process keeps a reader thread; unless the worker closes its players on exit the
    pool waits for it forever after the last game (a 20-game match against Stockfish hung there; its games were
    all played). The match must end and write its results."""
    import subprocess
    import sys

    from boardnet.players import find_program
    sf = find_program("stockfish")
    if sf is None:
        pytest.skip("stockfish is not installed (`apt-get install -y stockfish`)")
    out = tmp_path / "m.json"
    cmd = [sys.executable, "-m", "boardnet.cli", "arena", "chess", "--a", f"uci:cmd={sf},nodes=50",
           "--b", "random:seed=1", "--games", "2", "--parallel", "2", "--processes", "--max-plies", "8",
           "--quiet", "--json", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(out.read_text())["figures"]["games"] == 2


def test_arena_first_game_and_combine_give_the_longer_match(tmp_path, capsys):
    """Deterministic players (the shipped tic-tac-toe net's raw policy against its search): games 1-4 and 5-8 run as
    two parts and joined are the 8-game match, row for row, with the same figures; parts of other matches are
    refused with the reason, and the figures of committed results are what their rows give."""
    import glob

    from boardnet.arena import match_figures
    openings = tmp_path / "open.txt"
    openings.write_text("a1\nb2\nc3\na2\n")
    common = ["arena", "tictactoe", "--a", "policy:model=tictactoe", "--b", "engine:model=tictactoe,visits=8",
              "--openings", str(openings), "--quiet"]
    assert main(common + ["--games", "8", "--json", str(tmp_path / "whole.json")]) == 0
    assert main(common + ["--games", "4", "--json", str(tmp_path / "p1.json")]) == 0
    assert main(common + ["--games", "4", "--first-game", "5", "--json", str(tmp_path / "p2.json")]) == 0
    assert main(["arena", "tictactoe", "--combine", str(tmp_path / "p2.json"), str(tmp_path / "p1.json"),
                 "--json", str(tmp_path / "joined.json")]) == 0
    whole, joined = (json.loads((tmp_path / f).read_text()) for f in ("whole.json", "joined.json"))
    assert joined["games"] == whole["games"] and joined["figures"] == whole["figures"]
    assert joined["first_game"] == 1 and [r["opening"] for r in joined["games"]] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert json.loads((tmp_path / "p2.json").read_text())["games"][0]["index"] == 4
    capsys.readouterr()
    # not one match: another player B, a game twice, a missing --json
    assert main(common[:4] + ["--b", "engine:model=tictactoe,visits=9"] + common[6:]
                + ["--games", "2", "--json", str(tmp_path / "other.json")]) == 0
    assert main(["arena", "tictactoe", "--combine", str(tmp_path / "p1.json"), str(tmp_path / "other.json"),
                 "--json", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'other.json'}: player_b 'engine:model=tictactoe,visits=9' differs from" in err
    assert main(["arena", "tictactoe", "--combine", str(tmp_path / "p1.json"), str(tmp_path / "whole.json"),
                 "--json", str(tmp_path / "x.json")]) == 2
    assert "game 1 is also in" in capsys.readouterr().err
    assert main(["arena", "tictactoe", "--combine", str(tmp_path / "p1.json"), str(tmp_path / "p2.json")]) == 2
    assert "give --json" in capsys.readouterr().err
    assert main(["arena", "tictactoe", "--games", "2"]) == 2
    assert "--a and --b" in capsys.readouterr().err
    root = Path(__file__).resolve().parents[1]
    checked = 0
    for f in glob.glob(str(root / "benchmarks" / "results" / "*.json")):
        d = json.loads(Path(f).read_text())
        if isinstance(d, dict) and d.get("benchmark") == "arena":
            assert match_figures(d["games"]) == d["figures"], f
            checked += 1
    assert checked >= 20
