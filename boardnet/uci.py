"""`boardnet uci`: the Universal Chess Interface, enough for cutechess-cli, Arena and lichess-bot.

Commands: uci, isready, ucinewgame, setoption (Visits, Threads = torch intra-op threads for the
network, Model, MoveOverhead, UCI_ShowWDL, Ponder, MultiPV),
position startpos|fen <FEN> [moves ...], go [searchmoves <move> ... ponder wtime btime winc binc movestogo movetime
nodes depth mate infinite], stop, ponderhit, quit; `d` prints the board (a debugging aid, as in Stockfish).

`go` runs the search on a background thread, so `stop` and `isready` are answered while it
thinks; the thread prints `info depth/seldepth/nodes/nps/time/score cp/wdl/pv` lines about every
half second (with `MultiPV` k > 1, one `multipv i` line for each of the k best root moves, each with its own score
and line) and `bestmove` when the limit is reached or `stop` arrives. Limits: `nodes` = visits;
`movetime` = seconds; a clock (`wtime`, `btime`, ...) is turned into a time per move by
`boardnet.timeman.allot_time`; `infinite` searches until `stop`; `depth N` ends the search once its principal
variation (the `depth` of the info lines: MCTS has no iterations) is N plies long; `mate N` ends it once the
MCTS-solver proves a mate in N moves or fewer (`Tree.proven_win(2N - 1)`); with several limits the
first one reached ends the search, and `depth`/`mate` alone search until reached or `stop`. `searchmoves` limits the
search to those root moves (an illegal one gets an error line and is left out; none legal: every move is searched).
Pondering, as lc0 does it: `bestmove` names the expected reply (`ponder <move>`, the principal variation's second
ply) when the search has one; `go ponder ...` searches the position after that reply with no limit, `ponderhit` then
starts the limits of the same `go` command from that moment (the clock's time a move, `movetime`, `nodes` counting
the pondered visits, `depth`, `mate`) on the tree pondering grew, and `stop` (a miss) ends it with a `bestmove`
the GUI discards. At the end of input (a script piping commands in) a search bounded by visits or time finishes
and prints its `bestmove`; an open-ended one (`infinite`, pondering, `depth` or `mate` alone) is stopped first.
Malformed commands get an `info string error: ...` line (UCI has no error reply) and are otherwise ignored.

Score: `cp = 111.71 * tan(1.5621 * value)` (Leela Chess Zero's mapping of an expected value in
[-1, 1] to centipawns); `wdl` in permille from the analysis (draws 0 without a draw head). Once the MCTS-solver has
proven a mate through a line (`Tree.proven_plies`), its score is `mate M` instead (M moves, negative when the engine
is mated; the distance of the line the solver proved, so a shorter mate may exist) and its wdl `1000 0 0` or
`0 0 1000`.
"""
from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TextIO

from boardnet.games.base import GameError
from boardnet.players import ProgressReporter
from boardnet.timeman import allot_time

NAME = "boardnet"
AUTHOR = "the gridnets authors"
UNLIMITED_VISITS = 10 ** 9  # "no visit cap": the clock or `stop` ends these searches
MAX_MULTIPV = 500           # Stockfish's and lc0's bound


def value_to_cp(value: float) -> int:
    """Centipawns for a value in [-1, 1] from the side to move (lc0's tan mapping)."""
    v = max(-0.999, min(0.999, float(value)))
    return int(round(111.714640912 * math.tan(1.5620688421 * v)))


def wdl_permille(analysis) -> tuple[int, int, int]:
    """(win, draw, loss) in permille, summing to 1000, from an Analysis."""
    wdl = getattr(analysis, "wdl", None)
    if wdl is not None and len(wdl) == 3:
        w, d = int(round(1000 * wdl[0])), int(round(1000 * wdl[1]))
        return w, d, 1000 - w - d
    w = int(round(1000 * max(0.0, min(1.0, float(analysis.win_prob)))))
    return w, 0, 1000 - w


def mate_moves(plies: int) -> int:
    """UCI's `score mate` figure for a proven end `plies` plies away (+ the side to move wins, - it loses):
    moves, not plies (mate in 1 = 1 ply, mated in 1 = 2 plies)."""
    return (plies + 1) // 2 if plies > 0 else -((1 - plies) // 2)


