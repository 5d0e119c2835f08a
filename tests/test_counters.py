"""The event counters' bounds (:attr:`rtl.config.AcceleratorConfig.counter_bounds`), which
size the accelerator's counters so that they never wrap: no input reaches past them, on
fully connected, convolutional and residual networks."""

import pytest
import torch
from amaranth.hdl import Fragment

from model.fixedpoint import FixedPointFormat
from rtl.accelerator import TSCAccelerator
from rtl.config import AcceleratorConfig, LayerGeometry
from rtl.golden import expected, random_convolutional, random_network, random_residual


def test_bounds_of_a_dense_network():
    config = AcceleratorConfig(4, (5, 3), 8)
    assert config.counter_bounds == {
        "synaptic": 2 * 4 * 5 + 2 * 5 * 3, "weight_reads": 70, "membrane": 2 * 8 * 8,
        "saturations": 70 + 128, "spikes_0": 8, "spikes_1": 10}


def _reach_by_convolution(geometry):
    """Targets of each source neuron, counted by pooling and convolving a one-hot input with
    ones, summed over the source neurons."""
    channels, height, width = geometry.source
    total = 0
    for y in range(height):
        for x in range(width):
            image = torch.zeros(1, 1, height, width)
            image[0, 0, y, x] = 1
            pooled = torch.nn.functional.avg_pool2d(image, geometry.pool)
            out = torch.nn.functional.conv2d(pooled, torch.ones(1, 1, *geometry.kernel),
                                             stride=geometry.stride, padding=geometry.padding)
            total += int((out != 0).sum()) * channels
    return total * geometry.out[0]


@pytest.mark.parametrize("seed", range(4))
def test_each_path_reaches_what_its_kernel_reaches(seed):
    # convolutions with padding, strides and pooling, dense layers and a residual's shortcuts
    qnet = random_convolutional(seed)[0] if seed % 2 else \
        random_residual(seed, FixedPointFormat())[0]
    config = AcceleratorConfig.from_network(qnet, 2)
    for number, path in enumerate(config.paths):
        want = path.geometry.inputs if path.gain else _reach_by_convolution(path.geometry)
        assert config.reach(number) == want, number


def test_a_strided_kernel_reaches_fewer_at_its_edges():
    # 5x5 source, 3x3 kernel, stride 2 (2x2 out): the edge pixels reach one window per axis,
    # the middle ones two, so the sum is below count x the most
    config = AcceleratorConfig(25, (8, 3), 4, geometry=(
        LayerGeometry((1, 5, 5), (2, 2, 2), kernel=(3, 3), stride=2),
        LayerGeometry((2, 2, 2), (3, 1, 1), kernel=(2, 2))))
    assert config.reach(0) == 2 * (1 + 1 + 2 + 1 + 1) ** 2 == _reach_by_convolution(
        config.shapes[0])
    assert config.reach(0) < 25 * 2 * 2 * 2


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
