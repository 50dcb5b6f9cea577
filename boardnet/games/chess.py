"""Chess with AlphaZero's 8x8x73 move encoding; python-chess for text (FEN, SAN, UCI) and validation.

Rules run on plain-int bitboards here (own legal-move generator and make-move, checked against
perft counts in the tests) because python-chess's generator and `push` cost most of a play-out;
a python-chess `Board` is built only when text or `state.board` is asked for.

Squares are python-chess's: a1 = 0, b1 = 1, ..., h8 = 63. "Oriented" squares are seen from the side
to move: black's squares are mirrored vertically (`sq ^ 56`), so the mover always plays up the board.

Actions (`action_size` = 73 * 64 = 4672): `action = plane * 64 + from_square`, with from_square
oriented, so a policy `[4672]` reshapes to `[73, 8, 8]` aligned with the input planes (row = oriented
rank, col = file). Planes, with dx/dy the file/rank steps in the oriented frame:
- 0..55: queen-like moves, `direction * 7 + (distance - 1)`, directions N, NE, E, SE, S, SW, W, NW
  ((0,1), (1,1), (1,0), (1,-1), (0,-1), (-1,-1), (-1,0), (-1,1)); king moves, castling (the king's
  two-square step) and promotions to a queen use these planes;
- 56..63: knight moves (1,2), (2,1), (2,-1), (1,-2), (-1,-2), (-2,-1), (-2,1), (-1,2);
- 64..72: under-promotions, `64 + 3 * piece + (dx + 1)`, piece 0 knight, 1 bishop, 2 rook.

Observation `[118, 8, 8]` float32 from the side to move's view (row = oriented rank 1..8, col = file
a..h): 8 history steps (current first; zeros before the start or the loaded FEN), each 14 planes:
the mover's P, N, B, R, Q, K, the opponent's P, N, B, R, Q, K, then "this position has occurred
before" (>= 2 times) and ">= 3 times"; then 1 colour plane (ones when black is to move), 4 castling
planes (mover kingside, mover queenside, opponent kingside, opponent queenside) and 1 no-progress
plane (half-move clock / 100). AlphaZero's total-move-count plane is left out. Indices: history
step k (0 = now) at 14k .. 14k+13, colour 112, castling 113-116, no-progress 117. The ">= 3" plane is
only ever set on a position that threefold repetition has just ended.

The game ends on checkmate (+1/-1), and as a draw (0) on stalemate, insufficient material (python-chess's
rule), the 50-move rule (claimed automatically once the half-move clock reaches 100, AlphaZero-style;
a mate delivered by the 100th half-move still counts), threefold repetition (automatic at the third
occurrence; positions compare as python-chess's transposition key: pieces, side to move, castling
rights and a legal en-passant square) and the ply cap `max_plies` (default 512, on the absolute ply
`2 * (fullmove - 1) + (black to move)`; None turns it off, e.g. for analysing a late FEN).

Position text is FEN (`to_text`, `state_from_text`, which also takes "startpos"); a FEN carries no
history, so repetition counts and history planes start afresh. Move text out is UCI; in, UCI or SAN.
`hash()` is a 64-bit BLAKE2b of everything `planes()` and the move rules see (so transpositions with
the same last 8 positions share it; stable across processes).

Beyond the protocol, for front ends: `state.board` (python-chess Board with the moves since the root
on its stack), `state.fen()`, `state.move_to_san(a)`, `state.action_to_move(a)` /
`state.move_to_action(move)`, `state.termination()`, `state.repetitions()`, `state.is_check()`,
`state.rule_actions()` (moves the rules allow even where a draw rule ended the game: perft) and
`Chess.state_from_board(board)` (replays the board's move stack, so repetitions carry over).
"""
from __future__ import annotations

import hashlib
import re
import struct as _struct

import chess as pychess
import numpy as np

from boardnet.games.base import IllegalMoveError, ParseError

ACTION_SIZE = 73 * 64
NUM_PLANES = 8 * 14 + 1 + 4 + 1
HISTORY = 8
DEFAULT_MAX_PLIES = 512

_ALL = pychess.BB_ALL
_FILE_A = pychess.BB_FILE_A
_FILE_H = pychess.BB_FILE_H
_RANK_1 = pychess.BB_RANK_1
_RANK_3 = pychess.BB_RANK_3
_RANK_6 = pychess.BB_RANK_6
_RANK_8 = pychess.BB_RANK_8
_KN = pychess.BB_KNIGHT_ATTACKS
_KI = pychess.BB_KING_ATTACKS
_PA = (pychess.BB_PAWN_ATTACKS[pychess.WHITE], pychess.BB_PAWN_ATTACKS[pychess.BLACK])  # by player
_DM = pychess.BB_DIAG_MASKS
_DA = pychess.BB_DIAG_ATTACKS
_RM = pychess.BB_RANK_MASKS
_RA = pychess.BB_RANK_ATTACKS
_FM = pychess.BB_FILE_MASKS
_FA = pychess.BB_FILE_ATTACKS
_RAYS = pychess.BB_RAYS
_LIGHT = pychess.BB_LIGHT_SQUARES
_DARK = pychess.BB_DARK_SQUARES
_BETWEEN = [[pychess.between(a, b) for b in range(64)] for a in range(64)]
_DIAG_EMPTY = [_DA[s][0] for s in range(64)]
_ORTH_EMPTY = [_RA[s][0] | _FA[s][0] for s in range(64)]

