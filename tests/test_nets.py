"""Policy/value nets (boardnet.nets): shapes, presets, exact sizes, checkpoint round trips."""
from __future__ import annotations

import pytest
import torch

from boardnet.games import make_game
from boardnet.nets import (NetConfig, PolicyValueNet, build_net, count_parameters, flops_per_position, grow_into,
                           model_state, net_config, net_from_state, preset_shape, value_from_head)


@pytest.fixture(scope="module")
def c4():
    return make_game("connect4")


def _expected_params(c_in, h, w, a, blocks, ch, pc=2, vc=1, vh=128):
    bn = lambda c: 2 * c  # noqa: E731  weight and bias
    stem = c_in * ch * 9 + bn(ch)
    tower = blocks * 2 * (ch * ch * 9 + bn(ch))
    policy = ch * pc + bn(pc) + pc * h * w * a + a
    value = ch * vc + bn(vc) + vc * h * w * vh + vh + vh + 1
    return stem + tower + policy + value


def _expected_flops(c_in, h, w, a, blocks, ch, pc=2, vc=1, vh=128):
    hw = h * w
    macs = hw * ch * c_in * 9 + blocks * 2 * hw * ch * ch * 9 + hw * pc * ch + pc * hw * a \
        + hw * vc * ch + vc * hw * vh + vh
    return 2 * macs


@pytest.mark.parametrize("preset,blocks,ch", [("b4c32", 4, 32), ("b6c64", 6, 64)])
def test_exact_size_and_flops(c4, preset, blocks, ch):
    net = build_net(c4, preset)
    assert count_parameters(net) == _expected_params(3, 6, 7, 7, blocks, ch)
    assert flops_per_position(net) == _expected_flops(3, 6, 7, 7, blocks, ch)
    assert count_parameters(build_net(c4, "b4c32")) == 81498   # golden: 3x6x7 planes, 7 actions


def test_shapes_and_heads(c4):
    x = torch.randn(5, 3, 6, 7)
    for preset in ("b4c32", "b2c16-se", "b3c16-gp", "b3c16-se-gp"):
        net = build_net(c4, preset).eval()
        p, v = net(x)
        assert p.shape == (5, 7) and v.shape == (5,)
        assert (v.abs() <= 1).all()
    wdl = build_net(c4, "b2c16", value_head="wdl").eval()
    p, v = wdl(x)
    assert v.shape == (5, 3)
    sv = value_from_head(v)
    assert sv.shape == (5,) and (sv.abs() <= 1).all()
    probs = torch.softmax(v, 1)
    torch.testing.assert_close(sv, probs[:, 0] - probs[:, 2])
    # SE adds its layers; global pooling sits in every third block
    plain = count_parameters(build_net(c4, "b3c16"))
    assert count_parameters(build_net(c4, "b3c16-se")) > plain
    gp = build_net(c4, "b6c16-gp")
    assert [b.gpool is not None for b in gp.tower] == [False, False, True, False, False, True]


def test_presets_and_bad_config(c4):
    assert preset_shape("b10c128") == {"blocks": 10, "channels": 128, "se_ratio": 0, "global_pool_every": 0}
    assert preset_shape("B6C64-se")["se_ratio"] == 4
    cfg = net_config(c4, "b20c256")
    assert (cfg.blocks, cfg.channels, cfg.action_size, cfg.in_channels) == (20, 256, 7, 3)
    with pytest.raises(ValueError, match="preset 'big'"):
        preset_shape("big")
    with pytest.raises(ValueError, match="value_head"):
        net_config(c4, "b2c8", value_head="scalar3")
    with pytest.raises(ValueError, match="channels=0"):
        net_config(c4, "b2c8", channels=0)
    with pytest.raises(ValueError, match="unknown keys"):
        NetConfig.from_dict({**cfg.to_dict(), "dropout": 0.1})


def test_checkpoint_round_trip(c4, tmp_path):
    from traincore.checkpoint import load_checkpoint, save_checkpoint

    net = build_net(c4, "b2c16-se", value_head="wdl").eval()
    # give batch norm non-trivial running stats so the round trip checks buffers too
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    d = model_state(net, "connect4", step=7)
    assert d["kind"] == "boardnet" and d["game"] == "connect4" and d["game_kwargs"] == {} and d["step"] == 7
    path = save_checkpoint(tmp_path / "m.pt", d)
    back = net_from_state(load_checkpoint(path, kind="boardnet"))
    x = torch.randn(4, 3, 6, 7)
    with torch.inference_mode():
        for a, b in zip(net(x), back(x)):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # the short form {"preset": ...} is sized from the game
    short = dict(d, net={"preset": "b2c16-se", "value_head": "wdl"})
    assert isinstance(net_from_state(short), PolicyValueNet)
    with pytest.raises(ValueError, match="kind"):
        net_from_state(dict(d, kind="atomgrid"))
    with pytest.raises(ValueError, match="schema_version"):
        net_from_state(dict(d, schema_version=99))
    with pytest.raises(ValueError, match="reserved"):
        model_state(net, "connect4", model=1)


