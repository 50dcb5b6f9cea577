"""UCI sessions line by line (malformed commands included), the background search answering
`isready`/`stop`, the time manager, score mapping, and loading a checkpoint by `setoption Model`."""
from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import chess
import numpy as np
import pytest
import torch

from boardnet.cli import main
from boardnet.engine import Engine
from boardnet.games import make_game
from boardnet.nets import build_net, model_state
from boardnet.players import load_engine
from boardnet.search import SearchConfig
from boardnet.timeman import allot_time
from boardnet.uci import UCIServer, mate_moves, parse_go, value_to_cp
from traincore.checkpoint import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]
GAME = make_game("chess")


class Out(io.StringIO):
    """Collects lines; `wait_for(prefix)` blocks until a line starts with prefix."""

    def __init__(self):
        super().__init__()
        self.cv = threading.Condition()

    def write(self, s):
        with self.cv:
            n = super().write(s)
            self.cv.notify_all()
            return n

    def lines(self):
        return self.getvalue().splitlines()

    def wait_for(self, prefix, timeout=60):
        with self.cv:
            assert self.cv.wait_for(lambda: any(ln.startswith(prefix) for ln in self.lines()), timeout), \
                f"no line starting {prefix!r} in {self.lines()}"


def tiny_engine(model=None):
    # A random 1-block net: fast and deterministic, enough to exercise the protocol.
    return Engine(GAME, build_net(GAME, "b1c8"), search=SearchConfig(num_simulations=16), batch_size=8)


def server():
    out = Out()
    return UCIServer(GAME, tiny_engine, visits=16, out=out), out


def legal_uci(fen_or_board, move):
    board = fen_or_board if isinstance(fen_or_board, chess.Board) else chess.Board(fen_or_board)
    return chess.Move.from_uci(move) in board.legal_moves


def test_handshake_and_options():
    s, out = server()
    s.run(["uci", "isready", "setoption name Visits value 32", "setoption name Threads value 1",
           "setoption name Move Overhead value 10", "quit", "isready"])
    lines = out.lines()
    assert lines[0] == "id name boardnet"
    assert lines[2:9] == ["option name Visits type spin default 16 min 1 max 1000000000",
                          "option name Threads type spin default 1 min 1 max 256",
                          "option name MoveOverhead type spin default 50 min 0 max 5000",
                          "option name Model type string default <default>",
                          "option name UCI_ShowWDL type check default true",
                          "option name Ponder type check default false",
                          "option name MultiPV type spin default 1 min 1 max 500"]
    assert lines[9:] == ["uciok", "readyok"]   # nothing after quit
    assert (s.visits, s.threads, s.overhead_ms) == (32, 1, 10)


def test_wdl_can_be_switched_off():
    s, out = server()
    s.run(["setoption name UCI_ShowWDL value false", "setoption name UCI_ShowWDL value maybe",
           "position startpos", "go nodes 4"])
    lines = out.lines()
    assert lines[0] == "info string error: setoption UCI_ShowWDL value 'maybe': not a valid value"
    assert " wdl " not in lines[-2] and " score cp " in lines[-2]


def test_malformed_commands_get_info_string_errors():
    s, out = server()
    s.run(["position", "position foo", "position startpos moves e2e5", "position fen not/a/fen w - - 0 1",
           "go nodes", "go nodes x", "go sideways", "setoption name Visits value -3",
           "setoption name Colour value red", "setoption Visits", "xyzzy", "isready"])
    errs = [ln for ln in out.lines() if ln.startswith("info string error: ")]
    assert [e[len("info string error: "):] for e in errs] == [
        "position: expected 'startpos' or 'fen <FEN>'",
        "position 'foo': expected 'startpos' or 'fen <FEN>'",
        "chess move 'e2e5': not legal in rnbqkbnr/pppppppp/8/8/8/8/PPPPPPPP/RNBQKBNR w KQkq - 0 1",
        errs[3][len("info string error: "):],
        "go nodes: missing a number",
        "go nodes 'x': not an integer",
        "go: unknown argument 'sideways'",
        "setoption Visits value '-3': not a valid value",
        "setoption: unknown option 'Colour'",
        "setoption 'Visits': expected 'name <id> [value <x>]'",
        "unknown command 'xyzzy'",
    ]
    assert "not/a/fen" in errs[3]
    assert out.lines()[-1] == "readyok"
    # a bad position leaves no position: `go` must not answer with a move for the board before it
    assert s.state is None
    s.run(["go nodes 2"])
    fen_error = errs[3][len("info string error: "):]  # the last position command's error
    assert out.lines()[-2:] == [f"info string error: go: no position to search (the last position command failed: "
                                f"{fen_error})", "bestmove 0000"]
    s.run(["position startpos"])
    assert s.state.to_text() == chess.STARTING_FEN


