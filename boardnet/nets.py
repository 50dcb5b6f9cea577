"""Residual policy/value networks for board games (AlphaZero-style), presets named by shape.

A net maps observation planes `[B, C, H, W]` (float32, from the side to move's view) to
policy logits `[B, action_size]` and a value head: `[B]` tanh value in [-1, 1], or with
`value_head="wdl"` win/draw/loss logits `[B, 3]` (value = P(win) - P(loss)).

Tower: 3x3 conv stem, `blocks` residual blocks of two 3x3 convs with batch norm and ReLU;
optional squeeze-excitation (scale and bias, as in Leela Chess Zero) and KataGo-style global
pooling bias blocks (mean and max over the board feed a bias for every channel, which lets a
convolutional net see the whole board, e.g. for Go's whole-board fights or chess's long lines).

The policy head is AlphaZero Go's (a 1x1 conv to `policy_channels` planes, then a fully connected layer to
every action) unless `policy_planes` is set: then it is AlphaZero chess's convolutional head (a 3x3 conv, then
a 1x1 conv to `policy_planes` planes read as the logits), for games whose actions are laid out as
`[policy_planes, H, W]` aligned with the input planes (chess: 73 x 8 x 8). A fully connected head from two
planes must squeeze 4,672 chess moves through 128 numbers; the convolutional one keeps each move at its square.

An optional ownership head (KataGo's auxiliary target: who owns each point when the game ends) gives
Go's value head 81-361 labels per position to learn from instead of one result; only training reads it.

Presets are named `b<blocks>c<channels>` (b4c32, b6c64, b10c128, b20c256, ...; any such name
is accepted); suffixes `-se` and `-gp` switch on squeeze-excitation and global pooling.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

SCHEMA_VERSION = 1
VALUE_HEADS = ("scalar", "wdl")
PRESETS = ("b4c32", "b6c64", "b10c128", "b15c192", "b20c256")
# a size per game that trains and plays at a useful speed on a small CPU machine
DEFAULT_PRESETS = {"tictactoe": "b2c16", "connect4": "b6c64", "go": "b6c64", "chess": "b6c64",
                   "checkers": "b6c64"}
_PRESET_RE = re.compile(r"^b(\d+)c(\d+)((?:-se|-gp)*)$")


@dataclass(frozen=True)
class NetConfig:
    """Shape of a policy/value net. `in_channels, height, width` = the game's `obs_shape`."""

    in_channels: int
    height: int
    width: int
    action_size: int
    blocks: int = 6
    channels: int = 64
    se_ratio: int = 0            # squeeze-excitation reduction ratio; 0 = off
    global_pool_every: int = 0   # every k-th residual block gets a global pooling bias; 0 = off
    policy_channels: int = 2
    policy_planes: int = 0       # > 0: convolutional policy head, actions laid out [policy_planes, H, W]
    value_channels: int = 1
    value_hidden: int = 128
    value_head: str = "scalar"   # "scalar" (tanh) or "wdl" (3 logits)
    value_pool: bool = False     # value head reads mean+max pooled channels (as with global pooling)
    ownership: bool = False      # an auxiliary ownership head (KataGo): one 1x1 conv, tanh per point, trained
                                 # on who owns each point at the game's end; search does not read it
    preset: str | None = field(default=None, compare=False)

    def __post_init__(self):
        for name in ("in_channels", "height", "width", "action_size", "blocks", "channels",
                     "policy_channels", "value_channels", "value_hidden"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < (0 if name == "blocks" else 1):
                raise ValueError(f"net config {name}={v!r}: must be a positive integer")
        if self.se_ratio < 0 or self.global_pool_every < 0:
            raise ValueError(f"net config se_ratio={self.se_ratio}, global_pool_every="
                             f"{self.global_pool_every}: must be >= 0")
        if isinstance(self.policy_planes, bool) or not isinstance(self.policy_planes, int) \
                or self.policy_planes < 0:
            raise ValueError(f"net config policy_planes={self.policy_planes!r}: must be an integer >= 0")
        if self.policy_planes and self.policy_planes * self.height * self.width != self.action_size:
            raise ValueError(f"net config policy_planes={self.policy_planes}: {self.policy_planes} x "
                             f"{self.height} x {self.width} != action_size {self.action_size} (a convolutional "
                             "policy head needs actions laid out as [planes, H, W])")
        if self.value_head not in VALUE_HEADS:
            raise ValueError(f"net config value_head={self.value_head!r}: choose one of {VALUE_HEADS}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "NetConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"net config: unknown keys {unknown}")
        return cls(**d)


def preset_shape(preset: str) -> dict:
    """`'b6c64-se'` -> {'blocks': 6, 'channels': 64, 'se_ratio': 4, 'global_pool_every': 0}."""
    m = _PRESET_RE.match(preset.strip().lower())
    if not m:
        raise ValueError(f"net preset {preset!r}: expected b<blocks>c<channels> with optional "
                         f"-se / -gp suffixes, e.g. {', '.join(PRESETS)}")
    flags = m.group(3)
    return {"blocks": int(m.group(1)), "channels": int(m.group(2)),
            "se_ratio": 4 if "-se" in flags else 0, "global_pool_every": 3 if "-gp" in flags else 0}


def net_config(game, preset: str | None = "b6c64", **overrides) -> NetConfig:
    """The config for `game` (any object with obs_shape and action_size) from a preset plus overrides."""
    c, h, w = game.obs_shape
    kw: dict = {"in_channels": c, "height": h, "width": w, "action_size": game.action_size}
    if preset is not None:
        kw.update(preset_shape(preset))
        kw["preset"] = preset
    kw.update(overrides)
    return NetConfig(**kw)


class _GlobalPoolBias(nn.Module):
    """Mean and max over the board of every channel -> a per-channel bias `[B, C, 1, 1]`."""

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Linear(2 * channels, channels)

    def forward(self, x):
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return self.fc(pooled)[:, :, None, None]


class _SqueezeExcite(nn.Module):
    """Leela-style SE: pooled channels -> (sigmoid scale, bias) per channel."""

    def __init__(self, channels: int, ratio: int):
        super().__init__()
        hidden = max(1, channels // ratio)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, 2 * channels)

    def forward(self, x):
        s = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3)))))
        scale, bias = s.chunk(2, dim=1)
        return x * torch.sigmoid(scale)[:, :, None, None] + bias[:, :, None, None]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, se_ratio: int = 0, global_pool: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.gpool = _GlobalPoolBias(channels) if global_pool else None
        self.se = _SqueezeExcite(channels, se_ratio) if se_ratio else None

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        if self.gpool is not None:
            y = y + self.gpool(y)
        y = self.bn2(self.conv2(y))
        if self.se is not None:
            y = self.se(y)
        return F.relu(x + y)


