"""The cross-target protocol (issue 17): grouped cross-validation by target and protein family.

    atomgrid crossval --plan                                   # print the folds and exit
    atomgrid crossval --model M.pt [--ligand-only-model L.pt] [--folds 5] [--group-by family]
                      [--only JNK1 ...] [--final | --validation] [--max-actives 40 --max-decoys 1200] [--json out.json]

The folds come from :func:`atomgrid.families.make_folds` (a pure function of the family table):
DEKOIS 2.0 plus the DUD-E targets with receptors; fabp4 and inha (and DEKOIS INHA, their family) only
with ``--final``; the validation group fixed (``--validation`` evaluates it: the one place to choose a
recipe, a checkpoint or a threshold; ``{fold}`` in a model path then reads ``final``). Every held-out target is posed once, the way
``atomgrid score --poses template`` poses (ETKDG conformers aligned on the crystal ligand, relaxed in
the pocket, best pose by ``--model``), and on those same poses five rankings are computed:

- ``model``: the activity score of ``--model`` (``{fold}`` in the path: one model per fold, trained on
  that fold's ``train`` targets; a path without it is one fixed model for every fold, and each target
  records whether that model's actives-vs-decoys screening data shared its family: ``screen_data_family``;
  its pose/affinity complexes (PDBbind, FEP sets) are not tracked by target, so a fixed model's figures are
  never a clean cross-target result: :data:`FIXED_MODEL_CAVEAT`);
- ``ligand_only``: the ligand-only twin scoring the same ligand pose without the pocket;
- ``heavy_atoms``: the heavy-atom count (bigger first: the size bias every screen must beat);
- ``fp_max_tanimoto``: the largest Tanimoto similarity (Morgan radius 2, 2048 bits) to the actives of
  the fold's training targets (what a 2D nearest-neighbour search would give);
- ``vina_local``: Vina's energy after a local optimisation of that pose in Vina's own function (``optimize``:
  what gnina's ``--minimize`` does before scoring; a fairer Vina than scoring another method's pose as is);
- ``vina``: Vina's score of the pose (``score_only``; the ``vina`` and ``meeko`` packages,
  ``pip install -e .[dock]``), left out with the reason when they are not installed.

Each gets ROC AUC, EF1%, EF5% and BEDROC(80.5) per target with bootstrap intervals over molecules, and
their mean over held-out targets with a bootstrap interval over targets. Molecules that fail to pose
stay in every ranking, at the bottom (screened and missed), for every method alike.
"""
from __future__ import annotations

import csv
import gzip
import math
import re
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from traincore.provenance import num

from . import data as agdata
from . import outside
from .blend import blend_scores
from .families import FAMILIES, NO_TEMPLATE, TEST_TARGETS, Fold, folds_of, group_of
from .metrics import SCREEN_METRICS, report, roc_auc
from .score_options import ScoreError
from .vinascore import read_score_cache, vina_available, vina_scores, write_score_cache

METHODS = ("model", "ligand_only", "heavy_atoms", "fp_max_tanimoto", "vina", "vina_local", "pk")
# what the shipped screening models were fine-tuned on besides PDBbind/FEP complexes (configs/atomgrid/screen.toml)
SHIPPED_SCREEN_TARGETS = ("dude:fak1", "dude:glcm", "dude:mapk2", "dude:nos1")
POSE_DATA_CAVEAT = ("per-fold models, but {n} of {total} targets' families were not dropped from their model's "
                    "pose/affinity data (a model trained before session 22 or from a pose model trained on every "
                    "complex; see pose_affinity_held_out per target), so these figures can overstate performance there")
FIXED_MODEL_CAVEAT = ("one model for every fold: not retrained without the held-out families. Its screening data "
                      "is checked per target (screen_data_family), but its pose/affinity training complexes "
                      "(PDBbind core/toy, FEP sets) span kinases, proteases, nuclear receptors and more and are "
                      "not tracked by target, so these figures can overstate performance on unseen targets")


# ----------------------------------------------------------------------------- target files

# DEKOIS actives carry their BindingDB measurement in nM; the first of these tags a record has is its label
_PK_TAGS = ("Ki_in_nM", "Kd_in_nM", "IC50_in_nM")


def _pk_of_tags(tags: dict[str, str]) -> float | None:
    """-log10(M) of the first usable measurement (Ki, Kd, IC50 in nM); None if censored ('<', '>') or absent."""
    for tag in _PK_TAGS:
        v = tags.get(tag, "").strip()
        if not v:
            continue
        try:
            x = float(v)
        except ValueError:
            return None  # '<10', '>10000': a bound, not a value
        return 9.0 - math.log10(x) if x > 0 else None
    return None


def dekois_active_pk(target: str) -> dict[str, float]:
    """{protocol molecule name (as :func:`sample_library` writes it, without its 'A0000_' prefix): pK} of a DEKOIS
    target's actives with a measured Ki, Kd or IC50 (the SDF tags; Ki first); duplicates of a name averaged."""
    row = agdata.dekois_index().get(target)
    if row is None:
        return {}
    vals: dict[str, list[float]] = {}
    with gzip.open(agdata.drug_root() / "dekois2" / row["actives"], "rt", errors="replace") as f:
        for rec in f.read().split("$$$$"):
            lines = rec.strip("\n").splitlines()
            if not lines or not lines[0].strip():
                continue
            tags = {}
            for i, ln in enumerate(lines[:-1]):
                m = re.match(r"^>\s*<([^>]+)>", ln)
                if m:
                    tags[m.group(1)] = lines[i + 1]
            pk = _pk_of_tags(tags)
            if pk is not None:
                vals.setdefault(_ident(lines[0].strip()), []).append(pk)
    return {k: float(np.mean(v)) for k, v in vals.items()}


def _source_name(example_id: str) -> str:
    """The molecule's own name (as :func:`dekois_active_pk` keys it) from a protocol example id
    ``<target>:A0000_<name>`` or a pose name ``A0000_<name>`` (:func:`sample_library`)."""
    return agdata.molecule_name(example_id)


def with_active_affinities(cache: dict) -> tuple[dict, dict]:
    """A copy of a cross-target screening cache whose DEKOIS actives carry their measured pK
    (:func:`dekois_active_pk`), so the affinity head learns from them (``data.screen_affinity``). Targets whose
    protein is a CASF-2016 UniProt keep pK unknown (CASF stays a test of unseen proteins). Returns (cache, info)."""
    casf = agdata.casf_uniprots()
    pk_by_target: dict[str, dict[str, float]] = {}
    skipped: set[str] = set()
    labelled: dict[str, int] = {}
    examples = []
    for e in cache["examples"]:
        t = e["target"]
        if e["good"] and e["source"] == "dekois:template" and t not in skipped:
            if t not in pk_by_target:
                if agdata.dekois_uniprots(t) & casf:
                    skipped.add(t)
                pk_by_target[t] = {} if t in skipped else dekois_active_pk(t)
            pk = pk_by_target[t].get(_source_name(e["id"]))
            if pk is not None:
                e = dict(e, pK=pk)
                labelled[t] = labelled.get(t, 0) + 1
        examples.append(e)
    info = {"labelled": sum(labelled.values()), "targets": len(labelled), "casf_protein_targets": sorted(skipped)}
    return dict(cache, examples=examples), info


