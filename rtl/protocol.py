"""The framed serial protocol between a host and the accelerator (``docs/protocol.md``).

Frame, both directions::

    0xA5 | command (1) | length (2, LE) | payload (length bytes) | CRC-16 (2, LE)

The CRC is CRC-16/CCITT-FALSE (polynomial 0x1021, initial 0xFFFF, no reflection, no final
XOR) over command, length and payload. The board answers every frame, in order:
``command | 0x80`` with a payload on success, or ``ERROR`` with one byte saying why. A frame
that fails any check changes nothing on the board.

Input codes travel packed: ``code_bits(N)`` bits each (two's complement, 5 at N = 16), least
significant bit first, each image padded with zero bits to a whole byte (``image_bytes``).
The board receives the next frame while it executes one: a host may keep two frames in
flight when each occupies at most ``IN_FLIGHT_BYTES`` of the board's frame ring (a RUN
occupies its RESULT's length when that is longer than its payload).
"""

import struct
from dataclasses import dataclass

__all__ = ["SOF", "MAX_PAYLOAD", "RING_BYTES", "IN_FLIGHT_BYTES", "Command", "INFO_FORMAT",
           "InfoFlag", "ErrorCode", "crc16", "encode_frame", "FrameDecoder", "ProtocolError",
           "COUNTERS", "code_bits", "image_bytes", "pack_codes", "unpack_codes",
           "result_length", "CLASSIFY_FRAME_BYTES", "images_per_frame",
           "link_images_per_s"]

SOF = 0xA5
MAX_PAYLOAD = 1024
# The board keeps received payloads in a ring of this many bytes; a frame's bytes stay there
# until its reply has been sent (a RUN's footprint is at least its RESULT's length).
RING_BYTES = 1024
# Two frames of at most this footprint fit the ring: one executing, the next arriving.
IN_FLIGHT_BYTES = RING_BYTES // 2
# A host's CLASSIFY frames carry about this many payload bytes (at least one image): a few
# images each, so that the last frame's images, computed after the link has carried them,
# are a small share of a run, and the frame's 6 bytes are a small share of the link.
CLASSIFY_FRAME_BYTES = 256
REPLY = 0x80
# Counters in the order RESULT carries them, after the class and the potentials.
COUNTERS = ("cycles", "synaptic", "membrane", "weight_reads", "saturations")


class Command:
    PING = 0x01     # -> INFO: b"TSC", version u8, inputs u16, outputs u16, steps u16, lanes u8,
    #                   hidden u8, weight_words u32, v_bits u8, dvdt_bits u8, flags u8
    LOAD8 = 0x02    # address u32, then int8 weights (load-port addresses address, address+1...)
    LOAD32 = 0x03   # address u32, then int32 values (weights or thresholds)
    RUN = 0x04      # one image's packed input codes -> RESULT
    CLASSIFY = 0x05  # one or more images' packed input codes -> one class u8 per image
    ERROR = 0x7F    # board -> host: one ErrorCode byte


INFO_FORMAT = "<HHHBBIBBB"  # PING's reply after INFO_MAGIC and the version: fpga.host.Info
INFO_MAGIC = b"TSC"
# The protocol's version, the INFO reply's fourth byte: the host and the gateware must agree.
# 2: the version byte (version 1 sent the character "1" there, 0x31, and is read as 1).
# 3: packed input codes, CLASSIFY, frames received while one executes, error BUSY.
PROTOCOL_VERSION = 3


def info_prefix():
    """The first bytes of every INFO reply: the magic and the protocol version."""
    return INFO_MAGIC + bytes([PROTOCOL_VERSION])


class InfoFlag:
    """Bits of the INFO reply's flags byte."""

    SPRAM = 0x01    # the weights live in SPRAM: unknown after configuration until loaded
    LOADED = 0x02   # a LOAD8 or LOAD32 frame has been applied since configuration


class ErrorCode:
    CRC = 1         # checksum mismatch
    LENGTH = 2      # payload too long, or the wrong length for the command
    COMMAND = 3     # unknown command
    LOAD = 4        # a load word out of range (address or value): nothing was written
    TIMEOUT = 5     # the frame stalled mid-way
    CODE = 6        # an input code outside [-(N-1), N-1], or an image's padding not zero
    BUSY = 7        # the frame did not fit the ring beside the frames in flight
    NAMES = {1: "checksum mismatch", 2: "bad length", 3: "unknown command",
             4: "load out of range", 5: "frame timed out",
             6: "input code out of range (or nonzero padding)",
             7: "board busy: too many frames in flight"}


