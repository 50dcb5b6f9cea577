"""``atomgrid`` command line: thin argument parsing over importable functions.

    atomgrid train --config configs/atomgrid/small.toml [-o train.steps=100 ...]
    atomgrid evaluate --model atomgrid/models/<name>.pt --set casf2016 | dude:fabp4 | dude:inha [--json out.json]
    atomgrid grid-info [--receptor R.pdb --ligand L.sdf] [--size 48 --resolution 0.5]
    atomgrid prepare --kind train|val|test --out runs/atomgrid/cache_train.pt
    atomgrid screen-data --out runs/atomgrid/screen [--targets fak1 ...] [--decoys 400]
    atomgrid crossval --model <name> [--only JNK1 ...] [--max-actives 10 --max-decoys 50] [--json out.json]

Sub-commands are registered in ``COMMANDS`` by ``add_<name>(subparsers)`` functions, so a new one
(e.g. ``score``) is one more function and one more entry.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _cmd_train(args) -> int:
    from .train import load_train_config, train
    overrides = list(args.override) + ([f"train.precision={args.precision}"] if args.precision else [])
    cfg = load_train_config(args.config, overrides)
    if args.fold == "all":
        return _train_all_folds(args, cfg)
    if args.jobs != 1:
        raise ValueError("--jobs: only with --fold all (one process per fold)")
    if args.fold:
        cfg = fold_config(cfg, args.fold, args.folds, args.group_by, args.validation_group)
        print(f"{args.fold}: screening data of {len(cfg.data.screen_targets)} training targets; run in {cfg.run_dir}")
    run_dir = train(cfg, resume=args.resume)
    print(f"model written to {run_dir / 'model.pt'}")
    return 0


def _train_all_folds(args, cfg) -> int:
    """Every model of the cross-target protocol (fold0..foldK-1 and final), ``--jobs`` processes at a time,
    each one ``atomgrid train --fold <f>`` with the same config and overrides; its output goes to
    ``<run_dir>/<fold>/train.log``. Exit status 1 when any fold failed."""
    import subprocess
    import time

    from .families import folds_of
    cv, fin = folds_of(args.validation_group, k=args.folds, level=args.group_by)
    names = [f.name for f in cv + [fin]]
    if args.jobs < 1:
        raise ValueError(f"--jobs {args.jobs}: expected at least 1")
    base = [sys.executable, "-m", "atomgrid", "train", "--config", args.config, "--folds", str(args.folds),
            "--group-by", args.group_by, "--validation-group", args.validation_group] + [a for o in args.override for a in ("-o", o)]
    if args.precision:
        base += ["--precision", args.precision]
    if args.resume:
        base += ["--resume"]
    pending, running, failed = list(names), {}, []
    t0 = time.time()
    print(f"{len(names)} models ({' '.join(names)}) of {cfg.name}, {min(args.jobs, len(names))} at a time, "
          f"in {cfg.run_dir}/<fold>", flush=True)
    while pending or running:
        while pending and len(running) < args.jobs:
            fold = pending.pop(0)
            log = Path(cfg.run_dir) / fold / "train.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            fh = open(log, "w")
            running[fold] = (subprocess.Popen(base + ["--fold", fold], stdout=fh, stderr=subprocess.STDOUT), fh, log)
        time.sleep(1.0)
        for fold, (proc, fh, log) in list(running.items()):
            if proc.poll() is None:
                continue
            fh.close()
            del running[fold]
            ok = proc.returncode == 0
            if not ok:
                failed.append(fold)
            tail = (log.read_text(errors="replace").strip().splitlines() or [""])[-1]
            print(f"{fold}: {'done' if ok else f'FAILED (exit {proc.returncode})'} after {time.time() - t0:.0f} s; "
                  f"{tail[:160]} (log {log})", flush=True)
    if failed:
        print(f"atomgrid train: {len(failed)} fold(s) failed: {' '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def add_train(sub) -> None:
    from .families import VALIDATION_GROUPS
    p = sub.add_parser("train", help="train a model from a TOML config")
    p.add_argument("--config", required=True, help="configs/atomgrid/<name>.toml")
    p.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted config override, e.g. train.steps=100 (repeatable)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                   help="same as -o train.precision=...: auto (bf16 autocast on CUDA and on CPUs with AMX or "
                        "AVX512-BF16, else fp32), fp32, bf16")
    p.add_argument("--fold", help="train one model of the cross-target protocol: fold0..foldK-1 or final; keeps "
                                  "only that fold's training targets of the screening caches, drops the pose/affinity "
                                  "complexes of its held-out protein families, runs in <run_dir>/<fold> (train.init "
                                  "may hold '{fold}'); 'all': every fold and final, --jobs processes at a time")
    p.add_argument("--resume", action="store_true",
                   help="continue from the newest checkpoint in the run folder (every train.eval_every steps; the same "
                        "config but for threads, max_minutes, stop_after, keep_last and device); the finished model is "
                        "the one an uninterrupted run gives. Without a checkpoint it starts at step 0")
    p.add_argument("--jobs", type=int, default=1, help="with --fold all: folds trained at once (separate processes; "
                                                        "on a CPU give each one thread with -o train.threads=1)")
    p.add_argument("--folds", type=int, default=5, help="with --fold: number of CV folds (as atomgrid crossval)")
    p.add_argument("--group-by", default="family", choices=("family", "superfamily"), help="with --fold")
    p.add_argument("--validation-group", default="v11", choices=tuple(VALIDATION_GROUPS),
                   help="with --fold: the validation group the final fold leaves out of its training data (v11: PDE "
                        "and four drawn families, 11 targets; v34: PDE and every family of 2-4 targets, 34 targets); "
                        "the CV folds train on the same targets either way")
    p.set_defaults(func=_cmd_train)


def fold_config(cfg, fold: str, k: int = 5, level: str = "family", validation_group: str = "v11"):
    """``cfg`` for one model of the cross-target protocol (:func:`atomgrid.families.make_folds`): screening
    examples of the fold's training targets only, ``<name>-<fold>``, in ``<run_dir>/<fold>``."""
    import dataclasses

    from .families import folds_of
    cv, fin = folds_of(validation_group, k=k, level=level)
    by_name = {f.name: f for f in cv + [fin]}
    if fold not in by_name:
        raise ValueError(f"--fold {fold!r}: expected one of {', '.join(by_name)}")
    from .families import held_out_targets
    screening = bool(cfg.data.screen_caches) and cfg.data.screen_fraction > 0
    # a pose/affinity model (no screening share) for a fold only drops the fold's held-out proteins
    data = dataclasses.replace(cfg.data, screen_targets=tuple(by_name[fold].train) if screening else (),
                               affinity_holdout=held_out_targets(by_name[fold]), holdout_level=level)
    tr = dataclasses.replace(cfg.train, debias=cfg.train.debias.replace("{fold}", fold),
                             init=cfg.train.init.replace("{fold}", fold))
    return dataclasses.replace(cfg, data=data, train=tr, name=f"{cfg.name}-{fold}", run_dir=str(Path(cfg.run_dir) / fold))


