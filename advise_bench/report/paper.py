"""The paper's Table I (resources/paper_table1.csv): its rows and the architectures it reports."""

from __future__ import annotations

import pandas as pd

from ..paths import RESOURCES

PAPER_TIE_FOOTNOTE = ("In the paper's Table I, LIME's AD, SSIM, FSIM, MSE and AVX repeat Grad-CAM's exactly in all "
                      "four architectures; only the times differ.")


def paper_table() -> pd.DataFrame:
    return pd.read_csv(RESOURCES / "paper_table1.csv")


def paper_architectures() -> set[str]:
    return set(paper_table()["architecture"])


def paper_architecture(architecture: str) -> str:
    """The paper's architecture of a Table I row (``vgg16 (jax)`` is ``vgg16``)."""
    return str(architecture).split(" (")[0]
