"""The TSC-SNN accelerator: layer scheduler, input encoder, lanes, counters and streams.

One inference: ``inputs`` codes arrive on ``i_code``; the scheduler then runs the windows of
``docs/tsc-neuron.md`` one after another. In window ``w`` layer ``w`` integrates while its
source (the input encoder for ``w = 0``, hidden layer ``w - 1`` otherwise) fires. For each
step ``t`` of a window, the scheduler visits the source neurons in ascending index (FIRE);
each spike goes out on ``o_spike`` and is applied to every target neuron, ``lanes`` per
cycle (SYN: one weight read and one saturating addition each); then every target neuron
takes ``V += dV/dt`` (MEM). After the last window the output layer's potentials stream out
on ``o_potential`` and ``class_index`` holds their argmax (lowest index on ties).
"""

from amaranth import Array, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import AcceleratorConfig, weight_images
from .neuron import NeuronLane, Op

__all__ = ["TSCAccelerator", "COUNTER_BITS"]

COUNTER_BITS = 32


def _bits(n):
    return max(1, (n - 1).bit_length())


class TSCAccelerator(wiring.Component):
    """The whole accelerator for one network shape.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig
    network : model.quantize.IntegerNetwork or None
        Initial weights and thresholds (checked against ``config``); without it the weights
        are zero and the thresholds one until loaded.

    Members
    -------
    i_code : In(stream.Signature(signed(code_bits)))
        Input codes, ``inputs`` per image, in order. A code outside ``[-(N-1), N-1]`` sets
        ``code_error`` and discards the image received so far.
    i_load : In(stream.Signature(address, value))
        Load port, accepted while idle: weight ``word * lanes + lane`` (value in
        ``[-127, 127]``), then the hidden thresholds (value ``>= 1``). A bad address or value
        sets ``load_error``, increments ``load_errors`` and writes nothing.
    o_spike : Out(stream.Signature(layer, step, index, negative))
        Every spike of the input encoder (layer 0) and of hidden layer ``l`` (layer ``l+1``),
        with its window-relative step. The scheduler waits while it is not ready.
    o_potential : Out(stream.Signature(value, last))
        The output layer's final V, neuron 0 first.
    class_index, busy, done, load_error, code_error : Out
    cycles, synaptic, membrane, weight_reads, saturations : Out(32)
        Counters of the last inference (reset when one starts); ``spikes_<l>`` per layer.
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
            "value": signed(c.fmt.v_bits)})
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
        for name in ("cycles", "synaptic", "membrane", "weight_reads", "saturations"):
            members[name] = Out(COUNTER_BITS)
        for layer in range(c.hidden + 1):
            members[f"spikes_{layer}"] = Out(COUNTER_BITS)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        c = self.config
        fmt = c.fmt
        images = weight_images(c, self.network) if self.network is not None else None
        lanes = [NeuronLane(fmt, c.state_depth, c.weight_depth,
                            images[k] if images else None) for k in range(c.lanes)]
        for k, lane in enumerate(lanes):
            m.submodules[f"lane{k}"] = lane
        m.submodules.codes = codes = Memory(shape=signed(c.code_bits), depth=c.inputs, init=[])
        code_w = codes.write_port()
        code_r = codes.read_port()

        initial = [int(t) for t in self.network.network.thresholds] if self.network else \
            [1] * c.hidden
        thresholds = Array(Signal(signed(fmt.v_bits), init=t, name=f"threshold{l}")
                           for l, t in enumerate(initial))
        const = lambda values: Array(Const(v, range(max(values) + 1)) for v in values)  # noqa
        n_src, n_tgt = const(c.sources), const(c.layers)
        groups, state_base, weight_base = const(c.groups), const(c.state_bases), \
            const(c.weight_bases)

        window = Signal(range(len(c.layers)))
        step = Signal(range(c.steps))
        source = Signal(range(max(c.sources)))
        group = Signal(range(max(c.groups) + 1))
        row_base = Signal(range(c.weight_depth + 1))
        neuron = Signal(range(c.layers[-1]))
        negative = Signal()
        potential = Signal(signed(fmt.v_bits))
        best = Signal(signed(fmt.v_bits))
        received = Signal(range(c.inputs + 1))
        lane_bits = (c.lanes - 1).bit_length()
        fire_lane = source[:lane_bits] if lane_bits else Const(0)
        fire_group = source >> lane_bits
        hidden_window = window != 0
        firing_threshold = thresholds[window - 1]
        is_output = window == len(c.layers) - 1
        v_init = Signal(signed(fmt.v_bits))
        if c.rounding == "nearest":
            m.d.comb += v_init.eq(Mux(is_output, 0, thresholds[window] >> 1))

        counters = {name: getattr(self, name) for name in
                    ("cycles", "synaptic", "membrane", "weight_reads", "saturations")}
        spikes = Array(getattr(self, f"spikes_{layer}") for layer in range(c.hidden + 1))
        popcount = lambda bits: sum(bits[1:], bits[0]) if bits else 0  # noqa: E731
        m.d.sync += [
            self.synaptic.eq(self.synaptic + popcount([lane.synaptic for lane in lanes])),
            self.weight_reads.eq(self.weight_reads + popcount([lane.synaptic for lane in lanes])),
            self.membrane.eq(self.membrane + popcount([lane.membrane for lane in lanes])
                             + popcount([lane.subtracted for lane in lanes])),
            self.saturations.eq(self.saturations + popcount([lane.saturated for lane in lanes])),
        ]

        def issue(op, address, *, only_lane=None):
            for k, lane in enumerate(lanes):
                selected = 1 if only_lane is None else (fire_lane == k)
                m.d.comb += [
                    lane.op.eq(Mux(selected, op, Op.NOP)),
                    lane.state_addr.eq(address),
                    lane.count.eq(group * c.lanes + k < n_tgt[window]),
                ]

        for lane in lanes:
            m.d.comb += [lane.weight_addr.eq(row_base + group), lane.negative.eq(negative),
                         lane.first.eq(step == 0), lane.last.eq(step == c.steps - 1),
                         lane.threshold.eq(firing_threshold), lane.v_init.eq(v_init)]
        m.d.comb += [code_r.addr.eq(source),
                     self.o_spike.payload.layer.eq(window), self.o_spike.payload.step.eq(step),
                     self.o_spike.payload.index.eq(source),
                     self.o_spike.payload.negative.eq(negative),
                     self.o_potential.payload.value.eq(potential),
                     self.o_potential.payload.last.eq(neuron == c.layers[-1] - 1)]

        lane_spike = Array(lane.spike for lane in lanes)[fire_lane]
        lane_negative = Array(lane.spike_negative for lane in lanes)[fire_lane]
        code = code_r.data
        magnitude = Mux(code < 0, -code, code)
        code_spike = (code != 0) & ((step == 0) | (magnitude == step))
        code_negative = Mux(step == 0, code < 0, code > 0)

        def next_source():
            with m.If(source == n_src[window] - 1):
                m.d.sync += [group.eq(0)]
                m.next = "MEM"
            with m.Else():
                m.d.sync += [source.eq(source + 1), row_base.eq(row_base + groups[window])]
                m.next = "FIRE_ISSUE"

        with m.FSM(name="scheduler") as fsm:
            with m.State("IDLE"):
                self._idle(m, c, code_w, received, thresholds, lanes)
                with m.If(self.i_code.valid & (received == c.inputs - 1) &
                          (self.i_code.payload >= -(c.steps - 1)) &
                          (self.i_code.payload <= c.steps - 1)):
                    m.d.sync += [window.eq(0), group.eq(0), self.done.eq(0)]
                    m.d.sync += [counter.eq(0) for counter in counters.values()]
                    m.d.sync += [s.eq(0) for s in spikes]
                    m.next = "INIT"
            with m.State("INIT"):
                issue(Op.INIT, state_base[window] + group)
                m.d.sync += group.eq(group + 1)
                with m.If(group == groups[window] - 1):
                    m.d.sync += [step.eq(0), source.eq(0), group.eq(0),
                                 row_base.eq(weight_base[window])]
                    m.next = "FIRE_ISSUE"
            with m.State("FIRE_ISSUE"):
                with m.If(hidden_window):
                    issue(Op.FIRE, state_base[window - 1] + fire_group, only_lane=True)
                m.next = "FIRE_WAIT"
            with m.State("FIRE_WAIT"):
                spiked = Mux(hidden_window, lane_spike, code_spike)
                m.d.sync += negative.eq(Mux(hidden_window, lane_negative, code_negative))
                with m.If(spiked):
                    m.d.sync += spikes[window].eq(spikes[window] + 1)
                    m.next = "SPIKE_OUT"
                with m.Else():
                    next_source()
            with m.State("SPIKE_OUT"):
                m.d.comb += self.o_spike.valid.eq(1)
                with m.If(self.o_spike.ready):
                    m.d.sync += group.eq(0)
                    m.next = "SYN"
            with m.State("SYN"):
                issue(Op.SYN, state_base[window] + group)
                m.d.sync += group.eq(group + 1)
                with m.If(group == groups[window] - 1):
                    next_source()
            with m.State("MEM"):
                issue(Op.MEM, state_base[window] + group)
                m.d.sync += group.eq(group + 1)
                with m.If(group == groups[window] - 1):
                    m.d.sync += [source.eq(0), group.eq(0), row_base.eq(weight_base[window])]
                    with m.If(step != c.steps - 1):
                        m.d.sync += step.eq(step + 1)
                        m.next = "FIRE_ISSUE"
                    with m.Elif(is_output):
                        m.d.sync += neuron.eq(0)
                        m.next = "OUT_ISSUE"
                    with m.Else():
                        m.d.sync += window.eq(window + 1)
                        m.next = "INIT"
            with m.State("OUT_ISSUE"):
                out_lane = neuron[:lane_bits] if lane_bits else Const(0)
                for lane in lanes:
                    m.d.comb += [lane.op.eq(Op.READ),
                                 lane.state_addr.eq(state_base[window] + (neuron >> lane_bits))]
                m.next = "OUT_WAIT"
            with m.State("OUT_WAIT"):
                value = Array(lane.potential for lane in lanes)[out_lane]
                m.d.sync += potential.eq(value)
                with m.If((neuron == 0) | (value > best)):
                    m.d.sync += [best.eq(value), self.class_index.eq(neuron)]
                m.next = "OUT_SEND"
            with m.State("OUT_SEND"):
                m.d.comb += self.o_potential.valid.eq(1)
                with m.If(self.o_potential.ready):
                    with m.If(neuron == c.layers[-1] - 1):
                        m.d.sync += self.done.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += neuron.eq(neuron + 1)
                        m.next = "OUT_ISSUE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        with m.If(self.busy):
            m.d.sync += self.cycles.eq(self.cycles + 1)
        return m

    def _idle(self, m, c, code_w, received, thresholds, lanes):
        """Accept codes and load words while idle."""
        m.d.comb += [self.i_code.ready.eq(1), self.i_load.ready.eq(1)]
        code = self.i_code.payload
        with m.If(self.i_code.valid):
            with m.If((code < -(c.steps - 1)) | (code > c.steps - 1)):
                m.d.sync += [self.code_error.eq(1), received.eq(0)]
            with m.Else():
                m.d.comb += [code_w.addr.eq(received), code_w.data.eq(code), code_w.en.eq(1)]
                m.d.sync += received.eq(Mux(received == c.inputs - 1, 0, received + 1))
        address, value = self.i_load.payload.address, self.i_load.payload.value
        weight_words = c.weight_depth * c.lanes
        lane_bits = (c.lanes - 1).bit_length()
        bad = Signal()
        with m.If(self.i_load.valid):
            with m.If(address < weight_words):
                with m.If((value >= -127) & (value <= 127)):
                    for k, lane in enumerate(lanes):
                        m.d.comb += [lane.load_addr.eq(address >> lane_bits),
                                     lane.load_data.eq(value),
                                     lane.load_en.eq((address[:lane_bits] == k) if lane_bits
                                                     else 1)]
                with m.Else():
                    m.d.comb += bad.eq(1)
            with m.Elif(address < weight_words + c.hidden):
                with m.If(value >= 1):
                    m.d.sync += thresholds[address - weight_words].eq(value)
                with m.Else():
                    m.d.comb += bad.eq(1)
            with m.Else():
                m.d.comb += bad.eq(1)
        with m.If(bad):
            m.d.sync += [self.load_error.eq(1), self.load_errors.eq(self.load_errors + 1)]
