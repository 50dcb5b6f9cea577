"""The game protocol every board game implements (rules only: NumPy, no torch, no Ray).

Conventions (after OpenSpiel's spiel.h):
- two players, numbered 0 (first to move) and 1;
- `is_terminal()` says whether the game is over, `returns()` gives one score per player
  (+1 win, -1 loss, 0 draw) and is all zeros for a state that is not terminal;
- states are immutable values: `apply(action)` returns a new state and leaves `self` as it was,
  so a search tree may keep states at its nodes;
- actions are integers in `[0, game.action_size)`; `legal_mask()` is a bool array over that range;
- `planes()` is float32 `[C, H, W]` with `(C, H, W) == game.obs_shape`, drawn from the view of the
  side to move where the game has orientation;
- symmetries are an explicit group: index 0 is the identity; `game.transform(planes, policy, k)`
  moves planes `[..., C, H, W]` and policies `[..., action_size]` together; `game.inverse(k)` undoes k;
- every game declares its capabilities (`CAPABILITIES`, class attributes) and front ends, records
  and trainers branch on those, never on `game.name`.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


class GameError(ValueError):
    """Base class of every rules error; the message names the offending text and the reason."""


class IllegalMoveError(GameError):
    """A well-formed move that the rules do not allow in this position."""


class ParseError(GameError):
    """Move or position text that cannot be read."""


# What a game can do, declared by every Game class, with the values allowed. Each one promises
# the members named here; code that needs them checks the capability, not the game's name.
CAPABILITIES: dict[str, tuple] = {
    # a pass move exists: `game.pass_action`, `state.last_action()` (None at the start)
    "has_pass": (False, True),
    # a komi: `game.komi` (float); `make_game(game.name, komi=k)` is the game with another komi
    "has_komi": (False, True),
    # the board size can change: `game.n` is the side; `make_game(game.name, board_size=n, ...)`
    "resizable": (False, True),
    # "area": `state.score()` (first player's area - second's - komi, Tromp-Taylor, valid at any
    # point) and `state.settled()`; "outcome": only `returns()` (win / draw / loss)
    "scoring": ("outcome", "area"),
    # the text protocol of its engine front end: "uci" (`boardnet uci`) or "gtp" (`boardnet gtp`)
    "protocol": ("uci", "gtp"),
    # the record `boardnet.records.game_record` writes: PGN, SGF FF[4], PDN, or one move line
    "record_format": ("pgn", "sgf", "pdn", "moves"),
    # one turn may be several actions by the same side (checkers multi-jumps): `state.mid_capture`
    # (the side to move goes on with its turn), `state.text_to_actions(text)` (a whole turn's
    # actions) and `state.legal_moves_text()` (whole turns)
    "multi_action_turns": (False, True),
    # a move names a column only ("1"-"7"): a move line may be one digit string ("4453") and a
    # GTP vertex's letter names the column
    "column_moves": (False, True),
}
# Also declared: `side_names`, the two players' names for people (("White", "Black") in chess), and
# `real_planes`, the indices of the observation planes whose values are not all 0/1 (chess: the
# half-move clock), so that code storing planes as bits (supervised training) keeps those as numbers.
# Optional State methods front ends use where present: `termination()` (why the game ended, or
# None), `is_check()`, `move_to_san(action)` (chess), `board` (chess: a python-chess Board).


def capability_problems(game) -> list[str]:
    """What is wrong with `game`'s declared capabilities (empty when every one is valid)."""
    out = []
    for cap, allowed in CAPABILITIES.items():
        if not hasattr(game, cap):
            out.append(f"{game.name}: capability {cap!r} is not declared")
            continue
        v = getattr(game, cap)
        # bool capabilities must be real bools (0 == False would pass the `in` test)
        if not any(type(v) is type(a) and v == a for a in allowed):
            out.append(f"{game.name}: {cap}={v!r}: expected one of {', '.join(map(repr, allowed))}")
    names = getattr(game, "side_names", None)
    if not (isinstance(names, tuple) and len(names) == 2 and all(isinstance(n, str) and n for n in names)):
        out.append(f"{game.name}: side_names={names!r}: expected two non-empty names")
    real = getattr(game, "real_planes", None)
    if not (isinstance(real, tuple) and all(type(i) is int and 0 <= i < game.obs_shape[0] for i in real)):
        out.append(f"{game.name}: real_planes={real!r}: expected a tuple of plane indices")
    return out


@runtime_checkable
class State(Protocol):
    """A game position. Immutable: `apply` returns a new state."""

    game: "Game"

    def to_play(self) -> int:
        """Player to move, 0 or 1 (meaningless once terminal)."""

    def legal_mask(self) -> np.ndarray:
        """bool `[action_size]`; all False when terminal."""

    def legal_actions(self) -> np.ndarray:
        """int64 indices of legal actions, ascending."""

    def apply(self, action: int) -> "State":
        """The position after `action`; raises IllegalMoveError if it is not legal."""

    def is_terminal(self) -> bool: ...

    def returns(self) -> np.ndarray:
        """float32 `[2]`: score per player; zeros while the game goes on."""

    def planes(self) -> np.ndarray:
        """float32 `[C, H, W]` observation for the network."""

    def action_to_text(self, action: int) -> str: ...

    def text_to_action(self, text: str) -> int:
        """Parse a move in the game's usual notation; raises ParseError / IllegalMoveError."""

    def hash(self) -> int:
        """64-bit key that identifies the position for caches and repetition."""

    def to_text(self) -> str:
        """Compact position text, read back by `game.state_from_text`."""

    @property
    def ply(self) -> int:
        """Number of moves played from the initial position."""

    # Optional, for games with a no-progress draw rule (checkers, chess):
    #   no_progress_fraction() -> float: how far that rule has run, 0 (just reset) to 1 (drawn).
    # Optional, where planes() reads more than hash() keys (move history, draw counters):
    #   eval_key() -> hashable: equal for two states only if their planes() (and legal moves) are; the
    #   network evaluator's cache uses it instead of hash(), which stays the key for repetition.


@runtime_checkable
class Game(Protocol):
    name: str
    num_players: int
    action_size: int
    obs_shape: tuple[int, int, int]
    num_symmetries: int
    # capabilities: see CAPABILITIES above for the values and what each promises
    has_pass: bool
    has_komi: bool
    resizable: bool
    scoring: str
    protocol: str
    record_format: str
    multi_action_turns: bool
    column_moves: bool
    side_names: tuple[str, str]
    real_planes: tuple[int, ...]

    def initial_state(self) -> State: ...

    def state_from_text(self, text: str) -> State:
        """Read `State.to_text()` output (raises ParseError naming the text)."""

    def transform(self, planes: np.ndarray | None, policy: np.ndarray | None, k: int
                  ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Apply symmetry k to planes `[..., C, H, W]` and policy `[..., action_size]` together."""

    def inverse(self, k: int) -> int: ...


def play_out(state: State, rng: np.random.Generator, encode: bool = False) -> tuple[State, int]:
    """Random play-out to the end; returns (final state, plies). Used by tests and benchmarks."""
    plies = 0
    while not state.is_terminal():
        if encode:
            state.planes()
        acts = state.legal_actions()
        state = state.apply(int(acts[rng.integers(len(acts))]))
        plies += 1
    return state, plies
