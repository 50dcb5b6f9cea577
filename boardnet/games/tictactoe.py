"""Tic-tac-toe on bitboards. Actions 0..8 are cells row-major from the top-left ("a3" .. "c1"
in text, or the digits 1..9 as on a phone keypad's layout read row by row from the top).

Position text: nine characters row by row from the top, 'x', 'o' or '.', e.g. "x.o......".
"""
from __future__ import annotations

import numpy as np

from boardnet.games.base import IllegalMoveError, ParseError
from boardnet.games.symmetry import D4_SIZE, d4_inverse, d4_transform

_LINES = (0b000000111, 0b000111000, 0b111000000, 0b001001001, 0b010010010, 0b100100100,
          0b100010001, 0b001010100)
_FULL = 0b111111111
_COLS = "abc"
_BITS = np.array([1 << i for i in range(9)], dtype=np.int64)


def _won(bits: int) -> bool:
    for line in _LINES:
        if bits & line == line:
            return True
    return False


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
        if self.is_terminal():
            return np.zeros(9, dtype=bool)
        return (_BITS & (self._b[0] | self._b[1])) == 0

    def legal_actions(self) -> np.ndarray:
        return np.flatnonzero(self.legal_mask())

    def apply(self, action: int) -> "TicTacToeState":
        action = int(action)
        if not 0 <= action < 9:
            raise IllegalMoveError(f"tic-tac-toe action {action}: out of range 0-8")
        bit = 1 << action
        if self.is_terminal():
            raise IllegalMoveError(f"tic-tac-toe move {self.action_to_text(action)}: game is over")
        if (self._b[0] | self._b[1]) & bit:
            raise IllegalMoveError(f"tic-tac-toe move {self.action_to_text(action)}: cell is taken")
        p = self._ply & 1
        b = list(self._b)
        b[p] |= bit
        return TicTacToeState(self.game, (b[0], b[1]), self._ply + 1, p if _won(b[p]) else -1)

    def planes(self) -> np.ndarray:
        """[3, 3, 3]: stones of the side to move, of the opponent, and a plane of 1 if X to move."""
        p = self._ply & 1
        out = np.zeros((3, 9), dtype=np.float32)
        out[0] = (_BITS & self._b[p]) != 0
        out[1] = (_BITS & self._b[1 - p]) != 0
        out[2] = 1.0 - p
        return out.reshape(3, 3, 3)

    def action_to_text(self, action: int) -> str:
        action = int(action)
        return f"{_COLS[action % 3]}{3 - action // 3}"

    def text_to_action(self, text: str) -> int:
        t = text.strip().lower()
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

    def initial_state(self) -> TicTacToeState:
        return TicTacToeState(self)

    def state_from_text(self, text: str) -> TicTacToeState:
        t = text.strip().lower()
        if len(t) != 9 or set(t) - set("xo."):
            raise ParseError(f"tic-tac-toe position {text!r}: expected 9 characters of x, o, .")
        x = sum(1 << i for i, c in enumerate(t) if c == "x")
        o = sum(1 << i for i, c in enumerate(t) if c == "o")
        nx, no = t.count("x"), t.count("o")
        if nx - no not in (0, 1):
            raise ParseError(f"tic-tac-toe position {text!r}: X must have as many stones as O or one more")
        wx, wo = _won(x), _won(o)
        if wx and wo or wx and nx == no or wo and nx != no:
            raise ParseError(f"tic-tac-toe position {text!r}: not reachable (impossible winner)")
        return TicTacToeState(self, (x, o), nx + no, 0 if wx else 1 if wo else -1)

    def transform(self, planes, policy, k):
        return d4_transform(planes, policy, k, 3, 3)

    def inverse(self, k: int) -> int:
        return d4_inverse(k)
