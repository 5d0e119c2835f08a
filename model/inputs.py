"""The input range: how a user's raw inputs become the values in [-1, 1] that are coded.

``x = raw * scale + offset``, with one ``scale`` and ``offset`` for every input or one per
feature: a sequence of one entry per input value (tabular data) or, for an image input
``[C, H, W]``, one per channel. The network file stores them and the host tool applies them
to raw inputs exactly as the model does (in float64, then float32 like the ANN's inputs);
values that land outside [-1, 1] are clipped and counted, never wrapped.
"""

import math
from dataclasses import dataclass

import torch

__all__ = ["MappedInputs", "check_input_range", "map_inputs", "fit_input_range"]


@dataclass(frozen=True)
class MappedInputs:
    x: torch.Tensor  # float32 [B, *shape] in [-1, 1]
    outside: torch.Tensor  # int64 [B]: the values of each input clipped to [-1, 1]

    @property
    def clipped(self):
        """How many input values were outside [-1, 1], over the whole batch."""
        return int(self.outside.sum())


def _values(value, shape, name):
    """``value`` (a number or a sequence) as a tuple of floats of a length ``shape`` takes:
    1, one per value, or one per channel of an image; :class:`ValueError` otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"the input {name} must be a number or a list of numbers, not {value!r}")
    if isinstance(value, (int, float)):
        values = (float(value),)
    else:
        try:
            values = tuple(float(v) for v in value)
        except (TypeError, ValueError):
            raise ValueError(f"the input {name} must be a number or a list of numbers, not "
                             f"{value!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"the input {name} must be finite, not {value!r}")
    size = math.prod(shape)
    if len(values) in (1, size) or (len(shape) == 3 and len(values) == shape[0]):
        return values
    per_channel = f", {shape[0]} (one per channel)" if len(shape) == 3 else ""
    raise ValueError(f"the input {name} has {len(values)} entries; an input of shape "
                     f"{list(shape)} takes 1{per_channel} or {size} (one per value)")


def _per_feature(value, shape, name, device):
    """``value`` as a float64 tensor on ``device`` that broadcasts over ``shape``."""
    values = _values(value, shape, name)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if len(values) == 1:
        return tensor.reshape(())
    if len(values) == math.prod(shape):
        return tensor.reshape(shape)
    return tensor.reshape(shape[0], 1, 1)


def check_input_range(scale, offset, shape):
    """Raise :class:`ValueError` unless ``scale`` and ``offset`` fit inputs of ``shape``;
    ``scale`` must be non-zero everywhere (a zero would send every raw value to one code)."""
    if 0.0 in _values(scale, shape, "scale"):
        raise ValueError("the input scale must not be 0")
    _values(offset, shape, "offset")


def map_inputs(raw, scale, offset, shape):
    """``raw`` inputs ([B, ...] with ``prod(shape)`` values each) mapped to [-1, 1]:
    ``raw * scale + offset`` in float64, clipped, as float32 ``[B, *shape]``, with the count
    of clipped values per input."""
    raw = torch.as_tensor(raw).to(torch.float64)
    if raw.numel() % max(math.prod(shape), 1) or raw.dim() == 0:
        raise ValueError(f"raw inputs of shape {list(raw.shape)} do not hold whole inputs of "
                         f"shape {list(shape)}")
    raw = raw.reshape(-1, *shape)
    x = (raw * _per_feature(scale, shape, "scale", raw.device) +
         _per_feature(offset, shape, "offset", raw.device))
    outside = ((x < -1) | (x > 1)).flatten(1).sum(1)
    return MappedInputs(x.clamp(-1.0, 1.0).float(), outside)


def fit_input_range(raw, per_feature=True):
    """``(scale, offset)`` mapping the range of ``raw`` ([B, *shape]) onto [-1, 1]: one pair
    for every value (``per_feature``, a feature that never changes gets scale 1 and lands at
    -1) or one for all. Fit on training data; test data beyond its range is clipped."""
    raw = torch.as_tensor(raw).to(torch.float64).flatten(1)
    if raw.shape[0] == 0:
        raise ValueError("fit_input_range needs at least one input")
    low = raw.min(0).values if per_feature else raw.min()
    high = raw.max(0).values if per_feature else raw.max()
    span = high - low
    scale = torch.where(span > 0, 2 / span.clamp(min=1e-300), torch.ones_like(span))
    offset = -1 - low * scale
    if per_feature:
        return tuple(scale.tolist()), tuple(offset.tolist())
    return float(scale), float(offset)
