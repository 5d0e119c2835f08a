"""The Python API (``import model``): batches, totals, calibration from a DataLoader, and
the same results inside ``torch.no_grad()`` and ``torch.inference_mode()``."""

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import tsc_snn as tsc
from model.networks import build


@pytest.fixture(scope="module")
def mlp():
    net, split, _ = tsc.train("mlp", epochs=3)
    return net, split


def _same(a, b):
    assert torch.equal(a.output, b.output) and torch.equal(a.prediction, b.prediction)
    for name in ("synaptic", "membrane", "spikes", "saturations"):
        assert torch.equal(getattr(a.counts, name), getattr(b.counts, name))
    assert len(a.spikes) == len(b.spikes)
    assert all(torch.equal(x, y) for x, y in zip(a.spikes, b.spikes))


@pytest.mark.parametrize("method, coding", [("tsc", None), ("ttfs", None), ("rmp", "constant"),
                                            ("if", "constant")])
def test_float_batches_agree_to_float_rounding(mlp, method, coding):
    net, split = mlp
    snn = tsc.balance(tsc.convert(net, (64,)), split.x_train, method, 16, input_coding=coding)
    x = split.x_test[:100]
    whole = tsc.simulate(snn, x, method, 16, input_coding=coding, record=True)
    parts = tsc.simulate(snn, x, method, 16, input_coding=coding, record=True, batch_size=33)
    assert torch.allclose(whole.output, parts.output, rtol=1e-4, atol=1e-4)
    assert float((whole.prediction == parts.prediction).float().mean()) >= 0.99
    assert [t.shape for t in whole.spikes] == [t.shape for t in parts.spikes]
    assert whole.counts.total()["images"] == parts.counts.total()["images"] == 100


def test_integer_runs_in_batches_and_totals_add_up(mlp):
    net, split = mlp
    qnet = tsc.quantize(tsc.convert(net, (64,)), split.x_train, 16)
    whole = qnet.run(split.x_test, record=True)
    _same(whole, qnet.run(split.x_test, record=True, batch_size=64))
    total = whole.counts.total()
    assert total["images"] == 360
    assert total["synaptic"] == int(whole.counts.synaptic.sum())
    assert total["additions"] == total["synaptic"] + total["membrane"]
    assert total["memory_reads"] == total["synaptic"]
    assert total["spike_rate"] == pytest.approx(float(whole.counts.spike_rate().mean()))
    with pytest.raises(ValueError, match="batch_size must be a positive integer, not 0"):
        qnet.run(split.x_test, batch_size=0)


def test_calibration_from_a_dataloader_is_the_tensor_s(mlp):
    net, split = mlp
    network = tsc.convert(net, (64,))
    loader = DataLoader(TensorDataset(split.x_train, split.y_train), batch_size=100)
    assert torch.equal(tsc.calibration_inputs(loader), split.x_train)
    assert torch.equal(tsc.calibration_inputs(loader, limit=250), split.x_train[:250])
    assert torch.equal(tsc.calibration_inputs(split), split.x_train)
    assert torch.equal(tsc.calibration_inputs((x for x in split.x_train.split(7)), 20),
                       split.x_train[:20])
    from_loader = tsc.quantize(network, loader, 16)
    from_tensor = tsc.quantize(network, split.x_train, 16)
    assert from_loader.network.thresholds == from_tensor.network.thresholds
    with pytest.raises(ValueError, match="the calibration data is empty"):
        tsc.calibration_inputs([])
    with pytest.raises(TypeError, match="calibration batches must hold tensors, not list"):
        tsc.calibration_inputs([[[0.5]]])


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
@pytest.mark.parametrize("arch", ["mlp", "resnet"])
def test_the_flow_runs_inside_no_grad_and_inference_mode(mode, arch):
    torch.manual_seed(0)
    net, shape, data_shape = build(arch)
    net.eval()
    split = tsc.load_data("digits", data_shape)
    outside = tsc.quantize(tsc.convert(net, shape), split.x_train[:200], 16)
    want = outside.run(split.x_test[:50])
    with mode():
        inside = tsc.quantize(tsc.convert(net, shape), split.x_train[:200], 16)
        got = inside.run(split.x_test[:50])
        balanced = tsc.balance(tsc.convert(net, shape), split.x_train[:200], "rmp", 32,
                               input_coding="constant")
        tsc.simulate(balanced, split.x_test[:50], "rmp", 32, input_coding="constant")
    assert inside.network.thresholds == outside.network.thresholds
    _same(want, got)
