"""``atomgrid score`` throughput and enrichment against AutoDock Vina, and peak memory vs library size.

    PYTHONPATH=. .venv/bin/python benchmarks/score.py screen [--actives 3 --decoys 13 --exhaustiveness 1]
    PYTHONPATH=. .venv/bin/python benchmarks/score.py memory [--sizes 10000 100000]
    (either with --json [PATH]: the rows with provenance to benchmarks/results/score_<cmd>-<date>.json)

``screen``: a seeded subsample of DUD-E fabp4 actives and decoys (SMILES from the .ism files) is
scored in one process, one after the other, by ``template`` poses, by ``given`` poses (the template
run's own best poses read back from its SDF: the CNN-only cost), and by ``dock`` (AutoDock Vina 1.2 via
its Python package, meeko ligand prep); Vina's own ranking (its best energy) comes from the same dock
run. Prints molecules/s for each, the ratios to Vina, and ROC AUC / EF1% / EF5% of each ranking.

``memory``: peak RSS (``resource.getrusage``, in a fresh subprocess per size) of (a) the streaming
reader + RDKit parse over libraries of repeated SMILES (``--sizes``, default 10k and 100k), (b) the
same plus standardisation (``--prep-sizes``), (c) a full ``given``-mode ``score_library`` run
(CNN scoring, chunk files, final concatenation) over repeated SDF poses (``--score-sizes``) and (d)
``template`` scoring of libraries of ``--template-sizes`` repeated SMILES, each stopped after the same
``--template-chunks`` chunks (equal work; a full 100k template run takes many CPU-hours); prints the
ratio largest / smallest for each, and for (d) the peak RSS after every chunk.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from atomgrid import io as agio  # noqa: E402
from atomgrid.enrich import default_column  # noqa: E402
from atomgrid.library import iter_records  # noqa: E402
from atomgrid.models import ModelNotFoundError, file_sha256  # noqa: E402
from atomgrid.score import MODELS_DIR, ScoreError, ScoreOptions, enrichment, resolve_model, score_library  # noqa: E402


def dude_dir(target: str) -> Path:
    return agio.data_root() / "drug" / "dude" / target


def default_model() -> str:
    try:
        return str(resolve_model(None))  # the shipped receptor+ligand model
    except (ScoreError, FileNotFoundError):  # no shipped model
        pass
    from atomgrid.train import load_train_config
    run = ROOT / load_train_config(str(ROOT / "configs" / "atomgrid" / "small.toml")).run_dir  # its training run
    for fallback in (run / "model.pt", run / "best.pt"):
        if fallback.exists():
            return str(fallback)
    raise SystemExit(f"no model: nothing in {MODELS_DIR} and no {run / 'model.pt'}; pass --model")


def subsample(target: str, n_act: int, n_dec: int, seed: int, out: Path) -> tuple[Path, set[str]]:
    d = dude_dir(target)
    rng = random.Random(seed)
    acts = [r for r in iter_records(d / "actives_final.ism") if not r.error]
    decs = [r for r in iter_records(d / "decoys_final.ism") if not r.error]
    a = rng.sample(acts, n_act)
    b = rng.sample(decs, n_dec)
    lib = out / "lib.smi"
    lines = [f"{r.text} {r.id}" for r in a + b]
    rng.shuffle(lines)
    lib.write_text("\n".join(lines) + "\n")
    return lib, {r.id for r in a}


def mode_csv(out_dir: Path, name: str) -> Path:
    """The scores CSV :func:`run_mode` writes for the mode ``name``."""
    return out_dir / (re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") + ".csv")


def run_mode(name: str, receptor, ref, lib, out_dir: Path, model: str, opts: ScoreOptions, actives: set[str],
             sdf: bool = False, affinity_models=("none",), pose_model: str | None = None) -> dict:
    """One timed ``score_library`` run. ``affinity_models``: the pK column's models (default: none, the model's
    own head, so that every row but the ``--affinity-models`` ones times the same work whatever the default).
    ``pose_model``: another model picks each molecule's pose (``atomgrid score --pose-model``)."""
    out = mode_csv(out_dir, name)
    t = time.time()
    cpu = time.process_time()
    s = score_library(receptor, lib, out, autobox_ligand=ref, model=model, options=opts,
                      out_sdf=out_dir / f"{name}.sdf" if sdf else None, progress=False,
                      affinity_models=list(affinity_models), pose_model=pose_model)
    wall, cpu = time.time() - t, time.process_time() - cpu
    e = enrichment(out, actives, default_column(out))  # the column the run ranked by (blend when it blended)
    res = {"mode": name, "records": s["records"], "errors": s["errors"], "wall_s": wall, "cpu_s": cpu,
           "mol_per_s": s["records"] / wall, "mol_per_cpu_s": s["records"] / cpu, **e}
    print(json.dumps(res), flush=True)
    return res


