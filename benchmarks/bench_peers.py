"""TSC against SpikingJelly's and sinabs's rate conversion of the same trained ANN.

    pip install -e ".[peers]"
    python benchmarks/bench_peers.py [--nets mlp,deep4] [--targets 0.997,0.99] [--plot F.png]

Each network is trained once on digits (seed 0) and converted three ways: ours (the int8
TSC-SNN, thresholds balanced at alpha 0.8), SpikingJelly 2's ``RateCodingRecipe`` (IF
neurons with soft reset, thresholds from the layer maxima) and sinabs's ``from_model`` with
``normalize_weights`` (IAF neurons with soft reset, the layer maxima). The peers take the
analog input at every step, as both do by default. For every N (T) the whole test split is
run and two figures measured side by side in one run: agreement with the ANN's predictions,
and synaptic operations per image counted the same way for all: every input spike or event
times its fan-out, the input layer included (a peer's analog input costs one operation per
non-zero input value and synapse at every step; TSC's input is spikes). At equal fidelity
(the smallest N from which every larger N keeps a target agreement) the ratio peer / TSC is
printed for each of ``--targets``.
"""

import argparse
import copy
import json
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.convert import ann_forward, convert  # noqa: E402
from model.data import load_data  # noqa: E402
from model.quantize import quantize  # noqa: E402
from model.train import train, train_model  # noqa: E402

TSC_STEPS = (4, 8, 16, 32, 64, 128, 256)
RATE_STEPS = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def deep4():
    """64-64-64-64-10: four hidden layers, where rate coding's per-layer losses add up."""
    layers = []
    for _ in range(3):
        layers += [nn.Linear(64, 64, bias=False), nn.ReLU(), nn.Dropout(0.1)]
    return nn.Sequential(*layers, nn.Linear(64, 10, bias=False))


def trained(name):
    if name != "deep4":
        net, split, _ = train(name)
        return net, split
    split = load_data("digits", "flat")
    torch.manual_seed(0)
    net = deep4()
    train_model(net, split, epochs=60)
    return net, split


def _linears(net):
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def _analog_ops(x, first, steps):
    """The input layer's operations with analog input: each non-zero input value times its
    fan-out, at every step."""
    return steps * (x != 0).sum(1).double() * first.out_features


def _counting(modules, count):
    """Forward hooks adding ``count(output)`` (spikes per image) of each module to its
    counter; the hooks return None, so the outputs go on unchanged."""
    counters = [0.0 for _ in modules]

    def hook(index):
        def add(module, inputs, output):
            counters[index] = counters[index] + count(output)
        return add
    return counters, [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]


def _spike_ops(spikes, linears):
    """Each hidden layer's spikes times the fan-out of the layer after it."""
    return sum(count * following.out_features
               for count, following in zip(spikes, linears[1:]))


def run_spikingjelly(net, calibration, x, steps):
    from spikingjelly.activation_based import ann2snn, functional, neuron

    loader = [(calibration, None)]
    snn = ann2snn.Converter(ann2snn.RateCodingRecipe(loader, mode="Max")).convert(
        copy.deepcopy(net).eval())
    nodes = [m for m in snn.modules() if isinstance(m, neuron.IFNode)]
    counts, hooks = _counting(nodes, lambda out: out.abs().flatten(1).sum(1).double())
    functional.reset_net(snn)
    out = 0
    with torch.no_grad():
        for _ in range(steps):
            out = out + snn(x)
    for hook in hooks:
        hook.remove()
    linears = _linears(net)
    return out.argmax(1), _analog_ops(x, linears[0], steps) + _spike_ops(counts, linears), steps


def run_sinabs(net, calibration, x, steps):
    import sinabs.layers as sl
    from sinabs.from_torch import from_model
    from sinabs.utils import normalize_weights

    analog = copy.deepcopy(net).eval()
    names = [name for name, m in analog.named_modules() if isinstance(m, nn.ReLU)]
    params = [name for name, m in analog.named_modules() if isinstance(m, nn.Linear)]
    normalize_weights(analog, calibration, output_layers=names, param_layers=params,
                      percentile=100)
    snn = from_model(analog, input_shape=tuple(x.shape[1:]), num_timesteps=steps,
                     add_spiking_output=False).spiking_model
    layers = [m for m in snn.modules() if isinstance(m, sl.IAFSqueeze)]
    counts, hooks = _counting(
        layers, lambda out: out.reshape(len(x), steps, -1).abs().sum((1, 2)).double())
    with torch.no_grad():
        out = snn(x.unsqueeze(1).expand(-1, steps, *x.shape[1:]).flatten(0, 1))
    for hook in hooks:
        hook.remove()
    linears = _linears(net)
    prediction = out.reshape(len(x), steps, -1).sum(1).argmax(1)
    return prediction, _analog_ops(x, linears[0], steps) + _spike_ops(counts, linears), steps


