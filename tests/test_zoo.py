"""The paper's networks: structure, a few training steps, and VGG-16's conversion."""

import pytest
import torch
from torch import nn

from model.balance import balance
from model.convert import ann_forward, convert
from model.simulate import simulate
from model.zoo import ResidualBlock, resnet20, resnet34, vgg16


def test_vgg16_structure_follows_the_paper():
    model = vgg16()
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    linears = [m for m in model if isinstance(m, nn.Linear)]
    assert len(convs) == 13 and len(linears) == 3
    assert all(m.bias is None for m in convs + linears)
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.MaxPool2d)) for m in model)
    items = list(model)
    after_relu = [type(items[i + 1]) for i, m in enumerate(items[:-1]) if isinstance(m, nn.ReLU)]
    # a dropout after every ReLU except the five followed by pooling
    assert after_relu.count(nn.AvgPool2d) == 5 and after_relu.count(nn.Dropout) == 10
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnets_structure_and_shapes():
    r20 = resnet20()
    blocks = [m for m in r20.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 9
    weighted = [m for m in r20.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    threes = [m for m in weighted if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert len(threes) + 1 == 20  # 19 3x3 convolutions and the classifier
    assert all(m.bias is None for m in weighted)
    # dropout only inside the residual paths
    for module in r20.modules():
        if isinstance(module, nn.Dropout):
            assert any(module in list(b.path) for b in blocks)
    assert r20(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert resnet34(width=0.125)(torch.randn(1, 3, 64, 64)).shape == (1, 1000)


def test_a_few_training_steps_reduce_the_loss():
    torch.manual_seed(0)
    from model.train_zoo import train_steps
    x, y = torch.randn(8, 3, 32, 32).clamp(-1, 1), torch.arange(8)
    losses = train_steps(resnet20(width=0.5, dropout=0.0), x, y, steps=30, batch_size=8,
                         lr=0.05)
    assert sum(losses[-5:]) < sum(losses[:5])  # it learns the eight images


def test_vgg16_converts_and_runs_a_few_snn_steps():
    torch.manual_seed(0)
    model = vgg16()
    x = (torch.rand(2, 3, 32, 32) * 2 - 1)
    net = convert(model, (3, 32, 32))
    assert len(net.layers) == 16
    balanced = balance(net, x, "tsc", 4, batch_size=2)
    result = simulate(balanced, x, "tsc", 4)
    assert result.output.shape == (2, 10) and result.counts.latency == 16 * 4



def _network_as_ann(net, x):
    """The converted network evaluated as the ANN it stands for: each layer's ops on its
    predecessor, plus its shortcuts on their sources, then ReLU (none after the output)."""
    outputs = {-1: x}
    for index, layer in enumerate(net.layers):
        current = layer.current(outputs[index - 1])
        for source, path in layer.shortcuts:
            current = current + path.current(outputs[source])
        outputs[index] = current if index == len(net.layers) - 1 else torch.relu(current)
    return outputs[len(net.layers) - 1]


@pytest.mark.parametrize("build", [vgg16, lambda: resnet20(width=0.5)],
                         ids=["vgg16", "resnet20"])
def test_the_paper_networks_convert_to_the_same_function(build):
    # every weight, op, shortcut and their order carried over: the converted network as an
    # ANN computes what the torch model computes
    torch.manual_seed(1)
    model = build().eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    net = convert(model, (3, 32, 32))
    with torch.no_grad():
        want = ann_forward(model, x)
        got = _network_as_ann(net, x)
    assert want.abs().max() > 0
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()))
