"""`boardnet gtp <game>`: the Go Text Protocol v2, for Go and also Connect Four, tic-tac-toe and
checkers (chess speaks UCI: `boardnet uci`).

Commands: protocol_version name version known_command list_commands quit boardsize clear_board
komi play genmove undo showboard final_score final_status_list time_settings time_left fixed_handicap
place_free_handicap set_free_handicap (Go: handicap stones on an empty board, White to move; the
standard layout of the GTP specification, which place_free_handicap uses too) lz-analyze (Leela
Zero's analysis stream, as Sabaki reads it), kgs-genmove_cleanup (genmove on a game resumed after
two passes, see the pass rule), loadsgf (GTP 2: size, komi, setup and moves of an SGF file's first game, up to a
move number), printsgf (GNU Go's: the game as SGF), reg_genmove (the move genmove would play, not played),
kgs-time_settings (KGS's time systems) and lz-genmove_analyze (genmove streaming lz-analyze lines, then
`play MOVE`). Replies are `=[id] text` or `?[id] message`, each ended by an empty line; ids are echoed.

Colours: `b`/`black` is the first player (Go: Black; Connect Four and tic-tac-toe: X; checkers:
Black), `w`/`white` the second. Moves are in the game's notation (Go vertices and `pass`,
Connect Four columns 1-7, tic-tac-toe a1-c3, checkers `11-15` or `22x15x8`); a Connect Four move
may also be a GTP vertex whose letter names the column (`D1` = column 4). `play` for the colour
not to move is legal in Go (GTP allows it): the turn is handed over as if the other side had passed,
a pass that does not count toward the two that end the game; in the other games it is an error.
In Go a `play` after two passes ended the game resumes it (controllers do that to settle dead
stones), and so does `kgs-genmove_cleanup`; a plain `genmove` there answers `pass`. `undo` takes
back one `play`/`genmove`, with the hand-over or resumption it made.

Go and passing (CGOS-safe): the engine passes only when its search prefers pass AND the
Tromp-Taylor area score of the board as it stands, with no dead-stone removal, already wins for
it on a settled board (and, for a net with an ownership head, its own count of the board wins
too), or when the opponent has just passed and that holds; on a settled board it is behind on it
passes when its search prefers that. Otherwise it plays its best acceptable non-pass move (never
filling its own eye), so dead opponent stones are captured before the game ends and the final
position scores correctly under Tromp-Taylor rules. It resigns only when asked to
(`--resign-threshold`, see `GTPServer`). `final_status_list dead` names the stones the engine calls dead:
those the net's ownership head gives to the other colour, or for a net without that head those 100 seeded
random play-outs give to it (`boardnet.players.go_dead_stones`, as Fuego and Pachi do; it matched GNU Go's
list on 49 of 51 final positions of go19's matches). `final_score` is the area count with those stones taken
off (what GTP asks; on a finished board that has been cleaned up it is the Tromp-Taylor score above).
"""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterable
from typing import TextIO

import numpy as np

from boardnet.games import make_game
from boardnet.games.base import GameError
from boardnet.players import ProgressReporter, analysis_rows, engine_choice, go_dead_stones, go_score_without
from boardnet.timeman import allot_time

NAME = "boardnet"
UNLIMITED_VISITS = 10 ** 9
_STREAMED = object()   # a handler's return value: it wrote the whole reply itself


class GTPError(Exception):
    """A command failed; the message becomes the `? message` reply."""


def parse_colour(text: str) -> int:
    t = text.lower()
    if t in ("b", "black"):
        return 0
    if t in ("w", "white"):
        return 1
    raise GTPError(f"invalid color {text!r}")


# Go's move cap (2 N^2 plies, a self-play bound) would refuse legal moves of a long game a GUI or server sends;
# over GTP the opponent, the GUI or the server ends the game, so the cap is this many times N^2
GTP_MOVE_CAP = 20


def protocol_game(game):
    """``game`` as a GTP session plays it: Go without its self-play move cap (GTP_MOVE_CAP N^2 instead)."""
    if getattr(game, "resizable", False) and hasattr(game, "max_moves"):
        return make_game(game.name, board_size=game.n, komi=game.komi, max_moves=GTP_MOVE_CAP * game.n * game.n)
    return game


