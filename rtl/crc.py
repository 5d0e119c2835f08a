"""CRC-16/CCITT-FALSE over one byte per cycle, as :func:`fpga.protocol.crc16` defines it."""

from amaranth import Const, Mux

__all__ = ["crc16_update", "CRC16_INIT"]

CRC16_INIT = 0xFFFF


def crc16_update(crc, byte):
    """The CRC after ``byte``: an Amaranth expression (eight unrolled bit steps)."""
    value = crc ^ (byte << 8)
    for _ in range(8):
        shifted = (value << 1)[:16]
        value = Mux(value[15], shifted ^ Const(0x1021, 16), shifted)
    return value
