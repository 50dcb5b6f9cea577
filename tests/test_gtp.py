"""GTP v2 sessions line by line (ids, malformed commands, every listed command) for Go, Connect
Four, tic-tac-toe and checkers; the CGOS-safe pass rule; lz-analyze output."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from boardnet.cli import main
from boardnet.engine import Engine, MoveStat
from boardnet.games import make_game
from boardnet.gtp import COMMANDS, GTP_MOVE_CAP, GTPServer, handicap_points, max_fixed_handicap
from boardnet.nets import build_net
from boardnet.players import go_choose
from boardnet.search import SearchConfig

ROOT = Path(__file__).resolve().parents[1]


def tiny_engine(game):
    return Engine(game, build_net(game, "b1c8"), search=SearchConfig(num_simulations=16), batch_size=8)


def session(game_name, *lines, visits=16):
    out = io.StringIO()
    s = GTPServer(make_game(game_name), tiny_engine, visits=visits, out=out)
    s.run(lines)
    return s, out.getvalue()


def replies(text: str) -> list[str]:
    """Split the output into replies (each ends with an empty line)."""
    return [r for r in text.split("\n\n") if r]


def test_admin_commands_and_ids():
    s, text = session("go9", "1 protocol_version", "name", "2 version", "known_command genmove",
                      "known_command fly", "3 list_commands", "  # only a comment", "4 quit", "name")
    r = replies(text)
    from boardnet import __version__
    assert r[0] == "=1 2" and r[1] == "= boardnet" and r[2] == f"=2 {__version__}"
    assert r[3] == "= true" and r[4] == "= false"
    assert r[5] == "=3 " + "\n".join(COMMANDS)
    assert r[6] == "=4" and len(r) == 7   # nothing is read after quit


def test_malformed_commands_are_question_mark_replies():
    s, text = session("go9", "5 fly", "play", "play x D4", "play b Z99", "play b I5", "genmove",
                      "boardsize", "boardsize 30", "komi abc", "7 undo", "known_command",
                      "time_left b x 0", "time_settings 1 2", "42", "final_score")
    r = replies(text)
    assert r == ["?5 unknown command", "? play: expected a color and a move", "? invalid color 'x'",
                 "? illegal move: go move 'Z99': column Z is off the 9x9 board (A-J)",
                 "? illegal move: go move 'I5': column letter I is not used in GTP",
                 "? genmove: expected a color", "? boardsize: expected one integer",
                 "? unacceptable size", "? komi 'abc': not a number", "?7 cannot undo",
                 "? known_command: expected one command name",
                 "? time_left 'b x 0': expected numbers",
                 "? time_settings: expected main_time byo_yomi_time byo_yomi_stones",
                 "?42 missing command", "= W+7"]   # empty board: white wins by komi
    assert s.state.ply == 0


def test_go_play_genmove_undo_showboard_and_score():
    s, text = session("go9", "boardsize 7", "komi 0.5", "clear_board", "play b D4", "play B c3",
                      "genmove b", "showboard", "undo", "undo", "final_score")
    r = replies(text)
    assert r[:5] == ["="] * 5   # boardsize, komi, clear_board, play, play (pass inserted for white)
    move = r[5][2:]
    assert s.game.n == 7 and s.game.komi == 0.5
    board_reply = r[6]
    # genmove b inserted a pass for white; black is ahead by area and white just passed, but two
    # stones on an open board are not a settled game (GoState.settled): black plays on
    assert move != "pass"
    lines = board_reply.splitlines()
    assert lines[1] == "   A B C D E F G"
    cols = "ABCDEFG"
    stones = {(c + str(7 - i)) for i, line in enumerate(lines[2:9]) for j, c in enumerate(cols)
              if line[3 + 2 * j] == "X"}
    assert stones == {"D4", "C3", move.upper()}
    assert not any("O" in line for line in lines[2:9])
    assert r[7:9] == ["=", "="]
    # After two undos only black's D4 is left (the inserted passes went with the undone moves).
    assert s.state.ply == 1 and s.state.to_play() == 1
    assert r[9] == "= B+48.5"   # D4 alone owns the 7x7 board: 49 - 0.5 komi


def test_play_for_the_wrong_colour_inserts_a_pass_in_go_only():
    s, text = session("go9", "play b D4", "play b E5")
    assert [a for a in (s.state.last_action(),)] == [s.game.text_to_action("E5")]
    assert s.state.ply == 3
    s, text = session("connect4", "play b 4", "play b 4")
    assert replies(text)[1] == "? play: it is white's turn"


def test_play_out_of_turn_hands_over_without_ending_the_game():
    # `play w pass` first (a GUI that lets white start): no pass counted for black, so the game goes on
    s, text = session("go9", "play w pass", "play b D4", "play w pass", "play w E5", "undo", "showboard")
    r = replies(text)
    assert r[:5] == ["="] * 5, r
    assert s.state.ply == 4 and s.state.to_play() == 0 and not s.state.is_terminal()
    assert s.state.consecutive_passes() == 1          # white's own pass after D4 counts; the hand-overs do not
    assert "X" in r[5] and "O" not in r[5]


def test_play_after_two_passes_resumes_and_cleanup_too():
    s, text = session("go9", "play b D4", "play w pass", "play b pass", "genmove w", "play w E5", "undo")
    r = replies(text)
    assert r[:3] == ["="] * 3 and r[3] == "= pass"    # the game is over: plain genmove confirms it
    assert r[4] == "=" and r[5] == "="                # play resumes it; undo takes the move and the resumption
    assert len(s.states) == 4 and s.state.is_terminal()
    s.run(["kgs-genmove_cleanup w"])
    assert replies(s.out.getvalue())[6].startswith("= ")
    assert [t.ply for t in s.states] == [0, 1, 2, 3, 3, 4]   # the resumption is not a move
    assert s.states[3].is_terminal() and not s.states[4].is_terminal() and s.state.to_play() == 0
    s.run(["undo"])
    assert len(s.states) == 4 and s.state.is_terminal()


def test_komi_keeps_the_line_and_the_move_cap():
    cmds = ("play w pass", "play b D4", "play w pass", "play b pass", "play w E5")
    s, _ = session("go9", *cmds)
    before = [(t.to_text(), t.ply, t.consecutive_passes(), t.is_terminal()) for t in s.states]
    s, text = session("go9", *cmds, "komi 6.5")
    assert replies(text) == ["="] * 6
    after = [(t.to_text(), t.ply, t.consecutive_passes(), t.is_terminal()) for t in s.states]
    assert [a[1:] for a in after] == [b[1:] for b in before]
    assert [a[0].split(" ", 2)[2] for a in after] == [b[0].split(" ", 2)[2] for b in before]
    assert s.game.komi == 6.5 and s.game.max_moves == GTP_MOVE_CAP * 81


def test_standard_handicap_layouts():
    g19, g13, g9, g7 = (make_game("go", board_size=n) for n in (19, 13, 9, 7))
    text = lambda g, k: " ".join(g.action_to_text(p) for p in handicap_points(g.n, k))
    assert text(g19, 9) == "D4 Q16 D16 Q4 D10 Q10 K4 K16 K10"      # the GTP specification's 19x19 list
    assert text(g19, 3) == "D4 Q16 D16" and text(g19, 7) == "D4 Q16 D16 Q4 D10 Q10 K10"
    assert text(g13, 5) == "D4 K10 D10 K4 G7" and text(g9, 6) == "C3 G7 C7 G3 C5 G5"
    assert text(g7, 4) == "C3 E5 C5 E3"
    assert [max_fixed_handicap(n) for n in (5, 6, 7, 8, 9, 10, 13, 19)] == [0, 0, 4, 4, 9, 4, 9, 9]
    with pytest.raises(ValueError, match="no standard layout"):
        handicap_points(9, 10)


def test_handicap_commands():
    s, text = session("go9", "boardsize 19", "fixed_handicap 4", "undo", "fixed_handicap 2", "komi 0.5",
                      "showboard", "genmove w", "clear_board", "fixed_handicap 1", "place_free_handicap 10",
                      "set_free_handicap D4 D4", "set_free_handicap D4 Z99", "set_free_handicap D4 pass",
                      "set_free_handicap D4", "set_free_handicap D4 Q16 K10")
    r = replies(text)
    assert r[1] == "= D4 Q16 D16 Q4" and r[2] == "? cannot undo" and r[3] == "? board not empty"
    assert r[4] == "=" and r[5].count("X") == 4 and r[6].startswith("= ")   # komi keeps the stones
    assert r[8:] == ["? invalid number of stones: fixed_handicap places 2-9 on 19x19",
                     "? invalid number of stones: place_free_handicap places 2-9 on 19x19",
                     "? bad vertex list: 'D4' twice", "? bad vertex list: 'Z99' is not a vertex",
                     "? bad vertex list: 'pass' is a pass",
                     "? invalid number of stones: set_free_handicap places 2-360 on 19x19", "="]
    assert s.state.to_play() == 1 and s.state.stone_counts() == (3, 0) and s.state.ply == 0
    s, text = session("go9", "place_free_handicap 5", "play w E3", "komi 5.5", "final_score")
    r = replies(text)
    assert r[0] == "= C3 G7 C7 G3 E5" and r[1:3] == ["=", "="]
    assert s.game.komi == 5.5 and s.state.stone_counts() == (5, 1) and s.state.to_play() == 0
    s, text = session("connect4", "fixed_handicap 2")
    assert replies(text) == ["? fixed_handicap: handicap stones are for Go only"]


def test_play_on_an_occupied_point_keeps_the_position():
    s, text = session("go9", "play b D4", "play b D4")
    assert replies(text)[1] == "? illegal move: go move 'D4': point is occupied"
    assert s.state.ply == 1   # the pass inserted for white was taken back


def test_connect4_tictactoe_checkers_over_gtp():
    s, text = session("connect4", "boardsize 7", "boardsize 9", "play b 4", "play w d1", "genmove b",
                      "showboard")
    r = replies(text)
    assert r[:4] == ["=", "? unacceptable size", "=", "="]
    assert r[4][2:] in list("1234567") and s.state.to_text()[:2] == "44"
    assert r[5].startswith("= \n") and r[5].endswith("1 2 3 4 5 6 7")
    s, text = session("tictactoe", "play b b2", "genmove w", "play w a1")
    r = replies(text)
    assert r[0] == "=" and r[1][2:4] in {"a1", "a2", "a3", "b1", "b3", "c1", "c2", "c3"}
    assert r[2] == "? play: it is black's turn"
    s, text = session("checkers", "play b 11-15", "genmove w", "play b 9-14x")
    r = replies(text)
    assert r[0] == "=" and r[1][2:] in ['21-17', '22-17', '22-18', '23-18', '23-19', '24-19', '24-20']
    assert r[2].startswith("? illegal move: ") and s.state.ply == 2


def test_final_score_outside_go():
    s, text = session("tictactoe", "play b a3", "play w a2", "play b b3", "play w b2", "final_score",
                      "play b c3", "final_score", "genmove w")
    r = replies(text)
    assert r[4] == "? final_score: the game is not over"
    assert r[6] == "= B+1" and r[7] == "? genmove: the game is over"


def test_time_settings_and_time_left_limit_the_search():
    s, text = session("go9", "time_settings 60 0 0", "time_left b 3 0", "genmove b")
    r = replies(text)
    assert r[:2] == ["=", "="] and r[2].startswith("= ")
    assert s._limits(0)[1] == pytest.approx(0.1)   # 3 s / 30 moves
    s.time_left[0] = (10.0, 5)
    assert s._limits(0)[1] == pytest.approx(10.0 / 6)   # byo-yomi: 5 stones in 10 s


def test_lz_analyze_streams_info_until_the_next_command():
    s, text = session("go9", "play b E5", "lz-analyze w 10", "name")
    assert text.startswith("=\n\n=\ninfo move ")
    stream, rest = text[len("=\n\n=\n"):].split("\n\n", 1)
    line = stream.splitlines()[-1]
    chunks = line.split("info move ")[1:]
    assert len(chunks) >= 1
    first = chunks[0].split()
    assert first[1:3] == ["visits", first[2]] and int(first[2]) > 0
    assert first[first.index("order") + 1] == "0" and 0 <= int(first[first.index("winrate") + 1]) <= 10000
    # every candidate carries its own line: it starts with the candidate and is legal from the position
    for chunk in chunks:
        words = chunk.split()
        pv = words[words.index("pv") + 1:]
        assert pv[0] == words[0]
        state = s.state
        for m in pv:
            state = state.apply(state.text_to_action(m))
    assert rest == "= boardnet\n\n"
    # after a real search, the candidates below the best one have lines of their own too
    an = s.engine.analyse(s.state, visits=300)
    chunks = s._lz_line(an).split("info move ")[1:]
    lines = [c.split()[c.split().index("pv") + 1:] for c in chunks]
    assert lines[0] == an.pv and sum(len(pv) > 1 for pv in lines[1:]) >= 2
    _, text = session("go9", "lz-analyze b x", "lz-analyze purple 10")
    assert replies(text) == ["? lz-analyze: 'x' is neither a colour (b, w) nor an interval (an integer, centiseconds)",
                             "? lz-analyze: 'purple' is neither a colour (b, w) nor an interval (an integer, centiseconds)"]


# -- the pass rule ----------------------------------------------------------------------------------

def _analysis(game, best, *others):
    rows = [MoveStat(game.action_to_text(a), a, 10 - i, 0.1, 0.0) for i, a in enumerate((best,) + others)]
    return SimpleNamespace(best_action=best, rows=rows)


def test_pass_only_when_winning_by_area():
    game = make_game("go", board_size=5, komi=0.5)
    # Black walls off column C: black owns A-C (15 points), white D-E (10): black wins by 4.5.
    black_ahead = game.state_from_text("5 0.5 b ..xo./..xo./..xo./..xo./..xo. ")
    p = game.pass_action
    d = game.text_to_action("A1")
    assert go_choose(black_ahead, _analysis(game, p, d), game.text_to_action) == p      # search + score agree
    white = game.state_from_text("5 0.5 w ..xo./..xo./..xo./..xo./..xo.")
    e = game.text_to_action("E1")
    # losing on a settled board: the search's pass stands (a stone in black's area would stand there dead);
    # a board move the search prefers is played
    assert go_choose(white, _analysis(game, p, e), game.text_to_action) == p
    assert go_choose(white, _analysis(game, e, p), game.text_to_action) == e
    after_pass = black_ahead.apply(d).apply(p)   # black A1, white passes: black is still ahead
    assert go_choose(after_pass, _analysis(game, game.text_to_action("B1")), game.text_to_action) == p
    white_after_pass = white.apply(p)            # white passed; black to move, black ahead
    assert go_choose(white_after_pass, _analysis(game, d), game.text_to_action) == p


# A 19x19 game of the search (White) against our raw policy (Black) in the arena, White to move after
# Black's pass at ply 304: the board is settled (Black's dead stones A2-B2-C2-C1-D1 enclose A1-B1, a region of
# their own; F1 is in atari), and Tromp-Taylor counts them, so White is behind by 1.5. White used to pass
# here and lose a game it led by 40 points.
DEAD_STONES_19 = (
    "Q15 D16 Q4 D3 D5 C5 C6 C4 D7 F3 C14 F17 B16 C17 C11 R6 O4 Q10 R12 Q17 R17 R18 R16 P18 S18 M17 K17 "
    "M15 G17 G16 H17 F18 H16 G15 J14 H13 J13 H12 J12 H11 J11 H10 J10 H9 J9 H8 J8 H7 J7 H6 J6 H5 K4 B6 B7 "
    "B5 D9 E6 D6 J3 K3 J2 K2 R3 R4 S4 S5 S3 R5 P2 O2 P3 O3 P4 P5 Q6 Q5 S6 T5 T6 T4 T3 Q3 Q2 P6 P7 O7 P8 "
    "O8 O9 N9 O10 N10 N11 O11 P11 O12 P12 O13 P13 O14 P14 P15 O15 O16 N15 N16 M16 O18 P16 Q16 P17 M18 L18 "
    "N18 L17 K18 L19 K19 M19 N19 N17 P19 O17 R19 O19 Q18 Q19 R18 P19 B17 B18 C16 D18 D15 E15 E14 F14 E16 "
    "D17 F15 F16 E15 H15 J15 F13 A18 B19 A17 D12 C12 D13 C13 D11 D10 E10 E9 F10 F9 F7 G9 G10 E7 F6 E4 E3 "
    "F4 G4 D4 C3 J4 H4 J1 H1 K1 G2 H3 H2 P1 R2 Q1 R1 O1 O6 O5 N6 M7 N7 N8 M6 L7 L6 K6 M13 M12 M11 N12 L12 "
    "L11 M10 L10 M9 M8 L9 K9 R13 S13 R14 S14 R11 S12 R15 S15 S11 T11 T10 T12 S9 Q12 Q11 Q14 Q13 P9 P10 Q9 "
    "R9 Q8 Q7 R8 S8 M4 K16 J16 G18 H18 A7 B8 A8 A9 A6 B10 J5 K5 N13 L13 N14 L14 L15 K15 L16 K12 M12 H14 "
    "G14 E13 F12 E12 E11 G19 F19 H19 L8 K7 F8 E8 G8 F5 G5 E17 E18 D14 A19 C19 C18 D19 E19 N5 R7 M5 K8 L5 "
    "pass M14 pass K14 pass K10 pass A4 A3 A2 B3 B2 G3 C2 D2 D1 E1 C1 pass F1 E2 pass G1 pass "
)


def test_no_pass_while_dead_stones_of_theirs_can_be_taken():
    from boardnet.players import go_cleanup_move
    game = make_game("go", board_size=19, komi=7.5)
    st = game.state_from_text("19 7.5 b " + "/".join(["." * 19] * 19) + " " + DEAD_STONES_19.strip())
    assert st.to_play() == 1 and st.last_action() == game.pass_action
    assert st.settled() and st.score() == 1.5
    p = game.pass_action
    assert go_choose(st, _analysis(game, p), game.text_to_action) == game.text_to_action("F2")   # takes F1
    seq, u = [], st
    while (a := go_cleanup_move(u)) is not None:      # Black passing on: White removes every dead stone
        seq.append(u.action_to_text(a))
        u = u.apply(a).apply(p)
    assert seq == ["F2", "A1", "B1", "A5", "B4"] and u.score() == -19.5
    # the same position with nothing of Black's left to take: the old rule stands (behind on a finished board)
    assert go_cleanup_move(u) is None and go_choose(u, _analysis(game, p), game.text_to_action) == p
    # a group with two eyes is shut in too, but both its liberties are suicide for us: left alone
    small = make_game("go", board_size=7, komi=0.5)
    alive = small.state_from_text("7 0.5 b .o.ox../oooox../xxxxx../......./......./......./.......")
    assert go_cleanup_move(alive) is None
    # with one eye of two points (A7-B7) it is dead: Black fills a liberty (A7 keeps B7 as its own liberty)
    one_eye = small.state_from_text("7 0.5 b ..oox../oooox../xxxxx../......./......./......./.......")
    assert go_cleanup_move(one_eye) == small.text_to_action("A7")


def test_cli_gtp_in_process(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("boardsize 5\nplay b C3\ngenmove w\nquit\n"))
    assert main(["gtp", "go9", "--visits", "4", "--komi", "0.5"]) == 0
    r = replies(capsys.readouterr().out)
    assert r[:2] == ["=", "="] and r[2].startswith("= ") and r[3] == "="


@pytest.mark.slow
def test_cli_gtp_through_a_pipe():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "boardnet.cli", "gtp", "connect4", "--visits", "8"],
                       input="1 name\nplay b 4\n2 genmove w\nfly\n3 quit\n",
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert p.returncode == 0, p.stderr
    r = replies(p.stdout)
    assert r[0] == "=1 boardnet" and r[1] == "=" and r[2][:3] == "=2 " and r[2][3:] in list("1234567")
    assert r[3] == "? unknown command" and r[4] == "=3"


def test_a_go_game_longer_than_the_self_play_move_cap_is_played_on():
    """Go's 2 N^2 move cap bounds self-play; a GUI's game may run longer (captures refill the board), so over GTP
    every legal move is taken past it and genmove still answers."""
    import numpy as np
    game = make_game("go5")
    rng = np.random.default_rng(3)
    st, moves = game.initial_state(), []
    uncapped = make_game("go5", max_moves=1000)
    st = uncapped.initial_state()
    while len(moves) < 2 * 25 + 10:  # past go5's cap of 50 plies, stones only (a pass pair would end it)
        acts = [a for a in st.legal_actions() if a != uncapped.pass_action]
        a = int(rng.choice(acts)) if acts else uncapped.pass_action
        moves.append(("b", "w")[st.to_play()] + " " + st.action_to_text(a))
        st = st.apply(a)
    s, text = session("go5", *[f"play {m}" for m in moves], "genmove " + ("b", "w")[st.to_play()], visits=2)
    r = replies(text)
    assert r[:len(moves)] == ["="] * len(moves) and r[len(moves)].startswith("= ")
    assert s.game.max_moves == 20 * 25 and game.max_moves == 50



def _match_final_state(index: int):
    """The final position of game `index` of go19's committed 400-visit match against GNU Go 3.8."""
    match = json.loads((ROOT / "benchmarks/results/go19_search400_vs_gnugo_l10_openings.json").read_text())
    g = next(x for x in match["games"] if x["index"] == index)
    game = make_game("go19")
    st = game.initial_state()
    for m in g["moves"].split():
        st = st.apply(game.text_to_action(m))
    return g, st


