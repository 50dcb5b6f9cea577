"""Supervised training on game records (AlphaGo's SL stage; Clark & Storkey, Maddison et al.).

    selfplay supervised --config configs/go19_sl.toml          # train
    selfplay supervised --resume runs/go19-sl                   # continue after Ctrl-C or kill -9
    selfplay supervised-eval --run runs/go19-sl --split test    # top-1/top-3 on held-out games

Data: positions streamed from `boardnet.records.read_records` (SGF, PGN, PDN, ACF; files, folders,
archives), the archives read round-robin so that every stretch of the stream mixes years and sources,
each position kept with probability `data.position_prob`, through a shuffle buffer of
`data.shuffle_buffer` positions (planes stored bit-packed), a random board symmetry per sample.

Split by game, never by position: a game's key (`file name[:member]#index`) is hashed with
`data.split_seed` into 1,000 buckets; buckets below `test_permille` are test, the next `val_permille`
validation, the rest training. The rule and the number of games per split are written to
`split.json` in the run folder; `game_split(key)` reproduces it anywhere.

Loss: policy cross-entropy on the played move + `value_weight` x value loss on the game result
from the side to move's view (MSE on the tanh head; cross-entropy on win/draw/loss for a WDL head).
Games decided by time or forfeit (`+T`, `+F`) and games with no result teach the policy only.

Resume: each checkpoint holds the net, optimizer, schedule, step, RNG and the stream position (games
read); a resumed run skips that many games and refills the shuffle buffer (the buffer itself is not
saved: it is large and rebuilt in a minute).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from boardnet.games import make_game
from boardnet.games.base import Game
from boardnet.nets import build_net, grow_into, model_state, net_from_state, state_config
from boardnet.records.read import GameRecord, ReadReport, read_records
from selfplay.config import GameSettings, NetSettings
from selfplay.learner import augment, forward_heads, masked_ownership_loss, value_loss_per_sample
from traincore.checkpoint import CheckpointManager, load_checkpoint, save_checkpoint
from traincore.config import check_bounds, config_to_dict, save_config
from traincore.loop import fit
from traincore.metrics import MetricsLogger, run_dir_kept_on_success
from traincore.runtime import Runtime, rng_state, seed_everything, set_rng_state, unwrap
from traincore.schedule import as_torch_scheduler, make_schedule


# ---------------------------------------------------------------------------------------- config

@dataclass(frozen=True)
class SLData:
    paths: tuple[str, ...] = ()
    format: str = "auto"
    val_permille: int = 10
    test_permille: int = 20
    split_seed: int = 0
    position_prob: float = 0.5        # each position of a training game kept with this probability
    shuffle_buffer: int = 100_000
    val_positions: int = 8192         # fixed validation sample, drawn once
    val_position_prob: float = 0.15   # each position of a validation game kept with this probability
    symmetries: bool = True           # a random board symmetry per training sample
    min_rank: str = ""                # Go: keep games whose weaker player is at least this (e.g. "4d")
    min_rating: int = 0               # chess/checkers: keep games whose lower Elo is at least this
    teacher_value: float = 0.0        # weight of a teacher's per-move evaluation (PGN [%wdl]/[%eval], as
                                      # `selfplay teach` writes) in the value target; 0 = the game result only
    skip_games: int = 0               # start the first epoch after this many records (a later stage that
                                      # continues an earlier run's stream sees new games first)

    def __post_init__(self):
        if not (self.val_permille >= 0 and self.test_permille >= 0
                and self.val_permille + self.test_permille < 1000):
            raise ValueError(f"data.val_permille={self.val_permille}, test_permille={self.test_permille}: "
                             "must be >= 0 and add up to less than 1000")
        if not 0.0 < self.position_prob <= 1.0:
            raise ValueError(f"data.position_prob={self.position_prob}: must be in (0, 1]")
        check_bounds(self, teacher_value="[0,1]", skip_games=">=0", shuffle_buffer=">=1", val_positions=">=0",
                     val_position_prob="[0,1]", min_rating=">=0")


@dataclass(frozen=True)
class SLNet(NetSettings):
    preset: str = "b6c64"
    # ownership = true adds KataGo's ownership head, trained on Go records that carry final-status marks
    # (TB/TW, as `selfplay teach go` writes them); positions of records without them teach it nothing


@dataclass(frozen=True)
class SLTrain:
    batch_size: int = 256
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"
    warmup_steps: int = 200
    total_steps: int = 20_000
    value_weight: float = 0.5
    ownership_weight: float = 1.0     # x mean per-point ownership cross-entropy (nets with net.ownership)
    clip_grad: float = 5.0
    checkpoint_every: int = 250
    keep_checkpoints: int = 3
    eval_every: int = 250
    value_only: bool = False          # train the value head alone (trunk and policy frozen, BN stats too)

    def __post_init__(self):
        check_bounds(self, batch_size=">=1", lr=">0", momentum="[0,1]", weight_decay=">=0", warmup_steps=">=0",
                     total_steps=">=1", value_weight=">=0", ownership_weight=">=0", clip_grad=">0",
                     checkpoint_every=">=1", keep_checkpoints=">=1", eval_every=">=1")


@dataclass(frozen=True)
class SLRun:
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    out_dir: str = "runs"
    name: str = ""
    torch_threads: int = 0            # 0 = torch's default
    max_minutes: float = 0.0
    init: str = ""                    # start from this model file's weights; head layers whose shape differs
                                      # (a wider value head, another board size's policy layer) start fresh,
                                      # the trunk (stem and tower) must match, or be smaller with the same
                                      # heads: it is then grown (boardnet.nets.grow_into, function-preserving)

    def __post_init__(self):
        check_bounds(self, seed=">=0", torch_threads=">=0", max_minutes=">=0")


@dataclass(frozen=True)
class SLConfig:
    game: GameSettings = field(default_factory=GameSettings)   # pass_after (a self-play aid) is not used
    data: SLData = field(default_factory=SLData)
    net: SLNet = field(default_factory=SLNet)
    train: SLTrain = field(default_factory=SLTrain)
    run: SLRun = field(default_factory=SLRun)


# ---------------------------------------------------------------------------------------- split

_ARCHIVE_MARKS = (".tar.gz:", ".tgz:", ".tar.bz2:", ".tar.xz:", ".tar:", ".zip:")


def split_key(rec: GameRecord) -> str:
    """The game's identity for the split: file name (not its folder) [:archive member] #index, so
    the split is the same wherever the data lies."""
    src = rec.source
    low = src.lower()
    for mark in _ARCHIVE_MARKS:
        k = low.find(mark)
        if k >= 0:
            cut = k + len(mark) - 1
            return f"{os.path.basename(src[:cut])}:{src[cut + 1:]}#{rec.index}"
    return f"{os.path.basename(src)}#{rec.index}"


def game_split(key: str, data: SLData) -> str:
    """'test', 'val' or 'train' for a game key (stable across machines and runs)."""
    h = hashlib.blake2b(f"{data.split_seed}|{key}".encode(), digest_size=8).digest()
    bucket = int.from_bytes(h, "little") % 1000
    if bucket < data.test_permille:
        return "test"
    if bucket < data.test_permille + data.val_permille:
        return "val"
    return "train"


# ---------------------------------------------------------------------------------------- data

def _rank_filter(data: SLData):
    if data.min_rank:
        from boardnet.records.sgf import rank_value
        need = rank_value(data.min_rank)
        if need is None:
            raise ValueError(f"data.min_rank {data.min_rank!r}: expected a rank like 4d, 1k or 3p")

        def keep(rec: GameRecord) -> bool:
            ranks = [rank_value(rec.meta.get(k, "")) for k in ("BR", "WR")]
            return all(r is not None and r >= need for r in ranks)
        return keep
    if data.min_rating:
        def keep_elo(rec: GameRecord) -> bool:
            try:
                return min(int(rec.meta.get("WhiteElo", 0)), int(rec.meta.get("BlackElo", 0))) >= data.min_rating
            except ValueError:
                return False
        return keep_elo
    return None


def _expand_paths(paths) -> list[str]:
    """Folders are opened into their files so that several archives can be read round-robin."""
    out = []
    for p in paths:
        pp = Path(p)
        if pp.is_dir():
            files = sorted(str(f) for f in pp.rglob("*") if f.is_file() and not f.name.startswith("."))
            out += [f for f in files if not f.lower().endswith((".md", ".png", ".txt.md", "license"))] or [str(pp)]
        else:
            out.append(str(pp))
    return out


def record_stream(data: SLData, report: ReadReport) -> Iterator[GameRecord]:
    """All games of every input, round-robin over the inputs (one game from each in turn)."""
    keep = _rank_filter(data)
    sources = [iter(read_records([p], data.format, report, keep=keep)) for p in _expand_paths(data.paths)]
    while sources:
        alive = []
        for it in sources:
            rec = next(it, None)
            if rec is not None:
                alive.append(it)
                yield rec
        sources = alive


def value_known(rec: GameRecord) -> bool:
    """Whether the result says who was better on the board (not time, forfeit or unknown)."""
    return rec.result is not None and not rec.result_text.endswith(("+T", "+F", "+?")) and rec.result_text != "?"


def teacher_value(label) -> float | None:
    """A teacher's evaluation of the position a move was played in, as an expected score in [-1, 1]
    from the first player's (White's, Black's in Go) view; None when the label has none."""
    if not label:
        return None
    from selfplay.teach import wdl_target
    wdl = wdl_target(label)
    return None if wdl is None else float(wdl[0] - wdl[2])


