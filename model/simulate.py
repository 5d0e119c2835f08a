"""Simulators of a converted network: TSC (windowed and shared schedules), TTFS, IF and RMP.

Every simulator runs layer by layer over a whole batch (there is no feedback, so layer ``l``'s
spike trains over all of its steps are computed before layer ``l + 1`` starts), vectorised in
torch. With a :class:`~model.fixedpoint.FixedPointFormat` the TSC simulator is the integer
golden model: int64 state, saturating accumulators, integer thresholds, and the exact order of
operations that ``docs/tsc-neuron.md`` specifies and the RTL implements.

Methods
-------
``tsc``
    Layer-windowed TSC (the default schedule): layer ``l`` integrates during window ``l`` and
    fires during window ``l + 1``. Latency ``layers * steps``.
``tsc-shared``
    The paper's neuron read literally on one time axis shared by all layers. Latency ``steps``.
``ttfs``
    Time-to-first-spike coding on the windowed schedule: one spike per value, each synapse
    added at every step after its spike.
``if``, ``rmp``
    Rate-coded integrate-and-fire with reset to zero (IF) or soft reset (RMP), with
    ``poisson`` or ``constant`` input. Latency ``steps``.
"""

from dataclasses import dataclass, field

import torch

from . import encoding
from .network import WEIGHTED, event_order

__all__ = ["METHODS", "RATE_INPUTS", "Counts", "SimResult", "simulate", "layer_currents",
           "encode_input", "input_currents", "run_layer", "tsc_fire", "argmax_lowest",
           "shortcut_currents", "junction_inputs"]

METHODS = ("tsc", "tsc-shared", "ttfs", "if", "rmp")
RATE_INPUTS = ("poisson", "constant")
ROUNDINGS = ("nearest", "floor")
# Above this many synapses the ordered-event path refuses to build a layer's dense matrix.
_DENSE_LIMIT = 1 << 26


@dataclass
class Counts:
    """Operation counts per image (int64 tensors of shape ``[batch]``) and static figures.

    ``synaptic``: additions of a weight into a neuron's input (dV/dt for TSC, V for the
    others); each is one weight-memory read. ``membrane``: updates of V (``V += dV/dt`` or
    ``V += I`` once per neuron per integration step, plus each threshold subtraction).
    ``spikes``: spikes of the input encoder and the hidden layers. ``saturations``: saturating
    additions that clipped (integer model only).
    """

    synaptic: torch.Tensor
    membrane: torch.Tensor
    spikes: torch.Tensor
    saturations: torch.Tensor
    spiking_neurons: int = 0
    latency: int = 0

    @property
    def memory_reads(self):
        return self.synaptic

    def spike_rate(self):
        """Eq. 8 per image: spikes / (spiking neurons * latency), as a fraction."""
        return self.spikes.double() / (self.spiking_neurons * self.latency)

    def total(self):
        """The counts summed over the batch, as Python numbers: ``images``, ``synaptic``,
        ``membrane``, ``additions`` (the two together), ``memory_reads``, ``spikes``,
        ``saturations``, and ``spike_rate`` (Eq. 8 over the whole batch, a fraction)."""
        images = len(self.synaptic)
        synaptic, membrane = int(self.synaptic.sum()), int(self.membrane.sum())
        spikes = int(self.spikes.sum())
        slots = images * self.spiking_neurons * self.latency
        return {"images": images, "synaptic": synaptic, "membrane": membrane,
                "additions": synaptic + membrane, "memory_reads": synaptic, "spikes": spikes,
                "saturations": int(self.saturations.sum()),
                "spike_rate": spikes / slots if slots else 0.0}

    @classmethod
    def concatenate(cls, parts):
        """The counts of consecutive batches as one."""
        first = parts[0]
        return cls(*(torch.cat([getattr(p, name) for p in parts])
                     for name in ("synaptic", "membrane", "spikes", "saturations")),
                   first.spiking_neurons, first.latency)


@dataclass
class SimResult:
    """What a simulation returns.

    ``output``: the output layer's final V ``[batch, classes]``; ``prediction``: its argmax
    (lowest index on ties); ``spikes``: with ``record=True``, the int8 spike trains
    ``[batch, *shape, steps]`` of the input and of each hidden layer (window-relative steps).
    """

    output: torch.Tensor
    prediction: torch.Tensor
    counts: Counts
    spikes: list = field(default_factory=list)

    @classmethod
    def concatenate(cls, parts):
        """The results of consecutive batches as one."""
        return cls(torch.cat([p.output for p in parts]), torch.cat([p.prediction for p in parts]),
                   Counts.concatenate([p.counts for p in parts]),
                   [torch.cat(trains) for trains in zip(*(p.spikes for p in parts))])


