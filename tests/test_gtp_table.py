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
    assert s.command("known_command", ["gogui-analyze_commands"]) == "false"
    s2, out = _server()
    s2.run(["gogui-analyze_commands"])
    assert out.getvalue() == "? unknown command\n\n"


def test_final_status_list_reads_the_ownership_head():
    import torch
    game = make_game("go9")
    net = build_net(game, "b1c8", ownership=True)
    with torch.no_grad():                       # the head gives every point to the side to move
        net.ownership_conv.weight.zero_()
        net.ownership_conv.bias.fill_(2.0)
    out = io.StringIO()
    s = GTPServer(game, lambda g: Engine(g, net, search=SearchConfig(num_simulations=4)), visits=4, out=out)
    for c in ("play b D4", "play w E5", "play b C3"):       # white to move: the net reads White as owner
        s.run([c])
    assert s.command("final_status_list", ["dead"]) == "D4 C3"                  # top row first
    assert s.command("final_status_list", ["alive"]) == "E5"
    assert s.command("final_status_list", ["seki"]) == ""
    s.run(["final_status_list bogus"])
    assert out.getvalue().endswith("? final_status_list: expected alive, dead or seki\n\n")
    # a net without the head: random play-outs judge; a lone stone on an open board is not dead
    plain, _ = _server()
    plain.run(["play b D4"])
    assert plain.command("final_status_list", ["dead"]) == "" and plain.command("final_status_list", ["alive"]) == "D4"

