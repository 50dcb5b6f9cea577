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
