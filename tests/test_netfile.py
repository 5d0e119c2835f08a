import dataclasses
import json
import re
import struct
import zlib

import pytest
import torch

from model.netfile import (
    MAGIC,
    NetworkFileError,
    decode_network,
    encode_network,
    read_network,
    write_network,
)
from model.quantize import quantize


@pytest.fixture(scope="module")
def qnet(trained_mlp):
    _, split, net, _ = trained_mlp
    return quantize(net, split.x_train, 16, metadata={"arch": "mlp"})


def test_round_trip_is_exact(qnet, trained_mlp, tmp_path):
    path = tmp_path / "net.tscn"
    size = write_network(path, qnet)
    assert size == path.stat().st_size and path.read_bytes()[:8] == MAGIC
    loaded = read_network(path)
    assert loaded.steps == 16 and loaded.fmt == qnet.fmt and loaded.rounding == qnet.rounding
    assert loaded.network.thresholds == qnet.network.thresholds
    for a, b in zip(loaded.network.layers, qnet.network.layers):
        assert torch.equal(a.weight, b.weight) and a.in_shape == b.in_shape
    x = trained_mlp[1].x_test[:40]
    assert torch.equal(loaded.run(x).output, qnet.run(x).output)
    assert loaded.metadata["arch"] == "mlp"


def _rewrite(data, header_edit):
    # Rebuild a file with an edited header and a valid checksum.
    _, version, _, head_len, payload_len = struct.unpack_from("<8sHHII", data)
    header = json.loads(data[20:20 + head_len])
    header_edit(header)
    head = json.dumps(header).encode()
    payload = data[20 + head_len:20 + head_len + payload_len]
    body = struct.pack("<8sHHII", MAGIC, version, 0, len(head), payload_len) + head + payload
    return body + struct.pack("<I", zlib.crc32(body))


def _set(path, value):
    def edit(header):
        node = header
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


@pytest.mark.parametrize("corrupt, message", [
    (lambda d: d[:10], r"truncated \(10 bytes"),
    (lambda d: d[:-5], r"truncated"),
    (lambda d: d + b"\0", r"has trailing bytes"),
    (lambda d: b"NOTANET!" + d[8:], r"not a tsc-snn network file"),
    (lambda d: d[:8] + struct.pack("<H", 9) + d[10:], r"format version 9 is not supported"),
    (lambda d: d[:8] + struct.pack("<H", 0) + d[10:], r"format version 0 is not supported"),
    (lambda d: d[:8] + struct.pack("<H", 4) + d[10:], r"format version 4 is not supported"),
    (lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:], r"checksum mismatch"),
    (lambda d: _rewrite(d, _set(("layers", 0, "threshold"), None)),
     r"layers\[0\].threshold is null, but a hidden layer fires"),
    (lambda d: _rewrite(d, _set(("layers", 0, "threshold"), 1 << 30)),
     r"threshold 1073741824 does not fit the 24-bit V accumulator"),
    (lambda d: _rewrite(d, _set(("layers", 1, "in_shape"), [64])),
     r"layers\[1\].ops\[0\]: a linear op with weight \[10, 128\] takes \(128,\), not \(64,\)"),
    (lambda d: _rewrite(d, _set(("layers", 0, "weights", "offset"), 10 ** 6)),
     r"layers\[0\].weights.offset is 1000000; weights lie back to back"),
    (lambda d: _rewrite(d, _set(("schedule",), "shared")),
     r"schedule is 'shared'; it must be one of windowed"),
    (lambda d: _rewrite(d, _set(("layers", 0, "ops"), [{"op": "maxpool"}])),
     r"layers\[0\].ops\[0\].op is 'maxpool'; it must be one of"),
    (lambda d: _rewrite(d, lambda h: h.pop("steps")), r"the header lacks the field 'steps'"),
])
def test_bad_files_are_refused_with_the_reason(qnet, corrupt, message):
    with pytest.raises(NetworkFileError, match=message):
        decode_network(corrupt(encode_network(qnet)))


def test_weight_that_does_not_fit_is_refused(qnet):
    from model.fixedpoint import FixedPointFormat
    narrow = FixedPointFormat(4, 16, 24)
    with pytest.raises(ValueError, match=r"does not fit in 4 signed bits"):
        type(qnet)(qnet.network, qnet.steps, narrow)


