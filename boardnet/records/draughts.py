"""English draughts (checkers) records: PDN, and the one-game-a-line ACF format.

Both are replayed through `boardnet.games.checkers` (player 0 = Black = the side that moves first
from squares 1-12; `result` in `returns()` layout). A multi-jump `22x15x8` becomes several actions,
one per jump, as the project's encoding plays it; the short form `22x8` is read when only one
capture path fits.

PDN (`@register("pdn")`, what `records.write` writes): tag pairs (`[Result "1-0"]`,
`[FEN "B:W21-32:B1-12"]`, `[GameType "21"]`; Black/White/Event/Date/Round/Site kept in `meta`),
move numbers `1.` / `1...`, moves `11-15`, `22x15`, `22x15x8`, results `1-0` (the first player,
Black, won), `0-1`, `1/2-1/2` (also the 2-point forms `2-0`, `0-2`, `1-1`) and `*`. Comments
`{...}`, `;` line comments, NAGs `$n`, `!`/`?` marks and variations `( ... )` are skipped. A game
type other than 21 (English draughts) is skipped with a reason.

ACF (`@register("acf")`, the shared `checkers/acf/ACF.txt`): one game a line, moves separated by
spaces, each move the square indices it visits joined by '-' (`21-14-5` is a double jump), a tab,
then the result (`1-0`: Red won, the collection's first mover, which is Black = player 0 here;
`0-1`: White won; `1/2-1/2`). Square indices follow that collection's diagram (REF.png): 0-31
from a1, c1, e1, g1 (0-3) up to b8, d8, f8, h8 (28-31), the first mover (Red) on 0-11 at the
bottom. Turned 180 degrees this is the standard numbering (Black = Red on 1-12 at the top):
`square = 4 * (i // 4) + 4 - i % 4`. A line may start with a start position: a FEN-like token of
that collection (`rPPPPPPPPPPPP44pppppppppppp`: side to move `r`/`w`, then the 32 squares by
index, `P`/`K` red man/king, `p`/`k` white, each digit a run of empty squares) or an opening name
from a `starting_position_lookup.txt` beside the file (then followed by a tab). A `.txt` with no
game line at all (a README in a folder of records) is one skip for the file.

The shared ACF.txt (9,377 games) reads whole: 9,369 replay to their last move; 8 play on after a
threefold repetition, which the project's rules draw at once, and are cut there (counted, kind
"move after the game ended"). Its games end by resignation or agreement, so the result is taken
from the record, not from the final position.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from boardnet.games.base import GameError
from boardnet.games.checkers import Checkers, CheckersState
from boardnet.records.base import GameRecord, ReadReport, register

_GAME: Checkers | None = None

PDN_RESULTS = {"1-0": (1.0, -1.0), "2-0": (1.0, -1.0), "0-1": (-1.0, 1.0), "0-2": (-1.0, 1.0),
               "1/2-1/2": (0.0, 0.0), "1-1": (0.0, 0.0)}
_RESULT_NORM = {"1-0": "1-0", "2-0": "1-0", "0-1": "0-1", "0-2": "0-1", "1/2-1/2": "1/2-1/2",
                "1-1": "1/2-1/2"}
PDN_META = ("Black", "White", "Event", "Date", "Round", "Site", "Opening")


def checkers_game() -> Checkers:
    """The Checkers game records are replayed in (the project's rules and draw counters)."""
    global _GAME
    if _GAME is None:
        _GAME = Checkers()
    return _GAME


def play_moves(start: CheckersState, moves: list[str], source: str, index: int,
               report: ReadReport, shown: list[str] | None = None) -> tuple[list[int], str | None]:
    """Replay whole-move texts (`11-15`, `22x15x8`) from `start`: (actions, stop reason). An
    illegal or unreadable move stops the game there, counted as a truncation in `report`.
    `shown`: the moves as the record wrote them, for the reason (default: `moves`)."""
    s = start
    actions: list[int] = []
    for k, move in enumerate(moves):
        text = move if shown is None else f"{shown[k]} = {move}"
        if s.is_terminal():
            why = (f"move after the game ended: move {k + 1} ({text}); the rules ended the game "
                   f"before it ({_ending(s)})")
            report.truncate(source, index, why)
            return actions, why
        try:
            steps = s.text_to_actions(move)
            for a in steps:
                s = s.apply(a)
        except (ValueError, GameError) as e:
            why = f"illegal move: move {k + 1} ({text}): {str(e).split(': ', 1)[-1]}"
            report.truncate(source, index, why)
            return actions, why
        actions.extend(steps)
    return actions, None


def _ending(s: CheckersState) -> str:
    w = s.winner()
    if w is not None:
        return f"{('black', 'white')[1 - w]} cannot move"
    if s.repetitions >= 3:
        return "draw by threefold repetition"
    return f"draw by the {s.game.no_progress_plies}-ply no-progress rule"


# -- PDN ---------------------------------------------------------------------------------------

_PDN_TOKEN = re.compile(r"""
    (?P<tag>\[\s*(?P<name>[A-Za-z0-9_]+)\s+"(?P<value>(?:[^"\\]|\\.)*)"\s*\])
  | (?P<comment>\{[^}]*\}?)
  | (?P<line>;[^\n]*)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<result>(?:1/2-1/2|2-0|0-2|1-0|0-1|1-1|0-0|\*)(?![-x\d]))
  | (?P<num>\d+\s*\.(?:\s*\.\.)?)
  | (?P<move>\d+(?:\s*[-x:]\s*\d+)+)[!?]*
  | (?P<nag>\$\d+|[!?]+)
  | (?P<space>\s+)
  | (?P<other>\S+)
""", re.VERBOSE)


def pdn_games(text: str) -> Iterator[tuple[dict[str, str], list[str], str | None, str | None]]:
    """(tags, main-line move texts, result token or None, first unreadable token or None) per game."""
    tags: dict[str, str] = {}
    moves: list[str] = []
    result: str | None = None
    bad: str | None = None
    depth = 0
    started = False            # the current game has movetext (a tag then starts a new game)

    def done():
        return tags or moves or result or bad

    for m in _PDN_TOKEN.finditer(text):
        kind = m.lastgroup
        if kind in ("space", "comment", "line", "nag", "num"):
            continue
        if kind == "tag":
            if started and done():
                yield tags, moves, result, bad
                tags, moves, result, bad, depth, started = {}, [], None, None, 0, False
            tags[m.group("name")] = m.group("value").replace('\\"', '"')
            continue
        if kind == "open":
            depth += 1
            continue
        if kind == "close":
            depth = max(depth - 1, 0)
            continue
        if depth:
            continue              # inside a variation
        started = True
        if kind == "result":
            result = m.group("result")
            yield tags, moves, result, bad
            tags, moves, result, bad, depth, started = {}, [], None, None, 0, False
        elif kind == "move":
            if bad is None:
                moves.append(re.sub(r"\s+", "", m.group("move")).replace(":", "x"))
        elif bad is None:
            bad = m.group(0)[:40]
    if done():
        yield tags, moves, result, bad


@register("pdn")
def parse_pdn(text: str, source: str, report: ReadReport) -> Iterator[GameRecord]:
    game = checkers_game()
    for index, (tags, moves, res_tok, bad) in enumerate(pdn_games(text)):
        gtype = tags.get("GameType", "21").split(",")[0].strip()
        if gtype not in ("21", ""):
            report.skip(source, index, f"unsupported game type: GameType {gtype} (21 = English draughts)",
                        kind="unsupported game type")
            continue
        fen = tags.get("FEN", "").strip()
        try:
            start = game.state_from_text(fen) if fen else game.initial_state()
        except ValueError as e:
            report.skip(source, index, f"bad start position: {e}", kind="bad start position")
            continue
        res = (res_tok if res_tok not in (None, "*") else tags.get("Result", "*")).strip()
        result = PDN_RESULTS.get(res)
        if not moves and result is None:
            why = f"unreadable move text: {bad!r}" if bad else "no moves and no result"
            report.skip(source, index, why, kind=why.split(":")[0])
            continue
        meta = {k: tags[k].strip() for k in PDN_META if tags.get(k, "").strip() not in ("", "?")}
        actions, why = play_moves(start, moves, source, index, report)
        if why is None and bad is not None:
            why = f"unreadable move text: after move {len(moves)}: {bad!r}"
            report.truncate(source, index, why)
        yield GameRecord(source=source, index=index, game=game, start=start, actions=actions,
                         result=result, result_text=_RESULT_NORM.get(res, "*"), meta=meta, stopped=why)


# -- ACF ---------------------------------------------------------------------------------------

def acf_square(i: int) -> int:
    """ACF collection index 0-31 (REF.png, first mover at the bottom) -> standard square 1-32."""
    if not 0 <= i <= 31:
        raise ValueError(f"square index {i} is not in 0-31")
    return 4 * (i // 4) + 4 - i % 4


ACF_RESULTS = {"1-0": (1.0, -1.0), "0-1": (-1.0, 1.0), "1/2-1/2": (0.0, 0.0)}
_ACF_MOVE = re.compile(r"\d+(?:-\d+)+")
_ACF_POS = re.compile(r"[rw][PpKk1-8]+")
_ACF_GAME_LINE = re.compile(r"\d\s*(?:\t|\s)(?:1-0|0-1|1/2-1/2|\*)[ \t]*\r?$", re.M)


def acf_position(text: str) -> str:
    """A FEN-like start of the ACF collection (`rPPPP...pppp`) -> PDN FEN for `Checkers`."""
    t = text.strip()
    if not _ACF_POS.fullmatch(t):
        raise ValueError(f"start position {text!r}: expected r/w then pieces P p K k and digits")
    cells: list[str] = []
    for ch in t[1:]:
        cells.extend(["."] * int(ch) if ch.isdigit() else [ch])
    if len(cells) != 32:
        raise ValueError(f"start position {text!r}: {len(cells)} squares, not 32")
    black = [("K" if c == "K" else "") + str(acf_square(i)) for i, c in enumerate(cells) if c in "PK"]
    white = [("K" if c == "k" else "") + str(acf_square(i)) for i, c in enumerate(cells) if c in "pk"]
    return f"{'B' if t[0] == 'r' else 'W'}:W{','.join(white)}:B{','.join(black)}"


_OPENINGS: dict[str, dict[str, str]] = {}


def acf_openings(path: str | Path) -> dict[str, str]:
    """Opening name -> FEN-like start from a `starting_position_lookup.txt` ({} if absent)."""
    key = str(path)
    if key not in _OPENINGS:
        table: dict[str, str] = {}
        try:
            for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
                if line.startswith("#") or "\t" not in line:
                    continue
                name, pos = line.rsplit("\t", 1)
                table[name.strip()] = pos.strip()
        except OSError:
            pass
        _OPENINGS[key] = table
    return _OPENINGS[key]


def _lookup_for(source: str) -> dict[str, str]:
    p = Path(source)
    return acf_openings(p.parent / "starting_position_lookup.txt") if p.parent.is_dir() else {}


@register("acf")
def parse_acf(text: str, source: str, report: ReadReport) -> Iterator[GameRecord]:
    game = checkers_game()
    if not _ACF_GAME_LINE.search(text):
        # e.g. a README.txt in a folder of records: one count for the file, not one per line
        report.skip(source, -1, "not an ACF game file: no line ends in a tab and a result",
                    kind="not a record file")
        return
    openings: dict[str, str] | None = None
    index = -1
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        index += 1
        body, _, res = line.rpartition("\t")
        if not _:
            body, _, res = line.rstrip().rpartition(" ")
        res = res.strip()
        if res not in ACF_RESULTS and res != "*":
            report.skip(source, index, f"no result: line does not end in a tab and 1-0, 0-1 or 1/2-1/2 "
                        f"({line[-20:]!r})", kind="no result")
            continue
        start = game.initial_state()
        opening = ""
        toks = body.split()
        if toks and not _ACF_MOVE.fullmatch(toks[0]):
            head, sep, rest = body.partition("\t")
            if openings is None:
                openings = _lookup_for(source)
            try:
                if _ACF_POS.fullmatch(toks[0]):
                    start = game.state_from_text(acf_position(toks[0]))
                    toks = toks[1:]
                elif sep and head.strip() in openings:
                    opening = head.strip()
                    start = game.state_from_text(acf_position(openings[opening]))
                    toks = rest.split()
                else:
                    report.skip(source, index, f"unknown start: {toks[0][:30]!r} is neither a move, a "
                                "start position nor a known opening", kind="unknown start")
                    continue
            except ValueError as e:
                report.skip(source, index, f"bad start position: {e}", kind="bad start position")
                continue
        moves: list[str] = []
        shown: list[str] = []
        bad = None
        for t in toks:
            if not _ACF_MOVE.fullmatch(t):
                bad = f"unreadable move text: move {len(moves) + 1}: {t[:30]!r}"
                break
            try:
                # '-' or 'x' alike: the rules tell a jump from a step
                moves.append("-".join(str(acf_square(int(i))) for i in t.split("-")))
                shown.append(f"ACF {t}")
            except ValueError as e:
                bad = f"bad square: move {len(moves) + 1} ({t}): {e}"
                break
        actions, why = play_moves(start, moves, source, index, report, shown)
        if why is None and bad is not None:
            why = bad
            report.truncate(source, index, why)
        meta = {"opening": opening} if opening else {}
        yield GameRecord(source=source, index=index, game=game, start=start, actions=actions,
                         result=ACF_RESULTS.get(res), result_text=res if res in ACF_RESULTS else "*",
                         meta=meta, stopped=why)

