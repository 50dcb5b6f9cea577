"""Evaluation of a saved model on the CASF-2016 test split and on DUD-E 3D targets.

    atomgrid evaluate --model atomgrid/models/<name>.pt --set casf2016 [--baseline <ligand-only>.pt]
    atomgrid evaluate --model ... --set dude:fabp4

``casf2016``: scoring power (Pearson R, Spearman, RMSE on the crystal poses of the 130 test
complexes) beside the published scores of other methods for the same ids (CASF sign rule
applied), pose AUC (good vs bad poses) and docking power (top-1 pose by the activity score vs
QuickVina-2's own top pose). ``dude:<target>``: actives vs decoys placed on the crystal ligand
(:mod:`atomgrid.placement`), scored by the activity head (and the affinity head), protomers
collapsed to their best score per compound name; ROC AUC, PR AUC, EF1%, EF5%, BEDROC.
All figures carry percentile bootstrap intervals.
"""
from __future__ import annotations

import csv
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from rdkit import Chem

from traincore.provenance import num

from . import contacts as agcontacts
from . import data as agdata
from . import io
from .featurize import TypedAtoms, type_ligand, type_receptor
from .io import Box, ReadError
from .library import iter_records
from .metrics import ACTIVITY_METRICS, AFFINITY_METRICS, bootstrap, pearson, report, rmse, spearman
from .models import file_sha256, gridder_for, load_model, load_weights, predict
from .placement import place_on_template
from .score_worker import VINA_KCAL_PER_PK, vina_prior

# CASF rule: these report energies (lower is better), so they are negated, then only scores > 0 kept.
_NEGATE = ("casf_AutodockVina", "casf_GlideScore-SP", "casf_GlideScore-XP", "casf_DrugScore2018",
           "gnina_default_Affinity_vina_term")


def _pk_units(method: str) -> bool:
    """Methods that predict pK directly (RMSE against the measured pK is meaningful)."""
    return method.endswith("_CNNaffinity") or method == "pafnucy_pred_pK"


__all__ = ["load_model", "score", "evaluate_casf", "evaluate_dude", "evaluate_dude_template"]  # load_model: atomgrid.models


