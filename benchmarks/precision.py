"""fp32 against bf16 autocast (+ channels_last) on this CPU, both measured in the same run.

    PYTHONPATH=. python benchmarks/precision.py [--threads 1] [--seconds 1.0] [--parts all]
        [--allow-emulated] [--json out.json]

Parts (each figure is fp32 and bf16 side by side with the ratio bf16 / fp32):
- matmul: 2048^2 GFLOP/s, fp32 tensors against bf16 tensors;
- raw: batched inference, batch 256 (connect4, go9, chess b6c64; go19 b10c128) and batch 16
  (chess, go9 b6c64, single-game play), positions/s, fp32 against `Runtime` bf16 (autocast + channels_last);
- learner: `selfplay.learner.Learner` samples/s at the shipped go9 and chess configs (bf16: autocast,
  fp32 master weights, loss and optimizer state);
- search: lock-step self-play search (benchmarks/search.py's move loop, 256 games, cache off) on
  go9 and chess b6c64: simulations/s, search efficiency against bf16 raw batched positions/s, and
  CPU us per simulation outside the network against the bf16 network's CPU us per position;
- atomgrid: atomnet-c16-l3 on 16^3 grids (the shipped model), batch 32, autocast only (3-D nets keep
  their layout);
- numerics: each shipped boardnet net on 100 fixed positions: top-1 agreement (all positions, and those
  where fp32's best two moves differ by >= 0.05 probability), mean and max |value difference|.

On a CPU with no bf16 unit (`traincore.runtime.cpu_bf16_unit()` is None) `auto` picks fp32 and the
bf16 side here runs emulated by oneDNN; pass --allow-emulated to measure it anyway (it is slower:
that figure is why `auto` does not pick it there). Nets are randomly initialised except in the
numerics and atomgrid parts. Writes benchmarks/results/precision-<date>.json.
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import write_result  # noqa: E402
from benchmarks.search import CountingEvaluator, lockstep_move, sample_states  # noqa: E402
from boardnet.evaluator import NetEvaluator  # noqa: E402
from boardnet.games import make_game  # noqa: E402
from boardnet.nets import build_net  # noqa: E402
from boardnet.search import SearchConfig, Tree  # noqa: E402
from traincore.runtime import Runtime  # noqa: E402

PARTS = ("matmul", "raw", "learner", "search", "atomgrid", "numerics")


def _rate(fn, items_per_call: int, seconds: float) -> float:
    """Items per second of fn() over about `seconds` (at least 2 calls after one warm-up call)."""
    fn()
    n, t0 = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and n >= 2:
            return n * items_per_call / dt


def both(fp32_fn, bf16_fn, unit: str, rounds: int = 2) -> dict:
    """Alternate fp32 and bf16 rounds (load hits both alike); medians and the ratio."""
    f, b = [], []
    for _ in range(rounds):
        f.append(fp32_fn())
        b.append(bf16_fn())
    fm, bm = statistics.median(f), statistics.median(b)
    return {"unit": unit, "fp32": fm, "bf16": bm, "ratio": bm / fm}


def matmul(seconds: float) -> dict:
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    ab, bb = a.bfloat16(), b.bfloat16()
    return both(lambda: _rate(lambda: a @ b, 2 * n ** 3, seconds) / 1e9,
                lambda: _rate(lambda: ab @ bb, 2 * n ** 3, seconds) / 1e9, "GFLOP/s")


def runtimes(allow_emulated: bool) -> tuple[Runtime, Runtime]:
    return (Runtime.create("cpu", precision="fp32"),
            Runtime.create("cpu", precision="bf16", allow_emulated=allow_emulated))


def net_rate(net, x: torch.Tensor, rt: Runtime, seconds: float) -> float:
    m = rt.prepare(copy.deepcopy(net)).eval()
    xx = rt.to_device(x)

    def call():
        with torch.inference_mode(), rt.autocast():
            m(xx)
    return _rate(call, x.shape[0], seconds)


def raw(seconds: float, rts) -> dict:
    out = {}
    cases = [("connect4", "b6c64", 256), ("go9", "b6c64", 256), ("chess", "b6c64", 256), ("go19", "b10c128", 256),
             ("chess", "b6c64", 16), ("go9", "b6c64", 16)]
    for game_name, preset, batch in cases:
        game = make_game(game_name)
        torch.manual_seed(0)
        net = build_net(game, preset).eval()
        x = torch.from_numpy(np.stack([s.planes() for s in sample_states(game, batch)]))
        key = f"{game_name} {preset} batch {batch}"
        out[key] = both(lambda: net_rate(net, x, rts[0], seconds), lambda: net_rate(net, x, rts[1], seconds), "pos/s")
        print(f"  raw {key}: {_fmt(out[key])}", flush=True)
    return out


def learner(seconds: float, rts) -> dict:
    from dataclasses import replace

    from benchmarks.selfplay import learner_throughput
    from selfplay.config import Config
    from traincore.config import load_config
    out = {}
    for name in ("go9", "chess"):
        cfg = load_config(Config, ROOT / "configs" / f"{name}.toml")
        cfg = replace(cfg, train=replace(cfg.train, warmup_steps=0))
        steps = 4
        key = f"{name} {cfg.net.preset} batch {cfg.train.batch_size}"
        out[key] = both(lambda: learner_throughput(cfg, steps, runtime=rts[0]),
                        lambda: learner_throughput(cfg, steps, runtime=rts[1]), "samples/s", rounds=1)
        print(f"  learner {key}: {_fmt(out[key])}", flush=True)
    return out


def search(rts, batch: int = 256, sims: int = 32) -> dict:
    out = {}
    for game_name in ("go9", "chess"):
        game = make_game(game_name)
        torch.manual_seed(0)
        net = build_net(game, "b6c64").eval()
        x = torch.from_numpy(np.stack([s.planes() for s in sample_states(game, batch)]))
        res = {}
        for rt in rts:
            cfg = SearchConfig(num_simulations=sims)
            rng = np.random.default_rng(0)
            trees = [Tree(game.initial_state(), cfg, np.random.default_rng(i)) for i in range(batch)]
            ev = CountingEvaluator(NetEvaluator(copy.deepcopy(net), game, runtime=rt, cache_size=0))
            lockstep_move(trees, ev, sims, rng, game, cfg)   # warm-up
            ev.positions, ev.cpu = 0, 0.0
            t0, c0 = time.perf_counter(), time.process_time()
            lockstep_move(trees, ev, sims, rng, game, cfg)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            n = batch * sims
            raw_rate = net_rate(net, x, rt, 1.0)
            res[rt.precision] = {"sims_s": n / dt, "raw_batched_pos_s": raw_rate, "efficiency": n / dt / raw_rate,
                                 "outside_us_per_sim": (dc - ev.cpu) / n * 1e6,
                                 "net_us_per_position": 1e6 / raw_rate,
                                 "evaluator_us_per_position": ev.cpu / max(ev.positions, 1) * 1e6}
        res["ratio_sims_s"] = res["bf16"]["sims_s"] / res["fp32"]["sims_s"]
        for p in ("fp32", "bf16"):
            res[p]["outside_over_net"] = res[p]["outside_us_per_sim"] / res[p]["net_us_per_position"]
        out[f"{game_name} b6c64 lock-step {batch} games x {sims} sims"] = res
        print(f"  search {game_name}: fp32 {res['fp32']['sims_s']:.0f} sims/s, bf16 {res['bf16']['sims_s']:.0f} "
              f"sims/s, ratio {res['ratio_sims_s']:.2f}; bf16 efficiency {res['bf16']['efficiency']:.2f}; outside "
              f"{res['fp32']['outside_us_per_sim']:.1f} us/sim vs net fp32 {res['fp32']['net_us_per_position']:.1f} / "
              f"bf16 {res['bf16']['net_us_per_position']:.1f} us/pos", flush=True)
    return out


def atomgrid_part(seconds: float, rts) -> tuple[dict, dict]:
    from atomgrid import nets as agnets
    from traincore.checkpoint import load_checkpoint
    path = ROOT / "atomgrid" / "models" / "ag-atomnet-c16-l3-g16r15.pt"
    st = load_checkpoint(path, map_location="cpu")
    net = agnets.build(st["meta"]["net"])
    net.load_state_dict(st["model"])
    net.eval()
    size = st["meta"]["grid"]["size"]
    torch.manual_seed(0)
    x = torch.rand(32, net.cfg.in_channels if hasattr(net, "cfg") else 28, size, size, size)
    out = {f"atomnet-c16-l3 {size}^3 batch 32 inference": both(
        lambda: net_rate(net, x, rts[0], seconds), lambda: net_rate(net, x, rts[1], seconds), "grids/s")}
    print(f"  atomgrid: {_fmt(next(iter(out.values())))}", flush=True)
    return out, {"atomgrid": path}


def numerics(rts, n: int = 100, margin: float = 0.05) -> tuple[dict, dict]:
    """Shipped nets on n fixed positions (seeded random plies): fp32 against bf16 evaluations."""
    from boardnet import models
    from boardnet.nets import net_from_state
    from traincore.checkpoint import load_checkpoint
    out, paths = {}, {}
    for name in models.available():
        path = models.resolve(name)
        st = load_checkpoint(path, kind="boardnet")
        game = make_game(st["game"], **st.get("game_kwargs", {}))
        states = sample_states(game, n, seed=19, max_plies=40)
        p32, v32 = NetEvaluator(net_from_state(st), game, runtime=rts[0], cache_size=0).evaluate(states)
        p16, v16 = NetEvaluator(net_from_state(st), game, runtime=rts[1], cache_size=0).evaluate(states)
        top2 = np.sort(p32, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) >= margin
        agree = p32.argmax(1) == p16.argmax(1)
        dv = np.abs(v32 - v16)
        out[name] = {"positions": n, "top1_agreement": float(agree.mean()), "clear_positions": int(clear.sum()),
                     "top1_agreement_clear": float(agree[clear].mean()) if clear.any() else None,
                     "value_abs_diff_mean": float(dv.mean()), "value_abs_diff_max": float(dv.max()),
                     "policy_abs_diff_max": float(np.abs(p32 - p16).max())}
        paths[name] = path
        print(f"  numerics {name}: {out[name]}", flush=True)
    return out, paths


def _fmt(r: dict) -> str:
    return f"fp32 {r['fp32']:,.0f} {r['unit']}, bf16 {r['bf16']:,.0f} {r['unit']}, ratio {r['ratio']:.2f}x"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    ap.add_argument("--parts", nargs="+", default=["all"], choices=["all", *PARTS])
    ap.add_argument("--allow-emulated", action="store_true",
                    help="measure bf16 on a CPU without a bf16 unit (oneDNN emulation)")
    ap.add_argument("--json", help="output file (default: benchmarks/results/precision-<date>.json)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    parts = PARTS if "all" in a.parts else a.parts
    try:
        rts = runtimes(a.allow_emulated)
    except ValueError as e:
        print(f"precision: {e} (pass --allow-emulated to measure the emulation)", file=sys.stderr)
        return 2
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread(s); auto picks: "
          f"{Runtime.create('cpu').describe()}", flush=True)
    figures = {"auto": Runtime.create("cpu").metadata(), "bf16_runtime": rts[1].metadata()}
    used_models = {}
    if "matmul" in parts:
        figures["matmul_2048"] = matmul(a.seconds)
        print(f"  matmul 2048: {_fmt(figures['matmul_2048'])}", flush=True)
    if "raw" in parts:
        figures["raw"] = raw(a.seconds, rts)
    if "learner" in parts:
        figures["learner"] = learner(a.seconds, rts)
    if "search" in parts:
        figures["search"] = search(rts)
    if "atomgrid" in parts:
        figures["atomgrid"], m = atomgrid_part(a.seconds, rts)
        used_models.update(m)
    if "numerics" in parts:
        figures["numerics"], m = numerics(rts)
        used_models.update(m)
    out = write_result("precision", figures, models=used_models, out=a.json)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
