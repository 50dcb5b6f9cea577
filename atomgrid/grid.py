"""Coordinates + channel weights -> Gaussian density grids ``[B, C, D, H, W]``; pure torch.

Density of an atom of radius r at distance d (libmolgrid's default, gaussian_radius_multiple 1):
``exp(-2 d^2 / r^2)`` for d <= r, then the quadratic tail ``e^-2 (2d/r - 3)^2`` that meets it with
equal value and slope at d = r and reaches 0 with zero slope at d = 1.5 r; 0 beyond. The sum over
atoms is weighted by each atom's channel weights (multi-hot types).

Grid points follow libmolgrid: point i along an axis sits at ``center - (n - 1) * res / 2 + i * res``
and axes are ordered (x, y, z) -> (D, H, W), so 48 points at 0.5 Å span 23.5 Å (a "24 Å cube").

Speed: separable Gaussians are not exact for the truncated density, so each atom visits only the
small cube of grid points within 1.5 r (13^3 at 0.5 Å for r = 1.9 Å), vectorised over atoms with
broadcast per-axis offsets, and scattered (index_add) into one scratch grid per distinct channel
signature (atoms with identical weight rows share it); one small matmul then spreads signatures
onto channels. Everything is differentiable with respect to the coordinates.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import torch

FINAL_RADIUS_MULTIPLE = 1.5
_E2 = math.exp(-2.0)
_E1 = math.exp(-1.0)
CHUNK_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class GridSpec:
    """Cubic grid: ``size`` points per edge, ``resolution`` Å between points."""

    size: int = 48
    resolution: float = 0.5

    def __post_init__(self):
        if self.size < 1 or not (self.resolution > 0):
            raise ValueError(f"GridSpec needs size >= 1 and resolution > 0, got {self.size}, {self.resolution}")

    @property
    def dimension(self) -> float:
        """Edge length in Å from the first to the last grid point."""
        return (self.size - 1) * self.resolution

    def points(self, center=(0.0, 0.0, 0.0), dtype=torch.float64) -> torch.Tensor:
        """Coordinates of the grid points along each axis ``[3, size]`` (Å)."""
        c = torch.as_tensor(center, dtype=dtype).reshape(3, 1)
        i = torch.arange(self.size, dtype=dtype).reshape(1, -1)
        return c - self.dimension / 2 + i * self.resolution


def density(d2: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Atom density at squared distance ``d2`` (Å^2) for radius ``r`` (Å); broadcasts."""
    r2 = r * r
    gauss = torch.exp(-2.0 * d2 / r2)
    d = torch.sqrt(torch.clamp(d2, min=1e-12))  # clamp: no inf gradient at d = 0 (branch unused there)
    quad = _E2 * (2.0 * d / r - 3.0) ** 2
    out = torch.where(d2 <= r2, gauss, quad)
    return out * (d2 < (FINAL_RADIUS_MULTIPLE ** 2) * r2).to(out.dtype)


def half_width(r: float | torch.Tensor, resolution: float) -> torch.Tensor:
    """Grid points to visit on each side of an atom's nearest point: floor(1.5 r / res + 0.5)."""
    return torch.floor(torch.as_tensor(r) * FINAL_RADIUS_MULTIPLE / resolution + 0.5).long()


_SCRATCH: dict = {}
SCRATCH_MAX = 1 << 25  # elements (128 MB of float32); larger scratch grids are allocated per call


def _scratch(numel: int, dev, dt, needs_grad: bool) -> torch.Tensor:
    """A zeroed scratch vector. Without autograd the buffer is reused between calls: a fresh
    multi-megabyte allocation each call costs more in page faults than the gridding itself."""
    if needs_grad or numel > SCRATCH_MAX:
        return torch.zeros(numel, device=dev, dtype=dt)
    key = (dev, dt, threading.get_ident())  # one buffer per thread: callers may grid in parallel
    buf = _SCRATCH.get(key)
    if buf is None or buf.numel() < numel:
        buf = torch.empty(numel, device=dev, dtype=dt)
        _SCRATCH[key] = buf
    view = buf[:numel]
    view.zero_()
    return view


