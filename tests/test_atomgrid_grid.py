"""Gridding: golden densities, exact 90-degree permutations, gradients, batching, augmentation."""
import math

import pytest
import torch

from atomgrid.grid import (GridSpec, density, make_grid, make_grids, random_rotations, random_translations,
                           transform)

D = torch.float64


def analytic(d: float, r: float) -> float:
    """libmolgrid density written out by hand."""
    if d <= r:
        return math.exp(-2 * d * d / (r * r))
    if d < 1.5 * r:
        return math.exp(-2) * (2 * d / r - 3) ** 2
    return 0.0


def test_density_is_continuous_at_r_and_vanishes_at_1_5r():
    r = torch.tensor(1.7, dtype=D)
    for d, want in [(0.0, 1.0), (1.7, math.exp(-2)), (1.7 * 1.5, 0.0), (1.7 * 1.25, math.exp(-2) * 0.25), (5.0, 0.0)]:
        assert float(density(torch.tensor(d * d, dtype=D), r)) == pytest.approx(want, abs=1e-12)


def test_two_hand_placed_atoms_match_analytic_density_at_chosen_voxels():
    spec = GridSpec(size=10, resolution=0.5)  # points at -2.25, -1.75, ..., 2.25 on each axis
    xyz = torch.tensor([[0.1, -0.3, 0.2], [1.0, 0.6, -0.4]], dtype=D)
    radii = torch.tensor([1.9, 1.5], dtype=D)
    w = torch.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=D)  # atom 0 -> ch0, atom 1 -> ch0 and ch1
    g = make_grid(xyz, w, radii, (0.0, 0.0, 0.0), spec)
    assert g.shape == (2, 10, 10, 10)
    pts = spec.points()
    for (i, j, k) in [(4, 4, 5), (6, 5, 3), (0, 0, 0), (9, 9, 9), (7, 6, 4), (2, 3, 6)]:
        p = torch.stack([pts[0, i], pts[1, j], pts[2, k]])
        d0, d1 = float((p - xyz[0]).norm()), float((p - xyz[1]).norm())
        assert float(g[0, i, j, k]) == pytest.approx(analytic(d0, 1.9) + analytic(d1, 1.5), abs=1e-12)
        assert float(g[1, i, j, k]) == pytest.approx(analytic(d1, 1.5), abs=1e-12)


def test_single_atom_value_at_grid_point_is_one_and_total_matches_points_within_reach():
    spec = GridSpec(size=9, resolution=0.5)
    g = make_grid(torch.zeros(1, 3, dtype=D), torch.ones(1, 1, dtype=D), torch.tensor([1.0], dtype=D), (0, 0, 0), spec)
    assert float(g[0, 4, 4, 4]) == 1.0
    # points with distance < 1.5 Å from the centre: the nonzero count is known exactly
    pts = spec.points()
    d2 = pts[0][:, None, None] ** 2 + pts[1][None, :, None] ** 2 + pts[2][None, None, :] ** 2
    assert int((g[0] > 0).sum()) == int((d2 < 1.5 ** 2 - 1e-12).sum())
    # lattice vectors v (units of 0.5 Å) with |v|^2 < 9: 1 + 6 + 12 + 8 + 6 + 24 + 24 + 12
    assert int((g[0] > 0).sum()) == 93


def test_rotation_by_90_degrees_permutes_grid_exactly():
    torch.manual_seed(1)
    spec = GridSpec(size=12, resolution=0.5)
    xyz = torch.randn(30, 3, dtype=D) * 1.5
    w = torch.zeros(30, 4, dtype=D)
    w[torch.arange(30), torch.randint(0, 4, (30,))] = 1.0
    radii = torch.rand(30, dtype=D) + 1.0
    g = make_grid(xyz, w, radii, (0, 0, 0), spec)
    # (x, y, z) -> (-y, x, z): a quarter turn about z through the grid centre
    rot = torch.stack([-xyz[:, 1], xyz[:, 0], xyz[:, 2]], dim=1)
    g_rot = make_grid(rot, w, radii, (0, 0, 0), spec)
    # new[i, j] = old[j, n-1-i]  <=>  torch.rot90 over the (x, y) axes
    expected = torch.rot90(g, k=1, dims=(1, 2))
    assert torch.allclose(g_rot, expected, rtol=0, atol=1e-12)
    assert float(g.sum()) > 1.0


def test_gradcheck_small_grid_double():
    spec = GridSpec(size=6, resolution=0.6)
    xyz = torch.tensor([[0.13, -0.21, 0.37], [-0.55, 0.42, -0.18], [0.61, 0.05, -0.49]], dtype=D, requires_grad=True)
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=D)
    radii = torch.tensor([1.2, 0.9, 1.5], dtype=D)
    center = torch.zeros(1, 3, dtype=D)
    batch = torch.zeros(3, dtype=torch.long)
    assert torch.autograd.gradcheck(lambda x: make_grids(x, w, radii, batch, center, spec), (xyz,), eps=1e-6, atol=1e-6, fast_mode=True)


