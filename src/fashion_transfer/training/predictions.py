"""predictions.npz: per-image results of a run's test sets, for the analysis's paired bootstrap.

Two runs with the same seed score the same test images in the same order, so the analysis can
resample images jointly for both (analysis/comparisons.py) and draw reliability diagrams
(analysis/figures/compare.py) without the model. Per test set (`source`, `target`, `shared`):
`<set>_correct` (uint8 0/1, top-1), `<set>_confidence` (float16, top-1 softmax probability) and
`<set>_labels` (int16, so a reader can check two runs saw the same images). A few kB per run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fashion_transfer import atomic

FILENAME = "predictions.npz"


def write_predictions(run_dir: Path, per_image: dict[str, dict[str, np.ndarray]]) -> None:
    """Write every scored test set's arrays atomically (temp file + rename)."""
    arrays = {
        f"{name}_{key}": value for name, sets in per_image.items() for key, value in sets.items()
    }
    with atomic.replacing(run_dir / FILENAME) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)  # a file object: savez adds .npz to a name
