"""The tsc-snn golden model, and the Python API of the flow (``docs/api.md``).

Pipeline: a trained torch network -> :func:`convert` (a :class:`Network`) ->
:func:`balance` (float thresholds, any method) or :func:`quantize` (int8 weights, integer
thresholds: the hardware's :class:`IntegerNetwork`) -> :func:`simulate` /
:meth:`IntegerNetwork.run` -> :func:`write_network` (the file ``rtl.build`` and the host
tool load). :func:`load_data` and :func:`train` give data sets and trained networks;
:func:`evaluate` compares the methods. Everything runs on the device of its inputs (CPU or
CUDA), in batches, and inside ``torch.no_grad()`` or ``torch.inference_mode()``.
"""

from .balance import balance, calibration_inputs
from .convert import ConversionError, ann_forward, convert
from .data import DataError, Split, load_data, split_from_arrays
from .encoding import input_codes
from .evaluate import batches, efficiency, evaluate
from .fixedpoint import FixedPointFormat
from .inputs import fit_input_range, map_inputs
from .netfile import NetworkFileError, read_network, write_network
from .network import Network
from .quantize import IntegerNetwork, quantize
from .simulate import Counts, SimResult, simulate
from .train import check_fits, load_checkpoint, save_checkpoint, train, train_model

__all__ = [
    "ConversionError", "Counts", "DataError", "FixedPointFormat", "IntegerNetwork", "Network",
    "NetworkFileError", "SimResult", "Split", "ann_forward", "balance", "batches",
    "calibration_inputs", "check_fits", "convert", "efficiency", "evaluate", "fit_input_range",
    "input_codes", "load_checkpoint", "load_data", "map_inputs", "quantize", "read_network",
    "save_checkpoint", "simulate", "split_from_arrays", "train", "train_model",
    "write_network",
]
