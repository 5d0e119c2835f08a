"""The accelerator behind a UART: what goes on a board, and what the end-to-end test runs."""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .link import HostLink
from .uart import UARTRx, UARTTx

__all__ = ["SerialAccelerator"]


class SerialAccelerator(wiring.Component):
    """UART receiver -> host link (protocol engine and accelerator) -> UART transmitter.

    Parameters
    ----------
    config, network
        As for :class:`rtl.link.HostLink`.
    divisor : int
        Clock cycles per UART bit.
    timeout_cycles : int
        Idle cycles after which a partly received frame is dropped.
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)

    def __init__(self, config, network, divisor, timeout_cycles):
        self.config = config
        self.rx_uart, self.tx_uart = UARTRx(divisor), UARTTx(divisor)
        self.link = HostLink(config, network, timeout_cycles)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx_uart, m.submodules.tx_uart = self.rx_uart, self.tx_uart
        m.submodules.link = self.link
        m.d.comb += [self.rx_uart.rx.eq(self.rx), self.tx.eq(self.tx_uart.tx),
                     self.link.i_byte.valid.eq(self.rx_uart.o_data.valid),
                     self.link.i_byte.payload.eq(self.rx_uart.o_data.payload)]
        wiring.connect(m, self.link.o_byte, self.tx_uart.i_data)
        return m
