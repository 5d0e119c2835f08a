"""Input codes rounded down (the paper's floor) against rounded to nearest, side by side.

    python benchmarks/bench_input_rounding.py [--data digits,wine,breast-cancer,mnist]
        [--steps 4,8,16,32] [--plot rounding.png]

For each data set the default MLP is trained (the built-in architecture adapts to the data)
and, at each N, two agreements with the ANN's own predictions are measured for both
roundings: the ANN fed its inputs as the codes stand for them (``c / (N - 1)``: the coding
error alone) and the int8 TSC-SNN (thresholds balanced with that rounding: the whole flow).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.convert import ann_forward, convert  # noqa: E402
from model.encoding import INPUT_ROUNDINGS, input_codes  # noqa: E402
from model.quantize import quantize  # noqa: E402
from model.train import train  # noqa: E402


def measure(data, steps, progress=True):
    model, split, accuracy = train("mlp", data=data)
    ann = ann_forward(model, split.x_test).argmax(1)
    network = convert(model, split.input_shape)
    rows = []
    for n in steps:
        row = {"data": data, "steps": n, "ann_accuracy": accuracy}
        for rounding in INPUT_ROUNDINGS:
            coded = input_codes(split.x_test, n, rounding).float() / (n - 1)
            row[f"ann_{rounding}"] = float((ann_forward(model, coded).argmax(1) == ann)
                                           .float().mean())
            qnet = quantize(network, split.x_train, n, input_rounding=rounding)
            row[f"int8_{rounding}"] = float((qnet.run(split.x_test).prediction == ann)
                                            .float().mean())
        rows.append(row)
        if progress:
            print(f"  {data} N={n}: done", file=sys.stderr, flush=True)
    return rows, len(split.x_test)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = list(dict.fromkeys(r["data"] for r in rows))
    fig, axes = plt.subplots(1, len(sets), figsize=(3.6 * len(sets), 3.4), squeeze=False)
    for ax, name in zip(axes[0], sets):
        mine = [r for r in rows if r["data"] == name]
        steps = [r["steps"] for r in mine]
        for key, style in (("int8_nearest", "-o"), ("int8_floor", "--o"),
                           ("ann_nearest", "-x"), ("ann_floor", "--x")):
            ax.plot(steps, [100 * r[key] for r in mine], style, ms=4, label=key)
        ax.set_xscale("log", base=2)
        ax.set_title(name)
        ax.set_xlabel("N")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("agreement with the ANN (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="digits,wine,breast-cancer,mnist")
    parser.add_argument("--steps", default="4,8,16,32")
    parser.add_argument("--plot", help="write the agreements against N to this PNG")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    steps = [int(n) for n in args.steps.split(",")]
    rows, sizes = [], {}
    for data in args.data.split(","):
        measured, sizes[data] = measure(data, steps)
        rows += measured
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"{'data':14s} {'N':>3s}  {'ANN on codes: floor / nearest':>30s}  "
              f"{'int8 TSC: floor / nearest':>27s}")
        for r in rows:
            print(f"{r['data']:14s} {r['steps']:3d}  {100 * r['ann_floor']:13.2f}% / "
                  f"{100 * r['ann_nearest']:6.2f}%        {100 * r['int8_floor']:9.2f}% / "
                  f"{100 * r['int8_nearest']:6.2f}%")
        print("agreement with the ANN's predictions on the test split "
              f"({', '.join(f'{k}: {v}' for k, v in sizes.items())} images)")
    if args.plot:
        plot(rows, args.plot)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
