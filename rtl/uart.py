"""8N1 UART receiver and transmitter with stream interfaces."""

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx"]


def _check_divisor(divisor):
    if not isinstance(divisor, int) or divisor < 2:
        raise ValueError(f"divisor (clock cycles per bit) must be an integer of at least 2, "
                         f"not {divisor!r}")


class UARTRx(wiring.Component):
    """Receive 8N1 bytes at ``divisor`` clock cycles per bit.

    ``o_data`` carries each byte for one cycle (its ready is ignored: the consumer must take
    it), straight from registers; a byte whose stop bit is low is dropped and
    ``framing_error`` pulses.
    """

    rx: In(1, init=1)
    o_data: Out(stream.Signature(8, always_ready=True))
    framing_error: Out(1)

    def __init__(self, divisor):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        count = Signal(range(self.divisor))
        bits = Signal(range(9))
        shift = Signal(8)
        m.d.sync += [self.o_data.valid.eq(0), self.framing_error.eq(0)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += count.eq(self.divisor // 2 - 1 if self.divisor > 2 else 0)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [count.eq(self.divisor - 1), bits.eq(0)]
                    m.next = "DATA"
                    with m.If(rx):
                        m.next = "IDLE"  # a glitch, not a start bit
            with m.State("DATA"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)), bits.eq(bits + 1),
                                 count.eq(self.divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += count.eq(count - 1)
                with m.If(count == 0):
                    with m.If(rx):
                        m.d.sync += [self.o_data.valid.eq(1), self.o_data.payload.eq(shift)]
                    with m.Else():
                        m.d.sync += self.framing_error.eq(1)
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """Transmit 8N1 bytes from ``i_data`` at ``divisor`` clock cycles per bit."""

    i_data: In(stream.Signature(8))
    tx: Out(1, init=1)

    def __init__(self, divisor):
        _check_divisor(divisor)
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self.divisor))
        # start bit, 8 data bits, stop bit, sent LSB first; the last 1 holds the stop bit for
        # a whole bit time before the next start bit.
        frame = Signal(11)
        left = Signal(range(12))
        m.d.comb += self.i_data.ready.eq(left == 0)
        with m.If(left == 0):
            m.d.sync += self.tx.eq(1)
            with m.If(self.i_data.valid):
                m.d.sync += [frame.eq(Cat(0, self.i_data.payload, 1, 1)), left.eq(11),
                             count.eq(0)]
        with m.Else():
            m.d.sync += count.eq(count - 1)
            with m.If(count == 0):
                m.d.sync += [self.tx.eq(frame[0]), frame.eq(frame >> 1), left.eq(left - 1),
                             count.eq(self.divisor - 1)]
        return m
