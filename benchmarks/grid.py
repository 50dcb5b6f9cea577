"""Gridding speed: atomgrid (pure torch) vs libmolgrid's CPU GridMaker on the same inputs, same run.

    PYTHONPATH=. .venv/bin/python benchmarks/grid.py [--molgrid-python .venv-molgrid/bin/python] [--rounds 5]

Input: a 2,000-atom pocket + ligand (the heavy receptor atoms nearest the CASF-2016 1a30 ligand
plus the ligand; a synthetic pocket when shared/data is missing), 28 multi-hot channels
(agtypes-v1), 48^3 points at 0.5 Å. libmolgrid (``pip install molgrid``, needs numpy<2, so it
runs in its own venv through a subprocess) gets the same coordinates, type vectors and radii.
Rounds alternate between the two so that load from other processes hits both alike; the median
per-complex time of each is reported with the ratio. Also: batched gridding and the training
throughput (samples/s, grids made on the fly) of the default and the small net on this CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from atomgrid import io  # noqa: E402
from atomgrid.featurize import TypedAtoms, complex_arrays, type_ligand, type_receptor  # noqa: E402
from atomgrid.grid import GridSpec, make_grid, make_grids  # noqa: E402

MOLGRID_SCRIPT = r"""
import sys, time, json, numpy as np, molgrid
d = np.load(sys.argv[1]); reps = int(sys.argv[2])
x, w, r, c = d["x"], d["w"], d["r"], d["c"]
gm = molgrid.GridMaker(resolution=float(d["res"]), dimension=float(d["dim"]))
out = np.zeros((w.shape[1],) + (int(d["size"]),) * 3, np.float32)
center = molgrid.float3(*map(float, c))
args = lambda: (center, molgrid.Grid2f(x), molgrid.Grid2f(w), molgrid.Grid1f(r), molgrid.Grid4f(out))
gm.forward(*args())
times = []
for _ in range(reps):
    t = time.perf_counter(); gm.forward(*args()); times.append(time.perf_counter() - t)
