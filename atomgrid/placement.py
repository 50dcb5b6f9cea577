"""Template placement: the simplest honest pose for a ligand that has 3D coordinates but no pose.

The ligand's conformer is moved rigidly onto a reference ligand in the pocket: centroids
superposed and principal axes aligned; of the four proper rotations that align the axes
(sign flips with determinant +1) the one with the best shape overlap with the reference minus a
clash penalty against receptor atoms is kept. No torsions change and nothing is optimised
against a scoring function, so a model cannot be flattered by the placement.
"""
from __future__ import annotations

import numpy as np

_FLIPS = (np.diag([1.0, 1.0, 1.0]), np.diag([1.0, -1.0, -1.0]), np.diag([-1.0, 1.0, -1.0]), np.diag([-1.0, -1.0, 1.0]))


def principal_frame(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centroid ``[3]``, axes ``[3, 3]`` as rows, largest variance first, right-handed)."""
    xyz = np.asarray(xyz, dtype=np.float64)
    c = xyz.mean(0)
    _, vecs = np.linalg.eigh(np.cov((xyz - c).T) if len(xyz) > 1 else np.eye(3))
    axes = vecs[:, ::-1].T.copy()
    if np.linalg.det(axes) < 0:
        axes[2] *= -1
    return c, axes


def shape_overlap(a: np.ndarray, b: np.ndarray, sigma: float = 1.0) -> float:
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    return float(np.exp(-d2 / (2 * sigma * sigma)).sum())


def clash(a: np.ndarray, receptor: np.ndarray, cutoff: float = 3.0) -> float:
    if receptor is None or len(receptor) == 0:
        return 0.0
    d = np.sqrt(((a[:, None, :] - receptor[None, :, :]) ** 2).sum(-1))
    return float((np.clip(cutoff - d, 0, None) ** 2).sum())


def place_on_template(ligand_xyz: np.ndarray, template_xyz: np.ndarray, receptor_xyz: np.ndarray | None = None,
                      clash_weight: float = 1.0) -> tuple[np.ndarray, float]:
    """Rigidly place ``ligand_xyz [N, 3]`` on ``template_xyz [M, 3]``; returns (placed ``[N, 3]`` float32, score)."""
    lig = np.asarray(ligand_xyz, dtype=np.float64)
    tpl = np.asarray(template_xyz, dtype=np.float64)
    if lig.ndim != 2 or lig.shape[1] != 3 or len(lig) == 0 or tpl.ndim != 2 or len(tpl) == 0:
        raise ValueError(f"placement needs [N, 3] ligand and template coordinates, got {lig.shape}, {tpl.shape}")
    cl, al = principal_frame(lig)
    ct, at = principal_frame(tpl)
    rec = None
    if receptor_xyz is not None and len(receptor_xyz):
        rec = np.asarray(receptor_xyz, dtype=np.float64)
        reach = np.linalg.norm(lig - cl, axis=1).max() + 3.0
        rec = rec[np.linalg.norm(rec - ct, axis=1) <= reach]
    best, best_score = None, -np.inf
    for flip in _FLIPS:
        rot = at.T @ flip @ al  # ligand axes -> template axes
        x = (lig - cl) @ rot.T + ct
        score = shape_overlap(x, tpl) - clash_weight * clash(x, rec)
        if score > best_score:
            best, best_score = x, score
    return best.astype(np.float32), float(best_score)
