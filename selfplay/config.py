"""The self-play run config: one frozen dataclass tree, loaded from configs/<game>.toml by traincore.config."""
from __future__ import annotations

from dataclasses import dataclass, field

from traincore.config import check_bounds


@dataclass(frozen=True)
class GameSettings:
    name: str = "connect4"
    board_size: int | None = None     # Go only
    komi: float | None = None         # Go only
    pass_after: int | None = None     # Go only: no pass before this ply in self-play (see boardnet.games.go)

    def kwargs(self) -> dict:
        kw = {}
        if self.pass_after is not None:
            kw["pass_after"] = self.pass_after
        if self.board_size is not None:
            kw["board_size"] = self.board_size
        if self.komi is not None:
            kw["komi"] = self.komi
        return kw


@dataclass(frozen=True)
class NetSettings:
    preset: str = "b4c32"
    value_head: str = "scalar"        # "scalar" (tanh) or "wdl"
    value_channels: int = 0           # 0: the preset's (1); more channels keep the value head from dying
    value_pool: bool = False          # value head on mean+max pooled channels (KataGo-style)
    policy_planes: int = 0            # > 0: convolutional policy head over [planes, H, W] actions (chess: 73)
    ownership: bool = False           # auxiliary ownership head (Go; supervised training learns the records'
                                      # final-status marks, self-play the final Tromp-Taylor owner)

    def overrides(self) -> dict:
        """The build_net keywords beyond the preset."""
        kw: dict = {"value_head": self.value_head}
        if self.value_channels:
            kw["value_channels"] = self.value_channels
        if self.value_pool:
            kw["value_pool"] = True
        if self.ownership:
            kw["ownership"] = True
        if self.policy_planes:
            kw["policy_planes"] = self.policy_planes
        return kw


@dataclass(frozen=True)
class SearchSettings:
    num_simulations: int = 100
    c_puct_init: float = 1.25
    c_puct_base: float = 19652.0
    dirichlet_alpha: float | None = None
    noise_weight: float = 0.25
    fpu_reduction: float = 0.25

    def __post_init__(self):
        check_bounds(self, num_simulations=">=1", c_puct_init=">0", c_puct_base=">0", dirichlet_alpha=">0",
                     noise_weight="[0,1]", fpu_reduction=">=0")


@dataclass(frozen=True)
class SelfPlaySettings:
    games_per_worker: int = 64        # games searched in lock-step by one worker
    moves_per_task: int = 8           # lock-step moves per actor task (granularity of weight updates)
    cheap_simulations: int = 0        # playout-cap randomisation: 0 disables it
    full_search_prob: float = 0.25
    temperature_moves: int = 8
    resign_threshold: float = -0.95
    resign_min_ply: int = 10
    resign_disabled_frac: float = 0.2
    max_plies: int = 10_000
    random_symmetry: bool = True      # random symmetry per evaluation
    cache_size: int = 50_000

    def __post_init__(self):
        check_bounds(self, full_search_prob="[0,1]", games_per_worker=">=1", moves_per_task=">=1", cheap_simulations=">=0",
                     temperature_moves=">=0", resign_min_ply=">=0", resign_disabled_frac="[0,1]", max_plies=">=1",
                     cache_size=">=0")


@dataclass(frozen=True)
class ReplaySettings:
    max_size: int = 200_000
    min_size: int = 5_000
    growth_per_game: float = 40.0

    def __post_init__(self):
        check_bounds(self, max_size=">=1", min_size=">=0", growth_per_game=">=0")


@dataclass(frozen=True)
class TrainSettings:
    batch_size: int = 256
    lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "cosine"          # constant, step, cosine, onecycle
    warmup_steps: int = 50
    total_steps: int = 2000
    reuse: float = 4.0                # samples drawn for training per sample generated (KataGo: ~4)
    min_samples: int = 1000           # no training before the buffer has this many
    q_weight: float = 0.0             # value target = (1 - q_weight) * z + q_weight * q
    ownership_weight: float = 1.0     # x mean per-point ownership cross-entropy (nets with net.ownership)
    clip_grad: float = 5.0
    checkpoint_every: int = 100
    keep_checkpoints: int = 3

    def __post_init__(self):
        check_bounds(self, batch_size=">=1", lr=">0", momentum="[0,1]", weight_decay=">=0", warmup_steps=">=0",
                     total_steps=">=1", reuse=">0", min_samples=">=0", q_weight="[0,1]", ownership_weight=">=0",
                     clip_grad=">0", checkpoint_every=">=1", keep_checkpoints=">=1")


@dataclass(frozen=True)
class EvalSettings:
    every_steps: int = 200
    games: int = 20                   # per opponent, colours alternating
    simulations: int = 50
    mcts_simulations: int = 200       # pure-MCTS reference strength
    vs_previous: bool = True
    # gating: self-play and model.pt use the best net; the learner's candidate replaces it only after
    # scoring >= gate_score against it over `games` games at an evaluation (the match is played even
    # with vs_previous = false). Off: self-play and model.pt follow the learner's latest weights.
    gating: bool = False
    gate_score: float = 0.55
    solved_positions: int = 200       # Connect Four: positions per shared test file for move accuracy

    def __post_init__(self):
        check_bounds(self, every_steps=">=1", games=">=0", simulations=">=1", mcts_simulations=">=0",
                     solved_positions=">=0", gate_score="[0,1]")
        if self.gating and self.games < 1:
            raise ValueError(f"eval.gating needs eval.games >= 1 (got {self.games}): the gate is a match")


@dataclass(frozen=True)
class RunSettings:
    num_workers: int = 2              # Ray self-play actors; 0 = play in the driver process (no Ray)
    seed: int = 0
    device: str = "auto"
    actor_device: str = "cpu"
    precision: str = "auto"           # auto, fp32, bf16 (traincore.runtime): learner and actors alike
    actor_precision: str = ""         # the self-play actors' own choice ("" = precision): int8 runs them on a
                                      # quantized copy of the net (CPU with VNNI; ~2x the simulations a second)
    out_dir: str = "runs"
    name: str = ""                    # run folder name; empty = <game>-<timestamp>
    max_minutes: float = 0.0          # stop after this wall time (0 = until total_steps)
    torch_threads: int = 1            # per actor
    init: str = ""                    # start from this model file's weights (e.g. a supervised net)

    def __post_init__(self):
        check_bounds(self, num_workers=">=0", seed=">=0", max_minutes=">=0", torch_threads=">=1")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"run.precision={self.precision!r}: expected auto, fp32 or bf16")
        if self.actor_precision not in ("", "auto", "fp32", "bf16", "int8"):
            raise ValueError(f"run.actor_precision={self.actor_precision!r}: expected auto, fp32, bf16 or int8 "
                             "(or empty: run.precision)")


@dataclass(frozen=True)
class Config:
    game: GameSettings = field(default_factory=GameSettings)
    net: NetSettings = field(default_factory=NetSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    selfplay: SelfPlaySettings = field(default_factory=SelfPlaySettings)
    replay: ReplaySettings = field(default_factory=ReplaySettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    run: RunSettings = field(default_factory=RunSettings)
