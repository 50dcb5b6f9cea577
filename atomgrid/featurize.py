"""Molecules -> typed atom arrays -> batched grids (the glue between io, typing and grid).

A :class:`TypedAtoms` holds plain arrays (coordinates Å ``[K, 3]``, features ``[K, 14]``,
radii Å ``[K]``) so that typed complexes can be cached with ``torch.save`` and gridded later
on any device. :class:`Gridder` turns a list of (receptor, ligand, centre) into
``[B, 28, S, S, S]`` with optional random rotation/translation applied before gridding.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from rdkit import Chem

from . import typing as agt
from .grid import FINAL_RADIUS_MULTIPLE, GridSpec, make_grids, random_rotations, random_translations
from .io import Box, coordinates


@dataclass
class TypedAtoms:
    """Typed heavy atoms: ``xyz [K, 3]`` float32 Å, ``feats [K, 14]`` float32, ``radii [K]`` float32 Å."""

    xyz: np.ndarray
    feats: np.ndarray
    radii: np.ndarray

    def __len__(self) -> int:
        return int(self.xyz.shape[0])

    def to_dict(self) -> dict:
        return {"xyz": torch.from_numpy(self.xyz), "feats": torch.from_numpy(self.feats), "radii": torch.from_numpy(self.radii)}

    @classmethod
    def from_dict(cls, d: dict) -> "TypedAtoms":
        return cls(np.asarray(d["xyz"], np.float32), np.asarray(d["feats"], np.float32), np.asarray(d["radii"], np.float32))

    def centroid(self) -> np.ndarray:
        return self.xyz.mean(0)


def type_ligand(mol: Chem.Mol, conf_id: int = -1) -> TypedAtoms:
    """Heavy atoms of a posed ligand, typed with ``agtypes-v1``."""
    idx, feats = agt.ligand_features(mol)
    if len(idx) == 0:
        raise ValueError("ligand has no heavy atoms")
    xyz = coordinates(mol, conf_id)[idx]
    return TypedAtoms(xyz, feats, agt.atom_radii(mol, idx))


def type_receptor(mol: Chem.Mol, box: Box | None = None, margin: float = 0.0) -> TypedAtoms:
    """Heavy receptor atoms inside ``box`` grown by ``margin`` Å (all atoms when ``box`` is None)."""
    xyz_all = coordinates(mol)
    sub = None if box is None else np.nonzero(box.contains(xyz_all, margin))[0]
    idx, feats = agt.receptor_features(mol, sub)
    return TypedAtoms(xyz_all[idx] if len(idx) else np.zeros((0, 3), np.float32), feats, agt.atom_radii(mol, idx))


def crop_margin(spec: GridSpec) -> float:
    """Half the grid edge plus the farthest reach of an atom's density (Å)."""
    return spec.dimension / 2 + FINAL_RADIUS_MULTIPLE * agt.MAX_RADIUS


def grid_box(center, spec: GridSpec) -> Box:
    c = tuple(float(v) for v in center)
    return Box(c, (spec.dimension,) * 3)


def crop_to_grid(atoms: TypedAtoms, center, spec: GridSpec, extra: float = 0.0) -> TypedAtoms:
    """Atoms that can touch a grid centred at ``center`` (plus ``extra`` Å, e.g. the augmentation shift)."""
    half = spec.dimension / 2 + FINAL_RADIUS_MULTIPLE * agt.MAX_RADIUS + extra
    if extra > 0:  # rotation about the centre can bring corner atoms in: use a sphere
        keep = np.linalg.norm(atoms.xyz - np.asarray(center, np.float32), axis=1) <= half * np.sqrt(3)
    else:
        keep = np.all(np.abs(atoms.xyz - np.asarray(center, np.float32)) <= half, axis=1)
    return TypedAtoms(atoms.xyz[keep], atoms.feats[keep], atoms.radii[keep])


def complex_arrays(receptor: TypedAtoms | None, ligand: TypedAtoms, ligand_only: bool = False):
    """Concatenate receptor and ligand atoms into (xyz ``[N, 3]``, weights ``[N, 28]``, radii ``[N]``).

    Receptor features go to channels 0-13, ligand features to 14-27; ``ligand_only`` drops the
    receptor (its channels stay zero: the ligand-only baseline sees the same tensor layout).
    """
    nf = agt.NUM_FEATURES
    parts_xyz, parts_w, parts_r = [], [], []
    if receptor is not None and not ligand_only and len(receptor):
        w = np.zeros((len(receptor), 2 * nf), np.float32)
        w[:, :nf] = receptor.feats
        parts_xyz.append(receptor.xyz), parts_w.append(w), parts_r.append(receptor.radii)
    w = np.zeros((len(ligand), 2 * nf), np.float32)
    w[:, nf:] = ligand.feats
    parts_xyz.append(ligand.xyz), parts_w.append(w), parts_r.append(ligand.radii)
    return np.concatenate(parts_xyz), np.concatenate(parts_w), np.concatenate(parts_r)


class Gridder:
    """Batches of complexes -> density grids ``[B, 28, S, S, S]`` on ``device``.

    ``rotate``: uniform random rotation about each grid centre; ``translate``: random shift of up
    to that many Å. Both are applied to the coordinates before gridding, drawn from ``generator``.
    """

    def __init__(self, spec: GridSpec = GridSpec(), device: torch.device | str = "cpu", rotate: bool = False,
                 translate: float = 0.0, seed: int = 0):
        self.spec = spec
        self.device = torch.device(device)
        self.rotate = rotate
        self.translate = float(translate)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, items, ligand_only: bool = False, rotation: np.ndarray | None = None) -> torch.Tensor:
        """``items``: sequence of (receptor TypedAtoms or None, ligand TypedAtoms, centre [3]). ``rotation``: one
        ``[3, 3]`` matrix for every item instead of the gridder's own (test-time augmentation)."""
        n = len(items)
        if rotation is not None:
            rot = np.broadcast_to(np.asarray(rotation, np.float32), (n, 3, 3))
        elif self.rotate:
            rot = random_rotations(n, self.generator).numpy()
        else:
            rot = np.broadcast_to(np.eye(3, dtype=np.float32), (n, 3, 3))
        shift = (random_translations(n, self.translate, self.generator).numpy() if self.translate > 0
                 else np.zeros((n, 3), np.float32))
        # reach of a grid point from the centre along each axis, plus the widest atom density
        half = self.spec.dimension / 2 + FINAL_RADIUS_MULTIPLE * agt.MAX_RADIUS
        xyz, w, r, b, centers = [], [], [], [], []
        for i, (rec, lig, center) in enumerate(items):
            x, ww, rr = complex_arrays(rec, lig, ligand_only)
            c = np.asarray(center, np.float32)
            # rotate about the grid centre and shift (libmolgrid's Transform), then drop atoms that
            # cannot reach the grid: most of a rotation-safe receptor crop lies outside the cube
            x = (x - c) @ rot[i].T.astype(np.float32) + c + shift[i].astype(np.float32)
            keep = np.all(np.abs(x - c) <= half, axis=1)
            xyz.append(x[keep]), w.append(ww[keep]), r.append(rr[keep])
            b.append(np.full(int(keep.sum()), i, np.int64))
            centers.append(c)
        dev = self.device
        return make_grids(torch.from_numpy(np.concatenate(xyz)).to(dev), torch.from_numpy(np.concatenate(w)).to(dev),
                          torch.from_numpy(np.concatenate(r)).to(dev), torch.from_numpy(np.concatenate(b)).to(dev),
                          torch.from_numpy(np.stack(centers)).to(dev), self.spec)
