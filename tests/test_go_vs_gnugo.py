"""The raw-policy Go player's rules (eyes, self-atari, passing), the arena's error games and process
workers, and benchmarks/go_vs_gnugo.py end to end against GNU Go (marked `external`)."""
from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from boardnet.arena import play_match
from boardnet.games import make_game
from boardnet.players import RandomPlayer, find_program, go_eye, go_policy_choose, make_player

ROOT = Path(__file__).resolve().parents[1]


def board_state(rows: str, to_play: str = "b", moves: str = ""):
    rows = rows.split()
    n = len(rows)
    return make_game("go", board_size=n, komi=7.5).state_from_text(
        f"{n} 7.5 {to_play} {'/'.join(rows)} {moves}".strip())


def peaked(game, move: str, second: str | None = None) -> np.ndarray:
    p = np.full(game.action_size, 1e-4)
    p[game.text_to_action(move)] = 1.0
    if second:
        p[game.text_to_action(second)] = 0.5
    return p


def test_true_and_false_eyes():
    s = board_state(""".x... xx... ..... ..... .....""")   # A5 is a black corner eye
    b = s.board()
    assert go_eye(b, 0, 0, 1) and not go_eye(b, 0, 0, 2)
    s = board_state(""".xo.. xx... ..... ..... .....""")   # one opponent diagonal at the edge: false
    assert go_eye(s.board(), 0, 0, 1)                        # (C5 is no diagonal of A5)
    s = board_state(""".x... xo... ..... ..... .....""")
    assert not go_eye(s.board(), 0, 0, 1)                    # B4 is white: not all neighbours black
    s = board_state("""..... .oxo. .x.x. .oxo. .....""")   # C3: two white diagonals -> false eye
    assert not go_eye(s.board(), 2, 2, 1)
    s = board_state("""..... .oxx. .x.x. .xxx. .....""")   # one white diagonal in the centre: true
    assert go_eye(s.board(), 2, 2, 1)


def test_policy_never_fills_its_own_eye_and_passes_when_nothing_is_left():
    s = board_state(".xxxx xxxxx xx.xx xxxxx xxxxx")   # Black's only points left are two eyes
    g = s.game
    assert go_policy_choose(s, peaked(g, "A5", "C3")) == g.pass_action
    s = board_state(".x... xx... ..... ..... .....")
    assert go_policy_choose(s, peaked(g, "A5", "D2")) == g.text_to_action("D2")


def test_policy_avoids_a_big_self_atari():
    # Black C5 D5 has one more liberty, B5; playing there leaves B5-D5 (3 stones) in atari at A5.
    s = board_state("..xxo ooooo ..... ..... .....")
    g = s.game
    assert go_policy_choose(s, peaked(g, "B5", "D2")) == g.text_to_action("D2")
    assert go_policy_choose(s, peaked(g, "B5", "D2"), self_atari=0) == g.text_to_action("B5")
    assert go_policy_choose(s, peaked(g, "A5", "D2")) == g.text_to_action("A5")   # one stone: allowed


def test_policy_pass_rule():
    rows = ".xo.. .xo.. .xo.. .xo.. .xo.."   # Tromp-Taylor: White 15 + 7.5 against Black 10
    g = board_state(rows).game
    likes_pass = peaked(g, "pass", "D3")
    likes_pass[g.pass_action] = 2.0
    likes_d3 = peaked(g, "D3")
    black = board_state(rows)
    assert go_policy_choose(black, likes_pass) == g.text_to_action("D3")   # losing: no first pass
    white = board_state(rows, to_play="w")
    assert go_policy_choose(white, likes_pass) == g.pass_action             # winning, net says pass
    assert go_policy_choose(white, likes_d3) == g.text_to_action("D3")
    black_after_pass = board_state(rows, to_play="w", moves="pass")
    # settled, but Black is behind by area: only a winning side passes back (an empty board too is
    # "won" by komi, so the opponent's pass alone proves nothing)
    assert go_policy_choose(black_after_pass, likes_pass) == g.text_to_action("D3")
    assert go_policy_choose(black_after_pass, likes_d3) == g.text_to_action("D3")
    white_after_pass = board_state(rows, moves="pass")
    assert go_policy_choose(white_after_pass, likes_d3) == g.pass_action    # passing back wins