def argmax_lowest(values):
    """Argmax over the last dimension that picks the lowest index among equal maxima."""
    is_max = values == values.max(dim=-1, keepdim=True).values
    index = torch.arange(values.shape[-1], 0, -1, device=values.device)
    return (is_max * index).argmax(dim=-1)


def layer_currents(layer, train, integer):
    """Apply ``layer``'s synaptic operator to each step of ``train`` [B, *in_shape, steps].

    Returns ``[B, out_size, steps]``: int64 (exact, computed in float64) when ``integer``.
    """
    batch, steps = train.shape[0], train.shape[-1]
    dtype = torch.float64 if integer else torch.float32
    x = train.movedim(-1, 1).reshape(batch * steps, *layer.in_shape).to(dtype)
    y = layer.current(x, integer).reshape(batch, steps, -1).movedim(1, -1)
    return y.round().to(torch.int64) if integer else y


def encode_input(x, method, steps, *, input_coding=None, generator=None,
                 input_rounding="nearest"):
    """The input trains for ``method``: TSC or TTFS codes of ``x`` (rounded as
    ``input_rounding``, see :func:`model.encoding.input_codes`), or a rate input."""
    if method in ("tsc", "tsc-shared"):
        return encoding.tsc_spikes(encoding.input_codes(x, steps, input_rounding), steps)
    if method == "ttfs":
        return encoding.ttfs_spikes(encoding.input_codes(x, steps, input_rounding), steps)
    if input_coding == "poisson":
        return encoding.poisson_spikes(x, steps, generator)
    if input_coding == "constant":
        return encoding.constant_input(x, steps)
    raise ValueError(f"input_coding must be one of {RATE_INPUTS} for {method!r}, "
                     f"not {input_coding!r}")


def _synaptic_count(layer, train):
    active = (train != 0).to(torch.float64).sum(-1)
    fanout = layer.fanout().flatten().to(active.device, torch.float64)
    return (active.flatten(1) * fanout).sum(1).round().long()


def _dense_matrix(layer):
    if layer.in_size * layer.out_size > _DENSE_LIMIT:
        raise ValueError(
            f"{layer.name}: dV/dt may saturate and the layer is too large ({layer.in_size} x "
            f"{layer.out_size}) for the ordered-event path; widen dvdt_bits")
    eye = torch.eye(layer.in_size, dtype=torch.float64, device=layer.device)
    eye = eye.reshape(-1, *layer.in_shape)
    return layer.current(eye, integer=True).reshape(layer.in_size, -1).t().round().long()


class _Accumulate:
    """Integrates one layer's inputs step by step: ``dV/dt += w * T(t)``, ``V += dV/dt``.

    ``shortcuts``: a residual junction's integer shortcut inputs, ``(path, source train)``
    pairs, whose events follow the main input's in each step (integer model)."""

    def __init__(self, layer, train, fmt, shortcuts=()):
        self.layer, self.train, self.fmt = layer, train, fmt
        self.shortcuts = shortcuts
        self.batch = train.shape[0]
        self.device = train.device
        self.saturations = torch.zeros(self.batch, dtype=torch.int64, device=self.device)

    def dvdt_steps(self, extra=None):
        """The running input sum after each step's events: ``[B, out, steps]``; ``extra`` is
        a residual junction's shortcut input per step (float model only)."""
        if self.fmt is None:
            current = layer_currents(self.layer, self.train, False)
            return torch.cumsum(current if extra is None else current + extra, -1)
        inputs = ((self.layer, self.train),) + tuple(self.shortcuts)
        bound = sum(path.abs_row_sums() for path, _ in inputs)
        if self.layer.out_size == 0 or int(bound.max()) <= self.fmt.dvdt_range[1]:
            # No partial sum of +-w can leave the dV/dt range, so the order of events within
            # a step cannot matter and the exact sums are the saturating ones.
            return torch.cumsum(sum(layer_currents(path, train, True)
                                    for path, train in inputs), -1)
        return self._ordered_events(inputs)

    def _ordered_events(self, inputs):
        # The hardware's order: step by step, and within a step each input in turn (the
        # main input, then a junction's shortcuts), its source neurons in their event order
        # (channels last); each event is one saturating addition per target neuron.
        sources = []
        for path, train in inputs:
            sources.append((_dense_matrix(path),
                            train.reshape(self.batch, path.in_size, -1).to(torch.int64),
                            event_order(path.in_shape, self.device)))
        steps = self.train.shape[-1]
        dvdt = torch.zeros(self.batch, self.layer.out_size, dtype=torch.int64, device=self.device)
        out = torch.empty(self.batch, self.layer.out_size, steps, dtype=torch.int64,
                          device=self.device)
        for t in range(steps):
            for matrix, flat, order in sources:
                active = flat[:, :, t].any(0)
                for j in order[active[order]].tolist():
                    dvdt, clipped = self.fmt.saturating_add(
                        dvdt, flat[:, j, t, None] * matrix[None, :, j], "dvdt")
                    self.saturations += clipped
            out[:, :, t] = dvdt
        return out

    def potential(self, dvdt, v_init):
        """``V`` after the window: ``V(t) = sat(V(t-1) + dV/dt(t))`` from ``v_init``."""
        v = v_init.expand(self.batch, dvdt.shape[1]).clone()
        for t in range(dvdt.shape[-1]):
            if self.fmt is None:
                v = v + dvdt[..., t]
            else:
                v, clipped = self.fmt.saturating_add(v, dvdt[..., t], "v")
                self.saturations += clipped
        return v


