"""Batched PUCT Monte Carlo tree search (AlphaZero) over the game and evaluator protocols.

The search imports NumPy and the protocols only: no torch, no concrete game.

Node statistics live in flat NumPy arrays (a `_Store`); the children of a node are one
contiguous block of node ids, one per legal action, created when the node is evaluated.
`W[n]` and `N[n]` are the value sum and visit count of node n seen from the player who moved
into n (its parent's side to move), so a parent maximises `Q = W / N` over its children directly.
Values from the evaluator are from the leaf's side to move; terminal values come from
`State.returns()` and are exact.

Two ways to batch evaluations:
- `search_lockstep`: many trees (games) step together, one leaf per tree per step, and all leaves
  go to the evaluator in one call. The trees are moved into one shared store so that the PUCT
  descent runs as a handful of NumPy operations over all trees at once, level by level; this is
  what keeps the per-simulation Python cost small next to a batched network call.
- `search_virtual_loss`: one tree, several leaves per evaluator call, spread apart by virtual
  loss (interactive analysis and play).

Selection (AlphaZero's PUCT, with minigo's `max(1, N - 1)` so priors count on the first step):
    score(a) = Q(a) + c(N) * P(a) * sqrt(max(1, N - 1)) / (1 + N(a)),
    c(N)     = c_puct_init + log((N + c_puct_base + 1) / c_puct_base),
with first-play urgency Q(a) = Q(parent) - fpu_reduction for unvisited children (reduction 0 at
a root that carries Dirichlet noise, so exploration there follows the noisy priors).
"""
from __future__ import annotations

import math
import operator
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from boardnet.games.base import State

__all__ = ["SearchConfig", "Evaluator", "Tree", "search_lockstep", "search_virtual_loss"]

# node status
_NEW = 0        # allocated as a child; its state has not been computed yet
_LEAF = 1       # state known, not terminal, waiting for (or never given) an evaluation
_EXPANDED = 2   # evaluated: children allocated
_TERMINAL = 3   # game over: exact value in tvalue


@dataclass(frozen=True)
class SearchConfig:
    num_simulations: int = 200
    c_puct_init: float = 1.25
    c_puct_base: float = 19652.0
    dirichlet_alpha: float | None = None   # None -> 10 / number of legal actions at the root
    noise_weight: float = 0.25
    fpu_reduction: float = 0.25            # unvisited child Q = parent Q - this (0 at a noisy root)
    virtual_loss: int = 3
    solve: bool = True                     # settle nodes whose outcome is proven by terminal children

    def __post_init__(self):
        if self.num_simulations < 1:
            raise ValueError(f"search num_simulations={self.num_simulations}: must be >= 1")
        if self.c_puct_init < 0 or self.c_puct_base <= 0:
            raise ValueError(f"search c_puct_init={self.c_puct_init}, c_puct_base={self.c_puct_base}: "
                             "need init >= 0 and base > 0")
        if self.dirichlet_alpha is not None and self.dirichlet_alpha <= 0:
            raise ValueError(f"search dirichlet_alpha={self.dirichlet_alpha}: must be > 0 or None")
        if not 0.0 <= self.noise_weight <= 1.0:
            raise ValueError(f"search noise_weight={self.noise_weight}: must be in [0, 1]")
        if self.virtual_loss < 0:
            raise ValueError(f"search virtual_loss={self.virtual_loss}: must be >= 0")


class Evaluator(Protocol):
    def evaluate(self, states: Sequence[State]) -> tuple[np.ndarray, np.ndarray]:
        """priors float32 [B, action_size] (masked, sum 1 over legal), values float32 [B] from side to move."""


