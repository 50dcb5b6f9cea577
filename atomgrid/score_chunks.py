"""Chunk files of ``atomgrid score``: the unit of resume, and the final concatenation.

Work is split into fixed chunks of ``chunk_size`` records; each finished chunk is written atomically to
``OUT.csv.parts/chunk_<k>.csv`` (and ``.sdf``), so an interrupted run restarted with ``resume=True``
scores only the missing chunks. ``run.json`` holds the run's identity (:func:`run_identity`: the sha256
of every input file and the settings); a resume with other inputs names what changed. At the end the
chunks are concatenated in order into ``OUT.csv`` (tmp file + ``os.replace``); a blend run first reads
every chunk's scores to z-score them over the whole library (:func:`library_blend`).
"""
from __future__ import annotations

import csv
import heapq
import io as _io
import math
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from .io import sd_blocks
from .models import file_sha256
from .score_options import ScoreError
from .score_worker import BLEND_COLUMN, LIGAND_ONLY_COLUMN, OUTPUT_COLUMNS, SCORE_COLUMN, Row

FORMAT_VERSION = 3  # of the chunk files and run.json; a resume across versions is refused (3: ligand_only, blend)
MANIFEST = "run.json"


def parts_dir(out: str | Path) -> Path:
    return Path(str(out) + ".parts")


def _chunk_path(parts: Path, k: int, ext: str) -> Path:
    return parts / f"chunk_{k:08d}.{ext}"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_chunk(parts: Path, k: int, rows: Sequence[Row], with_sdf: bool) -> None:
    """Atomically write chunk ``k``: the SDF first, then the CSV whose presence marks the chunk done."""
    if with_sdf:
        _atomic_write(_chunk_path(parts, k, "sdf"), "".join(r.pose_block for r in rows if r.pose_block))
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    for r in rows:
        w.writerow(r.csv_fields())
    _atomic_write(_chunk_path(parts, k, "csv"), buf.getvalue())


def done_chunks(parts: Path) -> set[int]:
    return {int(p.stem.split("_")[1]) for p in parts.glob("chunk_*.csv")}


def run_identity(ligands: Sequence[str | Path], inputs: dict[str, str | Path | None], settings: dict) -> dict:
    """What a resumable run depends on: the sha256 of every input file's content (a file rewritten at
    the same path is another input; a file moved elsewhere is the same one) and the settings."""
    files = {f"ligand library {p}": file_sha256(p) for p in ligands}
    files.update({f"{name} {p}": file_sha256(p) for name, p in inputs.items() if p is not None})
    return {"format": FORMAT_VERSION, "files": files, "settings": settings}


def identity_changes(old: dict, new: dict) -> list[str]:
    """What differs between the identity of an interrupted run and this one, one phrase each."""
    if old.get("format") != new["format"]:
        return [f"the chunk format (version {old.get('format', 1)} then, {new['format']} now)"]
    out = []
    old_files = old.get("files", {})
    old_by_role = {k.split(" ", 1)[0] + str(i): (k, v) for i, (k, v) in enumerate(old_files.items())}
    for i, (k, v) in enumerate(new["files"].items()):
        if k in old_files:
            if old_files[k] != v:
                out.append(f"{k} (its content changed)")
        else:
            prev = old_by_role.get(k.split(" ", 1)[0] + str(i))
            if prev is None or prev[1] != v:
                out.append(f"{k} (not an input of the interrupted run)")
    if len(old_files) > len(new["files"]):
        out.append(f"{len(old_files) - len(new['files'])} input file(s) fewer")
    old_set, new_set = old.get("settings", {}), new["settings"]
    flat = lambda d: {**{k: v for k, v in d.items() if k != "options"}, **d.get("options", {})}
    o, n = flat(old_set), flat(new_set)
    for k in sorted(set(o) | set(n)):
        if o.get(k) != n.get(k):
            out.append(f"{k} ({o.get(k)!r} then, {n.get(k)!r} now)")
    return out


def _read_chunk_rows(path: Path) -> Iterator[list[str]]:
    with open(path, newline="") as f:
        yield from csv.reader(f)


