"""Engine (boardnet.engine): limits, analysis fields, tree reuse, checkpoint loading."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from boardnet.engine import Analysis, Engine
from boardnet.evaluator import UniformEvaluator
from boardnet.games import make_game
from boardnet.nets import build_net, model_state
from boardnet.search import SearchConfig


@pytest.fixture(scope="module")
def ttt():
    return make_game("tictactoe")


def test_analysis_of_a_win(ttt):
    eng = Engine(ttt, search=SearchConfig(), batch_size=4, evaluator=UniformEvaluator(ttt))
    s = ttt.state_from_text("xx.oo....")
    a = eng.analyse(s, visits=300)
    assert isinstance(a, Analysis)
    assert a.best_move == "c3" and a.best_action == 2 and a.pv[0] == "c3"
    assert a.total_visits == 300 and a.nodes == 300
    assert sum(a.visits.values()) == 299 and set(a.visits) == {"c3", "c2", "a1", "b1", "c1"}
    assert a.rows[0].move == "c3" and a.rows[0].q == 1.0
    assert a.value > 0.9 and a.win_prob == pytest.approx((a.value + 1) / 2)
    assert a.nps > 0 and a.seconds > 0
    assert eng.best_move(s, visits=50) == 2


def test_tree_reuse_between_moves(ttt):
    eng = Engine(ttt, search=SearchConfig(), evaluator=UniformEvaluator(ttt))
    s0 = ttt.initial_state()
    a0 = eng.analyse(s0, visits=400)
    assert eng.reused_visits == 0
    reply = s0.apply(a0.best_action)
    # the opponent's most expected reply keeps the grandchild subtree
    child_counts = {}
    tree = eng._tree
    st = tree._store
    r = tree._root
    ch = [c for c in range(st.first[r], st.first[r] + st.nchild[r]) if st.action[c] == a0.best_action][0]
    for g in range(st.first[ch], st.first[ch] + st.nchild[ch]):
        child_counts[int(st.action[g])] = int(st.N[g])
    b = max(child_counts, key=child_counts.get)
    s2 = reply.apply(b)
    a2 = eng.analyse(s2, visits=child_counts[b] + 10)
    assert eng.reused_visits == child_counts[b] > 0
    assert a2.nodes == 10 and a2.total_visits == child_counts[b] + 10
    # an unrelated position starts afresh
    eng.analyse(ttt.state_from_text("x...o...."), visits=20)
    assert eng.reused_visits == 0


def test_tree_reuse_tells_a_go_hand_over_from_a_pass():
    from boardnet.engine import _find_descendant
    go = make_game("go", board_size=5)
    eng = Engine(go, search=SearchConfig(), evaluator=UniformEvaluator(go))
    s0 = go.initial_state().apply(go.text_to_action("C3"))
    eng.analyse(s0, visits=300)
    passed = s0.apply(go.pass_action)          # white passed: black's pass would end the game
    assert _find_descendant(eng._tree, passed) == [go.pass_action]
    handed = s0.hand_over()                    # GTP play out of turn: same text, no pass counted
    assert handed.to_text() == passed.to_text() and handed.hash() == passed.hash()
    assert _find_descendant(eng._tree, handed) is None


def test_limits_and_errors(ttt):
    eng = Engine(ttt, search=SearchConfig(num_simulations=64), evaluator=UniformEvaluator(ttt))
    assert eng.analyse(ttt.initial_state()).total_visits == 64
    eng.new_game()
    a = eng.analyse(ttt.initial_state(), movetime=0.05)
    assert a.nodes >= 2 and a.seconds >= 0.05
    eng.new_game()
    calls = []
    a = eng.analyse(ttt.initial_state(), visits=10**6, stop=lambda: len(calls) >= 3,
                    on_progress=lambda t: calls.append(t.num_visits))
    assert len(calls) == 3 and a.total_visits == calls[-1]
    with pytest.raises(ValueError, match="terminal"):
        eng.analyse(ttt.state_from_text("xxxoo...."))
    with pytest.raises(ValueError, match="visits=0"):
        eng.analyse(ttt.initial_state(), visits=0)
    with pytest.raises(ValueError, match="movetime"):
        eng.analyse(ttt.initial_state(), movetime=-1)


def test_network_free_engine_blocks(ttt):
    eng = Engine(ttt, search=SearchConfig(), seed=3)     # random roll-out values
    assert eng.best_move(ttt.state_from_text("x..x.o..."), visits=300) == 6


def test_from_checkpoint(tmp_path, monkeypatch):
    from traincore.checkpoint import save_checkpoint

    import boardnet.engine as engine_mod

    c4 = make_game("connect4")
    torch.manual_seed(0)
    net = build_net(c4, "b2c16")
    path = save_checkpoint(tmp_path / "c4tiny.pt", model_state(net, "connect4"))
    eng = Engine.from_checkpoint(path, search=SearchConfig(num_simulations=40), device="cpu")
    assert eng.game.name == "connect4"
    s = c4.initial_state().apply(3)
    a = eng.analyse(s, visits=40)
    assert s.legal_mask()[a.best_action] and a.total_visits == 40 and -1 <= a.value <= 1
    # names resolve to boardnet/models/<name>.pt
    monkeypatch.setattr(engine_mod, "MODELS_DIR", tmp_path)
    assert Engine.from_checkpoint("c4tiny", device="cpu").game.name == "connect4"
    from traincore.checkpoint import CheckpointError
    with pytest.raises(CheckpointError, match="no such file"):
        Engine.from_checkpoint("missing-model", device="cpu")


def _root_symmetry_engine(seed: int, visits: int):
    """A go9 engine on a random b1c8 net (fp32) that averages its root priors over 8 symmetries."""
    from boardnet.nets import build_net
    from traincore.runtime import Runtime
    go9 = make_game("go9")
    torch.manual_seed(seed)
    net = build_net(go9, "b1c8").eval()
    rt = Runtime.create("cpu", precision="fp32")
    eng = Engine(go9, net, search=SearchConfig(num_simulations=visits), runtime=rt, batch_size=4, root_symmetries=8)
    return go9, net, rt, eng


def test_root_symmetries_give_the_root_the_averaged_priors():
    """Engine(root_symmetries=8): the root's priors are NetEvaluator(symmetries=8)'s for the position (renormalised
    over the root's moves); the leaves keep single evaluations."""
    from boardnet.evaluator import NetEvaluator
    go9, net, rt, eng = _root_symmetry_engine(4, 24)
    s = go9.initial_state().apply(go9.text_to_action("E5"))
    an = eng.analyse(s, visits=24)
    want = NetEvaluator(net, go9, runtime=rt, cache_size=0, symmetries=8).evaluate([s])[0][0]
    np.testing.assert_allclose(eng._tree.priors(), want / want.sum(), rtol=1e-4, atol=1e-7)
    plain = NetEvaluator(net, go9, runtime=rt, cache_size=0).evaluate([s])[0][0]
    assert not np.allclose(eng._tree.priors(), plain, rtol=1e-3)
    assert eng.evaluator.symmetries == 1 and sum(m.visits for m in an.rows) == 23
    with pytest.raises(ValueError, match="root_symmetries"):
        Engine(go9, net, root_symmetries=0)


def test_root_symmetries_follow_new_weights_and_share_the_int8_copy():
    """After `evaluator.set_weights` the root's averaged priors are the new net's, not the old net's; with an
    int8 runtime the root evaluator uses the engine evaluator's quantized copy instead of making another."""
    from boardnet.evaluator import NetEvaluator
    from boardnet.nets import build_net
    from traincore import quant
    from traincore.runtime import Runtime
    go9, net, rt, eng = _root_symmetry_engine(5, 8)
    s = go9.initial_state().apply(go9.text_to_action("C3"))
    eng.analyse(s, visits=8)
    torch.manual_seed(6)
    new = {k: v + 0.3 * torch.randn_like(v) if v.is_floating_point() else v
           for k, v in build_net(go9, "b1c8").state_dict().items()}
    eng.evaluator.set_weights(new)
    eng.new_game()
    eng.analyse(s, visits=8)
    want = NetEvaluator(eng.net, go9, runtime=rt, cache_size=0, symmetries=8).evaluate([s])[0][0]
    np.testing.assert_allclose(eng._tree.priors(), want / want.sum(), rtol=1e-4, atol=1e-7)
    if quant.int8_unavailable_reason() is None:
        q = Engine(go9, net, search=SearchConfig(num_simulations=8), runtime=Runtime.create("cpu", precision="int8"),
                   batch_size=4, root_symmetries=8)
        q.analyse(s, visits=8)
        assert q._root_evaluator._int8 is q.evaluator._int8 is not None