@pytest.fixture(scope="module")
def residual_qnet():
    from model.convert import convert
    from model.networks import build
    torch.manual_seed(2)
    model, shape, _ = build("resnet")
    net = convert(model.eval(), shape)
    return quantize(net, torch.rand(32, *shape) * 2 - 1, 8, statistic="percentile")


def test_residual_round_trip_keeps_every_shortcut(residual_qnet, tmp_path):
    path = tmp_path / "resnet.tscn"
    write_network(path, residual_qnet)
    loaded = read_network(path)
    assert struct.unpack_from("<H", path.read_bytes(), 8)[0] == 3
    kinds = set()
    for a, b in zip(loaded.network.layers, residual_qnet.network.layers):
        assert [s for s, _ in a.shortcuts] == [s for s, _ in b.shortcuts]
        for (_, pa), (_, pb) in zip(a.shortcuts, b.shortcuts):
            assert [op.to_dict() for op in pa.ops] == [op.to_dict() for op in pb.ops]
            assert torch.equal(pa.weight, pb.weight) and pa.in_shape == pb.in_shape
            kinds.add(pa.weighted.to_dict()["op"])
    assert kinds == {"gain", "conv2d"}
    x = torch.rand(6, 1, 8, 8) * 2 - 1
    assert torch.equal(loaded.run(x).output, residual_qnet.run(x).output)


def _as_version(data, version):
    def strip(header):
        header["input"].pop("rounding")
        if version == 1:
            for layer in header["layers"]:
                layer.pop("shortcuts")
    return _with_version(_rewrite(data, strip), version)


def _with_version(data, version):
    body = data[:8] + struct.pack("<H", version) + data[10:-4]
    return body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize("version", [1, 2])
def test_older_versions_still_read_with_floored_input_codes(qnet, trained_mlp, version):
    """Versions 1 and 2 have no input.rounding: their networks were balanced on floored
    input codes, and read so."""
    loaded = decode_network(_as_version(encode_network(qnet), version))
    assert loaded.input_rounding == "floor"
    x = trained_mlp[1].x_test[:20]
    floored = dataclasses.replace(qnet, input_rounding="floor")
    assert torch.equal(loaded.run(x).output, floored.run(x).output)


def test_input_range_and_rounding_round_trip(qnet, trained_mlp):
    """Per-feature scales and offsets and the input rounding come back exactly, and the
    model maps raw inputs with them."""
    scale = tuple(0.5 + i / 128 for i in range(64))
    offset = tuple(-1.0 + i / 256 for i in range(64))
    for rounding in ("nearest", "floor"):
        wanted = dataclasses.replace(qnet, input_scale=scale, input_offset=offset,
                                     input_rounding=rounding)
        loaded = decode_network(encode_network(wanted))
        assert (loaded.input_scale, loaded.input_offset) == (scale, offset)
        assert loaded.input_rounding == rounding
        raw = torch.rand(5, 64) * 4
        mapped = loaded.map_inputs(raw)
        want = (raw.double() * torch.tensor(scale, dtype=torch.float64) +
                torch.tensor(offset, dtype=torch.float64))
        assert torch.equal(mapped.x, want.clamp(-1, 1).float())
        assert mapped.outside.tolist() == ((want < -1) | (want > 1)).sum(1).tolist()


@pytest.mark.parametrize("edit, version, message", [
    (_set(("input", "rounding"), "up"), 3, r"input.rounding is 'up'; it must be one of"),
    (lambda h: h["input"].pop("rounding"), 3, r"input lacks the field 'rounding'"),
    (_set(("input", "scale"), [0.5] * 63), 3,
     r"the input scale has 63 entries; an input of shape \[64\] takes 1 or 64"),
    (_set(("input", "offset"), [0.5, "x"] * 32), 3,
     r"input.offset\[1\] must be a finite number, not a string"),
    (_set(("input", "scale"), 0), 3, r"the input scale must not be 0"),
    (_set(("input", "scale"), []), 3, r"input.scale has 0 entries"),
    (lambda h: h["input"].update(scale=[0.5] * 64, rounding=None) or h["input"].pop("rounding"),
     2, r"input.scale must be a finite number, not a list"),
    (_set(("input", "rounding"), "floor"), 2, r"input has an unknown field 'rounding'"),
])
def test_bad_input_fields_are_refused(qnet, edit, version, message):
    data = _with_version(_rewrite(encode_network(qnet), edit), version)
    with pytest.raises(NetworkFileError, match=message):
        decode_network(data)


