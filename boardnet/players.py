"""Players for matches and front ends: our engine at a setting, pure MCTS, random, and external
programs over UCI (chess: stockfish, through python-chess's `chess.engine`) or GTP (Go: gnugo).

A player sees the start state and the actions played since (`history`), so an external program
can be brought up to date; `select` returns the action to play, or None to resign.

Build players from a one-line spec (`make_player`), as the `arena` command does:
    random[:seed=1]
    mcts[:simulations=1000|movetime=0.5,c=1.4,seed=0]
    engine[:model=NAME|PATH|none,visits=200,movetime=0.5,device=auto,batch=16,precision=auto,damping=D,
           symmetries=1,root_symmetries=1]
        (model=none: network-free, uniform priors and one roll-out per leaf, even where a net ships;
        damping: the no-progress damping of its values, `NetEvaluator.shuffle_damping`; symmetries=S:
        every evaluation averaged over S board symmetries, `NetEvaluator.symmetries`; root_symmetries=S:
        only the root's priors, `Engine.root_symmetries`)
    policy[:model=NAME|PATH,device=auto,precision=auto,self_atari=3,symmetries=1]   (the raw policy, no search)
    uci:cmd=stockfish[,movetime=0.1|nodes=N|depth=N][,OPTION=VALUE ...]   (UCI options, e.g.
        UCI_LimitStrength=true,UCI_Elo=1350)
    gtp:cmd=gnugo --mode gtp --level 1[,timeout=120]   (seconds to wait for an answer)
"""
from __future__ import annotations

import asyncio
import shlex
import shutil
import signal
import subprocess
import sys
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from boardnet.games.base import Game, GameError, State


@runtime_checkable
class Player(Protocol):
    name: str

    def new_game(self, game: Game, start: State) -> None:
        """Forget the last game; the next `select` calls come from a game starting at `start`."""

    def select(self, state: State, history: Sequence[int]) -> int | None:
        """The action to play in `state` (reached by `history` from the start), None = resign."""

    def close(self) -> None: ...


# -- analysis helpers shared by the front ends ---------------------------------------------------

def analysis_rows(analysis: Any) -> list[tuple[str, int, float, float]]:
    """(move text, visits, prior, q) per root move, most visited first, from an engine Analysis."""
    rows = None
    for attr in ("moves", "rows", "children", "root_moves"):
        rows = getattr(analysis, attr, None)
        if rows is not None:
            break
    out = []
    for r in rows or ():
        if isinstance(r, dict):
            out.append((str(r["move"]), int(r["visits"]), float(r["prior"]), float(r["q"])))
        elif hasattr(r, "move"):
            out.append((str(r.move), int(r.visits), float(r.prior), float(r.q)))
        else:
            m, v, p, q = r[:4]
            out.append((str(m), int(v), float(p), float(q)))
    out.sort(key=lambda t: -t[1])
    return out


class ProgressReporter:
    """An `on_progress(tree)` hook for `Engine.analyse` that, at most every `interval` seconds,
    turns the search tree into an `Analysis` (as `analyse` returns) and hands it to `emit`.
    Throttled because building the per-move rows costs more than a batch of simulations."""

    def __init__(self, engine, emit: Callable[[Any], None], interval: float = 0.5):
        self.engine, self.emit, self.interval = engine, emit, float(interval)
        self.t0 = time.perf_counter()
        self.last = self.t0

    def __call__(self, tree) -> None:
        now = time.perf_counter()
        if now - self.last < self.interval:
            return
        self.last = now
        self.emit(snapshot(tree, tree.num_visits - getattr(self.engine, "reused_visits", 0),
                           now - self.t0))


def snapshot(tree, nodes: int, seconds: float):
    """An `engine.Analysis` of a tree in the middle of a search (best = the most visited move)."""
    from boardnet.engine import tree_analysis

    return tree_analysis(tree, nodes, seconds)


def tromp_taylor_ahead(state: State) -> bool:
    """Whether the Tromp-Taylor area score of the board as it stands (komi included) favours the side to move."""
    score = state.score()
    return score > 0 if state.to_play() == 0 else score < 0


def settled_win(state: State, ownership: Callable[[], np.ndarray | None] | None = None) -> bool:
    """Whether passing now is safe for the side to move: the board is settled (`GoState.settled`) and
    its Tromp-Taylor score wins. On an open board komi makes Tromp-Taylor "win" for White, and a dead
    stone of ours in the other side's area counts as alive there but not for a human or GNU Go.
    `ownership` (called only when the board is settled and Tromp-Taylor wins) gives the net's
    ownership of every point from the mover's side (`Engine.ownership`); the score counted by it must
    win too, so a group of ours the net reads as dead (one eye, no capture yet) is not counted alive."""
    if not (tromp_taylor_ahead(state) and state.settled()):
        return False
    own = ownership() if ownership is not None else None
    if own is None:
        return True
    komi = state.game.komi
    return float(np.sign(own).sum()) + (-komi if state.to_play() == 0 else komi) > 0


