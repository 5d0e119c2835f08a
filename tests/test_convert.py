import pytest
import torch
from torch import nn

from model.balance import balance
from model.convert import ConversionError, ann_forward, convert
from model.simulate import simulate


def _agreement(model, net, x, method, steps, calibration):
    balanced = balance(net, calibration, method, steps)
    result = simulate(balanced, x, method, steps)
    return float((result.prediction == ann_forward(model, x).argmax(1)).float().mean())


def test_mlp_converts_faithfully(trained_mlp):
    model, split, net, _ = trained_mlp
    assert [layer.out_shape for layer in net.layers] == [(128,), (10,)]
    assert _agreement(model, net, split.x_test, "tsc", 32, split.x_train) >= 0.99


def test_cnn_converts_faithfully(trained_cnn):
    model, split, net, _ = trained_cnn
    assert [layer.out_shape for layer in net.layers] == [(16, 8, 8), (32, 4, 4), (10,)]
    # the pooling after each ReLU belongs to the next layer's synaptic operator
    assert [type(op).__name__ for op in net.layers[2].ops] == ["AvgPool", "Flatten", "Linear"]
    x = split.x_test[:120]
    assert _agreement(model, net, x, "tsc", 32, split.x_train[:400]) >= 0.98


def test_windowed_schedule_beats_shared_at_large_n(trained_mlp):
    model, split, net, _ = trained_mlp
    x = split.x_test[:200]
    windowed = _agreement(model, net, x, "tsc", 128, split.x_train)
    shared = _agreement(model, net, x, "tsc-shared", 128, split.x_train)
    assert windowed >= 0.99 and shared < windowed


@pytest.mark.parametrize("model, message", [
    (nn.Sequential(nn.Linear(4, 3)), r"0 \(Linear\) has a bias"),
    (nn.Sequential(nn.Linear(4, 3, bias=False), nn.Sigmoid(), nn.Linear(3, 2, bias=False)),
     r"1 \(Sigmoid\) cannot be converted"),
    (nn.Sequential(nn.Conv2d(1, 2, 3, bias=False), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                   nn.Linear(2, 2, bias=False)), r"2 \(MaxPool2d\) cannot be converted"),
    (nn.Sequential(nn.Linear(4, 3, bias=False), nn.Linear(3, 2, bias=False)),
     r"has 2 weighted layers \(0, 1\)"),
    (nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU()), r"after the last ReLU has 0"),
    (nn.Sequential(nn.Linear(5, 3, bias=False)), r"0: expects 5 inputs, gets shape \(4,\)"),
    (nn.Linear(4, 3, bias=False), r"must be an nn.Sequential or a module .* not a bare Linear"),
])
def test_unsupported_models_are_refused_with_the_layer_named(model, message):
    with pytest.raises(ConversionError, match=message):
        convert(model, (4,) if not isinstance(model[0] if isinstance(model, nn.Sequential)
                                               else model, nn.Conv2d) else (1, 3, 3))


def test_dropout_is_identity_and_nested_sequentials_flatten():
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU()),
                          nn.Dropout(0.5), nn.Linear(3, 2, bias=False))
    net = convert(model, (4,))
    assert [layer.name for layer in net.layers] == ["0.0", "2"]


def test_unbalanced_network_is_refused():
    net = convert(nn.Sequential(nn.Linear(4, 3, bias=False), nn.ReLU(),
                                nn.Linear(3, 2, bias=False)), (4,))
    with pytest.raises(ValueError, match="thresholds are not set; balance it first"):
        simulate(net, torch.zeros(1, 4), "tsc", 8)


def test_percentile_threshold_is_below_max(trained_mlp):
    _, split, net, _ = trained_mlp
    peak = balance(net, split.x_train, "tsc", 16, alpha=1.0).thresholds[0]
    p999 = balance(net, split.x_train, "tsc", 16, alpha=1.0, statistic="percentile").thresholds[0]
    assert 0 < p999 < peak


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_the_flow_runs_inside_no_grad_and_inference_mode(mode, trained_cnn):
    # the first thing a PyTorch user writes; the counts need each layer's fan-out, which the
    # network takes from autograd
    from model.quantize import quantize
    model, split, net, _ = trained_cnn
    x = split.x_test[:8]
    want = simulate(balance(net, split.x_train[:100], "tsc", 8), x, "tsc", 8)
    want_int = quantize(net, split.x_train[:100], 8).run(x)
    with mode():
        got = simulate(balance(net, split.x_train[:100], "tsc", 8), x, "tsc", 8)
        got_int = quantize(net, split.x_train[:100], 8).run(x)
    assert torch.equal(got.prediction, want.prediction)
    assert torch.equal(got.counts.synaptic, want.counts.synaptic)
    assert torch.equal(got_int.counts.synaptic, want_int.counts.synaptic)
    assert torch.equal(got_int.output, want_int.output)