class PolicyValueNet(nn.Module):
    """planes `[B, C, H, W]` -> (policy logits `[B, A]`, value `[B]` or WDL logits `[B, 3]`)."""

    def __init__(self, config: NetConfig):
        super().__init__()
        self.config = config
        c, hw = config.channels, config.height * config.width
        self.stem = nn.Sequential(nn.Conv2d(config.in_channels, c, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        k = config.global_pool_every
        self.tower = nn.Sequential(*[ResidualBlock(c, config.se_ratio, bool(k) and i % k == k - 1)
                                     for i in range(config.blocks)])
        pc, vc = config.policy_channels, config.value_channels
        if config.policy_planes:
            self.policy_conv = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                             nn.ReLU(inplace=True), nn.Conv2d(c, config.policy_planes, 1))
            self.policy_fc = None
        else:
            self.policy_conv = nn.Sequential(nn.Conv2d(c, pc, 1, bias=False), nn.BatchNorm2d(pc),
                                             nn.ReLU(inplace=True))
            self.policy_fc = nn.Linear(pc * hw, config.action_size)
        self.value_conv = nn.Sequential(nn.Conv2d(c, vc, 1, bias=False), nn.BatchNorm2d(vc),
                                        nn.ReLU(inplace=True))
        # With global pooling the value head reads pooled features, so it does not depend on the
        # board's exact layout (KataGo); otherwise the AlphaZero flatten.
        self._value_pooled = bool(k) or config.value_pool
        value_in = 2 * vc if self._value_pooled else vc * hw
        out = 3 if config.value_head == "wdl" else 1
        self.value_fc = nn.Sequential(nn.Linear(value_in, config.value_hidden), nn.ReLU(inplace=True),
                                      nn.Linear(config.value_hidden, out))
        self.ownership_conv = nn.Conv2d(c, 1, 1) if config.ownership else None

    def forward(self, x, ownership: bool = False):
        """(policy, value); with `ownership=True` (a net built with the ownership head) also the
        ownership logits `[B, H, W]` (tanh of them: +1 the side to move owns the point, -1 the other)."""
        x = self.tower(self.stem(x))
        own = None
        if ownership:
            if self.ownership_conv is None:
                raise ValueError("this net has no ownership head (net config ownership=false)")
            own = self.ownership_conv(x).squeeze(1)
        policy = torch.flatten(self.policy_conv(x), 1)
        if self.policy_fc is not None:
            policy = self.policy_fc(policy)
        v = self.value_conv(x)
        if self._value_pooled:
            v = torch.cat([v.mean(dim=(2, 3)), v.amax(dim=(2, 3))], dim=1)
        else:
            v = torch.flatten(v, 1)
        v = self.value_fc(v)
        v = v if self.config.value_head == "wdl" else torch.tanh(v.squeeze(1))
        return (policy, v, own) if ownership else (policy, v)


def value_from_head(value_out: torch.Tensor) -> torch.Tensor:
    """Scalar value `[B]` in [-1, 1] from either head: tanh output as is, WDL logits -> P(w) - P(l)."""
    if value_out.dim() == 2:
        p = torch.softmax(value_out.float(), dim=1)
        return p[:, 0] - p[:, 2]
    return value_out.float()


def default_preset(game) -> str:
    """The default preset for a game object or name (b6c64 for games not listed)."""
    name = game if isinstance(game, str) else game.name
    return DEFAULT_PRESETS.get(name.lower().rstrip("0123456789"), "b6c64")   # go9 -> go


def build_net(game, preset: str | None = "b6c64", **overrides) -> PolicyValueNet:
    """A freshly initialised net sized for `game` (obs_shape, action_size)."""
    return PolicyValueNet(net_config(game, preset, **overrides))


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def flops_per_position(net: PolicyValueNet) -> int:
    """Multiply-adds x 2 of the convolutions and linear layers for one position (batch norm,
    activations and pooling are left out: they are a few per cent at these sizes)."""
    cfg = net.config
    macs = 0

    def hook(mod, inp, out):
        nonlocal macs
        if isinstance(mod, nn.Conv2d):
            macs += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0] * mod.kernel_size[1]
        elif isinstance(mod, nn.Linear):
            macs += out.numel() // out.shape[-1] * mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = net.training
    try:
        net.eval()
        p = next(net.parameters())
        with torch.inference_mode():
            net(torch.zeros(1, cfg.in_channels, cfg.height, cfg.width, device=p.device, dtype=p.dtype))
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    return 2 * macs


