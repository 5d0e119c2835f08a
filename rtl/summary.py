"""The spike summary: which steps of each scan chunk, and of each run of chunks, hold a spike.

A source neuron with block length ``k > 0`` spikes at step 0 and at step ``k``. For every
chunk of a source layer (:attr:`rtl.config.AcceleratorConfig.chunk_words` state words of one
pixel) the summary keeps an ``N``-bit word: bit ``t > 0`` is set when one of its neurons has
``k = t``, bit 0 when one has ``k > 0``; for every run of chunks (the chunks of
:attr:`~rtl.config.AcceleratorConfig.source_run_pixels` pixels) the run summary keeps the OR
of their words. Both are written as the block lengths are made (the input codes as they
arrive, a hidden layer's by its last DIV op) and read by :class:`rtl.scan.SourceScan`, which
skips a run whose bit is clear, or else a chunk whose bit is clear, in one cycle instead of
scanning its words. Every chunk and run of a source is rewritten in each inference before
it is read, so the summary needs no clearing; a set bit where no neuron fires would only
cost cycles, a clear one where a neuron fires would lose its spike, so the record is exact.
"""

from amaranth import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .address import table

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
    """The summary memories and their writer.

    Records arrive in chunk order: each one ORs a neuron word's bits into the current chunk
    and its run, or begins the next chunk (``first``), and with every
    ``config.run_chunks[source]``-th chunk the next run; the words are written one cycle
    later.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig

    Members
    -------
    restart : In(1)
        The record in this cycle, or else the next one, begins the first chunk of
        ``source``.
    source : In
        The source layer (0 for the inputs, ``l + 1`` for hidden layer ``l``) whose blocks
        follow (with ``restart``).
    record : In(1)
        Add ``bits`` (of one state word) to the summary.
    first : In(1)
        The record's word is the first of its chunk.
    bits : In(steps)
        The OR of :func:`step_bits` over the word's neurons.
    busy : Out(1)
        A record is not yet in the memories.
    read : In(SummaryReadSignature)
        The chunks' words.
    run_read : In(SummaryReadSignature)
        The runs' words (none without ``config.runs``).
    """

    def __init__(self, config):
        self.config = c = config
        super().__init__({
            "restart": In(1), "source": In(range(len(c.summary_blocks))),
            "record": In(1), "first": In(1), "bits": In(c.steps), "busy": Out(1),
            "read": In(SummaryReadSignature(c.summary_depth, c.steps)),
            "run_read": In(SummaryReadSignature(c.run_depth, c.steps)),
        })

    def elaborate(self, platform):
        m = Module()
        c = self.config
        memories = {}
        for name, depth, port in (("chunks", c.summary_depth, self.read),
                                  ("runs", c.run_depth, self.run_read))[:1 + c.runs]:
            memories[name] = memory = Memory(shape=c.steps, depth=max(depth, 2), init=[])
            m.submodules[name] = memory
            read = memory.read_port()
            m.d.comb += [read.addr.eq(port.addr), port.data.eq(read.data)]

        # the source being recorded (the one given with a restart takes effect at once), the
        # chunk and run being recorded: their addresses and bits so far, the chunk's place in
        # its run; ``fresh`` after a restart
        held = Signal.like(self.source)
        source = Mux(self.restart, self.source, held)
        base, run_base = table(c.summary_bases), table(c.run_bases)
        last_in_run = table([n - 1 for n in c.run_chunks])
        address, chunk = Signal(range(max(c.summary_depth, 2))), Signal(c.steps)
        run_address, run = Signal(range(max(c.run_depth, 2))), Signal(c.steps)
        in_run = Signal(range(max(c.run_chunks)))
        fresh = Signal(init=1)
        begins = self.restart | fresh      # the record's chunk is the source's first
        run_ends = in_run == last_in_run[source]
        new_address, new_in_run = Signal.like(address), Signal.like(in_run)
        new_run_address = Signal.like(run_address)
        new_chunk, new_run = Signal.like(chunk), Signal.like(run)
        m.d.comb += [
            new_address.eq(Mux(self.first, Mux(begins, base[source], address + 1), address)),
            new_in_run.eq(Mux(self.first, Mux(begins | run_ends, 0, in_run + 1), in_run)),
            new_run_address.eq(Mux(self.first & (begins | run_ends),
                                   Mux(begins, run_base[source], run_address + 1),
                                   run_address)),
            new_chunk.eq(Mux(self.first, 0, chunk) | self.bits),
            new_run.eq(Mux(self.first & (new_in_run == 0), 0, run) | self.bits),
        ]
        writes = {name: memory.write_port() for name, memory in memories.items()}
        m.d.sync += [write.en.eq(self.record) for write in writes.values()]
        with m.If(self.record):
            m.d.sync += [address.eq(new_address), chunk.eq(new_chunk), in_run.eq(new_in_run),
                         run_address.eq(new_run_address), run.eq(new_run), fresh.eq(0),
                         writes["chunks"].addr.eq(new_address),
                         writes["chunks"].data.eq(new_chunk)]
            if c.runs:
                m.d.sync += [writes["runs"].addr.eq(new_run_address),
                             writes["runs"].data.eq(new_run)]
        with m.If(self.restart):
            m.d.sync += held.eq(self.source)
            with m.If(~self.record):
                m.d.sync += fresh.eq(1)
        m.d.comb += self.busy.eq(writes["chunks"].en)
        return m
