"""The neuron lane: its divider and spike scan against the per-step firing rule, exhaustively;
SETK and READ by hand."""

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


def test_setk_stores_only_where_count_is_set_and_read_reports_v():
    # one SETK goes to every lane; the lanes whose count is 0 keep what they hold
    fmt, steps = FixedPointFormat(8, 8, 10), 16
    dut = NeuronLane(fmt, steps, 4)
    seen = {}

    async def testbench(ctx):
        # op, address, operand, negative, count (and a SCAN's step)
        ops = [(Op.SETK, 0, 5, 1, 1), (Op.SETK, 0, 9, 0, 0),
               (Op.INIT, 1, 123, 0, 1), (Op.SETK, 1, 7, 0, 0), (Op.READ, 1, 0, 0, 1)]
        ops += [(Op.SCAN, 0, 0, 0, 1, step) for step in (0, 5, 9)]
        for cycle, (op, address, operand, negative, count, *step) in \
                enumerate(ops + [(Op.NOP, 0, 0, 0, 0)] * dut.LATENCY):
            for port, value in (("op", op), ("state_addr", address), ("operand", operand),
                                ("negative", negative), ("count", count),
                                ("step", step[0] if step else 0)):
                ctx.set(getattr(dut.port, port), value)
            await ctx.tick()
            issued = cycle - dut.LATENCY + 1
            if 0 <= issued < len(ops):
                seen[issued] = (ctx.get(dut.port.spike), ctx.get(dut.port.spike_negative),
                                ctx.get(dut.port.potential))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    # address 1 keeps V = 123 (INIT sets dV/dt = 0, the uncounted SETK does not write)
    assert seen[4][2] == 123
    # address 0 holds code -5: spikes -1 at step 0 and +1 at step 5, none at the 9 not stored
    assert [seen[k][:2] for k in (5, 6)] == [(1, 1), (1, 0)] and seen[7][0] == 0