def _go_group_at(board: np.ndarray, r0: int, c0: int) -> tuple[set, set]:
    """(stones, liberties) of the group on (r0, c0) of `board` (`GoState.board()` layout), as point sets."""
    n, colour = board.shape[0], board[r0, c0]
    stones, libs, todo = {(r0, c0)}, set(), [(r0, c0)]
    while todo:
        r, c = todo.pop()
        for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= rr < n and 0 <= cc < n:
                v = board[rr, cc]
                if v == 0:
                    libs.add((rr, cc))
                elif v == colour and (rr, cc) not in stones:
                    stones.add((rr, cc))
                    todo.append((rr, cc))
    return stones, libs


def _go_groups(board: np.ndarray, colour: int) -> list[tuple[set, set]]:
    """(stones, liberties) of every group of `colour` on `board`."""
    seen: set = set()
    groups = []
    for r0, c0 in zip(*np.nonzero(board == colour)):
        if (r0, c0) in seen:
            continue
        stones, libs = _go_group_at(board, int(r0), int(c0))
        seen |= stones
        groups.append((stones, libs))
    return groups


def go_cleanup_move(state: State) -> int | None:
    """A move that removes the opponent's stones that cannot live, to play before passing under area scoring
    (where it costs nothing): the capture of the largest opponent group in atari (not a capture our stone
    would lose at once with 2 or more stones: a snapback), else a move on one of the two liberties of an
    opponent group shut inside our stones (every stone next to it and to its liberties is ours) that leaves
    our new stone's group with 2 liberties or a single stone; None when there is none. A settled board
    (`GoState.settled`) can still hold such stones: two dead stones that enclose a point of their own make
    a region of their colour, and Tromp-Taylor counts them, so passing there can turn a won game into a lost
    one (as it did against our raw policy, which plays on)."""
    board, n = state.board(), state.game.n
    own = 1 + state.to_play()
    opp = 3 - own
    mask = state.legal_mask()
    best, best_key = None, None
    for stones, libs in _go_groups(board, opp):
        if len(libs) == 1:
            (r, c), = libs
            a = r * n + c
            if not mask[a]:
                continue
            size, after = go_group_after(state, a)
            if after <= 1 and size >= 2:
                continue            # a snapback: our capturing group would be taken back at once
            key = (1, len(stones))
        elif len(libs) == 2:
            around = set()
            for r, c in stones | libs:
                for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                    if 0 <= rr < n and 0 <= cc < n and (rr, cc) not in stones and (rr, cc) not in libs:
                        around.add(int(board[rr, cc]))
            if around != {own}:
                continue            # not shut inside our stones: it may live or connect out
            a, key = None, None
            for r, c in sorted(libs):
                m = r * n + c
                if not mask[m]:
                    continue
                size, after = go_group_after(state, m)
                if after >= 2 or size == 1:
                    a, key = m, (0, len(stones))
                    break
            if a is None:
                continue
        else:
            continue
        if best_key is None or key > best_key:
            best, best_key = a, key
    return best


def go_playout_ownership(state: State, playouts: int = 100, seed: int = 0) -> np.ndarray:
    """Who owns each point at the end of random games from `state` (the dead-stone estimate of Fuego's and
    Pachi's `final_status_list`): float `[N, N]` laid out as `board()`, the mean over `playouts` of the
    Tromp-Taylor owner (+1 Black, -1 White, 0 neither). Each play-out plays uniformly random legal moves for
    both sides, never filling the mover's own single-point eye (`go_eye`) and passing when nothing else is
    left, until two passes or 3 x N x N plies. A game two passes ended is resumed first (one the move cap
    ended is read as it stands). Seeded: the same state and seed give the same array."""
    if state.is_terminal():
        try:
            state = state.resumed()
        except GameError:   # the move cap ended it: no move is left to play, the board is what it is
            return state.area_ownership().astype(np.float64)
    rng = np.random.default_rng(seed)
    n = state.game.n
    pass_a = state.game.pass_action
    cap = 3 * n * n
    total = np.zeros((n, n))
    for _ in range(playouts):
        s = state
        for _ply in range(cap):
            if s.is_terminal():
                break
            legal = s.legal_actions()
            legal = legal[legal != pass_a]
            board, own = None, 1 + s.to_play()
            move = pass_a
            for a in rng.permutation(legal)[:24].tolist():   # a few tries: most random points are not eyes
                if board is None:
                    board = s.board()
                r, c = divmod(a, n)
                if not go_eye(board, r, c, own):
                    move = a
                    break
            else:
                if board is not None:   # every tried point was an eye: look at them all before passing
                    ok = [a for a in legal.tolist() if not go_eye(board, *divmod(a, n), own)]
                    move = int(rng.choice(ok)) if ok else pass_a
            s = s.apply(move)
        total += s.area_ownership()
    return total / max(1, playouts)


