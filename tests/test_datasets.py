"""The data set readers on small files written here in the real formats."""

import pickle

import numpy as np
import pytest
import torch
from conftest import write_cifar10
from PIL import Image

from model.datasets import DatasetError, ImageFolder, load_cifar


def test_cifar10_reads_all_batches_and_normalises(tmp_path):
    write_cifar10(tmp_path)
    x, y = load_cifar(tmp_path, 10, "train")
    assert x.shape == (20, 3, 32, 32) and y.shape == (20,) and y.dtype == torch.int64
    assert x.min() >= -1 and x.max() <= 1
    x, y = load_cifar(tmp_path / "cifar-10-batches-py", 10, "test")
    assert x.shape == (4, 3, 32, 32)


def test_cifar100_uses_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    with open(folder / "test", "wb") as f:
        pickle.dump({b"data": np.zeros((3, 3072), np.uint8), b"fine_labels": [5, 99, 0],
                     b"coarse_labels": [1, 2, 3]}, f)
    _, y = load_cifar(tmp_path, 100, "test")
    assert y.tolist() == [5, 99, 0]


def test_missing_and_corrupt_cifar_files_are_named(tmp_path):
    with pytest.raises(DatasetError, match=r"CIFAR-10 train split not found: expected .*"
                                           r"data_batch_1"):
        load_cifar(tmp_path, 10, "train")
    folder = write_cifar10(tmp_path)
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match=r"test_batch is not a CIFAR python pickle"):
        load_cifar(tmp_path, 10, "test")


def test_image_folder_reads_classes_in_order(tmp_path):
    for name, colour in (("n01", (255, 0, 0)), ("n02", (0, 0, 255))):
        (tmp_path / "val" / name).mkdir(parents=True)
        Image.new("RGB", (40, 30), colour).save(tmp_path / "val" / name / "a.JPEG")
    data = ImageFolder(tmp_path, "val", size=16, resize=20)
    assert data.classes == ["n01", "n02"] and len(data) == 2
    image, label = data[1]
    assert image.shape == (3, 16, 16) and label == 1
    assert image[2].mean() > image[0].mean()  # blue


def test_image_folder_errors(tmp_path):
    with pytest.raises(DatasetError, match=r"val is missing: expected .*/val/<class>/<image>"):
        ImageFolder(tmp_path)
    (tmp_path / "val" / "n01").mkdir(parents=True)
    with pytest.raises(DatasetError, match="has class folders but no images"):
        ImageFolder(tmp_path)