def active_affinity_targets(group: str) -> tuple[str, ...]:
    """The targets of ``atomgrid screen-data --actives-affinity GROUP``: a validation group's (v11, v34: affinity on
    targets its final fold never trained on), or ``protocol``, every target but the final test's (the v34 group and
    its CV folds: for models that learnt no screening data)."""
    if group == "protocol":
        folds, final = folds_of("v34")
        return tuple(sorted(set(final.validation).union(*(f.test for f in folds))))
    return tuple(folds_of(group)[1].validation)


def build_active_affinity_cache(targets, work: str | Path = "runs/atomgrid/crossval", max_decoys: int = 200,
                                seed: int = 0, model=None, pose_options=None) -> dict:
    """An evaluation cache of the ``targets``' actives with a measured pK, in the protocol's poses (posed and cached
    by :func:`pose_target` if missing): one example per active, source ``dekois-active``, target the DEKOIS name;
    for ``atomgrid evaluate --set cache`` (affinity on targets a fold never trained on)."""
    from .models import POSE_MODEL, resolve_model
    from .screenset import add_posed
    model = str(resolve_model(model or POSE_MODEL))
    builder = agdata.CacheBuilder(0, seed)
    for t in targets:
        pk = dekois_active_pk(t)
        if not pk:
            continue
        try:
            files, lib, _, sdf = pose_target(t, work=Path(work), model=model, max_decoys=max_decoys, seed=seed,
                                             pose_options=pose_options)
        except (FileNotFoundError, ScoreError) as exc:
            print(f"{t}: skipped ({exc})", flush=True)
            continue
        n0 = len(builder.examples)
        add_posed(builder, t, "dekois-active", files["receptor"], f"actives:{t}", sdf,
                  lambda name: name.startswith("A") and _source_name(name) in pk)
        keep = [dict(e, pK=pk[_source_name(e["id"])]) for e in builder.examples[n0:] if e["good"]]
        builder.examples[n0:] = keep
        print(f"{t}: {len(keep)} actives with a measured pK", flush=True)
    return builder.result()


def target_files(target: str, work: Path) -> dict:
    """{receptor, reference (crystal ligand or a docked reference pose), actives, decoys: [(name, SMILES)]}
    of a protocol target; raises FileNotFoundError with the reason when it cannot be posed here."""
    if outside.is_outside(target):  # a target of an --outside index (not in the data pack)
        return outside.target_files(target)
    root = agdata.drug_root()
    if target in NO_TEMPLATE:
        raise FileNotFoundError(f"{target}: no crystal ligand in the data pack, so no template poses")
    if target.startswith("dude:"):
        name = target.split(":", 1)[1]
        d = root / "dude" / name
        if name in ("fabp4", "inha"):
            from .evaluate import dude_library
            lib, act = dude_library(name, work / f"{name}_all.smi")
            recs = [ln.split() for ln in lib.read_text().splitlines() if ln.strip()]
            pairs = [(r[1], r[0]) for r in recs]
            return {"receptor": d / "receptor.pdb", "reference": d / "crystal_ligand.mol2",
                    "actives": [p for p in pairs if p[0] in act], "decoys": [p for p in pairs if p[0] not in act]}
        from .screenset import DOCKSTRING, make_reference, shipped_reference
        ref = Path("runs/atomgrid/screen") / name / "reference.sdf"
        if not ref.exists() and shipped_reference(name) is not None:
            ref.parent.mkdir(parents=True, exist_ok=True)
            make_reference(name, ref.parent)  # copies the shipped pose: no Vina needed
        if not ref.exists():
            why = vina_available()
            if why is not None:
                raise FileNotFoundError(f"{target}: no crystal ligand; needs the Vina reference pose {ref} ({why})")
            # made once, as atomgrid screen-data --targets does, so a fresh checkout poses the same targets
            print(f"{target}: no crystal ligand; docking {name}'s first actives with Vina for the reference pose "
                  f"{ref} (a few CPU-minutes, once)", flush=True)
            ref.parent.mkdir(parents=True, exist_ok=True)
            make_reference(name, ref.parent)
        return {"receptor": d / f"{DOCKSTRING[name]}_target.pdbqt", "reference": ref,
                "actives": _read_ism(d / "actives_final.ism"), "decoys": _read_ism(d / "decoys_final.ism")}
    row = agdata.dekois_index().get(target)
    if row is None:
        raise FileNotFoundError(f"{target}: not in dekois2/index.csv")
    d = root / "dekois2"
    return {"receptor": d / row["receptor"], "reference": d / row["crystal_ligand"],
            "actives": agdata.sdf_smiles(d / row["actives"]), "decoys": agdata.sdf_smiles(d / row["decoys"])}


def _read_ism(path: Path) -> list[tuple[str, str]]:
    """[(name, SMILES)] of a DUD-E ``.ism`` file (``SMILES id [ChEMBL id]`` per line)."""
    return [(p[1], p[0]) for p in (ln.split() for ln in path.read_text().splitlines()) if len(p) >= 2]


def active_records(target: str, work: Path) -> list[tuple[str, str]]:
    """[(name, SMILES)] of a target's actives, from its actives file alone where it has one (a DUD-E ``.ism``, a
    DEKOIS actives SDF: no decoys read, no reference pose made); raises FileNotFoundError / OSError when absent."""
    if outside.is_outside(target):
        return list(outside.target_files(target)["actives"])
    if target.startswith("dude:"):
        ism = agdata.drug_root() / "dude" / target.split(":", 1)[1] / "actives_final.ism"
        return _read_ism(ism) if ism.exists() else list(target_files(target, work)["actives"])
    row = agdata.dekois_index().get(target)
    return agdata.sdf_smiles(agdata.drug_root() / "dekois2" / row["actives"]) if row else []


def actives_smiles(target: str, work: Path) -> list[str]:
    """SMILES of a target's actives (for the fingerprint baseline); [] when its files are absent."""
    try:
        return [smi for _, smi in active_records(target, work)]
    except (FileNotFoundError, OSError):
        return []


def receptor_file(target: str) -> Path | None:
    """The receptor file of a pack target (DEKOIS or DUD-E), None when the pack here has none."""
    try:
        if target.startswith("dude:"):
            d = agdata.drug_root() / "dude" / target.split(":", 1)[1]
            found = sorted(d.glob("receptor.pdb")) + sorted(d.glob("*_target.pdbqt"))
            return found[0] if found else None
        row = agdata.dekois_index().get(target)
        return agdata.drug_root() / "dekois2" / row["receptor"] if row else None
    except (FileNotFoundError, OSError):
        return None


# ----------------------------------------------------------------------------- baselines

_FPGEN = None


def fingerprint(smiles: str):
    global _FPGEN
    if _FPGEN is None:
        _FPGEN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    m = Chem.MolFromSmiles(smiles)
    return None if m is None else _FPGEN.GetFingerprint(m)


def max_tanimoto(query: list[str], reference: list[str]) -> np.ndarray:
    """``[len(query)]``: each query's largest Tanimoto to ``reference`` (Morgan r=2, 2048 bits); 0 if unreadable."""
    ref = [f for f in map(fingerprint, reference) if f is not None]
    out = np.zeros(len(query))
    if not ref:
        return out
    for i, s in enumerate(query):
        f = fingerprint(s)
        if f is not None:
            out[i] = max(DataStructs.BulkTanimotoSimilarity(f, ref))
    return out