def go_dead_stones(state: State, playouts: int = 100, seed: int = 0, margin: float = 0.0) -> np.ndarray:
    """bool `[N * N]`: the stones whose group the play-outs of `go_playout_ownership` give to the other
    colour: the group's mean ownership below -`margin` from its own side (0: the opponent owns it in more
    than half the play-outs, Fuego's rule). Whole groups are dead or alive. Uniform play-outs misjudge wide
    open areas (a lone stone in a large territory can look alive, and the walls around it half dead); on the
    small regions of a finished game they mostly agree with GNU Go (docs/benchmarks.md)."""
    board = state.board()
    own = go_playout_ownership(state, playouts, seed)
    dead = np.zeros(board.shape, dtype=bool)
    for colour, sign in ((1, 1.0), (2, -1.0)):
        for stones, _ in _go_groups(board, colour):
            rr, cc = zip(*stones)
            if sign * own[list(rr), list(cc)].mean() < -margin:
                dead[list(rr), list(cc)] = True
    return dead.reshape(-1)


def go_score_without(state: State, dead: np.ndarray) -> float:
    """Black's Tromp-Taylor margin of `state`'s board with the `dead` stones (bool `[N * N]`) taken off."""
    board = state.board().reshape(-1)
    if not dead.any():
        return float(state.score())
    return float(state.game.setup_state([int(p) for p in np.flatnonzero((board == 1) & ~dead)],
                                        [int(p) for p in np.flatnonzero((board == 2) & ~dead)]).score())


def go_choose(state: State, analysis: Any, text_to_action: Callable[[str], int], self_atari: int = 3,
              ownership: Callable[[], np.ndarray | None] | None = None) -> int:
    """Our Go move with the CGOS-safe pass rule: pass only on a settled board (`GoState.settled`:
    every empty region belongs to one colour but small dame) when the search prefers it AND the
    Tromp-Taylor area score of the board as it stands already wins for us, or the opponent just
    passed and that score wins (passing then ends the game in our favour); before a pass that does not end
    the game, dead stones of theirs that can be taken are taken (`go_cleanup_move`); pass also when the search
    prefers it on a settled board that Tromp-Taylor scores against us (the game is over: a stone dropped
    into the other side's area would stand there dead, and Tromp-Taylor would count it). Otherwise play the most
    visited board move that neither fills one of our own single-point true eyes (`go_eye`) nor puts
    a group of `self_atari` stones or more in atari (`_go_move_filter`), so dead opponent stones get
    captured before the game ends; pass when no visited move is acceptable (a search that saw only
    pass, with a tiny budget, takes any acceptable legal point instead). Without the filters a search
    whose value reads every move as lost would, behind on the board, fill its own eyes until its
    groups died (a 2-point loss became an 88-point one against GNU Go). `ownership`: see
    `settled_win` (the engine's `Engine.ownership` for the state, bound by the caller)."""
    game = state.game
    best = int(analysis.best_action)
    opponent_passed = state.last_action() == game.pass_action
    if (best == game.pass_action or opponent_passed) and settled_win(state, ownership):
        if opponent_passed:
            return game.pass_action   # passing back ends the game won
        clean = go_cleanup_move(state)   # the opponent may still drop stones in: take the dead ones first
        return game.pass_action if clean is None else clean
    if best == game.pass_action and state.settled() and not tromp_taylor_ahead(state):
        clean = go_cleanup_move(state)   # behind only because dead stones of theirs stand in our area
        if clean is not None:
            return clean
        return game.pass_action       # a finished board we are behind on even with every stone alive:
                                      # stones dropped into the other side's area would stand there dead
    order = [best] + [text_to_action(move) for move, _visits, _prior, _q in analysis_rows(analysis)]
    mask = state.legal_mask()
    ok = _go_move_filter(state, self_atari)
    for a in order:
        if a != game.pass_action and mask[a] and ok(a):
            return a
    if any(a != game.pass_action for a in order):
        return game.pass_action       # the search looked at board moves and none is acceptable
    for a in state.legal_actions():   # the search saw only pass (tiny budgets): any acceptable point
        if int(a) != game.pass_action and ok(int(a)):
            return int(a)
    return game.pass_action


def engine_choice(engine, state: State, analysis: Any) -> int:
    """The move an engine plays from its analysis of `state`: in Go (`uses_pass_rule`) the pass rule of
    `go_choose`, with the engine's ownership head (`Engine.ownership`, read only when a pass is
    considered); elsewhere the search's best action. Play, GTP and the arena's engine player all use it."""
    if not uses_pass_rule(state.game):
        return int(analysis.best_action)
    f = getattr(engine, "ownership", None)
    return go_choose(state, analysis, state.game.text_to_action, ownership=None if f is None else (lambda: f(state)))


