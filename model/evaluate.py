"""Evaluate a converted network: accuracy, fidelity and costs of TSC and the baselines.

``python -m model.evaluate`` trains the default 64-128-10 MLP on digits (or loads
``--checkpoint``), converts it, and for every method, alpha and number of steps N reports
accuracy, agreement with the ANN's predictions, spike rate R (Eq. 8), spikes per neuron,
synaptic and membrane additions, memory reads and latency. It then compares TSC's costs with
each rate baseline at equal fidelity (the smallest N reaching the target agreement).
"""

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass

import torch

from .balance import balance, calibration_inputs
from .cli import output_file, positive_int, steps_type
from .convert import ann_forward, convert
from .data import SEED
from .encoding import INPUT_ROUNDINGS
from .quantize import quantize
from .simulate import simulate
from .train import add_model_arguments, model_and_data

__all__ = ["ROWS", "Row", "DEFAULT_STEPS", "DEFAULT_RATE_STEPS", "DEFAULT_ALPHAS",
           "FULL_STEPS", "FULL_RATE_STEPS", "FULL_ALPHAS", "batches", "evaluate", "efficiency",
           "main"]

# row name -> (simulated method, rate input coding)
ROWS = {
    "tsc": ("tsc", None),
    "tsc-int8": ("tsc", None),
    "tsc-shared": ("tsc-shared", None),
    "ttfs": ("ttfs", None),
    "if-poisson": ("if", "poisson"),
    "if-constant": ("if", "constant"),
    "rmp-poisson": ("rmp", "poisson"),
    "rmp-constant": ("rmp", "constant"),
}
RATE_ROWS = ("if-poisson", "if-constant", "rmp-poisson", "rmp-constant")
# The quick default sweep (one alpha, a few N: about 30 s on 2 cores for the default MLP)
# and the full one of the paper's figures (--full: 192 configurations, about 16 minutes).
DEFAULT_STEPS = (4, 8, 16, 32, 64)
DEFAULT_RATE_STEPS = (16, 64, 256, 1024)
DEFAULT_ALPHAS = (0.8,)
FULL_STEPS = (4, 8, 16, 32, 64, 128, 256)
FULL_RATE_STEPS = FULL_STEPS + (512, 1024)
FULL_ALPHAS = (1.0, 0.8, 0.6)


@dataclass
class Row:
    method: str
    alpha: float
    steps: int
    latency: int
    accuracy: float
    agreement: float
    spike_rate: float  # Eq. 8, percent
    spikes_per_neuron: float
    synaptic_additions: float  # per image
    membrane_additions: float
    memory_reads: float
    saturations: float

    @property
    def additions(self):
        return self.synaptic_additions + self.membrane_additions


class _Totals:
    """Sums over the test batches of one (row, alpha, N)."""

    def __init__(self):
        self.images = self.correct = self.agree = 0
        self.spikes = self.synaptic = self.membrane = self.reads = self.saturations = 0
        self.latency = self.neurons = 0

    def add(self, result, labels, ann_prediction):
        c = result.counts
        total = lambda t: int(t.sum())  # noqa: E731
        self.images += len(labels)
        self.correct += total(result.prediction == labels)
        self.agree += total(result.prediction == ann_prediction)
        self.spikes += total(c.spikes)
        self.synaptic += total(c.synaptic)
        self.membrane += total(c.membrane)
        self.reads += total(c.memory_reads)
        self.saturations += total(c.saturations)
        self.latency, self.neurons = c.latency, c.spiking_neurons

    def row(self, name, alpha, steps):
        n, neurons = self.images, max(self.neurons, 1)
        return Row(name, alpha, steps, self.latency, self.correct / n, self.agree / n,
                   100 * self.spikes / (n * neurons * self.latency), self.spikes / n / neurons,
                   self.synaptic / n, self.membrane / n, self.reads / n, self.saturations / n)


def _runner(network, calibration, name, alpha, steps, statistic, generator, input_rounding):
    """Balance (or quantize) for one row; return the function that simulates a batch."""
    method, coding = ROWS[name]
    if name == "tsc-int8":
        return quantize(network, calibration, steps, alpha=alpha, statistic=statistic,
                        input_rounding=input_rounding).run
    balanced = balance(network, calibration, method, steps, alpha=alpha, statistic=statistic,
                       input_coding=coding, generator=generator, input_rounding=input_rounding)

    def run(x):
        return simulate(balanced, x, method, steps, input_coding=coding, generator=generator,
                        input_rounding=input_rounding)
    return run