class _Store:
    """Growable arrays of node statistics shared by one or more trees."""

    def __init__(self, capacity: int = 256, shared: bool = False):
        self.size = 0
        self.states: list = []
        self.shared = shared      # holds several trees: they re-root in place, garbage is compacted
        self.compacted_size = 0   # size right after the last compaction (shared stores)
        self._alloc_arrays(capacity)

    def _alloc_arrays(self, cap: int):
        self.N = np.zeros(cap)
        self.W = np.zeros(cap)
        self.P = np.zeros(cap)
        self.action = np.zeros(cap, dtype=np.int64)
        self.first = np.full(cap, -1, dtype=np.int64)     # first child id, -1 before expansion
        self.nchild = np.zeros(cap, dtype=np.int64)
        self.mover = np.zeros(cap, dtype=np.int8)         # player who moved into the node
        self.toplay = np.zeros(cap, dtype=np.int8)        # side to move at the node (once known)
        self.status = np.zeros(cap, dtype=np.int8)
        self.tvalue = np.zeros(cap)                       # exact terminal value, mover's view
        self.tdist = np.zeros(cap, dtype=np.int32)        # terminal: plies from the node to the game's end
        self.parent = np.full(cap, -1, dtype=np.int64)    # -1 for a tree's root

    _FIELDS = ("N", "W", "P", "action", "first", "nchild", "mover", "toplay", "status", "tvalue", "tdist", "parent")

    def alloc(self, k: int) -> int:
        """Reserve k fresh nodes (zero stats, status NEW); returns the first id."""
        start = self.size
        need = start + k
        cap = len(self.N)
        if need > cap:
            new_cap = max(need, 2 * cap)
            old = {f: getattr(self, f) for f in self._FIELDS}
            self._alloc_arrays(new_cap)
            for f, arr in old.items():
                getattr(self, f)[:start] = arr[:start]
        self.size = need
        self.states.extend([None] * k)
        return start

    def new_root(self, state: State) -> int:
        r = self.alloc(1)
        self.states[r] = state
        self.P[r] = 1.0
        p = int(state.to_play())
        self.toplay[r] = p
        self.mover[r] = p   # no parent: W[root] reads from the root's side to move
        if state.is_terminal():
            self.status[r] = _TERMINAL
            self.tvalue[r] = float(state.returns()[p])
        else:
            self.status[r] = _LEAF
        return r

    def copy_subtree(self, src: "_Store", root: int) -> int:
        """Append the subtree of `src` under `root` (breadth first, child blocks kept contiguous);
        returns the new id of `root`. Vectorised per level."""
        new_root = self.alloc(1)
        frontier = np.array([root], dtype=np.int64)
        dst_ids = np.array([new_root], dtype=np.int64)
        while frontier.size:
            for f in self._FIELDS:
                if f != "first" and f != "parent":
                    getattr(self, f)[dst_ids] = getattr(src, f)[frontier]
            states = operator.itemgetter(*frontier.tolist())(src.states)
            if frontier.size == 1:
                states = (states,)
            for i, s in zip(dst_ids.tolist(), states):
                self.states[i] = s
            k = src.nchild[frontier] * (src.first[frontier] >= 0)   # expanded or solved
            total = int(k.sum())
            if total == 0:
                break
            start = self.alloc(total)
            offsets = np.cumsum(k) - k
            has = k > 0
            self.first[dst_ids[has]] = start + offsets[has]
            # old ids of all children, in block order: first[parent] + index within the block
            within = np.arange(total) - np.repeat(offsets, k)
            frontier = np.repeat(src.first[frontier], k) + within
            self.parent[start: start + total] = np.repeat(dst_ids, k)
            dst_ids = start + np.arange(total, dtype=np.int64)
        return new_root


