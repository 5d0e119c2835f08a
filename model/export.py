"""Write the network file of a trained network: ``python -m model.export``.

Converts the checkpoint (or a network trained now), quantizes it to int8 with integer
thresholds balanced on the training split of its data (the checkpoint's, or ``--data``),
checks the integer model against the ANN on the test split, and writes the versioned,
checksummed network file that ``rtl.build`` and the host tool load, with the data's input
range (raw -> [-1, 1]) and the input codes' rounding.
"""

import argparse
import json
import sys

from .cli import output_file, positive_float, steps_type
from .convert import ann_forward, convert
from .encoding import INPUT_ROUNDINGS
from .fixedpoint import FixedPointFormat
from .netfile import read_network, write_network
from .quantize import quantize
from .simulate import ROUNDINGS
from .train import add_model_arguments, model_and_data


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", help="a checkpoint from python -m model.train "
                        "(default: train --arch or --model on --data now)")
    add_model_arguments(parser, "the data to balance and check on (default: the checkpoint's)")
    parser.add_argument("-o", "--out", type=output_file, default="network.tscn",
                        help="network file to write")
    parser.add_argument("--steps", type=steps_type, default=16,
                        help="time steps per window N")
    parser.add_argument("--alpha", type=positive_float, default=0.8)
    parser.add_argument("--statistic", choices=("max", "percentile"), default="max")
    parser.add_argument("--rounding", choices=ROUNDINGS, default="nearest",
                        help="the TSC block's rounding of V / threshold in the hidden layers")
    parser.add_argument("--input-rounding", choices=INPUT_ROUNDINGS, default="nearest",
                        help="how the input codes round |x| (N - 1)")
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

    arch, model, data, split = model_and_data(args, args.checkpoint)
    try:
        network = convert(model, split.input_shape)
        qnet = quantize(network, split.x_train, args.steps, alpha=args.alpha,
                        statistic=args.statistic, fmt=fmt, rounding=args.rounding,
                        metadata={"arch": arch, "data": data}, progress=True,
                        input_scale=split.input_scale, input_offset=split.input_offset,
                        input_rounding=args.input_rounding)
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
        "format": fmt.to_dict(), "rounding": args.rounding, "data": data,
        "input_rounding": args.input_rounding, "clipped_test_inputs": split.clipped,
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
        if split.clipped:
            print(f"{split.clipped} test input value(s) fell outside the input range fitted "
                  f"on the training split and were clipped to [-1, 1]")


if __name__ == "__main__":
    main()
