"""What the accelerator must produce for an image, from the integer golden model."""

from dataclasses import dataclass, replace

import torch
from torch import nn

from model.convert import convert
from model.encoding import input_codes
from model.fixedpoint import FixedPointFormat
from model.network import WEIGHTED, Gain, event_order
from model.quantize import IntegerNetwork

__all__ = ["Expected", "expected", "random_network", "randomized", "picker", "dense_model",
           "residual_model", "random_residual", "convolutional_model", "random_convolutional"]


@dataclass
class Expected:
    codes: list          # input codes, in the hardware's order (channels last)
    spikes: list         # (layer, step, index, negative) in the order the hardware emits
                         # them; index: the neuron's place in its layer's event order
    potentials: list     # the output layer's final V
    class_index: int
    counters: dict       # synaptic, membrane, weight_reads, saturations, spikes_<l>


def expected(qnet, x):
    """The golden model's codes, spikes, potentials and counters for each image in ``x``."""
    result = qnet.run(x, record=True)
    orders = [event_order(train.shape[1:-1]) for train in result.spikes]
    codes = input_codes(x, qnet.steps, qnet.input_rounding).flatten(1)[:, orders[0]]
    out = []
    for b in range(x.shape[0]):
        events = []
        for layer, (train, order) in enumerate(zip(result.spikes, orders)):
            flat = train[b].reshape(-1, qnet.steps)[order]
            for t in range(qnet.steps):
                for i in torch.nonzero(flat[:, t]).flatten().tolist():
                    events.append((layer, t, i, int(flat[i, t] < 0)))
        counters = {"synaptic": int(result.counts.synaptic[b]),
                    "membrane": int(result.counts.membrane[b]),
                    "weight_reads": int(result.counts.memory_reads[b]),
                    "saturations": int(result.counts.saturations[b])}
        for layer, train in enumerate(result.spikes):
            counters[f"spikes_{layer}"] = int((train[b] != 0).sum())
        out.append(Expected(codes[b].tolist(), events, result.output[b].tolist(),
                            int(result.prediction[b]), counters))
    return out


def _dense(sizes):
    """A bias-free ``nn.Sequential`` of ``Linear`` layers of ``sizes`` with ReLUs between."""
    mods = []
    for a, b in zip(sizes, sizes[1:]):
        mods += [nn.Linear(a, b, bias=False), nn.ReLU()]
    return nn.Sequential(*mods[:-1])


def random_network(sizes, steps, fmt, seed, weight_max=127, threshold_range=(1, 400)):
    """A fully connected integer network with random weights and thresholds (for tests)."""
    return randomized(_dense(sizes), (sizes[0],), steps, fmt, seed, weight_max,
                      threshold_range)


def randomized(model, input_shape, steps, fmt, seed, weight_max=127, threshold_range=(1, 400)):
    """The integer network of the bias-free ``model`` (any that :func:`model.convert.convert`
    takes) with random weights in ``[-weight_max, weight_max]`` and random thresholds; a
    residual junction's identity shortcut gets a random integer :class:`Gain`."""
    gen = torch.Generator().manual_seed(seed)
    net = convert(model, input_shape)

    def weights(path):
        if not any(isinstance(op, WEIGHTED) for op in path.ops):
            path = replace(path, ops=path.ops + (Gain(torch.zeros(1, dtype=torch.int64)),))
        return path.with_weight(torch.randint(-weight_max, weight_max + 1, path.weight.shape,
                                              generator=gen))

    layers = tuple(replace(weights(layer), shortcuts=tuple((source, weights(path))
                                                           for source, path in layer.shortcuts))
                   for layer in net.layers)
    thresholds = torch.randint(*threshold_range, (len(layers) - 1,), generator=gen).tolist()
    net = type(net)(layers, net.input_shape).with_thresholds(thresholds)
    return IntegerNetwork(net, steps, fmt)


class _Traced(nn.Module):
    """A module (not an ``nn.Sequential``), so that conversion traces its junctions."""

    def __init__(self, mods):
        super().__init__()
        self.body = nn.Sequential(*mods)

    def forward(self, x):
        return self.body(x)


class _Junction(nn.Module):
    def __init__(self, path, shortcut):
        super().__init__()
        self.path, self.shortcut, self.relu = path, shortcut, nn.ReLU()

    def forward(self, x):
        return self.relu(self.path(x) + self.shortcut(x))


def picker(gen):
    """``pick(*options)``: one of ``options``, drawn from the generator ``gen``."""
    def pick(*options):
        return options[int(torch.randint(len(options), (1,), generator=gen))]
    return pick


def dense_model(gen):
    """A random fully connected ANN structure and its input shape, drawn from ``gen``: 1 to
    40 inputs, one to three hidden layers of 1 to 40 neurons, 2 to 10 outputs."""
    pick = picker(gen)
    sizes = [pick(*range(1, 41)) for _ in range(pick(2, 3, 4))] + [pick(*range(2, 11))]
    return _dense(sizes), (sizes[0],)


