"""The spike summary: which steps of each scan chunk hold a spike.

A source neuron with block length ``k > 0`` spikes at step 0 and at step ``k``. For every
chunk of a source layer (:attr:`rtl.config.AcceleratorConfig.chunk_words` state words of one
pixel) the summary keeps an ``N``-bit word: bit ``t > 0`` is set when one of its neurons has
``k = t``, bit 0 when one has ``k > 0``. It is written as the block lengths are made (the
input codes as they arrive, a hidden layer's by its last DIV op) and read by
:class:`rtl.scan.SourceScan`, which skips a chunk whose bit is clear in one cycle instead of
scanning its words. Every chunk of a source is rewritten in each inference before it is
read, so the summary needs no clearing; a set bit where no neuron fires would only cost
cycles, a clear one where a neuron fires would lose its spike, so the record is exact.
"""

from amaranth import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["SummaryReadSignature", "SpikeSummary", "step_bits"]


def step_bits(m, length, steps):
    """The summary bits of one neuron of block length ``length``: bits 0 and ``length``, or
    none for a neuron that does not fire."""
    bits = Signal(steps)
    m.d.comb += bits.eq(Mux(length != 0, Const(1, steps) | (Const(1, steps) << length), 0))
    return bits


class SummaryReadSignature(wiring.Signature):
    """A synchronous read port of the summary: the word at ``addr`` is on ``data`` in the
    next cycle."""

    def __init__(self, depth, steps):
        super().__init__({"addr": Out(range(max(depth, 2))), "data": In(steps)})


class SpikeSummary(wiring.Component):
    """The summary memory and its writer.

    Records arrive in chunk order: each one ORs a neuron word's bits into the current chunk,
    or begins the next chunk (``first``); the chunk's word is written one cycle later.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig

    Members
    -------
    restart : In(1)
        The record in this cycle, or else the next one, begins the chunk at ``base``.
    base : In
        Summary address of a source layer's first chunk (with ``restart``).
    record : In(1)
        Add ``bits`` (of one state word) to the summary.
    first : In(1)
        The record's word is the first of its chunk.
    bits : In(steps)
        The OR of :func:`step_bits` over the word's neurons.
    busy : Out(1)
        A record is not yet in the memory.
    read : In(SummaryReadSignature)
    """

    def __init__(self, config):
        self.config = c = config
        super().__init__({
            "restart": In(1), "base": In(range(max(c.summary_depth, 2))),
            "record": In(1), "first": In(1), "bits": In(c.steps), "busy": Out(1),
            "read": In(SummaryReadSignature(c.summary_depth, c.steps)),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        m.submodules.memory = memory = Memory(shape=c.steps, depth=max(c.summary_depth, 2),
                                              init=[])
        write, read = memory.write_port(), memory.read_port()
        m.d.comb += [read.addr.eq(self.read.addr), self.read.data.eq(read.data)]

        # the chunk being recorded: its address and bits so far; ``fresh`` after a restart
        address, chunk, fresh = Signal.like(self.base), Signal(c.steps), Signal(init=1)
        start = Signal.like(self.base)
        new_address, new_chunk = Signal.like(address), Signal.like(chunk)
        m.d.comb += [
            new_address.eq(Mux(self.first, Mux(self.restart, self.base,
                                                 Mux(fresh, start, address + 1)), address)),
            new_chunk.eq(Mux(self.first, 0, chunk) | self.bits),
        ]
        m.d.sync += write.en.eq(self.record)
        with m.If(self.record):
            m.d.sync += [address.eq(new_address), chunk.eq(new_chunk), fresh.eq(0),
                         write.addr.eq(new_address), write.data.eq(new_chunk)]
        with m.If(self.restart & ~self.record):
            m.d.sync += [start.eq(self.base), fresh.eq(1)]
        m.d.comb += self.busy.eq(write.en)
        return m
