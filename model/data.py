"""The default data set: scikit-learn's 8x8 digits (offline), with a fixed split.

Pixels (0..16) are mapped to the TSC input range by ``x = pixel * INPUT_SCALE +
INPUT_OFFSET`` = ``pixel / 8 - 1``, so inputs are bipolar in [-1, 1] and both spike signs
occur. The same two numbers are written into the network file for the host tool.
"""

from dataclasses import dataclass

import torch

__all__ = ["INPUT_SCALE", "INPUT_OFFSET", "SEED", "Split", "load_digits", "scale_pixels"]

INPUT_SCALE = 1.0 / 8.0
INPUT_OFFSET = -1.0
SEED = 0  # the one seed of the split, the training and the Poisson draws


@dataclass(frozen=True)
class Split:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    raw_test: torch.Tensor  # the test pixels as integers 0..16, for the host tool


def scale_pixels(pixels, scale=INPUT_SCALE, offset=INPUT_OFFSET):
    """Map raw pixels to inputs in [-1, 1]."""
    return (torch.as_tensor(pixels, dtype=torch.float64) * scale + offset).clamp(-1, 1).float()


def load_digits(shape="flat", test_fraction=0.2, seed=SEED):
    """Load digits with a stratified split fixed by ``seed``.

    ``shape`` is ``"flat"`` (64 features) or ``"image"`` (1 x 8 x 8).
    """
    from sklearn.datasets import load_digits as sk_load
    from sklearn.model_selection import train_test_split

    if shape not in ("flat", "image"):
        raise ValueError(f"shape must be 'flat' or 'image', not {shape!r}")
    data = sk_load()
    raw_train, raw_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=test_fraction, random_state=seed, stratify=data.target)
    view = (lambda a: a.reshape(-1, 64)) if shape == "flat" else (lambda a: a.reshape(-1, 1, 8, 8))
    return Split(view(scale_pixels(raw_train)), torch.as_tensor(y_train),
                 view(scale_pixels(raw_test)), torch.as_tensor(y_test),
                 torch.as_tensor(raw_test, dtype=torch.int64).reshape(-1, 64))
