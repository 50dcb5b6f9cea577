"""Go rules: captures, suicide, ko and positional superko, scoring, planes, GTP text, play-outs.

Positions are written as ASCII boards (top row first, 'x' black, 'o' white, '.' empty) and read
through the position text format; a naive array implementation (`RefGo`) checks random games.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from boardnet.games import make_game
from boardnet.games.base import Game, IllegalMoveError, ParseError, State, play_out
from boardnet.games.go import NUM_PLANES, Go


def pos(game: Go, rows: str, to_play: str = "b", moves: str = "") -> "State":
    """State from an ASCII board (rows separated by newlines / spaces) and optional GTP moves."""
    board = "/".join(rows.split())
    return game.state_from_text(f"{game.n} {game.komi} {to_play} {board} {moves}")


def rows_of(state) -> list[str]:
    return ["".join(".xo"[v] for v in row) for row in state.board()]


def play(state, *moves: str):
    for mv in moves:
        state = state.apply(state.text_to_action(mv))
    return state


# --------------------------------------------------------------------------- naive reference
class RefGo:
    """Array Go with set-based flood fill and superko by a set of board bytes (slow, obvious)."""

    def __init__(self, board: np.ndarray, to_play: int):
        self.n = board.shape[0]
        self.board = board.astype(np.int8).copy()  # 0 empty, 1 black, 2 white
        self.to_play = to_play  # 0 black, 1 white
        self.seen = {self.board.tobytes()}
        self.boards = [self.board.copy()]  # newest last

    def neighbours(self, r, c):
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            if 0 <= r + dr < self.n and 0 <= c + dc < self.n:
                yield r + dr, c + dc

    def group(self, board, r, c):
        colour = board[r, c]
        stones, libs, todo = {(r, c)}, set(), [(r, c)]
        while todo:
            p = todo.pop()
            for q in self.neighbours(*p):
                if board[q] == 0:
                    libs.add(q)
                elif board[q] == colour and q not in stones:
                    stones.add(q)
                    todo.append(q)
        return stones, libs

    def result(self, r, c):
        """Board after the current player plays (r, c), or None if occupied/suicide."""
        if self.board[r, c]:
            return None
        me, opp = 1 + self.to_play, 2 - self.to_play
        b = self.board.copy()
        b[r, c] = me
        for q in self.neighbours(r, c):
            if b[q] == opp:
                stones, libs = self.group(b, *q)
                if not libs:
                    for s in stones:
                        b[s] = 0
        if not self.group(b, r, c)[1]:
            return None
        return b

    def legal(self):
        """(legal bool [N*N+1], ko bool [N*N]): ko = not suicide but repeats a board."""
        n = self.n
        legal = np.zeros(n * n + 1, bool)
        ko = np.zeros(n * n, bool)
        for i in range(n * n):
            b = self.result(*divmod(i, n))
            if b is not None:
                if b.tobytes() in self.seen:
                    ko[i] = True
                else:
                    legal[i] = True
        legal[n * n] = True
        return legal, ko

    def apply(self, action):
        n = self.n
        if action < n * n:
            b = self.result(*divmod(action, n))
            assert b is not None and b.tobytes() not in self.seen
            self.board = b
            self.seen.add(b.tobytes())
        self.boards.append(self.board.copy())
        self.to_play = 1 - self.to_play

    def lib_classes(self, colour):
        """Stones of `colour` (1/2) in groups with 1, 2, >=3 liberties: bool [3, N, N]."""
        out = np.zeros((3, self.n, self.n), bool)
        for r in range(self.n):
            for c in range(self.n):
                if self.board[r, c] == colour:
                    out[min(len(self.group(self.board, r, c)[1]), 3) - 1, r, c] = True
        return out

    def planes(self):
        n = self.n
        me, opp = 1 + self.to_play, 2 - self.to_play
        out = np.zeros((NUM_PLANES, n, n), np.float32)
        for i, b in enumerate(reversed(self.boards[-8:])):
            out[2 * i] = b == me
            out[2 * i + 1] = b == opp
        out[16] = self.to_play == 0
        out[17:20] = self.lib_classes(me)
        out[20:23] = self.lib_classes(opp)
        out[23] = self.legal()[1].reshape(n, n)
        out[24] = 1
        return out


def groups_of(board: np.ndarray):
    ref = RefGo(board, 0)
    seen, out = set(), []
    for r in range(board.shape[0]):
        for c in range(board.shape[1]):
            if board[r, c] and (r, c) not in seen:
                stones, libs = ref.group(board, r, c)
                seen |= stones
                out.append((board[r, c], stones, libs))
    return out


# --------------------------------------------------------------------------- game object
def test_make_game_and_protocol():
    g = make_game("go9")
    assert isinstance(g, Game) and isinstance(g.initial_state(), State)
    assert (g.n, g.komi, g.max_moves, g.action_size, g.obs_shape) == (9, 7.0, 162, 82, (25, 9, 9))
    assert make_game("go", board_size=13).komi == 7.0
    g19 = make_game("go19")
    assert (g19.komi, g19.max_moves, g19.action_size) == (7.5, 722, 362)
    assert make_game("go5", komi=0.5, max_moves=10).komi == 0.5
    assert Go(9, komi=6.25).initial_state().score() == -6.25
    assert g.name == "go9" and make_game(g.name).n == 9
    for bad in (dict(board_size=4), dict(board_size=20), dict(board_size=9.0),
                dict(komi="x"), dict(komi=float("nan")), dict(komi=float("inf")),
                dict(max_moves=0), dict(max_moves=2.5)):
        with pytest.raises(ValueError, match="go "):
            Go(**bad)


def test_initial_state():
    g = Go(9)
    s = g.initial_state()
    assert s.to_play() == 0 and s.ply == 0 and not s.is_terminal()
    assert s.legal_mask().all() and s.legal_actions().tolist() == list(range(82))
    assert s.hash() == 0 and s.score() == -7.0
    assert s.board().dtype == np.int8 and not s.board().any()
    np.testing.assert_array_equal(s.returns(), [0, 0])


# --------------------------------------------------------------------------- captures
def test_single_stone_capture():
    g = Go(5)
    s = pos(g, """.....
                  ..x..
                  .xo..
                  ..x..
                  .....""")
    s = play(s, "D3")
    assert rows_of(s) == [".....", "..x..", ".x.x.", "..x..", "....."]
    assert s.stone_counts() == (4, 0) and s.to_play() == 1
    assert s.hash() == g.zobrist(*_bits(s), 1)


def test_multi_stone_capture():
    g = Go(5)
    s = pos(g, """.....
                  .xx..
                  xoo..
                  .xx..
                  .....""")
    s = play(s, "D3")
    assert rows_of(s) == [".....", ".xx..", "x..x.", ".xx..", "....."]
    assert s.stone_counts() == (6, 0)


def test_corner_and_edge_captures():
    g = Go(5)
    s = pos(g, """.....
                  .....
                  .....
                  .....
                  ox.ox""")
    s = play(s, "A2")  # corner: A1's last liberty
    assert rows_of(s)[3:] == ["x....", ".x.ox"]
    s = play(s, "pass", "D2")  # edge: D1 keeps C1
    assert rows_of(s)[4] == ".x.ox"
    s = play(s, "pass", "C1")  # and loses it
    assert rows_of(s)[3:] == ["x..x.", ".xx.x"]
    assert s.stone_counts() == (5, 0)


def test_seki_position_and_multi_stone_capture_in_it():
    g = Go(7, komi=0.5)
    seki = """.xooxo.
              xxooxoo
              .xooxo.
              xxooxoo
              .xooxo.
              xxo.xoo
              .xo.xo."""
    s = pos(g, seki)
    p = s.planes()  # black to move: both inner groups have exactly the two shared liberties
    assert p[18, :, 4].all() and p[18].sum() == 7  # black E1-E7
    assert p[21, :, 2].all() and p[21, :5, 3].all() and p[21].sum() == 12  # white C1-C7, D3-D7
    # D1 and D2 touch both inner groups, so they count for nobody: 21 black, 26 white, 2 neutral.
    assert s.score() == 21 - 26 - 0.5
    f = play(s, "pass", "pass")
    assert f.is_terminal()
    np.testing.assert_array_equal(f.returns(), [-1, 1])
    # Seki: either side playing a shared liberty puts its own inner group in atari; then the
    # other side captures it (8 black stones here).
    s2 = play(s, "D1")
    assert s2.planes()[20:23, 6, 4].tolist() == [1, 0, 0]  # black's inner group now has 1 liberty
    s3 = play(s2, "D2")
    assert rows_of(s3)[5:] == ["xxoo.oo", ".xo..o."]
    assert s3.stone_counts() == (s.stone_counts()[0] - 7, s.stone_counts()[1] + 1)


# --------------------------------------------------------------------------- suicide
def test_single_and_multi_stone_suicide_illegal():
    g = Go(5)
    multi = pos(g, """.....
                      .....
                      oo...
                      xo...
                      .o...""")  # A1 would join A2 and leave the pair without a liberty
    a1 = g.text_to_action("A1")
    assert not multi.legal_mask()[a1] and multi.legal_mask().sum() == 25 + 1 - 6
    with pytest.raises(IllegalMoveError, match="'A1': suicide"):
        multi.text_to_action("A1")
    with pytest.raises(IllegalMoveError, match="go move A1: suicide"):
        multi.apply(a1)
    single = """...o.
                ....o
                .....
                .....
                ....."""
    s = pos(g, single)
    e5 = g.text_to_action("E5")
    assert not s.legal_mask()[e5] and s.legal_mask().sum() == 25 + 1 - 3
    with pytest.raises(IllegalMoveError, match="suicide"):
        s.apply(e5)
    assert pos(g, single, "w").legal_mask()[e5]  # white filling its own eye is legal


def test_capture_is_not_suicide():
    g = Go(5)
    s = pos(g, """.....
                  .....
                  x....
                  ox...
                  .o...""")
    assert s.legal_mask()[g.text_to_action("A1")]
    s = play(s, "A1")
    assert rows_of(s)[2:] == ["x....", ".x...", "xo..."]
    # the white B1 stone that shares A1 as a liberty keeps C1 and is not captured
    assert s.stone_counts() == (3, 1)


# --------------------------------------------------------------------------- ko and superko
KO = """.....
        .xo..
        xo.o.
        .xo..
        ....."""


def test_simple_ko_then_retake_after_threat():
    g = Go(5)
    s = play(pos(g, KO), "C3")  # black captures B3
    assert rows_of(s)[2] == "x.xo."
    b3 = g.text_to_action("B3")
    assert not s.legal_mask()[b3]
    planes = s.planes()
    assert planes[23].sum() == 1 and planes[23, 2, 1] == 1
    with pytest.raises(IllegalMoveError, match="superko"):
        s.apply(b3)
    with pytest.raises(IllegalMoveError, match="'b3': repeats"):
        s.text_to_action("b3")
    s = play(s, "E5", "E1")  # white's ko threat, black answers elsewhere
    assert s.legal_mask()[b3] and s.planes()[23].sum() == 0
    s = play(s, "B3")  # white retakes
    assert rows_of(s)[2] == "xo.o." and not s.legal_mask()[g.text_to_action("C3")]


def test_pass_does_not_lift_ko_for_immediate_recapture():
    g = Go(5)
    s = play(pos(g, KO), "C3", "pass", "pass")
    assert s.is_terminal()
    s = play(pos(g, KO), "C3", "pass", "E1")  # the board changed, so white may retake
    assert s.legal_mask()[g.text_to_action("B3")]


def test_triple_ko_cycle_rejected_by_positional_superko():
    # Three kos: K1 held by black, K2 and K3 by white; black to move. The sixth move of the
    # cycle recreates the starting board although it is no immediate recapture.
    g = Go(9)
    start = """.xo...xo.
               x.xo.xo.o
               .xo...xo.
               .........
               .xo......
               xo.o.....
               .xo......
               .........
               ........."""
    s = pos(g, start)
    cycle = ["H8", "B8", "C4", "G8", "C8"]  # B:K2, W:K1, B:K3, W:K2, B:K1
    boards = {tuple(rows_of(s))}
    assert s.stone_counts() == (10, 11)
    for mv in cycle:
        assert s.planes()[23].sum() == (1 if s.ply else 0)  # the ko just taken
        s = play(s, mv)
        assert sum(s.stone_counts()) == 21  # every move captures one stone
        boards.add(tuple(rows_of(s)))
    assert len(boards) == 6
    b4 = g.text_to_action("B4")
    b8 = g.text_to_action("B8")
    # White may neither retake K1 (simple ko) nor take K3 (board of move 0 again).
    mask = s.legal_mask()
    assert not mask[b4] and not mask[b8]
    ko = s.planes()[23]
    assert ko.sum() == 2 and ko[5, 1] == 1 and ko[1, 1] == 1
    with pytest.raises(IllegalMoveError, match="superko"):
        s.apply(b4)
    assert tuple(rows_of(s.apply(g.text_to_action("E5")))) not in boards


def test_non_capturing_play_that_repeats_a_board_is_rejected():
    # W A3, B D1 captures C1, W C1 captures D1+E1; now black E1 (capturing nothing) would
    # recreate the board after W A3.
    g = Go(5)
    s = pos(g, """.ooox
                  o.xo.
                  .oxoo
                  oxxoo
                  xxo.x""", "w", "A3 D1 C1")
    assert rows_of(s)[4] == "xxo.."
    e1, d1 = g.text_to_action("E1"), g.text_to_action("D1")
    assert not s.legal_mask()[e1] and s.legal_mask()[d1]
    assert s.planes()[23].sum() == 1 and s.planes()[23, 4, 4] == 1
    with pytest.raises(IllegalMoveError, match="superko"):
        s.apply(e1)


# --------------------------------------------------------------------------- end and scoring
def test_two_passes_end_the_game():
    g = Go(5)
    s = play(g.initial_state(), "pass")
    assert not s.is_terminal() and s.consecutive_passes() == 1
    s2 = play(s, "C3", "pass")
    assert not s2.is_terminal()
    s3 = play(s, "pass")
    assert s3.is_terminal() and not s3.legal_mask().any() and s3.legal_actions().size == 0
    with pytest.raises(IllegalMoveError, match="game is over"):
        s3.apply(g.pass_action)
    np.testing.assert_array_equal(s3.returns(), [-1, 1])  # empty board: komi decides


def test_hand_over_and_resume_for_gtp():
    g = Go(5)
    s = play(g.initial_state(), "C3", "pass")           # white passed: one pass counted
    h = s.hand_over()                                   # black plays out of turn: white to move, count cleared
    assert h.to_play() == 1 and h.ply == 3 and h.consecutive_passes() == 0 and not h.is_terminal()
    assert h.last_action() == g.pass_action and rows_of(h) == rows_of(s)
    assert not play(h, "pass").is_terminal()            # one counted pass since the hand-over
    over = play(s, "pass")
    assert over.is_terminal()
    with pytest.raises(IllegalMoveError, match="game is over"):
        over.hand_over()
    r = over.resumed()
    assert not r.is_terminal() and r.ply == over.ply and r.to_play() == over.to_play()
    assert r.last_action() == g.pass_action and r.legal_mask()[g.text_to_action("D4")]
    assert rows_of(play(r, "D4"))[1] == "...o."                 # white (to move after the two passes) plays on
    assert r.score() == over.score() and over.is_terminal()   # over itself is unchanged
    capped = Go(5, max_moves=2)
    end = play(capped.initial_state(), "C3", "D4")
    with pytest.raises(IllegalMoveError, match="move cap 2"):
        end.resumed()


@pytest.mark.parametrize("komi, expected", [(7.0, [-1, 1]), (5.0, [0, 0]), (4.5, [1, -1])])
def test_area_score_of_finished_game(komi, expected):
    g = Go(5, komi=komi)
    s = play(g.initial_state(), "C3", "D3", "C4", "D4", "C2", "D2", "C5", "D5", "C1", "D1")
    assert not s.is_terminal()
    s = play(s, "pass", "pass")
    # Black: columns A, B (10 empty points reaching only black) + 5 stones; white: 5 + 5.
    assert s.score() == 15 - 10 - komi
    np.testing.assert_array_equal(s.returns(), expected)


def test_area_score_with_captures_and_dame():
    g = Go(5, komi=0.5)
    s = pos(g, """.x.o.
                  xx.oo
                  ...o.
                  xx.oo
                  .x.o.""")
    # black: 6 stones + A5, A1 = 8; white: 7 stones + E5, E3, E1 = 10; column C is dame
    assert s.score() == 8 - 10 - 0.5
    s = play(s, "C3", "pass", "pass")
    # C3 cuts off A3, B3 (black's now); C5-C4 and C2-C1 still touch both colours
    assert s.score() == 7 + 4 - 10 - 0.5


def test_move_cap_ends_and_scores():
    g = Go(5, komi=0.5, max_moves=3)
    s = play(g.initial_state(), "C3", "pass")
    assert not s.is_terminal()
    s = play(s, "D3")
    assert s.is_terminal() and s.consecutive_passes() == 0 and not s.legal_mask().any()
    s = play(g.initial_state(), "C3", "D3", "B3")
    assert s.is_terminal() and s.ply == 3 and not s.legal_mask().any()
    # the empty points form one region touching both colours: only stones count
    assert s.score() == 2 - 1 - 0.5
    np.testing.assert_array_equal(s.returns(), [1, -1])
    with pytest.raises(IllegalMoveError, match="game is over"):
        s.apply(0)


# --------------------------------------------------------------------------- planes
def test_planes_history_order_and_side_plane():
    g = Go(5)
    s = play(g.initial_state(), "C3", "D3", "pass")  # white to move
    p = s.planes()
    assert p.shape == (NUM_PLANES, 5, 5) and p.dtype == np.float32
    c3, d3 = (2, 2), (2, 3)

    def only(*pts):
        x = np.zeros((5, 5), np.float32)
        for pt in pts:
            x[pt] = 1
        return x

    # own = white (to move) in even planes, black in odd planes, newest first
    expect = [only(d3), only(c3), only(d3), only(c3), only(), only(c3), only(), only()]
    for i, e in enumerate(expect):
        np.testing.assert_array_equal(p[i], e, err_msg=f"plane {i}")
    assert not p[8:16].any()
    assert not p[16].any() and p[24].all()
    assert play(s, "E5").planes()[16].all()


LIBS = """xx...
          o.x..
          xo.oo
          .o.o.
          x...."""


def test_planes_liberty_classes_on_known_shape():
    g = Go(5)
    s = pos(g, LIBS, "w")
    p = s.planes()
    own = [p[17], p[18], p[19]]  # white
    opp = [p[20], p[21], p[22]]  # black
    np.testing.assert_array_equal(np.argwhere(own[0]), [[1, 0]])  # A4: B4
    assert not own[1].any()
    np.testing.assert_array_equal(np.argwhere(own[2]), [[2, 1], [2, 3], [2, 4], [3, 1], [3, 3]])
    np.testing.assert_array_equal(np.argwhere(opp[0]), [[2, 0]])  # A3: A2
    np.testing.assert_array_equal(np.argwhere(opp[1]), [[0, 0], [0, 1], [4, 0]])  # A5-B5, A1
    np.testing.assert_array_equal(np.argwhere(opp[2]), [[1, 2]])  # C4
    assert not p[23].any()
    # from black's side the classes swap
    q = pos(g, LIBS, "b").planes()
    np.testing.assert_array_equal(q[17:20], p[20:23])
    np.testing.assert_array_equal(q[20:23], p[17:20])


def test_symmetry_moves_planes_with_the_board():
    g = Go(5)
    rows = LIBS.split()
    s = pos(g, "\n".join(rows), "w")
    board = np.array([[".xo".index(ch) for ch in r] for r in rows])
    policy = np.arange(26, dtype=np.float32)
    for k in range(8):
        tp, tpol = g.transform(s.planes(), policy, k)
        tb, _ = g.transform(board[None], None, k)
        t = pos(g, "\n".join("".join(".xo"[v] for v in r) for r in tb[0]), "w")
        np.testing.assert_array_equal(tp, t.planes())
        assert tpol[25] == 25 and sorted(tpol.tolist()) == policy.tolist()
        back, pback = g.transform(tp, tpol, g.inverse(k))
        np.testing.assert_array_equal(back, s.planes())
        np.testing.assert_array_equal(pback, policy)


# --------------------------------------------------------------------------- text
def test_gtp_vertices():
    g9, g19 = Go(9), Go(19)
    assert g9.action_to_text(0) == "A9" and g9.action_to_text(80) == "J1"
    assert g9.action_to_text(81) == "pass"
    assert g9.text_to_action("d4") == g9.text_to_action(" D4 ") == (9 - 4) * 9 + 3
    assert g9.text_to_action("PASS") == g9.text_to_action("Pass") == 81
    assert g9.text_to_action("J9") == 8
    assert g19.text_to_action("T19") == 18 and g19.text_to_action("A1") == 18 * 19
    assert g19.action_to_text(360) == "T1"
    for a in range(82):
        assert g9.text_to_action(g9.action_to_text(a)) == a
    for game, bad, reason in [(g9, "I5", "letter I is not used"), (g9, "Z1", "column Z is off"),
                              (g9, "A0", "row 0 is off"), (g9, "K1", "column K is off"),
                              (g9, "A10", "row 10 is off"), (g19, "T20", "row 20 is off"),
                              (g19, "U1", "column U is off"), (g9, "", "expected a vertex"),
                              (g9, "D", "expected a vertex"), (g9, "4D", "expected a vertex"),
                              (g9, "D-4", "expected a vertex"), (g9, "passs", "expected")]:
        with pytest.raises(ParseError, match=reason):
            game.text_to_action(bad)
    with pytest.raises(ValueError, match="out of range"):
        g9.action_to_text(82)
    s = play(g9.initial_state(), "E5")
    with pytest.raises(IllegalMoveError, match="'e5': point is occupied"):
        s.text_to_action("e5")
    with pytest.raises(IllegalMoveError, match="out of range"):
        s.apply(82)


def test_position_text_round_trip_and_bare_board():
    g = Go(5)
    s = play(pos(g, KO), "C3", "E5", "E1")
    text = s.to_text()
    assert text == "5 7.0 b ...../.xo../xo.o./.xo../..... C3 E5 E1"
    t = g.state_from_text(text)
    assert t.to_text() == text and t.hash() == s.hash() and t.ply == 3
    np.testing.assert_array_equal(t.planes(), s.planes())
    np.testing.assert_array_equal(t.legal_mask(), s.legal_mask())
    # A bare board is its own whole history: ply 0, empty history planes, no ko.
    bare = g.state_from_text(f"5 7.0 w {'/'.join(rows_of(s))}")
    assert bare.ply == 0 and bare.hash() == s.hash() and not bare.planes()[2:16].any()
    assert bare.legal_mask()[g.text_to_action("B3")]  # the history that forbade it is gone
    assert repr(bare).startswith("GoState('5 7.0 w")


@pytest.mark.parametrize("text, reason", [
    ("", "expected '<size>"),
    ("9 7.0 b", "expected '<size>"),
    ("5 7.0 b ...../...../...../...../.....", "board size '5' does not match"),
    ("9 6.5 b " + "/".join(["........."] * 9), "komi 6.5 does not match"),
    ("9 abc b " + "/".join(["........."] * 9), "komi 'abc' is not a number"),
    ("9 7 x " + "/".join(["........."] * 9), "side to move 'x'"),
    ("9 7 b " + "/".join(["........."] * 8), "is not 9 rows"),
    ("9 7 b " + "/".join(["........z"] * 9), "is not 9 rows"),
    ("9 7 b xo......./o......../" + "/".join(["........."] * 7), "black group at A9 has no liberty"),
    ("9 7 b " + "/".join(["........."] * 9) + " D4 D4", "move 2 'D4': point is occupied"),
    ("9 7 b " + "/".join(["........."] * 9) + " D4 Q4", "move 2 'Q4': column Q is off"),
    ("9 7 b " + "/".join(["........."] * 9) + " pass pass D4", "move 3 'D4': game is over"),
])
def test_position_text_errors(text, reason):
    with pytest.raises(ParseError, match=reason):
        Go(9).state_from_text(text)


def test_pickle_round_trip():
    g = Go(7, komi=0.5, max_moves=60)
    s = play(g.initial_state(), "D4", "E4", "pass")
    t = pickle.loads(pickle.dumps(s))
    assert repr(t.game) == repr(g) and t.to_text() == s.to_text() and t.hash() == s.hash()
    np.testing.assert_array_equal(t.planes(), s.planes())
    assert play(t, "E5").stone_counts() == (1, 2)  # white to move after the pass


def test_ascii_and_board():
    g = Go(5)
    s = pos(g, KO)
    assert s.ascii().splitlines() == [
        "   A B C D E",
        " 5 . . . . .  5",
        " 4 . X O . .  4",
        " 3 X O . O .  3",
        " 2 . X O . .  2",
        " 1 . . . . .  1",
        "   A B C D E",
    ]
    assert s.board()[2].tolist() == [1, 2, 0, 2, 0] and str(s) == s.ascii()


# --------------------------------------------------------------------------- play-outs
def _bits(s):
    b = s.board().ravel()
    return (sum(1 << i for i in np.flatnonzero(b == 1).tolist()),
            sum(1 << i for i in np.flatnonzero(b == 2).tolist()))


def _check_invariants(s, prev, action):
    """Groups have liberties, stone counts follow the captures, the hash is recomputed."""
    board = s.board()
    for _, stones, libs in groups_of(board):
        assert libs, f"group without liberty at ply {s.ply}"
    assert s.hash() == s.game.zobrist(*_bits(s), s.to_play())
    if prev is not None:
        mover = prev.to_play()
        before, after = prev.stone_counts(), s.stone_counts()
        if action == s.game.pass_action:
            assert after == before
        else:
            captured = before[1 - mover] - after[1 - mover]
            assert after[mover] == before[mover] + 1 and captured >= 0
            assert np.count_nonzero(prev.board() != board) == 1 + captured


def _random_game_against_reference(game, rng, legal_every=1, pass_p=0.02):
    s = game.initial_state()
    ref = RefGo(s.board(), 0)
    prev, action, plies, kos = None, None, 0, 0
    while not s.is_terminal():
        _check_invariants(s, prev, action)
        np.testing.assert_array_equal(s.board(), ref.board)
        if s.ply % legal_every == 0:
            legal, _ = ref.legal()
            np.testing.assert_array_equal(s.legal_mask(), legal, err_msg=s.to_text())
            planes = s.planes()
            np.testing.assert_array_equal(planes, ref.planes(), err_msg=s.to_text())
            kos += bool(planes[23].any())
        acts = s.legal_actions()
        action = game.pass_action if rng.random() < pass_p else int(acts[rng.integers(len(acts))])
        prev, s = s, s.apply(action)
        ref.apply(action)
        plies += 1
    _check_invariants(s, prev, action)
    assert not s.legal_mask().any()
    t = game.state_from_text(s.to_text())
    assert t.to_text() == s.to_text() and t.hash() == s.hash() and t.score() == s.score()
    return s, plies, kos


def test_random_5x5_games_match_reference():
    rng = np.random.default_rng(5)
    g = Go(5, max_moves=80)
    ko_positions = 0
    for _ in range(12):
        final, plies, kos = _random_game_against_reference(g, rng)
        assert plies == final.ply
        ko_positions += kos
    assert ko_positions > 0  # the games did reach (super)ko-forbidden points


def test_random_9x9_games_match_reference():
    rng = np.random.default_rng(9)
    for _ in range(2):
        _random_game_against_reference(Go(9), rng, legal_every=3)


def test_random_19x19_game_keeps_invariants():
    _random_game_against_reference(Go(19), np.random.default_rng(19), legal_every=60, pass_p=0.0)


def test_play_out_with_planes_9x9_and_19x19_invariants():
    for n, seed in ((9, 1), (19, 2)):
        g = Go(n)
        final, plies = play_out(g.initial_state(), np.random.default_rng(seed), encode=True)
        assert final.is_terminal() and 0 < plies <= g.max_moves and final.ply == plies
        assert final.returns().sum() == 0 and abs(final.returns()[0]) in (0, 1)
        for _, _, libs in groups_of(final.board()):
            assert libs
        assert final.hash() == g.zobrist(*_bits(final), final.to_play())


def test_pass_after_is_a_self_play_aid():
    from boardnet.games.base import IllegalMoveError
    g = Go(board_size=5, pass_after=4)
    s = g.initial_state()
    assert not s.legal_mask()[g.pass_action]
    with pytest.raises(IllegalMoveError, match="pass: not allowed before ply 4"):
        s.apply(g.pass_action)
    for a in (0, 24, 4, 20):
        s = s.apply(a)
    assert s.legal_mask()[g.pass_action]          # from ply 4 on, passing is legal
    assert Go(board_size=5).initial_state().legal_mask()[25]   # default: pass any time
    with pytest.raises(ValueError, match="pass_after"):
        Go(board_size=5, pass_after=-1)