class Tree:
    """Search tree for one game. Statistics are read through the methods below."""

    def __init__(self, state: State, config: SearchConfig | None = None,
                 rng: np.random.Generator | None = None):
        self.config = config if config is not None else SearchConfig()
        self.rng = rng if rng is not None else np.random.default_rng()
        self.game = state.game
        self._store = _Store()
        self._root = self._store.new_root(state)
        self._raw_root_priors: np.ndarray | None = None   # root priors before noise
        self._noise_pending = False
        self.root_restricted = False   # restrict_root cut the root's moves (the tree is not the whole position's)

    # -- read-only views -------------------------------------------------------------------
    @property
    def root_state(self) -> State:
        return self._store.states[self._root]

    @property
    def num_visits(self) -> int:
        return int(self._store.N[self._root])

    def is_terminal(self) -> bool:
        return self._store.status[self._root] == _TERMINAL

    def _children(self) -> np.ndarray:
        s, r = self._store, self._root
        if s.status[r] != _EXPANDED:
            return np.zeros(0, dtype=np.int64)
        return np.arange(s.first[r], s.first[r] + s.nchild[r])

    def visit_counts(self) -> np.ndarray:
        """float32 `[action_size]` root child visit counts."""
        out = np.zeros(self.game.action_size, dtype=np.float32)
        ch = self._children()
        out[self._store.action[ch]] = self._store.N[ch]
        return out

    def priors(self) -> np.ndarray:
        """float32 `[action_size]` root priors from the evaluator (before any root noise)."""
        out = np.zeros(self.game.action_size, dtype=np.float32)
        ch = self._children()
        src = self._raw_root_priors if self._raw_root_priors is not None else self._store.P[ch]
        out[self._store.action[ch]] = src
        return out

    def q_values(self, default: float = 0.0) -> np.ndarray:
        """float32 `[action_size]` mean value of each root move for the side to move at the root;
        `default` where a move is unvisited or illegal."""
        out = np.full(self.game.action_size, default, dtype=np.float32)
        ch = self._children()
        s = self._store
        n = s.N[ch]
        seen = n > 0
        out[s.action[ch][seen]] = s.W[ch][seen] / n[seen]
        return out

    def root_value(self) -> float:
        """Mean value for the side to move at the root, in [-1, 1] (0 before any visit)."""
        s, r = self._store, self._root
        if s.status[r] == _TERMINAL:
            return float(s.tvalue[r]) if s.mover[r] == s.toplay[r] else -float(s.tvalue[r])
        if s.N[r] == 0:
            return 0.0
        sign = 1.0 if s.mover[r] == s.toplay[r] else -1.0
        return float(sign * s.W[r] / s.N[r])

    def principal_variation(self, max_len: int = 10, first: int | None = None) -> list[int]:
        """Actions along the most visited children from the root (through a node the MCTS-solver proved, along
        its proof: the shortest win, or the longest loss); with `first`, the line that starts with that root move
        (just `[first]` if it has no visited child; [] if it is not a root move)."""
        s, node, pv = self._store, self._root, []
        if first is not None:
            ch = self._children()
            hit = ch[s.action[ch] == first]
            if not len(hit) or max_len < 1:
                return []
            node = int(hit[0])
            pv.append(int(first))
        while len(pv) < max_len and s.first[node] >= 0:
            ch = np.arange(s.first[node], s.first[node] + s.nchild[node])
            best = _line_child(s, ch)
            if s.N[best] == 0:
                break
            pv.append(int(s.action[best]))
            node = best
        return pv

    def proven_plies(self, first: int | None = None) -> int | None:
        """Plies to the game's end that the MCTS-solver has proven from the root, for its side to move: positive
        when it wins (the shortest proven win), negative when it loses whatever it plays (the longest proven
        loss), None while unproven or when the proof is a draw. With `first`, the same for that root move
        played first. Each proven node keeps the distance of the line that proved it, so a win may exist
        sooner than the figure (it is an upper bound on the shortest win, as a mate score of an engine's
        search is)."""
        s, ch = self._store, self._children()
        if not len(ch):
            return None
        term, tv = s.status[ch] == _TERMINAL, s.tvalue[ch]   # tv: the root's side to move's view
        plies = s.tdist[ch].astype(np.int64) + 1
        if first is not None:
            hit = np.flatnonzero(s.action[ch] == int(first))
            if not hit.size or not term[hit[0]] or tv[hit[0]] == 0:
                return None
            i = hit[0]
            return int(plies[i]) if tv[i] > 0 else -int(plies[i])
        won = term & (tv > 0)
        if won.any():
            return int(plies[won].min())
        if term.all() and (tv < 0).all():
            return -int(plies.max())
        return None

    def proven_win(self, max_plies: int | None = None) -> bool:
        """True when the MCTS-solver has proven a root move a win for the side to move (a terminal child,
        or one settled by the solver), within `max_plies` plies when given (:meth:`proven_plies`)."""
        p = self.proven_plies()
        return p is not None and p > 0 and (max_plies is None or p <= max_plies)

    # -- acting ------------------------------------------------------------------------------
    def select_action(self, temperature: float, rng: np.random.Generator | None = None) -> int:
        """Most visited root move (temperature 0) or a sample with p ~ N^(1/temperature)."""
        counts = self.visit_counts().astype(np.float64)
        if counts.sum() <= 0:
            raise ValueError("select_action: the root has no visited child; run a search first")
        if temperature < 0:
            raise ValueError(f"select_action temperature={temperature}: must be >= 0")
        if temperature == 0:
            # a proven win first (the shortest) and a proven loss last (the longest resistance first), then the
            # most visits (MCTS-solver)
            s, ch = self._store, self._children()
            proven = s.status[ch] == _TERMINAL
            won, lost = proven & (s.tvalue[ch] > 0), proven & (s.tvalue[ch] < 0)
            rank = np.where(won, 2, np.where(lost, 0, 1))
            rank[s.N[ch] == 0] = -1
            top = rank == rank.max()
            if rank.max() == 2:     # the shortest proven win
                top &= s.tdist[ch] == s.tdist[ch][top].min()
            elif rank.max() == 0:   # every move loses: the longest line
                top &= s.tdist[ch] == s.tdist[ch][top].max()
            best = ch[top]
            return int(s.action[best[int(np.argmax(s.N[best]))]])
        logits = np.log(np.maximum(counts, 1e-300)) / temperature
        logits[counts == 0] = -np.inf
        p = np.exp(logits - logits.max())
        p /= p.sum()
        rng = rng if rng is not None else self.rng
        return int(rng.choice(len(p), p=p))

    def advance(self, action: int) -> None:
        """Play `action` at the root: its subtree becomes the tree (fresh if never reached)."""
        action = int(action)
        s, r = self._store, self._root
        child = -1
        if s.status[r] == _EXPANDED:
            ch = self._children()
            hit = np.flatnonzero(s.action[ch] == action)
            if hit.size:
                child = int(ch[hit[0]])
        if child >= 0 and s.status[child] != _NEW:
            if s.shared:
                # lock-step stores re-root in place (no copy per move); the rest of the old tree
                # is garbage until search_lockstep compacts the store
                s.parent[child] = -1
                self._root = root = child
                new = s
            else:
                new = _Store(capacity=max(256, 2 * int(s.N[child]) * max(1, int(s.nchild[r]))))
                self._root = root = new.copy_subtree(s, child)
                self._store = new
            if new.status[root] == _TERMINAL and new.first[root] >= 0:
                new.status[root] = _EXPANDED   # a solved node: as the root it is searched again
        else:
            state = self.root_state.apply(action)  # raises IllegalMoveError for a bad action
            if not s.shared:
                self._store = s = _Store()
            self._root = s.new_root(state)
        self._raw_root_priors = None
        self._noise_pending = False
        self.root_restricted = False

    def restrict_root(self, actions) -> int:
        """Search only these root moves from now on (UCI `go searchmoves`): the expanded root's other
        children leave the tree (the root's visit count then holds its own evaluation and the kept moves'
        visits, its mean value unchanged) and the search never selects them again. Moves that are not legal
        at the root are ignored; returns how many moves are left. ValueError if the root is not expanded yet
        (search it once first) or none of `actions` is legal there (the tree is then left as it was)."""
        s, r = self._store, self._root
        if s.status[r] == _TERMINAL and s.first[r] < 0:
            raise ValueError("restrict_root: the root is terminal")
        if s.first[r] < 0:
            raise ValueError("restrict_root: the root is not expanded; search it first")
        f, k = int(s.first[r]), int(s.nchild[r])
        want = {int(a) for a in actions}
        keep = [i for i in range(k) if int(s.action[f + i]) in want]
        if not keep:
            raise ValueError("restrict_root: none of the moves is legal here")
        order = np.array(keep + [i for i in range(k) if i not in set(keep)], dtype=np.int64)
        block = np.arange(f, f + k)
        for name in _Store._FIELDS:
            arr = getattr(s, name)
            arr[block] = arr[block[order]]
        s.states[f:f + k] = [s.states[f + i] for i in order.tolist()]
        for c in range(f, f + k):        # the moved children's own children point back to their new ids
            if s.first[c] >= 0:
                s.parent[s.first[c]:s.first[c] + s.nchild[c]] = c
        s.nchild[r] = len(keep)
        n_old, n_new = float(s.N[r]), 1.0 + float(s.N[f:f + len(keep)].sum())
        if n_old > n_new:   # the root counts its own evaluation and the kept moves' visits; its mean value stays
            s.W[r] *= n_new / n_old
            s.N[r] = n_new
        if s.status[r] == _TERMINAL:     # solved through a move that is gone: search it again
            s.status[r] = _EXPANDED
        if self._raw_root_priors is not None:
            self._raw_root_priors = self._raw_root_priors[order[:len(keep)]]
        self.root_restricted = True
        return len(keep)

    def set_root_priors(self, priors: np.ndarray) -> None:
        """Replace the expanded root's priors by `priors` (`[action_size]`, read at its children's moves and
        renormalised over them; root noise, if any, is mixed in again on the next `add_root_noise`)."""
        s, r = self._store, self._root
        if s.first[r] < 0:
            raise ValueError("set_root_priors: the root is not expanded; search it first")
        ch = self._children()
        p = np.asarray(priors, dtype=np.float64)[s.action[ch]]
        total = p.sum()
        if not total > 0:
            raise ValueError("set_root_priors: the priors give the root's moves no weight")
        p = p / total
        if self._raw_root_priors is not None:
            self._raw_root_priors = p.copy()
        else:
            s.P[ch] = p

    def add_root_noise(self) -> None:
        """Mix Dirichlet noise into the root priors: P = (1 - w) P + w Dir(alpha), alpha from the
        config or 10 / number of legal moves. Applied once the root is expanded if it is not yet;
        calling again redraws the noise over the original priors."""
        s, r = self._store, self._root
        if s.status[r] == _TERMINAL:
            return
        if s.status[r] != _EXPANDED:
            self._noise_pending = True
            return
        self._noise_pending = False
        ch = self._children()
        if self._raw_root_priors is None:
            self._raw_root_priors = s.P[ch].copy()
        k = len(ch)
        alpha = self.config.dirichlet_alpha or 10.0 / k
        w = self.config.noise_weight
        noise = self.rng.dirichlet(np.full(k, alpha))
        s.P[ch] = (1.0 - w) * self._raw_root_priors + w * noise

    @property
    def has_root_noise(self) -> bool:
        return self._raw_root_priors is not None

    def __repr__(self) -> str:
        return f"Tree(root={self.root_state!r}, visits={self.num_visits})"


