"""The lanes' issue register and the gathering of their effects.

The scheduler issues one op per cycle to every lane on one state word (each lane's ``count``
says whether its neuron is real); :class:`LaneBus` registers it on its way to the lanes, so that no
scheduler logic sits in front of a block RAM address, and gathers what the lanes report
``NeuronLane.LATENCY`` cycles later: the spike masks of a scan, the block lengths and
potentials, and the counts of synaptic and membrane updates and saturations (registered
again, so that their adders stay off the lanes' state write path).
"""

from amaranth import Cat, Module, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .neuron import LaneSignature, Op

__all__ = ["LaneBus"]


def _total(values):
    return sum(values[1:], values[0])


class LaneBus(wiring.Component):
    """Issue ops to ``config.lanes`` lanes; gather their effects.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig

    Members
    -------
    op : In(Op)
        The lanes' op (``Op.NOP`` for none).
    count : In(lanes)
        Each lane's neuron is real (not padding); for a SETK, the lane that stores it.
    address, operand, negative, step, bit : In
        Shared by the lanes: the state word, the op's operand, a SYN event's sign, a SCAN's
        step and a DIV's quotient bit.
    lanes : Out(LaneSignature).array(lanes)
        To each :class:`rtl.neuron.NeuronLane`, one cycle after the op was given.
    spike, spike_negative : Out(lanes)
        Each lane's SCAN result.
    block, potential : Out(ArrayLayout)
        Each lane's block length (after its last DIV op) and V (after a READ op).
    synaptic, membrane, saturated : Out
        The lanes' updates and saturations, one cycle after they report them; ``membrane``
        counts the threshold subtractions of a block too (see :class:`TSCAccelerator`).
    """

    def __init__(self, config):
        self.config = c = config
        lane = LaneSignature(c.fmt, c.steps, c.state_depth)
        super().__init__({
            "op": In(Op), "count": In(c.lanes),
            "address": In(lane.members["state_addr"].shape),
            "operand": In(signed(c.fmt.v_bits)), "negative": In(1),
            "step": In(range(c.steps)), "bit": In(range(c.quotient_bits)),
            "lanes": Out(lane).array(c.lanes),
            "spike": Out(c.lanes), "spike_negative": Out(c.lanes),
            "block": Out(data.ArrayLayout(range(c.steps), c.lanes)),
            "potential": Out(data.ArrayLayout(signed(c.fmt.v_bits), c.lanes)),
            "synaptic": Out(range(c.lanes + 1)), "membrane": Out(range(c.lanes * c.steps + 1)),
            "saturated": Out(range(c.lanes + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        lanes = self.lanes
        for k, lane in enumerate(lanes):
            m.d.sync += [lane.op.eq(self.op), lane.count.eq(self.count[k]),
                         lane.state_addr.eq(self.address), lane.operand.eq(self.operand),
                         lane.negative.eq(self.negative), lane.step.eq(self.step),
                         lane.bit.eq(self.bit)]
            m.d.comb += [self.block[k].eq(lane.block), self.potential[k].eq(lane.potential)]
        m.d.comb += [self.spike.eq(Cat(lane.spike for lane in lanes)),
                     self.spike_negative.eq(Cat(lane.spike_negative for lane in lanes))]
        m.d.sync += [
            self.synaptic.eq(_total([lane.synaptic for lane in lanes])),
            self.membrane.eq(_total([lane.membrane for lane in lanes]) +
                             _total([lane.block for lane in lanes])),
            self.saturated.eq(_total([lane.saturated for lane in lanes])),
        ]
        return m
