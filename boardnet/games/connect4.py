"""Connect Four (7 columns x 6 rows) on bitboards in Pascal Pons' layout, with plain Python ints.

Bit `7*c + r` is column c (0 = left), row r (0 = bottom); row 6 of every column is an always-empty
sentinel, so shifting by 1 (vertical), 7 (horizontal), 6 and 8 (diagonals) never wraps across columns.
A state keeps `cur` (stones of the side to move) and `mask` (all stones); the opponent's stones are
`cur ^ mask`.

Actions 0..6 are columns left to right; move text is "1".."7". Position text is the move string from
the empty board, exactly as in Pons' test sets ("4453" = columns 4, 4, 5, 3); "" is the empty board.
Observation `[3, 6, 7]` (row 0 = top): the side to move's stones, the opponent's, ones when the first
player is to move. `legal_mask()` and `legal_actions()` return shared read-only arrays (copy one
before writing to it).
"""
from __future__ import annotations

import numpy as np

from boardnet.games.base import IllegalMoveError, ParseError
from boardnet.games.symmetry import mirror_transform

WIDTH = 7
HEIGHT = 6
_H1 = HEIGHT + 1
_BOTTOM = tuple(1 << (_H1 * c) for c in range(WIDTH))           # lowest cell of each column
_TOP = tuple(1 << (_H1 * c + HEIGHT - 1) for c in range(WIDTH))  # highest playable cell
_TOP_ALL = sum(_TOP)
_BOARD_ALL = sum(((1 << HEIGHT) - 1) << (_H1 * c) for c in range(WIDTH))
_DIGITS = "1234567"


def _aligned(pos: int) -> bool:
    """True if `pos` holds four in a row in any direction (Pons' alignment test)."""
    m = pos & (pos >> _H1)          # horizontal
    if m & (m >> (2 * _H1)):
        return True
    m = pos & (pos >> HEIGHT)       # diagonal, down-right to up-left
    if m & (m >> (2 * HEIGHT)):
        return True
    m = pos & (pos >> (_H1 + 1))    # diagonal, down-left to up-right
    if m & (m >> (2 * (_H1 + 1))):
        return True
    m = pos & (pos >> 1)            # vertical
    return bool(m & (m >> 2))


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# Legal masks and action lists for every set of full columns, keyed by `mask & _TOP_ALL`. They are
# shared read-only arrays: allocating a fresh array every ply would cost more than the rules do.
_LEGAL_MASK: dict[int, np.ndarray] = {}
_LEGAL_ACTIONS: dict[int, np.ndarray] = {}
for _full in range(1 << WIDTH):
    _key = sum(_TOP[c] for c in range(WIDTH) if _full >> c & 1)
    _m = np.array([not _full >> c & 1 for c in range(WIDTH)], dtype=bool)
    _LEGAL_MASK[_key] = _frozen(_m)
    _LEGAL_ACTIONS[_key] = _frozen(np.flatnonzero(_m).astype(np.int64))
del _full, _key, _m
_NO_MASK = _frozen(np.zeros(WIDTH, dtype=bool))
_NO_ACTIONS = _frozen(np.zeros(0, dtype=np.int64))

# planes(): the three planes are packed into one int (own stones at bit 0, opponent's at 64, the
# side-to-move plane at 128), turned into bytes, each byte into 8 float32 bits by table, and the
# 126 cells gathered in [C, row from the top, column] order. Four NumPy calls per position.
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1,
                           bitorder="little").astype(np.float32)
_GATHER = np.array([[[64 * p + _H1 * c + (HEIGHT - 1 - r) for c in range(WIDTH)]
                     for r in range(HEIGHT)] for p in range(3)], dtype=np.intp)
_FIRST_TO_MOVE = _BOARD_ALL << 128


