"""Replay buffer: a ring of training samples with a window that grows with the number of games.

Samples are stored as NumPy arrays (planes float16 to halve memory - they are 0/1 or small scaled
counters, exact in fp16 to 3 significant digits), each with a unique 64-bit id so that duplicates can be
detected. The window follows KataGo's idea: small at the start, so early poor games leave quickly, growing
with the number of games played up to `max_size`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Samples:
    """A batch of training samples (all arrays share the first dimension N).

    planes [N, C, H, W] float16, policy [N, A] float32 (visit distribution), value [N] float32
    (game outcome from the side to move's view), q [N] float32 (root search value), ids [N] int64.
    Go runs that train an ownership head also carry own [N, H, W] int8 (the final Tromp-Taylor owner of
    each point from the side to move's view, +1 its own) and own_mask [N] float32 (0 where the game did
    not end on the board: resigned or cut at the move cap); both None otherwise.
    """

    planes: np.ndarray
    policy: np.ndarray
    value: np.ndarray
    q: np.ndarray
    ids: np.ndarray
    own: np.ndarray | None = None
    own_mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def fields(self) -> tuple[str, ...]:
        return FIELDS + (OWN_FIELDS if self.own is not None else ())

    def take(self, index) -> "Samples":
        return Samples(**{f: getattr(self, f)[index] for f in self.fields()})

    @staticmethod
    def concat(parts: list["Samples"]) -> "Samples":
        fields = parts[0].fields()
        if any(p.fields() != fields for p in parts):
            raise ValueError("Samples.concat: some parts carry ownership targets and some do not")
        return Samples(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


FIELDS = ("planes", "policy", "value", "q", "ids")
OWN_FIELDS = ("own", "own_mask")


class ReplayBuffer:
    def __init__(self, obs_shape: tuple[int, int, int], action_size: int, max_size: int = 200_000,
                 min_size: int = 2_000, growth_per_game: float = 40.0, ownership: bool = False):
        self.obs_shape = tuple(obs_shape)
        self.action_size = action_size
        self.max_size = int(max_size)
        self.min_size = int(min(min_size, max_size))
        self.growth_per_game = float(growth_per_game)
        self.planes = np.zeros((self.max_size, *self.obs_shape), dtype=np.float16)
        self.policy = np.zeros((self.max_size, action_size), dtype=np.float32)
        self.value = np.zeros(self.max_size, dtype=np.float32)
        self.q = np.zeros(self.max_size, dtype=np.float32)
        self.ids = np.full(self.max_size, -1, dtype=np.int64)
        self.ownership = bool(ownership)   # Go with an ownership head: per-point targets beside each sample
        if self.ownership:
            self.own = np.zeros((self.max_size, *self.obs_shape[1:]), dtype=np.int8)
            self.own_mask = np.zeros(self.max_size, dtype=np.float32)
        self.total_added = 0   # samples ever added (the write position is total_added % max_size)
        self.games = 0

    def window(self) -> int:
        """How many of the newest samples are eligible for sampling now."""
        grown = self.min_size + self.growth_per_game * self.games
        return int(min(self.max_size, grown, self.total_added))

    def __len__(self) -> int:
        return self.window()

    def fields(self) -> tuple[str, ...]:
        return FIELDS + (OWN_FIELDS if self.ownership else ())

    def add(self, s: Samples, games: int = 0) -> None:
        n = len(s)
        if n and self.ownership and s.own is None:
            raise ValueError("replay buffer: this run trains an ownership head, but the samples carry no "
                             "ownership targets")
        if n > self.max_size:  # only the newest fit
            s = s.take(slice(-self.max_size, None))
            self.total_added += n - self.max_size
            n = self.max_size
        idx = (self.total_added + np.arange(n)) % self.max_size
        for f in self.fields():
            getattr(self, f)[idx] = getattr(s, f)
        self.total_added += n
        self.games += games

    def sample_indices(self, batch_size: int, rng: np.random.Generator) -> np.ndarray:
        w = self.window()
        if w == 0:
            raise ValueError("replay buffer is empty")
        offsets = rng.integers(0, w, size=batch_size)
        return (self.total_added - 1 - offsets) % self.max_size

    def sample(self, batch_size: int, rng: np.random.Generator) -> Samples:
        i = self.sample_indices(batch_size, rng)
        return Samples(**{f: getattr(self, f)[i] for f in self.fields()})

    def stored_ids(self) -> np.ndarray:
        n = min(self.total_added, self.max_size)
        return self.ids[:n] if self.total_added <= self.max_size else self.ids.copy()

    def state_dict(self) -> dict:
        """Plain tensors (weights_only-safe); only the filled part is saved."""
        n = min(self.total_added, self.max_size)
        d = {f: torch.from_numpy(getattr(self, f)[:n].copy()) for f in self.fields()}
        return {**d, "total_added": self.total_added, "games": self.games, "max_size": self.max_size}

    def load_state_dict(self, d: dict) -> None:
        if d["max_size"] != self.max_size:
            raise ValueError(f"replay buffer: checkpoint has max_size {d['max_size']}, config says {self.max_size}")
        if self.ownership and "own" not in d:
            raise ValueError("replay buffer: the checkpoint holds no ownership targets, but the config trains an "
                             "ownership head (net.ownership)")
        n = d["ids"].shape[0]
        for f in self.fields():
            getattr(self, f)[:n] = d[f].numpy()
        self.total_added = int(d["total_added"])
        self.games = int(d["games"])
