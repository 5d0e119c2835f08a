"""The network file: a quantized TSC-SNN as ``rtl.build`` and the host tool load it.

Layout (little-endian; documented in ``docs/network-file.md``)::

    offset  size  field
    0       8     magic  b"TSCNET\\x1a\\n"
    8       2     version (2; version 1, without residual junctions, still reads)
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
import struct
import zlib
from dataclasses import replace
from pathlib import Path

import torch

from .fixedpoint import FixedPointFormat
from .network import WEIGHTED, AvgPool, Conv2d, Flatten, Gain, Layer, Linear, Network
from .quantize import IntegerNetwork

__all__ = ["MAGIC", "VERSION", "NetworkFileError", "write_network", "read_network",
           "encode_network", "decode_network"]

MAGIC = b"TSCNET\x1a\n"
VERSION = 2
# version 1 is version 2 without residual junctions (no "shortcuts", no "gain" op)
READABLE_VERSIONS = (1, 2)
_PREFIX = struct.Struct("<8sHHII")


class NetworkFileError(ValueError):
    """A network file that cannot be loaded, with the reason."""


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
        "input": {"shape": list(qnet.network.input_shape), "scale": qnet.input_scale,
                  "offset": qnet.input_offset},
        "classes": qnet.classes, "layers": layers, "metadata": qnet.metadata,
    }
    head = json.dumps(header, sort_keys=True).encode()
    body = _PREFIX.pack(MAGIC, VERSION, 0, len(head), len(payload)) + head + bytes(payload)
    return body + struct.pack("<I", zlib.crc32(body))


def write_network(path, qnet):
    data = encode_network(qnet)
    Path(path).write_bytes(data)
    return len(data)


def _op_from_dict(entry, weight, where, version):
    kind = entry.get("op")
    if kind == "gain" and version >= 2:
        if tuple(weight.shape) != (1,):
            raise NetworkFileError(f"{where}: a gain's weight has shape [1], not "
                                   f"{list(weight.shape)}")
        return Gain(weight)
    if kind == "avgpool":
        return AvgPool(int(entry["kernel"]))
    if kind == "flatten":
        return Flatten()
    if kind == "linear":
        return Linear(weight)
    if kind == "conv2d":
        return Conv2d(weight, stride=int(entry["stride"]), padding=int(entry["padding"]))
    raise NetworkFileError(f"{where}: unknown op {kind!r}")


def _weights(spec, payload, where):
    shape = tuple(int(d) for d in spec["shape"])
    offset = int(spec["offset"])
    count = 1
    for d in shape:
        count *= d
    if offset < 0 or offset + count > len(payload):
        raise NetworkFileError(f"{where}: weights [{offset}, {offset + count}) lie outside "
                               f"the {len(payload)}-byte payload")
    return torch.frombuffer(bytearray(payload[offset:offset + count]),
                            dtype=torch.int8).to(torch.int64).reshape(shape)


def _path(entry, payload, where, version, name, shortcut):
    """The ops of one input path (a layer's main input or a shortcut), checked to map
    ``in_shape`` to ``out_shape`` with exactly one weighted op; returns a :class:`Layer`."""
    weight = _weights(entry["weights"], payload, where)
    ops = tuple(_op_from_dict(op, weight, where, version) for op in entry["ops"])
    if not shortcut and any(isinstance(op, Gain) for op in ops):
        raise NetworkFileError(f"{where}: a gain op belongs on a shortcut, not on a layer's "
                               f"main input")
    if sum(isinstance(op, WEIGHTED) for op in ops) != 1:
        kinds = "linear, conv2d or gain" if version >= 2 else "linear or conv2d"
        raise NetworkFileError(f"{where}: needs exactly one {kinds} op")
    in_shape = tuple(int(d) for d in entry["in_shape"])
    out_shape = tuple(int(d) for d in entry["out_shape"])
    shape_now = in_shape
    for op in ops:
        shape_now = op.out_shape(shape_now)
    if shape_now != out_shape:
        raise NetworkFileError(f"{where}: ops map {in_shape} to {shape_now}, but the file "
                               f"says {out_shape}")
    return Layer(name, ops, in_shape, out_shape)


def _layer(entry, payload, index, last, version):
    where = f"layer {index}"
    try:
        layer = _path(entry, payload, where, version, entry["name"], shortcut=False)
        shortcuts = entry.get("shortcuts", [])
        if version < 2 and shortcuts:
            raise NetworkFileError(f"{where}: version 1 files have no shortcuts; re-export "
                                   f"the network")
        paths = []
        for number, shortcut in enumerate(shortcuts):
            at = f"{where} shortcut {number}"
            source = shortcut["source"]
            if not isinstance(source, int) or not -1 <= source < index:
                raise NetworkFileError(f"{at}: source {source!r} is not the input (-1) or a "
                                       f"layer before layer {index}")
            path = _path(shortcut, payload, at, version, f"{entry['name']}.shortcut",
                         shortcut=True)
            if path.out_shape != layer.out_shape:
                raise NetworkFileError(f"{at}: gives {path.out_shape} but the layer gives "
                                       f"{layer.out_shape}")
            paths.append((source, path))
        threshold = entry["threshold"]
        if last != (threshold is None):
            raise NetworkFileError(f"{where}: " + ("the output layer has a threshold" if last
                                                  else "a hidden layer has no threshold"))
        return replace(layer, threshold=None if threshold is None else int(threshold),
                       shortcuts=tuple(paths)), entry.get("weight_scale")
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        if isinstance(error, NetworkFileError):
            raise
        raise NetworkFileError(f"{where}: malformed description ({error!r})") from error


def decode_network(data, source="network file"):
    """Parse network file bytes into an :class:`IntegerNetwork`."""
    if len(data) < _PREFIX.size + 4:
        raise NetworkFileError(f"{source}: truncated ({len(data)} bytes; a network file has at "
                               f"least {_PREFIX.size + 4})")
    magic, version, _, head_len, payload_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise NetworkFileError(f"{source}: not a tsc-snn network file (bad magic {magic!r}); "
                               f"write one with python -m model.export")
    if version not in READABLE_VERSIONS:
        raise NetworkFileError(f"{source}: format version {version} is not supported (this "
                               f"tsc-snn reads versions "
                               f"{', '.join(map(str, READABLE_VERSIONS))}); re-export the "
                               f"network")
    expected = _PREFIX.size + head_len + payload_len + 4
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise NetworkFileError(f"{source}: {kind} ({len(data)} bytes, the header says "
                               f"{expected})")
    (crc,) = struct.unpack_from("<I", data, expected - 4)
    if zlib.crc32(data[:expected - 4]) != crc:
        raise NetworkFileError(f"{source}: checksum mismatch; the file is corrupt")
    try:
        header = json.loads(data[_PREFIX.size:_PREFIX.size + head_len].decode())
        payload = data[_PREFIX.size + head_len:expected - 4]
        entries = header["layers"]
        if not entries:
            raise NetworkFileError(f"{source}: the network has no layers")
        pairs = [_layer(e, payload, i, i == len(entries) - 1, version)
                 for i, e in enumerate(entries)]
        layers = tuple(layer for layer, _ in pairs)
        for index in range(1, len(layers)):
            if layers[index].in_shape != layers[index - 1].out_shape:
                raise NetworkFileError(f"{source}: layer {index} takes {layers[index].in_shape} "
                                       f"but layer {index - 1} gives {layers[index - 1].out_shape}")
        inputs = header["input"]
        network = Network(layers, tuple(int(d) for d in inputs["shape"]))
        if network.input_shape != layers[0].in_shape:
            raise NetworkFileError(f"{source}: input shape {network.input_shape} does not match "
                                   f"layer 0's {layers[0].in_shape}")
        for index, layer in enumerate(layers):
            for number, (origin, path) in enumerate(layer.shortcuts):
                given = network.input_shape if origin < 0 else layers[origin].out_shape
                if path.in_shape != given:
                    raise NetworkFileError(f"{source}: layer {index} shortcut {number} takes "
                                           f"{path.in_shape} but its source gives {given}")
        scales = tuple(s for _, s in pairs) if all(s is not None for _, s in pairs) else ()
        return IntegerNetwork(network, int(header["steps"]), FixedPointFormat(**header["format"]),
                              header["rounding"], header["schedule"], scales,
                              float(inputs["scale"]), float(inputs["offset"]),
                              header.get("metadata", {}))
    except NetworkFileError:
        raise
    except (KeyError, TypeError, ValueError, UnicodeDecodeError) as error:
        raise NetworkFileError(f"{source}: invalid header ({error})") from error


def read_network(path):
    """Load a network file; raise :class:`NetworkFileError` if it cannot be used."""
    return decode_network(Path(path).read_bytes(), str(path))