def run_tsc(net, calibration, x, steps):
    qnet = quantize(convert(net, tuple(x.shape[1:])), calibration, steps)
    result = qnet.run(x)
    return result.prediction, result.counts.synaptic.double(), result.counts.latency


METHODS = {"tsc-int8": (run_tsc, TSC_STEPS), "spikingjelly": (run_spikingjelly, RATE_STEPS),
           "sinabs": (run_sinabs, RATE_STEPS)}


def measure(name, progress=True):
    net, split = trained(name)
    ann = ann_forward(net, split.x_test).argmax(1)
    rows = []
    for method, (run, steps) in METHODS.items():
        for n in steps:
            prediction, ops, latency = run(net, split.x_train, split.x_test, n)
            rows.append({"net": name, "method": method, "steps": n, "latency": latency,
                         "agreement": float((prediction == ann).float().mean()),
                         "synaptic_ops": float(ops.mean())})
            if progress:
                print(f"  {name} {method} N={n}: agreement {100 * rows[-1]['agreement']:.2f}%, "
                      f"{rows[-1]['synaptic_ops']:.0f} synaptic operations", file=sys.stderr,
                      flush=True)
    return rows


def settled(rows, target):
    """The row of the smallest N from which every larger N keeps ``target`` agreement."""
    found = None
    for row in sorted(rows, key=lambda r: -r["steps"]):
        if row["agreement"] < target:
            break
        found = row
    return found


def plot(rows, path, targets):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = list(dict.fromkeys(r["net"] for r in rows))
    fig, axes = plt.subplots(1, len(nets), figsize=(5.5 * len(nets), 4), squeeze=False)
    for ax, name in zip(axes[0], nets):
        for method, marker in zip(METHODS, "osD"):
            mine = sorted((r for r in rows if r["net"] == name and r["method"] == method),
                          key=lambda r: r["synaptic_ops"])
            ax.plot([r["synaptic_ops"] for r in mine], [100 * r["agreement"] for r in mine],
                    marker=marker, ms=4, label=method)
        for target in targets:
            ax.axhline(100 * target, color="k", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("synaptic operations per image (input layer included)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("agreement with the ANN (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nets", default="mlp,deep4", help="mlp, deep, wide, deep4")
    parser.add_argument("--targets", default="0.997,0.99",
                        help="agreements that define equal fidelity (comma-separated)")
    parser.add_argument("--plot", help="write agreement against operations to this PNG")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        import sinabs  # noqa: F401
        import spikingjelly  # noqa: F401
    except ImportError as error:
        sys.exit(f"error: the peers are not installed ({error}); pip install -e \".[peers]\"")
    targets = [float(t) for t in args.targets.split(",")]
    rows = []
    for name in args.nets.split(","):
        rows += measure(name)
    summary = {}
    for target in targets:
        for name in dict.fromkeys(r["net"] for r in rows):
            summary[f"{name} at {100 * target:.1f}%"] = {
                m: settled([r for r in rows if r["net"] == name and r["method"] == m], target)
                for m in METHODS}
    if args.json:
        print(json.dumps({"rows": rows, "equal_fidelity": summary}, indent=1))
    else:
        print(f"{'net':6s} {'method':13s} {'N':>5s} {'latency':>7s} {'agreement':>10s} "
              f"{'synaptic ops':>13s}")
        for r in rows:
            print(f"{r['net']:6s} {r['method']:13s} {r['steps']:5d} {r['latency']:7d} "
                  f"{100 * r['agreement']:9.2f}% {r['synaptic_ops']:13.0f}")
        print("\nequal fidelity: the smallest N from which every larger N keeps the agreement")
        for name, found in summary.items():
            tsc = found["tsc-int8"]
            for method, row in found.items():
                if row is None:
                    print(f"  {name:14s} {method:13s} not reached")
                    continue
                ratio = (f", x{row['synaptic_ops'] / tsc['synaptic_ops']:.1f} TSC's"
                         if tsc and method != "tsc-int8" else "")
                print(f"  {name:14s} {method:13s} N={row['steps']:5d} (latency "
                      f"{row['latency']:4d}): {row['synaptic_ops']:.0f} synaptic operations per "
                      f"image{ratio}")
    if args.plot:
        plot(rows, args.plot, targets)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