def _cmd_evaluate(args) -> int:
    import torch

    from . import evaluate as ev
    from .blend import twin_beside
    from .models import ModelNotFoundError, resolve_model

    def named(m: str) -> str:  # a shipped model's name, as atomgrid score takes them; anything else as given (its
        try:                   # loader reports a missing or foreign file in one line)
            return str(resolve_model(m))
        except ModelNotFoundError:
            return m
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    args.model = named(args.model)
    args.baseline = [named(b) for b in args.baseline or []] or None
    results = []
    baselines = list(args.baseline or [])
    sibling = twin_beside(args.model)
    if not baselines and not args.no_baseline and sibling is not None:
        baselines = [str(sibling)]  # the ligand-only baseline always goes beside the full model
    if args.rotations < 1 or (args.rotations > 1 and args.set not in ("casf2016", "cache")):
        raise SystemExit(f"atomgrid evaluate: --rotations {args.rotations}: must be >= 1, and > 1 only with --set "
                         "casf2016 or cache (DUD-E screening takes it through atomgrid score / crossval)")
    if args.set == "cache" and (args.cache == _CASF_CACHE or not Path(args.cache).is_file()):
        raise SystemExit(f"atomgrid evaluate: --set cache needs --cache <file> made by atomgrid prepare "
                         f"(e.g. --kind val-affinity); {args.cache!r} {'is the CASF test cache' if args.cache == _CASF_CACHE else 'does not exist'}")
    vina_prior = _vina_weights(args.vina_prior) if args.vina_prior else ()
    if args.plot and args.set not in ("casf2016", "cache"):
        raise SystemExit("atomgrid evaluate: --plot draws measured against predicted pK: it needs --set casf2016 or "
                         "cache (for DUD-E screening curves: atomgrid enrich --plot)")
    if vina_prior and args.set not in ("casf2016", "cache"):
        raise SystemExit("atomgrid evaluate: --vina-prior needs --set casf2016 or cache (crystal complexes)")
    built = None  # casf2016 without a saved cache: built once for every model (and the plot's labels)
    if args.set == "casf2016" and not Path(args.cache).is_file():
        from . import data as agdata
        built = agdata.build_cache("test")
    for model in [args.model] + baselines:
        if args.set in ("casf2016", "cache"):
            try:
                res = ev.evaluate_casf(model, args.cache, args.bootstrap, args.device, rotations=args.rotations,
                                       vina_prior=vina_prior if model == args.model else (), cache=built)
            except ValueError as exc:
                raise SystemExit(f"atomgrid evaluate: {exc}") from None
            print(ev.format_casf(res))
        elif args.set.startswith("dude:"):
            target = args.set.split(":", 1)[1]
            if args.poses == "template":
                res = ev.evaluate_dude_template(model, target, args.bootstrap, args.device,
                                                max_decoys=args.max_decoys or None, seed=args.seed,
                                                workers=args.workers)
            else:
                res = ev.evaluate_dude(model, target, args.bootstrap, args.device, max_decoys=args.max_decoys or None,
                                       seed=args.seed)
            print(ev.format_dude(res))
        else:
            raise SystemExit(f"atomgrid evaluate: unknown set {args.set!r} (casf2016, cache, dude:fabp4, dude:inha)")
        results.append(res)
    if args.plot:
        truth = ev.truth_of(built) if built is not None else ev.cache_truth(args.cache)
        print(f"plot written to {ev.plot_affinity(results, truth, args.plot)}")
    if args.json:
        from traincore.provenance import write_results
        write_results(args.json, "atomgrid_evaluate", results, models=[args.model] + baselines,
                      data=_evaluate_data(args), settings={
                          "set": args.set, "bootstrap": args.bootstrap, "poses": args.poses,
                          "max_decoys": args.max_decoys, "seed": args.seed, "threads": args.threads,
                          "device": args.device, "rotations": args.rotations, "vina_prior": args.vina_prior})
        print(f"results written to {args.json}")
    return 0


def _vina_weights(spec: str) -> tuple[float, ...]:
    """``'0.25,0.5'`` -> (0.25, 0.5): weights of Vina's pK in the blend, each in (0, 1]."""
    out = []
    for part in spec.split(","):
        try:
            w = float(part)
        except ValueError:
            raise SystemExit(f"atomgrid evaluate: --vina-prior {spec!r}: {part!r} is not a number") from None
        if not 0 < w <= 1:
            raise SystemExit(f"atomgrid evaluate: --vina-prior {spec!r}: each weight must be in (0, 1], got {w:g}")
        out.append(w)
    return tuple(out)


def _evaluate_data(args) -> list:
    """The input files of an evaluation, for the provenance block (hashed there)."""
    from .data import drug_root
    if args.set == "cache":
        return [args.cache]
    if args.set == "casf2016":
        return [args.cache] if Path(args.cache).exists() else [drug_root() / "casf2016"]
    d = drug_root() / "dude" / args.set.split(":", 1)[1]
    return [d / n for n in ("receptor.pdb", "crystal_ligand.mol2", "actives_final.mol2.gz", "decoys_final.mol2.gz",
                            "actives_final.ism", "decoys_final.ism") if (d / n).exists()]


_CASF_CACHE = "runs/atomgrid/cache_test.pt"


