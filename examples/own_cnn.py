"""Your own CNN, with DataLoaders, on CPU or CUDA: compare TSC with the rate baselines.

    python examples/own_cnn.py [--data digits] [--epochs 30] [--device cuda]
        [--steps 8,16,32] [--rate-steps 32,128,512] [--test-limit N]

Trains a bias-free CNN (3x3 convolutions, average pooling, a linear classifier) on 8x8
digits (or ``--data mnist``), balances thresholds from a ``DataLoader``, and runs
:func:`model.evaluate` for TSC, its int8 model and rate-coded IF/RMP in batches on the
device, printing each method's agreement with the ANN and its cost at equal fidelity.
"""

import argparse
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tsc_snn as tsc  # noqa: E402
from model.evaluate import format_efficiency, format_table  # noqa: E402


def cnn(channels, size, classes):
    return nn.Sequential(nn.Conv2d(channels, 8, 3, padding=1, bias=False), nn.ReLU(),
                         nn.AvgPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(16 * (size // 4) ** 2, classes, bias=False))


def train(net, loader, epochs, device):
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        net.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(net(x.to(device)), y.to(device)).backward()
            optimizer.step()
    net.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="digits")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps", default="8,16,32")
    parser.add_argument("--rate-steps", default="32,128,512")
    parser.add_argument("--test-limit", type=int, default=None, help="test images to simulate")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    split = tsc.load_data(args.data)  # images as [C, H, W]
    channels, size = split.input_shape[0], split.input_shape[1]
    train_loader = DataLoader(TensorDataset(split.x_train, split.y_train), batch_size=64,
                              shuffle=True, generator=torch.Generator().manual_seed(0))
    test = slice(None, args.test_limit)
    test_loader = DataLoader(TensorDataset(split.x_test[test], split.y_test[test]),
                             batch_size=128)
    torch.manual_seed(0)
    net = cnn(channels, size, split.classes).to(args.device)
    train(net, train_loader, args.epochs, args.device)

    with torch.no_grad():
        predictions = [(x, y, net(x.to(args.device)).argmax(1).cpu()) for x, y in test_loader]
        images = len(split.y_test[test])
        accuracy = sum(int((p == y).sum()) for _, y, p in predictions) / images
        print(f"ANN: {100 * accuracy:.2f}% on {images} test images ({args.device})")
        snn = tsc.convert(net.cpu(), split.input_shape)
        # thresholds from the training loader's first 512 images
        calibration = tsc.calibration_inputs(train_loader, limit=512)
        results = tsc.evaluate(snn, calibration, predictions,
                               rows=("tsc", "tsc-int8", "if-poisson", "rmp-constant"),
                               steps=tuple(int(n) for n in args.steps.split(",")),
                               rate_steps=tuple(int(n) for n in args.rate_steps.split(",")),
                               alphas=(0.8,), device=args.device, progress=False)
    print(format_table(results))
    print(format_efficiency(tsc.efficiency(results, target=0.99)))


if __name__ == "__main__":
    main()