def _distinct_rows(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(distinct rows ``[S, C]``, row id of each atom ``[N]``); 0/1 rows are bit-packed first because
    ``torch.unique(dim=0)`` compares rows one by one and dominated the gridding time."""
    c = weights.shape[1]
    if c <= 62 and bool(((weights == 0) | (weights == 1)).all()):
        bits = torch.pow(2, torch.arange(c, device=weights.device, dtype=torch.int64))
        code = (weights.to(torch.int64) * bits).sum(1)
        uniq, inv = torch.unique(code, return_inverse=True)
        sig = ((uniq[:, None] & bits) != 0).to(weights.dtype)
        return sig, inv
    return torch.unique(weights, dim=0, return_inverse=True)


def make_grid(coords: torch.Tensor, weights: torch.Tensor, radii: torch.Tensor, center,
              spec: GridSpec = GridSpec()) -> torch.Tensor:
    """One complex: ``coords [N, 3]`` (Å), ``weights [N, C]``, ``radii [N]`` (Å), ``center [3]`` -> ``[C, S, S, S]``."""
    batch = torch.zeros(coords.shape[0], dtype=torch.long, device=coords.device)
    center = torch.as_tensor(center, dtype=coords.dtype, device=coords.device).reshape(1, 3)
    return make_grids(coords, weights, radii, batch, center, spec)[0]


def make_grids(coords: torch.Tensor, weights: torch.Tensor, radii: torch.Tensor, batch: torch.Tensor,
               centers: torch.Tensor, spec: GridSpec = GridSpec()) -> torch.Tensor:
    """Batched gridding of concatenated atoms.

    coords ``[N, 3]`` Å, weights ``[N, C]`` (any float; multi-hot types), radii ``[N]`` Å,
    batch ``[N]`` int (complex of each atom, 0..B-1), centers ``[B, 3]`` Å -> ``[B, C, S, S, S]``
    on ``coords``' device and dtype. Atoms outside the grid simply contribute nothing.
    """
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"coords must be [N, 3], got {tuple(coords.shape)}")
    n, c = weights.shape
    if n != coords.shape[0] or radii.shape != (n,) or batch.shape != (n,):
        raise ValueError(f"coords {tuple(coords.shape)}, weights {tuple(weights.shape)}, radii {tuple(radii.shape)} "
                         f"and batch {tuple(batch.shape)} must agree on N")
    if centers.ndim != 2 or centers.shape[1] != 3:
        raise ValueError(f"centers must be [B, 3], got {tuple(centers.shape)}")
    if n and not bool((radii > 0).all()):
        raise ValueError("all radii must be positive")
    dev, dt = coords.device, coords.dtype
    b_count, s, res = centers.shape[0], spec.size, spec.resolution
    if dev.type == "cpu" and b_count > 1 and n:
        # one complex at a time on CPU: its scratch grids stay cache-sized (a whole batch's do not,
        # which made batched gridding ~3x slower per complex); GPUs take the batch in one go
        order = torch.argsort(batch, stable=True)
        counts = torch.bincount(batch, minlength=b_count).tolist()
        parts, start = [], 0
        for b, k in enumerate(counts):
            idx = order[start:start + k]
            start += k
            parts.append(make_grids(coords[idx], weights[idx], radii[idx], torch.zeros(k, dtype=torch.long),
                                    centers[b:b + 1], spec))
        return torch.cat(parts)
    if n == 0:
        return torch.zeros(b_count, c, s, s, s, device=dev, dtype=dt)
    weights = weights.to(dev, dt)
    radii = radii.to(dev, dt)
    origin = centers.to(dev, dt) - spec.dimension / 2
    rel = (coords - origin[batch]) / res  # position in grid-index units, [N, 3]
    base = torch.round(rel.detach()).long()
    k_atom = half_width(radii.detach(), res).to(dev)
    # keep atoms whose cube of points can touch the grid
    keep = ((base + k_atom[:, None]) >= 0).all(1) & ((base - k_atom[:, None]) <= s - 1).all(1)
    if not bool(keep.all()):
        idx = torch.nonzero(keep).squeeze(1)
        rel, base, k_atom, radii, batch, weights = rel[idx], base[idx], k_atom[idx], radii[idx], batch[idx], weights[idx]
    if rel.shape[0] == 0:
        return torch.zeros(b_count, c, s, s, s, device=dev, dtype=dt)
    sig, inv = _distinct_rows(weights)  # [S_sig, C], [N']
    n_sig = sig.shape[0]
    vox = s * s * s
    # Few distinct weight rows (real atom types): one scratch grid per row, laid out [S_sig, B, V],
    # then a sparse [C, S_sig] x [S_sig, B*V] product spreads rows onto channels (each row has only
    # a few ones, so this is a few adds per voxel, not a dense matmul).
    # Many distinct rows (arbitrary float weights, n_sig > 4 C): scatter (atom, channel) pairs instead.
    by_signature = n_sig <= 4 * c
    if by_signature:
        grad = torch.is_grad_enabled() and (coords.requires_grad or radii.requires_grad)
        target = _scratch(n_sig * b_count * vox, dev, dt, grad)
        slot = (inv * b_count + batch) * vox  # [N'] start of each atom's scratch grid
    else:
        out = torch.zeros(b_count, c, s, s, s, device=dev, dtype=dt)
        target = out.view(-1)
        pair_atom, pair_chan = torch.nonzero(weights, as_tuple=True)
        pair_w = weights[pair_atom, pair_chan]
        atom_slot = batch * (c * vox)
    chunks = []
    for k in torch.unique(k_atom).tolist():
        sel_k = torch.nonzero(k_atom == k).squeeze(1)
        # chunks of atoms whose [n, w, w, w] temporaries stay in cache (about 1 MB each) on CPU
        per = max(1, CHUNK_ELEMENTS // (2 * k + 1) ** 3) if dev.type == "cpu" else sel_k.shape[0]
        chunks += [(k, sel_k[i:i + per]) for i in range(0, sel_k.shape[0], per)]
    for k, sel in chunks:
        off = torch.arange(-k, k + 1, device=dev)
        idx3 = base[sel, :, None] + off  # [n, 3, w] integer grid indices per axis
        diff = (idx3.to(dt) - rel[sel, :, None]) * res  # [n, 3, w] Å
        sq = diff * diff
        r = radii[sel].reshape(-1, 1)
        inside = (idx3 >= 0) & (idx3 < s)  # [n, 3, w]
        # The Gaussian part is separable: exp(-2 d^2/r^2) = product of per-axis factors (tiny arrays);
        # off-grid points get factor 0 and a huge squared distance, so both branches give 0 there.
        fac = torch.exp(-2.0 * sq / (r * r)[:, :, None]) * inside
        sq = torch.where(inside, sq, torch.full_like(sq, 1e6))
        gauss = fac[:, 0, :, None, None] * fac[:, 1, None, :, None] * fac[:, 2, None, None, :]
        d2 = sq[:, 0, :, None, None] + sq[:, 1, None, :, None] + sq[:, 2, None, None, :]  # [n, w, w, w]
        r4 = r.reshape(-1, 1, 1, 1)
        # quadratic tail e^-2 (2d/r - 3)^2 = (2 e^-1 d / r - 3 e^-1)^2; clamping d to [~0, 1.5 r] makes it
        # 0 beyond the cut-off and keeps the sqrt's gradient finite at d = 0 (the Gaussian is used there)
        t = torch.sqrt(torch.clamp(torch.clamp(d2, min=1e-12), max=(FINAL_RADIUS_MULTIPLE ** 2) * r4 * r4))
        t = torch.addcmul(torch.full_like(r4, -3.0 * _E1), t, 2.0 * _E1 / r4)
        dens = torch.where(d2 <= r4 * r4, gauss, t * t)
        idx3 = idx3.clamp(0, s - 1)  # outside points add 0 at a valid address
        if by_signature:
            ax = idx3[:, 0, :] * (s * s) + slot[sel, None]  # fold each atom's slot into the x term
            vflat = ax[:, :, None, None] + (idx3[:, 1, None, :, None] * s + idx3[:, 2, None, None, :])
            target.index_add_(0, vflat.reshape(-1), dens.reshape(-1))
        else:
            vflat = (idx3[:, 0, :, None, None] * (s * s) + idx3[:, 1, None, :, None] * s
                     + idx3[:, 2, None, None, :])  # [n, w, w, w]
            local = torch.full((weights.shape[0],), -1, dtype=torch.long, device=dev)
            local[sel] = torch.arange(sel.shape[0], device=dev)
            pm = local[pair_atom] >= 0
            pa, pc, pw = local[pair_atom[pm]], pair_chan[pm], pair_w[pm]
            start = (atom_slot[sel][pa] + pc * vox).reshape(-1, 1, 1, 1)
            target.index_add_(0, (vflat[pa] + start).reshape(-1), (dens[pa] * pw.reshape(-1, 1, 1, 1)).reshape(-1))
    if by_signature:
        spread = sig.t().to_sparse()  # [C, S_sig]
        flat = torch.sparse.mm(spread, target.view(n_sig, b_count * vox))  # [C, B*V]
        out = flat.view(c, b_count, s, s, s).transpose(0, 1)
        out = out if b_count == 1 else out.contiguous()
    return out


# ----------------------------------------------------------------------------- augmentation

def random_rotations(n: int, generator: torch.Generator | None = None, dtype=torch.float32) -> torch.Tensor:
    """``n`` uniformly random rotation matrices ``[n, 3, 3]`` (from normalised Gaussian quaternions)."""
    q = torch.randn(n, 4, generator=generator, dtype=torch.float64)
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    rot = torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], dim=1).reshape(n, 3, 3)
    return rot.to(dtype)


def random_translations(n: int, max_shift: float, generator: torch.Generator | None = None,
                        dtype=torch.float32) -> torch.Tensor:
    """``n`` translations ``[n, 3]`` uniform in a ball of radius ``max_shift`` Å."""
    v = torch.randn(n, 3, generator=generator, dtype=torch.float64)
    v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
    rad = max_shift * torch.rand(n, 1, generator=generator, dtype=torch.float64) ** (1 / 3)
    return (v * rad).to(dtype)


def transform(coords: torch.Tensor, batch: torch.Tensor, centers: torch.Tensor, rotations: torch.Tensor,
              translations: torch.Tensor) -> torch.Tensor:
    """Rotate each complex's atoms about its centre and shift them: ``coords [N, 3]`` -> ``[N, 3]``.

    ``rotations [B, 3, 3]``, ``translations [B, 3]``, ``centers [B, 3]`` (the grid centres stay put,
    so the molecule moves relative to the grid as in libmolgrid's Transform).
    """
    c = centers[batch]
    r = rotations.to(coords.dtype)[batch]
    return torch.einsum("nij,nj->ni", r, coords - c) + c + translations.to(coords.dtype)[batch]