def final_ownership(rec: GameRecord) -> np.ndarray | None:
    """Who owns each point at the end (int8 [N, N], +1 Black, -1 White, 0 neither) for a Go record
    with final-status marks (TB/TW); None for other records and games."""
    if "TB" not in rec.meta and "TW" not in rec.meta:
        return None
    from boardnet.records.sgf import ownership
    return ownership(rec)


def positions(rec: GameRecord, rng: np.random.Generator | None, prob: float = 1.0, teacher: float = 0.0,
              ownership: bool = False) -> Iterator[tuple[np.ndarray, int, float, float, np.ndarray | None]]:
    """(planes [C,H,W] float32, played action, value target from the mover's view, value mask,
    ownership target int8 [H,W] from the mover's view (+1 the mover's) or None; looked for only with
    `ownership=True`, since it costs a replay of the game).

    The value target is the game result, or with `teacher` > 0 the blend teacher * (the teacher's
    evaluation of the position, where the record carries one) + (1 - teacher) * result; a position
    with a teacher label but no usable result learns the teacher's value alone. The ownership target
    is the record's final ownership (`final_ownership`), the same for every position of the game."""
    has_value = value_known(rec)
    labels = rec.labels if teacher > 0 and rec.labels else None
    own = final_ownership(rec) if ownership else None
    own_views = (own, -own) if own is not None else (None, None)
    s = rec.start
    for k, a in enumerate(rec.actions):
        if rng is None or prob >= 1.0 or rng.random() < prob:
            sign = 1.0 if s.to_play() == 0 else -1.0
            r = float(rec.result[s.to_play()]) if has_value else None
            t = teacher_value(labels[k]) if labels is not None and k < len(labels) else None
            if t is None:
                z, m = (r, 1.0) if r is not None else (0.0, 0.0)
            elif r is None:
                z, m = sign * t, 1.0
            else:
                z, m = teacher * sign * t + (1.0 - teacher) * r, 1.0
            yield s.planes(), a, z, m, own_views[s.to_play()]
        s = s.apply(a)


