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
    if isinstance(module, nn.AdaptiveAvgPool2d):
        size = _pair_is_square(module.output_size, "output size", name)
        if size != 1:
            raise ConversionError(f"{name}: only AdaptiveAvgPool2d(1) (global average pooling) "
                                  f"is supported")
        return "global-pool"
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
        if not any(True for _ in model.children()):
            raise ConversionError(f"the model must be an nn.Sequential or a module whose forward "
                                  f"calls its layers, not a bare {type(model).__name__}")
        return _convert_traced(model, tuple(input_shape))
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
        in_shape, resolved = shape, []
        for name, op in ops:
            if op == "global-pool":
                op = _global_pool(name, shape)
            shape = _checked_shape(name, op, shape)
            resolved.append(op)
        layers.append(Layer(weighted[0], tuple(resolved), in_shape, shape))
    return Network(tuple(layers), tuple(input_shape))


def _global_pool(name, shape):
    if len(shape) != 3 or shape[1] != shape[2]:
        raise ConversionError(f"{name}: global pooling needs a square input, gets {shape}")
    return AvgPool(shape[1])


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


def _convert_traced(model, input_shape):
    """Convert a network with residual additions, traced with ``torch.fx``.

    Every value in the traced graph is a sum of terms ``(source layer, ops, shape)``; a
    ``ReLU`` turns the sum into a spiking layer whose main input is the term from the layer
    just before it (it must carry the one weighted op) and whose other terms become shortcuts
    (``docs/residual.md``).
    """
    import operator

    import torch.fx

    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as error:  # fx raises many kinds of errors for untraceable code
        raise ConversionError(f"{type(model).__name__} cannot be traced with torch.fx "
                              f"({error}); use an nn.Sequential or plain module calls") from error
    modules = dict(model.named_modules())
    layers, values, names = [], {}, {}

    def apply(terms, name, op):
        out = []
        for source, ops, shape in terms:
            op_here = _global_pool(name, shape) if op == "global-pool" else op
            if isinstance(op_here, (Linear, Conv2d)):
                names[id(op_here)] = name
            out.append((source, ops + (op_here,), _checked_shape(name, op_here, shape)))
        return out

    def close(terms, name):
        previous = len(layers) - 1
        main = [t for t in terms if t[0] == previous and
                sum(isinstance(op, (Linear, Conv2d)) for op in t[1]) == 1]
        if not main:
            raise ConversionError(
                f"the layer closed at {name} has no input with exactly one Linear or Conv2d "
                f"from the layer just before it; this topology is not supported")
        source, ops, shape = main[0]
        shortcuts = []
        for other in terms:
            if other is main[0]:
                continue
            o_source, o_ops, o_shape = other
            if o_shape != shape:
                raise ConversionError(f"{name}: a residual addition of shapes {shape} and "
                                      f"{o_shape}")
            if sum(isinstance(op, (Linear, Conv2d)) for op in o_ops) > 1:
                raise ConversionError(f"{name}: a shortcut with two weighted layers in a row")
            in_shape = input_shape if o_source == -1 else layers[o_source].out_shape
            shortcuts.append((o_source, Layer(f"{name}.shortcut", o_ops, in_shape, o_shape)))
        in_shape = input_shape if source == -1 else layers[source].out_shape
        weighted = next(op for op in ops if isinstance(op, (Linear, Conv2d)))
        layers.append(Layer(names.get(id(weighted), name), ops, in_shape, shape, None,
                            tuple(shortcuts)))
        return [(len(layers) - 1, (), shape)]

    for node in graph.nodes:
        if node.op == "placeholder":
            values[node] = [(-1, (), input_shape)]
        elif node.op == "call_module":
            module = modules[node.target]
            (arg,) = node.args
            if isinstance(module, nn.ReLU):
                values[node] = close(values[arg], node.target)
            elif isinstance(module, (nn.Dropout, nn.Identity)):
                values[node] = values[arg]
            else:
                values[node] = apply(values[arg], node.target, _traced_op(node.target, module))
        elif node.op == "call_function" and node.target in (operator.add, torch.add):
            a, b = node.args
            values[node] = values[a] + values[b]
        elif node.op == "output":
            close(values[node.args[0]], "output")
        else:
            raise ConversionError(f"{node.name} ({node.op} {node.target}) cannot be converted: "
                                  f"only module calls and additions are supported")
    return Network(tuple(layers), input_shape)


def _traced_op(name, module):
    return Flatten() if isinstance(module, nn.Flatten) else _to_op(name, module)
