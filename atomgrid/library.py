"""Streaming readers of screening libraries: one light :class:`Record` per input record.

Formats: SMILES (``.smi``/``.ism``/``.smiles``: ``SMILES [name ...]`` per line), CSV (a header with a
SMILES column and optionally an id/name column), SDF and mol2, each optionally gzipped. Files are read
line by line and records are yielded as raw text (no RDKit parsing here), so memory stays flat whatever
the library size and records travel cheaply to worker processes.

Every input record gives exactly one ``Record`` (index 0, 1, 2, ... in file order); a record that is
broken at this level (an empty SMILES line, a CSV row without SMILES) carries an ``error`` instead of
being skipped. Only ``#`` comment lines of SMILES files and blank lines at the very end of a file are
not records. Text that is not text (NUL or control bytes, bytes that are not UTF-8) is never rewritten:
its record carries an error and no text; a file that is binary from the start is one error record,
and a file that becomes unreadable midway (corrupt gzip) ends with one error record.
"""
from __future__ import annotations

import csv
import gzip
import zlib
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Iterator

SMILES_COLUMNS = ("smiles", "smi", "canonical_smiles", "isomeric_smiles")
ID_COLUMNS = ("id", "name", "title", "compound_id", "mol_id", "molecule_id", "zinc_id", "chembl_id")


class LibraryError(ValueError):
    """A library file that cannot be read at all (missing, unknown format, CSV without SMILES column)."""


@dataclass(frozen=True)
class Record:
    """One input record: ``index`` (0-based, file order), ``id``, ``fmt`` ('smiles', 'sdf' or 'mol2'),
    ``text`` (the SMILES string or the raw SDF/mol2 block), ``error`` (None when readable so far)."""

    index: int
    id: str
    fmt: str
    text: str
    error: str | None = None


def library_format(path: str | Path) -> str:
    """'smiles', 'csv', 'sdf' or 'mol2' from the file name (a trailing .gz is allowed)."""
    name = Path(path).name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, kind in ((".smi", "smiles"), (".ism", "smiles"), (".smiles", "smiles"), (".csv", "csv"),
                      (".sdf", "sdf"), (".sd", "sdf"), (".mol2", "mol2")):
        if name.endswith(ext):
            return kind
    raise LibraryError(f"{path}: unknown library format (expected .smi, .ism, .csv, .sdf or .mol2, optionally .gz)")


def _open(path: Path):
    if not path.exists():
        raise LibraryError(f"{path}: no such file")
    if path.is_dir():
        raise LibraryError(f"{path}: a folder, not a library file")
    # surrogateescape: bytes that are not UTF-8 survive decoding as lone surrogates, so that the record
    # holding them is refused by name (see _text_problem) instead of being silently rewritten
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline="")
    return open(path, "rt", encoding="utf-8-sig", errors="surrogateescape", newline="")


MAX_RECORD_CHARS = 1_000_000  # a record longer than this is refused (a whole file without line ends?)
BINARY_SNIFF = 8192


def _text_problem(text: str) -> str | None:
    """Why ``text`` is not a text record (NUL or other control bytes, bytes that are not UTF-8), or None."""
    for ch in text:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:
            return "not UTF-8 text (binary data?)"
        if (o < 32 and ch not in "\t\r\n") or o == 0x7F:
            return "binary data (control bytes), not text"
    return None


def _is_binary_file(path: Path) -> bool:
    """True when the first bytes look like a binary file: NUL bytes or mostly non-text bytes."""
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rb") as f:
                head = f.read(BINARY_SNIFF)
        else:
            with open(path, "rb") as f:
                head = f.read(BINARY_SNIFF)
    except (OSError, EOFError):
        return False  # an unreadable gzip stream is reported by the reader, record by record
    if not head:
        return False
    text = head.decode("utf-8", errors="surrogateescape")
    bad = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\r\n") or 0xDC80 <= ord(ch) <= 0xDCFF)
    return bad > 0.3 * len(text)


def _lines(f) -> Iterator[str]:
    """Lines without their end-of-line characters (\\n, \\r\\n)."""
    for line in f:
        yield line.rstrip("\r\n")


def unnamed_id(index: int) -> str:
    """The id a record without a name gets (its 0-based index in the library)."""
    return f"record{index}"


def _smiles_records(path: Path) -> Iterator[Record]:
    with _open(path) as f:
        pending_blank: list[int] = []  # blank lines count only if a record follows them
        i = 0
        for line in _lines(f):
            if line.startswith("#"):
                continue
            if not line.strip():
                pending_blank.append(i)
                i += 1
                continue
            yield from _empty_lines(pending_blank)
            problem = _text_problem(line) or (f"line of {len(line)} characters, more than the limit of "
                                              f"{MAX_RECORD_CHARS}" if len(line) > MAX_RECORD_CHARS else None)
            if problem:
                yield Record(i, unnamed_id(i), "smiles", "", problem)
            else:
                fields = line.split()
                yield Record(i, fields[1] if len(fields) > 1 else unnamed_id(i), "smiles", fields[0])
            i += 1