def _sd_records(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        yield from sd_blocks(f)


def _float(x: str) -> float:
    return float(x) if x else math.nan


def library_blend(parts: Path, n_chunks: int, total: int, weight: float) -> np.ndarray:
    """``blend[index]`` = z(score) + ``weight`` * z(ligand_only) over the library's scored rows
    (:func:`atomgrid.blend.blend_scores`; nan for rows with an error). One streaming pass over the chunks."""
    from .blend import blend_scores
    score = np.full(total, np.nan)
    lig = np.full(total, np.nan)
    for k in range(n_chunks):
        for row in _read_chunk_rows(_chunk_path(parts, k, "csv")):
            i = int(row[0])
            if 0 <= i < total and not row[-1]:
                score[i], lig[i] = _float(row[SCORE_COLUMN]), _float(row[LIGAND_ONLY_COLUMN])
    scored = np.isfinite(score)
    out = np.full(total, np.nan)
    if scored.any():
        out[scored] = blend_scores(score[scored], lig[scored], weight)
    return out


def finalize(out: Path, parts: Path, n_chunks: int, total: int, out_sdf: str | Path | None = None,
             top: int = 0, blend: float = 0.0) -> dict:
    """Concatenate the chunk files in order into ``out`` (and ``out_sdf``), streaming, checking that
    the rows are exactly indices 0..total-1; with ``top`` also write ``<out>.top.csv`` (best first).
    ``blend`` > 0: fill the ``blend`` column (:func:`library_blend`) and rank ``top`` by it (else by ``score``)."""
    missing = [k for k in range(n_chunks) if not _chunk_path(parts, k, "csv").exists()]
    if missing:
        raise ScoreError(f"{parts}: chunks {missing[:5]} are missing; rerun with --resume")
    blended = library_blend(parts, n_chunks, total, blend) if blend > 0 else None
    rank_col = BLEND_COLUMN if blended is not None else SCORE_COLUMN
    tmp = out.with_name(out.name + ".tmp")
    heap: list[tuple[float, int, list[str]]] = []  # min-heap of the best `top` rows
    errors = 0
    expect = 0
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(OUTPUT_COLUMNS)
        for k in range(n_chunks):
            for row in _read_chunk_rows(_chunk_path(parts, k, "csv")):
                if int(row[0]) != expect:
                    raise ScoreError(f"{parts}: chunk {k} has row {row[0]} where {expect} was expected")
                if blended is not None and not row[-1]:
                    row[BLEND_COLUMN] = f"{blended[expect]:.6f}"
                expect += 1
                w.writerow(row)
                if row[-1]:
                    errors += 1
                elif top > 0:
                    item = (float(row[rank_col]), -int(row[0]), row)
                    if len(heap) < top:
                        heapq.heappush(heap, item)
                    else:
                        heapq.heappushpop(heap, item)
        f.flush()
        os.fsync(f.fileno())
    if expect != total:
        raise ScoreError(f"{parts}: {expect} rows written for {total} input records")
    os.replace(tmp, out)
    ranked = [r for _, _, r in sorted(heap, key=lambda t: (-t[0], -t[1]))]
    if top > 0:
        top_path = out.with_name(out.stem + ".top.csv")
        buf = _io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(("rank",) + OUTPUT_COLUMNS)
        for i, r in enumerate(ranked):
            w.writerow([i + 1] + r)
        _atomic_write(top_path, buf.getvalue())
    if out_sdf:
        out_sdf = Path(out_sdf)
        tmp_sdf = out_sdf.with_name(out_sdf.name + ".tmp")
        want = {int(r[0]): i for i, r in enumerate(ranked)} if top > 0 else None
        kept: list[str | None] = [None] * len(ranked) if top > 0 else []
        with open(tmp_sdf, "w") as f:
            for k in range(n_chunks):
                sp = _chunk_path(parts, k, "sdf")
                if not sp.exists():
                    continue
                for block in _sd_records(sp):
                    if blended is None and want is None:
                        f.write(block)
                        continue
                    idx = _sd_index(block)
                    if blended is not None and 0 <= idx < total:
                        block = _with_tag(block, "atomgrid_blend", f"{blended[idx]:.6f}")
                    if want is None:
                        f.write(block)
                    elif idx in want:
                        kept[want[idx]] = block
            if want is not None:
                for b in kept:
                    if b is not None:
                        f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_sdf, out_sdf)
    return {"records": total, "errors": errors, "out": str(out), "top": [r[1] for r in ranked],
            "ranked_by": OUTPUT_COLUMNS[rank_col]}


def _with_tag(block: str, name: str, value: str) -> str:
    """An SD record with one more data item, before its ``$$$$``."""
    head, sep, _ = block.rpartition("$$$$")
    return f"{head}>  <{name}>\n{value}\n\n{sep}\n" if sep else block


def _sd_index(block: str) -> int:
    lines = block.splitlines()
    for i, l in enumerate(lines):
        if l.startswith(">") and "<atomgrid_index>" in l:
            return int(lines[i + 1])
    return -1
