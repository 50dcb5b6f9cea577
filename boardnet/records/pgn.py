"""PGN chess records (python-chess `chess.pgn`), streamed one game at a time, main line only.

Read: the `FEN`/`SetUp` start (standard chess only: a `Variant` other than standard is skipped),
`Result` (`1-0`, `0-1`, `1/2-1/2`; `*` or absent = unknown) as `result` in `returns()` layout, in
which player 0 is White; `White`/`Black`/`WhiteElo`/`BlackElo`/`Event`/`Date` (and `Termination`,
`ECO`, `TimeControl` when given) into `meta`. Side lines are ignored.

Labels: where a move's comment carries an engine evaluation, `labels[k]` (the position after
action k) is `{"eval_cp": int}` or `{"mate": int}`, both from WHITE's view (positive: good for
White; `mate` in moves, its sign says who mates). Read from `[%eval 0.35]` / `[%eval #-3]`
(lichess; already White's view) and from cutechess-style `{+0.35/12 0.2s}` / `{-M5/30}` (the view
of the side that just moved; negated here after Black's moves). Moves without one get `{}`;
`labels` is None when no move has one.

Teacher labels (`selfplay teach chess` writes them; White's view like `%eval`): `[%wdl W D L]`
(win/draw/loss per mille, e.g. Stockfish's UCI_ShowWDL) -> `"wdl": (W, D, L)`, and `[%mpv e2e4
0.35 d2d4 0.30 g1f3 #5]` (the teacher's top moves in UCI with their %eval-style scores, for the
position BEFORE action k, i.e. the alternatives to the move played) -> `"multipv": [{"move":
"e2e4", "eval_cp": 35}, {"move": "g1f3", "mate": 5}, ...]`.

The game is replayed through `boardnet.games.chess` with no ply cap (records may be longer than
self-play's cap); the project's automatic draw rules (threefold repetition, 50 moves) still end
the game, so a record that plays on after one is cut there with the reason. python-chess's own
errors (an illegal or ambiguous SAN ends its main line), null moves and illegal moves are counted
as truncations; a bad FEN, an unsupported variant or an empty game (no moves, no result) as skips.
"""
from __future__ import annotations

import io
import re
from collections.abc import Iterator

import chess
import chess.pgn

from boardnet.games.chess import Chess
from boardnet.records.base import GameRecord, ReadReport, register

_GAME: Chess | None = None
RESULTS = {"1-0": (1.0, -1.0), "0-1": (-1.0, 1.0), "1/2-1/2": (0.0, 0.0)}
META_TAGS = ("White", "Black", "WhiteElo", "BlackElo", "Event", "Date", "Termination", "ECO",
             "TimeControl")
_PLACEHOLDERS = ("", "?", "????.??.??", "-")
# cutechess/Arena comment: "+0.35/12 0.2s", "-1.20/9", "+M5/30", "-M3/12"
_ENGINE_EVAL = re.compile(r"^\s*([+-]?)(?:(\d+(?:\.\d+)?)|M(\d+))/\d+\b")


def chess_game() -> Chess:
    """The Chess game records are replayed in: the project's rules, no ply cap."""
    global _GAME
    if _GAME is None:
        _GAME = Chess(max_plies=None)
    return _GAME


class _QuietBuilder(chess.pgn.GameBuilder):
    """GameBuilder that keeps errors in `game.errors` without logging them to stderr."""

    def handle_error(self, error: Exception) -> None:
        self.game.errors.append(error)


_WDL = re.compile(r"\[%wdl\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")
_MPV = re.compile(r"\[%mpv\s+([^\]]*)\]")


def _score_label(text: str) -> dict | None:
    """A %eval-style score ('0.35', '-1.2', '#-3') -> {"eval_cp": 35} / {"mate": -3}; None if not one."""
    try:
        if text.startswith("#"):
            return {"mate": int(text[1:])}
        return {"eval_cp": int(round(float(text) * 100))}
    except ValueError:
        return None


def eval_label(node: chess.pgn.ChildNode, white_moved: bool) -> dict:
    """The engine evaluation in a move's comment, from White's view ({} when none), with the
    teacher's `wdl` and `multipv` when the comment carries them (see the module doc)."""
    out = _eval_only(node, white_moved)
    comment = node.comment
    if comment and "[%" in comment:
        m = _WDL.search(comment)
        if m:
            out["wdl"] = tuple(int(x) for x in m.groups())
        m = _MPV.search(comment)
        if m:
            toks = m.group(1).split()
            rows = []
            for mv, sc in zip(toks[0::2], toks[1::2]):
                lab = _score_label(sc)
                if lab is None:
                    break
                rows.append({"move": mv, **lab})
            if rows:
                out["multipv"] = rows
    return out


