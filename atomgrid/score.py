"""``atomgrid score``: virtual screening of a ligand library against one pocket with a grid CNN.

Pipeline per record (:class:`ChunkScorer`, a plain class; :mod:`atomgrid.distributed` runs the same
class in Ray actors): parse -> prepare (:mod:`atomgrid.poses` policy) -> poses (``given``,
``template`` or ``dock``) -> type + grid -> CNN in batches -> the molecule's score is its best pose's.

Output: one CSV row per input record, in input order (``OUTPUT_COLUMNS``); failed records keep their
row with ``error`` set. Work is split into fixed chunks of ``chunk_size`` records; each finished chunk
is written atomically to ``OUT.csv.parts/chunk_<k>.csv`` (and ``.sdf``), so an interrupted run
restarted with ``resume=True`` scores only the missing chunks; at the end the chunks are concatenated
in order into ``OUT.csv`` (tmp file + ``os.replace``) and the parts folder is removed.
"""
from __future__ import annotations

import csv
import hashlib
import heapq
import io as _io
import json
import math
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from rdkit import Chem

from . import io as agio
from . import nets
from .featurize import Gridder, TypedAtoms, crop_margin, type_ligand, type_receptor
from .grid import GridSpec
from .library import Record, chunked, count_records, iter_records
from .poses import (POSE_MODES, PrepError, PrepOptions, TemplatePoser, VinaDocker, embed, given_pose,
                    heavy_indices, parse_record, receptor_pdbqt, smiles_of, standardize)

OUTPUT_COLUMNS = ("index", "id", "smiles", "score", "pK", "pose", "n_poses", "vina", "error")
MODELS_DIR = Path(__file__).resolve().parent / "models"
MANIFEST = "run.json"


class ScoreError(ValueError):
    """A run that cannot start (bad arguments, missing receptor/model, mismatched resume)."""


# ----------------------------------------------------------------------------- options and context

@dataclass(frozen=True)
class ScoreOptions:
    """Everything that changes the rows (it is fingerprinted for ``resume``).

    ``poses``: 'given' | 'template' | 'dock'; ``n_confs`` ETKDG conformers per molecule (template);
    ``ff_iters`` MMFF (else UFF) clean-up iterations per conformer (0: none);
    ``keep`` best-aligned conformers relaxed and scored; ``relax_steps`` rigid clash-relaxation steps;
    ``exhaustiveness``/``dock_poses`` for Vina; ``batch_size`` CNN batch; ``chunk_size`` records per
    chunk (the unit of resume and of parallel work); ``max_heavy_atoms``; ``seed``.
    """

    poses: str = "template"
    n_confs: int = 4
    ff_iters: int = 50
    keep: int = 3
    relax_steps: int = 30
    exhaustiveness: int = 8
    dock_poses: int = 3
    batch_size: int = 32
    chunk_size: int = 64
    max_heavy_atoms: int = 80
    embed_timeout: int = 0
    seed: int = 0

    def __post_init__(self):
        if self.poses not in POSE_MODES:
            raise ScoreError(f"--poses {self.poses!r}: expected one of {', '.join(POSE_MODES)}")
        for k in ("n_confs", "keep", "exhaustiveness", "dock_poses", "batch_size", "chunk_size", "max_heavy_atoms"):
            if getattr(self, k) < 1:
                raise ScoreError(f"{k} must be >= 1, got {getattr(self, k)}")
        if self.ff_iters < 0:
            raise ScoreError(f"ff_iters must be >= 0, got {self.ff_iters}")

    def prep(self) -> PrepOptions:
        return PrepOptions(n_confs=self.n_confs, ff_iters=self.ff_iters, max_heavy_atoms=self.max_heavy_atoms,
                           embed_timeout=self.embed_timeout, seed=self.seed)


