# amaranth: UnusedElaboratable=no
"""The accelerator in amaranth.sim against the integer golden model."""

import dataclasses
import random

import pytest
import torch
from amaranth.sim import Simulator

from model.fixedpoint import FixedPointFormat
from rtl.accelerator import TSCAccelerator
from rtl.build import estimate_cycles, scan_activity
from rtl.config import AcceleratorConfig
from rtl.golden import expected, random_network, random_residual


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


def check(qnet, x, lanes, backpressure=0.0, chunk_neurons=None, run_pixels=None):
    config = AcceleratorConfig.from_network(qnet, lanes)
    if chunk_neurons is not None:
        config = dataclasses.replace(config, chunk_neurons=chunk_neurons)
    if run_pixels is not None:
        config = dataclasses.replace(config, run_pixels=run_pixels)
    dut = TSCAccelerator(config, qnet)
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


@pytest.mark.parametrize("seed", [0, 4, 6, 10])
def test_random_residual_networks_match_golden_model(seed):
    # junctions from the input, from one and two layers back, identity (gain) and pooled
    # 1x1 shortcuts; seeds 6 and 10 saturate dV/dt, so the replay order is checked
    fmt = (FixedPointFormat(8, 10, 14), FixedPointFormat())[seed % 2 == 1]
    qnet, x = random_residual(seed, fmt, images=2)
    assert qnet.network.residual
    check(qnet, x, (1, 2, 4)[seed % 3], backpressure=0.3)


@pytest.mark.parametrize("lanes, chunk_neurons, run_pixels",
                         [(1, 2, 1), (2, 1, 2), (2, 4, 8), (4, 8, 4)])
def test_scan_chunks_and_runs_of_every_size_skip_exactly(lanes, chunk_neurons, run_pixels):
    # 7 channels: chunks of one word, of two with a short last one, and of a whole pixel;
    # runs of one pixel (none), two, and four (a whole row of 4: eight is capped there);
    # seed 10 saturates, and its junctions replay sources whose chunks are skipped
    qnet, x = random_residual(10, FixedPointFormat(8, 10, 14), images=2, channels=7)
    config = dataclasses.replace(AcceleratorConfig.from_network(qnet, lanes),
                                 chunk_neurons=chunk_neurons, run_pixels=run_pixels)
    assert config.runs == (run_pixels > 1), config.source_run_pixels
    check(qnet, x, lanes, backpressure=0.2, chunk_neurons=chunk_neurons,
          run_pixels=run_pixels)


@pytest.mark.parametrize("seed, lanes", [(4, 1), (10, 2), (11, 4)])
def test_cycle_estimate_is_within_ten_percent_of_the_counter(seed, lanes):
    qnet, x = random_residual(seed, FixedPointFormat(), images=3)
    got = check(qnet, x, lanes)
    measured = sum(counters["cycles"] for _, _, _, counters, _ in got) / len(got)
    config = AcceleratorConfig.from_network(qnet, lanes)
    estimate = estimate_cycles(config, scan_activity(qnet, x))
    assert 0.9 < estimate / measured < 1.1, (estimate, measured)


# Accumulators narrower than a weight (dV/dt 4 or 6 bits) or than each other (V narrower
# than dV/dt): the exact sum is clamped, as in the golden model, and never wraps.
@pytest.mark.parametrize("fmt, steps, lanes", [
    (FixedPointFormat(8, 4, 8), 4, 1), (FixedPointFormat(8, 12, 6), 4, 2),
    (FixedPointFormat(8, 6, 5), 8, 1), (FixedPointFormat(8, 9, 7), 4, 2),
    (FixedPointFormat(8, 5, 12), 16, 4)])
def test_narrow_formats_saturate_like_the_golden_model(fmt, steps, lanes):
    qnet = random_network((6, 5, 4), steps, fmt, seed=steps + lanes,
                          threshold_range=(1, min(40, fmt.threshold_max)))
    x = torch.rand(6, 6, generator=torch.Generator().manual_seed(lanes)) * 2 - 1
    want = expected(qnet, x)
    assert sum(w.counters["saturations"] for w in want) > 0
    check(qnet, x, lanes)


def test_saturation_and_window_cap_match_golden_model():
    fmt = FixedPointFormat(8, 9, 12)
    qnet = random_network((6, 5, 4), 8, fmt, seed=3, threshold_range=(1, 40))
    x = torch.rand(4, 6, generator=torch.Generator().manual_seed(4)) * 2 - 1
    want = expected(qnet, x)
    assert sum(w.counters["saturations"] for w in want) > 0
    assert any(step == 7 and neg for w in want for (_, step, _, neg) in w.spikes)
    check(qnet, x, 2)


@pytest.mark.parametrize("lanes", [1, 2])
def test_a_single_input_network_matches_golden_model(lanes):
    # every code is the image's last: the is-last flag starts set and stays set
    qnet = random_network((1, 3, 2), 6, FixedPointFormat(), seed=21, threshold_range=(1, 60))
    x = torch.tensor([[0.9], [-0.7], [0.3]])
    check(qnet, x, lanes)