def _eval_only(node: chess.pgn.ChildNode, white_moved: bool) -> dict:
    comment = node.comment
    if not comment:
        return {}
    if "[%eval" in comment:
        try:
            pov = node.eval()
        except (ValueError, IndexError):
            pov = None
        if pov is not None:
            w = pov.white()
            return {"mate": int(w.mate())} if w.is_mate() else {"eval_cp": int(w.score())}
    m = _ENGINE_EVAL.match(comment)
    if m is None:
        return {}
    sign = -1 if m.group(1) == "-" else 1
    if not white_moved:
        sign = -sign
    if m.group(3) is not None:
        return {"mate": sign * int(m.group(3))}
    return {"eval_cp": sign * int(round(float(m.group(2)) * 100))}


def _why(err: Exception) -> str:
    return f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}".strip()


def game_from_pgn(pg: chess.pgn.Game, source: str, index: int, report: ReadReport) -> GameRecord | None:
    game = chess_game()
    headers = pg.headers
    variant = headers.get("Variant", "").strip().lower()
    if variant not in ("", "standard", "chess", "normal"):
        report.skip(source, index, f"unsupported variant: {headers.get('Variant')}",
                    kind="unsupported variant")
        return None
    try:
        board = pg.board()
        start = game.state_from_text(board.fen())
    except ValueError as e:   # python-chess FEN errors, our ParseError (illegal position, Chess960)
        report.skip(source, index, f"bad start position: {_why(e)}", kind="bad start position")
        return None
    res_tag = headers.get("Result", "*").strip()
    result = RESULTS.get(res_tag)
    result_text = res_tag if result is not None else "*"
    nodes = list(pg.mainline())
    if not nodes and result is None:
        why = (f"unparsable game: {_why(pg.errors[0])}" if pg.errors
               else "no moves and no result")
        report.skip(source, index, why, kind=why.split(":")[0])
        return None
    meta = {k: headers[k].strip() for k in META_TAGS if headers.get(k, "").strip() not in _PLACEHOLDERS}
    s = start
    actions: list[int] = []
    labels: list[dict] = []
    stop: str | None = None
    for k, node in enumerate(nodes):
        move = node.move
        ply = f"move {k + 1} ({move.uci() if move else '--'})"
        if s.is_terminal():
            stop = f"move after the game ended: {ply}; the rules ended the game before it ({s.termination()})"
            break
        if not move:
            stop = f"null move: {ply}: not a move in the project's rules"
            break
        try:
            a = s.move_to_action(move)
            s = s.apply(a)
        except ValueError as e:
            stop = f"illegal move: {ply}: {str(e).split(': ')[-1]}"
            break
        actions.append(a)
        labels.append(eval_label(node, white_moved=(s.to_play() == 1)))
    if stop is None and pg.errors:
        # python-chess ends a line at its first error; errors name the board they happened on,
        # so one in a side line (ignored here) does not cut the main line
        here = " ".join(s.fen().split()[:2])
        main = [e for e in pg.errors if here in str(e) or " in " not in str(e)]
        if main:
            stop = f"PGN error: after move {len(actions)}: {_why(main[0])}"
    if stop is not None:
        report.truncate(source, index, stop)
    return GameRecord(source=source, index=index, game=game, start=start, actions=actions,
                      result=result, result_text=result_text, meta=meta,
                      labels=labels if any(labels) else None, stopped=stop)


@register("pgn")
def parse(text: str, source: str, report: ReadReport) -> Iterator[GameRecord]:
    handle = io.StringIO(text)
    index = 0
    while True:
        try:
            pg = chess.pgn.read_game(handle, Visitor=_QuietBuilder)
        except Exception as e:  # noqa: BLE001 - python-chess must not stop a whole file
            report.skip(source, index, f"unparsable PGN: {_why(e)}", kind="unparsable")
            return
        if pg is None:
            return
        rec = game_from_pgn(pg, source, index, report)
        index += 1
        if rec is not None:
            yield rec
