# amaranth: UnusedElaboratable=no
"""The spike summary and the source scan in amaranth.sim, against plain Python models."""

import dataclasses
import random

import pytest
from amaranth.sim import Simulator

from model.fixedpoint import FixedPointFormat
from rtl.config import AcceleratorConfig
from rtl.golden import random_residual
from rtl.scan import SourceScan
from rtl.summary import SpikeSummary


def _config(seed, lanes, chunk_neurons, run_pixels=4):
    qnet, _ = random_residual(seed, FixedPointFormat(), images=1, channels=(None, 5, 9)[seed % 3])
    config = AcceleratorConfig.from_network(qnet, lanes)
    return dataclasses.replace(config, chunk_neurons=chunk_neurons, run_pixels=run_pixels)


@pytest.mark.parametrize("seed", range(8))
def test_summary_records_each_chunk_and_run_once_in_order(seed):
    rng = random.Random(seed)
    config = _config(seed, rng.choice([1, 2, 4]), rng.choice([1, 2, 8]), rng.choice([1, 2, 4]))
    dut = SpikeSummary(config)
    chunks, runs = {}, {}

    async def testbench(ctx):
        for source, (base, blocks) in enumerate(zip(config.summary_bases,
                                                    config.summary_blocks)):
            # the inputs restart with their first record, a hidden layer a few cycles before
            early = source > 0
            if early:
                ctx.set(dut.restart, 1)
                ctx.set(dut.source, source)
                await ctx.tick()
                ctx.set(dut.restart, 0)
                ctx.set(dut.source, rng.randrange(len(config.summary_blocks)))
                for _ in range(rng.randrange(3)):
                    await ctx.tick()
            for block in range(blocks):
                bits = 0
                for word in range(rng.randint(1, 3)):
                    value = rng.getrandbits(config.steps)
                    bits |= value
                    first_record = not early and block == 0 and word == 0
                    ctx.set(dut.restart, first_record)
                    ctx.set(dut.source, source if first_record else 0)
                    ctx.set(dut.record, 1)
                    ctx.set(dut.first, word == 0)
                    ctx.set(dut.bits, value)
                    await ctx.tick()
                    ctx.set(dut.record, 0)
                    ctx.set(dut.restart, 0)
                    for _ in range(rng.randrange(2)):
                        await ctx.tick()
                chunks[base + block] = bits
                run = config.run_bases[source] + block // config.run_chunks[source]
                runs[run] = runs.get(run, 0) | bits
        await ctx.tick()
        assert not ctx.get(dut.busy)
        assert len(runs) == config.run_depth
        for port, want in ((dut.read, chunks), (dut.run_read, runs))[:1 + config.runs]:
            for address, bits in sorted(want.items()):
                ctx.set(port.addr, address)
                await ctx.tick()
                assert ctx.get(port.data) == bits, address

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


def _expected_slots(config, path_index, step, summary, runs, spikes):
    """The scan's slots in Python: per run a skip, or per chunk a skip, or each word's spike
    mask."""
    path = config.paths[path_index]
    groups = config.source_channel_groups[path.source + 1]
    chunk = config.chunk_words
    base = config.summary_bases[path.source + 1]
    run_pixels = config.source_run_pixels[path.source + 1]
    word, block, slots = 0, 0, []
    pixels = config.source_groups[path_index] // groups
    for pixel in range(pixels):
        run = config.run_bases[path.source + 1] + pixel // run_pixels
        if config.runs and not runs[run] >> step & 1:
            if pixel % run_pixels == 0:
                slots.append(("run", 0))
            word += groups
            block += -(-groups // chunk)
            continue
        for first in range(0, groups, chunk):
            size = min(chunk, groups - first)
            if summary[base + block] >> step & 1:
                slots += [("word", spikes[config.source_bases[path_index] + word + k])
                          for k in range(size)]
            else:
                slots.append(("skip", 0))
            word += size
            block += 1
    return slots


@pytest.mark.parametrize("seed", range(8))
def test_scan_issues_and_returns_every_slot_in_order(seed):
    rng = random.Random(seed)
    config = _config(seed, rng.choice([1, 2, 4]), rng.choice([1, 2, 4, 16]),
                     rng.choice([1, 2, 4]))
    latency = 4
    dut = SourceScan(config, latency)
    summary = [rng.getrandbits(config.steps) & rng.getrandbits(config.steps)
               for _ in range(config.summary_depth)]
    runs = [rng.getrandbits(config.steps) | rng.getrandbits(config.steps)
            for _ in range(config.run_depth)]
    lanes_mask = (1 << config.lanes) - 1
    spikes = [rng.getrandbits(config.lanes) & rng.getrandbits(config.lanes) & lanes_mask
              for _ in range(config.state_depth)]

    async def memories(ctx):
        # the summary's synchronous read, and the lanes' SCAN results ``latency`` cycles on
        in_flight = [0] * (latency - 1)
        async for _, _, addr, run, issue, address in ctx.tick().sample(
                dut.summary.addr, dut.run_summary.addr, dut.issue, dut.address):
            ctx.set(dut.summary.data, summary[addr] if addr < len(summary) else 0)
            ctx.set(dut.run_summary.data, runs[run] if run < len(runs) else 0)
            in_flight.append(spikes[address] if issue else 0)
            ctx.set(dut.spike, in_flight.pop(0))

    async def testbench(ctx):
        for _ in range(3):
            path = rng.randrange(len(config.paths))
            step = rng.randrange(config.steps)
            want = _expected_slots(config, path, step, summary, runs, spikes)
            ctx.set(dut.path, path)
            ctx.set(dut.step, step)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            got, issued = [], 0
            while not got or not got[-1][2]:
                go, ready = rng.random() < 0.8, rng.random() < 0.7
                ctx.set(dut.go, go)
                ctx.set(dut.o_result.ready, ready)
                await ctx.delay(1e-8)
                assert ctx.get(dut.issue) <= go
                issued += ctx.get(dut.issue)
                if ctx.get(dut.o_result.valid) and ready:
                    result = ctx.get(dut.o_result.payload)
                    kind = "word" if not result.skip else "run" if result.run else "skip"
                    got.append((kind, result.mask, result.last))
                await ctx.tick()
            assert [(kind, mask) for kind, mask, _ in got] == want
            assert [last for _, _, last in got] == [False] * (len(want) - 1) + [True]
            assert issued == sum(kind == "word" for kind, _ in want)
            for _ in range(latency + 2):  # nothing more comes
                ctx.set(dut.go, 1)
                await ctx.tick()
                assert not ctx.get(dut.o_result.valid) and not ctx.get(dut.issue)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(memories)
    sim.add_testbench(testbench)
    sim.run()