def test_a_gui_move_list_runs_through_claimable_draws_and_the_engine_still_moves():
    """A GUI sends the game as played: a threefold repetition or the fifty-move rule is a draw only when claimed,
    and a late FEN is no self-play ply cap; the engine keeps the moves and answers `go` with a legal move."""
    s, out = server()
    shuffle = "g1f3 g8f6 f3g1 f6g8 " * 2
    s.run(["position startpos moves " + shuffle + "e2e4", "go nodes 2"])
    assert s.state.fen().startswith("rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq")
    assert out.lines()[-1].split()[0] == "bestmove" and out.lines()[-1] != "bestmove (none)"
    move = out.lines()[-1].split()[1]
    assert chess.Move.from_uci(move) in chess.Board(s.state.fen()).legal_moves
    s.run(["position startpos moves " + shuffle, "go nodes 2"])  # the threefold position itself
    assert "info string threefold repetition: the GUI adjudicates; searching on" in out.lines()
    assert chess.Move.from_uci(out.lines()[-1].split()[1]) in chess.Board().legal_moves
    s.run(["position fen 4k3/8/8/8/8/8/8/R3K3 w - - 99 300 moves a1a2", "go nodes 2"])  # clock 100, ply 599
    last = out.lines()[-1].split()[1]
    assert chess.Move.from_uci(last) in chess.Board("4k3/8/8/8/8/8/R7/4K3 b - - 100 300").legal_moves
    s.run(["position fen 4k3/4Q3/4K3/8/8/8/8/8 b - - 0 1", "go nodes 2"])  # mated: no move exists
    assert out.lines()[-2:] == ["info string position is over: checkmate", "bestmove (none)"]


def test_go_nodes_plays_a_legal_move_with_info():
    s, out = server()
    s.run(["position startpos moves e2e4 e7e5 g1f3", "go nodes 24"])
    lines = out.lines()
    best = lines[-1].split()
    assert best[0] == "bestmove"
    board = chess.Board()
    for m in ("e2e4", "e7e5", "g1f3"):
        board.push_uci(m)
    assert legal_uci(board, best[1])
    info = lines[-2].split()
    assert info[0] == "info" and info[info.index("nodes") + 1] == "24"
    assert info[info.index("score") + 1] == "cp"
    w, d, l = (int(x) for x in info[info.index("wdl") + 1: info.index("wdl") + 4])
    assert w + d + l == 1000
    assert info[info.index("pv") + 1] == best[1]


def test_position_fen_with_moves():
    s, out = server()
    fen = "r1bqkbnr/pppp1ppp/2n5/4p3/4P3/5N2/PPPP1PPP/RNBQKB1R w KQkq - 2 3"
    s.run([f"position fen {fen} moves f1b5", "go nodes 8"])
    board = chess.Board(fen)
    board.push_uci("f1b5")
    assert legal_uci(board, out.lines()[-1].split()[1])


def test_isready_and_stop_are_answered_while_thinking():
    s, out = server()
    s.handle("position startpos")
    s.handle("go infinite")
    s.handle("isready")
    out.wait_for("readyok")
    assert not any(ln.startswith("bestmove") for ln in out.lines())   # still searching
    s.handle("stop")
    lines = out.lines()
    assert lines.index("readyok") < len(lines) - 1 and lines[-1].startswith("bestmove ")
    assert legal_uci(chess.Board(), lines[-1].split()[1])
    s.handle("stop")   # stop with nothing running is a no-op
    assert out.lines() == lines


def test_clock_go_uses_the_time_manager_and_ends_on_its_own():
    s, out = server()
    s.run(["position startpos", "go wtime 3000 btime 3000 winc 0 binc 0"])
    assert out.lines()[-1].startswith("bestmove ")


def test_terminal_position_answers_bestmove_none():
    s, out = server()
    s.run(["position startpos moves f2f3 e7e5 g2g4 d8h4", "go nodes 8"])
    assert out.lines()[-2] == "info string position is over: checkmate"
    assert out.lines()[-1] == "bestmove (none)"


