"""Threshold balancing (paper section 4.1), layer by layer.

For each hidden layer in order, with the earlier layers' thresholds frozen, the calibration
set is run up to that layer and its threshold is set to ``alpha`` times a statistic of the
weighted input sum over neurons, time steps and images: the maximum (the paper) or the
99.9th percentile of the positive values (the variant of conversion toolkits). Integer
networks get integer thresholds, ``max(1, round_half_up(alpha * statistic))``.
"""

import math
import sys

import numpy as np
import torch

from .simulate import check_method, encode_input, input_currents, junction_inputs, run_layer

__all__ = ["STATISTICS", "balance", "calibration_inputs"]

STATISTICS = ("max", "percentile")
# At most this many positive currents are kept per batch for the percentile statistic.
_SAMPLE = 1 << 20


def _statistic(chunks, statistic, percentile):
    if statistic == "max":
        return max((float(c.max()) for c in chunks if c.numel()), default=0.0)
    values = np.concatenate([c.cpu().numpy() for c in chunks]) if chunks else np.zeros(0)
    return float(np.percentile(values, percentile)) if values.size else 0.0


def calibration_inputs(data, limit=None):
    """Calibration inputs as one tensor. ``data`` is a tensor ``[n, *input_shape]``, a
    :class:`model.data.Split` (its training inputs), or an iterable of batches (a
    ``DataLoader``) of inputs or of ``(inputs, labels, ...)``; ``limit`` keeps the first so
    many inputs (None: all)."""
    if isinstance(data, torch.Tensor):
        return data[:limit]
    if hasattr(data, "x_train"):
        return data.x_train[:limit]
    batches, count = [], 0
    for batch in data:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"calibration batches must hold tensors, not {type(x).__name__}")
        batches.append(x)
        count += len(x)
        if limit is not None and count >= limit:
            break
    if not batches:
        raise ValueError("the calibration data is empty")
    return torch.cat(batches)[:limit]


def balance(network, x, method, steps, *, alpha=0.8, statistic="max", percentile=99.9,
            input_coding=None, fmt=None, rounding="nearest", generator=None, batch_size=512,
            progress=False, adjust=None, input_rounding="nearest"):
    """Return ``network`` with balanced thresholds for ``method`` at ``steps``.

    Parameters
    ----------
    network : model.network.Network
    x : torch.Tensor, DataLoader or iterable of batches
        Calibration inputs ``[n, *input_shape]`` in [-1, 1] (see
        :func:`calibration_inputs`).
    alpha : float
        Scale of the statistic, in (0, 1] in the paper (0.8 recommended).
    statistic : {"max", "percentile"}
    fmt : model.fixedpoint.FixedPointFormat or None
        Integer network: integer thresholds that must fit ``fmt.v_bits``.
    rounding : {"floor", "nearest"}
        The TSC block rounding the network will run with.
    input_rounding : {"nearest", "floor"}
        The TSC and TTFS input codes' rounding (:func:`model.encoding.input_codes`).
    progress : bool
        Print one line per layer to stderr.
    adjust : callable or None
        ``adjust(index, thresholds)`` returns layer ``index`` to use, given the thresholds of
        the layers before it: the quantizer requantizes a residual junction there, since its
        shortcut's integer gain depends on them. The returned network holds these layers.
    """
    check_method(method, input_coding, rounding)
    x = calibration_inputs(x)
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, not {statistic!r}")
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"alpha must be a positive number, not {alpha!r}")
    trains = [encode_input(x[i:i + batch_size], method, steps, input_coding=input_coding,
                           generator=generator, input_rounding=input_rounding)
              for i in range(0, len(x), batch_size)]
    # every layer's trains, kept only when a residual junction reads them again
    kept = [{-1: train} for train in trains]
    thresholds, layers = [], list(network.layers)
    for index in range(len(network.hidden)):
        if adjust is not None:
            layers[index] = adjust(index, list(thresholds))
        layer = layers[index]
        scales = network.with_thresholds(thresholds + [None] * (len(network.hidden) -
                                                                 len(thresholds))).scales()
        inputs = [junction_inputs(method, layer, k, scales, index, fmt) for k in kept]
        chunks = []
        for train, (extra, shortcuts) in zip(trains, inputs):
            current = input_currents(method, layer, train, fmt, extra, shortcuts).flatten()
            if statistic == "max":
                chunks.append(current.max().reshape(1).double() if current.numel() else current)
            else:
                positive = current[current > 0].double()
                if positive.numel() > _SAMPLE:
                    positive = positive[torch.randperm(positive.numel(),
                                                       generator=generator)[:_SAMPLE]]
                chunks.append(positive)
        value = alpha * _statistic(chunks, statistic, percentile)
        if fmt is None:
            threshold = value if value > 0 else 1.0
        else:
            threshold = max(1, math.floor(value + 0.5))
            fmt.check_threshold(threshold, f"layer {index} ({layer.name})")
        thresholds.append(threshold)
        if progress:
            print(f"  balance {method} N={steps} alpha={alpha}: layer {index + 1}/"
                  f"{len(network.hidden)} ({layer.name}) threshold {threshold:.6g}",
                  file=sys.stderr, flush=True)
        trains = [run_layer(method, layer, train, threshold, fmt=fmt, rounding=rounding,
                            extra=extra, shortcuts=shortcuts)[0].reshape(
                                train.shape[0], *layer.out_shape, steps)
                  for train, (extra, shortcuts) in zip(trains, inputs)]
        if network.residual:
            for k, train in zip(kept, trains):
                k[index] = train
    if adjust is not None:
        layers[-1] = adjust(len(layers) - 1, list(thresholds))
    return type(network)(tuple(layers), network.input_shape).with_thresholds(thresholds)
