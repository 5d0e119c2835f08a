"""Host side of the protocol: talk to an accelerator over any byte transport (a serial port,
or a pseudo-terminal that a simulation serves)."""

import struct
import time
from collections import deque
from dataclasses import dataclass

from rtl.config import AcceleratorConfig, load_words

from rtl.protocol import (
    COUNTERS,
    IN_FLIGHT_BYTES,
    INFO_FORMAT,
    INFO_MAGIC,
    MAX_PAYLOAD,
    PROTOCOL_VERSION,
    REPLY,
    Command,
    ErrorCode,
    FrameDecoder,
    InfoFlag,
    ProtocolError,
    encode_frame,
    image_bytes,
    images_per_frame,
    pack_codes,
)

__all__ = ["Info", "Result", "Device"]


@dataclass(frozen=True)
class Info:
    inputs: int
    outputs: int
    steps: int
    lanes: int
    hidden: int
    weight_words: int
    v_bits: int
    dvdt_bits: int
    flags: int

    @property
    def weights_in_spram(self):
        return bool(self.flags & InfoFlag.SPRAM)

    @property
    def loaded(self):
        """A load has been applied since the board was configured."""
        return bool(self.flags & InfoFlag.LOADED)


@dataclass(frozen=True)
class Result:
    class_index: int
    potentials: list
    counters: dict


