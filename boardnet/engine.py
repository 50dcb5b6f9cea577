"""Model + search + limits: the engine behind play, UCI/GTP and analysis.

`Engine.analyse(state, visits=..., movetime=...)` runs a virtual-loss batched search and returns
an `Analysis`: best move, principal variation, value and visit distribution. The engine keeps
its tree between calls and reuses the subtree when the new position is a descendant of the old
root (found by position hash within a few plies), as in tournament play.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from boardnet.evaluator import NetEvaluator, RolloutEvaluator
from boardnet.search import SearchConfig, Tree, search_virtual_loss

MODELS_DIR = Path(__file__).resolve().parent / "models"
_REUSE_DEPTH = 4   # plies below the old root searched for the new position
SHUFFLE_DAMPING = 0.5   # engines' default `NetEvaluator.shuffle_damping` (self-play evaluators: 0)


@dataclass
class MoveStat:
    move: str
    action: int
    visits: int
    prior: float
    q: float          # mean value for the side to move after this move is played by it; nan if unvisited
    pv: list[str] = field(default_factory=list)   # the line this move starts (most visited replies); [] unvisited
    proven_plies: int | None = None   # solver: plies to the game's end after this move, + a win / - a loss; else None


@dataclass
class Analysis:
    best_move: str
    best_action: int
    value: float                 # root value for the side to move, [-1, 1]
    win_prob: float              # (value + 1) / 2
    pv: list[str]
    visits: dict[str, int]       # root visit count per legal move (text)
    rows: list[MoveStat] = field(default_factory=list)   # per move, most visited first
    proven_plies: int | None = None   # solver: plies to the end through the best move (+ win / - loss), else None
    nodes: int = 0               # simulations run by this call
    total_visits: int = 0        # root visits including those reused from earlier calls
    seconds: float = 0.0
    nps: float = 0.0             # simulations per second in this call

    def summary(self) -> str:
        return (f"best {self.best_move} value {self.value:+.3f} win {100 * self.win_prob:.1f}% "
                f"pv {' '.join(self.pv)} nodes {self.nodes} nps {self.nps:.0f}")


class Engine:
    """Search engine for one game. `net=None` plays network-free (random roll-out values)."""

    def __init__(self, game, net=None, *, search: SearchConfig | None = None, runtime=None,
                 batch_size: int = 16, seed: int = 0, evaluator=None,
                 shuffle_damping: float = SHUFFLE_DAMPING, symmetries: int = 1, root_symmetries: int = 1):
        """`shuffle_damping`: see `NetEvaluator` (values pulled toward 0 as a no-progress draw nears;
        checkers and chess). `symmetries`: see `NetEvaluator` (each evaluation averaged over that many
        board symmetries). `root_symmetries` S > 1: only the root's priors are averaged over S symmetries
        (one S-board batch a move, nothing more a visit): the move the search starts from, and mostly plays,
        is the better policy's."""
        if batch_size < 1:
            raise ValueError(f"Engine batch_size={batch_size}: must be >= 1")
        self.game = game
        self.search = search if search is not None else SearchConfig()
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        if evaluator is not None:
            self.evaluator = evaluator
        elif net is not None:
            self.evaluator = NetEvaluator(net, game, runtime=runtime, shuffle_damping=shuffle_damping,
                                          symmetries=symmetries)
        else:
            self.evaluator = RolloutEvaluator(game, rng=np.random.default_rng(seed))
        self.net = net
        if root_symmetries < 1:
            raise ValueError(f"Engine root_symmetries={root_symmetries}: must be >= 1")
        self.root_symmetries = int(root_symmetries)
        self._root_evaluator = None
        self._root_version = -1
        self._tree: Tree | None = None
        self.reused_visits = 0   # root visits carried over by the last analyse call

    @classmethod
    def from_checkpoint(cls, path_or_name: str | Path, *, search: SearchConfig | None = None,
                        device: str = "auto", batch_size: int = 16, seed: int = 0,
                        precision: str = "auto", shuffle_damping: float = SHUFFLE_DAMPING,
                        symmetries: int = 1, root_symmetries: int = 1, auto_int8: bool = True) -> "Engine":
        """Load a boardnet checkpoint: a file path, or a name looked up as boardnet/models/<name>.pt.
        precision: auto, fp32, bf16 or int8 (`traincore.runtime`; for an engine `auto` is int8 on a CPU with
        VNNI, bf16 autocast on CUDA); the one used is `engine.runtime`. `auto_int8=False`: `auto` keeps the
        bf16/fp32 rule (a raw-policy player, one evaluation a move, wants the exact move more than the speed)."""
        from traincore.checkpoint import load_checkpoint
        from traincore.runtime import Runtime

        from boardnet.games import make_game
        from boardnet.nets import net_from_state

        p = Path(path_or_name)
        if not p.suffix and not p.exists():
            p = MODELS_DIR / f"{path_or_name}.pt"
        d = load_checkpoint(p, kind="boardnet")
        if "game" not in d:
            raise ValueError(f"checkpoint {p}: no 'game' entry")
        try:
            game = make_game(d["game"], **d.get("game_kwargs", {}))
            net = net_from_state(d)
        except (TypeError, RuntimeError, KeyError, AttributeError) as exc:  # odd fields, weights of another shape
            first = " ".join(ln.strip() for ln in str(exc).strip().splitlines()[:2]) or type(exc).__name__
            raise ValueError(f"checkpoint {p}: its game or net cannot be rebuilt ({type(exc).__name__}: "
                             f"{first[:200]})") from None
        runtime = Runtime.create(device=device, precision=precision, inference=auto_int8)
        return cls(game, net, search=search, runtime=runtime,
                   batch_size=batch_size, seed=seed, shuffle_damping=shuffle_damping, symmetries=symmetries,
                   root_symmetries=root_symmetries)

    @property
    def runtime(self):
        """The evaluator's `traincore.runtime.Runtime` (device and precision), or None without a net."""
        return getattr(self.evaluator, "runtime", None)

    def ownership(self, state) -> np.ndarray | None:
        """The net's ownership of every point (`[H, W]` in [-1, 1], +1 the side to move's) where the net
        has an ownership head (Go nets trained on final-status marks), else None."""
        f = getattr(self.evaluator, "ownership", None)
        return f(state) if f is not None else None

    def new_game(self) -> None:
        """Forget the tree (no reuse into the next position)."""
        self._tree = None

    def _tree_for(self, state) -> Tree:
        old = self._tree
        if old is not None:
            path = _find_descendant(old, state)
            if path == [] and old.root_restricted:   # the last search saw only some of this position's moves
                path = None
            if path is not None:
                for a in path:
                    old.advance(a)
                if old._raw_root_priors is not None:   # engine searches carry no root noise
                    old._store.P[old._children()] = old._raw_root_priors
                    old._raw_root_priors = None
                return old
        return Tree(state, self.search, self.rng)

    def analyse(self, state, *, visits: int | None = None, movetime: float | None = None,
                stop: Callable[[], bool] | None = None,
                on_progress: Callable[[Tree], None] | None = None,
                root_actions=None) -> Analysis:
        """Search `state` until the root has `visits` visits (reused ones count) and/or
        `movetime` seconds have passed, whichever first; neither -> config.num_simulations visits.
        `root_actions` (UCI `go searchmoves`): search only these moves at the root (:meth:`Tree.restrict_root`;
        ValueError if none of them is legal)."""
        if state.is_terminal():
            raise ValueError(f"analyse: position {state.to_text()!r} is terminal")
        if visits is not None and visits < 1:
            raise ValueError(f"analyse visits={visits}: must be >= 1")
        if movetime is not None and movetime <= 0:
            raise ValueError(f"analyse movetime={movetime}: must be > 0 seconds")
        if visits is None and movetime is None:
            visits = self.search.num_simulations
        tree = self._tree_for(state)
        if root_actions is not None:
            legal = set(state.legal_actions().tolist())
            if not any(int(a) in legal for a in root_actions):
                raise ValueError("analyse root_actions: none of the moves is legal here")
            if tree.num_visits < 1:   # expand the root: its children are what the restriction keeps
                search_virtual_loss(tree, self.evaluator, 1, batch_size=1)
            tree.restrict_root(root_actions)
        if self.root_symmetries > 1 and self.game.num_symmetries > 1 and isinstance(self.evaluator, NetEvaluator):
            if tree.num_visits < 1:   # expand the root, then give its children the averaged priors
                search_virtual_loss(tree, self.evaluator, 1, batch_size=1)
            tree.set_root_priors(self._symmetric_priors(state))
        self._tree = tree
        self.reused_visits = tree.num_visits
        t0 = time.perf_counter()
        start = tree.num_visits
        # at least one simulation so the root has a visited child to report
        n = max(visits - start, 0) if visits is not None else 2**62
        if tree.num_visits < 2:
            n = max(n, 2)
        search_virtual_loss(tree, self.evaluator, n, batch_size=self.batch_size, time_limit=movetime,
                            stop=stop, on_progress=on_progress)
        if tree.visit_counts().sum() == 0:   # stopped before any child was visited
            search_virtual_loss(tree, self.evaluator, 2, batch_size=1)
        seconds = time.perf_counter() - t0
        return self._analysis(tree, tree.num_visits - start, seconds)

    def _symmetric_priors(self, state) -> np.ndarray:
        """The root's priors averaged over `root_symmetries` board symmetries (a second evaluator on the
        same net and its int8 copy, made on first use and again when the evaluator's weights change)."""
        ev = self.evaluator
        if self._root_evaluator is None or self._root_version != ev.weights_version:
            self._root_evaluator = NetEvaluator(ev.net, self.game, runtime=ev.runtime, cache_size=256,
                                                symmetries=self.root_symmetries, quantized=ev._int8)
            self._root_version = ev.weights_version
        return self._root_evaluator.evaluate([state])[0][0]

    def _analysis(self, tree: Tree, nodes: int, seconds: float) -> Analysis:
        return tree_analysis(tree, nodes, seconds, best=tree.select_action(0.0))

    def best_move(self, state, **limits) -> int:
        """The action `analyse(state, **limits)` recommends."""
        return self.analyse(state, **limits).best_action


