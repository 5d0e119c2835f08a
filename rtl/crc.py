"""CRC-16/CCITT-FALSE over one byte per cycle, as :func:`rtl.protocol.crc16` defines it."""

from amaranth import Const, Mux, Signal

__all__ = ["crc16_update", "CRC16_INIT"]

CRC16_INIT = 0xFFFF


def crc16_update(m, crc, byte, name="crc_next"):
    """Return a signal holding the CRC after ``byte`` (eight bit steps, each its own signal
    so that the logic stays linear in size)."""
    value = Signal(16, name=f"{name}_in")
    m.d.comb += value.eq(crc ^ (byte << 8))
    for step in range(8):
        following = Signal(16, name=f"{name}_{step}")
        shifted = (value << 1)[:16]
        m.d.comb += following.eq(Mux(value[15], shifted ^ Const(0x1021, 16), shifted))
        value = following
    return value
