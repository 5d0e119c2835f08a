"""Readers for the paper's data sets from local files (no downloads).

- CIFAR-10 / CIFAR-100: the "python version" pickles as distributed
  (``cifar-10-batches-py/data_batch_1..5``, ``test_batch``; ``cifar-100-python/train``,
  ``test``).
- ImageNet: a folder per class, ``ROOT/train/<wnid>/*.JPEG`` and ``ROOT/val/<wnid>/*.JPEG``.

Images come back as float tensors ``[n, 3, H, W]`` normalised per channel to zero mean and
unit standard deviation and clipped to [-1, 1] (the TSC input range), with int64 labels. A
missing or malformed file raises :class:`DatasetError` naming what was expected.
"""

import pickle
from pathlib import Path

import numpy as np
import torch

__all__ = ["DatasetError", "load_cifar", "ImageFolder", "CIFAR_MEAN", "CIFAR_STD"]

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DatasetError(FileNotFoundError):
    """A data set that is missing or not in the expected format."""


def _normalise(images, mean, std):
    mean = torch.tensor(mean).view(1, 3, 1, 1)
    std = torch.tensor(std).view(1, 3, 1, 1)
    return ((images - mean) / std).clamp(-1.0, 1.0)


def _unpickle(path):
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise DatasetError(f"{path} is not a CIFAR python pickle ({error})") from error


def load_cifar(root, classes=10, split="train"):
    """Load CIFAR-``classes`` (10 or 100) ``split`` ("train" or "test") from ``root``, the
    folder that holds ``cifar-10-batches-py`` or ``cifar-100-python`` (or that folder)."""
    if classes not in (10, 100):
        raise ValueError(f"classes must be 10 or 100, not {classes!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    root = Path(root)
    folder = "cifar-10-batches-py" if classes == 10 else "cifar-100-python"
    base = root / folder if (root / folder).is_dir() else root
    if classes == 10:
        names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
        key = b"labels"
    else:
        names, key = [split], b"fine_labels"
    missing = [n for n in names if not (base / n).is_file()]
    if missing:
        raise DatasetError(f"CIFAR-{classes} {split} split not found: expected "
                           f"{', '.join(str(base / n) for n in missing)} (the python version "
                           f"of the data set, unpacked)")
    data, labels = [], []
    for name in names:
        batch = _unpickle(base / name)
        if not isinstance(batch, dict) or b"data" not in batch or key not in batch:
            raise DatasetError(f"{base / name} has no {b'data'!r} and {key!r} entries")
        array = np.asarray(batch[b"data"], dtype=np.uint8)
        if array.ndim != 2 or array.shape[1] != 3 * 32 * 32:
            raise DatasetError(f"{base / name}: data has shape {array.shape}, expected "
                               f"[n, 3072]")
        data.append(array)
        labels.extend(batch[key])
    images = torch.from_numpy(np.concatenate(data)).float().div(255).view(-1, 3, 32, 32)
    return _normalise(images, CIFAR_MEAN, CIFAR_STD), torch.tensor(labels, dtype=torch.int64)


class ImageFolder(torch.utils.data.Dataset):
    """ImageNet-style ``ROOT/SPLIT/<class>/<image>``; classes sorted by folder name; each
    image resized (shorter side ``resize``) and centre-cropped to ``size``."""

    EXTENSIONS = (".jpeg", ".jpg", ".png")

    def __init__(self, root, split="val", size=224, resize=256):
        folder = Path(root) / split
        if not folder.is_dir():
            raise DatasetError(f"{folder} is missing: expected {root}/{split}/<class>/<image>")
        self.classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
        if not self.classes:
            raise DatasetError(f"{folder} has no class folders")
        self.samples = [(path, label) for label, name in enumerate(self.classes)
                        for path in sorted((folder / name).iterdir())
                        if path.suffix.lower() in self.EXTENSIONS]
        if not self.samples:
            raise DatasetError(f"{folder} has class folders but no images "
                               f"({', '.join(self.EXTENSIONS)})")
        self.size, self.resize = size, resize

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        from PIL import Image, UnidentifiedImageError
        path, label = self.samples[index]
        try:
            image = Image.open(path).convert("RGB")
        except (UnidentifiedImageError, OSError) as error:
            raise DatasetError(f"{path} is not a readable image ({error})") from error
        scale = self.resize / min(image.size)
        image = image.resize((max(1, round(image.width * scale)),
                              max(1, round(image.height * scale))), Image.BILINEAR)
        left = (image.width - self.size) // 2
        top = (image.height - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        array = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)
        tensor = array.float().div(255).unsqueeze(0)
        return _normalise(tensor, IMAGENET_MEAN, IMAGENET_STD)[0], label