def score_text(value: float, proven_plies: int | None, show_wdl: bool, wdl: tuple[int, int, int]) -> str:
    """`score cp C [wdl W D L]`, or `score mate M [wdl 1000 0 0 | 0 0 1000]` for a proven win or loss."""
    if proven_plies:
        w = 1000 if proven_plies > 0 else 0
        return f"score mate {mate_moves(proven_plies)}" + (f" wdl {w} 0 {1000 - w}" if show_wdl else "")
    w, d, l = wdl
    return f"score cp {value_to_cp(value)}" + (f" wdl {w} {d} {l}" if show_wdl else "")


def info_line(an, show_wdl: bool = True) -> str:
    """`info depth D seldepth D nodes N nps X time MS score cp C [wdl W D L] pv ...` (`score mate M` once the
    solver has proven the best move's result); depth is the length of the principal variation (MCTS has no
    iteration depth)."""
    depth = max(1, len(an.pv))
    ms = int(1000 * an.seconds)
    pv = " ".join(an.pv)
    return (f"info depth {depth} seldepth {depth} nodes {an.nodes} nps {int(an.nps)} time {ms} "
            + score_text(an.value, getattr(an, "proven_plies", None), show_wdl, wdl_permille(an))
            + (f" pv {pv}" if pv else ""))


def multipv_lines(an, k: int, show_wdl: bool = True) -> list[str]:
    """The `info` lines of the `k` best root moves (`MultiPV`): the move played first, then the others by visits,
    each `multipv i` with its own score (the move's mean value) and line; k = 1 is :func:`info_line` alone."""
    if k <= 1:
        return [info_line(an, show_wdl)]
    rows = [r for r in an.rows if r.visits > 0 and r.pv]
    rows.sort(key=lambda r: r.action != an.best_action)   # stable: the rest keep their order (most visited first)
    ms = int(1000 * an.seconds)
    out = []
    for i, r in enumerate(rows[:k], 1):
        w = int(round(1000 * max(0.0, min(1.0, (r.q + 1.0) / 2.0))))
        out.append(f"info depth {len(r.pv)} seldepth {len(r.pv)} multipv {i} nodes {an.nodes} nps {int(an.nps)} "
                   f"time {ms} " + score_text(r.q, r.proven_plies, show_wdl, (w, 0, 1000 - w))
                   + f" pv {' '.join(r.pv)}")
    return out or [info_line(an, show_wdl)]


def parse_go(tokens: list[str]) -> dict:
    """`go` arguments -> {name: value}; times in milliseconds as in UCI. ValueError names the token."""
    ints = {"wtime", "btime", "winc", "binc", "movestogo", "movetime", "nodes", "depth", "mate"}
    flags = {"infinite", "ponder"}
    out: dict = {}
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in flags:
            out[t] = True
            i += 1
        elif t in ints:
            if i + 1 >= len(tokens):
                raise ValueError(f"go {t}: missing a number")
            try:
                out[t] = int(tokens[i + 1])
            except ValueError:
                raise ValueError(f"go {t} {tokens[i + 1]!r}: not an integer") from None
            i += 2
        elif t == "searchmoves":
            j = i + 1
            while j < len(tokens) and tokens[j] not in ints | flags:
                j += 1
            out["searchmoves"] = tokens[i + 1:j]
            i = j
        else:
            raise ValueError(f"go: unknown argument {t!r}")
    return out


