"""English draughts (American checkers) on 32-bit bitboards.

Board and notation: the 32 dark squares carry the standard numbers 1-32. In the usual diagram
Black sits at the top on 1-12 and moves down (towards 32), White sits at the bottom on 21-32 and
moves up; square 1 is b8, 4 is h8, 29 is a1, 32 is g1. Black moves first: player 0 is Black,
player 1 is White.

Rules: men step one square diagonally forward, kings one square in any diagonal direction.
Captures are compulsory (any capture may be chosen, not necessarily the longest) and a capture
sequence must be completed. A man that reaches the far row is crowned and the move ends there,
even if the new king could jump on. The side to move with no legal move loses. Draws:
threefold repetition of a position (same pieces and side to move, counted at the start of turns),
and the no-progress rule: after `no_progress_plies` (default 80, i.e. 40 moves by each side)
consecutive turns without a capture and without a man move (crowning is a man move) the game is
drawn. A side with no legal move loses even when a draw rule would also apply.

Actions (fixed size 128, AlphaZero style): one action per single STEP, `action = d * 32 + j`,
where j (0..31) is the origin square and d the direction, both seen from the side to move with the
board turned so that it plays up: d = 0 forward-left, 1 forward-right, 2 back-left, 3 back-right.
For White j = square - 1; for Black j = 32 - square (the board turned 180 degrees). Whether a
step is a simple move or a jump needs no bit of its own: captures are compulsory, so in any
position either every legal step is a jump or none is. A multi-jump is played as several actions
by the same player: after a jump that can continue, `to_play()` stays the same and the state
records the jumping piece, so only its further jumps are legal (`mid_capture` is True there).

Move text: `action_to_text` writes one step, `11-15` or `22x15`. `text_to_action` reads one step
in the same form ('-' and 'x' are both accepted as the separator). A whole move, including a
multi-jump such as `22x15x8` (or the PDN short form `22x8` when unambiguous), is read by
`State.text_to_actions(text) -> list[int]`; at the start of a turn it must be a complete move,
and in the middle of a capture sequence it must be the rest of the sequence, starting on the
jumping piece's square.

Position text: PDN FEN, `W:W21,22,K3:B1,2` (side to move, then the white and the black pieces,
K marks a king; ranges such as `B1-12` are read too). Two fields outside PDN are written only
when needed: `H<n>` the no-progress count in plies, and `J<sq>` the piece in the middle of a
capture sequence. Repetition history is not part of the text.
"""
from __future__ import annotations

import re

import numpy as np

from boardnet.games.base import GameError, IllegalMoveError, ParseError

FULL = (1 << 32) - 1
M64 = (1 << 64) - 1
NUM_SQUARES = 32
ACTION_SIZE = 4 * NUM_SQUARES
NUM_PLANES = 8
BLACK, WHITE = 0, 1
_COLOUR = ("black", "white")

# Geometric directions in the standard diagram (Black at the top): up = towards squares 1-4.
UL, UR, DL, DR = 0, 1, 2, 3
_DIRS = ((-1, -1), (-1, 1), (1, -1), (1, 1))  # (row step, column step)
_FORWARD = ((DL, DR), (UL, UR))  # per player
_CROWN_ROW = (0xF << 28, 0xF)  # black men crown on 29-32, white men on 1-4


def _col(i: int) -> int:
    """Board column 0..7 (a..h) of square index i; rows of the diagram are 4 squares each."""
    return 2 * (i & 3) + 1 if (i >> 2) % 2 == 0 else 2 * (i & 3)


def _neighbour(i: int, g: int) -> int:
    if i < 0:
        return -1
    r, c = (i >> 2) + _DIRS[g][0], _col(i) + _DIRS[g][1]
    return r * 4 + c // 2 if 0 <= r < 8 and 0 <= c < 8 else -1


_NB = tuple(tuple(_neighbour(i, g) for i in range(32)) for g in range(4))
_JP = tuple(tuple(_neighbour(_NB[g][i], g) for i in range(32)) for g in range(4))
# Cell (row * 8 + column) of square index i in the standard diagram; also of mover-frame index j
# in the mover's planes, since turning the board 180 degrees maps the pattern onto itself.
_CELL = np.array([(i >> 2) * 8 + _col(i) for i in range(32)], dtype=np.int64)