# GNU Go 3.8's `final_status_list dead` on game 6's final position (golden, read once: gnugo --mode gtp
# --chinese-rules, the moves replayed); its final_score there is W+14.5 where Tromp-Taylor gives B+33.5
GAME6_GNUGO_DEAD = "E19 F19 G19 E18 F17 G17 G16 J16 T13 F9 F8 Q8 T8 T7 T4 T3 G1 R1".split()


def test_playout_dead_stones_match_gnugo_on_a_19x19_final_position():
    from boardnet.players import go_dead_stones, go_playout_ownership
    g, st = _match_final_state(6)
    assert g["gnugo_final_score"] == "W+14.5" and st.score() == 33.5
    dead = go_dead_stones(st)
    assert sorted(st.action_to_text(int(p)) for p in np.flatnonzero(dead)) == sorted(GAME6_GNUGO_DEAD)
    own = go_playout_ownership(st, 20, seed=3)
    np.testing.assert_array_equal(own, go_playout_ownership(st, 20, seed=3))   # seeded
    assert own.shape == (19, 19) and np.abs(own).max() <= 1.0


def test_gtp_final_status_and_score_take_the_dead_stones_off():
    """A net without an ownership head: final_status_list dead is the play-outs' list, final_score the area count
    without those stones (GNU Go's W+14.5, not the board's Tromp-Taylor B+33.5)."""
    g, st = _match_final_state(6)
    moves = g["moves"].split()
    s, text = session("go19", *(f"play {'bw'[i % 2]} {m}" for i, m in enumerate(moves)),
                      "final_status_list dead", "final_score", "final_status_list alive")
    r = replies(text)
    assert r[:len(moves)] == ["="] * len(moves)
    assert sorted(r[len(moves)][2:].split()) == sorted(GAME6_GNUGO_DEAD)
    assert r[len(moves) + 1] == "= W+14.5"
    alive = r[len(moves) + 2][2:].split()
    assert len(alive) + len(GAME6_GNUGO_DEAD) == sum(st.stone_counts()) and not set(alive) & set(GAME6_GNUGO_DEAD)