def _shortcut(layer, key, value):
    def edit(header):
        header["layers"][layer]["shortcuts"][0][key] = value
    return edit


def _first_junction(qnet, kind):
    return next(i for i, layer in enumerate(qnet.network.layers)
                if layer.shortcuts and layer.shortcuts[0][1].weighted.to_dict()["op"] == kind)


@pytest.mark.parametrize("edit, message", [
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "source", 7)(h),
     r"shortcuts\[0\].source is 7, outside -1 to \d"),
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "source", "0")(h),
     r"shortcuts\[0\].source must be an integer, not a string \('0'\)"),
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "ops", [])(h),
     r"shortcuts\[0\].ops has 0 entries; it takes 1 to 8"),
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "out_shape", [16, 4, 4])(h),
     r"shortcuts\[0\]: ops map .* but out_shape is"),
    (lambda q, h: _shortcut(_first_junction(q, "conv2d"), "in_shape", [32, 4, 4])(h),
     r"shortcuts\[0\].ops\[\d\]: a convolution with weight \[32, 16, 1, 1\] takes \(16, H, W\)"),
    (lambda q, h: h["layers"][_first_junction(q, "gain")]["shortcuts"][0]["weights"].update(
        shape=[2]),
     r"shortcuts\[0\].ops\[0\] stands for a weight \[1\], but the weights are \[2\]"),
    (lambda q, h: h["layers"][0].update(ops=[{"op": "gain"}], weights={"offset": 0,
                                                                       "shape": [1]}),
     r"layers\[0\].ops needs exactly one linear or conv2d op, not \['gain'\] \(a gain belongs "
     r"on a shortcut\)"),
])
def test_bad_shortcuts_are_refused_with_the_reason(residual_qnet, edit, message):
    data = _rewrite(encode_network(residual_qnet), lambda h: edit(residual_qnet, h))
    with pytest.raises(NetworkFileError, match=message):
        decode_network(data)


def test_version_1_refuses_shortcuts(residual_qnet):
    data = encode_network(residual_qnet)
    old = _rewrite(data, lambda h: h["input"].pop("rounding"))
    with pytest.raises(NetworkFileError, match="version 1 files have no shortcuts"):
        decode_network(_with_version(old, 1))


def test_a_refused_weight_is_named_with_its_sign():
    from model.fixedpoint import FixedPointFormat
    fmt = FixedPointFormat()
    with pytest.raises(ValueError, match=r"layer 0: weight -128 does not fit in 8 signed bits"):
        fmt.check_weights(torch.tensor([[3, -128], [127, 0]]), "layer 0")
    with pytest.raises(ValueError, match=r"layer 0: weight 200 does not fit"):
        fmt.check_weights(torch.tensor([[3, -128], [200, 0]]), "layer 0")


def _header(data):
    return data[20:20 + struct.unpack_from("<I", data, 12)[0]]


def _raw_header(data, head):
    # A file with header bytes ``head`` (any bytes) and a valid checksum.
    _, version, _, head_len, payload_len = struct.unpack_from("<8sHHII", data)
    payload = data[20 + head_len:20 + head_len + payload_len]
    body = struct.pack("<8sHHII", MAGIC, version, 0, len(head), payload_len) + head + payload
    return body + struct.pack("<I", zlib.crc32(body))


def _with_payload(data, extra):
    # The same header, ``extra`` bytes appended to the payload, the checksum and length fixed.
    _, version, reserved, head_len, payload_len = struct.unpack_from("<8sHHII", data)
    body = struct.pack("<8sHHII", MAGIC, version, reserved, head_len, payload_len + len(extra)) \
        + data[20:-4] + extra
    return body + struct.pack("<I", zlib.crc32(body))


