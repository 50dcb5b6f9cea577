"""Pure Monte Carlo tree search: UCT selection and uniformly random roll-outs, no network.

A network-free opponent and reference for the PUCT engine, written plainly (one Python object
per node) so that it shares no code with `boardnet.search`. UCT (Kocsis and Szepesvari):
    score(a) = W(a) / N(a) + c * sqrt(ln N / N(a)),  unvisited children first (in random order).
"""
from __future__ import annotations

import math
import time

import numpy as np


class _Node:
    __slots__ = ("state", "parent", "action", "children", "untried", "N", "W", "mover")

    def __init__(self, state, parent, action, mover, rng):
        self.state = state
        self.parent = parent
        self.action = action
        self.children: list[_Node] = []
        acts = state.legal_actions().tolist()
        rng.shuffle(acts)
        self.untried = acts
        self.N = 0
        self.W = 0.0            # sum of results for `mover`, the player who moved into this node
        self.mover = mover


class PureMCTS:
    """`select(state)` -> action after `simulations` play-outs (or `time_limit` seconds if given,
    whichever comes first). Results are seeded and reproducible."""

    def __init__(self, game, simulations: int = 1000, c: float = 1.4, seed: int = 0,
                 time_limit: float | None = None):
        if simulations < 1:
            raise ValueError(f"PureMCTS simulations={simulations}: must be >= 1")
        if time_limit is not None and time_limit <= 0:
            raise ValueError(f"PureMCTS time_limit={time_limit}: must be > 0 seconds")
        self.game = game
        self.simulations = simulations
        self.c = c
        self.time_limit = time_limit
        self.rng = np.random.default_rng(seed)
        self.last_simulations = 0

    def select(self, state) -> int:
        if state.is_terminal():
            raise ValueError(f"PureMCTS.select: position {state.to_text()!r} is terminal")
        rng = self.rng
        root = _Node(state, None, -1, 1 - state.to_play(), rng)
        t0 = time.perf_counter()
        n = 0
        while n < self.simulations:
            if self.time_limit is not None and n and time.perf_counter() - t0 >= self.time_limit:
                break
            node = root
            # selection
            while not node.untried and node.children:
                log_n = math.log(node.N)
                c = self.c
                node = max(node.children,
                           key=lambda ch: ch.W / ch.N + c * math.sqrt(log_n / ch.N))
            # expansion
            if node.untried:
                a = node.untried.pop()
                s = node.state.apply(a)
                child = _Node(s, node, a, node.state.to_play(), rng)
                node.children.append(child)
                node = child
            # roll-out
            s = node.state
            while not s.is_terminal():
                acts = s.legal_actions()
                s = s.apply(int(acts[rng.integers(len(acts))]))
            returns = s.returns()
            # back-up
            while node is not None:
                node.N += 1
                node.W += float(returns[node.mover])
                node = node.parent
            n += 1
        self.last_simulations = n
        best = max(root.children, key=lambda ch: ch.N)
        return int(best.action)
