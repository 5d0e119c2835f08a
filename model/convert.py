"""Conversion, step one: a trained torch network to a :class:`~model.network.Network`.

The ANN must be a (possibly nested) ``nn.Sequential`` of ``Linear``, ``Conv2d``, ``ReLU``,
``AvgPool2d``, ``Flatten`` and ``Dropout`` without biases (the paper zeroes them). Each
``ReLU`` closes a spiking layer; what follows the last ``ReLU`` is the output layer.
Anything else is refused with :class:`ConversionError` naming the module and the reason.
Thresholds are left unset: :mod:`model.balance` sets them.
"""

import torch
from torch import nn

from .network import AvgPool, Conv2d, Flatten, Layer, Linear, Network

__all__ = ["ConversionError", "convert"]


class ConversionError(ValueError):
    """The network has a layer or a setting that the TSC-SNN cannot represent."""


def _leaves(module, prefix=""):
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix or type(module).__name__, module


def _pair_is_square(value, what, name):
    if isinstance(value, tuple):
        if len(set(value)) != 1:
            raise ConversionError(f"{name}: non-square {what} {value} is not supported")
        return value[0]
    return value


def _to_op(name, module):
    if getattr(module, "bias", None) is not None:
        raise ConversionError(
            f"{name} ({type(module).__name__}) has a bias; TSC conversion needs bias-free "
            f"layers (train with bias=False)")
    if isinstance(module, nn.Linear):
        return Linear(module.weight.detach().clone())
    if isinstance(module, nn.Conv2d):
        if module.groups != 1 or _pair_is_square(module.dilation, "dilation", name) != 1:
            raise ConversionError(f"{name}: grouped or dilated convolutions are not supported")
        if module.padding_mode != "zeros" or isinstance(module.padding, str):
            raise ConversionError(f"{name}: only explicit zero padding is supported")
        _pair_is_square(module.kernel_size, "kernel", name)
        return Conv2d(module.weight.detach().clone(),
                      stride=_pair_is_square(module.stride, "stride", name),
                      padding=_pair_is_square(module.padding, "padding", name))
    if isinstance(module, nn.AvgPool2d):
        kernel = _pair_is_square(module.kernel_size, "kernel", name)
        stride = _pair_is_square(module.stride, "stride", name)
        if stride != kernel or module.padding != 0 or module.ceil_mode:
            raise ConversionError(
                f"{name}: AvgPool2d must have stride == kernel_size, no padding and "
                f"ceil_mode=False (got kernel {kernel}, stride {stride}, padding "
                f"{module.padding}, ceil_mode {module.ceil_mode})")
        return AvgPool(kernel)
    if isinstance(module, nn.Flatten):
        if module.start_dim != 1 or module.end_dim != -1:
            raise ConversionError(f"{name}: only Flatten(start_dim=1, end_dim=-1) is supported")
        return Flatten()
    raise ConversionError(
        f"{name} ({type(module).__name__}) cannot be converted: supported layers are Linear, "
        f"Conv2d, ReLU, AvgPool2d, Flatten and Dropout")


def convert(model, input_shape):
    """Return the unbalanced :class:`Network` of the bias-free ANN ``model``.

    Parameters
    ----------
    model : torch.nn.Sequential
    input_shape : tuple of int
        Shape of one input without the batch dimension, e.g. ``(64,)`` or ``(1, 8, 8)``.

    Raises
    ------
    ConversionError
        For an unsupported module, a bias, a layer with two weighted ops or none, or a network
        that does not end in a weighted layer.
    """
    if not isinstance(model, nn.Sequential):
        raise ConversionError(
            f"the model must be an nn.Sequential, not {type(model).__name__}; wrap its layers "
            f"in one (residual networks are not supported yet)")
    segments, current = [], []
    for name, module in _leaves(model):
        if isinstance(module, nn.ReLU):
            segments.append((name, current))
            current = []
        elif isinstance(module, nn.Dropout):
            continue
        else:
            current.append((name, _to_op(name, module)))
    segments.append(("output", current))

    layers, shape = [], tuple(input_shape)
    for index, (closing, ops) in enumerate(segments):
        weighted = [name for name, op in ops if isinstance(op, (Linear, Conv2d))]
        if len(weighted) != 1:
            where = f"before {closing}" if index < len(segments) - 1 else "after the last ReLU"
            raise ConversionError(
                f"the spiking layer {where} has {len(weighted)} weighted layers "
                f"({', '.join(weighted) or 'none'}); each ReLU must follow exactly one Linear "
                f"or Conv2d (merge consecutive linear layers, and end with a Linear or Conv2d)")
        in_shape = shape
        for name, op in ops:
            shape = _checked_shape(name, op, shape)
        layers.append(Layer(weighted[0], tuple(op for _, op in ops), in_shape, shape))
    return Network(tuple(layers), tuple(input_shape))


def _checked_shape(name, op, shape):
    if isinstance(op, Linear) and shape != (op.weight.shape[1],):
        raise ConversionError(f"{name}: expects {op.weight.shape[1]} inputs, gets shape {shape}")
    if isinstance(op, (Conv2d, AvgPool)) and len(shape) != 3:
        raise ConversionError(f"{name}: needs a (channels, height, width) input, gets {shape}")
    if isinstance(op, Conv2d) and shape[0] != op.weight.shape[1]:
        raise ConversionError(f"{name}: expects {op.weight.shape[1]} channels, gets {shape[0]}")
    out = op.out_shape(shape)
    if min(out) < 1:
        raise ConversionError(f"{name}: input {shape} is too small (output {out})")
    return out


def ann_forward(model, x):
    """The ANN's logits with dropout off (a convenience for comparisons)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(x)
    model.train(was_training)
    return out