@dataclass
class ScoringContext:
    """What every worker needs, built once by the driver (picklable; shared with one ``ray.put``).

    ``receptor``: typed receptor atoms cropped to the box plus the grid reach; ``pocket_xyz [M, 3]``
    heavy receptor atoms near the box (clash term); ``reference`` mol block or None; ``box``;
    ``receptor_pdbqt`` (dock mode); ``model_state``/``model_meta`` (weights on CPU and their meta).
    """

    receptor: TypedAtoms
    pocket_xyz: np.ndarray
    reference: str | None
    box: agio.Box
    receptor_pdbqt: str | None
    model_state: dict
    model_meta: dict
    options: ScoreOptions
    device: str = "cpu"


def resolve_model(name_or_path: str | None) -> Path:
    """``--model``: a file path, a shipped model name (``atomgrid/models/<name>.pt``), or None for the
    shipped default, ``atomgrid.DEFAULT_MODEL`` (a receptor+ligand model, never a ligand-only baseline)."""
    if not name_or_path:
        from . import DEFAULT_MODEL
        name_or_path = DEFAULT_MODEL
    p = Path(name_or_path)
    if p.is_file():
        return p
    for cand in (MODELS_DIR / name_or_path, MODELS_DIR / f"{name_or_path}.pt"):
        if cand.is_file():
            return cand
    raise ScoreError(f"--model {name_or_path!r}: no such file and no shipped model of that name in {MODELS_DIR}")


def load_scoring_model(path: str | Path) -> tuple[dict, dict]:
    """(state_dict on CPU, meta) of a model file written by ``atomgrid.train.export_model`` or a checkpoint."""
    from .evaluate import load_model
    model, meta = load_model(path, "cpu")
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}, meta


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_context(receptor: str | Path, *, autobox_ligand: str | Path | None = None,
                  center: Sequence[float] | None = None, size: Sequence[float] | None = None,
                  model: str | Path | None = None, options: ScoreOptions = ScoreOptions(),
                  autobox_padding: float = 4.0, device: str | None = None) -> ScoringContext:
    """Read and type the receptor once, fix the box and the reference ligand, load the model."""
    if options.poses == "template" and autobox_ligand is None:
        raise ScoreError("--poses template needs a reference ligand (--autobox-ligand); "
                         "with only a box (--center/--size) use --poses dock or --poses given")
    if autobox_ligand is None and (center is None or size is None):
        raise ScoreError("give the pocket as --autobox-ligand REF or as --center X Y Z --size X Y Z")
    rec = agio.read_receptor(receptor)
    if isinstance(rec, agio.ReadError):
        raise ScoreError(f"receptor {rec}")
    ref_block = None
    if autobox_ligand is not None:
        ref = agio.read_ligand(autobox_ligand)
        if isinstance(ref, agio.ReadError):
            raise ScoreError(f"reference ligand {ref}")
        if ref.GetNumConformers() == 0:
            raise ScoreError(f"reference ligand {autobox_ligand}: no 3D coordinates")
        heavy = agio.coordinates(ref)[heavy_indices(ref)]
        box = agio.autobox(heavy, autobox_padding)
        if center is not None and size is not None:  # an explicit box wins; the ligand stays the template
            box = agio.Box(tuple(map(float, center)), tuple(map(float, size)))
        ref_block = Chem.MolToMolBlock(ref)
    else:
        box = agio.Box(tuple(map(float, center)), tuple(map(float, size)))
    state, meta = load_scoring_model(resolve_model(str(model) if model else None))
    spec = GridSpec(meta["grid"]["size"], meta["grid"]["resolution"])
    reach = crop_margin(spec)
    trec = type_receptor(rec, agio.Box(box.center, tuple(s + 2 * reach for s in box.size)))
    xyz = agio.coordinates(rec)
    near = box.contains(xyz, margin=8.0)
    heavy = np.asarray([a.GetAtomicNum() > 1 for a in rec.GetAtoms()])
    pocket = xyz[near & heavy]
    pdbqt = None
    if options.poses == "dock":
        try:
            import meeko  # noqa: F401  (only checking that they import)
            import vina  # noqa: F401
        except ImportError as exc:
            raise ScoreError(f"--poses dock needs the 'vina' and 'meeko' packages (pip install vina meeko gemmi): {exc}") from None
        pdbqt = given_receptor_pdbqt(receptor) or receptor_pdbqt(rec)
    return ScoringContext(trec, pocket, ref_block, box, pdbqt, state, meta, options, device or default_device())