def vina_ranking(dock_csv: Path, actives: set[str], out: Path) -> dict:
    """Rewrite the dock run's CSV with score = -Vina energy (the higher the better), then enrich."""
    import csv
    with open(dock_csv, newline="") as f, open(out, "w", newline="") as g:
        r = csv.DictReader(f)
        w = csv.DictWriter(g, fieldnames=r.fieldnames, lineterminator="\n")
        w.writeheader()
        for row in r:
            row["score"] = f"{-float(row['vina']):.6f}" if row["vina"] else ""
            w.writerow(row)
    return enrichment(out, actives)


def unshared_rows(results: list, receptor, ref, lib, tmp: Path, model: str, actives: set[str], args) -> None:
    """The affinity-model rows again with every net gridding for itself (``predict_shared`` replaced by one
    ``predict`` per net, the scorer before session 24): the shared grids' speed-up as a ratio in the same run,
    and a check that the output is the same byte for byte."""
    from unittest import mock

    import atomgrid.score_worker as sw

    def one_grid_per_net(jobs, items, batch_size=32, autocast=None, rotations=1):
        return [sw.predict(m, g, items, lo, batch_size, autocast=autocast, rotations=rotations) for m, g, lo in jobs]
    rows = {r["mode"]: r for r in results}
    for r in [1] + [x for x in args.rotations if x > 1]:
        name = ("template" if r == 1 else f"template, {r} rotations") + ", affinity models"
        with mock.patch.object(sw, "predict_shared", one_grid_per_net):
            row = run_mode(f"{name}, one gridding per net", receptor, ref, lib, tmp, model,
                           ScoreOptions(poses="template", n_confs=args.confs, rotations=r), actives,
                           affinity_models=tuple(args.affinity_models))
        row["same_output"] = mode_csv(tmp, name).read_bytes() == mode_csv(tmp, row["mode"]).read_bytes()
        rows[name]["x_one_gridding_per_net"] = rows[name]["mol_per_s"] / row["mol_per_s"]
        print(f"# {name}: shared grids {rows[name]['mol_per_s']:.3f} mol/s = {rows[name]['x_one_gridding_per_net']:.2f}x "
              f"one gridding per net ({row['mol_per_s']:.3f}); same output: {row['same_output']}", flush=True)
        results.append(row)


