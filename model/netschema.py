"""The network file's header schema: every field's type, range and agreement with the others,
checked before anything uses the header (``docs/network-file.md``).

:func:`check_header` raises :class:`NetworkFileError` naming the field (``layers[1].ops[0]
.in_features``) and what it should be. JSON's loose types are not coerced: an integer field
refuses ``16.5``, ``"16"`` and ``true``; a number field refuses NaN and the infinities.
"""

import math

from .encoding import INPUT_ROUNDINGS
from .fixedpoint import FixedPointFormat
from .inputs import check_input_range
from .quantize import MAX_STEPS, SCHEDULES
from .simulate import ROUNDINGS

__all__ = ["NetworkFileError", "check_header", "MAX_DIMENSION", "MAX_NEURONS"]

# The largest extent of one dimension of a layer's shape, and the most neurons in one layer:
# far beyond what any board holds, small enough that the model never tries to allocate more
# than it could hold.
MAX_DIMENSION = 1 << 16
MAX_NEURONS = 1 << 24

_OPS = {
    "linear": ("out_features", "in_features"),
    "conv2d": ("out_channels", "in_channels", "kernel", "stride", "padding"),
    "avgpool": ("kernel",),
    "flatten": (),
    "gain": (),
}
_WEIGHTED = ("linear", "conv2d", "gain")


class NetworkFileError(ValueError):
    """A network file that cannot be loaded, with the reason."""


def _object(value, name, required, optional=()):
    if not isinstance(value, dict):
        raise NetworkFileError(f"{name} must be a JSON object, not {_kind(value)}")
    missing = [key for key in required if key not in value]
    if missing:
        raise NetworkFileError(f"{name} lacks the field {missing[0]!r}")
    unknown = sorted(set(value) - set(required) - set(optional))
    if unknown:
        raise NetworkFileError(f"{name} has an unknown field {unknown[0]!r} (fields: "
                               f"{', '.join(sorted((*required, *optional)))})")
    return value


def _kind(value):
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "an object", type(None): "null"}.get(type(value),
                                                                       type(value).__name__)


def _integer(value, name, low, high):
    if type(value) is not int:
        raise NetworkFileError(f"{name} must be an integer, not {_kind(value)} ({value!r})")
    if not low <= value <= high:
        raise NetworkFileError(f"{name} is {value}, outside {low} to {high}")
    return value


def _number(value, name, positive=False):
    if type(value) not in (int, float) or not math.isfinite(value):
        raise NetworkFileError(f"{name} must be a finite number, not {_kind(value)} "
                               f"({value!r})")
    if positive and not value > 0:
        raise NetworkFileError(f"{name} must be positive, not {value!r}")
    return value


def _choice(value, name, choices):
    if value not in choices or type(value) is not str:
        raise NetworkFileError(f"{name} is {value!r}; it must be one of {', '.join(choices)}")
    return value


def _list(value, name, low, high):
    if not isinstance(value, list):
        raise NetworkFileError(f"{name} must be a list, not {_kind(value)}")
    if not low <= len(value) <= high:
        raise NetworkFileError(f"{name} has {len(value)} entries; it takes {low} to {high}")
    return value


def _shape(value, name, ranks=(1, 3)):
    _list(value, name, min(ranks), max(ranks))
    if len(value) not in ranks:
        raise NetworkFileError(f"{name} has {len(value)} dimensions; it takes "
                               f"{' or '.join(map(str, ranks))}")
    neurons = 1
    for number, extent in enumerate(value):
        neurons *= _integer(extent, f"{name}[{number}]", 1, MAX_DIMENSION)
    if neurons > MAX_NEURONS:
        raise NetworkFileError(f"{name} {value} holds {neurons} neurons, more than "
                               f"{MAX_NEURONS}")
    return tuple(value)


def _op(entry, name, weight_shape):
    if not isinstance(entry, dict) or "op" not in entry:
        raise NetworkFileError(f"{name} must be an object with an 'op' field, not "
                               f"{_kind(entry)}")
    kind = _choice(entry["op"], f"{name}.op", tuple(_OPS))
    _object(entry, name, ("op", *_OPS[kind]))
    for field in _OPS[kind]:
        _integer(entry[field], f"{name}.{field}", 0 if field == "padding" else 1,
                 MAX_DIMENSION)
    implied = {"linear": lambda: [entry["out_features"], entry["in_features"]],
               "conv2d": lambda: [entry["out_channels"], entry["in_channels"],
                                  entry["kernel"], entry["kernel"]],
               "gain": lambda: [1]}.get(kind)
    if implied is not None and implied() != list(weight_shape):
        raise NetworkFileError(f"{name} stands for a weight {implied()}, but the weights are "
                               f"{list(weight_shape)}")
    return kind


