# amaranth: UnusedElaboratable=no
"""UART receiver and transmitter: a loopback and a bit-level model."""

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from rtl.uart import UARTRx, UARTTx


@pytest.mark.parametrize("divisor", [4, 7, 16])
def test_transmitter_to_receiver_loopback(divisor):
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor)
    m.submodules.rx = rx = UARTRx(divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    data = [0x00, 0xFF, 0xA5, 0x3C, 0x81]
    received = []

    async def sender(ctx):
        for byte in data:
            ctx.set(tx.i_data.payload, byte)
            ctx.set(tx.i_data.valid, 1)
            await ctx.tick().until(tx.i_data.ready)
        ctx.set(tx.i_data.valid, 0)

    async def receiver(ctx):
        while len(received) < len(data):
            await ctx.tick()
            if ctx.get(rx.o_data.valid):
                received.append(ctx.get(rx.o_data.payload))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(sender)
    sim.add_testbench(receiver)
    sim.run_until(1e-6 * divisor * 11 * (len(data) + 2))
    assert received == data


def test_receiver_drops_a_byte_with_a_bad_stop_bit():
    divisor = 8
    dut = UARTRx(divisor)
    events = []

    async def hold(ctx, level, cycles):
        """Drive the line at ``level`` for ``cycles``, recording what the receiver reports."""
        ctx.set(dut.rx, level)
        for _ in range(cycles):
            await ctx.tick()
            if ctx.get(dut.o_data.valid):
                events.append(ctx.get(dut.o_data.payload))
            if ctx.get(dut.framing_error):
                events.append("framing")

    async def line(ctx):
        for bits in ([0, 1, 0, 1, 0, 1, 0, 1, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0, 0, 1]):
            for bit in bits:
                await hold(ctx, bit, divisor)
            await hold(ctx, 1, 3 * divisor)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(line)
    sim.run()
    assert events == ["framing", 0x02]


def test_divisor_is_checked():
    with pytest.raises(ValueError, match="divisor .* at least 2, not 1"):
        UARTRx(1)
