"""The accelerator in amaranth.sim against the integer golden model."""

import random

import pytest
import torch
from amaranth.sim import Simulator
from torch import nn

from model.convert import convert
from model.fixedpoint import FixedPointFormat
from model.quantize import IntegerNetwork
from rtl.accelerator import TSCAccelerator
from rtl.config import AcceleratorConfig
from rtl.golden import expected


def random_network(sizes, steps, fmt, seed, weight_max=127, threshold_range=(1, 400)):
    gen = torch.Generator().manual_seed(seed)
    mods = []
    for a, b in zip(sizes, sizes[1:]):
        mods += [nn.Linear(a, b, bias=False), nn.ReLU()]
    net = convert(nn.Sequential(*mods[:-1]), (sizes[0],))
    layers = tuple(layer.with_weight(torch.randint(-weight_max, weight_max + 1,
                                                   layer.weight.shape, generator=gen))
                   for layer in net.layers)
    thresholds = torch.randint(*threshold_range, (len(layers) - 1,), generator=gen).tolist()
    net = type(net)(layers, net.input_shape).with_thresholds(thresholds)
    return IntegerNetwork(net, steps, fmt)


def run_accelerator(dut, images, *, backpressure=0.0, seed=0):
    """Stream each image's codes in; collect spikes, potentials, class and counters."""
    rng = random.Random(seed)
    results = []

    async def testbench(ctx):
        for image in images:
            for code in image:
                ctx.set(dut.i_code.payload, code)
                ctx.set(dut.i_code.valid, 1)
                await ctx.tick().until(dut.i_code.ready)
            ctx.set(dut.i_code.valid, 0)
            spikes, potentials = [], []
            while True:
                ready_spike = rng.random() >= backpressure
                ready_pot = rng.random() >= backpressure
                ctx.set(dut.o_spike.ready, ready_spike)
                ctx.set(dut.o_potential.ready, ready_pot)
                if ctx.get(dut.o_spike.valid) and ready_spike:
                    p = ctx.get(dut.o_spike.payload)
                    spikes.append((p.layer, p.step, p.index, p.negative))
                if ctx.get(dut.o_potential.valid) and ready_pot:
                    p = ctx.get(dut.o_potential.payload)
                    potentials.append(p.value)
                    if p.last:
                        await ctx.tick()
                        break
                await ctx.tick()
            counters = {name: ctx.get(getattr(dut, name)) for name in
                        ("synaptic", "membrane", "weight_reads", "saturations", "cycles")}
            for layer in range(dut.config.hidden + 1):
                counters[f"spikes_{layer}"] = ctx.get(getattr(dut, f"spikes_{layer}"))
            results.append((spikes, potentials, ctx.get(dut.class_index), counters,
                            ctx.get(dut.done)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return results


def check(qnet, x, lanes, backpressure=0.0):
    dut = TSCAccelerator(AcceleratorConfig.from_network(qnet, lanes), qnet)
    want = expected(qnet, x)
    got = run_accelerator(dut, [w.codes for w in want], backpressure=backpressure)
    for w, (spikes, potentials, class_index, counters, done) in zip(want, got):
        assert spikes == w.spikes
        assert potentials == w.potentials
        assert class_index == w.class_index and done
        for name, value in w.counters.items():
            assert counters[name] == value, name
    return got


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_tiny_random_network_matches_golden_model(lanes):
    qnet = random_network((5, 7, 3), 6, FixedPointFormat(8, 16, 24), seed=lanes)
    x = torch.rand(3, 5, generator=torch.Generator().manual_seed(9)) * 2 - 1
    check(qnet, x, lanes)


def test_saturation_and_window_cap_match_golden_model():
    fmt = FixedPointFormat(8, 9, 12)
    qnet = random_network((6, 5, 4), 8, fmt, seed=3, threshold_range=(1, 40))
    x = torch.rand(4, 6, generator=torch.Generator().manual_seed(4)) * 2 - 1
    want = expected(qnet, x)
    assert sum(w.counters["saturations"] for w in want) > 0
    assert any(step == 7 and neg for w in want for (_, step, _, neg) in w.spikes)
    check(qnet, x, 2)


def test_random_backpressure_changes_nothing():
    qnet = random_network((4, 6, 3), 5, FixedPointFormat(), seed=11)
    x = torch.rand(2, 4, generator=torch.Generator().manual_seed(2)) * 2 - 1
    check(qnet, x, 2, backpressure=0.5)