def _empty_lines(pending: list[int]) -> Iterator[Record]:
    """Error rows for the blank lines before a record (then forgets them): trailing blank lines make none."""
    for b in pending:
        yield Record(b, unnamed_id(b), "smiles", "", "empty line")
    pending.clear()


def _csv_records(path: Path) -> Iterator[Record]:
    with _open(path) as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        low = [h.strip().lower() for h in header]
        smi_col = next((low.index(c) for c in SMILES_COLUMNS if c in low), None)
        if smi_col is None:
            raise LibraryError(f"{path}: no SMILES column in the CSV header {header} "
                               f"(expected one of {', '.join(SMILES_COLUMNS)})")
        id_col = next((low.index(c) for c in ID_COLUMNS if c in low), None)
        pending_blank: list[int] = []
        i = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # e.g. a field larger than the csv module allows
                yield Record(i, unnamed_id(i), "smiles", "", f"unreadable CSV row ({str(exc)[:60]})")
                i += 1
                continue
            if not any(c.strip() for c in row):
                pending_blank.append(i)
                i += 1
                continue
            yield from _empty_lines(pending_blank)
            problem = _text_problem("".join(row))
            if problem:
                yield Record(i, unnamed_id(i), "smiles", "", problem)
                i += 1
                continue
            rid = row[id_col].strip() if id_col is not None and id_col < len(row) and row[id_col].strip() else unnamed_id(i)
            smi = row[smi_col].strip() if smi_col < len(row) else ""
            yield Record(i, rid, "smiles", smi, None if smi else "empty SMILES")
            i += 1


def _sdf_records(path: Path) -> Iterator[Record]:
    from .io import sd_blocks, sd_title
    with _open(path) as f:
        for i, block in enumerate(sd_blocks(f)):
            yield _block_record(i, block, "sdf", sd_title(block))


def _mol2_records(path: Path) -> Iterator[Record]:
    with _open(path) as f:
        block: list[str] = []
        i = 0
        for line in _lines(f):
            if line.startswith("@<TRIPOS>MOLECULE") and block:
                if any(l.startswith("@<TRIPOS>MOLECULE") for l in block):
                    yield _mol2_record(i, block)
                    i += 1
                block = []
            block.append(line)
        if any(l.startswith("@<TRIPOS>MOLECULE") for l in block):
            yield _mol2_record(i, block)


def _mol2_record(i: int, lines: list[str]) -> Record:
    k = next((j for j, l in enumerate(lines) if l.startswith("@<TRIPOS>MOLECULE")), 0)
    title = lines[k + 1].strip() if k + 1 < len(lines) else ""
    return _block_record(i, "\n".join(lines) + "\n", "mol2", title)


def _block_record(i: int, text: str, fmt: str, title: str) -> Record:
    problem = _text_problem(text)
    if problem:
        return Record(i, unnamed_id(i), fmt, "", problem)
    if len(text) > MAX_RECORD_CHARS:
        return Record(i, title or unnamed_id(i), fmt, "",
                      f"record of {len(text)} characters, more than the limit of {MAX_RECORD_CHARS}")
    if fmt == "sdf" and not text.replace("$$$$", "").strip():
        return Record(i, unnamed_id(i), fmt, text, "empty SDF record")
    return Record(i, title or unnamed_id(i), fmt, text)


def _guarded(path: Path, gen: Iterator[Record]) -> Iterator[Record]:
    """Records of ``gen``; a file that turns out unreadable midway (corrupt gzip, a read error) ends
    with one error record at the next index instead of a traceback."""
    n = 0
    try:
        for r in gen:
            n = r.index + 1
            yield r
    except (OSError, EOFError, UnicodeError, zlib.error) as exc:
        reason = "corrupt gzip data" if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)) else "read error"
        yield Record(n, unnamed_id(n), "smiles", "", f"{path.name}: {reason}, reading stopped here ({type(exc).__name__})")


def iter_records(path: str | Path, start: int = 0) -> Iterator[Record]:
    """Stream the records of ``path`` in file order, from record ``start`` on (earlier ones are skipped
    unparsed). Raises :class:`LibraryError` for a missing file, an unknown format or a CSV without a
    SMILES column; a broken record is a ``Record`` with ``error`` set."""
    path = Path(path)
    kind = library_format(path)
    if not path.exists():
        raise LibraryError(f"{path}: no such file")
    if path.is_file() and _is_binary_file(path):
        gen: Iterator[Record] = iter([Record(0, unnamed_id(0), "smiles", "",
                                             f"{path.name}: a binary file, not a text library")])
    else:
        gen = _guarded(path, {"smiles": _smiles_records, "csv": _csv_records, "sdf": _sdf_records,
                              "mol2": _mol2_records}[kind](path))
    return islice(gen, start, None) if start else gen


def count_records(path: str | Path) -> int:
    """Number of records :func:`iter_records` yields (one streaming pass, no parsing)."""
    return sum(1 for _ in iter_records(path))


def chunked(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    """Consecutive lists of ``size`` records (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    it = iter(records)
    while True:
        chunk = list(islice(it, size))
        if not chunk:
            return
        yield chunk

