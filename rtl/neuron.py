"""The TSC neuron core of one lane: neuron state and weights in block RAM, a two-stage
read-modify-write datapath that implements ``docs/tsc-neuron.md`` bit for bit.

Stage 1 (the cycle an op is issued) presents the state and weight addresses to synchronous
RAM; stage 2 (the next cycle) computes the update, writes it back and reports its effects.
The state RAM's read port is transparent to its write port, so an op may read the neuron
that the op just before it writes.
"""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["Op", "NeuronLane"]


class Op(enum.Enum, shape=3):
    """What the lane does to one neuron."""

    NOP = 0
    INIT = 1   # dV/dt = 0, V = v_init, on = 0
    SYN = 2    # dV/dt = sat(dV/dt +- w)
    MEM = 3    # V = sat(V + dV/dt)
    FIRE = 4   # one step of the fire window
    READ = 5   # report V


def _saturate(value, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    clipped = Mux(value < lo, Const(lo, signed(bits)),
                  Mux(value > hi, Const(hi, signed(bits)), value[:bits].as_signed()))
    return clipped, (value < lo) | (value > hi)


class NeuronLane(wiring.Component):
    """One lane: state for ``state_depth`` neurons and ``weight_depth`` int8 weights.

    Parameters
    ----------
    fmt : model.fixedpoint.FixedPointFormat
        ``dvdt_bits`` and ``v_bits`` of the state; weights are 8-bit.
    state_depth, weight_depth : int
        Neurons and weights held by this lane.
    weight_init : list of int or None
        Initial weight memory contents.

    Members
    -------
    op, state_addr, weight_addr, negative, first, last, threshold, v_init, count : In
        Stage 1: the op and its operands. ``negative`` is the sign of a SYN event; ``first`` /
        ``last`` mark the fire window's first and last step; ``count`` says the neuron is
        real (not padding), so that its effects are counted.
    load_addr, load_data, load_en : In
        Weight write port.
    spike, spike_negative, saturated, subtracted, synaptic, membrane, potential : Out
        Stage 2: the effects of the op issued in the previous cycle.
    """

    def __init__(self, fmt, state_depth, weight_depth, weight_init=None):
        for name, value in (("state_depth", state_depth), ("weight_depth", weight_depth)):
            if not isinstance(value, int) or value < 1:
                raise TypeError(f"{name} must be a positive integer, not {value!r}")
        self.fmt = fmt
        self.state_depth, self.weight_depth = state_depth, weight_depth
        self.weight_init = list(weight_init or [])
        if len(self.weight_init) > weight_depth:
            raise ValueError(f"weight_init has {len(self.weight_init)} words, more than "
                             f"weight_depth {weight_depth}")
        sa, wa = max(1, (state_depth - 1).bit_length()), max(1, (weight_depth - 1).bit_length())
        super().__init__({
            "op": In(Op), "state_addr": In(sa), "weight_addr": In(wa), "negative": In(1),
            "first": In(1), "last": In(1), "threshold": In(signed(fmt.v_bits)),
            "v_init": In(signed(fmt.v_bits)), "count": In(1),
            "load_addr": In(wa), "load_data": In(signed(8)), "load_en": In(1),
            "spike": Out(1), "spike_negative": Out(1), "saturated": Out(1),
            "subtracted": Out(1), "synaptic": Out(1), "membrane": Out(1),
            "potential": Out(signed(fmt.v_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        d, v_bits = self.fmt.dvdt_bits, self.fmt.v_bits
        m.submodules.state = state = Memory(shape=unsigned(d + v_bits + 1),
                                            depth=self.state_depth, init=[])
        m.submodules.weights = weights = Memory(shape=signed(8), depth=self.weight_depth,
                                                init=self.weight_init)
        state_w = state.write_port()
        state_r = state.read_port(transparent_for=(state_w,))
        weight_w = weights.write_port()
        weight_r = weights.read_port()
        m.d.comb += [
            state_r.addr.eq(self.state_addr), weight_r.addr.eq(self.weight_addr),
            weight_w.addr.eq(self.load_addr), weight_w.data.eq(self.load_data),
            weight_w.en.eq(self.load_en),
        ]

        # Stage 2 registers: the op issued in the previous cycle and its operands.
        op = Signal(Op)
        addr = Signal.like(self.state_addr)
        negative, first, last, count = Signal(), Signal(), Signal(), Signal()
        threshold = Signal.like(self.threshold)
        v_init = Signal.like(self.v_init)
        m.d.sync += [op.eq(self.op), addr.eq(self.state_addr), negative.eq(self.negative),
                     first.eq(self.first), last.eq(self.last), count.eq(self.count),
                     threshold.eq(self.threshold), v_init.eq(self.v_init)]

        dvdt = state_r.data[:d].as_signed()
        v = state_r.data[d:d + v_bits].as_signed()
        on = state_r.data[d + v_bits]
        new_dvdt, new_v, new_on = Signal(signed(d)), Signal(signed(v_bits)), Signal()
        m.d.comb += [new_dvdt.eq(dvdt), new_v.eq(v), new_on.eq(on), self.potential.eq(v)]

        weight = weight_r.data
        syn_sum, syn_clip = _saturate(dvdt + Mux(negative, -weight, weight), d)
        mem_sum, mem_clip = _saturate(v + dvdt, v_bits)
        reaches = v >= threshold
        with m.Switch(op):
            with m.Case(Op.INIT):
                m.d.comb += [new_dvdt.eq(0), new_v.eq(v_init), new_on.eq(0)]
            with m.Case(Op.SYN):
                m.d.comb += [new_dvdt.eq(syn_sum), self.saturated.eq(syn_clip & count),
                             self.synaptic.eq(count)]
            with m.Case(Op.MEM):
                m.d.comb += [new_v.eq(mem_sum), self.saturated.eq(mem_clip & count),
                             self.membrane.eq(count)]
            with m.Case(Op.FIRE):
                with m.If(first):
                    with m.If(reaches):
                        m.d.comb += [self.spike.eq(1), new_v.eq(v - threshold), new_on.eq(1),
                                     self.subtracted.eq(1)]
                with m.Elif(on):
                    with m.If(~reaches | last):
                        m.d.comb += [self.spike.eq(1), self.spike_negative.eq(1),
                                     new_on.eq(0)]
                    with m.Else():
                        m.d.comb += [new_v.eq(v - threshold), self.subtracted.eq(1)]
        m.d.comb += [
            state_w.addr.eq(addr),
            state_w.data.eq(Cat(new_dvdt, new_v, new_on)),
            state_w.en.eq((op == Op.INIT) | (op == Op.SYN) | (op == Op.MEM) | (op == Op.FIRE)),
        ]
        return m