class ConnectFourState:
    """A Connect Four position; immutable. Build one with `ConnectFour.initial_state()` or
    `ConnectFour.state_from_text("4453")`."""

    __slots__ = ("game", "_cur", "_mask", "_ply", "_moves", "_won")

    def __init__(self, game: "ConnectFour", cur: int = 0, mask: int = 0, ply: int = 0,
                 moves: str = "", won: bool = False):
        self.game = game
        self._cur = cur        # stones of the side to move
        self._mask = mask      # all stones
        self._ply = ply
        self._moves = moves    # move string from the empty board ("1".."7" per ply)
        self._won = won        # the player who just moved made four in a row

    @property
    def ply(self) -> int:
        return self._ply

    def to_play(self) -> int:
        return self._ply & 1

    def is_terminal(self) -> bool:
        return self._won or self._ply == WIDTH * HEIGHT

    def winner(self) -> int:
        """Player who made four in a row, or -1 (game going on, or drawn)."""
        return (self._ply - 1) & 1 if self._won else -1

    def returns(self) -> np.ndarray:
        r = np.zeros(2, dtype=np.float32)
        if self._won:
            w = (self._ply - 1) & 1
            r[w] = 1.0
            r[1 - w] = -1.0
        return r

    def legal_mask(self) -> np.ndarray:
        """bool `[7]`, read-only (shared between states)."""
        if self._won:
            return _NO_MASK
        return _LEGAL_MASK[self._mask & _TOP_ALL]

    def legal_actions(self) -> np.ndarray:
        """int64 columns that are not full, ascending; read-only (shared between states)."""
        if self._won:
            return _NO_ACTIONS
        return _LEGAL_ACTIONS[self._mask & _TOP_ALL]

    def apply(self, action: int) -> "ConnectFourState":
        action = int(action)
        if not 0 <= action < WIDTH:
            raise IllegalMoveError(f"connect four action {action}: out of range 0-6")
        mask = self._mask
        if self._won or mask & _TOP[action]:
            raise IllegalMoveError(f"connect four move {action + 1} after {self._moves!r}: "
                                   + ("game is over" if self._won else "column is full"))
        opp = self._cur ^ mask           # the opponent moves next
        mask |= mask + _BOTTOM[action]   # adding the column's bottom bit carries up to the first hole
        mine = opp ^ mask                # the mover's stones, the new one included
        return ConnectFourState(self.game, opp, mask, self._ply + 1,
                                self._moves + _DIGITS[action], _aligned(mine))

    def planes(self) -> np.ndarray:
        """float32 `[3, 6, 7]`, row 0 = top: stones of the side to move, of the opponent, and a
        plane of ones when the first player is to move (zeros otherwise)."""
        cur = self._cur
        packed = cur | (cur ^ self._mask) << 64
        if not self._ply & 1:
            packed |= _FIRST_TO_MOVE
        return _BYTE_BITS.take(np.frombuffer(packed.to_bytes(24, "little"), np.uint8),
                               axis=0).take(_GATHER)

    def action_to_text(self, action: int) -> str:
        action = int(action)
        if not 0 <= action < WIDTH:
            raise IllegalMoveError(f"connect four action {action}: out of range 0-6")
        return _DIGITS[action]

    def text_to_action(self, text: str) -> int:
        t = text.strip() if isinstance(text, str) else None
        if t is None or len(t) != 1 or t not in _DIGITS:
            raise ParseError(f"connect four move {text!r}: expected a column 1-7")
        action = int(t) - 1
        if self._won or self._mask & _TOP[action]:
            raise IllegalMoveError(f"connect four move {text!r} after {self._moves!r}: "
                                   + ("game is over" if self._won else "column is full"))
        return action

    def hash(self) -> int:
        """Pons' key `cur + mask`: unique per position (49 bits). In each column the sum is
        `stones_of_side_to_move + 2**height - 1`, from which height and stones can be read back;
        the side to move follows from the parity of the stone count."""
        return self._cur + self._mask

    def to_text(self) -> str:
        return self._moves

    def __str__(self) -> str:
        """Rows from the top, 'x' = first player, 'o' = second, '.' = empty; column digits below."""
        first = self._cur if not self._ply & 1 else self._cur ^ self._mask
        rows = []
        for r in range(HEIGHT - 1, -1, -1):
            cells = []
            for c in range(WIDTH):
                bit = 1 << (_H1 * c + r)
                cells.append("." if not self._mask & bit else "x" if first & bit else "o")
            rows.append(" ".join(cells))
        return "\n".join(rows + [" ".join(_DIGITS)])

    def __repr__(self) -> str:
        return f"ConnectFourState({self._moves!r})"


class ConnectFour:
    """Connect Four: 7 actions (columns), observation `[3, 6, 7]`, left-right mirror symmetry."""

    name = "connect4"
    num_players = 2
    action_size = WIDTH
    obs_shape = (3, HEIGHT, WIDTH)
    num_symmetries = 2
    width = WIDTH
    height = HEIGHT
    # capabilities (see boardnet/games/base.py)
    has_pass = False
    has_komi = False
    resizable = False
    scoring = "outcome"
    protocol = "gtp"
    record_format = "moves"
    multi_action_turns = False
    column_moves = True
    side_names = ("X", "O")
    real_planes = ()

    def initial_state(self) -> ConnectFourState:
        return ConnectFourState(self)

    def state_from_text(self, text: str) -> ConnectFourState:
        """Play a move string ("4453", columns 1-7) from the empty board. Raises ParseError for a
        character that is not a column, IllegalMoveError for a move into a full column or after
        the game was won; both name the string and the 0-based index of the bad move."""
        if not isinstance(text, str):
            raise ParseError(f"connect four position {text!r}: expected a string of columns 1-7")
        t = text.strip()
        state = ConnectFourState(self)
        for i, ch in enumerate(t):
            if ch not in _DIGITS:
                raise ParseError(f"connect four position {text!r}: character {ch!r} at index {i} "
                                 "is not a column 1-7")
            c = ord(ch) - 49
            if state._won:
                raise IllegalMoveError(f"connect four position {text!r}: move {ch} at index {i} "
                                       "comes after the game was won")
            if state._mask & _TOP[c]:
                raise IllegalMoveError(f"connect four position {text!r}: move {ch} at index {i} "
                                       "is into a full column")
            state = state.apply(c)
        return state

    def transform(self, planes, policy, k):
        """k=0 identity, k=1 left-right mirror of planes `[..., C, 6, 7]` and policy `[..., 7]`."""
        if k not in (0, 1):
            raise ValueError(f"connect four symmetry {k!r}: expected 0 or 1")
        return mirror_transform(planes, policy, k)

    def inverse(self, k: int) -> int:
        if k not in (0, 1):
            raise ValueError(f"connect four symmetry {k!r}: expected 0 or 1")
        return k