def _reserved(data, value):
    body = data[:10] + struct.pack("<H", value) + data[12:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def _weights_shape(layer, shape):
    def edit(header):
        header["layers"][layer]["weights"]["shape"] = shape
    return edit


# What an independent check found accepted, or refused with the wrong exception (issue 13).
@pytest.mark.parametrize("corrupt, message", [
    (lambda d: _rewrite(d, _weights_shape(0, [128, 32])),
     r"layers\[0\].ops\[0\] stands for a weight \[128, 64\], but the weights are \[128, 32\]"),
    (lambda d: _rewrite(d, lambda h: (_set(("input", "shape"), [65])(h),
                                      _set(("layers", 0, "in_shape"), [65])(h))),
     r"layers\[0\].ops\[0\]: a linear op with weight \[128, 64\] takes \(64,\), not \(65,\)"),
    (lambda d: _rewrite(d, _weights_shape(0, [128, 8, 8])),
     r"layers\[0\].weights.shape has 3 dimensions; it takes 1 or 2 or 4"),
    (lambda d: _rewrite(d, _set(("steps",), 10 ** 9)), r"steps is 1000000000, outside 2 to 4096"),
    (lambda d: _rewrite(d, _set(("steps",), 16.5)), r"steps must be an integer, not a number"),
    (lambda d: _rewrite(d, _set(("steps",), "16")), r"steps must be an integer, not a string"),
    (lambda d: _rewrite(d, _set(("steps",), True)), r"steps must be an integer, not a boolean"),
    (lambda d: _rewrite(d, _set(("layers", 0, "threshold"), 1.5)),
     r"layers\[0\].threshold must be an integer, not a number \(1.5\)"),
    (lambda d: _rewrite(d, _set(("layers", 0, "threshold"), "1250")),
     r"layers\[0\].threshold must be an integer, not a string"),
    (lambda d: _rewrite(d, _set(("layers", 0, "threshold"), True)),
     r"layers\[0\].threshold must be an integer, not a boolean"),
    (lambda d: _raw_header(d, re.sub(rb'"threshold": \d+', b'"threshold": 1e999',
                                     _header(d), count=1)),
     r"layers\[0\].threshold must be an integer, not a number \(inf\)"),
    (lambda d: _rewrite(d, _set(("classes",), 9)),
     r"classes is 9, but the output layer has 10 neurons"),
    (lambda d: _rewrite(d, _set(("classes",), "10")), r"classes is '10'"),
    (lambda d: _reserved(d, 7), r"the reserved field is 7, not 0"),
    (lambda d: _rewrite(d, _set(("input", "scale"), float("nan"))),
     r"the header is not JSON \(NaN is not a JSON number"),
    (lambda d: _rewrite(d, _set(("input", "offset"), float("inf"))),
     r"the header is not JSON \(Infinity is not a JSON number"),
    (lambda d: _rewrite(d, _set(("input", "scale"), "0.1")),
     r"input.scale must be a finite number, not a string"),
    (lambda d: _rewrite(d, _set(("layers", 1, "weights", "offset"), 0)),
     r"layers\[1\].weights.offset is 0; weights lie back to back in file order, so it must be "
     r"8192"),
    (lambda d: _with_payload(d, b"\0\0\0"), r"the weights take \d+ bytes but the payload has "
                                           r"\d+: 3 bytes unused"),
    (lambda d: _rewrite(d, _set(("input", "shape"), [])),
     r"input.shape has 0 entries; it takes 1 to 3"),
    (lambda d: _rewrite(d, _set(("layers", 0, "in_shape"), [])),
     r"layers\[0\].in_shape has 0 entries"),
    (lambda d: _rewrite(d, _set(("layers", 0, "ops"), [["linear"]])),
     r"layers\[0\].ops\[0\] must be an object with an 'op' field, not a list"),
    (lambda d: _rewrite(d, _set(("layers", 0, "ops"), "linear")),
     r"layers\[0\].ops must be a list, not a string"),
    (lambda d: _rewrite(d, _set(("layers",), {"0": {}})), r"layers must be a list, not an object"),
    (lambda d: _rewrite(d, _set(("format", "v_bits"), 64)),
     r"format.v_bits is 64, outside 2 to 48"),
    (lambda d: _rewrite(d, _set(("rounding",), "ceil")), r"rounding is 'ceil'; it must be one of"),
    (lambda d: _rewrite(d, _set(("layers", 0, "extra"), 1)),
     r"layers\[0\] has an unknown field 'extra'"),
    (lambda d: _rewrite(d, _set(("metadata",), [])), r"metadata must be a JSON object, not a list"),
    (lambda d: _rewrite(d, _set(("layers", 0, "weight_scale"), -1.0)),
     r"layers\[0\].weight_scale must be positive"),
    (lambda d: _rewrite(d, _set(("layers", 0, "in_shape"), [1 << 20])),
     r"layers\[0\].in_shape\[0\] is 1048576, outside 1 to 65536"),
    (lambda d: _raw_header(d, b'{"metadata": ' + b"[" * 100000 + b"]" * 100000 + b"}"),
     r"the header is not JSON nests too deeply"),
    (lambda d: _raw_header(d, b"\xff\xfe{}"), r"the header is not JSON"),
    (lambda d: _raw_header(d, b"[]"), r"the header must be a JSON object, not a list"),
])
def test_wrong_files_with_a_valid_checksum_are_refused_naming_the_field(qnet, corrupt, message):
    with pytest.raises(NetworkFileError, match=message):
        decode_network(corrupt(encode_network(qnet)))


_ODD_VALUES = (None, True, False, 0, -1, 1, 2, 3, 1.5, -0.5, 10 ** 9, 10 ** 30, "", "x", "1",
               [], [0], [1, 2], [[1]], {}, {"op": "linear"}, 1e300)


def _nodes(node, path=()):
    """Every (path, value) in a parsed JSON header."""
    yield path, node
    children = node.items() if isinstance(node, dict) else enumerate(node) \
        if isinstance(node, list) else ()
    for key, child in children:
        yield from _nodes(child, path + (key,))


def _mutate(data, random):
    """A random wrong file: a header field replaced, removed or added (checksum valid), the
    payload's bytes changed (checksum valid), bytes flipped or the file cut short."""
    kind = random.randrange(6)
    if kind == 0:
        return data[:random.randrange(len(data))]
    if kind == 1:
        at = random.randrange(len(data))
        return data[:at] + bytes([data[at] ^ (1 << random.randrange(8))]) + data[at + 1:]
    if kind == 2:
        head_len, payload_len = struct.unpack_from("<II", data, 12)
        body = bytearray(data[:-4])
        for _ in range(random.randrange(1, 8)):
            body[20 + head_len + random.randrange(payload_len)] = random.randrange(256)
        return bytes(body) + struct.pack("<I", zlib.crc32(body))

    def edit(header):
        nodes = [(path, value) for path, value in _nodes(header) if path]
        path, _ = random.choice(nodes)
        parent = header
        for key in path[:-1]:
            parent = parent[key]
        if kind == 3:
            parent[path[-1]] = random.choice(_ODD_VALUES)
        elif kind == 4 and isinstance(parent, dict):
            parent.pop(path[-1])
        elif isinstance(parent, dict):
            parent["unexpected"] = random.choice(_ODD_VALUES)
        else:
            parent.append(random.choice(_ODD_VALUES))
    return _rewrite(data, edit)


@pytest.mark.parametrize("which", ["mlp", "residual"])
def test_fuzzed_files_are_refused_or_run(which, qnet, residual_qnet):
    """A few hundred corrupted and semantically wrong files: each is either refused with a
    NetworkFileError or a network the integer model runs."""
    import random as random_module
    source = qnet if which == "mlp" else residual_qnet
    data = encode_network(source)
    random = random_module.Random(13)
    refused, ran = 0, 0
    for _ in range(200):
        mutant = _mutate(data, random)
        try:
            loaded = decode_network(mutant)
        except NetworkFileError:
            refused += 1
            continue
        x = torch.rand(2, *loaded.network.input_shape) * 2 - 1
        assert loaded.run(x).output.shape == (2, loaded.classes)
        ran += 1
    # mostly refused; what runs changed weights, names, scales or metadata
    assert refused >= 100 and ran >= 10
