"""rtl.build without the toolchain: boards, PLL settings, sizing, errors."""

import subprocess
import sys

import pytest

from rtl.boards import BOARDS, ecp5_pll, get_board, ice40_pll
from model.fixedpoint import FixedPointFormat
from rtl.build import choose_weight_memory, estimate_cycles, estimate_memories
from rtl.config import AcceleratorConfig, NetworkMismatch
from rtl.golden import random_network, random_residual


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


@pytest.mark.parametrize("f_out", [20.0, 33.3, 48.0, 50.0, 60.0, 100.0, 200.0])
def test_ecp5_pll_meets_the_data_sheet_ranges(f_out):
    clki_div, clkfb_div, clkop_div, achieved = ecp5_pll(25.0, f_out)
    assert 3.125 <= 25.0 / clki_div <= 400 and 400 <= achieved * clkop_div <= 800
    assert 1 <= clki_div <= 128 and 1 <= clkfb_div <= 128 and 1 <= clkop_div <= 128
    assert achieved == pytest.approx(25.0 * clkfb_div / clki_div)
    assert abs(achieved - f_out) / f_out < 0.03


def test_the_build_runs_at_the_clock_the_pll_makes():
    from rtl.build import plan_clock
    pll, clock, divisor = plan_clock(get_board("ulx3s-85f"), 48.0, 1_000_000)
    assert pll == (8, 15, 13, 46.875) and clock == 46.875 and divisor == 47  # 25 * 15 / 8
    assert plan_clock(get_board("icebreaker"), 12.0, 1_000_000) == (None, 12.0, 12)
    with pytest.raises(ValueError, match=r"no ECP5 PLL setting gives 500.0 MHz"):
        plan_clock(get_board("ulx3s-85f"), 500.0, 1_000_000)
    with pytest.raises(ValueError, match=r"4000000 baud is too fast for a 12 MHz clock"):
        plan_clock(get_board("icebreaker"), 12.0, 4_000_000)


