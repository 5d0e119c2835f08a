"""The network file: a quantized TSC-SNN as ``rtl.build`` and the host tool load it.

Layout (little-endian; documented in ``docs/network-file.md``)::

    offset  size  field
    0       8     magic  b"TSCNET\\x1a\\n"
    8       2     version (3; versions 1 and 2 still read, see READABLE_VERSIONS)
    10      2     reserved, 0
    12      4     header length H
    16      4     payload length P
    20      H     header: UTF-8 JSON (shapes, ops, thresholds, N, widths, schedule, input)
    20+H    P     payload: each layer's weights, int8, row-major, at the header's offsets
    20+H+P  4     CRC-32 (zlib) of every byte before it

Reading checks every field; a corrupt, truncated or foreign file raises
:class:`NetworkFileError` naming the problem.
"""

import json
import math
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import torch

from .fixedpoint import FixedPointFormat
from .netschema import NetworkFileError, check_header
from .network import AvgPool, Conv2d, Flatten, Gain, Layer, Linear, Network
from .quantize import IntegerNetwork

__all__ = ["MAGIC", "VERSION", "NetworkFileError", "write_network", "read_network",
           "encode_network", "decode_network"]

MAGIC = b"TSCNET\x1a\n"
VERSION = 3
# version 2 is version 3 with one input scale and offset and floor-rounded input codes (no
# input.rounding); version 1 is version 2 without residual junctions (no "shortcuts", no
# "gain" op)
READABLE_VERSIONS = (1, 2, 3)
_PREFIX = struct.Struct("<8sHHII")


def _store(payload, weight):
    """Append ``weight`` to ``payload`` as int8; return its ``weights`` entry."""
    weight = weight.to(torch.int8).contiguous()
    entry = {"offset": len(payload), "shape": list(weight.shape)}
    payload += weight.cpu().numpy().tobytes()
    return entry


def encode_network(qnet):
    """Return the bytes of the network file of :class:`IntegerNetwork` ``qnet``."""
    payload, layers = bytearray(), []
    for index, layer in enumerate(qnet.network.layers):
        entry = layer.to_dict()
        entry["threshold"] = None if index == len(qnet.network.layers) - 1 \
            else int(layer.threshold)
        entry["weight_scale"] = float(qnet.scales[index]) if qnet.scales else None
        entry["weights"] = _store(payload, layer.weight)
        entry["shortcuts"] = [{"source": source, **path.to_dict(),
                               "weights": _store(payload, path.weight)}
                              for source, path in layer.shortcuts]
        layers.append(entry)
    header = {
        "steps": qnet.steps, "schedule": qnet.schedule, "rounding": qnet.rounding,
        "format": qnet.fmt.to_dict(),
        "input": {"shape": list(qnet.network.input_shape), "scale": _json(qnet.input_scale),
                  "offset": _json(qnet.input_offset), "rounding": qnet.input_rounding},
        "classes": qnet.classes, "layers": layers, "metadata": qnet.metadata,
    }
    head = json.dumps(header, sort_keys=True).encode()
    body = _PREFIX.pack(MAGIC, VERSION, 0, len(head), len(payload)) + head + bytes(payload)
    return body + struct.pack("<I", zlib.crc32(body))


def _json(value):
    """An input scale or offset as JSON: a number, or a list of one per feature."""
    return float(value) if isinstance(value, (int, float)) else [float(v) for v in value]


def _read_range(value):
    return float(value) if not isinstance(value, list) else tuple(float(v) for v in value)


def write_network(path, qnet):
    data = encode_network(qnet)
    Path(path).write_bytes(data)
    return len(data)


# the op classes by the names the header gives them; the header's schema has checked every
# field before this file builds anything from it (model/netschema.py)
_OPS = {
    "linear": lambda entry, weight: Linear(weight),
    "conv2d": lambda entry, weight: Conv2d(weight, entry["stride"], entry["padding"]),
    "gain": lambda entry, weight: Gain(weight),
    "avgpool": lambda entry, weight: AvgPool(entry["kernel"]),
    "flatten": lambda entry, weight: Flatten(),
}


def _weights(spec, payload):
    count = math.prod(spec["shape"])
    data = bytearray(payload[spec["offset"]:spec["offset"] + count])
    return torch.frombuffer(data, dtype=torch.int8).to(torch.int64).reshape(spec["shape"])