# 9x9: Black's wall on column E, White's on F, a White stone at B5 inside Black's side with no way to live.
DEAD_B5 = "E1 F1 E2 F2 E3 F3 E4 F4 E5 F5 E6 F6 E7 F7 E8 F8 E9 F9 A1 B5 pass pass"


def test_a_stone_thrown_into_open_territory_is_dead():
    """Tromp-Taylor alone gives this game to White by 34.5 (B5 makes Black's side neutral), GNU Go to Black by 1.5."""
    s, _ = session("go9", "komi 7.5", *(f"play {'bw'[i % 2]} {m}" for i, m in enumerate(DEAD_B5.split())))
    assert s.state.is_terminal() and s.state.score() == -34.5
    assert s.command("final_status_list", ["dead"]) == "B5"
    alive = s.command("final_status_list", ["alive"]).split()
    assert len(alive) == 19 and "B5" not in alive
    assert s.command("final_score", []) == "B+1.5"


def test_playouts_read_a_board_the_move_cap_ended_as_it_stands():
    from boardnet.players import go_dead_stones, go_playout_ownership
    g = make_game("go", board_size=5, komi=0.5, max_moves=6)
    s = g.initial_state()
    for m in "C3 C2 B3 B2 D3 D2".split():
        s = s.apply(g.text_to_action(m))
    assert s.is_terminal() and s.consecutive_passes() == 0
    np.testing.assert_array_equal(go_playout_ownership(s, 5), s.area_ownership())
    assert not go_dead_stones(s, 5).any()


