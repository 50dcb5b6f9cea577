"""atomgrid score --explain: per-atom contributions = d score / d (atom's density scale), checked by finite
differences on a toy model, then end to end on a tiny pocket (SD atom property list and PNG)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from atomgrid import typing as agt
from atomgrid.explain import _grid, atom_contributions, score_of
from atomgrid.featurize import TypedAtoms, complex_arrays, type_ligand
from atomgrid.grid import GridSpec


class Toy(torch.nn.Module):
    """A small nonlinear net with the atomgrid output contract ({'activity', 'affinity'} logits)."""

    def __init__(self, c: int):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv3d(c, 6, 3, padding=1)
        self.head = torch.nn.Linear(6, 1)

    def forward(self, x):
        h = torch.tanh(self.conv(x * 3.0)).mean(dim=(2, 3, 4))
        a = self.head(h).squeeze(1) * 4.0
        return {"activity": a, "affinity": a}


def _toy_complex():
    mol = Chem.AddHs(Chem.MolFromSmiles("NC(=O)c1ccc(O)cc1"))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    lig = type_ligand(mol)
    rng = np.random.default_rng(0)
    n = 12
    feats = np.zeros((n, agt.NUM_FEATURES), np.float32)
    feats[np.arange(n), rng.integers(0, 4, n)] = 1
    feats[::3, 8] = 1  # some multi-hot rows
    xyz = (lig.centroid() + rng.normal(0, 3.5, (n, 3))).astype(np.float32)
    rec = TypedAtoms(xyz, feats, np.full(n, 1.7, np.float32))
    return rec, lig, lig.centroid()


def _fd(model, spec, rec, lig, center, atom, eps=1e-2):
    xyz, w, r = complex_arrays(rec, lig)
    vals = []
    for sgn in (1, -1):
        ww = w.copy()
        ww[atom] *= 1 + sgn * eps
        g = _grid(torch.from_numpy(xyz), torch.from_numpy(ww), torch.from_numpy(r), center, spec)
        with torch.no_grad():
            vals.append(float(score_of(model, g)))
    return (vals[0] - vals[1]) / (2 * eps)


def test_contributions_match_finite_differences():
    spec = GridSpec(12, 1.0)
    model = Toy(2 * agt.NUM_FEATURES).eval()
    rec, lig, center = _toy_complex()
    s, lc, rc = atom_contributions(model, spec, rec, lig, center, chunk=5)  # chunking exercised
    assert 0 < s < 1 and lc.shape == (len(lig),) and rc.shape == (len(rec),)
    contrib = np.concatenate([rc, lc])
    assert np.abs(contrib).max() > 1e-4
    for a in range(len(contrib)):
        assert contrib[a] == pytest.approx(_fd(model, spec, rec, lig, center, a), rel=2e-2, abs=2e-5), a


def _fd_rot(model, spec, rec, lig, center, atom, rotations, eps=1e-2):
    """Finite difference of sigmoid(mean logit over the test-time orientations), gridded the Gridder's way."""
    from atomgrid.models import tta_rotations
    xyz, w, r = complex_arrays(rec, lig)
    c = np.asarray(center, np.float32)
    vals = []
    for sgn in (1, -1):
        ww = w.copy()
        ww[atom] *= 1 + sgn * eps
        logits = []
        for rot in tta_rotations(rotations):
            xr = (xyz - c) @ rot.T + c
            g = _grid(torch.from_numpy(np.ascontiguousarray(xr, np.float32)), torch.from_numpy(ww),
                      torch.from_numpy(r), center, spec)
            with torch.no_grad():
                logits.append(float(model(g)["activity"].reshape(-1)[0]))
        vals.append(1 / (1 + np.exp(-np.mean(logits))))
    return (vals[0] - vals[1]) / (2 * eps)


def test_contributions_with_rotations_match_finite_differences_and_the_scorer():
    """--rotations: the explained score is the one atomgrid score reports (sigmoid of the mean logit over the
    same orientations, through the Gridder) and every contribution is its derivative."""
    from atomgrid.featurize import Gridder
    from atomgrid.models import predict
    spec = GridSpec(12, 1.0)
    model = Toy(2 * agt.NUM_FEATURES).eval()
    rec, lig, center = _toy_complex()
    s, lc, rc = atom_contributions(model, spec, rec, lig, center, chunk=7, rotations=3)
    act, _ = predict(model, Gridder(spec), [(rec, lig, center)], rotations=3)
    assert s == pytest.approx(float(act[0]), rel=1e-5)
    s1, lc1, _ = atom_contributions(model, spec, rec, lig, center)
    assert s != pytest.approx(s1, rel=1e-4) and not np.allclose(lc, lc1)
    contrib = np.concatenate([rc, lc])
    for a in range(len(contrib)):
        assert contrib[a] == pytest.approx(_fd_rot(model, spec, rec, lig, center, a, 3), rel=2e-2, abs=2e-5), a


