"""The self-play training driver: actors play, the learner trains, checkpoints make it resumable.

Loop: collect finished self-play tasks (non-blocking while the learner may train, blocking when it has
used its share of the data), add samples to the replay buffer, train the learner for as many steps as the
reuse ratio allows (`steps <= samples_added * reuse / batch_size`), broadcast weights, and at fixed step
intervals checkpoint and evaluate. A checkpoint holds the model, optimizer, scheduler, replay buffer,
counters, evaluation history and RNG state, so `--resume` continues where the checkpoint was taken.

Gating (`eval.gating = true`, AlphaGo Zero's scheme): the learner always trains its own candidate, but
self-play and `model.pt` use the *best* net, which the candidate replaces only after scoring at least
`eval.gate_score` against it in an `eval.games`-game match at an evaluation. The first best is the
starting net (random, or `run.init`). Without gating the actors get the learner's latest weights every
`checkpoint_every // 4` steps and `model.pt` is the latest net.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from boardnet.evaluator import NetEvaluator
from boardnet.games import make_game
from boardnet.nets import net_from_state
from boardnet.records import game_record
from selfplay import evaluate as ev
from selfplay.config import Config
from selfplay.learner import Learner
from selfplay.replay import ReplayBuffer
from traincore.checkpoint import CheckpointManager, save_checkpoint
from traincore.config import config_to_dict, save_config
from traincore.metrics import MetricsLogger, run_dir_kept_on_success
from traincore.runtime import Runtime, rng_state, seed_everything, set_rng_state

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"


def data_dir() -> Path:
    import os
    return Path(os.environ.get("GRIDNETS_DATA", DATA_DIR))


@dataclass
class RunSummary:
    run_dir: Path
    model_path: Path
    steps: int
    games: int
    samples: int
    seconds: float
    last_eval: dict


def _run_dir(cfg: Config) -> Path:
    name = cfg.run.name or f"{cfg.game.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return Path(cfg.run.out_dir) / name


class Trainer:
    def __init__(self, cfg: Config, run_dir: Path | None = None, address: str | None = None,
                 resume: bool = False, progress: bool = True):
        self.cfg = cfg
        self.run_dir = Path(run_dir) if run_dir else _run_dir(cfg)
        if not resume and list((self.run_dir / "checkpoints").glob("ckpt_*.pt")):
            raise FileExistsError(f"run folder {self.run_dir} already holds checkpoints: continue it with "
                                  f"--resume {self.run_dir}, or choose another run.name")
        with run_dir_kept_on_success(self.run_dir, self):  # a failed start removes a new folder
            self._setup(cfg, address, resume, progress)

    def _setup(self, cfg: Config, address: str | None, resume: bool, progress: bool) -> None:
        save_config(cfg, self.run_dir)
        seed_everything(cfg.run.seed)
        import os
        # the actors use the other cores: oversubscribed OpenMP threads spin and slow everyone down
        torch.set_num_threads(max(1, (os.cpu_count() or 1) - cfg.run.num_workers))
        self.game_kwargs = cfg.game.kwargs()
        self.game = make_game(cfg.game.name, **self.game_kwargs)
        self.runtime = Runtime.create(cfg.run.device, precision=cfg.run.precision)
        print(f"[selfplay] learner precision: {self.runtime.describe()}", flush=True)
        (self.run_dir / "runtime.json").write_text(json.dumps(self.runtime.metadata(), indent=1) + "\n")
        self.learner = Learner(self.game, cfg.game.name, self.game_kwargs, cfg, self.runtime)
        r = cfg.replay
        self.buffer = ReplayBuffer(self.game.obs_shape, self.game.action_size, r.max_size, r.min_size,
                                   r.growth_per_game, ownership=cfg.net.ownership)
        self.rng = np.random.default_rng(cfg.run.seed)
        self.ckpt = CheckpointManager(self.run_dir / "checkpoints", keep_last=cfg.train.keep_checkpoints)
        self.logger = MetricsLogger(self.run_dir)
        self.games_file = self.run_dir / "games.txt"
        self.counters = {"games": 0, "samples": 0, "next_worker_id": 0, "restarts": 0, "resigned": 0,
                         "wait_seconds": 0.0, "train_seconds": 0.0, "elapsed": 0.0, "resign_checks": 0,
                         "resign_false_positives": 0}
        self.eval_history: list[dict] = []
        self.best_state: dict | None = None
        self.address = address
        self.progress = progress
        if resume:
            self._resume()
        elif cfg.run.init:
            self.learner.load_init(cfg.run.init)
            print(f"[selfplay] starting from the weights of {cfg.run.init}", flush=True)
        if cfg.eval.gating and self.best_state is None:
            self.best_state = self._snapshot()   # the starting net
        self.pool = self._make_pool()

    # ------------------------------------------------------------------ setup
    def _make_pool(self):
        first = self.counters["next_worker_id"]
        if self.cfg.run.num_workers == 0:
            from selfplay.pool import LocalPool
            return LocalPool(self.cfg, first)
        from selfplay.distributed import RayPool
        return RayPool(self.cfg, first, address=self.address)

    def _resume(self) -> None:
        st = self.ckpt.load_latest()
        if st is None:
            raise FileNotFoundError(f"--resume {self.run_dir}: no checkpoint in {self.ckpt.dir}")
        for why in self.ckpt.skipped:  # a newer checkpoint that cannot be read: say so, resume from the one before
            print(f"[selfplay] note: passed over {why}", flush=True)
        self.learner.load_state_dict(st["model"], st["learner"])
        if "replay" in st:
            self.buffer.load_state_dict(st["replay"])
        else:   # a checkpoint without it (`selfplay export --resumable`, what campaigns commit): self-play refills the buffer
            print(f"[selfplay] note: {self.ckpt.dir} holds no replay buffer; it refills from new self-play games "
                  "before training goes on", flush=True)
        self.counters.update(json.loads(st["counters"]))
        self.eval_history = json.loads(st["eval_history"])
        self.rng.bit_generator.state = json.loads(st["driver_rng"])
        self.best_state = st.get("best_model")
        set_rng_state(st["rng"])
        # the log and the game records may run past the checkpoint: cut them back to it
        self.logger.cut_back(self.learner.step)
        if "games_bytes" in self.counters:
            _truncate_file(self.games_file, self.counters["games_bytes"])
        else:
            print(f"[selfplay] note: this checkpoint predates games.txt offsets; {self.games_file} may repeat "
                  "the games played after it", flush=True)
        print(f"[selfplay] resumed {self.run_dir} at step {self.learner.step} "
              f"({self.buffer.total_added} samples, {self.counters['games']} games)", flush=True)

    # ------------------------------------------------------------------ state
    def checkpoint(self) -> Path:
        # games.txt holds exactly the counted games here (they are written as soon as they are counted)
        self.counters["games_bytes"] = self.games_file.stat().st_size if self.games_file.exists() else 0
        best = self.best_state
        state = self.learner.model_checkpoint(
            step=self.learner.step, config=config_to_dict(self.cfg), learner=self.learner.state_dict(),
            replay=self.buffer.state_dict(), counters=json.dumps(self.counters),
            eval_history=json.dumps(self.eval_history), driver_rng=json.dumps(self.rng.bit_generator.state),
            rng=rng_state(), **({"best_model": best} if best is not None else {}))
        return self.ckpt.save(state, self.learner.step)

    def export_model(self, name: str = "model.pt") -> Path:
        """A small file holding just the net (what `boardnet play --model` loads): under gating the best
        net (the one self-play uses, with the evaluation that accepted it), otherwise the latest."""
        path = self.run_dir / name
        if self.cfg.eval.gating:
            state = dict(self.best_state, train_games=self.counters["games"])
            state.setdefault("eval", json.dumps({}))
        else:
            summary = self.eval_history[-1] if self.eval_history else {}
            state = self.learner.model_checkpoint(step=self.learner.step, train_games=self.counters["games"],
                                                  eval=json.dumps(summary))
        save_checkpoint(path, state)
        return path

    def _snapshot(self, **extra) -> dict:
        """The learner's net as a model checkpoint that stays put: on CPU `model_state`'s tensors share
        storage with the live parameters, which would make the "best" net follow the learner."""
        state = self.learner.model_checkpoint(step=self.learner.step, **extra)
        state["model"] = {k: v.clone() for k, v in state["model"].items()}
        return state

    def best_step(self) -> int | None:
        """The learner step of the best net (None before the first evaluation without gating)."""
        return None if self.best_state is None else int(self.best_state.get("step", 0))

    def _broadcast(self) -> int:
        """Send the self-play weights to the pool: the best net's under gating, else the learner's latest.
        Returns the version sent (the step the weights come from)."""
        if self.cfg.eval.gating:
            version = self.best_step()
            self.pool.set_weights(self.best_state["model"], version)
        else:
            version = self.learner.step
            self.pool.set_weights(self.learner.weights(), version)
        return version

    # ------------------------------------------------------------------ main loop
    def allowed_steps(self) -> int:
        t = self.cfg.train
        if self.buffer.total_added < t.min_samples:
            return 0
        # every sample the run has made (the buffer's count, unless it resumed from a slimmed checkpoint)
        return min(t.total_steps, int(self.counters["samples"] * t.reuse / t.batch_size))

    def run(self) -> RunSummary:
        cfg = self.cfg
        t_start = time.perf_counter()
        elapsed0 = self.counters["elapsed"]
        deadline = t_start + cfg.run.max_minutes * 60 if cfg.run.max_minutes > 0 else None
        last_broadcast = self._broadcast()
        bar = tqdm(total=cfg.train.total_steps, initial=self.learner.step, disable=not self.progress,
                   unit="step", dynamic_ncols=True)
        pending_games: list[str] = []
        try:
            while self.learner.step < cfg.train.total_steps:
                if deadline and time.perf_counter() > deadline:
                    print(f"[selfplay] max_minutes={cfg.run.max_minutes} reached", flush=True)
                    break
                can_train = self.allowed_steps() > self.learner.step
                t0 = time.perf_counter()
                results = self.pool.results(timeout=0 if can_train else 60)
                if not can_train:
                    self.counters["wait_seconds"] += time.perf_counter() - t0
                for _wid, res in results:
                    self._add_result(res, pending_games)
                if pending_games:
                    with open(self.games_file, "a") as f:
                        f.write("".join(pending_games))
                    pending_games.clear()
                if self.allowed_steps() > self.learner.step:
                    self._train_chunk()
                    bar.update(self.learner.step - bar.n)
                    bar.set_postfix(games=self.counters["games"], samples=self.buffer.total_added,
                                    loss=f"{self.learner.last_metrics.get('loss', float('nan')):.3f}")
                    if (not cfg.eval.gating
                            and self.learner.step - last_broadcast >= max(1, cfg.train.checkpoint_every // 4)):
                        last_broadcast = self._broadcast()
                    self.counters["elapsed"] = elapsed0 + time.perf_counter() - t_start
                    if self.learner.step % cfg.eval.every_steps == 0:
                        self._evaluate()
                        if cfg.eval.gating and self.best_step() != last_broadcast:
                            last_broadcast = self._broadcast()   # a new best: self-play switches to it
                    if self.learner.step % cfg.train.checkpoint_every == 0:
                        self.checkpoint()
        except KeyboardInterrupt:
            # Ctrl-C keeps the work: a checkpoint to resume from and the current net as model.pt
            if pending_games:   # counted but not yet written
                with open(self.games_file, "a") as f:
                    f.write("".join(pending_games))
            self.counters["elapsed"] = elapsed0 + time.perf_counter() - t_start
            self.checkpoint()
            self.export_model()
            raise
        finally:
            bar.close()
            self.pool.close()
        self.counters["elapsed"] = elapsed0 + time.perf_counter() - t_start
        if not self.eval_history or self.eval_history[-1]["step"] != self.learner.step:
            self._evaluate()
        self.checkpoint()
        model = self.export_model()
        self.logger.close()
        return RunSummary(self.run_dir, model, self.learner.step, self.counters["games"],
                          self.buffer.total_added, self.counters["elapsed"],
                          self.eval_history[-1] if self.eval_history else {})

    def _add_result(self, res, pending_games: list[str]) -> None:
        self.buffer.add(res.samples, games=len(res.games))
        c = self.counters
        c["games"] += len(res.games)
        c["samples"] += len(res.samples)
        c["resigned"] += sum(g.resigned for g in res.games)
        c["resign_checks"] += res.stats.get("resign_checks", 0)
        c["resign_false_positives"] += res.stats.get("resign_false_positives", 0)
        c["next_worker_id"] = max(c["next_worker_id"], getattr(self.pool, "next_worker_id", 0))
        c["restarts"] = getattr(self.pool, "restarts", 0)
        for g in res.games:
            rec = game_record(self.game, g.actions, g.result).strip()
            pending_games.append(rec + ("\n\n" if "\n" in rec else "\n"))  # blank line between PGN/SGF
        row = {"games": c["games"], "samples": c["samples"], "selfplay_sims_per_s": res.stats.get("sims_per_s", 0.0),
               "resign_fp_rate": c["resign_false_positives"] / max(1, c["resign_checks"])}
        if res.games:
            row["game_length"] = res.stats["mean_game_length"]
        self.logger.log(self.learner.step, row, tag="selfplay")

    def _train_chunk(self) -> None:
        cfg = self.cfg
        target = min(self.allowed_steps(), cfg.train.total_steps)
        # stop at the next checkpoint/eval boundary so those happen on exact multiples
        nxt = min(_next_multiple(self.learner.step, cfg.train.checkpoint_every),
                  _next_multiple(self.learner.step, cfg.eval.every_steps))
        n = min(target, nxt) - self.learner.step
        t0 = time.perf_counter()
        logs = []
        self.learner.train(self.buffer, n, self.rng, hooks=[lambda s, m: logs.append((s, m))])
        self.counters["train_seconds"] += time.perf_counter() - t0
        for s, m in logs:
            self.logger.log(s, m, tag="train")

    def _evaluate(self) -> None:
        cfg, game = self.cfg, self.game
        net = self.learner.net
        was_training = net.training
        net.eval()
        evaluator = NetEvaluator(net, game, runtime=self.runtime, cache_size=0)
        player = ev.NetPlayer(evaluator, cfg.eval.simulations, name=f"step{self.learner.step}", seed=self.learner.step)
        row: dict = {"step": self.learner.step, "games": self.counters["games"],
                     "minutes": round(self.counters["elapsed"] / 60, 2)}
        if cfg.eval.games > 0 and cfg.eval.mcts_simulations > 0:
            r = ev.play_match(game, player, ev.mcts_player(game, cfg.eval.mcts_simulations, seed=self.learner.step),
                              cfg.eval.games, seed=self.learner.step)
            elo, lo, hi = ev.elo_estimate(r)
            row.update(vs_mcts_score=r.score, vs_mcts_elo=elo, vs_mcts_elo_lo=lo, vs_mcts_elo_hi=hi)
        gated = False
        if cfg.eval.games > 0 and (cfg.eval.vs_previous or cfg.eval.gating) and self.best_state is not None:
            prev = NetEvaluator(net_from_state(self.best_state).to(self.runtime.device), game,
                                runtime=self.runtime, cache_size=0)
            r = ev.play_match(game, player, ev.NetPlayer(prev, cfg.eval.simulations, name="best"), cfg.eval.games,
                              seed=self.learner.step + 1)
            elo, lo, hi = ev.elo_estimate(r)
            row.update(vs_best_score=r.score, vs_best_elo=elo, vs_best_elo_lo=lo, vs_best_elo_hi=hi)
            accept = not cfg.eval.gating or r.score >= cfg.eval.gate_score
            gated = cfg.eval.gating
        else:
            accept = not cfg.eval.gating   # gating needs the match (EvalSettings refuses games=0 with gating)
        if game.name == "connect4" and cfg.eval.solved_positions > 0:
            for path in ev.solved_files(data_dir() / "games" / "connect4"):
                acc = ev.solved_accuracy(game, ev.NetPlayer(evaluator, 0), path, cfg.eval.solved_positions)
                row[f"{path.stem}_raw_not_mistake"] = acc["not_mistake"]
                acc = ev.solved_accuracy(game, player, path, cfg.eval.solved_positions)
                row[f"{path.stem}_not_mistake"] = acc["not_mistake"]
            keys = [k for k in row if k.endswith("_not_mistake") and "_raw_" not in k]
            if keys:
                row["solved_not_mistake"] = float(np.mean([row[k] for k in keys]))
        if game.name == "tictactoe" and cfg.eval.games > 0:
            p = ev.tictactoe_perfection(player, games=cfg.eval.games, seed=self.learner.step)
            row.update(optimal_moves=p["optimal_moves"], vs_perfect_losses=p["losses"])
        row["accepted"] = accept
        if accept:
            self.best_state = self._snapshot(**({"eval": json.dumps(row)} if gated else {}))
        row["best_step"] = self.best_step()
        self.eval_history.append(row)
        self.logger.log(self.learner.step, row, tag="eval")
        net.train(was_training)
        print("[eval] " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()),
              flush=True)


def _next_multiple(x: int, k: int) -> int:
    return (x // k + 1) * k


def _truncate_file(path: Path, size: int) -> None:
    """Cut `path` back to its first `size` bytes (a no-op when it is missing or not longer)."""
    if path.exists() and path.stat().st_size > size:
        with open(path, "r+b") as f:
            f.truncate(size)


