"""Arena matches (colours, openings, parallel games, SPRT stop, forfeits), Elo/SPRT maths with
golden values, and the game records (SGF, PGN, PDN, move lines) with round trips."""
from __future__ import annotations

import io
import math

import chess.pgn
import numpy as np
import time

import pytest

from boardnet import elo
from boardnet.cli import main
from boardnet.arena import play_game, play_match, read_openings
from boardnet.games import make_game
from boardnet.players import MCTSPlayer, RandomPlayer, make_player, parse_spec
from boardnet.records import game_record

class Resigner:
    name = "resigner"

    def new_game(self, game, start):
        pass

    def select(self, state, history):
        return None

    def close(self):
        pass


class Cheater(Resigner):
    name = "cheater"

    def select(self, state, history):
        return int(np.flatnonzero(~state.legal_mask())[0])   # an occupied cell


# -- Elo and SPRT -------------------------------------------------------------------------------------

def test_elo_golden():
    e, lo, hi = elo.elo_from_score(10, 5, 5)
    # score 0.625; per-game variance 0.171875; half width 1.96 * sqrt(0.171875 / 20) = 0.18169353
    assert e == pytest.approx(-400 * math.log10(0.6), abs=1e-9) == pytest.approx(88.7395, abs=1e-4)
    assert lo == pytest.approx(elo.score_to_elo(0.625 - 0.18169353), abs=1e-3)
    assert hi == pytest.approx(elo.score_to_elo(0.625 + 0.18169353), abs=1e-3)
    assert elo.elo_from_score(5, 0, 5)[0] == 0.0
    assert elo.elo_from_score(3, 0, 0) == (math.inf, math.inf, math.inf)
    assert elo.score_to_elo(elo.elo_to_score(123.0)) == pytest.approx(123.0)
    with pytest.raises(ValueError, match="wins=draws=losses=0: no games to score"):
        elo.elo_from_score(0, 0, 0)
    with pytest.raises(ValueError, match="draws=-1: expected a non-negative integer"):
        elo.elo_from_score(1, -1, 0)


def test_sprt_golden_and_verdicts():
    llr, verdict = elo.sprt(10, 5, 5, 0, 10)
    s1 = 1 / (1 + 10 ** (-10 / 400))
    assert llr == pytest.approx(20 * (s1 - 0.5) * (1.25 - 0.5 - s1) / (2 * 0.171875))
    assert verdict == "continue"
    assert elo.sprt_bounds(0.05, 0.05) == pytest.approx((math.log(0.05 / 0.95), math.log(0.95 / 0.05)))
    assert elo.sprt(600, 200, 200, 0, 20)[1] == "H1"
    assert elo.sprt(200, 200, 600, 0, 20)[1] == "H0"
    with pytest.raises(ValueError, match="expected elo0 < elo1"):
        elo.sprt(1, 1, 1, 10, 0)


# -- matches ---------------------------------------------------------------------------------------------

def test_match_alternates_colours_and_openings(tmp_path):
    game = make_game("connect4")
    f = tmp_path / "open.txt"
    f.write_text("# two openings\n4453\n1 7  # corners\n")
    openings = read_openings(f, game)
    assert openings == [[3, 3, 4, 2], [0, 6]]
    m = play_match(game, lambda: RandomPlayer(1, name="A"), lambda: RandomPlayer(2, name="B"), 6,
                   openings=openings)
    assert [g.index for g in m.games] == list(range(6))
    assert [g.a_first for g in m.games] == [True, False] * 3
    assert [g.actions[:len(openings[g.opening])] == openings[g.opening] for g in m.games] == [True] * 6
    assert [g.opening for g in m.games] == [0, 0, 1, 1, 0, 0]
    assert m.wins + m.draws + m.losses == 6
    for g in m.games:   # every game is legal and really over, and its record replays it
        st = game.initial_state()
        for a in g.actions:
            st = st.apply(a)
        assert st.is_terminal() and tuple(st.returns()) == g.result
        assert g.record.split()[:-1] == [str(a + 1) for a in g.actions]
    assert m.summary().startswith("A vs B: 6 games\n+")


def test_parallel_match_plays_every_index_once():
    game = make_game("tictactoe")
    m = play_match(game, lambda: RandomPlayer(3), lambda: MCTSPlayer(30, seed=1), 8, parallel=3)
    assert [g.index for g in m.games] == list(range(8))
    assert [g.a_first for g in m.games] == [True, False] * 4


