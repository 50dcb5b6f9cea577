"""English draughts: perft, hand-made rule positions, draws, text, planes and an independent
move generator checked against the bitboard one on random positions."""
from __future__ import annotations

import numpy as np
import pytest

from boardnet.games import IllegalMoveError, ParseError, make_game
from boardnet.games.base import Game, State, play_out
from boardnet.games.checkers import Checkers, CheckersState


@pytest.fixture(scope="module")
def game() -> Checkers:
    return make_game("checkers")


def perft(state, depth: int) -> int:
    """Leaves after `depth` whole moves, through the protocol: a step after which the same
    player is to move is part of one multi-jump and does not use up depth."""
    if depth == 0:
        return 1
    total = 0
    mover = state.to_play()
    for a in state.legal_actions():
        child = state.apply(a)
        total += perft(child, depth if child.to_play() == mover and not child.is_terminal()
                       else depth - 1)
    return total


@pytest.mark.parametrize("depth,count", [(1, 7), (2, 49), (3, 302), (4, 1469), (5, 7361),
                                         (6, 36768)])
def test_perft(game, depth, count):
    assert perft(game.initial_state(), depth) == count


@pytest.mark.slow
@pytest.mark.parametrize("depth,count", [(7, 179740), (8, 845931)])
def test_perft_deep(game, depth, count):
    assert perft(game.initial_state(), depth) == count


def test_protocol_and_start(game):
    s = game.initial_state()
    assert isinstance(game, Game) and isinstance(s, State)
    assert (game.action_size, game.obs_shape, game.num_symmetries) == (128, (8, 8, 8), 1)
    assert s.to_play() == 0  # Black moves first
    assert s.to_text() == ("B:W21,22,23,24,25,26,27,28,29,30,31,32:"
                           "B1,2,3,4,5,6,7,8,9,10,11,12")
    assert s.legal_moves_text() == ["9-13", "9-14", "10-14", "10-15", "11-15", "11-16", "12-16"]
    assert sorted(s.action_to_text(a) for a in s.legal_actions()) == sorted(s.legal_moves_text())
    assert not s.is_terminal() and s.returns().tolist() == [0.0, 0.0]
    assert make_game("draughts").name == "checkers"


def test_action_indices_golden(game):
    """action = direction * 32 + origin in the mover's turned frame, so the symmetric start
    gives both sides the same seven indices (direction 0 forward-left, 1 forward-right)."""
    s = game.initial_state()
    assert {s.action_to_text(a): int(a) for a in s.legal_actions()} == {
        "11-16": 21, "10-15": 22, "9-14": 23, "12-16": 52, "11-15": 53, "10-14": 54, "9-13": 55}
    t = s.apply(53)
    assert {t.action_to_text(a): int(a) for a in t.legal_actions()} == {
        "22-17": 21, "23-18": 22, "24-19": 23, "21-17": 52, "22-18": 53, "23-19": 54, "24-20": 55}


def test_forced_capture_over_quiet_move(game):
    s = game.state_from_text("W:W22,30:B18")
    assert s.legal_moves_text() == ["22x15"]
    with pytest.raises(IllegalMoveError, match="capture is compulsory"):
        s.text_to_action("30-26")
    with pytest.raises(IllegalMoveError, match="capture is compulsory"):
        s.text_to_actions("22-17")
    after = s.apply(s.text_to_action("22x15"))
    assert after.to_text() == "B:W15,30:B" and after.is_terminal()
    assert after.returns().tolist() == [-1.0, 1.0]  # Black has nothing left to move


def test_triple_jump_is_one_turn(game):
    s = game.state_from_text("W:W30:B26,19,11,1")
    assert s.legal_moves_text() == ["30x23x16x7"]
    steps = s.text_to_actions("30x23x16x7")
    assert len(steps) == 3 and s.text_to_actions("30x7") == steps  # PDN short form
    texts = []
    for k, a in enumerate(steps):
        texts.append(s.action_to_text(a))
        assert s.to_play() == 1 and s.mid_capture == (k > 0)
        s = s.apply(a)
    assert texts == ["30x23", "23x16", "16x7"]
    assert s.to_play() == 0 and not s.mid_capture
    assert s.to_text() == "B:W7:B1" and s.ply == 3


