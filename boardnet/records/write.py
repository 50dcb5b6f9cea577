"""Game records as text: PGN for chess (python-chess `chess.pgn`), SGF FF[4] for Go, PDN for
checkers, and a plain move line for the other games.

`game_record(game, actions, result=None, players=(..., ...))` replays `actions` (integers) from
`start` (the game's initial state by default) and writes the record. `result` is the score per
player (`State.returns()` layout: +1 win, -1 loss, 0 draw) when it is not read off the final
state, e.g. after a resignation or an adjudication; `None` means "from the final state, or
unfinished". Self-play workers and the arena share these writers.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

from boardnet.games.base import Game, State

RESULT_TEXT = {1: "1-0", -1: "0-1", 0: "1/2-1/2"}


def _replay(start: State, actions: Sequence[int]) -> list[State]:
    states = [start]
    for i, a in enumerate(actions):
        try:
            states.append(states[-1].apply(int(a)))
        except ValueError as e:
            raise ValueError(f"game record: action {i} ({a!r}) is not legal: {e}") from None
    return states


def _outcome(final: State, result: Sequence[float] | None) -> int | None:
    """+1 first player won, -1 second won, 0 draw, None unfinished."""
    if result is None:
        if not final.is_terminal():
            return None
        result = final.returns()
    if len(result) != 2:
        raise ValueError(f"game record result {result!r}: expected one score per player (2)")
    r0 = float(result[0])
    return 1 if r0 > 0 else -1 if r0 < 0 else 0


def result_text(final: State, result: Sequence[float] | None = None) -> str:
    """"1-0", "0-1", "1/2-1/2" or "*" (unfinished) from the first player's side."""
    out = _outcome(final, result)
    return "*" if out is None else RESULT_TEXT[out]


def game_record(game: Game, actions: Sequence[int], result: Sequence[float] | None = None,
                players: Sequence[str] = ("?", "?"), *, start: State | None = None,
                event: str = "boardnet game", date: _dt.date | None = None,
                termination: str | None = None) -> str:
    """The record of one game as text, in the game's `record_format` (see the module doc)."""
    if len(players) != 2:
        raise ValueError(f"game record players {players!r}: expected two names")
    start = game.initial_state() if start is None else start
    states = _replay(start, actions)
    outcome = _outcome(states[-1], result)
    fmt = game.record_format
    if fmt == "pgn":
        return _pgn(states, list(actions), outcome, players, event, date, termination)
    if fmt == "sgf":
        return _sgf(game, states, list(actions), outcome, players, event, date, termination)
    if fmt == "pdn":
        return _pdn(states, list(actions), outcome, players, event, date)
    moves = " ".join(s.action_to_text(a) for s, a in zip(states, actions))
    return f"{moves} {'*' if outcome is None else RESULT_TEXT[outcome]}".strip() + "\n"


# -- chess -----------------------------------------------------------------------------------------

def chess_move(state: State, action: int):
    """The `chess.Move` of `action` in a chess state (move text may be UCI or SAN)."""
    import chess

    to_move = getattr(state, "action_to_move", None)
    if to_move is not None:
        return to_move(int(action))
    board = chess_board(state)
    text = state.action_to_text(int(action))
    try:
        move = chess.Move.from_uci(text)
        if move in board.legal_moves:
            return move
    except ValueError:
        pass
    return board.parse_san(text)


def chess_board(state: State):
    """A `chess.Board` for a chess state (its own board when it keeps one, else from the FEN)."""
    import chess

    board = getattr(state, "board", None)  # boardnet's ChessState: a property with the move stack
    if isinstance(board, chess.Board):
        return board
    return chess.Board(state.to_text())


def _pgn(states, actions, outcome, players, event, date, termination) -> str:
    import chess
    import chess.pgn

    start_board = chess_board(states[0]).copy(stack=False)
    pg = chess.pgn.Game()
    pg.headers["Event"] = event
    pg.headers["Date"] = (date or _dt.date.today()).strftime("%Y.%m.%d")
    pg.headers["White"], pg.headers["Black"] = players[0], players[1]
    pg.headers["Result"] = "*" if outcome is None else RESULT_TEXT[outcome]
    if start_board.fen() != chess.STARTING_FEN:
        pg.setup(start_board)
    if termination:
        pg.headers["Termination"] = termination
    node = pg
    for s, a in zip(states, actions):
        node = node.add_variation(chess_move(s, a))
    return str(pg) + "\n"


