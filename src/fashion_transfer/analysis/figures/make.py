"""The sweep's figures 1-6 into the analysis folder (7-9 are `compare.make_compare_figures`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from fashion_transfer.analysis.figures import detail
from fashion_transfer.analysis.figures.common import STYLE, FigureOutput, Skip, save
from fashion_transfer.analysis.figures.gap import gap_waterfall
from fashion_transfer.analysis.figures.headline import data_efficiency, transfer_gap


def make_figures(frame: pd.DataFrame, out_dir: Path) -> list[FigureOutput]:
    """Draw every figure the runs have data for into `out_dir`; note the others as skipped."""
    builders: list[tuple[str, str, Callable[[pd.DataFrame], tuple[Figure, str]]]] = [
        ("transfer_gap", "1. Transfer gap", transfer_gap),
        ("learning_curves", "2. Learning curves", detail.learning_curves),
        ("shared_confusion", "3. Shared-space confusion matrices", detail.shared_confusion),
        ("samples", "4. Sample predictions", detail.sample_grid),
        ("data_efficiency", "5. Data efficiency", data_efficiency),
        ("gap_decomposition", "6. Gap decomposition", gap_waterfall),
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    with matplotlib.rc_context(STYLE):
        for key, title, build in builders:
            try:
                fig, caption = build(frame)
            except Skip as skip:
                outputs.append(FigureOutput(key, title, skipped=str(skip)))
                continue
            png, svg = save(fig, out_dir, key)
            outputs.append(FigureOutput(key, title, caption, png, svg))
    return outputs
