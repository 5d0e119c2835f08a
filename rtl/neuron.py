"""The TSC neuron core of one lane: neuron state in block RAM, a pipelined
read-modify-write datapath that implements ``docs/tsc-neuron.md`` bit for bit.

Stage 1 (the cycle an op is presented) gives the state address to synchronous RAM (and the
weight address to the shared :class:`rtl.weights.WeightMemory`); stage 2 registers what the
RAMs read; stage 3 computes the update into a register, which the state RAM writes on the
clock's falling edge in the next cycle; the op's effects come out of registers ``LATENCY`` =
3 cycles after stage 1. Any op may follow any other on the same neuron: the two ops right
behind take the new state from that register (in stage 3 and in stage 2), the third reads it
from the RAM (written half a cycle before its read: no read-during-write bypass).

State word of a neuron: ``dV/dt`` (``dvdt_bits``), ``V`` (``v_bits``) and a flag. After its
integration window a hidden neuron's block length ``k = min(floor(V / Vth), N - 1)`` is
computed by a restoring divider, one quotient bit per DIV op, and kept in the ``dV/dt``
field, which the neuron no longer needs; the fire window's spikes are then ``+1`` at step 0
and ``-1`` at step ``k`` exactly as the per-step rule gives them. Input codes are stored the
same way (``k = |c|``, the flag holding the sign), so one SCAN op serves every source layer.
"""

from amaranth import Cat, ClockDomain, ClockSignal, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import enum, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["Op", "LaneSignature", "NeuronLane"]


class Op(enum.Enum, shape=4):
    """What the lane does to one neuron."""

    NOP = 0
    INIT = 1   # dV/dt = 0, V = v_init, flag = 0
    SYN = 2    # dV/dt = sat(dV/dt +- w)
    MEM = 3    # V = sat(V + dV/dt)
    DIV = 4    # one quotient bit of k = min(floor(V / Vth), N - 1)
    SCAN = 5   # report the spike of fire-window step `step`
    READ = 6   # report V
    SETK = 7   # store an input code: k = operand (its magnitude), flag = negative (its sign)


def _saturating_add(a, b, bits):
    """``a + b`` clipped to ``bits`` signed bits, and whether it clipped (the golden model's
    rule: the exact sum, then clamped). When both operands fit ``bits`` bits the exact sum
    fits ``bits + 1``: it overflowed exactly when its top two bits differ, and then its top
    bit is its sign (no comparator on the adder's output). A wider operand (a weight wider
    than dV/dt, a dV/dt wider than V) needs the comparisons."""
    width = max(len(a), len(b), bits) + 1
    total = Signal(signed(width))
    clipped = Signal()
    result = Signal(signed(bits))
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if width == bits + 1:
        over, negative = total[bits] != total[bits - 1], total[bits]
    else:
        over, negative = (total < lo) | (total > hi), total[-1]
    return total, clipped, result, [
        total.eq(a + b),
        clipped.eq(over),
        result.eq(Mux(clipped, Mux(negative, lo, hi), total[:bits])),
    ]


class LaneSignature(wiring.Signature):
    """A lane's port, from the scheduler's side: an op on one neuron with its operands
    (``Out``), and the registered effects of the op issued ``NeuronLane.LATENCY`` cycles
    before (``In``). The members are those of :class:`NeuronLane`, which takes it flipped.

    Parameters
    ----------
    fmt : model.fixedpoint.FixedPointFormat
    steps : int
    state_depth : int
    """

    def __init__(self, fmt, steps, state_depth):
        for name, value in (("state_depth", state_depth), ("steps", steps)):
            if not isinstance(value, int) or value < 1:
                raise TypeError(f"{name} must be a positive integer, not {value!r}")
        quotient_bits = max(1, (steps - 1).bit_length())
        super().__init__({
            "op": Out(Op), "state_addr": Out(max(1, (state_depth - 1).bit_length())),
            "negative": Out(1), "operand": Out(signed(fmt.v_bits)),
            "bit": Out(range(quotient_bits)), "step": Out(range(steps)), "count": Out(1),
            "spike": In(1), "spike_negative": In(1), "saturated": In(1),
            "synaptic": In(1), "membrane": In(1),
            "potential": In(signed(fmt.v_bits)), "block": In(range(steps)),
        })


