"""Tic-tac-toe: the full game tree, exact planes, text, errors and D4 equivariance."""
from __future__ import annotations

import functools
import pickle

import numpy as np
import pytest

from boardnet.games import IllegalMoveError, ParseError, make_game
from boardnet.games.symmetry import D4_SIZE, d4_compose, d4_inverse
from boardnet.games.tictactoe import TicTacToe

GAME = TicTacToe()


@functools.cache
def _walk():
    """The full game tree, counted over the DAG of positions: (games won by X, by O, drawn) and
    the text of every reachable position by hash."""
    counts: dict[int, tuple[int, int, int]] = {}
    positions: dict[int, str] = {}

    def rec(s):
        h = s.hash()
        if h not in counts:
            positions[h] = s.to_text()
            if s.is_terminal():
                r = s.returns()
                counts[h] = (int(r[0] > 0), int(r[1] > 0), int(r[0] == 0))
            else:
                children = [rec(s.apply(int(a))) for a in s.legal_actions()]
                counts[h] = tuple(sum(c[i] for c in children) for i in range(3))
        return counts[h]

    x, o, draw = rec(GAME.initial_state())
    return {"x": x, "o": o, "draw": draw}, positions


def test_full_tree_counts():
    results, positions = _walk()
    assert sum(results.values()) == 255_168
    assert results == {"x": 131_184, "o": 77_904, "draw": 46_080}
    assert len(positions) == 5_478
    # the hash is exact: distinct hashes <-> distinct boards
    assert len(set(positions.values())) == 5_478
    # every reachable position reads back from its text, and nothing else of the 3^9 boards does
    readable = 0
    for code in range(3 ** 9):
        cells = "".join(".xo"[code // 3 ** i % 3] for i in range(9))
        try:
            s = GAME.state_from_text(cells)
        except ParseError:
            continue
        readable += 1
        assert positions.get(s.hash()) == cells
    assert readable == 5_478


def _solve(s, memo):
    h = s.hash()
    if h not in memo:
        if s.is_terminal():
            memo[h] = float(s.returns()[s.to_play()])
        else:
            memo[h] = max(-_solve(s.apply(int(a)), memo) for a in s.legal_actions())
    return memo[h]


def test_minimax_values():
    memo: dict[int, float] = {}
    assert _solve(GAME.initial_state(), memo) == 0.0  # a draw with best play
    assert _solve(GAME.state_from_text("x...o...."), memo) == 0.0  # corner, centre: a draw
    assert _solve(GAME.state_from_text("xo......."), memo) == 1.0  # corner, edge: X wins
    assert _solve(GAME.state_from_text("x...o...x"), memo) == 0.0
    assert _solve(GAME.state_from_text("xx.oo...."), memo) == 1.0  # X to move completes the row


def test_win_draw_and_returns():
    s = GAME.state_from_text("xxxoo....")
    assert s.is_terminal() and s.returns().tolist() == [1.0, -1.0]
    assert not s.legal_mask().any() and s.legal_actions().size == 0
    s = GAME.state_from_text("o.xox.x..")  # X has the anti-diagonal c3-a1
    assert s.is_terminal() and s.returns().tolist() == [1.0, -1.0]
    s = GAME.state_from_text("xoxxoooxx")
    assert s.is_terminal() and s.returns().tolist() == [0.0, 0.0] and s.ply == 9
    s = GAME.initial_state()
    for a in (0, 3, 1, 4, 8, 5):  # O completes the middle row
        s = s.apply(a)
    assert s.is_terminal() and s.returns().tolist() == [-1.0, 1.0] and s.to_text() == "xx.ooo..x"


def test_planes_exact():
    s = GAME.state_from_text("x...o...x")  # O to move
    p = s.planes()
    assert p.shape == (3, 3, 3) and p.dtype == np.float32
    np.testing.assert_array_equal(p[0], [[0, 0, 0], [0, 1, 0], [0, 0, 0]])  # O's (to move)
    np.testing.assert_array_equal(p[1], [[1, 0, 0], [0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(p[2], np.zeros((3, 3)))
    p2 = s.apply(1).planes()  # X to move
    np.testing.assert_array_equal(p2[0], [[1, 0, 0], [0, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(p2[1], [[0, 1, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(p2[2], np.ones((3, 3)))
    p[...] = 5  # the memoised planes are copied out
    np.testing.assert_array_equal(s.planes()[1], [[1, 0, 0], [0, 0, 0], [0, 0, 1]])


def test_move_text():
    s = GAME.initial_state()
    assert [s.action_to_text(a) for a in range(9)] == ["a3", "b3", "c3", "a2", "b2", "c2",
                                                       "a1", "b1", "c1"]
    assert s.text_to_action("b2") == 4 and s.text_to_action("5") == 4 and s.text_to_action(" C1 ") == 8
    for bad in ("d1", "a4", "10", "", "b"):
        with pytest.raises(ParseError, match="tic-tac-toe move"):
            s.text_to_action(bad)
    s = s.apply(4)
    with pytest.raises(IllegalMoveError, match="'b2'.*taken"):
        s.text_to_action("b2")
    with pytest.raises(IllegalMoveError, match="b2: cell is taken"):
        s.apply(4)
    with pytest.raises(IllegalMoveError, match="out of range"):
        s.apply(9)
    with pytest.raises(IllegalMoveError, match="game is over"):
        GAME.state_from_text("xxxoo....").apply(8)


@pytest.mark.parametrize("text, why", [
    ("xxx", "9 characters"), ("xxxxxxxxxz", "9 characters"), ("xx.......", "as many stones"),
    ("oo.x.....", "as many stones"), ("xxxooo...", "impossible winner"),
    ("xxxoo.o..", "impossible winner"), ("ooo.xxxx.", "impossible winner"),
])
def test_bad_positions(text, why):
    with pytest.raises(ParseError, match=why) as e:
        GAME.state_from_text(text)
    assert repr(text) in str(e.value)


def _board_sym(text: str, k: int) -> str:
    grid = np.array(list(text)).reshape(3, 3)
    grid = np.rot90(np.fliplr(grid) if k >= 4 else grid, k % 4)
    return "".join(grid.ravel())


def test_d4_equivariance_on_positions():
    """transform(planes(s), legal mask, k) == (planes, legal mask) of the board turned by k."""
    _, positions = _walk()
    for text in sorted(positions.values())[::7]:  # every 7th of the 5,478, for time
        s = GAME.state_from_text(text)
        planes, mask = s.planes(), s.legal_mask().astype(np.float32)
        for k in range(D4_SIZE):
            t = GAME.state_from_text(_board_sym(text, k))
            pk, mk = GAME.transform(planes, mask, k)
            np.testing.assert_array_equal(pk, t.planes())
            np.testing.assert_array_equal(mk, t.legal_mask())


def test_d4_group_tables():
    probe = np.arange(9 * 2, dtype=np.float32).reshape(2, 3, 3)
    for a in range(D4_SIZE):
        assert d4_compose(a, d4_inverse(a)) == 0 and d4_compose(d4_inverse(a), a) == 0
        for b in range(D4_SIZE):
            c = d4_compose(a, b)
            twice = GAME.transform(GAME.transform(probe, None, b)[0], None, a)[0]
            np.testing.assert_array_equal(twice, GAME.transform(probe, None, c)[0])
    # rotations are 1..3 counter-clockwise quarter turns; k = 4 is the left-right flip
    assert _board_sym("abcdefghi", 1) == "cfibehadg"
    assert _board_sym("abcdefghi", 4) == "cbafedihg"
    assert "".join(GAME.transform(None, np.array(list("abcdefghi")), 1)[1]) == "cfibehadg"


def test_make_game_and_repr():
    g = make_game("tic-tac-toe")
    assert isinstance(g, TicTacToe) and g.name == "tictactoe"
    s = g.state_from_text("x...o....")
    assert repr(s) == "TicTacToeState('x...o....')"
    assert str(s) == "3 x . .\n2 . o .\n1 . . .\n  a b c"


def test_bad_symmetry_index():
    for k in (-1, 8):
        with pytest.raises(ValueError, match=f"board symmetry {k}: expected 0-7"):
            GAME.transform(np.zeros((3, 3, 3)), None, k)
        with pytest.raises(ValueError, match=f"board symmetry {k}"):
            GAME.inverse(k)


def test_non_string_text_and_pickle():
    with pytest.raises(ParseError, match="tic-tac-toe position 5: expected 9 characters"):
        GAME.state_from_text(5)
    with pytest.raises(ParseError, match="tic-tac-toe move 5: expected a cell"):
        GAME.initial_state().text_to_action(5)
    s = GAME.state_from_text("x...o...x")
    t = pickle.loads(pickle.dumps(s))
    assert t.to_text() == s.to_text() and t.hash() == s.hash() and t.ply == 3
    np.testing.assert_array_equal(t.planes(), s.planes())
