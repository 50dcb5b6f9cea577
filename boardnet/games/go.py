"""Go on an N x N board (5 <= N <= 19) with Tromp-Taylor area scoring and positional superko.

Rules: captures; suicide (single or multi-stone) is illegal; a play that recreates any earlier
board of the game line is illegal (positional superko: stones only, side to move ignored; passes
never violate it); pass is always legal; the game ends after two consecutive passes or when
`ply` reaches the move cap `max_moves` (default 2*N*N), and is then scored by area: stones plus
empty regions that touch only one colour, white getting `komi`.

Players: 0 = black (moves first), 1 = white. `returns()` is +1/-1 by the sign of
`score()` = black area - white area - komi, 0 for an exact tie (possible with integer komi).

Actions: `N*N + 1` integers; `r*N + c` is the point in row r counted from the TOP row and column
c from the left (GTP "A19" is action 0 on 19x19), and `N*N` is pass. Text is GTP vertices
("D4", columns A-T skipping I, rows 1..N from the bottom, case-insensitive, "pass").

Observation `planes()`: float32 `[25, N, N]` from the view of the side to move:
    0..15  for i = 0..7: plane 2i = own stones, 2i+1 = opponent stones, i plies ago
           (i = 0 is the current board; before the start of the line the planes are 0;
           "own" is the colour to move now, in every history plane)
    16     1 if black is to move, else 0
    17..19 own stones in groups with 1, 2, >= 3 liberties
    20..22 opponent stones in groups with 1, 2, >= 3 liberties
    23     points where a play is forbidden only by (super)ko: empty, not suicide, but it would
           repeat an earlier board
    24     ones (lets a convolution see the edge of the board)

Position text (`to_text` / `Go.state_from_text`):
    "<N> <komi> <b|w> <row/row/.../row> [move ...]"
the start board as N rows from the top ('.' empty, 'x' black, 'o' white), the colour to move at
that start, then the moves played since it as GTP vertices, e.g.
    "5 7.0 b ...../...../..x../...../..... C3 pass". A state read from a bare board (no moves) has
that board as its whole history: ply 0, no earlier positions for superko or the history planes;
replaying the moves rebuilds both exactly, so the text round-trips.

Hashes: 64-bit Zobrist keys (fixed seed per board size). `hash()` covers the stones and the side
to move; it does not cover the superko history or the pass count.

`Go.name` is "go<N>" (e.g. "go9"), which `make_game` reads back.

Implementation (speed: random 9x9 play-outs with planes at every ply run at about a third of
OpenSpiel's C++ speed, see docs/benchmarks.md): Python-int bitboards (bit r*N+c); groups kept
incrementally as (stones, liberties, zobrist) triples per colour, with the stones of groups
with 1, 2, >= 3 liberties as six bitboards, so the legal mask is one dilation; superko
hashes bucketed by stone count, so the repeat test looks at a few boards only; the last 8
boards packed into one int, so the planes are one `to_bytes` and one table lookup.
"""
from __future__ import annotations

import math

import numpy as np

from boardnet.games.base import IllegalMoveError, ParseError
from boardnet.games.symmetry import D4_SIZE, d4_inverse, d4_transform

COLUMNS = "ABCDEFGHJKLMNOPQRST"  # GTP skips I
HISTORY = 8
NUM_PLANES = 2 * HISTORY + 1 + 6 + 1 + 1
BLACK, WHITE = 0, 1
MIN_SIZE, MAX_SIZE = 5, 19
_STONE_CHARS = ".xo"
_BYTE_BITS = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1,
                           bitorder="little").astype(np.float32)  # [256, 8], bit j of byte i


_RECENT = 32
_H64 = (1 << 64) - 1


def _seen_has(seen: tuple[dict, tuple], count: int, h: int) -> bool:
    """Whether board hash h with `count` stones is in the line's history."""
    return (count << 64 | h) in seen[1] or h in seen[0].get(count, ())


def _seen_bucket(seen: tuple[dict, tuple], count: int) -> list[int]:
    """Hashes of the earlier boards with `count` stones."""
    out = list(seen[0].get(count, ()))
    out += [k & _H64 for k in seen[1] if k >> 64 == count]
    return out