SGF_9 = "(;GM[1]FF[4]SZ[9]KM[5.5]HA[2]AB[cc][gg]PL[W];W[ee];B[ec];W[ce];B[];W[gc])"


def test_loadsgf_and_printsgf(tmp_path):
    f = tmp_path / "g.sgf"
    f.write_text(SGF_9)
    out_file = tmp_path / "out.sgf"
    s, text = session("go19", f"loadsgf {f}", "printsgf", f"loadsgf {f} 3", "undo", "komi 7.5",
                      f"printsgf {out_file}", f"loadsgf {f} 1", f"loadsgf {out_file}")
    r = replies(text)
    assert r[0] == "=" and r[1].startswith("= \n(;FF[4]GM[1]") and r[2:] == ["="] * 6
    assert "SZ[9]KM[5.5]" in r[1] and "AB[cc][gg]PL[W];W[ee];B[ec];W[ce];B[];W[gc])" in r[1]
    # after `loadsgf f 3` (the two moves before the third), undo and a komi change: setup and W[ee] stay
    saved = out_file.read_text()
    assert "SZ[9]KM[7.5]" in saved and saved.rstrip().endswith("AB[cc][gg]PL[W];W[ee])")
    assert s.game.n == 9 and s.game.komi == 7.5 and s.state.ply == 1 and s.state.to_play() == 0
    board = s.state.board()
    assert board[2, 2] == board[6, 6] == 1 and board[4, 4] == 2 and np.count_nonzero(board) == 3
    s.run([f"loadsgf {f} 1"])   # the setup alone, White to move; then the moves can be taken back one by one
    assert s.state.ply == 0 and s.state.to_play() == 1 and np.count_nonzero(s.state.board()) == 2
    s.run([f"loadsgf {f}", "undo", "undo", "undo", "undo", "undo"])
    assert s.state.ply == 0 and len(s.marks) == 1