class ProtocolError(RuntimeError):
    """The board answered with an error, or the host could not read a valid answer."""


def code_bits(steps):
    """Bits of one packed input code at ``steps`` (N): two's complement for +-(N - 1)."""
    return (steps - 1).bit_length() + 1


def image_bytes(inputs, steps):
    """Bytes of one image's packed codes."""
    return (inputs * code_bits(steps) + 7) // 8


def pack_codes(codes, steps):
    """One image's input codes packed, least significant bit first, padded to a byte."""
    bits = code_bits(steps)
    mask = (1 << bits) - 1
    value = 0
    for number, code in enumerate(codes):
        value |= (int(code) & mask) << (number * bits)
    return value.to_bytes(image_bytes(len(codes), steps), "little")


def unpack_codes(data, inputs, steps):
    """The codes of one image packed by :func:`pack_codes`."""
    bits = code_bits(steps)
    value = int.from_bytes(data, "little")
    codes = [(value >> (number * bits)) & ((1 << bits) - 1) for number in range(inputs)]
    return [c - (1 << bits) if c >> (bits - 1) else c for c in codes]


def images_per_frame(inputs, steps):
    """Images a host puts in one CLASSIFY frame (:data:`CLASSIFY_FRAME_BYTES`)."""
    return max(1, CLASSIFY_FRAME_BYTES // image_bytes(inputs, steps))


def link_images_per_s(inputs, steps, baud):
    """Images/s the link carries with CLASSIFY frames of :func:`images_per_frame` images
    back to back: the host's bytes (ten bits each) are the bottleneck; the replies (a byte
    per image) travel the other way at the same time."""
    per_frame = images_per_frame(inputs, steps)
    frame = 6 + per_frame * image_bytes(inputs, steps)
    return baud / 10 * per_frame / frame


def result_length(outputs, hidden):
    """Bytes of a RESULT payload: class, then potentials, counters and spike counts (u32)."""
    return 1 + 4 * (outputs + len(COUNTERS) + hidden + 1)


def _crc16_table():
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
        table.append(crc)
    return table


_CRC16_TABLE = _crc16_table()   # the CRC of each byte from 0, a byte at a time


def crc16(data, crc=0xFFFF):
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16_TABLE[(crc >> 8) ^ byte]
    return crc


def encode_frame(command, payload=b""):
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    body = bytes([command]) + struct.pack("<H", len(payload)) + bytes(payload)
    return bytes([SOF]) + body + struct.pack("<H", crc16(body))


@dataclass
class Frame:
    command: int
    payload: bytes


class FrameDecoder:
    """Incremental decoder of board replies: feed bytes, get complete frames."""

    def __init__(self):
        self.buffer = bytearray()

    def needed(self):
        """Bytes still missing from the frame at the start of the buffer (at least 1): what
        to ask the port for, so that a read returns as soon as the frame is complete."""
        start = self.buffer.find(bytes([SOF]))
        if start < 0:
            return 4
        have = len(self.buffer) - start
        if have < 4:
            return 4 - have
        length = self.buffer[start + 2] | self.buffer[start + 3] << 8
        return max(1, 6 + length - have) if length <= MAX_PAYLOAD else 1

    def feed(self, data):
        self.buffer += data
        frames = []
        while True:
            start = self.buffer.find(bytes([SOF]))
            if start < 0:
                self.buffer.clear()
                return frames
            del self.buffer[:start]
            if len(self.buffer) < 4:
                return frames
            length = self.buffer[2] | self.buffer[3] << 8
            if length > MAX_PAYLOAD:
                del self.buffer[:1]
                continue
            if len(self.buffer) < 6 + length:
                return frames
            body = bytes(self.buffer[1:4 + length])
            (crc,) = struct.unpack_from("<H", self.buffer, 4 + length)
            if crc != crc16(body):
                del self.buffer[:1]
                continue
            frames.append(Frame(body[0], body[3:]))
            del self.buffer[:6 + length]