def test_mid_sequence_only_the_jumping_piece_continues(game):
    s = game.state_from_text("W:W22,26:B18,11,23")
    assert s.legal_moves_text() == ["22x15x8", "26x19"]
    mid = s.apply(s.text_to_action("22x15"))
    assert mid.to_play() == 1 and mid.mid_capture and mid.to_text().endswith(":J15")
    assert [mid.action_to_text(a) for a in mid.legal_actions()] == ["15x8"]
    assert mid.legal_moves_text() == ["15x8"]
    with pytest.raises(IllegalMoveError, match="continue with the piece on 15"):
        mid.text_to_actions("22x15x8")  # a whole multi-jump only at the start of the turn
    with pytest.raises(IllegalMoveError, match="continue with the piece on 15"):
        mid.text_to_action("26x19")
    assert mid.text_to_actions("15x8") == [mid.text_to_action("15x8")]
    with pytest.raises(IllegalMoveError, match="must go on from 15"):
        s.text_to_actions("22x15")  # a whole move must be complete
    back = game.state_from_text(mid.to_text())
    assert back.to_text() == mid.to_text() and back.legal_moves_text() == ["15x8"]


def test_crowning_by_a_jump_ends_the_move(game):
    # 11x2 crowns on 2; as a king it could jump 6 at once, but the move ends on crowning.
    s = game.state_from_text("W:W11:B7,6")
    assert s.legal_moves_text() == ["11x2"]
    after = s.apply(s.text_to_action("11x2"))
    assert after.to_play() == 0 and not after.mid_capture
    assert after.to_text() == "B:WK2:B6"
    # a man crowned by a plain move is a king next turn and may then capture backwards
    s = game.state_from_text("W:W6,32:B10,28")
    s = s.apply(s.text_to_action("6-1"))
    assert s.to_text() == "B:W32,K1:B10,28"
    s = s.apply(s.text_to_action("10-14"))
    assert {"1-5", "1-6"} <= set(s.legal_moves_text())  # the new king moves backwards


def test_king_captures_backwards_men_do_not(game):
    king = game.state_from_text("W:WK15:B19")
    assert king.legal_moves_text() == ["15x24"]
    man = game.state_from_text("W:W15:B19")
    assert man.legal_moves_text() == ["15-10", "15-11"]
    with pytest.raises(IllegalMoveError, match="not a legal move"):
        man.text_to_actions("15x24")
    # a king may jump backwards and forwards within one sequence
    s = game.state_from_text("B:W14,15:BK18")
    assert s.legal_moves_text() == ["18x9", "18x11"]
    s = game.state_from_text("B:W14,15,22:BK18")
    assert s.legal_moves_text() == ["18x9", "18x11", "18x25"]


def test_no_legal_move_loses(game):
    s = game.state_from_text("W:W29:B25,22")  # the lone man is blocked and cannot jump
    assert s.is_terminal() and s.winner() == 0
    assert s.returns().tolist() == [1.0, -1.0]
    assert not s.legal_mask().any() and s.legal_actions().size == 0
    with pytest.raises(IllegalMoveError, match="game is over"):
        s.text_to_action("29-25")
    empty = game.state_from_text("B:W21:B")
    assert empty.is_terminal() and empty.returns().tolist() == [-1.0, 1.0]


def test_threefold_repetition_draw(game):
    s = game.state_from_text("B:WK32:BK1")
    cycle = ["1-6", "32-28", "6-1", "28-32"]
    seen = []
    for k in range(8):
        assert not s.is_terminal()
        seen.append(s.repetitions)
        s = s.apply(s.text_to_action(cycle[k % 4]))
    assert seen == [1, 1, 1, 1, 2, 2, 2, 2]
    assert s.repetitions == 3 and s.is_terminal() and s.winner() is None
    assert s.returns().tolist() == [0.0, 0.0] and not s.legal_mask().any()
    assert s.no_progress == 8