def cached_ligand_only_scores(model: str, sdf: Path, ids: list[str], mols: list, rotations: int = 1,
                              device: str = "cpu") -> np.ndarray:
    """The ligand-only twin's activity logits of the poses in ``sdf`` (-inf where unposed), kept beside it in
    ``<sdf stem>_ligonly[_rotR]_<model sha256[:16]>.csv`` and reused while it lists exactly ``ids`` and is newer
    than ``sdf``, as :func:`cached_vina_scores` (the twin used to be rescored on every run)."""
    import torch

    from .featurize import type_ligand
    from .models import file_sha256, gridder_for, load_model, predict
    tag = f"_rot{rotations}" if rotations > 1 else ""
    cache = sdf.with_name(f"{sdf.stem}_ligonly{tag}_{file_sha256(model)[:16]}.csv")
    cached = read_score_cache(cache, sdf, ids, ("ligand_only",))
    if cached is not None:
        return cached[0]
    lmodel, lmeta = load_model(model, device)
    if not lmeta.get("ligand_only"):
        raise ValueError(f"{model}: not a ligand-only model (its meta says ligand_only false)")
    items, where = [], []
    for k, m in enumerate(mols):
        if m is not None:
            tl = type_ligand(m)
            items.append((None, tl, tl.centroid()))
            where.append(k)
    s = np.full(len(ids), -math.inf)
    if items:
        with torch.no_grad():
            act, _ = predict(lmodel, gridder_for(lmeta, device), items, True, rotations=rotations)
        s[where] = act
    write_score_cache(cache, ids, {"ligand_only": s})
    return s


def cached_vina_scores(files: dict, sdf: Path, ids: list[str], mols: list) -> tuple[np.ndarray, np.ndarray]:
    """:func:`vina_scores` of the poses in ``sdf``, kept in ``<sdf>.vina.csv`` (id, score_only, local) and
    reused while it lists exactly ``ids`` and is newer than ``sdf`` (poses are never rewritten in place)."""
    cache = sdf.with_name(sdf.name + ".vina.csv")
    cached = read_score_cache(cache, sdf, ids, ("vina", "vina_local"))
    if cached is not None:
        return cached[0], cached[1]
    e0, e1 = vina_scores(files["receptor"], files["reference"], mols)
    write_score_cache(cache, ids, {"vina": e0, "vina_local": e1})
    return e0, e1


# ----------------------------------------------------------------------------- blends

BLENDABLE = ("ligand_only", "vina", "vina_local", "heavy_atoms", "fp_max_tanimoto", "pk")


def parse_blend(spec: str) -> tuple[str, float]:
    """``'vina:0.5'`` -> ``('vina', 0.5)``: the method ``model+0.5*vina`` (see :func:`blend_scores`)."""
    name, sep, w = str(spec).partition(":")
    if not sep or name not in BLENDABLE:
        raise ValueError(f"--blend {spec!r}: expected METHOD:WEIGHT with METHOD one of {', '.join(BLENDABLE)}")
    try:
        weight = float(w)
    except ValueError:
        raise ValueError(f"--blend {spec!r}: weight {w!r} is not a number") from None
    if not math.isfinite(weight) or weight == 0:
        raise ValueError(f"--blend {spec!r}: weight must be a finite non-zero number")
    return name, weight


def blend_name(other: str, weight: float) -> str:
    return f"model{weight:+g}*{other}"


# ----------------------------------------------------------------------------- one held-out target

def _ident(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:40]


def _sample_indices(files: dict, max_actives: int, max_decoys: int, seed: int) -> dict[str, list[int]]:
    """{actives, decoys: the indices :func:`sample_library` takes} (0 = all; one seeded generator, actives first)."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, cap in (("actives", max_actives), ("decoys", max_decoys)):
        n = len(files[key])
        out[key] = [int(i) for i in sorted(rng.choice(n, cap, replace=False))] if cap and n > cap else list(range(n))
    return out


def sample_library(files: dict, max_actives: int, max_decoys: int, seed: int) -> list[tuple[str, str, int]]:
    """[(id, SMILES, label)]: a seeded sample of actives and decoys (0 = all), ids made unique."""
    idx = _sample_indices(files, max_actives, max_decoys, seed)
    out = []
    for label, key in ((1, "actives"), (0, "decoys")):
        recs = [files[key][i] for i in idx[key]]
        out += [(f"{'A' if label else 'D'}{i:04d}_{_ident(n)}", s, label) for i, (n, s) in enumerate(recs)]
    return out


def extra_decoys(files: dict, max_actives: int, max_decoys: int, n_extra: int, seed: int) -> list[tuple[str, str, int]]:
    """[(id, SMILES, 0)]: ``n_extra`` more decoys for training, drawn (seeded) from those *outside* the evaluation
    sample of :func:`sample_library` with the same arguments, so no molecule a target is evaluated on is ever a
    training example of it; ids ``X<k>_<name>``. Fewer when the target has fewer decoys left."""
    taken = set(_sample_indices(files, max_actives, max_decoys, seed)["decoys"])
    rest = [i for i in range(len(files["decoys"])) if i not in taken]
    rng = np.random.default_rng([seed, 1])
    if n_extra < len(rest):
        rest = [rest[i] for i in sorted(rng.choice(len(rest), n_extra, replace=False))]
    return [(f"X{k:04d}_{_ident(files['decoys'][i][0])}", files["decoys"][i][1], 0) for k, i in enumerate(rest)]


_ACTIVES: dict[str, list[tuple[str, str, str]]] = {}


def _pack_actives(target: str, work: Path) -> list[tuple[str, str, str]]:
    """[(name, SMILES, canonical SMILES)] of a pack target's actives RDKit reads, read once per process."""
    if target not in _ACTIVES:
        out = []
        for name, smi in active_records(target, work):
            mol = Chem.MolFromSmiles(smi)
            if mol is not None:
                out.append((name, smi, Chem.MolToSmiles(mol)))
        _ACTIVES[target] = out
    return _ACTIVES[target]


def cross_decoys_of(target: str, pool, n: int, seed: int, work: Path) -> list[tuple[str, str, int, str]]:
    """[(id, SMILES, 0, source target)]: ``n`` actives of other targets, to pose in ``target``'s pocket as decoys
    ("decoys that look like actives"). Sources are the targets of ``pool`` in another superfamily than ``target``
    (so no inhibitor of one kinase is a decoy of another), each draw a source chosen uniformly, then one of its
    actives not drawn yet; a molecule that is also among ``target``'s own actives (same canonical SMILES) is never
    drawn. Seeded by ``seed`` and ``target``; ids ``Y<k>_<source>__<name>``. Fewer when the sources run out."""
    sf = group_of(target, "superfamily")
    sources = sorted(s for s in pool if s != target and s not in NO_TEMPLATE and group_of(s, "superfamily") != sf)
    own = {canon for _, _, canon in _pack_actives(target, work)}
    left = {}
    for s in sources:
        cands = [(name, smi) for name, smi, canon in _pack_actives(s, work) if canon not in own]
        if cands:
            left[s] = cands
    rng = np.random.default_rng([seed, 3, *target.encode()])
    out = []
    while len(out) < n and left:
        names = sorted(left)
        s = names[int(rng.integers(len(names)))]
        name, smi = left[s].pop(int(rng.integers(len(left[s]))))
        if not left[s]:
            del left[s]
        out.append((f"Y{len(out):04d}_{_ident(s)}__{_ident(name)}", smi, 0, s))
    return out