_QUEEN_DIRS = ((0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1), (-1, 0), (-1, 1))
_KNIGHT_DIRS = ((1, 2), (2, 1), (2, -1), (1, -2), (-1, -2), (-2, -1), (-2, 1), (-1, 2))
_UNDER = (pychess.KNIGHT, pychess.BISHOP, pychess.ROOK)
_UCI_RE = re.compile(r"[a-h][1-8][a-h][1-8][nbrq]?", re.IGNORECASE)


def _build_tables():
    """Per player p (0 white, 1 black): ACT[p][from*64+to] (absolute squares) -> action of a queen-like or
    knight move (-1 if neither), UNDER[p][from*64+to] -> action of the knight under-promotion (add
    192 per step to bishop, rook; -1 if not a promotion step), DECODE[p][action] -> (from, to,
    under-promotion piece or 0) or None for a move off the board."""
    plane_of = {}
    for d, (dx, dy) in enumerate(_QUEEN_DIRS):
        for dist in range(1, 8):
            plane_of[(dx * dist, dy * dist)] = d * 7 + dist - 1
    for k, (dx, dy) in enumerate(_KNIGHT_DIRS):
        plane_of[(dx, dy)] = 56 + k
    act = ([-1] * 4096, [-1] * 4096)
    under = ([-1] * 4096, [-1] * 4096)
    decode = ([None] * ACTION_SIZE, [None] * ACTION_SIZE)
    for p in (0, 1):
        flip = 56 * p
        for f in range(64):
            fo = f ^ flip
            fx, fy = fo & 7, fo >> 3
            for (dx, dy), plane in plane_of.items():
                x, y = fx + dx, fy + dy
                if 0 <= x < 8 and 0 <= y < 8:
                    t = (y * 8 + x) ^ flip
                    act[p][f * 64 + t] = plane * 64 + fo
                    decode[p][plane * 64 + fo] = (f, t, 0)
            if fy == 6:
                for dx in (-1, 0, 1):
                    if 0 <= fx + dx < 8:
                        t = (7 * 8 + fx + dx) ^ flip
                        under[p][f * 64 + t] = (64 + dx + 1) * 64 + fo
                        for k, piece in enumerate(_UNDER):
                            decode[p][(64 + 3 * k + dx + 1) * 64 + fo] = (f, t, piece)
    return act, under, decode


_ACT, _UNDER_ACT, _DECODE = _build_tables()
_PROMO_STEP = 3 * 64  # from the knight's under-promotion action to the bishop's, the bishop's to the rook's


def _bits(bb: int):
    while bb:
        b = bb & -bb
        yield b.bit_length() - 1
        bb ^= b


def _targets(act: list, s64: int, att: int) -> tuple:
    out = []
    while att:
        a = att & -att
        out.append(act[s64 + a.bit_length() - 1])
        att ^= a
    return tuple(out)


def _pawn_targets(act: list, under: list, step: int, dests: int, last: int) -> tuple:
    out = []
    while dests:
        b = dests & -dests
        t = b.bit_length() - 1
        dests ^= b
        key = (t + step) * 64 + t
        out.append(act[key])
        if b & last:
            u = under[key]
            out += (u, u + _PROMO_STEP, u + 2 * _PROMO_STEP)
    return tuple(out)


# Per player and from-square: destination bitboard -> actions. Cleared when full, so memory stays
# bounded (2 * 64 * _MEMO_SIZE entries) however long a process plays.
_MEMO_SIZE = 1024
_MEMO = [[{} for _ in range(64)] for _ in range(2)]
_PAWN_MEMO = [{step: {} for step in (-16, -9, -8, -7, 7, 8, 9, 16)} for _ in range(2)]  # by pawn step


def _insufficient(pos: tuple) -> bool:
    """python-chess's `is_insufficient_material` for standard chess, on our bitboards."""
    pawns, knights, bishops, rooks, queens, kings, white, black = pos
    if pawns | rooks | queens:
        return False
    for us, them in ((white, black), (black, white)):
        if us & knights:
            if bin(us).count("1") > 2 or them & ~kings & ~queens:
                return False
        elif us & bishops:
            if not ((not bishops & _DARK) or (not bishops & _LIGHT)) or knights:
                return False
    return True


