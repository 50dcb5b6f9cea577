"""The Go engine passes only on a settled board (issue 15: it used to pass as White after a few moves
because komi makes an open board a Tromp-Taylor win, and to pass with its dead stones still standing)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from boardnet.games import make_game
from boardnet.players import go_choose, go_policy_choose
from boardnet.engine import MoveStat


def _analysis(game, best, *others):
    rows = [MoveStat(game.action_to_text(a), a, 10 - i, 0.1, 0.0) for i, a in enumerate((best,) + others)]
    return SimpleNamespace(best_action=best, rows=rows)


def test_settled():
    game = make_game("go", board_size=5, komi=0.5)
    assert not game.initial_state().settled()                                    # empty board
    assert not game.state_from_text("5 0.5 w ...../...../..x../...../.....").settled()   # one stone
    walls = game.state_from_text("5 0.5 b ..xo./..xo./..xo./..xo./..xo.")
    assert walls.settled()
    # a white stone left standing in black's area: that region touches both colours
    dead = game.state_from_text("5 0.5 b o.xo./..xo./..xo./..xo./..xo.")
    assert not dead.settled()
    # a one-point dame between the walls is fine, a five-point gap is not
    dame = game.state_from_text("5 0.5 b .x.o./.xxo./.xo../.xo../.xo..")
    assert dame.settled()
    gap = game.state_from_text("5 0.5 b .x.o./.x.o./.x.o./.x.o./.x.o.")
    assert not gap.settled()


def test_white_does_not_pass_on_an_open_board_with_komi():
    game = make_game("go", board_size=9, komi=7.0)
    s = game.initial_state().apply(game.text_to_action("E5")).apply(game.text_to_action("C3"))
    s = s.apply(game.pass_action)                 # Black passes; White to move, ahead by komi alone
    assert s.to_play() == 1
    p = game.pass_action
    assert go_choose(s, _analysis(game, p, game.text_to_action("G7")), game.text_to_action) != p
    priors = np.zeros(game.action_size, np.float32)
    priors[p], priors[game.text_to_action("G7")] = 0.9, 0.1
    assert go_policy_choose(s, priors) != p


def test_no_pass_back_with_a_dead_stone_standing():
    game = make_game("go", board_size=5, komi=0.5)
    # black is ahead by area, but a white stone stands in black's area; White passed: Black captures first
    s = game.state_from_text("5 0.5 w o.xo./..xo./..xo./..xo./..xo.").apply(game.pass_action)
    assert s.to_play() == 0
    p = game.pass_action
    b5 = game.text_to_action("B5")
    assert go_choose(s, _analysis(game, p, b5), game.text_to_action) == b5


class _HopelessEngine:
    """Analyses every position as lost for the side to move."""

    def __init__(self, game, value=-0.99):
        self.game, self.value = game, value

    def analyse(self, state, visits=None, movetime=None, **kw):
        legal = [int(a) for a in state.legal_actions() if a != getattr(self.game, "pass_action", -1)]
        a = legal[0]
        return SimpleNamespace(best_action=a, value=self.value,
                               rows=[MoveStat(state.action_to_text(a), a, 5, 0.5, self.value)])


def test_gtp_resigns_after_hopeless_moves_only_when_asked():
    import io
    from boardnet.gtp import GTPServer
    game = make_game("go", board_size=9, komi=7.0)

    def run(threshold, value=-0.99, moves=30):
        out = io.StringIO()
        srv = GTPServer(game, lambda g: _HopelessEngine(g, value), out=out, resign_threshold=threshold,
                        resign_moves=3)
        replies = []
        for i in range(moves):
            replies.append(srv.genmove(i % 2))
            if replies[-1] == "resign":
                break
        return replies
    r = run(-0.95)
    assert r[-1] == "resign" and len(r) == 21     # from ply 20 on, after 3 hopeless moves of that side
    assert "resign" not in run(None)              # off
    assert "resign" not in run(-0.95, value=-0.5)  # not hopeless enough


def test_a_losing_search_passes_rather_than_fill_its_own_eyes():
    """Behind on the board with the opponent passed, a search that prefers pass used to play its
    most visited board move whatever it was: against GNU Go it filled its own eyes until its groups
    died (W+88 on 9x9). Own-eye fills and big self-ataris are never played; with none left, pass."""
    game = make_game("go", board_size=5, komi=0.5)
    # Black: two true eyes at A5 and A3, behind by area (10 vs 15.5); White just passed
    s = game.state_from_text("5 0.5 w .xo../xxo../.xo../xxo../xxo..").apply(game.pass_action)
    assert s.to_play() == 0 and s.score() < 0
    p, a5, a3 = game.pass_action, game.text_to_action("A5"), game.text_to_action("A3")
    assert go_choose(s, _analysis(game, p, a5, a3), game.text_to_action) == p
    assert go_choose(s, _analysis(game, a3, a5), game.text_to_action) == p      # even as the search's choice
    # the board is settled and Black is behind: a search that prefers pass passes (it used to drop a stone
    # into White's area, where it stands dead and Tromp-Taylor counts it as Black's)
    d4 = game.text_to_action("D4")
    assert go_choose(s, _analysis(game, p, a5, d4), game.text_to_action) == p
    assert go_choose(s, _analysis(game, p), game.text_to_action) == p
    # a board move the search prefers is played
    assert go_choose(s, _analysis(game, d4, p), game.text_to_action) == d4
    # on an unsettled board (an open region) behind: the search's most visited acceptable move, never an eye;
    # a search that saw only pass (tiny budget) takes any acceptable point
    g2 = make_game("go", board_size=5, komi=9.5)
    s2 = g2.state_from_text("5 9.5 w .xo../xxo../.xo../xxo../xx...").apply(g2.pass_action)
    assert not s2.settled() and s2.score() < 0
    d1 = game.text_to_action("D1")
    assert go_choose(s2, _analysis(game, p, a5, d1), game.text_to_action) == d1
    assert go_choose(s2, _analysis(game, p), game.text_to_action) not in (p, a5, a3)


def test_no_pass_when_the_nets_ownership_reads_our_stones_dead():
    """GNU Go counts a one-eyed group dead without capturing it: a board Tromp-Taylor scores as ours can
    be lost (seen: TT +4 for us, GNU Go W+28). With the net's ownership the count must win as well."""
    from boardnet.players import settled_win
    game = make_game("go", board_size=5, komi=0.5)
    s = game.state_from_text("5 0.5 w ..xo./..xo./..xo./..xo./..xo.").apply(game.pass_action)
    assert s.to_play() == 0 and s.score() > 0 and s.settled()
    p, e3 = game.pass_action, game.text_to_action("E3")
    alive = np.where(np.arange(5) < 3, 1.0, -1.0)[None].repeat(5, 0)       # the mover's: columns A-C
    dead = -np.ones((5, 5))                                                # the net: all of it White's
    assert settled_win(s) and settled_win(s, lambda: alive) and not settled_win(s, lambda: dead)
    assert go_choose(s, _analysis(game, p, e3), game.text_to_action, ownership=lambda: alive) == p
    assert go_choose(s, _analysis(game, p, e3), game.text_to_action, ownership=lambda: dead) == e3
    calls = []
    open_board = game.initial_state()
    assert not settled_win(open_board, lambda: calls.append(1))            # not asked on an unsettled board
    assert calls == []


def test_engine_ownership_reads_the_nets_head():
    import torch
    from boardnet.engine import Engine
    from boardnet.nets import build_net
    game = make_game("go", board_size=5, komi=0.5)
    s = game.state_from_text("5 0.5 b ..xo./..xo./..xo./..xo./..xo.")
    assert Engine(game, build_net(game, "b1c8")).ownership(s) is None
    net = build_net(game, "b1c8", ownership=True)
    with torch.no_grad():
        net.ownership_conv.weight.zero_()
        net.ownership_conv.bias.fill_(2.0)
    own = Engine(game, net).ownership(s)
    assert own.shape == (5, 5) and np.allclose(own, np.tanh(2.0), atol=1e-6)
