"""Search throughput against the network's own throughput, measured in the same run.

For each (game, preset):
- raw network throughput: positions/s of the bare forward pass (inference mode, tensors ready)
  at batch 1 and at the self-play batch size;
- lock-step self-play search (`search_lockstep`): that many concurrent games, each move a fixed
  number of simulations per game, moves sampled at temperature 1 with root noise, finished games
  restarted; simulations/s with the evaluator cache off (every leaf goes through the network);
- search efficiency = search simulations/s / raw batched positions/s (target >= 0.7: the tree,
  the rules and the tensor work cost at most 30% on top of the network). Raw and search
  measurements alternate, round by round, and the ratio is the median over rounds, so load from
  other processes on the shared machine hits both sides alike;
- a sequential baseline in the style of alpha-zero-general (dicts keyed by the position text,
  recursive search, one batch-1 network call per simulation, same net) and our speed-up over it;
- single-game figures of our own: `search_virtual_loss` (batch 16) and `search_lockstep` on one tree;
- peak memory (ru_maxrss).

    PYTHONPATH=. python benchmarks/search.py [--games connect4 go9 chess] [--presets b4c32 b6c64]
        [--batch 256] [--rounds 3] [--json out.json]

Nets are randomly initialised: speed does not depend on the weights (values near 0 make the
trees a little wider than a trained net's, which if anything costs the search more).
"""
from __future__ import annotations

import argparse
import math
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from boardnet.evaluator import NetEvaluator
from boardnet.games import make_game, random_states
from boardnet.nets import build_net, count_parameters, default_preset, flops_per_position
from boardnet.search import SearchConfig, Tree, search_lockstep, search_virtual_loss

# per game: simulations per move in the lock-step run, moves per round, sequential seconds
PLAN = {"connect4": (64, 2, 6.0), "go9": (32, 1, 8.0), "chess": (32, 1, 8.0), "tictactoe": (64, 2, 4.0)}


sample_states = random_states   # n non-terminal positions a random number of random plies in


def raw_rate(net, x: torch.Tensor, seconds: float) -> tuple[float, float]:
    """Positions per wall second and per process CPU second of net(x), over about `seconds`."""
    n = 0
    with torch.inference_mode():
        net(x)
        t0, c0 = time.perf_counter(), time.process_time()
        while True:
            net(x)
            n += x.shape[0]
            dt = time.perf_counter() - t0
            if dt >= seconds:
                return n / dt, n / (time.process_time() - c0)


class CountingEvaluator:
    """Counts positions and the process CPU time spent inside the evaluator."""

    def __init__(self, inner):
        self.inner = inner
        self.positions = 0
        self.cpu = 0.0

    def evaluate(self, states):
        self.positions += len(states)
        c0 = time.process_time()
        out = self.inner.evaluate(states)
        self.cpu += time.process_time() - c0
        return out


def lockstep_move(trees, evaluator, sims, rng, game, cfg):
    """One self-play move in every game: search, sample at temperature 1, advance or restart."""
    search_lockstep(trees, evaluator, sims, add_noise=True)
    for i, t in enumerate(trees):
        a = t.select_action(1.0, rng)
        if t.root_state.apply(a).is_terminal():
            trees[i] = Tree(game.initial_state(), cfg, np.random.default_rng(int(rng.integers(2**31))))
        else:
            t.advance(a)


# -- alpha-zero-general style sequential MCTS (the baseline) -----------------------------------------


