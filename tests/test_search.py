"""PUCT search (boardnet.search) and the pure-MCTS baseline on tic-tac-toe and Connect Four."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from boardnet.evaluator import RolloutEvaluator, UniformEvaluator
from boardnet.games import make_game
from boardnet.mcts_baseline import PureMCTS
from boardnet.search import SearchConfig, Tree, search_lockstep, search_virtual_loss

C4_DATA = Path("/work/shared/data/games/connect4")


@pytest.fixture(scope="module")
def ttt():
    return make_game("tictactoe")


class HashEvaluator:
    """Deterministic, batch-independent evaluator: priors and value are a function of the
    position hash only, so results cannot depend on how positions are batched."""

    def __init__(self, game):
        self.game = game
        self.calls = 0
        self.batch_sizes = []

    def evaluate(self, states):
        self.calls += 1
        self.batch_sizes.append(len(states))
        priors = np.zeros((len(states), self.game.action_size), np.float32)
        values = np.zeros(len(states), np.float32)
        for i, s in enumerate(states):
            r = np.random.default_rng(s.hash() % (2**63))
            m = s.legal_mask()
            p = r.random(self.game.action_size) * m
            priors[i] = p / p.sum()
            values[i] = r.uniform(-0.5, 0.5)
        return priors, values


def _search(state, sims, mode, seed=0, **cfg):
    tree = Tree(state, SearchConfig(**cfg), np.random.default_rng(seed))
    ev = UniformEvaluator(state.game)
    if mode == "lockstep":
        search_lockstep([tree], ev, sims)
    else:
        search_virtual_loss(tree, ev, sims, batch_size=8)
    return tree


# x to move wins / o to move must block; boards row by row from the top, actions 0..8
WINS = [("xx.oo....", 2), ("x.o.x.o..", 8), ("xo.xo....", 6), ("o.x.x...o", 6)]
BLOCKS = [("xx..o....", 2), ("x...x..o.", 8), ("x..x.o...", 6), ("..x.x..o.", 6)]


@pytest.mark.parametrize("mode", ["lockstep", "virtual_loss"])
@pytest.mark.parametrize("text,best", WINS + BLOCKS)
def test_ttt_finds_win_and_block(ttt, text, best, mode):
    tree = _search(ttt.state_from_text(text), 400, mode)
    assert tree.select_action(0.0) == best
    assert tree.principal_variation()[0] == best
    assert tree.num_visits == 400


def test_principal_variation_from_each_root_move(ttt):
    # block at 2 or lose: every visited root move has its own line, which starts with it and follows the most
    # visited replies below it; a move off the root (or an occupied square) has none
    tree = _search(ttt.state_from_text("xx..o...."), 400, "virtual_loss")
    counts = tree.visit_counts()
    assert tree.principal_variation(first=tree.principal_variation()[0]) == tree.principal_variation()
    for a in np.flatnonzero(counts):
        line = tree.principal_variation(first=int(a))
        assert line[0] == a and len(line) <= 10
        state = tree.root_state
        for b in line:                          # a legal line
            assert b in state.legal_actions()
            state = state.apply(b)
    assert tree.principal_variation(first=0) == [] and tree.principal_variation(first=int(np.argmax(counts)),
                                                                                  max_len=1) == [int(np.argmax(counts))]


def test_ttt_win_value_is_exact(ttt):
    tree = _search(ttt.state_from_text("xx.oo...."), 300, "lockstep")
    q = tree.q_values()
    assert q[2] == 1.0          # the winning child is terminal: exact +1 on every visit
    assert tree.root_value() > 0.9


@pytest.mark.slow
def test_ttt_never_loses_to_random(ttt):
    """200 seeded games, the search plays X in even games and O in odd ones; all in lock-step.
    With a uniform evaluator the only signal is exact terminal values, so it takes many visits to
    see the opponent's forks six plies deep (at 1,000 visits a game or two is still lost)."""
    n_games = 200
    rng = np.random.default_rng(2024)
    cfg = SearchConfig(num_simulations=2500)
    ev = UniformEvaluator(ttt)
    states = [ttt.initial_state() for _ in range(n_games)]
    trees = [Tree(s, cfg, np.random.default_rng(i)) for i, s in enumerate(states)]
    while not all(s.is_terminal() for s in states):
        # random side moves first where it is its turn
        for i, s in enumerate(states):
            if not s.is_terminal() and s.to_play() != i % 2:
                acts = s.legal_actions()
                a = int(acts[rng.integers(len(acts))])
                states[i] = s.apply(a)
                trees[i].advance(a)
        live = [i for i, s in enumerate(states) if not s.is_terminal()]
        search_lockstep([trees[i] for i in live], ev, cfg.num_simulations)
        for i in live:
            a = trees[i].select_action(0.0)
            states[i] = states[i].apply(a)
            trees[i].advance(a)
    results = np.array([s.returns()[i % 2] for i, s in enumerate(states)])
    assert (results >= 0).all(), f"lost {int((results < 0).sum())} games"
    assert (results > 0).sum() > 150   # and it wins most: random play blunders often


