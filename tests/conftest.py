import pickle

import numpy as np
import pytest
import torch

from model.convert import convert
from model.train import train


@pytest.fixture(scope="session")
def trained_mlp():
    """A quickly trained 64-128-10 MLP with its data split and converted network."""
    model, split, accuracy = train("mlp", epochs=12)
    return model, split, convert(model, (64,)), accuracy


@pytest.fixture(scope="session")
def trained_cnn():
    model, split, accuracy = train("cnn", epochs=12)
    return model, split, convert(model, (1, 8, 8)), accuracy


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)


def write_cifar10(root, per_batch=4):
    """Small CIFAR-10 python pickles (random images) under ``root``; returns their folder."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"labels": list(rng.integers(0, 10, per_batch))}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return folder