def test_a_baud_rate_the_clock_cannot_make_is_refused():
    """The UART divides the clock by a whole number: a rate that lands too far off is
    refused, naming how far and the limit, before any training or tool runs."""
    from rtl.build import baud_tolerance, plan_clock
    with pytest.raises(ValueError, match=r"7000000 baud from a 60 MHz clock: the UART divides "
                                         r"by 9 and makes 6666667 baud, 4.8% off; at 9 clocks "
                                         r"a bit at most 2.0% keeps the link reliable"):
        plan_clock(get_board("icesugar"), 60.0, 7_000_000)
    # 46.875 MHz (the ECP5 PLL for 48) / 47 is 0.27% off 1 Mbaud: accepted
    assert plan_clock(get_board("ulx3s-85f"), 48.0, 1_000_000)[2] == 47
    assert plan_clock(get_board("icebreaker"), 12.0, 3_000_000)[2] == 4
    assert baud_tolerance(12) == pytest.approx((0.5 - 1 / 12) / 19)
    done = subprocess.run([sys.executable, "-m", "rtl.build", "--board", "icesugar", "--clock",
                           "60", "--baud", "7000000"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1 and done.stderr.startswith("error: 7000000 baud from a 60 MHz")


def test_the_usb_uart_s_rates_are_the_ones_ftdi_chips_make():
    """FTDI divides a base rate (12 Mbaud on the H series, 3 Mbaud on the FT231X) by
    n + k/8, with 0 and 1 special; a build asks only for rates the board's chip makes."""
    from rtl.boards import FT231X, FT2232H
    from rtl.build import plan_clock
    assert FT2232H.rates()[:6] == [12_000_000, 8_000_000, 6_000_000, 4_000_000, 3_000_000,
                                   2_400_000]
    assert FT231X.rates() == [3_000_000, 2_000_000, 1_500_000, 1_000_000]
    assert FT2232H.closest(2_500_000) == pytest.approx(12e6 / 4.75)
    assert FT231X.closest(2_500_000) in (2e6, 3e6) and FT231X.closest(921_600) == 3e6 / 3.25
    with pytest.raises(ValueError, match=r"icebreaker's FT2232H cannot make 7000000 baud \(the "
                                         r"closest is 6000000\); it makes 12000000, 8000000, "
                                         r"6000000"):
        plan_clock(get_board("icebreaker"), 36.0, 7_000_000)
    with pytest.raises(ValueError, match=r"ulx3s-85f's FT231X cannot make 6000000 baud"):
        plan_clock(get_board("ulx3s-85f"), 48.0, 6_000_000)
    # 6 Mbaud from 36 MHz: 6 clocks a bit, exact; 3 Mbaud on the ULX3S at 75 MHz: 25
    assert plan_clock(get_board("icebreaker"), 36.0, 6_000_000)[2] == 6
    assert plan_clock(get_board("ulx3s-85f"), 75.0, 3_000_000)[2] == 25
    # but 48 MHz is 46.875 MHz from the ECP5 PLL: 16 clocks a bit make 2.93 Mbaud, 2.3% off
    with pytest.raises(ValueError, match=r"3000000 baud from a 46.88 MHz clock: the UART "
                                         r"divides by 16 and makes 2929688 baud, 2.3% off"):
        plan_clock(get_board("ulx3s-85f"), 48.0, 3_000_000)


def test_a_clock_no_pll_makes_is_refused_with_one_line():
    """Refused before any training or tool, with the error alone (no stray warning of an
    unused elaboratable after it)."""
    done = subprocess.run([sys.executable, "-m", "rtl.build", "--clock", "500"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == ("error: no iCE40 PLL setting gives 500.0 MHz from 12.0 MHz "
                           "(outputs 16 to 275 MHz)\n")
    assert done.stdout == ""


def test_build_stages_are_shown_as_the_tool_logs_reach_them(tmp_path):
    """Each stage is printed once, in order, when its tool's log shows it; logs left by an
    earlier build are removed first so they cannot count."""
    import io
    import time

    from rtl.build_stages import BuildStages

    (tmp_path / "tsc.tim").write_text("Info: Program finished normally.\n")  # stale
    stream = io.StringIO()

    def lines():
        return [line.split("] ", 1)[1] for line in stream.getvalue().splitlines()]

    def wait_for(count):
        deadline = time.monotonic() + 10
        while len(lines()) < count and time.monotonic() < deadline:
            time.sleep(0.01)

    with BuildStages(tmp_path, "tsc", stream, interval=0.01):
        assert not (tmp_path / "tsc.tim").exists()
        (tmp_path / "tsc.rpt").write_text("1. Executing RTLIL frontend.\n")
        wait_for(2)
        (tmp_path / "tsc.tim").write_text("Info: Packing constants..\n")
        wait_for(3)
        assert lines() == ["elaboration and RTLIL (Amaranth)", "synthesis (Yosys)",
                           "packing and placement (nextpnr)"]
        with (tmp_path / "tsc.tim").open("a") as log:
            log.write("Info: Routing..\nInfo: Program finished normally.\n")
    assert lines()[3:] == ["routing (nextpnr)", "bitstream (pack)", "done"]

    failed = io.StringIO()
    with pytest.raises(RuntimeError), BuildStages(tmp_path, "tsc", failed, interval=0.01):
        raise RuntimeError("yosys failed")
    assert "done" not in failed.getvalue()


def test_a_network_too_large_for_the_board_names_the_shortfall():
    config = AcceleratorConfig(64, (512, 10), 16, FixedPointFormat(), lanes=4)
    with pytest.raises(NetworkMismatch, match=r"icebreaker: with weights in block RAM the "
                                              r"network needs about \d+ block RAMs .* the board "
                                              r"has 30 \(\d+ too many\).* or --weights spram"):
        estimate_memories(get_board("icebreaker"), config)
    small = AcceleratorConfig(64, (128, 10), 16, FixedPointFormat(), lanes=2)
    # 20 for weights, 6 for state, 1 for the spike summary, 2 for the frame buffer: the 29
    # that nextpnr reports
    assert estimate_memories(get_board("icebreaker"), small) == {
        "weights": 20, "state": 6, "summary": 1, "buffer": 2, "total": 29, "spram": 0}


def test_the_run_summary_is_counted_where_runs_are_built():
    # 8x8 sources of 4-5 channels: at 8 lanes (2-word chunks) 6 sources of 64 chunks and
    # 16 runs each, 384 and 96 words of 16 bits; at 4 lanes no runs
    qnet, _ = random_residual(1, FixedPointFormat(), images=1)
    board = get_board("ulx3s-85f")
    wide, narrow = (AcceleratorConfig.from_network(qnet, lanes) for lanes in (8, 4))
    assert wide.runs and (wide.summary_depth, wide.run_depth) == (384, 96)
    assert estimate_memories(board, wide)["summary"] == 2     # one 1024 x 18 block each
    assert not narrow.runs and estimate_memories(board, narrow)["summary"] == 1


def test_weights_go_to_spram_when_block_ram_is_too_small():
    board = get_board("icebreaker")
    small = random_network((64, 128, 10), 16, FixedPointFormat(), seed=1)
    config, _ = choose_weight_memory(board, small, 2)
    assert config.weight_memory == "block"
    # 64-510-10: 18,870 weight words per lane, two SPRAMs deep for the one lane pair
    large = random_network((64, 510, 10), 16, FixedPointFormat(), seed=1)
    config, memories = choose_weight_memory(board, large, 2)
    assert config.weight_memory == "spram" and memories["spram"] == 2
    assert memories["weights"] == 0 and memories["total"] <= board.ebr
    with pytest.raises(NetworkMismatch, match=r"block RAM .* too many"):
        choose_weight_memory(board, large, 2, "block")


def test_a_network_too_large_for_spram_names_both_shortfalls():
    # 256-512-10 on 2 lanes: 68,096 weight words per lane, five SPRAMs deep
    huge = random_network((256, 512, 10), 16, FixedPointFormat(), seed=1)
    with pytest.raises(NetworkMismatch, match=r"(?s)with weights in block RAM.*\n.*needs 5 "
                                              r"SPRAMs .* the board has 4 \(1 too many\)"):
        choose_weight_memory(get_board("icebreaker"), huge, 2)
    small = random_network((16, 12, 4), 8, FixedPointFormat(), seed=1)
    with pytest.raises(NetworkMismatch, match=r"ice40-hx8k-evn: .* needs 1 SPRAMs .* the board "
                                              r"has 0; use --weights block"):
        choose_weight_memory(get_board("ice40-hx8k-evn"), small, 1, "spram")


@pytest.mark.parametrize("lanes, measured", [(1, 22141), (2, 11276), (8, 3259)])
def test_cycle_estimate_is_close_to_the_measured_count(lanes, measured):
    # cycles per inference measured by the RTL's counter (benchmarks/bench_accelerator.py:
    # cocotb, digits 64-128-10, N = 16; 113 input and 235 hidden spikes per image)
    config = AcceleratorConfig(64, (128, 10), 16, FixedPointFormat(), lanes=lanes)
    assert 0.9 < estimate_cycles(config, [113.0, 235.0]) / measured < 1.1


def _cifar_resnet20(path, width):
    from model.netfile import write_network
    from model.zoo import resnet20
    from rtl.golden import randomized
    write_network(path, randomized(resnet20(width=width).eval(), (3, 32, 32), 16,
                                   FixedPointFormat(), seed=0, threshold_range=(200, 2000)))
    return str(path)


def test_cifar_shaped_resnet20_on_the_ulx3s_is_estimated_or_refused(tmp_path, capsys):
    from rtl.build import main
    # a quarter-width ResNet-20 (4-16 channels) fits the ECP5-85F's block RAM at 4 lanes
    small = _cifar_resnet20(tmp_path / "small.tscn", 0.25)
    main(["--board", "ulx3s-85f", "--network", small, "--lanes", "4", "--estimate"])
    out = capsys.readouterr().out
    assert "3072-4096-" in out and "(9 shortcuts), 4 lanes, weights in block" in out
    assert "block RAMs 163 (12 weights, 140 state, 10 spike summary, 1 frame buffer)" in out
    assert "cycles per inference (estimated)" in out
    # the full width needs more neuron state than the board's 208 block RAMs
    full = _cifar_resnet20(tmp_path / "full.tscn", 1.0)
    with pytest.raises(SystemExit, match=r"needs about 630 block RAMs \(136 for weights, 480 "
                                         r"for neuron state, 13 for the spike summary.*208 "
                                         r"\(422 too many\)"):
        main(["--board", "ulx3s-85f", "--network", full, "--lanes", "4", "--estimate"])


def test_the_report_gives_throughput_at_the_clock_timing_supports():
    """An unmet clock is not the core's speed: images/s come at nextpnr's fmax, and say so."""
    from rtl.build import format_report
    report = {"board": "icebreaker", "bitstream": "b/tsc.bin", "build_seconds": 60.0,
              "utilisation": {"logic": {"used": 4000, "available": 5280}},
              "fmax_mhz": 35.8, "clock_target_mhz": 60.0, "timing_met": False,
              "critical_path": None, "weight_memory": "block",
              "cycles_per_inference_estimate": 12818, "lanes": 2,
              "images_per_s_core": 35.8e6 / 12818, "core_clock_mhz": 35.8,
              "images_per_s_link": 714, "baud": 1_000_000, "dvdt_bits": 14, "v_bits": 18,
              "network_dvdt_bits": 16, "network_v_bits": 24}
    text = format_report(report)
    assert "fmax   35.8 MHz (target 60.0 MHz, NOT MET)" in text
    assert ("accumulators: dV/dt 14 bits and V 18 (the network's 16 and 24: narrower where no "
            "input can saturate them)") in text
    assert ("12818 cycles per inference (estimated, 2 lanes): 2793 images/s in the core at "
            "35.8 MHz (its fmax: the clock asked is not met), 714 images/s over the 1000000 "
            "baud link") in text
    met = format_report({**report, "fmax_mhz": 70.0, "timing_met": True,
                         "images_per_s_core": 60e6 / 12818, "core_clock_mhz": 60.0})
    assert "4681 images/s in the core at 60 MHz, 714" in met


def test_the_report_gives_the_fmax_spread_over_seeds(monkeypatch, capsys):
    """``--seeds``: each seed's fmax, the spread and how many meet the clock; an unmet
    clock names a seed that meets it."""
    from rtl import build as module
    report = {"board": "icebreaker", "bitstream": "b/tsc.bin", "build_seconds": 60.0,
              "utilisation": {}, "fmax_mhz": 35.1, "clock_target_mhz": 36.0,
              "timing_met": False, "critical_path": None, "weight_memory": "block",
              "cycles_per_inference_estimate": 12000, "lanes": 2,
              "images_per_s_core": 35.1e6 / 12000, "core_clock_mhz": 35.1,
              "images_per_s_link": 2439, "baud": 1_000_000, "dvdt_bits": 16, "v_bits": 24,
              "network_dvdt_bits": 16, "network_v_bits": 24,
              "seed_fmax_mhz": {"1": 36.4, "2": 34.0, "3": 37.9}, "seeds_met": 2}
    assert ("fmax over seeds 1, 2, 3: 36.4 / 34.0 / 37.9 MHz (spread 3.9 MHz; 2 of 3 meet "
            "36.0 MHz)") in module.format_report(report)
    monkeypatch.setattr(module, "build", lambda *args: report)
    with pytest.raises(SystemExit) as done:
        module.main(["--clock", "36", "--seeds", "1,2,3"])
    assert ("below the 36.0 MHz clock; the bitstream would be unreliable: rebuild with "
            "--seed 1 (it meets the clock) or with --clock 35 or less") in str(done.value)


def test_a_design_larger_than_the_fpga_is_named(tmp_path):
    """nextpnr's utilisation table over 100% becomes the error, with both counts."""
    from rtl.boards import get_board
    from rtl.build import _failure
    (tmp_path / "tsc.tim").write_text(
        "Info: Device utilisation:\nInfo: \t         ICESTORM_LC:    5477/   5280   103%\n"
        "Info: \t        ICESTORM_RAM:      15/     30    50%\n"
        "ERROR: Failed to expand region (0, 0) |_> (25, 31) of 5476 ICESTORM_LCs\n")
    assert _failure(tmp_path, get_board("icebreaker"), 4) == (
        "icebreaker: the design needs 5477 ICESTORM_LC cells and the FPGA has 5280; build "
        "with fewer --lanes (now 4) or for a larger board (python -m rtl.build --list-boards)")
    (tmp_path / "tsc.tim").write_text("Info: ok\nERROR: something else\n")
    assert _failure(tmp_path, get_board("icebreaker"), 4).startswith(
        "nextpnr failed: ERROR: something else")
