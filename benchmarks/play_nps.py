"""Nodes per second through the play protocols (UCI for chess, GTP for Go 9x9 and Connect Four),
against a baseline measured in the same run: `Engine.analyse` called directly on the same
position with the same net and visits. The ratio shows what the protocol layer (background
thread, progress snapshots, text parsing) costs.

    PYTHONPATH=. python benchmarks/play_nps.py [--visits 400] [--preset b6c64] [--repeats 3]

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


def engine_for(game, preset: str, visits: int, batch: int) -> Engine:
    torch.manual_seed(0)
    net = build_net(game, preset) if preset != "none" else None
    return Engine(game, net, search=SearchConfig(num_simulations=visits), batch_size=batch)


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
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
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
    for label, base_fn, proto_fn in cases:
        base_fn()   # warm-up: the first forward passes per batch shape are slow (kernel set-up)
        proto_fn()
        b, p = [], []
        for _ in range(a.repeats):   # interleaved, so load from other processes hits both alike
            b.append(base_fn())
            p.append(proto_fn())
        base, proto = statistics.median(b), statistics.median(p)
        print(f"{label:24s} {base:11.0f} {proto:13.0f} {proto / base:6.2f}")


if __name__ == "__main__":
    main()
