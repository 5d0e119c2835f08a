"""Reproduce the paper's tables and Fig. 8 for one network on one data set.

    python -m model.reproduce --arch resnet20 --dataset cifar10 --data ~/datasets \\
        --checkpoint resnet20-cifar10.pt --device cuda
    python -m model.reproduce --arch resnet --dataset digits       # runs here; trains first

The ANN is converted, its thresholds balanced on a calibration subset of the training set,
and for each method (TSC, its shared schedule and int8 model, the rate baselines IF and RMP)
and number of steps N the whole test set is simulated in batches on ``--device``: top-1
accuracy, accuracy loss against the ANN, agreement with the ANN, spike rate (Eq. 8),
additions and memory reads per image, latency. The paper's rows of Tables 1-3 for the
network are printed beside the measured ones, and ``--plot`` draws accuracy, spike rate and
additions against latency like Fig. 8.

Networks: the paper's ``vgg16``, ``resnet20`` and ``resnet34`` (checkpoints written by
``python -m model.train_zoo``) on ``cifar10``, ``cifar100`` or ``imagenet``; the small
``mlp``, ``wide``, ``deep``, ``cnn``, ``resnet`` and ``plain``, or your own
``--model FILE.py:FUNCTION``, on ``digits``, ``wine``, ``breast-cancer``, ``mnist[:FOLDER]``
or a ``FILE.npz`` (:func:`model.data.load_data`; trained here without a checkpoint from
``python -m model.train``).
"""

import argparse
import json
import sys
from dataclasses import asdict

import torch

from .convert import ann_forward, convert
from . import data as flow_data
from .datasets import DatasetError, ImageFolder, load_cifar
from .evaluate import (FULL_RATE_STEPS, FULL_STEPS, ROWS, _ints, _methods, evaluate,
                       format_table, plot)
from .networks import ARCHITECTURES
from .paper import FIGURE_8, paper_rows
from .train import load_checkpoint, train
from .zoo import ZOO

__all__ = ["DATASETS", "load_network", "load_data", "reproduce", "compare", "main"]

# the paper's data sets, read from --data FOLDER; any other is a model.data spec
DATASETS = {"cifar10": 10, "cifar100": 100, "imagenet": 1000}
DEFAULT_ROWS = ("tsc", "tsc-int8", "tsc-shared", "if-poisson", "rmp-constant")


def _check_pair(arch, dataset):
    paper = dataset in DATASETS
    if arch not in ARCHITECTURES and arch not in ZOO and ":" not in arch:
        raise ValueError(f"unknown architecture {arch!r}; choose one of "
                         f"{', '.join([*ZOO, *ARCHITECTURES])} or --model FILE.py:FUNCTION")
    if arch in ZOO and not paper:
        raise ValueError(f"{arch} takes CIFAR or ImageNet images, not {dataset}; the small "
                         f"networks are {', '.join(ARCHITECTURES)} (or --model FILE.py:FUNCTION)")
    if paper and arch not in ZOO:
        raise ValueError(f"{dataset} is for the paper's networks ({', '.join(ZOO)}), not "
                         f"{arch}")


def load_network(arch, dataset, checkpoint=None, progress=True):
    """The trained ANN and its input shape. A small network (built-in or ``FILE.py:FUNCTION``)
    on a :mod:`model.data` set is trained when no checkpoint is given; the paper's networks
    need one from ``python -m model.train_zoo``."""
    _check_pair(arch, dataset)
    if arch not in ZOO:
        if checkpoint:
            saved = load_checkpoint(checkpoint, None if arch in ARCHITECTURES else arch)
            if saved.arch != arch:
                raise ValueError(f"{checkpoint} holds a {saved.arch}, not a {arch}")
            return saved.model, saved.input_shape
        if progress:
            print(f"training {arch} on {dataset} (no --checkpoint given)", file=sys.stderr)
        model, split, _ = train(arch, progress=progress, data=dataset)
        return model, split.input_shape
    if not checkpoint:
        raise ValueError(f"{arch} needs --checkpoint: train it first with python -m "
                         f"model.train_zoo --arch {arch}")
    try:
        saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:
        raise ValueError(f"{checkpoint}: not a readable checkpoint ({error})") from error
    if not isinstance(saved, dict) or "state_dict" not in saved or saved.get("arch") != arch:
        raise ValueError(f"{checkpoint}: not a {arch} checkpoint of python -m model.train_zoo")
    classes = saved.get("classes", DATASETS[dataset])
    kwargs = {"classes": classes, **saved.get("config", {})}
    if arch == "vgg16" and dataset == "imagenet":
        kwargs.setdefault("image_size", 224)
    model = ZOO[arch](**kwargs)
    try:
        model.load_state_dict(saved["state_dict"])
    except RuntimeError as error:
        raise ValueError(f"{checkpoint}: its weights do not fit {arch}({kwargs}) "
                         f"({str(error).splitlines()[0]})") from error
    model.eval()
    shape = (3, 224, 224) if dataset == "imagenet" else (3, 32, 32)
    return model, shape


