"""Chess rules, move encoding, planes and text (boardnet/games/chess.py), checked against published
perft counts and against python-chess move by move."""
from __future__ import annotations

import pickle

import chess as pychess
import numpy as np
import pytest

from boardnet.games import make_game
from boardnet.games.base import Game, IllegalMoveError, ParseError, State, play_out
from boardnet.games.chess import ACTION_SIZE, Chess

START = "rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1"
KIWIPETE = "r3k2r/p1ppqpb1/bn2pnp1/3PN3/1p2P3/2N2Q1p/PPPBBPPP/R3K2R w KQkq - 0 1"
# chessprogramming.org "Perft Results": position -> node counts at depth 1, 2, 3.
PERFT = [
    (START, (20, 400, 8902)),
    (KIWIPETE, (48, 2039, 97862)),
    ("8/2p5/3p4/KP5r/1R3p1k/8/4P1P1/8 w - - 0 1", (14, 191, 2812)),
    ("r3k2r/Pppp1ppp/1b3nbN/nP6/BBP1P3/q4N2/Pp1P2PP/R2Q1RK1 w kq - 0 1", (6, 264, 9467)),
    ("rnbq1k1r/pp1Pbppp/2p5/8/2B5/8/PPP1NnPP/RNBQK2R w KQ - 1 8", (44, 1486, 62379)),
    ("r4rk1/1pp1qppp/p1np1n2/2b1p1B1/2B1P1b1/P1NP1N2/1PP1QPPP/R4RK1 w - - 0 10", (46, 2079, 89890)),
]


@pytest.fixture(scope="module")
def game() -> Chess:
    return make_game("chess")


def play(state, *moves):
    for m in moves:
        state = state.apply(state.text_to_action(m))
    return state


def perft(state, depth: int, check_encoding: bool) -> int:
    """Leaf count through the public API (legal_actions + apply). None of these trees reaches a draw
    rule (clocks are low, no threefold fits in 3 plies, material suffices), so legal_actions equals
    the move rules' list here; a draw ending a node early would show up as a wrong count."""
    acts = state.legal_actions()
    if state.is_terminal():
        assert state.termination() in ("checkmate", "stalemate")
    if check_encoding:
        moves = [state.action_to_move(a) for a in acts]
        assert len(set(acts.tolist())) == len(acts)
        assert [state.move_to_action(m) for m in moves] == acts.tolist()
        board = state._board_nostack()
        assert set(moves) == set(board.legal_moves), state.fen()
    if depth == 1:
        return len(acts)
    return sum(perft(state.apply(int(a)), depth - 1, check_encoding) for a in acts)


@pytest.mark.parametrize("fen,counts", PERFT, ids=["start", "kiwipete", "pos3", "pos4", "pos5", "pos6"])
def test_perft_to_depth_3_with_encoding_round_trip(game, fen, counts):
    state = game.state_from_text(fen)
    assert [perft(state, d, check_encoding=(d <= 2)) for d in (1, 2, 3)] == list(counts)


@pytest.mark.slow
@pytest.mark.parametrize("fen,depth,count", [(START, 4, 197281), (KIWIPETE, 4, 4085603),
                                             (PERFT[2][0], 5, 674624), (PERFT[5][0], 4, 3894594)],
                         ids=["start-d4", "kiwipete-d4", "pos3-d5", "pos6-d4"])
def test_perft_deep(game, fen, depth, count):
    assert perft(game.state_from_text(fen), depth, check_encoding=False) == count


def test_protocol_and_shapes(game):
    s = game.initial_state()
    assert isinstance(game, Game) and isinstance(s, State)
    assert (game.action_size, game.obs_shape, game.num_symmetries) == (ACTION_SIZE, (118, 8, 8), 1)
    assert s.to_play() == 0 and s.ply == 0 and not s.is_terminal()
    p = s.planes()
    assert p.dtype == np.float32 and p.shape == (118, 8, 8)
    mask = s.legal_mask()
    assert mask.shape == (4672,) and mask.sum() == 20
    assert np.array_equal(np.flatnonzero(mask), s.legal_actions())
    assert np.array_equal(s.returns(), np.zeros(2, np.float32))
    planes, policy = game.transform(p, mask, 0)
    assert planes is p and policy is mask and game.inverse(0) == 0
    with pytest.raises(ValueError, match="symmetry 1"):
        game.transform(p, mask, 1)


