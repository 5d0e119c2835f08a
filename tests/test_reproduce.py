"""The evaluation harness: the paper's tables beside measured figures, on any network."""

import json

import pytest
import torch
from conftest import write_cifar10

from model.evaluate import batches
from model.paper import TABLES, paper_rows
from model.reproduce import compare, format_comparison, main, reproduce
from model.zoo import resnet20


def test_the_paper_tables_are_consistent():
    for rows in TABLES.values():
        for row in rows:
            if row.ann is not None and row.loss is not None:
                assert row.ann - row.snn == pytest.approx(row.loss, abs=0.011), row
    assert [(r.neuron, r.snn) for r in paper_rows("resnet20", "cifar10")] == [
        ("IF", 87.46), ("RMP", 91.36), ("TSC", 91.42)]
    assert [r.snn for r in paper_rows("vgg16", "imagenet") if r.this_work] == [73.46]
    assert paper_rows("cnn", "digits") == []


def test_resnet20_on_cifar_files_prints_the_paper_rows_beside_the_measured(tmp_path, capsys):
    write_cifar10(tmp_path)
    torch.manual_seed(0)
    checkpoint = tmp_path / "resnet20.pt"
    torch.save({"arch": "resnet20", "classes": 10, "config": {"width": 0.25},
                "state_dict": resnet20(width=0.25).state_dict()}, checkpoint)
    main(["--arch", "resnet20", "--dataset", "cifar10", "--data", str(tmp_path),
          "--checkpoint", str(checkpoint), "--steps", "4", "--rate-steps", "4",
          "--methods", "tsc,tsc-int8,if-poisson,rmp-constant", "--calibration", "8",
          "--batch-size", "2", "--test-limit", "3", "--plot", str(tmp_path / "fig8.png"),
          "--json"])
    out = json.loads(capsys.readouterr().out)
    assert out["test_images"] == 3 and out["device"] == "cpu"
    assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
    assert [p["neuron"] for p in out["paper"]] == ["IF", "RMP", "TSC"]
    assert [m["method"] for m in out["measured"]] == ["tsc", "tsc-int8", "if-poisson",
                                                      "rmp-constant"]
    latency = {r["method"]: r["latency"] for r in out["results"]}
    assert latency == {"tsc": 20 * 4, "tsc-int8": 20 * 4, "if-poisson": 4, "rmp-constant": 4}
    assert all(r["synaptic_additions"] > 0 for r in out["results"])
    assert (tmp_path / "fig8.png").stat().st_size > 10_000


def test_digits_cnn_end_to_end_is_faithful_to_the_ann(trained_cnn):
    model, split, _, _ = trained_cnn
    test = [(x, y) for x, y, _ in batches(split.x_test, split.y_test, split.y_test, 128)]
    ann_accuracy, images, results = reproduce(
        model, (1, 8, 8), split.x_train[:512], test, rows=("tsc", "tsc-int8", "rmp-constant"),
        steps=(32,), rate_steps=(128,), progress=False)
    assert images == len(split.x_test) and ann_accuracy > 0.9
    agreement = {r.method: r.agreement for r in results}
    assert agreement["tsc"] >= 0.98 and agreement["tsc-int8"] >= 0.97, agreement
    paper, measured = compare("cnn", "digits", ann_accuracy, results)
    text = format_comparison("cnn", "digits", paper, measured)
    assert "the paper reports no figures for cnn on digits" in text
    loss = {m["method"]: m["loss"] for m in measured}
    assert loss["tsc"] == pytest.approx(100 * (ann_accuracy - results[0].accuracy))


@pytest.mark.parametrize("argv, message", [
    (["--arch", "vgg16", "--dataset", "digits"], "vgg16 takes CIFAR or ImageNet images"),
    (["--arch", "cnn", "--dataset", "cifar10"], "cifar10 is for the paper's networks"),
    (["--arch", "resnet20", "--dataset", "cifar10", "--data", "."],
     "resnet20 needs --checkpoint: train it first with python -m model.train_zoo"),
    (["--arch", "nope", "--dataset", "cifar10"], "unknown architecture 'nope'"),
])
def test_bad_requests_are_refused_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert message in str(exit_info.value.code)


def test_missing_data_and_devices_are_named(tmp_path, capsys):
    checkpoint = tmp_path / "resnet20.pt"
    torch.save({"arch": "resnet20", "classes": 10, "config": {"width": 0.25},
                "state_dict": resnet20(width=0.25).state_dict()}, checkpoint)
    with pytest.raises(SystemExit) as exit_info:
        main(["--arch", "resnet20", "--dataset", "cifar10", "--data", str(tmp_path),
              "--checkpoint", str(checkpoint)])
    assert "CIFAR-10 train split not found" in str(exit_info.value.code)
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            main(["--arch", "cnn", "--dataset", "digits", "--device", "cuda"])
        assert "this torch has no CUDA device" in capsys.readouterr().err
