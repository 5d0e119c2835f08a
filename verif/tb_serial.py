"""cocotb testbench: the host tool (``python -m fpga.run``, unmodified) talks to the simulated
accelerator-behind-a-UART through a pseudo-terminal.

A UART model turns what the host writes to the terminal into bits on ``rx`` and the bits on
``tx`` back into bytes for the host. The host loads the network over the link, classifies
images and checks every result and counter against the golden model (``--check``).

Every byte on ``rx`` and ``tx`` is logged with its simulated time: for the CLASSIFY frames
(``fpga.run`` without ``--check``) the report adds the share of time the ``rx`` line (the
host's bytes, the link's busy direction) is idle between the first CLASSIFY byte and the
last, and the time to the last reply.
"""

import json
import os
import subprocess
import sys
import tty

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge
from cocotb.utils import get_sim_time

from rtl.protocol import Command

CLOCK_NS = 10

async def host_to_rx(dut, master, divisor, log):
    while True:
        try:
            data = os.read(master, 4096)
        except (BlockingIOError, OSError):
            data = b""
        if not data:
            await ClockCycles(dut.clk, 10 * divisor)
            continue
        for byte in data:
            log.append((get_sim_time("ns"), byte))
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                dut.rx.value = bit
                await ClockCycles(dut.clk, divisor)


async def tx_to_host(dut, master, divisor, log):
    while True:
        await FallingEdge(dut.tx)
        log.append(get_sim_time("ns"))
        await ClockCycles(dut.clk, divisor // 2)
        await ReadOnly()
        assert int(dut.tx.value) == 0, "glitch on tx: not a start bit"
        byte = 0
        for i in range(8):
            await ClockCycles(dut.clk, divisor)
            await ReadOnly()
            byte |= int(dut.tx.value) << i
        await ClockCycles(dut.clk, divisor)
        await ReadOnly()
        assert int(dut.tx.value) == 1, "framing error on tx"
        os.write(master, bytes([byte]))
        await RisingEdge(dut.clk)


@cocotb.test()
async def host_tool_over_uart(dut):
    with open(os.environ["TSC_E2E"]) as f:
        setup = json.load(f)
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns", impl="gpi").start())
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    master, slave = os.openpty()
    tty.setraw(master)
    os.set_blocking(master, False)
    rx_log, tx_log = [], []
    cocotb.start_soon(host_to_rx(dut, master, setup["divisor"], rx_log))
    cocotb.start_soon(tx_to_host(dut, master, setup["divisor"], tx_log))
    for run in setup["runs"]:
        command = [sys.executable, "-m", "fpga.run", "--port", os.ttyname(slave), *run["args"]]
        host = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        while host.poll() is None:
            await ClockCycles(dut.clk, 5000)
        out, err = host.communicate()
        want = run.get("returncode", 0)
        assert host.returncode == want, \
            f"host tool exited {host.returncode}, not {want}: {err.decode()[-2000:]}"
        assert run.get("error", "") in err.decode(), f"expected {run['error']!r} in {err!r}"
    summary = json.loads(out.decode().strip().splitlines()[-1])
    summary.update(_link_activity(rx_log, tx_log, setup["divisor"]))
    with open(os.environ["TSC_REPORT"], "w") as f:
        json.dump(summary, f)


def _link_activity(rx_log, tx_log, divisor):
    """The rx line's idle share over the CLASSIFY frames (none: {})."""
    byte_ns = 10 * divisor * CLOCK_NS
    times = [t for t, _ in rx_log]
    data = bytes(b for _, b in rx_log)
    classify, start = [], 0
    while start + 4 <= len(data):   # the host sends whole frames, back to back
        length = data[start + 2] | data[start + 3] << 8
        if data[start + 1] == Command.CLASSIFY:
            classify.append((start, start + 6 + length))
        start += 6 + length
    if not classify:
        return {}
    first, last = times[classify[0][0]], times[classify[-1][1] - 1] + byte_ns
    busy = sum(end - begin for begin, end in classify) * byte_ns
    replies_end = tx_log[-1] + 11 * divisor * CLOCK_NS  # the board sends two stop bits
    return {"rx_idle_share": 1 - busy / (last - first), "classify_frames": len(classify),
            "classify_ns": last - first, "to_last_reply_ns": replies_end - first,
            "rx_busy_share_to_last_reply": busy / (replies_end - first)}