def test_no_progress_draw(game):
    s = game.state_from_text("B:WK32:BK1,10:H78")
    assert s.no_progress == 78 and s.planes()[7, 0, 0] == pytest.approx(78 / 80)
    s1 = s.apply(s.text_to_action("1-6"))
    assert s1.no_progress == 79 and not s1.is_terminal()
    s2 = s1.apply(s1.text_to_action("32-27"))
    assert s2.no_progress == 80 and s2.is_terminal() and s2.returns().tolist() == [0.0, 0.0]
    # a man move resets the count
    m = s.apply(s.text_to_action("10-14"))
    assert m.no_progress == 0 and m.planes()[7].max() == 0
    for move in ("32-27", "1-6"):
        m = m.apply(m.text_to_action(move))
    assert m.no_progress == 2 and not m.is_terminal()
    # the limit is a parameter; a shuffle of kings far apart is drawn after 6 quiet turns
    short = Checkers(no_progress_plies=6).state_from_text("B:WK32:BK1,K4")
    moves = ["1-5", "32-27", "5-1", "27-32", "4-8", "32-28"]
    for k, mv in enumerate(moves):
        assert not short.is_terminal(), k
        short = short.apply(short.text_to_action(mv))
    assert short.is_terminal() and short.repetitions == 1 and short.winner() is None
    with pytest.raises(ValueError, match="no_progress_plies=0"):
        Checkers(no_progress_plies=0)


def test_loss_beats_no_progress_draw(game):
    # the 80th quiet turn blocks the last white piece: no legal move loses, it is not a draw
    s = game.state_from_text("B:W29:B22,K21:H79")
    s = s.apply(s.text_to_action("21-25"))
    assert s.no_progress == 80 and s.is_terminal() and s.winner() == 0


def test_fen_round_trip_and_errors(game):
    for text in ["W:W21,22,K3:B1,2", "B:W18,K2:B5,K31", "W:W:B1", "B:W21:B", "W:W9:BK1:H7"]:
        assert game.state_from_text(text).to_text() == text
    assert game.state_from_text(" b:w21-32:b1-12. ").to_text() == game.initial_state().to_text()
    assert game.state_from_text("B:B1-12:W21-32").to_text() == game.initial_state().to_text()
    bad = {
        "": "side to move", "X:W1:B2": "side to move", "W:W1:H3": "W field and a B field",
        "W:W1,1:B2": "square 1 given twice", "W:W1:B1": "square 1 given twice",
        "W:W33:B1": "not a square", "W:Wx:B1": "cannot read 'X'", "W:W5:B3:Z1": "field 'Z1'",
        "W:W5:B30": "black man on 30 should be a king", "W:WK1-13:BK30": "more than 12",
        "W:W5:B2:H80": "no-progress limit", "W:W5:B2:J5": "no capture to continue",
        "W:W5:B2:J2": "not a white piece", "W:W5:W6:B2": "two white fields",
    }
    for text, reason in bad.items():
        with pytest.raises(ParseError, match=reason):
            game.state_from_text(text)


def test_move_text_errors(game):
    s = game.initial_state()
    for text, reason in {"": "expected square numbers", "11": "expected square numbers",
                         "11-": "expected square numbers", "a-b": "expected square numbers",
                         "11 15": "expected square numbers", "0-4": "square 0 is not in 1-32",
                         "11-33": "square 33", "11x15x18": "use text_to_actions",
                         "11:15": "expected square numbers", None: "expected a string"}.items():
        with pytest.raises(ParseError, match=reason):
            s.text_to_action(text)
    with pytest.raises(IllegalMoveError, match="no black piece on 13"):
        s.text_to_action("13-17")
    with pytest.raises(IllegalMoveError, match="not a legal move"):
        s.text_to_actions("11-14")
    with pytest.raises(IllegalMoveError, match="no black piece on 22"):
        s.text_to_actions("22x15x8")
    assert s.text_to_action(" 11 - 15 ") == s.text_to_action("11x15") == s.text_to_actions("11-15")[0]
    with pytest.raises(IllegalMoveError, match="out of range"):
        s.apply(128)
    with pytest.raises(IllegalMoveError, match="no black piece on 13"):
        s.apply(_action_from(s, 13, 0))
    with pytest.raises(IllegalMoveError, match="square is taken"):
        s.apply(_action_from(s, 5, 0))


def _action_from(state: CheckersState, square: int, direction: int) -> int:
    """Mover-frame action for a step from `square` (1-32) in direction 0-3 (FL, FR, BL, BR)."""
    j = square - 1 if state.to_play() == 1 else 32 - square
    return direction * 32 + j


def test_ambiguous_short_form(game):
    # the king on 10 can take the four men round the diamond either way, back to 10
    s = game.state_from_text("B:W14,15,22,23:BK10")
    assert s.legal_moves_text() == ["10x17x26x19x10", "10x19x26x17x10"]
    for short in ("10x10", "10x17x10"):
        with pytest.raises(IllegalMoveError, match="ambiguous"):
            s.text_to_actions(short)
    one, two = s.text_to_actions("10x17x26x19x10"), s.text_to_actions("10x19x26x10")
    assert one != two and len(one) == len(two) == 4
    for a in one:
        s = s.apply(a)
    assert s.to_text() == "W:W:BK10" and s.winner() == 0