def isomer_decoys_of(target: str, n: int, seed: int, work: Path) -> list[tuple[str, str, int, str]]:
    """[(id, SMILES, 0, target)]: up to ``n`` positional isomers of ``target``'s own actives
    (:func:`atomgrid.isomers.positional_isomer`, one per active, the actives in a seeded order), to pose in its pocket
    as decoys: same formula, rings and shape as an active, the hetero atoms elsewhere. None is one of the target's
    actives or an isomer already drawn. Seeded by ``seed`` and ``target``; ids ``I<k>__<active name>``."""
    from .isomers import positional_isomer
    acts = _pack_actives(target, work)
    avoid = {canon for _, _, canon in acts}
    rng = np.random.default_rng([seed, 4, *target.encode()])
    out = []
    for k in rng.permutation(len(acts)):
        if len(out) == n:
            break
        name, smi, _ = acts[int(k)]
        iso = positional_isomer(smi, rng, avoid)
        if iso is not None:
            avoid.add(iso)
            out.append((f"I{len(out):04d}__{_ident(name)}", iso, 0, target))
    return out


def posed_scores(path: Path) -> dict[str, float]:
    """{id: score} of an ``atomgrid score`` CSV, the molecules that were posed and scored only (no error row)."""
    with open(path) as f:
        return {r["id"]: float(r["score"]) for r in csv.DictReader(f) if r["score"] and not r["error"]}


def specificity_pool(fold: Fold) -> tuple[str, ...]:
    """Targets whose actives may serve as a fold's pocket-specificity decoys: every protocol target the fold's model
    never trained on (not in ``fold.train``), outside the final-test families and with a template-able library."""
    test_groups = {group_of(t) for t in TEST_TARGETS}
    return tuple(sorted(t for t in FAMILIES if t not in fold.train and t not in NO_TEMPLATE
                        and group_of(t) not in test_groups))


def pocket_specificity(target: str, fold: Fold, model: str, *, work: Path, n: int, seed: int = 0, pose_options=None,
                       device: str = "cpu", executor=None, pose_model: str | None = None, rotations: int = 1,
                       actives: list[float]) -> dict:
    """Does the model read *which* pocket it is in? ``target``'s actives' scores (``actives``, finite) against
    ``n`` actives of other targets (:func:`cross_decoys_of`: another superfamily, from :func:`specificity_pool`, so
    the model never trained on them) posed in ``target``'s pocket the same way and scored the same way: ROC AUC
    (0.5: the model cannot tell its target's actives from other targets' actives). Unposed molecules are left out
    on both sides. The poses are cached under a tag naming the pool."""
    import hashlib
    pool = specificity_pool(fold)
    lib = cross_decoys_of(target, pool, n, seed, Path(work))
    if not lib:
        return {"skipped": "no target of another superfamily outside the model's training targets"}
    tag = f"spec{n}_s{seed}_" + hashlib.sha256(" ".join(pool).encode()).hexdigest()[:8]
    files, _, out, sdf = pose_target(target, work=Path(work), model=pose_model or model, seed=seed,
                                     pose_options=pose_options, device=device, executor=executor, cross=(tag, lib))
    if pose_model:
        out = rescore_poses(files, sdf, model, device, rotations)
    got = posed_scores(out)
    neg = [got[i] for i, *_ in lib if i in got]
    pos = [a for a in actives if math.isfinite(a)]
    if not pos or not neg:
        return {"skipped": f"{len(pos)} posed actives, {len(neg)} posed cross-target decoys"}
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    return {"roc_auc": float(roc_auc(y, np.r_[pos, neg])), "actives": len(pos), "cross_decoys": len(neg),
            "sources": sorted({src for *_, src in lib}), "poses_sdf": str(sdf)}


def _fold_path(template: str | None, fold: Fold) -> str | None:
    # the validation fold is scored by the model of the final fold (trained on everything but the final test)
    name = "final" if fold.name == "validation" else fold.name
    return None if template is None else template.replace("{fold}", name)


def validation_fold(final: Fold) -> Fold:
    """The fixed validation group as a fold of its own: held out against the final fold's training targets."""
    return Fold(name="validation", test=final.validation, train=final.train, validation=())


def trained_within(model_path: str, fold: Fold) -> bool:
    """Does ``model_path``'s meta list its screening targets (``train_targets``), all among ``fold``'s training targets?"""
    from .models import load_weights, resolve_model
    try:
        _, meta = load_weights(resolve_model(model_path))
    except (OSError, ValueError):
        return False
    trained = meta.get("train_targets")
    return trained is not None and set(trained) <= set(fold.train)


def pose_data_holdout(model_path: str) -> set[str]:
    """The held-out targets whose families ``model_path``'s training dropped from its pose/affinity data (the
    meta's ``affinity_holdout``, written by ``atomgrid train --fold`` since session 22); empty when unknown."""
    from .models import load_weights, resolve_model
    try:
        _, meta = load_weights(resolve_model(model_path))
    except (OSError, ValueError):
        return set()
    return set(meta.get("affinity_holdout") or ())


def screened_targets(meta: dict):
    """The screening targets a model's meta says it learnt from (``train_targets``; the early shipped screening
    models, which predate the key, learnt the four DUD-E targets with receptors); None when unknown."""
    trained = meta.get("train_targets")
    if trained is None and str(meta.get("name", "")).startswith("ag-atomnet") and "screen" in str(meta.get("name")):
        trained = SHIPPED_SCREEN_TARGETS
    return trained


def seen_family(model_path: str, target: str, level: str) -> bool | None:
    """Did ``model_path``'s screening data share ``target``'s group? True/False for the shipped screening
    models and models whose meta lists ``train_targets``; None when unknown."""
    from .models import load_weights
    _, meta = load_weights(model_path)
    trained = screened_targets(meta)
    if trained is None or target not in FAMILIES:  # an --outside target has no family in the table
        return None
    g = group_of(target, level)
    return any(t in FAMILIES and group_of(t, level) == g for t in trained)


def pose_target(target: str, *, work: Path, model: str, max_actives: int = 0, max_decoys: int = 0, seed: int = 0,
                pose_options=None, device: str = "cpu", executor=None, progress: bool = False, extra: int = 0,
                cross: tuple[str, list] | None = None):
    """Template poses of ``target``'s (sampled) library, each molecule's best pose picked by ``model``; cached
    in ``work/<target>/`` under the model's hash and reused. Returns (files, library [(id, SMILES, label)],
    scores CSV, poses SDF). ``extra`` > 0: instead, that many training-only decoys outside the sample
    (:func:`extra_decoys`), in a library file of their own. ``cross`` (a file tag, :func:`cross_decoys_of`' list):
    instead, those actives of other targets, in a library file ``lib_<tag>.smi``."""
    from .evaluate import template_scores_path
    from .score import ScoreOptions, score_library
    work = Path(work) / _ident(target)
    work.mkdir(parents=True, exist_ok=True)
    files = target_files(target, work)
    if cross is not None:  # actives of other targets as decoys (screen-data --crossval-cross-decoys)
        lib = [(i, smi, label) for i, smi, label, _ in cross[1]]
        lib_path = work / f"lib_{cross[0]}.smi"
    elif extra:  # training-only decoys outside the evaluation sample (screen-data --crossval-extra-decoys)
        lib = extra_decoys(files, max_actives, max_decoys, extra, seed)
        lib_path = work / f"lib_x{extra}_a{max_actives or 'all'}_d{max_decoys or 'all'}_s{seed}.smi"
    else:
        lib = sample_library(files, max_actives, max_decoys, seed)
        lib_path = work / f"lib_a{max_actives or 'all'}_d{max_decoys or 'all'}_s{seed}.smi"
    text = "".join(f"{s} {i}\n" for i, s, _ in lib)
    if not lib_path.exists() or lib_path.read_text() != text:
        lib_path.write_text(text)
    out = template_scores_path(work, lib_path, model)
    sdf = out.with_suffix(".sdf")
    opts = pose_options or ScoreOptions(poses="template", rotations=1)
    if not out.exists() or not sdf.exists():
        with _exclusive(out.with_name(out.name + ".lock")):  # another process posing it: wait, then reuse its files
            if not out.exists() or not sdf.exists():
                score_library(files["receptor"], lib_path, out, autobox_ligand=files["reference"], model=model,
                              options=opts, out_sdf=sdf, device=device, progress=progress,
                              resume=Path(str(out) + ".parts").exists(), executor=executor,
                              affinity_models=())  # the protocol measures the model's own heads
    return files, lib, out, sdf


