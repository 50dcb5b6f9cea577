"""Matches between two players: alternating colours, openings from a file, games in parallel
threads, score / Elo with a 95% interval / SPRT, and the games written as PGN, SGF, PDN or move
lines (`boardnet.records`).

Game i of a match plays opening `i // 2` (cycling through the list) with player A moving first
in even games and second in odd ones, so every opening is played once from each side.

Parallel games run in threads (players that hold external programs), or with `processes=True`
in worker processes (players that compute in Python, e.g. one network thread each); with
`keep_going=True` a game that raises (a crashed program, a protocol error) is recorded as an
error game with the reason, its worker's players are rebuilt, and the match goes on.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.util
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from boardnet import elo as elo_maths
from boardnet.games.base import Game, GameError, State
from boardnet.records import game_record


@dataclass
class GameResult:
    """One finished game. `result` is the score per colour (first mover first), `score_a` player
    A's score in {1, 0.5, 0}."""

    index: int
    actions: list[int]
    result: tuple[float, float]
    a_first: bool
    termination: str
    record: str
    opening: int = 0
    error: str | None = None    # why the game failed (keep_going); such games are not scored
    info: dict = field(default_factory=dict)   # what a `finish` hook adds (scores, timings)

    @property
    def score_a(self) -> float:
        r = self.result[0 if self.a_first else 1]
        return 1.0 if r > 0 else 0.0 if r < 0 else 0.5


def join_match_parts(docs: Sequence[dict], names: Sequence[str], *, benchmark: str,
                     settings: Callable[[dict], dict], models: Callable[[dict], list]) -> list[dict]:
    """The game rows (`doc["games"]`) of the parts of one match, in game order, once they are shown to be one
    match: each part is a `benchmark` result with the same `settings(doc)` and the same nets (`models(doc)`, their
    sha256) as the first, and no game index is in two parts. ValueError names the part and what differs. The
    parts come from runs with `first` (`play_match(first=...)`, the CLIs' `--first-game`)."""
    if len(docs) < 2:
        raise ValueError("give at least two parts")
    ref_name = names[0]
    rows, seen = [], {}
    for k, (doc, name) in enumerate(zip(docs, names)):
        if doc.get("benchmark") != benchmark:
            raise ValueError(f"{name}: not a {benchmark} result")
        mine = settings(doc)
        if k == 0:   # the first part is the reference the others must match
            theirs, ref_models = mine, models(doc)
        for key in theirs.keys() | mine.keys():
            if mine.get(key) != theirs.get(key):
                raise ValueError(f"{name}: {key} {mine.get(key)!r} differs from {ref_name}'s {theirs.get(key)!r}: "
                                 "not the same match")
        if models(doc) != ref_models:
            raise ValueError(f"{name}: another net than {ref_name}'s (model sha256 differs)")
        for r in doc["games"]:
            if r["index"] in seen:
                raise ValueError(f"{name}: game {r['index'] + 1} is also in {seen[r['index']]}")
            seen[r["index"]] = name
            rows.append(r)
    return sorted(rows, key=lambda r: r["index"])


def match_figures(rows: Sequence[dict]) -> dict:
    """`boardnet arena --json`'s figures from its game rows (`score_a`, `error`), so the parts of one match join
    into the figures one longer run would have written: counts, score with its Wilson interval, Elo with its
    interval (None for an unbounded end)."""
    import math
    done = [r for r in rows if r.get("error") is None]
    n = len(done)
    wins = sum(r["score_a"] == 1.0 for r in done)
    draws = sum(r["score_a"] == 0.5 for r in done)
    finite = lambda x: float(x) if math.isfinite(x) else None   # noqa: E731 - JSON has no infinities
    elo, lo, hi = elo_maths.elo_from_score(wins, draws, n - wins - draws) if n else (float("nan"),) * 3
    return {"games": len(rows), "scored": n, "errors": len(rows) - n, "wins_a": wins, "draws": draws,
            "losses_a": n - wins - draws, "score_a": (wins + 0.5 * draws) / n if n else float("nan"),
            "score_a_95": list(elo_maths.wilson_interval(wins + 0.5 * draws, n)) if n else None,
            "elo_a": finite(elo), "elo_a_95": [finite(lo), finite(hi)]}


