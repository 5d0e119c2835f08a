"""Input encodings: TSC (Eq. 1-2), TTFS, Poisson rate and constant (analog) input.

Time steps are numbered from 0 in code; the paper's step ``t`` is index ``t - 1``. A spike
train is an int8 tensor ``[batch, *shape, steps]`` with values in {-1, 0, +1}.

The integer input code of a value ``p`` is ``c = sgn(p) * round(|p| (N - 1))``, rounded
half up in magnitude (``"nearest"``, the default) or down (``"floor"``, the paper's:
``c = sgn(p) * (p* - 1)`` with ``p* = floor(|p| (N - 1)) + 1``). Its magnitude is the length
of the TSC block: the paper's spikes at ``t = 1`` and ``t = p*`` are indices ``0`` and
``|c|``. A code of zero (``p* = 1``) sends no spike. Nearest halves the worst coding error
(``1 / (2 (N - 1))`` against ``1 / (N - 1)``) and removes floor's bias toward zero; fed to
the ANN, nearest codes kept its predictions as well or better on every data set measured
(``docs/results.md``).
"""

import torch

__all__ = [
    "INPUT_ROUNDINGS",
    "input_codes",
    "tsc_spikes",
    "ttfs_spikes",
    "poisson_spikes",
    "constant_input",
    "block_from_spikes",
]


INPUT_ROUNDINGS = ("nearest", "floor")


def _tensor(values, dtype):
    """``values`` as a ``dtype`` tensor, on the device it is already on."""
    if isinstance(values, torch.Tensor):
        return values.to(dtype)
    return torch.as_tensor(values, dtype=dtype)


def _check_steps(steps):
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps must be an integer of at least 2, not {steps!r}")


def input_codes(x, steps, rounding="nearest"):
    """Quantize ``x`` (values in [-1, 1]) to signed TSC codes in ``[-(steps-1), steps-1]``.

    ``rounding`` is one of :data:`INPUT_ROUNDINGS`: the magnitude ``|x| (steps - 1)``
    (computed in float64) rounded half up or down. Values outside [-1, 1] are clipped
    first. Returns an int64 tensor of ``x``'s shape.
    """
    _check_steps(steps)
    if rounding not in INPUT_ROUNDINGS:
        raise ValueError(f"unknown input rounding {rounding!r}; choose one of "
                         f"{', '.join(INPUT_ROUNDINGS)}")
    x = _tensor(x, torch.float64).clamp(-1.0, 1.0)
    magnitude = x.abs() * (steps - 1)
    magnitude = torch.floor(magnitude + 0.5 if rounding == "nearest" else magnitude)
    return (torch.sign(x) * magnitude).to(torch.int64)


def tsc_spikes(codes, steps):
    """TSC spike train (Eq. 2) of integer ``codes``: ``sgn(c)`` at 0 and ``-sgn(c)`` at ``|c|``."""
    _check_steps(steps)
    codes = _tensor(codes, torch.int64)
    if codes.numel() and int(codes.abs().max()) > steps - 1:
        raise ValueError(f"input codes must lie in [-{steps - 1}, {steps - 1}] for {steps} steps")
    sign = torch.sign(codes).to(torch.int8)
    spikes = torch.zeros(*codes.shape, steps, dtype=torch.int8, device=codes.device)
    active = codes != 0
    spikes[..., 0] = sign
    end = codes.abs().clamp(max=steps - 1).unsqueeze(-1)
    spikes.scatter_add_(-1, end, torch.where(active, -sign, 0).to(torch.int8).unsqueeze(-1))
    return spikes


def ttfs_spikes(codes, steps):
    """TTFS spike train of ``codes``: one spike ``sgn(c)`` at ``steps - 1 - |c|`` (paper:
    ``t_s = N + 1 - p*``); a synapse counts from the step after its spike to the window's end,
    so a TTFS input contributes ``|c|`` steps, exactly as a TSC block does."""
    _check_steps(steps)
    codes = _tensor(codes, torch.int64)
    spikes = torch.zeros(*codes.shape, steps, dtype=torch.int8, device=codes.device)
    time = (steps - 1 - codes.abs()).clamp(min=0).unsqueeze(-1)
    spikes.scatter_(-1, time, torch.sign(codes).to(torch.int8).unsqueeze(-1))
    return spikes


def poisson_spikes(x, steps, generator):
    """Poisson rate code: at every step a spike ``sgn(x)`` with probability ``|x|``."""
    _check_steps(steps)
    x = _tensor(x, torch.float32).clamp(-1.0, 1.0)
    # drawn on the generator's device, so that a seed gives the same trains everywhere
    where = generator.device if generator is not None else x.device
    draws = torch.rand(*x.shape, steps, generator=generator, device=where).to(x.device)
    return torch.where(draws < x.abs().unsqueeze(-1), torch.sign(x).unsqueeze(-1), 0.0).to(
        torch.int8
    )


def constant_input(x, steps):
    """Analog input: the value ``x`` itself at every step (float32)."""
    _check_steps(steps)
    x = _tensor(x, torch.float32).clamp(-1.0, 1.0)
    return x.unsqueeze(-1).expand(*x.shape, steps)


def block_from_spikes(spikes):
    """The on/off block ``X''(t)`` that a TSC spike train switches: the running sum over time."""
    return torch.cumsum(spikes.to(torch.int8), dim=-1, dtype=torch.int8)
