"""Every CLI once, on small settings, as a user would run it."""

import json
import re
import subprocess
import sys

import pytest


def _run(*args, cwd):
    done = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("module", ["model.train", "model.evaluate", "model.export"])
def test_help(module, tmp_path):
    assert "usage: python -m " + module in _run(module, "--help", cwd=tmp_path).stdout


def test_train_evaluate_export(tmp_path):
    trained = json.loads(_run("model.train", "--epochs", "8", "-o", "m.pt", "--json",
                              cwd=tmp_path).stdout)
    assert trained["test_accuracy"] > 0.85 and (tmp_path / "m.pt").exists()

    evaluated = json.loads(_run(
        "model.evaluate", "--checkpoint", "m.pt", "--methods", "tsc,tsc-int8,if-constant",
        "--steps", "8,16", "--rate-steps", "16", "--alphas", "0.8", "--test-limit", "60",
        "--plot", "fig.png", "--json", cwd=tmp_path).stdout)
    rows = {(r["method"], r["steps"]): r for r in evaluated["results"]}
    assert set(rows) == {("tsc", 8), ("tsc", 16), ("tsc-int8", 8), ("tsc-int8", 16),
                         ("if-constant", 16)}
    assert rows[("tsc", 16)]["latency"] == 32 and rows[("tsc", 16)]["spikes_per_neuron"] <= 2
    assert (tmp_path / "fig.png").stat().st_size > 10000
    assert "if-constant" in evaluated["efficiency"]["first_reaching"]

    exported = json.loads(_run("model.export", "--checkpoint", "m.pt", "--steps", "8",
                               "-o", "n.tscn", "--json", cwd=tmp_path).stdout)
    assert exported["bytes"] == (tmp_path / "n.tscn").stat().st_size
    assert exported["agreement"] > 0.9 and exported["saturations"] == 0

    # accumulators too narrow for the network: refused, naming widths that cannot clip
    narrow = _refused(["model.export", "--checkpoint", "m.pt", "--steps", "8",
                       "--dvdt-bits", "4", "-o", "narrow.tscn"], tmp_path)
    assert re.search(r"the accumulators clip \d+ times on the 360 test images with 4-bit "
                     r"dV/dt and 24-bit V; --dvdt-bits \d+ --v-bits \d+ make clipping "
                     r"impossible .*nothing written", narrow), narrow
    assert not (tmp_path / "narrow.tscn").exists()
    widths = re.search(r"--dvdt-bits (\d+) --v-bits (\d+)", narrow).groups()
    wide = json.loads(_run("model.export", "--checkpoint", "m.pt", "--steps", "8",
                           "--dvdt-bits", widths[0], "--v-bits", widths[1], "-o", "wide.tscn",
                           "--json", cwd=tmp_path).stdout)
    assert wide["saturations"] == 0
    forced = json.loads(_run("model.export", "--checkpoint", "m.pt", "--steps", "8",
                             "--dvdt-bits", "4", "--allow-saturation", "-o", "narrow.tscn",
                             "--json", cwd=tmp_path).stdout)
    assert forced["saturations"] > 0 and (tmp_path / "narrow.tscn").exists()