# ---------------------------------------------------------------------------------------------
# the shared machinery: descent, leaf states, expansion, backup


def _descend(st: _Store, roots: np.ndarray, cfg: SearchConfig, root_fpu_zero: np.ndarray):
    """One PUCT descent per root, all roots at once. Returns (leaf ids, parent ids (-1 for a root
    leaf), path node ids, path owner index) where path arrays list every node visited (root
    included) and the index into `roots` it belongs to."""
    B = len(roots)
    leaf = roots.copy()
    parent = np.full(B, -1, dtype=np.int64)
    path_nodes = [roots]
    path_owner = [np.arange(B)]
    idx = np.flatnonzero(st.status[roots] == _EXPANDED)
    cur = roots[idx]
    at_root = True
    c_init, c_base, red = cfg.c_puct_init, cfg.c_puct_base, cfg.fpu_reduction
    while idx.size:
        first = st.first[cur]
        k = st.nchild[cur]
        kmax = int(k.max())
        cols = np.arange(kmax)
        ch = first[:, None] + cols
        ragged = bool((k != kmax).any())
        if ragged:
            valid = cols < k[:, None]
            ch = np.where(valid, ch, first[:, None])
        n = st.N[ch]
        pn = st.N[cur]
        sign = np.where(st.mover[cur] == st.toplay[cur], 1.0, -1.0)
        fpu = sign * st.W[cur] / pn - red
        if at_root and root_fpu_zero.any():
            fpu = np.where(root_fpu_zero[idx], fpu + red, fpu)
        q = np.where(n > 0, st.W[ch] / np.maximum(n, 1.0), fpu[:, None])
        cu = (c_init + np.log((pn + c_base + 1.0) / c_base)) * np.sqrt(np.maximum(pn - 1.0, 1.0))
        score = q + cu[:, None] * st.P[ch] / (1.0 + n)
        if ragged:
            score[~valid] = -np.inf
        nxt = first + score.argmax(axis=1)
        path_nodes.append(nxt)
        path_owner.append(idx)
        leaf[idx] = nxt
        parent[idx] = cur
        go = st.status[nxt] == _EXPANDED
        idx = idx[go]
        cur = nxt[go]
        at_root = False
    return leaf, parent, np.concatenate(path_nodes), np.concatenate(path_owner)


