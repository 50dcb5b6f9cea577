"""The worker of ``atomgrid score``: records in, rows out (a plain class; Ray actors wrap the same one).

Pipeline per record (:class:`ChunkScorer`): parse -> prepare (:mod:`atomgrid.poses` policy) -> poses
(``given``, ``template`` or ``dock``) -> type + grid -> CNN in batches (:func:`atomgrid.models.predict`)
-> the molecule's score is its best pose's. :func:`build_context` reads and types the receptor, fixes the
box and reference and loads the weights once in the driver; every worker builds the net once from them.
"""
from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from rdkit import Chem

from . import contacts as agcontacts
from . import io as agio
from .featurize import TypedAtoms, crop_margin, type_ligand, type_receptor
from .grid import GridSpec
from .library import Record
from .models import ModelNotFoundError, build_model, gridder_for, load_weights, predict, predict_shared, resolve_model
from .poses import (PrepError, TemplatePoser, VinaDocker, VinaScorer, choose_molecule, embed,
                    given_pose, heavy_indices, input_smiles_of, parse_record, receptor_pdbqt, smiles_of, standardize)
from .score_options import ScoreError, ScoreOptions

log = logging.getLogger("atomgrid.score")

OUTPUT_COLUMNS = ("index", "id", "input_smiles", "smiles", "score", "ligand_only", "blend", "pK", "pose", "n_poses",
                  "vina", "pK_vina_prior", "prep_note", "error")
SCORE_COLUMN = OUTPUT_COLUMNS.index("score")
LIGAND_ONLY_COLUMN = OUTPUT_COLUMNS.index("ligand_only")
BLEND_COLUMN = OUTPUT_COLUMNS.index("blend")


