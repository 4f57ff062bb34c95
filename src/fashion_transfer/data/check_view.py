"""How faithful the Fashion-MNIST view of a DeepFashion-format root is, per background choice.

`python -m fashion_transfer.data.check ROOT --view-stats` runs `view_report`: it makes the view
(`data.fmnist_view`) of one split's images with every background choice and prints their
statistics next to Fashion-MNIST's own, with the bounds the default must meet, before a sweep
spends hours on a view that is not Fashion-MNIST's format.
"""

from __future__ import annotations

import numpy as np

from fashion_transfer.data import fmnist_view as fv
from fashion_transfer.data.deepfashion_lists import SPLITS, validate_layout
from fashion_transfer.data.transforms import make_spec, preprocess_many
from fashion_transfer.errors import UserError

COLUMNS = (
    ("mean", "mean", "{:.1f}"),
    ("std", "std", "{:.1f}"),
    ("zero_fraction", "fraction of pixels = 0", "{:.3f}"),
    ("border_mean", "mean of the 1-px border ring", "{:.1f}"),
    ("p99", "per-image 99th percentile", "{:.1f}"),
)


def evenly_spaced(n: int, limit: int) -> np.ndarray:
    """`limit` positions spread over range(n) (all of them when limit is 0 or >= n)."""
    if limit <= 0 or limit >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def view_report(
    root: str, split: str = "test", limit: int = 1000, crop_margin: float = 0.1, workers: int = 2
) -> dict:
    """Each background's view statistics on (up to `limit` images of) a split, and the reference."""
    if split not in SPLITS:
        raise UserError(f"--split {split}: choose one of {', '.join(SPLITS)}")
    if limit < 0:
        raise UserError(f"--limit {limit}: a number of images, or 0 for the whole split")
    lists = validate_layout(root)
    positions = lists.splits[split]
    positions = positions[evenly_spaced(len(positions), limit)]
    if len(positions) == 0:
        raise UserError(f"{lists.root}: split {split} lists no images; pick another with --split")
    paths = [lists.image_path(p) for p in positions]
    views = {}
    for background in fv.BACKGROUNDS:
        spec = make_spec(28, "fmnist", crop_margin, True, "auto", True, background)
        out = np.zeros((len(positions), 1, 28, 28), dtype=np.uint8)
        facts = preprocess_many(paths, lists.boxes[positions], spec, out, workers)
        stats = fv.view_stats(out[facts.good])
        views[background] = {**stats, "within_bounds": fv.within_bounds(stats)}
    return {
        "root": str(lists.root),
        "split": split,
        "images": int(len(positions)),
        "listed": int(len(lists.splits[split])),
        "default": fv.DEFAULT_BACKGROUND,
        "fashion_mnist": dict(fv.FMNIST_STATS),
        "bounds": {k: f"{op} {bound:g}" for k, (op, bound) in fv.FIDELITY_BOUNDS.items()},
        "views": views,
    }


def format_view_table(report: dict) -> str:
    """The report as a Markdown table, with the bounds and a verdict for the default."""
    head = ["images", *(title for _, title, _ in COLUMNS), "within bounds"]
    lines = [
        f"Fashion-MNIST view of {report['root']}: {report['images']} of {report['listed']} "
        f"{report['split']} images (evenly spaced; --limit 0 for all)",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    ref = report["fashion_mnist"]
    cells = [fmt.format(ref[key]) for key, _, fmt in COLUMNS]
    lines.append("| Fashion-MNIST train | " + " | ".join(cells) + " | (reference) |")
    for background, stats in report["views"].items():
        cells = [fmt.format(stats[key]) for key, _, fmt in COLUMNS]
        failed = [k for k, ok in stats["within_bounds"].items() if not ok]
        verdict = "yes" if not failed else "no: " + ", ".join(failed)
        name = f"{background} (default)" if background == report["default"] else background
        lines.append(f"| fmnist_background={name} | " + " | ".join(cells) + f" | {verdict} |")
    bounds = ", ".join(f"{k} {v}" for k, v in report["bounds"].items())
    lines.append(f"bounds for the default view: {bounds}")
    return "\n".join(lines)
