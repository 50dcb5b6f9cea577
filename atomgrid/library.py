"""Streaming readers of screening libraries: one light :class:`Record` per input record.

Formats: SMILES (``.smi``/``.ism``/``.smiles``: ``SMILES [name ...]`` per line), CSV (a header with a
SMILES column and optionally an id/name column), SDF and mol2, each optionally gzipped. Files are read
line by line and records are yielded as raw text (no RDKit parsing here), so memory stays flat whatever
the library size and records travel cheaply to worker processes.

Every input record gives exactly one ``Record`` (index 0, 1, 2, ... in file order); a record that is
broken at this level (an empty SMILES line, a CSV row without SMILES) carries an ``error`` instead of
being skipped. Only ``#`` comment lines of SMILES files and blank lines at the very end of a file are
not records.
"""
from __future__ import annotations

import csv
import gzip
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
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", errors="replace", newline="")
    return open(path, "rt", errors="replace", newline="")


def _lines(f) -> Iterator[str]:
    """Lines without their end-of-line characters (\\n, \\r\\n)."""
    for line in f:
        yield line.rstrip("\r\n")


def _default_id(index: int) -> str:
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
            for b in pending_blank:
                yield Record(b, _default_id(b), "smiles", "", "empty line")
            pending_blank = []
            fields = line.split()
            yield Record(i, fields[1] if len(fields) > 1 else _default_id(i), "smiles", fields[0])
            i += 1


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
        for row in reader:
            if not any(c.strip() for c in row):
                pending_blank.append(i)
                i += 1
                continue
            for b in pending_blank:
                yield Record(b, _default_id(b), "smiles", "", "empty line")
            pending_blank = []
            rid = row[id_col].strip() if id_col is not None and id_col < len(row) and row[id_col].strip() else _default_id(i)
            smi = row[smi_col].strip() if smi_col < len(row) else ""
            yield Record(i, rid, "smiles", smi, None if smi else "empty SMILES")
            i += 1


def _sdf_records(path: Path) -> Iterator[Record]:
    with _open(path) as f:
        block: list[str] = []
        i = 0
        for line in _lines(f):
            if line.startswith("$$$$"):
                yield _block_record(i, block, "sdf")
                block = []
                i += 1
            else:
                block.append(line)
        if any(l.strip() for l in block):  # last record without its $$$$ terminator
            yield _block_record(i, block, "sdf")


def _mol2_records(path: Path) -> Iterator[Record]:
    with _open(path) as f:
        block: list[str] = []
        i = 0
        for line in _lines(f):
            if line.startswith("@<TRIPOS>MOLECULE") and block:
                if any(l.startswith("@<TRIPOS>MOLECULE") for l in block):
                    yield _block_record(i, block, "mol2")
                    i += 1
                block = []
            block.append(line)
        if any(l.startswith("@<TRIPOS>MOLECULE") for l in block):
            yield _block_record(i, block, "mol2")


def _block_record(i: int, lines: list[str], fmt: str) -> Record:
    text = "\n".join(lines) + "\n"
    if fmt == "sdf":
        title = lines[0].strip() if lines else ""
        if not any(l.strip() for l in lines):
            return Record(i, _default_id(i), fmt, text, "empty SDF record")
    else:
        k = next((j for j, l in enumerate(lines) if l.startswith("@<TRIPOS>MOLECULE")), 0)
        title = lines[k + 1].strip() if k + 1 < len(lines) else ""
    return Record(i, title or _default_id(i), fmt, text)


def iter_records(path: str | Path, start: int = 0) -> Iterator[Record]:
    """Stream the records of ``path`` in file order, from record ``start`` on (earlier ones are skipped
    unparsed). Raises :class:`LibraryError` for a missing file, an unknown format or a CSV without a
    SMILES column; a broken record is a ``Record`` with ``error`` set."""
    path = Path(path)
    kind = library_format(path)
    gen = {"smiles": _smiles_records, "csv": _csv_records, "sdf": _sdf_records, "mol2": _mol2_records}[kind](path)
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