def _same_step(prev, state, on):
    """Replay on `on` the step that led from `prev` to `state` in another game of the same board: a move,
    a hand-over (a pass that cleared the count) or a resumption (same ply)."""
    if state.ply == prev.ply:
        return on.resumed()
    a = state.last_action()
    if getattr(on.game, "has_pass", False) and a == on.game.pass_action and state.consecutive_passes() == 0:
        return on.hand_over()
    return on.apply(a)


def max_fixed_handicap(n: int) -> int:
    """The most stones `fixed_handicap` places on an n x n board (GTP 2 specification, 4.1.1): none below 7x7,
    4 on 7x7 and on even sizes, 9 on odd sizes from 9x9 up."""
    if n < 7:
        return 0
    return 4 if n % 2 == 0 or n == 7 else 9


def handicap_points(n: int, stones: int) -> list[int]:
    """The standard handicap vertices (GTP 2 specification, 4.1.1) as Go actions (row * n + column, row 0 at the
    top): the 4-4 points from 13x13 up, the 3-3 points below; corners first (lower left, upper right, upper
    left, lower right), then the centre for an odd count, the side points left and right, then top and bottom.
    19x19: 2 = D4 Q16, 3 = + D16, 4 = + Q4, 5 = + K10, 6 = D4 Q16 D16 Q4 D10 Q10, 8 = + K4 K16, 9 = + K10."""
    if not 2 <= stones <= max_fixed_handicap(n):
        raise ValueError(f"{stones} handicap stones: no standard layout on {n}x{n}")
    e = 3 if n >= 13 else 2            # edge distance (0-based)
    lo, mid, hi = e, n // 2, n - 1 - e
    def at(col: int, row_from_bottom: int) -> int:
        return (n - 1 - row_from_bottom) * n + col
    corners = [at(lo, lo), at(hi, hi), at(lo, hi), at(hi, lo)]
    centre = [at(mid, mid)]
    sides = [at(lo, mid), at(hi, mid)]
    tops = [at(mid, lo), at(mid, hi)]
    layout = {2: corners[:2], 3: corners[:3], 4: corners, 5: corners + centre, 6: corners + sides,
              7: corners + sides + centre, 8: corners + sides + tops, 9: corners + sides + tops + centre}
    return layout[stones]


