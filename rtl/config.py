"""Conversion, step three: a quantized network to the accelerator's elaboration parameters.

:class:`AcceleratorConfig` holds what the RTL is elaborated from: each layer's geometry
(:class:`LayerGeometry`: source shape, sum pooling, kernel, stride, padding, output shape),
N, the fixed-point format, the rounding and the number of lanes.

Lanes run over output channels. Neuron ``(c, y, x)`` of a layer with ``C`` channels lives in
lane ``c % lanes`` at state word ``(y * W + x) * cgroups + c // lanes`` of the layer
(``cgroups = ceil(C / lanes)``), so a layer's neurons are visited channels last, the order in
which their spikes' events are applied (:func:`model.network.event_order`). A vector is a
``(n, 1, 1)`` shape: neuron ``j`` in lane ``j % lanes``, word ``j // lanes``.

A layer integrates one or more input paths (:class:`InputPath`): its main input, the layer
before it, and a residual junction's shortcuts, each from an earlier layer (or the input
codes) whose stored block lengths are scanned again in the junction's window (a replay).

Weights are stored once per channel pair and kernel tap, never expanded into a matrix:
weight word ``((ci * Kh + ky) * Kw + kx) * cgroups + cg`` of a path, lane ``k``, holds
``w[cg * lanes + k, ci, ky, kx]``; an identity shortcut's integer gain is one word, the same
in every lane. A ``Linear`` layer is the convolution whose kernel covers
its (pooled) source, so the same words hold ``w[o, ci * Kh * Kw + ky * Kw + kx]``. Each lane
has its own state memory and its own column of the weight memory (block RAM, or the
iCE40UP5K's SPRAM, see :class:`rtl.weights.WeightMemory`). :func:`weight_images` lays a
network's int8 weights out in those columns; the same layout defines the load port's address
map, so the host loader and the build share it.
"""

from dataclasses import dataclass, replace

from model.fixedpoint import DEFAULT_FORMAT
from model.network import AvgPool, Conv2d, Flatten, Gain, Linear
from model.simulate import ROUNDINGS

from .protocol import code_bits

__all__ = ["AcceleratorConfig", "LayerGeometry", "InputPath", "NetworkMismatch", "exact_format",
           "WIDTHS", "WEIGHT_MEMORIES", "SPRAM_WORDS", "CHUNK_NEURONS", "RUN_PIXELS",
           "MAX_LANES", "ceil_div", "weight_images", "load_words"]

WEIGHT_MEMORIES = ("block", "spram")
# The accumulators' widths a build takes: those proven for its network, or the network's own.
WIDTHS = ("proven", "network")
# (format field, name, what its proven bound is made of)
_ACCUMULATORS = (("dvdt_bits", "dV/dt", "its largest sum of |w| into a neuron"),
                 ("v_bits", "V", "that sum times N plus its threshold"))
SPRAM_WORDS = 16384  # 16-bit words of one iCE40UP5K SPRAM (SB_SPRAM256KA)
# Neurons of a scan chunk. Estimated on the digits resnet at N = 32 (cycles over the bound,
# 1 / 2 / 4 lanes, before the result queue): 8 neurons 1.15 / 1.24 / 1.37x, 16 and 32
# neurons 1.15 / 1.22 / 1.31x; measured with the queue, 16: 1.11 / 1.14 / 1.19x.
CHUNK_NEURONS = 16
# Pixels of a scan run (at most; see AcceleratorConfig.run_pixels). Estimated on the digits
# resnet at N = 32 (scan slots at 8 lanes): 16.7k with no runs, 9.5k with runs of 4 chunks,
# 9.2k with 8.
RUN_PIXELS = 4
# Runs are built where a chunk is at most this many words (8 lanes and more at 16 neurons a
# chunk). Digits cnn, iCEBreaker, 2 lanes (8-word chunks), --clock 30: runs took 0.8% of the
# cycles (139,365 against 140,471 estimated) and cost 219 logic cells and 5 MHz (27.7 / 25.5
# / 27.2 / 25.5 MHz over nextpnr's default seed and seeds 1-3, against 32.3 / 31.9 / 32.6 /
# 33.1); at 8 lanes they take the digits resnet from 1.28x to 1.19x its bound.
RUN_CHUNK_WORDS = 2
MAX_LANES = 64  # the lanes' effects are summed by adder chains; UP5K and ECP5-85F fit far fewer


