"""Tic-tac-toe on bitboards. Actions 0..8 are cells row-major from the top-left ("a3" .. "c1"
in text, or the digits 1..9 as on a phone keypad's layout read row by row from the top).

Position text: nine characters row by row from the top, 'x', 'o' or '.', e.g. "x.o......".
Observation `[3, 3, 3]`: the side to move's stones, the opponent's, ones when X is to move.
`legal_mask()` and `legal_actions()` return shared read-only arrays (copy one before writing to it).
"""
from __future__ import annotations

import numpy as np

from boardnet.games.base import IllegalMoveError, ParseError
from boardnet.games.symmetry import D4_SIZE, d4_inverse, d4_transform

_LINES = (0b000000111, 0b000111000, 0b111000000, 0b001001001, 0b010010010, 0b100100100,
          0b100010001, 0b001010100)
_FULL = 0b111111111
_COLS = "abc"


def _won(bits: int) -> bool:
    for line in _LINES:
        if bits & line == line:
            return True
    return False


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# Everything per ply is a table look-up keyed by a 9-bit board: allocating NumPy arrays each ply
# costs more than the rules themselves. Shared arrays are read-only.
_WON = tuple(_won(b) for b in range(1 << 9))
_LEGAL_MASK = tuple(_frozen(np.array([not occ >> i & 1 for i in range(9)], dtype=bool))
                    for occ in range(1 << 9))
_LEGAL_ACTIONS = tuple(_frozen(np.flatnonzero(m).astype(np.int64)) for m in _LEGAL_MASK)
_NO_MASK = _frozen(np.zeros(9, dtype=bool))
_NO_ACTIONS = _frozen(np.zeros(0, dtype=np.int64))
# planes(): own stones at bit 0, opponent's at 16, the X-to-move plane at 32 of one int -> bytes ->
# 8 float32 bits per byte by table -> gather the 27 cells.
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1,
                           bitorder="little").astype(np.float32)
_GATHER = np.array([[[16 * p + 3 * r + c for c in range(3)] for r in range(3)] for p in range(3)],
                   dtype=np.intp)
_X_TO_MOVE = _FULL << 32
# Planes memoised by board: at most 5,478 legal positions, so the cache stays under 1 MB.
_PLANES: dict[int, np.ndarray] = {}


