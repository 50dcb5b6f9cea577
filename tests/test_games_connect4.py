"""Connect Four: wins in every direction at edges and corners, exact planes and hashes, move-string
positions and errors, mirror equivariance, and Pons' solved test sets (shared/data/games/connect4)."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from boardnet.games import IllegalMoveError, ParseError, make_game
from boardnet.games.connect4 import ConnectFour

GAME = ConnectFour()


def _data_dir() -> Path:
    root = os.environ.get("GRIDNETS_DATA")
    base = Path(root) if root else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return base / "games" / "connect4"


DATA = _data_dir()
SETS = ("Test_L1_R1", "Test_L2_R1", "Test_L2_R2", "Test_L3_R1")
needs_data = pytest.mark.skipif(not (DATA / "Test_L1_R1.txt").exists(),
                                reason=f"Pons' test sets not found under {DATA} (set GRIDNETS_DATA)")


# -- an independent, naive referee: a 7x6 grid and all 69 lines of four -------------------------

LINES = [tuple((c + k * dc, r + k * dr) for k in range(4))
         for c in range(7) for r in range(6) for dc, dr in ((1, 0), (0, 1), (1, 1), (1, -1))
         if 0 <= c + 3 * dc < 7 and 0 <= r + 3 * dr < 6]


def _grid(moves: str) -> list[list[int | None]]:
    """grid[col][row from the bottom] = player (0 first, 1 second) or None."""
    grid: list[list[int | None]] = [[None] * 6 for _ in range(7)]
    heights = [0] * 7
    for i, ch in enumerate(moves):
        c = int(ch) - 1
        grid[c][heights[c]] = i % 2
        heights[c] += 1
    return grid


def _naive_lines(grid) -> list[tuple[tuple[tuple[int, int], ...], int]]:
    out = []
    for line in LINES:
        owners = {grid[c][r] for c, r in line}
        if len(owners) == 1 and None not in owners:
            out.append((line, owners.pop()))
    return out


def _naive_planes(moves: str) -> np.ndarray:
    grid = _grid(moves)
    me = len(moves) % 2
    p = np.zeros((3, 6, 7), dtype=np.float32)
    for c in range(7):
        for r in range(6):
            if grid[c][r] is not None:
                p[0 if grid[c][r] == me else 1, 5 - r, c] = 1.0
    p[2] = 1.0 if me == 0 else 0.0
    return p


def test_lines_table():
    assert len(LINES) == 69  # 24 horizontal, 21 vertical, 12 + 12 diagonal


# -- wins --------------------------------------------------------------------------------------

WINS = [  # (move string, the line of four as (column 0-6, row from the bottom 0-5) cells)
    ("1122334", ((0, 0), (1, 0), (2, 0), (3, 0))),            # horizontal, bottom-left corner
    ("7766554", ((3, 0), (4, 0), (5, 0), (6, 0))),            # horizontal, bottom-right corner
    ("1122443", ((0, 0), (1, 0), (2, 0), (3, 0))),            # horizontal, last stone inside
    ("24452314527324312467463521111557353", ((0, 5), (1, 5), (2, 5), (3, 5))),  # top-left
    ("652414445235717541574157666772626", ((3, 5), (4, 5), (5, 5), (6, 5))),    # top-right
    ("1315151", ((0, 0), (0, 1), (0, 2), (0, 3))),            # vertical, bottom-left corner
    ("7276757", ((6, 0), (6, 1), (6, 2), (6, 3))),            # vertical, bottom-right corner
    ("1164131365151", ((0, 2), (0, 3), (0, 4), (0, 5))),      # vertical, top-left corner
    ("67177475747", ((6, 2), (6, 3), (6, 4), (6, 5))),        # vertical, top-right corner
    ("34433222144", ((0, 0), (1, 1), (2, 2), (3, 3))),        # diagonal /, bottom-left corner
    ("5665565567675672174437734", ((3, 2), (4, 3), (5, 4), (6, 5))),  # diagonal /, top-right
    ("465112313362232262611144", ((0, 5), (1, 4), (2, 3), (3, 2))),   # diagonal \, top-left
    ("4534744637655", ((3, 3), (4, 2), (5, 1), (6, 0))),      # diagonal \, bottom-right corner
    ("474351742711651354735534412522176732326666", ((2, 2), (3, 3), (4, 4), (5, 5))),  # 42nd move
]


@pytest.mark.parametrize("moves, line", WINS, ids=[w[0][:12] for w in WINS])
def test_wins(moves, line):
    winner = (len(moves) - 1) % 2
    found = _naive_lines(_grid(moves))
    assert (tuple(sorted(line)), winner) in [(tuple(sorted(ln)), p) for ln, p in found]
    s = GAME.initial_state()
    for i, ch in enumerate(moves):
        assert not s.is_terminal(), f"{moves!r} ended early at ply {i}"
        s = s.apply(GAME.initial_state().text_to_action(ch))
    assert s.is_terminal() and s.winner() == winner
    expect = [1.0, -1.0] if winner == 0 else [-1.0, 1.0]
    assert s.returns().tolist() == expect
    assert not s.legal_mask().any() and s.legal_actions().size == 0
    t = GAME.state_from_text(moves)
    assert t.hash() == s.hash() and t.is_terminal() and t.returns().tolist() == expect
    for c in "1234567":  # nothing can be played after the win, whatever the column
        with pytest.raises(IllegalMoveError, match=f"{moves + c!r}.*index {len(moves)}.*won"):
            GAME.state_from_text(moves + c)
    # the mirrored game wins on the mirrored line
    mirrored = GAME.state_from_text("".join(str(8 - int(ch)) for ch in moves))
    assert mirrored.is_terminal() and mirrored.winner() == winner


def test_draw_on_a_full_board():
    moves = "717123753755171472413413654532424656236266"
    assert not _naive_lines(_grid(moves))
    s = GAME.state_from_text(moves)
    assert s.ply == 42 and s.is_terminal() and s.winner() == -1
    assert s.returns().tolist() == [0.0, 0.0] and not s.legal_mask().any()
    assert not GAME.state_from_text(moves[:-1]).is_terminal()
    with pytest.raises(IllegalMoveError, match="index 42 is into a full column"):
        GAME.state_from_text(moves + "4")


# -- rules, text, planes, hashes against the naive referee ------------------------------------

def test_random_games_agree_with_naive_referee():
    rng = np.random.default_rng(3)
    for _ in range(150):
        s = GAME.initial_state()
        moves = ""
        while True:
            grid = _grid(moves)
            won = _naive_lines(grid)
            assert s.is_terminal() == (bool(won) or len(moves) == 42)
            assert s.winner() == (won[0][1] if won else -1)
            np.testing.assert_array_equal(s.planes(), _naive_planes(moves))
            if s.is_terminal():
                break
            np.testing.assert_array_equal(s.legal_mask(), [grid[c][5] is None for c in range(7)])
            a = int(rng.choice(s.legal_actions()))
            s, moves = s.apply(a), moves + str(a + 1)
            assert s.to_text() == moves


def test_planes_exact():
    s = GAME.state_from_text("4453")  # first player to move; '1'-'7' are columns
    p = s.planes()
    assert p.shape == (3, 6, 7) and p.dtype == np.float32 and p.flags.writeable
    own = np.zeros((6, 7)), np.zeros((6, 7))
    own[0][5, 3] = own[0][5, 4] = 1  # first player's stones in columns 4 and 5, bottom row
    own[1][5, 2] = own[1][4, 3] = 1  # second player's in column 3 and on top of column 4
    np.testing.assert_array_equal(p[0], own[0])
    np.testing.assert_array_equal(p[1], own[1])
    np.testing.assert_array_equal(p[2], np.ones((6, 7)))
    q = s.apply(6).planes()  # second player to move: the view turns round
    np.testing.assert_array_equal(q[0], own[1])
    own[0][5, 6] = 1
    np.testing.assert_array_equal(q[1], own[0])
    np.testing.assert_array_equal(q[2], np.zeros((6, 7)))
    assert str(s) == "\n".join([". . . . . . ."] * 4
                               + [". . . o . . .", ". . o x x . .", "1 2 3 4 5 6 7"])


def _board_key(moves: str) -> tuple[str, ...]:
    """The board as, per column, the players of its stones from the bottom."""
    cols = [""] * 7
    for i, ch in enumerate(moves):
        cols[int(ch) - 1] += "xo"[i % 2]
    return tuple(cols)


def test_hash_is_exact_on_all_positions_to_depth_5():
    """Equal hash <-> equal board over every position up to 5 plies; transpositions agree."""
    seen: dict[tuple[str, ...], int] = {}
    frontier = {_board_key(""): GAME.initial_state()}
    for depth in range(6):
        nxt = {}
        for board, s in frontier.items():
            h = s.hash()
            assert seen.setdefault(board, h) == h
            if depth < 5:
                for a in s.legal_actions():
                    child = s.apply(int(a))
                    key = _board_key(child.to_text())
                    if key in nxt:  # a transposition: reached by another order of moves
                        assert nxt[key].hash() == child.hash()
                    nxt[key] = child
        frontier = nxt
    assert len(seen) == 1 + 7 + 49 + 238 + 1120 + 4263
    assert len(set(seen.values())) == len(seen)
    assert GAME.state_from_text("4453").hash() == GAME.state_from_text("4354").hash()
    assert GAME.state_from_text("4453").to_text() == "4453"


def test_move_text_and_errors():
    s = GAME.initial_state()
    assert [s.action_to_text(a) for a in range(7)] == list("1234567")
    assert [s.text_to_action(t) for t in "1234567"] == list(range(7))
    assert s.text_to_action(" 4 ") == 3
    for bad in ("0", "8", "a", "", "44"):
        with pytest.raises(ParseError, match=f"connect four move {bad!r}"):
            s.text_to_action(bad)
    full = GAME.state_from_text("111111")
    assert full.legal_actions().tolist() == [1, 2, 3, 4, 5, 6]
    assert full.legal_mask().tolist() == [False] + [True] * 6
    with pytest.raises(IllegalMoveError, match="'1' after '111111': column is full"):
        full.text_to_action("1")
    with pytest.raises(IllegalMoveError, match="column is full"):
        full.apply(0)
    for bad in (-1, 7):
        with pytest.raises(IllegalMoveError, match="out of range"):
            s.apply(bad)
    assert s.apply(np.int64(3)).to_text() == "4"  # NumPy integers are actions too


@pytest.mark.parametrize("text, error, where", [
    ("1111111", IllegalMoveError, "move 1 at index 6 is into a full column"),
    ("4444441111114", IllegalMoveError, "move 4 at index 12 is into a full column"),
    ("44a4", ParseError, "character 'a' at index 2 is not a column"),
    ("0", ParseError, "character '0' at index 0"),
    ("12 34", ParseError, "character ' ' at index 2"),
    ("12121213", IllegalMoveError, "move 3 at index 7 comes after the game was won"),
])
def test_bad_positions(text, error, where):
    with pytest.raises(error, match=where) as e:
        GAME.state_from_text(text)
    assert repr(text) in str(e.value)


def test_mirror_equivariance():
    rng = np.random.default_rng(5)
    for _ in range(40):
        s = GAME.initial_state()
        while not s.is_terminal():
            s = s.apply(int(rng.choice(s.legal_actions())))
            m = GAME.state_from_text("".join(str(8 - int(ch)) for ch in s.to_text()))
            pk, qk = GAME.transform(s.planes(), s.legal_mask().astype(np.float32), 1)
            np.testing.assert_array_equal(pk, m.planes())
            np.testing.assert_array_equal(qk, m.legal_mask())
    assert GAME.inverse(1) == 1 and GAME.num_symmetries == 2
    with pytest.raises(ValueError, match="symmetry 2"):
        GAME.transform(None, None, 2)


def test_non_string_text():
    with pytest.raises(ParseError, match="connect four position 44: expected a string"):
        GAME.state_from_text(44)
    with pytest.raises(ParseError, match="connect four move 4: expected a column"):
        GAME.initial_state().text_to_action(4)


def test_pickle_round_trip():
    s = GAME.state_from_text("44536")
    t = pickle.loads(pickle.dumps(s))
    assert t.to_text() == "44536" and t.hash() == s.hash() and isinstance(t.game, ConnectFour)
    np.testing.assert_array_equal(t.planes(), s.planes())
    assert t.apply(0).to_text() == "445361"


def test_make_game():
    for name in ("connect4", "connect_four", "c4"):
        g = make_game(name)
        assert isinstance(g, ConnectFour) and g.obs_shape == (3, 6, 7) and g.action_size == 7


# -- Pons' solved positions -----------------------------------------------------------------

def _read(name: str, ext: str) -> list[list[str]]:
    return [line.split() for line in (DATA / f"{name}.{ext}").read_text().splitlines() if line]


@needs_data
@pytest.mark.parametrize("name", SETS)
def test_solved_positions_parse(name):
    rows = _read(name, "txt")
    assert len(rows) == 1000
    for moves, _score in rows:
        s = GAME.state_from_text(moves)
        assert s.to_text() == moves and s.ply == len(moves)
        assert not s.is_terminal()  # a solved position is still to be played
        counts = [moves.count(str(c + 1)) for c in range(7)]
        assert s.legal_mask().tolist() == [n < 6 for n in counts]
        # truncated strings: every prefix is a position on the way, none of them over
        t = GAME.initial_state()
        for ch in moves:
            assert not t.is_terminal()
            t = t.apply(int(ch) - 1)
        assert t.hash() == s.hash()
        assert GAME.state_from_text(moves[: len(moves) // 2]).ply == len(moves) // 2
        # extended strings: one more stone parses exactly where the column has room (the
        # first open column is read as text, the others played, to keep this quick)
        first_open = counts.index(min(counts))
        for c in range(7):
            if c == first_open:
                assert GAME.state_from_text(moves + str(c + 1)).ply == len(moves) + 1
            elif counts[c] < 6:
                assert s.apply(c).to_text() == moves + str(c + 1)
            else:
                with pytest.raises(IllegalMoveError, match=f"index {len(moves)} is into a full"):
                    GAME.state_from_text(moves + str(c + 1))


@needs_data
@pytest.mark.parametrize("name", SETS)
def test_solved_scores_agree_with_rules(name):
    """-1000 marks exactly the full columns. After n stones the fastest win there is scores
    21 - n//2, so a move scores that exactly when it makes four in a row (the sets hold no such
    position), and scores -(21 - (n+1)//2) exactly when it lets the opponent make four at once.
    The position's own score is its best move's."""
    rows = _read(name, "scores")
    txt = _read(name, "txt")
    assert len(rows) == len(txt) == 1000
    replies = 0
    for (moves, *scores), (moves_txt, score) in zip(rows, txt):
        assert moves == moves_txt
        scores = [int(x) for x in scores]
        s = GAME.state_from_text(moves)
        mask = s.legal_mask()
        assert [x != -1000 for x in scores] == mask.tolist()
        n = len(moves)
        for c in np.flatnonzero(mask):
            child = s.apply(int(c))
            assert (child.winner() == n % 2) == (scores[c] == 21 - n // 2), (moves, c + 1)
            if child.is_terminal():
                assert child.winner() == n % 2 or n == 41 and scores[c] == 0
                continue
            reply_wins = any(child.apply(int(d)).winner() == 1 - n % 2
                             for d in child.legal_actions())
            replies += reply_wins
            assert reply_wins == (scores[c] == -(21 - (n + 1) // 2)), (moves, c + 1, scores[c])
        assert int(score) == max(x for x in scores if x != -1000)
    assert replies > 1000  # thousands of moves in each set hand the opponent a win