def given_receptor_pdbqt(path: str | Path) -> str | None:
    """A receptor given as PDBQT is already typed for Vina (prepare_receptor, dockstring): its ATOM and
    HETATM lines are used as they are. None for PDB input (typed by :func:`poses.receptor_pdbqt`)."""
    name = str(path).lower()
    if not (name.endswith(".pdbqt") or name.endswith(".pdbqt.gz")):
        return None
    lines = [l for l in agio._read_text(Path(path)).splitlines() if l.startswith(("ATOM", "HETATM"))]
    if not lines:
        raise ScoreError(f"receptor {path}: no ATOM/HETATM lines")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- the worker

@dataclass
class Row:
    """One output row; ``pose_block`` is the best pose as an SD record (not written to the CSV)."""

    index: int
    id: str
    smiles: str = ""
    score: float = math.nan
    pK: float = math.nan
    pose: str = ""
    n_poses: int = 0
    vina: float = math.nan
    error: str = ""
    pose_block: str = field(default="", repr=False)

    def csv_fields(self) -> list[str]:
        f = lambda x: "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6f}"
        return [str(self.index), self.id, self.smiles, f(self.score), f(self.pK), self.pose,
                str(self.n_poses), f(self.vina), self.error]


class ChunkScorer:
    """Scores lists of :class:`Record` -> lists of :class:`Row` (same order, one row per record).

    A plain class: the in-process path and every Ray actor hold one. ``threads`` sets torch's
    intra-op threads (1 inside actors, so that actors do not oversubscribe the cores).
    """

    def __init__(self, ctx: ScoringContext, threads: int | None = None):
        if threads:
            torch.set_num_threads(threads)
        self.ctx = ctx
        self.opts = ctx.options
        self.prep = ctx.options.prep()
        self.device = torch.device(ctx.device)
        self.model = nets.build(ctx.model_meta["net"])
        self.model.load_state_dict(ctx.model_state)
        self.model.to(self.device).eval()
        grid = ctx.model_meta["grid"]
        self.gridder = Gridder(GridSpec(grid["size"], grid["resolution"]), self.device)
        self.ligand_only = bool(ctx.model_meta.get("ligand_only"))
        self._template = None
        self._docker = None

    @property
    def template(self) -> TemplatePoser:
        if self._template is None:
            ref = Chem.MolFromMolBlock(self.ctx.reference, removeHs=False)
            self._template = TemplatePoser(ref, self.ctx.pocket_xyz, self.opts.keep, self.opts.relax_steps)
        return self._template

    @property
    def docker(self) -> VinaDocker:
        if self._docker is None:
            self._docker = VinaDocker(self.ctx.receptor_pdbqt, self.ctx.box, self.opts.exhaustiveness,
                                      self.opts.dock_poses, self.opts.seed)
        return self._docker

    def pose(self, rec: Record) -> tuple[Chem.Mol, str, np.ndarray, Chem.Mol | None]:
        """(molecule with one conformer per pose, canonical SMILES, Vina energies or empty, the
        untouched input molecule for ``given``). Raises PrepError with the reason."""
        mol = parse_record(rec)
        mode = self.opts.poses
        if mode == "given":
            posed = given_pose(mol)
            return posed, smiles_of(mol), np.zeros(0, np.float32), mol
        std = standardize(mol)
        smi = smiles_of(std)
        if mode == "template":
            emb = embed(std, self.prep)
            posed, _ = self.template.poses(emb)
            return posed, smi, np.zeros(0, np.float32), None
        emb = embed(std, self.prep, n_confs=1)
        posed, energies = self.docker.dock(emb)
        return posed, smi, energies, None

    def _pose_source(self) -> str:
        return self.opts.poses

    @torch.no_grad()
    def _score_items(self, items: list) -> tuple[np.ndarray, np.ndarray]:
        act, aff = [], []
        bs = self.opts.batch_size
        for s in range(0, len(items), bs):
            out = self.model(self.gridder(items[s:s + bs], ligand_only=self.ligand_only))
            act.append(torch.sigmoid(out["activity"].float()).cpu())
            aff.append(out["affinity"].float().cpu())
        if not act:
            return np.zeros(0), np.zeros(0)
        return torch.cat(act).numpy().astype(np.float64), torch.cat(aff).numpy().astype(np.float64)

    def score_chunk(self, records: Sequence[Record]) -> list[Row]:
        rows: list[Row] = []
        items, owners = [], []  # CNN inputs and (row position, pose id)
        posed_of: dict[int, tuple[Chem.Mol, Chem.Mol | None, np.ndarray]] = {}
        for rec in records:
            row = Row(rec.index, rec.id, smiles=rec.text if rec.fmt == "smiles" else "")
            rows.append(row)
            try:
                posed, smi, energies, original = self.pose(rec)
                row.smiles = smi
                poses = []
                for conf in posed.GetConformers():
                    tl = type_ligand(posed, conf.GetId())
                    poses.append((self.ctx.receptor, tl, tl.centroid()))
                if not poses:
                    raise PrepError("no pose")
            except PrepError as exc:
                row.error = str(exc) or "preparation failed"
                continue
            except Exception as exc:  # an unexpected failure of one molecule must not end the run
                row.error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                continue
            posed_of[len(rows) - 1] = (posed, original, energies)
            for p, it in enumerate(poses):
                items.append(it)
                owners.append((len(rows) - 1, p))
        act, aff = self._score_items(items)
        best: dict[int, int] = {}
        for k, (r, p) in enumerate(owners):
            if r not in best or act[k] > act[best[r]]:
                best[r] = k
        for r, k in best.items():
            row = rows[r]
            posed, original, energies = posed_of[r]
            p = owners[k][1]
            row.score, row.pK = float(act[k]), float(aff[k])
            row.pose = self._pose_source()
            row.n_poses = posed.GetNumConformers()
            row.vina = float(energies[p]) if len(energies) > p else math.nan
            row.pose_block = self._sd_block(row, posed, p, original)
        return rows

    @staticmethod
    def _sd_block(row: Row, posed: Chem.Mol, p: int, original: Chem.Mol | None) -> str:
        """Best pose as an SD record with gnina-style tags (CNNscore, CNNaffinity)."""
        if original is not None:  # given: write the input molecule and coordinates back unchanged
            mol, conf = Chem.Mol(original), -1
        else:
            mol, conf = posed, posed.GetConformer(p).GetId()
        block = Chem.MolToMolBlock(mol, confId=conf)
        lines = block.splitlines()
        lines[0] = row.id
        tags = {"CNNscore": f"{row.score:.6f}", "CNNaffinity": f"{row.pK:.6f}", "atomgrid_index": str(row.index),
                "atomgrid_pose": row.pose, "SMILES": row.smiles}
        if not math.isnan(row.vina):
            tags["minimizedAffinity"] = f"{row.vina:.3f}"
        body = "\n".join(lines) + "\n" + "".join(f">  <{k}>\n{v}\n\n" for k, v in tags.items())
        return body + "$$$$\n"