def test_policy_spec_plays_a_game():
    game = make_game("go9")
    p = make_player("policy:model=go9", game)
    assert p.name == "boardnet(policy)"
    m = play_match(game, lambda: make_player("policy:model=go9", game), lambda: RandomPlayer(1), 2,
                   max_plies=30)
    assert len(m.games) == 2 and m.errors == 0


class _Crash:
    name = "crash"

    def new_game(self, game, start):
        pass

    def select(self, state, history):
        raise RuntimeError("engine died")

    def close(self):
        pass


def test_arena_keep_going_records_errors():
    game = make_game("tictactoe")
    m = play_match(game, _Crash, lambda: RandomPlayer(0), 3, keep_going=True)
    assert m.errors == 3 and m.wins + m.draws + m.losses == 0
    assert all(g.error == "RuntimeError: engine died" for g in m.games)
    with pytest.raises(RuntimeError):
        play_match(game, _Crash, lambda: RandomPlayer(0), 1)


def test_arena_process_workers():
    game = make_game("tictactoe")
    m = play_match(game, functools.partial(RandomPlayer, 1), functools.partial(RandomPlayer, 2), 5,
                   parallel=2, processes=True)
    assert [g.index for g in m.games] == list(range(5)) and m.names[0] == "random(seed=1)"


@pytest.mark.external
def test_go_vs_gnugo_benchmark_short_game(tmp_path):
    if find_program("gnugo") is None:
        pytest.skip("gnugo is not installed (looked in PATH and /usr/games; `apt-get install -y gnugo`)")
    out = tmp_path / "r.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "go_vs_gnugo.py"), "--model", "go9",
                        "--games", "2", "--level", "1", "--max-plies", "16", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    assert d["provenance"]["models"][0]["sha256"] and d["settings"]["gnugo"].startswith("GNU Go")
    f = d["figures"]
    assert f["games"] == 2 and f["errors"] == 0 and f["wins"] + f["draws"] + f["losses"] == 2
    assert 0.0 <= f["score_wilson95"][0] <= f["score"] <= f["score_wilson95"][1] <= 1.0
    assert f["mean_plies"] == 16 and f["our_cpu_s_per_move"] >= 0 and f["gnugo_cpu_s_per_move"] >= 0
    assert [g["our_colour"] for g in d["games"]] == ["black", "white"]
    for g in d["games"]:
        assert g["end"] == "move cap" and g["gnugo_final_score"][0] in "BW0"
        assert g["sgf"].startswith("(;FF[4]") and "RE[" + g["gnugo_final_score"] + "]" in g["sgf"]
        assert len(g["moves"].split()) == 16 and isinstance(g["tromp_taylor"], float)
    assert out.with_suffix(".sgf").read_text().count("(;FF[4]") == 2
    # the same match extended by games 3-4, then joined: one 4-game result
    out2, both = tmp_path / "r2.json", tmp_path / "both.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "go_vs_gnugo.py"), "--model", "go9",
                        "--games", "2", "--level", "1", "--max-plies", "16", "--first-game", "3", "--out", str(out2)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    d2 = json.loads(out2.read_text())
    assert [g["index"] for g in d2["games"]] == [2, 3] and [g["gnugo_seed"] for g in d2["games"]] == [2, 3]
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "go_vs_gnugo.py"), "--combine", str(out), str(out2),
                        "--out", str(both)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    joined = json.loads(both.read_text())
    assert joined["figures"]["games"] == 4 and joined["provenance"]["models"] == d["provenance"]["models"]
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "go_vs_gnugo.py"), "--combine", str(out), str(out),
                        "--out", str(both)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.startswith("go_vs_gnugo --combine: ") and "game 1 is also in" in r.stderr


