"""The host link in amaranth.sim, driven by the host's own protocol code."""

import struct

import torch
from amaranth.sim import Simulator

from fpga.protocol import COUNTERS, Command, ErrorCode, FrameDecoder, InfoFlag, encode_frame
from model.fixedpoint import FixedPointFormat
from rtl.config import AcceleratorConfig, load_words
from rtl.golden import expected, random_network
from rtl.link import HostLink, info_bytes


def exchange(dut, frames, gap=1, stall_after=None):
    """Send raw frames (bytes), one after the other, waiting for each reply frame."""
    replies = []

    async def testbench(ctx):
        decoder = FrameDecoder()
        for number, frame in enumerate(frames):
            data = frame if stall_after is None or number != 0 else frame[:stall_after]
            for byte in data:
                ctx.set(dut.i_byte.payload, byte)
                ctx.set(dut.i_byte.valid, 1)
                await ctx.tick()
                ctx.set(dut.i_byte.valid, 0)
                await ctx.tick().repeat(gap)
            ctx.set(dut.o_byte.ready, 1)
            got = []
            for _ in range(200000):
                if ctx.get(dut.o_byte.valid):
                    got = decoder.feed(bytes([ctx.get(dut.o_byte.payload)]))
                await ctx.tick()
                if got:
                    break
            assert got, f"no reply to frame {number}"
            replies.append(got[0])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return replies


def _load_frames(config, qnet):
    words = load_words(config, qnet)
    weights = [v for a, v in words if a < config.weight_depth * config.lanes]
    thresholds = [v for a, v in words if a >= config.weight_depth * config.lanes]
    frames = [encode_frame(Command.LOAD8, struct.pack("<I", 0) +
                           bytes(w & 0xFF for w in weights))]
    frames.append(encode_frame(Command.LOAD32, struct.pack("<I", len(weights)) +
                               b"".join(struct.pack("<i", t) for t in thresholds)))
    return frames


def _result(payload, config):
    n = config.layers[-1]
    values = struct.unpack_from(f"<{n}i{len(COUNTERS) + config.hidden + 1}I", payload, 1)
    return payload[0], list(values[:n]), dict(zip(COUNTERS, values[n:]))


def test_ping_load_and_run_match_the_golden_model():
    qnet = random_network((6, 5, 3), 6, FixedPointFormat(), seed=31)
    config = AcceleratorConfig.from_network(qnet, 2)
    x = torch.rand(2, 6, generator=torch.Generator().manual_seed(8)) * 2 - 1
    want = expected(qnet, x)
    dut = HostLink(config, None, timeout_cycles=5000)  # empty: the network comes over the link
    frames = [encode_frame(Command.PING)] + _load_frames(config, qnet)
    frames += [encode_frame(Command.PING)]
    frames += [encode_frame(Command.RUN, bytes(c & 0xFF for c in w.codes)) for w in want]
    replies = exchange(dut, frames)
    assert replies[0].command == Command.PING | 0x80
    assert replies[0].payload == info_bytes(config)
    assert [r.command for r in replies[1:3]] == [Command.LOAD8 | 0x80, Command.LOAD32 | 0x80]
    assert replies[3].payload == info_bytes(config, loaded=True)
    assert replies[3].payload[-1] == InfoFlag.LOADED
    for w, r in zip(want, replies[4:]):
        assert r.command == Command.RUN | 0x80
        class_index, potentials, counters = _result(r.payload, config)
        assert class_index == w.class_index and potentials == w.potentials
        for name in ("synaptic", "membrane", "weight_reads", "saturations"):
            assert counters[name] == w.counters[name]