def _generate(pos: tuple, p: int, castle: int, ep: int) -> tuple[list, bool, bool]:
    """Legal moves of player p (0 white, 1 black): (actions unsorted, in check, a legal en passant exists)."""
    pawns, knights, bishops, rooks, queens, kings, white, black = pos
    if p:
        us, them = black, white
    else:
        us, them = white, black
    occ = us | them
    ACT = _ACT[p]
    acts = []
    ksq = (kings & us).bit_length() - 1
    bq = (bishops | queens) & them
    rq = (rooks | queens) & them
    n_them = knights & them
    p_them = pawns & them
    pa = _PA[p]
    checkers = (_KN[ksq] & n_them) | (pa[ksq] & p_them)

    # Enemy sliders on a line with the king: with nothing between they give check; with one piece
    # of ours between, that piece is pinned and may only move along the line.
    pinned = 0
    pin_ray = None
    snipers = (_DIAG_EMPTY[ksq] & bq) | (_ORTH_EMPTY[ksq] & rq)
    while snipers:
        b = snipers & -snipers
        s = b.bit_length() - 1
        snipers ^= b
        blk = _BETWEEN[ksq][s] & occ
        if not blk:
            checkers |= b
        elif not blk & (blk - 1) and blk & us:
            pinned |= blk
            if pin_ray is None:
                pin_ray = {}
            pin_ray[blk.bit_length() - 1] = _RAYS[ksq][s]

    # King steps: not next to the enemy king or onto a pawn-attacked square; then knights and
    # sliders (seeing through the square the king leaves), sliders only when on a line at all.
    occ_nok = occ ^ (1 << ksq)
    k_them = kings & them
    k64 = ksq * 64
    if p:
        p_att = ((p_them & ~_FILE_A) << 7) | ((p_them & ~_FILE_H) << 9)
    else:
        p_att = ((p_them & ~_FILE_H) >> 7) | ((p_them & ~_FILE_A) >> 9)
    att = _KI[ksq] & ~us & ~_KI[k_them.bit_length() - 1] & ~p_att
    while att:
        b = att & -att
        t = b.bit_length() - 1
        att ^= b
        if (_KN[t] & n_them) or (_DIAG_EMPTY[t] & bq and _DA[t][_DM[t] & occ_nok] & bq) \
                or (_ORTH_EMPTY[t] & rq and (_RA[t][_RM[t] & occ_nok] | _FA[t][_FM[t] & occ_nok]) & rq):
            continue
        acts.append(ACT[k64 + t])

    if checkers:
        if checkers & (checkers - 1):
            return acts, True, False  # double check: king moves only
        target = checkers | _BETWEEN[ksq][checkers.bit_length() - 1]
    else:
        target = ~us & _ALL
        # Castling: rights imply king and rook on their squares (kept clean by _make_move and FEN checks).
        if castle:
            base = 56 if p else 0
            rook_us = rooks & us
            for rook_sq, path, safe, king_to in ((base + 7, 0x60 << base, (base + 5, base + 6), base + 6),
                                                 (base, 0xE << base, (base + 3, base + 2), base + 2)):
                if castle & (1 << rook_sq) and rook_us & (1 << rook_sq) and ksq == base + 4 \
                        and not occ & path:
                    for t in safe:
                        if (_KN[t] & n_them) or (_KI[t] & k_them) or (pa[t] & p_them) \
                                or (_DA[t][_DM[t] & occ] & bq) \
                                or ((_RA[t][_RM[t] & occ] | _FA[t][_FM[t] & occ]) & rq):
                            break
                    else:
                        acts.append(ACT[k64 + king_to])

    # Knights, bishops, rooks, queens: destination sets repeat a lot, so their actions are memoised.
    memo = _MEMO[p]
    for kind, bb in ((0, knights & us), (1, bishops & us), (2, rooks & us), (3, queens & us)):
        while bb:
            b = bb & -bb
            s = b.bit_length() - 1
            bb ^= b
            if kind == 0:
                att = _KN[s]
            elif kind == 1:
                att = _DA[s][_DM[s] & occ]
            elif kind == 2:
                att = _RA[s][_RM[s] & occ] | _FA[s][_FM[s] & occ]
            else:
                att = _DA[s][_DM[s] & occ] | _RA[s][_RM[s] & occ] | _FA[s][_FM[s] & occ]
            att &= target
            if b & pinned:
                att &= pin_ray[s]
            if att:
                d = memo[s]
                r = d.get(att)
                if r is None:
                    if len(d) >= _MEMO_SIZE:
                        d.clear()
                    r = d[att] = _targets(ACT, s * 64, att)
                acts += r

    # Pawns, in bulk for the unpinned ones; each set of destinations has one constant step.
    UNDER = _UNDER_ACT[p]
    my_pawns = pawns & us
    free = my_pawns & ~pinned
    empty = ~occ & _ALL
    if p:
        single = (free >> 8) & empty
        groups = ((single & target, 8), ((((single & _RANK_6) >> 8) & empty) & target, 16),
                  (((free & ~_FILE_A) >> 9) & them & target, 9), (((free & ~_FILE_H) >> 7) & them & target, 7))
        last = _RANK_1
    else:
        single = (free << 8) & empty
        groups = ((single & target, -8), ((((single & _RANK_3) << 8) & empty) & target, -16),
                  (((free & ~_FILE_A) << 7) & them & target, -7), (((free & ~_FILE_H) << 9) & them & target, -9))
        last = _RANK_8
    pmemo = _PAWN_MEMO[p]
    for dests, step in groups:
        if dests:
            d = pmemo[step]
            r = d.get(dests)
            if r is None:
                if len(d) >= _MEMO_SIZE:
                    d.clear()
                r = d[dests] = _pawn_targets(ACT, UNDER, step, dests, last)
            acts += r
    if my_pawns & pinned:
        fwd = -8 if p else 8
        for s in _bits(my_pawns & pinned):
            dests = pa[s] & them
            one = s + fwd
            if not occ >> one & 1:
                dests |= 1 << one
                if (s >> 3) == (6 if p else 1) and not occ >> (one + fwd) & 1:
                    dests |= 1 << (one + fwd)
            dests &= target & pin_ray[s]
            for t in _bits(dests):
                key = s * 64 + t
                acts.append(ACT[key])
                if (1 << t) & last:
                    u = UNDER[key]
                    acts += (u, u + _PROMO_STEP, u + 2 * _PROMO_STEP)

    # En passant: rare, so each capture is checked by playing it out on the occupancy.
    ep_legal = False
    if ep >= 0 and not occ >> ep & 1:
        cap = ep + 8 if p else ep - 8
        if p_them >> cap & 1:
            for s in _bits(_PA[1 - p][ep] & my_pawns):
                occ2 = (occ ^ (1 << s) ^ (1 << cap)) | (1 << ep)
                p2 = p_them ^ (1 << cap)
                if (_KN[ksq] & n_them) or (pa[ksq] & p2) or (_DA[ksq][_DM[ksq] & occ2] & bq) \
                        or ((_RA[ksq][_RM[ksq] & occ2] | _FA[ksq][_FM[ksq] & occ2]) & rq):
                    continue
                acts.append(ACT[s * 64 + ep])
                ep_legal = True
    return acts, bool(checkers), ep_legal


