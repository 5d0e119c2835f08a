"""The host link: the framed protocol of :mod:`fpga.protocol` in gateware, around the
accelerator.

Bytes arrive on ``i_byte`` (from a UART receiver) and replies leave on ``o_byte``. A frame is
buffered whole and checked (length, CRC, command, every load word or input code) before
anything is written, so a bad frame changes nothing and is answered with ``ERROR``. A frame
that stalls for ``timeout_cycles`` between two bytes is dropped and answered with
``ERROR TIMEOUT``. Bytes that arrive while a reply is being produced are ignored (the host
waits for each reply). Received bytes must come at least two cycles apart (a UART's come at
least 20 apart): the length is checked in the cycle after it arrives.
"""

import struct

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from fpga.protocol import (
    COUNTERS,
    INFO_FORMAT,
    MAX_PAYLOAD,
    REPLY,
    SOF,
    Command,
    ErrorCode,
    InfoFlag,
    info_prefix,
)

from .accelerator import TSCAccelerator
from .crc import CRC16_INIT, crc16_update

__all__ = ["HostLink", "info_bytes", "result_length"]


def info_bytes(config, loaded=False):
    """The PING reply's payload for ``config``, its flags byte last."""
    flags = (InfoFlag.SPRAM if config.weight_memory == "spram" else 0) | \
        (InfoFlag.LOADED if loaded else 0)
    return info_prefix() + struct.pack(INFO_FORMAT, config.inputs, config.layers[-1], config.steps,
                                 config.lanes, config.hidden, config.weight_depth * config.lanes,
                                 config.fmt.v_bits, config.fmt.dvdt_bits, flags)


def result_words(config):
    return config.layers[-1] + len(COUNTERS) + config.hidden + 1


def result_length(config):
    """Bytes of a RESULT payload: class, then potentials, counters and spike counts (u32)."""
    return 1 + 4 * result_words(config)


