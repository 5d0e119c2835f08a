# amaranth: UnusedElaboratable=no
"""The address generator against a plain enumeration of each spike's synapses."""

import random

import pytest
from amaranth import Elaboratable, Module
from amaranth.sim import Simulator

from model.fixedpoint import DEFAULT_FORMAT
from rtl.address import SourceCursor, SynapseBursts
from rtl.config import AcceleratorConfig, LayerGeometry, ceil_div


def synapses(shape, lanes, channel, row, column):
    """The ``(target state word, weight word, lanes)`` of a spike of source neuron
    ``(channel, row, column)``, enumerated from the definition: sum pooling, then every
    kernel tap that lands on an output pixel; lanes over output channels."""
    cgroups = ceil_div(shape.out[0], lanes)
    kh, kw = shape.kernel
    _, height, width = shape.pooled
    pooled_row, pooled_column = row // shape.pool, column // shape.pool
    if pooled_row >= height or pooled_column >= width:
        return []
    words = []
    for y in range(shape.out[1]):
        for x in range(shape.out[2]):
            ky = pooled_row + shape.padding - y * shape.stride
            kx = pooled_column + shape.padding - x * shape.stride
            if not (0 <= ky < kh and 0 <= kx < kw):
                continue
            for cg in range(cgroups):
                real = [cg * lanes + k < shape.out[0] for k in range(lanes)]
                words.append(((y * shape.out[2] + x) * cgroups + cg,
                              ((channel * kh + ky) * kw + kx) * cgroups + cg,
                              sum(1 << k for k, r in enumerate(real) if r)))
    return words


class _Pair(Elaboratable):
    def __init__(self, config):
        self.cursor, self.bursts = SourceCursor(config), SynapseBursts(config)

    def elaborate(self, platform):
        m = Module()
        m.submodules.cursor, m.submodules.bursts = self.cursor, self.bursts
        m.d.comb += [self.bursts.path.eq(self.cursor.path),
                     self.bursts.row.eq(self.cursor.row),
                     self.bursts.column.eq(self.cursor.column),
                     self.bursts.group.eq(self.cursor.group),
                     self.bursts.channel_row.eq(self.cursor.channel_row)]
        return m


def generated(config, window):
    """Drive the cursor over window ``window``'s source and the bursts for a spike of every
    source neuron; return ``{(channel, row, column): (index, words)}``."""
    shape, lanes = config.shapes[window], config.lanes
    channels, height, width = shape.source
    groups = ceil_div(channels, lanes)
    per_channel = shape.taps * config.channel_groups[window]
    dut = _Pair(config)
    cursor, bursts = dut.cursor, dut.bursts
    found = {}

    async def testbench(ctx):
        ctx.set(cursor.path, window)
        ctx.set(cursor.restart, 1)
        await ctx.tick()
        ctx.set(cursor.restart, 0)
        for y in range(height):
            for x in range(width):
                for group in range(groups):
                    ctx.set(bursts.prepare, 1)
                    await ctx.tick()
                    ctx.set(bursts.prepare, 0)
                    for k in range(lanes):
                        channel = group * lanes + k
                        if channel >= channels:
                            continue
                        index = ctx.get(cursor.index) + k
                        words = []
                        if not ctx.get(bursts.empty):
                            ctx.set(bursts.lane_offset, k * per_channel)
                            ctx.set(bursts.start, 1)
                            ctx.set(bursts.next, 1)
                            while True:
                                words.append((ctx.get(bursts.state_addr) -
                                              config.state_bases[window],
                                              ctx.get(bursts.weight_addr) -
                                              config.weight_bases[window],
                                              ctx.get(bursts.real)))
                                last = ctx.get(bursts.last)
                                await ctx.tick()
                                ctx.set(bursts.start, 0)
                                if last:
                                    break
                            ctx.set(bursts.next, 0)
                        found[channel, y, x] = (index, words)
                    ctx.set(cursor.advance, 1)
                    await ctx.tick()
                    ctx.set(cursor.advance, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return found


def random_shapes(rng):
    """A chain of random layers: convolutions (kernel 1-5, stride 1-3, padding up to
    kernel - 1) with sum pooling in front of some, then a Linear layer over the flattened
    (sometimes pooled) result."""
    channels, size = rng.randint(1, 5), rng.randint(3, 9)
    source, shapes = (channels, size, size), []
    convolutions = rng.randint(1, 2)
    while len(shapes) < convolutions:
        pool = rng.choice([1, 1, 2, 3]) if source[1] >= 3 else 1
        kernel = rng.choice([1, 3, 5])
        padding = rng.randint(0, kernel - 1)
        stride = rng.randint(1, 3)
        pooled = source[1] // pool
        side = (pooled + 2 * padding - kernel) // stride + 1
        if side < 1:
            continue  # draw another
        out = (rng.randint(1, 6), side, side)
        shapes.append(LayerGeometry(source, out, pool, (kernel, kernel), stride, padding))
        source = out
    pool = rng.choice([1, source[1]]) if source[1] > 1 else 1
    shapes.append(LayerGeometry(source, (rng.randint(1, 5), 1, 1), pool,
                                (source[1] // pool, source[2] // pool)))
    return shapes


@pytest.mark.parametrize("seed", range(8))
def test_bursts_visit_exactly_each_spikes_synapses(seed):
    rng = random.Random(seed)
    shapes = random_shapes(rng)
    lanes = rng.choice([1, 2, 4])
    config = AcceleratorConfig(shapes[0].inputs, tuple(g.neurons for g in shapes), 4,
                               DEFAULT_FORMAT, lanes=lanes, geometry=tuple(shapes))
    for window, shape in enumerate(shapes):
        found = generated(config, window)
        channels, height, width = shape.source
        for y in range(height):
            for x in range(width):
                for channel in range(channels):
                    index, words = found[channel, y, x]
                    assert index == (y * width + x) * channels + channel
                    assert words == synapses(shape, lanes, channel, y, x), \
                        (shape, lanes, channel, y, x)
