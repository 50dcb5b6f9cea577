"""Teacher data: an external engine plays itself and labels every position, written as records
the readers in `boardnet.records` read back (`selfplay teach go|chess`, see `selfplay teach -h`).

    selfplay teach go --games 500 --size 9 --out data/teach/go9     # GNU Go level 1, the default engine
    selfplay teach chess --engine stockfish --nodes 5000 --multipv 4 --games 500 --out data/teach/chess

Go (any GTP engine; GNU Go gives the labels): game i starts from `random_opening_plies` random
legal moves off the first line (seeded by (seed, i)), given to the engine as `play` commands and
written as SETUP STONES (`AB`/`AW`, `PL`), so every recorded move is a teacher move. The engine then
plays both sides to two passes (or resignation, or the ply cap). Labels, in standard FF[4]
properties: `RE` is the engine's `final_score` (`B+3.5`; `W+R` on resignation, which the default
command's `--never-resign` rules out: GNU Go resigns small-board games after a few moves); `TB`/`TW` on the
last node are the engine's `final_status_list black_territory` / `white_territory` plus the points
of its `final_status_list dead` stones (the KGS/CGoban convention: territory marks cover dead
stones, so dead stones are the stones inside the other colour's marks; the last node's comment
also names them). `RU` is Chinese when the command has `--chinese-rules`, else Japanese (GNU Go's
default scoring). Read back: `boardnet.records.sgf.ownership(rec)` -> int8 [N, N] (+1 black,
-1 white, 0 neutral: dame and seki points), `dead_stones(rec)`, `score(rec)` (Black's view).

Chess (any UCI engine, python-chess `chess.engine`): game i starts after `random_opening_plies`
random legal plies (or from a line of `openings`, a file of FENs), written as a FEN start
(`SetUp`/`FEN`), so again every recorded move is a teacher move: the engine's best move at fixed
nodes or depth. Each move's comment holds `[%eval S]` (the engine's score of the position the move
was played in, from White's view - under best play also the score after it), `[%wdl W D L]`
(Stockfish's `UCI_ShowWDL` win/draw/loss per mille, turned to White's view) and, with multipv K > 1,
`[%mpv uci S uci S ...]` (the K best moves there with their scores, White's view).
`boardnet.records.pgn` reads them into `labels[k]` as `eval_cp`/`mate`, `wdl`, `multipv`.
`wdl_target` and `multipv_policy` below turn them into value and policy targets.

Eval to win/draw/loss: use the engine's own WDL when recorded (Stockfish 15.1's win-rate model,
fitted on fishtest games, a logistic in the eval whose slope and offset depend on the game ply). Without it, `wdl_target`
falls back to the expected score 1 / (1 + exp(-0.00368208 * cp)) (the logistic lichess uses for
its accuracy figures), as a win/loss split with no draw mass; mate for the side is a win.

Checkers needs no engine: the shared ACF master games (/work/shared/data/games/checkers/acf) are
read directly by `selfplay supervised` (data.paths; e.g. configs/checkers_sl.toml).

Output: one game per file, `go-000000.sgf` / `chess-000000.pgn` by game index, written atomically
(tmp + os.replace), so rerunning into the same folder (with a larger --games, after a kill) plays
only the missing indices; a leftover tmp file is removed and its game redone. The settings are kept
in `teach-settings.json` (a rerun with other settings is refused); throughput goes to
`teach-summary.json`. Workers are processes (one engine each); a lock file stops two runs sharing
a folder.
"""
from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SETTINGS_FILE = "teach-settings.json"
SUMMARY_FILE = "teach-summary.json"
LOCK_FILE = ".teach.lock"
_EXT = {"go": "sgf", "chess": "pgn"}
_LETTERS = "abcdefghijklmnopqrs"


class TeachError(RuntimeError):
    """A one-line reason the teacher cannot run (missing engine, bad command, bad folder)."""


@dataclass(frozen=True)
class GoTeach:
    engine: str = "gnugo --mode gtp --level 1 --chinese-rules --never-resign"
    size: int = 9
    komi: float = 7.0
    random_opening_plies: int = 4
    max_plies: int | None = None     # None: the rules' cap (2 N^2 plies, as the SGF reader replays)
    seed: int = 0
    timeout: float = 120.0           # seconds to wait for one GTP answer

    kind = "go"