def uses_pass_rule(game: Game) -> bool:
    """Whether our players choose by the pass rule of `go_choose` / `go_policy_choose`: games with
    a pass move and an area score to judge it by (capabilities `has_pass`, `scoring`)."""
    return game.has_pass and game.scoring == "area"


def is_go(game: Game) -> bool:
    """The Go family by name: only for picking a board picture (`boardnet.play.draw`); behaviour
    branches on the game's capabilities (`boardnet.games.base.CAPABILITIES`)."""
    return game.name.lower().startswith("go")


# -- our players -------------------------------------------------------------------------------------

class RandomPlayer:
    """Uniformly random legal moves (seeded)."""

    def __init__(self, seed: int = 0, name: str | None = None):
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.name = name or f"random(seed={self.seed})"

    def new_game(self, game, start) -> None:
        pass

    def select(self, state, history) -> int:
        acts = state.legal_actions()
        return int(acts[self.rng.integers(len(acts))])

    def close(self) -> None:
        pass


class MCTSPlayer:
    """`boardnet.mcts_baseline.PureMCTS`: UCT with random roll-outs, no network."""

    def __init__(self, simulations: int = 1000, c: float = 1.4, seed: int = 0, name: str | None = None,
                 movetime: float | None = None):
        """``movetime`` (s per move): search until it is spent instead of a simulation count, the
        budget for equal-time matches against a network engine."""
        if movetime is not None and movetime <= 0:
            raise ValueError(f"mcts movetime={movetime}: must be > 0 seconds")
        self.c, self.seed, self.movetime = float(c), int(seed), movetime
        self.simulations = 10 ** 9 if movetime else int(simulations)
        self.name = name or (f"mcts(movetime={movetime})" if movetime else f"mcts(sims={self.simulations})")
        self._mcts = None
        self._game = None

    def new_game(self, game, start) -> None:
        if self._game is not game:
            from boardnet.mcts_baseline import PureMCTS
            self._mcts = PureMCTS(game, simulations=self.simulations, c=self.c, seed=self.seed,
                                  time_limit=self.movetime)
            self._game = game

    def select(self, state, history) -> int:
        if self._game is not state.game:
            self.new_game(state.game, state)
        return int(self._mcts.select(state))

    def close(self) -> None:
        pass


def load_engine(game: Game, model: str | None = None, *, visits: int = 200, device: str = "auto",
                batch_size: int = 16, notice: Callable[[str], None] | None = None, precision: str = "auto",
                precision_notice: Callable[[str], None] | None = None, shuffle_damping: float | None = None,
                symmetries: int = 1, root_symmetries: int = 1, auto_int8: bool = True, **search_kw):
    """An `Engine` for `game`: from `model` (shipped name or path), else the shipped net named
    after the game, else network-free (one notice line through `notice`). The precision used
    (auto, fp32, bf16, int8) is announced through `precision_notice` (the command line's start-up line);
    `auto_int8`: see `Engine.from_checkpoint`."""
    from boardnet import models
    from boardnet.engine import Engine
    from boardnet.search import SearchConfig

    search = SearchConfig(num_simulations=int(visits), **search_kw)
    if model == "none":   # asked for explicitly: network-free even where a net ships
        return Engine(game, None, search=search, batch_size=batch_size)
    path = models.resolve(model) if model else models.default_model(game.name)
    if path is None:
        if notice is not None:
            notice(f"note: no --model given and no shipped net for {game.name}; playing without a "
                   f"network (uniform priors and roll-outs), so expect weak play")
        return Engine(game, None, search=search, batch_size=batch_size)
    extra = {} if shuffle_damping is None else {"shuffle_damping": shuffle_damping}
    if symmetries != 1:
        extra["symmetries"] = symmetries
    if root_symmetries != 1:
        extra["root_symmetries"] = root_symmetries
    eng = Engine.from_checkpoint(str(path), search=search, device=device, batch_size=batch_size,
                                 precision=precision, auto_int8=auto_int8, **extra)
    if precision_notice is not None and getattr(eng, "runtime", None) is not None:
        precision_notice(f"precision: {eng.runtime.describe()}")
    if getattr(eng, "game", game).name != game.name:
        raise ValueError(f"model {model or path!s}: it was trained for {eng.game.name}, not {game.name}")
    # The checkpoint brings its own game object; play uses the caller's (same rules, maybe komi).
    if hasattr(eng, "game"):
        eng.game = game
    return eng


def go_eye(board: np.ndarray, r: int, c: int, own: int) -> bool:
    """Whether the empty point (r, c) of `board` (`GoState.board()`: 1 black, 2 white) is a
    single-point eye of colour `own` (1 or 2) that is probably true: every neighbour on the board
    holds an `own` stone and at most one diagonal (none on the edge) an opponent stone - the
    rule of minigo's and Pachi's play-outs."""
    n = board.shape[0]
    if board[r, c]:
        return False
    for rr, cc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
        if 0 <= rr < n and 0 <= cc < n and board[rr, cc] != own:
            return False
    faults = 0 if 0 < r < n - 1 and 0 < c < n - 1 else 1   # on the edge one opponent diagonal is enough
    for rr, cc in ((r + 1, c + 1), (r + 1, c - 1), (r - 1, c + 1), (r - 1, c - 1)):
        if 0 <= rr < n and 0 <= cc < n and board[rr, cc] == 3 - own:
            faults += 1
    return faults < 2


