"""Rule E of campaigns/atomgrid-affinity: a Delta head on Vina over a shipped model's hidden layer.

The trunk stays as it is; only the affinity head (a linear map of the hidden layer h) is refitted, by ridge
regression on standardised h (mean over the same 16 rotations ``atomgrid score`` uses), from the labelled complexes of
the pose/affinity training cache, each with Vina's score_only of its pose (``evaluate.crystal_vina``):

- E1 (Delta): ``pK = pK_vina + ridge(h)``, fitted on ``pK - pK_vina`` (the net alone where Vina cannot score);
- E2 (refit): ``pK = ridge(h)``, fitted on pK (the control: a refitted head without Vina).

Alpha from ``--alphas`` by 5-fold cross-validation grouped by target inside the training cache. Judged on the
validation cache (``--eval-cache``); the result JSON holds per-complex predictions, never the measured pK.

    PYTHONPATH=. .venv/bin/python campaigns/atomgrid-affinity/delta_head.py \\
        --eval-cache runs/atomgrid/cache_val_affinity.pt --json benchmarks/results/atomgrid_delta_head-valaffinity.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from atomgrid import data as agdata  # noqa: E402
from atomgrid import evaluate as ev  # noqa: E402
from atomgrid.metrics import AFFINITY_METRICS, pearson, report  # noqa: E402
from atomgrid.models import gridder_for, load_model, predict  # noqa: E402

DEFAULT_MODEL = "atomgrid/models/ag-atomnet-c16-l3-g16r15-dekois-v3.pt"


def crystal(cache: dict) -> list[int]:
    """Indices of the given (crystal / modelled) poses, as :func:`atomgrid.evaluate.evaluate_casf` scores them."""
    return [i for i, e in enumerate(cache["examples"]) if ":" not in e["source"]]


def hidden(model, meta: dict, cache: dict, rotations: int, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(h ``[n, hidden]`` averaged over the rotations, the net's pK ``[n]``) of the crystal complexes of ``cache``:
    the same forward passes as :func:`atomgrid.models.predict` (fp32), h caught at the input of the affinity head."""
    ds = agdata.ComplexSet(cache)
    idx = crystal(cache)
    items = [(s.receptor, s.ligand, s.center) for s in (ds.sample(i) for i in idx)]
    caught: list[torch.Tensor] = []
    hook = model.affinity.register_forward_hook(lambda m, inp, out: caught.append(inp[0].detach().float().cpu()))
    try:
        _, pk = predict(model, gridder_for(meta, "cpu"), items, bool(meta.get("ligand_only")), batch_size,
                        rotations=rotations)
    finally:
        hook.remove()
    n_rot = max(1, rotations)
    rows = []
    for s in range(0, len(caught), n_rot):  # predict: per batch, one forward pass per rotation
        rows.append(torch.stack(caught[s:s + n_rot]).mean(0))
    h = torch.cat(rows).numpy().astype(np.float64)
    with torch.no_grad():  # the affinity is linear in h: the head of the mean h is the mean pK
        check = model.affinity(torch.from_numpy(h).float()).squeeze(1).numpy()
    if not np.allclose(check, pk, atol=1e-3):
        raise RuntimeError(f"hidden layer does not reproduce the net's pK (max diff {np.abs(check - pk).max():.4f})")
    return h, pk


