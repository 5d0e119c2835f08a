"""The neuron lane's divider and spike scan against the per-step firing rule, exhaustively."""

import pytest
import torch
from amaranth.sim import Simulator

from model.fixedpoint import FixedPointFormat
from model.simulate import tsc_fire
from rtl.neuron import NeuronLane, Op


def lane_fire(fmt, steps, threshold, potentials):
    """For each V: INIT it, run the DIV ops, SCAN every step; return the spike trains."""
    depth = len(potentials)
    dut = NeuronLane(fmt, steps, depth)
    trains = [[0] * steps for _ in potentials]

    async def testbench(ctx):
        ctx.set(dut.port.count, 1)
        for address, v in enumerate(potentials):
            ctx.set(dut.port.op, Op.INIT)
            ctx.set(dut.port.state_addr, address)
            ctx.set(dut.port.operand, v)
            await ctx.tick()
        ctx.set(dut.port.operand, threshold)
        for address in range(depth):
            for bit in reversed(range(dut.quotient_bits)):
                ctx.set(dut.port.op, Op.DIV)
                ctx.set(dut.port.state_addr, address)
                ctx.set(dut.port.bit, bit)
                await ctx.tick()
        for step in range(steps):
            ctx.set(dut.port.step, step)
            # back to back: the result of the SCAN presented LATENCY cycles ago
            for cycle in range(depth + dut.LATENCY):
                ctx.set(dut.port.op, Op.SCAN if cycle < depth else Op.NOP)
                ctx.set(dut.port.state_addr, min(cycle, depth - 1))
                await ctx.tick()
                address = cycle - dut.LATENCY + 1
                if 0 <= address < depth and ctx.get(dut.port.spike):
                    trains[address][step] = -1 if ctx.get(dut.port.spike_negative) else 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return trains


@pytest.mark.parametrize("steps, threshold", [(16, 1), (16, 7), (16, 100), (5, 3), (2, 9),
                                              (10, 13)])
def test_divider_and_scan_equal_the_per_step_rule_for_every_v(steps, threshold):
    fmt = FixedPointFormat(8, 8, 10)
    potentials = list(range(-512, 512))
    got = lane_fire(fmt, steps, threshold, potentials)
    want, _ = tsc_fire(torch.tensor([potentials]), threshold, steps)
    assert got == want[0].tolist()
