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
