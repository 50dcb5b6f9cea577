"""`selfplay report RUN_DIR`: a PNG of the training curves and a short text summary."""
from __future__ import annotations

import json
from pathlib import Path

from traincore.metrics import read_jsonl


def _series(rows: list[dict], tag: str, key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in rows:
        if r.get("tag") == tag and isinstance(r.get(key), (int, float)):
            xs.append(r["step"])
            ys.append(r[key])
    return xs, ys


def summary_text(run_dir: Path) -> str:
    rows = read_jsonl(run_dir / "metrics.jsonl")
    evals = [r for r in rows if r.get("tag") == "eval"]
    train = [r for r in rows if r.get("tag") == "train"]
    sp = [r for r in rows if r.get("tag") == "selfplay"]
    lines = [f"run: {run_dir}"]
    if sp:
        lines.append(f"self-play: {int(sp[-1]['games'])} games, {int(sp[-1]['samples'])} samples")
    if train:
        t = train[-1]
        lines.append(f"learner: step {t['step']}, loss {t.get('loss', float('nan')):.3f} "
                     f"(policy {t.get('policy_loss', float('nan')):.3f}, value {t.get('value_loss', float('nan')):.3f})")
    for e in evals[-3:]:
        parts = [f"step {int(e['step'])}"]
        for k in ("vs_mcts_score", "vs_mcts_elo", "vs_best_score", "solved_not_mistake", "optimal_moves",
                  "vs_perfect_losses", "val_top1", "val_top3", "val_policy_loss", "val_value_mse", "hours"):
            if k in e and isinstance(e[k], (int, float)):
                parts.append(f"{k}={e[k]:.3f}" if isinstance(e[k], float) else f"{k}={e[k]}")
        lines.append("eval: " + ", ".join(parts))
    model = run_dir / "model.pt"
    if model.exists():
        lines.append(f"model: {model}")
    return "\n".join(lines)


def write_report(run_dir: str | Path) -> tuple[Path, str]:
    """Writes RUN_DIR/report.png and report.txt; returns (png path, summary text)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    if not (run_dir / "metrics.jsonl").exists():
        raise FileNotFoundError(f"report {run_dir}: no metrics.jsonl (is this a selfplay run folder?)")
    rows = read_jsonl(run_dir / "metrics.jsonl")
    panels = [
        ("losses", [("train", "policy_loss", "policy"), ("train", "value_loss", "value"),
                    ("eval", "val_policy_loss", "validation policy"), ("eval", "val_value_mse", "validation value MSE")]),
        ("strength", [("eval", "vs_mcts_score", "score vs pure MCTS"), ("eval", "vs_best_score", "score vs previous"),
                      ("eval", "solved_not_mistake", "solved: not a mistake"), ("eval", "optimal_moves", "optimal moves"),
                      ("eval", "val_top1", "validation top-1 (played move)"),
                      ("eval", "val_top3", "validation top-3")]),
        ("self-play", [("selfplay", "game_length", "game length")]),
        ("throughput", [("selfplay", "selfplay_sims_per_s", "search sims/s per actor"),
                        ("train", "samples_per_s", "learner samples/s")]),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    supervised = not any(r.get("tag") == "selfplay" for r in rows) and any("val_top1" in r for r in rows)
    if supervised:   # no self-play games: show accuracy against training time instead
        panels[2] = ("accuracy vs training time", [("eval", "val_top1", "validation top-1"),
                                                    ("eval", "val_top3", "validation top-3")])
    for i, (ax, (title, series)) in enumerate(zip(axes.flat, panels)):
        by_hours = supervised and i == 2
        for tag, key, label in series:
            xs, ys = _series(rows, tag, key)
            if by_hours:
                xs = [r["hours"] for r in rows if r.get("tag") == tag and isinstance(r.get(key), (int, float))]
            if xs:
                ax.plot(xs, ys, label=label, marker="o" if tag == "eval" else None, markersize=3)
        ax.set_title(title)
        ax.set_xlabel("CPU hours of training (one core)" if by_hours else "learner step")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    png = run_dir / "report.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    text = summary_text(run_dir)
    (run_dir / "report.txt").write_text(text + "\n")
    return png, text


def write_results_json(run_dir: str | Path, out: str | Path) -> Path:
    """The run's evaluation rows (and the last training row) with provenance, as a results file that
    docs and model cards can cite: {provenance..., run_dir, config, figures: {eval: [...], last_train}}."""
    import tomllib

    from traincore.provenance import provenance, write_json
    run_dir = Path(run_dir)
    rows = read_jsonl(run_dir / "metrics.jsonl")
    model = run_dir / "model.pt"
    cfg_path = run_dir / "config.toml"
    config = tomllib.loads(cfg_path.read_text()) if cfg_path.exists() else None
    train = [r for r in rows if r.get("tag") == "train"]
    extra = {}
    for name in ("runtime.json", "split.json", "read_report.json"):
        f = run_dir / name
        if f.exists():
            d = json.loads(f.read_text())
            if name == "read_report.json":
                d = {k: v for k, v in d.items() if k != "errors"}
            extra[name.removesuffix(".json")] = d
    doc = {**provenance(models=[model] if model.exists() else []), "run_dir": str(run_dir), "config": config,
           **extra, "figures": {"eval": eval_table(run_dir), "last_train": train[-1] if train else None}}
    return write_json(out, doc)


def eval_table(run_dir: Path) -> list[dict]:
    return [r for r in read_jsonl(Path(run_dir) / "metrics.jsonl") if r.get("tag") == "eval"]


if __name__ == "__main__":  # pragma: no cover
    import sys
    print(json.dumps(eval_table(Path(sys.argv[1])), indent=1))