def test_lockstep_equals_alone(ttt):
    """Batching across trees must not change any tree's search (noise included)."""
    c4 = make_game("connect4")
    for game, plies in ((ttt, [4, 0]), (c4, [3, 3, 2])):
        roots = [game.initial_state()]
        for a in plies:
            roots.append(roots[-1].apply(a))
        cfg = SearchConfig()
        together = [Tree(s, cfg, np.random.default_rng(10 + i)) for i, s in enumerate(roots)]
        alone = [Tree(s, cfg, np.random.default_rng(10 + i)) for i, s in enumerate(roots)]
        ev = HashEvaluator(game)
        search_lockstep(together, ev, 120, add_noise=True)
        assert max(ev.batch_sizes) == len(roots)
        for t in alone:
            search_lockstep([t], HashEvaluator(game), 120, add_noise=True)
        for a, b in zip(together, alone):
            np.testing.assert_array_equal(a.visit_counts(), b.visit_counts())
            assert a.root_value() == b.root_value()
        # and again after advancing every tree (reuse + a fresh shared store)
        for a, b in zip(together, alone):
            act = b.select_action(0.0)
            if not a.root_state.apply(act).is_terminal():
                a.advance(act)
                b.advance(act)
        search_lockstep(together, ev, 60, add_noise=True)
        for t in alone:
            search_lockstep([t], HashEvaluator(game), 60, add_noise=True)
        for a, b in zip(together, alone):
            np.testing.assert_array_equal(a.visit_counts(), b.visit_counts())


def test_visit_accounting(ttt):
    """Root N = 1 + sum of child N after both searches; virtual loss leaves no trace."""
    s = ttt.initial_state().apply(4)
    for mode in ("lockstep", "virtual_loss"):
        tree = _search(s, 250, mode)
        assert tree.num_visits == 250
        assert tree.visit_counts().sum() == 249
        st = tree._store
        n = st.N[: st.size]
        assert (n >= 0).all() and (np.abs(st.W[: st.size]) <= n + 1e-9).all()


def test_tree_reuse_keeps_subtree(ttt):
    tree = _search(ttt.initial_state(), 300, "lockstep")
    a = tree.select_action(0.0)
    child_visits = int(tree.visit_counts()[a])
    st, r = tree._store, tree._root
    child = int(st.first[r] + np.flatnonzero(st.action[st.first[r]: st.first[r] + st.nchild[r]] == a)[0])
    grand = np.zeros(9, np.float32)
    ch = np.arange(st.first[child], st.first[child] + st.nchild[child])
    grand[st.action[ch]] = st.N[ch]
    value_before = -st.W[child] / st.N[child]   # child's W is from the mover's view
    tree.advance(a)
    assert tree.num_visits == child_visits
    np.testing.assert_array_equal(tree.visit_counts(), grand)
    assert tree.root_value() == pytest.approx(value_before)
    assert tree.root_state.to_text() == ttt.initial_state().apply(a).to_text()
    # an unexpanded move gives a fresh tree
    b = int(np.flatnonzero(tree.visit_counts() == 0)[0]) if (tree.visit_counts() == 0).any() else None
    fresh = Tree(ttt.initial_state(), SearchConfig(), np.random.default_rng(0))
    fresh.advance(4)
    assert fresh.num_visits == 0 and fresh.root_state.to_text() == "....x...."
    assert b is None or tree.visit_counts()[b] == 0


def test_select_action_temperature(ttt):
    tree = _search(ttt.initial_state(), 200, "lockstep")
    counts = tree.visit_counts()
    rng = np.random.default_rng(0)
    picks = np.array([tree.select_action(1.0, rng) for _ in range(3000)])
    freq = np.bincount(picks, minlength=9) / len(picks)
    np.testing.assert_allclose(freq, counts / counts.sum(), atol=0.03)
    assert tree.select_action(0.0) == int(np.argmax(counts))
    # low temperature concentrates on the most visited move
    top = set(np.flatnonzero(counts == counts.max()).tolist())
    assert {tree.select_action(1e-3, rng) for _ in range(50)} <= top
    with pytest.raises(ValueError, match="temperature"):
        tree.select_action(-1.0)