@contextmanager
def _exclusive(lock: Path):
    """An exclusive advisory lock on ``lock`` (created if missing) for the block: two processes that pose the same
    library (two evaluation lanes started at once) take turns instead of writing into one ``.parts`` folder. Where
    ``fcntl`` is missing (Windows) the block runs unlocked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def rescore_poses(files: dict, sdf: Path, model: str, device: str = "cpu", rotations: int = 1) -> Path:
    """``model``'s scores of the given poses in ``sdf`` (``atomgrid score --poses given``, ``--rotations``),
    cached beside it under the model's hash (and the rotation count when > 1)."""
    from .evaluate import template_scores_path
    from .score import ScoreOptions, score_library
    out = template_scores_path(sdf.parent, sdf.with_name(sdf.stem + "_given" + (f"_rot{rotations}" if rotations > 1 else "")),
                               model)
    if not out.exists():
        score_library(files["receptor"], sdf, out, autobox_ligand=files["reference"], model=model,
                      options=ScoreOptions(poses="given", rotations=rotations), device=device, progress=False,
                      resume=Path(str(out) + ".parts").exists(), affinity_models=())
    return out


def evaluate_target(target: str, fold: Fold, model: str, ligand_only_model: str | None, *, work: Path,
                    level: str = "family", max_actives: int = 0, max_decoys: int = 0, seed: int = 0,
                    n_boot: int = 1000, pose_options=None, device: str = "cpu", executor=None,
                    pose_model: str | None = None, blends: tuple = (), rotations: int = 1, vina: bool = True,
                    pk_models: tuple = (), specificity: int = 0) -> dict:
    """Pose ``target``'s (sampled) library once (best pose by ``pose_model``, else by ``model``); rank it by
    every method on those same poses; metrics per method. ``blends``: ``(method, weight)`` pairs, each adding
    the method ``model+<weight>*<method>`` (:func:`blend_scores`). ``rotations`` > 1 (with ``pose_model``):
    the model and the ligand-only twin score each pose as the mean logit over that many orientations.
    ``pk_models``: affinity models (``atomgrid score --affinity-model``); the method ``pk`` ranks by their mean pK
    of the same poses in the same rotations (each model's scores cached beside the poses). ``specificity`` N > 0:
    also the model's pocket specificity against N actives of other targets (:func:`pocket_specificity`)."""
    from .models import file_sha256
    assert target in fold.test and target not in fold.train, (target, fold.name)
    if rotations > 1 and not pose_model:  # refused before any posing
        raise ValueError("rotations > 1 needs a pose model (the given poses are rescored with test-time augmentation)")
    files, lib, out, sdf = pose_target(target, work=work, model=pose_model or model, max_actives=max_actives,
                                       max_decoys=max_decoys, seed=seed, pose_options=pose_options, device=device,
                                       executor=executor)
    if pose_model:
        out = rescore_poses(files, sdf, model, device, rotations)
    score = {r["id"]: (float(r["score"]) if r["score"] and not r["error"] else -math.inf) for r in csv.DictReader(open(out))}
    posed: dict[str, Chem.Mol] = {}
    for m in Chem.SDMolSupplier(str(sdf), removeHs=False, sanitize=False):
        if m is not None:
            m.UpdatePropertyCache(strict=False)
            posed[m.GetProp("_Name")] = m
    ids = [i for i, _, _ in lib]
    smiles = [s for _, s, _ in lib]
    y = np.asarray([lab for _, _, lab in lib], np.float64)
    mols = [posed.get(i) for i in ids]
    scores: dict[str, np.ndarray] = {"model": np.asarray([score.get(i, -math.inf) for i in ids])}
    skipped: dict[str, str] = {}
    if ligand_only_model:
        scores["ligand_only"] = cached_ligand_only_scores(ligand_only_model, sdf, ids, mols, rotations, device)
    else:
        skipped["ligand_only"] = "no ligand-only twin given or found beside --model"
    scores["heavy_atoms"] = np.asarray([float(Chem.MolFromSmiles(s).GetNumHeavyAtoms()) if Chem.MolFromSmiles(s) else 0.0
                                        for s in smiles])
    train_actives = [s for t in fold.train for s in actives_smiles(t, Path(work))]
    scores["fp_max_tanimoto"] = max_tanimoto(smiles, train_actives)
    if pk_models:  # the affinity models' mean pK of the same poses (what atomgrid score's pK column would say)
        pks = []
        for pm in pk_models:
            rows = {r["id"]: r for r in csv.DictReader(open(rescore_poses(files, sdf, pm, device, rotations)))}
            pks.append([float(rows[i]["pK"]) if i in rows and rows[i]["pK"] and not rows[i]["error"] else -math.inf
                        for i in ids])
        scores["pk"] = np.mean(np.asarray(pks), axis=0)
    else:
        skipped["pk"] = "no --pk-models given"
    why = vina_available() if vina else "left out (--skip-vina)"
    failed: dict[str, int] = {}
    if why is None:
        posed = sum(m is not None for m in mols)
        for name, e in zip(("vina", "vina_local"), cached_vina_scores(files, sdf, ids, mols)):
            scores[name] = np.where(np.isfinite(e), -e, -math.inf)  # lower energy ranks first
            failed[name] = int(posed - np.isfinite(e).sum())  # posed but not scored
    else:
        skipped["vina"] = skipped["vina_local"] = why
    for other, w in blends:
        if other in scores:
            scores[blend_name(other, w)] = blend_scores(scores["model"], scores[other], w)
        else:
            skipped[blend_name(other, w)] = f"{other} was not computed"
    res: dict = {"target": target, "fold": fold.name,
                 "group": "outside" if outside.is_outside(target) else group_of(target, level),
                 "actives": int(y.sum()), "decoys": int((1 - y).sum()),
                 "unposed": int(sum(m is None for m in mols)), "train_actives_for_fp": len(train_actives),
                 "scores_csv": str(out), "poses_sdf": str(sdf), "model": model, "model_sha256": file_sha256(model),
                 "rotations": rotations, **({"pk_models": [file_sha256(m) for m in pk_models]} if pk_models else {}),
                 "screen_data_family": seen_family(model, target, level), "skipped": skipped,
                 "failed_posed": failed, "methods": {}}
    if outside.is_outside(target):  # no family table entry: how close are the nearest proteins the model learnt?
        res["nearest_training_protein"] = outside.nearest_training_protein(files["receptor"], fold.train, receptor_file)
        res["nearest_pose_affinity_protein"] = outside.nearest_protein(files["receptor"], outside.pose_affinity_receptors())
    if specificity and outside.is_outside(target):
        skipped["pocket_specificity"] = "an outside target has no superfamily to draw other targets' actives from"
    elif specificity:
        spec = pocket_specificity(target, fold, model, work=Path(work), n=specificity, seed=seed,
                                  pose_options=pose_options, device=device, executor=executor, pose_model=pose_model,
                                  rotations=rotations, actives=[float(v) for v in scores["model"][y == 1]])
        if "skipped" in spec:
            skipped["pocket_specificity"] = spec["skipped"]
        else:
            res["pocket_specificity"] = spec
    for name, s in scores.items():
        finite = s[np.isfinite(s)]
        s = np.where(np.isfinite(s), s, (finite.min() - 1.0) if finite.size else -1.0)
        res["methods"][name] = report(SCREEN_METRICS, y, s, n_boot)
    return res


