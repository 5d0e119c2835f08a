"""Conversion, step two: a float network to the integer network the hardware runs.

Weights become signed ``fmt.weight_bits`` integers with one symmetric scale per layer
(``w = round(w_float / scale)``, ``scale = max|w_float| / weight_max``); thresholds are then
balanced on the integer model itself, so they are exact integers of the same units as V.

A residual junction adds its shortcut's input to the same dV/dt as its main input, so both
are requantized together, once the thresholds before the junction are balanced: the
shortcut's weights (an integer :class:`~model.network.Gain` for an identity) carry the
ratio of the two sources' scales (``docs/residual.md``).
"""

from dataclasses import dataclass, field, replace

import torch

from .balance import balance
from .data import INPUT_OFFSET, INPUT_SCALE
from .encoding import INPUT_ROUNDINGS
from .fixedpoint import DEFAULT_FORMAT
from .inputs import check_input_range, map_inputs
from .network import WEIGHTED, AvgPool, Gain
from .simulate import ROUNDINGS, simulate

__all__ = ["MAX_STEPS", "IntegerNetwork", "quantize_weights", "quantize"]

SCHEDULES = ("windowed",)
# The longest window: far beyond a useful latency, small enough that a simulation's
# per-step tensors fit in memory.
MAX_STEPS = 4096


@dataclass(frozen=True)
class IntegerNetwork:
    """A quantized TSC-SNN: everything the hardware needs to run it.

    ``network`` has int64 weights and int thresholds; ``scales`` are the per-layer weight
    scales (information only: the integer model never uses them); inputs are raw values
    mapped by ``x = raw * input_scale + input_offset`` (numbers, or one per feature:
    :mod:`model.inputs`) then coded by :func:`model.encoding.input_codes` with
    ``input_rounding``.
    """

    network: object
    steps: int
    fmt: object = DEFAULT_FORMAT
    rounding: str = "nearest"
    schedule: str = "windowed"
    scales: tuple = ()
    input_scale: float = INPUT_SCALE
    input_offset: float = INPUT_OFFSET
    metadata: dict = field(default_factory=dict)
    input_rounding: str = "nearest"

    def __post_init__(self):
        if type(self.steps) is not int or not 2 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be an integer from 2 to {MAX_STEPS}, not "
                             f"{self.steps!r}")
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"unknown rounding {self.rounding!r}; choose one of "
                             f"{', '.join(ROUNDINGS)}")
        if self.input_rounding not in INPUT_ROUNDINGS:
            raise ValueError(f"unknown input rounding {self.input_rounding!r}; choose one of "
                             f"{', '.join(INPUT_ROUNDINGS)}")
        check_input_range(self.input_scale, self.input_offset, self.network.input_shape)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}: the integer model and the "
                             f"hardware implement {', '.join(SCHEDULES)}")
        for index, layer in enumerate(self.network.layers):
            self.fmt.check_weights(layer.weight, f"layer {index} ({layer.name})")
            for source, path in layer.shortcuts:
                if not any(isinstance(op, WEIGHTED) for op in path.ops):
                    raise ValueError(f"layer {index} ({layer.name}): the shortcut from layer "
                                     f"{source} has no integer weight or gain; quantize the "
                                     f"network with model.quantize.quantize")
                self.fmt.check_weights(path.weight, f"layer {index} ({layer.name}) shortcut")
        for index, threshold in enumerate(self.network.thresholds):
            self.fmt.check_threshold(int(threshold), f"layer {index}")

    @property
    def classes(self):
        return self.network.output.out_size

    def run(self, x, record=False, batch_size=None):
        """The golden model: simulate inputs ``x`` (in [-1, 1]) bit-exactly, ``batch_size``
        at a time (None: all at once)."""
        return simulate(self.network, x, "tsc", self.steps, fmt=self.fmt,
                        rounding=self.rounding, record=record,
                        input_rounding=self.input_rounding, batch_size=batch_size)

    def map_inputs(self, raw):
        """Raw inputs to the values in [-1, 1] that :meth:`run` takes, with the count of
        values clipped (:class:`model.inputs.MappedInputs`)."""
        return map_inputs(raw, self.input_scale, self.input_offset, self.network.input_shape)

    def saturation_free_widths(self):
        """``(dvdt_bits, v_bits)`` with which no input can saturate this network: dV/dt
        holds the sum of a neuron's ``|w|`` over every input path (each input neuron's
        spikes add ``+w`` and ``-w`` at most once each), and V that sum times N plus the
        largest threshold."""
        dvdt = v = 0
        for layer in self.network.layers:
            bound = int(sum(int(path.abs_row_sums().max()) for path in
                            (layer, *(path for _, path in layer.shortcuts))))
            dvdt = max(dvdt, bound)
            v = max(v, bound * self.steps + int(layer.threshold or 0))
        return dvdt.bit_length() + 1, v.bit_length() + 1


