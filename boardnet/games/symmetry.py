"""Board symmetries as an explicit group with inverses (after minigo's symmetries.py).

The dihedral group D4 on a square board, indexed 0..7: k = r + 4*f where r is the number of
counter-clockwise quarter turns (np.rot90) applied after an optional left-right flip f.
Index 0 is the identity. A policy over the board's cells (row-major, `H*W` entries) moves with
the planes; trailing non-board actions (Go's pass) stay where they are.
"""
from __future__ import annotations

import numpy as np

D4_SIZE = 8


def _flip_rot(x: np.ndarray, k: int) -> np.ndarray:
    if not 0 <= k < D4_SIZE:
        raise ValueError(f"board symmetry {k!r}: expected 0-{D4_SIZE - 1}")
    r, f = k % 4, k // 4
    if f:
        x = np.flip(x, axis=-1)
    return np.rot90(x, r, axes=(-2, -1))


def d4_inverse(k: int) -> int:
    """Index of the symmetry that undoes k (flips are their own inverses)."""
    if not 0 <= k < D4_SIZE:
        raise ValueError(f"board symmetry {k!r}: expected 0-{D4_SIZE - 1}")
    r, f = k % 4, k // 4
    return k if f else (4 - r) % 4


def _compose_table() -> tuple[tuple[int, ...], ...]:
    probe = np.arange(16).reshape(4, 4)  # every element distinct, so no symmetry fixes it
    images = [_flip_rot(probe, c) for c in range(D4_SIZE)]
    table = []
    for a in range(D4_SIZE):
        row = []
        for b in range(D4_SIZE):
            target = _flip_rot(images[b], a)
            row.append(next(c for c in range(D4_SIZE) if np.array_equal(images[c], target)))
        table.append(tuple(row))
    return tuple(table)


_COMPOSE = _compose_table()


def d4_compose(a: int, b: int) -> int:
    """Index c with transform(transform(x, b), a) == transform(x, c)."""
    return _COMPOSE[a][b]


def d4_transform(planes: np.ndarray | None, policy: np.ndarray | None, k: int, h: int, w: int
                 ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Symmetry k of D4 applied to planes `[..., C, H, W]` and policy `[..., H*W (+extra)]`."""
    out_planes = None if planes is None else np.ascontiguousarray(_flip_rot(planes, k))
    out_policy = None
    if policy is not None:
        board = policy[..., : h * w].reshape(policy.shape[:-1] + (h, w))
        board = _flip_rot(board, k).reshape(policy.shape[:-1] + (h * w,))
        out_policy = np.concatenate([board, policy[..., h * w:]], axis=-1)
    return out_planes, out_policy


def mirror_transform(planes: np.ndarray | None, policy: np.ndarray | None, k: int
                     ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The two-element group {identity, left-right mirror}; policy indexed by column."""
    if k not in (0, 1):
        raise ValueError(f"mirror symmetry {k!r}: expected 0 or 1")
    if k == 0:
        return planes, policy
    return (None if planes is None else np.ascontiguousarray(np.flip(planes, axis=-1)),
            None if policy is None else np.ascontiguousarray(np.flip(policy, axis=-1)))
