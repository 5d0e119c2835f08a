"""The built-in networks (small, bias-free, trained in seconds) and your own.

A built-in architecture adapts to the data: ``build("mlp", (13,), 3)`` is a 13-128-3 MLP
for wine; ``build("cnn", (1, 28, 28))`` a CNN for MNIST. Your own network is
``FILE.py:FUNCTION``, a function of no arguments returning the ``nn.Module`` (a bias-free
``nn.Sequential`` of the layers :mod:`model.convert` takes, or a module built from
:class:`model.zoo.ResidualBlock`), which takes the data's own input shape (images as
``[C, H, W]``: begin with ``nn.Flatten()`` for an MLP on images).
"""

import importlib.util
import math
import sys
from pathlib import Path

from torch import nn

__all__ = ["ARCHITECTURES", "DIGITS_SHAPES", "build", "load_user_model", "model_for"]

# the digits shapes the built-ins take by default
DIGITS_SHAPES = {"flat": (64,), "image": (1, 8, 8)}


def mlp(shape, classes, hidden=128):
    """``in``-128-``classes`` MLP (64-128-10 on digits)."""
    return nn.Sequential(nn.Linear(math.prod(shape), hidden, bias=False), nn.ReLU(),
                         nn.Dropout(0.1), nn.Linear(hidden, classes, bias=False))


def wide(shape, classes):
    """``in``-512-``classes`` MLP: on digits 37,888 weights, more than the iCE40UP5K's block
    RAM holds (its bitstream keeps them in SPRAM)."""
    return mlp(shape, classes, 512)


def deep(shape, classes):
    """``in``-64-64-``classes`` MLP."""
    return nn.Sequential(nn.Linear(math.prod(shape), 64, bias=False), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(64, 64, bias=False), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(64, classes, bias=False))


def cnn(shape, classes):
    """Two 3x3 convolutions with average pooling and a linear classifier (input C x H x W)."""
    channels, height, width = shape
    return nn.Sequential(nn.Conv2d(channels, 16, 3, padding=1, bias=False), nn.ReLU(),
                         nn.AvgPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(32 * (height // 4) * (width // 4), classes, bias=False))


def resnet(shape, classes):
    """A small residual network: a 3x3 stem, an identity block, a downsampling block (its
    shortcut an average pool and a 1x1 convolution), global average pooling, a classifier."""
    from .zoo import ResidualBlock

    class SmallResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(shape[0], 16, 3, padding=1, bias=False),
                                      nn.ReLU())
            self.blocks = nn.Sequential(ResidualBlock(16, 16, 1, 0.1),
                                        ResidualBlock(16, 32, 2, 0.1))
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                      nn.Linear(32, classes, bias=False))

        def forward(self, x):
            return self.head(self.blocks(self.stem(x)))

    return SmallResNet()


def plain(shape, classes):
    """``resnet`` without its shortcuts: the same layers in a chain, for comparison."""
    return nn.Sequential(nn.Conv2d(shape[0], 16, 3, padding=1, bias=False), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.ReLU(), nn.Dropout(0.1),
                         nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.ReLU(),
                         nn.Dropout(0.1), nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(32, classes, bias=False))


# name -> (constructor, the data shape it takes: "flat" or "image")
ARCHITECTURES = {
    "mlp": (mlp, "flat"),
    "wide": (wide, "flat"),
    "deep": (deep, "flat"),
    "cnn": (cnn, "image"),
    "resnet": (resnet, "image"),
    "plain": (plain, "image"),
}


def build(name, input_shape=None, classes=10):
    """Return ``(model, input_shape, data_shape)`` for a built-in architecture on inputs of
    ``input_shape`` (default: digits) with ``classes`` outputs; a flat architecture takes the
    inputs flattened."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of "
                         f"{', '.join(ARCHITECTURES)}, or give FILE.py:FUNCTION")
    constructor, data_shape = ARCHITECTURES[name]
    shape = tuple(input_shape or DIGITS_SHAPES[data_shape])
    if data_shape == "flat":
        shape = (math.prod(shape),)
    elif len(shape) != 3:
        raise ValueError(f"{name} takes images [C, H, W], not inputs of shape {list(shape)}")
    return constructor(shape, classes), shape, data_shape


def load_user_model(spec):
    """The ``nn.Module`` that ``FILE.py:FUNCTION`` builds; :class:`ValueError` naming what is
    wrong (no file, no function, not a module)."""
    path, _, function = str(spec).rpartition(":")
    if not path.endswith(".py") or not function.isidentifier():
        raise ValueError(f"{spec!r} is not FILE.py:FUNCTION (a Python file and the function in "
                         f"it that returns the nn.Module), nor a built-in architecture "
                         f"({', '.join(ARCHITECTURES)})")
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValueError(f"{file}: no such file (from --model {spec})")
    loader = importlib.util.spec_from_file_location(f"tsc_user_model_{file.stem}", file)
    module = importlib.util.module_from_spec(loader)
    sys.path.insert(0, str(file.parent))  # the file may import its neighbours
    try:
        loader.loader.exec_module(module)
    except Exception as error:
        raise ValueError(f"{file}: importing it failed ({type(error).__name__}: {error})") \
            from error
    finally:
        sys.path.remove(str(file.parent))
    build_model = getattr(module, function, None)
    if not callable(build_model):
        raise ValueError(f"{file} has no function {function!r}")
    try:
        network = build_model()
    except Exception as error:
        raise ValueError(f"{spec}: calling {function}() failed ({type(error).__name__}: "
                         f"{error})") from error
    if not isinstance(network, nn.Module):
        raise ValueError(f"{spec}: {function}() returned {type(network).__name__}, not an "
                         f"nn.Module")
    return network


def model_for(spec, data_shape, classes):
    """``(model, input_shape, kind)`` for ``spec``, a built-in name or ``FILE.py:FUNCTION``,
    on data whose own input shape is ``data_shape`` (None: digits') with ``classes`` classes.
    ``kind`` is the built-in's ``"flat"`` or ``"image"`` (a flat one takes the inputs
    flattened); a model of your own takes the data's own shape, and its ``kind`` is None."""
    if spec in ARCHITECTURES:
        return build(spec, data_shape, classes)
    return load_user_model(spec), tuple(data_shape), None