def load_data(dataset, root=None, calibration=512, seed=0, batch_size=64, shape=(1, 8, 8)):
    """``(calibration images, test batches of (x, labels))`` for ``dataset``, inputs in
    ``shape`` for a :mod:`model.data` set. The calibration images are a seeded random subset
    of the training split."""
    generator = torch.Generator().manual_seed(seed)
    if dataset not in DATASETS:
        split = flow_data.load_data(dataset).reshaped(shape)
        pick = torch.randperm(len(split.x_train), generator=generator)[:calibration]
        test = [(split.x_test[i:i + batch_size], split.y_test[i:i + batch_size])
                for i in range(0, len(split.x_test), batch_size)]
        return split.x_train[pick], test
    if root is None:
        raise ValueError(f"{dataset} needs --data, the folder that holds it")
    if dataset in ("cifar10", "cifar100"):
        classes = DATASETS[dataset]
        x, _ = load_cifar(root, classes, "train")
        x_test, y_test = load_cifar(root, classes, "test")
        pick = torch.randperm(len(x), generator=generator)[:calibration]
        test = [(x_test[i:i + batch_size], y_test[i:i + batch_size])
                for i in range(0, len(x_test), batch_size)]
        return x[pick], test
    train_set, val_set = ImageFolder(root, "train"), ImageFolder(root, "val")
    pick = torch.randperm(len(train_set), generator=generator)[:calibration].tolist()
    images = torch.stack([train_set[i][0] for i in pick])
    loader = torch.utils.data.DataLoader(val_set, batch_size=batch_size, shuffle=False,
                                         num_workers=min(8, torch.get_num_threads()))
    return images, loader


class _Limited:
    """The first ``limit`` test images of ``test`` (re-iterable)."""

    def __init__(self, test, limit):
        self.test, self.limit = test, limit

    def __iter__(self):
        left = self.limit
        for x, labels in self.test:
            if left <= 0:
                return
            yield x[:left], labels[:left]
            left -= len(x)


class _WithPredictions:
    """Test batches with the ANN's predictions attached, computed once."""

    def __init__(self, test, predictions):
        self.test, self.predictions = test, predictions

    def __iter__(self):
        for (x, labels), prediction in zip(self.test, self.predictions, strict=True):
            yield x, labels, prediction


def reproduce(model, input_shape, calibration, test, *, rows=DEFAULT_ROWS, steps=None,
              rate_steps=None, alpha=0.8, statistic="max", device="cpu", seed=0,
              progress=True):
    """Measure every row and N over ``test`` (re-iterable ``(x, labels)`` batches); return
    ``(ann_accuracy, test_images, results)``."""
    model = model.to(device).eval()
    predictions, correct, images = [], 0, 0
    for x, labels in test:
        prediction = ann_forward(model, x.to(device)).argmax(1).cpu()
        predictions.append(prediction)
        correct += int((prediction == labels).sum())
        images += len(labels)
    if images == 0:
        raise ValueError("the test set is empty")
    network = convert(model.cpu(), input_shape)
    results = evaluate(network, calibration, _WithPredictions(test, predictions), rows=rows,
                       steps=steps or FULL_STEPS, rate_steps=rate_steps or FULL_RATE_STEPS,
                       alphas=(alpha,), statistic=statistic, seed=seed, device=device,
                       progress=progress)
    return correct / images, images, results


def compare(arch, dataset, ann_accuracy, results):
    """The paper's rows for the network next to the measured ones (each method at its
    largest N). Returns ``(paper rows, measured rows)``; measured rows are dicts."""
    measured = []
    for name in ROWS:
        rows = [r for r in results if r.method == name]
        if rows:
            final = max(rows, key=lambda r: r.steps)
            measured.append({"method": name, "ann": 100 * ann_accuracy,
                             "snn": 100 * final.accuracy,
                             "loss": 100 * (ann_accuracy - final.accuracy),
                             "steps": final.steps, "latency": final.latency,
                             "spike_rate": final.spike_rate,
                             "additions": final.additions})
    return paper_rows(arch, dataset), measured


