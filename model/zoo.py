"""The paper's networks, as it trains them (section 5): no batch normalisation, no biases,
average pooling; in VGG a dropout after every ReLU except those followed by pooling; in the
ResNets dropout only on the residual (non-identity) paths, not at the junctions.

Initialisation: Kaiming-normal for every convolution and linear layer, and the last
convolution of each residual path scaled down (x 0.1) so that a deep network without batch
normalisation starts close to the identity, in the spirit of Hardt & Ma (the paper's [11]).

VGG-16 is an ``nn.Sequential``; the ResNets convert through ``torch.fx`` tracing, with their
junctions aligned as ``docs/residual.md`` describes (float TSC model).
"""

from torch import nn

__all__ = ["vgg16", "resnet20", "resnet34", "ZOO"]

VGG16 = (64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P", 512, 512, 512, "P")


def _init(model):
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    for module in model.modules():
        if isinstance(module, ResidualBlock):
            module.path[-1].weight.data.mul_(0.1)
    return model


def vgg16(classes=10, image_size=32, dropout=0.2, width=1.0):
    """VGG-16 with average pooling; ``width`` scales every layer's channels (for tests)."""
    layers, channels = [], 3
    for index, item in enumerate(VGG16):
        if item == "P":
            layers.append(nn.AvgPool2d(2))
            continue
        out = max(1, int(item * width))
        layers += [nn.Conv2d(channels, out, 3, padding=1, bias=False), nn.ReLU()]
        if VGG16[index + 1] != "P":
            layers.append(nn.Dropout(dropout))
        channels = out
    side = image_size // 32
    hidden = max(1, int(4096 * width))
    layers += [nn.Flatten(), nn.Linear(channels * side * side, hidden, bias=False), nn.ReLU(),
               nn.Dropout(dropout), nn.Linear(hidden, hidden, bias=False), nn.ReLU(),
               nn.Dropout(dropout), nn.Linear(hidden, classes, bias=False)]
    return _init(nn.Sequential(*layers))


class ResidualBlock(nn.Module):
    """``relu(path(x) + shortcut(x))``; the path is conv-relu-dropout-conv, the shortcut the
    identity or, when the shape changes, an average pool and a 1x1 convolution."""

    def __init__(self, channels_in, channels_out, stride, dropout):
        super().__init__()
        self.path = nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False),
            nn.ReLU(), nn.Dropout(dropout),
            nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False))
        if stride == 1 and channels_in == channels_out:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Sequential(nn.AvgPool2d(stride),
                                          nn.Conv2d(channels_in, channels_out, 1, bias=False))
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.path(x) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, stem, stages, classes, dropout):
        super().__init__()
        channels, layers = stem
        self.stem = nn.Sequential(*layers)
        blocks = []
        for out, count, stride in stages:
            for number in range(count):
                blocks.append(ResidualBlock(channels, out, stride if number == 0 else 1,
                                            dropout))
                channels = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(channels, classes, bias=False))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


def resnet20(classes=10, dropout=0.2, width=1.0):
    """ResNet-20 for 32x32 inputs (He et al.): 3 stages of 3 blocks, 16/32/64 channels."""
    c = [max(1, int(w * width)) for w in (16, 32, 64)]
    stem = (c[0], [nn.Conv2d(3, c[0], 3, padding=1, bias=False), nn.ReLU()])
    return _init(ResNet(stem, [(c[0], 3, 1), (c[1], 3, 2), (c[2], 3, 2)], classes, dropout))


def resnet34(classes=1000, dropout=0.2, width=1.0):
    """ResNet-34 for ImageNet: a 7x7 stem with average pooling, 3/4/6/3 blocks."""
    c = [max(1, int(w * width)) for w in (64, 128, 256, 512)]
    stem = (c[0], [nn.Conv2d(3, c[0], 7, stride=2, padding=3, bias=False), nn.ReLU(),
                   nn.AvgPool2d(2)])
    stages = [(c[0], 3, 1), (c[1], 4, 2), (c[2], 6, 2), (c[3], 3, 2)]
    return _init(ResNet(stem, stages, classes, dropout))


ZOO = {"vgg16": vgg16, "resnet20": resnet20, "resnet34": resnet34}