def test_setoption_model_loads_a_checkpoint(tmp_path):
    net = build_net(GAME, "b1c8")
    path = save_checkpoint(tmp_path / "tiny.pt", model_state(net, "chess"))
    out = Out()
    s = UCIServer(GAME, lambda m: load_engine(GAME, m, visits=8), visits=8, out=out)
    s.run(["setoption name Model value nosuchnet", f"setoption name Model value {path}",
           "position startpos", "go nodes 8"])
    lines = out.lines()
    assert lines[0].startswith("info string error: setoption Model 'nosuchnet': model 'nosuchnet': "
                               "no such file and no shipped net of that name")
    assert s.model == str(path) and s.engine.net is not None
    assert lines[-1].startswith("bestmove ")


def test_parse_go():
    assert parse_go("wtime 1000 btime 2000 winc 10 binc 20 movestogo 5".split()) == dict(
        wtime=1000, btime=2000, winc=10, binc=20, movestogo=5)
    assert parse_go(["infinite"]) == {"infinite": True}
    assert parse_go("searchmoves e2e4 d2d4 nodes 5".split()) == {"searchmoves": ["e2e4", "d2d4"], "nodes": 5}


def test_time_manager_golden():
    assert allot_time(60.0) == pytest.approx(2.0)                       # 60 / 30
    assert allot_time(60.0, 1.0) == pytest.approx(2.8)                  # + 0.8 * increment
    assert allot_time(10.0, 0.0, 4) == pytest.approx(2.0)               # 10 / (4 + 1)
    assert allot_time(10.0, 0.0, 1) == pytest.approx(5.0)               # last move before the control
    assert allot_time(1.0, 5.0) == pytest.approx(0.5 - 0.05)            # capped at half the clock
    assert allot_time(0.01) == 0.01                                     # the floor
    with pytest.raises(ValueError, match="movestogo=0: expected a positive count"):
        allot_time(10.0, 0.0, 0)


def test_value_to_cp_golden():
    assert value_to_cp(0.0) == 0
    assert value_to_cp(0.5) == 111 and value_to_cp(-0.5) == -111     # 111.71 * tan(0.781)
    assert value_to_cp(1.0) == value_to_cp(0.999) > 10000


def test_cli_uci_in_process(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("uci\nposition startpos moves d2d4\ngo nodes 2\nquit\n"))
    assert main(["uci", "--visits", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "uciok" in lines and lines[-1].startswith("bestmove ")


@pytest.mark.slow
def test_cli_uci_through_a_pipe():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "boardnet.cli", "uci", "--visits", "4"],
                       input="uci\nisready\nposition startpos moves d2d4\ngo nodes 4\n",
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "uciok" in lines and "readyok" in lines
    board = chess.Board()
    board.push_uci("d2d4")
    assert lines[-1].startswith("bestmove ") and legal_uci(board, lines[-1].split()[1])


@pytest.mark.parametrize("argv", [["uci", "--model", "go9"], ["gtp", "go9", "--model", "chess"],
                                  ["uci", "--device", "tpu"]])
def test_a_bad_model_or_device_ends_the_start_in_one_line(argv, capsys):
    """Found by a user: the session used to start, answer `isready`, then never send a bestmove (UCI) or fail every
    genmove (GTP). The engine is now built before the first command is read."""
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("precision:")]
    assert len(err) == 1 and err[0].startswith(f"boardnet {argv[0]}: "), err


MATE_IN_ONE = "6k1/5ppp/8/8/8/8/8/R5K1 w - - 0 1"   # Ra8#


def test_go_searchmoves_limits_the_root_moves():
    s, out = server()
    s.run([f"position fen {MATE_IN_ONE}", "go nodes 400"])
    assert out.lines()[-1] == "bestmove a1a8"
    # the mate left out: only the given moves are searched, and the info line's pv starts with the move played
    s.run(["go searchmoves a1a2 g1f1 nodes 64"])
    lines = out.lines()
    best = lines[-1].split()[1]
    assert best in ("a1a2", "g1f1") and lines[-2].split()[lines[-2].split().index("pv") + 1] == best
    assert s.engine._tree.root_restricted and np.count_nonzero(s.engine._tree.visit_counts()) <= 2
    # the same position again without searchmoves: a fresh search of every move finds the mate again
    s.run(["go nodes 400"])
    assert out.lines()[-1] == "bestmove a1a8" and not s.engine._tree.root_restricted
    # an illegal or malformed move gets an error line and is left out; none legal: every move is searched
    n = len(out.lines())
    s.run(["go searchmoves e2e4 zz9 a1b1 nodes 16"])
    new = out.lines()[n:]
    assert "info string error: go searchmoves e2e4: not a legal move here; ignored" in new
    assert "info string error: go searchmoves zz9: not a legal move here; ignored" in new
    assert new[-1].split()[:2] == ["bestmove", "a1b1"]
    n = len(out.lines())
    s.run(["go searchmoves e2e4 nodes 400"])
    new = out.lines()[n:]
    assert "info string error: go searchmoves: no legal move given; searching every move" in new
    assert new[-1] == "bestmove a1a8"