def _gnugo_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import go_vs_gnugo
    finally:
        sys.path.pop(0)
    return go_vs_gnugo


def test_figures_count_repeated_games_once():
    """A deterministic policy against a nearly deterministic GNU Go can replay a game: distinct_games and
    distinct_score count each move sequence once."""
    figures = _gnugo_module().figures
    info = dict(plies=3, our_cpu_s=0.1, our_moves=2, gnugo_cpu_s=0.2, gnugo_moves=1, wall_s=1.0, end="two passes",
                tromp_taylor=1.0, error=None)
    rows = [dict(info, index=i, moves=m, our_score=s, our_colour=c)
            for i, (m, s, c) in enumerate([("a b c", 1.0, "black"), ("d e f", 0.0, "white"), ("a b c", 1.0, "black"),
                                           ("a b c", 1.0, "black"), ("g h i", 0.0, "white")])]
    rows.append({"index": 5, "error": "GNU Go crashed", "opening": 2})
    f = figures(rows)
    assert f["score"] == 0.6 and f["distinct_games"] == 3 and f["distinct_score"] == pytest.approx(1 / 3)
    assert (f["games"], f["scored"], f["errors"], f["wins"], f["losses"]) == (6, 5, 1, 3, 2)
    assert f["errors_reasons"] == ["GNU Go crashed"] and f["by_our_colour"]["white"] == {"games": 2, "wins": 0}


GOLDEN = ["go19_regrow_search400_int8_vs_gnugo_l10_openings.json", "go19_regrow_policy_vs_gnugo_l10_openings.json"]


@pytest.mark.parametrize("name", GOLDEN)
def test_figures_from_rows_reproduce_committed_matches(name):
    """The figures are recomputed from the game rows alone (what `--combine` relies on): every figure of two
    committed matches comes back exactly."""
    d = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
    f = _gnugo_module().figures(d["games"])
    assert f == {k: v for k, v in d["figures"].items() if k != "seconds"}


def test_combine_parts_of_one_match():
    mod = _gnugo_module()
    d = json.loads((ROOT / "benchmarks" / "results" / "go19_regrow_policy_vs_gnugo_l10_openings.json").read_text())
    parts = [dict(d, games=d["games"][:14], settings=dict(d["settings"], games=14, first_game=1, workers=2)),
             dict(d, games=d["games"][14:], settings=dict(d["settings"], games=26, first_game=15, workers=1))]
    both = mod.combine(parts, ["a.json", "b.json"])
    assert both["figures"] == {**{k: v for k, v in d["figures"].items() if k != "seconds"},
                               "seconds": both["figures"]["seconds"]}
    assert [r["index"] for r in both["games"]] == list(range(40))
    assert both["settings"]["games"] == 40 and both["settings"]["parts"] == ["a.json", "b.json"]
    assert both["settings"]["workers"] == [2, 1] and len(both["parts_provenance"]) == 2
    with pytest.raises(ValueError, match="b.json: game 14 is also in a.json"):
        mod.combine([parts[0], dict(parts[1], games=d["games"][13:])], ["a.json", "b.json"])
    with pytest.raises(ValueError, match="b.json: komi 6.5 differs from a.json's 7.5: not the same match"):
        mod.combine([parts[0], dict(parts[1], settings=dict(parts[1]["settings"], komi=6.5))], ["a.json", "b.json"])
    other = dict(parts[1], provenance=dict(d["provenance"], models=[{"sha256": "0" * 64}]))
    with pytest.raises(ValueError, match="b.json: another net"):
        mod.combine([parts[0], other], ["a.json", "b.json"])
    with pytest.raises(ValueError, match="at least two"):
        mod.combine(parts[:1], ["a.json"])


