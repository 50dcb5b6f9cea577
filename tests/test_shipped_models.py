"""The nets shipped in boardnet/models load by name and are as strong as their cards say."""
from __future__ import annotations

import pytest

from boardnet.evaluator import NetEvaluator
from boardnet.games import make_game
from boardnet.models import available, read_card, resolve
from boardnet.nets import net_from_state
from selfplay import evaluate as ev
from traincore.checkpoint import load_checkpoint


def load(name):
    return net_from_state(load_checkpoint(resolve(name), kind="boardnet"))


def test_every_shipped_net_loads_and_has_a_card():
    names = available()
    assert "tictactoe" in names
    for name in names:
        net = load(name)
        card = read_card(name)
        game = make_game(card["Game"])
        assert net.config.action_size == game.action_size
        assert (net.config.in_channels, net.config.height, net.config.width) == game.obs_shape


def test_tictactoe_net_plays_perfectly_with_search():
    game = make_game("tictactoe")
    player = ev.NetPlayer(NetEvaluator(load("tictactoe"), game, cache_size=0), simulations=32)
    r = ev.tictactoe_perfection(player, games=200, seed=5)
    assert r["positions"] == 4520 and r["optimal_moves"] == 1.0
    assert r["losses"] == 0 and r["games"] == 200