def _seen_fold(base: dict, recent: tuple) -> tuple[dict, tuple]:
    base = dict(base)
    for k in recent:
        count, h = k >> 64, k & _H64
        old = base.get(count)
        base[count] = frozenset((h,)) if old is None else old | {h}
    return base, ()


def _default_komi(n: int) -> float:
    return 7.0 if n <= 13 else 7.5


class GoState:
    """A Go position (immutable). Build through `Go.initial_state` or `Go.state_from_text`."""

    # _groups: per colour a tuple of (stones, liberties, zobrist) bitboard triples.
    # _cls: per colour the stones of groups with 1, 2, >= 3 liberties (bitboards), kept up to
    #   date by apply so that the legal mask needs no pass over the groups.
    # _seen: every board hash of the line (positional superko) as (base, recent): base is
    #   {stone count: frozenset of hashes}, shared between states; recent a tuple of up to
    #   _RECENT keys count << 64 | hash, folded into a new base when full (no per-move copy).
    # _hb / _hw: the last HISTORY boards packed as one int, plane i at bits [i*N*N, (i+1)*N*N),
    #   black-first / white-first, ready for planes().
    # _capt: points where black / white stones were ever captured in this line (bitboards).
    # _last: point of the latest stone placed, -1 if none; _moves: (action, previous) cons list.
    __slots__ = ("game", "_b", "_w", "_groups", "_cls", "_to_play", "_ply", "_passes", "_bh",
                 "_seen", "_hb", "_hw", "_moves", "_last", "_capt", "_info", "_root")

    # -- protocol ------------------------------------------------------------------------------
    @property
    def ply(self) -> int:
        return self._ply

    def to_play(self) -> int:
        return self._to_play

    def is_terminal(self) -> bool:
        return self._passes >= 2 or self._ply >= self.game.max_moves

    def returns(self) -> np.ndarray:
        r = np.zeros(2, dtype=np.float32)
        if self.is_terminal():
            s = self.score()
            if s > 0:
                r[0], r[1] = 1.0, -1.0
            elif s < 0:
                r[0], r[1] = -1.0, 1.0
        return r

    def legal_mask(self) -> np.ndarray:
        g = self.game
        bits = (self._info or self._analyse())[0]
        return np.unpackbits(np.frombuffer(bits.to_bytes(g._mask_bytes, "little"), np.uint8),
                             count=g.action_size, bitorder="little").view(bool)

    def legal_actions(self) -> np.ndarray:
        return self.legal_mask().nonzero()[0]

    def apply(self, action: int) -> "GoState":
        g = self.game
        a = int(action)
        if self._passes >= 2 or self._ply >= g.max_moves:
            raise IllegalMoveError(f"go move {self._text(a)}: game is over")
        c = self._to_play
        nn = g._nn
        if a == nn:
            if g.pass_after and not self.legal_mask()[nn]:
                raise IllegalMoveError(f"go move pass: not allowed before ply {g.pass_after} in this "
                                       f"self-play game (pass_after={g.pass_after})")
            return self._next(self._b, self._w, self._groups, self._cls, self._bh, self._seen,
                              self._last, self._capt, self._passes + 1, a)
        if not 0 <= a < nn:
            raise IllegalMoveError(f"go action {a}: out of range 0-{nn}")
        bit = 1 << a
        b, w = self._b, self._w
        occ = b | w
        if occ & bit:
            raise IllegalMoveError(f"go move {self._text(a)}: point is occupied")
        zc = g._z[c]
        zh = zc[a]
        stones = bit
        libs = g._nbr[a] & ~occ
        groups = self._groups
        own = []
        for grp in groups[c]:
            if grp[1] & bit:  # an own group with this liberty touches the new stone: merge
                stones |= grp[0]
                libs |= grp[1]
                zh ^= grp[2]
            else:
                own.append(grp)
        x1, x2, x3 = self._cls[1 - c]
        captured = 0
        capz = 0
        opp = []
        touched = False
        for grp in groups[1 - c]:
            lib = grp[1]
            if lib & bit:
                touched = True
                s = grp[0]
                lib ^= bit
                if not lib:
                    captured |= s
                    capz ^= grp[2]
                    x1 &= ~s
                    continue
                opp.append((s, lib, grp[2]))
                m = lib & (lib - 1)
                if not m:  # 2 -> 1 liberty
                    x2 &= ~s
                    x1 |= s
                elif not m & (m - 1):  # 3 -> 2
                    x3 &= ~s
                    x2 |= s
            else:
                opp.append(grp)
        opp = tuple(opp) if touched else groups[1 - c]  # untouched: share the tuple
        libs &= ~bit
        o1, o2, o3 = self._cls[c]
        capt = self._capt
        if captured:
            # A captured group touches only stones of the capturer, so only their groups gain.
            dil = g._dilate
            near = dil(captured)
            if stones & near:
                libs |= dil(stones) & captured
            for i, grp in enumerate(own):
                s = grp[0]
                if s & near:
                    lib = grp[1] | (dil(s) & captured)
                    own[i] = (s, lib, grp[2])
                    o1 &= ~s
                    o2 &= ~s
                    o3 &= ~s
                    m = lib & (lib - 1)
                    if not m:
                        o1 |= s
                    elif not m & (m - 1):
                        o2 |= s
                    else:
                        o3 |= s
            capt = (capt[0] | captured, capt[1]) if c else (capt[0], capt[1] | captured)
        elif not libs:
            raise IllegalMoveError(f"go move {self._text(a)}: suicide")
        own.append((stones, libs, zh))
        o1 &= ~stones
        o2 &= ~stones
        o3 &= ~stones
        m = libs & (libs - 1)
        if not m:
            o1 |= stones
        elif not m & (m - 1):
            o2 |= stones
        else:
            o3 |= stones
        bh = self._bh ^ zc[a] ^ capz
        count = occ.bit_count() + 1 - captured.bit_count()
        seen = self._seen
        last = self._last
        if last >= 0 and ((self._capt[0 if (b >> last) & 1 else 1] | captured) >> last) & 1 \
                and _seen_has(seen, count, bh):  # see _analyse for why the test may be skipped
            raise IllegalMoveError(f"go move {self._text(a)}: repeats an earlier position (superko)")
        recent = seen[1] + (count << 64 | bh,)
        seen = (seen[0], recent) if len(recent) < _RECENT else _seen_fold(seen[0], recent)
        if c:
            return self._next(b & ~captured, w | bit, (opp, tuple(own)),
                              ((x1, x2, x3), (o1, o2, o3)), bh, seen, a, capt, 0, a)
        return self._next(b | bit, w & ~captured, (tuple(own), opp),
                          ((o1, o2, o3), (x1, x2, x3)), bh, seen, a, capt, 0, a)

    def _next(self, b, w, groups, cls, bh, seen, last, capt, passes, action) -> "GoState":
        g = self.game
        nn = g._nn
        s = GoState.__new__(GoState)
        s.game = g
        s._b = b
        s._w = w
        s._groups = groups
        s._cls = cls
        s._to_play = 1 - self._to_play
        s._ply = self._ply + 1
        s._passes = passes
        s._bh = bh
        s._seen = seen
        s._hb = ((self._hb << 2 * nn) | b | (w << nn)) & g._hist_mask
        s._hw = ((self._hw << 2 * nn) | w | (b << nn)) & g._hist_mask
        s._moves = (action, self._moves)
        s._last = last
        s._capt = capt
        s._info = None
        s._root = self._root
        return s

    def _analyse(self) -> tuple[int, int]:
        """Cache (legal bits incl. the pass bit, (super)ko-forbidden bits)."""
        g = self.game
        c = self._to_play
        b, w = self._b, self._w
        occ = b | w
        empty = g._full & ~occ
        n = g.n
        o1, o2, o3 = self._cls[c]
        x1 = self._cls[1 - c][0]
        # Not suicide: next to an empty point, to an own group with >= 2 liberties, or to an
        # opponent group in atari (the play captures it). All three are one dilation.
        src = empty | o2 | o3 | x1
        legal = empty & (((src << 1) & g._not_c0) | ((src >> 1) & g._not_cl) | (src << n)
                         | (src >> n))
        ko = 0
        last = self._last
        # A play that recreates an earlier board B' must capture the latest-placed stone m or
        # leave it on the board; in the latter case B' held m too, so m was captured (and
        # replayed) since B', because every board after m was placed equals the current one
        # (only passes followed). So without either there is nothing to test.
        if last >= 0:
            d = 0 if (b >> last) & 1 else 1
            full = (self._capt[d] >> last) & 1
            if full or (d != c and (x1 >> last) & 1):
                seen = self._seen
                count = occ.bit_count()
                bh = self._bh
                zc = g._z[c]
                caps = 0
                if x1:
                    caps = empty & g._dilate(x1)
                    capz = {}
                    for s, lib, z in self._groups[1 - c]:
                        if not lib & (lib - 1):  # several groups may share their last liberty
                            old = capz.get(lib)
                            capz[lib] = (z, s.bit_count()) if old is None else \
                                (old[0] ^ z, old[1] + s.bit_count())
                    for lib, (z, k) in capz.items():
                        if _seen_has(seen, count + 1 - k, bh ^ zc[lib.bit_length() - 1] ^ z):
                            ko |= lib
                if full:  # non-capturing plays: board + p against the boards with one more stone
                    hashes = _seen_bucket(seen, count + 1)
                    if hashes:
                        zpt = g._zpoint[c]
                        for v in {h ^ bh for h in hashes} & g._zset[c]:
                            bit = 1 << zpt[v]
                            if bit & legal & ~caps:
                                ko |= bit
                legal &= ~ko
        if self._passes >= 2 or self._ply >= g.max_moves:
            legal = 0
        elif self._ply >= g.pass_after or not legal:
            legal |= 1 << g._nn
        info = (legal, ko)
        self._info = info
        return info

    def planes(self) -> np.ndarray:
        g = self.game
        ko = (self._info or self._analyse())[1]
        nn = g._nn
        c = self._to_play
        o1, o2, o3 = self._cls[c]
        x1, x2, x3 = self._cls[1 - c]
        # All 25 planes as one packed int, plane i at bits [i*nn, (i+1)*nn): one to_bytes and
        # one table lookup for the whole observation instead of one conversion per plane.
        rest = o1 | o2 << nn | o3 << 2 * nn | x1 << 3 * nn | x2 << 4 * nn | x3 << 5 * nn | ko << 6 * nn
        packed = (self._hw if c else self._hb) | g._const_planes[c] | rest << (2 * HISTORY + 1) * nn
        raw = np.frombuffer(packed.to_bytes(g._planes_bytes, "little"), np.uint8)
        # byte -> its 8 bits as float32 in one gather (cheaper than unpackbits + astype)
        return _BYTE_BITS.take(raw, axis=0).reshape(-1)[: NUM_PLANES * nn].reshape(g.obs_shape)

    def action_to_text(self, action: int) -> str:
        return self.game.action_to_text(action)

    def text_to_action(self, text: str) -> int:
        a = self.game.text_to_action(text)
        if not (self._info or self._analyse())[0] >> a & 1:
            raise IllegalMoveError(f"go move {text!r}: {self._why_illegal(a)}")
        return a

    def hash(self) -> int:
        return self._bh ^ self.game._zside if self._to_play else self._bh

    def eval_key(self) -> tuple:
        """The evaluator's cache key: what planes() reads (the last boards, side to move, the ko point), so a
        transposition with another history or ko is evaluated afresh. Superko beyond those boards can still
        differ in legal moves; the search expands by each state's own legal moves."""
        return (self._hb, self._to_play, (self._info or self._analyse())[1])

    def to_text(self) -> str:
        g = self.game
        moves = []
        node = self._moves
        while node is not None:
            moves.append(node[0])
            node = node[1]
        start_b, start_w, start_tp = self._root  # the board the line started from
        toks = [str(g.n), repr(float(g.komi)), "bw"[start_tp], g._board_text(start_b, start_w)]
        toks += [g.action_to_text(a) for a in reversed(moves)]
        return " ".join(toks)

    # -- Go helpers for front ends ---------------------------------------------------------------
    def score(self) -> float:
        """Tromp-Taylor area score of the current board: black area - white area - komi."""
        b, w = self._b, self._w
        black = b.bit_count()
        white = w.bit_count()
        for region, border in self._empty_regions():
            if border & b:
                if not border & w:
                    black += region.bit_count()
            elif border & w:
                white += region.bit_count()
        return black - white - self.game.komi

    def area_ownership(self) -> np.ndarray:
        """Tromp-Taylor owner of every point, int8 `[N, N]` laid out as `board()`: +1 Black (a black stone,
        or an empty point whose region reaches black stones only), -1 White, 0 neither (dame). Its sum is
        `score() + komi`; self-play trains an ownership head on it at the end of a game."""
        b, w = self._b, self._w
        for region, border in self._empty_regions():
            if border & b and not border & w:
                b |= region
            elif border & w and not border & b:
                w |= region
        black, white = self._points(b, w)
        return black - white

    def _points(self, b: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Two bitboards as int8 0/1 `[N, N]` arrays laid out as `board()`."""
        g = self.game
        nb = g._plane_bytes
        raw = np.frombuffer(b.to_bytes(nb, "little") + w.to_bytes(nb, "little"), np.uint8).reshape(2, nb)
        bits = np.unpackbits(raw, axis=1, count=g._nn, bitorder="little").astype(np.int8)
        return bits[0].reshape(g.n, g.n), bits[1].reshape(g.n, g.n)

    def _empty_regions(self):
        """(region, border) bitboards for each connected region of empty points; border = the stones
        next to it."""
        g = self.game
        occ = self._b | self._w
        empty = g._full & ~occ
        dil = g._dilate
        rest = empty
        while rest:
            region = rest & -rest
            while True:
                grown = region | (dil(region) & empty)
                if grown == region:
                    break
                region = grown
            rest &= ~region
            yield region, dil(region) & occ

    def settled(self, max_dame: int = 3) -> bool:
        """Whether the board is finished enough to pass on: every empty region touches stones of one
        colour only, except neutral regions (dame) of at most `max_dame` points, and both colours
        have stones. An open board, a half-closed border, or a dead stone still standing inside the
        other side's area (its region then touches both colours) all count as not settled, so
        Tromp-Taylor scoring of a settled board mostly agrees with a dead-stone count. Not always: dead
        stones that enclose a few points of their own (two eyes' worth of space they cannot make into two
        eyes) make a region of their colour; the players' pass rule takes them first
        (`boardnet.players.go_cleanup_move`)."""
        b, w = self._b, self._w
        if not b or not w:
            return False
        return not any(border & b and border & w and region.bit_count() > max_dame
                       for region, border in self._empty_regions())

    def board(self) -> np.ndarray:
        """int8 `[N, N]`, row 0 = top row (GTP row N): 0 empty, 1 black, 2 white."""
        black, white = self._points(self._b, self._w)
        return black + 2 * white

    def ascii(self) -> str:
        """Board drawing: 'X' black, 'O' white, '.' empty, GTP coordinates round the edge."""
        g = self.game
        n = g.n
        letters = "   " + " ".join(COLUMNS[:n])
        rows = [letters]
        for r in range(n):
            cells = []
            for col in range(n):
                i = r * n + col
                cells.append("X" if self._b >> i & 1 else "O" if self._w >> i & 1 else ".")
            rows.append(f"{n - r:2d} " + " ".join(cells) + f" {n - r:2d}")
        rows.append(letters)
        return "\n".join(rows)

    def last_action(self) -> int | None:
        """The action that led here, None at the start of the line."""
        return None if self._moves is None else self._moves[0]

    def consecutive_passes(self) -> int:
        return self._passes

    def hand_over(self) -> "GoState":
        """The same board with the other side to move, as if the side to move had passed, but without a pass
        that counts toward the two that end the game (it clears the count): GTP's `play` for the colour not
        to move. Recorded as a pass in the line (`last_action`), one ply on."""
        if self.is_terminal():
            raise IllegalMoveError("go: game is over; nothing to hand over")
        g = self.game
        return self._next(self._b, self._w, self._groups, self._cls, self._bh, self._seen, self._last,
                          self._capt, 0, g._nn)

    def resumed(self) -> "GoState":
        """After two passes ended the game: the same position and side to move with the pass count cleared,
        so play goes on (GTP controllers resume a game to settle dead stones). Not a move: same ply and
        `last_action`. A game ended by the move cap cannot be resumed."""
        if self._ply >= self.game.max_moves:
            raise IllegalMoveError(f"go: game is over (move cap {self.game.max_moves})")
        s = GoState.__new__(GoState)
        for k in GoState.__slots__:
            setattr(s, k, getattr(self, k))
        s._passes = 0
        s._info = None
        return s

    def stone_counts(self) -> tuple[int, int]:
        """(black stones, white stones) on the board."""
        return self._b.bit_count(), self._w.bit_count()

    # -- internals -----------------------------------------------------------------------------
    def _text(self, a: int) -> str:
        try:
            return self.game.action_to_text(a)
        except ValueError:
            return str(a)

    def _why_illegal(self, a: int) -> str:
        try:
            self.apply(a)
        except IllegalMoveError as e:
            return str(e).split(": ", 1)[-1]
        return "not legal"  # pragma: no cover - apply and the mask agree (tested)

    def __str__(self) -> str:
        return self.ascii()

    def __repr__(self) -> str:
        return f"GoState({self.to_text()!r})"


_ZOBRIST: dict[int, tuple[list[int], list[int], int]] = {}


def _zobrist(n: int) -> tuple[list[int], list[int], int]:
    """Per-size 64-bit keys (black per point, white per point, white-to-move), fixed seed."""
    if n not in _ZOBRIST:
        keys = np.random.default_rng(0x5EED_0060 + n).integers(
            1, 2**64, size=2 * n * n + 1, dtype=np.uint64, endpoint=False).tolist()
        _ZOBRIST[n] = (keys[: n * n], keys[n * n: 2 * n * n], keys[-1])
    return _ZOBRIST[n]


class Go:
    """Go rules for one board size, komi and move cap (see the module docstring)."""

    name = "go"
    num_players = 2
    num_symmetries = D4_SIZE
    # capabilities (see boardnet/games/base.py)
    has_pass = True
    has_komi = True
    resizable = True
    scoring = "area"
    protocol = "gtp"
    record_format = "sgf"
    multi_action_turns = False
    column_moves = False
    side_names = ("Black", "White")
    real_planes = ()

    def __init__(self, board_size: int = 9, komi: float | None = None, max_moves: int | None = None,
                 pass_after: int = 0):
        """`pass_after`: a self-play training aid, not a rule of Go. Passing is legal only from that ply on
        (or when no board move is legal). Without it, early self-play collapses: once the value head says
        Black loses anyway, Black passes, White passes back and wins on komi, and every game is two plies
        long. 0 (the default, used for play and GTP) allows passing at any time."""
        if isinstance(board_size, bool) or not isinstance(board_size, (int, np.integer)) \
                or not MIN_SIZE <= board_size <= MAX_SIZE:
            raise ValueError(f"go board_size {board_size!r}: expected an integer {MIN_SIZE}-{MAX_SIZE}")
        n = int(board_size)
        if komi is None:
            komi = _default_komi(n)
        try:
            komi_f = float(komi)
        except (TypeError, ValueError):
            raise ValueError(f"go komi {komi!r}: expected a number") from None
        if not math.isfinite(komi_f):
            raise ValueError(f"go komi {komi!r}: expected a finite number")
        if max_moves is None:
            max_moves = 2 * n * n
        if isinstance(max_moves, bool) or not isinstance(max_moves, (int, np.integer)) or max_moves < 1:
            raise ValueError(f"go max_moves {max_moves!r}: expected a positive integer")
        if isinstance(pass_after, bool) or not isinstance(pass_after, (int, np.integer)) or pass_after < 0:
            raise ValueError(f"go pass_after {pass_after!r}: expected an integer >= 0")
        self.n = self.board_size = n
        self.komi = komi_f
        self.max_moves = int(max_moves)
        self.pass_after = int(pass_after)
        self.action_size = n * n + 1
        self.pass_action = n * n
        self.obs_shape = (NUM_PLANES, n, n)
        self.name = f"go{n}"

        nn = n * n
        self._nn = nn
        self._full = (1 << nn) - 1
        col0 = sum(1 << (r * n) for r in range(n))
        coll = col0 << (n - 1)
        self._not_c0 = self._full & ~col0
        self._not_cl = self._full & ~coll
        full, not_c0, not_cl = self._full, self._not_c0, self._not_cl

        def dilate(x: int) -> int:
            """The 4-neighbours of the points in x (x itself excluded unless adjacent)."""
            return (((x << 1) & not_c0) | ((x >> 1) & not_cl) | (x << n) | (x >> n)) & full

        self._dilate = dilate
        self._nbr = [dilate(1 << i) for i in range(nn)]
        zb, zw, zside = _zobrist(n)
        self._z = (zb, zw)
        self._zside = zside
        self._zset = (frozenset(zb), frozenset(zw))
        self._zpoint = ({v: i for i, v in enumerate(zb)}, {v: i for i, v in enumerate(zw)})
        self._plane_bytes = (nn + 7) // 8
        self._mask_bytes = (nn + 1 + 7) // 8
        self._planes_bytes = (NUM_PLANES * nn + 7) // 8
        self._hist_mask = (1 << 2 * HISTORY * nn) - 1
        # side-to-move plane (black: ones) and the ones plane, per colour to move
        ones = full << (NUM_PLANES - 1) * nn
        self._const_planes = (ones | full << 2 * HISTORY * nn, ones)

    def __repr__(self) -> str:
        return f"Go(board_size={self.n}, komi={self.komi}, max_moves={self.max_moves}, pass_after={self.pass_after})"

    def __reduce__(self):
        # rebuilt from its arguments: the tables (and the dilation closure) are not pickled
        return Go, (self.n, self.komi, self.max_moves, self.pass_after)

    # -- states ----------------------------------------------------------------------------------
    def initial_state(self) -> GoState:
        return self._from_board(0, 0, BLACK)

    def state_from_text(self, text: str) -> GoState:
        toks = text.split() if isinstance(text, str) else None
        if not toks or len(toks) < 4:
            raise ParseError(f"go position {text!r}: expected '<size> <komi> <b|w> <rows/...> [moves]'")
        if toks[0] != str(self.n):
            raise ParseError(f"go position {text!r}: board size {toks[0]!r} does not match this "
                             f"game's {self.n}")
        try:
            komi = float(toks[1])
        except ValueError:
            raise ParseError(f"go position {text!r}: komi {toks[1]!r} is not a number") from None
        if komi != self.komi:
            raise ParseError(f"go position {text!r}: komi {toks[1]} does not match this game's "
                             f"{self.komi!r}")
        colour = toks[2].lower()
        if colour not in ("b", "w"):
            raise ParseError(f"go position {text!r}: side to move {toks[2]!r} is not 'b' or 'w'")
        rows = toks[3].lower().split("/")
        if len(rows) != self.n or any(len(r) != self.n for r in rows) \
                or set("".join(rows)) - set(_STONE_CHARS):
            raise ParseError(f"go position {text!r}: board {toks[3]!r} is not {self.n} rows of "
                             f"{self.n} characters '.', 'x', 'o' separated by '/'")
        cells = "".join(rows)
        b = sum(1 << i for i, ch in enumerate(cells) if ch == "x")
        w = sum(1 << i for i, ch in enumerate(cells) if ch == "o")
        state = self._from_board(b, w, BLACK if colour == "b" else WHITE, text)
        for k, mv in enumerate(toks[4:]):
            try:
                state = state.apply(state.text_to_action(mv))
            except (ParseError, IllegalMoveError) as e:
                raise ParseError(f"go position {text!r}: move {k + 1} {mv!r}: "
                                 f"{str(e).split(': ')[-1]}") from None
        return state

    def setup_state(self, black: "list[int]", white: "list[int]", to_play: int = BLACK) -> GoState:
        """A start position with setup stones (handicap, SGF AB/AW): points as actions r*N + c.
        It is ply 0 of its line (no earlier boards for superko). Raises ParseError for a point off
        the board or on both lists."""
        for p in list(black) + list(white):
            if not 0 <= int(p) < self._nn:
                raise ParseError(f"go setup point {p!r}: off the {self.n}x{self.n} board")
        b = sum(1 << int(p) for p in set(black))
        w = sum(1 << int(p) for p in set(white))
        return self._from_board(b, w, BLACK if to_play == BLACK else WHITE, f"setup B{sorted(black)} W{sorted(white)}")

    def _from_board(self, b: int, w: int, to_play: int, text: str | None = None) -> GoState:
        if b & w:
            raise ParseError(f"go position {text!r}: a point holds both colours")
        empty = self._full & ~(b | w)
        dilate = self._dilate
        groups = []
        for colour, bits in ((BLACK, b), (WHITE, w)):
            z = self._z[colour]
            found = []
            rest = bits
            while rest:
                grp = rest & -rest
                while True:
                    grown = grp | (dilate(grp) & bits)
                    if grown == grp:
                        break
                    grp = grown
                rest &= ~grp
                libs = dilate(grp) & empty
                if not libs:
                    raise ParseError(f"go position {text!r}: the {'black' if colour == BLACK else 'white'} "
                                     f"group at {self.action_to_text(grp.bit_length() - 1)} has no liberty")
                zh = 0
                x = grp
                while x:
                    low = x & -x
                    zh ^= z[low.bit_length() - 1]
                    x ^= low
                found.append((grp, libs, zh))
            groups.append(tuple(found))
        s = GoState.__new__(GoState)
        s.game = self
        s._b, s._w = b, w
        s._groups = (groups[0], groups[1])
        s._to_play = to_play
        s._ply = 0
        s._passes = 0
        s._bh = self.zobrist(b, w)
        s._seen = ({(b | w).bit_count(): frozenset((s._bh,))}, ())
        cls = []
        for colour_groups in groups:
            c1 = c2 = c3 = 0
            for stones, libs, _ in colour_groups:
                m = libs & (libs - 1)
                if not m:
                    c1 |= stones
                elif not m & (m - 1):
                    c2 |= stones
                else:
                    c3 |= stones
            cls.append((c1, c2, c3))
        s._cls = (cls[0], cls[1])
        s._hb = b | w << self._nn
        s._hw = w | b << self._nn
        s._moves = None
        s._last = -1
        s._capt = (0, 0)
        s._info = None
        s._root = (b, w, to_play)
        return s

    def zobrist(self, black: int, white: int, to_play: int = BLACK) -> int:
        """Zobrist key recomputed from scratch for bitboards (bit r*N+c); equals `state.hash()`."""
        zb, zw = self._z
        h = self._zside if to_play else 0
        for i in range(self._nn):
            if black >> i & 1:
                h ^= zb[i]
            elif white >> i & 1:
                h ^= zw[i]
        return h

    def _board_text(self, b: int, w: int) -> str:
        n = self.n
        cells = ["x" if b >> i & 1 else "o" if w >> i & 1 else "." for i in range(self._nn)]
        return "/".join("".join(cells[r * n:(r + 1) * n]) for r in range(n))

    # -- moves as GTP vertices -------------------------------------------------------------------
    def action_to_text(self, action: int) -> str:
        a = int(action)
        if a == self._nn:
            return "pass"
        if not 0 <= a < self._nn:
            raise ValueError(f"go action {action!r}: out of range 0-{self._nn}")
        r, c = divmod(a, self.n)
        return f"{COLUMNS[c]}{self.n - r}"

    def text_to_action(self, text: str) -> int:
        """GTP vertex -> action (no legality check); raises ParseError naming the text."""
        t = text.strip().upper() if isinstance(text, str) else ""
        if t == "PASS":
            return self._nn
        if len(t) < 2 or not t[1:].isdigit() or not t[0].isalpha():
            raise ParseError(f"go move {text!r}: expected a vertex like 'D4' or 'pass'")
        if t[0] == "I":
            raise ParseError(f"go move {text!r}: column letter I is not used in GTP")
        col = COLUMNS.find(t[0])
        if not 0 <= col < self.n:
            raise ParseError(f"go move {text!r}: column {t[0]} is off the {self.n}x{self.n} board "
                             f"(A-{COLUMNS[self.n - 1]})")
        row = int(t[1:])
        if not 1 <= row <= self.n:
            raise ParseError(f"go move {text!r}: row {row} is off the {self.n}x{self.n} board (1-{self.n})")
        return (self.n - row) * self.n + col

    # -- symmetries ------------------------------------------------------------------------------
    def transform(self, planes, policy, k):
        return d4_transform(planes, policy, k, self.n, self.n)

    def inverse(self, k: int) -> int:
        return d4_inverse(k)
