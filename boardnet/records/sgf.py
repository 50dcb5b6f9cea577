"""SGF (FF[4]) Go records: one or more game trees per file, main line only.

Read: `SZ` (5-19; 19 when absent), `KM` (komi; 0 when absent, as FF[4] says), `HA` with `AB`/`AW`
setup stones (point lists and compressed `aa:cc` ranges) and `PL`, `RE` (`B+R`, `W+3.5`, `B+T`,
`W+F`, `0`/`Draw`/`Jigo`, `Void`/`?`/absent = unknown), `PB`/`PW`/`BR`/`WR`/`DT`/`RU` into
`meta`, moves `B[..]`/`W[..]` with passes as `B[]` or `B[tt]` (boards up to 19x19). Comments and
other properties are skipped; at a branch the first variation is the main line.

Territory: `TB`/`TW` (FF[4] territory marks, on any main-line node; by the KGS/CGoban scoring
convention they also cover the points of dead stones) go into `meta["TB"]`/`meta["TW"]` as
space-separated SGF points. `ownership(rec)` turns them and the final board into an ownership
label [N, N] (+1 black, -1 white, 0 neutral), `dead_stones(rec)` lists the stones standing in the
other colour's territory, and `score(rec)` reads a numeric `RE` (`B+3.5` -> +3.5, Black's view).
`selfplay teach go` writes its teacher's final status this way.

Stops with a counted reason: a move by the side not to play (our rules alternate), setup stones
after the first move, a move off the board, or a move the project's rules forbid (suicide,
positional superko, occupied point).
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from boardnet.games.go import MAX_SIZE, MIN_SIZE, Go
from boardnet.records.base import GameRecord, ReadReport, register, replay

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_GAMES: dict[tuple[int, float], Go] = {}
_GAMES_KEPT = 8   # a Go(19) holds ~130 KiB of tables and builds in ~1 ms; collections have dozens of komis


def go_game(size: int, komi: float) -> Go:
    """A cached Go(size, komi) (building one computes Zobrist tables and masks); the cache keeps the
    most recently used few, so that memory stays flat over collections with many komi values."""
    key = (size, komi)
    g = _GAMES.pop(key, None)
    if g is None:
        g = Go(size, komi=komi)
        while len(_GAMES) >= _GAMES_KEPT:
            del _GAMES[next(iter(_GAMES))]
    _GAMES[key] = g   # (re)inserted last: the least recently used is first
    return g


class SGFError(ValueError):
    pass


def parse_collection(text: str) -> Iterator[list[list[tuple[str, list[str]]]] | SGFError]:
    """Main-line node lists of each game tree in an SGF collection.

    Each node is a list of (property, values). A tree that cannot be parsed yields an SGFError
    (and parsing resumes at the next top-level '(' when one can be found).
    """
    n = len(text)
    i = 0
    while True:
        i = text.find("(", i)
        if i < 0:
            return
        try:
            nodes, i = _parse_tree(text, i)
        except SGFError as e:
            yield e
            nxt = text.find("\n(;", i + 1) if isinstance(i, int) else -1
            if nxt < 0:
                return
            i = nxt + 1
            continue
        if nodes:
            yield nodes
        if i >= n:
            return


def _parse_tree(text: str, i: int) -> tuple[list, int]:
    """Parse the game tree starting at text[i] == '('; return (main-line nodes, index after it)."""
    n = len(text)
    depth = 0
    main_done = False          # a nested variation closed: the rest of the tree is side lines
    nodes: list[list[tuple[str, list[str]]]] = []
    node: list[tuple[str, list[str]]] | None = None
    while i < n:
        ch = text[i]
        if ch == "(":
            depth += 1
            if depth > 1 and nodes and not main_done:
                pass           # the first child variation continues the main line
            i += 1
        elif ch == ")":
            depth -= 1
            i += 1
            if depth == 0:
                return nodes, i
            main_done = True
        elif ch == ";":
            i += 1
            node = [] if not main_done else None
            if node is not None:
                nodes.append(node)
        elif ch.isalpha():
            j = i
            while j < n and text[j].isalpha():
                j += 1
            ident = "".join(c for c in text[i:j] if c.isupper())   # FF[3] allowed lower-case letters
            i = j
            values = []
            while True:
                while i < n and text[i] in " \t\r\n":
                    i += 1
                if i >= n or text[i] != "[":
                    break
                j = i + 1
                buf = []
                while j < n and text[j] != "]":
                    if text[j] == "\\" and j + 1 < n:
                        j += 1
                    buf.append(text[j])
                    j += 1
                if j >= n:
                    raise SGFError("unterminated property value")
                values.append("".join(buf))
                i = j + 1
            if not values:
                raise SGFError(f"property {ident!r} without a value")
            if node is not None and not main_done:
                node.append((ident, values))
            elif node is None and not main_done:
                raise SGFError(f"property {ident!r} outside a node")
        elif ch in " \t\r\n":
            i += 1
        else:
            raise SGFError(f"unexpected character {ch!r} at offset {i}")
    raise SGFError("unterminated game tree (missing ')')")


def _point(v: str, size: int) -> int | None:
    """SGF point 'pd' -> action r*N + c; None for a pass ('' or 'tt' on boards up to 19)."""
    v = v.strip()
    if v == "" or (v == "tt" and size <= 19):
        return None
    if len(v) != 2 or v[0] not in _LETTERS or v[1] not in _LETTERS:
        raise SGFError(f"point {v!r} is not two letters")
    c, r = _LETTERS.index(v[0]), _LETTERS.index(v[1])
    if c >= size or r >= size:
        raise SGFError(f"point {v!r} is off the {size}x{size} board")
    return r * size + c


def _points(values: list[str], size: int) -> list[int]:
    out = []
    for v in values:
        if ":" in v:
            a, b = v.split(":", 1)
            pa, pb = _point(a, size), _point(b, size)
            if pa is None or pb is None:
                raise SGFError(f"point range {v!r} has a pass in it")
            r0, r1 = sorted((pa // size, pb // size))
            c0, c1 = sorted((pa % size, pb % size))
            out += [r * size + c for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]
        else:
            p = _point(v, size)
            if p is not None:
                out.append(p)
    return out


def parse_result(re_text: str) -> tuple[tuple[float, float] | None, str]:
    """SGF RE -> (returns for (black, white) or None, normalised text)."""
    t = re_text.strip()
    u = t.upper()
    if u in ("0", "DRAW", "JIGO", "D"):
        return (0.0, 0.0), "0"
    if len(u) >= 2 and u[0] in "BW" and u[1] == "+":
        how = u[2:].strip()
        kind = ("R" if how.startswith("R") else "T" if how.startswith("T") else
                "F" if how.startswith("F") else "")
        if not kind:
            try:
                kind = f"{float(how):g}"
            except ValueError:
                kind = "?" if how else ""
        res = (1.0, -1.0) if u[0] == "B" else (-1.0, 1.0)
        return res, f"{u[0]}+{kind}" if kind else f"{u[0]}+"
    return None, "?"


def game_from_nodes(nodes: list, source: str, index: int, report: ReadReport) -> GameRecord | None:
    root = dict()
    for ident, vals in nodes[0]:
        root.setdefault(ident, []).extend(vals)
    first = lambda k, d="": root.get(k, [d])[0].strip()
    gm = first("GM", "1")
    if gm not in ("1", ""):
        report.skip(source, index, f"not a Go record: GM[{gm}]", kind="not Go")
        return None
    sz = first("SZ", "19")
    try:
        size = int(sz.split(":")[0])
    except ValueError:
        report.skip(source, index, f"unknown board size: SZ[{sz}]", kind="unknown board size")
        return None
    if not MIN_SIZE <= size <= MAX_SIZE or ":" in sz:
        report.skip(source, index, f"unsupported board size: SZ[{sz}] (5-19 square boards)",
                    kind="unsupported board size")
        return None
    km = first("KM", "0")
    try:
        komi = float(km) if km else 0.0
    except ValueError:
        report.skip(source, index, f"unreadable komi: KM[{km}]", kind="unreadable komi")
        return None
    game = go_game(size, komi)
    result, re_norm = parse_result(first("RE")) if "RE" in root else (None, "?")
    meta = {k: first(k) for k in ("PB", "PW", "BR", "WR", "DT", "RU", "HA", "EV", "PC") if k in root}
    try:
        black = _points(root.get("AB", []), size)
        white = _points(root.get("AW", []), size)
        empty = set(_points(root.get("AE", []), size))
    except SGFError as e:
        report.skip(source, index, f"bad setup stones: {e}", kind="bad setup")
        return None
    black = [p for p in black if p not in empty]
    white = [p for p in white if p not in empty]
    for ident in ("TB", "TW"):   # territory marks: usually on the last node, so look at every node
        vals = [v for node in nodes for i, vs in node if i == ident for v in vs]
        try:
            pts = _points(vals, size)
        except SGFError:
            pts = []             # unreadable marks are markup, not the game: no ownership label
        if pts:
            meta[ident] = " ".join(_sgf_point(p, size) for p in sorted(set(pts)))
    moves: list[tuple[int, None]] = []
    colours: list[int] = []
    stop: str | None = None
    for k, node in enumerate(nodes):
        for ident, vals in node:
            if ident in ("B", "W"):
                try:
                    p = _point(vals[0], size)
                except SGFError as e:
                    stop = f"bad move: move {len(moves) + 1}: {e}"
                    break
                moves.append((game.pass_action if p is None else p, None))
                colours.append(0 if ident == "B" else 1)
            elif ident in ("AB", "AW", "AE") and k > 0:
                if moves:
                    stop = f"setup stones after move {len(moves)}: not supported"
                    break
                try:   # setup in a later node before any move (some editors write it so)
                    pts = _points(vals, size)
                except SGFError as e:
                    stop = f"bad setup: {e}"
                    break
                {"AB": black, "AW": white}.get(ident, []).extend(pts)
        if stop:
            break
    pl = first("PL").upper()
    to_play = (0 if pl.startswith("B") else 1) if pl[:1] in ("B", "W") else (
        colours[0] if colours else (1 if black and not white else 0))
    try:
        start = game.setup_state(black, white, to_play)
    except ValueError as e:
        report.skip(source, index, f"bad setup: {e}", kind="bad setup")
        return None
    # our rules alternate colours: a move by the side not to play ends the readable part
    n_ok = len(moves)
    for k, c in enumerate(colours):
        if c != (to_play + k) % 2:
            n_ok = k
            stop = f"move out of turn: move {k + 1} is {'BW'[c]} but {'BW'[(to_play + k) % 2]} is to play"
            break
    actions, _, why = replay(game, start, moves[:n_ok], source, index, report)
    if why is None and stop is not None:
        report.truncate(source, index, stop)
        why = stop
    return GameRecord(source=source, index=index, game=game, start=start, actions=actions,
                      result=result, result_text=re_norm, meta=meta, stopped=why)


@register("sgf")
def parse(text: str, source: str, report: ReadReport) -> Iterator[GameRecord]:
    for index, tree in enumerate(parse_collection(text)):
        if isinstance(tree, SGFError):
            report.skip(source, index, f"unparsable SGF: {tree}", kind="unparsable")
            continue
        rec = game_from_nodes(tree, source, index, report)
        if rec is not None:
            yield rec


def _sgf_point(p: int, size: int) -> str:
    r, c = divmod(int(p), size)
    return _LETTERS[c] + _LETTERS[r]


def ownership(rec: GameRecord) -> np.ndarray | None:
    """Final ownership int8 [N, N] (+1 black, -1 white, 0 neutral) from the record's TB/TW marks
    and its final board: marked points belong to the marking colour (dead stones included), other
    stones to their own colour, other empty points to nobody. None without marks, or when the
    record was cut short (the marks describe a board it never reached)."""
    if rec.stopped is not None or not ("TB" in rec.meta or "TW" in rec.meta):
        return None
    n = rec.game.n
    s = rec.start
    for a in rec.actions:
        s = s.apply(a)
    board = s.board()
    own = np.where(board == 1, 1, np.where(board == 2, -1, 0)).astype(np.int8).reshape(-1)
    tb = _points(rec.meta.get("TB", "").split(), n)
    tw = set(_points(rec.meta.get("TW", "").split(), n))
    for p in tb:
        own[p] = 0 if p in tw else 1
    for p in tw.difference(tb):
        own[p] = -1
    return own.reshape(n, n)


def dead_stones(rec: GameRecord) -> list[int] | None:
    """Points (actions r*N + c) of stones on the final board marked as the other colour's territory."""
    own = ownership(rec)
    if own is None:
        return None
    s = rec.start
    for a in rec.actions:
        s = s.apply(a)
    board = s.board().reshape(-1)
    flat = own.reshape(-1)
    return [int(p) for p in np.flatnonzero((board == 1) & (flat == -1) | (board == 2) & (flat == 1))]


def score(rec: GameRecord) -> float | None:
    """The numeric final score of RE from Black's view (`W+3.5` -> -3.5, `0` -> 0.0); None for a
    resignation, time, forfeit or unknown result."""
    t = rec.result_text
    if t == "0":
        return 0.0
    if len(t) > 2 and t[0] in "BW" and t[1] == "+":
        try:
            v = float(t[2:])
        except ValueError:
            return None
        return v if t[0] == "B" else -v
    return None


def rank_value(rank: str) -> float | None:
    """KGS/SGF rank text -> a number (30k = -29, 1k = 0, 1d = 1, 9d = 9, 1p = 10); None if unknown."""
    r = rank.strip().lower().rstrip("?*")
    if len(r) < 2 or not r[:-1].isdigit():
        return None
    v = int(r[:-1])
    return {"k": 1 - v, "d": v, "p": 9 + v}.get(r[-1])