class PackedBuffer:
    """A shuffle buffer of planes stored compactly: the binary planes bit-packed, the game's
    `real_planes` (values other than 0/1, e.g. chess's half-move clock) as float16 after them, in one
    uint8 row per sample; `push` returns a random evicted sample once full (a reservoir-style shuffle
    of the stream)."""

    def __init__(self, shape: tuple[int, ...], capacity: int, rng: np.random.Generator,
                 real_planes: tuple[int, ...] = (), ownership: bool = False):
        self.shape = tuple(shape)
        self.real = list(real_planes)
        self.bits = [i for i in range(self.shape[0]) if i not in set(self.real)]
        hw = int(np.prod(self.shape[1:]))
        self.nbits = len(self.bits) * hw
        self.nbytes = (self.nbits + 7) // 8
        self.capacity = capacity
        self.planes = np.zeros((capacity, self.nbytes + 2 * len(self.real) * hw), dtype=np.uint8)
        self.action = np.zeros(capacity, dtype=np.int64)
        self.value = np.zeros(capacity, dtype=np.float32)
        self.mask = np.zeros(capacity, dtype=np.float32)
        self.own = np.zeros((capacity, hw), dtype=np.int8) if ownership else None   # per-point targets
        self.own_mask = np.zeros(capacity, dtype=np.float32)
        self.size = 0
        self.rng = rng

    def check(self, planes: np.ndarray) -> None:
        if not np.isin(planes[self.bits], (0.0, 1.0)).all():
            raise ValueError("supervised training stores planes as bits: planes other than the game's "
                             f"real_planes {tuple(self.real)} must be all 0/1")

    def pack(self, planes: np.ndarray) -> np.ndarray:
        row = np.packbits(planes[self.bits].reshape(-1) > 0.5)
        if self.real:
            row = np.concatenate([row, planes[self.real].astype(np.float16).reshape(-1).view(np.uint8)])
        return row

    def sample(self, i: int) -> tuple:
        """(packed planes, action, value, value mask, ownership int8 [H*W] or None, ownership mask) of slot i."""
        return (self.planes[i].copy(), int(self.action[i]), float(self.value[i]), float(self.mask[i]),
                None if self.own is None else self.own[i].copy(), float(self.own_mask[i]))

    def push(self, planes: np.ndarray, action: int, value: float, mask: float, own: np.ndarray | None = None):
        packed = self.pack(planes)
        if self.size < self.capacity:
            i = self.size
            self.size += 1
            out = None
        else:
            i = int(self.rng.integers(self.capacity))
            out = self.sample(i)
        self.planes[i], self.action[i], self.value[i], self.mask[i] = packed, action, value, mask
        if self.own is not None:
            if own is None:
                self.own[i], self.own_mask[i] = 0, 0.0
            else:
                self.own[i], self.own_mask[i] = own.reshape(-1), 1.0
        return out

    def unpack(self, packed: np.ndarray) -> np.ndarray:
        """[B, row bytes] uint8 -> [B, C, H, W] float32."""
        out = np.empty((len(packed),) + self.shape, dtype=np.float32)
        bits = np.unpackbits(packed[:, :self.nbytes], axis=-1, count=self.nbits)
        out[:, self.bits] = bits.reshape((len(packed), len(self.bits)) + self.shape[1:])
        if self.real:
            real = np.ascontiguousarray(packed[:, self.nbytes:]).view(np.float16)
            out[:, self.real] = real.reshape((len(packed), len(self.real)) + self.shape[1:])
        return out


