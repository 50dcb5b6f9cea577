"""traincore: the one training core shared by boardnet/selfplay and atomgrid.

runtime (device, precision, seeding), config (typed TOML configs), checkpoint (atomic, safe),
loop (`fit`), schedule (LR functions), metrics (JSONL + TensorBoard).

Names are loaded on first use, so `import boardnet.games` (which reads the version from here) does not
pay for importing torch.
"""
from importlib import import_module

from traincore._version import __version__

_EXPORTS = {
    "CheckpointError": "checkpoint", "CheckpointManager": "checkpoint", "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint", "training_state": "checkpoint", "restore_training_state": "checkpoint",
    "ConfigError": "config", "load_config": "config", "save_config": "config", "config_to_dict": "config",
    "fit": "loop", "NonFiniteLossError": "loop", "MetricsLogger": "metrics", "RunningMean": "metrics",
    "Runtime": "runtime", "seed_everything": "runtime", "make_schedule": "schedule",
}
__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"traincore.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'traincore' has no attribute {name!r}")
