# amaranth: UnusedElaboratable=no
"""The bounded model check (``verif.bmc``) on designs whose first failing cycle is known."""

import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume

from verif.bmc import check, read_aiger, to_aiger


class Counter(Elaboratable):
    """A 4-bit counter from reset; fails when it reaches ``limit`` (unless ``hold`` stops it)."""

    def __init__(self, limit, assume_hold=False):
        self.limit, self.assume_hold = limit, assume_hold
        self.hold = Signal()

    def elaborate(self, platform):
        m = Module()
        count = Signal(4)
        with m.If(~self.hold):
            m.d.sync += count.eq(count + 1)
        m.d.comb += Assert(count != self.limit)
        if self.assume_hold:
            m.d.comb += Assume(self.hold)
        return m


def _aiger(design, directory):
    return to_aiger(rtlil.convert(design, ports=[design.hold]), directory)


def test_the_first_failing_cycle(tmp_path):
    # cycle 0 holds the reset (count 0), cycle 1 the reset state (0), cycle 6 count 5
    aiger = _aiger(Counter(5), tmp_path)
    assert check(aiger, 7, at_start=["rst"]) == 6
    assert check(aiger, 6, at_start=["rst"]) is None


def test_assumptions_constrain_every_cycle(tmp_path):
    assert check(_aiger(Counter(5, assume_hold=True), tmp_path), 12, at_start=["rst"]) is None


def test_flip_flops_start_at_their_init_value(tmp_path):
    # without the reset the counter still starts at its init value, 0
    assert check(_aiger(Counter(3), tmp_path), 5) == 3


def test_an_unknown_input_is_named():
    with pytest.raises(ValueError, match="no input named reset; the inputs are rst"):
        check(read_aiger(b"aig 1 1 0 0 0\n", "input 0 0 rst\n"), 1, at_start=["reset"])


@pytest.mark.parametrize("data, message", [
    (b"aag 1 1 0 1 0\n2\n2\n", "not a binary AIGER file"),
    (b"aig 3 1 1 0 1 1\n4\n", "cut short"),
    (b"aig 3 1 1 0 1 0 0 1\n4\n2\n", "justice"),
    (b"aig 9 1 1 0 1\n4\n\x02\x02", "maximum variable 9"),
])
def test_bad_files_are_refused(data, message):
    with pytest.raises(ValueError, match=message):
        read_aiger(data)
