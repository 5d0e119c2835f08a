"""The generated accelerator Verilog against the golden model, on Verilator and Icarus."""

import pytest
import torch

from model.convert import convert
from model.fixedpoint import FixedPointFormat
from model.quantize import quantize
from model.train import train
from rtl.config import SPRAM_WORDS, AcceleratorConfig
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


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("lanes", [1, 4])
def test_weights_in_spram(simulator, lanes):
    # SB_SPRAM256KA with Yosys's model: two lanes per 16-bit word (lanes=1 uses the low byte
    # only), nibble-masked writes of one lane's byte, loaded through i_load
    qnet = random_network((9, 12, 6, 4), 8, FixedPointFormat(8, 9, 12), seed=7,
                          threshold_range=(1, 60))
    x = torch.rand(5, 9, generator=torch.Generator().manual_seed(4)) * 2 - 1
    run_cocotb(simulator, f"spram{lanes}", qnet, x, lanes=lanes, backpressure=0.3,
               weight_memory="spram")


def test_weights_in_two_spram_banks():
    # 64-510-10 on 2 lanes: 18,870 weight words per lane, more than one SPRAM's 16K, so the
    # columns continue in a second SPRAM; the 5-word rows of hidden neuron 12 straddle the
    # two, so a burst reads across the boundary (the bank select travels with the read)
    qnet = random_network((64, 510, 10), 16, FixedPointFormat(), seed=3)
    config = AcceleratorConfig.from_network(qnet, 2, "spram")
    assert config.weight_depth > SPRAM_WORDS and config.spram_blocks == 2
    x = torch.rand(3, 64, generator=torch.Generator().manual_seed(5)) * 2 - 1
    run_cocotb("verilator", "spram-banks", qnet, x, lanes=2, weight_memory="spram")
