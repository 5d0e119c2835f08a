"""Each example in examples/ runs as a user would run it (small settings) and says what it
should."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name, *args, cwd):
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_own_mlp_on_mnist(tmp_path):
    out = _example("own_mlp.py", "--epochs", "2", "--calibration", "300", "--test-limit",
                   "200", "--out", "ex", cwd=tmp_path)
    agreement = re.search(r"int8 TSC N=16: accuracy [\d.]+%, agreement with the ANN ([\d.]+)%",
                          out)
    assert agreement and float(agreement.group(1)) > 95, out
    assert "(200 images)" in out
    assert (tmp_path / "ex" / "mnist-mlp.tscn").is_file()
    assert "icebreaker: 784-128-10 (0 shortcuts), 2 lanes, weights in spram" in out


def test_own_cnn_with_dataloaders(tmp_path):
    out = _example("own_cnn.py", "--epochs", "6", "--steps", "16", "--rate-steps", "32",
                   "--test-limit", "96", "--device", "cpu", cwd=tmp_path)
    assert "ANN:" in out and "on 96 test images (cpu)" in out
    rows = re.findall(r"^(tsc|tsc-int8|if-poisson|rmp-constant) +0\.8 +(\d+) ", out, re.M)
    assert rows == [("tsc", "16"), ("tsc-int8", "16"), ("if-poisson", "32"),
                    ("rmp-constant", "32")], out
    assert "Equal fidelity" in out


def test_tabular_raw_features_through_the_network_file(tmp_path):
    out = _example("tabular.py", "--epochs", "20", "--out", "ex", cwd=tmp_path)
    assert "30 per-feature scales, input codes rounded to nearest" in out
    agreement = re.search(r"agreement with the ANN ([\d.]+)%; (\d+) value\(s\)", out)
    assert agreement and float(agreement.group(1)) > 95, out
    assert int(agreement.group(2)) > 0  # test rows beyond the training range are counted


@pytest.mark.parametrize("name", ["own_mlp.py", "own_cnn.py", "tabular.py"])
def test_examples_explain_themselves(name, tmp_path):
    assert "usage:" in _example(name, "--help", cwd=tmp_path)