def wait_until(cond, timeout=60):
    t = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if cond():
            return
        t.wait(0.02)
    raise AssertionError("condition not reached")


def test_bestmove_names_the_reply_to_ponder_on():
    s, out = server()
    s.run(["position startpos", "go nodes 64"])
    words = out.lines()[-1].split()
    pv = out.lines()[-2].split()
    pv = pv[pv.index("pv") + 1:]
    assert words[0] == "bestmove" and words[2] == "ponder" and words[1:4:2] == pv[:2]
    board = chess.Board()
    board.push_uci(words[1])
    assert legal_uci(board, words[3])


def test_go_ponder_waits_for_ponderhit_then_obeys_the_limits_of_the_same_go():
    s, out = server()
    s.handle("setoption name Ponder value true")
    assert s.ponder
    s.handle("isready")     # loads the engine, which the test then reads beside the search thread
    s.handle("position startpos moves e2e4 e7e5")
    s.handle("go ponder nodes 40")
    # pondering ignores the node limit: the tree grows past it and no bestmove comes
    wait_until(lambda: s.engine._tree is not None and s.engine._tree.num_visits > 200)
    assert not any(ln.startswith("bestmove") for ln in out.lines())
    s.handle("ponderhit")          # the limit now counts the pondered visits: the search ends at once
    out.wait_for("bestmove ")
    s.handle("isready")
    out.wait_for("readyok")
    assert s._thread is None or not s._thread.is_alive()
    board = chess.Board()
    for m in ("e2e4", "e7e5"):
        board.push_uci(m)
    assert legal_uci(board, [ln for ln in out.lines() if ln.startswith("bestmove")][0].split()[1])


def test_ponder_miss_is_stopped_and_ponderhit_starts_a_clock():
    s, out = server()
    s.handle("isready")
    s.handle("position startpos")
    s.handle("go ponder wtime 2000 btime 2000 winc 0 binc 0")
    wait_until(lambda: s.engine._tree is not None and s.engine._tree.num_visits > 50)
    s.handle("stop")                        # a ponder miss: the GUI still gets its bestmove
    assert out.lines()[-1].startswith("bestmove ")
    n = len(out.lines())
    s.handle("position startpos")
    s.handle("go ponder wtime 2000 btime 2000 winc 0 binc 0")
    wait_until(lambda: s.engine._tree is not None and s.engine._tree.num_visits > 50)
    assert s._limits.pondering and s._limits.deadline is None
    s.handle("ponderhit")                   # now the clock's time a move runs: the search ends by itself
    assert not s._limits.pondering and s._limits.deadline is not None
    wait_until(lambda: any(ln.startswith("bestmove ") for ln in out.lines()[n:]))
    s.handle("isready")
    assert sum(ln.startswith("bestmove") for ln in out.lines()[n:]) == 1
    s.handle("ponderhit")                   # nothing is pondering now
    assert out.lines()[-1] == "info string error: ponderhit: no `go ponder` search is running"


def test_go_ponder_at_end_of_input_is_stopped():
    s, out = server()
    s.run(["position startpos", "go ponder movetime 100000"])
    assert out.lines()[-1].startswith("bestmove ")


def test_go_depth_ends_when_the_principal_variation_is_that_long():
    s, out = server()
    s.handle("position startpos")
    s.handle("go depth 3")
    out.wait_for("bestmove ")   # ended by the depth (the end of input of `run` would stop an open-ended search)
    s.handle("isready")
    info = [ln.split() for ln in out.lines() if ln.startswith("info depth")][-1]
    assert int(info[2]) >= 3 and out.lines()[-2].startswith("bestmove ")
    assert len(s.engine._tree.principal_variation(3)) == 3
    s.handle("go infinite depth 1")   # infinite wins: only `stop` ends it
    assert s._limits.depth is None and s._limits.open_ended
    s.handle("stop")
    s.run(["go depth 0 nodes 16"])
    assert "info string error: go depth 0: must be >= 1; searching without it" in out.lines()
    assert out.lines()[-1].startswith("bestmove ")


def test_go_mate_ends_once_the_solver_proves_a_win():
    s, out = server()
    s.handle(f"position fen {MATE_IN_ONE}")
    s.handle("go mate 1")                       # no node limit: the proof ends it
    out.wait_for("bestmove ")
    s.handle("isready")
    assert out.lines()[-2] == "bestmove a1a8"
    assert s.engine._tree.proven_win()
    s.run(["position startpos", "go nodes 32"])
    assert not s.engine._tree.proven_win()