def grow_into(net: PolicyValueNet, src_config: NetConfig, src_model: dict) -> None:
    """Load a smaller net's weights into `net` (more channels and/or more blocks) so that `net` computes
    exactly what the smaller one did (a function-preserving start, as Net2Net / network morphism):

    - every old weight is copied into the leading slice of its tensor;
    - old outputs read nothing from new channels (those input columns are zero), so the new channels start
      with their fresh random incoming weights and zero outgoing ones: they get gradients from the first
      step and change nothing until training moves them;
    - a new residual block starts as the identity: its last batch norm has scale and shift 0, so it adds
      nothing to its input, which is already >= 0 after the previous ReLU.

    Heads keep their shapes (policy and value channels, hidden sizes); only the trunk width and depth may grow.
    Squeeze-excitation and global pooling mix channels in ways a zero column does not cover, so nets with
    them are refused. Raises ValueError naming what differs otherwise."""
    dst = net.config
    fixed = ("in_channels", "height", "width", "action_size", "se_ratio", "global_pool_every", "policy_channels",
             "policy_planes", "value_channels", "value_hidden", "value_head", "value_pool", "ownership")
    differ = [f"{k} {getattr(src_config, k)!r} -> {getattr(dst, k)!r}" for k in fixed
              if getattr(src_config, k) != getattr(dst, k)]
    if differ:
        raise ValueError(f"cannot grow the net: {', '.join(differ)} (only blocks and channels may grow)")
    if dst.se_ratio or dst.global_pool_every:
        raise ValueError("cannot grow a net with squeeze-excitation or global pooling blocks")
    if src_config.blocks > dst.blocks or src_config.channels > dst.channels:
        raise ValueError(f"cannot grow b{src_config.blocks}c{src_config.channels} into "
                         f"b{dst.blocks}c{dst.channels}: the new net must be at least as deep and wide")
    state = net.state_dict()
    new_blocks = range(src_config.blocks, dst.blocks)
    for key, t in state.items():
        parts = key.split(".")
        if parts[0] == "tower" and int(parts[1]) in new_blocks:
            if parts[2] == "bn2" and parts[3] in ("weight", "bias"):
                t.zero_()          # a new block adds 0 to its input: the identity
            continue
        if key not in src_model:
            raise ValueError(f"cannot grow the net: the smaller net has no {key!r}")
        src = src_model[key].to(t.dtype)
        if src.dim() != t.dim() or any(a > b for a, b in zip(src.shape, t.shape)):
            raise ValueError(f"cannot grow the net: {key} {tuple(src.shape)} does not fit {tuple(t.shape)}")
        if t.dim() == 0:
            t.copy_(src)
            continue
        lead = tuple(slice(0, n) for n in src.shape)
        t[lead] = src
        if t.dim() >= 2 and src.shape[1] < t.shape[1]:
            t[:src.shape[0], src.shape[1]:] = 0   # old outputs read nothing from the new channels
    net.load_state_dict(state)


