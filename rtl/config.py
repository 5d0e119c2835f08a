"""Conversion, step three: a quantized network to the accelerator's elaboration parameters.

:class:`AcceleratorConfig` holds what the RTL is elaborated from: the layer sizes, N, the
fixed-point format, the rounding and the number of lanes. Neuron ``j`` of a layer lives in
lane ``j % lanes`` at group ``j // lanes``; each lane has its own state memory and its own
column of the weight memory (block RAM, or the iCE40UP5K's SPRAM, see
:class:`rtl.weights.WeightMemory`). :func:`weight_images` lays a network's int8 weights out in
those columns; the same layout defines the load port's address map, so the host loader and
the build share it.
"""

from dataclasses import dataclass

from model.fixedpoint import DEFAULT_FORMAT
from model.network import Linear
from model.simulate import ROUNDINGS

__all__ = ["AcceleratorConfig", "NetworkMismatch", "WEIGHT_MEMORIES", "SPRAM_WORDS",
           "ceil_div", "weight_images", "load_words"]

WEIGHT_MEMORIES = ("block", "spram")
SPRAM_WORDS = 16384  # 16-bit words of one iCE40UP5K SPRAM (SB_SPRAM256KA)


class NetworkMismatch(ValueError):
    """A network that the accelerator's parameters cannot run, with the limit it breaks."""