def test_root_noise(ttt):
    tree = Tree(ttt.initial_state(), SearchConfig(), np.random.default_rng(1))
    tree.add_root_noise()            # before expansion: applied once the root is evaluated
    search_lockstep([tree], UniformEvaluator(ttt), 1)
    assert tree.has_root_noise
    np.testing.assert_allclose(tree.priors(), np.full(9, 1 / 9), rtol=1e-6)   # raw priors kept
    used = tree._store.P[tree._children()]
    assert used.sum() == pytest.approx(1.0) and not np.allclose(used, 1 / 9)
    assert used.min() >= 0.75 / 9 - 1e-9     # (1 - 0.25) * prior + 0.25 * noise >= 0.75 * prior


def test_terminal_root_and_errors(ttt):
    done = ttt.state_from_text("xxxoo....")
    tree = Tree(done, SearchConfig(), np.random.default_rng(0))
    search_lockstep([tree], UniformEvaluator(ttt), 10)
    search_virtual_loss(tree, UniformEvaluator(ttt), 10)
    assert tree.num_visits == 0 and tree.root_value() == -1.0   # O to move, X has won
    with pytest.raises(ValueError, match="no visited child"):
        tree.select_action(0.0)
    with pytest.raises(ValueError, match="num_simulations"):
        SearchConfig(num_simulations=0)
    with pytest.raises(ValueError, match="noise_weight"):
        SearchConfig(noise_weight=1.5)


def test_virtual_loss_batches(ttt):
    ev = HashEvaluator(ttt)
    tree = Tree(ttt.initial_state(), SearchConfig(), np.random.default_rng(0))
    search_virtual_loss(tree, ev, 200, batch_size=8)
    assert tree.num_visits == 200
    assert max(ev.batch_sizes) == 8 and ev.calls < 200 / 2
    seen = []
    search_virtual_loss(tree, ev, 1000, batch_size=8, stop=lambda: tree.num_visits >= 300,
                        on_progress=lambda t: seen.append(t.num_visits))
    assert 300 <= tree.num_visits < 300 + 8 and seen[-1] == tree.num_visits


def _c4_positions(fname, limit):
    out = []
    for line in (C4_DATA / fname).read_text().split("\n"):
        if line.strip():
            moves, *scores = line.split()
            out.append((moves, [int(x) for x in scores]))
        if len(out) >= limit:
            break
    return out


def _c4_state(game, moves):
    s = game.initial_state()
    for ch in moves:
        s = s.apply(int(ch) - 1)
    return s


def _immediate_wins(state):
    return [int(a) for a in state.legal_actions()
            if state.apply(int(a)).is_terminal() and state.apply(int(a)).returns()[state.to_play()] > 0]


@pytest.mark.skipif(not C4_DATA.is_dir(), reason="Connect Four test positions not present")
def test_connect4_wins_and_forced_blocks():
    """Forced blocks: positions from Pons' set where exactly one move stops the opponent from
    winning at once (the solver's per-move scores agree it is the best). Immediate wins (the sets
    hold none): the same positions after a move that fails to block, where the solver scores that
    move as losing at once. Both searched network-free, with exact terminal values."""
    game = make_game("connect4")
    wins, blocks = [], []
    for moves, scores in _c4_positions("Test_L2_R1.scores", 200):
        s = _c4_state(game, moves)
        assert not _immediate_wins(s)
        safe = [int(a) for a in s.legal_actions() if not _immediate_wins(s.apply(int(a)))]
        if len(safe) != 1:
            continue
        best = max(sc for sc in scores if sc != -1000)
        assert scores[safe[0]] == best
        blocks.append((s, set(safe)))
        bad = next(int(a) for a in s.legal_actions() if int(a) != safe[0])
        t = s.apply(bad)
        winner_stones = (s.ply + 2 + (s.to_play() == 1)) // 2
        assert scores[bad] == -(22 - winner_stones)
        wins.append((t, set(_immediate_wins(t))))
    assert len(wins) >= 20 and len(blocks) >= 20
    for s, good in wins[:8] + blocks[:8]:
        tree = Tree(s, SearchConfig(), np.random.default_rng(0))
        search_lockstep([tree], RolloutEvaluator(game, rng=np.random.default_rng(0)), 200)
        assert tree.select_action(0.0) in good, (s.to_text(), tree.visit_counts())
        tree = Tree(s, SearchConfig(), np.random.default_rng(0))
        search_virtual_loss(tree, UniformEvaluator(game), 200, batch_size=8)
        assert tree.select_action(0.0) in good, (s.to_text(), tree.visit_counts())