def test_ligand_only_gives_zero_to_the_pocket():
    spec = GridSpec(12, 1.0)
    model = Toy(2 * agt.NUM_FEATURES).eval()
    rec, lig, center = _toy_complex()
    s, lc, rc = atom_contributions(model, spec, rec, lig, center, ligand_only=True)
    assert rc.shape == (0,) and lc.shape == (len(lig),)
    s2, lc2, _ = atom_contributions(model, spec, None, lig, center)
    assert s == pytest.approx(s2) and np.allclose(lc, lc2)


def test_draw_and_annotate(tmp_path):
    from atomgrid.explain import CONTRIB_PROP, annotate, draw
    mol = Chem.AddHs(Chem.MolFromSmiles("NC(=O)c1ccc(O)cc1"))
    AllChem.EmbedMolecule(mol, randomSeed=1)
    c = np.linspace(-1, 1, mol.GetNumAtoms())
    annotate(mol, c, [("A:ASP189:OD1", 0.5)])
    path = tmp_path / "x.sdf"
    w = Chem.SDWriter(str(path))
    w.write(mol)
    w.close()
    back = next(Chem.SDMolSupplier(str(path), removeHs=False))
    got = [a.GetDoubleProp(CONTRIB_PROP) for a in back.GetAtoms()]
    assert np.allclose(got, c, atol=1e-6)
    assert back.GetProp("atomgrid_pocket_contrib").startswith("A:ASP189:OD1")
    png = draw([mol], [c], ["x"], tmp_path / "x.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_score_explain_cli_writes_atom_properties_and_png(tmp_path):
    """``atomgrid score --poses given --out-sdf --explain 2`` on the fabp4 pocket fixture with the shipped
    model: the two best records carry one contribution per atom, and the explained score is the CSV's."""
    import csv
    from pathlib import Path

    from atomgrid.cli import main
    from atomgrid.explain import CONTRIB_PROP
    data = Path(__file__).parent / "data" / "atomgrid_score"
    out, sdf = tmp_path / "o.csv", tmp_path / "o.sdf"
    rc = main(["score", "--receptor", str(data / "pocket.pdb"), "--autobox-ligand", str(data / "crystal_ligand.sdf"),
               "--ligands", str(data / "poses.sdf"), "--poses", "given", "--out", str(out), "--out-sdf", str(sdf),
               "--explain", "2", "--device", "cpu", "--precision", "fp32", "--rotations", "4"])
    assert rc == 0
    rows = {r["id"]: float(r["score"]) for r in csv.DictReader(open(out)) if r["score"]}
    mols = [m for m in Chem.SDMolSupplier(str(sdf), removeHs=False)]
    explained = [m for m in mols if m.HasProp("atom.dprop." + CONTRIB_PROP) or m.GetAtomWithIdx(0).HasProp(CONTRIB_PROP)]
    assert len(explained) == 2
    best = sorted(rows.values(), reverse=True)[:2]
    assert sorted(float(m.GetProp("CNNscore")) for m in explained) == pytest.approx(sorted(best), abs=1e-5)
    for m in explained:
        vals = np.asarray([a.GetDoubleProp(CONTRIB_PROP) for a in m.GetAtoms()])
        heavy = np.asarray([a.GetAtomicNum() > 1 for a in m.GetAtoms()])
        assert np.all(vals[~heavy] == 0) and np.any(vals[heavy] != 0)
        assert m.GetProp("atomgrid_pocket_contrib")
    assert (tmp_path / "o.explain.png").read_bytes()[:4] == b"\x89PNG"


def test_explained_score_equals_the_scorer_score(tmp_path):
    """The explainer's forward pass is the scorer's: same pose, same model -> same probability."""
    import csv
    from pathlib import Path

    from atomgrid.explain import Explainer
    from atomgrid.models import resolve_model
    from atomgrid.score import ScoreOptions, score_library
    data = Path(__file__).parent / "data" / "atomgrid_score"
    out = tmp_path / "o.csv"
    score_library(data / "pocket.pdb", data / "poses.sdf", out, autobox_ligand=data / "crystal_ligand.sdf",
                  options=ScoreOptions(poses="given", precision="fp32"), device="cpu", progress=False)
    rows = [r for r in csv.DictReader(open(out)) if r["score"]]
    ex = Explainer(data / "pocket.pdb", resolve_model(None))
    mols = [m for m in Chem.SDMolSupplier(str(data / "poses.sdf"), removeHs=False) if m is not None]
    for r, m in zip(rows, mols):
        s, _, _ = ex.explain(Chem.AddHs(m, addCoords=True))
        assert s == pytest.approx(float(r["score"]), abs=1e-4)