def _go_move_filter(state: State, self_atari: int) -> Callable[[int], bool]:
    """A test of board moves for the side to move: False for a move that fills one of its own
    single-point true eyes (`go_eye`) or, with `self_atari` >= 1, leaves a group of that many stones
    or more in atari (the end-game filling that kills a big group)."""
    board, own, n = state.board(), 1 + state.to_play(), state.game.n

    def ok(a: int) -> bool:
        r, c = divmod(int(a), n)
        if go_eye(board, r, c, own):
            return False
        if self_atari >= 1:
            size, libs = go_group_after(state, a)
            if libs <= 1 and size >= self_atari:
                return False
        return True
    return ok


def go_group_after(state: State, action: int) -> tuple[int, int]:
    """(stones, liberties) of the group holding the stone `action` places in a Go state."""
    board = state.apply(action).board()
    stones, libs = _go_group_at(board, *divmod(int(action), board.shape[0]))
    return len(stones), len(libs)


def go_policy_choose(state: State, priors: np.ndarray, self_atari: int = 3) -> int:
    """The raw-policy Go move: the most probable legal board move that neither fills one of our
    own single-point true eyes (`go_eye`) nor, with `self_atari` >= 1, leaves a group of that
    many stones or more in atari (the end-game filling that kills a big group). Pass when no
    such move is left; when the opponent has just passed and the Tromp-Taylor area score as the
    board stands wins for us (passing ends the game won); or when pass is the policy's top
    choice over the acceptable moves and we are winning by that score or the opponent has just
    passed (the KGS players the net learned from pass back when the board is settled): the
    CGOS-safe rule of `go_choose` with the policy in place of the search."""
    game = state.game
    pas = game.pass_action
    mask = state.legal_mask()
    ok = _go_move_filter(state, self_atari)
    best = None
    for a in np.argsort(-priors, kind="stable").tolist():
        if a != pas and mask[a] and ok(a):
            best = a
            break
    if best is None:
        return pas
    winning = settled_win(state)
    opponent_passed = state.last_action() == pas
    if opponent_passed and winning:
        return pas
    if mask[pas] and priors[pas] > priors[best] and winning:
        clean = go_cleanup_move(state)   # as `go_choose`: dead stones of theirs first
        return pas if clean is None else clean
    return best


class PolicyPlayer:
    """The network's raw policy with no search (one evaluation per move), as in the move-prediction
    papers (Clark & Storkey 2015, Maddison et al. 2015): the most probable legal move; in Go the
    eye, self-atari and pass rules of `go_policy_choose`. `last_value` is the value head's view
    of the last position it moved in (side to move, [-1, 1])."""

    def __init__(self, engine, self_atari: int = 3, name: str | None = None):
        self.engine, self.self_atari = engine, int(self_atari)
        self.name = name or "boardnet(policy)"
        self.last_value = None

    def new_game(self, game, start) -> None:
        pass

    def select(self, state, history) -> int:
        priors, values = self.engine.evaluator.evaluate([state])
        p = np.asarray(priors[0], dtype=np.float64)
        self.last_value = float(values[0])
        if uses_pass_rule(state.game):
            return go_policy_choose(state, p, self.self_atari)
        return int(np.argmax(np.where(state.legal_mask(), p, -1.0)))

    def close(self) -> None:
        pass


class EnginePlayer:
    """Our engine (network + batched PUCT search) at a fixed budget of visits or seconds."""

    def __init__(self, engine, visits: int | None = None, movetime: float | None = None,
                 name: str | None = None):
        self.engine, self.visits, self.movetime = engine, visits, movetime
        budget = f"movetime={movetime}" if movetime else f"visits={visits}"
        self.name = name or f"boardnet({budget})"
        self.last_analysis = None

    def new_game(self, game, start) -> None:
        reset = getattr(self.engine, "new_game", None)
        if callable(reset):
            reset()

    def select(self, state, history) -> int:
        an = self.engine.analyse(state, visits=self.visits, movetime=self.movetime)
        self.last_analysis = an
        return engine_choice(self.engine, state, an)

    def close(self) -> None:
        pass


# -- external programs --------------------------------------------------------------------------------

class ExternalError(RuntimeError):
    """An external engine died, timed out or answered something we cannot use."""


