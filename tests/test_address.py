# amaranth: UnusedElaboratable=no
"""The address generator against a plain enumeration of each spike's synapses."""

import random

import pytest
from amaranth import Elaboratable, Module
from amaranth.sim import Simulator

from model.fixedpoint import DEFAULT_FORMAT
from rtl.address import SourceCursor, SynapseBursts
from rtl.config import AcceleratorConfig, InputPath, LayerGeometry, ceil_div


def synapses(shape, lanes, channel, row, column, gain=False):
    """The ``(target state word, weight word, lanes)`` of a spike of source neuron
    ``(channel, row, column)``, enumerated from the definition: sum pooling, then every
    kernel tap that lands on an output pixel; lanes over output channels. A gain reaches
    the spike's own channel at its pooled pixel, with the path's one weight word."""
    cgroups = ceil_div(shape.out[0], lanes)
    kh, kw = shape.kernel
    _, height, width = shape.pooled
    pooled_row, pooled_column = row // shape.pool, column // shape.pool
    if pooled_row >= height or pooled_column >= width:
        return []
    if gain:
        return [((pooled_row * width + pooled_column) * cgroups + channel // lanes, 0,
                 1 << channel % lanes)]
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


async def restart(ctx, cursor, number):
    """Put ``cursor`` on the first word of input path ``number``'s source."""
    ctx.set(cursor.path, number)
    ctx.set(cursor.restart, 1)
    await ctx.tick()
    ctx.set(cursor.restart, 0)


def generated(config, number):
    """Drive the cursor over input path ``number``'s source and the bursts for a spike of
    every source neuron; return ``{(channel, row, column): (index, words)}``."""
    path, lanes = config.paths[number], config.lanes
    shape = path.geometry
    channels, height, width = shape.source
    groups = ceil_div(channels, lanes)
    per_channel = 0 if path.gain else shape.taps * config.channel_groups[path.layer]
    dut = _Pair(config)
    cursor, bursts = dut.cursor, dut.bursts
    found = {}

    async def testbench(ctx):
        await restart(ctx, cursor, number)
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
                            ctx.set(bursts.lane, k)
                            ctx.set(bursts.start, 1)
                            ctx.set(bursts.next, 1)
                            while True:
                                words.append((ctx.get(bursts.state_addr) -
                                              config.state_bases[path.layer],
                                              ctx.get(bursts.weight_addr) -
                                              config.weight_bases[number],
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
    check_every_path(config)


def check_every_path(config):
    for number, path in enumerate(config.paths):
        found = generated(config, number)
        channels, height, width = path.geometry.source
        for y in range(height):
            for x in range(width):
                for channel in range(channels):
                    index, words = found[channel, y, x]
                    assert index == (y * width + x) * channels + channel
                    assert words == synapses(path.geometry, config.lanes, channel, y, x,
                                             path.gain), (path, config.lanes, channel, y, x)


@pytest.mark.parametrize("seed", range(6))
def test_shortcut_bursts_visit_exactly_each_spikes_synapses(seed):
    # a convolution keeping its shape, then a pooled 1x1 convolution whose junction adds a
    # pooled gain (identity) shortcut from the first layer and a pooled 1x1 convolution of
    # the inputs, then a classifier
    rng = random.Random(seed)
    channels, size, lanes = rng.randint(1, 5), rng.randint(2, 8), rng.choice([1, 2, 4])
    kernel, pool = rng.choice([1, 3, 5]), rng.choice([1, 2])
    first = LayerGeometry((channels, size, size), (channels, size, size), 1, (kernel, kernel),
                          1, kernel // 2)
    pooled = (channels, size // pool, size // pool)
    second = LayerGeometry(first.out, pooled, pool)
    head = LayerGeometry(pooled, (3, 1, 1), 1, pooled[1:])
    shortcuts = (InputPath(1, 0, LayerGeometry(first.out, pooled, pool), gain=True),
                 InputPath(1, -1, LayerGeometry(first.source, pooled, pool)))
    shapes = (first, second, head)
    config = AcceleratorConfig(first.inputs, tuple(g.neurons for g in shapes), 4,
                               DEFAULT_FORMAT, lanes=lanes, geometry=shapes,
                               shortcuts=shortcuts)
    assert [p.shortcut for p in config.paths] == [False, False, True, True, False]
    check_every_path(config)


def cursor_walk(config, number, moves):
    """The cursor's outputs ``(index, row, column, group, channel_row)`` at each word it
    reaches over path ``number``'s source, moved by ``moves(word, group)``: ``"advance"``,
    ``"skip"`` or ``"run"``; returns ``{word: outputs}``."""
    path = config.paths[number]
    groups = ceil_div(path.geometry.source[0], config.lanes)
    words = groups * path.geometry.source[1] * path.geometry.source[2]
    dut = SourceCursor(config)
    seen = {}

    async def testbench(ctx):
        await restart(ctx, dut, number)
        word = 0
        while word < words:
            group = word % groups
            seen[word] = tuple(ctx.get(getattr(dut, name)) for name in
                               ("index", "row", "column", "group", "channel_row"))
            move = moves(word, group)
            ctx.set(getattr(dut, move), 1)
            await ctx.tick()
            ctx.set(getattr(dut, move), 0)
            if move == "advance":
                word += 1
            elif move == "skip":
                word += min(config.chunk_words, groups - group)
            else:
                word += config.source_run_pixels[path.source + 1] * groups

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return seen


@pytest.mark.parametrize("seed", range(8))
def test_cursor_skips_and_runs_land_where_advances_do(seed):
    rng = random.Random(seed)
    shapes = random_shapes(rng)
    config = AcceleratorConfig(shapes[0].inputs, tuple(g.neurons for g in shapes), 4,
                               DEFAULT_FORMAT, lanes=rng.choice([1, 2, 4]),
                               geometry=tuple(shapes), chunk_neurons=rng.choice([1, 2, 4]),
                               run_pixels=rng.choice([2, 4, 8]))
    for number, path in enumerate(config.paths):
        reference = cursor_walk(config, number, lambda word, group: "advance")
        groups = ceil_div(path.geometry.source[0], config.lanes)
        run_words = config.source_run_pixels[path.source + 1] * groups

        def moves(word, group):
            if word % run_words == 0 and rng.random() < 0.5:
                return "run"
            if group % config.chunk_words == 0 and rng.random() < 0.5:
                return "skip"
            return "advance"

        walked = cursor_walk(config, number, moves)
        assert walked == {word: reference[word] for word in walked}, config.source_run_pixels
        assert max(walked) < len(reference)
