"""cocotb testbench of the generated accelerator Verilog, checked against the golden model.

The pytest side (``verif/test_accelerator.py``) writes the vectors file named by
``TSC_VECTORS``: input codes, and from the integer golden model every spike, the output
potentials, the class and the counters of each image. A driver streams codes in with random
gaps, two monitors capture every spike and potential under random backpressure, and the
checker compares them all.

Without backpressure the monitor is event driven: the streams are always ready, so every
cycle with ``valid`` is a transfer, and the testbench wakes only when a stream's ``valid``
rises and for the cycles it stays high, not on every clock edge (the per-cycle Python work
was what limited Verilator to a few inferences per second).
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import First, ReadOnly, RisingEdge


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
        for name in ("i_code__valid", "i_load__valid", "o_spike__ready", "o_potential__ready"):
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
        """Record the transfers of this cycle; return whether it was the image's last."""
        if spike:
            p = int(self.dut.o_spike__payload.value)
            self.spikes.append([_field(p, self.v["spike_fields"], n)
                                for n in ("layer", "step", "index", "negative")])
        if potential:
            p = int(self.dut.o_potential__payload.value)
            fields = self.v["potential_fields"]
            self.potentials.append(_field(p, fields, "value", signed_bits=True))
            return bool(_field(p, fields, "last"))
        return False

    async def monitor(self):
        """Capture spikes and potentials until the last potential of the image."""
        if self.v["backpressure"] == 0:
            return await self._monitor_events()
        while True:
            spike_ready, pot_ready = self._ready(), self._ready()
            self.dut.o_spike__ready.value = spike_ready
            self.dut.o_potential__ready.value = pot_ready
            await ReadOnly()  # sample the handshake that the next clock edge completes
            last = self._capture(spike_ready and int(self.dut.o_spike__valid.value),
                                 pot_ready and int(self.dut.o_potential__valid.value))
            await RisingEdge(self.dut.clk)
            if last:
                return

    async def _monitor_events(self):
        dut = self.dut
        dut.o_spike__ready.value = 1
        dut.o_potential__ready.value = 1
        rises = (RisingEdge(dut.o_spike__valid), RisingEdge(dut.o_potential__valid))
        while True:
            await ReadOnly()
            spike, potential = int(dut.o_spike__valid.value), int(dut.o_potential__valid.value)
            if not spike and not potential:
                await First(*rises)  # nothing to take until a valid rises
                continue
            last = self._capture(spike, potential)
            await RisingEdge(dut.clk)
            if last:
                return


@cocotb.test()
async def inference_matches_golden_model(dut):
    with open(os.environ["TSC_VECTORS"]) as f:
        vectors = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    tb = Tb(dut, vectors)
    await tb.reset()
    await tb.load(vectors["load"])
    counters = list(vectors["images"][0]["counters"])
    cycles = []
    for number, image in enumerate(vectors["images"]):
        tb.spikes, tb.potentials = [], []
        monitor = cocotb.start_soon(tb.monitor())
        await tb.drive_codes(image["codes"])
        await monitor
        await ReadOnly()  # the state the last transfer's clock edge left
        where = f"image {number}"
        assert tb.spikes == image["spikes"], f"{where}: spikes differ"
        assert tb.potentials == image["potentials"], f"{where}: potentials differ"
        assert int(dut.class_index.value) == image["class_index"], f"{where}: class differs"
        assert int(dut.done.value) == 1 and int(dut.code_error.value) == 0
        for name in counters:
            got = int(getattr(dut, name).value)
            assert got == image["counters"][name], f"{where}: counter {name} {got} != " \
                f"{image['counters'][name]}"
        cycles.append(int(dut.cycles.value))
        await RisingEdge(dut.clk)
    with open(os.environ["TSC_REPORT"], "w") as f:
        json.dump({"cycles": cycles, "images": len(cycles)}, f)