def find_program(cmd: str) -> str | None:
    """Full path of a command's program, looking in PATH and /usr/games (Debian's games)."""
    prog = shlex.split(cmd)[0] if cmd.strip() else ""
    if not prog:
        return None
    found = shutil.which(prog)
    if found is None and "/" not in prog:
        cand = Path("/usr/games") / prog
        found = str(cand) if cand.is_file() else None
    return found


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process `pid` has used so far (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class _Process:
    """A line-oriented child process with a reader thread (so reads can time out)."""

    def __init__(self, cmd: str, label: str):
        args = shlex.split(cmd)
        prog = find_program(cmd)
        if prog is None:
            raise ExternalError(f"{label}: program {args[0] if args else ''!r} not found in PATH "
                                f"or /usr/games")
        args[0] = prog
        self.label = label
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, errors="replace")
        self._lines: list[str] = []
        self._cv = threading.Condition()
        self._eof = False
        self._stderr: list[str] = []   # its last non-empty stderr lines, for the message when it dies
        threading.Thread(target=self._pump, daemon=True).start()
        self._stderr_reader = threading.Thread(target=self._pump_stderr, daemon=True)
        self._stderr_reader.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            with self._cv:
                self._lines.append(line.rstrip("\r\n"))
                self._cv.notify_all()
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    def _pump_stderr(self) -> None:
        for line in self.proc.stderr:   # drained, so a chatty engine never blocks on a full pipe
            line = line.strip()
            if line:
                self._stderr = (self._stderr + [line])[-5:]

    def exited(self, doing: str = "") -> ExternalError:
        """The error for a child that died: its exit status (or signal) and its last stderr line, if any."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        if code is not None:
            self._stderr_reader.join(timeout=1)   # it ends at the pipe's end: every line is in
        why = []
        if code is not None and code < 0:
            try:
                why.append(f"killed by {signal.Signals(-code).name}")
            except ValueError:
                why.append(f"killed by signal {-code}")
        elif code is not None:
            why.append(f"exit status {code}")
        if self._stderr:
            why.append(f"its last stderr line: {self._stderr[-1][:200]!r}")
        return ExternalError(f"{self.label}: process exited" + (f" ({doing})" if doing else "")
                             + (": " + "; ".join(why) if why else ""))

    def send(self, line: str) -> None:
        try:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self.exited(f"writing {line!r}") from None

    def readline(self, timeout: float) -> str:
        with self._cv:
            if not self._cv.wait_for(lambda: self._lines or self._eof, timeout=timeout):
                raise ExternalError(f"{self.label}: no answer within {timeout:g} s")
            if self._lines:
                return self._lines.pop(0)
        raise self.exited()

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the child has used so far (Linux /proc), else None."""
        return process_cpu_seconds(self.proc.pid)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class UCIPlayer:
    """An external chess engine over UCI (e.g. `stockfish` with UCI_LimitStrength/UCI_Elo), driven
    by python-chess's `chess.engine` (`SimpleEngine`). Every failure - a missing program, a bad
    option, an engine that dies or goes silent mid-game, an illegal answer - is an `ExternalError`
    of one line naming the command, so the arena records a game error instead of a traceback."""

    def __init__(self, cmd: str = "stockfish", options: dict[str, str] | None = None,
                 movetime: float | None = 0.1, nodes: int | None = None, depth: int | None = None,
                 name: str | None = None, timeout: float = 60.0):
        import chess.engine

        self.cmd, self.options = cmd, dict(options or {})
        self.movetime, self.nodes, self.depth, self.timeout = movetime, nodes, depth, timeout
        self.label = f"uci engine {cmd!r}"
        args = shlex.split(cmd)
        prog = find_program(cmd)
        if prog is None:
            raise ExternalError(f"{self.label}: program {args[0] if args else ''!r} not found in PATH "
                                f"or /usr/games")
        args[0] = prog
        try:
            self._engine = chess.engine.SimpleEngine.popen_uci(args, timeout=timeout,
                                                               stderr=subprocess.DEVNULL)
        except Exception as e:   # the loop thread hands back any start-up failure
            raise self._error(e, "starting") from None
        try:
            self._engine.configure(self._typed_options())
            ident = self._engine.id.get("name")
        except BaseException as e:
            self._engine.close()
            if not isinstance(e, Exception):
                raise
            raise self._error(e, "setting options") from None
        extra = ",".join(f"{k}={v}" for k, v in self.options.items())
        self.name = name or (ident or cmd) + (f" ({extra})" if extra else "")
        self._start_fen = None
        self._game_token = object()

    def _typed_options(self) -> dict[str, object]:
        """The spec's option texts as the values `chess.engine` sends, checked against the
        options the engine declared (unknown names and malformed values are one-line errors)."""
        declared = self._engine.options
        out: dict[str, object] = {}
        for k, v in self.options.items():
            if k not in declared:
                raise ExternalError(f"{self.label}: no option {k!r} (it has: "
                                    f"{', '.join(sorted(declared))})")
            if declared[k].type == "check":
                t = str(v).strip().lower()
                if t not in ("true", "false"):
                    raise ExternalError(f"{self.label}: option {k}={v!r}: expected true or false")
                out[k] = t == "true"
            else:
                out[k] = v
        return out

    def _error(self, e: BaseException, doing: str) -> ExternalError:
        """One line naming the engine for whatever `chess.engine` raised while `doing`."""
        import chess.engine

        if isinstance(e, ExternalError):
            return e
        if isinstance(e, chess.engine.EngineTerminatedError):
            return ExternalError(f"{self.label}: process exited ({doing}): {e}")
        if isinstance(e, (TimeoutError, asyncio.TimeoutError)):
            return ExternalError(f"{self.label}: no answer within {self.timeout:g} s ({doing})")
        text = str(e).strip().splitlines()
        return ExternalError(f"{self.label}: {doing}: {text[0] if text else type(e).__name__}")

    def cpu_seconds(self) -> float | None:
        """CPU seconds the engine process has used so far (Linux), None where that cannot be read."""
        try:
            pid = self._engine.transport.get_pid()
        except Exception:
            return None
        return process_cpu_seconds(pid)

    def new_game(self, game, start) -> None:
        from boardnet.records import chess_board
        import chess

        if game.protocol != "uci":
            raise ExternalError(f"{self.label}: only chess is played with external UCI programs, "
                                f"not {game.name}")
        fen = chess_board(start).fen()
        self._start_fen = None if fen == chess.STARTING_FEN else fen
        self._game_token = object()   # a new token: chess.engine sends ucinewgame + isready

    def select(self, state, history) -> int | None:
        import chess
        import chess.engine
        from boardnet.records import chess_move

        # The board from the game's start with every move since, so `position` carries the moves.
        board = chess.Board(self._start_fen) if self._start_fen else chess.Board()
        s = self._start_state(state.game)
        for a in history:
            board.push(chess_move(s, a))
            s = s.apply(a)
        if self.nodes:
            limit = chess.engine.Limit(nodes=int(self.nodes))
        elif self.depth:
            limit = chess.engine.Limit(depth=int(self.depth))
        else:
            limit = chess.engine.Limit(time=self.movetime or 0.1)
        # SimpleEngine times out only searches limited by time; a watchdog bounds the others.
        expired = threading.Event()
        timer = None
        if limit.time is None:
            timer = threading.Timer(self.timeout, lambda: (expired.set(), self._engine.close()))
            timer.daemon = True
            timer.start()
        try:
            result = self._engine.play(board, limit, game=self._game_token)
        except Exception as e:
            raise self._error(TimeoutError() if expired.is_set() else e,
                              f"move {len(history) + 1}") from None
        finally:
            if timer is not None:
                timer.cancel()
        if result.move is None:
            return None
        return chess_action(state, result.move.uci())

    def _start_state(self, game):
        if self._start_fen:
            return game.state_from_text(self._start_fen)
        return game.initial_state()

    def close(self) -> None:
        try:
            self._engine.timeout = 2.0   # do not wait long for an engine that ignores `quit`
            self._engine.quit()
        except Exception:
            pass
        self._engine.close()


