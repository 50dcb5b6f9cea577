"""``atomgrid score`` and ``atomgrid enrich``: argument parsing over :func:`atomgrid.score.score_library`
and :func:`atomgrid.enrich.enrichment`. The only place that chooses the Ray executor for ``--workers``."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from .blend import BLEND_WEIGHT
from .enrich import active_ids, default_column, enrichment, plot_curves
from .poses import POSE_MODES
from .score import EmptyLibraryError, ScoreOptions, score_library
from .score_options import CLI_ROTATIONS
from .score_worker import default_device

# --vina-prior without a value: the weight rule D chose on the affinity validation set (campaigns/atomgrid-affinity)
VINA_PRIOR_WEIGHT = 0.75


POLICY_HELP = ("preparation: RDKit sanitise; counter-ions and solvents stripped (named in prep_note); one molecule "
               "of H B C N O F Si P S Cl Br I Se per record, no radicals, at most --max-heavy-atoms (else an error row); "
               "rdMolStandardize Cleanup, neutralise "
               "(Uncharger) where possible; input tautomer kept (no enumeration, no pKa model); explicit H; "
               "ETKDGv3 conformers + MMFF94 clean-up. 'given' poses are used as read (hydrogens added only).")


SMALL_LIBRARY = 50  # scored molecules below which the blend's per-library z-scores get a warning


def _cmd_score(args) -> int:
    if args.explain and not args.out_sdf:
        print("atomgrid score: --explain needs --out-sdf (the contributions are written onto its records)",
              file=sys.stderr)
        return 2
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    opts = ScoreOptions(poses=args.poses, n_confs=args.confs, ff_iters=args.ff_iters, keep=args.keep,
                        relax_steps=args.relax_steps, exhaustiveness=args.exhaustiveness, dock_poses=args.dock_poses, batch_size=args.batch_size,
                        chunk_size=args.chunk_size, max_heavy_atoms=args.max_heavy_atoms, seed=args.seed,
                        precision=args.precision, rotations=args.rotations, blend=args.blend,
                        vina_prior=args.vina_prior)
    from traincore.runtime import Runtime
    print(f"precision: {Runtime.create(args.device or default_device(), precision=args.precision).describe()}; "
          f"each best pose scored in {args.rotations} orientation{'s' if args.rotations != 1 else ''} (--rotations)",
          file=sys.stderr, flush=True)
    executor = None
    if args.workers > 0 or args.address:
        from .distributed import ray_executor
        executor = ray_executor(max(1, args.workers), args.address)
    try:
        summary = score_library(args.receptor, args.ligands, args.out, autobox_ligand=args.autobox_ligand,
                                center=args.center, size=args.size, model=args.model, options=opts,
                                out_sdf=args.out_sdf, top=args.top, resume=args.resume, device=args.device,
                                allow_empty=args.allow_empty, executor=executor, pose_model=args.pose_model,
                                ligand_only_model=args.ligand_only_model, affinity_models=args.affinity_model)
    except EmptyLibraryError as exc:
        print(f"atomgrid score: warning: {exc}", file=sys.stderr)
        return 1
    if summary["records"] == 0:
        print(f"atomgrid score: warning: the library holds no records; {summary['out']} has the header only",
              file=sys.stderr)
    rate = summary["scored_now"] / max(summary["seconds"], 1e-9)
    scored = summary["records"] - summary["errors"]
    if summary["blend"]:
        print(f"ranked by the blend column: z(score) + {summary['blend']:g} z(ligand_only), z-scored over the {scored} "
              "scored molecules (--blend)", file=sys.stderr)
        if 0 < scored < SMALL_LIBRARY:
            print(f"atomgrid score: warning: the blend's z-scores rest on {scored} molecules (fewer than "
                  f"{SMALL_LIBRARY}); for a handful of molecules compare the score column",
                  file=sys.stderr)
    aff = summary.get("affinity_models") or []
    print("pK column: " + (f"mean pK of {', '.join(Path(f).stem for f in aff)} (--affinity-model)" if aff
                           else "the model's own affinity head")
          + "; an affinity estimate of the pose, not a ranking: rank by score", file=sys.stderr)
    print(f"{summary['records']} records ({summary['errors']} with errors) -> {summary['out']}; "
          f"{summary['scored_now']} processed in {summary['seconds']:.1f} s ({rate:.2f} records/s"
          + (f"; {summary['resumed_records']} from the interrupted run" if summary.get("resumed_records") else "") + ")")
    if args.top:
        print(f"top {args.top}: {', '.join(summary['top'])}")
    if args.explain:
        from .explain import explain_sdf
        from .models import resolve_model
        ex = explain_sdf(args.receptor, args.out_sdf, resolve_model(args.model), args.explain,
                         rotations=args.rotations)
        print(f"per-atom contributions of the top {ex['explained']} written to {ex['sdf']} "
              f"(atom property atomgrid_contrib) and {ex['png']}")
    return 0


def _cmd_enrich(args) -> int:
    actives = active_ids(args.actives)
    figures = {}
    columns = args.columns or [default_column(args.scores)]
    for col in columns:
        res = enrichment(args.scores, actives, col)
        figures[col] = res
        print(f"{col}: {res['compounds']} compounds ({res['actives']} actives, {res['failed_rows']} failed rows): "
              f"ROC AUC {res['roc_auc']:.3f}, EF1% {res['ef1']:.2f}, EF5% {res['ef5']:.2f}")
    if args.json:
        from traincore.provenance import write_results
        write_results(args.json, "atomgrid_enrich", figures, data=[args.scores, *args.actives],
                      settings={"columns": list(columns)})
        print(f"results written to {args.json}")
    if args.plot:
        print(f"curves written to {plot_curves(args.scores, actives, columns, args.plot)}")
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
    p.add_argument("--pose-model", help="another model (name or path) picks each molecule's pose by its activity as posed; "
                                        "--model scores the picked pose. The screening figures of the model cards were "
                                        "measured this way with --pose-model ag-atomnet-c16-l3-g16r15 (default: --model "
                                        "picks its own poses)")
    p.add_argument("--ligand-only-model", help="with --blend: the model's ligand-only twin, scored beside it (default: "
                                               "'<model>-ligonly.pt' beside the model; the shipped models have one)")
    p.add_argument("--affinity-model", nargs="+", metavar="MODEL",
                   help="the models (names or paths) whose mean pK of each molecule's picked pose, in the same "
                        "--rotations, fills the pK column (and the SD CNNaffinity tag): nets, or contact-count tree "
                        "models (atomgrid contacts-train); 'none': the model's own affinity head. Default: the shipped "
                        "affinity models with the default --model (the contact trees ag-contacts-gbt-rec and the CNNs "
                        "ag-atomnet-c16-l3-g16r15-rec-s0/-s1, a third each; atomgrid/models/__init__.py "
                        "AFFINITY_MODELS), the model's own head with any other --model. "
                        "pK estimates the affinity of the pose; it does not rank actives above property-matched "
                        "decoys (rank by score)")
    p.add_argument("--blend", type=float, default=0.0, metavar="W",
                   help="rank by z(score) + W z(ligand_only), both z-scored over the library's scored molecules (the "
                        "ligand_only and blend columns; --top and --out-sdf follow it). Default 0: rank by score. "
                        f"{BLEND_WEIGHT:g} was chosen on 34 validation targets for the previous default's recipe; for "
                        "the default model it did not pass (the model card: it lifts ROC AUC a little where the twin "
                        "ranks well and costs early enrichment where it ranks below chance, as on most kinases)")
    p.add_argument("--vina-prior", type=float, nargs="?", const=VINA_PRIOR_WEIGHT, default=0.0, metavar="W",
                   help="also write pK_vina_prior = (1 - W) pK + W (-vina / 1.364): the net's affinity with Vina's "
                        "energy of the scored pose (score_only; its docking energy with --poses dock) as a physics "
                        f"prior, and that energy in the vina column. W defaults to {VINA_PRIOR_WEIGHT:g}, chosen on "
                        "the affinity validation set with the screening model's own pK (campaigns/atomgrid-affinity, rule D; with the "
                        "default --affinity-model pair it adds little there). Needs pip install "
                        "-e .[dock]; costs one Vina score per molecule. The pK and score columns are unchanged")
    p.add_argument("--out", required=True, help="CSV: one row per input record, in input order")
    p.add_argument("--out-sdf", help="best pose of each molecule with CNNscore/CNNaffinity tags")
    p.add_argument("--top", type=int, default=0, help="also write OUT.top.csv with the N best (and only those in --out-sdf)")
    p.add_argument("--explain", type=int, default=0, metavar="N",
                   help="per-atom contributions of the N best poses (d score / d atom density, see atomgrid.explain): "
                        "an atomgrid_contrib atom property list on their --out-sdf records, pocket atoms in an "
                        "atomgrid_pocket_contrib tag, and OUT_SDF.explain.png with the atoms highlighted")
    p.add_argument("--workers", type=int, default=0, help="Ray actors (0: score in this process)")
    p.add_argument("--address", help="Ray cluster address (default: an embedded local Ray when --workers > 0)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from OUT.csv.parts/")
    p.add_argument("--allow-empty", action="store_true",
                   help="accept a library without records (header-only CSV, exit 0; default: warn and exit 1)")
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
    p.add_argument("--rotations", type=int, default=CLI_ROTATIONS,
                   help="score each molecule's best pose in this many fixed orientations and average the logits "
                        "(test-time augmentation, as gnina's --cnn_rotation; that many forward passes a molecule; "
                        f"default {CLI_ROTATIONS}, chosen on the validation targets; 1: the pose as posed)")
    p.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads in this process (0 = default)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="CNN arithmetic: auto (bf16 autocast on CUDA and on CPUs with AMX or AVX512-BF16, "
                        "else fp32), fp32, bf16")
    p.set_defaults(func=_cmd_score)
    e = sub.add_parser("enrich", help="ROC AUC and EF1%% of an 'atomgrid score' CSV, actives given by id")
    e.add_argument("scores", help="OUT.csv of atomgrid score")
    e.add_argument("--actives", required=True, nargs="+", help="library file(s) whose record ids are the actives")
    e.add_argument("--columns", nargs="+", default=None,
                   help="score columns to rank by (default: blend when the CSV has it filled, else score; e.g. blend "
                        "score ligand_only pK pK_vina_prior vina; vina is ranked lowest first)")
    e.add_argument("--plot", metavar="PNG", help="write ROC and enrichment curves of the columns side by side")
    e.add_argument("--json", metavar="PATH", help="write the figures per column as JSON here, with provenance "
                                                 "(command, versions, commit, sha256 of the CSV and actives files, date)")
    e.set_defaults(func=_cmd_enrich)