_SCALAR_MAX_CHILDREN = 48   # wider nodes are scored with NumPy (a Python loop loses past ~50 children)


def _descend_one(st: _Store, root: int, cfg: SearchConfig, root_fpu_zero: bool) -> tuple[int, int, list[int]]:
    """`_descend` for one tree: (leaf id, parent id or -1, path node ids from the root). The same
    scores in the same order of operations, so the same choices; per level it reads a node's child
    block once as Python floats instead of paying NumPy's per-call cost on arrays of a few entries
    (single-tree search is dominated by that cost on games with few moves, e.g. checkers)."""
    N, W, P, first_a, nchild = st.N, st.W, st.P, st.first, st.nchild
    status, mover, toplay = st.status, st.mover, st.toplay
    c_init, c_base, red = cfg.c_puct_init, cfg.c_puct_base, cfg.fpu_reduction
    path = [root]
    cur, parent = root, -1
    at_root = True
    while status[cur] == _EXPANDED:
        f = int(first_a[cur])
        k = int(nchild[cur])
        pn = float(N[cur])
        sign = 1.0 if mover[cur] == toplay[cur] else -1.0
        fpu = sign * float(W[cur]) / pn - red
        if at_root and root_fpu_zero:
            fpu = fpu + red
        cu = (c_init + math.log((pn + c_base + 1.0) / c_base)) * math.sqrt(max(pn - 1.0, 1.0))
        if k > _SCALAR_MAX_CHILDREN:
            n = N[f:f + k]
            q = np.where(n > 0, W[f:f + k] / np.maximum(n, 1.0), fpu)
            best = int((q + cu * P[f:f + k] / (1.0 + n)).argmax())
        else:
            best, top = 0, -math.inf
            for i, (n, w, p) in enumerate(zip(N[f:f + k].tolist(), W[f:f + k].tolist(), P[f:f + k].tolist())):
                sc = (w / max(n, 1.0) if n > 0 else fpu) + cu * p / (1.0 + n)
                if sc > top:
                    best, top = i, sc
        parent, cur = cur, f + best
        path.append(cur)
        at_root = False
    return cur, parent, path