def crossval_cache_path(out: str | Path, extra_decoys: int = 0, cross_decoys: int = 0, tag: str = "",
                        isomer_decoys: int = 0) -> Path:
    """The cache :func:`build_crossval` writes in ``out``: ``cache_crossval.pt``, ``cache_crossval_x<N>.pt`` of
    ``extra_decoys`` N, ``cache_crossval_y<N>[_<tag>].pt`` of ``cross_decoys`` N, or ``cache_crossval_i<N>[_<tag>].pt``
    of ``isomer_decoys`` N."""
    if isomer_decoys:
        return Path(out) / f"cache_crossval_i{isomer_decoys}{'_' + tag if tag else ''}.pt"
    if cross_decoys:
        return Path(out) / f"cache_crossval_y{cross_decoys}{'_' + tag if tag else ''}.pt"
    return Path(out) / (f"cache_crossval_x{extra_decoys}.pt" if extra_decoys else "cache_crossval.pt")


def build_crossval(out: str | Path, targets, work: str | Path = "runs/atomgrid/crossval", max_actives: int = 0,
                   max_decoys: int = 200, seed: int = 0, model=None, pose_options=None, extra_decoys: int = 0,
                   cross_decoys: int = 0, pool=None, tag: str = "", isomer_decoys: int = 0) -> dict:
    """Screening examples of cross-target protocol targets (DEKOIS 2.0, DUD-E with a template) from the poses
    :func:`pose_target` makes (and caches) with the pose model: the same poses the
    protocol evaluates on, so a fold's held-out targets are scored on exactly the kind of pose its training
    targets were learned from. One example per posed molecule (``good`` 1 active, 0 decoy; target = the
    protocol's target name; ``source`` ``dekois:template``); writes ``out/cache_crossval.pt``.

    Which targets a model trains on is chosen at training time (``data.screen_targets``), so one cache
    serves every fold. The final-test families are refused here.

    ``extra_decoys`` > 0: a second cache, ``out/cache_crossval_x<N>.pt``, of N more decoys per target drawn from
    those outside its evaluation sample (:func:`extra_decoys`), to list beside the first in
    ``data.screen_caches``; the evaluation poses and the first cache are left as they are.

    ``cross_decoys`` > 0: instead, ``out/cache_crossval_y<N>[_<tag>].pt``: N actives of ``pool``'s targets (default
    ``targets``) of other superfamilies per target, posed in its pocket as decoys (:func:`cross_decoys_of`; source
    ``dekois:crossdecoy:<source target>``, so training keeps only those from its own training targets).

    ``isomer_decoys`` > 0: instead, ``out/cache_crossval_i<N>[_<tag>].pt``: up to N positional isomers of each
    target's own actives posed in its pocket as decoys (:func:`isomer_decoys_of`; source ``dekois:isomer``)."""
    import torch

    from .models import POSE_MODEL, resolve_model
    from .screenset import add_posed
    if sum(bool(k) for k in (extra_decoys, cross_decoys, isomer_decoys)) > 1:
        raise ValueError("extra, cross-target and isomer decoys go into caches of their own: ask for one at a time")
    model = str(resolve_model(model or POSE_MODEL))
    test_groups = {group_of(t) for t in TEST_TARGETS}
    pool = tuple(targets if pool is None else pool)
    for t in (*targets, *pool):
        if group_of(t) in test_groups:
            raise ValueError(f"{t}: in the final-test family {group_of(t)}; never built into training data")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    builder = agdata.CacheBuilder(0, seed)
    suffix = (f":x{extra_decoys}" if extra_decoys else f":y{cross_decoys}" if cross_decoys
              else f":i{isomer_decoys}" if isomer_decoys else "")  # at most one of them (checked above)
    source = "dekois:isomer" if isomer_decoys else "dekois:template"
    for t in targets:
        try:
            cross = None
            if cross_decoys:
                lib = cross_decoys_of(t, pool, cross_decoys, seed, Path(work))
                cross = (f"y{cross_decoys}_s{seed}" + (f"_{tag}" if tag else ""), lib)
            elif isomer_decoys:
                lib = isomer_decoys_of(t, isomer_decoys, seed, Path(work))
                cross = (f"i{isomer_decoys}_s{seed}", lib)
            files, lib, _, sdf = pose_target(t, work=Path(work), model=model, max_actives=max_actives,
                                             max_decoys=max_decoys, seed=seed, pose_options=pose_options,
                                             extra=extra_decoys, cross=cross)
        except (FileNotFoundError, ScoreError) as exc:  # no template, or a reference RDKit cannot read
            print(f"{t}: skipped ({exc})", flush=True)
            continue
        actives = {i for i, _, label in lib if label == 1}
        first = len(builder.examples)
        n = add_posed(builder, t, source, files["receptor"], f"crossval:{t}{suffix}", sdf, actives.__contains__)
        if cross_decoys:  # each cross-target decoy carries the target whose active it is
            active_of = {i: s for i, _, _, s in cross[1]}
            for e in builder.examples[first:]:
                e["source"] = agdata.CROSS_DECOY_SOURCE + active_of[e["id"].rsplit(":", 1)[1]]  # names hold no colon
        print(f"{t}: {n} examples", flush=True)
    cache = builder.result()
    torch.save(cache, crossval_cache_path(out, extra_decoys, cross_decoys, tag, isomer_decoys))
    return cache


def mean_with_interval(v: np.ndarray, n_boot: int, rng) -> dict:
    """{value (mean), low, high (bootstrap 95 % over the entries), n}."""
    boots = [float(v[rng.integers(0, v.size, v.size)].mean()) for _ in range(n_boot)] if n_boot > 0 else []
    lo, hi = (np.quantile(boots, [0.025, 0.975]) if boots else (math.nan, math.nan))
    return {"value": float(v.mean()), "low": float(lo), "high": float(hi), "n": int(v.size)}


