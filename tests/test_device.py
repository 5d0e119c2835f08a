"""Every simulator keeps its tensors on the device of its inputs (``--device cuda``).

There is no GPU here, so the check runs the CPU model with torch's default device set to
``meta``: a tensor created without an explicit device lands on ``meta``, and the first
operation that mixes it with the CPU inputs raises.
"""

import pytest
import torch

from model.balance import balance
from model.convert import convert
from model.networks import build
from model.quantize import quantize
from model.simulate import simulate

CASES = [("tsc", None), ("tsc-shared", None), ("ttfs", None), ("if", "poisson"),
         ("rmp", "constant")]


@pytest.mark.parametrize("arch,shape", [("cnn", (1, 8, 8)), ("resnet", (1, 8, 8))])
@pytest.mark.parametrize("method,coding", CASES)
def test_no_tensor_is_created_on_the_default_device(arch, shape, method, coding):
    torch.manual_seed(0)
    network = convert(build(arch)[0], shape)
    x = torch.rand(6, *shape) * 2 - 1
    with torch.device("meta"):
        balanced = balance(network, x, method, 8, input_coding=coding,
                           generator=torch.Generator().manual_seed(0))
        result = simulate(balanced, x, method, 8, input_coding=coding, record=True,
                          generator=torch.Generator().manual_seed(0))
    assert result.output.device.type == "cpu"
    assert all(train.device.type == "cpu" for train in result.spikes)
    assert result.counts.synaptic.device.type == "cpu"


def test_the_integer_model_keeps_to_its_inputs_device_too():
    torch.manual_seed(0)
    network = convert(build("cnn")[0], (1, 8, 8))
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    with torch.device("meta"):
        result = quantize(network, x, 8).run(x, record=True)
    assert result.output.device.type == "cpu" and result.output.dtype == torch.int64


def test_a_network_moves_with_its_shortcuts():
    network = convert(build("resnet")[0], (1, 8, 8)).to("meta")
    for layer in network.layers:
        assert layer.weight.device.type == "meta"
        for _, path in layer.shortcuts:
            assert all(op.weight.device.type == "meta" for op in path.ops
                       if hasattr(op, "weight"))