def test_action_golden_values(game):
    s = game.initial_state()
    # plane * 64 + oriented from-square: e2e4 = N, distance 2 (plane 1) from e2 (12).
    assert s.text_to_action("e2e4") == 1 * 64 + 12
    assert s.text_to_action("Nf3") == 63 * 64 + 6  # knight (-1, +2) is knight plane 7
    b = s.apply(76)
    assert b.to_play() == 1 and b.text_to_action("e7e5") == 76  # black mirrored: same action
    assert b.text_to_action("Nc6") == 56 * 64 + 1  # b8-c6 mirrors to b1-c3: knight (+1, +2), plane 56
    castle = game.state_from_text("r3k2r/8/8/8/8/8/8/R3K2R w KQkq - 0 1")
    assert castle.text_to_action("O-O") == (2 * 7 + 1) * 64 + 4  # E, distance 2
    assert castle.text_to_action("e1c1") == (6 * 7 + 1) * 64 + 4  # W, distance 2
    promo = game.state_from_text("1n2k3/P7/8/8/8/8/8/4K3 w - - 0 1")
    assert promo.text_to_action("a8=N") == (64 + 0 + 1) * 64 + 48
    assert promo.text_to_action("a7b8r") == (64 + 6 + 2) * 64 + 48
    assert promo.text_to_action("axb8=Q") == 7 * 64 + 48  # queen promotion: NE, distance 1 (plane 7)
    assert promo.action_to_text(7 * 64 + 48) == "a7b8q"
    bpromo = game.state_from_text("4k3/8/8/8/8/8/p7/1N2K3 b - - 0 1")
    assert bpromo.text_to_action("a1=N") == (64 + 0 + 1) * 64 + 48  # a2 mirrors to a7
    assert bpromo.text_to_action("axb1=B") == (64 + 3 + 2) * 64 + 48


def test_action_decoding_errors(game):
    s = game.initial_state()
    with pytest.raises(IllegalMoveError, match="out of range"):
        s.action_to_text(ACTION_SIZE)
    with pytest.raises(IllegalMoveError, match="leaves the board"):
        s.action_to_text(0 * 64 + 7 * 8)  # north from a8
    with pytest.raises(IllegalMoveError, match=r"action 588 \(e2h5\): not legal in rnbqkbnr/"):
        s.apply(9 * 64 + 12)  # NE, distance 3 from e2
    with pytest.raises(IllegalMoveError, match="no action encodes"):
        s.move_to_action(pychess.Move.from_uci("a1h2"))


def test_text_parsing(game):
    s = game.initial_state()
    for text in ("e4", "e2e4", " E2E4 ", "e2e4\n"):
        assert s.text_to_action(text) == 76
    assert s.text_to_action("Nf3") == s.text_to_action("g1f3")
    with pytest.raises(IllegalMoveError, match="'e5'.*not legal"):
        s.text_to_action("e5")
    with pytest.raises(IllegalMoveError, match="'e2e5'.*not legal"):
        s.text_to_action("e2e5")
    with pytest.raises(IllegalMoveError, match="'Nd2'.*not legal"):
        s.text_to_action("Nd2")
    with pytest.raises(ParseError, match="'Zz9'.*neither UCI"):
        s.text_to_action("Zz9")
    with pytest.raises(ParseError, match="empty"):
        s.text_to_action("  ")
    with pytest.raises(ParseError, match="expected a string, got int"):
        s.text_to_action(76)
    with pytest.raises(IllegalMoveError, match="null move"):
        s.text_to_action("0000")
    amb = game.state_from_text("rnbqkbnr/pppppppp/8/8/3P4/5N2/PPP1PPPP/RNBQKB1R w KQkq - 0 1")
    with pytest.raises(ParseError, match="'Nd2': ambiguous"):
        amb.text_to_action("Nd2")
    assert amb.action_to_text(amb.text_to_action("Nbd2")) == "b1d2"
    mid = play(s, "e4", "e5", "Nf3", "Nc6", "Bb5", "a6")
    assert mid.move_to_san(mid.text_to_action("Bxc6")) == "Bxc6"
    assert mid.move_to_san(mid.text_to_action("e1g1")) == "O-O"
    with pytest.raises(IllegalMoveError, match="not legal"):
        mid.move_to_san(76)