def ceil_div(a, b):
    """``a / b`` rounded up, for positive integers."""
    return -(-a // b)


@dataclass(frozen=True)
class AcceleratorConfig:
    """Elaboration parameters of :class:`rtl.accelerator.TSCAccelerator`.

    Parameters
    ----------
    inputs : int
        Input neurons (codes per image).
    layers : tuple of int
        Neurons of each layer, the output layer last (at least one hidden layer).
    steps : int
        N, time steps per window.
    fmt : model.fixedpoint.FixedPointFormat
    rounding : {"nearest", "floor"}
    lanes : int
        Neurons updated per cycle, a power of two.
    weight_memory : {"block", "spram"}
        Where the weights live: block RAM (initialised by the bitstream) or the iCE40UP5K's
        SPRAM (two lanes per 16-bit word, 16K words deep; not initialised by the bitstream,
        so the weights must be loaded through the load port).
    """

    inputs: int
    layers: tuple
    steps: int
    fmt: object = DEFAULT_FORMAT
    rounding: str = "nearest"
    lanes: int = 1
    weight_memory: str = "block"

    def __post_init__(self):
        if not isinstance(self.inputs, int) or self.inputs < 1:
            raise ValueError(f"inputs must be a positive integer, not {self.inputs!r}")
        if len(self.layers) < 2 or any(not isinstance(n, int) or n < 1 for n in self.layers):
            raise ValueError(f"layers must be two or more positive integers (hidden layers, "
                             f"then the output layer), not {self.layers!r}")
        if not isinstance(self.steps, int) or self.steps < 2:
            raise ValueError(f"steps must be an integer of at least 2, not {self.steps!r}")
        if not isinstance(self.lanes, int) or self.lanes < 1 or self.lanes & (self.lanes - 1):
            raise ValueError(f"lanes must be a power of two, not {self.lanes!r}")
        if self.weight_memory not in WEIGHT_MEMORIES:
            raise ValueError(f"weight_memory must be one of {WEIGHT_MEMORIES}, not "
                             f"{self.weight_memory!r}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"rounding must be one of {ROUNDINGS}, not {self.rounding!r}")
        if self.fmt.dvdt_bits <= max(1, (self.steps - 1).bit_length()):
            raise ValueError(f"dvdt_bits ({self.fmt.dvdt_bits}) must exceed the bits of a block "
                             f"length at N={self.steps}: the dV/dt field holds it after "
                             f"integration")
        if self.fmt.weight_bits != 8:
            raise ValueError(f"the accelerator stores int8 weights, not {self.fmt.weight_bits}-bit")

    @classmethod
    def from_network(cls, qnet, lanes=1, weight_memory="block"):
        """Parameters that run ``qnet`` (an :class:`model.quantize.IntegerNetwork`).

        Raises :class:`NetworkMismatch` for a layer the RTL does not implement."""
        sizes = []
        for index, layer in enumerate(qnet.network.layers):
            if len(layer.ops) != 1 or not isinstance(layer.ops[0], Linear):
                kinds = ", ".join(op.to_dict()["op"] for op in layer.ops)
                raise NetworkMismatch(f"layer {index} ({layer.name}) is {kinds}: the accelerator "
                                      f"runs fully connected (Linear) layers only")
            sizes.append(layer.out_size)
        if len(sizes) < 2:
            raise NetworkMismatch("the accelerator needs at least one hidden layer")
        return cls(qnet.network.layers[0].in_size, tuple(sizes), qnet.steps, qnet.fmt,
                   qnet.rounding, lanes, weight_memory)

    def check_network(self, qnet):
        """Raise :class:`NetworkMismatch` saying which limit ``qnet`` breaks, and by how much."""
        other = AcceleratorConfig.from_network(qnet, self.lanes)
        if other.inputs != self.inputs:
            raise NetworkMismatch(f"the network has {other.inputs} inputs, the accelerator "
                                  f"{self.inputs} ({other.inputs - self.inputs:+d})")
        if len(other.layers) != len(self.layers):
            raise NetworkMismatch(f"the network has {len(other.layers)} layers, the "
                                  f"accelerator {len(self.layers)}")
        for index, (have, want) in enumerate(zip(self.layers, other.layers)):
            if have != want:
                raise NetworkMismatch(f"layer {index} has {want} neurons, the accelerator "
                                      f"{have} ({want - have:+d})")
        if other.steps != self.steps:
            raise NetworkMismatch(f"the network uses N={other.steps}, the accelerator "
                                  f"N={self.steps}")
        for name in ("dvdt_bits", "v_bits"):
            if getattr(other.fmt, name) != getattr(self.fmt, name):
                raise NetworkMismatch(f"the network needs {name}={getattr(other.fmt, name)}, "
                                      f"the accelerator has {getattr(self.fmt, name)}")
        if other.rounding != self.rounding:
            raise NetworkMismatch(f"the network rounds {other.rounding!r}, the accelerator "
                                  f"{self.rounding!r}")

    @property
    def sources(self):
        """Source neurons of each layer (the previous layer's size)."""
        return (self.inputs,) + self.layers[:-1]

    @property
    def groups(self):
        return tuple(ceil_div(n, self.lanes) for n in self.layers)

    @property
    def state_bases(self):
        bases, base = [], 0
        for g in self.groups:
            bases.append(base)
            base += g
        return tuple(bases)

    @property
    def source_groups(self):
        """Groups of each layer's source layer (the inputs for layer 0)."""
        return tuple(ceil_div(n, self.lanes) for n in self.sources)

    @property
    def input_base(self):
        """State address of the input codes, after every layer's neurons."""
        return sum(self.groups)

    @property
    def source_bases(self):
        return (self.input_base,) + self.state_bases[:-1]

    @property
    def state_depth(self):
        return sum(self.groups) + ceil_div(self.inputs, self.lanes)

    @property
    def quotient_bits(self):
        return max(1, (self.steps - 1).bit_length())

    @property
    def weight_bases(self):
        bases, base = [], 0
        for src, g in zip(self.sources, self.groups):
            bases.append(base)
            base += src * g
        return tuple(bases)

    @property
    def weight_depth(self):
        return sum(src * g for src, g in zip(self.sources, self.groups))

    @property
    def spram_banks(self):
        """SPRAMs stacked in depth to hold ``weight_depth`` words."""
        return ceil_div(self.weight_depth, SPRAM_WORDS)

    @property
    def spram_blocks(self):
        """SPRAMs the weights take in SPRAM: one per two lanes per bank (0 in block RAM)."""
        if self.weight_memory != "spram":
            return 0
        return ceil_div(self.lanes, 2) * self.spram_banks

    @property
    def code_bits(self):
        return (self.steps - 1).bit_length() + 1

    @property
    def hidden(self):
        return len(self.layers) - 1

    def lower_bound_cycles(self, synaptic, membrane):
        """The issue's lower bound: synaptic updates / lanes + membrane updates / lanes."""
        return synaptic / self.lanes + membrane / self.lanes


def weight_images(config, qnet):
    """Per-lane weight memory contents (lists of ints) for ``qnet`` under ``config``."""
    config.check_network(qnet)
    images = [[0] * config.weight_depth for _ in range(config.lanes)]
    for layer, base, groups in zip(qnet.network.layers, config.weight_bases, config.groups):
        weight = layer.weight.tolist()  # [targets][sources]
        for j, row in enumerate(weight):
            lane, group = j % config.lanes, j // config.lanes
            for i, w in enumerate(row):
                images[lane][base + i * groups + group] = int(w)
    return images


def load_words(config, qnet):
    """``(address, value)`` pairs, in ascending address, that load ``qnet`` through the load
    port: every weight, then every hidden threshold. Weight address ``word * lanes + lane``;
    threshold ``l`` at ``weight_depth * lanes + l``."""
    images = weight_images(config, qnet)
    words = [(word * config.lanes + lane, images[lane][word])
             for word in range(config.weight_depth) for lane in range(config.lanes)]
    top = config.weight_depth * config.lanes
    words += [(top + index, int(th)) for index, th in enumerate(qnet.network.thresholds)]
    return words