def add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="evaluate a model on a test set, with bootstrap intervals")
    p.add_argument("--protocol", choices=["cross-target"],
                   help="cross-target: the grouped cross-target protocol with its baselines instead of a test set "
                        "(the same as atomgrid crossval; every other option is crossval's: atomgrid crossval --help)")
    p.add_argument("--model", required=True, help="model file (atomgrid/models/<name>.pt or a run's model.pt)")
    p.add_argument("--set", required=True, help="casf2016 | cache (the typed cache given by --cache, e.g. atomgrid "
                                                "prepare --kind val-affinity) | dude:<target> (fabp4, inha)")
    p.add_argument("--baseline", action="append",
                   help="further models to evaluate beside it (default: the '<model>-ligonly.pt' next to it, if any)")
    p.add_argument("--no-baseline", action="store_true", help="do not add the ligand-only baseline automatically")
    p.add_argument("--cache", default=_CASF_CACHE, help="typed CASF test cache (built if missing); with --set cache, "
                   "the cache to evaluate on")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the intervals")
    p.add_argument("--max-decoys", type=int, default=0, help="DUD-E: score a seeded random subset of decoys")
    p.add_argument("--poses", default="placed", choices=["placed", "template"],
                   help="DUD-E: 'placed' puts the 3D records on the crystal ligand by principal axes (fast); "
                        "'template' poses them as atomgrid score does (the screening path)")
    p.add_argument("--seed", type=int, default=0, help="DUD-E: seed of the decoy subset")
    p.add_argument("--rotations", type=int, default=1,
                   help="casf2016 / cache: score every complex in this many fixed orientations, the mean (test-time "
                        "augmentation, as atomgrid score --rotations; default 1: as given)")
    p.add_argument("--vina-prior", metavar="W[,W...]",
                   help="casf2016 / cache: also report (1 - W) x the net's pK + W x Vina's (-E_score_only / 1.364 of "
                        "the given pose; needs pip install -e .[dock]), with the paired gain over the net alone")
    p.add_argument("--workers", type=int, default=0,
                   help="DUD-E --poses template: Ray actors that pose and score chunks (0: this process)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    p.add_argument("--json", help="write the results as JSON here, with provenance (command, versions, commit, "
                                  "model and data sha256, date): a file docs and model cards can cite")
    p.add_argument("--plot", metavar="PNG", help="casf2016 / cache: predicted against measured pK, a panel per "
                                                 "evaluated model (the model and its baselines), as a PNG")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_grid_info(args) -> int:
    from . import typing as agt
    from .grid import GridSpec
    spec = GridSpec(args.size, args.resolution)
    print(f"typing scheme {agt.SCHEME}: {agt.NUM_CHANNELS} channels")
    for i, name in enumerate(agt.CHANNELS):
        print(f"  {i:2d} {name}")
    print(f"grid: {spec.size}^3 points at {spec.resolution} A ({spec.dimension} A between the outer points)")
    if args.ligand:
        import numpy as np

        from . import io
        from .featurize import Gridder, type_ligand, type_receptor
        lig = io.read_ligand(args.ligand)
        if isinstance(lig, io.ReadError):
            raise SystemExit(f"atomgrid grid-info: {lig}")
        tl = type_ligand(lig)
        tr = None
        if args.receptor:
            rec = io.read_receptor(args.receptor)
            if isinstance(rec, io.ReadError):
                raise SystemExit(f"atomgrid grid-info: {rec}")
            tr = type_receptor(rec, io.autobox(tl.xyz, args.padding), margin=spec.dimension)
        g = Gridder(spec)([(tr, tl, tl.centroid())])[0]
        print(f"ligand atoms {len(tl)}, receptor atoms {0 if tr is None else len(tr)}, "
              f"centre {np.round(tl.centroid(), 3).tolist()}")
        sums = g.sum(dim=(1, 2, 3))
        for i, name in enumerate(agt.CHANNELS):
            if float(sums[i]) > 0:
                print(f"  {name:18s} density sum {float(sums[i]):10.3f}  max {float(g[i].max()):.3f}")
    return 0


def add_grid_info(sub) -> None:
    p = sub.add_parser("grid-info", help="print the typing channels and grid, optionally grid one complex")
    p.add_argument("--size", type=int, default=48)
    p.add_argument("--resolution", type=float, default=0.5)
    p.add_argument("--ligand", help="ligand file (first record is gridded)")
    p.add_argument("--receptor", help="receptor PDB/PDBQT")
    p.add_argument("--padding", type=float, default=4.0, help="autobox padding in A")
    p.set_defaults(func=_cmd_grid_info)


def _cmd_prepare(args) -> int:
    import torch

    from . import data
    cache = data.build_csv_cache(args.csv, args.decoys) if args.csv else data.build_cache(args.kind, args.decoys)
    if args.csv and not cache["examples"]:
        for e in cache["errors"]:
            print(f"  unreadable: {e}", file=sys.stderr)
        raise SystemExit(f"atomgrid prepare: --csv {args.csv}: no complex could be used ({len(cache['errors'])} rows "
                         "listed above); nothing written")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(cache, args.out)
    print(json.dumps(data.cache_summary(cache)))
    for e in cache["errors"]:
        print(f"  unreadable: {e}")
    for e in cache.get("left_out", []):
        print(f"  left out: {e}")
    return 0


def add_prepare(sub) -> None:
    p = sub.add_parser("prepare", help="type and cache a data split (train, train-recommended, val, val-affinity, test) "
                                       "or your own complexes (--csv)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--csv", metavar="FILE", help="your own complexes: a CSV with the columns id, receptor, ligand, "
                                                     "pK (and optionally target), paths relative to the CSV; rows "
                                                     "that cannot be used are listed, not fatal")
    which.add_argument("--kind", choices=["train", "train-recommended", "val", "val-affinity", "test"],
                       help="train: the strict split (no CASF-2016 protein); train-recommended: the data pack's "
                            "recommended split (CASF complexes out, their proteins' other ligands and FEP series in); "
                            "val-affinity: the toy strict complexes plus the DEKOIS 2.0 crystal complexes with a "
                            "PDBbind 2020 affinity, none in CASF-2016 (a larger affinity validation set)")
    p.add_argument("--out", required=True)
    p.add_argument("--decoys", type=int, default=2, help="perturbed bad poses per good pose")
    p.set_defaults(func=_cmd_prepare)


def _cmd_screen_data(args) -> int:
    from . import data, screenset
    if args.actives_affinity:
        import torch

        from .crossval import active_affinity_targets, build_active_affinity_cache
        from .score import ScoreOptions
        out = Path(args.out if args.out != "runs/atomgrid/screen" else "runs/atomgrid/screen_cv")
        cache = build_active_affinity_cache(active_affinity_targets(args.actives_affinity), args.work, max_decoys=args.crossval_decoys, seed=args.seed,
                                            model=args.model, pose_options=ScoreOptions(
                                                poses="template", seed=args.seed, embed_timeout=args.embed_timeout,
                                                rotations=1))
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"cache_actives_{args.actives_affinity}.pt"
        torch.save(cache, path)
        print(json.dumps(data.cache_summary(cache)))
        print(f"cache written to {path} (atomgrid evaluate --set cache --cache {path})")
        return 0
    if args.crossval:
        from .families import trainable_targets
        out = args.out if args.out != "runs/atomgrid/screen" else "runs/atomgrid/screen_cv"
        from .score import ScoreOptions
        from .crossval import build_crossval, crossval_cache_path
        flags = ("extra_decoys", "cross_decoys", "isomer_decoys")
        for flag in flags:
            n = getattr(args, "crossval_" + flag)
            if n < 0:
                print(f"atomgrid screen-data: error: --crossval-{flag.replace('_', '-')} {n}: expected >= 0", file=sys.stderr)
                return 2
        if sum(bool(getattr(args, "crossval_" + f)) for f in flags) > 1:
            print("atomgrid screen-data: error: --crossval-extra-decoys, --crossval-cross-decoys and "
                  "--crossval-isomer-decoys write caches of their own: give one at a time", file=sys.stderr)
            return 2
        targets, tag = trainable_targets(), ""
        if (args.crossval_cross_decoys or args.crossval_isomer_decoys) and args.validation_group:
            from .families import folds_of
            targets, tag = folds_of(args.validation_group)[1].train, args.validation_group
        elif args.validation_group:
            print("atomgrid screen-data: error: --validation-group goes with --crossval-cross-decoys or "
                  "--crossval-isomer-decoys", file=sys.stderr)
            return 2
        cache = build_crossval(out, targets, args.work, max_decoys=args.crossval_decoys, seed=args.seed,
                               model=args.model, pose_options=ScoreOptions(
                                   poses="template", seed=args.seed, embed_timeout=args.embed_timeout, rotations=1),
                               extra_decoys=args.crossval_extra_decoys, cross_decoys=args.crossval_cross_decoys, tag=tag,
                               isomer_decoys=args.crossval_isomer_decoys)
        print(json.dumps(data.cache_summary(cache)))
        print(f"cache written to {crossval_cache_path(out, args.crossval_extra_decoys, args.crossval_cross_decoys, tag, args.crossval_isomer_decoys)}")
        return 0
    cache = screenset.build(args.out, args.targets, args.decoys, args.ref_actives, args.exhaustiveness, args.seed,
                            args.model, args.workers, redock=args.redock_references)
    print(json.dumps(data.cache_summary(cache)))
    print(f"cache written to {Path(args.out) / 'cache_screen.pt'}")
    return 0


def add_screen_data(sub) -> None:
    from .families import VALIDATION_GROUPS
    from .screenset import DOCKSTRING
    p = sub.add_parser("screen-data", help="pose DUD-E actives and decoys in their receptors for activity training")
    p.add_argument("--out", default="runs/atomgrid/screen", help="folder of the poses and cache_screen.pt")
    p.add_argument("--targets", nargs="+", default=list(DOCKSTRING), choices=list(DOCKSTRING))
    p.add_argument("--decoys", type=int, default=1000, help="decoys sampled per target (all actives are used)")
    p.add_argument("--ref-actives", type=int, default=3, help="actives docked by Vina to choose the template pose")
    p.add_argument("--exhaustiveness", type=int, default=4, help="Vina, for the reference pose")
    p.add_argument("--redock-references", action="store_true",
                   help="dock the reference poses with Vina even where atomgrid/references ships one (the shipped "
                        "poses are what every committed run used; other settings than the default --ref-actives "
                        "and --exhaustiveness always dock)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", help="model that picks each molecule's best template pose (default: the pose "
                                    "model, not the screening model trained on this data)")
    p.add_argument("--workers", type=int, default=0, help="Ray actors for the template poses (0: this process)")
    p.add_argument("--actives-affinity", choices=("v11", "v34", "protocol"), metavar="GROUP",
                   help="instead: the validation group's (v11 or v34) DEKOIS actives with a measured Ki/Kd/IC50, in the "
                        "protocol's poses, into <out>/cache_actives_<GROUP>.pt: affinity on targets the group's final "
                        "fold never trained on (atomgrid evaluate --set cache); 'protocol': every target's but the "
                        "final test's (v34 and its CV folds), for models that learnt no screening data")
    p.add_argument("--crossval", action="store_true",
                   help="instead: every training target of the cross-target protocol (DEKOIS 2.0 outside the test "
                        "families and PDE4B/PDE5; the extra validation families are CV folds' training data), posed as `atomgrid crossval --pose-model` poses them, into "
                        "<out>/cache_crossval.pt (default out: runs/atomgrid/screen_cv)")
    p.add_argument("--crossval-decoys", type=int, default=200, help="with --crossval: decoys per target (all actives)")
    p.add_argument("--crossval-extra-decoys", type=int, default=0, metavar="N",
                   help="with --crossval: instead, N more decoys per target for training only, drawn from those "
                        "outside its evaluation sample, into <out>/cache_crossval_x<N>.pt (list it beside "
                        "cache_crossval.pt in data.screen_caches)")
    p.add_argument("--crossval-cross-decoys", type=int, default=0, metavar="N",
                   help="with --crossval: instead, N actives of other targets (another superfamily) per target, posed in "
                        "its pocket as decoys, into <out>/cache_crossval_y<N>[_<GROUP>].pt (list it beside "
                        "cache_crossval.pt; training keeps those whose source target it trains on)")
    p.add_argument("--crossval-isomer-decoys", type=int, default=0, metavar="N",
                   help="with --crossval: instead, up to N positional isomers of each target's own actives (two hetero "
                        "atoms' sites exchanged: same formula, rings and shape), posed in its pocket as decoys, into "
                        "<out>/cache_crossval_i<N>[_<GROUP>].pt (list it beside cache_crossval.pt)")
    p.add_argument("--validation-group", choices=tuple(VALIDATION_GROUPS), metavar="GROUP",
                   help="with --crossval-cross-decoys or --crossval-isomer-decoys: only that group's final-fold training "
                        "targets (and, for cross-target decoys, sources; default: every training target of the protocol)")
    p.add_argument("--work", default="runs/atomgrid/crossval", help="with --crossval: the protocol's pose folder")
    p.add_argument("--embed-timeout", type=int, default=0, help="with --crossval: as atomgrid crossval --embed-timeout")
    p.set_defaults(func=_cmd_screen_data)


def _cmd_crossval(args) -> int:
    from . import crossval as cvm
    from .families import folds_of
    if args.plan:
        cv, fin = folds_of(args.validation_group, k=args.folds, level=args.group_by)
        for f in cv + [fin]:
            seen = [t for t in f.validation if t in f.train]  # drawn validation families a CV fold may learn from
            print(f"{f.name}: test {len(f.test)} ({' '.join(f.test)}); train {len(f.train)}; "
                  f"validation {' '.join(f.validation)}" + (f" ({len(seen)} of them in this fold's training data)" if seen else ""))
        return 0
    if args.outside and not args.model:
        from .models import DEFAULT_MODEL
        args.model = DEFAULT_MODEL  # an outside set is what a user screens: the shipped default scores it
    if not args.model:
        raise SystemExit("atomgrid crossval: --model is required (or --plan)")
    blends = tuple(cvm.parse_blend(b) for b in args.blend)  # refused before any model, pose or Ray actor
    if args.rotations < 1 or (args.rotations > 1 and not args.pose_model):
        raise SystemExit(f"atomgrid crossval: --rotations {args.rotations}: must be >= 1, and > 1 needs --pose-model "
                         "(the pose model's given poses are what is rescored in several orientations)")
    if args.specificity < 0:
        raise SystemExit(f"atomgrid crossval: --specificity {args.specificity}: expected >= 0")
    import torch

    from .blend import twin_beside
    from .models import resolve_model
    from .score import ScoreOptions
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    model = args.model if "{fold}" in args.model else str(resolve_model(args.model))
    lig = args.ligand_only_model
    if lig is None and "{fold}" not in model:
        sib = twin_beside(model)
        lig = str(sib) if sib is not None else None
    # poses picked by a --pose-model are shared with the training data (`screen-data --crossval`), made the way
    # `atomgrid score` makes them (its default precision); a model that poses for itself is run in fp32
    opts = ScoreOptions(poses="template", n_confs=args.confs, keep=args.keep, relax_steps=args.relax_steps,
                        seed=args.seed, precision="auto" if args.pose_model else "fp32", embed_timeout=args.embed_timeout,
                        rotations=1)  # poses are picked and scored as posed; --rotations rescores them
    executor = None
    if args.workers > 0:
        from .distributed import ray_executor
        executor = ray_executor(args.workers)
    res = cvm.run(model, lig, folds=args.folds, level=args.group_by, only=args.only, final=args.final,
                  validation=args.validation, validation_group=args.validation_group, work=args.work, max_actives=args.max_actives, max_decoys=args.max_decoys, seed=args.seed,
                  n_boot=args.bootstrap, pose_options=opts, device=args.device, executor=executor,
                  pose_model=str(resolve_model(args.pose_model)) if args.pose_model else None,
                  blends=blends, rotations=args.rotations, vina=not args.skip_vina,
                  pk_models=tuple(str(resolve_model(m)) for m in args.pk_models), outside=args.outside,
                  specificity=args.specificity)
    print(cvm.format_summary(res))
    if args.json:
        from traincore.provenance import write_results
        models = [m for m in (model, lig) if m and "{fold}" not in m]
        if args.pose_model:
            models.append(str(resolve_model(args.pose_model)))
        write_results(args.json, "atomgrid_crossval", res, models=models,
                      data=[Path(r["scores_csv"]) for r in res["targets"]], settings={
                          "folds": args.folds, "group_by": args.group_by, "only": args.only, "final": args.final,
                          "validation": args.validation, "validation_group": args.validation_group,
                          "pose_model": args.pose_model,
                          "max_actives": args.max_actives, "max_decoys": args.max_decoys, "seed": args.seed,
                          "bootstrap": args.bootstrap, "confs": args.confs, "keep": args.keep,
                          "relax_steps": args.relax_steps, "embed_timeout": args.embed_timeout, "device": args.device, "threads": args.threads,
                          "workers": args.workers, "blend": args.blend, "rotations": args.rotations,
                          "pk_models": args.pk_models, "outside": args.outside})
        print(f"results written to {args.json}")
    return 0


def _protocol_alias(argv: list[str]) -> list[str]:
    """``evaluate --protocol cross-target ARGS`` -> ``crossval ARGS`` (issue 17's spelling of the protocol); any
    other protocol is a usage error."""
    rest, value, i = [], None, 1
    while i < len(argv):
        a = argv[i]
        if a == "--protocol":
            value = argv[i + 1] if i + 1 < len(argv) else ""
            i += 2
            continue
        if a.startswith("--protocol="):
            value = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    if value != "cross-target":
        print(f"atomgrid evaluate: error: --protocol {value or '(missing)'}: expected cross-target (the grouped "
              "cross-target protocol, also atomgrid crossval)", file=sys.stderr)
        raise SystemExit(2)
    return ["crossval", *rest]


def add_crossval(sub) -> None:
    from .families import LEVELS, VALIDATION_GROUPS
    p = sub.add_parser("crossval", help="the cross-target protocol: grouped CV by target and family with baselines")
    p.add_argument("--model", help="model (name or path); '{fold}' in the path = one model per fold (fold0..foldK-1, final)")
    p.add_argument("--ligand-only-model", help="its ligand-only twin (default: '<model>-ligonly.pt' beside it)")
    p.add_argument("--plan", action="store_true", help="print the folds and exit")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--group-by", default="family", choices=LEVELS,
                   help="family (default) or superfamily (all protein kinases together: the stricter split)")
    p.add_argument("--only", nargs="+", help="evaluate only these held-out targets (each in the fold that holds it out)")
    p.add_argument("--final", action="store_true", help="the final test (DUD-E fabp4, inha, DEKOIS INHA) instead of the CV folds")
    p.add_argument("--validation", action="store_true",
                   help="the fixed validation group (--validation-group; v11: PDE4B, PDE5 and the drawn families "
                        "COX1/2, CATL, CTSK, MK2, PIM-1/2, ADAM17, MMP2) instead of the CV folds: where choices are "
                        "made; judged with the final fold's model")
    p.add_argument("--validation-group", default="v11", choices=tuple(VALIDATION_GROUPS),
                   help="v11 (default): PDE4B/PDE5 and the four drawn families above; v34: PDE and every family of "
                        "2-4 evaluable targets (34 targets). With --validation: the group judged; with the CV folds: "
                        "the group's targets leave the CV tests (they were used to choose)")
    p.add_argument("--pose-model", help="pick every molecule's template pose with this model (e.g. the pose model "
                                        "ag-atomnet-c16-l3-g16r15) and score those given poses with --model: one set of "
                                        "poses for every fold's model and every baseline (default: --model poses)")
    p.add_argument("--max-actives", type=int, default=0, help="seeded sample of actives per target (0: all)")
    p.add_argument("--max-decoys", type=int, default=0, help="seeded sample of decoys per target (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--confs", type=int, default=4, help="ETKDG conformers per molecule (template poses; atomgrid score's default)")
    p.add_argument("--keep", type=int, default=3)
    p.add_argument("--relax-steps", type=int, default=30)
    p.add_argument("--embed-timeout", type=int, default=0,
                   help="seconds of ETKDG per molecule before it counts as unposed (0: none; a few DEKOIS decoys "
                        "never finish embedding)")
    p.add_argument("--work", default="runs/atomgrid/crossval", help="libraries, poses and scores (reused)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="Ray actors that pose and score chunks (0: this process)")
    p.add_argument("--blend", action="append", default=[], metavar="METHOD:WEIGHT",
                   help="also rank by z(model) + WEIGHT * z(METHOD), both z-scored over each target's library "
                        "(METHOD: vina, vina_local, ligand_only, heavy_atoms, fp_max_tanimoto, pk; repeatable); "
                        "choose WEIGHT with --validation, never on the CV or final targets")
    p.add_argument("--pk-models", nargs="+", default=[], metavar="MODEL",
                   help="affinity models (as atomgrid score --affinity-model): the method 'pk' ranks by their mean pK "
                        "of the same poses (in --rotations orientations); blend it with --blend pk:WEIGHT")
    p.add_argument("--specificity", type=int, default=0, metavar="N",
                   help="also each target's pocket specificity: the ROC AUC of its actives against N actives of "
                        "other targets (another superfamily, none the model trained on) posed in its pocket the same "
                        "way; 0.5 = the model cannot tell whose pocket it is in (default 0: off; 40 is what the cards "
                        "quote; CV folds draw from their few held-out targets)")
    p.add_argument("--skip-vina", action="store_true",
                   help="leave out the Vina score_only / local-optimisation columns (about 1-2 CPU-minutes a target "
                        "the first time; cached beside the poses after that)")
    p.add_argument("--rotations", type=int, default=1,
                   help="with --pose-model: score each given pose (by --model and by the ligand-only twin) in this "
                        "many fixed orientations, the mean logit (test-time augmentation; default 1: none)")
    p.add_argument("--outside", metavar="INDEX",
                   help="instead of the pack's folds: the targets of INDEX, a CSV in dekois2/index.csv's format "
                        "(target,actives,decoys,receptor,crystal_ligand; paths relative to it; SDF or SMILES "
                        "libraries) for sets outside the data pack, scored by the one --model (default: the shipped "
                        "screening model) with every baseline; each target's nearest training protein (sequence "
                        "alignment scored against shuffles) says whether its figure is cross-target")
    p.add_argument("--json", help="write per-target and mean figures as JSON with provenance")
    p.set_defaults(func=_cmd_crossval)


def _target_list(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _subset_targets(fig: dict, only: str | None, exclude: str | None) -> dict:
    """A crossval result with only the targets named in ``only`` (comma-separated; all when empty) and none of
    ``exclude``; a named target the result does not hold is an error (a typo would silently shrink the subset)."""
    keep, drop = _target_list(only), _target_list(exclude)
    have = {t["target"] for t in fig["targets"]}
    unknown = sorted(set(keep + drop) - have)
    if unknown:
        raise ValueError(f"--targets/--exclude-targets: {', '.join(unknown)} not in the results")
    rows = [t for t in fig["targets"] if (not keep or t["target"] in keep) and t["target"] not in drop]
    if not rows:
        raise ValueError("--targets/--exclude-targets: no target left")
    return dict(fig, targets=rows)


def _cmd_compare(args) -> int:
    from . import crossval as cvm
    if args.vs:
        a_paths, b_paths = list(args.a), list(args.vs)
    elif len(args.a) == 2:
        a_paths, b_paths = [args.a[0]], [args.a[1]]
    else:
        raise SystemExit(f"atomgrid compare: {len(args.a)} files given: two (A B), or A's runs then --vs B's runs")
    # a run counts once on its side. Shared runs across the sides are fine when two of its methods are compared, or
    # when one side holds runs the other does not (an ensemble of four seeds against its first two); the same runs on
    # both sides with one method would compare a thing with itself
    dup = sorted({p for side in (a_paths, b_paths) for p in side if side.count(p) > 1})
    if dup:
        raise SystemExit(f"atomgrid compare: {dup[0]}: given more than once (each run counts once)")
    if args.method_a == args.method_b and set(a_paths) == set(b_paths):
        raise SystemExit(f"atomgrid compare: {a_paths[0]}: A and B are the same runs (give two methods, or other runs)")

    def load(path):
        try:
            return json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"atomgrid compare: {path}: cannot read a JSON file ({type(exc).__name__})") from None

    docs = {p: load(p) for p in a_paths + b_paths}  # each file read once

    def read(path):
        d = docs[path]
        f = d.get("figures", d) if isinstance(d, dict) else None
        if not isinstance(f, dict) or "targets" not in f:
            raise SystemExit(f"atomgrid compare: {path}: not an atomgrid crossval --json result (no targets)")
        return f

    kinds = {isinstance(d, dict) and d.get("benchmark") == "atomgrid_evaluate" for d in docs.values()}
    if len(kinds) > 1:
        raise SystemExit("atomgrid compare: give either crossval results or evaluate results on both sides, not both")
    if kinds == {True}:
        return _compare_affinity(args, a_paths, b_paths, docs)
    try:
        fa, fb = cvm.pool_seeds([read(p) for p in a_paths]), cvm.pool_seeds([read(p) for p in b_paths])
        if args.targets or args.exclude_targets:
            fa, fb = (_subset_targets(f, args.targets, args.exclude_targets) for f in (fa, fb))
        res = cvm.compare(fa, fb, args.method_a, args.method_b, n_boot=args.bootstrap)
    except ValueError as exc:
        raise SystemExit(f"atomgrid compare: {exc}") from None
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # the right top level, a wrong inside
        raise SystemExit(f"atomgrid compare: {', '.join(a_paths + b_paths)}: not well-formed crossval results "
                         f"({type(exc).__name__}: {exc})") from None
    one = len(a_paths) == 1 and len(b_paths) == 1
    res.update({"a": a_paths[0], "b": b_paths[0]} if one else {"a": a_paths, "b": b_paths, "pooled": "mean over each side's runs, per target"})
    if args.targets or args.exclude_targets:
        res["target_subset"] = {"only": _target_list(args.targets), "excluded": _target_list(args.exclude_targets)}

    def name(paths):
        return Path(paths[0]).stem + (f" and {len(paths) - 1} more run{'s' if len(paths) > 2 else ''} (mean per target)"
                                      if len(paths) > 1 else "")
    print(cvm.format_compare(res, name(a_paths), name(b_paths)))
    if args.json:
        from traincore.provenance import write_results
        write_results(args.json, "atomgrid_compare", res, data=[Path(p) for p in a_paths + b_paths],
                      settings={"method_a": args.method_a, "method_b": args.method_b, "bootstrap": args.bootstrap,
                                "runs_a": len(a_paths), "runs_b": len(b_paths)})
        print(f"results written to {args.json}")
    return 0


def _compare_affinity(args, a_paths: list[str], b_paths: list[str], docs: dict[str, dict]) -> int:
    """``atomgrid compare`` on ``atomgrid evaluate --json`` files (casf2016 / cache; ``docs``: each file's content):
    affinity paired over complexes, the first model of each file (its baselines are ignored)."""
    from . import evaluate as ev

    def first(path):
        figs = docs[path].get("figures")
        if not isinstance(figs, list) or not figs or "complexes" not in figs[0]:
            raise SystemExit(f"atomgrid compare: {path}: no per-complex affinity predictions (an atomgrid evaluate "
                             "--set casf2016/cache result written since session 20)")
        return figs[0]
    fa, fb = [first(p) for p in a_paths], [first(p) for p in b_paths]
    caches = {str(f.get("cache")) for f in fa + fb}
    cache = args.cache or (caches.pop() if len(caches) == 1 else None)
    if cache is None:
        raise SystemExit(f"atomgrid compare: the results name different caches {sorted(caches)}; give --cache")
    if not Path(cache).is_file():
        raise SystemExit(f"atomgrid compare: {cache}: the cache with the measured pK is not here (give --cache)")
    try:
        res = ev.compare_affinity(fa, fb, ev.cache_truth(cache), n_boot=args.bootstrap)
    except ValueError as exc:
        raise SystemExit(f"atomgrid compare: {exc}") from None
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise SystemExit(f"atomgrid compare: {', '.join(a_paths + b_paths)}: not well-formed evaluate results "
                         f"({type(exc).__name__}: {exc})") from None
    res["cache"] = cache
    res.update({"a": a_paths, "b": b_paths})

    def name(paths):
        return Path(paths[0]).stem + (f" and {len(paths) - 1} more" if len(paths) > 1 else "")
    print(ev.format_compare_affinity(res, name(a_paths), name(b_paths)))
    if args.json:
        from traincore.provenance import write_results
        write_results(args.json, "atomgrid_compare_affinity", res, data=[Path(p) for p in a_paths + b_paths],
                      settings={"bootstrap": args.bootstrap, "runs_a": len(a_paths), "runs_b": len(b_paths)})
        print(f"results written to {args.json}")
    return 0


def add_compare(sub) -> None:
    p = sub.add_parser("compare", help="paired comparison of two 'atomgrid crossval --json' results, target by target "
                       "(or of two 'atomgrid evaluate --set casf2016|cache --json' results, complex by complex)")
    p.add_argument("a", nargs="+", help="crossval (or evaluate) JSON A then B; or several runs of A (seeds) followed by --vs")
    p.add_argument("--vs", nargs="+", metavar="B", help="B's runs (seeds): each side's figures are averaged per "
                   "target over its runs before the paired bootstrap over targets")
    p.add_argument("--method-a", default="model", help="ranking of A to compare (default: model)")
    p.add_argument("--method-b", default="model", help="ranking of B (default: model; e.g. vina, ligand_only)")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--targets", help="crossval results: compare on these targets only (comma-separated)")
    p.add_argument("--exclude-targets", help="crossval results: leave these targets out (comma-separated)")
    p.add_argument("--cache", help="evaluate results: the typed cache holding the measured pK (default: the one the "
                                   "results name)")
    p.add_argument("--json", help="write the comparison as JSON with provenance")
    p.set_defaults(func=_cmd_compare)


def _cmd_ensemble(args) -> int:
    from .models import ModelNotFoundError, file_sha256, make_ensemble
    out = args.out
    if "{fold}" in out or any("{fold}" in m for m in args.models):
        if "{fold}" not in out or not all("{fold}" in m for m in args.models):
            raise SystemExit("atomgrid ensemble: '{fold}' must be in --out and in every model path, or in none")
        names = [f"fold{i}" for i in range(args.folds)] + ["final"]
    else:
        names = [None]
    for f in names:
        def sub(p):
            return p.replace("{fold}", f) if f else p
        try:
            Path(sub(out)).parent.mkdir(parents=True, exist_ok=True)
            path = make_ensemble([sub(m) for m in args.models], sub(out), name=args.name)
        except (ModelNotFoundError, ValueError) as exc:
            raise SystemExit(f"atomgrid ensemble: {exc}") from None
        print(f"{path}: ensemble of {len(args.models)} models, sha256 {file_sha256(path)[:16]}")
    return 0


def add_ensemble(sub) -> None:
    p = sub.add_parser("ensemble", help="write one model file that scores with the mean logit of several models")
    p.add_argument("models", nargs="+", help="model names or paths (same grid, typing and ligand-only flag); "
                                             "'{fold}' in every path = one ensemble per fold (fold0..foldK-1, final)")
    p.add_argument("--out", "-o", required=True, help="the ensemble model file to write")
    p.add_argument("--name", help="its name in the meta (default: the members' names joined by '+')")
    p.add_argument("--folds", type=int, default=5, help="with '{fold}': the number of CV folds")
    p.set_defaults(func=_cmd_ensemble)


def _cmd_contacts_train(args) -> int:
    import time

    from . import contacts, data
    from .models import file_sha256
    from traincore.provenance import write_results
    if not Path(args.cache).is_file():
        raise SystemExit(f"atomgrid contacts-train: --cache {args.cache}: no such file (atomgrid prepare --kind "
                         "train-recommended makes the default)")
    cache = data.load_cache(args.cache)
    t0 = time.time()
    X, y, ids = contacts.training_set(cache, feature_set=args.features)  # good poses: a decoy does not carry the pK
    if len(y) < 10:
        raise SystemExit(f"atomgrid contacts-train: --cache {args.cache}: {len(y)} labelled poses, need at least 10")
    est = contacts.fit(X, y, {"random_state": args.seed})
    meta = {"name": args.name, "train_cache": str(args.cache), "train_cache_sha256": file_sha256(args.cache),
            "train_poses": len(y), "train_complexes": len(set(ids)), "params": dict(contacts.GBT_PARAMS, random_state=args.seed)}
    path = contacts.save(est, args.out, meta, args.features)
    seconds, sha = time.time() - t0, file_sha256(path)
    print(f"{path}: {args.name}, {len(est.estimators_)} trees on {len(y)} poses ({X.shape[1]} contact features), "
          f"{seconds:.0f} s, sha256 {sha[:16]}")
    if args.json:
        write_results(args.json, "atomgrid_contacts_train", [dict(meta, model=str(path), model_sha256=sha,
                                                                  seconds=seconds)],
                      models=[str(path)], data=[str(args.cache)], settings={"seed": args.seed, "features": args.features})
    return 0


def add_contacts_train(sub) -> None:
    from .contacts import FEATURE_SET, FEATURE_SETS
    p = sub.add_parser("contacts-train", help="fit a contact-count tree pK model (RF-Score / ΔVinaXGB family) on a "
                                              "typed cache; evaluate it like a net (atomgrid evaluate --model)")
    p.add_argument("--cache", default="runs/atomgrid/cache_train_rec.pt",
                   help="a typed cache with measured pK (atomgrid prepare --kind train-recommended)")
    p.add_argument("--out", "-o", required=True, help="the model file to write")
    p.add_argument("--name", default="ag-contacts-gbt-rec", help="the model's name in its meta")
    p.add_argument("--seed", type=int, default=0, help="the trees' random_state (row and feature subsampling)")
    p.add_argument("--features", default=FEATURE_SET, choices=list(FEATURE_SETS),
                   help="contacts-v1: element pairs and four pharmacophore pairs in five shells (155, the shipped "
                        "trees); contacts-v2: ECIF-like atom classes by element and flags (455); contacts-v3: "
                        "contacts-v1 and Vina's five intermolecular terms with their weighted sum (161)")
    p.add_argument("--json", help="write the training record here (benchmarks/results/...)")
    p.set_defaults(func=_cmd_contacts_train)


COMMANDS = [add_train, add_evaluate, add_grid_info, add_prepare, add_screen_data, add_crossval, add_ensemble,
            add_compare, add_contacts_train]


# --- atomgrid score / enrich (issue 8): the commands live in atomgrid/score_cli.py ----------------
def add_score(sub) -> None:
    from .score_cli import add_score_commands
    add_score_commands(sub)


COMMANDS.append(add_score)
# --- end of atomgrid score block -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atomgrid", description="Voxel-grid 3D CNNs for protein-ligand complexes")
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(sub)
    return parser


# Per command: (the arguments naming files it reads, the arguments naming files it writes). An output that is one
# of the inputs, or another output, would overwrite work; a folder where a file is to be written fails only after
# the work is done. Both are refused before anything runs.
IO_ARGS = {"score": (("receptor", "ligands", "autobox_ligand", "model"), ("out", "out_sdf")),
           "enrich": (("scores", "actives"), ("json", "plot")),
           "evaluate": (("model", "cache"), ("json", "plot")),
           "compare": (("a", "vs", "cache"), ("json",)),
           "prepare": (("csv",), ("out",)),
           "contacts-train": (("cache",), ("out", "json")),
           "ensemble": (("models",), ("out",)),
           "crossval": ((), ("json",))}


def check_paths(command: str, args) -> str | None:
    """The one-line reason ``args`` of ``command`` would overwrite an input or write into a folder, else None."""
    ins, outs = IO_ARGS.get(command, ((), ()))

    def paths(name):
        v = getattr(args, name, None)
        return [] if v is None else [Path(x) for x in (v if isinstance(v, (list, tuple)) else [v])]

    def same(a: Path, b: Path) -> bool:
        try:
            return a.resolve() == b.resolve()
        except OSError:
            return False

    flag = {n: "--" + n.replace("_", "-") for n in (*ins, *outs)}
    flag.update({"a": "input", "scores": "input", "models": "input", "out": "--out"})
    written: list[tuple[str, Path]] = []
    for o in outs:
        for q in paths(o):
            if q.is_dir():
                return f"{flag[o]} {q} is a folder; give a file path"
            if q.parent.exists() and not q.parent.is_dir():
                return f"{flag[o]} {q}: {q.parent} is a file, not a folder"
            for i in ins:
                for r in paths(i):
                    if same(q, r):
                        return f"{flag[o]} {q} is also {flag[i]}: writing it would overwrite that input"
            for name, r in written:
                if same(q, r):
                    return f"{flag[o]} {q} is also {name}: one would overwrite the other"
            written.append((flag[o], q))
    return None


# integer options that make no sense below these values (a negative --top printed "top -1:" and wrote nothing)
MIN_COUNTS = {"top": 0, "explain": 0, "relax_steps": 0, "workers": 0, "threads": 0, "bootstrap": 1}


def check_counts(args) -> str | None:
    """The one-line reason an integer option or ``--device`` of ``args`` cannot be used, else None."""
    for name, low in MIN_COUNTS.items():
        v = getattr(args, name, None)
        if isinstance(v, int) and v < low:
            return f"--{name.replace('_', '-')} {v}: must be >= {low}"
    for name in ("model", "pose_model", "ligand_only_model"):  # an empty shell variable must not mean "the default"
        if getattr(args, name, None) == "":
            return f"--{name.replace('_', '-')} is empty: give a model name or path, or leave the option out"
    device = getattr(args, "device", None)
    if isinstance(device, str) and device:
        from traincore.runtime import resolve_device
        try:
            resolve_device(device)
        except ValueError as exc:
            return f"--device: {exc}"
    return None


def main(argv=None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["evaluate"] and any(a == "--protocol" or a.startswith("--protocol=") for a in argv):
        argv = _protocol_alias(argv)  # `atomgrid evaluate --protocol cross-target ...` is `atomgrid crossval ...`
    args = parser.parse_args(argv)
    bad = check_paths(args.command, args) or check_counts(args)
    if bad:
        print(f"atomgrid {args.command}: {bad}", file=sys.stderr)
        return 2
    from traincore.checkpoint import CheckpointError
    try:
        return int(args.func(args) or 0)
    except (FileNotFoundError, ValueError, CheckpointError) as exc:  # a missing, foreign or corrupt file: one line
        print(f"atomgrid {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: one line, and how to go on where there is a way
        hint = (f"; the finished chunks are kept: rerun the same command with --resume to go on"
                if args.command == "score" else "")
        print(f"\natomgrid {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
