"""A simulation top that logs the accelerator's output streams into memories.

The cocotb testbench reads the logs once an image is done instead of waking on every
clock edge or every transfer: the accelerator's spikes and potentials, always accepted, are
written in order into ``spike_log`` and ``potential_log``, and their counts are ports. The
Python work per image is then its input codes and one read per logged value, so Verilator
runs at its own speed. Backpressure on the streams needs the plain top and the per-cycle
monitor (``verif/tb_accelerator.py``).
"""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.accelerator import TSCAccelerator

__all__ = ["LoggedAccelerator"]

_LOGGED = ("o_spike", "o_potential")


class LoggedAccelerator(wiring.Component):
    """:class:`rtl.accelerator.TSCAccelerator` with its output streams logged.

    Parameters
    ----------
    config, network
        As for :class:`TSCAccelerator`.

    Members
    -------
    (every member of TSCAccelerator but ``o_spike`` and ``o_potential``)
    clear : In(1)
        Empty both logs (before an image).
    spike_count, potential_count : Out
        Entries written since the last ``clear``; ``spike_log`` and ``potential_log`` hold
        them (payloads of ``o_spike`` and ``o_potential``), first at address 0.
    """

    def __init__(self, config, network=None):
        self.accelerator = TSCAccelerator(config, network)
        # every neuron of the inputs and of each hidden layer spikes at most twice; one entry
        # more than a correct image can fill, so that a surplus shows in the count
        self.spike_depth = 2 * (config.inputs + sum(config.layers[:-1])) + 1
        self.potential_depth = config.layers[-1] + 1
        members = {name: member for name, member in self.accelerator.signature.members.items()
                   if name not in _LOGGED}
        members.update({"clear": In(1), "spike_count": Out(range(self.spike_depth + 1)),
                        "potential_count": Out(range(self.potential_depth + 1))})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.accelerator = inner = self.accelerator
        for name, member in inner.signature.members.items():
            if name in _LOGGED:
                continue
            if not member.is_port:
                wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(inner, name))
            elif member.flow == In:
                m.d.comb += getattr(inner, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(inner, name))
        for name, stream, count, depth in (
                ("spike_log", inner.o_spike, self.spike_count, self.spike_depth),
                ("potential_log", inner.o_potential, self.potential_count,
                 self.potential_depth)):
            m.submodules[name] = log = Memory(shape=stream.payload.shape(), depth=depth,
                                              init=[])
            write = log.write_port()
            written = Signal()
            m.d.comb += [stream.ready.eq(1), written.eq(stream.valid & (count < depth)),
                         write.addr.eq(count), write.data.eq(stream.payload),
                         write.en.eq(written)]
            with m.If(self.clear):
                m.d.sync += count.eq(0)
            with m.Elif(written):
                m.d.sync += count.eq(count + 1)
        return m