def batches(x, labels, ann_prediction, batch_size=256):
    """``(x, labels, ann_prediction)`` in batches, the test set form :func:`evaluate` takes."""
    return [(x[i:i + batch_size], labels[i:i + batch_size], ann_prediction[i:i + batch_size])
            for i in range(0, len(x), batch_size)]


def evaluate(network, calibration, test, *, rows=tuple(ROWS), steps=DEFAULT_STEPS,
             rate_steps=DEFAULT_RATE_STEPS, alphas=DEFAULT_ALPHAS, statistic="max", seed=SEED,
             device="cpu", progress=True, input_rounding="nearest"):
    """Run every (row, alpha, N) over the whole test set; return a list of :class:`Row`.

    ``test`` is a re-iterable of ``(x, labels, ann_prediction)`` batches (see
    :func:`batches`); every batch and the network are moved to ``device``, where thresholds
    are balanced on ``calibration`` (a tensor or batches: :func:`model.balance
    .calibration_inputs`) and the simulation runs. Poisson trains come from a CPU
    generator seeded with ``seed``, so they do not depend on the device. ``input_rounding``
    rounds the TSC and TTFS input codes (:func:`model.encoding.input_codes`).
    """
    network, calibration = network.to(device), calibration_inputs(calibration).to(device)
    results, started = [], time.monotonic()
    plan = [(name, alpha, n) for name in rows for alpha in alphas
            for n in (rate_steps if name in RATE_ROWS else steps)]
    for done, (name, alpha, n) in enumerate(plan, 1):
        run = _runner(network, calibration, name, alpha, n, statistic,
                      torch.Generator().manual_seed(seed), input_rounding)
        totals = _Totals()
        for x, labels, ann_prediction in test:
            totals.add(run(x.to(device)), labels.to(device), ann_prediction.to(device))
        results.append(totals.row(name, alpha, n))
        if progress:
            r = results[-1]
            print(f"[{done}/{len(plan)} {time.monotonic() - started:6.1f}s] {name:13s} "
                  f"alpha={alpha:.1f} N={n:5d}: accuracy {r.accuracy:.4f} agreement "
                  f"{r.agreement:.4f} ({totals.images} images)", file=sys.stderr, flush=True)
    return results


def efficiency(results, target=0.995, alpha=0.8):
    """TSC's costs against each rate baseline at equal fidelity.

    For every row, the smallest N from which the agreement stays at or above ``target`` for
    every larger N measured (a single lucky N does not count); then the ratios baseline / TSC
    of additions and memory reads there. A row that never settles above the target is
    reported with its best agreement and no ratio.
    """
    first = {}
    for name in {r.method for r in results}:
        rows = sorted((r for r in results if r.method == name and r.alpha == alpha),
                      key=lambda r: r.steps)
        settled = None
        for r in reversed(rows):
            if r.agreement < target:
                break
            settled = r
        if settled is not None:
            first[name] = settled
    out = {"target_agreement": target, "alpha": alpha, "first_reaching": {}, "ratios": {}}
    for name in {r.method for r in results}:
        if name in first:
            out["first_reaching"][name] = asdict(first[name])
        else:
            best = max((r for r in results if r.method == name and r.alpha == alpha),
                       key=lambda r: r.agreement, default=None)
            out["first_reaching"][name] = None if best is None else {
                "not_reached": True, "best_agreement": best.agreement, "at_steps": best.steps}
    tsc = first.get("tsc-int8") or first.get("tsc")
    if tsc is not None:
        for name in RATE_ROWS + ("ttfs",):
            if name in first:
                other = first[name]
                out["ratios"][name] = {
                    "additions": other.additions / tsc.additions,
                    "memory_reads": other.memory_reads / tsc.memory_reads,
                    "latency": other.latency / tsc.latency,
                    "tsc": tsc.method, "tsc_steps": tsc.steps, "baseline_steps": other.steps}
    return out


