"""The GTP command table (`GTPServer.HANDLERS`) is the one list of commands: `list_commands`, `known_command`
and dispatch all read it."""
from __future__ import annotations

import io

from boardnet.engine import Engine
from boardnet.games import make_game
from boardnet.gtp import COMMANDS, GTPServer
from boardnet.nets import build_net
from boardnet.search import SearchConfig


def _server():
    out = io.StringIO()
    eng = lambda g: Engine(g, build_net(g, "b1c8"), search=SearchConfig(num_simulations=4))  # noqa: E731
    return GTPServer(make_game("go9"), eng, visits=4, out=out), out


def test_list_commands_is_the_table():
    s, out = _server()
    s.run(["list_commands"])
    assert out.getvalue() == "= " + "\n".join(GTPServer.HANDLERS) + "\n\n"
    assert COMMANDS == tuple(GTPServer.HANDLERS)
    assert len(set(COMMANDS)) == len(COMMANDS) and all(callable(h) for h in GTPServer.HANDLERS.values())


def test_every_table_entry_is_known_and_nothing_else():
    s, _ = _server()
    assert all(s.command("known_command", [c]) == "true" for c in GTPServer.HANDLERS)
    assert s.command("known_command", ["loadsgf"]) == "false"
    s2, out = _server()
    s2.run(["loadsgf x.sgf"])
    assert out.getvalue() == "? unknown command\n\n"
