"""Game rules behind one protocol (see base.py). NumPy and python-chess only: no torch, no Ray."""
from __future__ import annotations

import numpy as np

from boardnet.games.base import Game, GameError, IllegalMoveError, ParseError, State

__all__ = ["Game", "State", "GameError", "IllegalMoveError", "ParseError", "make_game", "random_states", "GAMES"]

GAMES = ("tictactoe", "connect4", "go", "chess", "checkers")


def make_game(name: str, **kwargs) -> Game:
    """Game by name: 'tictactoe', 'connect4', 'go' (board_size=, komi=), 'go9', 'go13', 'go19', 'chess'."""
    key = name.lower().replace("-", "").replace("_", "")
    if key in ("tictactoe", "ttt"):
        from boardnet.games.tictactoe import TicTacToe
        return TicTacToe(**kwargs)
    if key in ("connect4", "connectfour", "c4"):
        from boardnet.games.connect4 import ConnectFour
        return ConnectFour(**kwargs)
    if key.startswith("go"):
        from boardnet.games.go import Go
        if key[2:]:
            if not key[2:].isdigit():
                raise ValueError(f"unknown game {name!r}")
            kwargs.setdefault("board_size", int(key[2:]))
        return Go(**kwargs)
    if key == "chess":
        from boardnet.games.chess import Chess
        return Chess(**kwargs)
    if key in ("checkers", "draughts"):
        from boardnet.games.checkers import Checkers
        return Checkers(**kwargs)
    raise ValueError(f"unknown game {name!r}: choose one of {', '.join(GAMES)}")


def random_states(game: Game, n: int, seed: int = 0, max_plies: int = 30) -> list[State]:
    """n non-terminal positions, each a seeded random number (< max_plies) of random plies into the game
    (a ply that would end the game is not taken). For tests and benchmarks."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        s = game.initial_state()
        for _ in range(int(rng.integers(0, max_plies))):
            acts = s.legal_actions()
            t = s.apply(int(acts[rng.integers(len(acts))]))
            if t.is_terminal():
                break
            s = t
        out.append(s)
    return out
