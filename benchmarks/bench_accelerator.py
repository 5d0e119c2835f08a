"""Accelerator cycles per inference against the lower bound, and cocotb simulation speed.

    python benchmarks/bench_accelerator.py [--images 20] [--lanes 1,4,8] [--clock-mhz 24]

For the default digits network (64-128-10, N=16) it runs the generated Verilog under cocotb
and reports, per lane count: cycles per inference (measured by the hardware's own counter,
checked against the golden model image by image), the lower bound (synaptic updates / lanes
+ membrane updates / lanes), their ratio, and images/s at ``--clock-mhz`` (until the board
build reports its fmax, an assumed clock). Then the simulated inferences per second of the
cocotb regression on Verilator and on Icarus, measured side by side.
"""

import argparse
import statistics

from model.convert import convert
from model.quantize import quantize
from model.train import train
from rtl.config import AcceleratorConfig
from verif.runner import run_cocotb


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--lanes", default="1,4,8")
    parser.add_argument("--clock-mhz", type=float, default=24.0)
    args = parser.parse_args()
    model, split, _ = train("mlp", epochs=40)
    qnet = quantize(convert(model, (64,)), split.x_train, 16)
    x = split.x_test[:args.images]
    golden = qnet.run(x).counts
    synaptic, membrane = float(golden.synaptic.double().mean()), \
        float(golden.membrane.double().mean())
    print(f"digits 64-128-10, N=16, {args.images} images: synaptic {synaptic:.0f}, "
          f"membrane {membrane:.0f} updates per image (golden model)")
    speeds = {}
    for lanes in (int(v) for v in args.lanes.split(",")):
        report = run_cocotb("verilator", f"bench-l{lanes}", qnet, x, lanes)
        cycles = statistics.mean(report["cycles"])
        bound = AcceleratorConfig.from_network(qnet, lanes).lower_bound_cycles(synaptic,
                                                                                membrane)
        print(f"  lanes {lanes}: {cycles:8.0f} cycles/inference, bound {bound:7.0f}, ratio "
              f"{cycles / bound:5.2f}x, {args.clock_mhz * 1e6 / cycles:8.0f} images/s at "
              f"{args.clock_mhz} MHz")
        speeds.setdefault("verilator", report)
    speeds["icarus"] = run_cocotb("icarus", "bench-l8", qnet, x, 8)
    speeds["verilator"] = run_cocotb("verilator", "bench-l8", qnet, x, 8)
    for simulator, report in speeds.items():
        print(f"  cocotb on {simulator:9s}: {report['images'] / report['seconds']:6.2f} "
              f"simulated inferences/s (lanes 8, {report['seconds']:.1f} s)")
    ratio = speeds["icarus"]["seconds"] / speeds["verilator"]["seconds"]
    print(f"  Verilator / Icarus speed ratio: {ratio:.1f}x")


if __name__ == "__main__":
    main()
