"""Self-play worker: many games searched in lock-step with one batched evaluator.

A plain class (no Ray): `selfplay.distributed` wraps it in an actor, tests and the single-process mode
use it directly. Each call to `play(n_moves)` advances all game slots by `n_moves` lock-step moves;
finished games are replaced by new ones in the same slot, and their samples are returned.

Self-play settings after AlphaZero and KataGo:
- Dirichlet noise at the root of full searches; temperature 1 for the first `temperature_moves` plies,
  then the most visited move;
- playout-cap randomisation: with probability `full_search_prob` a move gets the full search (noise on,
  recorded as a training sample), otherwise a cheap search (no noise, not trained on);
- resignation below `resign_threshold` after `resign_min_ply`, disabled in `resign_disabled_frac` of the
  games, where we check whether the resign would have been wrong (false positive rate);
- training targets: visit distribution, the final outcome z from the side to move's view, and the root
  search value q; with `ownership=True` (Go nets with an ownership head, KataGo's auxiliary target) also
  the final Tromp-Taylor owner of every point from the side to move's view, for games that ended on the
  board (two passes or the move cap on a scored board; not resigned or cut short). Symmetry augmentation happens when sampling (learner), so each sample is stored once.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from boardnet.games.base import Game, State
from boardnet.search import SearchConfig, Tree, search_lockstep
from selfplay.config import SelfPlaySettings
from selfplay.replay import Samples


@dataclass
class FinishedGame:
    actions: list[int]
    moves: list[str]
    result: list[float]          # returns per player
    plies: int
    resigned: bool
    initial_text: str


@dataclass
class WorkerResult:
    samples: Samples
    games: list[FinishedGame]
    stats: dict = field(default_factory=dict)


@dataclass
class _Slot:
    state: State
    tree: Tree
    actions: list[int] = field(default_factory=list)
    moves: list[str] = field(default_factory=list)
    planes: list[np.ndarray] = field(default_factory=list)
    policies: list[np.ndarray] = field(default_factory=list)
    qs: list[float] = field(default_factory=list)
    players: list[int] = field(default_factory=list)
    resign_allowed: bool = True
    would_resign: list[bool] = field(default_factory=lambda: [False, False])


class SelfPlayWorker:
    def __init__(self, game: Game, evaluator, settings: SelfPlaySettings, search: SearchConfig,
                 worker_id: int = 0, seed: int = 0, ownership: bool = False):
        self.game = game
        self.ownership = ownership
        if ownership and not hasattr(game.initial_state(), "area_ownership"):
            raise ValueError(f"ownership targets: {game.name} has no final ownership (Go only)")
        self.evaluator = evaluator
        self.settings = settings
        self.search = search
        self.cheap_search = (SearchConfig(**{**search.__dict__, "num_simulations": settings.cheap_simulations})
                             if settings.cheap_simulations > 0 else search)
        self.worker_id = worker_id
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, worker_id]))
        self._next_id = 0
        self.slots = [self._new_slot() for _ in range(settings.games_per_worker)]
        self.resign_checks = 0
        self.resign_false_positives = 0

    # -- weights
    def set_weights(self, state_dict, version: int) -> None:
        self.evaluator.set_weights(state_dict)
        self.weights_version = version

    # -- game slots
    def _new_slot(self) -> _Slot:
        s = self.game.initial_state()
        slot = _Slot(state=s, tree=Tree(s, self.search, self.rng))
        slot.resign_allowed = self.rng.random() >= self.settings.resign_disabled_frac
        return slot

    def _sample_id(self) -> int:
        self._next_id += 1
        return (self.worker_id << 40) | self._next_id

    def play(self, n_moves: int) -> WorkerResult:
        """Advance every slot by n_moves lock-step moves; return samples of the games that ended."""
        st = self.settings
        t0 = time.perf_counter()
        out_samples: list[Samples] = []
        finished: list[FinishedGame] = []
        sims = 0
        checks0, fp0 = self.resign_checks, self.resign_false_positives
        for _ in range(n_moves):
            full = (self.rng.random(len(self.slots)) < st.full_search_prob) if st.cheap_simulations > 0 \
                else np.ones(len(self.slots), dtype=bool)
            groups = ((True, self.search.num_simulations), (False, st.cheap_simulations))
            for is_full, n_sims in groups:
                trees = [sl.tree for sl, f in zip(self.slots, full) if bool(f) == is_full]
                if trees and n_sims > 0:
                    for t in trees:
                        t.config = self.search if is_full else self.cheap_search
                    search_lockstep(trees, self.evaluator, n_sims, add_noise=is_full)
                    sims += n_sims * len(trees)
            for i, (slot, is_full) in enumerate(zip(self.slots, full)):
                done = self._move(slot, bool(is_full))
                if done is not None:
                    game, samples = done
                    finished.append(game)
                    if samples is not None:
                        out_samples.append(samples)
                    self.slots[i] = self._new_slot()
        dt = time.perf_counter() - t0
        samples = Samples.concat(out_samples) if out_samples else self._empty()
        stats = {"games": len(finished), "samples": len(samples), "simulations": sims, "seconds": dt,
                 "sims_per_s": sims / dt if dt > 0 else 0.0,
                 "mean_game_length": float(np.mean([g.plies for g in finished])) if finished else 0.0,
                 "resign_checks": self.resign_checks - checks0,
                 "resign_false_positives": self.resign_false_positives - fp0}
        return WorkerResult(samples, finished, stats)

    def _empty(self) -> Samples:
        c, h, w = self.game.obs_shape
        own = (np.zeros((0, h, w), np.int8), np.zeros(0, np.float32)) if self.ownership else (None, None)
        return Samples(np.zeros((0, c, h, w), np.float16), np.zeros((0, self.game.action_size), np.float32),
                       np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), *own)

    def _move(self, slot: _Slot, is_full: bool):
        st = self.settings
        tree = slot.tree
        state = slot.state
        player = state.to_play()
        value = tree.root_value()
        if value < st.resign_threshold and state.ply >= st.resign_min_ply:
            if slot.resign_allowed:
                result = np.zeros(2, dtype=np.float32)
                result[player], result[1 - player] = -1.0, 1.0
                return self._finish(slot, result, resigned=True)
            slot.would_resign[player] = True
        counts = tree.visit_counts()
        if is_full:
            slot.planes.append(state.planes().astype(np.float16))
            slot.policies.append((counts / counts.sum()).astype(np.float32))
            slot.qs.append(float(value))
            slot.players.append(player)
        temperature = 1.0 if state.ply < st.temperature_moves else 0.0
        action = tree.select_action(temperature, self.rng)
        slot.moves.append(state.action_to_text(action))
        slot.actions.append(action)
        slot.state = state.apply(action)
        if slot.state.is_terminal() or slot.state.ply >= st.max_plies:
            return self._finish(slot, slot.state.returns() if slot.state.is_terminal() else np.zeros(2, np.float32),
                                resigned=False)
        tree.advance(action)
        return None

    def _finish(self, slot: _Slot, result: np.ndarray, resigned: bool):
        for p in (0, 1):
            if slot.would_resign[p]:
                self.resign_checks += 1
                if result[p] >= 0:   # it would have resigned a game it did not lose
                    self.resign_false_positives += 1
        game = FinishedGame(slot.actions, slot.moves, [float(x) for x in result], len(slot.actions), resigned,
                            self.game.initial_state().to_text())
        if not slot.planes:
            return game, None
        n = len(slot.planes)
        z = np.array([result[p] for p in slot.players], dtype=np.float32)
        ids = np.array([self._sample_id() for _ in range(n)], dtype=np.int64)
        own = (None, None)
        if self.ownership:
            _, h, w = self.game.obs_shape
            if slot.state.is_terminal() and not resigned:
                final = slot.state.area_ownership()
                views = (final, -final)
                own = (np.stack([views[p] for p in slot.players]).astype(np.int8), np.ones(n, np.float32))
            else:
                own = (np.zeros((n, h, w), np.int8), np.zeros(n, np.float32))
        samples = Samples(np.stack(slot.planes), np.stack(slot.policies), z, np.array(slot.qs, np.float32), ids,
                          *own)
        return game, samples