def summarize(per_target: list[dict], n_boot: int = 1000, seed: int = 0) -> dict:
    """{method: {metric: {value (mean over targets), low, high (bootstrap over targets), n}}}, and
    ``pocket_specificity`` ({roc_auc: ...}) when the targets carry it (a figure of its own, not a method: it ranks
    other molecules)."""
    rng = np.random.default_rng(seed)
    out: dict = {}
    methods = sorted({m for r in per_target for m in r["methods"]}, key=lambda m: METHODS.index(m) if m in METHODS else 99)
    for m in methods:
        out[m] = {}
        for metric in SCREEN_METRICS:
            v = np.asarray([r["methods"][m][metric]["value"] for r in per_target if m in r["methods"]], float)
            v = v[np.isfinite(v)]
            if v.size:
                out[m][metric] = mean_with_interval(v, n_boot, rng)
    spec = np.asarray([r["pocket_specificity"]["roc_auc"] for r in per_target if "pocket_specificity" in r], float)
    if spec.size:
        out["pocket_specificity"] = {"roc_auc": mean_with_interval(spec, n_boot, rng)}
    return out


def run(model: str, ligand_only_model: str | None, *, folds: int = 5, level: str = "family", only=None,
        final: bool = False, validation: bool = False, validation_group: str = "v11",
        work: str | Path = "runs/atomgrid/crossval", outside=None, **kw) -> dict:
    """Every held-out target of the CV folds (or of the final fold with ``final``, or the fixed validation
    group with ``validation``), or those in ``only``. ``validation_group`` (:data:`atomgrid.families.VALIDATION_GROUPS`)
    names the validation group; its targets are never CV test targets. ``outside``: instead, the targets of an
    outside index (:mod:`atomgrid.outside`), scored by the one ``model`` against its own training targets."""
    if sum(map(bool, (final, validation, outside))) > 1:
        raise ValueError("--final, --validation and --outside: choose one (the final test is never used to choose)")
    if outside:
        return run_outside(model, ligand_only_model, outside, only=only, level=level, work=work, **kw)
    cv, fin = folds_of(validation_group, k=folds, level=level)
    plan = [fin] if final else [validation_fold(fin)] if validation else cv
    which = "final" if final else "validation" if validation else "CV"
    wanted = set(only) if only else None
    if wanted:
        unknown = wanted - {t for f in plan for t in f.test}
        if unknown:
            raise ValueError(f"--only {sorted(unknown)}: not held out in the {which} folds (fabp4/inha and their "
                             f"family are --final only; the validation group is --validation only)")
    per_target, skipped = [], {}
    for fold in plan:
        m = _fold_path(model, fold)
        lm = _fold_path(ligand_only_model, fold)
        for t in fold.test:
            if wanted and t not in wanted:
                continue
            try:
                r = evaluate_target(t, fold, m, lm, work=Path(work), level=level, **kw)
            except (FileNotFoundError, ScoreError) as exc:  # no template, or a reference RDKit cannot read
                skipped[t] = str(exc)
                print(f"  {t}: skipped ({exc})", flush=True)
                continue
            per_target.append(r)
            print(format_target(r), flush=True)
    # one model for a one-fold split (--validation, --final) is that fold's model when its meta says it learned
    # from the fold's training targets only (what `atomgrid train --fold final` writes)
    fold_model = "{fold}" in model or (len(plan) == 1 and trained_within(model, plan[0]))
    by_fold = {f.name: f for f in plan}
    holdouts: dict[str, set[str]] = {}  # each fold's model file read once, not once per target
    for r in per_target:  # did the target's model drop its family from the pose/affinity data (train --fold)?
        path = _fold_path(model, by_fold[r["fold"]])
        if path not in holdouts:
            holdouts[path] = pose_data_holdout(path)
        r["pose_affinity_held_out"] = r["target"] in holdouts[path]
    open_ = sorted(r["target"] for r in per_target if not r["pose_affinity_held_out"])
    caveat = None if fold_model else FIXED_MODEL_CAVEAT
    if fold_model and open_:
        caveat = POSE_DATA_CAVEAT.format(n=len(open_), total=len(per_target))
    return {"protocol": "cross-target", "split": which, "level": level, "validation_group": validation_group, "folds": [f.__dict__ for f in plan],
            "per_fold_models": fold_model,
            "caveat": caveat, "targets": per_target, "skipped_targets": skipped,
            "mean": summarize(per_target, kw.get("n_boot", 1000))}


OUTSIDE_CAVEAT = ("targets outside the data pack's family table: no fold holds their family out, so each target's "
                  "nearest_training_protein and nearest_pose_affinity_protein (its receptor aligned to those the "
                  "model screened and to the pose/affinity data's, scored against shuffles) say whether its figure "
                  "is cross-target; {n} of {total} are homologs (z >= {hz:.0f}) of a protein the model learnt, {m} "
                  "possibly related ({pz:.0f} <= z < {hz:.0f}: check by hand)")


def run_outside(model: str, ligand_only_model: str | None, index: str | Path, *, only=None, level: str = "family",
                work: str | Path = "runs/atomgrid/crossval", **kw) -> dict:
    """The protocol's table on the targets of an outside index (:func:`atomgrid.outside.read_index`), every one
    scored by ``model`` (one model: an outside target lies in no fold) against its own training targets (the
    meta's ``train_targets``: the fingerprint baseline's actives and the homology check)."""
    from .models import load_weights, resolve_model
    if "{fold}" in str(model):
        raise ValueError("--outside scores with one model (an outside target lies in no fold); give a model file, "
                         "not a '{fold}' pattern")
    _, meta = load_weights(resolve_model(model))
    trained = screened_targets(meta)
    if trained is None:
        raise ValueError(f"--model {model}: its meta lists no screening targets (train_targets), so neither the "
                         "fingerprint baseline nor the homology check can know what it learnt")
    names = outside.read_index(index, known=FAMILIES)
    if only:
        unknown = {o for o in only if outside.OUTSIDE_PREFIX + o not in names and o not in names}
        if unknown:
            raise ValueError(f"--only {sorted(unknown)}: not in the outside index {index}")
        names = [t for t in names if t in only or t.removeprefix(outside.OUTSIDE_PREFIX) in only]
    fold = Fold(name="outside", test=tuple(names), train=tuple(trained), validation=())
    per_target, skipped = [], {}
    for t in names:
        try:  # poses and scores cached under the content of the target's files: an edited set is posed anew
            r = evaluate_target(t, fold, model, ligand_only_model, work=Path(work) / "outside" / outside.digest(t),
                                level=level, **kw)
        except (FileNotFoundError, ScoreError) as exc:
            skipped[t] = str(exc)
            print(f"  {t}: skipped ({exc})", flush=True)
            continue
        r["pose_affinity_held_out"] = None  # no family table entry: the homology check stands in for it
        r["unreadable_records"] = outside.unreadable(t)
        per_target.append(r)
        print(format_target(r), flush=True)
    def flag(r, key):  # on either side: the screened proteins or the pose/affinity data's
        return any(r.get(n, {}).get(key) for n in ("nearest_training_protein", "nearest_pose_affinity_protein"))
    homologs = sum(flag(r, "homolog") for r in per_target)
    possible = sum(flag(r, "possible") and not flag(r, "homolog") for r in per_target)
    return {"protocol": "cross-target", "split": "outside", "level": level, "validation_group": None,
            "outside_index": str(index), "folds": [fold.__dict__], "per_fold_models": False,
            "caveat": OUTSIDE_CAVEAT.format(n=homologs, total=len(per_target), hz=outside.HOMOLOG_Z, m=possible,
                                            pz=outside.POSSIBLE_Z),
            "targets": per_target, "skipped_targets": skipped, "mean": summarize(per_target, kw.get("n_boot", 1000))}


