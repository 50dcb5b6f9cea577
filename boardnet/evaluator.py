"""Evaluators: states -> (priors `[B, action_size]`, values `[B]`), both from the side to move.

`NetEvaluator` runs one batched forward pass per call (bf16 autocast on CUDA through the
traincore Runtime; with the runtime's `int8` precision an int8 quantized copy of the net, calibrated on
positions from the net's own play), masks illegal actions, and keeps an LRU cache keyed by (position
key, weights version): `state.eval_key()` where the game has one (Go's history and ko, checkers' draw
counters), else `state.hash()`. `UniformEvaluator` and `RolloutEvaluator` need no network: uniform priors
over the legal moves with value 0, or the result of random play-outs.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import numpy as np
import torch

from boardnet.games.base import State
from boardnet.nets import value_from_head

__all__ = ["NetEvaluator", "UniformEvaluator", "RolloutEvaluator"]


def _uniform_priors(states: Sequence[State], action_size: int) -> np.ndarray:
    masks = np.stack([s.legal_mask() for s in states]) if states else np.zeros((0, action_size), bool)
    counts = masks.sum(axis=1, keepdims=True)
    return (masks / np.maximum(counts, 1)).astype(np.float32)


class UniformEvaluator:
    """Uniform priors over legal moves, value 0: the search alone (terminal values stay exact)."""

    def __init__(self, game):
        self.game = game
        self.calls = 0
        self.positions = 0

    def evaluate(self, states: Sequence[State]) -> tuple[np.ndarray, np.ndarray]:
        self.calls += 1
        self.positions += len(states)
        return _uniform_priors(states, self.game.action_size), np.zeros(len(states), dtype=np.float32)


class RolloutEvaluator:
    """Uniform priors; value = mean result of `num_rollouts` uniformly random play-outs from the
    side to move's view. Network-free, as in classic MCTS."""

    def __init__(self, game, num_rollouts: int = 1, rng: np.random.Generator | None = None):
        if num_rollouts < 1:
            raise ValueError(f"RolloutEvaluator num_rollouts={num_rollouts}: must be >= 1")
        self.game = game
        self.num_rollouts = num_rollouts
        self.rng = rng if rng is not None else np.random.default_rng()

    def _rollout(self, state: State) -> float:
        me = state.to_play()
        s = state
        rng = self.rng
        while not s.is_terminal():
            acts = s.legal_actions()
            s = s.apply(int(acts[rng.integers(len(acts))]))
        return float(s.returns()[me])

    def evaluate(self, states: Sequence[State]) -> tuple[np.ndarray, np.ndarray]:
        values = np.array([sum(self._rollout(s) for _ in range(self.num_rollouts)) / self.num_rollouts
                           for s in states], dtype=np.float32)
        return _uniform_priors(states, self.game.action_size), values


_ENTRY_OVERHEAD = 300   # bytes per cached position beyond its arrays: key tuple, entry tuple, dict slot


def _entry_bytes(entry) -> int:
    return entry[0].nbytes + entry[1].nbytes + _ENTRY_OVERHEAD


