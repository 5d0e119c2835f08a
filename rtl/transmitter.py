"""Reply frames onto a byte stream: header, payload and CRC of :mod:`rtl.protocol`."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .crc import CRC16_INIT, crc16_update
from .protocol import MAX_PAYLOAD, SOF

__all__ = ["FrameTransmitter", "REPLY_LAYOUT"]

REPLY_LAYOUT = data.StructLayout({"command": 8, "length": range(MAX_PAYLOAD + 1)})


class FrameTransmitter(wiring.Component):
    """Send one frame per ``i_reply``: ``0xA5``, the command, the length, ``length`` bytes
    taken from ``i_payload`` and the CRC over command, length and payload.

    Every byte goes out of a register loaded one state ahead, so that the CRC's logic and
    the payload's source are a cycle apart from ``o_byte``.

    Attributes
    ----------
    i_reply : In(stream.Signature(REPLY_LAYOUT))
        Taken when the previous frame's last byte has been taken.
    i_payload : In(stream.Signature(8))
    o_byte : Out(stream.Signature(8))
    """

    i_reply: In(stream.Signature(REPLY_LAYOUT))
    i_payload: In(stream.Signature(8))
    o_byte: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        command = Signal(8)
        length = Signal.like(self.i_reply.payload.length)
        left = Signal.like(length)   # payload bytes not yet taken from i_payload
        tx_byte = Signal(8)
        crc = Signal(16, init=CRC16_INIT)
        crc_tx = crc16_update(m, crc, tx_byte, "crc_tx")
        m.d.comb += self.o_byte.payload.eq(tx_byte)

        def sent(next_state, following=None, checked=True):
            # o_byte offers tx_byte; once taken, the CRC takes it (when ``checked``) and
            # ``following`` is the next byte (else FETCH loads it)
            m.d.comb += self.o_byte.valid.eq(1)
            with m.If(self.o_byte.ready):
                if following is not None:
                    m.d.sync += tx_byte.eq(following)
                if checked:
                    m.d.sync += crc.eq(crc_tx)
                m.next = next_state

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i_reply.ready.eq(1)
                with m.If(self.i_reply.valid):
                    m.d.sync += [command.eq(self.i_reply.payload.command),
                                 length.eq(self.i_reply.payload.length),
                                 left.eq(self.i_reply.payload.length),
                                 tx_byte.eq(SOF), crc.eq(CRC16_INIT)]
                    m.next = "SOF"
            with m.State("SOF"):
                sent("CMD", command, checked=False)
            with m.State("CMD"):
                sent("LEN0", length[:8])
            with m.State("LEN0"):
                sent("LEN1", length[8:])
            with m.State("LEN1"):
                sent("FETCH")
            with m.State("FETCH"):
                # the next payload byte into tx_byte, or the CRC's low byte after the last
                with m.If(left == 0):
                    m.d.sync += tx_byte.eq(crc[:8])
                    m.next = "CRC0"
                with m.Else():
                    m.d.comb += self.i_payload.ready.eq(1)
                    with m.If(self.i_payload.valid):
                        m.d.sync += [tx_byte.eq(self.i_payload.payload), left.eq(left - 1)]
                        m.next = "PAYLOAD"
            with m.State("PAYLOAD"):
                sent("FETCH")
            with m.State("CRC0"):
                sent("CRC1", crc[8:], checked=False)
            with m.State("CRC1"):
                sent("IDLE", checked=False)
        return m