@dataclass(frozen=True)
class ChessTeach:
    engine: str = "stockfish"
    nodes: int | None = None
    depth: int | None = None
    multipv: int = 1
    random_opening_plies: int = 4
    openings: tuple[str, ...] = ()   # FEN starts, used in turn (game i -> openings[i % len])
    max_plies: int = 400             # a game still going here is written unfinished (Result "*")
    seed: int = 0
    threads: int = 1
    hash_mb: int = 16

    kind = "chess"


# -------------------------------------------------------------------------------------- engines

def _proc_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a live child (Linux /proc); 0.0 where that cannot be read."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _program(cmd: str, what: str) -> list[str]:
    from boardnet.players import find_program
    try:
        args = shlex.split(cmd)
    except ValueError as e:
        raise TeachError(f"{what} command {cmd!r}: {e}") from None
    prog = find_program(cmd) if args else None
    if prog is None:
        raise TeachError(f"{what} {args[0] if args else cmd!r} not found in PATH or /usr/games "
                         f"(install it, e.g. apt-get install gnugo stockfish, or give --engine PATH)")
    return [prog] + args[1:]


class GoTeacher:
    """One GTP engine process playing and scoring teacher games."""

    def __init__(self, cfg: GoTeach):
        from boardnet.games.go import Go
        from boardnet.players import ExternalError, GTPPlayer
        _program(cfg.engine, "go engine")
        self.cfg = cfg
        self.game = Go(cfg.size, komi=cfg.komi)
        try:
            self.gtp = GTPPlayer(cfg.engine, timeout=cfg.timeout)
            self.gtp.command(f"boardsize {cfg.size}")
            self.gtp.command(f"komi {cfg.komi:g}")
        except ExternalError as e:
            if getattr(self, "gtp", None) is not None:
                self.gtp.close()
            raise TeachError(f"go engine command {cfg.engine!r} did not start a GTP engine: {e}") from None
        self.name = self.gtp.name
        self.rules = "Chinese" if "--chinese-rules" in cfg.engine else "Japanese"

    def cpu_seconds(self) -> float:
        return self.gtp.cpu_seconds() or 0.0

    def _try(self, line: str) -> str | None:
        from boardnet.players import ExternalError
        try:
            return self.gtp.command(line)
        except ExternalError as e:
            if "failed" in str(e):    # the engine answered "? ...": command unknown or refused
                return None
            raise

    def play(self, index: int) -> tuple[str, int]:
        """Play game `index`; (SGF text, number of labelled positions)."""
        cfg, game, gtp = self.cfg, self.game, self.gtp
        n = game.n
        rng = np.random.default_rng([cfg.seed, index])
        gtp.command("clear_board")
        self._try(f"set_random_seed {(cfg.seed * 1_000_003 + index) % 2**31}")
        s = game.initial_state()
        edge = {r * n + c for r in range(n) for c in range(n) if min(r, c, n - 1 - r, n - 1 - c) == 0}
        for _ in range(cfg.random_opening_plies):
            legal = [int(a) for a in s.legal_actions() if a != game.pass_action and (n < 7 or a not in edge)]
            if not legal:
                break
            a = legal[int(rng.integers(len(legal)))]
            gtp.command(f"play {'bw'[s.to_play()]} {game.action_to_text(a)}")
            s = s.apply(a)
        board = s.board().reshape(-1)
        start = game.setup_state([int(p) for p in np.flatnonzero(board == 1)],
                                 [int(p) for p in np.flatnonzero(board == 2)], s.to_play())
        cap = game.max_moves if cfg.max_plies is None else min(cfg.max_plies, game.max_moves)
        t, actions, note, resigned = start, [], "", None
        while not t.is_terminal() and len(actions) < cap:
            colour = t.to_play()
            reply = gtp.command(f"genmove {'bw'[colour]}")
            if reply.strip().lower() == "resign":
                resigned = colour
                break
            try:
                a = t.text_to_action(reply)
                t = t.apply(a)
            except ValueError as e:
                # e.g. a positional-superko repeat our rules forbid: take it back and score here
                self._try("undo")
                note = f"game ended at move {len(actions) + 1}: {reply} is illegal here: {e}"
                break
            actions.append(a)
        if not note and not t.is_terminal() and resigned is None:
            note = f"cut at the ply cap ({cap} plies): RE and territory are the engine's estimate"
        fs = self._try("final_score")
        if resigned is not None:
            re_text = f"{'WB'[resigned]}+R"
            note = f"{'BW'[resigned]} resigned; the engine's final_score estimate then: {fs}; " \
                   "territory marks are its status estimate at that point"
        else:
            re_text = _gtp_score(fs) if fs is not None else (
                "0" if t.score() == 0 else f"{'B' if t.score() > 0 else 'W'}+{abs(t.score()):g}")
        stat = {k: self._try(f"final_status_list {k}") for k in ("dead", "black_territory", "white_territory")}
        tb, tw, dead = set(), set(), []
        final = t.board().reshape(-1)
        if all(v is not None for v in stat.values()):
            tb = set(self._points(stat["black_territory"]))
            tw = set(self._points(stat["white_territory"]))
            for p in self._points(stat["dead"]):
                dead.append(p)
                (tw if final[p] == 1 else tb if final[p] == 2 else set()).add(p)
        comment = (f"teacher: {self.name} ({cfg.engine}); game {index}, seed {cfg.seed}; "
                   f"{cfg.random_opening_plies} random opening plies given as setup stones")
        end_comment = "; ".join(x for x in (
            f"dead stones (final_status_list dead): {' '.join(game.action_to_text(p) for p in dead) or 'none'}"
            if stat["dead"] is not None else "engine gave no final status", note) if x)
        text = go_sgf(game, start, actions, re_text=re_text, players=(self.name, self.name),
                      rules=self.rules, event=f"teacher game {index}", comment=comment,
                      tb=sorted(tb), tw=sorted(tw), end_comment=end_comment)
        return text, len(actions)

    def _points(self, text: str) -> list[int]:
        return [self.game.text_to_action(v) for v in text.split() if v.strip()]

    def close(self) -> None:
        self.gtp.close()