def test_planes_orientation(game):
    s = game.initial_state()
    x = s.planes()
    assert x.shape == (8, 8, 8) and x.dtype == np.float32
    # Black to move: board turned so Black plays up; its men fill rows 5-7 on dark squares
    assert x[0].sum() == 12 and set(np.nonzero(x[0])[0]) == {5, 6, 7}
    assert x[2].sum() == 12 and set(np.nonzero(x[2])[0]) == {0, 1, 2}
    assert x[0][7, 6] == 1 and x[0][7, 0] == 1  # squares 1 (b8) and 4 (h8), turned round
    assert x[5].min() == 1 and x[1].sum() == x[3].sum() == x[4].sum() == x[6].sum() == 0
    y = s.apply(s.text_to_action("11-15")).planes()
    assert y[5].max() == 0 and y[0][7, 0] == 1  # White's own square 29 (a1)
    assert set(np.nonzero(y[2])[0]) == {0, 1, 2, 3}  # Black's man on 15 is on row 3
    s = game.state_from_text("W:W22,26:B18,11,23")
    mid = s.apply(s.text_to_action("22x15")).planes()
    assert mid[4].sum() == 1 and mid[4][3, 4] == 1  # the jumping man on 15 (e5)


def _step_geometry_ok(state, action: int, x: np.ndarray) -> bool:
    """The action's origin holds a mover piece in the planes and its direction (seen from the
    mover, who plays up) leads to an empty cell or over an opponent piece to an empty cell."""
    j, d = action % 32, action // 32
    r, c = j // 4, 2 * (j % 4) + (1 if (j // 4) % 2 == 0 else 0)
    own = x[0] + x[1]
    opp = x[2] + x[3]
    if own[r, c] != 1 or (d >= 2 and x[1][r, c] != 1):
        return False
    dr, dc = (-1 if d < 2 else 1), (-1 if d % 2 == 0 else 1)
    r1, c1 = r + dr, c + dc
    if state.action_to_text(action).find("x") >= 0:
        r2, c2 = r1 + dr, c1 + dc
        return opp[r1, c1] == 1 and own[r2, c2] == 0 and opp[r2, c2] == 0
    return own[r1, c1] == 0 and opp[r1, c1] == 0


def test_random_playouts_conformance(game):
    rng = np.random.default_rng(7)
    results = set()
    for _ in range(40):
        s = game.initial_state()
        while not s.is_terminal():
            x = s.planes()
            acts = s.legal_actions()
            mask = s.legal_mask()
            assert np.array_equal(np.flatnonzero(mask), acts) and len(acts) > 0
            for a in acts:
                assert _step_geometry_ok(s, int(a), x)
            if s.mid_capture:
                assert x[4].sum() == 1
            text = s.to_text()
            back = game.state_from_text(text)
            assert back.to_text() == text and np.array_equal(back.legal_actions(), acts)
            assert back.hash() == s.hash()
            if s.repetitions == 1:
                assert np.array_equal(back.planes(), x)
            a = int(acts[rng.integers(len(acts))])
            child = s.apply(a)
            assert s.to_text() == text  # immutable
            assert child.ply == s.ply + 1
            if child.to_play() == s.to_play():
                assert child.mid_capture and "x" in s.action_to_text(a)
            s = child
        r = s.returns()
        assert r.sum() == 0 and not s.legal_mask().any()
        results.add(tuple(r.tolist()))
    assert (1.0, -1.0) in results and (-1.0, 1.0) in results


def test_play_out_helper_and_symmetry(game):
    final, plies = play_out(game.initial_state(), np.random.default_rng(0), encode=True)
    assert final.is_terminal() and plies == final.ply > 0
    planes = np.ones((2, 8, 8, 8), np.float32)
    policy = np.ones((2, 128), np.float32)
    assert game.transform(planes, policy, 0) == (planes, policy) and game.inverse(0) == 0
    with pytest.raises(ValueError, match="symmetry 1"):
        game.transform(planes, policy, 1)


# --- an independent, slow move generator on an 8x8 grid ---------------------------------------

def _rc(square: int) -> tuple[int, int]:
    r = (square - 1) // 4
    return r, 2 * ((square - 1) % 4) + (1 if r % 2 == 0 else 0)