def test_loadsgf_errors(tmp_path):
    broken = tmp_path / "broken.sgf"
    broken.write_text("(;GM[1]SZ[9];B[ee];W[ee];B[cc])")
    chess_like = tmp_path / "c.sgf"
    chess_like.write_text("(;GM[3]SZ[9];B[ee])")
    s, text = session("go9", f"loadsgf {tmp_path / 'missing.sgf'}", f"loadsgf {broken}", f"loadsgf {broken} 2",
                      f"loadsgf {chess_like}", "loadsgf", f"loadsgf {broken} two", "play w D4")
    r = replies(text)
    assert r[0] == f"? cannot load file '{tmp_path / 'missing.sgf'}': No such file or directory"
    assert r[1].startswith(f"? cannot load file '{broken}': ") and "move 2" in r[1] \
        and r[1].endswith(f"(loadsgf {broken} 2 loads the moves before it)")
    assert r[2] == "=" and r[3] == f"? cannot load file '{chess_like}': not a Go record: GM[3]"
    assert r[4] == r[5] == "? loadsgf: expected a file name and an optional move number"
    assert r[6] == "="   # the readable part of the broken record stays loaded: B E5, then W D4
    assert s.state.ply == 2
    _, text = session("connect4", f"loadsgf {broken}", "printsgf")
    assert replies(text) == ["? loadsgf: SGF records are for Go only", "? printsgf: SGF records are for Go only"]