class Device:
    """One accelerator behind ``port``: an object with ``write(bytes)`` and ``read(n)`` that
    returns what is there (possibly nothing) within its own timeout, as pyserial's does.

    Every reply is waited for at most ``timeout`` seconds; a silent board raises
    :class:`~rtl.protocol.ProtocolError` instead of hanging.
    """

    def __init__(self, port, timeout=2.0):
        self.port, self.timeout = port, timeout
        self.decoder = FrameDecoder()
        self.frames = deque()   # replies read but not yet asked for
        self._info = None

    def send(self, command, payload=b""):
        """Send one frame without waiting for its reply (see :meth:`receive`)."""
        self.port.write(encode_frame(command, payload))

    def receive(self, command):
        """The payload of the next reply, which must answer ``command``."""
        deadline = time.monotonic() + self.timeout
        while not self.frames:
            if time.monotonic() >= deadline:
                raise ProtocolError(f"no reply to command {command:#04x} within "
                                    f"{self.timeout} s; is the board programmed and the port "
                                    f"right?")
            # exactly the bytes the reply still lacks: the read returns when it is complete
            self.frames.extend(self.decoder.feed(self.port.read(self.decoder.needed())))
        frame = self.frames.popleft()
        if frame.command == Command.ERROR:
            code = frame.payload[0] if frame.payload else 0
            raise ProtocolError(f"the board refused command {command:#04x}: "
                                f"{ErrorCode.NAMES.get(code, f'error {code}')}")
        if frame.command != command | REPLY:
            raise ProtocolError(f"reply {frame.command:#04x} to command {command:#04x}")
        return frame.payload

    def request(self, command, payload=b""):
        """Send one frame and return its reply's payload."""
        self.send(command, payload)
        return self.receive(command)

    def info(self, fresh=False):
        """The board's :class:`Info` (asked once; ``fresh`` asks again, for its flags)."""
        if self._info is None or fresh:
            payload = self.request(Command.PING)
            if payload[:3] != INFO_MAGIC or len(payload) < 4:
                raise ProtocolError(f"not a tsc-snn accelerator (PING answered {payload[:4]!r})")
            version = 1 if payload[3] == ord("1") else payload[3]
            if version != PROTOCOL_VERSION:
                raise ProtocolError(f"the board speaks protocol version {version} and this host "
                                    f"tool version {PROTOCOL_VERSION}: rebuild the bitstream "
                                    f"with this version of tsc-snn (python -m rtl.build), or "
                                    f"run the host tool of the version that built it")
            if len(payload) != 4 + struct.calcsize(INFO_FORMAT):
                raise ProtocolError(f"INFO reply of {len(payload)} bytes, expected "
                                    f"{4 + struct.calcsize(INFO_FORMAT)}: rebuild the bitstream "
                                    f"with this version of tsc-snn")
            self._info = Info(*struct.unpack_from(INFO_FORMAT, payload, 4))
        return self._info

    def require_weights(self):
        """Raise :class:`~rtl.protocol.ProtocolError` when the board's weights are in SPRAM
        (which the bitstream cannot initialise) and nothing has been loaded since it was
        configured."""
        info = self.info(fresh=True)
        if info.weights_in_spram and not info.loaded:
            raise ProtocolError("the board keeps its weights in SPRAM, which the bitstream "
                                "does not initialise, and none have been loaded since it was "
                                "configured: load the network (run without --no-load)")

    def config_for(self, qnet):
        """The accelerator's parameters for ``qnet``, checked against what the board reports;
        raises :class:`rtl.config.NetworkMismatch` naming the difference."""
        info = self.info()
        config = AcceleratorConfig.from_network(qnet, info.lanes)
        board = AcceleratorConfig(info.inputs, config.layers[:-1] + (info.outputs,), info.steps,
                                  type(qnet.fmt)(8, info.dvdt_bits, info.v_bits), qnet.rounding,
                                  info.lanes)
        board.check_network(qnet)
        if config.weight_depth * config.lanes != info.weight_words:
            from rtl.config import NetworkMismatch
            raise NetworkMismatch(f"the network has {config.weight_depth * config.lanes} weight "
                                  f"words, the board {info.weight_words}")
        return config

    def load(self, qnet, progress=None):
        """Load ``qnet``'s weights and thresholds; ``progress(done, total)`` after each frame."""
        config = self.config_for(qnet)
        words = load_words(config, qnet)
        top = config.weight_depth * config.lanes
        weights = bytes(v & 0xFF for a, v in words if a < top)
        chunk = MAX_PAYLOAD - 4
        for start in range(0, len(weights), chunk):
            self.request(Command.LOAD8, struct.pack("<I", start) + weights[start:start + chunk])
            if progress:
                progress(min(start + chunk, len(weights)), len(weights))
        thresholds = [v for a, v in words if a >= top]
        self.request(Command.LOAD32, struct.pack("<I", top) +
                     b"".join(struct.pack("<i", t) for t in thresholds))
        return config

    def _packed(self, codes):
        info = self.info()
        if len(codes) != info.inputs:
            raise ValueError(f"expected {info.inputs} codes, got {len(codes)}")
        return pack_codes(codes, info.steps)

    def classify(self, images, progress=None):
        """The class of each image (its input codes, as for :meth:`run`): CLASSIFY frames of
        a few images, two in flight when they fit the board's ring (the board receives one
        while it executes the other), so that the link is never idle waiting for a reply.
        ``progress(done, total)`` after each reply."""
        info = self.info()
        per_frame = images_per_frame(info.inputs, info.steps)
        in_flight = 2 if per_frame * image_bytes(info.inputs, info.steps) <= IN_FLIGHT_BYTES else 1
        frames = [[self._packed(codes) for codes in images[start:start + per_frame]]
                  for start in range(0, len(images), per_frame)]
        classes, sent, answered = [], 0, 0
        while answered < len(frames):
            while sent < len(frames) and sent - answered < in_flight:
                self.send(Command.CLASSIFY, b"".join(frames[sent]))
                sent += 1
            reply = self.receive(Command.CLASSIFY)
            if len(reply) != len(frames[answered]):
                raise ProtocolError(f"CLASSIFY reply of {len(reply)} bytes for "
                                    f"{len(frames[answered])} images: rebuild the bitstream or "
                                    f"update the host tool so that both agree")
            classes += list(reply)
            answered += 1
            if progress:
                progress(len(classes), len(images))
        return classes

    def run(self, codes):
        """Run one image given its input codes, channels last (the order of
        :func:`rtl.golden.expected`'s ``codes``): its class, the output potentials and the
        counters."""
        info = self.info()
        payload = self.request(Command.RUN, self._packed(codes))
        extra = len(COUNTERS) + info.hidden + 1
        layout = f"<B{info.outputs}i{extra}I"
        if len(payload) != struct.calcsize(layout):
            raise ProtocolError(f"RESULT reply of {len(payload)} bytes, expected "
                                f"{struct.calcsize(layout)} (class, {info.outputs} potentials, "
                                f"{extra} counters): rebuild the bitstream or update the host "
                                f"tool so that both agree")
        values = struct.unpack(layout, payload)[1:]
        counters = dict(zip(COUNTERS, values[info.outputs:]))
        for layer in range(info.hidden + 1):
            counters[f"spikes_{layer}"] = values[info.outputs + len(COUNTERS) + layer]
        return Result(payload[0], list(values[:info.outputs]), counters)