def _path(entry, name, required, version, shortcut, stored):
    """One input path: its weights, ops and shapes. ``stored`` counts the payload bytes the
    paths before it hold (weights lie back to back, in file order); returns the new count."""
    _object(entry, name, ("name", "ops", "in_shape", "out_shape", "weights", *required))
    if type(entry["name"]) is not str:
        raise NetworkFileError(f"{name}.name must be a string, not {_kind(entry['name'])}")
    weights = _object(entry["weights"], f"{name}.weights", ("offset", "shape"))
    shape = _shape(weights["shape"], f"{name}.weights.shape", ranks=(1, 2, 4))
    offset = _integer(weights["offset"], f"{name}.weights.offset", 0, 1 << 40)
    if offset != stored:
        raise NetworkFileError(f"{name}.weights.offset is {offset}; weights lie back to back "
                               f"in file order, so it must be {stored}")
    kinds = [_op(op, f"{name}.ops[{number}]", shape)
             for number, op in enumerate(_list(entry["ops"], f"{name}.ops", 1, 8))]
    weighted = [kind for kind in kinds if kind in _WEIGHTED]
    # a gain (an identity shortcut) only on a shortcut, and only from version 2
    allowed = _WEIGHTED if shortcut and version >= 2 else ("linear", "conv2d")
    if len(weighted) != 1 or weighted[0] not in allowed:
        where = "" if shortcut else " (a gain belongs on a shortcut)"
        raise NetworkFileError(f"{name}.ops needs exactly one {' or '.join(allowed)} op, "
                               f"not {kinds}{where}")
    _shape(entry["in_shape"], f"{name}.in_shape")
    _shape(entry["out_shape"], f"{name}.out_shape")
    return stored + math.prod(shape)


def _layer(entry, index, last, version, stored):
    name = f"layers[{index}]"
    if version < 2 and isinstance(entry, dict) and "shortcuts" in entry:
        raise NetworkFileError(f"{name}: version 1 files have no shortcuts; re-export the "
                               f"network")
    shortcuts = ("shortcuts",) if version >= 2 else ()
    stored = _path(entry, name, ("threshold", "weight_scale", *shortcuts), version, False,
                   stored)
    if last and entry["threshold"] is not None:
        raise NetworkFileError(f"{name}.threshold must be null: the output layer never fires")
    if not last:
        if entry["threshold"] is None:
            raise NetworkFileError(f"{name}.threshold is null, but a hidden layer fires at a "
                                   f"threshold")
        _integer(entry["threshold"], f"{name}.threshold", 1, 1 << 62)
    if entry["weight_scale"] is not None:
        _number(entry["weight_scale"], f"{name}.weight_scale", positive=True)
    for number, shortcut in enumerate(_list(entry.get("shortcuts", []), f"{name}.shortcuts",
                                            0, 8)):
        at = f"{name}.shortcuts[{number}]"
        stored = _path(shortcut, at, ("source",), version, True, stored)
        _integer(shortcut["source"], f"{at}.source", -1, index - 1)
    return stored


def check_header(header, version, payload_length):
    """Raise :class:`NetworkFileError` unless ``header`` (parsed JSON) is a well-formed
    version-``version`` header whose weights tile a ``payload_length``-byte payload."""
    _object(header, "the header", ("steps", "schedule", "rounding", "format", "input",
                                   "classes", "layers", "metadata"))
    _integer(header["steps"], "steps", 2, MAX_STEPS)
    _choice(header["schedule"], "schedule", SCHEDULES)
    _choice(header["rounding"], "rounding", ROUNDINGS)
    fmt = _object(header["format"], "format", ("weight_bits", "dvdt_bits", "v_bits"))
    for field in fmt:
        _integer(fmt[field], f"format.{field}", 2, 48)
    FixedPointFormat(**fmt)
    # from version 3: the input codes' rounding, and a scale and offset per feature
    inputs = _object(header["input"], "input",
                     ("shape", "scale", "offset", *(("rounding",) if version >= 3 else ())))
    shape = _shape(inputs["shape"], "input.shape")
    for field in ("scale", "offset"):
        if version >= 3 and isinstance(inputs[field], list):
            _list(inputs[field], f"input.{field}", 1, MAX_NEURONS)
            for number, value in enumerate(inputs[field]):
                _number(value, f"input.{field}[{number}]")
        else:
            _number(inputs[field], f"input.{field}")
    try:
        check_input_range(inputs["scale"], inputs["offset"], shape)
    except ValueError as error:
        raise NetworkFileError(str(error)) from None
    if version >= 3:
        _choice(inputs["rounding"], "input.rounding", INPUT_ROUNDINGS)
    if not isinstance(header["metadata"], dict):
        raise NetworkFileError(f"metadata must be a JSON object, not "
                               f"{_kind(header['metadata'])}")
    layers = _list(header["layers"], "layers", 1, 1024)
    stored = 0
    for index, entry in enumerate(layers):
        stored = _layer(entry, index, index == len(layers) - 1, version, stored)
    if stored != payload_length:
        raise NetworkFileError(f"the weights take {stored} bytes but the payload has "
                               f"{payload_length}: {payload_length - stored} bytes unused")
    classes = math.prod(layers[-1]["out_shape"])
    if type(header["classes"]) is not int or header["classes"] != classes:
        raise NetworkFileError(f"classes is {header['classes']!r}, but the output layer has "
                               f"{classes} neurons")