def test_reg_genmove_lz_genmove_analyze_and_kgs_time_settings():
    s, text = session("go9", "reg_genmove b", "lz-genmove_analyze b 5", "kgs-time_settings byoyomi 300 30 5",
                      "kgs-time_settings canadian 60 120 10", "kgs-time_settings absolute 900",
                      "kgs-time_settings fischer 1 2", "kgs-time_settings byoyomi 1", "lz-genmove_analyze",
                      "kgs-time_settings none", visits=32)
    r = replies(text)
    assert r[0].startswith("= ") and s.marks[:2] == [0, 0]   # not played: only the analysed move is
    lines = r[1].split("\n")
    assert lines[0] == "=" and lines[-1].startswith("play ") and lines[-2].startswith("info move ")
    assert s.state.ply == 1 and s.state.last_action() == s.game.text_to_action(lines[-1].split()[1])
    assert r[2:5] == ["="] * 3
    assert r[5] == "? kgs-time_settings: expected none, absolute, byoyomi or canadian"
    assert r[6] == "? kgs-time_settings byoyomi: expected 3 number(s)"
    assert r[7] == "? lz-genmove_analyze: expected a color" and r[8] == "="
    assert (s.main_time, s.byo_time, s.byo_stones) == (0, 0, 0)
    s.run(["kgs-time_settings byoyomi 300 30 5"])
    assert (s.main_time, s.byo_time, s.byo_stones) == (300, 30, 1)
    sgf = s.command("printsgf", [])   # the engine played Black (reg_genmove played nothing)
    assert "PB[boardnet]PW[?]" in sgf and sgf.rstrip().endswith(f";B[{'abcdefghi'[s.state.last_action() % 9]}"
                                                                f"{'abcdefghi'[s.state.last_action() // 9]}])")