class NetEvaluator:
    """Batched network evaluation with masking, an LRU cache and optional random symmetries.

    net: a `boardnet.nets.PolicyValueNet` (or any module mapping `[B, C, H, W]` to policy logits
    `[B, A]` and a tanh value `[B]` or WDL logits `[B, 3]`). It is put on `runtime.device` and in
    eval mode. `runtime`: a `traincore.runtime.Runtime` (default: CPU, no autocast).
    `random_symmetry`: evaluate each position under a random board symmetry (drawn from `rng`)
    and map the policy back; cached results are returned as cached.
    """

    def __init__(self, net: torch.nn.Module, game, runtime=None, cache_size: int = 100_000,
                 random_symmetry: bool = False, rng: np.random.Generator | None = None,
                 cache_bytes: int = 256 << 20, shuffle_damping: float = 0.0, symmetries: int = 1,
                 quantized: torch.nn.Module | None = None):
        """`cache_size` caps the cached positions, `cache_bytes` their memory (priors are kept for
        the legal moves only, so a chess entry is ~0.3 KB, not the 18 KB of a dense [4672] row).

        `shuffle_damping` d scales each value by `1 - d * state.no_progress_fraction()` in games with a
        no-progress draw rule (checkers, chess; see `damped`): the closer that draw, the nearer 0 the value,
        so a search that is ahead prefers the moves that reset the count (captures, man or pawn moves)
        and one that is behind prefers to shuffle. Stockfish damps its evaluation with the fifty-move
        counter the same way. 0 (the default, what self-play uses) leaves the net's values as they are.

        `symmetries` S > 1: evaluate every position under the first S board symmetries of the game (8: the
        whole dihedral group of a square board; 2 and 4 take rotations first) in one batch and average the
        priors (after each one's masked softmax) and the values: S times the network work, a better policy
        (go19: validation top-1 43.4 % -> 45.6 % at 8). Games without symmetries (chess, checkers) ignore it.
        Not with `random_symmetry`.

        `quantized`: with an int8 runtime, the int8 copy of this same net made by another evaluator (its
        `_int8`), used instead of quantizing again (1-3 s)."""
        if cache_size < 0 or cache_bytes < 0:
            raise ValueError(f"NetEvaluator cache_size={cache_size}, cache_bytes={cache_bytes}: must be >= 0")
        if not 0.0 <= shuffle_damping <= 1.0:
            raise ValueError(f"NetEvaluator shuffle_damping={shuffle_damping}: must be in [0, 1]")
        self.shuffle_damping = float(shuffle_damping)
        self.cache_bytes = cache_bytes
        self._bytes = 0
        if runtime is None:   # keep the net where it is (CPU for a fresh one)
            from traincore.runtime import Runtime
            p = next(net.parameters(), None)
            runtime = Runtime.create(device=str(p.device) if p is not None else "cpu")
        self.game = game
        self._int8 = None
        if runtime.int8 and quantized is not None:
            self._int8 = quantized
        elif runtime.int8:
            try:
                self._int8 = int8_net(net, game)   # quantizes an eval-mode CPU copy; `net` is left as it is
            except Exception as exc:   # a net FX cannot trace or quantize: auto falls back, int8 asked for fails
                if runtime.requested != "auto":
                    first = (str(exc).strip().splitlines() or [""])[0][:160]
                    raise ValueError(f"precision 'int8': this net cannot be quantized ({type(exc).__name__}: "
                                     f"{first}); use --precision auto or fp32") from None
                import dataclasses

                from traincore.runtime import Runtime
                runtime = Runtime.create(device=str(runtime.device), precision="auto")
                runtime = dataclasses.replace(runtime, reason=f"{runtime.reason}; int8 quantization of this net "
                                              f"failed ({type(exc).__name__})")
        self.runtime = runtime
        self.net = runtime.prepare(net).eval()
        self.cache_size = cache_size
        self.random_symmetry = random_symmetry and game.num_symmetries > 1
        if not 1 <= int(symmetries) <= max(8, game.num_symmetries):
            raise ValueError(f"NetEvaluator symmetries={symmetries}: must be 1-{max(8, game.num_symmetries)}")
        if symmetries > 1 and random_symmetry:
            raise ValueError("NetEvaluator: symmetries > 1 averages fixed symmetries; not with random_symmetry")
        self.symmetries = min(int(symmetries), game.num_symmetries)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.weights_version = 0
        self._cache: OrderedDict = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.batches = 0

    def set_weights(self, state_dict: dict) -> None:
        """Load new weights (any device), bump `weights_version` and drop the cache."""
        target = getattr(self.net, "_orig_mod", self.net)
        target.load_state_dict(state_dict)
        self.net.eval()
        if self._int8 is not None:   # a learner's new weights: not worth a cache file each
            self._int8 = int8_net(self.net, self.game, cache=False)
        self.weights_version += 1
        self.clear_cache()

    def clear_cache(self) -> None:
        self._cache.clear()
        self._bytes = 0

    @property
    def cache_nbytes(self) -> int:
        """Approximate memory held by the cache (arrays plus per-entry overhead)."""
        return self._bytes

    @property
    def cache_len(self) -> int:
        return len(self._cache)

    def ownership(self, state: State) -> np.ndarray | None:
        """The net's ownership head for one position: float32 `[H, W]` in [-1, 1], +1 where the side to
        move will own the point at the end; None for a net without that head."""
        target = getattr(self.net, "_orig_mod", self.net)
        if getattr(target, "ownership_conv", None) is None:
            return None
        x = self.runtime.to_device(torch.from_numpy(np.ascontiguousarray(state.planes()[None], dtype=np.float32)))
        with torch.inference_mode(), self.runtime.autocast():
            own = target(x, ownership=True)[2]
        return torch.tanh(own.float())[0].cpu().numpy()

    def evaluate(self, states: Sequence[State]) -> tuple[np.ndarray, np.ndarray]:
        """priors float32 `[B, action_size]` (0 on illegal moves, sum 1 over legal), values float32 `[B]`
        (damped by `shuffle_damping` after the cache)."""
        priors, values = self._evaluate(states)
        if self.shuffle_damping and len(states):
            values = damped(values, states, self.shuffle_damping)
        return priors, values

    def _evaluate(self, states: Sequence[State]) -> tuple[np.ndarray, np.ndarray]:
        n = len(states)
        A = self.game.action_size
        priors = np.empty((n, A), dtype=np.float32)
        values = np.empty(n, dtype=np.float32)
        if n == 0:
            return priors, values
        cache = self._cache
        miss: list[int] = []
        keys: list = []
        if self.cache_size:
            ver = self.weights_version
            keyed = getattr(states[0], "eval_key", None) is not None  # one game per call
            for i, s in enumerate(states):
                key = (s.eval_key() if keyed else s.hash(), ver)
                hit = cache.get(key)
                if hit is None:
                    miss.append(i)
                    keys.append(key)
                else:
                    cache.move_to_end(key)
                    priors[i] = 0.0
                    priors[i, hit[0]] = hit[1]
                    values[i] = hit[2]
            self.hits += n - len(miss)
        else:
            miss = list(range(n))
        self.misses += len(miss)
        if not miss:
            return priors, values
        todo = [states[i] for i in miss] if len(miss) < n else states
        p, v = self._forward(todo)
        priors[miss] = p
        values[miss] = v
        if self.cache_size and self.cache_bytes:
            idx_type = np.uint16 if A <= 65536 else np.int32
            for j, key in enumerate(keys):
                idx = np.flatnonzero(p[j]).astype(idx_type)
                entry = (idx, p[j][idx], float(v[j]))
                old = cache.pop(key, None)
                if old is not None:
                    self._bytes -= _entry_bytes(old)
                cache[key] = entry
                self._bytes += _entry_bytes(entry)
            while cache and (len(cache) > self.cache_size or self._bytes > self.cache_bytes):
                _, old = cache.popitem(last=False)
                self._bytes -= _entry_bytes(old)
        return priors, values

    def _forward(self, states: Sequence[State]) -> tuple[np.ndarray, np.ndarray]:
        planes = np.stack([s.planes() for s in states])
        masks = np.stack([s.legal_mask() for s in states])
        if not masks.any(axis=1).all():
            bad = states[int(np.argmin(masks.any(axis=1)))]
            raise ValueError(f"evaluate: position {bad.to_text()!r} has no legal moves (terminal?)")
        if self.symmetries > 1:
            return self._forward_averaged(planes, masks)
        syms = None
        if self.random_symmetry:
            syms = self.rng.integers(self.game.num_symmetries, size=len(states))
            for k in np.unique(syms).tolist():
                if k:
                    sel = syms == k
                    planes[sel], _ = self.game.transform(planes[sel], None, k)
        logits, v = self._run(planes)
        if syms is not None:
            for k in np.unique(syms).tolist():
                if k:
                    sel = syms == k
                    _, logits[sel] = self.game.transform(None, logits[sel], self.game.inverse(k))
        # masked softmax in float64 then float32: no legal move can underflow to exactly 0 by bf16
        logits = np.where(masks, logits.astype(np.float64), -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p.astype(np.float32), v

    def _forward_averaged(self, planes: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Priors and values averaged over the first `self.symmetries` symmetries, run as one batch."""
        S, B = self.symmetries, len(planes)
        batch = np.concatenate([planes] + [self.game.transform(planes, None, k)[0] for k in range(1, S)])
        logits, v = self._run(np.ascontiguousarray(batch))
        p = np.zeros(masks.shape, dtype=np.float64)
        for k in range(S):
            lk = logits[k * B:(k + 1) * B]
            if k:
                _, lk = self.game.transform(None, lk, self.game.inverse(k))
            lk = np.where(masks, lk.astype(np.float64), -np.inf)
            lk -= lk.max(axis=1, keepdims=True)
            e = np.exp(lk)
            p += e / e.sum(axis=1, keepdims=True)
        p /= S
        return p.astype(np.float32), v.reshape(S, B).mean(axis=0).astype(np.float32)

    @torch.inference_mode()
    def _run(self, planes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = self.runtime.to_device(torch.from_numpy(planes))
        self.batches += 1
        with self.runtime.autocast():
            logits, v = (self._int8 or self.net)(x)
        return logits.float().cpu().numpy(), value_from_head(v).cpu().numpy()


def damped(values: np.ndarray, states: Sequence[State], damping: float) -> np.ndarray:
    """`values * (1 - damping * no_progress_fraction)` per state, for states of games with a
    no-progress draw rule; the others keep their values."""
    f = getattr(states[0], "no_progress_fraction", None)
    if f is None:
        return values
    frac = np.fromiter((s.no_progress_fraction() for s in states), dtype=np.float32, count=len(states))
    return (values * (1.0 - np.float32(damping) * frac)).astype(np.float32, copy=False)


def calibration_positions(net: torch.nn.Module, game, positions: int = 256, games: int = 16,
                          seed: int = 0) -> list[np.ndarray]:
    """Planes of positions from `games` games sampled from the net's own policy (fp32), in batches of
    the live games, until `positions` are collected: the activations int8 calibration should see."""
    rng = np.random.default_rng(seed)
    states = [game.initial_state() for _ in range(games)]
    out: list[np.ndarray] = []
    n = 0
    p0 = next(net.parameters(), None)
    dev = p0.device if p0 is not None else torch.device("cpu")
    while n < positions:
        live = [s for s in states if not s.is_terminal()]
        if not live:
            states = [game.initial_state() for _ in range(games)]
            continue
        planes = np.stack([s.planes() for s in live]).astype(np.float32)
        out.append(planes)
        n += len(live)
        with torch.inference_mode():
            logits = net(torch.from_numpy(planes).to(dev))[0].float().cpu().numpy().astype(np.float64)
        nxt = []
        for s, lg in zip(live, logits):
            lg = np.where(s.legal_mask(), lg, -np.inf)
            p = np.exp(lg - lg.max())
            nxt.append(s.apply(int(rng.choice(len(p), p=p / p.sum()))))
        states = nxt
    return out


def int8_net(net: torch.nn.Module, game, cache: bool = True, heads_fp32: bool = False) -> torch.nn.Module:
    """An int8 quantized copy of a policy/value net for CPU inference (`traincore.quant`), calibrated on
    256 positions of its own play; it maps planes to (policy logits, value) as the net does. `cache`: read
    and keep the copy in `traincore.quant.int8_cache_dir()` (not for weights that change during a run,
    such as a self-play actor's). `heads_fp32`: keep :func:`fp32_heads` in fp32 (measured, not the default:
    docs/benchmarks.md, "Output heads in fp32")."""
    from traincore.quant import quantize_int8, weights_key
    target = getattr(net, "_orig_mod", net)
    example = torch.from_numpy(game.initial_state().planes()[None].astype(np.float32))
    heads = fp32_heads(target) if heads_fp32 else []
    key = (weights_key(target, "boardnet.evaluator.int8_net/calibration_positions(256, 16 games, seed 0)",
                       game.name, str(tuple(example.shape)), *(["fp32:" + ",".join(heads)] if heads else []))
           if cache else None)
    # the observing copy computes what the fp32 net does, so it plays the calibration games itself
    return quantize_int8(target, lambda observing: calibration_positions(observing, game), example=example,
                         concrete_args={"ownership": False}, cache_key=key, keep_fp32=heads)


def fp32_heads(net: torch.nn.Module) -> list[str]:
    """The output heads `int8_net(heads_fp32=True)` keeps in fp32: the value head, and the policy head where it is a
    1x1 convolution and a linear layer (a few percent of a tower's arithmetic); a policy head with a 3x3 convolution
    (chess' move planes) is quantized."""
    names = [n for n in ("value_conv", "value_fc") if getattr(net, n, None) is not None]
    if getattr(net, "policy_fc", None) is not None:
        names = ["policy_conv", "policy_fc"] + names
    return names