class AZGStyleMCTS:
    """alpha-zero-general's MCTS shape: dicts keyed by the position string, one recursive descent
    per simulation, a batch-1 `predict` per new leaf (softmax over the masked policy)."""

    def __init__(self, game, net, cpuct: float = 1.0):
        self.game, self.net, self.cpuct = game, net, cpuct
        self.Qsa, self.Nsa, self.Ns, self.Ps, self.Es, self.Vs = {}, {}, {}, {}, {}, {}

    def predict(self, state):
        x = torch.from_numpy(state.planes())[None]
        with torch.inference_mode():
            logits, v = self.net(x)
        return torch.softmax(logits, 1)[0].numpy(), float(v[0])

    def search(self, state, mover: int) -> float:
        """Value of `state` for `mover`, the player who moved into it."""
        s = state.to_text()
        if s not in self.Es:
            self.Es[s] = float(state.returns()[mover]) if state.is_terminal() else None
        if self.Es[s] is not None:
            return self.Es[s]
        if s not in self.Ps:
            p, v = self.predict(state)
            valids = state.legal_mask()
            p = p * valids
            self.Ps[s] = p / p.sum()
            self.Vs[s] = np.flatnonzero(valids)
            self.Ns[s] = 0
            return -v
        best, best_a = -math.inf, -1
        for a in self.Vs[s].tolist():   # legal actions only (the original loops over all actions)
            if (s, a) in self.Qsa:
                u = self.Qsa[(s, a)] + self.cpuct * self.Ps[s][a] * math.sqrt(self.Ns[s]) / (1 + self.Nsa[(s, a)])
            else:
                u = self.cpuct * self.Ps[s][a] * math.sqrt(self.Ns[s] + 1e-8)
            if u > best:
                best, best_a = u, a
        a = best_a
        v = self.search(state.apply(a), state.to_play())
        if (s, a) in self.Qsa:
            self.Qsa[(s, a)] = (self.Nsa[(s, a)] * self.Qsa[(s, a)] + v) / (self.Nsa[(s, a)] + 1)
            self.Nsa[(s, a)] += 1
        else:
            self.Qsa[(s, a)] = v
            self.Nsa[(s, a)] = 1
        self.Ns[s] += 1
        return -v


def azg_rate(game, net, sims: int, seconds: float, seed: int = 0) -> float:
    """Simulations/s of the AZG-style search playing one game (restarted when over)."""
    rng = np.random.default_rng(seed)
    state, mcts = game.initial_state(), AZGStyleMCTS(game, net)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(sims):
            mcts.search(state, 1 - state.to_play())
        n += sims
        s = state.to_text()
        counts = np.array([mcts.Nsa.get((s, a), 0) for a in range(game.action_size)], float)
        state = state.apply(int(rng.choice(game.action_size, p=counts / counts.sum())))
        if state.is_terminal():
            state, mcts = game.initial_state(), AZGStyleMCTS(game, net)
    return n / (time.perf_counter() - t0)


def own_single_rates(game, net, sims: int, seconds: float):
    """(virtual-loss batch-16 sims/s, lock-step-on-one-tree sims/s) for one game's moves."""
    ev = NetEvaluator(net, game, cache_size=0)
    out = []
    for mode in ("vl", "one"):
        rng = np.random.default_rng(1)
        state = game.initial_state()
        tree = Tree(state, SearchConfig(), rng)
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            before = tree.num_visits
            if mode == "vl":
                search_virtual_loss(tree, ev, sims, batch_size=16)
            else:
                search_lockstep([tree], ev, sims)
            n += tree.num_visits - before
            a = tree.select_action(1.0, rng)
            if tree.root_state.apply(a).is_terminal():
                tree = Tree(game.initial_state(), SearchConfig(), rng)
            else:
                tree.advance(a)
        out.append(n / (time.perf_counter() - t0))
    return out