# ----------------------------------------------------------------------------- chunk files and resume

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


def _fingerprint(ligands: Sequence[str | Path], settings: dict) -> dict:
    files = []
    for p in ligands:
        st = Path(p).stat()
        files.append({"path": str(Path(p).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    blob = json.dumps({"files": files, "settings": settings}, sort_keys=True)
    return {"files": files, "settings": settings, "sha1": hashlib.sha1(blob.encode()).hexdigest()}


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


def score_library(receptor: str | Path, ligands: str | Path | Sequence[str | Path], out: str | Path, *,
                  autobox_ligand: str | Path | None = None, center: Sequence[float] | None = None,
                  size: Sequence[float] | None = None, model: str | Path | None = None,
                  options: ScoreOptions = ScoreOptions(), out_sdf: str | Path | None = None, top: int = 0,
                  num_workers: int = 0, address: str | None = None, resume: bool = False,
                  device: str | None = None, progress: bool | None = None,
                  on_chunk: Callable[[int], None] | None = None) -> dict:
    """Score a library; write ``out`` (CSV, one row per record, input order), optionally ``out_sdf``
    (best poses; with ``top`` only the ``top`` best, ranked) and ``<out stem>.top.csv`` when ``top``.

    ``num_workers`` 0: in this process; >= 1 (or an ``address``): that many Ray actors (``address``
    None starts an embedded local Ray on 127.0.0.1). ``on_chunk(k)`` is called after chunk ``k`` is
    written (tests use it to interrupt a run). Returns a summary dict (records, errors, seconds, ...).
    """
    import time
    paths = [ligands] if isinstance(ligands, (str, Path)) else list(ligands)
    if not paths:
        raise ScoreError("no ligand library given")
    for p in paths:
        if not Path(p).is_file():
            raise ScoreError(f"ligand library {p}: no such file")
    out = Path(out)
    parts = parts_dir(out)
    settings = {"options": asdict(options), "receptor": str(Path(receptor).resolve()),
                "autobox_ligand": str(autobox_ligand) if autobox_ligand else None,
                "center": list(center) if center else None, "size": list(size) if size else None,
                "model": str(model) if model else None, "sdf": bool(out_sdf)}
    fp = _fingerprint(paths, settings)
    if parts.exists():
        if not resume:
            raise ScoreError(f"{parts} holds an interrupted run: pass --resume to continue it, or delete it")
        try:
            old = json.loads((parts / MANIFEST).read_text())
        except (OSError, ValueError):
            raise ScoreError(f"{parts}: no readable {MANIFEST}; delete the folder to start again") from None
        if old.get("sha1") != fp["sha1"]:
            raise ScoreError(f"{parts}: the interrupted run used other inputs or settings; delete it to start again")
    else:
        parts.mkdir(parents=True)
        _atomic_write(parts / MANIFEST, json.dumps(fp, indent=1))
    t0 = time.time()
    ctx = build_context(receptor, autobox_ligand=autobox_ligand, center=center, size=size, model=model,
                        options=options, device=device)
    total = sum(count_records(p) for p in paths)
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
        if num_workers <= 0 and address is None:
            scorer = ChunkScorer(ctx)
            for k, chunk in todo:
                finished(k, scorer.score_chunk(chunk))
        else:
            from .distributed import score_chunks
            score_chunks(ctx, todo, max(1, num_workers), address, finished)
    finally:
        bar.close()
    summary = finalize(out, parts, n_chunks, total, out_sdf=out_sdf, top=top)
    summary.update({"scored_now": scored, "resumed_records": done_records, "seconds": time.time() - t0})
    shutil.rmtree(parts)
    return summary


def _read_chunk_rows(path: Path) -> Iterator[list[str]]:
    with open(path, newline="") as f:
        yield from csv.reader(f)


def _sd_records(path: Path) -> Iterator[str]:
    with open(path) as f:
        block: list[str] = []
        for line in f:
            block.append(line)
            if line.startswith("$$$$"):
                yield "".join(block)
                block = []


def finalize(out: Path, parts: Path, n_chunks: int, total: int, out_sdf: str | Path | None = None,
             top: int = 0) -> dict:
    """Concatenate the chunk files in order into ``out`` (and ``out_sdf``), streaming, checking that
    the rows are exactly indices 0..total-1; with ``top`` also write ``<out>.top.csv`` (best first)."""
    missing = [k for k in range(n_chunks) if not _chunk_path(parts, k, "csv").exists()]
    if missing:
        raise ScoreError(f"{parts}: chunks {missing[:5]} are missing; rerun with --resume")
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
                expect += 1
                w.writerow(row)
                if row[-1]:
                    errors += 1
                elif top > 0:
                    item = (float(row[3]), -int(row[0]), row)
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
                    if want is None:
                        f.write(block)
                        continue
                    idx = _sd_index(block)
                    if idx in want:
                        kept[want[idx]] = block
            if want is not None:
                for b in kept:
                    if b is not None:
                        f.write(b)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_sdf, out_sdf)
    return {"records": total, "errors": errors, "out": str(out), "top": [r[1] for r in ranked]}


def _sd_index(block: str) -> int:
    lines = block.splitlines()
    for i, l in enumerate(lines):
        if l.startswith(">") and "<atomgrid_index>" in l:
            return int(lines[i + 1])
    return -1


# ----------------------------------------------------------------------------- enrichment

def read_scores(path: str | Path) -> Iterator[dict]:
    with open(path, newline="") as f:
        yield from csv.DictReader(f)


def enrichment(scores_csv: str | Path, actives: Iterable[str]) -> dict:
    """ROC AUC, EF1%, EF5% of an ``atomgrid score`` CSV; a row is active when its id is in ``actives``.

    Several rows with one id (protomers, tautomers) count once with their best score; failed rows
    stay in the ranking with the lowest score (they are screened and missed, not removed).
    """
    from .metrics import enrichment_factor, roc_auc
    act = set(actives)
    best: dict[str, float] = {}
    failed = 0
    for r in read_scores(scores_csv):
        s = float(r["score"]) if r["score"] else -math.inf
        failed += not r["score"]
        if r["id"] not in best or s > best[r["id"]]:
            best[r["id"]] = s
    if not best:
        raise ScoreError(f"{scores_csv}: no rows")
    ids = list(best)
    y = np.asarray([i in act for i in ids], np.float64)
    s = np.asarray([best[i] for i in ids])
    s = np.where(np.isfinite(s), s, -1.0)  # scores are probabilities in [0, 1]
    return {"compounds": len(ids), "actives": int(y.sum()), "failed_rows": failed, "roc_auc": roc_auc(y, s),
            "ef1": enrichment_factor(y, s, 0.01), "ef5": enrichment_factor(y, s, 0.05)}


def active_ids(paths: Sequence[str | Path]) -> set[str]:
    """Ids of the records of library files (e.g. DUD-E ``actives_final.ism``): the positives of :func:`enrichment`."""
    ids: set[str] = set()
    for p in paths:
        for r in iter_records(p):
            ids.add(r.id)
    return ids


# ----------------------------------------------------------------------------- command line

POLICY_HELP = ("preparation: RDKit sanitise, rdMolStandardize Cleanup, largest organic fragment, neutralise "
               "(Uncharger) where possible; input tautomer kept (no enumeration, no pKa model); explicit H; "
               "ETKDGv3 conformers + MMFF94 clean-up. 'given' poses are used as read (hydrogens added only).")


def _cmd_score(args) -> int:
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    opts = ScoreOptions(poses=args.poses, n_confs=args.confs, ff_iters=args.ff_iters, keep=args.keep,
                        relax_steps=args.relax_steps, exhaustiveness=args.exhaustiveness, dock_poses=args.dock_poses, batch_size=args.batch_size,
                        chunk_size=args.chunk_size, max_heavy_atoms=args.max_heavy_atoms, seed=args.seed)
    summary = score_library(args.receptor, args.ligands, args.out, autobox_ligand=args.autobox_ligand,
                            center=args.center, size=args.size, model=args.model, options=opts,
                            out_sdf=args.out_sdf, top=args.top, num_workers=args.workers, address=args.address,
                            resume=args.resume, device=args.device)
    rate = summary["scored_now"] / max(summary["seconds"], 1e-9)
    print(f"{summary['records']} records ({summary['errors']} with errors) -> {summary['out']}; "
          f"{summary['scored_now']} scored in {summary['seconds']:.1f} s ({rate:.2f} mol/s)")
    if args.top:
        print(f"top {args.top}: {', '.join(summary['top'])}")
    return 0


def _cmd_enrich(args) -> int:
    res = enrichment(args.scores, active_ids(args.actives))
    print(f"{res['compounds']} compounds ({res['actives']} actives, {res['failed_rows']} failed rows): "
          f"ROC AUC {res['roc_auc']:.3f}, EF1% {res['ef1']:.2f}, EF5% {res['ef5']:.2f}")
    return 0


def add_score_commands(sub) -> None:
    """Register ``score`` and ``enrich`` on an argparse sub-parser set (called by ``atomgrid.cli``)."""
    p = sub.add_parser("score", help="score a ligand library against a pocket (CSV out, one row per record)",
                       description=POLICY_HELP)
    p.add_argument("--receptor", required=True, help="receptor PDB/PDBQT")
    p.add_argument("--autobox-ligand", help="reference ligand (SDF/mol2): the box and the template for --poses template")
    p.add_argument("--center", type=float, nargs=3, metavar=("X", "Y", "Z"), help="box centre (A)")
    p.add_argument("--size", type=float, nargs=3, metavar=("X", "Y", "Z"), help="box edge lengths (A)")
    p.add_argument("--ligands", required=True, nargs="+", help=".smi/.ism/.csv/.sdf/.mol2 (optionally .gz); several files are one library")
    p.add_argument("--poses", default="template", choices=POSE_MODES)
    p.add_argument("--model", help="model name under atomgrid/models/ or a path (default: the shipped model)")
    p.add_argument("--out", required=True, help="CSV: one row per input record, in input order")
    p.add_argument("--out-sdf", help="best pose of each molecule with CNNscore/CNNaffinity tags")
    p.add_argument("--top", type=int, default=0, help="also write OUT.top.csv with the N best (and only those in --out-sdf)")
    p.add_argument("--workers", type=int, default=0, help="Ray actors (0: score in this process)")
    p.add_argument("--address", help="Ray cluster address (default: an embedded local Ray when --workers > 0)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from OUT.csv.parts/")
    p.add_argument("--confs", type=int, default=ScoreOptions.n_confs, help="ETKDG conformers per molecule (template)")
    p.add_argument("--ff-iters", type=int, default=ScoreOptions.ff_iters,
                   help="MMFF clean-up iterations per conformer (0: none)")
    p.add_argument("--keep", type=int, default=ScoreOptions.keep, help="best-aligned conformers relaxed and scored")
    p.add_argument("--relax-steps", type=int, default=ScoreOptions.relax_steps)
    p.add_argument("--exhaustiveness", type=int, default=ScoreOptions.exhaustiveness, help="Vina (--poses dock)")
    p.add_argument("--dock-poses", type=int, default=ScoreOptions.dock_poses, help="Vina poses rescored per molecule")
    p.add_argument("--batch-size", type=int, default=ScoreOptions.batch_size)
    p.add_argument("--chunk-size", type=int, default=ScoreOptions.chunk_size)
    p.add_argument("--max-heavy-atoms", type=int, default=ScoreOptions.max_heavy_atoms)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads in this process (0 = default)")
    p.set_defaults(func=_cmd_score)
    e = sub.add_parser("enrich", help="ROC AUC and EF1%% of an 'atomgrid score' CSV, actives given by id")
    e.add_argument("scores", help="OUT.csv of atomgrid score")
    e.add_argument("--actives", required=True, nargs="+", help="library file(s) whose record ids are the actives")
    e.set_defaults(func=_cmd_enrich)