# How each row is drawn: lines that overlap (tsc and tsc-int8, if-* and rmp-*) differ in
# marker and dash, so the one drawn first still shows.
STYLES = {
    "tsc": dict(color="C0", ls="-", marker="o", ms=6, mfc="none"),
    "tsc-int8": dict(color="C1", ls="--", marker="x", ms=5),
    "tsc-shared": dict(color="C2", ls="-", marker="s", ms=4),
    "ttfs": dict(color="C3", ls="-", marker="^", ms=4),
    "if-poisson": dict(color="C4", ls="-", marker="v", ms=6, mfc="none"),
    "if-constant": dict(color="C5", ls="-", marker="D", ms=6, mfc="none"),
    "rmp-poisson": dict(color="C6", ls="--", marker="v", ms=3),
    "rmp-constant": dict(color="C7", ls="--", marker="D", ms=3),
}


def plot(results, path, alpha=0.8, ann_accuracy=None, title=None):
    """Accuracy (spike rate R dotted, right axis) and additions against latency, like the
    paper's Fig. 8, with one legend for both panels below them."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (acc_ax, add_ax) = plt.subplots(1, 2, figsize=(12, 5))
    rate_ax = acc_ax.twinx()
    for name in ROWS:
        rows = sorted((r for r in results if r.method == name and r.alpha == alpha),
                      key=lambda r: r.latency)
        if not rows:
            continue
        lat = [r.latency for r in rows]
        style = STYLES[name]
        acc_ax.plot(lat, [100 * r.accuracy for r in rows], lw=1.2, label=name, **style)
        rate_ax.plot(lat, [r.spike_rate for r in rows], ls=":", lw=0.8, color=style["color"])
        add_ax.plot(lat, [r.additions for r in rows], lw=1.2, label=name, **style)
    if ann_accuracy is not None:
        acc_ax.axhline(100 * ann_accuracy, color="k", ls="-.", lw=1, label="ANN")
    for ax in (acc_ax, add_ax):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("latency (time steps)")
        ax.grid(alpha=0.3)
    acc_ax.set_ylabel("top-1 accuracy (%)")
    acc_ax.set_ylim(bottom=max(0, acc_ax.get_ylim()[0]))
    add_ax.set_yscale("log")
    add_ax.set_ylabel("additions per image (synaptic + membrane)")
    rate_ax.set_ylabel("spike rate R, Eq. 8 (%, dotted)")
    handles, labels = acc_ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 9), fontsize=9,
               frameon=False)
    fig.suptitle(title or f"TSC-SNN vs baselines, alpha = {alpha}")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_table(results):
    head = (f"{'method':13s} {'alpha':>5s} {'N':>5s} {'latency':>7s} {'acc':>7s} {'agree':>7s} "
            f"{'R %':>7s} {'sp/neu':>6s} {'syn add':>10s} {'mem add':>10s} {'mem reads':>10s}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.method:13s} {r.alpha:5.1f} {r.steps:5d} {r.latency:7d} "
                     f"{100 * r.accuracy:6.2f}% {100 * r.agreement:6.2f}% {r.spike_rate:7.3f} "
                     f"{r.spikes_per_neuron:6.2f} {r.synaptic_additions:10.0f} "
                     f"{r.membrane_additions:10.0f} {r.memory_reads:10.0f}")
    return "\n".join(lines)


def format_efficiency(eff):
    target = 100 * eff["target_agreement"]
    lines = [f"Equal fidelity: smallest N from which every larger N keeps {target:.1f}% "
             f"agreement with the ANN (alpha {eff['alpha']})"]
    for name in ROWS:
        entry = eff["first_reaching"].get(name)
        if entry is None:
            continue
        if entry.get("not_reached"):
            lines.append(f"  {name:13s} not reached (best {100 * entry['best_agreement']:.2f}% "
                         f"at N={entry['at_steps']})")
        else:
            additions = entry["synaptic_additions"] + entry["membrane_additions"]
            lines.append(f"  {name:13s} N={entry['steps']:5d} latency {entry['latency']:5d} "
                         f"additions {additions:.0f} memory reads {entry['memory_reads']:.0f}")
    for name, ratio in eff["ratios"].items():
        lines.append(f"  {name} / {ratio['tsc']}: additions x{ratio['additions']:.2f}, memory "
                     f"reads x{ratio['memory_reads']:.2f}, latency x{ratio['latency']:.2f}")
    return "\n".join(lines)


def _listed(values):
    return ",".join(str(v) for v in values)


def _ints(text):
    """Comma-separated numbers of steps (an argparse type), each as :func:`steps_type`."""
    return tuple(steps_type(value) for value in text.split(","))


def _methods(text):
    """A comma-separated list of rows of :data:`ROWS` (an argparse type)."""
    rows = tuple(text.split(","))
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(ROWS)}")
    return rows


def _floats(text):
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, not {text!r}") from None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a checkpoint from python -m model.train "
                        "(default: train --arch or --model on --data now)")
    add_model_arguments(parser, "the data to evaluate on (default: the checkpoint's)")
    parser.add_argument("--input-rounding", choices=INPUT_ROUNDINGS, default="nearest",
                        help="how the TSC and TTFS input codes round |x| (N - 1)")
    parser.add_argument("--methods", type=_methods, default=tuple(ROWS),
                        help=f"comma-separated rows (default: all of {', '.join(ROWS)})")
    parser.add_argument("--full", action="store_true",
                        help="the full sweep of the paper's figures: alphas 1.0, 0.8, 0.6, N "
                        "4..256 and 4..1024 for the rate baselines (192 configurations, about "
                        "16 minutes on 2 cores for the default MLP; the default sweep takes "
                        "about 30 s)")
    parser.add_argument("--steps", type=_ints, default=None,
                        help=f"N for the temporal methods (default {_listed(DEFAULT_STEPS)}; "
                        f"--full: {_listed(FULL_STEPS)})")
    parser.add_argument("--rate-steps", type=_ints, default=None,
                        help=f"N for the rate baselines (default {_listed(DEFAULT_RATE_STEPS)}; "
                        f"--full: {_listed(FULL_RATE_STEPS)})")
    parser.add_argument("--alphas", type=_floats, default=None,
                        help=f"threshold factors (default {_listed(DEFAULT_ALPHAS)}; --full: "
                        f"{_listed(FULL_ALPHAS)})")
    parser.add_argument("--statistic", choices=("max", "percentile"), default="max")
    parser.add_argument("--target", type=float, default=0.995,
                        help="agreement that defines equal fidelity (default 0.995)")
    parser.add_argument("--test-limit", type=positive_int, default=None,
                        help="use only the first N test images")
    parser.add_argument("--plot", type=output_file,
                        help="write accuracy/additions vs latency to this PNG")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    rows = args.methods
    full = args.full
    steps = args.steps or (FULL_STEPS if full else DEFAULT_STEPS)
    rate_steps = args.rate_steps or (FULL_RATE_STEPS if full else DEFAULT_RATE_STEPS)
    alphas = args.alphas or (FULL_ALPHAS if full else DEFAULT_ALPHAS)
    arch, model, data, split = model_and_data(args, args.checkpoint)
    input_shape = split.input_shape
    x, y = split.x_test, split.y_test
    if args.test_limit:
        x, y = x[:args.test_limit], y[:args.test_limit]
    ann_prediction = ann_forward(model, x).argmax(1)
    ann_accuracy = float((ann_prediction == y).float().mean())
    try:
        network = convert(model, input_shape)
    except ValueError as error:
        sys.exit(f"error: {error}")
    results = evaluate(network, split.x_train, batches(x, y, ann_prediction), rows=rows,
                       steps=steps, rate_steps=rate_steps, alphas=alphas,
                       statistic=args.statistic, input_rounding=args.input_rounding)
    alpha = 0.8 if 0.8 in alphas else alphas[0]
    eff = efficiency(results, args.target, alpha)
    if args.plot:
        plot(results, args.plot, alpha, ann_accuracy)
    if args.json:
        print(json.dumps({"arch": arch, "data": data, "ann_accuracy": ann_accuracy,
                          "test_images": len(x), "input_rounding": args.input_rounding,
                          "results": [asdict(r) for r in results], "efficiency": eff}, indent=1))
    else:
        print(f"{arch} on {data}: ANN test accuracy {100 * ann_accuracy:.2f}% on {len(x)} "
              f"images")
        print(format_table(results))
        print()
        print(format_efficiency(eff))
        if args.plot:
            print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
