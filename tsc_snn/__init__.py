"""tsc-snn's Python API: the whole flow from a trained torch network to a bitstream.

    import tsc_snn as tsc

Pipeline (``docs/api.md``): :func:`load_data` / :func:`train` -> :func:`convert` (a
:class:`Network`) -> :func:`balance` (float thresholds, any method) or :func:`quantize`
(int8 weights, integer thresholds: the hardware's :class:`IntegerNetwork`) ->
:func:`simulate` / :meth:`IntegerNetwork.run` -> :func:`write_network` -> :func:`estimate`
/ :func:`build` (the bitstream). :func:`evaluate` compares the methods. Everything runs on
the device of its inputs (CPU or CUDA), in batches, and inside ``torch.no_grad()`` or
``torch.inference_mode()``.
"""

from model.balance import balance, calibration_inputs
from model.convert import ConversionError, ann_forward, convert
from model.data import DataError, Split, load_data, split_from_arrays
from model.encoding import input_codes
from model.evaluate import batches, efficiency, evaluate
from model.fixedpoint import FixedPointFormat
from model.inputs import fit_input_range, map_inputs
from model.netfile import NetworkFileError, read_network, write_network
from model.network import Network
from model.quantize import IntegerNetwork, quantize
from model.simulate import Counts, SimResult, simulate
from model.train import check_fits, load_checkpoint, save_checkpoint, train, train_model
from rtl.build import build, estimate, format_estimate, format_report

__all__ = [
    "ConversionError", "Counts", "DataError", "FixedPointFormat", "IntegerNetwork", "Network",
    "NetworkFileError", "SimResult", "Split", "ann_forward", "balance", "batches", "build",
    "calibration_inputs", "check_fits", "convert", "efficiency", "estimate", "evaluate",
    "fit_input_range", "format_estimate", "format_report", "input_codes", "load_checkpoint",
    "load_data", "map_inputs", "quantize", "read_network", "save_checkpoint", "simulate",
    "split_from_arrays", "train", "train_model", "write_network",
]
