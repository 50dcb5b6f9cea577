"""Real matches against external programs: stockfish over UCI and GNU Go over GTP (marked
`external`; skipped with the reason when the binary is missing - Debian installs both under
/usr/games: `apt-get install -y stockfish gnugo`). Also our own UCI and GTP servers run as child
processes and driven by the arena's UCI/GTP clients, which checks both ends of each protocol."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import chess.pgn
import pytest

from boardnet import __version__
from boardnet.arena import play_match
from boardnet.games import make_game
from boardnet.players import EnginePlayer, GTPPlayer, RandomPlayer, UCIPlayer, find_program, load_engine

pytestmark = pytest.mark.external   # ~20 s in all; .ci/run installs stockfish and gnugo so these run in CI
ROOT = Path(__file__).resolve().parents[1]
GNUGO = "gnugo --mode gtp --level 1 --chinese-rules --capture-all-dead"


def need(program: str) -> None:
    if find_program(program) is None:
        pytest.skip(f"{program} is not installed (looked in PATH and /usr/games; "
                    f"`apt-get install -y {program}`)")


def replay_ok(game, g) -> None:
    """Every move legal; a game that ended by the rules really is over with that result."""
    st = game.initial_state()
    for a in g.actions:
        assert st.legal_mask()[a]
        st = st.apply(a)
    if g.termination == "rules":
        assert st.is_terminal() and tuple(st.returns()) == g.result
    assert g.score_a in (0.0, 0.5, 1.0)


def test_match_against_stockfish():
    need("stockfish")
    game = make_game("chess")
    engine = load_engine(game, None, visits=4)
    m = play_match(game, lambda: EnginePlayer(engine, visits=4),
                   lambda: UCIPlayer("stockfish", {"UCI_LimitStrength": "true", "UCI_Elo": "1350"},
                                     movetime=0.02), 2, max_plies=300)
    assert len(m.games) == 2 and m.wins + m.draws + m.losses == 2
    assert m.names[1].startswith("Stockfish")
    for g in m.games:
        replay_ok(game, g)
        pg = chess.pgn.read_game(io.StringIO(g.record))
        assert len(list(pg.mainline_moves())) == len(g.actions)
        assert pg.headers["Result"] in ("1-0", "0-1", "1/2-1/2")


def test_match_against_gnugo():
    need("gnugo")
    game = make_game("go9")
    engine = load_engine(game, None, visits=4)
    m = play_match(game, lambda: EnginePlayer(engine, visits=4), lambda: GTPPlayer(GNUGO), 2)
    assert len(m.games) == 2 and m.names[1].startswith("GNU Go")
    for g in m.games:
        replay_ok(game, g)
        assert g.record.startswith("(;FF[4]GM[1]") and "SZ[9]KM[7]" in g.record and "RE[" in g.record


def test_our_uci_server_as_a_child_process(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    game = make_game("chess")
    m = play_match(game, lambda: UCIPlayer(f"{sys.executable} -m boardnet.cli uci --visits 2", nodes=2),
                   lambda: RandomPlayer(5), 1, max_plies=16)
    assert m.names[0].startswith("boardnet") and len(m.games[0].actions) == 16
    replay_ok(game, m.games[0])


def test_our_gtp_server_against_gnugo(monkeypatch):
    need("gnugo")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    game = make_game("go9")
    m = play_match(game, lambda: GTPPlayer(f"{sys.executable} -m boardnet.cli gtp go9 --visits 4"),
                   lambda: GTPPlayer(GNUGO), 1)
    assert m.names[0] == f"boardnet {__version__}" and m.names[1].startswith("GNU Go")
    replay_ok(game, m.games[0])


def test_handicap_layouts_agree_with_gnugo():
    """fixed_handicap's points (as sets) are GNU Go's on every size and count both accept, and both refuse the rest."""
    import subprocess
    from boardnet.gtp import handicap_points, max_fixed_handicap
    need("gnugo")
    for n in (7, 8, 9, 13, 19):
        game = make_game("go", board_size=n)
        cmds = "".join(f"clear_board\nfixed_handicap {k}\n" for k in range(2, 10))
        out = subprocess.run([find_program("gnugo"), "--mode", "gtp"], input=f"boardsize {n}\n{cmds}quit\n",
                             capture_output=True, text=True, timeout=60).stdout
        replies = [r for r in out.split("\n\n") if r.strip()][1:]   # boardsize, then clear_board/fixed_handicap pairs
        for k, reply in zip(range(2, 10), replies[1::2]):
            if k <= max_fixed_handicap(n):
                ours = {game.action_to_text(p) for p in handicap_points(n, k)}
                assert reply.startswith("= ") and set(reply[2:].split()) == ours, (n, k, reply)
            else:
                assert reply.startswith("?"), (n, k, reply)