def quantize_weights(network, fmt=DEFAULT_FORMAT):
    """Return ``(network with integer weights and no thresholds, per-layer scales)``."""
    layers, scales = [], []
    for layer in network.layers:
        peak = float(layer.weight.abs().max())
        scale = peak / fmt.weight_max if peak > 0 else 1.0
        weight = torch.round(layer.weight.double() / scale).clamp(
            -fmt.weight_max, fmt.weight_max).to(torch.int64)
        layers.append(layer.with_weight(weight))
        scales.append(scale)
    return type(network)(tuple(layers), network.input_shape), tuple(scales)


def _pool_factor(layer):
    """What the integer model's sum pooling multiplies a path's input by, against the float
    model's average pooling."""
    factor = 1
    for op in layer.ops:
        if isinstance(op, AvgPool):
            factor *= op.kernel * op.kernel
    return factor


def _junction_requantizer(network, integer, scales, fmt):
    """``adjust(index, thresholds)`` for :func:`model.balance.balance`: the integer layer
    ``index``, a residual junction's main weights and shortcuts requantized to one scale
    (stored in ``scales[index]``) from the balanced thresholds before it."""

    def unit(index, thresholds):
        # what one unit of layer ``index``'s block length stands for (the inputs: 1)
        value = 1.0
        for layer in range(index + 1):
            value *= thresholds[layer] * scales[layer] / _pool_factor(network.layers[layer])
        return value

    def adjust(index, thresholds):
        layer = network.layers[index]
        if not layer.shortcuts:
            return integer.layers[index]
        main = unit(index - 1, thresholds)
        shortcuts, peak = [], float(layer.weight.abs().max())
        for source, path in layer.shortcuts:
            ratio = unit(source, thresholds) / main * _pool_factor(layer) / _pool_factor(path)
            weighted = any(isinstance(op, WEIGHTED) for op in path.ops)
            # an identity's gain lives beside the junction's weights (on their device)
            weight = (path.weight.double() if weighted else torch.ones(1, dtype=torch.float64,
                                                                     device=layer.device)) * ratio
            shortcuts.append((source, path, weighted, weight))
            peak = max(peak, float(weight.abs().max()))
        scale = peak / fmt.weight_max if peak > 0 else 1.0
        scales[index] = scale

        def integral(weight):
            return torch.round(weight.double() / scale).clamp(-fmt.weight_max,
                                                              fmt.weight_max).to(torch.int64)

        paths = tuple((source, path.with_weight(integral(weight)) if weighted else
                       replace(path, ops=path.ops + (Gain(integral(weight)),)))
                      for source, path, weighted, weight in shortcuts)
        return replace(layer.with_weight(integral(layer.weight)), shortcuts=paths)

    return adjust


def quantize(network, calibration_x, steps, *, alpha=0.8, statistic="max", fmt=DEFAULT_FORMAT,
             rounding="nearest", metadata=None, progress=False, input_scale=INPUT_SCALE,
             input_offset=INPUT_OFFSET, input_rounding="nearest"):
    """Quantize ``network``'s weights and balance integer thresholds on ``calibration_x``
    (inputs in [-1, 1]). ``input_scale`` and ``input_offset`` (numbers or one per feature,
    :mod:`model.inputs`) say how raw inputs map to them; the network file keeps them for the
    host tool. ``input_rounding`` rounds the input codes (:func:`model.encoding.input_codes`)."""
    check_input_range(input_scale, input_offset, network.input_shape)
    integer, scales = quantize_weights(network, fmt)
    scales = list(scales)
    adjust = _junction_requantizer(network, integer, scales, fmt) if network.residual else None
    balanced = balance(integer, calibration_x, "tsc", steps, alpha=alpha, statistic=statistic,
                       fmt=fmt, rounding=rounding, progress=progress, adjust=adjust,
                       input_rounding=input_rounding)
    meta = {"alpha": alpha, "statistic": statistic, **(metadata or {})}
    return IntegerNetwork(balanced, steps, fmt, rounding, scales=tuple(scales),
                          input_scale=input_scale, input_offset=input_offset, metadata=meta,
                          input_rounding=input_rounding)
