"""The TSC-SNN accelerator: layer scheduler, lanes, counters and streams.

One inference: ``inputs`` codes arrive on ``i_code`` and are stored as block lengths. The
scheduler then runs the windows of ``docs/tsc-neuron.md`` one after another. In window
``w`` layer ``w`` integrates while its source (the inputs for ``w = 0``, hidden layer
``w - 1`` otherwise) fires. For each step ``t`` the scheduler scans the source neurons,
``lanes`` per cycle (SCAN), skipping in one cycle each run or chunk that the spike summary shows
without a spike at ``t`` (:mod:`rtl.scan`, :mod:`rtl.summary`); each spike, in ascending
source index, goes out on ``o_spike`` and is applied to every target neuron its kernel
reaches, ``lanes`` per cycle (SYN: one weight read and one saturating addition each). A
residual junction then scans each shortcut's source the same way: its blocks, stored since
its own window, are replayed in the junction's window (synaptic additions and weight reads,
not spikes: nothing goes out on ``o_spike``). Then every target neuron takes
``V += dV/dt`` (MEM). At the end of a hidden layer's window its block lengths are computed
(DIV, ``(N - 1).bit_length()`` cycles per group) and recorded in the spike summary. After
the last window the output layer's potentials stream out on ``o_potential`` and
``class_index`` holds their argmax (lowest index on ties).
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .address import SourceCursor, SynapseBursts, table
from .config import AcceleratorConfig, weight_images
from .lanes import LaneBus
from .neuron import NeuronLane, Op
from .scan import SourceScan
from .summary import SpikeSummary, step_bits
from .weights import WeightMemory

__all__ = ["TSCAccelerator", "COUNTER_BITS"]

COUNTER_BITS = 32
# Cycles before the end of a step's MEM pass at which the next step's scan restarts: the
# restart and the first summary read (without lanes) take two.
SCAN_LEAD = 2


def _bits(n):
    return max(1, (n - 1).bit_length())


def _or(values):
    result = values[0]
    for value in values[1:]:
        result = result | value
    return result


class TSCAccelerator(wiring.Component):
    """The whole accelerator for one network shape.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig
    network : model.quantize.IntegerNetwork or None
        Initial weights and thresholds (checked against ``config``); without it the weights
        are zero and the thresholds one until loaded. Weights in SPRAM
        (``config.weight_memory == "spram"``) are never initialised: load them.

    Members
    -------
    i_code : In(stream.Signature(signed(code_bits)))
        Input codes, ``inputs`` per image, in order. A code outside ``[-(N-1), N-1]`` sets
        ``code_error`` and discards the image received so far.
    i_load : In(stream.Signature(address, value))
        Load port, accepted while idle: weight ``word * lanes + lane`` (value in
        ``[-127, 127]``), then the hidden thresholds (value from 1 to what V holds). ``value``
        has ``max(9, v_bits)`` bits. A bad address or value sets ``load_error``, increments
        ``load_errors`` and writes nothing.
    o_spike : Out(stream.Signature(layer, step, index, negative))
        Every spike of the inputs (layer 0) and of hidden layer ``l`` (layer ``l + 1``),
        with its window-relative step. The scheduler waits while it is not ready.
    o_potential : Out(stream.Signature(value, last))
        The output layer's final V, neuron 0 first.
    class_index, busy, done, load_error, code_error : Out
    cycles, load_errors : Out(32)
        Clock cycles of the last inference (reset when one starts) and refused load words.
    synaptic, membrane, weight_reads, saturations, spikes_<l> : Out
        Counters of the last inference, reset when one starts, each just wide enough for the
        most it can count (:attr:`rtl.config.AcceleratorConfig.counter_bounds`), so that it
        never wraps. ``membrane`` counts what the neuron rule does: one V update per neuron
        per integration step plus one threshold subtraction per step of each block (the
        divider yields the same block lengths).
    """

    def __init__(self, config, network=None):
        if not isinstance(config, AcceleratorConfig):
            raise TypeError(f"config must be an AcceleratorConfig, not {config!r}")
        self.config = config
        self.network = network
        if network is not None:
            config.check_network(network)
        c = config
        self._load_layout = data.StructLayout({
            "address": _bits(c.weight_depth * c.lanes + c.hidden + 1),
            # wide enough for every weight, and for a refused one just outside their range
            "value": signed(max(9, c.fmt.v_bits))})
        self._spike_layout = data.StructLayout({
            "layer": _bits(c.hidden + 1), "step": _bits(c.steps),
            "index": _bits(max(c.sources)), "negative": 1})
        self._potential_layout = data.StructLayout({"value": signed(c.fmt.v_bits), "last": 1})
        members = {
            "i_code": In(stream.Signature(signed(c.code_bits))),
            "i_load": In(stream.Signature(self._load_layout)),
            "o_spike": Out(stream.Signature(self._spike_layout)),
            "o_potential": Out(stream.Signature(self._potential_layout)),
            "class_index": Out(_bits(c.layers[-1])),
            "busy": Out(1), "done": Out(1), "load_error": Out(1), "code_error": Out(1),
            "load_errors": Out(COUNTER_BITS),
        }
        members["cycles"] = Out(COUNTER_BITS)
        for name, bound in c.counter_bounds.items():
            members[name] = Out(range(bound + 1))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        c = self.config
        fmt = c.fmt
        images = weight_images(c, self.network) \
            if self.network is not None and c.weight_memory == "block" else None
        m.submodules.weights = weights = WeightMemory(c.lanes, c.weight_depth,
                                                      c.weight_memory, images)
        m.submodules.bus = bus = LaneBus(c)
        for k in range(c.lanes):
            m.submodules[f"lane{k}"] = lane = NeuronLane(fmt, c.steps, c.state_depth)
            wiring.connect(m, bus.lanes[k], lane.port)
            m.d.comb += lane.weight.eq(weights.read_data[k])
        m.submodules.cursor = cursor = SourceCursor(c)
        m.submodules.bursts = bursts = SynapseBursts(c)
        # A lane reports an op's effects ``latency`` cycles after the scheduler issued it.
        latency = 1 + NeuronLane.LATENCY
        m.submodules.scan = scan = SourceScan(c, latency)
        m.submodules.summary = summary = SpikeSummary(c)
        wiring.connect(m, scan.summary, summary.read)
        wiring.connect(m, scan.run_summary, summary.run_read)
        lane_bits = (c.lanes - 1).bit_length()

        initial = [int(t) for t in self.network.network.thresholds] if self.network else \
            [1] * c.hidden
        thresholds = Array(Signal(signed(fmt.v_bits), init=t, name=f"threshold{index}")
                           for index, t in enumerate(initial))

        groups, state_base = table(c.groups), table(c.state_bases)
        # MEM's target word at which the next step's scan restarts: up to SCAN_LEAD words
        # before its last, so that the scan has read its first summary word when MEM ends
        scan_ahead = table([g - 1 - min(SCAN_LEAD, g - 1) for g in c.groups])
        # per input path (a layer's main input, then its shortcuts)
        first_path, last_path = table(c.first_paths), table(c.last_paths)
        replay = Array(Const(p.shortcut) for p in c.paths)
        last_channel_group = table([cg - 1 for cg in c.channel_groups])
        last_lanes = Array(Const(sum(1 << k for k in range(c.lanes)
                                     if (cg - 1) * c.lanes + k < shape.out[0]), c.lanes)
                           for shape, cg in zip(c.shapes, c.channel_groups))
        channel_words = table([0 if p.gain else p.geometry.taps * c.channel_groups[p.layer]
                               for p in c.paths])

        window = Signal(range(len(c.layers)))
        path = Signal(range(len(c.paths)))
        # The scan and the cursor restart a cycle after the scheduler asks, from the
        # registered path (so that no table lookup follows the state machine's choice of the
        # next path).
        restart_cursor = Signal()
        scanning_ahead = Signal()  # the next step's scan restarted during MEM
        step = Signal(range(c.steps))
        group = Signal(range(max(c.groups) + 1))             # target word of INIT/MEM/DIV
        channel_group = Signal(range(max(c.channel_groups)))  # its channel group
        bit = Signal(range(c.quotient_bits))
        pending = Signal(c.lanes)                            # spiking lanes of the scan word
        pending_negative = Signal(c.lanes)
        last_word = Signal()                                 # the scan word is the source's last
        negative = Signal()
        neuron = Signal(range(c.layers[-1]))
        received = Signal(range(c.inputs + 1))
        is_output = window == len(c.layers) - 1
        v_init = Signal(signed(fmt.v_bits))
        if c.rounding == "nearest":
            m.d.comb += v_init.eq(Mux(is_output, 0, thresholds[window] >> 1))
        m.d.sync += restart_cursor.eq(0)
        m.d.comb += [cursor.path.eq(path), cursor.restart.eq(restart_cursor),
                     scan.path.eq(path), scan.step.eq(step), scan.start.eq(restart_cursor),
                     scan.spike.eq(bus.spike), scan.spike_negative.eq(bus.spike_negative),
                     bursts.path.eq(path),
                     bursts.row.eq(cursor.row), bursts.column.eq(cursor.column),
                     bursts.group.eq(cursor.group), bursts.channel_row.eq(cursor.channel_row)]

        counters = ("cycles", "synaptic", "membrane", "weight_reads", "saturations")
        spikes = Array(getattr(self, f"spikes_{layer}") for layer in range(c.hidden + 1))
        self._count_effects(m, bus)

        # The lowest pending lane, and the pending set without it.
        lowest = Signal(range(max(c.lanes, 2)))
        for k in reversed(range(c.lanes)):
            with m.If(pending[k]):
                m.d.comb += lowest.eq(k)
        remaining = pending & ~(Const(1, c.lanes) << lowest)
        # weight words from lane 0's channel to the spike's: a sum of shifted copies
        m.d.comb += [bursts.lane.eq(lowest),
                     bursts.lane_offset.eq(sum((Mux(lowest[b], channel_words[path] << b, 0)
                                                for b in range(len(lowest))), Const(0)))]

        m.d.comb += [bus.negative.eq(negative), bus.step.eq(step), bus.bit.eq(bit)]
        m.d.sync += weights.read_addr.eq(bursts.weight_addr)

        def issue(op, address, real, operand=0, only_lane=None):
            """Issue ``op`` on ``address`` to every lane; ``real(k)`` says whether lane
            ``k``'s neuron exists (a SETK writes only ``only_lane``: the others' count is
            0)."""
            m.d.comb += [bus.op.eq(op), bus.address.eq(address), bus.operand.eq(operand)]
            for k in range(c.lanes):
                selected = 1 if only_lane is None else (only_lane == k)
                m.d.comb += bus.count[k].eq(real(k) & selected)

        def target_real(k):
            return (channel_group != last_channel_group[window]) | last_lanes[window][k]

        def next_target():
            """The next target word of INIT, MEM and DIV, and its channel group."""
            m.d.sync += [group.eq(group + 1),
                         channel_group.eq(Mux(channel_group == last_channel_group[window], 0,
                                              channel_group + 1))]

        def first_target():
            m.d.sync += [group.eq(0), channel_group.eq(0)]

        def restart_scan():
            m.d.sync += restart_cursor.eq(1)

        # the DIV op issued now is its word's last: the word's block lengths are known
        # ``latency`` cycles later
        div_done = Signal()
        summary_busy = self._record_blocks(m, summary, bus, latency, div_done,
                                           (channel_group & (c.chunk_words - 1)) == 0)

        m.d.comb += [self.o_spike.payload.layer.eq(window), self.o_spike.payload.step.eq(step),
                     self.o_spike.payload.index.eq(cursor.index + lowest),
                     self.o_spike.payload.negative.eq(pending_negative.bit_select(lowest, 1))]

        def end_of_scan():
            """The path's source is scanned: the layer's next input path, or MEM."""
            with m.If(path != last_path[window]):
                m.d.sync += path.eq(path + 1)
                restart_scan()
                m.next = "SCAN"
            with m.Else():
                first_target()
                m.next = "MEM"

        def after_spike(still_pending):
            with m.If(still_pending != 0):
                m.next = "EMIT"
            with m.Elif(last_word):
                end_of_scan()
            with m.Else():
                m.d.comb += cursor.advance.eq(1)
                m.next = "SCAN"

        with m.FSM(name="scheduler") as fsm:
            with m.State("IDLE"):
                code_valid, code_ok, last_code = self._idle(m, c, received, issue, summary, bus)
                with m.If(code_valid & code_ok & last_code):
                    m.d.sync += [window.eq(0), self.done.eq(0)]
                    first_target()
                    m.d.sync += [getattr(self, name).eq(0) for name in counters]
                    m.d.sync += [s.eq(0) for s in spikes]
                    m.next = "INIT"
            with m.State("INIT"):
                issue(Op.INIT, state_base[window] + group, target_real, v_init)
                next_target()
                with m.If(group == groups[window] - 1):
                    m.next = "SETTLE"
            with m.State("SETTLE"):
                # the source's spike summary is written
                with m.If(~summary_busy):
                    m.d.sync += [step.eq(0), path.eq(first_path[window])]
                    restart_scan()
                    m.next = "SCAN"
            # The scan issues its slots while results come back; a result with spikes goes
            # to EMIT, the others move the cursor (by a word, or a chunk for a skip).
            with m.State("SCAN"):
                result = scan.o_result.payload
                m.d.comb += [scan.go.eq(1), scan.o_result.ready.eq(1)]
                with m.If(scan.issue):
                    # padding neurons never hold a block (their SYN ops add nothing)
                    issue(Op.SCAN, scan.address, lambda k: 1)
                with m.If(scan.o_result.valid):
                    with m.If(result.spikes):
                        m.d.sync += [pending.eq(result.mask),
                                     pending_negative.eq(result.negative),
                                     last_word.eq(result.last)]
                        m.d.comb += bursts.prepare.eq(1)
                        m.next = "EMIT"
                    with m.Else():
                        m.d.comb += [cursor.advance.eq(~result.skip),
                                     cursor.skip.eq(result.skip & ~result.run),
                                     cursor.run.eq(result.run)]
                        with m.If(result.last):
                            end_of_scan()
            with m.State("EMIT"):
                # a replayed block is not a spike: it does not go out and is not counted
                spike_negative = pending_negative.bit_select(lowest, 1)
                m.d.comb += self.o_spike.valid.eq(~replay[path])
                with m.If(self.o_spike.ready | replay[path]):
                    m.d.sync += [pending.eq(remaining), negative.eq(spike_negative)]
                    with m.If(~replay[path]):
                        m.d.sync += spikes[window].eq(spikes[window] + 1)
                    with m.If(bursts.empty):
                        after_spike(remaining)
                    with m.Else():
                        # the spike's first synapses are issued in its own cycle
                        m.d.comb += [bursts.start.eq(1), bursts.next.eq(1),
                                     bus.negative.eq(spike_negative)]
                        issue(Op.SYN, bursts.state_addr, lambda k: bursts.real[k])
                        with m.If(bursts.last):
                            after_spike(remaining)
                        with m.Else():
                            m.next = "SYN"
            with m.State("SYN"):
                m.d.comb += bursts.next.eq(1)
                issue(Op.SYN, bursts.state_addr, lambda k: bursts.real[k])
                with m.If(bursts.last):
                    after_spike(pending)
            with m.State("MEM"):
                issue(Op.MEM, state_base[window] + group, target_real)
                next_target()
                # MEM uses neither the step nor the path: the scan may begin the next step
                restarting = (group == scan_ahead[window]) & (step != c.steps - 1)
                with m.If(restarting):
                    m.d.sync += [step.eq(step + 1), path.eq(first_path[window]),
                                 scanning_ahead.eq(1)]
                    restart_scan()
                with m.If(group == groups[window] - 1):
                    first_target()
                    m.d.sync += [bit.eq(c.quotient_bits - 1), scanning_ahead.eq(0)]
                    with m.If(scanning_ahead | restarting):
                        m.next = "SCAN"
                    with m.Elif(is_output):
                        m.d.sync += neuron.eq(0)
                        m.next = "OUT_ISSUE"
                    with m.Else():
                        # the layer's block lengths go to its summary, from its first chunk
                        m.d.comb += [summary.restart.eq(1), summary.source.eq(window + 1)]
                        m.next = "DECIDE"
            with m.State("DECIDE"):
                issue(Op.DIV, state_base[window] + group, target_real, thresholds[window])
                m.d.sync += bit.eq(bit - 1)
                with m.If(bit == 0):
                    m.d.comb += div_done.eq(1)
                    m.d.sync += bit.eq(c.quotient_bits - 1)
                    next_target()
                    with m.If(group == groups[window] - 1):
                        m.d.sync += window.eq(window + 1)
                        first_target()
                        m.next = "INIT"
            self._read_out(m, issue, bus, c.state_bases[-1], neuron, latency)
        self._load_port(m, c, thresholds, weights, lane_bits)
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        return m

    def _read_out(self, m, issue, bus, base, neuron, latency):
        """The read-out states, from OUT_ISSUE: each output neuron's V in turn, read from its
        lane, sent on ``o_potential`` and compared for the argmax as it goes; then IDLE. A
        word's READ is issued again every cycle until its last neuron is sent, so that its
        lanes keep reporting its potentials: the wait of ``latency`` cycles comes once a
        word, and each neuron takes two cycles (register, send)."""
        c = self.config
        lane_bits = (c.lanes - 1).bit_length()
        potential = Signal(signed(c.fmt.v_bits))
        best = Signal(signed(c.fmt.v_bits))
        last = neuron == c.layers[-1] - 1
        m.d.comb += [self.o_potential.payload.value.eq(potential),
                     self.o_potential.payload.last.eq(last)]

        def read(index):
            issue(Op.READ, base + (index >> lane_bits), lambda k: 1)

        first_wait = "OUT_GAP1" if latency > 1 else "OUT_WAIT"
        with m.State("OUT_ISSUE"):
            read(neuron)
            m.next = first_wait
        # the word's READ reaches OUT_WAIT ``latency`` cycles after OUT_ISSUE or OUT_SEND
        for gap in range(1, latency):
            with m.State(f"OUT_GAP{gap}"):
                read(neuron)
                m.next = f"OUT_GAP{gap + 1}" if gap + 1 < latency else "OUT_WAIT"
        with m.State("OUT_WAIT"):
            read(neuron)
            m.d.sync += potential.eq(bus.potential[neuron[:lane_bits] if lane_bits else 0])
            m.next = "OUT_SEND"
        with m.State("OUT_SEND"):
            # the next neuron's word (the same one but at a word's last lane)
            read(Mux(last, neuron, neuron + 1))
            m.d.comb += self.o_potential.valid.eq(1)
            with m.If(self.o_potential.ready):
                with m.If((neuron == 0) | (potential > best)):
                    m.d.sync += [best.eq(potential), self.class_index.eq(neuron)]
                with m.If(last):
                    m.d.sync += self.done.eq(1)
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += neuron.eq(neuron + 1)
                    if lane_bits:
                        m.next = "OUT_WAIT"
                        with m.If(neuron[:lane_bits] == c.lanes - 1):
                            m.next = first_wait
                    else:
                        m.next = first_wait

    def _count_effects(self, m, bus):
        """Add the lanes' effects (registered by the bus) to the counters; an inference's
        last effects land long before ``done``."""
        m.d.sync += [
            self.synaptic.eq(self.synaptic + bus.synaptic),
            self.weight_reads.eq(self.weight_reads + bus.synaptic),
            self.membrane.eq(self.membrane + bus.membrane),
            self.saturations.eq(self.saturations + bus.saturated),
        ]

    def _record_blocks(self, m, summary, bus, latency, done, first):
        """Record a hidden layer's block lengths in the spike summary as its DIV ops finish
        (``done``: a word's last DIV op, ``first``: the word begins a chunk); returns whether
        a record is still on its way."""
        flags, on_the_way = Cat(done, first), []
        for _ in range(latency):
            delayed = Signal.like(flags)
            m.d.sync += delayed.eq(flags)
            flags = delayed
            on_the_way.append(delayed[0])
        bits = [step_bits(m, block, self.config.steps) for block in bus.block]
        m.d.comb += [summary.record.eq(flags[0]), summary.first.eq(flags[1]),
                     summary.bits.eq(_or(bits))]
        return summary.busy | _or(on_the_way)

    def _idle(self, m, c, received, issue, summary, bus):
        """Accept codes and load words while idle. A code is registered on its way in and
        stored (as a block length) in the next cycle; no code is taken while the image's last
        one waits there. Returns the registered code's valid, range check and is-last, all
        registers, so that the scheduler's decision to start is a few gates deep."""
        code_valid, code, code_ok = Signal(), Signal.like(self.i_code.payload), Signal()
        payload = self.i_code.payload
        m.d.sync += [code_valid.eq(self.i_code.valid & self.i_code.ready), code.eq(payload),
                     code_ok.eq((payload >= -(c.steps - 1)) & (payload <= c.steps - 1))]
        last_code = Signal(init=c.inputs == 1)  # received == inputs - 1, kept beside it
        m.d.comb += [self.i_code.ready.eq(~(code_valid & last_code)), self.i_load.ready.eq(1)]
        # Codes arrive channels last; input channel ``ch`` of a pixel goes to lane
        # ``ch % lanes`` of the pixel's word ``ch // lanes``.
        channels = c.shapes[0].source[0]
        channel = Signal(range(channels))
        lane = Signal(range(c.lanes))
        word = Signal(range(c.input_groups))
        channel_group = Signal(range(c.input_channel_groups))  # the word's, in its pixel

        def first_code():
            m.d.sync += [received.eq(0), last_code.eq(c.inputs == 1), channel.eq(0),
                         lane.eq(0), word.eq(0), channel_group.eq(0)]

        with m.If(code_valid):
            with m.If(~code_ok):
                m.d.sync += self.code_error.eq(1)
                first_code()
            with m.Else():
                # one magnitude for every lane's SETK and the summary; the sign goes as
                # ``negative``
                magnitude = Mux(code < 0, -code, code)[:c.code_bits - 1]
                issue(Op.SETK, c.input_base + word, lambda k: 1, magnitude, only_lane=lane)
                m.d.comb += [
                    bus.negative.eq(code < 0),
                    # the image's first code begins the inputs' first chunk, at address 0
                    summary.record.eq(1), summary.restart.eq(received == 0),
                    summary.first.eq((lane == 0) &
                                     ((channel_group & (c.chunk_words - 1)) == 0)),
                    summary.bits.eq(step_bits(m, magnitude, c.steps))]
                with m.If(last_code):
                    first_code()
                with m.Else():
                    m.d.sync += [received.eq(received + 1),
                                 last_code.eq(received == c.inputs - 2)]
                    with m.If(channel == channels - 1):
                        m.d.sync += [channel.eq(0), lane.eq(0), word.eq(word + 1),
                                     channel_group.eq(0)]
                    with m.Else():
                        m.d.sync += [channel.eq(channel + 1),
                                     lane.eq(Mux(lane == c.lanes - 1, 0, lane + 1))]
                        with m.If(lane == c.lanes - 1):
                            m.d.sync += [word.eq(word + 1), channel_group.eq(channel_group + 1)]
        return code_valid, code_ok, last_code

    def _load_port(self, m, c, thresholds, weights, lane_bits):
        """Write the load word accepted in the previous cycle (registered on its way in, so
        that the sender's logic and the checks below are a cycle apart)."""
        valid = Signal()
        address, value = Signal.like(self.i_load.payload.address), Signal.like(
            self.i_load.payload.value)
        m.d.sync += [valid.eq(self.i_load.valid & self.i_load.ready),
                     address.eq(self.i_load.payload.address),
                     value.eq(self.i_load.payload.value)]
        weight_words = c.weight_depth * c.lanes
        bad = Signal()
        with m.If(valid):
            with m.If(address < weight_words):
                with m.If((value >= -127) & (value <= 127)):
                    m.d.comb += [weights.load_addr.eq(address >> lane_bits),
                                 weights.load_lane.eq(address[:lane_bits] if lane_bits else 0),
                                 weights.load_data.eq(value), weights.load_en.eq(1)]
                with m.Else():
                    m.d.comb += bad.eq(1)
            with m.Elif(address < weight_words + c.hidden):
                with m.If((value >= 1) & (value <= c.fmt.threshold_max)):
                    # one equality test per threshold: no subtractor in front of the write
                    for index, threshold in enumerate(thresholds):
                        with m.If(address == weight_words + index):
                            m.d.sync += threshold.eq(value)
                with m.Else():
                    m.d.comb += bad.eq(1)
            with m.Else():
                m.d.comb += bad.eq(1)
        with m.If(bad):
            m.d.sync += [self.load_error.eq(1), self.load_errors.eq(self.load_errors + 1)]
