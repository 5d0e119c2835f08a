"""Request frames off a byte stream, into the frame ring, checked whole."""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .crc import CRC16_INIT, crc16_update
from .protocol import (
    MAX_PAYLOAD,
    RING_BYTES,
    SOF,
    Command,
    ErrorCode,
    image_bytes,
    result_length,
)

__all__ = ["FrameReceiver", "frame_layout", "RING_POINTER"]

# Ring positions count bytes modulo twice the ring, so that a full ring and an empty one
# differ; the ring's address is the low bits.
RING_POINTER = range(2 * RING_BYTES)
RING_ADDRESS_BITS = (RING_BYTES - 1).bit_length()


def frame_layout(config):
    """A received frame, as the receiver hands it on: its command, where its payload starts
    in the ring and how long it is, the load address of a LOAD8 or LOAD32 (``address_far``:
    a bit set past the address space) and the error it is to be answered with (0: none found
    yet)."""
    space = config.weight_depth * config.lanes + config.hidden
    return data.StructLayout({
        "command": 8, "start": RING_POINTER, "length": range(MAX_PAYLOAD + 1),
        "address": range(space + 1), "address_far": 1,
        "error": 3})


class FrameReceiver(wiring.Component):
    """Receive request frames and hand each on, whole and checked, in order.

    A frame's payload is written into the ring from where the previous frame's footprint
    ends, while the frame before it may still be executing; ``live``/``live_start`` say
    which ring bytes the executor still needs. The frame is then checked whole: CRC, a byte
    that found the ring full (BUSY), its length for a LOAD8 or LOAD32 and every LOAD8 weight
    and address (the executor checks a RUN's or CLASSIFY's packed codes before it runs
    them). ``o_frame`` offers it with the first error found; the receiver takes no
    byte until it is taken. A frame that stalls for ``timeout_cycles`` between two bytes is
    handed on as TIMEOUT. Received bytes must come at least 20 cycles apart (a UART's do:
    ten bits of at least two cycles).

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig
    timeout_cycles : int

    Attributes
    ----------
    i_byte : In(stream.Signature(8, always_ready=True))
    o_frame : Out(stream.Signature(frame_layout(config)))
    write_addr, write_data, write_en : Out
        The ring's write port; the receiver's writes always go through.
    live : In(1)
        The executor holds a frame whose bytes start at ``live_start``.
    live_start : In(RING_POINTER)
    """

    def __init__(self, config, timeout_cycles):
        if not isinstance(timeout_cycles, int) or timeout_cycles < 16:
            raise ValueError(f"timeout_cycles must be an integer of at least 16, not "
                             f"{timeout_cycles!r}")
        self.config, self.timeout_cycles = config, timeout_cycles
        super().__init__({
            "i_byte": In(stream.Signature(8, always_ready=True)),
            "o_frame": Out(stream.Signature(frame_layout(config))),
            "write_addr": Out(RING_ADDRESS_BITS), "write_data": Out(8), "write_en": Out(1),
            "live": In(1), "live_start": In(RING_POINTER),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        frame = self.o_frame.payload
        weight_words = c.weight_depth * c.lanes
        run_footprint = max(image_bytes(c.inputs, c.steps),
                            result_length(c.layers[-1], c.hidden))

        # The received byte, registered with its start-of-frame test, so that no byte
        # comparison sits in front of the state register.
        got, byte, is_sof = Signal(), Signal(8), Signal()
        m.d.sync += [got.eq(self.i_byte.valid), byte.eq(self.i_byte.payload),
                     is_sof.eq(self.i_byte.payload == SOF)]

        write = Signal(RING_POINTER)     # where the next payload byte goes
        tail = Signal(RING_POINTER)      # the oldest ring byte still needed
        m.d.comb += tail.eq(Mux(self.live, self.live_start, frame.start))
        # The ring holds RING_BYTES already: registered, so that the ring's write port and
        # the executor's writes beside it do not wait on the subtraction. A byte comes at
        # most every 20 cycles; the tail moves only forward (freeing bytes), so a stale
        # value refuses a byte at worst in the one cycle the last one is freed.
        no_room = Signal()
        m.d.sync += no_room.eq((write - tail)[RING_ADDRESS_BITS])
        index = Signal(range(MAX_PAYLOAD + 1))
        last_index = Signal.like(index)  # length - 1, registered so that compares stay short
        too_long, empty = Signal(), Signal()
        crc, crc_low, crc_high = Signal(16, init=CRC16_INIT), Signal(8), Signal(8)
        ring_full, load_bad, load_past_end = Signal(), Signal(), Signal()
        idle = Signal(range(self.timeout_cycles + 1))
        receiving = Signal()
        with m.If(receiving & ~got):
            m.d.sync += idle.eq(idle + 1)
        with m.Else():
            m.d.sync += idle.eq(0)

        def hand_on(error):
            m.d.sync += frame.error.eq(error)
            m.next = "HAND_ON"

        def stalled():
            with m.If(~got & (idle == self.timeout_cycles - 1)):
                hand_on(ErrorCode.TIMEOUT)

        crc_rx = crc16_update(m, crc, byte, "crc_rx")
        with m.FSM():
            with m.State("SOF"):
                with m.If(got & is_sof):
                    m.d.sync += crc.eq(CRC16_INIT)
                    m.next = "CMD"
            for name, after in (("CMD", "LEN0"), ("LEN0", "LEN1")):
                with m.State(name):
                    m.d.comb += receiving.eq(1)
                    stalled()
                    with m.If(got):
                        m.d.sync += crc.eq(crc_rx)
                        if name == "CMD":
                            m.d.sync += frame.command.eq(byte)
                        else:
                            m.d.sync += frame.length[:8].eq(byte)
                        m.next = after
            with m.State("LEN1"):
                m.d.comb += receiving.eq(1)
                stalled()
                with m.If(got):
                    full = Cat(frame.length[:8], byte)
                    m.d.sync += [crc.eq(crc_rx), frame.length[8:].eq(byte),
                                 last_index.eq(full - 1), too_long.eq(full > MAX_PAYLOAD),
                                 empty.eq(full == 0), index.eq(0), frame.start.eq(write),
                                 frame.address.eq(0), frame.address_far.eq(0),
                                 ring_full.eq(0), load_bad.eq(0)]
                    m.next = "LEN_CHECK"
            with m.State("LEN_CHECK"):
                with m.If(too_long):
                    hand_on(ErrorCode.LENGTH)
                with m.Elif(empty):
                    m.next = "CRC0"
                with m.Else():
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += receiving.eq(1)
                stalled()
                with m.If(got):
                    with m.If(no_room):
                        m.d.sync += ring_full.eq(1)
                    with m.Else():
                        m.d.comb += [self.write_addr.eq(write[:RING_ADDRESS_BITS]),
                                     self.write_data.eq(byte), self.write_en.eq(1)]
                        m.d.sync += write.eq(write + 1)
                    m.d.sync += [crc.eq(crc_rx), index.eq(index + 1)]
                    for k in range(4):
                        with m.If(index == k):
                            self._address_byte(m, k, byte, frame.address, frame.address_far)
                    with m.If((frame.command == Command.LOAD8) & (index >= 4) & (byte == 0x80)):
                        m.d.sync += load_bad.eq(1)
                    with m.If(index == last_index):
                        m.next = "CRC0"
            with m.State("CRC0"):
                m.d.comb += receiving.eq(1)
                stalled()
                m.d.sync += load_past_end.eq(
                    frame.address_far | (frame.address + frame.length - 4 > weight_words))
                with m.If(got):
                    m.d.sync += crc_low.eq(byte)
                    m.next = "CRC1"
            with m.State("CRC1"):
                m.d.comb += receiving.eq(1)
                stalled()
                with m.If(got):
                    m.d.sync += crc_high.eq(byte)
                    m.next = "CHECK"
            with m.State("CHECK"):
                # the first error found, from registers
                with m.If(Cat(crc_low, crc_high) != crc):
                    hand_on(ErrorCode.CRC)
                with m.Elif(ring_full):
                    hand_on(ErrorCode.BUSY)
                with m.Else():
                    hand_on(self._command_error(frame, load_bad, load_past_end))
            with m.State("HAND_ON"):
                m.d.comb += self.o_frame.valid.eq(1)
                with m.If(self.o_frame.ready):
                    # The ring keeps a good frame's footprint; a refused one's bytes are free.
                    # A RUN's result may reach past its payload into bytes of the frames
                    # before it: it is written after they are done. The next frame's bytes
                    # begin past it, and are refused while the ring holds more than it can.
                    with m.If(frame.error != 0):
                        m.d.sync += write.eq(frame.start)
                    with m.Elif(frame.command == Command.RUN):
                        m.d.sync += write.eq(frame.start + run_footprint)
                    m.next = "SOF"
        return m

    @staticmethod
    def _command_error(frame, load_bad, load_past_end):
        """The error a frame that arrived intact is answered with (0: none here; a LOAD32's
        words and a RUN's or CLASSIFY's codes are checked as it executes)."""
        length, command = frame.length, frame.command
        load8 = Mux(length < 5, ErrorCode.LENGTH,
                    Mux(load_bad | load_past_end, ErrorCode.LOAD, 0))
        load32 = Mux((length < 8) | (length[:2] != 0), ErrorCode.LENGTH, 0)
        known = (command == Command.PING) | (command == Command.RUN) | \
            (command == Command.CLASSIFY)
        return Mux(command == Command.LOAD8, load8,
                   Mux(command == Command.LOAD32, load32, Mux(known, 0, ErrorCode.COMMAND)))

    @staticmethod
    def _address_byte(m, k, byte, address, address_far):
        """Byte ``k`` of a frame's 32-bit address: the bits ``address`` holds go there, any
        other set bit marks the address as past the load space."""
        width = len(address)
        low, high = 8 * k, 8 * k + 8
        if low < width:
            m.d.sync += address[low:min(high, width)].eq(byte)
        if high > width:
            with m.If(byte[max(0, width - low):] != 0):
                m.d.sync += address_far.eq(1)
