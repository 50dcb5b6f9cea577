"""Evaluation of self-play nets: matches, Elo, solved-position accuracy, perfect play.

Matches are played by the one match layer, `boardnet.arena.play_match`, in lock-step mode: all games of a
match advance together, so a net player searches every game's position in one batch (`NetPlayer.select_many`).
The players are boardnet players (`new_game`, `select`, `close`; `boardnet.players.MCTSPlayer` and
`RandomPlayer` for the baselines). Games start from random opening plies drawn with the match seed, each
opening played once from each side, so greedy players still give varied games.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from boardnet import arena
from boardnet.games.base import Game, State
from boardnet.players import MCTSPlayer, RandomPlayer
from boardnet.search import SearchConfig, Tree, search_lockstep


class NetPlayer:
    """A boardnet player that searches with a (batched) evaluator: `select_many` advances the trees of all
    the positions it is given in lock-step, one evaluator batch per simulation step. simulations=0 plays the
    raw policy's argmax. No per-game state, so the arena may interleave games."""

    def __init__(self, evaluator, simulations: int, name: str = "net", seed: int = 0, search: SearchConfig | None = None):
        self.evaluator, self.simulations, self.name = evaluator, simulations, name
        self.search = search or SearchConfig(num_simulations=max(1, simulations))
        self.rng = np.random.default_rng(seed)

    def new_game(self, game: Game, start: State) -> None:
        pass

    def select(self, state: State, history: Sequence[int] = ()) -> int:
        return self.select_many([state], [history])[0]

    def select_many(self, states: Sequence[State], histories: Sequence[Sequence[int]] | None = None) -> list[int]:
        if self.simulations == 0:
            priors, _ = self.evaluator.evaluate(list(states))
            return [int(np.argmax(p)) for p in priors]
        trees = [Tree(s, self.search, self.rng) for s in states]
        search_lockstep(trees, self.evaluator, self.simulations, add_noise=False)
        return [t.select_action(0.0, self.rng) for t in trees]

    def close(self) -> None:
        pass


def random_player(seed: int = 0) -> RandomPlayer:
    return RandomPlayer(seed, name="random")


def mcts_player(game: Game, simulations: int, seed: int = 0) -> MCTSPlayer:
    """Pure MCTS with random roll-outs (`boardnet.players.MCTSPlayer`); `game` is kept for callers' sake:
    the player builds its search for the game it is given in `new_game`."""
    return MCTSPlayer(simulations, seed=seed, name=f"mcts{simulations}")


@dataclass
class MatchResult:
    """What self-play reports of a match, from player a's side; `plies` counts the players' moves (not the
    openings)."""
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


def random_openings(game: Game, count: int, plies: int, seed: int = 0) -> list[list[int]]:
    """`count` openings of `plies` uniformly random moves each (shorter where a game ends), seeded."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        s, acts = game.initial_state(), []
        for _ in range(plies):
            if s.is_terminal():
                break
            a = int(rng.choice(s.legal_actions()))
            s = s.apply(a)
            acts.append(a)
        out.append(acts)
    return out


def play_match(game: Game, a, b, n_games: int, seed: int = 0, opening_plies: int = 2,
               max_plies: int = 10_000) -> MatchResult:
    """n_games between the players a and b through `boardnet.arena.play_match` (lock-step), a moving first in
    the even games; game 2k and 2k+1 share the k-th seeded random opening. The result is from a's view."""
    openings = random_openings(game, (n_games + 1) // 2, opening_plies, seed)
    m = arena.play_match(game, lambda: a, lambda: b, n_games, openings=openings, max_plies=max_plies,
                         lockstep=True)
    plies = sum(len(g.actions) - len(openings[g.opening]) for g in m.games)
    return MatchResult(wins=m.wins, draws=m.draws, losses=m.losses, plies=plies)


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
    histories = [[int(ch) - 1 for ch in m] for m, _ in rows]   # Pons' move strings: columns 1-7
    actions = arena.choose_moves(player, states, histories)
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


class PerfectPlayer:
    """Tic-tac-toe perfect play, choosing at random among optimal moves (a boardnet player)."""

    def __init__(self, seed: int = 0, name: str = "perfect"):
        _, self.table = _solved("tictactoe")
        self.rng, self.name = np.random.default_rng(seed), name

    def new_game(self, game: Game, start: State) -> None:
        pass

    def select(self, state: State, history: Sequence[int] = ()) -> int:
        return int(self.rng.choice(self.table[state.hash()][1]))

    def close(self) -> None:
        pass


def perfect_player(seed: int = 0) -> PerfectPlayer:
    return PerfectPlayer(seed)


def tictactoe_perfection(player: Player, games: int = 200, seed: int = 0) -> dict:
    """Share of all non-terminal reachable positions where the player's move is optimal, and the result of
    `games` games against randomised perfect play (colours alternating)."""
    game, table = _solved("tictactoe")
    states, histories, seen = [], [], set()

    def walk(s, hist):
        if s.hash() in seen or s.is_terminal():
            return
        seen.add(s.hash())
        states.append(s)
        histories.append(hist)
        for a in s.legal_actions():
            walk(s.apply(a), hist + [int(a)])
    walk(game.initial_state(), [])
    chosen = arena.choose_moves(player, states, histories)
    optimal = sum(int(a) in table[s.hash()][1] for s, a in zip(states, chosen))
    res = play_match(game, player, perfect_player(seed), games, seed=seed, opening_plies=0)
    return {"positions": len(states), "optimal_moves": optimal / len(states), "games": res.games,
            "losses": res.losses, "draws": res.draws, "wins": res.wins}
