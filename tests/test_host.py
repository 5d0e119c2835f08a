"""The host tool against fake boards: every reply it cannot use is a ProtocolError naming the
problem, never a struct or index error; ``classify`` loads every word, sends the golden
model's codes and counts agreement and differences as the golden model says."""

import dataclasses
import struct

import pytest

from fpga.host import Device
from rtl.protocol import (
    COUNTERS,
    INFO_FORMAT,
    Command,
    FrameDecoder,
    ProtocolError,
    encode_frame,
    image_bytes,
    info_prefix,
    unpack_codes,
)

INPUTS, OUTPUTS, HIDDEN = 4, 3, 1


class FakeBoard:
    """Answers PING with an INFO for a 4-input, 3-output network and RUN with ``result``."""

    def __init__(self, result):
        self.result, self.pending, self.decoder = result, b"", FrameDecoder()

    def write(self, data):
        for frame in self.decoder.feed(data):
            if frame.command == Command.PING:
                info = struct.pack(INFO_FORMAT, INPUTS, OUTPUTS, 8, 1, HIDDEN, 64, 24, 16, 0)
                self.pending += encode_frame(Command.PING | 0x80, info_prefix() + info)
            else:
                self.pending += encode_frame(frame.command | 0x80, self.result)

    def read(self, size):
        data, self.pending = self.pending[:size], self.pending[size:]
        return data


def _result(potentials=(5, -2, 1), counters=None):
    counters = counters or list(range(len(COUNTERS) + HIDDEN + 1))
    return struct.pack(f"<B{OUTPUTS}i{len(counters)}I", 0, *potentials, *counters)


def test_a_full_result_is_decoded():
    result = Device(FakeBoard(_result()), timeout=0.5).run([1, 2, 3, 4])
    assert result.class_index == 0 and result.potentials == [5, -2, 1]
    assert result.counters["cycles"] == 0 and result.counters["spikes_1"] == 6


@pytest.mark.parametrize("cut", [1, 5, 13, -1])
def test_a_short_or_long_result_with_a_valid_crc_is_a_protocol_error(cut):
    reply = _result()[:cut] if cut > 0 else _result() + b"\0\0\0\0"
    with pytest.raises(ProtocolError, match=rf"RESULT reply of {len(reply)} bytes, expected "
                                            rf"{len(_result())}"):
        Device(FakeBoard(reply), timeout=0.5).run([1, 2, 3, 4])


def test_the_frame_decoder_drops_bad_frames_and_finds_the_next():
    good = encode_frame(Command.RUN | 0x80, b"\x01\x02\x03")
    for flip in (-1, -2, 1, 4):            # CRC high and low byte, command, payload
        bad = bytearray(good)
        bad[flip] ^= 0x10
        assert FrameDecoder().feed(bytes(bad)) == []
    long = bytes([0xA5, 0x84, 0x01, 0x04])  # a length over MAX_PAYLOAD: not a frame start
    frames = FrameDecoder().feed(b"\x00\x13" + long + bytes(bad) + good)
    assert [(f.command, f.payload) for f in frames] == [(Command.RUN | 0x80, b"\x01\x02\x03")]
    decoder = FrameDecoder()                # byte by byte, as a port delivers them
    got = [frame for byte in good + good for frame in decoder.feed(bytes([byte]))]
    assert len(got) == 2


def test_a_silent_board_times_out_with_a_clear_message():
    class Silent:
        def write(self, data):
            pass

        def read(self, size):
            return b""
    with pytest.raises(ProtocolError, match=r"no reply to command 0x01 within 0.05 s"):
        Device(Silent(), timeout=0.05).info()