def _gtp_score(text: str) -> str:
    """GTP final_score ('B+24.0', 'W+3.5', '0') -> SGF RE text."""
    t = text.strip().upper()
    m = re.fullmatch(r"([BW])\+([0-9.]+)", t)
    if m:
        return f"{m.group(1)}+{float(m.group(2)):g}"
    return "0" if t in ("0", "DRAW", "JIGO") else "?"


def _sgf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("]", "\\]")


def go_sgf(game, start, actions: Sequence[int], *, re_text: str, players: tuple[str, str], rules: str,
           event: str, comment: str, tb: Sequence[int], tw: Sequence[int], end_comment: str = "") -> str:
    """One teacher game as SGF FF[4]: setup stones, moves, RE, and TB/TW on the last node."""
    import datetime as _dt
    n = game.n

    def pt(p: int) -> str:
        if p == game.pass_action:
            return ""
        r, c = divmod(int(p), n)
        return _LETTERS[c] + _LETTERS[r]

    board = start.board().reshape(-1)
    root = [f"FF[4]GM[1]CA[UTF-8]AP[gridnets-teach]SZ[{n}]KM[{game.komi:g}]RU[{rules}]",
            f"GN[{_sgf_escape(event)}]DT[{_dt.date.today().isoformat()}]",
            f"PB[{_sgf_escape(players[0])}]PW[{_sgf_escape(players[1])}]RE[{re_text}]"]
    ab = [pt(p) for p in np.flatnonzero(board == 1)]
    aw = [pt(p) for p in np.flatnonzero(board == 2)]
    if ab:
        root.append("AB" + "".join(f"[{p}]" for p in ab))
    if aw:
        root.append("AW" + "".join(f"[{p}]" for p in aw))
    root.append(f"PL[{'BW'[start.to_play()]}]C[{_sgf_escape(comment)}]")
    nodes = ["".join(root)]
    s = start
    for a in actions:
        nodes.append(f"{'BW'[s.to_play()]}[{pt(a)}]")
        s = s.apply(a)
    last = ""
    if tb:
        last += "TB" + "".join(f"[{pt(p)}]" for p in tb)
    if tw:
        last += "TW" + "".join(f"[{pt(p)}]" for p in tw)
    if end_comment:
        last += f"C[{_sgf_escape(end_comment)}]" if len(nodes) > 1 else ""
    nodes[-1] += last
    return "(;" + "\n;".join(nodes) + ")\n"


