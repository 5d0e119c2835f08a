import pytest
import torch

from model import encoding


def test_codes_follow_eq1_by_hand():
    # N = 5: p* = floor(|p| * 4) + 1 and the code is sgn(p) * (p* - 1).
    x = torch.tensor([0.6, -1.0, 0.2, 0.25, 0.0, -0.5, 1.7])
    assert encoding.input_codes(x, 5, "floor").tolist() == [2, -4, 0, 1, 0, -2, 4]


def test_nearest_codes_round_half_up_in_magnitude_by_hand():
    # N = 5: |p| * 4 rounded half up, the sign kept: 2.4 -> 2, 2.5 -> 3, 0.5 -> 1, 0.49 -> 0.
    x = torch.tensor([0.6, -0.625, 0.125, -0.1225, 0.0, 0.9, -1.7], dtype=torch.float64)
    assert encoding.input_codes(x, 5).tolist() == [2, -3, 1, 0, 0, 4, -4]
    assert encoding.input_codes(x, 5, "nearest").tolist() == [2, -3, 1, 0, 0, 4, -4]
    with pytest.raises(ValueError, match="unknown input rounding 'up'; choose one of nearest, "
                                         "floor"):
        encoding.input_codes(x, 5, "up")


def test_tsc_spikes_follow_eq2_by_hand():
    spikes = encoding.tsc_spikes(torch.tensor([2, -4, 0, 1]), 5)
    assert spikes.tolist() == [
        [1, 0, -1, 0, 0],    # p* = 3: sgn(p) at t=1, -sgn(p) at t=3
        [-1, 0, 0, 0, 1],    # p = -1: p* = N = 5
        [0, 0, 0, 0, 0],     # p* = 1: no spike
        [1, -1, 0, 0, 0],    # p* = 2
    ]


def test_tsc_block_length_equals_code():
    codes = torch.arange(-15, 16)
    block = encoding.block_from_spikes(encoding.tsc_spikes(codes, 16))
    assert block.sum(-1).tolist() == codes.tolist()
    assert (encoding.tsc_spikes(codes, 16) != 0).sum(-1).max() == 2


def test_tsc_rejects_codes_out_of_range():
    with pytest.raises(ValueError, match=r"input codes must lie in \[-4, 4\] for 5 steps"):
        encoding.tsc_spikes(torch.tensor([5]), 5)


def test_ttfs_spike_time_is_n_plus_1_minus_pstar():
    spikes = encoding.ttfs_spikes(torch.tensor([2, -4, 0]), 5)
    # t_s = N + 1 - p* = 6 - 3 = 3 (index 2); p = -1: t_s = 1 (index 0); zero: no spike.
    assert spikes.tolist() == [[0, 0, 1, 0, 0], [-1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]


def test_poisson_rate_and_sign(generator):
    spikes = encoding.poisson_spikes(torch.tensor([0.3, -0.7, 0.0]), 20000, generator)
    rates = spikes.float().mean(-1)
    assert abs(rates[0] - 0.3) < 0.02 and abs(rates[1] + 0.7) < 0.02 and rates[2] == 0
    assert spikes[0].min() == 0 and spikes[1].max() == 0


def test_constant_input_repeats_the_value():
    assert encoding.constant_input(torch.tensor([0.5, -2.0]), 3).tolist() == [
        [0.5, 0.5, 0.5], [-1.0, -1.0, -1.0]]


@pytest.mark.parametrize("steps", [1, 0, 2.5])
def test_steps_must_be_at_least_two(steps):
    with pytest.raises(ValueError, match="steps must be an integer of at least 2"):
        encoding.input_codes(torch.zeros(1), steps)