def model_state(net: PolicyValueNet, game: str, game_kwargs: dict | None = None, **extra) -> dict:
    """Checkpoint dict in the engine's layout: {schema_version, kind, game, game_kwargs, net, model, ...}.
    `game` is the name for `boardnet.games.make_game`; `extra` adds e.g. optimizer or train_state."""
    if not isinstance(game, str):
        raise TypeError(f"model_state game={game!r}: pass the game's name (str) and game_kwargs")
    net = getattr(net, "_orig_mod", net)  # torch.compile wrapper: save the plain module
    state = {"schema_version": SCHEMA_VERSION, "kind": "boardnet", "game": game,
             "game_kwargs": dict(game_kwargs or {}), "net": net.config.to_dict(),
             "model": {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}}
    clash = sorted(set(extra) & set(state))
    if clash:
        raise ValueError(f"model_state extra keys {clash}: reserved by the checkpoint layout")
    state.update(extra)
    return state


def state_config(d: dict) -> NetConfig:
    """The architecture a checkpoint dict describes (its `net` entry: a full config, or a short
    {"preset": ..., overrides} dict whose board and action sizes come from the game); the weights are not read."""
    if not isinstance(d, dict) or d.get("kind") != "boardnet":
        raise ValueError(f"checkpoint kind {d.get('kind') if isinstance(d, dict) else type(d).__name__!r}: "
                         "expected a 'boardnet' checkpoint")
    version = d.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ValueError(f"checkpoint schema_version {version!r}: this code reads {SCHEMA_VERSION}")
    for key in ("net", "model"):
        if key not in d:
            raise ValueError(f"checkpoint: missing key {key!r}")
    net_kw = dict(d["net"])
    if "in_channels" not in net_kw:
        from boardnet.games import make_game
        game = make_game(d["game"], **d.get("game_kwargs", {}))
        return net_config(game, **net_kw)
    return NetConfig.from_dict(net_kw)


def net_from_state(d: dict) -> PolicyValueNet:
    """Rebuild the net (architecture from the checkpoint) and load its weights; eval mode, CPU."""
    net = PolicyValueNet(state_config(d))
    net.load_state_dict(d["model"])
    return net.eval()
