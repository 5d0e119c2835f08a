"""The lanes' weight memory: one int8 column per lane, in block RAM or in iCE40UP5K SPRAM.

Every lane reads the same word address in the same cycle (the scheduler gives all lanes
the same weight row), so lanes can share a wide memory word: in SPRAM a 16-bit word holds
the weights of two lanes (lane ``2p`` in the low byte, ``2p + 1`` in the high byte), and
the nibble write mask writes one lane's byte alone. 16K words deep per SPRAM; deeper weight
columns stack SPRAMs in depth ("banks").
"""

from amaranth import Array, Cat, ClockSignal, Const, Instance, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .config import SPRAM_WORDS, WEIGHT_MEMORIES, ceil_div

__all__ = ["WeightMemory"]


class WeightMemory(wiring.Component):
    """``depth`` int8 weights for each of ``lanes`` lanes.

    Parameters
    ----------
    lanes : int
    depth : int
        Words per lane.
    kind : {"block", "spram"}
        ``"block"``: one Amaranth memory per lane (block RAM, initialisable). ``"spram"``:
        ``SB_SPRAM256KA`` primitives, two lanes per SPRAM word; the contents start unknown
        (the bitstream cannot initialise SPRAM) and must be written through the load port.
        The primitive elaborates only for iCE40UP5K builds and for Verilog simulation with
        Yosys's cell model (``verif/runner.py`` adds it); ``amaranth.sim`` cannot run it.
    init : list of list of int, or None
        Per-lane initial contents; block RAM only.

    Members
    -------
    read_addr : In
        The word every lane reads.
    read_data : Out(ArrayLayout(signed(8), lanes))
        The words at the ``read_addr`` of the previous cycle (synchronous read). Unspecified
        in the two cycles after a load write (SPRAM has one port).
    load_addr, load_lane, load_data, load_en : In
        Write ``load_data`` to word ``load_addr`` of lane ``load_lane``. SPRAM takes the write
        a cycle later, from registers, so that the logic deciding a load stays off the
        SPRAM's address path.
    """

    def __init__(self, lanes, depth, kind="block", init=None):
        for name, value in (("lanes", lanes), ("depth", depth)):
            if not isinstance(value, int) or value < 1:
                raise TypeError(f"{name} must be a positive integer, not {value!r}")
        if kind not in WEIGHT_MEMORIES:
            raise ValueError(f"kind must be one of {WEIGHT_MEMORIES}, not {kind!r}")
        if init is not None:
            if kind == "spram":
                raise ValueError("SPRAM cannot be initialised by the bitstream: give no init "
                                 "and load the weights through the load port")
            if len(init) != lanes or any(len(column) > depth for column in init):
                raise ValueError(f"init must hold {lanes} columns of at most {depth} words")
        self.lanes, self.depth, self.kind, self.init = lanes, depth, kind, init
        address = max(1, (depth - 1).bit_length())
        super().__init__({
            "read_addr": In(address), "read_data": Out(data.ArrayLayout(signed(8), lanes)),
            "load_addr": In(address), "load_lane": In(range(lanes)),
            "load_data": In(signed(8)), "load_en": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        if self.kind == "block":
            for k in range(self.lanes):
                memory = Memory(shape=signed(8), depth=self.depth,
                                init=self.init[k] if self.init else [])
                m.submodules[f"lane{k}"] = memory
                write, read = memory.write_port(), memory.read_port()
                m.d.comb += [write.addr.eq(self.load_addr), write.data.eq(self.load_data),
                             write.en.eq(self.load_en & (self.load_lane == k)),
                             read.addr.eq(self.read_addr), self.read_data[k].eq(read.data)]
            return m

        banks = ceil_div(self.depth, SPRAM_WORDS)
        load_addr, load_lane = Signal.like(self.load_addr), Signal.like(self.load_lane)
        load_data, load_en = Signal.like(self.load_data), Signal()
        m.d.sync += [load_addr.eq(self.load_addr), load_lane.eq(self.load_lane),
                     load_data.eq(self.load_data), load_en.eq(self.load_en)]
        address = Signal.like(self.read_addr)
        m.d.comb += address.eq(Mux(load_en, load_addr, self.read_addr))
        word, bank = Signal(14), address[14:]
        m.d.comb += word.eq(address[:14])
        read_bank = Signal(range(banks))  # the bank that the data coming out was read from
        if banks > 1:
            m.d.sync += read_bank.eq(bank)
        mask = Mux(load_lane[0] if self.lanes > 1 else 0, 0b1100, 0b0011)  # the lane's byte
        for pair in range(ceil_div(self.lanes, 2)):
            writes = load_en & (load_lane >> 1 == pair)
            outputs = []
            for b in range(banks):
                selected = (bank == b) if banks > 1 else Const(1)
                dataout = Signal(16, name=f"spram{pair}_{b}_data")
                m.submodules[f"spram{pair}_{b}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=word, i_DATAIN=Cat(load_data, load_data),
                    i_MASKWREN=mask, i_WREN=writes, i_CHIPSELECT=selected,
                    i_CLOCK=ClockSignal(), i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1,
                    o_DATAOUT=dataout)
                outputs.append(dataout)
            chosen = outputs[0] if banks == 1 else Array(outputs)[read_bank]
            for half in range(2):
                lane = 2 * pair + half
                if lane < self.lanes:
                    m.d.comb += self.read_data[lane].eq(chosen[8 * half:8 * half + 8])
        return m
