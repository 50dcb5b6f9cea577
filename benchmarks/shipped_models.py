"""The figures `tests/test_shipped_models.py` pins the shipped nets to, measured on this machine in fp32 on one
thread and written to benchmarks/results/shipped_models.json (the test reads its expected values from there).

    PYTHONPATH=. .venv/bin/python benchmarks/shipped_models.py [--skip-atomgrid | --atomgrid-only]

- tictactoe: share of all 4,520 non-terminal reachable positions where the net's move is optimal (exact
  negamax values) and 200 games against randomised perfect play, for the raw policy and 32-256 visits;
- connect4: share of moves that are not mistakes / perfect, raw policy, first 200 of each Pons file
  (../shared/data/games/connect4; the model card and docs/benchmarks.md quote the same figures);
- checkers: a fixed-seed short match, the net at 32 visits against pure MCTS with 64 roll-outs;
- go9, chess: the value of positions whose result is decided (side to move's view, in [-1, 1]);
- atomgrid: ROC AUC of the default screening model on a fixed 60-molecule DUD-E fabp4 subset
  (15 actives + 45 decoys, seeded), template poses.

The measuring functions are imported by the test, so the JSON and the test measure the same thing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # ahead of benchmarks/, whose selfplay.py would shadow the package

from boardnet.engine import Engine  # noqa: E402
from boardnet.search import SearchConfig  # noqa: E402

RESULT = ROOT / "benchmarks" / "results" / "shipped_models.json"
C4_POSITIONS = 200
CHECKERS_MATCH = {"games": 6, "net_visits": 32, "mcts_simulations": 64, "seed": 0}
FABP4_SUBSET = {"actives": 15, "decoys": 45, "seed": 0}

# Decided positions, by the game's position text. Go: Tromp-Taylor area with komi 7 (score() below says by how
# much); chess: a lone king against king and queen; checkers: three kings against a man, six men against two.
E, X, O = ".........", "xxxxxxxxx", "ooooooooo"
GO9_DECIDED = {   # name -> (rows top to bottom, the side that has won)
    "white_by_34": ([E, E, X, O, E, E, E, E, E], "w"),
    "black_by_38": ([E, E, E, E, E, E, X, O, E], "b"),
}
CHESS_DECIDED = {  # name -> (FEN, the side that has won)
    "white_queen_up": ("4k3/8/8/8/8/8/8/3QK3 {tp} - - 0 1", "w"),
    "black_queen_up": ("3qk3/8/8/8/8/8/8/4K3 {tp} - - 0 1", "b"),
}
CHECKERS_DECIDED = {  # name -> (PDN FEN, the side that has won); Black moves first, toward the high squares
    "black_three_kings_vs_a_man": ("{tp}:W30:BK1,K5,K9", "b"),
    "white_six_men_vs_two": ("{tp}:W21,22,23,24,25,26:B1,2", "w"),
}


def data_root() -> Path:
    return Path(os.environ.get("GRIDNETS_DATA", ROOT.parent / "shared" / "data"))


def engine(name: str, visits: int = 16) -> Engine:
    """A shipped net in fp32 on the CPU: the figures do not depend on what `auto` picks on a machine."""
    return Engine.from_checkpoint(name, device="cpu", precision="fp32", search=SearchConfig(num_simulations=visits))


# ----------------------------------------------------------------------------- tictactoe
TTT_VISITS = (0, 32, 64, 128, 256)   # 0: the raw policy


def tictactoe_perfection(visits: tuple[int, ...] = TTT_VISITS, games: int = 200, seed: int = 5) -> dict:
    """{visits: {positions, optimal_moves, games, losses, draws, wins}} of the shipped tictactoe net."""
    from selfplay import evaluate as ev
    eng = engine("tictactoe")
    return {str(v): ev.tictactoe_perfection(ev.NetPlayer(eng.evaluator, v), games=games, seed=seed) for v in visits}


# ----------------------------------------------------------------------------- connect4
def connect4_accuracy(positions: int = C4_POSITIONS) -> dict:
    """{file stem: {not_mistake, perfect}} of the raw policy on the first `positions` of each Pons file."""
    from selfplay import evaluate as ev
    eng = engine("connect4")
    files = ev.solved_files(data_root() / "games" / "connect4")
    if not files:
        raise FileNotFoundError(f"no Test_*.scores under {data_root() / 'games' / 'connect4'}")
    out = {}
    for path in files:
        acc = ev.solved_accuracy(eng.game, ev.NetPlayer(eng.evaluator, 0), path, positions)
        out[path.stem] = {"not_mistake": acc["not_mistake"], "perfect": acc["perfect"]}
    return out


# ----------------------------------------------------------------------------- checkers
def checkers_match(games: int = CHECKERS_MATCH["games"], net_visits: int = CHECKERS_MATCH["net_visits"],
                   mcts_simulations: int = CHECKERS_MATCH["mcts_simulations"], seed: int = CHECKERS_MATCH["seed"]) -> dict:
    """The net (net_visits, no noise) against pure MCTS; colours alternate, 2 seeded random opening plies."""
    from selfplay import evaluate as ev
    eng = engine("checkers")
    net = ev.NetPlayer(eng.evaluator, net_visits, seed=seed)
    r = ev.play_match(eng.game, net, ev.mcts_player(eng.game, mcts_simulations, seed=seed), games, seed=seed)
    return {"score": r.score, "wins": r.wins, "draws": r.draws, "losses": r.losses, "plies": r.plies}


# ----------------------------------------------------------------------------- values of decided positions
def decided_values(name: str) -> dict:
    """{position name: {"to_move": side, "winner": side, "value": net value for the side to move}}."""
    eng = engine(name)
    cases = {"go9": GO9_DECIDED, "chess": CHESS_DECIDED, "checkers": CHECKERS_DECIDED}[name]
    out = {}
    for case, (pos, winner) in cases.items():
        for tp in "bw" if name != "chess" else "wb":
            text = f"9 7.0 {tp} " + "/".join(pos) if name == "go9" else pos.format(tp=tp.upper() if name == "checkers" else tp)
            s = eng.game.state_from_text(text)
            _, v = eng.evaluator.evaluate([s])
            out[f"{case}_{tp}_to_move"] = {"to_move": tp, "winner": winner, "value": float(v[0])}
    return out


# ----------------------------------------------------------------------------- atomgrid
def fabp4_subset_library(out: Path, actives: int = FABP4_SUBSET["actives"], decoys: int = FABP4_SUBSET["decoys"],
                         seed: int = FABP4_SUBSET["seed"]) -> tuple[Path, set[str]]:
    """A .smi of a seeded sample of fabp4's actives and decoys (DUD-E .ism lines: SMILES id ...)."""
    d = data_root() / "drug" / "dude" / "fabp4"
    rng = np.random.default_rng(seed)
    picked, active_ids = [], set()
    for kind, n in (("actives", actives), ("decoys", decoys)):
        lines = [l.split() for l in (d / f"{kind}_final.ism").read_text().splitlines() if l.strip()]
        for i in sorted(rng.choice(len(lines), n, replace=False)):
            smi, ident = lines[i][0], lines[i][1]
            picked.append(f"{smi} {ident}")
            if kind == "actives":
                active_ids.add(ident)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(picked) + "\n")
    return out, active_ids