def ridge_fit(x: np.ndarray, y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(mean, sd, weights, intercept) of ridge regression on standardised ``x``."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = np.linalg.solve(z.T @ z + alpha * np.eye(z.shape[1]), z.T @ (y - y.mean()))
    return mu, sd, w, float(y.mean())


def ridge_predict(fit, x: np.ndarray) -> np.ndarray:
    mu, sd, w, b = fit
    return ((x - mu) / sd) @ w + b


def grouped_cv_alpha(x: np.ndarray, y: np.ndarray, groups: list[str], alphas: list[float], k: int = 5,
                     seed: int = 0) -> tuple[float, dict[str, float]]:
    """The alpha with the lowest mean squared error over ``k`` folds of whole groups (targets)."""
    names = sorted(set(groups))
    rng = np.random.default_rng(seed)
    rng.shuffle(names)
    fold_of = {g: i % k for i, g in enumerate(names)}
    f = np.asarray([fold_of[g] for g in groups])
    mse = {}
    for a in alphas:
        err = []
        for i in range(k):
            tr, te = f != i, f == i
            err.append(((ridge_predict(ridge_fit(x[tr], y[tr], a), x[te]) - y[te]) ** 2).sum())
        mse[f"{a:g}"] = float(np.sum(err) / len(y))
    best = min(alphas, key=lambda a: mse[f"{a:g}"])
    return best, mse


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--train-cache", default="runs/atomgrid/cache_train.pt")
    ap.add_argument("--eval-cache", default="runs/atomgrid/cache_val_affinity.pt")
    ap.add_argument("--rotations", type=int, default=16)
    ap.add_argument("--alphas", default="0.1,1,10,100,1000")
    ap.add_argument("--blend-weight", type=float, default=0.75, help="the rule-D blend reported beside")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    alphas = [float(a) for a in args.alphas.split(",")]
    model, meta = load_model(args.model, "cpu")
    model.eval()

    train = agdata.load_cache(args.train_cache)
    ti = crystal(train)
    t_ids = [train["examples"][i]["id"] for i in ti]
    t_y = np.asarray([train["examples"][i]["pK"] for i in ti])
    t_groups = [train["examples"][i]["target"] for i in ti]
    print(f"training complexes: {len(ti)} over {len(set(t_groups))} targets; Vina score_only of each", flush=True)
    t_vina = -ev.crystal_vina(train, args.train_cache, t_ids) / ev.VINA_KCAL_PER_PK
    t_h, t_net = hidden(model, meta, train, args.rotations)
    ok = np.isfinite(t_vina)
    a1, cv1 = grouped_cv_alpha(t_h[ok], t_y[ok] - t_vina[ok], [g for g, k in zip(t_groups, ok) if k], alphas)
    a2, cv2 = grouped_cv_alpha(t_h, t_y, t_groups, alphas)
    e1 = ridge_fit(t_h[ok], t_y[ok] - t_vina[ok], a1)
    e2 = ridge_fit(t_h, t_y, a2)
    print(f"alpha E1 {a1:g} (grouped CV MSE {cv1}), E2 {a2:g} ({cv2}); training R: net {pearson(t_y, t_net):.3f}, "
          f"Vina {pearson(t_y[ok], t_vina[ok]):.3f}", flush=True)

    cache = agdata.load_cache(args.eval_cache)
    ci = crystal(cache)
    ids = [cache["examples"][i]["id"] for i in ci]
    sources = [cache["examples"][i]["source"] for i in ci]
    y = np.asarray([cache["examples"][i]["pK"] for i in ci])
    energy = ev.crystal_vina(cache, args.eval_cache, ids)
    vina = -energy / ev.VINA_KCAL_PER_PK
    h, net = hidden(model, meta, cache, args.rotations)
    fin = np.isfinite(vina)
    preds = {"net": net,
             "vina_blend": ev.vina_blend(net, energy, args.blend_weight),
             "E1_delta": np.where(fin, np.nan_to_num(vina) + ridge_predict(e1, h), net),
             "E2_refit": ridge_predict(e2, h)}
    truth = dict(zip(ids, y.tolist()))

    def run(p):
        return {"complexes": [{"id": i, "source": s, "pred": float(v)} for i, s, v in zip(ids, sources, p)],
                "pose_auc": {"value": float("nan")}}

    figures = {"model": args.model, "rotations": args.rotations, "n": len(ids), "vina_scored": int(fin.sum()),
               "train": {"complexes": len(ti), "vina_scored": int(ok.sum()), "alpha_E1": a1, "alpha_E2": a2,
                         "cv_mse_E1": cv1, "cv_mse_E2": cv2},
               "methods": {}, "complexes": [{"id": i, "source": s, **{k: float(v[j]) for k, v in preds.items()}}
                                            for j, (i, s) in enumerate(zip(ids, sources))]}
    if fin.sum() > 2:
        figures["vina_alone"] = report(AFFINITY_METRICS, y[fin], vina[fin], args.bootstrap)
    for name, p in preds.items():
        entry = {"affinity": report(AFFINITY_METRICS, y, p, args.bootstrap)}
        if name != "net":
            g = ev.compare_affinity([run(p)], [run(net)], truth, args.bootstrap)
            entry["gain_vs_net"] = g["all"]
            entry["gain_by_source"] = g.get("by_source", {})
        figures["methods"][name] = entry
        r = entry["affinity"]["pearson"]
        gain = entry.get("gain_vs_net", {}).get("pearson")
        extra = f", gain over the net {gain['diff']:+.3f} [{gain['low']:+.3f}, {gain['high']:+.3f}]" if gain else ""
        print(f"{name:11s} Pearson {r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]{extra}", flush=True)
    if args.json:
        from traincore.provenance import write_results
        write_results(args.json, "atomgrid_delta_head", figures, models=[args.model],
                      data=[args.train_cache, args.eval_cache],
                      settings={"rotations": args.rotations, "alphas": alphas, "blend_weight": args.blend_weight,
                                "bootstrap": args.bootstrap})
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
