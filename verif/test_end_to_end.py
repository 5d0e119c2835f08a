"""The shipped product end to end: the host tool loads a digits network (the default MLP, or
the convolutional ``cnn``) over the UART into the simulated board design (which starts
empty), classifies test images and matches the golden model exactly, potentials and
counters included. With the weights in
SPRAM (``SB_SPRAM256KA`` with Yosys's model) the host first refuses to run a board whose
weights were never loaded."""

import json

import pytest
from amaranth.back import verilog

from model.convert import convert
from model.data import load_digits
from model.netfile import write_network
from model.networks import build as build_arch
from model.quantize import quantize
from model.train import train
from rtl.config import AcceleratorConfig
from rtl.serial_top import SerialAccelerator
from verif.runner import BUILD, simulate

DIVISOR = 4  # clock cycles per UART bit in simulation


@pytest.mark.parametrize("arch, weight_memory, images", [
    ("mlp", "block", 6), ("mlp", "spram", 6), ("cnn", "spram", 1)])
def test_host_tool_loads_and_classifies_over_uart(arch, weight_memory, images):
    simulator = "verilator"
    build = BUILD / f"e2e-{arch}-{weight_memory}-{simulator}"
    build.mkdir(parents=True, exist_ok=True)
    model, split, _ = train(arch)
    _, input_shape, data_shape = build_arch(arch)
    qnet = quantize(convert(model, input_shape), load_digits(data_shape).x_train, 16)
    network = build / "network.tscn"
    write_network(network, qnet)
    config = AcceleratorConfig.from_network(qnet, 2, weight_memory)
    top = SerialAccelerator(config, None, DIVISOR, timeout_cycles=400_000)
    source = build / "tsc_serial.v"
    source.write_text(verilog.convert(top, name="tsc_serial", emit_src=False))
    args = ["--network", str(network), "--images", str(images), "--check", "--json",
            "--timeout", "600", "--baud", "115200"]
    runs = [{"args": args}]
    if weight_memory == "spram":
        runs.insert(0, {"args": args + ["--no-load"], "returncode": 1,
                        "error": "keeps its weights in SPRAM"})
    setup = {"divisor": DIVISOR, "runs": runs}
    (build / "e2e.json").write_text(json.dumps(setup))
    summary = simulate(simulator, build, source, "tsc_serial", "verif.tb_serial",
                       {"TSC_E2E": str(build / "e2e.json")})
    assert summary["images"] == images and summary["checked"]
    assert summary["mismatches"] == 0 and summary["agreement"] == 1.0
