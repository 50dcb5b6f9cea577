"""Screening training data: DUD-E actives and decoys posed in their receptor the way ``atomgrid score`` poses them.

The pose-trained activity head tells good poses from bad ones but has never seen an inactive
molecule, so it cannot screen. AtomNet (Wallach et al. 2015) and Ragoza et al. (2017) trained on
DUD-E actives against decoys, cross-validated by target; this module makes that data for the DUD-E
targets that have a receptor in the data pack and are not test targets: the four dockstring targets
(fak1, glcm, mapk2, nos1; receptor PDBQT + Vina box). The test targets fabp4 and inha are never
built here (:data:`TEST_TARGETS`).

    atomgrid screen-data --out runs/atomgrid/screen [--targets fak1 glcm mapk2 nos1] [--decoys 400]

Per target, in ``OUT/<target>/`` (each step is skipped when its output exists, so a killed run resumes):

1. ``reference.sdf``: the first ``--ref-actives`` actives docked by Vina in the dockstring box
   (``score_library(poses="dock")``); the pose with the best Vina energy becomes the template.
2. ``lib.smi``: every active plus a seeded sample of ``--decoys`` decoys; ``poses.csv``/``poses.sdf``:
   the library through ``score_library(poses="template")`` with that reference: the same ETKDG
   conformers, shape alignment and clash relaxation that screening uses, so training and screening
   see the same kind of pose.
3. ``OUT/cache_screen.pt``: one example per posed molecule (``good`` = 1 active, 0 decoy; ``pK``
   unknown; ``target`` = ``dude:<target>``; ``source`` = ``dude:template``) in the format of
   :mod:`atomgrid.data`, to be mixed into training by ``data.screen_caches`` / ``data.screen_fraction``.

DUD-E decoys are property-matched but topologically unlike the actives, so a ligand-only model can
learn to separate them (the data pack's README warns about it): always compare with the ligand-only
baseline trained on the same examples.
"""
from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import torch

from . import data as agdata
from . import io as agio
from .featurize import type_ligand
from .library import iter_records
from .score import ScoreOptions, score_library

DOCKSTRING = {"fak1": "PTK2", "glcm": "GBA", "mapk2": "MAPKAPK2", "nos1": "NOS1"}
TEST_TARGETS = ("fabp4", "inha")


def target_files(target: str) -> tuple[Path, agio.Box, Path, Path]:
    """(receptor PDBQT, Vina box, actives .ism, decoys .ism) of a dockstring DUD-E target."""
    if target in TEST_TARGETS:
        raise ValueError(f"DUD-E target {target!r} is a test target: never built into training data")
    if target not in DOCKSTRING:
        raise ValueError(f"DUD-E target {target!r}: no receptor here (targets with one: {', '.join(DOCKSTRING)})")
    d = agdata.drug_root() / "dude" / target
    gene = DOCKSTRING[target]
    return d / f"{gene}_target.pdbqt", agio.read_vina_box(d / f"{gene}_conf.txt"), d / "actives_final.ism", d / "decoys_final.ism"


def _write_smi(path: Path, records) -> None:
    """Write ``records`` as a SMILES file, leaving an identical file untouched (its mtime is part of a
    resumable run's identity)."""
    text = "".join(f"{r.text} {r.id}\n" for r in records)
    if path.exists() and path.read_text() == text:
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


REFERENCES_DIR = Path(__file__).parent / "references"


def shipped_reference(target: str) -> Path | None:
    """The reference pose shipped for a dockstring target (``atomgrid/references/dude_<target>.sdf``), or None.

    Vina docking is a Monte Carlo search; until session 30 it ran with a random seed (:func:`atomgrid.poses.vina_seed`),
    so every fresh checkout re-docked other reference poses and posed these targets' libraries differently. The
    shipped files are the references of session 29's build (``make_reference``'s defaults: the first 3 actives,
    exhaustiveness 4), the ones every committed run since then used; a checkout copies them instead of docking."""
    f = REFERENCES_DIR / f"dude_{target}.sdf"
    return f if f.exists() else None


def _reference_to_copy(target: str, n_actives: int, exhaustiveness: int, redock: bool) -> Path | None:
    """The shipped pose that stands for docking ``target`` with these settings, or None (dock)."""
    return None if redock or (n_actives, exhaustiveness) != (3, 4) else shipped_reference(target)


def make_reference(target: str, out: Path, n_actives: int = 3, exhaustiveness: int = 4, model=None,
                   redock: bool = False) -> Path:
    """``out/reference.sdf``: the shipped reference pose (:func:`shipped_reference`) when there is one and the
    settings are the defaults it was made with, unless ``redock``; else dock the first ``n_actives`` actives with
    Vina and write the best-energy pose."""
    ref = out / "reference.sdf"
    if ref.exists():
        return ref
    out.mkdir(parents=True, exist_ok=True)
    shipped = _reference_to_copy(target, n_actives, exhaustiveness, redock)
    if shipped is not None:
        tmp = ref.with_suffix(".tmp")
        tmp.write_text(shipped.read_text())
        tmp.replace(ref)
        return ref
    receptor, box, actives, _ = target_files(target)
    if not (out / "ref_dock.sdf").exists():
        cands = [r for r in iter_records(actives) if not r.error][:n_actives]
        lib = out / "ref_candidates.smi"
        _write_smi(lib, cands)
        opts = ScoreOptions(poses="dock", exhaustiveness=exhaustiveness, dock_poses=1, chunk_size=1, rotations=1)
        score_library(receptor, lib, out / "ref_dock.csv", center=box.center, size=box.size, model=model, options=opts,
                      out_sdf=out / "ref_dock.sdf", resume=(out / "ref_dock.csv.parts").exists(), affinity_models=())
    return pick_reference(out / "ref_dock.csv", out / "ref_dock.sdf", ref)


