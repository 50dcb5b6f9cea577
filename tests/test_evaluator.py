"""Evaluators (boardnet.evaluator): masking, cache, weights version, symmetries, roll-outs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from boardnet.evaluator import NetEvaluator, RolloutEvaluator, UniformEvaluator
from boardnet.games import make_game, random_states
from boardnet.nets import build_net
from traincore.runtime import Runtime


@pytest.fixture(scope="module")
def c4():
    return make_game("connect4")


def _positions(game, n, seed=0):
    return random_states(game, n, seed=seed)


def _full_column_state(game):
    s = game.initial_state()
    for a in (3, 3, 3, 3, 3, 3):     # column 4 filled, no four in a row
        s = s.apply(a)
    return s


def test_masked_priors_sum_to_one(c4):
    torch.manual_seed(0)
    ev = NetEvaluator(build_net(c4, "b2c16"), c4, cache_size=0)
    states = _positions(c4, 20) + [_full_column_state(c4)]
    priors, values = ev.evaluate(states)
    assert priors.dtype == np.float32 and values.dtype == np.float32
    assert priors.shape == (21, 7) and values.shape == (21,)
    masks = np.stack([s.legal_mask() for s in states])
    assert (priors[~masks] == 0).all() and (priors[masks] > 0).all()
    np.testing.assert_allclose(priors.sum(1), 1.0, atol=1e-6)
    assert priors[-1, 3] == 0.0
    assert (np.abs(values) <= 1).all()
    assert ev.batches == 1


def test_cache_hits_are_identical_and_versioned(c4):
    torch.manual_seed(1)
    net = build_net(c4, "b2c16")
    ev = NetEvaluator(net, c4, cache_size=8)
    states = _positions(c4, 6, seed=3)
    p1, v1 = ev.evaluate(states)
    assert (ev.misses, ev.hits, ev.batches) == (len({s.hash() for s in states}), 6 - ev.misses, 1)
    p2, v2 = ev.evaluate(states[::-1])
    assert ev.batches == 1                       # all hits: no forward pass
    np.testing.assert_array_equal(p2, p1[::-1])
    np.testing.assert_array_equal(v2, v1[::-1])
    # LRU: 10 more positions push the oldest out of an 8-entry cache
    ev.evaluate(_positions(c4, 10, seed=4))
    assert ev.cache_len == 8
    # new weights: version bump, cache dropped, outputs change
    with torch.no_grad():
        sd = {k: v + 0.1 if v.is_floating_point() else v for k, v in net.state_dict().items()}
    ev.set_weights(sd)
    assert ev.weights_version == 1 and ev.cache_len == 0
    p3, v3 = ev.evaluate(states)
    assert not np.allclose(v3, v1)
    # cache off gives the same numbers as cache on
    ev0 = NetEvaluator(net, c4, cache_size=0)
    p4, v4 = ev0.evaluate(states)
    np.testing.assert_allclose(p4, p3, rtol=1e-5, atol=1e-7)


def test_random_symmetry_maps_policy_back(c4):
    """With random symmetry each position is evaluated as its mirror image and the policy is
    mirrored back: equal to evaluating the mirrored planes by hand."""
    torch.manual_seed(2)
    net = build_net(c4, "b2c16").eval()
    states = _positions(c4, 16, seed=5)
    # fp32: the reference below runs the net in fp32 (`auto` picks bf16 on CPUs with AMX)
    ev = NetEvaluator(net, c4, runtime=Runtime.create("cpu", precision="fp32"), cache_size=0,
                      random_symmetry=True, rng=np.random.default_rng(9))
    priors, values = ev.evaluate(states)
    ks = np.random.default_rng(9).integers(c4.num_symmetries, size=len(states))
    assert 0 < ks.sum() < len(ks)      # both the identity and the mirror occur
    planes = np.stack([s.planes() for s in states])
    for i, k in enumerate(ks):
        x, _ = c4.transform(planes[i], None, int(k))
        with torch.inference_mode():
            logits, v = net(torch.from_numpy(x[None].copy()))
        _, logits = c4.transform(None, logits.numpy(), c4.inverse(int(k)))
        m = states[i].legal_mask()
        p = np.where(m, np.exp(logits[0] - logits[0][m].max()), 0)
        np.testing.assert_allclose(priors[i], p / p.sum(), rtol=1e-4, atol=1e-6)
        assert values[i] == pytest.approx(float(v[0]), abs=1e-5)


def test_symmetry_averaging_is_the_mean_of_every_symmetry_and_invariant():
    """symmetries=8 on 9x9 Go: each position's priors and value are the mean over the 8 symmetries of the
    per-symmetry softmax (checked by hand), and the empty board's averaged priors are symmetric themselves
    (a random net's single evaluation is not)."""
    go9 = make_game("go9")
    torch.manual_seed(3)
    net = build_net(go9, "b1c8").eval()
    fp32 = Runtime.create("cpu", precision="fp32")
    ev8 = NetEvaluator(net, go9, runtime=fp32, cache_size=0, symmetries=8)
    ev1 = NetEvaluator(net, go9, runtime=fp32, cache_size=0)
    states = [go9.initial_state()] + random_states(go9, 5, seed=7)
    priors, values = ev8.evaluate(states)
    assert ev8.batches == 1                                  # the 8 x 6 boards go in one batch
    for i, s in enumerate(states):
        ps, vs = [], []
        for k in range(8):
            x, _ = go9.transform(s.planes(), None, k)
            with torch.inference_mode():
                logits, v = net(torch.from_numpy(np.ascontiguousarray(x[None])))
            _, logits = go9.transform(None, logits.numpy(), go9.inverse(k))
            m = s.legal_mask()
            p = np.where(m, np.exp(logits[0] - logits[0][m].max()), 0)
            ps.append(p / p.sum())
            vs.append(float(v[0]))
        np.testing.assert_allclose(priors[i], np.mean(ps, 0), rtol=1e-4, atol=1e-7)
        assert values[i] == pytest.approx(np.mean(vs), abs=1e-5)
    board = lambda p: p[:-1]                                  # noqa: E731 - drop the pass
    for k in range(1, 8):
        _, pk = go9.transform(None, priors[:1], k)
        np.testing.assert_allclose(board(pk[0]), board(priors[0]), rtol=1e-5, atol=1e-8)
    p1, _ = ev1.evaluate(states[:1])
    _, p1k = go9.transform(None, p1, 1)
    assert not np.allclose(board(p1k[0]), board(p1[0]), rtol=1e-3)
    with pytest.raises(ValueError, match="not with random_symmetry"):
        NetEvaluator(net, go9, symmetries=8, random_symmetry=True)
    with pytest.raises(ValueError, match="must be 1-8"):
        NetEvaluator(net, go9, symmetries=9)
    chess_like = make_game("connect4")                       # a mirror only: 8 asks for both of its symmetries
    assert NetEvaluator(build_net(chess_like, "b1c8"), chess_like, symmetries=8).symmetries == 2


def test_network_free_evaluators():
    ttt = make_game("tictactoe")
    s = ttt.state_from_text("xx.oo.xo.")   # X to move; cells 2, 5, 8 free; 2 wins for X
    p, v = UniformEvaluator(ttt).evaluate([s])
    np.testing.assert_allclose(p[0], np.where(s.legal_mask(), 1 / 3, 0))
    assert v[0] == 0
    # after X's blunder at 8, O (to move) wins at 5 (row 3-4-5) or plays 2 and X draws at 5:
    # random roll-outs from O's view average (1 + 0) / 2
    t = s.apply(8)
    assert t.apply(5).returns()[1] == 1 and t.apply(2).apply(5).returns()[1] == 0
    _, v = RolloutEvaluator(ttt, num_rollouts=400, rng=np.random.default_rng(0)).evaluate([t])
    assert v[0] == pytest.approx(0.5, abs=0.08)
    with pytest.raises(ValueError, match="num_rollouts"):
        RolloutEvaluator(ttt, num_rollouts=0)


def test_terminal_state_is_refused(c4):
    ttt = make_game("tictactoe")
    ev = NetEvaluator(build_net(ttt, "b1c8"), ttt)
    with pytest.raises(ValueError, match="no legal moves"):
        ev.evaluate([ttt.state_from_text("xxxoo....")])


def test_cache_keeps_legal_moves_only_and_respects_its_byte_budget():
    """`boardnet uci` held 1.77 GB after a 60-ply game: dense chess rows (4,672 floats) in a 100k cache."""
    from boardnet.evaluator import NetEvaluator
    from boardnet.nets import build_net
    game = make_game("chess")
    ev = NetEvaluator(build_net(game, "b1c8"), game, cache_size=1000, cache_bytes=5_000)
    s = game.initial_state()
    states = [s]
    for a in s.legal_actions()[:19]:
        states.append(s.apply(int(a)))
    p1, v1 = ev.evaluate(states)
    assert ev.cache_nbytes <= 5_000 and 0 < ev.cache_len < 20    # the budget evicted the oldest
    per_entry = ev.cache_nbytes / ev.cache_len
    assert per_entry < 600, per_entry                               # 20 legal moves, not 4,672 floats
    p2, v2 = ev.evaluate(states[-ev.cache_len:])                    # hits give the same numbers
    assert ev.hits == ev.cache_len
    np.testing.assert_array_equal(p2, p1[-ev.cache_len:])
    np.testing.assert_array_equal(v2, v1[-ev.cache_len:])


@pytest.mark.parametrize("name, fresh, late, frac", [
    # the same checkers pieces 0 and 60 of the 80 no-progress plies in (PDN FEN H field)
    ("checkers", "B:W21,K30:BK1,K5,K9", "B:W21,K30:BK1,K5,K9:H60", 0.75),
    # the same chess position with half-move clocks 0 and 80 (fifty-move rule: 100)
    ("chess", "8/8/4k3/8/8/3QK3/8/8 w - - 0 60", "8/8/4k3/8/8/3QK3/8/8 w - - 80 100", 0.8),
])
def test_shuffle_damping_pulls_values_toward_a_no_progress_draw(name, fresh, late, frac):
    """values x (1 - d * fraction of the no-progress rule run): the cache (keyed without the draw
    counters) returns the net's value and the damping applies after it, per state."""
    game = make_game(name)
    torch.manual_seed(0)
    net = build_net(game, "b2c16")
    a, b = game.state_from_text(fresh), game.state_from_text(late)
    assert a.no_progress_fraction() == 0.0 and b.no_progress_fraction() == pytest.approx(frac)
    v0 = [float(NetEvaluator(net, game, cache_size=0).evaluate([s])[1][0]) for s in (a, b)]
    for s, v, f in ((a, v0[0], 0.0), (b, v0[1], frac)):
        damp = NetEvaluator(net, game, shuffle_damping=0.5)
        first = float(damp.evaluate([s])[1][0])
        again = float(damp.evaluate([s])[1][0])      # from the cache
        assert damp.hits == 1
        assert first == again == pytest.approx(v * (1 - 0.5 * f), abs=1e-6)
    with pytest.raises(ValueError, match="shuffle_damping"):
        NetEvaluator(net, game, shuffle_damping=1.5)


def test_shuffle_damping_leaves_games_without_a_draw_rule_alone(c4):
    torch.manual_seed(0)
    net = build_net(c4, "b2c16")
    states = _positions(c4, 4)
    _, v0 = NetEvaluator(net, c4).evaluate(states)
    _, v1 = NetEvaluator(net, c4, shuffle_damping=1.0).evaluate(states)
    assert np.array_equal(v0, v1)


def test_cache_keys_what_the_planes_read_not_only_the_position_hash():
    """Two checkers positions that differ only in the no-progress count, and a Go transposition (same
    stones, other move order, so other history planes) share `hash()`, which repetition needs; the
    evaluator's cache must not hand one the other's numbers."""
    from boardnet.games.checkers import CheckersState
    ck = make_game("checkers")
    s = ck.initial_state()
    quiet = CheckersState(ck, s._p, s._k, s._turn, -1, 40, (), 40)
    assert quiet.hash() == s.hash() and quiet.eval_key() != s.eval_key()
    go = make_game("go9")
    a = go.initial_state()
    for m in ("C3", "G7", "C5"):
        a = a.apply(a.text_to_action(m))
    b = go.initial_state()
    for m in ("C5", "G7", "C3"):
        b = b.apply(b.text_to_action(m))
    assert a.hash() == b.hash() and a.eval_key() != b.eval_key()
    for game, first, second in ((ck, s, quiet), (go, a, b)):
        torch.manual_seed(0)
        net = build_net(game, "b1c8").eval()
        rt = Runtime.create("cpu", precision="fp32")
        fresh_p, fresh_v = NetEvaluator(net, game, runtime=rt, cache_size=0).evaluate([second])
        first_p = NetEvaluator(net, game, runtime=rt, cache_size=0).evaluate([first])[0]
        assert np.abs(first_p - fresh_p).max() > 1e-6  # the planes differ, and so does the net's policy
        ev = NetEvaluator(net, game, runtime=rt, cache_size=64)
        ev.evaluate([first])
        p, v = ev.evaluate([second])
        assert ev.misses == 2 and ev.hits == 0
        np.testing.assert_allclose(p, fresh_p, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(v, fresh_v, rtol=1e-6, atol=1e-7)
        ev.evaluate([second])
        assert ev.hits == 1  # the same state still hits