def _one_hidden(weights):
    """A converted 1-input network: one hidden neuron per weight, then one output."""
    model = nn.Sequential(nn.Linear(1, len(weights), bias=False), nn.ReLU(),
                          nn.Linear(len(weights), 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor(weights, dtype=torch.float32)[:, None])
        model[2].weight.fill_(1.0)
    return convert(model, (1,))


@pytest.mark.parametrize("alpha, statistic_value, threshold", [
    (0.5, 7, 4),    # 3.5 rounds half up
    (0.8, 7, 6),    # 5.6 rounds to nearest
    (0.7, 7, 5),    # 4.9
    (0.1, 2, 1),    # never below 1
])
def test_integer_thresholds_are_alpha_times_the_max_rounded_half_up(alpha, statistic_value,
                                                                      threshold):
    from model.fixedpoint import FixedPointFormat
    # integer weights; one input at 1: the hidden layer's largest input sum is its largest
    # weight
    integer = _one_hidden([statistic_value, 1])
    net = balance(integer, torch.ones(3, 1), "tsc", 8, alpha=alpha, fmt=FixedPointFormat())
    assert net.thresholds == [threshold]


def test_percentile_threshold_is_the_99_9th_percentile():
    # 1000 hidden neurons with weights 1..1000 see currents 1..1000 from an input at 1
    net = balance(_one_hidden([float(w) for w in range(1, 1001)]), torch.ones(1, 1), "tsc",
                  4, alpha=1.0, statistic="percentile")
    assert net.thresholds[0] == pytest.approx(999.0, abs=1.0)


def test_weights_quantize_to_the_nearest_integer():
    from model.quantize import quantize_weights
    # scale = 2.54 / 127 = 0.02: 0.029 -> 1.45 -> 1, 0.031 -> 1.55 -> 2, -0.071 -> -3.55 -> -4
    network = _one_hidden([2.54, 0.029, 0.031, -0.071])
    integer, scales = quantize_weights(network)
    assert scales[0] == pytest.approx(0.02)
    assert integer.layers[0].weight.flatten().tolist() == [127, 1, 2, -4]


@pytest.mark.parametrize("op, shape, message", [
    ("linear", (5,), r"a linear op with weight \[3, 4\] takes \(4,\), not \(5,\)"),
    ("linear", (1, 2, 2), r"takes \(4,\), not \(1, 2, 2\)"),
    ("conv", (3, 6, 6), r"a convolution with weight \[2, 1, 3, 3\] takes \(1, H, W\)"),
    ("conv", (1, 2, 2), r"a 3x3 convolution \(padding 0\) does not fit a 2x2 input"),
    ("pool", (2, 1, 4), r"average pooling by 2 needs a \(C, H, W\) input of at least 2x2"),
    ("pool", (8,), r"average pooling by 2 needs a \(C, H, W\) input"),
    ("gain", (3,), r"a gain is one number, not a weight of shape \[2\]"),
])
def test_ops_refuse_a_shape_they_cannot_take(op, shape, message):
    from model.network import AvgPool, Conv2d, Gain, Linear
    made = {"linear": lambda: Linear(torch.zeros(3, 4)),
            "conv": lambda: Conv2d(torch.zeros(2, 1, 3, 3)),
            "pool": lambda: AvgPool(2), "gain": lambda: Gain(torch.zeros(2))}[op]()
    with pytest.raises(ValueError, match=message):
        made.out_shape(shape)


def test_ops_give_the_shapes_they_compute():
    from model.network import AvgPool, Conv2d, Flatten, Gain, Linear
    assert Linear(torch.zeros(3, 4)).out_shape((4,)) == (3,)
    assert Conv2d(torch.zeros(2, 1, 3, 3), stride=2, padding=1).out_shape((1, 7, 5)) == \
        (2, 4, 3)
    assert AvgPool(2).out_shape((3, 5, 4)) == (3, 2, 2)
    assert Flatten().out_shape((3, 2, 2)) == (12,)
    assert Gain(torch.ones(1)).out_shape((3, 2, 2)) == (3, 2, 2)
