"""The TSC neuron's rules on hand-made cases: block lengths, spike counts, saturation."""

import torch
from torch import nn

from model.convert import convert
from model.fixedpoint import FixedPointFormat
from model.simulate import simulate, tsc_fire


def test_fire_block_lengths_by_hand():
    threshold, steps = 10, 6
    v = torch.tensor([[0, 9, 10, 19, 35, 1000]], dtype=torch.int64)
    spikes, subtractions = tsc_fire(v, threshold, steps)
    blocks = torch.cumsum(spikes, -1).sum(-1)
    # min(floor(V / Vth), N - 1)
    assert blocks.tolist() == [[0, 0, 1, 1, 3, 5]]
    assert spikes[0, 4].tolist() == [1, 0, 0, -1, 0, 0]
    assert spikes[0, 5].tolist() == [1, 0, 0, 0, 0, -1]  # capped: -1 at the last step
    assert subtractions.tolist() == [10]


def test_at_most_one_positive_and_one_negative_spike(generator):
    v = torch.randint(-500, 5000, (64, 200), generator=generator)
    spikes, _ = tsc_fire(v, 37, 16)
    assert (spikes == 1).sum(-1).max() <= 1 and (spikes == -1).sum(-1).max() <= 1
    # every +1 is closed by a -1 within the window
    assert torch.equal((spikes == 1).sum(-1), (spikes == -1).sum(-1))


def _one_layer(weight):
    model = nn.Sequential(nn.Linear(weight.shape[1], weight.shape[0], bias=False))
    model[0].weight.data = weight.double().float()
    net = convert(model, (weight.shape[1],))
    return net.with_thresholds([])


def _two_layer(w1, w2, threshold):
    model = nn.Sequential(nn.Linear(w1.shape[1], w1.shape[0], bias=False), nn.ReLU(),
                          nn.Linear(w2.shape[1], w2.shape[0], bias=False))
    model[0].weight.data, model[2].weight.data = w1.float(), w2.float()
    net = convert(model, (w1.shape[1],))
    layers = tuple(layer.with_weight(w.to(torch.int64)) for layer, w in zip(net.layers, (w1, w2)))
    return type(net)(layers, net.input_shape).with_thresholds([threshold])


def test_nearest_rounding_starts_v_at_half_threshold():
    # input code 3 (x = 3/15 at N = 16); w = 5: V = 15; Vth = 10.
    net = _two_layer(torch.tensor([[5]]), torch.tensor([[1]]), 10)
    x = torch.tensor([[3 / 15]])
    fmt = FixedPointFormat()
    floor = simulate(net, x, "tsc", 16, fmt=fmt, rounding="floor", record=True)
    nearest = simulate(net, x, "tsc", 16, fmt=fmt, rounding="nearest", record=True)
    assert floor.output.tolist() == [[1]]     # floor(15 / 10)
    assert nearest.output.tolist() == [[2]]   # floor((15 + 5) / 10)


def test_v_saturates_and_counts():
    fmt = FixedPointFormat(8, 16, 8)  # V in [-128, 127]
    net = _one_layer(torch.tensor([[100], [-100]]))
    result = simulate(net, torch.tensor([[1.0]]), "tsc", 4, fmt=fmt)
    # dV/dt = +-100 for 3 steps: V = 100, sat(200) = 127, 127; and -100, -128, -128.
    assert result.output.tolist() == [[127, -128]]
    assert result.counts.saturations.tolist() == [4]


def test_dvdt_saturates_in_event_order():
    fmt = FixedPointFormat(8, 8, 24)  # dV/dt in [-128, 127]
    net = _one_layer(torch.tensor([[100, 100, -100]]))
    # All three inputs on at step 0 for 3 steps (code 3 at N = 4), one input on for 1 step.
    x = torch.tensor([[1.0, 1.0, 1 / 3]])
    result = simulate(net, x, "tsc", 4, fmt=fmt)
    # step 0: sat(0+100)=100, sat(200)=127, 127-100=27 -> V=27
    # step 1: input 2 ends: 27+100=127 -> V=154; step 2: V=281; step 3: inputs 0, 1 end:
    #   127-100=27, 27-100=-73 -> V=208
    assert result.output.tolist() == [[208]]
    assert result.counts.saturations.tolist() == [1]


def test_ordered_path_equals_fast_path_when_no_saturation_is_possible(generator):
    fmt_wide = FixedPointFormat(8, 24, 32)
    fmt_forced = FixedPointFormat(8, 8, 32)  # forces the ordered-event path
    weight = torch.randint(-3, 4, (12, 20), generator=generator)
    net = _one_layer(weight)
    x = torch.rand(16, 20, generator=generator) * 2 - 1
    # |dV/dt| <= sum|w| <= 60 < 127: the ordered path must clip nothing and agree exactly.
    assert int(weight.abs().sum(1).max()) <= 127
    fast = simulate(net, x, "tsc", 8, fmt=fmt_wide)
    ordered = simulate(net, x, "tsc", 8, fmt=fmt_forced)
    assert torch.equal(fast.output, ordered.output)
    assert ordered.counts.saturations.sum() == 0


def test_shared_schedule_fires_at_most_two_spikes(trained_mlp):
    from model.balance import balance
    _, split, net, _ = trained_mlp
    balanced = balance(net, split.x_train[:200], "tsc-shared", 32)
    result = simulate(balanced, split.x_test[:50], "tsc-shared", 32, record=True)
    hidden = result.spikes[1]
    assert (hidden == 1).sum(-1).max() <= 1 and (hidden == -1).sum(-1).max() <= 1