def pick_reference(dock_csv: Path, dock_sdf: Path, ref: Path) -> Path:
    """The pose with the lowest Vina energy among a dock run's best poses -> ``ref`` (one SD record)."""
    rows = [r for r in csv.DictReader(open(dock_csv)) if r["vina"] and not r["error"]]
    if not rows:
        raise ValueError(f"{dock_csv}: Vina placed none of the reference candidates")
    best = min(rows, key=lambda r: float(r["vina"]))["id"]
    with open(dock_sdf, encoding="utf-8") as f:
        for block in agio.sd_blocks(f):
            if agio.sd_title(block) == best:
                ref.write_text(block)
                return ref
    raise ValueError(f"{dock_sdf}: no pose named {best}")


def make_library(target: str, out: Path, n_decoys: int, seed: int = 0) -> tuple[Path, set[str]]:
    """``out/lib.smi``: every active plus ``n_decoys`` seeded random decoys, shuffled; returns (path, active ids)."""
    _, _, actives, decoys = target_files(target)
    acts = [r for r in iter_records(actives) if not r.error]
    lib = out / "lib.smi"
    if not lib.exists():
        rng = random.Random(seed)
        decs = [r for r in iter_records(decoys) if not r.error]
        recs = acts + rng.sample(decs, min(n_decoys, len(decs)))
        rng.shuffle(recs)
        _write_smi(lib, recs)
    return lib, {r.id for r in acts}


def pose_library(target: str, out: Path, n_decoys: int, seed: int = 0, model=None, workers: int = 0,
                 options: ScoreOptions = ScoreOptions(poses="template", rotations=1)) -> tuple[Path, set[str]]:
    """Template poses of the library (``out/poses.sdf``, best pose per molecule); resumable."""
    lib, act = make_library(target, out, n_decoys, seed)
    sdf = out / "poses.sdf"
    if not sdf.exists():
        receptor, _, _, _ = target_files(target)
        executor = None
        if workers > 0:
            from .distributed import ray_executor
            executor = ray_executor(workers)
        score_library(receptor, lib, out / "poses.csv", autobox_ligand=out / "reference.sdf", model=model,
                      options=options, out_sdf=sdf, executor=executor, resume=(out / "poses.csv.parts").exists(),
                      affinity_models=())
    return sdf, act


def add_target(builder: agdata.CacheBuilder, target: str, poses_sdf: Path, actives: set[str], tag: str = "") -> int:
    """Examples of one DUD-E target into ``builder`` (receptor cropped around the poses); returns the count.

    The receptor key is ``dude:<target>@<tag>`` so that caches of several builds (e.g. more decoys with
    another seed) merge; sampling weights still group by the target ``dude:<target>``."""
    receptor, _, _, _ = target_files(target)
    key = f"dude:{target}@{tag}" if tag else f"dude:{target}"
    return add_posed(builder, f"dude:{target}", "dude:template", receptor, key, poses_sdf, lambda name: name in actives,
                     id_prefix=target)


def add_posed(builder: agdata.CacheBuilder, target: str, source: str, receptor: Path, key: str, poses_sdf: Path,
              is_active, id_prefix: str | None = None) -> int:
    """One example per posed molecule of ``poses_sdf`` (label ``is_active(name)``), the receptor typed once and
    cropped around all the poses under ``key``; unreadable records go to ``builder.errors``. Returns the count."""
    ligs = []
    for mol in agio.read_ligands(poses_sdf):
        if isinstance(mol, agio.ReadError):
            builder.errors.append(str(mol))
            continue
        name = mol.GetProp("_Name") if mol.HasProp("_Name") else ""
        try:
            ligs.append((name, type_ligand(mol)))
        except ValueError as exc:
            builder.errors.append(f"{poses_sdf} {name}: {exc}")
    if not ligs:
        return 0
    cents = np.stack([t.centroid() for _, t in ligs])
    c = cents.mean(0)
    spread = float(np.linalg.norm(cents - c, axis=1).max())
    if not builder._receptor(key, receptor, c, extra=spread):
        return 0
    for name, tl in ligs:
        builder.examples.append(agdata._example(f"{id_prefix or target}:{name}", target, source, key, tl, float("nan"),
                                                int(is_active(name)), float("nan")))
    return len(ligs)


def build(out: str | Path, targets=tuple(DOCKSTRING), n_decoys: int = 1000, ref_actives: int = 3,
          exhaustiveness: int = 4, seed: int = 0, model=None, workers: int = 0, redock: bool = False) -> dict:
    """All three steps for ``targets``; writes and returns ``out/cache_screen.pt``'s content.

    ``model`` picks each molecule's best template pose; None means the pose model (``atomgrid.POSE_MODEL``),
    never the screening model that is trained on this data."""
    from .models import POSE_MODEL
    model = model or POSE_MODEL
    out = Path(out)
    builder = agdata.CacheBuilder(0, seed)
    for t in targets:
        d = out / t
        d.mkdir(parents=True, exist_ok=True)
        shipped = _reference_to_copy(t, ref_actives, exhaustiveness, redock) is not None
        print(f"{t}: reference pose ({'shipped' if shipped else f'Vina, {ref_actives} actives'})", flush=True)
        make_reference(t, d, ref_actives, exhaustiveness, model, redock=redock)
        print(f"{t}: template poses of the actives and {n_decoys} decoys", flush=True)
        sdf, act = pose_library(t, d, n_decoys, seed, model, workers)
        n = add_target(builder, t, sdf, act, tag=out.name)
        print(f"{t}: {n} examples", flush=True)
    cache = builder.result()
    torch.save(cache, out / "cache_screen.pt")
    return cache
