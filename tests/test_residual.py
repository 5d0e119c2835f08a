"""Residual junctions in the float model, every method (docs/residual.md)."""

import pytest
import torch
from torch import nn

from model.balance import balance
from model.convert import ann_forward, convert
from model.encoding import input_codes
from model.fixedpoint import FixedPointFormat
from model.network import Gain, Layer, Linear
from model.quantize import quantize
from model.simulate import _tracked, input_currents, layer_currents, run_layer, simulate
from model.train import train
from model.zoo import resnet20


class TinyResidual(nn.Module):
    def __init__(self):
        super().__init__()
        self.l0 = nn.Linear(4, 4, bias=False)
        self.l1 = nn.Linear(4, 4, bias=False)
        self.l2 = nn.Linear(4, 2, bias=False)
        self.relu0, self.relu1 = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        return self.l2(self.relu1(self.l1(self.relu0(self.l0(x))) + x))


def test_junction_adds_the_replayed_shortcut_in_the_junctions_units():
    torch.manual_seed(3)
    model = TinyResidual()
    net = convert(model, (4,))
    assert [len(layer.shortcuts) for layer in net.layers] == [0, 1, 0]
    assert net.layers[1].shortcuts[0][0] == -1 and net.windows() == 3
    n = 16
    x = torch.rand(32, 4) * 2 - 1
    balanced = balance(net, x, "tsc", n)
    th0, th1 = balanced.thresholds
    # closed form: blocks are rounded ReLUs; the junction adds the input codes rescaled by
    # s_input / s_layer0 = 1 / Vth0
    codes = input_codes(x, n).double()
    w0, w1, w2 = (layer.weight.double() for layer in balanced.layers)
    k0 = torch.clamp(torch.floor((codes @ w0.t() + th0 / 2) / th0), 0, n - 1)
    v1 = k0 @ w1.t() + codes / th0
    k1 = torch.clamp(torch.floor((v1 + th1 / 2) / th1), 0, n - 1)
    result = simulate(balanced, x, "tsc", n)
    assert torch.allclose(result.output.double(), k1 @ w2.t(), atol=1e-3)
    assert result.counts.latency == 3 * n


def test_resnet20_converts_and_runs_a_few_snn_steps():
    torch.manual_seed(0)
    net = convert(resnet20(), (3, 32, 32))
    assert len(net.layers) == 20 and sum(bool(layer.shortcuts) for layer in net.layers) == 9
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    result = simulate(balance(net, x, "tsc", 4, batch_size=2), x, "tsc", 4)
    assert result.output.shape == (2, 10) and result.counts.latency == 20 * 4


@pytest.mark.parametrize("method,coding", [("if", "poisson"), ("rmp", "constant"),
                                           ("tsc-shared", None), ("ttfs", None)])
def test_every_method_adds_the_shortcut_at_the_junction(method, coding):
    # The junction's input is W1 s0(t) + s_in(t) / Vth0 (TTFS: the tracked trains), at the
    # same window-relative step: rebuild it by hand from the recorded trains.
    torch.manual_seed(0)
    net = convert(TinyResidual(), (4,))
    x = torch.rand(64, 4) * 2 - 1
    generator = torch.Generator().manual_seed(1)
    balanced = balance(net, x, method, 16, input_coding=coding, generator=generator)
    result = simulate(balanced, x, method, 16, input_coding=coding, record=True,
                      generator=torch.Generator().manual_seed(2))
    s_in, s0, s1 = result.spikes
    tracked = _tracked if method == "ttfs" else (lambda t: t)
    junction = balanced.layers[1]
    extra = tracked(s_in).float() / balanced.thresholds[0]
    spikes = run_layer(method, junction, s0, junction.threshold, extra=extra)[0]
    assert torch.equal(spikes, s1)
    assert int((s1 != 0).sum()) > 0
    # the output integrates the junction's spikes (the shared schedule's V integrates dV/dt)
    current = layer_currents(balanced.layers[2], tracked(s1), False)
    if method == "tsc-shared":
        current = torch.cumsum(current, -1)
    assert torch.allclose(result.output, current.sum(-1), atol=1e-4)


