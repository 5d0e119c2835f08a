"""The shipped product end to end: the host tool loads a network (the default digits MLP,
the convolutional ``cnn``, or a 784-128-10 MLP on MNIST with its weights in SPRAM, as the
iCEBreaker holds it) over the UART into the simulated board design (which starts empty),
maps the data set's raw test inputs with the network file's input range, classifies them and
matches the golden model exactly, potentials and counters included. The board's
accumulators are as wide as ``rtl.build`` makes them by default (the narrowest proven to run
the network exactly: :func:`rtl.config.exact_format`). With the weights in
SPRAM (``SB_SPRAM256KA`` with Yosys's model) the host first refuses to run a board whose
weights were never loaded."""

import json

import pytest
from amaranth.back import verilog

from model.convert import convert
from model.netfile import write_network
from model.quantize import quantize
from model.train import train
from rtl.config import AcceleratorConfig, exact_format
from rtl.serial_top import SerialAccelerator
from verif.runner import BUILD, simulate

DIVISOR = 4  # clock cycles per UART bit in simulation


@pytest.mark.parametrize("arch, data, weight_memory, images, epochs", [
    ("mlp", "digits", "block", 6, 40), ("mlp", "digits", "spram", 6, 40),
    ("cnn", "digits", "spram", 1, 40), ("mlp", "mnist", "spram", 2, 4)])
def test_host_tool_loads_and_classifies_over_uart(arch, data, weight_memory, images, epochs):
    simulator = "verilator"
    build = BUILD / f"e2e-{arch}-{data}-{weight_memory}-{simulator}"
    build.mkdir(parents=True, exist_ok=True)
    model, split, _ = train(arch, epochs=epochs, data=data)
    qnet = quantize(convert(model, split.input_shape), split.x_train, 16,
                    input_scale=split.input_scale, input_offset=split.input_offset,
                    metadata={"data": data})
    network = build / "network.tscn"
    write_network(network, qnet)
    config = AcceleratorConfig.from_network(qnet, 2, weight_memory, exact_format(qnet))
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


def test_the_link_is_never_idle_between_images():
    """``fpga.run`` without ``--check`` sends CLASSIFY frames, two in flight, to the default
    digits MLP (weights in the bitstream) at 40 clocks a bit (1 Mbaud at 40 MHz), where the
    link, not the core, sets the pace: the rx line is idle at most 10% of the time between
    the first image's byte and the last, and every class matches the golden model."""
    simulator, divisor, images = "verilator", 40, 24
    build = BUILD / f"e2e-link-{simulator}"
    build.mkdir(parents=True, exist_ok=True)
    model, split, _ = train("mlp", epochs=40, data="digits")
    qnet = quantize(convert(model, split.input_shape), split.x_train, 16,
                    input_scale=split.input_scale, input_offset=split.input_offset,
                    metadata={"data": "digits"})
    network = build / "network.tscn"
    write_network(network, qnet)
    config = AcceleratorConfig.from_network(qnet, 2, fmt=exact_format(qnet))
    top = SerialAccelerator(config, qnet, divisor, timeout_cycles=400_000)
    source = build / "tsc_serial.v"
    source.write_text(verilog.convert(top, name="tsc_serial", emit_src=False))
    args = ["--network", str(network), "--images", str(images), "--no-load", "--json",
            "--timeout", "600"]
    (build / "e2e.json").write_text(json.dumps({"divisor": divisor, "runs": [{"args": args}]}))
    summary = simulate(simulator, build, source, "tsc_serial", "verif.tb_serial",
                       {"TSC_E2E": str(build / "e2e.json")})
    print(f"rx idle {100 * summary['rx_idle_share']:.1f}% over {summary['classify_frames']} "
          f"CLASSIFY frames; rx busy {100 * summary['rx_busy_share_to_last_reply']:.1f}% up "
          f"to the last reply")
    assert summary["images"] == images and summary["agreement"] == 1.0
    assert summary["classify_frames"] == 4
    assert summary["rx_idle_share"] <= 0.10
