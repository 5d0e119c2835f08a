"""Bitstreams for every board with the YoWASP toolchain (slow: minutes each; CI runs them).

A small residual convolutional network keeps each build short while it takes every kind of
input path through synthesis (convolutions, pooling, a gain and a 1x1 shortcut); a wide one
puts the iCEBreaker's weights in SPRAM.
The default network's iCEBreaker build is the README's main job, which CI runs too.
"""

from pathlib import Path

import pytest

from rtl.boards import BOARDS
from model.fixedpoint import FixedPointFormat
from model.netfile import write_network
from rtl.build import build
from rtl.config import AcceleratorConfig
from rtl.golden import random_network, random_residual


@pytest.mark.slow
# The iCESugar carries the iCEBreaker's iCE40UP5K at the same clock: the main job's build
# (CI runs it first) and the SPRAM build below cover that device.
@pytest.mark.parametrize("board", [name for name in BOARDS
                                   if name not in ("icebreaker", "icesugar")])
def test_board_builds(board, tmp_path):
    network = tmp_path / "small.tscn"
    qnet, _ = random_residual(9, FixedPointFormat())
    assert {p.gain for p in AcceleratorConfig.from_network(qnet).shortcuts} == {True, False}
    write_network(network, qnet)
    # the ECP5's PLL: twice the ULX3S's 25 MHz
    clock = 50.0 if BOARDS[board].family == "ecp5" else None
    report = build(board, network, lanes=1, out=tmp_path / "build", clock_mhz=clock)
    assert report["clock_target_mhz"] == (clock or BOARDS[board].clock_mhz)
    assert Path(report["bitstream"]).stat().st_size > 1000
    logic = report["utilisation"]["logic"]
    assert 0 < logic["used"] <= logic["available"]
    assert report["timing_met"] and report["fmax_mhz"] >= report["clock_target_mhz"], report


@pytest.mark.slow
def test_icebreaker_with_weights_in_spram(tmp_path):
    # 64-510-10: 37,740 weights, more than the UP5K's block RAM holds beside the state and
    # the frame buffer; --weights auto puts them in two SPRAMs (loaded over the serial port)
    network = tmp_path / "wide.tscn"
    write_network(network, random_network((64, 510, 10), 16, FixedPointFormat(), seed=1))
    report = build("icebreaker", network, lanes=2, out=tmp_path / "build", seeds=(1,))
    assert report["weight_memory"] == "spram"
    # placed and routed again with seed 1: a few MHz from nextpnr's default
    assert abs(report["seed_fmax_mhz"]["1"] - report["fmax_mhz"]) < 10
    assert report["seeds_met"] == (report["seed_fmax_mhz"]["1"] >= 12)
    assert report["utilisation"]["spram"] == {"used": 2, "available": 4}
    assert report["memory_estimate"]["total"] == report["utilisation"]["ram"]["used"]
    assert report["timing_met"]