def test_arena_first_plays_the_later_games_of_a_match():
    game = make_game("tictactoe")
    openings = [[0], [4], [8]]
    m = play_match(game, functools.partial(RandomPlayer, 1), functools.partial(RandomPlayer, 2), 3,
                   openings=openings, first=3)
    assert [g.index for g in m.games] == [3, 4, 5] and [g.opening for g in m.games] == [1, 2, 2]
    assert [g.a_first for g in m.games] == [False, True, False]
    with pytest.raises(ValueError, match="first=-1"):
        play_match(game, RandomPlayer, RandomPlayer, 1, first=-1)


def _dispute_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import go_dispute
    finally:
        sys.path.pop(0)
    return go_dispute


# 9x9: Black's wall on column E, White's on F, one White stone dead at B5 inside Black's side. Tromp-Taylor counts it
# alive and Black's side neutral (White by 34.5); GNU Go calls it dead (Black by 1.5).
DEAD_B5 = "E1 F1 E2 F2 E3 F3 E4 F4 E5 F5 E6 F6 E7 F7 E8 F8 E9 F9 A1 B5 pass pass"


def test_dispute_margins_and_which_games_are_disputed():
    d = _dispute_module()
    assert d.margin("B+12.5") == 12.5 and d.margin("W+3") == -3.0 and d.margin("0") == 0.0
    for bad in ("", "B12", "X+1", "W+"):
        with pytest.raises(ValueError, match="expected B\\+n"):
            d.margin(bad)
    games = [dict(index=0, error=None, tromp_taylor=5.5, gnugo_final_score="B+2.5"),     # agree
             dict(index=1, error=None, tromp_taylor=5.5, gnugo_final_score="W+0.5"),     # disputed
             dict(index=2, error=None, tromp_taylor=-34.5, gnugo_final_score="B+1.5"),   # disputed
             dict(index=3, error="GNU Go crashed", tromp_taylor=1.0, gnugo_final_score="W+9"),
             dict(index=4, error=None, tromp_taylor=-8.5)]                                # resigned: not judged
    assert [g["index"] for g in d.disputed(games)] == [1, 2]


@pytest.mark.external
def test_dispute_settles_a_dead_stone_by_play(tmp_path):
    """GNU Go's judgement of the B5 stone is played out: it captures it in the cleanup and Black wins on the board."""
    if find_program("gnugo") is None:
        pytest.skip("gnugo is not installed (looked in PATH and /usr/games; `apt-get install -y gnugo`)")
    game = make_game("go", board_size=9, komi=7.5)
    s = game.initial_state()
    for m in DEAD_B5.split():
        s = s.apply(game.text_to_action(m))
    assert s.score() == -34.5
    match = tmp_path / "m.json"
    match.write_text(json.dumps({"settings": {"board": 9, "komi": 7.5, "our_spec": "engine:model=go9,visits=8",
                                              "gnugo_cmd": f"{find_program('gnugo')} --mode gtp --chinese-rules "
                                                           "--positional-superko --level 1"},
                                 "games": [dict(index=0, opening=None, error=None, our_colour="white", end="two passes",
                                                tromp_taylor=-34.5, gnugo_final_score="B+1.5", winner="black",
                                                our_score=0.0, moves=DEAD_B5)]}))
    out = tmp_path / "d.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "go_dispute.py"), str(match), "--visits", "8",
                        "--out", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    d = json.loads(out.read_text())
    row, = d["games"]
    assert row["cleanup_ended"] == "two passes" and row["winner_after_cleanup"] == "black" and not row["changed"]
    assert d["figures"] == {"scored": 1, "disputed": 1, "changed": 0, "gnugo_upheld": 1, "our_score_judged": 0.0,
                            "our_score_after_cleanup": 0.0}
    assert d["provenance"]["models"][0]["sha256"]
