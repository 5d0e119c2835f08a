"""Received frames carried out on the accelerator, one at a time, in order."""

import struct

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .accelerator import TSCAccelerator
from .protocol import (
    COUNTERS,
    INFO_FORMAT,
    MAX_PAYLOAD,
    REPLY,
    Command,
    ErrorCode,
    InfoFlag,
    info_prefix,
    result_length,
)
from .receiver import RING_ADDRESS_BITS, RING_POINTER, frame_layout
from .transmitter import REPLY_LAYOUT
from .unpack import CodeUnpacker

__all__ = ["CommandExecutor", "info_bytes"]


def info_bytes(config, loaded=False):
    """The PING reply's payload for ``config``, its flags byte last."""
    flags = (InfoFlag.SPRAM if config.weight_memory == "spram" else 0) | \
        (InfoFlag.LOADED if loaded else 0)
    return info_prefix() + struct.pack(INFO_FORMAT, config.inputs, config.layers[-1],
                                       config.steps, config.lanes, config.hidden,
                                       config.weight_depth * config.lanes, config.fmt.v_bits,
                                       config.fmt.dvdt_bits, flags)


WRITE_LAYOUT = data.StructLayout({"addr": RING_ADDRESS_BITS, "data": 8})


class CommandExecutor(wiring.Component):
    """Carry out each frame the receiver hands on and produce its reply.

    PING answers the board's parameters; LOAD8 and LOAD32 write the accelerator's memories
    (a LOAD32's words are all checked before the first is written). RUN and CLASSIFY read
    their images' packed codes from the ring through a :class:`~rtl.unpack.CodeUnpacker`
    twice: first to check them (every code in range, padding zero, whole images: one for a
    RUN, at least one for a CLASSIFY), then into the accelerator, the next image's codes
    waiting while one runs. A CLASSIFY writes
    image ``i``'s class over its ring byte ``i`` (read long before); a RUN writes its RESULT
    over its footprint. A reply's payload is read out of the ring, the INFO constants or
    the error byte for ``o_payload``. The frame's ring bytes stay ``live`` until its reply's
    last payload byte has been taken.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig
    network : model.quantize.IntegerNetwork or None
        Initial contents of the accelerator's memories.

    Attributes
    ----------
    i_frame : In(stream.Signature(frame_layout(config)))
    read_addr : Out, read_data : In
        The ring's read port (data a cycle after the address).
    o_write : Out(stream.Signature(WRITE_LAYOUT))
        Writes into the ring, taken when the receiver is not writing.
    live : Out(1), live_start : Out(RING_POINTER)
    o_reply : Out(stream.Signature(REPLY_LAYOUT)), o_payload : Out(stream.Signature(8))
    """

    def __init__(self, config, network=None):
        self.config = config
        self.accelerator = TSCAccelerator(config, network)
        self.unpacker = CodeUnpacker(config.inputs, config.code_bits)
        super().__init__({
            "i_frame": In(stream.Signature(frame_layout(config))),
            "read_addr": Out(RING_ADDRESS_BITS), "read_data": In(8),
            "o_write": Out(stream.Signature(WRITE_LAYOUT)),
            "live": Out(1), "live_start": Out(RING_POINTER),
            "o_reply": Out(stream.Signature(REPLY_LAYOUT)),
            "o_payload": Out(stream.Signature(8)),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        m.submodules.accelerator = acc = self.accelerator
        m.submodules.unpacker = unpacker = self.unpacker
        frame = Signal(frame_layout(c))
        weight_words = c.weight_depth * c.lanes
        space = weight_words + c.hidden
        m.d.comb += [self.live_start.eq(frame.start), acc.o_spike.ready.eq(1)]

        cursor = Signal(RING_POINTER)              # the ring byte being read
        index = Signal.like(frame.length)          # its place in the payload
        m.d.comb += self.read_addr.eq(cursor[:RING_ADDRESS_BITS])
        error = Signal(8)
        loaded = Signal()  # a LOAD8 or LOAD32 frame has been applied since configuration
        *fixed, flags = info_bytes(c)
        info = Array([*(Const(b, 8) for b in fixed),
                      Const(flags, 8) | Mux(loaded, InfoFlag.LOADED, 0)])

        # The images' codes: ring -> unpacker -> the check, then ring -> unpacker ->
        # accelerator, the unpacker holding the next image's first codes until the
        # accelerator is idle again.
        checking = Signal()        # the codes go to the check, not to the accelerator
        images = Signal(range(MAX_PAYLOAD + 1))  # whole images found by the check
        code_bad = Signal()
        code = unpacker.o_code.payload.code
        m.d.comb += [acc.i_code.valid.eq(unpacker.o_code.valid & ~checking),
                     acc.i_code.payload.eq(code),
                     unpacker.o_code.ready.eq(checking | acc.i_code.ready),
                     unpacker.i_byte.payload.eq(self.read_data)]
        with m.If(checking & unpacker.o_code.valid):
            with m.If((code < -(c.steps - 1)) | (code > c.steps - 1)):
                m.d.sync += code_bad.eq(1)
            with m.If(unpacker.o_code.payload.last):
                m.d.sync += images.eq(images + 1)
        with m.If(checking & unpacker.padding_error):
            m.d.sync += code_bad.eq(1)
        # The check is over when every byte is read and every code is out (the unpacker
        # wants a byte or has finished an image); registered, with the verdict on the
        # images, so that the executor's state logic stays shallow.
        drained, length_bad = Signal(), Signal()
        start_check = Signal()     # a RUN's or CLASSIFY's check begins (one cycle)
        start_images = Signal()    # its images begin (one cycle)
        collected = Signal()       # their results are in the ring (a register)
        feeding = self._feed(m, frame, cursor, start_check | start_images)
        self._collect(m, frame, images, start_images, collected)
        m.d.sync += [
            drained.eq(~feeding & ~unpacker.o_code.valid &
                       (unpacker.at_image_start | unpacker.i_byte.ready)),
            length_bad.eq(~unpacker.at_image_start | (images == 0) |
                          ((frame.command == Command.RUN) & (images != 1)))]

        def reply(command, length):
            m.d.sync += [self.o_reply.payload.command.eq(command),
                         self.o_reply.payload.length.eq(length)]
            m.next = "REPLY"

        def fail(code):
            m.d.sync += error.eq(code)
            reply(Command.ERROR, 1)

        # LOAD32: every word is checked (pass 1) before any is written (pass 2).
        apply, nbytes = Signal(), Signal(3)
        word, target = Signal(32), Signal(range(space + 1024))
        word_ok, last_word = Signal(), Signal()

        def rewind():
            m.d.sync += [index.eq(4), cursor.eq(frame.start + 4), nbytes.eq(0),
                         target.eq(frame.address)]

        with m.FSM(name="executor") as executor:
            with m.State("IDLE"):
                m.d.comb += self.i_frame.ready.eq(1)
                with m.If(self.i_frame.valid):
                    m.d.sync += frame.eq(self.i_frame.payload)
                    m.next = "DISPATCH"
            with m.State("DISPATCH"):
                m.d.comb += unpacker.clear.eq(1)
                with m.If(frame.error != 0):
                    fail(frame.error)
                with m.Else():
                    with m.Switch(frame.command):
                        with m.Case(Command.PING):
                            reply(Command.PING | REPLY, len(info_bytes(c)))
                        with m.Case(Command.LOAD8):
                            rewind()
                            m.next = "L8_READ"
                        with m.Case(Command.LOAD32):
                            rewind()
                            m.d.sync += apply.eq(0)
                            m.next = "W_READ"
                        with m.Case(Command.RUN, Command.CLASSIFY):
                            with m.If(frame.length == 0):
                                fail(ErrorCode.LENGTH)
                            with m.Else():
                                m.d.comb += start_check.eq(1)
                                m.d.sync += [checking.eq(1), images.eq(0), code_bad.eq(0),
                                             drained.eq(0)]
                                m.next = "CHECK"
            with m.State("L8_READ"):
                m.next = "L8_SEND"
            with m.State("L8_SEND"):
                m.d.comb += [acc.i_load.valid.eq(1),
                             acc.i_load.payload.address.eq(target),
                             acc.i_load.payload.value.eq(self.read_data.as_signed())]
                with m.If(acc.i_load.ready):
                    m.d.sync += [index.eq(index + 1), cursor.eq(cursor + 1),
                                 target.eq(target + 1)]
                    with m.If(index == frame.length - 1):
                        m.d.sync += loaded.eq(1)
                        reply(Command.LOAD8 | REPLY, 0)
                    with m.Else():
                        m.next = "L8_READ"
            with m.State("W_READ"):
                m.d.sync += [index.eq(index + 1), cursor.eq(cursor + 1), nbytes.eq(nbytes + 1)]
                m.next = "W_CAPTURE"
            with m.State("W_CAPTURE"):
                m.d.sync += word.eq(Cat(word[8:], self.read_data))
                with m.If(nbytes == 4):
                    m.next = "W_VALIDATE"
                with m.Else():
                    m.next = "W_READ"
            with m.State("W_VALIDATE"):
                # the word's checks, registered for W_CHECK
                is_weight = ~frame.address_far & (target < weight_words)
                is_threshold = ~frame.address_far & ~is_weight & (target < space)
                m.d.sync += [
                    word_ok.eq((is_weight & self._fits_weight(word)) |
                               (is_threshold & self._fits_threshold(word, c.fmt.v_bits))),
                    last_word.eq(index == frame.length)]
                m.next = "W_CHECK"
            with m.State("W_CHECK"):
                with m.If(~apply):
                    with m.If(~word_ok):
                        fail(ErrorCode.LOAD)
                    with m.Elif(last_word):
                        rewind()
                        m.d.sync += apply.eq(1)
                        m.next = "W_READ"
                    with m.Else():
                        m.d.sync += [nbytes.eq(0), target.eq(target + 1)]
                        m.next = "W_READ"
                with m.Else():
                    m.d.comb += [acc.i_load.valid.eq(1), acc.i_load.payload.address.eq(target),
                                 acc.i_load.payload.value.eq(word.as_signed())]
                    with m.If(acc.i_load.ready):
                        m.d.sync += [nbytes.eq(0), target.eq(target + 1)]
                        with m.If(last_word):
                            m.d.sync += loaded.eq(1)
                            reply(Command.LOAD32 | REPLY, 0)
                        with m.Else():
                            m.next = "W_READ"
            with m.State("CHECK"):
                with m.If(drained):
                    m.d.sync += checking.eq(0)
                    with m.If(length_bad):
                        fail(ErrorCode.LENGTH)
                    with m.Elif(code_bad):
                        fail(ErrorCode.CODE)
                    with m.Else():
                        m.d.comb += start_images.eq(1)
                        m.next = "IMAGES"
            with m.State("IMAGES"):
                with m.If(collected):
                    m.d.sync += collected.eq(0)
                    with m.If(frame.command == Command.RUN):
                        reply(Command.RUN | REPLY, result_length(c.layers[-1], c.hidden))
                    with m.Else():
                        reply(Command.CLASSIFY | REPLY, images)
            with m.State("REPLY"):
                m.d.comb += self.o_reply.valid.eq(1)
                with m.If(self.o_reply.ready):
                    m.d.sync += [index.eq(0), cursor.eq(frame.start)]
                    with m.If(self.o_reply.payload.length == 0):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "BODY_READ"
            with m.State("BODY_READ"):
                m.next = "BODY_OFFER"
            with m.State("BODY_OFFER"):
                m.d.comb += self.o_payload.valid.eq(1)
                with m.Switch(self.o_reply.payload.command):
                    with m.Case(Command.PING | REPLY):
                        m.d.comb += self.o_payload.payload.eq(info[index])
                    with m.Case(Command.ERROR):
                        m.d.comb += self.o_payload.payload.eq(error)
                    with m.Default():
                        m.d.comb += self.o_payload.payload.eq(self.read_data)
                with m.If(self.o_payload.ready):
                    m.d.sync += [index.eq(index + 1), cursor.eq(cursor + 1)]
                    with m.If(index == self.o_reply.payload.length - 1):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "BODY_READ"
        # the frame's ring bytes are needed from its dispatch to its reply's last byte
        m.d.comb += self.live.eq(~executor.ongoing("IDLE"))
        return m

    def _feed(self, m, frame, cursor, start):
        """The images' bytes, read from the ring into the unpacker, until the payload's end;
        returns whether bytes are still to come."""
        unpacker = self.unpacker
        end = Signal(RING_POINTER)
        with m.FSM(name="feed") as feed:
            with m.State("IDLE"):
                with m.If(start):
                    m.d.sync += [cursor.eq(frame.start), end.eq(frame.start + frame.length)]
                    m.next = "READ"
            with m.State("READ"):
                m.next = "OFFER"
            with m.State("OFFER"):
                m.d.comb += unpacker.i_byte.valid.eq(1)
                with m.If(unpacker.i_byte.ready):
                    m.d.sync += cursor.eq(cursor + 1)
                    with m.If(cursor + 1 == end):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "READ"
        return ~feed.ongoing("IDLE")

    def _collect(self, m, frame, images, start, collected):
        """Each image's results into the ring: a CLASSIFY's class at ring byte ``i``; a
        RUN's RESULT (class, potentials, counters and spike counts, little-endian words)."""
        c, acc = self.config, self.accelerator
        counters = [getattr(acc, name) for name in COUNTERS]
        counters += [getattr(acc, f"spikes_{layer}") for layer in range(c.hidden + 1)]
        remaining = Signal.like(images)            # images whose class is still to come
        place = Signal(RING_POINTER)               # where the next result byte goes
        word, counter_word = Signal(32), Signal(32)
        nbytes = Signal(2)
        which = Signal(range(len(counters) + 1))
        counting = Signal()                        # storing counters (else potentials)
        m.d.comb += self.o_write.payload.addr.eq(place[:RING_ADDRESS_BITS])
        with m.FSM(name="collect"):
            with m.State("IDLE"):
                with m.If(start):
                    # a RUN's class goes first, before its potentials
                    m.d.sync += [remaining.eq(images), counting.eq(0), which.eq(0),
                                 place.eq(frame.start + (frame.command == Command.RUN))]
                    m.next = "POTENTIAL"
            with m.State("POTENTIAL"):
                m.d.comb += acc.o_potential.ready.eq(1)
                with m.If(acc.o_potential.valid):
                    with m.If(frame.command == Command.CLASSIFY):
                        with m.If(acc.o_potential.payload.last):
                            m.next = "CLASS"
                    with m.Else():
                        m.d.sync += [word.eq(acc.o_potential.payload.value), nbytes.eq(0),
                                     counting.eq(acc.o_potential.payload.last)]
                        m.next = "STORE"
            with m.State("COUNTER"):
                # select the counter into its own register, then into the word
                m.d.sync += [counter_word.eq(Array(counters)[which]), which.eq(which + 1)]
                m.next = "COUNTER_WORD"
            with m.State("COUNTER_WORD"):
                m.d.sync += [word.eq(counter_word), nbytes.eq(0)]
                m.next = "STORE"
            with m.State("STORE"):
                m.d.comb += [self.o_write.valid.eq(1),
                             self.o_write.payload.data.eq(word.word_select(nbytes, 8))]
                with m.If(self.o_write.ready):
                    m.d.sync += [place.eq(place + 1), nbytes.eq(nbytes + 1)]
                    with m.If(nbytes == 3):
                        with m.If(~counting):
                            m.next = "POTENTIAL"
                        with m.Elif(which == len(counters)):
                            m.d.sync += place.eq(frame.start)
                            m.next = "CLASS"
                        with m.Else():
                            m.next = "COUNTER"
            with m.State("CLASS"):
                m.d.comb += [self.o_write.valid.eq(1),
                             self.o_write.payload.data.eq(acc.class_index)]
                with m.If(self.o_write.ready):
                    m.d.sync += [remaining.eq(remaining - 1), place.eq(place + 1)]
                    with m.If(remaining == 1):
                        m.d.sync += collected.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "POTENTIAL"

    @staticmethod
    def _fits_weight(word):
        """A 32-bit two's complement word in [-127, 127] (equality tests, no comparator)."""
        high = word[7:]
        return (high == 0) | ((high == (1 << len(high)) - 1) & (word[:7] != 0))

    @staticmethod
    def _fits_threshold(word, v_bits):
        """A 32-bit word in [1, 2**(v_bits - 1) - 1]."""
        return (word[v_bits - 1:] == 0) & (word[:v_bits - 1] != 0)
