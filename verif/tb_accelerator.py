"""cocotb testbench of the generated accelerator Verilog, checked against the golden model.

The pytest side (``verif/test_accelerator.py``) writes the vectors file named by
``TSC_VECTORS``: input codes, and from the integer golden model every spike, the output
potentials, the class and the counters of each image. A driver streams codes in with random
gaps, two monitors capture every spike and potential under random backpressure, and the
checker compares them all.

Without backpressure the simulated top takes an image's codes at once and logs the streams
(``verif/logged.py``): the testbench sets the codes, waits for ``done`` and reads the logs,
instead of waking on every clock edge or every code (the per-cycle Python work limited
Verilator to a few inferences per second).
"""

import json
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge


def _field(value, fields, name, signed_bits=None):
    offset, width = fields[name]
    raw = (value >> offset) & ((1 << width) - 1)
    if signed_bits and raw >> (width - 1):
        raw -= 1 << width
    return raw


class Tb:
    def __init__(self, dut, vectors):
        self.dut, self.v = dut, vectors
        self.rng = random.Random(vectors["seed"])
        self.spikes, self.potentials = [], []

    async def reset(self):
        self.dut.rst.value = 1
        inputs = ("i_load__valid",) + (("start",) if self.v["logged"] else (
            "i_code__valid", "o_spike__ready", "o_potential__ready"))
        for name in inputs:
            getattr(self.dut, name).value = 0
        for _ in range(3):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0

    def _ready(self):
        return int(self.rng.random() >= self.v["backpressure"])

    async def send(self, stream, payloads):
        """Drive each payload (an int) into ``stream`` (``i_code`` or ``i_load``), with random
        gaps, waiting for its ready."""
        valid, ready = getattr(self.dut, f"{stream}__valid"), getattr(self.dut, f"{stream}__ready")
        for payload in payloads:
            while self.rng.random() < self.v["backpressure"]:
                valid.value = 0
                await RisingEdge(self.dut.clk)
            getattr(self.dut, f"{stream}__payload").value = payload
            valid.value = 1
            while True:
                await ReadOnly()
                accepted = int(ready.value)
                await RisingEdge(self.dut.clk)
                if accepted:
                    break
        valid.value = 0

    async def load(self, words):
        """Write ``(address, value)`` words through the load port; none may be refused."""
        fields = self.v["load_fields"]
        value_mask = (1 << fields["value"][1]) - 1
        await self.send("i_load", [(address << fields["address"][0]) |
                                   ((value & value_mask) << fields["value"][0])
                                   for address, value in words])
        await RisingEdge(self.dut.clk)
        await ReadOnly()
        assert int(self.dut.load_error.value) == 0, "a load word was refused"
        await RisingEdge(self.dut.clk)

    async def drive_codes(self, codes):
        mask = (1 << self.v["code_bits"]) - 1
        await self.send("i_code", [code & mask for code in codes])

    def _capture(self, spike, potential):
        """Record one spike and one potential payload (ints, or None); return whether the
        potential was the image's last."""
        if spike is not None:
            self.spikes.append([_field(spike, self.v["spike_fields"], n)
                                for n in ("layer", "step", "index", "negative")])
        if potential is not None:
            fields = self.v["potential_fields"]
            self.potentials.append(_field(potential, fields, "value", signed_bits=True))
            return bool(_field(potential, fields, "last"))
        return False

    async def run_image(self, codes):
        """Send an image and collect its spikes and potentials."""
        self.spikes, self.potentials = [], []
        if not self.v["logged"]:
            monitor = cocotb.start_soon(self.monitor())
            await self.drive_codes(codes)
            await monitor
            return
        dut, bits = self.dut, self.v["code_bits"]
        mask = (1 << bits) - 1
        dut.image.value = sum((code & mask) << (bits * i) for i, code in enumerate(codes))
        dut.start.value = 1
        await RisingEdge(dut.clk)
        dut.start.value = 0
        await RisingEdge(dut.done)
        await ReadOnly()
        spikes = self._read_log(dut.spike_log, dut.spike_count, self.v["spike_width"])
        for spike in spikes:
            self._capture(spike, None)
        potentials = self._read_log(dut.potential_log, dut.potential_count,
                                    self.v["potential_width"])
        last = [self._capture(None, potential) for potential in potentials]
        assert last and last[-1] and not any(last[:-1]), "the potentials' last flags are wrong"
        await RisingEdge(dut.clk)

    def _read_log(self, log, count, width):
        """The ``width``-bit entries of a log memory, ``pack`` to a word
        (``verif/logged.py``)."""
        pack, entries = self.v["pack"], int(count.value)
        mask = (1 << width) - 1
        values = []
        for word in range(-(-entries // pack)):
            value = int(log[word].value)
            values += [(value >> (width * slot)) & mask for slot in range(pack)]
        return values[:entries]

    def check(self, image, where):
        """Compare the image's spikes, potentials, class and counters with the golden
        model's."""
        dut = self.dut
        assert self.spikes == image["spikes"], f"{where}: spikes differ"
        assert self.potentials == image["potentials"], f"{where}: potentials differ"
        assert int(dut.class_index.value) == image["class_index"], f"{where}: class differs"
        assert int(dut.done.value) == 1 and int(dut.code_error.value) == 0
        for name, want in image["counters"].items():
            got = int(getattr(dut, name).value)
            assert got == want, f"{where}: counter {name} {got} != {want}"

    async def monitor(self):
        """Capture spikes and potentials under backpressure, cycle by cycle, until the last
        potential of the image."""
        while True:
            spike_ready, pot_ready = self._ready(), self._ready()
            self.dut.o_spike__ready.value = spike_ready
            self.dut.o_potential__ready.value = pot_ready
            await ReadOnly()  # sample the handshake that the next clock edge completes
            spike = int(self.dut.o_spike__payload.value) \
                if spike_ready and int(self.dut.o_spike__valid.value) else None
            potential = int(self.dut.o_potential__payload.value) \
                if pot_ready and int(self.dut.o_potential__valid.value) else None
            last = self._capture(spike, potential)
            await RisingEdge(self.dut.clk)
            if last:
                return


@cocotb.test()
async def inference_matches_golden_model(dut):
    with open(os.environ["TSC_VECTORS"]) as f:
        vectors = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns", impl="gpi").start())
    tb = Tb(dut, vectors)
    await tb.reset()
    cycles, started = [], time.perf_counter()
    for network, described in enumerate(vectors["networks"]):
        if described["load"]:
            await tb.load(described["load"])
        for number, image in enumerate(described["images"]):
            await tb.run_image(image["codes"])
            await ReadOnly()  # the state the last transfer's clock edge left
            tb.check(image, f"network {network} image {number}")
            cycles.append(int(dut.cycles.value))
            await RisingEdge(dut.clk)
    with open(os.environ["TSC_REPORT"], "w") as f:
        json.dump({"cycles": cycles, "images": len(cycles),
                   "images_seconds": time.perf_counter() - started}, f)