class GoldenBoard:
    """A board that keeps what LOAD8/LOAD32 write and answers RUN with the golden model's
    result for those codes (``answers``: codes -> Expected); ``tamper`` changes a result."""

    def __init__(self, config, answers, tamper=None):
        from rtl.link import info_bytes
        self.config, self.answers, self.tamper = config, answers, tamper
        self.info, self.memory, self.pending = info_bytes, {}, b""
        self.decoder, self.loaded = FrameDecoder(), False
        self.frames_in_flight = []

    def write(self, data):
        for frame in self.decoder.feed(data):
            reply = b""
            if frame.command == Command.PING:
                reply = self.info(self.config, self.loaded)
            elif frame.command in (Command.LOAD8, Command.LOAD32):
                (address,) = struct.unpack_from("<I", frame.payload)
                kind = "b" if frame.command == Command.LOAD8 else "i"
                values = struct.unpack(f"<{(len(frame.payload) - 4) // struct.calcsize(kind)}"
                                       f"{kind}", frame.payload[4:])
                self.memory.update(enumerate(values, address))
                self.loaded = True
            elif frame.command == Command.CLASSIFY:
                self.frames_in_flight.append(frame.payload)
                size = image_bytes(self.config.inputs, self.config.steps)
                reply = bytes(self._answer(frame.payload[k:k + size]).class_index
                              for k in range(0, len(frame.payload), size))
            else:
                want = self._answer(frame.payload)
                counters = [want.counters.get(name, 0) for name in COUNTERS] + [
                    want.counters[f"spikes_{layer}"] for layer in range(self.config.hidden + 1)]
                potentials = list(want.potentials)
                if self.tamper:
                    self.tamper(potentials, counters)
                reply = struct.pack(f"<B{len(potentials)}i{len(counters)}I", want.class_index,
                                    *potentials, *counters)
            self.pending += encode_frame(frame.command | 0x80, reply)

    def _answer(self, packed):
        return self.answers[tuple(unpack_codes(packed, self.config.inputs, self.config.steps))]

    def read(self, size):
        data, self.pending = self.pending[:size], self.pending[size:]
        return data


@pytest.fixture(scope="module")
def golden_digits():
    import torch

    from model.data import load_digits
    from model.fixedpoint import FixedPointFormat
    from rtl.config import AcceleratorConfig
    from rtl.golden import expected, random_network
    qnet = random_network((64, 12, 10), 8, FixedPointFormat(), seed=3, weight_max=20,
                          threshold_range=(20, 80))
    split = load_digits()
    raw, labels = split.raw_test[:12], split.y_test[:12]
    want = expected(qnet, qnet.map_inputs(raw).x)
    answers = {tuple(w.codes): w for w in want}
    assert len(answers) == len(want) and torch.is_tensor(raw)
    return qnet, AcceleratorConfig.from_network(qnet, 2), raw, labels, want, answers


def test_classify_loads_the_network_and_agrees_with_the_golden_model(golden_digits):
    from fpga.run import classify
    from rtl.config import load_words
    qnet, config, raw, labels, want, answers = golden_digits
    board = GoldenBoard(config, answers)
    summary = classify(Device(board, timeout=0.5), qnet, raw, labels, check=True,
                       progress=False)
    assert dict(load_words(config, qnet)) == board.memory   # every weight and threshold
    assert summary["images"] == 12 and summary["agreement"] == 1.0
    assert summary["mismatches"] == 0 and summary["problems"] == []
    accuracy = sum(w.class_index == int(y) for w, y in zip(want, labels)) / 12
    assert summary["accuracy"] == accuracy


def test_classify_with_check_reports_every_difference(golden_digits):
    from fpga.run import classify
    qnet, config, raw, labels, _, answers = golden_digits

    def tamper(potentials, counters):
        potentials[3] += 1
        counters[COUNTERS.index("saturations")] += 2
    board = GoldenBoard(config, answers, tamper)
    summary = classify(Device(board, timeout=0.5), qnet, raw, labels, check=True,
                       progress=False)
    assert summary["mismatches"] == 12 and len(summary["problems"]) == 12
    assert "potentials" in summary["problems"][0] and "saturations" in summary["problems"][0]
    unchecked = classify(Device(GoldenBoard(config, answers, tamper), timeout=0.5), qnet, raw,
                         labels, check=False, progress=False)
    assert unchecked["mismatches"] == 0 and unchecked["agreement"] == 1.0