def _make_states(st: _Store, leaves: np.ndarray, parents: np.ndarray) -> None:
    """Compute the states of NEW leaves from their parents' states; mark terminal ones."""
    states = st.states
    new = np.flatnonzero(st.status[leaves] == _NEW)
    if not new.size:
        return
    term_ids, term_vals, term_play, live_ids, live_play = [], [], [], [], []
    nodes = leaves[new]
    for node, par, a, mover in zip(nodes.tolist(), parents[new].tolist(), st.action[nodes].tolist(),
                                   st.mover[nodes].tolist()):
        s = states[par].apply(a)
        states[node] = s
        if s.is_terminal():
            term_ids.append(node)
            term_vals.append(s.returns()[mover])
            term_play.append(s.to_play())
        else:
            live_ids.append(node)
            live_play.append(s.to_play())
    if term_ids:
        st.status[term_ids] = _TERMINAL
        st.tvalue[term_ids] = term_vals
        st.tdist[term_ids] = 0
        st.toplay[term_ids] = term_play
    if live_ids:
        st.status[live_ids] = _LEAF
        st.toplay[live_ids] = live_play


def _expand(st: _Store, nodes: np.ndarray, priors: np.ndarray) -> None:
    """Allocate the child blocks of evaluated `nodes` with their priors `[m, action_size]`."""
    masks = np.stack([st.states[i].legal_mask() for i in nodes.tolist()])
    counts = masks.sum(axis=1)
    if (counts == 0).any():
        bad = st.states[int(nodes[np.argmax(counts == 0)])]
        raise ValueError(f"state {bad.to_text()!r}: no legal actions but not terminal")
    rows, acts = np.nonzero(masks)
    total = len(acts)
    start = st.alloc(total)
    ids = slice(start, start + total)
    st.first[nodes] = start + np.cumsum(counts) - counts
    st.nchild[nodes] = counts
    st.status[nodes] = _EXPANDED
    st.parent[ids] = np.repeat(nodes, counts)
    st.P[ids] = priors[rows, acts]
    st.action[ids] = acts
    st.mover[ids] = np.repeat(st.toplay[nodes], counts)


def _evaluate(evaluator, st: _Store, nodes: np.ndarray, action_size: int):
    priors, values = evaluator.evaluate([st.states[i] for i in nodes.tolist()])
    priors = np.asarray(priors)
    values = np.asarray(values, dtype=np.float64)
    if priors.shape != (len(nodes), action_size) or values.shape != (len(nodes),):
        raise ValueError(f"evaluator returned priors {priors.shape} and values {values.shape}; "
                         f"expected ({len(nodes)}, {action_size}) and ({len(nodes)},)")
    return priors, values


def _leaf_values(st: _Store, leaves: np.ndarray, evaluated: np.ndarray, values: np.ndarray):
    """Value and its player's index for each leaf: exact for terminal leaves (mover's view),
    the evaluator's for evaluated ones (side to move)."""
    v = st.tvalue[leaves].copy()
    who = st.mover[leaves].copy()
    if evaluated.size:
        v[evaluated] = values
        who[evaluated] = st.toplay[leaves[evaluated]]
    return v, who


