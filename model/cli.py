"""Argument types shared by the command lines: a bad number is refused when it is parsed,
with a message naming what is accepted (argparse then exits with status 2)."""

import argparse
import math
import os
from pathlib import Path

from .quantize import MAX_STEPS

__all__ = ["steps_type", "positive_int", "positive_float", "non_negative_int", "power_of_two",
           "output_file"]


def _number(text, kind):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {'an integer' if kind is int else 'a number'}, not {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, not {text!r}")
    return value


def positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text):
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def positive_float(text):
    value = _number(text, float)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def steps_type(text):
    """An argparse type: time steps per window N, 2 to :data:`model.quantize.MAX_STEPS`."""
    value = _number(text, int)
    if not 2 <= value <= MAX_STEPS:
        raise argparse.ArgumentTypeError(f"must be from 2 to {MAX_STEPS}, not {value}")
    return value


def power_of_two(largest):
    """An argparse type: a power of two from 1 to ``largest``."""
    def parse(text):
        value = _number(text, int)
        if value < 1 or value > largest or value & (value - 1):
            raise argparse.ArgumentTypeError(
                f"must be a power of two from 1 to {largest}, not {value}")
        return value
    return parse


def output_file(text):
    """An argparse type: a file that can be written, checked before any long work."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise argparse.ArgumentTypeError(f"{text}: cannot write there")
    return path