def pool_seeds(figs: list[dict]) -> dict:
    """One protocol result from several runs of one recipe (seeds): per target and method, each metric's mean
    over the runs, on the targets every run holds (in the first run's order). Training noise then averages out
    before :func:`compare` bootstraps over targets. Raises ValueError if the runs share no target or one
    target sits in different folds."""
    if len(figs) == 1:
        return figs[0]
    rows = [{r["target"]: r for r in f["targets"]} for f in figs]
    out = []
    for r0 in figs[0]["targets"]:
        t = r0["target"]
        if not all(t in r for r in rows):
            continue
        rs = [r[t] for r in rows]
        if len({r["fold"] for r in rs}) > 1:
            raise ValueError(f"{t}: in different folds across the pooled runs ({sorted({r['fold'] for r in rs})})")
        methods = {}
        for m, figs0 in r0["methods"].items():
            if all(m in r["methods"] for r in rs):
                methods[m] = {k: {"value": float(np.mean([num(r["methods"][m][k]["value"]) for r in rs]))}
                              for k in figs0 if all(k in r["methods"][m] for r in rs)}
        out.append({"target": t, "fold": r0["fold"], "methods": methods})
    if not out:
        raise ValueError("the pooled runs share no target")
    return {"targets": out, "pooled_runs": len(figs)}


def compare(a: dict, b: dict, method_a: str = "model", method_b: str = "model", metrics=("roc_auc", "ef1"),
            n_boot: int = 1000, seed: int = 0) -> dict:
    """Paired comparison of two protocol results (``atomgrid crossval --json`` files' ``figures``, or several
    seeds of each pooled by :func:`pool_seeds`) on the targets both hold: per metric the mean of A, of B, of A - B
    with a bootstrap interval over targets, and how many targets A ranks higher / lower / the same; per fold the
    means. Raises ValueError if they share no target."""
    ta = {r["target"]: r for r in a["targets"]}
    tb = {r["target"]: r for r in b["targets"]}
    common = [t for t in ta if t in tb and method_a in ta[t]["methods"] and method_b in tb[t]["methods"]]
    if not common:
        raise ValueError(f"no target has both {method_a!r} in A and {method_b!r} in B")
    rng = np.random.default_rng(seed)
    out: dict = {"targets": len(common), "method_a": method_a, "method_b": method_b, "metrics": {}, "folds": {}}
    for metric in metrics:
        va = np.asarray([ta[t]["methods"][method_a][metric]["value"] for t in common], float)
        vb = np.asarray([tb[t]["methods"][method_b][metric]["value"] for t in common], float)
        d = va - vb
        boots = [float(d[rng.integers(0, d.size, d.size)].mean()) for _ in range(n_boot)] if n_boot > 0 else []
        lo, hi = np.quantile(boots, [0.025, 0.975]) if boots else (math.nan, math.nan)
        out["metrics"][metric] = {"a": float(va.mean()), "b": float(vb.mean()), "diff": float(d.mean()),
                                  "low": float(lo), "high": float(hi), "a_higher": int((d > 0).sum()),
                                  "a_lower": int((d < 0).sum()), "same": int((d == 0).sum()),
                                  "a_at_least_0.80": int((va >= 0.80).sum()) if metric == "roc_auc" else None,
                                  "b_at_least_0.80": int((vb >= 0.80).sum()) if metric == "roc_auc" else None}
    for t in common:
        f = ta[t]["fold"]
        out["folds"].setdefault(f, {"n": 0, "a": 0.0, "b": 0.0})
        out["folds"][f]["n"] += 1
        out["folds"][f]["a"] += num(ta[t]["methods"][method_a]["roc_auc"]["value"])
        out["folds"][f]["b"] += num(tb[t]["methods"][method_b]["roc_auc"]["value"])
    for f in out["folds"].values():
        f["a"], f["b"] = f["a"] / f["n"], f["b"] / f["n"]
    return out


def format_compare(res: dict, name_a: str = "A", name_b: str = "B") -> str:
    lines = [f"{name_a} ({res['method_a']}) vs {name_b} ({res['method_b']}), paired over {res['targets']} targets "
             f"(bootstrap over targets):"]
    for metric, m in res["metrics"].items():
        extra = (f"; >= 0.80 on {m['a_at_least_0.80']} vs {m['b_at_least_0.80']}" if m.get("a_at_least_0.80") is not None else "")
        lines.append(f"  {metric:8s} {m['a']:.3f} vs {m['b']:.3f}: difference {m['diff']:+.3f} [{m['low']:+.3f}, "
                     f"{m['high']:+.3f}], A higher on {m['a_higher']}, lower on {m['a_lower']}, same on {m['same']}{extra}")
    for f, v in sorted(res["folds"].items()):
        lines.append(f"  {f}: {v['n']} targets, roc_auc {v['a']:.3f} vs {v['b']:.3f}")
    return "\n".join(lines)


def _fmt(m: dict) -> str:
    return f"{m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def format_target(r: dict) -> str:
    lines = [f"{r['target']} ({r['fold']}, {r['group']}): {r['actives']} actives, {r['decoys']} decoys, "
             f"{r['unposed']} unposed; model's screening data shared this family: {r['screen_data_family']}"]
    for key, what in (("nearest_training_protein", "the model screened"),
                      ("nearest_pose_affinity_protein", "in the pose/affinity data")):
        near = r.get(key)
        if near is None:
            continue
        if not near:
            lines.append(f"  nearest protein {what}: none readable here")
            continue
        verdict = (" (a homolog: not a cross-target figure)" if near.get("homolog") else
                   " (possibly related: check by hand)" if near.get("possible") else "")
        fam = f" ({near['family']})" if near.get("family") else ""
        lines.append(f"  nearest protein {what}: {near['target']}{fam}, sequence identity {near['identity']:.2f}, "
                     f"z {near['z']:.1f}{verdict}")
    for m, figs in r["methods"].items():
        lines.append(f"  {m:16s} " + ", ".join(f"{k} {_fmt(v)}" for k, v in figs.items()))
    if "pocket_specificity" in r:
        sp = r["pocket_specificity"]
        lines.append(f"  pocket specificity: roc_auc {sp['roc_auc']:.3f} (its {sp['actives']} actives against "
                     f"{sp['cross_decoys']} actives of {len(sp['sources'])} other targets posed in its pocket)")
    for m, why in r["skipped"].items():
        lines.append(f"  {m:16s} skipped: {why}")
    for m, n in r.get("failed_posed", {}).items():
        if n:
            lines.append(f"  {m:16s} failed on {n} posed molecules (ranked last)")
    return "\n".join(lines)


def format_summary(res: dict) -> str:
    what = {"validation": "validation", "outside": "outside"}.get(res.get("split"), "held-out")
    lines = [f"mean over {len(res['targets'])} {what} targets (bootstrap over targets):"]
    if res.get("caveat"):
        lines.insert(0, f"caveat: {res['caveat']}")
    for m, figs in res["mean"].items():
        lines.append(f"  {m:16s} " + ", ".join(f"{k} {_fmt(v)}" for k, v in figs.items()))
    for t, why in res["skipped_targets"].items():
        lines.append(f"  skipped {t}: {why}")
    return "\n".join(lines)