def test_convolutional_policy_head_keeps_each_move_at_its_square():
    """policy_planes: AlphaZero chess's head. The logit of action `plane * 64 + square` may depend only on
    the trunk's features around that square (a 3x3 then a 1x1 conv), which a fully connected head breaks."""
    chess = make_game("chess")
    net = build_net(chess, "b1c16", policy_planes=73, value_head="wdl").eval()
    assert net.policy_fc is None
    c, h, w = chess.obs_shape
    pc = 16 * 16 * 9 + 2 * 16 + 16 * 73 + 73   # 3x3 conv, batch norm, 1x1 conv with bias
    assert count_parameters(net) - count_parameters(build_net(chess, "b0c16", policy_planes=73,
                                                              value_head="wdl")) == 2 * 16 * 16 * 9 + 64
    no_head = count_parameters(net) - pc
    fc = build_net(chess, "b1c16", value_head="wdl")
    assert count_parameters(fc) - (16 * 2 + 4 + 2 * 64 * 4672 + 4672) == no_head
    # flatten order is [plane, row, col]: changing one input square leaves the logits of squares beyond
    # the receptive field alone
    x = torch.zeros(1, c, h, w)
    y = x.clone()
    y[0, 0, 0, 0] = 1.0   # a1; stem, one block (two convs) and the head's 3x3: 4 squares each way
    with torch.inference_mode():
        pa, pb = net(x)[0].view(73, 8, 8), net(y)[0].view(73, 8, 8)
    assert not torch.equal(pa[:, 0, 0], pb[:, 0, 0])
    torch.testing.assert_close(pa[:, 5:, :], pb[:, 5:, :], rtol=0, atol=0)
    torch.testing.assert_close(pa[:, :, 5:], pb[:, :, 5:], rtol=0, atol=0)
    # configs that cannot lay actions out as planes are refused
    with pytest.raises(ValueError, match="policy_planes=72: 72 x 8 x 8 != action_size 4672"):
        net_config(chess, "b2c16", policy_planes=72)
    with pytest.raises(ValueError, match="policy_planes"):
        net_config(chess, "b2c16", policy_planes=-1)
    # checkpoints round-trip the head
    back = net_from_state(model_state(net, "chess"))
    with torch.inference_mode():
        torch.testing.assert_close(back(y)[0], net(y)[0], rtol=0, atol=0)


def test_policy_planes_reach_the_net_from_a_run_config():
    from selfplay.config import NetSettings

    kw = NetSettings(preset="b1c8", value_head="wdl", policy_planes=73).overrides()
    assert kw["policy_planes"] == 73
    assert build_net(make_game("chess"), "b1c8", **kw).policy_fc is None
    assert "policy_planes" not in NetSettings(preset="b1c8").overrides()


def _trained_like(net: PolicyValueNet, seed: int) -> PolicyValueNet:
    """Random non-trivial batch-norm statistics and scales, as a trained net has."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return net


@pytest.mark.parametrize("name, extra", [("go", {}), ("go", {"value_channels": 4, "value_pool": True, "ownership": True}),
                                         ("chess", {"policy_planes": 73, "value_head": "wdl"})])
def test_grow_into_a_wider_deeper_net_computes_the_same_function(name, extra):
    """b2c8 -> b4c12: copied weights, silent new channels and identity blocks give the same policy, value and
    ownership in eval mode (running statistics) and in train mode (batch statistics of the old channels)."""
    game = make_game("go", board_size=5, komi=0.5) if name == "go" else make_game(name)
    torch.manual_seed(0)
    small = _trained_like(build_net(game, "b2c8", **extra), 1).eval()
    big = build_net(game, "b4c12", **extra)
    grow_into(big, small.config, small.state_dict())
    big.eval()
    x = torch.randn(6, *game.obs_shape)
    own = bool(extra.get("ownership"))
    with torch.no_grad():
        a, b = small(x, ownership=own), big(x, ownership=own)
        for u, v in zip(a, b):
            assert torch.allclose(u, v, atol=1e-5), (u - v).abs().max()
        small.train(), big.train()
        for u, v in zip(small(x, ownership=own), big(x, ownership=own)):
            assert torch.allclose(u, v, atol=1e-5)
    # the new parameters are not stuck: one backward step gives the zero columns and the new blocks a gradient
    big.zero_grad()
    p, v = big(x)[:2]
    (p.logsumexp(1).mean() + v.pow(2).mean() - p[:, 0].mean()).backward()
    assert big.tower[0].conv1.weight.grad[:8, 8:].abs().sum() > 0     # old outputs' zero columns move
    assert big.tower[3].bn2.weight.grad.abs().sum() > 0                  # an identity block starts learning


def test_grow_into_refuses_what_it_cannot_preserve():
    game = make_game("go", board_size=5, komi=0.5)
    small = build_net(game, "b2c8")
    with pytest.raises(ValueError, match="at least as deep and wide"):
        grow_into(build_net(game, "b1c16"), small.config, small.state_dict())
    with pytest.raises(ValueError, match="value_channels 1 -> 4"):
        grow_into(build_net(game, "b2c16", value_channels=4), small.config, small.state_dict())
    with pytest.raises(ValueError, match="se_ratio"):
        grow_into(build_net(game, "b2c16-se"), small.config, small.state_dict())
    with pytest.raises(ValueError, match="height"):
        grow_into(build_net(make_game("go", board_size=7, komi=0.5), "b2c16"), small.config, small.state_dict())