def residual_model(gen, channels=None):
    """A random residual ANN structure and its input shape, drawn from ``gen``: an optional
    stem (without one, the first junction's shortcut reads the input codes), one to three
    junctions whose paths cross one or two convolutions (kernels 1, 3, 5; stride 1 or 2),
    with an identity (gain) shortcut, a pooled identity, or a pooled 1x1 convolution; then
    global pooling or flatten and a classifier. ``channels``: every layer's channels
    (random by default)."""
    pick = picker(gen)

    def width(*options):
        chosen = pick(*options)
        return chosen if channels is None else channels

    inputs, size = width(1, 2, 3), pick(4, 6, 8)
    mods, shape = [], (inputs, size)
    if pick(True, False):
        out = width(2, 3, 4)
        mods += [nn.Conv2d(inputs, out, 3, padding=1, bias=False), nn.ReLU()]
        shape = (out, size)
    for _ in range(pick(1, 2, 3)):
        c, side = shape
        stride = 2 if side % 2 == 0 and side >= 4 and pick(True, False) else 1
        out = c if pick(True, False) else width(2, 3, 5)
        path = []
        for depth in range(pick(1, 2)):
            kernel = pick(1, 3, 5) if side >= 5 else pick(1, 3)
            path += [nn.Conv2d(c if depth == 0 else out, out, kernel,
                               stride=stride if depth == 0 else 1, padding=kernel // 2,
                               bias=False), nn.ReLU()]
        shortcut = [nn.AvgPool2d(stride)] if stride > 1 else []
        if out != c or pick(True, False):
            shortcut.append(nn.Conv2d(c, out, 1, bias=False))
        mods.append(_Junction(nn.Sequential(*path[:-1]), nn.Sequential(*shortcut)))
        shape = (out, side // stride)
    c, side = shape
    if pick(True, False):
        mods.append(nn.AdaptiveAvgPool2d(1))
        side = 1
    mods += [nn.Flatten(), nn.Linear(c * side * side, pick(3, 4), bias=False)]
    return _Traced(mods).eval(), (inputs, size, size)


def random_residual(seed, fmt, images=3, channels=None):
    """A random residual network (:func:`residual_model`) with random weights, and inputs
    for it (for tests)."""
    gen = torch.Generator().manual_seed(seed)
    pick = picker(gen)
    model, shape = residual_model(gen, channels)
    qnet = randomized(model, shape, pick(4, 6, 8), fmt, seed, weight_max=pick(20, 60, 127),
                      threshold_range=(5, 80))
    return qnet, torch.rand(images, *shape, generator=gen) * 2 - 1


def convolutional_model(gen):
    """A random convolutional ANN structure and its input shape, drawn from ``gen``: one or
    two convolutions (kernels 1, 3, 5; strides 1 and 2; zero padding or none), sum pooling
    before the second, global pooling or flatten before the classifier."""
    pick = picker(gen)
    channels, size = pick(1, 2, 3), pick(5, 6, 7, 8)
    mods, shape = [], (channels, size, size)
    for index in range(pick(1, 2)):
        if index and shape[1] >= 4 and pick(True, False):
            mods.append(nn.AvgPool2d(2))
            shape = (shape[0], shape[1] // 2, shape[2] // 2)
        kernel = pick(1, 3, 5) if shape[1] >= 5 else pick(1, 3)
        padding, stride, out = pick(0, kernel // 2), pick(1, 2), pick(2, 3, 5)
        side = (shape[1] + 2 * padding - kernel) // stride + 1
        mods += [nn.Conv2d(shape[0], out, kernel, stride=stride, padding=padding, bias=False),
                 nn.ReLU()]
        shape = (out, side, side)
    if pick(True, False):
        mods.append(nn.AdaptiveAvgPool2d(1))
        shape = (shape[0], 1, 1)
    mods += [nn.Flatten(), nn.Linear(shape[0] * shape[1] * shape[2], pick(3, 4), bias=False)]
    return nn.Sequential(*mods), (channels, size, size)


def random_convolutional(seed):
    """A random convolutional network (:func:`convolutional_model`) with random weights,
    drawn with narrow accumulators so that saturation happens, and inputs for it."""
    gen = torch.Generator().manual_seed(seed)
    pick = picker(gen)
    model, shape = convolutional_model(gen)
    fmt = pick(FixedPointFormat(8, 10, 14), FixedPointFormat())
    steps = pick(4, 6, 8)
    qnet = randomized(model, shape, steps, fmt, seed, weight_max=pick(40, 127),
                      threshold_range=(1, 300))
    return qnet, torch.rand(3, *shape, generator=gen) * 2 - 1