def tsc_fire(v, threshold, steps):
    """The windowed TSC firing rule over one window.

    Step 0: ``+1`` and ``V -= Vth`` if ``V >= Vth``. Each later step, while on: ``-1`` (and
    off) if ``V < Vth`` or it is the window's last step, else ``V -= Vth``. The block length
    is ``min(floor(V / Vth), steps - 1)``. Returns ``(spikes [B, n, steps], subtractions [B])``.
    """
    spikes = torch.zeros(*v.shape, steps, dtype=torch.int8, device=v.device)
    on = v >= threshold
    spikes[..., 0] = on.to(torch.int8)
    v = torch.where(on, v - threshold, v)
    subtractions = on.sum(1)
    for t in range(1, steps):
        stop = on & ((v < threshold) | (t == steps - 1))
        spikes[..., t] = -stop.to(torch.int8)
        on = on & ~stop
        v = torch.where(on, v - threshold, v)
        subtractions += on.sum(1)
    return spikes, subtractions


def _tsc_windowed(layer, train, threshold, fmt, rounding, last, extra=None, shortcuts=()):
    acc = _Accumulate(layer, train, fmt, shortcuts)
    dvdt = acc.dvdt_steps(extra)
    dtype = torch.float32 if fmt is None else torch.int64
    v_init = torch.zeros((), dtype=dtype, device=acc.device)
    if rounding == "nearest" and not last:
        v_init = torch.tensor(threshold // 2 if fmt is not None else threshold / 2, dtype=dtype,
                              device=acc.device)
    v = acc.potential(dvdt, v_init)
    steps = train.shape[-1]
    membrane = torch.full((acc.batch,), layer.out_size * steps, dtype=torch.int64,
                          device=acc.device)
    if last:
        return None, v, dvdt, membrane, acc.saturations
    spikes, subtractions = tsc_fire(v, threshold, steps)
    return spikes, v, dvdt, membrane + subtractions, acc.saturations


def _zeros(batch, like):
    """Per-image counts of zero on ``like``'s device."""
    return torch.zeros(batch, dtype=torch.int64, device=like.device)


def _tsc_shared(layer, train, threshold, last, extra):
    dvdt = input_currents("tsc-shared", layer, train, extra=extra)
    batch, n, steps = dvdt.shape
    v = torch.zeros(batch, n, device=dvdt.device)
    spikes = torch.zeros(batch, n, steps, dtype=torch.int8, device=dvdt.device)
    state = torch.zeros(batch, n, dtype=torch.int8, device=dvdt.device)  # 0 idle, 1 on, 2 done
    membrane = torch.full((batch,), n * steps, dtype=torch.int64, device=dvdt.device)
    for t in range(steps):
        v = v + dvdt[..., t]
        if last:
            continue
        fire = v >= threshold
        start = (state == 0) & fire
        stay = (state == 1) & fire
        stop = (state == 1) & ~fire
        spikes[..., t] = start.to(torch.int8) - stop.to(torch.int8)
        state = torch.where(start, 1, torch.where(stop, 2, state)).to(torch.int8)
        v = torch.where(start | stay, v - threshold, v)
        membrane += (start | stay).sum(1)
    return (None if last else spikes), v, dvdt, membrane, _zeros(batch, dvdt)