def chess_action(state: State, uci: str) -> int:
    """Our action for a UCI move text in a chess state (via SAN when the game reads only SAN)."""
    try:
        return state.text_to_action(uci)
    except GameError:
        import chess
        from boardnet.records import chess_board

        board = chess_board(state)
        try:
            move = chess.Move.from_uci(uci)
        except ValueError:
            raise GameError(f"chess move {uci!r}: not UCI notation") from None
        if move not in board.legal_moves:
            raise GameError(f"chess move {uci!r}: not legal in {board.fen()}") from None
        return state.text_to_action(board.san(move))


class GTPPlayer:
    """An external Go program over GTP v2 (e.g. `gnugo --mode gtp --level 1`)."""

    def __init__(self, cmd: str = "gnugo --mode gtp", name: str | None = None, timeout: float = 120.0):
        self.cmd, self.timeout = cmd, timeout
        self._p = _Process(cmd, f"gtp engine {cmd!r}")
        try:
            ident = self.command("name")
            version = self.command("version")
        except ExternalError:
            self._p.close()
            raise
        self.name = name or f"{ident} {version}".strip()
        self._sent: list[int] = []
        self._game = None

    def cpu_seconds(self) -> float | None:
        """CPU seconds the program has used so far (Linux), None where that cannot be read."""
        return self._p.cpu_seconds()

    def command(self, line: str) -> str:
        """Send one GTP command; the answer text, or ExternalError on `? message`."""
        self._p.send(line)
        out, first = [], None
        while True:
            ln = self._p.readline(self.timeout)
            if first is None:
                if not ln.strip():
                    continue
                first = ln
                out.append(ln[1:].strip())
                continue
            if not ln.strip():
                break
            out.append(ln)
        if first.startswith("?"):
            raise ExternalError(f"{self._p.label}: {line!r} failed: {' '.join(out).strip()}")
        return "\n".join(out).strip()

    def new_game(self, game, start) -> None:
        if not (game.protocol == "gtp" and game.has_komi and game.resizable):   # boardsize, komi
            raise ExternalError(f"gtp engine {self.cmd!r}: only Go is played with external GTP "
                                f"programs, not {game.name}")
        if start.ply != 0 or start.stone_counts() != (0, 0):
            raise ExternalError(f"gtp engine {self.cmd!r}: games must start from the empty board")
        self._game = game
        self.command(f"boardsize {game.n}")
        self.command(f"komi {game.komi:g}")
        self.command("clear_board")
        self._sent = []

    def select(self, state, history) -> int | None:
        game = state.game
        if self._game is not game:
            self.new_game(game, game.initial_state())
        hist = [int(a) for a in history]
        if hist[:len(self._sent)] != self._sent:
            self.command("clear_board")
            self._sent = []
        s = game.initial_state()
        for a in self._sent:
            s = s.apply(a)
        for a in hist[len(self._sent):]:
            self.command(f"play {'bw'[s.to_play()]} {game.action_to_text(a)}")
            s = s.apply(a)
            self._sent.append(a)
        reply = self.command(f"genmove {'bw'[state.to_play()]}")
        if reply.lower() == "resign":
            return None
        a = state.text_to_action(reply)
        self._sent.append(a)
        return a

    def close(self) -> None:
        try:
            self._p.send("quit")
        except ExternalError:
            pass
        self._p.close()