def _path(entry, payload, where, name):
    """One input path (a layer's main input or a shortcut) as a :class:`Layer`, its ops
    checked to map ``in_shape`` to ``out_shape``."""
    weight = _weights(entry["weights"], payload)
    ops = tuple(_OPS[op["op"]](op, weight) for op in entry["ops"])
    in_shape, out_shape = tuple(entry["in_shape"]), tuple(entry["out_shape"])
    shape = in_shape
    for number, op in enumerate(ops):
        try:
            shape = op.out_shape(shape)
        except ValueError as error:
            raise NetworkFileError(f"{where}.ops[{number}]: {error}") from None
    if shape != out_shape:
        raise NetworkFileError(f"{where}: ops map {in_shape} to {shape}, but out_shape is "
                               f"{out_shape}")
    return Layer(name, ops, in_shape, out_shape)


def _network(header, payload, source):
    """The :class:`Network` of a checked header, its shapes checked to chain."""
    layers = []
    for index, entry in enumerate(header["layers"]):
        where = f"{source}: layers[{index}]"
        layer = _path(entry, payload, where, entry["name"])
        shortcuts = []
        for number, shortcut in enumerate(entry.get("shortcuts", [])):
            path = _path(shortcut, payload, f"{where}.shortcuts[{number}]",
                         f"{entry['name']}.shortcut")
            origin = shortcut["source"]
            given = tuple(header["input"]["shape"]) if origin < 0 else layers[origin].out_shape
            if path.in_shape != given:
                raise NetworkFileError(f"{where}.shortcuts[{number}] takes {path.in_shape} "
                                       f"but its source gives {given}")
            if path.out_shape != layer.out_shape:
                raise NetworkFileError(f"{where}.shortcuts[{number}] gives {path.out_shape} "
                                       f"but the layer gives {layer.out_shape}")
            shortcuts.append((origin, path))
        given = tuple(header["input"]["shape"]) if index == 0 else layers[-1].out_shape
        if layer.in_shape != given:
            before = "the input" if index == 0 else f"layers[{index - 1}]"
            raise NetworkFileError(f"{where} takes {layer.in_shape} but {before} gives "
                                   f"{given}")
        layers.append(replace(layer, threshold=entry["threshold"], shortcuts=tuple(shortcuts)))
    return Network(tuple(layers), tuple(header["input"]["shape"]))


def decode_network(data, source="network file"):
    """Parse network file bytes into an :class:`IntegerNetwork`; raise
    :class:`NetworkFileError` naming the problem unless every field is well formed."""
    if len(data) < _PREFIX.size + 4:
        raise NetworkFileError(f"{source}: truncated ({len(data)} bytes; a network file has at "
                               f"least {_PREFIX.size + 4})")
    magic, version, reserved, head_len, payload_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise NetworkFileError(f"{source}: not a tsc-snn network file (bad magic {magic!r}); "
                               f"write one with python -m model.export")
    if version not in READABLE_VERSIONS:
        raise NetworkFileError(f"{source}: format version {version} is not supported (this "
                               f"tsc-snn reads versions "
                               f"{', '.join(map(str, READABLE_VERSIONS))}); re-export the "
                               f"network")
    if reserved != 0:
        raise NetworkFileError(f"{source}: the reserved field is {reserved}, not 0; the file "
                               f"was not written by model.export")
    expected = _PREFIX.size + head_len + payload_len + 4
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise NetworkFileError(f"{source}: {kind} ({len(data)} bytes, the header says "
                               f"{expected})")
    (crc,) = struct.unpack_from("<I", data, expected - 4)
    if zlib.crc32(data[:expected - 4]) != crc:
        raise NetworkFileError(f"{source}: checksum mismatch; the file is corrupt")
    try:
        header = json.loads(data[_PREFIX.size:_PREFIX.size + head_len].decode(),
                            parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = "nests too deeply" if isinstance(error, RecursionError) else f"({error})"
        raise NetworkFileError(f"{source}: the header is not JSON {reason}") from None
    payload = data[_PREFIX.size + head_len:expected - 4]
    try:
        check_header(header, version, payload_len)
    except NetworkFileError as error:
        raise NetworkFileError(f"{source}: {error}") from None
    network = _network(header, payload, source)
    scales = tuple(entry["weight_scale"] for entry in header["layers"])
    try:
        return IntegerNetwork(network, header["steps"], FixedPointFormat(**header["format"]),
                              header["rounding"], header["schedule"],
                              scales if None not in scales else (),
                              _read_range(header["input"]["scale"]),
                              _read_range(header["input"]["offset"]), header["metadata"],
                              header["input"].get("rounding", "floor"))
    except ValueError as error:
        raise NetworkFileError(f"{source}: {error}") from None


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def read_network(path):
    """Load a network file; raise :class:`NetworkFileError` if it cannot be used."""
    return decode_network(Path(path).read_bytes(), str(path))