def test_fen_round_trip_and_errors(game):
    for fen, _ in PERFT:
        assert game.state_from_text(fen).to_text() == fen
    assert game.state_from_text("startpos").fen() == START
    s = play(game.initial_state(), "e4", "d5", "e5", "f5")
    # python-chess writes the en-passant square only when a capture is legal, as we do.
    assert s.fen() == "rnbqkbnr/ppp1p1pp/8/3pPp2/8/8/PPPP1PPP/RNBQKBNR w KQkq f6 0 3"
    assert game.state_from_text(s.fen()).fen() == s.fen()
    assert play(s, "Nf3").fen() == "rnbqkbnr/ppp1p1pp/8/3pPp2/8/5N2/PPPP1PPP/RNBQKB1R b KQkq - 1 3"
    assert s.ply == 4 and game.state_from_text(s.fen()).ply == 4
    with pytest.raises(ParseError, match="'not a fen'"):
        game.state_from_text("not a fen")
    with pytest.raises(ParseError, match="None: expected a string"):
        game.state_from_text(None)
    with pytest.raises(ParseError, match="too many kings"):
        game.state_from_text("4k3/8/8/8/8/8/8/3KK3 w - - 0 1")
    with pytest.raises(ParseError, match="opposite check"):
        game.state_from_text("4k3/4R3/8/8/8/8/8/4K3 w - - 0 1")
    with pytest.raises(ParseError, match="bad castling rights"):
        game.state_from_text("4k3/8/8/8/8/8/8/4K3 w K - 0 1")
    with pytest.raises(ParseError, match="pawns on backrank"):
        game.state_from_text("P3k3/8/8/8/8/8/8/4K3 w - - 0 1")


def test_checkmate_scores(game):
    s = play(game.initial_state(), "f3", "e5", "g4")
    assert not s.is_terminal()
    mate = play(s, "Qh4#")
    assert mate.is_terminal() and mate.termination() == "checkmate" and mate.is_check()
    assert mate.to_play() == 0
    assert np.array_equal(mate.returns(), np.array([-1.0, 1.0], np.float32))
    assert mate.legal_actions().size == 0 and not mate.legal_mask().any()
    with pytest.raises(IllegalMoveError, match="game is over \\(checkmate\\)"):
        mate.apply(76)
    white_wins = play(game.state_from_text("6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1"), "Ra8#")
    assert np.array_equal(white_wins.returns(), np.array([1.0, -1.0], np.float32))


def test_draws(game):
    stalemate = game.state_from_text("7k/5Q2/6K1/8/8/8/8/8 b - - 0 1")
    assert stalemate.termination() == "stalemate" and not stalemate.is_check()
    assert np.array_equal(stalemate.returns(), np.zeros(2, np.float32))
    assert game.state_from_text("8/8/8/4k3/8/8/8/4K3 w - - 0 1").termination() == "insufficient material"
    assert game.state_from_text("8/8/8/4k3/8/8/8/3NK3 w - - 0 1").termination() == "insufficient material"
    assert not game.state_from_text("8/8/8/4k3/8/8/8/2NNK3 w - - 0 1").is_terminal()
    assert play(game.state_from_text("8/8/8/4k3/8/8/4r3/4K3 w - - 0 1"), "Kxe2").termination() \
        == "insufficient material"
    fifty = game.state_from_text("8/8/8/4k3/8/8/R7/4K3 w - - 99 80")
    assert not fifty.is_terminal()
    drawn = play(fifty, "Rb2")
    assert drawn.termination() == "fifty-move rule" and drawn.legal_actions().size == 0
    assert drawn.rule_actions().size > 0  # moves exist; the rule ended the game
    assert play(fifty, "Kd1").termination() == "fifty-move rule"
    # A mate delivered on the 100th half-move stands.
    mate = play(game.state_from_text("6k1/5ppp/8/8/8/8/8/R5K1 w - - 99 80"), "Ra8#")
    assert mate.termination() == "checkmate"
    assert game.state_from_text("8/8/8/4k3/8/8/R7/4K3 w - - 100 80").termination() == "fifty-move rule"