def _backup(st: _Store, nodes: np.ndarray, owner: np.ndarray, v: np.ndarray, who: np.ndarray,
            unique: bool) -> None:
    vals = v[owner]
    signed = np.where(st.mover[nodes] == who[owner], vals, -vals)
    if unique:
        st.N[nodes] += 1.0
        st.W[nodes] += signed
    else:
        np.add.at(st.N, nodes, 1.0)
        np.add.at(st.W, nodes, signed)


def _line_child(st: _Store, ch: np.ndarray) -> int:
    """The child a principal variation follows among the children `ch` of one node: the shortest proven win,
    else, when every move is proven (all terminal), the best result (the longest line if it is a loss, the
    shortest if a draw), else the most visited."""
    term, tv = st.status[ch] == _TERMINAL, st.tvalue[ch]   # tv: the node's side to move's view
    if term.all():
        best = ch[tv == tv.max()]
        d = st.tdist[best]
        best = best[d == (d.max() if tv.max() < 0 else d.min())]
    elif (term & (tv > 0)).any():
        best = ch[term & (tv > 0)]
        best = best[st.tdist[best] == st.tdist[best].min()]
    else:
        best = ch
    return int(best[int(np.argmax(st.N[best]))])


def _settle(st: _Store, node: int) -> None:
    """MCTS-solver step after `node` turned out terminal: its parent is proven if this move wins
    for the parent's side to move, or if every child is terminal (then the best of them). Proven
    nodes become terminal (exact value, no more evaluations) up the tree, with their distance to the
    game's end in plies (`tdist`: the shortest of the proven wins, the longest of the losses); a root is
    never settled, so it keeps collecting visits and its best move keeps the most."""
    status, tvalue, parent, tdist = st.status, st.tvalue, st.parent, st.tdist
    while True:
        p = int(parent[node])
        if p < 0 or parent[p] < 0:
            return
        f = int(st.first[p])
        kids = np.arange(f, f + int(st.nchild[p]))
        tv = tvalue[node]      # from the view of the player who moved into node: p's side to move
        if tv > 0:             # a winning move: the shortest win among those proven so far
            won = kids[(status[kids] == _TERMINAL) & (tvalue[kids] > 0)]
            d = int(tdist[won].min())
        else:
            if not (status[kids] == _TERMINAL).all():
                return
            tv = tvalue[kids].max()
            best = kids[tvalue[kids] == tv]
            d = int(tdist[best].max()) if tv < 0 else int(tdist[best].min())
        status[p] = _TERMINAL
        tvalue[p] = tv if st.mover[p] == st.toplay[p] else -tv
        tdist[p] = d + 1
        node = p


# ---------------------------------------------------------------------------------------------
# lock-step batching across trees


_COMPACT_SLACK = 1 << 20   # garbage nodes a shared store may hold beyond 3x its live size


def _shared_store(trees: Sequence[Tree]) -> _Store:
    """One store holding all `trees`: trees outside it are copied in (new games are small); when
    re-rooting has left too much garbage, all trees are copied into a fresh, compact store."""
    st = next((t._store for t in trees if t._store.shared), None)
    if st is None:
        st = _Store(capacity=sum(t._store.size for t in trees) + 16 * len(trees), shared=True)
    for t in trees:
        if t._store is not st:
            t._root = st.copy_subtree(t._store, t._root)
            t._store = st
    if st.size > 4 * st.compacted_size + _COMPACT_SLACK:
        old = st
        st = _Store(capacity=2 * max(old.compacted_size, 1024), shared=True)
        for t in trees:
            t._root = st.copy_subtree(old, t._root)
            t._store = st
        st.compacted_size = st.size
    return st


