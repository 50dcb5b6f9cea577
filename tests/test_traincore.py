"""traincore: configs, checkpoints, resume == uninterrupted, fit, schedules, metrics."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from traincore.checkpoint import (CheckpointError, CheckpointManager, load_checkpoint, restore_training_state,
                                  save_checkpoint, training_state)
from traincore.config import ConfigError, config_to_dict, load_config, save_config
from traincore.loop import NonFiniteLossError, every, fit
from traincore.metrics import MetricsLogger, RunningMean, read_jsonl
from traincore.runtime import Runtime, resolve_device, seed_everything, worker_seed
from traincore.schedule import as_torch_scheduler, make_schedule


@dataclass(frozen=True)
class TrainCfg:
    lr: float = 0.1
    steps: int = 10
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ()


@dataclass(frozen=True)
class RunCfg:
    name: str = "run"
    seed: int = 0
    device: str | None = None
    train: TrainCfg = field(default_factory=TrainCfg)


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "cfg.toml"
    p.write_text(text)
    return p


# ---------------------------------------------------------------- config
def test_config_loads_nested_and_overrides(tmp_path):
    p = write(tmp_path, 'name = "x"\n[train]\nlr = 1\nmilestones = [3, 5]\n')
    cfg = load_config(RunCfg, p, ["train.steps=42", "seed=7", "device=cpu"])
    assert cfg == RunCfg(name="x", seed=7, device="cpu", train=TrainCfg(lr=1.0, steps=42, milestones=(3, 5)))
    assert isinstance(cfg.train.lr, float)
    with pytest.raises(Exception):
        cfg.seed = 3  # frozen


def test_config_unknown_key_names_key_and_file(tmp_path):
    p = write(tmp_path, "[train]\nlearning_rate = 0.1\n")
    with pytest.raises(ConfigError, match=r"cfg\.toml.*unknown key 'train\.learning_rate'"):
        load_config(RunCfg, p)


def test_config_wrong_type_names_key(tmp_path):
    p = write(tmp_path, '[train]\nsteps = "ten"\n')
    with pytest.raises(ConfigError, match=r"key 'train\.steps': expected an integer"):
        load_config(RunCfg, p)
    with pytest.raises(ConfigError, match=r"key 'train\.steps'"):
        load_config(RunCfg, None, ["train.steps=1.5"])
    with pytest.raises(ConfigError, match=r"unknown key 'train\.nope'"):
        load_config(RunCfg, None, ["train.nope=1"])
    with pytest.raises(ConfigError, match=r"expected KEY=VALUE"):
        load_config(RunCfg, None, ["train.steps"])
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(RunCfg, write(tmp_path, "[train\n"))
    with pytest.raises(ConfigError, match="file not found"):
        load_config(RunCfg, tmp_path / "missing.toml")


def test_config_extends_merges_tables_and_replaces_values(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "b.toml").write_text('name = "base"\nseed = 3\n[train]\nlr = 0.5\nsteps = 7\nmilestones = [1, 2]\n')
    (tmp_path / "mid.toml").write_text('extends = "base/b.toml"\n[train]\nsteps = 9\n')
    (tmp_path / "top.toml").write_text('extends = "mid.toml"\nname = "top"\n[train]\nmilestones = [4]\n')
    cfg = load_config(RunCfg, tmp_path / "top.toml", ["train.lr=0.25"])
    # tables merge key by key through two levels; lists and scalars are replaced; overrides win over every file
    assert cfg == RunCfg(name="top", seed=3, train=TrainCfg(lr=0.25, steps=9, milestones=(4,)))
    assert load_config(RunCfg, tmp_path / "mid.toml") == RunCfg(name="base", seed=3, train=TrainCfg(lr=0.5, steps=9, milestones=(1, 2)))
    # an error in the base names the whole chain
    (tmp_path / "base" / "b.toml").write_text("[train]\nrate = 1\n")
    with pytest.raises(ConfigError, match=r"top\.toml \(extends .*mid\.toml \(extends .*b\.toml\)\).*unknown key 'train\.rate'"):
        load_config(RunCfg, tmp_path / "top.toml")


def test_config_extends_errors(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match=r"'extends' loops back to .*a\.toml"):
        load_config(RunCfg, tmp_path / "a.toml")
    (tmp_path / "c.toml").write_text('extends = "nope.toml"\n')
    with pytest.raises(ConfigError, match=r"c\.toml \(extends .*nope\.toml\): file not found"):
        load_config(RunCfg, tmp_path / "c.toml")
    (tmp_path / "d.toml").write_text("extends = 3\n")
    with pytest.raises(ConfigError, match=r"key 'extends': expected the path of a TOML file"):
        load_config(RunCfg, tmp_path / "d.toml")
    (tmp_path / "e.toml").write_text('extends = "e.toml"\n')
    with pytest.raises(ConfigError, match="loops back"):
        load_config(RunCfg, tmp_path / "e.toml")
    (tmp_path / "f.toml").write_bytes(b"lr = 0.1\n\xff\xfe\n")
    with pytest.raises(ConfigError, match=r"f\.toml: not valid TOML \(not UTF-8 text: byte 9\)"):
        load_config(RunCfg, tmp_path / "f.toml")
    (tmp_path / "g.toml").write_text("# nothing but a comment\n\n")   # empty: an error, not every default
    with pytest.raises(ConfigError, match=r"g\.toml: holds no settings \(an empty file\)"):
        load_config(RunCfg, tmp_path / "g.toml")
    (tmp_path / "h.toml").write_bytes(b"")
    with pytest.raises(ConfigError, match="holds no settings"):
        load_config(RunCfg, tmp_path / "h.toml")


def test_check_bounds_names_the_first_field_out_of_bounds():
    from traincore.config import check_bounds
    cfg = SimpleNamespace(a=1, b=0.0, c=None, d=float("nan"), e=2)
    check_bounds(cfg, a=">=1", c=">0", e="[0,2]")  # inside, or None: nothing raised
    for rules, message in [({"b": ">0"}, "b=0.0: must be > 0"), ({"a": ">=2"}, "a=1: must be >= 2"),
                           ({"d": "[0,1]"}, "d=nan: must be in [0,1]"), ({"d": ">=0"}, "d=nan: must be >= 0"),
                           ({"e": "[0,1]"}, "e=2: must be in [0,1]")]:
        with pytest.raises(ValueError, match=re.escape(message)):
            check_bounds(cfg, **rules)


def test_config_saved_round_trip(tmp_path):
    cfg = load_config(RunCfg, None, ["train.milestones=[1,2]", "name=abc"])
    path = save_config(cfg, tmp_path / "run")
    assert load_config(RunCfg, path) == cfg
    assert config_to_dict(cfg)["train"]["milestones"] == [1, 2]


# ---------------------------------------------------------------- checkpoints
def _model_and_opt(seed=0):
    torch.manual_seed(seed)
    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    o = torch.optim.AdamW(m.parameters(), lr=0.01, weight_decay=0.1)
    return m, o


def test_checkpoint_round_trip_bit_identical(tmp_path):
    m, o = _model_and_opt()
    m(torch.randn(5, 4)).sum().backward()
    o.step()
    save_checkpoint(tmp_path / "c.pt", training_state(model=m, optimizer=o, step=1, config={"a": 1}))
    m2, o2 = _model_and_opt(seed=1)
    st = load_checkpoint(tmp_path / "c.pt")
    assert restore_training_state(st, model=m2, optimizer=o2) == 1
    for a, b in zip(m.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    s1, s2 = o.state_dict()["state"], o2.state_dict()["state"]
    for k in s1:
        for name in s1[k]:
            assert torch.equal(torch.as_tensor(s1[k][name]), torch.as_tensor(s2[k][name]))
    assert st["config"] == {"a": 1}


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "text", "foreign", "pickle"])
def test_bad_checkpoint_clear_error(tmp_path, damage):
    m, o = _model_and_opt()
    p = tmp_path / "c.pt"
    save_checkpoint(p, training_state(model=m, optimizer=o, step=1))
    data = p.read_bytes()
    if damage == "truncate":
        p.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        p.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)))
    elif damage == "empty":
        p.write_bytes(b"")
    elif damage == "text":
        p.write_bytes(b"not a checkpoint")
    elif damage == "foreign":
        torch.save({"weights": torch.ones(3)}, p)
    elif damage == "pickle":
        torch.save({"schema_version": 1, "obj": Path("/x")}, p)
    with pytest.raises(CheckpointError) as ei:
        load_checkpoint(p)
    msg = str(ei.value)
    assert str(p) in msg and "\n" not in msg
    if damage == "pickle":
        assert "refused" in msg
    else:  # bytes that are no pickle at all are called corrupt, not a file of Python objects
        assert "refused" not in msg
    if damage == "foreign":
        assert "not a traincore checkpoint" in msg


def test_checkpoint_kind_checked(tmp_path):
    m, _ = _model_and_opt()
    save_checkpoint(tmp_path / "c.pt", training_state(model=m, step=0, kind="atomgrid"))
    with pytest.raises(CheckpointError, match="expected 'boardnet'"):
        load_checkpoint(tmp_path / "c.pt", kind="boardnet")


def test_manager_keeps_last_n_and_best(tmp_path):
    m, _ = _model_and_opt()
    mgr = CheckpointManager(tmp_path, keep_last=2)
    for step, metric in [(1, 0.5), (2, 0.9), (3, 0.7), (4, 0.6)]:
        mgr.save(training_state(model=m, step=step), step, metric=metric)
    assert mgr.steps() == [3, 4]
    assert load_checkpoint(mgr.best())["step"] == 2
    assert load_checkpoint(mgr.latest())["step"] == 4
    # best survives a new manager (restart) and is only replaced by a better metric
    mgr2 = CheckpointManager(tmp_path, keep_last=2)
    mgr2.save(training_state(model=m, step=5), 5, metric=0.8)
    assert load_checkpoint(mgr2.best())["step"] == 2
    # a corrupt newest checkpoint falls back to the previous one
    mgr2.latest().write_bytes(b"junk")
    assert mgr2.load_latest()["step"] == 4
    assert not list(tmp_path.glob(".*tmp*"))


# ---------------------------------------------------------------- fit and resume
class Batches:
    """Deterministic regression batches from a torch Generator whose state is checkpointed."""

    def __init__(self, seed=0):
        self.g = torch.Generator().manual_seed(seed)
        self.w = torch.tensor([[1.5], [-2.0], [0.5], [3.0]])

    def __iter__(self):
        return self

    def __next__(self):
        x = torch.randn(16, 4, generator=self.g)
        return x, x @ self.w + 0.01 * torch.randn(16, 1, generator=self.g)


def mse(model, batch):
    x, y = batch
    loss = torch.nn.functional.mse_loss(model(x), y)
    return loss, {"loss": loss.item()}


def _run(tmp_path, total, stop_at=None, resume=False):
    seed_everything(123)
    m, o = _model_and_opt()
    sched = as_torch_scheduler(o, make_schedule("cosine", 0.02, total_steps=total, warmup=3))
    data = Batches()
    mgr = CheckpointManager(tmp_path / "run", keep_last=2)
    start = 0
    if resume:
        st = mgr.load_latest()
        start = restore_training_state(st, model=m, optimizer=o, scheduler=sched)
        data.g.set_state(st["data_rng"])

    def save(step, metrics):
        mgr.save(training_state(model=m, optimizer=o, scheduler=sched, step=step, data_rng=data.g.get_state()), step)

    fit(m, mse, data, o, steps=stop_at or total, start_step=start, scheduler=sched, clip_grad=5.0,
        hooks=[every(5, save)])
    return m


def test_resume_equals_uninterrupted(tmp_path):
    full = _run(tmp_path / "a", total=30)
    _run(tmp_path / "b", total=30, stop_at=15)  # "killed" after step 15 (checkpoint at 15)
    resumed = _run(tmp_path / "b", total=30, resume=True)
    for (k, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k


def test_fit_drives_loss_down_and_accumulates():
    seed_everything(0)
    m, o = _model_and_opt()
    o.param_groups[0]["lr"] = 0.03
    seen = []
    state = fit(m, mse, Batches(), o, steps=400, accumulate=2, hooks=[lambda s, mt: seen.append(mt["loss"])])
    assert state.step == 400 and state.samples == 400 * 2 * 16
    assert np.mean(seen[:10]) > 5.0 and np.mean(seen[-10:]) < 0.05


def test_fit_stops_on_nan_with_clear_error():
    m, o = _model_and_opt()

    def bad(model, batch):
        return model(batch[0]).sum() * float("nan"), {}
    with pytest.raises(NonFiniteLossError, match="step 0: loss is nan"):
        fit(m, bad, Batches(), o, steps=3)


def test_fit_ends_when_data_runs_out():
    m, o = _model_and_opt()
    data = [next(Batches()) for _ in range(4)]
    assert fit(m, mse, data, o, steps=100).step == 4


# ---------------------------------------------------------------- schedules, runtime, metrics
def test_schedules_values():
    c = make_schedule("cosine", 1.0, total_steps=110, warmup=10)
    assert c(0) == pytest.approx(0.1) and c(9) == pytest.approx(1.0)
    assert c(60) == pytest.approx(0.5) and c(110) == pytest.approx(0.0, abs=1e-12)
    s = make_schedule("step", 1.0, milestones=[10, 20], gamma=0.5)
    assert [s(0), s(10), s(25)] == [1.0, 0.5, 0.25]
    oc = make_schedule("onecycle", 1.0, total_steps=100)
    assert oc(0) == pytest.approx(1 / 25) and oc(30) == pytest.approx(1.0) and oc(99) < 1e-4
    assert make_schedule("constant", 0.3)(1000) == 0.3
    with pytest.raises(ValueError, match="choose"):
        make_schedule("linear", 1.0)
    # the torch wrapper follows the function exactly
    m, o = _model_and_opt()
    sch = as_torch_scheduler(o, c)
    lrs = []
    for _ in range(20):
        lrs.append(o.param_groups[0]["lr"])
        o.step()
        sch.step()
    assert lrs == pytest.approx([c(i) for i in range(20)])


def test_runtime_cpu_and_seeds():
    rt = Runtime.create("cpu", channels_last=True, compile=True, precision="fp32")
    assert rt.device.type == "cpu" and rt.autocast_dtype is None and rt.precision == "fp32"
    assert not rt.compile and not rt.channels_last  # compile is CUDA-only; channels_last needs bf16 on CPU
    assert resolve_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError, match="device 'nonsense'"):
        resolve_device("nonsense")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    assert worker_seed(1, 0) != worker_seed(1, 1) and worker_seed(1, 2) == worker_seed(1, 2)
    seed_everything(5)
    a = (np.random.rand(), torch.rand(1).item())
    seed_everything(5)
    assert a == (np.random.rand(), torch.rand(1).item())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runtime_cuda_bf16():
    rt = Runtime.create("cuda")
    m = rt.prepare(torch.nn.Linear(4, 4))
    with rt.autocast():
        y = m(torch.randn(2, 4, device=rt.device))
    assert y.dtype == torch.bfloat16


def test_metrics_logger_jsonl(tmp_path):
    rm = RunningMean()
    rm.add({"a": 1.0}, n=1)
    rm.add({"a": 3.0}, n=3)
    assert rm.reset() == {"a": 2.5} and rm.means() == {}
    with MetricsLogger(tmp_path) as log:
        log.log(1, {"loss": 0.5, "bad": float("nan"), "text": "x"})
        log.log(2, {"loss": 0.25}, tag="eval")
    rows = read_jsonl(tmp_path / "metrics.jsonl")
    assert rows[0]["loss"] == 0.5 and rows[0]["bad"] == "nan" and "text" not in rows[0]
    assert rows[1] == {**rows[1], "step": 2, "tag": "eval", "loss": 0.25}
    (tmp_path / "metrics.jsonl").open("a").write('{"step": 3, "lo')  # torn line from a crash
    assert len(read_jsonl(tmp_path / "metrics.jsonl")) == 2


def test_truncate_jsonl_cuts_back_to_a_checkpoints_step(tmp_path):
    """What every resume (selfplay, supervised, atomgrid train) does to the log it continues."""
    from traincore.metrics import truncate_jsonl
    f = tmp_path / "metrics.jsonl"
    f.write_text('{"step": 1, "a": 1}\n{"note": "x"}\n{"step": 2}\n{"step": 3}\n{"step": 4, "lo')
    truncate_jsonl(f, 2)
    assert f.read_text() == '{"step": 1, "a": 1}\n{"note": "x"}\n{"step": 2}\n'
    truncate_jsonl(tmp_path / "missing.jsonl", 2)  # nothing to cut
    assert not (tmp_path / "missing.jsonl").exists()
    # lines edited into something else neither stop a resume nor reach a report
    f.write_text('{"step": 1}\n[1, 2]\n{"step": "x", "tag": "eval"}\n{"step": 3}\n')
    truncate_jsonl(f, 2)
    assert f.read_text() == '{"step": 1}\n[1, 2]\n{"step": "x", "tag": "eval"}\n'
    assert read_jsonl(f) == [{"step": 1}]


def test_a_logger_cut_back_goes_on_logging_into_the_cut_file(tmp_path):
    with MetricsLogger(tmp_path, tensorboard=False) as log:
        for step in (1, 2, 3):
            log.log(step, {"loss": 1.0})
    with MetricsLogger(tmp_path, tensorboard=False) as log:
        log.cut_back(2)
        log.log(3, {"loss": 0.5})
    assert [(r["step"], r["loss"]) for r in read_jsonl(tmp_path / "metrics.jsonl")] == [(1, 1.0), (2, 1.0), (3, 0.5)]


def test_write_results_is_standard_json_with_null_for_unmeasured_figures(tmp_path):
    """A figure that could not be measured (NaN, inf; numpy scalars too) is written as null, so the file parses with a
    strict parser (JavaScript's refuses NaN); finite numpy values keep their value; readers turn null back into NaN."""
    import json
    import math

    import numpy as np

    from traincore.provenance import num, write_results

    def strict(text):
        def refuse(c):
            raise ValueError(f"non-standard JSON constant {c}")
        return json.loads(text, parse_constant=refuse)

    figs = {"pose_auc": {"value": math.nan, "low": np.float32("nan"), "high": -math.inf},
            "r": np.float64(0.25), "n": np.int64(7), "ok": np.bool_(True), "rows": np.array([1.5, np.nan]),
            "t": (1, None), "caveat": None}
    out = write_results(tmp_path / "r.json", "x", figs)
    d = strict(out.read_text())["figures"]
    assert d == {"pose_auc": {"value": None, "low": None, "high": None}, "r": 0.25, "n": 7, "ok": True,
                 "rows": [1.5, None], "t": [1, None], "caveat": None}
    assert math.isnan(num(d["pose_auc"]["value"])) and num(d["r"]) == 0.25
    assert math.isnan(num(float("nan")))  # an older file's NaN reads the same