def augment_actions(game: Game, planes: np.ndarray, actions: np.ndarray, rng: np.random.Generator,
                    own: np.ndarray | None = None):
    """A random symmetry per sample: planes [B,C,H,W], actions [B] (moved as one-hot policies through
    the self-play learner's `augment`) -> (planes, actions); with `own` [B,H,W] (a per-point target)
    it is moved with its planes and (planes, actions, own) is returned."""
    pi = np.zeros((len(actions), game.action_size), dtype=np.float32)
    pi[np.arange(len(actions)), actions] = 1.0
    if own is None:
        planes, pi = augment(game, planes, pi, rng)
        return planes, pi.argmax(axis=1)
    planes, pi, own = augment(game, planes, pi, rng, own)
    return planes, pi.argmax(axis=1), own


# ---------------------------------------------------------------------------------------- loss

def sl_loss(net, batch, value_weight: float, ownership_weight: float = 0.0):
    """batch = (planes [B,C,H,W], actions [B] int64, z [B], value mask [B][, ownership [B,H,W] int8,
    ownership mask [B]]) -> (loss, metrics). The ownership terms train a net's ownership head."""
    _, a, z, m = batch[:4]
    logits, v, own_logits = forward_heads(net, batch)
    policy_loss = F.cross_entropy(logits, a)
    value_loss = (value_loss_per_sample(v, z) * m).sum() / m.sum().clamp_min(1.0)
    loss = policy_loss + value_weight * value_loss
    metrics = {}
    if own_logits is not None:
        own_loss = masked_ownership_loss(own_logits, batch)
        loss = loss + ownership_weight * own_loss
        metrics["ownership_loss"] = own_loss.item()
    with torch.no_grad():
        top1 = (logits.argmax(1) == a).float().mean().item()
    return loss, {"loss": loss.item(), "policy_loss": policy_loss.item(), "value_loss": value_loss.item(),
                  "train_top1": top1, **metrics}


@torch.no_grad()
def evaluate_positions(model, runtime: Runtime, planes: np.ndarray, actions: np.ndarray, z: np.ndarray,
                       mask: np.ndarray, batch: int = 512, game=None, symmetries: int = 1) -> dict:
    """Policy loss, top-1/top-3 accuracy (played move), value MSE on games with a result. `symmetries` S > 1
    (with `game`): the policy (probabilities) and value averaged over the first S board symmetries, as
    `boardnet.evaluator.NetEvaluator(symmetries=S)` plays."""
    model.eval()
    n = len(actions)
    nll = top1 = top3 = 0.0
    se = cnt = 0.0
    S = 1 if game is None else max(1, min(int(symmetries), game.num_symmetries))
    for i in range(0, n, batch):
        x_np = planes[i:i + batch].astype(np.float32)
        a = torch.from_numpy(actions[i:i + batch]).to(runtime.device)
        probs, vals = [], []
        for k in range(S):
            xk = x_np if k == 0 else np.ascontiguousarray(game.transform(x_np, None, k)[0])
            with torch.no_grad(), runtime.autocast():
                logits, v = model(runtime.to_device(torch.from_numpy(xk)))
            logits, v = logits.float(), v.float()
            if k:
                back = game.transform(None, logits.cpu().numpy(), game.inverse(k))[1]
                logits = torch.from_numpy(np.ascontiguousarray(back)).to(runtime.device)
            if v.dim() == 2:
                p = torch.softmax(v, 1)
                v = p[:, 0] - p[:, 2]
            probs.append(torch.softmax(logits, 1))
            vals.append(v)
        if S > 1:
            logits = torch.log(torch.stack(probs).mean(0).clamp_min(1e-30))
            v = torch.stack(vals).mean(0)
        nll += F.cross_entropy(logits, a, reduction="sum").item()
        top = logits.topk(3, dim=1).indices
        top1 += (top[:, 0] == a).sum().item()
        top3 += (top == a[:, None]).any(1).sum().item()
        mm = torch.from_numpy(mask[i:i + batch]).to(runtime.device)
        zz = torch.from_numpy(z[i:i + batch]).to(runtime.device)
        se += (((v - zz) ** 2) * mm).sum().item()
        cnt += mm.sum().item()
    model.train()
    return {"policy_loss": nll / max(n, 1), "top1": top1 / max(n, 1), "top3": top3 / max(n, 1),
            "value_mse": se / cnt if cnt else float("nan"), "positions": n}