def _starts(sizes):
    """Where each of consecutive blocks of ``sizes`` begins."""
    return tuple(sum(sizes[:k]) for k in range(len(sizes)))


class NetworkMismatch(ValueError):
    """A network that the accelerator's parameters cannot run, with the limit it breaks."""


def exact_format(*qnets):
    """The narrowest dV/dt and V widths that run each of ``qnets`` (networks of one format)
    exactly as its own format does.

    Per accumulator, the width :meth:`model.quantize.IntegerNetwork.saturation_free_widths`
    proves where that is narrower than the network's own: no input saturates the
    accumulator there, so the network's own, wider, accumulator never clips either and both
    give the same spikes, potentials and counts. Where the proof needs more bits than the
    network has (the network may saturate), its own width. dV/dt keeps at least one bit
    more than a block length (it holds one after integration)."""
    if not qnets or len({qnet.fmt for qnet in qnets}) != 1:
        raise ValueError(f"exact_format takes one or more networks of one format, not "
                         f"{[qnet.fmt for qnet in qnets]}")
    fmt, steps = qnets[0].fmt, qnets[0].steps
    block = max(1, (steps - 1).bit_length()) + 1
    proven = [dict(zip(("dvdt_bits", "v_bits"), qnet.saturation_free_widths()))
              for qnet in qnets]
    widths = {}
    for name, _, _ in _ACCUMULATORS:
        own = getattr(fmt, name)
        need = max(p[name] for p in proven)
        widths[name] = own if need >= own else max(need, block if name == "dvdt_bits" else 2)
    return replace(fmt, **widths)