def test_bad_arguments_are_clear(tmp_path):
    done = subprocess.run([sys.executable, "-m", "model.evaluate", "--methods", "tsc,bogus"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "unknown method(s) bogus" in done.stderr
    (tmp_path / "junk.pt").write_bytes(b"junk")
    done = subprocess.run([sys.executable, "-m", "model.export", "--checkpoint", "junk.pt"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "not a readable checkpoint" in done.stderr


@pytest.mark.parametrize("argv, message", [
    (["model.export", "--steps", "1000000000"], "--steps: must be from 2 to 4096, not 1000000000"),
    (["model.export", "--steps", "1"], "--steps: must be from 2 to 4096, not 1"),
    (["model.export", "--alpha", "0"], "--alpha: must be more than 0, not 0"),
    (["model.evaluate", "--steps", "8,99999"], "--steps: must be from 2 to 4096, not 99999"),
    (["rtl.build", "--baud", "0"], "--baud: must be at least 1, not 0"),
    (["rtl.build", "--clock", "0"], "--clock: must be more than 0, not 0"),
    (["rtl.build", "--clock", "nan"], "--clock: expected a finite number, not 'nan'"),
    (["rtl.build", "--lanes", "3"], "--lanes: must be a power of two from 1 to 64, not 3"),
    (["rtl.build", "--seed", "-1"], "--seed: must be 0 or more, not -1"),
    (["rtl.build", "--seeds", "1,x"], "--seeds: expected seeds like 1,2,3, not '1,x'"),
    (["rtl.build", "--seeds", "1,1"], "--seeds: seeds must be distinct whole numbers, not '1,1'"),
    (["rtl.generate", "--network", "n.tscn", "--lanes", "1024"],
     "--lanes: must be a power of two from 1 to 64, not 1024"),
    (["fpga.run", "--port", "p", "--network", "n.tscn", "--images", "0"],
     "--images: must be at least 1, not 0"),
    (["fpga.run", "--port", "p", "--network", "n.tscn", "--images", "-3"],
     "--images: must be at least 1, not -3"),
    (["fpga.run", "--port", "p", "--network", "n.tscn", "--timeout", "-1"],
     "--timeout: must be more than 0, not -1"),
    (["fpga.run", "--port", "p", "--network", "n.tscn", "--timeout", "inf"],
     "--timeout: expected a finite number, not 'inf'"),
    (["fpga.run", "--port", "p", "--network", "n.tscn", "--baud", "0"],
     "--baud: must be at least 1, not 0"),
])
def test_bad_numbers_are_refused_when_parsed(argv, message, tmp_path):
    done = subprocess.run([sys.executable, "-m", *argv], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


USER_MODEL = """
from torch import nn


def build():
    return nn.Sequential(nn.Linear(6, 24, bias=False), nn.ReLU(), nn.Linear(24, 3, bias=False))


def biased():
    return nn.Sequential(nn.Linear(6, 3))


def text():
    return "not a network"
"""


def test_your_own_model_and_data_through_every_command(tmp_path):
    """--model FILE.py:FUNCTION and --data FILE.npz for train, evaluate, reproduce and
    export; the checkpoint remembers both, and the network file the data's input range."""
    import numpy as np

    from model.netfile import read_network

    rng = np.random.default_rng(0)
    centres = rng.normal(0, 30, (3, 6))
    labels = np.arange(240) % 3
    x = centres[labels] + rng.normal(0, 8, (240, 6)) + 100
    np.savez(tmp_path / "blobs.npz", x_train=x[:180], y_train=labels[:180], x_test=x[180:],
             y_test=labels[180:])
    (tmp_path / "net.py").write_text(USER_MODEL)
    trained = json.loads(_run("model.train", "--model", "net.py:build", "--data", "blobs.npz",
                              "--epochs", "20", "--json", cwd=tmp_path).stdout)
    assert trained["checkpoint"] == "net.pt" and trained["test_accuracy"] > 0.9
    evaluated = json.loads(_run("model.evaluate", "--checkpoint", "net.pt", "--methods",
                                "tsc-int8", "--steps", "16", "--json", cwd=tmp_path).stdout)
    assert evaluated["data"] == "blobs.npz" and evaluated["results"][0]["agreement"] > 0.9
    exported = json.loads(_run("model.export", "--checkpoint", "net.pt", "-o", "net.tscn",
                               "--json", cwd=tmp_path).stdout)
    assert exported["data"] == "blobs.npz" and exported["agreement"] > 0.9
    qnet = read_network(tmp_path / "net.tscn")
    low, high = x[:180].min(0), x[:180].max(0)
    assert np.allclose(np.array(qnet.input_scale), 2 / (high - low))
    assert np.allclose(np.array(qnet.input_offset), -1 - low * 2 / (high - low))
    assert qnet.metadata["data"] == "blobs.npz" and qnet.input_rounding == "nearest"
    reproduced = json.loads(_run("model.reproduce", "--model", "net.py:build", "--dataset",
                                 "blobs.npz", "--checkpoint", "net.pt", "--methods", "tsc",
                                 "--steps", "16", "--json", cwd=tmp_path).stdout)
    assert reproduced["results"][0]["agreement"] > 0.9
    # the same network trained now, without a checkpoint
    assert "training net.py:build on blobs.npz" in _run(
        "model.export", "--model", "net.py:build", "--data", "blobs.npz", "-o", "now.tscn",
        cwd=tmp_path).stderr


@pytest.mark.parametrize("argv, message", [
    (["model.train", "--model", "nowhere.py:build"], "nowhere.py: no such file"),
    (["model.train", "--model", "net.py:missing"], "net.py has no function 'missing'"),
    (["model.train", "--model", "net.py:text", "--data", "wine"],
     "net.py:text: text() returned str, not an nn.Module"),
    (["model.train", "--model", "net.py"], "'net.py' is not FILE.py:FUNCTION"),
    (["model.evaluate", "--model", "net.py:biased", "--data", "wine", "--epochs", "1"],
     "unrecognized arguments: --epochs 1"),
    (["model.export", "--model", "net.py:build", "--data", "wine"],
     "net.py:build does not take wine's inputs [13] (mat1 and mat2 shapes cannot be "
     "multiplied"),
    (["model.train", "--model", "net.py:build", "--data", "blobs.npz"],
     "net.py:build gives outputs of shape [3]; blobs has 4 classes: it needs [4]"),
    (["model.train", "--data", "iris"], "unknown data set 'iris'"),
    (["model.train", "--arch", "cnn", "--data", "wine"], "cnn takes images [C, H, W], not "
                                                         "inputs of shape [13]"),
    (["model.export", "--checkpoint", "wine.pt", "--data", "digits"],
     "digits's inputs are [1, 8, 8], but the network in wine.pt takes [13]"),
])
def test_bad_models_and_data_are_refused_naming_them(tmp_path, argv, message):
    (tmp_path / "net.py").write_text(USER_MODEL)
    import numpy as np
    np.savez(tmp_path / "blobs.npz", x_train=np.zeros((8, 6)), y_train=np.arange(8) % 4,
             x_test=np.zeros((4, 6)), y_test=np.arange(4))
    if "wine.pt" in argv:
        _run("model.train", "--data", "wine", "--epochs", "1", "-o", "wine.pt", cwd=tmp_path)
    assert message in _refused(argv, tmp_path)


def test_a_model_that_cannot_convert_is_refused_before_training(tmp_path):
    (tmp_path / "net.py").write_text(USER_MODEL.replace("6, 3)", "13, 3)"))
    refusal = _refused(["model.export", "--model", "net.py:biased", "--data", "wine"],
                       tmp_path)
    assert refusal == ("training net.py:biased on wine (no --checkpoint given)\n"
                       "error: 0 (Linear) has a bias; TSC conversion needs bias-free layers "
                       "(train with bias=False)\n"), refusal


def _refused(argv, cwd):
    done = subprocess.run([sys.executable, "-m", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    return done.stderr


def test_file_problems_are_one_line_naming_the_file(tmp_path):
    (tmp_path / "picture.pt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "folder.pt").mkdir()
    import torch
    torch.save({"format": "tsc-snn-checkpoint", "arch": "lenet", "state_dict": {}},
               tmp_path / "other.pt")
    torch.save({"format": "tsc-snn-checkpoint", "arch": "cnn", "state_dict": {},
                "test_accuracy": 0.5}, tmp_path / "hollow.pt")
    for module in ("model.export", "model.evaluate"):
        assert "missing.pt: no such checkpoint file" in _refused(
            [module, "--checkpoint", "missing.pt"], tmp_path)
        for name in ("picture.pt", "empty.pt", "folder.pt"):
            assert f"{name}: no" in _refused([module, "--checkpoint", name], tmp_path)
        assert "other.pt: unknown architecture 'lenet'" in _refused(
            [module, "--checkpoint", "other.pt"], tmp_path)
        assert "hollow.pt: its weights do not fit the cnn architecture" in _refused(
            [module, "--checkpoint", "hollow.pt"], tmp_path)
    # outputs are checked before any training or conversion
    assert "folder.pt is a folder" in _refused(["model.train", "-o", "folder.pt"], tmp_path)
    assert "the folder nowhere does not exist" in _refused(
        ["model.export", "-o", "nowhere/n.tscn"], tmp_path)
    assert "the folder empty.pt does not exist" in _refused(
        ["model.evaluate", "--plot", "empty.pt/fig.png"], tmp_path)
    assert "--test-limit: must be at least 1, not 0" in _refused(
        ["model.evaluate", "--test-limit", "0"], tmp_path)
    assert "--test-limit: must be at least 1, not -1" in _refused(
        ["model.evaluate", "--test-limit", "-1"], tmp_path)


def test_a_clock_or_baud_rate_the_board_cannot_make_is_refused_before_any_work(tmp_path):
    for argv, message in (
            (["rtl.build", "--clock", "500"], "no iCE40 PLL setting gives 500.0 MHz"),
            (["rtl.build", "--board", "ulx3s-85f", "--clock", "900"],
             "no ECP5 PLL setting gives 900.0 MHz"),
            (["rtl.build", "--baud", "6000000"], "6000000 baud is too fast for a 12 MHz clock"),
            (["rtl.build", "--baud", "5000000"],
             "icebreaker's FT2232H cannot make 5000000 baud (the closest is 5052632)")):
        error = _refused(argv, tmp_path)
        assert message in error and "training" not in error, error
        assert "UnusedElaboratable" not in error
