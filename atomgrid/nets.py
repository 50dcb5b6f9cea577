"""3D CNNs on density grids with an activity head and an affinity head.

Input ``[B, C, S, S, S]`` (C = 28 for agtypes-v1); output ``{"activity": [B] logits,
"affinity": [B] pK}``. Two families, named by shape (KataGo style):

* ``atomnet-c{w}-l{n}``: AtomNet-like plain stack, n blocks of conv3-ReLU-maxpool2 with
  widths w, 2w, 4w, ...; an optional average-pool stem halves the grid first (gnina's
  default2018 does the same), then global average pooling and a shared fully-connected layer.
* ``resnet-b{n}-c{w}``: the deeper residual variant, n residual stages (two 3x3x3 convs each,
  batch norm, stride-2 downsampling between stages, widths doubling).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .typing import NUM_CHANNELS


@dataclass(frozen=True)
class NetConfig:
    """Architecture: ``arch`` 'atomnet' or 'resnet'; ``width`` first-stage channels; ``depth`` blocks/stages;
    ``stem_pool`` 1 (none) or 2 (halve the grid first); ``hidden`` width of the FC layer."""

    arch: str = "atomnet"
    width: int = 16
    depth: int = 3
    stem_pool: int = 2
    hidden: int = 64
    in_channels: int = NUM_CHANNELS
    dropout: float = 0.0
    grid_size: int = 48  # input points per edge (fixes the flattened head's width)
    head: str = "flatten"  # 'flatten' keeps where features are (AtomNet, gnina); 'mean' pools them away

    def __post_init__(self):
        if self.arch not in ("atomnet", "resnet"):
            raise ValueError(f"net arch {self.arch!r}: expected 'atomnet' or 'resnet'")
        if self.head not in ("flatten", "mean"):
            raise ValueError(f"net head {self.head!r}: expected 'flatten' or 'mean'")
        if self.width < 1 or self.depth < 1 or self.hidden < 1 or self.stem_pool not in (1, 2):
            raise ValueError(f"net config {self}: width, depth, hidden must be >= 1 and stem_pool 1 or 2")

    @property
    def name(self) -> str:
        if self.arch == "atomnet":
            return f"atomnet-c{self.width}-l{self.depth}"
        return f"resnet-b{self.depth}-c{self.width}"


_PRESET_RE = re.compile(r"^(?:atomnet-c(\d+)-l(\d+)|resnet-b(\d+)-c(\d+))$")


def preset(name: str, **kw) -> NetConfig:
    """``'atomnet-c16-l3'`` or ``'resnet-b4-c32'`` -> NetConfig (extra fields via ``kw``)."""
    m = _PRESET_RE.match(name)
    if not m:
        raise ValueError(f"net preset {name!r}: expected 'atomnet-c<width>-l<layers>' or 'resnet-b<stages>-c<width>'")
    if m.group(1):
        return NetConfig(arch="atomnet", width=int(m.group(1)), depth=int(m.group(2)), **kw)
    return NetConfig(arch="resnet", width=int(m.group(4)), depth=int(m.group(3)), **kw)


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm3d(cout)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm3d(cout)
        self.skip = (nn.Sequential(nn.Conv3d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm3d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.skip(x))


class GridNet(nn.Module):
    """Grid ``[B, C, S, S, S]`` -> ``{"activity": [B] logit, "affinity": [B] pK}``."""

    def __init__(self, cfg: NetConfig = NetConfig()):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = []
        if cfg.stem_pool == 2:
            layers.append(nn.AvgPool3d(2))
        cin = cfg.in_channels
        side = cfg.grid_size // cfg.stem_pool
        if cfg.arch == "atomnet":
            for i in range(cfg.depth):
                cout = cfg.width * 2 ** i
                layers += [nn.Conv3d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool3d(2, ceil_mode=True)]
                cin, side = cout, -(-side // 2)
        else:
            layers += [nn.Conv3d(cin, cfg.width, 3, padding=1, bias=False), nn.BatchNorm3d(cfg.width), nn.ReLU(inplace=True)]
            cin = cfg.width
            for i in range(cfg.depth):
                cout = cfg.width * 2 ** i
                layers.append(_ResBlock(cin, cout, stride=1 if i == 0 else 2))
                cin, side = cout, (side if i == 0 else -(-side // 2))
        self.trunk = nn.Sequential(*layers)
        self.side = side
        flat = cin * side ** 3 if cfg.head == "flatten" else cin
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(flat, cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout))
        self.activity = nn.Linear(cfg.hidden, 1)
        self.affinity = nn.Linear(cfg.hidden, 1)
        nn.init.constant_(self.affinity.bias, 6.0)  # pK of a typical binder: the head starts near the data

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.shape[-1] != self.cfg.grid_size:
            raise ValueError(f"grid of {x.shape[-1]} points per edge, the net expects {self.cfg.grid_size}")
        h = self.trunk(x)
        h = self.fc(h if self.cfg.head == "flatten" else h.mean(dim=(2, 3, 4)))
        return {"activity": self.activity(h).squeeze(1), "affinity": self.affinity(h).squeeze(1)}


class Ensemble(nn.Module):
    """Several nets on the same grid as one model: the mean of their activity logits and of their pK
    predictions (gnina's default CNN is an ensemble the same way). Its state dict is the members' under
    ``members.<i>.``; :func:`atomgrid.models.make_ensemble` writes one as an ordinary model file."""

    def __init__(self, members):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member net")
        sizes = {m.cfg.grid_size for m in members}
        if len(sizes) != 1:
            raise ValueError(f"ensemble members expect different grids ({sorted(sizes)} points per edge)")
        self.members = nn.ModuleList(members)
        self.cfg = members[0].cfg

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outs = [m(x) for m in self.members]
        return {k: torch.stack([o[k] for o in outs]).mean(0) for k in ("activity", "affinity")}


def net_config_dict(cfg: NetConfig) -> dict:
    return asdict(cfg)


def build(cfg: NetConfig | dict) -> GridNet:
    if isinstance(cfg, dict):
        cfg = NetConfig(**cfg)
    return GridNet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
