# amaranth: UnusedElaboratable=no
"""Bounded model check of the accelerator (``verif.bmc``: Yosys' AIGER netlist, CaDiCaL).

A tiny network (1-2-2, N = 2, one lane) with every input of the accelerator free at every
cycle (codes, their valid, and the readiness of both output streams): for 78 cycles from
reset, which cover a whole inference (at most 70 busy cycles, measured over a grid of inputs
with ready streams), the solver proves that

- no neuron emits more than one +1 and one -1 spike per inference, and
- no spike leaves the accelerator while it is idle (after DONE).

A second run with a deliberately false property (hidden neurons never fire) must fail, which
shows that the bound reaches the hidden layer's spikes. The lanes' state RAM, written on the
clock's falling edge, is proven as the rising-edge write with a transparent read that it is
to every rising edge (``rising_edge_model``).
"""

import re

import pytest
import torch
from amaranth import Elaboratable, Module, Signal, signed
from amaranth.back import rtlil
from amaranth.hdl import Assert
from amaranth.sim import Simulator

from model.fixedpoint import FixedPointFormat
from rtl.accelerator import TSCAccelerator
from rtl.config import AcceleratorConfig
from rtl.golden import expected, random_network
from verif.bmc import check, to_aiger

DEPTH = 78
# cycles of the proof before the accelerator is busy: reset, the first code, its register
CYCLES_BEFORE_BUSY = 4


class SpikeProperties(Elaboratable):
    def __init__(self, hidden_limit=1):
        self.network = random_network((1, 2, 2), 2, FixedPointFormat(8, 6, 8), seed=3,
                                      weight_max=20, threshold_range=(1, 20))
        self.config = AcceleratorConfig.from_network(self.network, 1)
        self.hidden_limit = hidden_limit
        self.code = Signal(signed(self.config.code_bits))
        self.code_valid, self.spike_ready, self.potential_ready = Signal(), Signal(), Signal()

    def ports(self):
        return [self.code, self.code_valid, self.spike_ready, self.potential_ready]

    def elaborate(self, platform):
        m = Module()
        m.submodules.acc = acc = TSCAccelerator(self.config, self.network)
        m.d.comb += [acc.i_code.payload.eq(self.code), acc.i_code.valid.eq(self.code_valid),
                     acc.o_spike.ready.eq(self.spike_ready),
                     acc.o_potential.ready.eq(self.potential_ready)]
        was_busy = Signal()
        m.d.sync += was_busy.eq(acc.busy)
        sent = acc.o_spike.valid & acc.o_spike.ready
        for layer, size in enumerate((self.config.inputs, self.config.layers[0])):
            for index in range(size):
                for negative in range(2):
                    count = Signal(2, name=f"spikes_{layer}_{index}_{negative}")
                    with m.If(acc.busy & ~was_busy):
                        m.d.sync += count.eq(0)
                    with m.Elif(sent & (acc.o_spike.payload.layer == layer) &
                                (acc.o_spike.payload.index == index) &
                                (acc.o_spike.payload.negative == negative)):
                        m.d.sync += count.eq(count + 1)
                    m.d.comb += Assert(count <= (self.hidden_limit if layer else 1))
        m.d.comb += Assert(~acc.o_spike.valid | acc.busy)
        return m


def rising_edge_model(text):
    """RTLIL ``text`` with each RAM written on the clock's falling edge (the lanes' state)
    written on the rising edge instead, its reads transparent to that write. The bounded
    check steps from rising edge to rising edge (one AIGER latch per flip-flop, whatever its
    edge); the write half a cycle after its data and address are set (by rising-edge
    registers) is seen by the read at the end of that cycle, and by no read before: a
    rising-edge write that a read in the same cycle sees."""
    cells = re.split(r"(?m)^(?=  cell )", text)
    falling = set()
    for index, cell in enumerate(cells):
        if cell.startswith("  cell $memwr_v2 ") and "parameter \\CLK_POLARITY 0\n" in cell:
            falling.add(re.search(r"parameter \\MEMID (\S+)", cell).group(1))
            cells[index] = cell.replace("parameter \\CLK_POLARITY 0\n",
                                        "parameter \\CLK_POLARITY 1\n")
    for index, cell in enumerate(cells):
        if cell.startswith("  cell $memrd_v2 ") and \
                re.search(r"parameter \\MEMID (\S+)", cell).group(1) in falling:
            cells[index] = cell.replace("parameter \\TRANSPARENCY_MASK 1'0",
                                        "parameter \\TRANSPARENCY_MASK 1'1")
    assert falling, "no RAM written on the falling edge: the model needs no change"
    return "".join(cells)


def _first_failure(design, directory):
    aiger = to_aiger(rising_edge_model(rtlil.convert(design, ports=design.ports())), directory)
    return check(aiger, DEPTH, at_start=["rst"])


@pytest.mark.slow
def test_at_most_one_spike_of_each_sign_and_none_when_idle(tmp_path):
    assert _first_failure(SpikeProperties(), tmp_path) is None


@pytest.mark.slow
def test_the_bound_reaches_hidden_spikes(tmp_path):
    # the first hidden spike can come no earlier than the input layer's spikes have been
    # sent and integrated
    assert CYCLES_BEFORE_BUSY < _first_failure(SpikeProperties(hidden_limit=0), tmp_path) \
        < DEPTH


def test_the_bound_covers_a_whole_inference():
    # the busy cycles of inferences over a grid of inputs (ready streams), counted by the
    # accelerator, fit the proof's depth: a change of the schedule that lengthens the tiny
    # network's inference must deepen the proof with it
    properties = SpikeProperties()
    dut = TSCAccelerator(properties.config, properties.network)
    images = expected(properties.network, torch.linspace(-1, 1, 21)[:, None])
    cycles = []

    async def testbench(ctx):
        ctx.set(dut.o_spike.ready, 1)
        ctx.set(dut.o_potential.ready, 1)
        for image in images:
            ctx.set(dut.i_code.payload, image.codes[0])
            ctx.set(dut.i_code.valid, 1)
            await ctx.tick().until(dut.i_code.ready)
            ctx.set(dut.i_code.valid, 0)
            await ctx.tick().until(dut.busy)
            await ctx.tick().until(~dut.busy)
            cycles.append(ctx.get(dut.cycles))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert len(cycles) == 21 and max(cycles) + CYCLES_BEFORE_BUSY <= DEPTH, max(cycles)
