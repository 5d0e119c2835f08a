"""The generated accelerator Verilog against the golden model, on Verilator and Icarus."""

import pytest
import torch

from model.convert import convert
from model.fixedpoint import FixedPointFormat
from model.quantize import quantize
from model.train import train
from rtl.golden import expected, random_network
from verif.runner import SIMULATORS, run_cocotb


@pytest.fixture(scope="module")
def digits_qnet():
    model, split, _ = train("mlp", epochs=40)
    qnet = quantize(convert(model, (64,)), split.x_train, 16)
    return qnet, split


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_tiny_networks(simulator):
    qnet = random_network((5, 7, 3), 6, FixedPointFormat(), seed=1)
    x = torch.rand(4, 5, generator=torch.Generator().manual_seed(9)) * 2 - 1
    run_cocotb(simulator, "tiny", qnet, x, lanes=2, backpressure=0.4)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_random_saturating_networks(simulator):
    qnet = random_network((9, 12, 6, 4), 8, FixedPointFormat(8, 9, 12), seed=5,
                          threshold_range=(1, 60))
    x = torch.rand(6, 9, generator=torch.Generator().manual_seed(3)) * 2 - 1
    want = expected(qnet, x)
    assert sum(w.counters["saturations"] for w in want) > 0
    assert any(step == 7 and neg for w in want for (_, step, _, neg) in w.spikes)
    run_cocotb(simulator, "saturating", qnet, x, lanes=4, backpressure=0.3)


@pytest.mark.parametrize("simulator, images", [("verilator", 200), ("icarus", 40)])
def test_digits_network(simulator, images, digits_qnet):
    qnet, split = digits_qnet
    report = run_cocotb(simulator, "digits", qnet, split.x_test[:images], lanes=8)
    assert report["images"] == images
