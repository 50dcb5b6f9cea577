"""The learner: policy cross-entropy + value loss on replay samples, trained with traincore.fit.

Loss per sample: -sum(pi * log softmax(policy_logits)) + value_loss, where the value target is
(1 - q_weight) * z + q_weight * q (z: game outcome, q: root search value, both from the side to move's
view); value_loss is MSE for the tanh head, cross-entropy against (P(win), P(draw), P(loss)) for WDL.
Each batch gets a random board symmetry per sample (planes and policy moved together). A Go net with an
ownership head (`net.ownership`) also learns the final Tromp-Taylor owner of every point of the games that
ended on the board: + `train.ownership_weight` x the mean per-point cross-entropy (KataGo's auxiliary
target; without it self-play would let the head drift away from the trunk it reads).
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch.nn import functional as F

from boardnet.games.base import Game
from boardnet.nets import PolicyValueNet, build_net, model_state
from selfplay.config import Config
from selfplay.replay import ReplayBuffer
from traincore.loop import fit
from traincore.runtime import Runtime, unwrap
from traincore.schedule import as_torch_scheduler, make_schedule


def augment(game: Game, planes: np.ndarray, policy: np.ndarray, rng: np.random.Generator,
            own: np.ndarray | None = None):
    """A random symmetry per sample: planes [N, C, H, W], policy [N, A] -> (planes, policy); with `own`
    [N, H, W] (a per-point target) it is moved with its planes and (planes, policy, own) is returned."""
    if own is not None:
        stacked = np.concatenate([planes, own[:, None].astype(planes.dtype)], axis=1)
        stacked, policy = augment(game, stacked, policy, rng)
        return stacked[:, :-1], policy, stacked[:, -1].astype(own.dtype)
    if game.num_symmetries <= 1:
        return planes, policy
    ks = rng.integers(0, game.num_symmetries, size=len(planes))
    out_p, out_pi = np.empty_like(planes), np.empty_like(policy)
    for k in np.unique(ks):
        sel = ks == k
        p, pi = game.transform(planes[sel], policy[sel], int(k))
        out_p[sel], out_pi[sel] = p, pi
    return out_p, out_pi


def value_loss_per_sample(v: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[B] value loss: squared error for the tanh head `[B]`; for WDL logits `[B, 3]` the cross-entropy
    against (P(win), P(draw), P(loss)) made from the scalar target t in [-1, 1]."""
    if v.dim() == 2:
        t = target.clamp(-1, 1)
        win, loss = t.clamp(min=0), (-t).clamp(min=0)
        wdl = torch.stack([win, 1 - win - loss, loss], dim=1)
        return -(wdl * F.log_softmax(v, dim=1)).sum(dim=1)
    return (v - target) ** 2


