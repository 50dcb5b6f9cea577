"""The arena's UCI client (`boardnet.players.UCIPlayer`, on python-chess's `chess.engine`) against a
scripted fake engine: option typing and checking, resignation, and one-line errors for an engine
that dies, goes silent or answers an illegal move mid-game (a recorded game error in a match)."""
from __future__ import annotations

import re
import sys
import textwrap

import pytest

from boardnet.arena import play_match
from boardnet.games import make_game
from boardnet.players import ExternalError, RandomPlayer, UCIPlayer

GAME = make_game("chess")

FAKE = textwrap.dedent('''
    import sys
    mode = sys.argv[1]
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "uci":
            print("id name Fake 1")
            print("option name Hash type spin default 16 min 1 max 1024")
            print("option name Strong type check default false")
            print("uciok", flush=True)
        elif cmd[0] == "isready":
            print("readyok", flush=True)
        elif cmd[0] == "setoption":
            with open(sys.argv[2], "a") as f:
                f.write(line)
        elif cmd[0] == "go":
            if mode == "crash":
                sys.exit(3)
            if mode == "silent":
                continue
            print({"resign": "bestmove (none)", "illegal": "bestmove e2e5", "play": "bestmove e2e4"}[mode],
                  flush=True)
        elif cmd[0] == "quit":
            break
''')


@pytest.fixture
def fake(tmp_path):
    script = tmp_path / "fake_uci.py"
    script.write_text(FAKE)
    log = tmp_path / "options.txt"
    log.touch()
    return lambda mode: (f"{sys.executable} {script} {mode} {log}", log)


def test_options_are_typed_sent_and_named(fake):
    cmd, log = fake("play")
    p = UCIPlayer(cmd, {"Hash": "32", "Strong": "True"}, movetime=0.01)
    try:
        assert p.name == "Fake 1 (Hash=32,Strong=True)"
        p.new_game(GAME, GAME.initial_state())
        assert GAME.initial_state().action_to_text(p.select(GAME.initial_state(), [])) in ("e2e4", "e4")
        assert isinstance(p.cpu_seconds(), float)
    finally:
        p.close()
    assert log.read_text().splitlines() == ["setoption name Hash value 32", "setoption name Strong value true"]


@pytest.mark.parametrize("options, message", [
    ({"Colour": "red"}, r"uci engine '.*fake_uci.py play .*': no option 'Colour' \(it has: Hash, Strong\)"),
    ({"Hash": "lots"}, r"uci engine '.*': setting options: expected integer for spin option 'Hash'"),
    ({"Hash": "4096"}, r"uci engine '.*': setting options: .*'Hash' to be at most 1024"),
    ({"Strong": "maybe"}, r"uci engine '.*': option Strong='maybe': expected true or false"),
])
def test_bad_options_are_one_line_errors(fake, options, message):
    with pytest.raises(ExternalError, match=message) as err:
        UCIPlayer(fake("play")[0], options)
    assert "\n" not in str(err.value)


def test_bestmove_none_resigns(fake):
    p = UCIPlayer(fake("resign")[0], movetime=0.01)
    try:
        p.new_game(GAME, GAME.initial_state())
        assert p.select(GAME.initial_state(), []) is None
    finally:
        p.close()


@pytest.mark.parametrize("mode, message", [
    ("crash", r"uci engine '.*fake_uci.py crash .*': process exited \(move 1\)"),
    ("silent", r"uci engine '.*fake_uci.py silent .*': no answer within 1 s \(move 1\)"),
    ("illegal", r"uci engine '.*fake_uci.py illegal .*': move 1: .*e2e5"),
])
def test_engine_failure_mid_game_is_a_recorded_game_error(fake, mode, message):
    kw = {"nodes": 5} if mode == "silent" else {"movetime": 0.01}   # the watchdog for nodes/depth
    m = play_match(GAME, lambda: UCIPlayer(fake(mode)[0], timeout=1.0, **kw), lambda: RandomPlayer(1), 1,
                   keep_going=True)
    g = m.games[0]
    assert g.termination == "error" and g.error.startswith("ExternalError: ")
    assert "\n" not in g.error and re.search(message, g.error), g.error


def test_front_ends_refuse_games_of_the_other_protocol(fake):
    from boardnet.gtp import GTPServer
    from boardnet.uci import UCIServer

    c4 = make_game("connect4")
    p = UCIPlayer(fake("play")[0])
    try:
        with pytest.raises(ExternalError, match="only chess is played with external UCI programs, not connect4"):
            p.new_game(c4, c4.initial_state())
    finally:
        p.close()
    with pytest.raises(ValueError, match=r"uci connect4: connect4 speaks GTP; run `boardnet gtp connect4` instead"):
        UCIServer(c4, lambda m: None)
    with pytest.raises(ValueError, match=r"gtp chess: chess speaks UCI; run `boardnet uci` instead"):
        GTPServer(GAME, lambda g: None)