def _make_move(pos: tuple, p: int, castle: int, ep: int, clock: int, f: int, t: int, under: int):
    """Play a legal move; returns (pos, castle, ep, clock) of the next position."""
    P, N, B, R, Q, K, W, Bk = pos
    fb = 1 << f
    tb = 1 << t
    clock += 1
    new_ep = -1
    if p:
        us, them = Bk, W
    else:
        us, them = W, Bk
    if them & tb:  # capture (the king is never captured)
        nt = ~tb
        P &= nt
        N &= nt
        B &= nt
        R &= nt
        Q &= nt
        them ^= tb
        clock = 0
    us ^= fb | tb
    if P & fb:
        clock = 0
        P ^= fb
        if tb & (_RANK_1 | _RANK_8):
            if under == pychess.KNIGHT:
                N |= tb
            elif under == pychess.BISHOP:
                B |= tb
            elif under == pychess.ROOK:
                R |= tb
            else:
                Q |= tb
        else:
            P |= tb
            d = t - f
            if d == 16 or d == -16:
                new_ep = (f + t) >> 1
            elif t == ep and (d & 7):
                cb = 1 << (t - 8 if d > 0 else t + 8)
                P ^= cb
                them ^= cb
    elif N & fb:
        N ^= fb | tb
    elif B & fb:
        B ^= fb | tb
    elif R & fb:
        R ^= fb | tb
    elif Q & fb:
        Q ^= fb | tb
    else:
        K ^= fb | tb
        castle &= ~(_RANK_8 if p else _RANK_1)
        if t - f == 2:  # castling moves the rook too
            rb = (1 << (f + 3)) | (1 << (f + 1))
            R ^= rb
            us ^= rb
        elif f - t == 2:
            rb = (1 << (f - 4)) | (1 << (f - 1))
            R ^= rb
            us ^= rb
    if castle:
        castle &= ~(fb | tb)
    if p:
        return (P, N, B, R, Q, K, them, us), castle, new_ep, clock
    return (P, N, B, R, Q, K, us, them), castle, new_ep, clock


