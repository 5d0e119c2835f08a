"""The default networks: small, bias-free, trained in seconds on digits."""

from torch import nn

__all__ = ["ARCHITECTURES", "build"]


def mlp(hidden=128):
    """64-128-10 MLP."""
    return nn.Sequential(nn.Linear(64, hidden, bias=False), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(hidden, 10, bias=False))


def wide():
    """64-512-10 MLP: 37,888 weights, more than the iCE40UP5K's block RAM holds (its
    bitstream keeps them in SPRAM)."""
    return mlp(512)


def deep():
    """64-64-64-10 MLP."""
    return nn.Sequential(nn.Linear(64, 64, bias=False), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(64, 64, bias=False), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(64, 10, bias=False))


def cnn():
    """Two 3x3 convolutions with average pooling and a linear classifier (input 1x8x8)."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.ReLU(),
                         nn.AvgPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1, bias=False), nn.ReLU(),
                         nn.AvgPool2d(2), nn.Flatten(),
                         nn.Linear(32 * 2 * 2, 10, bias=False))


def resnet():
    """A small residual network: a 3x3 stem, an identity block, a downsampling block (its
    shortcut an average pool and a 1x1 convolution), global average pooling, a classifier."""
    from .zoo import ResidualBlock

    class SmallResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.ReLU())
            self.blocks = nn.Sequential(ResidualBlock(16, 16, 1, 0.1),
                                        ResidualBlock(16, 32, 2, 0.1))
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                      nn.Linear(32, 10, bias=False))

        def forward(self, x):
            return self.head(self.blocks(self.stem(x)))

    return SmallResNet()


def plain():
    """``resnet`` without its shortcuts: the same layers in a chain, for comparison."""
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.ReLU(), nn.Dropout(0.1),
                         nn.Conv2d(16, 16, 3, padding=1, bias=False), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False), nn.ReLU(),
                         nn.Dropout(0.1), nn.Conv2d(32, 32, 3, padding=1, bias=False), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10, bias=False))


# name -> (constructor, input shape, data shape)
ARCHITECTURES = {
    "mlp": (mlp, (64,), "flat"),
    "wide": (wide, (64,), "flat"),
    "deep": (deep, (64,), "flat"),
    "cnn": (cnn, (1, 8, 8), "image"),
    "resnet": (resnet, (1, 8, 8), "image"),
    "plain": (plain, (1, 8, 8), "image"),
}


def build(name):
    """Return ``(model, input_shape, data_shape)`` for an architecture name."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; choose one of "
                         f"{', '.join(ARCHITECTURES)}")
    constructor, input_shape, data_shape = ARCHITECTURES[name]
    return constructor(), input_shape, data_shape
