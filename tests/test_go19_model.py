"""The shipped go19 net: its policy is the supervised KGS net whose figures the card gives (the committed
campaigns/go19-sl/model.pt, measured in benchmarks/results/go19_*), with a value head trained afterwards on the
frozen trunk; it plays legal, sensible moves through the engine."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from boardnet.games import make_game
from boardnet.models import read_card, resolve
from boardnet.nets import net_from_state
from traincore.checkpoint import load_checkpoint
from traincore.provenance import sha256

ROOT = Path(__file__).resolve().parents[1]
STAGE1 = ROOT / "campaigns" / "go19-sl" / "model.pt"
RESULTS = ROOT / "benchmarks" / "results"


def test_policy_and_trunk_are_the_measured_supervised_net():
    shipped = load_checkpoint(resolve("go19"), kind="boardnet")
    stage1 = load_checkpoint(STAGE1, kind="boardnet")
    assert shipped["game"] == "go" and shipped["game_kwargs"]["board_size"] == 19
    same = [k for k in stage1["model"] if not k.startswith("value_")]
    assert len(same) > 20
    for k in same:
        assert torch.equal(shipped["model"][k], stage1["model"][k]), k
    # the figures measured on the stage-1 file apply to the policy of the shipped one
    for name in ("go19_sl_stage1_test.json", "go19_sl_curve.json"):
        d = json.loads((RESULTS / name).read_text())
        assert d["models"][0]["sha256"] == sha256(STAGE1), name


def test_card_quotes_the_test_accuracy():
    d = json.loads((RESULTS / "go19_sl_stage1_test.json").read_text())["figures"]
    card = (resolve("go19").with_suffix(".md")).read_text()
    assert f"top-1 {100 * d['top1']:.1f} %" in card and f"top-3 {100 * d['top3']:.1f} %" in card
    assert read_card("go19")["Game"] == "go19"


def test_opening_moves_are_human_like():
    """The policy's favourite first moves are the 4-4 / 3-4 / 3-3 corner points, as in KGS games."""
    game = make_game("go19")
    net = net_from_state(load_checkpoint(resolve("go19"), kind="boardnet"))
    with torch.no_grad():
        logits, _ = net(torch.from_numpy(game.initial_state().planes()[None]))
    top = [game.action_to_text(int(a)) for a in torch.topk(logits[0], 8).indices]
    corner = {c + r for c in "CDEQRP" for r in ("3", "4", "5", "15", "16", "17")}
    assert sum(t in corner for t in top) >= 6, top
