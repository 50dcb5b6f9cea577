"""`boardnet arena --json`: the match as a results file with provenance, traceable figures and games."""
from __future__ import annotations

import json

from boardnet.cli import main


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