class ChessState:
    """A chess position with the history the rules and planes need. Immutable."""

    __slots__ = ("game", "_pos", "_p", "_castle", "_ep", "_clock", "_ply", "_keys", "_prev", "_line",
                 "_root", "_acts", "_check", "_ep_legal", "_status", "_arr", "_mask", "_key", "_rec",
                 "_rep", "_pyboard", "_hash")

    def __init__(self, game: "Chess", pos: tuple, p: int, castle: int, ep: int, clock: int, ply: int,
                 keys: tuple, prev: tuple, line, root):
        self.game = game
        self._pos = pos            # (pawns, knights, bishops, rooks, queens, kings, white, black) bitboards
        self._p = p                # player to move: 0 white, 1 black
        self._castle = castle      # python-chess castling_rights: bitboard of rook squares a1/h1/a8/h8
        self._ep = ep              # en-passant square after a double step (legal or not), else -1
        self._clock = clock        # half-move clock
        self._ply = ply            # 2 * (fullmove - 1) + p
        self._keys = keys          # repetition keys of earlier positions since the last clock reset
        self._prev = prev          # plane records of up to 7 earlier positions, latest first
        self._line = line          # ((from, to, under-promotion), earlier line) back to root, or None
        self._root = root          # python-chess Board (no stack) that `_line` starts from
        self._acts = None
        self._status = None
        self._arr = None
        self._mask = None
        self._key = None
        self._rec = None
        self._rep = 0
        self._pyboard = None
        self._hash = None

    def __getstate__(self):
        # The move line is flattened (a nested chain this deep would hit pickle's recursion limit)
        # and the caches are left behind.
        moves = []
        line = self._line
        while line is not None:
            moves.append(line[0])
            line = line[1]
        return (self.game, self._pos, self._p, self._castle, self._ep, self._clock, self._ply, self._keys,
                self._prev, tuple(moves), self._root)

    def __setstate__(self, state):
        *head, moves, root = state
        line = None
        for m in reversed(moves):
            line = (m, line)
        self.__init__(*head, line, root)

    # --- rules -----------------------------------------------------------------------------------

    @property
    def ply(self) -> int:
        return self._ply

    def to_play(self) -> int:
        return self._p

    def _moves(self) -> list:
        acts = self._acts
        if acts is None:
            acts, self._check, self._ep_legal = _generate(self._pos, self._p, self._castle, self._ep)
            self._acts = acts
        return acts

    def _position_key(self) -> tuple:
        key = self._key
        if key is None:
            self._moves()
            P, N, B, R, Q, K, W, Bk = self._pos
            key = (W, Bk, P, N, B, R, Q, K, self._p, self._castle, self._ep if self._ep_legal else -1)
            self._key = key
            self._rep = self._keys.count(key) + 1
        return key

    def repetitions(self) -> int:
        """How many times this position has occurred, this time included (since the clock last reset)."""
        self._position_key()
        return self._rep

    def _terminal(self) -> int:
        """0 going on; 1 checkmate; 2 stalemate; 3 insufficient material; 4 fifty moves; 5 threefold;
        6 ply cap."""
        st = self._status
        if st is None:
            acts = self._moves()
            if not acts:
                st = 1 if self._check else 2
            elif not (self._pos[0] | self._pos[3] | self._pos[4]) and _insufficient(self._pos):
                st = 3
            elif self._clock >= 100:
                st = 4
            elif self.repetitions() >= 3:
                st = 5
            elif self.game.max_plies is not None and self._ply >= self.game.max_plies:
                st = 6
            else:
                st = 0
            self._status = st
        return st

    def is_terminal(self) -> bool:
        return self._terminal() != 0

    def no_progress_fraction(self) -> float:
        """How far the fifty-move rule has run, 0 (a capture or pawn move) to 1 (drawn): the half-move
        clock over 100. Engines damp their evaluation with it (`NetEvaluator.shuffle_damping`)."""
        return min(self._clock / 100.0, 1.0)

    def termination(self) -> str | None:
        """Why the game ended ('checkmate', 'stalemate', ...), or None while it goes on."""
        return _TERMINATIONS[self._terminal()]

    def is_check(self) -> bool:
        self._moves()
        return self._check

    def returns(self) -> np.ndarray:
        r = np.zeros(2, dtype=np.float32)
        if self._terminal() == 1:  # the side to move is mated
            r[self._p] = -1.0
            r[1 - self._p] = 1.0
        return r

    def legal_actions(self) -> np.ndarray:
        """int64 actions, ascending; cached and read-only (copy before writing)."""
        arr = self._arr
        if arr is None:
            if self._terminal():
                arr = np.zeros(0, dtype=np.int64)
            else:
                arr = np.array(self._acts, dtype=np.int64)
                arr.sort()
            arr.flags.writeable = False
            self._arr = arr
        return arr

    def legal_mask(self) -> np.ndarray:
        """bool `[4672]`; cached and read-only (copy before writing)."""
        mask = self._mask
        if mask is None:
            mask = np.zeros(ACTION_SIZE, dtype=bool)
            mask[self.legal_actions()] = True
            mask.flags.writeable = False
            self._mask = mask
        return mask

    def rule_actions(self) -> np.ndarray:
        """int64 actions the move rules allow, ascending, even where a draw rule ended the game (perft)."""
        return np.array(sorted(self._moves()), dtype=np.int64)

    def apply(self, action: int) -> "ChessState":
        a = int(action)
        if self._terminal():
            raise IllegalMoveError(f"chess action {a}: the game is over ({self.termination()})")
        if a not in self._acts:
            raise IllegalMoveError(f"chess action {a} ({self._describe(a)}): not legal in {self.fen()}")
        return self._child(a)

    def _child(self, a: int) -> "ChessState":
        """The position after action `a`, which must be allowed by the move rules (draws not checked)."""
        dec = _DECODE[self._p][a]
        f, t, under = dec
        pos, castle, ep, clock = _make_move(self._pos, self._p, self._castle, self._ep, self._clock,
                                            f, t, under)
        key = self._position_key()
        rec = self._rec or self._record()
        prev = (rec,) + self._prev[:HISTORY - 2]
        keys = () if clock == 0 else self._keys + (key,)
        return ChessState(self.game, pos, 1 - self._p, castle, ep, clock, self._ply + 1, keys, prev,
                          (dec, self._line), self._root)

    # --- observation -----------------------------------------------------------------------------

    def _record(self) -> tuple:
        """This position's 14 history planes as packed words, (white to move's view, black's view):
        the mover's P..K, the opponent's P..K, then the two repetition planes (all ones or zero).
        Little-endian words put rank 1 in the first byte, big-endian ones rank 8: the byte order
        does black's mirroring, and unpackbits (bit order little) then gives files a..h."""
        rec = self._rec
        if rec is None:
            P, N, B, R, Q, K, W, Bk = self._pos
            rep = self.repetitions()
            r1 = _ALL if rep >= 2 else 0
            r2 = _ALL if rep >= 3 else 0
            w = (P & W, N & W, B & W, R & W, Q & W, K & W)
            b = (P & Bk, N & Bk, B & Bk, R & Bk, Q & Bk, K & Bk)
            rec = (_PACK_W(*w, *b, r1, r2), _PACK_B(*b, *w, r1, r2))
            self._rec = rec
        return rec

    def _raw(self) -> bytes:
        """The 117 binary planes packed, 8 bytes a plane (see _record)."""
        p = self._p
        parts = [rec[p] for rec in (self._rec or self._record(),) + self._prev]
        parts.append(_PAD[HISTORY - 1 - len(self._prev)])
        parts.append(_TAIL[p][self._castle])
        return b"".join(parts)

    def planes(self) -> np.ndarray:
        """float32 `[118, 8, 8]`, see the module docstring for the layout."""
        out = np.empty((NUM_PLANES, 64), dtype=np.float32)
        out[:-1] = np.unpackbits(np.frombuffer(self._raw(), dtype=np.uint8),
                                 bitorder="little").reshape(NUM_PLANES - 1, 64)
        out[-1] = self._clock * 0.01
        return out.reshape(NUM_PLANES, 8, 8)

    def hash(self) -> int:
        """64-bit BLAKE2b of what planes() and the move rules depend on (history, repetitions, castling,
        side to move, legal en passant, half-move clock); not of the ply, so the ply cap is not in it."""
        h = self._hash
        if h is None:
            self._position_key()
            tail = _struct.pack("<hb", self._clock, self._ep if self._ep_legal else -1)
            h = int.from_bytes(hashlib.blake2b(self._raw() + tail, digest_size=8).digest(), "little")
            self._hash = h
        return h

    # --- text ------------------------------------------------------------------------------------

    @property
    def board(self) -> pychess.Board:
        """A python-chess Board of this position, with the moves played since the root on its stack."""
        moves = []
        line = self._line
        while line is not None:
            moves.append(line[0])
            line = line[1]
        board = self._root.copy()
        for f, t, under in reversed(moves):
            if not under and board.pawns >> f & 1 and t >> 3 in (0, 7):
                under = pychess.QUEEN
            board.push(pychess.Move(f, t, under or None))
        return board

    def _board_nostack(self) -> pychess.Board:
        b = self._pyboard
        if b is None:
            P, N, B, R, Q, K, W, Bk = self._pos
            b = pychess.Board(None)
            b.pawns, b.knights, b.bishops, b.rooks, b.queens, b.kings = P, N, B, R, Q, K
            b.occupied_co[pychess.WHITE] = W
            b.occupied_co[pychess.BLACK] = Bk
            b.occupied = W | Bk
            b.promoted = 0
            b.turn = not self._p
            b.castling_rights = self._castle
            b.ep_square = self._ep if self._ep >= 0 else None
            b.halfmove_clock = self._clock
            b.fullmove_number = self._ply // 2 + 1
            self._pyboard = b
        return b

    def fen(self) -> str:
        return self._board_nostack().fen()

    def to_text(self) -> str:
        return self.fen()

    def move_to_action(self, move: pychess.Move) -> int:
        """Action index of a python-chess move by the side to move (IllegalMoveError if no action
        encodes it; legality in this position is not checked)."""
        f, t, promo = move.from_square, move.to_square, move.promotion
        key = f * 64 + t
        p = self._p
        if promo in (pychess.KNIGHT, pychess.BISHOP, pychess.ROOK):
            a = _UNDER_ACT[p][key]
            if a >= 0:
                a += (promo - pychess.KNIGHT) * _PROMO_STEP
        else:
            a = _ACT[p][key] if f != t else -1
        if a < 0:
            raise IllegalMoveError(f"chess move {move.uci()!r}: no action encodes it "
                                   f"({'white' if p == 0 else 'black'} to move)")
        return a

    def action_to_move(self, action: int) -> pychess.Move:
        """The python-chess move that `action` stands for here (promotion to a queen when a pawn steps
        onto the last rank by a queen-like plane); IllegalMoveError if it leaves the board."""
        a = int(action)
        dec = _DECODE[self._p][a] if 0 <= a < ACTION_SIZE else None
        if dec is None:
            raise IllegalMoveError(f"chess action {a}: "
                                   + ("out of range 0-4671" if not 0 <= a < ACTION_SIZE
                                      else "the move leaves the board"))
        f, t, under = dec
        if under == 0 and (self._pos[0] >> f & 1) and (t >> 3) in (0, 7):
            under = pychess.QUEEN
        return pychess.Move(f, t, under or None)

    def _describe(self, a: int) -> str:
        try:
            return self.action_to_move(a).uci()
        except IllegalMoveError as e:
            return str(e).split(": ", 1)[1]

    def action_to_text(self, action: int) -> str:
        """UCI text, e.g. 'e2e4', 'e7e8q', 'e1g1' (castling)."""
        return self.action_to_move(action).uci()

    def move_to_san(self, action: int) -> str:
        """SAN text of a legal action, e.g. 'Nf3', 'exd8=Q+', 'O-O'."""
        a = int(action)
        if self._terminal() or a not in self._acts:
            raise IllegalMoveError(f"chess action {a} ({self._describe(a)}): not legal in {self.fen()}"
                                   + (f" (game over: {self.termination()})" if self._terminal() else ""))
        return self._board_nostack().san(self.action_to_move(a))

    def text_to_action(self, text: str) -> int:
        """Parse UCI ('e2e4', 'e7e8q') or SAN ('e4', 'Nxf7+', 'O-O', 'e8=Q')."""
        a = self._parse_move(text)
        if self._terminal():
            raise IllegalMoveError(f"chess move {text!r}: the game is over ({self.termination()})")
        return a

    def after_move(self, text: str) -> "ChessState":
        """The position after move ``text`` (UCI or SAN) that the move rules allow, even where a draw rule (fifty
        moves, threefold repetition, the ply cap) has ended the game here: a UCI GUI's move list may run through a
        draw that, over the board, must be claimed (the GUI adjudicates). Checkmate and stalemate leave no move."""
        return self._child(self._parse_move(text))

    def _parse_move(self, text: str) -> int:
        """The action of a move the rules allow here (draw rules not checked)."""
        if not isinstance(text, str):
            raise ParseError(f"chess move {text!r}: expected a string, got {type(text).__name__}")
        t = text.strip()
        if not t:
            raise ParseError(f"chess move {text!r}: empty")
        board = self._board_nostack()
        if _UCI_RE.fullmatch(t):
            try:
                move = board.parse_uci(t.lower())
            except pychess.IllegalMoveError:
                raise IllegalMoveError(f"chess move {text!r}: not legal in {self.fen()}") from None
            except ValueError as e:
                raise ParseError(f"chess move {text!r}: {e}") from None
        else:
            try:
                move = board.parse_san(t)
            except pychess.IllegalMoveError:
                raise IllegalMoveError(f"chess move {text!r}: not legal in {self.fen()}") from None
            except pychess.AmbiguousMoveError:
                raise ParseError(f"chess move {text!r}: ambiguous in {self.fen()}") from None
            except ValueError:
                raise ParseError(f"chess move {text!r}: neither UCI (e2e4, e7e8q) nor SAN "
                                 "(e4, Nf3, exd5, O-O, e8=Q)") from None
        if not move:
            raise IllegalMoveError(f"chess move {text!r}: null moves are not allowed")
        a = self.move_to_action(move)
        if a not in self._moves():  # python-chess and our generator disagree: should not happen
            raise IllegalMoveError(f"chess move {text!r}: not legal in {self.fen()}")
        return a

    def __str__(self) -> str:
        return f"{self._board_nostack()}\n{self.fen()}"

    def __repr__(self) -> str:
        return f"ChessState({self.fen()!r})"


