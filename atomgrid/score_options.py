"""Options and errors of ``atomgrid score`` (what changes the rows, fingerprinted for ``--resume``)."""
from __future__ import annotations

import math
from dataclasses import dataclass

from .poses import POSE_MODES, PrepOptions


# `atomgrid score --rotations` default: chosen on the validation targets (PDE4B, PDE5; mean ROC AUC 0.830 at 1,
# 0.848 at 4, 0.864 at 8, 0.869 at 16, 0.871 at 32: benchmarks/results/atomgrid_crossval-validation-rot*-
# ag-atomnet-c16-l3-g16r15-dekois.json); 32 adds 0.002 for twice the passes. Since session 16 it is also the
# default of ScoreOptions (the Python API gives what the CLI gives); the protocol's posing and the benchmarks that
# publish as-posed figures pass rotations=1 explicitly, so their cached files keep their keys.
CLI_ROTATIONS = 16


class ScoreError(ValueError):
    """A run that cannot start (bad arguments, missing receptor/model, mismatched resume)."""


class EmptyLibraryError(ScoreError):
    """The library holds no records (the CLI warns and exits non-zero unless --allow-empty)."""



@dataclass(frozen=True)
class ScoreOptions:
    """Everything that changes the rows (it is fingerprinted for ``resume``).

    ``poses``: 'given' | 'template' | 'dock'; ``n_confs`` ETKDG conformers per molecule (template);
    ``ff_iters`` MMFF (else UFF) clean-up iterations per conformer (0: none);
    ``keep`` best-aligned conformers relaxed and scored; ``relax_steps`` rigid clash-relaxation steps;
    ``exhaustiveness``/``dock_poses`` for Vina; ``batch_size`` CNN batch; ``chunk_size`` records per
    chunk (the unit of resume and of parallel work); ``max_heavy_atoms``; ``seed``; ``rotations`` the
    orientations each molecule's best pose is scored in (the mean logit: test-time augmentation; the
    pose is picked as posed, then scored R times; 1 = as posed; default 16, as the CLI); ``blend`` the
    weight of the ligand-only twin in the ranking ``z(model) + blend * z(twin)`` (the ``blend`` column;
    0, the default: the model alone). The preparation
    fields default to :class:`atomgrid.poses.PrepOptions` (one set of defaults for both).
    """

    poses: str = "template"
    n_confs: int = PrepOptions.n_confs
    ff_iters: int = PrepOptions.ff_iters
    keep: int = 3
    relax_steps: int = 30
    exhaustiveness: int = 8
    dock_poses: int = 3
    batch_size: int = 32
    chunk_size: int = 64
    max_heavy_atoms: int = PrepOptions.max_heavy_atoms
    embed_timeout: int = PrepOptions.embed_timeout
    seed: int = PrepOptions.seed
    precision: str = "auto"  # the CNN's arithmetic (traincore.runtime); gridding is always fp32
    rotations: int = CLI_ROTATIONS  # test-time augmentation: mean logit over this many fixed orientations (1: none)
    blend: float = 0.0  # weight of the ligand-only twin in the ranking (0: rank by the model alone)
    vina_prior: float = 0.0  # weight w of Vina's pK in the pK_vina_prior column, (1 - w) pK + w (-E / 1.364); 0: off

    def __post_init__(self):
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ScoreError(f"--precision {self.precision!r}: expected auto, fp32 or bf16")
        if self.poses not in POSE_MODES:
            raise ScoreError(f"--poses {self.poses!r}: expected one of {', '.join(POSE_MODES)}")
        for k in ("n_confs", "keep", "exhaustiveness", "dock_poses", "batch_size", "chunk_size", "max_heavy_atoms",
                  "rotations"):
            if getattr(self, k) < 1:
                raise ScoreError(f"{k} must be >= 1, got {getattr(self, k)}")
        if not (math.isfinite(self.blend) and self.blend >= 0):
            raise ScoreError(f"--blend {self.blend}: expected a finite weight >= 0 (0: rank by the model alone)")
        if not (math.isfinite(self.vina_prior) and 0 <= self.vina_prior <= 1):
            raise ScoreError(f"--vina-prior {self.vina_prior}: expected a weight in [0, 1] (0: no Vina prior column)")
        if self.ff_iters < 0:
            raise ScoreError(f"ff_iters must be >= 0, got {self.ff_iters}")

    def prep(self) -> PrepOptions:
        return PrepOptions(n_confs=self.n_confs, ff_iters=self.ff_iters, max_heavy_atoms=self.max_heavy_atoms,
                           embed_timeout=self.embed_timeout, seed=self.seed)
