"""``atomgrid score``: virtual screening of a ligand library against one pocket with a grid CNN.

Output: one CSV row per input record, in input order (``OUTPUT_COLUMNS``); failed records keep their
row with ``error`` set and no score. The work is split by responsibility:

- :mod:`atomgrid.score_options`  options and errors (what changes the rows);
- :mod:`atomgrid.score_worker`   the per-record pipeline (:class:`ChunkScorer`, a plain class);
- :mod:`atomgrid.score_chunks`   chunk files, the run identity for ``--resume``, the final concatenation;
- this module                    :func:`score_library`, which streams the library through a chunk executor
                                 (in this process by default; :func:`atomgrid.distributed.ray_executor`
                                 is passed in by callers that want Ray actors);
- :mod:`atomgrid.enrich`         ROC AUC / EF of a scored CSV; :mod:`atomgrid.score_cli` the commands.
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .blend import twin_beside
from .enrich import active_ids, enrichment, read_scores  # noqa: F401  (re-exported)
from .library import Record, chunked, count_records, iter_records, library_format
from .models import AFFINITY_MODELS, MODELS_DIR, ModelNotFoundError, resolve_model  # noqa: F401  (re-exported)
from .score_chunks import (MANIFEST, _atomic_write, done_chunks, finalize, identity_changes, parts_dir,  # noqa: F401
                           run_identity, write_chunk)
from .score_options import EmptyLibraryError, ScoreError, ScoreOptions  # noqa: F401  (re-exported)
from .score_worker import (OUTPUT_COLUMNS, ChunkScorer, Row, ScoringContext, build_context,  # noqa: F401
                           given_receptor_pdbqt)

# (ctx, iterable of (chunk number, records), on_result(k, rows)) -> None, once every chunk is scored
ChunkExecutor = Callable[[ScoringContext, Iterable[tuple[int, list[Record]]], Callable[[int, list[Row]], None]], None]


def local_executor(ctx: ScoringContext, chunks: Iterable[tuple[int, list[Record]]],
                   on_result: Callable[[int, list[Row]], None]) -> None:
    """Score every chunk in this process with one :class:`ChunkScorer` (one net built)."""
    scorer = ChunkScorer(ctx)
    for k, records in chunks:
        on_result(k, scorer.score_chunk(records))


def iter_library(paths: Sequence[str | Path]) -> Iterator[Record]:
    """Records of several files as one stream, indexed 0..N-1 across files in order."""
    offset = 0
    for p in paths:
        n = 0
        for r in iter_records(p):
            yield Record(r.index + offset, r.id, r.fmt, r.text, r.error) if offset else r
            n = r.index + 1
        offset += n


def _progress(total: int, initial: int, enabled: bool | None):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="mol", smoothing=0.1, disable=(None if enabled is None else not enabled),
                dynamic_ncols=True, file=sys.stderr)


def affinity_models_for(model: str | Path | None, affinity_models: Sequence[str | Path] | None) -> tuple:
    """What fills the pK column: None -> :data:`atomgrid.models.AFFINITY_MODELS` when ``model`` is the default
    model (None, its name or its file), else ``()`` (the model's own affinity head); ``["none"]`` -> ``()``;
    "none" beside other models is refused."""
    if affinity_models is None:
        if not AFFINITY_MODELS:
            return ()
        try:
            default = model is None or resolve_model(model).resolve() == resolve_model(None).resolve()
        except ModelNotFoundError:
            default = False
        return tuple(AFFINITY_MODELS) if default else ()
    names = [str(a) for a in affinity_models]
    if "none" in names:
        if len(names) > 1:
            raise ScoreError("--affinity-model none: give either 'none' (the model's own affinity head) or models, not both")
        return ()
    return tuple(affinity_models)


def score_library(receptor: str | Path, ligands: str | Path | Sequence[str | Path], out: str | Path, *,
                  autobox_ligand: str | Path | None = None, center: Sequence[float] | None = None,
                  size: Sequence[float] | None = None, model: str | Path | None = None,
                  options: ScoreOptions = ScoreOptions(), out_sdf: str | Path | None = None, top: int = 0,
                  resume: bool = False, device: str | None = None, progress: bool | None = None,
                  on_chunk: Callable[[int], None] | None = None, allow_empty: bool = False,
                  executor: ChunkExecutor | None = None, pose_model: str | Path | None = None,
                  ligand_only_model: str | Path | None = None,
                  affinity_models: Sequence[str | Path] | None = None) -> dict:
    """Score a library; write ``out`` (CSV, one row per record, input order), optionally ``out_sdf``
    (best poses; with ``top`` only the ``top`` best, ranked) and ``<out stem>.top.csv`` when ``top``.

    ``executor`` None: chunks are scored in this process; else ``executor(ctx, chunks, on_result)`` scores
    the ``(k, records)`` pairs and calls ``on_result(k, rows)`` per chunk (e.g.
    :func:`atomgrid.distributed.ray_executor`, which this module never imports). ``on_chunk(k)`` is called
    after chunk ``k`` is written (tests use it to interrupt a run). ``pose_model`` (a name or path): that
    model picks each molecule's pose by its activity as posed, and ``model`` scores the picked pose (the
    cross-target protocol's ``--pose-model``); None: ``model`` picks its own. ``ligand_only_model``: the
    model's ligand-only twin (default: the one beside the model file, :func:`atomgrid.blend.twin_beside`);
    with ``options.blend`` > 0 the twin scores each picked pose too and the rows are ranked by the ``blend``
    column (0, the default: by ``score``). ``affinity_models``: the models whose mean pK of each picked pose
    fills the pK column (:func:`affinity_models_for`: None gives :data:`atomgrid.models.AFFINITY_MODELS` with
    the default model, else the model's own head; ``()`` or ``["none"]`` the model's own head). Returns a summary dict
    (records, errors, seconds, ranked_by, blend, ...).
    A library without records raises :class:`EmptyLibraryError` unless ``allow_empty``.
    """
    import time
    paths = [ligands] if isinstance(ligands, (str, Path)) else list(ligands)
    if not paths:
        raise ScoreError("no ligand library given")
    for name, p in [("ligand library", q) for q in paths] + [("receptor", receptor), ("reference ligand", autobox_ligand)]:
        if p is not None and not Path(p).is_file():
            raise ScoreError(f"{name} {p}: " + ("is a folder, not a file" if Path(p).is_dir() else "no such file"))
    for p in paths:
        library_format(p)  # an unknown extension is an error before anything is read
    out = Path(out)
    parts = parts_dir(out)
    t0 = time.time()
    # everything that can fail on bad arguments happens before the parts folder exists, so a failed
    # start leaves nothing behind that blocks the next run
    try:
        model_file = resolve_model(model)
    except ModelNotFoundError as exc:
        raise ScoreError(str(exc)) from None
    if ligand_only_model is not None and not options.blend:
        raise ScoreError("--ligand-only-model is only read with --blend W > 0 (the twin's weight in the ranking)")
    twin = (ligand_only_model if ligand_only_model is not None else twin_beside(model_file)) if options.blend else None
    ctx = build_context(receptor, autobox_ligand=autobox_ligand, center=center, size=size, model=model_file,
                        options=options, device=device, with_sdf=bool(out_sdf), pose_model=pose_model,
                        ligand_only_model=twin, affinity_models=affinity_models_for(model, affinity_models))
    total = sum(count_records(p) for p in paths)
    if total == 0 and not allow_empty:
        raise EmptyLibraryError(f"ligand library {', '.join(map(str, paths))}: no records (only blank or comment "
                                "lines); nothing was scored or written (pass --allow-empty to write an empty result)")
    settings = {"options": asdict(options), "center": list(center) if center else None,
                "size": list(size) if size else None, "sdf": bool(out_sdf)}
    inputs = {"receptor": receptor, "reference ligand": autobox_ligand, "model": model_file}
    if ctx.pose_file is not None:
        inputs["pose model"] = ctx.pose_file
    if ctx.twin_file is not None:
        inputs["ligand-only model"] = ctx.twin_file
    for i, f in enumerate(ctx.affinity_files):
        inputs[f"affinity model {i + 1}"] = f
    fp = run_identity(paths, inputs, settings)
    if parts.exists():
        if not resume:
            raise ScoreError(f"{parts} holds an interrupted run: pass --resume to continue it, or delete it")
        try:
            old = json.loads((parts / MANIFEST).read_text())
        except (OSError, ValueError):
            raise ScoreError(f"{parts}: no readable {MANIFEST}; delete the folder to start again") from None
        changed = identity_changes(old, fp)
        if changed:
            raise ScoreError(f"{parts}: cannot resume, changed since the interrupted run: {'; '.join(changed)}. "
                             "Delete the folder to start again")
    else:
        parts.mkdir(parents=True)
        _atomic_write(parts / MANIFEST, json.dumps(fp, indent=1))
    if out_sdf:  # as --out's folder is made: not found missing only after the scoring
        Path(out_sdf).parent.mkdir(parents=True, exist_ok=True)
    cs = options.chunk_size
    n_chunks = -(-total // cs)
    done = done_chunks(parts)
    done_records = sum(min(cs, total - k * cs) for k in done if k < n_chunks)
    todo = ((k, ch) for k, ch in enumerate(chunked(iter_library(paths), cs)) if k not in done)
    bar = _progress(total, done_records, progress)
    scored = 0

    def finished(k: int, rows: list[Row]) -> None:
        nonlocal scored
        write_chunk(parts, k, rows, bool(out_sdf))
        scored += len(rows)
        bar.update(len(rows))
        if on_chunk is not None:
            on_chunk(k)

    try:
        (executor or local_executor)(ctx, todo, finished)
    except BaseException:
        if not done_chunks(parts):  # nothing to resume: leave nothing that blocks a rerun
            shutil.rmtree(parts, ignore_errors=True)
        raise
    finally:
        bar.close()
    summary = finalize(out, parts, n_chunks, total, out_sdf=out_sdf, top=top, blend=options.blend)
    summary.update({"blend": options.blend, "affinity_models": [str(f) for f in ctx.affinity_files], "scored_now": scored, "resumed_records": done_records, "seconds": time.time() - t0})
    shutil.rmtree(parts)
    return summary
