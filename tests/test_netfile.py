import json
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
    (lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:], r"checksum mismatch"),
    (lambda d: _rewrite(d, _set(("layers", 0, "threshold"), None)),
     r"layer 0: a hidden layer has no threshold"),
    (lambda d: _rewrite(d, _set(("layers", 0, "threshold"), 1 << 30)),
     r"threshold 1073741824 does not fit the 24-bit V accumulator"),
    (lambda d: _rewrite(d, _set(("layers", 1, "in_shape"), [64])),
     r"layer 1: ops map \(64,\) to \(10,\)|layer 1 takes \(64,\)"),
    (lambda d: _rewrite(d, _set(("layers", 0, "weights", "offset"), 10 ** 6)),
     r"layer 0: weights .* lie outside the"),
    (lambda d: _rewrite(d, _set(("schedule",), "shared")), r"unknown schedule 'shared'"),
    (lambda d: _rewrite(d, _set(("layers", 0, "ops"), [{"op": "maxpool"}])),
     r"layer 0: unknown op 'maxpool'"),
    (lambda d: _rewrite(d, lambda h: h.pop("steps")), r"invalid header \('steps'\)"),
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
    assert struct.unpack_from("<H", path.read_bytes(), 8)[0] == 2
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


def _as_version_1(data):
    def strip(header):
        for layer in header["layers"]:
            layer.pop("shortcuts")
    rewritten = _rewrite(data, strip)
    return rewritten[:8] + struct.pack("<H", 1) + rewritten[10:-4] + struct.pack(
        "<I", zlib.crc32(rewritten[:8] + struct.pack("<H", 1) + rewritten[10:-4]))


def test_version_1_files_still_read(qnet, trained_mlp):
    loaded = decode_network(_as_version_1(encode_network(qnet)))
    x = trained_mlp[1].x_test[:20]
    assert torch.equal(loaded.run(x).output, qnet.run(x).output)


def _shortcut(layer, key, value):
    def edit(header):
        header["layers"][layer]["shortcuts"][0][key] = value
    return edit


def _first_junction(qnet, kind):
    return next(i for i, layer in enumerate(qnet.network.layers)
                if layer.shortcuts and layer.shortcuts[0][1].weighted.to_dict()["op"] == kind)


@pytest.mark.parametrize("edit, message", [
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "source", 7)(h),
     r"shortcut 0: source 7 is not the input \(-1\) or a layer before"),
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "source", "0")(h),
     r"shortcut 0: source '0' is not"),
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "ops", [])(h),
     r"shortcut 0: needs exactly one linear, conv2d or gain op"),
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "out_shape", [16, 4, 4])(h),
     r"shortcut 0: ops map .* but the file says"),
    (lambda q, h: _shortcut(_first_junction(q, "conv2d"), "in_shape", [32, 4, 4])(h),
     r"shortcut 0: ops map|shortcut 0 takes \(32, 4, 4\) but its source gives"),
    (lambda q, h: _shortcut(_first_junction(q, "gain"), "weights",
                            {"offset": 0, "shape": [2]})(h),
     r"a gain's weight has shape \[1\], not \[2\]"),
    (lambda q, h: h["layers"][0].update(ops=[{"op": "gain"}], weights={"offset": 0,
                                                                       "shape": [1]}),
     r"layer 0: a gain op belongs on a shortcut"),
])
def test_bad_shortcuts_are_refused_with_the_reason(residual_qnet, edit, message):
    data = _rewrite(encode_network(residual_qnet), lambda h: edit(residual_qnet, h))
    with pytest.raises(NetworkFileError, match=message):
        decode_network(data)


def test_version_1_refuses_shortcuts(residual_qnet):
    data = encode_network(residual_qnet)
    old = data[:8] + struct.pack("<H", 1) + data[10:-4]
    with pytest.raises(NetworkFileError, match="version 1 files have no shortcuts"):
        decode_network(old + struct.pack("<I", zlib.crc32(old)))


def test_a_refused_weight_is_named_with_its_sign():
    from model.fixedpoint import FixedPointFormat
    fmt = FixedPointFormat()
    with pytest.raises(ValueError, match=r"layer 0: weight -128 does not fit in 8 signed bits"):
        fmt.check_weights(torch.tensor([[3, -128], [127, 0]]), "layer 0")
    with pytest.raises(ValueError, match=r"layer 0: weight 200 does not fit"):
        fmt.check_weights(torch.tensor([[3, -128], [200, 0]]), "layer 0")
