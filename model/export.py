"""Write the network file of a trained network: ``python -m model.export``.

Converts the checkpoint (or a freshly trained default MLP), quantizes it to int8 with
integer thresholds balanced on the digits training split, checks the integer model against
the ANN on the test split, and writes the versioned, checksummed network file that
``rtl.build`` and the host tool load.
"""

import argparse
import json
import sys

from .cli import output_file, positive_float, steps_type
from .convert import ann_forward, convert
from .data import load_digits
from .fixedpoint import FixedPointFormat
from .netfile import read_network, write_network
from .networks import ARCHITECTURES, build
from .quantize import quantize
from .simulate import ROUNDINGS
from .train import load_checkpoint, train


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a checkpoint from python -m model.train")
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="mlp",
                        help="architecture to train when no checkpoint is given")
    parser.add_argument("-o", "--out", type=output_file, default="network.tscn",
                        help="network file to write")
    parser.add_argument("--steps", type=steps_type, default=16,
                        help="time steps per window N")
    parser.add_argument("--alpha", type=positive_float, default=0.8)
    parser.add_argument("--statistic", choices=("max", "percentile"), default="max")
    parser.add_argument("--rounding", choices=ROUNDINGS, default="nearest")
    parser.add_argument("--dvdt-bits", type=int, default=16)
    parser.add_argument("--v-bits", type=int, default=24)
    parser.add_argument("--allow-saturation", action="store_true",
                        help="write the file even if the accumulators clip on the test split")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        fmt = FixedPointFormat(8, args.dvdt_bits, args.v_bits)
    except ValueError as error:
        parser.error(str(error))

    if args.checkpoint:
        try:
            arch, model, _ = load_checkpoint(args.checkpoint)
        except ValueError as error:
            sys.exit(f"error: {error}")
    else:
        arch = args.arch
        print(f"training {arch} on digits (no --checkpoint given)", file=sys.stderr)
        model, _, _ = train(arch, progress=True)
    _, input_shape, data_shape = build(arch)
    split = load_digits(data_shape)
    network = convert(model, input_shape)
    try:
        qnet = quantize(network, split.x_train, args.steps, alpha=args.alpha,
                        statistic=args.statistic, fmt=fmt, rounding=args.rounding,
                        metadata={"arch": arch}, progress=True)
    except ValueError as error:
        sys.exit(f"error: {error}")
    result = qnet.run(split.x_test)
    ann = ann_forward(model, split.x_test).argmax(1)
    saturations = int(result.counts.saturations.sum())
    if saturations and not args.allow_saturation:
        dvdt_bits, v_bits = qnet.saturation_free_widths()
        sys.exit(f"error: the accumulators clip {saturations} times on the "
                 f"{len(split.x_test)} test images with {args.dvdt_bits}-bit dV/dt and "
                 f"{args.v_bits}-bit V; --dvdt-bits {max(dvdt_bits, args.dvdt_bits)} "
                 f"--v-bits {max(v_bits, args.v_bits)} make clipping impossible (or pass "
                 f"--allow-saturation to write the network anyway); nothing written")
    try:
        size = write_network(args.out, qnet)
    except OSError as error:
        sys.exit(f"error: {args.out}: cannot write the network file ({error.strerror})")
    read_network(args.out)  # what was written must load
    summary = {
        "network": str(args.out), "bytes": size, "arch": arch, "steps": args.steps,
        "thresholds": [int(t) for t in qnet.network.thresholds],
        "format": fmt.to_dict(), "rounding": args.rounding,
        "accuracy": float((result.prediction == split.y_test).float().mean()),
        "agreement": float((result.prediction == ann).float().mean()),
        "saturations": saturations,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"wrote {args.out} ({size} bytes): {arch}, N={args.steps}, thresholds "
              f"{summary['thresholds']}; int8 accuracy {100 * summary['accuracy']:.2f}%, "
              f"agreement with the ANN {100 * summary['agreement']:.2f}%, "
              f"{summary['saturations']} saturations on {len(split.x_test)} test images")


if __name__ == "__main__":
    main()
