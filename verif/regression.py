"""Random regression: the generated accelerator against the golden model on random networks.

    python -m verif.regression [--inferences 10000] [--per-build 500] [--seed 0]
                               [--simulator verilator] [--jobs 2] [--build N]

Each build draws an accelerator: a network kind (fully connected, convolutional or
residual) and its random structure, N from 2 to 16, a fixed-point format (dV/dt from just
above a block length's bits to 16 bits, V from 5 to 24 bits, so that narrow accumulators
saturate and V may be narrower than dV/dt), floor or nearest rounding, 1 to 8 lanes,
weights in block RAM or SPRAM, and backpressure on the output streams or none. It then
draws two to four networks of that geometry (random weights of a random range, random
thresholds), each loaded through the load port after the one before has run (the first
one of a block-RAM build is the one in the bitstream), and runs its share of the build's
inferences; half the builds have the networks' own accumulator widths, half the narrowest
that run all of them exactly (:func:`rtl.config.exact_format`, as ``rtl.build`` does:
narrower wherever the networks cannot saturate them). Inputs: uniform random inputs, one
in eight an image of -1, 0 and 1 only. Every spike,
output potential, class and counter is compared with the integer golden model.

A failing build is named with the command that repeats it; the exit status is then 1. The
simulators' output goes to ``run.log`` in each build's folder under ``build/verif``.
``verif/test_regression.py`` runs a 1,000-inference slice in the test suite.
"""

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import torch

from model.fixedpoint import FixedPointFormat
from rtl.config import AcceleratorConfig, exact_format
from rtl.golden import convolutional_model, dense_model, picker, randomized, residual_model

__all__ = ["Build", "draw_build", "run_build"]

KINDS = ("dense", "convolutional", "residual")


@dataclass
class Build:
    """One drawn accelerator and the networks and inputs it runs."""

    seed: int
    number: int
    kind: str
    networks: list       # (IntegerNetwork, inputs) of one geometry, in the order they run
    lanes: int
    weight_memory: str
    backpressure: float
    fmt: FixedPointFormat  # the accelerator's accumulator widths

    @property
    def inferences(self):
        return sum(len(x) for _, x in self.networks)

    def describe(self):
        qnet = self.networks[0][0]
        fmt, own = self.fmt, qnet.fmt
        narrowed = "" if fmt == own else \
            f" (the networks' {own.dvdt_bits} / {own.v_bits}, proven unsaturated)"
        sizes = "-".join(str(layer.out_size) for layer in qnet.network.layers)
        return (f"{self.kind} {qnet.network.input_shape} -> {sizes}, N={qnet.steps}, "
                f"dV/dt {fmt.dvdt_bits} / V {fmt.v_bits} bits{narrowed}, {qnet.rounding}, "
                f"{self.lanes} lane{'s' if self.lanes > 1 else ''}, {self.weight_memory}, "
                f"backpressure {self.backpressure}, {len(self.networks)} networks")


_MODELS = {"dense": dense_model, "convolutional": convolutional_model,
           "residual": residual_model}


def _inputs(gen, count, shape):
    """Uniform random inputs in [-1, 1]; one image in eight of -1, 0 and 1 only."""
    x = torch.rand(count, *shape, generator=gen) * 2 - 1
    edges = torch.randint(-1, 2, (count, *shape), generator=gen).to(x.dtype)
    chosen = torch.rand(count, generator=gen) < 0.125
    x[chosen] = edges[chosen]
    return x