def test_sprt_stops_the_match_early():
    # B resigns every game: with scores all 1, the LLR for (0, 50) passes 2.944 at game 5.
    game = make_game("tictactoe")
    m = play_match(game, lambda: RandomPlayer(0), Resigner, 50, sprt=(0, 50))
    assert (m.wins, m.draws, m.losses) == (5, 0, 0)
    assert m.sprt()[1] == "H1"
    assert all(g.termination == "resigner resigned" for g in m.games)


def test_illegal_move_forfeits_and_move_cap_draws():
    game = make_game("tictactoe")
    g = play_game(game, RandomPlayer(0), Cheater(), opening=[4])
    assert g.result == (1.0, -1.0) and g.termination.startswith("cheater played an illegal move")
    g = play_game(game, RandomPlayer(0), RandomPlayer(1), max_plies=3)
    assert g.result == (0.0, 0.0) and len(g.actions) == 3 and g.termination.startswith("adjudicated")


def test_openings_errors(tmp_path):
    game = make_game("tictactoe")
    f = tmp_path / "bad.txt"
    f.write_text("b2 a1\nb2 b2\n")
    with pytest.raises(ValueError, match=r"line 2: move 'b2': tic-tac-toe move 'b2': cell is taken"):
        read_openings(f, game)
    f.write_text("# nothing\n")
    with pytest.raises(ValueError, match="no openings in it"):
        read_openings(f, game)


def test_player_specs():
    assert parse_spec("uci:cmd=stockfish,UCI_Elo=1350") == ("uci", {"cmd": "stockfish", "UCI_Elo": "1350"})
    game = make_game("tictactoe")
    assert make_player("mcts:simulations=10,seed=3", game).name == "mcts(sims=10)"
    timed = make_player("mcts:movetime=0.05", game)
    assert timed.name == "mcts(movetime=0.05)"
    t0 = time.perf_counter()
    timed.select(game.initial_state(), [])
    assert timed._mcts.last_simulations > 1 and time.perf_counter() - t0 < 5.0  # stopped by the clock
    with pytest.raises(ValueError, match="movetime"):
        make_player("mcts:movetime=0", game)
    with pytest.raises(ValueError, match="unknown kind 'human'"):
        make_player("human", game)
    with pytest.raises(ValueError, match=r"unknown option\(s\) depth for mcts"):
        make_player("mcts:depth=3", game)
    with pytest.raises(ValueError, match="simulations='many' is not a valid int"):
        make_player("mcts:simulations=many", game)
    with pytest.raises(ValueError, match="'x' is not key=value"):
        parse_spec("random:x")
    # model=none: network-free even for a game that ships a net (tic-tac-toe does)
    free = make_player("engine:model=none,visits=8", game)
    assert free.engine.net is None
    assert free.select(game.initial_state(), []) in set(game.initial_state().legal_actions().tolist())


# -- records ----------------------------------------------------------------------------------------------

def test_sgf_golden():
    game = make_game("go", board_size=5, komi=0.5)
    acts = [game.text_to_action(m) for m in ("C3", "pass", "pass")]
    text = game_record(game, acts, players=("me", "you"), event="t", date=__import__("datetime").date(2026, 1, 2))
    assert text == ("(;FF[4]GM[1]CA[UTF-8]AP[boardnet]SZ[5]KM[0.5]RU[Tromp-Taylor]GN[t]DT[2026-01-02]"
                    "PB[me]PW[you]RE[B+24.5];B[cc];W[];B[])\n")
    resigned = game_record(game, acts[:1], result=(-1, 1), players=("a", "b"))
    assert "RE[W+R]" in resigned


def test_pgn_round_trip():
    game = make_game("chess")
    st, acts = game.initial_state(), []
    for m in ("f3", "e5", "g4", "Qh4#"):
        a = st.text_to_action(m)
        acts.append(a)
        st = st.apply(a)
    pg = chess.pgn.read_game(io.StringIO(game_record(game, acts, players=("W", "B"))))
    assert pg.headers["Result"] == "0-1" and pg.headers["White"] == "W"
    assert [m.uci() for m in pg.mainline_moves()] == ["f2f3", "e7e5", "g2g4", "d8h4"]


