"""Your own tabular data: raw features in, their range in the network file, the host's view.

    python examples/tabular.py [--steps 16] [--out build/examples]

Breast-cancer measurements (30 features of very different scales, straight from
scikit-learn as NumPy arrays, as your own data would come) are split, each feature's range
fitted on the training split and mapped onto [-1, 1], and a bias-free MLP trained on them.
The int8 TSC-SNN is written to a network file with those ranges; the file is then read back
as the host tool does, and raw test rows are mapped with the file's ranges (values beyond the
training range clipped and counted) and classified by the integer golden model.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tsc_snn as tsc  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path("build/examples"))
    args = parser.parse_args()

    data = load_breast_cancer()
    raw_train, raw_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.2, random_state=0, stratify=data.target)
    print(f"raw features from {np.min(data.data):.3g} to {np.max(data.data):.3g}")
    # each feature's training range onto [-1, 1]
    split = tsc.split_from_arrays("breast-cancer", raw_train, y_train, raw_test, y_test)

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(30, 32, bias=False), nn.ReLU(), nn.Linear(32, 2, bias=False))
    tsc.check_fits(net, split)
    accuracy = tsc.train_model(net, split, epochs=args.epochs, label="tabular mlp")
    print(f"ANN: {100 * accuracy:.2f}% on {len(y_test)} test rows")

    with torch.inference_mode():
        qnet = tsc.quantize(tsc.convert(net, (30,)), split.x_train, args.steps,
                            input_scale=split.input_scale, input_offset=split.input_offset)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "breast-cancer.tscn"
    tsc.write_network(path, qnet)

    # the host's side: the file alone says how raw rows become input codes
    loaded = tsc.read_network(path)
    mapped = loaded.map_inputs(torch.as_tensor(raw_test))
    result = loaded.run(mapped.x)
    ann = tsc.ann_forward(net, split.x_test).argmax(1)
    print(f"{path}: {len(loaded.input_scale)} per-feature scales, input codes rounded to "
          f"{loaded.input_rounding}")
    print(f"int8 TSC N={args.steps} on raw test rows: accuracy "
          f"{100 * float((result.prediction == torch.as_tensor(y_test)).float().mean()):.2f}%, "
          f"agreement with the ANN {100 * float((result.prediction == ann).float().mean()):.2f}%; "
          f"{mapped.clipped} value(s) in {int((mapped.outside > 0).sum())} row(s) were "
          f"outside the training range and clipped")


if __name__ == "__main__":
    main()
