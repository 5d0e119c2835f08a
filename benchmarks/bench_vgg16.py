"""VGG-16 (CIFAR shape, random weights) converted and simulated as a TSC-SNN on the CPU:
images per second and peak memory.

    python benchmarks/bench_vgg16.py [--batch 8] [--steps 16]
"""

import argparse
import resource
import time

import torch

from model.balance import balance
from model.convert import convert
from model.simulate import simulate
from model.zoo import vgg16


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32) * 2 - 1
    started = time.perf_counter()
    net = balance(convert(vgg16(), (3, 32, 32)), x, "tsc", args.steps, batch_size=args.batch)
    converted = time.perf_counter()
    result = simulate(net, x, "tsc", args.steps)
    simulated = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"VGG-16, batch {args.batch}, N={args.steps} (latency {result.counts.latency} steps), "
          f"{torch.get_num_threads()} threads")
    print(f"  convert + balance: {converted - started:6.1f} s")
    print(f"  simulate:          {simulated - converted:6.1f} s = "
          f"{args.batch / (simulated - converted):.2f} images/s")
    print(f"  peak memory:       {peak:6.2f} GiB")


if __name__ == "__main__":
    main()