def test_threefold_repetition(game):
    s = game.initial_state()
    assert s.repetitions() == 1
    once = play(s, "Nf3", "Nf6", "Ng1", "Ng8")
    assert once.repetitions() == 2 and not once.is_terminal()
    p = once.planes()
    assert p[12].all() and not p[13].any()  # current step: seen before, not yet three times
    assert not p[14 + 12].any()  # the previous step (after Nf6... Ng1) occurred once
    seven = play(once, "Nf3", "Nf6", "Ng1")
    assert not seven.is_terminal()
    third = play(seven, "Ng8")
    assert third.termination() == "threefold repetition" and third.repetitions() == 3
    assert np.array_equal(third.returns(), np.zeros(2, np.float32))
    assert third.planes()[13].all()
    # Same placement with different castling rights is another position.
    lost = play(s, "Nf3", "Nf6", "Rg1", "Ng8", "Rh1", "Nf6", "Ng1", "Ng8")
    assert lost.repetitions() == 1
    # A pawn move resets the count.
    pawn = play(s, "e4", "e5", "Nf3", "Nf6", "Ng1", "Ng8")
    assert pawn.repetitions() == 2 and play(pawn, "Nf3", "Nf6", "Ng1", "Ng8").is_terminal()


def test_ply_cap():
    game = Chess(max_plies=4)
    s = play(game.initial_state(), "e4", "e5", "Nf3")
    assert not s.is_terminal()
    capped = play(s, "Nc6")
    assert capped.termination() == "ply cap" and capped.ply == 4
    assert np.array_equal(capped.returns(), np.zeros(2, np.float32))
    assert not Chess(max_plies=None).state_from_text("4k3/8/8/8/8/8/8/R3K3 w - - 0 900").is_terminal()
    assert Chess().state_from_text("4k3/8/8/8/8/8/8/R3K3 w - - 0 900").termination() == "ply cap"
    with pytest.raises(ValueError, match="max_plies 0"):
        Chess(max_plies=0)


def test_planes_orientation(game):
    white = game.state_from_text("4k3/8/8/8/8/8/4P3/4K3 w - - 0 1")
    black = game.state_from_text("4k3/4p3/8/8/8/8/8/4K3 b - - 0 1")
    pw, pb = white.planes(), black.planes()
    assert np.array_equal(pw[:112], pb[:112])
    assert pw[0, 1, 4] == 1 and pw[0].sum() == 1  # own pawn at row 1 (rank 2), col 4 (e-file)
    assert pw[5, 0, 4] == 1 and pw[11, 7, 4] == 1  # own king e1 at row 0, opponent's king e8 at row 7
    assert not pw[112].any() and pb[112].all()  # colour plane: ones when black moves
    assert not pw[14:112].any()  # no history before the FEN
    assert np.array_equal(pw[117], np.full((8, 8), 0.0, np.float32))
    s = play(game.initial_state(), "e4")
    p = s.planes()
    # black to move: its pawns are on row 1, white's e-pawn (e4) is at row 4 (rank 5 mirrored)
    assert p[0, 1].all() and p[6, 4, 4] == 1 and p[6, 6, 4] == 0
    assert np.array_equal(p[14:26], game.initial_state().planes()[[6, 7, 8, 9, 10, 11, 0, 1, 2, 3, 4, 5]]
                          [:, ::-1])  # history step 1 is the start, seen from black
    assert p[113:117].all()  # all four castling rights
    assert np.array_equal(play(s, "Nf6", "Nf3").planes()[117], np.full((8, 8), 0.02, np.float32))


def test_hash_and_immutability(game):
    s = game.initial_state()
    # Golden values: BLAKE2b of the packed planes, so the same in every process (no salted hash()).
    assert (s.hash(), s.apply(76).hash()) == (2588378277207747622, 13119939709534182538)
    p = s.planes()
    assert p[:12].sum(axis=(1, 2)).tolist() == [8, 2, 2, 2, 1, 1] * 2 and p.sum() == 32 + 4 * 64
    a = play(s, "e4", "e5")
    b = play(s, "e4", "e5")
    assert a is not b and a.hash() == b.hash() and 0 <= a.hash() < 2 ** 64
    assert s.fen() == START and s.hash() != a.hash()
    rep = play(s, "Nf3", "Nf6", "Ng1", "Ng8")
    assert rep.fen().split()[:4] == s.fen().split()[:4] and rep.hash() != s.hash()
    # Transpositions with the same last 8 positions hash alike; the FEN start forgets history.
    x = play(s, "Nf3", "Nf6", "Nc3", "Nc6", "e4", "e5", "d4", "d5", "a3", "a6")
    y = play(s, "Nc3", "Nf6", "Nf3", "Nc6", "e4", "e5", "d4", "d5", "a3", "a6")
    assert x.fen() == y.fen() and x.hash() == y.hash()
    assert play(s, "Nf3", "Nf6", "Nc3", "Nc6", "e4", "e5", "d4", "d5", "a3").hash() \
        != play(s, "Nc3", "Nf6", "Nf3", "Nc6", "e4", "e5", "d4", "d5", "a3").hash()  # ply 2 still seen
    assert game.state_from_text(x.fen()).hash() != x.hash()


