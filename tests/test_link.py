# amaranth: UnusedElaboratable=no
"""The host link in amaranth.sim, driven by the host's own protocol code."""

import struct

import pytest
import torch
from amaranth.sim import Simulator

from rtl.protocol import (
    COUNTERS,
    Command,
    ErrorCode,
    FrameDecoder,
    InfoFlag,
    code_bits,
    encode_frame,
    pack_codes,
)
from model.fixedpoint import FixedPointFormat
from rtl.config import AcceleratorConfig, load_words
from rtl.golden import expected, random_network
from rtl.link import HostLink, info_bytes


def exchange(dut, frames, gap=19, stall_after=None, in_flight=1, cycles=None):
    """Send raw frames (bytes) a byte every ``gap + 1`` cycles (a UART's come at least 20
    apart), sending frame ``n`` once ``n - in_flight + 1`` replies are in; return the replies
    (and, with ``cycles``, append each reply's arrival cycle to it). Frame 0 is cut after
    ``stall_after`` bytes when that is given."""
    replies = []

    async def testbench(ctx):
        decoder = FrameDecoder()
        ctx.set(dut.o_byte.ready, 1)
        now = 0

        async def tick():
            nonlocal now
            if ctx.get(dut.o_byte.valid):
                for frame in decoder.feed(bytes([ctx.get(dut.o_byte.payload)])):
                    replies.append(frame)
                    if cycles is not None:
                        cycles.append(now)
            await ctx.tick()
            now += 1

        for number, frame in enumerate(frames):
            waited = 0
            while len(replies) < number - in_flight + 1:
                await tick()
                waited += 1
                assert waited < 200_000, f"no reply to frame {len(replies)}"
            data = frame if stall_after is None or number != 0 else frame[:stall_after]
            for byte in data:
                ctx.set(dut.i_byte.payload, byte)
                ctx.set(dut.i_byte.valid, 1)
                await tick()
                ctx.set(dut.i_byte.valid, 0)
                for _ in range(gap):
                    await tick()
        waited = 0
        while len(replies) < len(frames):
            await tick()
            waited += 1
            assert waited < 200_000, f"no reply to frame {len(replies)}"

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


def _codes(want, steps):
    return b"".join(pack_codes(w.codes, steps) for w in want)


def test_ping_load_run_and_classify_match_the_golden_model():
    qnet = random_network((6, 5, 3), 6, FixedPointFormat(), seed=31)
    config = AcceleratorConfig.from_network(qnet, 2)
    x = torch.rand(5, 6, generator=torch.Generator().manual_seed(8)) * 2 - 1
    want = expected(qnet, x)
    dut = HostLink(config, None, timeout_cycles=5000)  # empty: the network comes over the link
    frames = [encode_frame(Command.PING)] + _load_frames(config, qnet)
    frames += [encode_frame(Command.PING)]
    frames += [encode_frame(Command.RUN, pack_codes(w.codes, config.steps)) for w in want]
    frames += [encode_frame(Command.CLASSIFY, _codes(want, config.steps))]
    replies = exchange(dut, frames)
    assert replies[0].command == Command.PING | 0x80
    assert replies[0].payload == info_bytes(config)
    assert [r.command for r in replies[1:3]] == [Command.LOAD8 | 0x80, Command.LOAD32 | 0x80]
    assert replies[3].payload == info_bytes(config, loaded=True)
    assert replies[3].payload[-1] == InfoFlag.LOADED
    for w, r in zip(want, replies[4:-1]):
        assert r.command == Command.RUN | 0x80
        class_index, potentials, counters = _result(r.payload, config)
        assert class_index == w.class_index and potentials == w.potentials
        for name in ("synaptic", "membrane", "weight_reads", "saturations"):
            assert counters[name] == w.counters[name]
    assert replies[-1].command == Command.CLASSIFY | 0x80
    assert list(replies[-1].payload) == [w.class_index for w in want]


def test_frames_in_flight_are_received_while_one_executes():
    """Two frames in flight: each frame arrives while the one before it executes, replies
    come in order and match the golden model, and the next frame begins at once."""
    qnet = random_network((6, 5, 3), 6, FixedPointFormat(), seed=34)
    config = AcceleratorConfig.from_network(qnet, 1)
    x = torch.rand(12, 6, generator=torch.Generator().manual_seed(9)) * 2 - 1
    want = expected(qnet, x)
    frames = [encode_frame(Command.CLASSIFY, _codes(want[k:k + 3], config.steps))
              for k in range(0, 12, 3)]
    frames.insert(2, encode_frame(Command.RUN, pack_codes(want[0].codes, config.steps)))
    replies = exchange(HostLink(config, qnet, timeout_cycles=5000), frames, in_flight=2)
    classes = [w.class_index for w in want]
    assert [list(r.payload) for r in replies[:2]] == [classes[:3], classes[3:6]]
    assert _result(replies[2].payload, config)[:2] == (classes[0], want[0].potentials)
    assert [list(r.payload) for r in replies[3:]] == [classes[6:9], classes[9:]]


