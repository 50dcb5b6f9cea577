"""`boardnet play`: a game against the engine in the terminal, also driven through a pipe.

The session reads one command per line: a move in the game's notation (chess SAN or UCI, Go
vertices and `pass`, Connect Four columns 1-7, tic-tac-toe cells a1-c3, checkers `11-15` /
`22x15x8`), or `undo`, `hint`, `analyse`, `new`, `save FILE`, `board`, `moves`, `go`, `help`,
`quit`. A bad line gets a one-line reason (starting with `?`) and the prompt again. The engine
answers on its turns; while it thinks a progress line is redrawn on a terminal's stderr, and a
summary line is printed when it moves.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TextIO

from boardnet.games.base import Game, GameError, State
from boardnet.players import ProgressReporter, analysis_rows, engine_choice, is_go
from boardnet.records import game_record

COLOUR_WORDS = {"first": 0, "second": 1, "white": None, "black": None, "x": 0, "o": 1,
                "both": "both", "none": "none"}
HELP = ("commands: <move> | undo | hint | analyse | new | save FILE | board | moves | go "
        "(engine moves now) | help | quit")


def side_names(game: Game) -> tuple[str, str]:
    """The two players' names for people, as the game declares them (`Game.side_names`)."""
    return tuple(game.side_names)


def human_sides(game: Game, colour: str) -> frozenset[int]:
    """The players the human moves for, from --color (first/second, the game's colour names,
    both = human plays both sides, none = engine plays both)."""
    c = colour.strip().lower()
    names = [n.lower() for n in side_names(game)]
    if c in names:
        return frozenset({names.index(c)})
    if c in ("first", "second"):
        return frozenset({0 if c == "first" else 1})
    if c == "both":
        return frozenset({0, 1})
    if c == "none":
        return frozenset()
    raise ValueError(f"--color {colour!r}: choose one of first, second, {', '.join(names)}, both, none")


# -- board drawing ----------------------------------------------------------------------------------

_UNICODE_PIECES = dict(zip("KQRBNPkqrbnp", "♔♕♖♗♘♙♚♛♜♝♞♟"))


def draw_chess(state: State, ascii_only: bool, last: int | None) -> str:
    """Ranks 8..1 with files below; the last move's squares are bracketed."""
    import chess

    board = getattr(state, "board", None)  # ChessState.board: a property, with the move stack
    if not isinstance(board, chess.Board):
        board = chess.Board(state.to_text())
    marked: set[int] = set()
    if last is not None and board.move_stack:
        mv = board.move_stack[-1]
        marked = {mv.from_square, mv.to_square}
    rows = []
    for rank in range(7, -1, -1):
        cells = []
        for file in range(8):
            sq = chess.square(file, rank)
            p = board.piece_at(sq)
            sym = "." if p is None else (p.symbol() if ascii_only else _UNICODE_PIECES[p.symbol()])
            cells.append(f"[{sym}]" if sq in marked else f" {sym} ")
        rows.append(f"{rank + 1} " + "".join(cells))
    rows.append("   " + "  ".join("abcdefgh"))
    return "\n".join(rows)


def proven_words(plies: int) -> str:
    """`wins in 3 plies` / `loses in 1 ply`: a result the MCTS-solver proved (`Analysis.proven_plies`)."""
    return f"{'wins' if plies > 0 else 'loses'} in {abs(plies)} {'ply' if abs(plies) == 1 else 'plies'}"


def outlook(an, side: str) -> str:
    """The engine's view of the game for `side` (the side to move): `win 63.2% for X`, or, once the MCTS-solver
    has proven the result through the best move, `X wins in 3 plies (proven)` / `X loses in 4 plies (proven)`."""
    plies = getattr(an, "proven_plies", None)
    if plies:
        return f"{side} {proven_words(plies)} (proven)"
    return f"win {100 * an.win_prob:.1f}% for {side}"


def move_text(state: State, action: int) -> str:
    """How a person reads a move: SAN for chess (`Nf3`), else the game's move text."""
    san = getattr(state, "move_to_san", None)
    return san(int(action)) if san is not None else state.action_to_text(int(action))


def draw_grid(cells: list[list[str]], row_labels: list[str], col_labels: list[str],
              mark: tuple[int, int] | None) -> str:
    """A board of one-character cells, labels left and right of each row and above and below;
    the cell at `mark` (row, col) is bracketed."""
    w = max(len(r) for r in row_labels)
    head = (" " * (w + 1) + "".join(f" {c} " for c in col_labels)).rstrip()
    rows = [head]
    for r, (label, line) in enumerate(zip(row_labels, cells)):
        body = "".join(f"[{ch}]" if mark == (r, c) else f" {ch} " for c, ch in enumerate(line))
        rows.append(f"{label:>{w}} {body} {label}")
    rows.append(head)
    return "\n".join(rows)


