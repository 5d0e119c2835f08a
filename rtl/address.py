"""Address generation: where a layer's source neurons are, and which synapses a spike reaches.

The scheduler scans a source layer one state word (``lanes`` neurons of one pixel) at a time,
channels last. :class:`SourceCursor` follows that scan: the pixel, its pooled coordinates, the
spike index of the word's lane 0 and the weight row of its channel. For a spike,
:class:`SynapseBursts` then walks the targets its kernel reaches, one state word per cycle:
for each target pixel (rows then columns, ascending) the layer's channel groups, with the
weight word of that kernel tap (``rtl/config.py`` gives both layouts). Only the targets that
the kernel reaches are visited, so a spike costs one cycle per ``lanes`` synapses; a
``Linear`` layer is the convolution whose kernel covers its source (one target pixel).

A layer integrates one or more input paths (:class:`rtl.config.InputPath`: its main input,
then a residual junction's shortcuts); the scan of a shortcut's source replays its stored
blocks. An identity shortcut's gain reaches one target per spike: its own channel at the
(pooled) pixel, in the spike's lane. Every per-path quantity comes from constant tables
indexed by the path and, for the targets of a spike, by its pooled row or column, computed
in Python from :class:`rtl.config.LayerGeometry`: the hardware has no multiplier or divider.
"""

from amaranth import Array, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .config import ceil_div

__all__ = ["SourceCursor", "SynapseBursts", "table"]


def table(values):
    """A constant table (``Array`` of ``Const``) of non-negative integers."""
    return Array(Const(v, range(max(values) + 1)) for v in values)


def _modular(values, width):
    """Constants added modulo ``2 ** width``: a negative step is its two's complement."""
    return Array(Const(v % (1 << width), width) for v in values)


def _bits(n):
    return max(1, (n - 1).bit_length())