def test_classify_without_load_refuses_a_board_without_weights(golden_digits):
    from fpga.run import classify
    qnet, config, raw, labels, _, answers = golden_digits
    config_spram = dataclasses.replace(config, weight_memory="spram")
    with pytest.raises(ProtocolError, match="SPRAM"):
        classify(Device(GoldenBoard(config_spram, answers), timeout=0.5), qnet, raw, labels,
                 load=False, progress=False)


def test_a_board_of_proven_widths_runs_its_network_and_refuses_one_needing_more(golden_digits):
    """``rtl.build`` narrows dV/dt and V to the widths proven for its network; the host loads
    that network, and names the widths when another would need more."""
    from fpga.run import classify
    from rtl.config import AcceleratorConfig, NetworkMismatch, exact_format
    from rtl.golden import random_network
    qnet, _, raw, labels, _, answers = golden_digits
    narrow = AcceleratorConfig.from_network(qnet, 2, fmt=exact_format(qnet))
    assert narrow.fmt.v_bits < qnet.fmt.v_bits
    summary = classify(Device(GoldenBoard(narrow, answers), timeout=0.5), qnet, raw, labels,
                       check=True, progress=False)
    assert summary["agreement"] == 1.0 and summary["mismatches"] == 0
    heavier = random_network((64, 12, 10), 8, qnet.fmt, seed=4, weight_max=127,
                             threshold_range=(20, 80))
    board = GoldenBoard(narrow, answers)
    with pytest.raises(NetworkMismatch, match=r"the network's dV/dt can need \d+ bits .* "
                                              r"rebuild it with --widths network"):
        classify(Device(board, timeout=0.5), heavier, raw, labels, progress=False)
    assert board.memory == {}                   # refused before a word was loaded


@pytest.mark.parametrize("prefix, message", [
    (b"TSC1", "the board speaks protocol version 1 and this host tool version 3: rebuild the "
              "bitstream with this version of tsc-snn"),
    (b"TSC\x02", "the board speaks protocol version 2 and this host tool version 3"),
    (b"TSC\x04", "the board speaks protocol version 4 and this host tool version 3"),
    (b"XYZ\x03", "not a tsc-snn accelerator (PING answered b'XYZ\\x03')"),
])
def test_a_board_of_another_protocol_version_is_named(prefix, message):
    """PING's fourth byte is the protocol version; an older bitstream (which sent "TSC1")
    or a newer one is refused with both versions named."""
    board = FakeBoard(b"")
    info = struct.pack(INFO_FORMAT, INPUTS, OUTPUTS, 8, 1, HIDDEN, 64, 24, 16, 0)
    board.write = lambda data: setattr(board, "pending", encode_frame(Command.PING | 0x80,
                                                                      prefix + info))
    with pytest.raises(ProtocolError) as error:
        Device(board, timeout=1).info()
    assert message in str(error.value)


def test_a_reply_to_another_command_is_a_protocol_error():
    class Confused(FakeBoard):
        def write(self, data):
            for _ in self.decoder.feed(data):
                self.pending += encode_frame(Command.RUN | 0x80, _result())
    with pytest.raises(ProtocolError, match=r"reply 0x84 to command 0x01"):
        Device(Confused(b""), timeout=0.5).info()


def test_weights_beyond_one_frame_load_in_frames_within_the_limit():
    from rtl.protocol import MAX_PAYLOAD
    from model.fixedpoint import FixedPointFormat
    from rtl.config import AcceleratorConfig, load_words
    from rtl.golden import random_network
    qnet = random_network((64, 40, 10), 8, FixedPointFormat(), seed=4)   # 2,960 weights
    config = AcceleratorConfig.from_network(qnet, 1)
    board = GoldenBoard(config, {})
    sizes = []
    feed = board.decoder.feed
    board.decoder.feed = lambda data: [sizes.append(len(f.payload)) or f for f in feed(data)]
    Device(board, timeout=0.5).load(qnet)
    assert max(sizes) <= MAX_PAYLOAD and len(sizes) >= 4
    assert dict(load_words(config, qnet)) == board.memory