# -- Go --------------------------------------------------------------------------------------------

def _sgf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("]", "\\]")


def _sgf_point(game, action: int) -> str:
    if action == game.pass_action:
        return ""  # FF[4] pass
    r, c = divmod(int(action), game.n)
    return "abcdefghijklmnopqrs"[c] + "abcdefghijklmnopqrs"[r]


def sgf_text(game, states: Sequence[State], actions: Sequence[int], players: Sequence[str] = ("?", "?"),
             event: str = "boardnet game") -> str:
    """A Go line as SGF: `states[i]` the position before `actions[i]`, `states[-1]` the last (setup stones and the
    side to move from `states[0]`); no result. For lines that are not one game's replay (a GTP session's hand-overs
    and resumptions), where :func:`game_record` cannot replay the actions."""
    return _sgf(game, list(states), list(actions), None, players, event, None, None)


def go_result_text(final: State, outcome: int | None, termination: str | None = None) -> str:
    """SGF RE value: "B+3.5", "W+R" (resignation), "0" (tie), "" (unfinished)."""
    if outcome is None:
        return ""
    if outcome == 0:
        return "0"
    winner = "B" if outcome > 0 else "W"
    if final.is_terminal() and termination is None:
        return f"{winner}+{abs(final.score()):g}"
    return f"{winner}+{'R' if termination in (None, 'resign', 'resignation') else 'F'}"


def _sgf(game, states, actions, outcome, players, event, date, termination) -> str:
    start = states[0]
    parts = [f"FF[4]GM[1]CA[UTF-8]AP[boardnet]SZ[{game.n}]KM[{game.komi:g}]RU[Tromp-Taylor]",
             f"GN[{_sgf_escape(event)}]DT[{(date or _dt.date.today()).isoformat()}]",
             f"PB[{_sgf_escape(players[0])}]PW[{_sgf_escape(players[1])}]"]
    re_text = go_result_text(states[-1], outcome, termination)
    if re_text:
        parts.append(f"RE[{re_text}]")
    board = start.board()
    ab = [_sgf_point(game, i) for i in range(game.n * game.n) if board.flat[i] == 1]
    aw = [_sgf_point(game, i) for i in range(game.n * game.n) if board.flat[i] == 2]
    if ab:
        parts.append("AB" + "".join(f"[{p}]" for p in ab))
    if aw:
        parts.append("AW" + "".join(f"[{p}]" for p in aw))
    if start.to_play() == 1:
        parts.append("PL[W]")
    moves = "".join(f";{'BW'[s.to_play()]}[{_sgf_point(game, a)}]" for s, a in zip(states, actions))
    return "(;" + "".join(parts) + moves + ")\n"


# -- checkers --------------------------------------------------------------------------------------

def _pdn(states, actions, outcome, players, event, date) -> str:
    """PDN: one numbered move per turn; a multi-jump's steps are joined into `22x15x8`."""
    turns: list[tuple[int, str]] = []  # (player, move text)
    for s, a in zip(states, actions):
        step = s.action_to_text(a)
        if turns and s.game.multi_action_turns and s.mid_capture:
            p, text = turns[-1]
            turns[-1] = (p, text + step[step.index("x"):])
        else:
            turns.append((s.to_play(), step))
    res = "*" if outcome is None else RESULT_TEXT[outcome]
    head = (f'[Event "{event}"]\n[Date "{(date or _dt.date.today()).strftime("%Y.%m.%d")}"]\n'
            f'[Black "{players[0]}"]\n[White "{players[1]}"]\n[Result "{res}"]\n'
            f'[GameType "21"]\n')
    fen = states[0].to_text()
    if fen != states[0].game.initial_state().to_text():
        head += f'[FEN "{fen}"]\n'
    body, num = [], 1
    for i, (p, text) in enumerate(turns):
        if p == 0:
            body.append(f"{num}. {text}")
        else:
            body.append(text if i > 0 else f"{num}... {text}")
            num += 1
    return head + "\n" + " ".join(body + [res]) + "\n"