MATE_IN_TWO = "2K5/k7/8/8/8/8/8/5R2 w - - 0 1"   # Rf6 Ka8 Ra6# (no mate in one)


def test_go_mate_counts_moves_and_proven_lines_score_mate():
    """`go mate N` ends on a proven mate in N moves or fewer, not on a longer one; a proven line's score is
    `mate M` (moves, negative for the side being mated) with its proof as the pv."""
    assert [mate_moves(p) for p in (1, 2, 3, 4, -2, -4)] == [1, 1, 2, 2, -1, -2]
    torch.manual_seed(0)   # the tiny net's weights: how soon the proof comes depends on them
    s, out = server()
    s.handle(f"position fen {MATE_IN_TWO}")
    s.handle("go mate 2 nodes 20000")           # the proof ends it long before the nodes would
    out.wait_for("bestmove ")
    s.handle("isready")
    info = [ln for ln in out.lines() if ln.startswith("info depth")][-1]
    assert info.endswith("score mate 2 wdl 1000 0 0 pv f1f6 a7a8 f6a6")
    assert out.lines()[-2] == "bestmove f1f6 ponder a7a8"
    visits = s.engine._tree.num_visits
    assert visits < 20000
    s.run([f"go mate 1 nodes {visits + 100}"])   # the same tree: its mate in two does not end a mate-in-one search
    assert s.engine._tree.num_visits >= visits + 100 and s.engine._tree.proven_plies() == 3
    s.run(["position fen 2K5/k7/5R2/8/8/8/8/8 b - - 1 1", "go nodes 64"])   # the mated side: Ka8 Ra6#
    info = [ln for ln in out.lines() if ln.startswith("info depth")][-1]
    assert info.endswith("score mate -1 wdl 0 0 1000 pv a7a8 f6a6") and out.lines()[-1] == "bestmove a7a8 ponder f6a6"
    s.run(["go mate 0 nodes 8"])
    assert "info string error: go mate 0: must be >= 1; searching without it" in out.lines()


@pytest.mark.slow
def test_python_chess_pondering_with_hits_and_a_miss():
    """python-chess's UCI client as the GUI: `play(ponder=True)` leaves the engine pondering on its `ponder` move,
    the next `play` sends `ponderhit` when that reply was played (or `stop` and a new `go` when it was not)."""
    import chess.engine

    env = dict(os.environ, PYTHONPATH=str(ROOT))
    eng = chess.engine.SimpleEngine.popen_uci([sys.executable, "-m", "boardnet.cli", "uci", "--visits", "32"],
                                              env=env, cwd=ROOT, timeout=180)
    try:
        assert eng.options["Ponder"].default is False
        board, limit = chess.Board(), chess.engine.Limit(white_clock=5, black_clock=5)
        for ply in range(3):
            r = eng.play(board, limit, ponder=True)
            assert r.move in board.legal_moves and r.ponder is not None
            board.push(r.move)
            # hits twice, then a miss: another legal reply than the one pondered on
            reply = r.ponder if ply < 2 else next(m for m in board.legal_moves if m != r.ponder)
            board.push(reply)
        r = eng.play(board, chess.engine.Limit(nodes=16))
        assert r.move in board.legal_moves
    finally:
        eng.quit()


def test_multipv_gives_each_of_the_best_moves_its_own_line():
    s, out = server()
    s.run(["setoption name MultiPV value 3", "position startpos moves e2e4", "go nodes 200"])
    lines = out.lines()
    best = lines[-1].split()[1]
    last = [ln.split() for ln in lines if ln.startswith("info depth")][-3:]
    assert [w[w.index("multipv") + 1] for w in last] == ["1", "2", "3"]
    pvs = [w[w.index("pv") + 1:] for w in last]
    assert pvs[0][0] == best and len({pv[0] for pv in pvs}) == 3
    for w, pv in zip(last, pvs):
        board = chess.Board()
        board.push_uci("e2e4")
        for m in pv:                       # each line is legal from the position
            assert legal_uci(board, m)
            board.push_uci(m)
        assert int(w[w.index("depth") + 1]) == len(pv) and "cp" in w
    s.run(["setoption name MultiPV value 0", "setoption name MultiPV value 1", "go nodes 16"])
    assert "info string error: setoption MultiPV value '0': not a valid value" in out.lines()
    assert "multipv" not in out.lines()[-2] and out.lines()[-2].startswith("info depth")
