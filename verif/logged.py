"""A simulation top that feeds an image from one wide port and logs the accelerator's output
streams into memories.

The cocotb testbench sets an image's codes at once and reads the logs once the image is
done, instead of waking on every clock edge or every transfer: ``image`` holds every input
code (code ``i`` in bits ``i * code_bits`` up), and a pulse on ``start`` streams them into
``i_code``; the spikes and potentials, always accepted, are written in order into
``spike_log`` and ``potential_log``, ``pack`` entries to a memory word, and their counts are
ports. The Python work per image is then a few GPI calls and one read per ``pack`` logged
values, so Verilator runs at nearly its own speed. Backpressure on the streams needs the
plain top and the per-cycle monitor (``verif/tb_accelerator.py``).
"""

from amaranth import Module, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rtl.accelerator import TSCAccelerator

__all__ = ["LoggedAccelerator", "PACK"]

_REPLACED = ("i_code", "o_spike", "o_potential")
# logged entries per memory word: the testbench reads one word per PACK entries
PACK = 16


class LoggedAccelerator(wiring.Component):
    """:class:`rtl.accelerator.TSCAccelerator` fed from a wide port, its outputs logged.

    Parameters
    ----------
    config, network
        As for :class:`TSCAccelerator`.

    Members
    -------
    (every member of TSCAccelerator but ``i_code``, ``o_spike`` and ``o_potential``)
    image : In(inputs * code_bits)
        The image's input codes, in the order ``i_code`` takes them, code 0 lowest.
    start : In(1)
        Stream ``image`` into the accelerator and empty both logs.
    spike_count, potential_count : Out
        Entries written since the last ``start``; entry ``i`` of ``spike_log`` and
        ``potential_log`` (payloads of ``o_spike`` and ``o_potential``) is slot ``i % PACK``
        of word ``i // PACK``.
    """

    def __init__(self, config, network=None):
        self.accelerator = TSCAccelerator(config, network)
        self.code_bits = config.code_bits
        # every neuron of the inputs and of each hidden layer spikes at most twice; one entry
        # more than a correct image can fill, so that a surplus shows in the count
        self.spike_depth = 2 * (config.inputs + sum(config.layers[:-1])) + 1
        self.potential_depth = config.layers[-1] + 1
        members = {name: member for name, member in self.accelerator.signature.members.items()
                   if name not in _REPLACED}
        members.update({"image": In(config.inputs * config.code_bits), "start": In(1),
                        "spike_count": Out(range(self.spike_depth + 1)),
                        "potential_count": Out(range(self.potential_depth + 1))})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.accelerator = inner = self.accelerator
        for name, member in inner.signature.members.items():
            if name in _REPLACED:
                continue
            if not member.is_port:
                wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(inner, name))
            elif member.flow == In:
                m.d.comb += getattr(inner, name).eq(getattr(self, name))
            else:
                m.d.comb += getattr(self, name).eq(getattr(inner, name))
        self._feed(m, inner.i_code)
        for name, stream, count, depth in (
                ("spike_log", inner.o_spike, self.spike_count, self.spike_depth),
                ("potential_log", inner.o_potential, self.potential_count,
                 self.potential_depth)):
            self._log(m, name, stream, count, depth)
        return m

    def _feed(self, m, i_code):
        """Stream the codes of ``image`` into ``i_code`` after ``start``."""
        inputs = len(self.image) // self.code_bits
        index, feeding = Signal(range(inputs)), Signal()
        m.d.comb += [i_code.valid.eq(feeding),
                     i_code.payload.eq(self.image.word_select(index, self.code_bits))]
        with m.If(self.start):
            m.d.sync += [index.eq(0), feeding.eq(1)]
        with m.Elif(i_code.valid & i_code.ready):
            m.d.sync += index.eq(index + 1)
            with m.If(index == inputs - 1):
                m.d.sync += feeding.eq(0)

    def _log(self, m, name, stream, count, depth):
        width = len(stream.payload.as_value())
        m.submodules[name] = log = Memory(shape=unsigned(width * PACK),
                                          depth=-(-depth // PACK), init=[])
        write = log.write_port(granularity=width)
        slot = count % PACK
        written = Signal()
        m.d.comb += [stream.ready.eq(1), written.eq(stream.valid & (count < depth)),
                     write.addr.eq(count // PACK),
                     write.data.eq(stream.payload.as_value().replicate(PACK)),
                     write.en.eq(written << slot)]
        with m.If(self.start):
            m.d.sync += count.eq(0)
        with m.Elif(written):
            m.d.sync += count.eq(count + 1)
