"""atomgrid: typed voxel grids of protein-ligand complexes and AtomNet-style 3D CNNs.

Layers: ``io`` (RDKit readers with per-record errors) -> ``typing`` (agtypes-v1 channels) ->
``grid`` (pure-torch Gaussian densities) -> ``nets`` (3D CNNs) -> ``data``/``train``/``evaluate``.
"""
from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "ag-atomnet-c16-l3-g16r15-screen"  # pose + affinity + DUD-E actives/decoys (screen.toml)
LIGAND_ONLY_MODEL = "ag-atomnet-c16-l3-g16r15-screen-ligonly"  # its ligand-only baseline
POSE_MODEL = "ag-atomnet-c16-l3-g16r15"  # the pose + affinity stage it was fine-tuned from (small.toml)
POSE_LIGAND_ONLY_MODEL = "ag-atomnet-c16-l3-g16r15-ligonly"


def model_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of a model shipped in the package (``atomgrid/models/<name>.pt``)."""
    p = MODELS_DIR / f"{name}.pt"
    if not p.exists():
        known = sorted(q.stem for q in MODELS_DIR.glob("*.pt"))
        raise FileNotFoundError(f"no shipped atomgrid model {name!r} (shipped: {', '.join(known) or 'none'})")
    return p
