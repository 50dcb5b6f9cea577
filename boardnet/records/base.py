"""What every record reader shares: `GameRecord`, the `ReadReport` of counted skips, the format
registry (`register`, `FORMATS`) and `replay` (moves through the project's rules until one is illegal).
The format modules (sgf, pgn, draughts) import this; `read.py` imports them, so there is no cycle.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from boardnet.games.base import Game, State

MAX_ERRORS_KEPT = 200          # the report keeps this many (source, index, reason) examples


@dataclass
class GameRecord:
    """One game read from a collection.

    `actions` are legal from `start` under the project's rules (replayed while reading); `result`
    is the score per player in `State.returns()` layout (+1 win, -1 loss, 0 draw) or None when the
    record gives none; `labels`, where the format carries them, is one dict per action (e.g. an
    engine evaluation); `stopped` is the reason the game was cut short, None for a whole game.
    """

    source: str
    index: int
    game: Game
    start: State
    actions: list[int]
    result: tuple[float, float] | None
    result_text: str = ""
    meta: dict[str, str] = field(default_factory=dict)
    labels: list[dict] | None = None
    stopped: str | None = None

    @property
    def key(self) -> str:
        """A stable identity of the game within its collection: `source#index`."""
        return f"{self.source}#{self.index}"

    def states(self) -> Iterator[State]:
        """The position before each action (len(actions) states), replayed from `start`."""
        s = self.start
        for a in self.actions:
            yield s
            s = s.apply(a)


@dataclass
class ReadReport:
    """Counts of what reading saw; `errors` keeps the first MAX_ERRORS_KEPT (source, index, reason)."""

    files: int = 0
    games: int = 0
    positions: int = 0
    truncated: int = 0
    results: Counter = field(default_factory=Counter)
    sizes: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)      # reason kind -> games skipped
    cut: Counter = field(default_factory=Counter)          # reason kind -> games truncated
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    errors_total: int = 0

    def skip(self, source: str, index: int, reason: str, kind: str | None = None) -> None:
        """Count a record that yields nothing. `kind` groups reasons (default: text before ':')."""
        self.skipped[kind or reason.split(":")[0]] += 1
        self._keep(source, index, reason)

    def truncate(self, source: str, index: int, reason: str, kind: str | None = None) -> None:
        self.truncated += 1
        self.cut[kind or reason.split(":")[0]] += 1
        self._keep(source, index, reason)

    def _keep(self, source: str, index: int, reason: str) -> None:
        self.errors_total += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append((source, index, reason))

    def add(self, rec: GameRecord) -> None:
        self.games += 1
        self.positions += len(rec.actions)
        self.results[rec.result_text or "?"] += 1
        self.sizes[rec.game.name] += 1

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def to_dict(self) -> dict:
        return {"files": self.files, "games": self.games, "positions": self.positions,
                "truncated": self.truncated, "skipped": self.skipped_total,
                "skipped_by_reason": dict(self.skipped), "truncated_by_reason": dict(self.cut),
                "results": dict(self.results), "games_by_kind": dict(self.sizes),
                "errors": [list(e) for e in self.errors], "errors_total": self.errors_total}

    def summary(self, max_errors: int = 20) -> str:
        lines = [f"files: {self.files}", f"games: {self.games:,}", f"positions: {self.positions:,}"]
        if self.sizes:
            lines.append("games by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(self.sizes.items())))
        if self.results:
            top = self.results.most_common(12)
            more = len(self.results) - len(top)
            lines.append("results: " + ", ".join(f"{k} {v:,}" for k, v in top)
                         + (f", {more} other kinds" if more > 0 else ""))
        lines.append(f"skipped: {self.skipped_total:,}" + ("" if not self.skipped else " ("
                     + ", ".join(f"{k}: {v:,}" for k, v in self.skipped.most_common()) + ")"))
        lines.append(f"truncated: {self.truncated:,}" + ("" if not self.cut else " ("
                     + ", ".join(f"{k}: {v:,}" for k, v in self.cut.most_common()) + ")"))
        for src, idx, why in self.errors[:max_errors]:
            lines.append(f"  {src} game {idx}: {why}")
        if self.errors_total > max_errors:
            lines.append(f"  ... and {self.errors_total - max_errors:,} more")
        return "\n".join(lines)


Parser = Callable[[str, str, ReadReport], Iterator[GameRecord]]
FORMATS: dict[str, Parser] = {}
def register(name: str) -> Callable[[Parser], Parser]:
    def deco(fn: Parser) -> Parser:
        FORMATS[name] = fn
        return fn
    return deco



def replay(game: Game, start: State, moves: Iterable[tuple[int, object]], source: str, index: int,
           report: ReadReport) -> tuple[list[int], list[object], str | None]:
    """Apply (action, label) pairs from `start` until one is illegal: (actions, labels, stop reason).
    The reason names the move number and what the rules said."""
    s = start
    actions: list[int] = []
    labels: list[object] = []
    for k, (a, lab) in enumerate(moves):
        if s.is_terminal():
            why = f"illegal move: move {k + 1} comes after the game ended"
            report.truncate(source, index, why)
            return actions, labels, why
        try:
            s = s.apply(int(a))
        except ValueError as e:   # IllegalMoveError and ParseError are ValueErrors
            why = f"illegal move: move {k + 1} ({s.action_to_text(int(a)) if 0 <= int(a) < game.action_size else a}): {str(e).split(': ')[-1]}"
            report.truncate(source, index, why)
            return actions, labels, why
        actions.append(int(a))
        labels.append(lab)
    return actions, labels, None