def test_integer_junction_is_the_closed_form_with_the_shortcuts_integer_gain():
    torch.manual_seed(3)
    net = convert(TinyResidual(), (4,))
    n = 16
    x = torch.rand(64, 4) * 2 - 1
    qnet = quantize(net, x, n)
    w0, w1, w2 = (layer.weight for layer in qnet.network.layers)
    th0, th1 = qnet.network.thresholds
    ((source, path),) = qnet.network.layers[1].shortcuts
    assert source == -1 and isinstance(path.weighted, Gain) and path.weight.dtype == torch.int64
    # the gain carries s_input / s_layer0 = 1 / (Vth0 * scale0) in the junction's weight scale
    ratio = 1 / (th0 * qnet.scales[0])
    assert abs(int(path.weight) - ratio / qnet.scales[1]) <= 0.5
    assert int(w1.abs().max()) == 127 or int(path.weight.abs()) == 127
    # closed form of the integer windowed network without saturation
    codes = input_codes(x, n)
    k0 = torch.clamp(torch.div(codes @ w0.t() + th0 // 2, th0, rounding_mode="floor"), 0, n - 1)
    v1 = k0 @ w1.t() + codes * path.weight
    k1 = torch.clamp(torch.div(v1 + th1 // 2, th1, rounding_mode="floor"), 0, n - 1)
    result = qnet.run(x, record=True)
    assert int(result.counts.saturations.sum()) == 0
    assert torch.equal(result.output, k1 @ w2.t())
    # the replay of the input's spikes is counted as additions (one per spike: a gain has one
    # synapse per neuron), not as spikes
    spikes = [int((s != 0).sum()) for s in result.spikes]
    assert int(result.counts.spikes.sum()) == sum(spikes)
    assert int(result.counts.synaptic.sum()) == spikes[0] * 4 + spikes[1] * 4 + spikes[0] + \
        spikes[2] * 2


def test_integer_junction_saturates_in_event_order_main_input_first():
    # dV/dt so narrow that the order of additions matters: the model adds, step by step, the
    # main input's events and then the shortcut's (the order the hardware replays them in)
    fmt = FixedPointFormat(8, 8, 24)
    main = Layer("main", (Linear(torch.tensor([[100, 100]])),), (2,), (1,))
    shortcut = Layer("shortcut", (Gain(torch.tensor([-100])),), (1,), (1,))
    s_main = torch.tensor([[[1, 0], [1, -1]]], dtype=torch.int8)
    s_short = torch.tensor([[[1, 0]]], dtype=torch.int8)
    got = input_currents("tsc", main, s_main, fmt, shortcuts=((shortcut, s_short),))
    # step 0: 100 + 100 clips at 127, then -100: 27 (shortcut first would give 100)
    # step 1: the second main neuron's -1 event: 27 - 100 = -73
    assert got.tolist() == [[[27, -73]]]


def test_the_integer_model_refuses_a_float_shortcut():
    torch.manual_seed(0)
    net = convert(TinyResidual(), (4,))
    x = torch.rand(4, 4) * 2 - 1
    balanced = balance(net, x, "tsc", 8)
    with pytest.raises(ValueError, match="has no integer weight or gain"):
        simulate(balanced, x, "tsc", 8, fmt=FixedPointFormat())
    from model.quantize import IntegerNetwork
    with pytest.raises(ValueError, match="has no integer weight or gain"):
        IntegerNetwork(balanced, 8)


def test_residual_network_converts_as_faithfully_as_a_plain_one():
    # float at N = 64, and int8 at N = 32 (both with the percentile statistic): the residual
    # network keeps its agreement with the ANN at least as well as the plain one
    float_agreement, int8_agreement = {}, {}
    for arch in ("resnet", "plain"):
        model, split, _ = train(arch, epochs=20)
        net = convert(model, (1, 8, 8))
        x, calibration = split.x_test[:150], split.x_train[:300]
        ann = ann_forward(model, x).argmax(1)
        balanced = balance(net, calibration, "tsc", 64, statistic="percentile")
        result = simulate(balanced, x, "tsc", 64)
        float_agreement[arch] = float((result.prediction == ann).float().mean())
        qnet = quantize(net, calibration, 32, statistic="percentile")
        result = qnet.run(x)
        assert int(result.counts.saturations.sum()) == 0
        int8_agreement[arch] = float((result.prediction == ann).float().mean())
    assert float_agreement["resnet"] >= 0.97, float_agreement
    assert int8_agreement["resnet"] >= 0.96, int8_agreement
    assert int8_agreement["resnet"] >= int8_agreement["plain"] - 0.02, int8_agreement
