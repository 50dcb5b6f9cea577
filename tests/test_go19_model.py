"""The shipped go19 net: it is the supervised KGS net whose figures the card gives (the committed
campaigns/go19-sl-deep/model.pt, measured in benchmarks/results/go19_deep*; the nets before it in the other
go19_* files, pinned by hash), and it plays legal, sensible moves through the engine."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from boardnet.games import make_game
from boardnet.models import read_card, resolve
from boardnet.nets import net_from_state
from traincore.checkpoint import load_checkpoint
from traincore.provenance import sha256

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "campaigns" / "go19-sl-deep" / "model.pt"
REGROW = ROOT / "campaigns" / "go19-sl-regrow" / "model.pt"    # the b6c96 step 3,400, shipped before it
JOINT = ROOT / "campaigns" / "go19-sl-joint" / "model.pt"       # stage 2 at step 14,000, shipped before it
STAGE1 = ROOT / "campaigns" / "go19-sl" / "model.pt"
RESULTS = ROOT / "benchmarks" / "results"
STAGE2_4500 = "413aebb60fe1fd5f059819a933651c5b9b89783af987aa4d68e4e59c43394142"   # shipped 2026-12-03, session 6
STAGE2_6500 = "621168623570de0866404e78db2d8539422d4c12fddd7ef2513742e9aeb2ea3f"   # step 6,500 (not shipped)
STAGE2_7912 = "7627b76c715a142d85e40e9c36eaad6efa36d17ca38a4b99ab8a0aec5d4f9d9a"   # shipped 2026-12-03, session 7
STAGE2_14000 = "5fd616bb08894bdfaf8b0df30973fdf0ccaeca92cda48d8fac35da1bb07e6708"  # shipped 2026-12-07, session 39
REGROW_3400 = "6e6e303d8d6a8ddb063cb9fd2c4500d87e57172623cdd7db49335f8aaebad08c"   # shipped 2026-12-07, session 41
DEEP_4800 = "4f775e11a588437cd599981b63201a8f652505f37625d5fb427c2c5f1b8bf020"     # shipped 2026-12-07, session 43


def test_shipped_net_is_the_measured_supervised_net():
    shipped = load_checkpoint(resolve("go19"), kind="boardnet")
    run = load_checkpoint(CAMPAIGN, kind="boardnet")
    assert shipped["game"] == "go" and shipped["game_kwargs"]["board_size"] == 19
    assert shipped["model"].keys() == run["model"].keys() and len(run["model"]) > 20
    for k, v in run["model"].items():
        assert torch.equal(shipped["model"][k], v), k
    assert sha256(CAMPAIGN) == DEEP_4800 and sha256(REGROW) == REGROW_3400 and sha256(JOINT) == STAGE2_14000
    # the figures were measured on the campaign's file; earlier figures on the files of their stage (stage 2 at
    # steps 4,500, 6,500 and 7,912, replaced in the campaign folder by the continued runs; their hashes are pinned)
    pinned, digests = [], {}
    for name, model in (("go19_deep_test.json", CAMPAIGN), ("go19_deep4800_val.json", CAMPAIGN),
                        ("go19_deep4800_val40k.json", CAMPAIGN), ("go19_deep4800_curve.json", CAMPAIGN),
                        ("go19_deep_policy_vs_gnugo_l10_openings.json", CAMPAIGN),
                        ("go19_deep_search400_int8_vs_gnugo_l10_openings40.json", CAMPAIGN),
                        ("go_dispute-go19_deep_search400_int8_vs_gnugo_l10_openings40.json", CAMPAIGN),
                        ("go19_regrow_test.json", REGROW), ("go19_regrow_val.json", REGROW),
                        ("go19_regrow_val40k.json", REGROW), ("go19_regrow_curve.json", REGROW),
                        ("go19_regrow_policy_vs_gnugo_l10_openings.json", REGROW),
                        ("go19_regrow_search400_vs_gnugo_l10_openings10.json", REGROW),
                        ("go19_regrow_search400_int8_vs_gnugo_l10_openings.json", REGROW),
                        ("go19_regrow_search400_int8_vs_gnugo_l10_openings_g21-40.json", REGROW),
                        ("go19_regrow_search400_int8_vs_gnugo_l10_openings40.json", REGROW),
                        ("go19_stage5_test.json", JOINT), ("go19_stage5_curve.json", JOINT),
                        ("go19_stage5_policy_vs_gnugo_l10_openings.json", JOINT),
                        ("go19_stage5_policy_vs_gnugo_l10.json", JOINT),
                        ("go19_sl_stage1_test.json", STAGE1), ("go19_sl_curve.json", STAGE1),
                        ("go19_policy_vs_gnugo_l10.json", STAGE1)):
        pinned.append((name, digests.setdefault(model, sha256(model))))
    pinned += [("go19_joint_test.json", STAGE2_4500), ("go19_joint_policy_vs_gnugo_l10.json", STAGE2_4500),
               ("go19_joint_search1s_vs_gnugo_l10.json", STAGE2_4500), ("go19_stage3_test.json", STAGE2_6500),
               ("go19_stage4_test.json", STAGE2_7912), ("go19_stage4_test_bf16.json", STAGE2_7912),
               ("go19_sl_joint_curve.json", STAGE2_7912), ("go19_stage4_policy_vs_gnugo_l10.json", STAGE2_7912),
               ("go19_shipped_policy_vs_gnugo_l10_bf16.json", STAGE2_7912),
               ("go19_shipped_policy_vs_gnugo_l10_openings.json", STAGE2_7912),
               ("go19_search100_vs_policy_passrule.json", STAGE2_14000),
               ("go19_search100_vs_gnugo_l10_openings.json", STAGE2_14000),
               ("go19_search400_vs_policy.json", STAGE2_14000),
               ("go19_search400_vs_gnugo_l10_openings.json", STAGE2_14000),
               ("go_dispute-go19_search400_vs_gnugo_l10_openings.json", STAGE2_14000),
               ("go_dispute-go19_stage5_policy_vs_gnugo_l10_openings.json", STAGE2_14000),
               ("go19_shipped_val_sym1.json", STAGE2_14000), ("go19_shipped_val_sym8.json", STAGE2_14000),
               ("go19_policy_sym8_vs_gnugo_l10_openings.json", STAGE2_14000)]
    for name, digest in pinned:
        d = json.loads((RESULTS / name).read_text())
        models = d.get("models") or d.get("provenance", {}).get("models")
        assert models and models[0]["sha256"] == digest, name
    agree = json.loads((RESULTS / "go19_search_agreement.json").read_text())["models"]["model"]
    assert agree["sha256"] == STAGE2_14000


def test_card_quotes_the_test_accuracy():
    card = (resolve("go19").with_suffix(".md")).read_text()
    d = json.loads((RESULTS / "go19_deep_test.json").read_text())["figures"]
    assert f"**top-1 {100 * d['top1']:.1f} %, top-3 {100 * d['top3']:.1f} %**" in card
    b6 = json.loads((RESULTS / "go19_regrow_test.json").read_text())["figures"]
    assert f"the b6c96 before it on the same test positions: {100 * b6['top1']:.1f} % / {100 * b6['top3']:.1f} %" in card
    for deep, b6 in (("go19_deep4800_val40k.json", "go19_regrow_val40k.json"),
                     ("go19_deep4800_val.json", "go19_regrow_val.json")):
        a, b = (json.loads((RESULTS / n).read_text())["figures"] for n in (deep, b6))
        assert f"{100 * a['top1']:.2f} % against {100 * b['top1']:.2f} %" in card, deep
    old = json.loads((RESULTS / "go19_stage5_test.json").read_text())["figures"]
    assert f"the step-14,000 b6c64 {100 * old['top1']:.1f} % / {100 * old['top3']:.1f} %" in card
    s1 = json.loads((RESULTS / "go19_sl_stage1_test.json").read_text())["figures"]
    assert f"stage 1 alone: {100 * s1['top1']:.1f} % / {100 * s1['top3']:.1f} %" in card
    assert f"{d['value_mse']:.3f} on the test positions" in card
    for name in ("go19_deep_policy_vs_gnugo_l10_openings.json", "go19_regrow_policy_vs_gnugo_l10_openings.json", "go19_stage5_policy_vs_gnugo_l10_openings.json",
                 "go19_shipped_policy_vs_gnugo_l10_openings.json", "go19_policy_sym8_vs_gnugo_l10_openings.json"):
        m = json.loads((RESULTS / name).read_text())["figures"]
        assert (f"**{m['wins']} of {m['scored']}** ({100 * m['score']:.1f} % [{100 * m['score_wilson95'][0]:.1f}, "
                f"{100 * m['score_wilson95'][1]:.1f}]") in card, name
    for name in ("go19_search100_vs_gnugo_l10_openings.json", "go19_search400_vs_gnugo_l10_openings.json",
                 "go19_regrow_search400_vs_gnugo_l10_openings10.json",
                 "go19_regrow_search400_int8_vs_gnugo_l10_openings40.json",
                 "go19_deep_search400_int8_vs_gnugo_l10_openings40.json"):
        m = json.loads((RESULTS / name).read_text())["figures"]
        lo, hi = m["score_wilson95"]
        assert f"**{m['wins']} of {m['scored']}**" in card and f"({100 * m['score']:.1f} % [{100 * lo:.1f}, {100 * hi:.1f}]" in card, name
    for name, text in (("go19_search100_vs_policy_passrule.json", "**10-10**"), ("go19_search400_vs_policy.json", "**17-3**")):
        m = json.loads((RESULTS / name).read_text())["figures"]
        assert f"**{m['wins_a']}-{m['losses_a']}**" == text and text in card, name
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