@dataclass
class MatchResult:
    names: tuple[str, str]
    games: list[GameResult] = field(default_factory=list)
    sprt_bounds: tuple[float, float] | None = None
    sprt_alpha_beta: tuple[float, float] = (0.05, 0.05)

    @property
    def scored(self) -> list[GameResult]:
        """The games that finished (not errors)."""
        return [g for g in self.games if g.error is None]

    @property
    def errors(self) -> int:
        return len(self.games) - len(self.scored)

    @property
    def wins(self) -> int:
        return sum(g.score_a == 1.0 for g in self.scored)

    @property
    def draws(self) -> int:
        return sum(g.score_a == 0.5 for g in self.scored)

    @property
    def losses(self) -> int:
        return sum(g.score_a == 0.0 for g in self.scored)

    def elo(self) -> tuple[float, float, float]:
        return elo_maths.elo_from_score(self.wins, self.draws, self.losses)

    def sprt(self) -> tuple[float, str] | None:
        if self.sprt_bounds is None or not self.scored:
            return None
        return elo_maths.sprt(self.wins, self.draws, self.losses, *self.sprt_bounds,
                              *self.sprt_alpha_beta)

    def summary(self) -> str:
        lines = [f"{self.names[0]} vs {self.names[1]}: {len(self.games)} games"
                 + (f" ({self.errors} failed: not scored)" if self.errors else "")]
        if self.scored:
            lines.append(elo_maths.format_match(self.wins, self.draws, self.losses))
        s = self.sprt()
        if s is not None:
            lo, hi = elo_maths.sprt_bounds(*self.sprt_alpha_beta)
            e0, e1 = self.sprt_bounds
            lines.append(f"SPRT elo0={e0:g} elo1={e1:g}: LLR {s[0]:+.3f} in [{lo:.3f}, {hi:.3f}] "
                         f"-> {s[1]}")
        return "\n".join(lines)


def read_openings(path: str | Path, game: Game) -> list[list[int]]:
    """Openings, one per line: moves in the game's notation separated by spaces (a Connect Four
    digit string such as "4453" is read too); '#' starts a comment. Raises ValueError naming the
    file, line and move."""
    out = []
    for num, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        toks = line.split()
        if game.column_moves and len(toks) == 1 and toks[0].isdigit():
            toks = list(toks[0])
        state, acts = game.initial_state(), []
        for t in toks:
            if t[-1] == "." or t.rstrip(".").isdigit() and game.record_format == "pgn":
                continue  # move numbers "1." (and in PGN-recorded games, bare "1")
            try:
                many = state.text_to_actions(t) if game.multi_action_turns else [state.text_to_action(t)]
            except GameError as e:
                raise ValueError(f"openings file {path}: line {num}: move {t!r}: {e}") from None
            for a in many:
                state = state.apply(a)
                acts.append(a)
            if state.is_terminal():
                raise ValueError(f"openings file {path}: line {num}: the game is over after {t!r}")
        out.append(acts)
    if not out:
        raise ValueError(f"openings file {path}: no openings in it")
    return out


