"""The integer golden model: against an independent closed form, the float model and the ANN."""

import pytest
import torch

from model.convert import ann_forward
from model.encoding import input_codes
from model.fixedpoint import FixedPointFormat
from model.quantize import quantize
from model.simulate import simulate


def _closed_form(qnet, x):
    # The windowed TSC network without saturation is a quantized ReLU network:
    # k = min(floor((W k_prev + floor(Vth / 2)) / Vth), N - 1), output V = W k_prev.
    n = qnet.steps
    k = input_codes(x, n).flatten(1)
    for layer in qnet.network.hidden:
        v = k @ layer.weight.t()
        k = torch.clamp(torch.div(v + layer.threshold // 2, layer.threshold,
                                  rounding_mode="floor"), 0, n - 1)
    return k @ qnet.network.output.weight.t()


def test_integer_model_matches_closed_form(trained_mlp):
    _, split, net, _ = trained_mlp
    qnet = quantize(net, split.x_train, 16)
    result = qnet.run(split.x_test)
    assert result.counts.saturations.sum() == 0
    assert torch.equal(result.output, _closed_form(qnet, split.x_test))
    assert result.output.dtype == torch.int64


def test_int8_agrees_with_float_and_ann(trained_mlp):
    model, split, net, _ = trained_mlp
    from model.balance import balance
    qnet = quantize(net, split.x_train, 16)
    as_int = qnet.run(split.x_test).prediction
    as_float = simulate(balance(net, split.x_train, "tsc", 16), split.x_test, "tsc", 16).prediction
    ann = ann_forward(model, split.x_test).argmax(1)
    assert (as_int == as_float).float().mean() >= 0.99
    assert (as_int == ann).float().mean() >= 0.99
    assert qnet.network.layers[0].weight.abs().max() <= 127


def test_record_gives_every_spike_and_counts_match_it(trained_mlp):
    _, split, net, _ = trained_mlp
    qnet = quantize(net, split.x_train, 16)
    x = split.x_test[:20]
    result = qnet.run(x, record=True)
    inputs, hidden = result.spikes
    assert inputs.shape == (20, 64, 16) and hidden.shape == (20, 128, 16)
    # at most two spikes per neuron; synaptic additions = spikes x fan-out
    assert (hidden != 0).sum(-1).max() <= 2
    expected = (inputs != 0).flatten(1).sum(1) * 128 + (hidden != 0).flatten(1).sum(1) * 10
    assert torch.equal(result.counts.synaptic, expected)
    assert (result.counts.synaptic <= 2 * (64 * 128 + 128 * 10)).all()
    spikes = (inputs != 0).flatten(1).sum(1) + (hidden != 0).flatten(1).sum(1)
    assert torch.equal(result.counts.spikes, spikes)
    # membrane: one V update per neuron per integration step, plus one per subtraction
    blocks = torch.cumsum(hidden, -1).flatten(1).sum(1)
    assert torch.equal(result.counts.membrane, (128 + 10) * 16 + blocks)
    assert result.counts.latency == 32


def test_saturating_network_counts_and_stays_in_range(trained_mlp):
    _, split, net, _ = trained_mlp
    fmt = FixedPointFormat(8, 12, 14)
    qnet = quantize(net, split.x_train[:300], 16, fmt=fmt)
    result = qnet.run(split.x_test[:30])
    lo, hi = fmt.v_range
    assert result.counts.saturations.sum() > 0
    assert result.output.min() >= lo and result.output.max() <= hi


def test_integer_model_is_deterministic(trained_mlp):
    _, split, net, _ = trained_mlp
    qnet = quantize(net, split.x_train, 8)
    a, b = qnet.run(split.x_test[:50]), qnet.run(split.x_test[:50])
    assert torch.equal(a.output, b.output)


@pytest.mark.parametrize("steps", [1, 4097, 16.0, True])
def test_steps_outside_2_to_4096_are_refused(steps, trained_mlp):
    from model.quantize import IntegerNetwork
    qnet = quantize(trained_mlp[2], trained_mlp[1].x_train[:50], 8)
    with pytest.raises(ValueError, match=r"steps must be an integer from 2 to 4096"):
        IntegerNetwork(qnet.network, steps)


def test_saturating_add_clamps_and_counts_both_directions():
    fmt = FixedPointFormat(8, 4, 6)     # dV/dt in [-8, 7], V in [-32, 31]
    acc = torch.tensor([[7, -8, 3, 0], [31, -32, -30, 5]])
    total, clipped = fmt.saturating_add(acc, torch.tensor([[1, -1, 1, 9], [0, 0, 0, 0]]),
                                        "dvdt")
    assert total.tolist() == [[7, -8, 4, 7], [7, -8, -8, 5]] and clipped.tolist() == [3, 3]
    total, clipped = fmt.saturating_add(acc, torch.tensor([[25, -25, 0, 0], [1, -1, -3, 0]]),
                                        "v")
    assert total.tolist() == [[31, -32, 3, 0], [31, -32, -32, 5]] and clipped.tolist() == [2, 3]


@pytest.mark.parametrize("seed", range(6))
def test_saturation_free_widths_never_saturate(seed):
    """The widths ``saturation_free_widths`` proves (which model.export suggests to "make
    clipping impossible"): random MLPs and residual nets at N = 4, 8 or 16, driven by random
    inputs, all +1, all -1 and random signs (every input spiking), never saturate at those
    widths and give the wide model's potentials exactly."""
    import dataclasses

    from rtl.golden import random_network, random_residual
    wide = FixedPointFormat(8, 30, 40)
    if seed % 3 == 2:
        qnet, _ = random_residual(seed, wide)
    else:
        qnet = random_network((16, 24, 10), (4, 8, 16)[seed % 3], wide, seed=seed,
                              threshold_range=(1, 60))
    dvdt_bits, v_bits = qnet.saturation_free_widths()
    narrow = dataclasses.replace(qnet, fmt=FixedPointFormat(8, dvdt_bits, v_bits))
    shape = qnet.network.input_shape
    gen = torch.Generator().manual_seed(seed)
    x = torch.cat([torch.rand((64, *shape), generator=gen) * 2 - 1, torch.ones((1, *shape)),
                   -torch.ones((1, *shape)), torch.sign(torch.rand((32, *shape), generator=gen)
                                                        - 0.5)])
    want, got = qnet.run(x), narrow.run(x)
    assert int(got.counts.saturations.sum()) == 0 and dvdt_bits < 30 and v_bits < 40
    assert torch.equal(got.output, want.output)