np.save(sys.argv[3], out)
print(json.dumps(times))
"""


def pocket(n_atoms: int = 2000):
    """(xyz [N, 3], weights [N, 28], radii [N], centre [3]) of a 2,000-atom pocket + ligand."""
    d = io.data_root() / "drug" / "casf2016" / "coreset" / "1a30"
    if (d / "1a30_protein.pdb").exists():
        lig = type_ligand(io.read_ligand(d / "1a30_ligand.mol2"))
        rec = type_receptor(io.read_receptor(d / "1a30_protein.pdb"))
        # the receptor atoms nearest the ligand; 1a30 (HIV protease) has only 1,510 heavy atoms, so
        # the rest are its nearest atoms again, shifted by 1.7 Å (same density work per atom)
        order = np.argsort(np.linalg.norm(rec.xyz - lig.centroid(), axis=1))
        need = n_atoms - len(lig)
        if len(order) < need:
            extra = TypedAtoms(rec.xyz[order[: need - len(order)]] + np.float32(1.7), rec.feats[order[: need - len(order)]],
                               rec.radii[order[: need - len(order)]])
            rec = TypedAtoms(np.concatenate([rec.xyz, extra.xyz]), np.concatenate([rec.feats, extra.feats]),
                             np.concatenate([rec.radii, extra.radii]))
            order = np.argsort(np.linalg.norm(rec.xyz - lig.centroid(), axis=1))
        keep = order[:need]
        rec = TypedAtoms(rec.xyz[keep], rec.feats[keep], rec.radii[keep])
        x, w, r = complex_arrays(rec, lig)
        return x, w, r, lig.centroid(), "CASF-2016 1a30: nearest receptor heavy atoms + ligand"
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n_atoms, 3)) * 7).astype(np.float32)
    w = np.zeros((n_atoms, 28), np.float32)
    w[np.arange(n_atoms), rng.integers(0, 5, n_atoms) + 14 * (np.arange(n_atoms) >= n_atoms - 40)] = 1
    w[:, 13] = (rng.random(n_atoms) < 0.3)
    r = np.full(n_atoms, 1.8, np.float32)
    return x, w, r, np.zeros(3, np.float32), "synthetic (shared data missing)"


def time_ours(x, w, r, c, spec, reps):
    xt, wt, rt = map(torch.from_numpy, (x, w, r))
    make_grid(xt, wt, rt, c, spec)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        make_grid(xt, wt, rt, c, spec)
        times.append(time.perf_counter() - t)
    return times


def time_batched(x, w, r, c, spec, batch, reps):
    n = len(x)
    xt = torch.from_numpy(np.tile(x, (batch, 1)))
    wt = torch.from_numpy(np.tile(w, (batch, 1)))
    rt = torch.from_numpy(np.tile(r, batch))
    bt = torch.arange(batch).repeat_interleave(n)
    ct = torch.from_numpy(np.tile(c, (batch, 1)))
    make_grids(xt, wt, rt, bt, ct, spec)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        make_grids(xt, wt, rt, bt, ct, spec)
        times.append((time.perf_counter() - t) / batch)
    return times


def train_throughput(config: str, steps: int = 4, batch: int = 8) -> float:
    """Samples/s of forward+backward+step with grids made on the fly from the 2,000-atom complex."""
    from atomgrid import nets
    from atomgrid.featurize import Gridder
    from atomgrid.train import load_train_config, loss_fn
    cfg = load_train_config(str(REPO / config))
    x, w, r, c, _ = pocket()
    nf = 14
    rec = TypedAtoms(x[w[:, :nf].sum(1) > 0], w[w[:, :nf].sum(1) > 0][:, :nf], r[w[:, :nf].sum(1) > 0])
    lig = TypedAtoms(x[w[:, nf:].sum(1) > 0], w[w[:, nf:].sum(1) > 0][:, nf:], r[w[:, nf:].sum(1) > 0])
    gridder = Gridder(cfg.grid, "cpu", rotate=True, translate=2.0)
    model = nets.build(cfg.net_config())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    f = loss_fn(0.5)
    pk = torch.full((batch,), 6.0)
    good = (torch.arange(batch) % 2).float()

    def step():
        grids = gridder([(rec, lig, c)] * batch)
        loss, _ = f(model, (grids, pk, good))
        opt.zero_grad()
        loss.backward()
        opt.step()
    step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--molgrid-python", default=str(REPO / ".venv-molgrid" / "bin" / "python"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1, help="torch threads for the per-complex comparison "
                    "(libmolgrid's CPU path is single-threaded)")
    ap.add_argument("--skip-train", action="store_true")
    ap.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                    help="write the figures with provenance to benchmarks/results/grid-<date>.json (or PATH)")
    args = ap.parse_args(argv)
    spec = GridSpec(48, 0.5)
    x, w, r, c, what = pocket()
    print(f"input: {len(x)} atoms ({what}), {w.shape[1]} channels, {spec.size}^3 at {spec.resolution} A; "
          f"torch {torch.__version__}, {args.threads} thread(s), {os.cpu_count()} CPUs")
    torch.set_num_threads(args.threads)
    have_molgrid = Path(args.molgrid_python).exists()
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.npz"
        np.savez(inp, x=x, w=w, r=r, c=c, res=spec.resolution, dim=spec.dimension, size=spec.size)
        out_path = Path(tmp) / "molgrid.npy"
        for _ in range(args.rounds):
            ours += time_ours(x, w, r, c, spec, args.reps)
            if have_molgrid:
                res = subprocess.run([args.molgrid_python, "-c", MOLGRID_SCRIPT, str(inp), str(args.reps), str(out_path)],
                                     capture_output=True, text=True)
                if res.returncode != 0:
                    print(f"libmolgrid run failed: {res.stderr.strip().splitlines()[-1:]}")
                    have_molgrid = False
                else:
                    theirs += json.loads(res.stdout.strip().splitlines()[-1])
        result = {"atoms": len(x), "channels": int(w.shape[1]), "grid": spec.size, "resolution": spec.resolution,
                  "threads": args.threads, "ours_s": statistics.median(ours)}
        print(f"atomgrid   {result['ours_s'] * 1e3:8.1f} ms/complex  {1 / result['ours_s']:6.1f} complexes/s")
        if theirs:
            mg = np.load(out_path)
            g = make_grid(*map(torch.from_numpy, (x, w, r)), c, spec).numpy()
            result.update(molgrid_s=statistics.median(theirs), max_abs_diff=float(np.abs(mg - g).max()),
                          total_density=float(g.sum()), molgrid_total_density=float(mg.sum()))
            print(f"libmolgrid {result['molgrid_s'] * 1e3:8.1f} ms/complex  {1 / result['molgrid_s']:6.1f} complexes/s")
            print(f"speed ratio atomgrid/libmolgrid: {result['molgrid_s'] / result['ours_s']:.2f}x "
                  f"(grids agree to {result['max_abs_diff']:.2e} max abs difference)")
        else:
            print(f"libmolgrid not available at {args.molgrid_python}: "
                  "python3.11 -m venv .venv-molgrid && .venv-molgrid/bin/pip install 'numpy<2' molgrid")
    b = statistics.median(time_batched(x, w, r, c, spec, 4, 3))
    result["ours_batched4_s"] = b
    print(f"atomgrid batched x4, {torch.get_num_threads()} thread(s): {b * 1e3:.1f} ms/complex ({1 / b:.1f} complexes/s)")
    if not args.skip_train:
        for cfg in ("configs/atomgrid/default.toml", "configs/atomgrid/small.toml"):
            sps = train_throughput(cfg)
            result[f"train_samples_per_s[{cfg}]"] = sps
            print(f"training {cfg}: {sps:.2f} samples/s (grids made on the fly, batch 8, CPU)")
    if args.json is not None:
        from benchmarks._results import write_result
        result["input"] = what
        if have_molgrid:
            v = subprocess.run([args.molgrid_python, "-c", "import importlib.metadata as m; print(m.version('molgrid'))"],
                               capture_output=True, text=True)
            result["molgrid_version"] = v.stdout.strip() or None
        print("results written to", write_result("grid", result, out=args.json or None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