class GTPServer:
    """One GTP session. `make_engine(game)` builds an engine for a (possibly resized) game."""

    def __init__(self, game, make_engine: Callable[[object], object], *, visits: int | None = None,
                 movetime: float | None = None, out: TextIO | None = None,
                 resign_threshold: float | None = None, resign_moves: int = 3):
        """`resign_threshold`: genmove answers `resign` once the search's value for the side to move
        has been below it (e.g. -0.9, a 5% win chance) for `resign_moves` of that side's moves in a
        row, from the game's 20th move on; None (the default) never resigns. Analysis never resigns."""
        if game.protocol != "gtp":
            raise ValueError(f"gtp {game.name}: {game.name} speaks {game.protocol.upper()}; "
                             f"run `boardnet {game.protocol}` instead")
        if resign_threshold is not None and not -1.0 < resign_threshold < 1.0:
            raise ValueError(f"resign threshold {resign_threshold}: must be between -1 and 1 (exclusive)")
        if resign_moves < 1:
            raise ValueError(f"resign moves {resign_moves}: must be >= 1")
        self.resign_threshold, self.resign_moves = resign_threshold, resign_moves
        self._hopeless = {0: 0, 1: 0}
        self.game = protocol_game(game)
        self.make_engine = make_engine
        self.visits, self.movetime = visits, movetime
        self.out = sys.stdout if out is None else out
        self._engine = None
        self._lock = threading.Lock()
        self._analysis: tuple[threading.Thread, threading.Event] | None = None
        self.main_time = self.byo_time = 0.0
        self.byo_stones = 0
        self.time_left: dict[int, tuple[float, int]] = {}
        self._lz_interval = 1.0
        self._ident = ""
        self._last_analysis = None
        self.clear()

    @property
    def engine(self):
        if self._engine is None:
            self._engine = self.make_engine(self.game)
        return self._engine

    def clear(self) -> None:
        self._hopeless = {0: 0, 1: 0}
        self._engine_colours: set[int] = set()   # the colours genmove has played (printsgf names them)
        # Go: the setup the line starts from, (black points, white points, side to move): handicap stones
        # (White to move) or a loaded SGF record's setup; None for the empty board
        self.setup: tuple[list[int], list[int], int] | None = None
        self.states = [self.game.initial_state()]
        self.marks = [0]  # index into states where each GTP move began, for undo

    @property
    def state(self):
        return self.states[-1]

    def write(self, text: str) -> None:
        with self._lock:
            self.out.write(text)
            self.out.flush()

    # -- move text --------------------------------------------------------------------------------
    def _move_actions(self, state, text: str) -> list[int]:
        if self.game.column_moves and len(text) >= 2 and text[0].isalpha() and text[1:].isdigit():
            col = "abcdefg".find(text[0].lower())
            if col < 0:
                raise GTPError(f"illegal move: vertex {text!r} is off the 7-column board")
            text = str(col + 1)
        try:
            if self.game.multi_action_turns:
                return list(state.text_to_actions(text))
            return [state.text_to_action(text)]
        except GameError as e:
            raise GTPError(f"illegal move: {e}") from None

    def _push(self, actions: list[int]) -> None:
        self.marks.append(len(self.states) - 1)
        for a in actions:
            self.states.append(self.state.apply(a))

    def _resume(self) -> None:
        """Go after two passes ended the game: go on from the same position (pass count cleared); a game the move
        cap ended stays over (:meth:`GoState.resumed` refuses it)."""
        s = self.state
        if self.game.has_pass and s.is_terminal() and s.consecutive_passes() >= 2:
            try:
                self.states.append(s.resumed())
            except GameError:
                pass

    def _turn(self, colour: int, what: str) -> None:
        """Make `colour` the side to move (Go: the turn handed over, :meth:`GoState.hand_over`; else an error)."""
        s = self.state
        if s.is_terminal():
            raise GTPError(f"{what}: the game is over")
        if s.to_play() == colour:
            return
        if self.game.has_pass:
            self.states.append(s.hand_over())
            return
        raise GTPError(f"{what}: it is {'black' if s.to_play() == 0 else 'white'}'s turn")

    # -- thinking -----------------------------------------------------------------------------------
    def _limits(self, colour: int) -> tuple[int | None, float | None]:
        if colour in self.time_left and (self.main_time > 0 or self.byo_time > 0):
            left, stones = self.time_left[colour]
            if stones > 0:
                return UNLIMITED_VISITS, allot_time(left, 0.0, stones)
            # In main time with byo-yomi behind it, think at least as long as a byo-yomi move may.
            t = allot_time(left, 0.0)
            if self.byo_time > 0 and self.byo_stones > 0:
                t = max(t, 0.8 * self.byo_time / self.byo_stones)
            return UNLIMITED_VISITS, t
        return self.visits, self.movetime

    def genmove(self, colour: int, resume: bool = False, on_progress=None) -> str:
        """The engine's move for `colour`, played. `resume` (kgs-genmove_cleanup): a Go game that two passes
        ended goes on first (:meth:`_resume`); otherwise the answer there is `pass`. `on_progress`: the
        search's hook (lz-genmove_analyze)."""
        start = len(self.states) - 1
        if resume:
            self._resume()
        s = self.state
        if self.game.has_pass and not s.is_terminal() and s.to_play() != colour:
            self._turn(colour, "genmove")
            s = self.state
        if s.is_terminal():
            if self.game.has_pass:
                return "pass"
            raise GTPError("genmove: the game is over")
        if s.to_play() != colour:
            raise GTPError(f"genmove: it is {'black' if s.to_play() == 0 else 'white'}'s turn")
        visits, movetime = self._limits(colour)
        self._engine_colours.add(colour)
        texts = []
        while True:  # checkers: a multi-jump is several actions by the same side
            st = self.state
            an = self.engine.analyse(st, visits=visits, movetime=movetime, on_progress=on_progress)
            self._last_analysis = an
            if not texts and self._should_resign(st, an.value):
                return "resign"
            a = engine_choice(self.engine, st, an)
            texts.append(st.action_to_text(a))
            self.states.append(st.apply(a))
            if not (self.game.multi_action_turns and self.state.mid_capture):
                break
        self.marks.append(start)
        if len(texts) == 1:
            return texts[0]
        return texts[0] + "".join(t[t.index("x"):] for t in texts[1:])

    def _should_resign(self, state, value: float) -> bool:
        """Count this side's hopeless moves in a row; True once there are `resign_moves` of them."""
        if self.resign_threshold is None:
            return False
        me = state.to_play()
        self._hopeless[me] = self._hopeless[me] + 1 if value < self.resign_threshold else 0
        return state.ply >= 20 and self._hopeless[me] >= self.resign_moves

    # -- lz-analyze --------------------------------------------------------------------------------------
    def _lz_line(self, an) -> str:
        parts = []
        lines = {r.move: r.pv for r in getattr(an, "rows", ()) if getattr(r, "pv", None)}
        for order, (move, visits, prior, q) in enumerate(analysis_rows(an)):
            if visits == 0:
                continue
            winrate = int(round(5000 * (q + 1)))
            # each candidate's own line (Lizzie and Sabaki show it when the move is hovered)
            pv = " ".join(lines.get(move) or (an.pv if order == 0 and an.pv and an.pv[0] == move else [move]))
            parts.append(f"info move {move} visits {visits} winrate {winrate} prior "
                         f"{int(round(10000 * prior))} lcb {winrate} order {order} pv {pv}")
        return " ".join(parts)

    def _write_lz(self, an) -> None:
        """One lz-analyze `info move ...` line of an analysis (none when no move has visits yet)."""
        line = self._lz_line(an)
        if line:
            self.write(line + "\n")

    def start_analysis(self, interval: float) -> None:
        state = self.state
        stop = threading.Event()

        def run() -> None:
            engine = self.engine
            try:
                an = engine.analyse(state, visits=UNLIMITED_VISITS, stop=stop.is_set,
                                    on_progress=ProgressReporter(engine, self._write_lz, interval))
            except Exception as e:  # noqa: BLE001 - the stream must end cleanly for the GUI
                self.write(f"info string analysis failed: {e}\n")
                return
            self._write_lz(an)

        th = threading.Thread(target=run, daemon=True)
        self._analysis = (th, stop)
        th.start()

    def stop_analysis(self) -> None:
        if self._analysis is not None:
            th, stop = self._analysis
            stop.set()
            th.join()
            self._analysis = None
            self.write("\n")  # ends the lz-analyze response

    # -- dispatch ----------------------------------------------------------------------------------------
    def command(self, cmd: str, args: list[str]) -> str | None:
        """Run one command through the `HANDLERS` table; None means the reply is streamed (lz-analyze)."""
        handler = self.HANDLERS.get(cmd)
        if handler is None:
            raise GTPError("unknown command")
        return handler(self, args)

    # -- one handler per command, `(self, args) -> reply`; the table below lists them
    def _protocol_version(self, args: list[str]) -> str:
        return "2"

    def _name(self, args: list[str]) -> str:
        return NAME

    def _version(self, args: list[str]) -> str:
        from boardnet import __version__
        return __version__

    def _known_command(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GTPError("known_command: expected one command name")
        return "true" if args[0] in self.HANDLERS else "false"

    def _list_commands(self, args: list[str]) -> str:
        return "\n".join(self.HANDLERS)

    def _quit(self, args: list[str]) -> str:
        return ""

    def _boardsize(self, args: list[str]) -> str:
        g = self.game
        if len(args) != 1 or not args[0].isdigit():
            raise GTPError("boardsize: expected one integer")
        n = int(args[0])
        if g.resizable:
            if n != g.n:
                try:
                    new = protocol_game(make_game(g.name, board_size=n, komi=g.komi))
                    engine = self.make_engine(new)  # a net for another size is refused here
                except (ValueError, OSError):
                    raise GTPError("unacceptable size") from None
                self.game, self._engine = new, engine
        elif n != max(g.obs_shape[1:]):   # a fixed board's size: its longer side (Connect Four: 7)
            raise GTPError("unacceptable size")
        self.clear()
        return ""

    def _clear_board(self, args: list[str]) -> str:
        self.clear()
        self._new_game()
        return ""

    def _new_game(self) -> None:
        """Tell the engine a new game began (it drops its search tree), if it is built and can."""
        reset = getattr(self._engine, "new_game", None)
        if callable(reset):
            reset()

    def _komi(self, args: list[str]) -> str:
        g = self.game
        if len(args) != 1:
            raise GTPError("komi: expected one number")
        try:
            komi = float(args[0])
        except ValueError:
            raise GTPError(f"komi {args[0]!r}: not a number") from None
        if g.has_komi and komi != g.komi:
            try:
                new = protocol_game(make_game(g.name, board_size=g.n, komi=komi))
            except ValueError as e:
                raise GTPError(str(e)) from None
            # Same line on the new game: komi only changes the score, not the board.
            old = self.states
            self.game, self._engine = new, None
            self.states = [new.setup_state(*self.setup) if self.setup else new.initial_state()]
            for prev, s in zip(old, old[1:]):
                self.states.append(_same_step(prev, s, self.state))
        return ""

    def _play(self, args: list[str]) -> str:
        if len(args) != 2:
            raise GTPError("play: expected a color and a move")
        colour = parse_colour(args[0])
        before = len(self.states)
        self._resume()
        try:
            self._turn(colour, "play")
        except GTPError:
            del self.states[before:]
            raise
        try:
            acts = self._move_actions(self.state, args[1])
        except GTPError:
            del self.states[before:]
            raise
        mark = before - 1
        self._push(acts)
        self.marks[-1] = mark
        return ""

    def _genmove(self, args: list[str]) -> str:
        if len(args) != 1:
            raise GTPError("genmove: expected a color")
        return self.genmove(parse_colour(args[0]))

    def _reg_genmove(self, args: list[str]) -> str:
        # the move genmove would answer, not played (regression suites: gogui-regress, GNU Go's)
        if len(args) != 1:
            raise GTPError("reg_genmove: expected a color")
        states, marks, hopeless, mine = len(self.states), len(self.marks), dict(self._hopeless), set(self._engine_colours)
        try:
            return self.genmove(parse_colour(args[0]))
        finally:
            del self.states[states:], self.marks[marks:]
            self._hopeless, self._engine_colours = hopeless, mine

    def _lz_genmove_analyze(self, args: list[str]) -> object:
        """`lz-genmove_analyze [color] [interval]` (Leela Zero, Sabaki's "engine plays with analysis"): genmove with
        lz-analyze's info lines every interval centiseconds while it searches, then `play <move>`."""
        rest = list(args)
        if not rest or rest[0].lower() not in ("b", "w", "black", "white"):
            raise GTPError("lz-genmove_analyze: expected a color")
        colour = parse_colour(rest.pop(0))
        interval = self._lz_interval_arg(rest, "lz-genmove_analyze")
        self.write(f"={self._ident}\n")
        self._last_analysis = None
        try:
            move = self.genmove(colour, on_progress=ProgressReporter(self.engine, self._write_lz, interval))
        except GTPError as e:   # the reply has begun: the stream ends with the reason and no move
            self.write(f"info string error: {e}\n\n")
            return _STREAMED
        if self._last_analysis is not None:   # the search's final state (a pass on a finished game has none)
            self._write_lz(self._last_analysis)
        self.write(f"play {move}\n\n")
        return _STREAMED

    def _genmove_cleanup(self, args: list[str]) -> str:
        # genmove on a resumed game: the pass rule already captures dead stones before passing
        if len(args) != 1:
            raise GTPError("kgs-genmove_cleanup: expected a color")
        return self.genmove(parse_colour(args[0]), resume=True)

    def _undo(self, args: list[str]) -> str:
        if len(self.marks) < 2:
            raise GTPError("cannot undo")
        del self.states[self.marks.pop() + 1:]
        return ""

    def _showboard(self, args: list[str]) -> str:
        return "\n" + str(self.state)

    def _dead(self, s) -> np.ndarray:
        """Go: bool `[N * N]`, the stones this engine calls dead: those its net's ownership head gives to the
        other colour, else those random play-outs give to it (`boardnet.players.go_dead_stones`, 100 play-outs,
        seed 0: GNU Go's list on 49 of 51 final positions of go19's matches, docs/benchmarks.md)."""
        board = s.board().reshape(-1)
        if not board.any():
            return np.zeros(board.shape, dtype=bool)
        f = getattr(self.engine, "ownership", None)
        own = f(s) if f is not None else None
        if own is None:
            return go_dead_stones(s)
        black_view = own.reshape(-1) * (1.0 if s.to_play() == 0 else -1.0)
        return ((board == 1) & (black_view < 0)) | ((board == 2) & (black_view > 0))

    def _final_score(self, args: list[str]) -> str:
        s = self.state
        if self.game.scoring == "area":
            sc = go_score_without(s, self._dead(s))   # the area count without this engine's dead stones, as GTP asks
            return "0" if sc == 0 else f"{'B' if sc > 0 else 'W'}+{abs(sc):g}"
        if not s.is_terminal():
            raise GTPError("final_score: the game is not over")
        r = s.returns()
        return "0" if r[0] == 0 else ("B+1" if r[0] > 0 else "W+1")

    def _final_status_list(self, args: list[str]) -> str:
        """Go: the stones of a status (`alive`, `dead` or `seki`) as vertices. Dead are the stones of
        :meth:`_dead` (the net's ownership head, else random play-outs); seki is never reported."""
        if not self.game.has_pass or self.game.scoring != "area":
            raise GTPError(f"final_status_list: not a command for {self.game.name}")
        if len(args) != 1 or args[0].lower() not in ("alive", "dead", "seki"):
            raise GTPError("final_status_list: expected alive, dead or seki")
        want = args[0].lower()
        if want == "seki":
            return ""
        s = self.state
        board = s.board().reshape(-1)
        dead = self._dead(s)
        pick = dead if want == "dead" else (board > 0) & ~dead
        return " ".join(s.action_to_text(int(a)) for a in np.flatnonzero(pick))

    # -- handicap (Go) -------------------------------------------------------------------------------
    def _go_only(self, what: str, things: str) -> None:
        """GTPError unless the game is Go (a resizable board with passes): `<what>: <things> are for Go only`."""
        if not (self.game.has_pass and getattr(self.game, "resizable", False)):
            raise GTPError(f"{what}: {things} are for Go only")

    def _handicap_count(self, args: list[str], what: str, most: Callable[[int], int]) -> int:
        """The number of stones in `args`, between 2 and most(board size)."""
        self._go_only(what, "handicap stones")
        most = most(self.game.n)
        if len(args) != 1 or not args[0].isdigit():
            raise GTPError(f"{what}: expected one integer (the number of stones)")
        n = int(args[0])
        if not 2 <= n <= most:
            raise GTPError(f"invalid number of stones: {what} places 2-{most} on {self.game.n}x{self.game.n}"
                           if most >= 2 else f"invalid number of stones: no {what} on {self.game.n}x{self.game.n}")
        return n

    def _place_handicap(self, points: list[int]) -> str:
        if len(self.states) > 1 or any(self.state.stone_counts()):
            raise GTPError("board not empty")
        self.clear()
        self.setup = (list(points), [], 1)
        self.states = [self.game.setup_state(*self.setup)]
        return " ".join(self.game.action_to_text(p) for p in points)

    def _fixed_handicap(self, args: list[str]) -> str:
        n = self._handicap_count(args, "fixed_handicap", max_fixed_handicap)
        return self._place_handicap(handicap_points(self.game.n, n))

    def _place_free_handicap(self, args: list[str]) -> str:
        # the engine's choice: the standard layout (the net was never taught where handicap stones go)
        n = self._handicap_count(args, "place_free_handicap", max_fixed_handicap)
        return self._place_handicap(handicap_points(self.game.n, n))

    def _set_free_handicap(self, args: list[str]) -> str:
        self._handicap_count([str(len(args))], "set_free_handicap", lambda n: n * n - 1)
        points = []
        for v in args:
            try:
                p = self.game.text_to_action(v)
            except (GameError, ValueError):
                raise GTPError(f"bad vertex list: {v!r} is not a vertex") from None
            if p == self.game.pass_action or p in points:
                raise GTPError(f"bad vertex list: {v!r} " + ("is a pass" if p == self.game.pass_action else "twice"))
            points.append(p)
        self._place_handicap(points)
        return ""

    def _time_settings(self, args: list[str]) -> str:
        if len(args) != 3:
            raise GTPError("time_settings: expected main_time byo_yomi_time byo_yomi_stones")
        try:
            self.main_time, self.byo_time, self.byo_stones = float(args[0]), float(args[1]), int(args[2])
        except ValueError:
            raise GTPError(f"time_settings {' '.join(args)!r}: expected numbers") from None
        self.time_left = {}
        return ""

    def _time_left(self, args: list[str]) -> str:
        if len(args) != 3:
            raise GTPError("time_left: expected a color, time and stones")
        colour = parse_colour(args[0])
        try:
            self.time_left[colour] = (float(args[1]), int(args[2]))
        except ValueError:
            raise GTPError(f"time_left {' '.join(args)!r}: expected numbers") from None
        return ""

    @staticmethod
    def _lz_interval_arg(rest: list[str], what: str) -> float:
        """The `[interval] N` argument of the lz- commands (centiseconds, as in Leela Zero) in seconds; 1 if absent."""
        interval = 1.0
        if rest and rest[0] == "interval":
            rest.pop(0)
        if rest:
            tok = rest.pop(0)
            try:
                interval = int(tok) / 100.0
            except ValueError:
                raise GTPError(f"{what}: {tok!r} is neither a colour (b, w) nor an interval (an integer, "
                               "centiseconds)") from None
        return max(0.05, interval)

    def _lz_analyze(self, args: list[str]) -> None:
        rest = list(args)
        if rest and rest[0].lower() in ("b", "w", "black", "white"):
            colour = parse_colour(rest.pop(0))
            if self.state.to_play() != colour and not self.state.is_terminal():
                raise GTPError(f"lz-analyze: it is {'black' if self.state.to_play() == 0 else 'white'}'s turn")
        interval = self._lz_interval_arg(rest, "lz-analyze")
        if self.state.is_terminal():
            raise GTPError("lz-analyze: the game is over")
        self._lz_interval = interval
        return None  # streamed: see handle()

    def _kgs_time_settings(self, args: list[str]) -> str:
        """KGS's time systems onto time_settings: none, absolute MAIN, byoyomi MAIN PERIOD PERIODS (one move a
        period, as Japanese byo-yomi asks; the spare periods are left as a margin), canadian MAIN TIME STONES."""
        kind = args[0].lower() if args else ""
        want = {"none": 0, "absolute": 1, "byoyomi": 3, "canadian": 3}
        if kind not in want:
            raise GTPError("kgs-time_settings: expected none, absolute, byoyomi or canadian")
        if len(args) != 1 + want[kind]:
            raise GTPError(f"kgs-time_settings {kind}: expected {want[kind]} number(s)")
        if kind == "none":
            return self._time_settings(["0", "0", "0"])
        if kind == "absolute":
            return self._time_settings([args[1], "0", "0"])
        if kind == "byoyomi":
            return self._time_settings([args[1], args[2], "1"])
        return self._time_settings(args[1:])

    def _loadsgf(self, args: list[str]) -> str:
        """`loadsgf FILE [MOVE_NUMBER]` (GTP 2, 6.3.7): board size, komi, setup stones and the moves of the file's
        first game, up to the position before move MOVE_NUMBER (1 = the setup alone; all moves if absent)."""
        from pathlib import Path

        from boardnet.records import sgf
        from boardnet.records.base import ReadReport
        from boardnet.records.read import decode
        self._go_only("loadsgf", "SGF records")
        if not 1 <= len(args) <= 2 or (len(args) == 2 and not args[1].isdigit()):
            raise GTPError("loadsgf: expected a file name and an optional move number")
        name = args[0]
        try:
            text = decode(Path(name).read_bytes())
        except (OSError, ValueError) as e:
            raise GTPError(f"cannot load file {name!r}: {getattr(e, 'strerror', None) or e}") from None
        report = ReadReport()
        rec = next(iter(sgf.parse(text, name, report)), None)
        if rec is None:
            raise GTPError(f"cannot load file {name!r}: " + (report.errors[0][2] if report.errors
                                                              else "no Go game in it"))
        want = len(rec.actions) if len(args) == 1 else max(int(args[1]) - 1, 0)
        if rec.stopped and (len(args) == 1 or want > len(rec.actions)):   # it breaks before the position asked for
            raise GTPError(f"cannot load file {name!r}: {rec.stopped} (loadsgf {name} {len(rec.actions) + 1} loads "
                           "the moves before it)")
        moves = rec.actions[:want]
        g = self.game
        try:
            new = protocol_game(make_game(g.name, board_size=rec.game.n, komi=rec.game.komi))
            engine = self.make_engine(new) if rec.game.n != g.n else self._engine
        except (ValueError, OSError) as e:
            raise GTPError(f"cannot load file {name!r}: {rec.game.n}x{rec.game.n} is an unacceptable size ({e})") \
                from None
        board = rec.start.board().reshape(-1)
        setup = ([int(p) for p in np.flatnonzero(board == 1)], [int(p) for p in np.flatnonzero(board == 2)],
                 int(rec.start.to_play()))
        if not (setup[0] or setup[1] or setup[2]):   # an empty board, Black to move: no setup to keep
            setup = None
        states = [new.setup_state(*setup) if setup else new.initial_state()]
        for a in moves:
            if states[-1].is_terminal():   # two passes in the record, play went on: resumed, as over GTP
                states.append(states[-1].resumed())
            states.append(states[-1].apply(a))
        self.game, self._engine = new, engine
        self.clear()
        self.setup = setup
        self.states = states
        self.marks = [0] + [i for i, s in enumerate(states[1:]) if s.ply != states[i].ply]
        self._new_game()
        return ""

    def _printsgf(self, args: list[str]) -> str:
        """`printsgf [FILE]` (GNU Go's): the game so far as SGF (setup, moves, hand-overs as passes), written to
        FILE or given as the reply."""
        from pathlib import Path

        from boardnet.records.write import sgf_text
        self._go_only("printsgf", "SGF records")
        if len(args) > 1:
            raise GTPError("printsgf: expected at most a file name")
        before, actions = [], []
        for prev, s in zip(self.states, self.states[1:]):
            if s.ply != prev.ply:   # a resumption after two passes is no move
                before.append(prev)
                actions.append(s.last_action())
        # a colour genmove played (kgs-genmove_cleanup and lz-genmove_analyze included) is this engine's
        names = tuple(NAME if c in self._engine_colours else "?" for c in (0, 1))
        text = sgf_text(self.game, before + [self.state], actions, players=names)
        if not args:
            return "\n" + text.rstrip("\n")
        try:
            Path(args[0]).write_text(text)
        except OSError as e:
            raise GTPError(f"cannot write file {args[0]!r}: {e.strerror or e}") from None
        return ""

    # command name -> handler; `list_commands` answers these names in this order, `known_command` checks them
    HANDLERS: dict[str, Callable[["GTPServer", list[str]], str | None]] = {
        "protocol_version": _protocol_version, "name": _name, "version": _version,
        "known_command": _known_command, "list_commands": _list_commands, "quit": _quit,
        "boardsize": _boardsize, "clear_board": _clear_board, "komi": _komi, "play": _play, "genmove": _genmove,
        "undo": _undo, "showboard": _showboard, "final_score": _final_score, "time_settings": _time_settings,
        "time_left": _time_left, "lz-analyze": _lz_analyze, "kgs-genmove_cleanup": _genmove_cleanup,
        "final_status_list": _final_status_list, "fixed_handicap": _fixed_handicap,
        "place_free_handicap": _place_free_handicap, "set_free_handicap": _set_free_handicap,
        "loadsgf": _loadsgf, "printsgf": _printsgf, "reg_genmove": _reg_genmove,
        "kgs-time_settings": _kgs_time_settings, "lz-genmove_analyze": _lz_genmove_analyze,
    }

    def handle(self, line: str) -> bool:
        """One input line; False after `quit`."""
        self.stop_analysis()
        text = "".join(ch for ch in line.split("#", 1)[0] if ch == "\t" or ch >= " ").replace("\t", " ")
        tokens = text.split()
        if not tokens:
            return True
        ident = ""
        if tokens[0].isdigit():
            ident = tokens.pop(0)
            if not tokens:
                self.write(f"?{ident} missing command\n\n")
                return True
        cmd, args = tokens[0], tokens[1:]
        self._ident = ident
        try:
            reply = self.command(cmd, args)
        except GTPError as e:
            self.write(f"?{ident} {e}\n\n")
            return True
        except Exception as e:  # noqa: BLE001 - a controller must get an answer, not a dead pipe
            self.write(f"?{ident} internal error in {cmd}: {type(e).__name__}: {e}\n\n")
            return True
        if reply is _STREAMED:  # the handler wrote its reply (lz-genmove_analyze)
            return True
        if reply is None:  # lz-analyze: "=" now, info lines until the next command
            self.write(f"={ident}\n")
            self.start_analysis(self._lz_interval)
            return True
        self.write(f"={ident} {reply}\n\n" if reply else f"={ident}\n\n")
        return cmd != "quit"

    def run(self, lines: Iterable[str]) -> int:
        for line in lines:
            if not self.handle(line):
                return 0
        self.stop_analysis()
        return 0


COMMANDS = tuple(GTPServer.HANDLERS)   # the supported command names, in list_commands order
