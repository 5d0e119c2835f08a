"""The golden model on a GPU beside the CPU, in one run: equal results, and the speed ratio.

    python benchmarks/bench_device.py --device cuda [--tile 8] [--json FILE]

For each digits network (trained here on the CPU, so both devices get the same weights):
balance thresholds and simulate the test set (repeated ``--tile`` times, for a batch worth
timing) with every float method, on the CPU and on ``--device`` (with TF32 allowed, PyTorch's
default for cuDNN convolutions, and with it off), and quantize + run the integer model on
both. It prints, per method, how far the thresholds and outputs differ, how many predictions
and spike trains are identical, and images/s on each device. The integer model must be
bit-exact across devices; it exits 1 if it is not.
"""

import argparse
import json
import sys
import time

import torch

from model.balance import balance
from model.convert import convert
from model.data import load_digits
from model.quantize import quantize
from model.simulate import simulate
from model.train import train

METHODS = [("tsc", None), ("tsc-shared", None), ("ttfs", None), ("rmp", "constant"),
           ("if", "poisson")]
SHAPES = {"mlp": "flat", "cnn": "image", "resnet": "image"}


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _run_float(network, calibration, x, method, coding, steps, device):
    network, calibration, x = network.to(device), calibration.to(device), x.to(device)
    generator = torch.Generator(device=device).manual_seed(0)
    balanced = balance(network, calibration, method, steps, input_coding=coding,
                       generator=generator)
    _sync(device)
    started = time.perf_counter()
    result = simulate(balanced, x, method, steps, input_coding=coding, record=True,
                      generator=torch.Generator(device=device).manual_seed(1))
    _sync(device)
    seconds = time.perf_counter() - started
    return {"thresholds": torch.tensor([float(t) for t in balanced.thresholds]),
            "output": result.output.float().cpu(),
            "spikes": [s.cpu() for s in result.spikes], "seconds": seconds}


def _run_integer(network, calibration, x, steps, device):
    network, calibration, x = network.to(device), calibration.to(device), x.to(device)
    qnet = quantize(network, calibration, steps)
    _sync(device)
    started = time.perf_counter()
    result = qnet.run(x, record=True)
    _sync(device)
    return {"thresholds": torch.tensor([int(t) for t in qnet.network.thresholds]),
            "output": result.output.cpu(), "spikes": [s.cpu() for s in result.spikes],
            "seconds": time.perf_counter() - started}


def _compare(cpu, other, images):
    same_trains = sum(int((a == b).flatten(1).all(1).sum()) for a, b in
                      zip(cpu["spikes"], other["spikes"]))
    trains = sum(a.shape[0] for a in cpu["spikes"])
    return {
        "threshold_rel_diff": float(((cpu["thresholds"] - other["thresholds"]).abs() /
                                     cpu["thresholds"].abs().clamp(min=1e-12)).max()),
        "output_max_diff": float((cpu["output"] - other["output"]).abs().max()),
        "same_predictions": int((cpu["output"].argmax(1) == other["output"].argmax(1)).sum()),
        "images": images,
        "same_spike_trains_per_layer_image": f"{same_trains}/{trains}",
        "cpu_images_per_s": images / cpu["seconds"],
        "device_images_per_s": images / other["seconds"],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--archs", default="mlp,cnn,resnet")
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--tile", type=int, default=1, help="repeat the test set this often")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    if torch.device(args.device).type == "cuda":
        print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}", flush=True)
    rows, exact = [], True
    for arch in args.archs.split(","):
        model, _, _ = train(arch)
        split = load_digits(SHAPES[arch])
        network = convert(model, tuple(split.x_train.shape[1:]))
        calibration = split.x_train
        x = split.x_test.repeat(args.tile, *[1] * (split.x_test.dim() - 1))
        for method, coding in METHODS:
            cpu = _run_float(network, calibration, x, method, coding, args.steps, "cpu")
            for tf32 in (True, False):
                torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
                other = _run_float(network, calibration, x, method, coding, args.steps,
                                   args.device)
                row = {"arch": arch, "method": method + (f"-{coding}" if coding else ""),
                       "tf32": tf32, **_compare(cpu, other, len(x))}
                rows.append(row)
                print(json.dumps(row), flush=True)
        torch.backends.cudnn.allow_tf32 = True
        cpu = _run_integer(network, calibration, x, args.steps, "cpu")
        other = _run_integer(network, calibration, x, args.steps, args.device)
        row = {"arch": arch, "method": "tsc-int8", "tf32": None, **_compare(cpu, other, len(x))}
        bit_exact = (torch.equal(cpu["thresholds"], other["thresholds"]) and
                     torch.equal(cpu["output"], other["output"]) and
                     all(torch.equal(a, b) for a, b in zip(cpu["spikes"], other["spikes"])))
        row["bit_exact"] = bit_exact
        exact &= bit_exact
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if not exact:
        sys.exit("the integer model differs between the CPU and the device")


if __name__ == "__main__":
    main()
