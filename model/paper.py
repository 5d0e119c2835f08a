"""The figures Han & Roy (ECCV 2020) report, to print beside measured ones.

``TABLES`` holds Tables 1-3 (top-1 accuracy of the ANN and the converted SNN, and the loss,
in percent) keyed by data set; ``FIGURE_8`` the numbers the text gives for VGG-16 on
CIFAR-10 (the figure itself is a plot). Rows are ``(network, neuron model, reference, ANN,
SNN, loss)``; ``None`` where the paper has a dash, and a loss written "<0.01%" is 0.0.
"""

from dataclasses import dataclass

__all__ = ["PaperRow", "TABLES", "FIGURE_8", "paper_rows"]


@dataclass(frozen=True)
class PaperRow:
    network: str
    neuron: str       # "TSC", "IF", "RMP", "LIF"
    reference: str    # the paper's citation, "this work" for TSC-SNN
    ann: float
    snn: float
    loss: float

    @property
    def this_work(self):
        return self.reference == "this work"


def _rows(*rows):
    return tuple(PaperRow(*row) for row in rows)


TABLES = {
    "cifar10": _rows(
        ("8-layered", "LIF", "[14]", 83.72, 83.54, 0.18),
        ("3-layered", "LIF", "[8]", None, 89.32, None),
        ("6-layered", "IF", "[36]", 91.91, 90.85, 1.06),
        ("resnet20", "IF", "[37]", 89.1, 87.46, 1.64),
        ("resnet20", "RMP", "[10]", 91.47, 91.36, 0.11),
        ("resnet20", "TSC", "this work", 91.47, 91.42, 0.05),
        ("vgg16", "IF", "[37]", 91.7, 91.55, 0.15),
        ("vgg16", "RMP", "[10]", 93.63, 93.63, 0.0),
        ("vgg16", "TSC", "this work", 93.63, 93.63, 0.0),
    ),
    "cifar100": _rows(
        ("resnet20", "IF", "[37]", 68.72, 64.09, 4.63),
        ("resnet20", "RMP", "[10]", 68.72, 67.82, 0.9),
        ("resnet20", "TSC", "this work", 68.72, 68.18, 0.54),
        ("vgg16", "IF", "[37]", 71.22, 70.77, 0.45),
        ("vgg16", "RMP", "[10]", 71.22, 70.93, 0.29),
        ("vgg16", "TSC", "this work", 71.22, 70.97, 0.25),
    ),
    "imagenet": _rows(
        ("resnet34", "IF", "[37]", 70.69, 65.47, 5.22),
        ("resnet34", "RMP", "[10]", 70.64, 69.89, 0.75),
        ("resnet34", "TSC", "this work", 70.64, 69.93, 0.71),
        ("vgg16", "RMP", "[36]", 63.89, 49.61, 14.28),
        ("vgg16", "IF", "[37]", 70.52, 69.96, 0.56),
        ("vgg16", "RMP", "[10]", 73.49, 73.09, 0.4),
        ("vgg16", "TSC", "this work", 73.49, 73.46, 0.03),
    ),
}

# Section 5's reading of Fig. 8 (VGG-16, CIFAR-10; latency on the paper's shared time axis).
FIGURE_8 = {
    ("vgg16", "cifar10"): {
        "TSC accuracy at 64 steps": "92.79%",
        "TSC final accuracy": "93.63% (the ANN's)",
        "IF accuracy at 2048 steps": "93.50%",
        "steps to TSC's 64-step accuracy": "RMP about 200 (3x), IF about 640 (10x)",
        "TSC spike rate": "about 0.03%, 66.3x below RMP and 20.3x below IF",
        "additions": "TSC one order of magnitude below IF, two below RMP",
    },
}


def paper_rows(network, dataset):
    """The paper's rows for ``network`` on ``dataset`` (empty when it reports none)."""
    return [row for row in TABLES.get(dataset, ()) if row.network == network]