class HostLink(wiring.Component):
    """Protocol engine and accelerator.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig
    network : model.quantize.IntegerNetwork or None
        Initial contents of the accelerator's memories.
    timeout_cycles : int
        Idle cycles after which a partly received frame is dropped.
    """

    i_byte: In(stream.Signature(8, always_ready=True))
    o_byte: Out(stream.Signature(8))

    def __init__(self, config, network=None, timeout_cycles=1_000_000):
        if not isinstance(timeout_cycles, int) or timeout_cycles < 16:
            raise ValueError(f"timeout_cycles must be an integer of at least 16, not "
                             f"{timeout_cycles!r}")
        self.config = config
        self.accelerator = TSCAccelerator(config, network)
        self.timeout_cycles = timeout_cycles
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        c = self.config
        m.submodules.accelerator = acc = self.accelerator
        m.submodules.buffer = buffer = Memory(shape=8, depth=MAX_PAYLOAD, init=[])
        buf_w = buffer.write_port()
        buf_r = buffer.read_port()
        weight_words = c.weight_depth * c.lanes

        # Lengths and indices within a frame: a payload is at most MAX_PAYLOAD bytes.
        count = range(MAX_PAYLOAD + 2)
        # Load-port addresses: the frame's 32-bit address keeps the bits the address space
        # needs; any higher bit set is remembered as ``address_far`` (past the space).
        space = weight_words + c.hidden
        command = Signal(8)
        length = Signal(count)
        last_index = Signal(count)  # length - 1, registered so that compares stay short
        index = Signal(count)
        load_past_end = Signal()   # a LOAD8's last address is past the weights
        too_long = Signal()        # the length field exceeds MAX_PAYLOAD
        empty = Signal()           # the length field is zero
        length_bad = Signal()      # the length is wrong for the command (set in LEN_CHECK)
        crc, crc_low, crc_high = Signal(16, init=CRC16_INIT), Signal(8), Signal(8)
        address = Signal(range(space + 1))
        address_far = Signal()
        code_bad, load_bad, apply = Signal(), Signal(), Signal()
        word = Signal(32)
        word_ok, last_word = Signal(), Signal()  # LOAD32: the word's checks
        word_index = Signal(count)
        target = Signal(range(space + MAX_PAYLOAD // 4 + 2))  # address + word_index
        nbytes = Signal(3)
        idle = Signal(range(self.timeout_cycles + 1))
        # The received byte, registered with its start-of-frame test, so that no byte
        # comparison sits in front of the state register (bytes come 20+ cycles apart).
        got, byte, is_sof = Signal(), Signal(8), Signal()
        m.d.sync += [got.eq(self.i_byte.valid), byte.eq(self.i_byte.payload),
                     is_sof.eq(self.i_byte.payload == SOF)]
        m.d.comb += [buf_r.addr.eq(index), acc.o_spike.ready.eq(1)]

        # Reply: what is being sent.
        reply_command = Signal(8)
        reply_length = Signal(count)
        error = Signal(8)
        reply_left = Signal(count)  # payload bytes still to send, the one on the wire included
        tx_byte = Signal(8)        # registered, so that the look-up and the CRC are apart
        # A RUN's result is written into the frame buffer (its codes are consumed by then)
        # and sent from there: class, potentials, then the counters, little-endian words.
        counters = [acc.cycles, acc.synaptic, acc.membrane, acc.weight_reads, acc.saturations]
        counters += [getattr(acc, f"spikes_{layer}") for layer in range(c.hidden + 1)]
        counting = Signal()        # storing counters (else potentials)
        counter_word = Signal(32)
        loaded = Signal()  # a LOAD8 or LOAD32 frame has been applied since configuration
        *fixed, flags = info_bytes(c)
        info = Array([*(Const(b, 8) for b in fixed),
                      Const(flags, 8) | Mux(loaded, InfoFlag.LOADED, 0)])
        payload_byte = Signal(8)
        with m.Switch(reply_command):
            with m.Case(Command.PING | REPLY):
                m.d.comb += payload_byte.eq(info[index])
            with m.Case(Command.RUN | REPLY):
                m.d.comb += payload_byte.eq(buf_r.data)
            with m.Default():
                m.d.comb += payload_byte.eq(error)

        send = Signal()            # a reply is ready for the transmitter
        with m.FSM(name="reply") as transmitter:
            self._transmit(m, send, reply_command, reply_length, reply_left, index,
                           payload_byte, tx_byte, crc)

        # A reply's length follows from its command.
        sizes = {Command.PING | REPLY: len(info_bytes(c)), Command.LOAD8 | REPLY: 0,
                 Command.LOAD32 | REPLY: 0, Command.RUN | REPLY: result_length(c),
                 Command.ERROR: 1}

        def reply(kind):
            # the transmitter is set up in REPLY_START, from reply_command alone
            m.d.sync += reply_command.eq(kind)
            m.next = "REPLY_START"

        def fail(code):
            # the ERROR reply starts in the next cycle, from the FAIL state
            m.d.sync += error.eq(code)
            m.next = "FAIL"

        receiving = Signal()
        with m.If(receiving & ~got):
            m.d.sync += idle.eq(idle + 1)
        with m.Else():
            m.d.sync += idle.eq(0)

        def stalled():
            with m.If(~got & (idle == self.timeout_cycles - 1)):
                fail(ErrorCode.TIMEOUT)

        signed_byte = byte.as_signed()
        crc_rx = crc16_update(m, crc, byte, "crc_rx")
        with m.FSM(name="link"):
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
                            m.d.sync += command.eq(byte)
                        else:
                            m.d.sync += length[:8].eq(byte)
                        m.next = after
            with m.State("LEN1"):
                m.d.comb += receiving.eq(1)
                stalled()
                with m.If(got):
                    full = Cat(length[:8], byte)
                    m.d.sync += [crc.eq(crc_rx), length[8:].eq(byte), last_index.eq(full - 1),
                                 too_long.eq(full > MAX_PAYLOAD), empty.eq(full == 0),
                                 index.eq(0), code_bad.eq(0),
                                 load_bad.eq(0), address.eq(0), address_far.eq(0)]
                    m.next = "LEN_CHECK"
            with m.State("LEN_CHECK"):
                # one cycle, between two bytes: the UART's come at least 20 cycles apart
                m.d.sync += length_bad.eq(self._length_bad(c, command, length))
                with m.If(too_long):
                    fail(ErrorCode.LENGTH)
                with m.Elif(empty):
                    m.next = "CRC0"
                with m.Else():
                    m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                m.d.comb += receiving.eq(1)
                stalled()
                with m.If(got):
                    m.d.comb += [buf_w.addr.eq(index), buf_w.data.eq(byte), buf_w.en.eq(1)]
                    m.d.sync += [crc.eq(crc_rx), index.eq(index + 1)]
                    for k in range(4):
                        with m.If(index == k):
                            self._address_byte(m, k, byte, address, address_far)
                    with m.If((command == Command.RUN) &
                              ((signed_byte < -(c.steps - 1)) | (signed_byte > c.steps - 1))):
                        m.d.sync += code_bad.eq(1)
                    with m.If((command == Command.LOAD8) & (index >= 4) & (byte == 0x80)):
                        m.d.sync += load_bad.eq(1)
                    with m.If(index == last_index):
                        m.next = "CRC0"
            with m.State("CRC0"):
                m.d.comb += receiving.eq(1)
                stalled()
                m.d.sync += load_past_end.eq(address_far | (address + length - 4 > weight_words))
                with m.If(got):
                    m.d.sync += crc_low.eq(byte)
                    m.next = "CRC1"
            with m.State("CRC1"):
                m.d.comb += receiving.eq(1)
                stalled()
                with m.If(got):
                    m.d.sync += crc_high.eq(byte)
                    m.next = "CRC_CHECK"
            with m.State("CRC_CHECK"):
                # compared from registers: the 16-bit comparison stays off the receive path
                with m.If(Cat(crc_low, crc_high) != crc):
                    fail(ErrorCode.CRC)
                with m.Else():
                    m.next = "EXEC"
            with m.State("EXEC"):
                self._dispatch(m, command, length_bad, index, address, target, code_bad,
                               load_bad, load_past_end, apply, word_index, nbytes, reply, fail)
            with m.State("L8_READ"):
                m.next = "L8_SEND"
            with m.State("L8_SEND"):
                m.d.comb += [acc.i_load.valid.eq(1),
                             acc.i_load.payload.address.eq(address + index - 4),
                             acc.i_load.payload.value.eq(buf_r.data.as_signed())]
                with m.If(acc.i_load.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == last_index):
                        reply(Command.LOAD8 | REPLY)
                    with m.Else():
                        m.next = "L8_READ"
            with m.State("W_READ"):
                m.d.sync += [index.eq(index + 1), nbytes.eq(nbytes + 1)]
                m.next = "W_CAPTURE"
            with m.State("W_CAPTURE"):
                m.d.sync += word.eq(Cat(word[8:], buf_r.data))
                with m.If(nbytes == 4):
                    m.next = "W_VALIDATE"
                with m.Else():
                    m.next = "W_READ"
            with m.State("W_VALIDATE"):
                # the word's checks, registered for W_CHECK
                is_weight = ~address_far & (target < weight_words)
                is_threshold = ~address_far & ~is_weight & (target < space)
                m.d.sync += [
                    word_ok.eq((is_weight & self._fits_weight(word)) |
                               (is_threshold & self._fits_threshold(word, c.fmt.v_bits))),
                    last_word.eq(index == length)]
                m.next = "W_CHECK"
            with m.State("W_CHECK"):
                value = word.as_signed()
                ok, last = word_ok, last_word
                with m.If(~apply):
                    with m.If(~ok):
                        fail(ErrorCode.LOAD)
                    with m.Elif(last):
                        m.d.sync += [apply.eq(1), index.eq(4), word_index.eq(0), nbytes.eq(0),
                                     target.eq(address)]
                        m.next = "W_READ"
                    with m.Else():
                        m.d.sync += [word_index.eq(word_index + 1), nbytes.eq(0),
                                     target.eq(target + 1)]
                        m.next = "W_READ"
                with m.Else():
                    m.d.comb += [acc.i_load.valid.eq(1), acc.i_load.payload.address.eq(target),
                                 acc.i_load.payload.value.eq(value)]
                    with m.If(acc.i_load.ready):
                        m.d.sync += [word_index.eq(word_index + 1), nbytes.eq(0),
                                     target.eq(target + 1)]
                        with m.If(last):
                            reply(Command.LOAD32 | REPLY)
                        with m.Else():
                            m.next = "W_READ"
            with m.State("RUN_READ"):
                m.next = "RUN_SEND"
            with m.State("RUN_SEND"):
                m.d.comb += [acc.i_code.valid.eq(1),
                             acc.i_code.payload.eq(buf_r.data.as_signed())]
                with m.If(acc.i_code.ready):
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == last_index):
                        m.d.sync += [index.eq(1), word_index.eq(0), counting.eq(0)]
                        m.next = "RUN_WAIT"
                    with m.Else():
                        m.next = "RUN_READ"
            with m.State("RUN_WAIT"):
                m.d.comb += acc.o_potential.ready.eq(1)
                with m.If(acc.o_potential.valid):
                    m.d.sync += [word.eq(acc.o_potential.payload.value), nbytes.eq(0),
                                 counting.eq(acc.o_potential.payload.last)]
                    m.next = "RUN_STORE"
            with m.State("RUN_COUNTER"):
                # select the counter into its own register, then into the word
                select = word_index[:max(1, (len(counters) - 1).bit_length())]
                m.d.sync += [counter_word.eq(Array(counters)[select]),
                             word_index.eq(word_index + 1)]
                m.next = "RUN_COUNTER_WORD"
            with m.State("RUN_COUNTER_WORD"):
                m.d.sync += [word.eq(counter_word), nbytes.eq(0)]
                m.next = "RUN_STORE"
            with m.State("RUN_STORE"):
                m.d.comb += [buf_w.addr.eq(index), buf_w.data.eq(word.word_select(nbytes[:2], 8)),
                             buf_w.en.eq(1)]
                m.d.sync += [index.eq(index + 1), nbytes.eq(nbytes + 1)]
                with m.If(nbytes == 3):
                    with m.If(~counting):
                        m.next = "RUN_WAIT"
                    with m.Elif(word_index == len(counters)):
                        m.next = "RUN_CLASS"
                    with m.Else():
                        m.next = "RUN_COUNTER"
            with m.State("RUN_CLASS"):
                m.d.comb += [buf_w.addr.eq(0), buf_w.data.eq(acc.class_index), buf_w.en.eq(1)]
                reply(Command.RUN | REPLY)
            with m.State("FAIL"):
                reply(Command.ERROR)
            with m.State("REPLY_START"):
                size = Signal.like(reply_length)
                with m.Switch(reply_command):
                    for kind, length in sizes.items():
                        with m.Case(kind):
                            m.d.comb += size.eq(length)
                m.d.sync += [reply_length.eq(size), reply_left.eq(size), index.eq(0),
                             crc.eq(CRC16_INIT), send.eq(1)]
                with m.If((reply_command == (Command.LOAD8 | REPLY)) |
                          (reply_command == (Command.LOAD32 | REPLY))):
                    m.d.sync += loaded.eq(1)
                m.next = "REPLY"
            with m.State("REPLY"):
                # the transmitter has the reply: wait until its last byte is taken
                with m.If(transmitter.ongoing("TX_CRC1") & self.o_byte.ready):
                    m.next = "SOF"
        return m

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

    @staticmethod
    def _fits_weight(word):
        """A 32-bit two's complement word in [-127, 127] (equality tests, no comparator)."""
        high = word[7:]
        return (high == 0) | ((high == (1 << len(high)) - 1) & (word[:7] != 0))

    @staticmethod
    def _fits_threshold(word, v_bits):
        """A 32-bit word in [1, 2**(v_bits - 1) - 1]."""
        return (word[v_bits - 1:] == 0) & (word[:v_bits - 1] != 0)

    @staticmethod
    def _length_bad(c, command, length):
        """Whether ``length`` is wrong for ``command``: a LOAD8 needs its address and a
        weight, a LOAD32 its address and whole words, a RUN one code per input."""
        return Mux(command == Command.LOAD8, length < 5,
                   Mux(command == Command.LOAD32, (length < 8) | (length[:2] != 0),
                       Mux(command == Command.RUN, length != c.inputs, 0)))

    def _dispatch(self, m, command, length_bad, index, address, target, code_bad, load_bad,
                  load_past_end, apply, word_index, nbytes, reply, fail):
        with m.Switch(command):
            with m.Case(Command.PING):
                reply(Command.PING | REPLY)
            with m.Case(Command.LOAD8):
                with m.If(length_bad):
                    fail(ErrorCode.LENGTH)
                with m.Elif(load_bad | load_past_end):
                    fail(ErrorCode.LOAD)
                with m.Else():
                    m.d.sync += index.eq(4)
                    m.next = "L8_READ"
            with m.Case(Command.LOAD32):
                with m.If(length_bad):
                    fail(ErrorCode.LENGTH)
                with m.Else():
                    m.d.sync += [index.eq(4), apply.eq(0), word_index.eq(0), nbytes.eq(0),
                                 target.eq(address)]
                    m.next = "W_READ"
            with m.Case(Command.RUN):
                with m.If(length_bad):
                    fail(ErrorCode.LENGTH)
                with m.Elif(code_bad):
                    fail(ErrorCode.CODE)
                with m.Else():
                    m.d.sync += index.eq(0)
                    m.next = "RUN_READ"
            with m.Default():
                fail(ErrorCode.COMMAND)

    def _transmit(self, m, send, reply_command, reply_length, reply_left, index, payload_byte,
                  tx_byte, crc):
        # Every byte, the CRC's included, goes out of the tx_byte register, loaded one state
        # ahead; one CRC chain covers command, length and payload. A payload byte is looked
        # up at ``index`` (the frame buffer's read address, always) and registered in
        # ``next_byte``: each payload byte taken is followed by two TX_FETCH cycles.
        m.d.comb += self.o_byte.payload.eq(tx_byte)
        crc_tx = crc16_update(m, crc, tx_byte, "crc_tx")
        next_byte = Signal(8)
        m.d.sync += next_byte.eq(payload_byte)
        with m.State("TX_IDLE"):
            with m.If(send):
                m.d.sync += [send.eq(0), tx_byte.eq(SOF)]
                m.next = "TX_SOF"
        header = [("TX_SOF", "TX_CMD", reply_command, False),
                  ("TX_CMD", "TX_LEN0", reply_length[:8], True),
                  ("TX_LEN0", "TX_LEN1", reply_length[8:], True)]
        for name, after, following, checked in header:
            with m.State(name):
                m.d.comb += self.o_byte.valid.eq(1)
                with m.If(self.o_byte.ready):
                    m.d.sync += tx_byte.eq(following)
                    if checked:
                        m.d.sync += crc.eq(crc_tx)
                    m.next = after

        def payload_next(last):
            m.d.sync += [crc.eq(crc_tx), index.eq(index + 1)]
            with m.If(last):
                m.d.sync += tx_byte.eq(crc_tx[:8])
                m.next = "TX_CRC0"
            with m.Else():
                m.d.sync += tx_byte.eq(next_byte)
                m.next = "TX_FETCH"

        with m.State("TX_LEN1"):
            m.d.comb += self.o_byte.valid.eq(1)
            with m.If(self.o_byte.ready):
                payload_next(reply_length == 0)
        with m.State("TX_FETCH"):
            m.next = "TX_FETCH2"
        with m.State("TX_FETCH2"):
            m.next = "TX_PAYLOAD"
        with m.State("TX_PAYLOAD"):
            m.d.comb += self.o_byte.valid.eq(1)
            with m.If(self.o_byte.ready):
                m.d.sync += reply_left.eq(reply_left - 1)
                payload_next(reply_left == 1)
        with m.State("TX_CRC0"):
            m.d.comb += self.o_byte.valid.eq(1)
            with m.If(self.o_byte.ready):
                m.d.sync += tx_byte.eq(crc[8:])
                m.next = "TX_CRC1"
        with m.State("TX_CRC1"):
            m.d.comb += self.o_byte.valid.eq(1)
            with m.If(self.o_byte.ready):
                m.next = "TX_IDLE"