@dataclass
class ScoringContext:
    """What every worker needs, built once by the driver (picklable; shared with one ``ray.put``).

    ``receptor``: typed receptor atoms cropped to the box plus the grid reach (or a contact model's cut-off); ``pocket_xyz [M, 3]``
    heavy receptor atoms near the box (clash term); ``reference`` mol block or None; ``box``;
    ``receptor_pdbqt`` (dock mode, or ``options.vina_prior``); ``model_state``/``model_meta`` (weights on CPU and their meta,
    the net is built once per :class:`ChunkScorer`); ``pose_state``/``pose_meta`` the ``--pose-model``;
    ``twin_state``/``twin_meta`` the ligand-only twin (``options.blend`` > 0); ``affinity`` the
    ``--affinity-model`` companions as (weights, meta) pairs (tree arrays and meta for a contact model): the mean of
    their pK of the picked pose, the nets in the same rotations, fills the pK column (empty: the model's own head).
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
    with_sdf: bool = True  # build the best pose's SD record (only when --out-sdf asks for it)
    # --pose-model: another model picks each molecule's pose (its activity as posed), the model scores that pose
    pose_state: dict | None = None
    pose_meta: dict | None = None
    # the ligand-only twin that scores the picked pose beside the model (the blend's second term), or None
    twin_state: dict | None = None
    twin_meta: dict | None = None
    # the files they were read from (the run identity of --resume names them)
    pose_file: Path | None = None
    twin_file: Path | None = None
    # --affinity-model: models whose mean pK of the picked pose fills the pK column (empty: the model's own head)
    affinity: tuple = ()
    affinity_files: tuple = ()


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def build_context(receptor: str | Path, *, autobox_ligand: str | Path | None = None,
                  center: Sequence[float] | None = None, size: Sequence[float] | None = None,
                  model: str | Path | None = None, options: ScoreOptions = ScoreOptions(),
                  autobox_padding: float = 4.0, device: str | None = None, with_sdf: bool = True,
                  pose_model: str | Path | None = None, ligand_only_model: str | Path | None = None,
                  affinity_models: Sequence[str | Path] = ()) -> ScoringContext:
    """Read and type the receptor once, fix the box and the reference ligand, load the model (and the
    ``pose_model`` that picks each molecule's pose, if one is given, the ligand-only twin
    ``ligand_only_model`` when ``options.blend`` > 0, and the ``affinity_models`` whose mean pK fills the pK
    column)."""
    if options.poses == "template" and autobox_ligand is None:
        raise ScoreError("--poses template needs a reference ligand (--autobox-ligand); "
                         "with only a box (--center/--size) use --poses dock or --poses given")
    if autobox_ligand is None and (center is None or size is None):
        raise ScoreError("give the pocket as --autobox-ligand REF or as --center X Y Z --size X Y Z")
    if (center is None) != (size is None):  # with --autobox-ligand one of them alone would be ignored
        raise ScoreError("--center and --size go together: give both (an explicit box), or neither with --autobox-ligand")
    if center is not None and not all(np.isfinite(v) for v in center):
        raise ScoreError(f"--center {' '.join(f'{v:g}' for v in center)}: not finite")
    rec = agio.read_receptor(receptor)
    if isinstance(rec, agio.ReadError):
        raise ScoreError(f"receptor {rec}")
    ref_block = None
    if autobox_ligand is not None:
        ref = agio.read_reference(autobox_ligand)
        if isinstance(ref, agio.ReadError):
            raise ScoreError(f"reference ligand {ref}")
        if ref.HasProp(agio.REFERENCE_NOTE):
            print(f"atomgrid: reference ligand {autobox_ligand}: {ref.GetProp(agio.REFERENCE_NOTE)}", file=sys.stderr)
        if ref.GetNumConformers() == 0:
            raise ScoreError(f"reference ligand {autobox_ligand}: no 3D coordinates")
        heavy = agio.coordinates(ref)[heavy_indices(ref)]
        box = agio.autobox(heavy, autobox_padding)
        if center is not None and size is not None:  # an explicit box wins; the ligand stays the template
            box = agio.Box(tuple(map(float, center)), tuple(map(float, size)))
        ref_block = Chem.MolToMolBlock(ref)
    else:
        box = agio.Box(tuple(map(float, center)), tuple(map(float, size)))
    try:
        model_file = resolve_model(model)
    except ModelNotFoundError as exc:
        raise ScoreError(str(exc)) from None
    try:
        state, meta = load_weights(model_file)  # the net itself is built once, by each ChunkScorer
    except Exception as exc:  # another kind of model (a contact model, a boardnet net) or a corrupt file: one line
        raise ScoreError(f"--model {str(exc).splitlines()[0] if str(exc) else f'{model_file}: {type(exc).__name__}'}") from None
    if meta.get("ligand_only"):  # allowed (a baseline), never silently: its score ignores the pocket
        print(f"atomgrid: warning: --model {model_file} is ligand-only: its score reads the molecule alone, not the "
              "pocket (a baseline; the pocket-reading model is the default)", file=sys.stderr)
    spec = GridSpec(meta["grid"]["size"], meta["grid"]["resolution"])
    reach = receptor_reach(spec, options.rotations)
    pose_state = pose_meta = pose_file = twin_file = None
    if pose_model is not None:
        pose_file, pose_state, pose_meta = load_companion(pose_model, "--pose-model", meta)
        pose_spec = GridSpec(pose_meta["grid"]["size"], pose_meta["grid"]["resolution"])
        reach = max(reach, receptor_reach(pose_spec, 1))  # the pose model scores as posed
    twin_state = twin_meta = None
    if options.blend:
        if ligand_only_model is None:
            raise ScoreError(f"--blend {options.blend:g}: no ligand-only twin of {model_file.name} (none beside it); "
                             "give one with --ligand-only-model, or --blend 0 to rank by the model alone")
        twin_file, twin_state, twin_meta = load_ligand_only_twin(ligand_only_model, meta)
    affinity, affinity_files = [], []
    for name in affinity_models:
        a_file, a_state, a_meta = load_affinity_model(name, meta)
        affinity.append((a_state, a_meta))
        affinity_files.append(a_file)
        if agcontacts.is_contact_meta(a_meta):  # contact counts reach CUTOFF Å from ligand atoms, which may sit past the box
            reach = max(reach, agcontacts.CUTOFF + CONTACT_MARGIN)
        else:
            reach = max(reach, receptor_reach(GridSpec(a_meta["grid"]["size"], a_meta["grid"]["resolution"]), options.rotations))
    trec = type_receptor(rec, agio.Box(box.center, tuple(s + 2 * reach for s in box.size)))
    xyz = agio.coordinates(rec)
    near = box.contains(xyz, margin=8.0)
    heavy = np.asarray([a.GetAtomicNum() > 1 for a in rec.GetAtoms()])
    pocket = xyz[near & heavy]
    if not len(pocket):  # every molecule would be scored against empty space
        raise ScoreError(f"receptor {receptor}: no heavy atom within 8 Å of the box (centre "
                         + ", ".join(f"{v:.1f}" for v in box.center) + "): the box is not on this receptor")
    pdbqt = None
    if options.poses == "dock" or options.vina_prior:
        need = "--poses dock" if options.poses == "dock" else f"--vina-prior {options.vina_prior:g}"
        try:
            import meeko  # noqa: F401  (only checking that they import)
            import vina  # noqa: F401
        except ImportError as exc:
            raise ScoreError(f"{need} needs the 'vina' and 'meeko' packages (pip install vina meeko gemmi): {exc}") from None
        pdbqt = given_receptor_pdbqt(receptor) or receptor_pdbqt(rec, vina_prior_box(box))
    return ScoringContext(trec, pocket, ref_block, box, pdbqt, state, meta, options, device or default_device(),
                          with_sdf, pose_state, pose_meta, twin_state, twin_meta, pose_file, twin_file,
                          tuple(affinity), tuple(affinity_files))


def load_companion(name_or_path: str | Path, flag: str, model_meta: dict) -> tuple[Path, dict, dict]:
    """(file, weights, meta) of a second model beside the scoring model (``--pose-model``, the ligand-only
    twin), refused with a one-line :class:`ScoreError` naming ``flag`` when it cannot be found or read or
    types atoms differently from the model."""
    try:
        path = resolve_model(name_or_path)
    except ModelNotFoundError as exc:
        raise ScoreError(str(exc).replace("--model", flag, 1)) from None
    try:
        state, meta = load_weights(path)
    except Exception as exc:  # a corrupt or foreign file: one line, the file named
        raise ScoreError(f"{flag} {path}: not an atomgrid model ({type(exc).__name__})") from None
    typing, want = meta.get("typing", {}).get("name"), model_meta.get("typing", {}).get("name")
    if typing != want:
        raise ScoreError(f"{flag} {name_or_path}: atom typing {typing!r} differs from the model's {want!r}")
    return path, state, meta


def load_ligand_only_twin(path: str | Path, model_meta: dict) -> tuple[Path, dict, dict]:
    """(file, weights, meta) of a ligand-only twin (:func:`load_companion`), refused with a one-line
    :class:`ScoreError` when it is not ligand-only."""
    twin_file, state, meta = load_companion(path, "--ligand-only-model", model_meta)
    if not meta.get("ligand_only"):
        raise ScoreError(f"--ligand-only-model {twin_file}: not a ligand-only model (its meta says ligand_only false)")
    return twin_file, state, meta


def load_affinity_model(name_or_path: str | Path, model_meta: dict) -> tuple[Path, dict, dict]:
    """(file, weights, meta) of an ``--affinity-model`` (:func:`load_companion`), refused with a one-line
    :class:`ScoreError` when it is ligand-only (an affinity of the complex needs the pocket). A contact-count
    tree model (:mod:`atomgrid.contacts`) gives (file, tree arrays, meta)."""
    try:
        path = resolve_model(name_or_path)
    except ModelNotFoundError as exc:
        raise ScoreError(str(exc).replace("--model", "--affinity-model", 1)) from None
    try:
        tree = agcontacts.contact_state(path)
    except Exception as exc:
        raise ScoreError(f"--affinity-model {path}: {exc}".split("\n")[0]) from None
    if tree is not None:
        return path, *tree
    path, state, meta = load_companion(path, "--affinity-model", model_meta)
    if meta.get("ligand_only"):
        raise ScoreError(f"--affinity-model {path}: a ligand-only model (its meta says ligand_only true); the pK "
                         "column needs a model that reads the pocket")
    return path, state, meta


def receptor_reach(spec: GridSpec, rotations: int = 1) -> float:
    """How far (Å, per axis) beyond the box the receptor is kept: half the grid edge plus an atom's density
    reach; with test-time rotations the corners of a rotated grid reach sqrt(3) x half the edge from its centre."""
    reach = crop_margin(spec)
    if rotations > 1:
        reach += (math.sqrt(3) - 1) * spec.dimension / 2
    return reach


# Vina's maps for --vina-prior: the pocket box grown by this much a side (Å), since template and given poses can
# reach past the autobox and Vina cannot score an atom outside its maps (the receptor PDBQT is cut to it too)
VINA_PRIOR_MARGIN = 4.0
# a contact-count pK model (atomgrid.contacts) keeps the receptor atoms within its cut-off of the box plus this much
# (Å): a template pose's atoms can lie a little past the box
CONTACT_MARGIN = 2.0
# RT ln 10 at 298.15 K (kcal/mol): a Vina energy E reads as pK = -E / VINA_KCAL_PER_PK
VINA_KCAL_PER_PK = 1.364


def vina_prior_box(box: agio.Box) -> agio.Box:
    return agio.Box(box.center, tuple(s + 2 * VINA_PRIOR_MARGIN for s in box.size))


def vina_prior(pk: float, vina: float, w: float) -> float:
    """``(1 - w) pK + w (-vina / 1.364)``: the net's affinity with Vina's energy of the same pose as a prior
    (NaN when either is missing)."""
    return (1 - w) * pk + w * (-vina / VINA_KCAL_PER_PK)


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


def clean_text(x: str, limit: int = 0) -> str:
    """A CSV/SD field as printable UTF-8 text: control characters, lone surrogates and U+FFFD become
    '?', so no NUL or binary byte reaches an output file. ``limit`` > 0 also caps the length."""
    out = "".join("?" if (ord(c) < 32 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF or c == "\ufffd") else c
                  for c in x)
    return out if not limit or len(out) <= limit else out[: limit - 3] + "..."


@dataclass
class Row:
    """One output row; ``pose_block`` is the best pose as an SD record (not written to the CSV).

    ``input_smiles``: the SMILES as given (SMILES/CSV input) or RDKit's SMILES of the record as read
    (SDF/mol2), before any preparation; ``smiles``: the canonical SMILES of the molecule scored;
    ``prep_note``: what preparation changed (stripped counter-ions, neutralised); ``ligand_only``: the
    ligand-only twin's activity of the same pose (blend runs); the ``blend`` column is filled in when the
    run finishes (:func:`atomgrid.score_chunks.finalize`: it z-scores over the whole library)."""

    index: int
    id: str
    input_smiles: str = ""
    smiles: str = ""
    score: float = math.nan
    ligand_only: float = math.nan
    pK: float = math.nan
    pose: str = ""
    n_poses: int = 0
    vina: float = math.nan
    pK_vina_prior: float = math.nan
    prep_note: str = ""
    error: str = ""
    pose_block: str = field(default="", repr=False)

    def csv_fields(self) -> list[str]:
        f = lambda x: "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.6f}"
        return [str(self.index), clean_text(self.id, 200), clean_text(self.input_smiles), clean_text(self.smiles),
                f(self.score), f(self.ligand_only), "", f(self.pK), self.pose, str(self.n_poses), f(self.vina), f(self.pK_vina_prior), clean_text(self.prep_note),
                clean_text(self.error, 300)]


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
        from traincore.runtime import Runtime
        self.runtime = Runtime.create(ctx.device, precision=ctx.options.precision)
        self.device = self.runtime.device
        self.model = self.runtime.prepare(build_model(ctx.model_state, ctx.model_meta)).eval()
        self.gridder = gridder_for(ctx.model_meta, self.device)
        self.ligand_only = bool(ctx.model_meta.get("ligand_only"))
        self.pose_net = None
        if ctx.pose_state is not None:
            self.pose_net = self.runtime.prepare(build_model(ctx.pose_state, ctx.pose_meta)).eval()
            self.pose_gridder = gridder_for(ctx.pose_meta, self.device)
            self.pose_ligand_only = bool(ctx.pose_meta.get("ligand_only"))
        self.twin = None
        if ctx.twin_state is not None:
            self.twin = self.runtime.prepare(build_model(ctx.twin_state, ctx.twin_meta)).eval()
            self.twin_gridder = gridder_for(ctx.twin_meta, self.device)
        # (net, gridder) per affinity CNN, (ContactModel, None) per contact-count tree model
        self.affinity = [(agcontacts.ContactModel(st, me), None) if agcontacts.is_contact_meta(me) else
                         (self.runtime.prepare(build_model(st, me)).eval(), gridder_for(me, self.device))
                         for st, me in ctx.affinity]
        self._template = None
        self._docker = None
        self._vina_scorer = None
        self._stage = ""
        self.with_sdf = ctx.with_sdf

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

    @property
    def vina_scorer(self) -> VinaScorer:
        if self._vina_scorer is None:
            self._vina_scorer = VinaScorer(self.ctx.receptor_pdbqt, vina_prior_box(self.ctx.box))
        return self._vina_scorer

    def _add_vina_prior(self, row: Row, posed: Chem.Mol, p: int) -> None:
        """--vina-prior: Vina's energy of the scored pose (its docking energy in dock mode, else score_only of
        the pose as it is) and the pK_vina_prior column; a pose Vina cannot score leaves both empty, with the
        reason in prep_note."""
        if math.isnan(row.vina):
            try:
                row.vina = self.vina_scorer.energies(posed, posed.GetConformer(p).GetId())[0]
            except PrepError as exc:
                row.prep_note = "; ".join(x for x in (row.prep_note, f"no pK_vina_prior: {exc}") if x)
                return
        row.pK_vina_prior = vina_prior(row.pK, row.vina, self.opts.vina_prior)

    def pose(self, rec: Record, row: Row) -> tuple[Chem.Mol, np.ndarray, Chem.Mol | None]:
        """(molecule with one conformer per pose, Vina energies or empty, the input molecule for
        ``given``); fills ``row.input_smiles``/``smiles``/``prep_note`` on the way. Raises PrepError."""
        self._stage = "parsing"
        mol = parse_record(rec)
        if rec.fmt != "smiles":
            row.input_smiles = input_smiles_of(mol)
        mode = self.opts.poses
        self._stage = "preparation"
        if mode == "given":
            main, notes = choose_molecule(mol, self.prep)
            row.prep_note = "; ".join(notes)
            posed = given_pose(main, self.ctx.box)
            row.smiles = smiles_of(main)
            return posed, np.zeros(0, np.float32), main
        std, notes = standardize(mol, self.prep)
        row.prep_note = "; ".join(notes)
        row.smiles = smiles_of(std)
        self._stage = "conformer embedding"
        if mode == "template":
            emb = embed(std, self.prep)
            self._stage = "template placement"
            posed, _ = self.template.poses(emb)
            return posed, np.zeros(0, np.float32), None
        emb = embed(std, self.prep, n_confs=1)
        self._stage = "docking"
        posed, energies = self.docker.dock(emb)
        return posed, energies, None

    def _pose_source(self) -> str:
        return self.opts.poses

    def _score_items(self, items: list, rotations: int = 1) -> tuple[np.ndarray, np.ndarray]:
        return predict(self.model, self.gridder, items, self.ligand_only, self.opts.batch_size,
                       autocast=self.runtime.autocast, rotations=rotations)

    def _pick_items(self, items: list) -> tuple[np.ndarray, np.ndarray]:
        """The picking pass of --pose-model: the pose model's activity of each pose as posed."""
        return predict(self.pose_net, self.pose_gridder, items, self.pose_ligand_only, self.opts.batch_size,
                       autocast=self.runtime.autocast)

    def _score_best(self, items: list, owners: list[tuple[int, int]]) -> dict[int, tuple[int, float, float, float]]:
        """{row: (pose index k into items, activity, pK, twin activity)}: each molecule's best pose by one
        forward pass as posed; with ``rotations`` > 1 that pose alone is then scored in every orientation (a
        molecule with one pose skips the picking pass), so test-time augmentation costs R passes a molecule,
        not R a pose. With a pose model, it picks (by its activity as posed) and the model scores the picked
        pose R times. The ligand-only twin (if any) scores the picked pose R times; nan without one. With
        ``--affinity-model``, the pK is their mean pK of the picked pose (R times each). The model, the affinity
        models and the twin read the same grids of the picked poses when their grids match (``predict_shared``;
        the twin with the receptor channels zeroed)."""
        best, scored = self._pick(items, owners)
        if not best:
            return {}
        rows = list(best)
        picked = [items[best[r]] for r in rows]
        jobs = ([] if scored else [(self.model, self.gridder, self.ligand_only)]) + \
            [(net, gridder, False) for net, gridder in self.affinity if gridder is not None] + \
            ([(self.twin, self.twin_gridder, True)] if self.twin is not None else [])
        out = predict_shared(jobs, picked, self.opts.batch_size, autocast=self.runtime.autocast,
                             rotations=self.opts.rotations) if jobs else []
        if self.twin is not None:
            lig, out = out[-1][0], out[:-1]
        else:
            lig = [math.nan] * len(rows)
        if not scored:
            (act, aff), out = out[0], out[1:]
            scored = {r: (float(a), float(f)) for r, a, f in zip(rows, act, aff)}
        pks = [f for _, f in out] + [m.predict_items(picked) for m, g in self.affinity if g is None]
        pk = np.mean(pks, axis=0) if pks else [scored[r][1] for r in rows]
        return {r: (best[r], scored[r][0], float(f), float(x)) for r, f, x in zip(rows, pk, lig)}

    def _pick(self, items: list, owners: list[tuple[int, int]]) -> tuple[dict[int, int], dict | None]:
        """({row: pose index k into items of its best pose}, {row: (activity, pK)} when the picking pass already
        scored the picked poses as the run scores them (one rotation, no pose model), else None)."""
        R = self.opts.rotations
        poses_of: dict[int, list[int]] = {}
        for k, (r, _) in enumerate(owners):
            poses_of.setdefault(r, []).append(k)
        if self.pose_net is not None:  # the pose model picks; the model then scores each picked pose (R passes)
            pick = [k for ks in poses_of.values() if len(ks) > 1 for k in ks]
            pact = dict(zip(pick, self._pick_items([items[k] for k in pick])[0]))
            return {r: ks[0] if len(ks) == 1 else max(ks, key=lambda k: pact[k]) for r, ks in poses_of.items()}, None
        pick = [k for ks in poses_of.values() if len(ks) > 1 or R == 1 for k in ks]
        act, aff = self._score_items([items[k] for k in pick])
        got = dict(zip(pick, zip(act, aff)))
        best = {r: ks[0] if len(ks) == 1 and R > 1 else max(ks, key=lambda k: got[k][0]) for r, ks in poses_of.items()}
        if R == 1:  # the picking pass already scored every picked pose as posed
            return best, {r: (float(got[k][0]), float(got[k][1])) for r, k in best.items()}
        return best, None

    def score_chunk(self, records: Sequence[Record]) -> list[Row]:
        rows: list[Row] = []
        items, owners = [], []  # CNN inputs and (row position, pose id)
        posed_of: dict[int, tuple[Chem.Mol, Chem.Mol | None, np.ndarray]] = {}
        for rec in records:
            row = Row(rec.index, rec.id, input_smiles=rec.text if rec.fmt == "smiles" and not rec.error else "")
            rows.append(row)
            try:
                posed, energies, original = self.pose(rec, row)
                self._stage = "atom typing"
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
                # RDKit's and torch's messages are not written out (they leak internals such as
                # "No VdW radius for atom with Z=80"): the stage and the exception class are
                row.error = f"{self._stage} failed ({type(exc).__name__})"
                log.debug("record %d (%s): %s failed", rec.index, rec.id, self._stage, exc_info=True)
                continue
            posed_of[len(rows) - 1] = (posed, original, energies)
            for p, it in enumerate(poses):
                items.append(it)
                owners.append((len(rows) - 1, p))
        for r, (k, a, f, lig) in self._score_best(items, owners).items():
            row = rows[r]
            posed, original, energies = posed_of[r]
            p = owners[k][1]
            row.score, row.pK, row.ligand_only = a, f, lig
            row.pose = self._pose_source()
            row.n_poses = posed.GetNumConformers()
            row.vina = float(energies[p]) if len(energies) > p else math.nan
            if self.opts.vina_prior:
                self._add_vina_prior(row, posed, p)
            if self.with_sdf:
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
        lines[0] = clean_text(row.id, 80)
        tags = {"CNNscore": f"{row.score:.6f}", "CNNaffinity": f"{row.pK:.6f}", "atomgrid_index": str(row.index),
                "atomgrid_pose": row.pose, "SMILES": row.smiles}
        if not math.isnan(row.ligand_only):
            tags["atomgrid_ligand_only"] = f"{row.ligand_only:.6f}"
        if row.prep_note:
            tags["atomgrid_prep_note"] = clean_text(row.prep_note)
        if not math.isnan(row.vina):  # gnina's tag for a Vina energy; score_only of the pose outside dock mode
            tags["minimizedAffinity" if row.pose == "dock" else "atomgrid_vina_score_only"] = f"{row.vina:.3f}"
        if not math.isnan(row.pK_vina_prior):
            tags["atomgrid_pK_vina_prior"] = f"{row.pK_vina_prior:.6f}"
        body = "\n".join(lines) + "\n" + "".join(f">  <{k}>\n{v}\n\n" for k, v in tags.items())
        return body + "$$$$\n"
