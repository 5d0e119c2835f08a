"""The scan of a source layer: which state words to read for one step, and their results.

For each step of a window the scheduler looks for the spikes of every input path's source.
:class:`SourceScan` walks the source in runs of scan chunks (:mod:`rtl.summary`): a run
whose summary bit for the step is clear becomes one skip slot; in a run whose bit is set, a
chunk whose bit is set has each of its words scanned (a SCAN op on every lane), a chunk
whose bit is clear becomes one skip slot. Slots are issued one per cycle while the
scheduler lets it (``go``: the lanes are not busy with a spike's synapses) and come out of
``o_result`` in order, a scanned word's with its lanes' spikes ``latency`` cycles later, a
skip a cycle later once the slots before it are out.
Results queue there while the scheduler applies a spike: issuing is paced by credits, so
no result is lost and none is scanned twice.
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .address import table
from .summary import SummaryReadSignature

__all__ = ["SourceScan"]


class SourceScan(wiring.Component):
    """Issue the scan slots of one input path's source for one step; queue their results.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig
    latency : int
        Cycles from a slot's issue to its lanes' results on ``spike`` and
        ``spike_negative``.

    Members
    -------
    path, step : In
        The input path whose source is scanned, and the step (held through the scan).
    start : In(1)
        Begin the scan from the source's first chunk. No slot may be outstanding.
    go : In(1)
        A slot may be issued in this cycle.
    issue : Out(1)
        Issue a SCAN op on ``address`` in this cycle (a skip slot issues nothing).
    address : Out
        The state word to scan.
    spike, spike_negative : In(lanes)
        The lanes' results of the SCAN op issued ``latency`` cycles before.
    summary, run_summary : Out(SummaryReadSignature)
        The chunks' and the runs' summary words.
    o_result : Out(stream.Signature(mask, negative, spikes, skip, run, last))
        Each slot in order: a skipped chunk (``skip``, no spikes), a skipped run (``skip``
        and ``run``), or a scanned word and its lanes' spikes (``spikes``: any, decided
        before the queue); ``last`` for the source's last slot of the step.
    """

    def __init__(self, config, latency):
        self.config = c = config
        self.latency = latency
        self.depth = latency + 2  # slots in flight and queued: one result per cycle
        self._result = data.StructLayout({"mask": c.lanes, "negative": c.lanes,
                                          "spikes": 1, "skip": 1, "run": 1, "last": 1})
        super().__init__({
            "path": In(range(len(c.paths))), "step": In(range(c.steps)),
            "start": In(1), "go": In(1),
            "issue": Out(1), "address": Out(range(c.state_depth)),
            "spike": In(c.lanes), "spike_negative": In(c.lanes),
            "summary": Out(SummaryReadSignature(c.summary_depth, c.steps)),
            "run_summary": Out(SummaryReadSignature(c.run_depth, c.steps)),
            "o_result": Out(stream.Signature(self._result)),
        })

    def elaborate(self, platform):
        m = Module()
        c, p = self.config, self.path
        chunk = c.chunk_words
        groups = [c.source_channel_groups[path.source + 1] for path in c.paths]
        last_group = table([n - 1 for n in groups])
        last_chunk = table([(n - 1) // chunk * chunk for n in groups])
        last_chunk_words = table([n - (n - 1) // chunk * chunk for n in groups])
        words = table(c.source_groups)
        base = table(c.source_bases)
        summary_base = table([c.summary_bases[path.source + 1] for path in c.paths])
        run_base = table([c.run_bases[path.source + 1] for path in c.paths])
        run_chunks = table([c.run_chunks[path.source + 1] for path in c.paths])
        last_in_run = table([c.run_chunks[path.source + 1] - 1 for path in c.paths])
        run_words = table([c.source_run_pixels[path.source + 1] * n
                           for path, n in zip(c.paths, groups)])

        # the next slot: its word in the source, its channel group, its chunk, its run and
        # the chunk's place in the run
        active = Signal()
        word = Signal(range(max(c.source_groups) + 1))
        group = Signal(range(max(groups)))
        block = Signal(range(max(c.summary_blocks) + 1))
        run = Signal(range(max(c.summary_runs) + 1))
        in_run = Signal(range(max(c.run_chunks)))

        def summary_bit(port, base, index, name):
            """The bit of summary word ``index`` for the step, read ahead: the word addressed
            in the previous cycle (``fetched`` when it is ``index``'s), then ``known``;
            returns (bit, ready, known)."""
            read_index = Signal.like(index, name=f"{name}_read_index")
            read_valid, known = Signal(name=f"{name}_read_valid"), Signal(name=f"{name}_known")
            held = Signal(name=f"{name}_bit")
            fetched = read_valid & (read_index == index)
            bit = Mux(fetched, port.data.bit_select(self.step, 1), held)
            m.d.comb += port.addr.eq(base[p] + index + (known | fetched))
            m.d.sync += [read_index.eq(index + (known | fetched)), read_valid.eq(1)]
            with m.If(fetched):
                m.d.sync += [known.eq(1), held.eq(bit)]
            with m.If(self.start):
                m.d.sync += read_valid.eq(0)
            return bit, known | fetched, known

        chunk_bit, chunk_ready, chunk_known = summary_bit(self.summary, summary_base, block,
                                                          "chunk")
        if c.runs:
            run_bit, run_ready, run_known = summary_bit(self.run_summary, run_base, run, "run")
        else:
            run_bit, run_ready, run_known = Const(1), Const(1), Signal()

        outstanding = Signal(range(self.depth + 1))
        at_chunk = (group & (chunk - 1)) == 0 if chunk > 1 else Const(1)
        at_run = at_chunk & (in_run == 0)
        # a run whose bit is clear is skipped without its first chunk's bit
        run_skip = at_run & run_ready & ~run_bit
        slot = Signal()  # a slot goes out in this cycle
        m.d.comb += slot.eq(active & ~self.start & self.go & (outstanding < self.depth) &
                            (~at_chunk | run_skip | ((~at_run | run_ready) & chunk_ready)))
        skip = run_skip | (at_chunk & ~chunk_bit)
        chunk_words = Mux(group == last_chunk[p], last_chunk_words[p], chunk)
        # both ends from registers, so that only the choice follows the summary's read
        last = Mux(run_skip, word + run_words[p] == words[p],
                   Mux(skip, word + chunk_words == words[p], word + 1 == words[p]))
        m.d.comb += [self.issue.eq(slot & ~skip),
                     self.address.eq(base[p] + word)]

        def next_chunk():
            m.d.sync += [block.eq(block + 1), chunk_known.eq(0)]
            with m.If(in_run == last_in_run[p]):
                m.d.sync += [in_run.eq(0), run.eq(run + 1), run_known.eq(0)]
            with m.Else():
                m.d.sync += in_run.eq(in_run + 1)

        with m.If(slot):
            with m.If(last):
                m.d.sync += active.eq(0)
            with m.If(run_skip):
                m.d.sync += [word.eq(word + run_words[p]), block.eq(block + run_chunks[p]),
                             run.eq(run + 1), chunk_known.eq(0), run_known.eq(0)]
            with m.Elif(skip):
                m.d.sync += [word.eq(word + chunk_words),
                             group.eq(Mux(group == last_chunk[p], 0, group + chunk))]
                next_chunk()
            with m.Else():
                m.d.sync += [word.eq(word + 1),
                             group.eq(Mux(group == last_group[p], 0, group + 1))]
                with m.If((group == last_group[p]) | ((group & (chunk - 1)) == chunk - 1)):
                    next_chunk()  # the chunk's last word
        with m.If(self.start):
            m.d.sync += [active.eq(1), word.eq(0), group.eq(0), block.eq(0), run.eq(0),
                         in_run.eq(0), chunk_known.eq(0), run_known.eq(0)]

        # A scanned word's flags travel beside its SCAN op; its results join them in the
        # queue. A skip has no results: it goes into the queue a cycle after its slot (a
        # register, so that the summary's read does not reach the queue) when no slot is on
        # its way there, else behind them, in order.
        in_flight = []
        direct, direct_run, direct_last = Signal(), Signal(), Signal()  # a skip for the queue
        goes_direct = Signal()
        flags = Cat(slot & ~goes_direct, skip, last, run_skip)
        for _ in range(self.latency):
            delayed = Signal.like(flags)
            m.d.sync += delayed.eq(flags)
            flags = delayed
            in_flight.append(delayed[0])
        m.d.comb += goes_direct.eq(slot & skip & ~Cat(in_flight).any())
        m.d.sync += [direct.eq(goes_direct), direct_last.eq(last), direct_run.eq(run_skip)]
        m.submodules.queue = queue = SyncFIFO(width=self._result.size,
                                              depth=self.depth)
        result = data.View(self._result, queue.w_data)
        m.d.comb += [queue.w_en.eq(flags[0] | direct), result.skip.eq(flags[1] | direct),
                     result.last.eq(Mux(direct, direct_last, flags[2])),
                     result.run.eq(Mux(direct, direct_run, flags[3])),
                     result.mask.eq(self.spike),
                     result.spikes.eq((self.spike != 0) & ~direct),
                     result.negative.eq(self.spike_negative),
                     self.o_result.valid.eq(queue.r_rdy), self.o_result.payload.eq(queue.r_data),
                     queue.r_en.eq(self.o_result.ready)]
        popped = self.o_result.valid & self.o_result.ready
        m.d.sync += outstanding.eq(outstanding + slot - popped)
        return m
