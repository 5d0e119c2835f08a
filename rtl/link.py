"""The host link: the framed protocol of :mod:`fpga.protocol` in gateware, around the
accelerator.

Bytes arrive on ``i_byte`` (from a UART receiver) and replies leave on ``o_byte``. A frame is
buffered whole and checked (length, CRC, command, every load word or input code) before
anything is written, so a bad frame changes nothing and is answered with ``ERROR``. A frame
that stalls for ``timeout_cycles`` between two bytes is dropped and answered with
``ERROR TIMEOUT``. Bytes that arrive while a reply is being produced are ignored (the host
waits for each reply).
"""

import struct

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from fpga.protocol import COUNTERS, MAX_PAYLOAD, REPLY, SOF, Command, ErrorCode

from .accelerator import TSCAccelerator
from .crc import CRC16_INIT, crc16_update

__all__ = ["HostLink", "info_bytes", "result_length"]


def info_bytes(config):
    """The PING reply's payload for ``config``."""
    return b"TSC1" + struct.pack("<HHHBBIBB", config.inputs, config.layers[-1], config.steps,
                                 config.lanes, config.hidden, config.weight_depth * config.lanes,
                                 config.fmt.v_bits, config.fmt.dvdt_bits)


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
        v_max = (1 << (c.fmt.v_bits - 1)) - 1

        command = Signal(8)
        length = Signal(16)
        last_index = Signal(16)    # length - 1, registered so that compares stay short
        index = Signal(16)
        load_past_end = Signal()   # a LOAD8's last address is past the weights
        crc, crc_low = Signal(16, init=CRC16_INIT), Signal(8)
        address = Signal(32)
        code_bad, load_bad, apply = Signal(), Signal(), Signal()
        word = Signal(32)
        word_index = Signal(16)
        target = Signal(32)        # address + word_index
        nbytes = Signal(3)
        idle = Signal(range(self.timeout_cycles + 1))
        byte = self.i_byte.payload
        got = self.i_byte.valid
        m.d.comb += [buf_r.addr.eq(index), acc.o_spike.ready.eq(1)]

        # Reply: what is being sent.
        reply_command = Signal(8)
        reply_length = Signal(16)
        error = Signal(8)
        reply_index = Signal(16)   # the payload byte being sent
        fetch = Signal(16)         # the payload byte being looked up, one ahead
        tx_byte = Signal(8)        # registered, so that the look-up and the CRC are apart
        potentials = [Signal(32, name=f"potential{j}") for j in range(c.layers[-1])]
        class_index = Signal(8)
        counters = [acc.cycles, acc.synaptic, acc.membrane, acc.weight_reads, acc.saturations]
        counters += [getattr(acc, f"spikes_{layer}") for layer in range(c.hidden + 1)]
        words = Array(potentials + counters)
        info = Array(Const(b, 8) for b in info_bytes(c))
        result_byte = Mux(fetch == 0, class_index,
                          words[(fetch - 1) >> 2].word_select((fetch - 1)[:2], 8))
        payload_byte = Signal(8)
        with m.Switch(reply_command):
            with m.Case(Command.PING | REPLY):
                m.d.comb += payload_byte.eq(info[fetch])
            with m.Case(Command.RUN | REPLY):
                m.d.comb += payload_byte.eq(result_byte)
            with m.Default():
                m.d.comb += payload_byte.eq(error)

        def reply(kind, size):
            m.d.sync += [reply_command.eq(kind), reply_length.eq(size), reply_index.eq(0),
                         fetch.eq(0), tx_byte.eq(SOF),
                         crc.eq(CRC16_INIT)]
            m.next = "TX_SOF"

        def fail(code):
            m.d.sync += error.eq(code)
            reply(Command.ERROR, 1)

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
                with m.If(got & (byte == SOF)):
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
                                 index.eq(0), code_bad.eq(0), load_bad.eq(0), address.eq(0)]
                    with m.If(full > MAX_PAYLOAD):
                        fail(ErrorCode.LENGTH)
                    with m.Elif(full == 0):
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
                            m.d.sync += address.word_select(k, 8).eq(byte)
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
                m.d.sync += load_past_end.eq(address + length - 4 > weight_words)
                with m.If(got):
                    m.d.sync += crc_low.eq(byte)
                    m.next = "CRC1"
            with m.State("CRC1"):
                m.d.comb += receiving.eq(1)
                stalled()
                with m.If(got):
                    with m.If(Cat(crc_low, byte) != crc):
                        fail(ErrorCode.CRC)
                    with m.Else():
                        m.next = "EXEC"
            with m.State("EXEC"):
                self._dispatch(m, c, command, length, index, address, target, code_bad,
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
                        reply(Command.LOAD8 | REPLY, 0)
                    with m.Else():
                        m.next = "L8_READ"
            with m.State("W_READ"):
                m.d.sync += [index.eq(index + 1), nbytes.eq(nbytes + 1)]
                m.next = "W_CAPTURE"
            with m.State("W_CAPTURE"):
                m.d.sync += word.eq(Cat(word[8:], buf_r.data))
                with m.If(nbytes == 4):
                    m.next = "W_CHECK"
                with m.Else():
                    m.next = "W_READ"
            with m.State("W_CHECK"):
                value = word.as_signed()
                is_weight = target < weight_words
                is_threshold = ~is_weight & (target < weight_words + c.hidden)
                ok = (is_weight & (value >= -127) & (value <= 127)) | \
                    (is_threshold & (value >= 1) & (value <= v_max))
                last = index == length
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
                            reply(Command.LOAD32 | REPLY, 0)
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
                        m.d.sync += word_index.eq(0)
                        m.next = "RUN_WAIT"
                    with m.Else():
                        m.next = "RUN_READ"
            with m.State("RUN_WAIT"):
                m.d.comb += acc.o_potential.ready.eq(1)
                with m.If(acc.o_potential.valid):
                    for j, p in enumerate(potentials):
                        with m.If(word_index == j):
                            m.d.sync += p.eq(acc.o_potential.payload.value)
                    m.d.sync += word_index.eq(word_index + 1)
                    with m.If(acc.o_potential.payload.last):
                        m.next = "RUN_CLASS"
            with m.State("RUN_CLASS"):
                m.d.sync += class_index.eq(acc.class_index)
                reply(Command.RUN | REPLY, result_length(c))
            self._transmit(m, reply_command, reply_length, reply_index, fetch, payload_byte,
                           tx_byte, crc)
        return m

    def _dispatch(self, m, c, command, length, index, address, target, code_bad, load_bad,
                  load_past_end, apply, word_index, nbytes, reply, fail):
        with m.Switch(command):
            with m.Case(Command.PING):
                reply(Command.PING | REPLY, len(info_bytes(c)))
            with m.Case(Command.LOAD8):
                with m.If(length < 5):
                    fail(ErrorCode.LENGTH)
                with m.Elif(load_bad | load_past_end):
                    fail(ErrorCode.LOAD)
                with m.Else():
                    m.d.sync += index.eq(4)
                    m.next = "L8_READ"
            with m.Case(Command.LOAD32):
                with m.If((length < 8) | (length[:2] != 0)):
                    fail(ErrorCode.LENGTH)
                with m.Else():
                    m.d.sync += [index.eq(4), apply.eq(0), word_index.eq(0), nbytes.eq(0),
                                 target.eq(address)]
                    m.next = "W_READ"
            with m.Case(Command.RUN):
                with m.If(length != c.inputs):
                    fail(ErrorCode.LENGTH)
                with m.Elif(code_bad):
                    fail(ErrorCode.CODE)
                with m.Else():
                    m.d.sync += index.eq(0)
                    m.next = "RUN_READ"
            with m.Default():
                fail(ErrorCode.COMMAND)

    def _transmit(self, m, reply_command, reply_length, reply_index, fetch, payload_byte,
                  tx_byte, crc):
        # Every byte goes out of the tx_byte register, loaded one state ahead; one CRC chain
        # covers command, length and payload.
        m.d.comb += self.o_byte.payload.eq(tx_byte)
        crc_tx = crc16_update(m, crc, tx_byte, "crc_tx")
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
        with m.State("TX_LEN1"):
            m.d.comb += self.o_byte.valid.eq(1)
            with m.If(self.o_byte.ready):
                m.d.sync += [crc.eq(crc_tx), tx_byte.eq(payload_byte), fetch.eq(fetch + 1)]
                m.next = "TX_PAYLOAD"
                with m.If(reply_length == 0):
                    m.next = "TX_CRC0"
        with m.State("TX_PAYLOAD"):
            m.d.comb += self.o_byte.valid.eq(1)
            with m.If(self.o_byte.ready):
                m.d.sync += [crc.eq(crc_tx), tx_byte.eq(payload_byte), fetch.eq(fetch + 1),
                             reply_index.eq(reply_index + 1)]
                with m.If(reply_index == reply_length - 1):
                    m.next = "TX_CRC0"
        with m.State("TX_CRC0"):
            m.d.comb += [self.o_byte.valid.eq(1), self.o_byte.payload.eq(crc[:8])]
            with m.If(self.o_byte.ready):
                m.next = "TX_CRC1"
        with m.State("TX_CRC1"):
            m.d.comb += [self.o_byte.valid.eq(1), self.o_byte.payload.eq(crc[8:])]
            with m.If(self.o_byte.ready):
                m.next = "SOF"