class SourceCursor(wiring.Component):
    """The position of the scan in the source layer of each input path.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig

    Members
    -------
    path : In
        The input path being integrated (an index into ``config.paths``); its source is
        scanned.
    restart : In(1)
        Go to the source's first state word (takes effect at the next clock edge).
    advance : In(1)
        Go to the next state word: the next channel group of the pixel, or the next pixel.
    skip : In(1)
        From the first word of a scan chunk (:attr:`AcceleratorConfig.chunk_words` channel
        groups), go past the chunk: to the next chunk of the pixel, or the next pixel.
    run : In(1)
        From the first word of a scan run
        (:attr:`AcceleratorConfig.source_run_pixels` pixels), go past the run.
    row, column : Out
        The word's pixel after the window's sum pooling (``>=`` the pooled size for the rows
        and columns that pooling drops).
    index : Out
        Spike index (channels-last position in the source layer) of the word's lane 0.
    group : Out
        The word's channel group in the source layer.
    channel_row : Out
        The weight word of the word's lane-0 channel, first tap, first target channel group.
    """

    def __init__(self, config):
        self.config = c = config
        shapes = [p.geometry for p in c.paths]
        rows = max(g.source[1] for g in shapes)
        columns = max(g.source[2] for g in shapes)
        super().__init__({
            "path": In(range(len(c.paths))), "restart": In(1), "advance": In(1), "skip": In(1),
            "run": In(1),
            "row": Out(range(rows)), "column": Out(range(columns)),
            "index": Out(range(max(g.inputs for g in shapes) + c.lanes)),
            "group": Out(range(max(ceil_div(g.source[0], c.lanes) for g in shapes))),
            "channel_row": Out(range(c.weight_depth + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        c, w = self.config, self.path
        shapes = [p.geometry for p in c.paths]
        groups = [ceil_div(g.source[0], c.lanes) for g in shapes]
        last_group = table([n - 1 for n in groups])
        last_column = table([g.source[2] - 1 for g in shapes])
        last_sub = table([g.pool - 1 for g in shapes])
        channels = table([g.source[0] for g in shapes])
        # a gain's one weight word serves every channel
        channel_stride = table([0 if p.gain else c.lanes * p.geometry.taps *
                                c.channel_groups[p.layer] for p in c.paths])
        weight_base = table(c.weight_bases)
        # the word's channel group, its column and row, and the position inside the pooling
        # window along each
        group = self.group
        x = Signal(range(max(g.source[2] for g in shapes)))
        pool = max(g.pool for g in shapes)
        sub_x, sub_y = Signal(range(pool)), Signal(range(pool))
        pixel_index = Signal.like(self.index)  # index of the pixel's channel 0
        m.d.comb += self.index.eq(pixel_index + group * c.lanes)

        with m.If(self.restart):
            m.d.sync += [group.eq(0), x.eq(0), sub_x.eq(0), sub_y.eq(0), pixel_index.eq(0),
                         self.row.eq(0), self.column.eq(0),
                         self.channel_row.eq(weight_base[w])]
        # a skip moves by a chunk: ``chunk`` channel groups, unless it is the pixel's last
        chunk = c.chunk_words
        last_chunk = table([(n - 1) // chunk * chunk for n in groups])
        chunk_stride = table([0 if p.gain else chunk * c.lanes * p.geometry.taps *
                              c.channel_groups[p.layer] for p in c.paths])
        # a run moves by whole pixels, whole pooling windows, inside a row
        pixels = [c.source_run_pixels[p.source + 1] for p in c.paths]
        jumps = Array(Const(n > 1) for n in pixels)
        run_index = table([n * g.source[0] for n, g in zip(pixels, shapes)])
        run_columns = table([n // g.pool for n, g in zip(pixels, shapes)])
        run_pixels = table(pixels)
        last_run_x = table([g.source[2] - n for n, g in zip(pixels, shapes)])
        jump = self.run & jumps[w]
        with m.Elif(self.advance | self.skip | self.run):
            with m.If(~self.run & Mux(self.skip, group != last_chunk[w],
                                      group != last_group[w])):
                m.d.sync += [
                    group.eq(group + Mux(self.skip, chunk, 1)),
                    self.channel_row.eq(self.channel_row + Mux(self.skip, chunk_stride[w],
                                                               channel_stride[w]))]
            with m.Else():
                m.d.sync += [group.eq(0), self.channel_row.eq(weight_base[w]),
                             pixel_index.eq(pixel_index + Mux(jump, run_index[w], channels[w]))]
                with m.If(Mux(jump, x != last_run_x[w], x != last_column[w])):
                    with m.If(jump):
                        m.d.sync += [x.eq(x + run_pixels[w]),
                                     self.column.eq(self.column + run_columns[w])]
                    with m.Else():
                        m.d.sync += x.eq(x + 1)
                        with m.If(sub_x != last_sub[w]):
                            m.d.sync += sub_x.eq(sub_x + 1)
                        with m.Else():
                            m.d.sync += [sub_x.eq(0), self.column.eq(self.column + 1)]
                with m.Else():
                    m.d.sync += [x.eq(0), sub_x.eq(0), self.column.eq(0)]
                    with m.If(sub_y != last_sub[w]):
                        m.d.sync += sub_y.eq(sub_y + 1)
                    with m.Else():
                        m.d.sync += [sub_y.eq(0), self.row.eq(self.row + 1)]
        return m


class SynapseBursts(wiring.Component):
    """The target state words and weight words of one spike, one per cycle.

    A spike is taken in two steps, so that no long adder chain sits in one cycle:
    ``prepare`` latches what depends on the source pixel (the targets' rows and columns and
    the first word of each), then ``start`` begins the spike with its channel's offset.

    Parameters
    ----------
    config : rtl.config.AcceleratorConfig

    Members
    -------
    path : In
        The input path being integrated.
    row, column, group, channel_row : In
        From :class:`SourceCursor`, latched by ``prepare``.
    lane : In
        The spike's lane in the scanned word: a gain reaches that lane only.
    prepare : In(1)
        Latch the source pixel.
    start : In(1)
        The spike's first word is on the outputs in this cycle (from ``lane_offset`` and the
        prepared pixel); the words then follow one per ``next``.
    lane_offset : In
        Weight words from the word's lane-0 channel to the spike's channel (``lane *
        taps * target channel groups``; 0 for a gain).
    next : In(1)
        Move to the next word (in the ``start`` cycle too, to issue the first word).
    empty : Out(1)
        The prepared pixel reaches no target (a row or column that pooling drops, or one that
        a strided kernel skips); valid after ``prepare``.
    state_addr, weight_addr : Out
        The current word: its target state word (from the layer's state base) and weight word.
    real : Out(lanes)
        Which lanes of the target word the spike reaches: the real neurons (channels past the
        last are padding), or for a gain the spike's own lane.
    last : Out(1)
        The current word is the spike's last.
    """

    def __init__(self, config):
        self.config = c = config
        shapes = [p.geometry for p in c.paths]
        super().__init__({
            "path": In(range(len(c.paths))),
            "row": In(range(max(g.source[1] for g in shapes))),
            "column": In(range(max(g.source[2] for g in shapes))),
            "group": In(range(max(ceil_div(g.source[0], c.lanes) for g in shapes))),
            "channel_row": In(range(c.weight_depth + 1)),
            "lane": In(range(c.lanes)),
            "prepare": In(1), "start": In(1), "next": In(1),
            "lane_offset": In(range(c.weight_depth + 1)),
            "empty": Out(1),
            "state_addr": Out(_bits(c.state_depth)), "weight_addr": Out(_bits(c.weight_depth)),
            "real": Out(c.lanes), "last": Out(1),
        })

    def _axis_tables(self, axis, scale_first, scale_tap):
        """Per path, per pooled source coordinate: target count, first target's word
        offset, first tap's weight offset."""
        c = self.config
        size = max(p.geometry.source[1 + axis] for p in c.paths)
        counts, firsts, taps = [], [], []
        for p in c.paths:
            g, cg = p.geometry, c.channel_groups[p.layer]
            entries = [g.targets(axis, v * g.pool) for v in range(size)]  # pooled v
            counts.append(table([n for _, n, _ in entries]))
            firsts.append(table([first * scale_first(g, cg) for first, _, _ in entries]))
            taps.append(table([tap * scale_tap(g, cg) for _, _, tap in entries]))
        return Array(counts), Array(firsts), Array(taps)

    def elaborate(self, platform):
        m = Module()
        c, w = self.config, self.path
        shapes = [p.geometry for p in c.paths]
        # target channel groups a spike's burst walks per target pixel (a gain's: its own)
        groups = [1 if p.gain else c.channel_groups[p.layer] for p in c.paths]
        state_bits, weight_bits = len(self.state_addr), len(self.weight_addr)

        row_count, row_first, row_tap = self._axis_tables(
            0, lambda g, cg: g.out[2] * cg, lambda g, cg: g.kernel[1] * cg)
        col_count, col_first, col_tap = self._axis_tables(
            1, lambda g, cg: cg, lambda g, cg: cg)
        state_base = table([c.state_bases[p.layer] for p in c.paths])
        gain = Array(Const(p.gain) for p in c.paths)
        last_group = table([cg - 1 for cg in groups])
        last_lanes = Array(Const(sum(1 << k for k in range(c.lanes)
                                     if (cg - 1) * c.lanes + k < g.out[0]), c.lanes)
                           for g, cg in zip(shapes, groups))
        # from the last channel group of a target to the next target in the row (its tap
        # ``stride`` columns lower), and from one target row to the next
        column_step = _modular([1 - (g.stride + 1) * cg for g, cg in zip(shapes, groups)],
                               weight_bits)
        row_state_step = table([g.out[2] * cg for g, cg in zip(shapes, groups)])
        row_weight_step = _modular([-g.stride * g.kernel[1] * cg
                                    for g, cg in zip(shapes, groups)], weight_bits)

        # the prepared pixel
        pixel_state, pixel_weight = Signal(state_bits), Signal(weight_bits)
        rows = Signal(range(max(g.out[1] for g in shapes) + 1))
        columns = Signal(range(max(g.out[2] for g in shapes) + 1))
        is_gain = Signal()
        # the spike's first word is its last (one target, one channel group), and the
        # current word is the last: registers, so that ``last`` is one multiplexer deep
        single, is_last = Signal(), Signal()
        with m.If(self.prepare):
            m.d.sync += [
                is_gain.eq(gain[w]),
                single.eq((row_count[w][self.row] == 1) & (col_count[w][self.column] == 1) &
                          (last_group[w] == 0)),
                # a gain's target is the spike's own channel group at the target pixel
                pixel_state.eq(state_base[w] + row_first[w][self.row] +
                               col_first[w][self.column] + Mux(gain[w], self.group, 0)),
                pixel_weight.eq(self.channel_row + row_tap[w][self.row] +
                                col_tap[w][self.column]),
                rows.eq(row_count[w][self.row]), columns.eq(col_count[w][self.column]),
            ]
        m.d.comb += self.empty.eq((rows == 0) | (columns == 0))

        # the walk: the current word, the first word of its target row, what is left
        state, weight = Signal(state_bits), Signal(weight_bits)
        row_state, row_weight = Signal(state_bits), Signal(weight_bits)
        group = Signal(range(max(groups)))
        column_left, row_left = Signal.like(columns), Signal.like(rows)
        start_weight = Signal(weight_bits)
        m.d.comb += start_weight.eq(pixel_weight + self.lane_offset)
        now = {
            "state": Mux(self.start, pixel_state, state),
            "weight": Mux(self.start, start_weight, weight),
            "row_state": Mux(self.start, pixel_state, row_state),
            "row_weight": Mux(self.start, start_weight, row_weight),
            "group": Mux(self.start, 0, group),
            "column_left": Mux(self.start, columns - 1, column_left),
            "row_left": Mux(self.start, rows - 1, row_left),
        }
        group_last = now["group"] == last_group[w]
        m.d.comb += [
            self.state_addr.eq(now["state"]), self.weight_addr.eq(now["weight"]),
            self.real.eq(Mux(is_gain, Const(1, c.lanes) << self.lane,
                             Mux(group_last, last_lanes[w], (1 << c.lanes) - 1))),
            self.last.eq(Mux(self.start, single, is_last)),
        ]
        one_group = last_group[w] == 0
        with m.If(self.next):
            with m.If(~group_last):
                m.d.sync += [group.eq(now["group"] + 1), state.eq(now["state"] + 1),
                             weight.eq(now["weight"] + 1), column_left.eq(now["column_left"]),
                             row_left.eq(now["row_left"]), row_state.eq(now["row_state"]),
                             row_weight.eq(now["row_weight"]),
                             is_last.eq((now["group"] + 1 == last_group[w]) &
                                        (now["column_left"] == 0) & (now["row_left"] == 0))]
            with m.Elif(now["column_left"] != 0):
                m.d.sync += [group.eq(0), state.eq(now["state"] + 1),
                             weight.eq(now["weight"] + column_step[w]),
                             column_left.eq(now["column_left"] - 1),
                             row_left.eq(now["row_left"]), row_state.eq(now["row_state"]),
                             row_weight.eq(now["row_weight"]),
                             is_last.eq(one_group & (now["column_left"] == 1) &
                                        (now["row_left"] == 0))]
            with m.Else():
                next_state = now["row_state"] + row_state_step[w]
                next_weight = now["row_weight"] + row_weight_step[w]
                m.d.sync += [group.eq(0), state.eq(next_state), weight.eq(next_weight),
                             row_state.eq(next_state), row_weight.eq(next_weight),
                             column_left.eq(columns - 1), row_left.eq(now["row_left"] - 1),
                             is_last.eq(one_group & (columns == 1) & (now["row_left"] == 1))]
        return m