def draw(state: State, ascii_only: bool = False, last: int | None = None) -> str:
    """The board with coordinates; the last move's cells are bracketed."""
    game = state.game
    if game.name == "chess":
        return draw_chess(state, ascii_only, last)
    if is_go(game):
        from boardnet.games.go import COLUMNS

        n = game.n
        b = state.board()
        cells = [[".XO"[b[r, c]] for c in range(n)] for r in range(n)]
        mark = divmod(last, n) if last is not None and last != game.pass_action else None
        return draw_grid(cells, [str(n - r) for r in range(n)], list(COLUMNS[:n]), mark)
    if game.name == "connect4":
        h, w = game.height, game.width
        cells = [["."] * w for _ in range(h)]
        mark = None
        for i, ch in enumerate(state.to_text()):   # the move string from the empty board
            c = int(ch) - 1
            r = h - 1 - sum(row[c] != "." for row in cells)
            cells[r][c] = "XO"[i % 2]
            mark = (r, c)
        return draw_grid(cells, [str(h - r) for r in range(h)], [str(c + 1) for c in range(w)],
                         mark if last is not None else None)
    if game.name == "tictactoe":
        t = state.to_text().upper()
        cells = [list(t[3 * r: 3 * r + 3]) for r in range(3)]
        return draw_grid(cells, ["3", "2", "1"], list("abc"), divmod(last, 3) if last is not None else None)
    return str(state)


def status_line(state: State, last_text: str | None) -> str:
    names = side_names(state.game)
    if state.is_terminal():
        return "game over: " + result_words(state)
    check = " (check)" if getattr(state, "is_check", lambda: False)() else ""
    lm = f", last move {last_text}" if last_text else ""
    return f"move {state.ply + 1}: {names[state.to_play()]} to move{check}{lm}"


def result_words(state: State, result=None) -> str:
    names = side_names(state.game)
    r = state.returns() if result is None else result
    why = ""
    term = getattr(state, "termination", None)
    if callable(term) and term():
        why = f" ({term()})"
    elif state.game.scoring == "area":
        why = f" (area score {state.score():+g} for Black)"
    if r[0] > 0:
        return f"{names[0]} wins{why}"
    if r[0] < 0:
        return f"{names[1]} wins{why}"
    return f"draw{why}"


# -- the session --------------------------------------------------------------------------------------

