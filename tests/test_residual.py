"""Residual junctions in the float model, every method (docs/residual.md)."""

import pytest
import torch
from torch import nn

from model.balance import balance
from model.convert import ann_forward, convert
from model.encoding import input_codes
from model.fixedpoint import FixedPointFormat
from model.simulate import _tracked, layer_currents, run_layer, simulate
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


def test_residual_network_converts_as_faithfully_as_a_plain_one():
    agreement = {}
    for arch in ("resnet", "plain"):
        model, split, _ = train(arch, epochs=20)
        net = convert(model, (1, 8, 8))
        balanced = balance(net, split.x_train[:300], "tsc", 64, statistic="percentile")
        x = split.x_test[:150]
        result = simulate(balanced, x, "tsc", 64)
        agreement[arch] = float((result.prediction == ann_forward(model, x).argmax(1))
                                .float().mean())
    assert agreement["resnet"] >= 0.97, agreement
    assert agreement["resnet"] >= agreement["plain"] - 0.02, agreement


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


def test_residual_is_refused_where_it_is_not_implemented():
    torch.manual_seed(0)
    net = convert(TinyResidual(), (4,))
    x = torch.rand(4, 4) * 2 - 1
    balanced = balance(net, x, "tsc", 8)
    with pytest.raises(ValueError, match="not in the integer model"):
        simulate(balanced, x, "tsc", 8, fmt=FixedPointFormat())
    from model.quantize import IntegerNetwork
    with pytest.raises(ValueError, match="integer model does not implement residual"):
        IntegerNetwork(balanced, 8)
