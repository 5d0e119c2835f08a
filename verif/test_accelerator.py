"""The generated accelerator Verilog against the golden model, on Verilator and Icarus."""

import pytest
import torch

from model.convert import convert
from model.fixedpoint import FixedPointFormat
from model.quantize import quantize
from model.train import train
from rtl.config import SPRAM_WORDS, AcceleratorConfig
from rtl.golden import (expected, random_convolutional, random_network, random_residual,
                        randomized)
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


@pytest.mark.parametrize("simulator, images", [("verilator", 100), ("icarus", 16)])
def test_digits_network(simulator, images, digits_qnet):
    qnet, split = digits_qnet
    report = run_cocotb(simulator, "digits", qnet, split.x_test[:images], lanes=8)
    assert report["images"] == images


@pytest.fixture(scope="module")
def digits_cnn():
    model, split, _ = train("cnn", epochs=40)
    qnet = quantize(convert(model, (1, 8, 8)), split.x_train, 16)
    return qnet, split


@pytest.mark.parametrize("simulator, images", [("verilator", None), ("icarus", 1)])
def test_digits_cnn(simulator, images, digits_cnn):
    # 3x3 convolutions with padding, sum pooling before the second convolution and before
    # the classifier (flatten, then linear): about 72k cycles per image at 4 lanes. Verilator
    # runs the whole test split (360 images) with the event-driven monitor.
    qnet, split = digits_cnn
    x = split.x_test[:images]
    report = run_cocotb(simulator, "digits-cnn", qnet, x, lanes=4,
                        weight_memory="spram" if simulator == "verilator" else "block")
    assert report["images"] == len(x)


@pytest.fixture(scope="module")
def digits_residual():
    networks = {}
    for arch in ("resnet", "plain"):
        model, split, _ = train(arch, epochs=5)  # trained enough to spike like a real one
        networks[arch] = quantize(convert(model, (1, 8, 8)), split.x_train[:300], 32,
                                  statistic="percentile")
    return networks, split


@pytest.mark.slow
@pytest.mark.parametrize("arch, images", [("resnet", 2), ("plain", 1)])
def test_digits_residual(arch, images, digits_residual):
    # resnet: an identity junction (gain) and a downsampling one (pooled 1x1 convolution),
    # about 220k cycles per image at 4 lanes (Icarus runs the random residual networks)
    networks, split = digits_residual
    report = run_cocotb("verilator", f"digits-{arch}", networks[arch], split.x_test[:images],
                        lanes=4)
    assert report["images"] == images


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_random_residual_networks(simulator):
    saturated = 0
    for seed in range(3 if simulator == "verilator" else 2):
        fmt = (FixedPointFormat(8, 10, 14), FixedPointFormat())[seed % 2]
        qnet, x = random_residual(seed + 20, fmt)
        saturated += sum(w.counters["saturations"] for w in expected(qnet, x))
        run_cocotb(simulator, f"residual{seed}", qnet, x, lanes=(1, 2, 4)[seed % 3],
                   backpressure=0.3)
    assert saturated > 0


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_random_convolutional_networks(simulator):
    saturated = 0
    for seed in range(3 if simulator == "verilator" else 2):
        qnet, x = random_convolutional(seed)
        saturated += sum(w.counters["saturations"] for w in expected(qnet, x))
        lanes = (1, 2, 4)[seed % 3]
        run_cocotb(simulator, f"conv{seed}", qnet, x, lanes=lanes, backpressure=0.3)
    assert saturated > 0  # the random formats reach saturation: the event order is checked


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


@pytest.mark.slow
def test_reduced_width_resnet20():
    # a CIFAR-shaped ResNet-20 at a quarter of its width (4, 8 and 16 channels; 9 junctions:
    # 7 identity gains and 2 pooled 1x1 projections) with random int8 weights, on 32x32x3
    # inputs, N = 8: every layer down to the 19th spikes, so junctions at depth are checked
    # (about 840k cycles per image at 4 lanes)
    from model.zoo import resnet20
    qnet = randomized(resnet20(width=0.25).eval(), (3, 32, 32), 8, FixedPointFormat(), seed=0,
                      threshold_range=(50, 500))
    x = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    config = AcceleratorConfig.from_network(qnet, 4)
    assert len(config.shortcuts) == 9 and sum(p.gain for p in config.shortcuts) == 7
    trains = qnet.run(x, record=True).spikes
    assert all((train != 0).any() for train in trains)
    report = run_cocotb("verilator", "resnet20-quarter", qnet, x, lanes=4)
    assert report["images"] == 2
