"""The network description: what conversion produces and every simulator consumes.

A converted network is a chain of spiking layers. Each :class:`Layer` holds the linear
synaptic operator that maps the previous layer's spike trains to this layer's input current
(a short list of ops: average pooling, flatten, one ``Linear`` or ``Conv2d``), its shapes and
its firing threshold. The last layer is the output layer: it integrates and never fires.

The same structure carries float weights (the converted ANN) and integer weights (the
quantized network); ``integer=True`` makes average pooling a sum pool, whose ``1/k^2`` factor
is absorbed by the integer thresholds, so that every value stays an exact integer.
"""

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

__all__ = ["AvgPool", "Flatten", "Linear", "Conv2d", "Gain", "WEIGHTED", "Layer", "Network",
           "event_order"]


@dataclass(frozen=True)
class AvgPool:
    kernel: int

    def apply(self, x, integer):
        y = F.avg_pool2d(x, self.kernel)
        return y * (self.kernel * self.kernel) if integer else y

    def out_shape(self, shape):
        if len(shape) != 3 or min(shape[1:]) < self.kernel:
            raise ValueError(f"average pooling by {self.kernel} needs a (C, H, W) input of at "
                             f"least {self.kernel}x{self.kernel}, not {tuple(shape)}")
        c, h, w = shape
        return (c, h // self.kernel, w // self.kernel)

    def to_dict(self):
        return {"op": "avgpool", "kernel": self.kernel}


@dataclass(frozen=True)
class Flatten:
    def apply(self, x, integer):
        return x.flatten(1)

    def out_shape(self, shape):
        n = 1
        for d in shape:
            n *= d
        return (n,)

    def to_dict(self):
        return {"op": "flatten"}


@dataclass(frozen=True)
class Linear:
    weight: torch.Tensor = field(repr=False)

    def apply(self, x, integer):
        return x @ self.weight.to(x.device, x.dtype).t()

    def out_shape(self, shape):
        if self.weight.dim() != 2 or tuple(shape) != (self.weight.shape[1],):
            raise ValueError(f"a linear op with weight {list(self.weight.shape)} takes "
                             f"({self.weight.shape[-1]},), not {tuple(shape)}")
        return (self.weight.shape[0],)

    def with_weight(self, weight):
        return replace(self, weight=weight)

    def to_dict(self):
        return {"op": "linear", "out_features": self.weight.shape[0],
                "in_features": self.weight.shape[1]}


@dataclass(frozen=True)
class Conv2d:
    weight: torch.Tensor = field(repr=False)
    stride: int = 1
    padding: int = 0

    def apply(self, x, integer):
        return F.conv2d(x, self.weight.to(x.device, x.dtype), stride=self.stride,
                        padding=self.padding)

    def out_shape(self, shape):
        weight = list(self.weight.shape)
        if len(weight) != 4 or weight[2] != weight[3]:
            raise ValueError(f"a convolution's weight is [out, in, k, k], not {weight}")
        if len(shape) != 3 or shape[0] != weight[1]:
            raise ValueError(f"a convolution with weight {weight} takes ({weight[1]}, H, W), "
                             f"not {tuple(shape)}")
        _, h, w = shape
        k = weight[-1]
        size = lambda n: (n + 2 * self.padding - k) // self.stride + 1  # noqa: E731
        if min(size(h), size(w)) < 1:
            raise ValueError(f"a {k}x{k} convolution (padding {self.padding}) does not fit "
                             f"a {h}x{w} input")
        return (weight[0], size(h), size(w))

    def with_weight(self, weight):
        return replace(self, weight=weight)

    def to_dict(self):
        return {"op": "conv2d", "out_channels": self.weight.shape[0],
                "in_channels": self.weight.shape[1], "kernel": self.weight.shape[-1],
                "stride": self.stride, "padding": self.padding}


@dataclass(frozen=True)
class Gain:
    """An integer network's identity shortcut: its input times an integer gain, the ratio of
    the scales of the two inputs of a residual junction (``docs/residual.md``). ``weight``
    holds the gain as a one-element tensor, so that it is quantized, stored and counted like
    any weight (one synapse per input neuron)."""

    weight: torch.Tensor = field(repr=False)

    def apply(self, x, integer):
        return x * self.weight.to(x.device, x.dtype).reshape(())

    def out_shape(self, shape):
        if self.weight.numel() != 1:
            raise ValueError(f"a gain is one number, not a weight of shape "
                             f"{list(self.weight.shape)}")
        return shape

    def with_weight(self, weight):
        return replace(self, weight=weight)

    def to_dict(self):
        return {"op": "gain"}


# ops that carry a weight tensor
WEIGHTED = (Linear, Conv2d, Gain)


@dataclass(frozen=True)
class Layer:
    """One spiking layer: ``current = ops(previous spikes)``.

    Parameters
    ----------
    name : str
        Where the layer came from (the torch module path of its weighted op).
    ops : tuple
        The synaptic operator, applied in order; exactly one op carries a weight.
    in_shape, out_shape : tuple of int
        Shapes without the batch dimension.
    threshold : float or int or None
        Firing threshold; ``None`` until balanced, and always ``None`` for the output layer.
    """

    name: str
    ops: tuple
    in_shape: tuple
    out_shape: tuple
    threshold: object = None
    shortcuts: tuple = ()

    @property
    def weighted(self):
        return next(op for op in self.ops if isinstance(op, WEIGHTED))

    @property
    def device(self):
        """Where the weights are (the CPU for a weightless shortcut path)."""
        op = next((op for op in self.ops if isinstance(op, WEIGHTED)), None)
        return op.weight.device if op is not None else torch.device("cpu")

    def to(self, device):
        """The same layer with its weights (and its shortcuts') on ``device``."""
        ops = tuple(op.with_weight(op.weight.to(device)) if isinstance(op, WEIGHTED)
                    else op for op in self.ops)
        shortcuts = tuple((source, path.to(device)) for source, path in self.shortcuts)
        return replace(self, ops=ops, shortcuts=shortcuts)

    @property
    def sources(self):
        """Indices of the layers this one reads besides its predecessor."""
        return tuple(source for source, _ in self.shortcuts)

    @property
    def weight(self):
        return self.weighted.weight

    @property
    def in_size(self):
        return _numel(self.in_shape)

    @property
    def out_size(self):
        return _numel(self.out_shape)

    def with_weight(self, weight):
        ops = tuple(op.with_weight(weight) if isinstance(op, WEIGHTED) else op
                    for op in self.ops)
        return replace(self, ops=ops)

    def current(self, x, integer=False):
        """Apply the synaptic operator to ``x`` of shape ``[batch, *in_shape]``."""
        for op in self.ops:
            x = op.apply(x, integer)
        return x

    def _structure(self, weight_map):
        # The same ops with every weight replaced by weight_map(weight): used to count
        # connections (ones) and to bound sums of magnitudes (abs).
        ops = tuple(op.with_weight(weight_map(op.weight)) if isinstance(op, WEIGHTED)
                    else op for op in self.ops)
        return replace(self, ops=ops)

    def fanout(self):
        """Synapses leaving each input neuron (structural, zero weights included): a tensor
        of ``in_shape``. One input spike costs this many weight reads and additions."""
        # the transpose of the structure, by autograd: also inside the caller's no_grad or
        # inference_mode
        with torch.inference_mode(False), torch.enable_grad():
            probe = torch.ones(1, *self.in_shape, dtype=torch.float64, device=self.device,
                               requires_grad=True)
            self._structure(lambda w: torch.ones_like(w, dtype=torch.float64)).current(
                probe, integer=True).sum().backward()
        return probe.grad[0].round().to(torch.int64)

    def abs_row_sums(self):
        """``sum_i |w_ji|`` for every output neuron ``j`` (pooling as a sum): the largest
        magnitude the running input sum dV/dt of neuron ``j`` can reach."""
        ones = torch.ones(1, *self.in_shape, dtype=torch.float64, device=self.device)
        return self._structure(lambda w: w.abs().to(torch.float64)).current(
            ones, integer=True)[0].round().to(torch.int64)

    def to_dict(self):
        return {"name": self.name, "ops": [op.to_dict() for op in self.ops],
                "in_shape": list(self.in_shape), "out_shape": list(self.out_shape)}


def event_order(shape, device=None):
    """The order in which the hardware visits a layer's neurons, and so the order of its
    spikes' events within a step (``docs/tsc-neuron.md``): ascending index for a vector, and
    channels last for a ``(C, H, W)`` layer (pixel by pixel in row-major order, the channels
    of a pixel in ascending order). Returns ``order`` (int64) such that ``order[i]`` is the
    flat (torch, channels-first) index of the ``i``-th neuron visited."""
    flat = torch.arange(_numel(shape), device=device)
    if len(shape) != 3:
        return flat
    return flat.reshape(shape).permute(1, 2, 0).flatten()


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


@dataclass(frozen=True)
class Network:
    """A converted network: its layers, input shape and (for integer networks) scales."""

    layers: tuple
    input_shape: tuple

    @property
    def hidden(self):
        return self.layers[:-1]

    @property
    def output(self):
        return self.layers[-1]

    @property
    def thresholds(self):
        return [layer.threshold for layer in self.hidden]

    @property
    def residual(self):
        return any(layer.shortcuts for layer in self.layers)

    def windows(self):
        """Windows until the output layer is done: the longest path, in layers."""
        depth = {-1: 0}
        for index, layer in enumerate(self.layers):
            depth[index] = 1 + max([depth[index - 1]] + [depth[s] for s in layer.sources])
        return depth[len(self.layers) - 1]

    def scales(self, input_scale=1.0):
        """What one unit of each layer's block length stands for, relative to the input
        codes: ``s_l = Vth_l * s_(l-1)``; index -1 is the input. Thresholds must be set for
        the layers asked about."""
        scales = {-1: input_scale}
        for index, layer in enumerate(self.hidden):
            if layer.threshold is None:
                break
            scales[index] = float(layer.threshold) * scales[index - 1]
        return scales

    def to(self, device):
        """The same network with every weight on ``device``."""
        return replace(self, layers=tuple(layer.to(device) for layer in self.layers))

    def with_thresholds(self, thresholds):
        if len(thresholds) != len(self.hidden):
            raise ValueError(f"expected {len(self.hidden)} thresholds, got {len(thresholds)}")
        layers = tuple(replace(layer, threshold=th) for layer, th in zip(self.hidden, thresholds))
        return replace(self, layers=layers + (self.output,))

    def describe(self):
        lines = []
        for i, layer in enumerate(self.layers):
            ops = " -> ".join(op.to_dict()["op"] for op in layer.ops)
            role = "output" if i == len(self.layers) - 1 else f"threshold {layer.threshold}"
            lines.append(f"layer {i} ({layer.name}): {ops}: {layer.in_shape} -> "
                         f"{layer.out_shape}, {role}")
        return "\n".join(lines)
