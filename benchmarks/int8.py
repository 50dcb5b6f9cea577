"""int8 quantized inference against fp32 for the shipped board nets, both measured in the same run on one
thread (the play setting: `boardnet play/gtp/uci/arena --precision int8`).

    PYTHONPATH=. python benchmarks/int8.py [--models go9 chess checkers connect4 go19] [--visits 1600]
        [--repeats 3] [--json out.json]

Per net (figures are int8 / fp32 ratios, so > 1 is faster):
- raw: forward passes at batch 8 and 16 (what a single game's search sends), positions/s;
- search: `Engine.analyse` to `--visits` visits from the start position (tree, cache and net together), nodes/s,
  fp32 and int8 runs interleaved, their order turned each repeat (results before 2026-12-07 used one fixed order), the
  median of `--repeats`;
- numerics: 256 positions from the net's own play (sampled from its fp32 policy with a seed other than the
  calibration's): top-1 agreement (all, and where fp32's best two moves are >= 0.05 apart), fp32's probability
  of int8's choice over fp32's best, mean and max |value difference|;
- with `--fp32-heads`, an int8 copy whose output heads stay fp32 (`boardnet.evaluator.fp32_heads`), as a fourth
  engine in the same rotation: raw and search rates against the int8 copy, and its numerics;
- on a CPU with a bf16 unit (AMX or AVX512-BF16, where `--precision auto` used to pick bf16 autocast), the same
  three for bf16 (raw rates through each engine's own evaluator, search interleaved with the others) and the
  int8 / bf16 ratios: the figures behind `auto` picking int8 for search engines on such CPUs;
- go9 only, when the teacher games are extracted (runs/teach-go9, see campaigns/go9-sl): top-1 on the
  validation split's recorded moves and value MSE against the results, fp32 and int8.
Writes benchmarks/results/int8-<date>.json.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks._results import write_result  # noqa: E402
from boardnet.engine import Engine  # noqa: E402
from boardnet.models import resolve  # noqa: E402
from boardnet.evaluator import calibration_positions, fp32_heads, int8_net  # noqa: E402
from boardnet.nets import value_from_head  # noqa: E402
from traincore.runtime import cpu_bf16_unit  # noqa: E402


def _rate(fn, batch: torch.Tensor, seconds: float = 1.0) -> float:
    with torch.inference_mode():
        for _ in range(5):
            fn(batch)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            fn(batch)
            n += len(batch)
        return n / (time.perf_counter() - t0)


def _start(game):
    s = game.initial_state()
    return s


def bench_model(name: str, visits: int, repeats: int, heads: bool = False) -> dict:
    fp = Engine.from_checkpoint(name, device="cpu", precision="fp32", batch_size=16)
    t0 = time.perf_counter()
    q = Engine.from_checkpoint(name, device="cpu", precision="int8", batch_size=16)
    build_s = time.perf_counter() - t0
    bf = (Engine.from_checkpoint(name, device="cpu", precision="bf16", batch_size=16)
          if cpu_bf16_unit() is not None else None)
    net, qnet, game = fp.net.eval(), q.evaluator._int8, fp.game
    pos = np.concatenate(calibration_positions(net, game, positions=256, seed=1))[:256]
    x = torch.from_numpy(pos)
    out: dict = {"model": name, "int8_build_s": round(build_s, 2)}
    qh = None
    if heads:   # the candidate: the same int8 copy with its output heads fp32, in an engine of its own
        qh = Engine.from_checkpoint(name, device="cpu", precision="int8", batch_size=16)
        qh.evaluator._int8 = int8_net(net, game, heads_fp32=True)
        out["int8_heads_fp32"] = fp32_heads(net)
    for b in (8, 16):
        f, i = _rate(net, x[:b]), _rate(qnet, x[:b])
        out[f"raw_b{b}"] = {"fp32": round(f), "int8": round(i), "ratio": round(i / f, 2)}
        if qh is not None:
            ih = _rate(qh.evaluator._int8, x[:b])
            out[f"raw_b{b}"].update(int8_heads=round(ih), heads_vs_int8=round(ih / i, 2))
        if bf is not None:   # both through their engine's evaluator (bf16: autocast and channels_last)
            h, i2 = _rate(bf.evaluator._run, pos[:b]), _rate(q.evaluator._run, pos[:b])
            out[f"raw_b{b}"].update(bf16=round(h), int8_evaluator=round(i2), int8_vs_bf16=round(i2 / h, 2))
    state = _start(game)
    engines = ([("fp32", fp), ("int8", q)] + ([("bf16", bf)] if bf is not None else [])
               + ([("int8_heads", qh)] if qh is not None else []))
    rates: dict[str, list[float]] = {k: [] for k, _ in engines}
    for r in range(repeats):
        # the order turns each repeat (session 44: a fixed order read the same two int8 copies 0.65x and 0.97x apart)
        for key, eng in engines[r % len(engines):] + engines[:r % len(engines)]:
            eng.new_game()
            eng.evaluator.clear_cache()
            a = eng.analyse(state, visits=visits)
            rates[key].append(a.nodes / a.seconds)
    f, i = statistics.median(rates["fp32"]), statistics.median(rates["int8"])
    out["search"] = {"visits": visits, "fp32_nps": round(f), "int8_nps": round(i), "ratio": round(i / f, 2)}
    if bf is not None:
        h = statistics.median(rates["bf16"])
        out["search"].update(bf16_nps=round(h), int8_vs_bf16=round(i / h, 2))
    if qh is not None:
        ih = statistics.median(rates["int8_heads"])
        out["search"].update(int8_heads_nps=round(ih), heads_vs_int8=round(ih / i, 3),
                             runs={k: [round(v) for v in vs] for k, vs in rates.items()})
    with torch.inference_mode():
        p1, v1 = net(x)
        p2, v2 = qnet(x)
    if bf is not None:   # bf16 against fp32 on the same positions, as int8 below
        lb, vb = bf.evaluator._run(pos)
        same_b = lb.argmax(1) == p1.argmax(1).numpy()
        out["bf16_numerics"] = {"top1_agreement": round(float(same_b.mean()), 4),
                                "value_abs_diff_mean": round(float(np.abs(vb - value_from_head(v1).numpy()).mean()), 4)}
    v1 = value_from_head(v1)
    probs = torch.softmax(p1.float(), 1)
    top2 = probs.topk(2, 1).values
    clear = (top2[:, 0] - top2[:, 1]) >= 0.05

    def numerics(p2, v2) -> dict:
        dv = (v1 - value_from_head(v2)).abs()
        same = p1.argmax(1) == p2.argmax(1)
        kept = probs.gather(1, p2.argmax(1)[:, None]).squeeze(1) / top2[:, 0]
        return {"positions": len(x), "top1_agreement": round(same.float().mean().item(), 4),
                "clear_positions": int(clear.sum()), "top1_agreement_clear": round(same[clear].float().mean().item(), 4),
                "int8_choice_fp32_prob_over_best": round(kept.mean().item(), 4),
                "value_abs_diff_mean": round(dv.mean().item(), 4), "value_abs_diff_max": round(dv.max().item(), 4)}

    out["numerics"] = numerics(p2, v2)
    if qh is not None:
        with torch.inference_mode():
            out["numerics_int8_heads"] = numerics(*qh.evaluator._int8(x))
    if name == "go9" and (ROOT / "runs" / "teach-go9").is_dir():
        from selfplay.supervised import SLData, collect_split
        d = collect_split(SLData(paths=(str(ROOT / "runs" / "teach-go9"),), val_permille=50, test_permille=50,
                                 split_seed=0), "val", 4000, 0, prob=0.3)
        X = torch.from_numpy(d["planes"].astype(np.float32))
        row = {"positions": len(X), "split": "validation (configs/go9_sl.toml's split of runs/teach-go9)"}
        for key, m in (("fp32", net), ("int8", qnet)):
            with torch.inference_mode():
                lg, v = m(X)
            v = value_from_head(v).numpy()
            row[f"{key}_top1"] = round(float((lg.argmax(1).numpy() == d["actions"]).mean()), 4)
            row[f"{key}_value_mse"] = round(float((((v - d["z"]) ** 2) * d["mask"]).sum() / d["mask"].sum()), 4)
        out["go9_validation"] = row
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["go9", "chess", "checkers", "connect4", "go19"],
                    help="shipped names or checkpoint paths")
    ap.add_argument("--visits", type=int, default=1600)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--fp32-heads", action="store_true",
                    help="also measure an int8 copy with its output heads fp32 (boardnet.evaluator.fp32_heads): raw "
                         "and search rates in the same rotation, numerics")
    ap.add_argument("--json", default=None, help="output file (default benchmarks/results/int8-<date>.json)")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from traincore.quant import cpu_int8_unit
    rows = []
    for name in a.models:
        r = bench_model(name, a.visits, a.repeats, heads=a.fp32_heads)
        rows.append(r)
        s = r["search"]
        print(f"{name:9s} raw b8 x{r['raw_b8']['ratio']:.2f} b16 x{r['raw_b16']['ratio']:.2f} | search "
              f"{s['fp32_nps']} -> {s['int8_nps']} nodes/s x{s['ratio']:.2f} | top-1 agreement "
              f"{r['numerics']['top1_agreement']:.3f} (clear {r['numerics']['top1_agreement_clear']:.3f}), |dv| mean {r['numerics']['value_abs_diff_mean']:.3f} "
              f"max {r['numerics']['value_abs_diff_max']:.3f}" +
              (f" | int8 / bf16: search x{s['int8_vs_bf16']:.2f} ({s['bf16_nps']} -> {s['int8_nps']}), raw b16 "
               f"x{r['raw_b16']['int8_vs_bf16']:.2f}, bf16 top-1 agreement {r['bf16_numerics']['top1_agreement']:.3f}"
               if "bf16_nps" in s else "") +
              (f" | go9 validation top-1 {r['go9_validation']['fp32_top1']:.4f} -> "
               f"{r['go9_validation']['int8_top1']:.4f}, value MSE {r['go9_validation']['fp32_value_mse']:.4f} -> "
               f"{r['go9_validation']['int8_value_mse']:.4f}" if "go9_validation" in r else "") +
              (f" | fp32 heads: search x{s['heads_vs_int8']:.3f} of int8 ({s['int8_heads_nps']}), top-1 agreement "
               f"{r['numerics_int8_heads']['top1_agreement']:.3f} (clear {r['numerics_int8_heads']['top1_agreement_clear']:.3f})"
               if "heads_vs_int8" in s else ""), flush=True)
    path = write_result("int8", {"int8_unit": cpu_int8_unit(), "bf16_unit": cpu_bf16_unit(), "threads": a.threads,
                                 "rows": rows},
                        models={n: resolve(n) for n in a.models}, out=a.json)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