def play_game(game: Game, first, second, opening: Sequence[int] = (), *, max_plies: int | None = None,
              index: int = 0, a_first: bool = True, event: str = "boardnet arena",
              on_move: Callable[[State, int], None] | None = None) -> GameResult:
    """Play one game between two players from the opening; the result is per colour."""
    start = game.initial_state()
    players = (first, second)
    for p in players:
        p.new_game(game, start)
    state, actions = start, []
    for a in opening:
        state = state.apply(int(a))
        actions.append(int(a))
    result, termination = None, "rules"
    while not state.is_terminal():
        if max_plies is not None and len(actions) >= max_plies:
            result, termination = (0.0, 0.0), "adjudicated draw (move limit)"
            break
        mover = state.to_play()
        a = players[mover].select(state, list(actions))
        if a is None:
            result = (-1.0, 1.0) if mover == 0 else (1.0, -1.0)
            termination = f"{players[mover].name} resigned"
            break
        a = int(a)
        if not 0 <= a < game.action_size or not state.legal_mask()[a]:
            # A player that answers an illegal move forfeits (external programs can disagree on rules).
            result = (-1.0, 1.0) if mover == 0 else (1.0, -1.0)
            termination = f"{players[mover].name} played an illegal move ({a})"
            break
        state = state.apply(a)
        actions.append(a)
        if on_move is not None:
            on_move(state, a)
    return _finished(game, state, first, second, actions, result, termination, index, a_first, event)


def _finished(game: Game, state: State, first, second, actions: list[int], result, termination: str,
              index: int, a_first: bool, event: str) -> GameResult:
    """The GameResult of a game that ended in `state` (by the rules when `result` is None)."""
    if result is None:
        r = state.returns()
        result = (float(r[0]), float(r[1]))
    kind = termination if termination != "rules" else None
    record = game_record(game, actions, result, players=(first.name, second.name), event=event,
                         termination="resign" if kind and "resigned" in kind else kind)
    return GameResult(index, actions, result, a_first, termination, record)


def choose_moves(player, states: Sequence[State], histories: Sequence[Sequence[int]]) -> list[int | None]:
    """The player's actions for several positions at once: one `select_many(states, histories)` call
    when the player has one (a net that searches them in one lock-step batch), else `select` per state."""
    many = getattr(player, "select_many", None)
    if many is not None:
        return list(many(list(states), list(histories)))
    return [player.select(s, h) for s, h in zip(states, histories)]


def _illegal(game: Game, state: State, a) -> bool:
    return not 0 <= int(a) < game.action_size or not state.legal_mask()[int(a)]


