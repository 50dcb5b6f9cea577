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
import os
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from boardnet.records import draughts, pgn, sgf  # noqa: F401  (each registers its format)
from boardnet.records.base import (FORMATS, MAX_ERRORS_KEPT, GameRecord, Parser, ReadReport,  # noqa: F401
                                   register, replay)

MAX_MEMBER_BYTES = 64 << 20    # a single record file larger than this is skipped (not a game file)


EXTENSIONS = {".sgf": "sgf", ".pgn": "pgn", ".pdn": "pdn", ".txt": "acf"}
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz", ".zip")


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
    if not data.strip():
        report.skip(str(p), -1, "empty file", kind="empty file")
        return
    report.files += 1
    yield str(p), kind, decode(data)


def _wanted(p: Path, name: str, size: int, fmt: str, report: ReadReport) -> tuple[str, str] | None:
    """(source name, format) of an archive member to read; None for other files and (counted) for
    members too large to be one record file."""
    kind = format_of(name, fmt)
    if kind is None:
        return None
    src = f"{p}:{name}"
    if size > MAX_MEMBER_BYTES:
        report.skip(src, -1, f"member of {size:,} bytes is too large", kind="too large")
        return None
    return src, kind


def _decompressed(p: Path):
    """A binary file object of the tar stream inside ``p``: gzip, bzip2 and xz through Python's own readers, which
    raise EOFError where the compressed stream ends early (tarfile's stream reader does not: a download cut short
    read as a complete, shorter archive)."""
    import bz2
    import lzma
    with open(p, "rb") as fh:
        magic = fh.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(p, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(p, "rb")
    if magic == b"\xfd7zXZ\x00":
        return lzma.open(p, "rb")
    return open(p, "rb")


def _iter_tar(p: Path, fmt: str, report: ReadReport) -> Iterator[tuple[str, str, str]]:
    raw = None
    try:
        raw = _decompressed(p)
        tf = tarfile.open(fileobj=raw, mode="r|")    # streaming: members in archive order, no index held
    except (OSError, tarfile.TarError, EOFError, zlib.error, ValueError) as e:
        if raw is not None:
            raw.close()
        report.skip(str(p), -1, f"unreadable archive: {e}", kind="unreadable archive")
        return
    with raw, tf:
        it = iter(tf)
        while True:
            try:
                member = next(it)
            except StopIteration:
                try:  # the tar's end marker may come before the compressed stream's cut: read to its end
                    while raw.read(1 << 20):
                        pass
                except (OSError, EOFError, zlib.error, ValueError) as e:
                    report.skip(str(p), -1, f"archive broken after {report.files} files: {e}", kind="broken archive")
                return
            except (OSError, tarfile.TarError, EOFError, zlib.error, ValueError) as e:
                report.skip(str(p), -1, f"archive broken after {report.files} files: {e}",
                            kind="broken archive")
                return
            tf.members = []   # a streaming TarFile still keeps every TarInfo: memory grew per member
            want = _wanted(p, member.name, member.size, fmt, report) if member.isfile() else None
            if want is None:
                continue
            src, kind = want
            try:
                fh = tf.extractfile(member)
                data = fh.read() if fh is not None else b""
            except (OSError, tarfile.TarError, EOFError, zlib.error, ValueError) as e:
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
            want = None if info.is_dir() else _wanted(p, info.filename, info.file_size, fmt, report)
            if want is None:
                continue
            src, kind = want
            try:
                data = zf.read(info)
            except (OSError, zipfile.BadZipFile, EOFError, zlib.error) as e:
                report.skip(src, -1, f"unreadable member: {e}", kind="unreadable file")
                continue
            report.files += 1
            yield src, kind, decode(data)


def read_records(paths: Iterable[str | os.PathLike] | str | os.PathLike, fmt: str = "auto",
                 report: ReadReport | None = None, keep: Callable[[GameRecord], bool] | None = None
                 ) -> Iterator[GameRecord]:
    """Every readable game under `paths` (see the module doc); `keep` filters (e.g. by rank)."""
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