_PACK_W = _struct.Struct("<14Q").pack
_PACK_B = _struct.Struct(">14Q").pack
_PAD = [bytes(14 * 8 * n) for n in range(HISTORY)]  # history steps before the start: zeros


def _tail(p: int, castle: int) -> bytes:
    """Colour plane and the castling planes (mover kingside, queenside, opponent kingside, queenside)."""
    own, opp = ((pychess.BB_H1, pychess.BB_A1), (pychess.BB_H8, pychess.BB_A8))[::(-1 if p else 1)]
    words = [p and _ALL] + [_ALL if castle & sq else 0 for sq in own + opp]
    return _struct.pack("<5Q", *words)


# Castling rights are a subset of {a1, h1, a8, h8}: 16 values per player.
_TAIL = [{c: _tail(p, c) for c in (sum(sq for i, sq in enumerate((pychess.BB_A1, pychess.BB_H1, pychess.BB_A8,
                                                                   pychess.BB_H8)) if m >> i & 1)
                                   for m in range(16))} for p in (0, 1)]
_TERMINATIONS = (None, "checkmate", "stalemate", "insufficient material", "fifty-move rule",
                 "threefold repetition", "ply cap")


class Chess:
    """Standard chess. `max_plies`: draw once the absolute ply reaches it (None: no cap)."""

    name = "chess"
    num_players = 2
    action_size = ACTION_SIZE
    obs_shape = (NUM_PLANES, 8, 8)
    num_symmetries = 1  # castling and pawn direction break every board symmetry
    # capabilities (see boardnet/games/base.py)
    has_pass = False
    has_komi = False
    resizable = False
    scoring = "outcome"
    protocol = "uci"
    record_format = "pgn"
    multi_action_turns = False
    column_moves = False
    side_names = ("White", "Black")
    real_planes = (NUM_PLANES - 1,)   # the half-move clock / 100

    def __init__(self, max_plies: int | None = DEFAULT_MAX_PLIES):
        if max_plies is not None and (isinstance(max_plies, bool) or not isinstance(max_plies, int)
                                      or max_plies < 1):
            raise ValueError(f"chess max_plies {max_plies!r}: expected a positive int or None")
        self.max_plies = max_plies
        self._initial = None

    def __getstate__(self):
        return {"max_plies": self.max_plies, "_initial": None}

    def initial_state(self) -> ChessState:
        if self._initial is None:
            self._initial = self._from_root(pychess.Board())
        return self._initial

    def _from_root(self, board: pychess.Board) -> ChessState:
        root = board.copy(stack=False)
        return ChessState(self, (board.pawns, board.knights, board.bishops, board.rooks, board.queens,
                                 board.kings, board.occupied_co[pychess.WHITE],
                                 board.occupied_co[pychess.BLACK]),
                          0 if board.turn else 1, board.clean_castling_rights(),
                          -1 if board.ep_square is None else board.ep_square, board.halfmove_clock,
                          2 * (board.fullmove_number - 1) + (0 if board.turn else 1), (), (), None, root)

    @staticmethod
    def _check_board(board: pychess.Board, what: str) -> None:
        if board.chess960:
            raise ParseError(f"chess position {what}: Chess960 is not supported")
        status = board.status()
        if status != pychess.STATUS_VALID:
            reasons = ", ".join(s.name.lower().replace("_", " ") for s in pychess.Status
                                if s.value and status & s)
            raise ParseError(f"chess position {what}: not a legal position ({reasons})")

    def state_from_text(self, text: str) -> ChessState:
        """A position from FEN (or 'startpos'); ParseError naming the FEN and why it is rejected."""
        if not isinstance(text, str):
            raise ParseError(f"chess FEN {text!r}: expected a string, got {type(text).__name__}")
        t = " ".join(text.split())
        if t.lower() == "startpos":
            return self.initial_state()
        try:
            board = pychess.Board(t)
        except ValueError as e:
            raise ParseError(f"chess FEN {text!r}: {e}") from None
        self._check_board(board, f"FEN {text!r}")
        return self._from_root(board)

    def state_from_board(self, board: pychess.Board) -> ChessState:
        """A state from a python-chess Board; its move stack is replayed, so repetitions and history
        planes carry over (a game already drawn by our automatic rules is replayed past the draw)."""
        root = board.root()
        self._check_board(root, f"FEN {root.fen()!r}")
        state = self._from_root(root)
        for i, move in enumerate(board.move_stack):
            a = state.move_to_action(move) if move else -1
            if a < 0 or a not in state._moves():
                raise IllegalMoveError(f"chess move {move.uci()!r} (ply {i + 1} of the board's stack): "
                                       f"not legal in {state.fen()}")
            state = state._child(a)
        return state

    def transform(self, planes, policy, k: int):
        if k != 0:
            raise ValueError(f"chess symmetry {k}: only the identity (0) exists")
        return planes, policy

    def inverse(self, k: int) -> int:
        if k != 0:
            raise ValueError(f"chess symmetry {k}: only the identity (0) exists")
        return 0
