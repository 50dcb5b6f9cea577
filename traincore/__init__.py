"""traincore: the one training core shared by boardnet/selfplay and atomgrid.

runtime (device, precision, seeding), config (typed TOML configs), checkpoint (atomic, safe),
loop (`fit`), schedule (LR functions), metrics (JSONL + TensorBoard).
"""
from traincore._version import __version__
from traincore.checkpoint import (CheckpointError, CheckpointManager, load_checkpoint, restore_training_state,
                                  save_checkpoint, training_state)
from traincore.config import ConfigError, config_to_dict, load_config, save_config
from traincore.loop import NonFiniteLossError, fit
from traincore.metrics import MetricsLogger, RunningMean
from traincore.runtime import Runtime, seed_everything
from traincore.schedule import make_schedule

__all__ = ["__version__", "CheckpointError", "CheckpointManager", "load_checkpoint", "save_checkpoint",
           "training_state", "restore_training_state", "ConfigError", "load_config", "save_config",
           "config_to_dict", "fit", "NonFiniteLossError", "MetricsLogger", "RunningMean", "Runtime",
           "seed_everything", "make_schedule"]
