"""A 1,000-inference slice of the random regression (``python -m verif.regression`` runs
10,000): four drawn accelerators of 250 inferences each, every spike, potential, class and
counter compared with the golden model."""

import pytest

from verif.regression import draw_build, run_build

SEED, BUILDS, PER_BUILD = 0, 4, 250


@pytest.mark.parametrize("number", range(BUILDS))
def test_random_regression_slice(number):
    build = draw_build(SEED, number, PER_BUILD)
    assert build.inferences == PER_BUILD and len(build.networks) >= 2  # reloads, always
    result = run_build(build)
    assert not result.error, f"{result.build}: {result.error}"


def test_a_build_of_proven_widths_is_exact():
    """A drawn build (residual, weights in SPRAM, 8 lanes, a reload) whose dV/dt and V are
    both narrower than its networks' own, as ``rtl.build`` makes them by default: every
    spike, potential and counter is still the golden model's."""
    build = draw_build(SEED, 20, 120)
    own = build.networks[0][0].fmt
    assert build.fmt.dvdt_bits < own.dvdt_bits and build.fmt.v_bits < own.v_bits
    result = run_build(build)
    assert not result.error, f"{result.build}: {result.error}"


def test_the_slice_draws_what_the_regression_varies():
    builds = [draw_build(SEED, number, PER_BUILD) for number in range(BUILDS)]
    assert {b.kind for b in builds} == {"dense", "convolutional", "residual"}
    assert {b.weight_memory for b in builds} == {"block", "spram"}
    assert any(b.backpressure for b in builds) and not all(b.backpressure for b in builds)
    assert len({b.networks[0][0].fmt for b in builds}) == BUILDS
    assert any(b.networks[0][0].fmt.v_bits < 9 for b in builds)   # narrow V, loaded weights
