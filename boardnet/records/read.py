"""Streaming readers of game-record collections: files, folder trees, `.tar.gz`/`.tgz`/`.tar`,
`.zip` and `.gz` archives, in constant memory (one archive member at a time).

    report = ReadReport()
    for rec in read_records(["games/kgs/"], report=report):   # GameRecord, one per readable game
        ...
    print(report.summary())

A bad record never stops reading: an unreadable archive or file, an unparsable game, an unknown
board size or an illegal move is counted in the report with its source, game index and reason. A game
that turns illegal part-way is still yielded up to that move (`GameRecord.stopped` says why), and is
counted under `truncated`.

Formats (by file name, or `fmt=` for all files): `sgf` (`.sgf`, Go), `pgn` (`.pgn`, chess),
`pdn` (`.pdn`, checkers) and `acf` (the one-game-a-line draughts format of the shared ACF
collection; `.txt` files are taken as ACF when `fmt="auto"`). Each parser is a function
`parse(text, source, report) -> Iterator[GameRecord]` registered in `FORMATS`.
"""
from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from boardnet.games.base import Game, State

MAX_ERRORS_KEPT = 200          # the report keeps this many (source, index, reason) examples
MAX_MEMBER_BYTES = 64 << 20    # a single record file larger than this is skipped (not a game file)


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
EXTENSIONS = {".sgf": "sgf", ".pgn": "pgn", ".pdn": "pdn", ".txt": "acf"}
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip")


def register(name: str) -> Callable[[Parser], Parser]:
    def deco(fn: Parser) -> Parser:
        FORMATS[name] = fn
        return fn
    return deco


def _load_parsers() -> None:
    # the parsers register themselves on import; imported lazily so that read.py has no cycle
    from boardnet.records import draughts, pgn, sgf  # noqa: F401


def format_of(name: str, fmt: str = "auto") -> str | None:
    """The format of a file name (None: not a record file)."""
    if fmt != "auto":
        return fmt
    low = name.lower()
    if low.endswith(".gz") and not low.endswith(".tar.gz"):
        low = low[:-3]
    return EXTENSIONS.get(os.path.splitext(low)[1])


def decode(data: bytes) -> str:
    """Record text: UTF-8, else Latin-1 (old SGF and PGN files are often Latin-1)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def iter_files(paths: Iterable[str | os.PathLike], fmt: str = "auto",
               report: ReadReport | None = None) -> Iterator[tuple[str, str, str]]:
    """(source name, format, text) for every record file under `paths`, archives opened one member
    at a time. Unreadable inputs are counted in `report` (index -1) and skipped."""
    report = report if report is not None else ReadReport()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs.sort()
                for f in sorted(files):
                    yield from _iter_path(Path(root) / f, fmt, report, explicit=False)
        elif p.exists():
            yield from _iter_path(p, fmt, report, explicit=True)
        else:
            report.skip(str(p), -1, "no such file or folder", kind="missing input")


def _iter_path(p: Path, fmt: str, report: ReadReport, explicit: bool) -> Iterator[tuple[str, str, str]]:
    name = p.name.lower()
    try:
        if name.endswith(_ARCHIVE_SUFFIXES[:-1]):
            yield from _iter_tar(p, fmt, report)
            return
        if name.endswith(".zip"):
            yield from _iter_zip(p, fmt, report)
            return
        kind = format_of(name, fmt)
        if kind is None:
            if explicit:
                report.skip(str(p), -1, f"not a record file (unknown extension; pass a format)",
                            kind="unknown format")
            return
        if p.stat().st_size > MAX_MEMBER_BYTES * (8 if name.endswith(".gz") else 1) and kind == "sgf":
            report.skip(str(p), -1, f"file of {p.stat().st_size:,} bytes is too large for one SGF",
                        kind="too large")
            return
        if name.endswith(".gz"):
            with gzip.open(p, "rb") as fh:
                data = fh.read()
        else:
            data = p.read_bytes()
    except (OSError, EOFError, tarfile.TarError, zipfile.BadZipFile, ValueError) as e:
        report.skip(str(p), -1, f"unreadable: {type(e).__name__}: {e}", kind="unreadable file")
        return
    report.files += 1
    yield str(p), kind, decode(data)


def _iter_tar(p: Path, fmt: str, report: ReadReport) -> Iterator[tuple[str, str, str]]:
    try:
        tf = tarfile.open(p, mode="r|*")    # streaming: members in archive order, no index held
    except (OSError, tarfile.TarError, EOFError) as e:
        report.skip(str(p), -1, f"unreadable archive: {e}", kind="unreadable archive")
        return
    with tf:
        it = iter(tf)
        while True:
            try:
                member = next(it)
            except StopIteration:
                return
            except (OSError, tarfile.TarError, EOFError, zlib_error()) as e:
                report.skip(str(p), -1, f"archive broken after {report.files} files: {e}",
                            kind="broken archive")
                return
            if not member.isfile():
                continue
            kind = format_of(member.name, fmt)
            if kind is None:
                continue
            src = f"{p}:{member.name}"
            if member.size > MAX_MEMBER_BYTES:
                report.skip(src, -1, f"member of {member.size:,} bytes is too large", kind="too large")
                continue
            try:
                fh = tf.extractfile(member)
                data = fh.read() if fh is not None else b""
            except (OSError, tarfile.TarError, EOFError, zlib_error()) as e:
                report.skip(src, -1, f"archive broken at this member: {e}", kind="broken archive")
                return
            report.files += 1
            yield src, kind, decode(data)


def _iter_zip(p: Path, fmt: str, report: ReadReport) -> Iterator[tuple[str, str, str]]:
    try:
        zf = zipfile.ZipFile(p)
    except (OSError, zipfile.BadZipFile) as e:
        report.skip(str(p), -1, f"unreadable archive: {e}", kind="unreadable archive")
        return
    with zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            kind = format_of(info.filename, fmt)
            if kind is None:
                continue
            src = f"{p}:{info.filename}"
            if info.file_size > MAX_MEMBER_BYTES:
                report.skip(src, -1, f"member of {info.file_size:,} bytes is too large", kind="too large")
                continue
            try:
                data = zf.read(info)
            except (OSError, zipfile.BadZipFile, EOFError, zlib_error()) as e:
                report.skip(src, -1, f"unreadable member: {e}", kind="unreadable file")
                continue
            report.files += 1
            yield src, kind, decode(data)


def zlib_error():
    import zlib
    return zlib.error


def read_records(paths: Iterable[str | os.PathLike] | str | os.PathLike, fmt: str = "auto",
                 report: ReadReport | None = None, keep: Callable[[GameRecord], bool] | None = None
                 ) -> Iterator[GameRecord]:
    """Every readable game under `paths` (see the module doc); `keep` filters (e.g. by rank)."""
    _load_parsers()
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"record format {fmt!r}: choose one of {sorted(FORMATS)} or auto")
    report = report if report is not None else ReadReport()
    for src, kind, text in iter_files(paths, fmt, report):
        parser = FORMATS.get(kind)
        if parser is None:
            report.skip(src, -1, f"no reader for format {kind!r}", kind="unknown format")
            continue
        for rec in parser(text, src, report):
            if keep is not None and not keep(rec):
                report.skipped["filtered out"] += 1
                continue
            report.add(rec)
            yield rec


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
