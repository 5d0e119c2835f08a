"""Train a default bias-free network on digits: ``python -m model.train``."""

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn

from .cli import output_file
from .data import SEED, load_digits
from .networks import ARCHITECTURES, build

__all__ = ["train", "save_checkpoint", "load_checkpoint", "accuracy"]


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def train(arch="mlp", epochs=40, lr=3e-3, batch_size=64, seed=SEED, progress=False):
    """Train ``arch`` on the digits training split; return ``(model, split, test accuracy)``."""
    torch.manual_seed(seed)
    model, _, data_shape = build(arch)
    split = load_digits(data_shape, seed=seed)
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
        if progress and (epoch + 1) % 10 == 0:
            print(f"  train {arch}: epoch {epoch + 1}/{epochs} loss {loss.item():.4f} "
                  f"test accuracy {accuracy(model, split.x_test, split.y_test):.4f}",
                  file=sys.stderr, flush=True)
    model.eval()
    return model, split, accuracy(model, split.x_test, split.y_test)


def save_checkpoint(path, arch, model, test_accuracy):
    torch.save({"format": "tsc-snn-checkpoint", "version": 1, "arch": arch,
                "state_dict": model.state_dict(), "test_accuracy": test_accuracy}, path)


def load_checkpoint(path):
    """Return ``(arch, model, test_accuracy)`` from a checkpoint written by :func:`train`."""
    if not Path(path).is_file():
        raise ValueError(f"{path}: no such checkpoint file (write one with python -m "
                         f"model.train)")
    try:
        data = torch.load(path, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from error
    if not isinstance(data, dict) or data.get("format") != "tsc-snn-checkpoint":
        raise ValueError(f"{path}: not a tsc-snn checkpoint (write one with python -m model.train)")
    if data.get("arch") not in ARCHITECTURES:
        raise ValueError(f"{path}: unknown architecture {data.get('arch')!r}; this version "
                         f"knows {', '.join(sorted(ARCHITECTURES))}")
    model, _, _ = build(data["arch"])
    try:
        model.load_state_dict(data["state_dict"])
    except (KeyError, RuntimeError) as error:
        raise ValueError(f"{path}: its weights do not fit the {data['arch']} architecture "
                         f"({str(error).splitlines()[0]})") from error
    model.eval()
    return data["arch"], model, data["test_accuracy"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.train", description=__doc__)
    parser.add_argument("--arch", choices=sorted(ARCHITECTURES), default="mlp")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("-o", "--out", type=output_file, default=None,
                        help="checkpoint path (default: ARCH.pt)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    out = args.out or Path(f"{args.arch}.pt")
    model, _, acc = train(args.arch, epochs=args.epochs, seed=args.seed, progress=True)
    save_checkpoint(out, args.arch, model, acc)
    result = {"arch": args.arch, "test_accuracy": acc, "checkpoint": str(out)}
    print(json.dumps(result) if args.json else
          f"{args.arch}: test accuracy {acc:.4f}, checkpoint written to {out}")


if __name__ == "__main__":
    main()
