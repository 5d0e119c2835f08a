# amaranth: UnusedElaboratable=no
"""The code unpacker in amaranth.sim against :func:`rtl.protocol.pack_codes`."""

import random

import pytest
from amaranth.sim import Simulator

from rtl.protocol import code_bits, pack_codes
from rtl.unpack import CodeUnpacker


@pytest.mark.parametrize("inputs, steps", [(6, 16), (7, 2), (5, 8), (3, 128), (1, 4)])
def test_codes_come_out_as_packed_with_stalls_on_both_sides(inputs, steps):
    """Images back to back, bytes offered and codes taken at random: every code, in order,
    ``last`` on each image's last, and no padding error."""
    rng = random.Random(inputs * steps)
    images = [[rng.randint(-(steps - 1), steps - 1) for _ in range(inputs)] for _ in range(5)]
    data = b"".join(pack_codes(codes, steps) for codes in images)
    dut = CodeUnpacker(inputs, code_bits(steps))
    got, errors = [], []

    async def bytes_in(ctx):
        for byte in data:
            ctx.set(dut.i_byte.payload, byte)
            while True:
                valid = rng.random() < 0.7
                ctx.set(dut.i_byte.valid, valid)
                *_, ready = await ctx.tick().sample(dut.i_byte.ready)  # at the edge
                if valid and ready:
                    break
        ctx.set(dut.i_byte.valid, 0)

    async def codes_out(ctx):
        while len(got) < inputs * len(images):
            ready = rng.random() < 0.6
            ctx.set(dut.o_code.ready, ready)
            _, _, valid, code, last, error = await ctx.tick().sample(
                dut.o_code.valid, dut.o_code.payload.code, dut.o_code.payload.last,
                dut.padding_error)
            errors.append(error)
            if ready and valid:
                got.append((code, last))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bytes_in, background=True)
    sim.add_testbench(codes_out)
    sim.run()
    want = [(code, int(k == inputs - 1)) for codes in images for k, code in enumerate(codes)]
    assert got == want and not any(errors)


def test_set_padding_bits_are_reported():
    """Six 5-bit codes leave two padding bits: set, they pulse padding_error once."""
    dut = CodeUnpacker(6, 5)
    packed = bytearray(pack_codes([1, 2, 3, -4, 5, -6], 16))
    packed[-1] |= 0x40
    pulses = []

    async def testbench(ctx):
        ctx.set(dut.o_code.ready, 1)
        for byte in packed:
            ctx.set(dut.i_byte.payload, byte)
            ctx.set(dut.i_byte.valid, 1)
            while True:
                *_, ready, error = await ctx.tick().sample(dut.i_byte.ready, dut.padding_error)
                pulses.append(error)
                if ready:
                    break
        ctx.set(dut.i_byte.valid, 0)
        for _ in range(6):
            *_, error = await ctx.tick().sample(dut.padding_error)
            pulses.append(error)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert sum(pulses) == 1


@pytest.mark.parametrize("inputs, bits, message", [
    (0, 5, "inputs must be a positive integer, not 0"),
    (4, 1, "code_bits must be an integer from 2 to 16, not 1"),
    (4, 17, "code_bits must be an integer from 2 to 16, not 17")])
def test_parameters_are_checked(inputs, bits, message):
    with pytest.raises(ValueError, match=message):
        CodeUnpacker(inputs, bits)
