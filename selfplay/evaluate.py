"""Evaluation of self-play nets: matches in lock-step, Elo, solved-position accuracy, perfect play.

Players choose moves for a list of states at once, so a net player searches all its games in one
lock-step batch (`moves(states) -> actions`). Matches alternate colours and start from random opening
plies shared by each pair of games (the same opening with colours swapped), so greedy players still
give varied games.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from boardnet.games.base import Game, State
from boardnet.search import SearchConfig, Tree, search_lockstep


class Player(Protocol):
    name: str

    def moves(self, states: Sequence[State]) -> list[int]: ...


class NetPlayer:
    """Search with a (batched) evaluator; all games' trees advance in lock-step. simulations=0 plays the
    raw policy's argmax."""

    def __init__(self, evaluator, simulations: int, name: str = "net", seed: int = 0, search: SearchConfig | None = None):
        self.evaluator, self.simulations, self.name = evaluator, simulations, name
        self.search = search or SearchConfig(num_simulations=max(1, simulations))
        self.rng = np.random.default_rng(seed)

    def moves(self, states):
        if self.simulations == 0:
            priors, _ = self.evaluator.evaluate(list(states))
            return [int(np.argmax(p)) for p in priors]
        trees = [Tree(s, self.search, self.rng) for s in states]
        search_lockstep(trees, self.evaluator, self.simulations, add_noise=False)
        return [t.select_action(0.0, self.rng) for t in trees]


class FunctionPlayer:
    """Wraps a one-state chooser (pure MCTS, random, perfect play)."""

    def __init__(self, fn, name: str):
        self.fn, self.name = fn, name

    def moves(self, states):
        return [int(self.fn(s)) for s in states]


def random_player(seed: int = 0) -> FunctionPlayer:
    rng = np.random.default_rng(seed)
    return FunctionPlayer(lambda s: rng.choice(s.legal_actions()), "random")


def mcts_player(game: Game, simulations: int, seed: int = 0) -> FunctionPlayer:
    from boardnet.mcts_baseline import PureMCTS
    m = PureMCTS(game, simulations=simulations, seed=seed)
    return FunctionPlayer(m.select, f"mcts{simulations}")


@dataclass
class MatchResult:
    wins: int = 0
    draws: int = 0
    losses: int = 0
    plies: int = 0

    @property
    def games(self) -> int:
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / max(1, self.games)


def play_match(game: Game, a: Player, b: Player, n_games: int, seed: int = 0, opening_plies: int = 2,
               max_plies: int = 10_000) -> MatchResult:
    """n_games between a and b (a is first player in the even games); result from a's view."""
    rng = np.random.default_rng(seed)
    states: list[State] = []
    for i in range(0, n_games, 2):
        s = game.initial_state()
        for _ in range(opening_plies):
            if s.is_terminal():
                break
            s = s.apply(int(rng.choice(s.legal_actions())))
        states += [s, s][: n_games - i]
    a_player = [i % 2 for i in range(n_games)]   # which player index a plays in game i
    res = MatchResult()
    active = [i for i in range(n_games) if not states[i].is_terminal()]
    while active:
        for who, player in ((0, a), (1, b)):
            idx = [i for i in active if not states[i].is_terminal()
                   and (states[i].to_play() == a_player[i]) == (who == 0)]
            if idx:
                for i, act in zip(idx, player.moves([states[i] for i in idx])):
                    states[i] = states[i].apply(act)
                    res.plies += 1
        active = [i for i in active if not states[i].is_terminal() and states[i].ply < max_plies]
    for i, s in enumerate(states):
        r = s.returns()[a_player[i]] if s.is_terminal() else 0.0
        if r > 0:
            res.wins += 1
        elif r < 0:
            res.losses += 1
        else:
            res.draws += 1
    return res


def elo_estimate(r: MatchResult) -> tuple[float, float, float]:
    """Elo difference with a 95% interval (normal approximation on the per-game score)."""
    from boardnet.elo import elo_from_score
    return elo_from_score(r.wins, r.draws, r.losses)


# ----------------------------------------------------------------------------- solved positions
def solved_files(data_dir: Path) -> list[Path]:
    return sorted(Path(data_dir).glob("Test_*.scores"))


def load_scores(path: Path, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Rows (move string, scores[7]) of a Pons .scores file; -1000 marks a full column."""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 8:
                continue
            rows.append((parts[0], np.array([int(x) for x in parts[1:]], dtype=np.int64)))
            if limit and len(rows) >= limit:
                break
    return rows


def move_quality(scores: np.ndarray, action: int) -> tuple[bool, bool]:
    """(not a mistake, perfect) for a chosen column given the solved scores of all 7 columns."""
    legal = scores != -1000
    best = scores[legal].max()
    s = scores[action]
    if not legal[action]:
        return False, False
    return bool(np.sign(s) == np.sign(best)), bool(s == best)


def solved_accuracy(game: Game, player: Player, path: Path, limit: int | None = None) -> dict:
    """Share of positions of a Pons .scores file where the player's move is not a mistake / perfect."""
    rows = load_scores(path, limit)
    states = [game.state_from_text(m) for m, _ in rows]
    actions = player.moves(states)
    q = np.array([move_quality(sc, a) for (_, sc), a in zip(rows, actions)], dtype=float)
    return {"positions": len(rows), "not_mistake": float(q[:, 0].mean()), "perfect": float(q[:, 1].mean())}


# ----------------------------------------------------------------------------- tic-tac-toe, solved
def _negamax_table(game: Game) -> dict[int, tuple[float, tuple[int, ...]]]:
    """hash -> (value for the side to move, optimal actions) for every reachable position."""
    table: dict[int, tuple[float, tuple[int, ...]]] = {}

    def solve(s: State) -> float:
        h = s.hash()
        if h in table:
            return table[h][0]
        if s.is_terminal():
            v = float(s.returns()[s.to_play()])
            table[h] = (v, ())
            return v
        vals = {int(a): -solve(s.apply(a)) for a in s.legal_actions()}
        best = max(vals.values())
        table[h] = (best, tuple(a for a, v in vals.items() if v == best))
        return best

    solve(game.initial_state())
    return table


@lru_cache(maxsize=4)
def _solved(game_name: str):
    from boardnet.games import make_game
    g = make_game(game_name)
    return g, _negamax_table(g)


def perfect_player(seed: int = 0) -> FunctionPlayer:
    """Tic-tac-toe perfect play, choosing at random among optimal moves."""
    _, table = _solved("tictactoe")
    rng = np.random.default_rng(seed)
    return FunctionPlayer(lambda s: rng.choice(table[s.hash()][1]), "perfect")


def tictactoe_perfection(player: Player, games: int = 200, seed: int = 0) -> dict:
    """Share of all non-terminal reachable positions where the player's move is optimal, and the result of
    `games` games against randomised perfect play (colours alternating)."""
    game, table = _solved("tictactoe")
    states, seen = [], set()

    def walk(s):
        if s.hash() in seen or s.is_terminal():
            return
        seen.add(s.hash())
        states.append(s)
        for a in s.legal_actions():
            walk(s.apply(a))
    walk(game.initial_state())
    chosen = player.moves(states)
    optimal = sum(int(a) in table[s.hash()][1] for s, a in zip(states, chosen))
    res = play_match(game, player, perfect_player(seed), games, seed=seed, opening_plies=0)
    return {"positions": len(states), "optimal_moves": optimal / len(states), "games": res.games,
            "losses": res.losses, "draws": res.draws, "wins": res.wins}
