"""Nodes per second through the play protocols (UCI for chess, GTP for Go 9x9 and Connect Four),
against a baseline measured in the same run: `Engine.analyse` called directly on the same
position with the same net and visits. The ratio shows what the protocol layer (background
thread, progress snapshots, text parsing) costs.

    PYTHONPATH=. python benchmarks/play_nps.py [--visits 400] [--preset b6c64] [--repeats 3] [--json [PATH]]
    PYTHONPATH=. python benchmarks/play_nps.py --precisions auto fp32 --visits 3000   # issue 19

With --precisions, the protocol runs (UCI `go nodes N`, GTP `genmove`) are repeated per precision,
interleaved, and the ratio of each against fp32 is printed and written to benchmarks/results/play_nps-*.json.

Nets are randomly initialised (same shape as a trained one; speed does not depend on the weights).
"""
from __future__ import annotations

import argparse
import io
import platform
import statistics
import time

import torch

from boardnet.engine import Engine
from boardnet.games import make_game
from boardnet.gtp import GTPServer
from boardnet.nets import build_net
from boardnet.search import SearchConfig
from boardnet.uci import UCIServer


PRECISION = "fp32"   # the precision engine_for builds with (set per run by --precisions)


def engine_for(game, preset: str, visits: int, batch: int) -> Engine:
    from traincore.runtime import Runtime
    torch.manual_seed(0)
    net = build_net(game, preset) if preset != "none" else None
    rt = Runtime.create("cpu", precision=PRECISION) if net is not None else None
    return Engine(game, net, search=SearchConfig(num_simulations=visits), batch_size=batch, runtime=rt)


def direct(game, preset, visits, batch, state) -> float:
    eng = engine_for(game, preset, visits, batch)
    t0 = time.perf_counter()
    eng.analyse(state, visits=visits)
    return visits / (time.perf_counter() - t0)


def via_uci(game, preset, visits, batch, moves: str) -> float:
    eng = engine_for(game, preset, visits, batch)
    out = io.StringIO()
    s = UCIServer(game, lambda m: eng, visits=visits, out=out)
    s.handle(f"position startpos moves {moves}")
    t0 = time.perf_counter()
    s.handle(f"go nodes {visits}")
    s._wait()
    dt = time.perf_counter() - t0
    assert out.getvalue().splitlines()[-1].startswith("bestmove ")
    return visits / dt


def via_gtp(game, preset, visits, batch, moves: list[str]) -> float:
    eng = engine_for(game, preset, visits, batch)
    out = io.StringIO()
    s = GTPServer(game, lambda g: eng, visits=visits, out=out)
    colour = "b"
    for m in moves:
        s.handle(f"play {colour} {m}")
        colour = "w" if colour == "b" else "b"
    t0 = time.perf_counter()
    s.handle(f"genmove {colour}")
    dt = time.perf_counter() - t0
    assert out.getvalue().rstrip().splitlines()[-1].startswith("= ")
    return visits / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--visits", type=int, default=400)
    ap.add_argument("--preset", default="b6c64", help="net shape, or 'none' for network-free roll-outs")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (1: on a shared, oversubscribed CPU the OpenMP "
                         "spin barriers of 2+ threads cost 20x on the main thread)")
    ap.add_argument("--precisions", nargs="+", choices=("auto", "fp32", "bf16", "int8"),
                    help="compare the protocol nps at these precisions against fp32 (issue 19)")
    ap.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                    help="protocol against direct: write the rows with provenance to "
                         "benchmarks/results/play_nps_protocol-<date>.json (or PATH)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.precisions:
        return compare_precisions(a)
    print(f"# play_nps: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, net {a.preset}, {a.visits} visits, batch {a.batch}")
    print(f"{'protocol':24s} {'direct n/s':>11s} {'protocol n/s':>13s} {'ratio':>6s}")
    cases = []
    chess = make_game("chess")
    cmoves = "e2e4 e7e5 g1f3 b8c6"
    st = chess.initial_state()
    for m in cmoves.split():
        st = st.apply(st.text_to_action(m))
    cases.append(("UCI chess", lambda: direct(chess, a.preset, a.visits, a.batch, st),
                  lambda: via_uci(chess, a.preset, a.visits, a.batch, cmoves)))
    for name, moves in (("go9", ["E5", "C3", "G7"]), ("connect4", ["4", "4", "3"])):
        g = make_game(name)
        s = g.initial_state()
        for m in moves:
            s = s.apply(s.text_to_action(m))
        cases.append((f"GTP {name}", lambda g=g, s=s: direct(g, a.preset, a.visits, a.batch, s),
                      lambda g=g, moves=moves: via_gtp(g, a.preset, a.visits, a.batch, moves)))
    rows = []
    for label, base_fn, proto_fn in cases:
        base_fn()   # warm-up: the first forward passes per batch shape are slow (kernel set-up)
        proto_fn()
        b, p = [], []
        for _ in range(a.repeats):   # interleaved, so load from other processes hits both alike
            b.append(base_fn())
            p.append(proto_fn())
        base, proto = statistics.median(b), statistics.median(p)
        print(f"{label:24s} {base:11.0f} {proto:13.0f} {proto / base:6.2f}")
        rows.append({"case": label, "direct_nps": base, "protocol_nps": proto, "ratio": proto / base,
                     "direct_runs": b, "protocol_runs": p})
    if a.json is not None:
        import sys
        from pathlib import Path
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from benchmarks._results import write_result
        figures = {"visits": a.visits, "preset": a.preset, "batch": a.batch, "repeats": a.repeats, "rows": rows}
        print(f"wrote {write_result('play_nps_protocol', figures, out=a.json or None)}")


def compare_precisions(a) -> None:
    """UCI chess and GTP go9 nps per precision, interleaved; ratios against fp32; JSON result."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks._results import write_result
    from traincore.runtime import Runtime
    global PRECISION
    precs = list(dict.fromkeys(["fp32", *a.precisions]))
    chess, go9 = make_game("chess"), make_game("go9")
    cases = {"uci chess go nodes": lambda: via_uci(chess, a.preset, a.visits, a.batch, "e2e4 e7e5 g1f3 b8c6"),
             "gtp go9 genmove": lambda: via_gtp(go9, a.preset, a.visits, a.batch, ["E5", "C3", "G7"])}
    figures = {"visits": a.visits, "preset": a.preset, "batch": a.batch,
               "runtimes": {p: Runtime.create("cpu", precision=p).metadata() for p in precs}}
    print(f"# play_nps: torch {torch.__version__}, {torch.get_num_threads()} threads, net {a.preset}, "
          f"{a.visits} visits, batch {a.batch}; auto: {Runtime.create('cpu').describe()}")
    for label, fn in cases.items():
        runs = {p: [] for p in precs}
        for r in range(a.repeats + 1):   # round 0 is the warm-up
            for p in precs:
                PRECISION = p
                v = fn()
                if r:
                    runs[p].append(v)
        med = {p: statistics.median(v) for p, v in runs.items()}
        figures[label] = {"nps": med, "runs": runs, "ratio_vs_fp32": {p: med[p] / med["fp32"] for p in precs}}
        print(f"{label:22s} " + "  ".join(f"{p} {med[p]:,.0f} n/s ({med[p] / med['fp32']:.2f}x)" for p in precs))
    print(f"wrote {write_result('play_nps', figures)}")


if __name__ == "__main__":
    main()