def test_pure_mcts_baseline(ttt):
    for text, best in WINS[:2] + BLOCKS[:2]:
        assert PureMCTS(ttt, simulations=400, seed=1).select(ttt.state_from_text(text)) == best
    p = PureMCTS(ttt, simulations=10**6, time_limit=0.05)
    p.select(ttt.initial_state())
    assert 1 <= p.last_simulations < 10**6
    # deterministic for a seed
    a = [PureMCTS(ttt, simulations=50, seed=7).select(ttt.initial_state()) for _ in range(2)]
    assert a[0] == a[1]
    with pytest.raises(ValueError, match="terminal"):
        PureMCTS(ttt).select(ttt.state_from_text("xxxoo...."))


def test_compaction_keeps_results(monkeypatch):
    """Shared lock-step stores re-root in place and are compacted now and then: forcing a
    compaction at every call must not change any search."""
    import boardnet.search as search_mod

    game = make_game("connect4")

    def play(slack):
        monkeypatch.setattr(search_mod, "_COMPACT_SLACK", slack)
        rng = np.random.default_rng(0)
        trees = [Tree(game.initial_state(), SearchConfig(), np.random.default_rng(i)) for i in range(6)]
        out = []
        for _ in range(4):
            search_lockstep(trees, HashEvaluator(game), 40, add_noise=True)
            out.append(np.stack([t.visit_counts() for t in trees]))
            sizes = trees[0]._store.size
            for t in trees:
                t.advance(t.select_action(1.0, rng))
        return np.stack(out), sizes

    a, size_a = play(0)
    b, size_b = play(1 << 30)
    np.testing.assert_array_equal(a, b)
    assert size_a < size_b     # compaction did drop garbage


@pytest.mark.parametrize("name, text, noise", [
    ("checkers", "B:W18,21,22,23,25,26,27,29,30,31:B1,2,3,5,6,7,9,10,11,14", False),
    ("connect4", None, True),
    ("go", None, False),        # 9x9: 82 children at the root, the NumPy branch of the scalar descent
])
def test_single_tree_descent_picks_what_the_vectorised_descent_picks(monkeypatch, name, text, noise):
    """search_virtual_loss descends with the scalar `_descend_one`; at every step of a real search it
    must choose the same leaf, parent and path as the batched `_descend` on the same statistics."""
    import boardnet.search as S
    game = make_game(name, board_size=9) if name == "go" else make_game(name)
    state = game.state_from_text(text) if text else game.initial_state()
    real, calls = S._descend_one, [0]

    def checked(st, root, cfg, root_fpu_zero):
        leaf, par, path = real(st, root, cfg, root_fpu_zero)
        leaves, parents, pnodes, _ = S._descend(st, np.array([root]), cfg, np.array([root_fpu_zero]))
        assert (leaf, par, path) == (int(leaves[0]), int(parents[0]), pnodes.tolist())
        calls[0] += 1
        return leaf, par, path

    monkeypatch.setattr(S, "_descend_one", checked)
    tree = Tree(state, SearchConfig(num_simulations=300), np.random.default_rng(0))
    if noise:
        tree.add_root_noise()
    search_virtual_loss(tree, RolloutEvaluator(game, 1, np.random.default_rng(0)), 300, batch_size=8)
    assert calls[0] >= 300


def _tree_links_hold(tree, counts=True):
    """Every reachable expanded node's children point back to it, and (`counts`) N = own evaluation + children's N
    (a solved node searched again as the root after `advance` holds the visits that stopped at it)."""
    st = tree._store
    todo = [tree._root]
    while todo:
        v = todo.pop()
        if st.first[v] < 0:
            continue
        ch = np.arange(st.first[v], st.first[v] + st.nchild[v])
        assert (st.parent[ch] == v).all()
        if counts and st.status[v] == 2:   # _EXPANDED
            assert st.N[v] == pytest.approx(1 + st.N[ch].sum())
        todo.extend(ch.tolist())


