"""Train one of the paper's networks on CIFAR-10/100 (or ImageNet) from local files:
``python -m model.train_zoo --arch vgg16 --data cifar10 --root PATH``. Runs on a GPU when
one is present (``--device``)."""

import argparse
import sys

import torch
from torch import nn

from .datasets import DatasetError, load_cifar
from .zoo import ZOO

__all__ = ["train_steps", "main"]


def train_steps(model, x, y, steps, batch_size=128, lr=0.05, device="cpu", progress=False):
    """SGD with momentum and a cosine schedule for ``steps`` mini-batches; returns the losses."""
    model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for step in range(steps):
        index = torch.randint(0, len(x), (min(batch_size, len(x)),))
        optimizer.zero_grad()
        loss = loss_fn(model(x[index].to(device)), y[index].to(device))
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if progress and (step + 1) % 50 == 0:
            print(f"  step {step + 1}/{steps}: loss {losses[-1]:.4f}", file=sys.stderr,
                  flush=True)
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.train_zoo", description=__doc__)
    parser.add_argument("--arch", choices=sorted(ZOO), default="vgg16")
    parser.add_argument("--data", choices=("cifar10", "cifar100"), default="cifar10")
    parser.add_argument("--root", required=True, help="folder with the CIFAR python pickles")
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("-o", "--out", default=None)
    args = parser.parse_args(argv)
    classes = 10 if args.data == "cifar10" else 100
    try:
        x, y = load_cifar(args.root, classes, "train")
        x_test, y_test = load_cifar(args.root, classes, "test")
    except DatasetError as error:
        sys.exit(f"error: {error}")
    model = ZOO[args.arch](classes=classes)
    train_steps(model, x, y, args.steps, args.batch_size, args.lr, args.device, progress=True)
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x_test[i:i + 500].to(args.device)).argmax(1).cpu()
                           == y_test[i:i + 500]).sum()) for i in range(0, len(x_test), 500))
    accuracy = correct / len(x_test)
    out = args.out or f"{args.arch}-{args.data}.pt"
    torch.save({"arch": args.arch, "classes": classes, "state_dict": model.state_dict(),
                "test_accuracy": accuracy}, out)
    print(f"{args.arch} on {args.data}: test accuracy {100 * accuracy:.2f}%, saved to {out}")


if __name__ == "__main__":
    main()