def test_a_bad_code_discards_the_partial_image():
    qnet = random_network((5, 7, 3), 6, FixedPointFormat(), seed=4)
    x = torch.rand(2, 5, generator=torch.Generator().manual_seed(6)) * 2 - 1
    want = expected(qnet, x)
    dut = TSCAccelerator(AcceleratorConfig.from_network(qnet, 2), qnet)
    # three codes of the first image, a code outside [-(N-1), N-1], then a whole image
    got = run_accelerator(dut, [want[0].codes[:3] + [7] + want[1].codes])
    spikes, potentials, class_index, _, done = got[0]
    assert spikes == want[1].spikes and potentials == want[1].potentials
    assert class_index == want[1].class_index and done


def test_random_backpressure_changes_nothing():
    qnet = random_network((4, 6, 3), 5, FixedPointFormat(), seed=11)
    x = torch.rand(2, 4, generator=torch.Generator().manual_seed(2)) * 2 - 1
    check(qnet, x, 2, backpressure=0.5)


def _load_and_run(dut, words, codes):
    """Write ``words`` through the load port, then run one image; return its potentials and
    the load error count."""
    out = {}

    async def testbench(ctx):
        for address, value in words:
            ctx.set(dut.i_load.payload.address, address)
            ctx.set(dut.i_load.payload.value, value)
            ctx.set(dut.i_load.valid, 1)
            await ctx.tick().until(dut.i_load.ready)
        ctx.set(dut.i_load.valid, 0)
        out["load_errors"] = ctx.get(dut.load_errors)
        ctx.set(dut.o_spike.ready, 1)
        ctx.set(dut.o_potential.ready, 1)
        for code in codes:
            ctx.set(dut.i_code.payload, code)
            ctx.set(dut.i_code.valid, 1)
            await ctx.tick().until(dut.i_code.ready)
        ctx.set(dut.i_code.valid, 0)
        potentials = []
        while True:
            if ctx.get(dut.o_potential.valid):
                potentials.append(ctx.get(dut.o_potential.payload.value))
                if ctx.get(dut.o_potential.payload.last):
                    break
            await ctx.tick()
        out["potentials"] = potentials

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return out


def test_load_port_loads_a_network_and_refuses_bad_words():
    from rtl.config import load_words
    qnet = random_network((4, 5, 3), 5, FixedPointFormat(), seed=21)
    config = AcceleratorConfig.from_network(qnet, 2)
    x = torch.rand(1, 4, generator=torch.Generator().manual_seed(5)) * 2 - 1
    want = expected(qnet, x)[0]
    top = config.weight_depth * config.lanes
    bad = [(top + config.hidden, 5),       # address past the thresholds
           (0, 200), (1, -128),            # weights outside [-127, 127]
           (top, 0)]                       # threshold below 1
    # an empty accelerator (zero weights) loaded through the port, bad words in between
    dut = TSCAccelerator(config)
    words = load_words(config, qnet)
    out = _load_and_run(dut, words[:3] + bad + words[3:], want.codes)
    assert out["load_errors"] == len(bad)
    assert out["potentials"] == want.potentials


@pytest.mark.parametrize("fmt", [FixedPointFormat(8, 4, 5), FixedPointFormat(8, 12, 8)])
def test_the_load_port_carries_whole_weights_when_v_is_narrower_than_a_weight(fmt):
    # the port's value field once had V's width: with V of 5 bits a loaded weight of -39
    # became -7 (found by the random regression, verif/regression.py)
    from rtl.config import load_words
    qnet = random_network((6, 7, 3), 4, fmt, seed=2, threshold_range=(1, 15))
    assert max(int(layer.weight.abs().max()) for layer in qnet.network.layers) > 31
    config = AcceleratorConfig.from_network(qnet, 2)
    x = torch.rand(1, 6, generator=torch.Generator().manual_seed(1)) * 2 - 1
    want = expected(qnet, x)[0]
    top = config.weight_depth * config.lanes
    bad = [(0, 128), (1, -200), (top, fmt.threshold_max + 1), (top, 0)]
    out = _load_and_run(TSCAccelerator(config), bad + load_words(config, qnet), want.codes)
    assert out["load_errors"] == len(bad) and out["potentials"] == want.potentials


def test_config_refuses_what_it_cannot_run():
    from model.network import Network
    from rtl.config import NetworkMismatch
    qnet = random_network((4, 5, 3), 5, FixedPointFormat(), seed=2)
    other = random_network((4, 6, 3), 5, FixedPointFormat(), seed=2)
    config = AcceleratorConfig.from_network(qnet, 2)
    with pytest.raises(NetworkMismatch, match=r"layer 0 has 6 neurons, the accelerator 5 \(\+1\)"):
        config.check_network(other)
    with pytest.raises(ValueError, match="lanes must be a power of two from 1 to 64, not 3"):
        AcceleratorConfig(4, (5, 3), 5, lanes=3)
    with pytest.raises(TypeError, match="config must be an AcceleratorConfig"):
        TSCAccelerator({"inputs": 4})
    single = type(qnet)(Network(qnet.network.layers[1:], (5,)), 5)
    with pytest.raises(NetworkMismatch, match="at least one hidden layer"):
        AcceleratorConfig.from_network(single)


def test_small_odd_thresholds_start_v_at_half_rounded_down():
    # V starts at Vth >> 1; with thresholds this small, one unit more moves spikes
    qnet = random_network((4, 6, 3), 6, FixedPointFormat(), seed=5, weight_max=6,
                          threshold_range=(3, 10))
    assert any(int(t) % 2 for t in qnet.network.thresholds)
    x = torch.rand(6, 4, generator=torch.Generator().manual_seed(3)) * 2 - 1
    check(qnet, x, 2)