class SearchLimits:
    """What ends a `go` search besides `stop`, checked between search batches: the visit count at the root
    (reused visits count), a deadline, the principal variation's length (`depth`) and a proven mate in `mate`
    moves or fewer.
    A pondering search has none of them until :meth:`start` (the `ponderhit`); a search with none of them runs
    until `stop`."""

    def __init__(self, *, visits: int | None = None, movetime: float | None = None, depth: int | None = None,
                 mate: int | None = None, ponder: bool = False):
        self.visits, self.movetime, self.depth, self.mate = visits, movetime, depth, mate
        self.pondering = True
        self.deadline: float | None = None
        self.reached = False
        if not ponder:
            self.start()

    @property
    def open_ended(self) -> bool:
        """True while no visit count or deadline bounds the search (pondering, `infinite`, `depth`/`mate` alone):
        it may never end without `stop`."""
        return self.pondering or (self.visits is None and self.movetime is None)

    def start(self) -> None:
        """The limits start counting now (at `go`, or at `ponderhit` for `go ponder`)."""
        self.pondering = False
        if self.movetime is not None:
            self.deadline = time.perf_counter() + self.movetime

    def observe(self, tree) -> None:
        """An `on_progress` hook: after each batch, note whether a tree-based limit is reached."""
        if self.pondering or self.reached:
            return
        if self.visits is not None and tree.num_visits >= self.visits:
            self.reached = True
        elif self.depth is not None and len(tree.principal_variation(self.depth)) >= self.depth:
            self.reached = True
        elif self.mate is not None and tree.proven_win(2 * self.mate - 1):
            self.reached = True

    def done(self) -> bool:
        if self.pondering:
            return False
        return self.reached or (self.deadline is not None and time.perf_counter() >= self.deadline)


