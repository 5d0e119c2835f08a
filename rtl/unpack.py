"""Input codes out of packed bytes (:func:`rtl.protocol.pack_codes`)."""

from amaranth import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CodeUnpacker"]


class CodeUnpacker(wiring.Component):
    """Turn an image's packed bytes into its ``inputs`` codes, one image after another.

    Codes are ``code_bits`` wide, two's complement, least significant bit first; each image
    is padded with zero bits to a whole byte, so it takes ``ceil(inputs * code_bits / 8)``
    bytes. A byte is taken only when fewer than ``code_bits`` bits are held; codes leave one
    per cycle. After an image's last code the padding bits are dropped (``padding_error``
    pulses when one is set) and the next byte begins the next image.

    Parameters
    ----------
    inputs : int
        Codes per image.
    code_bits : int
        Bits per code, at least 2.

    Attributes
    ----------
    i_byte : In(stream.Signature(8))
    o_code : Out(stream.Signature({"code": signed(code_bits), "last": 1}))
        ``last`` marks an image's last code.
    clear : In(1)
        Drop what is held and begin an image.
    at_image_start : Out(1)
        Nothing of an image is held: every image so far is complete.
    padding_error : Out(1)
        An image's padding had a bit set (one cycle).
    """

    def __init__(self, inputs, code_bits):
        if not isinstance(inputs, int) or inputs < 1:
            raise ValueError(f"inputs must be a positive integer, not {inputs!r}")
        if not isinstance(code_bits, int) or not 2 <= code_bits <= 16:
            raise ValueError(f"code_bits must be an integer from 2 to 16, not {code_bits!r}")
        self.inputs, self.code_bits = inputs, code_bits
        super().__init__({
            "i_byte": In(stream.Signature(8)),
            "o_code": Out(stream.Signature(data.StructLayout(
                {"code": signed(code_bits), "last": 1}))),
            "clear": In(1),
            "at_image_start": Out(1),
            "padding_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        bits = self.code_bits
        held = Signal(bits + 7)          # bits not yet sent, the oldest at bit 0
        have = Signal(range(bits + 8))   # how many
        emitted = Signal(range(self.inputs + 1))
        complete = Signal()              # every code of the image has left
        m.d.comb += [
            complete.eq(emitted == self.inputs),
            self.at_image_start.eq((emitted == 0) & (have == 0)),
            self.o_code.valid.eq(~complete & (have >= bits)),
            self.o_code.payload.code.eq(held[:bits]),
            self.o_code.payload.last.eq(emitted == self.inputs - 1),
            self.i_byte.ready.eq(~complete & (have < bits)),
        ]
        with m.If(self.clear):
            m.d.sync += [held.eq(0), have.eq(0), emitted.eq(0)]
        with m.Elif(complete):
            m.d.comb += self.padding_error.eq(held != 0)
            m.d.sync += [held.eq(0), have.eq(0), emitted.eq(0)]
        with m.Elif(self.o_code.valid & self.o_code.ready):
            m.d.sync += [held.eq(held >> bits), have.eq(have - bits), emitted.eq(emitted + 1)]
        with m.Elif(self.i_byte.valid & self.i_byte.ready):
            m.d.sync += [held.eq(held | (self.i_byte.payload << have)), have.eq(have + 8)]
        return m
