"""atomgrid: typed voxel grids of protein-ligand complexes and AtomNet-style 3D CNNs.

Layers: ``io`` (RDKit readers with per-record errors) -> ``typing`` (agtypes-v1 channels) ->
``grid`` (pure-torch Gaussian densities) -> ``nets`` (3D CNNs) -> ``models`` (shipped models, loading)
-> ``data``/``train``/``evaluate``/``score``.

The shipped-model names (``DEFAULT_MODEL``, ...) and ``model_path`` live in :mod:`atomgrid.models`;
they are re-exported here on first use, so ``import atomgrid`` stays light.
"""
_FROM_MODELS = ("MODELS_DIR", "DEFAULT_MODEL", "LIGAND_ONLY_MODEL", "POSE_MODEL", "POSE_LIGAND_ONLY_MODEL", "model_path")


def __getattr__(name):
    if name in _FROM_MODELS:
        from . import models
        return getattr(models, name)
    raise AttributeError(f"module 'atomgrid' has no attribute {name!r}")