def play_lockstep(game: Game, a, b, games: int, openings: Sequence[Sequence[int]], *,
                  max_plies: int | None = None, event: str = "boardnet arena") -> list[GameResult]:
    """All `games` games at once between the players `a` and `b` (objects, not factories): game i
    plays opening `i // 2` with A first in even games, as `play_match` does. Each round A moves in
    every game where it is to move (one `choose_moves` call), then B does, so a player with
    `select_many` searches all its positions in one batch. Both players see the games interleaved:
    `new_game` is called once, so they must not keep per-game state in `select` (tree reuse).
    Resignation, illegal moves and the ply limit are handled as in `play_game`."""
    start = game.initial_state()
    for p in (a, b):
        p.new_game(game, start)
    states, actions = [], []
    for i in range(games):
        s, acts = start, []
        for x in openings[(i // 2) % len(openings)]:
            s = s.apply(int(x))
            acts.append(int(x))
        states.append(s)
        actions.append(acts)
    a_first = [i % 2 == 0 for i in range(games)]
    ended: list[tuple | None] = [None] * games   # (result, termination) once a game stops early
    active = [i for i in range(games) if not states[i].is_terminal()]
    while active:
        for a_moves, player in ((True, a), (False, b)):
            idx = []
            for i in active:
                if ended[i] is not None or states[i].is_terminal():
                    continue
                if (states[i].to_play() == 0) != (a_first[i] == a_moves):
                    continue
                if max_plies is not None and len(actions[i]) >= max_plies:
                    ended[i] = ((0.0, 0.0), "adjudicated draw (move limit)")
                    continue
                idx.append(i)
            if not idx:
                continue
            chosen = choose_moves(player, [states[i] for i in idx], [list(actions[i]) for i in idx])
            for i, act in zip(idx, chosen):
                mover = states[i].to_play()
                lost = (-1.0, 1.0) if mover == 0 else (1.0, -1.0)
                if act is None:
                    ended[i] = (lost, f"{player.name} resigned")
                elif _illegal(game, states[i], act):
                    ended[i] = (lost, f"{player.name} played an illegal move ({int(act)})")
                else:
                    states[i] = states[i].apply(int(act))
                    actions[i].append(int(act))
        active = [i for i in active if ended[i] is None and not states[i].is_terminal()]
    out = []
    for i in range(games):
        first, second = (a, b) if a_first[i] else (b, a)
        result, termination = ended[i] or (None, "rules")
        g = _finished(game, states[i], first, second, actions[i], result, termination, i, a_first[i], event)
        g.opening = (i // 2) % len(openings)
        out.append(g)
    return out


def records_text(games: Sequence[GameResult]) -> str:
    """All records in one file: PGN/PDN games separated by a blank line, one-line records
    (SGF, move lines) one per line."""
    parts = [g.record.rstrip("\n") + "\n" for g in games]
    multi = any(p.count("\n") > 1 for p in parts)
    return ("\n" if multi else "").join(parts)


class _Pair:
    """One worker's two players, built on first use and rebuilt after a failed game."""

    def __init__(self, make_a: Callable[[], object], make_b: Callable[[], object]):
        self.make, self.players = (make_a, make_b), None

    def get(self):
        if self.players is None:
            a = self.make[0]()
            try:
                self.players = (a, self.make[1]())
            except BaseException:
                a.close()
                raise
        return self.players

    def close(self) -> None:
        players, self.players = self.players, None
        for p in players or ():
            try:
                p.close()
            except Exception:   # a crashed program may fail to close; it is being dropped anyway
                pass


def _play_indexed(game: Game, pair: _Pair, i: int, openings, max_plies, keep_going: bool,
                  finish) -> tuple[GameResult, tuple[str, str] | None]:
    """Game i of a match (opening and colours from i), with A's and B's names."""
    k = (i // 2) % len(openings)
    a_first = i % 2 == 0
    try:
        a, b = pair.get()
        first, second = (a, b) if a_first else (b, a)
        g = play_game(game, first, second, openings[k], max_plies=max_plies, index=i, a_first=a_first)
        g.opening = k
        if finish is not None:
            finish(g, first, second)
        return g, (a.name, b.name)
    except Exception as e:
        if not keep_going:
            raise
        pair.close()
        return GameResult(i, [], (0.0, 0.0), a_first, "error", "", k,
                          error=f"{type(e).__name__}: {e}"), None


_PROC_PAIR: _Pair | None = None


def _parent_torch_threads() -> int | None:
    """The parent's torch intra-op thread count, if it uses torch (`--threads`): spawned workers start
    with torch's default (every core), and a net player in each of them would then spin its threads
    against the other workers' (on 2 cores: the net's search slowed several-fold, its opponent not)."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else None


def _proc_init(make_a, make_b, threads: int | None = None) -> None:
    global _PROC_PAIR
    if threads:
        import torch
        torch.set_num_threads(threads)
    _PROC_PAIR = _Pair(make_a, make_b)
    # A worker process exits through multiprocessing's finalizers, not atexit; a UCI/GTP player left open keeps
    # its reader thread alive, and the pool (and so the whole match) would wait for that worker forever.
    multiprocessing.util.Finalize(None, _PROC_PAIR.close, exitpriority=10)


def _proc_game(game, i, openings, max_plies, keep_going, finish):
    return _play_indexed(game, _PROC_PAIR, i, openings, max_plies, keep_going, finish)


def play_match(game: Game, make_a: Callable[[], object], make_b: Callable[[], object], games: int, *,
               openings: Sequence[Sequence[int]] | None = None, parallel: int = 1,
               max_plies: int | None = None, sprt: tuple[float, float] | None = None,
               alpha: float = 0.05, beta: float = 0.05,
               on_game: Callable[[GameResult, MatchResult], None] | None = None,
               processes: bool = False, keep_going: bool = False,
               finish: Callable[[GameResult, object, object], None] | None = None,
               lockstep: bool = False, first: int = 0) -> MatchResult:
    """Play `games` games between players made by `make_a` and `make_b` (one pair per parallel
    worker, since players hold processes and trees). With `sprt=(elo0, elo1)` the match
    stops starting new games once the test decides. Games are returned in index order.

    `processes=True` runs the `parallel` workers as processes (spawned: `make_a`, `make_b`,
    `finish` and the game must pickle, e.g. `functools.partial(make_player, spec, game)`).
    `keep_going=True` records a game that raises as an error game (see the module doc).
    `finish(game_result, first, second)` runs in the worker after each game with the two
    players (first mover first), e.g. to rescore it or read their clocks into `info`.

    `lockstep=True` plays all games at once with one pair of players (`play_lockstep`): a net
    player with `select_many` then searches every game's position in one batch, which is how
    self-play evaluation runs its matches. It excludes parallel workers, SPRT stops and keep_going.

    `first=k` plays games k .. k + games - 1 of the match (their openings and colours), so a match can be
    extended later on the openings it has not reached yet."""
    if games < 1:
        raise ValueError(f"arena games={games!r}: expected at least 1")
    if parallel < 1:
        raise ValueError(f"arena parallel={parallel!r}: expected at least 1")
    if first < 0:
        raise ValueError(f"arena first={first!r}: expected a game index >= 0")
    openings = list(openings) if openings else [[]]
    match = MatchResult(names=("A", "B"), sprt_bounds=sprt, sprt_alpha_beta=(alpha, beta))
    if lockstep:
        if parallel > 1 or processes or sprt is not None or keep_going or first:
            raise ValueError("arena lockstep: all games run in one batch; parallel, processes, sprt, "
                             "keep_going and first do not apply")
        pair = _Pair(make_a, make_b)
        try:
            a, b = pair.get()
            match.names = (a.name, b.name)
            for g in play_lockstep(game, a, b, games, openings, max_plies=max_plies):
                if finish is not None:
                    finish(g, *((a, b) if g.a_first else (b, a)))
                match.games.append(g)
                if on_game is not None:
                    on_game(g, match)
        finally:
            pair.close()
        return match
    lock = threading.Lock()
    next_index = [first]
    stop = threading.Event()

    def record(g: GameResult, names) -> None:
        with lock:
            if names is not None:
                match.names = names
            match.games.append(g)
            match.games.sort(key=lambda x: x.index)
            verdict = match.sprt()
            if verdict is not None and verdict[1] != "continue":
                stop.set()
            if on_game is not None:
                on_game(g, match)

    n = min(parallel, games)
    if processes and n > 1:
        ctx = multiprocessing.get_context("spawn")   # no fork of a process holding torch threads
        with ProcessPoolExecutor(n, mp_context=ctx, initializer=_proc_init,
                                 initargs=(make_a, make_b, _parent_torch_threads())) as pool:
            todo = iter(range(first, first + games))
            running = {pool.submit(_proc_game, game, i, openings, max_plies, keep_going, finish)
                       for _, i in zip(range(n), todo)}
            while running:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    record(*f.result())
                    i = next(todo, None)
                    if i is not None and not stop.is_set():
                        running.add(pool.submit(_proc_game, game, i, openings, max_plies, keep_going,
                                                finish))
        return match

    def worker():
        pair = _Pair(make_a, make_b)
        try:
            if not keep_going:
                a, b = pair.get()
                with lock:
                    match.names = (a.name, b.name)
            while not stop.is_set():
                with lock:
                    i = next_index[0]
                    if i >= first + games:
                        return
                    next_index[0] += 1
                record(*_play_indexed(game, pair, i, openings, max_plies, keep_going, finish))
        finally:
            pair.close()

    if n == 1:
        worker()
    else:
        with ThreadPoolExecutor(n) as pool:
            for f in [pool.submit(worker) for _ in range(n)]:
                f.result()
    return match
