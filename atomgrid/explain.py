"""Per-atom contributions to a pose's score (``atomgrid score --explain N``).

Definition (chosen because it is exact for the gridding this package does and testable by finite
differences): the grid is linear in each atom's type weights, ``G[c, v] = sum_a w[a, c] rho_a(v)``,
so the contribution of atom ``a`` is

    contrib_a = d score / d lambda_a  at lambda_a = 1,   w[a, :] -> lambda_a * w[a, :]
              = sum_c w[a, c] * sum_v (d score / d G[c, v]) * rho_a(v),

the score's gradient on the grid carried back onto the atom through its own Gaussian footprint
(summed over its channels). ``score`` is the activity probability (sigmoid of the activity logit),
the number ``atomgrid score`` reports. Positive: more of this atom's density raises the score. It is a
first-order (gradient x input) attribution, not a decomposition: the contributions need not sum to
the score. Pocket atoms get contributions too (the receptor channels), ligand-only models give them 0.

Outputs: SD records with an ``atomgrid_contrib`` atom property list (one value per atom of the record,
hydrogens 0, since the typing grids heavy atoms only) and an ``atomgrid_pocket_contrib`` tag (the
pocket atoms with the largest |contribution|, as ``chain:resname resnum:atom value``), and a PNG grid of
2D depictions with the atoms highlighted (red raises the score, blue lowers it).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem

from . import io as agio
from . import typing as agt
from .featurize import TypedAtoms, complex_arrays, grid_box
from .grid import GridSpec, make_grids
from .score_options import CLI_ROTATIONS

CONTRIB_PROP = "atomgrid_contrib"
POCKET_TAG = "atomgrid_pocket_contrib"


def _grid(xyz, w, r, center, spec: GridSpec) -> torch.Tensor:
    """[1, C, S, S, S] for one complex (float64 arrays in, the dtype of ``xyz``)."""
    n = xyz.shape[0]
    c = torch.as_tensor(np.asarray(center), dtype=xyz.dtype).reshape(1, 3)
    return make_grids(xyz, w, r, torch.zeros(n, dtype=torch.long), c, spec)


def score_of(model, grid: torch.Tensor) -> torch.Tensor:
    """The activity probability of ``grid`` [1, C, S, S, S] -> scalar tensor."""
    return torch.sigmoid(model(grid)["activity"].reshape(-1)[0].float())


def _rotated(xyz: torch.Tensor, center, rot) -> torch.Tensor:
    """``xyz`` turned by ``rot`` [3, 3] about ``center`` (as the Gridder turns a complex before gridding)."""
    if rot is None:
        return xyz
    c = torch.as_tensor(np.asarray(center, np.float32)).reshape(1, 3)
    return (xyz - c) @ torch.as_tensor(np.asarray(rot, np.float32)).T + c


def atom_contributions(model, spec: GridSpec, receptor: TypedAtoms | None, ligand: TypedAtoms, center,
                       ligand_only: bool = False, chunk: int = 64,
                       rotations: int = 1) -> tuple[float, np.ndarray, np.ndarray]:
    """(score, ligand contributions ``[K]``, receptor contributions ``[R]``) of one pose, fp32 on CPU.

    ``rotations`` > 1: the score is ``atomgrid score --rotations``' (the sigmoid of the mean logit over
    :func:`atomgrid.models.tta_rotations`) and the contributions are its exact derivatives, each atom's
    footprint in every orientation times that orientation's gradient. ``receptor`` atoms beyond the grid
    get 0 (their density never reaches it)."""
    from .models import tta_rotations
    xyz, w, r = complex_arrays(receptor, ligand, ligand_only)
    xyz_t, w_t, r_t = (torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in (xyz, w, r))
    rots = list(tta_rotations(rotations)) if rotations > 1 else [None]
    with torch.enable_grad():
        grids = [_grid(_rotated(xyz_t, center, rot), w_t, r_t, center, spec).detach().requires_grad_(True)
                 for rot in rots]
        logit = torch.stack([model(g)["activity"].reshape(-1)[0].float() for g in grids]).mean()
        s = torch.sigmoid(logit)
        grads = torch.autograd.grad(s, grids)
    n = xyz.shape[0]
    contrib = np.zeros(n, np.float64)
    c = torch.as_tensor(np.asarray(center, np.float32)).reshape(1, 3)
    with torch.no_grad():
        for rot, g in zip(rots, grads):
            g = g[0]  # [C, S, S, S]
            xr = _rotated(xyz_t, center, rot)
            for a0 in range(0, n, chunk):  # each atom its own "complex" of the batch: its footprint times g
                a1 = min(n, a0 + chunk)
                per = make_grids(xr[a0:a1], w_t[a0:a1], r_t[a0:a1], torch.arange(a1 - a0), c.expand(a1 - a0, 3), spec)
                contrib[a0:a1] += (per * g).flatten(1).sum(1).double().numpy()
    n_rec = 0 if (receptor is None or ligand_only) else len(receptor)
    return float(s.detach()), contrib[n_rec:], contrib[:n_rec]


def _residue_label(atom: Chem.Atom) -> str:
    info = atom.GetPDBResidueInfo()
    if info is None:
        return f"atom{atom.GetIdx()}"
    return f"{info.GetChainId().strip() or '-'}:{info.GetResidueName().strip()}{info.GetResidueNumber()}:{info.GetName().strip()}"


class Explainer:
    """One receptor and model; ``explain(mol)`` -> (score, contribution per atom of ``mol``, pocket top list)."""

    def __init__(self, receptor_path: str | Path, model_path: str | Path, device: str = "cpu", pocket_top: int = 10,
                 rotations: int = CLI_ROTATIONS):
        from .models import load_model
        self.rotations = rotations
        self.model, self.meta = load_model(model_path, "cpu")  # gradients in fp32 on CPU: small, few molecules
        self.spec = GridSpec(self.meta["grid"]["size"], self.meta["grid"]["resolution"])
        self.ligand_only = bool(self.meta.get("ligand_only"))
        rec = agio.read_receptor(receptor_path)
        if isinstance(rec, agio.ReadError):
            raise ValueError(f"receptor {rec}")
        self.rec = rec
        self.rec_xyz = agio.coordinates(rec)
        self.pocket_top = pocket_top

    def _receptor_near(self, center) -> tuple[TypedAtoms, np.ndarray]:
        from .score_worker import receptor_reach
        box = grid_box(center, self.spec)
        # a rotated grid's corners reach further: the same crop rule as the scorer's
        sub = np.nonzero(box.contains(self.rec_xyz, receptor_reach(self.spec, self.rotations)))[0]
        idx, feats = agt.receptor_features(self.rec, sub)
        idx = np.asarray(idx, np.int64)
        xyz = self.rec_xyz[idx] if len(idx) else np.zeros((0, 3), np.float32)
        return TypedAtoms(np.asarray(xyz, np.float32), feats, agt.atom_radii(self.rec, idx)), idx

    def explain(self, mol: Chem.Mol) -> tuple[float, np.ndarray, list[tuple[str, float]]]:
        idx, feats = agt.ligand_features(mol)
        idx = np.asarray(idx, np.int64)
        xyz = agio.coordinates(mol)[idx]
        lig = TypedAtoms(np.asarray(xyz, np.float32), feats, agt.atom_radii(mol, idx))
        center = lig.centroid()
        trec, ridx = self._receptor_near(center)
        s, lc, rc = atom_contributions(self.model, self.spec, trec, lig, center, self.ligand_only,
                                       rotations=self.rotations)
        per_atom = np.zeros(mol.GetNumAtoms())
        per_atom[idx] = lc
        order = np.argsort(-np.abs(rc))[: self.pocket_top] if len(rc) else []
        pocket = [(_residue_label(self.rec.GetAtomWithIdx(int(ridx[i]))), float(rc[i])) for i in order if rc[i] != 0]
        return s, per_atom, pocket


def annotate(mol: Chem.Mol, per_atom: np.ndarray, pocket: list[tuple[str, float]]) -> Chem.Mol:
    """``mol`` with the ``atomgrid_contrib`` atom property list and the pocket tag set."""
    for a, v in zip(mol.GetAtoms(), per_atom):
        a.SetDoubleProp(CONTRIB_PROP, float(v))
    Chem.CreateAtomDoublePropertyList(mol, CONTRIB_PROP)
    mol.SetProp(POCKET_TAG, "; ".join(f"{k} {v:.4g}" for k, v in pocket))
    return mol


def draw(mols: list[Chem.Mol], contribs: list[np.ndarray], legends: list[str], out_png: str | Path,
         per_row: int = 4, size: int = 300, fraction: float = 0.25) -> Path:
    """PNG grid of 2D depictions; atoms whose |contribution| is at least ``fraction`` of the molecule's
    largest are highlighted, red (raises the score) or blue (lowers it), paler when smaller."""
    from rdkit.Chem import AllChem, Draw
    depictions, hl, colors = [], [], []
    for mol, c in zip(mols, contribs):
        heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
        m2 = Chem.RWMol(mol)
        for i in sorted(set(range(mol.GetNumAtoms())) - set(heavy), reverse=True):
            m2.RemoveAtom(i)  # hydrogens go; heavy atoms keep their order, so indices map by rank
        m2 = m2.GetMol()
        try:
            Chem.SanitizeMol(m2)
        except Exception:
            m2.UpdatePropertyCache(strict=False)
        AllChem.Compute2DCoords(m2)
        cc = np.asarray([c[i] for i in heavy])
        top = float(np.abs(cc).max()) if cc.size else 0.0
        atoms, col = [], {}
        for j, v in enumerate(cc):
            if top > 0 and abs(v) >= fraction * top:
                t = 0.35 + 0.65 * abs(v) / top  # intensity
                col[j] = (1.0, 1.0 - t, 1.0 - t) if v > 0 else (1.0 - t, 1.0 - t, 1.0)
                atoms.append(j)
        depictions.append(m2)
        hl.append(atoms)
        colors.append(col)
    img = Draw.MolsToGridImage(depictions, molsPerRow=per_row, subImgSize=(size, size), legends=legends,
                               highlightAtomLists=hl, highlightAtomColors=colors)
    out_png = Path(out_png)
    img.save(str(out_png))
    return out_png


def explain_sdf(receptor: str | Path, sdf: str | Path, model: str | Path, top: int, png: str | Path | None = None,
                device: str = "cpu", rotations: int = CLI_ROTATIONS) -> dict:
    """Rewrite ``sdf`` (``atomgrid score --out-sdf``) with contributions on its ``top`` best records by
    CNNscore (the others unchanged), and draw them to ``png`` (default ``<sdf stem>.explain.png``);
    ``rotations``: the count the scores were made with, so the explained score is the reported one."""
    sdf = Path(sdf)
    mols = [m for m in Chem.SDMolSupplier(str(sdf), removeHs=False, sanitize=False)]
    mols = [m for m in mols if m is not None]
    for m in mols:
        try:
            Chem.SanitizeMol(m)
        except Exception:
            m.UpdatePropertyCache(strict=False)
    ranked = sorted(range(len(mols)), key=lambda i: -float(mols[i].GetProp("CNNscore"))
                    if mols[i].HasProp("CNNscore") else math.inf)[:top]
    ex = Explainer(receptor, model, device, rotations=rotations)
    drawn, contribs, legends = [], [], []
    for i in ranked:
        s, per_atom, pocket = ex.explain(mols[i])
        annotate(mols[i], per_atom, pocket)
        drawn.append(mols[i])
        contribs.append(per_atom)
        legends.append(f"{mols[i].GetProp('_Name')[:30]}  {s:.3f}")
    tmp = sdf.with_suffix(".tmp.sdf")
    w = Chem.SDWriter(str(tmp))
    w.SetKekulize(False)
    for m in mols:
        w.write(m)
    w.close()
    tmp.replace(sdf)
    png = Path(png) if png else sdf.with_name(sdf.stem + ".explain.png")
    if drawn:
        draw(drawn, contribs, legends, png)
    return {"explained": len(drawn), "sdf": str(sdf), "png": str(png) if drawn else None}