def fabp4_subset_auc(work: Path) -> dict:
    """ROC AUC (and seconds) of the default screening model on the fabp4 subset, template poses, fp32, in-process.
    A record that fails to pose ranks last, as in `atomgrid.evaluate.evaluate_dude_template`."""
    import csv

    from atomgrid.metrics import roc_auc
    from atomgrid.models import DEFAULT_MODEL
    from atomgrid.score import ScoreOptions, score_library
    d = data_root() / "drug" / "dude" / "fabp4"
    lib, actives = fabp4_subset_library(Path(work) / "fabp4_subset.smi")
    out = Path(work) / "fabp4_subset.csv"
    t0 = time.perf_counter()
    score_library(d / "receptor.pdb", lib, out, autobox_ligand=d / "crystal_ligand.mol2", model=None,
                  options=ScoreOptions(poses="template", precision="fp32", rotations=1), device="cpu", progress=False,
                  affinity_models=())  # the regression check reads the model's score only
    seconds = time.perf_counter() - t0
    best: dict[str, float] = {}
    failed = 0
    for r in csv.DictReader(open(out)):
        s = float(r["score"]) if r["score"] and not r["error"] else -1.0
        failed += s == -1.0
        best[r["id"]] = max(best.get(r["id"], -np.inf), s)
    y = np.array([i in actives for i in best], float)
    return {"model": DEFAULT_MODEL, "molecules": len(best), "actives": int(y.sum()), "failed": int(failed),
            "roc_auc": roc_auc(y, np.array(list(best.values()))), "seconds": round(seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-atomgrid", action="store_true")
    ap.add_argument("--atomgrid-only", action="store_true",
                    help="re-measure the default atomgrid model only (a new default); keep the boardnet figures of --out")
    ap.add_argument("--out", default=str(RESULT))
    args = ap.parse_args()
    torch.set_num_threads(1)
    from _results import write_result
    from boardnet.models import resolve
    figures: dict = {"settings": {"connect4_positions": C4_POSITIONS, "checkers_match": CHECKERS_MATCH,
                                  "fabp4_subset": FABP4_SUBSET, "precision": "fp32", "torch_threads": 1}}
    models = {n: resolve(n) for n in ("tictactoe", "connect4", "checkers", "go9", "chess")}
    if args.atomgrid_only:
        if args.skip_atomgrid or not Path(args.out).exists():
            raise SystemExit("--atomgrid-only keeps the boardnet figures of an existing --out (and measures atomgrid)")
        old = json.loads(Path(args.out).read_text())
        figures = old["figures"]
        # where the kept figures were measured (this file's header describes the atomgrid run)
        figures.setdefault("boardnet_figures_from", {k: old.get(k) for k in ("command", "date", "cpu", "git_commit")})
    else:
        t0 = time.perf_counter()
        figures["tictactoe_perfection"] = tictactoe_perfection()
        figures["tictactoe_seconds"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        figures["connect4_raw_policy"] = connect4_accuracy()
        figures["connect4_seconds"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        figures["checkers_vs_mcts"] = checkers_match()
        figures["checkers_seconds"] = round(time.perf_counter() - t0, 1)
        figures["go9_values"] = decided_values("go9")
        figures["chess_values"] = decided_values("chess")
        figures["checkers_values"] = decided_values("checkers")
    if not args.skip_atomgrid:
        import tempfile

        from atomgrid.models import model_path
        models["atomgrid"] = model_path()
        with tempfile.TemporaryDirectory() as tmp:
            figures["atomgrid_fabp4_subset"] = fabp4_subset_auc(Path(tmp))
    elif Path(args.out).exists():   # keep the earlier atomgrid figure (and name the model it is of)
        old = json.loads(Path(args.out).read_text())["figures"].get("atomgrid_fabp4_subset")
        if old:
            from atomgrid.models import model_path
            figures["atomgrid_fabp4_subset"] = old
            models["atomgrid"] = model_path(old["model"])  # the model it was measured on, not today's default
    path = write_result("shipped_models", figures, models=models, out=args.out)
    print(json.dumps(figures["atomgrid_fabp4_subset"] if args.atomgrid_only else figures, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