def test_board_and_state_from_board(game):
    s = play(game.initial_state(), "Nf3", "Nf6", "Ng1", "Ng8", "Nf3", "Nf6", "Ng1")
    board = s.board
    assert [m.uci() for m in board.move_stack] == ["g1f3", "g8f6", "f3g1", "f6g8", "g1f3", "g8f6", "f3g1"]
    assert board.fen() == s.fen()
    t = game.state_from_board(board)
    assert t.fen() == s.fen() and t.hash() == s.hash() and t.repetitions() == 2
    assert play(t, "Ng8").termination() == "threefold repetition"
    promo = play(game.state_from_text("4k3/P7/8/8/8/8/8/4K3 w - - 0 1"), "a8=Q+")
    assert promo.board.move_stack[0].uci() == "a7a8q" and promo.board.fen() == promo.fen()
    board = pychess.Board()
    board.push_san("e4")
    board.push(pychess.Move.from_uci("e7e5"))
    assert game.state_from_board(board).fen() == board.fen()


def _expected_termination(board: pychess.Board, ply_cap: int) -> str | None:
    if board.is_checkmate():
        return "checkmate"
    if board.is_stalemate():
        return "stalemate"
    if board.is_insufficient_material():
        return "insufficient material"
    if board.halfmove_clock >= 100:
        return "fifty-move rule"
    if board.is_repetition(3):
        return "threefold repetition"
    if board.ply() >= ply_cap:
        return "ply cap"
    return None


@pytest.mark.parametrize("games", [pytest.param(6, id="6"), pytest.param(150, id="150", marks=pytest.mark.slow)])
def test_random_games_match_python_chess(game, games):
    """Move lists, FEN, check and termination against python-chess, ply by ply."""
    rng = np.random.default_rng(7 + games)
    endings = set()
    for _ in range(games):
        state, board = game.initial_state(), pychess.Board()
        while True:
            assert state.fen() == board.fen()
            assert state.termination() == _expected_termination(board, 512)
            assert state.is_check() == board.is_check()
            if state.is_terminal():
                endings.add(state.termination())
                break
            acts = state.legal_actions()
            assert sorted(state.move_to_action(m) for m in board.legal_moves) == acts.tolist()
            a = int(acts[rng.integers(len(acts))])
            board.push(state.action_to_move(a))
            state = state.apply(a)
        assert state.board.move_stack == board.move_stack
    assert len(endings) >= 2  # the games do not all end the same way


def test_play_out_with_planes(game):
    rng = np.random.default_rng(0)
    final, plies = play_out(game.initial_state(), rng, encode=True)
    assert final.is_terminal() and plies == final.ply and plies <= 512
    assert final.returns().sum() == 0


def test_pickle_round_trip_of_a_long_line():
    game = Chess(max_plies=None)
    board = pychess.Board()
    for i in range(1200):  # far past the draw rules: state_from_board replays them anyway
        board.push_san(("Nf3", "Nf6", "Ng1", "Ng8")[i % 4])
    state = game.state_from_board(board)
    assert state.termination() == "fifty-move rule" and state.repetitions() == 301
    back = pickle.loads(pickle.dumps(state))
    assert back.game.max_plies is None
    assert (back.fen(), back.hash(), back.ply, back.repetitions(), back.termination()) == \
        (state.fen(), state.hash(), state.ply, 301, "fifty-move rule")
    assert back.board.move_stack == board.move_stack
    assert np.array_equal(back.planes(), state.planes())