def collect_split(data: SLData, split: str, limit: int, seed: int, prob: float = 0.25,
                  report: ReadReport | None = None) -> dict[str, np.ndarray]:
    """Up to `limit` positions from the games of one split (each kept with `prob`), as arrays."""
    rng = np.random.default_rng(seed)
    planes, actions, zs, masks = [], [], [], []
    games = 0
    for rec in record_stream(data, report if report is not None else ReadReport()):
        if game_split(split_key(rec), data) != split:
            continue
        games += 1
        dtype = np.float16 if rec.start.game.real_planes else np.uint8   # bits stay exact either way
        for p, a, z, m, _ in positions(rec, rng, prob, data.teacher_value):
            planes.append(p.astype(dtype))
            actions.append(a)
            zs.append(z)
            masks.append(m)
        if len(actions) >= limit:
            break
    if not actions:
        raise ValueError(f"no {split} positions in {list(data.paths)} (check data.paths and the split permilles)")
    return {"planes": np.stack(planes[:limit]), "actions": np.array(actions[:limit]),
            "z": np.array(zs[:limit], dtype=np.float32), "mask": np.array(masks[:limit], dtype=np.float32),
            "games": games}


# ---------------------------------------------------------------------------------------- trainer

class SupervisedTrainer:
    def __init__(self, cfg: SLConfig, run_dir: Path | None = None, resume: bool = False, progress: bool = True):
        self.cfg = cfg
        self.game_kwargs = {k: v for k, v in cfg.game.kwargs().items() if k != "pass_after"}
        self.game = make_game(cfg.game.name, **self.game_kwargs)
        name = cfg.run.name or f"{self.game.name}-sl-{time.strftime('%Y%m%d-%H%M%S')}"
        self.run_dir = Path(run_dir) if run_dir else Path(cfg.run.out_dir) / name
        self.ckpt = CheckpointManager(self.run_dir / "checkpoints", keep_last=cfg.train.keep_checkpoints)
        if not resume and self.ckpt.steps():
            raise FileExistsError(f"run folder {self.run_dir} already holds checkpoints: continue it with "
                                  f"--resume {self.run_dir}, or choose another run.name")
        with run_dir_kept_on_success(self.run_dir, self):  # a failed start removes a new folder
            self._setup(cfg, resume, progress)

    def _setup(self, cfg: SLConfig, resume: bool, progress: bool) -> None:
        save_config(cfg, self.run_dir)
        seed_everything(cfg.run.seed)
        if cfg.run.torch_threads:
            torch.set_num_threads(cfg.run.torch_threads)
        self.runtime = Runtime.create(cfg.run.device, precision=cfg.run.precision)
        print(f"[supervised] precision: {self.runtime.describe()}", flush=True)
        self.net = build_net(self.game, cfg.net.preset, **cfg.net.overrides())
        if cfg.run.init and not resume:
            self._load_init(cfg.run.init)
        if cfg.train.value_only:
            for name, p in self.net.named_parameters():
                p.requires_grad_(name.startswith("value_"))
            frozen = [m for name, m in self.net.named_children() if not name.startswith("value_")]

            def keep_frozen_in_eval(module, args):   # fit() calls model.train(): trunk BN stays fixed
                for m in frozen:
                    m.eval()
            self.net.register_forward_pre_hook(keep_frozen_in_eval)
        self.model = self.runtime.prepare(self.net)
        t = cfg.train
        params = [p for p in self.net.parameters() if p.requires_grad]
        decay = [p for p in params if p.dim() > 1]
        no_decay = [p for p in params if p.dim() <= 1]
        self.optimizer = torch.optim.SGD([{"params": decay, "weight_decay": t.weight_decay},
                                          {"params": no_decay, "weight_decay": 0.0}],
                                         lr=t.lr, momentum=t.momentum, nesterov=True)
        sched = make_schedule(t.schedule, t.lr, total_steps=max(t.total_steps, t.warmup_steps + 1),
                              warmup=t.warmup_steps)
        self.scheduler = as_torch_scheduler(self.optimizer, sched)
        self.step = 0
        self.cursor = {"epoch": 0, "games": cfg.data.skip_games, "positions": 0, "seconds": 0.0}
        self.rng = np.random.default_rng(cfg.run.seed)
        self.logger = MetricsLogger(self.run_dir)
        self.progress = progress
        self.report = ReadReport()
        self.history: list[dict] = []
        if resume:
            self._resume()
        (self.run_dir / "runtime.json").write_text(json.dumps(self.runtime.metadata(), indent=1) + "\n")

    def _load_init(self, path: str) -> None:
        st = load_checkpoint(path, kind="boardnet")
        if st.get("game") != self.cfg.game.name and make_game(st["game"], **st.get("game_kwargs", {})).name != self.game.name:
            raise ValueError(f"run.init {path}: a net for {st.get('game')}, not {self.game.name}")
        mine = self.net.state_dict()
        fresh = sorted(k for k in mine if k not in st["model"] or st["model"][k].shape != mine[k].shape)
        trunk = [k for k in fresh if not k.startswith(("value_", "policy_", "ownership_"))]
        if trunk:
            src_cfg = state_config(st)
            try:
                grow_into(self.net, src_cfg, st["model"])
            except ValueError as e:
                raise ValueError(f"run.init {path}: the net's trunk differs from net.preset={self.cfg.net.preset!r} "
                                 f"({trunk[:4]}...) and {e}; only the policy and value heads may differ, or the "
                                 "trunk may grow (more blocks or channels, heads alike)") from None
            print(f"[supervised] run.init {path}: grown from b{src_cfg.blocks}c{src_cfg.channels} to "
                  f"b{self.net.config.blocks}c{self.net.config.channels} (new channels and blocks start "
                  "silent: the grown net computes what the smaller one did)", flush=True)
            return
        src_size = st.get("game_kwargs", {}).get("board_size")
        if src_size is not None and src_size != self.game_kwargs.get("board_size", src_size):
            print(f"[supervised] run.init {path}: transferring a {src_size}x{src_size} trunk to "
                  f"{self.game_kwargs['board_size']}x{self.game_kwargs['board_size']}", flush=True)
        mine.update({k: v for k, v in st["model"].items() if k in mine and k not in fresh})
        self.net.load_state_dict(mine)
        print(f"[supervised] started from {path}" + (f"; fresh: {', '.join(sorted({k.split('.')[0] for k in fresh}))}"
                                                     if fresh else ""), flush=True)

    def _resume(self) -> None:
        st = self.ckpt.load_latest()
        if st is None:
            raise FileNotFoundError(f"--resume {self.run_dir}: no checkpoint in {self.ckpt.dir}")
        for why in self.ckpt.skipped:  # a newer checkpoint that cannot be read: say so, resume from the one before
            print(f"[supervised] note: passed over {why}", flush=True)
        unwrap(self.model).load_state_dict(st["model"])
        self.optimizer.load_state_dict(st["optimizer"])
        self.scheduler.load_state_dict(st["scheduler"])
        self.step = int(st["step"])
        self.cursor = json.loads(st["cursor"])
        self.history = json.loads(st.get("history", "[]"))
        self.rng.bit_generator.state = json.loads(st["driver_rng"])
        set_rng_state(st["rng"])
        self.logger.cut_back(self.step)
        print(f"[supervised] resumed {self.run_dir} at step {self.step} (stream at game "
              f"{self.cursor['games']:,} of epoch {self.cursor['epoch']})", flush=True)

    # -- state
    def model_file(self, **extra) -> dict:
        return model_state(self.net, self.cfg.game.name, self.game_kwargs, step=self.step,
                           precision=self.runtime.precision, **extra)

    def checkpoint(self) -> Path:
        state = self.model_file(config=config_to_dict(self.cfg), optimizer=self.optimizer.state_dict(),
                                scheduler=self.scheduler.state_dict(), cursor=json.dumps(self.cursor),
                                history=json.dumps(self.history),
                                driver_rng=json.dumps(self.rng.bit_generator.state), rng=rng_state())
        return self.ckpt.save(state, self.step)

    def export(self) -> Path:
        last = self.history[-1] if self.history else {}
        return save_checkpoint(self.run_dir / "model.pt", self.model_file(
            supervised=json.dumps({"samples": self.cursor["positions"], "games_read": self.cursor["games"],
                                   "epoch": self.cursor["epoch"], "val": last,
                                   "train_seconds": self.cursor["seconds"]})))

    # -- data
    def _positions(self) -> Iterator[tuple[np.ndarray, int, float, float]]:
        data = self.cfg.data
        skip = self.cursor["games"]
        while True:
            seen = 0
            for rec in record_stream(data, self.report):
                seen += 1
                if seen <= skip:
                    continue
                self.cursor["games"] = seen
                if game_split(split_key(rec), data) != "train":
                    continue
                yield from positions(rec, self.rng, data.position_prob, data.teacher_value, self.cfg.net.ownership)
            if seen == 0:
                raise ValueError(f"no games could be read from {list(data.paths)}:\n{self.report.summary()}")
            skip = 0
            self.cursor["epoch"] += 1
            self.cursor["games"] = 0

    def batches(self) -> Iterator:
        buf = PackedBuffer(self.game.obs_shape, self.cfg.data.shuffle_buffer, self.rng, self.game.real_planes,
                           ownership=self.cfg.net.ownership)
        b = self.cfg.train.batch_size
        fill = min(self.cfg.data.shuffle_buffer, 20 * b)
        stream = self._positions()
        first = True
        pend: list = []
        with_own = self.cfg.net.ownership
        hw = self.game.obs_shape[1:]
        for p, a, z, m, own in stream:
            if first:
                buf.check(p)
                first = False
            out = buf.push(p, a, z, m, own)
            if buf.size < fill:
                continue
            if out is None:   # still filling the big buffer: sample from what is there
                out = buf.sample(int(self.rng.integers(buf.size)))
            pend.append(out)
            if len(pend) == b:
                packed = np.stack([o[0] for o in pend])
                planes = buf.unpack(packed)
                actions = np.array([o[1] for o in pend], dtype=np.int64)
                owns = np.stack([o[4] for o in pend]).reshape((b,) + hw) if with_own else None
                if self.cfg.data.symmetries:
                    if with_own:
                        planes, actions, owns = augment_actions(self.game, planes, actions, self.rng, owns)
                    else:
                        planes, actions = augment_actions(self.game, planes, actions, self.rng)
                z = torch.tensor([o[2] for o in pend], dtype=torch.float32)
                m = torch.tensor([o[3] for o in pend], dtype=torch.float32)
                dev = self.runtime.device
                extra = ()
                if with_own:
                    om = torch.tensor([o[5] for o in pend], dtype=torch.float32)
                    extra = (torch.from_numpy(np.ascontiguousarray(owns, dtype=np.int8)).to(dev), om.to(dev))
                pend = []
                self.cursor["positions"] += b
                yield (self.runtime.to_device(torch.from_numpy(planes)), torch.from_numpy(actions).to(dev),
                       z.to(dev), m.to(dev)) + extra

    def _validation_sample(self) -> dict:
        """The fixed validation positions, drawn once and kept in the run folder (val.npz), so a resume
        does not re-read the stream for them; redrawn when the data settings that choose them change."""
        d = self.cfg.data
        key = json.dumps({"paths": list(d.paths), "format": d.format, "split_seed": d.split_seed,
                          "val_permille": d.val_permille, "test_permille": d.test_permille,
                          "val_positions": d.val_positions, "val_position_prob": d.val_position_prob,
                          "teacher_value": d.teacher_value, "min_rank": d.min_rank, "min_rating": d.min_rating},
                         sort_keys=True)
        path = self.run_dir / "val.npz"
        if path.is_file():
            try:
                with np.load(path) as f:
                    if str(f["key"]) == key:
                        return {k: (int(f[k]) if k == "games" else f[k]) for k in f.files if k != "key"}
            except (OSError, ValueError, KeyError):
                pass                    # unreadable or from other settings: draw it again
        val = collect_split(d, "val", d.val_positions, seed=d.split_seed + 1, prob=d.val_position_prob)
        tmp = path.with_name("val.tmp.npz")
        np.savez_compressed(tmp, key=np.array(key), **val)
        os.replace(tmp, path)
        return val

    # -- run
    def run(self) -> Path:
        cfg = self.cfg
        t = cfg.train
        print(f"[supervised] validation sample: {cfg.data.val_positions:,} positions ...", flush=True)
        if not cfg.data.paths:
            raise ValueError("data.paths: give at least one file, folder or archive of game records")
        val = self._validation_sample()
        print(f"[supervised] validation: {len(val['actions']):,} positions from {val['games']} games", flush=True)
        self._write_split()
        from tqdm import tqdm
        bar = tqdm(total=t.total_steps, initial=self.step, disable=not self.progress, unit="step",
                   dynamic_ncols=True, mininterval=2.0)
        t_start = time.time()
        sec0 = self.cursor["seconds"]
        deadline = t_start + 60 * cfg.run.max_minutes if cfg.run.max_minutes > 0 else math.inf

        def hook(step: int, metrics: dict) -> None:
            self.step = step
            self.cursor["seconds"] = sec0 + time.time() - t_start
            bar.update(1)
            if step % 20 == 0:
                self.logger.log(step, {**metrics, "positions": self.cursor["positions"],
                                       "epoch": self.cursor["epoch"] + self.cursor["games"] / 1e9,
                                       "hours": self.cursor["seconds"] / 3600}, tag="train")
                bar.set_postfix(loss=f"{metrics['loss']:.3f}", top1=f"{metrics.get('train_top1', 0):.3f}")
            if step % t.eval_every == 0 or step == t.total_steps:
                r = evaluate_positions(self.model, self.runtime, val["planes"], val["actions"], val["z"], val["mask"])
                r.update(step=step, hours=self.cursor["seconds"] / 3600, positions=self.cursor["positions"])
                self.history.append(r)
                self.logger.log(step, {"val_policy_loss": r["policy_loss"], "val_top1": r["top1"],
                                       "val_top3": r["top3"], "val_value_mse": r["value_mse"],
                                       "hours": r["hours"]}, tag="eval")
                bar.write(f"[supervised] step {step}: val top-1 {r['top1']:.3f} top-3 {r['top3']:.3f} "
                          f"policy loss {r['policy_loss']:.3f} value mse {r['value_mse']:.3f} "
                          f"({r['hours']:.2f} h, {self.cursor['positions']:,} positions)")
            if step % t.checkpoint_every == 0 or step == t.total_steps:
                self.checkpoint()
                self.export()
                self.logger.flush()
            if time.time() > deadline:
                raise _TimeUp()

        try:
            fit(self.model, lambda m, b: sl_loss(m, b, t.value_weight, t.ownership_weight), self.batches(), self.optimizer,
                runtime=self.runtime, steps=t.total_steps, start_step=self.step, scheduler=self.scheduler,
                clip_grad=t.clip_grad, hooks=[hook])
        except _TimeUp:
            bar.write(f"[supervised] run.max_minutes={cfg.run.max_minutes} reached at step {self.step}")
        except KeyboardInterrupt:
            self.checkpoint()
            self.export()
            raise
        finally:
            bar.close()
            self.logger.flush()
        self.checkpoint()
        path = self.export()
        (self.run_dir / "read_report.json").write_text(json.dumps(self.report.to_dict(), indent=1) + "\n")
        return path

    def _write_split(self) -> None:
        d = self.cfg.data
        (self.run_dir / "split.json").write_text(json.dumps({
            "rule": "bucket = blake2b(f'{split_seed}|{key}', digest_size=8) as little-endian int % 1000; "
                    "test if bucket < test_permille, val if < test_permille + val_permille, else train; "
                    "key = '<file name>[:<archive member>]#<game index>' (selfplay.supervised.split_key)",
            "split_seed": d.split_seed, "test_permille": d.test_permille, "val_permille": d.val_permille,
            "paths": list(d.paths)}, indent=1) + "\n")


class _TimeUp(Exception):
    pass


# ---------------------------------------------------------------------------------------- eval

def evaluate_model(model_path: str | Path, data: SLData, split: str = "test", limit: int = 50_000,
                   precision: str = "auto", seed: int = 1, symmetries: int = 1) -> dict:
    """Top-1/top-3 move prediction and value MSE of a model file on one split's positions (`symmetries`: see
    :func:`evaluate_positions`)."""
    from boardnet.games import make_game
    st = load_checkpoint(model_path, kind="boardnet")
    net = net_from_state(st)
    rt = Runtime.create("auto", precision=precision)
    model = rt.prepare(net)
    rep = ReadReport()
    d = collect_split(data, split, limit, seed=seed, prob=1.0, report=rep)
    game = make_game(st["game"], **st.get("game_kwargs", {})) if symmetries > 1 else None
    r = evaluate_positions(model, rt, d["planes"], d["actions"], d["z"], d["mask"], game=game,
                           symmetries=symmetries)
    r.update(split=split, games=d["games"], precision=rt.precision, step=int(st.get("step", 0)),
             symmetries=game.num_symmetries if game is not None and symmetries > game.num_symmetries
             else max(1, symmetries))
    return r
