"""The fixed-point format of the integer TSC-SNN: one definition for every user.

The quantizer, the integer simulator, the network file and the RTL parameters all take their
widths and saturation rule from :class:`FixedPointFormat`. Values are two's complement
integers; every addition into an accumulator saturates to the accumulator's range (it never
wraps) and each saturating addition that clips is counted.
"""

from dataclasses import dataclass

__all__ = ["FixedPointFormat", "DEFAULT_FORMAT", "signed_range"]


def signed_range(bits):
    """Return ``(min, max)`` of a ``bits``-wide two's complement integer."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


@dataclass(frozen=True)
class FixedPointFormat:
    """Widths of the integer TSC neuron.

    Parameters
    ----------
    weight_bits : int
        Signed weight width. Weights are symmetric: ``-(2**(weight_bits-1) - 1)`` to
        ``2**(weight_bits-1) - 1``; the most negative code is never produced.
    dvdt_bits : int
        Signed width of the dV/dt accumulator (the running weighted input sum).
    v_bits : int
        Signed width of the membrane potential V. Thresholds are positive and must fit in it.
    """

    weight_bits: int = 8
    dvdt_bits: int = 16
    v_bits: int = 24

    def __post_init__(self):
        for name in ("weight_bits", "dvdt_bits", "v_bits"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= 48:
                raise ValueError(f"{name} must be an integer from 2 to 48, not {value!r}")

    @property
    def weight_max(self):
        return (1 << (self.weight_bits - 1)) - 1

    @property
    def dvdt_range(self):
        return signed_range(self.dvdt_bits)

    @property
    def v_range(self):
        return signed_range(self.v_bits)

    @property
    def threshold_max(self):
        return self.v_range[1]

    def saturating_add(self, acc, addend, which):
        """Return ``(sat(acc + addend), number of clipped elements per batch row)``.

        ``which`` is ``"dvdt"`` or ``"v"``: the accumulator whose range applies. Both
        arguments are int64 tensors whose first dimension is the batch.
        """
        lo, hi = self.dvdt_range if which == "dvdt" else self.v_range
        total = acc + addend
        clipped = (total < lo) | (total > hi)
        return total.clamp(lo, hi), clipped.flatten(1).sum(1)

    def check_weights(self, weights, where):
        """Raise :class:`ValueError` naming ``where`` if a weight is outside the symmetric range."""
        if weights.numel() and int(weights.abs().max()) > self.weight_max:
            worst = int(weights.flatten()[weights.abs().flatten().argmax()])
            raise ValueError(
                f"{where}: weight {worst} does not fit in {self.weight_bits} signed bits "
                f"(|w| <= {self.weight_max}); requantize the network"
            )

    def check_threshold(self, threshold, where):
        """Raise :class:`ValueError` if ``threshold`` is not a positive integer that fits in V."""
        if not 1 <= threshold <= self.threshold_max:
            raise ValueError(
                f"{where}: threshold {threshold} does not fit the {self.v_bits}-bit V accumulator "
                f"(1 to {self.threshold_max}); widen v_bits by "
                f"{max(1, int(threshold).bit_length() + 1 - self.v_bits)} or lower the threshold"
            )

    def to_dict(self):
        return {"weight_bits": self.weight_bits, "dvdt_bits": self.dvdt_bits, "v_bits": self.v_bits}


DEFAULT_FORMAT = FixedPointFormat()