def _tracked(train):
    # TTFS: a synapse counts from the step after its spike to the end of the window.
    return torch.cumsum(train, -1, dtype=torch.int8) - train


def shortcut_currents(method, layer, trains, scales, index):
    """The per-step input of a residual junction's shortcuts in the float model,
    ``[B, out, steps]``, each rescaled to the junction's units (``scales[source] /
    scales[index - 1]``); ``None`` for a layer without shortcuts. ``trains`` maps layer
    indices (-1: input) to spike trains.

    A spike of layer ``l`` stands for ``scales[l]`` under every method (temporal or rate
    coded), so one rescaling serves all. The windowed methods replay the source's
    window-relative train in the junction's window; the others see it at the same steps.
    The integer model's shortcuts carry their rescaling in their integer weights instead
    (:func:`junction_inputs`).
    """
    if not layer.shortcuts:
        return None
    total = 0
    for source, path in layer.shortcuts:
        factor = scales[source] / scales[index - 1]
        train = _tracked(trains[source]) if method == "ttfs" else trains[source]
        total = total + factor * layer_currents(path, train, False)
    return total


def junction_inputs(method, layer, trains, scales, index, fmt):
    """A layer's shortcut inputs: ``(extra, shortcuts)``, the float model's rescaled current
    (:func:`shortcut_currents`) or the integer model's ``(path, source train)`` pairs, whose
    paths hold integer weights (a :class:`~model.network.Gain` for an identity)."""
    if fmt is None:
        return shortcut_currents(method, layer, trains, scales, index), ()
    for source, path in layer.shortcuts:
        if not any(isinstance(op, WEIGHTED) for op in path.ops):
            raise ValueError(f"{layer.name}: the shortcut from layer {source} has no integer "
                             f"weight or gain, so the integer model cannot scale it to the "
                             f"junction's units; quantize the network with "
                             f"model.quantize.quantize (docs/residual.md)")
    return None, tuple((path, trains[source]) for source, path in layer.shortcuts)


def input_currents(method, layer, train, fmt=None, extra=None, shortcuts=()):
    """The per-step weighted input sum ``[B, out, steps]`` whose maximum balances thresholds:
    dV/dt for TSC, the tracked synapses' sum for TTFS, ``W s(t)`` for the rate methods.
    ``extra`` and ``shortcuts``: a residual junction's inputs (:func:`junction_inputs`)."""
    if method == "tsc":
        return _Accumulate(layer, train, fmt, shortcuts).dvdt_steps(extra)
    current = layer_currents(layer, _tracked(train) if method == "ttfs" else train, False)
    if extra is not None:
        current = current + extra
    return torch.cumsum(current, -1) if method == "tsc-shared" else current


def _ttfs(layer, train, threshold, last, extra):
    current = input_currents("ttfs", layer, train, extra=extra)
    batch, n, steps = current.shape
    v = current.sum(-1)
    membrane = torch.full((batch,), n * steps, dtype=torch.int64, device=current.device)
    if last:
        return None, v, current, membrane, _zeros(batch, current)
    # Fire window: a ramp threshold, so that the single spike at t encodes steps - 1 - t.
    spikes = torch.zeros(batch, n, steps, dtype=torch.int8, device=current.device)
    fired = torch.zeros(batch, n, dtype=torch.bool, device=current.device)
    for t in range(steps - 1):
        now = ~fired & (v >= (steps - 1 - t) * threshold)
        spikes[..., t] = now.to(torch.int8)
        fired |= now
    return spikes, v, current, membrane, _zeros(batch, current)


def _rate(layer, train, threshold, reset, last, extra):
    current = input_currents("if", layer, train, extra=extra)
    batch, n, steps = current.shape
    membrane = torch.full((batch,), n * steps, dtype=torch.int64, device=current.device)
    if last:
        return None, current.sum(-1), current, membrane, _zeros(batch, current)
    v = torch.zeros(batch, n, device=current.device)
    spikes = torch.zeros(batch, n, steps, dtype=torch.int8, device=current.device)
    for t in range(steps):
        v = v + current[..., t]
        fire = v >= threshold
        spikes[..., t] = fire.to(torch.int8)
        v = torch.where(fire, (v - threshold) if reset == "soft" else torch.zeros_like(v), v)
        if reset == "soft":
            membrane += fire.sum(1)
    return spikes, v, current, membrane, _zeros(batch, current)


