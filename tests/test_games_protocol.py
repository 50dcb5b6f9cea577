"""Conformance of every game `make_game` builds to the State/Game protocol (boardnet/games/base.py).

Random play-outs (fixed seeds) check at every ply: the legal mask against legal_actions, that
`apply` leaves its state untouched, the to_text/state_from_text round trip, hashes of equal
positions, planes shape and dtype, the move-text round trip, and (every 7th ply) pickling. The
symmetry group is checked for inverses, closure under composition, and that policies move with the
planes. The game modules are imported directly: a broken import fails here instead of skipping.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import boardnet.games.checkers  # noqa: F401  (imported, not importorskip'd: all five exist)
import boardnet.games.chess  # noqa: F401
import boardnet.games.connect4  # noqa: F401
import boardnet.games.go  # noqa: F401
import boardnet.games.tictactoe  # noqa: F401
from boardnet.games import GAMES as GAME_NAMES
from boardnet.games import GameError, IllegalMoveError, ParseError, make_game
from boardnet.games.base import CAPABILITIES, Game, State, capability_problems

# (make_game name, module, play-outs, ply cap as a guard against a game that never ends)
GAMES = [
    ("tictactoe", "tictactoe", 40, 9),
    ("connect4", "connect4", 25, 42),
    ("go9", "go", 3, 2000),
    ("chess", "chess", 2, 5000),
    ("checkers", "checkers", 6, 5000),
]
# Games whose position text carries the whole state, history included, so that a round trip
# gives back the same hash and planes. Chess FEN and checkers PDN FEN drop the repetition history
# (their modules say so), so for them only the position itself is compared.
FULL_TEXT = {"tictactoe", "connect4", "go"}


@pytest.fixture(params=GAMES, ids=[g[0] for g in GAMES])
def case(request):
    name, module, playouts, cap = request.param
    return make_game(name), module, playouts, cap


def test_every_listed_game_is_checked():
    assert set(GAME_NAMES) <= {module for _, module, _, _ in GAMES}


def _snapshot(s: State) -> tuple:
    return (s.to_text(), s.hash(), s.ply, s.to_play(), s.is_terminal(), s.legal_mask().tobytes(),
            s.planes().tobytes(), s.returns().tobytes())


def _check_state(game: Game, module: str, s: State) -> None:
    mask = s.legal_mask()
    assert mask.dtype == np.bool_ and mask.shape == (game.action_size,)
    acts = s.legal_actions()
    assert np.issubdtype(acts.dtype, np.integer) and acts.ndim == 1
    np.testing.assert_array_equal(acts, np.flatnonzero(mask))
    assert s.to_play() in (0, 1)

    ret = s.returns()
    assert ret.dtype == np.float32 and ret.shape == (2,)
    if s.is_terminal():
        assert not mask.any()
        assert set(ret.tolist()) <= {-1.0, 0.0, 1.0} and ret.sum() == 0.0
    else:
        assert mask.any(), f"{game.name} {s.to_text()!r}: not terminal but no legal action"
        assert not ret.any()

    planes = s.planes()
    assert planes.dtype == np.float32 and planes.shape == tuple(game.obs_shape)
    assert np.isfinite(planes).all()
    ref = planes.copy()
    if planes.flags.writeable:  # a caller that writes into its planes must not change the state's
        planes[...] = -1.0
    np.testing.assert_array_equal(s.planes(), ref)

    h = s.hash()
    assert isinstance(h, (int, np.integer)) and -(1 << 63) <= int(h) < (1 << 64)

    text = s.to_text()
    back = game.state_from_text(text)
    assert back.to_text() == text
    assert back.to_play() == s.to_play()
    if module in FULL_TEXT:
        assert back.hash() == h and back.ply == s.ply and back.is_terminal() == s.is_terminal()
        np.testing.assert_array_equal(back.planes(), s.planes())
        np.testing.assert_array_equal(back.legal_mask(), mask)
        np.testing.assert_array_equal(back.returns(), ret)
    elif not s.is_terminal():  # repetition history aside, the same position has the same moves
        assert not back.is_terminal()
        np.testing.assert_array_equal(back.legal_mask(), mask)

    for a in acts:
        assert s.text_to_action(s.action_to_text(int(a))) == a


def _check_apply(game: Game, s: State, a: int, rng: np.random.Generator) -> State:
    before = _snapshot(s)
    child = s.apply(a)
    assert _snapshot(s) == before, "apply changed the state it was called on"
    assert child.ply == s.ply + 1
    assert child.hash() != s.hash()
    illegal = np.flatnonzero(~s.legal_mask())
    if len(illegal):
        with pytest.raises(IllegalMoveError):
            s.apply(int(illegal[rng.integers(len(illegal))]))
    for bad in (-1, game.action_size):
        with pytest.raises(GameError):
            s.apply(bad)
    assert _snapshot(s) == before, "a rejected move changed the state"
    return child


def test_game_attributes(case):
    game, _, _, _ = case
    assert isinstance(game, Game)
    assert game.num_players == 2
    assert isinstance(game.action_size, int) and game.action_size > 0
    assert len(game.obs_shape) == 3 and all(isinstance(d, int) and d > 0 for d in game.obs_shape)
    assert isinstance(game.num_symmetries, int) and game.num_symmetries >= 1
    s = game.initial_state()
    assert isinstance(s, State) and s.game is game
    assert s.ply == 0 and s.to_play() == 0 and not s.is_terminal()
    assert game.state_from_text(s.to_text()).hash() == s.hash()


def test_every_game_declares_every_capability(case):
    """Each capability in base.CAPABILITIES is declared with an allowed value, and the members it
    promises are there (front ends branch on these, not on the game's name)."""
    game, _, _, _ = case
    assert capability_problems(game) == []
    s = game.initial_state()
    if game.has_pass:
        assert 0 <= game.pass_action < game.action_size and s.last_action() is None
        assert s.apply(game.pass_action).last_action() == game.pass_action
    if game.has_komi:
        assert isinstance(game.komi, float) and make_game(game.name, komi=game.komi + 1).komi == game.komi + 1
    if game.resizable:
        other = make_game(game.name, board_size=game.n - 2, komi=getattr(game, "komi", None))
        assert other.n == game.n - 2 and game.obs_shape[1:] == (game.n, game.n)
    if game.scoring == "area":
        assert isinstance(s.score(), float) and isinstance(s.settled(), bool)
    if game.multi_action_turns:
        assert s.mid_capture is False and callable(s.text_to_actions) and s.legal_moves_text()
    if game.column_moves:
        assert all(len(s.action_to_text(a)) == 1 and s.action_to_text(a).isdigit() for a in s.legal_actions())


def test_capability_check_catches_bad_declarations():
    class Broken:
        name, has_pass, has_komi, resizable, scoring = "broken", 0, False, False, "territory"
        protocol, record_format, multi_action_turns, side_names = "gtp", "moves", False, ("a",)
        obs_shape, real_planes = (3, 2, 2), (3,)

    assert capability_problems(Broken()) == [
        "broken: has_pass=0: expected one of False, True",
        "broken: scoring='territory': expected one of 'outcome', 'area'",
        "broken: capability 'column_moves' is not declared",
        "broken: side_names=('a',): expected two non-empty names",
        "broken: real_planes=(3,): expected a tuple of plane indices",
    ]
    assert set(CAPABILITIES) <= set(Game.__annotations__)


def _check_pickle(s: State, action: int | None) -> None:
    """States cross process boundaries (Ray actors, saved replay): a pickled copy is the same
    position and plays on the same way."""
    t = pickle.loads(pickle.dumps(s))
    assert _snapshot(t) == _snapshot(s)
    if action is not None:
        assert _snapshot(t.apply(action)) == _snapshot(s.apply(action))


def test_random_playouts(case):
    game, module, playouts, cap = case
    rng = np.random.default_rng(1234)
    for _ in range(playouts):
        s = game.initial_state()
        while not s.is_terminal():
            assert s.ply < cap, f"{game.name}: no end after {cap} plies"
            _check_state(game, module, s)
            acts = s.legal_actions()
            a = int(acts[rng.integers(len(acts))])
            if s.ply % 7 == 3:
                _check_pickle(s, a)
            s = _check_apply(game, s, a, rng)
        _check_state(game, module, s)
        _check_pickle(s, None)
        for a in range(game.action_size):  # nothing is legal once it is over
            with pytest.raises(IllegalMoveError):
                s.apply(a)


def test_bad_text_is_rejected(case):
    game, _, _, _ = case
    for junk in ("~not a position~", "zzzz 99 q"):
        with pytest.raises(ParseError, match="not a position" if "~" in junk else "zzzz"):
            game.state_from_text(junk)
    s = game.initial_state()
    with pytest.raises(ParseError, match="qq99"):
        s.text_to_action("qq99")


def _random_pair(game: Game, rng: np.random.Generator, batch: tuple[int, ...]):
    """Planes and policy filled with distinct values, so no symmetry maps them onto themselves."""
    size = int(np.prod(batch + tuple(game.obs_shape)))
    planes = rng.permutation(size).astype(np.float32).reshape(batch + tuple(game.obs_shape))
    policy = rng.permutation(int(np.prod(batch)) * game.action_size).astype(np.float32)
    return planes, policy.reshape(batch + (game.action_size,))


@pytest.mark.parametrize("batch", [(), (3,)])
def test_symmetry_group(case, batch):
    game, _, _, _ = case
    n = game.num_symmetries
    rng = np.random.default_rng(7)
    planes, policy = _random_pair(game, rng, batch)
    keep = planes.copy(), policy.copy()

    p0, q0 = game.transform(planes, policy, 0)
    np.testing.assert_array_equal(p0, planes)
    np.testing.assert_array_equal(q0, policy)
    images = []
    for k in range(n):
        inv = game.inverse(k)
        assert 0 <= inv < n
        pk, qk = game.transform(planes, policy, k)
        assert pk.shape == planes.shape and qk.shape == policy.shape
        np.testing.assert_array_equal(np.sort(pk, axis=None), np.sort(planes, axis=None))
        back_p, back_q = game.transform(pk, qk, inv)
        np.testing.assert_array_equal(back_p, planes)
        np.testing.assert_array_equal(back_q, policy)
        # planes alone and policy alone transform as they do together
        np.testing.assert_array_equal(game.transform(planes, None, k)[0], pk)
        np.testing.assert_array_equal(game.transform(None, policy, k)[1], qk)
        images.append((pk, qk))
    for pk, qk in images[1:]:  # distinct elements act differently
        assert not np.array_equal(pk, planes)
    for a in range(n):  # closure: a after b is some element c
        for b in range(n):
            pb, qb = game.transform(planes, policy, b)
            pab, qab = game.transform(pb, qb, a)
            assert any(np.array_equal(pab, pc) and np.array_equal(qab, qc) for pc, qc in images), \
                f"{game.name}: symmetry {a} after {b} is not in the group"
    np.testing.assert_array_equal(planes, keep[0])  # inputs are not modified
    np.testing.assert_array_equal(policy, keep[1])


def _layout(game: Game) -> str | None:
    """How actions sit on the board: 'cell' (row-major cells, extra actions such as Go's pass at
    the end), 'column' (one action per column, Connect Four), or None (chess-like encodings)."""
    _, h, w = game.obs_shape
    if game.action_size in (h * w, h * w + 1):
        return "cell"
    if game.action_size == w:
        return "column"
    return None


def _policy_image(game: Game, policy: np.ndarray) -> np.ndarray:
    """The board image `[H, W]` of a policy: a cell's probability, or its column's."""
    _, h, w = game.obs_shape
    if _layout(game) == "cell":
        return policy[: h * w].reshape(h, w)
    return np.broadcast_to(policy, (h, w))


def test_policy_moves_with_planes(case):
    game, _, _, _ = case
    layout = _layout(game)
    if game.num_symmetries == 1 or layout is None:
        pytest.skip(f"{game.name}: no board symmetry with a cell- or column-indexed policy")
    c, h, w = game.obs_shape
    rng = np.random.default_rng(11)
    # A policy and a plane that shows the same image must stay in step under every symmetry.
    policy = rng.permutation(game.action_size).astype(np.float32)
    planes = rng.random((c, h, w)).astype(np.float32)
    planes[0] = _policy_image(game, policy)
    for k in range(game.num_symmetries):
        pk, qk = game.transform(planes, policy, k)
        np.testing.assert_array_equal(pk[0], _policy_image(game, qk))
        np.testing.assert_array_equal(qk[h * w:], policy[h * w:])  # pass-like actions stay put

    # With real positions: after an action, the cells it names carry the same plane values as
    # the cells named by the transformed one-hot policy in the transformed planes.
    s = game.initial_state()
    for _ in range(12):
        acts = s.legal_actions()
        board_acts = [int(a) for a in acts if layout == "column" or a < h * w]
        if s.is_terminal() or not board_acts:
            break
        a = board_acts[rng.integers(len(board_acts))]
        s = s.apply(a)
        onehot = np.zeros(game.action_size, dtype=np.float32)
        onehot[a] = 1.0
        p = s.planes()
        for k in range(game.num_symmetries):
            pk, qk = game.transform(p, onehot, k)
            ak = int(np.argmax(qk))
            if layout == "cell":
                np.testing.assert_array_equal(pk[:, ak // w, ak % w], p[:, a // w, a % w])
            else:
                np.testing.assert_array_equal(pk[:, :, ak], p[:, :, a])
