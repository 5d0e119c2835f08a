"""The accumulators' widths a build takes: the narrowest proven to run its network exactly
(:func:`rtl.config.exact_format`), and the networks the accelerator then accepts or refuses
(:meth:`rtl.config.AcceleratorConfig.check_widths`), naming the widths and the fix. That
the proven widths never saturate is tested in ``tests/test_integer_model.py``."""

from dataclasses import replace

import pytest

from model.fixedpoint import FixedPointFormat
from model.netfile import write_network
from rtl.config import AcceleratorConfig, NetworkMismatch, exact_format
from rtl.golden import random_network


def _network(fmt=FixedPointFormat(), seed=2, weight_max=127, sizes=(4, 5, 3), steps=5):
    return random_network(sizes, steps, fmt, seed=seed, weight_max=weight_max)


def test_exact_widths_are_the_proven_ones_where_narrower_than_the_networks():
    qnet = _network()
    dvdt, v = qnet.saturation_free_widths()
    assert dvdt < 16 and v < 24
    assert exact_format(qnet) == FixedPointFormat(8, dvdt, v)
    narrow = _network(FixedPointFormat(8, dvdt - 1, v + 1))   # may saturate dV/dt: kept
    assert exact_format(narrow) == FixedPointFormat(8, dvdt - 1, v)


def test_exact_widths_keep_room_for_a_block_length():
    qnet = _network(weight_max=1, sizes=(1, 1, 2), steps=16)   # |w| sums of 1: 2 bits
    assert qnet.saturation_free_widths()[0] == 2
    assert exact_format(qnet).dvdt_bits == 5                   # a block length of N = 16: 4


def test_exact_widths_of_several_networks_run_each_of_them():
    nets = [_network(seed=seed, weight_max=top) for seed, top in ((1, 3), (2, 127), (3, 40))]
    fmt = exact_format(*nets)
    widths = [n.saturation_free_widths() for n in nets]
    assert (fmt.dvdt_bits, fmt.v_bits) == tuple(max(w[i] for w in widths) for i in (0, 1))
    config = AcceleratorConfig.from_network(nets[0], 2, fmt=fmt)
    for qnet in nets:
        config.check_network(qnet)
    with pytest.raises(ValueError, match="one or more networks of one format"):
        exact_format(nets[0], _network(FixedPointFormat(8, 12, 20)))


def test_a_network_needing_more_bits_than_the_accelerator_is_refused():
    qnet = _network()
    dvdt, v = qnet.saturation_free_widths()
    AcceleratorConfig.from_network(qnet, 1, fmt=FixedPointFormat(8, dvdt, v))
    with pytest.raises(NetworkMismatch, match=rf"the network's dV/dt can need {dvdt} bits .* "
                                              rf"accelerator's dV/dt has {dvdt - 1}: rebuild "
                                              rf"it with --widths network \(16 bits\)"):
        AcceleratorConfig.from_network(qnet, 1, fmt=FixedPointFormat(8, dvdt - 1, v))
    small = _network(weight_max=3)
    config = AcceleratorConfig.from_network(small, 1, fmt=exact_format(small))
    with pytest.raises(NetworkMismatch, match=rf"the network's dV/dt can need {dvdt} bits"):
        config.check_network(qnet)                               # as the host checks a load


def test_a_network_that_saturates_runs_only_at_its_own_widths():
    qnet = random_network((4, 5, 3), 5, FixedPointFormat(8, 16, 8), seed=2,
                          threshold_range=(1, 100))
    assert qnet.saturation_free_widths()[1] > 8
    AcceleratorConfig.from_network(qnet, 1, fmt=FixedPointFormat(8, 16, 8))
    with pytest.raises(NetworkMismatch, match=r"the network's V has 8 bits and can saturate "
                                              r"there \(it can need \d+\); the accelerator's "
                                              r"has 24, so their results would differ: export "
                                              r"the network with --v-bits 24"):
        AcceleratorConfig.from_network(qnet, 1, fmt=FixedPointFormat(8, 16, 24))


def test_the_build_estimate_reports_both_widths(tmp_path):
    from rtl.build import estimate, format_estimate
    qnet = _network(sizes=(64, 32, 10), weight_max=40, steps=16)
    write_network(tmp_path / "net.tscn", qnet)
    proven = estimate("icebreaker", tmp_path / "net.tscn", samples=2)
    dvdt, v = qnet.saturation_free_widths()
    assert (proven["dvdt_bits"], proven["v_bits"]) == (dvdt, v)
    assert (proven["network_dvdt_bits"], proven["network_v_bits"]) == (16, 24)
    assert f"dV/dt {dvdt} bits and V {v} (the network's 16 and 24" in format_estimate(proven)
    own = estimate("icebreaker", tmp_path / "net.tscn", samples=2, widths="network")
    assert (own["dvdt_bits"], own["v_bits"]) == (16, 24)
    assert "dV/dt 16 bits and V 24\n" in format_estimate(own)
    with pytest.raises(ValueError, match=r"widths must be one of \('proven', 'network'\)"):
        estimate("icebreaker", tmp_path / "net.tscn", samples=2, widths="narrow")