def format_comparison(arch, dataset, paper, measured):
    head = (f"{'':10s} {'neuron':13s} {'ANN %':>7s} {'SNN %':>7s} {'loss':>6s}  "
            f"{'N':>5s} {'latency':>7s} {'R %':>7s} {'additions':>10s}")
    lines = [f"{arch} on {dataset}: the paper (Tables 1-3) and this run", head,
             "-" * len(head)]
    def number(v, width):
        return f"{v:{width}.2f}" if v is not None else f"{'-':>{width}s}"
    for row in paper:
        lines.append(f"{'paper ' + row.reference:10s} {row.neuron:13s} {number(row.ann, 7)} "
                     f"{number(row.snn, 7)} {number(row.loss, 6)}")
    if not paper:
        lines.append(f"(the paper reports no figures for {arch} on {dataset})")
    for m in measured:
        lines.append(f"{'measured':10s} {m['method']:13s} {m['ann']:7.2f} {m['snn']:7.2f} "
                     f"{m['loss']:6.2f}  {m['steps']:5d} {m['latency']:7d} "
                     f"{m['spike_rate']:7.3f} {m['additions']:10.0f}")
    for key, text in FIGURE_8.get((arch, dataset), {}).items():
        lines.append(f"  paper, Fig. 8: {key}: {text}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m model.reproduce", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--arch", help=f"one of {', '.join([*ZOO, *ARCHITECTURES])}")
    which.add_argument("--model", metavar="FILE.py:FUNCTION",
                       help="your own network: FUNCTION() in FILE.py returns the nn.Module")
    parser.add_argument("--dataset", required=True,
                        help=f"{', '.join(DATASETS)} (the paper's, from --data), or digits, "
                        f"wine, breast-cancer, mnist, mnist:FOLDER, FILE.npz")
    parser.add_argument("--data", help="folder with the paper's data set")
    parser.add_argument("--checkpoint", help="trained ANN (python -m model.train_zoo, or "
                        "python -m model.train for the small networks)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--methods", type=_methods, default=DEFAULT_ROWS,
                        help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--steps", type=_ints, default=None,
                        help="N for the temporal methods (default 4..256)")
    parser.add_argument("--rate-steps", type=_ints, default=None,
                        help="N for IF and RMP (default 4..1024)")
    parser.add_argument("--alpha", type=float, default=0.8,
                        help="threshold scale (default: the paper's 0.8)")
    parser.add_argument("--statistic", choices=("max", "percentile"), default="max")
    parser.add_argument("--calibration", type=int, default=512,
                        help="training images that balance the thresholds")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-limit", type=int, default=None,
                        help="use only the first N test images")
    parser.add_argument("--plot", help="write a Fig. 8-like PNG here")
    parser.add_argument("--tf32", action="store_true",
                        help="let CUDA use TF32 (faster, but it changes spike trains against "
                             "the CPU; off by default)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    rows = args.methods
    # cuDNN convolutions use TF32 unless told not to; its 10-bit mantissa moves potentials
    # across thresholds: on an H200, 40% of the resnet's RMP spike trains differed from the
    # CPU's with it, none without (benchmarks/bench_device.py)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = args.tf32
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this torch has no CUDA device "
                     f"(torch {torch.__version__}); use --device cpu")
    for name in ("calibration", "batch_size", "test_limit"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    args.arch = args.arch or args.model
    try:
        model, shape = load_network(args.arch, args.dataset, args.checkpoint)
        calibration, test = load_data(args.dataset, args.data, args.calibration,
                                      batch_size=args.batch_size, shape=shape)
    except (DatasetError, ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    if args.test_limit:
        test = _Limited(test, args.test_limit)
    ann_accuracy, images, results = reproduce(
        model, shape, calibration, test, rows=rows, steps=args.steps,
        rate_steps=args.rate_steps, alpha=args.alpha, statistic=args.statistic,
        device=args.device)
    paper, measured = compare(args.arch, args.dataset, ann_accuracy, results)
    if args.plot:
        plot(results, args.plot, args.alpha, ann_accuracy,
             title=f"{args.arch} on {args.dataset}: TSC-SNN vs baselines, alpha {args.alpha}")
    if args.json:
        print(json.dumps({"arch": args.arch, "dataset": args.dataset, "device": args.device,
                          "ann_accuracy": ann_accuracy, "test_images": images,
                          "results": [asdict(r) for r in results],
                          "paper": [asdict(r) for r in paper], "measured": measured}, indent=1))
        return
    print(f"{args.arch} on {args.dataset}: ANN top-1 {100 * ann_accuracy:.2f}% on {images} "
          f"test images ({args.device})")
    print(format_table(results))
    print()
    print(format_comparison(args.arch, args.dataset, paper, measured))
    if args.plot:
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