def bench(game_name: str, preset: str, batch: int, rounds: int, quick: bool) -> dict:
    game = make_game(game_name)
    sims, moves, seq_seconds = PLAN.get(game_name, (32, 1, 6.0))
    if quick:
        moves, seq_seconds = 1, seq_seconds / 3
    torch.manual_seed(0)
    net = build_net(game, preset).eval()
    states = sample_states(game, batch)
    xb = torch.from_numpy(np.stack([s.planes() for s in states]))
    x1 = xb[:1].clone()
    res = {"game": game_name, "preset": preset, "params": count_parameters(net),
           "mflops_per_position": flops_per_position(net) / 1e6, "batch": batch, "sims_per_move": sims}
    res["raw_b1"] = raw_rate(net, x1, 2.0)[0]
    cfg = SearchConfig(num_simulations=sims)
    rng = np.random.default_rng(0)
    trees = [Tree(game.initial_state(), cfg, np.random.default_rng(i)) for i in range(batch)]
    ev = CountingEvaluator(NetEvaluator(net, game, cache_size=0))
    lockstep_move(trees, ev, sims, rng, game, cfg)   # warm-up, and games spread out a little
    raw_b, search_r, eval_r, effs, eff_pos, eff_cpu, outside = [], [], [], [], [], [], []
    for _ in range(rounds):
        before, before_cpu = raw_rate(net, xb, 1.5)
        ev.positions, ev.cpu = 0, 0.0
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(moves):
            lockstep_move(trees, ev, sims, rng, game, cfg)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        after, after_cpu = raw_rate(net, xb, 1.5)
        raw = (before + after) / 2
        rate = batch * sims * moves / dt
        raw_b.append(raw)
        search_r.append(rate)
        eval_r.append(ev.positions / dt)
        effs.append(rate / raw)
        eff_pos.append(ev.positions / dt / raw)
        eff_cpu.append(batch * sims * moves / dc / ((before_cpu + after_cpu) / 2))
        outside.append((dc - ev.cpu) / (batch * sims * moves) * 1e6)
    res["raw_batched"] = statistics.median(raw_b)
    res["lockstep_sims_s"] = statistics.median(search_r)
    res["lockstep_net_positions_s"] = statistics.median(eval_r)
    res["efficiency"] = statistics.median(effs)
    res["efficiency_net_positions"] = statistics.median(eff_pos)
    res["efficiency_rounds"] = effs
    res["efficiency_cpu"] = statistics.median(eff_cpu)   # the same ratio on process CPU time
    # tree, rules and move choice: CPU microseconds per simulation spent outside the evaluator
    res["outside_evaluator_us_per_sim"] = statistics.median(outside)
    # with the evaluator cache on (what self-play runs): transpositions and repeats skip the net
    cached = CountingEvaluator(NetEvaluator(net, game, cache_size=100_000))
    trees = [Tree(game.initial_state(), cfg, np.random.default_rng(i)) for i in range(batch)]
    t0 = time.perf_counter()
    for _ in range(moves + 1):
        lockstep_move(trees, cached, sims, rng, game, cfg)
    res["lockstep_cached_sims_s"] = batch * sims * (moves + 1) / (time.perf_counter() - t0)
    res["sequential_azg_sims_s"] = azg_rate(game, net, sims, seq_seconds)
    res["speedup_vs_sequential"] = res["lockstep_sims_s"] / res["sequential_azg_sims_s"]
    vl, one = own_single_rates(game, net, sims, seq_seconds / 2)
    res["own_virtual_loss_b16_sims_s"] = vl
    res["own_single_tree_sims_s"] = one
    res["maxrss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--games", nargs="+", default=["connect4", "go9", "chess"])
    ap.add_argument("--presets", nargs="+", default=["b4c32", "b6c64"],
                    help="presets for Connect Four; other games use their default preset")
    ap.add_argument("--batch", type=int, default=256, help="concurrent games = batch size")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (2 cores here)")
    ap.add_argument("--quick", action="store_true", help="one move per round, shorter baselines")
    ap.add_argument("--json", nargs="?", const="", default=None, metavar="PATH",
                    help="write the results with provenance to benchmarks/results/search-<date>.json (or PATH)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, batch {args.batch}")
    results = []
    for g in args.games:
        presets = args.presets if g == "connect4" else [default_preset(g)]
        for p in presets:
            r = bench(g, p, args.batch, args.rounds, args.quick)
            results.append(r)
            print(f"{g:9s} {p:7s} params {r['params']:,} ({r['mflops_per_position']:.1f} MFLOP/pos)\n"
                  f"  raw net         batch 1 {r['raw_b1']:8.0f} pos/s   batch {args.batch} "
                  f"{r['raw_batched']:8.0f} pos/s\n"
                  f"  lock-step       {r['lockstep_sims_s']:8.0f} sims/s ({r['lockstep_net_positions_s']:.0f} "
                  f"net pos/s), cache on {r['lockstep_cached_sims_s']:.0f} sims/s\n"
                  f"  EFFICIENCY      {r['efficiency']:.2f} (sims/s / raw batched pos/s; rounds "
                  f"{', '.join(f'{e:.2f}' for e in r['efficiency_rounds'])}), by net positions "
                  f"{r['efficiency_net_positions']:.2f}, on CPU time {r['efficiency_cpu']:.2f}\n"
                  f"  outside the evaluator {r['outside_evaluator_us_per_sim']:.1f} CPU us/sim\n"
                  f"  sequential AZG  {r['sequential_azg_sims_s']:8.0f} sims/s -> speed-up "
                  f"{r['speedup_vs_sequential']:.1f}x\n"
                  f"  ours, one game  virtual loss b16 {r['own_virtual_loss_b16_sims_s']:.0f} sims/s, "
                  f"lock-step on 1 tree {r['own_single_tree_sims_s']:.0f} sims/s\n"
                  f"  peak RSS        {r['maxrss_mib']:.0f} MiB", flush=True)
    if args.json is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from benchmarks._results import write_result
        figures = {"games": args.games, "presets": args.presets, "batch": args.batch, "rounds": args.rounds,
                   "threads": args.threads, "quick": args.quick, "rows": results}
        print("results written to", write_result("search", figures, out=args.json or None))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
