"""`selfplay` command line: train, supervised, report, export, teach."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from traincore._version import __version__


def _config_source(args, what: str, example: str) -> tuple[Path, Path | None] | None:
    """(config path, run folder or None) from --config / --resume; prints the error and gives None."""
    if args.resume:
        run_dir = Path(args.resume)
        if not (run_dir / "config.toml").exists():
            print(f"{what}: --resume {run_dir}: not a run folder (no config.toml)", file=sys.stderr)
            return None
        return run_dir / "config.toml", run_dir
    if args.config is None:
        print(f"{what}: give --config {example} or --resume RUN_DIR", file=sys.stderr)
        return None
    return Path(args.config), None


def _train(args) -> int:
    from selfplay.config import Config
    from traincore.config import ConfigError, load_config

    overrides = list(args.set or [])
    if args.precision:
        overrides.append(f"run.precision={args.precision}")
    if args.init:
        if args.resume:
            print("selfplay train: --init starts a new run; it cannot be combined with --resume", file=sys.stderr)
            return 2
        overrides.append(f"run.init={args.init}")
    where = _config_source(args, "selfplay train", "configs/<game>.toml")
    if where is None:
        return 2
    config_path, run_dir = where
    try:
        cfg = load_config(Config, config_path, overrides)
    except ConfigError as e:
        print(f"selfplay: {e}", file=sys.stderr)
        return 2
    if args.address and cfg.run.num_workers == 0:
        print(f"selfplay: --address {args.address}: this config plays in the driver (run.num_workers = 0); set "
              "run.num_workers to the Ray actors wanted", file=sys.stderr)
        return 2
    from selfplay.run import Trainer
    from traincore.checkpoint import CheckpointError
    try:
        trainer = Trainer(cfg, run_dir=run_dir, address=args.address, resume=bool(args.resume),
                          progress=not args.quiet)
    except (FileNotFoundError, FileExistsError, ValueError, CheckpointError) as e:
        print(f"selfplay: {e}", file=sys.stderr)
        return 2
    try:
        summary = trainer.run()
    except KeyboardInterrupt:
        print(f"\nselfplay: interrupted at step {trainer.learner.step}; checkpoint and {trainer.run_dir}/model.pt saved; "
              f"resume with: selfplay train --resume {trainer.run_dir}", file=sys.stderr)
        return 130
    return _print_report(summary.run_dir, cfg.game.name, summary.model_path)


def _print_report(run_dir: Path, game: str, model: Path) -> int:
    """After a finished run: the curves, the summary and how to play the saved model."""
    from selfplay.report import write_report
    png, text = write_report(run_dir)
    print(text)
    print(f"curves: {png}")
    print(f"saved model: {model}  (play it: boardnet play {game} --model {model})")
    return 0


def _report(args) -> int:
    from selfplay.report import write_report
    try:
        png, text = write_report(args.run_dir)
    except FileNotFoundError as e:
        print(f"selfplay: {e}", file=sys.stderr)
        return 2
    print(text)
    print(f"curves: {png}")
    if args.json:
        from selfplay.report import write_results_json
        out = write_results_json(args.run_dir, args.json)
        print(f"wrote {out}")
    return 0


def _export(args) -> int:
    """Copy the net (and nothing else: no replay buffer, no optimizer) out of a run checkpoint."""
    from boardnet.nets import model_state, net_from_state
    from traincore.checkpoint import CheckpointError, CheckpointManager, load_checkpoint, save_checkpoint
    src = Path(args.source)
    out_path = Path(args.out)
    if out_path.exists():  # writing a model over a run's checkpoint, or over some other file, loses work
        if out_path.is_dir():
            why = "is a folder"
        elif out_path.resolve() == src.resolve() or out_path.resolve().parent in (
                src.resolve(), (src / "checkpoints").resolve()) or (
                not args.resumable and out_path.parent.name == "checkpoints" and out_path.name.startswith("ckpt_")):
            why = "is a run checkpoint (its optimizer and replay buffer would be lost)"
        elif out_path.read_bytes()[:4] != b"PK\x03\x04":
            why = "exists and is not a model file"
        else:
            why = None
        if why:
            print(f"selfplay export: --out {out_path} {why}; choose another path", file=sys.stderr)
            return 2
    try:
        if src.is_dir():
            mgr = CheckpointManager(src / "checkpoints" if (src / "checkpoints").is_dir() else src)
            state = mgr.load_latest()
            if state is None:
                raise CheckpointError(f"{src}: no checkpoints")
        else:
            state = load_checkpoint(src, kind="boardnet")
        if args.resumable:
            if "learner" not in state:
                raise ValueError(f"{src}: a model file, not a run checkpoint (no optimizer state to keep)")
        else:
            gating = ((state.get("config") or {}).get("eval") or {}).get("gating", False)
            if src.is_dir() and gating and state.get("best_model") is not None:
                state = state["best_model"]   # under eval.gating the run's model is the best net, not the candidate
        net = net_from_state(state)
    except (CheckpointError, ValueError) as e:
        print(f"selfplay export: {e}", file=sys.stderr)
        return 2
    if args.resumable:
        slim = {k: v for k, v in state.items() if k != "replay"}
        out = save_checkpoint(args.out, slim)
        print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, step {state.get('step', 0)}, no replay buffer)")
        return 0
    # training aids (Go's pass_after) are not rules: the exported net plays the standard game
    kwargs = {k: v for k, v in state.get("game_kwargs", {}).items() if k != "pass_after"}
    extra = {"runtime": state["runtime"]} if "runtime" in state else {}   # the training precision
    out = save_checkpoint(args.out, model_state(net, state["game"], kwargs, step=int(state.get("step", 0)),
                                                **extra))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, step {state.get('step', 0)})")
    return 0


def _supervised(args) -> int:
    from selfplay.supervised import SLConfig, SupervisedTrainer
    from traincore.checkpoint import CheckpointError
    from traincore.config import ConfigError, load_config

    where = _config_source(args, "selfplay supervised", "configs/<game>_sl.toml")
    if where is None:
        return 2
    config_path, run_dir = where
    try:
        cfg = load_config(SLConfig, config_path, list(args.set or []))
        trainer = SupervisedTrainer(cfg, run_dir=run_dir, resume=bool(args.resume), progress=not args.quiet)
    except (ConfigError, FileNotFoundError, FileExistsError, ValueError, CheckpointError) as e:
        print(f"selfplay supervised: {e}", file=sys.stderr)
        return 2
    try:
        path = trainer.run()
    except KeyboardInterrupt:
        print(f"\nselfplay supervised: interrupted at step {trainer.step}; checkpoint and {trainer.run_dir}/model.pt "
              f"saved; resume with: selfplay supervised --resume {trainer.run_dir}", file=sys.stderr)
        return 130
    except ValueError as e:
        print(f"selfplay supervised: {e}", file=sys.stderr)
        return 2
    return _print_report(trainer.run_dir, trainer.game.name, path)


def _supervised_eval(args) -> int:
    from selfplay.supervised import SLConfig, evaluate_model
    from traincore.config import ConfigError, load_config

    run_dir = Path(args.run) if args.run else None
    config_path = args.config or (run_dir / "config.toml" if run_dir else None)
    model = args.model or (run_dir / "model.pt" if run_dir else None)
    if config_path is None or model is None:
        print("selfplay supervised-eval: give --run RUN_DIR, or --config and --model", file=sys.stderr)
        return 2
    try:
        cfg = load_config(SLConfig, config_path, list(args.set or []))
        r = evaluate_model(model, cfg.data, split=args.split, limit=args.positions, precision=args.precision,
                           symmetries=args.symmetries)
    except (ConfigError, FileNotFoundError, ValueError) as e:
        print(f"selfplay supervised-eval: {e}", file=sys.stderr)
        return 2
    print(f"{args.split}: {r['positions']:,} positions from {r['games']} games: top-1 {r['top1']:.4f}, "
          f"top-3 {r['top3']:.4f}, policy loss {r['policy_loss']:.4f}, value MSE {r['value_mse']:.4f}")
    if args.json:
        from traincore.provenance import write_results
        out = write_results(args.json, "supervised-eval", r, models=[model],
                            settings={"split": args.split, "config": str(config_path), "positions": args.positions,
                                      "symmetries": args.symmetries})
        print(f"wrote {out}")
    return 0


_CHECKERS_TEACH = ("checkers needs no teacher engine: the shared ACF master games "
                   "(/work/shared/data/games/checkers/acf, 9,377 games with results) are labelled data "
                   "already. Train on them with: selfplay supervised --config configs/checkers_sl.toml "
                   "(or any SL config with [game] name = \"checkers\" and those files in data.paths, "
                   "format acf).")


def _teach(args) -> int:
    """`selfplay teach go|chess|checkers`: an external engine labels games (see selfplay/teach.py)."""
    if args.game == "checkers":
        print(_CHECKERS_TEACH)
        return 0
    from selfplay.teach import ChessTeach, GoTeach, TeachError, teach
    try:
        if args.game == "go":
            if not 5 <= args.size <= 19:
                raise TeachError(f"--size {args.size}: Go boards are 5-19")
            cfg = GoTeach(engine=args.engine or GoTeach.engine, size=args.size, komi=args.komi,
                          random_opening_plies=args.random_opening_plies, max_plies=args.max_plies,
                          seed=args.seed)
        else:
            if (args.nodes is None) == (args.depth is None):
                raise TeachError("chess: give exactly one of --nodes N or --depth D")
            openings = ()
            if args.openings:
                openings = tuple(ln.split(";")[0].strip() for ln in Path(args.openings).read_text().splitlines()
                                 if ln.strip() and not ln.lstrip().startswith("#"))
                if not openings:
                    raise TeachError(f"--openings {args.openings}: no FEN lines")
            cfg = ChessTeach(engine=args.engine or ChessTeach.engine, nodes=args.nodes, depth=args.depth,
                             multipv=args.multipv, random_opening_plies=args.random_opening_plies,
                             openings=openings, max_plies=args.max_plies or ChessTeach.max_plies,
                             seed=args.seed)
        if args.games < 0 or (args.workers is not None and args.workers < 1) or args.random_opening_plies < 0:
            raise TeachError("--games and --random-opening-plies must be >= 0, --workers >= 1")
        summary = teach(cfg, args.games, args.out, workers=args.workers, progress=not args.quiet,
                        notice=lambda m: print(f"selfplay teach: {m}", file=sys.stderr))
    except (TeachError, OSError) as e:
        print(f"selfplay teach: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nselfplay teach: interrupted; finished games are kept (and summarised in "
              f"teach-summary.json) in {args.out}; rerun the same command to play the rest", file=sys.stderr)
        return 130
    r = summary["this_run"]
    print(f"{summary['engine']}: {r['games']} games ({r['positions']:,} labelled positions) this run, "
          f"{summary['games_in_folder']} in {args.out}; {r['positions_per_cpu_s'] or 0:.1f} positions per "
          f"CPU-second (teacher {r['teacher_cpu_s']:.1f} s + ours {r['our_cpu_s']:.1f} s), "
          f"{r['workers']} worker(s), {r['wall_s']:.1f} s")
    return 1 if r["failed"] else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="selfplay", description="AlphaZero-style self-play training with Ray.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    t = sub.add_parser("train", help="run (or resume) a self-play training run")
    t.add_argument("--config", help="run config, e.g. configs/connect4.toml")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    t.add_argument("--init", metavar="MODEL", help="start from this model's weights (e.g. a supervised net); "
                   "the replay buffer starts empty, the net shape must match the config")
    t.add_argument("--address", help="join an existing Ray cluster (default: embedded local Ray)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--precision", choices=("auto", "fp32", "bf16"),
                   help="network arithmetic for the learner and the actors (same as --set run.precision=...): "
                        "auto (default; bf16 autocast on CUDA and on CPUs with AMX or AVX512-BF16, else fp32), "
                        "fp32, bf16")
    t.set_defaults(fn=_train)
    s = sub.add_parser("supervised", help="train a net on game records (SGF, PGN, PDN, ACF), split by game")
    s.add_argument("--config", help="run config, e.g. configs/go19_sl.toml")
    s.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_supervised)
    v = sub.add_parser("supervised-eval", help="move-prediction accuracy of a model on a split's held-out games")
    v.add_argument("--run", help="a supervised run folder (its config.toml and model.pt)")
    v.add_argument("--config", help="the run config (default: RUN/config.toml)")
    v.add_argument("--model", help="model file (default: RUN/model.pt)")
    v.add_argument("--split", choices=("test", "val", "train"), default="test")
    v.add_argument("--positions", type=int, default=50_000, help="at most this many positions (default 50,000)")
    v.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    v.add_argument("--symmetries", type=int, default=1, choices=range(1, 9), metavar="S",
                   help="average the policy and value over S board symmetries, as `symmetries=S` plays (1-8; "
                        "default 1)")
    v.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key (repeatable)")
    v.add_argument("--json", help="write the figures with provenance to this JSON file")
    v.set_defaults(fn=_supervised_eval)
    r = sub.add_parser("report", help="write RUN_DIR/report.png (curves) and a text summary")
    r.add_argument("run_dir")
    r.add_argument("--json", help="also write the run's evaluation history (with provenance: command, versions, "
                   "the model's sha256, config) to this JSON file, e.g. under benchmarks/results/")
    r.set_defaults(fn=_report)
    e = sub.add_parser("export", help="write just the net of a run (or checkpoint) to a small model file")
    e.add_argument("source", help="a run folder (its newest checkpoint) or a checkpoint file")
    e.add_argument("--out", required=True, help="model file to write, e.g. boardnet/models/connect4.pt")
    e.add_argument("--resumable", action="store_true",
                   help="write the whole run checkpoint but its replay buffer (net, optimizer, step, counters, RNG): "
                        "small enough to commit; `selfplay train --resume` on a folder holding it refills the "
                        "buffer from new games")
    e.set_defaults(fn=_export)
    tc = sub.add_parser("teach", help="an external engine (GNU Go, Stockfish) plays itself and labels the "
                        "positions: SGF/PGN training records", description=(
                            "Teacher data: one record per game in --out, named by game index; rerunning into "
                            "the same folder (e.g. after a kill, or with a larger --games) plays only the "
                            "missing games. Go: the engine's final score as RE and its final status "
                            "(territory, dead stones) as TB/TW; chess: [%eval], [%wdl], [%mpv] per move. "
                            "Random opening plies become setup stones / a FEN start, so every recorded "
                            "move is the teacher's. Checkers needs no engine: `selfplay teach checkers` "
                            "says how to train on the shared ACF master games."))
    tsub = tc.add_subparsers(dest="game", metavar="GAME", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--games", type=int, required=True, help="games 0..N-1 in the folder when done")
    common.add_argument("--out", required=True, help="folder of records (created; reused to resume)")
    common.add_argument("--random-opening-plies", type=int, default=4,
                        help="random legal plies before the teacher starts (default 4)")
    common.add_argument("--max-plies", type=int, help="cut teacher games at this many plies "
                        "(go default: the rules' 2 N^2; chess default 400, written unfinished)")
    common.add_argument("--workers", type=int, help="processes, one engine each (default: usable cores)")
    common.add_argument("--seed", type=int, default=0, help="openings of game i come from (seed, i)")
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    tg = tsub.add_parser("go", parents=[common], help="GTP engine (GNU Go) games with score and ownership")
    tg.add_argument("--engine", help="GTP command (default: gnugo --mode gtp --level 1 --chinese-rules --never-resign)")
    tg.add_argument("--size", type=int, default=9, help="board size 5-19 (default 9)")
    tg.add_argument("--komi", type=float, default=7.0, help="komi (default 7)")
    tg.set_defaults(fn=_teach)
    tch = tsub.add_parser("chess", parents=[common], help="UCI engine (Stockfish) games with per-move evals")
    tch.add_argument("--engine", help="UCI command (default: stockfish)")
    lim = tch.add_mutually_exclusive_group(required=True)
    lim.add_argument("--nodes", type=int, help="nodes per move")
    lim.add_argument("--depth", type=int, help="depth per move")
    tch.add_argument("--multipv", type=int, default=1, help="also record the K best moves and scores (default 1)")
    tch.add_argument("--openings", help="file of FEN lines to start from (game i: line i mod count), "
                     "before the random plies")
    tch.set_defaults(fn=_teach)
    tck = tsub.add_parser("checkers", help="no engine needed: how to train on the ACF master games")
    tck.set_defaults(fn=_teach)
    args = p.parse_args(argv)
    if not getattr(args, "fn", None):
        p.print_help()
        return 0
    _terminate_as_interrupt()
    return args.fn(args)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _terminate_as_interrupt() -> None:
    """SIGTERM (`kill`, a batch scheduler, the end of a session) takes the Ctrl-C path, which keeps the work
    (train, supervised: a checkpoint and model.pt; teach: the games written so far). Background jobs of a
    non-interactive shell ignore SIGINT, so SIGTERM is how they are stopped. Main thread only."""
    import signal
    import threading
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)


if __name__ == "__main__":
    sys.exit(main())