class TicTacToeState:
    __slots__ = ("game", "_b", "_ply", "_winner")

    def __init__(self, game: "TicTacToe", boards: tuple[int, int] = (0, 0), ply: int = 0,
                 winner: int = -1):
        self.game = game
        self._b = boards
        self._ply = ply
        self._winner = winner

    @property
    def ply(self) -> int:
        return self._ply

    def to_play(self) -> int:
        return self._ply & 1

    def is_terminal(self) -> bool:
        return self._winner >= 0 or (self._b[0] | self._b[1]) == _FULL

    def returns(self) -> np.ndarray:
        r = np.zeros(2, dtype=np.float32)
        if self._winner >= 0:
            r[self._winner] = 1.0
            r[1 - self._winner] = -1.0
        return r

    def legal_mask(self) -> np.ndarray:
        """bool `[9]`, read-only (shared between states)."""
        if self._winner >= 0:
            return _NO_MASK
        return _LEGAL_MASK[self._b[0] | self._b[1]]

    def legal_actions(self) -> np.ndarray:
        """int64 free cells, ascending; read-only (shared between states)."""
        if self._winner >= 0:
            return _NO_ACTIONS
        return _LEGAL_ACTIONS[self._b[0] | self._b[1]]

    def apply(self, action: int) -> "TicTacToeState":
        action = int(action)
        if not 0 <= action < 9:
            raise IllegalMoveError(f"tic-tac-toe action {action}: out of range 0-8")
        bit = 1 << action
        x, o = self._b
        if self._winner >= 0 or (x | o) == _FULL:
            raise IllegalMoveError(f"tic-tac-toe move {self.action_to_text(action)}: game is over")
        if (x | o) & bit:
            raise IllegalMoveError(f"tic-tac-toe move {self.action_to_text(action)}: cell is taken")
        if self._ply & 1:
            o |= bit
            return TicTacToeState(self.game, (x, o), self._ply + 1, 1 if _WON[o] else -1)
        x |= bit
        return TicTacToeState(self.game, (x, o), self._ply + 1, 0 if _WON[x] else -1)

    def planes(self) -> np.ndarray:
        """float32 `[3, 3, 3]`: stones of the side to move, of the opponent, and a plane of ones
        when X is to move (zeros otherwise)."""
        x, o = self._b
        key = x | o << 9
        cached = _PLANES.get(key)
        if cached is None:
            packed = (o | x << 16) if self._ply & 1 else (x | o << 16 | _X_TO_MOVE)
            cached = _PLANES[key] = _frozen(_BYTE_BITS.take(
                np.frombuffer(packed.to_bytes(6, "little"), np.uint8), axis=0).take(_GATHER))
        return cached.copy()

    def action_to_text(self, action: int) -> str:
        action = int(action)
        return f"{_COLS[action % 3]}{3 - action // 3}"

    def text_to_action(self, text: str) -> int:
        t = text.strip().lower() if isinstance(text, str) else ""
        if len(t) == 1 and t in "123456789":
            action = int(t) - 1
        elif len(t) == 2 and t[0] in _COLS and t[1] in "123":
            action = (3 - int(t[1])) * 3 + _COLS.index(t[0])
        else:
            raise ParseError(f"tic-tac-toe move {text!r}: expected a cell a1-c3 or a digit 1-9")
        if not self.legal_mask()[action]:
            raise IllegalMoveError(f"tic-tac-toe move {text!r}: "
                                   + ("game is over" if self.is_terminal() else "cell is taken"))
        return action

    def hash(self) -> int:
        return self._b[0] | (self._b[1] << 9)

    def to_text(self) -> str:
        return "".join("x" if self._b[0] >> i & 1 else "o" if self._b[1] >> i & 1 else "."
                       for i in range(9))

    def __str__(self) -> str:
        t = self.to_text()
        rows = [f"{3 - r} " + " ".join(t[3 * r: 3 * r + 3]) for r in range(3)]
        return "\n".join(rows + ["  a b c"])

    def __repr__(self) -> str:
        return f"TicTacToeState({self.to_text()!r})"


class TicTacToe:
    name = "tictactoe"
    num_players = 2
    action_size = 9
    obs_shape = (3, 3, 3)
    num_symmetries = D4_SIZE
    # capabilities (see boardnet/games/base.py)
    has_pass = False
    has_komi = False
    resizable = False
    scoring = "outcome"
    protocol = "gtp"
    record_format = "moves"
    multi_action_turns = False
    column_moves = False
    side_names = ("X", "O")
    real_planes = ()

    def initial_state(self) -> TicTacToeState:
        return TicTacToeState(self)

    def state_from_text(self, text: str) -> TicTacToeState:
        t = text.strip().lower() if isinstance(text, str) else ""
        if len(t) != 9 or set(t) - set("xo."):
            raise ParseError(f"tic-tac-toe position {text!r}: expected 9 characters of x, o, .")
        x = sum(1 << i for i, c in enumerate(t) if c == "x")
        o = sum(1 << i for i, c in enumerate(t) if c == "o")
        nx, no = t.count("x"), t.count("o")
        if nx - no not in (0, 1):
            raise ParseError(f"tic-tac-toe position {text!r}: X must have as many stones as O "
                             "or one more")
        wx, wo = _won(x), _won(o)
        if wx and wo or wx and nx == no or wo and nx != no:
            raise ParseError(f"tic-tac-toe position {text!r}: not reachable (impossible winner)")
        return TicTacToeState(self, (x, o), nx + no, 0 if wx else 1 if wo else -1)

    def transform(self, planes, policy, k):
        return d4_transform(planes, policy, k, 3, 3)

    def inverse(self, k: int) -> int:
        return d4_inverse(k)
