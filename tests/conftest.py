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
