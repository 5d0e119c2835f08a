"""The host link: the framed protocol of :mod:`rtl.protocol` in gateware, around the
accelerator.

Bytes arrive on ``i_byte`` (from a UART receiver) and replies leave on ``o_byte``. Three
components share a ring of :data:`~rtl.protocol.RING_BYTES` bytes (one block RAM's worth):
the :class:`~rtl.receiver.FrameReceiver` writes each frame's payload into it and checks the
frame whole, the :class:`~rtl.executor.CommandExecutor` carries frames out in order (the
receiver takes the next frame meanwhile) and the :class:`~rtl.transmitter.FrameTransmitter`
sends the replies. A bad frame changes nothing and is answered with ``ERROR``.
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .executor import CommandExecutor, info_bytes
from .protocol import MAX_PAYLOAD, RING_BYTES, image_bytes, result_length
from .receiver import FrameReceiver
from .transmitter import FrameTransmitter

__all__ = ["HostLink", "info_bytes"]


class HostLink(wiring.Component):
    """Receiver, executor (with the accelerator) and transmitter around the frame ring.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig
    network : model.quantize.IntegerNetwork or None
        Initial contents of the accelerator's memories.
    timeout_cycles : int
        Idle cycles after which a partly received frame is dropped.

    Raises
    ------
    ValueError
        When one image's packed codes or a RUN's result do not fit a frame.
    """

    def __init__(self, config, network=None, timeout_cycles=1_000_000):
        size = image_bytes(config.inputs, config.steps)
        if size > MAX_PAYLOAD:
            raise ValueError(f"one image's packed codes take {size} bytes ({config.inputs} "
                             f"inputs); a frame carries at most {MAX_PAYLOAD}: use fewer inputs")
        result = result_length(config.layers[-1], config.hidden)
        if result > RING_BYTES:
            raise ValueError(f"a RUN's result takes {result} bytes ({config.layers[-1]} "
                             f"outputs); the frame ring holds {RING_BYTES}: use fewer outputs")
        self.config = config
        self.receiver = FrameReceiver(config, timeout_cycles)
        self.executor = CommandExecutor(config, network)
        self.transmitter = FrameTransmitter()
        super().__init__({"i_byte": In(stream.Signature(8, always_ready=True)),
                          "o_byte": Out(stream.Signature(8))})

    @property
    def accelerator(self):
        return self.executor.accelerator

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = receiver = self.receiver
        m.submodules.executor = executor = self.executor
        m.submodules.transmitter = transmitter = self.transmitter
        m.submodules.ring = ring = Memory(shape=8, depth=RING_BYTES, init=[])
        write, read = ring.write_port(), ring.read_port()

        wiring.connect(m, wiring.flipped(self.i_byte), receiver.i_byte)
        wiring.connect(m, receiver.o_frame, executor.i_frame)
        wiring.connect(m, executor.o_reply, transmitter.i_reply)
        wiring.connect(m, executor.o_payload, transmitter.i_payload)
        wiring.connect(m, transmitter.o_byte, wiring.flipped(self.o_byte))
        m.d.comb += [receiver.live.eq(executor.live), receiver.live_start.eq(executor.live_start),
                     read.addr.eq(executor.read_addr), executor.read_data.eq(read.data)]
        # One write port: the receiver's bytes cannot wait, the executor's results can.
        with m.If(receiver.write_en):
            m.d.comb += [write.addr.eq(receiver.write_addr), write.data.eq(receiver.write_data),
                         write.en.eq(1)]
        with m.Else():
            m.d.comb += [write.addr.eq(executor.o_write.payload.addr),
                         write.data.eq(executor.o_write.payload.data),
                         write.en.eq(executor.o_write.valid), executor.o_write.ready.eq(1)]
        return m