def ceil_div(a, b):
    """``a / b`` rounded up, for positive integers."""
    return -(-a // b)


@dataclass(frozen=True)
class LayerGeometry:
    """How a layer's neurons are reached from its source's: sum pooling, then a convolution.

    Parameters
    ----------
    source : tuple of int
        ``(C, H, W)`` of the source layer (``(n, 1, 1)`` for a vector).
    out : tuple of int
        ``(C, H, W)`` of the layer.
    pool : int
        Sum pooling kernel (and stride) applied to the source first; 1 for none. Rows and
        columns past the last whole window are dropped, as ``AvgPool2d`` does.
    kernel : tuple of int
        ``(Kh, Kw)``; a ``Linear`` layer's kernel covers its pooled source.
    stride, padding : int
        Of the convolution (zero padding).
    """

    source: tuple
    out: tuple
    pool: int = 1
    kernel: tuple = (1, 1)
    stride: int = 1
    padding: int = 0

    def __post_init__(self):
        for name in ("source", "out", "kernel"):
            value = getattr(self, name)
            if len(value) != (2 if name == "kernel" else 3) or \
                    any(not isinstance(d, int) or d < 1 for d in value):
                raise ValueError(f"{name} must be positive integers, not {value!r}")
        for name, low in (("pool", 1), ("stride", 1), ("padding", 0)):
            value = getattr(self, name)
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer of at least {low}, not {value!r}")
        _, height, width = self.pooled
        expect = tuple((n + 2 * self.padding - k) // self.stride + 1
                       for n, k in zip((height, width), self.kernel))
        if min(height, width) < 1 or expect != self.out[1:]:
            raise ValueError(f"pool {self.pool}, kernel {self.kernel}, stride {self.stride}, "
                             f"padding {self.padding} map {self.source} to "
                             f"{self.out[0:1] + expect}, not {self.out}")

    @classmethod
    def dense(cls, inputs, outputs):
        """A fully connected layer of ``inputs`` -> ``outputs`` neurons."""
        return cls((inputs, 1, 1), (outputs, 1, 1))

    @classmethod
    def from_layer(cls, layer, where):
        """The geometry of a :class:`model.network.Layer`; :class:`NetworkMismatch` names an
        op sequence the accelerator does not run (``where`` says which layer)."""
        kinds = ", ".join(op.to_dict()["op"] for op in layer.ops)
        *before, weighted = layer.ops
        pool, flat = 1, False
        for op in before:
            if isinstance(op, AvgPool) and not flat:
                pool *= op.kernel
            elif isinstance(op, Flatten) and not flat:
                flat = True
            else:
                raise NetworkMismatch(
                    f"{where} is {kinds}: the accelerator runs sum pooling, then flatten, "
                    f"then one linear, conv2d or gain op, in that order")
        source = tuple(layer.in_shape) if len(layer.in_shape) == 3 else (layer.in_size, 1, 1)
        if isinstance(weighted, Gain) and not flat:
            channels, height, width = source
            return cls(source, (channels, height // pool, width // pool), pool)
        if isinstance(weighted, Conv2d) and not flat:
            k = weighted.weight.shape[-1]
            return cls(source, tuple(layer.out_shape), pool, (k, k), weighted.stride,
                       weighted.padding)
        if isinstance(weighted, Linear) and (flat or len(layer.in_shape) == 1):
            _, height, width = source
            return cls(source, (layer.out_size, 1, 1), pool, (height // pool, width // pool))
        raise NetworkMismatch(f"{where} is {kinds}: the accelerator runs sum pooling, then "
                              f"flatten, then one linear, conv2d or gain op, in that order")

    @property
    def pooled(self):
        channels, height, width = self.source
        return (channels, height // self.pool, width // self.pool)

    @property
    def taps(self):
        return self.kernel[0] * self.kernel[1]

    @property
    def inputs(self):
        return self.source[0] * self.source[1] * self.source[2]

    @property
    def neurons(self):
        return self.out[0] * self.out[1] * self.out[2]

    def targets(self, axis, coordinate):
        """The targets along ``axis`` (0: rows, 1: columns) of a source at ``coordinate``
        (before pooling): ``(first, count, tap)``, ``tap`` the kernel index that reaches the
        first target; later targets are 1 apart and their taps ``stride`` lower."""
        pooled, size = coordinate // self.pool, self.pooled[1 + axis]
        kernel, outputs = self.kernel[axis], self.out[1 + axis]
        if pooled >= size:
            return 0, 0, 0
        shifted = pooled + self.padding
        first = max(0, ceil_div(shifted - kernel + 1, self.stride))
        last = min(outputs - 1, shifted // self.stride)
        return first, max(0, last - first + 1), shifted - first * self.stride


@dataclass(frozen=True)
class InputPath:
    """One input of a layer's dV/dt: its main input or a residual junction's shortcut.

    Parameters
    ----------
    layer : int
        The layer integrating it.
    source : int
        The layer whose block lengths it reads (``-1``: the input codes).
    geometry : LayerGeometry
    gain : bool
        An identity shortcut times one integer gain (after sum pooling): source neuron
        ``(c, y, x)`` reaches target ``(c, y, x)`` only; ``geometry`` is then a 1x1 kernel.
    shortcut : bool
        A residual junction's shortcut, which replays its source's stored blocks (not the
        layer's main input, whose spikes go out on ``o_spike`` and are counted as spikes).
    """

    layer: int
    source: int
    geometry: LayerGeometry
    gain: bool = False
    shortcut: bool = True


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
    geometry : tuple of LayerGeometry, or None
        Each layer's connectivity; ``None`` for fully connected layers of ``layers``'
        sizes. It must agree with ``inputs`` and ``layers``.
    shortcuts : tuple of InputPath
        Residual junctions' shortcuts, added after the layer's main input in this order.
    chunk_neurons : int
        Neurons of a scan chunk (a power of two; see :attr:`chunk_words`).
    run_pixels : int
        Pixels of a scan run at most (a power of two; see :attr:`source_run_pixels`).
    """

    inputs: int
    layers: tuple
    steps: int
    fmt: object = DEFAULT_FORMAT
    rounding: str = "nearest"
    lanes: int = 1
    weight_memory: str = "block"
    geometry: tuple = None
    shortcuts: tuple = ()
    chunk_neurons: int = CHUNK_NEURONS
    run_pixels: int = RUN_PIXELS

    def __post_init__(self):
        if not isinstance(self.inputs, int) or self.inputs < 1:
            raise ValueError(f"inputs must be a positive integer, not {self.inputs!r}")
        if len(self.layers) < 2 or any(not isinstance(n, int) or n < 1 for n in self.layers):
            raise ValueError(f"layers must be two or more positive integers (hidden layers, "
                             f"then the output layer), not {self.layers!r}")
        if not isinstance(self.steps, int) or self.steps < 2:
            raise ValueError(f"steps must be an integer of at least 2, not {self.steps!r}")
        if not isinstance(self.lanes, int) or not 1 <= self.lanes <= MAX_LANES or \
                self.lanes & (self.lanes - 1):
            raise ValueError(f"lanes must be a power of two from 1 to {MAX_LANES}, not "
                             f"{self.lanes!r}")
        if not isinstance(self.chunk_neurons, int) or self.chunk_neurons < 1 or \
                self.chunk_neurons & (self.chunk_neurons - 1):
            raise ValueError(f"chunk_neurons must be a power of two, not {self.chunk_neurons!r}")
        if not isinstance(self.run_pixels, int) or self.run_pixels < 1 or \
                self.run_pixels & (self.run_pixels - 1):
            raise ValueError(f"run_pixels must be a power of two, not {self.run_pixels!r}")
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
        if self.geometry is not None:
            sizes = [g.neurons for g in self.geometry]
            chained = all(a.out == b.source for a, b in zip(self.geometry, self.geometry[1:]))
            if sizes != list(self.layers) or self.geometry[0].inputs != self.inputs or \
                    not chained:
                raise ValueError(f"geometry {self.geometry!r} does not chain from "
                                 f"{self.inputs} inputs through layers {self.layers!r}")
            if self.geometry[-1].out[1:] != (1, 1):
                raise ValueError(f"the output layer must give a vector, not "
                                 f"{self.geometry[-1].out}")
        for path in self.shortcuts:
            self._check_shortcut(path)

    def _check_shortcut(self, path):
        if not isinstance(path, InputPath) or not path.shortcut or \
                not 0 <= path.layer < len(self.layers) or not -1 <= path.source < path.layer:
            raise ValueError(f"a shortcut must be an InputPath from an earlier layer (or -1, "
                             f"the inputs) to a later one, not {path!r}")
        shapes = self.shapes
        source = shapes[0].source if path.source < 0 else shapes[path.source].out
        g = path.geometry
        if g.source != source or g.out != shapes[path.layer].out:
            raise ValueError(f"shortcut {path!r} must map layer {path.source}'s {source} to "
                             f"layer {path.layer}'s {shapes[path.layer].out}")
        if path.gain and (g.kernel != (1, 1) or g.stride != 1 or g.padding != 0 or
                          g.out[0] != g.source[0]):
            raise ValueError(f"a gain shortcut keeps its channels and has a 1x1 kernel of "
                             f"stride 1 without padding, not {g!r}")

    @classmethod
    def from_network(cls, qnet, lanes=1, weight_memory="block", fmt=None):
        """Parameters that run ``qnet`` (an :class:`model.quantize.IntegerNetwork`).

        ``fmt``: the accumulators' widths (``None``: the network's own; :func:`exact_format`
        gives the narrowest that run it exactly). Raises :class:`NetworkMismatch` for a layer
        the RTL does not implement, or widths that would not run ``qnet`` exactly."""
        layers = qnet.network.layers
        if len(layers) < 2:
            raise NetworkMismatch("the accelerator needs at least one hidden layer")
        geometry, shortcuts = [], []
        for index, layer in enumerate(layers):
            where = f"layer {index} ({layer.name})"
            geometry.append(LayerGeometry.from_layer(layer, where))
            for number, (source, path) in enumerate(layer.shortcuts):
                shortcut = LayerGeometry.from_layer(path, f"{where} shortcut {number}")
                shortcuts.append(InputPath(index, source, shortcut, isinstance(path.weighted,
                                                                               Gain)))
        if geometry[-1].out[1:] != (1, 1):
            raise NetworkMismatch(f"the output layer ({layers[-1].name}) gives "
                                  f"{layers[-1].out_shape}: the accelerator reads out a vector "
                                  f"(end with a Linear layer or global pooling)")
        config = cls(geometry[0].inputs, tuple(g.neurons for g in geometry), qnet.steps,
                     fmt or qnet.fmt, qnet.rounding, lanes, weight_memory, tuple(geometry),
                     tuple(shortcuts))
        if fmt is not None:
            config.check_widths(qnet)
        return config

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
        self.check_widths(qnet)
        if other.rounding != self.rounding:
            raise NetworkMismatch(f"the network rounds {other.rounding!r}, the accelerator "
                                  f"{self.rounding!r}")
        for index, (have, want) in enumerate(zip(self.shapes, other.shapes)):
            if self.geometry is not None and have != want:
                raise NetworkMismatch(f"layer {index} connects as {want}, the accelerator as "
                                      f"{have}")
        if other.shortcuts != self.shortcuts:
            raise NetworkMismatch(f"the network's shortcuts are {list(other.shortcuts)}, the "
                                  f"accelerator's {list(self.shortcuts)}")

    def check_widths(self, qnet):
        """Raise :class:`NetworkMismatch` unless the accelerator's dV/dt and V run ``qnet``
        exactly as its own format does: each as wide as the network's, or no narrower than
        the width :meth:`model.quantize.IntegerNetwork.saturation_free_widths` proves when
        that fits the network's own too (then neither can saturate)."""
        proven = dict(zip(("dvdt_bits", "v_bits"), qnet.saturation_free_widths()))
        for name, what, bound in _ACCUMULATORS:
            have, own, need = getattr(self.fmt, name), getattr(qnet.fmt, name), proven[name]
            if have == own or need <= min(have, own):
                continue
            if have < own:
                raise NetworkMismatch(
                    f"the network's {what} can need {need} bits ({bound}) and the "
                    f"accelerator's {what} has {have}: rebuild it with "
                    f"--widths network ({own} bits) or for this network")
            raise NetworkMismatch(
                f"the network's {what} has {own} bits and can saturate there (it can need "
                f"{need}); the accelerator's has {have}, so their results would differ: "
                f"export the network with --{name.replace('_', '-')} {have}")

    @property
    def shapes(self):
        """Each layer's :class:`LayerGeometry` (fully connected ones when not given)."""
        if self.geometry is not None:
            return self.geometry
        sizes = (self.inputs,) + self.layers
        return tuple(LayerGeometry.dense(a, b) for a, b in zip(sizes, sizes[1:]))

    @property
    def paths(self):
        """Every :class:`InputPath`, in the order they are integrated: each layer's main
        input, then its shortcuts."""
        paths = []
        for index, shape in enumerate(self.shapes):
            paths.append(InputPath(index, index - 1, shape, shortcut=False))
            paths += [p for p in self.shortcuts if p.layer == index]
        return tuple(paths)

    @property
    def first_paths(self):
        """Index into :attr:`paths` of each layer's main input."""
        return tuple(i for i, p in enumerate(self.paths) if not p.shortcut)

    @property
    def last_paths(self):
        """Index into :attr:`paths` of each layer's last input."""
        return tuple(first - 1 for first in self.first_paths[1:]) + (len(self.paths) - 1,)

    @property
    def sources(self):
        """Source neurons of each layer (the previous layer's size)."""
        return (self.inputs,) + self.layers[:-1]

    @property
    def channel_groups(self):
        """State words per pixel of each layer: ``ceil(channels / lanes)``."""
        return tuple(ceil_div(g.out[0], self.lanes) for g in self.shapes)

    @property
    def input_channel_groups(self):
        return ceil_div(self.shapes[0].source[0], self.lanes)

    @property
    def groups(self):
        """State words of each layer."""
        return tuple(cg * g.out[1] * g.out[2] for cg, g in zip(self.channel_groups, self.shapes))

    @property
    def state_bases(self):
        return _starts(self.groups)

    @property
    def input_groups(self):
        _, height, width = self.shapes[0].source
        return self.input_channel_groups * height * width

    @property
    def source_groups(self):
        """State words of each path's source layer (the inputs for ``-1``)."""
        return tuple(self.input_groups if p.source < 0 else self.groups[p.source]
                     for p in self.paths)

    @property
    def input_base(self):
        """State address of the input codes, after every layer's neurons."""
        return sum(self.groups)

    @property
    def source_bases(self):
        """State address of each path's source layer."""
        return tuple(self.input_base if p.source < 0 else self.state_bases[p.source]
                     for p in self.paths)

    @property
    def state_depth(self):
        return sum(self.groups) + self.input_groups

    @property
    def quotient_bits(self):
        return max(1, (self.steps - 1).bit_length())

    @property
    def weight_sizes(self):
        """Weight words per lane of each path: one per source channel, tap and target channel
        group (one word for a gain)."""
        return tuple(1 if p.gain else p.geometry.source[0] * p.geometry.taps *
                     self.channel_groups[p.layer] for p in self.paths)

    @property
    def weight_bases(self):
        return _starts(self.weight_sizes)

    @property
    def weight_depth(self):
        return sum(self.weight_sizes)

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

    def burst_words(self, path):
        """Target words (cycles of SYN ops) of a spike of each source neuron of path number
        ``path``, channels last: the kernel taps that reach a target pixel times the layer's
        channel groups (one word for a gain)."""
        p = self.paths[path]
        shape = p.geometry
        cgroups = 1 if p.gain else self.channel_groups[p.layer]
        channels, height, width = shape.source
        rows = [shape.targets(0, y)[1] for y in range(height)]
        columns = [shape.targets(1, x)[1] for x in range(width)]
        return [rows[y] * columns[x] * cgroups
                for y in range(height) for x in range(width) for _ in range(channels)]

    @property
    def chunk_words(self):
        """State words of a scan chunk: a pixel's channel groups are scanned in chunks of
        ``chunk_neurons`` neurons (at least one word), and a chunk whose neurons have no
        spike at a step is skipped in one cycle (:mod:`rtl.summary`)."""
        return max(1, self.chunk_neurons // self.lanes)

    @property
    def source_channel_groups(self):
        """State words per pixel of each source layer: the inputs, then each hidden layer."""
        return (self.input_channel_groups,) + self.channel_groups[:-1]

    @property
    def summary_blocks(self):
        """Scan chunks of each source layer (the inputs, then each hidden layer): for each
        pixel, ``ceil(channel groups / chunk_words)``."""
        pixels = [g.source[1] * g.source[2] for g in self.shapes]
        return tuple(n * ceil_div(cg, self.chunk_words)
                     for n, cg in zip(pixels, self.source_channel_groups))

    @property
    def summary_bases(self):
        """Address of each source layer's first chunk in the spike summary."""
        return _starts(self.summary_blocks)

    @property
    def summary_depth(self):
        return sum(self.summary_blocks)

    @property
    def source_run_pixels(self):
        """Pixels of a scan run of each source layer: a run's chunks, all clear at a step,
        are skipped in one cycle (:mod:`rtl.summary`). The most, up to :attr:`run_pixels`,
        that divide a row of the source and are whole pooling windows of every path that
        reads it, so that the cursor jumps a run without crossing a row or a window."""
        sizes = []
        for source, shape in enumerate(g.source for g in self.shapes):
            pools = [p.geometry.pool for p in self.paths if p.source + 1 == source]
            pixels = self.run_pixels
            while shape[2] % pixels or any(pixels % pool for pool in pools if pixels > 1):
                pixels //= 2
            sizes.append(pixels)
        return tuple(sizes)

    @property
    def runs(self):
        """Whether the scan skips runs (:attr:`source_run_pixels`): where a chunk is at most
        ``RUN_CHUNK_WORDS`` words (a larger chunk already skips most of a pixel's words) and a
        run of some source holds more than one pixel (a dense network's sources are one
        pixel each); else the run summary and its logic are left out."""
        return self.chunk_words <= RUN_CHUNK_WORDS and \
            any(pixels > 1 for pixels in self.source_run_pixels)

    @property
    def run_chunks(self):
        """Scan chunks of a run of each source layer."""
        return tuple(pixels * ceil_div(cg, self.chunk_words)
                     for pixels, cg in zip(self.source_run_pixels, self.source_channel_groups))

    @property
    def summary_runs(self):
        """Scan runs of each source layer."""
        return tuple(blocks // chunks
                     for blocks, chunks in zip(self.summary_blocks, self.run_chunks))

    @property
    def run_bases(self):
        """Address of each source layer's first run in the run summary."""
        return _starts(self.summary_runs)

    @property
    def run_depth(self):
        return sum(self.summary_runs)

    @property
    def code_bits(self):
        """Bits of an input code: as the protocol packs them (:func:`rtl.protocol.code_bits`)."""
        return code_bits(self.steps)

    @property
    def hidden(self):
        return len(self.layers) - 1

    @property
    def counter_bounds(self):
        """The most each event counter can count in one inference, whatever the inputs and
        weights: ``{name: bound}`` for ``synaptic`` and ``weight_reads`` (every source neuron
        spikes at most twice, each spike reaching the targets its path's kernel reaches from
        it: :meth:`reach`), ``membrane`` (N V updates and at most N - 1 threshold subtractions per
        neuron), ``saturations`` (at most one per addition, so their sum) and ``spikes_<l>``
        (two per neuron of layer ``l``, the inputs for 0). The accelerator's counters are just
        wide enough for these, so they never wrap."""
        synaptic = 2 * sum(self.reach(number) for number in range(len(self.paths)))
        membrane = sum(2 * self.steps * neurons for neurons in self.layers)
        bounds = {"synaptic": synaptic, "weight_reads": synaptic, "membrane": membrane,
                  "saturations": synaptic + membrane}
        for layer, neurons in enumerate(self.sources):
            bounds[f"spikes_{layer}"] = 2 * neurons
        return bounds

    def reach(self, path):
        """Target neurons that one spike of every source neuron of path number ``path``
        reaches, summed over the source neurons: its :meth:`burst_words` without the channel
        groups' padding (a gain reaches one)."""
        p = self.paths[path]
        if p.gain:
            return p.geometry.inputs
        cgroups = self.channel_groups[p.layer]
        return sum(words // cgroups for words in self.burst_words(path)) * p.geometry.out[0]

    def lower_bound_cycles(self, synaptic, membrane):
        """The issue's lower bound: synaptic updates / lanes + membrane updates / lanes."""
        return synaptic / self.lanes + membrane / self.lanes


def weight_images(config, qnet):
    """Per-lane weight memory contents (lists of ints) for ``qnet`` under ``config``."""
    config.check_network(qnet)
    images = [[0] * config.weight_depth for _ in range(config.lanes)]
    layers = qnet.network.layers
    shortcuts = [path.weight for layer in layers for _, path in layer.shortcuts]
    for path, base in zip(config.paths, config.weight_bases):
        weight = shortcuts.pop(0) if path.shortcut else layers[path.layer].weight
        if path.gain:
            for column in images:
                column[base] = int(weight.reshape(()))
            continue
        shape, cgroups = path.geometry, config.channel_groups[path.layer]
        kh, kw = shape.kernel
        # [out, source channel, ky, kx]: a Linear layer's inputs are its pooled source's
        weight = weight.reshape(shape.out[0], shape.source[0], kh, kw).tolist()
        for co, per_channel in enumerate(weight):
            lane, cg = co % config.lanes, co // config.lanes
            column = images[lane]
            for ci, rows in enumerate(per_channel):
                for ky, row in enumerate(rows):
                    for kx, w in enumerate(row):
                        column[base + ((ci * kh + ky) * kw + kx) * cgroups + cg] = int(w)
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
