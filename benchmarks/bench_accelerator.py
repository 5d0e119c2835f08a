"""Accelerator cycles per inference against the lower bound, and cocotb simulation speed.

    python benchmarks/bench_accelerator.py [--arch mlp] [--images 20] [--lanes 1,4,8]
                                           [--clock-mhz 24] [--no-speed]

For a digits network (``--arch``: the default 64-128-10 MLP at N=16, the ``cnn`` at N=16,
or the residual ``resnet`` and its chain twin ``plain`` at N=32 with the percentile
statistic) it runs the generated Verilog under cocotb and reports, per lane count: cycles
per inference (measured by the hardware's own counter, checked against the golden model
image by image), the lower bound (synaptic updates / lanes + membrane updates / lanes),
their ratio, ``rtl.build``'s estimate against the measurement, and images/s at
``--clock-mhz`` (an assumed clock: the board build reports the real fmax). Then the
simulated inferences per second of the cocotb regression on Verilator and on Icarus, with
the streams logged in the simulated top and with the per-cycle monitor (which backpressure
needs), measured side by side (skipped with ``--no-speed``).
"""

import argparse
import statistics

from model.convert import convert
from model.networks import build
from model.quantize import quantize
from model.train import train
from rtl.build import estimate_cycles, scan_activity
from rtl.config import AcceleratorConfig
from verif.runner import run_cocotb

# architecture -> (N, threshold statistic)
SETTINGS = {"mlp": (16, "max"), "cnn": (16, "max"), "resnet": (32, "percentile"),
            "plain": (32, "percentile")}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(SETTINGS), default="mlp")
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--lanes", default="1,4,8")
    parser.add_argument("--clock-mhz", type=float, default=24.0)
    parser.add_argument("--no-speed", action="store_true",
                        help="skip the Verilator against Icarus speed comparison")
    args = parser.parse_args()
    if args.images < 1:
        parser.error("--images must be at least 1")
    steps, statistic = SETTINGS[args.arch]
    model, split, _ = train(args.arch, epochs=40)
    _, input_shape, _ = build(args.arch)
    qnet = quantize(convert(model, input_shape), split.x_train, steps, statistic=statistic)
    x = split.x_test[:args.images]
    golden = qnet.run(x).counts
    synaptic, membrane = float(golden.synaptic.double().mean()), \
        float(golden.membrane.double().mean())
    print(f"digits {args.arch}, N={steps}, {args.images} images: synaptic {synaptic:.0f}, "
          f"membrane {membrane:.0f} updates per image (golden model)", flush=True)
    activity = scan_activity(qnet, x)
    for lanes in (int(v) for v in args.lanes.split(",")):
        report = run_cocotb("verilator", f"bench-{args.arch}-l{lanes}", qnet, x, lanes)
        cycles = statistics.mean(report["cycles"])
        config = AcceleratorConfig.from_network(qnet, lanes)
        bound = config.lower_bound_cycles(synaptic, membrane)
        estimate = estimate_cycles(config, activity)
        print(f"  lanes {lanes}: {cycles:8.0f} cycles/inference, bound {bound:8.0f}, ratio "
              f"{cycles / bound:5.2f}x, estimate {estimate / cycles:5.3f}x of measured, "
              f"{args.clock_mhz * 1e6 / cycles:8.0f} images/s at {args.clock_mhz} MHz",
              flush=True)
    if args.no_speed:
        return
    # "logged": the simulated top logs the output streams, read once per image; "per-cycle":
    # the plain top, its streams sampled every clock (what backpressure tests need)
    speeds = {(simulator, monitor): run_cocotb(simulator, "bench-l8", qnet, x, 8,
                                               per_cycle=monitor == "per-cycle")
              for simulator in ("icarus", "verilator") for monitor in ("logged", "per-cycle")}
    for (simulator, monitor), report in speeds.items():
        print(f"  cocotb on {simulator:9s}, {monitor:9s}: "
              f"{report['images'] / report['images_seconds']:7.2f} simulated inferences/s "
              f"over the images, {report['images'] / report['seconds']:7.2f} with the start "
              f"(lanes 8, {report['seconds']:.1f} s)")
    rate = {key: report["images"] / report["images_seconds"] for key, report in speeds.items()}
    print(f"  Verilator / Icarus (logged): "
          f"{rate['verilator', 'logged'] / rate['icarus', 'logged']:.1f}x; logged / per-cycle "
          f"on Verilator: "
          f"{rate['verilator', 'logged'] / rate['verilator', 'per-cycle']:.1f}x")


if __name__ == "__main__":
    main()