def draw_build(seed, number, inferences):
    """Build ``number`` of the regression of ``seed``, with ``inferences`` inferences."""
    gen = torch.Generator().manual_seed(seed * 100_003 + number)
    pick = picker(gen)
    while True:
        kind = pick(*KINDS)
        model, shape = _MODELS[kind](gen)
        steps = pick(2, 3, 4, 5, 6, 8, 12, 16)
        block_bits = max(1, (steps - 1).bit_length())
        fmt = FixedPointFormat(8, pick(block_bits + 1, block_bits + 2, 8, 10, 12, 16),
                               pick(5, 6, 8, 10, 12, 14, 16, 20, 24))
        rounding = pick("nearest", "floor")
        lanes, weight_memory = pick(1, 2, 4, 8), pick("block", "block", "spram")
        backpressure = pick(0.0, 0.0, 0.0, 0.3)
        count = pick(2, 3, 4)
        weight_max = pick(3, 20, 60, 127)
        threshold_top = min(pick(10, 80, 400), fmt.threshold_max)
        networks = []
        try:
            for index in range(count):
                qnet = randomized(model, shape, steps, fmt,
                                  seed=seed * 1_000_003 + number * 7 + index,
                                  weight_max=weight_max, threshold_range=(1, threshold_top + 1))
                qnet = replace(qnet, rounding=rounding)
                share = inferences // count + (index < inferences % count)
                networks.append((qnet, _inputs(gen, share, shape)))
            hardware = pick(fmt, exact_format(*(qnet for qnet, _ in networks)))
            AcceleratorConfig.from_network(networks[0][0], lanes, weight_memory, hardware)
        except ValueError:
            continue  # a structure, geometry or format that is refused: draw again
        return Build(seed, number, kind, networks, lanes, weight_memory, backpressure,
                     hardware)


@dataclass
class BuildResult:
    build: str
    inferences: int
    seconds: float       # the simulation run, without building
    wall: float          # building and running
    error: str = ""


def run_build(build, simulator="verilator"):
    """Build and run ``build``'s accelerator on ``simulator``; a mismatch is an error."""
    from verif.runner import run_cocotb
    started = time.perf_counter()
    (qnet, x), reloads = build.networks[0], build.networks[1:]
    try:
        report = run_cocotb(simulator, f"regression-{build.seed}-{build.number}", qnet, x,
                            build.lanes, backpressure=build.backpressure,
                            weight_memory=build.weight_memory, reloads=reloads,
                            quick_build=True, fmt=build.fmt)
    except AssertionError as error:
        return BuildResult(build.describe(), build.inferences, 0.0,
                           time.perf_counter() - started, str(error))
    assert report["images"] == build.inferences
    return BuildResult(build.describe(), build.inferences, report["seconds"],
                       time.perf_counter() - started)


def _run(arguments):
    """One build in a worker process, the simulators' output in its folder's ``run.log``."""
    from verif.runner import BUILD
    seed, number, per_build, simulator = arguments
    log = BUILD / f"regression-{seed}-{number}-{simulator}" / "run.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    saved = os.dup(1), os.dup(2)
    with open(log, "w") as out:
        os.dup2(out.fileno(), 1)
        os.dup2(out.fileno(), 2)
        try:
            return number, run_build(draw_build(seed, number, per_build), simulator)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m verif.regression", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inferences", type=int, default=10_000)
    parser.add_argument("--per-build", type=int, default=500,
                        help="inferences of each drawn accelerator")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    parser.add_argument("--jobs", type=int, default=2, help="builds at once")
    parser.add_argument("--build", type=int, help="run only this build (to repeat a failure)")
    args = parser.parse_args(argv)
    if min(args.inferences, args.per_build, args.jobs) < 1:
        parser.error("--inferences, --per-build and --jobs must be at least 1")
    builds = math.ceil(args.inferences / args.per_build)
    numbers = [args.build] if args.build is not None else range(builds)
    work = [(args.seed, number, args.per_build, args.simulator) for number in numbers]
    started = time.perf_counter()
    done, failures, simulated, inferences = 0, [], 0.0, 0
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for number, result in pool.map(_run, work):
            done += 1
            inferences += result.inferences
            simulated += result.seconds
            fate = "FAILED" if result.error else "ok"
            print(f"[{done}/{len(work)}] build {number}: {result.build}: {result.inferences} "
                  f"inferences {fate} ({result.wall:.0f} s)", flush=True)
            if result.error:
                failures.append((number, result.error))
    elapsed = time.perf_counter() - started
    print(f"{inferences} inferences on {args.simulator} in {len(work)} builds, "
          f"{len(failures)} failed; {elapsed:.0f} s in all, "
          f"{inferences / max(simulated, 1e-9):.1f} inferences/s simulated")
    for number, error in failures:
        print(f"build {number}: {error}\n  repeat: python -m verif.regression --seed "
              f"{args.seed} --per-build {args.per_build} --simulator {args.simulator} "
              f"--build {number}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
