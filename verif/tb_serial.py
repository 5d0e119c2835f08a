"""cocotb testbench: the host tool (``python -m fpga.run``, unmodified) talks to the simulated
accelerator-behind-a-UART through a pseudo-terminal.

A UART model turns what the host writes to the terminal into bits on ``rx`` and the bits on
``tx`` back into bytes for the host. The host loads the network over the link, classifies
images and checks every result and counter against the golden model (``--check``).
"""

import json
import os
import subprocess
import sys
import tty

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly, RisingEdge


async def host_to_rx(dut, master, divisor):
    while True:
        try:
            data = os.read(master, 4096)
        except (BlockingIOError, OSError):
            data = b""
        if not data:
            await ClockCycles(dut.clk, 10 * divisor)
            continue
        for byte in data:
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                dut.rx.value = bit
                await ClockCycles(dut.clk, divisor)


async def tx_to_host(dut, master, divisor):
    while True:
        await FallingEdge(dut.tx)
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
    cocotb.start_soon(host_to_rx(dut, master, setup["divisor"]))
    cocotb.start_soon(tx_to_host(dut, master, setup["divisor"]))
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
    with open(os.environ["TSC_REPORT"], "w") as f:
        f.write(out.decode().strip().splitlines()[-1])