class PlaySession:
    """One terminal game: `run(lines)` consumes command lines until `quit` or end of input."""

    def __init__(self, game: Game, engine, *, human: frozenset[int] = frozenset({0}),
                 visits: int | None = None, movetime: float | None = None,
                 out: TextIO | None = None, err: TextIO | None = None, ascii_only: bool | None = None,
                 prompt: bool | None = None, engine_name: str = "boardnet"):
        self.game, self.engine, self.human = game, engine, frozenset(human)
        self.visits, self.movetime = visits, movetime
        self.out = sys.stdout if out is None else out
        self.err = sys.stderr if err is None else err
        enc = (getattr(self.out, "encoding", None) or "ascii").lower()
        self.ascii_only = ("utf" not in enc) if ascii_only is None else ascii_only
        self.prompt = (getattr(sys.stdin, "isatty", lambda: False)()) if prompt is None else prompt
        self.engine_name = engine_name
        self.progress_interval = 0.1   # seconds between redraws of the thinking line
        self._saved: set[str] = set()  # files this session wrote: `save` may update them, never replace another
        self.new()

    # state
    def new(self) -> None:
        self.states: list[State] = [self.game.initial_state()]
        self.actions: list[int] = []

    @property
    def state(self) -> State:
        return self.states[-1]

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def show(self) -> None:
        last = self.actions[-1] if self.actions else None
        last_text = move_text(self.states[-2], last) if last is not None else None
        self.say(draw(self.state, self.ascii_only, last))
        self.say(status_line(self.state, last_text))

    def push(self, action: int) -> None:
        self.states.append(self.state.apply(action))
        self.actions.append(int(action))

    # engine
    def _think(self, state: State):
        tty = getattr(self.err, "isatty", lambda: False)()
        names = side_names(self.game)

        def show_progress(an) -> None:
            pv = " ".join(an.pv[:6])
            self.err.write(f"\rthinking: {an.nodes} nodes  {an.nps:.0f} n/s  best {an.best_move}  "
                           f"{outlook(an, names[state.to_play()])}  pv {pv}\033[K")
            self.err.flush()

        progress = ProgressReporter(self.engine, show_progress, self.progress_interval) if tty else None
        an = self.engine.analyse(state, visits=self.visits, movetime=self.movetime, on_progress=progress)
        if tty:
            self.err.write("\r\033[K")
            self.err.flush()
        return an

    def engine_move(self) -> None:
        state = self.state
        an = self._think(state)
        a = engine_choice(self.engine, state, an)
        text = move_text(state, a)
        self.push(a)
        plies = getattr(an, "proven_plies", None) if a == an.best_action else None
        view = f"{proven_words(plies)}, proven" if plies else f"win {100 * an.win_prob:.1f}%"
        self.say(f"{self.engine_name} plays {text}  ({view}, {an.nodes} nodes, "
                 f"{an.seconds:.2f} s, {an.nps:.0f} nodes/s)")

    def engine_turns(self) -> None:
        """Let the engine move while it is its turn; show the board after."""
        moved = False
        while not self.state.is_terminal() and self.state.to_play() not in self.human:
            self.engine_move()
            moved = True
        if moved:
            self.show()

    # commands
    def parse_move(self, text: str) -> list[int]:
        s = self.state
        if s.is_terminal():
            raise GameError(f"move {text!r}: the game is over (new, undo, save FILE or quit)")
        if self.game.multi_action_turns:
            return list(s.text_to_actions(text))
        return [s.text_to_action(text)]

    def cmd_undo(self) -> None:
        if not self.actions:
            self.say("? undo: no moves to take back")
            return
        self.states.pop()
        self.actions.pop()
        # Back to the human's turn: also take back the engine's moves (and the rest of a multi-jump).
        while self.actions and (self.state.to_play() not in self.human
                                or self.game.multi_action_turns and self.state.mid_capture):
            self.states.pop()
            self.actions.pop()
        self.show()

    def cmd_hint(self) -> None:
        if self.state.is_terminal():
            self.say("? hint: the game is over")
            return
        an = self._think(self.state)
        names = side_names(self.game)
        self.say(f"hint: {move_text(self.state, an.best_action)}  ({outlook(an, names[self.state.to_play()])}, "
                 f"{getattr(an, 'total_visits', an.nodes)} visits)")

    def cmd_analyse(self, top: int = 5) -> None:
        if self.state.is_terminal():
            self.say("? analyse: the game is over")
            return
        an = self._think(self.state)
        self.say(f"analysis: value {an.value:+.3f}  win {100 * an.win_prob:.1f}%  "
                 f"{getattr(an, 'total_visits', an.nodes)} visits  "
                 f"pv {' '.join(an.pv[:10])}")
        self.say(f"{'move':>8} {'visits':>7} {'prior':>6} {'win%':>6}")
        for move, visits, prior, q in analysis_rows(an)[:top]:
            win = "-" if q != q else f"{50 * (q + 1):.1f}"  # q is NaN for unvisited moves
            self.say(f"{move:>8} {visits:7d} {prior:6.3f} {win:>6}")

    def cmd_save(self, path: str) -> None:
        if not path:
            self.say("? save: give a file name, e.g. save game.pgn")
            return
        key = os.path.abspath(path)
        if os.path.exists(path) and key not in self._saved:
            self.say(f"? save {path!r}: the file exists and this session did not write it; give another name")
            return
        names = side_names(self.game)
        players = tuple("human" if i in self.human else self.engine_name for i in range(2))
        text = game_record(self.game, self.actions, players=players)
        try:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            self.say(f"? save {path!r}: {e.strerror or e}")
            return
        self._saved.add(key)
        self.say(f"saved {len(self.actions)} moves to {path} ({names[0]} vs {names[1]})")

    def handle(self, line: str) -> bool:
        """One command line; False when the session should end."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        word, _, arg = text.partition(" ")
        w = word.lower()
        if w in ("quit", "exit", "q"):
            return False
        if w in ("help", "?"):
            self.say(HELP)
        elif w == "undo":
            self.cmd_undo()
        elif w == "hint":
            self.cmd_hint()
        elif w in ("analyse", "analyze"):
            self.cmd_analyse()
        elif w == "new":
            self.new()
            self.say("new game")
            self.show()
            self.engine_turns()
        elif w == "save":
            self.cmd_save(arg.strip())
        elif w in ("board", "show"):
            self.show()
        elif w == "moves":
            s = self.state
            moves = (s.legal_moves_text() if self.game.multi_action_turns
                     else [move_text(s, a) for a in s.legal_actions()])
            self.say("legal moves: " + (" ".join(moves) if moves else "none"))
        elif w == "go":
            if self.state.is_terminal():
                self.say("? go: the game is over")
            else:
                self.engine_move()
                # a multi-action turn (a checkers multi-jump) is finished by the same side
                while self.game.multi_action_turns and self.state.mid_capture and not self.state.is_terminal():
                    self.engine_move()
                self.show()
                self.engine_turns()
        else:
            try:
                acts = self.parse_move(text)
            except GameError as e:
                self.say(f"? {e}")
                return True
            for a in acts:
                self.push(a)
            if self.state.is_terminal() or self.state.to_play() in self.human:
                self.show()
            self.engine_turns()
        return True

    def run(self, lines: Iterable[str]) -> int:
        names = side_names(self.game)
        you = ", ".join(names[i] for i in sorted(self.human)) or "nobody (engine plays both sides)"
        self.say(f"boardnet play {self.game.name}: you play {you}. {HELP}")
        self.show()
        self.engine_turns()
        it = iter(lines)
        while True:
            if self.prompt:
                self.out.write(f"{names[self.state.to_play()]}> " if not self.state.is_terminal() else "> ")
                self.out.flush()
            try:
                line = next(it)
            except StopIteration:
                return 0
            if not self.handle(line):
                return 0