class ChessTeacher:
    """One UCI engine (python-chess `SimpleEngine`) playing and labelling teacher games."""

    def __init__(self, cfg: ChessTeach):
        import chess
        import chess.engine
        if (cfg.nodes is None) == (cfg.depth is None):
            raise TeachError("chess teacher: give exactly one of --nodes N or --depth D")
        for fen in cfg.openings:
            try:
                chess.Board(fen)
            except ValueError as e:
                raise TeachError(f"opening {fen!r}: not a FEN: {e}") from None
        args = _program(cfg.engine, "chess engine")
        self.cfg = cfg
        quiet = logging.getLogger("asyncio")   # a failed start logs "Loop ... that handles pid ..."
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            self.engine = chess.engine.SimpleEngine.popen_uci(args, timeout=15.0, stderr=subprocess.DEVNULL)
        except (chess.engine.EngineError, chess.engine.EngineTerminatedError, OSError, TimeoutError) as e:
            why = f"{type(e).__name__}: {e}".rstrip(": ")
            if isinstance(e, TimeoutError):
                why = "no `uciok` within 15 s (is it a UCI engine?)"
            raise TeachError(f"chess engine command {cfg.engine!r} did not start a UCI engine: {why}") from None
        finally:
            quiet.setLevel(level)
        opts = {"Threads": cfg.threads, "Hash": cfg.hash_mb}
        if "UCI_ShowWDL" in self.engine.options:
            opts["UCI_ShowWDL"] = True
        try:
            self.engine.configure({k: v for k, v in opts.items() if k in self.engine.options})
        except chess.engine.EngineError as e:
            self.close()
            raise TeachError(f"chess engine {cfg.engine!r}: {e}") from None
        self.name = self.engine.id.get("name", cfg.engine)
        self.limit = chess.engine.Limit(nodes=cfg.nodes, depth=cfg.depth)

    def cpu_seconds(self) -> float:
        try:
            return _proc_cpu(self.engine.transport.get_pid())
        except Exception:  # noqa: BLE001 - an engine that has gone away has no CPU figure
            return 0.0

    def play(self, index: int) -> tuple[str, int]:
        import chess
        import chess.pgn
        from boardnet.records.pgn import chess_game
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, index])
        game = chess_game()    # the rules the PGN reader replays with (threefold, 50 moves; no ply cap)
        for _ in range(100):   # random plies that end the game are drawn again
            board = chess.Board(cfg.openings[index % len(cfg.openings)]) if cfg.openings else chess.Board()
            for _ in range(cfg.random_opening_plies):
                moves = list(board.legal_moves)
                if not moves:
                    break
                board.push(moves[int(rng.integers(len(moves)))])
            start_fen = board.fen()
            s = game.state_from_text(start_fen)
            if not s.is_terminal():
                break
        start = chess.Board(start_fen)
        pg = chess.pgn.Game()
        pg.headers["Event"] = f"teacher game {index}"
        pg.headers["Date"] = time.strftime("%Y.%m.%d")
        pg.headers["White"] = pg.headers["Black"] = self.name
        limit_text = f"nodes={cfg.nodes}" if cfg.nodes is not None else f"depth={cfg.depth}"
        pg.headers["Annotator"] = f"{self.name} {limit_text} multipv={cfg.multipv}"
        if start.fen() != chess.STARTING_FEN:
            pg.setup(start)
        node, labelled = pg, 0
        while not s.is_terminal() and labelled < cfg.max_plies:
            infos = self.engine.analyse(board, self.limit, multipv=cfg.multipv, game=index)
            infos = infos if isinstance(infos, list) else [infos]
            top = infos[0]
            if not top.get("pv"):
                raise TeachError(f"chess engine {cfg.engine!r} gave no move in {board.fen()}")
            move = top["pv"][0]
            node = node.add_variation(move)
            parts = []
            wdl = top.get("wdl")
            if wdl is not None:
                w = wdl.white()
                parts.append(f"[%wdl {w.wins} {w.draws} {w.losses}]")
            if cfg.multipv > 1:
                rows = [f"{i['pv'][0].uci()} {_eval_text(i['score'].white())}" for i in infos if i.get("pv")]
                parts.append(f"[%mpv {' '.join(rows)}]")
            node.comment = " ".join(parts)
            node.set_eval(top["score"])
            a = s.move_to_action(move)
            s = s.apply(a)
            board.push(move)
            labelled += 1
        if s.is_terminal():
            r = s.returns()
            pg.headers["Result"] = "1-0" if r[0] > 0 else "0-1" if r[0] < 0 else "1/2-1/2"
            pg.headers["Termination"] = str(s.termination() or "rules")
        else:
            pg.headers["Result"] = "*"
            pg.headers["Termination"] = f"unterminated: ply cap {cfg.max_plies}"
        return str(pg) + "\n", labelled

    def close(self) -> None:
        try:
            self.engine.quit()
        except Exception:  # noqa: BLE001 - closing a dead engine
            try:
                self.engine.close()
            except Exception:  # noqa: BLE001
                pass