def screen(args) -> None:
    d = dude_dir(args.target)
    receptor, ref = d / "receptor.pdb", d / "crystal_ligand.mol2"
    try:  # names of shipped models become paths (the result file hashes them)
        model = str(resolve_model(args.model)) if args.model else default_model()
        if args.baseline_model:
            args.baseline_model = str(resolve_model(args.baseline_model))
        if args.affinity_models:
            args.affinity_models = [str(resolve_model(m)) for m in args.affinity_models]
        if args.pose_model:
            args.pose_model = str(resolve_model(args.pose_model))
    except ModelNotFoundError as exc:
        raise SystemExit(f"score.py screen: {exc}") from None
    tmp = Path(tempfile.mkdtemp(prefix="agscore_bench_"))
    lib, actives = subsample(args.target, args.actives, args.decoys, args.seed, tmp)
    print(f"# {args.target}: {args.actives} actives + {args.decoys} decoys, model {model}, torch threads "
          f"{__import__('torch').get_num_threads()}, out {tmp}", flush=True)
    results = [run_mode("template", receptor, ref, lib, tmp, model, ScoreOptions(poses="template", n_confs=args.confs, rotations=1), actives, sdf=True)]
    results.append(run_mode("given", receptor, ref, tmp / "template.sdf", tmp, model, ScoreOptions(poses="given", rotations=1), actives))
    for r in args.rotations:  # test-time rotations: the same library, each best pose scored in r orientations
        if r > 1:
            results.append(run_mode(f"template, {r} rotations", receptor, ref, lib, tmp, model,
                                    ScoreOptions(poses="template", n_confs=args.confs, rotations=r), actives))
            if args.no_blend:
                continue
            # --blend 0.5: the ligand-only twin scores the same picked pose too (the blend column)
            results.append(run_mode(f"template, {r} rotations, ligand-only blend", receptor, ref, lib, tmp, model,
                                    ScoreOptions(poses="template", n_confs=args.confs, rotations=r, blend=0.5), actives))
    if args.baseline_model:  # the same library and modes with another model, timed in the same run
        base_rows = {r["mode"]: r for r in results}
        for r in [1] + [x for x in args.rotations if x > 1]:
            name = "template" if r == 1 else f"template, {r} rotations"
            row = run_mode(f"{name}, baseline model", receptor, ref, lib, tmp, args.baseline_model,
                           ScoreOptions(poses="template", n_confs=args.confs, rotations=r), actives)
            row["model"] = args.baseline_model
            base_rows[name]["x_baseline_model"] = base_rows[name]["mol_per_s"] / row["mol_per_s"]
            print(f"# {name}: {base_rows[name]['mol_per_s']:.3f} mol/s = {base_rows[name]['x_baseline_model']:.2f}x "
                  f"the baseline model's {row['mol_per_s']:.3f}", flush=True)
            results.append(row)

    def with_extra(label: str, ratio_key: str, what: str, affinity_models=("none",), pose_model=None, **opts) -> None:
        """Each template mode again with one addition, timed as a ratio against the same mode without it."""
        base_rows = {r["mode"]: r for r in results}
        for r in [1] + [x for x in args.rotations if x > 1]:
            name = "template" if r == 1 else f"template, {r} rotations"
            row = run_mode(f"{name}, {label}", receptor, ref, lib, tmp, model,
                           ScoreOptions(poses="template", n_confs=args.confs, rotations=r, **opts), actives,
                           affinity_models=affinity_models, pose_model=pose_model)
            if pose_model:
                row["pose_model"], row["pose_model_sha256"] = pose_model, file_sha256(pose_model)
            if affinity_models != ("none",):
                row["affinity_models"] = list(affinity_models)
                row["affinity_models_sha256"] = [file_sha256(m) for m in affinity_models]
            row[ratio_key] = row["mol_per_s"] / base_rows[name]["mol_per_s"]
            print(f"# {name}: with {what} {row['mol_per_s']:.3f} mol/s = {row[ratio_key]:.2f}x without", flush=True)
            results.append(row)

    if args.affinity_models:  # --affinity-model: the pK column's own models score each picked pose too
        with_extra("affinity models", "x_without_affinity_models", "the affinity models",
                   affinity_models=tuple(args.affinity_models))
        unshared_rows(results, receptor, ref, lib, tmp, model, actives, args)
    if args.pose_model:  # --pose-model: another model picks each pose, the model scores the picked pose
        with_extra("pose model picks", "x_self_pick", "the pose model picking", pose_model=args.pose_model)
    if args.vina_prior:  # --vina-prior: Vina's score_only of every scored pose too (the pK_vina_prior column)
        with_extra("Vina prior", "x_without_prior", "--vina-prior", vina_prior=0.75)
    if not args.no_vina:
        # Vina is slow here: it docks a sub-library (the first --vina-molecules records, at least one
        # active among them); template is scored again on exactly that sub-library for a like-for-like row
        lines = lib.read_text().splitlines()
        first_active = next(i for i, l in enumerate(lines) if l.split()[1] in actives)
        sub = [lines[first_active]] + [l for i, l in enumerate(lines) if i != first_active][: args.vina_molecules - 1]
        vlib = tmp / "vina_lib.smi"
        vlib.write_text("\n".join(sub) + "\n")
        results.append(run_mode("template (Vina's molecules)", receptor, ref, vlib, tmp, model,
                                ScoreOptions(poses="template", n_confs=args.confs, rotations=1), actives))
        dock = run_mode("dock", receptor, ref, vlib, tmp, model,
                        ScoreOptions(poses="dock", exhaustiveness=args.exhaustiveness, rotations=1), actives)
        results.append(dock)
        v = vina_ranking(tmp / "dock.csv", actives, tmp / "vina_rank.csv")
        v.update({"mode": f"vina (energy, exhaustiveness {args.exhaustiveness})", "mol_per_s": dock["mol_per_s"],
                  "mol_per_cpu_s": dock["mol_per_cpu_s"]})
        print(json.dumps(v), flush=True)
        results.append(v)
        base = dock["mol_per_s"]
        cbase = dock["mol_per_cpu_s"]
        print("\n| ranking | molecules | mol/s (wall) | mol/CPU-s | x Vina (wall) | x Vina (CPU) | ROC AUC | EF1% | EF5% |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in results:
            print(f"| {r['mode']} | {r['compounds']} | {r['mol_per_s']:.3f} | {r['mol_per_cpu_s']:.3f} | "
                  f"{r['mol_per_s'] / base:.1f} | {r['mol_per_cpu_s'] / cbase:.1f} | "
                  f"{r['roc_auc']:.3f} | {r['ef1']:.2f} | {r['ef5']:.2f} |")
    if args.json is not None:
        figures = {"target": args.target, "actives": args.actives, "decoys": args.decoys, "seed": args.seed,
                   "confs": args.confs, "exhaustiveness": args.exhaustiveness,
                   "vina_molecules": None if args.no_vina else args.vina_molecules, "rows": results}
        _write("score_screen", figures, model, args.json, args.baseline_model)


_MEM_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
mode, path, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
t = time.time()
if mode in ("read", "prep"):
    from atomgrid.library import iter_records
    from atomgrid.poses import parse_record, standardize, PrepError
    n = 0
    for r in iter_records(path):
        try:
            m = parse_record(r)
            if mode == "prep":
                standardize(m)
        except PrepError:
            pass
        n += 1
elif mode == "template":
    # template scoring of the first extra["chunks"] chunks of the library, then stop: equal work at every
    # library size, so a difference in memory can only come from the size of the library itself
    import torch
    torch.set_num_threads(1)
    from atomgrid.score import score_library, ScoreOptions
    rss = []

    class Stop(Exception):
        pass

    def on_chunk(k):
        rss.append(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
        if len(rss) >= extra["chunks"]:
            raise Stop
    try:
        score_library(extra["receptor"], path, extra["out"], autobox_ligand=extra["ref"], model=extra["model"],
                      options=ScoreOptions(poses="template", chunk_size=extra["chunk_size"], rotations=1), progress=False,
                      on_chunk=on_chunk)
    except Stop:
        pass
    n = len(rss) * extra["chunk_size"]
    print(json.dumps({{"mode": mode, "library": extra["library"], "n": n, "peak_rss_by_chunk_mb": rss,
                      "seconds": time.time() - t, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
    sys.exit(0)
else:
    from atomgrid.score import score_library, ScoreOptions
    s = score_library(extra["receptor"], path, extra["out"], autobox_ligand=extra["ref"], model=extra["model"],
                      options=ScoreOptions(poses="given", chunk_size=64, rotations=1), progress=False)
    n = s["records"]
print(json.dumps({{"mode": mode, "n": n, "seconds": time.time() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def memory(args) -> None:
    d = dude_dir(args.target)
    tmp = Path(tempfile.mkdtemp(prefix="agscore_mem_"))
    smiles = [f"{r.text} {r.id}" for r in iter_records(d / "actives_final.ism")][:20]
    model = args.model or default_model()
    # given-mode poses: the crystal ligand repeated (its coordinates sit in the pocket)
    xtal = agio.read_ligand(d / "crystal_ligand.mol2")
    from rdkit import Chem
    block = Chem.MolToMolBlock(xtal) + "$$$$\n"
    child = tmp / "child.py"
    child.write_text(_MEM_CHILD.format(root=str(ROOT)))
    rows = []

    def repeated_smiles(path: Path, n: int) -> Path:
        with open(path, "w") as f:
            for i in range(n):
                f.write(smiles[i % len(smiles)].split()[0] + f" m{i}\n")
        return path

    def measure(mode: str, lib: Path, extra: dict) -> None:
        r = subprocess.run([sys.executable, str(child), mode, str(lib), json.dumps(extra)], capture_output=True, text=True)
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {"error": r.stderr[-500:]})
        print(json.dumps(rows[-1]), flush=True)

    pocket = {"receptor": str(d / "receptor.pdb"), "ref": str(d / "crystal_ligand.mol2"), "model": model}
    for mode, sizes in (("read", args.sizes), ("prep", args.prep_sizes)):
        for n in sizes:
            measure(mode, repeated_smiles(tmp / f"lib_{n}.smi", n), {})
    for n in args.score_sizes:
        sdf = tmp / f"poses_{n}.sdf"
        with open(sdf, "w") as f:
            for i in range(n):
                f.write(f"x{i}" + block[block.index("\n"):])
        measure("score", sdf, {**pocket, "out": str(tmp / f"out_{n}.csv")})
    for n in args.template_sizes:
        measure("template", repeated_smiles(tmp / f"tlib_{n}.smi", n),
                {**pocket, "out": str(tmp / f"tout_{n}.csv"), "chunks": args.template_chunks, "chunk_size": 16,
                 "library": n})
    for mode in ("read", "prep", "score", "template"):
        rs = [r for r in rows if r.get("mode") == mode]
        if len(rs) >= 2:
            print(f"{mode}: peak RSS {rs[0]['peak_rss_mb']:.1f} MB at {rs[0]['n']} -> {rs[-1]['peak_rss_mb']:.1f} MB at "
                  f"{rs[-1]['n']} records: ratio {rs[-1]['peak_rss_mb'] / rs[0]['peak_rss_mb']:.3f}")
    if args.json is not None:
        figures = {"target": args.target, "sizes": args.sizes, "prep_sizes": args.prep_sizes,
                   "score_sizes": args.score_sizes, "template_sizes": args.template_sizes,
                   "template_chunks": args.template_chunks, "rows": rows}
        _write("score_memory", figures, model, args.json)


def _write(name: str, figures: dict, model: str, out: str, baseline_model: str | None = None) -> None:
    from benchmarks._results import write_result
    models = {"atomgrid": model}
    if baseline_model:
        models["baseline"] = baseline_model
    print("results written to", write_result(name, figures, models=models, out=out or None))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("screen")
    s.add_argument("--target", default="fabp4")
    s.add_argument("--actives", type=int, default=3)
    s.add_argument("--decoys", type=int, default=13)
    s.add_argument("--exhaustiveness", type=int, default=1)
    s.add_argument("--confs", type=int, default=ScoreOptions.n_confs, help="template: ETKDG conformers per molecule")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--model")
    s.add_argument("--baseline-model", metavar="MODEL",
                   help="also score template mode (at 1 and each --rotations) with this model, timed in the same run")
    s.add_argument("--vina-molecules", type=int, default=5, help="records docked by Vina (a sub-library)")
    s.add_argument("--no-vina", action="store_true")
    s.add_argument("--no-blend", action="store_true",
                   help="skip the ligand-only blend rows (for a model without a ligand-only twin beside it)")
    s.add_argument("--affinity-models", nargs="+", metavar="MODEL",
                   help="also time each template mode with these models filling the pK column (atomgrid score "
                        "--affinity-model; names or paths), as a ratio against the same mode without them")
    s.add_argument("--pose-model", metavar="MODEL",
                   help="also each template mode with this model picking the poses (atomgrid score --pose-model), "
                        "timed as a ratio against the model picking its own")
    s.add_argument("--vina-prior", action="store_true",
                   help="also score template mode with atomgrid score --vina-prior (at 1 and each --rotations)")
    s.add_argument("--rotations", type=int, nargs="+", default=[],
                   help="also score the library in template mode with these test-time rotation counts")
    m = sub.add_parser("memory")
    m.add_argument("--target", default="fabp4")
    m.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000])
    m.add_argument("--prep-sizes", type=int, nargs="+", default=[2000, 20000])
    m.add_argument("--score-sizes", type=int, nargs="+", default=[200, 1000])
    m.add_argument("--template-sizes", type=int, nargs="+", default=[10000, 100000],
                   help="template scoring: library sizes, each scored for --template-chunks chunks of 16")
    m.add_argument("--template-chunks", type=int, default=12)
    m.add_argument("--model")
    for p in (s, m):
        p.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                       help="write the rows with provenance to benchmarks/results/score_<cmd>-<date>.json (or PATH)")
    args = ap.parse_args()
    screen(args) if args.cmd == "screen" else memory(args)


if __name__ == "__main__":
    main()
