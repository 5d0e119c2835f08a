"""rtl.build without the toolchain: boards, PLL settings, sizing, errors."""

import subprocess
import sys

import pytest

from fpga.boards import BOARDS, get_board, ice40_pll
from model.fixedpoint import FixedPointFormat
from rtl.build import estimate_cycles, estimate_memories
from rtl.config import AcceleratorConfig, NetworkMismatch


def test_list_boards_and_unknown_board():
    out = subprocess.run([sys.executable, "-m", "rtl.build", "--list-boards"],
                         capture_output=True, text=True, check=True).stdout
    for name in BOARDS:
        assert name in out
    done = subprocess.run([sys.executable, "-m", "rtl.build", "--board", "nexys"],
                          capture_output=True, text=True)
    assert done.returncode != 0
    assert "unknown board 'nexys'; known boards: icebreaker" in done.stderr


@pytest.mark.parametrize("f_out", [24, 30, 36, 48])
def test_ice40_pll_meets_the_data_sheet_ranges(f_out):
    divr, divf, divq, filter_range, achieved = ice40_pll(12.0, f_out)
    pfd = 12.0 / (divr + 1)
    assert 10 <= pfd <= 133 and 533 <= pfd * (divf + 1) <= 1066 and 1 <= divq <= 6
    assert achieved == pytest.approx(12.0 * (divf + 1) / ((divr + 1) * 2 ** divq))
    assert abs(achieved - f_out) / f_out < 0.02


def test_a_network_too_large_for_the_board_names_the_shortfall():
    config = AcceleratorConfig(64, (512, 10), 16, FixedPointFormat(), lanes=4)
    with pytest.raises(NetworkMismatch, match=r"icebreaker: the network needs about \d+ block "
                                              r"RAMs .* the board has 30 \(\d+ too many\)"):
        estimate_memories(get_board("icebreaker"), config)
    small = AcceleratorConfig(64, (128, 10), 16, FixedPointFormat(), lanes=2)
    assert estimate_memories(get_board("icebreaker"), small)["total"] <= 30


@pytest.mark.parametrize("lanes, measured", [(1, 24863), (2, 12800), (8, 3673)])
def test_cycle_estimate_is_close_to_the_measured_count(lanes, measured):
    # cycles per inference measured by the RTL's counter (benchmarks/bench_accelerator.py:
    # cocotb, digits 64-128-10, N = 16; 113 input and 235 hidden spikes per image)
    config = AcceleratorConfig(64, (128, 10), 16, FixedPointFormat(), lanes=lanes)
    assert 0.9 < estimate_cycles(config, [113.0, 235.0]) / measured < 1.1