def _eval_text(score) -> str:
    """A White-view `chess.engine.Score` as %eval text: '0.35', '-1.20', '#3', '#-2'."""
    if score.is_mate():
        return f"#{score.mate()}"
    return f"{score.score() / 100:.2f}"


def make_teacher(cfg):
    return GoTeacher(cfg) if isinstance(cfg, GoTeach) else ChessTeacher(cfg)


# -------------------------------------------------------------------------------------- targets

def wdl_target(label: dict) -> tuple[float, float, float] | None:
    """(win, draw, loss) fractions from White's view for one read-back label (see the module doc)."""
    if "wdl" in label:
        w, d, l = label["wdl"]
        tot = max(1, w + d + l)
        return w / tot, d / tot, l / tot
    if "mate" in label:
        return (1.0, 0.0, 0.0) if label["mate"] > 0 else (0.0, 0.0, 1.0)
    if "eval_cp" in label:
        p = 1.0 / (1.0 + math.exp(-0.00368208 * label["eval_cp"]))
        return p, 0.0, 1.0 - p
    return None


def multipv_policy(state, label: dict, temperature_cp: float = 100.0) -> dict[int, float] | None:
    """A policy target {action: probability} over the teacher's multipv moves in `state` (the
    position the labelled move was played in): softmax of the side to move's centipawns / T;
    mate in n counts as +-(10000 - 10 n) centipawns."""
    rows = label.get("multipv")
    if not rows:
        return None
    sign = 1.0 if state.to_play() == 0 else -1.0
    acts, cps = [], []
    from boardnet.players import chess_action
    for r in rows:
        cp = r["eval_cp"] if "eval_cp" in r else math.copysign(10000 - 10 * abs(r["mate"]), r["mate"])
        acts.append(chess_action(state, r["move"]))
        cps.append(sign * cp)
    z = np.array(cps, dtype=np.float64) / temperature_cp
    p = np.exp(z - z.max())
    p /= p.sum()
    out: dict[int, float] = {}
    for a, q in zip(acts, p):
        out[a] = out.get(a, 0.0) + float(q)
    return out


# -------------------------------------------------------------------------------------- the run

def game_path(out: Path, kind: str, index: int) -> Path:
    return out / f"{kind}-{index:06d}.{_EXT[kind]}"


def done_indices(out: Path, kind: str) -> set[int]:
    pat = re.compile(rf"{kind}-(\d{{6,}})\.{_EXT[kind]}")
    return {int(m.group(1)) for f in os.listdir(out) if (m := pat.fullmatch(f))}


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


_TEACHER = None


def _init_worker(cfg) -> None:
    global _TEACHER
    _TEACHER = make_teacher(cfg)