def test_pdn_joins_multi_jumps_and_reads_back():
    game = make_game("checkers")
    rng = np.random.default_rng(7)
    st, acts = game.initial_state(), []
    while not st.is_terminal():
        legal = st.legal_actions()
        a = int(legal[rng.integers(len(legal))])
        acts.append(a)
        st = st.apply(a)
    text = game_record(game, acts)
    body = text.split("\n\n", 1)[1].split()
    moves = [t for t in body[:-1] if not t.endswith(".")]
    assert body[-1] == {1: "1-0", -1: "0-1", 0: "1/2-1/2"}[int(st.returns()[0])]
    assert any(t.count("x") >= 2 for t in moves), "seed 7 has a multi-jump"
    back, s = [], game.initial_state()
    for t in moves:
        for a in s.text_to_actions(t):
            back.append(a)
            s = s.apply(a)
    assert back == acts


def test_cli_arena_writes_records(tmp_path, capsys):
    out = tmp_path / "games.txt"
    assert main(["arena", "tictactoe", "--a", "random:seed=1", "--b", "mcts:simulations=40", "--games", "4",
                 "--sprt", "0", "50", "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(ln.startswith("game ") for ln in lines) == 4
    assert lines[-4] == "random(seed=1) vs mcts(sims=40): 4 games"
    assert lines[-2].startswith("SPRT elo0=0 elo1=50: LLR ")
    assert len(out.read_text().splitlines()) == 4
    assert main(["arena", "tictactoe", "--a", "nope", "--b", "random"]) == 2
    assert "unknown kind 'nope'" in capsys.readouterr().err


def test_cli_arena_keeps_the_finished_games_of_a_stopped_match(tmp_path, monkeypatch, capsys):
    """--out is rewritten after every game: a match stopped by Ctrl-C after its 2nd game leaves 2 records."""
    import boardnet.arena as arena
    real = arena.play_match

    def stopped_after_two(*a, on_game=None, **kw):
        def on_game_then_stop(g, match):
            on_game(g, match)
            if len(match.games) == 2:
                raise KeyboardInterrupt
        return real(*a, on_game=on_game_then_stop, **kw)

    monkeypatch.setattr(arena, "play_match", stopped_after_two)
    out = tmp_path / "games.txt"
    rc = main(["arena", "tictactoe", "--a", "random:seed=1", "--b", "random:seed=2", "--games", "6",
               "--out", str(out)])
    assert rc != 0
    assert len(out.read_text().splitlines()) == 2
    capsys.readouterr()


def test_external_program_errors_are_one_line():
    from boardnet.players import ExternalError, GTPPlayer, UCIPlayer

    with pytest.raises(ExternalError, match="uci engine 'no-such-engine-xyz': program 'no-such-engine-xyz' "
                       "not found in PATH or /usr/games"):
        UCIPlayer("no-such-engine-xyz")
    with pytest.raises(ExternalError, match=r"gtp engine 'true': process exited( \(writing 'name'\))?: exit status 0$"):
        GTPPlayer("true")   # exits at once: no answer to `name`
    # an engine that dies says how, with its last words (GNU Go's assertion failures go to stderr)
    with pytest.raises(ExternalError, match=r"process exited( \(writing .name.\))?: exit status 3; its last stderr line: "
                                            r"'ASSERTION FAILED at board.c:42'$"):
        GTPPlayer("sh -c 'echo starting >&2; echo ASSERTION FAILED at board.c:42 >&2; exit 3'")
    with pytest.raises(ExternalError, match=r"process exited( \(writing .name.\))?: killed by SIGABRT$"):
        GTPPlayer("sh -c 'kill -ABRT $$'")


def test_engine_damping_option_reaches_the_evaluator(capsys):
    """engine:damping=D sets the no-progress damping; engines default to 0.5; --damping is checked."""
    game = make_game("checkers")
    p = make_player("engine:model=checkers,visits=4,device=cpu,damping=0.25", game)
    assert p.engine.evaluator.shuffle_damping == 0.25
    assert make_player("engine:model=checkers,visits=4,device=cpu", game).engine.evaluator.shuffle_damping == 0.5
    with pytest.raises(SystemExit):
        main(["play", "checkers", "--damping", "1.5"])
    assert "must be in [0, 1]" in capsys.readouterr().err