def test_bad_frames_are_answered_and_change_nothing():
    qnet = random_network((6, 5, 3), 6, FixedPointFormat(), seed=32, threshold_range=(10, 40))
    config = AcceleratorConfig.from_network(qnet, 2)
    x = torch.rand(1, 6, generator=torch.Generator().manual_seed(3))
    want = expected(qnet, x)[0]
    assert any(want.potentials) and want.counters["spikes_1"]  # a write would show
    run = encode_frame(Command.RUN, bytes(c & 0xFF for c in want.codes))
    corrupt = bytearray(encode_frame(Command.LOAD8, struct.pack("<I", 0) + bytes([5] * 8)))
    corrupt[7] ^= 0xFF
    ping = encode_frame(Command.PING)
    high, low = bytearray(ping), bytearray(ping)
    high[-1] ^= 0x01    # the CRC's high byte
    low[-2] ^= 0x80     # its low byte
    top = config.weight_depth * config.lanes
    frames = [
        bytes([0xA5, Command.LOAD8, 0x01, 0x04]),                          # 1025 bytes long
        bytes(corrupt),                                                     # bad CRC
        bytes(high),                                                        # CRC high byte
        bytes(low),                                                         # CRC low byte
        encode_frame(Command.LOAD8, struct.pack("<I", 0)),                  # no weights
        encode_frame(Command.LOAD32, struct.pack("<I", 0) + bytes(3)),      # not whole words
        encode_frame(Command.LOAD8, struct.pack("<I", top - 2) + bytes(4)),  # past the end
        encode_frame(Command.LOAD8, struct.pack("<I", top - 3) + bytes(4)),  # one past it
        encode_frame(Command.LOAD8, struct.pack("<I", 0) + bytes([1, 0x80])),  # -128
        encode_frame(Command.LOAD32, struct.pack("<Iii", top, 7, 0)),       # threshold 0
        encode_frame(Command.LOAD32, struct.pack("<Ii", top, 0)),           # threshold 0
        encode_frame(Command.LOAD8, struct.pack("<I", 1 << 24) + bytes(4)),  # far address
        encode_frame(Command.LOAD32, struct.pack("<Ii", 1 << 31, 1)),       # far address
        encode_frame(Command.LOAD32, struct.pack("<Iii", 0, 127, 128)),     # weight 128
        encode_frame(Command.LOAD32, struct.pack("<Iii", 0, -127, -128)),   # weight -128
        encode_frame(Command.LOAD32, struct.pack("<Ii", top, 1 << 23)),     # Vth > v_max
        encode_frame(Command.LOAD32, struct.pack("<Ii", top, -1)),          # Vth < 1
        encode_frame(0x33),                                                 # unknown
        encode_frame(Command.RUN, bytes([0] * 5)),                          # wrong length
        encode_frame(Command.RUN, bytes([6] + [0] * 5)),                    # code > N-1
        encode_frame(Command.RUN, bytes([0] * 5 + [0xFA])),                 # code < -(N-1)
        encode_frame(Command.PING),
        run,
    ]
    replies = exchange(HostLink(config, qnet, timeout_cycles=5000), frames)
    errors = [(r.command, r.payload[0]) for r in replies[:-2]]
    E = Command.ERROR
    assert errors == [(E, ErrorCode.LENGTH)] + [(E, ErrorCode.CRC)] * 3 + [
        (E, ErrorCode.LENGTH)] * 2 + [(E, ErrorCode.LOAD)] * 11 + [
        (E, ErrorCode.COMMAND), (E, ErrorCode.LENGTH), (E, ErrorCode.CODE), (E, ErrorCode.CODE)]
    # nothing was written: no load is reported and the network answers as the golden model
    assert replies[-2].payload == info_bytes(config)
    assert _result(replies[-1].payload, config)[1] == want.potentials


def test_a_stalled_frame_times_out():
    qnet = random_network((6, 5, 3), 6, FixedPointFormat(), seed=33)
    config = AcceleratorConfig.from_network(qnet, 1)
    replies = exchange(HostLink(config, qnet, timeout_cycles=100),
                       [encode_frame(Command.PING) + b"", encode_frame(Command.PING)],
                       stall_after=3)
    assert (replies[0].command, replies[0].payload[0]) == (Command.ERROR, ErrorCode.TIMEOUT)
    assert replies[1].command == Command.PING | 0x80
