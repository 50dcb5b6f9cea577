"""boardnet: board game rules, AlphaZero-style networks, batched tree search and front ends."""
from traincore._version import __version__

__all__ = ["__version__"]