def test_a_frame_that_overruns_the_ring_is_refused():
    """A second frame whose bytes would overwrite the executing frame's is answered BUSY and
    changes nothing; the frame after it runs."""
    qnet = random_network((6, 5, 3), 6, FixedPointFormat(), seed=35)
    config = AcceleratorConfig.from_network(qnet, 1)
    x = torch.rand(200, 6, generator=torch.Generator().manual_seed(10)) * 2 - 1
    want = expected(qnet, x)
    big = encode_frame(Command.CLASSIFY, _codes(want, config.steps))  # 600 bytes each
    small = encode_frame(Command.CLASSIFY, _codes(want[:2], config.steps))
    replies = exchange(HostLink(config, qnet, timeout_cycles=5000), [big, big, small],
                       in_flight=2)
    assert list(replies[0].payload) == [w.class_index for w in want]
    assert (replies[1].command, replies[1].payload[0]) == (Command.ERROR, ErrorCode.BUSY)
    assert list(replies[2].payload) == [w.class_index for w in want[:2]]


def test_bad_frames_are_answered_and_change_nothing():
    qnet = random_network((6, 5, 3), 6, FixedPointFormat(), seed=32, threshold_range=(10, 40))
    config = AcceleratorConfig.from_network(qnet, 2)
    x = torch.rand(1, 6, generator=torch.Generator().manual_seed(3))
    want = expected(qnet, x)[0]
    assert any(want.potentials) and want.counters["spikes_1"]  # a write would show
    codes = pack_codes(want.codes, config.steps)
    run = encode_frame(Command.RUN, codes)
    corrupt = bytearray(encode_frame(Command.LOAD8, struct.pack("<I", 0) + bytes([5] * 8)))
    corrupt[7] ^= 0xFF
    ping = encode_frame(Command.PING)
    high, low = bytearray(ping), bytearray(ping)
    high[-1] ^= 0x01    # the CRC's high byte
    low[-2] ^= 0x80     # its low byte
    top = config.weight_depth * config.lanes
    assert code_bits(config.steps) == 4 and len(codes) == 3  # 6 codes of 4 bits, no padding
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
        encode_frame(Command.RUN, codes[:2]),                               # part of an image
        encode_frame(Command.RUN, codes * 2),                               # two images
        encode_frame(Command.RUN),                                          # no image
        encode_frame(Command.CLASSIFY),                                     # no image
        encode_frame(Command.CLASSIFY, codes + codes[:1]),                  # an image and a bit
        encode_frame(Command.RUN, bytes([0x06]) + codes[1:]),               # code 6 > N-1
        encode_frame(Command.RUN, codes[:2] + bytes([0xA0 | codes[2] & 0xF])),  # code -6
        encode_frame(Command.CLASSIFY, codes + bytes([0x08]) + codes[1:]),  # code -8
        encode_frame(Command.PING),
        run,
    ]
    replies = exchange(HostLink(config, qnet, timeout_cycles=5000), frames)
    errors = [(r.command, r.payload[0]) for r in replies[:-2]]
    E = Command.ERROR
    assert errors == [(E, ErrorCode.LENGTH)] + [(E, ErrorCode.CRC)] * 3 + [
        (E, ErrorCode.LENGTH)] * 2 + [(E, ErrorCode.LOAD)] * 11 + [
        (E, ErrorCode.COMMAND)] + [(E, ErrorCode.LENGTH)] * 5 + [(E, ErrorCode.CODE)] * 3
    # nothing was written: no load is reported and the network answers as the golden model
    assert replies[-2].payload == info_bytes(config)
    assert _result(replies[-1].payload, config)[1] == want.potentials


def test_padding_bits_must_be_zero():
    """At N = 16 a code has 5 bits: 6 codes take 30 bits, padded with 2 zero bits."""
    qnet = random_network((6, 5, 3), 16, FixedPointFormat(), seed=36)
    config = AcceleratorConfig.from_network(qnet, 1)
    want = expected(qnet, torch.rand(1, 6, generator=torch.Generator().manual_seed(4)))[0]
    codes = bytearray(pack_codes(want.codes, config.steps))
    assert len(codes) == 4 and codes[-1] >> 6 == 0
    padded = bytes(codes[:-1]) + bytes([codes[-1] | 0x80])
    replies = exchange(HostLink(config, qnet, timeout_cycles=5000),
                       [encode_frame(Command.CLASSIFY, padded),
                        encode_frame(Command.CLASSIFY, bytes(codes))])
    assert (replies[0].command, replies[0].payload[0]) == (Command.ERROR, ErrorCode.CODE)
    assert list(replies[1].payload) == [want.class_index]


def test_a_stalled_frame_times_out():
    qnet = random_network((6, 5, 3), 6, FixedPointFormat(), seed=33)
    config = AcceleratorConfig.from_network(qnet, 1)
    replies = exchange(HostLink(config, qnet, timeout_cycles=100),
                       [encode_frame(Command.PING) + b"", encode_frame(Command.PING)],
                       stall_after=3)
    assert (replies[0].command, replies[0].payload[0]) == (Command.ERROR, ErrorCode.TIMEOUT)
    assert replies[1].command == Command.PING | 0x80


def test_a_network_whose_image_does_not_fit_a_frame_is_refused():
    """2,000 inputs at N = 16 pack into 1,250 bytes: more than a frame carries."""
    qnet = random_network((2000, 2, 2), 16, FixedPointFormat(), seed=37)
    config = AcceleratorConfig.from_network(qnet, 1)
    with pytest.raises(ValueError, match=r"one image's packed codes take 1250 bytes \(2000 "
                                         r"inputs\); a frame carries at most 1024: use fewer "
                                         r"inputs"):
        HostLink(config, qnet)