_SQ = {_rc(s): s for s in range(1, 33)}


def _reference_moves(black: set, white: set, kings: set, turn: int) -> list[str]:
    """Whole moves as texts; captured pieces stay on the board until the move ends."""
    own, opp = (black, white) if turn == 0 else (white, black)
    forward = 1 if turn == 0 else -1
    crown_row = 7 if turn == 0 else 0

    def dirs(sq, king):
        return [(dr, dc) for dr in (-1, 1) for dc in (-1, 1) if king or dr == forward]

    jumps: list[str] = []

    def jump(path, sq, king, taken):
        r, c = _rc(sq)
        found = False
        for dr, dc in dirs(sq, king):
            mid, land = _SQ.get((r + dr, c + dc)), _SQ.get((r + 2 * dr, c + 2 * dc))
            if mid in opp and mid not in taken and land is not None \
                    and (land not in own and land not in opp or land == path[0]):
                found = True
                if not king and _rc(land)[0] == crown_row:
                    jumps.append("x".join(map(str, path + [land])))
                else:
                    jump(path + [land], land, king, taken | {mid})
        if not found and len(path) > 1:
            jumps.append("x".join(map(str, path)))

    for sq in sorted(own):
        jump([sq], sq, sq in kings, frozenset())
    if jumps:
        return sorted(jumps)
    simple = []
    for sq in sorted(own):
        r, c = _rc(sq)
        for dr, dc in dirs(sq, sq in kings):
            to = _SQ.get((r + dr, c + dc))
            if to is not None and to not in own and to not in opp:
                simple.append(f"{sq}-{to}")
    return sorted(simple)


def test_moves_match_reference_on_random_positions(game):
    rng = np.random.default_rng(3)
    checked = captures = multi = 0
    for _ in range(1500):
        squares = rng.permutation(np.arange(1, 33))
        nb, nw = rng.integers(1, 9, size=2)
        black = set(int(s) for s in squares[:nb])
        white = set(int(s) for s in squares[nb:nb + nw])
        kings = {s for s in black | white if rng.random() < 0.4}
        kings |= {s for s in black if s >= 29} | {s for s in white if s <= 4}
        turn = int(rng.integers(2))

        def field(colour, pieces):
            return colour + ",".join(("K" if s in kings else "") + str(s) for s in sorted(pieces))

        state = game.state_from_text(f"{'BW'[turn]}:{field('W', white)}:{field('B', black)}")
        expected = _reference_moves(black, white, kings, turn)
        assert sorted(state.legal_moves_text()) == expected, state.to_text()
        assert state.is_terminal() == (not expected)
        checked += 1
        captures += bool(expected) and "x" in expected[0]
        multi += any(m.count("x") > 1 for m in expected)
    assert checked == 1500 and captures > 200 and multi > 30


def _openspiel_text(step: str) -> str:
    """Our step text ('9-13') as OpenSpiel's ('g3h4'): its first player starts at the bottom,
    so our diagram turned 180 degrees, files a-h and ranks 1-8."""
    frm, to = (int(s) for s in step.replace("x", "-").split("-"))
    cells = []
    for sq in (frm, to):
        r, c = _rc(sq)
        cells.append(f"{'abcdefgh'[7 - c]}{r + 1}")
    return "".join(cells)


def test_steps_match_openspiel_in_random_games(game):
    pyspiel = pytest.importorskip("pyspiel")
    spiel_game = pyspiel.load_game("checkers")
    rng = np.random.default_rng(11)
    plies = 0
    for _ in range(30):
        ours, theirs = game.initial_state(), spiel_game.new_initial_state()
        while not ours.is_terminal() and not theirs.is_terminal():
            assert ours.to_play() == theirs.current_player()
            by_text = {theirs.action_to_string(a): a for a in theirs.legal_actions()}
            mine = {_openspiel_text(ours.action_to_text(a)): int(a) for a in ours.legal_actions()}
            assert set(mine) == set(by_text), ours.to_text()
            text = sorted(mine)[rng.integers(len(mine))]
            ours, plies = ours.apply(mine[text]), plies + 1
            theirs.apply_action(by_text[text])
        if ours.winner() is not None:  # a loss by no legal move is the same in both rule sets
            assert theirs.is_terminal() and list(theirs.returns()) == ours.returns().tolist()
    assert plies > 1000
