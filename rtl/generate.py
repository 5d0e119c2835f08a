"""Generate the accelerator's Verilog: ``python -m rtl.generate --network FILE -o DIR``.

Writes ``DIR/tsc_accelerator.v`` (top module ``tsc_accelerator``, stable port names such as
``i_code__payload``, ``o_spike__valid``) and ``DIR/tsc_accelerator.json`` (the parameters
and the port list), with weights and thresholds initialised from the network file. With
``--weights spram`` the weights live in iCE40UP5K SPRAM (``SB_SPRAM256KA`` instances, which
simulate with Yosys's ``cells_sim.v``) and must be loaded through ``i_load``.
"""

import argparse
import json
import sys
from pathlib import Path

from amaranth.back import verilog

from model.cli import power_of_two
from model.netfile import NetworkFileError, read_network

from .accelerator import TSCAccelerator
from .config import MAX_LANES, WEIGHT_MEMORIES, AcceleratorConfig, NetworkMismatch

__all__ = ["TOP", "generate"]

TOP = "tsc_accelerator"


def generate(qnet, out_dir, lanes=1, weight_memory="block", wrap=None, fmt=None):
    """Write the Verilog and parameter file for ``qnet``; return ``(Verilog path, the
    elaborated TSCAccelerator)``. ``wrap``: a component class taking ``(config, network)``
    that holds the accelerator as its ``accelerator`` (a simulation top), made the top
    module instead. ``fmt``: the accumulators' widths (``None``: the network's own; see
    :meth:`AcceleratorConfig.from_network`)."""
    config = AcceleratorConfig.from_network(qnet, lanes, weight_memory, fmt)
    top = (wrap or TSCAccelerator)(config, qnet)
    dut = top.accelerator if wrap else top
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = verilog.convert(top, name=TOP, emit_src=False)
    path = out / f"{TOP}.v"
    path.write_text(text)
    (out / f"{TOP}.json").write_text(json.dumps({
        "top": TOP, "inputs": config.inputs, "layers": list(config.layers),
        "steps": config.steps, "lanes": config.lanes, "format": config.fmt.to_dict(),
        "rounding": config.rounding, "weight_memory": config.weight_memory,
        "weight_depth": config.weight_depth,
        "state_depth": config.state_depth}, indent=1))
    return path, dut


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rtl.generate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", required=True, help="network file (python -m model.export)")
    parser.add_argument("-o", "--out", default="build/verilog", help="output directory")
    parser.add_argument("--lanes", type=power_of_two(MAX_LANES), default=1,
                        help="neurons per cycle (a power of two)")
    parser.add_argument("--weights", choices=WEIGHT_MEMORIES, default="block",
                        help="weight memory (spram: iCE40UP5K, loaded through i_load)")
    args = parser.parse_args(argv)
    try:
        qnet = read_network(args.network)
        path, _ = generate(qnet, args.out, args.lanes, args.weights)
    except (OSError, NetworkFileError, NetworkMismatch, ValueError) as error:
        sys.exit(f"error: {error}")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
