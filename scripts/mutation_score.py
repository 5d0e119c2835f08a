"""Mutation testing: how many deliberate bugs the fast tests notice.

    python scripts/mutation_score.py [--jobs 2] [--only model/] [--match TEXT] [--list]

Each mutant below is one small, plausible bug in ``model/``, ``rtl/`` or ``fpga/`` (an
off-by-one, a flipped comparison, truncation for rounding, a check left out). The script
copies the working tree to a temporary folder, applies one mutant at a time, runs the fast
tests of the mutated file (``TESTS``; slow tests excluded) and counts the mutant killed when
a test fails. It prints each mutant's fate and the share killed per package; it exits 1
when a mutant's text no longer matches its file (keep the list in step with the code) or
when a package's share is under 90%.

A hand-made list rather than a generated one: these tests run simulations, and a tool that
generates hundreds of mutants per file would take days on two cores. Each mutant here is a
bug a reviewer would not spot at a glance; the list names the failure it stands for.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# seconds of tests per mutant; a mutant that makes them hang (a simulation that never ends)
# counts as killed
TIMEOUT = 900

_SIM = ("tests/test_accelerator_sim.py", "tests/test_neuron.py", "tests/test_neuron_lane.py",
        "tests/test_scan.py", "tests/test_address.py")
_LINK = ("tests/test_link.py", "tests/test_uart.py", "tests/test_host.py",
         "tests/test_unpack.py")
_MODEL = ("tests/test_integer_model.py", "tests/test_convert.py", "tests/test_encoding.py",
          "tests/test_residual.py")

# The fast tests that exercise each file.
TESTS = {
    "model/encoding.py": _MODEL,
    "model/simulate.py": _MODEL,
    "model/balance.py": _MODEL,
    "model/quantize.py": _MODEL + ("tests/test_netfile.py",),
    "model/fixedpoint.py": _MODEL + ("tests/test_netfile.py",),
    "model/network.py": _MODEL + ("tests/test_zoo.py",),
    "model/convert.py": _MODEL + ("tests/test_zoo.py",),
    "model/netfile.py": ("tests/test_netfile.py",),
    "model/netschema.py": ("tests/test_netfile.py",),
    "model/inputs.py": ("tests/test_netfile.py", "tests/test_data.py"),
    "rtl/build.py": ("tests/test_build.py",),
    "rtl/neuron.py": _SIM,
    "rtl/accelerator.py": _SIM,
    "rtl/scan.py": _SIM,
    "rtl/summary.py": _SIM,
    "rtl/address.py": _SIM,
    "rtl/config.py": _SIM + ("tests/test_build.py", "tests/test_widths.py",
                             "tests/test_counters.py"),
    "rtl/link.py": _LINK,
    "rtl/receiver.py": _LINK,
    "rtl/executor.py": _LINK,
    "rtl/transmitter.py": _LINK,
    "rtl/unpack.py": _LINK,
    "rtl/uart.py": _LINK,
    "rtl/crc.py": _LINK,
    "rtl/protocol.py": _LINK,
    "fpga/host.py": _LINK,
    "fpga/run.py": _LINK,
    "rtl/boards.py": ("tests/test_build.py",),
}

# (file, text, replacement, what the bug is); the text occurs exactly once in the file.
MUTANTS = [
    # --- model/ ---
    ("model/encoding.py", "magnitude + 0.5 if rounding", "magnitude + 0.25 if rounding",
     "nearest input codes rounded at a quarter"),
    ("model/netfile.py", 'header["input"].get("rounding", "floor")',
     'header["input"].get("rounding", "nearest")', "older files read with nearest codes"),
    ("model/inputs.py", "outside = ((x < -1) | (x > 1))", "outside = (x > 1)",
     "inputs below the range not counted"),
    ("model/inputs.py", "if 0.0 in _values(scale, shape, \"scale\"):", "if False:",
     "a zero input scale accepted"),
    ("rtl/build.py", "if error > limit:", "if error > 2 * limit:",
     "a baud rate twice as far off accepted"),
    ("rtl/boards.py", "eighths = min(max(round(8 * self.base / baud), 16)",
     "eighths = min(max(round(8 * self.base / baud), 8)",
     "an FTDI divisor between 1 and 2 taken"),
    ("fpga/host.py", "if version != PROTOCOL_VERSION:", "if False:",
     "a board of another protocol version accepted"),
    ("model/encoding.py", "int(codes.abs().max()) > steps - 1", "int(codes.abs().max()) > steps",
     "a code of N accepted"),
    ("model/encoding.py", "spikes[..., 0] = sign", "spikes[..., 1] = sign",
     "the first input spike a step late"),
    ("model/simulate.py", "stop = on & ((v < threshold) | (t == steps - 1))",
     "stop = on & ((v <= threshold) | (t == steps - 1))", "a block stops at V == Vth"),
    ("model/simulate.py", "on = v >= threshold\n", "on = v > threshold\n",
     "a neuron at exactly Vth does not fire"),
    ("model/simulate.py", "threshold // 2 if fmt is not None",
     "(threshold + 1) // 2 if fmt is not None",
     "V starts at Vth/2 rounded up"),
    ("model/simulate.py", "if rounding == \"nearest\" and not last:",
     "if rounding == \"nearest\":", "the output layer starts at Vth/2 too"),
    ("model/balance.py", "max(1, math.floor(value + 0.5))", "max(1, math.floor(value))",
     "integer thresholds rounded down"),
    ("model/balance.py", "value = alpha * _statistic(", "value = 1.0 * _statistic(",
     "alpha ignored"),
    ("model/balance.py", "np.percentile(values, percentile)",
     "np.percentile(values, percentile / 100)", "the 99.9th percentile read as the 0.999th"),
    ("model/quantize.py", "torch.round(layer.weight.double() / scale)",
     "torch.trunc(layer.weight.double() / scale)", "weights truncated instead of rounded"),
    ("model/quantize.py", "not 2 <= self.steps <= MAX_STEPS", "not 2 <= self.steps",
     "steps unbounded"),
    ("model/fixedpoint.py", "clipped = (total < lo) | (total > hi)",
     "clipped = (total < lo)", "positive saturation not counted"),
    ("model/fixedpoint.py", "return (1 << (self.weight_bits - 1)) - 1",
     "return 1 << (self.weight_bits - 1)", "weight -128/128 accepted"),
    ("model/netfile.py", "READABLE_VERSIONS = (1, 2, 3)", "READABLE_VERSIONS = (0, 1, 2, 3)",
     "a version-0 file accepted"),
    ("model/netfile.py", "if reserved != 0:", "if False:", "the reserved field unchecked"),
    ("model/netschema.py", "if offset != stored:", "if offset > stored:",
     "overlapping weights accepted"),
    ("model/netschema.py", "if type(value) is not int:", "if not isinstance(value, int):",
     "booleans taken as integers"),
    ("model/netschema.py", "if stored != payload_length:", "if stored > payload_length:",
     "unused payload bytes accepted"),
    ("model/network.py", "if self.weight.dim() != 2 or tuple(shape) != (self.weight.shape[1],):",
     "if self.weight.dim() != 2:", "a linear op takes any input size"),
    ("model/network.py", "return (c, h // self.kernel, w // self.kernel)",
     "return (c, h // self.kernel, w)", "pooling keeps the width"),
    # --- rtl/ ---
    ("rtl/neuron.py", "result.eq(Mux(clipped, Mux(negative, lo, hi), total[:bits]))",
     "result.eq(total[:bits])", "the accumulators wrap"),
    ("rtl/neuron.py", "over, negative = (total < lo) | (total > hi), total[-1]",
     "over, negative = total[bits] != total[bits - 1], total[bits]",
     "wide operands assumed to fit"),
    ("rtl/neuron.py", "capped = Mux(quotient > self.steps - 1, self.steps - 1, quotient)",
     "capped = quotient", "block lengths not capped at N - 1"),
    ("rtl/neuron.py", "effects[\"spike_negative\"].eq(flag ^ (step != 0))",
     "effects[\"spike_negative\"].eq(step != 0)", "the sign of a negative block lost"),
    ("rtl/neuron.py", "weight.eq(Mux(count2, Mux(negative2, -self.weight, self.weight), 0))",
     "weight.eq(Mux(negative2, -self.weight, self.weight))", "padding neurons add weights"),
    ("rtl/neuron.py", "state_read.eq(Mux(written_en & (written_addr == addr2), written, "
     "state_r.data))", "state_read.eq(state_r.data)", "no forwarding of the last write"),
    ("rtl/neuron.py", "current = Mux(forward, written, state_read)", "current = state_read",
     "no forwarding to the op right behind"),
    ("rtl/neuron.py", 'ClockDomain(clk_edge="neg"', 'ClockDomain(clk_edge="pos"',
     "the state RAM written at the end of the cycle that reads it"),
    ("rtl/accelerator.py", "thresholds[window] >> 1)", "(thresholds[window] + 1) >> 1)",
     "V starts at Vth/2 rounded up (odd thresholds)"),
    ("rtl/scan.py", "skip = run_skip | (at_chunk & ~chunk_bit)", "skip = run_skip",
     "no chunk is skipped"),
    ("rtl/scan.py", "run_skip = at_run & run_ready & ~run_bit", "run_skip = Const(0)",
     "no run is skipped"),
    ("rtl/scan.py", "block.eq(block + run_chunks[p])", "block.eq(block + 1)",
     "a skipped run moves the scan by one chunk"),
    ("rtl/scan.py", "goes_direct.eq(slot & skip & ~Cat(in_flight).any())",
     "goes_direct.eq(slot & skip)", "a skip overtakes the scanned words before it"),
    ("rtl/accelerator.py", "restarting = (group == scan_ahead[window]) & (step != c.steps - 1)",
     "restarting = group == scan_ahead[window]", "a scan restarts after the window's last step"),
    ("rtl/accelerator.py", "read(neuron)\n            m.d.sync += potential.eq(",
     "m.d.sync += potential.eq(", "the read-out stops reading its word before its last neuron"),
    ("rtl/accelerator.py", "with m.If(neuron[:lane_bits] == c.lanes - 1):",
     "with m.If(neuron[:lane_bits] == c.lanes):", "the read-out does not wait for a new word"),
    ("rtl/neuron.py", "((op == Op.SETK) & count)),", "(op == Op.SETK)),",
     "an input code is stored in every lane"),
    ("rtl/neuron.py", "self.port.potential.eq(written[d:d + v_bits])",
     "self.port.potential.eq(written[:v_bits])", "the read-out reports the wrong field"),
    ("rtl/neuron.py", "new_dvdt.eq(operand), new_flag.eq(negative3)",
     "new_dvdt.eq(operand), new_flag.eq(negative2)", "an input code takes the next op's sign"),
    ("rtl/config.py", "if have == own or need <= min(have, own):",
     "if have == own or need <= max(have, own):", "a network needing wider accumulators runs"),
    ("rtl/config.py", "widths[name] = own if need >= own else",
     "widths[name] = own if need > own + 1 else", "proven widths above the network's own"),
    ("rtl/config.py", "membrane = sum(2 * self.steps * neurons for neurons in self.layers)",
     "membrane = sum(self.steps * neurons for neurons in self.layers)",
     "the membrane counter misses the threshold subtractions"),
    ("rtl/config.py", "return sum(words // cgroups for words in self.burst_words(path)) * ",
     "return sum(words for words in self.burst_words(path)) * ",
     "the reach counts the channel groups' padding lanes"),
    ("rtl/config.py", "return p.geometry.inputs\n", "return 2 * p.geometry.inputs\n",
     "a gain reaches two targets"),
    ("rtl/scan.py", "(outstanding < self.depth)", "(outstanding <= self.depth)",
     "the result queue overfills"),
    ("rtl/summary.py", "Const(1, steps) | (Const(1, steps) << length)",
     "Const(1, steps) << length", "the summary misses a block's first step"),
    ("rtl/summary.py", "new_chunk.eq(Mux(self.first, 0, chunk) | self.bits)",
     "new_chunk.eq(chunk | self.bits)", "a chunk's summary keeps old bits"),
    ("rtl/summary.py", "new_run.eq(Mux(self.first & (new_in_run == 0), 0, run) | self.bits)",
     "new_run.eq(Mux(self.first, 0, run) | self.bits)",
     "a run's summary keeps only its last chunk"),
    ("rtl/address.py",
     "(col_count[w][self.column] == 1) &\n                          (last_group[w] == 0)),",
     "(col_count[w][self.column] == 1)),",
     "a one-target spike's burst ends after its first channel group"),
    ("rtl/address.py", "is_last.eq(one_group & (columns == 1) & (now[\"row_left\"] == 1))",
     "is_last.eq(one_group & (columns == 1) & (now[\"row_left\"] == 0))",
     "a burst's last target row is not its last"),
    ("rtl/address.py", "self.column.eq(self.column + run_columns[w])",
     "self.column.eq(self.column + 1)", "a run's jump moves one pooled column"),
    ("rtl/receiver.py", "load8 = Mux(length < 5, ErrorCode.LENGTH,",
     "load8 = Mux(length < 4, ErrorCode.LENGTH,", "LOAD8 without weights accepted"),
    ("rtl/receiver.py", "with m.If(Cat(crc_low, crc_high) != crc):",
     "with m.If(crc_low != crc[:8]):", "the CRC's high byte unchecked"),
    ("rtl/executor.py", "with m.If((code < -(c.steps - 1)) | (code > c.steps - 1)):",
     "with m.If(code > c.steps - 1):", "negative codes unchecked"),
    ("rtl/executor.py", "return (word[v_bits - 1:] == 0) & (word[:v_bits - 1] != 0)",
     "return word[v_bits - 1:] == 0", "threshold 0 accepted"),
    ("rtl/receiver.py", "(frame.address + frame.length - 4 > weight_words)",
     "(frame.address + frame.length - 4 > weight_words + 1)",
     "a LOAD8 one past the end accepted"),
    ("rtl/receiver.py", "m.d.sync += no_room.eq((write - tail)[RING_ADDRESS_BITS])",
     "m.d.sync += no_room.eq(0)", "a frame overwrites the one executing"),
    ("rtl/executor.py", "length_bad.eq(~unpacker.at_image_start | (images == 0) |",
     "length_bad.eq((images == 0) |", "a RUN or CLASSIFY with part of an image runs"),
    ("rtl/unpack.py", "m.d.comb += self.padding_error.eq(held != 0)",
     "m.d.comb += self.padding_error.eq(0)", "set padding bits accepted"),
    ("rtl/unpack.py", "self.o_code.payload.last.eq(emitted == self.inputs - 1)",
     "self.o_code.payload.last.eq(emitted == self.inputs)", "an image's last code unmarked"),
    ("rtl/executor.py", "with m.If(remaining == 1):", "with m.If(remaining != 0):",
     "a CLASSIFY answers its first image only"),
    ("rtl/transmitter.py", "sent(\"LEN1\", length[8:])",
     "sent(\"LEN1\", length[8:], checked=False)",
     "the reply's CRC skips the length's high byte"),
    ("rtl/uart.py", "with m.If(bits == 7):", "with m.If(bits == 6):", "seven-bit bytes"),
    ("rtl/crc.py", "shifted ^ Const(0x1021, 16)", "shifted ^ Const(0x1023, 16)",
     "a wrong CRC polynomial"),
    # --- fpga/ ---
    ("rtl/protocol.py", "if crc != crc16(body):", "if False:",
     "the host's frame decoder skips its CRC check"),
    ("rtl/protocol.py", "if length > MAX_PAYLOAD:", "if length > 2 * MAX_PAYLOAD:",
     "oversized lengths taken as frames"),
    ("rtl/protocol.py", "crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1",
     "crc = ((crc << 1) ^ 0x1021) if crc & 0x4000 else crc << 1", "a wrong CRC"),
    ("fpga/host.py", "if frame.command != command | REPLY:", "if False:",
     "a reply to another command accepted"),
    ("fpga/host.py", "if len(payload) != struct.calcsize(layout):", "if False:",
     "a short RESULT decoded"),
    ("fpga/host.py", "chunk = MAX_PAYLOAD - 4", "chunk = MAX_PAYLOAD",
     "LOAD8 frames over the payload limit"),
    ("fpga/host.py", "b\"\".join(struct.pack(\"<i\", t) for t in thresholds)",
     "b\"\".join(struct.pack(\"<i\", t) for t in thresholds[1:])", "a threshold not loaded"),
    ("fpga/run.py", "agree += class_index == w.class_index",
     "agree += class_index == int(label)", "agreement measured against the labels"),
    ("fpga/host.py", "in_flight = 2 if per_frame", "in_flight = 3 if per_frame",
     "three frames in flight"),
    ("rtl/protocol.py", "value |= (int(code) & mask) << (number * bits)",
     "value |= (int(code) & mask) << (number * bits + 1)", "codes packed a bit off"),
    ("fpga/run.py", "if result.potentials != w.potentials:", "if False:",
     "--check ignores the potentials"),
    ("rtl/boards.py", "if not 533 <= vco <= 1066:", "if not 400 <= vco <= 1066:",
     "an iCE40 PLL VCO below its range"),
]


def _package(path):
    return path.split("/")[0]


def _copy_tree(destination):
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                           cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)


def _check_texts(mutants):
    problems = []
    for path, text, _, what in mutants:
        count = (ROOT / path).read_text().count(text)
        if count != 1:
            problems.append(f"{path}: the mutant '{what}' matches {count} times, not once")
        if path not in TESTS:
            problems.append(f"{path}: no tests listed in TESTS")
    return problems


def _killed(tree, path, text, replacement, jobs):
    source = tree / path
    original = source.read_text()
    source.write_text(original.replace(text, replacement, 1))
    try:
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                   "-o", "addopts=", "-m", "not slow", *TESTS[path]]
        if jobs > 1:
            command += ["-n", str(jobs)]
        try:
            done = subprocess.run(command, cwd=tree, capture_output=True, text=True,
                                  timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return True  # a hang: the suite's own sims never end, so it would notice
        return done.returncode != 0
    finally:
        source.write_text(original)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2, help="pytest workers per mutant")
    parser.add_argument("--only", default="", help="mutants of files under this prefix")
    parser.add_argument("--match", default="", help="mutants whose description has this text")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if m[0].startswith(args.only) and args.match in m[3]]
    problems = _check_texts(mutants)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    if args.list:
        for path, _, _, what in mutants:
            print(f"{path}: {what}")
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder)
        _copy_tree(tree)
        for number, (path, text, replacement, what) in enumerate(mutants, 1):
            started = time.monotonic()
            killed = _killed(tree, path, text, replacement, args.jobs)
            results.setdefault(_package(path), []).append(killed)
            print(f"[{number}/{len(mutants)}] {'killed  ' if killed else 'SURVIVED'} "
                  f"{path}: {what} ({time.monotonic() - started:.0f} s)", flush=True)
    failing = False
    for package, fates in sorted(results.items()):
        share = sum(fates) / len(fates)
        failing |= share < 0.9
        print(f"{package}/: {sum(fates)} of {len(fates)} mutants killed ({100 * share:.0f}%)")
    total = [fate for fates in results.values() for fate in fates]
    print(f"all: {sum(total)} of {len(total)} killed ({100 * sum(total) / len(total):.0f}%)")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