def score(model, meta: dict, items: list, device="cpu", batch_size: int = 32,
          rotations: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``items``: (receptor TypedAtoms | None, ligand TypedAtoms, centre) -> (activity prob ``[n]``, pK ``[n]``);
    :func:`atomgrid.models.predict`, the forward pass ``atomgrid score`` uses too (``rotations``: its
    test-time augmentation)."""
    return predict(model, gridder_for(meta, device), items, bool(meta.get("ligand_only")), batch_size,
                   rotations=rotations)


def _fmt(m: dict) -> str:
    return f"{m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}]"


def reference_scores(ids: list[str]) -> dict[str, dict[str, float]]:
    """{method: {pdbid: score}} from the data pack's summary.csv, CASF sign rule applied."""
    path = agdata.drug_root() / "casf2016" / "reference_scores" / "summary.csv"
    want = set(ids)
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for r in csv.DictReader(open(path)):
        if r["pdbid"] not in want:
            continue
        for k, v in r.items():
            if not (k.startswith("casf_") or k.startswith(("gnina_", "pafnucy_"))) or v in ("", None):
                continue
            x = float(v)
            if not _pk_units(k):
                x = -x if k in _NEGATE else x
                if not x > 0:
                    continue
            out[k][r["pdbid"]] = x
    return dict(out)


def crystal_vina(cache: dict, cache_path: str | Path, ids: list[str], progress: bool = True) -> np.ndarray:
    """Vina's score_only (kcal/mol) of each complex's given pose (``ids``: crystal complexes of ``cache``), from the
    receptor and ligand files the cache recorded (:func:`atomgrid.data.complex_files`); NaN where a file cannot be
    read or Vina fails. Kept beside the cache in ``<cache>.vina.csv`` (id, score_only, local) and reused while it
    lists exactly ``ids`` and is newer than the cache. Needs the ``vina`` and ``meeko`` packages."""
    from . import io as agio
    from .vinascore import read_score_cache, vina_available, vina_scores, write_score_cache
    why = vina_available()
    if why is not None:
        raise ValueError(why)
    cache_path = Path(cache_path)
    store = cache_path.with_name(cache_path.name + ".vina.csv")
    got = read_score_cache(store, cache_path, ids, ("vina", "vina_local"))
    if got is not None:
        return got[0]
    from tqdm import tqdm

    from .poses import PrepError
    from .score_options import ScoreError
    e0, e1 = np.full(len(ids), math.nan), np.full(len(ids), math.nan)
    failed: dict[str, str] = {}
    where = [agdata.complex_files(cache, cid) for cid in ids]
    by_receptor: dict[Path, list[int]] = defaultdict(list)  # one receptor preparation for a series (FEP)
    for k, (rec, _, _) in enumerate(where):
        by_receptor[rec].append(k)
    bar = tqdm(total=len(ids), desc="Vina score_only", unit="complex", disable=not progress)
    for rec, ks in by_receptor.items():
        files: dict[tuple[Path, bool], list] = {}  # each ligand file parsed once (FEP series hold many records)

        def record(lig: Path, i: int, sanitize: bool):
            if (lig, sanitize) not in files:
                files[lig, sanitize] = list(agio.read_ligands(lig, sanitize=sanitize))
            got = files[lig, sanitize]
            return got[i] if i < len(got) else agio.ReadError(str(lig), i, "no such record")

        mols, keep = [], []
        for k in ks:
            _, lig, i = where[k]
            mol = record(lig, i, True)
            if isinstance(mol, agio.ReadError):
                mol = record(lig, i, False)
            if isinstance(mol, agio.ReadError):
                failed[ids[k]] = str(mol)
            else:
                mols.append(mol)
                keep.append(k)
        why: dict[int, str] = {}
        if keep:
            try:
                a, b = vina_scores(rec, where[keep[0]][1], mols, why)
                e0[keep], e1[keep] = a, b
            except (PrepError, ScoreError, OSError, ValueError, RuntimeError) as exc:  # e.g. a receptor Vina cannot read
                why = {j: f"{type(exc).__name__}: {exc}" for j in range(len(keep))}
        for j, reason in why.items():
            failed[ids[keep[j]]] = reason
        bar.update(len(ks))
    bar.close()
    if failed:
        print(f"Vina could not score {len(failed)} of {len(ids)} complexes (the net alone stands for them in the "
              "blends): " + "; ".join(f"{i}: {r}" for i, r in list(failed.items())[:10]), file=sys.stderr)
    write_score_cache(store, ids, {"vina": e0, "vina_local": e1})
    return e0


def vina_blend(pred: np.ndarray, vina: np.ndarray, w: float) -> np.ndarray:
    """``atomgrid score --vina-prior``'s formula (:func:`atomgrid.score_worker.vina_prior`) over arrays: the net's
    pK ``pred`` with Vina's energies ``vina`` (kcal/mol); the net's prediction alone where Vina has no score (NaN)."""
    return np.where(np.isfinite(vina), vina_prior(pred, np.nan_to_num(vina), w), pred)


def _vina_prior(res: dict, cache: dict, cache_path, ids: list[str], y: np.ndarray, p: np.ndarray,
                weights: tuple[float, ...], n_boot: int) -> None:
    """Add Vina's pK of each complex, and the blends ``(1 - w) net + w Vina`` with their paired gain over the net
    alone (:func:`compare_affinity`), to an :func:`evaluate_casf` result."""
    energy = crystal_vina(cache, cache_path, ids)
    pkv = -energy / VINA_KCAL_PER_PK
    ok = np.isfinite(pkv)
    for c, v in zip(res["complexes"], pkv):
        c["vina_pK"] = float(v) if math.isfinite(v) else None
    res["vina_score_only"] = {"n": int(ok.sum()), "failed": int((~ok).sum()), "kcal_per_pK": VINA_KCAL_PER_PK,
                              "affinity": report(AFFINITY_METRICS, y[ok], pkv[ok], n_boot) if ok.sum() > 2 else {}}
    truth = dict(zip(ids, y.tolist()))
    res["vina_prior"] = {}
    for w in weights:
        b = vina_blend(p, energy, w)
        run = {"complexes": [dict(c, pred=float(v)) for c, v in zip(res["complexes"], b)], "pose_auc": res["pose_auc"]}
        gain = compare_affinity([run], [res], truth, n_boot)
        res["vina_prior"][f"{w:g}"] = {"affinity": report(AFFINITY_METRICS, y, b, n_boot), "gain_vs_net": gain["all"],
                                      **({"gain_by_source": gain["by_source"]} if "by_source" in gain else {})}


def evaluate_casf(model_path, cache_path: str = "runs/atomgrid/cache_test.pt", n_boot: int = 1000,
                  device="cpu", rotations: int = 1, vina_prior: tuple[float, ...] = (), cache: dict | None = None) -> dict:
    """Scoring, pose and docking power on the CASF-2016 test cache (or any typed cache of complexes with
    measured pK, e.g. the validation cache, where the reference methods are simply absent). ``vina_prior``:
    weights w of Vina's pK in the blends ``(1 - w) net + w Vina`` to report (:func:`crystal_vina`). ``cache``: the
    cache at ``cache_path`` already loaded or built (the CASF test cache built once for several models); None reads
    ``cache_path``, or builds the CASF test cache when that file is missing."""
    tree = agcontacts.contact_state(model_path)  # a contact-count tree model: pK only, no pose score
    contact = tree is not None
    if contact:
        cmodel = agcontacts.ContactModel(*tree)
        meta = cmodel.meta
    else:
        model, meta = load_model(model_path, device)
    if cache is None:
        cache = agdata.load_cache(cache_path) if Path(cache_path).exists() else agdata.build_cache("test")
    ds = agdata.ComplexSet(cache)
    items = [ds.sample(i) for i in range(len(ds))]
    if contact:
        aff = cmodel.predict_items([(s.receptor, s.ligand) for s in items])
        act = np.full(len(items), math.nan)
    else:
        act, aff = score(model, meta, [(s.receptor, s.ligand, s.center) for s in items], device, rotations=rotations)
    ex = ds.examples
    crystal = [i for i, e in enumerate(ex) if ":" not in e["source"]]  # the given pose, not docked/perturbed
    ids = [ex[i]["id"] for i in crystal]
    y = np.asarray([ex[i]["pK"] for i in crystal])
    p = aff[crystal]
    res: dict = {"model": str(model_path), "model_sha256": file_sha256(model_path), "name": meta.get("name"), "ligand_only": bool(meta.get("ligand_only")),
                 "n": len(crystal), "cache": str(cache_path), "rotations": rotations, "affinity": report(AFFINITY_METRICS, y, p, n_boot)}
    # the simplest affinity baseline, on the same complexes: the ligand's heavy-atom count (CASF's known size bias)
    heavy = np.asarray([len(ex[i]["ligand"]["xyz"]) for i in crystal], dtype=float)
    res["baselines"] = {"heavy_atoms": report({"pearson": AFFINITY_METRICS["pearson"],
                                               "spearman": AFFINITY_METRICS["spearman"]}, y, heavy, n_boot)}
    sources = [ex[i]["source"] for i in crystal]
    if len(set(sources)) > 1:  # e.g. val-affinity: toy strict and DEKOIS crystal complexes, each on its own too
        res["by_source"] = {}
        for src in sorted(set(sources)):
            k = np.asarray([s == src for s in sources])
            res["by_source"][src] = {"n": int(k.sum()), "affinity": report(AFFINITY_METRICS, y[k], p[k], n_boot)}
    # per complex, so two models (or seeds) can be compared paired over complexes (atomgrid compare); the measured
    # pK stays in the cache (PDBbind/DEKOIS labels are never written into result files that may be committed)
    res["complexes"] = [{"id": ex[i]["id"], "source": ex[i]["source"], "pred": float(p[j])} for j, i in enumerate(crystal)]
    targets = [ex[i]["target"] for i in crystal]
    per_target = []  # ranking within a protein, as FEP and med-chem series are judged
    for t in sorted(set(targets)):
        k = np.asarray([x == t for x in targets])
        if k.sum() >= 5 and np.ptp(y[k]) > 0:
            per_target.append(spearman(y[k], p[k]))
    if per_target:
        res["within_target_spearman"] = {"mean": float(np.nanmean(per_target)), "targets": len(per_target)}
    good = np.asarray([e["good"] for e in ex])
    if good.min() == good.max() or contact:  # a cache of actives only (no bad poses), or a model without a pose score
        res["pose_auc"] = {"value": math.nan, "low": math.nan, "high": math.nan}
    else:
        res["pose_auc"] = report({"roc_auc": ACTIVITY_METRICS["roc_auc"]}, good, act, n_boot)["roc_auc"]
    # docking power over complexes with QuickVina-2 poses: our top-1 vs Vina's top-1 (its first MODEL)
    by_id: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(ex):
        if e["source"].endswith(":docked"):
            by_id[e["id"]].append(i)
    ours = [] if contact else [ex[max(v, key=lambda i: act[i])]["rmsd"] < agdata.GOOD_RMSD for v in by_id.values()]
    vina = [ex[v[0]]["rmsd"] < agdata.GOOD_RMSD for v in by_id.values()]
    res["docking_top1"] = {"n": len(by_id), "model": float(np.mean(ours)) if ours else math.nan,
                           "vina": float(np.mean(vina)) if vina else math.nan}
    refs = {}
    pred = dict(zip(ids, p))
    truth = dict(zip(ids, y))
    for method, scores in sorted(reference_scores(ids).items()):
        common = [i for i in ids if i in scores]
        if len(common) < 3:
            continue
        yy = np.asarray([truth[i] for i in common])
        ss = np.asarray([scores[i] for i in common])
        entry = {"n": len(common), "pearson": dict(zip(("value", "low", "high"), bootstrap(pearson, yy, ss, n_boot)))}
        if _pk_units(method):
            entry["rmse"] = dict(zip(("value", "low", "high"), bootstrap(rmse, yy, ss, n_boot)))
        mine = np.asarray([pred[i] for i in common])
        entry["model_pearson_same_ids"] = pearson(yy, mine)
        refs[method] = entry
    res["reference"] = refs
    if vina_prior:
        _vina_prior(res, cache, cache_path, ids, y, p, tuple(vina_prior), n_boot)
    return res


def _dude_records(target_dir: Path, kind: str):
    path = target_dir / f"{kind}_final.mol2.gz"
    if not path.exists():
        raise FileNotFoundError(f"{path}: DUD-E {kind} with 3D coordinates not found")
    return io.read_ligands(path)


def evaluate_dude(model_path, target: str, n_boot: int = 1000, device="cpu", max_decoys: int | None = None,
                  seed: int = 0) -> dict:
    """Actives vs decoys for a DUD-E target with receptor and 3D ligands (fabp4, inha)."""
    model, meta = load_model(model_path, device)
    d = agdata.drug_root() / "dude" / target
    rec_path = d / "receptor.pdb"
    xtal_path = next((p for p in (d / "crystal_ligand.mol2", d / "crystal_ligand.sdf") if p.exists()), None)
    if not rec_path.exists() or xtal_path is None:
        raise FileNotFoundError(f"DUD-E target {target!r}: needs receptor.pdb and crystal_ligand.mol2/sdf in {d}")
    rec = io.read_receptor(rec_path)
    xtal = io.read_ligand(xtal_path)
    if isinstance(rec, ReadError) or isinstance(xtal, ReadError):
        raise ValueError(f"DUD-E target {target!r}: {rec if isinstance(rec, ReadError) else xtal}")
    tx = type_ligand(xtal)
    box = io.autobox(tx.xyz, padding=4.0)  # gnina's --autobox_ligand default padding
    center = np.asarray(box.center, np.float32)
    trec = agdata._sphere_crop(type_receptor(rec, Box(box.center, (2 * agdata.CROP_RADIUS,) * 3)), center,
                               agdata.CROP_RADIUS)
    names, labels, items, errors = [], [], [], []
    rng = np.random.default_rng(seed)
    for label, kind in ((1, "actives"), (0, "decoys")):
        recs = list(_dude_records(d, kind))
        if label == 0 and max_decoys and len(recs) > max_decoys:
            recs = [recs[i] for i in sorted(rng.choice(len(recs), max_decoys, replace=False))]
        for mol in recs:
            if isinstance(mol, ReadError):
                errors.append(str(mol))
                continue
            tl = type_ligand(mol)
            xyz, _ = place_on_template(tl.xyz, tx.xyz, trec.xyz)
            placed = TypedAtoms(xyz, tl.feats, tl.radii)
            names.append(mol.GetProp("_Name") if mol.HasProp("_Name") else f"{kind}{len(names)}")
            labels.append(label)
            items.append((trec, placed, placed.centroid()))
    act, aff = score(model, meta, items, device)
    # protomers/tautomers of one compound share a name: keep each compound's best score
    best: dict[tuple[str, int], tuple[float, float]] = {}
    for n, l, a, f in zip(names, labels, act, aff):
        prev = best.get((n, l), (-math.inf, -math.inf))
        best[(n, l)] = (max(prev[0], float(a)), max(prev[1], float(f)))  # each head's best protomer
    y = np.asarray([k[1] for k in best])
    s_act = np.asarray([v[0] for v in best.values()])
    s_aff = np.asarray([v[1] for v in best.values()])
    return {"model": str(model_path), "model_sha256": file_sha256(model_path), "name": meta.get("name"),
            "ligand_only": bool(meta.get("ligand_only")), "target": target, "records": len(items), "actives": int(y.sum()), "decoys": int((1 - y).sum()),
            "read_errors": len(errors), "activity": report(ACTIVITY_METRICS, y, s_act, n_boot),
            "affinity_head": report(ACTIVITY_METRICS, y, s_aff, n_boot)}


def dude_library(target: str, out: Path, max_decoys: int | None = None, seed: int = 0) -> tuple[Path, set[str]]:
    """A SMILES library of a DUD-E target's actives and (a seeded sample of) its decoys -> (``out``, active ids).

    From ``actives_final.ism``/``decoys_final.ism`` where present, else from the mol2.gz records
    (SMILES written by RDKit, one line per compound name)."""
    d = agdata.drug_root() / "dude" / target
    rng = np.random.default_rng(seed)
    lines: dict[int, list[str]] = {}
    for label, kind in ((1, "actives"), (0, "decoys")):
        ism = d / f"{kind}_final.ism"
        if ism.exists():
            recs = [(r.id, r.text) for r in iter_records(ism) if not r.error]
        else:
            seen: dict[str, str] = {}
            for mol in _dude_records(d, kind):
                if not isinstance(mol, ReadError) and mol.HasProp("_Name") and mol.GetProp("_Name") not in seen:
                    seen[mol.GetProp("_Name")] = Chem.MolToSmiles(Chem.RemoveHs(mol))
            recs = [(k, v) for k, v in seen.items()]
        if label == 0 and max_decoys and len(recs) > max_decoys:
            recs = [recs[i] for i in sorted(rng.choice(len(recs), max_decoys, replace=False))]
        lines[label] = [f"{smi} {name}" for name, smi in recs]
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists():
        out.write_text("\n".join(lines[1] + lines[0]) + "\n")
    return out, {l.split()[1] for l in lines[1]}


def evaluate_dude_template(model_path, target: str, n_boot: int = 1000, device="cpu", max_decoys: int | None = None,
                           seed: int = 0, work: str | Path = "runs/atomgrid/eval_template", workers: int = 0) -> dict:
    """Actives vs decoys posed as ``atomgrid score --poses template`` poses them (ETKDG conformers aligned
    on the crystal ligand, relaxed in the pocket, best pose by the model): the screening path itself.
    The scored CSV is kept in ``work`` and reused while the model file's content (sha256) is the same: a
    model retrained at the same path is scored again. ``workers`` > 0 scores chunks on that many Ray actors."""
    from .score import ScoreOptions, score_library
    d = agdata.drug_root() / "dude" / target
    xtal = next((p for p in (d / "crystal_ligand.mol2", d / "crystal_ligand.sdf") if p.exists()), None)
    if not (d / "receptor.pdb").exists() or xtal is None:
        raise FileNotFoundError(f"DUD-E target {target!r}: needs receptor.pdb and crystal_ligand.mol2/sdf in {d}")
    work = Path(work)
    lib, actives = dude_library(target, work / f"{target}_d{max_decoys or 'all'}_s{seed}.smi", max_decoys, seed)
    out = template_scores_path(work, lib, model_path)
    if not out.exists():
        executor = None
        if workers > 0:
            from .distributed import ray_executor
            executor = ray_executor(workers)
        score_library(d / "receptor.pdb", lib, out, autobox_ligand=xtal, model=model_path,
                      options=ScoreOptions(poses="template", rotations=1), device=str(device), resume=parts_exist(out),
                      executor=executor, affinity_models=())  # the model's own heads (its affinity_head row)
    best: dict[str, tuple[float, float]] = {}
    failed = 0
    for r in csv.DictReader(open(out)):
        if r["error"] or not r["score"]:
            failed += 1
            a = f = -math.inf  # screened and missed: stays in the ranking at the bottom
        else:
            a, f = float(r["score"]), float(r["pK"])
        prev = best.get(r["id"], (-math.inf, -math.inf))
        best[r["id"]] = (max(prev[0], a), max(prev[1], f))
    ids = list(best)
    y = np.asarray([i in actives for i in ids], np.float64)
    s_act = np.asarray([best[i][0] for i in ids])
    s_aff = np.asarray([best[i][1] for i in ids])
    s_act = np.where(np.isfinite(s_act), s_act, -1.0)
    s_aff = np.where(np.isfinite(s_aff), s_aff, -100.0)
    _, meta = load_weights(model_path)
    return {"model": str(model_path), "model_sha256": file_sha256(model_path), "name": meta.get("name"), "ligand_only": bool(meta.get("ligand_only")),
            "target": target, "poses": "template", "records": len(ids), "actives": int(y.sum()),
            "decoys": int((1 - y).sum()), "read_errors": failed, "scores_csv": str(out),
            "activity": report(ACTIVITY_METRICS, y, s_act, n_boot),
            "affinity_head": report(ACTIVITY_METRICS, y, s_aff, n_boot)}


def template_scores_path(work: str | Path, lib: Path, model_path: str | Path) -> Path:
    """Where :func:`evaluate_dude_template` keeps (and reuses) the scores of ``lib`` by a model: keyed by the
    sha256 of the model file's content, so a model retrained at the same path is scored again, and a copy
    of the same file elsewhere reuses the scores (run folders all hold a ``model.pt``)."""
    return Path(work) / f"{lib.stem}_{Path(model_path).stem}_{file_sha256(model_path)[:16]}.csv"


def parts_exist(out: Path) -> bool:
    return Path(str(out) + ".parts").exists()


def format_casf(res: dict) -> str:
    cache = Path(res.get("cache") or "cache_test.pt").name
    where = "CASF-2016 test" if cache == "cache_test.pt" else f"complexes of {cache}"
    rot = f", {res['rotations']} rotations" if res.get("rotations", 1) > 1 else ""
    lines = [f"{res['name']} ({'ligand-only' if res['ligand_only'] else 'receptor+ligand'}), {where}, n={res['n']}{rot}"]
    for k, m in res["affinity"].items():
        lines.append(f"  {k:9s} {_fmt(m)}")
    for name, b in res.get("baselines", {}).items():
        lines.append(f"  baseline {name}: " + ", ".join(f"{k} {_fmt(m)}" for k, m in b.items()))
    for src, e in res.get("by_source", {}).items():
        lines.append(f"  {src} (n={e['n']}): " + ", ".join(f"{k} {_fmt(m)}" for k, m in e["affinity"].items()))
    if "within_target_spearman" in res:
        w = res["within_target_spearman"]
        lines.append(f"  within-target Spearman, mean over {w['targets']} targets with >= 5 complexes: {w['mean']:.3f}")
    if not math.isnan(res["pose_auc"]["value"]):
        lines.append(f"  pose AUC  {_fmt(res['pose_auc'])}")
    dt = res["docking_top1"]
    if dt["n"]:  # only caches with QuickVina-2 poses (CASF/core 2013)
        lines.append(f"  top-1 pose < 2 A: model {dt['model']:.3f}, Vina {dt['vina']:.3f} (n={dt['n']})")
    if res["reference"]:
        lines.append("  reference methods on the same ids (Pearson R [95% CI], n; model R on those ids):")
    for k, e in res["reference"].items():
        extra = f", RMSE {_fmt(e['rmse'])}" if "rmse" in e else ""
        lines.append(f"    {k:42s} {_fmt(e['pearson'])} n={e['n']}{extra}; model {e['model_pearson_same_ids']:.3f}")
    if "vina_score_only" in res:
        v = res["vina_score_only"]
        r = f"Pearson {_fmt(v['affinity']['pearson'])}" if v["affinity"] else "too few scored"
        lines.append(f"  Vina score_only of the given pose as pK (-E/{v['kcal_per_pK']}): {r} (n={v['n']}, failed {v['failed']})")
        for w, e in res["vina_prior"].items():
            g = e["gain_vs_net"]["pearson"]
            lines.append(f"  net + Vina prior, w={w}: Pearson {_fmt(e['affinity']['pearson'])}, gain over the net "
                         f"{g['diff']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]"
                         + "".join(f"; {s} {m['pearson']['diff']:+.3f}" for s, m in e.get("gain_by_source", {}).items()))
    return "\n".join(lines)


def plot_affinity(results: list[dict], truth: dict[str, float], out_png: str | Path) -> Path:
    """Predicted against measured pK of each :func:`evaluate_casf` result (one panel a model, points coloured by
    source, the identity line, Pearson R, Spearman and RMSE in the title), one PNG (matplotlib, Agg backend).
    ``truth``: :func:`cache_truth` of the cache the results were evaluated on."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    if not results:
        raise ValueError("no results to plot")
    fig, axes = plt.subplots(1, len(results), figsize=(4.6 * len(results), 4.4), squeeze=False)
    for ax, res in zip(axes[0], results):
        rows = [c for c in res["complexes"] if c["id"] in truth]
        if len(rows) < 2:
            raise ValueError(f"{res.get('name')}: fewer than two complexes with a measured pK to plot")
        y = np.asarray([truth[c["id"]] for c in rows])
        p = np.asarray([c["pred"] for c in rows])
        for src in sorted({c["source"] for c in rows}):
            k = np.asarray([c["source"] == src for c in rows])
            ax.scatter(y[k], p[k], s=12, alpha=0.7, label=f"{src} ({int(k.sum())})")
        lo, hi = float(min(y.min(), p.min())) - 0.5, float(max(y.max(), p.max())) + 0.5
        ax.plot([lo, hi], [lo, hi], ":", color="grey")
        ax.set(xlim=(lo, hi), ylim=(lo, hi), xlabel="measured pK", ylabel="predicted pK", aspect="equal")
        ax.set_title(f"{res.get('name')}\nn={len(rows)}: R {pearson(y, p):.3f}, Spearman {spearman(y, p):.3f}, "
                     f"RMSE {rmse(y, p):.2f}", fontsize=9)
        ax.legend(loc="upper left", fontsize=7)
        ax.grid(alpha=0.3)
    from .enrich import save_png
    return save_png(fig, out_png)


def cache_truth(path: str | Path) -> dict[str, float]:
    """{complex id: measured pK} of the given (crystal / modelled) poses of a typed cache file: what
    :func:`evaluate_casf` scored, for :func:`compare_affinity`."""
    return truth_of(agdata.load_cache(path))


def truth_of(cache: dict) -> dict[str, float]:
    """:func:`cache_truth` of a cache already in memory."""
    return {e["id"]: float(e["pK"]) for e in cache["examples"] if ":" not in e["source"]}


def compare_affinity(a: list[dict], b: list[dict], truth: dict[str, float], n_boot: int = 1000, seed: int = 0) -> dict:
    """Paired comparison of affinity predictions: ``a`` and ``b`` are :func:`evaluate_casf` results (one per run,
    e.g. seeds) on the same cache, ``truth`` its measured pK (:func:`cache_truth`); each side's predictions are
    averaged per complex over its runs, then Pearson R, Spearman and RMSE of A and B and of A - B with a bootstrap
    interval over complexes (the same resample for both); the pose AUC as each side's mean over the runs that have one. Raises
    ValueError unless every run holds the same complexes and ``truth`` has them all."""
    def side(runs: list[dict]) -> tuple[list[str], dict[str, float], dict[str, str]]:
        if not runs:
            raise ValueError("a side with no runs")
        for r in runs:
            if "complexes" not in r:
                raise ValueError(f"{r.get('model')}: no per-complex predictions (rerun atomgrid evaluate)")
        ids = [c["id"] for c in runs[0]["complexes"]]
        for r in runs[1:]:
            if sorted(c["id"] for c in r["complexes"]) != sorted(ids):
                raise ValueError(f"{r.get('model')} and {runs[0].get('model')} were evaluated on different complexes")
        by_run = [{c["id"]: c["pred"] for c in r["complexes"]} for r in runs]
        pred = {i: float(np.mean([m[i] for m in by_run])) for i in ids}
        src = {c["id"]: c["source"] for c in runs[0]["complexes"]}
        return ids, pred, src

    ia, pa, src = side(a)
    ib, pb, _ = side(b)
    if sorted(ia) != sorted(ib):
        missing = sorted(set(ia) ^ set(ib))
        raise ValueError(f"A and B were evaluated on different complexes (e.g. {missing[:3]})")
    lost = [i for i in ia if i not in truth]
    if lost:
        raise ValueError(f"the cache has no measured pK for {lost[:3]} (not the cache these results were evaluated on)")
    rng = np.random.default_rng(seed)
    metrics = {"pearson": pearson, "spearman": spearman, "rmse": rmse}

    def paired(ids: list[str]) -> dict:
        y = np.asarray([truth[i] for i in ids])
        sa = np.asarray([pa[i] for i in ids])
        sb = np.asarray([pb[i] for i in ids])
        out = {"n": len(ids)}
        boots = [rng.integers(0, len(ids), len(ids)) for _ in range(n_boot)]
        for name, fn in metrics.items():
            va, vb = fn(y, sa), fn(y, sb)
            d = [fn(y[k], sa[k]) - fn(y[k], sb[k]) for k in boots]
            d = [x for x in d if not math.isnan(x)]
            lo, hi = np.quantile(d, [0.025, 0.975]) if d else (math.nan, math.nan)
            out[name] = {"a": float(va), "b": float(vb), "diff": float(va - vb), "low": float(lo), "high": float(hi)}
        return out

    res = {"all": paired(ia), "runs_a": len(a), "runs_b": len(b),
           "pose_auc": {"a": _mean_known([num(r["pose_auc"]["value"]) for r in a]),
                        "b": _mean_known([num(r["pose_auc"]["value"]) for r in b])},
           "within_target_spearman": {"a": _mean_of(a, "within_target_spearman"), "b": _mean_of(b, "within_target_spearman")},
           "a_models": [r.get("model") for r in a], "b_models": [r.get("model") for r in b]}
    sources = sorted({src[i] for i in ia})
    if len(sources) > 1:
        res["by_source"] = {s: paired([i for i in ia if src[i] == s]) for s in sources}
    return res


def _mean_known(values: list[float]) -> float:
    """The mean of the measured values (a contact model has no pose AUC), nan when none is."""
    known = [v for v in values if not math.isnan(v)]
    return float(np.mean(known)) if known else math.nan


def _mean_of(runs: list[dict], key: str) -> float:
    vals = [num(r[key]["mean"]) for r in runs if key in r]
    return float(np.mean(vals)) if vals else math.nan


def format_compare_affinity(res: dict, name_a: str = "A", name_b: str = "B") -> str:
    lines = [f"{name_a} vs {name_b}: affinity on {res['all']['n']} complexes (each side's runs averaged per complex; "
             f"{res['runs_a']} vs {res['runs_b']} runs), paired bootstrap over complexes:"]
    groups = [("all", res["all"])] + list(res.get("by_source", {}).items())
    for g, m in groups:
        lines.append(f"  {g} (n={m['n']}): " + "; ".join(
            f"{k} {v['a']:.3f} vs {v['b']:.3f}, {v['diff']:+.3f} [{v['low']:+.3f}, {v['high']:+.3f}]"
            for k, v in m.items() if k != "n"))
    if not (math.isnan(res["pose_auc"]["a"]) and math.isnan(res["pose_auc"]["b"])):  # a cache with bad poses
        lines.append(f"  pose AUC (mean over runs): {res['pose_auc']['a']:.3f} vs {res['pose_auc']['b']:.3f}")
    w = res.get("within_target_spearman", {})
    if w and not math.isnan(w["a"]):
        lines.append(f"  within-target Spearman (mean over runs): {w['a']:.3f} vs {w['b']:.3f}")
    return "\n".join(lines)


def format_dude(res: dict) -> str:
    lines = [f"{res['name']} ({'ligand-only' if res['ligand_only'] else 'receptor+ligand'}), DUD-E {res['target']}: "
             f"{res['actives']} actives, {res['decoys']} decoys ({res['records']} records, {res['read_errors']} unreadable"
             f"{'' if res.get('poses') != 'template' else ' or unposed'}), poses: {res.get('poses', 'principal axes')}"]
    for head in ("activity", "affinity_head"):
        lines.append(f"  {head}: " + ", ".join(f"{k} {_fmt(m)}" for k, m in res[head].items()))
    return "\n".join(lines)
