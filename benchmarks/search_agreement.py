"""How often a search's move differs from the raw policy's first choice, and which of the two matches the expert's
move, on expert positions (Go: KGS records). A diagnostic for a net whose search does not beat its own policy: if the
search almost always plays the policy's move, the value head is not steering it.

    python benchmarks/search_agreement.py --model go19 --records ../shared/data/games/go/kgs6d/KGS-2015-19-8133-.tar.gz

Positions: `--positions` of them, `--per-game` a game from plies 20-250 of games with 120+ moves, after skipping
`--skip` games (seeded). Writes a JSON under benchmarks/results/ (`--out`)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import write_result  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="go19")
    ap.add_argument("--records", required=True, help="a Go record file or archive (SGF, .tar.gz)")
    ap.add_argument("--positions", type=int, default=90)
    ap.add_argument("--per-game", type=int, default=3)
    ap.add_argument("--skip", type=int, default=500, help="games skipped first")
    ap.add_argument("--visits", type=int, nargs="+", default=[100])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from boardnet import models
    from boardnet.players import load_engine
    from boardnet.records.read import read_records

    rng = np.random.default_rng(a.seed)
    pos, game = [], None
    for i, rec in enumerate(read_records([a.records])):
        if i < a.skip:
            continue
        states = list(rec.states())
        if len(states) < 120:
            continue
        game = rec.start.game
        for k in rng.choice(np.arange(20, min(len(states), 250)), a.per_game, replace=False):
            pos.append((states[k], int(rec.actions[k])))
        if len(pos) >= a.positions:
            break
    if not pos:
        print(f"--records {a.records}: no game of 120+ moves after skipping {a.skip}", file=sys.stderr)
        return 2
    rows = []
    for visits in a.visits:
        eng = load_engine(game, a.model, visits=visits)
        same = pol_hit = srch_hit = 0
        t = time.perf_counter()
        for s, human in pos:
            priors, _ = eng.evaluator.evaluate([s])
            top = int(np.argmax(priors[0]))
            eng.new_game()                   # each position searched afresh (no tree reuse)
            best = int(eng.analyse(s, visits=visits).best_action)
            same += best == top
            pol_hit += top == human
            srch_hit += best == human
        n = len(pos)
        rows.append({"visits": visits, "positions": n, "search_plays_policy_move": same / n,
                     "policy_matches_expert": pol_hit / n, "search_matches_expert": srch_hit / n,
                     "seconds": time.perf_counter() - t})
        print(f"{visits} visits: search plays the policy's first choice {same / n:.3f}, expert move matched by "
              f"policy {pol_hit / n:.3f} / search {srch_hit / n:.3f} ({n} positions)", flush=True)
    path = models.resolve(a.model)
    out = write_result("search_agreement", {"records": a.records, "skip": a.skip, "seed": a.seed, "rows": rows},
                       models={"model": path}, out=a.out)
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
