"""The event counters' bounds (:attr:`rtl.config.AcceleratorConfig.counter_bounds`), which
size the accelerator's counters so that they never wrap: no input reaches past them, on
fully connected, convolutional and residual networks."""

import pytest
import torch
from amaranth.hdl import Fragment

from model.fixedpoint import FixedPointFormat
from rtl.accelerator import TSCAccelerator
from rtl.config import AcceleratorConfig, InputPath, LayerGeometry
from rtl.golden import expected, random_convolutional, random_network, random_residual


def test_bounds_of_a_dense_network():
    config = AcceleratorConfig(4, (5, 3), 8)
    assert config.counter_bounds == {
        "synaptic": 2 * 4 * 5 + 2 * 5 * 3, "weight_reads": 70, "membrane": 2 * 8 * 8,
        "saturations": 70 + 128, "spikes_0": 8, "spikes_1": 10}


def test_a_convolution_reaches_its_kernel_and_a_gain_one_target():
    conv = InputPath(0, -1, LayerGeometry((1, 5, 5), (2, 5, 5), kernel=(3, 3), padding=1))
    strided = InputPath(0, -1, LayerGeometry((1, 5, 5), (2, 2, 2), kernel=(3, 3), stride=2))
    gain = InputPath(1, 0, LayerGeometry((2, 4, 4), (2, 2, 2), pool=2), gain=True)
    assert AcceleratorConfig._targets_per_source(conv) == 2 * 3 * 3
    assert AcceleratorConfig._targets_per_source(strided) == 2 * 2 * 2
    assert AcceleratorConfig._targets_per_source(gain) == 1


def _adversarial(shape, gen):
    """Random inputs, every input at 1/2 (two spikes each), all +1, all -1, random signs."""
    return torch.cat([torch.rand((8, *shape), generator=gen) * 2 - 1,
                      torch.full((1, *shape), 0.5), torch.ones((1, *shape)),
                      -torch.ones((1, *shape)),
                      torch.sign(torch.rand((8, *shape), generator=gen) - 0.5)])


@pytest.mark.parametrize("seed", range(6))
def test_no_input_counts_past_the_bounds(seed):
    if seed % 3 == 0:
        qnet = random_network((24, 30, 20, 6), 8, FixedPointFormat(8, 10, 12), seed=seed,
                              threshold_range=(1, 5))           # low thresholds: many spikes
    elif seed % 3 == 1:
        qnet, _ = random_convolutional(seed)
    else:
        qnet, _ = random_residual(seed, FixedPointFormat())
    config = AcceleratorConfig.from_network(qnet, 2)
    bounds = config.counter_bounds
    gen = torch.Generator().manual_seed(seed)
    runs = expected(qnet, _adversarial(qnet.network.input_shape, gen))
    for run in runs:
        for name, value in run.counters.items():
            assert value <= bounds[name], (name, value, bounds[name])
    assert runs[8].counters["spikes_0"] == bounds["spikes_0"]   # every input spikes twice
    assert max(r.counters["saturations"] for r in runs) > 0 or seed % 3 == 2
    dut = TSCAccelerator(config)
    Fragment.get(dut, None)                                     # elaborates: uses it
    for name, bound in bounds.items():
        assert getattr(dut, name).shape().width == bound.bit_length(), name