def ownership_loss_per_sample(logits: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """[B] mean over the points of the cross-entropy between the head's P(mover owns) = sigmoid(2 x)
    (tanh(x) = 2 sigmoid(2 x) - 1) and the target (1 + own) / 2 (a neutral point is 1/2)."""
    target = (own.float() + 1.0) / 2.0
    return F.binary_cross_entropy_with_logits(2.0 * logits.float(), target, reduction="none").flatten(1).mean(1)


def forward_heads(net, batch):
    """(policy logits, value output, ownership logits or None) for the planes `batch[0]`, fp32; the ownership
    head runs when the batch carries its targets (six entries: ..., own [B,H,W], own mask [B])."""
    if len(batch) == 6:
        logits, v, own_logits = net(batch[0], ownership=True)
    else:
        (logits, v), own_logits = net(batch[0]), None
    return logits.float(), v.float(), own_logits


def masked_ownership_loss(own_logits: torch.Tensor, batch) -> torch.Tensor:
    """Mean per-sample ownership cross-entropy over the samples whose mask (`batch[5]`) is set."""
    own, mask = batch[4], batch[5]
    return (ownership_loss_per_sample(own_logits, own) * mask).sum() / mask.sum().clamp_min(1.0)


def policy_value_loss(net, batch, q_weight: float = 0.0, ownership_weight: float = 1.0):
    """batch = (planes [B,C,H,W], pi [B,A], z [B], q [B][, own [B,H,W] int8, own mask [B]]) tensors ->
    (loss, metrics); the ownership terms train a net's ownership head."""
    _, pi, z, q = batch[:4]
    logits, v, own_logits = forward_heads(net, batch)
    target = (1.0 - q_weight) * z + q_weight * q
    policy_loss = -(pi * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    value_loss = value_loss_per_sample(v, target).mean()
    if v.dim() == 2:
        p = torch.softmax(v, dim=1)
        v_scalar = p[:, 0] - p[:, 2]
    else:
        v_scalar = v
    loss = policy_loss + value_loss
    extra = {}
    if own_logits is not None:
        own_loss = masked_ownership_loss(own_logits, batch)
        loss = loss + ownership_weight * own_loss
        extra["ownership_loss"] = own_loss.item()
    with torch.no_grad():
        entropy = -(pi * torch.log(pi.clamp_min(1e-12))).sum(1).mean()
        metrics = {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                   "policy_kl": policy_loss.item() - entropy.item(),
                   "value_mse": F.mse_loss(v_scalar, z).item(), **extra}
    return loss, metrics


class Learner:
    """Trains the net with `runtime`'s precision: bf16 autocast for the forward and backward passes when
    it is on, fp32 master weights, fp32 loss (`policy_value_loss` casts the heads' outputs to fp32) and
    fp32 optimizer state."""

    def __init__(self, game: Game, game_name: str, game_kwargs: dict, cfg: Config, runtime: Runtime):
        self.game, self.game_name, self.game_kwargs = game, game_name, game_kwargs
        self.cfg = cfg
        self.runtime = runtime
        self.net: PolicyValueNet = build_net(game, cfg.net.preset, **cfg.net.overrides())
        self.model = runtime.prepare(self.net)
        t = cfg.train
        decay, no_decay = [], []
        for name, p in self.net.named_parameters():
            (no_decay if p.dim() <= 1 else decay).append(p)   # no weight decay on norms and biases
        self.optimizer = torch.optim.SGD([{"params": decay, "weight_decay": t.weight_decay},
                                          {"params": no_decay, "weight_decay": 0.0}],
                                         lr=t.lr, momentum=t.momentum, nesterov=True)
        self.schedule = make_schedule(t.schedule, t.lr, total_steps=max(t.total_steps, t.warmup_steps + 1),
                                      warmup=t.warmup_steps)
        self.scheduler = as_torch_scheduler(self.optimizer, self.schedule)
        self.step = 0
        self.last_metrics: dict = {}

    def batches(self, buffer: ReplayBuffer, rng: np.random.Generator) -> Iterator:
        b = self.cfg.train.batch_size
        dev = self.runtime.device
        while True:
            s = buffer.sample(b, rng)
            if s.own is not None and self.net.config.ownership:
                planes, pi, own = augment(self.game, s.planes.astype(np.float32), s.policy, rng, s.own)
                extra = (torch.from_numpy(own).to(dev), torch.from_numpy(s.own_mask).to(dev))
            else:
                planes, pi = augment(self.game, s.planes.astype(np.float32), s.policy, rng)
                extra = ()
            yield (self.runtime.to_device(torch.from_numpy(planes)), torch.from_numpy(pi).to(dev),
                   torch.from_numpy(s.value).to(dev), torch.from_numpy(s.q).to(dev), *extra)

    def train(self, buffer: ReplayBuffer, n_steps: int, rng: np.random.Generator, hooks=()) -> dict:
        qw, ow = self.cfg.train.q_weight, self.cfg.train.ownership_weight
        state = fit(self.model, lambda m, batch: policy_value_loss(m, batch, qw, ow), self.batches(buffer, rng),
                    self.optimizer, runtime=self.runtime, steps=self.step + n_steps, start_step=self.step,
                    scheduler=self.scheduler, clip_grad=self.cfg.train.clip_grad, hooks=hooks)
        self.step = state.step
        self.last_metrics = state.last
        return state.last

    def load_init(self, path: str) -> None:
        """Start from a model file's weights (AlphaGo's SL -> RL step). The net's shape and the game
        must match this run's config; the optimizer and the step start fresh. Raises ValueError."""
        from boardnet.nets import NetConfig
        from traincore.checkpoint import CheckpointError, load_checkpoint
        try:
            st = load_checkpoint(path, kind="boardnet")
        except (CheckpointError, FileNotFoundError, OSError) as e:
            raise ValueError(f"run.init {path}: {e}") from None
        from boardnet.games import make_game
        game = make_game(st["game"], **{k: v for k, v in st.get("game_kwargs", {}).items() if k != "komi"})
        if game.name != self.game.name:
            raise ValueError(f"run.init {path}: a net for {game.name}, but this run plays {self.game.name}")
        theirs = NetConfig.from_dict(st["net"]) if "in_channels" in st["net"] else None
        mine = self.net.config
        if theirs is not None and theirs != mine:
            diff = {k: (getattr(theirs, k), getattr(mine, k)) for k in mine.to_dict()
                    if k != "preset" and getattr(theirs, k) != getattr(mine, k)}
            raise ValueError(f"run.init {path}: the net's shape differs from net.preset={self.cfg.net.preset!r}, "
                             f"value_head={self.cfg.net.value_head!r} (file vs config: {diff})")
        unwrap(self.model).load_state_dict(st["model"])

    def weights(self) -> dict:
        """CPU state dict of the unwrapped net (what actors load)."""
        return {k: v.detach().cpu().clone() for k, v in unwrap(self.model).state_dict().items()}

    def model_checkpoint(self, **extra) -> dict:
        """The net's checkpoint (fp32 weights, contiguous: loads on any device and precision), with the
        training runtime (precision actually used) in its metadata."""
        extra.setdefault("runtime", self.runtime.metadata())
        return model_state(self.net, self.game_name, self.game_kwargs, **extra)

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "step": self.step}

    def load_state_dict(self, model: dict, d: dict) -> None:
        unwrap(self.model).load_state_dict(model)
        self.optimizer.load_state_dict(d["optimizer"])
        self.scheduler.load_state_dict(d["scheduler"])
        self.step = int(d["step"])