def run_layer(method, layer, train, threshold, *, fmt=None, rounding="nearest", last=False,
              extra=None, shortcuts=()):
    """Run one layer over its steps. Returns ``(spikes_out or None, V, currents, membrane
    updates [B], saturations [B])``; ``currents`` are the per-step weighted input sums that
    threshold balancing takes its maximum over. ``extra`` and ``shortcuts``: a junction's
    shortcut inputs (:func:`junction_inputs`)."""
    if method == "tsc":
        return _tsc_windowed(layer, train, threshold, fmt, rounding, last, extra, shortcuts)
    if fmt is not None:
        raise ValueError(f"the integer model implements only the windowed 'tsc' method, "
                         f"not {method!r}")
    if method == "tsc-shared":
        return _tsc_shared(layer, train, threshold, last, extra)
    if method == "ttfs":
        return _ttfs(layer, train, threshold, last, extra)
    if method in ("if", "rmp"):
        return _rate(layer, train, threshold, "zero" if method == "if" else "soft", last, extra)
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def check_method(method, input_coding, rounding="nearest"):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method in ("if", "rmp") and input_coding not in RATE_INPUTS:
        raise ValueError(f"{method} needs input_coding in {RATE_INPUTS}, not {input_coding!r}")
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}; choose one of {', '.join(ROUNDINGS)}")


def simulate(network, x, method, steps, *, input_coding=None, fmt=None, rounding="nearest",
             generator=None, record=False, input_rounding="nearest", batch_size=None):
    """Simulate ``network`` (thresholds set) on inputs ``x`` ([B, *input_shape], in [-1, 1]).

    With ``fmt`` (integer network, windowed TSC only) this is the bit-exact golden model.
    ``input_rounding`` rounds the TSC and TTFS input codes (:func:`model.encoding.input_codes`).
    ``batch_size`` simulates ``x`` that many inputs at a time (the memory a simulation takes
    grows with the batch times N) and returns one result. The integer model gives the same
    result at any batch size; float methods the same up to float32 rounding (a batched
    matrix product sums in an order that depends on its size); Poisson trains are drawn
    batch by batch, so they change with it.
    """
    if batch_size is not None:
        if type(batch_size) is not int or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
        if len(x) > batch_size:
            return SimResult.concatenate([
                simulate(network, x[i:i + batch_size], method, steps, input_coding=input_coding,
                         fmt=fmt, rounding=rounding, generator=generator, record=record,
                         input_rounding=input_rounding) for i in range(0, len(x), batch_size)])
    check_method(method, input_coding, rounding)
    if any(th is None for th in network.thresholds):
        raise ValueError("the network's thresholds are not set; balance it first")
    train = encode_input(x, method, steps, input_coding=input_coding, generator=generator,
                         input_rounding=input_rounding)
    batch = train.shape[0]
    spikes = [train] if record else []
    synaptic = _zeros(batch, train)
    membrane = _zeros(batch, train)
    saturations = _zeros(batch, train)
    # Constant (analog) input is not spikes: it counts neither as spikes nor as neurons.
    coded = input_coding != "constant"
    spike_count = (train != 0).flatten(1).sum(1) if coded else _zeros(batch, train)
    spiking_neurons = network.layers[0].in_size if coded else 0
    trains, scales = {-1: train}, network.scales()
    for index, layer in enumerate(network.layers):
        last = index == len(network.layers) - 1
        tracked = _tracked if method == "ttfs" else (lambda t: t)
        synaptic += _synaptic_count(layer, tracked(train))
        for source, path in layer.shortcuts:  # the source's spikes again: reads and additions
            synaptic += _synaptic_count(path, tracked(trains[source]))
        extra, shortcuts = junction_inputs(method, layer, trains, scales, index, fmt)
        out, v, _, mem, sat = run_layer(method, layer, train, layer.threshold, fmt=fmt,
                                        rounding=rounding, last=last, extra=extra,
                                        shortcuts=shortcuts)
        membrane += mem
        saturations += sat
        if last:
            break
        train = out.reshape(batch, *layer.out_shape, steps)
        if network.residual:
            trains[index] = train
        spike_count += (out != 0).flatten(1).sum(1)
        spiking_neurons += layer.out_size
        if record:
            spikes.append(train)
    windows = network.windows() if method in ("tsc", "ttfs") else 1
    counts = Counts(synaptic, membrane, spike_count, saturations, spiking_neurons,
                    windows * steps)
    return SimResult(v, argmax_lowest(v), counts, spikes)
