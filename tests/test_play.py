"""`boardnet play`: sessions driven line by line (in process and through a pipe), board drawing,
move parsing per game, undo/hint/analyse/new/save, and the shipped-model loader."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import chess.pgn
import pytest

from boardnet import models
from boardnet.cli import main
from boardnet.engine import Engine
from boardnet.games import make_game
from boardnet.play import PlaySession, draw, human_sides
from boardnet.search import SearchConfig

ROOT = Path(__file__).resolve().parents[1]


def session(game_name: str, colour: str = "first", visits: int = 64, **kw):
    game = make_game(game_name)
    eng = Engine(game, None, search=SearchConfig(num_simulations=visits), seed=0)
    out = io.StringIO()
    s = PlaySession(game, eng, human=human_sides(game, colour), visits=visits, out=out,
                    err=io.StringIO(), prompt=False, **kw)
    return s, out


def run(s, out, *lines: str) -> list[str]:
    assert s.run(lines) == 0
    return out.getvalue().splitlines()


def test_illegal_and_unreadable_moves_get_one_line_and_play_goes_on():
    s, out = session("tictactoe", "both")
    lines = run(s, out, "b2", "b2", "z9", "", "# a comment", "a1")
    errors = [ln for ln in lines if ln.startswith("?")]
    assert errors == ["? tic-tac-toe move 'b2': cell is taken",
                      "? tic-tac-toe move 'z9': expected a cell a1-c3 or a digit 1-9"]
    assert s.state.to_text() == "....x.o.."
    assert lines[-1] == "move 3: X to move, last move a1"


def test_engine_replies_and_takes_an_immediate_win():
    # X: a3 b3 a1 (threatening c3); O (engine) holds a2 b2; c2 is the only winning move
    # (blocking at c3 makes no second threat because X holds a1).
    s, out = session("tictactoe", "first", visits=200)
    s.new()
    for m in ("a3", "a2", "b3", "b2", "a1"):
        s.push(s.state.text_to_action(m))
    s.human = frozenset()  # let the engine move for O now
    s.engine_turns()
    assert s.state.to_text() == "xx.ooox.."
    assert out.getvalue().splitlines()[-1] == "game over: O wins"
    assert any(ln.startswith("boardnet plays c2  (wins in 1 ply, proven, ") for ln in out.getvalue().splitlines())


def test_hint_names_a_proven_result():
    # X: a1 c1 a2, O: b1 b3, O to move: b2 completes the b file at once
    s, out = session("tictactoe", "both", visits=300)
    for m in ("a1", "b1", "c1", "b3", "a2"):
        s.push(s.state.text_to_action(m))
    lines = run(s, out, "hint")
    assert [ln for ln in lines if ln.startswith("hint: ")] == ["hint: b2  (O wins in 1 ply (proven), 300 visits)"]
    # X: a1 c1 a3, O: a2 b1 b2, X to move: O threatens c2 and b3, so every move loses in 2 plies
    s, out = session("tictactoe", "both", visits=300)
    for m in ("a1", "a2", "c1", "b1", "a3", "b2"):
        s.push(s.state.text_to_action(m))
    hint = [ln for ln in run(s, out, "hint") if ln.startswith("hint: ")]
    assert len(hint) == 1 and hint[0].endswith("  (X loses in 2 plies (proven), 300 visits)")


def test_undo_takes_back_the_engine_reply_too():
    s, out = session("connect4", "first")
    lines = run(s, out, "4", "undo", "undo")
    assert s.actions == []
    assert sum(ln.startswith("boardnet plays ") for ln in lines) == 1
    assert lines[-1] == "? undo: no moves to take back"


def test_engine_moves_first_when_human_plays_second():
    s, out = session("connect4", "second")
    run(s, out)
    assert len(s.actions) == 1 and s.state.to_play() == 1


def test_hint_and_analyse_report_moves_with_visits():
    s, out = session("tictactoe", "both", visits=50)
    lines = run(s, out, "hint", "analyse")
    hint = [ln for ln in lines if ln.startswith("hint: ")]
    assert len(hint) == 1 and "% for X" in hint[0]
    head = lines.index("    move  visits  prior   win%")
    rows = lines[head + 1: head + 6]
    assert len(rows) == 5
    visits = [int(r.split()[1]) for r in rows]
    assert visits == sorted(visits, reverse=True) and sum(visits) <= 50
    assert s.actions == []  # thinking for the human moves nothing


def test_new_resets_and_game_over_blocks_moves():
    s, out = session("tictactoe", "both")
    lines = run(s, out, "a3", "a2", "b3", "b2", "c3", "c1", "new", "b2")
    assert "game over: X wins" in lines
    assert "? move 'c1': the game is over (new, undo, save FILE or quit)" in lines
    assert "new game" in lines
    assert s.state.to_text() == "....x...."


def test_quit_stops_reading():
    s, out = session("tictactoe", "both")
    run(s, out, "b2", "quit", "a1")
    assert s.actions == [4]


def test_save_chess_pgn_round_trip(tmp_path):
    s, out = session("chess", "both")
    f = tmp_path / "g.pgn"
    lines = run(s, out, "e4", "e7e5", "Nf3", "Bishop", f"save {f}")
    assert "move 4: Black to move, last move Nf3" in lines   # SAN for people
    assert "? chess move 'Bishop': neither UCI (e2e4, e7e8q) nor SAN (e4, Nf3, exd5, O-O, e8=Q)" in lines
    pg = chess.pgn.read_game(io.StringIO(f.read_text()))
    assert [m.uci() for m in pg.mainline_moves()] == ["e2e4", "e7e5", "g1f3"]
    assert pg.headers["White"] == "human" and pg.headers["Result"] == "*"


def test_save_go_sgf_and_connect4_moves(tmp_path):
    s, out = session("go9", "both")
    f = tmp_path / "g.sgf"
    run(s, out, "D4", "pass", "E5", f"save {f}")
    text = f.read_text()
    assert text.startswith("(;FF[4]GM[1]") and "SZ[9]KM[7]" in text
    assert text.rstrip().endswith(";B[df];W[];B[ee])")
    s, out = session("connect4", "both")
    f = tmp_path / "c4.txt"
    run(s, out, "4", "4", "5", f"save {f}", "3", f"save {f}")  # saving again updates the session's own file
    assert f.read_text() == "4 4 5 3 *\n"
    mine = tmp_path / "notes.txt"
    mine.write_text("mine")
    lines = run(s, out, f"save {mine}")  # a file the session did not write is never replaced
    assert lines[-1] == f"? save '{mine}': the file exists and this session did not write it; give another name"
    assert mine.read_text() == "mine"


def test_save_to_a_bad_path_is_one_line():
    s, out = session("tictactoe", "both")
    lines = run(s, out, "save /nonexistent-dir/x.txt", "save")
    assert lines[-2] == "? save '/nonexistent-dir/x.txt': No such file or directory"
    assert lines[-1] == "? save: give a file name, e.g. save game.pgn"


def test_checkers_multi_jump_as_one_move():
    game = make_game("checkers")
    s, out = session("checkers", "both")
    # Black 11-15, White 24-20, Black 8-11, White 22-18, Black 15x22 (single jump).
    run(s, out, "11-15", "24-20", "8-11", "22-18", "15x22")
    assert len(s.actions) == 5 and s.state.to_play() == 1
    assert game is not None


def test_chess_board_unicode_ascii_and_last_move():
    game = make_game("chess")
    st = game.initial_state()
    st = st.apply(st.text_to_action("e4"))
    uni = draw(st, ascii_only=False, last=0)
    asc = draw(st, ascii_only=True, last=0)
    assert uni.splitlines()[0] == "8  ♜  ♞  ♝  ♛  ♚  ♝  ♞  ♜ "
    assert asc.splitlines()[0] == "8  r  n  b  q  k  b  n  r "
    assert asc.splitlines()[4] == "4  .  .  .  . [P] .  .  . "   # e4, the piece that moved
    assert asc.splitlines()[6] == "2  P  P  P  P [.] P  P  P "   # e2, where it came from
    assert asc.splitlines()[-1] == "   a  b  c  d  e  f  g  h"


def test_colour_names():
    assert human_sides(make_game("chess"), "black") == {1}
    assert human_sides(make_game("go9"), "black") == {0}
    assert human_sides(make_game("connect4"), "o") == {1}
    assert human_sides(make_game("tictactoe"), "none") == set()
    with pytest.raises(ValueError, match="--color 'red': choose one of first, second, white, black"):
        human_sides(make_game("chess"), "red")


def test_cli_play_through_a_pipe():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "boardnet.cli", "play", "tictactoe", "--visits", "30"],
                       input="b2\nb2\nnonsense\nundo\nquit\n", capture_output=True, text=True,
                       env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("boardnet play tictactoe: you play X.")
    assert "? tic-tac-toe move 'b2': cell is taken" in lines
    assert "? tic-tac-toe move 'nonsense': expected a cell a1-c3 or a digit 1-9" in lines
    assert sum(ln.startswith("boardnet plays ") for ln in lines) == 1
    assert lines[-1] == "move 1: X to move"   # undo went back to the empty board
    assert "no shipped net" not in p.stderr     # tic-tac-toe ships a net: it is used without --model


def test_cli_play_without_a_shipped_net_says_so():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, "-m", "boardnet.cli", "play", "go13", "--visits", "4"],
                       input="quit\n", capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "no shipped net for go13" in p.stderr and p.stderr.count("\n") == 1


def test_cli_bad_model_name_is_one_line(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["play", "connect4", "--model", "nosuchnet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("boardnet play: model 'nosuchnet': no such file and no shipped net of that name; ")
    assert err.count("\n") == 1


def test_cli_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for cmd in ("play", "uci", "gtp", "arena", "models"):
        assert f"    {cmd} " in text


# -- shipped models ------------------------------------------------------------------------------------

def test_resolve_paths_names_and_errors(tmp_path, monkeypatch):
    ck = tmp_path / "net.pt"
    ck.write_bytes(b"x")
    assert models.resolve(str(ck)) == ck
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    assert models.available() == ["net"]
    assert models.resolve("net") == ck and models.resolve("net.pt") == ck
    with pytest.raises(models.ModelNotFoundError, match=r"model 'other': no such file and no shipped "
                       r"net of that name; shipped nets: net$"):
        models.resolve("other")
    (tmp_path / "net.md").write_text(models.card_template(
        "net", game="connect4", network="b6c64", data="1 M positions", compute="1 GPU-hour",
        strength="90% vs mcts", checkpoint="schema 1"))
    assert models.read_card("net")["Network"] == "b6c64"
    with pytest.raises(ValueError, match="card: model card lacks Compute, Strength"):
        models.check_card("- **Game:** go\n- **Network:** x\n- **Data:** y\n- **Checkpoint:** z\n")


def test_shipped_cards_are_complete():
    for name in models.available():
        models.read_card(name)   # raises naming what is missing


def test_default_model_is_the_shipped_net_else_network_free(tmp_path, monkeypatch, capsys):
    from boardnet.nets import build_net, model_state
    from boardnet.players import load_engine
    from traincore.checkpoint import save_checkpoint

    game = make_game("connect4")
    monkeypatch.setattr(models, "MODELS_DIR", tmp_path)
    notes = []
    assert load_engine(game, None, visits=8, notice=notes.append).net is None
    assert notes == ["note: no --model given and no shipped net for connect4; playing without a network "
                     "(uniform priors and roll-outs), so expect weak play"]
    save_checkpoint(tmp_path / "connect4.pt", model_state(build_net(game, "b1c8"), "connect4"))
    (tmp_path / "connect4.md").write_text(models.card_template(
        "connect4", game="connect4", network="b1c8", data="none (test)", compute="none",
        strength="untrained", checkpoint="schema 1"))
    notes.clear()
    eng = load_engine(game, None, visits=8, notice=notes.append)
    assert eng.net is not None and notes == []
    assert load_engine(game, "connect4", visits=8).net is not None   # by name
    with pytest.raises(ValueError, match="it was trained for connect4, not tictactoe"):
        load_engine(make_game("tictactoe"), "connect4", visits=8)
    assert main(["models"]) == 0
    assert capsys.readouterr().out == "connect4     b1c8; strength: untrained\n"
    assert main(["models", "connect4"]) == 0
    assert capsys.readouterr().out.startswith("# connect4\n\n- **Game:** connect4\n")


def test_progress_snapshots_match_the_final_analysis():
    from boardnet.players import ProgressReporter

    game = make_game("connect4")
    eng = Engine(game, None, search=SearchConfig(num_simulations=48), batch_size=8, seed=3)
    seen = []
    an = eng.analyse(game.state_from_text("4453"), visits=48,
                     on_progress=ProgressReporter(eng, seen.append, interval=0.0))
    assert len(seen) >= 6   # one per batch of up to 8 leaves
    last = seen[-1]
    assert (last.best_move, last.pv, last.nodes) == (an.best_move, an.pv, an.nodes)
    assert [(r.move, r.visits) for r in last.rows] == [(r.move, r.visits) for r in an.rows]
    assert [s.nodes for s in seen] == sorted(s.nodes for s in seen)


def test_thinking_progress_line_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    game = make_game("connect4")
    eng = Engine(game, None, search=SearchConfig(num_simulations=64), batch_size=4, seed=0)
    err = Tty()
    s = PlaySession(game, eng, human=frozenset(), visits=64, out=io.StringIO(), err=err, prompt=False)
    s.progress_interval = 0.0   # redraw after every batch
    s.engine_move()
    text = err.getvalue()
    assert text.count("\rthinking: ") >= 10 and text.endswith("\r\033[K")
    assert "% for X  pv " in text


def test_boards_with_coordinates_and_the_last_move_bracketed():
    c4 = make_game("connect4")
    assert draw(c4.state_from_text("4453"), last=2).splitlines()[-3:] == [
        "2  .  .  .  O  .  .  .  2",
        "1  .  . [O] X  X  .  .  1",
        "   1  2  3  4  5  6  7"]
    go = make_game("go9")
    a = go.text_to_action("C3")
    lines = draw(go.initial_state().apply(a), last=a).splitlines()
    assert lines[0] == "   A  B  C  D  E  F  G  H  J" and lines[7] == "3  .  . [X] .  .  .  .  .  .  3"
    ttt = make_game("tictactoe")
    assert draw(ttt.state_from_text("x...o...."), last=4).splitlines()[1:3] == ["3  X  .  .  3", "2  . [O] .  2"]


def test_a_checkpoint_whose_game_or_weights_do_not_fit_is_one_line(tmp_path, capsys, monkeypatch):
    """Found by a user: odd game_kwargs gave a TypeError traceback, weights of another shape a two-line
    load_state_dict error without the file's name."""
    import torch

    from boardnet.games import make_game
    from boardnet.nets import build_net, model_state
    from traincore.checkpoint import save_checkpoint
    net = build_net(make_game("connect4"), "b1c8")
    odd = model_state(net, "connect4", {"rows": -3})
    save_checkpoint(tmp_path / "odd.pt", odd)
    shaped = model_state(net, "connect4")
    shaped["model"] = dict(shaped["model"])
    first = next(iter(shaped["model"]))
    shaped["model"][first] = torch.zeros(1)
    save_checkpoint(tmp_path / "shape.pt", shaped)
    monkeypatch.setattr("sys.stdin", io.StringIO("quit\n"))
    for name, why in (("odd.pt", "TypeError"), ("shape.pt", "size mismatch")):
        assert main(["play", "connect4", "--model", str(tmp_path / name)]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and f"{tmp_path / name}: its game or net cannot be rebuilt" in err[0] and why in err[0]