def test_the_host_asks_the_port_for_exactly_the_bytes_a_reply_lacks():
    # a serial port's read(n) waits out its timeout unless n bytes arrive: asking for more
    # than the reply holds cost a 50 ms timeout per image
    board = FakeBoard(_result())
    sizes = []
    read = board.read
    board.read = lambda size: sizes.append(size) or read(size)
    Device(board, timeout=0.5).run([1, 2, 3, 4])
    reply = len(encode_frame(Command.RUN | 0x80, _result()))
    info = len(encode_frame(Command.PING | 0x80, info_prefix() +
                            bytes(struct.calcsize(INFO_FORMAT))))
    assert sizes == [4, info - 4, 4, reply - 4]


def test_needed_counts_down_to_the_end_of_the_frame():
    frame = encode_frame(Command.RUN | 0x80, b"\x01\x02\x03")
    decoder = FrameDecoder()
    assert decoder.needed() == 4
    decoder.feed(b"\x00" + frame[:2])
    assert decoder.needed() == 2
    decoder.feed(frame[2:5])
    assert decoder.needed() == len(frame) - 5
    assert decoder.feed(frame[5:]) and decoder.needed() == 4


def test_classify_keeps_two_frames_in_flight(golden_digits):
    """The board answers nothing until a second frame has arrived: a host that waited for
    each reply before sending the next frame would time out; and it never has more than two
    frames unanswered (the ring holds two). Frames carry whole images, at most
    CLASSIFY_FRAME_BYTES of them."""
    from rtl.protocol import CLASSIFY_FRAME_BYTES
    qnet, config, raw, labels, want, answers = golden_digits

    class Lagging(GoldenBoard):
        def __init__(self, *args):
            super().__init__(*args)
            self.unread, self.most = [], 0  # each reply's bytes not read; most unanswered

        def write(self, data):
            before = len(self.pending)
            super().write(data)
            if len(self.pending) > before and self.frames_in_flight:
                self.unread.append(len(self.pending) - before)
                self.most = max(self.most, len(self.unread))

        def read(self, size):
            if len(self.frames_in_flight) == 1:
                return b""
            data = super().read(size)
            taken = len(data)
            while taken and self.unread:
                step = min(taken, self.unread[0])
                self.unread[0] -= step
                taken -= step
                if not self.unread[0]:
                    self.unread.pop(0)
            return data
    board = Lagging(config, answers)
    device = Device(board, timeout=0.5)
    device.load(qnet)
    board.frames_in_flight.clear()
    done = []
    images = [w.codes for w in want] * 2
    classes = device.classify(images, lambda d, t: done.append((d, t)))
    assert classes == [w.class_index for w in want] * 2
    size = image_bytes(config.inputs, config.steps)
    sizes = [len(f) for f in board.frames_in_flight]
    assert size == 32 and sizes == [CLASSIFY_FRAME_BYTES] * 3
    assert done == [(8, 24), (16, 24), (24, 24)] and board.most == 2


def test_a_classify_reply_of_the_wrong_length_is_a_protocol_error(golden_digits):
    qnet, config, _, _, want, answers = golden_digits

    class Short(GoldenBoard):
        def write(self, data):
            super().write(data)
            if self.frames_in_flight and self.pending:
                self.pending = encode_frame(Command.CLASSIFY | 0x80, b"\x01")
    device = Device(Short(config, answers), timeout=0.5)
    device.info()
    with pytest.raises(ProtocolError, match="CLASSIFY reply of 1 bytes for 2 images"):
        device.classify([w.codes for w in want[:2]])


def test_the_crc_is_ccitt_false_and_codes_pack_to_their_width():
    """CRC-16/CCITT-FALSE's check value; codes of 5 bits at N = 16, least significant bit
    first, each image padded to a byte, and back."""
    from rtl.protocol import crc16, pack_codes
    assert crc16(b"123456789") == 0x29B1
    assert pack_codes([1, -1, 15, -15], 16) == bytes([0xE1, 0xBF, 0x08])
    codes = [(k * 7) % 31 - 15 for k in range(64)]
    packed = pack_codes(codes, 16)
    assert len(packed) == image_bytes(64, 16) == 40
    assert unpack_codes(packed, 64, 16) == codes