def _play_one(args: tuple) -> dict:
    """Play and write game `index` with this process's teacher; per-game figures back."""
    global _TEACHER
    cfg, out, index = args
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if _TEACHER is None:
            _TEACHER = make_teacher(cfg)
        e0 = _TEACHER.cpu_seconds()
        text, positions = _TEACHER.play(index)
        e1 = _TEACHER.cpu_seconds()
        _atomic_write(game_path(Path(out), cfg.kind, index), text)
    except Exception as e:  # noqa: BLE001 - one failed game must not stop the run; it is redone on rerun
        if _TEACHER is not None:
            try:
                _TEACHER.close()
            except Exception:  # noqa: BLE001
                pass
        _TEACHER = None    # a fresh engine for the next game
        return {"index": index, "error": f"{type(e).__name__}: {e}"}
    return {"index": index, "positions": positions, "teacher_cpu_s": max(0.0, e1 - e0),
            "our_cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0}


def _close_worker() -> None:
    global _TEACHER
    if _TEACHER is not None:
        _TEACHER.close()
        _TEACHER = None


def default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _settings(cfg) -> dict:
    """What makes the games in a folder what they are (not how long to wait for an answer)."""
    d = asdict(cfg)
    d.pop("timeout", None)
    if "openings" in d:
        d["openings"] = list(d["openings"])
    return {"kind": cfg.kind, **{k: v for k, v in d.items() if v is not None}}


def teach(cfg, games: int, out: str | os.PathLike, *, workers: int | None = None, progress: bool = True,
          notice: Callable[[str], None] | None = None) -> dict:
    """Play teacher games 0..games-1 into `out` (those already there are kept), with `workers`
    processes (default: the cores this process may use). Returns the summary written to
    `out/teach-summary.json`; raises TeachError for a missing engine or a bad command or folder.
    Ctrl-C (KeyboardInterrupt) keeps the finished games, writes their summary (`"interrupted": true`)
    and re-raises."""
    out = Path(out)
    probe = make_teacher(cfg)   # a missing or broken engine fails here, once, with its reason
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = open(out / LOCK_FILE, "w")
    except OSError:
        probe.close()
        raise
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        probe.close()
        raise TeachError(f"{out}: another `selfplay teach` is writing into this folder") from None
    try:
        return _teach_locked(cfg, games, out, workers, progress, notice, probe)
    finally:
        lock.close()


def _teach_locked(cfg, games, out, workers, progress, notice, probe) -> dict:
    settings = _settings(cfg)
    sfile = out / SETTINGS_FILE
    if sfile.exists():
        old = json.loads(sfile.read_text())
        if old != settings:
            diff = ", ".join(f"{k}: {old.get(k)!r} there, {settings.get(k)!r} now"
                             for k in sorted(set(old) | set(settings)) if old.get(k) != settings.get(k))
            probe.close()
            raise TeachError(f"{out} holds teacher games made with other settings ({diff}); "
                             "use another --out")
    for f in os.listdir(out):   # a game cut off mid-write: redone below
        if ".tmp-" in f and f.startswith(f"{cfg.kind}-"):
            os.remove(out / f)
    engine_name = probe.name
    if not sfile.exists():
        _atomic_write(sfile, json.dumps(settings, indent=1) + "\n")
    done = done_indices(out, cfg.kind)
    todo = [i for i in range(games) if i not in done]
    workers = max(1, min(workers or default_workers(), len(todo) or 1))
    from tqdm import tqdm
    bar = tqdm(total=games, initial=games - len(todo), disable=not progress, unit="game",
               desc=f"teach {cfg.kind}")
    rows: list[dict] = []
    t0 = time.perf_counter()
    interrupted = False
    try:
        if workers == 1:
            global _TEACHER
            _TEACHER = probe
            try:
                for i in todo:
                    rows.append(_play_one((cfg, str(out), i)))
                    bar.update(1)
            finally:
                _close_worker()
        else:
            probe.close()
            import multiprocessing as mp
            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_init_worker, initargs=(cfg,)) as pool:
                for r in pool.imap_unordered(_play_one, [(cfg, str(out), i) for i in todo]):
                    rows.append(r)
                    bar.update(1)
    except KeyboardInterrupt:   # Ctrl-C or SIGTERM: the games finished so far are kept and summarised
        interrupted = True
    finally:
        bar.close()
    wall = time.perf_counter() - t0
    ok = [r for r in rows if "error" not in r]
    failed = sorted((r for r in rows if "error" in r), key=lambda r: r["index"])
    positions = sum(r["positions"] for r in ok)
    teacher_cpu = sum(r["teacher_cpu_s"] for r in ok)
    our_cpu = sum(r["our_cpu_s"] for r in ok)
    cpu = teacher_cpu + our_cpu
    summary = {"kind": cfg.kind, "engine": engine_name, "settings": settings, "games_requested": games,
               "games_in_folder": len(done_indices(out, cfg.kind)),
               "this_run": {"games": len(ok), "failed": len(failed), "workers": workers,
                            "positions": positions, "teacher_cpu_s": round(teacher_cpu, 3),
                            "our_cpu_s": round(our_cpu, 3), "wall_s": round(wall, 3),
                            "positions_per_cpu_s": round(positions / cpu, 3) if cpu > 0 else None,
                            "positions_per_wall_s": round(positions / wall, 3) if wall > 0 else None},
               "errors": [[r["index"], r["error"]] for r in failed[:50]]}
    if interrupted:
        summary["interrupted"] = True
    _atomic_write(out / SUMMARY_FILE, json.dumps(summary, indent=1) + "\n")
    if interrupted:
        raise KeyboardInterrupt
    if failed and notice is not None:
        notice(f"{len(failed)} game(s) failed (rerun the same command to redo them); first: "
               f"game {failed[0]['index']}: {failed[0]['error']}")
    return summary


def iter_games(out: str | os.PathLike, kind: str) -> Iterator[Path]:
    """The finished game files in `out`, by index."""
    out = Path(out)
    for i in sorted(done_indices(out, kind)):
        yield game_path(out, kind, i)