def test_restrict_root_searches_only_the_given_moves(ttt):
    """x to move wins at 2 ("xx.oo...."); restricted to 5 and 8 the search never plays or visits 2, the kept moves'
    subtrees (searched before the cut) stay intact, and visits go on being counted right."""
    tree = _search(ttt.state_from_text("xx.oo...."), 300, "virtual_loss")
    assert tree.select_action(0.0) == 2
    before = tree.visit_counts()
    with pytest.raises(ValueError, match="none of the moves is legal"):
        tree.restrict_root([0, 3])          # occupied squares: nothing legal, tree untouched
    assert tree.restrict_root([8, 5, 0]) == 2
    assert tree.root_restricted
    counts = tree.visit_counts()
    assert set(np.flatnonzero(counts)) <= {5, 8}
    assert counts[5] == before[5] and counts[8] == before[8]
    assert tree.num_visits == 1 + before[5] + before[8]
    _tree_links_hold(tree)
    search_virtual_loss(tree, UniformEvaluator(ttt), 200, batch_size=4)
    counts = tree.visit_counts()
    assert counts[2] == 0 and counts[[5, 8]].sum() == tree.num_visits - 1
    assert tree.select_action(0.0) in (5, 8) and tree.principal_variation()[0] in (5, 8)
    _tree_links_hold(tree)
    tree.advance(5)                         # a kept move's subtree becomes the tree
    assert not tree.root_restricted and tree.num_visits == counts[5]
    _tree_links_hold(tree, counts=False)
    fresh = Tree(ttt.initial_state(), SearchConfig(), np.random.default_rng(0))
    with pytest.raises(ValueError, match="not expanded"):
        fresh.restrict_root([4])


def test_set_root_priors_renormalises_over_the_root_moves(ttt):
    tree = _search(ttt.state_from_text("xx.oo...."), 50, "virtual_loss")
    p = np.zeros(9)
    p[[2, 5]] = [3.0, 1.0]
    p[0] = 5.0                          # an occupied square: not a root move, ignored
    tree.set_root_priors(p)
    np.testing.assert_allclose(tree.priors()[[2, 5, 6, 7, 8]], [0.75, 0.25, 0, 0, 0])
    with pytest.raises(ValueError, match="no weight"):
        tree.set_root_priors(np.eye(9)[0])
    with pytest.raises(ValueError, match="not expanded"):
        Tree(ttt.initial_state(), SearchConfig(), np.random.default_rng(0)).set_root_priors(np.ones(9))


def _ttt_exact(game, text, memo={}):
    """(value for the side to move, plies to the end) by full minimax: the shortest win, the longest loss."""
    if text not in memo:
        s = game.state_from_text(text)
        res = []
        for a in s.legal_actions().tolist():
            c = s.apply(a)
            if c.is_terminal():
                res.append((float(c.returns()[s.to_play()]), 1))
            else:
                v, d = _ttt_exact(game, c.to_text())
                res.append((-v, d + 1))
        best = max(v for v, _ in res)
        ds = [d for v, d in res if v == best]
        memo[text] = (best, min(ds) if best >= 0 else max(ds))
    return memo[text]


@pytest.mark.parametrize("mode", ["lockstep", "virtual_loss"])
def test_solver_proves_the_exact_distance_to_the_end(ttt, mode):
    """Seeded tic-tac-toe positions whose minimax value is a win or a loss: once the MCTS-solver proves the root,
    `proven_plies` is the exact distance (the shortest win, the longest loss), the move chosen keeps it, and the
    principal variation is the proof: it ends the game, won by the right side, after exactly that many plies."""
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 12:
        s = ttt.initial_state()
        for _ in range(int(rng.integers(2, 6))):
            s = s.apply(int(rng.choice(s.legal_actions())))
            if s.is_terminal():
                break
        if s.is_terminal() or _ttt_exact(ttt, s.to_text())[0] == 0:
            continue
        v, d = _ttt_exact(ttt, s.to_text())
        tree = _search(s, 3000, mode)
        want = d if v > 0 else -d
        assert tree.proven_plies() == want, s.to_text()
        assert tree.proven_win() == (v > 0) and tree.proven_win(max_plies=d - 1) is False
        a = tree.select_action(0.0)
        assert tree.proven_plies(first=a) == want
        after = s.apply(a)
        assert after.is_terminal() or _ttt_exact(ttt, after.to_text()) == (-v, d - 1)
        line = tree.principal_variation(max_len=20)
        assert line[0] == a and len(line) == d
        end = s
        for b in line:
            end = end.apply(b)
        assert end.is_terminal() and end.returns()[s.to_play()] == v
        checked += 1
    # unproven and drawn roots have no distance
    assert _search(ttt.initial_state(), 50, mode).proven_plies() is None