class NeuronLane(wiring.Component):
    """One lane: state for ``state_depth`` neurons.

    Parameters
    ----------
    fmt : model.fixedpoint.FixedPointFormat
        ``dvdt_bits`` and ``v_bits`` of the state; weights are 8-bit.
    steps : int
        N; block lengths are at most ``N - 1``.
    state_depth : int
        Neurons held by this lane.

    Members
    -------
    port : In(LaneSignature)
        The op and its operands, and the op's effects:
    port.op, port.state_addr : In
        Stage 1: the op and its neuron.
    weight : In(signed(8))
        Stage 2: the weight of a SYN op presented in the previous cycle (the synchronous
        read of the weight memory at the address given with the op).
    port.negative : In(1)
        Sign of a SYN event, or of a SETK's code.
    port.operand : In(signed(v_bits))
        ``V`` for INIT, ``Vth`` for DIV, the code's magnitude for SETK (``negative``: its
        sign).
    port.bit : In
        The quotient bit of a DIV op (``B - 1`` first, ``B = (N - 1).bit_length()``).
    port.step : In
        The fire-window step of a SCAN op.
    port.count : In(1)
        The neuron is real (not padding): its effects count, and its SYN ops add their
        weight (a padding neuron's dV/dt stays 0, so its block length is 0 and it never
        spikes, whatever its weights). A SETK writes only where it is set (so that one op
        serves every lane, one of them storing the code).
    port.spike, .spike_negative, .saturated, .synaptic, .membrane, .potential, .block : Out
        Registered effects of the op presented ``LATENCY`` cycles before. ``membrane`` is 1
        for a MEM op; ``block`` is ``k`` after the last DIV op (the neuron's threshold
        subtractions under the per-step rule).
    """

    LATENCY = 3

    def __init__(self, fmt, steps, state_depth):
        signature = LaneSignature(fmt, steps, state_depth)
        self.quotient_bits = max(1, (steps - 1).bit_length())
        if fmt.dvdt_bits <= self.quotient_bits:
            raise ValueError(f"dvdt_bits ({fmt.dvdt_bits}) must exceed the {self.quotient_bits} "
                             f"bits of a block length at N={steps}")
        self.fmt, self.steps = fmt, steps
        self.state_depth = state_depth
        super().__init__({"port": In(signature), "weight": In(signed(8))})

    def elaborate(self, platform):
        m = Module()
        d, v_bits, q_bits = self.fmt.dvdt_bits, self.fmt.v_bits, self.quotient_bits
        m.submodules.state = state = Memory(shape=unsigned(d + v_bits + 1),
                                            depth=self.state_depth, init=[])
        # the write half a cycle after ``written`` is set (the RAM's negative-edge write
        # clock), so that the read at the end of that cycle finds it
        m.domains.state_write = ClockDomain(clk_edge="neg", reset_less=True, local=True)
        m.d.comb += ClockSignal("state_write").eq(ClockSignal())
        state_w = state.write_port(domain="state_write")
        state_r = state.read_port()
        m.d.comb += state_r.addr.eq(self.port.state_addr)

        # The op and its operands travel with it: stage 2, then stage 3.
        def delayed(signal, name):
            stage2 = Signal.like(signal, name=f"{name}2")
            stage3 = Signal.like(signal, name=f"{name}3")
            m.d.sync += [stage2.eq(signal), stage3.eq(stage2)]
            return stage2, stage3

        _, op = delayed(self.port.op, "op")
        addr2, addr = delayed(self.port.state_addr, "addr")
        count2, count = delayed(self.port.count, "count")
        operand2, operand = delayed(self.port.operand, "operand")
        bit2, bit = delayed(self.port.bit, "bit")
        _, step = delayed(self.port.step, "step")

        # Stage 3's new state goes to the ``written`` register, which the RAM writes in the
        # middle of the next cycle. Stage 2 registers what the RAMs read, with the state replaced by
        # ``written`` when that op (two ahead) wrote this op's neuron; stage 3 replaces it
        # again by ``written`` when the op right ahead did (decided in stage 2).
        # The weight register holds the event's signed contribution, +w or -w.
        new_state, writes = Signal.like(state_w.data), Signal()
        written, written_addr, written_en = Signal.like(new_state), Signal.like(addr), Signal()
        m.d.sync += [written.eq(new_state), written_addr.eq(addr), written_en.eq(writes)]
        m.d.comb += [state_w.addr.eq(written_addr), state_w.data.eq(written),
                     state_w.en.eq(written_en)]
        negative2, negative3, forward = Signal(), Signal(), Signal()
        state_read, weight = Signal.like(state_r.data), Signal(signed(9))
        m.d.sync += [
            negative2.eq(self.port.negative), negative3.eq(negative2),
            state_read.eq(Mux(written_en & (written_addr == addr2), written, state_r.data)),
            # a padding neuron (count 0) adds nothing, so it never holds a block to fire
            weight.eq(Mux(count2, Mux(negative2, -self.weight, self.weight), 0)),
            forward.eq(writes & (addr == addr2)),
        ]
        current = Mux(forward, written, state_read)

        # Stage 3's effects, registered on their way out.
        effects = {name: Signal.like(getattr(self.port, name), name=f"{name}_next") for name in
                   ("spike", "spike_negative", "saturated", "synaptic", "membrane", "block")}
        m.d.sync += [getattr(self.port, name).eq(value) for name, value in effects.items()]

        dvdt = current[:d].as_signed()
        k = current[:d]  # the same field read as a block length after integration
        v = current[d:d + v_bits].as_signed()
        flag = current[d + v_bits]
        new_dvdt, new_v, new_flag = Signal(d), Signal(signed(v_bits)), Signal()
        m.d.comb += [new_dvdt.eq(current[:d]), new_v.eq(v), new_flag.eq(flag),
                     # a READ writes nothing and leaves the state as it was
                     self.port.potential.eq(written[d:d + v_bits])]

        _, syn_clip, syn_sum, syn = _saturating_add(dvdt, weight, d)
        _, mem_clip, mem_sum, mem = _saturating_add(v, dvdt, v_bits)
        m.d.comb += syn + mem
        # Restoring division: the remainder lives in V, the quotient in the dV/dt field.
        # Vth << bit, computed in stage 2; V < 2**(v_bits - 1), so a divisor that does not
        # fit v_bits - 1 bits never divides it and the comparison stays v_bits wide.
        shifted = Signal(v_bits + q_bits)
        divisor, divisor_fits = Signal(signed(v_bits)), Signal()
        m.d.comb += shifted.eq(operand2.as_unsigned() << bit2)
        m.d.sync += [divisor.eq(shifted[:v_bits - 1]),
                     divisor_fits.eq(shifted[v_bits - 1:] == 0)]
        quotient_in = Mux(bit == q_bits - 1, 0, k[:q_bits])
        # one subtractor: the divisor goes in when the difference is not negative
        remainder = Signal(signed(v_bits + 1))
        m.d.comb += remainder.eq(v - divisor)
        takes = divisor_fits & ~remainder[-1]
        quotient = quotient_in | Mux(takes, Const(1, q_bits) << bit, 0)
        capped = Mux(quotient > self.steps - 1, self.steps - 1, quotient)
        with m.Switch(op):
            with m.Case(Op.INIT):
                m.d.comb += [new_dvdt.eq(0), new_v.eq(operand), new_flag.eq(0)]
            with m.Case(Op.SYN):
                m.d.comb += [new_dvdt.eq(syn_sum), effects["saturated"].eq(syn_clip & count),
                             effects["synaptic"].eq(count)]
            with m.Case(Op.MEM):
                m.d.comb += [new_v.eq(mem_sum), effects["saturated"].eq(mem_clip & count),
                             effects["membrane"].eq(count)]
            with m.Case(Op.DIV):
                m.d.comb += [new_v.eq(Mux(takes, remainder[:v_bits], v)), new_flag.eq(0),
                             new_dvdt.eq(Mux(bit == 0, capped, quotient))]
                with m.If((bit == 0) & count):
                    m.d.comb += effects["block"].eq(capped)
            with m.Case(Op.SCAN):
                m.d.comb += [
                    effects["spike"].eq(count & (k != 0) & ((step == 0) | (k == step))),
                    effects["spike_negative"].eq(flag ^ (step != 0)),
                ]
            with m.Case(Op.SETK):
                m.d.comb += [new_dvdt.eq(operand), new_flag.eq(negative3)]
        m.d.comb += [
            new_state.eq(Cat(new_dvdt, new_v, new_flag)),
            writes.eq((op == Op.INIT) | (op == Op.SYN) | (op == Op.MEM) | (op == Op.DIV) |
                      ((op == Op.SETK) & count)),
        ]
        return m