# -- specs ----------------------------------------------------------------------------------------------

def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """"kind:key=value,key=value" -> (kind, {key: value}); raises ValueError naming the spec."""
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    opts: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"player spec {spec!r}: {item!r} is not key=value")
        opts[key.strip()] = value.strip()
    return kind, opts


PLAYER_KINDS = ("random", "mcts", "engine", "policy", "uci", "gtp")


def make_player(spec: str, game: Game, notice: Callable[[str], None] | None = None,
                precision: str = "auto") -> Player:
    """A player from a spec string (see the module doc); `precision` is the default for engine
    players that do not name one (`engine:precision=fp32`)."""
    kind, o = parse_spec(spec)

    def take(key, conv, default=None):
        if key not in o:
            return default
        v = o.pop(key)
        try:
            return conv(v)
        except ValueError:
            raise ValueError(f"player spec {spec!r}: {key}={v!r} is not a valid "
                             f"{conv.__name__}") from None

    if kind == "random":
        p = RandomPlayer(seed=take("seed", int, 0), name=take("name", str))
    elif kind == "mcts":
        p = MCTSPlayer(simulations=take("simulations", int, take("sims", int, 1000)),
                       c=take("c", float, 1.4), seed=take("seed", int, 0), name=take("name", str),
                       movetime=take("movetime", float))
    elif kind == "engine":
        visits = take("visits", int, 200)
        movetime = take("movetime", float)
        name = take("name", str)
        eng = load_engine(game, take("model", str), visits=visits, device=take("device", str, "auto"),
                          batch_size=take("batch", int, 16), notice=notice,
                          precision=take("precision", str, precision), precision_notice=notice,
                          shuffle_damping=take("damping", float), symmetries=take("symmetries", int, 1),
                          root_symmetries=take("root_symmetries", int, 1))
        p = EnginePlayer(eng, visits=None if movetime else visits, movetime=movetime, name=name)
    elif kind == "policy":
        name = take("name", str)
        self_atari = take("self_atari", int, 3)
        eng = load_engine(game, take("model", str), visits=1, device=take("device", str, "auto"),
                          notice=notice, precision=take("precision", str, precision),
                          symmetries=take("symmetries", int, 1), auto_int8=False)   # speed does not matter here
        if getattr(eng, "net", None) is None:
            raise ValueError(f"player spec {spec!r}: the raw policy needs a network (model=...)")
        p = PolicyPlayer(eng, self_atari=self_atari, name=name)
    elif kind == "uci":
        cmd = take("cmd", str, "stockfish")
        p = UCIPlayer(cmd, movetime=take("movetime", float, 0.1), nodes=take("nodes", int),
                      depth=take("depth", int), name=take("name", str), options=o)
        o = {}
    elif kind == "gtp":
        p = GTPPlayer(take("cmd", str, "gnugo --mode gtp"), name=take("name", str),
                      timeout=take("timeout", float, 120.0))
    else:
        raise ValueError(f"player spec {spec!r}: unknown kind {kind!r}; choose one of "
                         f"{', '.join(PLAYER_KINDS)}")
    if o:
        p.close()
        raise ValueError(f"player spec {spec!r}: unknown option(s) {', '.join(sorted(o))} for {kind}")
    return p


def stderr_notice(msg: str) -> None:
    print(msg, file=sys.stderr)
