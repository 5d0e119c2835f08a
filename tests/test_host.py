"""The host tool's side of the protocol against a scripted fake board: every reply it cannot
use is a ProtocolError naming the problem, never a struct or index error."""

import struct

import pytest

from fpga.host import Device
from fpga.protocol import (COUNTERS, INFO_FORMAT, Command, FrameDecoder, ProtocolError,
                           encode_frame)

INPUTS, OUTPUTS, HIDDEN = 4, 3, 1


class FakeBoard:
    """Answers PING with an INFO for a 4-input, 3-output network and RUN with ``result``."""

    def __init__(self, result):
        self.result, self.pending, self.decoder = result, b"", FrameDecoder()

    def write(self, data):
        for frame in self.decoder.feed(data):
            if frame.command == Command.PING:
                info = struct.pack(INFO_FORMAT, INPUTS, OUTPUTS, 8, 1, HIDDEN, 64, 24, 16, 0)
                self.pending += encode_frame(Command.PING | 0x80, b"TSC1" + info)
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