def _back_pairs(g: int) -> tuple[int, int, int, int]:
    """(shift a, mask a, shift b, mask b): squares whose g-neighbour is in X are
    ((X >> a) & ma) | ((X >> b) & mb) for downward g, with << for upward g."""
    groups: dict[int, int] = {}
    for i in range(32):
        if _NB[g][i] >= 0:
            d = abs(_NB[g][i] - i)
            groups[d] = groups.get(d, 0) | 1 << i
    (a, ma), (b, mb) = sorted(groups.items())
    return a, ma, b, mb


_BACK = tuple(_back_pairs(g) for g in range(4))


def _mover_dir(p: int, g: int) -> int:
    """Mover-frame direction (0 FL, 1 FR, 2 BL, 3 BR) of geometric direction g for player p."""
    return g if p == WHITE else 3 - g  # Black's frame is the diagram turned 180 degrees


def _mover_sq(p: int, i: int) -> int:
    return i if p == WHITE else 31 - i


# _ACT[p][g][i]: action index; _SRC[p][a], _GEO[p][a]: its origin square index and direction.
_ACT = tuple(tuple(tuple(_mover_dir(p, g) * 32 + _mover_sq(p, i) for i in range(32))
                   for g in range(4)) for p in range(2))
_SRC = tuple(tuple(_mover_sq(p, a % 32) for a in range(ACTION_SIZE)) for p in range(2))
_GEO = tuple(tuple(_mover_dir(p, a // 32) for a in range(ACTION_SIZE)) for p in range(2))
# Plane gather per player: cell k of the first 5 planes ([5 * 64], flat) takes bit _GATHER[p][k]
# of the 5 boards x 32 squares (square index order); 160 is a zero bit for the light squares.
# Black's cells are turned 180 degrees. (A gather measured faster here than a scatter.)
_GATHER = []
for _p in range(2):
    _g = np.full(5 * 64, 160, dtype=np.int64)
    _g[(np.arange(5)[:, None] * 64 + _CELL[None, ::-1 if _p == BLACK else 1]).reshape(-1)] = \
        np.arange(160)
    _GATHER.append(_g)
_GATHER = tuple(_GATHER)
del _p, _g


# Per player, per direction: (forward?, downward?, shift a, mask a, shift b, mask b, actions by
# origin square). The loops below apply _back_pairs inline: a call per direction costs more.
_GEN = tuple(tuple((g in _FORWARD[p], g >= DL) + _BACK[g] + (_ACT[p][g],) for g in range(4))
             for p in range(2))


def _steps(p: int, own: int, kings: int, opp: int, empty: int) -> tuple[list[int], bool]:
    """Legal jumps for player p: (sorted actions, whether there are any). `own` may be
    restricted to one piece (mid-sequence); `kings` is the subset of `own` that are kings."""
    acts: list[int] = []
    for fwd, down, a, ma, b, mb, act in _GEN[p]:
        src = own if fwd else kings
        if src:
            if down:  # squares whose neighbour is an opponent with an empty square beyond
                t = opp & (((empty >> a) & ma) | ((empty >> b) & mb))
                x = src & (((t >> a) & ma) | ((t >> b) & mb))
            else:
                t = opp & (((empty << a) & ma) | ((empty << b) & mb))
                x = src & (((t << a) & ma) | ((t << b) & mb))
            while x:
                low = x & -x
                acts.append(act[low.bit_length() - 1])
                x ^= low
    if acts:
        acts.sort()
        return acts, True
    return acts, False


def _simple_steps(p: int, own: int, kings: int, empty: int) -> list[int]:
    acts: list[int] = []
    for fwd, down, a, ma, b, mb, act in _GEN[p]:
        src = own if fwd else kings
        if src:
            if down:
                x = src & (((empty >> a) & ma) | ((empty >> b) & mb))
            else:
                x = src & (((empty << a) & ma) | ((empty << b) & mb))
            while x:
                low = x & -x
                acts.append(act[low.bit_length() - 1])
                x ^= low
    acts.sort()
    return acts


def _squares(bits: int) -> list[int]:
    """Square numbers 1-32 of the set bits, ascending."""
    out = []
    while bits:
        b = bits & -bits
        out.append(b.bit_length())
        bits ^= b
    return out


class CheckersState:
    """A checkers position. Immutable; `apply` returns a new state."""

    __slots__ = ("game", "_p", "_k", "_turn", "_jumper", "_quiet", "_hist", "_reps", "_ply",
                 "_acts", "_cap", "_result")

    def __init__(self, game: "Checkers", pieces: tuple[int, int], kings: int, turn: int,
                 jumper: int = -1, quiet: int = 0, hist: tuple = (), ply: int = 0,
                 acts: list[int] | None = None, cap: bool = False):
        self.game = game
        self._p = pieces        # (black pieces, white pieces), bit i = square i + 1
        self._k = kings         # kings of both colours
        self._turn = turn
        self._jumper = jumper   # square index of the piece that must jump on, or -1
        self._quiet = quiet     # completed turns since the last capture or man move
        self._hist = hist       # keys of earlier turn-start positions since then
        self._reps = hist.count(self._key()) + 1 if hist else 1
        self._ply = ply
        self._acts = acts       # legal actions (sorted list), computed on first use
        self._cap = cap         # the legal actions are jumps
        self._result = 2 if acts else None  # 2 on, -1 draw, 0/1 winner; None: not known yet

    # --- internals -------------------------------------------------------------------------
    def _key(self) -> int:
        return self._p[0] | self._p[1] << 32 | self._k << 64 | self._turn << 96

    def _legal(self) -> list[int]:
        if self._result is None:
            p = self._turn
            own, opp = self._p[p], self._p[1 - p]
            if self._jumper >= 0:
                own &= 1 << self._jumper
            kings = own & self._k
            empty = ~(self._p[0] | self._p[1]) & FULL
            acts, cap = _steps(p, own, kings, opp, empty)
            if not cap and self._jumper < 0:
                acts = _simple_steps(p, own, kings, empty)
            self._cap = cap
            if not acts:
                self._result = 1 - p
            elif self._reps >= 3 or self._quiet >= self.game.no_progress_plies:
                self._result = -1
                acts = []
            else:
                self._result = 2
            self._acts = acts
        return self._acts

    # --- protocol ----------------------------------------------------------------------------
    @property
    def ply(self) -> int:
        """Actions (single steps) applied since the initial position or the position text."""
        return self._ply

    @property
    def mid_capture(self) -> bool:
        """True while a multi-jump is under way: the same player moves again, with that piece."""
        return self._jumper >= 0

    @property
    def no_progress(self) -> int:
        """Completed turns since the last capture or man move (the draw rule counts these)."""
        return self._quiet

    def no_progress_fraction(self) -> float:
        """How far the no-progress draw rule has run, 0 (just reset) to 1 (drawn): `no_progress /
        no_progress_plies`. Engines damp their evaluation with it (`NetEvaluator.shuffle_damping`)."""
        return self._quiet / self.game.no_progress_plies

    @property
    def repetitions(self) -> int:
        """How many times the current position has occurred (1 = first time)."""
        return self._reps

    def to_play(self) -> int:
        return self._turn

    def is_terminal(self) -> bool:
        self._legal()
        return self._result != 2

    def returns(self) -> np.ndarray:
        self._legal()
        r = np.zeros(2, dtype=np.float32)
        if self._result in (0, 1):
            r[self._result] = 1.0
            r[1 - self._result] = -1.0
        return r

    def winner(self) -> int | None:
        """0 (Black) or 1 (White) once won, None while on or drawn."""
        self._legal()
        return self._result if self._result in (0, 1) else None

    def legal_mask(self) -> np.ndarray:
        mask = np.zeros(ACTION_SIZE, dtype=bool)
        mask[self._legal()] = True
        return mask

    def legal_actions(self) -> np.ndarray:
        return np.array(self._legal(), dtype=np.int64)

    def apply(self, action: int) -> "CheckersState":
        action = int(action)
        acts = self._legal()
        if action not in acts:
            if not 0 <= action < ACTION_SIZE:
                raise IllegalMoveError(f"checkers action {action}: out of range 0-{ACTION_SIZE - 1}")
            raise IllegalMoveError(f"checkers action {action} ({self._step_text(action)}): "
                                   + self._why_illegal(action))
        p = self._turn
        i = _SRC[p][action]
        g = _GEO[p][action]
        src = 1 << i
        own, opp = self._p[p], self._p[1 - p]
        king = self._k & src
        if self._cap:
            mid = 1 << _NB[g][i]
            t = _JP[g][i]
            dst = 1 << t
            opp ^= mid
            own ^= src | dst
            kings = self._k & ~(src | mid)
            crowned = not king and dst & _CROWN_ROW[p]
            if king or crowned:
                kings |= dst
            pieces = (own, opp) if p == BLACK else (opp, own)
            if not crowned:  # a man crowned by a jump ends the move there
                more, _ = _steps(p, dst, kings & dst, opp, ~(own | opp) & FULL)
                if more:
                    return CheckersState(self.game, pieces, kings, p, t, 0, (), self._ply + 1,
                                         more, True)
            return CheckersState(self.game, pieces, kings, 1 - p, -1, 0, (), self._ply + 1)
        t = _NB[g][i]
        dst = 1 << t
        own ^= src | dst
        pieces = (own, opp) if p == BLACK else (opp, own)
        if king:
            # reversible: the position joins the repetition history
            return CheckersState(self.game, pieces, self._k ^ src ^ dst, 1 - p, -1,
                                 self._quiet + 1, self._hist + (self._key(),), self._ply + 1)
        kings = self._k | dst if dst & _CROWN_ROW[p] else self._k
        return CheckersState(self.game, pieces, kings, 1 - p, -1, 0, (), self._ply + 1)

    def planes(self) -> np.ndarray:
        """float32 `[8, 8, 8]` from the mover's side, the board turned so that it plays up
        (row 0 is its crowning row): 0 own men, 1 own kings, 2 opponent men, 3 opponent kings,
        4 the piece that must continue a capture, 5 all ones if the mover is Black,
        6 all ones if the position occurred before, 7 no-progress count / limit."""
        p = self._turn
        own, opp, k = self._p[p], self._p[1 - p], self._k
        x = (own & ~k) | (own & k) << 32 | (opp & ~k) << 64 | (opp & k) << 96
        if self._jumper >= 0:
            x |= 1 << (128 + self._jumper)
        bits = np.unpackbits(np.frombuffer(x.to_bytes(21, "little"), np.uint8),
                             bitorder="little")
        out = np.empty(NUM_PLANES * 64, dtype=np.float32)
        out[:320] = bits[_GATHER[p]]
        out[320:384] = 1.0 if p == BLACK else 0.0
        out[384:448] = 1.0 if self._reps > 1 else 0.0
        out[448:] = self._quiet / self.game.no_progress_plies
        return out.reshape(NUM_PLANES, 8, 8)

    def _step_squares(self, action: int) -> tuple[int, int] | None:
        """(from, to) square numbers 1-32 of a step as this position would play it, or None
        if it leaves the board."""
        p = self._turn
        i, g = _SRC[p][action], _GEO[p][action]
        self._legal()
        t = _JP[g][i] if self._cap else _NB[g][i]
        return None if t < 0 else (i + 1, t + 1)

    def _step_text(self, action: int) -> str:
        sq = self._step_squares(action)
        if sq is None:
            i = _SRC[self._turn][action]
            return f"{i + 1}{'x' if self._cap else '-'}off-board"
        return f"{sq[0]}{'x' if self._cap else '-'}{sq[1]}"

    def _why_illegal(self, action: int) -> str:
        if self.is_terminal():
            return "the game is over"
        p = self._turn
        i, g = _SRC[p][action], _GEO[p][action]
        if self._jumper >= 0 and i != self._jumper:
            return f"the capture must continue with the piece on {self._jumper + 1}"
        if not self._p[p] >> i & 1:
            return f"no {_COLOUR[p]} piece on {i + 1}"
        if g not in _FORWARD[p] and not self._k >> i & 1:
            return "a man cannot move backwards"
        if self._step_squares(action) is None:
            return "it leaves the board"
        if self._cap:
            return "a capture is compulsory and this step captures nothing"
        return "the square is taken"

    def action_to_text(self, action: int) -> str:
        """One step as `11-15` or `22x15` (from and to square numbers)."""
        action = int(action)
        if not 0 <= action < ACTION_SIZE:
            raise GameError(f"checkers action {action}: out of range 0-{ACTION_SIZE - 1}")
        if self._step_squares(action) is None:
            raise GameError(f"checkers action {action}: a step off the board from square "
                            f"{_SRC[self._turn][action] + 1}")
        return self._step_text(action)

    @staticmethod
    def _parse_squares(text: str) -> list[int]:
        """Square numbers of a move text such as '11-15' or '22x15x8'."""
        if not isinstance(text, str):
            raise ParseError(f"checkers move {text!r}: expected a string")
        t = text.strip().lower()
        if not re.fullmatch(r"\d+(\s*[-x]\s*\d+)+", t):
            raise ParseError(f"checkers move {text!r}: expected square numbers joined by '-' or "
                             "'x', e.g. '11-15' or '22x15x8'")
        squares = [int(s) for s in re.split(r"\s*[-x]\s*", t)]
        for s in squares:
            if not 1 <= s <= 32:
                raise ParseError(f"checkers move {text!r}: square {s} is not in 1-32")
        return squares

    def text_to_action(self, text: str) -> int:
        """One step, `11-15` or `22x15`; a multi-jump text is refused (see text_to_actions)."""
        squares = self._parse_squares(text)
        if len(squares) != 2:
            raise ParseError(f"checkers move {text!r}: {len(squares) - 1} steps; text_to_action "
                             "reads one step, use text_to_actions for a whole multi-jump")
        for a in self._legal():
            if self._step_squares(a) == (squares[0], squares[1]):
                return a
        raise IllegalMoveError(f"checkers move {text!r}: {self._why_text_illegal(squares)}")

    def text_to_actions(self, text: str) -> list[int]:
        """A whole move as its steps: `11-15`, `22x15x8`, or the short form `22x8` when only one
        capture path joins the squares. At the start of a turn the move must be complete; in the
        middle of a capture sequence the text gives the rest of it, from the jumping piece."""
        squares = self._parse_squares(text)
        matches = []
        for path, actions in self._full_moves():
            if path[0] == squares[0] and path[-1] == squares[-1] and _subsequence(squares, path):
                matches.append((path, actions))
        if len(matches) == 1:
            return list(matches[0][1])
        if len(matches) > 1:
            options = ", ".join("x".join(map(str, m[0])) for m in matches)
            raise IllegalMoveError(f"checkers move {text!r}: ambiguous, it fits {options}; "
                                   "give the squares in between")
        raise IllegalMoveError(f"checkers move {text!r}: {self._why_text_illegal(squares)}")

    def _why_text_illegal(self, squares: list[int]) -> str:
        if self.is_terminal():
            return "the game is over"
        p = self._turn
        s = squares[0] - 1
        if self._jumper >= 0 and s != self._jumper:
            return f"the capture must continue with the piece on {self._jumper + 1}"
        if not self._p[p] >> s & 1:
            return f"no {_COLOUR[p]} piece on {squares[0]}"
        for path, _ in self._full_moves():
            if len(path) > len(squares) and path[:len(squares)] == squares:
                return f"the capture is not complete, it must go on from {squares[-1]}"
        legal = ", ".join(self.legal_moves_text())
        if self._cap and len(squares) == 2 and any(_NB[g][s] == squares[1] - 1 for g in range(4)):
            return f"a capture is compulsory (legal: {legal})"
        return f"not a legal move here (legal: {legal})"

    def _full_moves(self) -> list[tuple[list[int], list[int]]]:
        """Every legal whole move (the rest of the sequence when mid-capture), sorted:
        (squares visited, steps)."""
        out: list[tuple[list[int], list[int]]] = []
        p = self._turn

        def walk(state: CheckersState, path: list[int], steps: list[int]) -> None:
            for a in state._legal():
                frm, to = state._step_squares(a)
                child = state.apply(a)
                more = (path or [frm]) + [to]
                if child._turn == p and child._jumper >= 0:
                    walk(child, more, steps + [a])
                else:
                    out.append((more, steps + [a]))

        if not self.is_terminal():
            walk(self, [], [])
        out.sort()
        return out

    def legal_moves(self) -> list[tuple[str, list[int]]]:
        """Every legal whole move as (text such as '22x15x8', its steps as actions)."""
        moves = self._full_moves()  # computes self._cap first
        sep = "x" if self._cap else "-"
        return [(sep.join(map(str, path)), steps) for path, steps in moves]

    def legal_moves_text(self) -> list[str]:
        return [t for t, _ in self.legal_moves()]

    def eval_key(self) -> tuple:
        """The evaluator's cache key: :meth:`hash` plus what planes 6 and 7 read (repetition, no-progress count)."""
        return (self.hash(), self._reps > 1, self._quiet)

    def hash(self) -> int:
        """64-bit key of pieces, side to move and jumping piece (not the draw counters)."""
        x = self._p[0] | self._p[1] << 32
        x ^= (self._k * 0x9E3779B97F4A7C15
              + (self._turn + 2 * (self._jumper + 1)) * 0xD6E8FEB86659FD93) & M64
        x ^= x >> 30
        x = x * 0xBF58476D1CE4E5B9 & M64
        x ^= x >> 27
        x = x * 0x94D049BB133111EB & M64
        return x ^ x >> 31

    def to_text(self) -> str:
        """PDN FEN, e.g. 'B:W21,22,K31:B1,2,K12' (+ ':H<n>' / ':J<sq>' when needed)."""
        fields = ["B" if self._turn == BLACK else "W"]
        for colour, p in (("W", WHITE), ("B", BLACK)):
            # PDN habit: men first, then kings, each ascending
            men = [str(s) for s in _squares(self._p[p] & ~self._k)]
            kings = [f"K{s}" for s in _squares(self._p[p] & self._k)]
            fields.append(colour + ",".join(men + kings))
        if self._quiet:
            fields.append(f"H{self._quiet}")
        if self._jumper >= 0:
            fields.append(f"J{self._jumper + 1}")
        return ":".join(fields)

    def __str__(self) -> str:
        rows = []
        for r in range(8):
            cells = []
            for c in range(8):
                if (r + c) % 2 == 0:
                    cells.append(" ")
                    continue
                i = r * 4 + c // 2
                ch = "."
                for p, sym in ((BLACK, "b"), (WHITE, "w")):
                    if self._p[p] >> i & 1:
                        ch = sym.upper() if self._k >> i & 1 else sym
                cells.append(ch)
            rows.append(f"{8 - r} " + " ".join(cells))
        rows.append("  a b c d e f g h")
        rows.append(f"{_COLOUR[self._turn]} to move" + (f", capturing with {self._jumper + 1}"
                                                        if self._jumper >= 0 else ""))
        return "\n".join(rows)

    def __repr__(self) -> str:
        return f"CheckersState({self.to_text()!r})"


def _subsequence(short: list[int], long: list[int]) -> bool:
    it = iter(long)
    return all(s in it for s in short)


_FEN_ITEM = re.compile(r"(k?)(\d+)(?:-(\d+))?")


class Checkers:
    """English draughts. `no_progress_plies`: turns without a capture or man move before a draw."""

    name = "checkers"
    num_players = 2
    action_size = ACTION_SIZE
    obs_shape = (NUM_PLANES, 8, 8)
    num_symmetries = 1  # a mirror swaps dark and light squares; the 180-degree turn swaps sides
    # capabilities (see boardnet/games/base.py)
    has_pass = False
    has_komi = False
    resizable = False
    scoring = "outcome"
    protocol = "gtp"
    record_format = "pdn"
    multi_action_turns = True   # a multi-jump is one action per jump by the same side
    column_moves = False
    side_names = ("Black", "White")
    real_planes = ()

    def __init__(self, no_progress_plies: int = 80):
        if isinstance(no_progress_plies, bool) or not isinstance(no_progress_plies, int) \
                or no_progress_plies < 1:
            raise ValueError(f"checkers no_progress_plies={no_progress_plies!r}: "
                             "expected a positive integer")
        self.no_progress_plies = no_progress_plies

    def initial_state(self) -> CheckersState:
        return CheckersState(self, (0xFFF, 0xFFF << 20), 0, BLACK)

    def state_from_text(self, text: str) -> CheckersState:
        """Read PDN FEN such as 'B:W21-32:B1-12' or 'W:W21,22,K3:B1,2' (+ optional H<n>, J<sq>)."""
        if not isinstance(text, str):
            raise ParseError(f"checkers position {text!r}: expected a string")
        t = text.strip().rstrip(".").strip().upper().replace(" ", "")
        fields = t.split(":")
        if len(fields) < 3 or fields[0] not in ("W", "B"):
            raise ParseError(f"checkers position {text!r}: expected 'W' or 'B' (side to move) "
                             "then ':W<squares>:B<squares>'")
        turn = BLACK if fields[0] == "B" else WHITE
        pieces = [None, None]
        kings = 0
        quiet, jumper = 0, -1
        for f in fields[1:]:
            head, body = f[:1], f[1:]
            if head in ("W", "B"):
                p = WHITE if head == "W" else BLACK
                if pieces[p] is not None:
                    raise ParseError(f"checkers position {text!r}: two {_COLOUR[p]} fields")
                bits = 0
                for item in filter(None, body.split(",")):
                    m = _FEN_ITEM.fullmatch(item.lower())
                    if not m:
                        raise ParseError(f"checkers position {text!r}: cannot read {item!r} "
                                         "(expected a square 1-32, K before a king, or a range a-b)")
                    lo = int(m.group(2))
                    hi = int(m.group(3)) if m.group(3) else lo
                    if not (1 <= lo <= hi <= 32):
                        raise ParseError(f"checkers position {text!r}: {item!r} is not a square "
                                         "(or ascending range) in 1-32")
                    for s in range(lo, hi + 1):
                        b = 1 << (s - 1)
                        if bits & b or (pieces[1 - p] or 0) & b:
                            raise ParseError(f"checkers position {text!r}: square {s} given twice")
                        bits |= b
                        if m.group(1):
                            kings |= b
                pieces[p] = bits
            elif head == "H" and body.isdigit():
                quiet = int(body)
            elif head == "J" and body.isdigit() and 1 <= int(body) <= 32:
                jumper = int(body) - 1
            else:
                raise ParseError(f"checkers position {text!r}: cannot read field {f!r}")
        if pieces[0] is None or pieces[1] is None:
            raise ParseError(f"checkers position {text!r}: needs a W field and a B field")
        if pieces[0] & pieces[1]:
            s = _squares(pieces[0] & pieces[1])[0]
            raise ParseError(f"checkers position {text!r}: square {s} given twice")
        for p in (BLACK, WHITE):
            if bin(pieces[p]).count("1") > 12:
                raise ParseError(f"checkers position {text!r}: more than 12 {_COLOUR[p]} pieces")
            men_crowned = pieces[p] & ~kings & _CROWN_ROW[p]
            if men_crowned:
                raise ParseError(f"checkers position {text!r}: {_COLOUR[p]} man on "
                                 f"{_squares(men_crowned)[0]} should be a king (crowning row)")
        if quiet >= self.no_progress_plies:
            raise ParseError(f"checkers position {text!r}: H{quiet} is not below the "
                             f"no-progress limit {self.no_progress_plies}")
        state = CheckersState(self, (pieces[0], pieces[1]), kings, turn, jumper, quiet)
        if jumper >= 0:
            if not pieces[turn] >> jumper & 1:
                raise ParseError(f"checkers position {text!r}: J{jumper + 1} is not a "
                                 f"{_COLOUR[turn]} piece")
            if quiet:
                raise ParseError(f"checkers position {text!r}: H must be 0 during a capture")
            if not (state._legal() and state._cap):
                raise ParseError(f"checkers position {text!r}: the piece on {jumper + 1} has "
                                 "no capture to continue")
        return state

    def transform(self, planes, policy, k):
        """Only the identity: no board symmetry keeps both the square colours and the sides."""
        if k != 0:
            raise ValueError(f"checkers symmetry {k}: only 0 (identity) exists")
        return planes, policy

    def inverse(self, k: int) -> int:
        if k != 0:
            raise ValueError(f"checkers symmetry {k}: only 0 (identity) exists")
        return 0