def test_gradcheck_both_scatter_paths():
    spec = GridSpec(size=5, resolution=0.7)
    xyz = torch.tensor([[0.1, 0.2, -0.3], [0.4, -0.5, 0.25], [-0.3, 0.1, 0.45], [0.2, -0.1, -0.6],
                        [-0.5, -0.4, 0.0], [0.0, 0.55, 0.3]], dtype=D, requires_grad=True)
    radii = torch.tensor([1.1, 1.4, 0.9, 1.2, 1.0, 1.3], dtype=D)
    center = torch.zeros(1, 3, dtype=D)
    batch = torch.zeros(6, dtype=torch.long)
    binary = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=D)
    floats = torch.tensor([[0.3], [0.9], [0.5], [0.7], [0.2], [0.6]], dtype=D)  # 6 distinct rows > 4 x 1 channel
    for w in (binary, floats):
        assert torch.autograd.gradcheck(lambda x: make_grids(x, w, radii, batch, center, spec), (xyz,), eps=1e-6,
                                        atol=1e-6, fast_mode=True)


def test_pair_path_equals_signature_path():
    torch.manual_seed(2)
    spec = GridSpec(size=10, resolution=0.5)
    xyz = torch.randn(40, 3, dtype=D)
    radii = torch.full((40,), 1.6, dtype=D)
    w = torch.rand(40, 3, dtype=D)  # 40 distinct rows > 3 channels: pair path
    g_pair = make_grid(xyz, w, radii, (0, 0, 0), spec)
    g_ref = sum(make_grid(xyz[i:i + 1], w[i:i + 1], radii[i:i + 1], (0, 0, 0), spec) for i in range(40))
    assert torch.allclose(g_pair, g_ref, atol=1e-12)


def test_batched_equals_one_by_one_and_far_atoms_add_nothing():
    torch.manual_seed(3)
    spec = GridSpec(size=8, resolution=0.5)
    xyz = torch.randn(20, 3, dtype=D)
    xyz[0] = torch.tensor([30.0, 0.0, 0.0], dtype=D)  # far outside
    w = torch.zeros(20, 3, dtype=D)
    w[torch.arange(20), torch.arange(20) % 3] = 1.0
    radii = torch.full((20,), 1.5, dtype=D)
    batch = torch.tensor([0] * 10 + [1] * 10)
    centers = torch.tensor([[0.0, 0.0, 0.0], [0.5, -0.5, 0.0]], dtype=D)
    g = make_grids(xyz, w, radii, batch, centers, spec)
    assert torch.allclose(g[0], make_grid(xyz[1:10], w[1:10], radii[1:10], centers[0], spec), atol=1e-12)
    assert torch.allclose(g[1], make_grid(xyz[10:], w[10:], radii[10:], centers[1], spec), atol=1e-12)


def test_bad_inputs_raise_clear_errors():
    spec = GridSpec(4, 0.5)
    with pytest.raises(ValueError, match=r"coords must be \[N, 3\]"):
        make_grid(torch.zeros(2, 2), torch.ones(2, 1), torch.ones(2), (0, 0, 0), spec)
    with pytest.raises(ValueError, match="must agree on N"):
        make_grid(torch.zeros(2, 3), torch.ones(3, 1), torch.ones(2), (0, 0, 0), spec)
    with pytest.raises(ValueError, match="radii must be positive"):
        make_grid(torch.zeros(1, 3), torch.ones(1, 1), torch.zeros(1), (0, 0, 0), spec)
    with pytest.raises(ValueError, match="resolution > 0"):
        GridSpec(4, 0.0)


def test_augmentation_rotations_are_proper_and_translations_bounded():
    g = torch.Generator().manual_seed(0)
    rot = random_rotations(50, g, dtype=D)
    eye = torch.eye(3, dtype=D).expand(50, 3, 3)
    assert torch.allclose(rot @ rot.transpose(1, 2), eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(rot), torch.ones(50, dtype=D), atol=1e-12)
    t = random_translations(200, 2.0, g, dtype=D)
    assert float(t.norm(dim=1).max()) <= 2.0 + 1e-12
    xyz = torch.randn(6, 3, dtype=D)
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    centers = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=D)
    moved = transform(xyz, batch, centers, rot[:2], torch.zeros(2, 3, dtype=D))
    # distances to the rotation centre are preserved
    assert torch.allclose((moved - centers[batch]).norm(dim=1), (xyz - centers[batch]).norm(dim=1), atol=1e-12)


def test_scratch_reuse_does_not_leak_between_calls():
    spec = GridSpec(size=8, resolution=0.5)
    w = torch.tensor([[1.0, 0.0]])
    a = make_grid(torch.zeros(1, 3), w, torch.tensor([1.5]), (0, 0, 0), spec)
    b = make_grid(torch.tensor([[1.0, 1.0, 1.0]]), w, torch.tensor([1.5]), (0, 0, 0), spec)
    a2 = make_grid(torch.zeros(1, 3), w, torch.tensor([1.5]), (0, 0, 0), spec)
    assert torch.equal(a, a2) and not torch.equal(a, b)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_gpu_grids_agree():
    torch.manual_seed(4)
    spec = GridSpec(size=24, resolution=0.5)
    xyz = torch.randn(300, 3) * 4
    w = torch.zeros(300, 28)
    w[torch.arange(300), torch.randint(0, 28, (300,))] = 1.0
    w[:, 8] = (torch.rand(300) < 0.3).float()
    radii = torch.rand(300) + 1.2
    batch = torch.arange(300) % 3
    centers = torch.randn(3, 3)
    cpu = make_grids(xyz, w, radii, batch, centers, spec)
    gpu = make_grids(xyz.cuda(), w.cuda(), radii.cuda(), batch.cuda(), centers.cuda(), spec)
    assert torch.allclose(cpu, gpu.cpu(), atol=1e-5)
