"""Load a network into a board and classify images: ``python -m fpga.run``.

    python -m fpga.run --port /dev/ttyUSB1 --network network.tscn --images 100 [--check]

Loads the network file over the serial link, classifies the first ``--images`` test inputs
of ``--data`` (by default the data the network was exported with, else digits), and prints
accuracy, agreement with the integer golden model and images/s: CLASSIFY frames of a few
images each, two in flight, so that the link never waits for a reply. Raw inputs are mapped to
[-1, 1] with the network file's input range and coded with its rounding, exactly as the
model does; values outside the range are clipped and counted. With ``--check`` each image
is a RUN whose potentials and counters are compared with the golden model, and any
difference is reported (exit status 1).
"""

import argparse
import json
import sys
import time

from model.cli import positive_float, positive_int
from model.data import load_for_network
from model.netfile import NetworkFileError, read_network
from rtl.config import NetworkMismatch
from rtl.golden import expected

from .host import Device
from rtl.protocol import ProtocolError

GOLDEN_COUNTERS = ("synaptic", "membrane", "weight_reads", "saturations")


def _bar(done, total, label, started):
    width = 30
    filled = int(width * done / max(total, 1))
    rate = done / max(time.monotonic() - started, 1e-9)
    print(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} "
          f"({rate:.1f}/s)", end="" if done < total else "\n", file=sys.stderr, flush=True)


def classify(device, qnet, images, labels, check=False, load=True, progress=True):
    """Load (optionally) and classify; return a summary dict."""
    if load:
        started = time.monotonic()
        device.load(qnet, (lambda d, t: _bar(d, t, "load ", started)) if progress else None)
    else:
        device.config_for(qnet)
        device.require_weights()
    mapped = qnet.map_inputs(images)
    want = expected(qnet, mapped.x)  # with the input codes in the accelerator's order
    correct = agree = mismatches = 0
    problems = []
    bar = (lambda done, total: _bar(done, total, "run  ", started)) if progress else None
    started = time.monotonic()
    if check:
        classes = []
        for number, w in enumerate(want):
            result = device.run(w.codes)
            classes.append(result.class_index)
            diffs = []
            if result.potentials != w.potentials:
                diffs.append(f"potentials {result.potentials} != {w.potentials}")
            for name in GOLDEN_COUNTERS + tuple(k for k in w.counters if k.startswith("spikes")):
                if result.counters[name] != w.counters[name]:
                    diffs.append(f"{name} {result.counters[name]} != {w.counters[name]}")
            if diffs:
                mismatches += 1
                problems.append(f"image {number}: " + "; ".join(diffs))
            if bar:
                bar(number + 1, len(want))
    else:
        classes = device.classify([w.codes for w in want], bar)
    for class_index, w, label in zip(classes, want, labels):
        correct += class_index == int(label)
        agree += class_index == w.class_index
    seconds = time.monotonic() - started
    return {"images": len(want), "accuracy": correct / len(want), "agreement": agree / len(want),
            "images_per_s": len(want) / seconds, "checked": check, "mismatches": mismatches,
            "problems": problems[:20], "clipped_inputs": mapped.clipped,
            "clipped_images": int((mapped.outside > 0).sum())}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fpga.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", required=True, help="serial port, e.g. /dev/ttyUSB1")
    parser.add_argument("--network", required=True, help="network file")
    parser.add_argument("--images", type=positive_int, default=100,
                        help="test inputs to run")
    parser.add_argument("--data", default=None, metavar="SET",
                        help="digits, wine, breast-cancer, mnist, mnist:FOLDER or FILE.npz "
                        "(default: the data in the network file's metadata, else digits)")
    parser.add_argument("--baud", type=positive_int, default=1_000_000)
    parser.add_argument("--timeout", type=positive_float, default=2.0,
                        help="seconds per reply")
    parser.add_argument("--check", action="store_true",
                        help="compare every potential and counter with the golden model")
    parser.add_argument("--no-load", action="store_true", help="use the network already loaded")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import serial

    try:
        qnet = read_network(args.network)
        split = load_for_network(qnet, args.data, f"the network in {args.network}")
        with serial.Serial(args.port, args.baud, timeout=0.05) as port:
            summary = classify(Device(port, args.timeout), qnet, split.raw_test[:args.images],
                               split.y_test[:args.images], args.check, not args.no_load)
    except (OSError, NetworkFileError, NetworkMismatch, ProtocolError, ValueError) as error:
        sys.exit(f"error: {error}")
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['images']} images: accuracy {100 * summary['accuracy']:.2f}%, agreement "
              f"with the golden model {100 * summary['agreement']:.2f}%, "
              f"{summary['images_per_s']:.1f} images/s")
        if summary["clipped_inputs"]:
            print(f"{summary['clipped_inputs']} input value(s) in {summary['clipped_images']} "
                  f"image(s) fell outside the network's input range and were clipped to "
                  f"[-1, 1]")
        if args.check:
            print(f"checked every potential and counter: {summary['mismatches']} image(s) differ")
            for line in summary["problems"]:
                print("  " + line)
    if summary["mismatches"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