def search_lockstep(trees: Sequence[Tree], evaluator: Evaluator, num_simulations: int, *,
                    add_noise: bool = False) -> None:
    """Add `num_simulations` simulations to every tree. Each step selects one leaf per tree,
    evaluates all non-terminal leaves in ONE evaluator call, and backs up. Trees with a terminal
    root are skipped. With `add_noise`, Dirichlet noise goes on each root first (after the root's
    own evaluation on a fresh tree)."""
    if num_simulations < 0:
        raise ValueError(f"search_lockstep num_simulations={num_simulations}: must be >= 0")
    trees = [t for t in dict.fromkeys(trees) if not t.is_terminal()]   # a tree listed twice runs once
    if not trees or num_simulations == 0:
        return
    st = _shared_store(trees)
    if add_noise:
        for t in trees:
            t.add_root_noise()
    roots = np.array([t._root for t in trees], dtype=np.int64)
    cfg = trees[0].config
    for _ in range(num_simulations):
        noisy = np.array([t._raw_root_priors is not None for t in trees])
        leaves, parents, pnodes, powner = _descend(st, roots, cfg, noisy)
        _make_states(st, leaves, parents)
        evaluated = np.flatnonzero(st.status[leaves] == _LEAF)
        values = np.zeros(0)
        if evaluated.size:
            enodes = leaves[evaluated]
            priors, values = _evaluate(evaluator, st, enodes, trees[0].game.action_size)
            _expand(st, enodes, priors)
        v, who = _leaf_values(st, leaves, evaluated, values)
        _backup(st, pnodes, powner, v, who, unique=True)
        if cfg.solve:
            for leaf in leaves[st.status[leaves] == _TERMINAL].tolist():
                _settle(st, leaf)
        if evaluated.size:
            for i in evaluated[leaves[evaluated] == roots[evaluated]].tolist():
                if trees[i]._noise_pending:
                    trees[i].add_root_noise()


# ---------------------------------------------------------------------------------------------
# virtual loss inside one tree


def search_virtual_loss(tree: Tree, evaluator: Evaluator, num_simulations: int, *, batch_size: int = 16,
                        time_limit: float | None = None, stop: Callable[[], bool] | None = None,
                        on_progress: Callable[[Tree], None] | None = None) -> None:
    """Add up to `num_simulations` simulations to one tree, evaluating up to `batch_size` leaves
    per evaluator call; leaves within a batch are spread apart by virtual loss (each path counts
    `config.virtual_loss` extra lost visits until its evaluation is backed up). Stops early after
    `time_limit` seconds or when `stop()` returns True (both checked between batches);
    `on_progress(tree)` is called after every batch."""
    if num_simulations < 0:
        raise ValueError(f"search_virtual_loss num_simulations={num_simulations}: must be >= 0")
    if batch_size < 1:
        raise ValueError(f"search_virtual_loss batch_size={batch_size}: must be >= 1")
    if tree.is_terminal():
        return
    t0 = time.perf_counter()
    st = tree._store
    cfg = tree.config
    vl = float(cfg.virtual_loss)
    root_id = int(tree._root)
    done = 0
    while done < num_simulations:
        if stop is not None and stop():
            break
        if time_limit is not None and time.perf_counter() - t0 >= time_limit:
            break
        want = min(batch_size, num_simulations - done)
        noisy = tree._raw_root_priors is not None
        pending: list[int] = []                   # leaves to evaluate
        paths: list[np.ndarray] = []              # their paths (virtual loss applied)
        n_terminal = 0                            # simulations that ended on a terminal node
        while len(pending) + n_terminal < want:
            leaf, par, path = _descend_one(st, root_id, cfg, noisy)
            leaves = np.array([leaf], dtype=np.int64)
            parents = np.array([par], dtype=np.int64)
            pnodes = np.array(path, dtype=np.int64)
            if st.status[leaf] == _LEAF and leaf in pending:
                break   # collision: the rest of this batch would pile onto the same leaf
            _make_states(st, leaves, parents)
            if st.status[leaf] == _TERMINAL:
                # exact value: back up now so later selections in this batch see it
                _backup(st, pnodes, np.zeros(len(pnodes), dtype=np.int64), st.tvalue[leaves],
                        st.mover[leaves], unique=True)
                if cfg.solve:
                    _settle(st, leaf)
                n_terminal += 1
                continue
            pending.append(leaf)
            paths.append(pnodes)
            st.N[pnodes] += vl
            st.W[pnodes] -= vl   # a lost visit for the mover into each node on the path
            if st.status[leaf] != _LEAF:  # pragma: no cover - guarded by the descent
                raise AssertionError("descent ended on an expanded node")
        if pending:
            enodes = np.array(pending, dtype=np.int64)
            priors, values = _evaluate(evaluator, st, enodes, tree.game.action_size)
            _expand(st, enodes, priors)
            for pnodes, leaf, val in zip(paths, pending, values.tolist()):
                st.N[pnodes] -= vl
                st.W[pnodes] += vl
                _backup(st, pnodes, np.zeros(len(pnodes), dtype=np.int64), np.array([val]),
                        st.toplay[[leaf]], unique=True)
            if tree._noise_pending and tree._root in pending:
                tree.add_root_noise()
        done += len(pending) + n_terminal
        if on_progress is not None:
            on_progress(tree)
        if not pending and not n_terminal:  # pragma: no cover - every descent ends somewhere
            break