class UCIServer:
    """One UCI session over text streams. `make_engine(model)` builds an Engine for chess."""

    def __init__(self, game, make_engine: Callable[[str | None], object], *, model: str | None = None,
                 visits: int = 800, out: TextIO | None = None):
        if game.protocol != "uci":
            raise ValueError(f"uci {game.name}: {game.name} speaks {game.protocol.upper()}; "
                             f"run `boardnet {game.protocol} {game.name}` instead")
        self.game = game
        self.make_engine = make_engine
        self.model = model
        self.visits = int(visits)
        self.threads = 1
        self.overhead_ms = 50
        self.show_wdl = True
        self.ponder = False
        self.multipv = 1      # info lines for the k best root moves   # the GUI's Ponder option: it may send `go ponder`; our time use does not change
        self.out = sys.stdout if out is None else out
        self._engine = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._limits: SearchLimits | None = None   # the running search's, for `ponderhit`
        self.state = game.initial_state()
        self._bad_position = ""

    # output
    def send(self, line: str) -> None:
        with self._lock:
            self.out.write(line + "\n")
            self.out.flush()

    def error(self, msg: str) -> None:
        self.send(f"info string error: {msg}")

    @property
    def engine(self):
        if self._engine is None:
            self._engine = self.make_engine(self.model)
        return self._engine

    # search thread
    def _wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def stop(self) -> None:
        self._stop.set()
        self._wait()

    def _search(self, state, limits: SearchLimits, root_actions=None) -> None:
        stop = self._stop
        try:
            engine = self.engine
            progress = ProgressReporter(engine, self._send_info, 0.5)

            def on_progress(tree):
                limits.observe(tree)
                progress(tree)

            # a search that is not pondering also hands its limits to the search itself (exact visit counts);
            # a pondering one learns them at `ponderhit`, through `limits`
            fixed = not limits.pondering
            an = engine.analyse(state, visits=limits.visits if fixed and limits.visits else UNLIMITED_VISITS,
                                movetime=limits.movetime if fixed else None,
                                stop=lambda: stop.is_set() or limits.done(), on_progress=on_progress,
                                root_actions=root_actions)
        except Exception as e:  # noqa: BLE001 - report to the GUI, never die mid-game silently
            self.error(f"search failed: {type(e).__name__}: {e}")
            legal = state.legal_actions()
            self.send(f"bestmove {state.action_to_text(int(legal[0]))}" if len(legal) else "bestmove (none)")
            return
        self._send_info(an)
        best = state.action_to_text(int(an.best_action))
        # the reply to ponder on: the principal variation's second ply, when the variation starts with our move
        reply = f" ponder {an.pv[1]}" if len(an.pv) >= 2 and an.pv[0] == best else ""
        self.send(f"bestmove {best}{reply}")

    def _send_info(self, an) -> None:
        for line in multipv_lines(an, self.multipv, self.show_wdl):
            self.send(line)

    def go(self, tokens: list[str]) -> None:
        try:
            args = parse_go(tokens)
        except ValueError as e:
            self.error(str(e))
            return
        self._wait()
        if self.state is None:  # never search a stale position: the GUI would get a move for another board
            self.error(f"go: no position to search ({self._bad_position})")
            self.send("bestmove 0000")
            return
        state = self.state
        if state.is_terminal():
            moves = state.rule_actions()
            why = state.termination()
            if not len(moves):  # checkmate or stalemate: no move exists
                self.send(f"info string position is over: {why}")
                self.send("bestmove (none)")
                return
            # a draw rule (fifty moves, threefold repetition, dead material) ends the game here only if it is
            # claimed: the GUI adjudicates, the engine still owes a move. Search the position afresh (no history,
            # the fifty-move clock at 0); if that is still over (dead material), any move will do.
            fen = state.fen().split()
            fen[4] = "0"
            fresh = self.game.state_from_text(" ".join(fen))
            self.send(f"info string {why}: the GUI adjudicates; searching on")
            if fresh.is_terminal():
                self.send(f"bestmove {state.action_to_text(int(moves[0]))}")
                return
            state = fresh
        for key in ("depth", "mate"):
            if key in args and args[key] < 1:
                self.error(f"go {key} {args[key]}: must be >= 1; searching without it")
                del args[key]
        visits, movetime = self.visits, None
        white = state.to_play() == 0
        clock = args.get("wtime" if white else "btime")
        if args.get("infinite"):   # until `stop`, whatever else the command names (UCI: never exit on its own)
            visits = UNLIMITED_VISITS
            args.pop("depth", None), args.pop("mate", None)
        elif "nodes" in args:
            visits = max(1, args["nodes"])
        elif "movetime" in args:
            visits, movetime = UNLIMITED_VISITS, max(0.001, (args["movetime"] - self.overhead_ms) / 1000)
        elif clock is not None:
            inc = args.get("winc" if white else "binc", 0)
            movetime = allot_time(max(0.0, clock / 1000), max(0.0, inc / 1000), args.get("movestogo"),
                                  overhead=self.overhead_ms / 1000)
            visits = UNLIMITED_VISITS
        elif "depth" in args or "mate" in args:
            visits = UNLIMITED_VISITS   # searched until the depth or the proof (or `stop`)
        limits = SearchLimits(visits=None if visits == UNLIMITED_VISITS else visits, movetime=movetime,
                              depth=args.get("depth"), mate=args.get("mate"), ponder=bool(args.get("ponder")))
        root_actions = None
        if "searchmoves" in args:
            root_actions, legal = [], set(state.legal_actions().tolist())
            for m in args["searchmoves"]:
                try:
                    a = state.text_to_action(m)
                except (GameError, ValueError):
                    a = None
                if a is None or a not in legal:
                    self.error(f"go searchmoves {m}: not a legal move here; ignored")
                else:
                    root_actions.append(a)
            if not root_actions:
                self.error("go searchmoves: no legal move given; searching every move")
                root_actions = None
        self._limits = limits
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._search, args=(state, limits, root_actions), daemon=True)
        self._thread.start()

    # commands
    def position(self, tokens: list[str]) -> None:
        if not tokens:
            self.error("position: expected 'startpos' or 'fen <FEN>'")
            return
        if "moves" in tokens:
            k = tokens.index("moves")
            head, moves = tokens[:k], tokens[k + 1:]
        else:
            head, moves = tokens, []
        try:
            if head[0] == "startpos" and len(head) == 1:
                state = self.game.initial_state()
            elif head[0] == "fen" and len(head) > 1:
                state = self.game.state_from_text(" ".join(head[1:]))
            else:
                raise GameError(f"position {' '.join(head)!r}: expected 'startpos' or 'fen <FEN>'")
            for m in moves:  # through claimable draws too: the GUI's list is the game as played
                state = state.after_move(m)
        except GameError as e:
            self.error(str(e))
            self.state, self._bad_position = None, f"the last position command failed: {e}"
            return
        self.state = state

    def setoption(self, tokens: list[str]) -> None:
        text = " ".join(tokens)
        if not text.startswith("name "):
            self.error(f"setoption {text!r}: expected 'name <id> [value <x>]'")
            return
        name, _, value = text[5:].partition(" value ")
        key = name.strip().lower().replace(" ", "")  # "Move Overhead" (Stockfish's name) too
        value = value.strip()
        try:
            if key == "visits":
                v = int(value)
                if v < 1:
                    raise ValueError
                self.visits = v
            elif key == "threads":
                v = int(value)
                if v < 1:
                    raise ValueError
                # The search itself runs on one thread (it batches leaves); Threads sets the torch
                # intra-op threads that run the network.
                import torch
                torch.set_num_threads(v)
                self.threads = v
            elif key == "multipv":
                v = int(value)
                if not 1 <= v <= MAX_MULTIPV:
                    raise ValueError
                self.multipv = v
            elif key == "moveoverhead":
                v = int(value)
                if v < 0:
                    raise ValueError
                self.overhead_ms = v
            elif key in ("uci_showwdl", "ponder"):
                if value.lower() not in ("true", "false"):
                    raise ValueError
                setattr(self, "show_wdl" if key == "uci_showwdl" else "ponder", value.lower() == "true")
            elif key == "model":
                self.set_model(value)
            else:
                self.error(f"setoption: unknown option {name.strip()!r}")
        except ValueError:
            self.error(f"setoption {name.strip()} value {value!r}: not a valid value")

    def ponderhit(self) -> None:
        """The GUI's opponent played the move we ponder on: the pondering search goes on under its limits."""
        limits = self._limits
        if self._thread is None or limits is None or not limits.pondering:
            self.error("ponderhit: no `go ponder` search is running")
            return
        limits.start()

    def set_model(self, value: str) -> None:
        self.stop()
        new = value if value and value.lower() not in ("<default>", "none") else None
        try:
            engine = self.make_engine(new)  # load now so a bad name is reported here, not at `go`
        except (OSError, ValueError, RuntimeError) as e:
            self.error(f"setoption Model {value!r}: {e}")
            return
        self.model, self._engine = new, engine

    def handle(self, line: str) -> bool:
        """One input line; False after `quit`."""
        tokens = line.split()
        if not tokens:
            return True
        cmd, rest = tokens[0], tokens[1:]
        if cmd == "uci":
            self.send(f"id name {NAME}")
            self.send(f"id author {AUTHOR}")
            self.send(f"option name Visits type spin default {self.visits} min 1 max {UNLIMITED_VISITS}")
            self.send("option name Threads type spin default 1 min 1 max 256")
            self.send(f"option name MoveOverhead type spin default {self.overhead_ms} min 0 max 5000")
            self.send(f"option name Model type string default {self.model or '<default>'}")
            self.send("option name UCI_ShowWDL type check default true")
            self.send("option name Ponder type check default false")
            self.send(f"option name MultiPV type spin default 1 min 1 max {MAX_MULTIPV}")
            self.send("uciok")
        elif cmd == "isready":
            if self._thread is None and self._engine is None:
                # isready is where UCI expects slow set-up: load the net now, not at the first go.
                try:
                    _ = self.engine
                except (OSError, ValueError, RuntimeError) as e:
                    self.error(f"loading model {self.model or '<default>'!r}: {e}")
            self.send("readyok")
        elif cmd == "ucinewgame":
            self.stop()
            self.state = self.game.initial_state()
            reset = getattr(self._engine, "new_game", None)
            if callable(reset):
                reset()
        elif cmd == "position":
            self.stop()
            self.position(rest)
        elif cmd == "go":
            self.go(rest)
        elif cmd == "stop":
            self.stop()
        elif cmd == "ponderhit":
            self.ponderhit()
        elif cmd == "setoption":
            self.setoption(rest)
        elif cmd == "d":
            self.send(str(self.state) if self.state is not None else f"info string {self._bad_position}")
        elif cmd == "quit":
            self.stop()
            return False
        elif cmd in ("debug", "register"):
            pass
        else:
            self.error(f"unknown command {line.strip()!r}")
        return True

    def run(self, lines: Iterable[str]) -> int:
        for line in lines:
            if not self.handle(line):
                return 0
        # End of input: a search bounded by visits or time finishes and prints its bestmove; an open-ended one
        # (infinite, pondering, depth or mate alone) is stopped, as Stockfish reads the end of input as `quit`.
        if self._thread is not None and self._limits is not None and self._limits.open_ended:
            self.stop()
        self._wait()
        return 0