def _line_text(state, actions: list[int]) -> list[str]:
    out = []
    for a in actions:
        out.append(state.action_to_text(a))
        state = state.apply(a)
    return out


def tree_analysis(tree: Tree, nodes: int, seconds: float, best: int | None = None) -> Analysis:
    """An :class:`Analysis` of a search tree (at the end of a search or in the middle of one): the root's
    moves, most visited first, each with its own line (`MoveStat.pv`); `best` defaults to the most visited move."""
    state = tree.root_state
    counts, priors = tree.visit_counts(), tree.priors()
    q = tree.q_values(default=np.nan)
    rows = [MoveStat(state.action_to_text(int(a)), int(a), int(counts[a]), float(priors[a]), float(q[a]))
            for a in state.legal_actions()]
    rows.sort(key=lambda r: (-r.visits, -r.prior))
    for r in rows:
        if r.visits == 0:
            break
        r.pv = _line_text(state, tree.principal_variation(first=r.action))
        r.proven_plies = tree.proven_plies(first=r.action)
    if best is None:
        best = rows[0].action if rows else int(np.argmax(counts))
    value = float(tree.root_value())
    return Analysis(best_move=state.action_to_text(best), best_action=best, value=value,
                    win_prob=(value + 1.0) / 2.0, pv=_line_text(state, tree.principal_variation()),
                    visits={r.move: r.visits for r in rows}, rows=rows, nodes=nodes,
                    proven_plies=next((r.proven_plies for r in rows if r.action == best), None),
                    total_visits=tree.num_visits, seconds=seconds, nps=nodes / seconds if seconds > 0 else 0.0)


def _find_descendant(tree: Tree, state) -> list[int] | None:
    """Actions from the tree's root to a searched node holding `state` (same hash and ply), or None."""
    st = tree._store
    root_state = tree.root_state
    depth = state.ply - root_state.ply
    if depth < 0 or depth > _REUSE_DEPTH:
        return None
    key = state.hash()
    frontier = [(tree._root, [])]
    for _ in range(depth):
        nxt = []
        for node, path in frontier:
            if st.first[node] < 0:   # only expanded (or solved) nodes have children to follow
                continue
            for c in range(int(st.first[node]), int(st.first[node] + st.nchild[node])):
                if st.states[c] is not None:
                    nxt.append((c, path + [int(st.action[c])]))
        frontier = nxt
    passes = _passes(state)
    for node, path in frontier:
        s = st.states[node]
        if s is not None and s.ply == state.ply and s.hash() == key and s.to_text() == state.to_text() \
                and _passes(s) == passes:   # Go over GTP: a hand-over reads like a pass but counts none
            return path
    return None


def _passes(state) -> int:
    f = getattr(state, "consecutive_passes", None)
    return f() if f is not None else 0
