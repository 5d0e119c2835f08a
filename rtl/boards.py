"""Board targets: which amaranth-boards platform, clock, FPGA resources and toolchain."""

from dataclasses import dataclass

__all__ = ["UsbUart", "FT2232H", "FT231X", "Board", "BOARDS", "get_board", "ice40_pll",
           "ecp5_pll"]


@dataclass(frozen=True)
class UsbUart:
    """The host's side of a board's serial link: an FTDI chip, which makes a baud rate by
    dividing its base rate by ``n + k / 8`` (FTDI AN232B-05 and AN_120): ``n`` from 2 to
    16383 and ``k`` from 0 to 7, or the two special divisors 0 (the base rate) and 1 (two
    thirds of it)."""

    chip: str
    base: int  # baud at divisor 0: 3 Mbaud (FT231X, FT232R), 12 Mbaud (the H series)

    def closest(self, baud):
        """The rate the chip makes closest to ``baud``."""
        if baud >= self.base * 2 / 3:
            return min((self.base, self.base * 2 / 3), key=lambda r: abs(r - baud))
        eighths = min(max(round(8 * self.base / baud), 16), 16383 * 8 + 7)
        return self.base * 8 / eighths

    def rates(self, low=1_000_000):
        """The rates it makes from ``low`` up with a whole divisor (the fast, common ones)."""
        made = [self.base, self.base * 2 // 3]
        made += [self.base // n for n in range(2, self.base // low + 1) if self.base % n == 0]
        return sorted(set(made), reverse=True)


FT2232H = UsbUart("FT2232H", 12_000_000)
FT231X = UsbUart("FT231X", 3_000_000)


@dataclass(frozen=True)
class Board:
    name: str
    module: str          # amaranth_boards module
    platform: str        # platform class in it
    family: str          # "ice40" or "ecp5"
    clock_mhz: float     # the board's oscillator
    logic: int           # logic cells (iCE40) or LUT4 (ECP5)
    ebr: int             # block RAMs (their shapes: rtl.build.BLOCK_SHAPES)
    spram: int = 0
    dsp: int = 0
    notes: str = ""
    usb_uart: UsbUart = None  # None: a bridge whose rates are not modelled

    def load_platform(self):
        import importlib
        cls = getattr(importlib.import_module(f"amaranth_boards.{self.module}"), self.platform)

        class BuildOnly(cls):
            # Some platforms (ULX3S) list their programmer as required even to build; a
            # build needs only Yosys, nextpnr and the packer.
            @property
            def required_tools(self):
                return [tool for tool in super().required_tools if tool != "openFPGALoader"]

        return BuildOnly()


BOARDS = {b.name: b for b in (
    Board("icebreaker", "icebreaker", "ICEBreakerPlatform", "ice40", 12.0, 5280, 30, 4, 8,
          "iCE40UP5K; FT2232H channel B is the UART", FT2232H),
    Board("icesugar", "icesugar", "ICESugarPlatform", "ice40", 12.0, 5280, 30, 4, 8,
          "iCE40UP5K"),
    Board("ice40-hx8k-evn", "ice40_hx8k_b_evn", "ICE40HX8KBEVNPlatform", "ice40", 12.0, 7680,
          32, 0, 0, "iCE40HX8K breakout; FT2232H UART", FT2232H),
    Board("ulx3s-85f", "ulx3s", "ULX3S_85F_Platform", "ecp5", 25.0, 83640, 208, 0, 156,
          "ECP5 LFE5U-85F; FT231X UART", FT231X),
)}


def get_board(name):
    if name not in BOARDS:
        raise ValueError(f"unknown board {name!r}; known boards: {', '.join(BOARDS)} "
                         f"(python -m rtl.build --list-boards)")
    return BOARDS[name]


def ice40_pll(f_in_mhz, f_out_mhz):
    """iCE40 PLL settings (DIVR, DIVF, DIVQ, FILTER_RANGE, achieved MHz) closest to
    ``f_out_mhz``, within the data sheet's PFD (10-133 MHz) and VCO (533-1066 MHz) ranges."""
    best = None
    for divr in range(16):
        pfd = f_in_mhz / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                out = vco / (1 << divq)
                if best is None or abs(out - f_out_mhz) < abs(best[4] - f_out_mhz):
                    filter_range = next(i for i, top in enumerate((17, 26, 44, 66, 101, 1e9), 1)
                                        if pfd < top)
                    best = (divr, divf, divq, filter_range, out)
    if best is None or not 16 <= f_out_mhz <= 275:
        raise ValueError(f"no iCE40 PLL setting gives {f_out_mhz} MHz from {f_in_mhz} MHz "
                         f"(outputs 16 to 275 MHz)")
    return best


def ecp5_pll(f_in_mhz, f_out_mhz):
    """ECP5 EHXPLLL settings (CLKI_DIV, CLKFB_DIV, CLKOP_DIV, achieved MHz) closest to
    ``f_out_mhz``, fed back from CLKOP (``f_out = f_in * CLKFB_DIV / CLKI_DIV``), within the
    data sheet's ranges: PFD 3.125-400 MHz, VCO (``f_out * CLKOP_DIV``) 400-800 MHz, output
    3.125-400 MHz; of equally close settings, the one whose VCO is nearest 600 MHz."""
    if not 3.125 <= f_out_mhz <= 400:
        raise ValueError(f"no ECP5 PLL setting gives {f_out_mhz} MHz (outputs 3.125 to "
                         f"400 MHz)")
    best = None
    for clki_div in range(1, 129):
        pfd = f_in_mhz / clki_div
        if not 3.125 <= pfd <= 400:
            continue
        for clkfb_div in range(1, 81):
            out = pfd * clkfb_div
            if not 3.125 <= out <= 400:
                continue
            clkop_div = max(1, min(128, round(600 / out)))
            vco = out * clkop_div
            if not 400 <= vco <= 800:
                continue
            key = (round(abs(out - f_out_mhz), 9), abs(vco - 600))
            if best is None or key < best[0]:
                best = (key, (clki_div, clkfb_div, clkop_div, out))
    if best is None:
        raise ValueError(f"no ECP5 PLL setting gives {f_out_mhz} MHz from {f_in_mhz} MHz")
    return best[1]
